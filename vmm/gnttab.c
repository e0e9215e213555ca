/* SPDX-License-Identifier: MIT */
/*
 * Grant tables, version 1.
 *
 * A guest grants a page by filling a grant_entry_v1 in its table: frame
 * and domid first, then (after a write barrier) flags = GTF_permit_access,
 * with GTF_readonly if the grantee may only read.  It revokes the grant by
 * a cmpxchg of flags to 0 that it lets succeed only while neither
 * GTF_reading nor GTF_writing is set.  Those two bits are ours: we set
 * them while the page is in use (a backend mapping, a copy in flight), so
 * a revocation that races with us either happens first, and our cmpxchg
 * of the same word fails and sees it, or fails itself because it sees our
 * bit.  A guest that rewrites the entry faster than we can cmpxchg gets
 * GNTST_general_error after five tries, as on Xen.
 *
 * Pins.  Each entry has an active record (struct gnttab_active) counting
 * its pins and write pins.  The first pin checks the entry (type, grantee
 * domid, read-only), sets the flags, reads the frame *after* the cmpxchg
 * (before it, the guest may still reuse a free entry for another frame)
 * and records it; later pins only check the grantee and, for the first
 * write pin, the read-only bit and that the frame is the same.  The last
 * pin clears GTF_reading, the last write pin GTF_writing.  The guest's
 * entry is read once per step and the copy is used: it can change under
 * us at any time, and whatever it says, a pin only ever yields a frame of
 * the domain's own RAM.
 *
 * Frames.  The table starts with one frame and grows (setup_table, or
 * add_to_physmap of a higher index) up to max_frames.  A frame is a
 * private page until the guest places it in its RAM with add_to_physmap;
 * the entries move with it, as they do for shared_info (xenstate.c).
 *
 * Locking: gnttab.lock guards the table, the active records and the
 * maptrack; guest-memory copies of GNTTABOP_copy and gnttab_copy_ref run
 * outside it, under their pins.
 */
#include "gnttab.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "balloon.h"
#include "domain.h"
#include "hypercall.h"
#include "log.h"
#include "mem.h"

#define GNTTAB_PAGE 4096u
/* Xen gives up on an entry the guest keeps changing after five tries. */
#define GNTTAB_CMPXCHG_TRIES 5
/*
 * Ops in one GNTTABOP_copy.  Xen preempts a long batch with a hypercall
 * continuation; we have none, so a batch is bounded instead (Linux's
 * backends batch at most a few hundred) and a longer one is -EINVAL, as
 * Xen answers a count of 2^31 or more.
 */
#define GNTTAB_COPY_MAX 4096u
#define GNTTAB_MAPTRACK_INITIAL 64u
#define GNTTAB_NONE UINT32_MAX

/* flags and domid are updated together as one little-endian word. */
_Static_assert(offsetof(grant_entry_v1_t, flags) == 0 &&
		   offsetof(grant_entry_v1_t, domid) == 2 &&
		   sizeof(grant_entry_v1_t) == 8,
	       "grant_entry_v1 layout");

static struct log_ratelimit gnttab_rl = LOG_RATELIMIT_INIT;

static uint32_t gnttab_nr_entries(const struct gnttab *gt)
{
	return gt->nr_frames * (uint32_t)GNTTAB_ENTRIES_PER_FRAME;
}

static grant_entry_v1_t *gnttab_entry(struct gnttab *gt, grant_ref_t ref)
{
	return &gt->frame[ref / GNTTAB_ENTRIES_PER_FRAME]
			 [ref % GNTTAB_ENTRIES_PER_FRAME];
}

static struct gnttab_active *gnttab_act(struct gnttab *gt, grant_ref_t ref)
{
	return &gt->active[ref / GNTTAB_ENTRIES_PER_FRAME]
			  [ref % GNTTAB_ENTRIES_PER_FRAME];
}

static void gnttab_free_frame(struct gnttab *gt, uint32_t i)
{
	free(gt->frame_private[i]);
	free(gt->active[i]);
	gt->frame_private[i] = NULL;
	gt->active[i] = NULL;
	gt->frame[i] = NULL;
	gt->frame_gfn[i] = GNTTAB_GFN_NONE;
}

/* Two zeroed allocations for one more frame; 0 or -ENOMEM. */
static int gnttab_alloc_frame(grant_entry_v1_t **page,
			      struct gnttab_active **act)
{
	*page = aligned_alloc(GNTTAB_PAGE, GNTTAB_PAGE);
	*act = calloc(GNTTAB_ENTRIES_PER_FRAME, sizeof(**act));
	if (!*page || !*act) {
		free(*page);
		free(*act);
		*page = NULL;
		*act = NULL;
		return -ENOMEM;
	}
	memset(*page, 0, GNTTAB_PAGE);
	return 0;
}

/* Grows the table to n frames (n <= max_frames).  Under the lock. */
static int gnttab_grow(struct gnttab *gt, uint32_t n)
{
	uint32_t i;
	int rc;

	for (i = gt->nr_frames; i < n; i++) {
		rc = gnttab_alloc_frame(&gt->frame_private[i], &gt->active[i]);
		if (rc < 0) {
			while (i-- > gt->nr_frames)
				gnttab_free_frame(gt, i);
			log_warnx("gnttab: out of memory growing to %u frames",
				  n);
			return rc;
		}
		gt->frame[i] = gt->frame_private[i];
		gt->frame_gfn[i] = GNTTAB_GFN_NONE;
	}
	gt->nr_frames = n;
	return 0;
}

int gnttab_init(struct domain *d)
{
	struct gnttab *gt = &d->gnttab;
	uint32_t i;

	pthread_mutex_init(&gt->lock, NULL);
	gt->version = 1;
	gt->nr_frames = 0;
	gt->max_frames = GNTTAB_MAX_FRAMES;
	for (i = 0; i < GNTTAB_MAX_FRAMES; i++) {
		gt->frame_gfn[i] = GNTTAB_GFN_NONE;
		gt->frame[i] = NULL;
		gt->frame_private[i] = NULL;
		gt->active[i] = NULL;
	}
	gt->maptrack = NULL;
	gt->maptrack_size = 0;
	gt->maptrack_used = 0;
	gt->maptrack_free = GNTTAB_NONE;
	gt->initialised = true;
	return gnttab_grow(gt, GNTTAB_INITIAL_FRAMES);
}

void gnttab_destroy(struct domain *d)
{
	struct gnttab *gt = &d->gnttab;
	uint32_t i;

	if (!gt->initialised)
		return;
	for (i = 0; i < GNTTAB_MAX_FRAMES; i++)
		gnttab_free_frame(gt, i);
	gt->nr_frames = 0;
	free(gt->maptrack);
	gt->maptrack = NULL;
	gt->maptrack_size = 0;
	gt->maptrack_used = 0;
	gt->maptrack_free = GNTTAB_NONE;
	pthread_mutex_destroy(&gt->lock);
	gt->initialised = false;
}

/* --- pins ---------------------------------------------------------------- */

/*
 * Sets GTF_reading (and GTF_writing) in entry e with a cmpxchg of its
 * flags+domid word.  `checked`: an earlier pin checked type and grantee.
 */
static int gnttab_set_in_use(grant_entry_v1_t *e, domid_t grantee, bool write,
			     uint16_t type_mask, bool checked)
{
	uint32_t *word = (uint32_t *)(void *)e;
	uint32_t old = __atomic_load_n(word, __ATOMIC_ACQUIRE);
	uint32_t new;
	uint16_t flags, domid;
	unsigned int tries;

	for (tries = 1;; tries++) {
		flags = (uint16_t)old;
		domid = (uint16_t)(old >> 16);
		if (!checked && ((flags & type_mask) != GTF_permit_access ||
				 domid != grantee))
			return -EACCES;
		if (write && (flags & GTF_readonly))
			return -EACCES;
		new = old | GTF_reading | (write ? GTF_writing : 0);
		if (__atomic_compare_exchange_n(word, &old, new, false,
						__ATOMIC_SEQ_CST,
						__ATOMIC_SEQ_CST))
			return 0;
		if (tries == GNTTAB_CMPXCHG_TRIES)
			return -EBUSY;
	}
}

static void gnttab_clear_in_use(grant_entry_v1_t *e, uint16_t bits)
{
	__atomic_fetch_and(&e->flags, (uint16_t)~bits, __ATOMIC_SEQ_CST);
}

/*
 * Takes a pin on ref for grantee; *gfn is then the granted frame, guest
 * RAM.  `map`: a mapping, which also refuses GTF_sub_page as Xen does.
 * Under the lock.
 */
static int gnttab_pin(struct domain *d, domid_t grantee, grant_ref_t ref,
		      bool write, bool map, uint64_t *gfn)
{
	struct gnttab *gt = &d->gnttab;
	uint16_t type_mask = GTF_type_mask | (map ? GTF_sub_page : 0);
	struct gnttab_active *act;
	grant_entry_v1_t *e;
	uint64_t frame;
	bool first;
	int rc;

	if (ref >= gnttab_nr_entries(gt))
		return -EINVAL;
	e = gnttab_entry(gt, ref);
	act = gnttab_act(gt, ref);
	if (act->pins && (act->domid != grantee || act->pins == UINT32_MAX))
		return -EBUSY;
	first = act->pins == 0;
	if (first || (write && !act->writers)) {
		rc = gnttab_set_in_use(e, grantee, write, type_mask, !first);
		if (rc < 0)
			return rc;
		frame = __atomic_load_n(&e->frame, __ATOMIC_ACQUIRE);
		/* A page the guest gave back is not there to map. */
		if (first &&
		    (!mem_gfn_ptr(d, frame) || balloon_gfn_released(d, frame))) {
			gnttab_clear_in_use(e, GTF_reading |
						   (write ? GTF_writing : 0));
			return -EFAULT;
		}
		if (!first && frame != act->gfn) {
			/* Rewritten while in use: only our new bit goes. */
			gnttab_clear_in_use(e, GTF_writing);
			return -EBUSY;
		}
		if (first) {
			act->gfn = frame;
			act->domid = grantee;
		}
	}
	act->pins++;
	if (write)
		act->writers++;
	*gfn = act->gfn;
	return 0;
}

/*
 * Drops a pin taken by gnttab_pin.  A write pin's frame may have been
 * written: a migration sends it again.  Under the lock.
 */
static void gnttab_unpin(struct domain *d, grant_ref_t ref, bool write)
{
	struct gnttab *gt = &d->gnttab;
	struct gnttab_active *act = gnttab_act(gt, ref);
	uint16_t bits = 0;

	act->pins--;
	if (write) {
		act->writers--;
		mem_mark_dirty(d, act->gfn);
	}
	if (!act->pins)
		bits |= GTF_reading;
	if (write && !act->writers)
		bits |= GTF_writing;
	if (bits)
		gnttab_clear_in_use(gnttab_entry(gt, ref), bits);
}

/* -errno of gnttab_pin to the GNTST_* status Xen gives in that case. */
static int16_t gnttab_status(int rc)
{
	switch (rc) {
	case 0:
		return GNTST_okay;
	case -EINVAL:
		return GNTST_bad_gntref;
	case -EFAULT:
		return GNTST_bad_page;
	default:
		return GNTST_general_error;
	}
}

void gnttab_mark_dirty(struct domain *d)
{
	struct gnttab *gt = &d->gnttab;
	uint32_t i, ref;

	pthread_mutex_lock(&gt->lock);
	for (i = 0; i < gt->nr_frames; i++) {
		if (gt->frame_gfn[i] != GNTTAB_GFN_NONE)
			mem_mark_dirty(d, gt->frame_gfn[i]);
		for (ref = 0; ref < GNTTAB_ENTRIES_PER_FRAME; ref++)
			if (gt->active[i][ref].writers)
				mem_mark_dirty(d, gt->active[i][ref].gfn);
	}
	pthread_mutex_unlock(&gt->lock);
}

/* --- placement ----------------------------------------------------------- */

int gnttab_add_to_physmap(struct domain *d, uint64_t idx, uint64_t gfn)
{
	struct gnttab *gt = &d->gnttab;
	grant_entry_v1_t *page = mem_gfn_ptr(d, gfn);
	uint32_t i, j;
	int rc = 0;

	if (!page)
		return -EINVAL;
	pthread_mutex_lock(&gt->lock);
	/*
	 * XENMAPIDX_grant_table_status (v2) makes idx out of range too.  A
	 * page given back is refused under this lock (balloon.h).
	 */
	if (idx >= gt->max_frames || balloon_gfn_released(d, gfn)) {
		rc = -EINVAL;
		goto out;
	}
	i = (uint32_t)idx;
	if (i >= gt->nr_frames) {
		rc = gnttab_grow(gt, i + 1);
		if (rc < 0)
			goto out;
	}
	if (gt->frame_gfn[i] == gfn)
		goto out;
	/* A frame already there is unhooked, as on Xen: back to private. */
	for (j = 0; j < gt->nr_frames; j++) {
		if (gt->frame_gfn[j] != gfn)
			continue;
		memcpy(gt->frame_private[j], page, GNTTAB_PAGE);
		gt->frame[j] = gt->frame_private[j];
		gt->frame_gfn[j] = GNTTAB_GFN_NONE;
	}
	memcpy(page, gt->frame[i], GNTTAB_PAGE);
	gt->frame[i] = page;
	gt->frame_gfn[i] = gfn;
	log_debug("gnttab: frame %u at gfn 0x%llx", i, (unsigned long long)gfn);
out:
	pthread_mutex_unlock(&gt->lock);
	return rc;
}

/* --- backends ------------------------------------------------------------ */

/* A free maptrack slot, growing the table.  Under the lock. */
static int gnttab_maptrack_get(struct gnttab *gt, uint32_t *handle)
{
	struct gnttab_maptrack *mt;
	uint32_t size, i;

	if (gt->maptrack_free == GNTTAB_NONE) {
		size = gt->maptrack_size ? gt->maptrack_size * 2
					 : GNTTAB_MAPTRACK_INITIAL;
		if (size > GNTTAB_MAPTRACK_MAX)
			size = GNTTAB_MAPTRACK_MAX;
		if (size == gt->maptrack_size)
			return -ENOSPC;
		mt = realloc(gt->maptrack, size * sizeof(*mt));
		if (!mt)
			return -ENOMEM;
		for (i = gt->maptrack_size; i < size; i++) {
			memset(&mt[i], 0, sizeof(mt[i]));
			mt[i].next_free = i + 1 < size ? i + 1 : GNTTAB_NONE;
		}
		gt->maptrack = mt;
		gt->maptrack_free = gt->maptrack_size;
		gt->maptrack_size = size;
	}
	*handle = gt->maptrack_free;
	gt->maptrack_free = gt->maptrack[*handle].next_free;
	gt->maptrack_used++;
	return 0;
}

static void gnttab_maptrack_put(struct gnttab *gt, uint32_t handle)
{
	gt->maptrack[handle].in_use = false;
	gt->maptrack[handle].next_free = gt->maptrack_free;
	gt->maptrack_free = handle;
	gt->maptrack_used--;
}

int gnttab_map(struct domain *d, domid_t grantee, grant_ref_t ref, bool write,
	       struct gnttab_mapping *m)
{
	struct gnttab *gt = &d->gnttab;
	struct gnttab_maptrack *mt;
	uint32_t handle;
	uint64_t gfn;
	int rc;

	pthread_mutex_lock(&gt->lock);
	rc = gnttab_maptrack_get(gt, &handle);
	if (rc < 0)
		goto out;
	rc = gnttab_pin(d, grantee, ref, write, true, &gfn);
	if (rc < 0) {
		gnttab_maptrack_put(gt, handle);
		goto out;
	}
	mt = &gt->maptrack[handle];
	mt->ref = ref;
	mt->domid = grantee;
	mt->write = write;
	mt->in_use = true;
	m->addr = mem_gfn_ptr(d, gfn);
	m->ref = ref;
	m->handle = handle;
	m->write = write;
out:
	pthread_mutex_unlock(&gt->lock);
	return rc;
}

int gnttab_unmap(struct domain *d, struct gnttab_mapping *m)
{
	struct gnttab *gt = &d->gnttab;
	struct gnttab_maptrack *mt;
	int rc = -EINVAL;

	pthread_mutex_lock(&gt->lock);
	if (m->handle >= gt->maptrack_size)
		goto out;
	mt = &gt->maptrack[m->handle];
	if (!mt->in_use || mt->ref != m->ref || mt->write != m->write)
		goto out;
	gnttab_unpin(d, mt->ref, mt->write);
	gnttab_maptrack_put(gt, m->handle);
	m->addr = NULL;
	rc = 0;
out:
	pthread_mutex_unlock(&gt->lock);
	if (rc < 0)
		log_warnx_rl(&gnttab_rl, "gnttab: unmap of unknown handle %u",
			     m->handle);
	return rc;
}

unsigned int gnttab_unmap_all(struct domain *d, domid_t grantee)
{
	struct gnttab *gt = &d->gnttab;
	unsigned int n = 0;
	uint32_t h;

	pthread_mutex_lock(&gt->lock);
	for (h = 0; h < gt->maptrack_size; h++) {
		struct gnttab_maptrack *mt = &gt->maptrack[h];

		if (!mt->in_use || mt->domid != grantee)
			continue;
		gnttab_unpin(d, mt->ref, mt->write);
		gnttab_maptrack_put(gt, h);
		n++;
	}
	pthread_mutex_unlock(&gt->lock);
	return n;
}

int gnttab_copy_ref(struct domain *d, domid_t grantee, grant_ref_t ref,
		    uint16_t offset, void *buf, size_t len, bool to_guest)
{
	struct gnttab *gt = &d->gnttab;
	uint8_t *page;
	uint64_t gfn;
	int rc;

	if (offset > GNTTAB_PAGE || len > GNTTAB_PAGE - offset)
		return -EINVAL;
	pthread_mutex_lock(&gt->lock);
	rc = gnttab_pin(d, grantee, ref, to_guest, false, &gfn);
	pthread_mutex_unlock(&gt->lock);
	if (rc < 0)
		return rc;
	page = mem_gfn_ptr(d, gfn);
	if (to_guest)
		memcpy(page + offset, buf, len);
	else
		memcpy(buf, page + offset, len);
	pthread_mutex_lock(&gt->lock);
	gnttab_unpin(d, ref, to_guest);
	pthread_mutex_unlock(&gt->lock);
	return 0;
}

static int gnttab_ops_map(void *ctx, grant_ref_t ref, bool write,
			  struct gnttab_mapping *m)
{
	const struct gnttab_grantee *g = ctx;

	return gnttab_map(g->d, g->domid, ref, write, m);
}

static int gnttab_ops_unmap(void *ctx, struct gnttab_mapping *m)
{
	const struct gnttab_grantee *g = ctx;

	return gnttab_unmap(g->d, m);
}

static unsigned int gnttab_ops_unmap_all(void *ctx)
{
	const struct gnttab_grantee *g = ctx;

	return gnttab_unmap_all(g->d, g->domid);
}

static int gnttab_ops_copy(void *ctx, grant_ref_t ref, uint16_t offset,
			   void *buf, size_t len, bool to_guest)
{
	const struct gnttab_grantee *g = ctx;

	return gnttab_copy_ref(g->d, g->domid, ref, offset, buf, len, to_guest);
}

const struct gnttab_ops gnttab_domain_ops = {
    .map = gnttab_ops_map,
    .unmap = gnttab_ops_unmap,
    .unmap_all = gnttab_ops_unmap_all,
    .copy = gnttab_ops_copy,
};

/* --- hypercalls ---------------------------------------------------------- */

/* Domains that exist for a grant op: only the caller's own, for now. */
static bool gnttab_is_self(struct domain *d, domid_t dom)
{
	return dom == DOMID_SELF || dom == d->xen.domid;
}

static long gnttab_op_setup_table(struct vcpu *v, uint64_t uop, uint32_t count)
{
	struct domain *d = v->dom;
	struct gnttab *gt = &d->gnttab;
	uint64_t gfns[GNTTAB_MAX_FRAMES];
	struct gnttab_setup_table op;
	uint64_t list;
	xen_pfn_t gfn;
	uint32_t i;

	if (count != 1)
		return -XEN_EINVAL;
	if (mem_copy_from_guest(v, &op, uop, sizeof(op)) < 0)
		return -XEN_EFAULT;
	if (!gnttab_is_self(d, op.dom)) {
		op.status = GNTST_bad_domain;
		goto out;
	}
	pthread_mutex_lock(&gt->lock);
	if (op.nr_frames > gt->max_frames ||
	    (op.nr_frames > gt->nr_frames &&
	     gnttab_grow(gt, op.nr_frames) < 0)) {
		op.status = GNTST_general_error;
	} else {
		op.status = GNTST_okay;
		memcpy(gfns, gt->frame_gfn, op.nr_frames * sizeof(gfns[0]));
	}
	pthread_mutex_unlock(&gt->lock);
	if (op.status != GNTST_okay)
		goto out;
	/* An HVM guest gets the frames' gfns: ~0 where none is placed. */
	list = (uint64_t)(uintptr_t)op.frame_list.p;
	for (i = 0; i < op.nr_frames; i++) {
		gfn = (xen_pfn_t)gfns[i];
		if (mem_copy_to_guest(v, list + i * sizeof(gfn), &gfn,
				      sizeof(gfn)) < 0) {
			op.status = GNTST_bad_virt_addr;
			break;
		}
	}
out:
	if (mem_copy_to_guest(v,
			      uop + offsetof(struct gnttab_setup_table, status),
			      &op.status, sizeof(op.status)) < 0)
		return -XEN_EFAULT;
	return 0;
}

static long gnttab_op_query_size(struct vcpu *v, uint64_t uop, uint32_t count)
{
	struct domain *d = v->dom;
	struct gnttab_query_size op;

	if (count != 1)
		return -XEN_EINVAL;
	if (mem_copy_from_guest(v, &op, uop, sizeof(op)) < 0)
		return -XEN_EFAULT;
	if (gnttab_is_self(d, op.dom)) {
		pthread_mutex_lock(&d->gnttab.lock);
		op.nr_frames = d->gnttab.nr_frames;
		op.max_nr_frames = d->gnttab.max_frames;
		pthread_mutex_unlock(&d->gnttab.lock);
		op.status = GNTST_okay;
	} else {
		op.status = GNTST_bad_domain;
	}
	if (mem_copy_to_guest(v, uop, &op, sizeof(op)) < 0)
		return -XEN_EFAULT;
	return 0;
}

/* Xen with v2 disabled: 1 is fine, 2 is -ENOSYS, anything else -EINVAL. */
static long gnttab_op_set_version(struct vcpu *v, uint64_t uop)
{
	struct gnttab_set_version op;
	long rc;

	if (mem_copy_from_guest(v, &op, uop, sizeof(op)) < 0)
		return -XEN_EFAULT;
	if (op.version == 1)
		rc = 0;
	else if (op.version == 2)
		rc = -XEN_ENOSYS;
	else
		rc = -XEN_EINVAL;
	op.version = v->dom->gnttab.version;
	if (mem_copy_to_guest(v, uop, &op, sizeof(op)) < 0)
		return -XEN_EFAULT;
	return rc;
}

static long gnttab_op_get_version(struct vcpu *v, uint64_t uop)
{
	struct gnttab_get_version op;

	if (mem_copy_from_guest(v, &op, uop, sizeof(op)) < 0)
		return -XEN_EFAULT;
	if (!gnttab_is_self(v->dom, op.dom))
		return -XEN_ESRCH;
	op.version = v->dom->gnttab.version;
	if (mem_copy_to_guest(
		v, uop + offsetof(struct gnttab_get_version, version),
		&op.version, sizeof(op.version)) < 0)
		return -XEN_EFAULT;
	return 0;
}

/*
 * One side of a copy names the caller's own domain: by grant reference
 * (DOMID_SELF or our id), or by frame (DOMID_SELF only, as on Xen).
 */
static int16_t gnttab_copy_domain(struct domain *d,
				  const struct gnttab_copy_ptr *p, bool gref)
{
	if (p->domid != DOMID_SELF && !gref)
		return GNTST_permission_denied;
	if (!gnttab_is_self(d, p->domid))
		return GNTST_bad_domain;
	return GNTST_okay;
}

/* The frame of one side: pinned if by gref.  Under the lock. */
static int16_t gnttab_copy_claim(struct domain *d,
				 const struct gnttab_copy_ptr *p, bool gref,
				 bool write, uint64_t *gfn)
{
	if (gref)
		return gnttab_status(
		    gnttab_pin(d, d->xen.domid, p->u.ref, write, false, gfn));
	if (!mem_gfn_ptr(d, p->u.gmfn) || balloon_gfn_released(d, p->u.gmfn))
		return GNTST_bad_page;
	*gfn = p->u.gmfn;
	return GNTST_okay;
}

/* One GNTTABOP_copy element, in Xen's order of checks; its status. */
static int16_t gnttab_copy_one(struct domain *d, const struct gnttab_copy *op)
{
	struct gnttab *gt = &d->gnttab;
	bool sref = op->flags & GNTCOPY_source_gref;
	bool dref = op->flags & GNTCOPY_dest_gref;
	bool spinned = false, dpinned = false;
	uint64_t sgfn = 0, dgfn = 0;
	uint8_t *src, *dst;
	int16_t st;

	if (!op->len)
		return GNTST_okay;
	st = gnttab_copy_domain(d, &op->source, sref);
	if (st == GNTST_okay)
		st = gnttab_copy_domain(d, &op->dest, dref);
	if (st != GNTST_okay)
		return st;

	pthread_mutex_lock(&gt->lock);
	st = gnttab_copy_claim(d, &op->source, sref, false, &sgfn);
	spinned = sref && st == GNTST_okay;
	if (st == GNTST_okay) {
		st = gnttab_copy_claim(d, &op->dest, dref, true, &dgfn);
		dpinned = dref && st == GNTST_okay;
	}
	pthread_mutex_unlock(&gt->lock);

	if (st == GNTST_okay &&
	    ((unsigned int)op->source.offset + op->len > GNTTAB_PAGE ||
	     (unsigned int)op->dest.offset + op->len > GNTTAB_PAGE))
		st = GNTST_bad_copy_arg;
	if (st == GNTST_okay) {
		src = mem_gfn_ptr(d, sgfn);
		dst = mem_gfn_ptr(d, dgfn);
		memmove(dst + op->dest.offset, src + op->source.offset,
			op->len);
		mem_mark_dirty(d, dgfn);
	}
	if (spinned || dpinned) {
		pthread_mutex_lock(&gt->lock);
		if (spinned)
			gnttab_unpin(d, op->source.u.ref, false);
		if (dpinned)
			gnttab_unpin(d, op->dest.u.ref, true);
		pthread_mutex_unlock(&gt->lock);
	}
	if (st != GNTST_okay)
		log_debug("gnttab: copy: status %d", st);
	return st;
}

/*
 * A batch: each element gets its own status; a fault reading an element
 * or writing its status stops the batch with -EFAULT, the elements before
 * it done, as on Xen.
 */
static long gnttab_op_copy(struct vcpu *v, uint64_t uop, uint32_t count)
{
	struct gnttab_copy op;
	uint32_t i;

	if (count > GNTTAB_COPY_MAX)
		return -XEN_EINVAL;
	for (i = 0; i < count; i++, uop += sizeof(op)) {
		if (mem_copy_from_guest(v, &op, uop, sizeof(op)) < 0)
			return -XEN_EFAULT;
		op.status = gnttab_copy_one(v->dom, &op);
		if (mem_copy_to_guest(
			v, uop + offsetof(struct gnttab_copy, status),
			&op.status, sizeof(op.status)) < 0)
			return -XEN_EFAULT;
	}
	return 0;
}

long hcall_grant_table_op(struct vcpu *v, const struct hypercall_args *args)
{
	/* cmd and count are unsigned ints in Xen's prototype. */
	uint32_t count = (uint32_t)args->a[2];
	uint64_t uop = args->a[1];

	if ((int32_t)count < 0)
		return -XEN_EINVAL;
	switch (args->a[0]) {
	case GNTTABOP_setup_table:
		return gnttab_op_setup_table(v, uop, count);
	case GNTTABOP_copy:
		return gnttab_op_copy(v, uop, count);
	case GNTTABOP_query_size:
		return gnttab_op_query_size(v, uop, count);
	case GNTTABOP_set_version:
		return gnttab_op_set_version(v, uop);
	case GNTTABOP_get_version:
		return gnttab_op_get_version(v, uop);
	default:
		hypercall_log_unknown_op("grant_table_op", args->a[0]);
		return -XEN_ENOSYS;
	}
}

/* --- serialisation ------------------------------------------------------- */

/*
 * GNT1 version 1 (docs/vmm-state.md): this header, nr_frames u64 gfns
 * (GNTTAB_GFN_NONE for a private frame), then the 4 KiB contents of each
 * private frame in frame order.  Placed frames travel with RAM.
 */
struct gnttab_image {
	uint32_t version;
	uint32_t nr_frames;
	uint32_t max_frames;
	uint32_t nr_private;
};

int gnttab_save(struct domain *d, struct buf *out)
{
	struct gnttab *gt = &d->gnttab;
	struct gnttab_image h = {0};
	uint8_t *p = NULL;
	size_t len, off;
	uint32_t i;
	int rc;

	pthread_mutex_lock(&gt->lock);
	h.version = gt->version;
	h.nr_frames = gt->nr_frames;
	h.max_frames = gt->max_frames;
	for (i = 0; i < gt->nr_frames; i++)
		if (gt->frame_gfn[i] == GNTTAB_GFN_NONE)
			h.nr_private++;
	len = sizeof(h) + h.nr_frames * sizeof(uint64_t) +
	      (size_t)h.nr_private * GNTTAB_PAGE;
	p = malloc(len);
	if (!p) {
		pthread_mutex_unlock(&gt->lock);
		return -ENOMEM;
	}
	memcpy(p, &h, sizeof(h));
	off = sizeof(h);
	memcpy(p + off, gt->frame_gfn, h.nr_frames * sizeof(uint64_t));
	off += h.nr_frames * sizeof(uint64_t);
	for (i = 0; i < gt->nr_frames; i++) {
		if (gt->frame_gfn[i] != GNTTAB_GFN_NONE)
			continue;
		memcpy(p + off, gt->frame_private[i], GNTTAB_PAGE);
		off += GNTTAB_PAGE;
	}
	pthread_mutex_unlock(&gt->lock);
	rc = state_put_section(out, STATE_TAG_GNT, 1, p, len);
	free(p);
	return rc;
}

/* Any pin (mapping or copy in flight)?  Under the lock. */
static bool gnttab_busy(struct gnttab *gt)
{
	uint32_t ref;

	if (gt->maptrack_used)
		return true;
	for (ref = 0; ref < gnttab_nr_entries(gt); ref++)
		if (gnttab_act(gt, ref)->pins)
			return true;
	return false;
}

#define GNTTAB_LOAD_BAD(...)                                                   \
	do {                                                                   \
		log_warnx("gnttab: load: " __VA_ARGS__);                       \
		rc = -EINVAL;                                                  \
		goto out;                                                      \
	} while (0)

int gnttab_load(struct domain *d, uint32_t version,
		struct state_reader *payload)
{
	struct gnttab *gt = &d->gnttab;
	grant_entry_v1_t *priv[GNTTAB_MAX_FRAMES] = {NULL};
	struct gnttab_active *act[GNTTAB_MAX_FRAMES] = {NULL};
	uint64_t gfn[GNTTAB_MAX_FRAMES];
	struct gnttab_image h;
	uint32_t i, j, nr_private = 0;
	int rc;

	if (version != 1)
		GNTTAB_LOAD_BAD("GNT1 version %u unknown", version);
	if (state_read(payload, &h, sizeof(h)) < 0)
		GNTTAB_LOAD_BAD("truncated header");
	if (h.version != 1)
		GNTTAB_LOAD_BAD("grant table version %u", h.version);
	if (h.max_frames < GNTTAB_INITIAL_FRAMES ||
	    h.max_frames > GNTTAB_MAX_FRAMES)
		GNTTAB_LOAD_BAD("max_frames %u", h.max_frames);
	if (h.nr_frames < GNTTAB_INITIAL_FRAMES || h.nr_frames > h.max_frames)
		GNTTAB_LOAD_BAD("nr_frames %u of %u", h.nr_frames,
				h.max_frames);
	if (state_read(payload, gfn, h.nr_frames * sizeof(gfn[0])) < 0)
		GNTTAB_LOAD_BAD("truncated frame list");
	for (i = 0; i < h.nr_frames; i++) {
		if (gfn[i] == GNTTAB_GFN_NONE) {
			nr_private++;
			continue;
		}
		if (!mem_gfn_ptr(d, gfn[i]))
			GNTTAB_LOAD_BAD("frame %u at gfn 0x%llx, not RAM", i,
					(unsigned long long)gfn[i]);
		for (j = 0; j < i; j++)
			if (gfn[j] == gfn[i])
				GNTTAB_LOAD_BAD("frames %u and %u both at "
						"gfn 0x%llx",
						j, i,
						(unsigned long long)gfn[i]);
	}
	if (nr_private != h.nr_private)
		GNTTAB_LOAD_BAD("%u private frames, header says %u", nr_private,
				h.nr_private);
	for (i = 0; i < h.nr_frames; i++) {
		if (gnttab_alloc_frame(&priv[i], &act[i]) < 0) {
			rc = -ENOMEM;
			goto out;
		}
		if (gfn[i] != GNTTAB_GFN_NONE)
			continue;
		if (state_read(payload, priv[i], GNTTAB_PAGE) < 0)
			GNTTAB_LOAD_BAD("truncated frame %u", i);
		/* Nothing is in use by us on arrival. */
		for (j = 0; j < GNTTAB_ENTRIES_PER_FRAME; j++)
			priv[i][j].flags &=
			    (uint16_t) ~(GTF_reading | GTF_writing);
	}
	if (payload->off != payload->len)
		GNTTAB_LOAD_BAD("%zu bytes past the end",
				payload->len - payload->off);

	pthread_mutex_lock(&gt->lock);
	if (gnttab_busy(gt)) {
		pthread_mutex_unlock(&gt->lock);
		log_warnx("gnttab: load: grants are in use");
		rc = -EBUSY;
		goto out;
	}
	for (i = 0; i < GNTTAB_MAX_FRAMES; i++)
		gnttab_free_frame(gt, i);
	gt->version = h.version;
	gt->max_frames = h.max_frames;
	gt->nr_frames = h.nr_frames;
	for (i = 0; i < h.nr_frames; i++) {
		gt->frame_private[i] = priv[i];
		gt->active[i] = act[i];
		gt->frame_gfn[i] = gfn[i];
		gt->frame[i] = gfn[i] == GNTTAB_GFN_NONE
				   ? priv[i]
				   : mem_gfn_ptr(d, gfn[i]);
		priv[i] = NULL;
		act[i] = NULL;
	}
	pthread_mutex_unlock(&gt->lock);
	rc = 0;
out:
	for (i = 0; i < GNTTAB_MAX_FRAMES; i++) {
		free(priv[i]);
		free(act[i]);
	}
	return rc;
}
