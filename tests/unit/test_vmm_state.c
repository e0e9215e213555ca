/* SPDX-License-Identifier: MIT */
/*
 * The Xen part of a domain's saved state (XEN1, EVT1, XVC1 sections):
 * a saved domain loads into a fresh one with the same channels, VIRQs,
 * params and placements; a truncated, inconsistent or foreign image is
 * refused with -EINVAL and leaves the target unchanged.  The balloon's
 * BAL1 travels beside them (test_balloon.c has its own hostile images).
 *
 * The domains (vmm_fake.c) have RAM from malloc and no KVM: the Xen
 * state needs none.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <cmocka.h>

#include "balloon.h"
#include "domain.h"
#include "log.h"
#include "mem.h"
#include "state.h"
#include "vmm_fake.h"
#include "xenstate.h"

static void image_of(struct domain *d, struct buf *img)
{
	memset(img, 0, sizeof(*img));
	assert_int_equal(xen_state_save(d, img), 0);
	assert_true(img->len > 0);
}

static struct state_reader reader(const void *p, size_t len)
{
	struct state_reader r = {.p = p, .len = len, .off = 0};

	return r;
}

static void test_round_trip(void **state)
{
	struct domain *src = vmm_fake_busy_domain(), *dst = vmm_fake_domain(9, 2);
	struct buf img;

	(void)state;
	image_of(src, &img);
	/* RAM travels separately: copy it as a migration would. */
	memcpy(dst->ram, src->ram, VMM_FAKE_RAM_SIZE);
	assert_int_equal(xen_state_load(dst, reader(img.data, img.len)), 0);

	assert_int_equal(dst->xen.domid, 9);
	assert_int_equal(dst->xen.callback_vector, 0xf3);
	assert_int_equal(dst->xen.hvm_params[HVM_PARAM_STORE_PFN], 0x33);
	assert_int_equal(dst->xen.shared_info_gfn, VMM_FAKE_SHINFO_GFN);
	assert_ptr_equal(dst->xen.shinfo, dst->ram + VMM_FAKE_SHINFO_GFN * 4096);
	assert_int_equal(dst->xen.evtchn[1].state, EVTCHN_INTERDOMAIN);
	assert_int_equal(dst->xen.evtchn[1].remote_port, 2);
	/* Loopback channels now name the new domain id. */
	assert_int_equal(dst->xen.evtchn[1].remote_domid, 9);
	assert_int_equal(dst->xen.evtchn[5].remote_domid, 9);
	assert_int_equal(dst->xen.evtchn[2].notify_vcpu, 1);
	assert_int_equal(dst->xen.evtchn[3].state, EVTCHN_VIRQ);
	assert_int_equal(dst->xen.vcpu[1].virq_port[VIRQ_TIMER], 3);
	assert_int_equal(dst->xen.evtchn[4].state, EVTCHN_IPI);
	assert_int_equal(dst->xen.evtchn[6].state, EVTCHN_FREE);
	assert_int_equal(dst->xen.vcpu[1].vcpu_info_gpa, VMM_FAKE_VCPU_INFO_GPA);
	assert_int_equal(dst->xen.vcpu[1].timer_deadline, UINT64_MAX / 4);
	assert_int_equal(dst->xen.vcpu[0].periodic_period, 10000000);
	/* The pvclock of vCPU 0 (in shared_info) was rewritten. */
	assert_int_equal(dst->xen.shinfo->vcpu_info[0].time.tsc_to_system_mul,
			 1u << 31);
	buf_free(&img);
	vmm_fake_free(src);
	vmm_fake_free(dst);
}

static void test_unplaced_shared_info_travels(void **state)
{
	struct domain *src = vmm_fake_domain(3, 1), *dst = vmm_fake_domain(3, 1);
	struct buf img;

	(void)state;
	src->xen.shinfo_private->evtchn_mask[0] = 0xa5a5;
	image_of(src, &img);
	assert_int_equal(xen_state_load(dst, reader(img.data, img.len)), 0);
	assert_int_equal(dst->xen.shared_info_gfn, SHARED_INFO_NONE);
	assert_int_equal(dst->xen.shinfo->evtchn_mask[0], 0xa5a5);
	buf_free(&img);
	vmm_fake_free(src);
	vmm_fake_free(dst);
}

/* Loads img into a fresh domain; it must fail and change nothing. */
static void expect_refused(const uint8_t *p, size_t len)
{
	struct domain *dst = vmm_fake_domain(9, 2);
	struct xen_state before;

	dst->xen.evtchn[1].state = EVTCHN_IPI;
	before = dst->xen;
	assert_int_equal(xen_state_load(dst, reader(p, len)), -EINVAL);
	assert_memory_equal(&before, &dst->xen, sizeof(before));
	vmm_fake_free(dst);
}

static void test_truncated_images_refused(void **state)
{
	struct domain *src = vmm_fake_busy_domain();
	struct buf img;
	size_t len;

	(void)state;
	image_of(src, &img);
	for (len = 0; len < img.len; len++)
		expect_refused(img.data, len);
	buf_free(&img);
	vmm_fake_free(src);
}

/* Finds section tag in an image; returns its payload offset. */
static size_t payload_of(struct buf *img, uint32_t tag)
{
	struct state_reader r = reader(img->data, img->len), p;
	struct state_section_hdr h;

	while (state_next_section(&r, &h, &p) > 0)
		if (h.tag == tag)
			return (size_t)(p.p - img->data);
	fail_msg("no section %.4s", (const char *)&tag);
	return 0;
}

/* Offsets inside the payloads, as docs/vmm-state.md lays them out. */
#define XEN1_VECTOR 2
#define XEN1_GFN 8
#define EVT1_ENTRY(port) (4 + (port) * 16)
#define XVC1_VCPU(i) ((i) * (32 + 4 * NR_VIRQS))

static void corrupt_and_expect_refused(uint32_t tag, size_t off,
				       const void *bytes, size_t n)
{
	struct domain *src = vmm_fake_busy_domain();
	struct buf img;

	image_of(src, &img);
	memcpy(img.data + payload_of(&img, tag) + off, bytes, n);
	expect_refused(img.data, img.len);
	buf_free(&img);
	vmm_fake_free(src);
}

static void test_hostile_images_refused(void **state)
{
	uint64_t far_gfn = VMM_FAKE_RAM_SIZE / 4096, big = UINT64_MAX - 5;
	uint32_t port99 = 99, port2 = 2, virq = NR_VIRQS, one = 1;
	uint16_t vcpu9 = 9;
	uint8_t vec5 = 5, bad_state = 77;

	(void)state;
	/* shared_info beyond RAM, or at a gfn that overflows. */
	corrupt_and_expect_refused(STATE_TAG_XEN, XEN1_GFN, &far_gfn, 8);
	corrupt_and_expect_refused(STATE_TAG_XEN, XEN1_GFN, &big, 8);
	/* A callback vector that does not match the param, or too low. */
	corrupt_and_expect_refused(STATE_TAG_XEN, XEN1_VECTOR, &vec5, 1);
	/* An unknown channel state; a notify vCPU the domain lacks. */
	corrupt_and_expect_refused(STATE_TAG_EVT, EVT1_ENTRY(4), &bad_state,
				   1);
	corrupt_and_expect_refused(STATE_TAG_EVT, EVT1_ENTRY(4) + 2, &vcpu9,
				   2);
	/* Port 1's peer beyond the table, or one that does not point back. */
	corrupt_and_expect_refused(STATE_TAG_EVT, EVT1_ENTRY(1) + 8, &port99,
				   4);
	corrupt_and_expect_refused(STATE_TAG_EVT, EVT1_ENTRY(2) + 8, &port2,
				   4);
	/* A VIRQ number out of range; a VIRQ port that is no VIRQ channel. */
	corrupt_and_expect_refused(STATE_TAG_EVT, EVT1_ENTRY(3) + 12, &virq,
				   4);
	corrupt_and_expect_refused(STATE_TAG_XVC, XVC1_VCPU(1) + 32 +
						      4 * VIRQ_TIMER,
				   &one, 4);
	/* vcpu_info outside RAM. */
	corrupt_and_expect_refused(STATE_TAG_XVC, XVC1_VCPU(0), &big, 8);
}

static void test_foreign_and_mismatched_images_refused(void **state)
{
	struct domain *src = vmm_fake_busy_domain(), *one = vmm_fake_domain(9, 1);
	struct buf img, twice = {0};
	uint32_t bad_version = 2;

	(void)state;
	image_of(src, &img);
	/* Saved with 2 vCPUs, loaded into a domain with 1. */
	assert_int_equal(xen_state_load(one, reader(img.data, img.len)),
			 -EINVAL);
	/* A section twice. */
	assert_int_equal(buf_append(&twice, img.data, img.len), 0);
	assert_int_equal(buf_append(&twice, img.data, img.len), 0);
	expect_refused(twice.data, twice.len);
	/* A version from the future. */
	memcpy(img.data + offsetof(struct state_section_hdr, version),
	       &bad_version, 4);
	expect_refused(img.data, img.len);
	/* Random bytes. */
	memset(img.data, 0x5a, img.len);
	expect_refused(img.data, img.len);
	buf_free(&img);
	buf_free(&twice);
	vmm_fake_free(src);
	vmm_fake_free(one);
}

/*
 * BAL1 beside the Xen state, loaded after it as domain_state_load() does:
 * the released pages travel, and an image that gives back the page its
 * own XEN1 puts shared_info in is refused.
 */
static void test_balloon_with_the_xen_state(void **state)
{
	struct domain *src = vmm_fake_busy_domain(), *dst;
	uint64_t gfns[] = {0x101, 0x100}, shinfo = VMM_FAKE_SHINFO_GFN;
	struct state_reader r;
	struct buf img = {0};
	size_t bal;

	(void)state;
	assert_int_equal(balloon_decrease(src, gfns, 2), 2);
	assert_int_equal(xen_state_save(src, &img), 0);
	assert_int_equal(balloon_save(src, &img), 0);
	r = reader(img.data, img.len);

	dst = vmm_fake_domain(9, 2);
	assert_int_equal(xen_state_load(dst, r), 0);
	assert_int_equal(balloon_load(dst, r), 0);
	assert_true(balloon_gfn_released(dst, 0x100));
	assert_true(balloon_gfn_released(dst, 0x101));
	assert_int_equal(dst->cur_pages, VMM_FAKE_RAM_SIZE / 4096 - 2);
	vmm_fake_free(dst);

	/* Its one range now starts at shared_info's frame. */
	bal = payload_of(&img, STATE_TAG_BAL);
	memcpy(img.data + bal + 16, &shinfo, 8);
	dst = vmm_fake_domain(9, 2);
	assert_int_equal(xen_state_load(dst, r), 0);
	assert_int_equal(balloon_load(dst, r), -EINVAL);
	assert_false(balloon_gfn_released(dst, shinfo));
	assert_int_equal(dst->cur_pages, VMM_FAKE_RAM_SIZE / 4096);
	vmm_fake_free(dst);
	buf_free(&img);
	vmm_fake_free(src);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_unplaced_shared_info_travels),
		cmocka_unit_test(test_truncated_images_refused),
		cmocka_unit_test(test_hostile_images_refused),
		cmocka_unit_test(test_foreign_and_mismatched_images_refused),
		cmocka_unit_test(test_balloon_with_the_xen_state),
	};

	/* Refusals are logged (to stderr); the test checks the codes. */
	log_init("test_vmm_state", LOG_LVL_ERR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
