/* SPDX-License-Identifier: MIT */
/*
 * The XenStore library: the tree, permissions, watches, transactions,
 * quotas and the durable journal, behind Xen's wire protocol.
 *
 * It does no I/O of its own apart from the journal.  A transport (a Unix
 * socket, a guest's ring page) creates a connection with the domain id it
 * speaks for, feeds it the bytes it receives and drains what the store
 * queues for it.  The same code therefore serves the daemon, unit tests
 * (which feed messages in-process) and the fuzz harness.
 */
#ifndef XENIA_XS_STORE_H
#define XENIA_XS_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct xs_store;
struct xs_conn;
struct xs_journal;

/* Limits that apply to unprivileged domains, with Xen's C daemon defaults. */
struct xs_quota {
	uint32_t nodes;		  /* nodes a domain may own: 1000 */
	uint32_t node_size;	  /* bytes in one node record: 2048 */
	uint32_t watches;	  /* per connection: 128 */
	uint32_t transactions;	  /* open at once per connection: 10 */
	uint32_t txn_nodes;	  /* nodes touched by one transaction: 1024 */
	uint32_t perms;		  /* entries in one permission list: 5 */
	uint32_t outstanding;	  /* replies not yet taken by the guest: 20 */
	uint32_t path_max;	  /* characters below /local/domain/N/: 2048 */
	uint32_t event_queue_max; /* bytes of queued events per guest */
};

void xs_quota_defaults(struct xs_quota *q);
/* Set one quota from "name=value"; 0 or -EINVAL. */
int xs_quota_parse(struct xs_quota *q, const char *arg)
	__attribute__((warn_unused_result));

struct xs_conn_ops {
	const char *kind; /* for log messages */
	/* Output is queued: send it now or when the transport can. */
	void (*flush)(struct xs_conn *c);
};

struct xs_store *xs_store_new(const struct xs_quota *q);
void xs_store_free(struct xs_store *s);

/*
 * Open the journal in `dir` (created if missing) and load the tree from it.
 * `sync` asks for fdatasync before replies are released.  0 or -errno.
 */
int xs_store_open_journal(struct xs_store *s, const char *dir, bool sync)
	__attribute__((warn_unused_result));
/* Write a fresh snapshot and an empty log (clean shutdown). */
int xs_store_checkpoint(struct xs_store *s) __attribute__((warn_unused_result));
/*
 * Write the journal records of the changes made so far (and fdatasync with
 * `sync`).  xs_store_flush() does this before any output leaves, so a reply
 * never announces a change that is not in the journal.  0 or -errno.
 */
int xs_store_commit(struct xs_store *s) __attribute__((warn_unused_result));

/* Commit, then ask each connection with queued output to flush it. */
void xs_store_flush(struct xs_store *s);

struct xs_conn *xs_conn_new(struct xs_store *s, uint32_t domid,
			    const struct xs_conn_ops *ops, void *opaque);
void xs_conn_free(struct xs_conn *c);
void *xs_conn_opaque(const struct xs_conn *c);
/* The peer broke the protocol: flush what is queued, then close. */
bool xs_conn_closing(const struct xs_conn *c);

/*
 * Input: the transport writes up to *room bytes at the returned pointer and
 * then calls xs_conn_input_done() with the count, which processes every
 * complete message.  *room is 0 while the connection must not read (too many
 * replies waiting for the client): read again after the next flush.
 */
uint8_t *xs_conn_input_space(struct xs_conn *c, size_t *room);
/* 0, or a negative errno when the peer broke the protocol: close it. */
int xs_conn_input_done(struct xs_conn *c, size_t n)
	__attribute__((warn_unused_result));
/* Process buffered input held back by the outstanding-request limit. */
int xs_conn_resume(struct xs_conn *c) __attribute__((warn_unused_result));

/* Output: the bytes waiting to be sent; consume what was sent. */
const uint8_t *xs_conn_output(struct xs_conn *c, size_t *len);
void xs_conn_output_done(struct xs_conn *c, size_t n);
/* Drop watches and transactions, as a ring reconnect does. */
void xs_conn_reset(struct xs_conn *c);
/* Forget partially received input (ring reconnect). */
void xs_conn_discard_input(struct xs_conn *c);

/*
 * The hypervisor side of a domain.  Registering attaches nothing by itself;
 * the ring connection exists once the domain is both registered and
 * introduced (XS_INTRODUCE names the ring page and event channel).  The
 * attach callback receives the ring gfn; it returns the new connection or
 * NULL.
 */
struct xs_domain_hooks {
	struct xs_conn *(*attach)(void *opaque, uint32_t domid, uint64_t gfn,
				  uint32_t port);
	void (*detach)(void *opaque, uint32_t domid, struct xs_conn *c);
	void *opaque;
};

void xs_store_set_domain_hooks(struct xs_store *s,
			       const struct xs_domain_hooks *h);
/* The hypervisor runs this domain (0, -EINVAL, -EEXIST, -ENOMEM). */
int xs_domain_register(struct xs_store *s, uint32_t domid)
	__attribute__((warn_unused_result));
/*
 * The hypervisor says the domain is gone: its ring and (unless orphans are
 * kept) every node it owned go, and @releaseDomain fires.
 */
void xs_domain_unregister(struct xs_store *s, uint32_t domid);
/* Keep the nodes of dead domains (xenstored --keep-orphans). */
void xs_store_keep_orphans(struct xs_store *s, bool keep);

#endif
