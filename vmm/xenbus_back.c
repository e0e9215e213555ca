/* SPDX-License-Identifier: MIT */
/*
 * The xenbus backend state machine (xenbus_back.h).  One libxenstore
 * handle (the domain's, xs_domain.c) carries our writes and the watch
 * events; its fd is a source of the event loop.  Each device watches its
 * frontend's `state` node with its own token; every event re-reads the
 * state (watch events only say "look") and steps the machine.
 *
 * Below it, what every device type's glue needs: the kick eventfd its
 * frontend's sends write, dom0's ends of the event channels bound to it,
 * and the put() callback through which an engine writes its keys.
 */
#include "xenbus_back.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <json-c/json.h>
#include <xenstore.h>

#include "domain.h"
#include "log.h"

#define XENBUS_TXN_TRIES 10

static struct log_ratelimit xenbus_rl = LOG_RATELIMIT_INIT;

static const char *xenbus_state_name(unsigned int s)
{
	static const char *const names[] = {
		"Unknown",   "Initialising", "InitWait", "Initialised",
		"Connected", "Closing",	     "Closed",	 "Reconfiguring",
		"Reconfigured",
	};

	return s < sizeof(names) / sizeof(names[0]) ? names[s] : "bad";
}

static struct xs_handle *xenbus_xsh(struct xenbus_dev *dev)
{
	return dev->d->xs.xsh;
}

int xenbus_dev_read(struct xenbus_dev *dev, const char *key, char *buf,
		    size_t size)
{
	char path[160];
	unsigned int len;
	char *v;

	snprintf(path, sizeof(path), "%s/%s", dev->fe_path, key);
	v = xs_read(xenbus_xsh(dev), XBT_NULL, path, &len);
	if (!v)
		return -ENOENT;
	/* The guest wrote it: bounded, and a string. */
	if (len >= size) {
		free(v);
		return -E2BIG;
	}
	memcpy(buf, v, len);
	buf[len] = '\0';
	free(v);
	return 0;
}

int xenbus_dev_read_uint(struct xenbus_dev *dev, const char *key,
			 uint64_t max, uint64_t *out)
{
	char buf[32], *end;
	uint64_t v;
	int rc;

	rc = xenbus_dev_read(dev, key, buf, sizeof(buf));
	if (rc < 0)
		return rc;
	if (buf[0] < '0' || buf[0] > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(buf, &end, 10);
	if (errno || *end || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

int xenbus_dev_write(struct xenbus_dev *dev, const char *key,
		     const char *value)
{
	char path[160];

	snprintf(path, sizeof(path), "%s/%s", dev->be_path, key);
	if (!xs_write(xenbus_xsh(dev), XBT_NULL, path, value,
		      (unsigned int)strlen(value)))
		return -errno;
	return 0;
}

void xenbus_dev_put(void *ctx, const char *key, const char *value)
{
	struct xenbus_dev *dev = ctx;

	if (xenbus_dev_write(dev, key, value) < 0)
		log_warn("%s: %s: writing %s", dev->ops->type, dev->be_path,
			 key);
}

int xenbus_dev_read_port(struct xenbus_dev *dev, const char *key,
			 uint32_t *port)
{
	uint64_t v;
	int rc;

	rc = xenbus_dev_read_uint(dev, key, EVTCHN_MAX - 1, &v);
	if (rc < 0)
		return rc;
	*port = (uint32_t)v;
	return 0;
}

static void xenbus_kicked(struct domain *d, struct loop_source *s)
{
	struct xenbus_kick *k = s->arg;
	uint64_t n;

	(void)d;
	if (read(k->fd, &n, sizeof(n)) == sizeof(n))
		k->fn(k->arg);
}

void xenbus_kick_clear(struct xenbus_kick *k)
{
	*k = (struct xenbus_kick){.fd = -1};
}

int xenbus_kick_open(struct xenbus_kick *k, struct domain *d,
		     xenbus_kick_fn *fn, void *arg)
{
	int rc;

	*k = (struct xenbus_kick){.d = d, .fd = -1, .fn = fn, .arg = arg};
	k->fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (k->fd < 0)
		return -errno;
	k->src = (struct loop_source){k->fd, xenbus_kicked, k};
	rc = loop_add(&d->loop, &k->src);
	if (rc < 0) {
		xenbus_kick_close(k);
		return rc;
	}
	k->added = true;
	return 0;
}

void xenbus_kick_close(struct xenbus_kick *k)
{
	if (k->added)
		loop_del(&k->d->loop, &k->src);
	if (k->fd >= 0)
		close(k->fd);
	k->added = false;
	k->fd = -1;
}

int xenbus_port_bind(struct xenbus_port *p, struct xenbus_kick *k,
		     uint32_t port)
{
	int rc = evtchn_backend_bind(k->d, port, k->fd);

	if (rc < 0)
		return rc;
	p->d = k->d;
	p->dport = (uint32_t)rc;
	return 0;
}

void xenbus_port_notify(const struct xenbus_port *p)
{
	if (p->dport)
		evtchn_backend_notify(p->d, p->dport);
}

void xenbus_port_unbind(struct xenbus_port *p)
{
	if (p->dport)
		evtchn_backend_unbind(p->d, p->dport);
	p->dport = 0;
}

static void xenbus_set_state(struct xenbus_dev *dev, enum xenbus_state s)
{
	char v[4];

	snprintf(v, sizeof(v), "%u", (unsigned int)s);
	if (xenbus_dev_write(dev, "state", v) < 0)
		log_warn("xenbus: %s: setting state %s", dev->be_path,
			 xenbus_state_name(s));
	dev->be_state = s;
}

/* The frontend's state, or Unknown (node gone, garbage). */
static enum xenbus_state xenbus_fe_state(struct xenbus_dev *dev)
{
	uint64_t v;

	if (xenbus_dev_read_uint(dev, "state", XenbusStateReconfigured, &v) < 0)
		return XenbusStateUnknown;
	return (enum xenbus_state)v;
}

static void xenbus_disconnect(struct xenbus_dev *dev)
{
	if (dev->connected) {
		dev->connected = false;
		if (dev->ops->disconnect(dev) == -EINPROGRESS)
			dev->draining = true;
	}
}

void xenbus_dev_fail(struct xenbus_dev *dev, int rc, const char *what)
{
	char msg[96];

	snprintf(msg, sizeof(msg), "%d %s", -rc, what);
	log_warnx_rl(&xenbus_rl, "xenbus: %s: %s", dev->be_path, msg);
	if (xenbus_dev_write(dev, "error", msg) < 0)
		log_warn("xenbus: %s: writing its error", dev->be_path);
	xenbus_disconnect(dev);
	xenbus_set_state(dev, XenbusStateClosing);
}

static void xenbus_reap_kick(struct xenbus_back *xb)
{
	uint64_t one = 1;

	if (write(xb->reap_fd, &one, sizeof(one)) < 0)
		log_warn("xenbus: waking the reaper");
}

/*
 * A detached device whose backend reached Closed with no I/O left is
 * freed by the reaper, not here: we may be deep in its own callbacks.
 */
static void xenbus_removal_check(struct xenbus_dev *dev)
{
	if (dev->removing && !dev->remove_ready && !dev->draining &&
	    dev->be_state == XenbusStateClosed) {
		dev->remove_ready = true;
		xenbus_reap_kick(&dev->d->xenbus);
	}
}

/* One step of the machine for the frontend's current state. */
static void xenbus_step(struct xenbus_dev *dev)
{
	enum xenbus_state fe = xenbus_fe_state(dev);
	int rc;

	switch (fe) {
	case XenbusStateInitialised:
	case XenbusStateConnected:
		if (dev->be_state != XenbusStateInitWait)
			break;
		rc = dev->ops->connect(dev);
		if (rc < 0) {
			xenbus_dev_fail(dev, rc, "connecting to the frontend");
			break;
		}
		dev->connected = true;
		/* An error of an earlier connection is history now. */
		{
			char path[160];

			snprintf(path, sizeof(path), "%s/error", dev->be_path);
			(void)xs_rm(xenbus_xsh(dev), XBT_NULL, path);
		}
		xenbus_set_state(dev, XenbusStateConnected);
		break;
	case XenbusStateClosing:
		if (dev->be_state != XenbusStateClosing &&
		    dev->be_state != XenbusStateClosed)
			xenbus_set_state(dev, XenbusStateClosing);
		break;
	case XenbusStateClosed:
	case XenbusStateUnknown:
		xenbus_disconnect(dev);
		/* Closed only once no I/O can touch the guest's pages. */
		if (!dev->draining && dev->be_state != XenbusStateClosed)
			xenbus_set_state(dev, XenbusStateClosed);
		break;
	case XenbusStateInitialising:
		/* A frontend starting again after a close: reconnect. */
		if (dev->be_state == XenbusStateClosed && !dev->draining &&
		    !dev->removing) {
			xenbus_disconnect(dev);
			xenbus_set_state(dev, XenbusStateInitWait);
		}
		break;
	default:
		break;
	}
	xenbus_removal_check(dev);
}

void xenbus_dev_disconnected(struct xenbus_dev *dev)
{
	dev->draining = false;
	xenbus_step(dev);
}

static void xenbus_watch_fired(struct domain *d, struct loop_source *s)
{
	struct xenbus_back *xb = s->arg;
	unsigned int i;
	char **ev;

	pthread_mutex_lock(&xb->lock);
	while ((ev = xs_check_watch(d->xs.xsh))) {
		for (i = 0; i < xb->nr_devs; i++)
			if (!strcmp(ev[XS_WATCH_TOKEN], xb->devs[i]->token))
				xenbus_step(xb->devs[i]);
		free(ev);
	}
	pthread_mutex_unlock(&xb->lock);
}

/* Takes the lock; devices go only on the loop thread, the caller's. */
static struct xenbus_dev *xenbus_dev_find(struct xenbus_back *xb,
					  const char *type, unsigned int devid)
{
	struct xenbus_dev *dev = NULL;
	unsigned int i;

	pthread_mutex_lock(&xb->lock);
	for (i = 0; i < xb->nr_devs; i++)
		if (xb->devs[i]->devid == devid &&
		    !strcmp(xb->devs[i]->ops->type, type))
			dev = xb->devs[i];
	pthread_mutex_unlock(&xb->lock);
	return dev;
}

/*
 * Both directories of one device; backend/<type>/<domid> too once it is
 * empty, as libxl cleans up a path.
 */
static void xenbus_rm_dirs(struct xenbus_dev *dev)
{
	struct xs_handle *h = xenbus_xsh(dev);
	unsigned int num = 1;
	char parent[96];
	char **ents;

	(void)xs_rm(h, XBT_NULL, dev->fe_path);
	(void)xs_rm(h, XBT_NULL, dev->be_path);
	snprintf(parent, sizeof(parent), "/local/domain/0/backend/%s/%u",
		 dev->ops->type, dev->d->xen.domid);
	ents = xs_directory(h, XBT_NULL, parent, &num);
	if (ents && num == 0)
		(void)xs_rm(h, XBT_NULL, parent);
	free(ents);
}

static void xenbus_remove_timer_close(struct xenbus_dev *dev)
{
	if (dev->remove_timer_fd < 0)
		return;
	loop_del(&dev->d->loop, &dev->remove_src);
	close(dev->remove_timer_fd);
	dev->remove_timer_fd = -1;
}

/* Writes keys[] under dir in transaction t. */
static bool xenbus_write_kv(struct xs_handle *h, xs_transaction_t t,
			    const char *dir, const struct xenbus_kv *keys)
{
	char path[160];

	for (; keys && keys->key; keys++) {
		snprintf(path, sizeof(path), "%s/%s", dir, keys->key);
		if (!xs_write(h, t, path, keys->value,
			      (unsigned int)strlen(keys->value)))
			return false;
	}
	return true;
}

/*
 * The toolstack's part, as libxl writes it: the frontend directory is the
 * guest's (dom0 reads it), the backend directory dom0's (the guest reads
 * it); each names the other.
 */
static int xenbus_write_dirs(struct xenbus_dev *dev, bool with_fe,
			     const struct xenbus_kv *fe_keys,
			     const struct xenbus_kv *be_keys,
			     enum xenbus_state be_state)
{
	unsigned int domid = dev->d->xen.domid;
	struct xs_permissions fe_perms[2] = {
		{.id = domid, .perms = XS_PERM_NONE},
		{.id = 0, .perms = XS_PERM_READ},
	};
	struct xs_permissions be_perms[2] = {
		{.id = 0, .perms = XS_PERM_NONE},
		{.id = domid, .perms = XS_PERM_READ},
	};
	struct xs_handle *h = xenbus_xsh(dev);
	char id[16], devid[16], state[4], bstate[4];
	xs_transaction_t t;
	int tries;

	snprintf(id, sizeof(id), "%u", domid);
	snprintf(devid, sizeof(devid), "%u", dev->devid);
	snprintf(state, sizeof(state), "%u", XenbusStateInitialising);
	snprintf(bstate, sizeof(bstate), "%u", (unsigned int)be_state);
	{
		const struct xenbus_kv fe[] = {
			{"backend", dev->be_path}, {"backend-id", "0"},
			{"state", state},	   {"virtual-device", devid},
			{NULL, NULL},
		};
		const struct xenbus_kv be[] = {
			{"frontend", dev->fe_path}, {"frontend-id", id},
			{"online", "1"},	    {"state", bstate},
			{NULL, NULL},
		};

		for (tries = 0; tries < XENBUS_TXN_TRIES; tries++) {
			t = xs_transaction_start(h);
			if (t == XBT_NULL)
				break;
			/* A restored frontend's directory is the guest's. */
			if ((with_fe &&
			     (!xs_write(h, t, dev->fe_path, "", 0) ||
			      !xs_set_permissions(h, t, dev->fe_path, fe_perms,
						  2) ||
			      !xenbus_write_kv(h, t, dev->fe_path, fe) ||
			      !xenbus_write_kv(h, t, dev->fe_path, fe_keys))) ||
			    !xs_write(h, t, dev->be_path, "", 0) ||
			    !xs_set_permissions(h, t, dev->be_path, be_perms,
						2) ||
			    !xenbus_write_kv(h, t, dev->be_path, be) ||
			    !xenbus_write_kv(h, t, dev->be_path, be_keys)) {
				(void)xs_transaction_end(h, t, true);
				break;
			}
			if (xs_transaction_end(h, t, false))
				return 0;
			if (errno != EAGAIN)
				break;
		}
	}
	log_err("xenbus: writing %s and %s", dev->fe_path, dev->be_path);
	return -EIO;
}

static int xenbus_back_watching(struct domain *d)
{
	struct xenbus_back *xb = &d->xenbus;

	if (xb->watching)
		return 0;
	xb->watch_src = (struct loop_source){xs_fileno(d->xs.xsh),
					     xenbus_watch_fired, xb};
	if (xb->watch_src.fd < 0 || loop_add(&d->loop, &xb->watch_src) < 0)
		return -EIO;
	xb->watching = true;
	return 0;
}

/* A new device's record, not listed yet: NULL and -errno in *rc. */
static struct xenbus_dev *xenbus_dev_new(struct domain *d,
					 const struct xenbus_dev_ops *ops,
					 unsigned int devid, void *priv, int *rc)
{
	struct xenbus_back *xb = &d->xenbus;
	struct xenbus_dev *dev;

	*rc = 0;
	if (!d->xs.xsh) {
		log_errx("xenbus: %s devices need --xenstore", ops->type);
		*rc = -ENOTCONN;
		return NULL;
	}
	if (xb->nr_devs == XENBUS_MAX_DEVS) {
		*rc = -ENOSPC;
		return NULL;
	}
	if (xenbus_dev_exists(d, ops->type, devid)) {
		log_errx("xenbus: %s %u exists already", ops->type, devid);
		*rc = -EEXIST;
		return NULL;
	}
	dev = calloc(1, sizeof(*dev));
	if (!dev) {
		*rc = -ENOMEM;
		return NULL;
	}
	dev->d = d;
	dev->ops = ops;
	dev->priv = priv;
	dev->devid = devid;
	dev->remove_timer_fd = -1;
	snprintf(dev->fe_path, sizeof(dev->fe_path),
		 "/local/domain/%u/device/%s/%u", d->xen.domid, ops->type,
		 devid);
	snprintf(dev->be_path, sizeof(dev->be_path),
		 "/local/domain/0/backend/%s/%u/%u", ops->type, d->xen.domid,
		 devid);
	snprintf(dev->token, sizeof(dev->token), "xb-%s-%u", ops->type,
		 devid);
	dev->be_state = XenbusStateInitialising;
	return dev;
}

static int xenbus_dev_watch(struct domain *d, struct xenbus_dev *dev);

int xenbus_dev_add(struct domain *d, const struct xenbus_dev_ops *ops,
		   unsigned int devid, void *priv,
		   const struct xenbus_kv *fe_keys,
		   const struct xenbus_kv *be_keys)
{
	struct xenbus_dev *dev;
	int rc;

	dev = xenbus_dev_new(d, ops, devid, priv, &rc);
	if (!dev)
		return rc;
	rc = xenbus_write_dirs(dev, true, fe_keys, be_keys,
			       XenbusStateInitialising);
	if (rc == 0)
		rc = ops->features(dev);
	if (rc == 0)
		rc = xenbus_back_watching(d);
	if (rc < 0) {
		free(dev);
		return rc;
	}
	xenbus_set_state(dev, XenbusStateInitWait);
	return xenbus_dev_watch(d, dev);
}

/* Watches the frontend's state and lists dev; frees it on failure. */
static int xenbus_dev_watch(struct domain *d, struct xenbus_dev *dev)
{
	struct xenbus_back *xb = &d->xenbus;
	const struct xenbus_dev_ops *ops = dev->ops;
	char path[160];

	snprintf(path, sizeof(path), "%s/state", dev->fe_path);
	/*
	 * The watch fires once at once: the first step reads the state.
	 * Listed under the lock taken first, so that the loop thread finds
	 * the device when it handles that event.
	 */
	pthread_mutex_lock(&xb->lock);
	if (!xs_watch(d->xs.xsh, path, dev->token)) {
		pthread_mutex_unlock(&xb->lock);
		log_err("xenbus: watching %s", path);
		xenbus_rm_dirs(dev);
		free(dev);
		return -EIO;
	}
	xb->devs[xb->nr_devs++] = dev;
	pthread_mutex_unlock(&xb->lock);
	log_info("xenbus: %s %u: %s", ops->type, dev->devid, dev->be_path);
	return 0;
}

int xenbus_dev_restore(struct domain *d, const struct xenbus_dev_ops *ops,
		       unsigned int devid, void *priv,
		       const struct xenbus_kv *be_keys, json_object *rec)
{
	enum xenbus_state st = XenbusStateInitWait;
	struct xenbus_dev *dev;
	json_object *v;
	int64_t n;
	int rc;

	if (json_object_object_get_ex(rec, "state", &v) &&
	    json_object_is_type(v, json_type_int)) {
		n = json_object_get_int64(v);
		if (n >= XenbusStateInitWait && n <= XenbusStateClosed &&
		    n != XenbusStateInitialised)
			st = (enum xenbus_state)n;
	}
	if (!ops->restore) {
		log_errx("xenbus: restoring a domain with %s devices is not "
			 "supported yet",
			 ops->type);
		return -EOPNOTSUPP;
	}
	dev = xenbus_dev_new(d, ops, devid, priv, &rc);
	if (!dev)
		return rc;
	/*
	 * The backend's directory as it was; its feature keys written
	 * before the state, as at the first connection.
	 */
	rc = xenbus_write_dirs(dev, false, NULL, be_keys,
			       XenbusStateInitialising);
	if (rc == 0)
		rc = ops->features(dev);
	if (rc == 0 && st == XenbusStateConnected) {
		rc = ops->restore(dev, rec);
		if (rc < 0)
			log_errx("xenbus: %s %u: its saved ring cannot be "
				 "taken up: %s",
				 ops->type, devid, strerror(-rc));
		else
			dev->connected = true;
	}
	if (rc == 0)
		rc = xenbus_back_watching(d);
	if (rc < 0) {
		if (dev->connected)
			(void)ops->disconnect(dev);
		free(dev);
		return rc;
	}
	xenbus_set_state(dev, st);
	return xenbus_dev_watch(d, dev);
}

bool xenbus_dev_exists(struct domain *d, const char *type,
		       unsigned int devid)
{
	return xenbus_dev_find(&d->xenbus, type, devid) != NULL;
}

/* Frees a removed device (the reaper); its done() last. */
static void xenbus_dev_finish(struct domain *d, struct xenbus_dev *dev)
{
	xenbus_removed_fn *done = dev->removed;
	void *arg = dev->removed_arg;
	bool forced = dev->remove_forced;
	char path[160];

	snprintf(path, sizeof(path), "%s/state", dev->fe_path);
	(void)xs_unwatch(d->xs.xsh, path, dev->token);
	xenbus_remove_timer_close(dev);
	/* Forced: the engine stops here, and waits for what is in flight. */
	xenbus_disconnect(dev);
	xenbus_rm_dirs(dev);
	log_info("xenbus: %s %u removed%s", dev->ops->type, dev->devid,
		 forced ? " (forced)" : "");
	dev->ops->destroy(dev);
	free(dev);
	done(arg, forced);
}

static void xenbus_reap(struct domain *d, struct loop_source *s)
{
	struct xenbus_back *xb = s->arg;
	struct xenbus_dev *dev;
	unsigned int i;
	uint64_t n;

	if (read(xb->reap_fd, &n, sizeof(n)) < 0)
		return;
	for (;;) {
		dev = NULL;
		pthread_mutex_lock(&xb->lock);
		for (i = 0; i < xb->nr_devs; i++) {
			if (xb->devs[i]->remove_ready) {
				dev = xb->devs[i];
				memmove(&xb->devs[i], &xb->devs[i + 1],
					(xb->nr_devs - i - 1) *
						sizeof(xb->devs[0]));
				xb->devs[--xb->nr_devs] = NULL;
				break;
			}
		}
		pthread_mutex_unlock(&xb->lock);
		if (!dev)
			break;
		xenbus_dev_finish(d, dev);
	}
}

/* The frontend had its time to close: it goes anyway. */
static void xenbus_remove_timeout(struct domain *d, struct loop_source *s)
{
	struct xenbus_dev *dev = s->arg;
	uint64_t n;

	(void)d;
	if (read(dev->remove_timer_fd, &n, sizeof(n)) < 0 ||
	    dev->remove_ready)
		return;
	log_warnx("xenbus: %s: the frontend did not close; removing the "
		  "device anyway",
		  dev->be_path);
	dev->remove_forced = true;
	dev->remove_ready = true;
	xenbus_reap_kick(&d->xenbus);
}

static int xenbus_reaper_open(struct domain *d)
{
	struct xenbus_back *xb = &d->xenbus;

	if (xb->reap_fd >= 0)
		return 0;
	xb->reap_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (xb->reap_fd < 0)
		return -errno;
	xb->reap_src = (struct loop_source){xb->reap_fd, xenbus_reap, xb};
	if (loop_add(&d->loop, &xb->reap_src) < 0) {
		close(xb->reap_fd);
		xb->reap_fd = -1;
		return -EIO;
	}
	return 0;
}

static int xenbus_remove_timer_open(struct xenbus_dev *dev,
				    unsigned int timeout_ms)
{
	struct itimerspec its = {
		.it_value = {.tv_sec = timeout_ms / 1000,
			     .tv_nsec = (long)(timeout_ms % 1000) * 1000000L},
	};
	int rc;

	dev->remove_timer_fd =
		timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (dev->remove_timer_fd < 0)
		return -errno;
	dev->remove_src = (struct loop_source){dev->remove_timer_fd,
					       xenbus_remove_timeout, dev};
	if (timerfd_settime(dev->remove_timer_fd, 0, &its, NULL) < 0)
		rc = -errno;
	else
		rc = loop_add(&dev->d->loop, &dev->remove_src);
	if (rc < 0) {
		close(dev->remove_timer_fd);
		dev->remove_timer_fd = -1;
	}
	return rc;
}

int xenbus_dev_remove(struct domain *d, const char *type, unsigned int devid,
		      unsigned int timeout_ms, xenbus_removed_fn *done,
		      void *arg)
{
	struct xenbus_dev *dev = xenbus_dev_find(&d->xenbus, type, devid);
	int rc;

	if (!dev)
		return -ENOENT;
	if (dev->removing)
		return -EBUSY;
	rc = xenbus_reaper_open(d);
	if (rc < 0)
		return rc;
	dev->removed = done;
	dev->removed_arg = arg;
	if (timeout_ms == 0) {
		/* A forced detach: the frontend is not asked. */
		dev->removing = true;
		dev->remove_forced = true;
		dev->remove_ready = true;
		xenbus_reap_kick(&d->xenbus);
		return 0;
	}
	rc = xenbus_remove_timer_open(dev, timeout_ms);
	if (rc < 0)
		return rc;
	dev->removing = true;
	log_info("xenbus: %s: detaching", dev->be_path);
	/* As libxl: offline, then Closing unless Closed already. */
	if (xenbus_dev_write(dev, "online", "0") < 0)
		log_warn("xenbus: %s: writing online", dev->be_path);
	if (dev->be_state != XenbusStateClosed)
		xenbus_set_state(dev, XenbusStateClosing);
	/* A frontend that is closed already (or gone) is not waited for. */
	xenbus_step(dev);
	return 0;
}

void xenbus_back_init(struct xenbus_back *xb)
{
	memset(xb, 0, sizeof(*xb));
	pthread_mutex_init(&xb->lock, NULL);
	xb->reap_fd = -1;
}

void xenbus_back_destroy(struct domain *d)
{
	struct xenbus_back *xb = &d->xenbus;
	struct xs_handle *h = d->xs.xsh;
	unsigned int i;

	for (i = 0; i < xb->nr_devs; i++) {
		struct xenbus_dev *dev = xb->devs[i];

		xenbus_disconnect(dev);
		if (h) {
			char dir[96];

			/* As libxl: backend/<type>/<domid> goes as a whole. */
			snprintf(dir, sizeof(dir), "/local/domain/0/backend/%s/%u",
				 dev->ops->type, d->xen.domid);
			(void)xs_rm(h, XBT_NULL, dir);
			(void)xs_rm(h, XBT_NULL, dev->fe_path);
		}
		xenbus_remove_timer_close(dev);
		dev->ops->destroy(dev);
		free(dev);
		xb->devs[i] = NULL;
	}
	xb->nr_devs = 0;
	xb->watching = false;
	if (xb->reap_fd >= 0) {
		loop_del(&d->loop, &xb->reap_src);
		close(xb->reap_fd);
		xb->reap_fd = -1;
	}
}
