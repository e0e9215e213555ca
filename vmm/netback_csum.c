/* SPDX-License-Identifier: MIT */
/*
 * TCP and UDP checksums of Ethernet frames, for the network backend's
 * checksum offload (netback.h).  A frontend that sends NETTXF_csum_blank
 * leaves the checksum to us; Linux's netfront puts the pseudo-header sum
 * in the field (CHECKSUM_PARTIAL), other frontends may leave anything, so
 * the field is recomputed from scratch.  Frames for the guest are checked
 * here so that they can go as NETRXF_data_validated: the guest's kernel
 * then skips the sum, which on this host runs in the CPL0 emulator.
 *
 * Everything is read from the frame with bounds: the IP header's lengths
 * must fit the bytes we have; fragments and IPv6 extension headers are
 * not handled (the frame is left as it is).
 */
#include "netback.h"

#include <errno.h>
#include <string.h>

#define ETH_HLEN_ 14u
#define ETHERTYPE_IPV4 0x0800u
#define ETHERTYPE_IPV6 0x86ddu
#define ETHERTYPE_VLAN 0x8100u
#define PROTO_TCP 6u
#define PROTO_UDP 17u

struct l4 {
	size_t off;	 /* of the TCP/UDP header in the frame */
	size_t len;	 /* TCP/UDP header and payload */
	size_t csum_off; /* of the checksum field in the frame */
	uint32_t pseudo; /* the pseudo-header's sum, unfolded */
	bool udp4;
};

static uint16_t be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t sum_bytes(uint32_t sum, const uint8_t *p, size_t len)
{
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		sum += be16(p + i);
	if (len & 1)
		sum += (uint32_t)p[len - 1] << 8;
	/* 32 Ki words of at most 0xffff: 32 bits hold a 64 KiB frame. */
	return sum;
}

static uint16_t fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

/* Finds the TCP/UDP part of a frame.  0 or -EINVAL. */
static int find_l4(const uint8_t *f, size_t len, struct l4 *l)
{
	size_t ip = ETH_HLEN_, hl, tot;
	uint16_t type;
	uint8_t proto;

	if (len < ETH_HLEN_)
		return -EINVAL;
	type = be16(f + 12);
	if (type == ETHERTYPE_VLAN) {
		if (len < ETH_HLEN_ + 4)
			return -EINVAL;
		type = be16(f + 16);
		ip += 4;
	}
	memset(l, 0, sizeof(*l));
	if (type == ETHERTYPE_IPV4) {
		if (len < ip + 20 || f[ip] >> 4 != 4)
			return -EINVAL;
		hl = (size_t)(f[ip] & 15) * 4;
		tot = be16(f + ip + 2);
		/* MF set or an offset: a fragment, the sum spans others. */
		if (hl < 20 || tot < hl || tot > len - ip ||
		    (be16(f + ip + 6) & 0x3fff))
			return -EINVAL;
		proto = f[ip + 9];
		l->off = ip + hl;
		l->len = tot - hl;
		l->pseudo =
		    sum_bytes(0, f + ip + 12, 8) + proto + (uint32_t)l->len;
		l->udp4 = proto == PROTO_UDP;
	} else if (type == ETHERTYPE_IPV6) {
		if (len < ip + 40 || f[ip] >> 4 != 6)
			return -EINVAL;
		proto = f[ip + 6];
		l->off = ip + 40;
		l->len = be16(f + ip + 4);
		if (l->len > len - l->off)
			return -EINVAL;
		l->pseudo =
		    sum_bytes(0, f + ip + 8, 32) + proto + (uint32_t)l->len;
	} else {
		return -EINVAL;
	}
	if (proto == PROTO_TCP && l->len >= 20)
		l->csum_off = l->off + 16;
	else if (proto == PROTO_UDP && l->len >= 8)
		l->csum_off = l->off + 6;
	else
		return -EINVAL;
	return 0;
}

int netback_csum_fill(uint8_t *frame, size_t len)
{
	struct l4 l;
	uint16_t c;

	if (find_l4(frame, len, &l) < 0)
		return -EINVAL;
	frame[l.csum_off] = 0;
	frame[l.csum_off + 1] = 0;
	c = (uint16_t)~fold(sum_bytes(l.pseudo, frame + l.off, l.len));
	/* UDP: 0 would mean "no checksum"; its one's complement twin. */
	if (c == 0 && l.csum_off == l.off + 6)
		c = 0xffff;
	frame[l.csum_off] = (uint8_t)(c >> 8);
	frame[l.csum_off + 1] = (uint8_t)c;
	return 0;
}

bool netback_csum_ok(const uint8_t *frame, size_t len)
{
	struct l4 l;

	if (find_l4(frame, len, &l) < 0)
		return false;
	/* IPv4 UDP without a checksum: nothing to validate. */
	if (l.udp4 && !frame[l.csum_off] && !frame[l.csum_off + 1])
		return false;
	return fold(sum_bytes(l.pseudo, frame + l.off, l.len)) == 0xffff;
}
