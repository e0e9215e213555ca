/* SPDX-License-Identifier: MIT */
/*
 * The serialised hypervisor state of a domain: a sequence of sections,
 * each owned by the subsystem that owns the state (vCPUs, event channels,
 * grant table, ...), so that a subsystem's save and load sit beside it.
 *
 *	struct state_section_hdr { u32 tag; u32 version; u64 length; }
 *	payload: `length` bytes, the owner's layout, little-endian
 *
 * Loading reads untrusted bytes (a migration source, a save file): every
 * length, count and index in a payload is checked before use, and a bad
 * image is refused with -EINVAL and a one-line reason, changing nothing
 * the domain already runs with.  docs/vmm-state.md describes each section.
 */
#ifndef XENIA_VMM_STATE_H
#define XENIA_VMM_STATE_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

/* Section tags: four ASCII letters, read as a little-endian u32. */
#define STATE_TAG(a, b, c, d)                                                \
	((uint32_t)(a) | (uint32_t)(b) << 8 | (uint32_t)(c) << 16 |          \
	 (uint32_t)(d) << 24)

struct state_section_hdr {
	uint32_t tag;
	uint32_t version;
	uint64_t length;
};

/* Appends header + payload to out.  0 or -ENOMEM. */
int state_put_section(struct buf *out, uint32_t tag, uint32_t version,
		      const void *payload, size_t len)
	__attribute__((warn_unused_result));

/* A bounded cursor over one payload (or over a whole image). */
struct state_reader {
	const uint8_t *p;
	size_t len;
	size_t off;
};

/* Copies the next n bytes into dst; -EINVAL if fewer remain. */
int state_read(struct state_reader *r, void *dst, size_t n)
	__attribute__((warn_unused_result));

/*
 * Reads the next section header of an image and points `payload` at its
 * bytes.  1 when a section was read, 0 at the end of the image, -EINVAL
 * when the header or the length runs past the end.
 */
int state_next_section(struct state_reader *image,
		       struct state_section_hdr *hdr,
		       struct state_reader *payload)
	__attribute__((warn_unused_result));

#endif
