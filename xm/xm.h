/* SPDX-License-Identifier: MIT */
/*
 * xm: the administrator's command line, a client of xend (docs/api.md).
 * main.c holds the command table and parses every command's options and
 * counts its arguments once, centrally; the handlers (cmd_*.c) get what
 * is left and a client connected to xend.
 */
#ifndef XENIA_XM_H
#define XENIA_XM_H

#include <stdbool.h>

#include "client.h"

/*
 * Exit statuses, which is what a command handler returns (as xl's do):
 * the shell, not another function, is its caller.
 */
#define XM_OK 0
#define XM_FAIL 1  /* xend refused, or the command failed */
#define XM_USAGE 2 /* a bad command line; usage printed */

struct xm_opts {
	bool console;	/* -c: attach the console afterwards */
	bool paused;	/* -p */
	bool longfmt;	/* -l: S-expressions */
	bool json;	/* --json */
	bool wait;	/* -w */
	bool all;	/* -a */
	bool reboot;	/* -R */
	bool halt;	/* -H */
	bool brief;	/* -s (uptime's short form) */
	bool batch;	/* -b */
	bool has_timeout;
	double timeout;	 /* --timeout S */
	long iterations; /* -i N; 0: forever */
	double delay;	 /* -d S */
	/* xm migrate's */
	bool live;	  /* -l */
	bool ssl;	  /* -s: TLS */
	long port;	  /* -p N; 0: the host's or the default */
	long downtime_ms; /* --downtime; -1: xend's default */
	long max_rounds;  /* --max-rounds; -1: xend's default */
};

struct xm_cmd;

struct xm_ctx {
	const struct xm_cmd *cmd;
	struct client *cl; /* NULL for commands that do not need xend */
	struct xm_opts opt;
};

typedef int xm_handler(struct xm_ctx *x, int argc, char **argv);

struct xm_cmd {
	const char *name;
	xm_handler *run;
	const char *opts;	/* the option letters it takes (main.c) */
	int min_args, max_args; /* positional; max -1: no limit */
	bool needs_xend;
	const char *args;	/* for "Usage: xm NAME ARGS" */
	const char *desc;
};

/* Prints "xm CMD: msg" and the command's usage to stderr; XM_USAGE. */
int xm_usage_error(const struct xm_ctx *x, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Prints "xm CMD: msg" to stderr; XM_FAIL. */
int xm_fail(const struct xm_ctx *x, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* cmd_domain.c: the domain's life cycle. */
xm_handler cmd_create, cmd_new, cmd_start, cmd_delete, cmd_shutdown,
	cmd_reboot, cmd_destroy, cmd_pause, cmd_unpause, cmd_rename,
	cmd_domid, cmd_domname, cmd_mem_set, cmd_mem_max, cmd_vcpu_set,
	cmd_sysrq, cmd_console;

/* cmd_show.c: what xend reports. */
xm_handler cmd_list, cmd_uptime, cmd_vcpu_list, cmd_info, cmd_dmesg,
	cmd_log;

/* cmd_save.c */
xm_handler cmd_save, cmd_restore, cmd_migrate;

/* top.c */
xm_handler cmd_top;

/* cmd_dev.c: block and network devices. */
xm_handler cmd_block_list, cmd_block_attach, cmd_block_detach,
	cmd_network_list, cmd_network_attach, cmd_network_detach;

/* Attach the console of dom (cmd_domain.c, for create -c and start -c). */
int xm_console_attach(struct xm_ctx *x, const char *dom);

#endif
