/* SPDX-License-Identifier: MIT */
/*
 * The Xen state of a domain, kept in one place so that save/restore and
 * migration can serialise it: event channels (2-level), HVM params, where
 * shared_info and each vcpu_info live in guest RAM, the time base and the
 * single-shot timers.
 *
 * Locking: xen_state.lock protects everything here and every write the
 * hypervisor makes to shared_info/vcpu_info.  The guest writes the same
 * words concurrently, so bits in guest memory change with atomic ops only.
 * xen_state.wake is broadcast whenever an event is set pending: blocked and
 * polling vCPUs wait on it.
 */
#ifndef XENIA_VMM_XENSTATE_H
#define XENIA_VMM_XENSTATE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "buf.h"
#include "loop.h"
#include "state.h"
#include "xen.h"

#define XEN_STATE_MAX_VCPUS 64
/* Ports 1..EVTCHN_MAX-1; port 0 is reserved, as in Xen. */
#define EVTCHN_MAX 1024

enum evtchn_state {
	EVTCHN_FREE,
	EVTCHN_RESERVED,
	EVTCHN_UNBOUND,
	EVTCHN_INTERDOMAIN,
	EVTCHN_VIRQ,
	EVTCHN_IPI,
};

struct evtchn {
	uint8_t state; /* enum evtchn_state */
	uint16_t notify_vcpu;
	uint16_t remote_domid; /* UNBOUND, INTERDOMAIN */
	uint32_t remote_port;  /* INTERDOMAIN (our own domain only) */
	uint32_t virq;	       /* VIRQ */
};

struct xen_vcpu_state {
	/* Where vcpu_info lives: a registered GPA, or shared_info's slot. */
	uint64_t vcpu_info_gpa; /* VCPU_INFO_NONE if not registered */
	uint32_t virq_port[NR_VIRQS];
	/* Single-shot timer: absolute system time in ns, 0 if off. */
	uint64_t timer_deadline;
	/* Periodic timer: period in ns (0 if off) and the next tick. */
	uint64_t periodic_period;
	uint64_t periodic_next;
	int timer_fd;	 /* host resources, not serialised */
	int periodic_fd;
	struct loop_source timer_src, periodic_src;
};

/*
 * Domain 0's ends of interdomain channels: the backends in this process.
 * Slot i is dom0 port i + 1.  A slot stays the backend's until it
 * unbinds, even when the guest closes its end (guest_port 0 then), so a
 * stale dom0 port never reaches another binding.
 */
#define EVTCHN_BACKENDS 32
struct evtchn_backend {
	bool in_use;
	uint32_t guest_port;
	int kick_fd; /* eventfd written when the guest sends */
};

/* Periods VCPUOP_set_periodic_timer accepts (Xen's bounds). */
#define VCPU_PERIOD_MIN_NS 1000000ull
#define VCPU_PERIOD_MAX_NS (1ull << 62)

#define VCPU_INFO_NONE UINT64_MAX
/* A registered vcpu_info's alignment (its words change atomically). */
#define VCPU_INFO_ALIGN 8u
#define SHARED_INFO_NONE UINT64_MAX

struct xen_state {
	pthread_mutex_t lock;
	pthread_cond_t wake;
	uint16_t domid;

	/* shared_info: guest frame, or SHARED_INFO_NONE (a private page). */
	uint64_t shared_info_gfn;
	struct shared_info *shinfo; /* host view: guest RAM or private */
	struct shared_info *shinfo_private;
	/* vcpu_info of vCPUs past shared_info's slots, until registered. */
	struct vcpu_info scratch_vcpu_info;

	uint64_t hvm_params[HVM_NR_PARAMS];
	uint8_t callback_vector; /* 0: no upcall vector set */

	struct evtchn evtchn[EVTCHN_MAX];
	struct evtchn_backend backend[EVTCHN_BACKENDS]; /* host state */
	struct xen_vcpu_state vcpu[XEN_STATE_MAX_VCPUS];

	/* Time base: system time 0 is tsc0 (host TSC == guest TSC here). */
	uint64_t tsc0;
	uint64_t mono0_ns; /* CLOCK_MONOTONIC at tsc0 */
	uint64_t wall0_ns; /* CLOCK_REALTIME at tsc0 */
	uint32_t tsc_khz;
	uint32_t tsc_mul;
	int8_t tsc_shift;

	bool initialised; /* the timer fds are valid (-1 or open) */
};

struct domain;
struct vcpu;

/* Set up / tear down the Xen state of a domain (after its vCPUs exist). */
int xen_state_init(struct domain *d) __attribute__((warn_unused_result));
void xen_state_destroy(struct domain *d);

/*
 * Serialisation (docs/vmm-state.md): save appends the XEN1, EVT1 and XVC1
 * sections to out (host fds are left out); load finds them in a whole
 * image, checks them, and replaces the domain's Xen state.  0, -ENOMEM,
 * or -EINVAL (logged) for a bad image, which changes nothing.
 */
#define STATE_TAG_XEN STATE_TAG('X', 'E', 'N', '1')
#define STATE_TAG_EVT STATE_TAG('E', 'V', 'T', '1')
#define STATE_TAG_XVC STATE_TAG('X', 'V', 'C', '1')

int xen_state_save(struct domain *d, struct buf *out)
	__attribute__((warn_unused_result));
int xen_state_load(struct domain *d, struct state_reader image)
	__attribute__((warn_unused_result));

/* Wakes every vCPU blocked in SCHEDOP_block/poll (shutdown). */
void xen_state_wake_all(struct domain *d);

/* Host view of vCPU id's vcpu_info; never NULL.  Under the lock. */
struct vcpu_info *xen_vcpu_info(struct domain *d, unsigned int id);

/* Moves shared_info to guest frame gfn.  Under the lock; 0 or -errno. */
int xen_map_shared_info(struct domain *d, uint64_t gfn);

/*
 * Events (evtchn.c).  evtchn_set_pending: marks `port` pending and, if it
 * is unmasked, raises the upcall on its vCPU.  Under the lock.
 */
void evtchn_set_pending(struct domain *d, uint32_t port);
/*
 * Injects the upcall again if vCPU id's vcpu_info says one is pending:
 * after a restore (the LAPIC and RAM may have been saved at different
 * moments) and when vcpu_info moves, as Xen does.  Under the lock.
 */
void evtchn_upcall_resend(struct domain *d, unsigned int id);
/*
 * Xen's split of VIRQs: per-vCPU ones (timer, debug, ...) are bound on
 * the vCPU they serve; global ones are bound on vCPU 0 and recorded
 * there whatever vCPU bind_vcpu sends them to.  virq_vcpu: the vCPU whose
 * virq_port[] records channel ch.
 */
bool evtchn_virq_is_global(uint32_t virq);
unsigned int evtchn_virq_vcpu(const struct evtchn *ch);
/*
 * Backends (dom0's ends).  alloc_for_backend: a guest port unbound to
 * domain 0, as the toolstack makes for the XenStore and console rings;
 * the port or -errno.  backend_bind: binds dom0's end to the guest's
 * unbound port; the guest's sends then write kick_fd; returns the dom0
 * port (> 0) or -EINVAL (not a port unbound to dom0), -EBUSY (no slot).
 * backend_notify: sets the guest's port pending.  backend_unbind: the
 * guest's port is unbound again.  All take the lock.
 */
int evtchn_alloc_for_backend(struct domain *d);
int evtchn_backend_bind(struct domain *d, uint32_t guest_port, int kick_fd);
void evtchn_backend_notify(struct domain *d, uint32_t dport);
void evtchn_backend_unbind(struct domain *d, uint32_t dport);

/* Whether port is pending in shared_info.  Under the lock. */
bool evtchn_port_pending(struct domain *d, uint32_t port);

/*
 * Event-channel table serialisation.  save: appends EVT1, under the lock.
 * stage: parses a payload into table[EVTCHN_MAX], checking each entry.
 * check: the staged table's loopback pairs agree (saved_domid is the
 * domain id the image was saved under).  apply: installs it, under the
 * lock, rewriting saved_domid to this domain's id.
 */
int evtchn_save(struct domain *d, struct buf *out)
	__attribute__((warn_unused_result));
int evtchn_stage_table(struct domain *d, struct evtchn *table,
		       uint32_t version, struct state_reader *payload)
	__attribute__((warn_unused_result));
int evtchn_check_table(const struct evtchn *table, uint16_t saved_domid)
	__attribute__((warn_unused_result));
void evtchn_apply_table(struct domain *d, const struct evtchn *table,
			uint16_t saved_domid);

/* Time (time.c). */
int time_init(struct domain *d) __attribute__((warn_unused_result));
void time_destroy(struct domain *d);
/*
 * The CLOCK_MONOTONIC instant of guest system time system_ns, clamped to
 * what the clock can express (a guest may name any 64-bit time).
 */
struct timespec time_mono_at(const struct domain *d, uint64_t system_ns);
/* Current system time in ns (the guest's clock). */
uint64_t time_now_ns(struct domain *d);
/* Writes vcpu_time_info of vCPU id and the wallclock.  Under the lock. */
void time_update_vcpu(struct domain *d, unsigned int id);
/* Arms (deadline ns, 0 = stop) the single-shot timer of vCPU id. */
int time_set_timer(struct domain *d, unsigned int id, uint64_t deadline)
    __attribute__((warn_unused_result));
/*
 * Starts (period ns, first tick one period from now) or stops (0) the
 * periodic timer of vCPU id.
 */
int time_set_periodic(struct domain *d, unsigned int id, uint64_t period)
    __attribute__((warn_unused_result));
/*
 * After a load: the guest's clock continues from system_ns (the time of
 * the save), the wallclock is today's, and the loaded timers are armed.
 */
void time_restore(struct domain *d, uint64_t system_ns);
/*
 * Timers do not fire while the domain is paused; on unpause this arms
 * them again (those past their deadline fire at once).
 */
void time_unpause(struct domain *d);

#endif
