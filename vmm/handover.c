/* SPDX-License-Identifier: MIT */
/*
 * The lines the two ends of a migration say around its END record
 * (docs/migration-stream.md, "Handover"): short ASCII lines, each with
 * its own deadline, so a peer that stops answering is an error and not
 * a hang.
 */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "migrate.h"

#define HANDOVER_DRAIN_MS 5000

/* Waits for fd to be readable until deadline (log_now_ms' clock). */
static int handover_wait(int fd, uint64_t deadline)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	uint64_t now;
	int rc;

	for (;;) {
		now = log_now_ms();
		if (now >= deadline)
			return -ETIMEDOUT;
		rc = poll(&p, 1, (int)(deadline - now));
		if (rc > 0)
			return 0;
		if (rc < 0 && errno != EINTR)
			return -errno;
	}
}

int handover_read_line(int fd, char *buf, size_t len, int timeout_ms)
{
	uint64_t deadline = log_now_ms() + (uint64_t)timeout_ms;
	size_t n = 0;
	ssize_t k;
	int rc;

	/* A byte at a time: what follows the line is not ours to take. */
	while (n + 1 < len) {
		rc = handover_wait(fd, deadline);
		if (rc < 0)
			return rc;
		k = recv(fd, buf + n, 1, 0);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return -errno;
		if (k == 0)
			return -ECONNRESET;
		if (buf[n] == '\n') {
			buf[n] = '\0';
			return 0;
		}
		/* Only printable ASCII: the other side's words are logged. */
		if (buf[n] < ' ' || buf[n] > '~')
			buf[n] = '?';
		n++;
	}
	return -EPROTO;
}

int handover_write_line(int fd, const char *fmt, ...)
{
	char line[MIGRATE_LINE_MAX];
	va_list ap;
	size_t n, done = 0;
	ssize_t k;
	int len;

	va_start(ap, fmt);
	len = vsnprintf(line, sizeof(line) - 1, fmt, ap);
	va_end(ap);
	if (len < 0)
		return -EINVAL;
	n = strlen(line);
	line[n++] = '\n';
	while (done < n) {
		k = send(fd, line + done, n - done, MSG_NOSIGNAL);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return -errno;
		done += (size_t)k;
	}
	return 0;
}

const char *handover_error_text(const char *line)
{
	size_t n = strlen(MIGRATE_ERROR);

	if (strncmp(line, MIGRATE_ERROR, n) || (line[n] && line[n] != ' '))
		return NULL;
	return line[n] ? line + n + 1 : "no reason given";
}

void handover_refuse(int fd, const char *reason)
{
	uint64_t deadline = log_now_ms() + HANDOVER_DRAIN_MS;
	char sink[65536];
	ssize_t k;

	if (handover_write_line(fd, "%s %s", MIGRATE_ERROR, reason) < 0)
		return;
	(void)shutdown(fd, SHUT_WR);
	/*
	 * Read what the source still sends until it notices and hangs up:
	 * closing with unread data would reset the connection, and the
	 * reset can overtake the line above.
	 */
	while (handover_wait(fd, deadline) == 0) {
		k = recv(fd, sink, sizeof(sink), 0);
		if (k == 0 || (k < 0 && errno != EINTR))
			break;
	}
}
