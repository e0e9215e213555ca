/* SPDX-License-Identifier: MIT */
/*
 * vCPU threads: one per vCPU, each running the explicit run loop (one
 * switch over KVM exit reasons) until the domain shuts down.
 */
#ifndef XENIA_VMM_VCPU_H
#define XENIA_VMM_VCPU_H

#include "domain.h"

/* The signal that kicks a vCPU thread out of KVM_RUN. */
#define VCPU_KICK_SIGNAL SIGUSR1

/* Installs the (empty) handler of VCPU_KICK_SIGNAL; once per process. */
int vcpu_signals_init(void) __attribute__((warn_unused_result));

int vcpu_start(struct vcpu *v) __attribute__((warn_unused_result));
void vcpu_join(struct vcpu *v);

/* Makes a vCPU leave KVM_RUN soon; from any thread. */
void vcpu_kick(struct vcpu *v);

#endif
