/* SPDX-License-Identifier: MIT */
/*
 * Internals shared by the files of the XenStore library.  Nothing here is
 * visible to the daemon's I/O code, which sees only store.h.
 *
 * The tree is a set of node records keyed by absolute path, as in Xen's C
 * daemon: each record holds the value, the permission list and the names of
 * its children (NUL-separated, in creation order, which is also the wire
 * format of a DIRECTORY reply).  A transaction is an overlay of such records
 * (txn.c), and the journal stores whole records, so replaying it is
 * idempotent (journal.c).
 */
#ifndef XENIA_XS_INTERNAL_H
#define XENIA_XS_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include <xen/xen.h>
#include <xen/io/xs_wire.h>

#include "../common/buf.h"
#include "../common/list.h"
#include "store.h"

#define XS_PERM_READ 1u
#define XS_PERM_WRITE 2u
#define XS_PERM_BOTH (XS_PERM_READ | XS_PERM_WRITE)
#define XS_PERM_OWNER 4u
#define XS_PERM_IGNORE 8u /* stored: the entry's domain died */

#define XS_DOMID_LIMIT DOMID_FIRST_RESERVED

struct xs_perm {
	uint32_t domid;
	uint32_t access; /* XS_PERM_READ | XS_PERM_WRITE */
};

struct xs_node {
	char *path;
	uint32_t pathlen;
	uint32_t hash;
	struct xs_node *hnext; /* hash chain */
	char *value;
	uint32_t vlen;
	uint32_t nperms;
	struct xs_perm *perms; /* perms[0] is the owner and the default */
	char *children;	       /* "a\0b\0" */
	uint32_t childlen;
	uint64_t gen; /* store generation of the last change */
};

/* A path-keyed hash table of node records (tree.c). */
struct xs_table {
	struct xs_node **buckets;
	uint32_t nbuckets; /* power of two */
	uint32_t count;
	uint64_t seed;
};

struct xs_domain {
	uint32_t domid;
	bool introduced;   /* XS_INTRODUCE seen (or restored) */
	bool registered;   /* the hypervisor handed us its memory */
	uint64_t mfn;	   /* ring page (gfn) from INTRODUCE */
	uint32_t port;	   /* store event channel from INTRODUCE */
	uint32_t target;   /* SET_TARGET, or DOMID_INVALID */
	uint64_t born_gen; /* store generation when we first knew it */
	uint32_t nnodes;   /* nodes it owns (quota) */
	struct xs_conn *conn; /* its ring connection, once attached */
	/* Its ring's watches while no ring is attached (read back from the
	 * journal after a restart of ours); the ring gets them back. */
	struct list_head watches;
};

struct xs_watch {
	struct list_head conn_link; /* on conn->watches or domain->watches */
	char *path;		    /* absolute, or "@special" */
	char *token;
	uint32_t relative_off; /* strip this many bytes from event paths */
};

struct txn_entry;

struct xs_txn {
	struct list_head conn_link;
	uint32_t id;
	struct xs_table entries;  /* struct txn_entry nodes, by path */
	struct list_head changed; /* struct txn_change: watches to fire */
	uint32_t naccessed;
	uint32_t domid;	    /* the connection's domain */
	bool quota_limited; /* unprivileged: txn_nodes applies */
	int32_t node_delta; /* nodes the connection's domain gains */
};

struct xs_conn {
	struct list_head store_link;
	struct list_head flush_link; /* on store->flush_list when queued */
	bool on_flush_list;
	struct xs_store *store;
	const struct xs_conn_ops *ops;
	void *opaque;
	uint32_t domid;
	bool privileged;
	bool closing; /* protocol error: transport should close it */
	struct buf in;
	struct buf out;
	uint32_t out_replies; /* replies queued but not flushed (quota) */
	struct list_head watches;
	uint32_t nwatches;
	struct list_head txns;
	uint32_t ntxns;
	uint32_t next_txn_id;
	uint64_t dropped_events;
};

struct xs_store {
	struct xs_table nodes;
	struct xs_domain *domains[XS_DOMID_LIMIT];
	struct list_head conns;
	struct list_head flush_list;
	uint64_t gen;
	struct xs_quota quota;
	struct xs_journal *journal;
	struct xs_domain_hooks hooks;
	bool loading; /* replaying the journal: no journal writes, no events */
	bool keep_orphans; /* keep a dead domain's nodes */
	uint64_t stats_requests;
};

/* Path helpers (path.c) */
void xs_path_set_max(uint32_t max);
bool xs_path_is_special(const char *path);
/*
 * Turn a request path into an absolute one.  Relative paths are taken under
 * /local/domain/<domid>/.  Returns a malloc'd string or NULL with *err set to
 * a positive errno (EINVAL for a bad path, ENOMEM).  `allow_special` admits
 * "@name" paths (watches and permissions only).
 */
char *xs_path_canonical(uint32_t domid, const char *path, bool allow_special,
			int *err);
bool xs_path_valid(const char *abs);
/* True if `path` is `ancestor` or lies below it, by whole components. */
bool xs_path_is_child(const char *path, const char *ancestor);
/* Length of the parent's path ("/a/b" -> 2, "/a" -> 1). */
uint32_t xs_path_parent_len(const char *path, uint32_t len);
const char *xs_path_basename(const char *path);

/* Node records and the table (tree.c) */
struct xs_node *xs_node_new(const char *path, uint32_t pathlen);
struct xs_node *xs_node_dup(const struct xs_node *n);
void xs_node_free(struct xs_node *n);
int xs_node_set_value(struct xs_node *n, const void *v, uint32_t len)
	__attribute__((warn_unused_result));
int xs_node_set_perms(struct xs_node *n, const struct xs_perm *p, uint32_t np)
	__attribute__((warn_unused_result));
int xs_node_add_child(struct xs_node *n, const char *name)
	__attribute__((warn_unused_result));
void xs_node_remove_child(struct xs_node *n, const char *name);
/* Size of the record as Xen's C daemon counts it for the node-size quota. */
uint32_t xs_node_record_size(const struct xs_node *n);

int xs_table_init(struct xs_table *t) __attribute__((warn_unused_result));
void xs_table_destroy(struct xs_table *t, void (*free_fn)(struct xs_node *));
struct xs_node *xs_table_get(const struct xs_table *t, const char *path,
			     uint32_t len);
/* Inserts n, replacing (and returning) an existing node with its path. */
struct xs_node *xs_table_put(struct xs_table *t, struct xs_node *n);
struct xs_node *xs_table_remove(struct xs_table *t, const char *path,
				uint32_t len);
void xs_table_foreach(const struct xs_table *t,
		      void (*fn)(struct xs_node *n, void *arg), void *arg);

/*
 * The view of the tree a request sees: the live tree, or the live tree under
 * a transaction's overlay.  Every access through a transaction is recorded
 * for conflict detection at commit.
 */
struct xs_node *tree_get(struct xs_store *s, struct xs_txn *t,
			 const char *path, int *err);
/*
 * Store a changed or new node.  `n` is owned by the tree afterwards.  Outside
 * a transaction the change is journalled and gets a new generation.
 */
int tree_put(struct xs_store *s, struct xs_txn *t, struct xs_node *n)
	__attribute__((warn_unused_result));
/* Get a node that the caller may change and then tree_put() back. */
struct xs_node *tree_get_mutable(struct xs_store *s, struct xs_txn *t,
				 const char *path, int *err);
/* The same on the live tree, where they cannot fail. */
void tree_put_live(struct xs_store *s, struct xs_node *n);
void tree_delete_live(struct xs_store *s, const char *path);
/* Remove a node and everything below it, firing (or noting) watches. */
int tree_rm(struct xs_store *s, struct xs_txn *t, const struct xs_node *top)
	__attribute__((warn_unused_result));
/* Delete one record (not its children). */
int tree_delete(struct xs_store *s, struct xs_txn *t, const char *path)
	__attribute__((warn_unused_result));
/* Insert a node into the live tree while loading (no journal, no events). */
void tree_load_node(struct xs_store *s, struct xs_node *n);
void tree_init_root(struct xs_store *s);
/* Drop every node (before loading a complete snapshot). */
void tree_clear(struct xs_store *s);
void tree_owner_adjust(struct xs_store *s, const struct xs_node *old,
		       const struct xs_node *new_node);

/* Permissions (perms.c) */
unsigned int perms_for_conn(struct xs_store *s, const struct xs_conn *c,
			    const struct xs_node *n);
/* Mark entries whose domain is gone, judged at n->gen, as ignored. */
void perms_sanitize(struct xs_store *s, struct xs_node *n);
/* Parse "r0\0w5\0" into an array; returns count or a negative errno. */
int perms_parse(const char *buf, uint32_t len, struct xs_perm **out);
/* Format as the GET_PERMS reply; returns bytes or -ENOMEM. */
int perms_format(const struct xs_node *n, struct buf *b);

/* Domains (domain.c) */
struct xs_domain *domain_get(struct xs_store *s, uint32_t domid);
struct xs_domain *domain_get_or_create(struct xs_store *s, uint32_t domid);
bool domain_is_live(struct xs_store *s, uint32_t domid);
void domain_maybe_free(struct xs_store *s, struct xs_domain *d);
int domain_nodes_check(struct xs_store *s, struct xs_conn *c, int extra);
int domain_introduce(struct xs_store *s, uint32_t domid, uint64_t mfn,
		     uint32_t port) __attribute__((warn_unused_result));
int domain_release(struct xs_store *s, uint32_t domid)
	__attribute__((warn_unused_result));

/* Watches (watch.c) */
int watch_add(struct xs_conn *c, const char *path, const char *token,
	      uint32_t relative_off) __attribute__((warn_unused_result));
int watch_remove(struct xs_conn *c, const char *path, const char *token)
	__attribute__((warn_unused_result));
void watch_remove_all(struct xs_conn *c);
/* The guest dropped all its watches (RESET_WATCHES, a ring reconnect). */
void watch_forget_all(struct xs_conn *c);
/*
 * A domain's ring is attached (d->conn): it takes over the watches kept in
 * d->watches, each firing once, as a new watch does.
 */
void watch_restore(struct xs_store *s, struct xs_domain *d);
/* The watches kept for a domain without a ring, as the journal has them. */
int watch_kept_add(struct xs_domain *d, const char *path, const char *token,
		   uint32_t relative_off) __attribute__((warn_unused_result));
void watch_kept_remove(struct xs_domain *d, const char *path,
		       const char *token);
void watch_kept_clear(struct xs_domain *d);
/*
 * Fire watches for a change of `path`: watches on it or above it, or with
 * `exact` only watches on exactly it.  A watcher sees the event if it may
 * read `node` or `other` (either may be NULL; privileged watchers always).
 */
void watch_fire(struct xs_store *s, const char *path,
		const struct xs_node *node, const struct xs_node *other,
		bool exact);
void watch_fire_special(struct xs_store *s, const char *name, uint32_t domid);
int watch_send_event(struct xs_conn *c, const struct xs_watch *w,
		     const char *path);

/* Transactions (txn.c) */
struct xs_txn *txn_lookup(struct xs_conn *c, uint32_t id);
int txn_start(struct xs_conn *c, uint32_t *id)
	__attribute__((warn_unused_result));
int txn_end(struct xs_conn *c, struct xs_txn *t, bool commit)
	__attribute__((warn_unused_result));
void txn_free(struct xs_txn *t);
struct xs_node *txn_get(struct xs_store *s, struct xs_txn *t,
			const char *path, int *err);
int txn_put(struct xs_store *s, struct xs_txn *t, struct xs_node *n)
	__attribute__((warn_unused_result));
int txn_delete(struct xs_store *s, struct xs_txn *t, const char *path)
	__attribute__((warn_unused_result));
/*
 * Remember a change so its watches fire at commit (once per path).  For a
 * removal pass the removed node: its permissions decide who sees the
 * event; `exact` as for watch_fire().
 */
int txn_note_change(struct xs_txn *t, const char *path, bool exact,
		    const struct xs_node *removed)
	__attribute__((warn_unused_result));

/* Connections (conn.c) */
int conn_send(struct xs_conn *c, uint32_t type, uint32_t req_id,
	      uint32_t tx_id, const void *data, uint32_t len)
	__attribute__((warn_unused_result));

/* Wire operations (ops.c) */
void ops_dispatch(struct xs_conn *c, const struct xsd_sockmsg *hdr,
		  const char *payload);

/* CONTROL commands (control.c); output goes to `out`, empty means "OK". */
int control_run(struct xs_store *s, const char **argv, unsigned int argc,
		struct buf *out) __attribute__((warn_unused_result));

/* Journal hooks (journal.c): all no-ops while loading or without journal. */
int journal_reserve(struct xs_store *s) __attribute__((warn_unused_result));
void journal_node_put(struct xs_store *s, const struct xs_node *n);
void journal_node_delete(struct xs_store *s, const char *path);
void journal_domain(struct xs_store *s, const struct xs_domain *d);
/* Changes of the watches of domid's ring, which outlive a restart. */
void journal_watch_add(struct xs_store *s, uint32_t domid,
		       const struct xs_watch *w);
void journal_watch_remove(struct xs_store *s, uint32_t domid,
			  const struct xs_watch *w);
void journal_watch_clear(struct xs_store *s, uint32_t domid);
/* Compact when the log has grown; call between requests. */
void journal_maybe_compact(struct xs_store *s);
void journal_close(struct xs_store *s);

/* "name value" lines for CONTROL quota (store.c). */
int xs_quota_format(const struct xs_quota *q, struct buf *out)
	__attribute__((warn_unused_result));

#endif
