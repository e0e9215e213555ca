/*
 * Network frontend of the test guest (xen/io/netif.h): finds the
 * domain's virtual interfaces under device/vif, walks the xenbus state
 * machine (xen/io/xenbus.h) through connect, disconnect and reconnect,
 * sends frames through pages granted read-only for the length of each
 * send and receives them into pages posted on the rx ring.
 *
 * One tx ring and one rx ring of one page each, one event channel for
 * both, rx-copy (the backend copies into our pages).  Devices live in a
 * static table (the guest has no allocator), with their ring and buffer
 * pages.  Sends are synchronous: netfront_send() returns once the
 * backend has answered every slot of the frame.  Received frames stay on
 * the rx ring until netfront_recv() takes them.
 *
 * Results are 0 (or a length) or a negative Xen errno: -XEN_EIO for a
 * NETIF_RSP_ERROR (last_tx_status has it), -XEN_ENOBUFS for
 * NETIF_RSP_DROPPED, -XEN_ETIMEDOUT when the backend did not answer (the
 * device is then broken until a disconnect), -XEN_ENOTCONN when not
 * connected.
 *
 * Not reentrant, like xenbus: one vCPU, interrupts enabled, not in an
 * upcall.
 */
#ifndef GUEST_NETFRONT_H
#define GUEST_NETFRONT_H

#include <stddef.h>
#include <stdint.h>
#include "lib.h"
#include "xbdev.h"
#include "xen.h"

/* ring.h leaves the barriers to the guest (interface version >= 3.2.8). */
#ifndef xen_mb
#define xen_mb() __atomic_thread_fence(__ATOMIC_SEQ_CST)
#define xen_rmb() __atomic_thread_fence(__ATOMIC_ACQUIRE)
#define xen_wmb() __atomic_thread_fence(__ATOMIC_RELEASE)
#endif
#include <xen/grant_table.h>
#include <xen/io/netif.h>
#include <xen/io/xenbus.h>

#define NETFRONT_MAX_DEVS 2
/* rx buffers kept posted: a power of two that divides the ring size. */
#define NETFRONT_RX_BUFS 16
/* tx pages: a frame of up to 0xffff bytes at any offset. */
#define NETFRONT_TX_PAGES 17
/* How long the backend may take to answer or change state. */
#define NETFRONT_TIMEOUT_NS 10000000000ull
#define NETFRONT_ETH_MAX 1514

struct netfront {
	/* devid, paths, backend, connected/broken/have_ring, port. */
	struct xbdev xb;

	/* From the frontend's `mac` (else the backend's), and the backend. */
	uint8_t mac[6];
	unsigned int mtu;
	int feature_rx_copy, feature_sg;

	/* The connection. */
	grant_ref_t tx_ring_ref, rx_ring_ref;
	struct netif_tx_sring *tx_sring;
	struct netif_rx_sring *rx_sring;
	netif_tx_front_ring_t tx;
	netif_rx_front_ring_t rx;
	grant_ref_t rx_refs[NETFRONT_RX_BUFS];
	uint8_t rx_posted[NETFRONT_RX_BUFS];
	uint16_t tx_next_id;

	/* The first status other than NETIF_RSP_OKAY of the last send. */
	int16_t last_tx_status;
	unsigned int tx_frames, tx_errors, tx_dropped;
	unsigned int rx_frames, rx_errors, rx_bad;
	unsigned int grants_stuck;
};

/*
 * Lists device/vif: the number of interfaces (each gets an entry), or a
 * negative errno.  Needs xenbus_init() done and interrupts on; places the
 * grant table if nobody has.
 */
int netfront_probe(void);
/* A probed interface by its devid, or NULL. */
struct netfront *netfront_get(unsigned int devid);

/*
 * Connects: Initialising (from Closed, after a disconnect) and the
 * backend's InitWait; both rings, the rx buffers posted, the event
 * channel; tx-ring-ref, rx-ring-ref, event-channel, request-rx-copy,
 * feature-rx-notify and state Connected in one transaction (Linux's
 * order, which a backend that connects on Initialised or on Connected
 * both accept); then the backend's Connected.  -XEN_EIO when the backend
 * went Closing/Closed instead (its `error` node says why); call
 * netfront_disconnect() then.
 */
int netfront_connect(struct netfront *n);
/*
 * The Closing/Closed handshake; once the backend says Closed (it holds
 * none of our pages) the grants are ended and the port closed.  Works
 * from any state.
 */
int netfront_disconnect(struct netfront *n);
/* The backend's `state`, or -errno; Unknown when its directory is gone. */
int netfront_backend_state(struct netfront *n);
/* Waits until the backend's state is in mask: that state or -errno. */
int netfront_wait_backend(struct netfront *n, unsigned int mask,
			  uint64_t timeout_ns);
/* Reads a key of the backend's directory into buf: its length or -errno. */
int netfront_backend_read(struct netfront *n, const char *key, char *buf,
			  size_t size);

/*
 * Sends one Ethernet frame (copied) starting `offset` bytes into the
 * first tx page: a frame that does not fit in the rest of that page
 * goes in several slots chained with NETTXF_more_data (the first slot's
 * size is the whole frame's, as netif.h says).  Waits for every slot's
 * response.
 */
int netfront_send_at(struct netfront *n, const void *frame, size_t len,
		     unsigned int offset);
static inline int netfront_send(struct netfront *n, const void *frame,
				size_t len)
{
	return netfront_send_at(n, frame, len, 0);
}

/*
 * Takes the next received frame into buf, waiting up to timeout_ns (0:
 * only what has arrived): its length, -XEN_ETIMEDOUT if none came.
 * Frames that do not fit, or that come in several slots or with extra
 * info (we ask for neither), are counted in rx_bad and skipped; error
 * responses in rx_errors.  Each buffer is posted again at once.
 */
int netfront_recv(struct netfront *n, void *buf, size_t size,
		  uint64_t timeout_ns);

/*
 * For hostile tests: puts nreq tx requests on the ring as they are,
 * pushes, notifies, and collects responses into rsp (up to max) until
 * `want` have come or timeout_ns passed: how many came, or -XEN_EIO for
 * a response index the backend cannot have meant.  The caller grants
 * (and ends) whatever the requests name.
 */
int netfront_tx_raw(struct netfront *n, const netif_tx_request_t *reqs,
		    unsigned int nreq, netif_tx_response_t *rsp,
		    unsigned int max, unsigned int want, uint64_t timeout_ns);

#endif
