/* SPDX-License-Identifier: MIT */
/*
 * What save.c shares with migrate_send.c: a save under way and the steps
 * both a file and a migration take.  See save.c for the threads.
 */
#ifndef XENIA_VMM_SAVE_PRIV_H
#define XENIA_VMM_SAVE_PRIV_H

#include <limits.h>
#include <pthread.h>

#include <json-c/json.h>

#include "domain.h"
#include "migrate.h"

enum save_stage {
	SAVE_PAUSING,	/* the thread pauses the domain */
	SAVE_GATHERING, /* paused: the loop gathers the state */
	SAVE_WRITING,	/* the thread writes the file */
	SAVE_DONE,	/* the loop finishes */
};

struct save_job {
	struct domain *d;
	char path[PATH_MAX]; /* empty for a migration */
	char tmp[PATH_MAX + 16];
	bool checkpoint, compress, was_paused;
	/* A migration: the connection (ours), and how to go about it. */
	int fd;
	bool live;
	uint64_t downtime_ms;
	unsigned int max_rounds;
	uint64_t pause_ms; /* when the domain was paused for good */
	uint64_t pause_us; /* the same, CLOCK_MONOTONIC in us */
	bool peer_built;   /* the destination said BUILT */
	json_object *config; /* the caller's, then the whole CONFIG */
	save_done_fn *done;
	void *arg;
	int efd;
	struct loop_source src;
	pthread_t thread;
	bool thread_started;
	/* Between the thread and the loop. */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	enum save_stage stage;
	bool gathered;
	bool abort;
	struct migrate_progress progress; /* under lock */
	/* The loop's. */
	bool quiesced;
	/* Gathered on the loop, written by the thread. */
	struct buf vmm_state;
	char *config_text, *xenstore_text;
	char *devices[STREAM_DEVICES_MAX];
	unsigned int nr_devices;
	uint64_t t0_ms;
	int rc;
	char err[256];
	struct save_result res;
};

/* The first error wins; later ones are consequences. */
void save_error(struct save_job *job, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
bool save_aborted(struct save_job *job);
/*
 * Save thread: pauses the domain and has the loop gather its state.
 * 0, or -errno with the reason in job->err.
 */
int save_pause_gather(struct save_job *job);
/* Every page of RAM (the balloon's aside), in pfn order. */
int save_pages(struct save_job *job, struct stream_writer *w)
    __attribute__((warn_unused_result));
/* The pages of bitmap (a bit per pfn); given-back ones as zeros. */
int save_pages_of(struct save_job *job, struct stream_writer *w,
		  const uint64_t *bitmap) __attribute__((warn_unused_result));
/* VMM_STATE, DEVICE..., XENSTORE and END: what follows the pages. */
int save_put_state(struct save_job *job, struct stream_writer *w)
    __attribute__((warn_unused_result));

/* migrate_send.c: a migration over job->fd, on the save thread. */
void migrate_send(struct save_job *job);

#endif
