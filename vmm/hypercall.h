/* SPDX-License-Identifier: MIT */
/*
 * Xen hypercalls from the guest.
 *
 * Transport: KVM here has no in-kernel Xen support and VMCALL hangs the
 * vCPU, so the hypercall page holds, for hypercall i at offset 32*i,
 *
 *	mov $i, %eax		b8 <i:32>
 *	out %eax, $0x99		e7 99
 *	ret			c3
 *
 * which exits to us as KVM_EXIT_IO on HYPERCALL_PORT.  The port must fit
 * OUT's 8-bit immediate: a 16-bit port would need %dx, which is hypercall
 * argument 3.  Arguments are read from the registers KVM synced at the
 * exit (rdi rsi rdx r10 r8 r9), the result goes back in rax as a Xen
 * (negative) errno or a value.  Only 64-bit callers: our structures are
 * the 64-bit layouts, and 32-bit code gets -ENOSYS (no compat layer).
 */
#ifndef XENIA_VMM_HYPERCALL_H
#define XENIA_VMM_HYPERCALL_H

#include <stdint.h>

#include "domain.h"

#define HYPERCALL_PORT 0x99
#define HYPERCALL_STUB_SIZE 32
/*
 * Xen's internal ERESTART (xen/errno.h keeps it to the hypervisor): a
 * handler's "issue this hypercall again"; it never reaches the guest.
 */
#define HYPERCALL_ERESTART 85
/* `out %eax, $imm8`: KVM reports the exit with rip past it. */
#define HYPERCALL_OUT_LEN 2

struct hypercall_args {
	uint64_t a[6];
};

/*
 * A handler returns a value or -XEN_E*; -HYPERCALL_ERESTART restarts the
 * hypercall: the guest issues it again when it next runs (a wait that a
 * pause interrupted, to be continued after it, or after a restore).
 */
typedef long hypercall_fn(struct vcpu *v, const struct hypercall_args *args);

/* The guest wrote MSR 0x40000000: fill the page.  0, or <0 for a #GP. */
int hypercall_page_install(struct vcpu *v, uint64_t msr_value)
	__attribute__((warn_unused_result));

/* A KVM_EXIT_IO on HYPERCALL_PORT: run hypercall `nr` and set rax. */
void hypercall_dispatch(struct vcpu *v, uint32_t nr);

/* Handlers, one file per hypercall family. */
hypercall_fn hcall_console_io;
hypercall_fn hcall_sched_op;
hypercall_fn hcall_xen_version;
hypercall_fn hcall_event_channel_op;
hypercall_fn hcall_hvm_op;
hypercall_fn hcall_memory_op;
hypercall_fn hcall_vcpu_op;
hypercall_fn hcall_set_timer_op;
hypercall_fn hcall_grant_table_op;

/* SCHEDOP_block and SCHEDOP_poll (evtchn.c). */
long sched_block(struct vcpu *v);
long sched_poll(struct vcpu *v, uint64_t arg);

/* Logs an unknown sub-op once per (hypercall, op) pair, rate-limited. */
void hypercall_log_unknown_op(const char *hcall, uint64_t op);

#endif
