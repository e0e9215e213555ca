/* SPDX-License-Identifier: MIT */
#include "jval.h"

static json_object *jval_get(json_object *o, const char *key)
{
	json_object *v = NULL;

	if (!o || !json_object_is_type(o, json_type_object))
		return NULL;
	if (!json_object_object_get_ex(o, key, &v))
		return NULL;
	return v;
}

const char *jval_str(json_object *o, const char *key, const char *def)
{
	json_object *v = jval_get(o, key);

	if (!v || !json_object_is_type(v, json_type_string))
		return def;
	return json_object_get_string(v);
}

int64_t jval_int(json_object *o, const char *key, int64_t def)
{
	json_object *v = jval_get(o, key);

	if (!v)
		return def;
	switch (json_object_get_type(v)) {
	case json_type_int:
	case json_type_double:
	case json_type_boolean:
		return json_object_get_int64(v);
	default:
		return def;
	}
}

double jval_num(json_object *o, const char *key, double def)
{
	json_object *v = jval_get(o, key);

	if (!v)
		return def;
	switch (json_object_get_type(v)) {
	case json_type_int:
	case json_type_double:
		return json_object_get_double(v);
	default:
		return def;
	}
}

bool jval_bool(json_object *o, const char *key, bool def)
{
	json_object *v = jval_get(o, key);

	if (!v)
		return def;
	switch (json_object_get_type(v)) {
	case json_type_boolean:
	case json_type_int:
		return json_object_get_boolean(v);
	default:
		return def;
	}
}

json_object *jval_array(json_object *o, const char *key)
{
	json_object *v = jval_get(o, key);

	if (!v || !json_object_is_type(v, json_type_array))
		return NULL;
	return v;
}

bool jval_null(json_object *o, const char *key)
{
	json_object *v = jval_get(o, key);

	return !v || json_object_is_type(v, json_type_null);
}
