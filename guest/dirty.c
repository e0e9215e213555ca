/*
 * vCPU 0's side of the dirtying workload (dirty.h).
 *
 * The region: MIB MiB at the first 2 MiB boundary above our image, so
 * that user_map() gives it to user mode as whole 2 MiB pages, taken out
 * of the balloon's RAM (balloon_reserve()) before the balloon starts.
 * It must lie below 3 GiB, where head.S maps RAM write-back.
 *
 * The workload runs on DIRTY_VCPU at CPL3 (user.h) and reaches only
 * .user, the region, and the pages holding its clock: shared_info and
 * its own vcpu_info.  Those two stay writable, at CPL3 too: the kernel
 * and the hypervisor write them, and the RW bit would bind the kernel as
 * well were CR0.WP ever set.  The workload only reads them.
 *
 * vCPU 0 runs in the emulator: it reads the shared counters and prints
 * one line a second, nothing more.
 */
#include "balloon.h"
#include "console.h"
#include "dirty.h"
#include "events.h"
#include "guest.h"
#include "lib.h"
#include "smp.h"
#include "user.h"

#define SECOND		1000000000ull
#define MS		1000000ull
#define PAGE_SIZE	4096ul
#define PAGE_2M		0x200000ul
#define MIB_SHIFT	20
/* head.S maps the top GiB of the low 4 uncached: MMIO lives there. */
#define DIRTY_LIMIT	0xc0000000ull
/* More than any vCPU can do; keeps du_allowed()'s product in 64 bits. */
#define DIRTY_MAX_RATE	1000000000ull

static struct dirty_state dirty_state USER_DATA;
static uint8_t dirty_stack[4096] USER_DATA __attribute__((aligned(16)));

/* vCPU 0's bookkeeping. */
static struct {
	uint64_t mib;
	uint64_t next_ns;	/* when the next line is due */
	uint64_t last_ns, last_count;
	int told;		/* the first error is printed */
} dirty;

#define LOAD(field) __atomic_load_n(&(field), __ATOMIC_ACQUIRE)

/* Where the region goes, taken from the balloon. */
static int dirty_place(uint64_t mib)
{
	uint64_t low, top, base, end;
	int rc = balloon_free_ram(&low, &top);

	if (rc) {
		check(0, "dirty: no free RAM for the region rc=%d", rc);
		return rc;
	}
	base = ((low * PAGE_SIZE) + PAGE_2M - 1) & ~(PAGE_2M - 1);
	end = base + (mib << MIB_SHIFT);
	if (end > top * PAGE_SIZE || end > DIRTY_LIMIT) {
		check(0, "dirty: %lu MiB do not fit in RAM 0x%lx-0x%lx", mib,
		      low * PAGE_SIZE, top * PAGE_SIZE);
		return -XEN_ENOSPC;
	}
	balloon_reserve(end);
	dirty_state.base = base;
	dirty_state.npages = (mib << MIB_SHIFT) / PAGE_SIZE;
	return 0;
}

int dirty_setup(void)
{
	uint64_t mib = 0, rate = 0;
	int rc = guest_cmdline_uint("dirty", &mib);

	memset(&dirty, 0, sizeof(dirty));
	if (rc == 0)
		return 0;
	if (rc < 0 || mib < 1 || mib > DIRTY_MAX_MIB) {
		check(0, "dirty: dirty= takes 1..%u MiB", DIRTY_MAX_MIB);
		return -XEN_EINVAL;
	}
	rc = guest_cmdline_uint("dirty_rate", &rate);
	if (rc < 0 || rate > DIRTY_MAX_RATE) {
		check(0, "dirty: dirty_rate= takes 0..%llu pages/s",
		      DIRTY_MAX_RATE);
		return -XEN_EINVAL;
	}
	rc = dirty_place(mib);
	if (rc)
		return rc;
	dirty.mib = mib;
	dirty_state.rate = rate;
	return 1;
}

/* What user mode reaches: its code and data, its clock, the region. */
static int dirty_map(const struct vcpu_info *vi)
{
	int rc;

	rc = user_map((uintptr_t)_user_start, _user_end - _user_start);
	if (rc == 0)
		rc = user_map((uintptr_t)shinfo, sizeof(*shinfo));
	if (rc == 0)
		rc = user_map((uintptr_t)&vi->time, sizeof(vi->time));
	if (rc == 0)
		rc = user_map(dirty_state.base, dirty_state.npages * PAGE_SIZE);
	return rc;
}

static int dirty_started(unsigned int unused)
{
	(void)unused;
	return LOAD(dirty_state.started) != 0;
}

int dirty_start(void)
{
	const struct vcpu_info *vi = events_vcpu_info(DIRTY_VCPU);
	struct dirty_state *s = &dirty_state;
	int rc;

	if (!vi || !shinfo) {
		check(0, "dirty: no vcpu_info for vCPU %u", DIRTY_VCPU);
		return -XEN_ENOENT;
	}
	/* Every result starts from nothing, whatever RAM held. */
	s->time = &vi->time;
	s->shinfo = shinfo;
	s->started = s->count = s->errors = 0;
	s->bad_page = s->bad_expected = s->bad_found = 0;
	s->maxgap_us = s->rate_now = 0;
	rc = dirty_map(vi);
	if (rc) {
		check(0, "dirty: mapping for user mode rc=%d", rc);
		return rc;
	}
	smp_command_user(DIRTY_VCPU, (uintptr_t)dirty_user_main,
			 (uintptr_t)dirty_stack + sizeof(dirty_stack),
			 (uintptr_t)s);
	if (!smp_wait(dirty_started, 0, 10 * SECOND)) {
		check(0, "dirty: vCPU %u did not enter user mode", DIRTY_VCPU);
		return -XEN_ETIMEDOUT;
	}
	printf("dirty: running %lu MiB on vCPU %u\n", dirty.mib, DIRTY_VCPU);
	dirty.last_ns = events_time_ns();
	dirty.next_ns = dirty.last_ns + SECOND;
	return 0;
}

/* Pages per second since the last line. */
static uint64_t dirty_rate(uint64_t now, uint64_t count)
{
	uint64_t ms = (now - dirty.last_ns) / MS;

	return ms ? (count - dirty.last_count) * 1000 / ms : 0;
}

uint64_t dirty_report(void)
{
	struct dirty_state *s = &dirty_state;
	uint64_t now = events_time_ns(), count, errors;

	if (now < dirty.next_ns)
		return dirty.next_ns - now;
	/* One line a second; after a long stop, start again from now. */
	dirty.next_ns += SECOND;
	if (dirty.next_ns <= now)
		dirty.next_ns = now + SECOND;
	count = LOAD(s->count);
	errors = LOAD(s->errors);
	printf("dirty: count=%lu errors=%lu maxgap_us=%lu rate=%lu\n", count,
	       errors, LOAD(s->maxgap_us), dirty_rate(now, count));
	if (errors && !dirty.told) {
		printf("FAIL dirty: page %lu stamp %lu expected %lu\n",
		       LOAD(s->bad_page), LOAD(s->bad_found),
		       LOAD(s->bad_expected));
		dirty.told = 1;
	}
	dirty.last_ns = now;
	dirty.last_count = count;
	return dirty.next_ns - now;
}
