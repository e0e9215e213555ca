/*
 * Event channels and time for the test guest: shared_info placed in our
 * own page, the HVM callback vector, the upcall handler (on any vCPU),
 * pvclock reads.
 */
#ifndef GUEST_EVENTS_H
#define GUEST_EVENTS_H

#include <stdint.h>
#include "hypercall.h"
#include "xen.h"

#define EVENTS_VECTOR		0xf3
/* Ports the handler counts one by one; higher ones go to events_other. */
#define EVENTS_COUNTED		256
/* vCPUs the handler knows; Xen's HVM limit for our purposes. */
#define EVENTS_MAX_VCPUS	64

extern struct shared_info *shinfo;
/* Per port: events taken (by any vCPU) and the vCPU that took the last. */
extern volatile unsigned int events_count[EVENTS_COUNTED];
extern volatile uint8_t events_last_vcpu[EVENTS_COUNTED];
extern volatile unsigned int events_other;
extern volatile unsigned int events_upcalls;

/* Places shared_info, sets the callback vector, enables the LAPIC. */
int events_init(void);

/*
 * On a secondary vCPU `id`, after events_init() on vCPU 0: enables its
 * LAPIC and moves its vcpu_info into a page of ours
 * (VCPUOP_register_vcpu_info).  0 or the hypercall's error.
 */
int events_ap_init(unsigned int id);

/*
 * With interrupts off: runs the upcall handler by hand if the calling
 * vCPU has one pending.  An AP needs this once its LAPIC is on: a vector
 * sent while the LAPIC was still software-disabled is dropped.
 */
void events_take_pending(void);

/* The calling vCPU's id: its LAPIC id, which the hypervisor makes equal. */
unsigned int events_cpu_id(void);

/* vCPU id's vcpu_info (its shared_info slot until it registers one). */
struct vcpu_info *events_vcpu_info(unsigned int id);

/*
 * The vCPU whose upcall handles `port` (0 unless told otherwise): tell it
 * the vCPU a port is bound to (bind_virq/bind_ipi/bind_vcpu), as Linux
 * keeps a per-CPU port mask.  Other vCPUs leave the port's bit alone.
 */
void events_set_port_vcpu(unsigned int port, unsigned int vcpu);

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

/*
 * After interrupts are enabled: spins (bounded) until the calling vCPU
 * has taken its pending upcall.  The emulator checks for interrupts
 * between instruction batches, not right after sti.
 */
void events_settle(void);

static inline long ev_send(evtchn_port_t port)
{
	struct evtchn_send s = { .port = port };

	return hyp_event_channel_op(EVTCHNOP_send, &s);
}

static inline long ev_close(evtchn_port_t port)
{
	struct evtchn_close c = { .port = port };

	return hyp_event_channel_op(EVTCHNOP_close, &c);
}

static inline void irq_enable(void)
{
	asm volatile("sti" ::: "memory");
}

static inline void irq_disable(void)
{
	asm volatile("cli" ::: "memory");
}

#endif
