/* SPDX-License-Identifier: MIT */
/*
 * The harness of the XenStore unit tests, driven in-process: a store with
 * test connections (struct tconn) for dom0 and for unprivileged domains,
 * which are fed Xen wire messages, and helpers that send one request and
 * check its reply and the watch events.
 *
 * A test connection keeps the watch events that arrive while the test waits
 * for a reply, so tests can check replies and events apart.
 *
 * The helpers fail the running test (cmocka) on anything unexpected.  Those
 * that send a request return NULL for a successful reply, or the error name
 * (valid until the next request); assert_ok() and assert_err() check that.
 */
#ifndef XENIA_TESTS_UNIT_HARNESS_H
#define XENIA_TESTS_UNIT_HARNESS_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "internal.h"

#define MAX_EVENTS 512
#define HDR_LEN ((uint32_t)sizeof(struct xsd_sockmsg))

struct msg {
	struct xsd_sockmsg hdr;
	char body[XENSTORE_PAYLOAD_MAX + 1]; /* NUL after the payload */
};

struct tconn {
	struct xs_conn *c;
	uint32_t domid;
	char *ev_path[MAX_EVENTS];
	char *ev_token[MAX_EVENTS];
	unsigned int ev_head, ev_tail;
};

/* A store and the test connections to it; e->d0 is a dom0 connection. */
struct env {
	struct xs_store *s;
	struct tconn *d0;
	struct tconn *conns[32];
	unsigned int nconns;
};

/* A reply buffer for the tests to share, and the one payloads are built in. */
extern struct msg scratch;
extern char pbuf[XENSTORE_PAYLOAD_MAX + 64];

#define assert_ok(expr)                                                        \
	do {                                                                   \
		const char *res_ = (expr);                                     \
		if (res_)                                                      \
			fail_msg("%s: expected success, got %s", #expr, res_); \
	} while (0)

#define assert_err(expr, name)                                                 \
	do {                                                                   \
		const char *res_ = (expr);                                     \
		if (!res_)                                                     \
			fail_msg("%s: expected %s, got success", #expr, name); \
		if (strcmp(res_, name))                                        \
			fail_msg("%s: expected %s, got %s", #expr, name,       \
				 res_);                                        \
	} while (0)

/* --- stores and connections -------------------------------------------- */

struct env *env_new(const struct xs_quota *q);
/* The same around a store the caller made (and set up), which env_free()
 * then frees. */
struct env *env_wrap(struct xs_store *s);
void env_free(struct env *e);
struct tconn *tc_new(struct env *e, uint32_t domid);

/* --- messages ---------------------------------------------------------- */

/* Take the next message off the connection's output; false if none. */
bool pop_msg(struct tconn *t, struct msg *m);
/* Throw away all the output waiting, unread. */
void drop_output(struct tconn *t);
/* Hand the connection `len` bytes of input, as if read from its ring. */
void feed(struct tconn *t, const void *data, size_t len);
void send_raw(struct tconn *t, uint32_t type, uint32_t req_id, uint32_t tx,
	      const void *data, uint32_t len);
/*
 * Send one request and collect its reply (into `rep`, or else `scratch`)
 * and any events.
 */
const char *request(struct tconn *t, uint32_t type, uint32_t tx,
		    const void *data, uint32_t len, struct msg *rep);
/* Concatenate NUL-terminated strings (NULL ends the list). */
uint32_t pack(char *out, ...) __attribute__((sentinel));
/* A request whose payload is the strings given, packed (NULL ends them). */
const char *opn(struct tconn *t, uint32_t type, uint32_t tx, struct msg *rep,
		...) __attribute__((sentinel));
const char *op1(struct tconn *t, uint32_t type, uint32_t tx, const char *arg,
		struct msg *rep);

/* --- operations -------------------------------------------------------- */

const char *xs_wrn(struct tconn *t, uint32_t tx, const char *path,
		   const void *val, uint32_t vlen);
const char *xs_wr(struct tconn *t, uint32_t tx, const char *path,
		  const char *val);
const char *xs_rd(struct tconn *t, uint32_t tx, const char *path,
		  struct msg *rep);
const char *xs_mk(struct tconn *t, uint32_t tx, const char *path);
const char *xs_rm(struct tconn *t, uint32_t tx, const char *path);
const char *xs_dir(struct tconn *t, uint32_t tx, const char *path,
		   struct msg *rep);
const char *xs_getp(struct tconn *t, uint32_t tx, const char *path,
		    struct msg *rep);
/* perms as "n5,r6": commas become the NUL separators. */
uint32_t perms_wire(char *out, const char *perms);
const char *xs_setp(struct tconn *t, uint32_t tx, const char *path,
		    const char *perms);
const char *xs_watch(struct tconn *t, const char *path, const char *token);
const char *xs_unwatch(struct tconn *t, const char *path, const char *token);
/* TRANSACTION_START, which must succeed: the new transaction's id. */
uint32_t xs_start(struct tconn *t);
const char *xs_end(struct tconn *t, uint32_t tx, const char *arg);

/* --- replies ----------------------------------------------------------- */

void expect_readn(struct tconn *t, uint32_t tx, const char *path,
		  const void *want, uint32_t wlen);
void expect_read(struct tconn *t, uint32_t tx, const char *path,
		 const char *want);
/* A reply payload equals the given bytes. */
void expect_body(const struct msg *m, const void *want, uint32_t len);
/* A request of one argument succeeds with exactly this payload. */
void expect_reply(struct tconn *t, uint32_t type, uint32_t tx, const char *arg,
		  const void *want, uint32_t wlen);
void expect_perms(struct tconn *t, const char *path, const char *perms);

/* --- events ------------------------------------------------------------ */

/* Forget every event that has arrived for t so far. */
void discard_events(struct tconn *t);
/* The next event t has is this one. */
void expect_event(struct tconn *t, const char *path, const char *token);
void expect_no_event(struct tconn *t);
/* This event, and nothing more. */
void expect_only_event(struct tconn *t, const char *path, const char *token);
/* A WATCH that succeeds, and the event a new watch fires at once. */
void expect_watch(struct tconn *t, const char *path, const char *token);
unsigned int count_events(struct tconn *t);
/* Expect exactly these events, in any order ("path", "token", ..., NULL). */
void expect_events_unordered(struct tconn *t, ...) __attribute__((sentinel));

/* --- domains ----------------------------------------------------------- */

/* INTRODUCE domid (ring gfn 0x1000 + domid, port 10 + domid). */
const char *introduce(struct tconn *d0, uint32_t domid);
/* The hypervisor registers the domain, then the toolstack (e->d0)
 * introduces it. */
void add_domain(struct env *e, uint32_t domid);
/*
 * Make domain `domid` exist (registered and introduced), give it a home
 * /local/domain/<domid> that it owns, and open a connection for it.
 */
struct tconn *env_guest(struct env *e, uint32_t domid);

#endif
