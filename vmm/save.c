/* SPDX-License-Identifier: MIT */
/*
 * Saving a running domain (migrate.h, docs/migration-stream.md).
 *
 * Three threads take part, each doing what only it may:
 *
 *   save thread   pauses the domain (domain_pause() waits for every vCPU
 *                 to park, which must not stall the loop), then, once
 *                 the loop has gathered the state, writes the file;
 *   loop thread   owns the backends and the XenStore handle: it drains
 *                 the backends (the console writes out its ring, blkback
 *                 waits for the requests in flight), lets xenstored
 *                 answer what the guest asked last, and gathers
 *                 VMM_STATE, DEVICE, XENSTORE and CONFIG while the
 *                 domain is paused; at the end it resumes the domain or
 *                 ends it, and replies;
 *   vCPU threads  parked throughout.
 *
 * The save thread and the loop hand over through an eventfd (save ->
 * loop: "paused", "written") and a condition variable (loop -> save:
 * "gathered").  Between the two, the loop serves the control socket as
 * usual, but ctl_cmd.c refuses what would change the domain.
 *
 * Why gather before writing pages: nothing changes guest memory while
 * the domain is paused and its backends are drained, except xenstored,
 * which may still write a watch event into the store ring; that page is
 * copied until two copies agree (never torn), and an event missed that
 * way is made good on restore, where every watch fires once.
 *
 * The file is written to PATH.partial, fsync'd and renamed over PATH, so
 * PATH is either what it was or a whole save.  On any failure it is
 * removed, the backends serve again and the domain runs on unless it was
 * paused before.  A save that is not a checkpoint ends the domain with
 * VMM_EXIT_SAVED once the file is complete; the guest never runs again
 * after its state was taken, so the file is its only future.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>
#include <xenstore.h>

#include <xen/io/xs_wire.h>

#include "balloon.h"
#include "domain.h"
#include "domain_state.h"
#include "log.h"
#include "mem.h"
#include "migrate.h"
#include "save_priv.h"
#include "vbd.h"

/* How long xenstored has to answer what the guest asked last. */
#define SAVE_SETTLE_TRIES 50
#define SAVE_SETTLE_NS 2000000L
#define SAVE_SNAPSHOT_TRIES 100

void save_error(struct save_job *job, int rc, const char *fmt, ...)
{
	va_list ap;

	if (job->rc)
		return;
	job->rc = rc;
	va_start(ap, fmt);
	vsnprintf(job->err, sizeof(job->err), fmt, ap);
	va_end(ap);
}

static void save_ring(struct save_job *job)
{
	uint64_t one = 1;

	if (write(job->efd, &one, sizeof(one)) < 0)
		log_warn("save: ringing the loop");
}

static void save_set_stage(struct save_job *job, enum save_stage st)
{
	pthread_mutex_lock(&job->lock);
	job->stage = st;
	pthread_mutex_unlock(&job->lock);
	save_ring(job);
}

bool save_aborted(struct save_job *job)
{
	return __atomic_load_n(&job->abort, __ATOMIC_ACQUIRE);
}

/* --- gathering (loop thread) -------------------------------------------- */

static void save_sleep_ns(long ns)
{
	struct timespec ts = {0, ns};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/*
 * A request the guest sent before it was paused should have its reply in
 * the ring before the ring is copied: wait until xenstored has taken
 * every request, then make a round trip of our own behind it.
 */
static void save_store_settle(struct domain *d)
{
	struct xenstore_domain_interface *r;
	unsigned int i, len;
	char path[64];

	if (!d->xs.xsh)
		return;
	r = mem_gfn_ptr(d, mem_special_gfn(d, MEM_SPECIAL_STORE));
	for (i = 0; i < SAVE_SETTLE_TRIES; i++) {
		if (__atomic_load_n(&r->req_cons, __ATOMIC_ACQUIRE) ==
		    __atomic_load_n(&r->req_prod, __ATOMIC_ACQUIRE))
			break;
		save_sleep_ns(SAVE_SETTLE_NS);
	}
	snprintf(path, sizeof(path), "%s/domid", d->xs.home);
	for (i = 0; i < 2; i++)
		free(xs_read(d->xs.xsh, XBT_NULL, path, &len));
}

/* The text of o, or NULL when it is over the stream's JSON limit. */
static char *save_json_text(json_object *o)
{
	const char *s =
	    json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);

	if (!s || strlen(s) > STREAM_JSON_MAX)
		return NULL;
	return strdup(s);
}

/* The console and then every xenbus device, as DEVICE texts. */
static int save_devices(struct save_job *job, json_object *disks,
			json_object *vifs)
{
	struct domain *d = job->d;
	json_object *arr = json_object_new_array(), *rec, *t, *spec;
	size_t i, n;
	int rc = 0;

	if (d->cons.kick.fd >= 0) {
		rec = json_object_new_object();
		json_object_object_add(rec, "type",
				       json_object_new_string("console"));
		json_object_object_add(rec, "devid", json_object_new_int(0));
		json_object_object_add(
		    rec, "state", json_object_new_int(XenbusStateConnected));
		json_object_array_add(arr, rec);
		rc = consback_save(d, rec);
	}
	if (rc == 0)
		rc = xenbus_back_save(d, arr);
	n = json_object_array_length(arr);
	for (i = 0; rc == 0 && i < n && i < STREAM_DEVICES_MAX; i++) {
		rec = json_object_array_get_idx(arr, i);
		job->devices[job->nr_devices] = save_json_text(rec);
		if (!job->devices[job->nr_devices++])
			rc = -ENOMEM;
		json_object_object_get_ex(rec, "type", &t);
		if (!json_object_object_get_ex(rec, "spec", &spec))
			continue;
		if (!strcmp(json_object_get_string(t), "vbd"))
			json_object_array_add(disks, json_object_get(spec));
		else if (!strcmp(json_object_get_string(t), "vif"))
			json_object_array_add(vifs, json_object_get(spec));
	}
	if (rc == 0 && n > STREAM_DEVICES_MAX)
		rc = -E2BIG;
	json_object_put(arr);
	if (rc < 0)
		save_error(job, rc, "saving the devices: %s", strerror(-rc));
	return rc;
}

/* CONFIG: the caller's members, and what this VMM runs the domain with. */
static int save_config(struct save_job *job, json_object *disks,
		       json_object *vifs)
{
	struct domain *d = job->d;
	json_object *c = job->config;

	json_object_object_add(
	    c, "memory_kib",
	    json_object_new_int64((int64_t)(d->ram_size >> 10)));
	json_object_object_add(c, "vcpus",
			       json_object_new_int((int)d->nr_vcpus));
	json_object_object_add(c, "domid", json_object_new_int(d->xen.domid));
	json_object_object_add(c, "disks", json_object_get(disks));
	json_object_object_add(c, "vifs", json_object_get(vifs));
	if (d->xs.enabled && !json_object_object_get_ex(c, "name", NULL))
		json_object_object_add(c, "name",
				       json_object_new_string(d->xs.name));
	if (d->xs.enabled && !json_object_object_get_ex(c, "uuid", NULL))
		json_object_object_add(c, "uuid",
				       json_object_new_string(d->xs.uuid));
	job->config_text = save_json_text(c);
	if (!job->config_text) {
		save_error(job, -E2BIG, "the config is over %u bytes",
			   STREAM_JSON_MAX);
		return -E2BIG;
	}
	return 0;
}

static void save_gather(struct save_job *job)
{
	struct domain *d = job->d;
	json_object *disks = json_object_new_array();
	json_object *vifs = json_object_new_array();
	json_object *xs = json_object_new_object();
	int rc;

	consback_quiesce(d);
	job->quiesced = true;
	rc = xenbus_back_quiesce(d, job->err, sizeof(job->err));
	if (rc < 0) {
		job->rc = rc;
		goto out;
	}
	/* Another host reads the images next: every write on disk first. */
	if (job->fd >= 0 && (rc = vbd_sync(d)) < 0) {
		save_error(job, rc, "syncing the disks: %s", strerror(-rc));
		goto out;
	}
	save_store_settle(d);
	rc = domain_state_save(d, &job->vmm_state);
	if (rc < 0) {
		save_error(job, rc, "saving the hypervisor state: %s",
			   strerror(-rc));
		goto out;
	}
	rc = xs_domain_save(d, xs);
	if (rc == 0) {
		job->xenstore_text = save_json_text(xs);
		if (!job->xenstore_text)
			rc = -E2BIG;
	}
	if (rc < 0) {
		save_error(job, rc, "saving the domain's XenStore nodes: %s",
			   strerror(-rc));
		goto out;
	}
	rc = save_devices(job, disks, vifs);
	/* A migration sent its CONFIG first (save_start). */
	if (rc == 0 && !job->config_text)
		(void)save_config(job, disks, vifs);
out:
	json_object_put(disks);
	json_object_put(vifs);
	json_object_put(xs);
}

/* --- writing (save thread) ---------------------------------------------- */

/*
 * Whether pages from pfn on are in the memfd (data) or holes (zeros),
 * and where that ends.  Without SEEK_DATA, all data.
 */
static uint64_t save_extent(struct domain *d, uint64_t pfn, uint64_t nr,
			    bool *data)
{
	off_t off = (off_t)(pfn * VMM_PAGE_SIZE), o;

	*data = true;
	if (d->mem_fd < 0)
		return nr;
	o = lseek(d->mem_fd, off, SEEK_DATA);
	if (o < 0) {
		*data = errno != ENXIO;
		return nr;
	}
	if (o > off) {
		*data = false;
		return (uint64_t)o / VMM_PAGE_SIZE < nr
			   ? (uint64_t)o / VMM_PAGE_SIZE
			   : nr;
	}
	o = lseek(d->mem_fd, off, SEEK_HOLE);
	if (o < 0)
		return nr;
	o = (off_t)(((uint64_t)o + VMM_PAGE_SIZE - 1) / VMM_PAGE_SIZE);
	return (uint64_t)o < nr && (uint64_t)o > pfn ? (uint64_t)o : nr;
}

/* A page xenstored may be writing: copied until two copies agree. */
static const void *save_snapshot(const uint8_t *page, uint8_t *copy)
{
	unsigned int i;

	for (i = 0; i < SAVE_SNAPSHOT_TRIES; i++) {
		memcpy(copy, page, VMM_PAGE_SIZE);
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		if (!memcmp(copy, page, VMM_PAGE_SIZE))
			break;
	}
	return copy;
}

/* One page: a copy of the store ring, which xenstored may be writing. */
static int save_page(struct save_job *job, struct stream_writer *w,
		     uint64_t pfn, const uint8_t *page)
{
	static __thread uint8_t copy[VMM_PAGE_SIZE];

	if (page && pfn == mem_special_gfn(job->d, MEM_SPECIAL_STORE))
		page = save_snapshot(page, copy);
	return stream_put_page(w, pfn, page);
}

int save_pages(struct save_job *job, struct stream_writer *w)
{
	struct domain *d = job->d;
	uint64_t nr = d->ram_size / VMM_PAGE_SIZE, pfn = 0, end;
	bool data;
	int rc = 0;

	while (rc == 0 && pfn < nr) {
		end = save_extent(d, pfn, nr, &data);
		for (; rc == 0 && pfn < end; pfn++) {
			/* Given back: not sent (BAL1 says which). */
			if (balloon_gfn_released(d, pfn))
				continue;
			rc = save_page(job, w, pfn,
				       data ? d->ram + pfn * VMM_PAGE_SIZE
					    : NULL);
			if (pfn % 1024 == 0 && save_aborted(job))
				rc = -ECANCELED;
		}
	}
	return rc;
}

int save_pages_of(struct save_job *job, struct stream_writer *w,
		  const uint64_t *bitmap)
{
	struct domain *d = job->d;
	uint64_t nr = d->ram_size / VMM_PAGE_SIZE, pfn, word;
	size_t i;
	int rc = 0;

	for (i = 0; rc == 0 && i < (nr + 63) / 64; i++) {
		for (word = bitmap[i]; rc == 0 && word; word &= word - 1) {
			pfn = i * 64 + (uint64_t)__builtin_ctzll(word);
			if (pfn >= nr)
				break;
			/*
			 * Given back since it was sent: zeros, so that the
			 * other side drops what it has.
			 */
			rc = save_page(job, w, pfn,
				       balloon_gfn_released(d, pfn)
					   ? NULL
					   : d->ram + pfn * VMM_PAGE_SIZE);
		}
		if (i % 16 == 0 && rc == 0 && save_aborted(job))
			rc = -ECANCELED;
	}
	return rc;
}

int save_put_state(struct save_job *job, struct stream_writer *w)
{
	unsigned int i;
	int rc;

	rc = stream_put_record(w, STREAM_VMM_STATE, job->vmm_state.data,
			       job->vmm_state.len);
	for (i = 0; rc == 0 && i < job->nr_devices; i++)
		rc = stream_put_record(w, STREAM_DEVICE, job->devices[i],
				       strlen(job->devices[i]));
	if (rc == 0)
		rc = stream_put_record(w, STREAM_XENSTORE, job->xenstore_text,
				       strlen(job->xenstore_text));
	if (rc == 0)
		rc = stream_put_end(w);
	return rc;
}

static int save_fsync_dir(const char *path)
{
	char dir[PATH_MAX];
	int fd, rc = 0;

	snprintf(dir, sizeof(dir), "%s", path);
	fd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fsync(fd) < 0)
		rc = -errno;
	close(fd);
	return rc;
}

static void save_write(struct save_job *job)
{
	struct domain *d = job->d;
	struct stream_writer w;
	int fd, rc;

	fd = open(job->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		save_error(job, -errno, "%s: %s", job->tmp, strerror(errno));
		return;
	}
	rc = stream_writer_init(&w, fd, job->compress);
	if (rc == 0) {
		rc = stream_put_header(&w, 0, d->ram_size);
		if (rc == 0)
			rc = stream_put_record(&w, STREAM_CONFIG,
					       job->config_text,
					       strlen(job->config_text));
		if (rc == 0)
			rc = save_pages(job, &w);
		if (rc == 0)
			rc = save_put_state(job, &w);
		job->res.bytes = w.bytes;
		job->res.pages = w.pages;
		stream_writer_free(&w);
	}
	if (rc == 0 && fsync(fd) < 0)
		rc = -errno;
	if (close(fd) < 0 && rc == 0)
		rc = -errno;
	if (rc == 0 && rename(job->tmp, job->path) < 0)
		rc = -errno;
	if (rc == 0)
		rc = save_fsync_dir(job->path);
	if (rc < 0) {
		save_error(job, rc, "writing %s: %s", job->path, strerror(-rc));
		(void)unlink(job->tmp);
	}
}

int save_pause_gather(struct save_job *job)
{
	struct domain *d = job->d;
	struct timespec ts;

	domain_pause(d);
	job->pause_ms = log_now_ms();
	clock_gettime(CLOCK_MONOTONIC, &ts);
	job->pause_us =
	    (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000;
	if (domain_is_shutting_down(d)) {
		save_error(job, -ESHUTDOWN, "the domain shut down");
		return job->rc;
	}
	save_set_stage(job, SAVE_GATHERING);
	pthread_mutex_lock(&job->lock);
	while (!job->gathered && !job->abort)
		pthread_cond_wait(&job->cond, &job->lock);
	job->stage = SAVE_WRITING;
	pthread_mutex_unlock(&job->lock);
	if (save_aborted(job))
		save_error(job, -ECANCELED, "the domain was destroyed");
	return job->rc;
}

static void *save_thread(void *arg)
{
	struct save_job *job = arg;

	if (job->fd >= 0)
		migrate_send(job);
	else if (save_pause_gather(job) == 0)
		save_write(job);
	job->res.ms = log_now_ms() - job->t0_ms;
	save_set_stage(job, SAVE_DONE);
	return NULL;
}

/* --- the loop's side ---------------------------------------------------- */

static void save_free(struct save_job *job)
{
	unsigned int i;

	if (job->efd >= 0)
		close(job->efd);
	if (job->fd >= 0)
		close(job->fd);
	json_object_put(job->config);
	buf_free(&job->vmm_state);
	free(job->config_text);
	free(job->xenstore_text);
	for (i = 0; i < job->nr_devices; i++)
		free(job->devices[i]);
	pthread_mutex_destroy(&job->lock);
	pthread_cond_destroy(&job->cond);
	free(job);
}

static void save_finish(struct save_job *job)
{
	struct domain *d = job->d;
	save_done_fn *done = job->done;
	struct save_result res = job->res;
	void *arg = job->arg;
	char err[sizeof(job->err)];
	int rc = job->rc;

	pthread_join(job->thread, NULL);
	loop_del(&d->loop, &job->src);
	d->save = NULL;
	snprintf(err, sizeof(err), "%s", job->err);
	if (rc == 0 && !job->checkpoint) {
		/* Paused and drained it stays: it ends now, saved. */
		if (job->fd >= 0)
			log_info("migrate: domain %u sent (%" PRIu64 " bytes, "
				 "%u rounds, %" PRIu64 " ms, downtime %" PRIu64
				 " ms)",
				 d->xen.domid, res.bytes, res.rounds, res.ms,
				 res.downtime_ms);
		else
			log_info("save: domain %u saved to %s (%" PRIu64
				 " bytes, %" PRIu64 " ms)",
				 d->xen.domid, job->path, res.bytes, res.ms);
		save_free(job);
		done(arg, 0, &res, NULL);
		domain_shutdown(d, VMM_EXIT_SAVED);
		return;
	}
	if (job->quiesced) {
		xenbus_back_unquiesce(d);
		consback_unquiesce(d);
	}
	if (!job->was_paused && !domain_is_shutting_down(d))
		domain_unpause(d);
	if (rc == 0)
		log_info("save: domain %u checkpointed to %s (%" PRIu64
			 " bytes, %" PRIu64 " ms)",
			 d->xen.domid, job->path, res.bytes, res.ms);
	else
		log_warnx("save: domain %u: %s; it runs on", d->xen.domid, err);
	save_free(job);
	done(arg, rc, &res, rc ? err : NULL);
}

static void save_event(struct domain *d, struct loop_source *s)
{
	struct save_job *job = s->arg;
	enum save_stage st;
	uint64_t n;

	(void)d;
	if (read(job->efd, &n, sizeof(n)) < 0)
		return;
	pthread_mutex_lock(&job->lock);
	st = job->stage;
	pthread_mutex_unlock(&job->lock);
	if (st == SAVE_GATHERING && !job->gathered) {
		save_gather(job);
		pthread_mutex_lock(&job->lock);
		job->gathered = true;
		pthread_cond_signal(&job->cond);
		pthread_mutex_unlock(&job->lock);
	} else if (st == SAVE_DONE) {
		save_finish(job);
	}
}

/*
 * A migration's CONFIG goes first, while the domain runs: its devices'
 * specs are taken now (no attach or detach is allowed until it is over).
 */
static int save_config_early(struct save_job *job, char *err, size_t errlen)
{
	json_object *disks = json_object_new_array();
	json_object *vifs = json_object_new_array();
	unsigned int i;
	int rc;

	rc = save_devices(job, disks, vifs);
	if (rc == 0)
		rc = save_config(job, disks, vifs);
	for (i = 0; i < job->nr_devices; i++)
		free(job->devices[i]);
	job->nr_devices = 0;
	json_object_put(disks);
	json_object_put(vifs);
	if (rc < 0)
		snprintf(err, errlen, "%s", job->err);
	job->rc = 0;
	job->err[0] = '\0';
	return rc;
}

static int save_check_args(struct domain *d, const struct save_args *a,
			   char *err, size_t errlen)
{
	if (d->save) {
		snprintf(err, errlen, "a save is under way");
		return -EBUSY;
	}
	if (domain_is_shutting_down(d)) {
		snprintf(err, errlen, "the domain is shutting down");
		return -ESHUTDOWN;
	}
	if (a->path && (a->path[0] != '/' || strlen(a->path) >= PATH_MAX)) {
		snprintf(err, errlen, "\"path\": an absolute path is needed");
		return -EINVAL;
	}
	if (!a->path && a->fd < 0) {
		snprintf(err, errlen, "no file and no connection to send to");
		return -EINVAL;
	}
	return 0;
}

int save_start(struct domain *d, const struct save_args *a, save_done_fn *done,
	       void *arg, char *err, size_t errlen)
{
	struct save_job *job;
	sigset_t all, old;
	int rc;

	rc = save_check_args(d, a, err, errlen);
	if (rc < 0)
		return rc;
	job = calloc(1, sizeof(*job));
	if (!job)
		return -ENOMEM;
	job->d = d;
	job->fd = -1;
	job->efd = -1;
	if (a->path) {
		snprintf(job->path, sizeof(job->path), "%s", a->path);
		snprintf(job->tmp, sizeof(job->tmp), "%s.partial", a->path);
		job->checkpoint = a->checkpoint;
	} else {
		job->fd = a->fd;
		job->live = a->live;
		job->downtime_ms = a->downtime_ms;
		job->max_rounds = a->max_rounds;
	}
	job->compress = a->compress;
	job->config =
	    a->config ? json_object_get(a->config) : json_object_new_object();
	job->done = done;
	job->arg = arg;
	job->was_paused = domain_is_paused(d);
	job->t0_ms = log_now_ms();
	pthread_mutex_init(&job->lock, NULL);
	pthread_cond_init(&job->cond, NULL);
	if (job->fd >= 0) {
		rc = save_config_early(job, err, errlen);
		if (rc < 0) {
			job->fd = -1; /* the caller's still */
			save_free(job);
			return rc;
		}
	}
	job->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (job->efd < 0) {
		rc = -errno;
		goto fail;
	}
	job->src = (struct loop_source){job->efd, save_event, job};
	rc = loop_add(&d->loop, &job->src);
	if (rc < 0)
		goto fail;
	/* No signal is the thread's (they reach the loop's signalfd). */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = -pthread_create(&job->thread, NULL, save_thread, job);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc < 0) {
		loop_del(&d->loop, &job->src);
		goto fail;
	}
	job->thread_started = true;
	d->save = job;
	if (job->fd >= 0)
		log_info("migrate: domain %u%s", d->xen.domid,
			 job->live ? " (live)" : "");
	else
		log_info("save: domain %u to %s%s", d->xen.domid, job->path,
			 job->checkpoint ? " (checkpoint)" : "");
	return 0;
fail:
	snprintf(err, errlen, "starting the save: %s", strerror(-rc));
	job->fd = -1; /* the caller's still */
	save_free(job);
	return rc;
}

bool save_progress(struct domain *d, struct migrate_progress *out)
{
	struct save_job *job = d->save;

	if (!job || job->fd < 0)
		return false;
	pthread_mutex_lock(&job->lock);
	*out = job->progress;
	pthread_mutex_unlock(&job->lock);
	return true;
}

bool save_busy(struct domain *d)
{
	return d->save != NULL;
}

void save_destroy(struct domain *d)
{
	struct save_job *job = d->save;

	if (!job)
		return;
	pthread_mutex_lock(&job->lock);
	job->abort = true;
	pthread_cond_signal(&job->cond);
	pthread_mutex_unlock(&job->lock);
	/* A thread blocked on the connection wakes up. */
	if (job->fd >= 0)
		(void)shutdown(job->fd, SHUT_RDWR);
	if (job->thread_started)
		pthread_join(job->thread, NULL);
	if (job->tmp[0])
		(void)unlink(job->tmp);
	d->save = NULL;
	save_free(job);
}
