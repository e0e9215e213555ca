/* SPDX-License-Identifier: MIT */
/*
 * vCPU threads and the vCPU state machine: one thread per vCPU, running
 * the explicit run loop (one switch over KVM exit reasons) while the vCPU
 * is up, sleeping while it is down, until the domain shuts down.  The
 * guest drives the machine with VCPUOP_initialise/up/down (vcpuop.c).
 */
#ifndef XENIA_VMM_VCPU_H
#define XENIA_VMM_VCPU_H

#include <stdbool.h>
#include <stdint.h>

#include "domain.h"

/* The signal that kicks a vCPU thread out of KVM_RUN. */
#define VCPU_KICK_SIGNAL SIGUSR1

/* Installs the (empty) handler of VCPU_KICK_SIGNAL; once per process. */
int vcpu_signals_init(void) __attribute__((warn_unused_result));

/* KVM vCPU `id` of d, STOPPED; vCPU 0 DOWN with its PVH entry state. */
int vcpu_create(struct domain *d, unsigned int id)
	__attribute__((warn_unused_result));

/*
 * VCPUOP_initialise in two steps around loading the registers:
 * vcpu_load_begin() claims a STOPPED vCPU (-EEXIST otherwise), and
 * vcpu_load_end() makes it DOWN if the registers went in, STOPPED if not.
 */
int vcpu_load_begin(struct vcpu *v) __attribute__((warn_unused_result));
void vcpu_load_end(struct vcpu *v, bool loaded);

/*
 * DOWN -> RUNNING, starting the thread the first time.  0 also when it
 * is up already; -EINVAL if never initialised; -errno if no thread.
 */
int vcpu_up(struct vcpu *v) __attribute__((warn_unused_result));
/*
 * RUNNING -> DOWN, from any vCPU's thread, v's own included (then v stops
 * when the hypercall returns).  Taking down the last vCPU up powers the
 * domain off, as on Xen.
 */
int vcpu_down(struct vcpu *v);
bool vcpu_is_up(struct vcpu *v);

/* Makes a vCPU leave KVM_RUN soon; from any thread (its own: no-op). */
void vcpu_kick(struct vcpu *v);

/* Wakes every vCPU sleeping while down.  Under the domain lock. */
void vcpu_wake_all(struct domain *d);

/* Waits for the domain to shut down, then joins every vCPU thread. */
void vcpu_join_all(struct domain *d);

/* VCPUOP_initialise, _up, _down and _is_up of vCPU `id` (vcpuop.c). */
long vcpuop_initialise(struct vcpu *v, unsigned int id, uint64_t arg);
long vcpuop_up(struct vcpu *v, unsigned int id);
long vcpuop_down(struct vcpu *v, unsigned int id);
long vcpuop_is_up(struct vcpu *v, unsigned int id);

#endif
