/* SPDX-License-Identifier: MIT */
/* Taking bytes off a libFuzzer input, shared by the harnesses. */
#ifndef XENIA_FUZZ_INPUT_H
#define XENIA_FUZZ_INPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct fuzz_input {
	const uint8_t *p;
	size_t left;
};

/* The next n bytes, or false when fewer are left. */
static inline bool fuzz_take(struct fuzz_input *in, size_t n,
			     const uint8_t **out)
{
	if (in->left < n)
		return false;
	*out = in->p;
	in->p += n;
	in->left -= n;
	return true;
}

/* The next byte, or -1 at the end. */
static inline int fuzz_take_byte(struct fuzz_input *in)
{
	const uint8_t *b;

	return fuzz_take(in, 1, &b) ? *b : -1;
}

#endif
