/* SPDX-License-Identifier: MIT */
/*
 * The control socket's commands (docs/vmm-control.md): a request line is
 * parsed as one JSON object, its "cmd" looked up in ctl_cmds[], the row's
 * policy checked once here, and its handler run.  A handler adds its
 * fields to the ok reply, or fails with -errno and a message, or holds
 * the client and replies later (CTL_LATER): detaches wait for the
 * frontend to close, a pause for every vCPU to park.
 *
 * Requests come from root only, yet the parser takes them as hostile:
 * bounded depth, strict JSON, valid UTF-8, every argument type-checked.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <xenstore.h>

#include "ctl_priv.h"
#include "diskspec.h"
#include "domain.h"
#include "log.h"
#include "mem.h"
#include "migrate.h"
#include "vbd.h"
#include "vif.h"

/* A handler's reply goes out later; the client is held until then. */
#define CTL_LATER 1
/* Deeper requests are not ours: ours are flat objects. */
#define CTL_JSON_DEPTH 8
/* How long a frontend has to close before its device goes anyway. */
#define CTL_DETACH_TIMEOUT_MS 10000u

/* KiB in a guest page. */
#define CTL_PAGE_KIB ((uint64_t)(VMM_PAGE_SIZE >> 10))

/* Policy flags of a command. */
#define CTL_XENSTORE 0x1u /* devices meet their frontends in XenStore */
#define CTL_CHANGES 0x2u  /* changes the domain: not while it is saved */

struct ctl_req {
	struct ctl_client *c;
	struct domain *d;
	json_object *req;
	json_object *rep; /* the ok reply being built */
	char err[256];
};

struct ctl_cmd {
	const char *name;
	int (*fn)(struct ctl_req *r);
	unsigned int flags;
};

/* --- arguments ------------------------------------------------------------ */

static int ctl_arg_string(struct ctl_req *r, const char *key,
			  const char **out)
{
	json_object *v;

	/* "\u0000" would cut the C string short: "info\u0000x" is no info. */
	if (!json_object_object_get_ex(r->req, key, &v) ||
	    !json_object_is_type(v, json_type_string) ||
	    strlen(json_object_get_string(v)) !=
		    (size_t)json_object_get_string_len(v)) {
		snprintf(r->err, sizeof(r->err), "\"%s\": a string is needed",
			 key);
		return -EINVAL;
	}
	*out = json_object_get_string(v);
	return 0;
}

static int ctl_arg_uint(struct ctl_req *r, const char *key, uint64_t max,
			uint64_t *out)
{
	json_object *v;
	int64_t n;

	if (!json_object_object_get_ex(r->req, key, &v) ||
	    !json_object_is_type(v, json_type_int)) {
		snprintf(r->err, sizeof(r->err),
			 "\"%s\": an integer is needed", key);
		return -EINVAL;
	}
	/* Past INT64_MAX json-c keeps a uint64: too big for us anyway. */
	n = json_object_get_int64(v);
	if (n < 0 || (uint64_t)n > max) {
		snprintf(r->err, sizeof(r->err),
			 "\"%s\": from 0 to %" PRIu64, key, max);
		return -ERANGE;
	}
	*out = (uint64_t)n;
	return 0;
}

/* An optional flag: absent is false. */
static int ctl_arg_flag(struct ctl_req *r, const char *key, bool *out)
{
	json_object *v;

	*out = false;
	if (!json_object_object_get_ex(r->req, key, &v))
		return 0;
	if (!json_object_is_type(v, json_type_boolean)) {
		snprintf(r->err, sizeof(r->err), "\"%s\": true or false", key);
		return -EINVAL;
	}
	*out = json_object_get_boolean(v);
	return 0;
}

/* A copy of s fit for a message: printable ASCII, the rest '?'. */
static void ctl_printable(char *dst, size_t size, const char *s)
{
	size_t i;

	for (i = 0; i + 1 < size && s[i]; i++)
		dst[i] = s[i] >= 0x20 && s[i] < 0x7f ? s[i] : '?';
	dst[i] = '\0';
}

static void ctl_add_uint(json_object *o, const char *key, uint64_t v)
{
	json_object_object_add(o, key, json_object_new_uint64(v));
}

/* --- info ----------------------------------------------------------------- */

/* The host CPU a thread last ran on: field 39 of its stat, or -1. */
static int ctl_task_cpu(pid_t tid)
{
	char path[64], buf[1024], *p, *save = NULL;
	unsigned int field;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/self/task/%d/stat", (int)tid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	/* The name (field 2) may hold spaces and parentheses: skip it. */
	p = strrchr(buf, ')');
	if (!p)
		return -1;
	for (field = 3, p = strtok_r(p + 1, " ", &save); p;
	     field++, p = strtok_r(NULL, " ", &save))
		if (field == 39)
			return atoi(p);
	return -1;
}

/* The thread's CPU time (0 before it starts) and its last host CPU. */
static void ctl_vcpu_times(struct vcpu *v, uint64_t *ns, int *cpu)
{
	struct domain *d = v->dom;
	struct timespec ts;
	clockid_t cid;
	pid_t tid = 0;

	*ns = 0;
	*cpu = -1;
	/* The thread cannot be joined while alive under kick_lock. */
	pthread_mutex_lock(&d->kick_lock);
	if (v->thread_alive) {
		if (pthread_getcpuclockid(v->thread, &cid) == 0 &&
		    clock_gettime(cid, &ts) == 0)
			*ns = (uint64_t)ts.tv_sec * 1000000000u +
			      (uint64_t)ts.tv_nsec;
		tid = __atomic_load_n(&v->tid, __ATOMIC_ACQUIRE);
	}
	pthread_mutex_unlock(&d->kick_lock);
	if (tid > 0)
		*cpu = ctl_task_cpu(tid);
}

/* A migration under way, as "migration": {...}. */
static void ctl_info_migration(struct ctl_req *r)
{
	struct migrate_progress p;
	json_object *o;

	if (!save_progress(r->d, &p))
		return;
	o = json_object_new_object();
	json_object_object_add(o, "phase",
			       json_object_new_string(p.phase ? p.phase
							      : "starting"));
	ctl_add_uint(o, "round", p.round);
	ctl_add_uint(o, "pages", p.pages);
	ctl_add_uint(o, "bytes", p.bytes);
	ctl_add_uint(o, "dirty", p.dirty);
	ctl_add_uint(o, "rate", p.rate);
	ctl_add_uint(o, "expected_downtime_ms", p.expected_ms);
	json_object_object_add(r->rep, "migration", o);
}

static int ctl_info(struct ctl_req *r)
{
	struct domain *d = r->d;
	enum vcpu_state st[VMM_MAX_VCPUS];
	json_object *vcpus, *o;
	bool paused, down;
	uint64_t cur, max, ns;
	unsigned int i;
	const char *s;
	int cpu;

	pthread_mutex_lock(&d->lock);
	for (i = 0; i < d->nr_vcpus; i++)
		st[i] = d->vcpus[i].state;
	paused = d->paused;
	down = d->shutting_down;
	pthread_mutex_unlock(&d->lock);
	pthread_mutex_lock(&d->xen.lock);
	cur = d->cur_pages;
	max = d->max_pages;
	pthread_mutex_unlock(&d->xen.lock);

	json_object_object_add(r->rep, "state",
			       json_object_new_string(down ? "shutdown"
						      : paused ? "paused"
							       : "running"));
	ctl_add_uint(r->rep, "domid", d->xen.domid);
	ctl_add_uint(r->rep, "memory_kib", cur * CTL_PAGE_KIB);
	ctl_add_uint(r->rep, "maxmem_kib", max * CTL_PAGE_KIB);
	vcpus = json_object_new_array();
	for (i = 0; i < d->nr_vcpus; i++) {
		struct vcpu *v = &d->vcpus[i];

		if (st[i] != VCPU_RUNNING)
			s = "offline";
		else if (paused)
			s = "paused";
		else if (__atomic_load_n(&v->blocked, __ATOMIC_RELAXED))
			s = "blocked";
		else
			s = "running";
		ctl_vcpu_times(v, &ns, &cpu);
		o = json_object_new_object();
		ctl_add_uint(o, "id", i);
		json_object_object_add(o, "online",
				       json_object_new_boolean(
					       st[i] == VCPU_RUNNING));
		json_object_object_add(o, "state", json_object_new_string(s));
		ctl_add_uint(o, "cpu_ns", ns);
		json_object_object_add(o, "cpu", json_object_new_int(cpu));
		json_object_array_add(vcpus, o);
	}
	json_object_object_add(r->rep, "vcpus", vcpus);
	ctl_info_migration(r);
	return 0;
}

/* --- pause and unpause ---------------------------------------------------- */

static void *ctl_pause_thread(void *arg)
{
	struct ctl *ctl = arg;
	uint64_t one = 1;

	domain_pause(ctl->d);
	if (write(ctl->pause_fd, &one, sizeof(one)) < 0)
		log_warn("ctl: pause: ringing the loop");
	return NULL;
}

static int ctl_pause(struct ctl_req *r)
{
	struct ctl *ctl = r->c->ctl;
	sigset_t all, old;
	int rc;

	if (domain_is_shutting_down(r->d)) {
		snprintf(r->err, sizeof(r->err), "the domain is shutting down");
		return -ESHUTDOWN;
	}
	if (ctl->pausing) {
		snprintf(r->err, sizeof(r->err), "a pause is under way");
		return -EBUSY;
	}
	if (domain_is_paused(r->d)) {
		snprintf(r->err, sizeof(r->err),
			 "the domain is paused already");
		return -EALREADY;
	}
	/*
	 * domain_pause() returns once every vCPU has parked: not on the
	 * loop, which must go on serving (a vCPU stuck in a write to a full
	 * console pipe would stall it).  No signal is the thread's.
	 */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = -pthread_create(&ctl->pause_thread, NULL, ctl_pause_thread, ctl);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc < 0)
		return rc;
	ctl->pausing = true;
	ctl->pause_client = r->c;
	ctl_client_hold(r->c);
	return CTL_LATER;
}

void ctl_cmd_paused(struct ctl *ctl)
{
	struct ctl_client *c = ctl->pause_client;
	json_object *rep;

	pthread_join(ctl->pause_thread, NULL);
	ctl->pausing = false;
	ctl->pause_client = NULL;
	if (domain_is_shutting_down(ctl->d)) {
		ctl_send_error(c, "the domain shut down");
	} else {
		rep = json_object_new_object();
		json_object_object_add(rep, "ok", json_object_new_boolean(1));
		ctl_send(c, rep);
		log_info("ctl: domain paused");
	}
	ctl_client_resume(c);
}

static int ctl_unpause(struct ctl_req *r)
{
	if (r->c->ctl->pausing) {
		snprintf(r->err, sizeof(r->err), "a pause is under way");
		return -EBUSY;
	}
	if (domain_is_shutting_down(r->d)) {
		snprintf(r->err, sizeof(r->err), "the domain is shutting down");
		return -ESHUTDOWN;
	}
	if (!domain_is_paused(r->d)) {
		snprintf(r->err, sizeof(r->err), "the domain is not paused");
		return -EINVAL;
	}
	domain_unpause(r->d);
	log_info("ctl: domain unpaused");
	return 0;
}

/* --- memory --------------------------------------------------------------- */

static int ctl_maxmem(struct ctl_req *r)
{
	struct domain *d = r->d;
	uint64_t kib, pages, cur, ram_kib = d->ram_size >> 10;
	char path[64], v[24];
	int rc;

	rc = ctl_arg_uint(r, "kib", UINT64_MAX >> 10, &kib);
	if (rc < 0)
		return rc;
	pages = kib / CTL_PAGE_KIB;
	rc = memory_set_max_pages(d, pages);
	if (rc == -EINVAL) {
		pthread_mutex_lock(&d->xen.lock);
		cur = d->cur_pages;
		pthread_mutex_unlock(&d->xen.lock);
		snprintf(r->err, sizeof(r->err),
			 "%" PRIu64 " KiB is below the current reservation "
			 "(%" PRIu64 " KiB)",
			 kib, cur * CTL_PAGE_KIB);
		return rc;
	}
	if (rc == -E2BIG) {
		snprintf(r->err, sizeof(r->err),
			 "%" PRIu64 " KiB is above the domain's RAM (%" PRIu64
			 " KiB): ballooning up past --memory is not "
			 "supported",
			 kib, ram_kib);
		return rc;
	}
	if (rc < 0)
		return rc;
	/* As xl mem-max: the guest's balloon driver reads it there. */
	if (d->xs.xsh) {
		snprintf(path, sizeof(path), "%s/memory/static-max",
			 d->xs.home);
		snprintf(v, sizeof(v), "%" PRIu64,
			 pages * CTL_PAGE_KIB);
		if (!xs_write(d->xs.xsh, XBT_NULL, path, v,
			      (unsigned int)strlen(v)))
			log_warn("ctl: writing %s", path);
	}
	ctl_add_uint(r->rep, "maxmem_kib", pages * CTL_PAGE_KIB);
	log_info("ctl: maxmem %" PRIu64 " KiB", pages * CTL_PAGE_KIB);
	return 0;
}

/* --- devices -------------------------------------------------------------- */

static void ctl_detached(void *arg, bool forced)
{
	struct ctl_client *c = arg;
	json_object *rep = json_object_new_object();

	json_object_object_add(rep, "ok", json_object_new_boolean(1));
	json_object_object_add(rep, "forced", json_object_new_boolean(forced));
	ctl_send(c, rep);
	ctl_client_resume(c);
}

static int ctl_disk_attach(struct ctl_req *r)
{
	static struct diskspec ds; /* 4 KiB of path; the loop's alone */
	char err[200], show[40];
	const char *spec;
	int rc;

	rc = ctl_arg_string(r, "spec", &spec);
	if (rc < 0)
		return rc;
	if (diskspec_parse(spec, &ds, err, sizeof(err)) < 0) {
		snprintf(r->err, sizeof(r->err), "disk spec: %s", err);
		return -EINVAL;
	}
	ctl_printable(show, sizeof(show), ds.vdev);
	if (xenbus_dev_exists(r->d, "vbd", ds.devid)) {
		snprintf(r->err, sizeof(r->err), "%s is attached already",
			 show);
		return -EEXIST;
	}
	rc = vbd_add(r->d, spec);
	if (rc < 0) {
		snprintf(r->err, sizeof(r->err), "attaching %s: %s", show,
			 strerror(-rc));
		return rc;
	}
	ctl_add_uint(r->rep, "devid", ds.devid);
	json_object_object_add(r->rep, "vdev", json_object_new_string(show));
	return 0;
}

/* A detach's outcome: held until the device is gone, or an error now. */
static int ctl_detach_started(struct ctl_req *r, int rc, const char *what)
{
	switch (rc) {
	case 0:
		ctl_client_hold(r->c);
		return CTL_LATER;
	case -EINVAL:
		snprintf(r->err, sizeof(r->err),
			 "'%s' is not a virtual device name", what);
		break;
	case -ENOENT:
		snprintf(r->err, sizeof(r->err), "no such device: %s", what);
		break;
	case -EBUSY:
		snprintf(r->err, sizeof(r->err), "%s is being detached already",
			 what);
		break;
	default:
		break;
	}
	return rc;
}

static int ctl_disk_detach(struct ctl_req *r)
{
	const char *vdev;
	char show[40];
	bool force;
	int rc;

	rc = ctl_arg_string(r, "vdev", &vdev);
	if (rc == 0)
		rc = ctl_arg_flag(r, "force", &force);
	if (rc < 0)
		return rc;
	ctl_printable(show, sizeof(show), vdev);
	rc = vbd_remove(r->d, vdev, force ? 0 : CTL_DETACH_TIMEOUT_MS,
			ctl_detached, r->c);
	return ctl_detach_started(r, rc, show);
}

static int ctl_vif_attach(struct ctl_req *r)
{
	struct vif_spec vs;
	char err[160];
	const char *spec;
	unsigned int devid;
	int rc;

	rc = ctl_arg_string(r, "spec", &spec);
	if (rc < 0)
		return rc;
	if (vif_parse_spec(spec, &vs, err, sizeof(err)) < 0) {
		snprintf(r->err, sizeof(r->err), "vif spec: %s", err);
		return -EINVAL;
	}
	rc = vif_add(r->d, spec, &devid);
	if (rc < 0) {
		snprintf(r->err, sizeof(r->err), "attaching the vif: %s",
			 strerror(-rc));
		return rc;
	}
	ctl_add_uint(r->rep, "devid", devid);
	return 0;
}

static int ctl_vif_detach(struct ctl_req *r)
{
	uint64_t devid;
	char show[24];
	bool force;
	int rc;

	rc = ctl_arg_uint(r, "devid", UINT32_MAX, &devid);
	if (rc == 0)
		rc = ctl_arg_flag(r, "force", &force);
	if (rc < 0)
		return rc;
	snprintf(show, sizeof(show), "vif %" PRIu64, devid);
	rc = vif_remove(r->d, (unsigned int)devid,
			force ? 0 : CTL_DETACH_TIMEOUT_MS, ctl_detached, r->c);
	return ctl_detach_started(r, rc, show);
}

/* --- save ---------------------------------------------------------------- */

/* A migration's rounds: "log": [{"pages", "bytes", "ms", "dirty"}]. */
static void ctl_add_rounds(json_object *rep, const struct save_result *res)
{
	json_object *arr = json_object_new_array(), *o;
	unsigned int i;

	for (i = 0; i < res->nr_log; i++) {
		o = json_object_new_object();
		ctl_add_uint(o, "pages", res->log[i].pages);
		ctl_add_uint(o, "bytes", res->log[i].bytes);
		ctl_add_uint(o, "ms", res->log[i].ms);
		ctl_add_uint(o, "dirty", res->log[i].dirty);
		json_object_array_add(arr, o);
	}
	json_object_object_add(rep, "log", arr);
}

static void ctl_saved(void *arg, int rc, const struct save_result *res,
		      const char *err)
{
	struct ctl_client *c = arg;
	json_object *rep;

	if (rc < 0) {
		ctl_send_error(c, err);
	} else {
		rep = json_object_new_object();
		json_object_object_add(rep, "ok", json_object_new_boolean(1));
		ctl_add_uint(rep, "bytes", res->bytes);
		ctl_add_uint(rep, "pages", res->pages);
		ctl_add_uint(rep, "ms", res->ms);
		if (res->rounds || res->downtime_ms) {
			ctl_add_uint(rep, "rounds", res->rounds);
			ctl_add_uint(rep, "downtime_ms", res->downtime_ms);
			if (res->unconfirmed)
				json_object_object_add(
				    rep, "unconfirmed",
				    json_object_new_boolean(1));
			ctl_add_rounds(rep, res);
		}
		ctl_send(c, rep);
	}
	ctl_client_resume(c);
}

/* What save and migrate share: the caller's CONFIG part, then the start. */
static int ctl_save_start(struct ctl_req *r, struct save_args *a)
{
	json_object *config = NULL;
	int rc;

	if (json_object_object_get_ex(r->req, "config", &config) &&
	    !json_object_is_type(config, json_type_object)) {
		snprintf(r->err, sizeof(r->err),
			 "\"config\": an object is needed");
		return -EINVAL;
	}
	if (r->c->ctl->pausing) {
		snprintf(r->err, sizeof(r->err), "a pause is under way");
		return -EBUSY;
	}
	a->config = config;
	rc = save_start(r->d, a, ctl_saved, r->c, r->err, sizeof(r->err));
	if (rc < 0)
		return rc;
	ctl_client_hold(r->c);
	return CTL_LATER;
}

/*
 * {"cmd": "save", "path": "/abs", "checkpoint": false, "compress": false,
 *  "config": {...}}: replied once the file is complete (migrate.h).
 */
static int ctl_save(struct ctl_req *r)
{
	struct save_args a = {0};
	int rc;

	rc = ctl_arg_string(r, "path", &a.path);
	if (rc == 0)
		rc = ctl_arg_flag(r, "checkpoint", &a.checkpoint);
	if (rc == 0)
		rc = ctl_arg_flag(r, "compress", &a.compress);
	if (rc < 0)
		return rc;
	a.fd = -1;
	return ctl_save_start(r, &a);
}

/*
 * {"cmd": "migrate", "live": true, "downtime_ms": 300, "max_rounds": 30,
 *  "compress": false, "config": {...}}, sent with the connection to the
 * destination as SCM_RIGHTS: replied when the domain is handed over (the
 * vmm then ends as saved) or, failed, runs on here (migrate.h).
 */
static int ctl_migrate(struct ctl_req *r)
{
	struct save_args a = {.downtime_ms = MIGRATE_DOWNTIME_MS,
			      .max_rounds = MIGRATE_MAX_ROUNDS};
	uint64_t n;
	int rc;

	rc = ctl_arg_flag(r, "live", &a.live);
	if (rc == 0)
		rc = ctl_arg_flag(r, "compress", &a.compress);
	if (rc == 0 && json_object_object_get_ex(r->req, "downtime_ms", NULL)) {
		rc = ctl_arg_uint(r, "downtime_ms", 3600 * 1000, &n);
		a.downtime_ms = n;
	}
	if (rc == 0 && json_object_object_get_ex(r->req, "max_rounds", NULL)) {
		rc = ctl_arg_uint(r, "max_rounds", 1000, &n);
		a.max_rounds = n ? (unsigned int)n : 1;
	}
	if (rc < 0)
		return rc;
	if (r->c->passed_fd < 0) {
		snprintf(r->err, sizeof(r->err),
			 "no connection was passed with the request");
		return -EINVAL;
	}
	a.fd = r->c->passed_fd;
	rc = ctl_save_start(r, &a);
	if (rc == CTL_LATER)
		r->c->passed_fd = -1; /* the migration's now */
	return rc;
}

/* --- the table ------------------------------------------------------------ */

static const struct ctl_cmd ctl_cmds[] = {
	{.name = "info", .fn = ctl_info},
	{.name = "migrate", .fn = ctl_migrate, .flags = CTL_CHANGES},
	{.name = "pause", .fn = ctl_pause, .flags = CTL_CHANGES},
	{.name = "unpause", .fn = ctl_unpause, .flags = CTL_CHANGES},
	{.name = "maxmem", .fn = ctl_maxmem, .flags = CTL_CHANGES},
	{.name = "disk-attach", .fn = ctl_disk_attach,
	 .flags = CTL_XENSTORE | CTL_CHANGES},
	{.name = "disk-detach", .fn = ctl_disk_detach,
	 .flags = CTL_XENSTORE | CTL_CHANGES},
	{.name = "vif-attach", .fn = ctl_vif_attach,
	 .flags = CTL_XENSTORE | CTL_CHANGES},
	{.name = "vif-detach", .fn = ctl_vif_detach,
	 .flags = CTL_XENSTORE | CTL_CHANGES},
	{.name = "save", .fn = ctl_save, .flags = CTL_CHANGES},
};

/* One line as one JSON object; 0, or -EINVAL with the reason in err. */
static int ctl_parse(const char *line, size_t len, json_object **out,
		     char *err, size_t errlen)
{
	char text[CTL_LINE_MAX + 1];
	struct json_tokener *tok;
	enum json_tokener_error e;
	json_object *o;
	size_t end;

	*out = NULL;
	if (memchr(line, '\0', len)) {
		snprintf(err, errlen, "bad JSON: a NUL byte");
		return -EINVAL;
	}
	if (len > CTL_LINE_MAX)
		return -EINVAL; /* ctl.c cuts lines shorter */
	tok = json_tokener_new_ex(CTL_JSON_DEPTH);
	if (!tok)
		return -ENOMEM;
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT |
					    JSON_TOKENER_VALIDATE_UTF8);
	/* With its NUL: a bare literal ("null", "12") ends there. */
	memcpy(text, line, len);
	text[len] = '\0';
	o = json_tokener_parse_ex(tok, text, (int)len + 1);
	e = json_tokener_get_error(tok);
	end = json_tokener_get_parse_end(tok);
	json_tokener_free(tok);
	if (e != json_tokener_success) {
		snprintf(err, errlen, "bad JSON: %s",
			 e == json_tokener_continue
				 ? "incomplete"
				 : json_tokener_error_desc(e));
		json_object_put(o);
		return -EINVAL;
	}
	while (end < len && (text[end] == ' ' || text[end] == '\t' ||
			     text[end] == '\r'))
		end++;
	if (end < len || !json_object_is_type(o, json_type_object)) {
		snprintf(err, errlen, end < len
					      ? "bad JSON: more after the "
						"object"
					      : "a request is a JSON object");
		json_object_put(o);
		return -EINVAL;
	}
	*out = o;
	return 0;
}

static const struct ctl_cmd *ctl_lookup(struct ctl_req *r)
{
	const char *name;
	char show[40];
	size_t i;

	if (ctl_arg_string(r, "cmd", &name) < 0)
		return NULL;
	for (i = 0; i < sizeof(ctl_cmds) / sizeof(ctl_cmds[0]); i++)
		if (!strcmp(ctl_cmds[i].name, name))
			return &ctl_cmds[i];
	ctl_printable(show, sizeof(show), name);
	snprintf(r->err, sizeof(r->err), "unknown command '%s'", show);
	return NULL;
}

void ctl_cmd_dispatch(struct ctl_client *c, const char *line, size_t len)
{
	struct ctl_req r = {.c = c, .d = c->ctl->d};
	const struct ctl_cmd *cmd = NULL;
	int rc;

	rc = ctl_parse(line, len, &r.req, r.err, sizeof(r.err));
	if (rc == 0) {
		cmd = ctl_lookup(&r);
		rc = cmd ? 0 : -EINVAL;
	}
	if (rc == 0 && (cmd->flags & CTL_XENSTORE) && !r.d->xs.xsh) {
		snprintf(r.err, sizeof(r.err), "%s needs --xenstore",
			 cmd->name);
		rc = -ENOTCONN;
	}
	if (rc == 0 && (cmd->flags & CTL_CHANGES) && save_busy(r.d)) {
		snprintf(r.err, sizeof(r.err), "a save is under way");
		rc = -EBUSY;
	}
	if (rc == 0) {
		r.rep = json_object_new_object();
		json_object_object_add(r.rep, "ok", json_object_new_boolean(1));
		rc = cmd->fn(&r);
	}
	if (rc == 0) {
		ctl_send(c, r.rep);
		r.rep = NULL;
	} else if (rc < 0) {
		if (!r.err[0])
			snprintf(r.err, sizeof(r.err), "%s", strerror(-rc));
		ctl_send_error(c, r.err);
	}
	json_object_put(r.rep);
	json_object_put(r.req);
}
