/* SPDX-License-Identifier: MIT */
/*
 * xenstored: the XenStore daemon.  One epoll loop serves dom0's clients on
 * a Unix socket, the hypervisor port where each domain's xenia-vmm hands
 * over its ring, and the rings themselves.  All protocol logic lives in the
 * library (store.h); this file only moves bytes.
 *
 * After each batch of events the journal is written (and synced, with
 * --sync) and only then are replies and watch events written out, so no
 * client ever hears of a change that a crash could take back.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "../common/log.h"
#include "daemon.h"
#include "store.h"

struct daemon xsd;

struct sock_client {
	struct ev_src src;
	int fd;
	uint32_t events;
	struct xs_conn *conn;
};

static struct ev_src listen_src, signal_src;
static int listen_fd = -1, signal_fd = -1;

int ev_add(int fd, struct ev_src *src, uint32_t events)
{
	struct epoll_event ev = {.events = events, .data.ptr = src};

	return epoll_ctl(xsd.epfd, EPOLL_CTL_ADD, fd, &ev) ? -errno : 0;
}

int ev_mod(int fd, struct ev_src *src, uint32_t events)
{
	struct epoll_event ev = {.events = events, .data.ptr = src};

	return epoll_ctl(xsd.epfd, EPOLL_CTL_MOD, fd, &ev) ? -errno : 0;
}

void ev_del(int fd)
{
	epoll_ctl(xsd.epfd, EPOLL_CTL_DEL, fd, NULL);
}

void ev_bury(struct ev_src *src)
{
	if (src->dead)
		return;
	src->dead = true;
	list_add_tail(&src->dead_link, &xsd.graveyard);
}

/* --- dom0 clients on the Unix socket ----------------------------------- */

static void client_close(struct sock_client *cl)
{
	if (cl->src.dead)
		return;
	ev_del(cl->fd);
	close(cl->fd);
	xs_conn_free(cl->conn);
	cl->conn = NULL;
	ev_bury(&cl->src);
}

static void client_set_events(struct sock_client *cl, uint32_t events)
{
	if (cl->events == events)
		return;
	if (ev_mod(cl->fd, &cl->src, events)) {
		log_warn("xenstored: epoll");
		client_close(cl);
		return;
	}
	cl->events = events;
}

/* Write what we can; wait for EPOLLOUT for the rest. */
static void client_flush(struct xs_conn *c)
{
	struct sock_client *cl = xs_conn_opaque(c);
	size_t len, room;
	const uint8_t *p;

	for (;;) {
		ssize_t n;

		p = xs_conn_output(c, &len);
		if (!len)
			break;
		n = send(cl->fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		if (n <= 0) {
			client_close(cl);
			return;
		}
		xs_conn_output_done(c, (size_t)n);
	}
	xs_conn_output(c, &len);
	if (xs_conn_closing(c)) {
		/* It broke the protocol: say what is queued, then hang up. */
		if (!len)
			client_close(cl);
		else
			client_set_events(cl, EPOLLOUT);
		return;
	}
	xs_conn_input_space(c, &room);
	if (!room && !len) {
		/* Replies drained: requests held back may go now. */
		if (xs_conn_resume(c)) {
			client_close(cl);
			return;
		}
		xs_conn_input_space(c, &room);
		xs_conn_output(c, &len);
	}
	client_set_events(cl, (room ? EPOLLIN : 0) | (len ? EPOLLOUT : 0));
}

static const struct xs_conn_ops client_ops = {
	.kind = "socket",
	.flush = client_flush,
};

static void client_handle(struct ev_src *src, uint32_t events)
{
	struct sock_client *cl = (struct sock_client *)src;
	uint8_t *space;
	size_t room;
	ssize_t n;

	if (events & EPOLLOUT)
		client_flush(cl->conn);
	if (cl->src.dead || !(events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
		return;
	space = xs_conn_input_space(cl->conn, &room);
	if (!room) {
		/* Held back until its replies drain. */
		client_set_events(cl, EPOLLOUT);
		return;
	}
	n = recv(cl->fd, space, room, MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		client_close(cl);
		return;
	}
	if (xs_conn_input_done(cl->conn, (size_t)n) < 0) {
		log_debug("xenstored: dropping a client that broke the "
			  "protocol");
		client_close(cl);
	}
}

static void listen_handle(struct ev_src *src, uint32_t events)
{
	struct sock_client *cl;
	int fd;

	(void)src;
	(void)events;
	fd = accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0) {
		if (errno != EAGAIN && errno != EINTR)
			log_warn("xenstored: accept");
		return;
	}
	cl = calloc(1, sizeof(*cl));
	if (!cl)
		goto fail;
	cl->fd = fd;
	cl->src.handle = client_handle;
	cl->events = EPOLLIN;
	/* Socket clients are the toolstack: dom0, privileged. */
	cl->conn = xs_conn_new(xsd.store, 0, &client_ops, cl);
	if (!cl->conn)
		goto fail;
	if (ev_add(fd, &cl->src, EPOLLIN)) {
		xs_conn_free(cl->conn);
		goto fail;
	}
	return;
fail:
	log_warnx("xenstored: cannot take a new client");
	free(cl);
	close(fd);
}

static void signal_handle(struct ev_src *src, uint32_t events)
{
	struct signalfd_siginfo si;

	(void)src;
	(void)events;
	if (read(signal_fd, &si, sizeof(si)) == sizeof(si)) {
		log_info("xenstored: signal %u, stopping", si.ssi_signo);
		xsd.stopping = true;
	}
}

/* --- set-up ------------------------------------------------------------ */

static int open_listener(const char *path, int type, int *out)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd, rc;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		log_warnx("xenstored: socket path too long: %s", path);
		return -ENAMETOOLONG;
	}
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* The data-dir lock already proved no other daemon is here. */
	unlink(path);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    chmod(path, 0600) || listen(fd, 128)) {
		rc = -errno;
		log_warn("xenstored: cannot listen on %s", path);
		close(fd);
		return rc;
	}
	*out = fd;
	return 0;
}

static int mkdir_p(const char *dir, mode_t mode)
{
	char buf[4096];
	size_t i, len = strlen(dir);

	if (len >= sizeof(buf))
		return -ENAMETOOLONG;
	memcpy(buf, dir, len + 1);
	for (i = 1; i <= len; i++) {
		if (buf[i] != '/' && buf[i] != '\0')
			continue;
		buf[i] = '\0';
		if (mkdir(buf, mode) && errno != EEXIST)
			return -errno;
		buf[i] = dir[i];
	}
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: xenstored [options]\n"
		"  --rundir DIR     run directory (default $XENIA_RUNDIR or "
		"/run/xenia)\n"
		"  --data-dir DIR   where the tree is kept (default "
		"RUNDIR/xenstored)\n"
		"  --sync           fdatasync each batch of changes before "
		"replying\n"
		"  --keep-orphans   keep the nodes of a domain that died\n"
		"  -Q NAME=VALUE    set a domain quota (nodes, node-size, "
		"watches,\n"
		"                   transactions, transaction-nodes, perms, "
		"outstanding,\n"
		"                   path-max, event-queue)\n"
		"  -v, --verbose    log debug messages\n"
		"  -h, --help       this text\n"
		"Serves RUNDIR/xenstored/socket (dom0 clients) and "
		"RUNDIR/xenstored/hv.sock\n"
		"(hypervisor registrations of domain rings).\n");
}

struct options {
	const char *rundir;
	const char *datadir;
	bool sync;
	bool keep_orphans;
	struct xs_quota quota;
};

static int parse_args(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
		{"rundir", required_argument, NULL, 'r'},
		{"data-dir", required_argument, NULL, 'd'},
		{"sync", no_argument, NULL, 's'},
		{"keep-orphans", no_argument, NULL, 'k'},
		{"quota", required_argument, NULL, 'Q'},
		{"verbose", no_argument, NULL, 'v'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0}};
	int ch;

	o->rundir = getenv("XENIA_RUNDIR");
	if (!o->rundir || !*o->rundir)
		o->rundir = "/run/xenia";
	xs_quota_defaults(&o->quota);
	while ((ch = getopt_long(argc, argv, "Q:vh", longopts, NULL)) != -1) {
		switch (ch) {
		case 'r':
			o->rundir = optarg;
			break;
		case 'd':
			o->datadir = optarg;
			break;
		case 's':
			o->sync = true;
			break;
		case 'k':
			o->keep_orphans = true;
			break;
		case 'Q':
			if (xs_quota_parse(&o->quota, optarg)) {
				fprintf(stderr,
					"xenstored: bad quota '%s' (want "
					"NAME=NUMBER)\n",
					optarg);
				return -EINVAL;
			}
			break;
		case 'v':
			log_set_level(LOG_LVL_DEBUG);
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return -EINVAL;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return -EINVAL;
	}
	return 0;
}

static int write_pidfile(const char *path)
{
	FILE *f = fopen(path, "w");

	if (!f)
		return -errno;
	fprintf(f, "%ld\n", (long)getpid());
	return fclose(f) ? -errno : 0;
}

static void reap_graveyard(void)
{
	while (!list_empty(&xsd.graveyard)) {
		struct ev_src *src = list_entry(xsd.graveyard.next,
						struct ev_src, dead_link);

		list_del(&src->dead_link);
		free(src);
	}
}

static int run_loop(void)
{
	struct epoll_event evs[64];

	while (!xsd.stopping) {
		int n = epoll_wait(xsd.epfd, evs, 64, -1), i, rc;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			log_warn("xenstored: epoll_wait");
			return -errno;
		}
		for (i = 0; i < n; i++) {
			struct ev_src *src = evs[i].data.ptr;

			if (!src->dead)
				src->handle(src, evs[i].events);
		}
		rc = xs_store_commit(xsd.store);
		if (rc) {
			errno = -rc;
			log_warn("xenstored: cannot write the journal");
		}
		xs_store_flush(xsd.store);
		reap_graveyard();
	}
	return 0;
}

int main(int argc, char **argv)
{
	char *dir = NULL, *sock = NULL, *hv = NULL, *pid = NULL, *data = NULL;
	struct options o = {0};
	sigset_t mask;
	int rc;

	log_init("xenstored", LOG_LVL_INFO);
	if (parse_args(argc, argv, &o))
		return 2;
	list_init(&xsd.graveyard);
	if (asprintf(&dir, "%s/xenstored", o.rundir) < 0 ||
	    asprintf(&sock, "%s/socket", dir) < 0 ||
	    asprintf(&hv, "%s/hv.sock", dir) < 0 ||
	    asprintf(&pid, "%s/pid", dir) < 0 ||
	    !(data = o.datadir ? strdup(o.datadir) : strdup(dir))) {
		log_errx("xenstored: out of memory");
		return 1;
	}
	rc = mkdir_p(dir, 0700);
	if (rc) {
		errno = -rc;
		log_err("xenstored: cannot create %s", dir);
		return 1;
	}
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	xsd.store = xs_store_new(&o.quota);
	if (!xsd.store) {
		log_errx("xenstored: out of memory");
		return 1;
	}
	xs_store_keep_orphans(xsd.store, o.keep_orphans);
	rc = xs_store_open_journal(xsd.store, data, o.sync);
	if (rc) {
		errno = -rc;
		log_err("xenstored: cannot open the store in %s", data);
		return 1;
	}
	xsd.epfd = epoll_create1(EPOLL_CLOEXEC);
	signal_fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	if (xsd.epfd < 0 || signal_fd < 0) {
		log_err("xenstored: epoll/signalfd");
		return 1;
	}
	signal_src.handle = signal_handle;
	listen_src.handle = listen_handle;
	if (open_listener(sock, SOCK_STREAM, &listen_fd) ||
	    ev_add(listen_fd, &listen_src, EPOLLIN) ||
	    ev_add(signal_fd, &signal_src, EPOLLIN) || hvport_open(hv))
		return 1;
	rc = write_pidfile(pid);
	if (rc) {
		errno = -rc;
		log_warn("xenstored: cannot write %s", pid);
	}
	log_info("xenstored: serving %s", sock);
	rc = run_loop();
	/* A clean stop leaves a fresh snapshot and an empty log. */
	if (xs_store_checkpoint(xsd.store))
		log_warnx("xenstored: final snapshot failed; the log keeps "
			  "everything");
	hvport_close();
	unlink(sock);
	unlink(pid);
	xs_store_free(xsd.store);
	free(dir);
	free(sock);
	free(hv);
	free(pid);
	free(data);
	return rc ? 1 : 0;
}
