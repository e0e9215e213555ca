/* SPDX-License-Identifier: MIT */
/*
 * The migration stream's framing (stream.h, docs/migration-stream.md).
 *
 * Writing: bytes go through a 1 MiB buffer to the fd, big payloads
 * straight after it; the CRC runs over every byte as it is emitted, so
 * END's checksum costs nothing extra.  Guest pages are gathered 1024 to a
 * PAGES record: a page of zeros is only its pfn with STREAM_PFN_ZERO, the
 * others' data follow raw or as one zstd frame (level 1: a save is
 * limited by the disk or the link, not by the CPU; a record that does not
 * shrink goes raw).
 *
 * Reading: the reader never trusts a length before checking it against
 * the limits and, when the input's size is known (a regular file, a
 * buffer), against what is left, so a damaged length costs no memory;
 * on a socket a payload is read in 1 MiB steps, growing the buffer only
 * as bytes arrive.  The order of records is a small state machine
 * (`phase`): CONFIG, then PAGES with at most one PAUSED (live streams
 * only), VMM_STATE, DEVICEs, XENSTORE, END, then end of input.
 */
#include "stream.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zlib.h>
#include <zstd.h>

#define STREAM_OUT_CAP (1u << 20)
#define STREAM_IN_CAP (256u << 10)
#define STREAM_READ_STEP (1u << 20)
#define STREAM_ZSTD_LEVEL 1

enum stream_phase {
	PHASE_CONFIG,  /* nothing read past the header */
	PHASE_PAGES,   /* CONFIG read: PAGES, PAUSED, VMM_STATE */
	PHASE_DEVICES, /* VMM_STATE read: DEVICE, XENSTORE */
	PHASE_END,     /* XENSTORE read: END */
	PHASE_DONE,
};

const char *stream_type_name(uint32_t type)
{
	static const char *const names[] = {
	    NULL,	 "CONFIG", "PAGES",    "PAUSED",
	    "VMM_STATE", "DEVICE", "XENSTORE", "END",
	};
	static __thread char other[24];

	if (type > 0 && type < sizeof(names) / sizeof(names[0]))
		return names[type];
	snprintf(other, sizeof(other), "type %" PRIu32, type);
	return other;
}

/* --- writing ------------------------------------------------------------ */

int stream_writer_init(struct stream_writer *w, int fd, bool compress)
{
	memset(w, 0, sizeof(*w));
	w->fd = fd;
	w->crc = (uint32_t)crc32_z(0, NULL, 0);
	w->compress = compress;
	w->out = malloc(STREAM_OUT_CAP);
	w->data = malloc((size_t)STREAM_PAGES_MAX * STREAM_PAGE_SIZE);
	if (compress) {
		w->zcap = ZSTD_compressBound((size_t)STREAM_PAGES_MAX *
					     STREAM_PAGE_SIZE);
		w->zbuf = malloc(w->zcap);
		w->zctx = ZSTD_createCCtx();
	}
	if (!w->out || !w->data || (compress && (!w->zbuf || !w->zctx))) {
		stream_writer_free(w);
		return -ENOMEM;
	}
	return 0;
}

void stream_writer_free(struct stream_writer *w)
{
	free(w->out);
	free(w->data);
	free(w->zbuf);
	ZSTD_freeCCtx(w->zctx);
	w->out = w->data = w->zbuf = NULL;
	w->zctx = NULL;
}

/* A socket is written with MSG_NOSIGNAL: a peer gone is EPIPE. */
static int stream_write_all(struct stream_writer *w, const uint8_t *p,
			    size_t n)
{
	ssize_t k;

	while (n) {
		k = w->not_socket ? write(w->fd, p, n)
				  : send(w->fd, p, n, MSG_NOSIGNAL);
		if (k < 0 && errno == ENOTSOCK) {
			w->not_socket = true;
			continue;
		}
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return -errno;
		if (k == 0)
			return -EIO;
		p += k;
		n -= (size_t)k;
	}
	return 0;
}

static int stream_drain(struct stream_writer *w)
{
	int rc;

	if (!w->out_len)
		return 0;
	rc = stream_write_all(w, w->out, w->out_len);
	w->out_len = 0;
	return rc;
}

/* Every byte of the stream goes through here: the CRC sees it all. */
static int stream_emit(struct stream_writer *w, const void *p, size_t n)
{
	if (w->err || !n)
		return w->err; /* crc32(crc, NULL, 0) would start it over */
	w->crc = (uint32_t)crc32_z(w->crc, p, n);
	w->bytes += n;
	if (n > STREAM_OUT_CAP - w->out_len) {
		w->err = stream_drain(w);
		if (!w->err && n >= STREAM_OUT_CAP)
			w->err = stream_write_all(w, p, n);
		if (w->err || n >= STREAM_OUT_CAP)
			return w->err;
	}
	memcpy(w->out + w->out_len, p, n);
	w->out_len += n;
	return 0;
}

int stream_put_header(struct stream_writer *w, uint32_t flags,
		      uint64_t ram_size)
{
	struct stream_header h = {
	    .version = STREAM_VERSION,
	    .flags = flags,
	    .ram_size = ram_size,
	};

	memcpy(h.magic, STREAM_MAGIC, STREAM_MAGIC_LEN);
	return stream_emit(w, &h, sizeof(h));
}

static int stream_emit_hdr(struct stream_writer *w, uint32_t type, uint64_t len)
{
	struct stream_record_hdr h = {.type = type, .length = len};

	return stream_emit(w, &h, sizeof(h));
}

int stream_flush_pages(struct stream_writer *w)
{
	struct stream_pages_hdr ph = {.count = w->nr_pfns};
	const uint8_t *data = w->data;
	size_t len = w->data_len, z;

	if (w->err || !w->nr_pfns)
		return w->err;
	if (w->compress && len) {
		z = ZSTD_compressCCtx(w->zctx, w->zbuf, w->zcap, w->data, len,
				      STREAM_ZSTD_LEVEL);
		if (ZSTD_isError(z))
			return w->err = -EIO;
		if (z < len) {
			ph.encoding = STREAM_ENC_ZSTD;
			data = w->zbuf;
			len = z;
		}
	}
	stream_emit_hdr(w, STREAM_PAGES,
			sizeof(ph) + w->nr_pfns * sizeof(uint64_t) + len);
	stream_emit(w, &ph, sizeof(ph));
	stream_emit(w, w->pfns, w->nr_pfns * sizeof(uint64_t));
	stream_emit(w, data, len);
	w->nr_pfns = 0;
	w->data_len = 0;
	return w->err;
}

static bool stream_page_is_zero(const void *page)
{
	const uint64_t *q = page;
	unsigned int i;

	for (i = 0; i < STREAM_PAGE_SIZE / sizeof(*q); i++)
		if (q[i])
			return false;
	return true;
}

int stream_put_page(struct stream_writer *w, uint64_t pfn, const void *page)
{
	if (w->err)
		return w->err;
	if (pfn & STREAM_PFN_ZERO)
		return w->err = -EINVAL;
	if (w->nr_pfns == STREAM_PAGES_MAX && stream_flush_pages(w) < 0)
		return w->err;
	if (!page || stream_page_is_zero(page)) {
		w->pfns[w->nr_pfns++] = pfn | STREAM_PFN_ZERO;
	} else {
		w->pfns[w->nr_pfns++] = pfn;
		memcpy(w->data + w->data_len, page, STREAM_PAGE_SIZE);
		w->data_len += STREAM_PAGE_SIZE;
	}
	w->pages++;
	return 0;
}

int stream_flush(struct stream_writer *w)
{
	if (stream_flush_pages(w) < 0)
		return w->err;
	if (!w->err)
		w->err = stream_drain(w);
	return w->err;
}

int stream_put_record(struct stream_writer *w, uint32_t type,
		      const void *payload, size_t len)
{
	if (stream_flush_pages(w) < 0)
		return w->err;
	if (len > STREAM_RECORD_MAX)
		return w->err = -E2BIG;
	stream_emit_hdr(w, type, len);
	return stream_emit(w, payload, len);
}

int stream_put_end(struct stream_writer *w)
{
	struct stream_end e = {0};

	if (stream_flush_pages(w) < 0)
		return w->err;
	/* The checksum covers everything before END's own header. */
	e.crc = w->crc;
	e.bytes = w->bytes;
	stream_emit_hdr(w, STREAM_END, sizeof(e));
	stream_emit(w, &e, sizeof(e));
	if (!w->err)
		w->err = stream_drain(w);
	return w->err;
}

/* --- reading ------------------------------------------------------------ */

static int stream_fail(struct stream_reader *r, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int stream_fail(struct stream_reader *r, int rc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->err, sizeof(r->err), fmt, ap);
	va_end(ap);
	return rc;
}

int stream_reader_init_fd(struct stream_reader *r, int fd)
{
	struct stat st;
	off_t pos;

	memset(r, 0, sizeof(*r));
	r->fd = fd;
	r->left = UINT64_MAX;
	r->crc = (uint32_t)crc32_z(0, NULL, 0);
	if (fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode))
		r->is_socket = true;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
		pos = lseek(fd, 0, SEEK_CUR);
		if (pos >= 0 && pos <= st.st_size)
			r->left = (uint64_t)(st.st_size - pos);
	}
	r->in = malloc(STREAM_IN_CAP);
	return r->in ? 0 : -ENOMEM;
}

void stream_reader_init_mem(struct stream_reader *r, const void *p, size_t len)
{
	memset(r, 0, sizeof(*r));
	r->fd = -1;
	r->mem = p;
	r->mem_len = len;
	r->left = len;
	r->crc = (uint32_t)crc32_z(0, NULL, 0);
}

void stream_reader_free(struct stream_reader *r)
{
	free(r->in);
	r->in = NULL;
}

/* Up to n bytes from the fd into dst; how many (0: EOF), or -errno. */
static ssize_t stream_read_some(struct stream_reader *r, uint8_t *dst, size_t n)
{
	ssize_t k;

	if (r->in_off == r->in_len) {
		/* A big read bypasses the buffer. */
		if (n >= STREAM_IN_CAP) {
			do
				k = read(r->fd, dst, n);
			while (k < 0 && errno == EINTR);
			return k < 0 ? -errno : k;
		}
		do
			k = read(r->fd, r->in, STREAM_IN_CAP);
		while (k < 0 && errno == EINTR);
		if (k <= 0)
			return k < 0 ? -errno : 0;
		r->in_off = 0;
		r->in_len = (size_t)k;
	}
	if (n > r->in_len - r->in_off)
		n = r->in_len - r->in_off;
	memcpy(dst, r->in + r->in_off, n);
	r->in_off += n;
	return (ssize_t)n;
}

/*
 * Exactly n bytes into dst: 0, -ENODATA at the end of the input (*got
 * says how many came), -errno for a read error.
 */
static int stream_take(struct stream_reader *r, void *dst, size_t n,
		       size_t *got)
{
	uint8_t *p = dst;
	size_t done = 0;
	ssize_t k;
	int rc = 0;

	if (r->fd < 0) {
		done = n <= r->mem_len - r->off ? n
						: (size_t)(r->mem_len - r->off);
		memcpy(p, r->mem + r->off, done);
		if (done < n)
			rc = -ENODATA;
	} else {
		while (done < n) {
			k = stream_read_some(r, p + done, n - done);
			if (k <= 0) {
				rc = k < 0 ? (int)k : -ENODATA;
				break;
			}
			done += (size_t)k;
		}
	}
	if (done)
		r->crc = (uint32_t)crc32_z(r->crc, p, done);
	r->off += done;
	if (r->left != UINT64_MAX)
		r->left -= done < r->left ? done : r->left;
	if (got)
		*got = done;
	return rc;
}

int stream_read_header(struct stream_reader *r)
{
	struct stream_header h;
	size_t got;
	int rc;

	rc = stream_take(r, &h, sizeof(h), &got);
	if (rc == -ENODATA)
		return stream_fail(r, -EINVAL,
				   "stream: not a migration stream: %zu bytes, "
				   "less than a header",
				   got);
	if (rc < 0)
		return stream_fail(r, rc, "stream: reading the header: %s",
				   strerror(-rc));
	if (memcmp(h.magic, STREAM_MAGIC, STREAM_MAGIC_LEN))
		return stream_fail(r, -EINVAL,
				   "stream: not a Xenia migration stream (bad "
				   "magic)");
	if (h.version != STREAM_VERSION)
		return stream_fail(r, -EINVAL,
				   "stream: version %" PRIu32
				   "; this xenia-vmm "
				   "reads version %u",
				   h.version, STREAM_VERSION);
	if (h.flags & ~STREAM_FLAG_LIVE)
		return stream_fail(r, -EINVAL,
				   "stream: unknown header flags 0x%" PRIx32,
				   h.flags);
	if (!h.ram_size || h.ram_size % STREAM_PAGE_SIZE)
		return stream_fail(r, -EINVAL,
				   "stream: RAM size %" PRIu64 " is not a "
				   "whole number of pages",
				   h.ram_size);
	r->flags = h.flags;
	r->ram_size = h.ram_size;
	r->phase = PHASE_CONFIG;
	return 0;
}

/* What may come in each phase, for messages. */
static const char *stream_expected(const struct stream_reader *r)
{
	switch (r->phase) {
	case PHASE_CONFIG:
		return "CONFIG";
	case PHASE_PAGES:
		return "PAGES, PAUSED or VMM_STATE";
	case PHASE_DEVICES:
		return "DEVICE or XENSTORE";
	case PHASE_END:
		return "END";
	default:
		return "the end of the stream";
	}
}

/* Type-specific bounds of a record's length. */
static bool stream_length_ok(uint32_t type, uint64_t len)
{
	switch (type) {
	case STREAM_CONFIG:
	case STREAM_DEVICE:
	case STREAM_XENSTORE:
		return len > 0 && len <= STREAM_JSON_MAX;
	case STREAM_PAGES:
		return len >= sizeof(struct stream_pages_hdr);
	case STREAM_VMM_STATE:
		return len > 0;
	case STREAM_PAUSED:
		return len == 0;
	case STREAM_END:
		return len == sizeof(struct stream_end);
	default:
		return true;
	}
}

/* Moves the order's state machine on for a record of `type`. */
static bool stream_order_ok(struct stream_reader *r, uint32_t type)
{
	switch (type) {
	case STREAM_CONFIG:
		if (r->phase != PHASE_CONFIG)
			return false;
		r->phase = PHASE_PAGES;
		return true;
	case STREAM_PAGES:
		return r->phase == PHASE_PAGES;
	case STREAM_PAUSED:
		/* Only a live stream has rounds to end. */
		if (r->phase != PHASE_PAGES || r->paused ||
		    !(r->flags & STREAM_FLAG_LIVE))
			return false;
		r->paused = true;
		return true;
	case STREAM_VMM_STATE:
		if (r->phase != PHASE_PAGES)
			return false;
		r->phase = PHASE_DEVICES;
		return true;
	case STREAM_DEVICE:
		return r->phase == PHASE_DEVICES &&
		       r->nr_devices++ < STREAM_DEVICES_MAX;
	case STREAM_XENSTORE:
		if (r->phase != PHASE_DEVICES)
			return false;
		r->phase = PHASE_END;
		return true;
	case STREAM_END:
		if (r->phase != PHASE_END)
			return false;
		r->phase = PHASE_DONE;
		return true;
	default:
		return false;
	}
}

/* A record's payload, in steps so that memory follows the bytes. */
static int stream_take_payload(struct stream_reader *r, uint64_t len,
			       struct buf *out, uint64_t at)
{
	size_t step, got;
	int rc;

	out->head = out->len = 0;
	while (out->len < len) {
		step = len - out->len < STREAM_READ_STEP
			   ? (size_t)(len - out->len)
			   : STREAM_READ_STEP;
		if (buf_reserve(out, step))
			return stream_fail(r, -ENOMEM, "stream: out of memory");
		rc = stream_take(r, out->data + out->len, step, &got);
		out->len += got;
		if (rc == -ENODATA)
			return stream_fail(r, -EINVAL,
					   "stream: truncated: the record at "
					   "offset %" PRIu64 " ends after %zu "
					   "of its %" PRIu64 " bytes",
					   at, out->len, len);
		if (rc < 0)
			return stream_fail(r, rc, "stream: read: %s",
					   strerror(-rc));
	}
	return 0;
}

static int stream_check_end(struct stream_reader *r, const struct buf *p,
			    uint32_t crc, uint64_t covered)
{
	struct stream_end e;
	uint8_t extra;
	size_t got;
	int rc;

	memcpy(&e, p->data, sizeof(e));
	if (e.zero)
		return stream_fail(r, -EINVAL,
				   "stream: END: reserved field 0x%08" PRIx32
				   " is not 0",
				   e.zero);
	if (e.bytes != covered)
		return stream_fail(r, -EINVAL,
				   "stream: END says %" PRIu64 " bytes, the "
				   "stream has %" PRIu64,
				   e.bytes, covered);
	if (e.crc != crc)
		return stream_fail(
		    r, -EINVAL,
		    "stream: checksum mismatch (END says 0x%08" PRIx32
		    ", the stream's is 0x%08" PRIx32 "): it is "
		    "damaged",
		    e.crc, crc);
	/* A connection goes on after END: the handover (migrate.h). */
	if (r->is_socket)
		return 0;
	rc = stream_take(r, &extra, 1, &got);
	if (rc == 0)
		return stream_fail(r, -EINVAL,
				   "stream: bytes follow the END record");
	if (rc != -ENODATA)
		return stream_fail(r, rc, "stream: read: %s", strerror(-rc));
	return 0;
}

int stream_read_record(struct stream_reader *r, uint32_t *type,
		       struct buf *payload)
{
	struct stream_record_hdr h;
	uint64_t at = r->off;
	uint32_t crc = r->crc;
	unsigned int n = r->nr_records + 1;
	size_t got;
	int rc;

	if (r->phase == PHASE_DONE)
		return stream_fail(r, -EINVAL, "stream: read past END");
	rc = stream_take(r, &h, sizeof(h), &got);
	if (rc == -ENODATA)
		return stream_fail(r, -EINVAL,
				   got ? "stream: truncated: a record header "
					 "cut at offset %" PRIu64
				       : "stream: truncated: it ends at offset "
					 "%" PRIu64 " with no END record",
				   at);
	if (rc < 0)
		return stream_fail(r, rc, "stream: read: %s", strerror(-rc));
	r->nr_records = n;
	if (h.type < STREAM_CONFIG || h.type > STREAM_END)
		return stream_fail(r, -EINVAL,
				   "stream: record %u at offset %" PRIu64
				   ": unknown type %" PRIu32,
				   n, at, h.type);
	if (h.flags)
		return stream_fail(r, -EINVAL,
				   "stream: record %u (%s) at offset %" PRIu64
				   ": flags 0x%" PRIx32 " (none are defined)",
				   n, stream_type_name(h.type), at, h.flags);
	if (h.length > STREAM_RECORD_MAX || !stream_length_ok(h.type, h.length))
		return stream_fail(r, -EINVAL,
				   "stream: record %u (%s) at offset %" PRIu64
				   ": a length of %" PRIu64 " bytes is out of "
				   "bounds",
				   n, stream_type_name(h.type), at, h.length);
	if (h.length > r->left)
		return stream_fail(r, -EINVAL,
				   "stream: truncated: record %u (%s) at "
				   "offset %" PRIu64 " has %" PRIu64 " bytes, "
				   "%" PRIu64 " are left",
				   n, stream_type_name(h.type), at, h.length,
				   r->left);
	if (!stream_order_ok(r, h.type))
		return stream_fail(r, -EINVAL,
				   "stream: record %u at offset %" PRIu64
				   ": %s out of order (expected %s)",
				   n, at, stream_type_name(h.type),
				   stream_expected(r));
	rc = stream_take_payload(r, h.length, payload, at);
	if (rc < 0)
		return rc;
	if (h.type == STREAM_END) {
		rc = stream_check_end(r, payload, crc, at);
		if (rc < 0)
			return rc;
	}
	*type = h.type;
	return 0;
}

int stream_pages_parse(const void *payload, size_t len, uint64_t nr_pfns,
		       struct stream_pages *out, struct buf *scratch, char *err,
		       size_t errlen)
{
	const uint8_t *p = payload;
	struct stream_pages_hdr h;
	size_t off, rest, want, z;
	unsigned long long frame;
	uint32_t i;

	if (len < sizeof(h)) {
		snprintf(err, errlen, "PAGES: %zu bytes, less than a header",
			 len);
		return -EINVAL;
	}
	memcpy(&h, p, sizeof(h));
	if (h.count < 1 || h.count > STREAM_PAGES_MAX) {
		snprintf(err, errlen, "PAGES: a count of %" PRIu32 " (1 to %u)",
			 h.count, STREAM_PAGES_MAX);
		return -EINVAL;
	}
	if (h.encoding != STREAM_ENC_RAW && h.encoding != STREAM_ENC_ZSTD) {
		snprintf(err, errlen, "PAGES: unknown encoding %" PRIu32,
			 h.encoding);
		return -EINVAL;
	}
	off = sizeof(h) + (size_t)h.count * sizeof(uint64_t);
	if (len < off) {
		snprintf(err, errlen,
			 "PAGES: %zu bytes, too short for %" PRIu32 " pfns",
			 len, h.count);
		return -EINVAL;
	}
	memcpy(out->pfns, p + sizeof(h), (size_t)h.count * sizeof(uint64_t));
	out->nr_data = 0;
	for (i = 0; i < h.count; i++) {
		frame = out->pfns[i] & ~STREAM_PFN_ZERO;
		if (frame >= nr_pfns) {
			snprintf(err, errlen,
				 "PAGES: pfn 0x%llx is beyond "
				 "the domain's %" PRIu64 " pages",
				 frame, nr_pfns);
			return -EINVAL;
		}
		if (!(out->pfns[i] & STREAM_PFN_ZERO))
			out->nr_data++;
	}
	out->count = h.count;
	rest = len - off;
	want = (size_t)out->nr_data * STREAM_PAGE_SIZE;
	if (h.encoding == STREAM_ENC_RAW || !want) {
		if (rest != want) {
			snprintf(err, errlen,
				 "PAGES: %zu bytes of data for "
				 "%" PRIu32 " pages (%zu needed)",
				 rest, out->nr_data, want);
			return -EINVAL;
		}
		out->data = p + off;
		return 0;
	}
	/* One zstd frame, nothing after it, of exactly the pages' size. */
	z = ZSTD_findFrameCompressedSize(p + off, rest);
	if (ZSTD_isError(z) || z != rest ||
	    ZSTD_getFrameContentSize(p + off, rest) !=
		(unsigned long long)want) {
		snprintf(err, errlen,
			 "PAGES: the data are not one zstd frame "
			 "of %" PRIu32 " pages",
			 out->nr_data);
		return -EINVAL;
	}
	scratch->head = scratch->len = 0;
	if (buf_reserve(scratch, want)) {
		snprintf(err, errlen, "PAGES: out of memory");
		return -ENOMEM;
	}
	z = ZSTD_decompress(scratch->data, want, p + off, rest);
	if (ZSTD_isError(z) || z != want) {
		snprintf(err, errlen, "PAGES: zstd: %s",
			 ZSTD_isError(z) ? ZSTD_getErrorName(z)
					 : "short frame");
		return -EINVAL;
	}
	out->data = scratch->data;
	return 0;
}
