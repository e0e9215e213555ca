/* SPDX-License-Identifier: MIT */
/*
 * A vif's host side as a tap device (nethost.h): vif<domid>.<devid>, the
 * name Xen's hotplug scripts give the backend interface, so bridges,
 * firewall rules and `ip link` read as on Xen.  The tap is not persistent:
 * it disappears when we close its fd (the domain ends), as Xen removes
 * vif<domid>.<n> on destroy.  Its own MAC is fe:ff:ff:ff:ff:ff like
 * Xen's: a bridge takes the lowest MAC of its ports as its own, and must
 * never pick the guest's.
 *
 * Frames are read on the domain's loop, at most NETHOST_TAP_BUDGET per
 * wake-up (the fd is level-triggered, so the loop comes back for the
 * rest and the domain's other sources get their turn).  Writes are
 * non-blocking: a full tap queue drops the frame, as a NIC would.
 */
#include "nethost.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_arp.h>
#include <linux/if_tun.h>
#include <linux/sockios.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "loop.h"

/* linux/if.h and net/if.h do not mix: the one function we need. */
extern unsigned int if_nametoindex(const char *ifname);

#define NETHOST_TAP_BUDGET 64
#define NETHOST_TAP_FRAME 65536u

struct nethost_tap {
	struct nethost h;
	struct loop *loop;
	struct loop_source src;
	bool added;
	int fd;
	char ifname[IFNAMSIZ];
	uint8_t *buf;
	struct log_ratelimit rl;
};

static void tap_readable(struct domain *d, struct loop_source *s)
{
	struct nethost_tap *t = s->arg;
	ssize_t n;
	int i;

	(void)d;
	for (i = 0; i < NETHOST_TAP_BUDGET; i++) {
		n = read(t->fd, t->buf, NETHOST_TAP_FRAME);
		if (n < 0) {
			if (errno != EAGAIN && errno != EINTR &&
			    log_ratelimit_ok(&t->rl))
				log_warn("nethost: %s: read", t->ifname);
			return;
		}
		if (n == 0)
			return;
		t->h.received++;
		if (t->h.rx)
			t->h.rx(t->h.rx_ctx, t->buf, (size_t)n);
	}
}

static int tap_send(struct nethost *h, const void *frame, size_t len)
{
	struct nethost_tap *t = (struct nethost_tap *)h;

	if (write(t->fd, frame, len) != (ssize_t)len) {
		h->send_errors++;
		return errno ? -errno : -EIO;
	}
	h->sent++;
	return 0;
}

static void tap_close(struct nethost *h)
{
	struct nethost_tap *t = (struct nethost_tap *)h;

	if (t->added)
		loop_del(t->loop, &t->src);
	if (t->fd >= 0)
		close(t->fd); /* not persistent: the interface goes */
	free(t->buf);
	free(t);
}

static const struct nethost_ops tap_ops = {
    .kind = "tap",
    .send = tap_send,
    .close = tap_close,
};

/* One SIOC* ioctl on an interface; -errno with a message. */
static int tap_ioctl(int sock, unsigned long req, struct ifreq *ifr,
		     const char *what)
{
	if (ioctl(sock, req, ifr) < 0) {
		int rc = -errno;

		log_err("nethost: %s: %s", ifr->ifr_name, what);
		return rc;
	}
	return 0;
}

/*
 * The bridge must exist; whether it is a bridge shows when the port is
 * added (EOPNOTSUPP).  Not through /sys: sysfs shows the network
 * namespace it was mounted in, which need not be ours.
 */
static int tap_bridge_check(const char *bridge)
{
	if (strlen(bridge) >= IFNAMSIZ || strchr(bridge, '/')) {
		log_errx("nethost: bridge '%s': not an interface name", bridge);
		return -EINVAL;
	}
	if (!if_nametoindex(bridge)) {
		log_errx("nethost: bridge %s does not exist (create it with "
			 "`ip link add %s type bridge`)",
			 bridge, bridge);
		return -ENODEV;
	}
	return 0;
}

/* MTU, MAC, up, and into the bridge. */
static int tap_configure(struct nethost_tap *t, const struct nethost_config *c)
{
	struct ifreq ifr;
	int sock, rc;

	sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (sock < 0) {
		log_err("nethost: socket");
		return -errno;
	}
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", t->ifname);
	ifr.ifr_mtu = (int)c->mtu;
	rc = tap_ioctl(sock, SIOCSIFMTU, &ifr, "setting the MTU");
	if (rc == 0) {
		ifr.ifr_hwaddr.sa_family = ARPHRD_ETHER;
		memset(ifr.ifr_hwaddr.sa_data, 0xff, 6);
		ifr.ifr_hwaddr.sa_data[0] = (char)0xfe;
		rc = tap_ioctl(sock, SIOCSIFHWADDR, &ifr, "setting the MAC");
	}
	if (rc == 0)
		rc = tap_ioctl(sock, SIOCGIFFLAGS, &ifr, "reading its flags");
	if (rc == 0) {
		ifr.ifr_flags |= IFF_UP;
		rc = tap_ioctl(sock, SIOCSIFFLAGS, &ifr, "bringing it up");
	}
	if (rc == 0 && c->bridge && *c->bridge) {
		memset(&ifr, 0, sizeof(ifr));
		snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", c->bridge);
		ifr.ifr_ifindex = (int)if_nametoindex(t->ifname);
		if (ioctl(sock, SIOCBRADDIF, &ifr) < 0) {
			rc = -errno;
			if (rc == -EOPNOTSUPP || rc == -EINVAL)
				log_errx("nethost: %s is not a bridge",
					 c->bridge);
			else
				log_err("nethost: %s: adding %s", c->bridge,
					t->ifname);
		}
	}
	close(sock);
	return rc;
}

int nethost_tap_open(struct nethost **out, const struct nethost_config *c)
{
	struct nethost_tap *t;
	struct ifreq ifr;
	int rc;

	*out = NULL;
	if (c->bridge && *c->bridge) {
		rc = tap_bridge_check(c->bridge);
		if (rc < 0)
			return rc;
	}
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->h.ops = &tap_ops;
	t->h.rx = c->rx;
	t->h.rx_ctx = c->rx_ctx;
	t->loop = c->loop;
	t->rl = (struct log_ratelimit)LOG_RATELIMIT_INIT;
	snprintf(t->ifname, sizeof(t->ifname), "vif%u.%u", c->domid, c->devid);
	t->buf = malloc(NETHOST_TAP_FRAME);
	t->fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (!t->buf || t->fd < 0) {
		rc = t->buf ? -errno : -ENOMEM;
		log_err("nethost: %s: /dev/net/tun", t->ifname);
		goto fail;
	}
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", t->ifname);
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
	if (ioctl(t->fd, TUNSETIFF, &ifr) < 0) {
		rc = -errno;
		if (rc == -EBUSY)
			log_errx("nethost: %s exists already (another "
				 "domain with id %u?)",
				 t->ifname, c->domid);
		else
			log_err("nethost: %s: TUNSETIFF (creating taps needs "
				"CAP_NET_ADMIN; without it, leave out bridge= "
				"for user-mode networking)",
				t->ifname);
		goto fail;
	}
	rc = tap_configure(t, c);
	if (rc < 0)
		goto fail;
	if (t->loop) {
		t->src = (struct loop_source){t->fd, tap_readable, t};
		rc = loop_add(t->loop, &t->src);
		if (rc < 0)
			goto fail;
		t->added = true;
	}
	log_info("nethost: %s up%s%s", t->ifname,
		 c->bridge && *c->bridge ? " on bridge " : "",
		 c->bridge ? c->bridge : "");
	*out = &t->h;
	return 0;
fail:
	tap_close(&t->h);
	return rc;
}
