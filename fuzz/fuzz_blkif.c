/* SPDX-License-Identifier: MIT */
/*
 * The block backend (vmm/blkback.c) under a hostile frontend.  A fake
 * domain (tests/unit/vmm_fake.c) with a grant table in its RAM grants
 * ring pages, indirect pages and data pages (some read-only) to domain 0;
 * two disks, read-write and read-only, are memfds of BLK_SECTORS sectors.
 * Each input connects one of them and drives its ring:
 *
 *	u8 config	bits 0-1: ring order 0, 1, 2 or 4; bit 2: read-only;
 *			bit 3: the last disconnect with I/O in flight
 *	then ops, each an opcode byte (mod 7) and its bytes:
 *	0 raw		up to 112 bytes into the next ring slot
 *	1 template	8 bytes: a request of a chosen kind, mostly valid
 *	2 push		1 byte: publish req_prod (bit 7: a corrupt one), kick
 *	3 reap		1 byte: reap completions (bit 0: until none in flight)
 *	4 indirect	9 bytes: page, u16 segment, then the segment's 6 bytes
 *	5 grant		2 bytes: a data or indirect grant revoked, made
 *			read-only or writable (when the backend lets go)
 *	6 reconnect	1 byte: disconnect (bit 0: at once, else after
 *			draining), check, connect a fresh ring
 *
 * At the end everything is pushed and kicked, and the disk disconnected.
 * A broken ring makes the harness disconnect from the event callback, as
 * the xenbus glue does.  Checked beyond the sanitizers: every request taken off
 * the ring got exactly one response, and after a disconnect no grant is
 * mapped and no entry is left marked in use.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "blkback.h"
#include "fuzz_input.h"
#include "gnttab.h"
#include "log.h"
#include "vmm_fake.h"

#define xen_mb() __atomic_thread_fence(__ATOMIC_SEQ_CST)
#define xen_rmb() __atomic_thread_fence(__ATOMIC_ACQUIRE)
#define xen_wmb() __atomic_thread_fence(__ATOMIC_RELEASE)
#include <xen/io/blkif.h>

#define PAGE 4096u
#define TABLE_GFN 16u
#define NR_REFS 512u
#define RING_REF(i) (1u + (i))
#define RING_GFN(i) (0x7fu - 3u * (i))
#define IND_REF(i) (20u + (i)) /* 8, read-only */
#define IND_GFN(i) (0xa0u + (i))
#define DATA_REF(i) (32u + (i)) /* 64, every fourth read-only */
#define DATA_GFN(i) (0x100u + (i))
#define NR_DATA 64u
#define BLK_SECTORS 128u
#define SLOT 112u

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct vmm_fake_guest guest;
static struct blkback *disks[2];
static struct blkback *current; /* the disk this input drives */
static unsigned int disconnected_events;

struct fe {
	struct blkback *b;
	unsigned int nr_pages, nr_ents;
	RING_IDX req_prod_pvt;
	uint64_t taken0; /* the backend's request count at connect */
};

static void die(const char *what)
{
	fprintf(stderr, "fuzz_blkif: %s\n", what);
	abort();
}

static uint8_t *page(uint64_t gfn)
{
	return vmm_fake_page(&guest, gfn);
}

static void grant_data(unsigned int i)
{
	vmm_fake_grant(&guest, DATA_REF(i), DATA_GFN(i),
		       i % 4 == 3 ? GTF_readonly : 0);
}

static void reset_indirect(unsigned int p)
{
	struct blkif_request_segment *s = (void *)page(IND_GFN(p));
	unsigned int i;

	for (i = 0; i < PAGE / sizeof(*s); i++)
		s[i] =
		    (struct blkif_request_segment){DATA_REF(i % NR_DATA), 0, 7};
}

static struct blkback *open_disk(bool readonly, const struct blkback_env *env)
{
	struct blkback *b;
	char path[64];
	int fd;

	fd = memfd_create("fuzz-blkif", MFD_CLOEXEC);
	if (fd < 0 || ftruncate(fd, BLK_SECTORS * 512) < 0)
		die("memfd");
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	if (blkback_open(&b, path, readonly, env) < 0)
		die("blkback_open");
	close(fd);
	return b;
}

static void on_notify(void *ctx)
{
	(void)ctx;
}

/* As the xenbus glue does: a broken ring fails the device. */
static void on_event(void *ctx, enum blkback_event ev)
{
	(void)ctx;
	if (ev == BLKBACK_EV_BROKEN)
		(void)blkback_disconnect(current);
	else
		disconnected_events++;
}

static void setup(void)
{
	static const struct blkback_env env = {
	    .gnttab = &gnttab_domain_ops,
	    .gnttab_ctx = &guest.grantee,
	    .notify = on_notify,
	    .event = on_event,
	    .name = "fuzz",
	};

	log_init("fuzz_blkif", LOG_LVL_ERR);
	log_set_level(LOG_LVL_ERR);
	if (vmm_fake_guest_init(&guest, 5, TABLE_GFN) < 0)
		die("grant table");
	disks[0] = open_disk(false, &env);
	disks[1] = open_disk(true, &env);
}

/* Nothing mapped, nothing marked in use: what a disconnect leaves. */
static void check_released(void)
{
	const char *left = vmm_fake_leftover(&guest, NR_REFS);

	if (left)
		die(left);
}

static struct blkif_sring *sring(void)
{
	return (struct blkif_sring *)page(RING_GFN(0));
}

static void drain(struct fe *f)
{
	while (blkback_wait(f->b, -1))
		;
}

static void connect_fe(struct fe *f)
{
	grant_ref_t refs[16];
	struct blkback_stats st;
	unsigned int i;

	for (i = 0; i < f->nr_pages; i++) {
		vmm_fake_grant(&guest, RING_REF(i), RING_GFN(i), 0);
		memset(page(RING_GFN(i)), 0, PAGE);
		refs[i] = RING_REF(i);
	}
	SHARED_RING_INIT(sring());
	f->nr_ents = __CONST_RING_SIZE(blkif, (size_t)f->nr_pages * PAGE);
	f->req_prod_pvt = 0;
	if (blkback_connect(f->b, refs, f->nr_pages, NULL) < 0)
		die("blkback_connect");
	blkback_get_stats(f->b, &st);
	f->taken0 = st.requests;
}

/*
 * Disconnects (at once, or after draining), lets what was in flight
 * finish, and checks what the backend left behind.
 */
static void disconnect_fe(struct fe *f, bool now)
{
	struct blkback_stats st;
	RING_IDX rsp_prod;
	unsigned int events = disconnected_events;
	int rc = 0;

	if (now)
		rc = blkback_disconnect(f->b);
	drain(f);
	if (rc == -EINPROGRESS && disconnected_events != events + 1)
		die("no event after a disconnect in progress");
	blkback_get_stats(f->b, &st);
	rsp_prod = __atomic_load_n(&sring()->rsp_prod, __ATOMIC_ACQUIRE);
	if (rsp_prod != (RING_IDX)(st.requests - f->taken0))
		die("a request without exactly one response");
	if (blkback_disconnect(f->b) != 0)
		die("disconnect with nothing in flight");
	check_released();
}

static void slot_write(struct fe *f, RING_IDX idx, const void *buf, size_t len)
{
	size_t off = offsetof(struct blkif_sring, ring) +
		     (size_t)(idx & (f->nr_ents - 1)) * SLOT;
	const uint8_t *p = buf;

	while (len) {
		size_t pg = off / PAGE, in = off % PAGE;
		size_t n = PAGE - in < len ? PAGE - in : len;

		memcpy(page(RING_GFN(pg)) + in, p, n);
		p += n;
		off += n;
		len -= n;
	}
}

static void op_raw(struct fe *f, struct fuzz_input *in)
{
	uint8_t slot[SLOT] = {0};
	size_t n = in->left < SLOT ? in->left : SLOT;
	const uint8_t *b;

	if (n && fuzz_take(in, n, &b))
		memcpy(slot, b, n);
	slot_write(f, f->req_prod_pvt++, slot, SLOT);
}

static void op_template(struct fe *f, struct fuzz_input *in)
{
	static const uint8_t ops[8] = {
	    BLKIF_OP_READ,	    BLKIF_OP_WRITE,
	    BLKIF_OP_WRITE_BARRIER, BLKIF_OP_FLUSH_DISKCACHE,
	    BLKIF_OP_DISCARD,	    BLKIF_OP_INDIRECT,
	    BLKIF_OP_RESERVED_1,    0x42};
	union {
		struct blkif_request rw;
		struct blkif_request_discard dis;
		struct blkif_request_indirect ind;
		uint8_t raw[SLOT];
	} u;
	const uint8_t *b;
	unsigned int i, nseg, sector;

	if (!fuzz_take(in, 8, &b))
		return;
	memset(&u, 0, sizeof(u));
	sector = (b[2] | b[3] << 8) % (BLK_SECTORS + 16);
	u.rw.operation = ops[b[0] % 8];
	u.rw.id = b[7];
	u.rw.sector_number = sector;
	switch (u.rw.operation) {
	case BLKIF_OP_DISCARD:
		u.dis.flag = b[6] & 1;
		u.dis.sector_number = sector;
		u.dis.nr_sectors = b[1];
		break;
	case BLKIF_OP_INDIRECT:
		u.ind.indirect_op = b[6] % 3;
		u.ind.nr_segments = (uint16_t)(b[1] | (b[6] >> 2) << 8);
		u.ind.id = b[7];
		u.ind.sector_number = sector;
		for (i = 0; i < BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST; i++)
			u.ind.indirect_grefs[i] = IND_REF((b[4] + i) % 10);
		break;
	default:
		nseg = b[1] % 13;
		u.rw.nr_segments = (uint8_t)nseg;
		for (i = 0; i < nseg && i < BLKIF_MAX_SEGMENTS_PER_REQUEST;
		     i++) {
			u.rw.seg[i].gref = 32 + (b[4] + i * 5) % (NR_DATA + 8);
			u.rw.seg[i].first_sect = (b[5] + i) & 7;
			u.rw.seg[i].last_sect =
			    b[5] & 0x80 ? 7 : (uint8_t)((b[5] >> 3) & 15);
		}
		break;
	}
	slot_write(f, f->req_prod_pvt++, u.raw, SLOT);
}

static void op_push(struct fe *f, struct fuzz_input *in)
{
	int v = fuzz_take_byte(in);
	RING_IDX prod = f->req_prod_pvt;

	if (v > 0 && (v & 0x80))
		prod += (RING_IDX)(v & 0x7f) << 25 | (RING_IDX)v;
	__atomic_store_n(&sring()->req_prod, prod, __ATOMIC_RELEASE);
	blkback_kick(f->b);
}

static void op_reap(struct fe *f, struct fuzz_input *in)
{
	int v = fuzz_take_byte(in);

	if (v > 0 && (v & 1))
		drain(f);
	else
		(void)blkback_wait(f->b, 0);
}

static void op_indirect(struct fuzz_input *in)
{
	struct blkif_request_segment *s;
	const uint8_t *b;
	uint16_t idx;

	if (!fuzz_take(in, 9, &b))
		return;
	s = (void *)page(IND_GFN(b[0] % 8));
	memcpy(&idx, b + 1, 2);
	memcpy(&s[idx % (PAGE / sizeof(*s))], b + 3, 6);
}

/* The guest changes a grant, as it may when the backend is not using it. */
static void op_grant(struct fuzz_input *in)
{
	grant_entry_v1_t *e;
	const uint8_t *b;
	grant_ref_t ref;
	uint16_t old, new;
	uint64_t gfn;

	if (!fuzz_take(in, 2, &b))
		return;
	if (b[0] % 9 == 8) {
		ref = IND_REF(b[0] % 8);
		gfn = IND_GFN(b[0] % 8);
	} else {
		ref = DATA_REF(b[0] % NR_DATA);
		gfn = DATA_GFN(b[0] % NR_DATA);
	}
	e = vmm_fake_entry(&guest, ref);
	old = __atomic_load_n(&e->flags, __ATOMIC_SEQ_CST);
	if (old & (GTF_reading | GTF_writing))
		return;
	switch (b[1] % 3) {
	case 0:
		new = 0;
		break;
	case 1:
		new = GTF_permit_access | GTF_readonly;
		break;
	default:
		new = GTF_permit_access;
		break;
	}
	e->frame = (uint32_t)gfn;
	(void)__atomic_compare_exchange_n(&e->flags, &old, new, false,
					  __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const unsigned int orders[4] = {0, 1, 2, 4};
	struct fuzz_input in = {.p = data, .left = size};
	struct fe f;
	unsigned int i;
	int cfg, op;

	if (!guest.d)
		setup();
	cfg = fuzz_take_byte(&in);
	if (cfg < 0)
		return 0;
	for (i = 0; i < NR_DATA; i++)
		grant_data(i);
	for (i = 0; i < 8; i++) {
		vmm_fake_grant(&guest, IND_REF(i), IND_GFN(i), GTF_readonly);
		reset_indirect(i);
	}
	memset(&f, 0, sizeof(f));
	f.b = disks[(cfg >> 2) & 1];
	current = f.b;
	f.nr_pages = 1u << orders[cfg & 3];
	connect_fe(&f);
	while ((op = fuzz_take_byte(&in)) >= 0) {
		switch (op % 7) {
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
			op_reap(&f, &in);
			break;
		case 4:
			op_indirect(&in);
			break;
		case 5:
			op_grant(&in);
			break;
		default:
			disconnect_fe(&f, fuzz_take_byte(&in) & 1);
			connect_fe(&f);
			break;
		}
	}
	__atomic_store_n(&sring()->req_prod, f.req_prod_pvt, __ATOMIC_RELEASE);
	blkback_kick(f.b);
	disconnect_fe(&f, cfg & 8);
	return 0;
}
