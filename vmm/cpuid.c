/* SPDX-License-Identifier: MIT */
#include "cpuid.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "log.h"
#include "xen.h"

#include <xen/arch-x86/cpuid.h>

#define CPUID_MAX_ENTRIES 256
#define CPUID_HV_BASE 0x40000000u
#define CPUID_HV_LAST 0x400000ffu
#define CPUID_1_ECX_CX16 (1u << 13)

/*
 * Xen's leaves.  The signature "XenVMMXenVMM" is spread over ebx, ecx, edx
 * as little-endian words; 0x40000002 says one hypercall page, at MSR
 * 0x40000000.
 */
static const struct kvm_cpuid_entry2 cpuid_xen_leaves[] = {
	{.function = 0x40000000, .eax = 0x40000004,
	 .ebx = 0x566e6558 /* "XenV" */, .ecx = 0x65584d4d /* "MMXe" */,
	 .edx = 0x4d4d566e /* "nVMM" */},
	{.function = 0x40000001,
	 .eax = XENIA_XEN_MAJOR << 16 | XENIA_XEN_MINOR},
	{.function = 0x40000002, .eax = 1, .ebx = XEN_HYPERCALL_MSR},
	{.function = 0x40000003},
	/* The vCPU id (ebx) and domain id (ecx) are patched in below. */
	{.function = 0x40000004,
	 .eax = XEN_HVM_CPUID_VCPU_ID_PRESENT | XEN_HVM_CPUID_DOMID_PRESENT},
};

int cpuid_build(int kvm_fd, uint16_t domid, struct kvm_cpuid2 **out)
{
	size_t nxen = sizeof(cpuid_xen_leaves) / sizeof(cpuid_xen_leaves[0]);
	struct kvm_cpuid2 *c = NULL;
	unsigned int i, n;
	int rc;

	c = calloc(1, sizeof(*c) + (CPUID_MAX_ENTRIES + nxen) *
					   sizeof(c->entries[0]));
	if (!c) {
		rc = -ENOMEM;
		goto out;
	}
	c->nent = CPUID_MAX_ENTRIES;
	if (ioctl(kvm_fd, KVM_GET_SUPPORTED_CPUID, c) < 0) {
		rc = -errno;
		log_err("cpuid: KVM_GET_SUPPORTED_CPUID");
		goto out;
	}
	/* Hide KVM's own leaves: the guest must see Xen, not "KVMKVMKVM". */
	for (i = 0, n = 0; i < c->nent; i++) {
		struct kvm_cpuid_entry2 *e = &c->entries[i];

		if (e->function >= CPUID_HV_BASE &&
		    e->function <= CPUID_HV_LAST)
			continue;
		/* KVM advertises CX16, but the CPL0 emulator here lacks it. */
		if (e->function == 1)
			e->ecx &= ~CPUID_1_ECX_CX16;
		c->entries[n++] = *e;
	}
	memcpy(&c->entries[n], cpuid_xen_leaves, sizeof(cpuid_xen_leaves));
	c->entries[n + nxen - 1].ecx = domid;
	c->nent = n + nxen;
	*out = c;
	c = NULL;
	rc = 0;
out:
	free(c);
	return rc;
}

void cpuid_set_vcpu_id(struct kvm_cpuid2 *c, unsigned int id)
{
	unsigned int i;

	for (i = 0; i < c->nent; i++) {
		struct kvm_cpuid_entry2 *e = &c->entries[i];

		if (e->function == 1)
			e->ebx = (e->ebx & 0x00ffffff) | (id << 24);
		else if (e->function == 0xb || e->function == 0x1f)
			e->edx = id;
		else if (e->function == 0x40000004)
			e->ebx = id;
	}
}
