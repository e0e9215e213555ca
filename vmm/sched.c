/* SPDX-License-Identifier: MIT */
/*
 * sched_op: yield, shutdown and shutdown_code; block and poll live in
 * evtchn.c.
 */
#include <sched.h>

#include "hypercall.h"
#include "log.h"
#include "mem.h"
#include "xen.h"

static const char *const sched_shutdown_names[] = {
	"poweroff", "reboot", "suspend", "crash", "watchdog", "soft_reset",
};

void domain_guest_shutdown(struct domain *d, unsigned int reason)
{
	int code;

	pthread_mutex_lock(&d->lock);
	code = d->shutdown_code;
	pthread_mutex_unlock(&d->lock);
	if (code >= 0 && (unsigned int)code != reason) {
		log_info("domain: shutdown (%s), reported as the latched %s",
			 sched_shutdown_names[reason],
			 sched_shutdown_names[code]);
		reason = (unsigned int)code;
	} else {
		log_info("domain: shutdown (%s)", sched_shutdown_names[reason]);
	}
	domain_shutdown(d, reason == SHUTDOWN_poweroff
			       ? VMM_EXIT_OK
			       : VMM_EXIT_SHUTDOWN_BASE + (int)reason);
}

static long sched_shutdown(struct vcpu *v, uint64_t arg, bool latch)
{
	struct domain *d = v->dom;
	struct sched_shutdown s;

	if (mem_copy_from_guest(v, &s, arg, sizeof(s)) < 0)
		return -XEN_EFAULT;
	if (s.reason > SHUTDOWN_MAX)
		return -XEN_EINVAL;
	if (!latch) {
		domain_guest_shutdown(d, s.reason);
		return 0;
	}
	/* Xen keeps the first code latched. */
	pthread_mutex_lock(&d->lock);
	if (d->shutdown_code < 0)
		d->shutdown_code = (int)s.reason;
	pthread_mutex_unlock(&d->lock);
	log_debug("domain: vCPU %u latched shutdown code %s", v->id,
		  sched_shutdown_names[s.reason]);
	return 0;
}

/* A wait of the guest's, as the toolstack's info shows it (blocked). */
static long sched_wait(struct vcpu *v, const struct hypercall_args *args)
{
	long rc;

	__atomic_store_n(&v->blocked, true, __ATOMIC_RELAXED);
	if (args->a[0] == SCHEDOP_block)
		rc = sched_block(v);
	else
		rc = sched_poll(v, args->a[1]);
	__atomic_store_n(&v->blocked, false, __ATOMIC_RELAXED);
	return rc;
}

long hcall_sched_op(struct vcpu *v, const struct hypercall_args *args)
{
	switch (args->a[0]) {
	case SCHEDOP_yield:
		sched_yield();
		return 0;
	case SCHEDOP_shutdown:
		return sched_shutdown(v, args->a[1], false);
	case SCHEDOP_shutdown_code:
		return sched_shutdown(v, args->a[1], true);
	case SCHEDOP_block:
	case SCHEDOP_poll:
		return sched_wait(v, args);
	default:
		hypercall_log_unknown_op("sched_op", args->a[0]);
		return -XEN_ENOSYS;
	}
}
