/* SPDX-License-Identifier: MIT */
/*
 * Permission lists: "<letter><domid>" entries, n/r/w/b.  Entry 0 names the
 * owner and gives the access of every domain not listed.
 *
 * A domain id can be reused after its domain died, and the newcomer must
 * not inherit what was granted to the dead one.  So an entry only counts
 * while its domain is alive and was born before the node was last written;
 * and whenever a node is written, entries that no longer count are marked
 * XS_PERM_IGNORE for good (perms_sanitize), so a later write by the owner
 * cannot bring them back to life.  Ignored entries are still listed by
 * GET_PERMS, as Xen's daemon lists them; they only grant nothing.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static bool perm_entry_valid(struct xs_store *s, uint32_t domid, uint64_t gen)
{
	struct xs_domain *d;

	if (domid == 0)
		return true;
	d = domain_get(s, domid);
	return d && (d->introduced || d->registered) && d->born_gen <= gen;
}

static bool perm_matches(const struct xs_conn *c, const struct xs_domain *cd,
			 uint32_t domid)
{
	return domid == c->domid ||
	       (cd && cd->target != DOMID_INVALID && domid == cd->target);
}

unsigned int perms_for_conn(struct xs_store *s, const struct xs_conn *c,
			    const struct xs_node *n)
{
	struct xs_domain *cd;
	uint32_t i;

	if (!c || c->privileged)
		return XS_PERM_BOTH | XS_PERM_OWNER;
	if (!n->nperms)
		return 0;
	cd = domain_get(s, c->domid);
	if (perm_matches(c, cd, n->perms[0].domid) &&
	    perm_entry_valid(s, n->perms[0].domid, n->gen))
		return XS_PERM_BOTH | XS_PERM_OWNER;
	for (i = 1; i < n->nperms; i++)
		if (!(n->perms[i].access & XS_PERM_IGNORE) &&
		    perm_matches(c, cd, n->perms[i].domid) &&
		    perm_entry_valid(s, n->perms[i].domid, n->gen))
			return n->perms[i].access & XS_PERM_BOTH;
	return n->perms[0].access & XS_PERM_BOTH;
}

void perms_sanitize(struct xs_store *s, struct xs_node *n)
{
	uint32_t i;

	for (i = 1; i < n->nperms; i++)
		if (!perm_entry_valid(s, n->perms[i].domid, n->gen))
			n->perms[i].access |= XS_PERM_IGNORE;
}

static int perm_letter(char ch)
{
	switch (ch) {
	case 'n':
		return 0;
	case 'r':
		return XS_PERM_READ;
	case 'w':
		return XS_PERM_WRITE;
	case 'b':
		return XS_PERM_BOTH;
	default:
		return -EINVAL;
	}
}

int perms_parse(const char *buf, uint32_t len, struct xs_perm **out)
{
	struct xs_perm *p = NULL;
	uint32_t off = 0, n = 0;
	int rc = -EINVAL;

	*out = NULL;
	while (off < len) {
		const char *e = buf + off;
		size_t elen = strnlen(e, len - off);
		unsigned long id;
		char *end;
		int acc;

		if (off + elen >= len) /* not NUL-terminated */
			goto out;
		acc = perm_letter(e[0]);
		if (acc < 0 || elen < 2 || e[1] < '0' || e[1] > '9')
			goto out;
		errno = 0;
		id = strtoul(e + 1, &end, 10);
		if (errno || *end || id >= XS_DOMID_LIMIT)
			goto out;
		if (!(n & (n - 1))) { /* grow at powers of two */
			struct xs_perm *q = realloc(p, (n ? n * 2 : 1) *
							       sizeof(*p));
			if (!q) {
				rc = -ENOMEM;
				goto out;
			}
			p = q;
		}
		p[n].domid = (uint32_t)id;
		p[n].access = (uint32_t)acc;
		n++;
		off += (uint32_t)elen + 1;
	}
	if (!n)
		goto out;
	*out = p;
	return (int)n;
out:
	free(p);
	return rc;
}

int perms_format(const struct xs_node *n, struct buf *b)
{
	static const char letters[] = "nrwb";
	size_t start = b->len;
	uint32_t i;

	for (i = 0; i < n->nperms; i++) {
		char e[16];
		int len;

		len = snprintf(e, sizeof(e), "%c%u",
			       letters[n->perms[i].access & XS_PERM_BOTH],
			       n->perms[i].domid);

		if (buf_append(b, e, (size_t)len + 1))
			return -ENOMEM;
	}
	return (int)(b->len - start);
}
