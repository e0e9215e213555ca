/*
 * Reading Xen's pvclock (vcpu_time_info), as kernel and user code both
 * do: inline, so that it lands in whichever section its caller's code
 * is in (user-mode code may only run its own pages).
 */
#ifndef GUEST_PVCLOCK_H
#define GUEST_PVCLOCK_H

#include <stdint.h>

#include "xen.h"

static inline __attribute__((always_inline)) uint64_t pvclock_rdtsc(void)
{
	uint32_t lo, hi;

	asm volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return (uint64_t)hi << 32 | lo;
}

/* System time in ns: retried while the hypervisor writes (odd or moved). */
static inline __attribute__((always_inline)) uint64_t
pvclock_ns(const volatile struct vcpu_time_info *t)
{
	uint32_t version, mul;
	uint64_t delta, base;
	int8_t shift;

	do {
		version = t->version;
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		delta = pvclock_rdtsc() - t->tsc_timestamp;
		base = t->system_time;
		mul = t->tsc_to_system_mul;
		shift = t->tsc_shift;
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
	} while ((version & 1) || version != t->version);
	if (shift >= 0)
		delta <<= shift;
	else
		delta >>= -shift;
	return base + (uint64_t)(((unsigned __int128)delta * mul) >> 32);
}

#endif
