/*
 * Grant table v1, guest side.  A grant is written frame and domid first,
 * then flags, so the hypervisor never sees a permitted entry with a stale
 * frame; x86 keeps stores in order, so a compiler barrier is enough.  It
 * is revoked with a cmpxchg of flags to 0 that gives up while the
 * hypervisor has set GTF_reading or GTF_writing (the page is in use).
 */
#include "arch.h"
#include "gnttab.h"
#include "lib.h"

#include <xen/arch-x86/cpuid.h>

grant_entry_v1_t gnttab_area[GNTTAB_AREA_FRAMES][GNTTAB_PER_FRAME]
	__attribute__((aligned(4096)));
unsigned int gnttab_nr_frames;

long gnttab_place(unsigned long idx, unsigned long gfn)
{
	struct xen_add_to_physmap xatp = {
		.domid = DOMID_SELF,
		.space = XENMAPSPACE_grant_table,
		.idx = idx,
		.gpfn = gfn,
	};

	return hyp_memory_op(XENMEM_add_to_physmap, &xatp);
}

long gnttab_init(unsigned int nr)
{
	unsigned int i;
	long rc;

	if (nr > GNTTAB_AREA_FRAMES)
		return -XEN_EINVAL;
	for (i = 0; i < nr; i++) {
		rc = gnttab_place(i, gnttab_gfn(gnttab_area[i]));
		if (rc)
			return rc;
		gnttab_nr_frames = i + 1;
	}
	return 0;
}

int xen_domid(void)
{
	struct cpuid_regs r;

	if (!xen_cpuid_base || cpuid(xen_cpuid_base).eax < xen_cpuid_base + 4)
		return -1;
	r = cpuid(xen_cpuid_base + 4);
	if (!(r.eax & XEN_HVM_CPUID_DOMID_PRESENT))
		return -1;
	return (int)(r.ecx & 0xffff);
}

grant_entry_v1_t *gnttab_entry(grant_ref_t ref)
{
	return &gnttab_area[ref / GNTTAB_PER_FRAME][ref % GNTTAB_PER_FRAME];
}

long gnttab_grant_access(domid_t domid, unsigned long frame, int readonly)
{
	grant_ref_t ref, nr = gnttab_nr_frames * GNTTAB_PER_FRAME;
	grant_entry_v1_t *e;

	for (ref = GNTTAB_NR_RESERVED_ENTRIES; ref < nr; ref++) {
		e = gnttab_entry(ref);
		if (__atomic_load_n(&e->flags, __ATOMIC_RELAXED) != GTF_invalid)
			continue;
		e->domid = domid;
		e->frame = (uint32_t)frame;
		asm volatile("" ::: "memory");
		__atomic_store_n(&e->flags,
				 GTF_permit_access | (readonly ? GTF_readonly : 0),
				 __ATOMIC_RELEASE);
		return ref;
	}
	return -1;
}

int gnttab_end_access(grant_ref_t ref)
{
	uint16_t *flags = &gnttab_entry(ref)->flags;
	uint16_t old = __atomic_load_n(flags, __ATOMIC_RELAXED);

	do {
		if (old & (GTF_reading | GTF_writing))
			return -1;
	} while (!__atomic_compare_exchange_n(flags, &old, 0, 0,
					      __ATOMIC_SEQ_CST,
					      __ATOMIC_SEQ_CST));
	return 0;
}
