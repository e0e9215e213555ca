/*
 * test=xenstore: the XenStore client (xenbus.c) against xenstored through
 * our ring, as an unprivileged domain whose home is /local/domain/<id>.
 *
 * Reads of what the toolstack wrote, GET_DOMAIN_PATH, write/read/
 * directory/rm/mkdir/perms under data/ (one relative path), a value
 * larger than the ring, watches (once at registration, once per change,
 * silent after unwatch), a transaction that commits and one that gets
 * EAGAIN, EACCES outside our home, over-long paths and values refused
 * without losing the connection, and a burst of writes that wraps both
 * rings many times.  "Only once" and "no longer" are checked without
 * timing: a second watch is set and its registration event, which the
 * server queues after anything the earlier write caused, must come next.
 *
 * Without a store ring (xenia-vmm without --xenstore) it prints a SKIP
 * line and nothing else.
 */
#include "console.h"
#include "events.h"
#include "gnttab.h"
#include "guest.h"
#include "lib.h"
#include "xenbus.h"

#define MS 1000000ull
#define EVENT_WAIT_NS (5000 * MS)
#define BURST 200
#define BIG_VALUE 1500 /* larger than a ring, within the node quota */

static char home[64];
static char path[XENSTORE_ABS_PATH_MAX + 200];
static char buf[XENSTORE_PAYLOAD_MAX + 1];
static char big[XENSTORE_PAYLOAD_MAX + 1000];
static char ev_path[256], ev_token[64];

/* home + "/" + sub into path. */
static const char *at(const char *sub)
{
	snprintf(path, sizeof(path), "%s/%s", home, sub);
	return path;
}

/* Reads sub (under home) and compares it with want. */
static int reads(const char *sub, const char *want)
{
	int rc = xenbus_read(XENBUS_TX_NONE, at(sub), buf, sizeof(buf));

	return rc >= 0 && !strcmp(buf, want);
}

/* The next watch event; its token is in ev_token. */
static int next_event(void)
{
	ev_token[0] = '\0';
	return xenbus_wait_event(ev_path, sizeof(ev_path), ev_token,
				 sizeof(ev_token), EVENT_WAIT_NS);
}

/*
 * Sets a watch on `sub` with `token` and waits for its registration
 * event: 1 if nothing else came first.  Everything the requests before
 * it caused is queued by then.  The watch is removed again.
 */
static int nothing_before_sync(const char *sub, const char *token)
{
	int rc, ok;

	if (xenbus_watch(at(sub), token))
		return 0;
	rc = next_event();
	ok = rc == 0 && !strcmp(ev_token, token);
	/* Drain up to our marker if something else came first. */
	while (rc == 0 && strcmp(ev_token, token))
		rc = next_event();
	if (xenbus_unwatch(at(sub), token))
		ok = 0;
	return ok;
}

static int in_list(const char *list, int count, const char *name)
{
	for (; count > 0; count--, list += strlen(list) + 1)
		if (!strcmp(list, name))
			return 1;
	return 0;
}

static void xs_identity(int domid)
{
	unsigned long v = 0;
	char want[64];
	int rc;

	rc = xenbus_read_uint(XENBUS_TX_NONE, at("domid"), &v);
	check(rc == 0 && v == (unsigned long)domid,
	      "xenstore: %s/domid reads our domid %d rc=%d value=%lu", home,
	      domid, rc, v);
	rc = xenbus_read(XENBUS_TX_NONE, at("name"), buf, sizeof(buf));
	check(rc > 0, "xenstore: name readable rc=%d '%s'", rc,
	      rc > 0 ? buf : "");
	snprintf(want, sizeof(want), "/local/domain/%d", domid);
	rc = xenbus_get_domain_path((unsigned int)domid, buf, sizeof(buf));
	check(rc > 0 && !strcmp(buf, want),
	      "xenstore: GET_DOMAIN_PATH says our home is %s rc=%d", want, rc);
}

static void xs_nodes(int domid)
{
	struct xenbus_perm set[2] = {{(uint32_t)domid, 'b'}, {0, 'r'}};
	struct xenbus_perm got[4];
	unsigned int i;
	int rc, n, ok;

	rc = xenbus_write(XENBUS_TX_NONE, at("data/greeting"), "hello");
	check(rc == 0 && reads("data/greeting", "hello"),
	      "xenstore: write then read data/greeting rc=%d", rc);

	/* Relative: resolved against our home by the server. */
	rc = xenbus_write(XENBUS_TX_NONE, "data/rel", "relative");
	check(rc == 0 && reads("data/rel", "relative"),
	      "xenstore: relative data/rel lands under %s rc=%d", home, rc);

	n = xenbus_directory(XENBUS_TX_NONE, at("data"), buf, sizeof(buf));
	check(n >= 2 && in_list(buf, n, "greeting") && in_list(buf, n, "rel"),
	      "xenstore: directory of data lists greeting and rel n=%d", n);

	rc = xenbus_rm(XENBUS_TX_NONE, at("data/greeting"));
	n = xenbus_read(XENBUS_TX_NONE, at("data/greeting"), buf, sizeof(buf));
	check(rc == 0 && n == -XEN_ENOENT,
	      "xenstore: rm data/greeting, then it reads ENOENT rc=%d read=%d",
	      rc, n);

	rc = xenbus_mkdir(XENBUS_TX_NONE, at("data/dir"));
	n = xenbus_directory(XENBUS_TX_NONE, at("data/dir"), buf, sizeof(buf));
	check(rc == 0 && n == 0 && reads("data/dir", ""),
	      "xenstore: mkdir data/dir: empty, no children rc=%d n=%d", rc, n);

	/* Larger than either ring: both directions move it in pieces. */
	for (i = 0; i < BIG_VALUE; i++)
		big[i] = (char)('a' + i % 26);
	big[BIG_VALUE] = '\0';
	rc = xenbus_write(XENBUS_TX_NONE, at("data/big"), big);
	n = xenbus_read(XENBUS_TX_NONE, at("data/big"), buf, sizeof(buf));
	check(rc == 0 && n == BIG_VALUE && !memcmp(buf, big, BIG_VALUE),
	      "xenstore: a %d-byte value (over a ring) goes and comes back "
	      "whole rc=%d read=%d",
	      BIG_VALUE, rc, n);

	n = xenbus_get_perms(XENBUS_TX_NONE, at("data"), got, 4);
	check(n >= 1 && got[0].domid == (uint32_t)domid,
	      "xenstore: we own data n=%d owner=%u", n,
	      n >= 1 ? got[0].domid : 0);
	rc = xenbus_set_perms(XENBUS_TX_NONE, at("data/rel"), set, 2);
	n = xenbus_get_perms(XENBUS_TX_NONE, at("data/rel"), got, 4);
	ok = rc == 0 && n == 2;
	for (i = 0; ok && i < 2; i++)
		ok = got[i].domid == set[i].domid &&
		     got[i].access == set[i].access;
	check(ok, "xenstore: set_perms b%d r0 on data/rel reads back", domid);
}

static void xs_watches(void)
{
	char want[96];
	int rc, ok;

	snprintf(want, sizeof(want), "%s/data/w", home);
	rc = xenbus_watch(at("data/w"), "tok-w");
	ok = rc == 0 && next_event() == 0;
	check(ok && !strcmp(ev_path, want) && !strcmp(ev_token, "tok-w"),
	      "xenstore: watch on data/w fires at registration rc=%d "
	      "path=%s token=%s",
	      rc, ok ? ev_path : "-", ev_token);

	rc = xenbus_write(XENBUS_TX_NONE, at("data/w"), "1");
	ok = rc == 0 && next_event() == 0;
	check(ok && !strcmp(ev_path, want) && !strcmp(ev_token, "tok-w"),
	      "xenstore: setting data/w fires its watch with our token "
	      "rc=%d path=%s",
	      rc, ok ? ev_path : "-");
	check(nothing_before_sync("data/sync", "tok-sync"),
	      "xenstore: one write fired the watch once");
}

static void xs_unwatch(void)
{
	int rc, w;

	rc = xenbus_unwatch(at("data/w"), "tok-w");
	w = xenbus_write(XENBUS_TX_NONE, at("data/w"), "2");
	check(rc == 0 && w == 0 && nothing_before_sync("data/sync", "tok-s2"),
	      "xenstore: after unwatch, setting data/w fires nothing "
	      "rc=%d write=%d",
	      rc, w);
	rc = xenbus_unwatch(at("data/w"), "tok-w");
	check(rc == -XEN_ENOENT, "xenstore: a second unwatch gets ENOENT rc=%d",
	      rc);
}

static void xs_transactions(void)
{
	xenbus_tx_t t = XENBUS_TX_NONE;
	int rc, w, in, out;

	rc = xenbus_transaction_start(&t);
	w = xenbus_write(t, at("data/tx-a"), "in-tx");
	in = xenbus_read(t, at("data/tx-a"), buf, sizeof(buf));
	in = in >= 0 && !strcmp(buf, "in-tx");
	out = xenbus_read(XENBUS_TX_NONE, at("data/tx-a"), buf, sizeof(buf));
	check(rc == 0 && t != XENBUS_TX_NONE && w == 0 && in &&
		  out == -XEN_ENOENT,
	      "xenstore: transaction %u sees its write, outside does not "
	      "rc=%d write=%d outside=%d",
	      t, rc, w, out);
	rc = xenbus_transaction_end(t, 1);
	check(rc == 0 && reads("data/tx-a", "in-tx"),
	      "xenstore: the transaction commits rc=%d", rc);

	(void)xenbus_write(XENBUS_TX_NONE, at("data/tx-b"), "before");
	rc = xenbus_transaction_start(&t);
	in = xenbus_read(t, at("data/tx-b"), buf, sizeof(buf));
	out = xenbus_write(XENBUS_TX_NONE, at("data/tx-b"), "outside");
	w = xenbus_write(t, at("data/tx-c"), "lost");
	rc = rc ? rc : xenbus_transaction_end(t, 1);
	check(rc == -XEN_EAGAIN && in >= 0 && out == 0 && w == 0 &&
		  reads("data/tx-b", "outside") &&
		  xenbus_read(XENBUS_TX_NONE, at("data/tx-c"), buf,
			      sizeof(buf)) == -XEN_ENOENT,
	      "xenstore: a node read in a transaction and changed outside: "
	      "EAGAIN, nothing applied rc=%d",
	      rc);
}

static void xs_refused(void)
{
	int rc, next;

	rc = xenbus_read(XENBUS_TX_NONE, "/local/domain/0", buf, sizeof(buf));
	check(rc == -XEN_EACCES,
	      "xenstore: reading /local/domain/0 gets EACCES rc=%d", rc);
	rc = xenbus_write(XENBUS_TX_NONE, "/local", "x");
	check(rc == -XEN_EACCES, "xenstore: writing /local gets EACCES rc=%d",
	      rc);

	/* Over the server's 2048 below our home, under the wire's 3072. */
	memcpy(big, "data/", 5);
	memset(big + 5, 'p', 2100);
	big[2105] = '\0';
	rc = xenbus_write(XENBUS_TX_NONE, big, "x");
	next = xenbus_read(XENBUS_TX_NONE, at("domid"), buf, sizeof(buf));
	check(rc == -XEN_EINVAL && next > 0,
	      "xenstore: a 2105-character path gets EINVAL, the next "
	      "request works rc=%d next=%d",
	      rc, next);

	/* Over XENSTORE_ABS_PATH_MAX: refused before it is sent. */
	memset(big, 'q', XENSTORE_ABS_PATH_MAX + 10);
	big[0] = '/';
	big[XENSTORE_ABS_PATH_MAX + 10] = '\0';
	rc = xenbus_read(XENBUS_TX_NONE, big, buf, sizeof(buf));
	check(rc == -XEN_EINVAL, "xenstore: a %d-character path: EINVAL rc=%d",
	      XENSTORE_ABS_PATH_MAX + 10, rc);

	/* Over the payload limit: refused before it is sent. */
	memset(big, 'v', XENSTORE_PAYLOAD_MAX + 10);
	big[XENSTORE_PAYLOAD_MAX + 10] = '\0';
	rc = xenbus_write(XENBUS_TX_NONE, at("data/huge"), big);
	check(rc == -XEN_E2BIG, "xenstore: a %d-byte value gets E2BIG rc=%d",
	      XENSTORE_PAYLOAD_MAX + 10, rc);

	/* Over the node-size quota (2048): the server refuses it. */
	big[3000] = '\0';
	rc = xenbus_write(XENBUS_TX_NONE, at("data/huge"), big);
	next = xenbus_read(XENBUS_TX_NONE, at("domid"), buf, sizeof(buf));
	check((rc == -XEN_ENOSPC || rc == -XEN_E2BIG) && next > 0,
	      "xenstore: a 3000-byte value is refused (quota), the next "
	      "request works rc=%d next=%d",
	      rc, next);
}

static void xs_burst(void)
{
	char sub[32], val[48];
	unsigned int i, ok = 0;
	int n, good = 1;

	for (i = 0; i < BURST; i++) {
		snprintf(sub, sizeof(sub), "data/burst/%u", i);
		snprintf(val, sizeof(val), "value number %u of the burst", i);
		if (xenbus_write(XENBUS_TX_NONE, at(sub), val) == 0)
			ok++;
	}
	n = xenbus_directory(XENBUS_TX_NONE, at("data/burst"), buf,
			     sizeof(buf));
	for (i = 0; i < BURST; i += 37) {
		snprintf(sub, sizeof(sub), "data/burst/%u", i);
		snprintf(val, sizeof(val), "value number %u of the burst", i);
		good = good && reads(sub, val);
	}
	check(ok == BURST && n == BURST && good,
	      "xenstore: %u writes in a row all succeed (%u ok, %d listed), "
	      "values read back",
	      BURST, ok, n);
	n = xenbus_rm(XENBUS_TX_NONE, at("data/burst"));
	check(n == 0 && xenbus_read(XENBUS_TX_NONE, at("data/burst/0"), buf,
				    sizeof(buf)) == -XEN_ENOENT,
	      "xenstore: rm data/burst removes the subtree rc=%d", n);
}

void scenario_xenstore(void)
{
	int domid, rc;

	rc = xenbus_init();
	if (rc == -XEN_ENOENT) {
		printf("SKIP: xenstore: no store ring\n");
		return;
	}
	irq_enable();
	if (!check(rc == 0, "xenstore: client connected rc=%d port=%u", rc,
		   xenbus_port()))
		return;
	domid = xen_domid();
	if (!check(domid > 0 && domid < (int)DOMID_FIRST_RESERVED,
		   "xenstore: our domid from CPUID is %d", domid))
		return;
	snprintf(home, sizeof(home), "/local/domain/%d", domid);

	xs_identity(domid);
	xs_nodes(domid);
	xs_watches();
	xs_transactions();
	xs_refused();
	xs_burst();
	xs_unwatch();
	check(xenbus_events_dropped == 0,
	      "xenstore: no watch event dropped (%u)", xenbus_events_dropped);
}
