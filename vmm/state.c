/* SPDX-License-Identifier: MIT */
#include "state.h"

#include <errno.h>
#include <string.h>

int state_put_section(struct buf *out, uint32_t tag, uint32_t version,
		      const void *payload, size_t len)
{
	struct state_section_hdr h = {
		.tag = tag,
		.version = version,
		.length = len,
	};
	int rc;

	rc = buf_reserve(out, sizeof(h) + len);
	if (rc)
		return rc;
	/* Cannot fail now: the space is reserved. */
	memcpy(out->data + out->len, &h, sizeof(h));
	if (len)
		memcpy(out->data + out->len + sizeof(h), payload, len);
	out->len += sizeof(h) + len;
	return 0;
}

int state_read(struct state_reader *r, void *dst, size_t n)
{
	if (r->off > r->len || n > r->len - r->off)
		return -EINVAL;
	memcpy(dst, r->p + r->off, n);
	r->off += n;
	return 0;
}

int state_next_section(struct state_reader *image,
		       struct state_section_hdr *hdr,
		       struct state_reader *payload)
{
	if (image->off == image->len)
		return 0;
	if (state_read(image, hdr, sizeof(*hdr)) < 0)
		return -EINVAL;
	if (hdr->length > image->len - image->off)
		return -EINVAL;
	payload->p = image->p + image->off;
	payload->len = (size_t)hdr->length;
	payload->off = 0;
	image->off += (size_t)hdr->length;
	return 1;
}
