/* SPDX-License-Identifier: MIT */
/* A growable byte buffer with a read offset, for connection queues. */
#ifndef XENIA_BUF_H
#define XENIA_BUF_H

#include <stddef.h>
#include <stdint.h>

struct buf {
	uint8_t *data;
	size_t head; /* first unread byte */
	size_t len;  /* end of valid data */
	size_t cap;
};

/* Both return 0 or -ENOMEM; the buffer is unchanged on failure. */
int buf_reserve(struct buf *b, size_t extra)
	__attribute__((warn_unused_result));
int buf_append(struct buf *b, const void *data, size_t n)
	__attribute__((warn_unused_result));

static inline size_t buf_used(const struct buf *b)
{
	return b->len - b->head;
}

static inline uint8_t *buf_readp(const struct buf *b)
{
	return b->data ? b->data + b->head : NULL;
}

/* Drop n bytes from the front; resets to empty when everything is read. */
void buf_consume(struct buf *b, size_t n);
void buf_free(struct buf *b);

#endif
