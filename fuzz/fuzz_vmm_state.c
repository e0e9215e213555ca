/* SPDX-License-Identifier: MIT */
/*
 * xen_state_load() and balloon_load() over damaged images: a saved image
 * is untrusted input (a save file, a migration source).  The harness
 * saves a busy domain (tests/unit/vmm_fake.c) that gave pages back (XEN1,
 * EVT1, XVC1, BAL1) and applies the fuzz input to that image, so the
 * fuzzer starts from a valid image and reaches the checks behind the
 * framing.  Input:
 *
 *	u16 keep	the image is cut to keep % (its length + 1) bytes
 *	then (u16 offset, u8 value) patches, offset modulo the length
 *
 * Each load must either succeed or leave the target domain unchanged.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "balloon.h"
#include "fuzz_input.h"
#include "log.h"
#include "vmm_fake.h"
#include "xenstate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* What balloon_load may change: the counts and the released gfns. */
struct balloon_view {
	uint64_t cur, max;
	uint8_t released[VMM_FAKE_RAM_SIZE / 4096];
};

static void balloon_view(struct domain *d, struct balloon_view *v)
{
	uint64_t gfn;

	v->cur = d->cur_pages;
	v->max = d->max_pages;
	for (gfn = 0; gfn < VMM_FAKE_RAM_SIZE / 4096; gfn++)
		v->released[gfn] = balloon_gfn_released(d, gfn);
}

/* The busy domain gives back gfns 0x100-0x107 and 0x200. */
static void balloon_give_some(struct domain *d)
{
	uint64_t gfns[] = {0x107, 0x106, 0x105, 0x104, 0x103,
			   0x102, 0x101, 0x100, 0x200};

	if (balloon_decrease(d, gfns, 9) != 9)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct domain *src, *dst;
	static struct buf image;
	static struct balloon_view bal_before, bal_after;
	struct fuzz_input in = {.p = data, .left = size};
	struct state_reader r;
	struct xen_state before;
	const uint8_t *b;
	uint8_t *img;
	size_t len;
	uint16_t v;
	int rc, brc;

	if (!src) {
		log_init("fuzz_vmm_state", LOG_LVL_ERR);
		log_set_level(LOG_LVL_ERR);
		src = vmm_fake_busy_domain();
		dst = vmm_fake_domain(9, 2);
		balloon_give_some(src);
		if (xen_state_save(src, &image) < 0 ||
		    balloon_save(src, &image) < 0)
			abort();
	}
	if (!fuzz_take(&in, 2, &b))
		return 0;
	memcpy(&v, b, 2);
	len = v % (image.len + 1);
	img = malloc(len ? len : 1);
	if (!img)
		return 0;
	memcpy(img, image.data, len);
	while (len && fuzz_take(&in, 3, &b)) {
		memcpy(&v, b, 2);
		img[v % len] = b[2];
	}
	before = dst->xen;
	r = (struct state_reader){.p = img, .len = len};
	rc = xen_state_load(dst, r);
	if (rc < 0 && memcmp(&before, &dst->xen, sizeof(before)))
		abort(); /* a refused image changed the domain */
	/* After the Xen state, as domain_state_load() does. */
	balloon_view(dst, &bal_before);
	brc = balloon_load(dst, r);
	balloon_view(dst, &bal_after);
	if (brc < 0 && memcmp(&bal_before, &bal_after, sizeof(bal_after)))
		abort();
	if (rc == 0 || brc == 0) {
		/* Start the next input from a clean target. */
		vmm_fake_free(dst);
		dst = vmm_fake_domain(9, 2);
	}
	free(img);
	return 0;
}
