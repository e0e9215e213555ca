/*
 * The dirtying workload (dirty.h), running at CPL3 on DIRTY_VCPU.
 *
 * Iteration c (1, 2, ...) writes page c % npages of the region.  That
 * page last got stamp c - npages; before writing, the workload checks
 * that its first, middle and last words still hold that stamp, then
 * writes c into them.  A page whose write a migration's dirty tracking
 * missed comes back older on the other side and counts as an error.
 * The first pass checks nothing: RAM need not be zero (a reboot), and
 * a page never written has no stamp to expect.
 *
 * Every DIRTY_BATCH pages (fewer when throttled) it reads the clock:
 * system time from DIRTY_VCPU's vcpu_time_info, the wallclock from
 * shared_info.  System time does not count a pause of the domain (a
 * save, a migration) but the wallclock, set anew when the domain comes
 * back, does: the longest step of the wallclock between two reads is
 * the longest time the workload was stopped.  With a rate, iteration c
 * waits until rate * (system time since the start) reaches c.
 *
 * Only .user is reachable from here: no calls out, no library.
 */
#include "dirty.h"
#include "pvclock.h"
#include "user.h"

#define NS_PER_SEC	1000000000ull
#define NS_PER_MS	1000000ull
#define NS_PER_US	1000ull
#define PAGE_WORDS	512
#define DIRTY_BATCH	64

/* Stamps go in the first, a middle and the last word of each page. */
static const unsigned int dirty_words[] USER_DATA = {
	0, PAGE_WORDS / 2, PAGE_WORDS - 1,
};

#define STORE(field, v) __atomic_store_n(&(field), (v), __ATOMIC_RELEASE)

/* The wallclock (ns since the epoch) at system time sys. */
USER_TEXT static uint64_t du_wall_ns(const volatile struct shared_info *s,
				     uint64_t sys)
{
	uint32_t version, nsec;
	uint64_t sec;

	do {
		version = s->wc_version;
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		sec = (uint64_t)s->wc_sec_hi << 32 | s->wc_sec;
		nsec = s->wc_nsec;
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
	} while ((version & 1) || version != s->wc_version);
	return sec * NS_PER_SEC + nsec + sys;
}

USER_TEXT static void du_error(struct dirty_state *s, uint64_t page,
			       uint64_t expected, uint64_t found)
{
	if (!s->errors) {
		STORE(s->bad_page, page);
		STORE(s->bad_expected, expected);
		STORE(s->bad_found, found);
	}
	STORE(s->errors, s->errors + 1);
}

/* Iteration c on page `page` at p. */
USER_TEXT static void du_page(struct dirty_state *s, volatile uint64_t *p,
			      uint64_t page, uint64_t c)
{
	uint64_t want = c - s->npages;
	unsigned int i;

	for (i = 0; c > s->npages && i < 3; i++) {
		if (p[dirty_words[i]] != want) {
			du_error(s, page, want, p[dirty_words[i]]);
			break;
		}
	}
	for (i = 0; i < 3; i++)
		p[dirty_words[i]] = c;
}

/* How many pages the throttle lets us do now (at most DIRTY_BATCH). */
USER_TEXT static uint64_t du_allowed(const struct dirty_state *s, uint64_t c,
				     uint64_t elapsed)
{
	uint64_t may;

	if (!s->rate)
		return DIRTY_BATCH;
	/* rate * elapsed / 1e9, in two parts so that it cannot overflow. */
	may = elapsed / NS_PER_SEC * s->rate +
	      elapsed % NS_PER_SEC * s->rate / NS_PER_SEC;
	if (may <= c)
		return 0;
	return may - c < DIRTY_BATCH ? may - c : DIRTY_BATCH;
}

USER_TEXT void dirty_user_main(struct dirty_state *s)
{
	volatile uint64_t *region = (volatile uint64_t *)(uintptr_t)s->base;
	uint64_t c = 0, page = 0, n, sys, wall, t0, last_wall, gap;
	uint64_t win_t, win_c = 0;

	STORE(s->started, 1);
	t0 = win_t = pvclock_ns(s->time);
	last_wall = du_wall_ns(s->shinfo, t0);
	for (;;) {
		sys = pvclock_ns(s->time);
		wall = du_wall_ns(s->shinfo, sys);
		gap = wall > last_wall ? (wall - last_wall) / NS_PER_US : 0;
		if (gap > s->maxgap_us)
			STORE(s->maxgap_us, gap);
		last_wall = wall;
		if (sys - win_t >= NS_PER_SEC) {
			STORE(s->rate_now,
			      (c - win_c) * 1000 / ((sys - win_t) / NS_PER_MS));
			win_t = sys;
			win_c = c;
		}
		n = du_allowed(s, c, sys - t0);
		if (!n)
			asm volatile("pause");
		for (; n; n--) {
			c++;
			if (++page == s->npages)
				page = 0;
			du_page(s, region + page * PAGE_WORDS, page, c);
		}
		STORE(s->count, c);
	}
}
