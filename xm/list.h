/* SPDX-License-Identifier: MIT */
/*
 * The tables xm prints, as Xen's xm and xentop print them, from xend's
 * JSON (docs/api.md).  Pure formatting: a reply in, text out, so the unit
 * test checks every column without a xend.  Column widths are Xen's; lines
 * carry no trailing blanks (Xen's Python left some).
 */
#ifndef XENIA_XM_LIST_H
#define XENIA_XM_LIST_H

#include <stdbool.h>
#include <stdio.h>

#include <json-c/json.h>

/* xm list: domains is the array of domain objects. */
void list_print_brief(FILE *out, json_object *domains);

/* xm list -l: one domain (or device) as an S-expression named name. */
void list_print_sxp(FILE *out, const char *name, json_object *obj);

/*
 * xm uptime.  now is the wall clock (for -s and domains xend gives no
 * "uptime" for), host_uptime the host's (/proc/uptime), which is
 * Domain-0's.
 */
void list_print_uptime(FILE *out, json_object *domains, bool short_mode,
		       double now, double host_uptime);

/* "1 day,  2:03:04" as Xen spells an uptime (seconds omitted on request). */
void list_format_uptime(char *buf, size_t len, double seconds,
			bool with_seconds);

/* xm vcpu-list: a header, then the rows of one domain and its vcpus. */
void list_print_vcpu_header(FILE *out);
void list_print_vcpus(FILE *out, json_object *dom, json_object *vcpus);

/* xm block-list and network-list: devices is the endpoint's array. */
void list_print_vbds(FILE *out, json_object *devices, int domid);
void list_print_vifs(FILE *out, json_object *devices, int domid);

/*
 * xm top (xentop's columns).  A sample is GET /v1/domains with each
 * running domain's vbd and vif counts added as "nr_vbds" and "nr_vifs";
 * prev (may be NULL) is the sample taken interval seconds earlier, for
 * CPU(%).  total_kib is the host's memory, for MEM(%).
 */
void list_print_top_header(FILE *out);
void list_print_top(FILE *out, json_object *domains, json_object *prev,
		    double interval, unsigned long long total_kib);
/* xentop's three summary lines, from GET /v1/info and the sample. */
void list_print_top_summary(FILE *out, json_object *info,
			    json_object *domains, double now);

/* xentop's state letters "dsbcpr" from xend's "rbpscd" flags. */
void list_top_state(char out[7], const char *xm_state);

#endif
