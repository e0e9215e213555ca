/* SPDX-License-Identifier: MIT */
/*
 * TLS for the relocation connection (relocate.c), with Debian's GnuTLS.
 *
 * A xend given a certificate, its key and a CA serves TLS only on its
 * relocation port and asks every peer for a certificate the CA signed;
 * as a client (xm migrate --tls) it shows the same certificate and
 * checks the destination's against the CA and the host name or address
 * it was given.  The vmms never see TLS: each xend puts a socketpair
 * between its vmm and the session, and a relay thread moves the bytes
 * both ways until both directions are closed.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <gnutls/gnutls.h>

#include "log.h"
#include "tls.h"

#define TLS_HANDSHAKE_MS 10000
#define TLS_RELAY_BUF (256u << 10)
/* Longer than any silence of a live migration (30 s each way). */
#define TLS_RELAY_IDLE_MS 60000

static gnutls_certificate_credentials_t tls_creds;
static bool tls_ready;

int tls_setup(const char *cert, const char *key, const char *ca)
{
	int rc;

	if (!cert && !key && !ca)
		return 0;
	if (!cert || !key || !ca) {
		log_errx("xend: TLS needs --relocation-tls-cert, "
			 "--relocation-tls-key and --relocation-tls-ca");
		return -EINVAL;
	}
	rc = gnutls_certificate_allocate_credentials(&tls_creds);
	if (rc == 0)
		rc = gnutls_certificate_set_x509_key_file(
		    tls_creds, cert, key, GNUTLS_X509_FMT_PEM);
	if (rc < 0) {
		log_errx("xend: TLS certificate %s / key %s: %s", cert, key,
			 gnutls_strerror(rc));
		return -EINVAL;
	}
	rc = gnutls_certificate_set_x509_trust_file(tls_creds, ca,
						    GNUTLS_X509_FMT_PEM);
	if (rc <= 0) {
		log_errx("xend: TLS CA %s: %s", ca,
			 rc ? gnutls_strerror(rc) : "no certificate in it");
		return -EINVAL;
	}
	tls_ready = true;
	return 0;
}

bool tls_enabled(void)
{
	return tls_ready;
}

static int tls_handshake(struct tls_conn *c, char *err, size_t errlen)
{
	unsigned int status;
	gnutls_datum_t out;
	int rc;

	gnutls_handshake_set_timeout(c->tls, TLS_HANDSHAKE_MS);
	do
		rc = gnutls_handshake(c->tls);
	while (rc < 0 && !gnutls_error_is_fatal(rc));
	if (rc == GNUTLS_E_CERTIFICATE_VERIFICATION_ERROR) {
		status = gnutls_session_get_verify_cert_status(c->tls);
		if (gnutls_certificate_verification_status_print(
			status, gnutls_certificate_type_get(c->tls), &out,
			0) == 0) {
			snprintf(err, errlen, "TLS: %s", out.data);
			gnutls_free(out.data);
			return -EACCES;
		}
	}
	if (rc < 0) {
		snprintf(err, errlen, "TLS handshake: %s", gnutls_strerror(rc));
		return -EPROTO;
	}
	return 0;
}

static int tls_session(struct tls_conn *c, unsigned int flags,
		       const char *host, char *err, size_t errlen)
{
	int rc;

	rc = gnutls_init(&c->tls, flags);
	if (rc == 0)
		rc = gnutls_set_default_priority(c->tls);
	if (rc == 0)
		rc = gnutls_credentials_set(c->tls, GNUTLS_CRD_CERTIFICATE,
					    tls_creds);
	if (rc == 0 && host)
		rc = gnutls_server_name_set(c->tls, GNUTLS_NAME_DNS, host,
					    strlen(host));
	if (rc < 0) {
		snprintf(err, errlen, "TLS: %s", gnutls_strerror(rc));
		return -ENOMEM;
	}
	/* Both ends check the other's certificate (host: its name too). */
	gnutls_session_set_verify_cert(c->tls, host, 0);
	if (!host)
		gnutls_certificate_server_set_request(c->tls,
						      GNUTLS_CERT_REQUIRE);
	gnutls_transport_set_int(c->tls, c->fd);
	return tls_handshake(c, err, errlen);
}

int tls_accept(struct tls_conn *c, char *err, size_t errlen)
{
	return tls_session(c, GNUTLS_SERVER, NULL, err, errlen);
}

int tls_connect(struct tls_conn *c, const char *host, char *err,
		size_t errlen)
{
	return tls_session(c, GNUTLS_CLIENT, host, err, errlen);
}

ssize_t tls_send(struct tls_conn *c, const void *p, size_t n)
{
	ssize_t k;

	if (!c->tls)
		return send(c->fd, p, n, MSG_NOSIGNAL);
	do
		k = gnutls_record_send(c->tls, p, n);
	while (k == GNUTLS_E_INTERRUPTED || k == GNUTLS_E_AGAIN);
	return k < 0 ? -1 : k;
}

ssize_t tls_recv(struct tls_conn *c, void *p, size_t n)
{
	ssize_t k;

	/* AGAIN: the socket's receive timeout (the hello's deadline). */
	do
		k = gnutls_record_recv(c->tls, p, n);
	while (k == GNUTLS_E_INTERRUPTED);
	/* A peer gone without a bye: an end like any other here. */
	if (k < 0 && k != GNUTLS_E_PREMATURE_TERMINATION && k != GNUTLS_E_AGAIN)
		log_warnx("tls: %s", gnutls_strerror((int)k));
	return k < 0 ? -1 : k;
}

static bool tls_pending(struct tls_conn *c)
{
	return c->tls && gnutls_record_check_pending(c->tls) > 0;
}

void tls_close(struct tls_conn *c)
{
	if (c->tls)
		gnutls_deinit(c->tls);
	if (c->fd >= 0)
		close(c->fd);
	c->tls = NULL;
	c->fd = -1;
}

/* --- the relay ------------------------------------------------------------ */

struct tls_relay {
	struct tls_conn c;
	int local; /* our end of the socketpair */
};

static bool tls_write_all(int fd, const char *p, size_t n)
{
	ssize_t k;

	while (n) {
		k = send(fd, p, n, MSG_NOSIGNAL);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return false;
		p += k;
		n -= (size_t)k;
	}
	return true;
}

/* A record carries at most 16 KiB: a send may take part of n. */
static bool tls_send_all(struct tls_conn *c, const char *p, size_t n)
{
	ssize_t k;

	while (n) {
		k = tls_send(c, p, n);
		if (k <= 0)
			return false;
		p += k;
		n -= (size_t)k;
	}
	return true;
}

static void *tls_relay_run(void *arg)
{
	struct tls_relay *r = arg;
	bool up = true, down = true; /* local->TLS, TLS->local */
	struct pollfd p[2];
	char *buf = malloc(TLS_RELAY_BUF);
	ssize_t n;
	int rc;

	while (buf && (up || down)) {
		p[0] = (struct pollfd){.fd = r->local, .events = up ? POLLIN : 0};
		p[1] = (struct pollfd){.fd = r->c.fd,
				       .events = down ? POLLIN : 0};
		/* Bytes the session holds already: no poll, no stale revents. */
		if (down && tls_pending(&r->c)) {
			p[0].revents = p[1].revents = 0;
		} else if ((rc = poll(p, 2, TLS_RELAY_IDLE_MS)) <= 0) {
			if (rc < 0 && errno == EINTR)
				continue;
			/* The vmms speak at least every 30 s while alive. */
			if (rc == 0)
				log_warnx("tls: the migration's connection was "
					  "idle for %d s; closed",
					  TLS_RELAY_IDLE_MS / 1000);
			break;
		}
		if (up && (p[0].revents & (POLLIN | POLLHUP | POLLERR))) {
			n = recv(r->local, buf, TLS_RELAY_BUF, 0);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0) {
				(void)gnutls_bye(r->c.tls, GNUTLS_SHUT_WR);
				up = false;
			} else if (!tls_send_all(&r->c, buf, (size_t)n)) {
				break;
			}
		}
		if (down && (tls_pending(&r->c) ||
			     (p[1].revents & (POLLIN | POLLHUP | POLLERR)))) {
			n = tls_recv(&r->c, buf, TLS_RELAY_BUF);
			if (n <= 0) {
				(void)shutdown(r->local, SHUT_WR);
				down = false;
			} else if (!tls_write_all(r->local, buf, (size_t)n)) {
				break;
			}
		}
	}
	free(buf);
	close(r->local);
	tls_close(&r->c);
	free(r);
	return NULL;
}

int tls_relay_start(struct tls_conn *c, int *vmm_end)
{
	struct tls_relay *r = calloc(1, sizeof(*r));
	struct timeval idle = {.tv_sec = TLS_RELAY_IDLE_MS / 1000};
	pthread_attr_t attr;
	pthread_t t;
	int sv[2], rc, one = 1;

	if (!r)
		return -ENOMEM;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		free(r);
		return -errno;
	}
	r->c = *c;
	r->local = sv[0];
	/*
	 * Blocking from here, but a peer that stops taking bytes fails a
	 * send within the idle time, and a dead one is found by keepalives.
	 */
	(void)setsockopt(r->c.fd, SOL_SOCKET, SO_RCVTIMEO, &(struct timeval){0},
			 sizeof(struct timeval));
	(void)setsockopt(r->c.fd, SOL_SOCKET, SO_SNDTIMEO, &idle, sizeof(idle));
	(void)setsockopt(r->local, SOL_SOCKET, SO_SNDTIMEO, &idle, sizeof(idle));
	(void)setsockopt(r->c.fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	rc = -pthread_create(&t, &attr, tls_relay_run, r);
	pthread_attr_destroy(&attr);
	if (rc < 0) {
		close(sv[0]);
		close(sv[1]);
		free(r);
		return rc;
	}
	/* The session and its socket are the relay's now. */
	c->tls = NULL;
	c->fd = -1;
	*vmm_end = sv[1];
	return 0;
}
