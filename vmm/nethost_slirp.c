/* SPDX-License-Identifier: MIT */
/*
 * A vif's host side as libslirp user-mode networking (nethost.h): no
 * root, no bridge.  The guest is 10.0.2.15 on 10.0.2.0/24; 10.0.2.2 is
 * the gateway (and the host's loopback), 10.0.2.3 the DNS server; DHCP
 * hands out 10.0.2.15 onwards, as QEMU's `-netdev user` does.
 *
 * Driving slirp from an epoll loop.  libslirp is poll()-shaped: before
 * sleeping, slirp_pollfds_fill() lists the fds it wants watched (and
 * lowers a timeout for its TCP timers); after waking,
 * slirp_pollfds_poll() asks for each listed fd what happened.  Its other
 * timers (timer_new_opaque/timer_mod) fire through slirp_handle_timer().
 * We keep a private epoll set holding slirp's fds and one timerfd; that
 * set's fd is the single source this vif adds to the domain's loop (an
 * epoll fd is readable while any fd in it is ready).  When it fires we
 * collect the ready fds with a zero-timeout epoll_wait, run the expired
 * timers and slirp_pollfds_poll(), then refill: the set is rebuilt from
 * slirp_pollfds_fill()'s list and the timerfd armed for the earliest of
 * slirp's timers and its poll timeout.  The set is also rebuilt after
 * every frame from the guest (slirp_input may open sockets).
 *
 * Rebuilding deletes every fd and adds the listed ones again, rather than
 * diffing: slirp closes sockets on its own, and a closed fd's number may
 * come back as a new socket that a diff would think already watched.
 * With the few sockets a guest has open this costs a handful of
 * epoll_ctl calls per refill; tap is the fast path.
 */
#include "nethost.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include <slirp/libslirp.h>

#include "log.h"
#include "loop.h"

#define SLIRP_MAX_READY 64

struct slirp_timer {
	struct slirp_timer *next;
	SlirpTimerId id;
	void *cb_opaque;
	int64_t expire_ms; /* -1: not armed */
};

struct slirp_pollent {
	int fd;
	int events;  /* SLIRP_POLL_* asked for */
	int revents; /* SLIRP_POLL_* seen */
};

struct nethost_slirp {
	struct nethost h;
	Slirp *slirp;
	struct loop *loop;
	struct loop_source src;
	bool added;
	int epfd;
	int tfd;
	struct slirp_timer *timers;
	struct slirp_pollent *ents; /* the last fill's list, by index */
	size_t nr_ents, cap_ents;
	bool fill_failed;
	struct log_ratelimit rl;
};

static int64_t slirp_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* --- slirp's callbacks ---------------------------------------------------- */

static ssize_t slirp_cb_send(const void *buf, size_t len, void *opaque)
{
	struct nethost_slirp *s = opaque;

	s->h.received++;
	if (s->h.rx)
		s->h.rx(s->h.rx_ctx, buf, len);
	return (ssize_t)len;
}

static void slirp_cb_guest_error(const char *msg, void *opaque)
{
	struct nethost_slirp *s = opaque;

	log_warnx_rl(&s->rl, "nethost: slirp: %s", msg);
}

static int64_t slirp_cb_clock(void *opaque)
{
	(void)opaque;
	return slirp_now_ns();
}

static void *slirp_cb_timer_new(SlirpTimerId id, void *cb_opaque, void *opaque)
{
	struct nethost_slirp *s = opaque;
	struct slirp_timer *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->id = id;
	t->cb_opaque = cb_opaque;
	t->expire_ms = -1;
	t->next = s->timers;
	s->timers = t;
	return t;
}

static void slirp_cb_timer_free(void *timer, void *opaque)
{
	struct nethost_slirp *s = opaque;
	struct slirp_timer **pp;

	for (pp = &s->timers; *pp; pp = &(*pp)->next) {
		if (*pp == timer) {
			*pp = ((struct slirp_timer *)timer)->next;
			free(timer);
			return;
		}
	}
}

/* expire_time is in ms of clock_get_ns's clock. */
static void slirp_cb_timer_mod(void *timer, int64_t expire_time, void *opaque)
{
	(void)opaque;
	if (timer)
		((struct slirp_timer *)timer)->expire_ms = expire_time;
}

static void slirp_cb_register_fd(int fd, void *opaque)
{
	(void)fd;
	(void)opaque;
}

static void slirp_cb_notify(void *opaque)
{
	(void)opaque;
}

static const SlirpCb slirp_callbacks = {
    .send_packet = slirp_cb_send,
    .guest_error = slirp_cb_guest_error,
    .clock_get_ns = slirp_cb_clock,
    .timer_free = slirp_cb_timer_free,
    .timer_mod = slirp_cb_timer_mod,
    .register_poll_fd = slirp_cb_register_fd,
    .unregister_poll_fd = slirp_cb_register_fd,
    .notify = slirp_cb_notify,
    .timer_new_opaque = slirp_cb_timer_new,
};

/* --- polling -------------------------------------------------------------- */

static int slirp_add_poll(int fd, int events, void *opaque)
{
	struct nethost_slirp *s = opaque;
	struct slirp_pollent *n;

	if (s->nr_ents == s->cap_ents) {
		size_t cap = s->cap_ents ? s->cap_ents * 2 : 16;

		n = realloc(s->ents, cap * sizeof(*n));
		if (!n) {
			s->fill_failed = true;
			return -1;
		}
		s->ents = n;
		s->cap_ents = cap;
	}
	s->ents[s->nr_ents] = (struct slirp_pollent){fd, events, 0};
	return (int)s->nr_ents++;
}

static int slirp_get_revents(int idx, void *opaque)
{
	struct nethost_slirp *s = opaque;

	if (idx < 0 || (size_t)idx >= s->nr_ents)
		return 0;
	return s->ents[idx].revents;
}

static uint32_t slirp_to_epoll(int ev)
{
	return (ev & SLIRP_POLL_IN ? EPOLLIN : 0) |
	       (ev & SLIRP_POLL_OUT ? EPOLLOUT : 0) |
	       (ev & SLIRP_POLL_PRI ? EPOLLPRI : 0);
}

static int slirp_from_epoll(uint32_t ev)
{
	return (ev & EPOLLIN ? SLIRP_POLL_IN : 0) |
	       (ev & EPOLLOUT ? SLIRP_POLL_OUT : 0) |
	       (ev & EPOLLPRI ? SLIRP_POLL_PRI : 0) |
	       (ev & EPOLLERR ? SLIRP_POLL_ERR : 0) |
	       (ev & EPOLLHUP ? SLIRP_POLL_HUP : 0);
}

/* Rebuilds the epoll set from slirp's list and arms the timer. */
static void slirp_refill(struct nethost_slirp *s)
{
	struct itimerspec its = {0};
	struct epoll_event ev;
	struct slirp_timer *t;
	uint32_t timeout = UINT32_MAX;
	int64_t now_ms, deadline = -1;
	size_t i, j;

	for (i = 0; i < s->nr_ents; i++)
		(void)epoll_ctl(s->epfd, EPOLL_CTL_DEL, s->ents[i].fd, NULL);
	s->nr_ents = 0;
	s->fill_failed = false;
	slirp_pollfds_fill(s->slirp, &timeout, slirp_add_poll, s);
	for (i = 0; i < s->nr_ents; i++) {
		uint32_t want = slirp_to_epoll(s->ents[i].events);

		/* One entry per fd in epoll: merge what a fd is listed for. */
		for (j = 0; j < s->nr_ents; j++)
			if (j != i && s->ents[j].fd == s->ents[i].fd)
				want |= slirp_to_epoll(s->ents[j].events);
		ev = (struct epoll_event){.events = want,
					  .data.fd = s->ents[i].fd};
		if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->ents[i].fd, &ev) < 0 &&
		    errno != EEXIST && log_ratelimit_ok(&s->rl))
			log_warn("nethost: slirp: watching fd %d",
				 s->ents[i].fd);
	}
	now_ms = slirp_now_ns() / 1000000;
	if (timeout != UINT32_MAX || s->fill_failed)
		deadline = now_ms + (s->fill_failed ? 100 : (int64_t)timeout);
	for (t = s->timers; t; t = t->next)
		if (t->expire_ms >= 0 &&
		    (deadline < 0 || t->expire_ms < deadline))
			deadline = t->expire_ms;
	if (deadline >= 0) {
		int64_t ms = deadline > now_ms ? deadline - now_ms : 0;

		its.it_value.tv_sec = ms / 1000;
		its.it_value.tv_nsec = (ms % 1000) * 1000000 + 1;
	}
	(void)timerfd_settime(s->tfd, 0, &its, NULL);
}

/* Runs the timers that are due; again from the top after each one. */
static void slirp_run_timers(struct nethost_slirp *s)
{
	int64_t now_ms = slirp_now_ns() / 1000000;
	struct slirp_timer *t;
	bool fired;

	do {
		fired = false;
		for (t = s->timers; t; t = t->next) {
			if (t->expire_ms >= 0 && t->expire_ms <= now_ms) {
				t->expire_ms = -1;
				/* It may re-arm or free any timer. */
				slirp_handle_timer(s->slirp, t->id,
						   t->cb_opaque);
				fired = true;
				break;
			}
		}
	} while (fired);
}

static void slirp_ready(struct domain *d, struct loop_source *src)
{
	struct nethost_slirp *s = src->arg;
	struct epoll_event evs[SLIRP_MAX_READY];
	uint64_t ticks;
	size_t i;
	int n, k;

	(void)d;
	n = epoll_wait(s->epfd, evs, SLIRP_MAX_READY, 0);
	for (i = 0; i < s->nr_ents; i++)
		s->ents[i].revents = 0;
	for (k = 0; k < n; k++) {
		if (evs[k].data.fd == s->tfd) {
			if (read(s->tfd, &ticks, sizeof(ticks)) < 0 &&
			    errno != EAGAIN)
				log_warn("nethost: slirp: timerfd");
			continue;
		}
		for (i = 0; i < s->nr_ents; i++)
			if (s->ents[i].fd == evs[k].data.fd)
				s->ents[i].revents =
				    slirp_from_epoll(evs[k].events) &
				    (s->ents[i].events | SLIRP_POLL_ERR |
				     SLIRP_POLL_HUP);
	}
	slirp_run_timers(s);
	slirp_pollfds_poll(s->slirp, n < 0, slirp_get_revents, s);
	slirp_refill(s);
}

static int slirp_send(struct nethost *h, const void *frame, size_t len)
{
	struct nethost_slirp *s = (struct nethost_slirp *)h;

	if (len > INT32_MAX)
		return -EINVAL;
	slirp_input(s->slirp, frame, (int)len);
	h->sent++;
	/* A new connection's socket must be watched from now on. */
	slirp_refill(s);
	return 0;
}

static void slirp_close(struct nethost *h)
{
	struct nethost_slirp *s = (struct nethost_slirp *)h;
	struct slirp_timer *t;

	if (s->added)
		loop_del(s->loop, &s->src);
	if (s->slirp)
		slirp_cleanup(s->slirp);
	while ((t = s->timers)) {
		s->timers = t->next;
		free(t);
	}
	if (s->tfd >= 0)
		close(s->tfd);
	if (s->epfd >= 0)
		close(s->epfd);
	free(s->ents);
	free(s);
}

static const struct nethost_ops slirp_ops = {
    .kind = "slirp",
    .send = slirp_send,
    .close = slirp_close,
};

int nethost_slirp_open(struct nethost **out, const struct nethost_config *c)
{
	struct epoll_event ev;
	struct nethost_slirp *s;
	SlirpConfig cfg;
	int rc;

	*out = NULL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->h.ops = &slirp_ops;
	s->h.rx = c->rx;
	s->h.rx_ctx = c->rx_ctx;
	s->loop = c->loop;
	s->rl = (struct log_ratelimit)LOG_RATELIMIT_INIT;
	s->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	s->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (s->tfd < 0 || s->epfd < 0) {
		rc = -errno;
		log_err("nethost: slirp: timerfd/epoll");
		goto fail;
	}
	ev = (struct epoll_event){.events = EPOLLIN, .data.fd = s->tfd};
	if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->tfd, &ev) < 0) {
		rc = -errno;
		log_err("nethost: slirp: epoll_ctl");
		goto fail;
	}
	memset(&cfg, 0, sizeof(cfg));
	cfg.version = 4;
	cfg.in_enabled = true;
	inet_pton(AF_INET, "10.0.2.0", &cfg.vnetwork);
	inet_pton(AF_INET, "255.255.255.0", &cfg.vnetmask);
	inet_pton(AF_INET, "10.0.2.2", &cfg.vhost);
	inet_pton(AF_INET, "10.0.2.15", &cfg.vdhcp_start);
	inet_pton(AF_INET, "10.0.2.3", &cfg.vnameserver);
	cfg.if_mtu = c->mtu;
	cfg.if_mru = c->mtu;
	s->slirp = slirp_new(&cfg, &slirp_callbacks, s);
	if (!s->slirp) {
		log_errx("nethost: slirp_new failed (MTU %u?)", c->mtu);
		rc = -EINVAL;
		goto fail;
	}
	if (s->loop) {
		s->src = (struct loop_source){s->epfd, slirp_ready, s};
		rc = loop_add(s->loop, &s->src);
		if (rc < 0)
			goto fail;
		s->added = true;
	}
	slirp_refill(s);
	log_info("nethost: dom %u vif %u: user-mode networking, guest "
		 "10.0.2.15/24, gateway 10.0.2.2, DNS 10.0.2.3",
		 c->domid, c->devid);
	*out = &s->h;
	return 0;
fail:
	slirp_close(&s->h);
	return rc;
}
