/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * A started jail's network on the host: the host's ip(8), the veth pair's
 * names, and the check of the jail's address against the host's.
 *
 * Names: vjNh on the host and vjNj (eth0 inside) for the lowest N whose
 * names no link has, recorded in the jail's run file with the host end's
 * ifindex; two jails never share one (the names of an earlier hash of the
 * jail's name could collide, and a second jail then took the first one's
 * link). The pair goes with the jail's network namespace; stop deletes
 * what is left of it only when the name still has the recorded index
 * (names are reused: by then it may be another jail's).
 *
 * Address: before anything changes, refused when it is loopback,
 * multicast, link-local or unspecified; when a host interface has it;
 * or when a route of the host's main table (other than a default route)
 * covers it: another started jail's /32 or /128 on its veth, or a network
 * of the host's (the jail would shadow hosts of that network). The route
 * is then added, never replaced.
 *
 * The host itself: a jail's packets to the host's own addresses arrive on
 * its vjNh and go through nftables' input hook, where the table "inet
 * vjbuild" drops them but for replies to the host's own connections, IPv6
 * neighbour discovery (without which a jail has no IPv6 route), and the
 * services host_access names (by default each resolver on port 53).
 * Packets a jail sends on through the host (forwarding) are the
 * operator's to allow or not. The table is loaded whole at every start,
 * in one nft transaction, so two starts never leave half of one; with
 * one host and several vjbuild states, the last start's host_access wins.
 */
#ifdef __linux__
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../util/util.h"
#include "jail.h"

int
jail_ip(const char *first, ...)
{
	char *argv[16] = { "/sbin/ip" }, *envp[] = {
	    "PATH=/usr/sbin:/usr/bin:/sbin:/bin", NULL };
	struct vj_err err;
	va_list ap;
	size_t n = 1;
	int status;

	va_start(ap, first);
	for (argv[n] = (char *)first; argv[n] != NULL && n < 14;)
		argv[++n] = va_arg(ap, char *);
	va_end(ap);
	argv[15] = NULL;

	if (access(argv[0], X_OK) == -1)
		argv[0] = "/usr/sbin/ip";
	if (jail_run(argv, envp, NULL, &status, &err) == -1)
		return -1;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

static int
link_exists(const char *name)
{
	char *path = xasprintf("/sys/class/net/%s", name);
	int rc = access(path, F_OK) == 0;

	free(path);
	return rc;
}

long
jail_link_index(const char *name)
{
	char *path = xasprintf("/sys/class/net/%s/ifindex", name), buf[32];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd == -1 ? -1 : read(fd, buf, sizeof(buf) - 1);

	if (fd != -1)
		close(fd);
	free(path);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	return strtol(buf, NULL, 10);
}

void
jail_link_del(const char *name, long index)
{
	/* By name and index: the name may be another jail's by now. */
	if (*name != '\0' && index > 0 && jail_link_index(name) == index)
		(void)jail_ip("link", "del", name, NULL);
}

int
jail_veth_add(char host[16], char jail[16], struct vj_err *err)
{
	unsigned n;

	for (n = 0; n < 100000; n++) {
		snprintf(host, 16, "vj%uh", n);
		snprintf(jail, 16, "vj%uj", n);
		if (link_exists(host) || link_exists(jail))
			continue;
		if (jail_ip("link", "add", host, "type", "veth", "peer",
		    "name", jail, NULL) == 0)
			return 0;
		/* Taken between the look and the add: the next one. */
		if (!link_exists(host) && !link_exists(jail))
			break;
	}
	vj_errf(err, "ip link add %s type veth peer name %s failed", host,
	    jail);
	return -1;
}

int
jail_net_inside(pid_t pid, const char *jail_if, const char *address,
    struct vj_err *err)
{
	char path[64], *addr;
	int v6 = strchr(address, ':') != NULL, status, fd;
	pid_t child;

	fflush(stdout);
	fflush(stderr);
	if ((child = fork()) == -1) {
		vj_errno(err, "fork");
		return -1;
	}
	if (child == 0) {
		snprintf(path, sizeof(path), "/proc/%ld/ns/net", (long)pid);
		if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1 ||
		    setns(fd, CLONE_NEWNET) == -1)
			_exit(2);
		addr = xasprintf("%s/%d", address, v6 ? 128 : 32);
		_exit(jail_ip("link", "set", "lo", "up", NULL) == -1 ||
		    jail_ip("link", "set", jail_if, "name", "eth0", NULL) == -1 ||
		    jail_ip(v6 ? "-6" : "-4", "addr", "add", addr, "dev", "eth0",
		    v6 ? "nodad" : NULL, NULL) == -1 ||
		    jail_ip("link", "set", "eth0", "up", NULL) == -1 ||
		    (v6 ? jail_ip("-6", "route", "add", "default", "via",
		    "fe80::1", "dev", "eth0", NULL) : jail_ip("-4", "route",
		    "add", "default", "dev", "eth0", NULL)) == -1);
	}
	while (waitpid(child, &status, 0) == -1 && errno == EINTR)
		;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		vj_errf(err, "configuring the jail's eth0 (%s) with ip(8) %s",
		    address, WIFEXITED(status) && WEXITSTATUS(status) == 2 ?
		    "failed: cannot enter its network namespace" : "failed");
		return -1;
	}
	return 0;
}

int
jail_firewall(const struct jail_access *a, size_t n, const char *dir,
    struct vj_err *err)
{
	char *argv[] = { "/usr/sbin/nft", "-f", NULL, NULL }, *envp[] = {
	    "PATH=/usr/sbin:/usr/bin:/sbin:/bin", NULL };
	struct sbuf b = { 0 };
	char *text, *path = fs_join(dir, ".nftables");
	size_t i;
	int status, rc = -1, dfd = -1;

	if (access(argv[0], X_OK) == -1) {
		vj_errf(err, "%s: not found (Debian's package nftables): "
		    "vjbuild starts no jail that could reach every service of "
		    "the host", argv[0]);
		goto out;
	}
	sbuf_puts(&b, "table inet vjbuild\ndelete table inet vjbuild\n"
	    "table inet vjbuild {\n"
	    "\tchain input {\n"
	    "\t\ttype filter hook input priority filter - 10; policy accept;\n"
	    "\t\tiifname \"vj*\" jump from_jail\n"
	    "\t}\n"
	    "\tchain from_jail {\n"
	    "\t\tct state established,related accept\n"
	    "\t\ticmpv6 type { nd-neighbor-solicit, nd-neighbor-advert, "
	    "nd-router-solicit } accept\n");
	for (i = 0; i < n; i++) {
		const char *fam = strchr(a[i].address, ':') ? "ip6" : "ip";
		if (a[i].port == 0)
			sbuf_printf(&b, "\t\t%s daddr %s accept\n", fam,
			    a[i].address);
		else
			sbuf_printf(&b, "\t\t%s daddr %s meta l4proto { tcp, "
			    "udp } th dport %u accept\n", fam, a[i].address,
			    a[i].port);
	}
	sbuf_puts(&b, "\t\tcounter drop\n\t}\n}\n");
	text = sbuf_take(&b);
	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1 ||
	    fs_write_beneath(dfd, ".nftables", text, strlen(text), 0600,
	    err) == -1) {
		if (dfd == -1)
			vj_errno(err, "%s", dir);
		free(text);
		goto out;
	}
	free(text);
	argv[2] = path;
	if (jail_run(argv, envp, NULL, &status, err) == -1)
		goto out;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		vj_errf(err, "nft -f %s failed: the jails' access to the host "
		    "could not be set", path);
		goto out;
	}
	rc = 0;
out:
	if (dfd != -1)
		close(dfd);
	free(path);
	return rc;
}

/* Whether the first plen bits of a and b (16 bytes, or 4) agree. */
static int
prefix_eq(const unsigned char *a, const unsigned char *b, unsigned plen)
{
	unsigned i;

	for (i = 0; i < plen; i++)
		if (((a[i / 8] ^ b[i / 8]) >> (7 - i % 8)) & 1)
			return 0;
	return 1;
}

/* One route of the host's (dest/plen on dev) that covers addr: err. */
static int
covered(const char *addr, const unsigned char *a, const unsigned char *dest,
    unsigned plen, const char *dev, int family, struct vj_err *err)
{
	char text[INET6_ADDRSTRLEN];

	if (plen == 0 || !prefix_eq(a, dest, plen))
		return 0;
	inet_ntop(family, dest, text, sizeof(text));
	if (strncmp(dev, "vj", 2) == 0 && plen == (family == AF_INET ? 32 :
	    128))
		vj_errf(err, "%s is the address of another started jail (the "
		    "host's route %s/%u dev %s)", addr, text, plen, dev);
	else
		vj_errf(err, "%s overlaps the host's route %s/%u dev %s: a "
		    "jail's address must be its own", addr, text, plen, dev);
	return 1;
}

static int
routes4(const char *addr, const unsigned char *a, struct vj_err *err)
{
	char line[256], dev[64];
	unsigned dst, gw, flags, ref, use, metric, mask, plen;
	FILE *f = fopen("/proc/net/route", "re");
	int found = 0;

	if (f == NULL)
		return 0;
	while (!found && fgets(line, sizeof(line), f) != NULL) {
		if (sscanf(line, "%63s %x %x %x %u %u %u %x", dev, &dst, &gw,
		    &flags, &ref, &use, &metric, &mask) != 8)
			continue;	/* the header */
		/* Both in network order, as the kernel keeps them. */
		for (plen = 0; plen < 32 && (((unsigned char *)&mask)[plen / 8]
		    >> (7 - plen % 8)) & 1; plen++)
			;
		found = covered(addr, a, (unsigned char *)&dst, plen, dev,
		    AF_INET, err);
	}
	fclose(f);
	return found;
}

static int
routes6(const char *addr, const unsigned char *a, struct vj_err *err)
{
	char line[512], hex[33], dev[64];
	unsigned char dest[16];
	unsigned plen, i, byte;
	FILE *f = fopen("/proc/net/ipv6_route", "re");
	int found = 0;

	if (f == NULL)
		return 0;
	while (!found && fgets(line, sizeof(line), f) != NULL) {
		if (sscanf(line, "%32s %x %*s %*s %*s %*s %*s %*s %*s %63s",
		    hex, &plen, dev) != 3 || strlen(hex) != 32 ||
		    strcmp(dev, "lo") == 0)
			continue;	/* lo: the host's own, seen above */
		for (i = 0; i < 16; i++) {
			sscanf(hex + 2 * i, "%2x", &byte);
			dest[i] = (unsigned char)byte;
		}
		found = covered(addr, a, dest, plen, dev, AF_INET6, err);
	}
	fclose(f);
	return found;
}

int
jail_addr_check(const char *addr, struct vj_err *err)
{
	unsigned char a[16];
	struct ifaddrs *ifs, *i;
	int v6 = strchr(addr, ':') != NULL, bad;

	if (inet_pton(v6 ? AF_INET6 : AF_INET, addr, a) != 1) {
		vj_errf(err, "%s is not an address", addr);
		return -1;
	}
	bad = v6 ? IN6_IS_ADDR_LOOPBACK((struct in6_addr *)a) ||
	    IN6_IS_ADDR_MULTICAST((struct in6_addr *)a) ||
	    IN6_IS_ADDR_LINKLOCAL((struct in6_addr *)a) ||
	    IN6_IS_ADDR_UNSPECIFIED((struct in6_addr *)a) :
	    a[0] == 127 || a[0] == 0 || a[0] >= 224 ||
	    (a[0] == 169 && a[1] == 254);
	if (bad) {
		vj_errf(err, "%s is a loopback, multicast, link-local or "
		    "unspecified address: a jail's must reach the host", addr);
		return -1;
	}
	if (getifaddrs(&ifs) == 0) {
		for (i = ifs; i != NULL; i = i->ifa_next) {
			const void *p;
			if (i->ifa_addr == NULL || i->ifa_addr->sa_family !=
			    (v6 ? AF_INET6 : AF_INET))
				continue;
			p = v6 ? (const void *)&((struct sockaddr_in6 *)
			    i->ifa_addr)->sin6_addr : (const void *)
			    &((struct sockaddr_in *)i->ifa_addr)->sin_addr;
			if (memcmp(p, a, v6 ? 16 : 4) == 0) {
				vj_errf(err, "%s is the host's address on %s",
				    addr, i->ifa_name);
				freeifaddrs(ifs);
				return -1;
			}
		}
		freeifaddrs(ifs);
	}
	return (v6 ? routes6(addr, a, err) : routes4(addr, a, err)) ? -1 : 0;
}
#endif
