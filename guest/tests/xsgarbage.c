/*
 * test=xenstore-garbage: the guest breaks its own XenStore ring, as a
 * buggy or hostile guest might: a request producer index a whole ring
 * ahead of the consumer, or (with `garbage=len` on the command line) a
 * well-placed message header claiming 100000 bytes of payload; or (with
 * `garbage=flood`) a flood of valid writes whose replies it never reads,
 * which must leave its ring stalled but healthy (error 0).
 * xenstored must mark the ring broken (XENSTORE_ERROR_RINGIDX or
 * XENSTORE_ERROR_PROTO in the page's error field, which it offers with
 * XENSTORE_SERVER_FEATURE_ERROR) and stop serving it; the
 * integration test checks that xenstored, the vmm and other domains are
 * unharmed.  The guest itself runs on and powers off.
 */
#include "console.h"
#include "events.h"
#include "guest.h"
#include "hypercall.h"
#include "lib.h"

#include <xen/io/xs_wire.h>

#define MS 1000000ull

static long xsg_param(uint32_t index, uint64_t *value)
{
	struct xen_hvm_param p = { .domid = DOMID_SELF, .index = index };
	long rc = hyp_hvm_op(HVMOP_get_param, &p);

	*value = p.value;
	return rc;
}

/* Whether the command line holds the word w. */
static int xsg_cmdline_has(const char *w)
{
	const char *p, *q;
	size_t n = strlen(w);

	if (!start_info || !start_info->cmdline_paddr)
		return 0;
	p = (const char *)(uintptr_t)start_info->cmdline_paddr;
	for (q = p; *q; q++)
		if ((q == p || q[-1] == ' ') && !strncmp(q, w, n) &&
		    (q[n] == ' ' || q[n] == '\0'))
			return 1;
	return 0;
}

/*
 * Valid XS_WRITEs as fast as the request ring takes them, never reading a
 * reply, for about two seconds: xenstored must stop taking our requests
 * (our unread replies are our problem) without breaking the ring.
 */
static void xsg_flood(struct xenstore_domain_interface *r, evtchn_port_t p)
{
	static const char payload[] = "data/flood\0x";
	struct xsd_sockmsg m = { .type = XS_WRITE,
				 .len = sizeof(payload) - 1 };
	uint64_t end = events_time_ns() + 2000 * MS;
	unsigned int sent = 0, i;
	XENSTORE_RING_IDX prod;
	char msg[sizeof(m) + sizeof(payload) - 1];

	while (events_time_ns() < end) {
		prod = r->req_prod;
		if (XENSTORE_RING_SIZE - (prod - __atomic_load_n(
					      &r->req_cons, __ATOMIC_ACQUIRE)) <
		    sizeof(msg)) {
			(void)ev_send(p);
			continue;
		}
		m.req_id = ++sent;
		memcpy(msg, &m, sizeof(m));
		memcpy(msg + sizeof(m), payload, sizeof(payload) - 1);
		for (i = 0; i < sizeof(msg); i++)
			r->req[MASK_XENSTORE_IDX(prod + i)] = msg[i];
		__atomic_store_n(&r->req_prod, prod + sizeof(msg),
				 __ATOMIC_RELEASE);
		(void)ev_send(p);
	}
	check(sent > 20 && r->req_prod - r->req_cons >
				   XENSTORE_RING_SIZE - sizeof(msg),
	      "xenstore-garbage: %u writes, replies unread: xenstored stopped "
	      "taking requests", sent);
	check(r->error == XENSTORE_ERROR_NONE,
	      "xenstore-garbage: the flooded ring is not broken (error %u)",
	      r->error);
}

void scenario_xenstore_garbage(void)
{
	struct xenstore_domain_interface *r;
	uint64_t pfn = 0, port = 0, end;
	uint32_t want = XENSTORE_ERROR_RINGIDX;
	evtchn_port_t p;
	struct sched_poll poll;

	if (events_init() || xsg_param(HVM_PARAM_STORE_PFN, &pfn) || !pfn ||
	    xsg_param(HVM_PARAM_STORE_EVTCHN, &port) || !port) {
		printf("SKIP: xenstore-garbage: no store ring\n");
		return;
	}
	r = (struct xenstore_domain_interface *)(uintptr_t)(pfn << 12);
	check(r->server_features & XENSTORE_SERVER_FEATURE_ERROR,
	      "xenstore-garbage: xenstored offers the error field (0x%x)",
	      r->server_features);

	if (xsg_cmdline_has("garbage=flood")) {
		xsg_flood(r, (evtchn_port_t)port);
		return;
	}
	if (xsg_cmdline_has("garbage=len")) {
		struct xsd_sockmsg m = { .type = XS_READ, .req_id = 1,
					 .len = 100000 };
		XENSTORE_RING_IDX prod = r->req_prod;
		const char *b = (const char *)&m;
		unsigned int i;

		want = XENSTORE_ERROR_PROTO;
		for (i = 0; i < sizeof(m); i++)
			r->req[MASK_XENSTORE_IDX(prod + i)] = b[i];
		__atomic_store_n(&r->req_prod, prod + sizeof(m),
				 __ATOMIC_RELEASE);
	} else {
		__atomic_store_n(&r->req_prod,
				 r->req_cons + 4 * XENSTORE_RING_SIZE,
				 __ATOMIC_RELEASE);
	}
	p = (evtchn_port_t)port;
	(void)ev_send(p);

	end = events_time_ns() + 5000 * MS;
	while (!__atomic_load_n(&r->error, __ATOMIC_ACQUIRE) &&
	       events_time_ns() < end) {
		poll.ports.p = &p;
		poll.nr_ports = 1;
		poll.timeout = events_time_ns() + 10 * MS;
		(void)hyp_sched_op(SCHEDOP_poll, &poll);
	}
	check(r->error == want,
	      "xenstore-garbage: xenstored marked the ring broken (error %u)",
	      r->error);
}
