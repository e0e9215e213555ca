/* SPDX-License-Identifier: MIT */
/* sched_op: yield and shutdown; block and poll live in evtchn.c. */
#include <sched.h>

#include "hypercall.h"
#include "log.h"
#include "mem.h"
#include "xen.h"

static long sched_shutdown(struct vcpu *v, uint64_t arg)
{
	static const char *const names[] = {"poweroff", "reboot", "suspend",
					    "crash", "watchdog",
					    "soft_reset"};
	struct sched_shutdown s;

	if (mem_copy_from_guest(v, &s, arg, sizeof(s)) < 0)
		return -XEN_EFAULT;
	if (s.reason > SHUTDOWN_MAX)
		return -XEN_EINVAL;
	log_info("domain: vCPU %u: shutdown (%s)", v->id, names[s.reason]);
	domain_shutdown(v->dom, s.reason == SHUTDOWN_poweroff ?
					VMM_EXIT_OK :
					VMM_EXIT_SHUTDOWN_BASE +
						(int)s.reason);
	return 0;
}

long hcall_sched_op(struct vcpu *v, const struct hypercall_args *args)
{
	switch (args->a[0]) {
	case SCHEDOP_yield:
		sched_yield();
		return 0;
	case SCHEDOP_shutdown:
		return sched_shutdown(v, args->a[1]);
	case SCHEDOP_block:
		return sched_block(v);
	case SCHEDOP_poll:
		return sched_poll(v, args->a[1]);
	default:
		hypercall_log_unknown_op("sched_op", args->a[0]);
		return -XEN_ENOSYS;
	}
}
