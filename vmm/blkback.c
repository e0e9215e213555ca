/* SPDX-License-Identifier: MIT */
/*
 * The block backend (blkback.h): the ring, request checking, and the
 * lifecycle of a disk.  The I/O itself (io_uring, ordering of flushes and
 * barriers, completions) is in blkback_io.c.
 *
 * The ring.  A frontend's ring is 1..16 pages granted one by one; gnttab
 * gives us a host pointer per page and the pages need not be adjacent.
 * Slots are 112 bytes, so they straddle page boundaries, and the ring
 * macros' sring->ring[i] cannot be used past page 0.  We keep the Xen
 * back ring (blkif_back_ring_t) for the indexes, with sring pointing at
 * page 0 (where req_prod, req_event, rsp_prod and rsp_event live, so
 * RING_PUSH_RESPONSES_AND_CHECK_NOTIFY works unchanged), and reach slots
 * through an index -> (page, offset) accessor that copies a request out
 * and a response in, splitting at a page boundary.  A contiguous view
 * would need a second mapping of guest RAM (mremap of a shared mapping),
 * which a backend that only holds grants cannot count on, and every
 * request is copied out anyway so that the frontend cannot change it
 * after it was checked.
 *
 * Hostile frontends.  req_prod is read once per pass and must lie within
 * one ring of our rsp_prod_pvt and not behind req_cons; otherwise the
 * ring is marked broken, nothing more is taken from it (what is in
 * flight still completes and is answered) and the owner is told.  Every
 * field of a request is checked before anything is mapped: a bad one is
 * answered BLKIF_RSP_ERROR (BLKIF_RSP_EOPNOTSUPP for an operation we do
 * not offer) with its id, and the next request is served as usual.  A
 * pass takes at most one ring's worth of requests, then yields to the
 * loop, so that a frontend that keeps its ring full cannot starve the
 * other devices of the domain.
 */
#include "blkback_priv.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <xen/io/protocols.h>

union blkback_wire {
	struct blkif_request rw;
	struct blkif_request_discard discard;
	struct blkif_request_indirect indirect;
};

_Static_assert(sizeof(union blkback_wire) == sizeof(struct blkif_request),
	       "blkif request layouts");
_Static_assert(sizeof(union blkif_sring_entry) == 112, "blkif slot size");
_Static_assert(sizeof(struct blkif_request_segment) == 8, "blkif segment size");
_Static_assert(BLKBACK_MAX_INDIRECT_PAGES <=
		   BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST,
	       "indirect pages");

/* --- the ring ------------------------------------------------------------ */

static size_t blkback_slot_offset(const struct blkback *b, RING_IDX i)
{
	return offsetof(struct blkif_sring, ring) +
	       (size_t)(i & (b->ring.nr_ents - 1)) *
		   sizeof(union blkif_sring_entry);
}

/* Copies between a slot and buf, page by page. */
static void blkback_ring_copy(struct blkback *b, size_t off, void *buf,
			      size_t len, bool to_ring)
{
	uint8_t *p = buf;

	while (len) {
		size_t pg = off / BLKBACK_PAGE, in = off % BLKBACK_PAGE;
		size_t n = BLKBACK_PAGE - in < len ? BLKBACK_PAGE - in : len;
		uint8_t *host = (uint8_t *)b->ring_maps[pg].addr + in;

		if (to_ring)
			memcpy(host, p, n);
		else
			memcpy(p, host, n);
		p += n;
		off += n;
		len -= n;
	}
}

void blkback_respond(struct blkback *b, uint64_t id, uint8_t op, int16_t status)
{
	struct blkif_response rsp;

	memset(&rsp, 0, sizeof(rsp));
	rsp.id = id;
	rsp.operation = op;
	rsp.status = status;
	blkback_ring_copy(b, blkback_slot_offset(b, b->ring.rsp_prod_pvt), &rsp,
			  sizeof(rsp), true);
	b->ring.rsp_prod_pvt++;
	b->rsp_unpushed = true;
	if (status != BLKIF_RSP_OKAY)
		b->st.errors++;
}

/* Publishes the responses written so far; notifies if the frontend asks. */
static void blkback_push(struct blkback *b)
{
	int notify;

	if (!b->rsp_unpushed)
		return;
	b->rsp_unpushed = false;
	RING_PUSH_RESPONSES_AND_CHECK_NOTIFY(&b->ring, notify);
	if (notify && b->env.notify) {
		b->st.notifications++;
		b->env.notify(b->env.ctx);
	}
}

/* --- requests ------------------------------------------------------------ */

/* A request as read from the ring, before its grants are mapped. */
struct blkback_parsed {
	uint64_t id;
	uint64_t sector;
	uint64_t nr_sectors;
	uint8_t op; /* echoed: the indirect_op for BLKIF_OP_INDIRECT */
	uint8_t kind;
	uint16_t nr_segs;
	bool secure; /* a discard that must destroy the data */
	const struct blkif_request_segment *segs;
};

#define BLKBACK_BAD(b, ...) log_warnx_rl(&(b)->rl, __VA_ARGS__)

/*
 * Copies the segment list of an indirect request out of its indirect
 * pages (granted to us, read-only is enough).  0 or -errno.
 */
static int blkback_read_indirect(struct blkback *b,
				 const struct blkif_request_indirect *ind,
				 struct blkif_request_segment *segs)
{
	unsigned int i, left = ind->nr_segments, n;
	int rc;

	for (i = 0; left; i++, left -= n) {
		n = left < BLKBACK_SEGS_PER_PAGE
			? left
			: (unsigned int)BLKBACK_SEGS_PER_PAGE;
		rc = b->env.gnttab->copy(
		    b->env.gnttab_ctx, ind->indirect_grefs[i], 0,
		    segs + i * BLKBACK_SEGS_PER_PAGE, n * sizeof(*segs), false);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/*
 * Decodes w into p: the kind of I/O and its segments (segs is room for
 * BLKBACK_MAX_INDIRECT_SEGS).  BLKIF_RSP_OKAY, or the status to answer.
 */
static int16_t blkback_decode(struct blkback *b, const union blkback_wire *w,
			      struct blkback_parsed *p,
			      struct blkif_request_segment *segs)
{
	const struct blkif_request_indirect *ind = &w->indirect;
	const struct blkif_request_discard *dis = &w->discard;
	int rc;

	p->op = w->rw.operation;
	p->id = w->rw.id;
	p->sector = w->rw.sector_number;
	p->nr_segs = w->rw.nr_segments;
	p->segs = w->rw.seg;
	switch (w->rw.operation) {
	case BLKIF_OP_READ:
		p->kind = BLKBACK_READ;
		break;
	case BLKIF_OP_WRITE:
		p->kind = BLKBACK_WRITE;
		break;
	case BLKIF_OP_FLUSH_DISKCACHE:
		p->kind = BLKBACK_FLUSH;
		break;
	case BLKIF_OP_WRITE_BARRIER:
		p->kind = BLKBACK_BARRIER;
		break;
	case BLKIF_OP_DISCARD:
		p->kind = BLKBACK_DISCARD;
		p->id = dis->id;
		p->sector = dis->sector_number;
		p->nr_sectors = dis->nr_sectors;
		p->nr_segs = 0;
		p->secure = dis->flag & BLKIF_DISCARD_SECURE;
		return BLKIF_RSP_OKAY;
	case BLKIF_OP_INDIRECT:
		p->op = ind->indirect_op;
		p->id = ind->id;
		p->sector = ind->sector_number;
		p->nr_segs = ind->nr_segments;
		if (ind->indirect_op == BLKIF_OP_READ) {
			p->kind = BLKBACK_READ;
		} else if (ind->indirect_op == BLKIF_OP_WRITE) {
			p->kind = BLKBACK_WRITE;
		} else {
			BLKBACK_BAD(b, "blkback: %s: indirect operation %u",
				    b->name, ind->indirect_op);
			return BLKIF_RSP_ERROR;
		}
		if (!p->nr_segs || p->nr_segs > BLKBACK_MAX_INDIRECT_SEGS) {
			BLKBACK_BAD(b, "blkback: %s: %u indirect segments",
				    b->name, p->nr_segs);
			return BLKIF_RSP_ERROR;
		}
		rc = blkback_read_indirect(b, ind, segs);
		if (rc < 0) {
			BLKBACK_BAD(b, "blkback: %s: indirect page: %s",
				    b->name, strerror(-rc));
			return BLKIF_RSP_ERROR;
		}
		p->segs = segs;
		return BLKIF_RSP_OKAY;
	default:
		BLKBACK_BAD(b, "blkback: %s: operation %u not supported",
			    b->name, w->rw.operation);
		return BLKIF_RSP_EOPNOTSUPP;
	}
	/* Only flushes and barriers may come without data. */
	if ((!p->nr_segs &&
	     (p->kind == BLKBACK_READ || p->kind == BLKBACK_WRITE)) ||
	    p->nr_segs > BLKIF_MAX_SEGMENTS_PER_REQUEST) {
		BLKBACK_BAD(b, "blkback: %s: %u segments", b->name, p->nr_segs);
		return BLKIF_RSP_ERROR;
	}
	return BLKIF_RSP_OKAY;
}

/* Range and access checks of a decoded request; its status. */
static int16_t blkback_check(struct blkback *b, struct blkback_parsed *p)
{
	uint64_t total = 0;
	unsigned int i;

	if (b->readonly && p->kind != BLKBACK_READ &&
	    !(p->kind == BLKBACK_FLUSH && !p->nr_segs)) {
		BLKBACK_BAD(b, "blkback: %s: operation %u on a read-only disk",
			    b->name, p->op);
		return BLKIF_RSP_ERROR;
	}
	if (p->kind == BLKBACK_DISCARD && (!b->can_discard || p->secure))
		return BLKIF_RSP_EOPNOTSUPP;
	for (i = 0; i < p->nr_segs; i++) {
		const struct blkif_request_segment *s = &p->segs[i];

		if (s->first_sect > s->last_sect ||
		    s->last_sect >= BLKBACK_SECTORS_PER_PAGE) {
			BLKBACK_BAD(b,
				    "blkback: %s: segment %u: sectors "
				    "%u..%u",
				    b->name, i, s->first_sect, s->last_sect);
			return BLKIF_RSP_ERROR;
		}
		total += (uint64_t)s->last_sect - s->first_sect + 1;
	}
	if (p->kind != BLKBACK_DISCARD)
		p->nr_sectors = total;
	/*
	 * Only a range is checked: a bare flush may carry any sector
	 * (Linux's block layer leaves -1 in one).
	 */
	if (p->nr_sectors && (p->sector > b->sectors ||
			      p->nr_sectors > b->sectors - p->sector)) {
		BLKBACK_BAD(b,
			    "blkback: %s: sectors %" PRIu64 "+%" PRIu64
			    " past the end (%" PRIu64 ")",
			    b->name, p->sector, p->nr_sectors, b->sectors);
		return BLKIF_RSP_ERROR;
	}
	return BLKIF_RSP_OKAY;
}

/*
 * Maps the segments of p into r (a READ writes into them) and builds the
 * iovecs.  BLKIF_RSP_OKAY, or BLKIF_RSP_ERROR with nothing left mapped.
 */
static int16_t blkback_map(struct blkback *b, const struct blkback_parsed *p,
			   struct blkback_req *r)
{
	bool write = p->kind == BLKBACK_READ;
	unsigned int i;
	int rc;

	for (i = 0; i < p->nr_segs; i++) {
		const struct blkif_request_segment *s = &p->segs[i];

		rc = b->env.gnttab->map(b->env.gnttab_ctx, s->gref, write,
					&r->maps[i]);
		if (rc < 0) {
			BLKBACK_BAD(b, "blkback: %s: grant %u (%s): %s",
				    b->name, s->gref, write ? "rw" : "ro",
				    strerror(-rc));
			r->nr_maps = (uint16_t)i;
			blkback_unmap(b, r);
			return BLKIF_RSP_ERROR;
		}
		r->iov[i].iov_base = (uint8_t *)r->maps[i].addr +
				     s->first_sect * BLKBACK_SECTOR_SIZE;
		r->iov[i].iov_len = ((size_t)s->last_sect - s->first_sect + 1) *
				    BLKBACK_SECTOR_SIZE;
	}
	r->nr_maps = (uint16_t)p->nr_segs;
	r->nr_iov = (uint16_t)p->nr_segs;
	return BLKIF_RSP_OKAY;
}

/* Takes one request off the ring: answers it, or starts it. */
static void blkback_take(struct blkback *b, RING_IDX idx)
{
	struct blkif_request_segment segs[BLKBACK_MAX_INDIRECT_SEGS];
	struct blkback_parsed p = {0};
	struct blkback_req *r;
	union blkback_wire w;
	int16_t st;

	/* One copy: the frontend may rewrite the slot at any time. */
	blkback_ring_copy(b, blkback_slot_offset(b, idx), &w, sizeof(w), false);
	b->st.requests++;
	st = blkback_decode(b, &w, &p, segs);
	if (st == BLKIF_RSP_OKAY)
		st = blkback_check(b, &p);
	if (st != BLKIF_RSP_OKAY) {
		blkback_respond(b, p.id, p.op, st);
		return;
	}
	/* Nothing to do: a read-only disk's flush, an empty discard. */
	if ((p.kind == BLKBACK_FLUSH && b->readonly) ||
	    (p.kind == BLKBACK_DISCARD && !p.nr_sectors)) {
		blkback_respond(b, p.id, p.op, BLKIF_RSP_OKAY);
		return;
	}
	r = blkback_req_get(b);
	if (!r) {
		/* Cannot happen: the index checks bound what is in flight. */
		blkback_respond(b, p.id, p.op, BLKIF_RSP_ERROR);
		return;
	}
	r->id = p.id;
	r->op = p.op;
	r->kind = p.kind;
	r->offset = p.sector * BLKBACK_SECTOR_SIZE;
	r->len = p.nr_sectors * BLKBACK_SECTOR_SIZE;
	if (blkback_map(b, &p, r) != BLKIF_RSP_OKAY) {
		blkback_req_put(b, r);
		blkback_respond(b, p.id, p.op, BLKIF_RSP_ERROR);
		return;
	}
	blkback_io_start(b, r);
}

static void blkback_broken(struct blkback *b, RING_IDX prod)
{
	log_warnx_rl(&b->rl,
		     "blkback: %s: ring indexes corrupt (req_prod %u, "
		     "req_cons %u, rsp_prod %u): not serving it any more",
		     b->name, prod, b->ring.req_cons, b->ring.rsp_prod_pvt);
	b->broken = true;
	b->serving = false;
	if (b->env.event)
		b->env.event(b->env.ctx, BLKBACK_EV_BROKEN);
}

/*
 * Takes what the frontend has produced, at most a ring's worth; if more
 * is left, asks the loop to come back (the io_uring eventfd).
 */
void blkback_consume(struct blkback *b)
{
	struct blkif_sring *s = b->ring.sring;
	unsigned int budget = b->ring.nr_ents;
	RING_IDX prod;

	while (b->serving && !b->barrier) {
		prod = __atomic_load_n(&s->req_prod, __ATOMIC_ACQUIRE);
		/* At most a ring ahead of our responses, not behind us. */
		if (RING_REQUEST_PROD_OVERFLOW(&b->ring, prod) ||
		    prod - b->ring.req_cons > prod - b->ring.rsp_prod_pvt) {
			blkback_broken(b, prod);
			return;
		}
		while (b->ring.req_cons != prod && !b->barrier && budget) {
			blkback_take(b, b->ring.req_cons++);
			budget--;
		}
		if (b->barrier)
			return; /* taken up again when it completes */
		if (!budget) {
			blkback_io_rekick(b);
			return;
		}
		/* Ask for a kick at the next request, then look again. */
		__atomic_store_n(&s->req_event, b->ring.req_cons + 1,
				 __ATOMIC_RELEASE);
		xen_mb();
		if (__atomic_load_n(&s->req_prod, __ATOMIC_ACQUIRE) ==
		    b->ring.req_cons)
			return;
	}
}

/*
 * After a pass (a kick, completions): submits the I/O prepared, pushes
 * the responses, and finishes a disconnect once nothing is in flight.
 */
void blkback_settle(struct blkback *b)
{
	blkback_io_submit(b);
	if (!b->connected)
		return;
	blkback_push(b);
	if (b->disconnecting && !b->in_flight) {
		blkback_release(b);
		if (b->env.event && !b->closing)
			b->env.event(b->env.ctx, BLKBACK_EV_DISCONNECTED);
	}
}

void blkback_kick(struct blkback *b)
{
	if (!b->connected)
		return;
	blkback_consume(b);
	blkback_settle(b);
}

/* --- the disk ------------------------------------------------------------ */

/* Regular files: can a hole be punched?  Tried past the end: no data. */
static bool blkback_probe_punch(int fd, uint64_t size)
{
	off_t at =
	    (off_t)((size + BLKBACK_PAGE - 1) & ~(uint64_t)(BLKBACK_PAGE - 1));

	return fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, at,
			 BLKBACK_PAGE) == 0;
}

static int blkback_open_image(struct blkback *b, const char *path)
{
	struct stat sb;
	uint64_t size;
	int rc;

	b->fd = open(path,
		     (b->readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC | O_NOCTTY);
	if (b->fd < 0 || fstat(b->fd, &sb) < 0) {
		log_err("blkback: %s: %s", b->name, path);
		return -errno;
	}
	if (S_ISREG(sb.st_mode)) {
		size = (uint64_t)sb.st_size;
	} else if (S_ISBLK(sb.st_mode)) {
		if (ioctl(b->fd, BLKGETSIZE64, &size) < 0) {
			log_err("blkback: %s: %s: BLKGETSIZE64", b->name, path);
			return -errno;
		}
		b->is_blkdev = true;
	} else {
		log_errx("blkback: %s: %s is neither a file nor a block device",
			 b->name, path);
		return -EINVAL;
	}
	/* Two writers of one image would corrupt it; readers may share. */
	if (!b->env.unlocked) {
		rc = blkback_lock(b);
		if (rc == -EBUSY)
			log_errx("blkback: %s: %s is in use", b->name, path);
		else if (rc < 0)
			log_errx("blkback: %s: %s: flock: %s", b->name, path,
				 strerror(-rc));
		if (rc < 0)
			return rc;
	}
	b->sectors = size / BLKBACK_SECTOR_SIZE;
	b->discard_granularity = BLKBACK_PAGE;
	if (!b->readonly && !b->is_blkdev) {
		b->can_discard = blkback_probe_punch(b->fd, size);
		if (sb.st_blksize >= (blksize_t)BLKBACK_SECTOR_SIZE &&
		    sb.st_blksize <= 1 << 20 &&
		    !(sb.st_blksize & (sb.st_blksize - 1)))
			b->discard_granularity = (uint32_t)sb.st_blksize;
	}
	return 0;
}

int blkback_lock(struct blkback *b)
{
	if (flock(b->fd, (b->readonly ? LOCK_SH : LOCK_EX) | LOCK_NB) == 0)
		return 0;
	return errno == EWOULDBLOCK ? -EBUSY : -errno;
}

void blkback_unlock(struct blkback *b)
{
	if (flock(b->fd, LOCK_UN) < 0)
		log_warn("blkback: %s: unlocking the image", b->name);
}

int blkback_sync(struct blkback *b)
{
	if (b->readonly)
		return 0;
	return fdatasync(b->fd) < 0 ? -errno : 0;
}

void blkback_drop_cache(struct blkback *b)
{
	int rc = b->is_blkdev ? ioctl(b->fd, BLKFLSBUF, 0)
			      : posix_fadvise(b->fd, 0, 0,
					      POSIX_FADV_DONTNEED);

	if (rc)
		log_warnx("blkback: %s: dropping the cached image failed",
			  b->name);
}

int blkback_open(struct blkback **out, const char *path, bool readonly,
		 const struct blkback_env *env)
{
	struct blkback *b;
	int rc;

	*out = NULL;
	if (!env || !env->gnttab)
		return -EINVAL;
	b = calloc(1, sizeof(*b));
	if (!b)
		return -ENOMEM;
	b->fd = -1;
	b->efd = -1;
	b->env = *env;
	b->rl = (struct log_ratelimit)LOG_RATELIMIT_INIT;
	snprintf(b->name, sizeof(b->name), "%s", env->name ? env->name : path);
	b->env.name = b->name;
	b->readonly = readonly;
	rc = blkback_open_image(b, path);
	if (rc == 0)
		rc = blkback_io_init(b);
	if (rc < 0) {
		blkback_close(b);
		return rc;
	}
	*out = b;
	return 0;
}

void blkback_features(struct blkback *b,
		      void (*put)(void *ctx, const char *key,
				  const char *value),
		      void *ctx)
{
	bool rw = !b->readonly;
	char v[32];

	snprintf(v, sizeof(v), "%" PRIu64, b->sectors);
	put(ctx, "sectors", v);
	snprintf(v, sizeof(v), "%u", BLKBACK_SECTOR_SIZE);
	put(ctx, "sector-size", v);
	put(ctx, "physical-sector-size", v);
	snprintf(v, sizeof(v), "%u", b->readonly ? VDISK_READONLY : 0);
	put(ctx, "info", v);
	put(ctx, "mode", rw ? "w" : "r");
	put(ctx, "feature-flush-cache", rw ? "1" : "0");
	put(ctx, "feature-barrier", rw ? "1" : "0");
	put(ctx, "feature-discard", b->can_discard ? "1" : "0");
	if (b->can_discard) {
		snprintf(v, sizeof(v), "%u", b->discard_granularity);
		put(ctx, "discard-granularity", v);
		put(ctx, "discard-alignment", "0");
		put(ctx, "discard-secure", "0");
	}
	snprintf(v, sizeof(v), "%u", BLKBACK_MAX_INDIRECT_SEGS);
	put(ctx, "feature-max-indirect-segments", v);
	snprintf(v, sizeof(v), "%u", BLKBACK_MAX_RING_ORDER);
	put(ctx, "max-ring-page-order", v);
	snprintf(v, sizeof(v), "%u", BLKBACK_MAX_RING_PAGES);
	put(ctx, "max-ring-pages", v);
}

/* --- connection ---------------------------------------------------------- */

/* Unmaps the ring and frees the request slots.  Nothing in flight. */
void blkback_release(struct blkback *b)
{
	unsigned int i;

	for (i = 0; i < b->nr_ring_pages; i++)
		(void)b->env.gnttab->unmap(b->env.gnttab_ctx, &b->ring_maps[i]);
	b->nr_ring_pages = 0;
	blkback_reqs_free(b);
	memset(&b->ring, 0, sizeof(b->ring));
	b->connected = false;
	b->serving = false;
	b->disconnecting = false;
	b->barrier = false;
	b->rsp_unpushed = false;
}

int blkback_connect(struct blkback *b, const grant_ref_t *ring_refs,
		    unsigned int nr_ring_pages, const char *protocol)
{
	unsigned int i;
	int rc;

	if (b->connected)
		return -EBUSY;
	if (protocol && *protocol &&
	    strcmp(protocol, XEN_IO_PROTO_ABI_NATIVE)) {
		log_warnx("blkback: %s: protocol %.32s not supported", b->name,
			  protocol);
		return -EPROTONOSUPPORT;
	}
	if (!nr_ring_pages || nr_ring_pages > BLKBACK_MAX_RING_PAGES ||
	    (nr_ring_pages & (nr_ring_pages - 1))) {
		log_warnx("blkback: %s: a ring of %u pages", b->name,
			  nr_ring_pages);
		return -EINVAL;
	}
	for (i = 0; i < nr_ring_pages; i++) {
		rc = b->env.gnttab->map(b->env.gnttab_ctx, ring_refs[i], true,
					&b->ring_maps[i]);
		if (rc < 0) {
			log_warnx("blkback: %s: ring page %u (grant %u): %s",
				  b->name, i, ring_refs[i], strerror(-rc));
			b->nr_ring_pages = i;
			blkback_release(b);
			return rc;
		}
	}
	b->nr_ring_pages = nr_ring_pages;
	/* Page 0 holds the indexes; slots go through blkback_ring_copy. */
	b->ring.sring = b->ring_maps[0].addr;
	b->ring.nr_ents =
	    __CONST_RING_SIZE(blkif, (size_t)nr_ring_pages * BLKBACK_PAGE);
	b->ring.req_cons = 0;
	b->ring.rsp_prod_pvt = 0;
	rc = blkback_reqs_alloc(b);
	if (rc < 0) {
		blkback_release(b);
		return rc;
	}
	b->connected = true;
	b->serving = true;
	b->broken = false;
	/*
	 * No pass here: the frontend queues nothing before we are
	 * connected, and a kick that came early is still on its eventfd.
	 * Connecting thus never calls env->event.
	 */
	return 0;
}

int blkback_disconnect(struct blkback *b)
{
	if (!b->connected)
		return 0;
	b->serving = false;
	b->disconnecting = true;
	if (b->in_flight)
		return -EINPROGRESS;
	blkback_push(b);
	blkback_release(b);
	return 0;
}

int blkback_quiesce(struct blkback *b)
{
	unsigned int waited = 0;

	/* Queued requests stay on the ring: a restore takes them up. */
	b->serving = false;
	while (b->in_flight) {
		(void)blkback_wait(b, 1000);
		if (b->in_flight && ++waited == 30) {
			log_warnx("blkback: %s: %u requests still in flight "
				  "after 30 s",
				  b->name, b->in_flight);
			return -ETIMEDOUT;
		}
	}
	if (b->connected)
		blkback_push(b);
	return 0;
}

void blkback_unquiesce(struct blkback *b)
{
	if (!b->connected || b->broken || b->disconnecting || b->serving)
		return;
	b->serving = true;
	blkback_kick(b);
}

int blkback_ring_get(const struct blkback *b, uint32_t *req_cons,
		     uint32_t *rsp_prod_pvt)
{
	if (!b->connected)
		return -ENOTCONN;
	*req_cons = b->ring.req_cons;
	*rsp_prod_pvt = b->ring.rsp_prod_pvt;
	return 0;
}

int blkback_ring_set(struct blkback *b, uint32_t req_cons,
		     uint32_t rsp_prod_pvt)
{
	if (!b->connected || b->in_flight)
		return -ENOTCONN;
	if (req_cons != rsp_prod_pvt)
		return -EINVAL;
	b->ring.req_cons = req_cons;
	b->ring.rsp_prod_pvt = rsp_prod_pvt;
	return 0;
}

void blkback_get_stats(const struct blkback *b, struct blkback_stats *st)
{
	*st = b->st;
	st->in_flight = b->in_flight;
	st->connected = b->connected;
	st->broken = b->broken;
}

void blkback_close(struct blkback *b)
{
	unsigned int waited = 0;

	if (!b)
		return;
	b->closing = true;
	(void)blkback_disconnect(b);
	/* The kernel may still be writing into granted pages: wait. */
	while (b->connected) {
		(void)blkback_wait(b, 1000);
		if (b->connected && ++waited % 10 == 0)
			log_warnx("blkback: %s: still waiting for %u requests",
				  b->name, b->in_flight);
	}
	blkback_io_destroy(b);
	if (b->fd >= 0) {
		/* What was acknowledged reaches the disk before we go. */
		if (!b->readonly && fdatasync(b->fd) < 0)
			log_warn("blkback: %s: fdatasync", b->name);
		close(b->fd);
	}
	free(b);
}
