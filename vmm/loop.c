/* SPDX-License-Identifier: MIT */
#include "loop.h"

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

#define LOOP_EVENTS 16

void loop_clear(struct loop *l)
{
	l->epoll_fd = -1;
	l->stop_fd = -1;
	l->started = false;
	l->batch = NULL;
	l->batch_n = 0;
}

int loop_init(struct loop *l)
{
	l->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	l->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (l->epoll_fd < 0 || l->stop_fd < 0) {
		log_err("loop: epoll/eventfd");
		return -errno;
	}
	/* fn NULL: the thread's signal to end. */
	l->stop.fd = l->stop_fd;
	l->stop.fn = NULL;
	return loop_add(l, &l->stop);
}

int loop_add(struct loop *l, struct loop_source *s)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = s};

	if (epoll_ctl(l->epoll_fd, EPOLL_CTL_ADD, s->fd, &ev) < 0) {
		log_err("loop: epoll_ctl add fd %d", s->fd);
		return -errno;
	}
	return 0;
}

void loop_del(struct loop *l, struct loop_source *s)
{
	int i;

	if (l->epoll_fd >= 0 && s->fd >= 0)
		(void)epoll_ctl(l->epoll_fd, EPOLL_CTL_DEL, s->fd, NULL);
	/*
	 * A callback removing (and freeing) another source whose event is
	 * later in this batch: that event must not reach freed memory.
	 */
	if (l->started && pthread_equal(l->thread, pthread_self()) &&
	    l->batch)
		for (i = 0; i < l->batch_n; i++)
			if (l->batch[i].data.ptr == s)
				l->batch[i].data.ptr = NULL;
}

/* The loop's CPU time: what the backends and timers cost the host. */
static void loop_report_cpu(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) == 0)
		log_info("loop: %.3f ms of CPU",
			 (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6);
}

struct loop_thread_arg {
	struct loop *l;
	struct domain *d;
};

static void *loop_thread(void *arg)
{
	struct loop_thread_arg a = *(struct loop_thread_arg *)arg;
	struct epoll_event ev[LOOP_EVENTS];
	struct loop_source *s;
	int i, n;

	free(arg);
	/* Visible in top -H and perf: the backends' and timers' thread. */
	pthread_setname_np(pthread_self(), "xenia-loop");
	for (;;) {
		n = epoll_wait(a.l->epoll_fd, ev, LOOP_EVENTS, -1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			log_err("loop: epoll_wait");
			return NULL;
		}
		a.l->batch = ev;
		a.l->batch_n = n;
		for (i = 0; i < n; i++) {
			s = ev[i].data.ptr;
			if (!s)
				continue; /* removed by an earlier callback */
			if (!s->fn) {
				a.l->batch = NULL;
				loop_report_cpu();
				return NULL;
			}
			s->fn(a.d, s);
		}
		a.l->batch = NULL;
	}
}

int loop_start(struct loop *l, struct domain *d)
{
	struct loop_thread_arg *a = malloc(sizeof(*a));
	sigset_t all, old;
	int rc;

	if (!a)
		return -ENOMEM;
	a->l = l;
	a->d = d;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = -pthread_create(&l->thread, NULL, loop_thread, a);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc < 0) {
		free(a);
		errno = -rc;
		log_err("loop: pthread_create");
		return rc;
	}
	l->started = true;
	return 0;
}

void loop_destroy(struct loop *l)
{
	uint64_t one = 1;

	if (l->started) {
		if (write(l->stop_fd, &one, sizeof(one)) < 0)
			log_warn("loop: stopping the thread");
		pthread_join(l->thread, NULL);
		l->started = false;
	}
	if (l->epoll_fd >= 0)
		close(l->epoll_fd);
	if (l->stop_fd >= 0)
		close(l->stop_fd);
	loop_clear(l);
}
