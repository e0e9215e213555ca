/*
 * test=netbench: the network benchmark's guest side (bench/net/run.sh).
 * Over vif 0 (ip=/peer= on the command line), after ARP: NB_PACKETS UDP
 * datagrams to the peer's discard port, first in 64-byte frames, then
 * in 1400-byte ones, each kind timed with the TSC ("netbench: KIND
 * packets=N bytes=B cycles=C"), then NB_PINGS echo round trips.  The
 * frames are built once and sent as they are: what is measured is the
 * path through the rings and the backend, not our stack.
 */
#include "console.h"
#include "events.h"
#include "guest.h"
#include "lib.h"
#include "net.h"
#include "netfront.h"
#include "xenbus.h"

#define NB_PACKETS 2000u
#define NB_PINGS 200u
#define MS 1000000ull

static uint8_t nb_frame[1514];

static uint64_t nb_rdtsc(void)
{
	uint32_t lo, hi;

	asm volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return (uint64_t)hi << 32 | lo;
}

static void nb_put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void nb_put32(uint8_t *p, uint32_t v)
{
	nb_put16(p, (uint16_t)(v >> 16));
	nb_put16(p + 2, (uint16_t)v);
}

/* Ethernet + IPv4 + UDP to port 9 (discard), UDP checksum 0 (none). */
static size_t nb_build(const struct net_if *ifc, const uint8_t dmac[6],
		       uint32_t dst, size_t frame_len)
{
	uint8_t *ip = nb_frame + 14, *udp = ip + 20;
	size_t ip_len = frame_len - 14;
	uint16_t sum;

	memset(nb_frame, 0xa5, sizeof(nb_frame));
	memcpy(nb_frame, dmac, 6);
	memcpy(nb_frame + 6, ifc->mac, 6);
	nb_put16(nb_frame + 12, 0x0800);
	memset(ip, 0, 20);
	ip[0] = 0x45;
	nb_put16(ip + 2, (uint16_t)ip_len);
	ip[8] = 64;
	ip[9] = 17;
	nb_put32(ip + 12, ifc->ip);
	nb_put32(ip + 16, dst);
	sum = net_checksum(ip, 20);
	memcpy(ip + 10, &sum, 2);
	nb_put16(udp, 9999);
	nb_put16(udp + 2, 9);
	nb_put16(udp + 4, (uint16_t)(ip_len - 20));
	nb_put16(udp + 6, 0);
	return frame_len;
}

static struct net_if nb_ifc;

void scenario_netbench(void)
{
	static const size_t sizes[] = {64, 1400};
	struct netfront *n;
	uint8_t dmac[6];
	uint32_t peer;
	unsigned int i, k, bad = 0;
	uint64_t t0;
	int rc;

	if (events_init() || xenbus_init()) {
		printf("SKIP: netbench: no store ring\n");
		return;
	}
	irq_enable();
	if (netfront_probe() < 0 || !(n = netfront_get(0))) {
		printf("SKIP: netbench: no vif 0\n");
		return;
	}
	rc = netfront_connect(n);
	if (!check(rc == 0, "netbench: vif 0 connected rc=%d", rc))
		return;
	net_if_init(&nb_ifc, n, net_cmdline_ipv4("ip", 0x0a00030f),
		    net_cmdline_ipv4("mask", 0xffffff00),
		    net_cmdline_ipv4("gw", 0x0a000301));
	peer = net_cmdline_ipv4("peer", nb_ifc.gw);
	rc = net_arp_resolve(&nb_ifc, peer, dmac, 5);
	if (!check(rc == 0, "netbench: ARP for the peer rc=%d", rc))
		return;
	for (k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		size_t len = nb_build(&nb_ifc, dmac, peer, sizes[k]);

		t0 = nb_rdtsc();
		for (i = 0; i < NB_PACKETS; i++)
			bad += netfront_send(n, nb_frame, len) != 0;
		printf("netbench: udp-%u packets=%u bytes=%lu cycles=%lu\n",
		       (unsigned int)len, NB_PACKETS,
		       (unsigned long)(NB_PACKETS * len),
		       (unsigned long)(nb_rdtsc() - t0));
	}
	t0 = nb_rdtsc();
	for (i = 0; i < NB_PINGS; i++)
		bad += net_ping(&nb_ifc, peer, 0x4e42, (uint16_t)i, 56, 0,
				1000 * MS) != 0;
	printf("netbench: ping packets=%u bytes=%lu cycles=%lu\n", NB_PINGS,
	       (unsigned long)NB_PINGS * 98, (unsigned long)(nb_rdtsc() - t0));
	check(bad == 0, "netbench: every send and ping done (%u failed)", bad);
	(void)netfront_disconnect(n);
}
