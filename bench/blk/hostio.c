/* SPDX-License-Identifier: MIT */
/*
 * bench/blk's peer: the host doing the test guest's blkbench I/O (the
 * same sizes, offsets and order) on the same image file directly, with
 * plain pread/pwrite through the page cache as blkback does.  Prints,
 * per kind, "hostio: KIND ops=N bytes=B ns=T" and the process's CPU time.
 *   hostio IMAGE
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#define CHUNK (256u * 1024)
#define SEQ_BYTES (16u << 20)
#define RANDOM_OPS 2000u

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void report(const char *kind, unsigned long ops, unsigned long bytes,
		   uint64_t ns)
{
	printf("hostio: %s ops=%lu bytes=%lu ns=%llu\n", kind, ops, bytes,
	       (unsigned long long)ns);
}

int main(int argc, char **argv)
{
	static uint64_t buf[CHUNK / 8];
	uint64_t t0, x = 88172645463325252ull;
	unsigned long i, n = SEQ_BYTES / CHUNK;
	struct rusage ru;
	int fd;

	if (argc != 2) {
		fprintf(stderr, "usage: hostio IMAGE\n");
		return 2;
	}
	fd = open(argv[1], O_RDWR);
	if (fd < 0) {
		perror(argv[1]);
		return 1;
	}
	t0 = now_ns();
	for (i = 0; i < n; i++) {
		buf[0] = i;
		if (pwrite(fd, buf, CHUNK, (off_t)(i * CHUNK)) != CHUNK)
			return 1;
	}
	if (fdatasync(fd) < 0)
		return 1;
	report("seq-write", n, n * CHUNK, now_ns() - t0);
	t0 = now_ns();
	for (i = 0; i < n; i++)
		if (pread(fd, buf, CHUNK, (off_t)(i * CHUNK)) != CHUNK)
			return 1;
	report("seq-read", n, n * CHUNK, now_ns() - t0);
	t0 = now_ns();
	for (i = 0; i < RANDOM_OPS; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		if (pread(fd, buf, 4096, (off_t)((x % (SEQ_BYTES / 4096)) *
						  4096)) != 4096)
			return 1;
	}
	report("rand-read-4k", RANDOM_OPS, RANDOM_OPS * 4096ul, now_ns() - t0);
	getrusage(RUSAGE_SELF, &ru);
	printf("hostio: cpu_us=%ld requests=%lu\n",
	       (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000 +
		   ru.ru_utime.tv_usec + ru.ru_stime.tv_usec,
	       2 * n + 1 + RANDOM_OPS);
	close(fd);
	return 0;
}
