/* SPDX-License-Identifier: MIT */
/*
 * A domain's XenStore ring (struct xenstore_domain_interface, xs_wire.h) as
 * a connection of the store.  The page is mapped by the caller; two
 * eventfds stand in for the store event channel: `kick_fd` is signalled
 * when the guest notifies us, `notify_fd` is ours to signal the guest.
 */
#ifndef XENIA_XS_RING_H
#define XENIA_XS_RING_H

#include <stdint.h>

struct xs_store;
struct xs_conn;
struct xs_ring;

struct xs_ring *xs_ring_new(struct xs_store *s, uint32_t domid, void *page,
			    int kick_fd, int notify_fd);
/* Frees the connection; the page and the fds stay the caller's. */
void xs_ring_free(struct xs_ring *r);
struct xs_conn *xs_ring_conn(struct xs_ring *r);
/* The guest notified us: take requests, give replies, handle reconnect. */
void xs_ring_kick(struct xs_ring *r);

#endif
