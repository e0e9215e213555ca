/* SPDX-License-Identifier: MIT */
/*
 * The domain's event loop: one thread with one epoll for everything that
 * is not a vCPU — timers, the XenStore connection, backends.  A source is
 * an fd and a callback run on the loop thread when the fd is readable.
 * Sources live in their owner's memory and are added before the loop
 * starts or from any thread after; callbacks take their own locks.
 */
#ifndef XENIA_VMM_LOOP_H
#define XENIA_VMM_LOOP_H

#include <pthread.h>
#include <stdbool.h>

struct domain;
struct epoll_event;
struct loop_source;

typedef void loop_fn(struct domain *d, struct loop_source *s);

struct loop_source {
	int fd;
	loop_fn *fn;
	void *arg; /* the owner's */
};

struct loop {
	int epoll_fd;
	int stop_fd;
	struct loop_source stop;
	pthread_t thread;
	bool started;
	/* The batch being dispatched: loop_del() clears what it removes. */
	struct epoll_event *batch;
	int batch_n;
};

/* Sets every fd to -1: loop_destroy() is safe from then on. */
void loop_clear(struct loop *l);
int loop_init(struct loop *l) __attribute__((warn_unused_result));
int loop_add(struct loop *l, struct loop_source *s)
	__attribute__((warn_unused_result));
/*
 * Removes s.  From a callback on the loop thread, s may be freed at once:
 * an event of the same batch for it is dropped, not delivered.
 */
void loop_del(struct loop *l, struct loop_source *s);
/* Starts the thread, with every signal blocked (they are the vCPUs'). */
int loop_start(struct loop *l, struct domain *d)
	__attribute__((warn_unused_result));
/* Stops and joins the thread, closes the loop's own fds. */
void loop_destroy(struct loop *l);

#endif
