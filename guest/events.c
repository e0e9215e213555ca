/*
 * Event channels and time, guest side.
 *
 * The upcall (vector EVENTS_VECTOR) follows the 2-level protocol on the
 * vCPU it arrives on: clear that vCPU's evtchn_upcall_pending, take its
 * evtchn_pending_sel, and for each selected word handle the pending and
 * unmasked ports bound to this vCPU, clearing each pending bit before
 * counting it.  A word holds ports of several vCPUs, and two vCPUs may
 * scan it at once: a port is counted only by its own vCPU, and only by
 * the one whose atomic clear took the bit.  The loops are bit by bit on
 * purpose: our kernel runs in KVM's instruction emulator here, which has
 * no bsf/tzcnt guarantee, and the ports we use are few and low.
 */
#include "arch.h"
#include "console.h"
#include "events.h"
#include "guest.h"
#include "hypercall.h"
#include "lib.h"
#include "pvclock.h"

#define LAPIC_BASE	0xfee00000ul
#define LAPIC_ID	0x20
#define LAPIC_EOI	0xb0
#define LAPIC_SVR	0xf0
#define LAPIC_SVR_ENABLE 0x100
#define LAPIC_SPURIOUS	0xff

static union {
	struct shared_info s;
	char page[4096];
} shinfo_page __attribute__((aligned(4096)));

/*
 * The vcpu_info that each secondary vCPU registers: 64 bytes, aligned, so
 * none crosses a page.  The 64 of them fill a page of their own, which
 * user mode may read for its clock (dirty.c) without reaching anything
 * else.
 */
static struct vcpu_info ap_vcpu_info[EVENTS_MAX_VCPUS]
	__attribute__((aligned(4096)));
_Static_assert(sizeof(struct vcpu_info) * EVENTS_MAX_VCPUS == 4096,
	       "ap_vcpu_info is one page");
static struct vcpu_info *volatile vcpu_info_of[EVENTS_MAX_VCPUS];
/* The vCPU that handles each counted port; the rest are vCPU 0's. */
static volatile uint8_t port_vcpu[EVENTS_COUNTED];

struct shared_info *shinfo;
volatile unsigned int events_count[EVENTS_COUNTED];
volatile uint8_t events_last_vcpu[EVENTS_COUNTED];
volatile unsigned int events_other;
volatile unsigned int events_upcalls;

extern void upcall_stub(void);
void evtchn_upcall(void);

static void lapic_write(unsigned int reg, uint32_t val)
{
	*(volatile uint32_t *)(LAPIC_BASE + reg) = val;
}

static uint32_t lapic_read(unsigned int reg)
{
	return *(volatile uint32_t *)(LAPIC_BASE + reg);
}

unsigned int events_cpu_id(void)
{
	return lapic_read(LAPIC_ID) >> 24;
}

struct vcpu_info *events_vcpu_info(unsigned int id)
{
	if (id >= EVENTS_MAX_VCPUS)
		return 0;
	if (vcpu_info_of[id])
		return vcpu_info_of[id];
	if (id < XEN_LEGACY_MAX_VCPUS && shinfo)
		return &shinfo->vcpu_info[id];
	return 0;
}

void events_set_port_vcpu(unsigned int port, unsigned int vcpu)
{
	if (port < EVENTS_COUNTED && vcpu < EVENTS_MAX_VCPUS)
		port_vcpu[port] = (uint8_t)vcpu;
}

static unsigned int port_owner(unsigned int port)
{
	return port < EVENTS_COUNTED ? port_vcpu[port] : 0;
}

void evtchn_upcall(void)
{
	unsigned int cpu = events_cpu_id();
	struct vcpu_info *vi = events_vcpu_info(cpu);
	xen_ulong_t sel, pend, old;
	unsigned int w, b;

	__atomic_fetch_add(&events_upcalls, 1, __ATOMIC_RELAXED);
	if (!vi)
		goto out;
	__atomic_store_n(&vi->evtchn_upcall_pending, 0, __ATOMIC_SEQ_CST);
	sel = __atomic_exchange_n(&vi->evtchn_pending_sel, 0,
				  __ATOMIC_SEQ_CST);
	for (w = 0; sel; w++, sel >>= 1) {
		if (!(sel & 1))
			continue;
		pend = shinfo->evtchn_pending[w] & ~shinfo->evtchn_mask[w];
		for (b = 0; pend; b++, pend >>= 1) {
			xen_ulong_t m = (xen_ulong_t)1 << b;
			unsigned int port = w * 64 + b;

			if (!(pend & 1) || port_owner(port) != cpu)
				continue;
			old = __atomic_fetch_and(&shinfo->evtchn_pending[w],
						 ~m, __ATOMIC_SEQ_CST);
			if (!(old & m))
				continue;
			if (port < EVENTS_COUNTED) {
				events_last_vcpu[port] = (uint8_t)cpu;
				__atomic_fetch_add(&events_count[port], 1,
						   __ATOMIC_SEQ_CST);
			} else {
				__atomic_fetch_add(&events_other, 1,
						   __ATOMIC_SEQ_CST);
			}
		}
	}
out:
	lapic_write(LAPIC_EOI, 0);
}

int events_init(void)
{
	struct xen_add_to_physmap xatp = {
		.domid = DOMID_SELF,
		.space = XENMAPSPACE_shared_info,
		.idx = 0,
		.gpfn = (uintptr_t)&shinfo_page >> 12,
	};
	struct xen_hvm_param p = {
		.domid = DOMID_SELF,
		.index = HVM_PARAM_CALLBACK_IRQ,
		.value = (uint64_t)HVM_PARAM_CALLBACK_TYPE_VECTOR << 56 |
			 EVENTS_VECTOR,
	};
	long rc;

	if (shinfo)
		return 0;
	rc = hyp_memory_op(XENMEM_add_to_physmap, &xatp);
	if (rc)
		return (int)rc;
	shinfo = &shinfo_page.s;
	traps_set_vector(EVENTS_VECTOR, upcall_stub);
	lapic_write(LAPIC_SVR, LAPIC_SVR_ENABLE | LAPIC_SPURIOUS);
	rc = hyp_hvm_op(HVMOP_set_param, &p);
	return (int)rc;
}

void events_take_pending(void)
{
	struct vcpu_info *vi = events_vcpu_info(events_cpu_id());

	if (vi && __atomic_load_n(&vi->evtchn_upcall_pending, __ATOMIC_SEQ_CST))
		evtchn_upcall();
}

int events_ap_init(unsigned int id)
{
	struct vcpu_info *vi;
	struct vcpu_register_vcpu_info r;
	long rc;

	if (id == 0 || id >= EVENTS_MAX_VCPUS || !shinfo)
		return -XEN_EINVAL;
	lapic_write(LAPIC_SVR, LAPIC_SVR_ENABLE | LAPIC_SPURIOUS);
	vi = &ap_vcpu_info[id];
	r.mfn = (uintptr_t)vi >> 12;
	r.offset = (uintptr_t)vi & 0xfff;
	r.rsvd = 0;
	rc = hyp_vcpu_op(VCPUOP_register_vcpu_info, id, &r);
	if (rc)
		return (int)rc;
	vcpu_info_of[id] = vi;
	return 0;
}

uint64_t events_time_ns(void)
{
	return pvclock_ns(&shinfo->vcpu_info[0].time);
}

int events_wait_count(unsigned int port, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < 20000; i++) {
		if (events_count[port] >= n)
			return 1;
		asm volatile("pause");
	}
	return events_count[port] >= n;
}

void events_block_until(unsigned int port, unsigned int n,
			unsigned int tries)
{
	struct vcpu_info *vi = events_vcpu_info(events_cpu_id());

	while (tries-- && events_count[port] < n) {
		irq_disable();
		if (!vi->evtchn_upcall_pending && events_count[port] < n)
			hyp_sched_op(SCHEDOP_block, NULL);
		/*
		 * The emulator checks for interrupts between instruction
		 * batches, not after sti's shadow: spin with IF=1 a while.
		 */
		irq_enable();
		events_wait_count(port, n);
	}
}

void events_settle(void)
{
	struct vcpu_info *vi = events_vcpu_info(events_cpu_id());
	unsigned int i;

	for (i = 0; vi && i < 20000; i++) {
		if (!__atomic_load_n(&vi->evtchn_upcall_pending,
				     __ATOMIC_SEQ_CST))
			return;
		asm volatile("pause");
	}
}
