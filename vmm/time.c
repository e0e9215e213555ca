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
 * Timers: two timerfds per vCPU (single-shot and periodic) armed at
 * CLOCK_MONOTONIC mono0 + deadline, sources of the domain's event loop.  TSC and CLOCK_MONOTONIC may drift apart a
 * little (the TSC rate is only known to a kHz), so on expiry the thread
 * checks the deadline against the guest's clock and re-arms if early:
 * VIRQ_TIMER never arrives before the deadline the guest sees.
 */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "domain.h"
#include "log.h"
#include "loop.h"
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

struct timespec time_mono_at(const struct domain *d, uint64_t system_ns)
{
	/*
	 * mono0 may be "negative" after a restore (the guest's uptime beats
	 * the host's) and system_ns is the guest's: compute wide, clamp to
	 * what CLOCK_MONOTONIC can express.
	 */
	__int128 t = (__int128)(int64_t)d->xen.mono0_ns + system_ns;
	struct timespec ts;

	if (t < 1)
		t = 1;
	if (t > INT64_MAX)
		t = INT64_MAX;
	ts.tv_sec = (time_t)(t / NSEC_PER_SEC);
	ts.tv_nsec = (long)(t % NSEC_PER_SEC);
	return ts;
}

/* Arms timerfd fd to fire at system time deadline (0 disarms). */
static int time_arm_fd(struct domain *d, int fd, uint64_t deadline)
{
	struct itimerspec its;

	memset(&its, 0, sizeof(its));
	if (deadline)
		its.it_value = time_mono_at(d, deadline);
	if (timerfd_settime(fd, TFD_TIMER_ABSTIME, &its, NULL) < 0) {
		log_warn("time: timerfd_settime");
		return -errno;
	}
	return 0;
}

int time_set_timer(struct domain *d, unsigned int id, uint64_t deadline)
{
	int rc;

	pthread_mutex_lock(&d->xen.lock);
	d->xen.vcpu[id].timer_deadline = deadline;
	rc = time_arm_fd(d, d->xen.vcpu[id].timer_fd, deadline);
	pthread_mutex_unlock(&d->xen.lock);
	return rc;
}

int time_set_periodic(struct domain *d, unsigned int id, uint64_t period)
{
	struct xen_vcpu_state *vs = &d->xen.vcpu[id];
	int rc;

	pthread_mutex_lock(&d->xen.lock);
	vs->periodic_period = period;
	vs->periodic_next = period ? time_now_ns(d) + period : 0;
	rc = time_arm_fd(d, vs->periodic_fd, vs->periodic_next);
	pthread_mutex_unlock(&d->xen.lock);
	return rc;
}

/*
 * A timerfd of vCPU id fired: raise VIRQ_TIMER if the deadline has come
 * by the guest's clock.  A periodic timer then moves to its next tick in
 * the future; ticks missed meanwhile (a stopped host) are not replayed,
 * as on Xen.
 */
static void time_expire(struct domain *d, unsigned int id, bool periodic)
{
	struct xen_vcpu_state *vs = &d->xen.vcpu[id];
	int fd = periodic ? vs->periodic_fd : vs->timer_fd;
	uint64_t *deadline =
	    periodic ? &vs->periodic_next : &vs->timer_deadline;
	uint64_t ticks, now, missed;
	uint32_t port;

	if (read(fd, &ticks, sizeof(ticks)) < 0)
		return; /* EAGAIN: re-armed or stopped meanwhile */
	pthread_mutex_lock(&d->xen.lock);
	if (periodic && !vs->periodic_period)
		vs->periodic_next = 0; /* stopped: nothing to divide by */
	/*
	 * A paused domain's state is being read (a save): an event now
	 * would land in RAM but not in the saved timers, or the reverse.
	 * The timer keeps its deadline; time_unpause() arms it again.
	 */
	if (*deadline && !domain_is_paused(d)) {
		now = time_now_ns(d);
		if (now < *deadline) {
			(void)time_arm_fd(d, fd, *deadline);
		} else {
			if (periodic) {
				missed = (now - *deadline) /
					 vs->periodic_period;
				*deadline += (missed + 1) * vs->periodic_period;
				(void)time_arm_fd(d, fd, *deadline);
			} else {
				*deadline = 0;
			}
			port = vs->virq_port[VIRQ_TIMER];
			if (port)
				evtchn_set_pending(d, port);
		}
	}
	pthread_mutex_unlock(&d->xen.lock);
}

void time_restore(struct domain *d, uint64_t system_ns)
{
	struct xen_state *x = &d->xen;
	uint64_t now_tsc = time_rdtsc();
	uint64_t tsc_delta =
	    (uint64_t)((unsigned __int128)system_ns * x->tsc_khz / 1000000u);
	unsigned int i;

	pthread_mutex_lock(&x->lock);
	/*
	 * System time system_ns is now: the guest's clock goes on where it
	 * stopped (the pause is not counted), the wallclock shows today.
	 */
	x->tsc0 = now_tsc - tsc_delta;
	x->mono0_ns = time_clock_ns(CLOCK_MONOTONIC) - system_ns;
	x->wall0_ns = time_clock_ns(CLOCK_REALTIME) - system_ns;
	for (i = 0; i < d->nr_vcpus; i++)
		time_update_vcpu(d, i);
	pthread_mutex_unlock(&x->lock);
	time_unpause(d);
}

void time_unpause(struct domain *d)
{
	struct xen_state *x = &d->xen;
	unsigned int i;

	pthread_mutex_lock(&x->lock);
	for (i = 0; i < d->nr_vcpus; i++) {
		(void)time_arm_fd(d, x->vcpu[i].timer_fd,
				  x->vcpu[i].timer_deadline);
		(void)time_arm_fd(d, x->vcpu[i].periodic_fd,
				  x->vcpu[i].periodic_next);
	}
	pthread_mutex_unlock(&x->lock);
}

static void time_fired_oneshot(struct domain *d, struct loop_source *src)
{
	struct xen_vcpu_state *vs = src->arg;

	time_expire(d, (unsigned int)(vs - d->xen.vcpu), false);
}

static void time_fired_periodic(struct domain *d, struct loop_source *src)
{
	struct xen_vcpu_state *vs = src->arg;

	time_expire(d, (unsigned int)(vs - d->xen.vcpu), true);
}

/* A timerfd as a source of the domain's event loop. */
static int time_timerfd_add(struct domain *d, struct loop_source *src,
			    loop_fn *fn, struct xen_vcpu_state *vs, int *fd)
{
	*fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (*fd < 0) {
		log_err("time: timerfd_create");
		return -errno;
	}
	src->fd = *fd;
	src->fn = fn;
	src->arg = vs;
	return loop_add(&d->loop, src);
}

int time_init(struct domain *d)
{
	struct xen_state *x = &d->xen;
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

	for (i = 0; i < d->nr_vcpus; i++) {
		struct xen_vcpu_state *vs = &x->vcpu[i];

		rc = time_timerfd_add(d, &vs->timer_src, time_fired_oneshot,
				      vs, &vs->timer_fd);
		if (rc == 0)
			rc = time_timerfd_add(d, &vs->periodic_src,
					      time_fired_periodic, vs,
					      &vs->periodic_fd);
		if (rc < 0)
			return rc;
	}
	log_debug("time: TSC %u kHz, mul %u shift %d", x->tsc_khz, x->tsc_mul,
		  x->tsc_shift);
	return 0;
}

void time_destroy(struct domain *d)
{
	struct xen_state *x = &d->xen;
	unsigned int i;

	/* The loop thread is gone (domain_destroy stops it first). */
	for (i = 0; i < XEN_STATE_MAX_VCPUS; i++) {
		if (x->vcpu[i].timer_fd >= 0)
			close(x->vcpu[i].timer_fd);
		if (x->vcpu[i].periodic_fd >= 0)
			close(x->vcpu[i].periodic_fd);
		x->vcpu[i].timer_fd = -1;
		x->vcpu[i].periodic_fd = -1;
	}
}
