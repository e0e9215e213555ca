/* SPDX-License-Identifier: MIT */
/*
 * A domain's whole hypervisor state as one image of state sections
 * (docs/vmm-state.md): DOM1 (what the image is of), the Xen state (XEN1,
 * EVT1, XVC1), the grant table (GNT1), the balloon (BAL1), the in-kernel
 * irqchip and clock (KVM1) and one CPU1 per vCPU.  Guest RAM is not in it: it travels
 * beside the image (save file, migration stream).
 */
#ifndef XENIA_VMM_DOMAIN_STATE_H
#define XENIA_VMM_DOMAIN_STATE_H

#include <stddef.h>

#include "buf.h"
#include "domain.h"

#define STATE_TAG_DOM STATE_TAG('D', 'O', 'M', '1')

/* Appends the image to out.  Every vCPU must be out of KVM_RUN. */
int domain_state_save(struct domain *d, struct buf *out)
	__attribute__((warn_unused_result));

/*
 * Loads an image into d, a domain built with the same RAM size and vCPU
 * count that has not run yet (-EBUSY if it has), whose RAM already holds
 * the saved guest memory (the load writes the guest's pvclock there).
 * Everything the image says is checked; -EINVAL (with a logged reason)
 * for a bad image, after which d must not be run.
 */
int domain_state_load(struct domain *d, const void *image, size_t len)
	__attribute__((warn_unused_result));

/* After a load: brings up the vCPUs that were running.  0 or -errno. */
int domain_state_resume(struct domain *d) __attribute__((warn_unused_result));

#endif
