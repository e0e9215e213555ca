/* SPDX-License-Identifier: MIT */
/*
 * A no-op "xenstored" for bench/xenstore/run.sh: the least work a daemon
 * can do per request with the same I/O as ours (one epoll loop, one recv
 * for whatever has arrived, one send for all the replies), answering each
 * request at once from canned data and storing nothing: OK for writes,
 * "42" for reads, 1000 names for a directory.  Its throughput bounds what
 * any daemon can reach with a given client on a given machine.  Not a
 * daemon: no checks beyond framing, no store, no watches.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <xen/io/xs_wire.h>

#define BUF (64 * 1024)

struct client {
	int fd;
	size_t len;
	char in[BUF];
	char out[BUF + 4096 + 16];
};

static char dirbuf[4096];
static uint32_t dirlen;

static size_t answer(const struct xsd_sockmsg *req, char *out)
{
	struct xsd_sockmsg h = *req;
	const char *body = "OK";
	uint32_t len = 3;

	if (h.type == XS_READ)
		body = "42", len = 2;
	else if (h.type == XS_DIRECTORY)
		body = dirbuf, len = dirlen;
	else if (h.type == XS_TRANSACTION_START)
		body = "1", len = 2;
	h.len = len;
	memcpy(out, &h, sizeof(h));
	memcpy(out + sizeof(h), body, len);
	return sizeof(h) + len;
}

/* Returns -1 when the client is gone. */
static int serve(struct client *c)
{
	size_t off = 0, olen = 0;
	ssize_t n = recv(c->fd, c->in + c->len, BUF - c->len, 0);

	if (n <= 0)
		return -1;
	c->len += (size_t)n;
	while (c->len - off >= sizeof(struct xsd_sockmsg)) {
		struct xsd_sockmsg h;

		memcpy(&h, c->in + off, sizeof(h));
		if (h.len > XENSTORE_PAYLOAD_MAX)
			return -1;
		if (c->len - off < sizeof(h) + h.len ||
		    olen + sizeof(h) + 4096 > sizeof(c->out))
			break;
		olen += answer(&h, c->out + olen);
		off += sizeof(h) + h.len;
	}
	memmove(c->in, c->in + off, c->len - off);
	c->len -= off;
	return olen && send(c->fd, c->out, olen, MSG_NOSIGNAL) < 0 ? -1 : 0;
}

int main(int argc, char **argv)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct epoll_event ev = {.events = EPOLLIN};
	int lfd, ep, i;

	if (argc != 2 || strlen(argv[1]) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "usage: nullxs SOCKET\n");
		return 2;
	}
	for (i = 0; i < 1000; i++)
		dirlen += (uint32_t)sprintf(dirbuf + dirlen, "%d", i) + 1;
	strcpy(sa.sun_path, argv[1]);
	unlink(argv[1]);
	lfd = socket(AF_UNIX, SOCK_STREAM, 0);
	ep = epoll_create1(0);
	ev.data.ptr = NULL;
	if (lfd < 0 || ep < 0 ||
	    bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) || listen(lfd, 64) ||
	    epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev)) {
		perror("nullxs");
		return 1;
	}
	for (;;) {
		struct epoll_event evs[64];
		int n = epoll_wait(ep, evs, 64, -1);

		for (i = 0; i < n; i++) {
			struct client *c = evs[i].data.ptr;

			if (!c) {
				c = calloc(1, sizeof(*c));
				c->fd = accept(lfd, NULL, NULL);
				ev.data.ptr = c;
				if (c->fd < 0 ||
				    epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev)) {
					if (c->fd >= 0)
						close(c->fd);
					free(c);
				}
			} else if (serve(c)) {
				close(c->fd);
				free(c);
			}
		}
	}
}
