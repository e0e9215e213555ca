/* SPDX-License-Identifier: MIT */
/*
 * The console backend: the guest's PV console ring (xen/io/console.h) in
 * a special page, with an event channel bound to our end, served to the
 * administrator as xenconsoled does.
 *
 *   --console stdio   output to our stdout (the default), no input
 *   --console pty     a pseudo-terminal, both ways (`xm console` will
 *                     attach to it); its path is logged and, with
 *                     --xenstore, written to console/tty
 *   --console none    output only to the log, if any
 *   --console-log F   also append the output to file F
 *
 * Output is rate-limited (CONSBACK_RATE bytes per second, in bursts of
 * CONSBACK_BURST): a guest that floods its console fills its own ring and
 * waits; the host's disk and CPU are not its to exhaust.
 */
#ifndef XENIA_VMM_CONSBACK_H
#define XENIA_VMM_CONSBACK_H

#include <stdbool.h>
#include <stdint.h>

#include "loop.h"
#include "xenbus_back.h"

#define CONSBACK_RATE (256u * 1024)
#define CONSBACK_BURST (64u * 1024)

enum consback_mode { CONSBACK_STDIO, CONSBACK_PTY, CONSBACK_NONE };

struct domain;

struct consback {
	enum consback_mode mode;
	uint32_t port;		  /* the guest's */
	struct xenbus_kick kick;  /* where the guest's sends arrive */
	struct xenbus_port dport; /* dom0's end, ours */
	int out_fd;	/* stdout or the pty master; -1 none */
	int in_fd;	/* the pty master; -1 none */
	int log_fd;
	int rate_fd;	/* timerfd: resume after the rate limit */
	struct loop_source in_src, rate_src;
	bool in_polled; /* in_src is in the loop */
	bool throttled;
	bool quiesced; /* a save: nothing is served */
	uint64_t tokens;     /* bytes we may still write now */
	uint64_t refill_ns;  /* CLOCK_MONOTONIC of the last refill */
	uint64_t dropped;    /* bytes of a corrupt ring, discarded */
	char tty[64];
};

void consback_clear(struct consback *c);
/* Parses a --console value; -EINVAL for an unknown one. */
int consback_parse_mode(const char *s, enum consback_mode *mode);

/*
 * Before the guest runs: the ring page, the port, HVM_PARAM_CONSOLE_PFN
 * and _EVTCHN, the pty or stdout, the log file (NULL: none).
 */
int consback_setup(struct domain *d, enum consback_mode mode,
		   const char *log_path) __attribute__((warn_unused_result));
/*
 * Save and restore (docs/migration-stream.md, DEVICE type "console"), on
 * the loop thread.  quiesce: with the domain paused, writes out all the
 * guest has put in its ring, rate limit or not, and serves nothing more
 * (pty input waits); unquiesce: serves again.  save: the DEVICE object's
 * "ring" (ring-ref, event-channel).  restore: checks a DEVICE record
 * against the loaded state (consback_rebind() binds the port); -EINVAL
 * with a message.
 */
struct json_object;
void consback_quiesce(struct domain *d);
void consback_unquiesce(struct domain *d);
int consback_save(struct domain *d, struct json_object *rec)
	__attribute__((warn_unused_result));
int consback_restore(struct domain *d, struct json_object *rec)
	__attribute__((warn_unused_result));

/* After a state load: binds our end to the port HVM params name. */
int consback_rebind(struct domain *d) __attribute__((warn_unused_result));
/* After the loop thread is gone. */
void consback_destroy(struct domain *d);

#endif
