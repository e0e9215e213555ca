/* SPDX-License-Identifier: MIT */
/*
 * XS_CONTROL: administrative commands (xenstore-control).  Their names and
 * replies are our own, as each Xen daemon has its own set.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "../common/log.h"
#include "internal.h"

static int control_help(struct xs_store *s, const char **argv,
			unsigned int argc, struct buf *out);

static int append_str(struct buf *out, const char *str)
{
	return buf_append(out, str, strlen(str)) ? -ENOMEM : 0;
}

static int control_print(struct xs_store *s, const char **argv,
			 unsigned int argc, struct buf *out)
{
	(void)s;
	(void)out;
	if (argc < 2)
		return -EINVAL;
	log_info("control: %s", argv[1]);
	return 0;
}

static int control_quota(struct xs_store *s, const char **argv,
			 unsigned int argc, struct buf *out)
{
	struct xs_quota q = s->quota;

	if (argc == 1)
		return xs_quota_format(&s->quota, out);
	/* "quota name=value": set it for everyone from now on. */
	if (argc != 2 || xs_quota_parse(&q, argv[1]))
		return -EINVAL;
	s->quota = q;
	xs_path_set_max(q.path_max);
	return 0;
}

static int control_stats(struct xs_store *s, const char **argv,
			 unsigned int argc, struct buf *out)
{
	unsigned int nconns = 0, ndoms = 0, i;
	struct xs_conn *c;
	char line[256];

	(void)argv;
	(void)argc;
	list_for_each_entry(c, &s->conns, store_link)
		nconns++;
	for (i = 0; i < XS_DOMID_LIMIT; i++)
		if (s->domains[i] && s->domains[i]->introduced)
			ndoms++;
	snprintf(line, sizeof(line),
		 "nodes %u\nconnections %u\ndomains %u\nrequests %" PRIu64
		 "\ngeneration %" PRIu64 "\n",
		 s->nodes.count, nconns, ndoms, s->stats_requests, s->gen);
	return append_str(out, line);
}

static int control_checkpoint(struct xs_store *s, const char **argv,
			      unsigned int argc, struct buf *out)
{
	(void)argv;
	(void)argc;
	(void)out;
	return xs_store_checkpoint(s);
}

static const struct {
	const char *name;
	const char *help;
	int (*fn)(struct xs_store *s, const char **argv, unsigned int argc,
		  struct buf *out);
} control_cmds[] = {
	{"help", "list the commands", control_help},
	{"print", "<text>: write text to the daemon's log", control_print},
	{"quota", "[name=value]: show or set the domain quotas",
	 control_quota},
	{"stats", "counts of nodes, connections, domains, requests",
	 control_stats},
	{"checkpoint", "write a snapshot and start a fresh log",
	 control_checkpoint},
};

#define NCMDS (sizeof(control_cmds) / sizeof(control_cmds[0]))

static int control_help(struct xs_store *s, const char **argv,
			unsigned int argc, struct buf *out)
{
	unsigned int i;

	(void)s;
	(void)argv;
	(void)argc;
	for (i = 0; i < NCMDS; i++) {
		char line[128];

		snprintf(line, sizeof(line), "%-10s %s\n", control_cmds[i].name,
			 control_cmds[i].help);
		if (append_str(out, line))
			return -ENOMEM;
	}
	return 0;
}

int control_run(struct xs_store *s, const char **argv, unsigned int argc,
		struct buf *out)
{
	unsigned int i;

	for (i = 0; i < NCMDS; i++)
		if (!strcmp(argv[0], control_cmds[i].name))
			return control_cmds[i].fn(s, argv, argc, out);
	return -EINVAL;
}
