/* SPDX-License-Identifier: MIT */
/*
 * PVH boot: an ELF kernel with Xen's XEN_ELFNOTE_PHYS32_ENTRY note is loaded
 * at its physical addresses, and hvm_start_info (command line, memory map,
 * an initrd as module 0) is built in low memory:
 *
 *   0x1000  hvm_start_info, then the hvm_modlist_entry array
 *   0x2000  hvm_memmap_table_entry array
 *   0x3000  command line (up to LOADER_CMDLINE_MAX bytes with the NUL)
 *   top of RAM, page aligned: the initrd
 *
 * A kernel whose segments overlap 0x1000-0x3fff is refused.
 */
#ifndef XENIA_VMM_LOADER_H
#define XENIA_VMM_LOADER_H

#include <stddef.h>
#include <stdint.h>

#include "domain.h"

#define LOADER_START_INFO_GPA 0x1000u
#define LOADER_MEMMAP_GPA 0x2000u
#define LOADER_CMDLINE_GPA 0x3000u
#define LOADER_BOOT_END 0x4000u
#define LOADER_CMDLINE_MAX 4096u

struct pvh_image {
	uint32_t entry;
	uint64_t lowest;  /* lowest loaded byte */
	uint64_t highest; /* one past the highest loaded byte */
};

/*
 * Pure part, no I/O: check and load the ELF image `img` into `ram`, which
 * must be all zero (a fresh mapping): segments' .bss is not written.  0, or -ENOEXEC (not ELF, no PVH note, malformed), -E2BIG (does not fit
 * RAM); `err` receives a one-line reason.
 */
int loader_load_elf(const uint8_t *img, size_t len, uint8_t *ram,
		    uint64_t ram_size, struct pvh_image *out, char *err,
		    size_t errlen) __attribute__((warn_unused_result));

/* Reads the kernel (and initrd), loads them and writes hvm_start_info. */
int loader_load_pvh(struct domain *d, const char *kernel, const char *initrd,
		    const char *cmdline) __attribute__((warn_unused_result));

#endif
