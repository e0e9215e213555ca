/* SPDX-License-Identifier: MIT */
/* The store object: creation, quotas, teardown. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static const struct {
	const char *name;
	size_t off;
} quota_names[] = {
	{"nodes", offsetof(struct xs_quota, nodes)},
	{"node-size", offsetof(struct xs_quota, node_size)},
	{"watches", offsetof(struct xs_quota, watches)},
	{"transactions", offsetof(struct xs_quota, transactions)},
	{"transaction-nodes", offsetof(struct xs_quota, txn_nodes)},
	{"perms", offsetof(struct xs_quota, perms)},
	{"outstanding", offsetof(struct xs_quota, outstanding)},
	{"path-max", offsetof(struct xs_quota, path_max)},
	{"event-queue", offsetof(struct xs_quota, event_queue_max)},
};

void xs_quota_defaults(struct xs_quota *q)
{
	q->nodes = 1000;
	q->node_size = 2048;
	q->watches = 128;
	q->transactions = 10;
	q->txn_nodes = 1024;
	q->perms = 5;
	q->outstanding = 20;
	q->path_max = XENSTORE_REL_PATH_MAX;
	q->event_queue_max = 256 * 1024;
}

static uint32_t *quota_field(struct xs_quota *q, const char *name, size_t len)
{
	size_t i;

	for (i = 0; i < sizeof(quota_names) / sizeof(quota_names[0]); i++)
		if (strlen(quota_names[i].name) == len &&
		    !strncmp(quota_names[i].name, name, len))
			return (uint32_t *)((char *)q + quota_names[i].off);
	return NULL;
}

int xs_quota_parse(struct xs_quota *q, const char *arg)
{
	const char *eq = strchr(arg, '=');
	unsigned long v;
	uint32_t *f;
	char *end;

	if (!eq)
		return -EINVAL;
	f = quota_field(q, arg, (size_t)(eq - arg));
	if (!f || !eq[1])
		return -EINVAL;
	errno = 0;
	v = strtoul(eq + 1, &end, 10);
	if (errno || *end || v > UINT32_MAX || eq[1] == '-')
		return -EINVAL;
	/* A path limit above the protocol's own would break clients. */
	if (f == &q->path_max && (v < 1 || v > XENSTORE_REL_PATH_MAX))
		return -EINVAL;
	*f = (uint32_t)v;
	return 0;
}

int xs_quota_format(const struct xs_quota *q, struct buf *out)
{
	size_t i;

	for (i = 0; i < sizeof(quota_names) / sizeof(quota_names[0]); i++) {
		const uint32_t *f = (const uint32_t *)((const char *)q +
						       quota_names[i].off);
		char line[64];
		int n = snprintf(line, sizeof(line), "%-18s %u\n",
				 quota_names[i].name, *f);

		if (buf_append(out, line, (size_t)n))
			return -ENOMEM;
	}
	return 0;
}

struct xs_store *xs_store_new(const struct xs_quota *q)
{
	static const struct xs_perm none0 = {.domid = 0, .access = 0};
	static const char *const specials[] = {"@introduceDomain",
					       "@releaseDomain"};
	struct xs_store *s = calloc(1, sizeof(*s));
	unsigned int i;

	if (!s)
		return NULL;
	if (xs_table_init(&s->nodes)) {
		free(s);
		return NULL;
	}
	list_init(&s->conns);
	list_init(&s->flush_list);
	if (q)
		s->quota = *q;
	else
		xs_quota_defaults(&s->quota);
	xs_path_set_max(s->quota.path_max);
	tree_init_root(s);
	/* The special nodes: not in the tree, but they carry the
	 * permissions that decide who sees their events. */
	for (i = 0; i < 2; i++) {
		struct xs_node *n = xs_node_new(specials[i],
						(uint32_t)strlen(specials[i]));

		if (!n || xs_node_set_perms(n, &none0, 1)) {
			xs_node_free(n);
			xs_store_free(s);
			return NULL;
		}
		tree_load_node(s, n);
	}
	return s;
}

void xs_store_free(struct xs_store *s)
{
	unsigned int i;

	if (!s)
		return;
	while (!list_empty(&s->conns))
		xs_conn_free(list_entry(s->conns.next, struct xs_conn,
					store_link));
	journal_close(s);
	xs_table_destroy(&s->nodes, xs_node_free);
	for (i = 0; i < XS_DOMID_LIMIT; i++)
		if (s->domains[i]) {
			watch_kept_clear(s->domains[i]);
			free(s->domains[i]);
		}
	free(s);
}
