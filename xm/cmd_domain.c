/* SPDX-License-Identifier: MIT */
/*
 * The commands that change a domain: create, new, start, delete, the
 * shutdown family (with Xen's -w waiting), pause, rename, memory, vCPUs,
 * sysrq, and attaching its console.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cfgvars.h"
#include "console.h"
#include "jval.h"
#include "xm.h"

#define XM_CONFIG_MAX (1u << 20) /* xend refuses bigger bodies anyway */
#define XM_POLL_MS 250
#define XM_REBOOT_GRACE_S 30 /* gone this long while rebooting: it failed */

static void xm_sleep_ms(long ms)
{
	struct timespec ts = {.tv_sec = ms / 1000,
			      .tv_nsec = (ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static double xm_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The file's text with the command line's key=value settings applied. */
static int xm_read_config(struct xm_ctx *x, const char *file, int nvars,
			  char **vars, char **out)
{
	char *text = NULL;
	const char *bad;
	size_t len = 0;
	ssize_t n;
	int fd, rc;

	*out = NULL;
	fd = open(file, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return xm_fail(x, "cannot read %s: %s", file, strerror(errno));
	text = malloc(XM_CONFIG_MAX + 1);
	if (!text) {
		rc = xm_fail(x, "out of memory");
		goto out;
	}
	while ((n = read(fd, text + len, XM_CONFIG_MAX + 1 - len)) > 0) {
		len += (size_t)n;
		if (len > XM_CONFIG_MAX)
			break;
	}
	if (n < 0) {
		rc = xm_fail(x, "cannot read %s: %s", file, strerror(errno));
		goto out;
	}
	if (len > XM_CONFIG_MAX) {
		rc = xm_fail(x, "%s: larger than %u bytes", file,
			     XM_CONFIG_MAX);
		goto out;
	}
	if (memchr(text, '\0', len)) {
		rc = xm_fail(x, "%s: not a text file", file);
		goto out;
	}
	rc = cfgvars_apply(text, len, vars, nvars, out, &bad);
	if (rc == -EINVAL)
		rc = xm_usage_error(x, "'%s' is not KEY=VALUE", bad);
	else if (rc < 0)
		rc = xm_fail(x, "%s", strerror(-rc));
	else
		rc = XM_OK;
out:
	free(text);
	close(fd);
	return rc;
}

static void xm_print_warnings(struct xm_ctx *x, json_object *reply)
{
	json_object *w = jval_array(reply, "warnings");
	size_t i, n = w ? json_object_array_length(w) : 0;

	for (i = 0; i < n; i++) {
		json_object *msg = json_object_array_get_idx(w, i);

		fprintf(stderr, "xm %s: warning: %s\n", x->cmd->name,
			json_object_get_string(msg));
	}
}

/* create and new: POST the config to path. */
static int xm_send_config(struct xm_ctx *x, const char *path, int argc,
			  char **argv, json_object **reply)
{
	json_object *body = NULL;
	char *text = NULL, cwd[PATH_MAX];
	int rc;

	*reply = NULL;
	rc = xm_read_config(x, argv[0], argc - 1, argv + 1, &text);
	if (rc != XM_OK)
		return rc;
	body = json_object_new_object();
	if (!body) {
		rc = xm_fail(x, "out of memory");
		goto out;
	}
	json_object_object_add(body, "config", json_object_new_string(text));
	json_object_object_add(body, "path", json_object_new_string(argv[0]));
	/* Relative kernel and disk paths are ours, as with Xen's xm. */
	if (getcwd(cwd, sizeof(cwd)))
		json_object_object_add(body, "cwd",
				       json_object_new_string(cwd));
	if (!strcmp(path, "/domains"))
		json_object_object_add(body, "paused",
				       json_object_new_boolean(x->opt.paused));
	if (!strcmp(path, "/domains"))
		printf("Using config file \"%s\".\n", argv[0]);
	if (client_call(x->cl, "POST", path, body, reply) < 0) {
		client_report(x->cl);
		rc = XM_FAIL;
		goto out;
	}
	xm_print_warnings(x, *reply);
	rc = XM_OK;
out:
	json_object_put(body);
	free(text);
	return rc;
}

int xm_console_attach(struct xm_ctx *x, const char *dom)
{
	json_object *reply = NULL;
	const char *tty;
	char path[512];
	int rc, tries;

	if (client_dom_path(path, sizeof(path), dom, "/console") < 0)
		return xm_fail(x, "domain name too long");
	/* Right after create or start the pty may not be there yet. */
	for (tries = 0;; tries++) {
		if (client_call(x->cl, "GET", path, NULL, &reply) < 0) {
			client_report(x->cl);
			return XM_FAIL;
		}
		tty = jval_str(reply, "tty", NULL);
		if (tty && *tty)
			break;
		json_object_put(reply);
		reply = NULL;
		if (tries * 100 >= 5000)
			return xm_fail(x, "domain %s has no console pty", dom);
		xm_sleep_ms(100);
	}
	rc = console_attach(tty);
	if (rc < 0)
		rc = xm_fail(x, "console %s: %s", tty, strerror(-rc));
	else
		rc = XM_OK;
	json_object_put(reply);
	return rc;
}

int cmd_console(struct xm_ctx *x, int argc, char **argv)
{
	return xm_console_attach(x, argv[0]);
}

int cmd_create(struct xm_ctx *x, int argc, char **argv)
{
	json_object *reply = NULL;
	char name[128];
	int rc;

	rc = xm_send_config(x, "/domains", argc, argv, &reply);
	if (rc != XM_OK)
		return rc;
	snprintf(name, sizeof(name), "%s", jval_str(reply, "name", "?"));
	printf("Started domain %s (id=%lld)\n", name,
	       (long long)jval_int(reply, "domid", -1));
	json_object_put(reply);
	if (x->opt.console)
		return xm_console_attach(x, name);
	return XM_OK;
}

int cmd_new(struct xm_ctx *x, int argc, char **argv)
{
	json_object *reply = NULL;
	int rc;

	rc = xm_send_config(x, "/managed", argc, argv, &reply);
	json_object_put(reply);
	return rc;
}

/* POST one action with an optional body; XM_OK or XM_FAIL (reported). */
static int xm_post(struct xm_ctx *x, const char *dom, const char *action,
		   json_object *body)
{
	int rc = client_post_dom(x->cl, dom, action, body, NULL);

	json_object_put(body);
	return rc < 0 ? XM_FAIL : XM_OK;
}

int cmd_start(struct xm_ctx *x, int argc, char **argv)
{
	json_object *body = json_object_new_object();

	json_object_object_add(body, "paused",
			       json_object_new_boolean(x->opt.paused));
	if (xm_post(x, argv[0], "start", body) != XM_OK)
		return XM_FAIL;
	if (x->opt.console)
		return xm_console_attach(x, argv[0]);
	return XM_OK;
}

int cmd_delete(struct xm_ctx *x, int argc, char **argv)
{
	return xm_post(x, argv[0], "delete", NULL);
}

int cmd_destroy(struct xm_ctx *x, int argc, char **argv)
{
	return xm_post(x, argv[0], "destroy", NULL);
}

int cmd_pause(struct xm_ctx *x, int argc, char **argv)
{
	return xm_post(x, argv[0], "pause", NULL);
}

int cmd_unpause(struct xm_ctx *x, int argc, char **argv)
{
	return xm_post(x, argv[0], "unpause", NULL);
}

int cmd_rename(struct xm_ctx *x, int argc, char **argv)
{
	json_object *body = json_object_new_object();

	json_object_object_add(body, "name", json_object_new_string(argv[1]));
	return xm_post(x, argv[0], "rename", body);
}

int cmd_sysrq(struct xm_ctx *x, int argc, char **argv)
{
	json_object *body;

	if (strlen(argv[1]) != 1)
		return xm_usage_error(x, "'%s' is not one letter", argv[1]);
	body = json_object_new_object();
	json_object_object_add(body, "key", json_object_new_string(argv[1]));
	return xm_post(x, argv[0], "sysrq", body);
}

/* Memory as Xen's xm takes it: MiB, or a number with a k, m or g unit. */
static int xm_parse_mib(const char *s, int64_t *mib)
{
	unsigned long long v;
	char *end;

	if (!isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || v > (1ull << 40))
		return -EINVAL;
	if (!*end || ((*end == 'm' || *end == 'M') && !end[1]))
		*mib = (int64_t)v;
	else if ((*end == 'g' || *end == 'G') && !end[1])
		*mib = (int64_t)v * 1024;
	else if ((*end == 'k' || *end == 'K') && !end[1])
		*mib = (int64_t)(v / 1024);
	else
		return -EINVAL;
	return 0;
}

static int xm_mem(struct xm_ctx *x, char **argv, const char *action)
{
	json_object *body;
	int64_t mib;

	if (xm_parse_mib(argv[1], &mib) < 0)
		return xm_usage_error(x, "'%s' is not an amount of memory",
				      argv[1]);
	body = json_object_new_object();
	json_object_object_add(body, "mib", json_object_new_int64(mib));
	return xm_post(x, argv[0], action, body);
}

int cmd_mem_set(struct xm_ctx *x, int argc, char **argv)
{
	return xm_mem(x, argv, "mem-set");
}

int cmd_mem_max(struct xm_ctx *x, int argc, char **argv)
{
	return xm_mem(x, argv, "mem-max");
}

int cmd_vcpu_set(struct xm_ctx *x, int argc, char **argv)
{
	json_object *body;
	char *end;
	long n;

	errno = 0;
	n = strtol(argv[1], &end, 10);
	if (errno || end == argv[1] || *end || n < 0 || n > 4096)
		return xm_usage_error(x, "'%s' is not a number of vCPUs",
				      argv[1]);
	body = json_object_new_object();
	json_object_object_add(body, "vcpus", json_object_new_int64(n));
	return xm_post(x, argv[0], "vcpu-set", body);
}

int cmd_domid(struct xm_ctx *x, int argc, char **argv)
{
	json_object *d = NULL;

	if (client_get_dom(x->cl, argv[0], "", &d) < 0)
		return XM_FAIL;
	if (jval_null(d, "domid"))
		printf("None\n"); /* as Xen's xm says of a halted domain */
	else
		printf("%lld\n", (long long)jval_int(d, "domid", -1));
	json_object_put(d);
	return XM_OK;
}

int cmd_domname(struct xm_ctx *x, int argc, char **argv)
{
	json_object *d = NULL;

	if (client_get_dom(x->cl, argv[0], "", &d) < 0)
		return XM_FAIL;
	printf("%s\n", jval_str(d, "name", "?"));
	json_object_put(d);
	return XM_OK;
}

/*
 * Shutdown and reboot act on domains; -w then polls xend until each is
 * gone (shutdown) or back with a new incarnation (reboot), printing as
 * Xen's xm did.  A domain is known by its name and the domid and start
 * time it had when asked.
 */
struct xm_target {
	char name[128];
	long long domid;
	double start_time;
	double gone_since; /* rebooting and not seen since then; 0: seen */
	bool done;
};

static void xm_target_set(struct xm_target *t, json_object *d)
{
	snprintf(t->name, sizeof(t->name), "%s", jval_str(d, "name", "?"));
	t->domid = jval_null(d, "domid") ? -1 : jval_int(d, "domid", -1);
	t->start_time = jval_num(d, "start_time", 0);
	t->gone_since = 0;
	t->done = false;
}

/* The targets: every running domain but Domain-0 with -a, else argv[0]. */
static int xm_targets(struct xm_ctx *x, int argc, char **argv,
		      struct xm_target **out, size_t *nr)
{
	json_object *reply = NULL, *doms;
	struct xm_target *t = NULL;
	size_t i, n = 0, len;

	*out = NULL;
	*nr = 0;
	if (x->opt.all && argc)
		return xm_usage_error(x, "-a takes no domain");
	if (!x->opt.all && !argc)
		return xm_usage_error(x, "which domain? (or -a for all)");
	if (!x->opt.all) {
		if (client_get_dom(x->cl, argv[0], "", &reply) < 0)
			return XM_FAIL;
		t = calloc(1, sizeof(*t));
		if (t) {
			xm_target_set(t, reply);
			n = 1;
		}
		json_object_put(reply);
		if (!t)
			return xm_fail(x, "out of memory");
		*out = t;
		*nr = n;
		return XM_OK;
	}
	if (client_call(x->cl, "GET", "/domains", NULL, &reply) < 0) {
		client_report(x->cl);
		return XM_FAIL;
	}
	doms = jval_array(reply, "domains");
	len = doms ? json_object_array_length(doms) : 0;
	t = calloc(len ? len : 1, sizeof(*t));
	if (!t) {
		json_object_put(reply);
		return xm_fail(x, "out of memory");
	}
	for (i = 0; i < len; i++) {
		json_object *d = json_object_array_get_idx(doms, i);

		if (jval_null(d, "domid") || jval_int(d, "domid", 0) == 0)
			continue;
		xm_target_set(&t[n++], d);
	}
	json_object_put(reply);
	*out = t;
	*nr = n;
	return XM_OK;
}

/* One poll of t: true once it is finished with (and said so). */
static bool xm_wait_one(struct xm_ctx *x, struct xm_target *t, bool reboot)
{
	json_object *d = NULL;
	char path[512];
	bool gone, renewed = false;
	int rc;

	if (client_dom_path(path, sizeof(path), t->name, "") < 0)
		return true;
	rc = client_call(x->cl, "GET", path, NULL, &d);
	if (rc < 0 && rc != -ENOENT) {
		client_report(x->cl);
		return true;
	}
	gone = rc == -ENOENT || jval_null(d, "domid");
	/* Preserved after its shutdown (on_poweroff = "preserve"): done. */
	if (!gone && !reboot) {
		const char *st = jval_str(d, "state", "");

		gone = strchr(st, 's') || strchr(st, 'c');
	}
	if (!gone)
		renewed = jval_int(d, "domid", -1) != t->domid ||
			  jval_num(d, "start_time", 0) != t->start_time;
	json_object_put(d);
	if (!reboot) {
		if (gone || renewed)
			printf("Domain %s terminated\n", t->name);
		return gone || renewed;
	}
	if (renewed) {
		printf("Domain %s rebooted\n", t->name);
		return true;
	}
	if (!gone) {
		t->gone_since = 0;
		return false;
	}
	if (!t->gone_since)
		t->gone_since = xm_now();
	if (xm_now() - t->gone_since < XM_REBOOT_GRACE_S)
		return false;
	printf("Domain %s destroyed for failing to reboot\n", t->name);
	return true;
}

static void xm_wait(struct xm_ctx *x, struct xm_target *t, size_t n,
		    bool reboot)
{
	size_t i, left;

	for (;;) {
		left = 0;
		for (i = 0; i < n; i++) {
			if (!t[i].done)
				t[i].done = xm_wait_one(x, &t[i], reboot);
			left += !t[i].done;
		}
		if (!left)
			break;
		xm_sleep_ms(XM_POLL_MS);
	}
	printf("All domains %s\n", reboot ? "rebooted" : "terminated");
}

/* Whole seconds as a JSON integer, anything finer as a number. */
static json_object *xm_json_seconds(double s)
{
	if (s < 1e15 && s == (double)(int64_t)s)
		return json_object_new_int64((int64_t)s);
	return json_object_new_double(s);
}

static int xm_shutdown_all(struct xm_ctx *x, int argc, char **argv,
			   const char *reason)
{
	struct xm_target *t = NULL;
	json_object *body;
	size_t i, n = 0, asked = 0;
	int rc, status = XM_OK;

	rc = xm_targets(x, argc, argv, &t, &n);
	if (rc != XM_OK)
		return rc;
	for (i = 0; i < n; i++) {
		if (!reason) {
			rc = xm_post(x, t[i].name, "reboot", NULL);
		} else {
			body = json_object_new_object();
			json_object_object_add(body, "reason",
					       json_object_new_string(reason));
			if (x->opt.has_timeout)
				json_object_object_add(
					body, "timeout",
					xm_json_seconds(x->opt.timeout));
			rc = xm_post(x, t[i].name, "shutdown", body);
		}
		if (rc != XM_OK) {
			status = XM_FAIL;
			t[i].done = true; /* nothing to wait for */
		} else {
			asked++;
		}
	}
	/* With -a and no domains, Xen's xm still says all are done. */
	if (x->opt.wait && (asked || !n))
		xm_wait(x, t, n, !reason || !strcmp(reason, "reboot"));
	free(t);
	return status;
}

int cmd_shutdown(struct xm_ctx *x, int argc, char **argv)
{
	const char *reason = "poweroff";

	if (x->opt.reboot && x->opt.halt)
		return xm_usage_error(x, "-R and -H exclude each other");
	if (x->opt.reboot)
		reason = "reboot";
	else if (x->opt.halt)
		reason = "halt";
	return xm_shutdown_all(x, argc, argv, reason);
}

int cmd_reboot(struct xm_ctx *x, int argc, char **argv)
{
	return xm_shutdown_all(x, argc, argv, NULL);
}
