/*
 * Xenbus frontend devices (xbdev.h).
 *
 * Both frontends walk xen/io/xenbus.h's state machine as Linux's and
 * Mini-OS's do.  Connecting: Initialising again if the backend is
 * Closed from an earlier connection; with the backend in InitWait the
 * frontend sets up its rings and an event channel unbound to the
 * backend's domain and publishes them (xbdev_fe_put() in a transaction
 * of its own), then waits for the backend's Connected.  Disconnecting is
 * Closing, then Closed once the backend is Closing; only when the
 * backend says Closed does it hold none of our pages, so only then may
 * the frontend end its grants and close the port.
 *
 * A watch on each backend's state, set at probe, is the wake-up for
 * every wait; the state is read again after each event, so an event lost
 * to another device's wait costs nothing.  Port waits sleep in
 * SCHEDOP_poll with interrupts off around the check, as xenbus.c does.
 */
#include "xbdev.h"
#include "console.h"
#include "events.h"
#include "gnttab.h"
#include "hypercall.h"
#include "lib.h"

#define NAP_NS 10000000ull

static char key_path[160];
static char value[128];

/* A decimal that fills s, 64 bits at most: 0 or -XEN_EINVAL. */
static int parse_u64(const char *s, uint64_t *out)
{
	uint64_t v = 0;

	if (!*s)
		return -XEN_EINVAL;
	for (; *s; s++) {
		if (*s < '0' || *s > '9' ||
		    v > (UINT64_MAX - (uint64_t)(*s - '0')) / 10)
			return -XEN_EINVAL;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	*out = v;
	return 0;
}

/* --- XenStore --------------------------------------------------------- */

const char *xbdev_fe_key(const struct xbdev *x, const char *key)
{
	snprintf(key_path, sizeof(key_path), "%s/%s", x->fe_path, key);
	return key_path;
}

const char *xbdev_be_key(const struct xbdev *x, const char *key)
{
	snprintf(key_path, sizeof(key_path), "%s/%s", x->be_path, key);
	return key_path;
}

int xbdev_fe_put(const struct xbdev *x, xenbus_tx_t t, const char *key,
		 unsigned long v)
{
	snprintf(value, sizeof(value), "%lu", v);
	return xenbus_write(t, xbdev_fe_key(x, key), value);
}

int xbdev_fe_read(const struct xbdev *x, const char *key, char *buf,
		  size_t size)
{
	return xenbus_read(XENBUS_TX_NONE, xbdev_fe_key(x, key), buf, size);
}

int xbdev_be_read(const struct xbdev *x, const char *key, char *buf,
		  size_t size)
{
	return xenbus_read(XENBUS_TX_NONE, xbdev_be_key(x, key), buf, size);
}

uint64_t xbdev_be_u64(const struct xbdev *x, const char *key, uint64_t dflt)
{
	uint64_t v;

	if (xbdev_be_read(x, key, value, sizeof(value)) < 0 ||
	    parse_u64(value, &v))
		return dflt;
	return v;
}

/* --- the state machine ------------------------------------------------ */

int xbdev_fe_state(const struct xbdev *x)
{
	unsigned long v = 0;

	return xenbus_read_uint(XENBUS_TX_NONE, xbdev_fe_key(x, "state"), &v)
		   ? -1
		   : (int)v;
}

int xbdev_set_state(const struct xbdev *x, enum xenbus_state s)
{
	return xbdev_fe_put(x, XENBUS_TX_NONE, "state", (unsigned long)s);
}

int xbdev_backend_state(const struct xbdev *x)
{
	uint64_t v;
	int rc = xbdev_be_read(x, "state", value, sizeof(value));

	/* A backend directory that went away is Unknown. */
	if (rc == -XEN_ENOENT)
		return XenbusStateUnknown;
	if (rc < 0)
		return rc;
	if (parse_u64(value, &v) || v > XenbusStateReconfigured)
		return -XEN_EINVAL;
	return (int)v;
}

int xbdev_wait_backend(const struct xbdev *x, unsigned int mask,
		       uint64_t timeout_ns)
{
	uint64_t now = events_time_ns(), end = now + timeout_ns;
	char path[128], token[32];
	int st, rc;

	for (;;) {
		st = xbdev_backend_state(x);
		if (st >= 0 && (mask & (1u << st)))
			return st;
		if (st < 0 && st != -XEN_EINVAL)
			return st;
		now = events_time_ns();
		if (now >= end)
			return -XEN_ETIMEDOUT;
		rc = xenbus_wait_event(path, sizeof(path), token, sizeof(token),
				       end - now);
		if (rc == -XEN_EIO)
			return rc;
	}
}

/*
 * Waits for the backend's state want or one in mask (where it has given
 * up): 0 for want, else -XEN_EIO (or -errno).
 */
static int await_state(const struct xbdev *x, enum xenbus_state want,
		       unsigned int mask, uint64_t timeout_ns)
{
	int st = xbdev_wait_backend(x, 1u << want | mask, timeout_ns);

	if (st < 0)
		return st;
	return st == (int)want ? 0 : -XEN_EIO;
}

int xbdev_await_initwait(const struct xbdev *x, uint64_t timeout_ns)
{
	int st, rc;

	st = xbdev_backend_state(x);
	if (st == XenbusStateClosed) {
		/* After a disconnect: start again. */
		rc = xbdev_set_state(x, XenbusStateInitialising);
		if (rc)
			return rc;
	}
	return await_state(x, XenbusStateInitWait, 1u << XenbusStateClosing,
			   timeout_ns);
}

int xbdev_await_connected(const struct xbdev *x, uint64_t timeout_ns)
{
	return await_state(x, XenbusStateConnected,
			   1u << XenbusStateClosing | 1u << XenbusStateClosed,
			   timeout_ns);
}

int xbdev_close(struct xbdev *x, uint64_t timeout_ns)
{
	int st, rc;

	x->connected = 0;
	rc = xbdev_set_state(x, XenbusStateClosing);
	if (rc)
		return rc;
	st = xbdev_wait_backend(x,
				1u << XenbusStateUnknown |
				    1u << XenbusStateClosing |
				    1u << XenbusStateClosed,
				timeout_ns);
	if (st < 0)
		return st;
	rc = xbdev_set_state(x, XenbusStateClosed);
	if (rc)
		return rc;
	st = xbdev_wait_backend(
	    x, 1u << XenbusStateUnknown | 1u << XenbusStateClosed, timeout_ns);
	return st < 0 ? st : 0;
}

/* --- discovery -------------------------------------------------------- */

static int xbdev_add(struct xbdev_table *t, const char *name)
{
	struct xbdev *x = t->entry(t->nr);
	uint64_t devid, backend_id;
	int rc;

	if (parse_u64(name, &devid) || devid > 0xffffffffu)
		return -XEN_EINVAL;
	memset(x, 0, sizeof(*x));
	x->devid = (unsigned int)devid;
	x->slot = t->nr;
	snprintf(x->fe_path, sizeof(x->fe_path), "device/%s/%u", t->type,
		 x->devid);
	rc = xbdev_fe_read(x, "backend", x->be_path, sizeof(x->be_path));
	if (rc < 0)
		return rc;
	if (x->be_path[0] != '/' || (size_t)rc != strlen(x->be_path))
		return -XEN_EINVAL;
	rc = xbdev_fe_read(x, "backend-id", value, sizeof(value));
	if (rc < 0 || parse_u64(value, &backend_id) ||
	    backend_id >= DOMID_FIRST_RESERVED)
		backend_id = 0;
	x->backend_id = (domid_t)backend_id;
	snprintf(x->token, sizeof(x->token), "%s-%u", t->driver, x->devid);
	rc = xenbus_watch(xbdev_be_key(x, "state"), x->token);
	if (rc < 0)
		return rc;
	t->nr++;
	return 0;
}

int xbdev_probe(struct xbdev_table *t)
{
	const char *name;
	char dir[24];
	int n, i;
	long rc;

	if (t->probed)
		return (int)t->nr;
	if (gnttab_nr_frames < GNTTAB_AREA_FRAMES) {
		rc = gnttab_init(GNTTAB_AREA_FRAMES);
		if (rc)
			return (int)rc;
	}
	snprintf(dir, sizeof(dir), "device/%s", t->type);
	n = xenbus_directory(XENBUS_TX_NONE, dir, t->list, t->list_size);
	if (n == -XEN_ENOENT)
		n = 0;
	if (n < 0)
		return n;
	for (i = 0, name = t->list; i < n && t->nr < t->max;
	     i++, name += strlen(name) + 1) {
		rc = xbdev_add(t, name);
		if (rc)
			printf("%s: %s/%s skipped (%ld)\n", t->driver, dir,
			       name, rc);
	}
	t->probed = 1;
	return (int)t->nr;
}

struct xbdev *xbdev_find(struct xbdev_table *t, unsigned int devid)
{
	unsigned int i;

	for (i = 0; i < t->nr; i++)
		if (t->entry(i)->devid == devid)
			return t->entry(i);
	return NULL;
}

/* --- the event channel ------------------------------------------------ */

int xbdev_port_alloc(struct xbdev *x)
{
	struct evtchn_alloc_unbound a = {
	    .dom = DOMID_SELF,
	    .remote_dom = x->backend_id,
	};
	struct evtchn_unmask u;
	long rc;

	rc = hyp_event_channel_op(EVTCHNOP_alloc_unbound, &a);
	if (rc)
		return (int)rc;
	x->port = a.port;
	u.port = x->port;
	return (int)hyp_event_channel_op(EVTCHNOP_unmask, &u);
}

void xbdev_port_close(struct xbdev *x)
{
	if (x->port)
		(void)ev_close(x->port);
	x->port = 0;
}

int xbdev_poll(const struct xbdev *x, int (*ready)(void *), void *arg,
	       uint64_t end)
{
	evtchn_port_t p = x->port;
	struct sched_poll poll;
	uint64_t now;
	int ok;

	for (;;) {
		irq_disable();
		ok = ready(arg);
		now = events_time_ns();
		if (ok || now >= end)
			break;
		set_xen_guest_handle(poll.ports, &p);
		poll.nr_ports = 1;
		poll.timeout = end - now > NAP_NS ? now + NAP_NS : end;
		(void)hyp_sched_op(SCHEDOP_poll, &poll);
		irq_enable();
		events_settle();
	}
	irq_enable();
	events_settle();
	return ok;
}
