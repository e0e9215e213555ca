/* SPDX-License-Identifier: MIT */
/*
 * The guest's XenStore ring.  Everything in the page is the guest's to
 * scribble on, so every index is read once into a local and checked: a
 * producer more than a ring's size ahead of its consumer is a broken
 * guest.  A broken ring gets an error code in the page's `error` field and
 * is no longer served; only that domain is affected.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <xen/io/xs_wire.h>

#include "../common/log.h"
#include "internal.h"
#include "ring.h"

struct xs_ring {
	struct xenstore_domain_interface *intf;
	struct xs_conn *conn;
	int kick_fd, notify_fd;
	uint32_t domid;
	bool broken;
};

static struct log_ratelimit ring_rl = LOG_RATELIMIT_INIT;

static void ring_flush(struct xs_conn *c);

static const struct xs_conn_ops ring_ops = {
	.kind = "ring",
	.flush = ring_flush,
};

static uint32_t ring_load(const volatile uint32_t *p)
{
	return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

static void ring_store(volatile uint32_t *p, uint32_t v)
{
	__atomic_store_n(p, v, __ATOMIC_RELEASE);
}

static void ring_notify(struct xs_ring *r)
{
	uint64_t one = 1;

	/* EAGAIN: the counter is saturated, the guest will look anyway. */
	if (write(r->notify_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		log_warnx_rl(&ring_rl, "ring: domain %u: cannot notify",
			     r->domid);
}

static void ring_break(struct xs_ring *r, uint32_t error, const char *why)
{
	r->broken = true;
	ring_store(&r->intf->error, error);
	log_warnx_rl(&ring_rl, "ring: domain %u: %s; ring no longer served",
		     r->domid, why);
	ring_notify(r);
}

struct xs_ring *xs_ring_new(struct xs_store *s, uint32_t domid, void *page,
			    int kick_fd, int notify_fd)
{
	struct xs_ring *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	r->intf = page;
	r->kick_fd = kick_fd;
	r->notify_fd = notify_fd;
	r->domid = domid;
	r->conn = xs_conn_new(s, domid, &ring_ops, r);
	if (!r->conn) {
		free(r);
		return NULL;
	}
	r->intf->server_features = XENSTORE_SERVER_FEATURE_RECONNECTION |
				   XENSTORE_SERVER_FEATURE_ERROR;
	return r;
}

void xs_ring_free(struct xs_ring *r)
{
	if (!r)
		return;
	xs_conn_free(r->conn);
	free(r);
}

struct xs_conn *xs_ring_conn(struct xs_ring *r)
{
	return r->conn;
}

/* Copy queued output into the response ring; true if anything moved. */
static bool ring_put_output(struct xs_ring *r)
{
	struct xenstore_domain_interface *in = r->intf;
	uint32_t cons = ring_load(&in->rsp_cons), prod = in->rsp_prod;
	size_t avail, space, n, done = 0;
	const uint8_t *out;

	/* Nothing leaves before the journal has the changes it reports. */
	if (xs_store_commit(r->conn->store))
		return false;
	out = xs_conn_output(r->conn, &avail);
	if (prod - cons > XENSTORE_RING_SIZE) {
		ring_break(r, XENSTORE_ERROR_RINGIDX, "bad response indexes");
		return false;
	}
	space = XENSTORE_RING_SIZE - (prod - cons);
	while (done < avail && space) {
		size_t off = MASK_XENSTORE_IDX(prod);

		n = XENSTORE_RING_SIZE - off;
		if (n > space)
			n = space;
		if (n > avail - done)
			n = avail - done;
		memcpy(in->rsp + off, out + done, n);
		done += n;
		space -= n;
		prod += (uint32_t)n;
	}
	if (!done)
		return false;
	ring_store(&in->rsp_prod, prod);
	xs_conn_output_done(r->conn, done);
	return true;
}

/* Take request bytes; true if anything moved.  May break the ring. */
static bool ring_take_input(struct xs_ring *r)
{
	struct xenstore_domain_interface *in = r->intf;
	bool moved = false;

	/* Requests already taken off the ring but held back by the
	 * outstanding-request quota go first. */
	if (xs_conn_resume(r->conn) < 0) {
		ring_break(r, XENSTORE_ERROR_PROTO,
			   "oversized or malformed message");
		return false;
	}
	while (!r->broken) {
		uint32_t cons = in->req_cons, prod = ring_load(&in->req_prod);
		size_t avail = prod - cons, room, n;
		uint8_t *dst;

		if (avail > XENSTORE_RING_SIZE) {
			ring_break(r, XENSTORE_ERROR_RINGIDX,
				   "bad request indexes");
			break;
		}
		if (!avail)
			break;
		dst = xs_conn_input_space(r->conn, &room);
		if (!room)
			break;
		n = XENSTORE_RING_SIZE - MASK_XENSTORE_IDX(cons);
		if (n > avail)
			n = avail;
		if (n > room)
			n = room;
		memcpy(dst, in->req + MASK_XENSTORE_IDX(cons), n);
		ring_store(&in->req_cons, cons + (uint32_t)n);
		moved = true;
		if (xs_conn_input_done(r->conn, n) < 0)
			ring_break(r, XENSTORE_ERROR_PROTO,
				   "oversized or malformed message");
	}
	return moved;
}

static void ring_reconnect(struct xs_ring *r)
{
	struct xenstore_domain_interface *in = r->intf;
	size_t len;

	/* The guest asks for a clean slate: drop what we hold for it. */
	xs_conn_reset(r->conn);
	xs_conn_output(r->conn, &len);
	xs_conn_output_done(r->conn, len);
	xs_conn_discard_input(r->conn);
	in->req_cons = in->req_prod = 0;
	in->rsp_cons = in->rsp_prod = 0;
	ring_store(&in->connection, XENSTORE_CONNECTED);
	ring_notify(r);
}

void xs_ring_kick(struct xs_ring *r)
{
	uint64_t v;
	bool moved;

	/* Level of the eventfd does not matter, only that we look. */
	if (read(r->kick_fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		return;
	if (r->broken)
		return;
	if (ring_load(&r->intf->connection) == XENSTORE_RECONNECT) {
		ring_reconnect(r);
		return;
	}
	/* Replies to what we take now leave in the flush phase, after the
	 * journal has their changes. */
	moved = ring_put_output(r);
	moved |= ring_take_input(r);
	if (moved && !r->broken)
		ring_notify(r);
}

static void ring_flush(struct xs_conn *c)
{
	struct xs_ring *r = xs_conn_opaque(c);
	bool moved;

	if (r->broken)
		return;
	moved = ring_put_output(r);
	/* Room made may let held-back requests through; their replies come
	 * with the next flush, which queues itself. */
	moved |= ring_take_input(r);
	if (moved && !r->broken)
		ring_notify(r);
}
