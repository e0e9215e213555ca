/* SPDX-License-Identifier: MIT */
/*
 * Ballooning: the guest gives pages of its RAM back to the host
 * (XENMEM_decrease_reservation) and takes them back later
 * (XENMEM_populate_physmap), one 4 KiB page per extent.
 *
 * A released page is a hole punched in the guest's memfd, so the host
 * gets the memory back, and a bit in a bitmap of released gfns.  The guest
 * may give back any page of its RAM below the special pages, except those
 * the hypervisor itself keeps using there: shared_info, the grant-table
 * frames and registered vcpu_infos.  Backends refuse a grant of a released
 * page (GNTST_bad_page) and hypercall arguments in one fault (-EFAULT), as
 * on Xen.  A guest that touches a released page anyway gets a fresh zeroed
 * page from the host, which stays counted as released; a page it takes
 * back is always zeroed (the hole is punched again), as Xen scrubs.
 *
 * Accounting: d->cur_pages is the RAM pages (special pages included) less
 * the released ones; populate stops at d->max_pages.
 *
 * Locking: the bitmap, cur_pages and max_pages change under the grant
 * table's lock and then xen.lock (in that order), so a check under either
 * lock (placing shared_info under xen.lock, a grant frame under the grant
 * table's) sees a stable answer.  balloon_gfn_released() reads the bitmap
 * without a lock: a backend racing with the guest's own release of a page
 * it granted at most writes into a page the guest gave away.
 */
#ifndef XENIA_VMM_BALLOON_H
#define XENIA_VMM_BALLOON_H

#include <stdbool.h>
#include <stdint.h>

#include "buf.h"
#include "domain.h"
#include "state.h"

/* Xen's encoding of a continuation in memory_op's cmd (xen/hypercall.h). */
#define MEMOP_EXTENT_SHIFT 6
#define MEMOP_CMD_MASK ((1u << MEMOP_EXTENT_SHIFT) - 1)

#define STATE_TAG_BAL STATE_TAG('B', 'A', 'L', '1')

/* Frames the guest may give back: 0 .. balloon_nr_gfns() - 1. */
uint64_t balloon_nr_gfns(const struct domain *d);

/* Whether the guest gave gfn back.  Any context, no lock. */
bool balloon_gfn_released(const struct domain *d, uint64_t gfn);

/*
 * Gives back (decrease) or takes back (populate) gfns[0..n-1], in order,
 * stopping at the first one refused (logged, rate-limited): how many were
 * done.  Refused: a gfn outside the balloonable RAM, one already released
 * (decrease) or not released (populate), one the hypervisor uses
 * (decrease), and any beyond max_pages (populate).
 */
unsigned int balloon_decrease(struct domain *d, const uint64_t *gfns,
			      unsigned int n);
unsigned int balloon_populate(struct domain *d, const uint64_t *gfns,
			      unsigned int n);

/* Frees the bitmap (the holes stay). */
void balloon_destroy(struct domain *d);

/*
 * Serialisation (docs/vmm-state.md, BAL1).  save appends the section;
 * load finds it in a whole image, checks it against the domain (its RAM,
 * and the shared_info, grant frames and vcpu_infos already loaded), then
 * replaces the domain's balloon, punching the released pages out of RAM.
 * 0, -ENOMEM, or -EINVAL (logged) for a bad image, which changes nothing.
 */
int balloon_save(struct domain *d, struct buf *out)
    __attribute__((warn_unused_result));
int balloon_load(struct domain *d, struct state_reader image)
    __attribute__((warn_unused_result));

#endif
