/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the XenStore journal: what xs_store_commit() has written
 * must survive the daemon being killed (the store is freed without a
 * checkpoint and a new store loads the directory), damage at the tail of
 * the log is dropped, a damaged snapshot is refused, one directory has one
 * owner, and compaction keeps everything.
 *
 * The tests look inside tree.log and tree.snap to find their records,
 * following the record layout in journal.c: a 16-byte header, then records
 * of {u32 type, u32 len, len bytes, u32 crc} (types in journal.h), then
 * zeros.  Each batch of changes in the log ends with a COMMIT record, and
 * a snapshot ends with an END record holding its node count.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "harness.h"
#include "journal.h"

#define LOG_HDR_LEN 16u

/* --- a temporary journal directory ------------------------------------- */

static char *tmp_dir(void)
{
	const char *base = getenv("TMPDIR");
	char *dir;

	assert_true(asprintf(&dir, "%s/xs-journal-XXXXXX",
			     base && *base ? base : "/tmp") > 0);
	assert_non_null(mkdtemp(dir));
	return dir;
}

static char *dir_file(const char *dir, const char *name)
{
	char *p;

	assert_true(asprintf(&p, "%s/%s", dir, name) > 0);
	return p;
}

static void rm_dir(char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;

	assert_non_null(d);
	while ((de = readdir(d))) {
		char *p;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		p = dir_file(dir, de->d_name);
		unlink(p);
		free(p);
	}
	closedir(d);
	rmdir(dir);
	free(dir);
}

static int dir_setup(void **state)
{
	*state = tmp_dir();
	return 0;
}

static int dir_teardown(void **state)
{
	rm_dir(*state);
	return 0;
}

static uint8_t *slurp(const char *dir, const char *name, size_t *len)
{
	char *p = dir_file(dir, name);
	struct stat st;
	uint8_t *data;
	int fd = open(p, O_RDONLY);

	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &st), 0);
	data = malloc((size_t)st.st_size + 1);
	assert_non_null(data);
	assert_int_equal(read(fd, data, (size_t)st.st_size), st.st_size);
	close(fd);
	free(p);
	*len = (size_t)st.st_size;
	return data;
}

static void spill(const char *dir, const char *name, const void *data,
		  size_t len)
{
	char *p = dir_file(dir, name);
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	close(fd);
	free(p);
}

/* Write `len` bytes at `off` of an existing file. */
static void poke(const char *dir, const char *name, size_t off,
		 const void *data, size_t len)
{
	char *p = dir_file(dir, name);
	int fd = open(p, O_WRONLY);

	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, data, len, (off_t)off), (ssize_t)len);
	close(fd);
	free(p);
}

/* A record of a journal file, as found by walk_records(). */
struct jrec {
	size_t off; /* where its header starts */
	uint32_t type;
	uint32_t len; /* of its body */
};

/*
 * The valid records of a journal file (after its header), up to `max`;
 * returns how many there are.
 */
static size_t walk_records(const uint8_t *data, size_t len, struct jrec *out,
			   size_t max)
{
	size_t off = LOG_HDR_LEN, n = 0;

	while (off + 12 <= len) {
		uint32_t type, rlen, crc;

		memcpy(&type, data + off, 4);
		memcpy(&rlen, data + off + 4, 4);
		if (!type || rlen > len - off - 12)
			break;
		memcpy(&crc, data + off + 8 + rlen, 4);
		if ((uint32_t)crc32(0L, data + off, 8 + rlen) != crc)
			break;
		if (n < max)
			out[n] = (struct jrec){off, type, rlen};
		n++;
		off += 12 + rlen;
	}
	return n;
}

/* The path of a NODE record (not NUL-terminated), and its length. */
static const char *node_rec_path(const uint8_t *data, const struct jrec *r,
				 uint32_t *plen)
{
	/* u64 gen, u32 pathlen, vlen, nperms, childlen, then the path. */
	assert_int_equal(r->type, J_REC_NODE);
	assert_true(r->len >= 24);
	memcpy(plen, data + r->off + 8 + 8, 4);
	assert_true(*plen <= r->len - 24);
	return (const char *)data + r->off + 8 + 24;
}

static bool node_rec_is(const uint8_t *data, const struct jrec *r,
			const char *path)
{
	uint32_t plen;
	const char *p;

	if (r->type != J_REC_NODE)
		return false;
	p = node_rec_path(data, r, &plen);
	return plen == strlen(path) && !memcmp(p, path, plen);
}

/*
 * Walk tree.log: the offset just past the last valid record, and the offset
 * where the last record starts.
 */
static size_t log_end(const char *dir, size_t *last_start, uint64_t *seq)
{
	size_t len, off = LOG_HDR_LEN, last = 0;
	uint8_t *data = slurp(dir, "tree.log", &len);

	assert_true(len >= LOG_HDR_LEN);
	if (seq)
		memcpy(seq, data + 8, sizeof(*seq));
	while (off + 12 <= len) {
		uint32_t type, rlen, crc;

		memcpy(&type, data + off, 4);
		memcpy(&rlen, data + off + 4, 4);
		if (!type || off + 12 + rlen > len)
			break;
		memcpy(&crc, data + off + 8 + rlen, 4);
		if ((uint32_t)crc32(0L, data + off, 8 + rlen) != crc)
			break;
		last = off;
		off += 12 + rlen;
	}
	free(data);
	if (last_start)
		*last_start = last;
	return off;
}

/* --- stores and requests ----------------------------------------------- */

/* A store that loads `dir` and journals to it, with a dom0 connection. */
static struct env *store_open(const char *dir)
{
	struct xs_store *s = xs_store_new(NULL);

	assert_non_null(s);
	assert_int_equal(xs_store_open_journal(s, dir, false), 0);
	return env_wrap(s);
}

static void expect_missing(struct tconn *c, const char *path)
{
	assert_err(op1(c, XS_READ, 0, path, NULL), "ENOENT");
}

static void commit_and_kill(struct env *e)
{
	assert_int_equal(xs_store_commit(e->s), 0);
	/* No checkpoint: what the daemon leaves behind after kill -9. */
	env_free(e);
}

/* === tests ============================================================= */

static void test_survives_kill(void **state)
{
	static const char bin[] = {'a', '\0', 'b', '\0', '\0', 'c'};
	const char *dir = *state;
	struct env *e = store_open(dir);
	struct tconn *c = e->d0;
	struct xs_domain *d8;
	struct xs_node *n;
	uint32_t tx, nnodes5;

	assert_ok(xs_wrn(c, 0, "/j/bin", bin, sizeof(bin)));
	assert_ok(xs_wr(c, 0, "/j/empty", ""));
	assert_ok(op1(c, XS_MKDIR, 0, "/j/dir", NULL));
	assert_ok(xs_wr(c, 0, "/j/perm", "p"));
	assert_ok(xs_setp(c, 0, "/j/perm", "n0,r5,w7"));
	assert_ok(xs_wr(c, 0, "/j/del", "x"));
	assert_ok(op1(c, XS_RM, 0, "/j/del", NULL));
	assert_ok(xs_wr(c, 0, "/j/sub/a/b", "1"));
	assert_ok(xs_wr(c, 0, "/j/sub/c", "2"));
	assert_ok(op1(c, XS_RM, 0, "/j/sub", NULL));
	assert_ok(xs_wr(c, 0, "/j/over", "1"));
	assert_ok(xs_wr(c, 0, "/j/over", "2"));
	tx = xs_start(c);
	assert_ok(xs_wr(c, tx, "/j/tc", "yes"));
	assert_ok(op1(c, XS_RM, tx, "/j/over", NULL));
	assert_ok(op1(c, XS_TRANSACTION_END, tx, "T", NULL));
	tx = xs_start(c);
	assert_ok(xs_wr(c, tx, "/j/ta", "no"));
	assert_ok(op1(c, XS_RM, tx, "/j/bin", NULL));
	assert_ok(op1(c, XS_TRANSACTION_END, tx, "F", NULL));
	/* An open transaction dies with the daemon. */
	tx = xs_start(c);
	assert_ok(xs_wr(c, tx, "/j/open", "lost"));
	/* Domains. */
	add_domain(e, 5);
	add_domain(e, 6);
	add_domain(e, 7);
	assert_ok(op1(c, XS_RELEASE, 0, "6", NULL));
	assert_ok(opn(c, XS_SET_TARGET, 0, NULL, "7", "5", NULL));
	assert_ok(op1(c, XS_MKDIR, 0, "/local/domain/5", NULL));
	assert_ok(xs_setp(c, 0, "/local/domain/5", "n5"));
	assert_ok(xs_wr(c, 0, "/local/domain/5/a", "1"));
	assert_ok(xs_setp(c, 0, "@introduceDomain", "n0,r5"));
	nnodes5 = domain_get(e->s, 5)->nnodes;
	/* Domain 8 dies: the nodes it owned go, and stay gone. */
	add_domain(e, 8);
	assert_ok(op1(c, XS_MKDIR, 0, "/local/domain/8", NULL));
	assert_ok(xs_setp(c, 0, "/local/domain/8", "n8"));
	assert_ok(xs_wr(c, 0, "/local/domain/8/x/y", "8"));
	assert_ok(xs_wr(c, 0, "/j/by8", "8"));
	assert_ok(xs_setp(c, 0, "/j/by8", "n8"));
	xs_domain_unregister(e->s, 8);
	expect_missing(c, "/j/by8");
	expect_missing(c, "/local/domain/8");
	commit_and_kill(e);

	e = store_open(dir);
	c = e->d0;
	expect_readn(c, 0, "/j/bin", bin, sizeof(bin));
	expect_read(c, 0, "/j/empty", "");
	expect_read(c, 0, "/j/dir", "");
	expect_read(c, 0, "/j/perm", "p");
	expect_perms(c, "/j/perm", "n0,r5,w7");
	expect_missing(c, "/j/del");
	expect_missing(c, "/j/sub");
	expect_missing(c, "/j/sub/a");
	expect_missing(c, "/j/sub/a/b");
	assert_null(xs_table_get(&e->s->nodes, "/j/sub/a/b", 10));
	expect_missing(c, "/j/over");
	expect_read(c, 0, "/j/tc", "yes");
	expect_missing(c, "/j/ta");
	expect_missing(c, "/j/open");
	/* Children in their order, without the removed ones. */
	expect_reply(c, XS_DIRECTORY, 0, "/j", "bin\0empty\0dir\0perm\0tc",
		     sizeof("bin\0empty\0dir\0perm\0tc"));
	/* The defaults are still there. */
	expect_read(c, 0, "/tool/xenstored", "");
	expect_reply(c, XS_IS_DOMAIN_INTRODUCED, 0, "5", "T", 2);
	expect_reply(c, XS_IS_DOMAIN_INTRODUCED, 0, "6", "F", 2);
	expect_reply(c, XS_IS_DOMAIN_INTRODUCED, 0, "7", "T", 2);
	expect_reply(c, XS_IS_DOMAIN_INTRODUCED, 0, "8", "F", 2);
	expect_missing(c, "/j/by8");
	expect_missing(c, "/local/domain/8");
	expect_missing(c, "/local/domain/8/x/y");
	assert_null(xs_table_get(&e->s->nodes, "/local/domain/8/x/y", 19));
	expect_reply(c, XS_DIRECTORY, 0, "/local/domain", "5", 2);
	/* Nothing of 8 is left alive or counted. */
	d8 = domain_get(e->s, 8);
	assert_true(!d8 || (!d8->introduced && !d8->registered && !d8->nnodes));
	assert_non_null(domain_get(e->s, 7));
	assert_int_equal(domain_get(e->s, 7)->target, 5);
	assert_int_equal(domain_get(e->s, 5)->nnodes, nnodes5);
	n = xs_table_get(&e->s->nodes, "@introduceDomain", 16);
	assert_non_null(n);
	assert_int_equal(n->nperms, 2);
	assert_int_equal(n->perms[1].domid, 5);
	assert_int_equal(n->perms[1].access, XS_PERM_READ);
	/* The store goes on from there. */
	assert_ok(xs_wr(c, 0, "/j/after", "a"));
	commit_and_kill(e);

	e = store_open(dir);
	c = e->d0;
	expect_read(c, 0, "/j/after", "a");
	expect_read(c, 0, "/j/tc", "yes");
	expect_reply(c, XS_IS_DOMAIN_INTRODUCED, 0, "5", "T", 2);
	env_free(e);
}

static void test_sync_mode(void **state)
{
	const char *dir = *state;
	struct xs_store *s = xs_store_new(NULL);
	struct env *e;

	assert_int_equal(xs_store_open_journal(s, dir, true), 0);
	e = env_wrap(s);
	assert_ok(xs_wr(e->d0, 0, "/s", "synced"));
	/* The flush path commits before handing output over. */
	xs_store_flush(e->s);
	env_free(e);
	e = store_open(dir);
	expect_read(e->d0, 0, "/s", "synced");
	env_free(e);
}

/* Two committed batches; returns the offset where the second begins. */
static size_t two_batches(const char *dir)
{
	struct env *e = store_open(dir);
	struct tconn *c = e->d0;
	size_t mid;

	assert_ok(xs_wr(c, 0, "/t/a", "1"));
	assert_ok(xs_wr(c, 0, "/t/b", "2"));
	assert_int_equal(xs_store_commit(e->s), 0);
	mid = log_end(dir, NULL, NULL);
	assert_ok(xs_wr(c, 0, "/t/c", "3"));
	commit_and_kill(e);
	assert_true(log_end(dir, NULL, NULL) > mid);
	return mid;
}

/*
 * After damage to the log's tail: /t/a and /t/b (first batch) are there,
 * /t/c (second batch) as `c_kept` says, and the store carries on.
 */
static void check_after_damage(const char *dir, bool c_kept)
{
	struct env *e = store_open(dir);
	struct tconn *c = e->d0;

	expect_read(c, 0, "/t/a", "1");
	expect_read(c, 0, "/t/b", "2");
	if (c_kept)
		expect_read(c, 0, "/t/c", "3");
	else
		expect_missing(c, "/t/c");
	/* The reopened store writes a clean log again. */
	assert_ok(xs_wr(c, 0, "/t/d", "4"));
	commit_and_kill(e);
	e = store_open(dir);
	c = e->d0;
	expect_read(c, 0, "/t/a", "1");
	expect_read(c, 0, "/t/d", "4");
	if (!c_kept)
		expect_missing(c, "/t/c");
	env_free(e);
}

/*
 * The tree after damage is whole: /t lists exactly what exists.  Nothing
 * is committed, so the directory is left as the load found it.
 */
static void check_tree_whole(const char *dir, bool c_kept)
{
	struct env *e = store_open(dir);
	struct tconn *c = e->d0;

	if (c_kept)
		expect_reply(c, XS_DIRECTORY, 0, "/t", "a\0b\0c", 6);
	else
		expect_reply(c, XS_DIRECTORY, 0, "/t", "a\0b", 4);
	/* Creating /t/c now lists it once. */
	assert_ok(xs_wr(c, 0, "/t/c", "5"));
	expect_reply(c, XS_DIRECTORY, 0, "/t", "a\0b\0c", 6);
	env_free(e);
}

static void test_torn_tail_garbage(void **state)
{
	const char *dir = *state;
	uint8_t junk[200];
	uint32_t hdr[2] = {1 /* a node */, 150};
	size_t end, i;

	(void)two_batches(dir);
	end = log_end(dir, NULL, NULL);
	/* A record header whose body and CRC never made it. */
	for (i = 0; i < sizeof(junk); i++)
		junk[i] = (uint8_t)(i * 37 + 11);
	memcpy(junk, hdr, sizeof(hdr));
	poke(dir, "tree.log", end, junk, sizeof(junk));
	check_after_damage(dir, true);
}

static void test_torn_tail_random(void **state)
{
	const char *dir = *state;
	uint8_t junk[4096];
	size_t end, i;

	(void)two_batches(dir);
	end = log_end(dir, NULL, NULL);
	/* Random bytes, a huge length field first. */
	srand(1);
	for (i = 0; i < sizeof(junk); i++)
		junk[i] = (uint8_t)rand();
	junk[0] = 2;
	memset(junk + 4, 0xff, 4);
	poke(dir, "tree.log", end, junk, sizeof(junk));
	check_after_damage(dir, true);
}

/*
 * The second batch of two_batches(), which wrote /t/c, is the record of /t
 * (which now lists "c"), the record of /t/c and a COMMIT.  Find them.
 */
static void second_batch(const char *dir, size_t mid, struct jrec *t,
			 struct jrec *tc, struct jrec *commit)
{
	struct jrec r[64];
	size_t len, n;
	uint8_t *data = slurp(dir, "tree.log", &len);

	n = walk_records(data, len, r, 64);
	assert_true(n >= 4 && n <= 64);
	*t = r[n - 3];
	*tc = r[n - 2];
	*commit = r[n - 1];
	assert_int_equal(t->off, mid);
	assert_true(node_rec_is(data, t, "/t"));
	assert_true(node_rec_is(data, tc, "/t/c"));
	assert_int_equal(commit->type, J_REC_COMMIT);
	assert_int_equal(commit->len, 0);
	free(data);
}

static void truncate_log(const char *dir, size_t at)
{
	char *p = dir_file(dir, "tree.log");

	assert_int_equal(truncate(p, (off_t)at), 0);
	free(p);
}

/* Each batch of changes ends with a COMMIT record, and only a batch. */
static void test_log_batches_commit(void **state)
{
	const char *dir = *state;
	struct jrec r[64], t, tc, commit;
	struct env *e;
	size_t len, n, i, mid, ncommit = 0;
	uint8_t *data;

	mid = two_batches(dir);
	second_batch(dir, mid, &t, &tc, &commit);
	data = slurp(dir, "tree.log", &len);
	n = walk_records(data, len, r, 64);
	for (i = 0; i < n; i++) {
		if (r[i].type != J_REC_COMMIT)
			continue;
		ncommit++;
		/* The first batch ends where the second begins. */
		if (ncommit == 1)
			assert_int_equal(r[i].off + 12, mid);
	}
	assert_int_equal(ncommit, 2);
	assert_int_equal(commit.off + 12, log_end(dir, NULL, NULL));
	free(data);

	/* A commit with nothing to write writes nothing, not even a
	 * COMMIT (the open rewrote the log: measure after it). */
	e = store_open(dir);
	len = log_end(dir, NULL, NULL);
	assert_int_equal(xs_store_commit(e->s), 0);
	assert_int_equal(xs_store_commit(e->s), 0);
	assert_int_equal(log_end(dir, NULL, NULL), len);
	env_free(e);
}

/* Cut inside the COMMIT that closes the second batch. */
static void test_torn_tail_truncated(void **state)
{
	const char *dir = *state;
	struct jrec t, tc, commit;

	second_batch(dir, two_batches(dir), &t, &tc, &commit);
	truncate_log(dir, commit.off + 7);
	check_after_damage(dir, false);
}

/*
 * A batch cut in the middle must not leave half a change: here the record
 * of /t (which now lists "c") made it and the record of /t/c did not.
 * Replay takes whole batches only, so neither is applied.
 */
static void test_torn_batch_tree_whole(void **state)
{
	const char *dir = *state;
	struct jrec t, tc, commit;

	second_batch(dir, two_batches(dir), &t, &tc, &commit);
	truncate_log(dir, tc.off + 12 + tc.len - 3);
	check_tree_whole(dir, false);
}

/* Every record of the batch made it but its COMMIT did not. */
static void test_torn_batch_no_commit(void **state)
{
	const char *dir = *state;
	struct jrec t, tc, commit;

	second_batch(dir, two_batches(dir), &t, &tc, &commit);
	truncate_log(dir, commit.off);
	check_tree_whole(dir, false);
	check_after_damage(dir, false);
}

/* The records are all there, but a byte of the COMMIT is wrong. */
static void test_torn_batch_bad_commit(void **state)
{
	const char *dir = *state;
	struct jrec t, tc, commit;
	uint8_t *data, bad;
	size_t len;

	second_batch(dir, two_batches(dir), &t, &tc, &commit);
	data = slurp(dir, "tree.log", &len);
	bad = data[commit.off + 9] ^ 0x5a; /* in its CRC */
	free(data);
	poke(dir, "tree.log", commit.off + 9, &bad, 1);
	check_tree_whole(dir, false);
}

static void test_torn_tail_zeroed(void **state)
{
	const char *dir = *state;
	static uint8_t zeros[4096];
	size_t mid;

	/* The second batch's pages never reached the disk. */
	mid = two_batches(dir);
	poke(dir, "tree.log", mid, zeros, sizeof(zeros));
	check_tree_whole(dir, false);
	check_after_damage(dir, false);
}

static void test_garbage_appended(void **state)
{
	const char *dir = *state;
	static const char junk[] = "this is not a journal record at all";
	char *p;
	int fd;

	(void)two_batches(dir);
	p = dir_file(dir, "tree.log");
	fd = open(p, O_WRONLY | O_APPEND);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, junk, sizeof(junk)), (ssize_t)sizeof(junk));
	close(fd);
	free(p);
	check_after_damage(dir, true);
}

static void test_bad_record_valid_crc(void **state)
{
	const char *dir = *state;
	uint8_t rec[64];
	uint32_t h[2] = {1 /* a node */, 8}, crc;
	size_t end;

	(void)two_batches(dir);
	end = log_end(dir, NULL, NULL);
	/* Well framed and checksummed, but too short to be a node. */
	memcpy(rec, h, 8);
	memset(rec + 8, 0xab, 8);
	crc = (uint32_t)crc32(0L, rec, 16);
	memcpy(rec + 16, &crc, 4);
	poke(dir, "tree.log", end, rec, 20);
	check_after_damage(dir, true);
}

/* The snapshot's END record: its records' count. */
static struct jrec snap_end(const uint8_t *snap, size_t len)
{
	struct jrec r[256];
	size_t n = walk_records(snap, len, r, 256);

	assert_true(n >= 2 && n <= 256);
	assert_int_equal(r[n - 1].type, J_REC_END);
	assert_int_equal(r[n - 1].len, 8);
	assert_int_equal(r[n - 1].off + 20, len);
	return r[n - 1];
}

/* Write the snapshot with its END count one higher, CRC fixed up. */
static void snap_bad_count(const char *dir, const uint8_t *snap, size_t len,
			   uint8_t *bad)
{
	struct jrec end = snap_end(snap, len);
	uint64_t count;
	uint32_t crc;

	memcpy(bad, snap, len);
	memcpy(&count, bad + end.off + 8, 8);
	count++;
	memcpy(bad + end.off + 8, &count, 8);
	crc = (uint32_t)crc32(0L, bad + end.off, 16);
	memcpy(bad + end.off + 16, &crc, 4);
	spill(dir, "tree.snap", bad, len);
}

/* Write the snapshot without the NODE record of `path`. */
static void snap_drop_node(const char *dir, const uint8_t *snap, size_t len,
			   uint8_t *bad, const char *path)
{
	struct jrec r[256];
	size_t n = walk_records(snap, len, r, 256), i, rl;

	(void)snap_end(snap, len);
	for (i = 0; i < n; i++)
		if (node_rec_is(snap, &r[i], path))
			break;
	assert_true(i < n);
	rl = 12 + r[i].len;
	memcpy(bad, snap, r[i].off);
	memcpy(bad + r[i].off, snap + r[i].off + rl, len - r[i].off - rl);
	/* Still a sequence of valid records ending in END. */
	assert_int_equal(walk_records(bad, len - rl, r, 256), n - 1);
	spill(dir, "tree.snap", bad, len - rl);
}

static void test_corrupt_snapshot(void **state)
{
	const char *dir = *state;
	struct env *e = store_open(dir);
	struct tconn *c = e->d0;
	struct xs_store *s;
	uint8_t *snap, *bad;
	size_t len;
	int i;

	for (i = 0; i < 50; i++) {
		char path[32];

		snprintf(path, sizeof(path), "/snap/n%d", i);
		assert_ok(xs_wr(c, 0, path, "value"));
	}
	assert_int_equal(xs_store_checkpoint(e->s), 0);
	env_free(e);
	snap = slurp(dir, "tree.snap", &len);
	assert_true(len > 1000);
	bad = malloc(len);
	assert_non_null(bad);

	/* One flipped byte in the middle. */
	memcpy(bad, snap, len);
	bad[len / 2] ^= 0x40;
	spill(dir, "tree.snap", bad, len);
	s = xs_store_new(NULL);
	assert_int_equal(xs_store_open_journal(s, dir, false), -EINVAL);
	xs_store_free(s);

	/* Cut short: no end record. */
	spill(dir, "tree.snap", snap, len / 3);
	s = xs_store_new(NULL);
	assert_int_equal(xs_store_open_journal(s, dir, false), -EINVAL);
	xs_store_free(s);

	/* Not a snapshot at all. */
	memcpy(bad, snap, len);
	memcpy(bad, "XXXX", 4);
	spill(dir, "tree.snap", bad, len);
	s = xs_store_new(NULL);
	assert_int_equal(xs_store_open_journal(s, dir, false), -EINVAL);
	xs_store_free(s);

	/* Shorter than a header. */
	spill(dir, "tree.snap", snap, 5);
	s = xs_store_new(NULL);
	assert_int_equal(xs_store_open_journal(s, dir, false), -EINVAL);
	xs_store_free(s);

	/* Every record intact, but the END's node count is wrong. */
	snap_bad_count(dir, snap, len, bad);
	s = xs_store_new(NULL);
	assert_int_equal(xs_store_open_journal(s, dir, false), -EINVAL);
	xs_store_free(s);

	/* A whole, well checksummed record missing from the middle. */
	snap_drop_node(dir, snap, len, bad, "/snap/n7");
	s = xs_store_new(NULL);
	assert_int_equal(xs_store_open_journal(s, dir, false), -EINVAL);
	xs_store_free(s);

	/* A failed open leaves the directory unlocked and unharmed. */
	spill(dir, "tree.snap", snap, len);
	e = store_open(dir);
	expect_read(e->d0, 0, "/snap/n49", "value");
	env_free(e);
	free(bad);
	free(snap);
}

static void test_busy(void **state)
{
	const char *dir = *state;
	struct env *e1 = store_open(dir), *e2;
	struct xs_store *s2 = xs_store_new(NULL);

	assert_ok(xs_wr(e1->d0, 0, "/owner", "s1"));
	assert_int_equal(xs_store_commit(e1->s), 0);
	assert_int_equal(xs_store_open_journal(s2, dir, false), -EBUSY);
	/* The loser did not touch the directory. */
	xs_store_free(s2);
	env_free(e1);
	e2 = store_open(dir);
	expect_read(e2->d0, 0, "/owner", "s1");
	env_free(e2);
}

static void test_checkpoint(void **state)
{
	const char *dir = *state;
	struct env *e = store_open(dir);
	struct tconn *c = e->d0;
	uint64_t seq1, seq2;
	char *p;

	assert_ok(xs_wr(c, 0, "/cp/a", "1"));
	assert_ok(xs_wr(c, 0, "/cp/gone", "1"));
	assert_ok(op1(c, XS_RM, 0, "/cp/gone", NULL));
	add_domain(e, 9);
	assert_int_equal(xs_store_commit(e->s), 0);
	(void)log_end(dir, NULL, &seq1);
	assert_int_equal(xs_store_checkpoint(e->s), 0);
	/* A new snapshot and an empty log that belongs to it. */
	assert_int_equal(log_end(dir, NULL, &seq2), LOG_HDR_LEN);
	assert_true(seq2 > seq1);
	env_free(e);

	/* Everything is in the snapshot: the log is not needed. */
	p = dir_file(dir, "tree.log");
	assert_int_equal(unlink(p), 0);
	free(p);
	e = store_open(dir);
	c = e->d0;
	expect_read(c, 0, "/cp/a", "1");
	expect_missing(c, "/cp/gone");
	expect_reply(c, XS_IS_DOMAIN_INTRODUCED, 0, "9", "T", 2);
	/* Changes after a checkpoint go to the log. */
	assert_int_equal(xs_store_checkpoint(e->s), 0);
	assert_ok(xs_wr(c, 0, "/cp/b", "2"));
	assert_ok(op1(c, XS_RM, 0, "/cp/a", NULL));
	commit_and_kill(e);
	e = store_open(dir);
	c = e->d0;
	expect_read(c, 0, "/cp/b", "2");
	expect_missing(c, "/cp/a");
	env_free(e);
}

static void test_stale_log_ignored(void **state)
{
	const char *dir = *state;
	struct env *e = store_open(dir);
	struct tconn *c = e->d0;
	uint8_t *old;
	size_t len;

	assert_ok(xs_wr(c, 0, "/x", "old"));
	assert_int_equal(xs_store_commit(e->s), 0);
	old = slurp(dir, "tree.log", &len);
	assert_ok(xs_wr(c, 0, "/x", "new"));
	assert_int_equal(xs_store_checkpoint(e->s), 0);
	env_free(e);
	/* A crash between the snapshot and the new log leaves the old log,
	 * whose records are already in the snapshot (and older). */
	spill(dir, "tree.log", old, len);
	e = store_open(dir);
	expect_read(e->d0, 0, "/x", "new");
	env_free(e);
	free(old);
}

static void test_compaction(void **state)
{
	enum { KEYS = 40, VLEN = 3000, WRITES = 6200 };
	const char *dir = *state;
	struct env *e = store_open(dir);
	struct tconn *c = e->d0;
	static char val[VLEN + 1];
	char path[32];
	uint64_t seq0, seq;
	size_t end;
	int i;

	(void)log_end(dir, NULL, &seq0);
	for (i = 0; i < WRITES; i++) {
		snprintf(path, sizeof(path), "/big/k%d", i % KEYS);
		memset(val, 'a' + i % 26, VLEN);
		snprintf(val, sizeof(val), "%d:", i);
		val[strlen(val)] = '-';
		assert_ok(xs_wrn(c, 0, path, val, VLEN));
		/* As the daemon does after each batch. */
		xs_store_flush(e->s);
	}
	/* More than 16 MiB went through the log, so it was compacted. */
	end = log_end(dir, NULL, &seq);
	assert_true(seq > seq0);
	assert_true(end < (size_t)WRITES * VLEN / 2);
	assert_ok(xs_wr(c, 0, "/big/last", "L"));
	commit_and_kill(e);

	e = store_open(dir);
	c = e->d0;
	for (i = WRITES - KEYS; i < WRITES; i++) {
		snprintf(path, sizeof(path), "/big/k%d", i % KEYS);
		memset(val, 'a' + i % 26, VLEN);
		snprintf(val, sizeof(val), "%d:", i);
		val[strlen(val)] = '-';
		expect_readn(c, 0, path, val, VLEN);
	}
	expect_read(c, 0, "/big/last", "L");
	assert_ok(op1(c, XS_DIRECTORY, 0, "/big", &scratch));
	assert_int_equal(scratch.body[0], 'k');
	env_free(e);
}

/* --- rings: domains' connections made by the attach hook -------------- */

static struct xs_conn *ring_attach(void *opaque, uint32_t domid, uint64_t gfn,
				   uint32_t port)
{
	(void)gfn;
	(void)port;
	return tc_new(opaque, domid)->c;
}

static void ring_detach(void *opaque, uint32_t domid, struct xs_conn *c)
{
	struct env *e = opaque;
	unsigned int i;

	(void)domid;
	for (i = 0; i < e->nconns; i++)
		if (e->conns[i]->c == c)
			e->conns[i]->c = NULL;
	xs_conn_free(c);
}

/* A store whose domains get a ring connection, as the daemon's do. */
static struct env *store_open_rings(const char *dir)
{
	struct env *e = store_open(dir);
	struct xs_domain_hooks h = {
		.attach = ring_attach,
		.detach = ring_detach,
		.opaque = e,
	};

	xs_store_set_domain_hooks(e->s, &h);
	return e;
}

static struct tconn *ring_of(struct env *e, uint32_t domid)
{
	struct xs_domain *d = domain_get(e->s, domid);
	unsigned int i;

	assert_non_null(d);
	assert_non_null(d->conn);
	for (i = 0; i < e->nconns; i++)
		if (e->conns[i]->c == d->conn)
			return e->conns[i];
	fail_msg("dom%u: no ring", domid);
	return NULL;
}

/* The hypervisor registers domid again after a restart: its ring. */
static struct tconn *ring_again(struct env *e, uint32_t domid)
{
	assert_int_equal(xs_domain_register(e->s, domid), 0);
	return ring_of(e, domid);
}

static void home_of(struct env *e, uint32_t domid)
{
	char home[64], owner[16];

	snprintf(home, sizeof(home), "/local/domain/%u", domid);
	snprintf(owner, sizeof(owner), "n%u", domid);
	assert_ok(xs_mk(e->d0, 0, home));
	assert_ok(xs_setp(e->d0, 0, home, owner));
}

/*
 * A guest sets its watches once: those of a domain's ring outlive the
 * daemon (kill -9, a snapshot, a compaction), come back when the
 * hypervisor registers the domain again, and fire once then.  Removed
 * and reset watches stay gone; those of a domain that died, and a
 * socket's, are not kept.
 */
static void test_ring_watches_survive_kill(void **state)
{
	const char *dir = *state;
	struct env *e = store_open_rings(dir);
	struct tconn *g5, *g6, *g7, *g8;
	struct xs_domain *d;

	add_domain(e, 5);
	add_domain(e, 6);
	add_domain(e, 7);
	add_domain(e, 8);
	home_of(e, 5);
	discard_events(e->d0);
	g5 = ring_of(e, 5);
	g6 = ring_of(e, 6);
	g7 = ring_of(e, 7);
	g8 = ring_of(e, 8);
	expect_watch(g5, "control/shutdown", "shutdown");
	expect_watch(g5, "@releaseDomain", "rel");
	expect_watch(g5, "/local/domain/5/gone", "g");
	assert_ok(xs_unwatch(g5, "/local/domain/5/gone", "g"));
	expect_watch(g6, "/local/domain/6", "six");
	assert_ok(op1(g6, XS_RESET_WATCHES, 0, "", NULL));
	expect_watch(g7, "/local/domain/7", "seven");
	expect_watch(g8, "/local/domain/8", "eight");
	expect_watch(e->d0, "/local/domain/5/control", "d0");
	xs_domain_unregister(e->s, 7);
	discard_events(g5);
	commit_and_kill(e);

	e = store_open_rings(dir);
	/* Kept until the hypervisor is back; the guest gets them then. */
	d = domain_get(e->s, 5);
	assert_non_null(d);
	assert_null(d->conn);
	assert_false(list_empty(&d->watches));
	g5 = ring_again(e, 5);
	assert_true(list_empty(&d->watches));
	assert_int_equal(g5->c->nwatches, 2);
	expect_events_unordered(g5, "control/shutdown", "shutdown",
				"@releaseDomain", "rel", NULL);
	g6 = ring_again(e, 6);
	expect_no_event(g6);
	d = domain_get(e->s, 7);
	assert_true(!d || list_empty(&d->watches));
	/* They work: the relative one says a relative path. */
	assert_ok(xs_wr(e->d0, 0, "/local/domain/5/control/shutdown", "off"));
	expect_only_event(g5, "control/shutdown", "shutdown");
	expect_no_event(e->d0);
	/* Domain 8 is not back yet: its watch goes into the snapshot. */
	assert_int_equal(xs_store_checkpoint(e->s), 0);
	commit_and_kill(e);

	e = store_open_rings(dir);
	g5 = ring_again(e, 5);
	expect_events_unordered(g5, "control/shutdown", "shutdown",
				"@releaseDomain", "rel", NULL);
	g8 = ring_again(e, 8);
	expect_only_event(g8, "/local/domain/8", "eight");
	/* Gone with the domain, and with RELEASE. */
	xs_domain_unregister(e->s, 8);
	assert_ok(op1(e->d0, XS_RELEASE, 0, "5", NULL));
	commit_and_kill(e);

	e = store_open_rings(dir);
	d = domain_get(e->s, 5);
	assert_true(!d || (!d->introduced && list_empty(&d->watches)));
	d = domain_get(e->s, 8);
	assert_true(!d || (!d->introduced && list_empty(&d->watches)));
	env_free(e);
}

/* Each test gets a fresh directory, removed even when the test fails. */
#define DIR_TEST(fn)                                                           \
	cmocka_unit_test_setup_teardown(fn, dir_setup, dir_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		DIR_TEST(test_survives_kill),
		DIR_TEST(test_sync_mode),
		DIR_TEST(test_torn_tail_garbage),
		DIR_TEST(test_torn_tail_random),
		DIR_TEST(test_log_batches_commit),
		DIR_TEST(test_torn_tail_truncated),
		DIR_TEST(test_torn_batch_tree_whole),
		DIR_TEST(test_torn_batch_no_commit),
		DIR_TEST(test_torn_batch_bad_commit),
		DIR_TEST(test_torn_tail_zeroed),
		DIR_TEST(test_garbage_appended),
		DIR_TEST(test_bad_record_valid_crc),
		DIR_TEST(test_corrupt_snapshot),
		DIR_TEST(test_busy),
		DIR_TEST(test_checkpoint),
		DIR_TEST(test_stale_log_ignored),
		DIR_TEST(test_compaction),
		DIR_TEST(test_ring_watches_survive_kill),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
