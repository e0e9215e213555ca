/* SPDX-License-Identifier: MIT */
/*
 * xm's side of the xend API (docs/api.md): HTTP/1.1 with JSON bodies over
 * the Unix socket $XENIA_RUNDIR/xend.sock, through libcurl.  One client
 * keeps one connection open across its requests (top and shutdown -w poll).
 */
#ifndef XENIA_XM_CLIENT_H
#define XENIA_XM_CLIENT_H

#include <stdbool.h>
#include <stdint.h>

#include <json-c/json.h>

struct client {
	void *curl;		/* CURL *, kept out of every includer */
	const char *cmd;	/* the xm command, for messages */
	long timeout_s;		/* per request; 0: the default (300 s) */
	char sock[108];		/* sun_path */

	/* The last failure: status 0 when xend was never reached. */
	long status;
	char code[32];		/* xend's "code", e.g. "no-such-domain" */
	char error[512];	/* the sentence xm prints */
};

/* Socket path from $XENIA_RUNDIR (default /run/xenia).  0 or -ENOMEM. */
int client_init(struct client *c, const char *cmd)
	__attribute__((warn_unused_result));
void client_fini(struct client *c);

/*
 * One request.  path is below /v1 and already escaped ("/domains/web");
 * body may be NULL.  On a 2xx answer *reply is its JSON object (an empty
 * one when xend sent no body), the caller's to put.  Otherwise a negative
 * errno (-ENOENT for 404, -EBUSY for 409, -EIO and the like) and
 * c->error says why.
 */
int client_call(struct client *c, const char *method, const char *path,
		json_object *body, json_object **reply)
	__attribute__((warn_unused_result));

/* Prints the last failure: "xm CMD: error" (or "xm: cannot reach ..."). */
void client_report(const struct client *c);

/* A domain name or id as one escaped path segment: "/domains/<dom><rest>". */
int client_dom_path(char *buf, size_t len, const char *dom, const char *rest)
	__attribute__((warn_unused_result));

/* GET /v1/domains/<dom><rest>; reports failures itself. */
int client_get_dom(struct client *c, const char *dom, const char *rest,
		   json_object **reply) __attribute__((warn_unused_result));

/* POST /v1/domains/<dom>/<action> with body (may be NULL); reports. */
int client_post_dom(struct client *c, const char *dom, const char *action,
		    json_object *body, json_object **reply)
	__attribute__((warn_unused_result));

#endif
