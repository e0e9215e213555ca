/*
 * Secondary vCPUs of the test guest: discovery, bring-up through
 * VCPUOP_initialise/VCPUOP_up, and a small mailbox that vCPU 0 uses to
 * make an AP act.  Shared with head.S (stack sizes, entry points).
 */
#ifndef GUEST_SMP_H
#define GUEST_SMP_H

/* As many as the hypervisor's vCPU limit; AP stacks live in .noinit. */
#define SMP_MAX_VCPUS		64
#define SMP_STACK_SIZE		8192

#ifndef __ASSEMBLER__

#include <stdint.h>
#include "xen.h"
#include <xen/hvm/hvm_vcpu.h>

/* What an AP does when vCPU 0 bumps its cmd_seq. */
enum smp_cmd {
	SMP_CMD_NONE,
	/* VIRQ_TIMER on itself, a single-shot timer 2 ms out, wait for it. */
	SMP_CMD_TIMER,
	/* VCPUOP_down on itself; the result once somebody brings it up. */
	SMP_CMD_DOWN_SELF,
	/*
	 * user_enter() at rip arg[0], stack arg[1], rdi arg[2]: it never
	 * comes back, answers no more commands and no pings.
	 */
	SMP_CMD_USER,
};

/*
 * One AP as vCPU 0 sees it.  Every field is read and written with
 * __atomic_*: the AP writes all but cmd/cmd_seq, and bumps done_seq last.
 */
struct smp_ap {
	uint32_t online;	/* 1 once its loop runs */
	int32_t init_rc;	/* vcpu_info registration, IPI binding */
	uint32_t apic_id;	/* as the AP reads it */
	uint32_t ipi_port;	/* its own IPI port (bound to it) */
	uint32_t pings;		/* events on ipi_port it has answered */
	uint32_t cmd;		/* enum smp_cmd, written before cmd_seq */
	uint64_t arg[3];	/* its arguments, written before cmd_seq */
	uint32_t cmd_seq;
	uint32_t done_seq;
	int64_t result;		/* of the last command */
	uint64_t value[3];	/* command-specific results */
};

extern struct smp_ap smp_aps[SMP_MAX_VCPUS];
/* vCPU 0's IPI port: every AP sends on it when it has news. */
extern uint32_t smp_doorbell;

/* Entry points in head.S for VCPUOP_initialise's rip/eip. */
extern char ap_start32[], ap_start64[];

/*
 * Counts the domain's vCPUs the way a PV kernel may: VCPUOP_is_up on
 * 0, 1, ... until -ENOENT.  At most SMP_MAX_VCPUS.
 */
unsigned int smp_count_vcpus(void);

/* Binds vCPU 0's doorbell (IPI port); 0 or the hypercall's error. */
int smp_init(void);

/*
 * A context that starts AP id at its C entry with our page tables, GDT
 * and IDT and its own stack: 64-bit mode, or 32-bit mode with paging off
 * (then head.S switches to long mode as at boot).
 */
void smp_context_64(struct vcpu_hvm_context *c, unsigned int id);
void smp_context_32(struct vcpu_hvm_context *c, unsigned int id);

/* C entry of an AP, from head.S; never returns. */
void smp_ap_main(unsigned int id) __attribute__((noreturn));

/* Asks AP id to run cmd; smp_wait_done() waits for the result. */
void smp_command(unsigned int id, enum smp_cmd cmd);
/* SMP_CMD_USER for AP id: from now on it runs rip(arg) at CPL3. */
void smp_command_user(unsigned int id, uint64_t rip, uint64_t rsp,
		      uint64_t arg);
int smp_wait_done(unsigned int id);

/*
 * On vCPU 0: sleeps (SCHEDOP_poll on the doorbell, interrupts off around
 * the check) until done(arg) or timeout_ns pass; 1 if done.
 */
int smp_wait(int (*done)(unsigned int), unsigned int arg,
	     uint64_t timeout_ns);

#endif /* __ASSEMBLER__ */

#endif
