/* SPDX-License-Identifier: MIT */
/*
 * The migration stream's framing (vmm/stream.c) and the restore's reader
 * (vmm/restore.c) on domains without KVM: what the writer writes reads
 * back (raw and zstd pages, zero pages as flags, records split at 1024
 * pages, short writes through a slow pipe), and every refusal of the
 * reader on hostile streams: magic, version, flags, unknown and
 * out-of-order records, lengths over the limits or past the end, EOF
 * inside a record, bad checksums, bytes after END, hostile PAGES, CONFIG
 * and XENSTORE records.  A whole stream of a fake domain goes into a
 * second one page for page.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>
#include <zlib.h>
#include <zstd.h>

#include "log.h"
#include "migrate.h"
#include "stream.h"
#include "vmm_fake.h"

#define FAKE_PAGES (VMM_FAKE_RAM_SIZE / 4096u)

/* --- building streams by hand --------------------------------------------- */

struct sb {
	uint8_t *p;
	size_t len;
};

static void sb_put(struct sb *b, const void *p, size_t n)
{
	b->p = realloc(b->p, b->len + n + 1);
	assert_non_null(b->p);
	memcpy(b->p + b->len, p, n);
	b->len += n;
}

static void sb_header(struct sb *b, uint32_t version, uint32_t flags,
		      uint64_t ram)
{
	struct stream_header h = {
	    .version = version, .flags = flags, .ram_size = ram};

	memcpy(h.magic, STREAM_MAGIC, STREAM_MAGIC_LEN);
	sb_put(b, &h, sizeof(h));
}

static void sb_rec(struct sb *b, uint32_t type, const void *p, size_t n)
{
	struct stream_record_hdr h = {.type = type, .length = n};

	sb_put(b, &h, sizeof(h));
	if (n)
		sb_put(b, p, n);
}

static void sb_end(struct sb *b)
{
	struct stream_end e = {
	    .crc = (uint32_t)crc32(0, b->p, (uInt)b->len),
	    .bytes = b->len,
	};

	sb_rec(b, STREAM_END, &e, sizeof(e));
}

static const char config_json[] =
    "{\"memory_kib\":4096,\"vcpus\":1,\"domid\":3,\"name\":\"t\"}";
static const char xs_json[] =
    "{\"domid\":3,\"home\":[[\"\",\"\",\"n0,r@\"],[\"data\",\"v\","
    "\"n@\"]],\"vm\":[],\"watches\":[[\"control/shutdown\",\"s\"]]}";

/* One zero page and one of 0x5a at pfns 1 and 2. */
static void sb_pages(struct sb *b)
{
	uint8_t rec[8 + 16 + 4096];
	struct stream_pages_hdr h = {.count = 2};
	uint64_t pfns[2] = {1 | STREAM_PFN_ZERO, 2};

	memcpy(rec, &h, 8);
	memcpy(rec + 8, pfns, 16);
	memset(rec + 24, 0x5a, 4096);
	sb_rec(b, STREAM_PAGES, rec, sizeof(rec));
}

/* A whole valid stream, each record optional by a bit of `skip`. */
static struct sb sb_valid(void)
{
	struct sb b = {0};
	static const char dev[] = "{\"type\":\"console\",\"devid\":0}";
	static const char state[] = "state";

	sb_header(&b, 1, 0, VMM_FAKE_RAM_SIZE);
	sb_rec(&b, STREAM_CONFIG, config_json, strlen(config_json));
	sb_pages(&b);
	sb_rec(&b, STREAM_VMM_STATE, state, sizeof(state));
	sb_rec(&b, STREAM_DEVICE, dev, strlen(dev));
	sb_rec(&b, STREAM_XENSTORE, xs_json, strlen(xs_json));
	sb_end(&b);
	return b;
}

/* Reads every record of b; the first failure's rc (err in r). */
static int read_all(const struct sb *b, struct stream_reader *r)
{
	struct buf payload = {0};
	uint32_t type = 0;
	int rc;

	stream_reader_init_mem(r, b->p, b->len);
	rc = stream_read_header(r);
	while (rc == 0 && type != STREAM_END)
		rc = stream_read_record(r, &type, &payload);
	buf_free(&payload);
	return rc;
}

static void expect_refused(const struct sb *b, const char *why)
{
	struct stream_reader r;

	assert_int_not_equal(read_all(b, &r), 0);
	if (!strstr(r.err, why))
		fail_msg("refused with '%s', not for '%s'", r.err, why);
}

/* --- round trips ------------------------------------------------------------
 */

static int memfd_of(const char *name)
{
	int fd = memfd_create(name, MFD_CLOEXEC);

	assert_true(fd >= 0);
	return fd;
}

static void write_read(bool compress)
{
	struct stream_writer w;
	struct stream_reader r;
	struct stream_pages *pg = malloc(sizeof(*pg));
	struct buf payload = {0}, scratch = {0};
	uint8_t page[4096];
	uint32_t type, i, seen = 0, nz = 0, k;
	char err[200];
	int fd = memfd_of("stream");

	assert_non_null(pg);
	assert_int_equal(stream_writer_init(&w, fd, compress), 0);
	assert_int_equal(stream_put_header(&w, 0, 8u << 20), 0);
	assert_int_equal(stream_put_record(&w, STREAM_CONFIG, "{}", 2), 0);
	/* 2048 pages: two records; every third is zeros. */
	for (i = 0; i < 2048; i++) {
		memset(page, i % 3 ? (int)(i & 0xff) | 1 : 0, sizeof(page));
		assert_int_equal(stream_put_page(&w, i, page), 0);
	}
	assert_int_equal(stream_put_page(&w, 4000, NULL), 0);
	assert_int_equal(stream_put_record(&w, STREAM_VMM_STATE, "x", 1), 0);
	assert_int_equal(stream_put_record(&w, STREAM_XENSTORE, "{}", 2), 0);
	assert_int_equal(stream_put_end(&w), 0);
	assert_int_equal(w.pages, 2049);
	assert_int_equal(lseek(fd, 0, SEEK_END), (off_t)w.bytes);
	stream_writer_free(&w);

	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	assert_int_equal(stream_reader_init_fd(&r, fd), 0);
	assert_int_equal(stream_read_header(&r), 0);
	assert_int_equal(r.ram_size, 8u << 20);
	do {
		assert_int_equal(stream_read_record(&r, &type, &payload), 0);
		if (type != STREAM_PAGES)
			continue;
		assert_int_equal(stream_pages_parse(payload.data, payload.len,
						    2048 + 2048, pg, &scratch,
						    err, sizeof(err)),
				 0);
		for (i = 0, k = 0; i < pg->count; i++, seen++) {
			uint64_t pfn = pg->pfns[i] & ~STREAM_PFN_ZERO;

			if (pfn == 4000) {
				assert_true(pg->pfns[i] & STREAM_PFN_ZERO);
				continue;
			}
			assert_int_equal(pfn, seen);
			assert_int_equal(!!(pg->pfns[i] & STREAM_PFN_ZERO),
					 pfn % 3 == 0);
			if (pfn % 3 == 0)
				continue;
			assert_int_equal(pg->data[(size_t)k * 4096 + 17],
					 (pfn & 0xff) | 1);
			k++;
			nz++;
		}
	} while (type != STREAM_END);
	assert_int_equal(seen, 2049);
	assert_int_equal(nz, 2048 - 683);
	stream_reader_free(&r);
	buf_free(&payload);
	buf_free(&scratch);
	free(pg);
	close(fd);
}

static void test_round_trip_raw(void **state)
{
	(void)state;
	write_read(false);
}

static void test_round_trip_zstd(void **state)
{
	(void)state;
	write_read(true);
}

struct slow_reader {
	int fd;
	struct sb got;
};

static void *slow_read(void *arg)
{
	struct slow_reader *s = arg;
	uint8_t chunk[777];
	ssize_t n;

	while ((n = read(s->fd, chunk, sizeof(chunk))) > 0)
		sb_put(&s->got, chunk, (size_t)n);
	return NULL;
}

/* Through a pipe read in odd small pieces: short writes are finished. */
static void test_writer_short_writes(void **state)
{
	struct slow_reader s = {0};
	struct stream_writer w;
	struct stream_reader r;
	pthread_t t;
	uint8_t page[4096];
	int p[2];
	unsigned int i;

	(void)state;
	assert_int_equal(pipe(p), 0);
	s.fd = p[0];
	assert_int_equal(pthread_create(&t, NULL, slow_read, &s), 0);
	assert_int_equal(stream_writer_init(&w, p[1], false), 0);
	assert_int_equal(stream_put_header(&w, STREAM_FLAG_LIVE, 4u << 20), 0);
	assert_int_equal(stream_put_record(&w, STREAM_CONFIG, "{}", 2), 0);
	for (i = 0; i < 1024; i++) {
		memset(page, (int)i | 1, sizeof(page));
		assert_int_equal(stream_put_page(&w, i, page), 0);
	}
	assert_int_equal(stream_put_record(&w, STREAM_PAUSED, NULL, 0), 0);
	assert_int_equal(stream_put_page(&w, 5, page), 0);
	assert_int_equal(stream_put_record(&w, STREAM_VMM_STATE, "x", 1), 0);
	assert_int_equal(stream_put_record(&w, STREAM_XENSTORE, "{}", 2), 0);
	assert_int_equal(stream_put_end(&w), 0);
	close(p[1]);
	pthread_join(t, NULL);
	close(p[0]);
	assert_int_equal(s.got.len, w.bytes);
	stream_writer_free(&w);
	assert_int_equal(read_all(&s.got, &r), 0);
	free(s.got.p);
}

/* --- refusals ---------------------------------------------------------------
 */

static void test_refuses_bad_headers(void **state)
{
	struct sb b = sb_valid();

	(void)state;
	b.p[0] ^= 1;
	expect_refused(&b, "bad magic");
	b.p[0] ^= 1;
	b.p[16] = 2;
	expect_refused(&b, "version 2");
	b.p[16] = 1;
	b.p[20] = 2;
	expect_refused(&b, "unknown header flags");
	b.p[20] = 0;
	b.p[24] = 1;
	expect_refused(&b, "whole number of pages");
	b.len = 31;
	expect_refused(&b, "less than a header");
	free(b.p);
}

static void test_refuses_bad_records(void **state)
{
	struct sb b = {0};
	uint64_t big = STREAM_RECORD_MAX + 1ull;

	(void)state;
	/* Unknown type, flags, over the limit, past the end. */
	sb_header(&b, 1, 0, VMM_FAKE_RAM_SIZE);
	sb_rec(&b, 9, "x", 1);
	expect_refused(&b, "unknown type 9");
	b.len = sizeof(struct stream_header);
	sb_rec(&b, STREAM_CONFIG, config_json, strlen(config_json));
	((struct stream_record_hdr *)(b.p + 32))->flags = 1;
	expect_refused(&b, "flags 0x1");
	((struct stream_record_hdr *)(b.p + 32))->flags = 0;
	((struct stream_record_hdr *)(b.p + 32))->length = big;
	expect_refused(&b, "out of bounds");
	((struct stream_record_hdr *)(b.p + 32))->length = STREAM_JSON_MAX + 1;
	expect_refused(&b, "out of bounds");
	((struct stream_record_hdr *)(b.p + 32))->length = 1000;
	expect_refused(&b, "are left");
	free(b.p);
}

static void test_refuses_records_out_of_order(void **state)
{
	struct sb b = {0};
	unsigned int i;

	(void)state;
	sb_header(&b, 1, 0, VMM_FAKE_RAM_SIZE);
	sb_pages(&b);
	expect_refused(&b, "PAGES out of order (expected CONFIG)");

	b.len = 32;
	sb_rec(&b, STREAM_CONFIG, "{}", 2);
	sb_rec(&b, STREAM_CONFIG, "{}", 2);
	expect_refused(&b, "CONFIG out of order");

	b.len = 32;
	sb_rec(&b, STREAM_CONFIG, "{}", 2);
	sb_rec(&b, STREAM_PAUSED, NULL, 0);
	expect_refused(&b, "PAUSED out of order"); /* not a live stream */

	b.len = 32;
	sb_rec(&b, STREAM_CONFIG, "{}", 2);
	sb_rec(&b, STREAM_DEVICE, "{}", 2);
	expect_refused(&b, "DEVICE out of order");

	b.len = 32;
	sb_rec(&b, STREAM_CONFIG, "{}", 2);
	sb_rec(&b, STREAM_VMM_STATE, "s", 1);
	for (i = 0; i <= STREAM_DEVICES_MAX; i++)
		sb_rec(&b, STREAM_DEVICE, "{}", 2);
	expect_refused(&b, "DEVICE out of order");

	b.len = 32;
	sb_rec(&b, STREAM_CONFIG, "{}", 2);
	sb_rec(&b, STREAM_VMM_STATE, "s", 1);
	sb_end(&b);
	expect_refused(&b, "END out of order (expected DEVICE or XENSTORE)");

	/* Live: one PAUSED, not two. */
	b.len = 0;
	sb_header(&b, 1, STREAM_FLAG_LIVE, VMM_FAKE_RAM_SIZE);
	sb_rec(&b, STREAM_CONFIG, "{}", 2);
	sb_rec(&b, STREAM_PAUSED, NULL, 0);
	sb_rec(&b, STREAM_PAUSED, NULL, 0);
	expect_refused(&b, "PAUSED out of order");
	free(b.p);
}

static void test_refuses_damage_at_the_end(void **state)
{
	struct sb b = sb_valid();
	size_t end = b.len;

	(void)state;
	/* The stream is fine; then each way of spoiling it. */
	{
		struct stream_reader r;

		assert_int_equal(read_all(&b, &r), 0);
	}
	b.p[60] ^= 0x01; /* inside CONFIG's payload */
	expect_refused(&b, "checksum mismatch");
	b.p[60] ^= 0x01;
	b.p[end - 4] ^= 1;
	expect_refused(&b, "END says");
	b.p[end - 4] ^= 1;
	b.p[end - 10] = 1;
	expect_refused(&b, "reserved field");
	b.p[end - 10] = 0;
	sb_put(&b, "x", 1);
	expect_refused(&b, "bytes follow the END");
	b.len = end - 5;
	expect_refused(&b, "truncated");
	b.len = end - 16;
	expect_refused(&b, "are left");
	b.len = end - 24;
	expect_refused(&b, "truncated: a record header cut");
	b.len = end - 32;
	expect_refused(&b, "truncated: it ends");
	free(b.p);
}

/* EOF inside a payload, with no size known up front (a pipe). */
static void test_refuses_truncated_pipe(void **state)
{
	struct sb b = sb_valid();
	struct stream_reader r;
	struct buf payload = {0};
	uint32_t type = 0;
	int p[2], rc;

	(void)state;
	assert_int_equal(pipe(p), 0);
	assert_int_equal(write(p[1], b.p, b.len - 40), (ssize_t)(b.len - 40));
	close(p[1]);
	assert_int_equal(stream_reader_init_fd(&r, p[0]), 0);
	assert_int_equal(r.left, UINT64_MAX);
	rc = stream_read_header(&r);
	while (rc == 0 && type != STREAM_END)
		rc = stream_read_record(&r, &type, &payload);
	assert_int_equal(rc, -EINVAL);
	assert_non_null(strstr(r.err, "truncated"));
	stream_reader_free(&r);
	buf_free(&payload);
	close(p[0]);
	free(b.p);
}

static int pages_parse(const void *p, size_t len, char *err)
{
	static struct stream_pages pg;
	struct buf scratch = {0};
	int rc;

	rc = stream_pages_parse(p, len, FAKE_PAGES, &pg, &scratch, err, 200);
	buf_free(&scratch);
	return rc;
}

static void test_refuses_bad_pages(void **state)
{
	static uint8_t rec[8 + 16 + 8192 + 64];
	struct stream_pages_hdr *h = (struct stream_pages_hdr *)rec;
	uint64_t *pfn = (uint64_t *)(rec + 8);
	uint8_t data[8192];
	char err[200];
	size_t z;

	(void)state;
	*h = (struct stream_pages_hdr){.count = 2};
	pfn[0] = 3;
	pfn[1] = 4 | STREAM_PFN_ZERO;
	assert_int_equal(pages_parse(rec, 8 + 16 + 4096, err), 0);
	assert_int_equal(pages_parse(rec, 8 + 16 + 4095, err), -EINVAL);
	assert_non_null(strstr(err, "bytes of data"));
	assert_int_equal(pages_parse(rec, 8 + 16 + 8192, err), -EINVAL);
	assert_int_equal(pages_parse(rec, 7, err), -EINVAL);
	assert_int_equal(pages_parse(rec, 8 + 8, err), -EINVAL);
	pfn[0] = FAKE_PAGES;
	assert_int_equal(pages_parse(rec, 8 + 16 + 4096, err), -EINVAL);
	assert_non_null(strstr(err, "beyond"));
	pfn[0] = 3 | 1ull << 62;
	assert_int_equal(pages_parse(rec, 8 + 16 + 4096, err), -EINVAL);
	pfn[0] = 3;
	h->count = 0;
	assert_int_equal(pages_parse(rec, 8, err), -EINVAL);
	h->count = STREAM_PAGES_MAX + 1;
	assert_int_equal(pages_parse(rec, sizeof(rec), err), -EINVAL);
	h->count = 2;
	h->encoding = 7;
	assert_int_equal(pages_parse(rec, 8 + 16 + 4096, err), -EINVAL);
	assert_non_null(strstr(err, "encoding"));

	/* zstd: one frame of exactly the pages' size, nothing after it. */
	h->encoding = STREAM_ENC_ZSTD;
	memset(data, 0x33, sizeof(data));
	z = ZSTD_compress(rec + 24, 8192, data, 4096, 1);
	assert_false(ZSTD_isError(z));
	assert_int_equal(pages_parse(rec, 24 + z, err), 0);
	assert_int_equal(pages_parse(rec, 24 + z - 1, err), -EINVAL);
	rec[24 + z] = 0;
	assert_int_equal(pages_parse(rec, 24 + z + 1, err), -EINVAL);
	z = ZSTD_compress(rec + 24, 8192, data, 8192, 1);
	assert_int_equal(pages_parse(rec, 24 + z, err), -EINVAL);
	assert_non_null(strstr(err, "zstd frame"));
	memset(rec + 24, 0xee, 64);
	assert_int_equal(pages_parse(rec, 24 + 64, err), -EINVAL);
}

/* --- the restore's reader over a fake domain ---------------------------------
 */

static void test_restore_reads_into_a_domain(void **state)
{
	struct domain *src = vmm_fake_domain(3, 1), *dst;
	struct restore *rs = calloc(1, sizeof(*rs));
	struct stream_writer w;
	size_t len;
	uint8_t *img;
	uint64_t pfn;
	int fd = memfd_of("whole");

	(void)state;
	assert_non_null(rs);
	for (pfn = 0; pfn < FAKE_PAGES; pfn += 7)
		memset(src->ram + pfn * 4096, (int)pfn | 1, 4096);
	assert_int_equal(stream_writer_init(&w, fd, true), 0);
	assert_int_equal(stream_put_header(&w, 0, VMM_FAKE_RAM_SIZE), 0);
	assert_int_equal(stream_put_record(&w, STREAM_CONFIG, config_json,
					   strlen(config_json)),
			 0);
	for (pfn = 0; pfn < FAKE_PAGES; pfn++)
		assert_int_equal(
		    stream_put_page(&w, pfn, src->ram + pfn * 4096), 0);
	assert_int_equal(stream_put_record(&w, STREAM_VMM_STATE, "x", 1), 0);
	assert_int_equal(
	    stream_put_record(&w, STREAM_XENSTORE, xs_json, strlen(xs_json)),
	    0);
	assert_int_equal(stream_put_end(&w), 0);
	len = w.bytes;
	stream_writer_free(&w);
	img = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0);
	assert_true(img != MAP_FAILED);

	dst = vmm_fake_domain(9, 1);
	assert_int_equal(restore_open_mem(rs, img, len), 0);
	assert_int_equal(rs->ram_size, VMM_FAKE_RAM_SIZE);
	assert_int_equal(rs->vcpus, 1);
	assert_string_equal(rs->name, "t");
	assert_int_equal(restore_read(rs, dst), 0);
	assert_memory_equal(dst->ram, src->ram, VMM_FAKE_RAM_SIZE);
	assert_int_equal(rs->xs.nr_home, 2);
	assert_string_equal(rs->xs.home[1].path, "data");
	assert_string_equal(rs->xs.home[1].perms, "n@");
	assert_int_equal(rs->xs.nr_watches, 1);
	assert_int_equal(rs->vmm_state.len, 1);
	restore_free(rs);

	/* A domain of another shape is refused before any page. */
	vmm_fake_free(dst);
	dst = vmm_fake_domain(9, 2);
	assert_int_equal(restore_open_mem(rs, img, len), 0);
	assert_int_equal(restore_read(rs, dst), -EINVAL);
	assert_non_null(strstr(rs->err, "vCPUs"));
	restore_free(rs);

	munmap(img, len);
	close(fd);
	free(rs);
	vmm_fake_free(src);
	vmm_fake_free(dst);
}

static void test_restore_refuses_bad_config_and_xenstore(void **state)
{
	static const char *const configs[] = {
	    "[]",
	    "{\"memory_kib\":8192,\"vcpus\":1,\"domid\":3}",
	    "{\"memory_kib\":4096,\"vcpus\":0,\"domid\":3}",
	    "{\"memory_kib\":4096,\"vcpus\":1}",
	    "{\"memory_kib\":4096,\"vcpus\":1,\"domid\":3,\"name\":\"a/b\"}",
	    "{\"memory_kib\":4096,\"vcpus\":1,\"domid\":3,\"uuid\":\"x\"}",
	    "{\"memory_kib\":4096,\"vcpus\":1,\"domid\":3,\"disks\":[\"x\"]}",
	    "{\"memory_kib\":4096,\"vcpus\":1,\"domid\":3,\"vifs\":[\"q=1\"]}",
	};
	static const char *const stores[] = {
	    "{\"domid\":3,\"home\":[],\"vm\":[]}",
	    "{\"home\":[],\"vm\":[],\"watches\":[]}",
	    "{\"domid\":3,\"home\":[[\"/abs\",\"\",\"n0\"]],\"vm\":[],"
	    "\"watches\":[]}",
	    "{\"domid\":3,\"home\":[[\"a//b\",\"\",\"n0\"]],\"vm\":[],"
	    "\"watches\":[]}",
	    "{\"domid\":3,\"home\":[[\"a\",\"\",\"x0\"]],\"vm\":[],"
	    "\"watches\":[]}",
	    "{\"domid\":3,\"home\":[[\"a\",\"\",\"n99999\"]],\"vm\":[],"
	    "\"watches\":[]}",
	    "{\"domid\":3,\"home\":[[\"a\",\"\"]],\"vm\":[],\"watches\":[]}",
	    "{\"domid\":3,\"home\":[],\"vm\":[],\"watches\":[[\"\",\"t\"]]}",
	};
	struct restore *rs = calloc(1, sizeof(*rs));
	struct domain *dst = vmm_fake_domain(9, 1);
	struct xs_saved xs;
	char err[200];
	unsigned int i;

	(void)state;
	for (i = 0; i < sizeof(configs) / sizeof(configs[0]); i++) {
		struct sb b = {0};

		sb_header(&b, 1, 0, VMM_FAKE_RAM_SIZE);
		sb_rec(&b, STREAM_CONFIG, configs[i], strlen(configs[i]));
		if (restore_open_mem(rs, b.p, b.len) == 0)
			fail_msg("config %u accepted", i);
		assert_true(rs->err[0]);
		restore_free(rs);
		free(b.p);
	}
	for (i = 0; i < sizeof(stores) / sizeof(stores[0]); i++) {
		if (xs_saved_parse(stores[i], strlen(stores[i]), &xs, err,
				   sizeof(err)) == 0)
			fail_msg("xenstore record %u accepted", i);
		xs_saved_free(&xs);
	}
	assert_int_equal(
	    xs_saved_parse(xs_json, strlen(xs_json), &xs, err, sizeof(err)), 0);
	xs_saved_free(&xs);
	free(rs);
	vmm_fake_free(dst);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_round_trip_raw),
	    cmocka_unit_test(test_round_trip_zstd),
	    cmocka_unit_test(test_writer_short_writes),
	    cmocka_unit_test(test_refuses_bad_headers),
	    cmocka_unit_test(test_refuses_bad_records),
	    cmocka_unit_test(test_refuses_records_out_of_order),
	    cmocka_unit_test(test_refuses_damage_at_the_end),
	    cmocka_unit_test(test_refuses_truncated_pipe),
	    cmocka_unit_test(test_refuses_bad_pages),
	    cmocka_unit_test(test_restore_reads_into_a_domain),
	    cmocka_unit_test(test_restore_refuses_bad_config_and_xenstore),
	};

	log_init("test_stream", LOG_LVL_ERR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
