/*
 * Xen detection and hypercall page installation.
 *
 * The hypervisor leaves may sit at any 0x100 step from 0x40000000 (a
 * hypervisor that also offers another ABI puts Xen's leaves higher), so
 * scan them all and take the first "XenVMMXenVMM" whose max leaf reaches
 * base+2.  Leaf base+2 gives the number of hypercall pages in EAX and the
 * MSR to write in EBX; writing the physical address of our page to that
 * MSR makes the hypervisor fill it with the call stubs.
 */
#include "arch.h"
#include "hypercall.h"
#include "lib.h"

int hypercall_ready;
uint32_t xen_cpuid_base;
uint32_t xen_cpuid_version;

static uint32_t xen_cpuid_find(void)
{
	uint32_t base;

	for (base = 0x40000000; base < 0x40010000; base += 0x100) {
		struct cpuid_regs r = cpuid(base);
		uint32_t sig[3] = { r.ebx, r.ecx, r.edx };

		if (!memcmp(sig, "XenVMMXenVMM", 12) && r.eax >= base + 2)
			return base;
	}
	return 0;
}

int hypercall_init(void)
{
	struct cpuid_regs r;

	xen_cpuid_base = xen_cpuid_find();
	if (!xen_cpuid_base)
		return -XEN_ENOSYS;
	xen_cpuid_version = cpuid(xen_cpuid_base + 1).eax;
	r = cpuid(xen_cpuid_base + 2);
	if (r.eax < 1)
		return -XEN_ENOSYS;
	/* Identity mapped: the virtual address is the physical one. */
	wrmsr(r.ebx, (uint64_t)(uintptr_t)hypercall_page);
	hypercall_ready = 1;
	return 0;
}
