/* SPDX-License-Identifier: MIT */
/*
 * The host side of a virtual network interface: where the frames a guest
 * sends go, and where the frames it receives come from.  Two kinds:
 *
 *   tap	a tap device vif<domid>.<devid> (as Xen names them), up, with
 *		the vif's MTU, optionally enslaved to an existing Linux
 *		bridge (nethost_tap.c)
 *   slirp	libslirp user-mode networking: no root, no bridge; the guest
 *		sits on 10.0.2.0/24 as 10.0.2.15 behind the gateway 10.0.2.2,
 *		which also serves DHCP and DNS (nethost_slirp.c)
 *
 * Both are driven from the domain's event loop: a host side adds its own
 * sources (the tap fd; slirp's sockets and timer) and calls rx() with
 * each frame that arrives for the guest, on the loop thread.  send() is
 * called on the loop thread too.  A unit test can fill in the ops itself
 * (a loopback that records frames).
 */
#ifndef XENIA_VMM_NETHOST_H
#define XENIA_VMM_NETHOST_H

#include <stddef.h>
#include <stdint.h>

struct loop;
struct nethost;

/* A frame for the guest (Ethernet, no FCS); valid during the call. */
typedef void nethost_rx_fn(void *ctx, const void *frame, size_t len);

struct nethost_ops {
	const char *kind; /* "tap", "slirp" */
	/*
	 * One Ethernet frame from the guest to the host network.  0, or
	 * -errno when the host dropped it (-EAGAIN: its queue is full).
	 */
	int (*send)(struct nethost *h, const void *frame, size_t len);
	/* Removes the loop sources and frees h (a tap device goes too). */
	void (*close)(struct nethost *h);
};

struct nethost {
	const struct nethost_ops *ops;
	nethost_rx_fn *rx;
	void *rx_ctx;
	uint64_t sent, send_errors, received;
};

/* What both kinds are opened with. */
struct nethost_config {
	struct loop *loop; /* rx and timers run here */
	uint16_t domid;
	unsigned int devid;
	unsigned int mtu;
	const char *bridge; /* tap only: NULL or "" for none */
	nethost_rx_fn *rx;
	void *rx_ctx;
};

/*
 * Creates tap vif<domid>.<devid> (TUNSETIFF IFF_TAP|IFF_NO_PI), sets its
 * MTU and MAC (fe:ff:ff:ff:ff:ff, as Xen's hotplug script does, so that
 * the bridge never takes the guest's address as its own), brings it up
 * and adds it to cfg->bridge.  0, or -errno with a message: -ENODEV (the
 * bridge does not exist), -EPERM (not allowed to create taps), ...
 */
int nethost_tap_open(struct nethost **h, const struct nethost_config *cfg)
    __attribute__((warn_unused_result));

/* A libslirp stack for this vif.  0 or -errno with a message. */
int nethost_slirp_open(struct nethost **h, const struct nethost_config *cfg)
    __attribute__((warn_unused_result));

static inline int nethost_send(struct nethost *h, const void *frame, size_t len)
{
	return h->ops->send(h, frame, len);
}

static inline void nethost_close(struct nethost *h)
{
	if (h)
		h->ops->close(h);
}

#endif
