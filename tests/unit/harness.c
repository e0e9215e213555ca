/* SPDX-License-Identifier: MIT */
/*
 * The harness of the XenStore unit tests (see harness.h).
 */
#include <stdio.h>
#include <stdlib.h>

#include "harness.h"

struct msg scratch;
char pbuf[XENSTORE_PAYLOAD_MAX + 64];

static uint32_t next_req_id = 1;
static char last_error[32];

static void noop_flush(struct xs_conn *c)
{
	(void)c;
}

static const struct xs_conn_ops test_ops = {.kind = "test",
					    .flush = noop_flush};

/* --- stores and connections -------------------------------------------- */

struct tconn *tc_new(struct env *e, uint32_t domid)
{
	struct tconn *t = calloc(1, sizeof(*t));

	assert_non_null(t);
	assert_true(e->nconns < sizeof(e->conns) / sizeof(e->conns[0]));
	t->domid = domid;
	t->c = xs_conn_new(e->s, domid, &test_ops, t);
	assert_non_null(t->c);
	e->conns[e->nconns++] = t;
	return t;
}

static void tc_clear_events(struct tconn *t)
{
	while (t->ev_head != t->ev_tail) {
		free(t->ev_path[t->ev_head]);
		free(t->ev_token[t->ev_head]);
		t->ev_head++;
	}
	t->ev_head = t->ev_tail = 0;
}

struct env *env_wrap(struct xs_store *s)
{
	struct env *e = calloc(1, sizeof(*e));

	assert_non_null(e);
	assert_non_null(s);
	e->s = s;
	e->d0 = tc_new(e, 0);
	return e;
}

struct env *env_new(const struct xs_quota *q)
{
	return env_wrap(xs_store_new(q));
}

void env_free(struct env *e)
{
	unsigned int i;

	for (i = 0; i < e->nconns; i++) {
		tc_clear_events(e->conns[i]);
		free(e->conns[i]);
	}
	xs_store_free(e->s);
	free(e);
}

/* --- messages ---------------------------------------------------------- */

bool pop_msg(struct tconn *t, struct msg *m)
{
	size_t len;
	const uint8_t *out = xs_conn_output(t->c, &len);

	if (!len)
		return false;
	assert_true(len >= HDR_LEN);
	memcpy(&m->hdr, out, HDR_LEN);
	assert_true(m->hdr.len <= XENSTORE_PAYLOAD_MAX);
	assert_true(len >= HDR_LEN + m->hdr.len);
	memcpy(m->body, out + HDR_LEN, m->hdr.len);
	m->body[m->hdr.len] = '\0';
	xs_conn_output_done(t->c, HDR_LEN + m->hdr.len);
	return true;
}

void drop_output(struct tconn *t)
{
	size_t len;

	(void)xs_conn_output(t->c, &len);
	xs_conn_output_done(t->c, len);
}

static void stash_event(struct tconn *t, const struct msg *m)
{
	size_t plen, tlen;

	assert_int_equal(m->hdr.type, XS_WATCH_EVENT);
	assert_int_equal(m->hdr.req_id, 0);
	assert_int_equal(m->hdr.tx_id, 0);
	/* "path\0token\0" */
	plen = strlen(m->body);
	assert_true(plen + 1 < m->hdr.len);
	tlen = strlen(m->body + plen + 1);
	assert_int_equal(plen + 1 + tlen + 1, m->hdr.len);
	assert_true(t->ev_tail < MAX_EVENTS);
	t->ev_path[t->ev_tail] = strdup(m->body);
	t->ev_token[t->ev_tail] = strdup(m->body + plen + 1);
	t->ev_tail++;
}

/* Move everything queued for t (events only) into its event list. */
static void tc_drain(struct tconn *t)
{
	while (pop_msg(t, &scratch)) {
		if (scratch.hdr.type != XS_WATCH_EVENT)
			fail_msg("unexpected message type %u on dom%u",
				 scratch.hdr.type, t->domid);
		stash_event(t, &scratch);
	}
}

void feed(struct tconn *t, const void *data, size_t len)
{
	size_t room = 0;
	uint8_t *p = xs_conn_input_space(t->c, &room);

	assert_non_null(p);
	assert_true(room >= len);
	memcpy(p, data, len);
	assert_int_equal(xs_conn_input_done(t->c, len), 0);
}

void send_raw(struct tconn *t, uint32_t type, uint32_t req_id, uint32_t tx,
	      const void *data, uint32_t len)
{
	static uint8_t in[HDR_LEN + sizeof(pbuf)];
	struct xsd_sockmsg hdr = {
		.type = type, .req_id = req_id, .tx_id = tx, .len = len};

	assert_true(len <= sizeof(in) - HDR_LEN);
	memcpy(in, &hdr, HDR_LEN);
	if (len)
		memcpy(in + HDR_LEN, data, len);
	feed(t, in, HDR_LEN + len);
}

const char *request(struct tconn *t, uint32_t type, uint32_t tx,
		    const void *data, uint32_t len, struct msg *rep)
{
	uint32_t id = next_req_id++;
	unsigned int replies = 0;
	struct msg *m = rep ? rep : &scratch;
	static struct msg other;
	const char *res = NULL;

	send_raw(t, type, id, tx, data, len);
	for (;;) {
		struct msg *cur = replies ? &other : m;

		if (!pop_msg(t, cur))
			break;
		if (cur->hdr.type == XS_WATCH_EVENT) {
			stash_event(t, cur);
			continue;
		}
		replies++;
		if (replies > 1)
			fail_msg("second reply (type %u) to one request",
				 cur->hdr.type);
		assert_int_equal(cur->hdr.req_id, id);
		assert_int_equal(cur->hdr.tx_id, tx);
		if (cur->hdr.type == XS_ERROR) {
			/* "ENAME\0" */
			assert_int_equal(strlen(cur->body) + 1, cur->hdr.len);
			snprintf(last_error, sizeof(last_error), "%.31s",
				 cur->body);
			res = last_error;
		} else {
			assert_int_equal(cur->hdr.type, type);
		}
	}
	if (replies != 1)
		fail_msg("no reply to request type %u", type);
	return res;
}

static uint32_t vpack(char *out, va_list ap)
{
	uint32_t len = 0;
	const char *s;

	while ((s = va_arg(ap, const char *))) {
		size_t l = strlen(s) + 1;

		memcpy(out + len, s, l);
		len += (uint32_t)l;
	}
	return len;
}

uint32_t pack(char *out, ...)
{
	uint32_t len;
	va_list ap;

	va_start(ap, out);
	len = vpack(out, ap);
	va_end(ap);
	return len;
}

const char *opn(struct tconn *t, uint32_t type, uint32_t tx, struct msg *rep,
		...)
{
	uint32_t len;
	va_list ap;

	va_start(ap, rep);
	len = vpack(pbuf, ap);
	va_end(ap);
	return request(t, type, tx, pbuf, len, rep);
}

const char *op1(struct tconn *t, uint32_t type, uint32_t tx, const char *arg,
		struct msg *rep)
{
	return opn(t, type, tx, rep, arg, NULL);
}

/* --- operations -------------------------------------------------------- */

const char *xs_wrn(struct tconn *t, uint32_t tx, const char *path,
		   const void *val, uint32_t vlen)
{
	uint32_t len = pack(pbuf, path, NULL);

	assert_true(len + vlen <= sizeof(pbuf));
	memcpy(pbuf + len, val, vlen);
	return request(t, XS_WRITE, tx, pbuf, len + vlen, NULL);
}

const char *xs_wr(struct tconn *t, uint32_t tx, const char *path,
		  const char *val)
{
	return xs_wrn(t, tx, path, val, (uint32_t)strlen(val));
}

const char *xs_rd(struct tconn *t, uint32_t tx, const char *path,
		  struct msg *rep)
{
	return op1(t, XS_READ, tx, path, rep);
}

const char *xs_mk(struct tconn *t, uint32_t tx, const char *path)
{
	return op1(t, XS_MKDIR, tx, path, NULL);
}

const char *xs_rm(struct tconn *t, uint32_t tx, const char *path)
{
	return op1(t, XS_RM, tx, path, NULL);
}

const char *xs_dir(struct tconn *t, uint32_t tx, const char *path,
		   struct msg *rep)
{
	return op1(t, XS_DIRECTORY, tx, path, rep);
}

const char *xs_getp(struct tconn *t, uint32_t tx, const char *path,
		    struct msg *rep)
{
	return op1(t, XS_GET_PERMS, tx, path, rep);
}

uint32_t perms_wire(char *out, const char *perms)
{
	uint32_t len = (uint32_t)strlen(perms) + 1, i;

	memcpy(out, perms, len);
	for (i = 0; i < len; i++)
		if (out[i] == ',')
			out[i] = '\0';
	return len;
}

const char *xs_setp(struct tconn *t, uint32_t tx, const char *path,
		    const char *perms)
{
	uint32_t len = pack(pbuf, path, NULL);

	len += perms_wire(pbuf + len, perms);
	return request(t, XS_SET_PERMS, tx, pbuf, len, NULL);
}

const char *xs_watch(struct tconn *t, const char *path, const char *token)
{
	return opn(t, XS_WATCH, 0, NULL, path, token, NULL);
}

const char *xs_unwatch(struct tconn *t, const char *path, const char *token)
{
	return opn(t, XS_UNWATCH, 0, NULL, path, token, NULL);
}

uint32_t xs_start(struct tconn *t)
{
	struct msg *m = malloc(sizeof(*m));
	unsigned long id;
	char *end;

	assert_non_null(m);
	assert_ok(op1(t, XS_TRANSACTION_START, 0, "", m));
	/* A decimal id, NUL-terminated. */
	assert_int_equal(strlen(m->body) + 1, m->hdr.len);
	id = strtoul(m->body, &end, 10);
	assert_true(m->body[0] >= '0' && m->body[0] <= '9' && !*end);
	assert_true(id > 0 && id <= UINT32_MAX);
	free(m);
	return (uint32_t)id;
}

const char *xs_end(struct tconn *t, uint32_t tx, const char *arg)
{
	return op1(t, XS_TRANSACTION_END, tx, arg, NULL);
}

/* --- replies ----------------------------------------------------------- */

void expect_readn(struct tconn *t, uint32_t tx, const char *path,
		  const void *want, uint32_t wlen)
{
	struct msg *m = malloc(sizeof(*m));
	const char *res;

	assert_non_null(m);
	res = xs_rd(t, tx, path, m);
	if (res)
		fail_msg("read %s: %s", path, res);
	if (m->hdr.len != wlen || memcmp(m->body, want, wlen))
		fail_msg("read %s: got \"%.*s\" (%u bytes), want \"%.*s\"",
			 path, (int)m->hdr.len, m->body, m->hdr.len, (int)wlen,
			 (const char *)want);
	free(m);
}

void expect_read(struct tconn *t, uint32_t tx, const char *path,
		 const char *want)
{
	expect_readn(t, tx, path, want, (uint32_t)strlen(want));
}

void expect_body(const struct msg *m, const void *want, uint32_t len)
{
	if (m->hdr.len != len || memcmp(m->body, want, len))
		fail_msg("reply of %u bytes differs from the %u expected",
			 m->hdr.len, len);
}

void expect_reply(struct tconn *t, uint32_t type, uint32_t tx, const char *arg,
		  const void *want, uint32_t wlen)
{
	const char *res = op1(t, type, tx, arg, &scratch);

	if (res)
		fail_msg("type %u %s: %s", type, arg, res);
	if (scratch.hdr.len != wlen || memcmp(scratch.body, want, wlen))
		fail_msg("type %u %s: reply of %u bytes differs from the %u "
			 "expected",
			 type, arg, scratch.hdr.len, wlen);
}

void expect_perms(struct tconn *t, const char *path, const char *perms)
{
	char want[256];
	uint32_t len = perms_wire(want, perms);

	assert_ok(xs_getp(t, 0, path, &scratch));
	if (scratch.hdr.len != len || memcmp(scratch.body, want, len)) {
		uint32_t i;

		for (i = 0; i < scratch.hdr.len; i++)
			if (!scratch.body[i])
				scratch.body[i] = ',';
		fail_msg("perms of %s: got \"%.*s\", want \"%s\"", path,
			 (int)scratch.hdr.len, scratch.body, perms);
	}
}

/* --- events ------------------------------------------------------------ */

void discard_events(struct tconn *t)
{
	tc_drain(t);
	tc_clear_events(t);
}

void expect_event(struct tconn *t, const char *path, const char *token)
{
	tc_drain(t);
	if (t->ev_head == t->ev_tail)
		fail_msg("dom%u: no event, expected %s (%s)", t->domid, path,
			 token);
	if (strcmp(t->ev_path[t->ev_head], path) ||
	    strcmp(t->ev_token[t->ev_head], token))
		fail_msg("dom%u: event %s (%s), expected %s (%s)", t->domid,
			 t->ev_path[t->ev_head], t->ev_token[t->ev_head], path,
			 token);
	free(t->ev_path[t->ev_head]);
	free(t->ev_token[t->ev_head]);
	t->ev_head++;
}

void expect_no_event(struct tconn *t)
{
	tc_drain(t);
	if (t->ev_head != t->ev_tail)
		fail_msg("dom%u: unexpected event %s (%s)", t->domid,
			 t->ev_path[t->ev_head], t->ev_token[t->ev_head]);
	tc_clear_events(t);
}

void expect_only_event(struct tconn *t, const char *path, const char *token)
{
	expect_event(t, path, token);
	expect_no_event(t);
}

void expect_watch(struct tconn *t, const char *path, const char *token)
{
	assert_ok(xs_watch(t, path, token));
	expect_event(t, path, token);
}

unsigned int count_events(struct tconn *t)
{
	tc_drain(t);
	return t->ev_tail - t->ev_head;
}

void expect_events_unordered(struct tconn *t, ...)
{
	bool used[MAX_EVENTS] = {false};
	unsigned int n = 0, i;
	const char *path;
	va_list ap;

	tc_drain(t);
	va_start(ap, t);
	while ((path = va_arg(ap, const char *))) {
		const char *token = va_arg(ap, const char *);

		for (i = t->ev_head; i < t->ev_tail; i++)
			if (!used[i] && !strcmp(t->ev_path[i], path) &&
			    !strcmp(t->ev_token[i], token))
				break;
		if (i == t->ev_tail)
			fail_msg("dom%u: missing event %s (%s)", t->domid, path,
				 token);
		used[i] = true;
		n++;
	}
	va_end(ap);
	for (i = t->ev_head; i < t->ev_tail; i++)
		if (!used[i])
			fail_msg("dom%u: unexpected event %s (%s)", t->domid,
				 t->ev_path[i], t->ev_token[i]);
	assert_int_equal(n, t->ev_tail - t->ev_head);
	tc_clear_events(t);
}

/* --- domains ----------------------------------------------------------- */

const char *introduce(struct tconn *d0, uint32_t domid)
{
	char id[16], gfn[24], port[16];

	snprintf(id, sizeof(id), "%u", domid);
	snprintf(gfn, sizeof(gfn), "%u", 0x1000 + domid);
	snprintf(port, sizeof(port), "%u", 10 + domid);
	return opn(d0, XS_INTRODUCE, 0, NULL, id, gfn, port, NULL);
}

void add_domain(struct env *e, uint32_t domid)
{
	assert_int_equal(xs_domain_register(e->s, domid), 0);
	assert_ok(introduce(e->d0, domid));
}

struct tconn *env_guest(struct env *e, uint32_t domid)
{
	char home[64], owner[16];

	add_domain(e, domid);
	snprintf(home, sizeof(home), "/local/domain/%u", domid);
	snprintf(owner, sizeof(owner), "n%u", domid);
	assert_ok(xs_mk(e->d0, 0, home));
	assert_ok(xs_setp(e->d0, 0, home, owner));
	discard_events(e->d0);
	return tc_new(e, domid);
}
