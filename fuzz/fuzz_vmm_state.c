/* SPDX-License-Identifier: MIT */
/*
 * xen_state_load() over damaged images: a saved image is untrusted input
 * (a save file, a migration source).  The harness saves a busy domain
 * (tests/unit/vmm_fake.c) and applies the fuzz input to that image, so
 * the fuzzer starts from a valid image and reaches the checks behind the
 * framing.  Input:
 *
 *	u16 keep	the image is cut to keep % (its length + 1) bytes
 *	then (u16 offset, u8 value) patches, offset modulo the length
 *
 * The load must either succeed or leave the target domain unchanged.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_input.h"
#include "log.h"
#include "vmm_fake.h"
#include "xenstate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct domain *src, *dst;
	static struct buf image;
	struct fuzz_input in = {.p = data, .left = size};
	struct state_reader r;
	struct xen_state before;
	const uint8_t *b;
	uint8_t *img;
	size_t len;
	uint16_t v;
	int rc;

	if (!src) {
		log_init("fuzz_vmm_state", LOG_LVL_ERR);
		log_set_level(LOG_LVL_ERR);
		src = vmm_fake_busy_domain();
		dst = vmm_fake_domain(9, 2);
		if (xen_state_save(src, &image) < 0)
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
	if (rc == 0) {
		/* Start the next input from a clean target. */
		vmm_fake_free(dst);
		dst = vmm_fake_domain(9, 2);
	}
	free(img);
	return 0;
}
