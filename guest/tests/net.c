/*
 * test=net and test=net-hostile: the network frontend (netfront.c) and
 * the small stack on it (net.c) against the backend of xenia-vmm --vif.
 *
 * The addresses come from the command line: ip= (ours), gw=, mask=
 * (255.255.255.0 by default) and peer= (the address we ARP for and
 * ping; the gateway by default).  Without them the guest takes slirp's
 * defaults: 10.0.2.15, gateway and peer 10.0.2.2.
 *
 * test=net connects vif 0, checks that both ends say Connected, reads
 * the MAC and MTU, ARPs for the peer, pings it five times (ids, seqs and
 * payloads of 0 to 1400 bytes, each reply checked against what was
 * sent), pings once more with the frame split over two tx slots when
 * the backend offers feature-sg, disconnects, reconnects and pings
 * again.  With net-answer=N it then answers ARP and pings for N seconds
 * (so that the host can ping us) and says how many it answered; last, a
 * clean disconnect.
 *
 * test=net-hostile puts malformed tx requests on the ring as they are
 * (netfront_tx_raw): an offset and size past the page, frames shorter
 * than an Ethernet header, unusable grant refs, a page granted to
 * another domain or revoked, a first slot whose size disagrees with the
 * chain, a chain longer than netif.h allows and one that never ends.
 * Each must be answered with NETIF_RSP_ERROR or NETIF_RSP_DROPPED (or
 * cost that connection alone: the backend goes Closing with an `error`
 * node, and we connect again), and a ping must work afterwards.  Ids
 * are the frontend's business: duplicate and extreme ones are echoed.
 * Last a corrupt tx producer index must make the backend give up the
 * vif while the guest runs on and can connect again.
 *
 * Without a store ring both print a SKIP line and nothing else; without
 * vif 0, a SKIP line after the store came up.
 */
#include "console.h"
#include "events.h"
#include "frontend.h"
#include "gnttab.h"
#include "guest.h"
#include "lib.h"
#include "net.h"
#include "netfront.h"

#define MS 1000000ull
#define SEC (1000 * MS)
#define PAGE 4096u
#define PING_TIMEOUT (3 * SEC)
#define PING_TRIES 3
#define MAX_ANSWER_S 600

static struct net_if ifc;
static uint32_t peer;
static char sbuf[128];

/* --- set-up ----------------------------------------------------------- */

static struct netfront *net_setup(const char *name)
{
	struct netfront *n;
	char a[16], b[16], c[16];
	int rc;

	rc = frontend_setup(name, "device/vif", netfront_probe);
	if (rc < 0)
		return NULL;
	n = netfront_get(0);
	if (!n) {
		printf("SKIP: %s: no vif 0 (%d vifs)\n", name, rc);
		return NULL;
	}
	net_if_init(&ifc, n, net_cmdline_ipv4("ip", 0x0a00020f),
		    net_cmdline_ipv4("mask", 0xffffff00),
		    net_cmdline_ipv4("gw", 0x0a000202));
	peer = net_cmdline_ipv4("peer", ifc.gw);
	printf("%s: vif 0's backend is %s (domain %u); ip %s gw %s peer %s\n",
	       name, n->xb.be_path, n->xb.backend_id, net_ipv4_str(ifc.ip, a),
	       net_ipv4_str(ifc.gw, b), net_ipv4_str(peer, c));
	return n;
}

static int net_connect(struct netfront *n, const char *name, const char *what)
{
	int rc = netfront_connect(n);

	check(rc == 0 && n->xb.connected &&
		  xbdev_fe_state(&n->xb) == XenbusStateConnected &&
		  netfront_backend_state(n) == XenbusStateConnected,
	      "%s: vif 0 %s (both ends Connected), port %u rc=%d", name, what,
	      n->xb.port, rc);
	/* The MAC may only now be known (read at InitWait). */
	memcpy(ifc.mac, n->mac, 6);
	return rc;
}

static void net_disconnected(struct netfront *n, const char *name, int rc)
{
	check(rc == 0 && !n->xb.have_ring &&
		  xbdev_fe_state(&n->xb) == XenbusStateClosed &&
		  netfront_backend_state(n) == XenbusStateClosed &&
		  n->grants_stuck == 0,
	      "%s: vif 0 disconnected: both ends Closed, every grant ended "
	      "(%u stuck) rc=%d",
	      name, n->grants_stuck, rc);
}

static int arp_peer(const char *name)
{
	uint8_t m[6];
	char a[16];
	int rc = net_arp_resolve(&ifc, peer, m, 5);

	return check(rc == 0,
		     "%s: ARP: %s is at %02x:%02x:%02x:%02x:%02x:%02x rc=%d",
		     name, net_ipv4_str(peer, a), m[0], m[1], m[2], m[3], m[4],
		     m[5], rc);
}

/* One echo request, retried: 0 or the last error. */
static int ping_once(uint16_t id, uint16_t seq, size_t len, unsigned int offset)
{
	unsigned int i;
	int rc = -XEN_ETIMEDOUT;

	for (i = 0; i < PING_TRIES; i++) {
		rc = net_ping(&ifc, peer, id, seq, len, offset, PING_TIMEOUT);
		if (rc != -XEN_ETIMEDOUT)
			break;
	}
	return rc;
}

static void ping_check(const char *name, uint16_t id, uint16_t seq, size_t len,
		       unsigned int offset)
{
	char a[16];
	int rc = ping_once(id, seq, len, offset);

	check(rc == 0,
	      "%s: ping %s id %u seq %u, %lu bytes%s: the reply matches rc=%d",
	      name, net_ipv4_str(peer, a), id, seq, (unsigned long)len,
	      offset ? " (two tx slots)" : "", rc);
}

/* --- test=net --------------------------------------------------------- */

static const unsigned int ping_sizes[] = {56, 0, 200, 1000, 1400};

static void net_pings(struct netfront *n, uint16_t id)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(ping_sizes); i++)
		ping_check("net", id, (uint16_t)(i + 1), ping_sizes[i], 0);
	if (n->feature_sg)
		/* 1000 bytes from 300 before the end of a page. */
		ping_check("net", id, 6, 1000, PAGE - 300);
	else
		printf("net: the backend offers no feature-sg: "
		       "no multi-slot frame\n");
}

static void net_answer(void)
{
	unsigned long secs = 0;
	char buf[16];
	unsigned int i;

	if (!guest_cmdline_get("net-answer", buf, sizeof(buf)))
		return;
	for (i = 0; buf[i] >= '0' && buf[i] <= '9' && secs < MAX_ANSWER_S; i++)
		secs = secs * 10 + (unsigned long)(buf[i] - '0');
	if (secs > MAX_ANSWER_S)
		secs = MAX_ANSWER_S;
	ifc.echo_answered = ifc.arp_answered = 0;
	printf("net: answering ARP and ping for %lu s\n", secs);
	net_serve(&ifc, secs * SEC);
	printf("net: answered %u ARP request(s) and %u echo request(s)\n",
	       ifc.arp_answered, ifc.echo_answered);
}

void scenario_net(void)
{
	struct netfront *n;
	int rc;

	n = net_setup("net");
	if (!n)
		return;
	if (net_connect(n, "net", "connected"))
		return;
	rc = netfront_backend_read(n, "mac", sbuf, sizeof(sbuf));
	printf("net: mac %02x:%02x:%02x:%02x:%02x:%02x (backend says %s), "
	       "mtu %u, rx-copy %d, sg %d\n",
	       n->mac[0], n->mac[1], n->mac[2], n->mac[3], n->mac[4], n->mac[5],
	       rc > 0 ? sbuf : "nothing", n->mtu, n->feature_rx_copy,
	       n->feature_sg);
	check((n->mac[0] | n->mac[1] | n->mac[2] | n->mac[3] | n->mac[4] |
	       n->mac[5]) != 0 &&
		  !(n->mac[0] & 1) && n->mtu >= 576,
	      "net: a unicast MAC and an MTU of %u", n->mtu);
	if (!arp_peer("net"))
		goto out;
	net_pings(n, 0x4e01);

	rc = netfront_disconnect(n);
	net_disconnected(n, "net", rc);
	memset(ifc.arp, 0, sizeof(ifc.arp));
	if (net_connect(n, "net", "connected again"))
		return;
	if (arp_peer("net"))
		ping_check("net", 0x4e02, 1, 1400, 0);
	net_answer();
	check(ifc.frames_bad == 0 && n->rx_bad == 0 && n->rx_errors == 0,
	      "net: %u frame(s) in, none malformed (%u bad, rx %u bad %u "
	      "errors)",
	      ifc.frames_in, ifc.frames_bad, n->rx_bad, n->rx_errors);
out:
	rc = netfront_disconnect(n);
	net_disconnected(n, "net", rc);
}

/* --- test=net-hostile ------------------------------------------------- */

#define WRONG_DOMID 7
#define LONG_CHAIN 24
#define OPEN_CHAIN 3

static uint8_t pg[PAGE] __attribute__((aligned(4096)));
static uint8_t pg_wrong[PAGE] __attribute__((aligned(4096)));
static uint8_t pg_revoked[PAGE] __attribute__((aligned(4096)));
static grant_ref_t ref_ok, ref_wrong, ref_revoked, ref_unused;
static uint16_t hid = 0x8000;
static unsigned int nr_hostile, nr_fatal;

static netif_tx_request_t txr(grant_ref_t gref, uint16_t offset, uint16_t size,
			      uint16_t flags)
{
	netif_tx_request_t r = {
	    .gref = gref,
	    .offset = offset,
	    .flags = flags,
	    .id = hid++,
	    .size = size,
	};
	return r;
}

static const char *state_error(struct netfront *n)
{
	if (netfront_backend_read(n, "error", sbuf, sizeof(sbuf)) <= 0)
		sbuf[0] = '\0';
	return sbuf;
}

/* Closes the vif (the backend must let go of every page) and connects. */
static int reconnect(struct netfront *n, const char *what)
{
	int rc = netfront_disconnect(n);

	check(rc == 0 && netfront_backend_state(n) == XenbusStateClosed &&
		  n->grants_stuck == 0,
	      "net-hostile: after %s the vif closes cleanly rc=%d", what, rc);
	return net_connect(n, "net-hostile", "connected again") == 0;
}

/*
 * After a request that may cost the connection: if the backend gave up
 * the vif, it must say why; then connect again.  1 if usable.
 */
static int recover(struct netfront *n, const char *what)
{
	int st = netfront_backend_state(n);

	if (st == XenbusStateConnected)
		return 1;
	check(st == XenbusStateClosing && state_error(n)[0],
	      "net-hostile: %s: the backend gave up the vif (state %d, "
	      "error '%s')",
	      what, st, sbuf);
	nr_fatal++;
	return reconnect(n, what);
}

/*
 * Sends nreq requests; every one must be answered with its id and an
 * error (NULL allowed past the first), or the backend must give up the
 * vif.  open: the backend may also wait for the rest of the chain.
 */
static void expect_error(struct netfront *n, const netif_tx_request_t *reqs,
			 unsigned int nreq, int open, const char *what)
{
	netif_tx_response_t rsp[LONG_CHAIN];
	unsigned int i, j, bad = 0, errors = 0;
	int got, st;

	nr_hostile++;
	got = netfront_tx_raw(n, reqs, nreq, rsp, ARRAY_SIZE(rsp), nreq,
			      open ? 2 * SEC : NETFRONT_TIMEOUT_NS);
	for (i = 0; got > 0 && i < (unsigned int)got && i < nreq; i++) {
		for (j = 0; j < nreq && reqs[j].id != rsp[i].id; j++)
			;
		if (j == nreq)
			bad++;
		if (rsp[i].status == NETIF_RSP_ERROR ||
		    rsp[i].status == NETIF_RSP_DROPPED)
			errors++;
		else if (rsp[i].status != NETIF_RSP_NULL)
			bad++;
	}
	st = netfront_backend_state(n);
	if (got == (int)nreq && !bad && errors) {
		check(1,
		      "net-hostile: %s: %u response(s), status %d, ids "
		      "echoed",
		      what, nreq, rsp[0].status);
	} else if (st == XenbusStateClosing) {
		check(1, "net-hostile: %s: the backend gave up the vif", what);
	} else if (open && got == 0) {
		/* Waiting for the rest is allowed; the close must end it. */
		check(1,
		      "net-hostile: %s: the backend waits for the rest of "
		      "the chain",
		      what);
		(void)reconnect(n, what);
		return;
	} else {
		check(0,
		      "net-hostile: %s: got %d of %u response(s), %u bad, "
		      "%u error(s), backend state %d",
		      what, got, nreq, bad, errors, st);
	}
	(void)recover(n, what);
}

static int hostile_grants(struct netfront *n)
{
	grant_ref_t end = gnttab_nr_frames * GNTTAB_PER_FRAME;
	long ok, wrong, rev;

	/* A broadcast ARP request: harmless if it ever goes out. */
	memset(pg, 0, PAGE);
	(void)net_build_arp_request(&ifc, peer, pg);
	memcpy(pg_wrong, pg, 60);
	memcpy(pg_revoked, pg, 60);
	ok = gnttab_grant_access(n->xb.backend_id, gnttab_gfn(pg), 1);
	wrong = gnttab_grant_access(WRONG_DOMID, gnttab_gfn(pg_wrong), 1);
	rev = gnttab_grant_access(n->xb.backend_id, gnttab_gfn(pg_revoked), 1);
	ref_unused = end - 1;
	ref_ok = (grant_ref_t)ok;
	ref_wrong = (grant_ref_t)wrong;
	ref_revoked = (grant_ref_t)rev;
	return check(ok > 0 && wrong > 0 && rev > 0 &&
			 gnttab_end_access(ref_revoked) == 0 &&
			 gnttab_entry(ref_unused)->flags == GTF_invalid,
		     "net-hostile: test pages granted (%ld %ld %ld, the last "
		     "revoked), gref %u unused",
		     ok, wrong, rev, ref_unused);
}

static void hostile_single(struct netfront *n)
{
	netif_tx_request_t r;

	r = txr(ref_ok, 4000, 200, 0);
	expect_error(n, &r, 1, 0, "offset 4000 + size 200 past the page");
	r = txr(ref_ok, 0, 4097, 0);
	expect_error(n, &r, 1, 0, "size 4097 in one slot");
	r = txr(ref_ok, 4095, 60, 0);
	expect_error(n, &r, 1, 0, "offset 4095, size 60");
	r = txr(ref_ok, 0, 10, 0);
	expect_error(n, &r, 1, 0, "a 10-byte frame (shorter than Ethernet)");
	r = txr(ref_ok, 0, 0, 0);
	expect_error(n, &r, 1, 0, "an empty frame");
	r = txr(ref_unused, 0, 60, 0);
	expect_error(n, &r, 1, 0, "an unused gref");
	r = txr(0, 0, 60, 0);
	expect_error(n, &r, 1, 0, "reserved gref 0");
	r = txr(gnttab_nr_frames * GNTTAB_PER_FRAME + 5, 0, 60, 0);
	expect_error(n, &r, 1, 0, "a gref past the table");
	r = txr(0xffffffffu, 0, 60, 0);
	expect_error(n, &r, 1, 0, "gref 0xffffffff");
	r = txr(ref_wrong, 0, 60, 0);
	expect_error(n, &r, 1, 0, "a page granted to domain 7");
	r = txr(ref_revoked, 0, 60, 0);
	expect_error(n, &r, 1, 0, "a page granted, then revoked");
}

static void hostile_chains(struct netfront *n)
{
	netif_tx_request_t r[LONG_CHAIN];
	unsigned int i;

	/* The first slot says 60 bytes; the chain holds 60 + 100. */
	r[0] = txr(ref_ok, 0, 60, NETTXF_more_data);
	r[1] = txr(ref_ok, 0, 100, 0);
	expect_error(n, r, 2, 0, "a chain longer than its first slot says");
	/* 1000 bytes in all, 100 in the second slot: 900 from 4000. */
	r[0] = txr(ref_ok, 4000, 1000, NETTXF_more_data);
	r[1] = txr(ref_ok, 0, 100, 0);
	expect_error(n, r, 2, 0, "a chain whose first slot runs past its page");
	/* A second slot with a bad gref. */
	r[0] = txr(ref_ok, 0, 120, NETTXF_more_data);
	r[1] = txr(ref_unused, 0, 60, 0);
	expect_error(n, r, 2, 0, "a chain whose second slot is ungranted");
	/* More slots than netif.h's XEN_NETIF_NR_SLOTS_MIN. */
	for (i = 0; i < LONG_CHAIN; i++)
		r[i] = txr(ref_ok, 0, i ? 60 : 60 * LONG_CHAIN,
			   i + 1 < LONG_CHAIN ? NETTXF_more_data : 0);
	expect_error(n, r, LONG_CHAIN, 0, "a chain of 24 slots");
	/* Every slot says more follows; nothing does. */
	for (i = 0; i < OPEN_CHAIN; i++)
		r[i] = txr(ref_ok, 0, i ? 60 : 60 * (OPEN_CHAIN + 1),
			   NETTXF_more_data);
	expect_error(n, r, OPEN_CHAIN, 1, "a chain that never ends");
}

/* Ids are ours to choose: any is echoed, even twice. */
static void hostile_ids(struct netfront *n)
{
	static const uint16_t ids[] = {0xffff, 0xffff, 0};
	netif_tx_response_t rsp[3];
	netif_tx_request_t r[3];
	unsigned int i, echoed = 0;
	int got;

	for (i = 0; i < 3; i++) {
		r[i] = txr(ref_ok, 0, 60, 0);
		r[i].id = ids[i];
	}
	got = netfront_tx_raw(n, r, 3, rsp, 3, 3, NETFRONT_TIMEOUT_NS);
	for (i = 0; got == 3 && i < 3; i++)
		echoed +=
		    rsp[i].id == ids[i] && rsp[i].status == NETIF_RSP_OKAY;
	check(got == 3 && echoed == 3,
	      "net-hostile: ids 0xffff, 0xffff again and 0: each answered "
	      "OKAY with its id (%d response(s), %u echoed)",
	      got, echoed);
	(void)recover(n, "extreme ids");
}

static void hostile_still_pings(const char *after)
{
	char a[16];
	int rc;

	memset(ifc.arp, 0, sizeof(ifc.arp));
	rc = ping_once(0x4e10, (uint16_t)nr_hostile, 300, 0);
	check(rc == 0, "net-hostile: after %s a ping of %s works rc=%d", after,
	      net_ipv4_str(peer, a), rc);
}

static void hostile_corrupt_ring(struct netfront *n)
{
	int st, rc;

	/* A producer 1000 requests ahead of a 256-slot ring. */
	__atomic_store_n(&n->tx_sring->req_prod, n->tx.req_prod_pvt + 1000,
			 __ATOMIC_RELEASE);
	(void)ev_send(n->xb.port);
	st = netfront_wait_backend(
	    n, 1u << XenbusStateClosing | 1u << XenbusStateClosed,
	    NETFRONT_TIMEOUT_NS);
	check(st == XenbusStateClosing && state_error(n)[0],
	      "net-hostile: a corrupt tx req_prod: the backend gives up the "
	      "vif (state %d, error '%s')",
	      st, sbuf);
	rc = netfront_disconnect(n);
	check(rc == 0 && netfront_backend_state(n) == XenbusStateClosed &&
		  n->grants_stuck == 0,
	      "net-hostile: the guest runs on and closes the vif rc=%d", rc);
}

void scenario_net_hostile(void)
{
	struct netfront *n;
	int rc;

	n = net_setup("net-hostile");
	if (!n)
		return;
	if (net_connect(n, "net-hostile", "connected"))
		return;
	if (!arp_peer("net-hostile") || !hostile_grants(n))
		goto out;
	ping_check("net-hostile", 0x4e0f, 1, 100, 0);

	hostile_single(n);
	hostile_still_pings("the bad single-slot requests");
	hostile_chains(n);
	hostile_ids(n);
	check(netfront_backend_state(n) == XenbusStateConnected,
	      "net-hostile: after %u bad requests (%u cost the connection) "
	      "the vif is Connected",
	      nr_hostile, nr_fatal);
	hostile_still_pings("the bad chains");

	hostile_corrupt_ring(n);
	if (net_connect(n, "net-hostile", "connected after the corrupt ring"))
		goto grants;
	hostile_still_pings("the corrupt ring");
out:
	rc = netfront_disconnect(n);
	net_disconnected(n, "net-hostile", rc);
grants:
	check(gnttab_end_access(ref_ok) == 0 &&
		  gnttab_end_access(ref_wrong) == 0,
	      "net-hostile: every grant of the test can be ended");
}
