/* SPDX-License-Identifier: MIT */
/*
 * Guest time and single-shot timers.
 *
 * The guest reads the host TSC (KVM here cannot offset it), so its clock
 * is the pvclock of Xen's vcpu_time_info: system time 0 is the TSC value
 * tsc0 sampled at start-up, and ns = ((tsc - tsc0) << shift) * mul >> 32
 * with mul/shift from KVM_GET_TSC_KHZ.  One sample serves for the life of
 * the domain, so the fields are written once per vcpu_info placement and
 * the guest's version check only guards against that write.
 *
 * Timers: a timerfd per vCPU armed at CLOCK_MONOTONIC mono0 + deadline,
 * watched by one epoll thread.  TSC and CLOCK_MONOTONIC may drift apart a
 * little (the TSC rate is only known to a kHz), so on expiry the thread
 * checks the deadline against the guest's clock and re-arms if early:
 * VIRQ_TIMER never arrives before the deadline the guest sees.
 */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "domain.h"
#include "log.h"
#include "xenstate.h"

#define NSEC_PER_SEC 1000000000ull

static uint64_t time_rdtsc(void)
{
	uint32_t lo, hi;

	asm volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return (uint64_t)hi << 32 | lo;
}

static uint64_t time_clock_ns(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (uint64_t)ts.tv_sec * NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
}

/* mul/shift with ns = (delta << shift) * mul >> 32, mul in [2^31, 2^32). */
static void time_scale_init(struct xen_state *x)
{
	uint64_t hz = (uint64_t)x->tsc_khz * 1000;
	int shift = 0;

	while (hz <= NSEC_PER_SEC) {
		hz <<= 1;
		shift++;
	}
	while (hz > 2 * NSEC_PER_SEC) {
		hz >>= 1;
		shift--;
	}
	x->tsc_shift = (int8_t)shift;
	x->tsc_mul = (uint32_t)((NSEC_PER_SEC << 32) / hz);
}

static uint64_t time_scale(const struct xen_state *x, uint64_t delta)
{
	if (x->tsc_shift >= 0)
		delta <<= x->tsc_shift;
	else
		delta >>= -x->tsc_shift;
	return (uint64_t)(((unsigned __int128)delta * x->tsc_mul) >> 32);
}

uint64_t time_now_ns(struct domain *d)
{
	return time_scale(&d->xen, time_rdtsc() - d->xen.tsc0);
}

void time_update_vcpu(struct domain *d, unsigned int id)
{
	struct xen_state *x = &d->xen;
	struct vcpu_time_info *t = &xen_vcpu_info(d, id)->time;
	struct shared_info *s = x->shinfo;
	uint64_t wall = x->wall0_ns;

	/* Odd version: the guest retries while we write. */
	t->version = (t->version + 1) | 1;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	t->tsc_timestamp = x->tsc0;
	t->system_time = 0;
	t->tsc_to_system_mul = x->tsc_mul;
	t->tsc_shift = x->tsc_shift;
	t->flags = XEN_PVCLOCK_TSC_STABLE_BIT;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	t->version++;

	s->wc_version = (s->wc_version + 1) | 1;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	s->wc_sec = (uint32_t)(wall / NSEC_PER_SEC);
	s->wc_sec_hi = (uint32_t)(wall / NSEC_PER_SEC >> 32);
	s->wc_nsec = (uint32_t)(wall % NSEC_PER_SEC);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	s->wc_version++;
}

static int time_arm(struct domain *d, unsigned int id, uint64_t deadline)
{
	struct itimerspec its;
	uint64_t t = d->xen.mono0_ns + deadline;

	memset(&its, 0, sizeof(its));
	if (deadline) {
		its.it_value.tv_sec = (time_t)(t / NSEC_PER_SEC);
		its.it_value.tv_nsec = (long)(t % NSEC_PER_SEC);
		/* All zero would disarm: a past deadline fires at once. */
		if (!its.it_value.tv_sec && !its.it_value.tv_nsec)
			its.it_value.tv_nsec = 1;
	}
	if (timerfd_settime(d->xen.vcpu[id].timer_fd, TFD_TIMER_ABSTIME, &its,
			    NULL) < 0) {
		log_warn("time: vCPU %u: timerfd_settime", id);
		return -errno;
	}
	return 0;
}

int time_set_timer(struct domain *d, unsigned int id, uint64_t deadline)
{
	int rc;

	pthread_mutex_lock(&d->xen.lock);
	d->xen.vcpu[id].timer_deadline = deadline;
	rc = time_arm(d, id, deadline);
	pthread_mutex_unlock(&d->xen.lock);
	return rc;
}

static void time_expire(struct domain *d, unsigned int id)
{
	struct xen_vcpu_state *vs = &d->xen.vcpu[id];
	uint64_t ticks;
	uint32_t port;

	if (read(vs->timer_fd, &ticks, sizeof(ticks)) < 0)
		return; /* EAGAIN: re-armed or stopped meanwhile */
	pthread_mutex_lock(&d->xen.lock);
	if (vs->timer_deadline) {
		if (time_now_ns(d) < vs->timer_deadline) {
			(void)time_arm(d, id, vs->timer_deadline);
		} else {
			vs->timer_deadline = 0;
			port = vs->virq_port[VIRQ_TIMER];
			if (port)
				evtchn_set_pending(d, port);
		}
	}
	pthread_mutex_unlock(&d->xen.lock);
}

static void *time_thread(void *arg)
{
	struct domain *d = arg;
	struct epoll_event ev[8];
	int i, n;

	for (;;) {
		n = epoll_wait(d->xen.epoll_fd, ev, 8, -1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			log_err("time: epoll_wait");
			return NULL;
		}
		for (i = 0; i < n; i++) {
			if (ev[i].data.u32 == UINT32_MAX)
				return NULL;
			time_expire(d, ev[i].data.u32);
		}
	}
}

int time_init(struct domain *d)
{
	struct xen_state *x = &d->xen;
	struct epoll_event ev;
	sigset_t all, old;
	unsigned int i;
	int khz, rc;

	khz = ioctl(d->vcpus[0].fd, KVM_GET_TSC_KHZ, 0);
	if (khz <= 0) {
		log_err("time: KVM_GET_TSC_KHZ");
		return -EINVAL;
	}
	x->tsc_khz = (uint32_t)khz;
	time_scale_init(x);
	x->tsc0 = time_rdtsc();
	x->mono0_ns = time_clock_ns(CLOCK_MONOTONIC);
	x->wall0_ns = time_clock_ns(CLOCK_REALTIME);

	x->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	x->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (x->epoll_fd < 0 || x->stop_fd < 0) {
		log_err("time: epoll/eventfd");
		return -errno;
	}
	ev.events = EPOLLIN;
	ev.data.u32 = UINT32_MAX;
	if (epoll_ctl(x->epoll_fd, EPOLL_CTL_ADD, x->stop_fd, &ev) < 0) {
		log_err("time: epoll_ctl");
		return -errno;
	}
	for (i = 0; i < d->nr_vcpus; i++) {
		x->vcpu[i].timer_fd =
		    timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
		if (x->vcpu[i].timer_fd < 0) {
			log_err("time: timerfd_create");
			return -errno;
		}
		ev.data.u32 = i;
		if (epoll_ctl(x->epoll_fd, EPOLL_CTL_ADD, x->vcpu[i].timer_fd,
			      &ev) < 0) {
			log_err("time: epoll_ctl");
			return -errno;
		}
	}
	/* Signals belong to the main and vCPU threads. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = -pthread_create(&x->timer_thread, NULL, time_thread, d);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc < 0) {
		errno = -rc;
		log_err("time: pthread_create");
		return rc;
	}
	x->timer_thread_started = true;
	log_debug("time: TSC %u kHz, mul %u shift %d", x->tsc_khz, x->tsc_mul,
		  x->tsc_shift);
	return 0;
}

void time_destroy(struct domain *d)
{
	struct xen_state *x = &d->xen;
	uint64_t one = 1;
	unsigned int i;

	if (x->timer_thread_started) {
		if (write(x->stop_fd, &one, sizeof(one)) < 0)
			log_warn("time: stopping the timer thread");
		pthread_join(x->timer_thread, NULL);
		x->timer_thread_started = false;
	}
	for (i = 0; i < XEN_STATE_MAX_VCPUS; i++) {
		if (x->vcpu[i].timer_fd >= 0)
			close(x->vcpu[i].timer_fd);
		x->vcpu[i].timer_fd = -1;
	}
	if (x->epoll_fd >= 0)
		close(x->epoll_fd);
	if (x->stop_fd >= 0)
		close(x->stop_fd);
	x->epoll_fd = -1;
	x->stop_fd = -1;
}
