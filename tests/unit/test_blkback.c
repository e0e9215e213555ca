/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the block backend (vmm/blkback.c, blkback_io.c) without
 * KVM: the test is the frontend.  A vmm_fake domain (RAM from malloc, a
 * real grant table placed in RAM) grants its ring pages (scattered, in
 * descending frames, so that ring slots straddle pages that are not
 * adjacent) and its data pages to domain 0; the disk is a sparse temp
 * file; requests go into the ring, blkback_kick() takes them and
 * blkback_wait() reaps the io_uring completions.  One test runs the
 * backend on a real event loop thread instead.
 *
 * Covered: write/read round trips (direct, indirect, multi-page rings,
 * index wrap-around), flush and barrier (and that a barrier holds later
 * requests back), discard punching a hole, read-only disks, every hostile
 * request we check for (answered with its id, the next one served), a
 * READ into a read-only grant, corrupt ring indexes (one disk stops, the
 * other goes on), connect checks, disconnect with I/O in flight, and that
 * every grant is released.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "blkback.h"
#include "domain.h"
#include "gnttab.h"
#include "log.h"
#include "loop.h"
#include "vmm_fake.h"

/* The ring macros the frontend uses need these. */
#define xen_mb() __atomic_thread_fence(__ATOMIC_SEQ_CST)
#define xen_rmb() __atomic_thread_fence(__ATOMIC_ACQUIRE)
#define xen_wmb() __atomic_thread_fence(__ATOMIC_RELEASE)
#include <xen/io/blkif.h>

#define PAGE 4096u
#define FE_DOMID 3
#define BACKEND 0
#define TABLE_GFN 16u /* frames 0 and 1 of the table: refs 0..1023 */
#define NR_REFS 1024u
#define RING_REF(i) (1u + (i))
#define RING_GFN(i) (0x7fu - 3u * (i)) /* scattered, descending */
#define IND_REF(i) (40u + (i))
#define IND_GFN(i) (0xa0u + (i))
#define DATA_REF(i) (100u + (i))
#define DATA_GFN(i) (0x100u + (i)) /* 512 of them */
#define UNGRANTED_REF 90u
#define DISK_SIZE (4u << 20)
#define DISK_SECTORS (DISK_SIZE / 512u)
#define SLOT 112u

struct fe {
	struct domain *d;
	struct gnttab_grantee gr;
	struct blkback_env env;
	struct blkback *b;
	char path[64];
	int fd; /* our own view of the image */
	unsigned int nr_pages;
	unsigned int nr_ents;
	RING_IDX req_prod_pvt, rsp_cons;
	unsigned int notifies;
	unsigned int broken, disconnected;
};

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

	e->domid = BACKEND;
	e->frame = (uint32_t)gfn;
	__atomic_store_n(&e->flags, GTF_permit_access | flags,
			 __ATOMIC_SEQ_CST);
}

static void fe_notify(void *ctx)
{
	((struct fe *)ctx)->notifies++;
}

static void fe_event(void *ctx, enum blkback_event ev)
{
	struct fe *f = ctx;

	if (ev == BLKBACK_EV_BROKEN)
		f->broken++;
	else
		f->disconnected++;
}

/* A domain and a sparse image of size bytes; the backend opened on it. */
static void fe_init(struct fe *f, uint64_t size, bool readonly)
{
	const char *dir = getenv("TMPDIR");
	unsigned int i;

	memset(f, 0, sizeof(*f));
	f->d = vmm_fake_domain(FE_DOMID, 1);
	assert_int_equal(gnttab_add_to_physmap(f->d, 0, TABLE_GFN), 0);
	assert_int_equal(gnttab_add_to_physmap(f->d, 1, TABLE_GFN + 1), 0);
	f->gr = (struct gnttab_grantee){f->d, BACKEND};
	snprintf(f->path, sizeof(f->path), "%s/blkback-XXXXXX",
		 dir ? dir : "/tmp");
	f->fd = mkstemp(f->path);
	assert_true(f->fd >= 0);
	assert_int_equal(ftruncate(f->fd, (off_t)size), 0);
	for (i = 0; i < 512; i++)
		grant(f->d, DATA_REF(i), DATA_GFN(i), 0);
	f->env = (struct blkback_env){
	    .gnttab = &gnttab_domain_ops,
	    .gnttab_ctx = &f->gr,
	    .notify = fe_notify,
	    .event = fe_event,
	    .ctx = f,
	    .name = "test vbd",
	};
	assert_int_equal(blkback_open(&f->b, f->path, readonly, &f->env), 0);
}

/* No grant is in use by the backend any more. */
static void assert_all_released(struct fe *f)
{
	grant_ref_t ref;

	assert_int_equal(f->d->gnttab.maptrack_used, 0);
	for (ref = 0; ref < NR_REFS; ref++)
		assert_int_equal(
		    entry(f->d, ref)->flags & (GTF_reading | GTF_writing), 0);
}

static void fe_fini(struct fe *f)
{
	blkback_close(f->b);
	assert_all_released(f);
	close(f->fd);
	unlink(f->path);
	vmm_fake_free(f->d);
}

static struct blkif_sring *fe_sring(struct fe *f)
{
	return (struct blkif_sring *)page(f->d, RING_GFN(0));
}

/* Grants and initialises a ring of nr pages; returns blkback_connect's. */
static int fe_connect_proto(struct fe *f, unsigned int nr, const char *proto)
{
	grant_ref_t refs[32];
	unsigned int i;

	assert_true(nr <= 32);
	for (i = 0; i < nr; i++) {
		grant(f->d, RING_REF(i), RING_GFN(i), 0);
		memset(page(f->d, RING_GFN(i)), 0, PAGE);
		refs[i] = RING_REF(i);
	}
	SHARED_RING_INIT(fe_sring(f));
	f->nr_pages = nr;
	f->nr_ents = __CONST_RING_SIZE(blkif, (size_t)nr * PAGE);
	f->req_prod_pvt = 0;
	f->rsp_cons = 0;
	return blkback_connect(f->b, refs, nr, proto);
}

static void fe_connect(struct fe *f, unsigned int nr)
{
	assert_int_equal(fe_connect_proto(f, nr, "x86_64-abi"), 0);
}

/* The frontend's own slot accessor over its scattered ring pages. */
static void fe_slot_copy(struct fe *f, RING_IDX idx, void *buf, size_t len,
			 bool to_ring)
{
	size_t off = offsetof(struct blkif_sring, ring) +
		     (size_t)(idx & (f->nr_ents - 1)) * SLOT;
	uint8_t *p = buf;

	while (len) {
		size_t pg = off / PAGE, in = off % PAGE;
		size_t n = PAGE - in < len ? PAGE - in : len;
		uint8_t *host = page(f->d, RING_GFN(pg)) + in;

		if (to_ring)
			memcpy(host, p, n);
		else
			memcpy(p, host, n);
		p += n;
		off += n;
		len -= n;
	}
}

/* A request of len bytes (the discard and indirect forms are shorter). */
static void fe_put(struct fe *f, const void *req, size_t len)
{
	uint8_t slot[SLOT] = {0};

	memcpy(slot, req, len);
	fe_slot_copy(f, f->req_prod_pvt++, slot, SLOT, true);
}

static void fe_push(struct fe *f)
{
	__atomic_store_n(&fe_sring(f)->req_prod, f->req_prod_pvt,
			 __ATOMIC_RELEASE);
}

/* Push, kick, and reap until nothing is in flight. */
static void fe_run(struct fe *f)
{
	fe_push(f);
	blkback_kick(f->b);
	while (blkback_wait(f->b, 1000))
		;
}

static bool fe_rsp(struct fe *f, struct blkif_response *rsp)
{
	RING_IDX prod =
	    __atomic_load_n(&fe_sring(f)->rsp_prod, __ATOMIC_ACQUIRE);

	if (f->rsp_cons == prod)
		return false;
	fe_slot_copy(f, f->rsp_cons++, rsp, sizeof(*rsp), false);
	return true;
}

/* The next response, in order (one request in flight at a time). */
static void fe_expect(struct fe *f, uint64_t id, uint8_t op, int16_t status)
{
	struct blkif_response rsp;

	assert_true(fe_rsp(f, &rsp));
	assert_int_equal(rsp.id, id);
	assert_int_equal(rsp.operation, op);
	assert_int_equal(rsp.status, status);
}

/* One request, run to its response. */
static void fe_one(struct fe *f, const void *req, size_t len, uint64_t id,
		   uint8_t op, int16_t status)
{
	struct blkif_response rsp;

	fe_put(f, req, len);
	fe_run(f);
	fe_expect(f, id, op, status);
	assert_false(fe_rsp(f, &rsp));
}

static struct blkif_request rw_req(uint8_t op, uint64_t id, uint64_t sector,
				   unsigned int nr_segs, unsigned int first)
{
	struct blkif_request r;
	unsigned int i;

	memset(&r, 0, sizeof(r));
	r.operation = op;
	r.nr_segments = (uint8_t)nr_segs;
	r.id = id;
	r.sector_number = sector;
	for (i = 0; i < nr_segs && i < BLKIF_MAX_SEGMENTS_PER_REQUEST; i++) {
		r.seg[i].gref = DATA_REF(first + i);
		r.seg[i].first_sect = 0;
		r.seg[i].last_sect = 7;
	}
	return r;
}

static void fill(struct fe *f, unsigned int i, uint8_t seed)
{
	unsigned int k;

	for (k = 0; k < PAGE; k++)
		page(f->d, DATA_GFN(i))[k] = (uint8_t)(seed + k * 7 + i);
}

static void assert_disk_page(struct fe *f, uint64_t sector, unsigned int i)
{
	uint8_t buf[PAGE];

	assert_int_equal(pread(f->fd, buf, PAGE, (off_t)sector * 512), PAGE);
	assert_memory_equal(buf, page(f->d, DATA_GFN(i)), PAGE);
}

/* --- data ---------------------------------------------------------------- */

static void test_write_read_round_trip(void **state)
{
	struct fe f;
	struct blkif_request r;
	struct blkback_stats st;
	unsigned int i, round;

	(void)state;
	fe_init(&f, DISK_SIZE, false);
	fe_connect(&f, 1);
	for (i = 0; i < 11; i++)
		fill(&f, i, 0x11);
	r = rw_req(BLKIF_OP_WRITE, 0xabcdef0123456789ull, 64, 11, 0);
	/* A partial page: sectors 2..5 of the last segment. */
	r.seg[10].first_sect = 2;
	r.seg[10].last_sect = 5;
	fe_one(&f, &r, sizeof(r), 0xabcdef0123456789ull, BLKIF_OP_WRITE,
	       BLKIF_RSP_OKAY);
	for (i = 0; i < 10; i++)
		assert_disk_page(&f, 64 + 8 * i, i);
	{
		uint8_t buf[4 * 512];

		assert_int_equal(pread(f.fd, buf, sizeof(buf), (64 + 80) * 512),
				 sizeof(buf));
		assert_memory_equal(buf, page(f.d, DATA_GFN(10)) + 2 * 512,
				    sizeof(buf));
	}

	/* Read back into other pages; several rounds wrap the indexes. */
	for (round = 0; round < 5; round++) {
		for (i = 0; i < 10; i++) {
			memset(page(f.d, DATA_GFN(20 + i)), 0, PAGE);
			r = rw_req(BLKIF_OP_READ, 1000 + i, 64 + 8 * i, 1,
				   20 + i);
			fe_put(&f, &r, sizeof(r));
		}
		for (i = 0; i < 10; i++) {
			r = rw_req(BLKIF_OP_READ, 2000 + i, 64 + 8 * i, 1,
				   40 + i);
			fe_put(&f, &r, sizeof(r));
		}
		fe_run(&f);
		for (i = 0; i < 20; i++) {
			struct blkif_response rsp;

			assert_true(fe_rsp(&f, &rsp));
			assert_int_equal(rsp.status, BLKIF_RSP_OKAY);
			assert_int_equal(rsp.operation, BLKIF_OP_READ);
		}
		for (i = 0; i < 10; i++)
			assert_memory_equal(page(f.d, DATA_GFN(20 + i)),
					    page(f.d, DATA_GFN(i)), PAGE);
	}
	blkback_get_stats(f.b, &st);
	assert_int_equal(st.requests, 1 + 5 * 20);
	assert_int_equal(st.errors, 0);
	assert_int_equal(st.bytes_written, 10 * PAGE + 4 * 512);
	assert_int_equal(st.bytes_read, 5 * 20 * PAGE);
	assert_true(st.notifications >= 1 && f.notifies == st.notifications);
	assert_int_equal(st.in_flight, 0);
	/* Only the ring is mapped between requests. */
	assert_int_equal(f.d->gnttab.maptrack_used, 1);
	fe_fini(&f);
}

static void test_multi_page_ring(void **state)
{
	static const unsigned int orders[] = {1, 2, 4};
	struct blkif_response rsp;
	struct blkif_request r;
	struct fe f;
	bool seen[400];
	unsigned int o, k, n;

	(void)state;
	for (o = 0; o < 3; o++) {
		unsigned int pages = 1u << orders[o];

		fe_init(&f, DISK_SIZE, false);
		fe_connect(&f, pages);
		assert_int_equal(f.d->gnttab.maptrack_used, pages);
		n = f.nr_ents < 400 ? f.nr_ents : 400;
		for (k = 0; k < 64; k++)
			fill(&f, k, (uint8_t)(o * 3));
		/* A full ring of writes in one go, slots across pages. */
		for (k = 0; k < n; k++) {
			r = rw_req(BLKIF_OP_WRITE, 5000 + k, 8 * k, 1, k % 64);
			fe_put(&f, &r, sizeof(r));
		}
		fe_run(&f);
		memset(seen, 0, sizeof(seen));
		for (k = 0; k < n; k++) {
			assert_true(fe_rsp(&f, &rsp));
			assert_int_equal(rsp.status, BLKIF_RSP_OKAY);
			assert_true(rsp.id >= 5000 && rsp.id < 5000 + n);
			assert_false(seen[rsp.id - 5000]);
			seen[rsp.id - 5000] = true;
		}
		assert_false(fe_rsp(&f, &rsp));
		for (k = 0; k < n; k++)
			assert_disk_page(&f, 8 * k, k % 64);
		fe_fini(&f);
	}
}

static void test_indirect(void **state)
{
	struct blkif_request_segment *segs;
	struct blkif_request_indirect ind;
	struct blkback_stats st;
	struct fe f;
	unsigned int i;

	(void)state;
	fe_init(&f, DISK_SIZE, false);
	fe_connect(&f, 1);
	/* 256 segments, read-only indirect page, half a page each. */
	grant(f.d, IND_REF(0), IND_GFN(0), GTF_readonly);
	segs = (struct blkif_request_segment *)page(f.d, IND_GFN(0));
	for (i = 0; i < BLKBACK_MAX_INDIRECT_SEGS; i++) {
		fill(&f, i, 0x5a);
		segs[i].gref = DATA_REF(i);
		segs[i].first_sect = (i & 1) ? 4 : 0;
		segs[i].last_sect = (i & 1) ? 7 : 3;
	}
	memset(&ind, 0, sizeof(ind));
	ind.operation = BLKIF_OP_INDIRECT;
	ind.indirect_op = BLKIF_OP_WRITE;
	ind.nr_segments = BLKBACK_MAX_INDIRECT_SEGS;
	ind.id = 77;
	ind.sector_number = 1000;
	ind.indirect_grefs[0] = IND_REF(0);
	/* The response carries the indirect operation, as Linux expects. */
	fe_one(&f, &ind, sizeof(ind), 77, BLKIF_OP_WRITE, BLKIF_RSP_OKAY);
	for (i = 0; i < BLKBACK_MAX_INDIRECT_SEGS; i++) {
		uint8_t buf[4 * 512];

		assert_int_equal(
		    pread(f.fd, buf, sizeof(buf), (off_t)(1000 + 4 * i) * 512),
		    sizeof(buf));
		assert_memory_equal(
		    buf, page(f.d, DATA_GFN(i)) + ((i & 1) ? 2048 : 0),
		    sizeof(buf));
	}
	/* Read it all back into pages 256..511, in whole pages. */
	for (i = 0; i < 128; i++) {
		memset(page(f.d, DATA_GFN(256 + i)), 0, PAGE);
		segs[i].gref = DATA_REF(256 + i);
		segs[i].first_sect = 0;
		segs[i].last_sect = 7;
	}
	ind.indirect_op = BLKIF_OP_READ;
	ind.nr_segments = 128;
	ind.id = 78;
	fe_one(&f, &ind, sizeof(ind), 78, BLKIF_OP_READ, BLKIF_RSP_OKAY);
	for (i = 0; i < 128; i++) {
		assert_memory_equal(page(f.d, DATA_GFN(256 + i)),
				    page(f.d, DATA_GFN(2 * i)), 2048);
		assert_memory_equal(page(f.d, DATA_GFN(256 + i)) + 2048,
				    page(f.d, DATA_GFN(2 * i + 1)) + 2048,
				    2048);
	}
	blkback_get_stats(f.b, &st);
	assert_int_equal(st.bytes_written, 256 * 2048);
	assert_int_equal(st.bytes_read, 128 * PAGE);
	fe_fini(&f);
}

/* --- ordering and durability ------------------------------------------- */

static void test_flush_and_barrier(void **state)
{
	struct blkif_request r;
	struct blkif_response rsp;
	struct blkback_stats st;
	struct fe f;
	unsigned int i;

	(void)state;
	fe_init(&f, DISK_SIZE, false);
	fe_connect(&f, 1);
	fill(&f, 0, 1);
	fill(&f, 1, 2);
	fill(&f, 2, 3);

	/* A bare flush (any sector: Linux's may say -1), one with data. */
	r = rw_req(BLKIF_OP_FLUSH_DISKCACHE, 1, UINT64_MAX, 0, 0);
	fe_one(&f, &r, sizeof(r), 1, BLKIF_OP_FLUSH_DISKCACHE, BLKIF_RSP_OKAY);
	r = rw_req(BLKIF_OP_FLUSH_DISKCACHE, 2, 16, 1, 0);
	fe_one(&f, &r, sizeof(r), 2, BLKIF_OP_FLUSH_DISKCACHE, BLKIF_RSP_OKAY);
	assert_disk_page(&f, 16, 0);

	/* Writes, then a flush behind them, then a read past the flush. */
	r = rw_req(BLKIF_OP_WRITE, 10, 24, 1, 1);
	fe_put(&f, &r, sizeof(r));
	r = rw_req(BLKIF_OP_FLUSH_DISKCACHE, 11, 0, 0, 0);
	fe_put(&f, &r, sizeof(r));
	r = rw_req(BLKIF_OP_READ, 12, 0, 1, 100);
	fe_put(&f, &r, sizeof(r));
	fe_run(&f);
	for (i = 0; i < 3; i++) {
		assert_true(fe_rsp(&f, &rsp));
		assert_int_equal(rsp.status, BLKIF_RSP_OKAY);
	}
	assert_disk_page(&f, 24, 1);

	/*
	 * A write, a barrier with data, a read: the read is not taken off
	 * the ring until the barrier is done.
	 */
	r = rw_req(BLKIF_OP_WRITE, 20, 32, 1, 1);
	fe_put(&f, &r, sizeof(r));
	r = rw_req(BLKIF_OP_WRITE_BARRIER, 21, 40, 1, 2);
	fe_put(&f, &r, sizeof(r));
	r = rw_req(BLKIF_OP_READ, 22, 40, 1, 101);
	fe_put(&f, &r, sizeof(r));
	fe_push(&f);
	blkback_kick(f.b);
	blkback_get_stats(f.b, &st);
	assert_int_equal(st.requests, 2 + 3 + 2);
	while (blkback_wait(f.b, 1000))
		;
	for (i = 0; i < 3; i++) {
		assert_true(fe_rsp(&f, &rsp));
		assert_int_equal(rsp.status, BLKIF_RSP_OKAY);
		if (i == 2)
			assert_int_equal(rsp.id, 22); /* after the barrier */
	}
	assert_false(fe_rsp(&f, &rsp));
	assert_disk_page(&f, 32, 1);
	assert_disk_page(&f, 40, 2);
	assert_memory_equal(page(f.d, DATA_GFN(101)), page(f.d, DATA_GFN(2)),
			    PAGE);
	/* A bare barrier. */
	r = rw_req(BLKIF_OP_WRITE_BARRIER, 23, 0, 0, 0);
	fe_one(&f, &r, sizeof(r), 23, BLKIF_OP_WRITE_BARRIER, BLKIF_RSP_OKAY);
	blkback_get_stats(f.b, &st);
	assert_int_equal(st.flushes, 5);
	assert_int_equal(st.errors, 0);
	fe_fini(&f);
}

static void test_discard_punches_hole(void **state)
{
	struct blkif_request_discard dr;
	struct fe f;
	uint8_t buf[PAGE], zero[PAGE];
	struct blkif_request r;
	unsigned int i;

	(void)state;
	fe_init(&f, DISK_SIZE, false);
	fe_connect(&f, 1);
	/* Fill the first 64 KiB. */
	for (i = 0; i < 11; i++)
		fill(&f, i, 9);
	for (i = 0; i < 2; i++) {
		r = rw_req(BLKIF_OP_WRITE, i, (uint64_t)i * 64, 8, 0);
		fe_one(&f, &r, sizeof(r), i, BLKIF_OP_WRITE, BLKIF_RSP_OKAY);
	}
	assert_int_equal(fdatasync(f.fd), 0);
	assert_int_equal(lseek(f.fd, 0, SEEK_HOLE), 64 * 1024);

	memset(&dr, 0, sizeof(dr));
	dr.operation = BLKIF_OP_DISCARD;
	dr.id = 31;
	dr.sector_number = 16; /* 8 KiB in, 32 KiB long */
	dr.nr_sectors = 64;
	fe_one(&f, &dr, sizeof(dr), 31, BLKIF_OP_DISCARD, BLKIF_RSP_OKAY);
	assert_int_equal(lseek(f.fd, 0, SEEK_HOLE), 8 * 1024);
	assert_int_equal(lseek(f.fd, 8 * 1024, SEEK_DATA), 40 * 1024);
	memset(zero, 0, sizeof(zero));
	assert_int_equal(pread(f.fd, buf, PAGE, 12 * 1024), PAGE);
	assert_memory_equal(buf, zero, PAGE);
	/* The file keeps its size. */
	assert_int_equal(lseek(f.fd, 0, SEEK_END), DISK_SIZE);

	/* Secure discard is not offered; the range is checked. */
	dr.flag = BLKIF_DISCARD_SECURE;
	dr.id = 32;
	fe_one(&f, &dr, sizeof(dr), 32, BLKIF_OP_DISCARD, BLKIF_RSP_EOPNOTSUPP);
	dr.flag = 0;
	dr.id = 33;
	dr.sector_number = DISK_SECTORS - 4;
	dr.nr_sectors = 5;
	fe_one(&f, &dr, sizeof(dr), 33, BLKIF_OP_DISCARD, BLKIF_RSP_ERROR);
	dr.id = 34;
	dr.sector_number = 8;
	dr.nr_sectors = UINT64_MAX;
	fe_one(&f, &dr, sizeof(dr), 34, BLKIF_OP_DISCARD, BLKIF_RSP_ERROR);
	dr.id = 35;
	dr.nr_sectors = 0;
	fe_one(&f, &dr, sizeof(dr), 35, BLKIF_OP_DISCARD, BLKIF_RSP_OKAY);
	fe_fini(&f);
}

/* --- features and read-only disks -------------------------------------- */

struct kv {
	char key[48][40];
	char value[48][40];
	unsigned int n;
};

static void kv_put(void *ctx, const char *key, const char *value)
{
	struct kv *kv = ctx;

	assert_true(kv->n < 48);
	snprintf(kv->key[kv->n], sizeof(kv->key[0]), "%s", key);
	snprintf(kv->value[kv->n], sizeof(kv->value[0]), "%s", value);
	kv->n++;
}

static const char *kv_get(const struct kv *kv, const char *key)
{
	unsigned int i;

	for (i = 0; i < kv->n; i++)
		if (!strcmp(kv->key[i], key))
			return kv->value[i];
	return NULL;
}

static void test_features(void **state)
{
	struct kv kv = {.n = 0};
	char sectors[32];
	struct fe f;

	(void)state;
	fe_init(&f, DISK_SIZE + 300, false); /* a partial last sector */
	blkback_features(f.b, kv_put, &kv);
	snprintf(sectors, sizeof(sectors), "%u", DISK_SECTORS);
	assert_string_equal(kv_get(&kv, "sectors"), sectors);
	assert_string_equal(kv_get(&kv, "sector-size"), "512");
	assert_string_equal(kv_get(&kv, "info"), "0");
	assert_string_equal(kv_get(&kv, "mode"), "w");
	assert_string_equal(kv_get(&kv, "feature-flush-cache"), "1");
	assert_string_equal(kv_get(&kv, "feature-barrier"), "1");
	assert_string_equal(kv_get(&kv, "feature-discard"), "1");
	assert_non_null(kv_get(&kv, "discard-granularity"));
	assert_string_equal(kv_get(&kv, "discard-alignment"), "0");
	assert_string_equal(kv_get(&kv, "feature-max-indirect-segments"),
			    "256");
	assert_string_equal(kv_get(&kv, "max-ring-page-order"), "4");
	fe_fini(&f);
}

static void test_readonly_disk(void **state)
{
	struct blkif_request_discard dr;
	struct blkif_request r;
	struct kv kv = {.n = 0};
	struct fe f;
	uint8_t buf[PAGE], zero[PAGE];

	(void)state;
	fe_init(&f, DISK_SIZE, true);
	blkback_features(f.b, kv_put, &kv);
	assert_string_equal(kv_get(&kv, "info"), "4"); /* VDISK_READONLY */
	assert_string_equal(kv_get(&kv, "mode"), "r");
	assert_string_equal(kv_get(&kv, "feature-flush-cache"), "0");
	assert_string_equal(kv_get(&kv, "feature-barrier"), "0");
	assert_string_equal(kv_get(&kv, "feature-discard"), "0");
	fe_connect(&f, 1);
	fill(&f, 0, 0x77);
	r = rw_req(BLKIF_OP_WRITE, 1, 0, 1, 0);
	fe_one(&f, &r, sizeof(r), 1, BLKIF_OP_WRITE, BLKIF_RSP_ERROR);
	r = rw_req(BLKIF_OP_WRITE_BARRIER, 2, 0, 1, 0);
	fe_one(&f, &r, sizeof(r), 2, BLKIF_OP_WRITE_BARRIER, BLKIF_RSP_ERROR);
	r = rw_req(BLKIF_OP_FLUSH_DISKCACHE, 3, 0, 1, 0);
	fe_one(&f, &r, sizeof(r), 3, BLKIF_OP_FLUSH_DISKCACHE, BLKIF_RSP_ERROR);
	memset(&dr, 0, sizeof(dr));
	dr.operation = BLKIF_OP_DISCARD;
	dr.id = 4;
	dr.nr_sectors = 8;
	fe_one(&f, &dr, sizeof(dr), 4, BLKIF_OP_DISCARD, BLKIF_RSP_ERROR);
	/* Nothing reached the image; reads and a bare flush work. */
	memset(zero, 0, sizeof(zero));
	assert_int_equal(pread(f.fd, buf, PAGE, 0), PAGE);
	assert_memory_equal(buf, zero, PAGE);
	r = rw_req(BLKIF_OP_READ, 5, 0, 1, 0);
	fe_one(&f, &r, sizeof(r), 5, BLKIF_OP_READ, BLKIF_RSP_OKAY);
	assert_memory_equal(page(f.d, DATA_GFN(0)), zero, PAGE);
	r = rw_req(BLKIF_OP_FLUSH_DISKCACHE, 6, 0, 0, 0);
	fe_one(&f, &r, sizeof(r), 6, BLKIF_OP_FLUSH_DISKCACHE, BLKIF_RSP_OKAY);
	fe_fini(&f);
}

static void test_image_locked(void **state)
{
	struct blkback *second, *reader;
	struct fe f;

	(void)state;
	fe_init(&f, DISK_SIZE, false);
	assert_int_equal(blkback_open(&second, f.path, false, &f.env), -EBUSY);
	assert_int_equal(blkback_open(&reader, f.path, true, &f.env), -EBUSY);
	assert_int_equal(blkback_open(&second, "/dev/null", true, &f.env),
			 -EINVAL);
	assert_int_equal(blkback_open(&second, "/nonexistent/x", true, &f.env),
			 -ENOENT);
	fe_fini(&f);
}

/* --- hostile frontends --------------------------------------------------- */

static void test_hostile_requests(void **state)
{
	struct blkif_request_indirect ind;
	struct blkif_request r, good;
	struct blkback_stats st;
	uint8_t before[PAGE];
	struct fe f;
	uint64_t id = 100;

	(void)state;
	fe_init(&f, DISK_SIZE, false);
	fe_connect(&f, 1);
	fill(&f, 0, 1);
	good = rw_req(BLKIF_OP_READ, 0, 0, 1, 1);

#define BAD(req, op, status)                                                   \
	do {                                                                   \
		(req).id = ++id;                                               \
		fe_one(&f, &(req), sizeof(req), id, op, status);               \
		good.id = ++id;                                                \
		fe_one(&f, &good, sizeof(good), id, BLKIF_OP_READ,             \
		       BLKIF_RSP_OKAY);                                        \
	} while (0)

	r = rw_req(7, 0, 0, 1, 0);
	BAD(r, 7, BLKIF_RSP_EOPNOTSUPP);
	r = rw_req(BLKIF_OP_RESERVED_1, 0, 0, 1, 0);
	BAD(r, BLKIF_OP_RESERVED_1, BLKIF_RSP_EOPNOTSUPP);
	r = rw_req(0xff, 0, 0, 1, 0);
	BAD(r, 0xff, BLKIF_RSP_EOPNOTSUPP);
	r = rw_req(BLKIF_OP_READ, 0, 0, 0, 0);
	BAD(r, BLKIF_OP_READ, BLKIF_RSP_ERROR);
	r = rw_req(BLKIF_OP_WRITE, 0, 0, 0, 0);
	BAD(r, BLKIF_OP_WRITE, BLKIF_RSP_ERROR);
	r = rw_req(BLKIF_OP_READ, 0, 0, 11, 0);
	r.nr_segments = 12;
	BAD(r, BLKIF_OP_READ, BLKIF_RSP_ERROR);
	r = rw_req(BLKIF_OP_READ, 0, 0, 2, 0);
	r.seg[1].first_sect = 5;
	r.seg[1].last_sect = 4;
	BAD(r, BLKIF_OP_READ, BLKIF_RSP_ERROR);
	r = rw_req(BLKIF_OP_WRITE, 0, 0, 2, 0);
	r.seg[0].last_sect = 8;
	BAD(r, BLKIF_OP_WRITE, BLKIF_RSP_ERROR);
	/* Past the end, straddling it, and wrapping around 2^64. */
	r = rw_req(BLKIF_OP_READ, 0, DISK_SECTORS, 1, 0);
	BAD(r, BLKIF_OP_READ, BLKIF_RSP_ERROR);
	r = rw_req(BLKIF_OP_WRITE, 0, DISK_SECTORS - 4, 1, 0);
	BAD(r, BLKIF_OP_WRITE, BLKIF_RSP_ERROR);
	r = rw_req(BLKIF_OP_READ, 0, UINT64_MAX - 3, 1, 0);
	BAD(r, BLKIF_OP_READ, BLKIF_RSP_ERROR);
	/* Grants: not granted, outside the table, to another domain. */
	r = rw_req(BLKIF_OP_READ, 0, 0, 2, 0);
	r.seg[1].gref = UNGRANTED_REF;
	BAD(r, BLKIF_OP_READ, BLKIF_RSP_ERROR);
	r.seg[1].gref = 100000;
	BAD(r, BLKIF_OP_READ, BLKIF_RSP_ERROR);
	entry(f.d, DATA_REF(5))->domid = 9;
	r.seg[1].gref = DATA_REF(5);
	BAD(r, BLKIF_OP_READ, BLKIF_RSP_ERROR);
	entry(f.d, DATA_REF(5))->domid = BACKEND;

	/* A READ into a read-only grant: refused, the page untouched. */
	grant(f.d, DATA_REF(6), DATA_GFN(6), GTF_readonly);
	fill(&f, 6, 0x42);
	memcpy(before, page(f.d, DATA_GFN(6)), PAGE);
	r = rw_req(BLKIF_OP_READ, 0, 0, 3, 4);
	BAD(r, BLKIF_OP_READ, BLKIF_RSP_ERROR);
	assert_memory_equal(page(f.d, DATA_GFN(6)), before, PAGE);
	/* ...while a WRITE from it is fine. */
	r = rw_req(BLKIF_OP_WRITE, 0, 8, 1, 6);
	BAD(r, BLKIF_OP_WRITE, BLKIF_RSP_OKAY);
	grant(f.d, DATA_REF(6), DATA_GFN(6), 0);

	/* Indirect: bad operation, segment counts, pages. */
	memset(&ind, 0, sizeof(ind));
	ind.operation = BLKIF_OP_INDIRECT;
	ind.indirect_op = BLKIF_OP_FLUSH_DISKCACHE;
	ind.nr_segments = 1;
	ind.indirect_grefs[0] = IND_REF(0);
	grant(f.d, IND_REF(0), IND_GFN(0), GTF_readonly);
	memset(page(f.d, IND_GFN(0)), 0, PAGE);
	((struct blkif_request_segment *)page(f.d, IND_GFN(0)))[0] =
	    (struct blkif_request_segment){DATA_REF(0), 0, 7};
	BAD(ind, BLKIF_OP_FLUSH_DISKCACHE, BLKIF_RSP_ERROR);
	ind.indirect_op = BLKIF_OP_READ;
	ind.nr_segments = 0;
	BAD(ind, BLKIF_OP_READ, BLKIF_RSP_ERROR);
	ind.nr_segments = BLKBACK_MAX_INDIRECT_SEGS + 1;
	BAD(ind, BLKIF_OP_READ, BLKIF_RSP_ERROR);
	ind.nr_segments = 1;
	ind.indirect_grefs[0] = UNGRANTED_REF;
	BAD(ind, BLKIF_OP_READ, BLKIF_RSP_ERROR);
	ind.indirect_grefs[0] = IND_REF(0);
	((struct blkif_request_segment *)page(f.d, IND_GFN(0)))[0].last_sect =
	    9;
	BAD(ind, BLKIF_OP_READ, BLKIF_RSP_ERROR);
	((struct blkif_request_segment *)page(f.d, IND_GFN(0)))[0].last_sect =
	    7;
	BAD(ind, BLKIF_OP_READ, BLKIF_RSP_OKAY);
#undef BAD

	/* Nothing leaked: only the ring is mapped. */
	assert_int_equal(f.d->gnttab.maptrack_used, 1);
	blkback_get_stats(f.b, &st);
	assert_int_equal(st.errors, 20);
	fe_fini(&f);
}

static void test_corrupt_indexes(void **state)
{
	struct blkif_response rsp;
	struct blkif_request r;
	struct blkback_stats st;
	struct fe f, other;

	(void)state;
	fe_init(&f, DISK_SIZE, false);
	fe_connect(&f, 1);
	/* A second disk of another guest: it must not notice. */
	fe_init(&other, DISK_SIZE, false);
	fe_connect(&other, 1);

	/* A producer more than a ring ahead. */
	r = rw_req(BLKIF_OP_READ, 1, 0, 1, 0);
	fe_put(&f, &r, sizeof(r));
	f.req_prod_pvt += f.nr_ents;
	fe_run(&f);
	assert_false(fe_rsp(&f, &rsp));
	assert_int_equal(f.broken, 1);
	blkback_get_stats(f.b, &st);
	assert_true(st.broken);
	assert_int_equal(st.requests, 0);
	/* Further kicks are ignored. */
	f.req_prod_pvt = 1;
	fe_run(&f);
	assert_false(fe_rsp(&f, &rsp));

	r = rw_req(BLKIF_OP_READ, 2, 0, 1, 0);
	fe_one(&other, &r, sizeof(r), 2, BLKIF_OP_READ, BLKIF_RSP_OKAY);

	/* Disconnect and reconnect: served again. */
	assert_int_equal(blkback_disconnect(f.b), 0);
	assert_all_released(&f);
	fe_connect(&f, 1);
	fe_one(&f, &r, sizeof(r), 2, BLKIF_OP_READ, BLKIF_RSP_OKAY);

	/* A producer that moves backwards. */
	fe_put(&f, &r, sizeof(r));
	fe_run(&f);
	fe_expect(&f, 2, BLKIF_OP_READ, BLKIF_RSP_OKAY);
	f.req_prod_pvt = 0;
	fe_run(&f);
	assert_int_equal(f.broken, 2);
	fe_fini(&other);
	fe_fini(&f);
}

static void test_connect_checks(void **state)
{
	grant_ref_t refs[2] = {RING_REF(0), UNGRANTED_REF};
	struct fe f;

	(void)state;
	fe_init(&f, DISK_SIZE, false);
	assert_int_equal(fe_connect_proto(&f, 1, "x86_32-abi"),
			 -EPROTONOSUPPORT);
	assert_int_equal(fe_connect_proto(&f, 3, NULL), -EINVAL);
	assert_int_equal(fe_connect_proto(&f, 32, NULL), -EINVAL);
	assert_int_equal(blkback_connect(f.b, refs, 0, NULL), -EINVAL);
	/* A ring page that is not granted: nothing stays mapped. */
	grant(f.d, RING_REF(0), RING_GFN(0), 0);
	assert_int_equal(blkback_connect(f.b, refs, 2, NULL), -EACCES);
	assert_all_released(&f);
	/* Read-only ring pages cannot carry our responses. */
	grant(f.d, RING_REF(0), RING_GFN(0), GTF_readonly);
	assert_int_equal(blkback_connect(f.b, refs, 1, NULL), -EACCES);
	assert_int_equal(fe_connect_proto(&f, 2, ""), 0);
	assert_int_equal(fe_connect_proto(&f, 2, NULL), -EBUSY);
	assert_int_equal(blkback_disconnect(f.b), 0);
	assert_int_equal(blkback_disconnect(f.b), 0);
	assert_all_released(&f);
	fe_fini(&f);
}

static void test_disconnect_in_flight(void **state)
{
	struct blkif_response rsp;
	struct blkif_request r;
	struct fe f;
	unsigned int i, n = 0;
	int rc;

	(void)state;
	fe_init(&f, DISK_SIZE, false);
	fe_connect(&f, 2);
	for (i = 0; i < 51; i++)
		fill(&f, i, 0x21);
	for (i = 0; i < 40; i++) {
		r = rw_req(BLKIF_OP_WRITE, i, 8 * i, 11, i);
		fe_put(&f, &r, sizeof(r));
	}
	fe_push(&f);
	blkback_kick(f.b);
	rc = blkback_disconnect(f.b);
	assert_true(rc == 0 || rc == -EINPROGRESS);
	/* Nothing new is taken after the disconnect. */
	r = rw_req(BLKIF_OP_READ, 99, 0, 1, 0);
	fe_put(&f, &r, sizeof(r));
	fe_push(&f);
	blkback_kick(f.b);
	while (blkback_wait(f.b, 1000))
		;
	if (rc == -EINPROGRESS)
		assert_int_equal(f.disconnected, 1);
	assert_all_released(&f);
	/* What was in flight was answered before the ring went. */
	while (fe_rsp(&f, &rsp)) {
		assert_true(rsp.id < 40);
		n++;
	}
	assert_int_equal(n, 40);
	/* A fresh connection works. */
	fe_connect(&f, 1);
	r = rw_req(BLKIF_OP_READ, 7, 8, 1, 100);
	fe_one(&f, &r, sizeof(r), 7, BLKIF_OP_READ, BLKIF_RSP_OKAY);
	assert_memory_equal(page(f.d, DATA_GFN(100)), page(f.d, DATA_GFN(1)),
			    PAGE);
	/* Closing while connected releases everything too (fe_fini). */
	fe_fini(&f);
}

static void test_image_shrinks(void **state)
{
	struct blkif_request r;
	struct fe f;

	(void)state;
	fe_init(&f, DISK_SIZE, false);
	fe_connect(&f, 1);
	/* Someone truncates the image under us: reads hit its end. */
	assert_int_equal(ftruncate(f.fd, 4096), 0);
	r = rw_req(BLKIF_OP_READ, 5, 64, 1, 0);
	fe_one(&f, &r, sizeof(r), 5, BLKIF_OP_READ, BLKIF_RSP_ERROR);
	r = rw_req(BLKIF_OP_READ, 6, 0, 1, 0);
	fe_one(&f, &r, sizeof(r), 6, BLKIF_OP_READ, BLKIF_RSP_OKAY);
	/* It ends mid-request: a short read, the rest is past the end. */
	assert_int_equal(ftruncate(f.fd, 4096 + 1024), 0);
	r = rw_req(BLKIF_OP_READ, 7, 0, 2, 0);
	fe_one(&f, &r, sizeof(r), 7, BLKIF_OP_READ, BLKIF_RSP_ERROR);
	fe_fini(&f);
}

static void test_close_in_flight(void **state)
{
	struct blkif_request r;
	struct fe f;
	unsigned int i;

	(void)state;
	fe_init(&f, DISK_SIZE, false);
	fe_connect(&f, 1);
	for (i = 0; i < 20; i++) {
		r = rw_req(BLKIF_OP_WRITE, i, 8 * i, 4, i);
		fe_put(&f, &r, sizeof(r));
	}
	r = rw_req(BLKIF_OP_FLUSH_DISKCACHE, 20, 0, 0, 0);
	fe_put(&f, &r, sizeof(r));
	fe_push(&f);
	blkback_kick(f.b);
	/* fe_fini closes at once: the I/O finishes first, no event. */
	fe_fini(&f);
	assert_int_equal(f.disconnected, 0);
}

/* --- on a real event loop ------------------------------------------------ */

struct kicker {
	int fd;
	struct blkback *b;
	struct loop_source src;
};

static void kicker_fn(struct domain *d, struct loop_source *s)
{
	struct kicker *k = s->arg;
	eventfd_t v;

	(void)d;
	(void)eventfd_read(k->fd, &v);
	blkback_kick(k->b);
}

static void test_on_event_loop(void **state)
{
	struct timespec ms = {0, 1000000};
	struct blkif_response rsp;
	struct blkif_request r;
	struct kicker k;
	struct loop l;
	struct fe f;
	unsigned int i, n = 0, tries;

	(void)state;
	loop_clear(&l);
	assert_int_equal(loop_init(&l), 0);
	fe_init(&f, DISK_SIZE, false);
	/* Reopen the backend with the loop. */
	blkback_close(f.b);
	f.env.loop = &l;
	assert_int_equal(blkback_open(&f.b, f.path, false, &f.env), 0);
	fe_connect(&f, 1);
	k.fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	assert_true(k.fd >= 0);
	k.b = f.b;
	k.src = (struct loop_source){k.fd, kicker_fn, &k};
	assert_int_equal(loop_add(&l, &k.src), 0);
	assert_int_equal(loop_start(&l, f.d), 0);

	for (i = 0; i < 30; i++) {
		fill(&f, i, 0x33);
		r = rw_req(BLKIF_OP_WRITE, i, 8 * i, 1, i);
		fe_put(&f, &r, sizeof(r));
	}
	fe_push(&f);
	assert_int_equal(eventfd_write(k.fd, 1), 0);
	/* A hang guard, not a timing check. */
	for (tries = 0; n < 30 && tries < 60000; tries++) {
		if (fe_rsp(&f, &rsp)) {
			assert_int_equal(rsp.status, BLKIF_RSP_OKAY);
			n++;
		} else {
			nanosleep(&ms, NULL);
		}
	}
	assert_int_equal(n, 30);
	loop_destroy(&l);
	for (i = 0; i < 30; i++)
		assert_disk_page(&f, 8 * i, i);
	close(k.fd);
	fe_fini(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_write_read_round_trip),
	    cmocka_unit_test(test_multi_page_ring),
	    cmocka_unit_test(test_indirect),
	    cmocka_unit_test(test_flush_and_barrier),
	    cmocka_unit_test(test_discard_punches_hole),
	    cmocka_unit_test(test_features),
	    cmocka_unit_test(test_readonly_disk),
	    cmocka_unit_test(test_image_locked),
	    cmocka_unit_test(test_hostile_requests),
	    cmocka_unit_test(test_corrupt_indexes),
	    cmocka_unit_test(test_connect_checks),
	    cmocka_unit_test(test_disconnect_in_flight),
	    cmocka_unit_test(test_image_shrinks),
	    cmocka_unit_test(test_close_in_flight),
	    cmocka_unit_test(test_on_event_loop),
	};

	log_init("test_blkback", LOG_LVL_ERR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
