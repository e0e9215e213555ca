/*
 * test=hcbench: the hypercall benchmark (bench/hypercall/run.sh).
 *
 * Times, with the TSC, three kinds of round trip to the VMM:
 *
 *   xen_version  a cheap hypercall, XENVER_version through the page;
 *   raw          an inline `out` to port 0x80, which xenia-vmm answers
 *                with nothing: the floor of any exit to user space;
 *   stub         the same `out` from a stub shaped like a hypercall page
 *                entry (mov, out, ret), called through a copy of the
 *                hypercall wrapper: the floor plus the guest-side cost of
 *                a hypercall, so that the distance from stub to
 *                xen_version is the VMM's dispatch alone.  (Guest CPL0
 *                code is emulated here, so a dozen instructions show.)
 *
 * The kinds alternate in blocks so that the host's load drifts onto all of
 * them alike.  The guest prints cycles only; the bench script turns them
 * into rates with the TSC frequency it measures on the host (the guest's
 * TSC is the host's here, and CPUID 0x15/0x16 are absent on AMD).
 * Never in the default run: it prints figures, not checks, apart from one
 * check that the hypercall answered.
 */
#include <stdint.h>
#include "console.h"
#include "guest.h"
#include "hypercall.h"

#define HCBENCH_CALLS	20000
#define HCBENCH_BLOCK	1000
/* xenia-vmm ignores writes to the PC's POST port (vmm/vcpu.c). */
#define HCBENCH_NOOP_PORT 0x80

/* mov $0,%eax; out %eax,$0x80; ret: a hypercall stub that calls nothing. */
void hcbench_stub(void);
asm(".pushsection .text\n"
    ".globl hcbench_stub\n"
    "hcbench_stub:\n"
    "	movl $0, %eax\n"
    "	outl %eax, $0x80\n"
    "	ret\n"
    ".popsection\n");

static inline uint64_t rdtsc(void)
{
	uint32_t lo, hi;

	asm volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return ((uint64_t)hi << 32) | lo;
}

static uint64_t hcbench_hypercalls(unsigned int n, long *last)
{
	uint64_t t0 = rdtsc();
	unsigned int i;

	for (i = 0; i < n; i++)
		*last = hyp_xen_version(XENVER_version, 0);
	return rdtsc() - t0;
}

static uint64_t hcbench_raw(unsigned int n)
{
	uint64_t t0 = rdtsc();
	unsigned int i;

	for (i = 0; i < n; i++)
		asm volatile("outl %0, %1"
			     : : "a"(0), "Nd"((uint16_t)HCBENCH_NOOP_PORT));
	return rdtsc() - t0;
}

/* The hypercall wrapper with the entry swapped for our no-op stub. */
static inline long hcbench_call_stub(unsigned long a1, unsigned long a2)
{
	return hypercall_at(hypercall_ready ? (void *)hcbench_stub : 0, a1,
			    a2, 0, 0, 0);
}

static uint64_t hcbench_stubs(unsigned int n, long *last)
{
	uint64_t t0 = rdtsc();
	unsigned int i;

	for (i = 0; i < n; i++)
		*last = hcbench_call_stub(XENVER_version, 0);
	return rdtsc() - t0;
}

void scenario_hcbench(void)
{
	uint64_t hc = 0, raw = 0, stub = 0;
	long ver = 0, nop = 0;
	unsigned int done;

	/* Warm up: fault in the stub page and this code once. */
	(void)hcbench_hypercalls(100, &ver);
	(void)hcbench_raw(100);
	(void)hcbench_stubs(100, &nop);
	for (done = 0; done < HCBENCH_CALLS; done += HCBENCH_BLOCK) {
		hc += hcbench_hypercalls(HCBENCH_BLOCK, &ver);
		raw += hcbench_raw(HCBENCH_BLOCK);
		stub += hcbench_stubs(HCBENCH_BLOCK, &nop);
	}
	check(ver == (long)xen_cpuid_version,
	      "hcbench: xen_version answered 0x%lx", (unsigned long)ver);
	printf("hcbench: xen_version calls=%u cycles=%llu\n", HCBENCH_CALLS,
	       (unsigned long long)hc);
	printf("hcbench: raw calls=%u cycles=%llu\n", HCBENCH_CALLS,
	       (unsigned long long)raw);
	printf("hcbench: stub calls=%u cycles=%llu\n", HCBENCH_CALLS,
	       (unsigned long long)stub);
}
