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

/* vCPU `id`: fd, run area, CPUID; vCPU 0 also gets the PVH entry state. */
int kvm_vcpu_create(struct domain *d, unsigned int id)
	__attribute__((warn_unused_result));

/* Registers of a vCPU into the log, for a crash report. */
void kvm_vcpu_dump(struct vcpu *v);

void kvm_destroy(struct domain *d);

#endif
