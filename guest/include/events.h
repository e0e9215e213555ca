/*
 * Event channels and time for the test guest: shared_info placed in our
 * own page, the HVM callback vector, the upcall handler, pvclock reads.
 */
#ifndef GUEST_EVENTS_H
#define GUEST_EVENTS_H

#include <stdint.h>
#include "xen.h"

#define EVENTS_VECTOR		0xf3
/* Ports the handler counts one by one; higher ones go to events_other. */
#define EVENTS_COUNTED		64

extern struct shared_info *shinfo;
extern volatile unsigned int events_count[EVENTS_COUNTED];
extern volatile unsigned int events_other;
extern volatile unsigned int events_upcalls;

/* Places shared_info, sets the callback vector, enables the LAPIC. */
int events_init(void);

/* Guest system time (ns) from vCPU 0's vcpu_time_info. */
uint64_t events_time_ns(void);

/* Spins (bounded) until events_count[port] reaches n; 1 if it did. */
int events_wait_count(unsigned int port, unsigned int n);

/*
 * Sleeps in SCHEDOP_block until an upcall arrives (interrupts off around
 * the check, so none is lost), then takes it.  At most `tries` blocks.
 */
void events_block_until(unsigned int port, unsigned int n,
			unsigned int tries);

static inline void irq_enable(void)
{
	asm volatile("sti" ::: "memory");
}

static inline void irq_disable(void)
{
	asm volatile("cli" ::: "memory");
}

#endif
