/*
 * A minimal IPv4 stack (net.h).
 *
 * Every frame that arrives goes through net_input(): ARP requests for
 * our address are answered and every ARP sender is remembered (a tiny
 * round-robin cache); IPv4 to our address with a good header checksum
 * and an ICMP echo request is answered to the frame's source MAC (no
 * ARP needed); an ICMP echo reply is compared with what net_ping()
 * waits for.  Everything else is counted and dropped.  Lengths come from
 * the wire and are checked against the frame before anything is read.
 *
 * The kernel runs in KVM's instruction emulator here, so the checksum
 * and the payload compare go four or eight bytes at a time, and payloads
 * are built in an aligned buffer and copied with memcpy.
 */
#include "net.h"
#include "console.h"
#include "events.h"
#include "guest.h"
#include "lib.h"

#define ETH_HLEN 14
#define ETH_ZLEN 60
#define ETH_P_IP 0x0800
#define ETH_P_ARP 0x0806
#define ARP_LEN 28
#define IP_HLEN 20
#define ICMP_HLEN 8
#define ICMP_ECHO_REPLY 0
#define ICMP_ECHO 8
#define IPPROTO_ICMP 1
#define MS 1000000ull

typedef uint32_t u32_unaligned __attribute__((aligned(1), may_alias));
typedef uint64_t u64_unaligned __attribute__((aligned(1), may_alias));

static const uint8_t bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

static uint8_t txf[NETFRONT_ETH_MAX + 64] __attribute__((aligned(16)));
static uint8_t rxf[4096] __attribute__((aligned(16)));
static uint8_t payload[NET_ICMP_MAX_PAYLOAD + 8] __attribute__((aligned(8)));
static uint16_t ip_ident = 1;


int net_parse_ipv4(const char *s, uint32_t *ip)
{
	uint32_t v = 0, part;
	unsigned int i, digits;

	for (i = 0; i < 4; i++) {
		part = 0;
		for (digits = 0; *s >= '0' && *s <= '9' && digits < 3;
		     digits++, s++)
			part = part * 10 + (uint32_t)(*s - '0');
		if (!digits || part > 255 || *s != (i == 3 ? '\0' : '.'))
			return -XEN_EINVAL;
		s++;
		v = v << 8 | part;
	}
	*ip = v;
	return 0;
}

const char *net_ipv4_str(uint32_t ip, char buf[16])
{
	snprintf(buf, 16, "%u.%u.%u.%u", ip >> 24, ip >> 16 & 0xff,
		 ip >> 8 & 0xff, ip & 0xff);
	return buf;
}

uint32_t net_cmdline_ipv4(const char *key, uint32_t dflt)
{
	char buf[24];
	uint32_t ip;

	if (!guest_cmdline_get(key, buf, sizeof(buf)) || net_parse_ipv4(buf, &ip))
		return dflt;
	return ip;
}

/* --- bytes -------------------------------------------------------------- */

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

static int mac_eq(const uint8_t *a, const uint8_t *b)
{
	return a[0] == b[0] && a[1] == b[1] && a[2] == b[2] && a[3] == b[3] &&
	       a[4] == b[4] && a[5] == b[5];
}

/* Equal, eight bytes at a time. */
static int bytes_eq(const uint8_t *a, const uint8_t *b, size_t len)
{
	for (; len >= 8; a += 8, b += 8, len -= 8)
		if (*(const u64_unaligned *)a != *(const u64_unaligned *)b)
			return 0;
	for (; len; a++, b++, len--)
		if (*a != *b)
			return 0;
	return 1;
}

/*
 * RFC 1071: the sum is the same in any byte order, so add native 32-bit
 * words and store the folded complement natively.
 */
uint16_t net_checksum(const void *data, size_t len)
{
	const uint8_t *p = data;
	uint64_t sum = 0;

	for (; len >= 4; p += 4, len -= 4)
		sum += *(const u32_unaligned *)p;
	if (len >= 2) {
		sum += (uint32_t)p[0] | (uint32_t)p[1] << 8;
		p += 2;
		len -= 2;
	}
	if (len)
		sum += p[0];
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static void store_csum(uint8_t *at, uint16_t c)
{
	/* Native order, as computed. */
	at[0] = (uint8_t)c;
	at[1] = (uint8_t)(c >> 8);
}

/* --- sending ------------------------------------------------------------ */

static uint8_t *eth_header(struct net_if *ifc, uint8_t *f, const uint8_t *dst,
			   uint16_t type)
{
	memcpy(f, dst, 6);
	memcpy(f + 6, ifc->mac, 6);
	put16(f + 12, type);
	return f + ETH_HLEN;
}

static int transmit(struct net_if *ifc, uint8_t *f, size_t len,
		    unsigned int offset)
{
	int rc;

	if (len < ETH_ZLEN) {
		memset(f + len, 0, ETH_ZLEN - len);
		len = ETH_ZLEN;
	}
	rc = netfront_send_at(ifc->nf, f, len, offset);
	if (rc)
		ifc->send_errors++;
	return rc;
}

static size_t build_arp(struct net_if *ifc, uint8_t *f, uint16_t op,
			const uint8_t *dst_mac, const uint8_t *tha,
			uint32_t tpa)
{
	uint8_t *a = eth_header(ifc, f, dst_mac, ETH_P_ARP);

	put16(a, 1); /* Ethernet */
	put16(a + 2, ETH_P_IP);
	a[4] = 6;
	a[5] = 4;
	put16(a + 6, op);
	memcpy(a + 8, ifc->mac, 6);
	put32(a + 14, ifc->ip);
	memcpy(a + 18, tha, 6);
	put32(a + 24, tpa);
	return ETH_HLEN + ARP_LEN;
}

size_t net_build_arp_request(struct net_if *ifc, uint32_t ip, uint8_t *frame)
{
	static const uint8_t zero[6];
	size_t len = build_arp(ifc, frame, 1, bcast, zero, ip);

	memset(frame + len, 0, ETH_ZLEN - len);
	return ETH_ZLEN;
}

/* An IPv4 header for an ICMP message of len bytes; the payload follows. */
static uint8_t *ip_header(uint8_t *p, uint32_t src, uint32_t dst, size_t len)
{
	p[0] = 0x45;
	p[1] = 0;
	put16(p + 2, (uint16_t)(IP_HLEN + len));
	put16(p + 4, ip_ident++);
	put16(p + 6, 0x4000); /* DF */
	p[8] = 64;
	p[9] = IPPROTO_ICMP;
	p[10] = p[11] = 0;
	put32(p + 12, src);
	put32(p + 16, dst);
	store_csum(p + 10, net_checksum(p, IP_HLEN));
	return p + IP_HLEN;
}

/* --- the ARP cache ------------------------------------------------------ */

static const uint8_t *arp_lookup(struct net_if *ifc, uint32_t ip)
{
	unsigned int i;

	for (i = 0; i < NET_ARP_CACHE; i++)
		if (ifc->arp[i].ip == ip && ip)
			return ifc->arp[i].mac;
	return NULL;
}

static void arp_learn(struct net_if *ifc, uint32_t ip, const uint8_t *mac)
{
	unsigned int i;

	if (!ip || (mac[0] & 1))
		return;
	for (i = 0; i < NET_ARP_CACHE; i++)
		if (ifc->arp[i].ip == ip) {
			memcpy(ifc->arp[i].mac, mac, 6);
			return;
		}
	i = ifc->arp_next++ % NET_ARP_CACHE;
	ifc->arp[i].ip = ip;
	memcpy(ifc->arp[i].mac, mac, 6);
}

/* --- receiving ---------------------------------------------------------- */

static void arp_input(struct net_if *ifc, const uint8_t *a, size_t len)
{
	uint32_t spa, tpa;
	size_t n;

	if (len < ARP_LEN || get16(a) != 1 || get16(a + 2) != ETH_P_IP ||
	    a[4] != 6 || a[5] != 4) {
		ifc->frames_bad++;
		return;
	}
	spa = get32(a + 14);
	tpa = get32(a + 24);
	if (tpa != ifc->ip) {
		ifc->frames_ignored++;
		return;
	}
	arp_learn(ifc, spa, a + 8);
	if (get16(a + 6) == 1) {
		n = build_arp(ifc, txf, 2, a + 8, a + 8, spa);
		if (transmit(ifc, txf, n, 0) == 0)
			ifc->arp_answered++;
	}
}

static void echo_answer(struct net_if *ifc, const uint8_t *src_mac,
			uint32_t src, const uint8_t *icmp, size_t len)
{
	uint8_t *p;

	if (len > NET_ICMP_MAX_PAYLOAD + ICMP_HLEN)
		return;
	p = eth_header(ifc, txf, src_mac, ETH_P_IP);
	p = ip_header(p, ifc->ip, src, len);
	memcpy(p, icmp, len);
	p[0] = ICMP_ECHO_REPLY;
	p[2] = p[3] = 0;
	store_csum(p + 2, net_checksum(p, len));
	if (transmit(ifc, txf, ETH_HLEN + IP_HLEN + len, 0) == 0)
		ifc->echo_answered++;
}

static void echo_reply(struct net_if *ifc, uint32_t src, const uint8_t *icmp,
		       size_t len)
{
	ifc->echo_replies++;
	if (ifc->got_reply || !ifc->want_payload || src != ifc->want_src ||
	    get16(icmp + 4) != ifc->want_id ||
	    get16(icmp + 6) != ifc->want_seq) {
		ifc->frames_ignored++;
		return;
	}
	if (len - ICMP_HLEN == ifc->want_len &&
	    bytes_eq(icmp + ICMP_HLEN, ifc->want_payload, ifc->want_len))
		ifc->got_reply = 1;
	else
		ifc->got_reply = -1;
}

static void ip_input(struct net_if *ifc, const uint8_t *eth, size_t len)
{
	const uint8_t *ip = eth + ETH_HLEN, *icmp;
	size_t hl, total;
	uint32_t src, dst;

	len -= ETH_HLEN;
	if (len < IP_HLEN || ip[0] >> 4 != 4) {
		ifc->frames_bad++;
		return;
	}
	hl = (size_t)(ip[0] & 0xf) * 4;
	total = get16(ip + 2);
	if (hl < IP_HLEN || total < hl || total > len ||
	    net_checksum(ip, hl) != 0) {
		ifc->frames_bad++;
		return;
	}
	src = get32(ip + 12);
	dst = get32(ip + 16);
	/* Not for us, a fragment, or not ICMP. */
	if (dst != ifc->ip || (get16(ip + 6) & 0x3fff) ||
	    ip[9] != IPPROTO_ICMP) {
		ifc->frames_ignored++;
		return;
	}
	icmp = ip + hl;
	total -= hl;
	if (total < ICMP_HLEN || net_checksum(icmp, total) != 0) {
		ifc->frames_bad++;
		return;
	}
	if (icmp[0] == ICMP_ECHO && icmp[1] == 0)
		echo_answer(ifc, eth + 6, src, icmp, total);
	else if (icmp[0] == ICMP_ECHO_REPLY && icmp[1] == 0)
		echo_reply(ifc, src, icmp, total);
	else
		ifc->frames_ignored++;
}

static void net_input(struct net_if *ifc, const uint8_t *f, size_t len)
{
	uint16_t type;

	ifc->frames_in++;
	if (len < ETH_HLEN) {
		ifc->frames_bad++;
		return;
	}
	if (!mac_eq(f, ifc->mac) && !mac_eq(f, bcast)) {
		ifc->frames_ignored++;
		return;
	}
	type = get16(f + 12);
	if (type == ETH_P_ARP)
		arp_input(ifc, f + ETH_HLEN, len - ETH_HLEN);
	else if (type == ETH_P_IP)
		ip_input(ifc, f, len);
	else
		ifc->frames_ignored++;
}

int net_poll(struct net_if *ifc, uint64_t timeout_ns)
{
	int len = netfront_recv(ifc->nf, rxf, sizeof(rxf), timeout_ns);

	if (len == -XEN_ETIMEDOUT)
		return 0;
	if (len < 0)
		return len;
	net_input(ifc, rxf, (size_t)len);
	return 1;
}

/* --- the calls ---------------------------------------------------------- */

void net_if_init(struct net_if *ifc, struct netfront *nf, uint32_t ip,
		 uint32_t mask, uint32_t gw)
{
	memset(ifc, 0, sizeof(*ifc));
	ifc->nf = nf;
	memcpy(ifc->mac, nf->mac, 6);
	ifc->ip = ip;
	ifc->mask = mask;
	ifc->gw = gw;
}

/* Handles frames until cond holds or the deadline: 1 if it held. */
static int poll_until(struct net_if *ifc, int (*cond)(struct net_if *, void *),
		      void *arg, uint64_t end)
{
	uint64_t now;
	int rc;

	for (;;) {
		if (cond(ifc, arg))
			return 1;
		now = events_time_ns();
		if (now >= end)
			return 0;
		rc = net_poll(ifc, end - now);
		if (rc < 0)
			return cond(ifc, arg);
	}
}

static int arp_known(struct net_if *ifc, void *arg)
{
	return arp_lookup(ifc, *(uint32_t *)arg) != NULL;
}

int net_arp_resolve(struct net_if *ifc, uint32_t ip, uint8_t mac[6],
		    unsigned int tries)
{
	const uint8_t *m;
	size_t len;

	while (tries--) {
		m = arp_lookup(ifc, ip);
		if (m)
			break;
		len = net_build_arp_request(ifc, ip, txf);
		(void)transmit(ifc, txf, len, 0);
		if (poll_until(ifc, arp_known, &ip,
			       events_time_ns() + 1000 * MS))
			break;
	}
	m = arp_lookup(ifc, ip);
	if (!m)
		return -XEN_ETIMEDOUT;
	memcpy(mac, m, 6);
	return 0;
}

static int reply_came(struct net_if *ifc, void *arg)
{
	(void)arg;
	return ifc->got_reply != 0;
}

/* The payload of (id, seq): 32-bit words of a simple hash. */
static void payload_fill(uint16_t id, uint16_t seq, size_t len)
{
	uint32_t *w = (uint32_t *)payload, x = (uint32_t)id << 16 | seq;
	size_t i;

	for (i = 0; i < (len + 3) / 4; i++) {
		x = x * 1664525u + 1013904223u;
		w[i] = x ^ (uint32_t)i;
	}
}

int net_ping(struct net_if *ifc, uint32_t dst, uint16_t id, uint16_t seq,
	     size_t len, unsigned int tx_offset, uint64_t timeout_ns)
{
	uint32_t hop =
	    (dst & ifc->mask) == (ifc->ip & ifc->mask) ? dst : ifc->gw;
	uint8_t mac[6], *p;
	size_t icmp_len = ICMP_HLEN + len;
	int rc;

	if (len > NET_ICMP_MAX_PAYLOAD)
		return -XEN_EINVAL;
	if (net_arp_resolve(ifc, hop, mac, 3))
		return -XEN_EADDRNOTAVAIL;
	payload_fill(id, seq, len);
	p = eth_header(ifc, txf, mac, ETH_P_IP);
	p = ip_header(p, ifc->ip, dst, icmp_len);
	p[0] = ICMP_ECHO;
	p[1] = 0;
	p[2] = p[3] = 0;
	put16(p + 4, id);
	put16(p + 6, seq);
	memcpy(p + ICMP_HLEN, payload, len);
	store_csum(p + 2, net_checksum(p, icmp_len));

	ifc->want_src = dst;
	ifc->want_id = id;
	ifc->want_seq = seq;
	ifc->want_payload = payload;
	ifc->want_len = len;
	ifc->got_reply = 0;
	rc = transmit(ifc, txf, ETH_HLEN + IP_HLEN + icmp_len, tx_offset);
	if (rc == 0 &&
	    !poll_until(ifc, reply_came, NULL, events_time_ns() + timeout_ns))
		rc = -XEN_ETIMEDOUT;
	if (rc == 0 && ifc->got_reply < 0)
		rc = -XEN_EIO;
	ifc->want_payload = NULL;
	return rc;
}

static int never(struct net_if *ifc, void *arg)
{
	(void)ifc;
	(void)arg;
	return 0;
}

void net_serve(struct net_if *ifc, uint64_t duration_ns)
{
	(void)poll_until(ifc, never, NULL, events_time_ns() + duration_ns);
}
