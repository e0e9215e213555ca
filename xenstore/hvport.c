/* SPDX-License-Identifier: MIT */
/*
 * The hypervisor port: where a domain's xenia-vmm registers the domain,
 * handing over the guest's memory (a memfd) and two eventfds that stand in
 * for the store event channel.  XS_INTRODUCE then names the ring page and
 * the ring is served as that domain.  Closing the registration means the
 * domain is gone.  The message format is in docs/xenstore.md.
 *
 * The port is a SOCK_SEQPACKET socket readable by root only; what comes
 * through it is from the hypervisor, but it is still checked (fd types,
 * sizes, domain ids) so a confused vmm cannot crash the daemon.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "../common/log.h"
#include "daemon.h"
#include "hvport.h"
#include "internal.h"
#include "ring.h"

#define PAGE_SIZE 4096u

struct hv_client {
	struct ev_src src; /* the registration socket; first: freed whole */
	struct ev_src ring_src; /* the kick eventfd, while attached */
	int fd;
	uint32_t domid; /* 0 until registered */
	int mem_fd, kick_fd, notify_fd;
	void *page;
	struct xs_ring *ring;
};

static struct ev_src hv_listen_src;
static int hv_listen_fd = -1;
static struct hv_client *hv_domains[XS_DOMID_LIMIT];

static void ring_kick_handle(struct ev_src *src, uint32_t events)
{
	struct hv_client *hc = (struct hv_client *)((char *)src -
			       offsetof(struct hv_client, ring_src));

	(void)events;
	if (hc->ring)
		xs_ring_kick(hc->ring);
}

static struct xs_conn *hv_attach(void *opaque, uint32_t domid, uint64_t gfn,
				 uint32_t port)
{
	struct hv_client *hc = domid < XS_DOMID_LIMIT ? hv_domains[domid]
						      : NULL;
	uint64_t one = 1;
	struct stat st;
	void *page;

	(void)opaque;
	(void)port;
	if (!hc || hc->ring)
		return NULL;
	if (fstat(hc->mem_fd, &st) || gfn >= (uint64_t)st.st_size / PAGE_SIZE) {
		log_warnx("hvport: domain %u: ring gfn %#llx is outside its "
			  "memory",
			  domid, (unsigned long long)gfn);
		return NULL;
	}
	page = mmap(NULL, PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED,
		    hc->mem_fd, (off_t)(gfn * PAGE_SIZE));
	if (page == MAP_FAILED) {
		log_warn("hvport: domain %u: cannot map its ring", domid);
		return NULL;
	}
	hc->ring = xs_ring_new(xsd.store, domid, page, hc->kick_fd,
			       hc->notify_fd);
	hc->ring_src.handle = ring_kick_handle;
	hc->ring_src.dead = false;
	if (!hc->ring || ev_add(hc->kick_fd, &hc->ring_src, EPOLLIN)) {
		xs_ring_free(hc->ring);
		hc->ring = NULL;
		munmap(page, PAGE_SIZE);
		return NULL;
	}
	hc->page = page;
	/*
	 * Requests may already be waiting in the ring.  They are read from
	 * the loop, not here: the store has yet to make this connection its
	 * domain's and give it the watches it kept, which a request (an
	 * UNWATCH, a RESET_WATCHES) may change.
	 */
	if (write(hc->kick_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		log_warn("hvport: domain %u: cannot kick its ring", domid);
	return xs_ring_conn(hc->ring);
}

static void hv_detach_ring(struct hv_client *hc)
{
	if (!hc->ring)
		return;
	ev_del(hc->kick_fd);
	hc->ring_src.dead = true;
	xs_ring_free(hc->ring);
	hc->ring = NULL;
	munmap(hc->page, PAGE_SIZE);
	hc->page = NULL;
}

static void hv_detach(void *opaque, uint32_t domid, struct xs_conn *c)
{
	struct hv_client *hc = domid < XS_DOMID_LIMIT ? hv_domains[domid]
						      : NULL;

	(void)opaque;
	if (hc && hc->ring && xs_ring_conn(hc->ring) == c)
		hv_detach_ring(hc);
	else
		xs_conn_free(c);
}

static void hv_close(struct hv_client *hc)
{
	if (hc->src.dead)
		return;
	if (hc->domid) {
		hv_domains[hc->domid] = NULL;
		hv_detach_ring(hc);
		/* Detaches nothing more; fires @releaseDomain. */
		xs_domain_unregister(xsd.store, hc->domid);
	}
	ev_del(hc->fd);
	close(hc->fd);
	if (hc->mem_fd >= 0)
		close(hc->mem_fd);
	if (hc->kick_fd >= 0)
		close(hc->kick_fd);
	if (hc->notify_fd >= 0)
		close(hc->notify_fd);
	hc->ring_src.dead = true;
	ev_bury(&hc->src);
}

static void hv_reply(struct hv_client *hc, int status)
{
	struct hvport_reply rep = {.magic = HVPORT_MAGIC, .status = status};

	if (send(hc->fd, &rep, sizeof(rep), MSG_NOSIGNAL | MSG_DONTWAIT) !=
	    sizeof(rep))
		log_warn("hvport: cannot answer a registration");
}

/* Take the fds of a message; returns how many (up to max), -1 if cut. */
static int hv_recv(int fd, struct hvport_msg *msg, int *fds, int max)
{
	char cbuf[CMSG_SPACE(sizeof(int) * 8)];
	struct iovec iov = {.iov_base = msg, .iov_len = sizeof(*msg)};
	struct msghdr mh = {.msg_iov = &iov,
			    .msg_iovlen = 1,
			    .msg_control = cbuf,
			    .msg_controllen = sizeof(cbuf)};
	struct cmsghdr *cm;
	ssize_t n;
	int nfds = 0, i;

	n = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
	if (n <= 0)
		return n == 0 ? -2 : (errno == EAGAIN ? -3 : -2);
	for (cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
		int *p = (int *)CMSG_DATA(cm);
		int cnt;

		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		cnt = (int)((cm->cmsg_len - CMSG_LEN(0)) / sizeof(int));
		for (i = 0; i < cnt; i++) {
			if (nfds < max)
				fds[nfds++] = p[i];
			else
				close(p[i]); /* more than we asked for */
		}
	}
	if ((size_t)n != sizeof(*msg) || (mh.msg_flags & MSG_CTRUNC))
		return -1;
	return nfds;
}

static int hv_register(struct hv_client *hc, const struct hvport_msg *msg,
		       int *fds, int nfds)
{
	struct stat st;
	int rc, i;

	if (msg->magic != HVPORT_MAGIC || msg->op != HVPORT_OP_REGISTER ||
	    nfds != 3)
		return -EINVAL;
	if (hc->domid)
		return -EISCONN;
	if (msg->domid == 0 || msg->domid >= XS_DOMID_LIMIT)
		return -EINVAL;
	if (fstat(fds[0], &st) || !S_ISREG(st.st_mode) ||
	    st.st_size < PAGE_SIZE)
		return -EINVAL;
	for (i = 1; i < 3; i++)
		if (fstat(fds[i], &st) || S_ISDIR(st.st_mode))
			return -EINVAL;
	if (hv_domains[msg->domid])
		return -EEXIST;
	hc->mem_fd = fds[0];
	hc->kick_fd = fds[1];
	hc->notify_fd = fds[2];
	hc->domid = msg->domid;
	hv_domains[hc->domid] = hc;
	/* May attach at once, if the domain was introduced before. */
	rc = xs_domain_register(xsd.store, hc->domid);
	if (rc) {
		hv_domains[hc->domid] = NULL;
		hc->domid = 0;
		hc->mem_fd = hc->kick_fd = hc->notify_fd = -1;
	}
	return rc;
}

static void hv_handle(struct ev_src *src, uint32_t events)
{
	struct hv_client *hc = (struct hv_client *)src;
	struct hvport_msg msg;
	int fds[3], nfds, rc, i;

	(void)events;
	nfds = hv_recv(hc->fd, &msg, fds, 3);
	if (nfds == -3)
		return;
	if (nfds == -2) {
		hv_close(hc);
		return;
	}
	rc = nfds < 0 ? -EINVAL : hv_register(hc, &msg, fds, nfds);
	if (rc) {
		for (i = 0; i < nfds; i++)
			close(fds[i]);
		log_warnx("hvport: registration refused: %s", strerror(-rc));
	}
	hv_reply(hc, rc);
}

static void hv_listen_handle(struct ev_src *src, uint32_t events)
{
	struct hv_client *hc;
	int fd;

	(void)src;
	(void)events;
	fd = accept4(hv_listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0)
		return;
	hc = calloc(1, sizeof(*hc));
	if (!hc) {
		close(fd);
		return;
	}
	hc->fd = fd;
	hc->mem_fd = hc->kick_fd = hc->notify_fd = -1;
	hc->src.handle = hv_handle;
	if (ev_add(fd, &hc->src, EPOLLIN)) {
		close(fd);
		free(hc);
	}
}

int hvport_open(const char *path)
{
	static const struct xs_domain_hooks hooks = {
		.attach = hv_attach,
		.detach = hv_detach,
	};
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int rc;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	hv_listen_fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK |
					       SOCK_CLOEXEC,
			      0);
	if (hv_listen_fd < 0)
		return -errno;
	unlink(path);
	if (bind(hv_listen_fd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    chmod(path, 0600) || listen(hv_listen_fd, 64)) {
		rc = -errno;
		log_warn("hvport: cannot listen on %s", path);
		return rc;
	}
	hv_listen_src.handle = hv_listen_handle;
	xs_store_set_domain_hooks(xsd.store, &hooks);
	return ev_add(hv_listen_fd, &hv_listen_src, EPOLLIN);
}

void hvport_close(void)
{
	unsigned int i;

	for (i = 0; i < XS_DOMID_LIMIT; i++)
		if (hv_domains[i])
			hv_detach_ring(hv_domains[i]);
	if (hv_listen_fd >= 0)
		close(hv_listen_fd);
}
