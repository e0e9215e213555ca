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

#include "gnttab.h"
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

/* A domain run standalone is domain 1; xend passes --domid. */
#define VMM_DEFAULT_DOMID 1

/*
 * Where a vCPU is in its life (vcpu.c has the transitions):
 *
 *   STOPPED --initialise--> LOADING ----> DOWN <--up/down--> RUNNING
 *      ^                       |
 *      +-- registers refused --+
 *
 * vCPU 0 is DOWN once the loader has set its PVH entry state, and the VMM
 * brings it up.  Only RUNNING vCPUs enter KVM_RUN; a DOWN one keeps its
 * registers and waits on `wake`.  PAUSED is not entered yet: it is kept
 * for the toolstack's pause.
 */
enum vcpu_state {
	VCPU_STOPPED, /* never initialised: no registers, no thread */
	VCPU_LOADING, /* VCPUOP_initialise is writing its registers */
	VCPU_DOWN,    /* initialised, not running */
	VCPU_RUNNING,
	VCPU_PAUSED,
};

struct domain;

struct vcpu {
	struct domain *dom;
	unsigned int id;
	int fd;
	struct kvm_run *run;
	size_t run_size;
	/* The thread starts at the first VCPUOP_up and lives to shutdown. */
	pthread_t thread;
	bool thread_started; /* set (atomically) once `thread` is valid */
	/* state, in_run and the waits on wake are under the domain's lock. */
	enum vcpu_state state;
	bool in_run; /* the thread is in (or about to enter) KVM_RUN */
	pthread_cond_t wake;
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
	/* Grant table v1: see gnttab.h. */
	struct gnttab gnttab;

	/* Shutdown: set once, under the lock; the first reason wins. */
	pthread_mutex_t lock;
	bool shutting_down;
	int exit_status;
	/* SCHEDOP_shutdown_code: the reason a later shutdown reports. */
	int shutdown_code; /* SHUTDOWN_*, or -1 when none is latched */
};

/*
 * Stop the domain with `status` as the process exit status.  Safe from any
 * vCPU thread; later calls do not change the status.
 */
void domain_shutdown(struct domain *d, int status);

/*
 * The guest shuts down (SCHEDOP_shutdown, a crash) with Xen reason
 * SHUTDOWN_*; a code latched by SCHEDOP_shutdown_code takes precedence,
 * as on Xen.  Logs the reason and calls domain_shutdown().
 */
void domain_guest_shutdown(struct domain *d, unsigned int reason);
bool domain_is_shutting_down(struct domain *d);

#endif
