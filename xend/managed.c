/* SPDX-License-Identifier: MIT */
/*
 * Managed domains (xm new/start/delete) keep their config in the state
 * directory, one JSON file per domain, <uuid>.json:
 *
 *   {"name": ..., "uuid": ..., "config": TEXT, "config_path": ...,
 *    "cwd": ...}
 *
 * The UUID is kept apart from the config's text: one made up for a config
 * without one must stay the same across restarts.
 *
 * written to a temporary file, synced and renamed over the old one, so a
 * crash leaves the old config or the new, never half of one.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "xend.h"

static int managed_file(char *buf, size_t len, const char *uuid,
			const char *suffix)
{
	int n = snprintf(buf, len, "%s/%s.json%s", xend.state_dir, uuid,
			 suffix);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int managed_save(struct xdom *d)
{
	char path[1024], tmp[1024];
	json_object *o = xdom_describe(d);
	const char *text;
	int fd = -1, rc = -EIO;
	size_t len;

	if (!o)
		return -ENOMEM;
	text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY);
	len = strlen(text);
	if (managed_file(path, sizeof(path), d->uuid, "") < 0 ||
	    managed_file(tmp, sizeof(tmp), d->uuid, ".tmp") < 0) {
		rc = -ENAMETOOLONG;
		goto out;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || write(fd, text, len) != (ssize_t)len || fsync(fd) < 0 ||
	    rename(tmp, path) < 0) {
		rc = -errno;
		log_err("managed: writing %s", path);
		(void)unlink(tmp);
		goto out;
	}
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	json_object_put(o);
	return rc;
}

void managed_remove(struct xdom *d)
{
	char path[1024];

	if (managed_file(path, sizeof(path), d->uuid, "") == 0 &&
	    unlink(path) < 0 && errno != ENOENT)
		log_warn("managed: removing %s", path);
}

static const char *managed_str(json_object *o, const char *key)
{
	json_object *v;

	if (!json_object_object_get_ex(o, key, &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

static void managed_load(const char *file)
{
	char path[1024], err[512];
	json_object *o;
	struct xdom *d;
	const char *name, *config, *uuid;

	snprintf(path, sizeof(path), "%s/%s", xend.state_dir, file);
	o = json_object_from_file(path);
	name = o ? managed_str(o, "name") : NULL;
	config = o ? managed_str(o, "config") : NULL;
	d = xdom_new();
	if (!name || !config || !d ||
	    xdom_set_config(d, config, managed_str(o, "config_path"),
			    managed_str(o, "cwd"), err, sizeof(err),
			    NULL) < 0) {
		log_errx("managed: %s is unreadable%s%s; skipped", path,
			 name && config ? ": " : "",
			 name && config ? err : "");
		xdom_free(d);
		goto out;
	}
	snprintf(d->name, sizeof(d->name), "%s", name);
	uuid = managed_str(o, "uuid");
	if (uuid && strlen(uuid) == 36)
		snprintf(d->uuid, sizeof(d->uuid), "%s", uuid);
	d->managed = true;
	d->state = XD_INACTIVE;
	if (xdom_by_uuid(d->uuid) || xdom_by_name(d->name)) {
		log_errx("managed: %s: '%s' is there twice; skipped", path,
			 d->name);
		xdom_free(d);
		goto out;
	}
	list_add_tail(&d->link, &xend.domains);
	xend.nr_domains++;
out:
	if (o)
		json_object_put(o);
}

int managed_load_all(void)
{
	struct dirent *e;
	DIR *dir = opendir(xend.state_dir);
	size_t n;

	if (!dir) {
		log_err("managed: %s", xend.state_dir);
		return -errno;
	}
	while ((e = readdir(dir))) {
		n = strlen(e->d_name);
		if (n > 5 && !strcmp(e->d_name + n - 5, ".json"))
			managed_load(e->d_name);
	}
	closedir(dir);
	return 0;
}
