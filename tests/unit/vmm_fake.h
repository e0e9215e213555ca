/* SPDX-License-Identifier: MIT */
/* Domains without KVM, for tests and fuzzing of the VMM's Xen state. */
#ifndef XENIA_TESTS_VMM_FAKE_H
#define XENIA_TESTS_VMM_FAKE_H

#include <stdint.h>

#include "domain.h"

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

#endif
