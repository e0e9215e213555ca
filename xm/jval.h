/* SPDX-License-Identifier: MIT */
/*
 * Members of xend's JSON replies, with a default for an absent, null or
 * mistyped one: xm prints what it can rather than fail on a field that a
 * newer or older xend spells differently.
 */
#ifndef XENIA_XM_JVAL_H
#define XENIA_XM_JVAL_H

#include <stdbool.h>
#include <stdint.h>

#include <json-c/json.h>

const char *jval_str(json_object *o, const char *key, const char *def);
int64_t jval_int(json_object *o, const char *key, int64_t def);
double jval_num(json_object *o, const char *key, double def);
bool jval_bool(json_object *o, const char *key, bool def);
/* The array under key, or NULL. */
json_object *jval_array(json_object *o, const char *key);
/* True when key is absent or null (a domain's domid when it is not running). */
bool jval_null(json_object *o, const char *key);

#endif
