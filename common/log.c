/* SPDX-License-Identifier: MIT */
#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static const char *log_progname = "xenia";
static enum log_level log_level = LOG_LVL_INFO;

void log_init(const char *progname, enum log_level level)
{
	log_progname = progname;
	log_level = level;
}

void log_set_level(enum log_level level)
{
	log_level = level;
}

enum log_level log_get_level(void)
{
	return log_level;
}

uint64_t log_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void log_msg(enum log_level level, bool with_errno, const char *fmt, ...)
{
	static const char *const names[] = {"error", "warning", "info",
					    "debug"};
	int saved_errno = errno;
	char msg[1024];
	va_list ap;

	if (level > log_level)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (with_errno)
		fprintf(stderr, "%s: %s: %s: %s\n", log_progname, names[level],
			msg, strerror(saved_errno));
	else
		fprintf(stderr, "%s: %s: %s\n", log_progname, names[level],
			msg);
	errno = saved_errno;
}

bool log_ratelimit_ok(struct log_ratelimit *rl)
{
	uint64_t now = log_now_ms();

	if (now - rl->window_start_ms >= rl->interval_ms) {
		if (rl->suppressed)
			log_warnx("(%u similar messages suppressed)",
				  rl->suppressed);
		rl->window_start_ms = now;
		rl->printed = 0;
		rl->suppressed = 0;
	}
	if (rl->printed < rl->burst) {
		rl->printed++;
		return true;
	}
	rl->suppressed++;
	return false;
}
