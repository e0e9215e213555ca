/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of XenStore path syntax (path.c) and permission strings
 * (perms.c): canonicalisation of relative paths, validation, the length
 * rule below /local/domain/<n>/, special "@" names, ancestry by whole
 * components, and parsing and formatting of "<letter><domid>" lists.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "internal.h"

/* A string of `n` copies of `ch` appended to `prefix` (malloc'd). */
static char *path_of(const char *prefix, size_t n, char ch)
{
	size_t plen = strlen(prefix);
	char *p = malloc(plen + n + 1);

	assert_non_null(p);
	memcpy(p, prefix, plen);
	memset(p + plen, ch, n);
	p[plen + n] = '\0';
	return p;
}

/* Canonicalise and expect success with the given absolute result. */
static void expect_canon(uint32_t domid, const char *in, bool special,
			 const char *want)
{
	int err = -1;
	char *got = xs_path_canonical(domid, in, special, &err);

	if (!got)
		fail_msg("canonical(%u, \"%s\") failed with %d", domid, in,
			 err);
	assert_string_equal(got, want);
	free(got);
}

static void expect_canon_einval(uint32_t domid, const char *in, bool special)
{
	int err = 0;
	char *got = xs_path_canonical(domid, in, special, &err);

	if (got)
		fail_msg("canonical(%u, \"%.60s\") accepted as \"%.60s\"",
			 domid, in, got);
	assert_int_equal(err, EINVAL);
}

static int setup_limits(void **state)
{
	(void)state;
	xs_path_set_max(XENSTORE_REL_PATH_MAX);
	return 0;
}

/* --- canonicalisation -------------------------------------------------- */

static void test_relative_paths(void **state)
{
	(void)state;
	expect_canon(5, "foo", false, "/local/domain/5/foo");
	expect_canon(5, "foo/bar-baz_9", false,
		     "/local/domain/5/foo/bar-baz_9");
	expect_canon(0, "x", false, "/local/domain/0/x");
	expect_canon(32751, "device/vif/0", false,
		     "/local/domain/32751/device/vif/0");
	/* '@' is an ordinary character inside a relative path. */
	expect_canon(7, "a@b", false, "/local/domain/7/a@b");
	/* Absolute paths are taken as they are, whoever asks. */
	expect_canon(5, "/tool/xenstored", false, "/tool/xenstored");
	expect_canon(5, "/", false, "/");
}

static void test_relative_bad(void **state)
{
	(void)state;
	expect_canon_einval(5, "", false);
	expect_canon_einval(5, "", true);
	expect_canon_einval(5, "foo/", false);
	expect_canon_einval(5, "foo//bar", false);
	expect_canon_einval(5, "foo bar", false);
	expect_canon_einval(5, "foo.bar", false);
	expect_canon_einval(5, "foo\tbar", false);
	expect_canon_einval(5, "/foo/", false);
	expect_canon_einval(5, "//", false);
}

static void test_relative_length(void **state)
{
	char *ok = path_of("", XENSTORE_REL_PATH_MAX, 'r');
	char *bad = path_of("", XENSTORE_REL_PATH_MAX + 1, 'r');
	char *want;

	(void)state;
	/* 2048 characters after /local/domain/<n>/ are fine, 2049 not. */
	assert_true(asprintf(&want, "/local/domain/3/%s", ok) > 0);
	expect_canon(3, ok, false, want);
	expect_canon_einval(3, bad, false);
	free(want);
	free(ok);
	free(bad);
}

/* --- validation -------------------------------------------------------- */

static void test_valid_chars(void **state)
{
	(void)state;
	assert_true(xs_path_valid("/"));
	assert_true(xs_path_valid("/a"));
	assert_true(xs_path_valid("/local/domain/0/vm"));
	assert_true(xs_path_valid("/ABC/xyz/0-9/_/@x"));
	assert_true(xs_path_valid("/a/-/_"));

	assert_false(xs_path_valid(""));
	assert_false(xs_path_valid("a"));
	assert_false(xs_path_valid("a/b"));
	assert_false(xs_path_valid("@a"));
	assert_false(xs_path_valid("//"));
	assert_false(xs_path_valid("//a"));
	assert_false(xs_path_valid("/a//b"));
	assert_false(xs_path_valid("/a/b//"));
	assert_false(xs_path_valid("/a/"));
	assert_false(xs_path_valid("/a b"));
	assert_false(xs_path_valid("/a.b"));
	assert_false(xs_path_valid("/a:b"));
	assert_false(xs_path_valid("/a*"));
	assert_false(xs_path_valid("/a\\b"));
	assert_false(xs_path_valid("/a\nb"));
	assert_false(xs_path_valid("/\x7f"));
	assert_false(xs_path_valid("/\xc3\xa4"));
}

static void test_valid_length_general(void **state)
{
	/* Outside /local/domain/<n>/ the limit is on the whole path. */
	char *ok = path_of("/", XENSTORE_REL_PATH_MAX - 1, 'a');
	char *bad = path_of("/", XENSTORE_REL_PATH_MAX, 'a');

	(void)state;
	assert_int_equal(strlen(ok), XENSTORE_REL_PATH_MAX);
	assert_true(xs_path_valid(ok));
	assert_false(xs_path_valid(bad));
	expect_canon(9, ok, false, ok);
	expect_canon_einval(9, bad, false);
	free(ok);
	free(bad);
}

static void test_valid_length_local(void **state)
{
	static const char *const homes[] = {
		"/local/domain/0/", "/local/domain/5/", "/local/domain/12345/"};
	unsigned int i;

	(void)state;
	for (i = 0; i < sizeof(homes) / sizeof(homes[0]); i++) {
		char *ok = path_of(homes[i], XENSTORE_REL_PATH_MAX, 'b');
		char *bad = path_of(homes[i], XENSTORE_REL_PATH_MAX + 1, 'b');

		if (!xs_path_valid(ok))
			fail_msg("%s + 2048 chars rejected", homes[i]);
		if (xs_path_valid(bad))
			fail_msg("%s + 2049 chars accepted", homes[i]);
		free(ok);
		free(bad);
	}
}

static void test_valid_length_not_local(void **state)
{
	/* Paths that only look like a domain's home get the general rule. */
	static const char *const prefixes[] = {
		"/local/domain/123456/", /* more than 5 digits */
		"/local/domain/x/",	 /* not a number */
		"/local/domains/5/",	 /* not the prefix */
		"/local/domain/5",	 /* no slash after the id */
	};
	unsigned int i;

	(void)state;
	for (i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
		size_t plen = strlen(prefixes[i]);
		char *ok = path_of(prefixes[i], XENSTORE_REL_PATH_MAX - plen,
				   'c');
		char *bad = path_of(prefixes[i],
				    XENSTORE_REL_PATH_MAX - plen + 1, 'c');

		if (!xs_path_valid(ok))
			fail_msg("%s...: 2048 in total rejected", prefixes[i]);
		if (xs_path_valid(bad))
			fail_msg("%s...: 2049 in total accepted", prefixes[i]);
		free(ok);
		free(bad);
	}
}

static void test_valid_length_configured(void **state)
{
	char *ok = path_of("/local/domain/4/", 100, 'd');
	char *bad = path_of("/local/domain/4/", 101, 'd');
	char *gok = path_of("/", 99, 'd');
	char *gbad = path_of("/", 100, 'd');

	(void)state;
	xs_path_set_max(100);
	assert_true(xs_path_valid(ok));
	assert_false(xs_path_valid(bad));
	assert_true(xs_path_valid(gok));
	assert_false(xs_path_valid(gbad));
	expect_canon_einval(4, bad + strlen("/local/domain/4/"), false);
	xs_path_set_max(XENSTORE_REL_PATH_MAX);
	assert_true(xs_path_valid(bad));
	free(ok);
	free(bad);
	free(gok);
	free(gbad);
}

/* --- special paths ----------------------------------------------------- */

static void test_special_only_when_asked(void **state)
{
	(void)state;
	assert_true(xs_path_is_special("@introduceDomain"));
	assert_false(xs_path_is_special("/@introduceDomain"));
	assert_false(xs_path_is_special("introduceDomain"));

	expect_canon(5, "@introduceDomain", true, "@introduceDomain");
	expect_canon(5, "@releaseDomain", true, "@releaseDomain");
	expect_canon(5, "@releaseDomain/7", true, "@releaseDomain/7");
	expect_canon(0, "@anything", true, "@anything");
	expect_canon_einval(5, "@introduceDomain", false);
	expect_canon_einval(0, "@releaseDomain", false);
}

static void test_special_bad(void **state)
{
	char *ok = path_of("@", XENSTORE_REL_PATH_MAX - 1, 's');
	char *bad = path_of("@", XENSTORE_REL_PATH_MAX, 's');

	(void)state;
	expect_canon_einval(5, "@", true);
	expect_canon_einval(5, "@a b", true);
	expect_canon_einval(5, "@a.b", true);
	expect_canon(5, ok, true, ok);
	expect_canon_einval(5, bad, true);
	free(ok);
	free(bad);
}

/* Xen's C daemon applies the "//" and trailing "/" rules to "@" names too. */
static void test_special_slashes(void **state)
{
	(void)state;
	expect_canon_einval(5, "@releaseDomain/", true);
	expect_canon_einval(5, "@a//b", true);
	expect_canon_einval(0, "@x/", true);
	expect_canon_einval(0, "@a//b", true);
	expect_canon_einval(0, "@//", true);
	expect_canon(0, "@a/b", true, "@a/b");
}

/* There is no limit on the number of levels, only on the length. */
static void test_deep_levels(void **state)
{
	char abs[XENSTORE_REL_PATH_MAX + 1], rel[XENSTORE_REL_PATH_MAX + 1];
	char *want;
	size_t i;

	(void)state;
	/* 1024 levels of "/a": 2048 characters, the most allowed. */
	for (i = 0; i < 1024; i++)
		memcpy(abs + 2 * i, "/a", 2);
	abs[2048] = '\0';
	assert_true(xs_path_valid(abs));
	abs[2 * 65] = '\0';
	assert_true(xs_path_valid(abs));
	expect_canon(3, abs, false, abs);
	/* Relative: 1024 levels under the domain's home. */
	for (i = 0; i < 1024; i++)
		memcpy(rel + 2 * i, "a/", 2);
	rel[2047] = '\0';
	assert_true(asprintf(&want, "/local/domain/3/%s", rel) > 0);
	expect_canon(3, rel, false, want);
	assert_true(xs_path_is_child(want, "/local/domain/3/a/a"));
	free(want);
}

/* --- ancestry ---------------------------------------------------------- */

static void test_is_child(void **state)
{
	(void)state;
	assert_true(xs_path_is_child("/a", "/a"));
	assert_true(xs_path_is_child("/a/b", "/a"));
	assert_true(xs_path_is_child("/a/b/c", "/a"));
	assert_true(xs_path_is_child("/a/b/c", "/a/b"));
	assert_true(xs_path_is_child("/a", "/"));
	assert_true(xs_path_is_child("/", "/"));
	assert_true(xs_path_is_child("/local/domain/1", "/local"));

	/* Whole components only. */
	assert_false(xs_path_is_child("/ab", "/a"));
	assert_false(xs_path_is_child("/a/wx", "/a/w"));
	assert_false(xs_path_is_child("/a/w-x", "/a/w"));
	assert_false(xs_path_is_child("/a", "/a/b"));
	assert_false(xs_path_is_child("/", "/a"));
	assert_false(xs_path_is_child("/b/a", "/a"));
	/* Special names are not below "/". */
	assert_false(xs_path_is_child("@introduceDomain", "/"));
	assert_true(xs_path_is_child("@releaseDomain", "@releaseDomain"));
}

static void test_parent_and_basename(void **state)
{
	(void)state;
	assert_int_equal(xs_path_parent_len("/a/b", 4), 2);
	assert_int_equal(xs_path_parent_len("/a", 2), 1);
	assert_int_equal(xs_path_parent_len("/abc/def/g", 10), 8);
	assert_string_equal(xs_path_basename("/a/bcd"), "bcd");
	assert_string_equal(xs_path_basename("/a"), "a");
}

/* --- permission strings ------------------------------------------------ */

static void test_perms_parse_good(void **state)
{
	static const char one[] = "r0";
	static const char many[] = "n5\0r0\0w7\0b32751";
	struct xs_perm *p = NULL;
	int n;

	(void)state;
	n = perms_parse(one, sizeof(one), &p);
	assert_int_equal(n, 1);
	assert_int_equal(p[0].domid, 0);
	assert_int_equal(p[0].access, XS_PERM_READ);
	free(p);

	n = perms_parse(many, sizeof(many), &p);
	assert_int_equal(n, 4);
	assert_int_equal(p[0].domid, 5);
	assert_int_equal(p[0].access, 0);
	assert_int_equal(p[1].domid, 0);
	assert_int_equal(p[1].access, XS_PERM_READ);
	assert_int_equal(p[2].domid, 7);
	assert_int_equal(p[2].access, XS_PERM_WRITE);
	assert_int_equal(p[3].domid, 32751);
	assert_int_equal(p[3].access, XS_PERM_BOTH);
	free(p);
}

static void test_perms_parse_many(void **state)
{
	char buf[64 * 8];
	struct xs_perm *p = NULL;
	uint32_t len = 0;
	int i, n;

	(void)state;
	/* Enough entries to make the array grow several times. */
	for (i = 0; i < 37; i++)
		len += (uint32_t)snprintf(buf + len, sizeof(buf) - len, "%c%d",
					  "nrwb"[i % 4], i * 3) + 1;
	n = perms_parse(buf, len, &p);
	assert_int_equal(n, 37);
	for (i = 0; i < 37; i++) {
		assert_int_equal(p[i].domid, (uint32_t)i * 3);
		assert_int_equal(p[i].access, (uint32_t)i % 4);
	}
	free(p);
}

static void expect_parse_einval(const char *buf, uint32_t len)
{
	static struct xs_perm dummy;
	struct xs_perm *p = &dummy;
	int n = perms_parse(buf, len, &p);

	if (n != -EINVAL)
		fail_msg("perms_parse(\"%.*s\", %u) = %d, want -EINVAL",
			 (int)len, buf, len, n);
	assert_null(p);
}

static void test_perms_parse_bad(void **state)
{
	static const char big[] = "r99999999999999999999999";

	(void)state;
	expect_parse_einval("", 0);		/* empty list */
	expect_parse_einval("x0", 3);		/* bad letter */
	expect_parse_einval("R0", 3);		/* letters are lowercase */
	expect_parse_einval("r", 2);		/* no domid */
	expect_parse_einval("", 1);		/* empty entry */
	expect_parse_einval("r-1", 4);		/* negative */
	expect_parse_einval("r+1", 4);		/* sign */
	expect_parse_einval("r 1", 4);		/* space */
	expect_parse_einval("r1x", 4);		/* trailing junk */
	expect_parse_einval("r0", 2);		/* not NUL-terminated */
	expect_parse_einval("r0\0w", 4);	/* last entry unterminated */
	expect_parse_einval("r0\0", 4);		/* trailing empty entry */
	expect_parse_einval("r0\0q1", 6);	/* second entry bad */
	expect_parse_einval("r32752", 7);	/* reserved domids */
	expect_parse_einval("r65535", 7);	/* DOMID_INVALID */
	expect_parse_einval(big, sizeof(big));	/* out of range */
}

static void format_node_perms(const char *list, uint32_t len, struct buf *b)
{
	struct xs_node *n = xs_node_new("/x", 2);
	struct xs_perm *p = NULL;
	int np = perms_parse(list, len, &p), rc;

	assert_non_null(n);
	assert_true(np > 0);
	assert_int_equal(xs_node_set_perms(n, p, (uint32_t)np), 0);
	rc = perms_format(n, b);
	assert_int_equal(rc, (int)b->len);
	free(p);
	xs_node_free(n);
}

static void test_perms_format(void **state)
{
	static const char list[] = "n5\0r0\0w7\0b32751";
	static const char single[] = "b0";
	struct buf b = {0};

	(void)state;
	format_node_perms(list, sizeof(list), &b);
	assert_int_equal(b.len, sizeof(list));
	assert_memory_equal(b.data, list, sizeof(list));
	buf_free(&b);

	format_node_perms(single, sizeof(single), &b);
	assert_int_equal(b.len, sizeof(single));
	assert_memory_equal(b.data, single, sizeof(single));
	buf_free(&b);
}

/* Entries of dead domains are listed with their letter (GET_PERMS). */
static void test_perms_format_ignored(void **state)
{
	static const char list[] = "n5\0r6\0b7";
	struct xs_node *n = xs_node_new("/x", 2);
	struct xs_perm *p = NULL;
	struct buf b = {0};
	int np = perms_parse(list, sizeof(list), &p);

	(void)state;
	assert_non_null(n);
	assert_int_equal(np, 3);
	p[1].access |= XS_PERM_IGNORE;
	p[2].access |= XS_PERM_IGNORE;
	assert_int_equal(xs_node_set_perms(n, p, 3), 0);
	assert_int_equal(perms_format(n, &b), (int)sizeof(list));
	assert_memory_equal(b.data, list, sizeof(list));
	buf_free(&b);
	free(p);
	xs_node_free(n);
}

static void test_perms_format_appends(void **state)
{
	static const char list[] = "r1\0w2";
	struct xs_node *n = xs_node_new("/x", 2);
	struct xs_perm *p = NULL;
	struct buf b = {0};
	int np = perms_parse(list, sizeof(list), &p);

	(void)state;
	assert_int_equal(np, 2);
	assert_int_equal(xs_node_set_perms(n, p, 2), 0);
	assert_int_equal(buf_append(&b, "ab", 2), 0);
	/* Returns what it added, after what was there. */
	assert_int_equal(perms_format(n, &b), (int)sizeof(list));
	assert_int_equal(b.len, 2 + sizeof(list));
	assert_memory_equal(b.data, "ab", 2);
	assert_memory_equal(b.data + 2, list, sizeof(list));
	buf_free(&b);
	free(p);
	xs_node_free(n);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_relative_paths, setup_limits),
		cmocka_unit_test_setup(test_relative_bad, setup_limits),
		cmocka_unit_test_setup(test_relative_length, setup_limits),
		cmocka_unit_test_setup(test_valid_chars, setup_limits),
		cmocka_unit_test_setup(test_valid_length_general, setup_limits),
		cmocka_unit_test_setup(test_valid_length_local, setup_limits),
		cmocka_unit_test_setup(test_valid_length_not_local,
				       setup_limits),
		cmocka_unit_test_setup(test_valid_length_configured,
				       setup_limits),
		cmocka_unit_test_setup(test_special_only_when_asked,
				       setup_limits),
		cmocka_unit_test_setup(test_special_bad, setup_limits),
		cmocka_unit_test_setup(test_special_slashes, setup_limits),
		cmocka_unit_test_setup(test_deep_levels, setup_limits),
		cmocka_unit_test_setup(test_is_child, setup_limits),
		cmocka_unit_test_setup(test_parent_and_basename, setup_limits),
		cmocka_unit_test_setup(test_perms_parse_good, setup_limits),
		cmocka_unit_test_setup(test_perms_parse_many, setup_limits),
		cmocka_unit_test_setup(test_perms_parse_bad, setup_limits),
		cmocka_unit_test_setup(test_perms_format, setup_limits),
		cmocka_unit_test_setup(test_perms_format_ignored, setup_limits),
		cmocka_unit_test_setup(test_perms_format_appends, setup_limits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
