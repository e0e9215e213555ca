/* SPDX-License-Identifier: MIT */
/*
 * The control socket's connections (ctl.h).  Everything runs on the
 * domain's loop thread, so a guest that spins on every vCPU cannot stall
 * it, and nothing here takes a lock a vCPU might hold for long.
 *
 * A client is a buffer of CTL_LINE_MAX + 1 bytes: each read appends, each
 * complete line is one request, served in order.  A line that fills the
 * buffer without a newline is over the limit: the rest of it is skipped
 * and its newline answered with an error, so the connection stays in
 * step.  A request whose reply comes later (detach, pause) holds the
 * client: it is not read until that reply is out, which keeps replies in
 * request order without queueing them.  Replies are sent without
 * blocking; a client that lets its socket buffer fill (it sends but never
 * reads) is closed rather than allowed to stall the loop.
 */
#include "ctl.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "ctl_priv.h"
#include "domain.h"
#include "log.h"

static struct log_ratelimit ctl_rl = LOG_RATELIMIT_INIT;

static void ctl_client_free(struct ctl_client *c)
{
	struct ctl *ctl = c->ctl;
	unsigned int i;

	if (c->polled)
		loop_del(&ctl->d->loop, &c->src);
	close(c->fd);
	if (c->passed_fd >= 0)
		close(c->passed_fd);
	for (i = 0; i < CTL_MAX_CLIENTS; i++)
		if (ctl->clients[i] == c)
			ctl->clients[i] = NULL;
	free(c);
}

void ctl_send(struct ctl_client *c, json_object *rep)
{
	const char *s = json_object_to_json_string_ext(rep,
						       JSON_C_TO_STRING_PLAIN);
	struct iovec iov[2];
	struct msghdr msg = {.msg_iov = iov, .msg_iovlen = 2};
	ssize_t n;

	if (!c->dead && s) {
		iov[0] = (struct iovec){(void *)s, strlen(s)};
		iov[1] = (struct iovec){"\n", 1};
		n = sendmsg(c->fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n != (ssize_t)(iov[0].iov_len + 1)) {
			/* Gone, or not reading its replies: it goes. */
			if (n >= 0 || errno == EAGAIN)
				log_warnx_rl(&ctl_rl,
					     "ctl: a client does not read its "
					     "replies: closing it");
			c->dead = true;
		}
	}
	json_object_put(rep);
}

void ctl_send_error(struct ctl_client *c, const char *msg)
{
	json_object *rep = json_object_new_object();

	json_object_object_add(rep, "ok", json_object_new_boolean(0));
	json_object_object_add(rep, "error", json_object_new_string(msg));
	ctl_send(c, rep);
}

static bool ctl_blank(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
			return false;
	return true;
}

/* Serves c's complete lines until one holds it or it dies. */
static void ctl_client_serve(struct ctl_client *c)
{
	size_t off = 0, len;
	char *nl;

	while (!c->pending && !c->dead &&
	       (nl = memchr(c->in + off, '\n', c->in_len - off))) {
		len = (size_t)(nl - (c->in + off));
		if (c->discarding) {
			c->discarding = false;
			ctl_send_error(c, "request line over 1 MiB");
		} else if (!ctl_blank(c->in + off, len)) {
			ctl_cmd_dispatch(c, c->in + off, len);
		}
		off += len + 1;
	}
	memmove(c->in, c->in + off, c->in_len - off);
	c->in_len -= off;
	/* Full and no newline: too long; skip to its end. */
	if (!c->pending && c->in_len == sizeof(c->in)) {
		c->discarding = true;
		c->in_len = 0;
	}
}

/*
 * Reads what the client sent, and a descriptor that came with it (the
 * latest one is kept; any beyond the first of a message is closed).
 */
static ssize_t ctl_client_recv(struct ctl_client *c)
{
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int) * 4)];
	} cm;
	struct iovec iov = {c->in + c->in_len, sizeof(c->in) - c->in_len};
	struct msghdr msg = {.msg_iov = &iov,
			     .msg_iovlen = 1,
			     .msg_control = cm.buf,
			     .msg_controllen = sizeof(cm.buf)};
	struct cmsghdr *h;
	size_t i, nfds;
	ssize_t n;
	int fds[4];

	n = recvmsg(c->fd, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	if (n < 0)
		return n;
	for (h = CMSG_FIRSTHDR(&msg); h; h = CMSG_NXTHDR(&msg, h)) {
		if (h->cmsg_level != SOL_SOCKET || h->cmsg_type != SCM_RIGHTS)
			continue;
		nfds = (h->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		if (nfds > 4)
			nfds = 4;
		memcpy(fds, CMSG_DATA(h), nfds * sizeof(int));
		for (i = 0; i < nfds; i++) {
			if (i == 0) {
				if (c->passed_fd >= 0)
					close(c->passed_fd);
				c->passed_fd = fds[0];
			} else {
				close(fds[i]);
			}
		}
	}
	return n;
}

static void ctl_client_readable(struct domain *d, struct loop_source *s)
{
	struct ctl_client *c = s->arg;
	ssize_t n;

	(void)d;
	n = ctl_client_recv(c);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		/* Gone, perhaps mid-line: what it sent unanswered is moot. */
		ctl_client_free(c);
		return;
	}
	c->in_len += (size_t)n;
	ctl_client_serve(c);
	if (c->dead)
		ctl_client_free(c);
}

void ctl_client_hold(struct ctl_client *c)
{
	c->pending = true;
	if (c->polled) {
		loop_del(&c->ctl->d->loop, &c->src);
		c->polled = false;
	}
}

void ctl_client_resume(struct ctl_client *c)
{
	c->pending = false;
	if (!c->dead)
		ctl_client_serve(c);
	if (c->dead) {
		ctl_client_free(c);
		return;
	}
	if (c->pending || c->polled)
		return;
	if (loop_add(&c->ctl->d->loop, &c->src) < 0) {
		ctl_client_free(c);
		return;
	}
	c->polled = true;
}

static void ctl_accept(struct domain *d, struct loop_source *s)
{
	static const char full[] = "{\"ok\":false,\"error\":\"too many "
				   "control clients\"}\n";
	struct ctl *ctl = s->arg;
	struct ctl_client *c;
	unsigned int i;
	int fd;

	fd = accept4(ctl->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0) {
		if (errno != EAGAIN && errno != EINTR &&
		    errno != ECONNABORTED)
			log_warnx_rl(&ctl_rl, "ctl: accept: %s",
				     strerror(errno));
		return;
	}
	for (i = 0; i < CTL_MAX_CLIENTS && ctl->clients[i]; i++)
		;
	c = i < CTL_MAX_CLIENTS ? calloc(1, sizeof(*c)) : NULL;
	if (!c) {
		log_warnx_rl(&ctl_rl, "ctl: refusing a client: %s",
			     i < CTL_MAX_CLIENTS ? "out of memory"
						 : "too many clients");
		(void)send(fd, full, sizeof(full) - 1,
			   MSG_NOSIGNAL | MSG_DONTWAIT);
		close(fd);
		return;
	}
	c->ctl = ctl;
	c->fd = fd;
	c->passed_fd = -1;
	c->src = (struct loop_source){fd, ctl_client_readable, c};
	if (loop_add(&d->loop, &c->src) < 0) {
		close(fd);
		free(c);
		return;
	}
	c->polled = true;
	ctl->clients[i] = c;
}

static void ctl_pause_rang(struct domain *d, struct loop_source *s)
{
	struct ctl *ctl = s->arg;
	uint64_t n;

	(void)d;
	if (read(ctl->pause_fd, &n, sizeof(n)) == sizeof(n) && ctl->pausing)
		ctl_cmd_paused(ctl);
}

/*
 * A socket file at path: a live server there is an error, a stale
 * socket (its process died) is removed, anything else is left alone.
 */
static int ctl_clear_path(const struct sockaddr_un *sa)
{
	struct stat st;
	int fd, rc;

	if (lstat(sa->sun_path, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISSOCK(st.st_mode)) {
		log_errx("ctl: %s exists and is not a socket", sa->sun_path);
		return -EEXIST;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	rc = connect(fd, (const struct sockaddr *)sa, sizeof(*sa));
	close(fd);
	if (rc == 0) {
		log_errx("ctl: %s is served by another process", sa->sun_path);
		return -EADDRINUSE;
	}
	if (unlink(sa->sun_path) < 0 && errno != ENOENT)
		return -errno;
	return 0;
}

static int ctl_listen(struct ctl *ctl)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	mode_t old;
	int rc;

	memcpy(sa.sun_path, ctl->path, sizeof(sa.sun_path));
	rc = ctl_clear_path(&sa);
	if (rc < 0)
		return rc;
	ctl->listen_fd = socket(AF_UNIX,
				SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (ctl->listen_fd < 0)
		return -errno;
	/* Root's only, from the first moment: no window at a wider mode. */
	old = umask(0177);
	rc = bind(ctl->listen_fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (rc < 0)
		return -errno;
	ctl->bound = true;
	if (chmod(ctl->path, 0600) < 0 ||
	    listen(ctl->listen_fd, CTL_MAX_CLIENTS) < 0)
		return -errno;
	return 0;
}

static void ctl_free(struct ctl *ctl)
{
	unsigned int i;

	for (i = 0; i < CTL_MAX_CLIENTS; i++)
		if (ctl->clients[i])
			ctl_client_free(ctl->clients[i]);
	if (ctl->listen_fd >= 0)
		close(ctl->listen_fd);
	if (ctl->bound && unlink(ctl->path) < 0 && errno != ENOENT)
		log_warn("ctl: removing %s", ctl->path);
	if (ctl->pause_fd >= 0)
		close(ctl->pause_fd);
	free(ctl);
}

int ctl_open(struct domain *d, const char *path)
{
	struct ctl *ctl;
	int rc;

	if (strlen(path) >= sizeof(ctl->path)) {
		log_errx("ctl: %s: too long for a socket path", path);
		return -ENAMETOOLONG;
	}
	ctl = calloc(1, sizeof(*ctl));
	if (!ctl)
		return -ENOMEM;
	ctl->d = d;
	ctl->listen_fd = -1;
	ctl->pause_fd = -1;
	snprintf(ctl->path, sizeof(ctl->path), "%s", path);
	rc = ctl_listen(ctl);
	if (rc < 0) {
		if (rc != -EEXIST && rc != -EADDRINUSE)
			log_errx("ctl: listening on %s: %s", path,
				 strerror(-rc));
		goto fail;
	}
	ctl->pause_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (ctl->pause_fd < 0) {
		rc = -errno;
		log_err("ctl: eventfd");
		goto fail;
	}
	ctl->listen_src = (struct loop_source){ctl->listen_fd, ctl_accept, ctl};
	ctl->pause_src = (struct loop_source){ctl->pause_fd, ctl_pause_rang,
					      ctl};
	rc = loop_add(&d->loop, &ctl->pause_src);
	if (rc == 0)
		rc = loop_add(&d->loop, &ctl->listen_src);
	if (rc < 0) {
		loop_del(&d->loop, &ctl->pause_src);
		goto fail;
	}
	d->ctl = ctl;
	log_info("ctl: listening on %s", path);
	return 0;
fail:
	ctl_free(ctl);
	return rc;
}

void ctl_destroy(struct domain *d)
{
	struct ctl *ctl = d->ctl;

	if (!ctl)
		return;
	if (ctl->pausing) {
		/*
		 * domain_pause() returns once the domain is going (it is,
		 * unless the VMM failed to start it: then this is an error).
		 */
		domain_shutdown(d, VMM_EXIT_ERROR);
		pthread_join(ctl->pause_thread, NULL);
		ctl->pausing = false;
	}
	ctl_free(ctl);
	d->ctl = NULL;
}
