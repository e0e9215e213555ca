/* SPDX-License-Identifier: MIT */
#include "hypercall.h"

#include <errno.h>
#include <stdatomic.h>
#include <string.h>

#include "log.h"
#include "mem.h"
#include "xen.h"

#define HYPERCALL_MAX 64
#define X86_EFER_LMA (1ULL << 10)

struct hypercall_row {
	const char *name;
	hypercall_fn *fn;
};

static const struct hypercall_row hypercall_table[HYPERCALL_MAX] = {
	[__HYPERVISOR_console_io] = {"console_io", hcall_console_io},
	[__HYPERVISOR_sched_op] = {"sched_op", hcall_sched_op},
	[__HYPERVISOR_xen_version] = {"xen_version", hcall_xen_version},
	[__HYPERVISOR_event_channel_op] = {"event_channel_op",
					   hcall_event_channel_op},
	[__HYPERVISOR_hvm_op] = {"hvm_op", hcall_hvm_op},
	[__HYPERVISOR_memory_op] = {"memory_op", hcall_memory_op},
	[__HYPERVISOR_vcpu_op] = {"vcpu_op", hcall_vcpu_op},
	[__HYPERVISOR_set_timer_op] = {"set_timer_op", hcall_set_timer_op},
	[__HYPERVISOR_grant_table_op] = {"grant_table_op",
					 hcall_grant_table_op},
};

/* One bit per stub of the page whose -ENOSYS has been logged. */
#define HYPERCALL_STUBS (VMM_PAGE_SIZE / HYPERCALL_STUB_SIZE)
static atomic_uint_least64_t hypercall_enosys_logged[HYPERCALL_STUBS / 64];
static struct log_ratelimit hypercall_rl = LOG_RATELIMIT_INIT;

int hypercall_page_install(struct vcpu *v, uint64_t msr_value)
{
	uint64_t gpa = msr_value & VMM_PAGE_MASK;
	uint8_t *page;
	unsigned int i;

	/* The low bits pick a page of the area; we have only page 0. */
	if (msr_value & ~VMM_PAGE_MASK)
		return -EINVAL;
	page = mem_gpa_ptr(v->dom, gpa, VMM_PAGE_SIZE);
	if (!page)
		return -EFAULT;
	for (i = 0; i < VMM_PAGE_SIZE / HYPERCALL_STUB_SIZE; i++) {
		uint8_t *p = page + i * HYPERCALL_STUB_SIZE;

		memset(p, 0xcc, HYPERCALL_STUB_SIZE); /* int3 padding */
		p[0] = 0xb8;
		memcpy(p + 1, &i, 4);
		p[5] = 0xe7;
		p[6] = HYPERCALL_PORT;
		p[7] = 0xc3;
	}
	mem_mark_dirty(v->dom, gpa / VMM_PAGE_SIZE);
	log_debug("hypercall: vCPU %u: page at 0x%llx", v->id,
		  (unsigned long long)gpa);
	return 0;
}

void hypercall_log_unknown_op(const char *hcall, uint64_t op)
{
	log_warnx_rl(&hypercall_rl, "hypercall: %s: unknown op %llu: -ENOSYS",
		     hcall, (unsigned long long)op);
}

static bool hypercall_is_64bit(struct vcpu *v)
{
	const struct kvm_sregs *s = &v->run->s.regs.sregs;

	return (s->efer & X86_EFER_LMA) && s->cs.l;
}

static void hypercall_get_args(struct vcpu *v, struct hypercall_args *args)
{
	const struct kvm_regs *r = &v->run->s.regs.regs;

	args->a[0] = r->rdi;
	args->a[1] = r->rsi;
	args->a[2] = r->rdx;
	args->a[3] = r->r10;
	args->a[4] = r->r8;
	args->a[5] = r->r9;
}

void hypercall_dispatch(struct vcpu *v, uint32_t nr)
{
	const struct hypercall_row *row = NULL;
	struct hypercall_args args;
	long ret;

	if (nr < HYPERCALL_MAX && hypercall_table[nr].fn)
		row = &hypercall_table[nr];
	/*
	 * Our structures are the 64-bit layouts: a 32-bit caller would need
	 * Xen's compat translation, which we do not have.  Refuse it.
	 */
	if (row && !hypercall_is_64bit(v)) {
		log_warnx_rl(&hypercall_rl,
			     "hypercall: vCPU %u: %s from 32-bit code: -ENOSYS "
			     "(64-bit guests only)",
			     v->id, row->name);
		v->run->s.regs.regs.rax = (uint64_t)-XEN_ENOSYS;
		v->run->kvm_dirty_regs |= KVM_SYNC_X86_REGS;
		return;
	}
	if (row) {
		hypercall_get_args(v, &args);
		ret = row->fn(v, &args);
	} else {
		uint64_t bit = 1ULL << (nr % 64);

		/* Numbers past the page come from a hand-made OUT. */
		if (nr >= HYPERCALL_STUBS)
			log_warnx_rl(&hypercall_rl,
				     "hypercall: %u unknown: -ENOSYS", nr);
		else if (!(atomic_fetch_or(&hypercall_enosys_logged[nr / 64],
					   bit) &
			   bit))
			log_warnx("hypercall: %u not implemented: -ENOSYS",
				  nr);
		ret = -XEN_ENOSYS;
	}
	if (ret == -HYPERCALL_ERESTART) {
		/*
		 * A continuation, as Xen's: the guest issues the OUT again
		 * (eax still holds nr).  Where rip points now differs between
		 * KVM's emulator (past the OUT) and VT-x/SVM (at it, skipped on
		 * completion), so rip moves back only once the exit has
		 * completed: vcpu_rewind(), before the vCPU parks.
		 */
		v->restart = true;
		return;
	}
	v->run->s.regs.regs.rax = (uint64_t)ret;
	v->run->kvm_dirty_regs |= KVM_SYNC_X86_REGS;
}
