/* SPDX-License-Identifier: MIT */
/*
 * xm's command table and the one place that checks a command line: the
 * options a command takes, how many arguments it wants, whether it needs
 * xend.  Usage errors exit 2 (as xenia-vmm's do), failures 1.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "xm.h"

/*
 * Every option any command takes.  A command lists the letters of its own
 * in its row by val; short_name is its letter, 0 for a long-only one.
 * Two options may share a letter if no command takes both (migrate's -l
 * is --live, list's --long).
 */
static const struct xm_option {
	int val;
	const char *name;
	const char *arg; /* the value's name; NULL: the option takes none */
	char short_name; /* its letter on the command line; 0: long only */
	const char *help;
} xm_options[] = {
	{'c', "console_autoconnect", NULL, 'c',
	 "Attach to the domain's console afterwards."},
	{'p', "paused", NULL, 'p', "Leave the domain paused."},
	{'l', "long", NULL, 'l', "Print S-expressions."},
	{'J', "json", NULL, 0, "Print xend's JSON."},
	{'w', "wait", NULL, 'w', "Wait until it is done."},
	{'a', "all", NULL, 'a', "Every running domain but Domain-0."},
	{'R', "reboot", NULL, 'R', "Reboot instead of power off."},
	{'H', "halt", NULL, 'H', "Halt instead of power off."},
	{'T', "timeout", "S", 0,
	 "Destroy it if still running S seconds later."},
	{'s', "short", NULL, 's', "Short format."},
	{'b', "batch", NULL, 'b', "Batch mode: no screen handling."},
	{'i', "iterations", "N", 'i', "Print N times, then stop."},
	{'d', "delay", "S", 'd', "Seconds between updates (default 3)."},
	/* xm migrate's: the letters Xen gives them, meaning others here. */
	{'L', "live", NULL, 'l',
	 "Live: the domain runs while its memory is copied."},
	{'P', "port", "N", 'p', "The destination xend's relocation port."},
	{'D', "downtime", "MS", 0,
	 "Stop copying once the rest fits in MS ms (default 300)."},
	{'M', "max-rounds", "N", 0, "Stop copying after N rounds (default 30)."},
	{'S', "ssl", NULL, 's',
	 "Over TLS, with xend's relocation certificate."},
};

#define XM_NR_OPTIONS (sizeof(xm_options) / sizeof(xm_options[0]))

static int cmd_help(struct xm_ctx *x, int argc, char **argv);

/* In the order `xm help` lists them. */
static const struct xm_cmd xm_cmds[] = {
	{"console", cmd_console, "", 1, 1, true, "<Domain>",
	 "Attach to <Domain>'s console (Ctrl-] detaches)."},
	{"create", cmd_create, "cp", 1, -1, true,
	 "[-c] [-p] <ConfigFile> [key=value...]",
	 "Create a domain based on <ConfigFile>."},
	{"new", cmd_new, "", 1, -1, true, "<ConfigFile> [key=value...]",
	 "Add a domain to xend's domain management."},
	{"start", cmd_start, "pc", 1, 1, true, "[-p] [-c] <Domain>",
	 "Start a managed domain."},
	{"delete", cmd_delete, "", 1, 1, true, "<Domain>",
	 "Remove a domain from xend's domain management."},
	{"destroy", cmd_destroy, "", 1, 1, true, "<Domain>",
	 "Terminate a domain immediately."},
	{"domid", cmd_domid, "", 1, 1, true, "<DomainName>",
	 "Convert a domain name to domain id."},
	{"domname", cmd_domname, "", 1, 1, true, "<DomId>",
	 "Convert a domain id to domain name."},
	{"help", cmd_help, "", 0, 1, false, "[<Command>]",
	 "Display this message."},
	{"list", cmd_list, "lJ", 0, -1, true, "[-l] [--json] [Domain...]",
	 "List information about all/some domains."},
	{"mem-max", cmd_mem_max, "", 2, 2, true, "<Domain> <Mem>",
	 "Set the maximum memory reservation (MiB) of a domain."},
	{"mem-set", cmd_mem_set, "", 2, 2, true, "<Domain> <Mem>",
	 "Set the current memory (MiB) of a domain."},
	{"pause", cmd_pause, "", 1, 1, true, "<Domain>",
	 "Pause execution of a domain."},
	{"reboot", cmd_reboot, "wa", 0, 1, true, "[-w] [-a] <Domain>",
	 "Reboot a domain."},
	{"rename", cmd_rename, "", 2, 2, true, "<Domain> <NewDomainName>",
	 "Rename a domain."},
	{"save", cmd_save, "c", 2, 2, true, "[-c] <Domain> <File>",
	 "Save a domain's state to a file (-c: it keeps running)."},
	{"migrate", cmd_migrate, "LPDMS", 2, 2, true,
	 "[-l] [-s] [-p PORT] [--downtime=MS] [--max-rounds=N] <Domain> "
	 "<Host>[:<Port>]",
	 "Migrate a domain to another host's xend."},
	{"restore", cmd_restore, "p", 1, 1, true, "[-p] <File>",
	 "Restore a domain from a saved file (-p: paused)."},
	{"shutdown", cmd_shutdown, "waRHT", 0, 1, true,
	 "[-w] [-a] [-R|-H] [--timeout=S] <Domain>", "Shutdown a domain."},
	{"sysrq", cmd_sysrq, "", 2, 2, true, "<Domain> <letter>",
	 "Send a sysrq to a domain."},
	{"top", cmd_top, "bid", 0, 0, true, "[-b] [-i N] [-d S]",
	 "Monitor the host and the domains in real time."},
	{"unpause", cmd_unpause, "", 1, 1, true, "<Domain>",
	 "Unpause a paused domain."},
	{"uptime", cmd_uptime, "s", 0, -1, true, "[-s] [Domain...]",
	 "Print uptime for all/some domains."},
	{"vcpu-list", cmd_vcpu_list, "", 0, -1, true, "[Domain...]",
	 "List the VCPUs for all/some domains."},
	{"vcpu-set", cmd_vcpu_set, "", 2, 2, true, "<Domain> <vCPUs>",
	 "Set the number of active VCPUs of a domain."},
	{"dmesg", cmd_dmesg, "", 0, 0, true, "",
	 "Print the end of the domains' vmm logs."},
	{"info", cmd_info, "", 0, 0, true, "",
	 "Get information about the host."},
	{"log", cmd_log, "", 0, 0, true, "", "Print the end of xend's log."},
	{"block-attach", cmd_block_attach, "", 2, 5, true,
	 "<Domain> <Spec> | <Domain> <BackDev> <FrontDev> <Mode>",
	 "Create a new virtual block device."},
	{"block-detach", cmd_block_detach, "", 2, 2, true,
	 "<Domain> <Vdev|DevId>", "Destroy a domain's virtual block device."},
	{"block-list", cmd_block_list, "l", 1, 1, true, "[-l] <Domain>",
	 "List virtual block devices for a domain."},
	{"network-attach", cmd_network_attach, "", 1, -1, true,
	 "<Domain> [mac=<mac>] [bridge=<bridge>]",
	 "Create a new virtual network device."},
	{"network-detach", cmd_network_detach, "", 2, 2, true,
	 "<Domain> <DevId|mac>",
	 "Destroy a domain's virtual network device."},
	{"network-list", cmd_network_list, "l", 1, 1, true, "[-l] <Domain>",
	 "List virtual network interfaces for a domain."},
};

#define XM_NR_CMDS (sizeof(xm_cmds) / sizeof(xm_cmds[0]))

static const struct xm_option *xm_option_find(int val)
{
	size_t i;

	for (i = 0; i < XM_NR_OPTIONS; i++)
		if (xm_options[i].val == val)
			return &xm_options[i];
	return NULL;
}

static void xm_print_cmd_usage(FILE *f, const struct xm_cmd *c)
{
	const char *p;
	char flag[48];

	fprintf(f, "Usage: xm %s %s\n\n%s\n", c->name, c->args, c->desc);
	for (p = c->opts; *p; p++) {
		const struct xm_option *o = xm_option_find(*p);

		if (!o)
			continue;
		if (o->short_name)
			snprintf(flag, sizeof(flag), "-%c, --%s%s%s",
				 o->short_name,
				 o->name, o->arg ? "=" : "",
				 o->arg ? o->arg : "");
		else
			snprintf(flag, sizeof(flag), "--%s%s%s", o->name,
				 o->arg ? "=" : "", o->arg ? o->arg : "");
		fprintf(f, "  %-30s %s\n", flag, o->help);
	}
}

static void xm_print_help(FILE *f)
{
	size_t i;

	fputs("Usage: xm <subcommand> [args]\n\n"
	      "Control, list, and manipulate Xenia guest instances.\n\n"
	      "xm full list of subcommands:\n\n",
	      f);
	for (i = 0; i < XM_NR_CMDS; i++)
		fprintf(f, " %-20s %s\n", xm_cmds[i].name, xm_cmds[i].desc);
	fputs("\n<Domain> can either be the Domain Name or Id.\n"
	      "'xm <subcommand> --help' describes a subcommand.\n",
	      f);
}

/* An exact name, or a prefix of exactly one name (as Xen's xm allows). */
static const struct xm_cmd *xm_cmd_find(const char *name)
{
	const struct xm_cmd *found = NULL;
	size_t i, len = strlen(name);

	for (i = 0; i < XM_NR_CMDS; i++)
		if (!strcmp(xm_cmds[i].name, name))
			return &xm_cmds[i];
	if (len < 2)
		return NULL;
	for (i = 0; i < XM_NR_CMDS; i++) {
		if (strncmp(xm_cmds[i].name, name, len))
			continue;
		if (found)
			return NULL;
		found = &xm_cmds[i];
	}
	return found;
}

/* "xm CMD: " and the message, on stderr. */
static void xm_vsay(const struct xm_ctx *x, const char *fmt, va_list ap)
{
	fprintf(stderr, "xm %s: ", x->cmd->name);
	vfprintf(stderr, fmt, ap);
	fputs("\n", stderr);
}

int xm_usage_error(const struct xm_ctx *x, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	xm_vsay(x, fmt, ap);
	va_end(ap);
	xm_print_cmd_usage(stderr, x->cmd);
	return XM_USAGE;
}

int xm_fail(const struct xm_ctx *x, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	xm_vsay(x, fmt, ap);
	va_end(ap);
	return XM_FAIL;
}

static int cmd_help(struct xm_ctx *x, int argc, char **argv)
{
	const struct xm_cmd *c;

	if (argc == 0) {
		xm_print_help(stdout);
		return XM_OK;
	}
	c = xm_cmd_find(argv[0]);
	if (!c)
		return xm_usage_error(x, "unknown command '%s'", argv[0]);
	xm_print_cmd_usage(stdout, c);
	return XM_OK;
}

/* What getopt returned for a short letter: the command's option's val. */
static int xm_short_to_val(const struct xm_cmd *cmd, int c)
{
	const char *p;

	for (p = cmd->opts; *p; p++) {
		const struct xm_option *o = xm_option_find(*p);

		if (o && o->short_name == c)
			return o->val;
	}
	return c;
}

static int xm_parse_number(const struct xm_ctx *x, int val, const char *arg,
			   double *out)
{
	const struct xm_option *o = xm_option_find(val);
	char *end;

	errno = 0;
	*out = strtod(arg, &end);
	/* Only a timeout or a delay may have a fraction. */
	if (errno || end == arg || *end || *out < 0 || *out > 1e9 ||
	    (val != 'T' && val != 'd' && *out != (long)*out))
		return xm_usage_error(x, "bad value '%s' for --%s", arg,
				      o ? o->name : "?");
	return 0;
}

/*
 * The command's options into x->opt; *first is the index of its first
 * argument.  XM_OK, or XM_USAGE after saying why; help sets *help.
 */
static int xm_parse_opts(struct xm_ctx *x, int argc, char **argv, int *first,
			 bool *help)
{
	struct option longopts[XM_NR_OPTIONS + 2];
	char shortopts[2 * XM_NR_OPTIONS + 4];
	size_t nl = 0, ns = 0;
	const char *p;
	double num;
	int c;

	/* '-': arguments come back in order, options may go anywhere (as
	 * with Xen's gnu_getopt); ':': a missing value is told apart. */
	ns += (size_t)snprintf(shortopts, sizeof(shortopts), "-:h");
	for (p = x->cmd->opts; *p; p++) {
		const struct xm_option *o = xm_option_find(*p);

		if (!o)
			continue;
		longopts[nl++] = (struct option){
			o->name, o->arg ? required_argument : no_argument,
			NULL, o->val};
		if (o->short_name) {
			shortopts[ns++] = o->short_name;
			if (o->arg)
				shortopts[ns++] = ':';
		}
	}
	shortopts[ns] = '\0';
	longopts[nl++] = (struct option){"help", no_argument, NULL, 'h'};
	longopts[nl] = (struct option){NULL, 0, NULL, 0};

	x->opt.delay = 3;
	x->opt.downtime_ms = x->opt.max_rounds = -1;
	*help = false;
	*first = 0;
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
		c = xm_short_to_val(x->cmd, c);
		switch (c) {
		case 1: /* an argument: gather them at the front */
			argv[1 + (*first)++] = optarg;
			break;
		case 'h':
			*help = true;
			break;
		case 'c':
			x->opt.console = true;
			break;
		case 'p':
			x->opt.paused = true;
			break;
		case 'l':
			x->opt.longfmt = true;
			break;
		case 'J':
			x->opt.json = true;
			break;
		case 'w':
			x->opt.wait = true;
			break;
		case 'a':
			x->opt.all = true;
			break;
		case 'R':
			x->opt.reboot = true;
			break;
		case 'H':
			x->opt.halt = true;
			break;
		case 's':
			x->opt.brief = true;
			break;
		case 'b':
			x->opt.batch = true;
			break;
		case 'L':
			x->opt.live = true;
			break;
		case 'S':
			x->opt.ssl = true;
			break;
		case 'P':
		case 'D':
		case 'M':
			if (xm_parse_number(x, c, optarg, &num))
				return XM_USAGE;
			if (c == 'P')
				x->opt.port = (long)num;
			else if (c == 'D')
				x->opt.downtime_ms = (long)num;
			else
				x->opt.max_rounds = (long)num;
			break;
		case 'T':
		case 'i':
		case 'd':
			if (xm_parse_number(x, c, optarg, &num))
				return XM_USAGE;
			if (c == 'T') {
				x->opt.has_timeout = true;
				x->opt.timeout = num;
			} else if (c == 'i') {
				x->opt.iterations = (long)num;
			} else {
				x->opt.delay = num;
			}
			break;
		case ':':
			return xm_usage_error(x, "option '%s' needs a value",
					      argv[optind - 1]);
		default:
			if (optopt)
				return xm_usage_error(x, "unknown option '-%c'",
						      optopt);
			return xm_usage_error(x, "unknown option '%s'",
					      argv[optind - 1]);
		}
	}
	/* After "--", the rest are arguments as they stand. */
	while (optind < argc)
		argv[1 + (*first)++] = argv[optind++];
	return XM_OK;
}

static int xm_run(const struct xm_cmd *cmd, int argc, char **argv)
{
	struct client cl;
	struct xm_ctx x = {.cmd = cmd};
	bool help;
	int nargs, rc;

	/* argv[0] is the command's name; its arguments end up at argv[1..]. */
	rc = xm_parse_opts(&x, argc, argv, &nargs, &help);
	if (rc != XM_OK)
		return rc;
	if (help) {
		xm_print_cmd_usage(stdout, cmd);
		return XM_OK;
	}
	if (nargs < cmd->min_args ||
	    (cmd->max_args >= 0 && nargs > cmd->max_args)) {
		if (cmd->min_args == cmd->max_args)
			return xm_usage_error(&x, "expects %d argument%s",
					      cmd->min_args,
					      cmd->min_args == 1 ? "" : "s");
		if (cmd->max_args < 0)
			return xm_usage_error(&x, "expects at least %d "
						  "argument%s",
					      cmd->min_args,
					      cmd->min_args == 1 ? "" : "s");
		return xm_usage_error(&x, "expects %d to %d arguments",
				      cmd->min_args, cmd->max_args);
	}
	if (!cmd->needs_xend)
		return cmd->run(&x, nargs, argv + 1);

	if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0)
		return xm_fail(&x, "cannot initialise libcurl");
	rc = client_init(&cl, cmd->name);
	if (rc < 0) {
		curl_global_cleanup();
		return xm_fail(&x, "%s", strerror(-rc));
	}
	x.cl = &cl;
	rc = cmd->run(&x, nargs, argv + 1);
	client_fini(&cl);
	curl_global_cleanup();
	return rc;
}

int main(int argc, char **argv)
{
	const struct xm_cmd *cmd;

	if (argc < 2) {
		xm_print_help(stderr);
		return XM_USAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		xm_print_help(stdout);
		return XM_OK;
	}
	cmd = xm_cmd_find(argv[1]);
	if (!cmd) {
		fprintf(stderr, "xm: unknown command '%s'\n", argv[1]);
		xm_print_help(stderr);
		return XM_USAGE;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	return xm_run(cmd, argc - 1, argv + 1);
}
