/* SPDX-License-Identifier: MIT */
/*
 * The network backend (xen/io/netif.h): one virtual interface, a tx ring
 * (guest -> host) and an rx ring (host -> guest) of one page each, data
 * copied through grants (feature-rx-copy; no page flipping), multi-slot
 * packets both ways (feature-sg), checksum offload (a NETTXF_csum_blank
 * packet gets its TCP/UDP checksum computed here before it leaves; a
 * frame for the guest whose checksum we verified is NETRXF_data_validated).
 * No GSO, no multicast control, one queue.  docs/devices.md, "Network
 * backend", has the details.
 *
 * This is the engine; the xenbus glue (vif.c) drives it:
 *
 *   netback_open()        at device creation, with its host side
 *   netback_features()    the backend's XenStore keys, before InitWait
 *   netback_connect()     the frontend's tx-ring-ref and rx-ring-ref
 *   netback_kick()        the frontend's event channel fired
 *   netback_rx()          a frame from the host for the guest
 *   netback_disconnect()  the frontend is closing (or misbehaved)
 *   netback_close()       the device goes away
 *
 * Everything runs on the domain's event loop thread.  Guest memory is
 * reached only through env->gnttab: the two ring pages are mapped
 * (writable) while connected, packet data is copied with gnttab copies,
 * which need read access for tx and write access for rx.  Nothing is held
 * across calls but the two ring mappings, so a disconnect never waits.
 */
#ifndef XENIA_VMM_NETBACK_H
#define XENIA_VMM_NETBACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gnttab.h"
#include "nethost.h"
#include "xen.h"

/* Slots of one tx packet (XEN_NETIF_NR_SLOTS_MIN), extras not counted. */
#define NETBACK_MAX_TX_SLOTS 18u
/* Frames from the host waiting for rx buffers, then they are dropped. */
#define NETBACK_RX_QUEUE 64u
#define NETBACK_MTU_DEFAULT 1500u
#define NETBACK_MTU_MAX 65521u /* 65535 less the Ethernet header */

struct netback;

enum netback_event {
	/* The frontend broke a ring's protocol: nothing is served. */
	NETBACK_EV_BROKEN,
};

struct netback_env {
	const struct gnttab_ops *gnttab; /* the frontend's grants */
	void *gnttab_ctx;
	/*
	 * Raises the frontend's event channel(s): tx and/or rx responses
	 * were pushed and the frontend asked to hear of them.
	 */
	void (*notify)(void *ctx, bool tx, bool rx);
	/*
	 * Optional: a pass stopped with tx requests left (it takes at most
	 * a ring's worth, so that one vif cannot starve the loop); kick
	 * again from the loop (the glue writes its kick eventfd).  NULL:
	 * a pass takes everything.
	 */
	void (*rekick)(void *ctx);
	/* Optional; may call netback_disconnect(), not netback_close(). */
	void (*event)(void *ctx, enum netback_event ev);
	void *ctx;
	/* Where the guest's frames go; the owner's, not closed by us. */
	struct nethost *host;
	uint8_t mac[6]; /* the guest's */
	unsigned int mtu;
	const char *name; /* for log messages, e.g. "dom 3 vif 0" */
};

/* What the frontend said it can do (its XenStore keys). */
struct netback_frontend {
	bool rx_sg;	/* feature-sg: takes multi-slot rx packets */
	bool rx_notify; /* feature-rx-notify: kicks us after posting */
};

struct netback_stats {
	uint64_t tx_packets, tx_bytes; /* handed to the host */
	uint64_t tx_malformed;	       /* refused: answered ERROR */
	uint64_t tx_errors;	       /* grants that could not be read */
	uint64_t tx_host_drops;	       /* the host side refused them */
	uint64_t tx_csum_filled;       /* csum_blank packets completed */
	uint64_t rx_packets, rx_bytes; /* put in the guest's buffers */
	uint64_t rx_dropped;	       /* no buffers, queue full, too big */
	uint64_t rx_errors;	       /* buffers that could not be written */
	uint64_t rx_validated;	       /* sent with NETRXF_data_validated */
	uint64_t notifications;	       /* event-channel sends */
	uint64_t kicks;		       /* netback_kick() calls */
	uint32_t rx_queued;
	bool connected;
	bool broken;
};

/* 0, -EINVAL (no gnttab or host, MTU out of range) or -ENOMEM. */
int netback_open(struct netback **nb, const struct netback_env *env)
    __attribute__((warn_unused_result));

/*
 * The backend's keys: mac, mtu, feature-rx-copy 1, feature-rx-flip 0,
 * feature-sg 1, feature-no-csum-offload 0, feature-ipv6-csum-offload 1,
 * feature-gso-tcpv4 0, feature-multicast-control 0.
 */
void netback_features(struct netback *nb,
		      void (*put)(void *ctx, const char *key,
				  const char *value),
		      void *ctx);

/*
 * Maps the two ring pages (write access) and starts serving.  0,
 * -EBUSY (connected) or the grant error of a ring page (nothing stays
 * mapped).
 */
int netback_connect(struct netback *nb, grant_ref_t tx_ref, grant_ref_t rx_ref,
		    const struct netback_frontend *fe)
    __attribute__((warn_unused_result));

/* The frontend notified us: new tx requests, new rx buffers. */
void netback_kick(struct netback *nb);

/*
 * A frame from the host (the nethost rx callback): put into the guest's
 * posted buffers, or queued (at most NETBACK_RX_QUEUE), or dropped.
 */
void netback_rx(struct netback *nb, const void *frame, size_t len);

/* Stops serving and unmaps both rings; queued frames are dropped. */
void netback_disconnect(struct netback *nb);

void netback_get_stats(const struct netback *nb, struct netback_stats *st);

/*
 * Save and restore (docs/migration-stream.md).  quiesce: serves nothing
 * more (frames from the host are dropped meanwhile) and pushes what is
 * answered; nothing is ever in flight here.  unquiesce: serves again and
 * takes what the frontend queued.  ring_get: a connected device's private
 * ring indexes; ring_set: right after netback_connect(), continues saved
 * rings there (-EINVAL unless each ring's req_cons equals its
 * rsp_prod_pvt, as after a quiesce; -ENOTCONN).
 */
struct netback_ring_state {
	uint32_t tx_req_cons, tx_rsp_prod_pvt;
	uint32_t rx_req_cons, rx_rsp_prod_pvt;
	bool tx_skip; /* answering the rest of an over-long chain */
};
void netback_quiesce(struct netback *nb);
void netback_unquiesce(struct netback *nb);
int netback_ring_get(const struct netback *nb, struct netback_ring_state *s)
    __attribute__((warn_unused_result));
int netback_ring_set(struct netback *nb, const struct netback_ring_state *s)
    __attribute__((warn_unused_result));

/* Disconnects and frees; NULL is fine.  The host side is the owner's. */
void netback_close(struct netback *nb);

/* Checksums (netback_csum.c), for the engine and its tests. */

/*
 * Fills in the TCP or UDP checksum of an Ethernet frame carrying IPv4 or
 * IPv6 (one VLAN tag allowed, no IPv6 extension headers), whatever the
 * field held.  0, or -EINVAL (not such a frame, or truncated): unchanged.
 */
int netback_csum_fill(uint8_t *frame, size_t len);
/* Whether the frame is TCP/UDP over IP with a correct checksum. */
bool netback_csum_ok(const uint8_t *frame, size_t len);

#endif
