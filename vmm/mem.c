/* SPDX-License-Identifier: MIT */
#include "mem.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "balloon.h"
#include "log.h"

#define X86_CR0_PG (1ULL << 31)
#define X86_EFER_LMA (1ULL << 10)
#define PTE_PRESENT (1ULL << 0)
#define PTE_PS (1ULL << 7)
#define PTE_ADDR_MASK 0x000ffffffffff000ULL

int mem_init(struct domain *d, uint64_t size)
{
	void *p = MAP_FAILED;
	int fd = -1;
	int rc;

	fd = memfd_create("xenia-guest-ram", MFD_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		log_err("mem: memfd_create");
		goto out;
	}
	if (ftruncate(fd, (off_t)size) < 0) {
		rc = -errno;
		log_err("mem: ftruncate to %llu bytes",
			(unsigned long long)size);
		goto out;
	}
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		rc = -errno;
		log_err("mem: mmap of %llu bytes", (unsigned long long)size);
		goto out;
	}
	d->mem_fd = fd;
	d->ram = p;
	d->ram_size = size;
	fd = -1;
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	return rc;
}

void mem_destroy(struct domain *d)
{
	if (d->ram)
		munmap(d->ram, d->ram_size);
	if (d->mem_fd >= 0)
		close(d->mem_fd);
	d->ram = NULL;
	d->mem_fd = -1;
	balloon_destroy(d);
	free(d->vmm_dirty);
	d->vmm_dirty = NULL;
}

uint64_t mem_ram_end(const struct domain *d)
{
	return d->ram_size - VMM_SPECIAL_PAGES * VMM_PAGE_SIZE;
}

uint64_t mem_special_gfn(const struct domain *d, enum mem_special which)
{
	return mem_ram_end(d) / VMM_PAGE_SIZE + (uint64_t)which;
}

void mem_memmap(const struct domain *d, struct hvm_memmap_table_entry *out)
{
	out[0] = (struct hvm_memmap_table_entry){
		.addr = 0,
		.size = mem_ram_end(d),
		.type = XEN_HVM_MEMMAP_TYPE_RAM,
	};
	out[1] = (struct hvm_memmap_table_entry){
		.addr = mem_ram_end(d),
		.size = VMM_SPECIAL_PAGES * VMM_PAGE_SIZE,
		.type = XEN_HVM_MEMMAP_TYPE_RESERVED,
	};
}

void *mem_gfn_ptr(struct domain *d, uint64_t gfn)
{
	if (gfn > UINT64_MAX / VMM_PAGE_SIZE)
		return NULL;
	return mem_gpa_ptr(d, gfn * VMM_PAGE_SIZE, VMM_PAGE_SIZE);
}

void *mem_gpa_ptr(struct domain *d, uint64_t gpa, uint64_t len)
{
	/* Written so that no sum can wrap: gpa and len are the guest's. */
	if (gpa > d->ram_size || len > d->ram_size - gpa)
		return NULL;
	return d->ram + gpa;
}

/* One 8-byte page-table entry at a guest-physical address. */
static int mem_read_pte(struct domain *d, uint64_t gpa, uint64_t *pte)
{
	const void *p = mem_gpa_ptr(d, gpa, sizeof(*pte));

	if (!p)
		return -EFAULT;
	memcpy(pte, p, sizeof(*pte));
	return 0;
}

/*
 * GVA -> GPA with the register state KVM synced at this exit.  Permission
 * bits are not checked: the hypervisor acts for the guest kernel.
 */
static int mem_translate(struct vcpu *v, uint64_t gva, uint64_t *gpa)
{
	const struct kvm_sregs *s = &v->run->s.regs.sregs;
	uint64_t table, pte;
	int level, rc;

	if (!(s->cr0 & X86_CR0_PG)) {
		*gpa = gva;
		return 0;
	}
	if (!(s->efer & X86_EFER_LMA))
		return -EFAULT;
	/* A non-canonical address would alias a canonical one below. */
	if ((uint64_t)((int64_t)(gva << 16) >> 16) != gva)
		return -EFAULT;
	table = s->cr3 & PTE_ADDR_MASK;
	for (level = 4; level >= 1; level--) {
		unsigned int shift = 12 + 9 * (level - 1);
		uint64_t idx = (gva >> shift) & 511;

		rc = mem_read_pte(v->dom, table + idx * 8, &pte);
		if (rc < 0)
			return rc;
		if (!(pte & PTE_PRESENT))
			return -EFAULT;
		if ((level == 2 || level == 3) && (pte & PTE_PS)) {
			uint64_t size = 1ULL << shift;

			*gpa = (pte & PTE_ADDR_MASK & ~(size - 1)) |
			       (gva & (size - 1));
			return 0;
		}
		table = pte & PTE_ADDR_MASK;
	}
	*gpa = table | (gva & ~VMM_PAGE_MASK);
	return 0;
}

static int mem_copy_guest(struct vcpu *v, uint64_t gva, void *host,
			  size_t len, bool to_guest)
{
	uint8_t *h = host;
	uint64_t gpa;
	int rc;

	while (len > 0) {
		size_t chunk = VMM_PAGE_SIZE - (gva & ~VMM_PAGE_MASK);
		uint8_t *g;

		if (chunk > len)
			chunk = len;
		rc = mem_translate(v, gva, &gpa);
		if (rc < 0)
			return rc;
		g = mem_gpa_ptr(v->dom, gpa, chunk);
		/* A page the guest gave back faults, as on Xen. */
		if (!g || balloon_gfn_released(v->dom, gpa / VMM_PAGE_SIZE))
			return -EFAULT;
		if (to_guest) {
			memcpy(g, h, chunk);
			mem_mark_dirty(v->dom, gpa / VMM_PAGE_SIZE);
		} else {
			memcpy(h, g, chunk);
		}
		h += chunk;
		gva += chunk;
		len -= chunk;
	}
	return 0;
}

int mem_copy_from_guest(struct vcpu *v, void *dst, uint64_t gva, size_t len)
{
	return mem_copy_guest(v, gva, dst, len, false);
}

int mem_copy_to_guest(struct vcpu *v, uint64_t gva, const void *src,
		      size_t len)
{
	return mem_copy_guest(v, gva, (void *)src, len, true);
}
