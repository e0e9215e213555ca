/* SPDX-License-Identifier: MIT */
/*
 * xm migrate [-l] [-p PORT] DOM HOST[:PORT]: xend moves the domain to
 * the xend on HOST (docs/api.md, "migrate").  The request lasts as long
 * as the migration; meanwhile a second connection asks xend for the
 * vmm's progress twice a second and prints a line per round, then the
 * final figures.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "jval.h"
#include "xm.h"

#define MIGRATE_POLL_NS 200000000L

struct migrate_call {
	struct xm_ctx *x;
	const char *dom;
	json_object *body, *reply;
	int rc;
	bool done; /* under lock */
	pthread_mutex_t lock;
	pthread_cond_t cond;
};

static void *migrate_post(void *arg)
{
	struct migrate_call *m = arg;

	/* A failure is reported here, as any other request's. */
	m->rc = client_post_dom(m->x->cl, m->dom, "migrate", m->body,
				&m->reply);
	pthread_mutex_lock(&m->lock);
	m->done = true;
	pthread_cond_signal(&m->cond);
	pthread_mutex_unlock(&m->lock);
	return NULL;
}

/* Waits up to the poll interval for the call to end; true if it did. */
static bool migrate_wait(struct migrate_call *m)
{
	struct timespec ts;
	bool done;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_nsec += MIGRATE_POLL_NS;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&m->lock);
	while (!m->done &&
	       pthread_cond_timedwait(&m->cond, &m->lock, &ts) != ETIMEDOUT)
		;
	done = m->done;
	pthread_mutex_unlock(&m->lock);
	return done;
}

/* A line when the round or phase changed since the last one. */
static void migrate_show(struct client *poll_cl, const char *dom,
			 char *last, size_t lastlen)
{
	json_object *rep = NULL, *p;
	char key[64], path[512];
	int rc;

	/* Quietly: the domain is gone from here at the end. */
	rc = client_dom_path(path, sizeof(path), dom, "/migration");
	if (rc == 0)
		rc = client_call(poll_cl, "GET", path, NULL, &rep);
	if (rc < 0 || !json_object_object_get_ex(rep, "migration", &p) ||
	    !p) {
		json_object_put(rep);
		return;
	}
	snprintf(key, sizeof(key), "%s %lld", jval_str(p, "phase", "?"),
		 (long long)jval_int(p, "round", 0));
	if (strcmp(key, last)) {
		snprintf(last, lastlen, "%s", key);
		printf("  %-9s round %lld: %lld pages sent so far (%.1f MiB), "
		       "%lld dirty, %.1f MiB/s, expected downtime %lld ms\n",
		       jval_str(p, "phase", "?"),
		       (long long)jval_int(p, "round", 0),
		       (long long)jval_int(p, "pages", 0),
		       (double)jval_int(p, "bytes", 0) / (1 << 20),
		       (long long)jval_int(p, "dirty", 0),
		       (double)jval_int(p, "rate", 0) / (1 << 20),
		       (long long)jval_int(p, "expected_downtime_ms", 0));
		fflush(stdout);
	}
	json_object_put(rep);
}

/* HOST[:PORT] (an IPv6 address in brackets), and -p. */
static int migrate_target(struct xm_ctx *x, const char *arg, char *host,
			  size_t len, long *port)
{
	const char *colon = strrchr(arg, ':'), *close = strchr(arg, ']');
	char *end;
	size_t n = strlen(arg);

	*port = x->opt.port;
	if (arg[0] == '[' && close) {
		n = (size_t)(close - arg - 1);
		arg++;
		colon = close[1] == ':' ? close + 1 : NULL;
	} else if (colon && strchr(arg, ':') != colon) {
		colon = NULL; /* a bare IPv6 address */
	} else if (colon) {
		n = (size_t)(colon - arg);
	}
	if (colon) {
		errno = 0;
		*port = strtol(colon + 1, &end, 10);
		if (errno || *end || *port < 1 || *port > 65535)
			return xm_usage_error(x, "bad port in '%s'", arg);
	}
	if (n == 0 || n >= len)
		return xm_usage_error(x, "bad host '%s'", arg);
	memcpy(host, arg, n);
	host[n] = '\0';
	return XM_OK;
}

/* Each round as the source logged it; the last one ran paused. */
static void migrate_show_rounds(json_object *reply)
{
	json_object *log = jval_array(reply, "log"), *r;
	size_t i, n = log ? json_object_array_length(log) : 0;

	for (i = 0; i < n; i++) {
		r = json_object_array_get_idx(log, i);
		printf("  round %zu%s: %lld pages (%.1f MiB) in %lld ms; %lld "
		       "dirtied meanwhile\n",
		       i + 1 == n ? (size_t)jval_int(reply, "rounds", 0) + 1
				  : i + 1,
		       i + 1 == n ? " (paused)" : "",
		       (long long)jval_int(r, "pages", 0),
		       (double)jval_int(r, "bytes", 0) / (1 << 20),
		       (long long)jval_int(r, "ms", 0),
		       (long long)jval_int(r, "dirty", 0));
	}
}

int cmd_migrate(struct xm_ctx *x, int argc, char **argv)
{
	struct migrate_call m = {.x = x, .dom = argv[0]};
	struct client poll_cl;
	char host[256], last[64] = "";
	pthread_t t;
	long port;
	bool polling;

	(void)argc;
	if (migrate_target(x, argv[1], host, sizeof(host), &port) != XM_OK)
		return XM_USAGE;
	m.body = json_object_new_object();
	json_object_object_add(m.body, "host", json_object_new_string(host));
	if (port)
		json_object_object_add(m.body, "port",
				       json_object_new_int64(port));
	json_object_object_add(m.body, "live",
			       json_object_new_boolean(x->opt.live));
	if (x->opt.ssl)
		json_object_object_add(m.body, "tls",
				       json_object_new_boolean(true));
	if (x->opt.downtime_ms >= 0)
		json_object_object_add(m.body, "downtime_ms",
				       json_object_new_int64(x->opt.downtime_ms));
	if (x->opt.max_rounds >= 0)
		json_object_object_add(m.body, "max_rounds",
				       json_object_new_int64(x->opt.max_rounds));
	/* As long as xend waits for the vmm (an hour): progress shows. */
	x->cl->timeout_s = 3700;
	pthread_mutex_init(&m.lock, NULL);
	pthread_cond_init(&m.cond, NULL);
	polling = client_init(&poll_cl, "migrate") == 0;
	printf("Migrating domain %s to %s%s%s\n", argv[0], argv[1],
	       x->opt.live ? " (live)" : "", x->opt.ssl ? " over TLS" : "");
	fflush(stdout);
	if (pthread_create(&t, NULL, migrate_post, &m) != 0) {
		json_object_put(m.body);
		return xm_fail(x, "cannot start: %s", strerror(errno));
	}
	while (!migrate_wait(&m))
		if (polling)
			migrate_show(&poll_cl, argv[0], last, sizeof(last));
	pthread_join(t, NULL);
	if (polling)
		client_fini(&poll_cl);
	json_object_put(m.body);
	if (m.rc < 0)
		return XM_FAIL;
	migrate_show_rounds(m.reply);
	if (jval_bool(m.reply, "unconfirmed", false))
		fprintf(stderr, "xm migrate: warning: %s never said it runs "
			"the domain; it is not running here any more\n",
			argv[1]);
	printf("Migrated domain %s to %s: total %.3f s, downtime %lld ms, "
	       "%.1f MiB sent in %lld rounds (%lld pages)\n",
	       argv[0], argv[1], (double)jval_int(m.reply, "ms", 0) / 1000,
	       (long long)jval_int(m.reply, "downtime_ms", 0),
	       (double)jval_int(m.reply, "bytes", 0) / (1 << 20),
	       (long long)jval_int(m.reply, "rounds", 0),
	       (long long)jval_int(m.reply, "pages", 0));
	json_object_put(m.reply);
	return XM_OK;
}
