/* SPDX-License-Identifier: MIT */
/*
 * XS_CONTROL: administrative commands (xenstore-control).  Their names and
 * replies are our own, as each Xen daemon has its own set.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
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

/*
 * A domain's watches, for the toolstack that saves and restores it
 * (docs/migration-stream.md, XENSTORE): the guest's connection is
 * xenstored's, and a restored guest must find its watches in place.
 *
 * "watch-get DOMID N": watch N of the domain's ring connection, as
 * "PATH\0TOKEN\0", PATH relative to the domain's home for a watch the
 * guest set with a relative path; ENOENT past the last one.
 */
static int control_watch_conn(struct xs_store *s, const char *id,
			      struct xs_conn **c, uint32_t *domid)
{
	struct xs_domain *d;
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(id, &end, 10);
	if (errno || *end || !*id || v == 0 || v >= XS_DOMID_LIMIT)
		return -EINVAL;
	d = domain_get(s, (uint32_t)v);
	if (!d || !d->conn)
		return -ENOENT;
	*c = d->conn;
	*domid = (uint32_t)v;
	return 0;
}

static int control_watch_get(struct xs_store *s, const char **argv,
			     unsigned int argc, struct buf *out)
{
	struct xs_conn *c;
	struct xs_watch *w;
	unsigned long n, i = 0;
	uint32_t domid;
	char *end;
	int err;

	if (argc != 3)
		return -EINVAL;
	err = control_watch_conn(s, argv[1], &c, &domid);
	if (err)
		return err;
	errno = 0;
	n = strtoul(argv[2], &end, 10);
	if (errno || *end || !*argv[2])
		return -EINVAL;
	list_for_each_entry(w, &c->watches, conn_link) {
		if (i++ != n)
			continue;
		if (buf_append(out, w->path + w->relative_off,
			       strlen(w->path + w->relative_off) + 1) ||
		    buf_append(out, w->token, strlen(w->token) + 1))
			return -ENOMEM;
		return 0;
	}
	return -ENOENT;
}

/*
 * "watch-restore DOMID PATH TOKEN": sets a watch on the domain's ring
 * connection as if the guest had sent XS_WATCH (a relative PATH is
 * relative to its home), and fires it once, as XS_WATCH does: the guest
 * looks at what it watches, so nothing missed meanwhile is lost.
 */
static int control_watch_restore(struct xs_store *s, const char **argv,
				 unsigned int argc, struct buf *out)
{
	struct xs_conn *c;
	struct xs_watch *w;
	uint32_t domid, rel = 0;
	char *path;
	int err;

	(void)out;
	if (argc != 4)
		return -EINVAL;
	err = control_watch_conn(s, argv[1], &c, &domid);
	if (err)
		return err;
	path = xs_path_canonical(domid, argv[2], true, &err);
	if (!path)
		return -err;
	if (argv[2][0] != '/' && argv[2][0] != '@')
		rel = (uint32_t)(strlen(path) - strlen(argv[2]));
	err = watch_add(c, path, argv[3], rel);
	free(path);
	if (err)
		return err == -EEXIST ? 0 : err;
	w = list_entry(c->watches.prev, struct xs_watch, conn_link);
	(void)watch_send_event(c, w, w->path);
	return 0;
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
	{"watch-get", "<domid> <n>: a domain's watch n (path, token)",
	 control_watch_get},
	{"watch-restore", "<domid> <path> <token>: set a domain's watch",
	 control_watch_restore},
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
