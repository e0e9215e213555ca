/* SPDX-License-Identifier: MIT */
/*
 * Fuzz the XenStore wire protocol: the message parser and every store
 * operation, spoken by dom0 and by two unprivileged guests to one store.
 *
 * The input is a list of chunks.  Each starts with a selector byte:
 * selector % 3 picks the connection (dom0, domain 1, domain 2) and
 * (selector / 3) % 8 the action:
 *
 *   0-1  raw      <len8> <bytes>   fed as a transport would, header and all
 *   2-4  message  <type> <tx_id> <len16 le> <bytes>
 *                 the harness frames the payload, so the handlers are
 *                 reached without the fuzzer having to guess lengths
 *   5    drain    <n>              the client takes n * 16 bytes (0: all)
 *   6    drain all, then let held-back requests through (xs_conn_resume)
 *   7    life     <what> [<arg>]   unregister, register, reset, discard
 *                                  input, reconnect, re-introduce
 *
 * The store flushes after every chunk, as the daemon does after every
 * batch.  A connection that breaks the protocol is freed and recreated (a
 * guest's by the hypervisor re-registering the domain).  Quotas are small
 * so their limits are reached.  Everything the store sends is checked to
 * be well-framed; the store is freed at the end of each input so leaks
 * show.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xen/io/xs_wire.h>

#include "../common/log.h"
#include "fuzz_input.h"
#include "store.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NSLOT 3
#define HDR_SIZE sizeof(struct xsd_sockmsg)

enum {
	ACT_RAW,
	ACT_RAW2,
	ACT_MSG,
	ACT_MSG2,
	ACT_MSG3,
	ACT_DRAIN,
	ACT_DRAIN_ALL,
	ACT_LIFE,
};

struct slot {
	struct xs_conn *c;
	uint32_t domid;
	/* Framing check of the output stream. */
	uint8_t hdr[HDR_SIZE];
	size_t hdr_have;
	size_t body_left;
};

struct fuzz {
	struct xs_store *s;
	struct slot slot[NSLOT];
	uint32_t req_id;
	struct fuzz_input in;
};

static struct xs_quota fuzz_quota;

static void fuzz_conn_flush(struct xs_conn *c)
{
	/* The client reads when the input says so (drain actions). */
	(void)c;
}

static const struct xs_conn_ops fuzz_ops = {
	.kind = "fuzz",
	.flush = fuzz_conn_flush,
};

static void slot_clear(struct slot *sl)
{
	sl->c = NULL;
	sl->hdr_have = 0;
	sl->body_left = 0;
}

static struct xs_conn *fuzz_attach(void *opaque, uint32_t domid, uint64_t gfn,
				   uint32_t port)
{
	struct fuzz *f = opaque;
	unsigned int i;

	(void)gfn;
	(void)port;
	for (i = 1; i < NSLOT; i++) {
		struct slot *sl = &f->slot[i];

		if (sl->domid != domid)
			continue;
		if (sl->c)
			return NULL;
		slot_clear(sl);
		sl->c = xs_conn_new(f->s, domid, &fuzz_ops, sl);
		return sl->c;
	}
	return NULL;
}

static void fuzz_detach(void *opaque, uint32_t domid, struct xs_conn *c)
{
	struct slot *sl = xs_conn_opaque(c);

	(void)opaque;
	(void)domid;
	if (sl->c == c)
		slot_clear(sl);
	xs_conn_free(c);
}

/* Whatever the store sends must be whole messages of legal size. */
static void check_output(struct slot *sl, const uint8_t *p, size_t n)
{
	while (n) {
		struct xsd_sockmsg h;
		size_t k;

		if (sl->body_left) {
			k = n < sl->body_left ? n : sl->body_left;
			sl->body_left -= k;
			p += k;
			n -= k;
			continue;
		}
		k = HDR_SIZE - sl->hdr_have;
		if (k > n)
			k = n;
		memcpy(sl->hdr + sl->hdr_have, p, k);
		sl->hdr_have += k;
		p += k;
		n -= k;
		if (sl->hdr_have < HDR_SIZE)
			break;
		sl->hdr_have = 0;
		memcpy(&h, sl->hdr, sizeof(h));
		if (h.len > XENSTORE_PAYLOAD_MAX || h.type >= XS_TYPE_COUNT) {
			fprintf(stderr,
				"fuzz_wire: domain %u got a bad message: "
				"type %u len %u\n",
				sl->domid, h.type, h.len);
			abort();
		}
		sl->body_left = h.len;
	}
}

static void slot_drain(struct slot *sl, size_t max)
{
	const uint8_t *out;
	size_t len;

	if (!sl->c)
		return;
	out = xs_conn_output(sl->c, &len);
	if (max && max < len)
		len = max;
	if (!len)
		return;
	check_output(sl, out, len);
	xs_conn_output_done(sl->c, len);
}

/* The transport closed the connection; a new one takes its place. */
static void slot_reconnect(struct fuzz *f, struct slot *sl)
{
	xs_conn_free(sl->c);
	slot_clear(sl);
	if (sl->domid == 0) {
		sl->c = xs_conn_new(f->s, 0, &fuzz_ops, sl);
		return;
	}
	/* A guest's ring comes back when the hypervisor hands it over
	 * again: re-registering re-attaches an introduced domain. */
	xs_domain_unregister(f->s, sl->domid);
	(void)xs_domain_register(f->s, sl->domid);
}

static void slot_feed(struct fuzz *f, struct slot *sl, const uint8_t *p,
		      size_t len)
{
	while (len && sl->c) {
		size_t room, n;
		uint8_t *dst = xs_conn_input_space(sl->c, &room);

		/* Held back: a transport stops reading; the bytes are lost
		 * here, which only makes the stream stranger. */
		if (!room)
			return;
		n = len < room ? len : room;
		memcpy(dst, p, n);
		p += n;
		len -= n;
		if (xs_conn_input_done(sl->c, n) < 0) {
			slot_reconnect(f, sl);
			return;
		}
	}
}

static void slot_send(struct fuzz *f, struct slot *sl, uint32_t type,
		      uint32_t tx_id, const void *payload, uint32_t len)
{
	struct xsd_sockmsg h = {.type = type,
				.req_id = ++f->req_id,
				.tx_id = tx_id,
				.len = len};
	uint8_t msg[HDR_SIZE + 0x10000];

	if (len > sizeof(msg) - HDR_SIZE)
		return;
	memcpy(msg, &h, HDR_SIZE);
	if (len)
		memcpy(msg + HDR_SIZE, payload, len);
	slot_feed(f, sl, msg, HDR_SIZE + len);
}

static void introduce(struct fuzz *f, uint32_t domid, unsigned int mfn)
{
	char msg[64];
	int n = snprintf(msg, sizeof(msg), "%u%c%u%c%u", domid, '\0',
			 4096 + mfn, '\0', domid + 1);

	slot_send(f, &f->slot[0], XS_INTRODUCE, 0, msg, (uint32_t)n + 1);
}

static void do_life(struct fuzz *f, struct slot *sl)
{
	int what = fuzz_take_byte(&f->in), arg;

	if (what < 0)
		return;
	switch (what % 6) {
	case 0:
		/* The hypervisor says the domain is gone (dom0: a no-op). */
		xs_domain_unregister(f->s, sl->domid ? sl->domid : 3);
		break;
	case 1:
		(void)xs_domain_register(f->s, sl->domid ? sl->domid : 3);
		break;
	case 2:
		if (sl->c)
			xs_conn_reset(sl->c);
		break;
	case 3:
		if (sl->c)
			xs_conn_discard_input(sl->c);
		break;
	case 4:
		if (sl->c)
			slot_reconnect(f, sl);
		break;
	case 5:
		/* Same or another ring page: another page rebinds. */
		arg = fuzz_take_byte(&f->in);
		introduce(f, sl->domid ? sl->domid : 3, arg < 0 ? 0 : arg % 2);
		break;
	}
}

static void do_chunk(struct fuzz *f, unsigned int sel)
{
	struct slot *sl = &f->slot[sel % NSLOT];
	const uint8_t *b;
	int len, type, tx, n;

	switch ((sel / NSLOT) % 8) {
	case ACT_RAW:
	case ACT_RAW2:
		len = fuzz_take_byte(&f->in);
		if (len < 0)
			return;
		if ((size_t)len > f->in.left)
			len = (int)f->in.left;
		(void)fuzz_take(&f->in, (size_t)len, &b);
		slot_feed(f, sl, b, (size_t)len);
		break;
	case ACT_MSG:
	case ACT_MSG2:
	case ACT_MSG3:
		type = fuzz_take_byte(&f->in);
		tx = fuzz_take_byte(&f->in);
		if (type < 0 || tx < 0 || !fuzz_take(&f->in, 2, &b))
			return;
		len = b[0] | b[1] << 8;
		if ((size_t)len > f->in.left)
			len = (int)f->in.left;
		(void)fuzz_take(&f->in, (size_t)len, &b);
		/* One past the last type: an unknown one. */
		slot_send(f, sl, (uint32_t)type % (XS_TYPE_COUNT + 1),
			  (uint32_t)tx, b, (uint32_t)len);
		break;
	case ACT_DRAIN:
		n = fuzz_take_byte(&f->in);
		slot_drain(sl, n < 0 ? 0 : (size_t)n * 16);
		break;
	case ACT_DRAIN_ALL:
		slot_drain(sl, 0);
		if (sl->c && xs_conn_resume(sl->c) < 0)
			slot_reconnect(f, sl);
		break;
	case ACT_LIFE:
		do_life(f, sl);
		break;
	}
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static const char *const quotas[] = {
		"nodes=40", "node-size=300", "watches=4", "transactions=3",
		"transaction-nodes=12", "perms=3", "outstanding=4",
		"path-max=80", "event-queue=1024",
	};
	unsigned int i;

	(void)argc;
	(void)argv;
	log_init("fuzz_wire", LOG_LVL_ERR);
	xs_quota_defaults(&fuzz_quota);
	for (i = 0; i < sizeof(quotas) / sizeof(quotas[0]); i++)
		if (xs_quota_parse(&fuzz_quota, quotas[i])) {
			fprintf(stderr, "fuzz_wire: bad quota %s\n", quotas[i]);
			abort();
		}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz f = {.in = {.p = data, .left = size}};
	struct xs_domain_hooks hooks = {
		.attach = fuzz_attach, .detach = fuzz_detach, .opaque = &f};
	unsigned int i;
	int sel;

	f.s = xs_store_new(&fuzz_quota);
	if (!f.s)
		return 0;
	xs_store_set_domain_hooks(f.s, &hooks);
	for (i = 0; i < NSLOT; i++)
		f.slot[i].domid = i;
	f.slot[0].c = xs_conn_new(f.s, 0, &fuzz_ops, &f.slot[0]);
	/* Each guest is registered by the hypervisor and introduced by the
	 * toolstack; then its connection exists. */
	for (i = 1; i < NSLOT; i++) {
		if (xs_domain_register(f.s, i))
			abort();
		introduce(&f, i, 0);
	}
	slot_drain(&f.slot[0], 0);
	xs_store_flush(f.s);

	while ((sel = fuzz_take_byte(&f.in)) >= 0) {
		do_chunk(&f, (unsigned int)sel);
		xs_store_flush(f.s);
		for (i = 0; i < NSLOT; i++) {
			struct slot *sl = &f.slot[i];

			/* It broke the protocol: what is queued goes out,
			 * then the transport hangs up. */
			if (sl->c && xs_conn_closing(sl->c)) {
				slot_drain(sl, 0);
				slot_reconnect(&f, sl);
			}
		}
	}
	xs_store_free(f.s);
	return 0;
}
