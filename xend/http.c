/* SPDX-License-Identifier: MIT */
/*
 * The API's transport: HTTP/1.1 on a Unix socket, served by Debian's
 * libmicrohttpd with a small thread pool (a slow request, such as a
 * create waiting for its vmm, does not hold up the others).  Each request
 * body is collected (1 MiB at most), parsed with json-c, handed to
 * api_dispatch(), and the reply goes back as JSON.
 *
 * Who may call: the socket is mode 0600 (0660 with --socket-group), and
 * each connection's peer uid is checked with SO_PEERCRED as well, since
 * the mode alone depends on the directory it sits in.
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <microhttpd.h>

#include "log.h"
#include "xend.h"

#define HTTP_BODY_MAX (1 << 20)
#define HTTP_THREADS 4

static struct MHD_Daemon *http_daemon;
static char http_sock[108];
static gid_t http_gid = (gid_t)-1;

struct http_req {
	char *body;
	size_t len;
	bool too_large;
	bool checked;
	bool allowed;
};

/* Is the caller in --socket-group, as its primary group or another? */
static bool http_in_group(uid_t uid, gid_t gid)
{
	gid_t groups[256];
	int n = 256, i;
	struct passwd *pw;

	if (gid == http_gid)
		return true;
	pw = getpwuid(uid);
	if (!pw || getgrouplist(pw->pw_name, gid, groups, &n) < 0)
		return false;
	for (i = 0; i < n; i++)
		if (groups[i] == http_gid)
			return true;
	return false;
}

static bool http_peer_allowed(struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
	struct ucred cr;
	socklen_t len = sizeof(cr);

	if (!ci || getsockopt(ci->connect_fd, SOL_SOCKET, SO_PEERCRED, &cr,
			      &len) < 0)
		return false;
	if (cr.uid == 0 || cr.uid == geteuid())
		return true;
	return http_gid != (gid_t)-1 && http_in_group(cr.uid, cr.gid);
}

static enum MHD_Result http_send(struct MHD_Connection *c,
				 struct api_reply *r)
{
	struct MHD_Response *resp;
	const char *text;
	enum MHD_Result ret;

	if (!r->body)
		r->body = json_object_new_object();
	text = json_object_to_json_string_ext(r->body,
					      JSON_C_TO_STRING_PRETTY |
						  JSON_C_TO_STRING_NOSLASHESCAPE);
	resp = MHD_create_response_from_buffer(strlen(text), (void *)text,
					       MHD_RESPMEM_MUST_COPY);
	if (!resp) {
		json_object_put(r->body);
		return MHD_NO;
	}
	(void)MHD_add_response_header(resp, "Content-Type",
				      "application/json");
	ret = MHD_queue_response(c, (unsigned int)r->status, resp);
	MHD_destroy_response(resp);
	json_object_put(r->body);
	r->body = NULL;
	return ret;
}

static enum MHD_Result http_handle(void *cls, struct MHD_Connection *c,
				   const char *url, const char *method,
				   const char *version, const char *data,
				   size_t *data_size, void **con_cls)
{
	struct http_req *q = *con_cls;
	struct api_reply r = {.status = 200};
	json_object *body = NULL;
	const char *lines;

	if (!q) {
		q = calloc(1, sizeof(*q));
		if (!q)
			return MHD_NO;
		*con_cls = q;
		return MHD_YES;
	}
	if (!q->checked) {
		q->checked = true;
		q->allowed = http_peer_allowed(c);
	}
	if (*data_size) {
		if (!q->too_large && q->allowed) {
			if (q->len + *data_size > HTTP_BODY_MAX) {
				q->too_large = true;
			} else {
				char *nb = realloc(q->body,
						   q->len + *data_size + 1);

				if (!nb)
					return MHD_NO;
				memcpy(nb + q->len, data, *data_size);
				q->body = nb;
				q->len += *data_size;
				q->body[q->len] = '\0';
			}
		}
		*data_size = 0;
		return MHD_YES;
	}
	if (!q->allowed) {
		api_error(&r, 403, "forbidden",
			  "only root, xend's own user or members of its "
			  "--socket-group may use xend");
		return http_send(c, &r);
	}
	if (q->too_large) {
		api_error(&r, 413, "too-large", "the request body is over "
			  "%d bytes",
			  HTTP_BODY_MAX);
		return http_send(c, &r);
	}
	if (q->len) {
		enum json_tokener_error jerr;

		body = json_tokener_parse_verbose(q->body, &jerr);
		if (!body || !json_object_is_type(body, json_type_object)) {
			api_error(&r, 400, "bad-request",
				  "the request body is not a JSON object%s%s",
				  body ? "" : ": ",
				  body ? "" : json_tokener_error_desc(jerr));
			json_object_put(body);
			return http_send(c, &r);
		}
	}
	lines = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "lines");
	api_dispatch(method, url, lines, body, &r);
	json_object_put(body);
	return http_send(c, &r);
}

static void http_done(void *cls, struct MHD_Connection *c, void **con_cls,
		      enum MHD_RequestTerminationCode toe)
{
	struct http_req *q = *con_cls;

	if (q) {
		free(q->body);
		free(q);
		*con_cls = NULL;
	}
}

static int http_listen(const char *group)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd;

	if (xend_path(http_sock, sizeof(http_sock), "xend.sock") < 0) {
		log_errx("http: XENIA_RUNDIR is too long for a socket path");
		return -ENAMETOOLONG;
	}
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", http_sock);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* A socket that answers is another xend's; one that does not is
	 * what a killed xend left. */
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
		log_errx("http: another xend is running on %s", http_sock);
		close(fd);
		return -EADDRINUSE;
	}
	(void)unlink(http_sock);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    chmod(http_sock, group ? 0660 : 0600) < 0 ||
	    (group && chown(http_sock, (uid_t)-1, http_gid) < 0) ||
	    listen(fd, 128) < 0) {
		log_err("http: %s", http_sock);
		close(fd);
		return -errno;
	}
	return fd;
}

int http_start(const char *group)
{
	struct group *g;
	int fd;

	if (group && *group) {
		g = getgrnam(group);
		if (!g) {
			log_errx("http: no group '%s'", group);
			return -EINVAL;
		}
		http_gid = g->gr_gid;
	} else {
		group = NULL;
	}
	fd = http_listen(group);
	if (fd < 0)
		return fd;
	http_daemon = MHD_start_daemon(
	    MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL |
		MHD_USE_ERROR_LOG,
	    0, NULL, NULL, http_handle, NULL, MHD_OPTION_LISTEN_SOCKET, fd,
	    MHD_OPTION_THREAD_POOL_SIZE, (unsigned int)HTTP_THREADS,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)60,
	    MHD_OPTION_NOTIFY_COMPLETED, http_done, NULL, MHD_OPTION_END);
	if (!http_daemon) {
		log_errx("http: libmicrohttpd did not start on %s", http_sock);
		close(fd);
		return -EIO;
	}
	log_info("http: API on %s", http_sock);
	return 0;
}

void http_stop(void)
{
	if (http_daemon) {
		MHD_stop_daemon(http_daemon);
		http_daemon = NULL;
		(void)unlink(http_sock);
	}
}
