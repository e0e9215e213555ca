/*
 * Block frontend of the test guest (xen/io/blkif.h): finds the domain's
 * virtual disks under device/vbd, walks the xenbus state machine
 * (xen/io/xenbus.h) through connect, disconnect and reconnect, and does
 * synchronous I/O through data pages granted to the backend for the
 * length of each request.
 *
 * Devices live in a static table (the guest has no allocator), with
 * their ring pages.  Buffers are identity-mapped guest memory, aligned to
 * a sector (512 bytes); a page boundary splits a segment.  Results are 0
 * or a negative Xen errno: -XEN_EIO for a BLKIF_RSP_ERROR (the status is
 * in last_status), -XEN_EOPNOTSUPP for BLKIF_RSP_EOPNOTSUPP or a feature
 * the backend does not offer, -XEN_ETIMEDOUT when the backend did not
 * answer (the device is then broken: its grants stay until a
 * disconnect), -XEN_ENOTCONN when not connected.
 *
 * Not reentrant, like xenbus: one vCPU, interrupts enabled, not in an
 * upcall.
 */
#ifndef GUEST_BLKFRONT_H
#define GUEST_BLKFRONT_H

#include <stddef.h>
#include <stdint.h>
#include "lib.h"
#include "xbdev.h"
#include "xen.h"

/* ring.h leaves the barriers to the guest (interface version >= 3.2.8). */
#ifndef xen_mb
#define xen_mb() __atomic_thread_fence(__ATOMIC_SEQ_CST)
#define xen_rmb() __atomic_thread_fence(__ATOMIC_ACQUIRE)
#define xen_wmb() __atomic_thread_fence(__ATOMIC_RELEASE)
#endif
#include <xen/grant_table.h>
#include <xen/io/blkif.h>
#include <xen/io/xenbus.h>

#define BLKFRONT_MAX_DEVS 4
/* Ring pages we can offer: order 2, whatever the backend allows. */
#define BLKFRONT_MAX_RING_ORDER 2
#define BLKFRONT_MAX_RING_PAGES (1u << BLKFRONT_MAX_RING_ORDER)
/* Requests one call keeps in flight. */
#define BLKFRONT_MAX_INFLIGHT 8
/* Segments of one indirect request (one indirect page holds 512). */
#define BLKFRONT_IND_SEGS 64
#define BLKFRONT_SECTOR 512u
/* How long the backend may take to answer or change state. */
#define BLKFRONT_TIMEOUT_NS 10000000000ull

#define XENIA_DEVID_XVDA 51712
#define XENIA_DEVID_XVDB 51728

struct blkfront {
	/* devid, paths, backend, connected/broken/have_ring, port. */
	struct xbdev xb;

	/* From the backend's directory, read when it says Connected. */
	uint64_t sectors;
	unsigned int sector_size;
	unsigned int info;
	int readonly;
	int feature_flush, feature_barrier, feature_discard;
	unsigned long discard_granularity;
	unsigned long max_indirect_segs;
	unsigned long max_ring_order; /* read at InitWait */

	/* The connection. */
	unsigned int ring_order;
	unsigned int nr_ring_pages;
	grant_ref_t ring_refs[BLKFRONT_MAX_RING_PAGES];
	struct blkif_sring *sring;
	blkif_front_ring_t ring;
	uint32_t next_gen;

	/* Set before a call: indirect requests when the backend has them. */
	int use_indirect;
	/*
	 * For hostile tests: connect writes these instead of the real
	 * ring-ref (or ring-ref0) and event-channel when non-zero.
	 */
	grant_ref_t bad_ring_ref;
	evtchn_port_t bad_port;

	/* The first status other than BLKIF_RSP_OKAY of the last call. */
	int16_t last_status;
	unsigned int requests, responses, grants_stuck;
};

/*
 * Lists device/vbd: the number of disks (each gets an entry), or a
 * negative errno (-XEN_ENOENT: no XenStore).  Needs xenbus_init() done
 * and interrupts on; places the grant table if nobody has.
 */
int blkfront_probe(void);
/* A probed disk by its devid, or NULL. */
struct blkfront *blkfront_get(unsigned int devid);
/* Probed disk i (0..count-1), or NULL. */
struct blkfront *blkfront_dev(unsigned int i);

/*
 * Connects: Initialising (from Closed, after a disconnect) and InitWait,
 * a ring of 1 << min(ring_order, max-ring-page-order, ours) pages, its
 * event channel, Initialised, the backend's Connected, its keys, then
 * Connected.  -XEN_EIO when the backend went Closing/Closed instead
 * (its `error` node says why); call blkfront_disconnect() then.
 */
int blkfront_connect(struct blkfront *d, unsigned int ring_order);
/*
 * The Closing/Closed handshake; once the backend says Closed (it holds
 * none of our pages), the grants are ended and the port closed.  Works
 * from any state, so it also cleans up after a failed connect or a
 * broken ring.
 */
int blkfront_disconnect(struct blkfront *d);
/* The backend's `state`, or -errno. */
int blkfront_backend_state(struct blkfront *d);
/*
 * Waits until the backend's state is one in mask (1 << XenbusState...):
 * that state, or -XEN_ETIMEDOUT.
 */
int blkfront_wait_backend(struct blkfront *d, unsigned int mask,
			  uint64_t timeout_ns);
int blkfront_set_state(struct blkfront *d, enum xenbus_state s);

/* nsect sectors at sector, from or into buf (512-byte aligned). */
int blkfront_read(struct blkfront *d, uint64_t sector, void *buf,
		  unsigned long nsect);
int blkfront_write(struct blkfront *d, uint64_t sector, const void *buf,
		   unsigned long nsect);
/* FLUSH_DISKCACHE, else WRITE_BARRIER, else -XEN_EOPNOTSUPP. */
int blkfront_flush(struct blkfront *d);
int blkfront_discard(struct blkfront *d, uint64_t sector, uint64_t nsect);

/*
 * Puts req into the next slot as it is, pushes, notifies and waits for
 * the next response, copied to rsp.  0, -XEN_ETIMEDOUT, or -XEN_EIO for
 * a response index the backend cannot have meant.  For hostile tests:
 * the caller grants (and ends) whatever req names.
 */
int blkfront_submit_raw(struct blkfront *d, const struct blkif_request *req,
			struct blkif_response *rsp);

/* Reads a key of the backend's directory into buf: its length or -errno. */
int blkfront_backend_read(struct blkfront *d, const char *key, char *buf,
			  size_t size);

#endif
