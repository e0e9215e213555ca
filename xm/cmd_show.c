/* SPDX-License-Identifier: MIT */
/* The commands that only read: list, uptime, vcpu-list, info, dmesg, log. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "jval.h"
#include "list.h"
#include "xm.h"

static void xm_print_json(json_object *o)
{
	printf("%s\n", json_object_to_json_string_ext(
			       o, JSON_C_TO_STRING_PRETTY |
					  JSON_C_TO_STRING_SPACED |
					  JSON_C_TO_STRING_NOSLASHESCAPE));
}

/*
 * The domains to show: all of them (GET /v1/domains, Domain-0 first), or
 * those named, each by its own GET (which adds devices and config).  A
 * new array in *out, or XM_FAIL after reporting.
 */
static int xm_get_domains(struct xm_ctx *x, int argc, char **argv,
			  json_object **out)
{
	json_object *reply = NULL, *doms, *d = NULL;
	int i;

	*out = NULL;
	if (!argc) {
		if (client_call(x->cl, "GET", "/domains", NULL, &reply) < 0) {
			client_report(x->cl);
			return XM_FAIL;
		}
		doms = jval_array(reply, "domains");
		*out = doms ? json_object_get(doms) : json_object_new_array();
		json_object_put(reply);
		return XM_OK;
	}
	doms = json_object_new_array();
	if (!doms)
		return xm_fail(x, "out of memory");
	for (i = 0; i < argc; i++) {
		if (client_get_dom(x->cl, argv[i], "", &d) < 0) {
			json_object_put(doms);
			return XM_FAIL;
		}
		json_object_array_add(doms, d);
	}
	*out = doms;
	return XM_OK;
}

/* A domain for a request path: its id while it runs, else its name. */
static void xm_dom_ref(char *buf, size_t len, json_object *d)
{
	if (jval_null(d, "domid"))
		snprintf(buf, len, "%s", jval_str(d, "name", ""));
	else
		snprintf(buf, len, "%lld",
			 (long long)jval_int(d, "domid", -1));
}

static int xm_list_long(struct xm_ctx *x, json_object *doms, bool detailed)
{
	size_t i, n = json_object_array_length(doms);
	json_object *d;
	char ref[160];

	for (i = 0; i < n; i++) {
		d = json_object_array_get_idx(doms, i);
		if (detailed) {
			list_print_sxp(stdout, "domain", d);
			continue;
		}
		xm_dom_ref(ref, sizeof(ref), d);
		if (client_get_dom(x->cl, ref, "", &d) < 0)
			return XM_FAIL;
		list_print_sxp(stdout, "domain", d);
		json_object_put(d);
	}
	return XM_OK;
}

int cmd_list(struct xm_ctx *x, int argc, char **argv)
{
	json_object *doms = NULL, *wrap;
	int rc;

	if (x->opt.json && x->opt.longfmt)
		return xm_usage_error(x, "-l and --json exclude each other");
	rc = xm_get_domains(x, argc, argv, &doms);
	if (rc != XM_OK)
		return rc;
	if (x->opt.json) {
		wrap = json_object_new_object();
		json_object_object_add(wrap, "domains", json_object_get(doms));
		xm_print_json(wrap);
		json_object_put(wrap);
	} else if (x->opt.longfmt) {
		rc = xm_list_long(x, doms, argc > 0);
	} else {
		list_print_brief(stdout, doms);
	}
	json_object_put(doms);
	return rc;
}

static double xm_host_uptime(void)
{
	double up = 0;
	FILE *f = fopen("/proc/uptime", "r");

	if (f) {
		if (fscanf(f, "%lf", &up) != 1)
			up = 0;
		fclose(f);
	}
	return up;
}

int cmd_uptime(struct xm_ctx *x, int argc, char **argv)
{
	json_object *doms = NULL;
	struct timespec now;
	int rc;

	rc = xm_get_domains(x, argc, argv, &doms);
	if (rc != XM_OK)
		return rc;
	clock_gettime(CLOCK_REALTIME, &now);
	list_print_uptime(stdout, doms, x->opt.brief,
			  (double)now.tv_sec + (double)now.tv_nsec / 1e9,
			  xm_host_uptime());
	json_object_put(doms);
	return XM_OK;
}

int cmd_vcpu_list(struct xm_ctx *x, int argc, char **argv)
{
	json_object *doms = NULL, *reply = NULL;
	size_t i, n;
	char ref[160];
	int rc, status = XM_OK;

	rc = xm_get_domains(x, argc, argv, &doms);
	if (rc != XM_OK)
		return rc;
	list_print_vcpu_header(stdout);
	n = json_object_array_length(doms);
	for (i = 0; i < n; i++) {
		json_object *d = json_object_array_get_idx(doms, i);
		char path[512];

		/* As Xen's: a domain that is not running has no vCPUs. */
		if (jval_null(d, "domid"))
			continue;
		xm_dom_ref(ref, sizeof(ref), d);
		if (client_dom_path(path, sizeof(path), ref, "/vcpus") < 0)
			continue;
		if (client_call(x->cl, "GET", path, NULL, &reply) < 0) {
			/* Domain-0's are the host's, which xend may not tell
			 * when asked for all; a named one must answer. */
			if (jval_int(d, "domid", -1) == 0 && !argc)
				continue;
			client_report(x->cl);
			status = XM_FAIL;
			continue;
		}
		list_print_vcpus(stdout, d, jval_array(reply, "vcpus"));
		json_object_put(reply);
		reply = NULL;
	}
	json_object_put(doms);
	return status;
}

int cmd_info(struct xm_ctx *x, int argc, char **argv)
{
	json_object *info = NULL;

	if (client_call(x->cl, "GET", "/info", NULL, &info) < 0) {
		client_report(x->cl);
		return XM_FAIL;
	}
	json_object_object_foreach(info, key, v)
	{
		const char *s;

		if (!v || json_object_is_type(v, json_type_null))
			s = "(none)";
		else if (json_object_is_type(v, json_type_string))
			s = json_object_get_string(v);
		else
			s = json_object_to_json_string_ext(
				v, JSON_C_TO_STRING_PLAIN);
		printf("%-23s: %s\n", key, s);
	}
	json_object_put(info);
	return XM_OK;
}

static int xm_print_lines(struct xm_ctx *x, const char *path)
{
	json_object *reply = NULL, *lines;
	size_t i, n;

	if (client_call(x->cl, "GET", path, NULL, &reply) < 0) {
		client_report(x->cl);
		return XM_FAIL;
	}
	lines = jval_array(reply, "lines");
	n = lines ? json_object_array_length(lines) : 0;
	for (i = 0; i < n; i++)
		printf("%s\n", json_object_get_string(
				       json_object_array_get_idx(lines, i)));
	json_object_put(reply);
	return XM_OK;
}

int cmd_dmesg(struct xm_ctx *x, int argc, char **argv)
{
	return xm_print_lines(x, "/dmesg");
}

int cmd_log(struct xm_ctx *x, int argc, char **argv)
{
	return xm_print_lines(x, "/log");
}
