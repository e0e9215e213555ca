/* SPDX-License-Identifier: MIT */
/*
 * Inside the control socket: the connection side (ctl.c: accepting,
 * lines in, replies out) and the commands (ctl_cmd.c: the table and
 * its handlers).  Everything here runs on the domain's loop thread.
 */
#ifndef XENIA_VMM_CTL_PRIV_H
#define XENIA_VMM_CTL_PRIV_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include <json-c/json.h>

#include "ctl.h"
#include "loop.h"

struct ctl;

struct ctl_client {
	struct ctl *ctl;
	int fd;
	struct loop_source src;
	bool polled; /* src is in the loop */
	/*
	 * A reply is owed later (detach, pause): the client is not read
	 * until it is sent, so its replies stay in request order.
	 */
	bool pending;
	bool dead;	 /* a send failed: closed once its caller is done */
	bool discarding; /* the current line is over CTL_LINE_MAX */
	/*
	 * The last descriptor sent with a request (SCM_RIGHTS), for the
	 * request that takes one (migrate); -1 when none.
	 */
	int passed_fd;
	size_t in_len;
	char in[CTL_LINE_MAX + 1];
};

struct ctl {
	struct domain *d;
	char path[108]; /* sizeof(sockaddr_un.sun_path) */
	bool bound;	/* path is ours to remove */
	int listen_fd;
	struct loop_source listen_src;
	struct ctl_client *clients[CTL_MAX_CLIENTS];
	/*
	 * pause: domain_pause() waits for every vCPU to park, so it runs on
	 * a thread of its own and rings pause_fd; the loop goes on serving.
	 */
	int pause_fd;
	struct loop_source pause_src;
	pthread_t pause_thread;
	bool pausing;
	struct ctl_client *pause_client;
};

/*
 * Handles one request line (no newline) from c: exactly one reply, now
 * or, with c left pending, later.
 */
void ctl_cmd_dispatch(struct ctl_client *c, const char *line, size_t len);
/* pause_fd rang: the pause is done; the pending client gets its reply. */
void ctl_cmd_paused(struct ctl *ctl);

/* Sends rep (then frees it) as one line; on failure c is marked dead. */
void ctl_send(struct ctl_client *c, json_object *rep);
/* Sends {"ok": false, "error": msg}. */
void ctl_send_error(struct ctl_client *c, const char *msg);
/*
 * The deferred reply went out: c's buffered requests are served and it
 * is read again (or closed if it died meanwhile).
 */
void ctl_client_resume(struct ctl_client *c);
/* A pending reply is coming: c is not read until ctl_client_resume(). */
void ctl_client_hold(struct ctl_client *c);

#endif
