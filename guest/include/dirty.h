/*
 * dirty=MIB [dirty_rate=PAGES_PER_SECOND], with test=idle: a workload
 * that keeps dirtying guest RAM, in user mode on vCPU 1, for live
 * migration tests and benchmarks.  dirty.c is vCPU 0's side (placing the
 * region, starting the workload, printing its counters once a second);
 * dirty_user.c is the workload itself.
 */
#ifndef GUEST_DIRTY_H
#define GUEST_DIRTY_H

#include <stdint.h>
#include "xen.h"

#define DIRTY_MAX_MIB	1024
/* The AP that runs the workload. */
#define DIRTY_VCPU	1

/*
 * What the two sides share, in the .user section.  vCPU 0 writes the
 * parameters before the start and reads the rest; user mode writes the
 * rest, each field with one aligned store (so vCPU 0 never reads half a
 * value), the first error's details before `errors`.
 */
struct dirty_state {
	/* Parameters. */
	uint64_t base;		/* the region: guest-physical == virtual */
	uint64_t npages;
	uint64_t rate;		/* pages per second; 0: as fast as it can */
	const struct vcpu_time_info *time; /* DIRTY_VCPU's */
	const struct shared_info *shinfo;  /* the wallclock */
	/* Results. */
	uint64_t started;	/* 1 once user mode runs */
	uint64_t count;		/* the last iteration done */
	uint64_t errors;	/* stamps that were not what we wrote */
	uint64_t bad_page, bad_expected, bad_found; /* the first one */
	uint64_t maxgap_us;	/* the longest wallclock gap between reads */
	uint64_t rate_now;	/* pages/s over user mode's last second */
};

/* The workload, entered at CPL3 with rdi = the shared state. */
__attribute__((noreturn)) void dirty_user_main(struct dirty_state *s);

/*
 * Reads dirty= and dirty_rate= and takes the region out of the balloon's
 * RAM (before balloon_init()): 0 if there is no dirty=, 1 if there is,
 * -XEN_EINVAL or -XEN_ENOSPC after a FAIL check.
 */
int dirty_setup(void);

/*
 * On vCPU 0, once DIRTY_VCPU is online: maps what user mode needs and
 * sends that AP into the workload.  0, or a negative errno after a FAIL
 * check.
 */
int dirty_start(void);

/*
 * On vCPU 0 between its waits: prints the counters line when a second
 * has passed since the last one (and the first error, once).  The time
 * until the next line is due, in ns.
 */
uint64_t dirty_report(void);

#endif
