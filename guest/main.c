/*
 * Entry from head.S and the scenario runner.
 *
 * The command line picks one scenario with test=NAME; without test= every
 * scenario marked in_default runs.  Each check prints one line containing
 * PASS or FAIL; at the end the guest powers off if every check passed and
 * crashes otherwise, so the exit status of the domain is the verdict.
 */
#include <stdarg.h>
#include "console.h"
#include "guest.h"
#include "hypercall.h"
#include "lib.h"

void guest_main(uint32_t start_info_paddr);

const struct hvm_start_info *start_info;

static unsigned int nr_failed;

static const struct scenario scenarios[] = {
	{ .name = "boot", .run = scenario_boot },
	{ .name = "version", .run = scenario_version, .needs_xen = 1,
	  .in_default = 1 },
	{ .name = "memmap", .run = scenario_memmap, .in_default = 1 },
	{ .name = "badargs", .run = scenario_badargs, .needs_xen = 1,
	  .in_default = 1 },
	{ .name = "exception", .run = scenario_exception },
	{ .name = "evtchn", .run = scenario_evtchn, .needs_xen = 1,
	  .in_default = 1 },
	{ .name = "timer", .run = scenario_timer, .needs_xen = 1,
	  .in_default = 1 },
	{ .name = "hcbench", .run = scenario_hcbench, .needs_xen = 1 },
	{ .name = "shutdown-code", .run = scenario_shutdown_code,
	  .needs_xen = 1 },
	{ .name = "idle", .run = scenario_idle, .needs_xen = 1 },
	{ .name = "balloon", .run = scenario_balloon, .needs_xen = 1 },
	{ .name = "devices", .run = scenario_devices, .needs_xen = 1 },
	{ .name = "netbench", .run = scenario_netbench, .needs_xen = 1 },
	{ .name = "blkbench", .run = scenario_blkbench, .needs_xen = 1 },
	{ .name = "xenstore-garbage", .run = scenario_xenstore_garbage,
	  .needs_xen = 1 },
	{ .name = "console", .run = scenario_console, .needs_xen = 1,
	  .in_default = 1 },
	{ .name = "console-flood", .run = scenario_console_flood,
	  .needs_xen = 1 },
	{ .name = "console-echo", .run = scenario_console_echo,
	  .needs_xen = 1 },
	{ .name = "smp", .run = scenario_smp, .needs_xen = 1, .in_default = 1 },
	{ .name = "grant", .run = scenario_grant, .needs_xen = 1,
	  .in_default = 1 },
	{ .name = "xenstore", .run = scenario_xenstore, .needs_xen = 1,
	  .in_default = 1 },
	{ .name = "blk", .run = scenario_blk, .needs_xen = 1 },
	{ .name = "blk-hostile", .run = scenario_blk_hostile, .needs_xen = 1 },
	{ .name = "net", .run = scenario_net, .needs_xen = 1 },
	{ .name = "net-hostile", .run = scenario_net_hostile, .needs_xen = 1 },
};

int check(int ok, const char *fmt, ...)
{
	char buf[200];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	printf("%s: %s\n", ok ? "PASS" : "FAIL", buf);
	if (!ok)
		nr_failed++;
	return ok;
}

int guest_cmdline_has(const char *word)
{
	const char *p;
	size_t len = strlen(word), i, n;

	if (!start_info || !start_info->cmdline_paddr)
		return 0;
	p = (const char *)(uintptr_t)start_info->cmdline_paddr;
	n = strnlen(p, 4096);
	for (i = 0; i + len <= n; i++)
		if ((i == 0 || p[i - 1] == ' ') && !strncmp(p + i, word, len) &&
		    (i + len == n || p[i + len] == ' '))
			return 1;
	return 0;
}

/*
 * The command line is hostile-ish input from the loader: bound every
 * read, cut what does not fit.
 */
int guest_cmdline_get(const char *key, char *buf, size_t size)
{
	size_t klen = strlen(key), i, n, v;
	const char *p;

	if (!size || !start_info || !start_info->cmdline_paddr)
		return 0;
	p = (const char *)(uintptr_t)start_info->cmdline_paddr;
	n = strnlen(p, 4096);
	for (i = 0; i + klen < n; i++) {
		if ((i && p[i - 1] != ' ') || strncmp(p + i, key, klen) ||
		    p[i + klen] != '=')
			continue;
		for (i += klen + 1, v = 0; i < n && p[i] != ' ' && v + 1 < size;
		     v++, i++)
			buf[v] = p[i];
		buf[v] = '\0';
		return 1;
	}
	return 0;
}

int guest_cmdline_uint(const char *key, uint64_t *val)
{
	char buf[24];
	uint64_t v = 0;
	const char *p;

	if (!guest_cmdline_get(key, buf, sizeof(buf)))
		return 0;
	for (p = buf; *p >= '0' && *p <= '9'; p++) {
		if (v > (UINT64_MAX - (uint64_t)(*p - '0')) / 10)
			return -XEN_EINVAL;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	if (p == buf || *p)
		return -XEN_EINVAL;
	*val = v;
	return 1;
}

static void scenario_run(const struct scenario *s)
{
	if (s->needs_xen && !hypercall_ready) {
		printf("SKIP: %s: no Xen hypervisor\n", s->name);
		return;
	}
	s->run();
}

void guest_main(uint32_t start_info_paddr)
{
	const struct hvm_start_info *si = (void *)(uintptr_t)start_info_paddr;
	char name[32];
	unsigned int i;

	(void)hypercall_init();
	traps_init();
	if (si && si->magic == XEN_HVM_START_MAGIC_VALUE)
		start_info = si;

	if (!guest_cmdline_get("test", name, sizeof(name))) {
		printf("xenia test guest: all scenarios (%s)\n",
		       hypercall_ready ? "xen" : "no xen");
		for (i = 0; i < ARRAY_SIZE(scenarios); i++)
			if (scenarios[i].in_default)
				scenario_run(&scenarios[i]);
	} else {
		for (i = 0; i < ARRAY_SIZE(scenarios); i++)
			if (!strcmp(scenarios[i].name, name))
				break;
		if (i == ARRAY_SIZE(scenarios))
			check(0, "unknown scenario test=%s", name);
		else
			scenario_run(&scenarios[i]);
	}

	if (nr_failed) {
		printf("xenia test guest: %u check(s) failed\n", nr_failed);
		guest_shutdown(SHUTDOWN_crash);
	}
	guest_shutdown(SHUTDOWN_poweroff);
}
