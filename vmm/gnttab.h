/* SPDX-License-Identifier: MIT */
/*
 * Grant tables, version 1: the guest's side (GNTTABOP_* hypercalls and
 * XENMAPSPACE_grant_table placement) and the backend's side (mapping and
 * copying the pages a guest granted, with the access it granted).
 *
 * The table is nr_frames pages of grant_entry_v1 (512 entries a page).
 * A frame is a private page of ours until the guest places it with
 * XENMEM_add_to_physmap; then it lives in guest RAM at that frame and the
 * guest writes its entries there, concurrently with us.
 *
 * Backends reach guest memory only through here: gnttab_map() checks that
 * the entry grants the page to the backend's domid (and not read-only if
 * it asks to write), marks the entry in use in guest memory
 * (GTF_reading/GTF_writing, which stops the guest from revoking it) and
 * records the mapping; gnttab_unmap() undoes one mapping and clears the
 * flags with the last one.  Return values are 0 or a negative errno:
 *
 *	-EINVAL	 grant reference outside the table, bad offset/length,
 *		 unknown mapping
 *	-EACCES	 the entry does not grant the page to this domid, or it is
 *		 read-only and write access was asked for
 *	-EBUSY	 the guest keeps changing the entry, or it is in use by
 *		 another domid / for another frame
 *	-EFAULT	 the granted frame is not guest RAM
 *	-ENOSPC	 too many mappings
 *	-ENOMEM
 */
#ifndef XENIA_VMM_GNTTAB_H
#define XENIA_VMM_GNTTAB_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "state.h"
#include "xen.h"

#include <xen/grant_table.h>

/* Xen's default max_grant_frames; Xen starts a table with one frame. */
#define GNTTAB_MAX_FRAMES 64
#define GNTTAB_INITIAL_FRAMES 1
#define GNTTAB_ENTRIES_PER_FRAME (4096 / sizeof(grant_entry_v1_t))
/* Xen's default: 1024 maptrack frames of 256 entries. */
#define GNTTAB_MAPTRACK_MAX (1024u * 256u)
/* A frame the guest has not placed: what setup_table reports for it. */
#define GNTTAB_GFN_NONE UINT64_MAX

#define STATE_TAG_GNT STATE_TAG('G', 'N', 'T', '1')

/*
 * Pins of one grant entry: mappings plus copies in flight.  While pins is
 * non-zero, gfn and domid are those checked when the first pin was taken.
 */
struct gnttab_active {
	uint64_t gfn;
	uint32_t pins;
	uint32_t writers;
	uint16_t domid;
};

/* One backend mapping; a free one links to the next free slot. */
struct gnttab_maptrack {
	grant_ref_t ref;
	uint16_t domid;
	bool in_use;
	bool write;
	uint32_t next_free;
};

struct gnttab {
	/* Everything below; never held across guest-memory copies. */
	pthread_mutex_t lock;
	bool initialised;

	uint32_t version;		       /* 1: v2 is not offered */
	uint32_t nr_frames;		       /* 1..max_frames */
	uint32_t max_frames;		       /* <= GNTTAB_MAX_FRAMES */
	uint64_t frame_gfn[GNTTAB_MAX_FRAMES]; /* GNTTAB_GFN_NONE: private */
	/* Host view of frame i: guest RAM at frame_gfn[i], or private. */
	grant_entry_v1_t *frame[GNTTAB_MAX_FRAMES];
	grant_entry_v1_t *frame_private[GNTTAB_MAX_FRAMES];
	struct gnttab_active *active[GNTTAB_MAX_FRAMES];

	struct gnttab_maptrack *maptrack;
	uint32_t maptrack_size;
	uint32_t maptrack_used;
	uint32_t maptrack_free; /* head of the free list, or UINT32_MAX */
};

struct domain;
struct vcpu;

/* A table of one frame, v1, nothing placed.  0 or -ENOMEM. */
int gnttab_init(struct domain *d) __attribute__((warn_unused_result));
/* Frees everything; the guest's entries are left as they are. */
void gnttab_destroy(struct domain *d);

/*
 * XENMEM_add_to_physmap, XENMAPSPACE_grant_table: places frame idx at
 * guest frame gfn, growing the table up to idx as Xen does.  The frame's
 * entries move there; a grant frame already at gfn goes back to a private
 * page.  0, -EINVAL (idx past the maximum, v2 status frame, gfn not RAM)
 * or -ENOMEM.
 */
int gnttab_add_to_physmap(struct domain *d, uint64_t idx, uint64_t gfn)
    __attribute__((warn_unused_result));

/* --- backends --------------------------------------------------------- */

/* A mapped grant: addr is the host address of the whole 4 KiB page. */
struct gnttab_mapping {
	void *addr;
	grant_ref_t ref;
	uint32_t handle;
	bool write;
};

/*
 * Maps grant ref of d for grantee (the backend's domid), for reading, or
 * reading and writing.  The page stays granted until gnttab_unmap().
 */
int gnttab_map(struct domain *d, domid_t grantee, grant_ref_t ref, bool write,
	       struct gnttab_mapping *m) __attribute__((warn_unused_result));
/* Releases m (filled by gnttab_map); -EINVAL if it is not a mapping. */
int gnttab_unmap(struct domain *d, struct gnttab_mapping *m);
/* Releases every mapping of grantee (disconnect); how many there were. */
unsigned int gnttab_unmap_all(struct domain *d, domid_t grantee);
/*
 * Copies len bytes between buf and [offset, offset+len) of the page
 * granted by ref, as GNTTABOP_copy does: the entry is in use only for the
 * copy.  to_guest needs a writable grant.
 */
int gnttab_copy_ref(struct domain *d, domid_t grantee, grant_ref_t ref,
		    uint16_t offset, void *buf, size_t len, bool to_guest)
    __attribute__((warn_unused_result));

/*
 * The same, as the interface a backend holds, so that it runs against a
 * fake in a unit test.  The real one takes a struct gnttab_grantee.
 */
struct gnttab_ops {
	int (*map)(void *ctx, grant_ref_t ref, bool write,
		   struct gnttab_mapping *m);
	int (*unmap)(void *ctx, struct gnttab_mapping *m);
	unsigned int (*unmap_all)(void *ctx);
	int (*copy)(void *ctx, grant_ref_t ref, uint16_t offset, void *buf,
		    size_t len, bool to_guest);
};

struct gnttab_grantee {
	struct domain *d;
	domid_t domid;
};

extern const struct gnttab_ops gnttab_domain_ops;

/*
 * For a migration's round (precopy.c): marks dirty (mem_mark_dirty) the
 * frames this process may be writing now: every placed grant frame (the
 * entries' flags) and every frame a backend holds for writing.
 */
void gnttab_mark_dirty(struct domain *d);

/* --- serialisation (docs/vmm-state.md, "Grant table (GNT1)") ----------- */

/* Appends the GNT1 section.  0 or -ENOMEM. */
int gnttab_save(struct domain *d, struct buf *out)
    __attribute__((warn_unused_result));
/*
 * Checks a GNT1 payload and replaces the table with it.  -EINVAL (logged)
 * for a bad payload, -EBUSY if backends have mappings, -ENOMEM; on error
 * nothing changes.
 */
int gnttab_load(struct domain *d, uint32_t version,
		struct state_reader *payload)
    __attribute__((warn_unused_result));

#endif
