/* SPDX-License-Identifier: MIT */
/*
 * Transactions.
 *
 * A transaction is an overlay on the live tree.  The first time it touches
 * a path (read or write) it records what the live tree held there: absent,
 * or present with generation G, and keeps a copy of the record.  Writes and
 * deletes replace that copy; reads see only the overlay, so a transaction
 * sees its own writes, implicit parents included, keeps seeing what it
 * first read even if others change it, and nobody else sees its writes.
 *
 * Every change to the live tree gives the changed record a new generation.
 * At commit we check each recorded path: if it is still absent, or still
 * present with the same generation, nobody changed what the transaction
 * based itself on.  Otherwise the commit fails with EAGAIN and applies
 * nothing; the client retries.  The check is per node, so writes elsewhere
 * do not conflict; creating or removing a child changes the parent's record
 * (its child list), so two transactions adding children to one directory
 * do conflict, as they do in Xen.
 *
 * Committing copies the overlay's records into the live tree (journalled
 * like any other change) and only then fires the watches for the paths the
 * transaction changed, in the order it changed them.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* An overlay entry; table code sees only its leading xs_node fields. */
struct txn_entry {
	struct xs_node key; /* path, pathlen, hash, hnext */
	bool base_present;
	uint64_t base_gen;
	bool modified;
	struct xs_node *node; /* what the transaction sees; NULL = absent */
};

struct txn_change {
	struct list_head link;
	char *path;
	bool exact;
	struct xs_node *removed; /* copy of a removed node, for its perms */
};

static void txn_entry_free(struct xs_node *key)
{
	struct txn_entry *e = (struct txn_entry *)key;

	xs_node_free(e->node);
	free(e->key.path);
	free(e);
}

struct xs_txn *txn_lookup(struct xs_conn *c, uint32_t id)
{
	struct xs_txn *t;

	list_for_each_entry(t, &c->txns, conn_link)
		if (t->id == id)
			return t;
	return NULL;
}

int txn_start(struct xs_conn *c, uint32_t *id)
{
	struct xs_txn *t;

	if (!c->privileged && c->ntxns >= c->store->quota.transactions)
		return -ENOSPC;
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	if (xs_table_init(&t->entries)) {
		free(t);
		return -ENOMEM;
	}
	list_init(&t->changed);
	/* Ids are per connection and never 0 (0 means "no transaction"). */
	do {
		t->id = c->next_txn_id++;
	} while (!t->id || txn_lookup(c, t->id));
	t->domid = c->domid;
	t->quota_limited = !c->privileged;
	list_add_tail(&t->conn_link, &c->txns);
	c->ntxns++;
	*id = t->id;
	return 0;
}

void txn_free(struct xs_txn *t)
{
	struct txn_change *ch, *tmp;

	list_for_each_entry_safe(ch, tmp, &t->changed, link) {
		list_del(&ch->link);
		xs_node_free(ch->removed);
		free(ch->path);
		free(ch);
	}
	xs_table_destroy(&t->entries, txn_entry_free);
	free(t);
}

static struct txn_entry *txn_entry(struct xs_store *s, struct xs_txn *t,
				   const char *path, int *err)
{
	uint32_t len = (uint32_t)strlen(path);
	struct txn_entry *e;
	struct xs_node *base;

	e = (struct txn_entry *)xs_table_get(&t->entries, path, len);
	if (e)
		return e;
	if (t->quota_limited && t->naccessed >= s->quota.txn_nodes) {
		*err = -ENOSPC;
		return NULL;
	}
	e = calloc(1, sizeof(*e));
	if (!e || !(e->key.path = strdup(path))) {
		free(e);
		*err = -ENOMEM;
		return NULL;
	}
	e->key.pathlen = len;
	base = xs_table_get(&s->nodes, path, len);
	e->base_present = base != NULL;
	e->base_gen = base ? base->gen : 0;
	/* The transaction keeps seeing the node as it first found it. */
	if (base && !(e->node = xs_node_dup(base))) {
		free(e->key.path);
		free(e);
		*err = -ENOMEM;
		return NULL;
	}
	xs_table_put(&t->entries, &e->key);
	t->naccessed++;
	return e;
}

struct xs_node *txn_get(struct xs_store *s, struct xs_txn *t,
			const char *path, int *err)
{
	struct txn_entry *e = txn_entry(s, t, path, err);

	return e ? e->node : NULL;
}

static uint32_t node_owner(const struct xs_node *n)
{
	return n && n->nperms ? n->perms[0].domid : DOMID_INVALID;
}

/* Track how many nodes the transaction's own domain gains, for its quota. */
static void txn_account(struct xs_txn *t, const struct xs_node *old,
			const struct xs_node *new_node)
{
	if (node_owner(old) == t->domid)
		t->node_delta--;
	if (node_owner(new_node) == t->domid)
		t->node_delta++;
}

int txn_put(struct xs_store *s, struct xs_txn *t, struct xs_node *n)
{
	int err = 0;
	struct txn_entry *e = txn_entry(s, t, n->path, &err);

	if (!e)
		return err;
	txn_account(t, e->node, n);
	if (e->node != n)
		xs_node_free(e->node);
	e->node = n;
	e->modified = true;
	return 0;
}

int txn_delete(struct xs_store *s, struct xs_txn *t, const char *path)
{
	int err = 0;
	struct txn_entry *e = txn_entry(s, t, path, &err);

	if (!e)
		return err;
	txn_account(t, e->node, NULL);
	xs_node_free(e->node);
	e->node = NULL;
	e->modified = true;
	return 0;
}

int txn_note_change(struct xs_txn *t, const char *path, bool exact,
		    const struct xs_node *removed)
{
	struct txn_change *ch;

	/* One event per path, however often the transaction touched it. */
	list_for_each_entry(ch, &t->changed, link)
		if (!strcmp(ch->path, path))
			return 0;
	ch = calloc(1, sizeof(*ch));
	if (!ch || !(ch->path = strdup(path)) ||
	    (removed && !(ch->removed = xs_node_dup(removed)))) {
		if (ch)
			free(ch->path);
		free(ch);
		return -ENOMEM;
	}
	ch->exact = exact;
	list_add_tail(&ch->link, &t->changed);
	return 0;
}

struct txn_check {
	struct xs_store *s;
	bool conflict;
};

static void txn_check_entry(struct xs_node *key, void *arg)
{
	struct txn_entry *e = (struct txn_entry *)key;
	struct txn_check *chk = arg;
	struct xs_node *cur;

	cur = xs_table_get(&chk->s->nodes, e->key.path, e->key.pathlen);
	if ((cur != NULL) != e->base_present ||
	    (cur && cur->gen != e->base_gen))
		chk->conflict = true;
}

static void txn_apply_entry(struct xs_node *key, void *arg)
{
	struct txn_entry *e = (struct txn_entry *)key;
	struct xs_store *s = arg;

	if (!e->modified)
		return;
	if (e->node) {
		tree_put_live(s, e->node);
		e->node = NULL;
	} else {
		tree_delete_live(s, e->key.path);
	}
}

int txn_end(struct xs_conn *c, struct xs_txn *t, bool commit)
{
	struct xs_store *s = c->store;
	struct txn_check chk = {.s = s};
	struct txn_change *ch;
	int rc = 0;

	list_del(&t->conn_link);
	c->ntxns--;
	if (!commit)
		goto out;
	xs_table_foreach(&t->entries, txn_check_entry, &chk);
	if (chk.conflict) {
		rc = -EAGAIN;
		goto out;
	}
	if (domain_nodes_check(s, c, t->node_delta)) {
		rc = -ENOSPC;
		goto out;
	}
	rc = journal_reserve(s);
	if (rc)
		goto out;
	xs_table_foreach(&t->entries, txn_apply_entry, s);
	/* In the order the transaction made them; a removal is seen by
	 * whoever could read the node before it went. */
	list_for_each_entry(ch, &t->changed, link) {
		const struct xs_node *n = ch->removed;

		if (!n)
			n = xs_table_get(&s->nodes, ch->path,
					 (uint32_t)strlen(ch->path));
		watch_fire(s, ch->path, n, NULL, ch->exact);
	}
out:
	txn_free(t);
	return rc;
}
