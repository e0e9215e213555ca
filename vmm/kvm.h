/* SPDX-License-Identifier: MIT */
/*
 * The KVM side of a domain: the VM (memslot, in-kernel irqchip, MSR exits
 * for the hypercall-page MSR) and its vCPUs (CPUID, run area, PVH boot
 * registers).  The ordering rules of this host are in
 * /work/shared/notes/kvm-on-this-host.md.
 */
#ifndef XENIA_VMM_KVM_H
#define XENIA_VMM_KVM_H

#include "domain.h"

/* /dev/kvm, the VM, its RAM slot, irqchip and MSR filter. */
int kvm_vm_create(struct domain *d) __attribute__((warn_unused_result));

/*
 * Dirty logging of the RAM slot, for a live migration (precopy.c):
 * on or off, and the pages written since the last call into bitmap (a
 * bit per page, whole u64s; the log is reset).  0 or -errno, logged.
 */
int kvm_dirty_log(struct domain *d, bool on)
	__attribute__((warn_unused_result));
int kvm_dirty_log_get(struct domain *d, uint64_t *bitmap)
	__attribute__((warn_unused_result));

/* vCPU `id`: fd, run area, CPUID; vCPU 0 also gets the PVH entry state. */
int kvm_vcpu_create(struct domain *d, unsigned int id)
	__attribute__((warn_unused_result));

/*
 * The registers a vCPU starts with (PVH entry, VCPUOP_initialise).  What
 * is not here keeps its reset value: GDTR/IDTR, LDTR, CR2, CR8, the APIC
 * base and every MSR but EFER.
 */
struct kvm_boot_regs {
	struct kvm_segment cs, ds, es, ss, fs, gs, tr;
	uint64_t cr0, cr3, cr4, efer;
	struct kvm_regs regs;
};

/*
 * Loads b into vCPU v and makes it runnable (an AP's in-kernel LAPIC
 * would otherwise wait for INIT/SIPI).  Only while v is out of KVM_RUN.
 * -EINVAL when KVM refuses the state.
 */
int kvm_vcpu_set_boot_regs(struct vcpu *v, const struct kvm_boot_regs *b)
	__attribute__((warn_unused_result));

/* Registers of a vCPU into the log, for a crash report. */
void kvm_vcpu_dump(struct vcpu *v);

void kvm_destroy(struct domain *d);

#endif
