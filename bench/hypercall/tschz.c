/* SPDX-License-Identifier: MIT */
/*
 * tschz: prints the TSC frequency in Hz, measured against CLOCK_MONOTONIC
 * over about 200 ms (the median of 5 windows of 40 ms).  The test guest
 * reads the host's TSC here, so this turns its cycle counts into time.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <x86intrin.h>

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

int main(void)
{
	double hz[5], t0, t1;
	unsigned long long c0, c1;
	int i;

	for (i = 0; i < 5; i++) {
		t0 = now_s();
		c0 = __rdtsc();
		do
			t1 = now_s();
		while (t1 - t0 < 0.04);
		c1 = __rdtsc();
		hz[i] = (double)(c1 - c0) / (t1 - t0);
	}
	qsort(hz, 5, sizeof(hz[0]), cmp);
	printf("%.0f\n", hz[2]);
	return 0;
}
