/* SPDX-License-Identifier: MIT */
/*
 * xm's tables from JSON as xend sends it, checked to the character against
 * what Xen's xm and xentop print (their format strings, run through
 * Python, gave the expected text); and the key=value rewriting of create.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfgvars.h"
#include "list.h"

static const char domains_json[] =
	"[{\"name\": \"Domain-0\", \"domid\": 0, \"state\": \"r-----\","
	" \"memory_kib\": 1048576, \"vcpus\": 4, \"online_vcpus\": 4,"
	" \"cpu_time\": 1234.56, \"uptime\": 5.0, \"managed\": false},"
	" {\"name\": \"web\", \"domid\": 3, \"uuid\": \"0b5c2d7e\","
	" \"state\": \"-b----\", \"memory_kib\": 65536,"
	" \"maxmem_kib\": 131072, \"vcpus\": 2, \"online_vcpus\": 1,"
	" \"cpu_time\": 1.25, \"start_time\": 1764000000.5,"
	" \"uptime\": 3725.0, \"managed\": false, \"pid\": 4242,"
	" \"console_tty\": \"/dev/pts/3\", \"on_poweroff\": \"destroy\","
	" \"config_path\": \"examples/web.cfg\"},"
	" {\"name\": \"idle\", \"domid\": null, \"state\": \"------\","
	" \"memory_kib\": 131072, \"vcpus\": 2, \"online_vcpus\": 0,"
	" \"cpu_time\": 0.0, \"managed\": true}]";

/* What fn printed, as a string to free. */
struct capture {
	char *text;
	size_t len;
	FILE *f;
};

static FILE *capture_start(struct capture *c)
{
	c->text = NULL;
	c->f = open_memstream(&c->text, &c->len);
	assert_non_null(c->f);
	return c->f;
}

static void capture_check(struct capture *c, const char *want)
{
	assert_int_equal(fclose(c->f), 0);
	assert_string_equal(c->text, want);
	free(c->text);
}

static json_object *parse(const char *s)
{
	json_object *o = json_tokener_parse(s);

	assert_non_null(o);
	return o;
}

static void test_list_brief(void **state)
{
	json_object *doms = parse(domains_json);
	struct capture c;

	list_print_brief(capture_start(&c), doms);
	capture_check(&c,
		      "Name                                        ID   Mem "
		      "VCPUs      State   Time(s)\n"
		      "Domain-0                                     0  1024 "
		      "    4     r-----   1234.6\n"
		      "web                                          3    64 "
		      "    1     -b----      1.2\n"
		      "idle                                             128 "
		      "    2     ------      0.0\n");
	json_object_put(doms);
}

static void test_list_brief_empty_and_odd(void **state)
{
	/* Missing fields print as Xen's defaults; a long name pushes on. */
	json_object *doms = parse(
		"[{\"domid\": 7}, {\"name\": "
		"\"a-name-longer-than-the-forty-columns-of-xm\""
		", \"domid\": 1, \"state\": \"--p---\"}]");
	struct capture c;

	list_print_brief(capture_start(&c), doms);
	capture_check(&c,
		      "Name                                        ID   Mem "
		      "VCPUs      State   Time(s)\n"
		      "??                                           7     0 "
		      "    0                 0.0\n"
		      "a-name-longer-than-the-forty-columns-of-xm     1     0 "
		      "    0     --p---      0.0\n");
	json_object_put(doms);
}

static void test_uptime_format(void **state)
{
	char buf[64];

	list_format_uptime(buf, sizeof(buf), 0, true);
	assert_string_equal(buf, " 0:00:00");
	list_format_uptime(buf, sizeof(buf), 3725, true);
	assert_string_equal(buf, " 1:02:05");
	list_format_uptime(buf, sizeof(buf), 93784.4, true);
	assert_string_equal(buf, "1 day,  2:03:04");
	list_format_uptime(buf, sizeof(buf), 2 * 86400 + 11 * 3600 + 59.6,
			   true);
	assert_string_equal(buf, "2 days, 11:01:00");
	list_format_uptime(buf, sizeof(buf), 93784.4, false);
	assert_string_equal(buf, "1 day,  2:03");
}

static void test_uptime_table(void **state)
{
	json_object *doms = parse(domains_json);
	struct capture c;

	list_print_uptime(capture_start(&c), doms, false, 1764003725.5,
			  93784.4);
	capture_check(&c, "Name                                ID Uptime\n"
			  "Domain-0                             0 1 day,  "
			  "2:03:04\n"
			  "web                                  3  1:02:05\n"
			  "idle                                    0:00:00\n");
	json_object_put(doms);
}

static void test_uptime_from_start_time(void **state)
{
	/* No "uptime": now - start_time; Domain-0's is the host's. */
	json_object *doms = parse("[{\"name\": \"Domain-0\", \"domid\": 0},"
				  " {\"name\": \"db\", \"domid\": 9,"
				  " \"start_time\": 1000.0}]");
	struct capture c;

	list_print_uptime(capture_start(&c), doms, false, 1061.0, 59.0);
	capture_check(&c, "Name                                ID Uptime\n"
			  "Domain-0                             0  0:00:59\n"
			  "db                                   9  0:01:01\n");
	json_object_put(doms);
}

static void test_vcpu_list(void **state)
{
	json_object *dom = parse("{\"name\": \"web\", \"domid\": 3}");
	json_object *vcpus = parse(
		"[{\"id\": 0, \"online\": true, \"state\": \"running\","
		" \"cpu\": 1, \"cpu_time\": 0.75},"
		" {\"id\": 1, \"online\": false, \"state\": \"offline\","
		" \"cpu\": -1, \"cpu_time\": 0.5},"
		" {\"id\": 2, \"online\": true, \"state\": \"blocked\","
		" \"cpu\": 0, \"cpu_time\": 0}]");
	struct capture c;
	FILE *f = capture_start(&c);

	list_print_vcpu_header(f);
	list_print_vcpus(f, dom, vcpus);
	capture_check(&c, "Name                                ID  VCPU   CPU "
			  "State   Time(s) CPU Affinity\n"
			  "web                                  3     0     1 "
			  "  r--       0.8 any cpu\n"
			  "web                                  3     1     - "
			  "  --p       0.5 any cpu\n"
			  "web                                  3     2     0 "
			  "  -b-       0.0 any cpu\n");
	json_object_put(dom);
	json_object_put(vcpus);
}

static void test_block_list(void **state)
{
	json_object *devs = parse(
		"[{\"vdev\": \"xvda\", \"devid\": 51712, \"backend\": 0,"
		" \"state\": 4, \"event_channel\": 9, \"ring_ref\": 8,"
		" \"params\": \"/srv/a.img\", \"mode\": \"w\"},"
		" {\"vdev\": \"xvdb\", \"devid\": 51728,"
		" \"backend\": \"/local/domain/0/backend/vbd/3/51728\","
		" \"state\": 1, \"event_channel\": null}]");
	struct capture c;

	list_print_vbds(capture_start(&c), devs, 3);
	capture_check(&c, "Vdev  BE handle state evt-ch ring-ref BE-path\n"
			  "51712  0    51712   4      9      8     "
			  "/local/domain/0/backend/vbd/3/51712\n"
			  "51728  0    51728   1      -      -     "
			  "/local/domain/0/backend/vbd/3/51728\n");
	json_object_put(devs);

	/* No devices: no header either, as Xen's. */
	devs = parse("[]");
	list_print_vbds(capture_start(&c), devs, 3);
	capture_check(&c, "");
	json_object_put(devs);
}

static void test_network_list(void **state)
{
	json_object *devs = parse(
		"[{\"devid\": 0, \"mac\": \"00:16:3e:00:00:01\","
		" \"bridge\": \"xenbr0\", \"backend\": 0, \"state\": 4,"
		" \"event_channel\": 10, \"tx_ring_ref\": 768,"
		" \"rx_ring_ref\": 769}]");
	struct capture c;

	list_print_vifs(capture_start(&c), devs, 3);
	capture_check(&c, "Idx BE     MAC Addr.     handle state evt-ch "
			  "tx-/rx-ring-ref BE-path\n"
			  "0   0  00:16:3e:00:00:01    0     4      10    768  "
			  "/769     /local/domain/0/backend/vif/3/0\n");
	json_object_put(devs);
}

static void test_top_state(void **state)
{
	char s[7];

	list_top_state(s, "r-----");
	assert_string_equal(s, "-----r");
	list_top_state(s, "-b----");
	assert_string_equal(s, "--b---");
	list_top_state(s, "--p---");
	assert_string_equal(s, "----p-");
	list_top_state(s, "---s-d");
	assert_string_equal(s, "ds----");
	list_top_state(s, "----c-");
	assert_string_equal(s, "---c--");
	list_top_state(s, "");
	assert_string_equal(s, "------");
}

static void test_top(void **state)
{
	json_object *prev = parse(
		"[{\"name\": \"Domain-0\", \"domid\": 0,"
		" \"cpu_time\": 1233.56},"
		" {\"name\": \"a-long-domain-name\", \"domid\": 3,"
		" \"start_time\": 5.0, \"cpu_time\": 1.25}]");
	json_object *cur = parse(
		"[{\"name\": \"Domain-0\", \"domid\": 0, \"state\": \"r-----\","
		" \"memory_kib\": 1048576, \"vcpus\": 4, \"online_vcpus\": 4,"
		" \"cpu_time\": 1234.56},"
		" {\"name\": \"a-long-domain-name\", \"domid\": 3,"
		" \"state\": \"-b----\", \"start_time\": 5.0,"
		" \"memory_kib\": 65536, \"maxmem_kib\": 131072, \"vcpus\": 2,"
		" \"online_vcpus\": 1, \"cpu_time\": 3.25, \"nr_vifs\": 1,"
		" \"nr_vbds\": 2},"
		" {\"name\": \"idle\", \"domid\": null,"
		" \"state\": \"------\"}]");
	struct capture c;
	FILE *f = capture_start(&c);

	list_print_top_header(f);
	list_print_top(f, cur, prev, 2.0, 4194304);
	capture_check(&c, "      NAME  STATE   CPU(sec) CPU(%)     MEM(k) "
			  "MEM(%)  MAXMEM(k) MAXMEM(%) VCPUS NETS VBDS\n"
			  "  Domain-0 -----r       1234   50.0    1048576   "
			  "25.0   no limit       n/a     4    0    0\n"
			  "a-long-dom --b---          3  100.0      65536    "
			  "1.6     131072       3.1     1    1    2\n");

	/* Without a previous sample, or across a restart, CPU(%) is 0. */
	json_object_object_add(json_object_array_get_idx(prev, 1),
			       "start_time", json_object_new_double(1.0));
	f = capture_start(&c);
	list_print_top(f, cur, prev, 2.0, 4194304);
	list_print_top(f, cur, NULL, 0, 0);
	capture_check(&c, "  Domain-0 -----r       1234   50.0    1048576   "
			  "25.0   no limit       n/a     4    0    0\n"
			  "a-long-dom --b---          3    0.0      65536    "
			  "1.6     131072       3.1     1    1    2\n"
			  "  Domain-0 -----r       1234    0.0    1048576    "
			  "0.0   no limit       n/a     4    0    0\n"
			  "a-long-dom --b---          3    0.0      65536    "
			  "0.0     131072       0.0     1    1    2\n");
	json_object_put(prev);
	json_object_put(cur);
}

static void test_top_summary(void **state)
{
	json_object *info = parse(
		"{\"xen_major\": 4, \"xen_minor\": 17,"
		" \"xen_extra\": \".0-xenia\","
		" \"total_memory\": 4096, \"free_memory\": 1024,"
		" \"nr_cpus\": 8, \"cpu_mhz\": 2400}");
	json_object *doms = parse(domains_json);
	struct capture c;
	char *nl;

	list_print_top_summary(capture_start(&c), info, doms, 0);
	assert_int_equal(fclose(c.f), 0);
	/* The first line has the local time in it: check around it. */
	assert_memory_equal(c.text, "xm top - ", 9);
	nl = strchr(c.text, '\n');
	assert_non_null(nl);
	assert_memory_equal(nl - 19, "   Xen 4.17.0-xenia", 19);
	assert_string_equal(nl + 1,
			    "2 domains: 1 running, 1 blocked, 0 paused, "
			    "0 crashed, 0 dying, 0 shutdown\n"
			    "Mem: 4194304k total, 3145728k used, 1048576k free"
			    "    CPUs: 8 @ 2400MHz\n");
	free(c.text);
	json_object_put(info);
	json_object_put(doms);
}

static void test_sxp(void **state)
{
	json_object *dom = parse(
		"{\"name\": \"web\", \"domid\": 3, \"cpu_time\": 1.25,"
		" \"managed\": false, \"pid\": null,"
		" \"config_path\": \"my configs/web.cfg\","
		" \"config\": \"name = 'web'\\n\","
		" \"devices\": {\"vbd\": [{\"vdev\": \"xvda\","
		" \"devid\": 51712},"
		" {\"vdev\": \"xvdb\", \"devid\": 51728}], \"vif\": [],"
		" \"tags\": [\"a\", 2]}}");
	struct capture c;

	list_print_sxp(capture_start(&c), "domain", dom);
	capture_check(&c, "(domain\n"
			  "    (name web)\n"
			  "    (domid 3)\n"
			  "    (cpu_time 1.25)\n"
			  "    (managed 0)\n"
			  "    (config_path 'my configs/web.cfg')\n"
			  "    (devices\n"
			  "        (vbd\n"
			  "            (vdev xvda)\n"
			  "            (devid 51712)\n"
			  "        )\n"
			  "        (vbd\n"
			  "            (vdev xvdb)\n"
			  "            (devid 51728)\n"
			  "        )\n"
			  "        (vif)\n"
			  "        (tags a 2)\n"
			  "    )\n"
			  ")\n");
	json_object_put(dom);
}

static char *apply(const char *text, int nr, char **vars, int want_rc)
{
	const char *bad = NULL;
	char *out = NULL;

	assert_int_equal(cfgvars_apply(text, strlen(text), vars, nr, &out,
				       &bad),
			 want_rc);
	return out;
}

static void test_cfgvars(void **state)
{
	char *vars[] = {"memory=256", "name=web two", "disk=['file:/b,xvda,w']",
			"kernel=\"/k\"", "memory=512", "maxmem=0x100"};
	const char *text =
		"# memory = 1 in a comment stays\n"
		"name = \"web\"; memory = 128\n"
		"disk = [ 'file:/a.img,xvda,w',   # the root ]\n"
		"         'file:/c.img,xvdc,r' ]\n"
		"vcpus = 2\n"
		"kernel = 'a;b' # kept out\n"
		"on_crash = \"destroy\"";
	char want[1024];
	char *out;

	/* Each blanked statement keeps its width and its line breaks. */
	snprintf(want, sizeof(want),
			    "# memory = 1 in a comment stays\n"
			    "            ;             \n"
			    "%45s\n"
			    "%31s\n"
			    "vcpus = 2\n"
			    "%14s # kept out\n"
			    "on_crash = \"destroy\"\n"
			    "name = \"web two\"\n"
			    "disk = ['file:/b,xvda,w']\n"
			    "kernel = \"/k\"\n"
			    "memory = 512\n"
			    "maxmem = 0x100\n",
		 "", "", "");
	out = apply(text, 6, vars, 0);
	assert_string_equal(out, want);
	free(out);

	/* No vars: the text as it was. */
	out = apply(text, 0, NULL, 0);
	assert_string_equal(out, text);
	free(out);
}

static void test_cfgvars_quoting_and_errors(void **state)
{
	char *quoted[] = {"extra=say \"hi\" \\o/", "cmdline=-1x", "n=-12"};
	char *bad[] = {"memory=1", "=5"};
	char *bad2[] = {"9lives=1"};
	char *out;

	out = apply("", 3, quoted, 0);
	assert_string_equal(out, "extra = \"say \\\"hi\\\" \\\\o/\"\n"
				 "cmdline = \"-1x\"\n"
				 "n = -12\n");
	free(out);
	assert_null(apply("x = 1\n", 2, bad, -EINVAL));
	assert_null(apply("x = 1\n", 1, bad2, -EINVAL));

	/* Text the scan cannot follow is left for xend to judge. */
	out = apply("memory = [1,\nname = 'x'\n", 1, bad, 0);
	assert_string_equal(out, "memory = [1,\nname = 'x'\nmemory = 1\n");
	free(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_list_brief),
		cmocka_unit_test(test_list_brief_empty_and_odd),
		cmocka_unit_test(test_uptime_format),
		cmocka_unit_test(test_uptime_table),
		cmocka_unit_test(test_uptime_from_start_time),
		cmocka_unit_test(test_vcpu_list),
		cmocka_unit_test(test_block_list),
		cmocka_unit_test(test_network_list),
		cmocka_unit_test(test_top_state),
		cmocka_unit_test(test_top),
		cmocka_unit_test(test_top_summary),
		cmocka_unit_test(test_sxp),
		cmocka_unit_test(test_cfgvars),
		cmocka_unit_test(test_cfgvars_quoting_and_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
