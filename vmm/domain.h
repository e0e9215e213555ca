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
#include <sys/types.h>

#include <linux/kvm.h>

#include "consback.h"
#include "gnttab.h"
#include "loop.h"
#include "xenbus_back.h"
#include "xs_domain.h"
#include "xenstate.h"

#define VMM_MAX_VCPUS XEN_STATE_MAX_VCPUS

/*
 * Exit statuses of xenia-vmm.  A guest shutdown maps to 64 + the Xen
 * SHUTDOWN_* reason, except poweroff, which is a clean 0.
 */
#define VMM_EXIT_OK 0
#define VMM_EXIT_ERROR 1
#define VMM_EXIT_USAGE 2
/* SIGTERM/SIGINT: the toolstack destroyed the domain (xl destroy). */
#define VMM_EXIT_DESTROYED 3
/* A save (not a checkpoint) wrote the domain to a file: it lives there. */
#define VMM_EXIT_SAVED 4
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
 * registers and waits on `wake`.  The toolstack's pause is the domain's
 * `paused` flag, not a vCPU state: a paused domain's vCPUs keep their
 * states and run again on unpause.
 */
enum vcpu_state {
	VCPU_STOPPED, /* never initialised: no registers, no thread */
	VCPU_LOADING, /* VCPUOP_initialise is writing its registers */
	VCPU_DOWN,    /* initialised, not running */
	VCPU_RUNNING,
};

struct ctl;
struct domain;
struct save_job;

struct vcpu {
	struct domain *dom;
	unsigned int id;
	int fd;
	struct kvm_run *run;
	size_t run_size;
	/* The thread starts at the first VCPUOP_up and lives to shutdown. */
	pthread_t thread;
	pid_t tid;	     /* the thread's, for /proc; atomic */
	bool thread_started; /* set (atomically) once `thread` is valid */
	bool thread_alive;   /* under the domain's kick_lock */
	/* state, in_run and the waits on wake are under the domain's lock. */
	enum vcpu_state state;
	bool in_run; /* the thread is in (or about to enter) KVM_RUN */
	/*
	 * The thread sleeps outside KVM_RUN with KVM's view of the vCPU
	 * complete (no I/O half done, our register writes applied): its
	 * state may be read or written with vCPU ioctls.
	 */
	bool parked;
	bool restore_up; /* loaded as running: domain_state_resume() ups it */
	bool restart;	 /* its last hypercall is to be issued again */
	bool blocked;	 /* in SCHEDOP_block/poll (atomic; for info) */
	pthread_cond_t wake;
};

struct domain {
	/* Guest RAM: one memfd, mapped here, one KVM memslot at GPA 0. */
	int mem_fd;
	uint8_t *ram;
	uint64_t ram_size;
	/*
	 * The balloon: pages the guest holds now and the most it may hold
	 * (--maxmem).  Both under xen.lock; RAM pages at build.
	 */
	uint64_t max_pages;
	uint64_t cur_pages;
	/*
	 * Bit per gfn the guest gave back (balloon.h); NULL until the first.
	 * Set once and kept: read without a lock.
	 */
	uint64_t *balloon_released;
	/*
	 * Bit per gfn this process wrote into guest RAM behind KVM's back
	 * (hypercall results, backends through grants, the balloon), for a
	 * live migration's rounds (precopy.c); NULL until the first one.
	 * Set once and kept, like balloon_released; bits set atomically.
	 */
	uint64_t *vmm_dirty;

	int kvm_fd;
	int vm_fd;
	/* vCPUs enforce their CPUID on Hyper-V's MSRs (kvm.c). */
	bool kvm_hv_enforce;
	struct kvm_cpuid2 *cpuid;

	unsigned int nr_vcpus;
	struct vcpu vcpus[VMM_MAX_VCPUS];

	/* Boot: where the vCPU 0 starts (filled by the loader). */
	uint32_t entry;
	uint32_t start_info_gpa;

	/* Timers, XenStore, backends: one thread, see loop.h. */
	struct loop loop;

	/* The PV console's backend. */
	struct consback cons;

	/* The domain in XenStore, when run with --xenstore. */
	struct xs_domain xs;
	/* Its split-driver devices (backends in this process). */
	struct xenbus_back xenbus;
	/* The toolstack's control socket (--control), or NULL: ctl.h. */
	struct ctl *ctl;
	/* A save under way (the loop's), or NULL: migrate.h. */
	struct save_job *save;

	/* Event channels, HVM params, shared_info, time: see xenstate.h. */
	struct xen_state xen;
	/* Grant table v1: see gnttab.h. */
	struct gnttab gnttab;

	/* Shutdown: set once, under the lock; the first reason wins. */
	pthread_mutex_t lock;
	/* Toolstack pause (domain_pause), under the lock. */
	bool paused;
	/* A vCPU thread parked or ended, or the domain began shutting down. */
	pthread_cond_t parked_cond;
	/*
	 * Kicks signal a vCPU thread only while it lives: taken innermost,
	 * around pthread_kill and around a thread's start and end.
	 */
	pthread_mutex_t kick_lock;
	bool shutting_down;
	int exit_status;
	/* SCHEDOP_shutdown_code: the reason a later shutdown reports. */
	int shutdown_code; /* SHUTDOWN_*, or -1 when none is latched */
};

/* What a domain is built from (xenia-vmm's command line). */
struct domain_config {
	const char *kernel; /* NULL: no kernel, a restore fills RAM */
	const char *initrd;
	const char *cmdline;
	uint64_t memory_mib;
	unsigned int vcpus;
	uint16_t domid;
	enum consback_mode console;
	const char *console_log; /* NULL: none */
};

/* Zeroes d and sets every resource to its "none" sentinel. */
void domain_init(struct domain *d, uint16_t domid);
/*
 * RAM, the kernel (if any), the KVM VM and vCPUs, the Xen state.  0 or
 * -errno (logged); call domain_destroy() either way.
 */
int domain_build(struct domain *d, const struct domain_config *c)
	__attribute__((warn_unused_result));
/* Brings vCPU 0 up: the guest boots.  0 or -errno. */
int domain_start(struct domain *d) __attribute__((warn_unused_result));
/*
 * After a state load: the backends bind their ends again to the guest's
 * ports the image names (HVM params).  0 or -errno.
 */
int domain_backends_rebind(struct domain *d)
	__attribute__((warn_unused_result));
/* Waits for every vCPU thread to end; the exit status. */
int domain_wait(struct domain *d);
void domain_destroy(struct domain *d);

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
/* Whether vCPUs must leave SCHEDOP_block/poll: shutdown or pause. */
bool domain_is_interrupted(struct domain *d);

/*
 * Toolstack pause: every vCPU thread leaves KVM_RUN and parks (vcpu.c);
 * returns once all have, so their state can be saved.  vCPUs waiting in
 * SCHEDOP_block/poll leave the hypercall, to issue it again after the
 * pause (a continuation), and park.
 * Unpause lets them run on.  Not nested.
 */
void domain_pause(struct domain *d);
void domain_unpause(struct domain *d);
bool domain_is_paused(struct domain *d);

/*
 * The balloon ceiling: 0, -EINVAL below the pages the guest holds now,
 * -E2BIG above its RAM (ballooning up past --memory is not supported).
 */
int memory_set_max_pages(struct domain *d, uint64_t pages)
	__attribute__((warn_unused_result));

#endif
