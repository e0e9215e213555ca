/* SPDX-License-Identifier: MIT */
#include "console.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

/* After in's end, never linger longer than this whatever the guest says. */
#define CONSOLE_LINGER_MAX_MS 5000

static volatile sig_atomic_t console_stop;

static void console_on_signal(int sig)
{
	(void)sig;
	console_stop = 1;
}

static int64_t console_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int console_write_all(int fd, const char *p, size_t n)
{
	ssize_t w;

	while (n) {
		w = write(fd, p, n);
		if (w < 0) {
			if (errno == EINTR && !console_stop)
				continue;
			return -errno;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* What arrived on in: 1 to go on, 0 at Ctrl-], or a negative errno. */
static int console_from_in(int pty, const char *buf, size_t n)
{
	const char *esc = memchr(buf, CONSOLE_ESCAPE, n);
	int rc;

	rc = console_write_all(pty, buf, esc ? (size_t)(esc - buf) : n);
	if (rc < 0)
		return rc;
	return esc ? 0 : 1;
}

int console_relay(int pty, int in, int out, int linger_ms)
{
	struct pollfd fds[2] = {
		{.fd = pty, .events = POLLIN},
		{.fd = in, .events = POLLIN},
	};
	int64_t quiet_at = 0, give_up_at = 0;
	bool in_open = true;
	char buf[4096];
	ssize_t n;
	int rc, timeout;

	for (;;) {
		if (console_stop)
			return 0;
		timeout = -1;
		if (!in_open) {
			int64_t now = console_now_ms(), end = quiet_at;

			if (end > give_up_at)
				end = give_up_at;
			if (now >= end)
				return 0;
			timeout = (int)(end - now);
		}
		rc = poll(fds, in_open ? 2 : 1, timeout);
		if (rc < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (fds[0].revents) {
			n = read(pty, buf, sizeof(buf));
			if (n < 0 && (errno == EINTR || errno == EAGAIN))
				continue;
			/* 0 or EIO: the vmm closed its end (domain gone). */
			if (n <= 0)
				return 0;
			rc = console_write_all(out, buf, (size_t)n);
			if (rc < 0)
				return rc;
			if (!in_open)
				quiet_at = console_now_ms() + linger_ms;
		}
		if (in_open && fds[1].revents) {
			n = read(in, buf, sizeof(buf));
			if (n < 0 && (errno == EINTR || errno == EAGAIN))
				continue;
			if (n < 0)
				return -errno;
			if (n == 0) {
				in_open = false;
				quiet_at = console_now_ms() + linger_ms;
				give_up_at = console_now_ms() +
					     CONSOLE_LINGER_MAX_MS;
				continue;
			}
			rc = console_from_in(pty, buf, (size_t)n);
			if (rc <= 0)
				return rc;
		}
	}
}

int console_attach(const char *tty)
{
	static const int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};
	struct sigaction sa = {.sa_handler = console_on_signal};
	struct sigaction old[4], old_pipe, ign = {.sa_handler = SIG_IGN};
	struct termios saved, raw;
	bool restore = false;
	int fd, rc;
	size_t i;

	fd = open(tty, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	/* Raw both ways, so the guest's bytes pass untouched. */
	if (tcgetattr(fd, &raw) == 0) {
		cfmakeraw(&raw);
		(void)tcsetattr(fd, TCSANOW, &raw);
	}

	/* No SA_RESTART: a signal must wake poll() so the terminal is
	 * restored before xm goes. */
	sigemptyset(&sa.sa_mask);
	console_stop = 0;
	for (i = 0; i < 4; i++)
		sigaction(sigs[i], &sa, &old[i]);
	sigemptyset(&ign.sa_mask);
	sigaction(SIGPIPE, &ign, &old_pipe);

	if (isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &saved) == 0) {
		raw = saved;
		cfmakeraw(&raw);
		restore = tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0;
	}

	rc = console_relay(fd, STDIN_FILENO, STDOUT_FILENO, restore ? 0 : 500);

	if (restore)
		(void)tcsetattr(STDIN_FILENO, TCSANOW, &saved);
	for (i = 0; i < 4; i++)
		sigaction(sigs[i], &old[i], NULL);
	sigaction(SIGPIPE, &old_pipe, NULL);
	close(fd);
	return rc;
}
