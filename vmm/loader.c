/* SPDX-License-Identifier: MIT */
/*
 * The kernel file is hostile input like anything else a user hands us: every
 * offset and size in it is checked against the file and against guest RAM
 * before a byte is copied, and with arithmetic that cannot wrap.
 */
#include "loader.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "mem.h"
#include "xen.h"

/* Larger kernel files (debug info included) are refused outright. */
#define LOADER_FILE_MAX (1ULL << 30)

/* A program header, whichever ELF class it came from. */
struct loader_phdr {
	uint32_t type;
	uint64_t offset;
	uint64_t paddr;
	uint64_t filesz;
	uint64_t memsz;
};

static int loader_fail(char *err, size_t errlen, int rc, const char *fmt,
		       ...) __attribute__((format(printf, 4, 5)));

static int loader_fail(char *err, size_t errlen, int rc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return rc;
}

/* [off, off+size) lies inside a buffer of `len` bytes. */
static bool loader_in_file(uint64_t off, uint64_t size, size_t len)
{
	return off <= len && size <= len - off;
}

static void loader_get_phdr(const uint8_t *img, bool is64, uint64_t off,
			    struct loader_phdr *ph)
{
	if (is64) {
		Elf64_Phdr p;

		memcpy(&p, img + off, sizeof(p));
		ph->type = p.p_type;
		ph->offset = p.p_offset;
		ph->paddr = p.p_paddr;
		ph->filesz = p.p_filesz;
		ph->memsz = p.p_memsz;
	} else {
		Elf32_Phdr p;

		memcpy(&p, img + off, sizeof(p));
		ph->type = p.p_type;
		ph->offset = p.p_offset;
		ph->paddr = p.p_paddr;
		ph->filesz = p.p_filesz;
		ph->memsz = p.p_memsz;
	}
}

/*
 * Walks the notes of one PT_NOTE segment for Xen's PHYS32_ENTRY.
 * 1 found, 0 not there, <0 malformed.
 */
static int loader_find_pvh_note(const uint8_t *p, uint64_t size,
				uint32_t *entry)
{
	uint64_t pos = 0;

	while (size - pos >= sizeof(Elf32_Nhdr)) {
		Elf32_Nhdr nh;
		uint64_t name_sz, desc_sz;
		const uint8_t *name, *desc;

		memcpy(&nh, p + pos, sizeof(nh));
		pos += sizeof(nh);
		name_sz = ((uint64_t)nh.n_namesz + 3) & ~3ULL;
		desc_sz = ((uint64_t)nh.n_descsz + 3) & ~3ULL;
		if (name_sz > size - pos || desc_sz > size - pos - name_sz)
			return -ENOEXEC;
		name = p + pos;
		desc = p + pos + name_sz;
		pos += name_sz + desc_sz;
		if (nh.n_namesz != 4 || memcmp(name, "Xen", 4) != 0 ||
		    nh.n_type != XEN_ELFNOTE_PHYS32_ENTRY)
			continue;
		if (nh.n_descsz == 4) {
			memcpy(entry, desc, 4);
		} else if (nh.n_descsz == 8) {
			uint64_t e;

			memcpy(&e, desc, 8);
			if (e > UINT32_MAX)
				return -ERANGE;
			*entry = (uint32_t)e;
		} else {
			return -ENOEXEC;
		}
		return 1;
	}
	return 0;
}

int loader_load_elf(const uint8_t *img, size_t len, uint8_t *ram,
		    uint64_t ram_size, struct pvh_image *out, char *err,
		    size_t errlen)
{
	uint64_t phoff, phentsize, phnum, i;
	uint64_t lowest = UINT64_MAX, highest = 0;
	struct loader_phdr ph;
	bool is64, have_entry = false;
	uint32_t entry = 0;
	int rc;

	if (len < EI_NIDENT || memcmp(img, ELFMAG, SELFMAG) != 0)
		return loader_fail(err, errlen, -ENOEXEC, "not an ELF file");
	if (img[EI_CLASS] != ELFCLASS64 && img[EI_CLASS] != ELFCLASS32)
		return loader_fail(err, errlen, -ENOEXEC,
				   "unknown ELF class %u", img[EI_CLASS]);
	is64 = img[EI_CLASS] == ELFCLASS64;
	if (img[EI_DATA] != ELFDATA2LSB)
		return loader_fail(err, errlen, -ENOEXEC,
				   "not a little-endian ELF file");
	if (len < (is64 ? sizeof(Elf64_Ehdr) : sizeof(Elf32_Ehdr)))
		return loader_fail(err, errlen, -ENOEXEC,
				   "truncated file (ELF header)");
	if (is64) {
		Elf64_Ehdr eh;

		memcpy(&eh, img, sizeof(eh));
		if (eh.e_machine != EM_X86_64 || eh.e_type != ET_EXEC)
			return loader_fail(err, errlen, -ENOEXEC,
					   "not an x86-64 executable ELF "
					   "(e_type %u, e_machine %u)",
					   eh.e_type, eh.e_machine);
		phoff = eh.e_phoff;
		phentsize = eh.e_phentsize;
		phnum = eh.e_phnum;
	} else {
		Elf32_Ehdr eh;

		memcpy(&eh, img, sizeof(eh));
		if (eh.e_machine != EM_386 || eh.e_type != ET_EXEC)
			return loader_fail(err, errlen, -ENOEXEC,
					   "not an i386 executable ELF "
					   "(e_type %u, e_machine %u)",
					   eh.e_type, eh.e_machine);
		phoff = eh.e_phoff;
		phentsize = eh.e_phentsize;
		phnum = eh.e_phnum;
	}
	if (phentsize != (is64 ? sizeof(Elf64_Phdr) : sizeof(Elf32_Phdr)) ||
	    phnum == 0 || phnum == PN_XNUM)
		return loader_fail(err, errlen, -ENOEXEC,
				   "bad program header table");
	if (!loader_in_file(phoff, phnum * phentsize, len))
		return loader_fail(err, errlen, -ENOEXEC,
				   "truncated file (program headers)");

	/* First pass: check everything, copy nothing. */
	for (i = 0; i < phnum; i++) {
		loader_get_phdr(img, is64, phoff + i * phentsize, &ph);
		if (ph.type == PT_NOTE && !have_entry) {
			if (!loader_in_file(ph.offset, ph.filesz, len))
				return loader_fail(err, errlen, -ENOEXEC,
						   "truncated file (notes)");
			rc = loader_find_pvh_note(img + ph.offset, ph.filesz,
						  &entry);
			if (rc < 0)
				return loader_fail(err, errlen, -ENOEXEC,
						   "malformed ELF note");
			have_entry = rc > 0;
		}
		if (ph.type != PT_LOAD || ph.memsz == 0)
			continue;
		if (!loader_in_file(ph.offset, ph.filesz, len))
			return loader_fail(err, errlen, -ENOEXEC,
					   "truncated file (segment %llu)",
					   (unsigned long long)i);
		if (ph.filesz > ph.memsz)
			return loader_fail(err, errlen, -ENOEXEC,
					   "segment %llu: file size > memory "
					   "size",
					   (unsigned long long)i);
		if (ph.paddr > ram_size || ph.memsz > ram_size - ph.paddr)
			return loader_fail(
				err, errlen, -E2BIG,
				"segment %llu at 0x%llx (+0x%llx) is outside "
				"guest RAM of %llu MiB (too big for --memory?)",
				(unsigned long long)i,
				(unsigned long long)ph.paddr,
				(unsigned long long)ph.memsz,
				(unsigned long long)(ram_size >> 20));
		if (ph.paddr < LOADER_BOOT_END &&
		    ph.paddr + ph.memsz > LOADER_START_INFO_GPA)
			return loader_fail(err, errlen, -E2BIG,
					   "segment %llu overlaps the boot "
					   "information at 0x%x-0x%x",
					   (unsigned long long)i,
					   LOADER_START_INFO_GPA,
					   LOADER_BOOT_END - 1);
		if (ph.paddr < lowest)
			lowest = ph.paddr;
		if (ph.paddr + ph.memsz > highest)
			highest = ph.paddr + ph.memsz;
	}
	if (highest == 0)
		return loader_fail(err, errlen, -ENOEXEC,
				   "no loadable segment");
	if (!have_entry)
		return loader_fail(err, errlen, -ENOEXEC,
				   "no PVH entry point (ELF note \"Xen\" "
				   "XEN_ELFNOTE_PHYS32_ENTRY missing)");
	if (entry < lowest || entry >= highest)
		return loader_fail(err, errlen, -ENOEXEC,
				   "PVH entry 0x%x is outside the image",
				   entry);

	for (i = 0; i < phnum; i++) {
		loader_get_phdr(img, is64, phoff + i * phentsize, &ph);
		if (ph.type != PT_LOAD || ph.memsz == 0)
			continue;
		/*
		 * The rest up to memsz (.bss) is already zero: guest RAM is a
		 * fresh memfd.  Writing the zeroes would only fault in host
		 * pages the guest may never touch (2 MiB for the test guest).
		 */
		memcpy(ram + ph.paddr, img + ph.offset, ph.filesz);
	}
	out->entry = entry;
	out->lowest = lowest;
	out->highest = highest;
	return 0;
}

/* Reads up to `max` bytes of `path` into a malloc'd buffer. */
static int loader_read_file(const char *path, uint64_t max, uint8_t **buf,
			    size_t *len)
{
	uint8_t *b = NULL;
	struct stat st;
	size_t done = 0;
	int fd, rc;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		log_err("loader: %s", path);
		goto out;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		rc = -EINVAL;
		log_errx("loader: %s: not a regular file", path);
		goto out;
	}
	if ((uint64_t)st.st_size > max) {
		rc = -E2BIG;
		log_errx("loader: %s: too big (%lld bytes)", path,
			 (long long)st.st_size);
		goto out;
	}
	b = malloc(st.st_size ? (size_t)st.st_size : 1);
	if (!b) {
		rc = -ENOMEM;
		goto out;
	}
	while (done < (size_t)st.st_size) {
		ssize_t n = read(fd, b + done, (size_t)st.st_size - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			rc = n < 0 ? -errno : -EIO;
			log_errx("loader: %s: short read", path);
			goto out;
		}
		done += (size_t)n;
	}
	*buf = b;
	*len = done;
	b = NULL;
	rc = 0;
out:
	free(b);
	if (fd >= 0)
		close(fd);
	return rc;
}

int loader_load_pvh(struct domain *d, const char *kernel, const char *initrd,
		    const char *cmdline)
{
	struct hvm_start_info *si;
	struct hvm_modlist_entry *mod;
	struct hvm_memmap_table_entry *mm;
	struct pvh_image img;
	uint8_t *file = NULL;
	size_t len = 0, cmdlen;
	char err[256];
	int rc;

	cmdlen = strlen(cmdline) + 1;
	if (cmdlen > LOADER_CMDLINE_MAX) {
		log_errx("loader: command line too long (%zu bytes, max %u)",
			 cmdlen - 1, LOADER_CMDLINE_MAX - 1);
		rc = -E2BIG;
		goto out;
	}
	if (d->ram_size < LOADER_BOOT_END) {
		log_errx("loader: guest RAM too small");
		rc = -E2BIG;
		goto out;
	}
	rc = loader_read_file(kernel, LOADER_FILE_MAX, &file, &len);
	if (rc < 0)
		goto out;
	/* The kernel and initrd stay out of the special pages. */
	rc = loader_load_elf(file, len, d->ram, mem_ram_end(d), &img, err,
			     sizeof(err));
	if (rc < 0) {
		log_errx("loader: %s: %s", kernel, err);
		goto out;
	}
	free(file);
	file = NULL;

	memset(d->ram + LOADER_START_INFO_GPA, 0,
	       LOADER_BOOT_END - LOADER_START_INFO_GPA);
	si = (struct hvm_start_info *)(d->ram + LOADER_START_INFO_GPA);
	mod = (struct hvm_modlist_entry *)(si + 1);
	mm = (struct hvm_memmap_table_entry *)(d->ram + LOADER_MEMMAP_GPA);

	if (initrd) {
		uint64_t floor = img.highest > LOADER_BOOT_END ?
					 img.highest :
					 LOADER_BOOT_END;
		uint64_t gpa;

		rc = loader_read_file(initrd, mem_ram_end(d), &file, &len);
		if (rc < 0)
			goto out;
		gpa = (mem_ram_end(d) - len) & VMM_PAGE_MASK;
		if (len > mem_ram_end(d) || gpa < floor) {
			log_errx("loader: %s: initrd of %zu bytes does not fit "
				 "in guest RAM above the kernel",
				 initrd, len);
			rc = -E2BIG;
			goto out;
		}
		memcpy(d->ram + gpa, file, len);
		mod->paddr = gpa;
		mod->size = len;
		si->nr_modules = 1;
		si->modlist_paddr = LOADER_START_INFO_GPA + sizeof(*si);
	}

	memcpy(d->ram + LOADER_CMDLINE_GPA, cmdline, cmdlen);
	mem_memmap(d, mm);

	si->magic = XEN_HVM_START_MAGIC_VALUE;
	si->version = 1;
	si->cmdline_paddr = LOADER_CMDLINE_GPA;
	si->memmap_paddr = LOADER_MEMMAP_GPA;
	si->memmap_entries = VMM_MEMMAP_ENTRIES;

	d->entry = img.entry;
	d->start_info_gpa = LOADER_START_INFO_GPA;
	log_debug("loader: %s: 0x%llx-0x%llx, entry 0x%x", kernel,
		  (unsigned long long)img.lowest,
		  (unsigned long long)img.highest, img.entry);
	rc = 0;
out:
	free(file);
	return rc;
}
