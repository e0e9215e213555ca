/* SPDX-License-Identifier: MIT */
/*
 * Watches.  A watch on P fires for a change of P or of anything below it
 * (whole path components only).  Removing a subtree also fires watches set
 * on exactly one of the removed nodes (tree_rm).  A watcher sees an event
 * only if it may read the node the event is about; the special "@" nodes
 * carry their own permissions (SET_PERMS on them), default dom0-only.
 *
 * The watches of a domain's ring outlive a restart of the daemon: a guest
 * sets its watches once (at boot, as Linux's xenbus does) and has no way
 * to learn that they went.  Every change of them is journalled; after a
 * restart they are kept with the domain until its hypervisor registers it
 * again, and then handed to the new ring connection, each firing once as
 * a new watch does, since what changed meanwhile fired nothing.  Other
 * connections (sockets) die with the daemon, and their watches with them.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/log.h"
#include "internal.h"

static struct log_ratelimit watch_rl = LOG_RATELIMIT_INIT;

static struct xs_watch *watch_find(struct list_head *l, const char *path,
				   const char *token)
{
	struct xs_watch *w;

	list_for_each_entry(w, l, conn_link)
		if (!strcmp(w->path, path) && !strcmp(w->token, token))
			return w;
	return NULL;
}

/* A new watch at the end of l, or -ENOMEM. */
static int watch_append(struct list_head *l, const char *path,
			const char *token, uint32_t relative_off)
{
	struct xs_watch *w = calloc(1, sizeof(*w));

	if (!w)
		return -ENOMEM;
	w->path = strdup(path);
	w->token = strdup(token);
	if (!w->path || !w->token) {
		free(w->path);
		free(w->token);
		free(w);
		return -ENOMEM;
	}
	w->relative_off = relative_off;
	list_add_tail(&w->conn_link, l);
	return 0;
}

static void watch_unlink(struct xs_watch *w)
{
	list_del(&w->conn_link);
	free(w->path);
	free(w->token);
	free(w);
}

/* c is its domain's ring: its watches are journalled. */
static bool watch_durable(struct xs_conn *c)
{
	struct xs_domain *d = domain_get(c->store, c->domid);

	return d && d->conn == c;
}

int watch_add(struct xs_conn *c, const char *path, const char *token,
	      uint32_t relative_off)
{
	int rc;

	if (watch_find(&c->watches, path, token))
		return -EEXIST;
	if (!c->privileged && c->nwatches >= c->store->quota.watches)
		return -E2BIG;
	rc = watch_append(&c->watches, path, token, relative_off);
	if (rc)
		return rc;
	c->nwatches++;
	if (watch_durable(c))
		journal_watch_add(c->store, c->domid,
				  list_entry(c->watches.prev, struct xs_watch,
					     conn_link));
	return 0;
}

int watch_remove(struct xs_conn *c, const char *path, const char *token)
{
	struct xs_watch *w = watch_find(&c->watches, path, token);

	if (!w)
		return -ENOENT;
	if (watch_durable(c))
		journal_watch_remove(c->store, c->domid, w);
	watch_unlink(w);
	c->nwatches--;
	return 0;
}

void watch_remove_all(struct xs_conn *c)
{
	struct xs_watch *w, *tmp;

	list_for_each_entry_safe(w, tmp, &c->watches, conn_link)
		watch_unlink(w);
	c->nwatches = 0;
}

void watch_forget_all(struct xs_conn *c)
{
	if (watch_durable(c))
		journal_watch_clear(c->store, c->domid);
	watch_remove_all(c);
}

void watch_restore(struct xs_store *s, struct xs_domain *d)
{
	struct xs_conn *c = d->conn;
	struct xs_watch *w, *tmp;

	/* The journal then holds exactly the ring's watches, also when a
	 * re-INTRODUCE replaced a ring that had some. */
	journal_watch_clear(s, d->domid);
	list_for_each_entry_safe(w, tmp, &d->watches, conn_link) {
		list_del(&w->conn_link);
		list_add_tail(&w->conn_link, &c->watches);
		c->nwatches++;
		journal_watch_add(s, d->domid, w);
		(void)watch_send_event(c, w, w->path);
	}
}

int watch_kept_add(struct xs_domain *d, const char *path, const char *token,
		   uint32_t relative_off)
{
	if (watch_find(&d->watches, path, token))
		return 0;
	return watch_append(&d->watches, path, token, relative_off);
}

void watch_kept_remove(struct xs_domain *d, const char *path,
		       const char *token)
{
	struct xs_watch *w = watch_find(&d->watches, path, token);

	if (w)
		watch_unlink(w);
}

void watch_kept_clear(struct xs_domain *d)
{
	struct xs_watch *w, *tmp;

	list_for_each_entry_safe(w, tmp, &d->watches, conn_link)
		watch_unlink(w);
}

int watch_send_event(struct xs_conn *c, const struct xs_watch *w,
		     const char *path)
{
	size_t plen, tlen = strlen(w->token) + 1;
	char buf[XENSTORE_PAYLOAD_MAX];

	/* Relative watches get paths relative to the domain's home. */
	if (w->relative_off && strlen(path) > w->relative_off)
		path += w->relative_off;
	plen = strlen(path) + 1;
	if (plen + tlen > sizeof(buf))
		return -E2BIG;
	if (!c->privileged &&
	    buf_used(&c->out) >= c->store->quota.event_queue_max) {
		/* The guest does not read its ring: it loses events, nobody
		 * else loses anything. */
		c->dropped_events++;
		log_warnx_rl(&watch_rl,
			     "watch: domain %u is not reading, event dropped",
			     c->domid);
		return -ENOSPC;
	}
	memcpy(buf, path, plen);
	memcpy(buf + plen, w->token, tlen);
	return conn_send(c, XS_WATCH_EVENT, 0, 0, buf,
			 (uint32_t)(plen + tlen));
}

static bool watch_may_see(struct xs_store *s, struct xs_conn *c,
			  const struct xs_node *node,
			  const struct xs_node *other)
{
	if (c->privileged)
		return true;
	return (node && (perms_for_conn(s, c, node) & XS_PERM_READ)) ||
	       (other && (perms_for_conn(s, c, other) & XS_PERM_READ));
}

void watch_fire(struct xs_store *s, const char *path,
		const struct xs_node *node, const struct xs_node *other,
		bool exact)
{
	struct xs_conn *c;
	struct xs_watch *w;

	if (s->loading)
		return;
	list_for_each_entry(c, &s->conns, store_link) {
		if (list_empty(&c->watches) ||
		    !watch_may_see(s, c, node, other))
			continue;
		list_for_each_entry(w, &c->watches, conn_link) {
			if (exact ? !strcmp(path, w->path)
				  : xs_path_is_child(path, w->path))
				(void)watch_send_event(c, w, path);
		}
	}
}

void watch_fire_special(struct xs_store *s, const char *name, uint32_t domid)
{
	char one[64];
	struct xs_node *node;
	struct xs_conn *c;
	struct xs_watch *w;

	if (s->loading)
		return;
	/* "@releaseDomain/<domid>" watches a single domain. */
	snprintf(one, sizeof(one), "%s/%u", name, domid);
	node = xs_table_get(&s->nodes, name, (uint32_t)strlen(name));
	list_for_each_entry(c, &s->conns, store_link) {
		if (list_empty(&c->watches) ||
		    !watch_may_see(s, c, node, NULL))
			continue;
		list_for_each_entry(w, &c->watches, conn_link) {
			if (!strcmp(w->path, name) || !strcmp(w->path, one))
				(void)watch_send_event(c, w, w->path);
		}
	}
}
