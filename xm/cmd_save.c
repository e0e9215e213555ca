/* SPDX-License-Identifier: MIT */
/*
 * xm save [-c] DOM FILE and xm restore [-p] FILE (docs/migration-stream.md).
 * The vmm writes and reads the file, so a relative name is made absolute
 * here, against xm's own working directory.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "jval.h"
#include "xm.h"

static int xm_abspath(const struct xm_ctx *x, const char *file, char *out,
		      size_t len)
{
	char cwd[PATH_MAX];

	if (file[0] == '/') {
		if (strlen(file) >= len)
			return xm_fail(x, "'%s': name too long", file);
		strcpy(out, file);
		return XM_OK;
	}
	if (!getcwd(cwd, sizeof(cwd)))
		return xm_fail(x, "getcwd: %s", strerror(errno));
	if ((size_t)snprintf(out, len, "%s/%s", cwd, file) >= len)
		return xm_fail(x, "'%s': name too long", file);
	return XM_OK;
}

int cmd_save(struct xm_ctx *x, int argc, char **argv)
{
	char path[PATH_MAX];
	json_object *body, *reply = NULL;
	int rc;

	if (xm_abspath(x, argv[1], path, sizeof(path)) != XM_OK)
		return XM_FAIL;
	body = json_object_new_object();
	json_object_object_add(body, "path", json_object_new_string(path));
	/* -c: a checkpoint, the domain keeps running (xm save -c). */
	json_object_object_add(body, "checkpoint",
			       json_object_new_boolean(x->opt.console));
	rc = client_post_dom(x->cl, argv[0], "save", body, &reply);
	json_object_put(body);
	if (rc < 0)
		return XM_FAIL;
	printf("Saved domain %s to %s (%lld pages, %lld bytes, %lld ms)\n",
	       argv[0], path, (long long)jval_int(reply, "pages", 0),
	       (long long)jval_int(reply, "bytes", 0),
	       (long long)jval_int(reply, "ms", 0));
	json_object_put(reply);
	return XM_OK;
}

int cmd_restore(struct xm_ctx *x, int argc, char **argv)
{
	char path[PATH_MAX];
	json_object *body, *reply = NULL;
	int rc;

	if (xm_abspath(x, argv[0], path, sizeof(path)) != XM_OK)
		return XM_FAIL;
	body = json_object_new_object();
	json_object_object_add(body, "path", json_object_new_string(path));
	json_object_object_add(body, "paused",
			       json_object_new_boolean(x->opt.paused));
	rc = client_call(x->cl, "POST", "/restore", body, &reply);
	json_object_put(body);
	if (rc < 0) {
		client_report(x->cl);
		return XM_FAIL;
	}
	printf("Restored domain %s (id=%lld)\n", jval_str(reply, "name", "?"),
	       (long long)jval_int(reply, "domid", -1));
	json_object_put(reply);
	return XM_OK;
}
