/* SPDX-License-Identifier: MIT */
/*
 * Domains as the store sees them: introduced by the toolstack, registered
 * by the hypervisor (which owns the guest's memory), and the node counts
 * that the per-domain quota is checked against.
 */
#include <errno.h>
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

static void domain_attach(struct xs_store *s, struct xs_domain *d)
{
	struct xs_conn *c;

	if (!d->introduced || !d->registered || d->conn || !s->hooks.attach)
		return;
	c = s->hooks.attach(s->hooks.opaque, d->domid, d->mfn, d->port);
	if (!c) {
		log_warnx("domain %u: cannot attach its ring (gfn %#llx)",
			  d->domid, (unsigned long long)d->mfn);
		return;
	}
	d->conn = c;
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

static void domain_note_birth(struct xs_store *s, struct xs_domain *d)
{
	if (!d->introduced && !d->registered)
		d->born_gen = ++s->gen;
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
	domain_note_birth(s, d);
	d->registered = true;
	d->dead = false;
	domain_attach(s, d);
	return 0;
}

void xs_domain_unregister(struct xs_store *s, uint32_t domid)
{
	struct xs_domain *d = domain_get(s, domid);

	if (!d || !d->registered)
		return;
	d->registered = false;
	domain_detach(s, d);
	if (d->introduced) {
		/* The toolstack still has to RELEASE it; until then the
		 * domain is dying and its permission entries stop counting. */
		d->dead = true;
		watch_fire_special(s, "@releaseDomain", domid);
	}
	domain_maybe_free(s, d);
}

int domain_introduce(struct xs_store *s, uint32_t domid, uint64_t mfn,
		     uint32_t port)
{
	struct xs_domain *d;
	bool fresh;

	if (domid == 0 || domid >= XS_DOMID_LIMIT)
		return -EINVAL;
	d = domain_get_or_create(s, domid);
	if (!d)
		return -ENOMEM;
	fresh = !d->introduced;
	if (!fresh && (d->mfn != mfn || d->port != port))
		domain_detach(s, d); /* re-introduced elsewhere: rebind */
	domain_note_birth(s, d);
	d->introduced = true;
	d->dead = false;
	d->mfn = mfn;
	d->port = port;
	journal_domain(s, d);
	domain_attach(s, d);
	if (fresh)
		watch_fire_special(s, "@introduceDomain", domid);
	return 0;
}

int domain_release(struct xs_store *s, uint32_t domid)
{
	struct xs_domain *d = domain_get(s, domid);

	if (domid >= XS_DOMID_LIMIT)
		return -EINVAL;
	if (!d || !d->introduced)
		return -ENOENT;
	domain_detach(s, d);
	d->introduced = false;
	d->target = DOMID_INVALID;
	journal_domain(s, d);
	if (!d->dead)
		watch_fire_special(s, "@releaseDomain", domid);
	d->dead = false;
	domain_maybe_free(s, d);
	return 0;
}
