/* SPDX-License-Identifier: MIT */
/*
 * KVM's part of a domain's state (vCPU registers, LAPIC, MSRs, ...; the
 * in-kernel irqchip and clock) as state sections: CPU1 per vCPU, KVM1
 * once.  Save with the vCPUs out of KVM_RUN; load into a domain that has
 * its VM and vCPUs created but has not run.
 */
#ifndef XENIA_VMM_VCPU_STATE_H
#define XENIA_VMM_VCPU_STATE_H

#include "domain.h"
#include "state.h"

#define STATE_TAG_CPU STATE_TAG('C', 'P', 'U', '1')
#define STATE_TAG_KVM STATE_TAG('K', 'V', 'M', '1')

int vcpu_state_save(struct vcpu *v, struct buf *out)
	__attribute__((warn_unused_result));
int vcpu_state_load(struct domain *d, uint32_t version,
		    struct state_reader *payload)
	__attribute__((warn_unused_result));

int vm_state_save(struct domain *d, struct buf *out)
	__attribute__((warn_unused_result));
int vm_state_load(struct domain *d, uint32_t version,
		  struct state_reader *payload)
	__attribute__((warn_unused_result));

#endif
