/* SPDX-License-Identifier: MIT */
/*
 * A domain's XenStore state across a save (docs/migration-stream.md,
 * XENSTORE): its home /local/domain/<id> and /vm/<uuid>, and the watches
 * its guest has set, which live in xenstored's connection, not in the
 * tree.
 *
 * Saving walks both subtrees in one read-only transaction, so what is
 * recorded is one moment of the store (a commit that fails with EAGAIN
 * means something changed under us: walk again), each node as [path
 * relative to its subtree, value, permissions], the domain's own id in
 * the permissions written '@'.  The watches come from xenstored's
 * `watch-get` control command, one at a time.
 *
 * Restoring is the reverse under the new domain id: the nodes are written
 * in the order they were walked (parents first) inside the transaction
 * that writes the home directory (xs_domain.c), '@' becomes the new id,
 * and values that name the old home or the old backend directories
 * (a frontend's `backend` key) are rewritten to the new ones.  Entries
 * naming other domains are dropped: their ids mean nothing on another
 * host.  The watches are set again with `watch-restore` once the ring is
 * introduced; each fires once, so the guest looks again at everything it
 * watches and misses nothing that changed while it was away.
 *
 * The record is untrusted: xs_saved_parse() checks every path, value,
 * permission and count before anything is written.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>
#include <xenstore.h>

#include "domain.h"
#include "log.h"
#include "stream.h"
#include "xen.h"
#include "xs_domain.h"

#define XS_SAVE_TRIES 10
#define XS_PERMS_MAX 16

/* --- saving ------------------------------------------------------------- */

/* "n@,r0": xenstore-ls's notation, the domain itself as '@'. */
static void xs_perms_format(const struct xs_permissions *p, unsigned int n,
			    unsigned int domid, char *out, size_t size)
{
	static const char letter[] = "nrwb";
	size_t off = 0;
	unsigned int i;
	int k;

	out[0] = '\0';
	for (i = 0; i < n && off < size; i++) {
		if (p[i].perms & XS_PERM_IGNORE)
			continue;
		if (p[i].id == domid)
			k = snprintf(out + off, size - off, "%s%c@",
				     off ? "," : "", letter[p[i].perms & 3]);
		else
			k = snprintf(out + off, size - off, "%s%c%u",
				     off ? "," : "", letter[p[i].perms & 3],
				     p[i].id);
		if (k < 0)
			break;
		off += (size_t)k;
	}
}

struct xs_walk {
	struct xs_handle *h;
	xs_transaction_t t;
	unsigned int domid;
	unsigned int nodes;
};

/* base/rel and everything below it, parents first, into arr. */
static int xs_save_tree(struct xs_walk *w, const char *base, const char *rel,
			json_object *arr)
{
	char path[STREAM_XS_PATH_MAX + 64], sub[STREAM_XS_PATH_MAX + 1];
	char perms[XS_PERMS_MAX * 8];
	struct xs_permissions *p = NULL;
	unsigned int len, n = 0, i;
	char **names = NULL;
	json_object *node;
	char *v;
	int rc = 0;

	if (++w->nodes > STREAM_XS_NODES_MAX) {
		log_errx("save: more than %u XenStore nodes",
			 STREAM_XS_NODES_MAX);
		return -E2BIG;
	}
	snprintf(path, sizeof(path), "%s%s%s", base, *rel ? "/" : "", rel);
	v = xs_read(w->h, w->t, path, &len);
	if (!v)
		return errno == ENOENT ? 0 : -EIO; /* gone since listed */
	p = xs_get_permissions(w->h, w->t, path, &n);
	if (!p || len > STREAM_XS_VALUE_MAX) {
		free(v);
		free(p);
		return -EIO;
	}
	xs_perms_format(p, n, w->domid, perms, sizeof(perms));
	free(p);
	node = json_object_new_array();
	json_object_array_add(node, json_object_new_string(rel));
	json_object_array_add(node, json_object_new_string_len(v, (int)len));
	json_object_array_add(node, json_object_new_string(perms));
	json_object_array_add(arr, node);
	free(v);

	names = xs_directory(w->h, w->t, path, &n);
	for (i = 0; names && rc == 0 && i < n; i++) {
		if ((size_t)snprintf(sub, sizeof(sub), "%s%s%s", rel,
				     *rel ? "/" : "", names[i]) >= sizeof(sub))
			rc = -ENAMETOOLONG;
		else
			rc = xs_save_tree(w, base, sub, arr);
	}
	free(names);
	return rc;
}

/* The guest's watches, from xenstored: [[path, token], ...]. */
static int xs_save_watches(struct domain *d, json_object *arr)
{
	char req[32], *rep, *path;
	unsigned int i;
	int len;
	json_object *pair;

	for (i = 0; i <= STREAM_XS_WATCHES_MAX; i++) {
		len = snprintf(req, sizeof(req), "%u", d->xen.domid);
		len += 1 + snprintf(req + len + 1,
				    sizeof(req) - (size_t)len - 1, "%u", i);
		rep = xs_control_command(d->xs.xsh, "watch-get", req,
					 (unsigned int)len + 1);
		if (!rep && errno == ENOENT)
			return 0;
		if (!rep) {
			log_err("save: xenstored does not list the domain's "
				"watches (watch-get)");
			return -EIO;
		}
		if (i == STREAM_XS_WATCHES_MAX) {
			free(rep);
			break;
		}
		path = rep;
		pair = json_object_new_array();
		json_object_array_add(pair, json_object_new_string(path));
		json_object_array_add(
		    pair, json_object_new_string(path + strlen(path) + 1));
		json_object_array_add(arr, pair);
		free(rep);
	}
	log_errx("save: more than %u XenStore watches", STREAM_XS_WATCHES_MAX);
	return -E2BIG;
}

int xs_domain_save(struct domain *d, struct json_object *out)
{
	struct xs_domain *x = &d->xs;
	struct xs_walk w = {.h = x->xsh, .domid = d->xen.domid};
	json_object *home = NULL, *vm = NULL, *watches;
	int tries, rc = 0;

	json_object_object_add(out, "domid",
			       json_object_new_int64(d->xen.domid));
	if (!x->xsh) {
		json_object_object_add(out, "home", json_object_new_array());
		json_object_object_add(out, "vm", json_object_new_array());
		json_object_object_add(out, "watches", json_object_new_array());
		return 0;
	}
	for (tries = 0; tries < XS_SAVE_TRIES; tries++) {
		home = json_object_new_array();
		vm = json_object_new_array();
		w.nodes = 0;
		w.t = xs_transaction_start(x->xsh);
		if (w.t == XBT_NULL) {
			rc = -EIO;
			break;
		}
		rc = xs_save_tree(&w, x->home, "", home);
		if (rc == 0)
			rc = xs_save_tree(&w, x->vm_path, "", vm);
		/* Read-only: a commit that fails means we saw a change. */
		if (rc == 0 && xs_transaction_end(x->xsh, w.t, false))
			break;
		if (rc < 0) {
			(void)xs_transaction_end(x->xsh, w.t, true);
			break;
		}
		json_object_put(home);
		json_object_put(vm);
		home = vm = NULL;
		if (errno != EAGAIN) {
			rc = -EIO;
			break;
		}
	}
	if (rc == 0 && !home)
		rc = -EAGAIN;
	if (rc < 0) {
		log_errx("save: reading %s: %s", x->home, strerror(-rc));
		json_object_put(home);
		json_object_put(vm);
		return rc;
	}
	json_object_object_add(out, "home", home);
	json_object_object_add(out, "vm", vm);
	watches = json_object_new_array();
	json_object_object_add(out, "watches", watches);
	return xs_save_watches(d, watches);
}

/* --- the record, checked ------------------------------------------------ */

static int xs_saved_bad(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int xs_saved_bad(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	int n;

	n = snprintf(err, errlen, "XENSTORE: ");
	va_start(ap, fmt);
	if (n > 0 && (size_t)n < errlen)
		vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* A relative path: "" or components of [A-Za-z0-9_@-] joined by '/'. */
static bool xs_rel_path_ok(const char *p, size_t len, bool empty_ok)
{
	size_t i;

	if (!len)
		return empty_ok;
	if (len > STREAM_XS_PATH_MAX || p[0] == '/' || p[len - 1] == '/')
		return false;
	for (i = 0; i < len; i++) {
		char c = p[i];

		if (c == '/'
			? p[i + 1] == '/'
			: !((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			    (c >= '0' && c <= '9') || c == '_' || c == '@' ||
			    c == '-'))
			return false;
	}
	return true;
}

/* "n@,r0": letters nrwb, '@' or a domain id, at most XS_PERMS_MAX. */
static bool xs_perms_ok(const char *p)
{
	unsigned int n = 0;
	unsigned long id;
	char *end;

	if (!*p)
		return false;
	for (;;) {
		if (!strchr("nrwb", *p) || !*p || ++n > XS_PERMS_MAX)
			return false;
		p++;
		if (*p == '@') {
			p++;
		} else {
			if (*p < '0' || *p > '9')
				return false;
			id = strtoul(p, &end, 10);
			if (id >= DOMID_FIRST_RESERVED || end - p > 5)
				return false;
			p = end;
		}
		if (!*p)
			return true;
		if (*p++ != ',')
			return false;
	}
}

/* A JSON string member of a node; NULL unless a string. */
static const char *xs_json_str(json_object *arr, size_t i, size_t *len)
{
	json_object *s = json_object_array_get_idx(arr, i);

	if (!json_object_is_type(s, json_type_string))
		return NULL;
	*len = (size_t)json_object_get_string_len(s);
	return json_object_get_string(s);
}

static int xs_saved_nodes(json_object *rec, const char *key,
			  struct xs_saved_node **out, unsigned int *nr,
			  unsigned int *total, char *err, size_t errlen)
{
	json_object *arr, *node;
	const char *path, *value, *perms;
	size_t n, i, plen, vlen, qlen;

	if (!json_object_object_get_ex(rec, key, &arr) ||
	    !json_object_is_type(arr, json_type_array))
		return xs_saved_bad(err, errlen, "no \"%s\" list", key);
	n = json_object_array_length(arr);
	if (n > STREAM_XS_NODES_MAX - *total)
		return xs_saved_bad(err, errlen, "more than %u nodes",
				    STREAM_XS_NODES_MAX);
	*total += (unsigned int)n;
	*out = calloc(n ? n : 1, sizeof(**out));
	if (!*out)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		node = json_object_array_get_idx(arr, i);
		if (!json_object_is_type(node, json_type_array) ||
		    json_object_array_length(node) != 3 ||
		    !(path = xs_json_str(node, 0, &plen)) ||
		    !(value = xs_json_str(node, 1, &vlen)) ||
		    !(perms = xs_json_str(node, 2, &qlen)))
			return xs_saved_bad(err, errlen,
					    "%s node %zu is not [path, value, "
					    "perms]",
					    key, i);
		if (plen != strlen(path) || !xs_rel_path_ok(path, plen, true))
			return xs_saved_bad(err, errlen,
					    "%s node %zu: a bad "
					    "path",
					    key, i);
		if (vlen > STREAM_XS_VALUE_MAX)
			return xs_saved_bad(err, errlen,
					    "%s node %zu: a value "
					    "of %zu bytes",
					    key, i, vlen);
		if (qlen != strlen(perms) || !xs_perms_ok(perms))
			return xs_saved_bad(err, errlen,
					    "%s node %zu: bad "
					    "permissions",
					    key, i);
		(*out)[i].path = path;
		(*out)[i].value = value;
		(*out)[i].vlen = (unsigned int)vlen;
		(*out)[i].perms = perms;
		(*nr)++;
	}
	return 0;
}

static int xs_saved_watches(json_object *rec, struct xs_saved *s, char *err,
			    size_t errlen)
{
	json_object *arr, *pair;
	const char *path, *token;
	size_t n, i, plen, tlen;

	if (!json_object_object_get_ex(rec, "watches", &arr) ||
	    !json_object_is_type(arr, json_type_array))
		return xs_saved_bad(err, errlen, "no \"watches\" list");
	n = json_object_array_length(arr);
	if (n > STREAM_XS_WATCHES_MAX)
		return xs_saved_bad(err, errlen, "more than %u watches",
				    STREAM_XS_WATCHES_MAX);
	s->watches = calloc(n ? n : 1, sizeof(*s->watches));
	if (!s->watches)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		pair = json_object_array_get_idx(arr, i);
		if (!json_object_is_type(pair, json_type_array) ||
		    json_object_array_length(pair) != 2 ||
		    !(path = xs_json_str(pair, 0, &plen)) ||
		    !(token = xs_json_str(pair, 1, &tlen)) ||
		    plen != strlen(path) || tlen != strlen(token) || !plen ||
		    plen + tlen + 2 > STREAM_XS_VALUE_MAX ||
		    !xs_rel_path_ok(path + (path[0] == '/' || path[0] == '@'),
				    plen - (path[0] == '/' || path[0] == '@'),
				    false))
			return xs_saved_bad(err, errlen,
					    "watch %zu is not "
					    "[path, token]",
					    i);
		s->watches[i].path = path;
		s->watches[i].token = token;
		s->nr_watches++;
	}
	return 0;
}

int xs_saved_parse(const void *json, size_t len, struct xs_saved *s, char *err,
		   size_t errlen)
{
	struct json_tokener *tok;
	json_object *id;
	unsigned int total = 0;
	int64_t domid;
	int rc;

	memset(s, 0, sizeof(*s));
	tok = json_tokener_new_ex(8);
	if (!tok)
		return -ENOMEM;
	/* Values are bytes: not necessarily UTF-8. */
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	s->root = json_tokener_parse_ex(tok, json, (int)len);
	if (json_tokener_get_error(tok) != json_tokener_success ||
	    json_tokener_get_parse_end(tok) != len) {
		json_tokener_free(tok);
		json_object_put(s->root);
		s->root = NULL;
		return xs_saved_bad(err, errlen, "not one JSON object");
	}
	json_tokener_free(tok);
	if (!json_object_is_type(s->root, json_type_object) ||
	    !json_object_object_get_ex(s->root, "domid", &id) ||
	    !json_object_is_type(id, json_type_int) ||
	    (domid = json_object_get_int64(id)) < 1 ||
	    domid >= DOMID_FIRST_RESERVED)
		return xs_saved_bad(err, errlen, "no source \"domid\"");
	s->domid = (unsigned int)domid;
	rc = xs_saved_nodes(s->root, "home", &s->home, &s->nr_home, &total, err,
			    errlen);
	if (rc == 0)
		rc = xs_saved_nodes(s->root, "vm", &s->vm, &s->nr_vm, &total,
				    err, errlen);
	if (rc == 0)
		rc = xs_saved_watches(s->root, s, err, errlen);
	return rc;
}

void xs_saved_free(struct xs_saved *s)
{
	free(s->home);
	free(s->vm);
	free(s->watches);
	json_object_put(s->root);
	memset(s, 0, sizeof(*s));
}

/* --- restoring ---------------------------------------------------------- */

/*
 * '@' is the new domain and dom0 stays; entries of other domains go,
 * but an owner (the first entry) that was another domain becomes dom0.
 */
static unsigned int xs_perms_parse(const char *p, unsigned int domid,
				   struct xs_permissions *out)
{
	unsigned int n = 0, perm, id;
	bool self, first = true;
	char *end;

	while (*p) {
		perm = (unsigned int)(strchr("nrwb", *p) - "nrwb");
		p++;
		self = *p == '@';
		if (self) {
			id = domid;
			p++;
		} else {
			id = (unsigned int)strtoul(p, &end, 10);
			p = end;
		}
		if (self || id == 0)
			out[n++] = (struct xs_permissions){id, perm};
		else if (first)
			out[n++] = (struct xs_permissions){0, perm};
		first = false;
		if (*p == ',')
			p++;
	}
	return n;
}

/*
 * A value naming the old domain's home or backend directories, rewritten
 * for the new one: "/local/domain/<old>/..." and
 * "/local/domain/0/backend/<type>/<old>/...".  out: at least vlen + 16.
 */
static const char *xs_value_rewrite(const char *v, unsigned int vlen,
				    unsigned int old, unsigned int new,
				    char *out, size_t size, unsigned int *olen)
{
	char home[32], tail[32];
	const char *type_end;
	size_t hl, tl, typel;
	int n;

	*olen = vlen;
	if (memchr(v, '\0', vlen))
		return v;
	hl = (size_t)snprintf(home, sizeof(home), "/local/domain/%u/", old);
	if (vlen >= hl && !memcmp(v, home, hl)) {
		n = snprintf(out, size, "/local/domain/%u/%.*s", new,
			     (int)(vlen - hl), v + hl);
		*olen = (unsigned int)n;
		return out;
	}
	if (vlen > 24 && !memcmp(v, "/local/domain/0/backend/", 24)) {
		type_end = memchr(v + 24, '/', vlen - 24);
		if (!type_end)
			return v;
		typel = (size_t)(type_end - (v + 24));
		tl = (size_t)snprintf(tail, sizeof(tail), "/%u", old);
		if ((size_t)(v + vlen - type_end) >= tl &&
		    !memcmp(type_end, tail, tl) &&
		    (type_end + tl == v + vlen || type_end[tl] == '/')) {
			n = snprintf(out, size,
				     "/local/domain/0/backend/%.*s"
				     "/%u%.*s",
				     (int)typel, v + 24, new,
				     (int)(v + vlen - type_end - tl),
				     type_end + tl);
			*olen = (unsigned int)n;
			return out;
		}
	}
	return v;
}

static bool xs_saved_write_list(struct xs_handle *h, xs_transaction_t t,
				const char *base,
				const struct xs_saved_node *nodes,
				unsigned int nr, unsigned int old,
				unsigned int new)
{
	static char path[STREAM_XS_PATH_MAX + 64];
	static char value[STREAM_XS_VALUE_MAX + 64];
	struct xs_permissions perms[XS_PERMS_MAX];
	unsigned int i, np, vlen;
	const char *v;

	for (i = 0; i < nr; i++) {
		snprintf(path, sizeof(path), "%s%s%s", base,
			 *nodes[i].path ? "/" : "", nodes[i].path);
		v = xs_value_rewrite(nodes[i].value, nodes[i].vlen, old, new,
				     value, sizeof(value), &vlen);
		np = xs_perms_parse(nodes[i].perms, new, perms);
		if (!xs_write(h, t, path, v, vlen) ||
		    !xs_set_permissions(h, t, path, perms, np)) {
			log_err("restore: writing %s", path);
			return false;
		}
	}
	return true;
}

bool xs_saved_write(struct domain *d, uint32_t t, const struct xs_saved *s)
{
	struct xs_domain *x = &d->xs;

	return xs_saved_write_list(x->xsh, t, x->home, s->home, s->nr_home,
				   s->domid, d->xen.domid) &&
	       xs_saved_write_list(x->xsh, t, x->vm_path, s->vm, s->nr_vm,
				   s->domid, d->xen.domid);
}

int xs_saved_watches_restore(struct domain *d, const struct xs_saved *s)
{
	static char req[16 + 2 * STREAM_XS_VALUE_MAX + 64];
	char home[32], path[STREAM_XS_PATH_MAX + 64];
	const char *p;
	char *rep;
	unsigned int i;
	size_t hl;
	int len;

	hl =
	    (size_t)snprintf(home, sizeof(home), "/local/domain/%u/", s->domid);
	for (i = 0; i < s->nr_watches; i++) {
		p = s->watches[i].path;
		/* An absolute watch on the old home follows it. */
		if (!strncmp(p, home, hl)) {
			snprintf(path, sizeof(path), "/local/domain/%u/%s",
				 d->xen.domid, p + hl);
			p = path;
		}
		len = snprintf(req, sizeof(req), "%u%c%s%c%s", d->xen.domid,
			       '\0', p, '\0', s->watches[i].token);
		rep = xs_control_command(d->xs.xsh, "watch-restore", req,
					 (unsigned int)len + 1);
		if (!rep) {
			log_err("restore: setting the guest's watch on %s "
				"(watch-restore)",
				p);
			return -EIO;
		}
		free(rep);
	}
	return 0;
}
