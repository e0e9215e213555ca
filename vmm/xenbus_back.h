/* SPDX-License-Identifier: MIT */
/*
 * The backend half of Xen's split drivers, as Dom0 runs it: for each of
 * the domain's devices a frontend directory
 * /local/domain/<domid>/device/<type>/<devid> (the guest's, dom0 reads)
 * and a backend directory /local/domain/0/backend/<type>/<domid>/<devid>
 * (dom0's, the guest reads), laid out as Xen's libxl does, and the xenbus
 * state machine (xen/io/xenbus.h) driven by watches on the frontend's
 * state:
 *
 *   backend Initialising -> (features written) InitWait
 *   frontend Initialised/Connected -> connect() -> backend Connected
 *   frontend Closing -> backend Closing
 *   frontend Closed (or gone) -> disconnect() -> backend Closed
 *   frontend Initialising again while backend Closed -> InitWait (reconnect)
 *
 * Detach (xenbus_dev_remove) is the toolstack's part, as libxl does it:
 * backend `online` 0 and state Closing; the frontend closes, the backend
 * drains and says Closed, then both directories go and the device is
 * freed.  A frontend that does not close in time is removed anyway.
 *
 * A device type supplies ops; everything runs on the domain's event loop,
 * and a device whose frontend misbehaves fails alone (its backend goes to
 * Closing with an `error` node; the others go on).
 */
#ifndef XENIA_VMM_XENBUS_BACK_H
#define XENIA_VMM_XENBUS_BACK_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "loop.h"
#include "xen.h"

#include <xen/io/xenbus.h>

#define XENBUS_MAX_DEVS 16

struct domain;
struct json_object;
struct xenbus_dev;

/* A removal is over: device and directories are gone (xenbus_dev_remove). */
typedef void xenbus_removed_fn(void *arg, bool forced);

struct xenbus_dev_ops {
	const char *type; /* "vbd", "vif" */
	/* Writes the backend's feature keys (before InitWait). */
	int (*features)(struct xenbus_dev *dev);
	/* The frontend is ready: read its keys, map its rings, go. */
	int (*connect)(struct xenbus_dev *dev);
	/*
	 * Stop, release every grant and port.  0 when done; -EINPROGRESS
	 * while I/O drains: the device calls xenbus_dev_disconnected() when
	 * it has, and the backend only then says Closed.
	 */
	int (*disconnect)(struct xenbus_dev *dev);
	/* The device goes away with the domain. */
	void (*destroy)(struct xenbus_dev *dev);
	/*
	 * Save and restore (docs/migration-stream.md, DEVICE); NULL when
	 * the type cannot be saved.  With the domain paused, quiesce()
	 * finishes the I/O in flight and takes no more (it may wait);
	 * unquiesce() serves again (a checkpoint, a failed save).  save()
	 * adds "spec" and, while connected, "ring" to the DEVICE object.
	 * restore() is given that object on a device re-created in its
	 * saved state: it maps the same rings and binds the same ports.
	 */
	int (*quiesce)(struct xenbus_dev *dev);
	void (*unquiesce)(struct xenbus_dev *dev);
	int (*save)(struct xenbus_dev *dev, struct json_object *rec);
	int (*restore)(struct xenbus_dev *dev, struct json_object *rec);
};

/* A key and value for the directories the toolstack writes. */
struct xenbus_kv {
	const char *key;
	const char *value;
};

struct xenbus_dev {
	struct domain *d;
	const struct xenbus_dev_ops *ops;
	void *priv;
	unsigned int devid;
	char fe_path[96];
	char be_path[96];
	char token[32];
	enum xenbus_state be_state;
	bool connected;
	bool draining; /* a disconnect waits for I/O to finish */
	/* Detach: asked, ready to be freed, forced (no frontend answer). */
	bool removing;
	bool remove_ready;
	bool remove_forced;
	int remove_timer_fd; /* -1 when none */
	struct loop_source remove_src;
	xenbus_removed_fn *removed;
	void *removed_arg;
};

struct xenbus_back {
	/* devs and nr_devs: added on the main thread, used on the loop's. */
	pthread_mutex_t lock;
	struct loop_source watch_src;
	struct xenbus_dev *devs[XENBUS_MAX_DEVS];
	unsigned int nr_devs;
	bool watching;
	/*
	 * An incoming migration: disks are opened without their image
	 * locks (vbd_locks() takes them at the handover) and restored
	 * rings are not served until the domain is handed over
	 * (xenbus_back_unquiesce()).
	 */
	bool incoming;
	/* Removals are finished here, outside any device's callback. */
	int reap_fd; /* eventfd, -1 until the first removal */
	struct loop_source reap_src;
};

/*
 * Adds a device: writes both directories (the toolstack's part, with the
 * extra keys given, each list ended by a {NULL, NULL}), runs features(),
 * goes to InitWait and watches the frontend.  Needs --xenstore.  0 or
 * -errno; on failure the device is not added.
 */
int xenbus_dev_add(struct domain *d, const struct xenbus_dev_ops *ops,
		   unsigned int devid, void *priv,
		   const struct xenbus_kv *fe_keys,
		   const struct xenbus_kv *be_keys)
	__attribute__((warn_unused_result));

/*
 * Detach of device <type>/<devid>, on the loop thread: see the top of this
 * file.  The frontend has timeout_ms to close (0: removed at once, as a
 * forced detach).  Then, on the loop thread and never from within this
 * call, done(arg, forced) unless the domain goes first.  0, -ENOENT for no
 * such device, -EBUSY when its removal is under way already.
 */
int xenbus_dev_remove(struct domain *d, const char *type, unsigned int devid,
		      unsigned int timeout_ms, xenbus_removed_fn *done,
		      void *arg) __attribute__((warn_unused_result));
/* Whether device <type>/<devid> exists (being removed counts). */
bool xenbus_dev_exists(struct domain *d, const char *type,
		       unsigned int devid);

void xenbus_back_init(struct xenbus_back *xb);
/*
 * Disconnects and destroys every device, removes their directories.  No
 * removal's done() is called.
 */
void xenbus_back_destroy(struct domain *d);

/*
 * Save (loop thread, domain paused): quiesce every device (-EBUSY while
 * one is being detached, -EOPNOTSUPP for a type without save, the
 * reason in err), then one DEVICE object per device appended to the
 * JSON array `out`: type, devid, state and what the type's save() adds.
 * unquiesce: after the save, whatever its outcome.
 */
int xenbus_back_quiesce(struct domain *d, char *err, size_t errlen)
	__attribute__((warn_unused_result));
void xenbus_back_unquiesce(struct domain *d);
int xenbus_back_save(struct domain *d, struct json_object *out)
	__attribute__((warn_unused_result));
/*
 * Restore: adds a device as xenbus_dev_add() does, but in the state rec
 * (a DEVICE object) says: the frontend's directory is the guest's and
 * came back with its XenStore subtree; the backend's is written afresh
 * with the saved state, and, if it was Connected, ops->restore()
 * reconnects to the same rings.  0 or -errno (logged).
 */
int xenbus_dev_restore(struct domain *d, const struct xenbus_dev_ops *ops,
		       unsigned int devid, void *priv,
		       const struct xenbus_kv *be_keys,
		       struct json_object *rec)
	__attribute__((warn_unused_result));

/* A disconnect that returned -EINPROGRESS has finished. */
void xenbus_dev_disconnected(struct xenbus_dev *dev);
/*
 * The frontend misbehaved (rc, what): the device disconnects and the
 * backend goes to Closing with an `error` node; other devices go on.
 */
void xenbus_dev_fail(struct xenbus_dev *dev, int rc, const char *what);

/* For the ops: keys of the frontend's directory and the backend's. */
int xenbus_dev_read(struct xenbus_dev *dev, const char *key, char *buf,
		    size_t size) __attribute__((warn_unused_result));
int xenbus_dev_read_uint(struct xenbus_dev *dev, const char *key,
			 uint64_t max, uint64_t *out)
	__attribute__((warn_unused_result));
int xenbus_dev_write(struct xenbus_dev *dev, const char *key,
		     const char *value) __attribute__((warn_unused_result));
/* xenbus_dev_write() as the engines' put(ctx = dev) callback; logs. */
void xenbus_dev_put(void *ctx, const char *key, const char *value);
/* An event-channel port the frontend names: below EVTCHN_MAX. */
int xenbus_dev_read_port(struct xenbus_dev *dev, const char *key,
			 uint32_t *port) __attribute__((warn_unused_result));

/*
 * Where a frontend's sends arrive: an eventfd, a source of the domain's
 * loop that calls fn(arg) once the guest has sent.  Dom0's ends of the
 * frontend's event channels are bound to it, one or (a vif's split tx
 * and rx) several.
 */
typedef void xenbus_kick_fn(void *arg);

struct xenbus_kick {
	struct domain *d;
	int fd; /* -1 when closed */
	struct loop_source src;
	bool added;
	xenbus_kick_fn *fn;
	void *arg;
};

/* Dom0's end of one of the frontend's event channels. */
struct xenbus_port {
	struct domain *d;
	uint32_t dport; /* 0 when unbound */
};

/* Closed: xenbus_kick_close() is safe from then on. */
void xenbus_kick_clear(struct xenbus_kick *k);
int xenbus_kick_open(struct xenbus_kick *k, struct domain *d,
		     xenbus_kick_fn *fn, void *arg)
	__attribute__((warn_unused_result));
void xenbus_kick_close(struct xenbus_kick *k);

/* Binds dom0's end of the guest's port (unbound to dom0) to k. */
int xenbus_port_bind(struct xenbus_port *p, struct xenbus_kick *k,
		     uint32_t port) __attribute__((warn_unused_result));
/* Raises the guest's end, if bound. */
void xenbus_port_notify(const struct xenbus_port *p);
/* Unbinds, if bound: the guest's end waits for a new backend. */
void xenbus_port_unbind(struct xenbus_port *p);

#endif
