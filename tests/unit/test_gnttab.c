/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the grant table (vmm/gnttab.c) without KVM: a domain with
 * RAM from malloc whose frame 0 of the table is placed in RAM, so the test
 * writes grant entries as a guest would.  Covered: the backend API (map,
 * unmap, unmap_all, copy_ref) and the GTF_reading/GTF_writing flags it
 * leaves in the guest's entries, read-only refusal, bad references, a
 * guest that revokes or rewrites entries concurrently, placement of
 * frames, GNTTABOP_* through the hypercall handler, and the GNT1 section
 * with hostile payloads.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "domain.h"
#include "gnttab.h"
#include "vmm_fake.h"
#include "hypercall.h"
#include "log.h"
#include "state.h"

#define RAM_PAGES (VMM_FAKE_RAM_SIZE / 4096u)
#define SELF 3		/* the domain's id */
#define BACKEND 0	/* the grantee a backend acts as */
#define TABLE_GFN 16u	/* frame 0 of the table */
#define OPS_GPA 0x20000u
#define PAGE_A 100u
#define PAGE_B 101u
#define BAD_GFN 5000u	/* past RAM */

static struct domain *dom_new(void)
{
	return vmm_fake_domain(SELF, 1);
}

/* A domain whose frame 0 is at TABLE_GFN. */
static struct domain *dom_placed(void)
{
	struct domain *d = dom_new();

	assert_int_equal(gnttab_add_to_physmap(d, 0, TABLE_GFN), 0);
	return d;
}

static void dom_free(struct domain *d)
{
	vmm_fake_free(d);
}

static grant_entry_v1_t *entry(struct domain *d, grant_ref_t ref)
{
	return (grant_entry_v1_t *)(d->ram + TABLE_GFN * 4096ull) + ref;
}

static uint16_t flags(struct domain *d, grant_ref_t ref)
{
	return __atomic_load_n(&entry(d, ref)->flags, __ATOMIC_SEQ_CST);
}

/* The guest's side of v1: frame and domid, then flags. */
static void grant(struct domain *d, grant_ref_t ref, uint16_t domid,
		  uint32_t frame, uint16_t fl)
{
	grant_entry_v1_t *e = entry(d, ref);

	e->domid = domid;
	e->frame = frame;
	__atomic_store_n(&e->flags, fl, __ATOMIC_SEQ_CST);
}

/* The guest revokes: fails while the grantee has the page in use. */
static bool end_access(struct domain *d, grant_ref_t ref)
{
	uint16_t *f = &entry(d, ref)->flags;
	uint16_t old = __atomic_load_n(f, __ATOMIC_SEQ_CST);

	do {
		if (old & (GTF_reading | GTF_writing))
			return false;
	} while (!__atomic_compare_exchange_n(f, &old, 0, false,
					      __ATOMIC_SEQ_CST,
					      __ATOMIC_SEQ_CST));
	return true;
}

static uint8_t *page(struct domain *d, uint64_t gfn)
{
	return d->ram + gfn * 4096;
}

/* --- backend API --------------------------------------------------------- */

static void test_map_sets_and_unmap_clears_flags(void **state)
{
	struct domain *d = dom_placed();
	struct gnttab_mapping r, w;

	(void)state;
	grant(d, 8, BACKEND, PAGE_A, GTF_permit_access);
	assert_int_equal(gnttab_map(d, BACKEND, 8, false, &r), 0);
	assert_ptr_equal(r.addr, page(d, PAGE_A));
	assert_int_equal(flags(d, 8), GTF_permit_access | GTF_reading);
	assert_false(end_access(d, 8));

	assert_int_equal(gnttab_map(d, BACKEND, 8, true, &w), 0);
	assert_ptr_equal(w.addr, page(d, PAGE_A));
	assert_int_equal(flags(d, 8),
			 GTF_permit_access | GTF_reading | GTF_writing);
	memcpy(w.addr, "hello", 5);
	assert_memory_equal(page(d, PAGE_A), "hello", 5);

	/* The last writer clears GTF_writing, the last pin GTF_reading. */
	assert_int_equal(gnttab_unmap(d, &w), 0);
	assert_int_equal(flags(d, 8), GTF_permit_access | GTF_reading);
	assert_false(end_access(d, 8));
	assert_int_equal(gnttab_unmap(d, &r), 0);
	assert_int_equal(flags(d, 8), GTF_permit_access);
	assert_true(end_access(d, 8));
	assert_int_equal(flags(d, 8), 0);
	dom_free(d);
}

static void test_readonly_grant_refuses_write(void **state)
{
	struct domain *d = dom_placed();
	struct gnttab_mapping m;
	uint8_t buf[16] = "0123456789abcdef";

	(void)state;
	grant(d, 9, BACKEND, PAGE_A, GTF_permit_access | GTF_readonly);
	assert_int_equal(gnttab_map(d, BACKEND, 9, true, &m), -EACCES);
	assert_int_equal(flags(d, 9), GTF_permit_access | GTF_readonly);
	assert_int_equal(gnttab_copy_ref(d, BACKEND, 9, 0, buf, 16, true),
			 -EACCES);
	assert_int_equal(page(d, PAGE_A)[0], 0);

	assert_int_equal(gnttab_map(d, BACKEND, 9, false, &m), 0);
	/* Pinned for reading: a write pin still checks GTF_readonly. */
	{
		struct gnttab_mapping w;

		assert_int_equal(gnttab_map(d, BACKEND, 9, true, &w), -EACCES);
	}
	assert_int_equal(flags(d, 9),
			 GTF_permit_access | GTF_readonly | GTF_reading);
	assert_int_equal(gnttab_unmap(d, &m), 0);
	assert_int_equal(flags(d, 9), GTF_permit_access | GTF_readonly);
	dom_free(d);
}

static void test_bad_refs_and_entries(void **state)
{
	struct domain *d = dom_placed();
	struct gnttab_mapping m;

	(void)state;
	/* One frame: refs 0..511. */
	assert_int_equal(gnttab_map(d, BACKEND, 512, false, &m), -EINVAL);
	assert_int_equal(gnttab_map(d, BACKEND, UINT32_MAX, false, &m),
			 -EINVAL);
	/* Not granted. */
	assert_int_equal(gnttab_map(d, BACKEND, 10, false, &m), -EACCES);
	assert_int_equal(flags(d, 10), 0);
	/* Granted to someone else. */
	grant(d, 11, 7, PAGE_A, GTF_permit_access);
	assert_int_equal(gnttab_map(d, BACKEND, 11, false, &m), -EACCES);
	assert_int_equal(flags(d, 11), GTF_permit_access);
	/* Not a permit_access entry; a v2 sub-page flag on a mapping. */
	grant(d, 12, BACKEND, PAGE_A, GTF_accept_transfer);
	assert_int_equal(gnttab_map(d, BACKEND, 12, false, &m), -EACCES);
	grant(d, 13, BACKEND, PAGE_A, GTF_permit_access | GTF_sub_page);
	assert_int_equal(gnttab_map(d, BACKEND, 13, false, &m), -EACCES);
	/* A frame outside RAM: refused, and the flag we set is gone. */
	grant(d, 14, BACKEND, BAD_GFN, GTF_permit_access);
	assert_int_equal(gnttab_map(d, BACKEND, 14, true, &m), -EFAULT);
	assert_int_equal(flags(d, 14), GTF_permit_access);
	assert_int_equal(d->gnttab.maptrack_used, 0);
	dom_free(d);
}

static void test_pinned_entry_rules(void **state)
{
	struct domain *d = dom_placed();
	struct gnttab_mapping r, w, other;

	(void)state;
	grant(d, 8, BACKEND, PAGE_A, GTF_permit_access);
	assert_int_equal(gnttab_map(d, BACKEND, 8, false, &r), 0);
	/* The guest re-grants it to another domain while it is in use. */
	entry(d, 8)->domid = 5;
	assert_int_equal(gnttab_map(d, 5, 8, false, &other), -EBUSY);
	/* ...or rewrites the frame: a new write pin is refused. */
	entry(d, 8)->domid = BACKEND;
	entry(d, 8)->frame = PAGE_B;
	assert_int_equal(gnttab_map(d, BACKEND, 8, true, &w), -EBUSY);
	assert_int_equal(flags(d, 8), GTF_permit_access | GTF_reading);
	/* Further read pins keep the frame checked by the first. */
	assert_int_equal(gnttab_map(d, BACKEND, 8, false, &other), 0);
	assert_ptr_equal(other.addr, page(d, PAGE_A));
	assert_int_equal(gnttab_unmap(d, &other), 0);
	assert_int_equal(gnttab_unmap(d, &r), 0);
	assert_int_equal(flags(d, 8), GTF_permit_access);
	dom_free(d);
}

static void test_unmap_checks_handle(void **state)
{
	struct domain *d = dom_placed();
	struct gnttab_mapping m, copy, bogus = {.handle = 12345, .ref = 8};

	(void)state;
	grant(d, 8, BACKEND, PAGE_A, GTF_permit_access);
	assert_int_equal(gnttab_map(d, BACKEND, 8, false, &m), 0);
	copy = m;
	copy.ref = 9;
	assert_int_equal(gnttab_unmap(d, &copy), -EINVAL);
	assert_int_equal(gnttab_unmap(d, &bogus), -EINVAL);
	copy = m;
	assert_int_equal(gnttab_unmap(d, &m), 0);
	assert_int_equal(gnttab_unmap(d, &copy), -EINVAL);
	assert_int_equal(flags(d, 8), GTF_permit_access);
	dom_free(d);
}

static void test_unmap_all_on_disconnect(void **state)
{
	struct domain *d = dom_placed();
	struct gnttab_mapping m[4], keep;
	grant_ref_t ref;

	(void)state;
	for (ref = 8; ref < 12; ref++) {
		grant(d, ref, BACKEND, PAGE_A + ref, GTF_permit_access);
		assert_int_equal(gnttab_map(d, BACKEND, ref, ref & 1,
					    &m[ref - 8]), 0);
	}
	grant(d, 20, 2, PAGE_B, GTF_permit_access);
	assert_int_equal(gnttab_map(d, 2, 20, true, &keep), 0);

	assert_int_equal(gnttab_unmap_all(d, BACKEND), 4);
	for (ref = 8; ref < 12; ref++)
		assert_int_equal(flags(d, ref), GTF_permit_access);
	assert_int_equal(flags(d, 20),
			 GTF_permit_access | GTF_reading | GTF_writing);
	assert_int_equal(gnttab_unmap_all(d, BACKEND), 0);
	assert_int_equal(gnttab_unmap(d, &m[0]), -EINVAL);
	assert_int_equal(gnttab_unmap(d, &keep), 0);
	assert_int_equal(d->gnttab.maptrack_used, 0);
	dom_free(d);
}

static void test_many_mappings_of_one_ref(void **state)
{
	struct domain *d = dom_placed();
	static struct gnttab_mapping m[1000];
	unsigned int i;

	(void)state;
	grant(d, 8, BACKEND, PAGE_A, GTF_permit_access);
	for (i = 0; i < 1000; i++)
		assert_int_equal(gnttab_map(d, BACKEND, 8, i % 3 == 0, &m[i]),
				 0);
	assert_int_equal(d->gnttab.maptrack_used, 1000);
	for (i = 0; i < 1000; i++) {
		assert_true(flags(d, 8) & GTF_reading);
		assert_int_equal(gnttab_unmap(d, &m[i]), 0);
	}
	assert_int_equal(flags(d, 8), GTF_permit_access);
	dom_free(d);
}

static void test_copy_ref(void **state)
{
	struct domain *d = dom_placed();
	uint8_t buf[64];

	(void)state;
	grant(d, 8, BACKEND, PAGE_A, GTF_permit_access);
	memset(buf, 0xab, sizeof(buf));
	assert_int_equal(gnttab_copy_ref(d, BACKEND, 8, 4032, buf, 64, true),
			 0);
	assert_int_equal(page(d, PAGE_A)[4095], 0xab);
	assert_int_equal(page(d, PAGE_A)[4031], 0);
	assert_int_equal(flags(d, 8), GTF_permit_access);
	memset(buf, 0, sizeof(buf));
	assert_int_equal(gnttab_copy_ref(d, BACKEND, 8, 4032, buf, 64, false),
			 0);
	assert_int_equal(buf[63], 0xab);
	assert_int_equal(gnttab_copy_ref(d, BACKEND, 8, 4033, buf, 64, false),
			 -EINVAL);
	assert_int_equal(gnttab_copy_ref(d, BACKEND, 8, 0, buf, 4097, false),
			 -EINVAL);
	assert_int_equal(gnttab_copy_ref(d, 6, 8, 0, buf, 1, false), -EACCES);
	assert_int_equal(flags(d, 8), GTF_permit_access);
	dom_free(d);
}

static void test_ops_table(void **state)
{
	struct domain *d = dom_placed();
	struct gnttab_grantee g = {.d = d, .domid = BACKEND};
	const struct gnttab_ops *ops = &gnttab_domain_ops;
	struct gnttab_mapping m;
	uint8_t b = 0x5a;

	(void)state;
	grant(d, 8, BACKEND, PAGE_A, GTF_permit_access);
	assert_int_equal(ops->map(&g, 8, true, &m), 0);
	assert_int_equal(ops->copy(&g, 8, 7, &b, 1, true), 0);
	assert_int_equal(((uint8_t *)m.addr)[7], 0x5a);
	assert_int_equal(ops->unmap_all(&g), 1);
	assert_int_equal(ops->unmap(&g, &m), -EINVAL);
	assert_int_equal(flags(d, 8), GTF_permit_access);
	dom_free(d);
}

/* --- a guest racing the backend ----------------------------------------- */

struct race {
	struct domain *d;
	int stop;
	int mapped;		/* the backend holds a mapping of ref 8 */
	unsigned long revoked;
	unsigned long revoked_while_mapped;
};

/*
 * Revokes ref 8 whenever it can and grants it again, alternating frames.
 * A revocation that succeeds while the backend holds a mapping is the bug
 * the flags exist to prevent.
 */
static void *guest_revoker(void *arg)
{
	struct race *r = arg;
	uint32_t frame = PAGE_A;

	while (!__atomic_load_n(&r->stop, __ATOMIC_SEQ_CST)) {
		if (!end_access(r->d, 8))
			continue;
		r->revoked++;
		if (__atomic_load_n(&r->mapped, __ATOMIC_SEQ_CST))
			r->revoked_while_mapped++;
		frame = frame == PAGE_A ? PAGE_B : PAGE_A;
		grant(r->d, 8, BACKEND, frame, GTF_permit_access);
	}
	return NULL;
}

static void test_revoke_race(void **state)
{
	struct race r = {.d = dom_placed()};
	struct gnttab_mapping m;
	unsigned long ok = 0, refused = 0, i;
	pthread_t t;
	int rc;

	(void)state;
	grant(r.d, 8, BACKEND, PAGE_A, GTF_permit_access);
	assert_int_equal(pthread_create(&t, NULL, guest_revoker, &r), 0);
	for (i = 0; i < 200000; i++) {
		rc = gnttab_map(r.d, BACKEND, 8, i & 1, &m);
		if (rc < 0) {
			/* Revoked at that moment, or changing too fast. */
			if (rc != -EACCES && rc != -EBUSY)
				fail_msg("map: %d", rc);
			refused++;
			continue;
		}
		__atomic_store_n(&r.mapped, 1, __ATOMIC_SEQ_CST);
		ok++;
		/* In use: the guest cannot have moved it to another frame. */
		assert_true(flags(r.d, 8) & GTF_reading);
		assert_ptr_equal(m.addr, page(r.d, entry(r.d, 8)->frame));
		__atomic_store_n(&r.mapped, 0, __ATOMIC_SEQ_CST);
		assert_int_equal(gnttab_unmap(r.d, &m), 0);
	}
	__atomic_store_n(&r.stop, 1, __ATOMIC_SEQ_CST);
	pthread_join(t, NULL);
	assert_int_equal(r.revoked_while_mapped, 0);
	assert_int_equal(ok + refused, 200000);
	assert_int_equal(flags(r.d, 8) & (GTF_reading | GTF_writing), 0);
	assert_int_equal(r.d->gnttab.maptrack_used, 0);
	dom_free(r.d);
}

/* --- placement ----------------------------------------------------------- */

static void test_placement(void **state)
{
	struct domain *d = dom_new();
	struct gnttab *gt = &d->gnttab;

	(void)state;
	/* Entries written before placement move with the frame. */
	gt->frame[0][8].frame = 0x1234;
	assert_int_equal(gnttab_add_to_physmap(d, 0, TABLE_GFN), 0);
	assert_ptr_equal(gt->frame[0], (void *)page(d, TABLE_GFN));
	assert_int_equal(entry(d, 8)->frame, 0x1234);
	assert_int_equal(gt->frame_gfn[0], TABLE_GFN);

	/* Placing frame 2 grows the table to 3 frames. */
	assert_int_equal(gnttab_add_to_physmap(d, 2, TABLE_GFN + 2), 0);
	assert_int_equal(gt->nr_frames, 3);
	assert_int_equal(gt->frame_gfn[1], GNTTAB_GFN_NONE);

	/* Frame 1 over frame 0's gfn: frame 0 goes back to private, whole. */
	assert_int_equal(gnttab_add_to_physmap(d, 1, TABLE_GFN), 0);
	assert_int_equal(gt->frame_gfn[0], GNTTAB_GFN_NONE);
	assert_int_equal(gt->frame_gfn[1], TABLE_GFN);
	assert_int_equal(gt->frame[0][8].frame, 0x1234);
	assert_int_equal(entry(d, 8)->frame, 0);

	assert_int_equal(gnttab_add_to_physmap(d, 64, TABLE_GFN + 5), -EINVAL);
	assert_int_equal(gnttab_add_to_physmap(d, XENMAPIDX_grant_table_status,
					       TABLE_GFN + 5),
			 -EINVAL);
	assert_int_equal(gnttab_add_to_physmap(d, 0, RAM_PAGES), -EINVAL);
	assert_int_equal(gnttab_add_to_physmap(d, 0, UINT64_MAX), -EINVAL);
	assert_int_equal(gt->nr_frames, 3);
	dom_free(d);
}

/* --- hypercalls ---------------------------------------------------------- */

/* A hypercall from a vCPU with paging off: guest-virtual == physical. */
static long hcall(struct domain *d, uint64_t cmd, uint64_t uop,
		  uint64_t count)
{
	struct kvm_run *run = calloc(1, sizeof(*run));
	struct vcpu v = {.dom = d, .run = run};
	struct hypercall_args a = {{cmd, uop, count, 0, 0, 0}};
	long rc;

	assert_non_null(run);
	rc = hcall_grant_table_op(&v, &a);
	free(run);
	return rc;
}

static struct gnttab_copy *ops_area(struct domain *d)
{
	return (struct gnttab_copy *)(d->ram + OPS_GPA);
}

static void test_hcall_copy(void **state)
{
	struct domain *d = dom_placed();
	struct gnttab_copy *op = ops_area(d);
	unsigned int i;

	(void)state;
	for (i = 0; i < 4096; i++)
		page(d, PAGE_B)[i] = (uint8_t)i;
	grant(d, 8, SELF, PAGE_A, GTF_permit_access);
	grant(d, 9, SELF, PAGE_A, GTF_permit_access | GTF_readonly);
	memset(op, 0, 3 * sizeof(*op));
	op[0].source.u.gmfn = PAGE_B;
	op[0].source.domid = DOMID_SELF;
	op[0].dest.u.ref = 8;
	op[0].dest.domid = SELF;
	op[0].dest.offset = 10;
	op[0].len = 100;
	op[0].flags = GNTCOPY_dest_gref;
	op[1] = op[0];
	op[1].dest.u.ref = 9;
	op[2] = op[0];
	op[2].dest.offset = 4000;
	assert_int_equal(hcall(d, GNTTABOP_copy, OPS_GPA, 3), 0);
	assert_int_equal(op[0].status, GNTST_okay);
	assert_int_equal(op[1].status, GNTST_general_error);
	assert_int_equal(op[2].status, GNTST_bad_copy_arg);
	assert_memory_equal(page(d, PAGE_A) + 10, page(d, PAGE_B), 100);
	assert_int_equal(page(d, PAGE_A)[9], 0);
	assert_int_equal(flags(d, 8), GTF_permit_access);
	assert_int_equal(flags(d, 9), GTF_permit_access | GTF_readonly);

	/* The array runs off the end of RAM: done up to there, -EFAULT. */
	op = (struct gnttab_copy *)(d->ram + d->ram_size) - 1;
	memcpy(op, &ops_area(d)[0], sizeof(*op));
	op->status = 77;
	assert_int_equal(hcall(d, GNTTABOP_copy,
			       d->ram_size - sizeof(*op), 2),
			 -XEN_EFAULT);
	assert_int_equal(op->status, GNTST_okay);
	assert_int_equal(hcall(d, GNTTABOP_copy, OPS_GPA, 0x80000000u),
			 -XEN_EINVAL);
	assert_int_equal(hcall(d, GNTTABOP_copy, OPS_GPA, 5000), -XEN_EINVAL);
	assert_int_equal(hcall(d, 0x7fff, OPS_GPA, 1), -XEN_ENOSYS);
	dom_free(d);
}

static void test_hcall_setup_and_query(void **state)
{
	struct domain *d = dom_placed();
	struct gnttab_setup_table *st = (void *)(d->ram + OPS_GPA);
	struct gnttab_query_size *qs = (void *)(d->ram + OPS_GPA);
	uint64_t *list = (uint64_t *)(d->ram + OPS_GPA + 256);
	struct gnttab_set_version *sv = (void *)(d->ram + OPS_GPA);

	(void)state;
	memset(st, 0, sizeof(*st));
	st->dom = DOMID_SELF;
	st->nr_frames = 2;
	st->frame_list.p = (xen_pfn_t *)(uintptr_t)(OPS_GPA + 256);
	assert_int_equal(hcall(d, GNTTABOP_setup_table, OPS_GPA, 1), 0);
	assert_int_equal(st->status, GNTST_okay);
	assert_int_equal(list[0], TABLE_GFN);
	assert_int_equal(list[1], GNTTAB_GFN_NONE);
	st->nr_frames = 65;
	assert_int_equal(hcall(d, GNTTABOP_setup_table, OPS_GPA, 1), 0);
	assert_int_equal(st->status, GNTST_general_error);
	st->nr_frames = 1;
	st->frame_list.p = (xen_pfn_t *)(uintptr_t)(d->ram_size - 4);
	assert_int_equal(hcall(d, GNTTABOP_setup_table, OPS_GPA, 1), 0);
	assert_int_equal(st->status, GNTST_bad_virt_addr);

	memset(qs, 0, sizeof(*qs));
	qs->dom = SELF;
	assert_int_equal(hcall(d, GNTTABOP_query_size, OPS_GPA, 1), 0);
	assert_int_equal(qs->status, GNTST_okay);
	assert_int_equal(qs->nr_frames, 2);
	assert_int_equal(qs->max_nr_frames, GNTTAB_MAX_FRAMES);
	qs->dom = SELF + 1;
	assert_int_equal(hcall(d, GNTTABOP_query_size, OPS_GPA, 1), 0);
	assert_int_equal(qs->status, GNTST_bad_domain);
	assert_int_equal(hcall(d, GNTTABOP_query_size, d->ram_size, 1),
			 -XEN_EFAULT);

	sv->version = 2;
	assert_int_equal(hcall(d, GNTTABOP_set_version, OPS_GPA, 1),
			 -XEN_ENOSYS);
	assert_int_equal(sv->version, 1);
	dom_free(d);
}

/* --- serialisation ------------------------------------------------------- */

/* The payload of the one GNT1 section gnttab_save writes. */
static void save_payload(struct domain *d, struct buf *img,
			 struct state_reader *payload)
{
	struct state_reader r;
	struct state_section_hdr h;

	memset(img, 0, sizeof(*img));
	assert_int_equal(gnttab_save(d, img), 0);
	r = (struct state_reader){.p = img->data, .len = img->len};
	assert_int_equal(state_next_section(&r, &h, payload), 1);
	assert_int_equal(h.tag, STATE_TAG_GNT);
	assert_int_equal(h.version, 1);
	assert_int_equal(state_next_section(&r, &h, payload), 0);
	r = (struct state_reader){.p = img->data, .len = img->len};
	assert_int_equal(state_next_section(&r, &h, payload), 1);
}

static struct domain *dom_saved(void)
{
	struct domain *d = dom_new();

	assert_int_equal(gnttab_add_to_physmap(d, 1, TABLE_GFN), 0);
	assert_int_equal(gnttab_add_to_physmap(d, 2, TABLE_GFN + 1), 0);
	/* Private frame 0, with an in-use flag that must not survive. */
	d->gnttab.frame[0][8] = (grant_entry_v1_t){
		.flags = GTF_permit_access | GTF_reading, .domid = 4,
		.frame = 77};
	return d;
}

static void test_save_load_round_trip(void **state)
{
	struct domain *src = dom_saved(), *dst = dom_new();
	struct state_reader payload;
	struct buf img;

	(void)state;
	save_payload(src, &img, &payload);
	assert_int_equal(gnttab_load(dst, 1, &payload), 0);
	assert_int_equal(dst->gnttab.nr_frames, 3);
	assert_int_equal(dst->gnttab.max_frames, GNTTAB_MAX_FRAMES);
	assert_int_equal(dst->gnttab.frame_gfn[0], GNTTAB_GFN_NONE);
	assert_int_equal(dst->gnttab.frame_gfn[1], TABLE_GFN);
	assert_int_equal(dst->gnttab.frame_gfn[2], TABLE_GFN + 1);
	assert_ptr_equal(dst->gnttab.frame[2], page(dst, TABLE_GFN + 1));
	assert_int_equal(dst->gnttab.frame[0][8].flags, GTF_permit_access);
	assert_int_equal(dst->gnttab.frame[0][8].domid, 4);
	assert_int_equal(dst->gnttab.frame[0][8].frame, 77);
	/* And it works: a grant in a placed frame maps. */
	{
		struct gnttab_mapping m;

		((grant_entry_v1_t *)page(dst, TABLE_GFN))[3] =
			(grant_entry_v1_t){.flags = GTF_permit_access,
					   .frame = PAGE_A};
		/* Frame 1 holds refs 512..1023. */
		assert_int_equal(gnttab_map(dst, BACKEND, 515, false, &m), 0);
		assert_ptr_equal(m.addr, page(dst, PAGE_A));
		assert_int_equal(gnttab_unmap(dst, &m), 0);
	}
	buf_free(&img);
	dom_free(src);
	dom_free(dst);
}

/* Loading bytes[0..len) into dst fails and changes nothing. */
static void expect_refused(struct domain *dst, const uint8_t *p, size_t len,
			   uint32_t version, int want)
{
	struct state_reader r = {.p = p, .len = len};

	assert_int_equal(gnttab_load(dst, version, &r), want);
	assert_int_equal(dst->gnttab.nr_frames, 1);
	assert_int_equal(dst->gnttab.frame_gfn[0], TABLE_GFN);
	assert_int_equal(entry(dst, 8)->frame, PAGE_A);
}

static void test_hostile_payloads_refused(void **state)
{
	struct domain *src = dom_saved(), *dst = dom_placed();
	struct state_reader payload;
	struct buf img;
	uint8_t *bad;
	size_t len, cut;
	uint32_t *hdr;
	uint64_t *gfn;

	(void)state;
	grant(dst, 8, BACKEND, PAGE_A, GTF_permit_access);
	save_payload(src, &img, &payload);
	len = payload.len;
	bad = malloc(len + 8);
	assert_non_null(bad);

	for (cut = 0; cut < len; cut += cut < 64 ? 1 : 509)
		expect_refused(dst, payload.p, cut, 1, -EINVAL);
	memcpy(bad, payload.p, len);
	memset(bad + len, 0, 8);
	expect_refused(dst, bad, len + 8, 1, -EINVAL); /* trailing bytes */
	expect_refused(dst, bad, len, 2, -EINVAL);      /* section version */

	hdr = (uint32_t *)bad;		/* version, nr, max, nr_private */
	gfn = (uint64_t *)(bad + 16);
#define MUTATE(stmt)                                                         \
	do {                                                                 \
		memcpy(bad, payload.p, len);                                 \
		stmt;                                                        \
		expect_refused(dst, bad, len, 1, -EINVAL);                   \
	} while (0)
	MUTATE(hdr[0] = 2);
	MUTATE(hdr[1] = 0);
	MUTATE(hdr[1] = 65);
	MUTATE(hdr[1] = 4);
	MUTATE(hdr[2] = 2);
	MUTATE(hdr[2] = 0x10000);
	MUTATE(hdr[3] = 2);
	MUTATE(gfn[1] = RAM_PAGES);
	MUTATE(gfn[1] = UINT64_MAX - 1);
	MUTATE(gfn[2] = TABLE_GFN);
#undef MUTATE

	/* A backend holds a mapping: the table is in use, load refuses. */
	{
		struct gnttab_mapping m;

		assert_int_equal(gnttab_map(dst, BACKEND, 8, false, &m), 0);
		expect_refused(dst, payload.p, len, 1, -EBUSY);
		assert_int_equal(gnttab_unmap(dst, &m), 0);
	}
	free(bad);
	buf_free(&img);
	dom_free(src);
	dom_free(dst);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_map_sets_and_unmap_clears_flags),
		cmocka_unit_test(test_readonly_grant_refuses_write),
		cmocka_unit_test(test_bad_refs_and_entries),
		cmocka_unit_test(test_pinned_entry_rules),
		cmocka_unit_test(test_unmap_checks_handle),
		cmocka_unit_test(test_unmap_all_on_disconnect),
		cmocka_unit_test(test_many_mappings_of_one_ref),
		cmocka_unit_test(test_copy_ref),
		cmocka_unit_test(test_ops_table),
		cmocka_unit_test(test_revoke_race),
		cmocka_unit_test(test_placement),
		cmocka_unit_test(test_hcall_copy),
		cmocka_unit_test(test_hcall_setup_and_query),
		cmocka_unit_test(test_save_load_round_trip),
		cmocka_unit_test(test_hostile_payloads_refused),
	};

	/* Refusals are logged (to stderr); the tests check the codes. */
	log_init("test_gnttab", LOG_LVL_ERR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
