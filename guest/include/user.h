/*
 * User mode (CPL3) for the test guest.
 *
 * Kernel code runs in KVM's instruction emulator on our hosts, user code
 * natively: loops that must run fast (dirty.h's workload) run at CPL3.
 * User code and data are ordinary functions and variables of the image
 * placed, with USER_TEXT and USER_DATA, in the linker script's .user
 * section; user_map() gives user mode those pages and whatever else it
 * must reach, and user_enter() drops a vCPU into user mode.  Events and
 * exceptions taken at CPL3 land on the kernel stack user_enter() left
 * behind (the TSS's RSP0); the upcall returns to user mode, an exception
 * prints its FAIL line (traps.c) and crashes the domain.
 *
 * User code may call nothing outside .user: no kernel function, no
 * library call, no hypercall.  Keep it to plain loads, stores and
 * arithmetic.
 */
#ifndef GUEST_USER_H
#define GUEST_USER_H

#include <stdint.h>

#define USER_TEXT __attribute__((section(".user.text")))
#define USER_DATA __attribute__((section(".user.data")))

/* The .user section, page-aligned (guest.ld). */
extern char _user_start[], _user_end[];

/*
 * Sets the U bit on the pages of the identity map that hold
 * [addr, addr + len): user mode may read and write them.  A 2 MiB page
 * only partly inside is split into 4 KiB pages first.  Takes effect on
 * a vCPU once it reloads CR3 (user_enter() does).  0, -XEN_EINVAL if a
 * page is not mapped, -XEN_ENOSPC if no page table is left to split.
 */
int user_map(uint64_t addr, uint64_t len) __attribute__((warn_unused_result));

/*
 * On vCPU id: loads its own GDT (user code and data segments, a TSS),
 * flushes its TLB and enters user mode at rip with stack rsp, rdi = arg
 * and interrupts on.  The kernel stack below the caller's frame becomes
 * the stack of events and exceptions taken in user mode.
 */
__attribute__((noreturn)) void user_enter(unsigned int id, uint64_t rip,
					  uint64_t rsp, uint64_t arg);

#endif
