/* SPDX-License-Identifier: MIT */
/* Block and network devices of a running domain: list, attach, detach. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "jval.h"
#include "list.h"
#include "xm.h"

/* GET /v1/domains/<dom><what> and the domain's id (for BE paths). */
static int xm_get_devices(struct xm_ctx *x, const char *dom, const char *what,
			  json_object **reply, int *domid)
{
	json_object *d = NULL;

	*reply = NULL;
	if (client_get_dom(x->cl, dom, "", &d) < 0)
		return XM_FAIL;
	*domid = (int)jval_int(d, "domid", -1);
	json_object_put(d);
	if (client_get_dom(x->cl, dom, what, reply) < 0)
		return XM_FAIL;
	return XM_OK;
}

static int xm_dev_list(struct xm_ctx *x, const char *dom, bool block)
{
	json_object *reply = NULL, *devs;
	size_t i, n;
	int domid, rc;

	rc = xm_get_devices(x, dom, block ? "/block" : "/network", &reply,
			    &domid);
	if (rc != XM_OK)
		return rc;
	devs = jval_array(reply, "devices");
	if (x->opt.longfmt) {
		n = devs ? json_object_array_length(devs) : 0;
		for (i = 0; i < n; i++)
			list_print_sxp(stdout, block ? "vbd" : "vif",
				       json_object_array_get_idx(devs, i));
	} else if (block) {
		list_print_vbds(stdout, devs, domid);
	} else {
		list_print_vifs(stdout, devs, domid);
	}
	json_object_put(reply);
	return XM_OK;
}

int cmd_block_list(struct xm_ctx *x, int argc, char **argv)
{
	return xm_dev_list(x, argv[0], true);
}

int cmd_network_list(struct xm_ctx *x, int argc, char **argv)
{
	return xm_dev_list(x, argv[0], false);
}

static int xm_post_spec(struct xm_ctx *x, const char *dom, const char *action,
			const char *key, json_object *value)
{
	json_object *body = json_object_new_object();
	int rc;

	json_object_object_add(body, key, value);
	rc = client_post_dom(x->cl, dom, action, body, NULL);
	json_object_put(body);
	return rc < 0 ? XM_FAIL : XM_OK;
}

/*
 * block-attach DOM SPEC, or Xen's split form DOM BACKDEV FRONTDEV MODE
 * [BACKDOMAIN]: the backend is always Domain-0 here.
 */
int cmd_block_attach(struct xm_ctx *x, int argc, char **argv)
{
	char spec[4096];
	int n;

	if (argc == 3)
		return xm_usage_error(x, "expects a spec, or backend, "
					 "frontend and mode");
	if (argc == 5 && strcmp(argv[4], "0") && strcmp(argv[4], "Domain-0"))
		return xm_fail(x, "backend domain %s: only Domain-0 serves "
				  "devices",
			       argv[4]);
	if (argc == 2)
		n = snprintf(spec, sizeof(spec), "%s", argv[1]);
	else
		n = snprintf(spec, sizeof(spec), "%s,%s,%s", argv[1], argv[2],
			     argv[3]);
	if (n < 0 || (size_t)n >= sizeof(spec))
		return xm_usage_error(x, "spec too long");
	return xm_post_spec(x, argv[0], "block-attach", "spec",
			    json_object_new_string(spec));
}

static bool xm_all_digits(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!isdigit((unsigned char)*s))
			return false;
	return true;
}

/*
 * The device in the list whose match_key equals want (compared as text,
 * case-insensitively): its want_key value as a string, or NULL.
 */
static char *xm_dev_lookup(json_object *devs, const char *match_key,
			   const char *want, const char *want_key)
{
	size_t i, n = devs ? json_object_array_length(devs) : 0;
	json_object *v;
	const char *s;

	for (i = 0; i < n; i++) {
		json_object *d = json_object_array_get_idx(devs, i);

		if (!json_object_object_get_ex(d, match_key, &v) || !v)
			continue;
		s = json_object_is_type(v, json_type_string)
			    ? json_object_get_string(v)
			    : json_object_to_json_string_ext(
				      v, JSON_C_TO_STRING_PLAIN);
		if (strcasecmp(s, want))
			continue;
		if (!json_object_object_get_ex(d, want_key, &v) || !v)
			return NULL;
		return strdup(json_object_is_type(v, json_type_string)
				      ? json_object_get_string(v)
				      : json_object_to_json_string_ext(
						v, JSON_C_TO_STRING_PLAIN));
	}
	return NULL;
}

/* Translates Xen's way of naming a device into ours, through the list. */
static int xm_dev_resolve(struct xm_ctx *x, const char *dom, const char *what,
			  const char *match_key, const char *arg,
			  const char *want_key, char **out)
{
	json_object *reply = NULL;

	*out = NULL;
	if (client_get_dom(x->cl, dom, what, &reply) < 0)
		return XM_FAIL;
	*out = xm_dev_lookup(jval_array(reply, "devices"), match_key, arg,
			     want_key);
	json_object_put(reply);
	if (!*out)
		return xm_fail(x, "domain %s has no device %s", dom, arg);
	return XM_OK;
}

/* block-detach DOM VDEV; a number is Xen's device id, looked up. */
int cmd_block_detach(struct xm_ctx *x, int argc, char **argv)
{
	char *vdev = NULL;
	int rc;

	if (xm_all_digits(argv[1])) {
		rc = xm_dev_resolve(x, argv[0], "/block", "devid", argv[1],
				    "vdev", &vdev);
		if (rc != XM_OK)
			return rc;
	}
	rc = xm_post_spec(x, argv[0], "block-detach", "vdev",
			  json_object_new_string(vdev ? vdev : argv[1]));
	free(vdev);
	return rc;
}

/* network-attach DOM [key=value...]: the pairs are the vif spec. */
int cmd_network_attach(struct xm_ctx *x, int argc, char **argv)
{
	char spec[4096];
	size_t o = 0;
	int i, n;

	spec[0] = '\0';
	for (i = 1; i < argc; i++) {
		if (!strchr(argv[i], '='))
			return xm_usage_error(x, "'%s' is not KEY=VALUE",
					      argv[i]);
		n = snprintf(spec + o, sizeof(spec) - o, "%s%s",
			     i > 1 ? "," : "", argv[i]);
		if (n < 0 || (size_t)n >= sizeof(spec) - o)
			return xm_usage_error(x, "spec too long");
		o += (size_t)n;
	}
	return xm_post_spec(x, argv[0], "network-attach", "spec",
			    json_object_new_string(spec));
}

/* network-detach DOM DEVID, or its MAC address (as Xen's xm takes). */
int cmd_network_detach(struct xm_ctx *x, int argc, char **argv)
{
	char *devid = NULL, *end;
	long n;
	int rc;

	if (!xm_all_digits(argv[1])) {
		if (!strchr(argv[1], ':'))
			return xm_usage_error(x, "'%s' is neither a device id "
						 "nor a MAC address",
					      argv[1]);
		rc = xm_dev_resolve(x, argv[0], "/network", "mac", argv[1],
				    "devid", &devid);
		if (rc != XM_OK)
			return rc;
	}
	n = strtol(devid ? devid : argv[1], &end, 10);
	rc = *end || n < 0;
	free(devid);
	if (rc)
		return xm_fail(x, "bad device id");
	return xm_post_spec(x, argv[0], "network-detach", "devid",
			    json_object_new_int64(n));
}
