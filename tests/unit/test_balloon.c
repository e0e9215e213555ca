/* SPDX-License-Identifier: MIT */
/*
 * Ballooning (vmm/balloon.c and memory_op in vmm/hvm.c) on domains
 * without KVM: XENMEM_decrease_reservation and XENMEM_populate_physmap
 * through the hypercall handler, as a hostile guest calls them (bad
 * orders, flags, domains, pointers and frames, the pages the hypervisor
 * keeps, doubles, the maximum), what a page given back can no longer be
 * used for (grants, placements, hypercall arguments), the memfd's holes,
 * and the BAL1 state section with hostile payloads.
 *
 * The fake domain (vmm_fake.c) has 4 MiB: gfns 0..1021 are RAM the guest
 * may give back, 1022 and 1023 the XenStore and console rings.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "balloon.h"
#include "domain.h"
#include "gnttab.h"
#include "hypercall.h"
#include "log.h"
#include "mem.h"
#include "state.h"
#include "vmm_fake.h"

#define SELF 3
#define RAM_PAGES (VMM_FAKE_RAM_SIZE / 4096u)
#define FIRST_SPECIAL (RAM_PAGES - 2)
#define ARG_GPA 0x30000u  /* the reservation */
#define LIST_GPA 0x31000u /* its extent list */
#define TABLE_GFN 0x40u	  /* a grant-table frame, where placed */
#define PATTERN 0xa5

static struct domain *dom_new(void)
{
	return vmm_fake_domain(SELF, 1);
}

static long hcall(struct domain *d, hypercall_fn *fn, uint64_t a0,
		  uint64_t a1, uint64_t a2)
{
	struct kvm_run *run = calloc(1, sizeof(*run));
	struct vcpu v = {.dom = d, .run = run};
	struct hypercall_args a = {{a0, a1, a2, 0, 0, 0}};
	long rc;

	assert_non_null(run);
	rc = fn(&v, &a);
	free(run);
	return rc;
}

/* A reservation op on the listed frames, with paging off (GVA == GPA). */
static long reservation(struct domain *d, uint64_t cmd, const uint64_t *gfns,
			unsigned long n, unsigned int order, domid_t dom)
{
	struct xen_memory_reservation r = {
		.nr_extents = n,
		.extent_order = order,
		.domid = dom,
	};

	set_xen_guest_handle(r.extent_start, (xen_pfn_t *)(uintptr_t)LIST_GPA);
	if (n && n <= 512)
		memcpy(d->ram + LIST_GPA, gfns, n * sizeof(*gfns));
	memcpy(d->ram + ARG_GPA, &r, sizeof(r));
	return hcall(d, hcall_memory_op, cmd, ARG_GPA, 0);
}

static long give(struct domain *d, const uint64_t *gfns, unsigned long n)
{
	return reservation(d, XENMEM_decrease_reservation, gfns, n, 0,
			   DOMID_SELF);
}

static long take(struct domain *d, const uint64_t *gfns, unsigned long n)
{
	return reservation(d, XENMEM_populate_physmap, gfns, n, 0, DOMID_SELF);
}

static long query(struct domain *d, unsigned int op)
{
	domid_t self = DOMID_SELF;

	memcpy(d->ram + ARG_GPA, &self, sizeof(self));
	return hcall(d, hcall_memory_op, op, ARG_GPA, 0);
}

static uint8_t *page(struct domain *d, uint64_t gfn)
{
	return d->ram + gfn * 4096;
}

static bool all_zero(const uint8_t *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

/* --- giving back and taking back -------------------------------------- */

static void test_give_back_and_take_back(void **state)
{
	struct domain *d = dom_new();
	uint64_t three[] = {502, 501, 500}, one[] = {501};

	(void)state;
	memset(page(d, 500), PATTERN, 3 * 4096);
	assert_int_equal(query(d, XENMEM_current_reservation), RAM_PAGES);
	assert_int_equal(give(d, three, 3), 3);
	assert_int_equal(d->cur_pages, RAM_PAGES - 3);
	assert_int_equal(query(d, XENMEM_current_reservation), RAM_PAGES - 3);
	assert_int_equal(query(d, XENMEM_maximum_reservation), RAM_PAGES);
	assert_true(balloon_gfn_released(d, 500));
	assert_true(balloon_gfn_released(d, 502));
	assert_false(balloon_gfn_released(d, 503));
	/* Without a memfd the pages are zeroed by hand. */
	assert_true(all_zero(page(d, 500), 3 * 4096));

	memset(page(d, 501), PATTERN, 4096); /* the guest touches it anyway */
	assert_int_equal(take(d, one, 1), 1);
	assert_false(balloon_gfn_released(d, 501));
	assert_true(all_zero(page(d, 501), 4096));
	assert_int_equal(query(d, XENMEM_current_reservation), RAM_PAGES - 2);
	vmm_fake_free(d);
}

/* With RAM in a memfd (as xenia-vmm has), the host gets it back. */
static void test_pages_leave_the_memfd(void **state)
{
	struct domain *d = dom_new();
	uint64_t gfns[64];
	struct stat before, after;
	unsigned int i;

	(void)state;
	free(d->ram);
	d->ram = NULL;
	assert_int_equal(mem_init(d, VMM_FAKE_RAM_SIZE), 0);
	memset(page(d, 600), PATTERN, 64 * 4096);
	/* The argument pages, so that only the pages given back change. */
	memset(page(d, ARG_GPA / 4096), 0, 2 * 4096);
	assert_int_equal(fstat(d->mem_fd, &before), 0);
	/* Downward, as a balloon driver gives them: one punch. */
	for (i = 0; i < 64; i++)
		gfns[i] = 663 - i;
	assert_int_equal(give(d, gfns, 64), 64);
	assert_int_equal(fstat(d->mem_fd, &after), 0);
	assert_true(before.st_blocks - after.st_blocks >= 64 * 4096 / 512);
	assert_int_equal(take(d, gfns, 64), 64);
	assert_true(all_zero(page(d, 600), 64 * 4096));
	mem_destroy(d); /* ram NULL: vmm_fake_free's free() is a no-op */
	vmm_fake_free(d);
}

/* --- refusals ----------------------------------------------------------- */

static void test_refused_requests(void **state)
{
	struct domain *d = dom_new();
	uint64_t one[] = {500};

	(void)state;
	assert_int_equal(reservation(d, XENMEM_decrease_reservation, one, 1, 1,
				     DOMID_SELF),
			 -XEN_EINVAL);
	assert_int_equal(reservation(d, XENMEM_populate_physmap, one, 1, 9,
				     DOMID_SELF),
			 -XEN_EINVAL);
	assert_int_equal(
	    reservation(d, XENMEM_decrease_reservation, one, 1, 0, 9),
	    -XEN_ESRCH);
	assert_int_equal(
	    reservation(d, XENMEM_decrease_reservation, one, 1, 0, 0),
	    -XEN_ESRCH);
	assert_int_equal(hcall(d, hcall_memory_op, XENMEM_decrease_reservation,
			       VMM_FAKE_RAM_SIZE, 0),
			 -XEN_EFAULT);
	/* Nothing to do, or nothing left from start_extent on. */
	assert_int_equal(give(d, one, 0), 0);
	assert_int_equal(reservation(d, XENMEM_decrease_reservation |
					    (7u << MEMOP_EXTENT_SHIFT),
				     one, 1, 0, DOMID_SELF),
			 7);
	/* More extents than a continuation can encode: Xen does none. */
	assert_int_equal(give(d, one, (UINT32_MAX >> MEMOP_EXTENT_SHIFT) + 1),
			 0);
	assert_int_equal(d->cur_pages, RAM_PAGES);
	assert_false(balloon_gfn_released(d, 500));

	/* Our own domid works as DOMID_SELF does. */
	assert_int_equal(
	    reservation(d, XENMEM_decrease_reservation, one, 1, 0, SELF), 1);
	vmm_fake_free(d);
}

/* One refused frame after two good ones: two done, it untouched. */
static void expect_stops_at(struct domain *d, uint64_t cmd, uint64_t bad)
{
	uint64_t list[] = {700, 701, bad, 702};
	uint64_t cur;

	if (cmd == XENMEM_populate_physmap)
		assert_int_equal(give(d, list, 2), 2);
	cur = d->cur_pages;
	assert_int_equal(reservation(d, cmd, list, 4, 0, DOMID_SELF), 2);
	assert_int_equal(d->cur_pages,
			 cmd == XENMEM_populate_physmap ? cur + 2 : cur - 2);
	assert_false(balloon_gfn_released(d, 702));
	if (cmd == XENMEM_decrease_reservation)
		assert_int_equal(take(d, list, 2), 2);
}

static void test_refused_frames(void **state)
{
	struct domain *d = vmm_fake_busy_domain();
	uint64_t dec = XENMEM_decrease_reservation;
	uint64_t pop = XENMEM_populate_physmap;
	uint64_t one[] = {710};

	(void)state;
	assert_int_equal(gnttab_add_to_physmap(d, 0, TABLE_GFN), 0);
	/* Outside RAM, the rings, shared_info, a grant frame, a vcpu_info. */
	expect_stops_at(d, dec, RAM_PAGES);
	expect_stops_at(d, dec, UINT64_MAX);
	expect_stops_at(d, dec, FIRST_SPECIAL);
	expect_stops_at(d, dec, FIRST_SPECIAL + 1);
	expect_stops_at(d, dec, VMM_FAKE_SHINFO_GFN);
	expect_stops_at(d, dec, TABLE_GFN);
	expect_stops_at(d, dec, VMM_FAKE_VCPU_INFO_GPA / 4096);
	/* Given back twice in one list. */
	expect_stops_at(d, dec, 700);
	/* Populated: never given back, the rings, beyond RAM, twice. */
	expect_stops_at(d, pop, 703);
	expect_stops_at(d, pop, FIRST_SPECIAL);
	expect_stops_at(d, pop, UINT64_MAX);
	expect_stops_at(d, pop, 700);
	/* Given back twice in two calls. */
	assert_int_equal(give(d, one, 1), 1);
	assert_int_equal(give(d, one, 1), 0);
	assert_int_equal(d->cur_pages, RAM_PAGES - 1);
	vmm_fake_free(d);
}

/* The list is read frame by frame: a fault ends the count there. */
static void test_list_faults(void **state)
{
	struct domain *d = dom_new();
	struct xen_memory_reservation r = {.nr_extents = 3,
					   .domid = DOMID_SELF};
	uint64_t gfn = 800, two[] = {801, 802}, gone[] = {0x32};

	(void)state;
	/* The list's last 8 bytes of RAM: the second frame is beyond. */
	set_xen_guest_handle(r.extent_start,
			     (xen_pfn_t *)(uintptr_t)(VMM_FAKE_RAM_SIZE - 8));
	memcpy(d->ram + VMM_FAKE_RAM_SIZE - 8, &gfn, 8);
	memcpy(d->ram + ARG_GPA, &r, sizeof(r));
	assert_int_equal(hcall(d, hcall_memory_op, XENMEM_decrease_reservation,
			       ARG_GPA, 0),
			 1);
	assert_true(balloon_gfn_released(d, 800));

	/* Running into a page given back (0x32): as good as beyond RAM. */
	assert_int_equal(give(d, gone, 1), 1);
	set_xen_guest_handle(r.extent_start,
			     (xen_pfn_t *)(uintptr_t)(0x32000 - 16));
	memcpy(d->ram + 0x32000 - 16, two, 16);
	memcpy(d->ram + ARG_GPA, &r, sizeof(r));
	assert_int_equal(hcall(d, hcall_memory_op, XENMEM_decrease_reservation,
			       ARG_GPA, 0),
			 2);
	assert_int_equal(d->cur_pages, RAM_PAGES - 4);
	vmm_fake_free(d);
}

static void test_maximum(void **state)
{
	struct domain *d = dom_new();
	uint64_t ten[10];
	unsigned int i;

	(void)state;
	for (i = 0; i < 10; i++)
		ten[i] = 900 + i;
	assert_int_equal(give(d, ten, 10), 10);
	assert_int_equal(memory_set_max_pages(d, RAM_PAGES - 11), -EINVAL);
	assert_int_equal(memory_set_max_pages(d, RAM_PAGES + 1), -E2BIG);
	assert_int_equal(memory_set_max_pages(d, RAM_PAGES - 10), 0);
	assert_int_equal(query(d, XENMEM_maximum_reservation), RAM_PAGES - 10);
	assert_int_equal(take(d, ten, 10), 0);
	assert_int_equal(memory_set_max_pages(d, RAM_PAGES - 6), 0);
	assert_int_equal(take(d, ten, 10), 4);
	assert_int_equal(d->cur_pages, RAM_PAGES - 6);
	assert_false(balloon_gfn_released(d, 903));
	assert_true(balloon_gfn_released(d, 904));
	vmm_fake_free(d);
}

/* A page given back: no grant of it, no placement on it, no argument. */
static void test_released_page_is_gone(void **state)
{
	struct domain *d = dom_new();
	struct vcpu_register_vcpu_info vi = {.mfn = 0x52, .offset = 64};
	struct xen_add_to_physmap xatp = {
		.domid = DOMID_SELF,
		.space = XENMAPSPACE_shared_info,
		.gpfn = 0x52,
	};
	uint64_t gone[] = {0x52};
	struct kvm_run *run = calloc(1, sizeof(*run));
	struct vcpu v = {.dom = d, .run = run};
	grant_entry_v1_t *e;
	struct gnttab_mapping m;
	uint8_t buf[16];

	(void)state;
	assert_non_null(run);
	assert_int_equal(gnttab_add_to_physmap(d, 0, TABLE_GFN), 0);
	assert_int_equal(give(d, gone, 1), 1);

	/* A backend mapping or copying a grant of it fails cleanly. */
	e = (grant_entry_v1_t *)page(d, TABLE_GFN) + 8;
	e->domid = 0;
	e->frame = 0x52;
	__atomic_store_n(&e->flags, GTF_permit_access, __ATOMIC_SEQ_CST);
	assert_int_equal(gnttab_map(d, 0, 8, true, &m), -EFAULT);
	assert_int_equal(gnttab_copy_ref(d, 0, 8, 0, buf, 16, false), -EFAULT);
	assert_int_equal(e->flags, GTF_permit_access);
	assert_int_equal(d->gnttab.maptrack_used, 0);

	/* Nothing of ours goes there. */
	assert_int_equal(gnttab_add_to_physmap(d, 1, 0x52), -EINVAL);
	memcpy(d->ram + ARG_GPA, &xatp, sizeof(xatp));
	assert_int_equal(hcall(d, hcall_memory_op, XENMEM_add_to_physmap,
			       ARG_GPA, 0),
			 -XEN_EINVAL);
	assert_int_equal(d->xen.shared_info_gfn, SHARED_INFO_NONE);
	memcpy(d->ram + ARG_GPA, &vi, sizeof(vi));
	assert_int_equal(hcall(d, hcall_vcpu_op, VCPUOP_register_vcpu_info, 0,
			       ARG_GPA),
			 -XEN_EINVAL);
	assert_int_equal(d->xen.vcpu[0].vcpu_info_gpa, VCPU_INFO_NONE);

	/* A hypercall argument in it faults. */
	assert_int_equal(mem_copy_from_guest(&v, buf, 0x52000, 8), -EFAULT);
	assert_int_equal(mem_copy_from_guest(&v, buf, 0x52000 - 4, 8),
			 -EFAULT);
	assert_int_equal(mem_copy_from_guest(&v, buf, 0x53000, 8), 0);
	free(run);
	vmm_fake_free(d);
}

/* --- BAL1 ---------------------------------------------------------------- */

/* gfns 100-103, 200, 300-309 given back; the maximum lowered. */
static struct domain *dom_ballooned(void)
{
	struct domain *d = dom_new();
	uint64_t list[15];
	unsigned int i, n = 0;

	for (i = 0; i < 4; i++)
		list[n++] = 103 - i;
	list[n++] = 200;
	for (i = 0; i < 10; i++)
		list[n++] = 300 + i;
	assert_int_equal(give(d, list, n), n);
	assert_int_equal(memory_set_max_pages(d, RAM_PAGES - 5), 0);
	return d;
}

static void image_of(struct domain *d, struct buf *img)
{
	memset(img, 0, sizeof(*img));
	assert_int_equal(balloon_save(d, img), 0);
}

static struct state_reader reader(const void *p, size_t len)
{
	struct state_reader r = {.p = p, .len = len, .off = 0};

	return r;
}

static void test_image_round_trip(void **state)
{
	struct domain *src = dom_ballooned(), *dst = dom_new();
	struct buf img;
	uint64_t gfn;

	(void)state;
	image_of(src, &img);
	/* header 16 + 3 ranges of 16 */
	assert_int_equal(img.len, sizeof(struct state_section_hdr) + 16 + 48);
	memset(dst->ram, PATTERN, VMM_FAKE_RAM_SIZE);
	assert_int_equal(balloon_load(dst, reader(img.data, img.len)), 0);
	for (gfn = 0; gfn < RAM_PAGES; gfn++)
		assert_int_equal(balloon_gfn_released(dst, gfn),
				 balloon_gfn_released(src, gfn));
	assert_int_equal(dst->cur_pages, RAM_PAGES - 15);
	assert_int_equal(dst->max_pages, RAM_PAGES - 5);
	/* The released pages were punched out (here: zeroed). */
	assert_true(all_zero(page(dst, 300), 10 * 4096));
	assert_int_equal(page(dst, 299)[0], PATTERN);
	buf_free(&img);

	/* A domain that never ballooned saves an empty list. */
	vmm_fake_free(dst);
	dst = dom_new();
	image_of(dst, &img);
	assert_int_equal(balloon_load(src, reader(img.data, img.len)), 0);
	assert_int_equal(src->cur_pages, RAM_PAGES);
	assert_false(balloon_gfn_released(src, 300));
	buf_free(&img);
	vmm_fake_free(src);
	vmm_fake_free(dst);
}

/* dst refuses the image and its balloon is as it was. */
static void expect_refused_by(struct domain *dst, const uint8_t *p,
			      size_t len)
{
	uint64_t cur = dst->cur_pages, max = dst->max_pages, gfn;
	bool was[RAM_PAGES];

	for (gfn = 0; gfn < RAM_PAGES; gfn++)
		was[gfn] = balloon_gfn_released(dst, gfn);
	memset(page(dst, 100), PATTERN, 4096);
	assert_int_equal(balloon_load(dst, reader(p, len)), -EINVAL);
	assert_int_equal(dst->cur_pages, cur);
	assert_int_equal(dst->max_pages, max);
	for (gfn = 0; gfn < RAM_PAGES; gfn++)
		assert_int_equal(balloon_gfn_released(dst, gfn), was[gfn]);
	assert_int_equal(page(dst, 100)[0], PATTERN);
}

static void expect_refused(const uint8_t *p, size_t len)
{
	struct domain *dst = dom_new();
	uint64_t one[] = {42};

	assert_int_equal(give(dst, one, 1), 1);
	expect_refused_by(dst, p, len);
	vmm_fake_free(dst);
}

#define PAYLOAD (sizeof(struct state_section_hdr))
#define BAL_MAX PAYLOAD
#define BAL_NR (PAYLOAD + 8)
#define BAL_GFN(i) (PAYLOAD + 16 + 16 * (i))
#define BAL_COUNT(i) (BAL_GFN(i) + 8)

static void corrupt_and_expect_refused(size_t off, uint64_t value)
{
	struct domain *src = dom_ballooned();
	struct buf img;

	image_of(src, &img);
	memcpy(img.data + off, &value, 8);
	expect_refused(img.data, img.len);
	buf_free(&img);
	vmm_fake_free(src);
}

static void test_hostile_images_refused(void **state)
{
	struct domain *src = dom_ballooned();
	struct buf img, twice = {0};
	uint32_t version = 2;
	size_t len;

	(void)state;
	image_of(src, &img);
	for (len = 0; len < img.len; len++)
		expect_refused(img.data, len);
	/* Longer than its ranges, with the length to match. */
	assert_int_equal(buf_append(&twice, img.data, img.len), 0);
	assert_int_equal(buf_append(&twice, "\0\0\0\0\0\0\0\0", 8), 0);
	((struct state_section_hdr *)twice.data)->length += 8;
	expect_refused(twice.data, twice.len);
	twice.len = 0;
	/* Twice; not at all; a version from the future. */
	assert_int_equal(buf_append(&twice, img.data, img.len), 0);
	assert_int_equal(buf_append(&twice, img.data, img.len), 0);
	expect_refused(twice.data, twice.len);
	expect_refused(NULL, 0);
	memcpy(img.data + offsetof(struct state_section_hdr, version),
	       &version, 4);
	expect_refused(img.data, img.len);
	buf_free(&img);
	buf_free(&twice);
	vmm_fake_free(src);

	/* Counts: huge (the multiplication must not wrap), one too many. */
	corrupt_and_expect_refused(BAL_NR, UINT64_MAX / 8 + 1);
	corrupt_and_expect_refused(BAL_NR, 4);
	/* Ranges: empty, beyond RAM, on the rings, wrapping. */
	corrupt_and_expect_refused(BAL_COUNT(1), 0);
	corrupt_and_expect_refused(BAL_GFN(2), RAM_PAGES);
	corrupt_and_expect_refused(BAL_GFN(2), FIRST_SPECIAL - 5);
	corrupt_and_expect_refused(BAL_COUNT(2), UINT64_MAX);
	/* Out of order, overlapping, touching. */
	corrupt_and_expect_refused(BAL_GFN(1), 50);
	corrupt_and_expect_refused(BAL_GFN(1), 102);
	corrupt_and_expect_refused(BAL_GFN(1), 104);
	/* A maximum below what the guest holds, or above its RAM. */
	corrupt_and_expect_refused(BAL_MAX, RAM_PAGES - 16);
	corrupt_and_expect_refused(BAL_MAX, RAM_PAGES + 1);
}

/* A page the loaded Xen state uses cannot be one given back. */
static void test_image_against_placements(void **state)
{
	struct domain *src = dom_ballooned(), *dst;
	struct buf img;

	(void)state;
	image_of(src, &img);
	dst = vmm_fake_domain(SELF, 2);
	assert_int_equal(xen_map_shared_info(dst, 200), 0);
	expect_refused_by(dst, img.data, img.len);
	vmm_fake_free(dst);

	dst = dom_new();
	assert_int_equal(gnttab_add_to_physmap(dst, 0, 305), 0);
	expect_refused_by(dst, img.data, img.len);
	vmm_fake_free(dst);

	dst = vmm_fake_domain(SELF, 2);
	dst->xen.vcpu[1].vcpu_info_gpa = 101 * 4096 + 128;
	expect_refused_by(dst, img.data, img.len);
	dst->xen.vcpu[1].vcpu_info_gpa = 104 * 4096 + 128;
	assert_int_equal(balloon_load(dst, reader(img.data, img.len)), 0);
	vmm_fake_free(dst);
	buf_free(&img);
	vmm_fake_free(src);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_give_back_and_take_back),
		cmocka_unit_test(test_pages_leave_the_memfd),
		cmocka_unit_test(test_refused_requests),
		cmocka_unit_test(test_refused_frames),
		cmocka_unit_test(test_list_faults),
		cmocka_unit_test(test_maximum),
		cmocka_unit_test(test_released_page_is_gone),
		cmocka_unit_test(test_image_round_trip),
		cmocka_unit_test(test_hostile_images_refused),
		cmocka_unit_test(test_image_against_placements),
	};

	/* Refusals are logged (to stderr); the tests check the codes. */
	log_init("test_balloon", LOG_LVL_ERR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
