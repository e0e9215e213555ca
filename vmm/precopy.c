/* SPDX-License-Identifier: MIT */
/*
 * The dirty set of a live migration's rounds (migrate.h).
 *
 * Two writers change guest RAM while the domain runs: the guest, whose
 * writes KVM logs, and this process, which KVM does not see: hypercall
 * results, event channel and time updates in shared_info and vcpu_info,
 * grant flags, backends writing through grants, xenstored and the
 * console backend in the special pages, the balloon punching pages out.
 * The second kind is caught two ways: writes that end (a grant's write
 * pin dropped, a copy to the guest, a balloon change) set a bit in
 * d->vmm_dirty as they happen, and pages that may be written at any time
 * (shared_info, vcpu_info, grant frames, frames a backend holds for
 * writing, the special pages) are counted dirty in every round.  A round
 * takes both logs at once; the pages it sends are read after that, so a
 * write during the send shows in the next round.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "domain.h"
#include "gnttab.h"
#include "kvm.h"
#include "log.h"
#include "mem.h"
#include "migrate.h"
#include "xenstate.h"

static size_t precopy_words(const struct domain *d)
{
	return (d->ram_size / VMM_PAGE_SIZE + 63) / 64;
}

int precopy_begin(struct domain *d, struct precopy *pc)
{
	size_t words = precopy_words(d);
	uint64_t *map;
	int rc;

	memset(pc, 0, sizeof(*pc));
	pc->bitmap = calloc(words, sizeof(uint64_t));
	pc->kvm = calloc(words, sizeof(uint64_t));
	if (!pc->bitmap || !pc->kvm) {
		precopy_end(d, pc);
		return -ENOMEM;
	}
	map = __atomic_load_n(&d->vmm_dirty, __ATOMIC_ACQUIRE);
	if (!map) {
		map = calloc(words, sizeof(uint64_t));
		if (!map) {
			precopy_end(d, pc);
			return -ENOMEM;
		}
		__atomic_store_n(&d->vmm_dirty, map, __ATOMIC_RELEASE);
	}
	/* Whatever an earlier migration left: the first round sends all. */
	memset(map, 0, words * sizeof(uint64_t));
	rc = kvm_dirty_log(d, true);
	if (rc < 0) {
		precopy_end(d, pc);
		return rc;
	}
	pc->logging = true;
	return 0;
}

/* Pages this process may be writing at any time. */
static void precopy_mark_xen_pages(struct domain *d)
{
	struct xen_state *x = &d->xen;
	unsigned int i;

	pthread_mutex_lock(&x->lock);
	if (x->shared_info_gfn != SHARED_INFO_NONE)
		mem_mark_dirty(d, x->shared_info_gfn);
	for (i = 0; i < d->nr_vcpus; i++)
		if (x->vcpu[i].vcpu_info_gpa != VCPU_INFO_NONE)
			mem_mark_dirty(d,
				       x->vcpu[i].vcpu_info_gpa / VMM_PAGE_SIZE);
	pthread_mutex_unlock(&x->lock);
	mem_mark_dirty(d, mem_special_gfn(d, MEM_SPECIAL_STORE));
	mem_mark_dirty(d, mem_special_gfn(d, MEM_SPECIAL_CONSOLE));
	gnttab_mark_dirty(d);
}

int precopy_harvest(struct domain *d, struct precopy *pc)
{
	size_t i, words = precopy_words(d);
	uint64_t *map = d->vmm_dirty;
	uint64_t n = 0;
	int rc;

	precopy_mark_xen_pages(d);
	rc = kvm_dirty_log_get(d, pc->kvm);
	if (rc < 0)
		return rc;
	/* Added to what is not sent yet (the round that broke off). */
	for (i = 0; i < words; i++) {
		pc->bitmap[i] |= pc->kvm[i] |
				 __atomic_exchange_n(&map[i], 0,
						     __ATOMIC_RELAXED);
		n += (uint64_t)__builtin_popcountll(pc->bitmap[i]);
	}
	pc->nr_dirty = n;
	return 0;
}

void precopy_sent(struct domain *d, struct precopy *pc)
{
	memset(pc->bitmap, 0, precopy_words(d) * sizeof(uint64_t));
	pc->nr_dirty = 0;
}

void precopy_end(struct domain *d, struct precopy *pc)
{
	if (pc->logging && kvm_dirty_log(d, false) < 0)
		log_warnx("migrate: dirty logging stays on");
	free(pc->bitmap);
	free(pc->kvm);
	memset(pc, 0, sizeof(*pc));
}
