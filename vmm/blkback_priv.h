/* SPDX-License-Identifier: MIT */
/*
 * What blkback.c (ring, requests, lifecycle) and blkback_io.c (io_uring,
 * ordering, completions) share.  Not for other files: blkback.h is the
 * interface.
 */
#ifndef XENIA_VMM_BLKBACK_PRIV_H
#define XENIA_VMM_BLKBACK_PRIV_H

#include <liburing.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "blkback.h"
#include "log.h"

/* ring.h leaves the barriers to its user. */
#define xen_mb() __atomic_thread_fence(__ATOMIC_SEQ_CST)
#define xen_rmb() __atomic_thread_fence(__ATOMIC_ACQUIRE)
#define xen_wmb() __atomic_thread_fence(__ATOMIC_RELEASE)

#include <xen/io/blkif.h>

#define BLKBACK_PAGE 4096u
#define BLKBACK_SECTORS_PER_PAGE (BLKBACK_PAGE / BLKBACK_SECTOR_SIZE)
#define BLKBACK_SEGS_PER_PAGE                                                  \
	(BLKBACK_PAGE / sizeof(struct blkif_request_segment))
#define BLKBACK_MAX_INDIRECT_PAGES                                             \
	((BLKBACK_MAX_INDIRECT_SEGS + BLKBACK_SEGS_PER_PAGE - 1) /             \
	 BLKBACK_SEGS_PER_PAGE)
/* Slots of the biggest ring: the most requests in flight on one disk. */
#define BLKBACK_MAX_RING_ENTRIES                                               \
	__CONST_RING_SIZE(blkif, (BLKBACK_MAX_RING_PAGES * BLKBACK_PAGE))
/* Segments of one request, direct or indirect. */
#define BLKBACK_MAX_SEGS BLKBACK_MAX_INDIRECT_SEGS
#define BLKBACK_NONE UINT32_MAX

/* What a request does, whatever its operation code. */
enum blkback_kind {
	BLKBACK_READ,
	BLKBACK_WRITE,
	BLKBACK_FLUSH,	 /* earlier writes done, [data], fdatasync */
	BLKBACK_BARRIER, /* everything drained, [data], fdatasync */
	BLKBACK_DISCARD,
};

/* Where a request in flight is (blkback_io.c has the transitions). */
enum blkback_phase {
	BLKBACK_FREE,
	BLKBACK_WAIT_WRITES, /* a flush behind writes in flight */
	BLKBACK_WAIT_DRAIN,  /* a barrier behind anything in flight */
	BLKBACK_DATA,	     /* readv/writev submitted */
	BLKBACK_SYNC,	     /* fdatasync submitted */
	BLKBACK_PUNCH,	     /* fallocate submitted */
};

/* A request in flight: one slot per ring entry. */
struct blkback_req {
	uint64_t id;
	uint64_t offset;   /* on the disk, bytes */
	uint64_t len;	   /* data (or discard) bytes */
	uint64_t done;	   /* data bytes transferred so far */
	uint64_t seq;	   /* writes: order of arrival */
	uint64_t wait_seq; /* a flush: writes up to this one first */
	struct iovec *iov; /* BLKBACK_MAX_SEGS; advanced on short I/O */
	struct gnttab_mapping *maps;
	uint16_t nr_maps;
	uint16_t nr_iov;
	uint16_t iov_first;
	uint8_t op; /* echoed in the response */
	uint8_t kind;
	uint8_t phase;
	bool writes; /* changes the disk: later flushes wait for it */
	uint32_t next_free;
};

struct blkback {
	struct blkback_env env;
	char name[64];
	struct log_ratelimit rl;

	/* The image. */
	int fd;
	bool readonly;
	bool is_blkdev;
	bool can_discard;
	uint64_t sectors;
	uint32_t discard_granularity;

	/* I/O: the ring's completions signal efd, a loop source. */
	struct io_uring uring;
	bool uring_ready;
	int efd;
	struct loop_source efd_src;
	bool efd_added;

	/* The frontend's ring, while connected. */
	bool connected;
	bool serving;	    /* taking requests */
	bool broken;	    /* the frontend broke the protocol */
	bool disconnecting; /* waiting for the last request in flight */
	bool closing;
	unsigned int nr_ring_pages;
	struct gnttab_mapping ring_maps[BLKBACK_MAX_RING_PAGES];
	blkif_back_ring_t ring; /* sring: page 0; nr_ents: the whole ring */
	bool rsp_unpushed;

	/* Requests in flight. */
	struct blkback_req *reqs; /* ring.nr_ents of them */
	struct iovec *iov_pool;
	struct gnttab_mapping *map_pool;
	uint32_t free_head;
	uint32_t in_flight;
	uint32_t writes_in_flight;
	uint32_t flushes_waiting;
	uint64_t write_seq;
	bool barrier; /* a barrier is waiting or running: take nothing */
	uint32_t barrier_slot;

	struct blkback_stats st;
};

/* blkback.c */
void blkback_respond(struct blkback *b, uint64_t id, uint8_t op,
		     int16_t status);
void blkback_consume(struct blkback *b);
void blkback_settle(struct blkback *b);
void blkback_release(struct blkback *b);

/* blkback_io.c */
int blkback_io_init(struct blkback *b) __attribute__((warn_unused_result));
void blkback_io_destroy(struct blkback *b);
int blkback_reqs_alloc(struct blkback *b) __attribute__((warn_unused_result));
void blkback_reqs_free(struct blkback *b);
struct blkback_req *blkback_req_get(struct blkback *b);
void blkback_req_put(struct blkback *b, struct blkback_req *r);
void blkback_unmap(struct blkback *b, struct blkback_req *r);
/* A mapped, checked request goes: now, or behind earlier I/O. */
void blkback_io_start(struct blkback *b, struct blkback_req *r);
void blkback_io_submit(struct blkback *b);
/* Come back through the loop (the completion eventfd) for more. */
void blkback_io_rekick(struct blkback *b);

#endif
