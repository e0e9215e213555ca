/* SPDX-License-Identifier: MIT */
/*
 * Live migration between two xends (docs/migration-stream.md,
 * "Relocation").
 *
 * The destination's xend listens on TCP (port 8002, or
 * XENIA_RELOCATION_PORT / --relocation-port; 0 turns it off) and takes a
 * connection only from a host its relocation-hosts-allow patterns match.
 * The source's xend connects, says who is coming (the domain's name,
 * UUID and config, as a save's CONFIG has them), and the destination
 * checks it as a restore would (a valid config, the name and UUID free)
 * before it answers OK.  Then each xend hands the connection to a vmm:
 * the source's running one gets it with a `migrate` request, the
 * destination starts one with `--incoming`, and the two talk the stream
 * and the handover between them.  The destination's xend records the
 * domain as starting while it comes in and as running once its vmm is
 * ready (after the handover); the source's vmm ends as saved, and its
 * xend forgets the domain without an on_* action.
 *
 * Either xend hears of a failure from its vmm: the source's domain then
 * runs on, and the destination's vmm ends having registered nothing that
 * outlives it.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <regex.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "api.h"
#include "log.h"
#include "tls.h"

#define RELOCATE_HELLO "XENIA-RELOCATE 1"
#define RELOCATE_OK "XENIA-RELOCATE-OK"
#define RELOCATE_ERROR "XENIA-ERROR"
/* The hello's JSON carries a config of up to a few KiB; a bound. */
#define RELOCATE_LINE_MAX (256u << 10)
#define RELOCATE_HELLO_MS 10000
#define RELOCATE_CONNECT_MS 10000
#define RELOCATE_MAX_ALLOW 32
#define RELOCATE_MAX_INCOMING 8
/* The vmm gives up on a silent peer itself; this only bounds xend. */
#define MIGRATE_TIMEOUT_MS (3600 * 1000)

static struct {
	int fd;
	pthread_t thread;
	bool running, stopping;
	regex_t allow[RELOCATE_MAX_ALLOW];
	unsigned int nr_allow;
	unsigned int incoming; /* connections being served (atomic) */
} reloc = {.fd = -1};

/* --- lines ---------------------------------------------------------------- */

static int relocate_wait(int fd, short events, double deadline)
{
	struct pollfd p = {.fd = fd, .events = events};
	double left;
	int rc;

	for (;;) {
		left = deadline - xend_mono();
		if (left <= 0)
			return -ETIMEDOUT;
		rc = poll(&p, 1, (int)(left * 1000) + 1);
		if (rc > 0)
			return 0;
		if (rc < 0 && errno != EINTR)
			return -errno;
	}
}

/* A line's buffer doubled, up to the limit: -EMSGSIZE or -ENOMEM past. */
static int relocate_grow(char **buf, size_t *cap, int *err)
{
	char *p;

	if (*cap >= RELOCATE_LINE_MAX)
		return *err = -EMSGSIZE;
	p = realloc(*buf, *cap * 2);
	if (!p)
		return *err = -ENOMEM;
	*buf = p;
	*cap *= 2;
	return 0;
}

/* A line over TLS: a byte at a time from the session's buffer. */
static char *relocate_read_tls_line(struct tls_conn *c, int *err)
{
	size_t len = 0, cap = 4096;
	char *buf = malloc(cap);
	ssize_t n;

	while (buf) {
		n = tls_recv(c, buf + len, 1);
		if (n <= 0) {
			*err = n == 0 ? -ECONNRESET : -ETIMEDOUT;
			break;
		}
		if (buf[len] == '\n') {
			buf[len] = '\0';
			return buf;
		}
		if (++len + 1 == cap && relocate_grow(&buf, &cap, err) < 0)
			break;
	}
	if (!buf)
		*err = -ENOMEM;
	free(buf);
	return NULL;
}

/*
 * One line (without its newline) into a malloc'd string; nothing past it
 * is taken from a plain socket, which goes to a vmm next.
 */
static char *relocate_read_line(struct tls_conn *c, int timeout_ms, int *err)
{
	double deadline = xend_mono() + timeout_ms / 1000.0;
	size_t len = 0, cap = 4096;
	char *buf, *nl;
	int rc, fd = c->fd;
	ssize_t n;

	if (c->tls) {
		struct timeval tv = {.tv_sec = timeout_ms / 1000};

		(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		return relocate_read_tls_line(c, err);
	}
	buf = malloc(cap);
	while (buf) {
		rc = relocate_wait(fd, POLLIN, deadline);
		if (rc < 0) {
			*err = rc;
			break;
		}
		n = recv(fd, buf + len, cap - 1 - len, MSG_PEEK);
		if (n <= 0) {
			if (n < 0 && errno == EINTR)
				continue;
			*err = n < 0 ? -errno : -ECONNRESET;
			break;
		}
		nl = memchr(buf + len, '\n', (size_t)n);
		if (nl)
			n = nl - (buf + len) + 1;
		if (recv(fd, buf + len, (size_t)n, 0) != n) {
			*err = -EIO;
			break;
		}
		len += (size_t)n;
		if (nl) {
			buf[len - 1] = '\0';
			return buf;
		}
		if (len + 1 >= cap && relocate_grow(&buf, &cap, err) < 0)
			break;
	}
	if (!buf)
		*err = -ENOMEM;
	free(buf);
	return NULL;
}

/* "a b\n" (or "a\n" without b) as one write. */
static int relocate_send(struct tls_conn *c, const char *a, const char *b)
{
	size_t la = strlen(a), lb = b ? strlen(b) : 0, n = la + lb + 2, off;
	char *line = malloc(n);
	ssize_t k;
	int rc = 0;

	if (!line)
		return -ENOMEM;
	memcpy(line, a, la);
	off = la;
	if (b) {
		line[off++] = ' ';
		memcpy(line + off, b, lb);
		off += lb;
	}
	line[off++] = '\n';
	for (n = 0; n < off && rc == 0; n += (size_t)k) {
		k = tls_send(c, line + n, off - n);
		if (k <= 0)
			rc = -EIO;
	}
	free(line);
	return rc;
}

/* --- the destination -------------------------------------------------------- */

/* The peer's address, numeric; false if it has none we know. */
static bool relocate_peer(int fd, char *buf, size_t len)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);

	return getpeername(fd, (struct sockaddr *)&ss, &sl) == 0 &&
	       getnameinfo((struct sockaddr *)&ss, sl, buf, (socklen_t)len,
			   NULL, 0, NI_NUMERICHOST) == 0;
}

static bool relocate_allowed(const char *peer)
{
	unsigned int i;

	for (i = 0; i < reloc.nr_allow; i++)
		if (regexec(&reloc.allow[i], peer, 0, NULL, 0) == 0)
			return true;
	return false;
}

/* The error of a refused hello, to the source; then the socket is shut. */
static void relocate_refuse(struct tls_conn *c, const struct api_reply *r)
{
	json_object *m = NULL;
	const char *msg = "refused";

	if (r->body && json_object_object_get_ex(r->body, "error", &m))
		msg = json_object_get_string(m);
	(void)relocate_send(c, RELOCATE_ERROR, msg);
}

/*
 * A hello checked and admitted: the domain starts with its vmm on the
 * connection (over TLS: on a socketpair to the session's relay).
 */
static void relocate_admit(struct tls_conn *c, const char *peer,
			   json_object *hello)
{
	struct api_reply r = {.status = 200};
	json_object *v;
	struct xdom *d;
	bool paused;
	int fd = c->fd;

	paused = json_object_object_get_ex(hello, "paused", &v) &&
		 json_object_get_boolean(v);
	pthread_mutex_lock(&xend.lock);
	d = save_admit(hello, "the incoming domain", &r);
	if (d && xend.nr_domains >= XEND_MAX_DOMAINS) {
		api_error(&r, 503, "no-resources", "xend holds %d domains, "
			  "its most", XEND_MAX_DOMAINS);
		xdom_free(d);
		d = NULL;
	}
	if (!d) {
		pthread_mutex_unlock(&xend.lock);
		log_warnx("relocate: refused a domain from %s", peer);
		relocate_refuse(c, &r);
		json_object_put(r.body);
		return;
	}
	if (relocate_send(c, RELOCATE_OK, NULL) < 0 ||
	    (c->tls && tls_relay_start(c, &fd) < 0)) {
		pthread_mutex_unlock(&xend.lock);
		xdom_free(d);
		return;
	}
	log_info("relocate: domain '%s' coming in from %s", d->name, peer);
	d->incoming_fd = fd;
	list_add_tail(&d->link, &xend.domains);
	xend.nr_domains++;
	if (!api_start(d, paused, NULL, &r)) {
		/* Its vmm told the source why, if it got that far. */
		list_del(&d->link);
		xend.nr_domains--;
		log_warnx("relocate: domain '%s' from %s did not come in",
			  d->name, peer);
		xdom_free(d);
		/* A destroy waiting for it to go (api_cancel_incoming). */
		pthread_cond_broadcast(&xend_changed);
	} else {
		d->incoming_fd = -1;
		log_info("relocate: domain %d '%s' migrated in from %s%s",
			 d->domid, d->name, peer, fd != c->fd ? " (TLS)" : "");
	}
	pthread_mutex_unlock(&xend.lock);
	/* The relay's end for the vmm: the vmm has its own copy. */
	if (fd != c->fd)
		close(fd);
	json_object_put(r.body);
}

static void *relocate_incoming(void *arg)
{
	struct tls_conn c = {.fd = (int)(intptr_t)arg};
	char peer[NI_MAXHOST] = "?", err[256], *line;
	json_object *hello = NULL;
	int rc = 0;

	if (!relocate_peer(c.fd, peer, sizeof(peer)) ||
	    !relocate_allowed(peer)) {
		log_warnx("relocate: %s is not in relocation-hosts-allow; "
			  "refused",
			  peer);
		(void)relocate_send(&c, RELOCATE_ERROR,
				    "this host does not take domains from "
				    "yours (relocation-hosts-allow)");
		goto out;
	}
	if (tls_enabled() && tls_accept(&c, err, sizeof(err)) < 0) {
		log_warnx("relocate: %s: %s; refused", peer, err);
		goto out;
	}
	line = relocate_read_line(&c, RELOCATE_HELLO_MS, &rc);
	if (!line || strcmp(line, RELOCATE_HELLO)) {
		free(line);
		(void)relocate_send(&c, RELOCATE_ERROR,
				    "not a migration (this xend speaks "
				    RELOCATE_HELLO ")");
		goto out;
	}
	free(line);
	line = relocate_read_line(&c, RELOCATE_HELLO_MS, &rc);
	hello = line ? json_tokener_parse(line) : NULL;
	free(line);
	if (!hello || !json_object_is_type(hello, json_type_object)) {
		(void)relocate_send(&c, RELOCATE_ERROR,
				    "the domain's description is not a JSON "
				    "object");
		goto out;
	}
	relocate_admit(&c, peer, hello);
out:
	json_object_put(hello);
	tls_close(&c);
	__atomic_fetch_sub(&reloc.incoming, 1, __ATOMIC_RELAXED);
	return NULL;
}

static void *relocate_server(void *arg)
{
	pthread_attr_t attr;
	pthread_t t;
	int fd;

	(void)arg;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	for (;;) {
		fd = accept4(reloc.fd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0 && __atomic_load_n(&reloc.stopping, __ATOMIC_ACQUIRE))
			break;
		if (fd < 0) {
			/* Out of descriptors or memory for now: not for good. */
			if (errno != EINTR && errno != ECONNABORTED) {
				log_warn("relocate: accept");
				usleep(100000);
			}
			continue;
		}
		if (__atomic_fetch_add(&reloc.incoming, 1, __ATOMIC_RELAXED) >=
			RELOCATE_MAX_INCOMING ||
		    pthread_create(&t, &attr, relocate_incoming,
				   (void *)(intptr_t)fd) != 0) {
			struct tls_conn c = {.fd = fd};

			/* Plain even under TLS: a line the source may log. */
			(void)relocate_send(&c, RELOCATE_ERROR,
					    "too many migrations at once");
			close(fd);
			__atomic_fetch_sub(&reloc.incoming, 1,
					   __ATOMIC_RELAXED);
		}
	}
	pthread_attr_destroy(&attr);
	return NULL;
}

/* Space-separated extended regexes, as xend-relocation-hosts-allow. */
static int relocate_parse_allow(const char *patterns)
{
	char *copy = strdup(patterns), *p, *save = NULL;
	char msg[128];
	int rc = 0;

	if (!copy)
		return -ENOMEM;
	for (p = strtok_r(copy, " \t", &save); p && rc == 0;
	     p = strtok_r(NULL, " \t", &save)) {
		if (reloc.nr_allow == RELOCATE_MAX_ALLOW) {
			log_errx("xend: more than %d relocation-hosts-allow "
				 "patterns",
				 RELOCATE_MAX_ALLOW);
			rc = -E2BIG;
			break;
		}
		rc = regcomp(&reloc.allow[reloc.nr_allow], p,
			     REG_EXTENDED | REG_NOSUB | REG_ICASE);
		if (rc) {
			regerror(rc, &reloc.allow[reloc.nr_allow], msg,
				 sizeof(msg));
			log_errx("xend: relocation-hosts-allow '%s': %s", p,
				 msg);
			rc = -EINVAL;
			break;
		}
		reloc.nr_allow++;
	}
	free(copy);
	return rc;
}

int relocate_start(const char *address, int port, const char *allow)
{
	struct addrinfo hints = {.ai_flags = AI_PASSIVE | AI_NUMERICHOST,
				 .ai_socktype = SOCK_STREAM};
	struct addrinfo *ai = NULL;
	char service[16];
	int one = 1, rc;

	if (port == 0) {
		log_info("xend: no relocation server (port 0)");
		return 0;
	}
	rc = relocate_parse_allow(allow);
	if (rc < 0)
		return rc;
	snprintf(service, sizeof(service), "%d", port);
	hints.ai_family = address && strchr(address, ':') ? AF_INET6 : AF_INET;
	rc = getaddrinfo(address && *address ? address : NULL, service, &hints,
			 &ai);
	if (rc) {
		log_errx("xend: relocation address '%s': %s",
			 address ? address : "", gai_strerror(rc));
		return -EINVAL;
	}
	reloc.fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (reloc.fd < 0 ||
	    setsockopt(reloc.fd, SOL_SOCKET, SO_REUSEADDR, &one,
		       sizeof(one)) < 0 ||
	    bind(reloc.fd, ai->ai_addr, ai->ai_addrlen) < 0 ||
	    listen(reloc.fd, 16) < 0) {
		rc = -errno;
		log_err("xend: relocation server on port %d (set another "
			"with --relocation-port or XENIA_RELOCATION_PORT, 0 "
			"for none)",
			port);
		freeaddrinfo(ai);
		return rc;
	}
	freeaddrinfo(ai);
	rc = -pthread_create(&reloc.thread, NULL, relocate_server, NULL);
	if (rc < 0)
		return rc;
	reloc.running = true;
	log_info("xend: relocation server on %s:%d, %u hosts-allow patterns",
		 address && *address ? address : "*", port, reloc.nr_allow);
	return 0;
}

void relocate_stop(void)
{
	if (!reloc.running)
		return;
	__atomic_store_n(&reloc.stopping, true, __ATOMIC_RELEASE);
	(void)shutdown(reloc.fd, SHUT_RDWR);
	pthread_join(reloc.thread, NULL);
	close(reloc.fd);
	reloc.running = false;
}

/* --- the source ----------------------------------------------------------- */

/* A TCP connection to host:port within the deadline; -1 with err. */
static int relocate_connect(const char *host, int port, char *err,
			    size_t errlen)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM};
	double deadline = xend_mono() + RELOCATE_CONNECT_MS / 1000.0;
	struct addrinfo *ai = NULL, *a;
	int fd = -1, rc, soerr = 0, one = 1;
	socklen_t sl = sizeof(soerr);
	char service[16];

	snprintf(service, sizeof(service), "%d", port);
	rc = getaddrinfo(host, service, &hints, &ai);
	if (rc) {
		snprintf(err, errlen, "%s: %s", host, gai_strerror(rc));
		return -1;
	}
	for (a = ai; a; a = a->ai_next) {
		fd = socket(a->ai_family,
			    SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		if (fd < 0)
			continue;
		rc = connect(fd, a->ai_addr, a->ai_addrlen);
		if (rc < 0 && errno == EINPROGRESS &&
		    relocate_wait(fd, POLLOUT, deadline) == 0 &&
		    getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) == 0) {
			errno = soerr;
			rc = soerr ? -1 : 0;
		} else if (rc < 0 && errno == EINPROGRESS) {
			errno = ETIMEDOUT;
		}
		if (rc == 0)
			break;
		snprintf(err, errlen, "%s port %d: %s", host, port,
			 strerror(errno));
		close(fd);
		fd = -1;
	}
	freeaddrinfo(ai);
	if (fd >= 0) {
		/* Blocking from here: the vmm writes the stream to it. */
		(void)fcntl(fd, F_SETFL, 0);
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one,
				 sizeof(one));
	}
	return fd;
}

/* Says who is coming; 0 once the destination answered OK. */
static int relocate_hello(struct tls_conn *c, json_object *hello,
			  const char *where, struct api_reply *r)
{
	const char *text =
	    json_object_to_json_string_ext(hello, JSON_C_TO_STRING_PLAIN);
	char *line;
	int err = 0;

	if (relocate_send(c, RELOCATE_HELLO, NULL) < 0 ||
	    relocate_send(c, text, NULL) < 0) {
		api_error(r, 502, "migrate-failed", "%s: the connection "
			  "failed", where);
		return -EIO;
	}
	line = relocate_read_line(c, RELOCATE_HELLO_MS, &err);
	if (line && !strcmp(line, RELOCATE_OK)) {
		free(line);
		return 0;
	}
	if (line && !strncmp(line, RELOCATE_ERROR " ",
			     strlen(RELOCATE_ERROR) + 1))
		api_error(r, 409, "migrate-refused", "%s refused the domain: "
			  "%.400s", where, line + strlen(RELOCATE_ERROR) + 1);
	else if (line)
		api_error(r, 502, "migrate-failed", "%s is not a xend taking "
			  "domains (it said '%.80s')", where, line);
	else
		api_error(r, 502, "migrate-failed", "%s did not answer: %s",
			  where, err == -ECONNRESET ? "it closed the connection"
						    : strerror(-err));
	free(line);
	return -EPROTO;
}

/*
 * The connection to the destination, hello answered: 0 with *vmm_fd the
 * descriptor for the vmm (the socket, or over TLS the relay's end),
 * or -errno with r set.  Not under the lock: it takes seconds at worst.
 */
static int relocate_open(const char *host, int port, bool tls,
			 json_object *hello, int *vmm_fd, struct api_reply *r)
{
	struct tls_conn c = {.fd = -1};
	char where[300], err[300];
	int rc;

	snprintf(where, sizeof(where), "%s:%d", host, port);
	c.fd = relocate_connect(host, port, err, sizeof(err));
	if (c.fd < 0) {
		api_error(r, 502, "migrate-failed", "cannot reach %s: %s",
			  where, err);
		return -EHOSTUNREACH;
	}
	if (tls && tls_connect(&c, host, err, sizeof(err)) < 0) {
		api_error(r, 502, "migrate-failed", "%s: %s", where, err);
		tls_close(&c);
		return -EPROTO;
	}
	rc = relocate_hello(&c, hello, where, r);
	if (rc == 0 && tls) {
		rc = tls_relay_start(&c, vmm_fd);
		if (rc < 0)
			api_error(r, 500, "internal", "TLS relay: %s",
				  strerror(-rc));
	} else if (rc == 0) {
		*vmm_fd = c.fd;
		c.fd = -1;
	}
	tls_close(&c);
	return rc;
}

void act_migrate(struct xdom *d, json_object *body, struct api_reply *r)
{
	const char *host = api_str(body, "host", true, r);
	double port = RELOCATE_PORT, downtime = -1, rounds = -1;
	json_object *hello, *req, *rep;
	char where[300], uuid[37];
	bool live = api_bool(body, "live"), tls = api_bool(body, "tls");
	int fd = -1, domid = d->domid;
	enum xdom_state state;

	if (!host)
		return;
	/* Optional: absent keeps the default, bad sets r. */
	(void)api_num(body, "port", false, 1, 65535, &port, r);
	(void)api_num(body, "downtime_ms", false, 0, 3600000, &downtime, r);
	(void)api_num(body, "max_rounds", false, 1, 1000, &rounds, r);
	if (r->status != 200)
		return;
	if (tls && !tls_enabled()) {
		api_error(r, 400, "bad-request", "this xend has no TLS "
			  "certificate: start it with --relocation-tls-cert, "
			  "-key and -ca");
		return;
	}
	snprintf(where, sizeof(where), "%s:%d", host, (int)port);
	snprintf(uuid, sizeof(uuid), "%s", d->uuid);
	hello = xdom_describe(d);
	state = d->state;
	json_object_object_add(hello, "paused",
			       json_object_new_boolean(state == XD_PAUSED));
	json_object_object_add(hello, "live", json_object_new_boolean(live));

	pthread_mutex_unlock(&xend.lock);
	(void)relocate_open(host, (int)port, tls, hello, &fd, r);
	pthread_mutex_lock(&xend.lock);
	json_object_put(hello);
	if (fd < 0)
		return;
	d = xdom_by_uuid(uuid);
	/* As the hello said: the same domain, running or paused as it was. */
	if (!d || d->domid != domid || d->state != state) {
		api_error(r, 409, "wrong-state", "the domain changed while "
			  "%s was asked; nothing was sent", where);
		close(fd);
		return;
	}
	req = api_cmd("migrate");
	json_object_object_add(req, "live", json_object_new_boolean(live));
	if (downtime >= 0)
		json_object_object_add(req, "downtime_ms",
				       json_object_new_int64((int64_t)downtime));
	if (rounds >= 0)
		json_object_object_add(req, "max_rounds",
				       json_object_new_int64((int64_t)rounds));
	json_object_object_add(req, "config", xdom_describe(d));
	log_info("api: migrating domain %d '%s' to %s%s%s", domid, d->name,
		 where, live ? " (live)" : "", tls ? " over TLS" : "");
	/* d may be gone when this returns: the vmm ends once handed over. */
	rep = api_ctl_wait_fd(d, "migrate", req, fd, MIGRATE_TIMEOUT_MS, r);
	close(fd);
	if (!rep) {
		/* The vmm's reason stands; the code says where it failed. */
		r->status = 502;
		if (r->body)
			json_object_object_add(
			    r->body, "code",
			    json_object_new_string("migrate-failed"));
		log_warnx("api: migrating domain %d to %s failed; it runs on "
			  "here",
			  domid, where);
		return;
	}
	save_figures(rep, r);
	json_object_put(rep);
	log_info("api: domain %d migrated to %s", domid, where);
}

void act_migration(struct xdom *d, json_object *body, struct api_reply *r)
{
	json_object *rep, *m;

	(void)body;
	rep = api_ctl(d, "info", api_cmd("info"), r);
	if (!rep)
		return;
	r->body = json_object_new_object();
	if (json_object_object_get_ex(rep, "migration", &m))
		json_object_object_add(r->body, "migration",
				       json_object_get(m));
	else
		json_object_object_add(r->body, "migration", NULL);
	json_object_put(rep);
}
