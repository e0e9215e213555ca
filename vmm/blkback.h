/* SPDX-License-Identifier: MIT */
/*
 * The block backend (xen/io/blkif.h): one virtual disk, backed by a raw
 * image file (sparse or not) or a block device, read-only or read-write,
 * served to one frontend over a shared ring of 1..16 pages.  READ, WRITE,
 * WRITE_BARRIER, FLUSH_DISKCACHE, DISCARD (punched holes, regular files
 * only) and INDIRECT (up to BLKBACK_MAX_INDIRECT_SEGS segments) requests,
 * performed asynchronously with io_uring so that a slow request does not
 * hold up the others.  docs/devices.md, "Block backend", has the details.
 *
 * This is the engine; the xenbus glue drives it:
 *
 *   blkback_open()        the image, at device creation
 *   blkback_features()    the backend's XenStore keys, before InitWait
 *   blkback_connect()     the frontend's ring-ref(s) and protocol
 *   blkback_kick()        the frontend's event channel fired
 *   blkback_disconnect()  the frontend is closing (or misbehaved)
 *   blkback_close()       the device goes away
 *
 * Every call is made on the domain's event loop thread (or, before the
 * loop starts and after it stops, on one thread).  Guest memory is reached
 * only through env->gnttab: the ring pages and each request's segments are
 * mapped with the access the request needs and unmapped when it is done.
 */
#ifndef XENIA_VMM_BLKBACK_H
#define XENIA_VMM_BLKBACK_H

#include <stdbool.h>
#include <stdint.h>

#include "gnttab.h"
#include "loop.h"
#include "xen.h"

#define BLKBACK_SECTOR_SIZE 512u
/* max-ring-page-order: 16 pages, what Linux frontends may ask for. */
#define BLKBACK_MAX_RING_ORDER 4u
#define BLKBACK_MAX_RING_PAGES (1u << BLKBACK_MAX_RING_ORDER)
/* feature-max-indirect-segments: one indirect page's worth and less. */
#define BLKBACK_MAX_INDIRECT_SEGS 256u

struct blkback;

enum blkback_event {
	/* The frontend broke the ring protocol: the ring is not served. */
	BLKBACK_EV_BROKEN,
	/* A disconnect that returned -EINPROGRESS has finished. */
	BLKBACK_EV_DISCONNECTED,
};

struct blkback_env {
	/*
	 * Open the image without its lock (an incoming migration: the
	 * source holds it until the handover; blkback_lock() then).
	 */
	bool unlocked;
	const struct gnttab_ops *gnttab; /* the frontend's grants */
	void *gnttab_ctx;
	/* Raises the frontend's event channel (evtchn_backend_notify). */
	void (*notify)(void *ctx);
	/*
	 * Optional: told on the loop thread, from blkback_kick() or a
	 * completion (never from connect or disconnect).  It may call
	 * blkback_disconnect() or blkback_connect(), not blkback_close().
	 */
	void (*event)(void *ctx, enum blkback_event ev);
	void *ctx;
	/*
	 * I/O completions arrive on this loop.  NULL: none is used, and the
	 * owner reaps them with blkback_wait() (tests, fuzzing, benches).
	 */
	struct loop *loop;
	const char *name; /* for log messages, e.g. "dom 3 vbd 51712" */
};

struct blkback_stats {
	uint64_t requests;	/* taken off the ring */
	uint64_t errors;	/* answered other than BLKIF_RSP_OKAY */
	uint64_t notifications; /* event-channel sends to the frontend */
	uint64_t reads, writes, flushes, discards;
	uint64_t bytes_read, bytes_written;
	uint32_t in_flight;
	bool connected;
	bool broken;
};

/*
 * Opens the image at path (a regular file or a block device; O_RDONLY if
 * readonly) and its io_uring.  The image is locked (flock: shared when
 * read-only, exclusive otherwise) so that two writers cannot share it.
 * 0, or -errno with a message logged: -EINVAL (not a file or block
 * device), -EBUSY (locked by another user), -ENOMEM, or what open(2) or
 * io_uring_queue_init() said.  env is copied.
 */
int blkback_open(struct blkback **b, const char *path, bool readonly,
		 const struct blkback_env *env)
    __attribute__((warn_unused_result));

/*
 * The backend's keys for its XenStore directory: sectors, sector-size,
 * info, mode, feature-flush-cache, feature-barrier, feature-discard (+
 * discard-granularity, discard-alignment), feature-max-indirect-segments,
 * max-ring-page-order.
 */
/*
 * The image's lock: exclusive for a writable disk, shared for a
 * read-only one, so two writers never meet.  blkback_lock: 0, or -EBUSY
 * when another process holds it.  Both for a migration's handover.
 */
int blkback_lock(struct blkback *b) __attribute__((warn_unused_result));
void blkback_unlock(struct blkback *b);
/* fdatasync of a writable image.  0 or -errno. */
int blkback_sync(struct blkback *b) __attribute__((warn_unused_result));
/* The host's cached pages of the image dropped (another host wrote it). */
void blkback_drop_cache(struct blkback *b);

void blkback_features(struct blkback *b,
		      void (*put)(void *ctx, const char *key,
				  const char *value),
		      void *ctx);

/*
 * Maps the frontend's ring (nr_ring_pages grant references, page order)
 * and starts serving it.  protocol is the frontend's "protocol" key, NULL
 * or "" when absent.  0, -EPROTONOSUPPORT (not the native x86_64 ABI),
 * -EINVAL (page count not a power of two up to BLKBACK_MAX_RING_PAGES),
 * -EBUSY (connected, or an earlier disconnect is still draining),
 * -ENOMEM, or the grant error of a ring page (gnttab.h).
 */
int blkback_connect(struct blkback *b, const grant_ref_t *ring_refs,
		    unsigned int nr_ring_pages, const char *protocol)
    __attribute__((warn_unused_result));

/* The frontend notified us: take its new requests (the first ones too). */
void blkback_kick(struct blkback *b);

/*
 * Stops taking requests.  0 when nothing was in flight: every grant is
 * released.  -EINPROGRESS otherwise: the requests in flight complete and
 * are answered on the loop, the grants are released after the last one,
 * and env->event(BLKBACK_EV_DISCONNECTED) is called; env->notify may be
 * called until then.  Never waits for I/O.
 */
int blkback_disconnect(struct blkback *b);

/*
 * Reaps I/O completions, waiting up to timeout_ms (0: do not wait, -1:
 * until one arrives) for the first; returns the number of requests still
 * in flight.  For owners without a loop, and blkback_close.
 */
unsigned int blkback_wait(struct blkback *b, int timeout_ms);

void blkback_get_stats(const struct blkback *b, struct blkback_stats *st);

/*
 * Save and restore (docs/migration-stream.md).  quiesce: takes no more
 * requests and waits (reaping completions itself: call it on the loop
 * thread) until none is in flight, every response pushed; -ETIMEDOUT if
 * the disk does not answer in 30 s.  unquiesce: serves again, and takes
 * what the frontend queued meanwhile.
 *
 * ring_get: a connected ring's private indexes, quiesced (req_cons ==
 * rsp_prod_pvt then).  ring_set: right after blkback_connect(), before
 * any kick: continues a saved ring at those indexes; -EINVAL unless they
 * are equal (requests in flight cannot be carried), -ENOTCONN.
 */
int blkback_quiesce(struct blkback *b) __attribute__((warn_unused_result));
void blkback_unquiesce(struct blkback *b);
int blkback_ring_get(const struct blkback *b, uint32_t *req_cons,
		     uint32_t *rsp_prod_pvt)
    __attribute__((warn_unused_result));
int blkback_ring_set(struct blkback *b, uint32_t req_cons,
		     uint32_t rsp_prod_pvt) __attribute__((warn_unused_result));

/*
 * Disconnects, waits for the I/O in flight (it must finish before its
 * pages can be given back), syncs a writable image and frees everything.
 * NULL is fine.
 */
void blkback_close(struct blkback *b);

#endif
