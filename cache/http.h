/* SPDX-License-Identifier: BSD-2-Clause */
/* The package store's HTTP client (http.c). */
#ifndef VJ_CACHE_HTTP_H
#define VJ_CACHE_HTTP_H

struct vj_err;

/* Where the store is: from an http://HOST[:PORT]/PATH/ URL. */
struct http_target {
	char *hostport, *host, *port, *path;	/* path ends with '/' */
	char *auth;		/* base64 of "user:password", or NULL */
	char *ca;		/* https: the CA file to trust, or NULL */
	int tls;		/* https */
	int timeout;		/* seconds any step may wait */
};

/* 0, or -1 with err (not http:// or https://, a user in the URL, a bad
 * path). userpass (NULL: none) is sent as HTTP basic authentication; ca
 * (NULL: the system's store) is what an https server's chain must end
 * in. */
int http_target_init(struct http_target *t, const char *url,
    const char *userpass, const char *ca, int timeout, struct vj_err *err);
void http_target_free(struct http_target *t);
/* GET PATH/name into the descriptor out (a 200's body, at most max
 * bytes; *got says how many). The HTTP status, or with err -2 when the
 * body was longer than max, -1 when the exchange failed. */
int http_get(const struct http_target *t, const char *name, int out,
    long long max, long long *got, struct vj_err *err);
/* What http_get does after its request, on a connected socket fd (for
 * tests/fuzz/fuzz_http.c). */
int http_read_response(int fd, int out, long long max, long long *got,
    struct vj_err *err);
/* PUT size bytes read from in as PATH/name: the status, or -1 with err. */
int http_put(const struct http_target *t, const char *name, int in,
    long long size, struct vj_err *err);

#endif
