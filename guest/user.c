/*
 * User mode (user.h): the U bit in the identity map, and per vCPU a GDT
 * with user segments and a TSS.
 *
 * head.S maps the low 4 GiB with 2 MiB pages and none has the U bit.
 * user_map() sets U on every level of the walk to the pages it is given;
 * the upper levels cover kernel pages too, but U counts only where the
 * leaf has it as well, so those stay the kernel's.  Where a range covers
 * only part of a 2 MiB page, that page is split into a page table of 4
 * KiB pages with the same frames and cache bits, taken from a small pool:
 * the translation does not change, so a vCPU still holding the old 2 MiB
 * entry in its TLB keeps working; only the U bit waits for its next CR3
 * reload.  There is no SMAP or SMEP (CR4 holds only PAE), so the kernel
 * still reaches user pages.
 *
 * A vCPU entering user mode gets its own GDT: head.S's descriptors, user
 * data and 64-bit code at DPL3, and its TSS, whose RSP0 is where the CPU
 * switches stacks when an event or exception comes in at CPL3.  Its own,
 * because ltr marks the TSS descriptor busy in the table.
 */
#include "arch.h"
#include "lib.h"
#include "smp.h"
#include "user.h"
#include "xen.h"

#define PTE_P		0x1ull
#define PTE_RW		0x2ull
#define PTE_U		0x4ull
#define PTE_PWT		0x8ull
#define PTE_PCD		0x10ull
#define PTE_PS		0x80ull
#define PTE_ADDR	0x000ffffffffff000ull
#define PAGE_4K		0x1000ull
#define PAGE_2M		0x200000ull

/* Enough for the .user section, shared_info and a vcpu_info page. */
#define USER_PT_POOL	8

/* head.S's four descriptors, then ours. */
#define GDT_KERNEL	4
#define SEL_USER_DATA	(0x20 | 3)
#define SEL_USER_CODE	(0x28 | 3)
#define SEL_TSS		0x30
#define GDT_ENTRIES	8
#define DESC_USER_DATA	0x00cff2000000ffffull /* data, DPL3 */
#define DESC_USER_CODE	0x00affa000000ffffull /* 64-bit code, DPL3 */
#define DESC_TSS	0x89ull		      /* present 64-bit TSS */

#define RFLAGS_IF	0x200ull
#define RFLAGS_FIXED	0x2ull

struct user_tss {
	uint32_t reserved0;
	uint64_t rsp[3];
	uint64_t reserved1;
	uint64_t ist[7];
	uint64_t reserved2;
	uint16_t reserved3;
	uint16_t iomap_base;
} __attribute__((packed));

struct user_cpu {
	uint64_t gdt[GDT_ENTRIES];
	struct user_tss tss;
} __attribute__((aligned(16)));

struct desc_ptr {
	uint16_t limit;
	uint64_t base;
} __attribute__((packed));

static uint64_t user_pts[USER_PT_POOL][512] __attribute__((aligned(4096)));
static unsigned int user_pts_used;
static struct user_cpu user_cpus[SMP_MAX_VCPUS];

static uint64_t read_cr3(void)
{
	uint64_t v;

	asm volatile("mov %%cr3, %0" : "=r"(v));
	return v;
}

/* Page tables lie in the identity map: an entry's frame is a pointer. */
static uint64_t *user_table(uint64_t entry)
{
	return (uint64_t *)(uintptr_t)(entry & PTE_ADDR);
}

/*
 * The page-directory entry for addr, with U set on the PML4 and PDPT
 * entries above it; NULL if it is not mapped down to that level.
 */
static uint64_t *user_pde(uint64_t addr)
{
	uint64_t *e = &user_table(read_cr3())[addr >> 39 & 511];

	if (!(*e & PTE_P))
		return NULL;
	*e |= PTE_U;
	e = &user_table(*e)[addr >> 30 & 511];
	if (!(*e & PTE_P) || (*e & PTE_PS))
		return NULL;
	*e |= PTE_U;
	return &user_table(*e)[addr >> 21 & 511];
}

/* Turns the 2 MiB page of *pde into 512 4 KiB pages, same frames. */
static int user_split(uint64_t *pde)
{
	uint64_t base = *pde & PTE_ADDR & ~(PAGE_2M - 1);
	uint64_t bits = *pde & (PTE_P | PTE_RW | PTE_PWT | PTE_PCD);
	uint64_t *pt;
	unsigned int i;

	if (user_pts_used == USER_PT_POOL)
		return -XEN_ENOSPC;
	pt = user_pts[user_pts_used++];
	for (i = 0; i < 512; i++)
		pt[i] = (base + i * PAGE_4K) | bits;
	*pde = (uintptr_t)pt | PTE_P | PTE_RW;
	return 0;
}

/* U on [addr, end), which lies within one 2 MiB page. */
static int user_map_2m(uint64_t addr, uint64_t end)
{
	uint64_t *pde = user_pde(addr), *pt;
	int rc;

	if (!pde || !(*pde & PTE_P))
		return -XEN_EINVAL;
	if ((*pde & PTE_PS) && !(addr & (PAGE_2M - 1)) &&
	    end - addr >= PAGE_2M) {
		*pde |= PTE_U;
		return 0;
	}
	if ((*pde & PTE_PS) && (rc = user_split(pde)))
		return rc;
	*pde |= PTE_U;
	pt = user_table(*pde);
	for (; addr < end; addr += PAGE_4K)
		pt[addr >> 12 & 511] |= PTE_U;
	return 0;
}

int user_map(uint64_t addr, uint64_t len)
{
	uint64_t end = addr + len, next;
	int rc;

	if (end < addr)
		return -XEN_EINVAL;
	addr &= ~(PAGE_4K - 1);
	for (; addr < end; addr = next) {
		next = (addr | (PAGE_2M - 1)) + 1;
		rc = user_map_2m(addr, next < end ? next : end);
		if (rc)
			return rc;
	}
	return 0;
}

static void user_set_tss_desc(uint64_t *d, const struct user_tss *tss)
{
	uint64_t base = (uintptr_t)tss, limit = sizeof(*tss) - 1;

	d[0] = (limit & 0xffff) | (base & 0xffffff) << 16 | DESC_TSS << 40 |
	       (limit >> 16 & 0xf) << 48 | (base >> 24 & 0xff) << 56;
	d[1] = base >> 32;
}

/* This vCPU's GDT and TSS, loaded; RSP0 is set by user_enter(). */
static struct user_cpu *user_cpu_load(unsigned int id)
{
	struct user_cpu *u = &user_cpus[id];
	struct desc_ptr gdtr;
	const uint64_t *cur;

	asm volatile("sgdt %0" : "=m"(gdtr));
	cur = (const uint64_t *)(uintptr_t)gdtr.base;
	memcpy(u->gdt, cur, GDT_KERNEL * sizeof(u->gdt[0]));
	u->gdt[SEL_USER_DATA >> 3] = DESC_USER_DATA;
	u->gdt[SEL_USER_CODE >> 3] = DESC_USER_CODE;
	memset(&u->tss, 0, sizeof(u->tss));
	u->tss.iomap_base = sizeof(u->tss); /* no I/O bitmap */
	user_set_tss_desc(&u->gdt[SEL_TSS >> 3], &u->tss);
	gdtr.limit = sizeof(u->gdt) - 1;
	gdtr.base = (uintptr_t)u->gdt;
	/* The kernel selectors stay valid: same descriptors, same slots. */
	asm volatile("lgdt %0" : : "m"(gdtr) : "memory");
	asm volatile("ltr %w0" : : "r"(SEL_TSS) : "memory");
	return u;
}

void user_enter(unsigned int id, uint64_t rip, uint64_t rsp, uint64_t arg)
{
	struct user_cpu *u;
	uint64_t sp;

	asm volatile("cli" ::: "memory");
	if (id >= SMP_MAX_VCPUS)
		halt_forever();
	u = user_cpu_load(id);
	/*
	 * We never return: what lies below this frame is free, and events
	 * in user mode run there.  The CPU aligns it to 16 itself.
	 */
	asm volatile("mov %%rsp, %0" : "=r"(sp));
	u->tss.rsp[0] = sp;
	/* Another vCPU may have set U bits: forget the entries without. */
	asm volatile("mov %0, %%cr3" : : "r"(read_cr3()) : "memory");
	/* As after a call: the ABI wants rsp + 8 aligned at entry. */
	rsp = (rsp & ~15ull) - 8;
	asm volatile("pushq %[ss]\n\t"
		     "pushq %[sp]\n\t"
		     "pushq %[fl]\n\t"
		     "pushq %[cs]\n\t"
		     "pushq %[ip]\n\t"
		     "iretq"
		     :
		     : [ss] "i"(SEL_USER_DATA), [sp] "r"(rsp),
		       [fl] "i"(RFLAGS_IF | RFLAGS_FIXED),
		       [cs] "i"(SEL_USER_CODE), [ip] "r"(rip), "D"(arg)
		     : "memory");
	__builtin_unreachable();
}
