/* SPDX-License-Identifier: MIT */
/*
 * The API (docs/api.md): a table of endpoints, each with its method and
 * the domain states it is allowed in, checked here once before the
 * handler runs; handlers run under xend.lock.  A failed request changes
 * nothing: every check comes before the first change.
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "api.h"
#include "log.h"
#include "xend.h"

#define ST(s) (1u << (s))
#define ST_LIVE (ST(XD_RUNNING) | ST(XD_PAUSED))
#define ST_ANY 0xffffu

void api_error(struct api_reply *r, int status, const char *code,
	       const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	json_object_put(r->body);
	r->status = status;
	r->body = json_object_new_object();
	json_object_object_add(r->body, "error", json_object_new_string(msg));
	json_object_object_add(r->body, "code", json_object_new_string(code));
}

/* Body fields: NULL/-1 with an error set when missing or mistyped. */
const char *api_str(json_object *body, const char *key, bool need,
			   struct api_reply *r)
{
	json_object *v;

	if (!body || !json_object_object_get_ex(body, key, &v)) {
		if (need)
			api_error(r, 400, "bad-request",
				  "the request needs \"%s\"", key);
		return NULL;
	}
	if (!json_object_is_type(v, json_type_string)) {
		api_error(r, 400, "bad-request", "\"%s\" must be a string",
			  key);
		return NULL;
	}
	return json_object_get_string(v);
}

bool api_num(json_object *body, const char *key, bool need,
		    double min, double max, double *out, struct api_reply *r)
{
	json_object *v;
	double x;

	if (!body || !json_object_object_get_ex(body, key, &v)) {
		if (need)
			api_error(r, 400, "bad-request",
				  "the request needs \"%s\"", key);
		return false;
	}
	if (!json_object_is_type(v, json_type_int) &&
	    !json_object_is_type(v, json_type_double)) {
		api_error(r, 400, "bad-request", "\"%s\" must be a number",
			  key);
		return false;
	}
	x = json_object_get_double(v);
	/* Counts and sizes are whole; only a timeout may have a fraction. */
	if (strcmp(key, "timeout") && x != (double)(long long)x) {
		api_error(r, 400, "bad-request", "\"%s\" must be a whole "
			  "number, not %g", key, x);
		return false;
	}
	if (!(x >= min && x <= max)) {
		api_error(r, 400, "bad-request",
			  "\"%s\" must be from %g to %g, not %g", key, min, max,
			  x);
		return false;
	}
	*out = x;
	return true;
}

bool api_bool(json_object *body, const char *key)
{
	json_object *v;

	return body && json_object_object_get_ex(body, key, &v) &&
	       json_object_is_type(v, json_type_boolean) &&
	       json_object_get_boolean(v);
}

static bool api_ctl_ok(json_object *reply, const char *what,
		       struct api_reply *r, const char *err)
{
	json_object *v;

	if (!reply) {
		api_error(r, 500, "internal", "%s: %s", what, err);
		return false;
	}
	if (!json_object_object_get_ex(reply, "ok", &v) ||
	    !json_object_get_boolean(v)) {
		const char *e = "the vmm refused";

		if (json_object_object_get_ex(reply, "error", &v))
			e = json_object_get_string(v);
		api_error(r, 409, "wrong-state", "%s: %s", what, e);
		json_object_put(reply);
		return false;
	}
	return true;
}

/* One control request; the reply (to put) or NULL with r set. */
json_object *api_ctl_wait(struct xdom *d, const char *what,
			  json_object *req, int timeout_ms, struct api_reply *r)
{
	return api_ctl_wait_fd(d, what, req, -1, timeout_ms, r);
}

json_object *api_ctl_wait_fd(struct xdom *d, const char *what,
			     json_object *req, int pass_fd, int timeout_ms,
			     struct api_reply *r)
{
	json_object *reply;
	int domid = d->domid;
	char err[256];

	/* Long waits must not hold up every other request. */
	pthread_mutex_unlock(&xend.lock);
	reply = vmmctl_call_fd(domid, req, pass_fd, timeout_ms, err,
			       sizeof(err));
	pthread_mutex_lock(&xend.lock);
	json_object_put(req);
	return api_ctl_ok(reply, what, r, err) ? reply : NULL;
}

json_object *api_ctl(struct xdom *d, const char *what, json_object *req,
		     struct api_reply *r)
{
	char err[256];
	json_object *reply = vmmctl_call(d->domid, req, CTL_TIMEOUT_MS, err,
					 sizeof(err));

	json_object_put(req);
	return api_ctl_ok(reply, what, r, err) ? reply : NULL;
}

json_object *api_cmd(const char *cmd)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "cmd", json_object_new_string(cmd));
	return o;
}

static double api_cpu_time(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long long ut = 0, st = 0;
	FILE *f;
	int i;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	f = fopen(path, "re");
	if (!f)
		return 0;
	p = fgets(buf, sizeof(buf), f);
	fclose(f);
	p = p ? strrchr(buf, ')') : NULL;
	for (i = 2; p && i < 14; i++)
		p = strchr(p + 1, ' ');
	if (!p || sscanf(p + 1, "%llu %llu", &ut, &st) != 2)
		return 0;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

json_object *api_domain_json(struct xdom *d, bool detail)
{
	json_object *info = NULL, *o;
	char err[128];

	if (d->pidfd >= 0 &&
		    (d->state == XD_RUNNING || d->state == XD_PAUSED)) {
		json_object *req = api_cmd("info");

		info = vmmctl_call(d->domid, req, 250, err, sizeof(err));
		json_object_put(req);
	}
	o = api_domain_json_info(d, detail, info);
	json_object_put(info);
	return o;
}

json_object *api_domain_json_info(struct xdom *d, bool detail,
				  json_object *info)
{
	json_object *o = json_object_new_object(), *v, *a;
	uint64_t mem_kib = d->cfg->memory_mib << 10;
	unsigned int online = d->cfg->vcpus;
	bool blocked = false;
	char *tty = NULL;
	size_t i, n;

	if (info) {
		if (json_object_object_get_ex(info, "memory_kib", &v))
			mem_kib = (uint64_t)json_object_get_int64(v);
		if (json_object_object_get_ex(info, "vcpus", &a) &&
		    json_object_is_type(a, json_type_array)) {
			n = json_object_array_length(a);
			online = 0;
			blocked = n > 0;
			for (i = 0; i < n; i++) {
				json_object *vc = json_object_array_get_idx(a, i);
				const char *s = "";

				if (json_object_object_get_ex(vc, "state", &v) &&
				    json_object_is_type(v, json_type_string))
					s = json_object_get_string(v);
				if (strcmp(s, "offline"))
					online++;
				if (!strcmp(s, "running"))
					blocked = false;
			}
		}
	}
	json_object_object_add(o, "name", json_object_new_string(d->name));
	json_object_object_add(o, "domid", d->domid >= 0
					       ? json_object_new_int(d->domid)
					       : NULL);
	json_object_object_add(o, "uuid", json_object_new_string(d->uuid));
	json_object_object_add(o, "state", json_object_new_string(
					       xdom_state_flags(d, blocked)));
	json_object_object_add(o, "memory_kib",
			       json_object_new_int64((int64_t)mem_kib));
	json_object_object_add(o, "maxmem_kib",
			       json_object_new_int64((int64_t)d->maxmem_kib));
	json_object_object_add(o, "vcpus", json_object_new_int((int)d->cfg->vcpus));
	json_object_object_add(o, "online_vcpus",
			       json_object_new_int((int)online));
	json_object_object_add(o, "cpu_time", json_object_new_double(
						  d->pid > 0 ? api_cpu_time(d->pid)
							     : 0.0));
	json_object_object_add(o, "start_time",
			       json_object_new_double(d->start_time));
	json_object_object_add(o, "uptime", json_object_new_double(
					    d->domid >= 0 && d->start_time
						? xend_now() - d->start_time
						: 0.0));
	json_object_object_add(o, "managed", json_object_new_boolean(d->managed));
	json_object_object_add(o, "pid", d->pid > 0 ? json_object_new_int(d->pid)
						   : NULL);
	if (detail && d->domid >= 0 && d->pidfd >= 0)
		tty = store_read("/local/domain/%d/console/tty", d->domid);
	if (detail)
		json_object_object_add(o, "console_tty",
				       tty ? json_object_new_string(tty)
					   : NULL);
	free(tty);
	json_object_object_add(o, "on_poweroff", json_object_new_string(
					  domcfg_action_name(d->cfg->on_poweroff)));
	json_object_object_add(o, "on_reboot", json_object_new_string(
					  domcfg_action_name(d->cfg->on_reboot)));
	json_object_object_add(o, "on_crash", json_object_new_string(
					  domcfg_action_name(d->cfg->on_crash)));
	json_object_object_add(o, "config_path",
			       json_object_new_string(d->config_path));
	if (detail)
		json_object_object_add(o, "config",
				       json_object_new_string(d->config));
	if (detail && d->domid >= 0 && d->pidfd >= 0)
		json_object_object_add(o, "devices", api_devices_json(d));
	return o;
}

/* ---- domains ---------------------------------------------------------- */

static int api_domid_cmp(const void *a, const void *b)
{
	const struct xdom *x = *(struct xdom *const *)a;
	const struct xdom *y = *(struct xdom *const *)b;
	int kx = x->domid < 0 ? 1 << 20 : x->domid;
	int ky = y->domid < 0 ? 1 << 20 : y->domid;

	return kx != ky ? kx - ky : strcmp(x->name, y->name);
}

/*
 * Every domain, with what its vmm says (memory, vCPUs, blocked): asked of
 * all running vmms at once, without the lock, so a list of hundreds of
 * domains costs about one round trip and holds up nobody.
 */
static void api_list(struct api_reply *r)
{
	json_object *arr = NULL, **infos = NULL, *req = api_cmd("info");
	struct xdom **v = NULL, *d;
	unsigned int i, n = 0, nlive = 0, cap = xend.nr_domains + 1;
	int *ids = NULL;

	ids = calloc(cap, sizeof(*ids));
	infos = calloc(cap, sizeof(*infos));
	if (!ids || !infos) {
		api_error(r, 500, "internal", "out of memory");
		goto out;
	}
	list_for_each_entry(d, &xend.domains, link)
		if (nlive < cap && d->pidfd >= 0 &&
		    (d->state == XD_RUNNING || d->state == XD_PAUSED))
			ids[nlive++] = d->domid;
	pthread_mutex_unlock(&xend.lock);
	vmmctl_call_many(ids, nlive, req, 250, infos);
	pthread_mutex_lock(&xend.lock);

	/* The table may have changed meanwhile: walk it again. */
	v = calloc(xend.nr_domains + 1, sizeof(*v));
	if (!v) {
		api_error(r, 500, "internal", "out of memory");
		goto out;
	}
	list_for_each_entry(d, &xend.domains, link)
		if (n < xend.nr_domains)
			v[n++] = d;
	qsort(v, n, sizeof(*v), api_domid_cmp);
	arr = json_object_new_array();
	json_object_array_add(arr, host_dom0_json());
	for (i = 0; i < n; i++) {
		json_object *info = NULL;
		unsigned int k;

		for (k = 0; k < nlive && v[i]->pidfd >= 0; k++)
			if (ids[k] == v[i]->domid)
				info = infos[k];
		json_object_array_add(arr, api_domain_json_info(v[i], false,
								info));
	}
	r->body = json_object_new_object();
	json_object_object_add(r->body, "domains", arr);
out:
	for (i = 0; infos && i < nlive; i++)
		json_object_put(infos[i]);
	json_object_put(req);
	free(infos);
	free(ids);
	free(v);
}

/* Problems a config can have that only the host can see. */
static bool api_config_files_ok(struct xdom *d, struct api_reply *r)
{
	const struct domcfg *c = d->cfg;
	unsigned int i;

	if (c->maxmem_mib != c->memory_mib) {
		api_error(r, 400, "bad-config", "%s: maxmem (%llu MiB) above "
			  "memory (%llu MiB): a domain's memory is all mapped "
			  "at its start here, so it can balloon down and back "
			  "but not past it",
			  d->config_path, (unsigned long long)c->maxmem_mib,
			  (unsigned long long)c->memory_mib);
		return false;
	}
	if (access(c->kernel, R_OK) < 0) {
		api_error(r, 400, "bad-config", "%s: kernel %s: %s",
			  d->config_path, c->kernel, strerror(errno));
		return false;
	}
	if (c->ramdisk[0] && access(c->ramdisk, R_OK) < 0) {
		api_error(r, 400, "bad-config", "%s: ramdisk %s: %s",
			  d->config_path, c->ramdisk, strerror(errno));
		return false;
	}
	for (i = 0; i < c->nr_disks; i++) {
		if (access(c->disks[i].path,
			   c->disks[i].readonly ? R_OK : R_OK | W_OK) < 0) {
			api_error(r, 400, "bad-config", "%s: disk %s (%s): %s",
				  d->config_path, c->disks[i].path,
				  c->disks[i].vdev, strerror(errno));
			return false;
		}
	}
	return true;
}

/*
 * Starts d (in the table, with no domid), from its kernel or from a saved
 * stream; on failure d is as before.
 */
bool api_start(struct xdom *d, bool paused, const char *restore,
	       struct api_reply *r)
{
	enum xdom_state was = d->state;
	char err[1024];
	int id;

	if (!restore && d->incoming_fd < 0 && !api_config_files_ok(d, r))
		return false;
	id = xdom_alloc_domid();
	if (id < 0) {
		api_error(r, 503, "no-resources", "no free domain id");
		return false;
	}
	d->domid = id;
	d->state = XD_STARTING;
	d->restarts = 0;
	if (xdom_start(d, paused, restore, err, sizeof(err)) < 0) {
		d->domid = -1;
		d->state = was;
		api_error(r, 500, "internal", "%s", err);
		return false;
	}
	if (supervise_watch(d) < 0 || record_write(d) < 0) {
		xdom_kill_sync(d);
		d->state = was;
		api_error(r, 500, "internal",
			  "domain %d started but xend could not record it in "
			  "XenStore; it was ended (see xm log)", id);
		return false;
	}
	pthread_cond_broadcast(&xend_changed);
	return true;
}

/* A new xdom from a request's config; NULL with r set. */
struct xdom *api_new_domain(json_object *body, json_object *warnings,
			    struct api_reply *r)
{
	const char *text, *path, *cwd;
	char err[1024];
	struct xdom *d;

	text = api_str(body, "config", true, r);
	if (!text)
		return NULL;
	path = api_str(body, "path", false, r);
	if (r->status != 200)
		return NULL;
	cwd = api_str(body, "cwd", false, r);
	if (r->status != 200)
		return NULL;
	d = xdom_new();
	if (!d) {
		api_error(r, 500, "internal", "out of memory");
		return NULL;
	}
	if (xdom_set_config(d, text, path ? path : "config", cwd, err,
			    sizeof(err), warnings) < 0) {
		api_error(r, 400, "bad-config", "%s", err);
		xdom_free(d);
		return NULL;
	}
	if (xdom_by_name(d->name)) {
		api_error(r, 409, "exists", "a domain named '%s' exists",
			  d->name);
	} else if (xdom_by_uuid(d->uuid)) {
		api_error(r, 409, "exists", "a domain with UUID %s exists",
			  d->uuid);
	} else if (xend.nr_domains >= XEND_MAX_DOMAINS) {
		api_error(r, 503, "no-resources", "xend holds %d domains, "
			  "its most", XEND_MAX_DOMAINS);
	} else {
		return d;
	}
	xdom_free(d);
	return NULL;
}

static void api_reply_domain(struct api_reply *r, int status, struct xdom *d,
			     json_object *warnings)
{
	r->status = status;
	r->body = api_domain_json(d, false);
	json_object_object_add(r->body, "warnings", warnings);
}

static void api_create(json_object *body, struct api_reply *r)
{
	json_object *warnings = json_object_new_array();
	struct xdom *d = api_new_domain(body, warnings, r);

	if (!d) {
		json_object_put(warnings);
		return;
	}
	list_add_tail(&d->link, &xend.domains);
	xend.nr_domains++;
	if (!api_start(d, api_bool(body, "paused"), NULL, r)) {
		list_del(&d->link);
		xend.nr_domains--;
		xdom_free(d);
		json_object_put(warnings);
		return;
	}
	log_info("api: created domain %d '%s'", d->domid, d->name);
	api_reply_domain(r, 201, d, warnings);
}

static void api_new(json_object *body, struct api_reply *r)
{
	json_object *warnings = json_object_new_array();
	struct xdom *d = api_new_domain(body, warnings, r);

	if (!d) {
		json_object_put(warnings);
		return;
	}
	d->managed = true;
	d->state = XD_INACTIVE;
	if (managed_save(d) < 0) {
		api_error(r, 500, "internal", "cannot write the config to %s",
			  xend.state_dir);
		xdom_free(d);
		json_object_put(warnings);
		return;
	}
	list_add_tail(&d->link, &xend.domains);
	xend.nr_domains++;
	log_info("api: new managed domain '%s'", d->name);
	api_reply_domain(r, 201, d, warnings);
}

/* ---- per-domain actions ------------------------------------------------- */

static void act_get(struct xdom *d, json_object *body, struct api_reply *r)
{
	r->body = api_domain_json(d, true);
}

static void act_shutdown_reason(struct xdom *d, json_object *body,
				struct api_reply *r, const char *reason)
{
	double timeout = 0;

	if (!reason) {
		reason = api_str(body, "reason", false, r);
		if (r->status != 200)
			return;
		if (!reason)
			reason = "poweroff";
		if (strcmp(reason, "poweroff") && strcmp(reason, "reboot") &&
		    strcmp(reason, "halt")) {
			api_error(r, 400, "bad-request", "reason must be "
				  "poweroff, reboot or halt, not '%s'",
				  reason);
			return;
		}
	}
	if (!api_num(body, "timeout", false, 0.001, 86400, &timeout, r) &&
	    r->status != 200)
		return;
	if (store_write(reason, "/local/domain/%d/control/shutdown",
			d->domid) < 0) {
		api_error(r, 500, "internal", "cannot write control/shutdown "
			  "of domain %d", d->domid);
		return;
	}
	if (timeout > 0)
		d->shutdown_deadline = xend_mono() + timeout;
	log_info("api: asked domain %d to %s", d->domid, reason);
}

static void act_shutdown(struct xdom *d, json_object *body,
			 struct api_reply *r)
{
	act_shutdown_reason(d, body, r, NULL);
}

static void act_reboot(struct xdom *d, json_object *body, struct api_reply *r)
{
	act_shutdown_reason(d, body, r, "reboot");
}

/*
 * A domain still coming in (a migration): its vmm is ended, which ends
 * the migration (the source runs the domain on), and relocate.c, whose
 * start of it fails, removes it.  Other starting domains are not ours
 * to end yet.
 */
static void api_cancel_incoming(struct xdom *d, struct api_reply *r)
{
	char uuid[37];
	struct timespec ts;

	if (d->incoming_fd < 0 || d->pid <= 0) {
		api_error(r, 409, "wrong-state", "domain '%s' is starting: "
			  "destroy it once it runs", d->name);
		return;
	}
	snprintf(uuid, sizeof(uuid), "%s", d->uuid);
	log_info("api: cancelling the migration of '%s' coming in", d->name);
	(void)kill(d->pid, SIGKILL);
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 15;
	while (xdom_by_uuid(uuid))
		if (pthread_cond_timedwait(&xend_changed, &xend.lock, &ts))
			break;
	if (xdom_by_uuid(uuid))
		api_error(r, 500, "internal", "the incoming domain did not go "
			  "away in 15 s");
}

static void act_destroy(struct xdom *d, json_object *body,
			struct api_reply *r)
{
	char uuid[37];
	struct timespec ts;
	struct xdom *x;
	int rc;

	snprintf(uuid, sizeof(uuid), "%s", d->uuid);
	if (d->state == XD_STARTING) {
		api_cancel_incoming(d, r);
		return;
	}
	rc = xdom_destroy_begin(d);
	if (rc < 0 && rc != -ESRCH) {
		api_error(r, 500, "internal", "destroying: %s", strerror(-rc));
		return;
	}
	/* Answer once it is gone (the supervisor escalates to SIGKILL). */
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 15;
	while ((x = xdom_by_uuid(uuid)) && x->state == XD_DYING)
		if (pthread_cond_timedwait(&xend_changed, &xend.lock, &ts))
			break;
	if (x && x->state == XD_DYING)
		api_error(r, 500, "internal", "domain did not go away in "
			  "15 s; it is still being destroyed");
}

/*
 * After a pause or unpause that failed (a timeout, say), the vmm may have
 * done it all the same: take its word for the state.
 */
static void api_refresh_state(struct xdom *d)
{
	json_object *req = api_cmd("info"), *info, *v;
	char err[128];

	info = vmmctl_call(d->domid, req, CTL_TIMEOUT_MS, err, sizeof(err));
	json_object_put(req);
	if (info && json_object_object_get_ex(info, "state", &v) &&
	    json_object_is_type(v, json_type_string)) {
		if (!strcmp(json_object_get_string(v), "paused"))
			d->state = XD_PAUSED;
		else if (!strcmp(json_object_get_string(v), "running"))
			d->state = XD_RUNNING;
		(void)record_write(d);
	}
	json_object_put(info);
}

static void act_pause(struct xdom *d, json_object *body, struct api_reply *r)
{
	json_object *rep = api_ctl(d, "pause", api_cmd("pause"), r);

	if (!rep) {
		api_refresh_state(d);
		return;
	}
	json_object_put(rep);
	d->state = XD_PAUSED;
	(void)record_write(d);
}

static void act_unpause(struct xdom *d, json_object *body,
			struct api_reply *r)
{
	json_object *rep = api_ctl(d, "unpause", api_cmd("unpause"), r);

	if (!rep) {
		api_refresh_state(d);
		return;
	}
	json_object_put(rep);
	d->state = XD_RUNNING;
	(void)record_write(d);
}

static void act_rename(struct xdom *d, json_object *body, struct api_reply *r)
{
	const char *name = api_str(body, "name", true, r);
	char old[DOMCFG_NAME_MAX];
	size_t i, len;

	if (!name)
		return;
	len = strlen(name);
	for (i = 0; i < len; i++)
		if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
			    "0123456789-_.", name[i]))
			break;
	if (!len || len >= DOMCFG_NAME_MAX || i < len ||
	    strspn(name, "0123456789") == len || !strcmp(name, "Domain-0") ||
	    strspn(name, ".") == len) {
		api_error(r, 400, "bad-request", "'%s' is not a domain name "
			  "(1 to %d letters, digits, '-', '_', '.', not all "
			  "digits)", name, DOMCFG_NAME_MAX - 1);
		return;
	}
	if (xdom_by_name(name)) {
		api_error(r, 409, "exists", "a domain named '%s' exists", name);
		return;
	}
	snprintf(old, sizeof(old), "%s", d->name);
	snprintf(d->name, sizeof(d->name), "%s", name);
	if ((d->managed && managed_save(d) < 0) || record_write(d) < 0) {
		snprintf(d->name, sizeof(d->name), "%s", old);
		api_error(r, 500, "internal", "cannot record the new name");
		return;
	}
	if (d->domid >= 0 && d->pidfd >= 0) {
		(void)store_write(name, "/local/domain/%d/name", d->domid);
		(void)store_write(name, "/vm/%s/name", d->uuid);
	}
	log_info("api: domain '%s' renamed '%s'", old, name);
}

static void act_mem_set(struct xdom *d, json_object *body,
			struct api_reply *r)
{
	char val[32];
	double mib;

	if (!api_num(body, "mib", true, 1, (double)(d->maxmem_kib >> 10), &mib,
		     r))
		return;
	snprintf(val, sizeof(val), "%llu", (unsigned long long)mib << 10);
	if (store_write(val, "/local/domain/%d/memory/target", d->domid) < 0)
		api_error(r, 500, "internal", "cannot write memory/target");
}

static void act_mem_max(struct xdom *d, json_object *body,
			struct api_reply *r)
{
	json_object *req, *rep;
	char val[32];
	double mib;

	if (!api_num(body, "mib", true, 1, (double)(d->cfg->memory_mib),
		     &mib, r))
		return;
	req = api_cmd("maxmem");
	json_object_object_add(req, "kib",
			       json_object_new_int64((int64_t)mib << 10));
	rep = api_ctl(d, "mem-max", req, r);
	if (!rep)
		return;
	json_object_put(rep);
	d->maxmem_kib = (uint64_t)mib << 10;
	(void)record_write(d);
	snprintf(val, sizeof(val), "%llu", (unsigned long long)d->maxmem_kib);
	(void)store_write(val, "/local/domain/%d/memory/static-max", d->domid);
}

static void act_vcpu_set(struct xdom *d, json_object *body,
			 struct api_reply *r)
{
	unsigned int i;
	double n;

	if (!api_num(body, "vcpus", true, 1, d->cfg->vcpus, &n, r))
		return;
	for (i = 0; i < d->cfg->vcpus; i++)
		if (store_write_owned(0, (unsigned int)d->domid,
				      i < (unsigned int)n ? "online"
							  : "offline",
				      "/local/domain/%d/cpu/%u/availability",
				      d->domid, i) < 0) {
			api_error(r, 500, "internal",
				  "cannot write cpu/%u/availability", i);
			return;
		}
}

static void act_vcpus(struct xdom *d, json_object *body, struct api_reply *r)
{
	json_object *rep = api_ctl(d, "vcpu-list", api_cmd("info"), r);
	json_object *a, *out = json_object_new_array(), *v;
	size_t i, n;

	if (!rep) {
		json_object_put(out);
		return;
	}
	if (json_object_object_get_ex(rep, "vcpus", &a) &&
	    json_object_is_type(a, json_type_array)) {
		n = json_object_array_length(a);
		for (i = 0; i < n; i++) {
			json_object *vc = json_object_array_get_idx(a, i);
			json_object *o = json_object_new_object();

			if (json_object_object_get_ex(vc, "id", &v))
				json_object_object_add(o, "id",
						       json_object_get(v));
			if (json_object_object_get_ex(vc, "online", &v))
				json_object_object_add(o, "online",
						       json_object_get(v));
			if (json_object_object_get_ex(vc, "state", &v))
				json_object_object_add(o, "state",
						       json_object_get(v));
			if (json_object_object_get_ex(vc, "cpu", &v))
				json_object_object_add(o, "cpu",
						       json_object_get(v));
			if (json_object_object_get_ex(vc, "cpu_ns", &v))
				json_object_object_add(
				    o, "cpu_time",
				    json_object_new_double(
					json_object_get_double(v) / 1e9));
			json_object_array_add(out, o);
		}
	}
	json_object_put(rep);
	r->body = json_object_new_object();
	json_object_object_add(r->body, "vcpus", out);
}

static void act_sysrq(struct xdom *d, json_object *body, struct api_reply *r)
{
	const char *key = api_str(body, "key", true, r);

	if (!key)
		return;
	if (strlen(key) != 1 || key[0] <= ' ' || key[0] > '~') {
		api_error(r, 400, "bad-request", "a sysrq key is one "
			  "printable character, not '%s'", key);
		return;
	}
	if (store_write_owned((unsigned int)d->domid, 0, key,
			      "/local/domain/%d/control/sysrq", d->domid) < 0)
		api_error(r, 500, "internal", "cannot write control/sysrq");
}

static void act_console(struct xdom *d, json_object *body,
			struct api_reply *r)
{
	char *tty = store_read("/local/domain/%d/console/tty", d->domid);
	char log[256];

	if (!tty) {
		api_error(r, 404, "not-found", "domain %d has no console pty",
			  d->domid);
		return;
	}
	r->body = json_object_new_object();
	json_object_object_add(r->body, "tty", json_object_new_string(tty));
	if (xend_path(log, sizeof(log), "log/console-%d.log", d->domid) == 0)
		json_object_object_add(r->body, "log",
				       json_object_new_string(log));
	free(tty);
}

static void act_start(struct xdom *d, json_object *body, struct api_reply *r)
{
	if (!api_start(d, api_bool(body, "paused"), NULL, r))
		return;
	log_info("api: started managed domain %d '%s'", d->domid, d->name);
	r->body = api_domain_json(d, false);
}

static void act_delete(struct xdom *d, json_object *body, struct api_reply *r)
{
	log_info("api: deleted managed domain '%s'", d->name);
	managed_remove(d);
	list_del(&d->link);
	xend.nr_domains--;
	xdom_free(d);
}

static const struct api_action {
	const char *name;
	const char *method;
	unsigned int states; /* allowed in */
	api_action_fn *fn;
} api_actions[] = {
	{"", "GET", ST_ANY, act_get},
	{"shutdown", "POST", ST_LIVE, act_shutdown},
	{"reboot", "POST", ST_LIVE, act_reboot},
	/* Starting: only a migration coming in (api_cancel_incoming). */
	{"destroy", "POST", ST_ANY & ~ST(XD_INACTIVE), act_destroy},
	{"pause", "POST", ST(XD_RUNNING), act_pause},
	{"unpause", "POST", ST(XD_PAUSED), act_unpause},
	{"rename", "POST", ST_ANY & ~ST(XD_STARTING), act_rename},
	{"mem-set", "POST", ST_LIVE, act_mem_set},
	{"mem-max", "POST", ST_LIVE, act_mem_max},
	{"vcpu-set", "POST", ST_LIVE, act_vcpu_set},
	{"vcpus", "GET", ST_LIVE, act_vcpus},
	{"sysrq", "POST", ST_LIVE, act_sysrq},
	{"console", "GET", ST_LIVE, act_console},
	{"block", "GET", ST_LIVE, act_block_list},
	{"block-attach", "POST", ST_LIVE, act_block_attach},
	{"block-detach", "POST", ST_LIVE, act_block_detach},
	{"network", "GET", ST_LIVE, act_network_list},
	{"network-attach", "POST", ST_LIVE, act_network_attach},
	{"network-detach", "POST", ST_LIVE, act_network_detach},
	{"save", "POST", ST_LIVE, act_save},
	{"migrate", "POST", ST_LIVE, act_migrate},
	{"migration", "GET", ST_LIVE, act_migration},
	{"start", "POST", ST(XD_INACTIVE), act_start},
	{"delete", "POST", ST(XD_INACTIVE), act_delete},
};

static const char *api_state_name(enum xdom_state s)
{
	static const char *const names[] = {
		[XD_INACTIVE] = "not running", [XD_STARTING] = "starting",
		[XD_RUNNING] = "running",      [XD_PAUSED] = "paused",
		[XD_SHUTDOWN] = "shut down",   [XD_CRASHED] = "crashed",
		[XD_DYING] = "being destroyed",
	};
	return names[s];
}

static void api_domain_action(const char *method, const char *dom,
			      const char *action, json_object *body,
			      struct api_reply *r)
{
	const struct api_action *a = NULL;
	struct xdom *d;
	size_t i;

	for (i = 0; i < sizeof(api_actions) / sizeof(*api_actions); i++)
		if (!strcmp(api_actions[i].name, action))
			a = &api_actions[i];
	if (!a) {
		api_error(r, 404, "not-found", "no action '%s' (see "
			  "docs/api.md)", action);
		return;
	}
	if (strcmp(a->method, method)) {
		api_error(r, 405, "bad-method", "%s needs %s, not %s",
			  *action ? action : "a domain", a->method, method);
		return;
	}
	if (!strcmp(dom, "0") || !strcmp(dom, "Domain-0")) {
		if (!*action) {
			r->body = host_dom0_json();
			return;
		}
		api_error(r, 409, "wrong-state", "Domain-0 is the host: %s "
			  "does not apply to it", action);
		return;
	}
	d = xdom_find(dom);
	if (!d) {
		api_error(r, 404, "no-such-domain", "no domain '%s'", dom);
		return;
	}
	if (!(a->states & ST(d->state))) {
		api_error(r, 409, "wrong-state", "domain '%s' is %s: %s is "
			  "not allowed", d->name, api_state_name(d->state),
			  action);
		return;
	}
	a->fn(d, body, r);
}

void api_dispatch(const char *method, const char *url, const char *query,
		  json_object *body, struct api_reply *r)
{
	const char *p;
	char dom[128], action[64];
	int lines = 100;
	size_t n;

	r->status = 200;
	pthread_mutex_lock(&xend.lock);
	if (query)
		lines = atoi(query);
	if (!strcmp(url, "/v1/domains")) {
		if (!strcmp(method, "GET"))
			api_list(r);
		else if (!strcmp(method, "POST"))
			api_create(body, r);
		else
			api_error(r, 405, "bad-method", "/v1/domains takes GET "
				  "or POST");
	} else if (!strcmp(url, "/v1/managed")) {
		if (!strcmp(method, "POST"))
			api_new(body, r);
		else
			api_error(r, 405, "bad-method", "/v1/managed takes "
				  "POST");
	} else if (!strcmp(url, "/v1/restore")) {
		if (!strcmp(method, "POST"))
			api_restore(body, r);
		else
			api_error(r, 405, "bad-method", "/v1/restore takes "
				  "POST");
	} else if (!strcmp(url, "/v1/info") && !strcmp(method, "GET")) {
		r->body = host_info_json();
	} else if ((!strcmp(url, "/v1/log") || !strcmp(url, "/v1/dmesg")) &&
		   !strcmp(method, "GET")) {
		r->body = host_tail_json(url + 4, lines);
	} else if (!strncmp(url, "/v1/domains/", 12)) {
		p = url + 12;
		n = strcspn(p, "/");
		if (n == 0 || n >= sizeof(dom) ||
		    strlen(p + n) >= sizeof(action) + 1 ||
		    (p[n] && strchr(p + n + 1, '/'))) {
			api_error(r, 404, "not-found", "no endpoint %s", url);
		} else {
			memcpy(dom, p, n);
			dom[n] = '\0';
			snprintf(action, sizeof(action), "%s",
				 p[n] ? p + n + 1 : "");
			api_domain_action(method, dom, action, body, r);
		}
	} else {
		api_error(r, 404, "not-found", "no endpoint %s %s (see "
			  "docs/api.md)", method, url);
	}
	pthread_mutex_unlock(&xend.lock);
}
