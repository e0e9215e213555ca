/*
 * Hypercalls through the page the hypervisor fills in when the guest writes
 * the MSR named by CPUID leaf base+2.  64-bit Xen ABI: entry N is at
 * hypercall_page + N * 32, arguments in rdi, rsi, rdx, r10, r8, result in
 * rax.  The argument registers may be clobbered by the hypervisor.
 */
#ifndef GUEST_HYPERCALL_H
#define GUEST_HYPERCALL_H

#include <stdint.h>
#include "xen.h"

extern char hypercall_page[];
/* Non-zero once the page is installed; hypercalls return -ENOSYS before. */
extern int hypercall_ready;
/* CPUID base of the Xen leaves (0 if none) and its version leaf. */
extern uint32_t xen_cpuid_base;
extern uint32_t xen_cpuid_version;

int hypercall_init(void);

static inline void *hypercall_entry(unsigned int nr)
{
	if (!hypercall_ready || nr >= 4096 / 32)
		return 0;
	return hypercall_page + nr * 32;
}

/* Call `entry` (a hypercall page slot, or a stand-in) with the Xen ABI. */
static inline long hypercall_at(void *entry, unsigned long a1,
				unsigned long a2, unsigned long a3,
				unsigned long a4, unsigned long a5)
{
	register unsigned long r10 asm("r10") = a4;
	register unsigned long r8 asm("r8") = a5;
	long ret;

	if (!entry)
		return -XEN_ENOSYS;
	asm volatile("call *%[entry]"
		     : "=a"(ret), "+D"(a1), "+S"(a2), "+d"(a3), "+r"(r10),
		       "+r"(r8)
		     : [entry] "r"(entry)
		     : "rcx", "r9", "r11", "memory");
	return ret;
}

static inline long hypercall5(unsigned int nr, unsigned long a1,
			      unsigned long a2, unsigned long a3,
			      unsigned long a4, unsigned long a5)
{
	return hypercall_at(hypercall_entry(nr), a1, a2, a3, a4, a5);
}

static inline long hypercall1(unsigned int nr, unsigned long a1)
{
	return hypercall5(nr, a1, 0, 0, 0, 0);
}

static inline long hypercall2(unsigned int nr, unsigned long a1,
			      unsigned long a2)
{
	return hypercall5(nr, a1, a2, 0, 0, 0);
}

static inline long hypercall3(unsigned int nr, unsigned long a1,
			      unsigned long a2, unsigned long a3)
{
	return hypercall5(nr, a1, a2, a3, 0, 0);
}

static inline long hypercall4(unsigned int nr, unsigned long a1,
			      unsigned long a2, unsigned long a3,
			      unsigned long a4)
{
	return hypercall5(nr, a1, a2, a3, a4, 0);
}

static inline long hyp_console_io(int cmd, unsigned long len, const void *buf)
{
	return hypercall3(__HYPERVISOR_console_io, (unsigned long)cmd, len,
			  (unsigned long)buf);
}

static inline long hyp_sched_op(int cmd, void *arg)
{
	return hypercall2(__HYPERVISOR_sched_op, (unsigned long)cmd,
			  (unsigned long)arg);
}

static inline long hyp_xen_version(int cmd, void *arg)
{
	return hypercall2(__HYPERVISOR_xen_version, (unsigned long)cmd,
			  (unsigned long)arg);
}

static inline long hyp_event_channel_op(int cmd, void *arg)
{
	return hypercall2(__HYPERVISOR_event_channel_op, (unsigned long)cmd,
			  (unsigned long)arg);
}

static inline long hyp_hvm_op(int cmd, void *arg)
{
	return hypercall2(__HYPERVISOR_hvm_op, (unsigned long)cmd,
			  (unsigned long)arg);
}

static inline long hyp_memory_op(int cmd, void *arg)
{
	return hypercall2(__HYPERVISOR_memory_op, (unsigned long)cmd,
			  (unsigned long)arg);
}

static inline long hyp_vcpu_op(int cmd, unsigned int vcpu, void *arg)
{
	return hypercall3(__HYPERVISOR_vcpu_op, (unsigned long)cmd, vcpu,
			  (unsigned long)arg);
}

static inline long hyp_set_timer_op(uint64_t deadline)
{
	return hypercall1(__HYPERVISOR_set_timer_op, deadline);
}

#endif
