/* SPDX-License-Identifier: MIT */
/* XenStore path syntax: validation, relative paths, ancestry. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* Set once by the store; path checks need the limit and no other state. */
static uint32_t path_rel_max = XENSTORE_REL_PATH_MAX;

void xs_path_set_max(uint32_t max)
{
	path_rel_max = max;
}

bool xs_path_is_special(const char *path)
{
	return path[0] == '@';
}

static bool path_char_ok(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
	       (ch >= '0' && ch <= '9') || ch == '/' || ch == '_' ||
	       ch == '-' || ch == '@';
}

/* Length of a "/local/domain/<n>/" prefix, or 0. */
static size_t path_local_prefix(const char *path)
{
	static const char pfx[] = "/local/domain/";
	size_t i = sizeof(pfx) - 1, digits = 0;

	if (strncmp(path, pfx, i))
		return 0;
	while (path[i] >= '0' && path[i] <= '9' && digits < 5) {
		i++;
		digits++;
	}
	if (!digits || path[i] != '/')
		return 0;
	return i + 1;
}

bool xs_path_valid(const char *abs)
{
	size_t len = strlen(abs), i;

	if (abs[0] != '/')
		return false;
	/* As Xen's C daemon: the limit applies below a domain's home. */
	if (len > path_local_prefix(abs) + path_rel_max)
		return false;
	if (len > 1 && abs[len - 1] == '/')
		return false;
	for (i = 0; i < len; i++) {
		if (!path_char_ok(abs[i]))
			return false;
		if (abs[i] == '/' && abs[i + 1] == '/')
			return false;
	}
	return true;
}

static bool special_valid(const char *path)
{
	size_t len = strlen(path), i;

	if (len < 2 || len > path_rel_max || path[len - 1] == '/')
		return false;
	for (i = 1; i < len; i++)
		if (!path_char_ok(path[i]) ||
		    (path[i] == '/' && path[i + 1] == '/'))
			return false;
	return true;
}

char *xs_path_canonical(uint32_t domid, const char *path, bool allow_special,
			int *err)
{
	char *abs;

	*err = EINVAL;
	if (xs_path_is_special(path)) {
		if (!allow_special || !special_valid(path))
			return NULL;
		abs = strdup(path);
	} else if (path[0] == '/') {
		if (!xs_path_valid(path))
			return NULL;
		abs = strdup(path);
	} else {
		if (!path[0])
			return NULL;
		if (asprintf(&abs, "/local/domain/%u/%s", domid, path) < 0)
			abs = NULL;
		else if (!xs_path_valid(abs)) {
			free(abs);
			return NULL;
		}
	}
	if (!abs)
		*err = ENOMEM;
	return abs;
}

bool xs_path_is_child(const char *path, const char *ancestor)
{
	size_t alen = strlen(ancestor);

	if (alen == 1 && ancestor[0] == '/')
		return path[0] == '/';
	return !strncmp(path, ancestor, alen) &&
	       (path[alen] == '/' || path[alen] == '\0');
}

uint32_t xs_path_parent_len(const char *path, uint32_t len)
{
	const char *slash = memrchr(path, '/', len);

	if (!slash || slash == path)
		return 1;
	return (uint32_t)(slash - path);
}

const char *xs_path_basename(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash ? slash + 1 : path;
}
