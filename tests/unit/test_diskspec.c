/* SPDX-License-Identifier: MIT */
/* Disk specs as xm/xl configs write them, and Xen's vdev numbers. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "diskspec.h"

static void test_vdev_numbers(void **state)
{
	static const struct {
		const char *vdev;
		unsigned int devid;
	} ok[] = {
		{"xvda", 51712},      {"xvdb", 51728},	   {"xvda1", 51713},
		{"xvdp15", 51967},    {"xvdq", 268439552}, {"xvdaa", 268442112},
		{"hda", 768},	      {"hdb", 832},	   {"hdc", 5632},
		{"hdd1", 5697},	      {"sda", 2048},	   {"sdb2", 2066},
	};
	static const char *const bad[] = {
		"xvd", "xvdA", "xvda0", "xvda16", "vda", "hdi", "sdq", "xvdaaaa",
		"", "xvda-1",
	};
	unsigned int i, devid;

	(void)state;
	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		assert_int_equal(diskspec_vdev_devid(ok[i].vdev, &devid), 0);
		assert_int_equal(devid, ok[i].devid);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(diskspec_vdev_devid(bad[i], &devid), -EINVAL);
}

static void test_specs(void **state)
{
	struct diskspec d;
	char err[200];

	(void)state;
	assert_int_equal(diskspec_parse("file:/srv/a.img,xvda,w", &d, err,
					sizeof(err)), 0);
	assert_string_equal(d.path, "/srv/a.img");
	assert_string_equal(d.vdev, "xvda");
	assert_int_equal(d.devid, 51712);
	assert_false(d.readonly);
	assert_false(d.is_phy);

	assert_int_equal(diskspec_parse("phy:/dev/vg/lv,xvdb,r", &d, err,
					sizeof(err)), 0);
	assert_true(d.is_phy);
	assert_true(d.readonly);
	assert_string_equal(d.path, "/dev/vg/lv");

	/* No prefix, no access: a file, writable. */
	assert_int_equal(diskspec_parse("/x.img,hda", &d, err, sizeof(err)),
			 0);
	assert_false(d.readonly);
	assert_int_equal(diskspec_parse("tap:aio:/x.img,xvdc,ro", &d, err,
					sizeof(err)), 0);
	assert_true(d.readonly);
}

static void test_bad_specs(void **state)
{
	static const char *const bad[] = {
		"file:/x.img",	     /* no vdev */
		"file:,xvda,w",	     /* no path */
		"file:/x.img,,w",    /* empty vdev */
		"file:/x.img,vda,w", /* not a Xen vdev */
		"file:/x.img,xvda,x",
		"file:/x.img,xvda,w,extra",
		"",
	};
	struct diskspec d;
	char err[200];
	unsigned int i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		assert_int_equal(diskspec_parse(bad[i], &d, err, sizeof(err)),
				 -EINVAL);
		assert_true(err[0] != '\0');
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vdev_numbers),
		cmocka_unit_test(test_specs),
		cmocka_unit_test(test_bad_specs),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
