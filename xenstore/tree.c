/* SPDX-License-Identifier: MIT */
/*
 * Node records, the path-keyed hash table that holds them, and the view of
 * the tree that requests use (live tree, or a transaction's overlay on it).
 *
 * Ownership rule for changes: tree_get_mutable() hands out a private copy;
 * the caller edits it and gives it back with tree_put(), or frees it.  The
 * live tree therefore never holds a half-edited record, and a transaction
 * never touches the live tree before its commit.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "../common/log.h"
#include "internal.h"

struct xs_node *xs_node_new(const char *path, uint32_t pathlen)
{
	struct xs_node *n = calloc(1, sizeof(*n));

	if (!n)
		return NULL;
	n->path = malloc(pathlen + 1);
	if (!n->path) {
		free(n);
		return NULL;
	}
	memcpy(n->path, path, pathlen);
	n->path[pathlen] = '\0';
	n->pathlen = pathlen;
	return n;
}

void xs_node_free(struct xs_node *n)
{
	if (!n)
		return;
	free(n->path);
	free(n->value);
	free(n->perms);
	free(n->children);
	free(n);
}

static void *memdup(const void *p, size_t len)
{
	void *q;

	if (!len)
		return NULL;
	q = malloc(len);
	if (q)
		memcpy(q, p, len);
	return q;
}

struct xs_node *xs_node_dup(const struct xs_node *n)
{
	struct xs_node *d = xs_node_new(n->path, n->pathlen);

	if (!d)
		return NULL;
	d->hash = n->hash;
	d->gen = n->gen;
	d->vlen = n->vlen;
	d->nperms = n->nperms;
	d->childlen = n->childlen;
	d->value = memdup(n->value, n->vlen);
	d->perms = memdup(n->perms, n->nperms * sizeof(*n->perms));
	d->children = memdup(n->children, n->childlen);
	if ((n->vlen && !d->value) || (n->nperms && !d->perms) ||
	    (n->childlen && !d->children)) {
		xs_node_free(d);
		return NULL;
	}
	return d;
}

int xs_node_set_value(struct xs_node *n, const void *v, uint32_t len)
{
	char *p = NULL;

	if (len) {
		p = malloc(len);
		if (!p)
			return -ENOMEM;
		memcpy(p, v, len);
	}
	free(n->value);
	n->value = p;
	n->vlen = len;
	return 0;
}

int xs_node_set_perms(struct xs_node *n, const struct xs_perm *p, uint32_t np)
{
	struct xs_perm *q = memdup(p, np * sizeof(*p));

	if (np && !q)
		return -ENOMEM;
	free(n->perms);
	n->perms = q;
	n->nperms = np;
	return 0;
}

int xs_node_add_child(struct xs_node *n, const char *name)
{
	size_t len = strlen(name) + 1;
	char *p = realloc(n->children, n->childlen + len);

	if (!p)
		return -ENOMEM;
	memcpy(p + n->childlen, name, len);
	n->children = p;
	n->childlen += len;
	return 0;
}

void xs_node_remove_child(struct xs_node *n, const char *name)
{
	size_t len = strlen(name) + 1;
	uint32_t off = 0;

	while (off < n->childlen) {
		char *cur = n->children + off;
		size_t clen = strlen(cur) + 1;

		if (clen == len && !memcmp(cur, name, len)) {
			memmove(cur, cur + len, n->childlen - off - len);
			n->childlen -= len;
			return;
		}
		off += clen;
	}
}

uint32_t xs_node_record_size(const struct xs_node *n)
{
	/* Header (generation, counts), 8 bytes per permission, data. */
	return 20 + 8 * n->nperms + n->vlen + n->childlen;
}

/* --- hash table -------------------------------------------------------- */

static uint32_t table_hash(const struct xs_table *t, const char *key,
			   uint32_t len)
{
	/* FNV-1a with a random per-process seed, so guests cannot aim paths
	 * at one bucket. */
	uint64_t h = 0xcbf29ce484222325ull ^ t->seed;
	uint32_t i;

	for (i = 0; i < len; i++) {
		h ^= (uint8_t)key[i];
		h *= 0x100000001b3ull;
	}
	return (uint32_t)(h ^ (h >> 32));
}

int xs_table_init(struct xs_table *t)
{
	memset(t, 0, sizeof(*t));
	t->nbuckets = 64;
	t->buckets = calloc(t->nbuckets, sizeof(*t->buckets));
	if (!t->buckets)
		return -ENOMEM;
	if (getrandom(&t->seed, sizeof(t->seed), GRND_NONBLOCK) !=
	    sizeof(t->seed))
		t->seed = (uint64_t)(uintptr_t)t ^ 0x9e3779b97f4a7c15ull;
	return 0;
}

void xs_table_destroy(struct xs_table *t, void (*free_fn)(struct xs_node *))
{
	uint32_t i;

	for (i = 0; t->buckets && i < t->nbuckets; i++) {
		struct xs_node *n = t->buckets[i], *next;

		for (; n; n = next) {
			next = n->hnext;
			free_fn(n);
		}
	}
	free(t->buckets);
	t->buckets = NULL;
	t->count = 0;
}

static void table_grow(struct xs_table *t)
{
	uint32_t nb = t->nbuckets * 2, i;
	struct xs_node **b = calloc(nb, sizeof(*b));

	/* Out of memory: keep the longer chains, which still work. */
	if (!b)
		return;
	for (i = 0; i < t->nbuckets; i++) {
		struct xs_node *n = t->buckets[i], *next;

		for (; n; n = next) {
			next = n->hnext;
			n->hnext = b[n->hash & (nb - 1)];
			b[n->hash & (nb - 1)] = n;
		}
	}
	free(t->buckets);
	t->buckets = b;
	t->nbuckets = nb;
}

static struct xs_node **table_slot(const struct xs_table *t, const char *key,
				   uint32_t len, uint32_t hash)
{
	struct xs_node **pp = &t->buckets[hash & (t->nbuckets - 1)];

	for (; *pp; pp = &(*pp)->hnext)
		if ((*pp)->hash == hash && (*pp)->pathlen == len &&
		    !memcmp((*pp)->path, key, len))
			break;
	return pp;
}

struct xs_node *xs_table_get(const struct xs_table *t, const char *path,
			     uint32_t len)
{
	return *table_slot(t, path, len, table_hash(t, path, len));
}

struct xs_node *xs_table_put(struct xs_table *t, struct xs_node *n)
{
	struct xs_node **pp, *old;

	n->hash = table_hash(t, n->path, n->pathlen);
	pp = table_slot(t, n->path, n->pathlen, n->hash);
	old = *pp;
	if (old) {
		n->hnext = old->hnext;
		*pp = n;
		return old;
	}
	n->hnext = NULL;
	*pp = n;
	if (++t->count > t->nbuckets)
		table_grow(t);
	return NULL;
}

struct xs_node *xs_table_remove(struct xs_table *t, const char *path,
				uint32_t len)
{
	struct xs_node **pp = table_slot(t, path, len, table_hash(t, path, len));
	struct xs_node *old = *pp;

	if (old) {
		*pp = old->hnext;
		old->hnext = NULL;
		t->count--;
	}
	return old;
}

void xs_table_foreach(const struct xs_table *t,
		      void (*fn)(struct xs_node *n, void *arg), void *arg)
{
	uint32_t i;

	for (i = 0; i < t->nbuckets; i++) {
		struct xs_node *n = t->buckets[i], *next;

		for (; n; n = next) {
			next = n->hnext;
			fn(n, arg);
		}
	}
}

/* --- the view ---------------------------------------------------------- */

void tree_owner_adjust(struct xs_store *s, const struct xs_node *old,
		       const struct xs_node *new_node)
{
	struct xs_domain *d;

	if (old && old->nperms) {
		d = domain_get(s, old->perms[0].domid);
		if (d && d->nnodes)
			d->nnodes--;
	}
	if (new_node && new_node->nperms) {
		d = domain_get_or_create(s, new_node->perms[0].domid);
		if (d)
			d->nnodes++;
	}
}

struct xs_node *tree_get(struct xs_store *s, struct xs_txn *t,
			 const char *path, int *err)
{
	*err = 0;
	if (t)
		return txn_get(s, t, path, err);
	return xs_table_get(&s->nodes, path, (uint32_t)strlen(path));
}

struct xs_node *tree_get_mutable(struct xs_store *s, struct xs_txn *t,
				 const char *path, int *err)
{
	struct xs_node *n;

	*err = 0;
	n = tree_get(s, t, path, err);
	if (!n)
		return NULL;
	n = xs_node_dup(n);
	if (!n)
		*err = -ENOMEM;
	return n;
}

void tree_put_live(struct xs_store *s, struct xs_node *n)
{
	struct xs_node *old;

	n->gen = ++s->gen;
	old = xs_table_put(&s->nodes, n);
	tree_owner_adjust(s, old, n);
	xs_node_free(old);
	journal_node_put(s, n);
}

void tree_delete_live(struct xs_store *s, const char *path)
{
	struct xs_node *old;

	old = xs_table_remove(&s->nodes, path, (uint32_t)strlen(path));
	if (!old)
		return;
	s->gen++;
	tree_owner_adjust(s, old, NULL);
	xs_node_free(old);
	journal_node_delete(s, path);
}

int tree_put(struct xs_store *s, struct xs_txn *t, struct xs_node *n)
{
	/* n->gen is still the generation its permissions date from. */
	perms_sanitize(s, n);
	if (t) {
		n->gen = s->gen;
		return txn_put(s, t, n);
	}
	tree_put_live(s, n);
	return 0;
}

int tree_delete(struct xs_store *s, struct xs_txn *t, const char *path)
{
	if (t)
		return txn_delete(s, t, path);
	tree_delete_live(s, path);
	return 0;
}

void tree_load_node(struct xs_store *s, struct xs_node *n)
{
	struct xs_node *old = xs_table_put(&s->nodes, n);

	tree_owner_adjust(s, old, n);
	xs_node_free(old);
	if (n->gen > s->gen)
		s->gen = n->gen;
}

void tree_init_root(struct xs_store *s)
{
	static const struct xs_perm none0 = {.domid = 0, .access = 0};
	static const char *const defaults[] = {"/", "/tool",
					       "/tool/xenstored"};
	unsigned int i;

	/* The nodes Xen's C daemon starts with, in its order. */
	for (i = 0; i < sizeof(defaults) / sizeof(defaults[0]); i++) {
		const char *p = defaults[i];
		struct xs_node *n, *parent;
		uint32_t plen;

		if (xs_table_get(&s->nodes, p, (uint32_t)strlen(p)))
			continue;
		n = xs_node_new(p, (uint32_t)strlen(p));
		if (!n || xs_node_set_perms(n, &none0, 1)) {
			xs_node_free(n);
			continue;
		}
		if (strcmp(p, "/")) {
			plen = xs_path_parent_len(p, n->pathlen);
			parent = xs_table_get(&s->nodes, p, plen);
			if (parent) {
				parent = xs_node_dup(parent);
				if (!parent ||
				    xs_node_add_child(parent,
						      xs_path_basename(p))) {
					xs_node_free(parent);
					xs_node_free(n);
					continue;
				}
				tree_put_live(s, parent);
			}
		}
		tree_put_live(s, n);
	}
}

static void tree_drop(struct xs_node *n, void *arg)
{
	struct xs_store *s = arg;

	xs_table_remove(&s->nodes, n->path, n->pathlen);
	tree_owner_adjust(s, n, NULL);
	xs_node_free(n);
}

void tree_clear(struct xs_store *s)
{
	xs_table_foreach(&s->nodes, tree_drop, s);
}

/*
 * Removing a subtree.  First every record below `top` is looked up (in a
 * transaction this is where quota errors can happen), and only when all
 * were found is anything deleted, so a failed RM changes nothing.  Events:
 * watchers on `top` or above see `top`; a watcher on exactly a removed
 * descendant sees that path, as Xen's C daemon fires per removed node.
 * Each event is seen by those who could read the removed node.
 */
struct rm_list {
	struct xs_node **nodes; /* copies, top first */
	size_t n, cap;
};

static int rm_append(struct rm_list *l, const struct xs_node *n)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 16;
		struct xs_node **p = realloc(l->nodes, cap * sizeof(*p));

		if (!p)
			return -ENOMEM;
		l->nodes = p;
		l->cap = cap;
	}
	l->nodes[l->n] = xs_node_dup(n);
	if (!l->nodes[l->n])
		return -ENOMEM;
	l->n++;
	return 0;
}

/* Breadth first, without recursion: paths may be a thousand levels deep. */
static int rm_collect(struct xs_store *s, struct xs_txn *t,
		      const struct xs_node *top, struct rm_list *l)
{
	size_t idx;
	int err = rm_append(l, top);

	for (idx = 0; !err && idx < l->n; idx++) {
		/* Our own copy: lookups may drop overlay records. */
		const struct xs_node *n = l->nodes[idx];
		uint32_t off = 0;

		while (off < n->childlen && !err) {
			const char *name = n->children + off;
			struct xs_node *c;
			char *child;

			off += (uint32_t)strlen(name) + 1;
			if (asprintf(&child, "%s/%s",
				     n->pathlen > 1 ? n->path : "", name) < 0)
				return -ENOMEM;
			c = tree_get(s, t, child, &err);
			free(child);
			if (c && !err)
				err = rm_append(l, c);
			n = l->nodes[idx]; /* rm_append may move the array */
		}
	}
	return err;
}

int tree_rm(struct xs_store *s, struct xs_txn *t, const struct xs_node *top)
{
	struct rm_list l = {0};
	struct xs_node *parent = NULL;
	char *ppath = NULL;
	size_t i;
	int err, late = 0;

	if (top->pathlen <= 1)
		return -EINVAL;
	ppath = strndup(top->path, xs_path_parent_len(top->path,
						       top->pathlen));
	if (!ppath)
		return -ENOMEM;
	err = rm_collect(s, t, top, &l);
	if (!err) {
		parent = tree_get_mutable(s, t, ppath, &err);
		if (!parent && !err)
			err = -ENOENT;
	}
	if (err)
		goto out;
	/* From here on only memory can fail: every path has its entry.
	 * `top` may be the live record, freed below: use our copy. */
	top = l.nodes[0];
	for (i = l.n; i-- > 0;)
		late |= tree_delete(s, t, l.nodes[i]->path);
	xs_node_remove_child(parent, xs_path_basename(top->path));
	late |= tree_put(s, t, parent);
	parent = NULL;
	for (i = 0; i < l.n; i++) {
		if (t)
			late |= txn_note_change(t, l.nodes[i]->path, i > 0,
						l.nodes[i]);
		else
			watch_fire(s, l.nodes[i]->path, l.nodes[i], NULL,
				   i > 0);
	}
	if (late)
		log_warnx("tree: out of memory removing %s", top->path);
out:
	xs_node_free(parent);
	for (i = 0; i < l.n; i++)
		xs_node_free(l.nodes[i]);
	free(l.nodes);
	free(ppath);
	return err;
}
