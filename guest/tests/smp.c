/*
 * test=smp: secondary vCPUs.  Count them (VCPUOP_is_up until -ENOENT),
 * refuse hostile VCPUOP_initialise/up arguments, bring every AP up (the
 * last one in 32-bit mode when there are three or more), then IPIs both
 * ways through event channels, EVTCHNOP_bind_vcpu moving a loopback port
 * to vCPU 1, VIRQ_TIMER on vCPU 1, VCPUOP_down/up of an AP by vCPU 0 and
 * by itself, and finally every AP down.
 *
 * Lines: 9 with one vCPU; 33 + 3 per AP otherwise.  Every wait is bounded
 * (10 s of guest time) so that a broken hypervisor gives FAIL lines, not
 * a hang.
 */
#include "console.h"
#include "events.h"
#include "guest.h"
#include "hypercall.h"
#include "lib.h"
#include "smp.h"

#define MS		1000000ull
#define WAIT_NS		(10000 * MS)
/* Not mapped by our page tables (above 4 GiB) and far above any RAM. */
#define BAD_PTR		((void *)0x00007fff00000000ul)
/* Above the largest RAM the VMM gives (3.5 GiB). */
#define CR3_NOT_RAM	0xf0000000ul

static long vcpu_op(int cmd, unsigned int id, void *arg)
{
	return hyp_vcpu_op(cmd, id, arg);
}

static long ev_bind_vcpu(uint32_t port, unsigned int vcpu)
{
	struct evtchn_bind_vcpu b = { .port = port, .vcpu = vcpu };

	return hyp_event_channel_op(EVTCHNOP_bind_vcpu, &b);
}

static int port_pending(uint32_t port)
{
	return !!(shinfo->evtchn_pending[port / 64] & (1ul << (port % 64)));
}

/* --- wait conditions (smp_wait passes one unsigned argument) --------- */

static unsigned int want_count, want_bell;

static int all_online(unsigned int n)
{
	unsigned int i;

	for (i = 1; i < n; i++)
		if (!__atomic_load_n(&smp_aps[i].online, __ATOMIC_SEQ_CST))
			return 0;
	return 1;
}

/* AP id answered want_count events on its port, and the doorbell rang. */
static int answered(unsigned int id)
{
	return __atomic_load_n(&smp_aps[id].pings, __ATOMIC_SEQ_CST) >=
		       want_count &&
	       events_count[smp_doorbell] >= want_bell;
}

static int count_reached(unsigned int port)
{
	return events_count[port] >= want_count;
}

static int is_down(unsigned int id)
{
	return vcpu_op(VCPUOP_is_up, id, NULL) == 0;
}

/* --- hostile arguments ---------------------------------------------- */

/* What applies with any number of vCPUs; n is their count. */
static void smp_hostile_common(unsigned int n)
{
	struct evtchn_bind_ipi ipi = { .vcpu = n };
	struct vcpu_hvm_context ctx;
	long rc, r1, r2, r3;

	/* The copy comes first on Xen, whatever the vCPU's state. */
	rc = vcpu_op(VCPUOP_initialise, n - 1, BAD_PTR);
	check(rc == -XEN_EFAULT,
	      "smp: initialise vCPU %u with a bad pointer rc=%ld (-EFAULT)",
	      n - 1, rc);
	smp_context_64(&ctx, 1);
	rc = vcpu_op(VCPUOP_initialise, n, &ctx);
	r1 = vcpu_op(VCPUOP_initialise, 0x7fffffff, &ctx);
	check(rc == -XEN_ENOENT && r1 == -XEN_ENOENT,
	      "smp: initialise vCPU %u and 0x7fffffff rc=%ld,%ld (-ENOENT)",
	      n, rc, r1);
	r1 = vcpu_op(VCPUOP_up, n, NULL);
	r2 = vcpu_op(VCPUOP_down, n, NULL);
	r3 = vcpu_op(VCPUOP_is_up, n, NULL);
	check(r1 == -XEN_ENOENT && r2 == -XEN_ENOENT && r3 == -XEN_ENOENT,
	      "smp: up/down/is_up of vCPU %u rc=%ld,%ld,%ld (-ENOENT)", n, r1,
	      r2, r3);
	rc = vcpu_op(VCPUOP_initialise, 0, &ctx);
	check(rc == -XEN_EEXIST,
	      "smp: initialise vCPU 0, which runs already, rc=%ld (-EEXIST)",
	      rc);
	rc = hyp_event_channel_op(EVTCHNOP_bind_ipi, &ipi);
	check(rc == -XEN_ENOENT, "smp: bind_ipi to vCPU %u rc=%ld (-ENOENT)",
	      n, rc);
}

/* One refused context for vCPU 1, which is not initialised yet. */
static void refused(struct vcpu_hvm_context *ctx, const char *what)
{
	long rc = vcpu_op(VCPUOP_initialise, 1, ctx);

	check(rc == -XEN_EINVAL, "smp: initialise vCPU 1 with %s rc=%ld "
	      "(-EINVAL)", what, rc);
}

static void smp_hostile_ap(void)
{
	struct vcpu_hvm_context ctx;
	long rc, up;

	rc = vcpu_op(VCPUOP_up, 1, NULL);
	up = vcpu_op(VCPUOP_is_up, 1, NULL);
	check(rc == -XEN_EINVAL && up == 0,
	      "smp: up of never-initialised vCPU 1 rc=%ld (-EINVAL), "
	      "is_up=%ld", rc, up);

	smp_context_64(&ctx, 1);
	ctx.mode = 7;
	refused(&ctx, "mode 7");
	smp_context_64(&ctx, 1);
	ctx.pad = 1;
	refused(&ctx, "non-zero padding");
	smp_context_64(&ctx, 1);
	ctx.cpu_regs.x86_64.cr0 &= ~0x80000000ul;
	refused(&ctx, "64-bit mode without CR0.PG");
	smp_context_64(&ctx, 1);
	ctx.cpu_regs.x86_64.rip = 0x0000800000000000ul;
	refused(&ctx, "a non-canonical RIP");
	smp_context_64(&ctx, 1);
	ctx.cpu_regs.x86_64.cr3 = CR3_NOT_RAM;
	refused(&ctx, "CR3 outside RAM");
	smp_context_64(&ctx, 1);
	ctx.cpu_regs.x86_64.cr4 |= 1ul << 40;
	refused(&ctx, "a reserved CR4 bit");
	smp_context_32(&ctx, 1);
	ctx.cpu_regs.x86_32.cs_ar = 0xc93;
	refused(&ctx, "a data segment for CS");
	smp_context_32(&ctx, 1);
	ctx.cpu_regs.x86_32.cs_limit = 0xffff;
	ctx.cpu_regs.x86_32.cs_ar = 0x49b;
	refused(&ctx, "EIP beyond the CS limit");
	smp_context_32(&ctx, 1);
	ctx.cpu_regs.x86_32.ss_ar = 0;
	refused(&ctx, "a null SS");
	smp_context_32(&ctx, 1);
	ctx.cpu_regs.x86_32.tr_ar = 0x93;
	refused(&ctx, "a data segment for TR");

	rc = vcpu_op(VCPUOP_up, 1, NULL);
	up = vcpu_op(VCPUOP_is_up, 1, NULL);
	check(rc == -XEN_EINVAL && up == 0,
	      "smp: after the refusals vCPU 1 is still uninitialised: up "
	      "rc=%ld, is_up=%ld", rc, up);
}

/* --- bring-up and IPIs ---------------------------------------------- */

static void smp_bring_up(unsigned int n)
{
	struct vcpu_hvm_context ctx;
	unsigned int i, bits;
	long rc, again, up, up2;
	int ok;

	for (i = 1; i < n; i++) {
		/* The last of three or more starts in 32-bit mode. */
		bits = (n >= 3 && i == n - 1) ? 32 : 64;
		if (bits == 32)
			smp_context_32(&ctx, i);
		else
			smp_context_64(&ctx, i);
		rc = vcpu_op(VCPUOP_initialise, i, &ctx);
		again = vcpu_op(VCPUOP_initialise, i, &ctx);
		up = vcpu_op(VCPUOP_up, i, NULL);
		up2 = vcpu_op(VCPUOP_up, i, NULL);
		check(rc == 0 && again == -XEN_EEXIST && up == 0 && up2 == 0,
		      "smp: vCPU %u: initialise (%u-bit) rc=%ld, again "
		      "rc=%ld (-EEXIST), up rc=%ld, up again rc=%ld", i, bits,
		      rc, again, up, up2);
	}
	ok = smp_wait(all_online, n, WAIT_NS);
	for (i = 1; i < n; i++) {
		struct smp_ap *ap = &smp_aps[i];

		up = vcpu_op(VCPUOP_is_up, i, NULL);
		check(ok && ap->online && ap->init_rc == 0 &&
		      ap->apic_id == i && up == 1,
		      "smp: vCPU %u online: LAPIC id %u, vcpu_info and IPI "
		      "port %u rc=%d, is_up=%ld", i, ap->apic_id, ap->ipi_port,
		      ap->init_rc, up);
	}
}

/* vCPU 0 -> AP i on the AP's IPI port, and the answer on the doorbell. */
static void smp_ping(unsigned int i)
{
	struct smp_ap *ap = &smp_aps[i];
	uint32_t port = ap->ipi_port;
	unsigned int c = events_count[port];
	long rc;
	int ok;

	want_count = ap->pings + 1;
	want_bell = events_count[smp_doorbell] + 1;
	rc = ev_send(port);
	ok = smp_wait(answered, i, WAIT_NS);
	check(rc == 0 && ok && events_count[port] == c + 1 &&
	      events_last_vcpu[port] == i &&
	      events_last_vcpu[smp_doorbell] == 0,
	      "smp: IPI vCPU 0 -> %u on port %u taken by vCPU %u; answer "
	      "on port %u taken by vCPU %u", i, port, events_last_vcpu[port],
	      smp_doorbell, events_last_vcpu[smp_doorbell]);
}

/* A loopback pair; its local end moved to vCPU 1 and back. */
static void smp_bind_vcpu(unsigned int n)
{
	struct evtchn_alloc_unbound au = { .dom = DOMID_SELF,
					   .remote_dom = DOMID_SELF };
	struct evtchn_bind_interdomain bi = { .remote_dom = DOMID_SELF };
	uint32_t a, b;
	long rc;
	int ok;

	rc = hyp_event_channel_op(EVTCHNOP_alloc_unbound, &au);
	a = au.port;
	bi.remote_port = a;
	if (rc == 0)
		rc = hyp_event_channel_op(EVTCHNOP_bind_interdomain, &bi);
	b = bi.local_port;
	if (!check(rc == 0 && a < EVENTS_COUNTED && b < EVENTS_COUNTED,
		   "smp: loopback pair %u-%u rc=%ld", a, b, rc)) {
		/* Keep the line count: these three did not run. */
		check(0, "smp: bind_vcpu skipped");
		check(0, "smp: bind_vcpu to a missing vCPU skipped");
		check(0, "smp: bind_vcpu back skipped");
		return;
	}
	/* The bind itself raised b, on vCPU 0. */
	want_count = 1;
	(void)smp_wait(count_reached, b, WAIT_NS);

	rc = ev_bind_vcpu(b, 1);
	events_set_port_vcpu(b, 1);
	want_count = events_count[b] + 1;
	if (rc == 0)
		rc = ev_send(a);
	ok = smp_wait(count_reached, b, WAIT_NS);
	check(rc == 0 && ok && events_last_vcpu[b] == 1,
	      "smp: bind_vcpu moves port %u to vCPU 1: send on %u taken by "
	      "vCPU %u rc=%ld", b, a, events_last_vcpu[b], rc);

	rc = ev_bind_vcpu(b, n);
	check(rc == -XEN_ENOENT, "smp: bind_vcpu to vCPU %u rc=%ld (-ENOENT)",
	      n, rc);

	rc = ev_bind_vcpu(b, 0);
	events_set_port_vcpu(b, 0);
	want_count = events_count[b] + 1;
	if (rc == 0)
		rc = ev_send(a);
	ok = smp_wait(count_reached, b, WAIT_NS);
	check(rc == 0 && ok && events_last_vcpu[b] == 0,
	      "smp: bind_vcpu back to vCPU 0: taken by vCPU %u rc=%ld",
	      events_last_vcpu[b], rc);
	(void)ev_close(b);
	(void)ev_close(a);
}

static void smp_timer(void)
{
	struct vcpu_set_singleshot_timer sst = {
		.timeout_abs_ns = events_time_ns() + MS,
	};
	struct smp_ap *ap = &smp_aps[1];
	long rc;
	int ok;

	rc = vcpu_op(VCPUOP_set_singleshot_timer, 1, &sst);
	check(rc == -XEN_EINVAL, "smp: vCPU 0 arming vCPU 1's single-shot "
	      "timer rc=%ld (-EINVAL)", rc);

	smp_command(1, SMP_CMD_TIMER);
	ok = smp_wait_done(1);
	check(ok && ap->result == 0 && ap->value[1] == 1 &&
	      ap->value[2] == 1 && ap->value[0] >= 2 * MS,
	      "smp: VIRQ_TIMER on vCPU 1: single-shot 2 ms fired after %lu "
	      "us, %lu event(s) taken by vCPU %lu rc=%ld", ap->value[0] / 1000,
	      ap->value[1], ap->value[2], (long)ap->result);
}

/* vCPU 0 takes AP 1 down; an event sent meanwhile waits for the up. */
static void smp_down_up(void)
{
	struct smp_ap *ap = &smp_aps[1];
	uint32_t port = ap->ipi_port;
	unsigned int c;
	long rc, up;
	int ok;

	rc = vcpu_op(VCPUOP_down, 1, NULL);
	up = vcpu_op(VCPUOP_is_up, 1, NULL);
	check(rc == 0 && up == 0, "smp: down of vCPU 1 rc=%ld, is_up=%ld", rc,
	      up);

	c = events_count[port];
	want_count = ap->pings + 1;
	want_bell = events_count[smp_doorbell] + 1;
	rc = ev_send(port);
	/* A down vCPU runs nothing: 20 ms pass without an answer. */
	ok = smp_wait(answered, 1, 20 * MS);
	check(rc == 0 && !ok && events_count[port] == c &&
	      port_pending(port),
	      "smp: event to down vCPU 1 stays pending (taken %u times, "
	      "pending %d)", events_count[port] - c, port_pending(port));

	rc = vcpu_op(VCPUOP_up, 1, NULL);
	up = vcpu_op(VCPUOP_is_up, 1, NULL);
	check(rc == 0 && up == 1, "smp: up of vCPU 1 again rc=%ld, is_up=%ld",
	      rc, up);
	ok = smp_wait(answered, 1, WAIT_NS);
	check(ok && events_count[port] == c + 1 && events_last_vcpu[port] == 1,
	      "smp: vCPU 1 continues: the pending event taken by vCPU %u, "
	      "answered", events_last_vcpu[port]);
}

/* AP id takes itself down from inside a command; vCPU 0 brings it up. */
static void smp_self_down(unsigned int id)
{
	struct smp_ap *ap = &smp_aps[id];
	uint32_t seq = ap->done_seq;
	long rc;
	int ok;

	smp_command(id, SMP_CMD_DOWN_SELF);
	ok = smp_wait(is_down, id, WAIT_NS);
	check(ok && __atomic_load_n(&ap->done_seq, __ATOMIC_SEQ_CST) == seq,
	      "smp: vCPU %u took itself down: is_up=0, its VCPUOP_down has "
	      "not returned", id);
	rc = vcpu_op(VCPUOP_up, id, NULL);
	ok = smp_wait_done(id);
	check(rc == 0 && ok && ap->result == 0,
	      "smp: up of vCPU %u rc=%ld: its VCPUOP_down returned %ld", id,
	      rc, (long)ap->result);
}

static void smp_all_down(unsigned int n)
{
	unsigned int i, nr_up = 0;
	long rc = 0;

	for (i = 1; i < n; i++) {
		rc |= vcpu_op(VCPUOP_down, i, NULL);
		nr_up += vcpu_op(VCPUOP_is_up, i, NULL) != 0;
	}
	check(rc == 0 && nr_up == 0 && vcpu_op(VCPUOP_is_up, 0, NULL) == 1,
	      "smp: down of every AP rc=%ld, %u still up; vCPU 0 runs on", rc,
	      nr_up);
}

void scenario_smp(void)
{
	unsigned int n, i;
	long rc, up0;

	rc = events_init();
	if (!check(rc == 0, "smp: shared_info placed, callback vector set "
		   "rc=%ld", rc))
		return;
	irq_enable();
	rc = smp_init();
	if (!check(rc == 0 && smp_doorbell < EVENTS_COUNTED,
		   "smp: doorbell IPI port %u on vCPU 0 rc=%ld", smp_doorbell,
		   rc))
		return;
	n = smp_count_vcpus();
	up0 = vcpu_op(VCPUOP_is_up, 0, NULL);
	if (!check(n >= 1 && up0 == 1, "smp: %u vCPU(s), vCPU 0 is_up=%ld", n,
		   up0))
		return;

	smp_hostile_common(n);
	if (n == 1) {
		check(1, "smp: one vCPU: nothing to bring up");
		return;
	}
	smp_hostile_ap();
	smp_bring_up(n);
	for (i = 1; i < n; i++)
		smp_ping(i);
	smp_bind_vcpu(n);
	smp_timer();
	smp_down_up();
	smp_self_down(n - 1);
	smp_all_down(n);
}
