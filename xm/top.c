/* SPDX-License-Identifier: MIT */
/*
 * xm top: xentop's table from xend.  CPU(%) needs two samples of each
 * domain's CPU time, so a sample is taken at the start and each screen
 * compares the newest with the one before (the first after at most a
 * second, the rest after -d seconds).  Interactive mode redraws the
 * terminal and stops at q or Ctrl-C; -b prints each table after the last.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "jval.h"
#include "list.h"
#include "xm.h"

static volatile sig_atomic_t top_stop;

static void top_on_signal(int sig)
{
	(void)sig;
	top_stop = 1;
}

static double top_now(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The length of the array under key in GET /v1/domains/<ref><rest>. */
static int64_t top_count(struct xm_ctx *x, const char *ref, const char *rest,
			 const char *key)
{
	json_object *reply = NULL, *a;
	char path[128];
	int64_t n = 0;

	if (client_dom_path(path, sizeof(path), ref, rest) == 0 &&
	    client_call(x->cl, "GET", path, NULL, &reply) == 0) {
		a = jval_array(reply, key);
		n = a ? (int64_t)json_object_array_length(a) : 0;
	}
	json_object_put(reply);
	return n;
}

/*
 * A running domain's device counts: from its detailed GET's "devices",
 * or from the device lists when that has none.
 */
static void top_count_devices(struct xm_ctx *x, json_object *d)
{
	json_object *detail = NULL, *devs = NULL, *a;
	char ref[32], path[128];
	int64_t vbds, vifs;

	snprintf(ref, sizeof(ref), "%lld", (long long)jval_int(d, "domid", -1));
	if (client_dom_path(path, sizeof(path), ref, "") == 0 &&
	    client_call(x->cl, "GET", path, NULL, &detail) == 0 &&
	    json_object_object_get_ex(detail, "devices", &devs)) {
		a = jval_array(devs, "vbd");
		vbds = a ? (int64_t)json_object_array_length(a) : 0;
		a = jval_array(devs, "vif");
		vifs = a ? (int64_t)json_object_array_length(a) : 0;
	} else {
		vbds = top_count(x, ref, "/block", "devices");
		vifs = top_count(x, ref, "/network", "devices");
	}
	json_object_put(detail);
	json_object_object_add(d, "nr_vbds", json_object_new_int64(vbds));
	json_object_object_add(d, "nr_vifs", json_object_new_int64(vifs));
}

/* One sample: the domain list with device counts, and the host's info. */
static int top_sample(struct xm_ctx *x, json_object **doms,
		      json_object **info, double *when)
{
	json_object *reply = NULL, *a;
	size_t i, n;

	*doms = *info = NULL;
	if (client_call(x->cl, "GET", "/domains", NULL, &reply) < 0 ||
	    client_call(x->cl, "GET", "/info", NULL, info) < 0) {
		client_report(x->cl);
		json_object_put(reply);
		return XM_FAIL;
	}
	*when = top_now(CLOCK_MONOTONIC);
	a = jval_array(reply, "domains");
	*doms = a ? json_object_get(a) : json_object_new_array();
	json_object_put(reply);
	n = json_object_array_length(*doms);
	for (i = 0; i < n; i++) {
		json_object *d = json_object_array_get_idx(*doms, i);

		if (!jval_null(d, "domid") && jval_int(d, "domid", 0) != 0)
			top_count_devices(x, d);
	}
	return XM_OK;
}

/* Sleeps up to secs; false when the user asked to quit (q, or a signal). */
static bool top_pause(double secs, bool keys)
{
	double end = top_now(CLOCK_MONOTONIC) + secs, left;
	struct pollfd p = {.fd = STDIN_FILENO, .events = POLLIN};
	char c;

	while (!top_stop) {
		left = end - top_now(CLOCK_MONOTONIC);
		if (left <= 0)
			return true;
		if (poll(&p, keys ? 1 : 0, (int)(left * 1000) + 1) <= 0)
			continue;
		if (read(STDIN_FILENO, &c, 1) != 1)
			keys = false; /* stdin ended: just wait */
		else if (c == 'q' || c == 'Q')
			return false;
	}
	return false;
}

static void top_print(struct xm_ctx *x, json_object *doms, json_object *info,
		      json_object *prev, double interval)
{
	unsigned long long total_kib =
		(unsigned long long)jval_int(info, "total_memory", 0) * 1024;

	if (!x->opt.batch) {
		if (isatty(STDOUT_FILENO))
			fputs("\033[H\033[2J", stdout);
		list_print_top_summary(stdout, info, doms,
				       top_now(CLOCK_REALTIME));
	}
	list_print_top_header(stdout);
	list_print_top(stdout, doms, prev, interval, total_kib);
	fflush(stdout);
}

int cmd_top(struct xm_ctx *x, int argc, char **argv)
{
	static const int sigs[] = {SIGINT, SIGTERM, SIGHUP};
	struct sigaction sa = {.sa_handler = top_on_signal}, old[3];
	json_object *prev = NULL, *cur = NULL, *info = NULL;
	struct termios saved, cbreak;
	bool keys = false, restore = false;
	double t_prev = 0, t_cur = 0, wait;
	long done = 0;
	int rc;
	size_t i;

	if (x->opt.delay <= 0)
		return xm_usage_error(x, "-d wants a positive delay");
	sigemptyset(&sa.sa_mask);
	top_stop = 0;
	for (i = 0; i < 3; i++)
		sigaction(sigs[i], &sa, &old[i]);
	/* Interactive: keys without Enter or echo; Ctrl-C still a signal. */
	if (!x->opt.batch && isatty(STDIN_FILENO) &&
	    tcgetattr(STDIN_FILENO, &saved) == 0) {
		cbreak = saved;
		cbreak.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
		cbreak.c_cc[VMIN] = 1;
		cbreak.c_cc[VTIME] = 0;
		restore = tcsetattr(STDIN_FILENO, TCSANOW, &cbreak) == 0;
		keys = restore;
	}

	rc = top_sample(x, &prev, &info, &t_prev);
	wait = x->opt.delay < 1 ? x->opt.delay : 1;
	while (rc == XM_OK && !top_stop) {
		if (!top_pause(wait, keys))
			break;
		json_object_put(info);
		rc = top_sample(x, &cur, &info, &t_cur);
		if (rc != XM_OK)
			break;
		top_print(x, cur, info, prev, t_cur - t_prev);
		json_object_put(prev);
		prev = cur;
		cur = NULL;
		t_prev = t_cur;
		wait = x->opt.delay;
		if (x->opt.iterations && ++done >= x->opt.iterations)
			break;
	}

	if (restore)
		(void)tcsetattr(STDIN_FILENO, TCSANOW, &saved);
	for (i = 0; i < 3; i++)
		sigaction(sigs[i], &old[i], NULL);
	json_object_put(prev);
	json_object_put(cur);
	json_object_put(info);
	return rc;
}
