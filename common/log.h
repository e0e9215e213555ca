/* SPDX-License-Identifier: MIT */
/*
 * Logging for every Xenia daemon and tool.
 *
 * Two flavours of each call: log_warn() appends strerror(errno), log_warnx()
 * does not.  Messages start with the function or subsystem that speaks.
 * Guest-triggered messages go through a ratelimit so a hostile guest cannot
 * fill the host's disk with our log.
 */
#ifndef XENIA_LOG_H
#define XENIA_LOG_H

#include <stdbool.h>
#include <stdint.h>

enum log_level { LOG_LVL_ERR, LOG_LVL_WARN, LOG_LVL_INFO, LOG_LVL_DEBUG };

void log_init(const char *progname, enum log_level level);
void log_set_level(enum log_level level);
enum log_level log_get_level(void);

void log_msg(enum log_level level, bool with_errno, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#define log_warn(...) log_msg(LOG_LVL_WARN, true, __VA_ARGS__)
#define log_warnx(...) log_msg(LOG_LVL_WARN, false, __VA_ARGS__)
#define log_err(...) log_msg(LOG_LVL_ERR, true, __VA_ARGS__)
#define log_errx(...) log_msg(LOG_LVL_ERR, false, __VA_ARGS__)
#define log_info(...) log_msg(LOG_LVL_INFO, false, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_LVL_DEBUG, false, __VA_ARGS__)

/*
 * At most `burst` messages per `interval_ms`; the rest are counted and the
 * count is reported with the next message that gets through.
 */
struct log_ratelimit {
	uint32_t interval_ms;
	uint32_t burst;
	uint64_t window_start_ms;
	uint32_t printed;
	uint32_t suppressed;
};

#define LOG_RATELIMIT_INIT {.interval_ms = 5000, .burst = 10}

/* Returns true when the caller may print; reports suppressed counts. */
bool log_ratelimit_ok(struct log_ratelimit *rl);

#define log_warnx_rl(rl, ...)                                                  \
	do {                                                                   \
		if (log_ratelimit_ok(rl))                                      \
			log_warnx(__VA_ARGS__);                                \
	} while (0)

uint64_t log_now_ms(void);

#endif
