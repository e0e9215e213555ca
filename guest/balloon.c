/*
 * The balloon driver (balloon.h).  Batches of up to BALLOON_BATCH frames
 * per hypercall, as Linux's frame_list: giving back lists the frames
 * downward from the current edge and taking back lists them upward, so
 * that whatever part of a batch the hypervisor does, the pages given back
 * stay one range at the top.
 */
#include <stdbool.h>

#include "balloon.h"
#include "guest.h"
#include "hypercall.h"
#include "lib.h"

#define BALLOON_BATCH 512u
#define PAGE_SHIFT 12

struct balloon balloon;

static xen_pfn_t balloon_frames[BALLOON_BATCH];
/* Set by balloon_reserve(): RAM below it is somebody else's. */
static uint64_t balloon_reserved;

long balloon_reservation(void)
{
	domid_t self = DOMID_SELF;

	return hyp_memory_op(XENMEM_current_reservation, &self);
}

/*
 * The RAM entry of the memory map holding our image: the balloon lies
 * between the image's end (or the reservation's) and that entry's end,
 * below any boot module.
 */
int balloon_free_ram(uint64_t *low, uint64_t *top)
{
	const struct hvm_memmap_table_entry *map;
	uint64_t end = (uintptr_t)_image_end, t = 0;
	const struct hvm_modlist_entry *mod;
	uint32_t i;

	if (!start_info || start_info->version < 1 ||
	    !start_info->memmap_paddr || start_info->memmap_entries > 128)
		return -XEN_ENOENT;
	map = (const void *)(uintptr_t)start_info->memmap_paddr;
	for (i = 0; i < start_info->memmap_entries; i++)
		if (map[i].type == XEN_HVM_MEMMAP_TYPE_RAM &&
		    map[i].addr <= end && end < map[i].addr + map[i].size &&
		    map[i].addr + map[i].size <= 0x100000000ul)
			t = map[i].addr + map[i].size;
	mod = (const void *)(uintptr_t)start_info->modlist_paddr;
	for (i = 0; mod && i < start_info->nr_modules && i < 16; i++)
		if (mod[i].paddr >= end && mod[i].paddr < t)
			t = mod[i].paddr;
	if (balloon_reserved > end)
		end = balloon_reserved;
	*low = (end + 4095) >> PAGE_SHIFT;
	*top = t >> PAGE_SHIFT;
	return *top > *low ? 0 : -XEN_ENOSPC;
}

void balloon_reserve(uint64_t end)
{
	balloon_reserved = end;
}

int balloon_init(void)
{
	long cur = balloon_reservation();
	int rc;

	if (cur < 0)
		return (int)cur;
	rc = balloon_free_ram(&balloon.low_gfn, &balloon.top_gfn);
	if (rc)
		return rc;
	balloon.total_pages = (uint64_t)cur;
	balloon.released = 0;
	return 0;
}

uint64_t balloon_current_kib(void)
{
	return (balloon.total_pages - balloon.released) << (PAGE_SHIFT - 10);
}

uint64_t balloon_floor_kib(void)
{
	uint64_t pages =
	    balloon.total_pages - (balloon.top_gfn - balloon.low_gfn);
	uint64_t kib = pages << (PAGE_SHIFT - 10);

	return kib > BALLOON_FLOOR_KIB ? kib : BALLOON_FLOOR_KIB;
}

/* One hypercall over the first n frames: how many it did, or -XEN_E*. */
static long balloon_op(unsigned int cmd, unsigned int n)
{
	struct xen_memory_reservation r = {
	    .nr_extents = n,
	    .extent_order = 0,
	    .domid = DOMID_SELF,
	};

	set_xen_guest_handle(r.extent_start, balloon_frames);
	return hyp_memory_op(cmd, &r);
}

/*
 * Gives back (give) or takes back up to `pages` at the balloon's edge,
 * a batch at a time: how many moved.
 */
static uint64_t balloon_move(uint64_t pages, bool give)
{
	uint64_t done = 0, edge;
	unsigned int i, n;
	long rc;

	while (done < pages) {
		n = pages - done < BALLOON_BATCH ? (unsigned int)(pages - done)
						 : BALLOON_BATCH;
		edge = balloon.top_gfn - balloon.released;
		for (i = 0; i < n; i++)
			balloon_frames[i] = give ? edge - 1 - i : edge + i;
		rc = balloon_op(give ? XENMEM_decrease_reservation
				     : XENMEM_populate_physmap,
				n);
		if (rc > 0) {
			if (give)
				balloon.released += (uint64_t)rc;
			else
				balloon.released -= (uint64_t)rc;
			done += (uint64_t)rc;
		}
		if (rc != (long)n)
			break;
	}
	return done;
}

int balloon_set_target(uint64_t target_kib)
{
	uint64_t floor = balloon_floor_kib(), cur = balloon_current_kib();
	uint64_t want, have;

	if (target_kib < floor)
		target_kib = floor;
	if (target_kib > balloon.total_pages << (PAGE_SHIFT - 10))
		target_kib = balloon.total_pages << (PAGE_SHIFT - 10);
	want = target_kib >> (PAGE_SHIFT - 10);
	have = cur >> (PAGE_SHIFT - 10);
	if (want < have)
		return balloon_move(have - want, true) == have - want ? 0
								     : -XEN_EIO;
	if (want > have)
		return balloon_move(want - have, false) == want - have ? 0
								: -XEN_ENOMEM;
	return 0;
}

void balloon_touch(uint64_t pattern)
{
	uint64_t gfn;

	for (gfn = balloon.low_gfn; gfn < balloon.top_gfn; gfn++)
		*(volatile uint64_t *)(uintptr_t)(gfn << PAGE_SHIFT) = pattern;
}
