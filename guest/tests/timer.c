/*
 * test=timer: the pvclock in vcpu_time_info runs forward, the wallclock is
 * set, and a single-shot timer (VCPUOP_set_singleshot_timer, then
 * set_timer_op) raises VIRQ_TIMER no earlier than its deadline while we
 * sleep in SCHEDOP_block.  SCHEDOP_poll with a timeout returns after it.
 * A periodic timer (VCPUOP_set_periodic_timer) ticks until stopped.
 */
#include "console.h"
#include "events.h"
#include "guest.h"
#include "hypercall.h"
#include "lib.h"

#define MS 1000000ull

/* Sleeps ms milliseconds in SCHEDOP_poll on no port. */
static void timer_sleep_ms(uint64_t ms)
{
	struct sched_poll poll = {
		.nr_ports = 0,
		.timeout = events_time_ns() + ms * MS,
	};

	(void)hyp_sched_op(SCHEDOP_poll, &poll);
}

static void timer_periodic(evtchn_port_t port)
{
	struct vcpu_set_periodic_timer pt = { .period_ns = MS / 2 };
	uint64_t t0, t1;
	unsigned int n;
	long rc;

	rc = hyp_vcpu_op(VCPUOP_set_periodic_timer, 0, &pt);
	check(rc == -XEN_EINVAL, "timer: periodic period under 1 ms rc=%ld",
	      rc);
	rc = hyp_vcpu_op(VCPUOP_set_periodic_timer, 0, (void *)0x7fff00000000ul);
	check(rc == -XEN_EFAULT, "timer: periodic with a bad pointer rc=%ld",
	      rc);

	pt.period_ns = 2 * MS;
	n = events_count[port];
	t0 = events_time_ns();
	rc = hyp_vcpu_op(VCPUOP_set_periodic_timer, 0, &pt);
	events_block_until(port, n + 3, 200);
	t1 = events_time_ns();
	check(rc == 0 && events_count[port] >= n + 3 && t1 >= t0 + 6 * MS,
	      "timer: periodic 2 ms: %u ticks after %lu us rc=%ld",
	      events_count[port] - n, (t1 - t0) / 1000, rc);

	rc = hyp_vcpu_op(VCPUOP_stop_periodic_timer, 0, NULL);
	/* A tick raised just before the stop may still be on its way. */
	timer_sleep_ms(1);
	n = events_count[port];
	timer_sleep_ms(8);
	check(rc == 0 && events_count[port] == n,
	      "timer: periodic stopped: %u ticks in 8 ms rc=%ld",
	      events_count[port] - n, rc);
}

/* VCPUOP_get_runstate_info: we are running, since no later than now. */
static void timer_runstate(void)
{
	struct vcpu_runstate_info rs;
	uint64_t now;
	long rc;

	rc = hyp_vcpu_op(VCPUOP_get_runstate_info, 0, &rs);
	now = events_time_ns();
	check(rc == 0 && rs.state == RUNSTATE_running &&
	      rs.state_entry_time <= now,
	      "timer: runstate of vCPU 0: state %d since %lu ns rc=%ld",
	      rs.state, (unsigned long)rs.state_entry_time, rc);
	rc = hyp_vcpu_op(VCPUOP_get_runstate_info, 999, &rs);
	check(rc == -XEN_ENOENT, "timer: runstate of vCPU 999 rc=%ld", rc);
	rc = hyp_vcpu_op(VCPUOP_get_runstate_info, 0,
			 (void *)0x7fff00000000ul);
	check(rc == -XEN_EFAULT, "timer: runstate to a bad pointer rc=%ld",
	      rc);
}

void scenario_timer(void)
{
	struct evtchn_bind_virq bv = { .virq = VIRQ_TIMER, .vcpu = 0 };
	struct vcpu_set_singleshot_timer sst;
	struct sched_poll poll;
	evtchn_port_t port;
	uint64_t t0, t1, t2;
	unsigned int n;
	long rc;

	rc = events_init();
	if (!check(rc == 0, "timer: shared_info placed, callback vector set "
		   "rc=%ld", rc))
		return;

	t1 = events_time_ns();
	t2 = events_time_ns();
	check(t1 > 0 && t2 >= t1, "timer: system time runs forward "
	      "(%lu then %lu ns)", t1, t2);
	check(shinfo->wc_sec > 1500000000u && !(shinfo->wc_version & 1),
	      "timer: wallclock set (%u s)", shinfo->wc_sec);

	rc = hyp_event_channel_op(EVTCHNOP_bind_virq, &bv);
	port = bv.port;
	if (!check(rc == 0 && port > 0 && port < EVENTS_COUNTED,
		   "timer: bind_virq VIRQ_TIMER rc=%ld port=%u", rc, port))
		return;
	rc = hyp_event_channel_op(EVTCHNOP_bind_virq, &bv);
	check(rc == -XEN_EEXIST, "timer: VIRQ_TIMER bound twice rc=%ld", rc);

	/* The port may have served another scenario: count from here. */
	n = events_count[port];
	t0 = events_time_ns();
	sst.timeout_abs_ns = t0 + 5 * MS;
	sst.flags = 0;
	rc = hyp_vcpu_op(VCPUOP_set_singleshot_timer, 0, &sst);
	events_block_until(port, n + 1, 50);
	t1 = events_time_ns();
	check(rc == 0 && events_count[port] == n + 1 && t1 >= t0 + 5 * MS,
	      "timer: singleshot 5 ms: VIRQ_TIMER after %lu us rc=%ld "
	      "count=%u", (t1 - t0) / 1000, rc, events_count[port]);

	t0 = events_time_ns();
	rc = hyp_set_timer_op(t0 + 3 * MS);
	events_block_until(port, n + 2, 50);
	t1 = events_time_ns();
	check(rc == 0 && events_count[port] == n + 2 && t1 >= t0 + 3 * MS,
	      "timer: set_timer_op 3 ms: VIRQ_TIMER after %lu us rc=%ld "
	      "count=%u", (t1 - t0) / 1000, rc, events_count[port]);

	sst.timeout_abs_ns = 1;
	sst.flags = VCPU_SSHOTTMR_future;
	rc = hyp_vcpu_op(VCPUOP_set_singleshot_timer, 0, &sst);
	check(rc == -XEN_ETIME, "timer: deadline in the past with "
	      "VCPU_SSHOTTMR_future rc=%ld", rc);

	/* A stopped timer stays quiet; poll times out on the masked port. */
	__atomic_fetch_or(&shinfo->evtchn_mask[port / 64], 1ul << (port % 64),
			  __ATOMIC_SEQ_CST);
	t0 = events_time_ns();
	sst.timeout_abs_ns = t0 + 2 * MS;
	sst.flags = 0;
	rc = hyp_vcpu_op(VCPUOP_set_singleshot_timer, 0, &sst);
	rc |= hyp_vcpu_op(VCPUOP_stop_singleshot_timer, 0, NULL);
	poll.ports.p = &port;
	poll.nr_ports = 1;
	poll.timeout = t0 + 6 * MS;
	rc |= hyp_sched_op(SCHEDOP_poll, &poll);
	t1 = events_time_ns();
	check(rc == 0 && t1 >= t0 + 6 * MS &&
	      !(shinfo->evtchn_pending[port / 64] & (1ul << (port % 64))),
	      "timer: stopped timer silent, poll timed out after %lu us "
	      "rc=%ld", (t1 - t0) / 1000, rc);

	/* Poll wakes on the masked port when a timer fires. */
	t0 = events_time_ns();
	rc = hyp_set_timer_op(t0 + 2 * MS);
	poll.timeout = t0 + 1000 * MS;
	rc |= hyp_sched_op(SCHEDOP_poll, &poll);
	t1 = events_time_ns();
	check(rc == 0 && t1 >= t0 + 2 * MS && t1 < t0 + 500 * MS &&
	      (shinfo->evtchn_pending[port / 64] & (1ul << (port % 64))),
	      "timer: poll woken by VIRQ_TIMER after %lu us rc=%ld",
	      (t1 - t0) / 1000, rc);
	__atomic_fetch_and(&shinfo->evtchn_pending[port / 64],
			   ~(1ul << (port % 64)), __ATOMIC_SEQ_CST);
	__atomic_fetch_and(&shinfo->evtchn_mask[port / 64],
			   ~(1ul << (port % 64)), __ATOMIC_SEQ_CST);

	poll.nr_ports = 1000;
	rc = hyp_sched_op(SCHEDOP_poll, &poll);
	check(rc == -XEN_EINVAL, "timer: poll of 1000 ports rc=%ld", rc);

	timer_periodic(port);
	timer_runstate();
}
