/*
 * test=blk and test=blk-hostile: the block frontend (blkfront.c) against
 * the backend of xenia-vmm --disk.
 *
 * test=blk connects xvda (a multi-page ring when offered), checks the
 * test disk the host prepared, writes patterns of several shapes (one
 * sector, one page, 11 segments, a buffer crossing pages, several
 * requests in flight, an indirect request), flushes, reads them back,
 * discards a range, uses a read-only xvdb when there is one (a write
 * gets BLKIF_RSP_ERROR, reads work), disconnects and reconnects with a
 * one-page ring, and ends with a clean disconnect.  The host checks the
 * image afterwards, so the places and the pattern are fixed (see
 * tests/integration/test_vmm_blk.py, which must agree):
 *
 *   pattern word w of sector s, tag t: ((s << 16 | w << 8 | t) + 1) *
 *   0x9e3779b97f4a7c15 (mod 2^64), little-endian
 *
 *   test disk: sector 0 "XENIA-TESTDISK v1 <n> <16 hex digits>\n", then
 *   n sectors whose 64-bit words hash (FNV-1a, word by word) to that
 *
 * With `blk-pause` on the command line it waits, once connected, until
 * the host writes data/blk-resume, so that the host can look at the
 * device directories.
 *
 * test=blk-hostile sends malformed requests through blkfront_submit_raw
 * and expects each to be answered BLKIF_RSP_ERROR (or EOPNOTSUPP) with
 * its id while the device goes on; then a ring-ref and an event channel
 * the backend cannot use, and a corrupt ring, each of which must make
 * the backend give up that connection (Closing, an `error` node) while
 * the guest goes on and can connect again.
 *
 * Without a store ring both print a SKIP line and nothing else; without
 * xvda, a SKIP line after the checks that the store works.
 */
#include <stddef.h>
#include "blkfront.h"
#include "console.h"
#include "events.h"
#include "frontend.h"
#include "gnttab.h"
#include "guest.h"
#include "lib.h"
#include "xenbus.h"

#define MS 1000000ull
#define PAGE 4096u
#define WORDS_PER_SECT (BLKFRONT_SECTOR / 8)
#define BUF_PAGES 64
#define BUF_SECTORS (BUF_PAGES * 8)
/* The patterns go up to sector 3024; the disk must be larger. */
#define MIN_SECTORS 4096
#define PAT_MUL 0x9e3779b97f4a7c15ull
#define FNV_BASIS 0xcbf29ce484222325ull
#define FNV_PRIME 0x100000001b3ull
#define HEADER "XENIA-TESTDISK v1 "
#define RESUME_WAIT_NS (60000 * MS)

static uint64_t wbuf[BUF_PAGES * PAGE / 8] __attribute__((aligned(4096)));
static uint64_t rbuf[BUF_PAGES * PAGE / 8] __attribute__((aligned(4096)));
static char sbuf[256];

/* --- patterns and checksums ------------------------------------------- */

static uint64_t pat_word(uint64_t sector, unsigned int w, unsigned int tag)
{
	return ((sector << 16 | (uint64_t)w << 8 | tag) + 1) * PAT_MUL;
}

static void *sect_ptr(uint64_t *buf, unsigned long off)
{
	return buf + off * WORDS_PER_SECT;
}

static void pat_fill(void *buf, uint64_t sector, unsigned long nsect,
		     unsigned int tag)
{
	uint64_t *p = buf;
	unsigned long s;
	unsigned int w;

	for (s = 0; s < nsect; s++)
		for (w = 0; w < WORDS_PER_SECT; w++)
			*p++ = pat_word(sector + s, w, tag);
}

/* The sectors that do not hold the pattern. */
static unsigned long pat_bad(const void *buf, uint64_t sector,
			     unsigned long nsect, unsigned int tag)
{
	const uint64_t *p = buf;
	unsigned long s, bad = 0;
	unsigned int w;

	for (s = 0; s < nsect; s++, p += WORDS_PER_SECT)
		for (w = 0; w < WORDS_PER_SECT; w++)
			if (p[w] != pat_word(sector + s, w, tag)) {
				bad++;
				break;
			}
	return bad;
}

static uint64_t fnv_words(const uint64_t *p, unsigned long nwords)
{
	uint64_t h = FNV_BASIS;

	while (nwords--) {
		h ^= *p++;
		h *= FNV_PRIME;
	}
	return h;
}

static int all_zero(const uint64_t *p, unsigned long nwords)
{
	while (nwords--)
		if (*p++)
			return 0;
	return 1;
}

/* "XENIA-TESTDISK v1 <n> <16 hex>": 1 with n and sum set. */
static int parse_header(const char *h, unsigned long *n, uint64_t *sum)
{
	unsigned long v = 0;
	uint64_t x = 0;
	unsigned int i;
	char c;

	if (memcmp(h, HEADER, sizeof(HEADER) - 1))
		return 0;
	h += sizeof(HEADER) - 1;
	for (i = 0; *h >= '0' && *h <= '9' && i < 9; i++)
		v = v * 10 + (unsigned long)(*h++ - '0');
	if (!i || *h++ != ' ')
		return 0;
	for (i = 0; i < 16; i++) {
		c = *h++;
		if (c >= '0' && c <= '9')
			x = x << 4 | (uint64_t)(c - '0');
		else if (c >= 'a' && c <= 'f')
			x = x << 4 | (uint64_t)(c - 'a' + 10);
		else
			return 0;
	}
	*n = v;
	*sum = x;
	return 1;
}

/* --- set-up ----------------------------------------------------------- */


/* The store, the devices and xvda; NULL (with a SKIP line) if absent. */
static struct blkfront *blk_setup(const char *name)
{
	struct blkfront *d;
	int rc;

	rc = frontend_setup(name, "device/vbd", blkfront_probe);
	if (rc < 0)
		return NULL;
	d = blkfront_get(XENIA_DEVID_XVDA);
	if (!d) {
		printf("SKIP: %s: no vbd xvda (%d vbds)\n", name, rc);
		return NULL;
	}
	printf("%s: %d vbd(s); xvda's backend is %s (domain %u)\n", name, rc,
	       d->xb.be_path, d->xb.backend_id);
	return d;
}

static void blk_connected(struct blkfront *d, const char *name, int rc)
{
	check(rc == 0 && d->xb.connected &&
		  xbdev_fe_state(&d->xb) == XenbusStateConnected &&
		  blkfront_backend_state(d) == XenbusStateConnected,
	      "blk: %s connected (both ends Connected), %u ring page(s) "
	      "(backend offers order %lu), port %u rc=%d",
	      name, d->nr_ring_pages, d->max_ring_order, d->xb.port, rc);
}

/* Until the host writes data/blk-resume (bounded). */
static void blk_pause(void)
{
	uint64_t end = events_time_ns() + RESUME_WAIT_NS, now;
	char path[64], token[16];

	printf("blk: paused until data/blk-resume is written\n");
	if (xenbus_watch("data/blk-resume", "blk-resume"))
		return;
	while (xenbus_read(XENBUS_TX_NONE, "data/blk-resume", sbuf,
			   sizeof(sbuf)) < 0) {
		now = events_time_ns();
		if (now >= end)
			break;
		(void)xenbus_wait_event(path, sizeof(path), token,
					sizeof(token), end - now);
	}
	(void)xenbus_unwatch("data/blk-resume", "blk-resume");
	printf("blk: resumed\n");
}

/* --- test=blk --------------------------------------------------------- */

/* The disk the host prepared, if it did: its checksum, both ways. */
static void blk_testdisk(struct blkfront *d, const char *name)
{
	unsigned long n;
	uint64_t sum, got;
	int rc, pass;

	memset(rbuf, 0, PAGE);
	rc = blkfront_read(d, 0, rbuf, 1);
	if (!check(rc == 0, "blk: %s: read sector 0 rc=%d", name, rc))
		return;
	if (!parse_header((const char *)rbuf, &n, &sum)) {
		printf("blk: %s: no test disk header\n", name);
		return;
	}
	if (!check(n && n <= BUF_SECTORS && n < d->sectors,
		   "blk: %s: test disk header names %lu sectors", name, n))
		return;
	for (pass = 0; pass < 2; pass++) {
		if (pass && !d->max_indirect_segs)
			break;
		d->use_indirect = pass;
		memset(rbuf, 0, n * BLKFRONT_SECTOR);
		rc = blkfront_read(d, 1, rbuf, n);
		got = fnv_words(rbuf, n * WORDS_PER_SECT);
		printf("blk: %s: test disk: %lu sectors, checksum %016lx, "
		       "header says %016lx\n",
		       name, n, (unsigned long)got, (unsigned long)sum);
		check(rc == 0 && got == sum,
		      "blk: %s: test disk checksum matches (%s requests) rc=%d",
		      name, pass ? "indirect" : "direct", rc);
	}
	d->use_indirect = 0;
}

struct region {
	uint64_t sector;
	unsigned long nsect;
	unsigned int woff, roff; /* sectors into wbuf / rbuf */
	unsigned int tag;
	int indirect;
	const char *what;
};

/* Keep in step with REGIONS in tests/integration/test_vmm_blk.py. */
static const struct region regions[] = {
    {1024, 1, 0, 0, 1, 0, "one sector, one segment"},
    {1032, 8, 0, 3, 2, 0, "one page, one segment"},
    {1040, 88, 0, 1, 3, 0, "11 pages, 11 segments"},
    {1200, 20, 5, 0, 4, 0, "20 sectors crossing 4 pages"},
    {1300, 200, 0, 7, 5, 0, "200 sectors, 3 requests in flight"},
    {1600, 200, 2, 0, 6, 1, "200 sectors, indirect when offered"},
};
#define TAG_LAST 8
#define TAG_DISCARD 9
#define DISCARD_SECTOR 2048
#define DISCARD_SECTORS 64
#define RECONNECT_SECTOR 3000
#define RECONNECT_SECTORS 24
#define TAG_RECONNECT 7

static int region_write(struct blkfront *d, const struct region *r)
{
	void *w = sect_ptr(wbuf, r->woff);
	int rc;

	pat_fill(w, r->sector, r->nsect, r->tag);
	d->use_indirect = r->indirect;
	rc = blkfront_write(d, r->sector, w, r->nsect);
	d->use_indirect = 0;
	return rc;
}

/* Reads r back (the other way round for indirect): bad sectors or -1. */
static long region_check(struct blkfront *d, const struct region *r, int *rc)
{
	void *p = sect_ptr(rbuf, r->roff);

	memset(p, 0, r->nsect * BLKFRONT_SECTOR);
	d->use_indirect = !r->indirect && d->max_indirect_segs;
	*rc = blkfront_read(d, r->sector, p, r->nsect);
	d->use_indirect = 0;
	if (*rc)
		return -1;
	return (long)pat_bad(p, r->sector, r->nsect, r->tag);
}

static void blk_patterns(struct blkfront *d)
{
	const struct region *r;
	unsigned int i;
	uint64_t last;
	long bad;
	int rc;

	for (i = 0; i < ARRAY_SIZE(regions); i++) {
		r = &regions[i];
		rc = region_write(d, r);
		check(rc == 0, "blk: write %s at sector %lu%s rc=%d", r->what,
		      (unsigned long)r->sector,
		      r->indirect && d->max_indirect_segs ? " (indirect)" : "",
		      rc);
	}
	rc = blkfront_flush(d);
	check(rc == 0 || (rc == -XEN_EOPNOTSUPP && !d->feature_flush &&
			  !d->feature_barrier),
	      "blk: flush (flush-cache %d, barrier %d) rc=%d", d->feature_flush,
	      d->feature_barrier, rc);
	for (i = 0; i < ARRAY_SIZE(regions); i++) {
		r = &regions[i];
		bad = region_check(d, r, &rc);
		check(bad == 0,
		      "blk: read back %s at sector %lu: %ld bad "
		      "sector(s) rc=%d",
		      r->what, (unsigned long)r->sector, bad, rc);
	}

	/* The last sector of the disk: the end is inclusive. */
	last = d->sectors - 1;
	pat_fill(wbuf, last, 1, TAG_LAST);
	rc = blkfront_write(d, last, wbuf, 1);
	memset(rbuf, 0, BLKFRONT_SECTOR);
	if (rc == 0)
		rc = blkfront_read(d, last, rbuf, 1);
	check(rc == 0 && pat_bad(rbuf, last, 1, TAG_LAST) == 0,
	      "blk: the last sector (%lu) written and read back rc=%d",
	      (unsigned long)last, rc);
	rc = blkfront_read(d, d->sectors, rbuf, 1);
	check(rc == -XEN_EIO && d->last_status == BLKIF_RSP_ERROR,
	      "blk: a read past the end gets BLKIF_RSP_ERROR rc=%d status=%d",
	      rc, d->last_status);
}

static void blk_discard(struct blkfront *d)
{
	int rc;

	if (!d->feature_discard) {
		printf("blk: discard not offered\n");
		return;
	}
	pat_fill(wbuf, DISCARD_SECTOR, DISCARD_SECTORS, TAG_DISCARD);
	rc = blkfront_write(d, DISCARD_SECTOR, wbuf, DISCARD_SECTORS);
	if (rc == 0)
		rc = blkfront_discard(d, DISCARD_SECTOR, DISCARD_SECTORS);
	check(rc == 0, "blk: discard %u sectors at %u (granularity %lu) rc=%d",
	      DISCARD_SECTORS, DISCARD_SECTOR, d->discard_granularity, rc);
	memset(rbuf, 0xff, DISCARD_SECTORS * BLKFRONT_SECTOR);
	rc = blkfront_read(d, DISCARD_SECTOR, rbuf, DISCARD_SECTORS);
	printf("blk: the discarded range reads back %s (rc=%d)\n",
	       all_zero(rbuf, DISCARD_SECTORS * WORDS_PER_SECT) ? "as zeros"
								: "not zeroed",
	       rc);
}

static void blk_readonly(struct blkfront *b)
{
	int rc;

	rc = blkfront_connect(b, BLKFRONT_MAX_RING_ORDER);
	blk_connected(b, "xvdb", rc);
	if (rc)
		return;
	check(b->readonly, "blk: xvdb is read-only (info %u)", b->info);
	blk_testdisk(b, "xvdb");
	pat_fill(wbuf, 0, 8, 10);
	rc = blkfront_write(b, 0, wbuf, 8);
	check(rc == -XEN_EIO && b->last_status == BLKIF_RSP_ERROR,
	      "blk: xvdb: a write to the read-only disk gets BLKIF_RSP_ERROR "
	      "rc=%d status=%d",
	      rc, b->last_status);
	rc = blkfront_read(b, 0, rbuf, 8);
	check(rc == 0, "blk: xvdb: a read after it works rc=%d", rc);
	rc = blkfront_disconnect(b);
	check(rc == 0 && blkfront_backend_state(b) == XenbusStateClosed &&
		  b->grants_stuck == 0,
	      "blk: xvdb disconnected, its grants ended rc=%d", rc);
}

static void blk_disconnected(struct blkfront *d, const char *name, int rc)
{
	check(rc == 0 && !d->xb.have_ring &&
		  xbdev_fe_state(&d->xb) == XenbusStateClosed &&
		  blkfront_backend_state(d) == XenbusStateClosed &&
		  d->grants_stuck == 0,
	      "blk: %s disconnected: both ends Closed, every grant ended "
	      "(%u stuck) rc=%d",
	      name, d->grants_stuck, rc);
}

static void blk_reconnect(struct blkfront *d)
{
	void *w = sect_ptr(wbuf, 3);
	long bad;
	int rc;

	rc = blkfront_disconnect(d);
	blk_disconnected(d, "xvda", rc);
	rc = blkfront_connect(d, 0);
	blk_connected(d, "xvda (again)", rc);
	if (rc)
		return;
	pat_fill(w, RECONNECT_SECTOR, RECONNECT_SECTORS, TAG_RECONNECT);
	rc = blkfront_write(d, RECONNECT_SECTOR, w, RECONNECT_SECTORS);
	memset(rbuf, 0, RECONNECT_SECTORS * BLKFRONT_SECTOR);
	if (rc == 0)
		rc =
		    blkfront_read(d, RECONNECT_SECTOR, rbuf, RECONNECT_SECTORS);
	check(rc == 0 && pat_bad(rbuf, RECONNECT_SECTOR, RECONNECT_SECTORS,
				 TAG_RECONNECT) == 0,
	      "blk: after reconnecting, %u sectors written and read back "
	      "rc=%d",
	      RECONNECT_SECTORS, rc);
	bad = region_check(d, &regions[2], &rc);
	check(bad == 0,
	      "blk: what was written before the reconnect is "
	      "still there (%ld bad) rc=%d",
	      bad, rc);
}

void scenario_blk(void)
{
	struct blkfront *a, *b;
	int rc;

	a = blk_setup("blk");
	if (!a)
		return;
	rc = blkfront_connect(a, BLKFRONT_MAX_RING_ORDER);
	blk_connected(a, "xvda", rc);
	if (rc)
		return;
	printf("blk: xvda: %lu sectors of %u, info %u, flush %d barrier %d "
	       "discard %d indirect %lu\n",
	       (unsigned long)a->sectors, a->sector_size, a->info,
	       a->feature_flush, a->feature_barrier, a->feature_discard,
	       a->max_indirect_segs);
	if (!check(a->sectors >= MIN_SECTORS &&
		       a->sector_size == BLKFRONT_SECTOR && !a->readonly,
		   "blk: xvda is a writable disk of %lu sectors of %u bytes",
		   (unsigned long)a->sectors, a->sector_size))
		return;
	if (guest_cmdline_has("blk-pause"))
		blk_pause();
	blk_testdisk(a, "xvda");
	blk_patterns(a);
	blk_discard(a);
	b = blkfront_get(XENIA_DEVID_XVDB);
	if (b)
		blk_readonly(b);
	blk_reconnect(a);
	rc = blkfront_disconnect(a);
	blk_disconnected(a, "xvda", rc);
}

/* --- test=blk-hostile ------------------------------------------------- */

#define HOSTILE_ID 0xbad0000000000000ull
#define WRONG_DOMID 7
#define PROBE_SECTOR 4000
#define TAG_PROBE 20

union wire {
	struct blkif_request rw;
	struct blkif_request_discard discard;
	struct blkif_request_indirect indirect;
};

_Static_assert(offsetof(struct blkif_request, id) ==
		       offsetof(struct blkif_request_discard, id) &&
		   offsetof(struct blkif_request, id) ==
		       offsetof(struct blkif_request_indirect, id),
	       "one place for the id");

static uint8_t pg[PAGE] __attribute__((aligned(4096)));
static uint8_t pg_ro[PAGE] __attribute__((aligned(4096)));
static uint8_t pg_wrong[PAGE] __attribute__((aligned(4096)));
static struct blkif_request_segment ind[PAGE / 8]
    __attribute__((aligned(4096)));

static grant_ref_t ref_rw, ref_ro, ref_wrong, ref_ind;
static grant_ref_t ref_unused; /* free, inside the table */
static unsigned int nr_hostile;

/*
 * Sends w (its id set here) and expects an error answer with that id;
 * eopnotsupp says whether BLKIF_RSP_EOPNOTSUPP is acceptable too.
 */
static void expect_error(struct blkfront *d, union wire *w, int eopnotsupp,
			 const char *what)
{
	struct blkif_response rsp;
	uint64_t id = HOSTILE_ID | ++nr_hostile;
	int rc;

	w->rw.id = id;
	memset(&rsp, 0x55, sizeof(rsp));
	rc = blkfront_submit_raw(d, &w->rw, &rsp);
	check(rc == 0 && rsp.id == id &&
		  (rsp.status == BLKIF_RSP_ERROR ||
		   (eopnotsupp && rsp.status == BLKIF_RSP_EOPNOTSUPP)),
	      "blk-hostile: %s: answered %d with its id rc=%d", what,
	      rsp.status, rc);
}

/* A READ or WRITE of one segment; the caller spoils it. */
static void rw1(union wire *w, uint8_t op, uint64_t sector, grant_ref_t ref,
		uint8_t first, uint8_t last)
{
	memset(w, 0, sizeof(*w));
	w->rw.operation = op;
	w->rw.nr_segments = 1;
	w->rw.handle = XENIA_DEVID_XVDA;
	w->rw.sector_number = sector;
	w->rw.seg[0].gref = ref;
	w->rw.seg[0].first_sect = first;
	w->rw.seg[0].last_sect = last;
}

static void ind1(union wire *w, uint8_t op, uint16_t nr, grant_ref_t page)
{
	memset(w, 0, sizeof(*w));
	w->indirect.operation = BLKIF_OP_INDIRECT;
	w->indirect.indirect_op = op;
	w->indirect.nr_segments = nr;
	w->indirect.sector_number = PROBE_SECTOR;
	w->indirect.handle = XENIA_DEVID_XVDA;
	w->indirect.indirect_grefs[0] = page;
}

static int hostile_grants(const struct blkfront *d)
{
	grant_ref_t end = gnttab_nr_frames * GNTTAB_PER_FRAME;
	long rw, ro, wrong, in;

	memset(pg_ro, 0xa5, PAGE);
	memset(pg_wrong, 0xee, PAGE);
	rw = gnttab_grant_access(d->xb.backend_id, gnttab_gfn(pg), 0);
	ro = gnttab_grant_access(d->xb.backend_id, gnttab_gfn(pg_ro), 1);
	wrong = gnttab_grant_access(WRONG_DOMID, gnttab_gfn(pg_wrong), 0);
	in = gnttab_grant_access(d->xb.backend_id, gnttab_gfn(ind), 1);
	/* The table's last entry: nothing else uses that many. */
	ref_unused = end - 1;
	ref_rw = (grant_ref_t)rw;
	ref_ro = (grant_ref_t)ro;
	ref_wrong = (grant_ref_t)wrong;
	ref_ind = (grant_ref_t)in;
	return check(rw > 0 && ro > 0 && wrong > 0 && in > 0 &&
			 gnttab_entry(ref_unused)->flags == GTF_invalid,
		     "blk-hostile: test pages granted (%ld %ld %ld %ld), "
		     "gref %u unused",
		     rw, ro, wrong, in, ref_unused);
}

static void hostile_segments(struct blkfront *d)
{
	union wire w;

	rw1(&w, 0x7f, PROBE_SECTOR, ref_rw, 0, 7);
	expect_error(d, &w, 1, "unknown operation 0x7f");
	rw1(&w, BLKIF_OP_RESERVED_1, PROBE_SECTOR, ref_rw, 0, 7);
	expect_error(d, &w, 1, "reserved operation 4");
	rw1(&w, BLKIF_OP_READ, PROBE_SECTOR, ref_rw, 0, 7);
	w.rw.nr_segments = 0;
	expect_error(d, &w, 0, "READ of 0 segments");
	rw1(&w, BLKIF_OP_WRITE, PROBE_SECTOR, ref_rw, 0, 7);
	w.rw.nr_segments = 0;
	expect_error(d, &w, 0, "WRITE of 0 segments");
	rw1(&w, BLKIF_OP_READ, PROBE_SECTOR, ref_rw, 0, 7);
	w.rw.nr_segments = BLKIF_MAX_SEGMENTS_PER_REQUEST + 1;
	expect_error(d, &w, 0, "READ of 12 segments");
	w.rw.nr_segments = 255;
	expect_error(d, &w, 0, "READ of 255 segments");
	rw1(&w, BLKIF_OP_READ, PROBE_SECTOR, ref_rw, 5, 2);
	expect_error(d, &w, 0, "first_sect 5 > last_sect 2");
	rw1(&w, BLKIF_OP_READ, PROBE_SECTOR, ref_rw, 0, 8);
	expect_error(d, &w, 0, "last_sect 8");
	rw1(&w, BLKIF_OP_WRITE, PROBE_SECTOR, ref_rw, 200, 255);
	expect_error(d, &w, 0, "sectors 200..255 of a page");
}

static void hostile_ranges(struct blkfront *d)
{
	union wire w;

	rw1(&w, BLKIF_OP_READ, d->sectors, ref_rw, 0, 0);
	expect_error(d, &w, 0, "READ at the sector past the end");
	rw1(&w, BLKIF_OP_WRITE, d->sectors - 1, ref_rw, 0, 1);
	expect_error(d, &w, 0, "WRITE of 2 sectors over the end");
	rw1(&w, BLKIF_OP_READ, UINT64_MAX - 3, ref_rw, 0, 7);
	expect_error(d, &w, 0, "READ at sector 2^64-4 (wraps)");
}

static void hostile_grefs(struct blkfront *d)
{
	union wire w;
	long bad;
	int rc;

	rw1(&w, BLKIF_OP_READ, PROBE_SECTOR, ref_unused, 0, 7);
	expect_error(d, &w, 0, "an unused gref");
	rw1(&w, BLKIF_OP_READ, PROBE_SECTOR, 0, 0, 7);
	expect_error(d, &w, 0, "reserved gref 0");
	rw1(&w, BLKIF_OP_READ, PROBE_SECTOR,
	    gnttab_nr_frames * GNTTAB_PER_FRAME + 5, 0, 7);
	expect_error(d, &w, 0, "a gref past the table");
	rw1(&w, BLKIF_OP_WRITE, PROBE_SECTOR, 0xffffffffu, 0, 7);
	expect_error(d, &w, 0, "gref 0xffffffff");

	rw1(&w, BLKIF_OP_READ, PROBE_SECTOR, ref_ro, 0, 7);
	expect_error(d, &w, 0, "READ into a page granted read-only");
	check(pg_ro[0] == 0xa5 && pg_ro[PAGE - 1] == 0xa5 &&
		  !memcmp(pg_ro, pg_ro + 1, PAGE - 1),
	      "blk-hostile: the read-only page was not written");
	rw1(&w, BLKIF_OP_READ, PROBE_SECTOR, ref_wrong, 0, 7);
	expect_error(d, &w, 0, "READ into a page granted to domain 7");
	rw1(&w, BLKIF_OP_WRITE, PROBE_SECTOR, ref_wrong, 0, 7);
	expect_error(d, &w, 0, "WRITE from a page granted to domain 7");

	/* A good first segment, a bad second: the first is let go. */
	rw1(&w, BLKIF_OP_READ, PROBE_SECTOR, ref_rw, 0, 7);
	w.rw.nr_segments = 2;
	w.rw.seg[1].gref = ref_unused;
	w.rw.seg[1].last_sect = 7;
	expect_error(d, &w, 0, "a good segment, then an unused gref");

	/* None of it reached the disk. */
	memset(rbuf, 0, PAGE);
	rc = blkfront_read(d, PROBE_SECTOR, rbuf, 8);
	bad = rc ? -1 : (long)pat_bad(rbuf, PROBE_SECTOR, 8, TAG_PROBE);
	check(bad == 0,
	      "blk-hostile: the probe sectors are as written before "
	      "(%ld bad) rc=%d",
	      bad, rc);
}

static void hostile_indirect(struct blkfront *d)
{
	union wire w;
	unsigned int i;

	for (i = 0; i < 8; i++) {
		ind[i].gref = ref_rw;
		ind[i].first_sect = 0;
		ind[i].last_sect = 0;
	}
	ind1(&w, BLKIF_OP_FLUSH_DISKCACHE, 1, ref_ind);
	expect_error(d, &w, 1, "INDIRECT of a FLUSH");
	ind1(&w, BLKIF_OP_READ, 0, ref_ind);
	expect_error(d, &w, 1, "INDIRECT of 0 segments");
	ind1(&w, BLKIF_OP_READ, 4096, ref_ind);
	expect_error(d, &w, 1, "INDIRECT of 4096 segments");
	ind1(&w, BLKIF_OP_READ, 1, ref_unused);
	expect_error(d, &w, 1, "INDIRECT page behind an unused gref");
	ind[1].gref = ref_unused;
	ind1(&w, BLKIF_OP_READ, 2, ref_ind);
	expect_error(d, &w, 1, "INDIRECT segment with an unused gref");
	ind[1].gref = ref_rw;
	ind[1].last_sect = 9;
	ind1(&w, BLKIF_OP_READ, 2, ref_ind);
	expect_error(d, &w, 1, "INDIRECT segment with last_sect 9");
	ind[1].last_sect = 0;

	memset(&w, 0, sizeof(w));
	w.discard.operation = BLKIF_OP_DISCARD;
	w.discard.flag = BLKIF_DISCARD_SECURE;
	w.discard.sector_number = PROBE_SECTOR;
	w.discard.nr_sectors = 8;
	expect_error(d, &w, 1, "secure DISCARD");
	w.discard.flag = 0;
	w.discard.sector_number = d->sectors - 4;
	w.discard.nr_sectors = 8;
	expect_error(d, &w, 1, "DISCARD over the end");
}

/* A good write and read after the hostile ones. */
static void hostile_still_serves(struct blkfront *d, const char *after)
{
	int rc;

	pat_fill(wbuf, PROBE_SECTOR + 8, 8, TAG_PROBE);
	rc = blkfront_write(d, PROBE_SECTOR + 8, wbuf, 8);
	memset(rbuf, 0, PAGE);
	if (rc == 0)
		rc = blkfront_read(d, PROBE_SECTOR + 8, rbuf, 8);
	check(rc == 0 && pat_bad(rbuf, PROBE_SECTOR + 8, 8, TAG_PROBE) == 0,
	      "blk-hostile: after %s a good write and read work rc=%d", after,
	      rc);
}

/* Connect with a spoiled key: the backend must refuse and say why. */
static void hostile_bad_connect(struct blkfront *d, const char *what)
{
	int rc, err, st;

	rc = blkfront_connect(d, 0);
	st = blkfront_backend_state(d);
	err = blkfront_backend_read(d, "error", sbuf, sizeof(sbuf));
	check(rc == -XEN_EIO && st == XenbusStateClosing && err > 0,
	      "blk-hostile: %s: the backend goes Closing with error '%s' "
	      "rc=%d state=%d",
	      what, err > 0 ? sbuf : "", rc, st);
	d->bad_ring_ref = 0;
	d->bad_port = 0;
	rc = blkfront_disconnect(d);
	check(rc == 0 && blkfront_backend_state(d) == XenbusStateClosed &&
		  d->grants_stuck == 0,
	      "blk-hostile: after %s the device closes cleanly rc=%d", what,
	      rc);
}

static void hostile_corrupt_ring(struct blkfront *d)
{
	int st, err, rc;

	/* A producer 1000 requests ahead of a 32-slot ring. */
	__atomic_store_n(&d->sring->req_prod, d->ring.req_prod_pvt + 1000,
			 __ATOMIC_RELEASE);
	(void)ev_send(d->xb.port);
	st = blkfront_wait_backend(
	    d, 1u << XenbusStateClosing | 1u << XenbusStateClosed,
	    BLKFRONT_TIMEOUT_NS);
	err = blkfront_backend_read(d, "error", sbuf, sizeof(sbuf));
	check(st == XenbusStateClosing && err > 0,
	      "blk-hostile: a corrupt req_prod: the backend stops serving "
	      "the ring (state %d, error '%s')",
	      st, err > 0 ? sbuf : "");
	rc = blkfront_disconnect(d);
	check(rc == 0 && blkfront_backend_state(d) == XenbusStateClosed &&
		  d->grants_stuck == 0,
	      "blk-hostile: the guest runs on and closes the device rc=%d", rc);
}

void scenario_blk_hostile(void)
{
	struct blkfront *d;
	int rc, ended;

	d = blk_setup("blk-hostile");
	if (!d)
		return;
	rc = blkfront_connect(d, 0);
	blk_connected(d, "xvda", rc);
	if (rc)
		return;
	if (!hostile_grants(d))
		return;
	pat_fill(wbuf, PROBE_SECTOR, 8, TAG_PROBE);
	rc = blkfront_write(d, PROBE_SECTOR, wbuf, 8);
	check(rc == 0, "blk-hostile: probe sectors written rc=%d", rc);

	hostile_segments(d);
	hostile_ranges(d);
	hostile_grefs(d);
	hostile_indirect(d);
	check(blkfront_backend_state(d) == XenbusStateConnected,
	      "blk-hostile: after %u bad requests the device is still "
	      "Connected",
	      nr_hostile);
	hostile_still_serves(d, "the bad requests");

	rc = blkfront_disconnect(d);
	blk_disconnected(d, "xvda", rc);
	d->bad_ring_ref = ref_unused;
	hostile_bad_connect(d, "a ring-ref that grants nothing");
	d->bad_ring_ref = ref_wrong;
	hostile_bad_connect(d, "a ring-ref granted to domain 7");
	d->bad_port = 4000;
	hostile_bad_connect(d, "an event channel that is not ours");

	rc = blkfront_connect(d, 0);
	blk_connected(d, "xvda (after the bad connects)", rc);
	if (rc)
		return;
	hostile_still_serves(d, "the bad connects");
	hostile_corrupt_ring(d);

	rc = blkfront_connect(d, BLKFRONT_MAX_RING_ORDER);
	blk_connected(d, "xvda (after the corrupt ring)", rc);
	if (rc)
		return;
	hostile_still_serves(d, "the corrupt ring");
	rc = blkfront_disconnect(d);
	blk_disconnected(d, "xvda", rc);

	/* The backend let go of every page it was shown. */
	ended = !gnttab_end_access(ref_rw) && !gnttab_end_access(ref_ro) &&
		!gnttab_end_access(ref_wrong) && !gnttab_end_access(ref_ind);
	check(ended, "blk-hostile: every grant of the test can be ended");
}
