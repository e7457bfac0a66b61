/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * A small HTTP/1.1 client for the shared package store (cache_url): GET a
 * file into a descriptor, PUT a file from one. One connection a request
 * ("Connection: close"), every connect, read and write bounded by the
 * timeout (cache_timeout), a response's head by 16 KiB and its body by
 * what the caller says it may be. The server is not trusted: what it
 * sends is checked by digest by the caller (cache/store.c); here it can
 * only waste the time and the bytes allowed.
 *
 * http:// or https:// (tls.c: the server's chain and name verified). The
 * packages' integrity does not rest on the transport (their digests come
 * from the registry); the credentials' secrecy does. Not libevent's evhttp:
 * it runs in a build task's own process, where a blocking client with
 * deadlines is all there is to do, and evhttp 2.1 cannot stream a body
 * from a file.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../util/util.h"
#include "../vjbuild.h"
#include "http.h"
#include "tls.h"

#define HEAD_MAX 16384

static int
name_ok(const char *s)
{
	if (*s == '\0' || *s == '.')
		return 0;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		    (*s >= '0' && *s <= '9') || *s == '.' || *s == '-' ||
		    *s == '_'))
			return 0;
	return 1;
}

static char *
base64(const char *s)
{
	static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t n = strlen(s), i, o = 0;
	const unsigned char *u = (const unsigned char *)s;
	char *out = xmalloc(4 * ((n + 2) / 3) + 1);

	for (i = 0; i + 2 < n; i += 3) {
		out[o++] = tab[u[i] >> 2];
		out[o++] = tab[((u[i] & 3) << 4) | (u[i + 1] >> 4)];
		out[o++] = tab[((u[i + 1] & 15) << 2) | (u[i + 2] >> 6)];
		out[o++] = tab[u[i + 2] & 63];
	}
	if (i < n) {
		out[o++] = tab[u[i] >> 2];
		if (i + 1 < n) {
			out[o++] = tab[((u[i] & 3) << 4) | (u[i + 1] >> 4)];
			out[o++] = tab[(u[i + 1] & 15) << 2];
		} else
			out[o++] = tab[(u[i] & 3) << 4], out[o++] = '=';
		out[o++] = '=';
	}
	out[o] = '\0';
	return out;
}

int
http_target_init(struct http_target *t, const char *url, const char *userpass,
    const char *ca, int timeout, struct vj_err *err)
{
	const char *p, *slash, *colon;
	size_t n;

	memset(t, 0, sizeof(*t));
	if (strncmp(url, "https://", 8) == 0)
		t->tls = 1;
	else if (strncmp(url, "http://", 7) != 0) {
		vj_errf(err, "cache_url %.80s: not an http:// or https:// URL",
		    url);
		return -1;
	}
	p = url + (t->tls ? 8 : 7);
	slash = strchr(p, '/');
	n = slash != NULL ? (size_t)(slash - p) : strlen(p);
	if (n == 0 || memchr(p, '@', n) != NULL) {
		vj_errf(err, "cache_url %.80s: no host, or a user in it (the "
		    "credentials go in cache_credentials)", url);
		return -1;
	}
	t->hostport = xstrndup(p, n);
	if (t->hostport[0] == '[') {	/* [v6]:port */
		char *end = strchr(t->hostport, ']');
		if (end == NULL) {
			vj_errf(err, "cache_url %.80s: unclosed [", url);
			http_target_free(t);
			return -1;
		}
		t->host = xstrndup(t->hostport + 1, (size_t)(end - t->hostport - 1));
		colon = end[1] == ':' ? end + 1 : NULL;
	} else {
		colon = strrchr(t->hostport, ':');
		t->host = colon != NULL ? xstrndup(t->hostport,
		    (size_t)(colon - t->hostport)) : xstrdup(t->hostport);
	}
	t->port = xstrdup(colon != NULL ? colon + 1 : t->tls ? "443" : "80");
	p = slash != NULL ? slash : "/";
	n = strlen(p);
	t->path = xasprintf("%s%s", p, n > 0 && p[n - 1] == '/' ? "" : "/");
	for (p = t->path; *p; p++)
		if (*p <= ' ' || *p >= 127 || *p == '?' || *p == '#') {
			vj_errf(err, "cache_url %.80s: the path may hold no "
			    "spaces, controls, ? or #", url);
			http_target_free(t);
			return -1;
		}
	if (userpass != NULL)
		t->auth = base64(userpass);
	t->ca = ca != NULL ? xstrdup(ca) : NULL;
	t->timeout = timeout > 0 ? timeout : 30;
	return 0;
}

void
http_target_free(struct http_target *t)
{
	free(t->hostport);
	free(t->host);
	free(t->port);
	free(t->path);
	free(t->ca);
	if (t->auth != NULL)
		explicit_bzero(t->auth, strlen(t->auth));
	free(t->auth);
	memset(t, 0, sizeof(*t));
}

/* Waits until fd is ready for events, at most the timeout. */
static int
wait_fd(const struct http_target *t, int fd, short events, const char *what,
    struct vj_err *err)
{
	struct pollfd p = { fd, events, 0 };
	int n;

	do
		n = poll(&p, 1, t->timeout * 1000);
	while (n == -1 && errno == EINTR);
	if (n == 0) {
		vj_errf(err, "%s: no progress %s within %d s (cache_timeout)",
		    t->hostport, what, t->timeout);
		return -1;
	}
	if (n == -1) {
		vj_errno(err, "%s: poll", t->hostport);
		return -1;
	}
	return 0;
}

static int
dial(const struct http_target *t, struct vj_err *err)
{
	struct addrinfo hints, *res, *ai;
	int fd = -1, e, soerr;
	socklen_t len;

	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	if ((e = getaddrinfo(t->host, t->port, &hints, &res)) != 0) {
		vj_errf(err, "cache_url: %s: %s", t->hostport, gai_strerror(e));
		return -1;
	}
	vj_errf(err, "%s: no address", t->hostport);
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC |
		    SOCK_NONBLOCK, ai->ai_protocol);
		if (fd == -1)
			continue;
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		if (errno == EINPROGRESS && wait_fd(t, fd, POLLOUT,
		    "connecting", err) == 0) {
			len = sizeof(soerr);
			if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr,
			    &len) == 0 && soerr == 0)
				break;
			errno = soerr;
		}
		if (errno != 0)
			vj_errno(err, "cache server %s: connect", t->hostport);
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	return fd;
}

/* A connection: its socket, and TLS over it for https. */
struct conn {
	int fd, secure;
	struct tls tls;
};

static int
write_all(const struct http_target *t, struct conn *c, const char *p, size_t n,
    struct vj_err *err)
{
	ssize_t w;

	if (c->secure)
		return tls_write(&c->tls, p, n, err);
	while (n > 0) {
		if ((w = send(c->fd, p, n, MSG_NOSIGNAL)) == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN && wait_fd(t, c->fd, POLLOUT,
			    "sending", err) == 0)
				continue;
			if (errno != EAGAIN)
				vj_errno(err, "cache server %s: send",
				    t->hostport);
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Reads what is there (waiting for some): bytes, 0 at the end, -1. */
static ssize_t
read_some(const struct http_target *t, struct conn *c, char *p, size_t n,
    struct vj_err *err)
{
	ssize_t r;

	if (c->secure)
		return tls_read(&c->tls, p, n, err);
	for (;;) {
		if ((r = recv(c->fd, p, n, 0)) >= 0)
			return r;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN) {
			vj_errno(err, "cache server %s: recv", t->hostport);
			return -1;
		}
		if (wait_fd(t, c->fd, POLLIN, "receiving", err) == -1)
			return -1;
	}
}

/* A response being read: what is buffered past the head. */
struct resp {
	char buf[HEAD_MAX + 1];
	size_t have, off;	/* bytes in buf; the body's start in it */
	int status, chunked, eof;
	long long length;	/* -1: until the connection closes */
};

/* Reads the status line and the headers. */
static int
read_head(const struct http_target *t, struct conn *c, struct resp *r,
    struct vj_err *err)
{
	char *end = NULL, *line, *next;
	ssize_t n;

	memset(r, 0, sizeof(*r));
	r->length = -1;
	while (end == NULL) {
		if (r->have == HEAD_MAX) {
			vj_errf(err, "cache server %s: a response head over "
			    "%d bytes", t->hostport, HEAD_MAX);
			return -1;
		}
		if ((n = read_some(t, c, r->buf + r->have, HEAD_MAX - r->have,
		    err)) == -1)
			return -1;
		if (n == 0) {
			vj_errf(err, "cache server %s: closed the connection "
			    "before answering", t->hostport);
			return -1;
		}
		r->have += (size_t)n;
		r->buf[r->have] = '\0';
		end = strstr(r->buf, "\r\n\r\n");
	}
	r->off = (size_t)(end - r->buf) + 4;
	*end = '\0';
	if (sscanf(r->buf, "HTTP/1.%*1[01] %3d", &r->status) != 1 ||
	    r->status < 100 || r->status > 599) {
		vj_errf(err, "cache server %s: not an HTTP/1 response: %.40s",
		    t->hostport, r->buf);
		return -1;
	}
	for (line = strstr(r->buf, "\r\n"); line != NULL; line = next) {
		line += 2;
		next = strstr(line, "\r\n");
		if (next != NULL)
			*next = '\0';
		if (strncasecmp(line, "Content-Length:", 15) == 0) {
			char *e;
			r->length = strtoll(line + 15, &e, 10);
			if (r->length < 0 || (*e != '\0' && *e != ' ')) {
				vj_errf(err, "cache server %s: Content-Length "
				    "%.20s", t->hostport, line + 15);
				return -1;
			}
		} else if (strncasecmp(line, "Transfer-Encoding:", 18) == 0 &&
		    strcasestr(line + 18, "chunked") != NULL)
			r->chunked = 1;
	}
	return 0;
}

/* Up to n body bytes as they come (not decoded): 0 at the end. */
static ssize_t
raw_body(const struct http_target *t, struct conn *c, struct resp *r, char *p,
    size_t n, struct vj_err *err)
{
	size_t k;

	if (r->off < r->have) {
		k = r->have - r->off < n ? r->have - r->off : n;
		memcpy(p, r->buf + r->off, k);
		r->off += k;
		return (ssize_t)k;
	}
	return read_some(t, c, p, n, err);
}

/* One line of a chunked body (a chunk's size): its value, or -1. */
static long long
chunk_size(const struct http_target *t, struct conn *c, struct resp *r,
    struct vj_err *err)
{
	char line[64];
	size_t n = 0;
	char ch, *e;
	long long v;

	for (;;) {
		ssize_t k = raw_body(t, c, r, &ch, 1, err);
		if (k <= 0) {
			if (k == 0)
				vj_errf(err, "cache server %s: a chunked body "
				    "cut short", t->hostport);
			return -1;
		}
		if (ch == '\n')
			break;
		if (ch != '\r' && n + 1 < sizeof(line))
			line[n++] = ch;
	}
	line[n] = '\0';
	if (n == 0)	/* the CRLF after a chunk's data */
		return chunk_size(t, c, r, err);
	v = strtoll(line, &e, 16);
	if (e == line || v < 0) {
		vj_errf(err, "cache server %s: a bad chunk size", t->hostport);
		return -1;
	}
	return v;
}

/*
 * The body, into out (fd -1: read and dropped), at most max bytes. The
 * number of bytes, -2 when there were more, or -1.
 */
static long long
read_body(const struct http_target *t, struct conn *c, struct resp *r, int out,
    long long max, struct vj_err *err)
{
	char buf[65536];
	long long total = 0, left = r->chunked ? 0 : r->length;
	ssize_t n;
	size_t want;

	for (;;) {
		if (r->chunked && left == 0) {
			if ((left = chunk_size(t, c, r, err)) == -1)
				return -1;
			if (left == 0)
				return total;	/* trailers are not read */
		}
		if (left == 0)
			return total;
		want = left > 0 && (unsigned long long)left < sizeof(buf) ?
		    (size_t)left : sizeof(buf);
		if ((n = raw_body(t, c, r, buf, want, err)) == -1)
			return -1;
		if (n == 0) {
			if (left < 0)
				return total;	/* to the close */
			vj_errf(err, "cache server %s: the body was cut short "
			    "after %lld bytes", t->hostport, total);
			return -1;
		}
		total += n;
		if (total > max) {
			vj_errf(err, "cache server %s: a body of more than the "
			    "%lld bytes expected", t->hostport, max);
			return -2;
		}
		if (left > 0)
			left -= n;
		if (out != -1) {
			const char *p = buf;
			while (n > 0) {
				ssize_t w = write(out, p, (size_t)n);
				if (w == -1 && errno == EINTR)
					continue;
				if (w == -1) {
					vj_errno(err, "writing what %s sent",
					    t->hostport);
					return -1;
				}
				p += w;
				n -= w;
			}
		}
	}
}

static int
send_head(const struct http_target *t, struct conn *c, const char *method,
    const char *name, long long length, struct vj_err *err)
{
	struct sbuf b = { 0 };
	int rc;

	sbuf_printf(&b, "%s %s%s HTTP/1.1\r\nHost: %s\r\nUser-Agent: "
	    "vjbuild/" VJBUILD_VERSION "\r\nConnection: close\r\n", method,
	    t->path, name, t->hostport);
	if (t->auth != NULL)
		sbuf_printf(&b, "Authorization: Basic %s\r\n", t->auth);
	if (length >= 0)
		sbuf_printf(&b, "Content-Type: application/octet-stream\r\n"
		    "Content-Length: %lld\r\n", length);
	sbuf_puts(&b, "\r\n");
	rc = write_all(t, c, b.s, b.len, err);
	explicit_bzero(b.s, b.len);
	sbuf_free(&b);
	return rc;
}

static void
hang_up(struct conn *c)
{
	if (c->secure)
		tls_end(&c->tls);
	close(c->fd);
}

/* Connects (TLS for https) and sends a request's head: 0, or -1 with
 * err. */
static int
request(const struct http_target *t, struct conn *c, const char *method,
    const char *name, long long length, struct vj_err *err)
{
	memset(c, 0, sizeof(*c));
	if (!name_ok(name)) {
		vj_errf(err, "%.80s: not a file name for the package store",
		    name);
		return -1;
	}
	if ((c->fd = dial(t, err)) == -1)
		return -1;
	if (t->tls && tls_start(&c->tls, c->fd, t->host, t->ca, t->timeout,
	    err) == -1) {
		close(c->fd);
		return -1;
	}
	c->secure = t->tls;
	if (send_head(t, c, method, name, length, err) == -1) {
		hang_up(c);
		return -1;
	}
	return 0;
}

/* The answer to a GET on c: as http_get says. */
static int
get_response(const struct http_target *t, struct conn *c, int out,
    long long max, long long *got, struct vj_err *err)
{
	struct resp *r = xmalloc(sizeof(*r));
	int status = -1;
	long long n;

	if (read_head(t, c, r, err) == -1)
		goto out;
	/* Another status's body (an error page) is read and dropped. */
	n = read_body(t, c, r, r->status == 200 ? out : -1,
	    r->status == 200 ? max : HEAD_MAX * 4LL, err);
	if (n < 0 && r->status == 200) {
		status = (int)n;	/* -2: longer than max */
		goto out;
	}
	if (got != NULL)
		*got = n < 0 ? 0 : n;
	status = r->status;
out:
	free(r);
	return status;
}

int
http_get(const struct http_target *t, const char *name, int out,
    long long max, long long *got, struct vj_err *err)
{
	struct conn c;
	int status;

	if (request(t, &c, "GET", name, -1, err) == -1)
		return -1;
	status = get_response(t, &c, out, max, got, err);
	hang_up(&c);
	return status;
}

int
http_read_response(int fd, int out, long long max, long long *got,
    struct vj_err *err)
{
	struct http_target t;
	struct conn c;

	memset(&t, 0, sizeof(t));
	memset(&c, 0, sizeof(c));
	t.hostport = (char *)"fuzz";
	t.timeout = 1;
	c.fd = fd;
	return get_response(&t, &c, out, max, got, err);
}

int
http_put(const struct http_target *t, const char *name, int in,
    long long size, struct vj_err *err)
{
	struct resp *r;
	char buf[65536];
	long long left = size;
	struct conn cn, *c = &cn;
	int status = -1;
	ssize_t n;

	if (request(t, c, "PUT", name, size, err) == -1)
		return -1;
	r = xmalloc(sizeof(*r));
	while (left > 0) {
		n = read(in, buf, left < (long long)sizeof(buf) ? (size_t)left :
		    sizeof(buf));
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0)
				errno = EIO;	/* shorter than its size */
			vj_errno(err, "reading the package to send");
			goto out;
		}
		if (write_all(t, c, buf, (size_t)n, err) == -1)
			goto out;
		left -= n;
	}
	if (read_head(t, c, r, err) == -1 ||
	    read_body(t, c, r, -1, HEAD_MAX * 4LL, err) == -1)
		goto out;
	status = r->status;
out:
	free(r);
	hang_up(c);
	return status;
}
