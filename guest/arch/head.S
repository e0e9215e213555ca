/*
 * PVH entry of the test guest.
 *
 * The loader enters pvh_start32 in 32-bit flat protected mode with paging
 * off and EBX holding the physical address of struct hvm_start_info.  We
 * load our GDT, point CR3 at page tables that are built at assembly time
 * (so the emulated CPL0 path executes a handful of instructions instead of
 * a loop), turn on PAE, LME and PG, far-jump to 64-bit code, zero the BSS
 * and call guest_main(start_info).
 *
 * Secondary vCPUs enter at ap_start32 or ap_start64 (VCPUOP_initialise,
 * see smp.c) with EDI/RDI holding their id and ESP/RSP their stack top.
 */
#include <xen/elfnote.h>
#include "smp.h"

#define MSR_EFER	0xc0000080
#define EFER_LME	0x100
#define CR0_PE		0x1
#define CR0_PG		0x80000000
#define CR4_PAE		0x20

#define SEL_CODE64	0x08
#define SEL_DATA	0x10

#define PTE_P		0x1
#define PTE_RW		0x2
#define PTE_PWT		0x8
#define PTE_PCD		0x10
#define PTE_PS		0x80

#define STACK_SIZE	16384

	/* Our GDT and page tables, PAE, LME, PG, then 64-bit code at target. */
	.macro	LONG_MODE target
	lgdt	gdt_ptr
	movl	%cr4, %eax
	orl	$CR4_PAE, %eax
	movl	%eax, %cr4
	movl	$pml4, %eax
	movl	%eax, %cr3
	movl	$MSR_EFER, %ecx
	rdmsr
	orl	$EFER_LME, %eax
	wrmsr
	movl	%cr0, %eax
	orl	$(CR0_PG | CR0_PE), %eax
	movl	%eax, %cr0
	ljmp	$SEL_CODE64, $\target
	.endm

	.section .note.Xen, "a", @note
	.balign 4
	.long	2f - 1f			/* namesz */
	.long	4f - 3f			/* descsz */
	.long	XEN_ELFNOTE_PHYS32_ENTRY
1:	.asciz	"Xen"
2:	.balign 4
3:	.quad	pvh_start32		/* 8 bytes: QEMU reads a 64-bit value */
4:	.balign 4

	.section .text.head, "ax"
	.code32
	.globl	pvh_start32
pvh_start32:
	cli
	cld
	movl	%ebx, %esi
	LONG_MODE start64

	.code64
start64:
	movl	$SEL_DATA, %eax
	movl	%eax, %ds
	movl	%eax, %es
	movl	%eax, %ss
	xorl	%eax, %eax
	movl	%eax, %fs
	movl	%eax, %gs
	/* Upper halves are undefined after the mode switch: movl clears them. */
	movl	%esi, %ebx
	leaq	stack_top(%rip), %rsp
	/*
	 * No clearing of .bss: an ELF loader zero-fills what lies between a
	 * segment's file size and its memory size (xenia-vmm's into a fresh
	 * memfd, QEMU's too), and 2 MiB of rep stosq is a tenth of a second
	 * of CPU where kernel code is emulated.
	 */
	movl	%ebx, %edi
	call	guest_main
1:	cli
	hlt
	jmp	1b

	/*
	 * VCPUOP_initialise, 32-bit form: flat segments, paging off, as at
	 * PVH entry.  The same switch to long mode, sharing vCPU 0's page
	 * tables.
	 */
	.text
	.code32
	.globl	ap_start32
ap_start32:
	cli
	cld
	LONG_MODE ap_common64

	/*
	 * VCPUOP_initialise, 64-bit form: Xen gives flat segments with null
	 * selectors and no GDT, which the first iretq would fault on.  Load
	 * our GDT and reload CS with a far return.
	 */
	.code64
	.globl	ap_start64
ap_start64:
	cli
	cld
	lgdt	gdt_ptr(%rip)
	pushq	$SEL_CODE64
	leaq	ap_common64(%rip), %rax
	pushq	%rax
	lretq

ap_common64:
	movl	$SEL_DATA, %eax
	movl	%eax, %ds
	movl	%eax, %es
	movl	%eax, %ss
	xorl	%eax, %eax
	movl	%eax, %fs
	movl	%eax, %gs
	/* From 32-bit mode the upper halves are undefined: clear them. */
	movl	%edi, %edi
	movl	%esp, %esp
	andq	$-16, %rsp
	call	smp_ap_main
1:	cli
	hlt
	jmp	1b

	.section .data, "aw"
	.balign 16
gdt:
	.quad	0			/* null */
	.quad	0x00af9a000000ffff	/* 0x08: 64-bit code, DPL0 */
	.quad	0x00cf92000000ffff	/* 0x10: data, DPL0 */
	.quad	0x00cf9a000000ffff	/* 0x18: 32-bit code, DPL0 */
gdt_end:
	.balign 8
	.word	0
gdt_ptr:
	.word	gdt_end - gdt - 1
	.quad	gdt

	/*
	 * Identity map of 0..4 GiB with 2 MiB pages.  The top GiB holds the
	 * LAPIC and other MMIO: map it uncached.
	 */
	.section .data.pagetables, "aw"
	.balign 4096
pml4:
	.quad	pdpt + (PTE_P | PTE_RW)
	.fill	511, 8, 0
pdpt:
	.quad	pd + 0x0000 + (PTE_P | PTE_RW)
	.quad	pd + 0x1000 + (PTE_P | PTE_RW)
	.quad	pd + 0x2000 + (PTE_P | PTE_RW)
	.quad	pd + 0x3000 + (PTE_P | PTE_RW)
	.fill	508, 8, 0
pd:
	.set	i, 0
	.rept	2048
	.if	i < 1536
	.quad	(i << 21) | (PTE_P | PTE_RW | PTE_PS)
	.else
	.quad	(i << 21) | (PTE_P | PTE_RW | PTE_PS | PTE_PCD | PTE_PWT)
	.endif
	.set	i, i + 1
	.endr

	/* The hypervisor fills this page with stubs on our MSR write. */
	.section .noinit, "aw", @nobits
	.balign 4096
	.globl	hypercall_page
hypercall_page:
	.skip	4096
	.balign 16
stack_bottom:
	.skip	STACK_SIZE
stack_top:
	/* One stack per secondary vCPU, indexed by its id (0 unused). */
	.balign 16
	.globl	ap_stacks
ap_stacks:
	.skip	SMP_MAX_VCPUS * SMP_STACK_SIZE

	.section .note.GNU-stack, "", @progbits
