/*
 * Xenbus frontend devices of the test guest: what blkfront and netfront
 * share (xen/io/xenbus.h).  Finding the devices of a type under
 * device/<type>, the frontend's and the backend's directories, the
 * state machine's reads, waits and writes, the event channel unbound to
 * the backend's domain, and the Closing/Closed handshake.  The rings,
 * the keys a device publishes and what it reads at connect are the
 * frontend's.
 *
 * A frontend embeds a struct xbdev in each of its devices and keeps
 * them in a static table (the guest has no allocator).  Results are 0
 * (or a state, a length, a count) or a negative Xen errno.  Not
 * reentrant, like xenbus: one vCPU, interrupts enabled, not in an
 * upcall.
 */
#ifndef GUEST_XBDEV_H
#define GUEST_XBDEV_H

#include <stddef.h>
#include <stdint.h>
#include "xen.h"
#include "xenbus.h"
#include <xen/io/xenbus.h>

struct xbdev {
	unsigned int devid;
	unsigned int slot; /* of the frontend's static tables */
	char fe_path[40];  /* "device/<type>/<devid>", under our home */
	char be_path[96];
	char token[24]; /* of the watch on the backend's state */
	domid_t backend_id;

	int connected;
	int broken;	    /* the backend did not answer: I/O refused */
	int have_ring;	    /* ring pages granted, port allocated */
	evtchn_port_t port; /* 0: none */
};

/*
 * A frontend's devices of one type: xbdev_probe() fills entries 0..nr-1
 * of the frontend's table, entry(i) being the xbdev of its i-th.
 */
struct xbdev_table {
	const char *driver; /* "blkfront": log lines, watch tokens */
	const char *type;   /* "vbd": the devices are under device/vbd */
	char *list;	    /* room for the listing of device/<type> */
	size_t list_size;
	unsigned int max;
	struct xbdev *(*entry)(unsigned int i);

	unsigned int nr;
	int probed;
};

/*
 * Lists device/<type> once: for each device (up to max) its backend's
 * path and domain, and a watch on the backend's state, which is the
 * wake-up of every wait.  The number of devices, or -errno (-XEN_ENOENT:
 * no XenStore).  Needs xenbus_init() done and interrupts on; places the
 * grant table if nobody has.
 */
int xbdev_probe(struct xbdev_table *t) __attribute__((warn_unused_result));
/* A probed device by its devid, or NULL. */
struct xbdev *xbdev_find(struct xbdev_table *t, unsigned int devid);

/*
 * The path of key in our or the backend's directory, in a buffer that
 * the next call of either overwrites.
 */
const char *xbdev_fe_key(const struct xbdev *x, const char *key);
const char *xbdev_be_key(const struct xbdev *x, const char *key);
/* Writes v, in decimal, to key of our directory. */
int xbdev_fe_put(const struct xbdev *x, xenbus_tx_t t, const char *key,
		 unsigned long v) __attribute__((warn_unused_result));
/* Reads key of our or the backend's directory: its length or -errno. */
int xbdev_fe_read(const struct xbdev *x, const char *key, char *buf,
		  size_t size);
int xbdev_be_read(const struct xbdev *x, const char *key, char *buf,
		  size_t size);
/* A number from the backend's directory, dflt when it is absent or bad. */
uint64_t xbdev_be_u64(const struct xbdev *x, const char *key, uint64_t dflt);

/* Our `state`, or -1 if it is absent or not a number. */
int xbdev_fe_state(const struct xbdev *x);
int xbdev_set_state(const struct xbdev *x, enum xenbus_state s)
    __attribute__((warn_unused_result));
/* The backend's `state`, or -errno; Unknown when its directory is gone. */
int xbdev_backend_state(const struct xbdev *x);
/*
 * Waits until the backend's state is one in mask (1 << XenbusState...):
 * that state, or -XEN_ETIMEDOUT (or -errno).
 */
int xbdev_wait_backend(const struct xbdev *x, unsigned int mask,
		       uint64_t timeout_ns);

/*
 * The first half of a connect: Initialising if the backend is Closed
 * (after a disconnect), then the backend's InitWait.  0, -XEN_EIO when
 * it went Closing instead, or -errno.
 */
int xbdev_await_initwait(const struct xbdev *x, uint64_t timeout_ns)
    __attribute__((warn_unused_result));
/*
 * After the frontend published its keys: the backend's Connected.  0,
 * -XEN_EIO when it went Closing or Closed instead, or -errno.
 */
int xbdev_await_connected(const struct xbdev *x, uint64_t timeout_ns)
    __attribute__((warn_unused_result));
/*
 * Not connected any more, then the Closing/Closed handshake: 0 once the
 * backend says Closed (or its directory is gone): it holds none of our
 * pages then, and the frontend may end its grants and close the port.
 */
int xbdev_close(struct xbdev *x, uint64_t timeout_ns)
    __attribute__((warn_unused_result));

/*
 * An event channel unbound for the backend's domain, unmasked, in
 * x->port: 0 or -errno (x->port may be set even so).
 */
int xbdev_port_alloc(struct xbdev *x) __attribute__((warn_unused_result));
/* Closes x->port if there is one. */
void xbdev_port_close(struct xbdev *x);
/*
 * Sleeps in SCHEDOP_poll on x->port, in naps of at most 10 ms, until
 * ready(arg) or the time is end: 1 if ready.
 */
int xbdev_poll(const struct xbdev *x, int (*ready)(void *), void *arg,
	       uint64_t end);

#endif
