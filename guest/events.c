/*
 * Event channels and time, guest side.
 *
 * The upcall (vector EVENTS_VECTOR) follows the 2-level protocol: clear
 * evtchn_upcall_pending, take evtchn_pending_sel, and for each selected
 * word handle the pending and unmasked ports, clearing each pending bit
 * before counting it.  The loops are bit by bit on purpose: our kernel runs
 * in KVM's instruction emulator here, which has no bsf/tzcnt guarantee,
 * and the ports we use are few and low.
 */
#include "arch.h"
#include "console.h"
#include "events.h"
#include "guest.h"
#include "hypercall.h"
#include "lib.h"

#define LAPIC_BASE	0xfee00000ul
#define LAPIC_EOI	0xb0
#define LAPIC_SVR	0xf0
#define LAPIC_SVR_ENABLE 0x100
#define LAPIC_SPURIOUS	0xff

static union {
	struct shared_info s;
	char page[4096];
} shinfo_page __attribute__((aligned(4096)));

struct shared_info *shinfo;
volatile unsigned int events_count[EVENTS_COUNTED];
volatile unsigned int events_other;
volatile unsigned int events_upcalls;

extern void upcall_stub(void);
void evtchn_upcall(void);

static void lapic_write(unsigned int reg, uint32_t val)
{
	*(volatile uint32_t *)(LAPIC_BASE + reg) = val;
}

void evtchn_upcall(void)
{
	struct vcpu_info *vi = &shinfo->vcpu_info[0];
	xen_ulong_t sel, pend;
	unsigned int w, b;

	events_upcalls++;
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

			if (!(pend & 1))
				continue;
			__atomic_fetch_and(&shinfo->evtchn_pending[w], ~m,
					   __ATOMIC_SEQ_CST);
			if (port < EVENTS_COUNTED)
				events_count[port]++;
			else
				events_other++;
		}
	}
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

static uint64_t rdtsc(void)
{
	uint32_t lo, hi;

	asm volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return (uint64_t)hi << 32 | lo;
}

uint64_t events_time_ns(void)
{
	volatile struct vcpu_time_info *t = &shinfo->vcpu_info[0].time;
	uint32_t version, mul;
	uint64_t delta, base;
	int8_t shift;

	do {
		version = t->version;
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		delta = rdtsc() - t->tsc_timestamp;
		base = t->system_time;
		mul = t->tsc_to_system_mul;
		shift = t->tsc_shift;
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
	} while ((version & 1) || version != t->version);
	if (shift >= 0)
		delta <<= shift;
	else
		delta >>= -shift;
	return base + (uint64_t)(((unsigned __int128)delta * mul) >> 32);
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
	while (tries-- && events_count[port] < n) {
		irq_disable();
		if (!shinfo->vcpu_info[0].evtchn_upcall_pending &&
		    events_count[port] < n)
			hyp_sched_op(SCHEDOP_block, NULL);
		/*
		 * The emulator checks for interrupts between instruction
		 * batches, not after sti's shadow: spin with IF=1 a while.
		 */
		irq_enable();
		events_wait_count(port, n);
	}
}
