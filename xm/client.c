/* SPDX-License-Identifier: MIT */
#include "client.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "buf.h"

#define CLIENT_MAX_REPLY (16u << 20)
#define CLIENT_DEFAULT_RUNDIR "/run/xenia"

int client_init(struct client *c, const char *cmd)
{
	const char *rundir = getenv("XENIA_RUNDIR");
	int n;

	memset(c, 0, sizeof(*c));
	c->cmd = cmd;
	if (!rundir || !*rundir)
		rundir = CLIENT_DEFAULT_RUNDIR;
	n = snprintf(c->sock, sizeof(c->sock), "%s/xend.sock", rundir);
	if (n < 0 || (size_t)n >= sizeof(c->sock))
		return -ENAMETOOLONG;
	c->curl = curl_easy_init();
	if (!c->curl)
		return -ENOMEM;
	return 0;
}

void client_fini(struct client *c)
{
	if (c->curl)
		curl_easy_cleanup(c->curl);
	c->curl = NULL;
}

static size_t client_collect(char *data, size_t size, size_t nmemb,
			     void *arg)
{
	struct buf *b = arg;
	size_t n = size * nmemb;

	/* A short count makes curl fail the transfer: our cap, or ENOMEM. */
	if (buf_used(b) + n > CLIENT_MAX_REPLY || buf_append(b, data, n) < 0)
		return 0;
	return n;
}

static int client_errno_of(long status, const char *code)
{
	if (!strcmp(code, "exists"))
		return -EEXIST;
	switch (status) {
	case 400:
		return -EINVAL;
	case 404:
		return -ENOENT;
	case 405:
		return -EOPNOTSUPP;
	case 409:
		return -EBUSY;
	case 413:
		return -E2BIG;
	case 503:
		return -EAGAIN;
	default:
		return -EIO;
	}
}

/* xend said no: keep its sentence and code. */
static int client_http_error(struct client *c, json_object *body)
{
	json_object *v;

	snprintf(c->error, sizeof(c->error), "xend answered HTTP %ld",
		 c->status);
	if (body && json_object_object_get_ex(body, "error", &v) &&
	    json_object_is_type(v, json_type_string))
		snprintf(c->error, sizeof(c->error), "%s",
			 json_object_get_string(v));
	if (body && json_object_object_get_ex(body, "code", &v) &&
	    json_object_is_type(v, json_type_string))
		snprintf(c->code, sizeof(c->code), "%s",
			 json_object_get_string(v));
	return client_errno_of(c->status, c->code);
}

static int client_transport_error(struct client *c, CURLcode cc)
{
	long oserr = 0;

	curl_easy_getinfo(c->curl, CURLINFO_OS_ERRNO, &oserr);
	if (cc == CURLE_COULDNT_CONNECT) {
		snprintf(c->error, sizeof(c->error),
			 "cannot reach xend at %s: %s (is xend running?)",
			 c->sock,
			 strerror(oserr ? (int)oserr : ECONNREFUSED));
		return oserr ? -(int)oserr : -ECONNREFUSED;
	}
	snprintf(c->error, sizeof(c->error), "no answer from xend at %s: %s",
		 c->sock, curl_easy_strerror(cc));
	return cc == CURLE_OPERATION_TIMEDOUT ? -ETIMEDOUT : -EIO;
}

static json_object *client_parse(const struct buf *b)
{
	struct json_tokener *tok;
	json_object *o;

	if (!buf_used(b))
		return json_object_new_object();
	tok = json_tokener_new();
	if (!tok)
		return NULL;
	o = json_tokener_parse_ex(tok, (const char *)buf_readp(b),
				  (int)buf_used(b));
	if (json_tokener_get_error(tok) != json_tokener_success ||
	    !json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		o = NULL;
	}
	json_tokener_free(tok);
	return o;
}

int client_call(struct client *c, const char *method, const char *path,
		json_object *body, json_object **reply)
{
	struct curl_slist *hdrs = NULL;
	struct buf in = {0};
	json_object *answer = NULL;
	const char *text = NULL;
	char url[1024];
	CURLcode cc;
	CURL *h = c->curl;
	int rc;

	*reply = NULL;
	c->status = 0;
	c->code[0] = c->error[0] = '\0';
	snprintf(url, sizeof(url), "http://xend/v1%s", path);
	curl_easy_reset(h);
	curl_easy_setopt(h, CURLOPT_UNIX_SOCKET_PATH, c->sock);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 10L);
	/* Creating or destroying a domain waits for its vmm; be patient. */
	curl_easy_setopt(h, CURLOPT_TIMEOUT,
			 c->timeout_s ? c->timeout_s : 300L);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, client_collect);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &in);
	hdrs = curl_slist_append(hdrs, "Accept: application/json");
	/* No "100 Continue" round trip before a large config. */
	hdrs = curl_slist_append(hdrs, "Expect:");
	if (!strcmp(method, "GET")) {
		curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
	} else {
		text = body ? json_object_to_json_string_ext(
				      body, JSON_C_TO_STRING_PLAIN)
			    : "";
		if (body)
			hdrs = curl_slist_append(
				hdrs, "Content-Type: application/json");
		curl_easy_setopt(h, CURLOPT_POST, 1L);
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, text);
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(text));
		if (strcmp(method, "POST"))
			curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	}
	if (!hdrs) {
		rc = -ENOMEM;
		snprintf(c->error, sizeof(c->error), "out of memory");
		goto out;
	}
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);

	cc = curl_easy_perform(h);
	if (cc != CURLE_OK) {
		rc = client_transport_error(c, cc);
		goto out;
	}
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &c->status);
	answer = client_parse(&in);
	if (c->status < 200 || c->status > 299) {
		rc = client_http_error(c, answer);
		goto out;
	}
	if (!answer) {
		snprintf(c->error, sizeof(c->error),
			 "xend's answer to %s %s is not a JSON object", method,
			 path);
		rc = -EPROTO;
		goto out;
	}
	*reply = answer;
	answer = NULL;
	rc = 0;
out:
	json_object_put(answer);
	curl_slist_free_all(hdrs);
	buf_free(&in);
	return rc;
}

void client_report(const struct client *c)
{
	if (!c->status)
		fprintf(stderr, "xm: %s\n", c->error);
	else
		fprintf(stderr, "xm %s: %s\n", c->cmd, c->error);
}

int client_dom_path(char *buf, size_t len, const char *dom, const char *rest)
{
	static const char safe[] = "abcdefghijklmnopqrstuvwxyz"
				   "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
				   "0123456789-._~";
	size_t o;
	int n;

	n = snprintf(buf, len, "/domains/");
	if (n < 0 || (size_t)n >= len)
		return -ENAMETOOLONG;
	o = (size_t)n;
	for (; *dom; dom++) {
		if (o + 4 > len)
			return -ENAMETOOLONG;
		if (strchr(safe, *dom))
			buf[o++] = *dom;
		else
			o += (size_t)snprintf(buf + o, len - o, "%%%02X",
					      (unsigned char)*dom);
	}
	n = snprintf(buf + o, len - o, "%s", rest);
	if (n < 0 || (size_t)n >= len - o)
		return -ENAMETOOLONG;
	return 0;
}

int client_get_dom(struct client *c, const char *dom, const char *rest,
		   json_object **reply)
{
	char path[512];
	int rc;

	*reply = NULL;
	rc = client_dom_path(path, sizeof(path), dom, rest);
	if (rc < 0) {
		fprintf(stderr, "xm %s: domain name too long\n", c->cmd);
		return rc;
	}
	rc = client_call(c, "GET", path, NULL, reply);
	if (rc < 0)
		client_report(c);
	return rc;
}

int client_post_dom(struct client *c, const char *dom, const char *action,
		    json_object *body, json_object **reply)
{
	json_object *ignored = NULL;
	char path[512], rest[64];
	int rc;

	snprintf(rest, sizeof(rest), "/%s", action);
	rc = client_dom_path(path, sizeof(path), dom, rest);
	if (rc < 0) {
		fprintf(stderr, "xm %s: domain name too long\n", c->cmd);
		return rc;
	}
	rc = client_call(c, "POST", path, body, reply ? reply : &ignored);
	json_object_put(ignored);
	if (rc < 0)
		client_report(c);
	return rc;
}
