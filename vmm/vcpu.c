/* SPDX-License-Identifier: MIT */
/*
 * vCPU threads and the vCPU state machine (see enum vcpu_state).
 *
 * A vCPU gets its thread at its first VCPUOP_up; the thread lives until
 * the domain shuts down, and enters KVM_RUN only while the vCPU is
 * RUNNING.  VCPUOP_down flips the state and kicks the thread out of
 * KVM_RUN; it then sleeps on its condvar, registers untouched in KVM, and
 * whatever KVM or a hypercall left pending (an interrupt in the LAPIC's
 * IRR, a hypercall result in the sync regs) is there when it comes back.
 *
 * VCPUOP_down of another vCPU is synchronous (Xen allows either): it
 * returns once the target is out of KVM_RUN, which the target reports
 * through in_run after every exit.
 *
 * Locking: the state of every vCPU, in_run and the sleeps on vcpu.wake are
 * under the domain lock, so that "is this the last vCPU up?" and shutdown
 * are decided on one consistent view.  The KVM ioctls of VCPUOP_initialise
 * run outside it, with the vCPU in LOADING so that nobody else touches it.
 * vcpu_kick() under the lock is fine: it only signals.
 */
#include "vcpu.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "cpuid.h"
#include "hypercall.h"
#include "kvm.h"
#include "log.h"
#include "xen.h"

static struct log_ratelimit vcpu_rl = LOG_RATELIMIT_INIT;

static void vcpu_kick_handler(int sig)
{
	(void)sig;
}

int vcpu_signals_init(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = vcpu_kick_handler;
	sigemptyset(&sa.sa_mask);
	if (sigaction(VCPU_KICK_SIGNAL, &sa, NULL) < 0) {
		log_err("vcpu: sigaction");
		return -errno;
	}
	return 0;
}

void vcpu_kick(struct vcpu *v)
{
	struct domain *d = v->dom;

	pthread_mutex_lock(&d->kick_lock);
	/* Its own thread is out of KVM_RUN already, handling an exit. */
	if (!v->thread_alive || !pthread_equal(v->thread, pthread_self())) {
		/* immediate_exit covers a kick just before KVM_RUN. */
		__atomic_store_n(&v->run->immediate_exit, 1, __ATOMIC_SEQ_CST);
		if (v->thread_alive)
			pthread_kill(v->thread, VCPU_KICK_SIGNAL);
	}
	pthread_mutex_unlock(&d->kick_lock);
}

static void vcpu_crash(struct vcpu *v, const char *why)
{
	log_errx("vCPU %u: %s: the domain crashed", v->id, why);
	kvm_vcpu_dump(v);
	/* A latched SCHEDOP_shutdown_code still names the outcome. */
	domain_guest_shutdown(v->dom, SHUTDOWN_crash);
}

static void vcpu_handle_io(struct vcpu *v)
{
	struct kvm_run *run = v->run;
	uint8_t *data = (uint8_t *)run + run->io.data_offset;
	uint32_t nr;

	if (run->io.port == HYPERCALL_PORT &&
	    run->io.direction == KVM_EXIT_IO_OUT && run->io.size == 4 &&
	    run->io.count == 1) {
		memcpy(&nr, data, sizeof(nr));
		hypercall_dispatch(v, nr);
		return;
	}
	/* The PC POST port: Linux's io_delay, hcbench's raw exit floor. */
	if (run->io.port == 0x80 && run->io.direction == KVM_EXIT_IO_OUT)
		return;
	/* No devices yet: reads float high, writes vanish. */
	if (run->io.direction == KVM_EXIT_IO_IN)
		memset(data, 0xff, (size_t)run->io.size * run->io.count);
	log_warnx_rl(&vcpu_rl, "vCPU %u: unhandled %s of port 0x%x",
		     v->id, run->io.direction == KVM_EXIT_IO_IN ? "in" : "out",
		     run->io.port);
}

static void vcpu_handle_msr(struct vcpu *v, bool write)
{
	struct kvm_run *run = v->run;

	if (write && run->msr.index == XEN_HYPERCALL_MSR) {
		run->msr.error =
			hypercall_page_install(v, run->msr.data) < 0 ? 1 : 0;
		if (run->msr.error)
			log_warnx_rl(&vcpu_rl,
				     "vCPU %u: bad hypercall page 0x%llx: #GP",
				     v->id, (unsigned long long)run->msr.data);
		return;
	}
	/* Reading the hypercall MSR #GPs, as on Xen. */
	run->msr.error = 1;
}

/* One exit; returns false when the vCPU must stop. */
static bool vcpu_handle_exit(struct vcpu *v)
{
	struct kvm_run *run = v->run;
	char why[96];

	switch (run->exit_reason) {
	case KVM_EXIT_IO:
		vcpu_handle_io(v);
		return true;
	case KVM_EXIT_X86_WRMSR:
		vcpu_handle_msr(v, true);
		return true;
	case KVM_EXIT_X86_RDMSR:
		vcpu_handle_msr(v, false);
		return true;
	case KVM_EXIT_HLT:
		/* The in-kernel LAPIC handles HLT; nothing to do if not. */
		return true;
	case KVM_EXIT_INTR:
		return true;
	case KVM_EXIT_MMIO:
		if (!run->mmio.is_write)
			memset(run->mmio.data, 0xff, sizeof(run->mmio.data));
		log_warnx_rl(&vcpu_rl, "vCPU %u: unhandled MMIO %s at 0x%llx",
			     v->id, run->mmio.is_write ? "write" : "read",
			     (unsigned long long)run->mmio.phys_addr);
		return true;
	case KVM_EXIT_SHUTDOWN:
		vcpu_crash(v, "triple fault");
		return false;
	case KVM_EXIT_INTERNAL_ERROR:
		snprintf(why, sizeof(why), "KVM internal error, suberror %u",
			 run->internal.suberror);
		vcpu_crash(v, why);
		return false;
	case KVM_EXIT_FAIL_ENTRY:
		snprintf(why, sizeof(why), "VM entry failed, reason 0x%llx",
			 (unsigned long long)run->fail_entry
				 .hardware_entry_failure_reason);
		vcpu_crash(v, why);
		return false;
	case KVM_EXIT_SYSTEM_EVENT:
		if (run->system_event.type == KVM_SYSTEM_EVENT_RESET) {
			domain_shutdown(v->dom, VMM_EXIT_SHUTDOWN_BASE +
							SHUTDOWN_reboot);
		} else if (run->system_event.type ==
			   KVM_SYSTEM_EVENT_SHUTDOWN) {
			domain_shutdown(v->dom, VMM_EXIT_OK);
		} else {
			snprintf(why, sizeof(why), "system event %u",
				 run->system_event.type);
			vcpu_crash(v, why);
		}
		return false;
	default:
		snprintf(why, sizeof(why), "unexpected KVM exit %u",
			 run->exit_reason);
		vcpu_crash(v, why);
		return false;
	}
}

/*
 * Completes what KVM has pending for v: the I/O instruction of the last
 * exit (a hypercall's OUT) and our writes to the synced registers (its
 * result) take effect on the next KVM_RUN, which immediate_exit ends
 * before any guest code runs.
 */
static void vcpu_flush(struct vcpu *v)
{
	__atomic_store_n(&v->run->immediate_exit, 1, __ATOMIC_SEQ_CST);
	if (ioctl(v->fd, KVM_RUN, 0) == 0 || (errno != EINTR && errno != EAGAIN))
		log_warn("vCPU %u: completing its last exit", v->id);
	__atomic_store_n(&v->run->immediate_exit, 0, __ATOMIC_SEQ_CST);
}

/*
 * A hypercall asked to be restarted: with its exit completed, rip is past
 * the OUT on every kind of host; point it back at it.
 */
static void vcpu_rewind(struct vcpu *v)
{
	struct kvm_regs r;

	v->restart = false;
	if (ioctl(v->fd, KVM_GET_REGS, &r) < 0) {
		log_err("vCPU %u: restarting a hypercall", v->id);
		return;
	}
	r.rip -= HYPERCALL_OUT_LEN;
	if (ioctl(v->fd, KVM_SET_REGS, &r) < 0)
		log_err("vCPU %u: restarting a hypercall", v->id);
}

/*
 * Sleeps while v is not RUNNING or the domain is paused, parked (flushed
 * first); false once the domain shuts down.  The
 * state is read after the kicker's immediate_exit was cleared, so a down
 * that kicked is never missed.
 */
static bool vcpu_enter_run(struct vcpu *v)
{
	struct domain *d = v->dom;
	bool run, flushed = false;

	/* Whatever happened since (an unpause), the hypercall runs again. */
	if (v->restart) {
		vcpu_flush(v);
		vcpu_rewind(v);
		flushed = true;
	}
	pthread_mutex_lock(&d->lock);
	while ((v->state != VCPU_RUNNING || d->paused) && !d->shutting_down) {
		if (!flushed) {
			pthread_mutex_unlock(&d->lock);
			vcpu_flush(v);
			flushed = true;
			pthread_mutex_lock(&d->lock);
			continue;
		}
		v->parked = true;
		pthread_cond_broadcast(&d->parked_cond);
		pthread_cond_wait(&v->wake, &d->lock);
		v->parked = false;
	}
	run = !d->shutting_down;
	/* Read without the lock by evtchn_inject(): atomic. */
	__atomic_store_n(&v->in_run, run, __ATOMIC_SEQ_CST);
	pthread_mutex_unlock(&d->lock);
	return run;
}

/* Out of KVM_RUN: a vcpu_down() waiting for that may return. */
static void vcpu_leave_run(struct vcpu *v)
{
	struct domain *d = v->dom;

	pthread_mutex_lock(&d->lock);
	__atomic_store_n(&v->in_run, false, __ATOMIC_SEQ_CST);
	if (v->state != VCPU_RUNNING)
		pthread_cond_broadcast(&v->wake);
	pthread_mutex_unlock(&d->lock);
}

static void *vcpu_thread(void *arg)
{
	struct vcpu *v = arg;
	struct domain *d = v->dom;
	int rc;

	/* For the toolstack's info: the thread's CPU in /proc. */
	__atomic_store_n(&v->tid, gettid(), __ATOMIC_RELEASE);
	while (vcpu_enter_run(v)) {
		rc = ioctl(v->fd, KVM_RUN, 0);
		vcpu_leave_run(v);
		if (rc < 0) {
			if (errno == EINTR || errno == EAGAIN) {
				__atomic_store_n(&v->run->immediate_exit, 0,
						 __ATOMIC_SEQ_CST);
				continue;
			}
			log_err("vCPU %u: KVM_RUN", v->id);
			domain_shutdown(d, VMM_EXIT_ERROR);
			break;
		}
		if (!vcpu_handle_exit(v))
			break;
	}
	/* No kick may reach the thread once it can be joined. */
	pthread_mutex_lock(&d->kick_lock);
	v->thread_alive = false;
	pthread_mutex_unlock(&d->kick_lock);
	pthread_mutex_lock(&d->lock);
	pthread_cond_broadcast(&d->parked_cond);
	pthread_mutex_unlock(&d->lock);
	return NULL;
}

/* Starts v's thread.  Under the domain lock. */
static int vcpu_thread_start(struct vcpu *v)
{
	sigset_t all, old;
	int rc;

	/* The new thread starts with every signal blocked but the kick. */
	sigfillset(&all);
	sigdelset(&all, VCPU_KICK_SIGNAL);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	/* Held across the start: the thread cannot end before `alive`. */
	pthread_mutex_lock(&v->dom->kick_lock);
	rc = -pthread_create(&v->thread, NULL, vcpu_thread, v);
	v->thread_alive = rc == 0;
	pthread_mutex_unlock(&v->dom->kick_lock);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc < 0) {
		errno = -rc;
		log_err("vcpu: vCPU %u: pthread_create", v->id);
		return rc;
	}
	/* Kickers read `thread` only after seeing this. */
	__atomic_store_n(&v->thread_started, true, __ATOMIC_RELEASE);
	return 0;
}

int vcpu_create(struct domain *d, unsigned int id)
{
	struct vcpu *v = &d->vcpus[id];
	int rc;

	pthread_cond_init(&v->wake, NULL);
	v->state = VCPU_STOPPED;
	rc = kvm_vcpu_create(d, id);
	if (rc < 0)
		return rc;
	/* Xen's vCPU 0 comes initialised, with the PVH entry state. */
	if (id == 0)
		v->state = VCPU_DOWN;
	return 0;
}

int vcpu_load_begin(struct vcpu *v)
{
	struct domain *d = v->dom;
	int rc = 0;

	pthread_mutex_lock(&d->lock);
	if (v->state != VCPU_STOPPED)
		rc = -EEXIST;
	else
		v->state = VCPU_LOADING;
	pthread_mutex_unlock(&d->lock);
	return rc;
}

void vcpu_load_end(struct vcpu *v, bool loaded)
{
	struct domain *d = v->dom;

	pthread_mutex_lock(&d->lock);
	v->state = loaded ? VCPU_DOWN : VCPU_STOPPED;
	pthread_mutex_unlock(&d->lock);
}

int vcpu_up(struct vcpu *v)
{
	struct domain *d = v->dom;
	int rc = 0;

	pthread_mutex_lock(&d->lock);
	switch (v->state) {
	case VCPU_STOPPED:
	case VCPU_LOADING:
		rc = -EINVAL;
		break;
	case VCPU_DOWN:
		/* No new thread once shutdown began: none would join it. */
		if (d->shutting_down)
			break;
		if (!v->thread_started) {
			rc = vcpu_thread_start(v);
			if (rc < 0)
				break;
		}
		v->state = VCPU_RUNNING;
		/* Broadcast: a vcpu_down() may be waiting on wake too. */
		pthread_cond_broadcast(&v->wake);
		break;
	default:
		break;
	}
	pthread_mutex_unlock(&d->lock);
	return rc;
}

int vcpu_down(struct vcpu *v)
{
	struct domain *d = v->dom;
	bool others_up = false, self;
	unsigned int i;

	pthread_mutex_lock(&d->lock);
	for (i = 0; i < d->nr_vcpus; i++)
		if (i != v->id && d->vcpus[i].state == VCPU_RUNNING)
			others_up = true;
	if (!others_up) {
		pthread_mutex_unlock(&d->lock);
		/* As Xen: taking the last vCPU down powers the domain off. */
		log_info("vcpu: vCPU %u: the last vCPU up goes down", v->id);
		domain_guest_shutdown(d, SHUTDOWN_poweroff);
		return 0;
	}
	if (v->state != VCPU_RUNNING) {
		pthread_mutex_unlock(&d->lock);
		return 0;
	}
	v->state = VCPU_DOWN;
	/* Ourselves: the run loop sees DOWN before it re-enters KVM_RUN. */
	self = pthread_equal(v->thread, pthread_self());
	if (!self) {
		/*
		 * Another vCPU: kick it and wait until it is out of KVM_RUN,
		 * so that it runs no guest code once we return.  A vCPU in a
		 * hypercall (SCHEDOP_block...) is out already.
		 */
		vcpu_kick(v);
		while (v->in_run && v->state == VCPU_DOWN && !d->shutting_down)
			pthread_cond_wait(&v->wake, &d->lock);
	}
	pthread_mutex_unlock(&d->lock);
	return 0;
}

bool vcpu_is_up(struct vcpu *v)
{
	struct domain *d = v->dom;
	bool up;

	pthread_mutex_lock(&d->lock);
	up = v->state == VCPU_RUNNING;
	pthread_mutex_unlock(&d->lock);
	return up;
}

void vcpu_wake_all(struct domain *d)
{
	unsigned int i;

	for (i = 0; i < d->nr_vcpus; i++)
		pthread_cond_broadcast(&d->vcpus[i].wake);
}

void vcpu_join_all(struct domain *d)
{
	unsigned int i;

	/* vCPUs start and stop as the guest likes until shutdown. */
	pthread_mutex_lock(&d->lock);
	while (!d->shutting_down)
		pthread_cond_wait(&d->parked_cond, &d->lock);
	pthread_mutex_unlock(&d->lock);
	/* vcpu_up() starts no thread after shutdown began. */
	for (i = 0; i < d->nr_vcpus; i++) {
		struct vcpu *v = &d->vcpus[i];

		if (__atomic_load_n(&v->thread_started, __ATOMIC_ACQUIRE))
			pthread_join(v->thread, NULL);
		__atomic_store_n(&v->thread_started, false, __ATOMIC_RELEASE);
	}
}

void domain_pause(struct domain *d)
{
	unsigned int i;
	bool all;

	pthread_mutex_lock(&d->lock);
	d->paused = true;
	for (i = 0; i < d->nr_vcpus; i++)
		if (d->vcpus[i].in_run)
			vcpu_kick(&d->vcpus[i]);
	pthread_mutex_unlock(&d->lock);
	/* Blocked and polling vCPUs return to the guest and then park. */
	xen_state_wake_all(d);
	pthread_mutex_lock(&d->lock);
	for (;;) {
		all = true;
		for (i = 0; i < d->nr_vcpus; i++) {
			struct vcpu *v = &d->vcpus[i];

			if (__atomic_load_n(&v->thread_started,
					    __ATOMIC_ACQUIRE) &&
			    !v->parked)
				all = false;
		}
		if (all || d->shutting_down)
			break;
		pthread_cond_wait(&d->parked_cond, &d->lock);
	}
	pthread_mutex_unlock(&d->lock);
}

void domain_unpause(struct domain *d)
{
	pthread_mutex_lock(&d->lock);
	d->paused = false;
	vcpu_wake_all(d);
	pthread_mutex_unlock(&d->lock);
	time_unpause(d);
}

bool domain_is_paused(struct domain *d)
{
	bool r;

	pthread_mutex_lock(&d->lock);
	r = d->paused;
	pthread_mutex_unlock(&d->lock);
	return r;
}
