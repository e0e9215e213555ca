/*
 * test=evtchn: 2-level event channels through the HVM callback vector.
 * A loopback pair (alloc_unbound + bind_interdomain to ourselves), an IPI
 * port, masking and EVTCHNOP_unmask, status, close, and bad ports.
 */
#include "console.h"
#include "events.h"
#include "guest.h"
#include "hypercall.h"
#include "lib.h"

static long ev_unmask(evtchn_port_t port)
{
	struct evtchn_unmask u = { .port = port };

	return hyp_event_channel_op(EVTCHNOP_unmask, &u);
}

static long ev_status(evtchn_port_t port, struct evtchn_status *st)
{
	memset(st, 0, sizeof(*st));
	st->dom = DOMID_SELF;
	st->port = port;
	return hyp_event_channel_op(EVTCHNOP_status, st);
}

static int port_pending(evtchn_port_t port)
{
	return !!(shinfo->evtchn_pending[port / 64] & (1ul << (port % 64)));
}

void scenario_evtchn(void)
{
	struct evtchn_alloc_unbound au = { .dom = DOMID_SELF,
					   .remote_dom = DOMID_SELF };
	struct evtchn_bind_interdomain bi = { .remote_dom = DOMID_SELF };
	struct evtchn_bind_ipi ipi = { .vcpu = 0 };
	struct evtchn_bind_virq bv = { .virq = 99, .vcpu = 0 };
	struct evtchn_status st;
	evtchn_port_t a, b;
	unsigned int n;
	long rc;

	rc = events_init();
	if (!check(rc == 0, "evtchn: shared_info placed, callback vector set "
		   "rc=%ld", rc))
		return;
	irq_enable();

	rc = hyp_event_channel_op(EVTCHNOP_alloc_unbound, &au);
	check(rc == 0 && au.port > 0 && au.port < EVENTS_COUNTED,
	      "evtchn: alloc_unbound rc=%ld port=%u", rc, au.port);
	a = au.port;
	rc = ev_status(a, &st);
	check(rc == 0 && st.status == EVTCHNSTAT_unbound,
	      "evtchn: status of unbound port rc=%ld status=%u", rc,
	      st.status);

	bi.remote_port = a;
	rc = hyp_event_channel_op(EVTCHNOP_bind_interdomain, &bi);
	b = bi.local_port;
	if (!check(rc == 0 && b > 0 && b < EVENTS_COUNTED && b != a,
		   "evtchn: bind_interdomain to ourselves rc=%ld port=%u", rc,
		   b))
		goto out;
	/* Xen sets the new local port pending on bind. */
	check(events_wait_count(b, 1),
	      "evtchn: bind_interdomain raised port %u (count %u)", b,
	      events_count[b]);
	rc = ev_status(a, &st);
	check(rc == 0 && st.status == EVTCHNSTAT_interdomain &&
	      st.u.interdomain.port == b,
	      "evtchn: status interdomain rc=%ld status=%u remote=%u", rc,
	      st.status, st.u.interdomain.port);

	n = events_count[b];
	rc = ev_send(a);
	check(rc == 0 && events_wait_count(b, n + 1),
	      "evtchn: send on %u arrives on %u rc=%ld count=%u", a, b, rc,
	      events_count[b]);
	rc = ev_send(b);
	check(rc == 0 && events_wait_count(a, 1),
	      "evtchn: send on %u arrives on %u rc=%ld count=%u", b, a, rc,
	      events_count[a]);

	/* Masked: pending but no upcall; unmask delivers it. */
	n = events_count[b];
	__atomic_fetch_or(&shinfo->evtchn_mask[b / 64], 1ul << (b % 64),
			  __ATOMIC_SEQ_CST);
	rc = ev_send(a);
	check(rc == 0 && !events_wait_count(b, n + 1) && port_pending(b),
	      "evtchn: masked port is pending without an upcall (count %u)",
	      events_count[b]);
	rc = ev_unmask(b);
	check(rc == 0 && events_wait_count(b, n + 1) && !port_pending(b),
	      "evtchn: unmask delivers the pending event rc=%ld count=%u", rc,
	      events_count[b]);

	rc = hyp_event_channel_op(EVTCHNOP_bind_ipi, &ipi);
	check(rc == 0 && ipi.port < EVENTS_COUNTED,
	      "evtchn: bind_ipi rc=%ld port=%u", rc, ipi.port);
	if (rc == 0 && ipi.port < EVENTS_COUNTED) {
		rc = ev_send(ipi.port);
		check(rc == 0 && events_wait_count(ipi.port, 1),
		      "evtchn: IPI to ourselves rc=%ld", rc);
		rc = ev_close(ipi.port);
		check(rc == 0, "evtchn: close IPI port rc=%ld", rc);
	}

	rc = ev_close(b);
	check(rc == 0, "evtchn: close %u rc=%ld", b, rc);
	rc = ev_status(a, &st);
	check(rc == 0 && st.status == EVTCHNSTAT_unbound,
	      "evtchn: the other end is unbound again status=%u", st.status);
	rc = ev_status(b, &st);
	check(rc == 0 && st.status == EVTCHNSTAT_closed,
	      "evtchn: closed port status=%u", st.status);
	rc = ev_send(b);
	check(rc == -XEN_EINVAL, "evtchn: send on closed port rc=%ld", rc);
	rc = ev_close(b);
	check(rc == -XEN_EINVAL, "evtchn: close of closed port rc=%ld", rc);

	/* Hostile ports and arguments. */
	rc = ev_send(0);
	check(rc == -XEN_EINVAL, "evtchn: send on port 0 rc=%ld", rc);
	rc = ev_send(0x7fffffff);
	check(rc == -XEN_EINVAL, "evtchn: send on port 0x7fffffff rc=%ld", rc);
	rc = ev_close(100000);
	check(rc == -XEN_EINVAL, "evtchn: close port 100000 rc=%ld", rc);
	rc = ev_unmask(0xffffffff);
	check(rc == -XEN_EINVAL, "evtchn: unmask port 0xffffffff rc=%ld", rc);
	rc = ev_status(0x10000, &st);
	check(rc == -XEN_EINVAL, "evtchn: status port 0x10000 rc=%ld", rc);
	bi.remote_port = b;
	rc = hyp_event_channel_op(EVTCHNOP_bind_interdomain, &bi);
	check(rc == -XEN_EINVAL,
	      "evtchn: bind_interdomain to a closed port rc=%ld", rc);
	rc = hyp_event_channel_op(EVTCHNOP_bind_virq, &bv);
	check(rc == -XEN_EINVAL, "evtchn: bind_virq 99 rc=%ld", rc);
	/* Xen: a global VIRQ binds on vCPU 0 only; a missing vCPU. */
	bv.virq = VIRQ_CONSOLE;
	bv.vcpu = 1;
	rc = hyp_event_channel_op(EVTCHNOP_bind_virq, &bv);
	check(rc == -XEN_EINVAL, "evtchn: global VIRQ on vCPU 1 rc=%ld", rc);
	bv.virq = VIRQ_DEBUG;
	bv.vcpu = 999;
	rc = hyp_event_channel_op(EVTCHNOP_bind_virq, &bv);
	check(rc == -XEN_ENOENT, "evtchn: VIRQ on vCPU 999 rc=%ld", rc);
	rc = hyp_event_channel_op(EVTCHNOP_send, (void *)0x00007fff00000000ul);
	check(rc == -XEN_EFAULT, "evtchn: send with a bad pointer rc=%ld", rc);
	rc = hyp_event_channel_op(0x7fff, &st);
	check(rc == -XEN_ENOSYS, "evtchn: unknown op rc=%ld", rc);
	check(events_other == 0, "evtchn: no stray events (%u)", events_other);
out:
	ev_close(a);
	irq_disable();
}
