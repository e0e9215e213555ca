/* SPDX-License-Identifier: MIT */
/*
 * bench/net's peer: the host sending the test guest's netbench traffic
 * itself, through a tap of its own on the same bridge: the same frames
 * (Ethernet + IPv4 + UDP to port 9 of the bridge's address), written to
 * the tap fd, 64 and 1400 bytes.  Prints "hostnet: KIND packets=N
 * bytes=B ns=T" per kind and the process's CPU time.
 *   hostnet TAPNAME BRIDGE SRC_IP DST_IP
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define PACKETS 2000u

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint16_t csum(const uint8_t *p, size_t n)
{
	uint32_t s = 0;
	size_t i;

	for (i = 0; i + 1 < n; i += 2)
		s += (uint32_t)p[i] << 8 | p[i + 1];
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

int main(int argc, char **argv)
{
	static const size_t sizes[] = {64, 1400};
	uint8_t frame[1514], dmac[6], smac[6] = {0x02, 0, 0, 0, 0, 0x99};
	struct in_addr src, dst;
	struct ifreq ifr;
	struct rusage ru;
	int tap, s, k;
	unsigned int i;

	if (argc != 5 || !inet_aton(argv[3], &src) || !inet_aton(argv[4], &dst)) {
		fprintf(stderr, "usage: hostnet TAP BRIDGE SRC_IP DST_IP\n");
		return 2;
	}
	tap = open("/dev/net/tun", O_RDWR);
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
	snprintf(ifr.ifr_name, IFNAMSIZ, "%s", argv[1]);
	if (tap < 0 || ioctl(tap, TUNSETIFF, &ifr) < 0) {
		perror("hostnet: tap");
		return 1;
	}
	s = socket(AF_INET, SOCK_DGRAM, 0);
	ifr.ifr_flags = IFF_UP;
	if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0) {
		perror("hostnet: up");
		return 1;
	}
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, IFNAMSIZ, "%s", argv[2]);
	if (ioctl(s, SIOCGIFHWADDR, &ifr) < 0) {
		perror("hostnet: bridge MAC");
		return 1;
	}
	memcpy(dmac, ifr.ifr_hwaddr.sa_data, 6);
	ifr.ifr_ifindex = (int)if_nametoindex(argv[1]);
	if (ioctl(s, SIOCBRADDIF, &ifr) < 0) {
		perror("hostnet: onto the bridge");
		return 1;
	}
	for (k = 0; k < 2; k++) {
		size_t len = sizes[k], ip_len = len - 14;
		uint8_t *ip = frame + 14, *udp = ip + 20;
		uint16_t c;
		uint64_t t0;

		memset(frame, 0xa5, sizeof(frame));
		memcpy(frame, dmac, 6);
		memcpy(frame + 6, smac, 6);
		frame[12] = 0x08;
		frame[13] = 0x00;
		memset(ip, 0, 20);
		ip[0] = 0x45;
		ip[2] = (uint8_t)(ip_len >> 8);
		ip[3] = (uint8_t)ip_len;
		ip[8] = 64;
		ip[9] = 17;
		memcpy(ip + 12, &src, 4);
		memcpy(ip + 16, &dst, 4);
		c = csum(ip, 20);
		ip[10] = (uint8_t)(c >> 8);
		ip[11] = (uint8_t)c;
		udp[0] = 0x27; udp[1] = 0x0f; udp[2] = 0; udp[3] = 9;
		udp[4] = (uint8_t)((ip_len - 20) >> 8);
		udp[5] = (uint8_t)(ip_len - 20);
		udp[6] = udp[7] = 0;
		t0 = now_ns();
		for (i = 0; i < PACKETS; i++)
			if (write(tap, frame, len) != (ssize_t)len) {
				perror("hostnet: write");
				return 1;
			}
		printf("hostnet: udp-%zu packets=%u bytes=%zu ns=%llu\n", len,
		       PACKETS, PACKETS * len,
		       (unsigned long long)(now_ns() - t0));
	}
	getrusage(RUSAGE_SELF, &ru);
	printf("hostnet: cpu_us=%ld packets=%u\n",
	       (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000 +
		   ru.ru_utime.tv_usec + ru.ru_stime.tv_usec,
	       2 * PACKETS);
	close(tap);
	close(s);
	return 0;
}
