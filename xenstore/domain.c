/* SPDX-License-Identifier: MIT */
/*
 * Domains as the store sees them: introduced by the toolstack, registered
 * by the hypervisor (which owns the guest's memory), and the node counts
 * that the per-domain quota is checked against.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/log.h"
#include "internal.h"

struct xs_domain *domain_get(struct xs_store *s, uint32_t domid)
{
	return domid < XS_DOMID_LIMIT ? s->domains[domid] : NULL;
}

struct xs_domain *domain_get_or_create(struct xs_store *s, uint32_t domid)
{
	struct xs_domain *d;

	if (domid >= XS_DOMID_LIMIT)
		return NULL;
	d = s->domains[domid];
	if (d)
		return d;
	d = calloc(1, sizeof(*d));
	if (!d)
		return NULL;
	d->domid = domid;
	d->target = DOMID_INVALID;
	list_init(&d->watches);
	s->domains[domid] = d;
	return d;
}

bool domain_is_live(struct xs_store *s, uint32_t domid)
{
	struct xs_domain *d = domain_get(s, domid);

	return domid == 0 || (d && (d->introduced || d->registered));
}

void domain_maybe_free(struct xs_store *s, struct xs_domain *d)
{
	if (d->introduced || d->registered || d->nnodes || d->conn)
		return;
	s->domains[d->domid] = NULL;
	watch_kept_clear(d);
	free(d);
}

/* Would `extra` more nodes owned by c's domain exceed its quota? */
int domain_nodes_check(struct xs_store *s, struct xs_conn *c, int extra)
{
	struct xs_domain *d;

	if (c->privileged || extra <= 0)
		return 0;
	d = domain_get(s, c->domid);
	if ((uint64_t)(d ? d->nnodes : 0) + (uint64_t)extra > s->quota.nodes)
		return -ENOSPC;
	return 0;
}

void xs_store_set_domain_hooks(struct xs_store *s,
			       const struct xs_domain_hooks *h)
{
	s->hooks = *h;
}

static void domain_detach(struct xs_store *s, struct xs_domain *d)
{
	struct xs_conn *c = d->conn;

	if (!c)
		return;
	d->conn = NULL;
	if (s->hooks.detach)
		s->hooks.detach(s->hooks.opaque, d->domid, c);
	else
		xs_conn_free(c);
}

struct orphan_list {
	uint32_t domid;
	char **paths;
	size_t n, cap;
	bool failed;
};

static void orphan_collect(struct xs_node *n, void *arg)
{
	struct orphan_list *l = arg;

	if (l->failed || n->path[0] != '/' || n->perms[0].domid != l->domid)
		return;
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 16;
		char **p = realloc(l->paths, cap * sizeof(*p));

		if (!p) {
			l->failed = true;
			return;
		}
		l->paths = p;
		l->cap = cap;
	}
	l->paths[l->n] = strdup(n->path);
	if (!l->paths[l->n])
		l->failed = true;
	else
		l->n++;
}

static int path_len_cmp(const void *a, const void *b)
{
	size_t la = strlen(*(char *const *)a), lb = strlen(*(char *const *)b);

	return la < lb ? -1 : la > lb;
}

/*
 * As Xen's C daemon (unless --keep-orphans): the nodes a domain owned go
 * with it, subtrees included, so nobody finds them under a reused domid.
 */
static void domain_remove_orphans(struct xs_store *s, uint32_t domid)
{
	struct orphan_list l = {.domid = domid};
	size_t i;

	if (s->keep_orphans)
		return;
	xs_table_foreach(&s->nodes, orphan_collect, &l);
	if (l.failed)
		log_warnx("domain %u: out of memory removing its nodes", domid);
	/* Shallowest first: removing it takes the deeper ones along. */
	if (l.n)
		qsort(l.paths, l.n, sizeof(*l.paths), path_len_cmp);
	for (i = 0; i < l.n; i++) {
		const struct xs_node *n = xs_table_get(
			&s->nodes, l.paths[i], (uint32_t)strlen(l.paths[i]));

		if (n && tree_rm(s, NULL, n))
			log_warnx("domain %u: cannot remove %s", domid,
				  l.paths[i]);
		free(l.paths[i]);
	}
	free(l.paths);
}

/* The domain is gone: drop its ring and nodes, tell the watchers. */
static void domain_gone(struct xs_store *s, struct xs_domain *d)
{
	uint32_t domid = d->domid;

	domain_detach(s, d);
	watch_kept_clear(d);
	d->introduced = false;
	d->target = DOMID_INVALID;
	/* Replayed, this record drops the watches of its ring as well. */
	journal_domain(s, d);
	domain_remove_orphans(s, domid);
	watch_fire_special(s, "@releaseDomain", domid);
}

int xs_domain_register(struct xs_store *s, uint32_t domid)
{
	struct xs_domain *d;

	if (domid == 0 || domid >= XS_DOMID_LIMIT)
		return -EINVAL;
	d = domain_get_or_create(s, domid);
	if (!d)
		return -ENOMEM;
	if (d->registered)
		return -EEXIST;
	/* A domain restored from the journal keeps its birth. */
	if (!d->introduced)
		d->born_gen = ++s->gen;
	d->registered = true;
	/* Introduced before a restart of ours: serve its ring again, with
	 * the watches its guest had set. */
	if (d->introduced && s->hooks.attach) {
		d->conn = s->hooks.attach(s->hooks.opaque, domid, d->mfn,
					  d->port);
		if (d->conn)
			watch_restore(s, d);
	}
	return 0;
}

void xs_domain_unregister(struct xs_store *s, uint32_t domid)
{
	struct xs_domain *d = domain_get(s, domid);

	if (!d || !d->registered)
		return;
	d->registered = false;
	if (d->introduced)
		domain_gone(s, d);
	else
		domain_detach(s, d);
	domain_maybe_free(s, d);
}

void xs_store_keep_orphans(struct xs_store *s, bool keep)
{
	s->keep_orphans = keep;
}

int domain_introduce(struct xs_store *s, uint32_t domid, uint64_t mfn,
		     uint32_t port)
{
	struct xs_domain *d = domain_get(s, domid);
	struct xs_conn *c = NULL;

	/* Only a domain the hypervisor runs has a ring to serve. */
	if (domid == 0 || !d || !d->registered)
		return -EINVAL;
	if (d->introduced && d->mfn == mfn && d->port == port)
		return 0;
	if (s->hooks.attach) {
		/* Re-introduced elsewhere: the old ring goes first. */
		domain_detach(s, d);
		c = s->hooks.attach(s->hooks.opaque, domid, mfn, port);
		if (!c) {
			watch_kept_clear(d);
			d->introduced = false;
			journal_domain(s, d);
			return -EINVAL;
		}
	}
	d->conn = c;
	if (!d->introduced) {
		d->introduced = true;
		d->mfn = mfn;
		d->port = port;
		journal_domain(s, d);
		if (c)
			watch_restore(s, d);
		watch_fire_special(s, "@introduceDomain", domid);
		return 0;
	}
	d->mfn = mfn;
	d->port = port;
	journal_domain(s, d);
	if (c)
		watch_restore(s, d);
	return 0;
}

int domain_release(struct xs_store *s, uint32_t domid)
{
	struct xs_domain *d = domain_get(s, domid);

	if (domid == 0 || domid >= XS_DOMID_LIMIT)
		return -EINVAL;
	if (!d || !d->introduced)
		return -ENOENT;
	domain_gone(s, d);
	domain_maybe_free(s, d);
	return 0;
}
