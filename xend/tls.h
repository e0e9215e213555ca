/* SPDX-License-Identifier: MIT */
/* TLS on the relocation connection (tls.c). */
#ifndef XENIA_XEND_TLS_H
#define XENIA_XEND_TLS_H

#include <stdbool.h>
#include <sys/types.h>

#include <gnutls/gnutls.h>

/* A relocation connection: plain (tls NULL) or a TLS session on fd. */
struct tls_conn {
	int fd;
	gnutls_session_t tls;
};

/*
 * This xend's certificate, its key and the CA peers must be signed by
 * (all three or none).  0, or -EINVAL logged.
 */
int tls_setup(const char *cert, const char *key, const char *ca)
    __attribute__((warn_unused_result));
bool tls_enabled(void);

/*
 * The handshake on c->fd: as the server (the peer must show a
 * certificate the CA signed) or as the client of host (its certificate
 * must be the CA's and name host).  0, or -errno with err set.
 */
int tls_accept(struct tls_conn *c, char *err, size_t errlen)
    __attribute__((warn_unused_result));
int tls_connect(struct tls_conn *c, const char *host, char *err,
		size_t errlen) __attribute__((warn_unused_result));

/* send/recv on either kind; -1 on an error. */
ssize_t tls_send(struct tls_conn *c, const void *p, size_t n);
ssize_t tls_recv(struct tls_conn *c, void *p, size_t n);
void tls_close(struct tls_conn *c);

/*
 * From here on the bytes go through a socketpair: *vmm_end is the end
 * for the vmm, and a thread relays between the other end and the
 * session until both directions are closed.  c is the relay's then.
 */
int tls_relay_start(struct tls_conn *c, int *vmm_end)
    __attribute__((warn_unused_result));

#endif
