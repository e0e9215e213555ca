/* SPDX-License-Identifier: MIT */
/*
 * xend's XenStore: Xen's own client library on xenstored's socket in the
 * run directory, started here when no xenstored answers there.  Small
 * printf-style helpers keep the callers short.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <xenstore.h>

#include "log.h"
#include "xend.h"

#define STORE_PATH_MAX 512

static int store_vpath(char *buf, const char *fmt, va_list ap)
{
	int n = vsnprintf(buf, STORE_PATH_MAX, fmt, ap);

	return n < 0 || n >= STORE_PATH_MAX ? -ENAMETOOLONG : 0;
}

/* path <- fmt and the caller's variadic arguments; rc says if it fit. */
#define STORE_PATH(path, fmt, rc)                                              \
	do {                                                                   \
		va_list ap_;                                                   \
		va_start(ap_, fmt);                                            \
		rc = store_vpath(path, fmt, ap_);                              \
		va_end(ap_);                                                   \
	} while (0)

char *store_read(const char *fmt, ...)
{
	char path[STORE_PATH_MAX];
	unsigned int len;
	int rc;

	STORE_PATH(path, fmt, rc);
	if (rc < 0)
		return NULL;
	return xs_read(xend.xs, XBT_NULL, path, &len);
}

int store_write(const char *value, const char *fmt, ...)
{
	char path[STORE_PATH_MAX];
	int rc;

	STORE_PATH(path, fmt, rc);
	if (rc < 0)
		return rc;
	if (!xs_write(xend.xs, XBT_NULL, path, value,
		      (unsigned int)strlen(value))) {
		log_warn("store: writing %s", path);
		return -EIO;
	}
	return 0;
}

/* A node owned by `owner` that `reader` may read (dom0 always may). */
int store_write_owned(unsigned int owner, unsigned int reader,
		      const char *value, const char *fmt, ...)
{
	struct xs_permissions p[2] = {
		{.id = owner, .perms = XS_PERM_NONE},
		{.id = reader, .perms = XS_PERM_READ},
	};
	char path[STORE_PATH_MAX];
	int rc;

	STORE_PATH(path, fmt, rc);
	if (rc < 0)
		return rc;
	if (!xs_write(xend.xs, XBT_NULL, path, value,
		      (unsigned int)strlen(value)) ||
	    !xs_set_permissions(xend.xs, XBT_NULL, path, p,
				owner == reader ? 1 : 2)) {
		log_warn("store: writing %s", path);
		return -EIO;
	}
	return 0;
}

void store_rm(const char *fmt, ...)
{
	char path[STORE_PATH_MAX];
	int rc;

	STORE_PATH(path, fmt, rc);
	if (rc == 0)
		(void)xs_rm(xend.xs, XBT_NULL, path);
}

char **store_dir(unsigned int *n, const char *fmt, ...)
{
	char path[STORE_PATH_MAX];
	int rc;

	*n = 0;
	STORE_PATH(path, fmt, rc);
	if (rc < 0)
		return NULL;
	return xs_directory(xend.xs, XBT_NULL, path, n);
}

bool store_exists(const char *fmt, ...)
{
	char path[STORE_PATH_MAX];
	unsigned int len;
	void *v;
	int rc;

	STORE_PATH(path, fmt, rc);
	if (rc < 0)
		return false;
	v = xs_read(xend.xs, XBT_NULL, path, &len);
	free(v);
	return v != NULL;
}

static bool store_answers(const char *sock)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd, rc;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return false;
	rc = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
	close(fd);
	return rc == 0;
}

/*
 * Starts xenstored in the run directory, in its own session so it
 * outlives us (it holds the truth a restarted xend reads back).
 */
static pid_t store_pid = -1; /* the xenstored we started, to reap */

static int store_spawn(const char *sock)
{
	char logpath[STORE_PATH_MAX];
	pid_t pid;
	int i, fd;

	if (xend_path(logpath, sizeof(logpath), "log/xenstored.log") < 0)
		return -ENAMETOOLONG;
	fd = open(logpath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (fd < 0) {
		log_err("store: opening %s", logpath);
		return -errno;
	}
	log_info("store: starting %s (log %s)", xend.xenstored_path, logpath);
	pid = fork();
	if (pid < 0) {
		close(fd);
		return -errno;
	}
	if (pid == 0) {
		int nul = open("/dev/null", O_RDONLY);

		spawn_reset_signals();
		setsid();
		if (nul >= 0)
			dup2(nul, 0);
		dup2(fd, 1);
		dup2(fd, 2);
		execl(xend.xenstored_path, "xenstored", (char *)NULL);
		_exit(127);
	}
	close(fd);
	store_pid = pid;
	/* Wait for its socket, or for it to fail. */
	for (i = 0; i < 500; i++) {
		int st;

		if (store_answers(sock))
			return 0;
		if (waitpid(pid, &st, WNOHANG) == pid) {
			log_errx("store: xenstored exited at once; see %s",
				 logpath);
			return -EIO;
		}
		usleep(10000);
	}
	log_errx("store: xenstored did not open %s", sock);
	return -ETIMEDOUT;
}

/* xenstored on sock (started when none answers), and Dom0's entries. */
static int store_open(const char *sock)
{
	int rc;

	if (!store_answers(sock)) {
		rc = store_spawn(sock);
		if (rc < 0)
			return rc;
	}
	xend.xs = xs_open(0);
	if (!xend.xs) {
		log_err("store: connecting to %s", sock);
		return -EIO;
	}
	/* Dom0's own entries, as Xen's toolstack writes them. */
	if (store_write("Domain-0", "/local/domain/0/name") < 0 ||
	    store_write("0", "/local/domain/0/domid") < 0)
		return -EIO;
	return 0;
}

/*
 * Once a tick: is xenstored still there?  If it died (xend's own child is
 * reaped here), start it again, reconnect, and say so: the caller writes
 * every record again, since changes made while it was gone are lost.
 * 1 when reconnected, 0 when all was well, -errno when it stays gone.
 */
int store_check(void)
{
	char sock[STORE_PATH_MAX];
	unsigned int len;
	void *v;
	int rc;

	if (store_pid > 0 && waitpid(store_pid, NULL, WNOHANG) == store_pid) {
		log_warnx("store: xenstored (pid %d) exited", store_pid);
		store_pid = -1;
	}
	v = xs_read(xend.xs, XBT_NULL, "/local/domain/0/name", &len);
	if (v) {
		free(v);
		return 0;
	}
	if (xend_path(sock, sizeof(sock), "xenstored/socket") < 0)
		return -ENAMETOOLONG;
	log_warnx("store: lost xenstored; starting or reconnecting");
	xs_close(xend.xs);
	xend.xs = NULL;
	rc = store_open(sock);
	return rc < 0 ? rc : 1;
}

int store_connect(void)
{
	char sock[STORE_PATH_MAX];

	if (xend_path(sock, sizeof(sock), "xenstored/socket") < 0)
		return -ENAMETOOLONG;
	/* libxenstore finds the socket in XENSTORED_PATH. */
	if (setenv("XENSTORED_PATH", sock, 1) < 0)
		return -errno;
	return store_open(sock);
}
