/*
 * test=blkbench: the block benchmark's guest side (bench/blk/run.sh).
 * Through xvda: sequential writes in 256 KiB calls (indirect requests,
 * several in flight), a flush, sequential reads of the same range, then
 * random 4 KiB reads, each kind timed with the TSC.  The guest prints
 * figures ("blkbench: KIND ops=N bytes=B requests=R cycles=C") and one
 * check that the data read back is what was written; the bench turns
 * the cycles into rates with the TSC frequency it measures on the host.
 * Guest kernel code is emulated on this host, so the guest side is slow;
 * what the bench compares is the host's CPU per request.
 */
#include "blkfront.h"
#include "console.h"
#include "events.h"
#include "guest.h"
#include "lib.h"
#include "xenbus.h"

#define BB_CHUNK (256u * 1024)
#define BB_CHUNK_SECT (BB_CHUNK / BLKFRONT_SECTOR)
#define BB_SEQ_BYTES (16u << 20)
#define BB_RANDOM_OPS 2000u

static uint64_t bb_buf[BB_CHUNK / 8] __attribute__((aligned(4096)));

static uint64_t bb_rdtsc(void)
{
	uint32_t lo, hi;

	asm volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return (uint64_t)hi << 32 | lo;
}

static void bb_report(const char *kind, unsigned long ops,
		      unsigned long bytes, unsigned int reqs, uint64_t cyc)
{
	printf("blkbench: %s ops=%lu bytes=%lu requests=%u cycles=%lu\n",
	       kind, ops, bytes, reqs, (unsigned long)cyc);
}

void scenario_blkbench(void)
{
	struct blkfront *d;
	unsigned long i, n = BB_SEQ_BYTES / BB_CHUNK, bad = 0;
	uint64_t t0, x = 88172645463325252ull, sector;
	unsigned int r0;
	int rc = 0;

	if (events_init() || xenbus_init()) {
		printf("SKIP: blkbench: no store ring\n");
		return;
	}
	irq_enable();
	if (blkfront_probe() < 0 || !(d = blkfront_get(XENIA_DEVID_XVDA))) {
		printf("SKIP: blkbench: no vbd xvda\n");
		return;
	}
	rc = blkfront_connect(d, BLKFRONT_MAX_RING_ORDER);
	if (!check(rc == 0 && d->sectors * BLKFRONT_SECTOR >= BB_SEQ_BYTES,
		   "blkbench: xvda connected rc=%d, %lu sectors", rc,
		   (unsigned long)d->sectors))
		return;
	d->use_indirect = d->max_indirect_segs > 0;

	r0 = d->requests;
	t0 = bb_rdtsc();
	for (i = 0; i < n && rc == 0; i++) {
		bb_buf[0] = i;
		rc = blkfront_write(d, i * BB_CHUNK_SECT, bb_buf, BB_CHUNK_SECT);
	}
	if (rc == 0 && d->feature_flush)
		rc = blkfront_flush(d);
	bb_report("seq-write", n, n * BB_CHUNK, d->requests - r0,
		  bb_rdtsc() - t0);

	r0 = d->requests;
	t0 = bb_rdtsc();
	for (i = 0; i < n && rc == 0; i++) {
		rc = blkfront_read(d, i * BB_CHUNK_SECT, bb_buf, BB_CHUNK_SECT);
		bad += bb_buf[0] != i;
	}
	bb_report("seq-read", n, n * BB_CHUNK, d->requests - r0,
		  bb_rdtsc() - t0);

	d->use_indirect = 0;
	r0 = d->requests;
	t0 = bb_rdtsc();
	for (i = 0; i < BB_RANDOM_OPS && rc == 0; i++) {
		/* xorshift64: 4 KiB-aligned offsets within the written range. */
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		sector = (x % (BB_SEQ_BYTES / 4096)) * 8;
		rc = blkfront_read(d, sector, bb_buf, 8);
	}
	bb_report("rand-read-4k", BB_RANDOM_OPS, BB_RANDOM_OPS * 4096ul,
		  d->requests - r0, bb_rdtsc() - t0);

	check(rc == 0 && bad == 0, "blkbench: all I/O done rc=%d, %lu chunks "
	      "read back wrong", rc, bad);
	(void)blkfront_disconnect(d);
}
