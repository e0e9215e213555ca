/*
 * IDT for the CPU exceptions, and through traps_set_vector() for interrupt
 * vectors such as the event-channel upcall.  Any exception is fatal in the
 * test guest: the handler prints the vector, error code and registers, then
 * asks for a crash shutdown.
 */
#include <stdint.h>
#include "arch.h"
#include "console.h"
#include "guest.h"

#define SEL_CODE64	0x08
#define NR_EXCEPTIONS	32
#define STUB_SIZE	16
/* Present, DPL0, 64-bit interrupt gate. */
#define GATE_INTR	0x8e

struct idt_gate {
	uint16_t offset_lo;
	uint16_t selector;
	uint8_t ist;
	uint8_t type;
	uint16_t offset_mid;
	uint32_t offset_hi;
	uint32_t reserved;
};

struct trap_frame {
	uint64_t r15, r14, r13, r12, r11, r10, r9, r8;
	uint64_t rbp, rdi, rsi, rdx, rcx, rbx, rax;
	uint64_t vector, error;
	uint64_t rip, cs, rflags, rsp, ss;
};

extern char trap_stubs[];
void trap_handle(struct trap_frame *f);

static struct idt_gate idt[256] __attribute__((aligned(16)));

static void idt_set(unsigned int vector, uint64_t addr)
{
	idt[vector].offset_lo = (uint16_t)addr;
	idt[vector].selector = SEL_CODE64;
	idt[vector].type = GATE_INTR;
	idt[vector].offset_mid = (uint16_t)(addr >> 16);
	idt[vector].offset_hi = (uint32_t)(addr >> 32);
}

void traps_set_vector(unsigned int vector, void (*stub)(void))
{
	if (vector >= NR_EXCEPTIONS && vector < 256)
		idt_set(vector, (uintptr_t)stub);
}

void traps_init(void)
{
	struct {
		uint16_t limit;
		uint64_t base;
	} __attribute__((packed)) idtr = {
		.limit = sizeof(idt) - 1,
		.base = (uintptr_t)idt,
	};
	unsigned int i;

	for (i = 0; i < NR_EXCEPTIONS; i++)
		idt_set(i, (uintptr_t)trap_stubs + i * STUB_SIZE);
	asm volatile("lidt %0" : : "m"(idtr));
}

void trap_handle(struct trap_frame *f)
{
	printf("FAIL: exception %lu error 0x%lx at rip 0x%lx%s\n",
	       f->vector, f->error, f->rip,
	       (f->cs & 3) ? " in user mode" : "");
	printf("  cr2 0x%lx rsp 0x%lx rflags 0x%lx cs 0x%lx\n",
	       read_cr2(), f->rsp, f->rflags, f->cs);
	printf("  rax 0x%lx rbx 0x%lx rcx 0x%lx rdx 0x%lx\n",
	       f->rax, f->rbx, f->rcx, f->rdx);
	printf("  rsi 0x%lx rdi 0x%lx rbp 0x%lx\n", f->rsi, f->rdi, f->rbp);
	guest_shutdown(SHUTDOWN_crash);
}
