/* SPDX-License-Identifier: MIT */
/*
 * Domain config files in the xm/xl format: the syntax (xlcfg) and the
 * meaning (domcfg).  Good files load with every value where it belongs;
 * bad ones are refused with FILE:LINE and what is wrong; unknown keys
 * warn.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "domcfg.h"
#include "xlcfg.h"

static char warnings[1024];

static void collect(void *ctx, const char *msg)
{
	(void)ctx;
	strncat(warnings, msg, sizeof(warnings) - strlen(warnings) - 2);
	strcat(warnings, "\n");
}

static int load(const char *text, struct domcfg *d, char *err, size_t n)
{
	warnings[0] = '\0';
	err[0] = '\0';
	return domcfg_parse(text, strlen(text), "t.cfg", d, err, n, collect,
			    NULL);
}

static void test_full_config(void **state)
{
	static const char text[] =
		"# a demo domain\n"
		"name = \"demo-1\"\n"
		"uuid = '3f1c0a52-9b1e-4c7e-8d55-0c9a1b2c3d4e'\n"
		"type = 'pvh'\n"
		"kernel = \"/srv/guest.elf\"\n"
		"ramdisk = \"/srv/initrd\"\n"
		"memory = 256; maxmem = 512\n"
		"vcpus = 2\n"
		"disk = [ 'file:/srv/a.img,xvda,w',\n"
		"         'phy:/dev/vg/b,xvdb,r', ]   # trailing comma\n"
		"vif = [ 'mac=00:16:3e:01:02:03,bridge=xenbr0' ]\n"
		"on_poweroff = 'destroy'\n"
		"on_reboot = \"restart\"\n"
		"on_crash = 'preserve'\n"
		"cmdline = \"test=idle console=hvc0\"\n";
	struct domcfg d;
	char err[256];

	(void)state;
	assert_int_equal(load(text, &d, err, sizeof(err)), 0);
	assert_string_equal(d.name, "demo-1");
	assert_string_equal(d.uuid, "3f1c0a52-9b1e-4c7e-8d55-0c9a1b2c3d4e");
	assert_string_equal(d.kernel, "/srv/guest.elf");
	assert_string_equal(d.ramdisk, "/srv/initrd");
	assert_int_equal(d.memory_mib, 256);
	assert_int_equal(d.maxmem_mib, 512);
	assert_int_equal(d.vcpus, 2);
	assert_int_equal(d.nr_disks, 2);
	assert_string_equal(d.disks[0].path, "/srv/a.img");
	assert_int_equal(d.disks[1].devid, 51728);
	assert_true(d.disks[1].readonly);
	assert_int_equal(d.nr_vifs, 1);
	assert_string_equal(d.vifs[0], "mac=00:16:3e:01:02:03,bridge=xenbr0");
	assert_int_equal(d.on_crash, DOMCFG_PRESERVE);
	assert_int_equal(d.on_reboot, DOMCFG_RESTART);
	assert_string_equal(d.cmdline, "test=idle console=hvc0");
	assert_string_equal(warnings, "");
}

static void test_defaults_root_extra_and_warnings(void **state)
{
	static const char text[] = "name='x'\nkernel='/k'\nroot='/dev/xvda1'\n"
				   "extra='quiet'\nbootloader='pygrub'\n";
	struct domcfg d;
	char err[256];

	(void)state;
	assert_int_equal(load(text, &d, err, sizeof(err)), 0);
	assert_int_equal(d.memory_mib, 128);
	assert_int_equal(d.maxmem_mib, 128);
	assert_int_equal(d.vcpus, 1);
	assert_int_equal(d.on_poweroff, DOMCFG_DESTROY);
	assert_int_equal(d.on_reboot, DOMCFG_RESTART);
	assert_string_equal(d.cmdline, "root=/dev/xvda1 quiet");
	assert_string_equal(warnings,
			    "t.cfg:5: unknown key 'bootloader' ignored\n");
}

static void test_escapes_and_numbers(void **state)
{
	struct xlcfg x;
	char err[128];

	(void)state;
	assert_int_equal(xlcfg_parse("a = 'it\\'s \\\"q\\\"\\n'\nb = 0x10\n"
				     "c = -5\nd = []\n",
				     42, &x, err, sizeof(err)), 0);
	assert_string_equal(xlcfg_get(&x, "a")->value.str, "it's \"q\"\n");
	assert_int_equal(xlcfg_get(&x, "b")->value.num, 16);
	assert_int_equal(xlcfg_get(&x, "c")->value.num, -5);
	assert_int_equal(xlcfg_get(&x, "d")->value.type, XLCFG_LIST);
	assert_int_equal(xlcfg_get(&x, "d")->value.nr_items, 0);
	xlcfg_free(&x);
}

static void test_bad_files(void **state)
{
	static const struct {
		const char *text, *want;
	} bad[] = {
		{"name = 'x\nkernel='/k'\n", "t.cfg:1: unterminated string"},
		{"name='x'\nname='y'\nkernel='/k'\n",
		 "t.cfg:2: 'name' is set twice (first on line 1)"},
		{"name='x'\nkernel='/k'\nmemory = '128'\n",
		 "t.cfg:3: memory must be a number"},
		{"name='x'\nkernel='/k'\nmemory = 0\n",
		 "t.cfg:3: memory = 0: from 1 to 3584"},
		{"name='x'\nkernel='/k'\nvcpus = 999\n",
		 "t.cfg:3: vcpus = 999: from 1 to 64"},
		{"kernel='/k'\n", "t.cfg:1: no name (name = \"...\")"},
		{"name='x'\n", "t.cfg:1: no kernel (kernel = \"...\")"},
		{"name='a b'\nkernel='/k'\n",
		 "t.cfg:1: name 'a b': letters, digits, '-', '_' and '.' only"},
		{"name='42'\nkernel='/k'\n",
		 "t.cfg:1: name '42' would read as a domain id"},
		{"name='x'\nkernel='/k'\ntype='hvm'\n",
		 "t.cfg:3: type 'hvm': only pvh domains are supported"},
		{"name='x'\nkernel='/k'\ndisk=['file:/a,xvda,w',\n"
		 "'file:/b,xvda,r']\n",
		 "t.cfg:4: disk: xvda is used twice"},
		{"name='x'\nkernel='/k'\ndisk=['file:/a,vda,w']\n",
		 "t.cfg:3: disk 'file:/a,vda,w': 'vda' is not a virtual device "
		 "(xvda, hdb, sdc1...)"},
		{"name='x'\nkernel='/k'\ndisk=[ 'a', [ 'b' ] ]\n",
		 "t.cfg:3: lists do not nest"},
		{"name='x'\nkernel='/k'\ndisk=[ 'file:/a,xvda,w'\n",
		 "t.cfg:3: unterminated list"},
		{"name='x'\nkernel='/k'\non_crash='explode'\n",
		 "t.cfg:3: on_crash = 'explode': destroy, restart, preserve, "
		 "rename-restart, coredump-destroy, coredump-restart or "
		 "soft-reset"},
		{"name='x'\nkernel='/k'\nmemory=256\nmaxmem=128\n",
		 "t.cfg:4: maxmem (128 MiB) is below memory (256 MiB)"},
		{"name='x' kernel='/k'\n",
		 "t.cfg:1: expected the end of the line after 'name = ...'"},
		{"name=\n", "t.cfg:1: no value for 'name'"},
		{"= 'x'\n", "t.cfg:1: expected a setting (key = value)"},
		{"name='x'\nkernel='/k'\nuuid='nope'\n",
		 "t.cfg:3: uuid 'nope' is not a UUID"},
		{"name='x'\nkernel='/k'\nmemory=99999999999999999999\n",
		 "t.cfg:3: '99999999999999999999' is not a number"},
		{"name='x'\nkernel='/k'\nmemory=12$\n", "t.cfg:3: unexpected '$'"},
	};
	struct domcfg d;
	char err[256];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(load(bad[i].text, &d, err, sizeof(err)),
				 -EINVAL);
		assert_string_equal(err, bad[i].want);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full_config),
		cmocka_unit_test(test_defaults_root_extra_and_warnings),
		cmocka_unit_test(test_escapes_and_numbers),
		cmocka_unit_test(test_bad_files),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
