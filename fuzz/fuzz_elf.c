/* SPDX-License-Identifier: MIT */
/*
 * loader_load_elf() over arbitrary bytes: the kernel file is the
 * administrator's, but a bad one must be refused with a message, never
 * read or written out of bounds.  The input is the ELF file itself; the
 * guest has 2 MiB of RAM.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "loader.h"

#define FUZZ_RAM (2u << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t *ram;
	struct pvh_image out;
	char err[256];

	if (!ram) {
		ram = malloc(FUZZ_RAM);
		if (!ram)
			abort();
	}
	err[0] = '\0';
	if (loader_load_elf(data, size, ram, FUZZ_RAM, &out, err,
			    sizeof(err)) == 0) {
		/* What it accepted lies inside RAM and names an entry. */
		if (out.highest > FUZZ_RAM || out.lowest > out.highest)
			abort();
	} else if (!err[0]) {
		abort(); /* refused without a reason */
	}
	return 0;
}
