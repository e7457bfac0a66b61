/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The package store's HTTP client (cache/http.c) against a server that
 * answers each connection with a canned response: lengths, chunks, bodies
 * too long or cut short, heads too big, errors, and what it sends.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../cache/http.h"
#include "../../util/util.h"
#include "t.h"

/* Serves one connection with resp (len bytes), then exits; the request
 * it read goes to req (a file). Returns the child's pid and the URL. */
static pid_t
serve(const char *resp, size_t len, const char *req, char url[64])
{
	struct sockaddr_in a;
	socklen_t alen = sizeof(a);
	int s = socket(AF_INET, SOCK_STREAM, 0), c, fd;
	pid_t pid;
	char buf[65536];
	ssize_t n;

	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (s == -1 || bind(s, (struct sockaddr *)&a, sizeof(a)) == -1 ||
	    listen(s, 1) == -1 || getsockname(s, (struct sockaddr *)&a,
	    &alen) == -1)
		return -1;
	snprintf(url, 64, "http://127.0.0.1:%d/store/", ntohs(a.sin_port));
	if ((pid = fork()) != 0) {
		close(s);
		return pid;
	}
	c = accept(s, NULL, NULL);
	fd = open(req, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	/* The head, and a PUT's body when it comes with it. */
	n = read(c, buf, sizeof(buf));
	if (n > 0 && fd != -1)
		(void)!write(fd, buf, (size_t)n);
	if (len > 0)
		(void)!write(c, resp, len);
	_exit(0);
}

/* GETs name from a server answering resp: the status; body in *out. */
static int
get(const char *resp, long long max, char **out, long long *got,
    struct vj_err *err)
{
	char url[64], *req = fs_join(t_tmpdir(), "req"),
	    *body = fs_join(t_tmpdir(), "body");
	struct http_target t;
	pid_t pid = serve(resp, strlen(resp), req, url);
	int fd = open(body, O_RDWR | O_CREAT | O_TRUNC, 0600), st = -1;
	size_t len;

	if (pid > 0 && http_target_init(&t, url, "u:p", NULL, 5, err) == 0) {
		st = http_get(&t, "k-s.tar.gz", fd, max, got, err);
		http_target_free(&t);
	}
	if (pid > 0)
		waitpid(pid, NULL, 0);
	close(fd);
	*out = fs_read(body, 1 << 20, &len);
	free(req);
	free(body);
	return st;
}

TEST(http_get_reads_lengths_and_chunks_and_bounds_them)
{
	struct vj_err err;
	char *b = NULL, *req;
	long long got = 0;
	size_t len;

	CHECK(get("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", 100,
	    &b, &got, &err) == 200);
	CHECK_STR(b, "hello");
	CHECK(got == 5);
	free(b);
	/* What was asked: the path under the URL's, the credentials. */
	req = fs_join(t_tmpdir(), "req");
	b = fs_read(req, 4096, &len);
	REQUIRE(b != NULL);
	CHECK(strncmp(b, "GET /store/k-s.tar.gz HTTP/1.1\r\n", 32) == 0);
	CHECK(strstr(b, "\r\nAuthorization: Basic dTpw\r\n") != NULL);
	free(b);
	free(req);
	CHECK(get("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
	    "3\r\nhel\r\n2;x=y\r\nlo\r\n0\r\n\r\n", 100, &b, &got, &err) == 200);
	CHECK_STR(b, "hello");
	free(b);
	/* To the close, when neither is said. */
	CHECK(get("HTTP/1.0 200 OK\r\n\r\nhello", 100, &b, &got, &err) == 200);
	CHECK_STR(b, "hello");
	free(b);
	/* Longer than allowed: -2, and no more than the bound written. */
	CHECK(get("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", 4, &b,
	    &got, &err) == -2);
	CHECK(strstr(err.msg, "more than the 4 bytes") != NULL);
	CHECK(b != NULL && strlen(b) == 0);
	free(b);
	CHECK(get("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
	    "ff\r\nhello", 4, &b, &got, &err) == -2);
	free(b);
	/* Cut short, a bad chunk, not HTTP, a closed connection. */
	CHECK(get("HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nhello", 100,
	    &b, &got, &err) == -1);
	CHECK(strstr(err.msg, "cut short after 5 bytes") != NULL);
	free(b);
	CHECK(get("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
	    "zz\r\nhello", 100, &b, &got, &err) == -1);
	free(b);
	CHECK(get("SSH-2.0-OpenSSH\r\n\r\n", 100, &b, &got, &err) == -1);
	CHECK(strstr(err.msg, "not an HTTP/1 response") != NULL);
	free(b);
	CHECK(get("", 100, &b, &got, &err) == -1);
	CHECK(strstr(err.msg, "closed the connection") != NULL);
	free(b);
	/* Another status: its body is not written. */
	CHECK(get("HTTP/1.1 404 Not Found\r\nContent-Length: 4\r\n\r\ngone",
	    100, &b, &got, &err) == 404);
	CHECK(b != NULL && strlen(b) == 0);
	free(b);
}

TEST(http_head_over_16k_and_bad_names_and_urls_are_refused)
{
	struct vj_err err;
	struct sbuf big = { 0 };
	struct http_target t;
	char *b = NULL;
	long long got;
	int i;

	sbuf_puts(&big, "HTTP/1.1 200 OK\r\n");
	for (i = 0; i < 2000; i++)
		sbuf_puts(&big, "X-Pad: 0123456789\r\n");
	sbuf_puts(&big, "\r\n");
	CHECK(get(big.s, 100, &b, &got, &err) == -1);
	CHECK(strstr(err.msg, "head over 16384 bytes") != NULL);
	free(b);
	sbuf_free(&big);
	CHECK(http_target_init(&t, "ftp://x/", NULL, NULL, 5, &err) == -1);
	CHECK(http_target_init(&t, "http://u:p@x/", NULL, NULL, 5, &err) == -1);
	CHECK(http_target_init(&t, "http://x/a b/", NULL, NULL, 5, &err) == -1);
	REQUIRE(http_target_init(&t, "http://[::1]:8080/p", NULL, NULL, 5,
	    &err) == 0);
	CHECK_STR(t.host, "::1");
	CHECK_STR(t.port, "8080");
	CHECK_STR(t.path, "/p/");
	CHECK(http_get(&t, "../etc/passwd", -1, 10, &got, &err) == -1);
	CHECK(http_get(&t, "a/b", -1, 10, &got, &err) == -1);
	http_target_free(&t);
	REQUIRE(http_target_init(&t, "http://127.0.0.1", NULL, NULL, 5, &err) == 0);
	CHECK_STR(t.port, "80");
	CHECK_STR(t.path, "/");
	http_target_free(&t);
}

TEST(http_put_sends_the_file_and_reports_the_status)
{
	struct vj_err err;
	char url[64], *req = fs_join(t_tmpdir(), "req"),
	    *src = fs_join(t_tmpdir(), "src"), *b;
	struct http_target t;
	const char *resp = "HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n";
	pid_t pid;
	int fd;
	size_t len;

	REQUIRE(fs_mkdirs(t_tmpdir(), 0700) == 0);
	fd = open(src, O_RDWR | O_CREAT | O_TRUNC, 0600);
	REQUIRE(fd != -1 && write(fd, "package", 7) == 7);
	REQUIRE(lseek(fd, 0, SEEK_SET) == 0);
	pid = serve(resp, strlen(resp), req, url);
	REQUIRE(pid > 0);
	REQUIRE(http_target_init(&t, url, NULL, NULL, 5, &err) == 0);
	CHECK(http_put(&t, "k-s.tar.gz", fd, 7, &err) == 201);
	waitpid(pid, NULL, 0);
	b = fs_read(req, 4096, &len);
	REQUIRE(b != NULL);
	CHECK(strncmp(b, "PUT /store/k-s.tar.gz HTTP/1.1\r\n", 32) == 0);
	CHECK(strstr(b, "\r\nContent-Length: 7\r\n") != NULL);
	CHECK(strstr(b, "Authorization") == NULL);
	free(b);
	/* A file shorter than it was said to be: an error, not a hang. */
	REQUIRE(lseek(fd, 0, SEEK_SET) == 0);
	pid = serve(resp, strlen(resp), req, url);
	CHECK(http_put(&t, "k-s.tar.gz", fd, 70, &err) == -1);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	http_target_free(&t);
	close(fd);
	free(req);
	free(src);
}
