/* SPDX-License-Identifier: MIT */
/*
 * Sending a domain to another host (migrate.h, docs/migration-stream.md),
 * on the save thread of save.c.
 *
 * Live, it is pre-copy: a first round sends every page while the guest
 * runs, then each round sends what was written during the one before
 * (precopy.c), until what is left would take no longer than the
 * downtime target at the rate the rounds achieved, or the round limit is
 * reached.  Then the domain is paused and its backends drained as for a
 * save, the last dirty pages go after a PAUSED record, then the state
 * and END.  Not live, the domain is paused first and every page goes
 * once, as in a file.
 *
 * The handover decides which side runs the domain: the destination says
 * READY once it has loaded everything and registered the domain, the
 * source answers GO and from then on the domain is the destination's;
 * its RUNNING ends the downtime.  Until GO is sent any failure (a write
 * refused, an ERROR line, silence past a deadline, the connection gone)
 * leaves the domain running here as if nothing had happened.  If GO
 * cannot be known to have arrived (the connection breaks after it was
 * written), the source still ends the domain: running it in two places
 * would be worse, and the destination runs it unless it never read GO.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>

#include "domain.h"
#include "log.h"
#include "mem.h"
#include "migrate.h"
#include "save_priv.h"
#include "vbd.h"

/* A destination that takes no bytes for this long is given up on. */
#define MIGRATE_IO_TIMEOUT_S 30
/* From END to READY: the destination loads and registers the domain. */
#define MIGRATE_READY_MS 60000
#define MIGRATE_RUNNING_MS 10000
/* From the start to the destination's BUILT. */
#define MIGRATE_BUILT_MS 30000
/* A round this big says how fast the link is; smaller ones do not. */
#define MIGRATE_RATE_MIN_BYTES (256u << 10)

static void migrate_progress(struct save_job *job, const char *phase,
			     unsigned int round, const struct stream_writer *w,
			     uint64_t dirty, uint64_t rate)
{
	struct migrate_progress *p = &job->progress;

	pthread_mutex_lock(&job->lock);
	p->phase = phase;
	p->round = round;
	p->pages = w->pages;
	p->bytes = w->bytes;
	p->dirty = dirty;
	p->rate = rate;
	p->expected_ms = rate ? dirty * VMM_PAGE_SIZE * 1000 / rate : 0;
	pthread_mutex_unlock(&job->lock);
}

/* Notes a round for the reply: the first ones, and the paused one last. */
static void migrate_log_round(struct save_job *job, uint64_t pages,
			      uint64_t bytes, uint64_t ms, uint64_t dirty,
			      bool last)
{
	struct save_result *res = &job->res;
	unsigned int i = res->nr_log;

	if (i == MIGRATE_ROUNDS_LOGGED) {
		if (!last)
			return;
		i--;
	}
	res->log[i] = (struct migrate_round){pages, bytes, ms, dirty};
	res->nr_log = i + 1;
}

/*
 * What the destination said, if anything, within wait_ms: BUILT (noted),
 * an ERROR line or a hang-up (the migration fails), anything else (a
 * protocol error).  0 unless it failed.
 */
static int migrate_peer_check(struct save_job *job, int wait_ms)
{
	struct pollfd p = {.fd = job->fd, .events = POLLIN};
	char line[MIGRATE_LINE_MAX];
	const char *why;
	int rc;

	while (poll(&p, 1, wait_ms) > 0) {
		rc = handover_read_line(job->fd, line, sizeof(line), 1000);
		/* Once: a destination repeating itself is broken. */
		if (rc == 0 && !strcmp(line, MIGRATE_BUILT) &&
		    !job->peer_built) {
			job->peer_built = true;
			wait_ms = 0;
			continue;
		}
		if (rc == 0 && (why = handover_error_text(line)))
			save_error(job, -EREMOTEIO, "the destination refused "
				   "the domain: %s", why);
		else if (rc == -ECONNRESET)
			save_error(job, -ECONNRESET, "the destination closed "
				   "the connection");
		else
			save_error(job, -EPROTO, "the destination said "
				   "something unexpected during the copy");
		return job->rc;
	}
	return 0;
}

/*
 * Stopping while the destination is still building the domain (a new
 * process, a VM, its RAM) would count that time as downtime: wait for
 * its BUILT first.
 */
static int migrate_wait_built(struct save_job *job)
{
	uint64_t deadline = log_now_ms() + MIGRATE_BUILT_MS;

	while (!job->peer_built && log_now_ms() < deadline &&
	       !save_aborted(job))
		if (migrate_peer_check(job, 100) < 0)
			return job->rc;
	if (!job->peer_built)
		save_error(job, -ETIMEDOUT, "the destination did not build "
			   "the domain in %d s", MIGRATE_BUILT_MS / 1000);
	return job->rc;
}

/* A failed write: the destination's reason, if it gave one, wins. */
static int migrate_write_failed(struct save_job *job, int rc)
{
	if (rc == -ECANCELED)
		save_error(job, rc, "the domain was destroyed");
	if (migrate_peer_check(job, 1000) == 0)
		save_error(job, rc, "sending to the destination: %s",
			   rc == -EAGAIN ? "timed out" : strerror(-rc));
	return job->rc;
}

/* The rounds while the domain runs.  0 or -errno (job->err set). */
static int migrate_rounds(struct save_job *job, struct stream_writer *w,
			  struct precopy *pc)
{
	uint64_t t, bytes, pages, rate = 0, expected;
	unsigned int round = 1;
	int rc;

	for (;;) {
		migrate_progress(job, "copying", round, w, pc->nr_dirty, rate);
		t = log_now_ms();
		bytes = w->bytes;
		pages = w->pages;
		rc = round == 1 ? save_pages(job, w)
				: save_pages_of(job, w, pc->bitmap);
		precopy_sent(job->d, pc);
		if (rc == 0)
			rc = stream_flush(w);
		if (rc < 0)
			return migrate_write_failed(job, rc);
		if (migrate_peer_check(job, 0) < 0)
			return job->rc;
		t = log_now_ms() - t;
		if (w->bytes - bytes >= MIGRATE_RATE_MIN_BYTES || !rate)
			rate = (w->bytes - bytes) * 1000 / (t ? t : 1);
		if (!rate)
			rate = 1; /* divided by below */
		rc = precopy_harvest(job->d, pc);
		if (rc < 0) {
			save_error(job, rc, "reading the dirty log: %s",
				   strerror(-rc));
			return rc;
		}
		expected = pc->nr_dirty * VMM_PAGE_SIZE * 1000 / rate;
		log_debug("migrate: round %u: %" PRIu64 " bytes in %" PRIu64
			  " ms, %" PRIu64 " pages dirty (%" PRIu64 " ms)",
			  round, w->bytes - bytes, t, pc->nr_dirty, expected);
		job->res.rounds = round;
		migrate_log_round(job, w->pages - pages, w->bytes - bytes, t,
				  pc->nr_dirty, false);
		/* Not `expected`, which is rounded down to the ms. */
		if (pc->nr_dirty * VMM_PAGE_SIZE * 1000 <=
			job->downtime_ms * rate ||
		    round >= job->max_rounds) {
			if (job->peer_built)
				break;
			/* Then another round: pages went on changing. */
			if (migrate_wait_built(job) < 0)
				return job->rc;
		}
		round++;
	}
	migrate_progress(job, "stopped", round, w, pc->nr_dirty, rate);
	return 0;
}

/* The handover failed before the domain was theirs: it runs on here. */
static int migrate_keep(struct save_job *job, int rc, const char *fmt,
			const char *what)
{
	save_error(job, rc, fmt, what);
	if (vbd_locks(job->d, true) < 0)
		log_errx("migrate: domain %u runs on without its disk locks",
			 job->d->xen.domid);
	return job->rc;
}

static uint64_t migrate_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000;
}

/*
 * After END: the disks' locks go (the destination takes them before it
 * says READY), READY, GO, then RUNNING or ERROR.  0 once the domain is
 * theirs: RUNNING, or nothing heard after GO (res.unconfirmed: it may
 * run there, so it must not here).  An ERROR after GO means it did not
 * start there: the domain runs on here.
 */
static int migrate_handover(struct save_job *job)
{
	char line[MIGRATE_LINE_MAX];
	const char *why;
	uint64_t go_us;
	int rc;

	rc = vbd_locks(job->d, false);
	if (rc < 0)
		return migrate_keep(job, rc, "releasing the disks: %s",
				    strerror(-rc));
	/* BUILT first, if it has not come yet (nothing waited for it). */
	rc = handover_read_line(job->fd, line, sizeof(line), MIGRATE_READY_MS);
	if (rc == 0 && !job->peer_built && !strcmp(line, MIGRATE_BUILT)) {
		job->peer_built = true;
		rc = handover_read_line(job->fd, line, sizeof(line),
					MIGRATE_READY_MS);
	}
	if (rc == 0 && (why = handover_error_text(line)))
		return migrate_keep(job, -EREMOTEIO, "the destination refused "
				    "the domain: %s", why);
	if (rc < 0 || strcmp(line, MIGRATE_READY))
		return migrate_keep(job, rc < 0 ? rc : -EPROTO,
				    "the destination did not take the domain: "
				    "%s",
				    rc == -ETIMEDOUT	? "no answer"
				    : rc == -ECONNRESET ? "it closed the "
							  "connection"
				    : rc < 0		? strerror(-rc)
							: "an unexpected answer");
	rc = handover_write_line(job->fd, "%s", MIGRATE_GO);
	if (rc < 0)
		return migrate_keep(job, rc, "handing over: %s", strerror(-rc));
	go_us = migrate_now_us();
	rc = handover_read_line(job->fd, line, sizeof(line),
				MIGRATE_RUNNING_MS);
	if (rc == 0 && (why = handover_error_text(line)))
		return migrate_keep(job, -EREMOTEIO, "the destination could "
				    "not start the domain: %s", why);
	if (rc < 0 || strncmp(line, MIGRATE_RUNNING " ",
			      strlen(MIGRATE_RUNNING) + 1)) {
		log_warnx("migrate: domain %u: handed over, but the "
			  "destination did not say it runs it",
			  job->d->xen.domid);
		job->res.unconfirmed = true;
		job->res.downtime_ms = (go_us - job->pause_us) / 1000;
		return 0;
	}
	/*
	 * Its own time from GO to running: our clock here would count
	 * this host's scheduling too (the guest starting on a busy host
	 * delays the line, not the guest).  GO's trip is not counted.
	 */
	job->res.downtime_ms =
	    (go_us - job->pause_us +
	     strtoull(line + strlen(MIGRATE_RUNNING) + 1, NULL, 10) + 500) /
	    1000;
	return 0;
}

static void migrate_timeouts(int fd)
{
	struct timeval tv = {.tv_sec = MIGRATE_IO_TIMEOUT_S};

	(void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

void migrate_send(struct save_job *job)
{
	struct domain *d = job->d;
	struct precopy pc = {0};
	struct stream_writer w;
	int rc;

	migrate_timeouts(job->fd);
	rc = stream_writer_init(&w, job->fd, job->compress);
	if (rc < 0) {
		save_error(job, rc, "out of memory");
		return;
	}
	if (job->live) {
		rc = precopy_begin(d, &pc);
		if (rc < 0)
			save_error(job, rc, "starting dirty logging: %s",
				   strerror(-rc));
	} else {
		rc = save_pause_gather(job);
	}
	if (rc == 0) {
		rc = stream_put_header(&w, job->live ? STREAM_FLAG_LIVE : 0,
				       d->ram_size);
		if (rc == 0)
			rc = stream_put_record(&w, STREAM_CONFIG,
					       job->config_text,
					       strlen(job->config_text));
		/* The destination builds the domain while pages follow. */
		if (rc == 0)
			rc = stream_flush(&w);
		if (rc < 0)
			migrate_write_failed(job, rc);
	}
	if (rc == 0 && job->live) {
		rc = migrate_rounds(job, &w, &pc);
		if (rc == 0)
			rc = save_pause_gather(job);
		if (rc == 0) {
			rc = precopy_harvest(d, &pc);
			if (rc < 0)
				save_error(job, rc, "reading the dirty log: %s",
					   strerror(-rc));
		}
		if (rc == 0) {
			uint64_t t = log_now_ms(), b = w.bytes, p = w.pages;

			rc = stream_put_record(&w, STREAM_PAUSED, NULL, 0);
			if (rc == 0)
				rc = save_pages_of(job, &w, pc.bitmap);
			if (rc < 0)
				migrate_write_failed(job, rc);
			migrate_log_round(job, w.pages - p, w.bytes - b,
					  log_now_ms() - t, 0, true);
		}
	} else if (rc == 0) {
		rc = save_pages(job, &w);
		if (rc < 0)
			migrate_write_failed(job, rc);
	}
	if (rc == 0) {
		migrate_progress(job, "handover", job->res.rounds, &w,
				 pc.nr_dirty, job->progress.rate);
		rc = save_put_state(job, &w);
		if (rc < 0)
			migrate_write_failed(job, rc);
	}
	job->res.bytes = w.bytes;
	job->res.pages = w.pages;
	stream_writer_free(&w);
	precopy_end(d, &pc);
	if (rc == 0)
		(void)migrate_handover(job);
}
