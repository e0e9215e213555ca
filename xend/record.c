/* SPDX-License-Identifier: MIT */
/*
 * A domain's record in XenStore, /xend/domains/<uuid>, dom0's alone:
 *
 *   name, domid, state, pid, pid-start, start-time, maxmem-kib,
 *   restarts, managed, config-path, cwd, config/0, config/1, ... (the
 *   config's text in pieces of RECORD_CHUNK bytes: XenStore caps a value
 *   at 4 KiB, and configs may be longer)
 *
 * It is written whenever one of these changes, before the change is
 * reported to the client, so a xend killed at any point finds every
 * domain again (record_load_all) and can tell, by pid and its start
 * time, whether the vmm it names still runs.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xenstore.h>

#include "log.h"
#include "xend.h"

static const char *const record_states[] = {
	[XD_INACTIVE] = "inactive", [XD_STARTING] = "starting",
	[XD_RUNNING] = "running",   [XD_PAUSED] = "paused",
	[XD_SHUTDOWN] = "shutdown", [XD_CRASHED] = "crashed",
	[XD_DYING] = "dying",
};

static bool record_put(xs_transaction_t t, const struct xdom *d,
		       const char *key, const char *value)
{
	char path[256];

	snprintf(path, sizeof(path), XEND_RECORDS "/%s/%s", d->uuid, key);
	return xs_write(xend.xs, t, path, value ? value : "",
			value ? (unsigned int)strlen(value) : 0);
}

#define RECORD_CHUNK 2048
#define RECORD_MAX_CHUNKS 512 /* 1 MiB, the API's body limit */

static bool record_put_config(xs_transaction_t t, const struct xdom *d)
{
	size_t len = strlen(d->config), off, i;
	char key[32], piece[RECORD_CHUNK + 1];

	for (off = 0, i = 0; off < len || i == 0; off += RECORD_CHUNK, i++) {
		snprintf(key, sizeof(key), "config/%zu", i);
		snprintf(piece, sizeof(piece), "%.*s", RECORD_CHUNK,
			 d->config + off);
		if (!record_put(t, d, key, piece))
			return false;
	}
	return true;
}

static bool record_fill(xs_transaction_t t, const struct xdom *d)
{
	char n[8][32];

	snprintf(n[0], sizeof(n[0]), "%d", d->domid);
	snprintf(n[1], sizeof(n[1]), "%d", d->pid);
	snprintf(n[2], sizeof(n[2]), "%" PRIu64, d->pid_start);
	snprintf(n[3], sizeof(n[3]), "%.3f", d->start_time);
	snprintf(n[4], sizeof(n[4]), "%" PRIu64, d->maxmem_kib);
	snprintf(n[5], sizeof(n[5]), "%u", d->restarts);
	return record_put(t, d, "name", d->name) &&
	       record_put(t, d, "domid", n[0]) &&
	       record_put(t, d, "state", record_states[d->state]) &&
	       record_put(t, d, "pid", n[1]) &&
	       record_put(t, d, "pid-start", n[2]) &&
	       record_put(t, d, "start-time", n[3]) &&
	       record_put(t, d, "maxmem-kib", n[4]) &&
	       record_put(t, d, "restarts", n[5]) &&
	       record_put(t, d, "managed", d->managed ? "1" : "0") &&
	       record_put(t, d, "config-path", d->config_path) &&
	       record_put(t, d, "cwd", d->cwd) && record_put_config(t, d);
}

int record_write(struct xdom *d)
{
	xs_transaction_t t;
	int tries;

	/* Inactive managed domains live in the state directory only. */
	if (d->state == XD_INACTIVE) {
		record_remove(d);
		return 0;
	}
	for (tries = 0; tries < 8; tries++) {
		t = xs_transaction_start(xend.xs);
		if (t == XBT_NULL)
			break;
		if (!record_fill(t, d)) {
			(void)xs_transaction_end(xend.xs, t, true);
			break;
		}
		if (xs_transaction_end(xend.xs, t, false))
			return 0;
		if (errno != EAGAIN)
			break;
	}
	log_errx("record: cannot write " XEND_RECORDS "/%s (xenstored "
		 "refused or is gone)", d->uuid);
	return -EIO;
}

void record_remove(struct xdom *d)
{
	store_rm(XEND_RECORDS "/%s", d->uuid);
}

static enum xdom_state record_state(const char *s)
{
	unsigned int i;

	for (i = 0; s && i < sizeof(record_states) / sizeof(*record_states);
	     i++)
		if (!strcmp(s, record_states[i]))
			return (enum xdom_state)i;
	return XD_CRASHED;
}

static long long record_num(const char *uuid, const char *key, long long def)
{
	char *v = store_read(XEND_RECORDS "/%s/%s", uuid, key);
	long long n = def;
	char *end;

	if (v && *v) {
		n = strtoll(v, &end, 10);
		if (*end && *end != '.')
			n = def;
	}
	free(v);
	return n;
}

/* The config's text from its pieces, or NULL. */
static char *record_config(const char *uuid)
{
	char *text = NULL, *piece, *grown;
	size_t len = 0, plen;
	unsigned int i;

	for (i = 0; i < RECORD_MAX_CHUNKS; i++) {
		piece = store_read(XEND_RECORDS "/%s/config/%u", uuid, i);
		if (!piece)
			break;
		plen = strlen(piece);
		grown = realloc(text, len + plen + 1);
		if (!grown) {
			free(piece);
			free(text);
			return NULL;
		}
		text = grown;
		memcpy(text + len, piece, plen + 1);
		len += plen;
		free(piece);
	}
	return text;
}

static struct xdom *record_load(const char *uuid)
{
	char *config = NULL, *path = NULL, *cwd = NULL, *name = NULL;
	char *state = NULL, *start = NULL, err[512];
	struct xdom *d = xdom_new();

	if (!d)
		return NULL;
	config = record_config(uuid);
	path = store_read(XEND_RECORDS "/%s/config-path", uuid);
	cwd = store_read(XEND_RECORDS "/%s/cwd", uuid);
	name = store_read(XEND_RECORDS "/%s/name", uuid);
	state = store_read(XEND_RECORDS "/%s/state", uuid);
	start = store_read(XEND_RECORDS "/%s/start-time", uuid);
	if (!config || !name ||
	    xdom_set_config(d, config, path, cwd && *cwd ? cwd : NULL, err,
			    sizeof(err), NULL) < 0) {
		log_errx("record: %s is unreadable (%s); left in place", uuid,
			 config && name ? err : "no config");
		xdom_free(d);
		d = NULL;
		goto out;
	}
	/* The record's name and UUID win: rename and rename-restart. */
	snprintf(d->name, sizeof(d->name), "%s", name);
	snprintf(d->uuid, sizeof(d->uuid), "%s", uuid);
	d->domid = (int)record_num(uuid, "domid", -1);
	d->pid = (pid_t)record_num(uuid, "pid", -1);
	d->pid_start = (uint64_t)record_num(uuid, "pid-start", 0);
	d->maxmem_kib = (uint64_t)record_num(uuid, "maxmem-kib",
					     (long long)d->maxmem_kib);
	d->restarts = (unsigned int)record_num(uuid, "restarts", 0);
	d->managed = record_num(uuid, "managed", 0) == 1;
	d->start_time = start ? strtod(start, NULL) : 0;
	d->state = record_state(state);
out:
	free(config);
	free(path);
	free(cwd);
	free(name);
	free(state);
	free(start);
	return d;
}

/*
 * After xenstored came back: every domain's record written again, and
 * records of domains xend no longer has (destroyed meanwhile) removed.
 */
void record_resync(void)
{
	unsigned int i, n;
	char **ids = store_dir(&n, XEND_RECORDS);
	struct xdom *d;

	for (i = 0; ids && i < n; i++)
		if (!xdom_by_uuid(ids[i]))
			store_rm(XEND_RECORDS "/%s", ids[i]);
	free(ids);
	list_for_each_entry(d, &xend.domains, link)
		if (d->state != XD_INACTIVE)
			(void)record_write(d);
}

/* Every record, into the table (before the API opens: no lock needed). */
int record_load_all(void)
{
	unsigned int i, n;
	char **ids = store_dir(&n, XEND_RECORDS);
	struct xdom *d, *old;

	for (i = 0; ids && i < n; i++) {
		d = record_load(ids[i]);
		if (!d)
			continue;
		old = xdom_by_uuid(d->uuid);
		if (old) { /* a managed domain's saved config: the record wins */
			list_del(&old->link);
			xend.nr_domains--;
			d->managed = true;
			xdom_free(old);
		}
		list_add_tail(&d->link, &xend.domains);
		xend.nr_domains++;
		if (d->domid >= xend.next_domid)
			xend.next_domid = d->domid + 1;
	}
	free(ids);
	return 0;
}
