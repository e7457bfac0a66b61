/* SPDX-License-Identifier: BSD-2-Clause */
/* TLS to the package store (tls.c), for http.c. */
#ifndef VJ_CACHE_TLS_H
#define VJ_CACHE_TLS_H

#include <sys/types.h>

struct vj_err;

struct tls {
	int fd, timeout;
	const char *host;
	void *ctx, *ssl;	/* SSL_CTX, SSL */
};

/* The handshake on the connected non-blocking socket fd: the server's
 * chain verified against ca (a PEM file; NULL: the system's store) and
 * its name against host. 0, or -1 with err (the connection's fd is the
 * caller's to close). */
int tls_start(struct tls *t, int fd, const char *host, const char *ca,
    int timeout, struct vj_err *err);
/* Bytes read, 0 at the server's close, -1 with err. */
ssize_t tls_read(struct tls *t, void *buf, size_t n, struct vj_err *err);
int tls_write(struct tls *t, const void *buf, size_t n, struct vj_err *err);
void tls_end(struct tls *t);

#endif
