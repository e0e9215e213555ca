/* SPDX-License-Identifier: MIT */
/*
 * Fuzz the journal loader (journal.c): whatever lies in tree.snap and
 * tree.log, opening the store must fail cleanly or load a tree the store
 * can serve and write back.
 *
 * Input: <flags> <seq> <split16 le> <body>.  The body is cut at `split`:
 * the first part becomes tree.snap, the rest tree.log.  Flags:
 *
 *   0x01  write tree.snap         0x02  write tree.log
 *   0x04  give the snapshot a valid header (magic, version, seq)
 *   0x08  give the log a valid header
 *   0x10  the log's seq is the snapshot's (else seq + 1: a stale log)
 *   0x20  fix the CRC of every record, so replay reaches the decoders
 *   0x40  after loading, walk the tree over the wire, change it, write
 *         a checkpoint and load that again (which must succeed)
 *   0x80  open with sync
 *
 * The files go to a private directory under $FUZZ_TMPDIR (else /dev/shm,
 * else /tmp), emptied after every input and removed at exit.  The record
 * layout mirrors journal.c's; the constants are repeated here on purpose,
 * as the on-disk format must not change under us unnoticed.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <xen/io/xs_wire.h>

#include "../common/log.h"
#include "store.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define J_MAGIC_SNAP 0x50414e53u /* "SNAP" */
#define J_MAGIC_LOG 0x474f4c58u	 /* "XLOG" */
#define J_VERSION 1u
#define REC_HDR 8u /* type, len */
#define REC_CRC 4u
#define HDR_SIZE sizeof(struct xsd_sockmsg)
#define WALK_MAX 48

enum {
	F_SNAP = 0x01,
	F_LOG = 0x02,
	F_SNAP_HDR = 0x04,
	F_LOG_HDR = 0x08,
	F_SAME_SEQ = 0x10,
	F_FIX_CRC = 0x20,
	F_USE = 0x40,
	F_SYNC = 0x80,
};

struct j_header {
	uint32_t magic;
	uint32_t version;
	uint64_t seq;
};

static char base_dir[4096], jdir[4200];

static void dir_empty(const char *dir, bool remove)
{
	struct dirent *de;
	DIR *d = opendir(dir);
	char p[4400];

	if (!d)
		return;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
		unlink(p);
	}
	closedir(d);
	if (remove)
		rmdir(dir);
}

static void cleanup(void)
{
	dir_empty(jdir, true);
	rmdir(base_dir);
}

static void fix_crcs(uint8_t *p, size_t len)
{
	size_t off = 0;

	while (len - off >= REC_HDR + REC_CRC) {
		uint32_t rlen, crc;

		memcpy(&rlen, p + off + 4, 4);
		if (rlen > len - off - REC_HDR - REC_CRC)
			break;
		crc = (uint32_t)crc32(0L, p + off, (uInt)(REC_HDR + rlen));
		memcpy(p + off + REC_HDR + rlen, &crc, 4);
		off += REC_HDR + rlen + REC_CRC;
	}
}

static void write_file(const char *name, bool hdr, uint32_t magic,
		       uint64_t seq, const uint8_t *body, size_t len,
		       bool fix)
{
	struct j_header h = {magic, J_VERSION, seq};
	uint8_t *buf = malloc(sizeof(h) + len + 1);
	size_t off = 0;
	char path[4400];
	int fd;

	if (!buf)
		abort();
	if (hdr) {
		memcpy(buf, &h, sizeof(h));
		off = sizeof(h);
	}
	if (len)
		memcpy(buf + off, body, len);
	if (fix)
		fix_crcs(buf + off, len);
	snprintf(path, sizeof(path), "%s/%s", jdir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || write(fd, buf, off + len) != (ssize_t)(off + len)) {
		perror("fuzz_journal: write");
		abort();
	}
	close(fd);
	free(buf);
}

static void drop_output(struct xs_conn *c)
{
	size_t len;

	xs_conn_output(c, &len);
	xs_conn_output_done(c, len);
}

static void conn_flush(struct xs_conn *c)
{
	(void)c;
}

static const struct xs_conn_ops fuzz_ops = {
	.kind = "fuzz",
	.flush = conn_flush,
};

/*
 * One request, one reply (no watches are set, so nothing else is queued).
 * Returns the reply type, or -1; the payload is copied to out (NUL added).
 */
static int request(struct xs_conn *c, uint32_t type, const void *payload,
		   uint32_t len, char *out, uint32_t *outlen)
{
	struct xsd_sockmsg h = {.type = type, .req_id = 1, .len = len};
	const uint8_t *rp;
	uint8_t *dst;
	size_t room, rlen;

	dst = xs_conn_input_space(c, &room);
	if (room < HDR_SIZE + len)
		return -1;
	memcpy(dst, &h, HDR_SIZE);
	memcpy(dst + HDR_SIZE, payload, len);
	if (xs_conn_input_done(c, HDR_SIZE + len) < 0)
		abort(); /* well-formed requests must not break the link */
	rp = xs_conn_output(c, &rlen);
	if (rlen < HDR_SIZE)
		abort(); /* every request gets a reply */
	memcpy(&h, rp, HDR_SIZE);
	if (h.len > XENSTORE_PAYLOAD_MAX || rlen != HDR_SIZE + h.len)
		abort();
	if (out) {
		memcpy(out, rp + HDR_SIZE, h.len);
		out[h.len] = '\0';
		*outlen = h.len;
	}
	xs_conn_output_done(c, rlen);
	return (int)h.type;
}

/*
 * Serve the loaded tree: list and read it breadth-first, as dom0, then
 * change it and checkpoint.
 */
static void use_store(struct xs_store *s)
{
	static char queue[WALK_MAX][XENSTORE_ABS_PATH_MAX + 8];
	static char reply[XENSTORE_PAYLOAD_MAX + 1];
	unsigned int head = 0, tail = 0;
	struct xs_conn *c = xs_conn_new(s, 0, &fuzz_ops, NULL);
	uint32_t rlen, off;
	char first[XENSTORE_ABS_PATH_MAX + 8] = "";

	if (!c)
		return;
	strcpy(queue[tail++], "/");
	while (head < tail) {
		const char *path = queue[head++];
		size_t plen = strlen(path);

		(void)request(c, XS_READ, path, (uint32_t)plen + 1, NULL, NULL);
		(void)request(c, XS_GET_PERMS, path, (uint32_t)plen + 1, NULL,
			      NULL);
		if (request(c, XS_DIRECTORY, path, (uint32_t)plen + 1, reply,
			    &rlen) != XS_DIRECTORY)
			continue;
		for (off = 0; off < rlen && tail < WALK_MAX;
		     off += (uint32_t)strlen(reply + off) + 1) {
			char *child = queue[tail];
			int n = snprintf(child, sizeof(queue[0]), "%s/%s",
				     strcmp(path, "/") ? path : "",
				     reply + off);
			if (n <= 0 || (size_t)n >= sizeof(queue[0]))
				continue;
			if (!first[0])
				strcpy(first, child);
			tail++;
		}
	}
	(void)request(c, XS_WRITE, "/fuzz/k\0v", 9, NULL, NULL);
	if (first[0])
		(void)request(c, XS_RM, first, (uint32_t)strlen(first) + 1,
			      NULL, NULL);
	(void)request(c, XS_CONTROL, "stats", 6, NULL, NULL);
	drop_output(c);
	xs_conn_free(c);
	if (xs_store_checkpoint(s)) {
		fprintf(stderr, "fuzz_journal: checkpoint failed\n");
		abort();
	}
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *tmp = getenv("FUZZ_TMPDIR");

	(void)argc;
	(void)argv;
	log_init("fuzz_journal", LOG_LVL_ERR);
	if (!tmp || !*tmp)
		tmp = access("/dev/shm", W_OK) ? "/tmp" : "/dev/shm";
	snprintf(base_dir, sizeof(base_dir), "%s/fuzz_journal.XXXXXX", tmp);
	if (!mkdtemp(base_dir)) {
		perror("fuzz_journal: mkdtemp");
		abort();
	}
	snprintf(jdir, sizeof(jdir), "%s/j", base_dir);
	atexit(cleanup);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct xs_store *s;
	unsigned int flags;
	uint64_t seq;
	size_t split;
	int rc;

	if (size < 4)
		return 0;
	flags = data[0];
	seq = data[1];
	split = (size_t)(data[2] | data[3] << 8);
	data += 4;
	size -= 4;
	if (split > size)
		split = size;
	if (mkdir(jdir, 0700) && errno != EEXIST)
		abort();
	if (flags & F_SNAP)
		write_file("tree.snap", flags & F_SNAP_HDR, J_MAGIC_SNAP, seq,
			   data, split, flags & F_FIX_CRC);
	if (flags & F_LOG)
		write_file("tree.log", flags & F_LOG_HDR, J_MAGIC_LOG,
			   flags & F_SAME_SEQ ? seq : seq + 1, data + split,
			   size - split, flags & F_FIX_CRC);

	s = xs_store_new(NULL);
	if (!s)
		abort();
	rc = xs_store_open_journal(s, jdir, flags & F_SYNC);
	if (!rc && (flags & F_USE)) {
		use_store(s);
		xs_store_free(s);
		/* What the store wrote itself must load again. */
		s = xs_store_new(NULL);
		if (!s)
			abort();
		if (xs_store_open_journal(s, jdir, false)) {
			fprintf(stderr, "fuzz_journal: the store cannot load "
					"its own checkpoint\n");
			abort();
		}
	}
	xs_store_free(s);
	dir_empty(jdir, false);
	return 0;
}
