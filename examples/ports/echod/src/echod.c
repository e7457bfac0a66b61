/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * echod: echoes what each client sends. Reads address and port from its
 * config (default /usr/local/etc/echod.conf). -1 serves one client and
 * exits; -V prints the version and the config it would use.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <vjlib.h>

int
main(int argc, char **argv)
{
	const char *conf = "/usr/local/etc/echod.conf";
	char addr[64] = "0.0.0.0", port[16] = "7", buf[4096];
	int once = 0, c, s, fd;
	ssize_t n;

	while ((c = getopt(argc, argv, "1Vc:")) != -1)
		switch (c) {
		case '1': once = 1; break;
		case 'c': conf = optarg; break;
		case 'V':
			vj_conf_get(conf, "address", addr, sizeof(addr));
			vj_conf_get(conf, "port", port, sizeof(port));
			printf("echod 1.0 (libvj %s) %s port %s\n",
			    VJLIB_VERSION, addr, port);
			return 0;
		default:
			fprintf(stderr, "usage: echod [-1V] [-c conf]\n");
			return 2;
		}
	vj_conf_get(conf, "address", addr, sizeof(addr));
	vj_conf_get(conf, "port", port, sizeof(port));
	signal(SIGPIPE, SIG_IGN);
	if ((s = vj_listen(addr, port)) == -1) {
		perror("echod: listen");
		return 1;
	}
	do {
		if ((fd = accept(s, NULL, NULL)) == -1)
			continue;
		while ((n = read(fd, buf, sizeof(buf))) > 0)
			if (write(fd, buf, (size_t)n) != n)
				break;
		close(fd);
	} while (!once);
	return 0;
}
