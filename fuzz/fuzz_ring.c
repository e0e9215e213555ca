/* SPDX-License-Identifier: MIT */
/*
 * Fuzz the guest ring transport (ring.c): a hostile guest owns the whole
 * page, every index and the connection field, and kicks whenever it likes.
 *
 * One store, dom0 in-process, and domain 1 registered and introduced, so
 * its ring is attached to a 4096-byte page with two eventfds.  The input is
 * a list of operations, each an opcode byte (% 8) and its arguments:
 *
 *   0  index   <which> <u32 le>     set req_cons/req_prod/rsp_cons/rsp_prod
 *   1  raw     <off16> <len8> <bytes>  write into the request ring at off
 *                                   and advance req_prod by len
 *   2  message <type> <tx_id> <len16 le> <bytes>  queue a framed request;
 *                                   the guest copies what fits each step
 *   3  consume <n>                  take n * 8 response bytes (0: all)
 *   4  connection <value>           0 connected, 1 reconnect, or raw
 *   5  poke    <off16> <byte>       any byte of the page
 *   6  life    <what>               unregister, register, re-introduce,
 *                                   release (from dom0)
 *   7  kicks   <n>                  n extra kicks, no flush between
 *
 * After each operation the guest kicks and the store flushes, as the daemon
 * alternates eventfd wake-ups and flushes.  Only crashes are looked for:
 * what a broken guest sees on its own page is its own business.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <xen/io/xs_wire.h>

#include "../common/log.h"
#include "fuzz_input.h"
#include "ring.h"
#include "store.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define GUEST 1u
#define HDR_SIZE sizeof(struct xsd_sockmsg)
#define GUEST_QUEUE 16384

static union {
	struct xenstore_domain_interface intf;
	uint8_t bytes[4096];
} page __attribute__((aligned(4096)));

static int kick_fd = -1, notify_fd = -1;
static struct xs_quota fuzz_quota;

struct fuzz {
	struct xs_store *s;
	struct xs_conn *dom0;
	struct xs_ring *ring;
	struct fuzz_input in;
	uint32_t req_id;
	/* Requests the guest has framed but not yet put on the ring. */
	uint8_t queue[GUEST_QUEUE];
	size_t queued;
};

static void dom0_flush(struct xs_conn *c)
{
	size_t len;

	/* Nobody reads dom0's replies: throw them away. */
	xs_conn_output(c, &len);
	xs_conn_output_done(c, len);
}

static const struct xs_conn_ops dom0_ops = {
	.kind = "fuzz-dom0",
	.flush = dom0_flush,
};

static struct xs_conn *fuzz_attach(void *opaque, uint32_t domid, uint64_t gfn,
				   uint32_t port)
{
	struct fuzz *f = opaque;

	(void)gfn;
	(void)port;
	if (domid != GUEST || f->ring)
		return NULL;
	f->ring = xs_ring_new(f->s, domid, &page.intf, kick_fd, notify_fd);
	return f->ring ? xs_ring_conn(f->ring) : NULL;
}

static void fuzz_detach(void *opaque, uint32_t domid, struct xs_conn *c)
{
	struct fuzz *f = opaque;

	(void)domid;
	if (f->ring && xs_ring_conn(f->ring) == c) {
		xs_ring_free(f->ring);
		f->ring = NULL;
	} else {
		xs_conn_free(c);
	}
}

static void dom0_send(struct fuzz *f, uint32_t type, const char *payload,
		      uint32_t len)
{
	struct xsd_sockmsg h = {
		.type = type, .req_id = ++f->req_id, .len = len};
	uint8_t *dst;
	size_t room;

	dst = xs_conn_input_space(f->dom0, &room);
	if (room < HDR_SIZE + len)
		return;
	memcpy(dst, &h, HDR_SIZE);
	memcpy(dst + HDR_SIZE, payload, len);
	if (xs_conn_input_done(f->dom0, HDR_SIZE + len) < 0)
		abort(); /* our own requests are well-formed */
}

static void introduce(struct fuzz *f, unsigned int mfn)
{
	char msg[64];
	int n = snprintf(msg, sizeof(msg), "%u%c%u%c%u", GUEST, '\0',
			 4096 + mfn, '\0', 7u);

	dom0_send(f, XS_INTRODUCE, msg, (uint32_t)n + 1);
}

static void ring_write(char *ring, uint32_t idx, const uint8_t *p, size_t n)
{
	while (n) {
		size_t off = MASK_XENSTORE_IDX(idx);
		size_t k = XENSTORE_RING_SIZE - off;

		if (k > n)
			k = n;
		memcpy(ring + off, p, k);
		p += k;
		n -= k;
		idx += (uint32_t)k;
	}
}

/* The guest copies as much of its queue as the ring has room for. */
static void guest_push(struct fuzz *f)
{
	struct xenstore_domain_interface *in = &page.intf;
	uint32_t used = in->req_prod - in->req_cons;
	size_t space, n;

	if (!f->queued || used >= XENSTORE_RING_SIZE)
		return;
	space = XENSTORE_RING_SIZE - used;
	n = f->queued < space ? f->queued : space;
	ring_write(in->req, in->req_prod, f->queue, n);
	in->req_prod += (uint32_t)n;
	memmove(f->queue, f->queue + n, f->queued - n);
	f->queued -= n;
}

static void guest_kick(struct fuzz *f)
{
	uint64_t one = 1;

	if (write(kick_fd, &one, sizeof(one)) < 0) {
		/* EAGAIN: saturated; the ring looks anyway. */
	}
	if (f->ring)
		xs_ring_kick(f->ring);
}

static void guest_queue(struct fuzz *f)
{
	struct xsd_sockmsg h = {.req_id = ++f->req_id};
	const uint8_t *b;
	int type = fuzz_take_byte(&f->in), tx = fuzz_take_byte(&f->in);
	size_t len;

	if (type < 0 || tx < 0 || !fuzz_take(&f->in, 2, &b))
		return;
	len = (size_t)(b[0] | b[1] << 8);
	if (len > f->in.left)
		len = f->in.left;
	(void)fuzz_take(&f->in, len, &b);
	if (f->queued + HDR_SIZE + len > GUEST_QUEUE)
		return;
	h.type = (uint32_t)type % (XS_TYPE_COUNT + 1);
	h.tx_id = (uint32_t)tx;
	h.len = (uint32_t)len;
	memcpy(f->queue + f->queued, &h, HDR_SIZE);
	memcpy(f->queue + f->queued + HDR_SIZE, b, len);
	f->queued += HDR_SIZE + len;
}

static void do_life(struct fuzz *f)
{
	int what = fuzz_take_byte(&f->in);
	char msg[16];
	int n;

	if (what < 0)
		return;
	switch (what % 5) {
	case 0:
		xs_domain_unregister(f->s, GUEST);
		break;
	case 1:
		(void)xs_domain_register(f->s, GUEST);
		break;
	case 2:
		introduce(f, 0);
		break;
	case 3:
		introduce(f, 1); /* a new page: detach and attach again */
		break;
	case 4:
		n = snprintf(msg, sizeof(msg), "%u", GUEST);
		dom0_send(f, XS_RELEASE, msg, (uint32_t)n + 1);
		break;
	}
}

static void do_op(struct fuzz *f, unsigned int op)
{
	struct xenstore_domain_interface *in = &page.intf;
	const uint8_t *b;
	uint32_t v, *idx[4] = {&in->req_cons, &in->req_prod, &in->rsp_cons,
			       &in->rsp_prod};
	int n, k;

	switch (op % 8) {
	case 0:
		n = fuzz_take_byte(&f->in);
		if (n < 0 || !fuzz_take(&f->in, 4, &b))
			return;
		memcpy(&v, b, 4);
		*idx[n % 4] = v;
		break;
	case 1:
		if (!fuzz_take(&f->in, 2, &b))
			return;
		v = (uint32_t)(b[0] | b[1] << 8);
		n = fuzz_take_byte(&f->in);
		if (n < 0)
			return;
		if ((size_t)n > f->in.left)
			n = (int)f->in.left;
		(void)fuzz_take(&f->in, (size_t)n, &b);
		ring_write(in->req, v, b, (size_t)n);
		in->req_prod += (uint32_t)n;
		break;
	case 2:
		guest_queue(f);
		break;
	case 3:
		n = fuzz_take_byte(&f->in);
		if (n < 0)
			return;
		v = in->rsp_prod - in->rsp_cons;
		if (n && (uint32_t)n * 8 < v)
			v = (uint32_t)n * 8;
		in->rsp_cons += v;
		break;
	case 4:
		n = fuzz_take_byte(&f->in);
		if (n < 0)
			return;
		in->connection = n < 2 ? (uint32_t)n : (uint32_t)n << 24;
		break;
	case 5:
		if (!fuzz_take(&f->in, 3, &b))
			return;
		page.bytes[(b[0] | b[1] << 8) % sizeof(page.bytes)] = b[2];
		break;
	case 6:
		do_life(f);
		break;
	case 7:
		n = fuzz_take_byte(&f->in);
		for (k = 0; k < n % 16; k++)
			guest_kick(f);
		break;
	}
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static const char *const quotas[] = {
		"nodes=40", "node-size=300", "watches=4", "transactions=3",
		"transaction-nodes=12", "perms=3", "outstanding=4",
		"event-queue=1024",
	};
	unsigned int i;

	(void)argc;
	(void)argv;
	log_init("fuzz_ring", LOG_LVL_ERR);
	kick_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	notify_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (kick_fd < 0 || notify_fd < 0) {
		perror("fuzz_ring: eventfd");
		abort();
	}
	xs_quota_defaults(&fuzz_quota);
	for (i = 0; i < sizeof(quotas) / sizeof(quotas[0]); i++)
		if (xs_quota_parse(&fuzz_quota, quotas[i]))
			abort();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct fuzz f;
	struct xs_domain_hooks hooks = {
		.attach = fuzz_attach, .detach = fuzz_detach, .opaque = &f};
	uint64_t v;
	int op;

	memset(&f, 0, sizeof(f));
	f.in.p = data;
	f.in.left = size;
	memset(&page, 0, sizeof(page));
	/* Forget the previous input's wake-ups. */
	while (read(kick_fd, &v, sizeof(v)) > 0)
		;
	while (read(notify_fd, &v, sizeof(v)) > 0)
		;
	f.s = xs_store_new(&fuzz_quota);
	if (!f.s)
		return 0;
	xs_store_set_domain_hooks(f.s, &hooks);
	f.dom0 = xs_conn_new(f.s, 0, &dom0_ops, NULL);
	if (!f.dom0 || xs_domain_register(f.s, GUEST))
		abort();
	introduce(&f, 0);
	xs_store_flush(f.s);
	if (!f.ring)
		abort(); /* registered and introduced: the ring is attached */

	while ((op = fuzz_take_byte(&f.in)) >= 0) {
		do_op(&f, (unsigned int)op);
		guest_push(&f);
		guest_kick(&f);
		xs_store_flush(f.s);
	}
	/* Frees the ring's connection through the store; the ring itself is
	 * ours. */
	if (f.ring) {
		xs_ring_free(f.ring);
		f.ring = NULL;
	}
	xs_store_free(f.s);
	return 0;
}
