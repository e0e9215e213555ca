/* SPDX-License-Identifier: MIT */
/*
 * Domain configs (domcfg.h): each key is a row of a table with its type
 * and a function that checks and stores it, so every key is checked the
 * same way and the messages agree.
 */
#include "domcfg.h"
#include "uuid.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xlcfg.h"

struct domcfg_ctx {
	const char *file;
	char *err;
	size_t errlen;
	/* xm's root= and extra= make a command line when cmdline= is absent. */
	const char *root, *extra;
	bool have_cmdline;
};

static int domcfg_fail(struct domcfg_ctx *c, unsigned int line,
		       const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int domcfg_fail(struct domcfg_ctx *c, unsigned int line,
		       const char *fmt, ...)
{
	va_list ap;
	int n;

	n = snprintf(c->err, c->errlen, "%s:%u: ", c->file, line);
	if (n >= 0 && (size_t)n < c->errlen) {
		va_start(ap, fmt);
		vsnprintf(c->err + n, c->errlen - (size_t)n, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

static const char *const domcfg_actions[] = {
	[DOMCFG_DESTROY] = "destroy",
	[DOMCFG_RESTART] = "restart",
	[DOMCFG_PRESERVE] = "preserve",
	[DOMCFG_RENAME_RESTART] = "rename-restart",
	[DOMCFG_COREDUMP_DESTROY] = "coredump-destroy",
	[DOMCFG_COREDUMP_RESTART] = "coredump-restart",
	[DOMCFG_SOFT_RESET] = "soft-reset",
};

const char *domcfg_action_name(enum domcfg_action a)
{
	return (size_t)a < sizeof(domcfg_actions) / sizeof(domcfg_actions[0])
		   ? domcfg_actions[a]
		   : "?";
}

static int domcfg_string(struct domcfg_ctx *c, const struct xlcfg_entry *e,
			 char *dst, size_t size)
{
	if (e->value.type != XLCFG_STRING)
		return domcfg_fail(c, e->line, "%s must be a string", e->key);
	if (strlen(e->value.str) >= size)
		return domcfg_fail(c, e->line, "%s is longer than %zu bytes",
				   e->key, size - 1);
	memcpy(dst, e->value.str, strlen(e->value.str) + 1);
	return 0;
}

static int domcfg_int(struct domcfg_ctx *c, const struct xlcfg_entry *e,
		      int64_t min, int64_t max, int64_t *out)
{
	if (e->value.type != XLCFG_INT)
		return domcfg_fail(c, e->line, "%s must be a number", e->key);
	if (e->value.num < min || e->value.num > max)
		return domcfg_fail(c, e->line,
				   "%s = %lld: from %lld to %lld", e->key,
				   (long long)e->value.num, (long long)min,
				   (long long)max);
	*out = e->value.num;
	return 0;
}

static int key_name(struct domcfg_ctx *c, const struct xlcfg_entry *e,
		    struct domcfg *d)
{
	size_t i;
	int rc = domcfg_string(c, e, d->name, sizeof(d->name));

	if (rc < 0)
		return rc;
	if (!d->name[0])
		return domcfg_fail(c, e->line, "name is empty");
	for (i = 0; d->name[i]; i++) {
		char ch = d->name[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' ||
		      ch == '.'))
			return domcfg_fail(c, e->line,
					   "name '%s': letters, digits, '-', "
					   "'_' and '.' only",
					   d->name);
	}
	/* xl's rule: a name that is all digits reads as a domain id. */
	if (strspn(d->name, "0123456789") == strlen(d->name))
		return domcfg_fail(c, e->line,
				   "name '%s' would read as a domain id",
				   d->name);
	/* Domain-0 is the host's; dots alone are path segments in a URL. */
	if (!strcmp(d->name, "Domain-0") ||
	    strspn(d->name, ".") == strlen(d->name))
		return domcfg_fail(c, e->line, "name '%s' is reserved",
				   d->name);
	return 0;
}

static int key_uuid(struct domcfg_ctx *c, const struct xlcfg_entry *e,
		    struct domcfg *d)
{
	int rc = domcfg_string(c, e, d->uuid, sizeof(d->uuid));

	if (rc < 0)
		return rc;
	if (!uuid_valid(d->uuid))
		return domcfg_fail(c, e->line, "uuid '%s' is not a UUID",
				   d->uuid);
	return 0;
}

static int key_type(struct domcfg_ctx *c, const struct xlcfg_entry *e,
		    struct domcfg *d)
{
	char type[16];
	int rc = domcfg_string(c, e, type, sizeof(type));

	(void)d;
	if (rc < 0)
		return rc;
	if (strcmp(type, "pvh"))
		return domcfg_fail(c, e->line,
				   "type '%s': only pvh domains are supported",
				   type);
	return 0;
}

static int key_kernel(struct domcfg_ctx *c, const struct xlcfg_entry *e,
		      struct domcfg *d)
{
	return domcfg_string(c, e, d->kernel, sizeof(d->kernel));
}

static int key_ramdisk(struct domcfg_ctx *c, const struct xlcfg_entry *e,
		       struct domcfg *d)
{
	return domcfg_string(c, e, d->ramdisk, sizeof(d->ramdisk));
}

static int key_cmdline(struct domcfg_ctx *c, const struct xlcfg_entry *e,
		       struct domcfg *d)
{
	c->have_cmdline = true;
	return domcfg_string(c, e, d->cmdline, sizeof(d->cmdline));
}

static int key_root(struct domcfg_ctx *c, const struct xlcfg_entry *e,
		    struct domcfg *d)
{
	(void)d;
	if (e->value.type != XLCFG_STRING)
		return domcfg_fail(c, e->line, "root must be a string");
	c->root = e->value.str;
	return 0;
}

static int key_extra(struct domcfg_ctx *c, const struct xlcfg_entry *e,
		     struct domcfg *d)
{
	(void)d;
	if (e->value.type != XLCFG_STRING)
		return domcfg_fail(c, e->line, "extra must be a string");
	c->extra = e->value.str;
	return 0;
}

static int key_memory(struct domcfg_ctx *c, const struct xlcfg_entry *e,
		      struct domcfg *d)
{
	int64_t v = 0;
	int rc = domcfg_int(c, e, 1, DOMCFG_MAX_MEMORY_MIB, &v);

	if (rc == 0)
		d->memory_mib = (uint64_t)v;
	return rc;
}

static int key_maxmem(struct domcfg_ctx *c, const struct xlcfg_entry *e,
		      struct domcfg *d)
{
	int64_t v = 0;
	int rc = domcfg_int(c, e, 1, DOMCFG_MAX_MEMORY_MIB, &v);

	if (rc == 0)
		d->maxmem_mib = (uint64_t)v;
	return rc;
}

static int key_vcpus(struct domcfg_ctx *c, const struct xlcfg_entry *e,
		     struct domcfg *d)
{
	int64_t v = 0;
	int rc = domcfg_int(c, e, 1, DOMCFG_MAX_VCPUS, &v);

	if (rc == 0)
		d->vcpus = (unsigned int)v;
	return rc;
}

/* A list of strings (or one string, as xm tolerated). */
static int domcfg_list(struct domcfg_ctx *c, const struct xlcfg_entry *e,
		       size_t max, const struct xlcfg_value **items,
		       size_t *n)
{
	size_t i;

	if (e->value.type == XLCFG_STRING) {
		*items = &e->value;
		*n = 1;
		return 0;
	}
	if (e->value.type != XLCFG_LIST)
		return domcfg_fail(c, e->line, "%s must be a list of strings",
				   e->key);
	if (e->value.nr_items > max)
		return domcfg_fail(c, e->line, "%s: at most %zu entries",
				   e->key, max);
	for (i = 0; i < e->value.nr_items; i++)
		if (e->value.items[i].type != XLCFG_STRING)
			return domcfg_fail(c, e->value.items[i].line,
					   "%s entry %zu must be a string",
					   e->key, i + 1);
	*items = e->value.items;
	*n = e->value.nr_items;
	return 0;
}

static int key_disk(struct domcfg_ctx *c, const struct xlcfg_entry *e,
		    struct domcfg *d)
{
	const struct xlcfg_value *items;
	char why[512];
	size_t i, j, n;
	int rc = domcfg_list(c, e, DOMCFG_MAX_DISKS, &items, &n);

	for (i = 0; rc == 0 && i < n; i++) {
		if (diskspec_parse(items[i].str, &d->disks[i], why,
				   sizeof(why)) < 0)
			return domcfg_fail(c, items[i].line, "disk %s", why);
		for (j = 0; j < i; j++)
			if (d->disks[j].devid == d->disks[i].devid)
				return domcfg_fail(c, items[i].line,
						   "disk: %s is used twice",
						   d->disks[i].vdev);
		d->nr_disks = (unsigned int)i + 1;
	}
	return rc;
}

static int key_vif(struct domcfg_ctx *c, const struct xlcfg_entry *e,
		   struct domcfg *d)
{
	const struct xlcfg_value *items;
	size_t i, n;
	int rc = domcfg_list(c, e, DOMCFG_MAX_VIFS, &items, &n);

	for (i = 0; rc == 0 && i < n; i++) {
		if (strlen(items[i].str) >= DOMCFG_VIF_MAX)
			return domcfg_fail(c, items[i].line,
					   "vif entry %zu is too long", i + 1);
		memcpy(d->vifs[i], items[i].str, strlen(items[i].str) + 1);
		d->nr_vifs = (unsigned int)i + 1;
	}
	return rc;
}

static int domcfg_action(struct domcfg_ctx *c, const struct xlcfg_entry *e,
			 enum domcfg_action *out)
{
	size_t i;

	if (e->value.type != XLCFG_STRING)
		return domcfg_fail(c, e->line, "%s must be a string", e->key);
	for (i = 0; i < sizeof(domcfg_actions) / sizeof(domcfg_actions[0]);
	     i++) {
		if (!strcmp(e->value.str, domcfg_actions[i])) {
			*out = (enum domcfg_action)i;
			return 0;
		}
	}
	return domcfg_fail(c, e->line,
			   "%s = '%s': destroy, restart, preserve, "
			   "rename-restart, coredump-destroy, coredump-restart "
			   "or soft-reset",
			   e->key, e->value.str);
}

static int key_on_poweroff(struct domcfg_ctx *c, const struct xlcfg_entry *e,
			   struct domcfg *d)
{
	return domcfg_action(c, e, &d->on_poweroff);
}

static int key_on_reboot(struct domcfg_ctx *c, const struct xlcfg_entry *e,
			 struct domcfg *d)
{
	return domcfg_action(c, e, &d->on_reboot);
}

static int key_on_crash(struct domcfg_ctx *c, const struct xlcfg_entry *e,
			struct domcfg *d)
{
	return domcfg_action(c, e, &d->on_crash);
}

static const struct domcfg_key {
	const char *key;
	int (*set)(struct domcfg_ctx *c, const struct xlcfg_entry *e,
		   struct domcfg *d);
} domcfg_keys[] = {
	{"name", key_name},
	{"uuid", key_uuid},
	{"type", key_type},
	{"kernel", key_kernel},
	{"ramdisk", key_ramdisk},
	{"cmdline", key_cmdline},
	{"root", key_root},
	{"extra", key_extra},
	{"memory", key_memory},
	{"maxmem", key_maxmem},
	{"vcpus", key_vcpus},
	{"disk", key_disk},
	{"vif", key_vif},
	{"on_poweroff", key_on_poweroff},
	{"on_reboot", key_on_reboot},
	{"on_crash", key_on_crash},
};

/* Everything given: defaults, the relations between keys. */
static int domcfg_finish(struct domcfg_ctx *c, struct xlcfg *x,
			 struct domcfg *d)
{
	struct xlcfg_entry *e;

	if (!d->name[0])
		return domcfg_fail(c, 1, "no name (name = \"...\")");
	if (!d->kernel[0])
		return domcfg_fail(c, 1, "no kernel (kernel = \"...\")");
	if (!d->maxmem_mib)
		d->maxmem_mib = d->memory_mib;
	e = xlcfg_get(x, "maxmem");
	if (d->maxmem_mib < d->memory_mib)
		return domcfg_fail(c, e ? e->line : 1,
				   "maxmem (%llu MiB) is below memory (%llu "
				   "MiB)",
				   (unsigned long long)d->maxmem_mib,
				   (unsigned long long)d->memory_mib);
	if (!c->have_cmdline && (c->root || c->extra)) {
		int n = snprintf(d->cmdline, sizeof(d->cmdline), "%s%s%s%s",
				 c->root ? "root=" : "", c->root ? c->root : "",
				 c->root && c->extra ? " " : "",
				 c->extra ? c->extra : "");

		if (n < 0 || (size_t)n >= sizeof(d->cmdline))
			return domcfg_fail(c, 1, "root and extra make a "
					   "command line that is too long");
	}
	return 0;
}

int domcfg_parse(const char *text, size_t len, const char *file,
		 struct domcfg *out, char *err, size_t errlen,
		 domcfg_warn_fn *warn, void *ctx)
{
	struct domcfg_ctx c = {.file = file, .err = err, .errlen = errlen};
	struct xlcfg x;
	char msg[256];
	size_t i, k;
	int rc;

	memset(out, 0, sizeof(*out));
	out->memory_mib = 128;
	out->vcpus = 1;
	out->on_poweroff = DOMCFG_DESTROY;
	out->on_reboot = DOMCFG_RESTART;
	out->on_crash = DOMCFG_DESTROY;
	rc = xlcfg_parse(text, len, &x, msg, sizeof(msg));
	if (rc < 0) {
		if (rc == -EINVAL && !strncmp(msg, "line ", 5))
			snprintf(err, errlen, "%s:%s", file, msg + 5);
		else if (rc == -EINVAL)
			snprintf(err, errlen, "%s: %s", file, msg);
		return rc;
	}
	for (k = 0; rc == 0 && k < sizeof(domcfg_keys) / sizeof(domcfg_keys[0]);
	     k++) {
		struct xlcfg_entry *e = xlcfg_get(&x, domcfg_keys[k].key);

		if (e)
			rc = domcfg_keys[k].set(&c, e, out);
	}
	if (rc == 0)
		rc = domcfg_finish(&c, &x, out);
	for (i = 0; rc == 0 && warn && i < x.nr_entries; i++) {
		if (x.entries[i].used)
			continue;
		snprintf(msg, sizeof(msg), "%s:%u: unknown key '%s' ignored",
			 file, x.entries[i].line, x.entries[i].key);
		warn(ctx, msg);
	}
	xlcfg_free(&x);
	return rc;
}
