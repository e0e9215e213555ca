/* SPDX-License-Identifier: MIT */
/*
 * Guest memory: RAM in a memfd (so another process can map it later) and
 * bounds-checked access to it.
 *
 * Guest-physical addresses are offsets into the memfd: RAM is one block at
 * GPA 0.  Guest-virtual addresses (hypercall arguments) are translated with
 * the calling vCPU's page tables: paging off means GVA == GPA, 4-level long
 * mode paging is walked in software; 32-bit paging is refused (-EFAULT)
 * until a guest needs it.
 */
#ifndef XENIA_VMM_MEM_H
#define XENIA_VMM_MEM_H

#include <stddef.h>
#include <stdint.h>

#include "domain.h"
#include "xen.h"

#define VMM_PAGE_SIZE 4096ULL
#define VMM_PAGE_MASK (~(VMM_PAGE_SIZE - 1))

/* Smallest and largest RAM: the top stays below the LAPIC/IOAPIC window. */
#define VMM_RAM_MIN_MIB 1
#define VMM_RAM_MAX_MIB 3584

/*
 * The guest's memory map: RAM from 0, then Xen's special pages at the top
 * of the memfd (the XenStore ring, the console ring), typed reserved so
 * the guest does not use them as RAM.  Their frame numbers go to the
 * guest in HVM params.
 */
#define VMM_SPECIAL_PAGES 2u
enum mem_special { MEM_SPECIAL_STORE, MEM_SPECIAL_CONSOLE };
#define VMM_MEMMAP_ENTRIES 2u

/* One past the last RAM byte (below the special pages). */
uint64_t mem_ram_end(const struct domain *d);
/* Guest frame of a special page. */
uint64_t mem_special_gfn(const struct domain *d, enum mem_special which);
/* The memory map, VMM_MEMMAP_ENTRIES entries (hvm_start_info's type). */
void mem_memmap(const struct domain *d, struct hvm_memmap_table_entry *out);

/*
 * Notes that this process wrote guest frame gfn (see domain.h's
 * vmm_dirty); nothing while no migration tracks writes.
 */
static inline void mem_mark_dirty(struct domain *d, uint64_t gfn)
{
	uint64_t *map = __atomic_load_n(&d->vmm_dirty, __ATOMIC_ACQUIRE);

	if (map && gfn < d->ram_size / VMM_PAGE_SIZE)
		__atomic_fetch_or(&map[gfn / 64], 1ull << (gfn % 64),
				  __ATOMIC_RELAXED);
}

int mem_init(struct domain *d, uint64_t size)
	__attribute__((warn_unused_result));
void mem_destroy(struct domain *d);

/* Host pointer to guest frame gfn (a whole page) or NULL if outside RAM. */
void *mem_gfn_ptr(struct domain *d, uint64_t gfn);

/* Host pointer to [gpa, gpa+len) or NULL when any byte is outside RAM. */
void *mem_gpa_ptr(struct domain *d, uint64_t gpa, uint64_t len);

/*
 * Copy between host memory and guest-virtual memory of `v`, page by page.
 * 0 or -EFAULT (an unmapped page, a GPA outside RAM or in a page the guest
 * gave back, balloon.h); nothing partial is reported, the guest gets the
 * error.
 */
int mem_copy_from_guest(struct vcpu *v, void *dst, uint64_t gva, size_t len)
	__attribute__((warn_unused_result));
int mem_copy_to_guest(struct vcpu *v, uint64_t gva, const void *src,
		      size_t len) __attribute__((warn_unused_result));

#endif
