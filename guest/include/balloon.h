/*
 * The test guest's balloon driver: it gives pages of its RAM back to the
 * hypervisor (XENMEM_decrease_reservation) and takes them back
 * (XENMEM_populate_physmap), as Linux's balloon does for memory/target.
 *
 * The test guest has no page allocator: everything it uses lies in its
 * image (code, data, stacks, the pages it shares with the hypervisor).
 * The pages between the end of the image and the end of the RAM that
 * holds it (below the hypervisor's special pages, below an initrd if one
 * was loaded there) are the balloon's alone, but for a reservation at
 * their bottom (balloon_reserve()).  It gives them back from the
 * top down, so the pages given back are always [top - released, top).
 */
#ifndef GUEST_BALLOON_H
#define GUEST_BALLOON_H

#include <stdint.h>

/* Linux keeps at least this much; we keep at least this and our image. */
#define BALLOON_FLOOR_KIB 4096ul

struct balloon {
	uint64_t total_pages; /* the reservation at boot */
	uint64_t low_gfn;     /* the lowest page we may give back */
	uint64_t top_gfn;     /* one past the highest */
	uint64_t released;    /* pages given back: [top - released, top) */
};

extern struct balloon balloon;

/*
 * The pages the balloon would own, [*low, *top) in frames: from the end
 * of our image (or of the reservation) up; 0 or -XEN_E*.
 */
int balloon_free_ram(uint64_t *low, uint64_t *top);
/*
 * Before balloon_init(): the RAM below paddr `end` is not the balloon's
 * (dirty.h's region lies between our image and it).
 */
void balloon_reserve(uint64_t end);
/* From the memory map and XENMEM_current_reservation; 0 or -XEN_E*. */
int balloon_init(void);
/* What we hold now, and the least we may hold, in KiB. */
uint64_t balloon_current_kib(void);
uint64_t balloon_floor_kib(void);
/* XENMEM_current_reservation in pages, or -XEN_E*. */
long balloon_reservation(void);
/*
 * Gives back or takes back pages until we hold target_kib (clamped to
 * the floor and to what we had at boot).  0 once there; -XEN_ENOMEM when
 * the hypervisor would give back no more (its maximum); -XEN_EIO when it
 * refused pages it should have taken.
 */
int balloon_set_target(uint64_t target_kib);
/* Writes a word into every page the balloon may give back. */
void balloon_touch(uint64_t pattern);

#endif
