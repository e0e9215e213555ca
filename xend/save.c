/* SPDX-License-Identifier: MIT */
/*
 * xm save and xm restore (docs/migration-stream.md).  Saving is the
 * vmm's work: xend hands it the domain's config for the stream's CONFIG
 * record and the file to write, and waits without the lock.  A saved
 * (not checkpointed) domain's vmm then ends with the reason "saved", and
 * the supervisor forgets it without an on_* action.
 *
 * Restoring reads the stream's header and CONFIG record here, enough to
 * know the domain's name, UUID and config and to refuse a foreign file or
 * a name in use before anything starts; the vmm reads the rest and
 * refuses the file if anything in it is wrong, before the domain is
 * registered anywhere.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api.h"
#include "log.h"
#include "uuid.h"

#define SAVE_TIMEOUT_MS (600 * 1000)
#define STREAM_MAGIC "XENIA-MIGRATE\0\0\0"
#define STREAM_VERSION 1
#define STREAM_REC_CONFIG 1
#define STREAM_CONFIG_MAX (1 << 20)

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static uint64_t le64(const uint8_t *p)
{
	return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

static bool save_read(int fd, void *buf, size_t len)
{
	size_t done = 0;
	ssize_t n;

	while (done < len) {
		n = read(fd, (char *)buf + done, len - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		done += (size_t)n;
	}
	return true;
}

/* The CONFIG record of a saved stream, or NULL with r set. */
static json_object *save_peek_config(const char *path, struct api_reply *r)
{
	uint8_t head[32], rec[16];
	json_object *cfg = NULL;
	char *text = NULL;
	uint64_t len;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		api_error(r, 400, "bad-request", "%s: %s", path,
			  strerror(errno));
		return NULL;
	}
	if (!save_read(fd, head, sizeof(head)) ||
	    memcmp(head, STREAM_MAGIC, 16)) {
		api_error(r, 400, "bad-stream", "%s is not a saved domain",
			  path);
		goto out;
	}
	if (le32(head + 16) != STREAM_VERSION) {
		api_error(r, 400, "bad-stream", "%s: stream version %u; this "
			  "xend reads version %d", path, le32(head + 16),
			  STREAM_VERSION);
		goto out;
	}
	if (!save_read(fd, rec, sizeof(rec)) ||
	    le32(rec) != STREAM_REC_CONFIG || le32(rec + 4) != 0 ||
	    (len = le64(rec + 8)) == 0 || len > STREAM_CONFIG_MAX) {
		api_error(r, 400, "bad-stream", "%s: no domain config where "
			  "the stream starts", path);
		goto out;
	}
	text = malloc(len + 1);
	if (!text || !save_read(fd, text, len)) {
		api_error(r, 400, "bad-stream", "%s: the domain config is "
			  "cut short", path);
		goto out;
	}
	text[len] = '\0';
	cfg = json_tokener_parse(text);
	if (!cfg || !json_object_is_type(cfg, json_type_object)) {
		json_object_put(cfg);
		cfg = NULL;
		api_error(r, 400, "bad-stream", "%s: the domain config is "
			  "not a JSON object", path);
	}
out:
	free(text);
	close(fd);
	return cfg;
}

void save_figures(json_object *rep, struct api_reply *r)
{
	static const char *const keys[] = {"bytes", "pages", "ms", "rounds",
					   "downtime_ms", "log"};
	json_object *v;
	size_t i;

	r->body = json_object_new_object();
	for (i = 0; i < sizeof(keys) / sizeof(*keys); i++)
		if (json_object_object_get_ex(rep, keys[i], &v))
			json_object_object_add(r->body, keys[i],
					       json_object_get(v));
}

/* A file the vmm opens: absolute, or r says why not. */
static bool save_path_ok(const char *path, struct api_reply *r)
{
	if (!path)
		return false;
	if (path[0] != '/') {
		api_error(r, 400, "bad-request", "the file must be an "
			  "absolute path, not '%s'", path);
		return false;
	}
	return true;
}

void act_save(struct xdom *d, json_object *body, struct api_reply *r)
{
	const char *path = api_str(body, "path", true, r);
	bool checkpoint = api_bool(body, "checkpoint");
	json_object *req, *cfg, *rep;
	char name[DOMCFG_NAME_MAX];
	int domid = d->domid;

	if (!save_path_ok(path, r))
		return;
	cfg = xdom_describe(d);
	req = api_cmd("save");
	json_object_object_add(req, "path", json_object_new_string(path));
	json_object_object_add(req, "checkpoint",
			       json_object_new_boolean(checkpoint));
	json_object_object_add(req, "config", cfg);
	snprintf(name, sizeof(name), "%s", d->name);
	log_info("api: saving domain %d '%s' to %s%s", domid, name, path,
		 checkpoint ? " (checkpoint)" : "");
	/* d may be gone when this returns: the vmm ends after a save. */
	rep = api_ctl_wait(d, "save", req, SAVE_TIMEOUT_MS, r);
	if (!rep)
		return;
	save_figures(rep, r);
	json_object_put(rep);
	log_info("api: saved domain %d '%s'", domid, name);
}

static const char *save_cfg_str(json_object *cfg, const char *key)
{
	json_object *v;

	if (!json_object_object_get_ex(cfg, key, &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

struct xdom *save_admit(json_object *cfg, const char *what,
			struct api_reply *r)
{
	const char *name = save_cfg_str(cfg, "name");
	const char *uuid = save_cfg_str(cfg, "uuid");
	json_object *req;
	struct xdom *d;

	if (!name || !uuid || !save_cfg_str(cfg, "config")) {
		api_error(r, 400, "bad-stream", "%s: the domain config lacks "
			  "its name, UUID or config", what);
		return NULL;
	}
	/* The same checks as a create, on the config the domain ran with. */
	req = json_object_new_object();
	json_object_object_add(req, "config", json_object_new_string(
						      save_cfg_str(cfg, "config")));
	if (save_cfg_str(cfg, "config_path"))
		json_object_object_add(req, "path", json_object_new_string(
							save_cfg_str(cfg, "config_path")));
	if (save_cfg_str(cfg, "cwd"))
		json_object_object_add(req, "cwd", json_object_new_string(
						       save_cfg_str(cfg, "cwd")));
	d = api_new_domain(req, NULL, r);
	json_object_put(req);
	if (!d)
		return NULL;
	if (!uuid_valid(uuid) || !*name || strlen(name) >= sizeof(d->name) ||
	    strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
			 "0123456789-_.") != strlen(name) ||
	    strspn(name, "0123456789") == strlen(name) ||
	    strspn(name, ".") == strlen(name) || !strcmp(name, "Domain-0")) {
		api_error(r, 400, "bad-stream", "%s: the domain's name '%.64s' "
			  "or UUID '%.40s' is not valid", what, name, uuid);
		xdom_free(d);
		return NULL;
	}
	snprintf(d->name, sizeof(d->name), "%s", name);
	snprintf(d->uuid, sizeof(d->uuid), "%s", uuid);
	if (xdom_by_name(d->name) || xdom_by_uuid(d->uuid)) {
		api_error(r, 409, "exists", "domain '%s' (%s) is running "
			  "here; destroy it first", d->name, d->uuid);
		xdom_free(d);
		return NULL;
	}
	return d;
}

void api_restore(json_object *body, struct api_reply *r)
{
	const char *path = api_str(body, "path", true, r);
	struct xdom *d;
	json_object *cfg;

	if (!save_path_ok(path, r))
		return;
	cfg = save_peek_config(path, r);
	if (!cfg)
		return;
	d = save_admit(cfg, path, r);
	json_object_put(cfg);
	if (!d)
		return;
	list_add_tail(&d->link, &xend.domains);
	xend.nr_domains++;
	if (!api_start(d, api_bool(body, "paused"), path, r)) {
		list_del(&d->link);
		xend.nr_domains--;
		xdom_free(d);
		return;
	}
	log_info("api: restored domain %d '%s' from %s", d->domid, d->name,
		 path);
	r->status = 201;
	r->body = api_domain_json(d, false);
}
