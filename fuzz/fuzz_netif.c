/* SPDX-License-Identifier: MIT */
/*
 * The network backend (vmm/netback.c) under a hostile frontend.  A fake
 * domain (tests/unit/vmm_fake.c) with a grant table in its RAM grants a tx
 * and an rx ring page and data pages (every fourth read-only, a few refs
 * not granted at all) to domain 0; the host side is a sink that accepts
 * or refuses frames.  Each input connects the vif and drives both rings:
 *
 *	u8 config	bit 0: the frontend takes multi-slot rx (feature-sg);
 *			bit 1: the host refuses frames
 *	then ops, each an opcode byte (mod 8) and its bytes:
 *	0 raw		up to 12 bytes into the next tx slot
 *	1 template	6 bytes: a tx request (data ref, offset, size,
 *			flags), mostly valid
 *	2 push		1 byte: publish tx req_prod (bit 7: a corrupt one),
 *			kick
 *	3 post		1 byte: an rx buffer (data ref), published
 *	4 frame		2 bytes: a frame of that many bytes from the host
 *	5 rx corrupt	1 byte: rx req_prod moved by that much, frame, kick
 *	6 reconnect	disconnect, check, connect fresh rings
 *	7 extra		2 bytes: an extra-info slot (type, flags)
 *
 * At the end tx is pushed and kicked and the vif disconnected.  A broken
 * ring makes the harness disconnect from the event callback, as the glue
 * does.  Checked beyond the sanitizers: responses never run past the
 * requests published, and a disconnect leaves no grant mapped or marked in
 * use.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_input.h"
#include "gnttab.h"
#include "log.h"
#include "netback.h"
#include "nethost.h"
#include "vmm_fake.h"

#define xen_mb() __atomic_thread_fence(__ATOMIC_SEQ_CST)
#define xen_rmb() __atomic_thread_fence(__ATOMIC_ACQUIRE)
#define xen_wmb() __atomic_thread_fence(__ATOMIC_RELEASE)
#include <xen/io/netif.h>

#define PAGE 4096u
#define TABLE_GFN 16u
#define NR_REFS 512u
#define TX_REF 1u
#define RX_REF 2u
#define TX_GFN 0x40u
#define RX_GFN 0x41u
#define DATA_REF(i) (32u + (i)) /* 64, every fourth read-only */
#define DATA_GFN(i) (0x100u + (i))
#define NR_DATA 64u

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct vmm_fake_guest guest;
static struct netback *nb;
static bool refuse;
static uint8_t frame[65536];
static volatile uint8_t touched;

struct fe {
	netif_tx_front_ring_t tx;
	netif_rx_front_ring_t rx;
	bool sg;
};

static void die(const char *what)
{
	fprintf(stderr, "fuzz_netif: %s\n", what);
	abort();
}

static uint8_t *page(uint64_t gfn)
{
	return vmm_fake_page(&guest, gfn);
}

static int sink_send(struct nethost *h, const void *f, size_t len)
{
	(void)h;
	if (len < 14 || len > 65535)
		die("a frame of a bad length reached the host");
	/* Read both ends: the sanitizers catch a short buffer. */
	touched ^= ((const uint8_t *)f)[0] ^ ((const uint8_t *)f)[len - 1];
	return refuse ? -EAGAIN : 0;
}

static void sink_close(struct nethost *h)
{
	(void)h;
}

static const struct nethost_ops sink_ops = {
    .kind = "sink",
    .send = sink_send,
    .close = sink_close,
};

static struct nethost sink = {.ops = &sink_ops};

static void on_notify(void *ctx, bool tx, bool rx)
{
	(void)ctx;
	(void)tx;
	(void)rx;
}

static void on_event(void *ctx, enum netback_event ev)
{
	(void)ctx;
	if (ev == NETBACK_EV_BROKEN)
		netback_disconnect(nb);
}

static void setup(void)
{
	struct netback_env env = {
	    .gnttab = &gnttab_domain_ops,
	    .gnttab_ctx = &guest.grantee,
	    .notify = on_notify,
	    .event = on_event,
	    .host = &sink,
	    .mac = {0x00, 0x16, 0x3e, 0, 0, 1},
	    .mtu = 1500,
	    .name = "fuzz",
	};

	log_init("fuzz_netif", LOG_LVL_ERR);
	log_set_level(LOG_LVL_ERR);
	if (vmm_fake_guest_init(&guest, 5, TABLE_GFN) < 0)
		die("grant table");
	if (netback_open(&nb, &env) < 0)
		die("netback_open");
}

static void check_released(void)
{
	const char *left = vmm_fake_leftover(&guest, NR_REFS);

	if (left)
		die(left);
}

static void connect_fe(struct fe *f)
{
	struct netback_frontend nf = {.rx_sg = f->sg, .rx_notify = true};

	vmm_fake_grant(&guest, TX_REF, TX_GFN, 0);
	vmm_fake_grant(&guest, RX_REF, RX_GFN, 0);
	memset(page(TX_GFN), 0, PAGE);
	memset(page(RX_GFN), 0, PAGE);
	SHARED_RING_INIT((netif_tx_sring_t *)page(TX_GFN));
	SHARED_RING_INIT((netif_rx_sring_t *)page(RX_GFN));
	FRONT_RING_INIT(&f->tx, (netif_tx_sring_t *)page(TX_GFN), PAGE);
	FRONT_RING_INIT(&f->rx, (netif_rx_sring_t *)page(RX_GFN), PAGE);
	if (netback_connect(nb, TX_REF, RX_REF, &nf) < 0)
		die("netback_connect");
}

/* Responses never run past the requests published (and read). */
static void check_rings(struct fe *f)
{
	struct netback_stats st;
	RING_IDX ahead;

	netback_get_stats(nb, &st);
	if (!st.connected)
		return;
	ahead = f->tx.sring->rsp_prod - f->tx.sring->req_prod;
	if (ahead && ahead < 0x80000000u)
		die("tx responses past the requests");
}

static void disconnect_fe(void)
{
	netback_disconnect(nb);
	check_released();
}

static netif_tx_request_t *tx_slot(struct fe *f)
{
	return RING_GET_REQUEST(&f->tx, f->tx.req_prod_pvt++);
}

static void op_raw(struct fe *f, struct fuzz_input *in)
{
	uint8_t slot[sizeof(netif_tx_request_t)] = {0};
	size_t n = in->left < sizeof(slot) ? in->left : sizeof(slot);
	const uint8_t *b;

	if (n && fuzz_take(in, n, &b))
		memcpy(slot, b, n);
	memcpy(tx_slot(f), slot, sizeof(slot));
}

static void op_template(struct fe *f, struct fuzz_input *in)
{
	netif_tx_request_t *r;
	const uint8_t *b;

	if (!fuzz_take(in, 6, &b))
		return;
	r = tx_slot(f);
	r->gref = DATA_REF(b[0] % (NR_DATA + 4));
	r->offset = (uint16_t)((b[1] | b[2] << 8) % (PAGE + 64));
	r->size = (uint16_t)(b[3] | b[4] << 8);
	if (b[5] & 0x80)
		r->size %= 2048;
	r->flags = b[5] & 0xf;
	r->id = (uint16_t)f->tx.req_prod_pvt;
}

static void op_extra(struct fe *f, struct fuzz_input *in)
{
	struct netif_extra_info *x;
	const uint8_t *b;

	if (!fuzz_take(in, 2, &b))
		return;
	x = (void *)tx_slot(f);
	memset(x, 0, sizeof(netif_tx_request_t));
	x->type = b[0] % 6;
	x->flags = b[1] & 1;
}

static void op_push(struct fe *f, struct fuzz_input *in)
{
	int v = fuzz_take_byte(in);
	RING_IDX prod = f->tx.req_prod_pvt;

	if (v > 0 && (v & 0x80))
		prod += (RING_IDX)(v & 0x7f) << 24 | (RING_IDX)v;
	__atomic_store_n(&f->tx.sring->req_prod, prod, __ATOMIC_RELEASE);
	netback_kick(nb);
	check_rings(f);
}

static void op_post(struct fe *f, struct fuzz_input *in)
{
	int v = fuzz_take_byte(in);
	netif_rx_request_t *r;

	if (v < 0)
		return;
	r = RING_GET_REQUEST(&f->rx, f->rx.req_prod_pvt++);
	r->id = (uint16_t)v;
	r->gref = DATA_REF((unsigned int)v % (NR_DATA + 4));
	__atomic_store_n(&f->rx.sring->req_prod, f->rx.req_prod_pvt,
			 __ATOMIC_RELEASE);
}

static void op_frame(struct fuzz_input *in)
{
	const uint8_t *b;
	size_t len;

	if (!fuzz_take(in, 2, &b))
		return;
	len = (size_t)(b[0] | b[1] << 8);
	if (b[1] & 0x80)
		len %= 1600;
	memset(frame, b[0], len);
	netback_rx(nb, frame, len);
}

static void op_rx_corrupt(struct fe *f, struct fuzz_input *in)
{
	int v = fuzz_take_byte(in);

	if (v < 0)
		return;
	__atomic_store_n(&f->rx.sring->req_prod,
			 f->rx.req_prod_pvt + (RING_IDX)(int8_t)v * 5,
			 __ATOMIC_RELEASE);
	netback_rx(nb, frame, 60);
	netback_kick(nb);
}

static void grants_reset(void)
{
	unsigned int i;

	for (i = 0; i < NR_DATA; i++)
		vmm_fake_grant(&guest, DATA_REF(i), DATA_GFN(i),
			       i % 4 == 3 ? GTF_readonly : 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_input in = {.p = data, .left = size};
	struct fe f;
	int cfg, op;

	if (!nb)
		setup();
	cfg = fuzz_take_byte(&in);
	if (cfg < 0)
		return 0;
	grants_reset();
	memset(&f, 0, sizeof(f));
	f.sg = cfg & 1;
	refuse = cfg & 2;
	connect_fe(&f);
	while ((op = fuzz_take_byte(&in)) >= 0) {
		switch (op % 8) {
		case 0:
			op_raw(&f, &in);
			break;
		case 1:
			op_template(&f, &in);
			break;
		case 2:
			op_push(&f, &in);
			break;
		case 3:
			op_post(&f, &in);
			break;
		case 4:
			op_frame(&in);
			break;
		case 5:
			op_rx_corrupt(&f, &in);
			break;
		case 6:
			disconnect_fe();
			connect_fe(&f);
			break;
		default:
			op_extra(&f, &in);
			break;
		}
	}
	__atomic_store_n(&f.tx.sring->req_prod, f.tx.req_prod_pvt,
			 __ATOMIC_RELEASE);
	netback_kick(nb);
	disconnect_fe();
	return 0;
}
