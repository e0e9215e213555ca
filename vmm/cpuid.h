/* SPDX-License-Identifier: MIT */
/*
 * The CPUID a guest sees: what KVM supports, minus KVM's own hypervisor
 * leaves and the features this host's emulator cannot run, plus Xen's
 * leaves at 0x40000000 so the guest finds Xen.
 */
#ifndef XENIA_VMM_CPUID_H
#define XENIA_VMM_CPUID_H

#include <stdint.h>

#include <linux/kvm.h>

/* The MSR through which the guest asks for the hypercall page. */
#define XEN_HYPERCALL_MSR 0x40000000u

/* Builds the domain-wide table into *out (free() it). */
int cpuid_build(int kvm_fd, uint16_t domid, struct kvm_cpuid2 **out)
	__attribute__((warn_unused_result));

/* Patches the per-vCPU fields (APIC ids, Xen vCPU id) before SET_CPUID2. */
void cpuid_set_vcpu_id(struct kvm_cpuid2 *c, unsigned int id);

#endif
