/* SPDX-License-Identifier: MIT */
#include "buf.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int buf_reserve(struct buf *b, size_t extra)
{
	size_t need, cap;
	uint8_t *p;

	if (b->head && b->head == b->len)
		b->head = b->len = 0;
	if (b->cap - b->len >= extra)
		return 0;
	/* Reclaim consumed space before growing. */
	if (b->head) {
		memmove(b->data, b->data + b->head, b->len - b->head);
		b->len -= b->head;
		b->head = 0;
		if (b->cap - b->len >= extra)
			return 0;
	}
	need = b->len + extra;
	if (need < extra)
		return -ENOMEM;
	cap = b->cap ? b->cap : 256;
	while (cap < need) {
		if (cap > SIZE_MAX / 2)
			return -ENOMEM;
		cap *= 2;
	}
	p = realloc(b->data, cap);
	if (!p)
		return -ENOMEM;
	b->data = p;
	b->cap = cap;
	return 0;
}

int buf_append(struct buf *b, const void *data, size_t n)
{
	int rc = buf_reserve(b, n);

	if (rc)
		return rc;
	memcpy(b->data + b->len, data, n);
	b->len += n;
	return 0;
}

void buf_consume(struct buf *b, size_t n)
{
	b->head += n;
	if (b->head >= b->len)
		b->head = b->len = 0;
}

void buf_free(struct buf *b)
{
	free(b->data);
	b->data = NULL;
	b->head = b->len = b->cap = 0;
}
