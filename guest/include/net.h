/*
 * A minimal IPv4 stack for the test guest, on one netfront interface:
 * Ethernet, ARP (asks, and answers for our address), IPv4 without
 * options or fragments, and ICMP echo (pings, and answers pings aimed at
 * us).  Enough to test the network frontend against a backend and the
 * world behind it; nothing more.
 *
 * Addresses are host-order numbers (10.0.2.15 is 0x0a00020f).  Calls are
 * synchronous and bounded by their timeout; frames that arrive while one
 * waits are handled as they come (ARP answered, pings answered, the rest
 * counted and dropped).
 */
#ifndef GUEST_NET_H
#define GUEST_NET_H

#include <stddef.h>
#include <stdint.h>
#include "netfront.h"

#define NET_ARP_CACHE 4
#define NET_ICMP_MAX_PAYLOAD 1472

struct net_if {
	struct netfront *nf;
	uint8_t mac[6];
	uint32_t ip, mask, gw;
	/* A few ARP answers: ip 0 is a free entry. */
	struct {
		uint32_t ip;
		uint8_t mac[6];
	} arp[NET_ARP_CACHE];
	unsigned int arp_next;

	/* The echo reply net_ping() waits for. */
	uint32_t want_src;
	uint16_t want_id, want_seq;
	const uint8_t *want_payload;
	size_t want_len;
	int got_reply; /* 1 matched, -1 id and seq matched but not the data */

	unsigned int frames_in, frames_ignored, frames_bad;
	unsigned int arp_answered, echo_answered, echo_replies;
	unsigned int send_errors;
};

/* "a.b.c.d": 0 or -XEN_EINVAL. */
int net_parse_ipv4(const char *s, uint32_t *ip);
/* ip as "a.b.c.d" in buf (16 bytes). */
const char *net_ipv4_str(uint32_t ip, char buf[16]);
/* A key=a.b.c.d of the command line, or dflt. */
uint32_t net_cmdline_ipv4(const char *key, uint32_t dflt);

/* The Internet checksum (RFC 1071) of len bytes, as stored in a header. */
uint16_t net_checksum(const void *p, size_t len);

void net_if_init(struct net_if *ifc, struct netfront *nf, uint32_t ip,
		 uint32_t mask, uint32_t gw);

/*
 * Receives and handles one frame, waiting up to timeout_ns: 1 if one
 * came, 0 if none did, or -errno from the frontend.
 */
int net_poll(struct net_if *ifc, uint64_t timeout_ns);

/*
 * Asks who has ip (up to `tries` requests, a second apart) and fills mac
 * from the answer: 0 or -XEN_ETIMEDOUT.
 */
int net_arp_resolve(struct net_if *ifc, uint32_t ip, uint8_t mac[6],
		    unsigned int tries);

/*
 * Sends an ICMP echo request with len bytes of payload (a pattern made
 * from id and seq) to dst through the next hop's MAC, placed tx_offset
 * bytes into the frontend's first tx page (so that it may span two
 * slots), and waits up to timeout_ns for the reply: 0 when one came
 * with the same id, seq and payload; -XEN_EIO when it came with other
 * data; -XEN_ETIMEDOUT; -XEN_EADDRNOTAVAIL when ARP got no answer.
 */
int net_ping(struct net_if *ifc, uint32_t dst, uint16_t id, uint16_t seq,
	     size_t len, unsigned int tx_offset, uint64_t timeout_ns);

/* Answers ARP and pings for duration_ns. */
void net_serve(struct net_if *ifc, uint64_t duration_ns);

/* The ARP request for ip that net_arp_resolve() sends: its length. */
size_t net_build_arp_request(struct net_if *ifc, uint32_t ip, uint8_t *frame);

#endif
