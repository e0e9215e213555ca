/* SPDX-License-Identifier: MIT */
/*
 * The block backend's I/O (blkback_priv.h): one io_uring per disk, whose
 * completions signal an eventfd that is a source of the domain's loop.
 *
 * A request in flight holds a slot (one per ring entry, so a frontend can
 * never have more in flight than its ring holds) with its grants mapped,
 * and has at most one operation in the io_uring at a time; it moves
 * through phases:
 *
 *   READ, WRITE      DATA (readv/writev straight into/out of the granted
 *                    pages; a short transfer is resubmitted for the rest)
 *   DISCARD          PUNCH (fallocate PUNCH_HOLE|KEEP_SIZE)
 *   FLUSH_DISKCACHE  WAIT_WRITES -> [DATA] -> SYNC (fdatasync)
 *   WRITE_BARRIER    WAIT_DRAIN  -> [DATA] -> SYNC
 *
 * and is answered when the last one completes, in completion order: a
 * slow request does not hold up the others.
 *
 * Ordering.  Writes (and discards) are numbered as they are taken off the
 * ring.  A flush waits only for the writes taken before it (those with a
 * number up to its wait_seq): when a write completes and flushes are
 * waiting, the lowest number still in flight is found and every flush
 * waiting for less goes on.  Reads and later writes pass a waiting flush.
 * Its own data, if any, is written after the earlier writes, and the
 * fdatasync after that covers them all, so an OKAY flush means every
 * write acknowledged before it, and its own, are on stable storage.  A
 * barrier is stronger, as blkif.h defines it: no request is taken off the
 * ring from the barrier until it completes, and it starts when nothing
 * else is in flight.
 *
 * Durability.  Writes go to the host's page cache and are acknowledged
 * when they are there: a crash of this process loses nothing (the kernel
 * has the data), a crash of the host loses what no flush covered, which
 * is the contract of a disk with a write-back cache, the one
 * feature-flush-cache announces.  blkback_close() syncs the image.
 */
#include "blkback_priv.h"

#include <errno.h>
#include <inttypes.h>
#include <linux/falloc.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

/* --- slots --------------------------------------------------------------- */

int blkback_reqs_alloc(struct blkback *b)
{
	uint32_t n = b->ring.nr_ents, i;

	b->reqs = calloc(n, sizeof(*b->reqs));
	b->iov_pool =
	    calloc((size_t)n * BLKBACK_MAX_SEGS, sizeof(*b->iov_pool));
	b->map_pool =
	    calloc((size_t)n * BLKBACK_MAX_SEGS, sizeof(*b->map_pool));
	if (!b->reqs || !b->iov_pool || !b->map_pool) {
		blkback_reqs_free(b);
		return -ENOMEM;
	}
	for (i = 0; i < n; i++) {
		b->reqs[i].iov = b->iov_pool + (size_t)i * BLKBACK_MAX_SEGS;
		b->reqs[i].maps = b->map_pool + (size_t)i * BLKBACK_MAX_SEGS;
		b->reqs[i].phase = BLKBACK_FREE;
		b->reqs[i].next_free = i + 1 < n ? i + 1 : BLKBACK_NONE;
	}
	b->free_head = 0;
	b->in_flight = 0;
	b->writes_in_flight = 0;
	b->flushes_waiting = 0;
	b->write_seq = 0;
	b->barrier = false;
	return 0;
}

void blkback_reqs_free(struct blkback *b)
{
	free(b->reqs);
	free(b->iov_pool);
	free(b->map_pool);
	b->reqs = NULL;
	b->iov_pool = NULL;
	b->map_pool = NULL;
	b->free_head = BLKBACK_NONE;
}

struct blkback_req *blkback_req_get(struct blkback *b)
{
	struct blkback_req *r;

	if (!b->reqs || b->free_head == BLKBACK_NONE)
		return NULL;
	r = &b->reqs[b->free_head];
	b->free_head = r->next_free;
	r->next_free = BLKBACK_NONE;
	r->phase = BLKBACK_DATA; /* taken; io_start sets the real phase */
	r->done = 0;
	r->seq = 0;
	r->wait_seq = 0;
	r->nr_maps = 0;
	r->nr_iov = 0;
	r->iov_first = 0;
	r->writes = false;
	b->in_flight++;
	return r;
}

void blkback_req_put(struct blkback *b, struct blkback_req *r)
{
	r->phase = BLKBACK_FREE;
	r->next_free = b->free_head;
	b->free_head = (uint32_t)(r - b->reqs);
	b->in_flight--;
}

void blkback_unmap(struct blkback *b, struct blkback_req *r)
{
	uint16_t i;

	for (i = 0; i < r->nr_maps; i++)
		(void)b->env.gnttab->unmap(b->env.gnttab_ctx, &r->maps[i]);
	r->nr_maps = 0;
}

/* --- submission ---------------------------------------------------------- */

static void blkback_finish(struct blkback *b, struct blkback_req *r,
			   int16_t status);

static struct io_uring_sqe *blkback_sqe(struct blkback *b)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&b->uring);

	/* The queue holds a ring's worth; this is only a safety net. */
	if (!sqe && io_uring_submit(&b->uring) >= 0)
		sqe = io_uring_get_sqe(&b->uring);
	return sqe;
}

/* Queues r's operation for phase ph; submitted by blkback_io_submit. */
static void blkback_issue(struct blkback *b, struct blkback_req *r,
			  enum blkback_phase ph)
{
	struct io_uring_sqe *sqe = blkback_sqe(b);
	const struct iovec *iov = r->iov + r->iov_first;
	unsigned int nr = r->nr_iov - r->iov_first;

	if (!sqe) {
		log_warnx_rl(&b->rl, "blkback: %s: io_uring full", b->name);
		blkback_finish(b, r, BLKIF_RSP_ERROR);
		return;
	}
	r->phase = (uint8_t)ph;
	switch (ph) {
	case BLKBACK_DATA:
		if (r->kind == BLKBACK_READ)
			io_uring_prep_readv(sqe, b->fd, iov, nr,
					    r->offset + r->done);
		else
			io_uring_prep_writev(sqe, b->fd, iov, nr,
					     r->offset + r->done);
		break;
	case BLKBACK_SYNC:
		io_uring_prep_fsync(sqe, b->fd, IORING_FSYNC_DATASYNC);
		break;
	default:
		io_uring_prep_fallocate(
		    sqe, b->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
		    (off_t)r->offset, (off_t)r->len);
		break;
	}
	io_uring_sqe_set_data64(sqe, (uint64_t)(r - b->reqs));
}

/* A flush or barrier whose turn has come: its data, then the sync. */
static void blkback_go(struct blkback *b, struct blkback_req *r)
{
	blkback_issue(b, r, r->len ? BLKBACK_DATA : BLKBACK_SYNC);
}

void blkback_io_start(struct blkback *b, struct blkback_req *r)
{
	if (r->kind != BLKBACK_READ && (r->kind != BLKBACK_FLUSH || r->len) &&
	    (r->kind != BLKBACK_BARRIER || r->len)) {
		r->writes = true;
		r->seq = ++b->write_seq;
		b->writes_in_flight++;
	}
	switch (r->kind) {
	case BLKBACK_READ:
		b->st.reads++;
		blkback_issue(b, r, BLKBACK_DATA);
		break;
	case BLKBACK_WRITE:
		b->st.writes++;
		blkback_issue(b, r, BLKBACK_DATA);
		break;
	case BLKBACK_DISCARD:
		b->st.discards++;
		blkback_issue(b, r, BLKBACK_PUNCH);
		break;
	case BLKBACK_FLUSH:
		b->st.flushes++;
		/* Every write taken before this one; not its own data. */
		r->wait_seq = r->writes ? r->seq - 1 : b->write_seq;
		if (b->writes_in_flight > (r->writes ? 1u : 0u)) {
			r->phase = BLKBACK_WAIT_WRITES;
			b->flushes_waiting++;
		} else {
			blkback_go(b, r);
		}
		break;
	default: /* BLKBACK_BARRIER */
		b->st.flushes++;
		b->barrier = true;
		b->barrier_slot = (uint32_t)(r - b->reqs);
		if (b->in_flight > 1)
			r->phase = BLKBACK_WAIT_DRAIN;
		else
			blkback_go(b, r);
		break;
	}
}

void blkback_io_submit(struct blkback *b)
{
	int rc;

	if (!b->uring_ready || !io_uring_sq_ready(&b->uring))
		return;
	rc = io_uring_submit(&b->uring);
	if (rc < 0) {
		/* Transient (kernel memory): the loop brings us back. */
		log_warnx_rl(&b->rl, "blkback: %s: io_uring_submit: %s",
			     b->name, strerror(-rc));
		blkback_io_rekick(b);
	}
}

void blkback_io_rekick(struct blkback *b)
{
	if (b->efd >= 0)
		(void)eventfd_write(b->efd, 1);
}

/* --- completion ---------------------------------------------------------- */

/* Flushes waiting for writes that are all done now go on. */
static void blkback_release_flushes(struct blkback *b)
{
	uint64_t oldest = UINT64_MAX;
	uint32_t i;

	for (i = 0; i < b->ring.nr_ents; i++) {
		struct blkback_req *r = &b->reqs[i];

		if (r->phase != BLKBACK_FREE && r->writes && r->seq < oldest)
			oldest = r->seq;
	}
	for (i = 0; i < b->ring.nr_ents && b->flushes_waiting; i++) {
		struct blkback_req *r = &b->reqs[i];

		if (r->phase != BLKBACK_WAIT_WRITES || r->wait_seq >= oldest)
			continue;
		b->flushes_waiting--;
		blkback_go(b, r);
	}
}

/* Answers r, releases its grants and slot, and lets waiters go. */
static void blkback_finish(struct blkback *b, struct blkback_req *r,
			   int16_t status)
{
	uint32_t slot = (uint32_t)(r - b->reqs);
	bool wrote = r->writes;

	blkback_unmap(b, r);
	blkback_respond(b, r->id, r->op, status);
	if (wrote)
		b->writes_in_flight--;
	blkback_req_put(b, r);
	if (b->barrier && slot == b->barrier_slot) {
		/* blkback_process takes requests again. */
		b->barrier = false;
	}
	if (wrote && b->flushes_waiting)
		blkback_release_flushes(b);
	if (b->barrier && b->in_flight == 1 &&
	    b->reqs[b->barrier_slot].phase == BLKBACK_WAIT_DRAIN)
		blkback_go(b, &b->reqs[b->barrier_slot]);
}

static const char *blkback_phase_name(const struct blkback_req *r)
{
	switch (r->phase) {
	case BLKBACK_DATA:
		return r->kind == BLKBACK_READ ? "read" : "write";
	case BLKBACK_SYNC:
		return "fdatasync";
	default:
		return "punch hole";
	}
}

/* Advances r's iovecs past n bytes done. */
static void blkback_advance(struct blkback_req *r, uint64_t n)
{
	while (n && r->iov_first < r->nr_iov) {
		struct iovec *v = &r->iov[r->iov_first];

		if (n >= v->iov_len) {
			n -= v->iov_len;
			r->iov_first++;
		} else {
			v->iov_base = (uint8_t *)v->iov_base + n;
			v->iov_len -= n;
			n = 0;
		}
	}
}

static void blkback_complete(struct blkback *b, uint64_t slot, int res)
{
	struct blkback_req *r;

	/* liburing's own timeouts carry other data. */
	if (!b->reqs || slot >= b->ring.nr_ents)
		return;
	r = &b->reqs[slot];
	if (r->phase < BLKBACK_DATA)
		return;
	if (res == -EAGAIN || res == -EINTR) {
		blkback_issue(b, r, (enum blkback_phase)r->phase);
		return;
	}
	if (r->phase == BLKBACK_PUNCH && res == -EOPNOTSUPP) {
		blkback_finish(b, r, BLKIF_RSP_EOPNOTSUPP);
		return;
	}
	/* A transfer of nothing: the image shrank under us, or is full. */
	if (res < 0 || (res == 0 && r->phase == BLKBACK_DATA)) {
		log_warnx_rl(&b->rl, "blkback: %s: %s at %" PRIu64 ": %s",
			     b->name, blkback_phase_name(r), r->offset,
			     res ? strerror(-res) : "end of file");
		blkback_finish(b, r, BLKIF_RSP_ERROR);
		return;
	}
	if (r->phase != BLKBACK_DATA) {
		blkback_finish(b, r, BLKIF_RSP_OKAY);
		return;
	}
	if ((uint64_t)res > r->len - r->done)
		res = (int)(r->len - r->done);
	r->done += (uint64_t)res;
	if (r->done < r->len) {
		blkback_advance(r, (uint64_t)res);
		blkback_issue(b, r, BLKBACK_DATA);
		return;
	}
	if (r->kind == BLKBACK_READ)
		b->st.bytes_read += r->len;
	else
		b->st.bytes_written += r->len;
	if (r->kind == BLKBACK_FLUSH || r->kind == BLKBACK_BARRIER)
		blkback_issue(b, r, BLKBACK_SYNC);
	else
		blkback_finish(b, r, BLKIF_RSP_OKAY);
}

/* Reaps every completion, then takes requests again and settles. */
static void blkback_process(struct blkback *b)
{
	struct io_uring_cqe *cqe;
	unsigned int head, n;

	do {
		n = 0;
		io_uring_for_each_cqe(&b->uring, head, cqe)
		{
			blkback_complete(b, cqe->user_data, cqe->res);
			n++;
		}
		io_uring_cq_advance(&b->uring, n);
	} while (n);
	blkback_consume(b);
	blkback_settle(b);
}

static void blkback_io_ready(struct domain *d, struct loop_source *s)
{
	struct blkback *b = s->arg;
	eventfd_t v;

	(void)d;
	(void)eventfd_read(b->efd, &v);
	blkback_process(b);
}

unsigned int blkback_wait(struct blkback *b, int timeout_ms)
{
	struct __kernel_timespec ts;
	struct io_uring_cqe *cqe;

	blkback_io_submit(b);
	if (b->in_flight && timeout_ms < 0) {
		(void)io_uring_wait_cqe(&b->uring, &cqe);
	} else if (b->in_flight && timeout_ms > 0) {
		ts.tv_sec = timeout_ms / 1000;
		ts.tv_nsec = (long long)(timeout_ms % 1000) * 1000000;
		(void)io_uring_wait_cqe_timeout(&b->uring, &cqe, &ts);
	}
	blkback_process(b);
	return b->in_flight;
}

/* --- set-up -------------------------------------------------------------- */

int blkback_io_init(struct blkback *b)
{
	int rc;

	rc = io_uring_queue_init(BLKBACK_MAX_RING_ENTRIES, &b->uring, 0);
	if (rc < 0) {
		log_errx("blkback: %s: io_uring: %s", b->name, strerror(-rc));
		return rc;
	}
	b->uring_ready = true;
	b->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (b->efd < 0) {
		log_err("blkback: %s: eventfd", b->name);
		return -errno;
	}
	rc = io_uring_register_eventfd(&b->uring, b->efd);
	if (rc < 0) {
		log_errx("blkback: %s: io_uring eventfd: %s", b->name,
			 strerror(-rc));
		return rc;
	}
	if (!b->env.loop)
		return 0;
	b->efd_src = (struct loop_source){b->efd, blkback_io_ready, b};
	rc = loop_add(b->env.loop, &b->efd_src);
	if (rc < 0)
		return rc;
	b->efd_added = true;
	return 0;
}

void blkback_io_destroy(struct blkback *b)
{
	if (b->efd_added)
		loop_del(b->env.loop, &b->efd_src);
	b->efd_added = false;
	if (b->uring_ready)
		io_uring_queue_exit(&b->uring);
	b->uring_ready = false;
	if (b->efd >= 0)
		close(b->efd);
	b->efd = -1;
}
