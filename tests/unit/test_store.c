/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the XenStore wire operations, driven in-process: each test
 * builds a store, opens connections for dom0 and for unprivileged domains,
 * feeds them Xen wire messages and checks the replies and watch events
 * against the behaviour of Xen's C xenstored (the harness is harness.h).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "harness.h"

/* A store whose quotas are the defaults but for one "name=value". */
static struct env *env_quota(const char *setting)
{
	struct xs_quota q;

	xs_quota_defaults(&q);
	assert_int_equal(xs_quota_parse(&q, setting), 0);
	return env_new(&q);
}

static void fill(char *buf, size_t len, char ch)
{
	memset(buf, ch, len);
	buf[len] = '\0';
}

/* Write "x" to <prefix>0 ... <prefix><n - 1>, which must succeed. */
static void write_keys(struct tconn *t, uint32_t tx, const char *prefix,
		       int n)
{
	char path[64];
	int i;

	for (i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s%d", prefix, i);
		assert_ok(xs_wr(t, tx, path, "x"));
	}
}

/* === read, write, mkdir ================================================ */

static void test_read_write(void **state)
{
	static const char bin[] = {'x', '\0', 'y', '\0', '\0', 'z'};
	struct env *e = env_new(NULL);
	struct tconn *d0 = e->d0;

	(void)state;
	assert_ok(xs_wr(d0, 0, "/a/b", "hello"));
	expect_read(d0, 0, "/a/b", "hello");
	/* The implicit parent exists with an empty value. */
	expect_read(d0, 0, "/a", "");
	/* Values are raw bytes: embedded NULs, no terminator. */
	assert_ok(xs_wrn(d0, 0, "/a/bin", bin, sizeof(bin)));
	expect_readn(d0, 0, "/a/bin", bin, sizeof(bin));
	/* No value at all. */
	assert_ok(op1(d0, XS_WRITE, 0, "/a/empty", NULL));
	expect_read(d0, 0, "/a/empty", "");
	assert_ok(xs_wr(d0, 0, "/a/b", "bye"));
	expect_read(d0, 0, "/a/b", "bye");
	/* A relative path from dom0 lands under /local/domain/0. */
	assert_ok(xs_wr(d0, 0, "rel/x", "r"));
	expect_read(d0, 0, "/local/domain/0/rel/x", "r");
	expect_read(d0, 0, "rel/x", "r");
	env_free(e);
}

static void test_read_errors(void **state)
{
	struct env *e = env_new(NULL);
	struct tconn *d0 = e->d0;

	(void)state;
	assert_ok(xs_wr(d0, 0, "/a", "1"));
	assert_err(xs_rd(d0, 0, "/nope", NULL), "ENOENT");
	assert_err(xs_rd(d0, 0, "/nope/deeper", NULL), "ENOENT");
	assert_err(xs_rd(d0, 0, "/a/b//c", NULL), "EINVAL");
	assert_err(xs_rd(d0, 0, "/a/", NULL), "EINVAL");
	assert_err(xs_rd(d0, 0, "", NULL), "EINVAL");
	assert_err(xs_rd(d0, 0, "/a b", NULL), "EINVAL");
	assert_err(xs_rd(d0, 0, "@introduceDomain", NULL), "EINVAL");
	/* Not NUL-terminated, two arguments, no payload at all. */
	assert_err(request(d0, XS_READ, 0, "/a", 2, NULL), "EINVAL");
	assert_err(opn(d0, XS_READ, 0, NULL, "/a", "x", NULL), "EINVAL");
	assert_err(request(d0, XS_READ, 0, NULL, 0, NULL), "EINVAL");
	env_free(e);
}

static void test_write_errors(void **state)
{
	struct env *e = env_new(NULL);
	struct tconn *d0 = e->d0;

	(void)state;
	/* The path must be NUL-terminated. */
	assert_err(request(d0, XS_WRITE, 0, "/a", 2, NULL), "EINVAL");
	assert_err(request(d0, XS_WRITE, 0, NULL, 0, NULL), "EINVAL");
	assert_err(xs_wr(d0, 0, "/a/", "v"), "EINVAL");
	assert_err(xs_wr(d0, 0, "/a//b", "v"), "EINVAL");
	assert_err(xs_wr(d0, 0, "/a.b", "v"), "EINVAL");
	assert_err(xs_wr(d0, 0, "", "v"), "EINVAL");
	assert_err(xs_wr(d0, 0, "@introduceDomain", "v"), "EINVAL");
	assert_err(xs_rd(d0, 0, "/a", NULL), "ENOENT");
	env_free(e);
}

static void test_write_max_payload(void **state)
{
	struct env *e = env_new(NULL);
	static char val[XENSTORE_PAYLOAD_MAX];
	uint32_t vlen = XENSTORE_PAYLOAD_MAX - (uint32_t)sizeof("/big");

	(void)state;
	memset(val, 'v', sizeof(val));
	/* A whole 4096-byte payload is fine for dom0. */
	assert_ok(xs_wrn(e->d0, 0, "/big", val, vlen));
	expect_readn(e->d0, 0, "/big", val, vlen);
	env_free(e);
}

static void test_deep_path(void **state)
{
	struct env *e = env_new(NULL);
	char path[1024];
	size_t len = 0;
	int i;

	(void)state;
	/* 100 new levels in one WRITE: a valid path, Xen creates them all
	 * (there is no limit of 64 levels). */
	for (i = 0; i < 100; i++)
		len += (size_t)snprintf(path + len, sizeof(path) - len, "/d");
	assert_ok(xs_wr(e->d0, 0, path, "deep"));
	expect_read(e->d0, 0, path, "deep");
	path[130] = '\0'; /* the 65th level */
	expect_read(e->d0, 0, path, "");
	path[130] = '/';
	assert_ok(xs_wr(e->d0, 0, path, "again"));
	expect_read(e->d0, 0, path, "again");
	/* Removing the top takes all 100 levels along. */
	assert_ok(xs_rm(e->d0, 0, "/d"));
	assert_err(xs_rd(e->d0, 0, path, NULL), "ENOENT");
	assert_null(xs_table_get(&e->s->nodes, path, (uint32_t)len));
	env_free(e);
}

/* 1000 levels, written and removed inside transactions. */
static void test_deep_path_txn(void **state)
{
	struct env *e = env_new(NULL);
	struct tconn *w = tc_new(e, 0);
	static char path[2100];
	size_t len = 0;
	uint32_t tx;
	int i;

	(void)state;
	for (i = 0; i < 1000; i++)
		len += (size_t)snprintf(path + len, sizeof(path) - len, "/e");
	tx = xs_start(e->d0);
	assert_ok(xs_wr(e->d0, tx, path, "deep"));
	assert_err(xs_rd(e->d0, 0, path, NULL), "ENOENT");
	assert_ok(xs_end(e->d0, tx, "T"));
	expect_read(e->d0, 0, path, "deep");
	assert_ok(xs_watch(w, path, "bottom"));
	assert_ok(xs_watch(w, "/e", "top"));
	discard_events(w);
	tx = xs_start(e->d0);
	assert_ok(xs_rm(e->d0, tx, "/e"));
	expect_read(e->d0, 0, path, "deep");
	assert_ok(xs_end(e->d0, tx, "T"));
	assert_err(xs_rd(e->d0, 0, path, NULL), "ENOENT");
	assert_err(xs_rd(e->d0, 0, "/e", NULL), "ENOENT");
	expect_event(w, "/e", "top");
	expect_event(w, path, "bottom");
	expect_no_event(w);
	env_free(e);
}

static void test_mkdir(void **state)
{
	struct env *e = env_new(NULL);
	struct tconn *d0 = e->d0;

	(void)state;
	assert_ok(xs_mk(d0, 0, "/m/n/o"));
	expect_read(d0, 0, "/m/n/o", "");
	expect_read(d0, 0, "/m/n", "");
	expect_reply(d0, XS_DIRECTORY, 0, "/m", "n", 2);
	/* MKDIR of an existing node keeps its value. */
	assert_ok(xs_wr(d0, 0, "/m/n/o", "v"));
	assert_ok(xs_mk(d0, 0, "/m/n/o"));
	expect_read(d0, 0, "/m/n/o", "v");
	expect_reply(d0, XS_DIRECTORY, 0, "/m/n", "o", 2);
	assert_err(xs_mk(d0, 0, "/m/"), "EINVAL");
	assert_err(xs_mk(d0, 0, ""), "EINVAL");
	assert_err(opn(d0, XS_MKDIR, 0, NULL, "/m", "x", NULL), "EINVAL");
	env_free(e);
}

/* === directories ======================================================= */

static void test_directory(void **state)
{
	struct env *e = env_new(NULL);
	struct tconn *d0 = e->d0;

	(void)state;
	/* Creation order, not sorted. */
	assert_ok(xs_wr(d0, 0, "/d/zz", "1"));
	assert_ok(xs_wr(d0, 0, "/d/aa", "2"));
	assert_ok(xs_mk(d0, 0, "/d/mm"));
	expect_reply(d0, XS_DIRECTORY, 0, "/d", "zz\0aa\0mm", 9);
	/* Rewriting a child does not add it twice. */
	assert_ok(xs_wr(d0, 0, "/d/zz", "3"));
	expect_reply(d0, XS_DIRECTORY, 0, "/d", "zz\0aa\0mm", 9);
	assert_ok(xs_rm(d0, 0, "/d/aa"));
	expect_reply(d0, XS_DIRECTORY, 0, "/d", "zz\0mm", 6);
	/* A leaf has an empty list. */
	expect_reply(d0, XS_DIRECTORY, 0, "/d/mm", "", 0);
	assert_err(xs_dir(d0, 0, "/nope", NULL), "ENOENT");
	assert_err(xs_dir(d0, 0, "/d/", NULL), "EINVAL");
	/* The root starts with the nodes Xen's daemon creates, /tool and
	 * /tool/xenstored; the test added /d after them. */
	expect_reply(d0, XS_DIRECTORY, 0, "/", "tool\0d", 7);
	expect_reply(d0, XS_DIRECTORY, 0, "/tool", "xenstored", 10);
	expect_read(d0, 0, "/tool/xenstored", "");
	expect_perms(d0, "/tool/xenstored", "n0");
	/* Nothing else: /local/domain is the toolstack's to create. */
	assert_err(xs_dir(d0, 0, "/local", NULL), "ENOENT");
	env_free(e);
}

static void test_directory_e2big_boundary(void **state)
{
	struct env *e = env_new(NULL);
	char path[64];
	int i;

	(void)state;
	/* 256 names of 15 characters: exactly 4096 bytes of list. */
	for (i = 0; i < 256; i++) {
		snprintf(path, sizeof(path), "/big/n%014d", i);
		assert_ok(xs_mk(e->d0, 0, path));
	}
	assert_ok(xs_dir(e->d0, 0, "/big", &scratch));
	assert_int_equal(scratch.hdr.len, 4096);
	assert_memory_equal(scratch.body, "n00000000000000\0n00000000000001",
			    32);
	assert_ok(xs_mk(e->d0, 0, "/big/x"));
	assert_err(xs_dir(e->d0, 0, "/big", NULL), "E2BIG");
	env_free(e);
}

/* The node's generation as DIRECTORY_PART reports it: in decimal. */
static void node_gen_str(struct env *e, const char *path, char *out,
			 size_t len)
{
	struct xs_node *n =
		xs_table_get(&e->s->nodes, path, (uint32_t)strlen(path));

	assert_non_null(n);
	snprintf(out, len, "%" PRIu64, n->gen);
	/* Nothing but decimal digits. */
	assert_true(out[0] != '\0');
	assert_int_equal(strspn(out, "0123456789"), strlen(out));
}

static const char *dir_part(struct tconn *t, uint32_t tx, const char *path,
			    unsigned long off, struct msg *rep)
{
	char num[24];

	snprintf(num, sizeof(num), "%lu", off);
	return opn(t, XS_DIRECTORY_PART, tx, rep, path, num, NULL);
}

static void test_directory_part_chunks(void **state)
{
	struct env *e = env_new(NULL);
	static char expect[16384], got[16384];
	char path[96], gen[32];
	uint32_t elen = 0, glen = 0, off = 0;
	unsigned int chunks = 0;
	int i;

	(void)state;
	for (i = 0; i < 300; i++) {
		int n = snprintf(path, sizeof(path),
				 "/dp/child-%03d-abcdefghijkl", i);

		assert_ok(xs_mk(e->d0, 0, path));
		memcpy(expect + elen, path + 4, (size_t)n - 4 + 1);
		elen += (uint32_t)n - 4 + 1;
	}
	assert_true(elen > XENSTORE_PAYLOAD_MAX);
	assert_err(xs_dir(e->d0, 0, "/dp", NULL), "E2BIG");
	node_gen_str(e, "/dp", gen, sizeof(gen));
	/* From 10 on, decimal and hexadecimal spell it differently, so
	 * the comparisons below tell the two apart. */
	assert_true(strtoull(gen, NULL, 10) >= 10);

	for (;;) {
		uint32_t glen1, nlen, p;
		bool last = false;

		assert_ok(dir_part(e->d0, 0, "/dp", off, &scratch));
		assert_true(scratch.hdr.len <= XENSTORE_PAYLOAD_MAX);
		/* "<decimal generation>\0" first, the same in every chunk. */
		assert_string_equal(scratch.body, gen);
		glen1 = (uint32_t)strlen(scratch.body) + 1;
		assert_true(scratch.hdr.len > glen1);
		/* Then whole names; the last chunk ends with an extra NUL. */
		nlen = scratch.hdr.len - glen1;
		for (p = 0; p < nlen;) {
			size_t l = strlen(scratch.body + glen1 + p);

			if (!l) {
				assert_int_equal(p + 1, nlen);
				last = true;
				break;
			}
			p += (uint32_t)l + 1;
		}
		assert_int_equal(scratch.body[scratch.hdr.len - 1], '\0');
		if (!last) {
			/* A full chunk: no room for another name. */
			assert_true(scratch.hdr.len >
				    XENSTORE_PAYLOAD_MAX - 32);
			assert_int_equal(p, nlen);
		}
		memcpy(got + glen, scratch.body + glen1, p);
		glen += p;
		off += p;
		chunks++;
		if (last)
			break;
		assert_true(chunks < 10);
	}
	assert_true(chunks >= 2);
	assert_int_equal(glen, elen);
	assert_memory_equal(got, expect, elen);

	/* At or past the end: "<gen>\0\0". */
	for (i = 0; i < 2; i++) {
		assert_ok(dir_part(e->d0, 0, "/dp", elen + (uint32_t)i * 1000,
				   &scratch));
		assert_int_equal(scratch.hdr.len, strlen(gen) + 2);
		assert_string_equal(scratch.body, gen);
		assert_int_equal(scratch.body[strlen(gen) + 1], '\0');
	}
	env_free(e);
}

static void test_directory_part_small(void **state)
{
	struct env *e = env_new(NULL);
	char gen[32], gen2[32], want[64];
	size_t gl;
	int i;

	(void)state;
	/* Enough changes first that generations have two digits. */
	for (i = 0; i < 10; i++)
		assert_ok(xs_wr(e->d0, 0, "/pad", "x"));
	assert_ok(xs_mk(e->d0, 0, "/s/aa"));
	assert_ok(xs_mk(e->d0, 0, "/s/bb"));
	node_gen_str(e, "/s", gen, sizeof(gen));
	assert_true(strtoull(gen, NULL, 10) >= 10);
	gl = strlen(gen) + 1;
	memcpy(want, gen, gl);

	assert_ok(dir_part(e->d0, 0, "/s", 0, &scratch));
	memcpy(want + gl, "aa\0bb\0", 7);
	expect_body(&scratch, want, (uint32_t)gl + 7);

	assert_ok(dir_part(e->d0, 0, "/s", 3, &scratch));
	memcpy(want + gl, "bb\0", 4);
	expect_body(&scratch, want, (uint32_t)gl + 4);

	/* Offsets are bytes, not names. */
	assert_ok(dir_part(e->d0, 0, "/s", 1, &scratch));
	memcpy(want + gl, "a\0bb\0", 6);
	expect_body(&scratch, want, (uint32_t)gl + 6);

	assert_ok(dir_part(e->d0, 0, "/s", 6, &scratch));
	want[gl] = '\0';
	expect_body(&scratch, want, (uint32_t)gl + 1);

	/* A leaf: "<gen>\0\0". */
	assert_ok(dir_part(e->d0, 0, "/s/aa", 0, &scratch));
	assert_int_equal(scratch.hdr.len, strlen(scratch.body) + 2);

	/* Adding a child changes the generation. */
	assert_ok(xs_mk(e->d0, 0, "/s/cc"));
	node_gen_str(e, "/s", gen2, sizeof(gen2));
	assert_string_not_equal(gen, gen2);
	assert_ok(dir_part(e->d0, 0, "/s", 0, &scratch));
	assert_string_equal(scratch.body, gen2);

	assert_err(dir_part(e->d0, 0, "/nope", 0, NULL), "ENOENT");
	assert_err(dir_part(e->d0, 0, "/s/", 0, NULL), "EINVAL");
	assert_err(op1(e->d0, XS_DIRECTORY_PART, 0, "/s", NULL), "EINVAL");
	env_free(e);
}

/* === rm ================================================================ */

static void test_rm(void **state)
{
	struct env *e = env_new(NULL);
	struct tconn *d0 = e->d0;

	(void)state;
	assert_ok(xs_wr(d0, 0, "/r/a/b/c", "1"));
	assert_ok(xs_wr(d0, 0, "/r/a/d", "2"));
	assert_ok(xs_wr(d0, 0, "/r/e", "3"));
	assert_ok(xs_rm(d0, 0, "/r/a"));
	assert_err(xs_rd(d0, 0, "/r/a", NULL), "ENOENT");
	assert_err(xs_rd(d0, 0, "/r/a/b", NULL), "ENOENT");
	assert_err(xs_rd(d0, 0, "/r/a/b/c", NULL), "ENOENT");
	assert_err(xs_rd(d0, 0, "/r/a/d", NULL), "ENOENT");
	expect_read(d0, 0, "/r/e", "3");
	expect_reply(d0, XS_DIRECTORY, 0, "/r", "e", 2);
	/* The records below are gone from the table, not just unlinked. */
	assert_null(xs_table_get(&e->s->nodes, "/r/a/b/c", 8));
	/* A missing node whose parent exists: fine.  No parent: ENOENT. */
	assert_ok(xs_rm(d0, 0, "/r/a"));
	assert_err(xs_rm(d0, 0, "/r/a/b"), "ENOENT");
	assert_err(xs_rm(d0, 0, "/"), "EINVAL");
	assert_err(xs_rm(d0, 0, "/r/"), "EINVAL");
	expect_read(d0, 0, "/", "");
	/* Re-creating starts afresh. */
	assert_ok(xs_wr(d0, 0, "/r/a/x", "4"));
	expect_reply(d0, XS_DIRECTORY, 0, "/r/a", "x", 2);
	env_free(e);
}

/* === permissions (dom0) ================================================ */

static void test_perms_dom0(void **state)
{
	struct env *e = env_new(NULL);
	struct tconn *d0 = e->d0;

	(void)state;
	assert_ok(xs_wr(d0, 0, "/p", "v"));
	/* Inherited from the root. */
	expect_perms(d0, "/p", "n0");
	/* Entries for domains that do not exist (5, 7) are accepted and
	 * listed; they only grant nothing. */
	assert_ok(xs_setp(d0, 0, "/p", "r0,b5,w7"));
	expect_perms(d0, "/p", "r0,b5,w7");
	/* New children copy their parent's whole list. */
	assert_ok(xs_wr(d0, 0, "/p/c/d", "x"));
	expect_perms(d0, "/p/c", "r0,b5,w7");
	expect_perms(d0, "/p/c/d", "r0,b5,w7");
	/* dom0 may give a node away, but only to a live owner: domain 3
	 * does not exist yet. */
	assert_err(xs_setp(d0, 0, "/p/c", "b3"), "ENOENT");
	assert_err(xs_setp(d0, 0, "/p/c", "b3,r0"), "ENOENT");
	expect_perms(d0, "/p/c", "r0,b5,w7");
	/* Registered by the hypervisor is alive enough (no INTRODUCE). */
	assert_int_equal(xs_domain_register(e->s, 3), 0);
	assert_ok(xs_setp(d0, 0, "/p/c", "b3"));
	expect_perms(d0, "/p/c", "b3");

	assert_err(xs_setp(d0, 0, "/p", "x0"), "EINVAL");
	assert_err(xs_setp(d0, 0, "/p", "r"), "EINVAL");
	assert_err(xs_setp(d0, 0, "/p", "r0,"), "EINVAL");
	/* Path but no list. */
	assert_err(op1(d0, XS_SET_PERMS, 0, "/p", NULL), "EINVAL");
	assert_err(xs_setp(d0, 0, "/nope", "r0"), "ENOENT");
	assert_err(xs_setp(d0, 0, "/p/", "r0"), "EINVAL");
	expect_perms(d0, "/p", "r0,b5,w7");
	assert_err(xs_getp(d0, 0, "/nope", NULL), "ENOENT");
	assert_err(xs_getp(d0, 0, "/p/", NULL), "EINVAL");
	/* Special names have no GET_PERMS on Xen's C daemon. */
	assert_err(xs_getp(d0, 0, "@introduceDomain", NULL), "EINVAL");
	assert_ok(xs_setp(d0, 0, "@introduceDomain", "n0"));
	assert_ok(xs_setp(d0, 0, "@releaseDomain", "n0,r3"));
	/* Only the special names that exist; malformed ones are bad paths. */
	assert_err(xs_setp(d0, 0, "@noSuchThing", "n0"), "EINVAL");
	assert_err(xs_setp(d0, 0, "@a//b", "n0"), "EINVAL");
	assert_err(xs_setp(d0, 0, "@x/", "n0"), "EINVAL");
	assert_err(xs_setp(d0, 0, "@releaseDomain/", "n0"), "EINVAL");
	/* Their owner must be alive too. */
	assert_err(xs_setp(d0, 0, "@introduceDomain", "n9"), "ENOENT");
	{
		const struct xs_node *sp =
			xs_table_get(&e->s->nodes, "@introduceDomain", 16);

		assert_non_null(sp);
		assert_int_equal(sp->nperms, 1);
		assert_int_equal(sp->perms[0].domid, 0);
	}
	env_free(e);
}

/* === watches =========================================================== */

static void test_watch_fires_on_register(void **state)
{
	struct env *e = env_new(NULL);
	struct msg *m = malloc(sizeof(*m));
	uint32_t len = pack(pbuf, "/not/there", "tok", NULL);

	(void)state;
	assert_non_null(m);
	send_raw(e->d0, XS_WATCH, 77, 0, pbuf, len);
	/* First the OK, then the event for the watched path. */
	assert_true(pop_msg(e->d0, m));
	assert_int_equal(m->hdr.type, XS_WATCH);
	assert_int_equal(m->hdr.req_id, 77);
	expect_body(m, "OK", 3);
	assert_true(pop_msg(e->d0, m));
	assert_int_equal(m->hdr.type, XS_WATCH_EVENT);
	assert_int_equal(m->hdr.req_id, 0);
	expect_body(m, "/not/there\0tok", 15);
	assert_false(pop_msg(e->d0, m));
	free(m);
	env_free(e);
}

static void test_watch_subtree(void **state)
{
	struct env *e = env_new(NULL);
	struct tconn *d0 = e->d0, *w = tc_new(e, 0);

	(void)state;
	expect_watch(w, "/w/a", "t");
	assert_ok(xs_wr(d0, 0, "/w/a", "1"));
	expect_only_event(w, "/w/a", "t");
	assert_ok(xs_wr(d0, 0, "/w/a/b/c", "2"));
	expect_only_event(w, "/w/a/b/c", "t");
	/* Whole components: /w/ab is not below /w/a, nor is /w. */
	assert_ok(xs_wr(d0, 0, "/w/ab", "3"));
	assert_ok(xs_wr(d0, 0, "/w", "4"));
	assert_ok(xs_wr(d0, 0, "/w/a-b", "4"));
	expect_no_event(w);
	/* MKDIR fires when it creates, not when the node exists. */
	assert_ok(xs_mk(d0, 0, "/w/a/m"));
	expect_event(w, "/w/a/m", "t");
	assert_ok(xs_mk(d0, 0, "/w/a/m"));
	expect_no_event(w);
	/* Rewriting the same value still fires. */
	assert_ok(xs_wr(d0, 0, "/w/a", "1"));
	expect_event(w, "/w/a", "t");
	/* RM fires. */
	assert_ok(xs_rm(d0, 0, "/w/a/m"));
	expect_event(w, "/w/a/m", "t");
	/* A failed request fires nothing. */
	assert_err(xs_rm(d0, 0, "/w/a/x/y"), "ENOENT");
	assert_err(xs_setp(d0, 0, "/w/a", "q1"), "EINVAL");
	expect_no_event(w);
	/* A watch on the root sees everything. */
	expect_watch(w, "/", "root");
	assert_ok(xs_wr(d0, 0, "/zz", "1"));
	expect_only_event(w, "/zz", "root");
	env_free(e);
}

static void test_watch_set_perms_fires_once(void **state)
{
	struct env *e = env_new(NULL);
	struct tconn *d0 = e->d0, *w = tc_new(e, 0);

	(void)state;
	assert_ok(xs_wr(d0, 0, "/sp", "1"));
	expect_watch(w, "/sp", "t");
	/* One change, one event (Xen's C daemon fires once for SET_PERMS). */
	assert_ok(xs_setp(d0, 0, "/sp", "r0"));
	assert_int_equal(count_events(w), 1);
	expect_event(w, "/sp", "t");
	env_free(e);
}

static void test_watch_implicit_parents(void **state)
{
	struct env *e = env_new(NULL);
	struct tconn *w = tc_new(e, 0);

	(void)state;
	expect_watch(w, "/v", "t");
	/* Only the requested path fires, not the parents it created. */
	assert_ok(xs_wr(e->d0, 0, "/v/x/y/z", "1"));
	expect_only_event(w, "/v/x/y/z", "t");
	env_free(e);
}

static void test_watch_rm_below(void **state)
{
	struct env *e = env_new(NULL);
	struct tconn *d0 = e->d0, *w = tc_new(e, 0);

	(void)state;
	assert_ok(xs_wr(d0, 0, "/r/a/b/c", "1"));
	assert_ok(xs_wr(d0, 0, "/r/ab", "1"));
	assert_ok(xs_wr(d0, 0, "/q", "1"));
	assert_ok(xs_watch(w, "/r", "t1"));
	assert_ok(xs_watch(w, "/r/a", "t2"));
	assert_ok(xs_watch(w, "/r/a/b/c", "t3"));
	assert_ok(xs_watch(w, "/r/a/bx", "t4")); /* never existed */
	assert_ok(xs_watch(w, "/r/ab", "t5"));
	assert_ok(xs_watch(w, "/q", "t6"));
	assert_ok(xs_watch(w, "/r/a/b", "t7"));
	assert_ok(xs_watch(w, "/r/a/b/c/d", "t8")); /* never existed */
	discard_events(w);
	/*
	 * Watchers at or above the node get its path; a watcher on exactly
	 * a removed descendant gets its own path, once (Xen fires per
	 * removed node); one on a path that never existed gets nothing.
	 */
	assert_ok(xs_rm(d0, 0, "/r/a"));
	expect_events_unordered(w, "/r/a", "t1", "/r/a", "t2", "/r/a/b", "t7",
				"/r/a/b/c", "t3", NULL);
	env_free(e);
}

static void test_watch_relative(void **state)
{
	struct env *e = env_new(NULL);
	struct tconn *d0 = e->d0, *g5 = env_guest(e, 5);

	(void)state;
	assert_ok(xs_wr(g5, 0, "foo", "1"));
	expect_watch(g5, "foo", "rt");
	assert_ok(xs_wr(d0, 0, "/local/domain/5/foo/bar", "2"));
	expect_event(g5, "foo/bar", "rt");
	assert_ok(xs_wr(g5, 0, "foo/baz", "3"));
	expect_event(g5, "foo/baz", "rt");
	assert_ok(xs_rm(g5, 0, "/local/domain/5/foo"));
	expect_only_event(g5, "foo", "rt");
	/* An absolute watch on the same node gets absolute paths. */
	expect_watch(g5, "/local/domain/5/foo", "at");
	assert_ok(xs_wr(g5, 0, "foo", "4"));
	expect_events_unordered(g5, "foo", "rt", "/local/domain/5/foo", "at",
				NULL);
	/* dom0's relative paths are under /local/domain/0. */
	expect_watch(d0, "x", "d");
	assert_ok(xs_wr(d0, 0, "/local/domain/0/x/y", "1"));
	expect_event(d0, "x/y", "d");
	env_free(e);
}

static void test_unwatch(void **state)
{
	struct env *e = env_new(NULL);
	struct tconn *d0 = e->d0, *w = tc_new(e, 0);

	(void)state;
	assert_err(xs_unwatch(w, "/u", "t"), "ENOENT");
	assert_ok(xs_watch(w, "/u", "t"));
	assert_err(xs_unwatch(w, "/u", "other"), "ENOENT");
	assert_err(xs_unwatch(w, "/u/x", "t"), "ENOENT");
	/* Only the connection that set a watch can remove it. */
	assert_err(xs_unwatch(d0, "/u", "t"), "ENOENT");
	assert_ok(xs_unwatch(w, "/u", "t"));
	discard_events(w);
	assert_ok(xs_wr(d0, 0, "/u", "1"));
	expect_no_event(w);
	assert_err(xs_unwatch(w, "/u", "t"), "ENOENT");
	/* A relative watch is removed by its relative path too. */
	assert_ok(xs_watch(w, "rel", "t"));
	assert_ok(xs_unwatch(w, "rel", "t"));
	assert_err(xs_unwatch(w, "/u/", "t"), "EINVAL");
	assert_err(op1(w, XS_UNWATCH, 0, "/u", NULL), "EINVAL");
	env_free(e);
}

static void test_watch_eexist(void **state)
{
	struct env *e = env_new(NULL);
	struct tconn *w = tc_new(e, 0);

	(void)state;
	assert_ok(xs_watch(w, "/e", "t"));
	assert_err(xs_watch(w, "/e", "t"), "EEXIST");
	/* The same node named relatively is the same watch. */
	assert_ok(xs_watch(w, "/local/domain/0/r", "t"));
	assert_err(xs_watch(w, "r", "t"), "EEXIST");
	assert_ok(xs_watch(w, "/e", "t2"));
	discard_events(w);
	assert_ok(xs_wr(e->d0, 0, "/e", "1"));
	expect_events_unordered(w, "/e", "t", "/e", "t2", NULL);
	/* Another connection may use the same path and token. */
	assert_ok(xs_watch(e->d0, "/e", "t"));
	assert_err(xs_watch(w, "/e/", "t"), "EINVAL");
	assert_err(op1(w, XS_WATCH, 0, "/e", NULL), "EINVAL");
	env_free(e);
}

static void test_watch_needs_read_perm(void **state)
{
	struct env *e = env_new(NULL);
	struct tconn *g5 = env_guest(e, 5), *g6 = env_guest(e, 6);

	(void)state;
	assert_ok(xs_wr(g6, 0, "secret", "s"));
	expect_watch(g5, "/local/domain/6/secret", "t");
	assert_ok(xs_wr(g6, 0, "secret", "s2"));
	expect_no_event(g5);
	/* Once 5 may read it, 5 sees the change of permissions and later
	 * writes. */
	assert_ok(xs_setp(g6, 0, "secret", "n6,r5"));
	expect_only_event(g5, "/local/domain/6/secret", "t");
	assert_ok(xs_wr(g6, 0, "secret", "s3"));
	expect_only_event(g5, "/local/domain/6/secret", "t");
	/* Taking the right away is seen too (5 could read the node with
	 * the old list), once; after that nothing is. */
	expect_watch(g5, "/local/domain/6", "home");
	expect_no_event(g5);
	assert_ok(xs_setp(g6, 0, "secret", "n6"));
	expect_events_unordered(g5, "/local/domain/6/secret", "t",
				"/local/domain/6/secret", "home", NULL);
	assert_ok(xs_wr(g6, 0, "secret", "s4"));
	expect_no_event(g5);
	env_free(e);
}

static void test_reset_watches(void **state)
{
	struct env *e = env_new(NULL);
	struct tconn *w = tc_new(e, 0);
	uint32_t tx;

	(void)state;
	assert_ok(xs_watch(w, "/rw", "t"));
	tx = xs_start(w);
	discard_events(w);
	/* libxenstore sends "\0"; an empty payload is answered too. */
	assert_ok(request(w, XS_RESET_WATCHES, 0, NULL, 0, NULL));
	assert_ok(xs_wr(e->d0, 0, "/rw", "1"));
	expect_no_event(w);
	assert_err(xs_rd(w, tx, "/rw", NULL), "ENOENT");
	assert_err(xs_unwatch(w, "/rw", "t"), "ENOENT");
	assert_ok(xs_watch(w, "/rw", "t"));
	env_free(e);
}

/* === transactions ====================================================== */

static void test_txn_start(void **state)
{
	struct env *e = env_new(NULL);
	uint32_t a, b;

	(void)state;
	a = xs_start(e->d0);
	b = xs_start(e->d0);
	assert_int_not_equal(a, b);
	/* Not inside another transaction. */
	assert_err(op1(e->d0, XS_TRANSACTION_START, a, "", NULL), "EBUSY");
	assert_ok(xs_end(e->d0, a, "F"));
	assert_ok(xs_end(e->d0, b, "T"));
	env_free(e);
}

static void test_txn_isolation(void **state)
{
	struct env *e = env_new(NULL);
	struct tconn *d0 = e->d0, *o = tc_new(e, 0);
	uint32_t tx;

	(void)state;
	assert_ok(xs_wr(d0, 0, "/t/a", "old"));
	tx = xs_start(d0);
	assert_ok(xs_wr(d0, tx, "/t/a", "new"));
	assert_ok(xs_wr(d0, tx, "/t/n/deep", "d"));
	/* Read-your-writes, implicit parents included. */
	expect_read(d0, tx, "/t/a", "new");
	expect_read(d0, tx, "/t/n/deep", "d");
	expect_read(d0, tx, "/t/n", "");
	expect_reply(d0, XS_DIRECTORY, tx, "/t/n", "deep", 5);
	expect_reply(d0, XS_DIRECTORY, tx, "/t", "a\0n", 4);
	/* Nobody else sees anything yet, not even the same connection
	 * outside the transaction. */
	expect_read(o, 0, "/t/a", "old");
	expect_read(d0, 0, "/t/a", "old");
	assert_err(xs_rd(o, 0, "/t/n", NULL), "ENOENT");
	expect_reply(o, XS_DIRECTORY, 0, "/t", "a", 2);
	assert_ok(xs_end(d0, tx, "T"));
	expect_read(o, 0, "/t/a", "new");
	expect_read(o, 0, "/t/n/deep", "d");
	/* The id is gone after the commit. */
	assert_err(xs_rd(d0, tx, "/t/a", NULL), "ENOENT");
	env_free(e);
}

static void test_txn_snapshot_reads(void **state)
{
	struct env *e = env_new(NULL);
	struct tconn *d0 = e->d0, *o = tc_new(e, 0);
	uint32_t tx;

	(void)state;
	assert_ok(xs_wr(d0, 0, "/t/a", "1"));
	tx = xs_start(d0);
	expect_read(d0, tx, "/t/a", "1");
	assert_ok(xs_wr(o, 0, "/t/a", "2"));
	assert_ok(xs_wr(o, 0, "/t/new", "n"));
	/* The transaction keeps seeing what it first read. */
	expect_read(d0, tx, "/t/a", "1");
	/* Committing on a stale read fails and applies nothing. */
	assert_ok(xs_wr(d0, tx, "/t/b", "b"));
	assert_err(xs_end(d0, tx, "T"), "EAGAIN");
	expect_read(o, 0, "/t/a", "2");
	assert_err(xs_rd(o, 0, "/t/b", NULL), "ENOENT");
	assert_err(xs_rd(d0, tx, "/t/a", NULL), "ENOENT");
	env_free(e);
}

static void test_txn_conflict(void **state)
{
	struct env *e = env_new(NULL);
	struct tconn *d0 = e->d0, *o = tc_new(e, 0), *w = tc_new(e, 0);
	uint32_t tx;

	(void)state;
	assert_ok(xs_wr(d0, 0, "/t/a", "0"));
	assert_ok(xs_wr(d0, 0, "/t/b", "0"));
	assert_ok(xs_watch(w, "/t", "t"));
	tx = xs_start(d0);
	assert_ok(xs_wr(d0, tx, "/t/a", "tx"));
	assert_ok(xs_wr(d0, tx, "/t/b", "tx"));
	assert_ok(xs_wr(o, 0, "/t/a", "other"));
	discard_events(w);
	assert_err(xs_end(d0, tx, "T"), "EAGAIN");
	/* Nothing applied, nothing fired. */
	expect_read(o, 0, "/t/a", "other");
	expect_read(o, 0, "/t/b", "0");
	expect_no_event(w);

	/* Deleting a node the transaction wrote conflicts too. */
	tx = xs_start(d0);
	assert_ok(xs_wr(d0, tx, "/t/b", "tx"));
	assert_ok(xs_rm(o, 0, "/t/b"));
	assert_err(xs_end(d0, tx, "T"), "EAGAIN");
	assert_err(xs_rd(o, 0, "/t/b", NULL), "ENOENT");

	/* So does creating a node the transaction found missing. */
	tx = xs_start(d0);
	assert_err(xs_rd(d0, tx, "/t/c", NULL), "ENOENT");
	assert_ok(xs_wr(d0, tx, "/t/a", "tx"));
	assert_ok(xs_wr(o, 0, "/t/c", "other"));
	assert_err(xs_end(d0, tx, "T"), "EAGAIN");
	expect_read(o, 0, "/t/a", "other");
	env_free(e);
}

static void test_txn_unrelated_writes(void **state)
{
	struct env *e = env_new(NULL);
	struct tconn *d0 = e->d0, *o = tc_new(e, 0);
	uint32_t tx;

	(void)state;
	assert_ok(xs_wr(d0, 0, "/t/a", "0"));
	assert_ok(xs_wr(d0, 0, "/t/b", "0"));
	assert_ok(xs_wr(d0, 0, "/u/c", "0"));
	tx = xs_start(d0);
	expect_read(d0, tx, "/t/a", "0");
	assert_ok(xs_wr(d0, tx, "/t/a", "tx"));
	/* Other nodes, even siblings, change meanwhile. */
	assert_ok(xs_wr(o, 0, "/t/b", "other"));
	assert_ok(xs_wr(o, 0, "/u/c", "other"));
	assert_ok(xs_wr(o, 0, "/u/new", "other"));
	assert_ok(xs_end(d0, tx, "T"));
	expect_read(o, 0, "/t/a", "tx");
	expect_read(o, 0, "/t/b", "other");
	expect_read(o, 0, "/u/new", "other");
	env_free(e);
}

static void test_txn_events_on_commit(void **state)
{
	struct env *e = env_new(NULL);
	struct tconn *d0 = e->d0, *w = tc_new(e, 0);
	uint32_t tx;

	(void)state;
	assert_ok(xs_wr(d0, 0, "/t/old/x", "0"));
	assert_ok(xs_watch(w, "/t", "t"));
	assert_ok(xs_watch(w, "/t/old/x", "below"));
	discard_events(w);
	tx = xs_start(d0);
	assert_ok(xs_wr(d0, tx, "/t/a", "1"));
	assert_ok(xs_mk(d0, tx, "/t/m"));
	assert_ok(xs_rm(d0, tx, "/t/old"));
	assert_ok(xs_wr(d0, tx, "/t/a", "2"));
	assert_ok(xs_setp(d0, tx, "/t/a", "r0"));
	assert_ok(xs_wr(d0, tx, "/t/m", "3"));
	expect_no_event(w);
	assert_ok(xs_end(d0, tx, "T"));
	/*
	 * At most one event per changed path, in the order of first change:
	 * /t/a (written twice, perms set) and /t/m (created, then written)
	 * fire once each.  The RM fires /t/old for the watchers above it and
	 * /t/old/x for the one on exactly that node.
	 */
	expect_event(w, "/t/a", "t");
	expect_event(w, "/t/m", "t");
	expect_event(w, "/t/old", "t");
	expect_event(w, "/t/old/x", "below");
	expect_no_event(w);
	assert_err(xs_rd(w, 0, "/t/old/x", NULL), "ENOENT");
	expect_read(w, 0, "/t/a", "2");
	expect_read(w, 0, "/t/m", "3");
	expect_perms(w, "/t/a", "r0");

	/* A path removed and created again in one transaction: one event. */
	assert_ok(xs_watch(w, "/t/m", "m"));
	discard_events(w);
	tx = xs_start(d0);
	assert_ok(xs_rm(d0, tx, "/t/m"));
	assert_ok(xs_wr(d0, tx, "/t/m", "4"));
	assert_ok(xs_end(d0, tx, "T"));
	expect_events_unordered(w, "/t/m", "t", "/t/m", "m", NULL);
	expect_read(w, 0, "/t/m", "4");
	env_free(e);
}

static void test_txn_abort(void **state)
{
	struct env *e = env_new(NULL);
	struct tconn *d0 = e->d0, *w = tc_new(e, 0);
	uint32_t tx;

	(void)state;
	assert_ok(xs_wr(d0, 0, "/t/keep", "k"));
	assert_ok(xs_watch(w, "/t", "t"));
	discard_events(w);
	tx = xs_start(d0);
	assert_ok(xs_wr(d0, tx, "/t/a", "1"));
	assert_ok(xs_rm(d0, tx, "/t/keep"));
	assert_ok(xs_setp(d0, tx, "/t", "r0"));
	assert_ok(xs_end(d0, tx, "F"));
	expect_no_event(w);
	assert_err(xs_rd(d0, 0, "/t/a", NULL), "ENOENT");
	expect_read(d0, 0, "/t/keep", "k");
	expect_perms(d0, "/t", "n0");
	assert_err(xs_end(d0, tx, "T"), "ENOENT");
	env_free(e);
}

static void test_txn_bad_ids_and_args(void **state)
{
	struct env *e = env_new(NULL);
	struct tconn *d0 = e->d0, *o = tc_new(e, 0);
	uint32_t tx;

	(void)state;
	assert_ok(xs_wr(d0, 0, "/t", "0"));
	assert_err(xs_rd(d0, 99, "/t", NULL), "ENOENT");
	assert_err(xs_wr(d0, 99, "/t", "x"), "ENOENT");
	assert_err(xs_end(d0, 99, "T"), "ENOENT");
	/* END needs a transaction. */
	assert_err(xs_end(d0, 0, "T"), "ENOENT");
	tx = xs_start(d0);
	/* Ids belong to their connection. */
	assert_err(xs_rd(o, tx, "/t", NULL), "ENOENT");
	assert_ok(xs_wr(d0, tx, "/t", "tx"));
	/* Only "T" and "F"; a bad argument leaves the transaction open. */
	assert_err(xs_end(d0, tx, "X"), "EINVAL");
	assert_err(xs_end(d0, tx, "TF"), "EINVAL");
	assert_err(xs_end(d0, tx, ""), "EINVAL");
	assert_err(request(d0, XS_TRANSACTION_END, tx, "T", 1, NULL),
		   "EINVAL");
	assert_err(request(d0, XS_TRANSACTION_END, tx, NULL, 0, NULL),
		   "EINVAL");
	expect_read(d0, tx, "/t", "tx");
	expect_read(d0, 0, "/t", "0");
	assert_ok(xs_end(d0, tx, "T"));
	expect_read(d0, 0, "/t", "tx");
	assert_err(xs_end(d0, tx, "T"), "ENOENT");
	/* Watches ignore the transaction field. */
	assert_ok(opn(d0, XS_WATCH, 12345, NULL, "/t", "tok", NULL));
	env_free(e);
}

/* Every child a directory lists can be read (by dom0). */
static void expect_consistent(struct env *e, const char *dir)
{
	struct msg *m = malloc(sizeof(*m));
	char path[256];
	uint32_t off;

	assert_non_null(m);
	assert_ok(xs_dir(e->d0, 0, dir, m));
	for (off = 0; off < m->hdr.len;
	     off += (uint32_t)strlen(m->body + off) + 1) {
		snprintf(path, sizeof(path), "%s/%s", dir, m->body + off);
		if (xs_rd(e->d0, 0, path, NULL))
			fail_msg("%s lists %s, which does not exist", dir,
				 m->body + off);
	}
	free(m);
}

static void test_txn_failed_rm(void **state)
{
	struct env *e = env_quota("transaction-nodes=5");
	struct tconn *g5 = env_guest(e, 5);
	static const char *const kids[] = {"a", "b", "c", "e", "f"};
	const char *res;
	char path[16];
	uint32_t tx;
	unsigned int i;

	(void)state;
	for (i = 0; i < 5; i++) {
		snprintf(path, sizeof(path), "d/%s", kids[i]);
		assert_ok(xs_wr(g5, 0, path, "1"));
	}
	assert_ok(xs_watch(e->d0, "/local/domain/5/d", "w"));
	discard_events(e->d0);
	/* Removing 6 nodes exceeds the transaction's 5: the RM fails... */
	tx = xs_start(g5);
	assert_err(xs_rm(g5, tx, "d"), "ENOSPC");
	/* ...and changed nothing, not even inside the transaction (these
	 * paths were all looked at already, so no new quota is needed). */
	expect_read(g5, tx, "d/a", "1");
	expect_read(g5, tx, "d/e", "1");
	expect_reply(g5, XS_DIRECTORY, tx, "d", "a\0b\0c\0e\0f", 10);
	/* The commit has nothing to apply and nothing to announce. */
	res = xs_end(g5, tx, "T");
	assert_ok(res);
	expect_no_event(e->d0);
	expect_consistent(e, "/local/domain/5/d");
	expect_reply(e->d0, XS_DIRECTORY, 0, "/local/domain/5/d",
		     "a\0b\0c\0e\0f", 10);
	for (i = 0; i < 5; i++) {
		snprintf(path, sizeof(path), "d/%s", kids[i]);
		expect_read(g5, 0, path, "1");
	}
	env_free(e);
}

/* === permissions between domains ======================================= */

static void test_perm_entries(void **state)
{
	struct env *e = env_new(NULL);
	struct tconn *g5 = env_guest(e, 5), *g6 = env_guest(e, 6);
	const char *node = "/local/domain/5/data";

	(void)state;
	assert_ok(xs_wr(g5, 0, "data", "v"));
	expect_perms(g5, "data", "n5");
	/* The owner has full access whatever its letter says. */
	expect_read(g5, 0, "data", "v");
	assert_err(xs_rd(g6, 0, node, NULL), "EACCES");
	assert_err(xs_wr(g6, 0, node, "x"), "EACCES");
	assert_err(xs_dir(g6, 0, node, NULL), "EACCES");
	assert_err(xs_getp(g6, 0, node, NULL), "EACCES");
	assert_err(xs_rm(g6, 0, node), "EACCES");

	assert_ok(xs_setp(g5, 0, "data", "n5,r6"));
	expect_read(g6, 0, node, "v");
	expect_perms(g6, node, "n5,r6");
	assert_err(xs_wr(g6, 0, node, "x"), "EACCES");

	assert_ok(xs_setp(g5, 0, "data", "n5,w6"));
	assert_err(xs_rd(g6, 0, node, NULL), "EACCES");
	assert_ok(xs_wr(g6, 0, node, "w"));
	expect_read(g5, 0, "data", "w");

	assert_ok(xs_setp(g5, 0, "data", "n5,b6"));
	assert_ok(xs_wr(g6, 0, node, "b"));
	expect_read(g6, 0, node, "b");

	/* Entry 0's letter is the default for everybody not listed. */
	assert_ok(xs_setp(g5, 0, "data", "r5"));
	expect_read(g6, 0, node, "b");
	assert_err(xs_wr(g6, 0, node, "x"), "EACCES");
	assert_ok(xs_setp(g5, 0, "data", "b5"));
	assert_ok(xs_wr(g6, 0, node, "d"));
	/* An explicit entry beats the default; the first match decides. */
	assert_ok(xs_setp(g5, 0, "data", "b5,n6"));
	assert_err(xs_rd(g6, 0, node, NULL), "EACCES");
	assert_ok(xs_setp(g5, 0, "data", "n5,r6,b6"));
	expect_read(g6, 0, node, "d");
	assert_err(xs_wr(g6, 0, node, "x"), "EACCES");
	/* Only the owner (or dom0) may change the permissions. */
	assert_ok(xs_setp(g5, 0, "data", "n5,b6"));
	assert_err(xs_setp(g6, 0, node, "n5,b6"), "EACCES");
	/* dom0 always may. */
	expect_read(e->d0, 0, node, "d");
	env_free(e);
}

static void test_perm_hiding(void **state)
{
	struct env *e = env_new(NULL);
	struct tconn *g6;

	(void)state;
	(void)env_guest(e, 5);
	g6 = env_guest(e, 6);
	/* Cannot read the parent: EACCES, whether the node exists or not. */
	assert_err(xs_rd(g6, 0, "/local/domain/5/missing", NULL), "EACCES");
	assert_err(xs_rd(g6, 0, "/local/domain/5/missing/deeper", NULL),
		   "EACCES");
	assert_err(xs_wr(g6, 0, "/local/domain/5/new", "x"), "EACCES");
	assert_err(xs_rm(g6, 0, "/local/domain/5/missing"), "EACCES");
	assert_ok(xs_setp(e->d0, 0, "/local/domain/5", "n5,r6"));
	assert_err(xs_rd(g6, 0, "/local/domain/5/missing", NULL), "ENOENT");
	assert_err(xs_rd(g6, 0, "/local/domain/5/missing/deeper", NULL),
		   "ENOENT");
	/* Reading is not writing. */
	assert_err(xs_wr(g6, 0, "/local/domain/5/new", "x"), "EACCES");
	assert_err(xs_rd(g6, 0, "/local/domain/5/new", NULL), "ENOENT");
	env_free(e);
}

static void test_perm_unprivileged_create(void **state)
{
	struct env *e = env_new(NULL);
	struct tconn *d0 = e->d0, *g5 = env_guest(e, 5), *g6 = env_guest(e, 6);

	(void)state;
	assert_ok(xs_mk(d0, 0, "/shared"));
	assert_ok(xs_setp(d0, 0, "/shared", "n0,b5,b6"));
	/* The creator becomes the owner; the rest of the list is copied. */
	assert_ok(xs_wr(g5, 0, "/shared/x", "5"));
	expect_perms(d0, "/shared/x", "n5,b5,b6");
	assert_ok(xs_wr(g5, 0, "/shared/y/z", "5"));
	expect_perms(d0, "/shared/y", "n5,b5,b6");
	expect_perms(d0, "/shared/y/z", "n5,b5,b6");
	/* 5 now owns it and may change its permissions; 6 may only write. */
	assert_ok(xs_wr(g6, 0, "/shared/x", "6"));
	assert_err(xs_setp(g6, 0, "/shared/x", "n5"), "EACCES");
	assert_ok(xs_setp(g5, 0, "/shared/x", "n5"));
	assert_err(xs_rd(g6, 0, "/shared/x", NULL), "EACCES");
	/* dom0 creates with the parent's list unchanged. */
	assert_ok(xs_wr(d0, 0, "/shared/d", "0"));
	expect_perms(d0, "/shared/d", "n0,b5,b6");
	env_free(e);
}

static void test_perm_owner_change(void **state)
{
	struct env *e = env_new(NULL);
	struct tconn *g5 = env_guest(e, 5);

	(void)state;
	(void)env_guest(e, 6);
	assert_ok(xs_wr(g5, 0, "mine", "1"));
	/* An unprivileged owner may not give its node away. */
	assert_err(xs_setp(g5, 0, "mine", "n6"), "EPERM");
	assert_err(xs_setp(g5, 0, "mine", "b6,b5"), "EPERM");
	expect_perms(g5, "mine", "n5");
	assert_err(xs_setp(g5, 0, "nope", "n5"), "ENOENT");
	/* dom0 may, and then 5 has no access left. */
	assert_ok(xs_setp(e->d0, 0, "/local/domain/5/mine", "n6"));
	assert_err(xs_rd(g5, 0, "mine", NULL), "EACCES");
	assert_err(xs_setp(g5, 0, "mine", "n5"), "EACCES");
	env_free(e);
}

/*
 * Domain 5 (g5) writes "v" to its node "data" and gives it the permission
 * list `perms`, which lets domain 6 (g6) read it.
 */
static void share_data(struct tconn *g5, struct tconn *g6, const char *perms)
{
	assert_ok(xs_wr(g5, 0, "data", "v"));
	assert_ok(xs_setp(g5, 0, "data", perms));
	expect_read(g6, 0, "/local/domain/5/data", "v");
}

static void test_perm_unknown_domid_ignored(void **state)
{
	struct env *e = env_new(NULL);
	struct tconn *g5 = env_guest(e, 5), *g6 = env_guest(e, 6), *g9;

	(void)state;
	/* 9 does not exist when the list is set. */
	share_data(g5, g6, "n5,r6,r9");
	g9 = env_guest(e, 9);
	assert_err(xs_rd(g9, 0, "/local/domain/5/data", NULL), "EACCES");
	/* Set again now that 9 exists: it counts. */
	assert_ok(xs_setp(g5, 0, "data", "n5,r6,r9"));
	expect_read(g9, 0, "/local/domain/5/data", "v");
	env_free(e);
}

static void test_perm_dead_domid_ignored(void **state)
{
	struct env *e = env_new(NULL);
	struct tconn *g5 = env_guest(e, 5), *g6 = env_guest(e, 6), *g6b;

	(void)state;
	share_data(g5, g6, "n5,r6");
	/* Domain 6 dies: its entries stop counting at once... */
	xs_domain_unregister(e->s, 6);
	assert_err(xs_rd(g6, 0, "/local/domain/5/data", NULL), "EACCES");
	/* ...but GET_PERMS still lists them, as Xen's daemon does. */
	expect_perms(e->d0, "/local/domain/5/data", "n5,r6");
	/* Its death released it: there is nothing left to RELEASE. */
	expect_reply(e->d0, XS_IS_DOMAIN_INTRODUCED, 0, "6", "F", 2);
	assert_err(op1(e->d0, XS_RELEASE, 0, "6", NULL), "ENOENT");
	/* A new domain 6 does not inherit the old one's access. */
	g6b = env_guest(e, 6);
	assert_err(xs_rd(g6b, 0, "/local/domain/5/data", NULL), "EACCES");
	expect_perms(e->d0, "/local/domain/5/data", "n5,r6");
	env_free(e);
}

static void test_perm_reused_domid_after_rewrite(void **state)
{
	struct env *e = env_new(NULL);
	struct tconn *g5 = env_guest(e, 5), *g6 = env_guest(e, 6), *g6b;

	(void)state;
	share_data(g5, g6, "n5,r6");
	/* This time the toolstack releases 6 first, then the hypervisor
	 * reports it gone. */
	assert_ok(op1(e->d0, XS_RELEASE, 0, "6", NULL));
	xs_domain_unregister(e->s, 6);
	assert_err(op1(e->d0, XS_RELEASE, 0, "6", NULL), "ENOENT");
	g6b = env_guest(e, 6);
	assert_err(xs_rd(g6b, 0, "/local/domain/5/data", NULL), "EACCES");
	/* The owner writes the node again, with the list unchanged: the
	 * stale entry must not start to count for the new domain 6. */
	assert_ok(xs_wr(g5, 0, "data", "v2"));
	assert_err(xs_rd(g6b, 0, "/local/domain/5/data", NULL), "EACCES");
	assert_err(xs_wr(g6b, 0, "/local/domain/5/data", "x"), "EACCES");
	/* Nor after another write; the entry is still listed. */
	assert_ok(xs_wr(g5, 0, "data", "v3"));
	assert_err(xs_rd(g6b, 0, "/local/domain/5/data", NULL), "EACCES");
	expect_perms(g5, "data", "n5,r6");
	/* Granting it anew, now that the new 6 exists, does count. */
	assert_ok(xs_setp(g5, 0, "data", "n5,r6"));
	expect_read(g6b, 0, "/local/domain/5/data", "v3");
	assert_err(xs_wr(g6b, 0, "/local/domain/5/data", "x"), "EACCES");
	env_free(e);
}

static void test_set_target(void **state)
{
	struct env *e = env_new(NULL);
	struct tconn *d0 = e->d0, *g5 = env_guest(e, 5), *g6 = env_guest(e, 6);

	(void)state;
	assert_ok(xs_wr(g5, 0, "data", "v"));
	assert_err(xs_rd(g6, 0, "/local/domain/5/data", NULL), "EACCES");
	assert_err(opn(g5, XS_SET_TARGET, 0, NULL, "6", "5", NULL), "EACCES");
	assert_err(opn(d0, XS_SET_TARGET, 0, NULL, "77", "5", NULL), "ENOENT");
	assert_err(opn(d0, XS_SET_TARGET, 0, NULL, "6", "77", NULL), "ENOENT");
	assert_err(opn(d0, XS_SET_TARGET, 0, NULL, "6", "x", NULL), "EINVAL");
	assert_err(op1(d0, XS_SET_TARGET, 0, "6", NULL), "EINVAL");
	/* 6 (say, a device model) now acts for 5: 5's rights are its own. */
	assert_ok(opn(d0, XS_SET_TARGET, 0, NULL, "6", "5", NULL));
	expect_read(g6, 0, "/local/domain/5/data", "v");
	assert_ok(xs_wr(g6, 0, "/local/domain/5/data", "dm"));
	assert_ok(xs_wr(g6, 0, "/local/domain/5/dm/new", "x"));
	expect_read(g5, 0, "data", "dm");
	/* ...but 5 gets nothing of 6's. */
	assert_ok(xs_wr(g6, 0, "own", "6"));
	assert_err(xs_rd(g5, 0, "/local/domain/6/own", NULL), "EACCES");
	env_free(e);
}

/* === quotas ============================================================ */

static void test_quota_nodes(void **state)
{
	struct env *e = env_quota("nodes=5");
	struct tconn *g5 = env_guest(e, 5);

	(void)state;
	/* The home counts: 1 + 4 nodes. */
	write_keys(g5, 0, "n", 4);
	assert_err(xs_wr(g5, 0, "n4", "x"), "ENOSPC");
	assert_err(xs_mk(g5, 0, "n4"), "ENOSPC");
	assert_err(xs_rd(g5, 0, "n4", NULL), "ENOENT");
	/* Changing an existing node needs no quota. */
	assert_ok(xs_wr(g5, 0, "n3", "y"));
	/* Removing frees quota; a two-level write needs two. */
	assert_ok(xs_rm(g5, 0, "n0"));
	assert_err(xs_wr(g5, 0, "a/b", "x"), "ENOSPC");
	assert_err(xs_rd(g5, 0, "a", NULL), "ENOENT");
	assert_ok(xs_rm(g5, 0, "n1"));
	assert_ok(xs_wr(g5, 0, "a/b", "x"));
	assert_err(xs_wr(g5, 0, "n9", "x"), "ENOSPC");
	/* dom0 is not limited. */
	write_keys(e->d0, 0, "/d0/n", 10);
	env_free(e);
}

static void test_quota_nodes_in_transaction(void **state)
{
	struct env *e = env_quota("nodes=5");
	struct tconn *g5 = env_guest(e, 5);
	const char *res = NULL;
	char name[16];
	uint32_t tx;
	int i;

	(void)state;
	/* 1 (home) + 5 new nodes would exceed the quota: a write or the
	 * commit must fail, and nothing beyond the quota may land. */
	tx = xs_start(g5);
	for (i = 0; i < 5 && !res; i++) {
		snprintf(name, sizeof(name), "n%d", i);
		res = xs_wr(g5, tx, name, "x");
	}
	if (!res)
		res = xs_end(g5, tx, "T");
	else
		assert_ok(xs_end(g5, tx, "F"));
	assert_err(res, "ENOSPC");
	assert_ok(xs_dir(g5, 0, "/local/domain/5", &scratch));
	assert_true(scratch.hdr.len <= 4 * 3);
	/* Within the quota, a transaction commits. */
	tx = xs_start(g5);
	write_keys(g5, tx, "m", 4);
	assert_ok(xs_end(g5, tx, "T"));
	assert_err(xs_wr(g5, 0, "one-more", "x"), "ENOSPC");
	env_free(e);
}

static void test_quota_node_size(void **state)
{
	struct env *e = env_quota("node-size=100");
	struct tconn *g5 = env_guest(e, 5);
	char big[4000];

	(void)state;
	fill(big, 50, 's');
	assert_ok(xs_wr(g5, 0, "s", big));
	fill(big, 90, 'b');
	assert_err(xs_wr(g5, 0, "s", big), "ENOSPC");
	assert_err(xs_wr(g5, 0, "t", big), "ENOSPC");
	fill(big, 50, 's');
	expect_read(g5, 0, "s", big);
	assert_err(xs_rd(g5, 0, "t", NULL), "ENOENT");
	/* dom0 is not limited. */
	fill(big, 3000, 'd');
	assert_ok(xs_wr(e->d0, 0, "/local/domain/5/d", big));
	expect_read(g5, 0, "d", big);
	env_free(e);
}

static void test_quota_watches(void **state)
{
	struct env *e = env_quota("watches=3");
	struct tconn *g5 = env_guest(e, 5);
	char path[32];
	int i;

	(void)state;
	assert_ok(xs_watch(g5, "a", "t"));
	assert_ok(xs_watch(g5, "b", "t"));
	assert_ok(xs_watch(g5, "c", "t"));
	assert_err(xs_watch(g5, "d", "t"), "E2BIG");
	assert_err(xs_watch(g5, "a", "t"), "EEXIST");
	assert_ok(xs_unwatch(g5, "a", "t"));
	assert_ok(xs_watch(g5, "d", "t"));
	assert_err(xs_watch(g5, "e", "t"), "E2BIG");
	for (i = 0; i < 10; i++) {
		snprintf(path, sizeof(path), "/w%d", i);
		assert_ok(xs_watch(e->d0, path, "t"));
	}
	env_free(e);
}

static void test_quota_transactions(void **state)
{
	struct env *e = env_quota("transactions=2");
	struct tconn *g5 = env_guest(e, 5);
	uint32_t a, b;
	int i;

	(void)state;
	a = xs_start(g5);
	b = xs_start(g5);
	assert_err(op1(g5, XS_TRANSACTION_START, 0, "", NULL), "ENOSPC");
	assert_ok(xs_end(g5, a, "F"));
	a = xs_start(g5);
	assert_err(op1(g5, XS_TRANSACTION_START, 0, "", NULL), "ENOSPC");
	assert_ok(xs_end(g5, a, "T"));
	assert_ok(xs_end(g5, b, "T"));
	for (i = 0; i < 5; i++)
		(void)xs_start(e->d0);
	env_free(e);
}

static void test_quota_transaction_nodes(void **state)
{
	struct env *e = env_quota("transaction-nodes=5");
	struct tconn *g5 = env_guest(e, 5);
	char name[16];
	uint32_t tx;
	int i;
	const char *res = NULL;

	(void)state;
	tx = xs_start(g5);
	for (i = 0; i < 10; i++) {
		snprintf(name, sizeof(name), "k%d", i);
		res = xs_wr(g5, tx, name, "x");
		if (res)
			break;
	}
	assert_true(i >= 3 && i <= 5);
	assert_err(res, "ENOSPC");
	assert_ok(xs_end(g5, tx, "F"));
	/* The limit is per transaction. */
	tx = xs_start(g5);
	assert_ok(xs_wr(g5, tx, "k0", "x"));
	assert_ok(xs_end(g5, tx, "T"));
	expect_read(g5, 0, "k0", "x");
	/* dom0 is not limited. */
	tx = xs_start(e->d0);
	write_keys(e->d0, tx, "/tn/k", 20);
	assert_ok(xs_end(e->d0, tx, "T"));
	env_free(e);
}

static void test_quota_perms(void **state)
{
	struct env *e = env_quota("perms=2");
	struct tconn *g5 = env_guest(e, 5);

	(void)state;
	(void)env_guest(e, 6);
	assert_ok(xs_wr(g5, 0, "p", "x"));
	assert_ok(xs_setp(g5, 0, "p", "n5,r6"));
	assert_err(xs_setp(g5, 0, "p", "n5,r6,r0"), "ENOSPC");
	expect_perms(g5, "p", "n5,r6");
	assert_ok(xs_setp(e->d0, 0, "/local/domain/5/p", "n5,r6,r0,w1,b2,r3"));
	expect_perms(g5, "p", "n5,r6,r0,w1,b2,r3");
	env_free(e);
}

/* Count the complete messages waiting, and check their req_ids. */
static unsigned int count_replies(struct tconn *t, uint32_t first_id)
{
	size_t len, off = 0;
	const uint8_t *out = xs_conn_output(t->c, &len);
	unsigned int n = 0;

	while (off + HDR_LEN <= len) {
		struct xsd_sockmsg h;

		memcpy(&h, out + off, HDR_LEN);
		assert_int_equal(h.type, XS_GET_DOMAIN_PATH);
		assert_int_equal(h.req_id, first_id + n);
		off += HDR_LEN + h.len;
		n++;
	}
	assert_int_equal(off, len);
	return n;
}

static void test_quota_outstanding(void **state)
{
	struct env *e = env_new(NULL);
	struct tconn *g5 = env_guest(e, 5);
	static uint8_t in[25 * 64];
	size_t ilen = 0, room;
	uint8_t *p;
	int i;

	(void)state;
	for (i = 0; i < 25; i++) {
		struct xsd_sockmsg h = {.type = XS_GET_DOMAIN_PATH,
					.req_id = 1000 + (uint32_t)i,
					.tx_id = 0,
					.len = 2};

		memcpy(in + ilen, &h, HDR_LEN);
		memcpy(in + ilen + HDR_LEN, "5", 2);
		ilen += HDR_LEN + 2;
	}
	feed(g5, in, ilen);
	/* 20 replies wait for the guest: nothing more is read. */
	assert_int_equal(count_replies(g5, 1000), 20);
	p = xs_conn_input_space(g5->c, &room);
	assert_int_equal(room, 0);
	assert_null(p);
	assert_int_equal(xs_conn_resume(g5->c), 0);
	assert_int_equal(count_replies(g5, 1000), 20);
	/* Once the guest has taken them, the rest are answered. */
	drop_output(g5);
	p = xs_conn_input_space(g5->c, &room);
	assert_non_null(p);
	assert_true(room > 0);
	assert_int_equal(xs_conn_resume(g5->c), 0);
	assert_int_equal(count_replies(g5, 1020), 5);
	drop_output(g5);

	/* dom0 is not limited. */
	for (i = 0; i < 25; i++) {
		struct xsd_sockmsg h;

		memcpy(&h, in + (size_t)i * (HDR_LEN + 2), HDR_LEN);
		h.req_id = 2000 + (uint32_t)i;
		memcpy(in + (size_t)i * (HDR_LEN + 2), &h, HDR_LEN);
	}
	feed(e->d0, in, ilen);
	assert_int_equal(count_replies(e->d0, 2000), 25);
	env_free(e);
}

/* === framing and dispatch ============================================== */

static void test_enosys(void **state)
{
	static const uint32_t types[] = {XS_WATCH_EVENT, XS_ERROR,   20,
					 XS_TYPE_COUNT,	 100,	     XS_INVALID,
					 0x7fffffff};
	struct env *e = env_new(NULL);
	struct tconn *g5 = env_guest(e, 5);
	unsigned int i;

	(void)state;
	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		assert_err(op1(e->d0, types[i], 0, "/", NULL), "ENOSYS");
		assert_err(op1(g5, types[i], 0, "/", NULL), "ENOSYS");
	}
	env_free(e);
}

static void test_oversize_header(void **state)
{
	struct env *e = env_new(NULL);
	struct xsd_sockmsg h = {.type = XS_READ,
				.req_id = 1,
				.tx_id = 0,
				.len = XENSTORE_PAYLOAD_MAX + 1};
	size_t room;
	uint8_t *p;

	(void)state;
	p = xs_conn_input_space(e->d0->c, &room);
	assert_non_null(p);
	memcpy(p, &h, HDR_LEN);
	/* The header alone is enough to drop the client. */
	assert_true(xs_conn_input_done(e->d0->c, HDR_LEN) < 0);
	assert_true(xs_conn_closing(e->d0->c));
	env_free(e);
}

static void test_partial_input(void **state)
{
	struct env *e = env_new(NULL);
	struct xsd_sockmsg h = {
		.type = XS_WRITE, .req_id = 42, .tx_id = 0, .len = 6};
	size_t room, len;
	uint8_t *p;

	(void)state;
	/* A message split across reads is handled once it is whole. */
	p = xs_conn_input_space(e->d0->c, &room);
	memcpy(p, &h, 10);
	assert_int_equal(xs_conn_input_done(e->d0->c, 10), 0);
	p = xs_conn_input_space(e->d0->c, &room);
	memcpy(p, (uint8_t *)&h + 10, HDR_LEN - 10);
	memcpy(p + HDR_LEN - 10, "/pi\0", 4);
	assert_int_equal(xs_conn_input_done(e->d0->c, HDR_LEN - 10 + 4), 0);
	(void)xs_conn_output(e->d0->c, &len);
	assert_int_equal(len, 0);
	p = xs_conn_input_space(e->d0->c, &room);
	memcpy(p, "ab", 2);
	assert_int_equal(xs_conn_input_done(e->d0->c, 2), 0);
	assert_true(pop_msg(e->d0, &scratch));
	assert_int_equal(scratch.hdr.type, XS_WRITE);
	assert_int_equal(scratch.hdr.req_id, 42);
	expect_read(e->d0, 0, "/pi", "ab");
	assert_false(xs_conn_closing(e->d0->c));
	env_free(e);
}

static void test_privileged_ops(void **state)
{
	static const uint32_t priv[] = {XS_CONTROL,    XS_INTRODUCE,
					XS_RELEASE,    XS_IS_DOMAIN_INTRODUCED,
					XS_RESUME,     XS_SET_TARGET};
	struct env *e = env_new(NULL);
	struct tconn *g5 = env_guest(e, 5);
	unsigned int i;

	(void)state;
	for (i = 0; i < sizeof(priv) / sizeof(priv[0]); i++)
		assert_err(opn(g5, priv[i], 0, NULL, "5", "1", "1", NULL),
			   "EACCES");
	/* GET_DOMAIN_PATH is for everyone. */
	expect_reply(g5, XS_GET_DOMAIN_PATH, 0, "7", "/local/domain/7", 16);
	/* RELEASE was refused: 5 is still there. */
	expect_reply(e->d0, XS_IS_DOMAIN_INTRODUCED, 0, "5", "T", 2);
	env_free(e);
}

static void test_domain_ops(void **state)
{
	struct env *e = env_new(NULL);
	struct tconn *d0 = e->d0;

	(void)state;
	expect_reply(d0, XS_GET_DOMAIN_PATH, 0, "0", "/local/domain/0", 16);
	assert_err(op1(d0, XS_GET_DOMAIN_PATH, 0, "x", NULL), "EINVAL");
	expect_reply(d0, XS_IS_DOMAIN_INTRODUCED, 0, "0", "T", 2);
	expect_reply(d0, XS_IS_DOMAIN_INTRODUCED, 0, "5", "F", 2);
	assert_err(op1(d0, XS_RESUME, 0, "5", NULL), "ENOENT");
	/* A domain the hypervisor has not registered cannot be introduced. */
	assert_err(introduce(d0, 5), "EINVAL");
	expect_reply(d0, XS_IS_DOMAIN_INTRODUCED, 0, "5", "F", 2);
	assert_int_equal(xs_domain_register(e->s, 0), -EINVAL);
	assert_int_equal(xs_domain_register(e->s, DOMID_FIRST_RESERVED),
			 -EINVAL);
	assert_int_equal(xs_domain_register(e->s, 5), 0);
	/* Registered but not introduced: still "F", no RESUME. */
	expect_reply(d0, XS_IS_DOMAIN_INTRODUCED, 0, "5", "F", 2);
	assert_err(op1(d0, XS_RESUME, 0, "5", NULL), "ENOENT");
	assert_ok(introduce(d0, 5));
	expect_reply(d0, XS_IS_DOMAIN_INTRODUCED, 0, "5", "T", 2);
	assert_ok(op1(d0, XS_RESUME, 0, "5", NULL));
	/* dom0 is neither resumed nor released. */
	assert_err(op1(d0, XS_RESUME, 0, "0", NULL), "EINVAL");
	assert_err(op1(d0, XS_RELEASE, 0, "0", NULL), "EINVAL");
	expect_reply(d0, XS_IS_DOMAIN_INTRODUCED, 0, "0", "T", 2);
	/* Bad INTRODUCE arguments, for a domain that could be introduced. */
	assert_int_equal(xs_domain_register(e->s, 6), 0);
	assert_err(op1(d0, XS_INTRODUCE, 0, "6", NULL), "EINVAL");
	assert_err(opn(d0, XS_INTRODUCE, 0, NULL, "x", "1", "1", NULL),
		   "EINVAL");
	assert_err(opn(d0, XS_INTRODUCE, 0, NULL, "6", "z", "1", NULL),
		   "EINVAL");
	assert_err(opn(d0, XS_INTRODUCE, 0, NULL, "6", "1", "0", NULL),
		   "EINVAL");
	assert_err(opn(d0, XS_INTRODUCE, 0, NULL, "0", "1", "1", NULL),
		   "EINVAL");
	assert_err(opn(d0, XS_INTRODUCE, 0, NULL, "32752", "1", "1", NULL),
		   "EINVAL");
	expect_reply(d0, XS_IS_DOMAIN_INTRODUCED, 0, "6", "F", 2);
	/* With good ones it is. */
	assert_ok(opn(d0, XS_INTRODUCE, 0, NULL, "6", "1", "1", NULL));
	expect_reply(d0, XS_IS_DOMAIN_INTRODUCED, 0, "6", "T", 2);
	assert_ok(op1(d0, XS_RELEASE, 0, "5", NULL));
	expect_reply(d0, XS_IS_DOMAIN_INTRODUCED, 0, "5", "F", 2);
	assert_err(op1(d0, XS_RESUME, 0, "5", NULL), "ENOENT");
	assert_err(op1(d0, XS_RELEASE, 0, "5", NULL), "ENOENT");
	/* A domain nobody ever heard of. */
	assert_err(op1(d0, XS_RELEASE, 0, "77", NULL), "ENOENT");
	assert_err(op1(d0, XS_RELEASE, 0, "x", NULL), "EINVAL");
	assert_err(op1(d0, XS_RELEASE, 0, "32752", NULL), "EINVAL");
	/* CONTROL answers something for dom0. */
	assert_ok(op1(d0, XS_CONTROL, 0, "help", NULL));
	env_free(e);
}

/* === domain death ====================================================== */

/*
 * A dead domain's nodes: 5 owns its home (with a child dom0 gave to
 * itself) and a subtree under /shared (with a child dom0 owns).
 */
static struct env *env_owned_nodes(struct tconn **w)
{
	struct env *e = env_new(NULL);
	struct tconn *d0 = e->d0, *g5 = env_guest(e, 5);

	(void)env_guest(e, 6);
	assert_ok(xs_mk(d0, 0, "/shared"));
	assert_ok(xs_setp(d0, 0, "/shared", "n0,b5"));
	assert_ok(xs_wr(d0, 0, "/shared/keep", "0"));
	assert_ok(xs_wr(g5, 0, "/shared/g5/sub", "5"));
	assert_ok(xs_setp(d0, 0, "/shared/g5/sub", "n0"));
	assert_ok(xs_wr(g5, 0, "data/x", "1"));
	assert_ok(xs_wr(d0, 0, "/local/domain/5/byd0", "0"));
	assert_ok(xs_setp(d0, 0, "/local/domain/5/byd0", "n0"));
	assert_ok(xs_wr(d0, 0, "/local/domain/6/from5", "0"));
	assert_ok(xs_setp(d0, 0, "/local/domain/6/from5", "n6,r5"));
	expect_perms(d0, "/shared/g5", "n5,b5");
	expect_perms(d0, "/local/domain/5/data/x", "n5");
	*w = tc_new(e, 0);
	assert_ok(xs_watch(*w, "/shared", "shared"));
	assert_ok(xs_watch(*w, "/local/domain/5/data/x", "x"));
	assert_ok(xs_watch(*w, "/local/domain/5/data/y", "y"));
	assert_ok(xs_watch(*w, "/local/domain/6", "six"));
	assert_ok(xs_watch(*w, "@releaseDomain", "rel"));
	discard_events(*w);
	return e;
}

static void expect_owned_nodes_gone(struct env *e, struct tconn *w)
{
	struct tconn *d0 = e->d0;

	assert_err(xs_rd(d0, 0, "/local/domain/5", NULL), "ENOENT");
	assert_err(xs_rd(d0, 0, "/local/domain/5/data/x", NULL), "ENOENT");
	assert_err(xs_rd(d0, 0, "/local/domain/5/byd0", NULL), "ENOENT");
	assert_err(xs_rd(d0, 0, "/shared/g5", NULL), "ENOENT");
	assert_err(xs_rd(d0, 0, "/shared/g5/sub", NULL), "ENOENT");
	assert_null(xs_table_get(&e->s->nodes, "/shared/g5/sub", 14));
	/* What others own stays, even where 5 had rights. */
	expect_read(d0, 0, "/shared/keep", "0");
	expect_read(d0, 0, "/local/domain/6/from5", "0");
	expect_perms(d0, "/local/domain/6/from5", "n6,r5");
	expect_reply(d0, XS_DIRECTORY, 0, "/shared", "keep", 5);
	expect_reply(d0, XS_DIRECTORY, 0, "/local/domain", "6", 2);
	expect_consistent(e, "/shared");
	expect_consistent(e, "/local/domain");
	/* The removals fire like RMs, then @releaseDomain. */
	expect_events_unordered(w, "/shared/g5", "shared",
				"/local/domain/5/data/x", "x",
				"@releaseDomain", "rel", NULL);
	expect_reply(d0, XS_IS_DOMAIN_INTRODUCED, 0, "5", "F", 2);
	/* Nothing is counted against 5 any more. */
	assert_null(domain_get(e->s, 5));
}

static void test_domain_death_removes_nodes(void **state)
{
	struct tconn *w;
	struct env *e = env_owned_nodes(&w);

	(void)state;
	xs_domain_unregister(e->s, 5);
	expect_owned_nodes_gone(e, w);
	/* A new domain 5 starts with nothing. */
	(void)env_guest(e, 5);
	expect_reply(e->d0, XS_DIRECTORY, 0, "/local/domain/5", "", 0);
	assert_int_equal(domain_get(e->s, 5)->nnodes, 1);
	env_free(e);
}

static void test_domain_release_removes_nodes(void **state)
{
	struct tconn *w;
	struct env *e = env_owned_nodes(&w);

	(void)state;
	assert_ok(op1(e->d0, XS_RELEASE, 0, "5", NULL));
	/* Its nodes went with the RELEASE; the hypervisor then reports the
	 * domain gone, which fires nothing more. */
	assert_non_null(domain_get(e->s, 5));
	assert_int_equal(domain_get(e->s, 5)->nnodes, 0);
	xs_domain_unregister(e->s, 5);
	expect_owned_nodes_gone(e, w);
	assert_err(op1(e->d0, XS_RELEASE, 0, "5", NULL), "ENOENT");
	env_free(e);
}

static void test_domain_death_keep_orphans(void **state)
{
	struct tconn *w, *g5b;
	struct env *e = env_owned_nodes(&w);
	struct tconn *d0 = e->d0;

	(void)state;
	xs_store_keep_orphans(e->s, true);
	xs_domain_unregister(e->s, 5);
	/* Only @releaseDomain fires; the nodes stay as they were. */
	expect_only_event(w, "@releaseDomain", "rel");
	expect_read(d0, 0, "/local/domain/5/data/x", "1");
	expect_read(d0, 0, "/shared/g5/sub", "5");
	expect_perms(d0, "/local/domain/5/data/x", "n5");
	expect_reply(d0, XS_IS_DOMAIN_INTRODUCED, 0, "5", "F", 2);
	/* A new domain 5 does not own what the old one left behind. */
	g5b = env_guest(e, 5);
	assert_err(xs_rd(g5b, 0, "data/x", NULL), "EACCES");
	assert_err(xs_wr(g5b, 0, "data/x", "2"), "EACCES");
	assert_err(xs_rd(g5b, 0, "/shared/g5", NULL), "EACCES");
	expect_perms(d0, "/shared/g5", "n5,b5");
	expect_read(d0, 0, "/local/domain/5/data/x", "1");
	/* Its home, given to it anew by env_guest, is its own. */
	assert_ok(xs_wr(g5b, 0, "fresh", "f"));
	expect_read(g5b, 0, "fresh", "f");
	env_free(e);
}

/* === special watches =================================================== */

static void test_introduce_release_events(void **state)
{
	struct env *e = env_new(NULL);
	struct tconn *d0 = e->d0, *w = tc_new(e, 0);

	(void)state;
	expect_watch(w, "@introduceDomain", "in");
	expect_watch(w, "@releaseDomain", "rel");
	expect_watch(w, "@releaseDomain/5", "rel5");

	assert_int_equal(xs_domain_register(e->s, 5), 0);
	assert_int_equal(xs_domain_register(e->s, 5), -EEXIST);
	assert_ok(introduce(d0, 5));
	expect_only_event(w, "@introduceDomain", "in");
	/* Introducing it again (same ring) announces nothing. */
	assert_ok(introduce(d0, 5));
	expect_no_event(w);
	/* Not registered: refused, and nothing fires. */
	assert_err(introduce(d0, 6), "EINVAL");
	expect_no_event(w);
	assert_int_equal(xs_domain_register(e->s, 6), 0);
	expect_no_event(w);
	assert_ok(introduce(d0, 6));
	expect_event(w, "@introduceDomain", "in");

	/* The hypervisor reports 5 dead: @releaseDomain fires once. */
	xs_domain_unregister(e->s, 5);
	expect_events_unordered(w, "@releaseDomain", "rel", "@releaseDomain/5",
				"rel5", NULL);
	/* That removed it: a RELEASE afterwards finds nothing, fires
	 * nothing, and so does a second unregister. */
	assert_err(op1(d0, XS_RELEASE, 0, "5", NULL), "ENOENT");
	xs_domain_unregister(e->s, 5);
	expect_no_event(w);
	expect_reply(d0, XS_IS_DOMAIN_INTRODUCED, 0, "5", "F", 2);
	/* RELEASE of a live domain fires too; the per-domain watch only for
	 * its own domain. */
	assert_ok(op1(d0, XS_RELEASE, 0, "6", NULL));
	expect_only_event(w, "@releaseDomain", "rel");
	/* Unregistering a domain that was never introduced is silent. */
	assert_int_equal(xs_domain_register(e->s, 8), 0);
	xs_domain_unregister(e->s, 8);
	expect_no_event(w);
	assert_ok(xs_unwatch(w, "@releaseDomain", "rel"));
	env_free(e);
}

static void test_special_watch_perms(void **state)
{
	struct env *e = env_new(NULL);
	struct tconn *d0 = e->d0, *g5 = env_guest(e, 5);

	(void)state;
	expect_watch(g5, "@introduceDomain", "in");
	expect_watch(g5, "@releaseDomain", "rel");
	assert_int_equal(xs_domain_register(e->s, 7), 0);
	assert_int_equal(xs_domain_register(e->s, 8), 0);
	assert_int_equal(xs_domain_register(e->s, 9), 0);
	/* By default only dom0 sees them. */
	assert_ok(introduce(d0, 7));
	assert_ok(op1(d0, XS_RELEASE, 0, "7", NULL));
	expect_no_event(g5);
	/* Only dom0 decides who else does. */
	assert_err(xs_setp(g5, 0, "@introduceDomain", "n0,r5"), "EACCES");
	assert_err(xs_setp(g5, 0, "@releaseDomain", "n5"), "EACCES");
	assert_err(xs_setp(g5, 0, "@noSuchThing", "n0"), "EACCES");
	assert_ok(xs_setp(d0, 0, "@introduceDomain", "n0,r5"));
	assert_ok(introduce(d0, 8));
	expect_event(g5, "@introduceDomain", "in");
	assert_ok(op1(d0, XS_RELEASE, 0, "8", NULL));
	expect_no_event(g5);
	assert_ok(xs_setp(d0, 0, "@releaseDomain", "n0,r5"));
	assert_ok(introduce(d0, 9));
	expect_event(g5, "@introduceDomain", "in");
	assert_ok(op1(d0, XS_RELEASE, 0, "9", NULL));
	expect_only_event(g5, "@releaseDomain", "rel");
	env_free(e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_read_write),
		cmocka_unit_test(test_read_errors),
		cmocka_unit_test(test_write_errors),
		cmocka_unit_test(test_write_max_payload),
		cmocka_unit_test(test_deep_path),
		cmocka_unit_test(test_deep_path_txn),
		cmocka_unit_test(test_mkdir),
		cmocka_unit_test(test_directory),
		cmocka_unit_test(test_directory_e2big_boundary),
		cmocka_unit_test(test_directory_part_chunks),
		cmocka_unit_test(test_directory_part_small),
		cmocka_unit_test(test_rm),
		cmocka_unit_test(test_perms_dom0),
		cmocka_unit_test(test_watch_fires_on_register),
		cmocka_unit_test(test_watch_subtree),
		cmocka_unit_test(test_watch_set_perms_fires_once),
		cmocka_unit_test(test_watch_implicit_parents),
		cmocka_unit_test(test_watch_rm_below),
		cmocka_unit_test(test_watch_relative),
		cmocka_unit_test(test_unwatch),
		cmocka_unit_test(test_watch_eexist),
		cmocka_unit_test(test_watch_needs_read_perm),
		cmocka_unit_test(test_reset_watches),
		cmocka_unit_test(test_txn_start),
		cmocka_unit_test(test_txn_isolation),
		cmocka_unit_test(test_txn_snapshot_reads),
		cmocka_unit_test(test_txn_conflict),
		cmocka_unit_test(test_txn_unrelated_writes),
		cmocka_unit_test(test_txn_events_on_commit),
		cmocka_unit_test(test_txn_abort),
		cmocka_unit_test(test_txn_bad_ids_and_args),
		cmocka_unit_test(test_txn_failed_rm),
		cmocka_unit_test(test_perm_entries),
		cmocka_unit_test(test_perm_hiding),
		cmocka_unit_test(test_perm_unprivileged_create),
		cmocka_unit_test(test_perm_owner_change),
		cmocka_unit_test(test_perm_unknown_domid_ignored),
		cmocka_unit_test(test_perm_dead_domid_ignored),
		cmocka_unit_test(test_perm_reused_domid_after_rewrite),
		cmocka_unit_test(test_set_target),
		cmocka_unit_test(test_quota_nodes),
		cmocka_unit_test(test_quota_nodes_in_transaction),
		cmocka_unit_test(test_quota_node_size),
		cmocka_unit_test(test_quota_watches),
		cmocka_unit_test(test_quota_transactions),
		cmocka_unit_test(test_quota_transaction_nodes),
		cmocka_unit_test(test_quota_perms),
		cmocka_unit_test(test_quota_outstanding),
		cmocka_unit_test(test_enosys),
		cmocka_unit_test(test_oversize_header),
		cmocka_unit_test(test_partial_input),
		cmocka_unit_test(test_privileged_ops),
		cmocka_unit_test(test_domain_ops),
		cmocka_unit_test(test_domain_death_removes_nodes),
		cmocka_unit_test(test_domain_release_removes_nodes),
		cmocka_unit_test(test_domain_death_keep_orphans),
		cmocka_unit_test(test_introduce_release_events),
		cmocka_unit_test(test_special_watch_perms),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
