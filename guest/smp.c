/*
 * Secondary vCPUs (APs).
 *
 * vCPU 0 starts an AP with VCPUOP_initialise (a vcpu_hvm_context whose
 * rip is ap_start64 or ap_start32 in head.S, rsp/esp the AP's stack, rdi
 * its id) and VCPUOP_up.  head.S loads our GDT and long mode as needed
 * and calls smp_ap_main(), which loads the IDT vCPU 0 uses, enables the
 * LAPIC, registers the AP's vcpu_info, binds an IPI port to the AP and
 * reports in.  The AP then loops: sleep in SCHEDOP_block, answer each
 * event on its IPI port, run the command vCPU 0 left in its mailbox.
 *
 * vCPU 0 prints every verdict; APs only write their struct smp_ap and
 * ring the doorbell (an IPI port of vCPU 0).  A doorbell event says "look
 * again", never "one thing happened": events on a port coalesce.
 */
#include "arch.h"
#include "events.h"
#include "guest.h"
#include "hypercall.h"
#include "lib.h"
#include "smp.h"
#include "user.h"

#define MSR_EFER	0xc0000080
#define MS		1000000ull

struct smp_ap smp_aps[SMP_MAX_VCPUS];
uint32_t smp_doorbell;

extern char ap_stacks[];

static struct {
	uint16_t limit;
	uint64_t base;
} __attribute__((packed)) smp_idtr;

static uint64_t rdmsr(uint32_t msr)
{
	uint32_t lo, hi;

	asm volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
	return (uint64_t)hi << 32 | lo;
}

#define READ_CR(n)							\
	static uint64_t read_cr##n(void)				\
	{								\
		uint64_t v;						\
		asm volatile("mov %%cr" #n ", %0" : "=r"(v));		\
		return v;						\
	}
READ_CR(0)
READ_CR(3)
READ_CR(4)

unsigned int smp_count_vcpus(void)
{
	unsigned int n;

	for (n = 0; n < SMP_MAX_VCPUS; n++)
		if (hyp_vcpu_op(VCPUOP_is_up, n, NULL) < 0)
			break;
	return n;
}

int smp_init(void)
{
	struct evtchn_bind_ipi ipi = { .vcpu = 0 };
	long rc;

	if (smp_doorbell)
		return 0;
	rc = hyp_event_channel_op(EVTCHNOP_bind_ipi, &ipi);
	if (rc)
		return (int)rc;
	smp_doorbell = ipi.port;
	/* The IDT that traps_init() loaded, for the APs. */
	asm volatile("sidt %0" : "=m"(smp_idtr));
	return 0;
}

static uint64_t smp_stack_top(unsigned int id)
{
	return (uintptr_t)ap_stacks + (uint64_t)(id + 1) * SMP_STACK_SIZE;
}

void smp_context_64(struct vcpu_hvm_context *c, unsigned int id)
{
	struct vcpu_hvm_x86_64 *r = &c->cpu_regs.x86_64;

	memset(c, 0, sizeof(*c));
	c->mode = VCPU_HVM_MODE_64B;
	r->rip = (uintptr_t)ap_start64;
	r->rsp = smp_stack_top(id);
	r->rdi = id;
	r->rflags = 2;
	/* Our own mode: the same page tables, PAE, long mode. */
	r->cr0 = read_cr0();
	r->cr3 = read_cr3();
	r->cr4 = read_cr4();
	r->efer = rdmsr(MSR_EFER);
}

void smp_context_32(struct vcpu_hvm_context *c, unsigned int id)
{
	struct vcpu_hvm_x86_32 *r = &c->cpu_regs.x86_32;

	memset(c, 0, sizeof(*c));
	c->mode = VCPU_HVM_MODE_32B;
	r->eip = (uint32_t)(uintptr_t)ap_start32;
	r->esp = (uint32_t)smp_stack_top(id);
	r->edi = id;
	r->eflags = 2;
	r->cr0 = 0x11; /* PE, ET: paging off, as at PVH entry */
	/* Flat 4 GiB code and data; TR a 32-bit TSS (Xen wants one). */
	r->cs_limit = r->ds_limit = r->ss_limit = r->es_limit = 0xffffffff;
	r->cs_ar = 0xc9b;
	r->ds_ar = r->ss_ar = r->es_ar = 0xc93;
	r->tr_limit = 0x67;
	r->tr_ar = 0x8b;
}

/*
 * Sleeps until done(arg), or timeout_ns, in SCHEDOP_poll on `port` (a
 * port of the calling vCPU) with interrupts off around the check: an
 * event that lands after it keeps the port pending and poll returns.
 */
static int smp_sleep_until(int (*done)(unsigned int), unsigned int arg,
			   uint32_t port, uint64_t timeout_ns)
{
	uint64_t now = events_time_ns(), end = now + timeout_ns;
	evtchn_port_t p = port;
	struct sched_poll poll;
	int ok;

	for (;;) {
		irq_disable();
		ok = done(arg);
		now = events_time_ns();
		if (ok || now >= end)
			break;
		poll.ports.p = &p;
		poll.nr_ports = 1;
		poll.timeout = now + 10 * MS < end ? now + 10 * MS : end;
		(void)hyp_sched_op(SCHEDOP_poll, &poll);
		irq_enable();
		events_settle();
	}
	irq_enable();
	events_settle();
	return ok;
}

int smp_wait(int (*done)(unsigned int), unsigned int arg,
	     uint64_t timeout_ns)
{
	return smp_sleep_until(done, arg, smp_doorbell, timeout_ns);
}

static void smp_ring(void)
{
	(void)ev_send(smp_doorbell);
}

void smp_command(unsigned int id, enum smp_cmd cmd)
{
	struct smp_ap *ap = &smp_aps[id];

	__atomic_store_n(&ap->cmd, cmd, __ATOMIC_SEQ_CST);
	__atomic_fetch_add(&ap->cmd_seq, 1, __ATOMIC_SEQ_CST);
	(void)ev_send(__atomic_load_n(&ap->ipi_port, __ATOMIC_SEQ_CST));
}

void smp_command_user(unsigned int id, uint64_t rip, uint64_t rsp,
		      uint64_t arg)
{
	struct smp_ap *ap = &smp_aps[id];

	__atomic_store_n(&ap->arg[0], rip, __ATOMIC_SEQ_CST);
	__atomic_store_n(&ap->arg[1], rsp, __ATOMIC_SEQ_CST);
	__atomic_store_n(&ap->arg[2], arg, __ATOMIC_SEQ_CST);
	smp_command(id, SMP_CMD_USER);
}

static int smp_done(unsigned int id)
{
	struct smp_ap *ap = &smp_aps[id];

	return __atomic_load_n(&ap->done_seq, __ATOMIC_SEQ_CST) ==
	       __atomic_load_n(&ap->cmd_seq, __ATOMIC_SEQ_CST);
}

int smp_wait_done(unsigned int id)
{
	return smp_wait(smp_done, id, 10000 * MS);
}

/* --- on the AP ------------------------------------------------------ */

static uint32_t ap_timer_port;
static unsigned int ap_timer_target;

static int ap_timer_fired(unsigned int port)
{
	return events_count[port] >= ap_timer_target;
}

/*
 * SMP_CMD_TIMER: VIRQ_TIMER bound to this AP, a single-shot timer 2 ms
 * out, and the time, count and vCPU of its event.  Only one AP runs this
 * at a time (vCPU 0 waits for it).
 */
static long ap_cmd_timer(struct smp_ap *ap, unsigned int id)
{
	struct evtchn_bind_virq bv = { .virq = VIRQ_TIMER, .vcpu = id };
	struct vcpu_set_singleshot_timer sst;
	struct evtchn_close cl;
	uint64_t t0, t1;
	long rc;

	rc = hyp_event_channel_op(EVTCHNOP_bind_virq, &bv);
	if (rc)
		return rc;
	if (bv.port >= EVENTS_COUNTED) {
		rc = -XEN_ENOSPC;
		goto out;
	}
	events_set_port_vcpu(bv.port, id);
	ap_timer_port = bv.port;
	ap_timer_target = events_count[bv.port] + 1;
	t0 = events_time_ns();
	sst.timeout_abs_ns = t0 + 2 * MS;
	sst.flags = 0;
	rc = hyp_vcpu_op(VCPUOP_set_singleshot_timer, id, &sst);
	if (rc)
		goto out;
	(void)smp_sleep_until(ap_timer_fired, bv.port, bv.port, 5000 * MS);
	t1 = events_time_ns();
	__atomic_store_n(&ap->value[0], t1 - t0, __ATOMIC_SEQ_CST);
	__atomic_store_n(&ap->value[1],
			 events_count[bv.port] - (ap_timer_target - 1),
			 __ATOMIC_SEQ_CST);
	__atomic_store_n(&ap->value[2], events_last_vcpu[bv.port],
			 __ATOMIC_SEQ_CST);
out:
	cl.port = bv.port;
	(void)hyp_event_channel_op(EVTCHNOP_close, &cl);
	events_set_port_vcpu(bv.port, 0);
	return rc;
}

static long ap_run(struct smp_ap *ap, unsigned int id, uint32_t cmd)
{
	switch (cmd) {
	case SMP_CMD_TIMER:
		return ap_cmd_timer(ap, id);
	case SMP_CMD_DOWN_SELF:
		/* Returns when somebody brings us up again. */
		return hyp_vcpu_op(VCPUOP_down, id, NULL);
	case SMP_CMD_USER:
		user_enter(id, __atomic_load_n(&ap->arg[0], __ATOMIC_SEQ_CST),
			   __atomic_load_n(&ap->arg[1], __ATOMIC_SEQ_CST),
			   __atomic_load_n(&ap->arg[2], __ATOMIC_SEQ_CST));
	default:
		return -XEN_ENOSYS;
	}
}

static int ap_has_work(struct smp_ap *ap, unsigned int answered)
{
	uint32_t port = ap->ipi_port;

	return events_count[port] != answered ||
	       __atomic_load_n(&ap->cmd_seq, __ATOMIC_SEQ_CST) !=
		       __atomic_load_n(&ap->done_seq, __ATOMIC_SEQ_CST);
}

static void __attribute__((noreturn))
ap_loop(struct smp_ap *ap, unsigned int id)
{
	struct vcpu_info *vi = events_vcpu_info(id);
	unsigned int answered = events_count[ap->ipi_port], n;
	uint32_t seq;

	for (;;) {
		irq_disable();
		if (!vi->evtchn_upcall_pending && !ap_has_work(ap, answered))
			(void)hyp_sched_op(SCHEDOP_block, NULL);
		irq_enable();
		events_settle();
		n = events_count[ap->ipi_port];
		if (n != answered) {
			answered = n;
			__atomic_store_n(&ap->pings, n, __ATOMIC_SEQ_CST);
			smp_ring();
		}
		seq = __atomic_load_n(&ap->cmd_seq, __ATOMIC_SEQ_CST);
		if (seq != __atomic_load_n(&ap->done_seq, __ATOMIC_SEQ_CST)) {
			__atomic_store_n(&ap->result,
					 ap_run(ap, id, __atomic_load_n(
							    &ap->cmd,
							    __ATOMIC_SEQ_CST)),
					 __ATOMIC_SEQ_CST);
			__atomic_store_n(&ap->done_seq, seq, __ATOMIC_SEQ_CST);
			smp_ring();
		}
	}
}

void smp_ap_main(unsigned int id)
{
	struct evtchn_bind_ipi ipi = { .vcpu = id };
	struct smp_ap *ap;
	long rc;

	if (id == 0 || id >= SMP_MAX_VCPUS)
		halt_forever();
	ap = &smp_aps[id];
	asm volatile("lidt %0" : : "m"(smp_idtr));
	__atomic_store_n(&ap->apic_id, events_cpu_id(), __ATOMIC_SEQ_CST);
	rc = events_ap_init(id);
	if (rc == 0)
		rc = hyp_event_channel_op(EVTCHNOP_bind_ipi, &ipi);
	if (rc == 0 && ipi.port >= EVENTS_COUNTED)
		rc = -XEN_ENOSPC;
	if (rc == 0) {
		events_set_port_vcpu(ipi.port, id);
		__atomic_store_n(&ap->ipi_port, ipi.port, __ATOMIC_SEQ_CST);
	}
	if (rc == 0)
		events_take_pending();
	__atomic_store_n(&ap->init_rc, (int32_t)rc, __ATOMIC_SEQ_CST);
	__atomic_store_n(&ap->online, 1, __ATOMIC_SEQ_CST);
	smp_ring();
	if (rc)
		halt_forever();
	ap_loop(ap, id);
}
