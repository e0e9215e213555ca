/* SPDX-License-Identifier: MIT */
/*
 * The migration stream's framing (docs/migration-stream.md): a 32-byte
 * header, then records {u32 type, u32 flags, u64 length, payload}, ending
 * with END, whose CRC-32 (zlib's) covers every byte before END's header.
 *
 * The writer buffers on an fd (short writes, EINTR) and batches guest
 * pages into PAGES records, zero pages as a flag on their pfn, the rest
 * raw or, with `compress`, as one zstd frame a record.
 *
 * The reader takes its input as hostile: magic, version, flags, record
 * types, order and counts, every length (against the limits and, for a
 * file or a buffer, against what is left), EOF inside a record, the
 * checksum, and nothing after END.  A refusal leaves one line in
 * `err` that names the record and the offset.  It reads from an fd or
 * from memory (the fuzz harness); it knows nothing of domains.
 */
#ifndef XENIA_VMM_STREAM_H
#define XENIA_VMM_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define STREAM_MAGIC "XENIA-MIGRATE\0\0\0"
#define STREAM_MAGIC_LEN 16
#define STREAM_VERSION 1u
#define STREAM_FLAG_LIVE 0x1u

enum stream_type {
	STREAM_CONFIG = 1,
	STREAM_PAGES = 2,
	STREAM_PAUSED = 3,
	STREAM_VMM_STATE = 4,
	STREAM_DEVICE = 5,
	STREAM_XENSTORE = 6,
	STREAM_END = 7,
};

/* Limits a reader enforces (and a writer keeps to). */
#define STREAM_RECORD_MAX (64u << 20)
#define STREAM_PAGES_MAX 1024u
#define STREAM_JSON_MAX (1u << 20)
#define STREAM_DEVICES_MAX 64u
#define STREAM_XS_NODES_MAX 4096u
#define STREAM_XS_PATH_MAX 3072u
#define STREAM_XS_VALUE_MAX 4096u
#define STREAM_XS_WATCHES_MAX 1024u

#define STREAM_PAGE_SIZE 4096u
/* A pfn with this bit is an all-zero page: no data follows for it. */
#define STREAM_PFN_ZERO (1ull << 63)
#define STREAM_ENC_RAW 0u
#define STREAM_ENC_ZSTD 1u

struct stream_header {
	char magic[STREAM_MAGIC_LEN];
	uint32_t version;
	uint32_t flags;
	uint64_t ram_size;
};

struct stream_record_hdr {
	uint32_t type;
	uint32_t flags;
	uint64_t length;
};

struct stream_end {
	uint32_t crc;
	uint32_t zero;
	uint64_t bytes;
};

struct stream_pages_hdr {
	uint32_t count;
	uint32_t encoding;
};

/* The name of a record type, "type 9" style for unknown ones. */
const char *stream_type_name(uint32_t type);

/* --- writing ------------------------------------------------------------ */

struct stream_writer {
	int fd;
	bool not_socket; /* learnt at the first write */
	int err; /* the first error; every later call returns it */
	uint8_t *out;
	size_t out_len;
	uint32_t crc; /* of every byte written so far */
	uint64_t bytes;
	bool compress;
	void *zctx; /* ZSTD_CCtx, with compress */
	/* The PAGES record being gathered. */
	uint64_t pfns[STREAM_PAGES_MAX];
	uint32_t nr_pfns;
	uint8_t *data; /* STREAM_PAGES_MAX pages */
	size_t data_len;
	uint8_t *zbuf;
	size_t zcap;
	uint64_t pages; /* pages written, zero ones included */
};

/* 0 or -ENOMEM (-ENOTSUP: compress without zstd). */
int stream_writer_init(struct stream_writer *w, int fd, bool compress)
    __attribute__((warn_unused_result));
void stream_writer_free(struct stream_writer *w);

int stream_put_header(struct stream_writer *w, uint32_t flags,
		      uint64_t ram_size) __attribute__((warn_unused_result));
/* One record (pending pages go first).  0 or -errno. */
int stream_put_record(struct stream_writer *w, uint32_t type,
		      const void *payload, size_t len)
    __attribute__((warn_unused_result));
/* Adds a page to the PAGES record being gathered; page: 4096 bytes. */
int stream_put_page(struct stream_writer *w, uint64_t pfn, const void *page)
    __attribute__((warn_unused_result));
/* Writes the pending PAGES record, if any. */
int stream_flush_pages(struct stream_writer *w)
    __attribute__((warn_unused_result));
/* Pending pages, then everything buffered reaches the fd. */
int stream_flush(struct stream_writer *w) __attribute__((warn_unused_result));
/* END, then everything buffered reaches the fd (not fsync'd). */
int stream_put_end(struct stream_writer *w) __attribute__((warn_unused_result));

/* --- reading ------------------------------------------------------------ */

struct stream_reader {
	int fd; /* -1: reading mem */
	bool is_socket; /* what follows END is not the stream's */
	const uint8_t *mem;
	size_t mem_len;
	uint8_t *in; /* fd read buffer */
	size_t in_off, in_len;
	uint64_t left; /* bytes known to remain, or UINT64_MAX */
	uint64_t off;  /* of the next byte, from the start */
	uint32_t crc;
	/* The header. */
	uint32_t flags;
	uint64_t ram_size;
	/* Order: what came so far. */
	unsigned int phase;
	bool paused;
	unsigned int nr_devices;
	unsigned int nr_records;
	char err[256];
};

/* From fd (its current offset; a regular file's size bounds records). */
int stream_reader_init_fd(struct stream_reader *r, int fd)
    __attribute__((warn_unused_result));
void stream_reader_init_mem(struct stream_reader *r, const void *p, size_t len);
void stream_reader_free(struct stream_reader *r);

/* Reads and checks the header: r->flags, r->ram_size.  0 or -EINVAL. */
int stream_read_header(struct stream_reader *r)
    __attribute__((warn_unused_result));
/*
 * The next record, its payload in *payload (replaced).  Checks type,
 * flags, length, order and counts; for END the checksum and that nothing
 * follows.  0 (END included: *type says) or -errno with r->err set.
 */
int stream_read_record(struct stream_reader *r, uint32_t *type,
		       struct buf *payload) __attribute__((warn_unused_result));

/*
 * A PAGES payload, checked: count 1..1024, a known encoding, every pfn
 * below nr_pfns, exactly the data its non-zero pages need (after
 * decompression into *scratch).  Then page i of the record is pfns[i]
 * (STREAM_PFN_ZERO set: zeros), its data, if any, at data + 4096 * k
 * for the k-th non-zero page.  0 or -EINVAL with err set.
 */
struct stream_pages {
	uint32_t count;
	uint64_t pfns[STREAM_PAGES_MAX];
	const uint8_t *data;
	uint32_t nr_data;
};
int stream_pages_parse(const void *payload, size_t len, uint64_t nr_pfns,
		       struct stream_pages *out, struct buf *scratch, char *err,
		       size_t errlen) __attribute__((warn_unused_result));

#endif
