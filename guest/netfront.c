/*
 * Network frontend (netfront.h).
 *
 * Connecting follows xen/io/xenbus.h and xen/io/netif.h as Linux's
 * frontend does: with the backend in InitWait we set up a tx and an rx
 * ring (one page each, granted writable), grant every rx buffer page
 * writable and post it on the rx ring, allocate one event channel
 * unbound to the backend's domain, and publish the ring refs, the port,
 * request-rx-copy, feature-rx-notify and feature-no-csum-offload (we
 * compute our own checksums) with state Connected in one transaction.
 * The backend maps both rings, binds its end and says Connected.  The
 * xenbus side (discovery, states, the event channel, the Closing/Closed
 * handshake) is xbdev.c's; only once the backend says Closed after a
 * disconnect are the grants ended and the port closed.
 *
 * rx buffers stay granted for the whole connection; request id i names
 * buffer i.  Buffers are posted in order and the backend answers in
 * order, so a response slot that carries no id (an extra-info slot)
 * names the buffer of its ring index, as Linux's frontend assumes.
 *
 * A send copies the frame into the device's tx pages, grants the pages
 * it covers read-only, puts one request per page (the first carries the
 * frame's whole size, the others their own, all but the last flagged
 * NETTXF_more_data) and waits for every slot's response before ending
 * the grants.  Responses come one per request, whatever their order; a
 * response with an id we did not hand out is counted and dropped.
 *
 * The backend's response indexes are read once per pass and must not
 * claim more responses than requests outstanding, else the device is
 * broken.  Waits sleep in SCHEDOP_poll on our port (xbdev_poll()).
 */
#include "netfront.h"
#include "console.h"
#include "events.h"
#include "gnttab.h"
#include "xbdev.h"
#include "xenbus.h"

#define PAGE 4096ul
#define TX_TRIES 5
#define DEFAULT_MTU 1500

_Static_assert((NETFRONT_RX_BUFS & (NETFRONT_RX_BUFS - 1)) == 0 &&
		   NETFRONT_RX_BUFS <= __CONST_RING_SIZE(netif_rx, 4096),
	       "rx buffers: a power of two that fits the ring");
_Static_assert(NETFRONT_TX_PAGES <= __CONST_RING_SIZE(netif_tx, 4096),
	       "a frame's slots fit the tx ring");
_Static_assert(sizeof(netif_extra_info_t) == sizeof(netif_rx_response_t),
	       "an extra-info slot is a response slot");

static struct netfront devs[NETFRONT_MAX_DEVS];

static uint8_t tx_ring_pages[NETFRONT_MAX_DEVS][PAGE]
    __attribute__((aligned(4096)));
static uint8_t rx_ring_pages[NETFRONT_MAX_DEVS][PAGE]
    __attribute__((aligned(4096)));
static uint8_t rx_bufs[NETFRONT_MAX_DEVS][NETFRONT_RX_BUFS][PAGE]
    __attribute__((aligned(4096)));
static uint8_t tx_bufs[NETFRONT_MAX_DEVS][NETFRONT_TX_PAGES][PAGE]
    __attribute__((aligned(4096)));

static char vif_list[512];
static char value[128];

/* --- XenStore and discovery ------------------------------------------- */

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* "xx:xx:xx:xx:xx:xx": 0 or -XEN_EINVAL. */
static int parse_mac(const char *s, uint8_t mac[6])
{
	unsigned int i;
	int hi, lo;

	for (i = 0; i < 6; i++, s += 3) {
		hi = hex_digit(s[0]);
		lo = hi < 0 ? -1 : hex_digit(s[1]);
		if (lo < 0 || s[2] != (i == 5 ? '\0' : ':'))
			return -XEN_EINVAL;
		mac[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

static struct xbdev *vif_entry(unsigned int i)
{
	return &devs[i].xb;
}

static struct xbdev_table vifs = {
    .driver = "netfront",
    .type = "vif",
    .list = vif_list,
    .list_size = sizeof(vif_list),
    .max = NETFRONT_MAX_DEVS,
    .entry = vif_entry,
};

int netfront_backend_read(struct netfront *n, const char *key, char *buf,
			  size_t size)
{
	return xbdev_be_read(&n->xb, key, buf, size);
}

int netfront_backend_state(struct netfront *n)
{
	return xbdev_backend_state(&n->xb);
}

int netfront_wait_backend(struct netfront *n, unsigned int mask,
			  uint64_t timeout_ns)
{
	return xbdev_wait_backend(&n->xb, mask, timeout_ns);
}

int netfront_probe(void)
{
	return xbdev_probe(&vifs);
}

struct netfront *netfront_get(unsigned int devid)
{
	struct xbdev *x = xbdev_find(&vifs, devid);

	return x ? &devs[x->slot] : NULL;
}

/* --- waiting ---------------------------------------------------------- */

/*
 * What xbdev_poll() waits for.  The caller has set rsp_event
 * (RING_FINAL_CHECK_FOR_RESPONSES) so that the backend notifies; naps
 * are bounded anyway.
 */
static int tx_ready(void *arg)
{
	struct netfront *n = arg;

	return __atomic_load_n(&n->tx_sring->rsp_prod, __ATOMIC_ACQUIRE) !=
	       n->tx.rsp_cons;
}

static int rx_ready(void *arg)
{
	struct netfront *n = arg;

	return __atomic_load_n(&n->rx_sring->rsp_prod, __ATOMIC_ACQUIRE) !=
	       n->rx.rsp_cons;
}

/* A response index the backend can have meant, else the device breaks. */
static int rsp_checked(struct netfront *n, RING_IDX rp, RING_IDX cons,
		       RING_IDX prod, const char *ring, RING_IDX *out)
{
	if (rp - cons > prod - cons) {
		printf("netfront: %u: %s response index %u, %u outstanding: "
		       "the backend is broken\n",
		       n->xb.devid, ring, rp, prod - cons);
		n->xb.broken = 1;
		return -XEN_EIO;
	}
	*out = rp;
	return 0;
}

static void notify(struct netfront *n, int needed)
{
	if (needed)
		(void)ev_send(n->xb.port);
}

/* --- tx --------------------------------------------------------------- */

static int usable(struct netfront *n)
{
	if (!n->xb.connected)
		return -XEN_ENOTCONN;
	if (n->xb.broken)
		return -XEN_EIO;
	return 0;
}

/*
 * Takes tx responses until rsp_cons reaches upto or the deadline;
 * responses go to take(), which returns nothing.  0, -XEN_ETIMEDOUT or
 * -XEN_EIO.
 */
static int tx_collect(struct netfront *n, RING_IDX upto, uint64_t end,
		      void (*take)(struct netfront *,
				   const netif_tx_response_t *, void *),
		      void *arg)
{
	netif_tx_response_t r;
	RING_IDX rp;
	int more, rc;

	while (n->tx.rsp_cons != upto) {
		rc = rsp_checked(
		    n,
		    __atomic_load_n(&n->tx_sring->rsp_prod, __ATOMIC_ACQUIRE),
		    n->tx.rsp_cons, n->tx.req_prod_pvt, "tx", &rp);
		if (rc)
			return rc;
		while (n->tx.rsp_cons != rp) {
			/* One copy: the backend may rewrite the slot. */
			memcpy(&r, RING_GET_RESPONSE(&n->tx, n->tx.rsp_cons),
			       sizeof(r));
			n->tx.rsp_cons++;
			take(n, &r, arg);
		}
		if (n->tx.rsp_cons == upto)
			break;
		RING_FINAL_CHECK_FOR_RESPONSES(&n->tx, more);
		if (!more && !xbdev_poll(&n->xb, tx_ready, n, end))
			return -XEN_ETIMEDOUT;
	}
	return 0;
}

struct tx_batch {
	uint16_t first_id;
	unsigned int nslots, answered;
};

static void tx_take(struct netfront *n, const netif_tx_response_t *r, void *arg)
{
	struct tx_batch *b = arg;

	if ((uint16_t)(r->id - b->first_id) >= b->nslots) {
		printf("netfront: %u: tx response with unknown id %u\n",
		       n->xb.devid, r->id);
		return;
	}
	b->answered++;
	if (r->status != NETIF_RSP_OKAY && r->status != NETIF_RSP_NULL &&
	    n->last_tx_status == NETIF_RSP_OKAY)
		n->last_tx_status = r->status;
}

int netfront_send_at(struct netfront *n, const void *frame, size_t len,
		     unsigned int offset)
{
	uint8_t *pages = tx_bufs[n->xb.slot][0];
	grant_ref_t refs[NETFRONT_TX_PAGES];
	struct tx_batch b;
	netif_tx_request_t *req;
	unsigned int i, nslots;
	size_t left, chunk;
	long ref;
	int rc;

	rc = usable(n);
	if (rc)
		return rc;
	if (!len || len > XEN_NETIF_MAX_TX_SIZE || offset >= PAGE)
		return -XEN_EINVAL;
	nslots = (unsigned int)((offset + len + PAGE - 1) / PAGE);
	if (nslots > NETFRONT_TX_PAGES)
		return -XEN_EINVAL;
	/* Sends are synchronous: the ring is empty but for stray raw ones. */
	if (RING_FREE_REQUESTS(&n->tx) < nslots)
		return -XEN_EBUSY;
	memcpy(pages + offset, frame, len);
	for (i = 0; i < nslots; i++) {
		ref = gnttab_grant_access(n->xb.backend_id,
					  gnttab_gfn(pages + i * PAGE), 1);
		if (ref < 0) {
			while (i--)
				(void)gnttab_end_access(refs[i]);
			return -XEN_ENOSPC;
		}
		refs[i] = (grant_ref_t)ref;
	}
	b.first_id = n->tx_next_id;
	b.nslots = nslots;
	b.answered = 0;
	left = len;
	for (i = 0; i < nslots; i++) {
		chunk = PAGE - (i ? 0 : offset);
		if (chunk > left)
			chunk = left;
		req = RING_GET_REQUEST(&n->tx, n->tx.req_prod_pvt);
		req->gref = refs[i];
		req->offset = (uint16_t)(i ? 0 : offset);
		req->flags = i + 1 < nslots ? NETTXF_more_data : 0;
		req->id = n->tx_next_id++;
		req->size = (uint16_t)(i ? chunk : len);
		n->tx.req_prod_pvt++;
		left -= chunk;
	}
	n->last_tx_status = NETIF_RSP_OKAY;
	RING_PUSH_REQUESTS_AND_CHECK_NOTIFY(&n->tx, rc);
	notify(n, rc);
	rc = tx_collect(n, n->tx.req_prod_pvt,
			events_time_ns() + NETFRONT_TIMEOUT_NS, tx_take, &b);
	if (rc) {
		/* The backend may still hold the pages: the grants stay. */
		printf("netfront: %u: no answer to a send (%d)\n", n->xb.devid,
		       rc);
		n->xb.broken = 1;
		return rc;
	}
	for (i = 0; i < nslots; i++)
		if (gnttab_end_access(refs[i]))
			n->grants_stuck++;
	n->tx_frames++;
	if (n->last_tx_status == NETIF_RSP_DROPPED) {
		n->tx_dropped++;
		return -XEN_ENOBUFS;
	}
	if (n->last_tx_status != NETIF_RSP_OKAY) {
		n->tx_errors++;
		return -XEN_EIO;
	}
	return b.answered == nslots ? 0 : -XEN_EIO;
}

struct raw_batch {
	netif_tx_response_t *rsp;
	unsigned int max, got;
};

static void raw_take(struct netfront *n, const netif_tx_response_t *r,
		     void *arg)
{
	struct raw_batch *b = arg;

	(void)n;
	if (b->got < b->max)
		b->rsp[b->got] = *r;
	b->got++;
}

int netfront_tx_raw(struct netfront *n, const netif_tx_request_t *reqs,
		    unsigned int nreq, netif_tx_response_t *rsp,
		    unsigned int max, unsigned int want, uint64_t timeout_ns)
{
	struct raw_batch b = {.rsp = rsp, .max = max, .got = 0};
	RING_IDX upto;
	unsigned int i;
	int rc;

	if (!n->xb.have_ring)
		return -XEN_ENOTCONN;
	if (n->xb.broken)
		return -XEN_EIO;
	if (RING_FREE_REQUESTS(&n->tx) < nreq)
		return -XEN_EBUSY;
	for (i = 0; i < nreq; i++) {
		*RING_GET_REQUEST(&n->tx, n->tx.req_prod_pvt) = reqs[i];
		n->tx.req_prod_pvt++;
	}
	RING_PUSH_REQUESTS_AND_CHECK_NOTIFY(&n->tx, rc);
	notify(n, rc);
	/* Never wait past what is outstanding. */
	upto = n->tx.rsp_cons + want;
	if (upto - n->tx.rsp_cons > n->tx.req_prod_pvt - n->tx.rsp_cons)
		upto = n->tx.req_prod_pvt;
	rc = tx_collect(n, upto, events_time_ns() + timeout_ns, raw_take, &b);
	if (rc == -XEN_EIO)
		return rc;
	return (int)b.got;
}

/* --- rx --------------------------------------------------------------- */

static void rx_post(struct netfront *n, unsigned int id)
{
	netif_rx_request_t *req = RING_GET_REQUEST(&n->rx, n->rx.req_prod_pvt);

	req->id = (uint16_t)id;
	req->pad = 0;
	req->gref = n->rx_refs[id];
	n->rx.req_prod_pvt++;
	n->rx_posted[id] = 1;
}

static void rx_push(struct netfront *n)
{
	int needed;

	RING_PUSH_REQUESTS_AND_CHECK_NOTIFY(&n->rx, needed);
	notify(n, needed);
}

/*
 * The buffer of a response: its id, or for an extra-info slot (which
 * carries none) that of its ring index.  -1 if it is not one of ours on
 * the ring.
 */
static int rx_buffer(struct netfront *n, const netif_rx_response_t *r,
		     RING_IDX idx, int extra)
{
	unsigned int id = extra ? idx & (NETFRONT_RX_BUFS - 1) : r->id;

	if (id >= NETFRONT_RX_BUFS || !n->rx_posted[id])
		return -1;
	n->rx_posted[id] = 0;
	return (int)id;
}

int netfront_recv(struct netfront *n, void *buf, size_t size,
		  uint64_t timeout_ns)
{
	uint64_t end = events_time_ns() + timeout_ns;
	netif_rx_response_t r;
	netif_extra_info_t x;
	int id, more, rc, len, skip = 0, extra = 0;
	RING_IDX rp, idx;

	rc = usable(n);
	if (rc)
		return rc;
	for (;;) {
		rc = rsp_checked(
		    n,
		    __atomic_load_n(&n->rx_sring->rsp_prod, __ATOMIC_ACQUIRE),
		    n->rx.rsp_cons, n->rx.req_prod_pvt, "rx", &rp);
		if (rc)
			return rc;
		while (n->rx.rsp_cons != rp) {
			idx = n->rx.rsp_cons;
			memcpy(&r, RING_GET_RESPONSE(&n->rx, idx), sizeof(r));
			n->rx.rsp_cons++;
			id = rx_buffer(n, &r, idx, extra);
			if (extra) {
				/* netif_extra_info: its MORE flag chains. */
				memcpy(&x, &r, sizeof(x));
				extra =
				    (x.flags & XEN_NETIF_EXTRA_FLAG_MORE) != 0;
				len = -1;
			} else if (skip || r.status <= 0 ||
				   (r.flags &
				    (NETRXF_more_data | NETRXF_extra_info)) ||
				   id < 0 || (size_t)r.status > size ||
				   r.offset + (unsigned int)r.status > PAGE) {
				/* Not a frame we take: skip all its slots. */
				if (r.status < 0)
					n->rx_errors++;
				else if (!skip)
					n->rx_bad++;
				skip = (r.flags & NETRXF_more_data) != 0;
				extra = (r.flags & NETRXF_extra_info) != 0;
				len = -1;
			} else {
				memcpy(buf, rx_bufs[n->xb.slot][id] + r.offset,
				       (size_t)r.status);
				len = r.status;
			}
			if (id >= 0)
				rx_post(n, (unsigned int)id);
			if (len >= 0 || (!skip && !extra)) {
				rx_push(n);
				if (len >= 0) {
					n->rx_frames++;
					return len;
				}
			}
		}
		rx_push(n);
		RING_FINAL_CHECK_FOR_RESPONSES(&n->rx, more);
		if (more)
			continue;
		if (!xbdev_poll(&n->xb, rx_ready, n, end))
			return -XEN_ETIMEDOUT;
	}
}

/* --- connect and disconnect ------------------------------------------- */

/* Ends every grant and closes the port; the backend has let go. */
static void ring_release(struct netfront *n)
{
	unsigned int i;

	for (i = 0; i < NETFRONT_RX_BUFS; i++) {
		if (n->rx_refs[i] && gnttab_end_access(n->rx_refs[i]))
			n->grants_stuck++;
		n->rx_refs[i] = 0;
		n->rx_posted[i] = 0;
	}
	if (n->tx_ring_ref && gnttab_end_access(n->tx_ring_ref))
		n->grants_stuck++;
	if (n->rx_ring_ref && gnttab_end_access(n->rx_ring_ref))
		n->grants_stuck++;
	n->tx_ring_ref = n->rx_ring_ref = 0;
	xbdev_port_close(&n->xb);
	n->xb.have_ring = 0;
}

static long grant_rw(struct netfront *n, const void *page, grant_ref_t *out)
{
	long ref = gnttab_grant_access(n->xb.backend_id, gnttab_gfn(page), 0);

	if (ref < 0)
		return -XEN_ENOSPC;
	*out = (grant_ref_t)ref;
	return 0;
}

/* Both rings, the rx buffers posted, a port for the backend. */
static int ring_setup(struct netfront *n)
{
	unsigned int i;
	long rc;

	n->tx_sring = (struct netif_tx_sring *)tx_ring_pages[n->xb.slot];
	n->rx_sring = (struct netif_rx_sring *)rx_ring_pages[n->xb.slot];
	memset(n->tx_sring, 0, PAGE);
	memset(n->rx_sring, 0, PAGE);
	SHARED_RING_INIT(n->tx_sring);
	SHARED_RING_INIT(n->rx_sring);
	FRONT_RING_INIT(&n->tx, n->tx_sring, PAGE);
	FRONT_RING_INIT(&n->rx, n->rx_sring, PAGE);
	n->xb.have_ring = 1;
	rc = grant_rw(n, n->tx_sring, &n->tx_ring_ref);
	if (rc == 0)
		rc = grant_rw(n, n->rx_sring, &n->rx_ring_ref);
	for (i = 0; rc == 0 && i < NETFRONT_RX_BUFS; i++)
		rc = grant_rw(n, rx_bufs[n->xb.slot][i], &n->rx_refs[i]);
	if (rc)
		goto fail;
	for (i = 0; i < NETFRONT_RX_BUFS; i++)
		rx_post(n, i);
	/* The backend reads req_prod when it connects. */
	RING_PUSH_REQUESTS(&n->rx);
	rc = xbdev_port_alloc(&n->xb);
	if (rc)
		goto fail;
	return 0;
fail:
	ring_release(n);
	return (int)rc;
}

/* The keys netif.h asks of a single-queue frontend, and Connected. */
static int publish(struct netfront *n)
{
	struct xbdev *x = &n->xb;
	xenbus_tx_t t;
	unsigned int tries;
	int rc;

	for (tries = 0; tries < TX_TRIES; tries++) {
		rc = xenbus_transaction_start(&t);
		if (rc)
			return rc;
		rc = xbdev_fe_put(x, t, "tx-ring-ref", n->tx_ring_ref);
		if (rc == 0)
			rc = xbdev_fe_put(x, t, "rx-ring-ref", n->rx_ring_ref);
		if (rc == 0)
			rc = xbdev_fe_put(x, t, "event-channel", x->port);
		if (rc == 0)
			rc = xbdev_fe_put(x, t, "request-rx-copy", 1);
		if (rc == 0)
			rc = xbdev_fe_put(x, t, "feature-rx-notify", 1);
		if (rc == 0)
			rc = xbdev_fe_put(x, t, "feature-no-csum-offload", 1);
		if (rc == 0)
			rc = xbdev_fe_put(x, t, "feature-sg", 0);
		if (rc == 0)
			rc = xbdev_fe_put(x, t, "state", XenbusStateConnected);
		if (rc) {
			(void)xenbus_transaction_end(t, 0);
			return rc;
		}
		rc = xenbus_transaction_end(t, 1);
		if (rc != -XEN_EAGAIN)
			return rc;
	}
	return -XEN_EAGAIN;
}

/* The interface as the toolstack and the backend describe it. */
static void read_config(struct netfront *n)
{
	memset(n->mac, 0, sizeof(n->mac));
	if (xbdev_fe_read(&n->xb, "mac", value, sizeof(value)) < 0 ||
	    parse_mac(value, n->mac))
		if (netfront_backend_read(n, "mac", value, sizeof(value)) >= 0)
			(void)parse_mac(value, n->mac);
	n->mtu = (unsigned int)xbdev_be_u64(&n->xb, "mtu", DEFAULT_MTU);
	n->feature_rx_copy = xbdev_be_u64(&n->xb, "feature-rx-copy", 0) != 0;
	n->feature_sg = xbdev_be_u64(&n->xb, "feature-sg", 0) != 0;
}

int netfront_connect(struct netfront *n)
{
	int rc;

	if (n->xb.connected)
		return 0;
	if (n->xb.have_ring)
		return -XEN_EBUSY; /* disconnect first */
	rc = xbdev_await_initwait(&n->xb, NETFRONT_TIMEOUT_NS);
	if (rc)
		return rc;
	read_config(n);
	if (!n->feature_rx_copy) {
		printf("netfront: %u: the backend has no feature-rx-copy\n",
		       n->xb.devid);
		return -XEN_EOPNOTSUPP;
	}
	n->xb.broken = 0;
	n->tx_next_id = 0;
	rc = ring_setup(n);
	if (rc)
		return rc;
	rc = publish(n);
	if (rc)
		return rc;
	rc = xbdev_await_connected(&n->xb, NETFRONT_TIMEOUT_NS);
	if (rc)
		return rc;
	n->xb.connected = 1;
	/* Whatever the backend saw of the rx ring before it bound. */
	(void)ev_send(n->xb.port);
	return 0;
}

int netfront_disconnect(struct netfront *n)
{
	int rc = xbdev_close(&n->xb, NETFRONT_TIMEOUT_NS);

	if (rc)
		return rc;
	/* The backend has let go of every page: ours again. */
	if (n->xb.have_ring)
		ring_release(n);
	n->xb.broken = 0;
	return 0;
}
