/* SPDX-License-Identifier: MIT */
/*
 * One request to a domain's vmm on its control socket
 * (docs/vmm-control.md): connect, a JSON line out, a JSON line back,
 * bounded by a timeout so a wedged vmm cannot hold an API call forever.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "xend.h"

#define VMMCTL_LINE_MAX 65536

static int vmmctl_poll(int fd, short events, double deadline)
{
	struct pollfd p = {.fd = fd, .events = events};
	int ms = (int)((deadline - xend_mono()) * 1000);
	int rc;

	if (ms <= 0)
		return -ETIMEDOUT;
	rc = poll(&p, 1, ms);
	if (rc < 0)
		return errno == EINTR ? 0 : -errno;
	return rc == 0 ? -ETIMEDOUT : 0;
}

/* The first bytes of a request, with fd as SCM_RIGHTS. */
static ssize_t vmmctl_send_fd(int sock, const char *p, size_t len, int fd)
{
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} cm;
	struct iovec iov = {(void *)p, len};
	struct msghdr msg = {.msg_iov = &iov,
			     .msg_iovlen = 1,
			     .msg_control = cm.buf,
			     .msg_controllen = sizeof(cm.buf)};
	struct cmsghdr *h = CMSG_FIRSTHDR(&msg);

	h->cmsg_level = SOL_SOCKET;
	h->cmsg_type = SCM_RIGHTS;
	h->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(h), &fd, sizeof(int));
	return sendmsg(sock, &msg, MSG_NOSIGNAL);
}

json_object *vmmctl_call(int domid, json_object *req, int timeout_ms,
			 char *err, size_t errlen)
{
	return vmmctl_call_fd(domid, req, -1, timeout_ms, err, errlen);
}

json_object *vmmctl_call_fd(int domid, json_object *req, int pass_fd,
			    int timeout_ms, char *err, size_t errlen)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	double deadline = xend_mono() + timeout_ms / 1000.0;
	static __thread char buf[VMMCTL_LINE_MAX];
	const char *line = json_object_to_json_string_ext(
		req, JSON_C_TO_STRING_PLAIN);
	size_t len = strlen(line), off = 0, got = 0;
	json_object *reply = NULL;
	int fd = -1, rc = 0;
	ssize_t n;
	char *nl;

	if (xend_path(sa.sun_path, sizeof(sa.sun_path), "xend/vmm/%d.sock",
		      domid) < 0) {
		snprintf(err, errlen, "control socket path too long");
		return NULL;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		snprintf(err, errlen, "the domain's vmm does not answer on %s: "
			 "%s", sa.sun_path, strerror(errno));
		goto out;
	}
	while (off <= len) {
		const char *p = off < len ? line + off : "\n";
		size_t left = off < len ? len - off : 1;

		if (pass_fd >= 0 && off == 0)
			n = vmmctl_send_fd(fd, p, left, pass_fd);
		else
			n = send(fd, p, left, MSG_NOSIGNAL);
		if (n < 0 && errno == EAGAIN) {
			rc = vmmctl_poll(fd, POLLOUT, deadline);
			if (rc < 0)
				goto io_error;
			continue;
		}
		if (n <= 0)
			goto io_error;
		off += (size_t)n;
	}
	for (;;) {
		n = recv(fd, buf + got, sizeof(buf) - 1 - got, 0);
		if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
			rc = vmmctl_poll(fd, POLLIN, deadline);
			if (rc < 0)
				goto io_error;
			continue;
		}
		if (n <= 0)
			goto io_error;
		got += (size_t)n;
		buf[got] = '\0';
		nl = strchr(buf, '\n');
		if (nl) {
			*nl = '\0';
			break;
		}
		if (got == sizeof(buf) - 1) {
			snprintf(err, errlen, "the vmm's reply is too long");
			goto out;
		}
	}
	reply = json_tokener_parse(buf);
	if (!reply)
		snprintf(err, errlen, "the vmm's reply is not JSON");
	goto out;
io_error:
	snprintf(err, errlen, "talking to domain %d's vmm: %s", domid,
		 errno == ETIMEDOUT || rc == -ETIMEDOUT ? "timed out"
							: strerror(errno));
out:
	if (fd >= 0)
		close(fd);
	return reply;
}

/*
 * The same request to many vmms at once (xm list of hundreds of domains):
 * every connection is opened and sent to first, then the replies are
 * collected as they come, so the wait is the slowest vmm's, not the sum.
 * replies[i] is the reply or NULL (no answer in time, or not JSON).
 */
struct vmmctl_conn {
	int fd;
	char *buf;
	size_t got, cap;
};

static int vmmctl_open(int domid, const char *line, size_t len)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd;

	if (xend_path(sa.sun_path, sizeof(sa.sun_path), "xend/vmm/%d.sock",
		      domid) < 0)
		return -1;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -1;
	/* A short line on a fresh Unix socket goes out whole or not at all. */
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    send(fd, line, len, MSG_NOSIGNAL) != (ssize_t)len) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Reads what is there; true when the conn is finished (reply or error). */
static bool vmmctl_read(struct vmmctl_conn *c, json_object **reply)
{
	ssize_t n;
	char *nl;

	if (c->got + 1 >= c->cap) {
		char *nb;

		if (c->cap >= VMMCTL_LINE_MAX)
			return true;
		nb = realloc(c->buf, c->cap ? c->cap * 2 : 4096);
		if (!nb)
			return true;
		c->buf = nb;
		c->cap = c->cap ? c->cap * 2 : 4096;
	}
	n = recv(c->fd, c->buf + c->got, c->cap - 1 - c->got, 0);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return false;
	if (n <= 0)
		return true;
	c->got += (size_t)n;
	c->buf[c->got] = '\0';
	nl = strchr(c->buf, '\n');
	if (!nl)
		return false;
	*nl = '\0';
	*reply = json_tokener_parse(c->buf);
	return true;
}

void vmmctl_call_many(const int *domids, unsigned int n, json_object *req,
		      int timeout_ms, json_object **replies)
{
	double deadline = xend_mono() + timeout_ms / 1000.0;
	const char *text = json_object_to_json_string_ext(
		req, JSON_C_TO_STRING_PLAIN);
	struct vmmctl_conn *c = calloc(n, sizeof(*c));
	struct pollfd *p = calloc(n, sizeof(*p));
	unsigned int i, pending = 0;
	char *line = NULL;
	int ms;

	for (i = 0; i < n; i++)
		replies[i] = NULL;
	if (!c || !p || asprintf(&line, "%s\n", text) < 0)
		goto out;
	for (i = 0; i < n; i++) {
		c[i].fd = vmmctl_open(domids[i], line, strlen(line));
		if (c[i].fd >= 0)
			pending++;
	}
	while (pending) {
		ms = (int)((deadline - xend_mono()) * 1000);
		if (ms <= 0)
			break;
		for (i = 0; i < n; i++)
			p[i] = (struct pollfd){.fd = c[i].fd, .events = POLLIN};
		if (poll(p, n, ms) < 0 && errno != EINTR)
			break;
		for (i = 0; i < n; i++) {
			if (c[i].fd < 0 || !(p[i].revents & (POLLIN | POLLHUP |
							     POLLERR)))
				continue;
			if (vmmctl_read(&c[i], &replies[i])) {
				close(c[i].fd);
				c[i].fd = -1;
				pending--;
			}
		}
	}
out:
	for (i = 0; c && i < n; i++) {
		if (c[i].fd >= 0)
			close(c[i].fd);
		free(c[i].buf);
	}
	free(c);
	free(p);
	free(line);
}
