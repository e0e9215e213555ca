/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the network backend (vmm/netback.c, netback_csum.c,
 * vif.c's spec parser, the tap and slirp host sides) without KVM: the
 * test is the frontend.  A vmm_fake domain (RAM from malloc, a real grant
 * table placed in RAM) grants its two ring pages and its data pages to
 * domain 0; the host side is a loopback that records the frames the
 * guest sends and lets the test inject frames for it.
 *
 * Covered: single- and multi-slot tx packets reach the host whole (with
 * extra-info slots answered NULL); csum_blank packets leave with correct
 * TCP/UDP checksums; malformed tx packets (slot past its page, runt,
 * sizes that do not add up, over-long chains, GSO, bad or ungranted
 * grants) are answered ERROR and counted while the ring goes on; rx
 * frames land in posted buffers (several slots past 4 KiB), wait in the
 * queue without buffers and are dropped past it, fail on read-only
 * buffers; corrupt indexes break only that vif; disconnect releases every
 * grant.  Then the --vif parser, a real tap on a bridge in a private
 * network namespace, and slirp answering ARP.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_packet.h>
#include <linux/sockios.h>
#include <arpa/inet.h>
#include <net/ethernet.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "domain.h"
#include "gnttab.h"
#include "log.h"
#include "loop.h"
#include "netback.h"
#include "nethost.h"
#include "vif.h"
#include "vmm_fake.h"

#define xen_mb() __atomic_thread_fence(__ATOMIC_SEQ_CST)
#define xen_rmb() __atomic_thread_fence(__ATOMIC_ACQUIRE)
#define xen_wmb() __atomic_thread_fence(__ATOMIC_RELEASE)
#include <xen/io/netif.h>

extern unsigned int if_nametoindex(const char *ifname);

#define PAGE 4096u
#define FE_DOMID 3
#define TABLE_GFN 16u
#define NR_REFS 512u
#define TX_REF(v) (1u + 2u * (v))
#define RX_REF(v) (2u + 2u * (v))
#define TX_GFN(v) (0x40u + 2u * (v))
#define RX_GFN(v) (0x41u + 2u * (v))
#define DATA_REF(i) (100u + (i))
#define DATA_GFN(i) (0x100u + (i))
#define NR_DATA 128u
#define RO_REF 90u /* granted read-only */
#define RO_GFN 0x90u
#define UNGRANTED_REF 91u
#define MAX_FRAMES 128

struct thost {
	struct nethost h;
	unsigned int nr;
	size_t len[MAX_FRAMES];
	uint8_t *frame[MAX_FRAMES];
	bool refuse;
};

struct fe {
	struct domain *d;
	struct gnttab_grantee gr;
	struct thost host;
	struct netback *nb;
	unsigned int v; /* which ring pair */
	netif_tx_front_ring_t tx;
	netif_rx_front_ring_t rx;
	unsigned int notifies, broken;
};

/* --- the loopback host ------------------------------------------------- */

static int thost_send(struct nethost *h, const void *frame, size_t len)
{
	struct thost *t = (struct thost *)h;

	if (t->refuse || t->nr == MAX_FRAMES)
		return -EAGAIN;
	t->frame[t->nr] = malloc(len);
	assert_non_null(t->frame[t->nr]);
	memcpy(t->frame[t->nr], frame, len);
	t->len[t->nr++] = len;
	return 0;
}

static void thost_reset(struct thost *t)
{
	unsigned int i;

	for (i = 0; i < t->nr; i++)
		free(t->frame[i]);
	t->nr = 0;
}

static void thost_close(struct nethost *h)
{
	thost_reset((struct thost *)h);
}

static const struct nethost_ops thost_ops = {
    .kind = "test",
    .send = thost_send,
    .close = thost_close,
};

/* --- the frontend -------------------------------------------------------- */

static uint8_t *page(struct domain *d, uint64_t gfn)
{
	return d->ram + gfn * PAGE;
}

static grant_entry_v1_t *entry(struct domain *d, grant_ref_t ref)
{
	return (grant_entry_v1_t *)page(d, TABLE_GFN) + ref;
}

static void grant(struct domain *d, grant_ref_t ref, uint64_t gfn,
		  uint16_t flags)
{
	grant_entry_v1_t *e = entry(d, ref);

	e->domid = 0;
	e->frame = (uint32_t)gfn;
	__atomic_store_n(&e->flags, GTF_permit_access | flags,
			 __ATOMIC_SEQ_CST);
}

static void fe_notify(void *ctx, bool tx, bool rx)
{
	(void)tx;
	(void)rx;
	((struct fe *)ctx)->notifies++;
}

static void fe_event(void *ctx, enum netback_event ev)
{
	struct fe *f = ctx;

	assert_int_equal(ev, NETBACK_EV_BROKEN);
	f->broken++;
	/* As the glue does: the device fails, its rings are released. */
	netback_disconnect(f->nb);
}

static void fe_open(struct fe *f, struct domain *d, unsigned int v)
{
	struct netback_env env = {
	    .gnttab = &gnttab_domain_ops,
	    .notify = fe_notify,
	    .event = fe_event,
	    .ctx = f,
	    .mac = {0x00, 0x16, 0x3e, 1, 2, 3},
	    .mtu = 1500,
	    .name = "test vif",
	};

	memset(f, 0, sizeof(*f));
	f->d = d;
	f->v = v;
	f->gr = (struct gnttab_grantee){d, 0};
	f->host.h.ops = &thost_ops;
	env.gnttab_ctx = &f->gr;
	env.host = &f->host.h;
	assert_int_equal(netback_open(&f->nb, &env), 0);
}

static struct domain *dom_new(void)
{
	struct domain *d = vmm_fake_domain(FE_DOMID, 1);
	unsigned int i;

	assert_int_equal(gnttab_add_to_physmap(d, 0, TABLE_GFN), 0);
	for (i = 0; i < NR_DATA; i++)
		grant(d, DATA_REF(i), DATA_GFN(i), 0);
	grant(d, RO_REF, RO_GFN, GTF_readonly);
	return d;
}

static void fe_connect(struct fe *f, bool sg)
{
	struct netback_frontend fe = {.rx_sg = sg, .rx_notify = true};
	netif_tx_sring_t *txs = (void *)page(f->d, TX_GFN(f->v));
	netif_rx_sring_t *rxs = (void *)page(f->d, RX_GFN(f->v));

	grant(f->d, TX_REF(f->v), TX_GFN(f->v), 0);
	grant(f->d, RX_REF(f->v), RX_GFN(f->v), 0);
	SHARED_RING_INIT(txs);
	SHARED_RING_INIT(rxs);
	FRONT_RING_INIT(&f->tx, txs, PAGE);
	FRONT_RING_INIT(&f->rx, rxs, PAGE);
	assert_int_equal(
	    netback_connect(f->nb, TX_REF(f->v), RX_REF(f->v), &fe), 0);
}

static void assert_all_released(struct domain *d)
{
	grant_ref_t ref;

	assert_int_equal(d->gnttab.maptrack_used, 0);
	for (ref = 0; ref < NR_REFS; ref++)
		assert_int_equal(
		    entry(d, ref)->flags & (GTF_reading | GTF_writing), 0);
}

static void fe_close(struct fe *f)
{
	netback_close(f->nb);
	thost_reset(&f->host);
}

static void tx_put(struct fe *f, grant_ref_t gref, uint16_t off, uint16_t size,
		   uint16_t flags, uint16_t id)
{
	netif_tx_request_t *r = RING_GET_REQUEST(&f->tx, f->tx.req_prod_pvt++);

	r->gref = gref;
	r->offset = off;
	r->size = size;
	r->flags = flags;
	r->id = id;
}

static void tx_put_extra(struct fe *f, uint8_t type, uint8_t flags)
{
	struct netif_extra_info *x =
	    (void *)RING_GET_REQUEST(&f->tx, f->tx.req_prod_pvt++);

	memset(x, 0, sizeof(netif_tx_request_t));
	x->type = type;
	x->flags = flags;
}

static void tx_run(struct fe *f)
{
	int notify;

	RING_PUSH_REQUESTS_AND_CHECK_NOTIFY(&f->tx, notify);
	(void)notify;
	netback_kick(f->nb);
}

static void tx_expect(struct fe *f, uint16_t id, int16_t status)
{
	netif_tx_response_t *r;

	assert_true(RING_HAS_UNCONSUMED_RESPONSES(&f->tx));
	r = RING_GET_RESPONSE(&f->tx, f->tx.rsp_cons++);
	assert_int_equal(r->status, status);
	if (status != NETIF_RSP_NULL)
		assert_int_equal(r->id, id);
}

static void tx_expect_none(struct fe *f)
{
	assert_false(RING_HAS_UNCONSUMED_RESPONSES(&f->tx));
}

static void rx_post(struct fe *f, grant_ref_t gref, uint16_t id)
{
	netif_rx_request_t *r = RING_GET_REQUEST(&f->rx, f->rx.req_prod_pvt++);
	int notify;

	r->id = id;
	r->gref = gref;
	RING_PUSH_REQUESTS_AND_CHECK_NOTIFY(&f->rx, notify);
	(void)notify;
}

static netif_rx_response_t rx_next(struct fe *f)
{
	assert_true(RING_HAS_UNCONSUMED_RESPONSES(&f->rx));
	return *RING_GET_RESPONSE(&f->rx, f->rx.rsp_cons++);
}

static void pattern(uint8_t *p, size_t len, uint8_t seed)
{
	size_t i;

	for (i = 0; i < len; i++)
		p[i] = (uint8_t)(seed + i * 13 + (i >> 8));
}

/* --- checksums, computed here independently ------------------------------ */

static uint16_t ref_sum(const uint8_t *p, size_t len, uint32_t sum)
{
	size_t i;

	for (i = 0; i < len; i++)
		sum += i & 1 ? p[i] : (uint32_t)p[i] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

/* An Ethernet/IPv4 frame with a TCP (proto 6) or UDP (17) payload. */
static size_t make_ipv4(uint8_t *f, uint8_t proto, size_t payload)
{
	size_t l4 = (proto == 6 ? 20 : 8) + payload, tot = 20 + l4;

	memset(f, 0, 14 + tot);
	memset(f, 0xff, 6);
	f[12] = 0x08;
	f[14] = 0x45;
	f[16] = (uint8_t)(tot >> 8);
	f[17] = (uint8_t)tot;
	f[22] = 64;
	f[23] = proto;
	memcpy(f + 26, "\x0a\x00\x02\x0f\x0a\x00\x02\x02", 8);
	f[34] = 0x12;
	f[35] = 0x34;
	f[36] = 0x00;
	f[37] = 0x50;
	if (proto == 17) {
		f[38] = (uint8_t)(l4 >> 8);
		f[39] = (uint8_t)l4;
	} else {
		f[46] = 0x50;
	}
	pattern(f + 14 + 20 + (proto == 6 ? 20 : 8), payload, 0x33);
	/* Garbage where the checksum goes: csum_blank must not trust it. */
	f[34 + (proto == 6 ? 16 : 6)] = 0xde;
	f[34 + (proto == 6 ? 17 : 7)] = 0xad;
	return 14 + tot;
}

static bool ref_l4_ok(const uint8_t *f, size_t len)
{
	size_t l4 = (size_t)(f[16] << 8 | f[17]) - 20;
	uint32_t pseudo = 0;

	(void)len;
	pseudo = ref_sum(f + 26, 8, 0) + f[23] + (uint32_t)l4;
	return ref_sum(f + 34, l4, pseudo) == 0xffff;
}

/* --- tx ------------------------------------------------------------------ */

static void test_tx_single_and_multi(void **state)
{
	struct domain *d = dom_new();
	struct netback_stats st;
	uint8_t want[5000];
	struct fe f;

	(void)state;
	fe_open(&f, d, 0);
	fe_connect(&f, true);
	/* One slot: 60 bytes at offset 100. */
	pattern(page(d, DATA_GFN(0)) + 100, 60, 1);
	tx_put(&f, DATA_REF(0), 100, 60, 0, 7);
	tx_run(&f);
	tx_expect(&f, 7, NETIF_RSP_OKAY);
	tx_expect_none(&f);
	assert_int_equal(f.host.nr, 1);
	assert_int_equal(f.host.len[0], 60);
	assert_memory_equal(f.host.frame[0], page(d, DATA_GFN(0)) + 100, 60);
	/* Three slots and a multicast extra (ignored, answered NULL). */
	pattern(want, sizeof(want), 9);
	memcpy(page(d, DATA_GFN(1)) + 96, want, 2000);
	memcpy(page(d, DATA_GFN(2)), want + 2000, 2000);
	memcpy(page(d, DATA_GFN(3)) + 3000, want + 4000, 1000);
	tx_put(&f, DATA_REF(1), 96, 5000, NETTXF_more_data | NETTXF_extra_info,
	       10);
	tx_put_extra(&f, XEN_NETIF_EXTRA_TYPE_MCAST_ADD, 0);
	tx_put(&f, DATA_REF(2), 0, 2000, NETTXF_more_data, 11);
	tx_put(&f, DATA_REF(3), 3000, 1000, 0, 12);
	tx_run(&f);
	tx_expect(&f, 10, NETIF_RSP_OKAY);
	tx_expect(&f, 0, NETIF_RSP_NULL);
	tx_expect(&f, 11, NETIF_RSP_OKAY);
	tx_expect(&f, 12, NETIF_RSP_OKAY);
	tx_expect_none(&f);
	assert_int_equal(f.host.nr, 2);
	assert_int_equal(f.host.len[1], 5000);
	assert_memory_equal(f.host.frame[1], want, 5000);
	/* A packet pushed in two halves waits for its second half. */
	tx_put(&f, DATA_REF(4), 0, 100, NETTXF_more_data, 20);
	tx_run(&f);
	tx_expect_none(&f);
	tx_put(&f, DATA_REF(5), 0, 40, 0, 21);
	tx_run(&f);
	tx_expect(&f, 20, NETIF_RSP_OKAY);
	tx_expect(&f, 21, NETIF_RSP_OKAY);
	assert_int_equal(f.host.nr, 3);
	assert_int_equal(f.host.len[2], 100);
	netback_get_stats(f.nb, &st);
	assert_int_equal(st.tx_packets, 3);
	assert_int_equal(st.tx_bytes, 5160);
	assert_int_equal(st.tx_malformed, 0);
	assert_true(st.notifications >= 1 && st.notifications <= st.kicks);
	netback_disconnect(f.nb);
	assert_all_released(d);
	fe_close(&f);
	vmm_fake_free(d);
}

static void test_tx_csum_blank(void **state)
{
	struct domain *d = dom_new();
	uint8_t fr[2000];
	unsigned int i;
	size_t len;
	struct fe f;

	(void)state;
	fe_open(&f, d, 0);
	fe_connect(&f, true);
	for (i = 0; i < 2; i++) {
		len = make_ipv4(fr, i ? 6 : 17, 1001);
		memcpy(page(d, DATA_GFN(i)), fr, len);
		tx_put(&f, DATA_REF(i), 0, (uint16_t)len, NETTXF_csum_blank,
		       (uint16_t)i);
	}
	/* Without the flag the frame leaves as it is. */
	memcpy(page(d, DATA_GFN(2)), fr, len);
	tx_put(&f, DATA_REF(2), 0, (uint16_t)len, 0, 2);
	tx_run(&f);
	assert_int_equal(f.host.nr, 3);
	assert_true(ref_l4_ok(f.host.frame[0], f.host.len[0]));
	assert_true(ref_l4_ok(f.host.frame[1], f.host.len[1]));
	assert_true(netback_csum_ok(f.host.frame[1], f.host.len[1]));
	assert_false(ref_l4_ok(f.host.frame[2], f.host.len[2]));
	assert_false(netback_csum_ok(f.host.frame[2], f.host.len[2]));
	assert_memory_equal(f.host.frame[2], fr, len);
	netback_disconnect(f.nb);
	fe_close(&f);
	vmm_fake_free(d);
}

static void test_tx_malformed(void **state)
{
	struct domain *d = dom_new();
	struct netback_stats st;
	unsigned int i;
	struct fe f;

	(void)state;
	fe_open(&f, d, 0);
	fe_connect(&f, true);
	/* Past its page. */
	tx_put(&f, DATA_REF(0), 4000, 200, 0, 1);
	/* A runt. */
	tx_put(&f, DATA_REF(0), 0, 13, 0, 2);
	/* Later slots bigger than the packet. */
	tx_put(&f, DATA_REF(0), 0, 100, NETTXF_more_data, 3);
	tx_put(&f, DATA_REF(1), 0, 200, 0, 4);
	/* GSO, never offered. */
	tx_put(&f, DATA_REF(0), 0, 100, NETTXF_extra_info, 5);
	tx_put_extra(&f, XEN_NETIF_EXTRA_TYPE_GSO, 0);
	/* An extra of no known type. */
	tx_put(&f, DATA_REF(0), 0, 100, NETTXF_extra_info, 6);
	tx_put_extra(&f, 9, 0);
	/* An ungranted page, a grant outside the table. */
	tx_put(&f, UNGRANTED_REF, 0, 100, 0, 7);
	tx_put(&f, 0x7fffffff, 0, 100, 0, 8);
	/* Read-only is all tx needs. */
	tx_put(&f, RO_REF, 0, 100, 0, 9);
	tx_run(&f);
	for (i = 1; i <= 4; i++)
		tx_expect(&f, (uint16_t)i, NETIF_RSP_ERROR);
	tx_expect(&f, 5, NETIF_RSP_ERROR);
	tx_expect(&f, 0, NETIF_RSP_NULL);
	tx_expect(&f, 6, NETIF_RSP_ERROR);
	tx_expect(&f, 0, NETIF_RSP_NULL);
	tx_expect(&f, 7, NETIF_RSP_ERROR);
	tx_expect(&f, 8, NETIF_RSP_ERROR);
	tx_expect(&f, 9, NETIF_RSP_OKAY);
	tx_expect_none(&f);
	assert_int_equal(f.host.nr, 1);
	/* A chain of 25 slots: every one answered ERROR, then one good. */
	for (i = 0; i < 25; i++)
		tx_put(&f, DATA_REF(i), 0, i ? 10 : 400,
		       i < 24 ? NETTXF_more_data : 0, (uint16_t)(100 + i));
	tx_put(&f, DATA_REF(0), 0, 64, 0, 200);
	tx_run(&f);
	for (i = 0; i < 25; i++)
		tx_expect(&f, (uint16_t)(100 + i), NETIF_RSP_ERROR);
	tx_expect(&f, 200, NETIF_RSP_OKAY);
	tx_expect_none(&f);
	assert_int_equal(f.host.nr, 2);
	/* The host refusing a frame: OKAY to the guest, counted. */
	f.host.refuse = true;
	tx_put(&f, DATA_REF(0), 0, 64, 0, 201);
	tx_run(&f);
	tx_expect(&f, 201, NETIF_RSP_OKAY);
	netback_get_stats(f.nb, &st);
	assert_int_equal(st.tx_malformed, 6);
	assert_int_equal(st.tx_errors, 2);
	assert_int_equal(st.tx_host_drops, 1);
	assert_int_equal(st.tx_packets, 2);
	assert_false(st.broken);
	netback_disconnect(f.nb);
	assert_all_released(d);
	fe_close(&f);
	vmm_fake_free(d);
}

/* A full ring of requests, more than one pass: all answered, in order. */
static void test_tx_full_ring(void **state)
{
	struct domain *d = dom_new();
	unsigned int i, round;
	struct fe f;

	(void)state;
	fe_open(&f, d, 0);
	fe_connect(&f, true);
	for (round = 0; round < 3; round++) {
		for (i = 0; i < RING_SIZE(&f.tx); i++)
			tx_put(&f, DATA_REF(i % NR_DATA), 0, 60, 0,
			       (uint16_t)i);
		tx_run(&f);
		for (i = 0; i < RING_SIZE(&f.tx); i++)
			tx_expect(&f, (uint16_t)i, NETIF_RSP_OKAY);
		tx_expect_none(&f);
	}
	assert_int_equal(f.host.nr, MAX_FRAMES);
	netback_disconnect(f.nb);
	fe_close(&f);
	vmm_fake_free(d);
}

/* --- rx ------------------------------------------------------------------ */

static void test_rx(void **state)
{
	struct domain *d = dom_new();
	netif_rx_response_t r;
	struct netback_stats st;
	uint8_t fr[9000];
	unsigned int i;
	size_t len;
	struct fe f;

	(void)state;
	fe_open(&f, d, 0);
	fe_connect(&f, true);
	for (i = 0; i < 4; i++)
		rx_post(&f, DATA_REF(i), (uint16_t)(50 + i));
	pattern(fr, 100, 5);
	netback_rx(f.nb, fr, 100);
	r = rx_next(&f);
	assert_int_equal(r.id, 50);
	assert_int_equal(r.status, 100);
	assert_int_equal(r.offset, 0);
	assert_int_equal(r.flags, 0);
	assert_memory_equal(page(d, DATA_GFN(0)), fr, 100);
	/* 9000 bytes: three buffers, more_data on the first two. */
	pattern(fr, sizeof(fr), 6);
	netback_rx(f.nb, fr, sizeof(fr));
	for (i = 1; i < 4; i++) {
		r = rx_next(&f);
		assert_int_equal(r.id, 50 + i);
		assert_int_equal(r.status, i < 3 ? 4096 : 9000 - 8192);
		assert_int_equal(r.flags & NETRXF_more_data,
				 i < 3 ? NETRXF_more_data : 0);
		assert_memory_equal(page(d, DATA_GFN(i)), fr + (i - 1) * 4096,
				    (size_t)r.status);
	}
	assert_false(RING_HAS_UNCONSUMED_RESPONSES(&f.rx));
	/* A good UDP frame goes as data_validated. */
	len = make_ipv4(fr, 17, 300);
	assert_int_equal(netback_csum_fill(fr, len), 0);
	rx_post(&f, DATA_REF(10), 60);
	netback_rx(f.nb, fr, len);
	r = rx_next(&f);
	assert_int_equal(r.flags, NETRXF_data_validated);
	/* Into a read-only buffer: ERROR. */
	rx_post(&f, RO_REF, 61);
	netback_rx(f.nb, fr, len);
	r = rx_next(&f);
	assert_int_equal(r.id, 61);
	assert_int_equal(r.status, NETIF_RSP_ERROR);
	assert_int_equal(page(d, RO_GFN)[0], 0);
	netback_get_stats(f.nb, &st);
	assert_int_equal(st.rx_packets, 3);
	assert_int_equal(st.rx_bytes, 100 + 9000 + len);
	assert_int_equal(st.rx_errors, 1);
	assert_int_equal(st.rx_validated, 1);
	netback_disconnect(f.nb);
	assert_all_released(d);
	fe_close(&f);
	vmm_fake_free(d);
}

static void test_rx_queue_and_drop(void **state)
{
	struct domain *d = dom_new();
	netif_rx_response_t r;
	struct netback_stats st;
	uint8_t fr[200];
	unsigned int i;
	struct fe f;

	(void)state;
	fe_open(&f, d, 0);
	fe_connect(&f, false);
	for (i = 0; i < NETBACK_RX_QUEUE + 6; i++) {
		pattern(fr, sizeof(fr), (uint8_t)i);
		netback_rx(f.nb, fr, sizeof(fr));
	}
	netback_get_stats(f.nb, &st);
	assert_int_equal(st.rx_queued, NETBACK_RX_QUEUE);
	assert_int_equal(st.rx_dropped, 6);
	/* Without feature-sg a frame of two pages cannot go. */
	{
		static uint8_t big[5000];

		netback_rx(f.nb, big, sizeof(big));
	}
	/* Buffers posted, the frontend kicks: the queue drains in order. */
	for (i = 0; i < NETBACK_RX_QUEUE; i++)
		rx_post(&f, DATA_REF(i), (uint16_t)i);
	netback_kick(f.nb);
	for (i = 0; i < NETBACK_RX_QUEUE; i++) {
		r = rx_next(&f);
		assert_int_equal(r.id, i);
		assert_int_equal(r.status, sizeof(fr));
		pattern(fr, sizeof(fr), (uint8_t)i);
		assert_memory_equal(page(d, DATA_GFN(i)), fr, sizeof(fr));
	}
	netback_get_stats(f.nb, &st);
	assert_int_equal(st.rx_queued, 0);
	assert_int_equal(st.rx_dropped, 7);
	assert_int_equal(st.rx_packets, NETBACK_RX_QUEUE);
	/* Queued frames die with the connection. */
	netback_rx(f.nb, fr, sizeof(fr));
	netback_disconnect(f.nb);
	netback_get_stats(f.nb, &st);
	assert_int_equal(st.rx_dropped, 8);
	assert_all_released(d);
	fe_close(&f);
	vmm_fake_free(d);
}

/* --- hostile indexes, lifecycle ------------------------------------------ */

static void test_corrupt_indexes(void **state)
{
	struct domain *d = dom_new();
	struct netback_stats st;
	struct fe a, b;

	(void)state;
	fe_open(&a, d, 0);
	fe_open(&b, d, 1);
	fe_connect(&a, true);
	fe_connect(&b, true);
	/* a's tx req_prod a ring and more ahead. */
	a.tx.sring->req_prod = 1000;
	netback_kick(a.nb);
	assert_int_equal(a.broken, 1);
	netback_get_stats(a.nb, &st);
	assert_true(st.broken);
	assert_false(st.connected);
	/* b goes on. */
	tx_put(&b, DATA_REF(0), 0, 60, 0, 1);
	tx_run(&b);
	tx_expect(&b, 1, NETIF_RSP_OKAY);
	/* b's rx req_prod behind its req_cons. */
	rx_post(&b, DATA_REF(1), 1);
	netback_rx(b.nb, "0123456789abcdef", 16);
	b.rx.sring->req_prod = 0;
	netback_rx(b.nb, "0123456789abcdef", 16);
	assert_int_equal(b.broken, 1);
	assert_all_released(d);
	/* A fresh connection works again. */
	fe_connect(&a, true);
	tx_put(&a, DATA_REF(0), 0, 60, 0, 2);
	tx_run(&a);
	tx_expect(&a, 2, NETIF_RSP_OKAY);
	fe_close(&a);
	fe_close(&b);
	assert_all_released(d);
	vmm_fake_free(d);
}

static void test_connect_checks(void **state)
{
	struct domain *d = dom_new();
	struct fe f;

	(void)state;
	fe_open(&f, d, 0);
	/* A read-only ring page, an ungranted one: nothing stays mapped. */
	grant(d, TX_REF(0), TX_GFN(0), GTF_readonly);
	grant(d, RX_REF(0), RX_GFN(0), 0);
	assert_int_equal(netback_connect(f.nb, TX_REF(0), RX_REF(0), NULL),
			 -EACCES);
	grant(d, TX_REF(0), TX_GFN(0), 0);
	assert_true(netback_connect(f.nb, TX_REF(0), UNGRANTED_REF, NULL) < 0);
	assert_all_released(d);
	fe_connect(&f, true);
	assert_int_equal(netback_connect(f.nb, TX_REF(0), RX_REF(0), NULL),
			 -EBUSY);
	/* Close while connected releases everything. */
	fe_close(&f);
	assert_all_released(d);
	vmm_fake_free(d);
}

static void put_kv(void *ctx, const char *key, const char *value)
{
	char *buf = ctx;
	size_t n = strlen(buf);

	snprintf(buf + n, 1024 - n, "%s=%s;", key, value);
}

static void test_features(void **state)
{
	struct domain *d = dom_new();
	char buf[1024] = "";
	struct fe f;

	(void)state;
	fe_open(&f, d, 0);
	netback_features(f.nb, put_kv, buf);
	assert_non_null(strstr(buf, "mac=00:16:3e:01:02:03;"));
	assert_non_null(strstr(buf, "mtu=1500;"));
	assert_non_null(strstr(buf, "feature-rx-copy=1;"));
	assert_non_null(strstr(buf, "feature-sg=1;"));
	assert_non_null(strstr(buf, "feature-gso-tcpv4=0;"));
	fe_close(&f);
	vmm_fake_free(d);
}

/* --- the spec ------------------------------------------------------------ */

static void test_vif_spec(void **state)
{
	struct vif_spec s;
	char err[160];

	(void)state;
	assert_int_equal(vif_parse_spec("", &s, err, sizeof(err)), 0);
	assert_false(s.has_mac);
	assert_int_equal(s.mtu, 1500);
	assert_string_equal(s.bridge, "");
	assert_int_equal(vif_parse_spec("mac=00:16:3E:aa:0b:cc,bridge=xenbr0,"
					"mtu=9000",
					&s, err, sizeof(err)),
			 0);
	assert_true(s.has_mac);
	assert_memory_equal(s.mac, "\x00\x16\x3e\xaa\x0b\xcc", 6);
	assert_string_equal(s.bridge, "xenbr0");
	assert_int_equal(s.mtu, 9000);
	assert_int_equal(vif_parse_spec("script=vif-bridge,type=vif,"
					"model=rtl8139,bridge=br1",
					&s, err, sizeof(err)),
			 0);
	assert_string_equal(s.bridge, "br1");
	assert_int_equal(
	    vif_parse_spec("mac=01:16:3e:00:00:01", &s, err, sizeof(err)),
	    -EINVAL);
	assert_int_equal(
	    vif_parse_spec("mac=00:16:3e:00:00", &s, err, sizeof(err)),
	    -EINVAL);
	assert_int_equal(
	    vif_parse_spec("mac=00:16:3e:00:00:0g", &s, err, sizeof(err)),
	    -EINVAL);
	assert_int_equal(vif_parse_spec("mtu=67", &s, err, sizeof(err)),
			 -EINVAL);
	assert_int_equal(vif_parse_spec("mtu=1500x", &s, err, sizeof(err)),
			 -EINVAL);
	assert_int_equal(vif_parse_spec("bridge=", &s, err, sizeof(err)),
			 -EINVAL);
	assert_int_equal(vif_parse_spec("bridge=a/b", &s, err, sizeof(err)),
			 -EINVAL);
	assert_int_equal(
	    vif_parse_spec("bridge=abcdefghijklmnop", &s, err, sizeof(err)),
	    -EINVAL);
	assert_int_equal(vif_parse_spec("colour=red", &s, err, sizeof(err)),
			 -EINVAL);
	assert_int_equal(vif_parse_spec("bridge", &s, err, sizeof(err)),
			 -EINVAL);
}

/* --- real host sides ------------------------------------------------------ */

struct seen {
	unsigned int frames;
	size_t len;
	uint8_t frame[2048];
	/*
	 * Only frames of this ethertype count (0: all): a fresh tap also
	 * carries the kernel's own IPv6 chatter (router solicitations...).
	 */
	uint16_t ethertype;
};

static void seen_rx(void *ctx, const void *frame, size_t len)
{
	struct seen *s = ctx;
	const uint8_t *f = frame;

	if (s->ethertype &&
	    (len < 14 || (uint16_t)(f[12] << 8 | f[13]) != s->ethertype))
		return;
	if (len <= sizeof(s->frame)) {
		memcpy(s->frame, frame, len);
		s->len = len;
	}
	__atomic_add_fetch(&s->frames, 1, __ATOMIC_SEQ_CST);
}

static bool wait_frames(struct seen *s, unsigned int n)
{
	struct timespec ts = {0, 10000000};
	int i;

	for (i = 0; i < 300; i++) {
		if (__atomic_load_n(&s->frames, __ATOMIC_SEQ_CST) >= n)
			return true;
		nanosleep(&ts, NULL);
	}
	return false;
}

/*
 * A tap on a bridge, in a network namespace of our own (skipped where
 * that is not allowed): the bridge check, the tap's name, membership,
 * and frames both ways through an AF_PACKET socket on the tap.
 */
static void test_tap(void **state)
{
	struct nethost_config c = {.domid = 4, .devid = 1, .mtu = 1400};
	struct domain *d;
	struct nethost *h = NULL;
	struct sockaddr_ll sll;
	struct ifreq ifr;
	struct seen seen = {.ethertype = 0x88b6};
	uint8_t fr[64], got[2048];
	struct loop l;
	int sock, ps;
	ssize_t n;

	(void)state;
	if (unshare(CLONE_NEWNET) < 0 || access("/dev/net/tun", R_OK | W_OK)) {
		skip();
		return;
	}
	sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	assert_true(sock >= 0);
	/* No such bridge: refused, no tap made. */
	c.bridge = "nobr0";
	assert_int_equal(nethost_tap_open(&h, &c), -ENODEV);
	assert_int_equal(if_nametoindex("vif4.1"), 0);
	/* Not a bridge: the loopback. */
	c.bridge = "lo";
	assert_true(nethost_tap_open(&h, &c) < 0);
	assert_int_equal(if_nametoindex("vif4.1"), 0);
	assert_int_equal(ioctl(sock, SIOCBRADDBR, "xbr0"), 0);
	d = vmm_fake_domain(4, 1);
	loop_clear(&l);
	assert_int_equal(loop_init(&l), 0);
	c.bridge = "xbr0";
	c.loop = &l;
	c.rx = seen_rx;
	c.rx_ctx = &seen;
	assert_int_equal(nethost_tap_open(&h, &c), 0);
	assert_string_equal(h->ops->kind, "tap");
	assert_true(if_nametoindex("vif4.1") > 0);
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "vif4.1");
	assert_int_equal(ioctl(sock, SIOCGIFMTU, &ifr), 0);
	assert_int_equal(ifr.ifr_mtu, 1400);
	assert_int_equal(ioctl(sock, SIOCGIFFLAGS, &ifr), 0);
	assert_true(ifr.ifr_flags & IFF_UP);
	/* A second vif of that name cannot be made. */
	{
		struct nethost *h2 = NULL;

		assert_int_equal(nethost_tap_open(&h2, &c), -EBUSY);
	}
	assert_int_equal(loop_start(&l, d), 0);
	ps = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL));
	assert_true(ps >= 0);
	memset(&sll, 0, sizeof(sll));
	sll.sll_family = AF_PACKET;
	sll.sll_protocol = htons(ETH_P_ALL);
	sll.sll_ifindex = (int)if_nametoindex("vif4.1");
	assert_int_equal(bind(ps, (struct sockaddr *)&sll, sizeof(sll)), 0);
	/* Guest -> host: what the tap's fd gets shows on the interface. */
	memset(fr, 0xff, 6);
	memcpy(fr + 6, "\x00\x16\x3e\x00\x00\x01", 6);
	fr[12] = 0x88;
	fr[13] = 0xb5; /* local experimental ethertype */
	pattern(fr + 14, sizeof(fr) - 14, 3);
	assert_int_equal(nethost_send(h, fr, sizeof(fr)), 0);
	do {
		n = recv(ps, got, sizeof(got), 0);
	} while (n > 0 && memcmp(got, fr, 14));
	assert_int_equal(n, sizeof(fr));
	assert_memory_equal(got, fr, sizeof(fr));
	/* Host -> guest: sent on the interface, read from the tap. */
	fr[13] = 0xb6;
	assert_int_equal(
	    sendto(ps, fr, sizeof(fr), 0, (struct sockaddr *)&sll, sizeof(sll)),
	    sizeof(fr));
	assert_true(wait_frames(&seen, 1));
	loop_destroy(&l);
	assert_int_equal(seen.frame[13], 0xb6);
	nethost_close(h);
	/* The tap goes with its fd. */
	assert_int_equal(if_nametoindex("vif4.1"), 0);
	close(ps);
	(void)ioctl(sock, SIOCBRDELBR, "xbr0");
	close(sock);
	vmm_fake_free(d);
}

/* slirp answers an ARP request for its gateway at once. */
static void test_slirp_arp(void **state)
{
	struct nethost_config c = {.domid = 4, .devid = 0, .mtu = 1500};
	struct seen seen = {0};
	struct nethost *h;
	uint8_t arp[42] = {0};

	(void)state;
	c.rx = seen_rx;
	c.rx_ctx = &seen;
	assert_int_equal(nethost_slirp_open(&h, &c), 0);
	assert_string_equal(h->ops->kind, "slirp");
	memset(arp, 0xff, 6);
	memcpy(arp + 6, "\x00\x16\x3e\x00\x00\x01", 6);
	arp[12] = 0x08;
	arp[13] = 0x06;
	memcpy(arp + 14, "\x00\x01\x08\x00\x06\x04\x00\x01", 8);
	memcpy(arp + 22, "\x00\x16\x3e\x00\x00\x01", 6);
	memcpy(arp + 28, "\x0a\x00\x02\x0f", 4);
	memcpy(arp + 38, "\x0a\x00\x02\x02", 4);
	assert_int_equal(nethost_send(h, arp, sizeof(arp)), 0);
	assert_int_equal(seen.frames, 1);
	assert_true(seen.len >= 42);
	assert_memory_equal(seen.frame, "\x00\x16\x3e\x00\x00\x01", 6);
	assert_int_equal(seen.frame[12], 0x08);
	assert_int_equal(seen.frame[13], 0x06);
	assert_int_equal(seen.frame[21], 2); /* a reply */
	assert_memory_equal(seen.frame + 28, "\x0a\x00\x02\x02", 4);
	nethost_close(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_tx_single_and_multi),
	    cmocka_unit_test(test_tx_csum_blank),
	    cmocka_unit_test(test_tx_malformed),
	    cmocka_unit_test(test_tx_full_ring),
	    cmocka_unit_test(test_rx),
	    cmocka_unit_test(test_rx_queue_and_drop),
	    cmocka_unit_test(test_corrupt_indexes),
	    cmocka_unit_test(test_connect_checks),
	    cmocka_unit_test(test_features),
	    cmocka_unit_test(test_vif_spec),
	    cmocka_unit_test(test_slirp_arp),
	    /* Last: it moves the process into a network namespace. */
	    cmocka_unit_test(test_tap),
	};

	log_init("test_netback", LOG_LVL_ERR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
