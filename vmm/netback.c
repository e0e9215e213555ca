/* SPDX-License-Identifier: MIT */
/*
 * The network backend engine (netback.h).
 *
 * Rings.  The tx and rx rings are one page each, granted by the frontend
 * and mapped writable while connected (we write responses there).  Every
 * request is copied out of its slot exactly once, and only the copy is
 * looked at: the frontend may rewrite a slot at any time.  req_prod is
 * read once per look and must lie within one ring of our rsp_prod_pvt and
 * not behind req_cons; otherwise the frontend broke the protocol, the vif
 * stops (env->event(NETBACK_EV_BROKEN): the glue fails this device alone).
 *
 * TX.  A packet is a first request (its size is the whole packet's
 * length), then extra-info slots if it says NETTXF_extra_info (each with
 * XEN_NETIF_EXTRA_FLAG_MORE if another follows, at most one of each type),
 * then more requests while the previous one says NETTXF_more_data.  A
 * packet is read (copied) whole before any of it is consumed: if its last
 * slot is not produced yet we wait for the frontend's next push.  A chain
 * longer than NETBACK_MAX_TX_SLOTS is answered ERROR slot by slot, up to
 * and including the first slot without more_data, whenever that comes
 * (tx_skip), so that the frontend gets every slot back and the ring goes
 * on.  A complete packet is checked (length >= ETH_HLEN, the slots'
 * sizes add up, each slot's offset + length within its page, extras of
 * known types; GSO is refused, as we never offer it), gathered with grant
 * copies (read access), completed (csum_blank) and handed to the host.
 * Each data slot gets one response with its id (OKAY or ERROR), each
 * extra slot a NULL one, as Linux's netback answers.
 *
 * RX.  A frame from the host takes ceil(len / 4096) posted buffers
 * (netif_rx_request: id, gref), written at offset 0 with grant copies
 * (write access); the responses carry each buffer's length, more_data on
 * all but the last, and data_validated on the first when we checked the
 * TCP/UDP checksum.  A buffer that cannot be written makes the whole
 * packet's responses NETIF_RSP_ERROR (the chain is kept, so the frontend
 * stays in step).  Without enough buffers the frame waits in a queue of
 * NETBACK_RX_QUEUE frames (req_event asks the frontend to kick us when it
 * posts enough); past that frames are dropped, as a NIC drops what does
 * not fit its ring.
 *
 * Re-entrancy.  Handing a tx frame to slirp may produce a frame for the
 * guest at once (an ARP reply); netback_rx() called during a pass only
 * queues it, and the pass delivers it at its end.
 */
#include "netback.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

/* ring.h leaves the barriers to its user. */
#define xen_mb() __atomic_thread_fence(__ATOMIC_SEQ_CST)
#define xen_rmb() __atomic_thread_fence(__ATOMIC_ACQUIRE)
#define xen_wmb() __atomic_thread_fence(__ATOMIC_RELEASE)

#include <xen/io/netif.h>

#define NETBACK_PAGE 4096u
#define NETBACK_ETH_HLEN 14u
#define NETBACK_MAX_FRAME XEN_NETIF_MAX_TX_SIZE
#define NETBACK_MAX_EXTRAS (XEN_NETIF_EXTRA_TYPE_MAX - 1)

_Static_assert(sizeof(struct netif_extra_info) <= sizeof(netif_tx_request_t),
	       "an extra fits a tx slot");

struct netback_frame {
	size_t len;
	uint8_t data[];
};

struct netback {
	struct netback_env env;
	char name[64];
	struct log_ratelimit rl;

	bool connected;
	bool serving; /* not broken, not disconnecting */
	bool broken;
	bool busy; /* in a pass: netback_rx only queues */
	struct netback_frontend fe;
	struct gnttab_mapping tx_map, rx_map;
	netif_tx_back_ring_t tx;
	netif_rx_back_ring_t rx;
	bool tx_unpushed, rx_unpushed;
	bool tx_skip; /* answering the rest of an over-long chain */

	uint8_t *buf; /* a tx packet being gathered */

	struct netback_frame *q[NETBACK_RX_QUEUE];
	unsigned int q_head, q_len;

	struct netback_stats st;
};

#define NETBACK_BAD(nb, ...) log_warnx_rl(&(nb)->rl, __VA_ARGS__)

/* --- rings ---------------------------------------------------------------- */

static void netback_broken(struct netback *nb, const char *ring, RING_IDX prod,
			   RING_IDX cons)
{
	NETBACK_BAD(nb,
		    "netback: %s: %s ring indexes corrupt (req_prod %u, "
		    "req_cons %u): not serving it any more",
		    nb->name, ring, prod, cons);
	nb->broken = true;
	nb->serving = false;
	if (nb->env.event)
		nb->env.event(nb->env.ctx, NETBACK_EV_BROKEN);
}

/* req_prod, or false (ring broken) when it is not within one ring. */
#define NETBACK_PROD_OK(r, prod)                                               \
	(!RING_REQUEST_PROD_OVERFLOW((r), (prod)) &&                           \
	 (prod) - (r)->req_cons <= (prod) - (r)->rsp_prod_pvt)

static void netback_push(struct netback *nb)
{
	int ntx = 0, nrx = 0;

	if (!nb->connected)
		return;
	if (nb->tx_unpushed)
		RING_PUSH_RESPONSES_AND_CHECK_NOTIFY(&nb->tx, ntx);
	if (nb->rx_unpushed)
		RING_PUSH_RESPONSES_AND_CHECK_NOTIFY(&nb->rx, nrx);
	nb->tx_unpushed = false;
	nb->rx_unpushed = false;
	if ((ntx || nrx) && nb->env.notify) {
		nb->st.notifications++;
		nb->env.notify(nb->env.ctx, ntx != 0, nrx != 0);
	}
}

/* --- tx ------------------------------------------------------------------- */

struct netback_txp {
	netif_tx_request_t slots[NETBACK_MAX_TX_SLOTS];
	struct netif_extra_info extras[NETBACK_MAX_EXTRAS];
	unsigned int nr_slots, nr_extras;
	RING_IDX end; /* the index after its last slot */
};

static void netback_tx_slot(struct netback *nb, RING_IDX i, void *out)
{
	memcpy(out, RING_GET_REQUEST(&nb->tx, i), sizeof(netif_tx_request_t));
}

static void netback_tx_respond(struct netback *nb, uint16_t id, int16_t st)
{
	netif_tx_response_t *rsp =
	    RING_GET_RESPONSE(&nb->tx, nb->tx.rsp_prod_pvt);

	rsp->id = id;
	rsp->status = st;
	nb->tx.rsp_prod_pvt++;
	nb->tx_unpushed = true;
}

/* Answers every slot of p: the first, NULLs for the extras, the rest. */
static void netback_tx_answer(struct netback *nb, const struct netback_txp *p,
			      int16_t st)
{
	unsigned int i;

	netback_tx_respond(nb, p->slots[0].id, st);
	for (i = 0; i < p->nr_extras; i++)
		netback_tx_respond(nb, 0, NETIF_RSP_NULL);
	for (i = 1; i < p->nr_slots; i++)
		netback_tx_respond(nb, p->slots[i].id, st);
}

/*
 * Copies the packet at req_cons into p, consuming nothing.  1: complete,
 * 0: not all produced yet, -E2BIG: too many slots or extras (p holds
 * those read, up to p->end).
 */
static int netback_tx_read(struct netback *nb, RING_IDX prod,
			   struct netback_txp *p)
{
	RING_IDX i = nb->tx.req_cons;
	union {
		netif_tx_request_t slot;
		struct netif_extra_info x;
	} u;
	netif_tx_request_t r;

	p->nr_slots = 0;
	p->nr_extras = 0;
	netback_tx_slot(nb, i++, &p->slots[0]);
	p->nr_slots = 1;
	r = p->slots[0];
	if (r.flags & NETTXF_extra_info) {
		do {
			if (i == prod)
				return 0;
			if (p->nr_extras == NETBACK_MAX_EXTRAS) {
				p->end = i;
				return -E2BIG;
			}
			netback_tx_slot(nb, i++, &u.slot);
			p->extras[p->nr_extras++] = u.x;
		} while (u.x.flags & XEN_NETIF_EXTRA_FLAG_MORE);
	}
	while (r.flags & NETTXF_more_data) {
		if (i == prod)
			return 0;
		if (p->nr_slots == NETBACK_MAX_TX_SLOTS) {
			p->end = i;
			return -E2BIG;
		}
		netback_tx_slot(nb, i++, &r);
		p->slots[p->nr_slots++] = r;
	}
	p->end = i;
	return 1;
}

/* The checks of a complete packet; its data length in each slot. */
static int netback_tx_check(struct netback *nb, const struct netback_txp *p,
			    uint16_t *lens)
{
	unsigned int total = p->slots[0].size, rest = 0, i;
	uint8_t seen = 0;

	for (i = 0; i < p->nr_extras; i++) {
		uint8_t t = p->extras[i].type;

		if (t == XEN_NETIF_EXTRA_TYPE_NONE ||
		    t >= XEN_NETIF_EXTRA_TYPE_MAX || (seen & (1u << t))) {
			NETBACK_BAD(nb, "netback: %s: extra info type %u",
				    nb->name, t);
			return -EINVAL;
		}
		seen |= (uint8_t)(1u << t);
		/* Not offered (feature-gso-*): a frontend may not send it. */
		if (t == XEN_NETIF_EXTRA_TYPE_GSO) {
			NETBACK_BAD(nb, "netback: %s: GSO not offered",
				    nb->name);
			return -EINVAL;
		}
		/* MCAST_ADD/DEL, HASH: nothing to do without the features. */
	}
	if (total < NETBACK_ETH_HLEN) {
		NETBACK_BAD(nb, "netback: %s: a packet of %u bytes", nb->name,
			    total);
		return -EINVAL;
	}
	for (i = 1; i < p->nr_slots; i++) {
		rest += p->slots[i].size;
		lens[i] = p->slots[i].size;
	}
	if (rest > total) {
		NETBACK_BAD(nb,
			    "netback: %s: slots of %u bytes in a %u-byte "
			    "packet",
			    nb->name, rest, total);
		return -EINVAL;
	}
	lens[0] = (uint16_t)(total - rest);
	for (i = 0; i < p->nr_slots; i++) {
		if ((unsigned int)p->slots[i].offset + lens[i] > NETBACK_PAGE) {
			NETBACK_BAD(nb,
				    "netback: %s: slot %u: %u+%u past its "
				    "page",
				    nb->name, i, p->slots[i].offset, lens[i]);
			return -EINVAL;
		}
	}
	return 0;
}

/* A complete packet: checked, gathered, sent, answered. */
static void netback_tx_packet(struct netback *nb, const struct netback_txp *p)
{
	uint16_t lens[NETBACK_MAX_TX_SLOTS];
	size_t len = 0;
	unsigned int i;
	int rc;

	if (netback_tx_check(nb, p, lens) < 0) {
		nb->st.tx_malformed++;
		netback_tx_answer(nb, p, NETIF_RSP_ERROR);
		return;
	}
	for (i = 0; i < p->nr_slots; i++) {
		if (!lens[i])
			continue;
		rc = nb->env.gnttab->copy(nb->env.gnttab_ctx, p->slots[i].gref,
					  p->slots[i].offset, nb->buf + len,
					  lens[i], false);
		if (rc < 0) {
			NETBACK_BAD(nb, "netback: %s: tx grant %u: %s",
				    nb->name, p->slots[i].gref, strerror(-rc));
			nb->st.tx_errors++;
			netback_tx_answer(nb, p, NETIF_RSP_ERROR);
			return;
		}
		len += lens[i];
	}
	/* The guest's part is done: it gets its slots back at once. */
	netback_tx_answer(nb, p, NETIF_RSP_OKAY);
	if ((p->slots[0].flags & NETTXF_csum_blank) &&
	    netback_csum_fill(nb->buf, len) == 0)
		nb->st.tx_csum_filled++;
	if (nethost_send(nb->env.host, nb->buf, len) < 0) {
		nb->st.tx_host_drops++;
		return;
	}
	nb->st.tx_packets++;
	nb->st.tx_bytes += len;
}

/* Takes the tx requests produced, at most a ring's worth of slots. */
static void netback_tx_consume(struct netback *nb)
{
	struct netback_txp p;
	unsigned int budget = nb->tx.nr_ents;
	netif_tx_request_t r;
	RING_IDX prod;
	int rc;

	for (;;) {
		prod =
		    __atomic_load_n(&nb->tx.sring->req_prod, __ATOMIC_ACQUIRE);
		if (!NETBACK_PROD_OK(&nb->tx, prod)) {
			netback_broken(nb, "tx", prod, nb->tx.req_cons);
			return;
		}
		while (nb->tx.req_cons != prod && nb->serving) {
			if (!budget) {
				if (nb->env.rekick) {
					nb->env.rekick(nb->env.ctx);
					return;
				}
				budget = nb->tx.nr_ents;
			}
			if (nb->tx_skip) {
				netback_tx_slot(nb, nb->tx.req_cons++, &r);
				netback_tx_respond(nb, r.id, NETIF_RSP_ERROR);
				nb->tx_skip = (r.flags & NETTXF_more_data) != 0;
				budget--;
				continue;
			}
			rc = netback_tx_read(nb, prod, &p);
			if (rc == 0)
				break; /* the rest comes with a later push */
			budget -= budget < p.end - nb->tx.req_cons
				      ? budget
				      : p.end - nb->tx.req_cons;
			nb->tx.req_cons = p.end;
			if (rc < 0) {
				NETBACK_BAD(nb,
					    "netback: %s: a tx packet of "
					    "more than %u slots or %u extras",
					    nb->name, NETBACK_MAX_TX_SLOTS,
					    NETBACK_MAX_EXTRAS);
				nb->st.tx_malformed++;
				netback_tx_answer(nb, &p, NETIF_RSP_ERROR);
				/* The slots after the last one read, too. */
				nb->tx_skip = true;
				continue;
			}
			netback_tx_packet(nb, &p);
		}
		if (!nb->serving)
			return;
		/* Kick us at the next slot produced, then look again. */
		__atomic_store_n(&nb->tx.sring->req_event, prod + 1,
				 __ATOMIC_RELEASE);
		xen_mb();
		if (__atomic_load_n(&nb->tx.sring->req_prod,
				    __ATOMIC_ACQUIRE) == prod)
			return;
	}
}

/* --- rx ------------------------------------------------------------------- */

/* Puts frame into need posted buffers (they are there). */
static void netback_rx_put(struct netback *nb, const uint8_t *frame, size_t len,
			   unsigned int need)
{
	uint16_t ids[NETBACK_MAX_FRAME / NETBACK_PAGE + 1];
	bool failed = false, ok = netback_csum_ok(frame, len);
	netif_rx_request_t req;
	netif_rx_response_t *rsp;
	unsigned int s;
	size_t off, n;
	int rc;

	for (s = 0, off = 0; s < need; s++, off += n) {
		n = len - off < NETBACK_PAGE ? len - off : NETBACK_PAGE;
		memcpy(&req, RING_GET_REQUEST(&nb->rx, nb->rx.req_cons++),
		       sizeof(req));
		ids[s] = req.id;
		if (failed)
			continue;
		rc = nb->env.gnttab->copy(nb->env.gnttab_ctx, req.gref, 0,
					  (void *)(frame + off), n, true);
		if (rc < 0) {
			NETBACK_BAD(nb, "netback: %s: rx grant %u: %s",
				    nb->name, req.gref, strerror(-rc));
			failed = true;
		}
	}
	for (s = 0, off = 0; s < need; s++, off += n) {
		n = len - off < NETBACK_PAGE ? len - off : NETBACK_PAGE;
		rsp = RING_GET_RESPONSE(&nb->rx, nb->rx.rsp_prod_pvt++);
		rsp->id = ids[s];
		rsp->offset = 0;
		rsp->flags = s + 1 < need ? NETRXF_more_data : 0;
		if (!s && ok && !failed)
			rsp->flags |= NETRXF_data_validated;
		rsp->status = failed ? NETIF_RSP_ERROR : (int16_t)n;
	}
	nb->rx_unpushed = true;
	if (failed) {
		nb->st.rx_errors++;
		return;
	}
	nb->st.rx_packets++;
	nb->st.rx_bytes += len;
	if (ok)
		nb->st.rx_validated++;
}

/*
 * Delivers one frame.  1: delivered or dropped for good, 0: not enough
 * buffers posted (req_event set: the frontend kicks us when there are),
 * -EPROTO: the ring is broken.
 */
static int netback_rx_deliver(struct netback *nb, const uint8_t *frame,
			      size_t len)
{
	unsigned int need =
	    (unsigned int)((len + NETBACK_PAGE - 1) / NETBACK_PAGE);
	RING_IDX prod;

	if (need > 1 && !nb->fe.rx_sg) {
		nb->st.rx_dropped++;
		return 1;
	}
	for (;;) {
		prod =
		    __atomic_load_n(&nb->rx.sring->req_prod, __ATOMIC_ACQUIRE);
		if (!NETBACK_PROD_OK(&nb->rx, prod)) {
			netback_broken(nb, "rx", prod, nb->rx.req_cons);
			return -EPROTO;
		}
		if (prod - nb->rx.req_cons >= need)
			break;
		__atomic_store_n(&nb->rx.sring->req_event,
				 nb->rx.req_cons + need, __ATOMIC_RELEASE);
		xen_mb();
		if (__atomic_load_n(&nb->rx.sring->req_prod,
				    __ATOMIC_ACQUIRE) == prod)
			return 0;
	}
	netback_rx_put(nb, frame, len, need);
	return 1;
}

static void netback_rx_pop(struct netback *nb)
{
	free(nb->q[nb->q_head]);
	nb->q[nb->q_head] = NULL;
	nb->q_head = (nb->q_head + 1) % NETBACK_RX_QUEUE;
	nb->q_len--;
}

/* Delivers queued frames while there are buffers. */
static void netback_rx_flush(struct netback *nb)
{
	struct netback_frame *f;

	while (nb->q_len && nb->serving) {
		f = nb->q[nb->q_head];
		if (netback_rx_deliver(nb, f->data, f->len) <= 0)
			return;
		netback_rx_pop(nb);
	}
}

static void netback_rx_queue_drop(struct netback *nb)
{
	while (nb->q_len) {
		nb->st.rx_dropped++;
		netback_rx_pop(nb);
	}
}

static void netback_rx_enqueue(struct netback *nb, const void *frame,
			       size_t len)
{
	struct netback_frame *f;

	if (nb->q_len == NETBACK_RX_QUEUE) {
		nb->st.rx_dropped++;
		return;
	}
	f = malloc(sizeof(*f) + len);
	if (!f) {
		nb->st.rx_dropped++;
		return;
	}
	f->len = len;
	memcpy(f->data, frame, len);
	nb->q[(nb->q_head + nb->q_len) % NETBACK_RX_QUEUE] = f;
	nb->q_len++;
}

void netback_rx(struct netback *nb, const void *frame, size_t len)
{
	if (!nb->serving || !len || len > NETBACK_MAX_FRAME) {
		nb->st.rx_dropped++;
		return;
	}
	if (nb->busy) {
		netback_rx_enqueue(nb, frame, len);
		return;
	}
	if (nb->q_len) {
		netback_rx_enqueue(nb, frame, len);
		netback_rx_flush(nb);
	} else if (netback_rx_deliver(nb, frame, len) == 0) {
		netback_rx_enqueue(nb, frame, len);
	}
	netback_push(nb);
}

/* --- lifecycle ------------------------------------------------------------ */

void netback_kick(struct netback *nb)
{
	if (!nb->serving || nb->busy)
		return;
	nb->st.kicks++;
	nb->busy = true;
	netback_tx_consume(nb);
	nb->busy = false;
	if (nb->serving)
		netback_rx_flush(nb);
	netback_push(nb);
}

int netback_open(struct netback **out, const struct netback_env *env)
{
	struct netback *nb;

	*out = NULL;
	if (!env || !env->gnttab || !env->host || env->mtu < 68 ||
	    env->mtu > NETBACK_MTU_MAX)
		return -EINVAL;
	nb = calloc(1, sizeof(*nb));
	if (!nb)
		return -ENOMEM;
	nb->buf = malloc(NETBACK_MAX_FRAME);
	if (!nb->buf) {
		free(nb);
		return -ENOMEM;
	}
	nb->env = *env;
	nb->rl = (struct log_ratelimit)LOG_RATELIMIT_INIT;
	snprintf(nb->name, sizeof(nb->name), "%s",
		 env->name ? env->name : "vif");
	nb->env.name = nb->name;
	*out = nb;
	return 0;
}

void netback_features(struct netback *nb,
		      void (*put)(void *ctx, const char *key,
				  const char *value),
		      void *ctx)
{
	const uint8_t *m = nb->env.mac;
	char v[32];

	snprintf(v, sizeof(v), "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1],
		 m[2], m[3], m[4], m[5]);
	put(ctx, "mac", v);
	snprintf(v, sizeof(v), "%u", nb->env.mtu);
	put(ctx, "mtu", v);
	put(ctx, "feature-rx-copy", "1");
	put(ctx, "feature-rx-flip", "0");
	put(ctx, "feature-sg", "1");
	put(ctx, "feature-no-csum-offload", "0");
	put(ctx, "feature-ipv6-csum-offload", "1");
	put(ctx, "feature-gso-tcpv4", "0");
	put(ctx, "feature-gso-tcpv6", "0");
	put(ctx, "feature-multicast-control", "0");
	put(ctx, "feature-split-event-channels", "1");
}

static void netback_unmap(struct netback *nb)
{
	if (nb->tx_map.addr)
		(void)nb->env.gnttab->unmap(nb->env.gnttab_ctx, &nb->tx_map);
	if (nb->rx_map.addr)
		(void)nb->env.gnttab->unmap(nb->env.gnttab_ctx, &nb->rx_map);
	memset(&nb->tx_map, 0, sizeof(nb->tx_map));
	memset(&nb->rx_map, 0, sizeof(nb->rx_map));
	memset(&nb->tx, 0, sizeof(nb->tx));
	memset(&nb->rx, 0, sizeof(nb->rx));
}

int netback_connect(struct netback *nb, grant_ref_t tx_ref, grant_ref_t rx_ref,
		    const struct netback_frontend *fe)
{
	int rc;

	if (nb->connected)
		return -EBUSY;
	rc = nb->env.gnttab->map(nb->env.gnttab_ctx, tx_ref, true, &nb->tx_map);
	if (rc < 0) {
		log_warnx("netback: %s: tx ring (grant %u): %s", nb->name,
			  tx_ref, strerror(-rc));
		memset(&nb->tx_map, 0, sizeof(nb->tx_map));
		return rc;
	}
	rc = nb->env.gnttab->map(nb->env.gnttab_ctx, rx_ref, true, &nb->rx_map);
	if (rc < 0) {
		log_warnx("netback: %s: rx ring (grant %u): %s", nb->name,
			  rx_ref, strerror(-rc));
		memset(&nb->rx_map, 0, sizeof(nb->rx_map));
		netback_unmap(nb);
		return rc;
	}
	BACK_RING_INIT(&nb->tx, (netif_tx_sring_t *)nb->tx_map.addr,
		       NETBACK_PAGE);
	BACK_RING_INIT(&nb->rx, (netif_rx_sring_t *)nb->rx_map.addr,
		       NETBACK_PAGE);
	nb->fe = fe ? *fe : (struct netback_frontend){0};
	nb->connected = true;
	nb->serving = true;
	nb->broken = false;
	nb->tx_skip = false;
	nb->tx_unpushed = false;
	nb->rx_unpushed = false;
	return 0;
}

void netback_disconnect(struct netback *nb)
{
	if (!nb->connected)
		return;
	nb->serving = false;
	netback_push(nb);
	netback_rx_queue_drop(nb);
	netback_unmap(nb);
	nb->connected = false;
}

void netback_quiesce(struct netback *nb)
{
	nb->serving = false;
	netback_push(nb);
	netback_rx_queue_drop(nb);
}

void netback_unquiesce(struct netback *nb)
{
	if (!nb->connected || nb->broken || nb->serving)
		return;
	nb->serving = true;
	netback_kick(nb);
}

int netback_ring_get(const struct netback *nb, struct netback_ring_state *s)
{
	if (!nb->connected)
		return -ENOTCONN;
	s->tx_req_cons = nb->tx.req_cons;
	s->tx_rsp_prod_pvt = nb->tx.rsp_prod_pvt;
	s->rx_req_cons = nb->rx.req_cons;
	s->rx_rsp_prod_pvt = nb->rx.rsp_prod_pvt;
	s->tx_skip = nb->tx_skip;
	return 0;
}

int netback_ring_set(struct netback *nb, const struct netback_ring_state *s)
{
	if (!nb->connected)
		return -ENOTCONN;
	if (s->tx_req_cons != s->tx_rsp_prod_pvt ||
	    s->rx_req_cons != s->rx_rsp_prod_pvt)
		return -EINVAL;
	nb->tx.req_cons = s->tx_req_cons;
	nb->tx.rsp_prod_pvt = s->tx_rsp_prod_pvt;
	nb->rx.req_cons = s->rx_req_cons;
	nb->rx.rsp_prod_pvt = s->rx_rsp_prod_pvt;
	nb->tx_skip = s->tx_skip;
	return 0;
}

void netback_get_stats(const struct netback *nb, struct netback_stats *st)
{
	*st = nb->st;
	st->rx_queued = nb->q_len;
	st->connected = nb->connected;
	st->broken = nb->broken;
}

void netback_close(struct netback *nb)
{
	if (!nb)
		return;
	netback_disconnect(nb);
	netback_rx_queue_drop(nb);
	free(nb->buf);
	free(nb);
}
