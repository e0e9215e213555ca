/*
 * The test guest's grant table (v1), as an HVM/PVH guest keeps one: the
 * frames are placed with XENMEM_add_to_physmap (XENMAPSPACE_grant_table)
 * into a page-aligned area of the image, and entries are written there
 * with Xen's v1 protocol.
 */
#ifndef GUEST_GNTTAB_H
#define GUEST_GNTTAB_H

#include <stdint.h>
#include "hypercall.h"
#include "xen.h"
#include <xen/grant_table.h>

/* Frames the area holds; the table may have fewer placed. */
#define GNTTAB_AREA_FRAMES	4
#define GNTTAB_PER_FRAME	(4096 / sizeof(grant_entry_v1_t))

/* The area, frame after frame, and how many frames are placed in it. */
extern grant_entry_v1_t gnttab_area[GNTTAB_AREA_FRAMES][GNTTAB_PER_FRAME];
extern unsigned int gnttab_nr_frames;

static inline long hyp_grant_table_op(unsigned int cmd, void *uop,
				      unsigned int count)
{
	return hypercall3(__HYPERVISOR_grant_table_op, cmd,
			  (unsigned long)uop, count);
}

/* The frame number (gfn) of an address: virtual == physical here. */
static inline unsigned long gnttab_gfn(const void *p)
{
	return (unsigned long)p >> 12;
}

/* Places frame idx at gfn: the memory_op result. */
long gnttab_place(unsigned long idx, unsigned long gfn);

/* Places frames 0..nr-1 in the area; 0 or the first failing result. */
long gnttab_init(unsigned int nr);

/* Our domain id from CPUID leaf base+4, or -1 if it is not given. */
int xen_domid(void);

/* The entry of ref in the placed table (ref must be in range). */
grant_entry_v1_t *gnttab_entry(grant_ref_t ref);

/*
 * Grants frame to domid (read-only if readonly) in the first free entry
 * after the reserved ones: the reference, or -1 if the table is full.
 */
long gnttab_grant_access(domid_t domid, unsigned long frame, int readonly);

/* Revokes ref: 0, or -1 while the grantee has it in use. */
int gnttab_end_access(grant_ref_t ref);

#endif
