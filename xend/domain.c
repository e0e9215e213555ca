/* SPDX-License-Identifier: MIT */
/*
 * The domain table: lookups, domain ids, configs.  Callers hold xend.lock.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "uuid.h"
#include "xend.h"

struct xdom *xdom_by_name(const char *name)
{
	struct xdom *d;

	list_for_each_entry(d, &xend.domains, link)
		if (!strcmp(d->name, name))
			return d;
	return NULL;
}

struct xdom *xdom_by_uuid(const char *uuid)
{
	struct xdom *d;

	list_for_each_entry(d, &xend.domains, link)
		if (!strcasecmp(d->uuid, uuid))
			return d;
	return NULL;
}

struct xdom *xdom_by_pidfd(int fd)
{
	struct xdom *d;

	list_for_each_entry(d, &xend.domains, link)
		if (d->pidfd == fd)
			return d;
	return NULL;
}

/* A name first (names may be numeric-looking only if no id matches). */
struct xdom *xdom_find(const char *s)
{
	struct xdom *d;
	char *end;
	long id;

	errno = 0;
	id = strtol(s, &end, 10);
	if (*s && !*end && !errno && id >= 0) {
		list_for_each_entry(d, &xend.domains, link)
			if (d->domid == id)
				return d;
	}
	return xdom_by_name(s);
}

struct xdom *xdom_new(void)
{
	struct xdom *d = calloc(1, sizeof(*d));

	if (!d)
		return NULL;
	d->cfg = calloc(1, sizeof(*d->cfg));
	if (!d->cfg) {
		free(d);
		return NULL;
	}
	d->domid = -1;
	d->pid = -1;
	d->pidfd = -1;
	d->incoming_fd = -1;
	list_init(&d->link);
	return d;
}

void xdom_free(struct xdom *d)
{
	if (!d)
		return;
	free(d->config);
	free(d->config_path);
	free(d->cwd);
	free(d->cfg);
	free(d);
}

static bool xdom_domid_used(int id)
{
	struct xdom *d;

	list_for_each_entry(d, &xend.domains, link)
		if (d->domid == id)
			return true;
	/* A domain someone else runs (a vmm started by hand). */
	return store_exists("/local/domain/%d/domid", id);
}

/*
 * As Xen: ids go up and wrap, so a just-ended domain's id is not handed
 * out again at once (its XenStore permissions may still name it).
 */
int xdom_alloc_domid(void)
{
	int i, id;

	for (i = 0; i < XEND_MAX_DOMID; i++) {
		id = xend.next_domid;
		if (id < 1 || id > XEND_MAX_DOMID)
			id = 1;
		xend.next_domid = id >= XEND_MAX_DOMID ? 1 : id + 1;
		if (!xdom_domid_used(id))
			return id;
	}
	return -ENOSPC;
}

/* Xen's six flags: running, blocked, paused, shutdown, crashed, dying. */
const char *xdom_state_flags(const struct xdom *d, bool blocked)
{
	switch (d->state) {
	case XD_INACTIVE:
		return "------";
	case XD_STARTING:
		return "------";
	case XD_RUNNING:
		return blocked ? "-b----" : "r-----";
	case XD_PAUSED:
		return "--p---";
	case XD_SHUTDOWN:
		return "---s--";
	case XD_CRASHED:
		return "----c-";
	case XD_DYING:
		return "-----d";
	}
	return "------";
}

/* A relative path in a config is the client's: resolve it against cwd. */
static int xdom_resolve(char *path, size_t len, const char *cwd)
{
	char tmp[DOMCFG_PATH_MAX];

	if (!path[0] || path[0] == '/')
		return 0;
	if (!cwd)
		return -EINVAL;
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s/%s", cwd, path) >=
	    sizeof(tmp) || strlen(tmp) >= len)
		return -ENAMETOOLONG;
	strcpy(path, tmp);
	return 0;
}

struct warn_ctx {
	json_object *warnings;
};

static void xdom_warn(void *ctx, const char *msg)
{
	struct warn_ctx *w = ctx;

	log_warnx("config: %s", msg);
	if (w->warnings)
		json_object_array_add(w->warnings,
				      json_object_new_string(msg));
}

/*
 * Parses a config and takes it as d's; d's name and UUID come from it
 * (a UUID is made up when it has none).  On error d is unchanged.
 */
int xdom_set_config(struct xdom *d, const char *text, const char *path,
		    const char *cwd, char *err, size_t errlen,
		    json_object *warnings)
{
	struct warn_ctx w = {.warnings = warnings};
	struct domcfg *c = NULL;
	char *t = NULL, *p = NULL, *cw = NULL;
	unsigned int i;
	int rc;

	c = calloc(1, sizeof(*c));
	t = strdup(text);
	p = strdup(path ? path : "config");
	cw = cwd ? strdup(cwd) : NULL;
	if (!c || !t || !p || (cwd && !cw)) {
		rc = -ENOMEM;
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	rc = domcfg_parse(text, strlen(text), p, c, err, errlen, xdom_warn,
			  &w);
	if (rc < 0)
		goto out;
	if (cwd && cwd[0] != '/') {
		snprintf(err, errlen, "cwd '%s' is not an absolute path", cwd);
		rc = -EINVAL;
		goto out;
	}
	rc = xdom_resolve(c->kernel, sizeof(c->kernel), cwd);
	if (rc == 0)
		rc = xdom_resolve(c->ramdisk, sizeof(c->ramdisk), cwd);
	for (i = 0; rc == 0 && i < c->nr_disks; i++)
		rc = xdom_resolve(c->disks[i].path, sizeof(c->disks[i].path),
				  cwd);
	if (rc < 0) {
		snprintf(err, errlen, rc == -EINVAL
			 ? "%s: a relative kernel, ramdisk or disk path needs "
			   "the client's working directory (\"cwd\")"
			 : "%s: a path is too long", p);
		goto out;
	}
	if (!c->uuid[0] && uuid_random(c->uuid) < 0) {
		snprintf(err, errlen, "no random numbers for a UUID");
		rc = -EIO;
		goto out;
	}
	free(d->config);
	free(d->config_path);
	free(d->cwd);
	free(d->cfg);
	d->config = t;
	d->config_path = p;
	d->cwd = cw;
	d->cfg = c;
	t = p = cw = NULL;
	c = NULL;
	snprintf(d->name, sizeof(d->name), "%s", d->cfg->name);
	snprintf(d->uuid, sizeof(d->uuid), "%s", d->cfg->uuid);
	d->maxmem_kib = (d->cfg->maxmem_mib > d->cfg->memory_mib
				 ? d->cfg->maxmem_mib
				 : d->cfg->memory_mib) << 10;
out:
	free(c);
	free(t);
	free(p);
	free(cw);
	return rc;
}

json_object *xdom_describe(const struct xdom *d)
{
	json_object *o = json_object_new_object();

	if (!o)
		return NULL;
	json_object_object_add(o, "name", json_object_new_string(d->name));
	json_object_object_add(o, "uuid", json_object_new_string(d->uuid));
	json_object_object_add(o, "config", json_object_new_string(d->config));
	json_object_object_add(o, "config_path",
			       json_object_new_string(d->config_path));
	if (d->cwd)
		json_object_object_add(o, "cwd", json_object_new_string(d->cwd));
	return o;
}
