/* SPDX-License-Identifier: MIT */
/*
 * Connections: framing of requests, queues of replies and events.
 *
 * Input is buffered until a whole message (16-byte header + payload) is
 * there.  A header announcing more than XENSTORE_PAYLOAD_MAX bytes is a
 * protocol violation and the connection is dropped, as Xen's C daemon does.
 * A guest with too many replies it has not taken off its ring gets no more
 * requests read until it does (the outstanding-request quota), so a guest
 * that writes without reading only stalls itself.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../common/log.h"
#include "internal.h"

#define XS_MSG_MAX (sizeof(struct xsd_sockmsg) + XENSTORE_PAYLOAD_MAX)
/* A privileged client this far behind on reading is dropped. */
#define XS_PRIV_OUT_MAX (64u << 20)
/* Stop reading a client's requests while this much output waits. */
#define XS_OUT_PAUSE (1u << 20)

struct xs_conn *xs_conn_new(struct xs_store *s, uint32_t domid,
			    const struct xs_conn_ops *ops, void *opaque)
{
	struct xs_conn *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->store = s;
	c->ops = ops;
	c->opaque = opaque;
	c->domid = domid;
	c->privileged = domid == 0;
	c->next_txn_id = 1;
	list_init(&c->watches);
	list_init(&c->txns);
	list_init(&c->flush_link);
	list_add_tail(&c->store_link, &s->conns);
	return c;
}

static void conn_drop_txns(struct xs_conn *c)
{
	struct xs_txn *t, *tmp;

	list_for_each_entry_safe(t, tmp, &c->txns, conn_link) {
		list_del(&t->conn_link);
		txn_free(t);
	}
	c->ntxns = 0;
}

void xs_conn_reset(struct xs_conn *c)
{
	/* Asked for by the guest: the journal forgets the watches too. */
	watch_forget_all(c);
	conn_drop_txns(c);
}

void xs_conn_free(struct xs_conn *c)
{
	struct xs_domain *d;

	if (!c)
		return;
	/* Not watch_forget_all(): a ring's watches stay in the journal,
	 * for the ring that replaces this one after a restart of ours. */
	watch_remove_all(c);
	conn_drop_txns(c);
	d = domain_get(c->store, c->domid);
	if (d && d->conn == c)
		d->conn = NULL;
	list_del(&c->store_link);
	if (c->on_flush_list)
		list_del(&c->flush_link);
	buf_free(&c->in);
	buf_free(&c->out);
	free(c);
}

void *xs_conn_opaque(const struct xs_conn *c)
{
	return c->opaque;
}

bool xs_conn_closing(const struct xs_conn *c)
{
	return c->closing;
}

static void conn_queue_flush(struct xs_conn *c)
{
	if (c->on_flush_list)
		return;
	c->on_flush_list = true;
	list_add_tail(&c->flush_link, &c->store->flush_list);
}

void xs_store_flush(struct xs_store *s)
{
	while (!list_empty(&s->flush_list)) {
		struct xs_conn *c = list_entry(s->flush_list.next,
					       struct xs_conn, flush_link);

		/* Journal first: a flush may process held-back requests. */
		if (xs_store_commit(s))
			log_errx("store: changes could not be journalled");
		list_del(&c->flush_link);
		c->on_flush_list = false;
		/* May free c. */
		c->ops->flush(c);
	}
}

int conn_send(struct xs_conn *c, uint32_t type, uint32_t req_id,
	      uint32_t tx_id, const void *data, uint32_t len)
{
	struct xsd_sockmsg hdr = {
		.type = type, .req_id = req_id, .tx_id = tx_id, .len = len};
	int rc;

	if (c->closing)
		return -EPIPE;
	if (c->privileged && buf_used(&c->out) > XS_PRIV_OUT_MAX) {
		log_warnx("conn: %s client does not read its replies, "
			  "dropping it", c->ops->kind);
		c->closing = true;
		conn_queue_flush(c);
		return -EPIPE;
	}
	rc = buf_reserve(&c->out, sizeof(hdr) + len);
	if (rc)
		return rc;
	memcpy(c->out.data + c->out.len, &hdr, sizeof(hdr));
	if (len)
		memcpy(c->out.data + c->out.len + sizeof(hdr), data, len);
	c->out.len += sizeof(hdr) + len;
	if (type != XS_WATCH_EVENT)
		c->out_replies++;
	conn_queue_flush(c);
	return 0;
}

static bool conn_held_back(const struct xs_conn *c)
{
	if (c->closing)
		return true;
	if (buf_used(&c->out) >= XS_OUT_PAUSE)
		return true;
	return !c->privileged && c->out_replies >= c->store->quota.outstanding;
}

uint8_t *xs_conn_input_space(struct xs_conn *c, size_t *room)
{
	*room = 0;
	if (conn_held_back(c))
		return NULL;
	/* Room for a few messages, so pipelined requests take one read. */
	if (buf_reserve(&c->in, 2 * XS_MSG_MAX))
		return NULL;
	*room = c->in.cap - c->in.len;
	return c->in.data + c->in.len;
}

static int conn_process(struct xs_conn *c)
{
	char payload[XENSTORE_PAYLOAD_MAX + 1];
	struct xsd_sockmsg hdr;

	while (buf_used(&c->in) >= sizeof(hdr) && !conn_held_back(c)) {
		memcpy(&hdr, buf_readp(&c->in), sizeof(hdr));
		if (hdr.len > XENSTORE_PAYLOAD_MAX) {
			c->closing = true;
			return -E2BIG;
		}
		if (buf_used(&c->in) < sizeof(hdr) + hdr.len)
			break;
		/* Handlers may treat the payload as a C string. */
		memcpy(payload, buf_readp(&c->in) + sizeof(hdr), hdr.len);
		payload[hdr.len] = '\0';
		buf_consume(&c->in, sizeof(hdr) + hdr.len);
		c->store->stats_requests++;
		ops_dispatch(c, &hdr, payload);
	}
	journal_maybe_compact(c->store);
	return c->closing ? -EPIPE : 0;
}

int xs_conn_input_done(struct xs_conn *c, size_t n)
{
	c->in.len += n;
	return conn_process(c);
}

int xs_conn_resume(struct xs_conn *c)
{
	return conn_process(c);
}

const uint8_t *xs_conn_output(struct xs_conn *c, size_t *len)
{
	*len = buf_used(&c->out);
	return buf_readp(&c->out);
}

void xs_conn_output_done(struct xs_conn *c, size_t n)
{
	buf_consume(&c->out, n);
	/* Replies are counted as taken once the queue is empty. */
	if (!buf_used(&c->out))
		c->out_replies = 0;
}

void xs_conn_discard_input(struct xs_conn *c)
{
	buf_consume(&c->in, buf_used(&c->in));
}
