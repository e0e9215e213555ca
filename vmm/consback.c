/* SPDX-License-Identifier: MIT */
/*
 * The console backend (consback.h).  Everything runs on the domain's
 * event loop: a guest send (the kick eventfd) drains the output ring, pty
 * input fills the input ring, the rate timer resumes a throttled drain.
 *
 * The ring indexes are the guest's and are read once per pass: a
 * producer more than a ring ahead of the consumer is a corrupt ring, whose
 * contents are discarded (counted, logged) by moving the consumer to the
 * producer.  Only masked indexes touch the page.  While the input ring is
 * full the pty is not polled (epoll is level-triggered), and a guest send
 * re-arms it.
 */
#include "consback.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "console.h"
#include "domain.h"
#include "log.h"
#include "mem.h"
#include "xen.h"

#include <xen/io/console.h>

#define NSEC_PER_SEC 1000000000ull

static struct log_ratelimit consback_rl = LOG_RATELIMIT_INIT;

void consback_clear(struct consback *c)
{
	memset(c, 0, sizeof(*c));
	xenbus_kick_clear(&c->kick);
	c->out_fd = -1;
	c->in_fd = -1;
	c->log_fd = -1;
	c->rate_fd = -1;
}

int consback_parse_mode(const char *s, enum consback_mode *mode)
{
	if (!strcmp(s, "stdio"))
		*mode = CONSBACK_STDIO;
	else if (!strcmp(s, "pty"))
		*mode = CONSBACK_PTY;
	else if (!strcmp(s, "none"))
		*mode = CONSBACK_NONE;
	else
		return -EINVAL;
	return 0;
}

static struct xencons_interface *consback_ring(struct domain *d)
{
	return (struct xencons_interface *)(d->ram +
					    mem_special_gfn(d, MEM_SPECIAL_CONSOLE) *
						VMM_PAGE_SIZE);
}

static uint64_t consback_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
}

/* Token bucket: CONSBACK_RATE bytes/s, at most CONSBACK_BURST saved. */
static uint64_t consback_budget(struct consback *c)
{
	uint64_t now = consback_now_ns(), add;

	add = (now - c->refill_ns) * CONSBACK_RATE / NSEC_PER_SEC;
	if (add) {
		c->tokens += add;
		if (c->tokens > CONSBACK_BURST)
			c->tokens = CONSBACK_BURST;
		c->refill_ns = now;
	}
	return c->tokens;
}

static void consback_write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		/* A full pty (nobody attached) or a closed stdout: drop. */
		if (n <= 0)
			return;
		buf += n;
		len -= (size_t)n;
	}
}

static void consback_emit(struct consback *c, char *buf, size_t n)
{
	if (c->log_fd >= 0)
		consback_write_all(c->log_fd, buf, n);
	if (c->out_fd < 0)
		return;
	if (c->mode == CONSBACK_STDIO) {
		/* Our stdout may be the host's terminal. */
		n = console_sanitise(buf, n);
		console_stdout(buf, n);
	} else {
		consback_write_all(c->out_fd, buf, n);
	}
}

/* Drains the output ring within the budget; true if bytes were left. */
static bool consback_drain(struct domain *d, struct consback *c)
{
	struct xencons_interface *r = consback_ring(d);
	char buf[sizeof(r->out)];
	XENCONS_RING_IDX cons, prod, avail, i;
	uint64_t budget;

	prod = __atomic_load_n(&r->out_prod, __ATOMIC_ACQUIRE);
	cons = __atomic_load_n(&r->out_cons, __ATOMIC_RELAXED);
	avail = prod - cons;
	if (avail > sizeof(r->out)) {
		c->dropped += avail;
		log_warnx_rl(&consback_rl,
			     "console: domain %u: output indexes corrupt "
			     "(cons %u prod %u): discarded",
			     d->xen.domid, cons, prod);
		__atomic_store_n(&r->out_cons, prod, __ATOMIC_RELEASE);
		return false;
	}
	budget = consback_budget(c);
	if (avail > budget)
		avail = (XENCONS_RING_IDX)budget;
	for (i = 0; i < avail; i++)
		buf[i] = r->out[MASK_XENCONS_IDX(cons + i, r->out)];
	__atomic_store_n(&r->out_cons, cons + avail, __ATOMIC_RELEASE);
	c->tokens -= avail;
	if (avail)
		consback_emit(c, buf, avail);
	return prod != cons + avail;
}

static void consback_set_input_polled(struct domain *d, struct consback *c,
				      bool on)
{
	if (c->in_fd < 0 || c->in_polled == on)
		return;
	if (on) {
		if (loop_add(&d->loop, &c->in_src) < 0)
			return;
	} else {
		loop_del(&d->loop, &c->in_src);
	}
	c->in_polled = on;
}

/* Drain, and if the budget ran out, come back when it has refilled. */
static void consback_service(struct domain *d, struct consback *c)
{
	struct itimerspec its = {.it_value = {.tv_nsec = 50000000}};

	if (consback_drain(d, c)) {
		if (!c->throttled && timerfd_settime(c->rate_fd, 0, &its,
						     NULL) == 0)
			c->throttled = true;
	}
	xenbus_port_notify(&c->dport);
	/* The guest may have made room for input. */
	consback_set_input_polled(d, c, true);
}

static void consback_kicked(void *arg)
{
	struct consback *c = arg;

	if (!c->throttled && !c->quiesced)
		consback_service(c->kick.d, c);
}

static void consback_rate_tick(struct domain *d, struct loop_source *s)
{
	struct consback *c = s->arg;
	uint64_t v;

	if (read(c->rate_fd, &v, sizeof(v)) < 0)
		return;
	c->throttled = false;
	if (!c->quiesced)
		consback_service(d, c);
}

/* Pty input into the guest's input ring, as much as fits. */
static void consback_input(struct domain *d, struct loop_source *s)
{
	struct consback *c = s->arg;
	struct xencons_interface *r = consback_ring(d);
	char buf[sizeof(r->in)];
	XENCONS_RING_IDX cons, prod, space, i;
	ssize_t n;

	if (c->quiesced) {
		consback_set_input_polled(d, c, false);
		return;
	}
	cons = __atomic_load_n(&r->in_cons, __ATOMIC_ACQUIRE);
	prod = __atomic_load_n(&r->in_prod, __ATOMIC_RELAXED);
	if (prod - cons > sizeof(r->in)) {
		/* Corrupt: start the ring afresh rather than trust it. */
		prod = cons;
	}
	space = (XENCONS_RING_IDX)sizeof(r->in) - (prod - cons);
	if (!space) {
		consback_set_input_polled(d, c, false);
		return;
	}
	n = read(c->in_fd, buf, space);
	if (n <= 0) {
		/* EIO: nobody has the pty open; keep polling off until then. */
		if (n == 0 || (errno != EAGAIN && errno != EINTR))
			consback_set_input_polled(d, c, false);
		return;
	}
	for (i = 0; i < (XENCONS_RING_IDX)n; i++)
		r->in[MASK_XENCONS_IDX(prod + i, r->in)] = buf[i];
	__atomic_store_n(&r->in_prod, prod + (XENCONS_RING_IDX)n,
			 __ATOMIC_RELEASE);
	xenbus_port_notify(&c->dport);
}

static int consback_open_pty(struct consback *c)
{
	struct termios t;
	int fd;

	fd = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0 || grantpt(fd) < 0 || unlockpt(fd) < 0 ||
	    ptsname_r(fd, c->tty, sizeof(c->tty)) != 0) {
		log_err("console: opening a pty");
		if (fd >= 0)
			close(fd);
		return -errno;
	}
	/* Raw: the guest's bytes pass untouched both ways. */
	if (tcgetattr(fd, &t) == 0) {
		cfmakeraw(&t);
		(void)tcsetattr(fd, TCSANOW, &t);
	}
	c->out_fd = fd;
	c->in_fd = fd;
	return 0;
}

static int consback_open_io(struct consback *c, const char *log_path)
{
	if (log_path) {
		c->log_fd = open(log_path,
				 O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
		if (c->log_fd < 0) {
			log_err("console: %s", log_path);
			return -errno;
		}
	}
	switch (c->mode) {
	case CONSBACK_STDIO:
		c->out_fd = STDOUT_FILENO;
		return 0;
	case CONSBACK_PTY:
		return consback_open_pty(c);
	default:
		return 0;
	}
}

int consback_setup(struct domain *d, enum consback_mode mode,
		   const char *log_path)
{
	struct consback *c = &d->cons;
	int port, rc;

	c->mode = mode;
	c->refill_ns = consback_now_ns();
	c->tokens = CONSBACK_BURST;
	rc = consback_open_io(c, log_path);
	if (rc < 0)
		return rc;
	c->rate_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC |
							 TFD_NONBLOCK);
	if (c->rate_fd < 0) {
		log_err("console: timerfd");
		return -errno;
	}
	rc = xenbus_kick_open(&c->kick, d, consback_kicked, c);
	if (rc < 0) {
		log_errx("console: eventfd: %s", strerror(-rc));
		return rc;
	}
	c->rate_src = (struct loop_source){c->rate_fd, consback_rate_tick, c};
	c->in_src = (struct loop_source){c->in_fd, consback_input, c};
	if (loop_add(&d->loop, &c->rate_src) < 0)
		return -EIO;
	consback_set_input_polled(d, c, true);

	port = evtchn_alloc_for_backend(d);
	if (port < 0)
		return port;
	rc = xenbus_port_bind(&c->dport, &c->kick, (uint32_t)port);
	if (rc < 0)
		return rc;
	c->port = (uint32_t)port;
	memset(consback_ring(d), 0, VMM_PAGE_SIZE);
	pthread_mutex_lock(&d->xen.lock);
	d->xen.hvm_params[HVM_PARAM_CONSOLE_PFN] =
	    mem_special_gfn(d, MEM_SPECIAL_CONSOLE);
	d->xen.hvm_params[HVM_PARAM_CONSOLE_EVTCHN] = c->port;
	pthread_mutex_unlock(&d->xen.lock);
	if (c->mode == CONSBACK_PTY)
		log_info("console: domain %u on %s", d->xen.domid, c->tty);
	return 0;
}

void consback_quiesce(struct domain *d)
{
	struct consback *c = &d->cons;

	if (c->kick.fd < 0)
		return;
	c->quiesced = true;
	consback_set_input_polled(d, c, false);
	/* A paused guest adds nothing: what is there goes out now. */
	c->tokens = sizeof(consback_ring(d)->out);
	(void)consback_drain(d, c);
	xenbus_port_notify(&c->dport);
}

void consback_unquiesce(struct domain *d)
{
	struct consback *c = &d->cons;

	if (c->kick.fd < 0 || !c->quiesced)
		return;
	c->quiesced = false;
	consback_service(d, c);
}

int consback_save(struct domain *d, json_object *rec)
{
	json_object *ring = json_object_new_object();
	uint64_t port;

	pthread_mutex_lock(&d->xen.lock);
	port = d->xen.hvm_params[HVM_PARAM_CONSOLE_EVTCHN];
	pthread_mutex_unlock(&d->xen.lock);
	json_object_object_add(ring, "ring-ref",
			       json_object_new_int64((int64_t)mem_special_gfn(
				       d, MEM_SPECIAL_CONSOLE)));
	json_object_object_add(ring, "event-channel",
			       json_object_new_int64((int64_t)port));
	json_object_object_add(rec, "ring", ring);
	return 0;
}

int consback_restore(struct domain *d, json_object *rec)
{
	json_object *ring, *ref, *port;
	uint64_t want;

	pthread_mutex_lock(&d->xen.lock);
	want = d->xen.hvm_params[HVM_PARAM_CONSOLE_EVTCHN];
	pthread_mutex_unlock(&d->xen.lock);
	if (!json_object_object_get_ex(rec, "ring", &ring) ||
	    !json_object_object_get_ex(ring, "ring-ref", &ref) ||
	    !json_object_object_get_ex(ring, "event-channel", &port) ||
	    !json_object_is_type(ref, json_type_int) ||
	    !json_object_is_type(port, json_type_int) ||
	    json_object_get_int64(ref) !=
		    (int64_t)mem_special_gfn(d, MEM_SPECIAL_CONSOLE) ||
	    json_object_get_int64(port) != (int64_t)want) {
		log_errx("console: the saved console ring is not where the "
			 "saved state puts it");
		return -EINVAL;
	}
	return 0;
}

int consback_rebind(struct domain *d)
{
	struct consback *c = &d->cons;
	uint64_t port;
	int rc;

	if (c->kick.fd < 0)
		return 0;
	pthread_mutex_lock(&d->xen.lock);
	port = d->xen.hvm_params[HVM_PARAM_CONSOLE_EVTCHN];
	pthread_mutex_unlock(&d->xen.lock);
	/* The load freed every backend slot: our old dom0 port is gone. */
	rc = xenbus_port_bind(&c->dport, &c->kick, (uint32_t)port);
	if (rc < 0) {
		log_errx("console: the loaded console port %llu is not one "
			 "unbound to domain 0",
			 (unsigned long long)port);
		return rc;
	}
	c->port = (uint32_t)port;
	return 0;
}

void consback_destroy(struct domain *d)
{
	struct consback *c = &d->cons;

	/* What the guest wrote last (its shutdown message) still goes out. */
	if (c->kick.fd >= 0) {
		c->tokens = CONSBACK_BURST;
		(void)consback_drain(d, c);
	}
	if (c->in_fd >= 0)
		close(c->in_fd);
	if (c->log_fd >= 0)
		close(c->log_fd);
	xenbus_kick_close(&c->kick);
	if (c->rate_fd >= 0)
		close(c->rate_fd);
	consback_clear(c);
}
