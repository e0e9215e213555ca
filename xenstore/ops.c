/* SPDX-License-Identifier: MIT */
/*
 * The wire operations: one row per message type with its policy (dom0
 * only, transaction id ignored), checked once in ops_dispatch().  Handlers
 * return 0 once they have replied, or a negative errno that becomes Xen's
 * error reply ("ENOENT\0").
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define OP_PRIV 1u  /* dom0 (and other privileged connections) only */
#define OP_NOTX 2u  /* the header's tx_id is ignored */
#define OP_WRITE 4u /* changes the tree: needs journal space */

struct req {
	struct xs_conn *c;
	struct xs_store *s;
	const struct xsd_sockmsg *hdr;
	const char *payload; /* NUL at payload[len] */
	uint32_t len;
	struct xs_txn *t;
};

static int reply(struct req *r, const void *data, uint32_t len)
{
	return conn_send(r->c, r->hdr->type, r->hdr->req_id, r->hdr->tx_id,
			 data, len);
}

static int reply_ok(struct req *r)
{
	return reply(r, "OK", 3);
}

static int reply_error(struct req *r, int err)
{
	const char *name = "EINVAL";
	unsigned int i;

	for (i = 0; i < sizeof(xsd_errors) / sizeof(xsd_errors[0]); i++)
		if (xsd_errors[i].errnum == err) {
			name = xsd_errors[i].errstring;
			break;
		}
	return conn_send(r->c, XS_ERROR, r->hdr->req_id, r->hdr->tx_id, name,
			 (uint32_t)strlen(name) + 1);
}

/* Split the payload into NUL-terminated strings; returns how many. */
static unsigned int req_strings(const struct req *r, const char **vec,
				unsigned int max)
{
	uint32_t off = 0;
	unsigned int n = 0;

	while (off < r->len) {
		size_t l = strnlen(r->payload + off, r->len - off);

		if (off + l >= r->len)
			break; /* unterminated tail */
		if (n < max)
			vec[n] = r->payload + off;
		n++;
		off += (uint32_t)l + 1;
	}
	return n;
}

/* The single argument of a request: the whole payload, one string. */
static const char *req_onearg(const struct req *r)
{
	if (!r->len || strlen(r->payload) + 1 != r->len)
		return NULL;
	return r->payload;
}

/* errno for a missing node: don't reveal existence to the unentitled. */
static int missing_errno(struct req *r, const char *path, unsigned int perm)
{
	char parent[XENSTORE_ABS_PATH_MAX + 64];
	uint32_t len = (uint32_t)strlen(path);
	struct xs_node *n = NULL;
	int err = 0;

	if (len >= sizeof(parent))
		return -EINVAL;
	memcpy(parent, path, len + 1);
	while (!n && len > 1) {
		len = xs_path_parent_len(parent, len);
		parent[len] = '\0';
		n = tree_get(r->s, r->t, parent, &err);
		if (err)
			return err;
	}
	if (n && (perms_for_conn(r->s, r->c, n) & perm))
		return -ENOENT;
	return -EACCES;
}

static int get_node(struct req *r, const char *path, unsigned int perm,
		    struct xs_node **out)
{
	int err = 0;
	struct xs_node *n = tree_get(r->s, r->t, path, &err);

	*out = NULL;
	if (err)
		return err;
	if (!n)
		return missing_errno(r, path, perm);
	if ((perms_for_conn(r->s, r->c, n) & perm) != perm)
		return -EACCES;
	*out = n;
	return 0;
}

static char *req_path(struct req *r, const char *arg, bool special, int *err)
{
	char *p;

	if (!arg) {
		*err = -EINVAL;
		return NULL;
	}
	p = xs_path_canonical(r->c->domid, arg, special, err);
	*err = -*err;
	return p;
}

static int note_change(struct req *r, const char *path,
		       const struct xs_node *node, const struct xs_node *old)
{
	if (r->t)
		return txn_note_change(r->t, path, false, NULL);
	watch_fire(r->s, path, node, old, false);
	return 0;
}

/* Unprivileged writers are held to the node-size quota. */
static int check_node_size(struct req *r, const struct xs_node *n)
{
	if (!r->c->privileged &&
	    xs_node_record_size(n) >= r->s->quota.node_size)
		return -ENOSPC;
	return 0;
}

/* --- reading ----------------------------------------------------------- */

static int op_read(struct req *r)
{
	struct xs_node *n;
	int err;
	char *path = req_path(r, req_onearg(r), false, &err);

	if (!path)
		return err;
	err = get_node(r, path, XS_PERM_READ, &n);
	free(path);
	return err ? err : reply(r, n->value, n->vlen);
}

static int op_directory(struct req *r)
{
	struct xs_node *n;
	int err;
	char *path = req_path(r, req_onearg(r), false, &err);

	if (!path)
		return err;
	err = get_node(r, path, XS_PERM_READ, &n);
	free(path);
	if (err)
		return err;
	/* Too long for one reply: clients fall back to DIRECTORY_PART. */
	if (n->childlen > XENSTORE_PAYLOAD_MAX)
		return -E2BIG;
	return reply(r, n->children, n->childlen);
}

static int op_directory_part(struct req *r)
{
	char out[XENSTORE_PAYLOAD_MAX];
	const char *vec[2];
	struct xs_node *n;
	uint32_t off, len = 0, genlen, max;
	char *path;
	int err;

	if (req_strings(r, vec, 2) != 2)
		return -EINVAL;
	path = req_path(r, vec[0], false, &err);
	if (!path)
		return err;
	err = get_node(r, path, XS_PERM_READ, &n);
	free(path);
	if (err)
		return err;
	off = (uint32_t)strtoul(vec[1], NULL, 10);
	/* "<generation>\0" then whole names; the last chunk ends in "\0".
	 * Clients restart the listing when the generation changes. */
	genlen = (uint32_t)snprintf(out, sizeof(out), "%" PRIu64, n->gen) + 1;
	if (off >= n->childlen) {
		out[genlen] = '\0';
		return reply(r, out, genlen + 1);
	}
	max = XENSTORE_PAYLOAD_MAX - genlen - 1;
	while (off + len < n->childlen) {
		uint32_t l = (uint32_t)strlen(n->children + off + len) + 1;

		if (len + l > max)
			break;
		len += l;
	}
	memcpy(out + genlen, n->children + off, len);
	if (off + len == n->childlen)
		out[genlen + len++] = '\0';
	return reply(r, out, genlen + len);
}

static int op_get_perms(struct req *r)
{
	struct buf b = {0};
	struct xs_node *n;
	int err;
	char *path = req_path(r, req_onearg(r), false, &err);

	if (!path)
		return err;
	err = get_node(r, path, XS_PERM_READ, &n);
	free(path);
	if (err)
		return err;
	err = perms_format(n, &b);
	if (err >= 0)
		err = reply(r, b.data, (uint32_t)b.len);
	buf_free(&b);
	return err;
}

/* --- writing ----------------------------------------------------------- */

/*
 * Create `path` and any missing ancestors.  Each new node copies its
 * parent's permissions; an unprivileged creator becomes the owner.  The
 * nearest existing ancestor must grant write access.  Everything is built
 * first and stored only when nothing can fail any more.
 */
static int create_node(struct req *r, const char *path, const void *value,
		       uint32_t vlen)
{
	struct xs_node **chain = NULL; /* new nodes, deepest first */
	struct xs_node *anc = NULL, *anc_copy = NULL, *prev;
	uint32_t len = (uint32_t)strlen(path), nnew = 0, cap = 0, i;
	char *buf = strdup(path);
	int err = 0;

	if (!buf)
		return -ENOMEM;
	/* Walk up to the nearest existing ancestor ("/" always exists). */
	while (!anc) {
		if (nnew == cap) {
			struct xs_node **c;

			cap = cap ? cap * 2 : 8;
			c = realloc(chain, cap * sizeof(*chain));
			if (!c) {
				err = -ENOMEM;
				goto fail;
			}
			chain = c;
		}
		chain[nnew] = xs_node_new(buf, len);
		if (!chain[nnew]) {
			err = -ENOMEM;
			goto fail;
		}
		nnew++;
		len = xs_path_parent_len(buf, len);
		buf[len] = '\0';
		anc = tree_get(r->s, r->t, buf, &err);
		if (err)
			goto fail;
		if (!anc && len <= 1) {
			err = -ENOENT; /* no root: cannot happen */
			goto fail;
		}
	}
	if (!(perms_for_conn(r->s, r->c, anc) & XS_PERM_WRITE)) {
		err = -EACCES;
		goto fail;
	}
	err = domain_nodes_check(r->s, r->c, (int)nnew);
	if (err)
		goto fail;
	anc_copy = xs_node_dup(anc);
	if (!anc_copy) {
		err = -ENOMEM;
		goto fail;
	}
	/* Top down: each new node inherits from the one above it. */
	prev = anc_copy;
	for (i = nnew; i-- > 0;) {
		struct xs_node *n = chain[i];

		err = xs_node_add_child(prev, xs_path_basename(n->path));
		if (!err)
			err = xs_node_set_perms(n, prev->perms, prev->nperms);
		if (err)
			goto fail;
		if (!r->c->privileged)
			n->perms[0].domid = r->c->domid;
		/* Inherited entries are as old as the parent's. */
		n->gen = prev->gen;
		err = check_node_size(r, prev);
		if (err)
			goto fail;
		prev = n;
	}
	err = xs_node_set_value(chain[0], value, vlen);
	if (!err)
		err = check_node_size(r, chain[0]);
	if (err)
		goto fail;
	/* Entries exist for every path in a transaction: puts succeed. */
	err = tree_put(r->s, r->t, anc_copy);
	anc_copy = NULL;
	for (i = nnew; !err && i-- > 0;) {
		err = tree_put(r->s, r->t, chain[i]);
		chain[i] = NULL;
	}
fail:
	xs_node_free(anc_copy);
	for (i = 0; i < nnew; i++)
		xs_node_free(chain[i]);
	free(chain);
	free(buf);
	return err;
}

static int write_node(struct req *r, const char *path, const void *value,
		      uint32_t vlen, bool mkdir)
{
	struct xs_node *n, *cur;
	int err;

	err = get_node(r, path, XS_PERM_WRITE, &cur);
	if (err == -ENOENT) {
		err = create_node(r, path, value, vlen);
		if (err)
			return err;
	} else if (err) {
		return err;
	} else if (mkdir) {
		return 0; /* exists: nothing changes, nothing fires */
	} else {
		n = tree_get_mutable(r->s, r->t, path, &err);
		if (!n)
			return err ? err : -ENOENT;
		err = xs_node_set_value(n, value, vlen);
		if (!err)
			err = check_node_size(r, n);
		if (!err)
			err = tree_put(r->s, r->t, n);
		if (err) {
			xs_node_free(n);
			return err;
		}
	}
	return note_change(r, path, tree_get(r->s, r->t, path, &err), NULL);
}

static int op_write(struct req *r)
{
	const char *vec[1];
	uint32_t off;
	char *path;
	int err;

	if (req_strings(r, vec, 1) < 1)
		return -EINVAL;
	off = (uint32_t)strlen(vec[0]) + 1;
	path = req_path(r, vec[0], false, &err);
	if (!path)
		return err;
	err = write_node(r, path, r->payload + off, r->len - off, false);
	free(path);
	return err ? err : reply_ok(r);
}

static int op_mkdir(struct req *r)
{
	int err;
	char *path = req_path(r, req_onearg(r), false, &err);

	if (!path)
		return err;
	err = write_node(r, path, NULL, 0, true);
	free(path);
	return err ? err : reply_ok(r);
}

static int op_rm(struct req *r)
{
	struct xs_node *n;
	uint32_t plen;
	char *path;
	int err;

	path = req_path(r, req_onearg(r), false, &err);
	if (!path)
		return err;
	err = get_node(r, path, XS_PERM_WRITE, &n);
	if (err == -ENOENT) {
		/* Removing a missing node is fine if its parent exists. */
		plen = xs_path_parent_len(path, (uint32_t)strlen(path));
		path[plen] = '\0';
		if (!tree_get(r->s, r->t, path, &err) && !err)
			err = -ENOENT;
	} else if (!err) {
		err = tree_rm(r->s, r->t, n);
	}
	free(path);
	return err ? err : reply_ok(r);
}

static int op_set_perms(struct req *r)
{
	struct xs_perm *perms = NULL;
	const char *vec[1];
	struct xs_node *n, *cur, *old = NULL;
	uint32_t off;
	char *path;
	int np, err;

	if (req_strings(r, vec, 1) < 1)
		return -EINVAL;
	off = (uint32_t)strlen(vec[0]) + 1;
	path = req_path(r, vec[0], true, &err);
	if (!path)
		return err;
	np = perms_parse(r->payload + off, r->len - off, &perms);
	if (np < 0) {
		err = np;
		goto out;
	}
	if (!r->c->privileged && (uint32_t)np > r->s->quota.perms) {
		err = -ENOSPC;
		goto out;
	}
	/* The owner must exist; other entries for absent domains are kept
	 * but ignored (perms_sanitize). */
	if (!domain_is_live(r->s, perms[0].domid)) {
		err = -ENOENT;
		goto out;
	}
	if (xs_path_is_special(path)) {
		/* Only dom0, only the special nodes we have: they decide who
		 * sees the domain events. */
		n = xs_table_get(&r->s->nodes, path, (uint32_t)strlen(path));
		if (!r->c->privileged || !n) {
			err = r->c->privileged ? -EINVAL : -EACCES;
			goto out;
		}
		n = xs_node_dup(n);
		err = n ? xs_node_set_perms(n, perms, (uint32_t)np) : -ENOMEM;
		if (err) {
			xs_node_free(n);
			goto out;
		}
		n->gen = r->s->gen;
		perms_sanitize(r->s, n);
		tree_put_live(r->s, n);
		goto out;
	}
	err = get_node(r, path, XS_PERM_WRITE | XS_PERM_OWNER, &cur);
	if (err)
		goto out;
	/* Unprivileged owners may not give their nodes away. */
	if (!r->c->privileged && perms[0].domid != cur->perms[0].domid) {
		err = -EPERM;
		goto out;
	}
	old = xs_node_dup(cur);
	n = tree_get_mutable(r->s, r->t, path, &err);
	if (!n || !old) {
		xs_node_free(n);
		err = err ? err : -ENOMEM;
		goto out;
	}
	err = xs_node_set_perms(n, perms, (uint32_t)np);
	/* The new entries are judged against the domains alive now. */
	n->gen = r->s->gen;
	if (!err)
		err = check_node_size(r, n);
	if (!err)
		err = tree_put(r->s, r->t, n);
	if (err) {
		xs_node_free(n);
		goto out;
	}
	/* One event, for those who could see the node before or now. */
	err = note_change(r, path, tree_get(r->s, r->t, path, &err), old);
out:
	xs_node_free(old);
	free(perms);
	free(path);
	return err ? err : reply_ok(r);
}

/* --- watches and transactions ------------------------------------------ */

static int op_watch(struct req *r)
{
	const char *vec[2];
	uint32_t rel = 0;
	struct xs_watch *w;
	char *path;
	int err;

	if (req_strings(r, vec, 2) != 2)
		return -EINVAL;
	path = req_path(r, vec[0], true, &err);
	if (!path)
		return err;
	if (vec[0][0] != '/' && vec[0][0] != '@')
		rel = (uint32_t)(strlen(path) - strlen(vec[0]));
	err = watch_add(r->c, path, vec[1], rel);
	free(path);
	if (err)
		return err;
	err = reply_ok(r);
	if (err)
		return 0;
	/* A new watch fires once at once, so the client can read state. */
	w = list_entry(r->c->watches.prev, struct xs_watch, conn_link);
	(void)watch_send_event(r->c, w, w->path);
	return 0;
}

static int op_unwatch(struct req *r)
{
	const char *vec[2];
	char *path;
	int err;

	if (req_strings(r, vec, 2) != 2)
		return -EINVAL;
	path = req_path(r, vec[0], true, &err);
	if (!path)
		return err;
	err = watch_remove(r->c, path, vec[1]);
	free(path);
	return err ? err : reply_ok(r);
}

static int op_reset_watches(struct req *r)
{
	xs_conn_reset(r->c);
	return reply_ok(r);
}

static int op_transaction_start(struct req *r)
{
	char id[16];
	uint32_t tid;
	int err;

	if (r->t)
		return -EBUSY;
	err = txn_start(r->c, &tid);
	if (err)
		return err;
	snprintf(id, sizeof(id), "%u", tid);
	return reply(r, id, (uint32_t)strlen(id) + 1);
}

static int op_transaction_end(struct req *r)
{
	const char *arg = req_onearg(r);
	bool commit;
	int err;

	if (!r->t)
		return -ENOENT;
	if (!arg || (strcmp(arg, "T") && strcmp(arg, "F")))
		return -EINVAL;
	commit = arg[0] == 'T';
	err = txn_end(r->c, r->t, commit);
	r->t = NULL;
	return err ? err : reply_ok(r);
}

/* --- domains ----------------------------------------------------------- */

/* Parse a decimal domain id; -EINVAL unless it is one. */
static int parse_domid(const char *s, uint32_t *domid)
{
	unsigned long v;
	char *end;

	if (!s || *s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v >= XS_DOMID_LIMIT)
		return -EINVAL;
	*domid = (uint32_t)v;
	return 0;
}

static int op_introduce(struct req *r)
{
	const char *vec[3];
	unsigned long long mfn;
	unsigned long port;
	uint32_t domid;
	char *end;
	int err;

	if (req_strings(r, vec, 3) < 3 || parse_domid(vec[0], &domid))
		return -EINVAL;
	errno = 0;
	mfn = strtoull(vec[1], &end, 10);
	if (errno || *end || !*vec[1])
		return -EINVAL;
	port = strtoul(vec[2], &end, 10);
	if (errno || *end || !port || port > UINT32_MAX)
		return -EINVAL;
	err = domain_introduce(r->s, domid, mfn, (uint32_t)port);
	return err ? err : reply_ok(r);
}

static int op_release(struct req *r)
{
	uint32_t domid;
	int err;

	if (parse_domid(req_onearg(r), &domid) || domid == 0)
		return -EINVAL;
	err = domain_release(r->s, domid);
	return err ? err : reply_ok(r);
}

static int op_resume(struct req *r)
{
	struct xs_domain *d;
	uint32_t domid;

	if (parse_domid(req_onearg(r), &domid) || domid == 0)
		return -EINVAL;
	d = domain_get(r->s, domid);
	if (!d || !d->introduced)
		return -ENOENT;
	return reply_ok(r);
}

static int op_is_domain_introduced(struct req *r)
{
	struct xs_domain *d;
	uint32_t domid;

	if (parse_domid(req_onearg(r), &domid))
		return -EINVAL;
	d = domain_get(r->s, domid);
	return reply(r, domid == 0 || (d && d->introduced) ? "T" : "F", 2);
}

static int op_get_domain_path(struct req *r)
{
	char path[32];
	uint32_t domid;

	if (parse_domid(req_onearg(r), &domid))
		return -EINVAL;
	snprintf(path, sizeof(path), "/local/domain/%u", domid);
	return reply(r, path, (uint32_t)strlen(path) + 1);
}

static int op_set_target(struct req *r)
{
	const char *vec[2];
	struct xs_domain *d;
	uint32_t domid, target;

	if (req_strings(r, vec, 2) < 2 || parse_domid(vec[0], &domid) ||
	    parse_domid(vec[1], &target))
		return -EINVAL;
	d = domain_get(r->s, domid);
	if (!d || !d->introduced || !domain_is_live(r->s, target))
		return -ENOENT;
	d->target = target;
	journal_domain(r->s, d);
	return reply_ok(r);
}

static int op_control(struct req *r)
{
	const char *vec[8];
	struct buf out = {0};
	unsigned int n = req_strings(r, vec, 8);
	int err;

	if (!n)
		return -EINVAL;
	if (n > 8)
		n = 8;
	err = control_run(r->s, vec, n, &out);
	if (!err) {
		if (out.len > XENSTORE_PAYLOAD_MAX)
			out.len = XENSTORE_PAYLOAD_MAX;
		err = out.len ? reply(r, out.data, (uint32_t)out.len)
			      : reply_ok(r);
	}
	buf_free(&out);
	return err;
}

typedef int (*op_fn)(struct req *r);

static const struct {
	op_fn fn;
	unsigned int flags;
} op_table[XS_TYPE_COUNT] = {
	[XS_CONTROL] = {op_control, OP_PRIV | OP_NOTX},
	[XS_DIRECTORY] = {op_directory, 0},
	[XS_READ] = {op_read, 0},
	[XS_GET_PERMS] = {op_get_perms, 0},
	[XS_WATCH] = {op_watch, OP_NOTX},
	[XS_UNWATCH] = {op_unwatch, OP_NOTX},
	[XS_TRANSACTION_START] = {op_transaction_start, 0},
	[XS_TRANSACTION_END] = {op_transaction_end, OP_WRITE},
	[XS_INTRODUCE] = {op_introduce, OP_PRIV | OP_NOTX | OP_WRITE},
	[XS_RELEASE] = {op_release, OP_PRIV | OP_NOTX | OP_WRITE},
	[XS_GET_DOMAIN_PATH] = {op_get_domain_path, OP_NOTX},
	[XS_WRITE] = {op_write, OP_WRITE},
	[XS_MKDIR] = {op_mkdir, OP_WRITE},
	[XS_RM] = {op_rm, OP_WRITE},
	[XS_SET_PERMS] = {op_set_perms, OP_WRITE},
	[XS_IS_DOMAIN_INTRODUCED] = {op_is_domain_introduced,
				     OP_PRIV | OP_NOTX},
	[XS_RESUME] = {op_resume, OP_PRIV | OP_NOTX},
	[XS_SET_TARGET] = {op_set_target, OP_PRIV | OP_NOTX | OP_WRITE},
	[XS_RESET_WATCHES] = {op_reset_watches, OP_NOTX},
	[XS_DIRECTORY_PART] = {op_directory_part, 0},
};

void ops_dispatch(struct xs_conn *c, const struct xsd_sockmsg *hdr,
		  const char *payload)
{
	struct req r = {.c = c,
			.s = c->store,
			.hdr = hdr,
			.payload = payload,
			.len = hdr->len};
	op_fn fn = hdr->type < XS_TYPE_COUNT ? op_table[hdr->type].fn : NULL;
	unsigned int flags = fn ? op_table[hdr->type].flags : 0;
	int err;

	if (!fn) {
		err = -ENOSYS;
		goto fail;
	}
	if ((flags & OP_PRIV) && !c->privileged) {
		err = -EACCES;
		goto fail;
	}
	if (!(flags & OP_NOTX) && hdr->tx_id) {
		r.t = txn_lookup(c, hdr->tx_id);
		if (!r.t) {
			err = -ENOENT;
			goto fail;
		}
	}
	/* Refuse a change we could not make durable, before making it. */
	if ((flags & OP_WRITE) && !r.t) {
		err = journal_reserve(c->store);
		if (err)
			goto fail;
	}
	err = fn(&r);
	if (!err)
		return;
fail:
	(void)reply_error(&r, -err);
}
