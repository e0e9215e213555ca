/*
 * XenStore client of the test guest (xenbus), over the ring page named by
 * HVM_PARAM_STORE_PFN and its event channel HVM_PARAM_STORE_EVTCHN
 * (xen/io/xs_wire.h).  Frontends build on it.
 *
 * Every call sends one request and waits (bounded) for its reply; watch
 * events that arrive meanwhile are queued for xenbus_wait_event().  Paths
 * are absolute, or relative to the domain's home /local/domain/<id>.
 * Results are 0 (or a length or count, as said) or a negative Xen errno:
 * the server's error names mapped (-XEN_EACCES, -XEN_ENOENT, -XEN_EAGAIN,
 * -XEN_EINVAL, -XEN_E2BIG, -XEN_ENOSPC for a quota...), and locally
 * -XEN_ENOENT (no store), -XEN_E2BIG (request over XENSTORE_PAYLOAD_MAX),
 * -XEN_ENOBUFS (reply larger than the caller's buffer), -XEN_ETIMEDOUT,
 * -XEN_EIO (the server broke the protocol; the connection is dead).
 *
 * Not reentrant: call from one vCPU at a time, never from an upcall, with
 * interrupts enabled (waits leave them enabled).
 */
#ifndef GUEST_XENBUS_H
#define GUEST_XENBUS_H

#include <stddef.h>
#include <stdint.h>
#include "xen.h"
#include <xen/io/xs_wire.h>

/* A transaction id; XENBUS_TX_NONE outside any transaction. */
typedef uint32_t xenbus_tx_t;
#define XENBUS_TX_NONE 0

/* How long one request may wait for its reply. */
#define XENBUS_TIMEOUT_NS 10000000000ull

/* One permission entry: access is 'n', 'r', 'w' or 'b' (both). */
struct xenbus_perm {
	uint32_t domid;
	char access;
};

/* 0, or -XEN_ENOENT when the domain has no XenStore ring. */
int xenbus_init(void);
/* The store's event channel (0 before xenbus_init succeeded). */
evtchn_port_t xenbus_port(void);

/* Watch events dropped because the queue was full or one was too long. */
extern unsigned int xenbus_events_dropped;

/*
 * Sends one raw request (payload as given, at most XENSTORE_PAYLOAD_MAX
 * bytes) and copies the reply's payload into reply (NUL-terminated; may
 * be NULL if size is 0): its length, or a negative errno.
 */
int xenbus_request(uint32_t type, xenbus_tx_t tx, const void *payload,
		   size_t len, char *reply, size_t size);

/* The value, NUL-terminated in buf: its length (it may hold NULs). */
int xenbus_read(xenbus_tx_t tx, const char *path, char *buf, size_t size);
/* A decimal value; -XEN_EINVAL if it is not one. */
int xenbus_read_uint(xenbus_tx_t tx, const char *path, unsigned long *val);

int xenbus_write(xenbus_tx_t tx, const char *path, const char *value);
int xenbus_write_bytes(xenbus_tx_t tx, const char *path, const void *value,
		       size_t len);
int xenbus_printf(xenbus_tx_t tx, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int xenbus_mkdir(xenbus_tx_t tx, const char *path);
/* Removes the node and everything below it. */
int xenbus_rm(xenbus_tx_t tx, const char *path);

/*
 * The names of path's children, each NUL-terminated, one after the other
 * in buf: how many there are.
 */
int xenbus_directory(xenbus_tx_t tx, const char *path, char *buf, size_t size);

/* Entry 0 is the owner and the default: the number of entries. */
int xenbus_get_perms(xenbus_tx_t tx, const char *path,
		     struct xenbus_perm *perms, unsigned int max);
int xenbus_set_perms(xenbus_tx_t tx, const char *path,
		     const struct xenbus_perm *perms, unsigned int n);

/* The home of domain domid ("/local/domain/<domid>"): its length. */
int xenbus_get_domain_path(unsigned int domid, char *buf, size_t size);

/*
 * A watch on path and everything below it.  The server fires it once when
 * it is set, then on every change.
 */
int xenbus_watch(const char *path, const char *token);
/* Also drops the events of that token still queued. */
int xenbus_unwatch(const char *path, const char *token);
/*
 * Takes the oldest queued watch event, waiting up to timeout_ns (0: only
 * what has arrived) in SCHEDOP_poll on the store port.  0 with the path
 * and token copied out; -XEN_ETIMEDOUT if none came; -XEN_ENOBUFS if they
 * did not fit (the event is consumed).
 */
int xenbus_wait_event(char *path, size_t path_size, char *token,
		      size_t token_size, uint64_t timeout_ns);

int xenbus_transaction_start(xenbus_tx_t *tx);
/*
 * Commits (commit != 0) or aborts.  -XEN_EAGAIN: a node it touched was
 * changed meanwhile, nothing was applied; start again.
 */
int xenbus_transaction_end(xenbus_tx_t tx, int commit);

#endif
