/*
 * XenStore client over the ring page (xen/io/xs_wire.h).
 *
 * The page holds two byte rings of XENSTORE_RING_SIZE: we produce
 * requests into req and consume replies and watch events from rsp.  A
 * message is a struct xsd_sockmsg header and up to XENSTORE_PAYLOAD_MAX
 * bytes, so it may be larger than a ring: both directions move it in
 * pieces, waiting for the other side between them.
 *
 * Ring discipline: a producer writes the data, then publishes the new
 * index with release ordering, then notifies the port; a consumer loads
 * the other side's index with acquire ordering, copies, then publishes
 * its own index and notifies (the server may be waiting for room).  Our
 * own indexes live in private memory and are only copied to the page, so
 * a server scribbling on them cannot move us; the server's indexes are
 * read once per pass and refused if they are more than a ring away from
 * ours.  A header announcing more than XENSTORE_PAYLOAD_MAX bytes, bad
 * indexes, or the page's error field set mean the connection is dead:
 * every later call gets -XEN_EIO.
 *
 * One request is outstanding at a time, with a fresh req_id; a reply
 * whose id is not the one we wait for (the late answer to a request that
 * timed out) is dropped.  Watch events arrive between replies at any time
 * and go to a small queue.
 *
 * Waits sleep in SCHEDOP_poll on the store port with interrupts off
 * around the check of the ring: an event that lands after the check
 * keeps the port pending (the upcall cannot run), so poll returns at
 * once.  The upcall handles the port like any other once interrupts are
 * back on.
 */
#include <stdarg.h>
#include "console.h"
#include "events.h"
#include "hypercall.h"
#include "lib.h"
#include "xenbus.h"

#define HDR_SIZE sizeof(struct xsd_sockmsg)
#define NAP_NS 10000000ull
/*
 * Waiting for a watch event is what an idle guest does all day: the
 * server notifies every event it queues, so the nap that guards against
 * a lost notification can be long there, and an idle domain costs one
 * wakeup a second instead of a hundred.
 */
#define EVENT_NAP_NS 1000000000ull
#define EVENT_SLOTS 16
#define EVENT_SIZE 512

struct xb_iov {
	const void *base;
	size_t len;
};

static struct {
	struct xenstore_domain_interface *ring;
	evtchn_port_t port;
	/* Ours: the page's copies are for the server only. */
	XENSTORE_RING_IDX req_prod, rsp_cons;
	uint32_t next_id;
	/* The req_id of the outstanding request; 0 when none. */
	uint32_t want_id;
	int broken;
} xb;

/* The message being received, with room for a terminating NUL. */
static union {
	struct xsd_sockmsg hdr;
	char bytes[HDR_SIZE + XENSTORE_PAYLOAD_MAX + 1];
} rx;
static size_t rx_got;
static int rx_complete;

/* Watch events, oldest at evq_head; each "path\0token\0". */
static struct {
	uint16_t len;
	char data[EVENT_SIZE];
} evq[EVENT_SLOTS];
static unsigned int evq_head, evq_count;
unsigned int xenbus_events_dropped;

/* Scratch for requests built from pieces (set_perms, printf). */
static char scratch[XENSTORE_PAYLOAD_MAX];

static const struct {
	const char *name;
	int err;
} xb_errors[] = {
    {"EINVAL", XEN_EINVAL},
    {"EACCES", XEN_EACCES},
    {"EEXIST", XEN_EEXIST},
    {"EISDIR", XEN_EISDIR},
    {"ENOENT", XEN_ENOENT},
    {"ENOMEM", XEN_ENOMEM},
    {"ENOSPC", XEN_ENOSPC},
    {"EIO", XEN_EIO},
    {"ENOTEMPTY", XEN_ENOTEMPTY},
    {"ENOSYS", XEN_ENOSYS},
    {"EROFS", XEN_EROFS},
    {"EBUSY", XEN_EBUSY},
    {"EAGAIN", XEN_EAGAIN},
    {"EISCONN", XEN_EISCONN},
    {"E2BIG", XEN_E2BIG},
    {"EPERM", XEN_EPERM},
    /* Not in xs_wire.h's table, but what a quota error means. */
    {"EQUOTA", XEN_ENOSPC},
};

static uint32_t load_acquire(const uint32_t *p)
{
	return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

static void store_release(uint32_t *p, uint32_t v)
{
	__atomic_store_n(p, v, __ATOMIC_RELEASE);
}

static size_t min_size(size_t a, size_t b)
{
	return a < b ? a : b;
}

static int xb_break(const char *why)
{
	if (!xb.broken)
		printf("xenbus: %s; connection dropped\n", why);
	xb.broken = 1;
	return -XEN_EIO;
}

evtchn_port_t xenbus_port(void)
{
	return xb.ring ? xb.port : 0;
}

/* A producer at most one ring ahead of its consumer. */
static int xb_apart_ok(const uint32_t *prod, const uint32_t *cons)
{
	return load_acquire(prod) - load_acquire(cons) <= XENSTORE_RING_SIZE;
}

static long hvm_param(uint32_t index, uint64_t *value)
{
	struct xen_hvm_param p = {.domid = DOMID_SELF, .index = index};
	long rc = hyp_hvm_op(HVMOP_get_param, &p);

	*value = rc ? 0 : p.value;
	return rc;
}

int xenbus_init(void)
{
	struct xenstore_domain_interface *r;
	struct evtchn_unmask u;
	uint64_t pfn, port;
	long rc;

	if (xb.ring)
		return 0;
	rc = events_init();
	if (rc)
		return (int)rc;
	if (hvm_param(HVM_PARAM_STORE_PFN, &pfn) || !pfn ||
	    hvm_param(HVM_PARAM_STORE_EVTCHN, &port) || !port)
		return -XEN_ENOENT;
	/* Our page tables map the first 4 GiB; 2-level ports stop at 4096. */
	if (pfn >= (1ull << 20) || port >= 64 * 64)
		return -XEN_EINVAL;
	r = (struct xenstore_domain_interface *)(uintptr_t)(pfn << 12);
	if (!xb_apart_ok(&r->req_prod, &r->req_cons) ||
	    !xb_apart_ok(&r->rsp_prod, &r->rsp_cons) ||
	    load_acquire(&r->error) != XENSTORE_ERROR_NONE)
		return -XEN_EIO;
	xb.port = (evtchn_port_t)port;
	xb.req_prod = r->req_prod;
	xb.rsp_cons = r->rsp_cons;
	xb.broken = 0;
	u.port = xb.port;
	rc = hyp_event_channel_op(EVTCHNOP_unmask, &u);
	if (rc)
		return (int)rc;
	xb.ring = r;
	return 0;
}

/* --- the rings ------------------------------------------------------ */

/* Something for us: a reply byte, an error, or (want_space) room. */
static int xb_news(int want_space)
{
	struct xenstore_domain_interface *r = xb.ring;

	if (load_acquire(&r->error) != XENSTORE_ERROR_NONE ||
	    load_acquire(&r->rsp_prod) != xb.rsp_cons)
		return 1;
	return want_space &&
	       xb.req_prod - load_acquire(&r->req_cons) < XENSTORE_RING_SIZE;
}

/*
 * One nap of at most `nap` ns on the store port, unless there is news
 * already: 0 once the deadline has passed.
 */
static int xb_sleep(int want_space, uint64_t deadline, uint64_t nap)
{
	evtchn_port_t p = xb.port;
	struct sched_poll poll;
	uint64_t now;

	irq_disable();
	now = events_time_ns();
	if (now < deadline && !xb_news(want_space)) {
		set_xen_guest_handle(poll.ports, &p);
		poll.nr_ports = 1;
		poll.timeout = deadline - now > nap ? now + nap : deadline;
		(void)hyp_sched_op(SCHEDOP_poll, &poll);
	}
	irq_enable();
	events_settle();
	return now < deadline;
}

/* A complete watch event in rx: into the queue if it is well formed. */
static void xb_queue_event(void)
{
	const char *p = rx.bytes + HDR_SIZE;
	size_t len = rx.hdr.len, plen, tlen;
	unsigned int slot;

	plen = strnlen(p, len);
	tlen = plen < len ? strnlen(p + plen + 1, len - plen - 1) : 0;
	if (plen == 0 || plen >= len || plen + 1 + tlen >= len ||
	    len > EVENT_SIZE || evq_count == EVENT_SLOTS) {
		xenbus_events_dropped++;
		return;
	}
	slot = (evq_head + evq_count) % EVENT_SLOTS;
	memcpy(evq[slot].data, p, len);
	evq[slot].len = (uint16_t)len;
	evq_count++;
}

/*
 * Takes what the response ring holds, a message at a time: events go to
 * the queue, stale replies are dropped.  1 when the reply we wait for is
 * complete in rx, 0 when the ring is empty first, or -XEN_EIO.
 */
static int xb_pump(void)
{
	struct xenstore_domain_interface *r = xb.ring;
	XENSTORE_RING_IDX avail;
	size_t want, off, n;
	int moved = 0, rc = 0;

	if (xb.broken)
		return -XEN_EIO;
	while (!rx_complete) {
		if (load_acquire(&r->error) != XENSTORE_ERROR_NONE) {
			rc = xb_break("the server flagged the ring");
			break;
		}
		avail = load_acquire(&r->rsp_prod) - xb.rsp_cons;
		if (avail > XENSTORE_RING_SIZE) {
			rc = xb_break("bad response indexes");
			break;
		}
		if (!avail)
			break;
		want = rx_got < HDR_SIZE ? HDR_SIZE - rx_got
					 : HDR_SIZE + rx.hdr.len - rx_got;
		off = MASK_XENSTORE_IDX(xb.rsp_cons);
		n = min_size(min_size(avail, want), XENSTORE_RING_SIZE - off);
		memcpy(rx.bytes + rx_got, r->rsp + off, n);
		rx_got += n;
		xb.rsp_cons += (XENSTORE_RING_IDX)n;
		/* The copy is done before the server may reuse the bytes. */
		store_release(&r->rsp_cons, xb.rsp_cons);
		moved = 1;
		if (rx_got < HDR_SIZE)
			continue;
		/* rx.hdr is our copy: checked once, it cannot change. */
		if (rx.hdr.len > XENSTORE_PAYLOAD_MAX) {
			rc = xb_break("oversized message from the server");
			break;
		}
		if (rx_got < HDR_SIZE + rx.hdr.len)
			continue;
		rx.bytes[rx_got] = '\0';
		if (rx.hdr.type == XS_WATCH_EVENT)
			xb_queue_event();
		else if (xb.want_id && rx.hdr.req_id == xb.want_id)
			rx_complete = 1;
		if (!rx_complete)
			rx_got = 0;
	}
	if (moved)
		(void)ev_send(xb.port);
	return rc ? rc : rx_complete;
}

/* Copies len bytes into the request ring, waiting for room. */
static int xb_put(const void *data, size_t len, uint64_t deadline)
{
	struct xenstore_domain_interface *r = xb.ring;
	const char *p = data;
	XENSTORE_RING_IDX used;
	size_t off, n;
	int rc;

	while (len) {
		used = xb.req_prod - load_acquire(&r->req_cons);
		if (used > XENSTORE_RING_SIZE)
			return xb_break("bad request indexes");
		if (used == XENSTORE_RING_SIZE) {
			(void)ev_send(xb.port);
			/* Replies and events may be what holds the server. */
			rc = xb_pump();
			if (rc < 0)
				return rc;
			if (!xb_sleep(1, deadline, NAP_NS))
				return xb_break("request ring full too long");
			continue;
		}
		off = MASK_XENSTORE_IDX(xb.req_prod);
		n = min_size(min_size(len, XENSTORE_RING_SIZE - used),
			     XENSTORE_RING_SIZE - off);
		memcpy(r->req + off, p, n);
		xb.req_prod += (XENSTORE_RING_IDX)n;
		/* The bytes are in the ring before the index says so. */
		store_release(&r->req_prod, xb.req_prod);
		p += n;
		len -= n;
	}
	return 0;
}

static int xb_error_code(const char *name)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(xb_errors); i++)
		if (!strcmp(name, xb_errors[i].name))
			return -xb_errors[i].err;
	return -XEN_EIO;
}

/* The reply in rx for a request of type: its length, or an error. */
static int xb_reply(uint32_t type, char *reply, size_t size)
{
	const char *payload = rx.bytes + HDR_SIZE;
	size_t len = rx.hdr.len;

	if (rx.hdr.type == XS_ERROR)
		return xb_error_code(payload);
	if (rx.hdr.type != type)
		return -XEN_EIO;
	if (!reply)
		return (int)len;
	if (len + 1 > size)
		return -XEN_ENOBUFS;
	memcpy(reply, payload, len + 1);
	return (int)len;
}

/*
 * One request made of niov pieces, one reply: the reply's payload length,
 * or a negative errno.
 */
static int xb_talk(uint32_t type, xenbus_tx_t tx, const struct xb_iov *iov,
		   unsigned int niov, char *reply, size_t size)
{
	struct xsd_sockmsg h = {.type = type, .tx_id = tx};
	uint64_t deadline;
	size_t len = 0;
	unsigned int i;
	int rc;

	if (!xb.ring)
		return -XEN_ENOENT;
	if (xb.broken)
		return -XEN_EIO;
	for (i = 0; i < niov; i++) {
		if (iov[i].len > XENSTORE_PAYLOAD_MAX - len)
			return -XEN_E2BIG;
		len += iov[i].len;
	}
	h.len = (uint32_t)len;
	if (++xb.next_id == 0)
		xb.next_id = 1;
	h.req_id = xb.want_id = xb.next_id;
	deadline = events_time_ns() + XENBUS_TIMEOUT_NS;
	rc = xb_put(&h, sizeof(h), deadline);
	for (i = 0; !rc && i < niov; i++)
		rc = xb_put(iov[i].base, iov[i].len, deadline);
	(void)ev_send(xb.port);
	while (!rc) {
		rc = xb_pump();
		if (rc)
			break;
		if (!xb_sleep(0, deadline, NAP_NS)) {
			rc = xb_pump();
			if (!rc)
				rc = -XEN_ETIMEDOUT;
		}
	}
	xb.want_id = 0;
	if (rc < 0)
		return rc;
	rc = xb_reply(type, reply, size);
	rx_complete = 0;
	rx_got = 0;
	return rc;
}

/* Checks path and makes it the first piece (with its NUL). */
static int xb_path(struct xb_iov *iov, const char *path)
{
	size_t len;

	if (!path)
		return -XEN_EINVAL;
	len = strnlen(path, XENSTORE_ABS_PATH_MAX + 1);
	if (len == 0 || len > XENSTORE_ABS_PATH_MAX)
		return -XEN_EINVAL;
	iov->base = path;
	iov->len = len + 1;
	return 0;
}

/* A request whose payload is path\0: the reply length or an error. */
static int xb_path_op(uint32_t type, xenbus_tx_t tx, const char *path,
		      char *reply, size_t size)
{
	struct xb_iov iov;
	int rc = xb_path(&iov, path);

	return rc ? rc : xb_talk(type, tx, &iov, 1, reply, size);
}

static int xb_ok(int rc)
{
	return rc < 0 ? rc : 0;
}

/* A decimal number that fills s and fits 32 bits: 0, or -XEN_EINVAL. */
static int xb_parse_u32(const char *s, unsigned long *val)
{
	unsigned long v = 0;

	if (!*s)
		return -XEN_EINVAL;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -XEN_EINVAL;
		v = v * 10 + (unsigned long)(*s - '0');
		if (v > 0xffffffffu)
			return -XEN_EINVAL;
	}
	*val = v;
	return 0;
}

/* --- the API -------------------------------------------------------- */

int xenbus_request(uint32_t type, xenbus_tx_t tx, const void *payload,
		   size_t len, char *reply, size_t size)
{
	struct xb_iov iov = {payload, len};

	return xb_talk(type, tx, &iov, 1, reply, size);
}

int xenbus_read(xenbus_tx_t tx, const char *path, char *buf, size_t size)
{
	return xb_path_op(XS_READ, tx, path, buf, size);
}

int xenbus_read_uint(xenbus_tx_t tx, const char *path, unsigned long *val)
{
	char buf[24];
	int rc = xenbus_read(tx, path, buf, sizeof(buf));

	if (rc == -XEN_ENOBUFS)
		return -XEN_EINVAL;
	if (rc < 0)
		return rc;
	if ((size_t)rc != strlen(buf))
		return -XEN_EINVAL;
	return xb_parse_u32(buf, val);
}

int xenbus_write_bytes(xenbus_tx_t tx, const char *path, const void *value,
		       size_t len)
{
	struct xb_iov iov[2];
	int rc = xb_path(&iov[0], path);

	if (rc)
		return rc;
	iov[1].base = value;
	iov[1].len = len;
	return xb_ok(xb_talk(XS_WRITE, tx, iov, 2, NULL, 0));
}

int xenbus_write(xenbus_tx_t tx, const char *path, const char *value)
{
	if (!value)
		return -XEN_EINVAL;
	return xenbus_write_bytes(tx, path, value,
				  strnlen(value, XENSTORE_PAYLOAD_MAX + 1));
}

int xenbus_printf(xenbus_tx_t tx, const char *path, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(scratch, sizeof(scratch), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(scratch))
		return -XEN_E2BIG;
	return xenbus_write_bytes(tx, path, scratch, (size_t)n);
}

int xenbus_mkdir(xenbus_tx_t tx, const char *path)
{
	return xb_ok(xb_path_op(XS_MKDIR, tx, path, NULL, 0));
}

int xenbus_rm(xenbus_tx_t tx, const char *path)
{
	return xb_ok(xb_path_op(XS_RM, tx, path, NULL, 0));
}

int xenbus_directory(xenbus_tx_t tx, const char *path, char *buf, size_t size)
{
	int len = xb_path_op(XS_DIRECTORY, tx, path, buf, size);
	int i, count = 0;

	if (len < 0)
		return len;
	/* Each name ends in a NUL; a last one without gets ours. */
	for (i = 0; i < len; i++)
		if (!buf[i])
			count++;
	if (len > 0 && buf[len - 1])
		count++;
	return count;
}

int xenbus_get_perms(xenbus_tx_t tx, const char *path,
		     struct xenbus_perm *perms, unsigned int max)
{
	int len = xb_path_op(XS_GET_PERMS, tx, path, scratch, sizeof(scratch));
	const char *p = scratch, *end;
	unsigned long domid;
	unsigned int n = 0;

	if (len < 0)
		return len;
	end = scratch + len;
	while (p < end) {
		size_t l = strlen(p);

		if (l < 2 ||
		    (p[0] != 'n' && p[0] != 'r' && p[0] != 'w' &&
		     p[0] != 'b') ||
		    xb_parse_u32(p + 1, &domid) || domid > 0xffff)
			return -XEN_EIO;
		if (n == max)
			return -XEN_ENOBUFS;
		perms[n].access = p[0];
		perms[n].domid = (uint32_t)domid;
		n++;
		p += l + 1;
	}
	return n ? (int)n : -XEN_EIO;
}

int xenbus_set_perms(xenbus_tx_t tx, const char *path,
		     const struct xenbus_perm *perms, unsigned int n)
{
	struct xb_iov iov[2];
	size_t used = 0;
	unsigned int i;
	int rc = xb_path(&iov[0], path), w;

	if (rc)
		return rc;
	for (i = 0; i < n; i++) {
		/* snprintf's own NUL separates the entries. */
		w = snprintf(scratch + used, sizeof(scratch) - used, "%c%u",
			     perms[i].access, perms[i].domid);
		if (w < 0 || (size_t)w + 1 > sizeof(scratch) - used)
			return -XEN_E2BIG;
		used += (size_t)w + 1;
	}
	iov[1].base = scratch;
	iov[1].len = used;
	return xb_ok(xb_talk(XS_SET_PERMS, tx, iov, 2, NULL, 0));
}

int xenbus_get_domain_path(unsigned int domid, char *buf, size_t size)
{
	char id[16];
	int n = snprintf(id, sizeof(id), "%u", domid);

	n = xenbus_request(XS_GET_DOMAIN_PATH, XENBUS_TX_NONE, id,
			   (size_t)n + 1, buf, size);
	return n < 0 ? n : (int)strlen(buf);
}

static int xb_watch_op(uint32_t type, const char *path, const char *token)
{
	struct xb_iov iov[2];
	int rc = xb_path(&iov[0], path);
	size_t len;

	if (rc)
		return rc;
	if (!token)
		return -XEN_EINVAL;
	len = strnlen(token, XENSTORE_PAYLOAD_MAX);
	iov[1].base = token;
	iov[1].len = len + 1;
	return xb_ok(xb_talk(type, XENBUS_TX_NONE, iov, 2, NULL, 0));
}

int xenbus_watch(const char *path, const char *token)
{
	return xb_watch_op(XS_WATCH, path, token);
}

/* The token of queued event i (counted from the oldest). */
static const char *xb_event_token(unsigned int i)
{
	const char *d = evq[(evq_head + i) % EVENT_SLOTS].data;

	return d + strlen(d) + 1;
}

int xenbus_unwatch(const char *path, const char *token)
{
	unsigned int i, kept = 0;
	int rc = xb_watch_op(XS_UNWATCH, path, token);

	if (rc)
		return rc;
	/* Keep the others' events in order, in place. */
	for (i = 0; i < evq_count; i++) {
		unsigned int from = (evq_head + i) % EVENT_SLOTS;
		unsigned int to = (evq_head + kept) % EVENT_SLOTS;

		if (!strcmp(xb_event_token(i), token))
			continue;
		if (from != to)
			evq[to] = evq[from];
		kept++;
	}
	evq_count = kept;
	return 0;
}

int xenbus_wait_event(char *path, size_t path_size, char *token,
		      size_t token_size, uint64_t timeout_ns)
{
	uint64_t deadline;
	const char *p, *t;
	size_t plen, tlen;
	int rc;

	if (!xb.ring)
		return -XEN_ENOENT;
	deadline = events_time_ns() + timeout_ns;
	while (!evq_count) {
		if (xb.broken)
			return -XEN_EIO;
		rc = xb_pump();
		if (rc < 0)
			return rc;
		if (!evq_count && !xb_sleep(0, deadline, EVENT_NAP_NS)) {
			rc = xb_pump();
			if (rc < 0)
				return rc;
			if (!evq_count)
				return -XEN_ETIMEDOUT;
		}
	}
	p = evq[evq_head].data;
	plen = strlen(p);
	t = p + plen + 1;
	tlen = strlen(t);
	evq_head = (evq_head + 1) % EVENT_SLOTS;
	evq_count--;
	if (plen + 1 > path_size || tlen + 1 > token_size)
		return -XEN_ENOBUFS;
	memcpy(path, p, plen + 1);
	memcpy(token, t, tlen + 1);
	return 0;
}

int xenbus_transaction_start(xenbus_tx_t *tx)
{
	char buf[16];
	unsigned long id;
	int rc = xenbus_request(XS_TRANSACTION_START, XENBUS_TX_NONE, "", 1,
				buf, sizeof(buf));

	if (rc < 0)
		return rc == -XEN_ENOBUFS ? -XEN_EIO : rc;
	if (xb_parse_u32(buf, &id) || id == XENBUS_TX_NONE)
		return -XEN_EIO;
	*tx = (xenbus_tx_t)id;
	return 0;
}

int xenbus_transaction_end(xenbus_tx_t tx, int commit)
{
	return xb_ok(xenbus_request(XS_TRANSACTION_END, tx, commit ? "T" : "F",
				    2, NULL, 0));
}
