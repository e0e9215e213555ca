/* SPDX-License-Identifier: MIT */
/*
 * A domain as xenia-vmm holds it: guest RAM, the KVM VM, its vCPUs and the
 * shutdown state.  Everything a domain owns is reachable from here so it can
 * be serialised later (save/restore, migration).
 */
#ifndef XENIA_VMM_DOMAIN_H
#define XENIA_VMM_DOMAIN_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <linux/kvm.h>

#include "xenstate.h"

#define VMM_MAX_VCPUS XEN_STATE_MAX_VCPUS

/*
 * Exit statuses of xenia-vmm.  A guest shutdown maps to 64 + the Xen
 * SHUTDOWN_* reason, except poweroff, which is a clean 0.
 */
#define VMM_EXIT_OK 0
#define VMM_EXIT_ERROR 1
#define VMM_EXIT_USAGE 2
#define VMM_EXIT_SHUTDOWN_BASE 64

enum vcpu_state { VCPU_STOPPED, VCPU_RUNNING, VCPU_PAUSED };

struct domain;

struct vcpu {
	struct domain *dom;
	unsigned int id;
	int fd;
	struct kvm_run *run;
	size_t run_size;
	pthread_t thread;
	bool thread_started;
	enum vcpu_state state;
};

struct domain {
	/* Guest RAM: one memfd, mapped here, one KVM memslot at GPA 0. */
	int mem_fd;
	uint8_t *ram;
	uint64_t ram_size;

	int kvm_fd;
	int vm_fd;
	struct kvm_cpuid2 *cpuid;

	unsigned int nr_vcpus;
	struct vcpu vcpus[VMM_MAX_VCPUS];

	/* Boot: where the vCPU 0 starts (filled by the loader). */
	uint32_t entry;
	uint32_t start_info_gpa;

	/* Event channels, HVM params, shared_info, time: see xenstate.h. */
	struct xen_state xen;

	/* Shutdown: set once, under the lock; the first reason wins. */
	pthread_mutex_t lock;
	bool shutting_down;
	int exit_status;
};

/*
 * Stop the domain with `status` as the process exit status.  Safe from any
 * vCPU thread; later calls do not change the status.
 */
void domain_shutdown(struct domain *d, int status);
bool domain_is_shutting_down(struct domain *d);

#endif
