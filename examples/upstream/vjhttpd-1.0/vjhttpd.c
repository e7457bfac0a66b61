/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * vjhttpd: serves the files under its docroot over HTTP/1.0, GET only,
 * no "..". Reads address, port and docroot from its config (default
 * /usr/local/etc/vjhttpd.conf). -1 serves one request and exits; -p PATH
 * prints what it would serve for PATH and exits.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <vjlib.h>

static char docroot[256] = "/usr/local/www";

static void
serve(int out, const char *path, int http)
{
	char file[512], buf[4096];
	ssize_t n;
	int fd = -1;

	if (strstr(path, "..") == NULL) {
		snprintf(file, sizeof(file), "%s%s%s", docroot, path,
		    path[strlen(path) - 1] == '/' ? "index.html" : "");
		fd = open(file, O_RDONLY);
	}
	if (http)
		dprintf(out, "HTTP/1.0 %s\r\nContent-Type: text/html\r\n\r\n",
		    fd == -1 ? "404 Not Found" : "200 OK");
	if (fd == -1) {
		dprintf(out, "not found\n");
		return;
	}
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		if (write(out, buf, (size_t)n) != n)
			break;
	close(fd);
}

int
main(int argc, char **argv)
{
	const char *conf = "/usr/local/etc/vjhttpd.conf", *print = NULL;
	char addr[64] = "0.0.0.0", port[16] = "80", req[2048], path[1024];
	int once = 0, c, s, fd;
	ssize_t n;

	while ((c = getopt(argc, argv, "1c:p:")) != -1)
		switch (c) {
		case '1': once = 1; break;
		case 'c': conf = optarg; break;
		case 'p': print = optarg; break;
		default:
			fprintf(stderr, "usage: vjhttpd [-1] [-c conf] [-p path]\n");
			return 2;
		}
	vj_conf_get(conf, "address", addr, sizeof(addr));
	vj_conf_get(conf, "port", port, sizeof(port));
	vj_conf_get(conf, "docroot", docroot, sizeof(docroot));
	if (print != NULL) {
		serve(1, print, 0);
		return 0;
	}
	signal(SIGPIPE, SIG_IGN);
	if ((s = vj_listen(addr, port)) == -1) {
		perror("vjhttpd: listen");
		return 1;
	}
	do {
		if ((fd = accept(s, NULL, NULL)) == -1)
			continue;
		n = read(fd, req, sizeof(req) - 1);
		req[n > 0 ? n : 0] = '\0';
		if (sscanf(req, "GET %1023s", path) == 1 && path[0] == '/')
			serve(fd, path, 1);
		else
			dprintf(fd, "HTTP/1.0 400 Bad Request\r\n\r\n");
		close(fd);
	} while (!once);
	return 0;
}
