/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * TLS for the package store (https:// cache_url), through OpenSSL's libssl,
 * loaded (dlopen) when a store is first reached over https, as libpq is
 * (state/pg.c): every other command starts without it. Functions are
 * typed from OpenSSL's headers, so the compiler checks each call.
 *
 * The server is verified: its chain against cache_ca (a PEM file) or the
 * system's store, its name against the URL's host (SSL_set1_host), TLS 1.2
 * at least. The socket stays non-blocking; each step waits for what
 * OpenSSL asks for (readable, writable) under the caller's deadline.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "../util/util.h"
#include "tls.h"

#define LIBSSL "libssl.so.3"
#define SSL_FUNCS(X) X(TLS_client_method) X(SSL_CTX_new) X(SSL_CTX_free) \
	X(SSL_CTX_set_verify) X(SSL_CTX_load_verify_locations) \
	X(SSL_CTX_set_default_verify_paths) X(SSL_CTX_ctrl) X(SSL_new) \
	X(SSL_free) X(SSL_set_fd) X(SSL_set1_host) X(SSL_ctrl) \
	X(SSL_connect) X(SSL_read) X(SSL_write) X(SSL_get_error) \
	X(SSL_get_verify_result) X(X509_verify_cert_error_string) \
	X(ERR_get_error) X(ERR_error_string_n) X(ERR_clear_error)

static struct {
#define SSL_MEMBER(f) __typeof__(f) *f;
	SSL_FUNCS(SSL_MEMBER)
#undef SSL_MEMBER
} ossl;

static const char *const ossl_names[] = {
#define SSL_NAME(f) #f,
	SSL_FUNCS(SSL_NAME)
#undef SSL_NAME
};
#define NOSSL (sizeof(ossl_names) / sizeof(ossl_names[0]))

static int
load(struct vj_err *err)
{
	static int loaded;
	void *a[NOSSL];
	size_t i = 0;

	if (loaded)
		return 0;
	/* libcrypto's functions are found through libssl's dependencies. */
	if (vj_dlsyms(LIBSSL, "libssl3", "an https:// package store", ossl_names,
	    a, NOSSL, err) == -1)
		return -1;
#define SSL_SET(f) ossl.f = (__typeof__(ossl.f))a[i++];
	SSL_FUNCS(SSL_SET)
#undef SSL_SET
	loaded = 1;
	return 0;
}

/* OpenSSL's reason for the last failure, or what. */
static void
say(struct vj_err *err, const char *host, const char *what)
{
	unsigned long e = ossl.ERR_get_error();
	char buf[256];

	if (e != 0) {
		ossl.ERR_error_string_n(e, buf, sizeof(buf));
		vj_errf(err, "TLS to %s: %s: %s", host, what, buf);
	} else
		vj_errf(err, "TLS to %s: %s", host, what);
	ossl.ERR_clear_error();
}

/* Waits for what OpenSSL wants after r; 0, or -1 with err. */
static int
wait_for(struct tls *t, int r, const char *what, struct vj_err *err)
{
	int e = ossl.SSL_get_error(t->ssl, r), n;
	struct pollfd p = { t->fd, 0, 0 };

	if (e == SSL_ERROR_WANT_READ)
		p.events = POLLIN;
	else if (e == SSL_ERROR_WANT_WRITE)
		p.events = POLLOUT;
	else {
		say(err, t->host, what);
		return -1;
	}
	do
		n = poll(&p, 1, t->timeout * 1000);
	while (n == -1 && errno == EINTR);
	if (n <= 0) {
		vj_errf(err, "TLS to %s: no progress %s within %d s "
		    "(cache_timeout)", t->host, what, t->timeout);
		return -1;
	}
	return 0;
}

int
tls_start(struct tls *t, int fd, const char *host, const char *ca,
    int timeout, struct vj_err *err)
{
	long verify;
	int r;

	memset(t, 0, sizeof(*t));
	t->fd = fd;
	t->host = host;
	t->timeout = timeout;
	if (load(err) == -1)
		return -1;
	if ((t->ctx = ossl.SSL_CTX_new(ossl.TLS_client_method())) == NULL) {
		say(err, host, "SSL_CTX_new");
		return -1;
	}
	ossl.SSL_CTX_set_verify(t->ctx, SSL_VERIFY_PEER, NULL);
	/* SSL_CTX_set_min_proto_version, a macro over SSL_CTX_ctrl. */
	ossl.SSL_CTX_ctrl(t->ctx, SSL_CTRL_SET_MIN_PROTO_VERSION,
	    TLS1_2_VERSION, NULL);
	if ((ca != NULL ? ossl.SSL_CTX_load_verify_locations(t->ctx, ca,
	    NULL) : ossl.SSL_CTX_set_default_verify_paths(t->ctx)) != 1) {
		say(err, host, ca != NULL ? ca : "the system's CA store");
		goto fail;
	}
	if ((t->ssl = ossl.SSL_new(t->ctx)) == NULL ||
	    ossl.SSL_set_fd(t->ssl, fd) != 1 ||
	    ossl.SSL_set1_host(t->ssl, host) != 1 ||
	    /* SSL_set_tlsext_host_name: the name the server is asked for. */
	    ossl.SSL_ctrl(t->ssl, SSL_CTRL_SET_TLSEXT_HOSTNAME,
	    TLSEXT_NAMETYPE_host_name, (void *)host) != 1) {
		say(err, host, "setting up the connection");
		goto fail;
	}
	while ((r = ossl.SSL_connect(t->ssl)) != 1) {
		verify = ossl.SSL_get_verify_result(t->ssl);
		if (verify != X509_V_OK) {
			vj_errf(err, "TLS to %s: the server's certificate was "
			    "refused: %s", host,
			    ossl.X509_verify_cert_error_string(verify));
			goto fail;
		}
		if (wait_for(t, r, "in the handshake", err) == -1)
			goto fail;
	}
	return 0;
fail:
	tls_end(t);
	return -1;
}

ssize_t
tls_read(struct tls *t, void *buf, size_t n, struct vj_err *err)
{
	int r;

	for (;;) {
		if ((r = ossl.SSL_read(t->ssl, buf, n > 1 << 30 ? 1 << 30 :
		    (int)n)) > 0)
			return r;
		if (ossl.SSL_get_error(t->ssl, r) == SSL_ERROR_ZERO_RETURN)
			return 0;	/* close_notify: the end */
		if (wait_for(t, r, "receiving", err) == -1)
			return -1;
	}
}

int
tls_write(struct tls *t, const void *buf, size_t n, struct vj_err *err)
{
	const char *p = buf;
	int r;

	while (n > 0) {
		r = ossl.SSL_write(t->ssl, p, n > 1 << 30 ? 1 << 30 : (int)n);
		if (r > 0) {
			p += r;
			n -= (size_t)r;
			continue;
		}
		if (wait_for(t, r, "sending", err) == -1)
			return -1;
	}
	return 0;
}

void
tls_end(struct tls *t)
{
	if (t->ssl != NULL)
		ossl.SSL_free(t->ssl);
	if (t->ctx != NULL)
		ossl.SSL_CTX_free(t->ctx);
	t->ssl = NULL;
	t->ctx = NULL;
}
