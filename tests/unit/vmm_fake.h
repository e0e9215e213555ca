/* SPDX-License-Identifier: MIT */
/* Domains without KVM, for tests and fuzzing of the VMM's Xen state. */
#ifndef XENIA_TESTS_VMM_FAKE_H
#define XENIA_TESTS_VMM_FAKE_H

#include <stdint.h>

#include "domain.h"
#include "gnttab.h"

#define VMM_FAKE_RAM_SIZE (4u << 20)
#define VMM_FAKE_SHINFO_GFN 0x10u
#define VMM_FAKE_VCPU_INFO_GPA (0x20000u + 64)

/*
 * An idle domain with nr_vcpus vCPUs and a grant table; abort()s if
 * set-up fails.
 */
struct domain *vmm_fake_domain(uint16_t domid, unsigned int nr_vcpus);
/*
 * Domain 7 with 2 vCPUs in use: shared_info placed, callback vector set,
 * ports 1-2 a loopback pair, 3 VIRQ_TIMER on vCPU 1, 4 an IPI, 5
 * unbound; vCPU 1's vcpu_info registered, timers far in the future.
 */
struct domain *vmm_fake_busy_domain(void);
void vmm_fake_free(struct domain *d);

/*
 * A frontend's domain, for a backend under test: its grant table's frame
 * 0 at table_gfn in its RAM, and the grantee through which domain 0 (the
 * backend) maps what it grants.
 */
struct vmm_fake_guest {
	struct domain *d;
	uint64_t table_gfn;
	struct gnttab_grantee grantee;
};

/* abort()s if the domain cannot be made; else gnttab's 0 or -errno. */
int vmm_fake_guest_init(struct vmm_fake_guest *g, uint16_t domid,
			uint64_t table_gfn) __attribute__((warn_unused_result));
uint8_t *vmm_fake_page(const struct vmm_fake_guest *g, uint64_t gfn);
grant_entry_v1_t *vmm_fake_entry(const struct vmm_fake_guest *g,
				 grant_ref_t ref);
/* Grants gfn to domain 0 with GTF_permit_access | flags. */
void vmm_fake_grant(const struct vmm_fake_guest *g, grant_ref_t ref,
		    uint64_t gfn, uint16_t flags);
/*
 * What a disconnect left behind: a mapping, or one of refs 0..nr_refs-1
 * marked in use; NULL if nothing.
 */
const char *vmm_fake_leftover(const struct vmm_fake_guest *g,
			      grant_ref_t nr_refs);

#endif
