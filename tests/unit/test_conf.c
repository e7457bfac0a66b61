/* SPDX-License-Identifier: BSD-2-Clause */
/* conf/: every malformation is refused with file:line. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "../../conf/conf.h"
#include "../../util/util.h"
#include "t.h"

static char *
write_file(const char *name, const char *text, size_t n)
{
	char *path = fs_join(t_tmpdir(), name);
	FILE *f = fopen(path, "w");

	fwrite(text, 1, n, f);
	fclose(f);
	return path;
}

/* Parses text as hosts.txt; returns NULL and fills err on failure. */
static struct conf_hosts *
hosts(const char *text, struct vj_err *err)
{
	char *path = write_file("hosts.txt", text, strlen(text));
	struct conf_hosts *h = conf_hosts_read(path, err);

	free(path);
	return h;
}

static void
hosts_error(const char *text, const char *want)
{
	struct vj_err err = { "" };
	struct conf_hosts *h = hosts(text, &err);

	CHECK(h == NULL);
	if (strstr(err.msg, want) == NULL) {
		fprintf(stderr, "    got '%s', want '%s'\n", err.msg, want);
		CHECK(strstr(err.msg, want) != NULL);
	}
	conf_hosts_free(h);
}

TEST(hosts_parse_good)
{
	struct vj_err err;
	struct conf_hosts *h = hosts("# jails\n\nweb1 10.0.0.1 httpd echo\n"
	    "  db.example.org\t2001:DB8::0:1  # a comment\n", &err);

	REQUIRE(h != NULL);
	CHECK(h->n == 2);
	CHECK_STR(h->v[0].name, "web1");
	CHECK(h->v[0].npackages == 2);
	CHECK_STR(h->v[0].packages[1], "echo");
	CHECK(h->v[0].line == 3);
	CHECK_STR(h->v[1].address, "2001:db8::1");
	CHECK(h->v[1].family == AF_INET6);
	CHECK(h->v[1].packages == NULL);
	conf_hosts_free(h);
}

TEST(hosts_errors_name_the_line)
{
	hosts_error("a 10.0.0.1\nb 10.0.0.1\n", "hosts.txt:2: duplicate address 10.0.0.1");
	hosts_error("a 10.0.0.1\nA 10.0.0.2\n", "hosts.txt:2: duplicate host name");
	hosts_error("a ::1\nb 0:0::1\n", "hosts.txt:2: duplicate address ::1");
	hosts_error("a 10.0.0.1\nb 10.0.0.300\n", "hosts.txt:2: '10.0.0.300' is not an IPv4");
	hosts_error("../x 10.0.0.1\n", "hosts.txt:1: '../x' is not a valid host name");
	hosts_error("a/b 10.0.0.1\n", "hosts.txt:1:");
	hosts_error("-a 10.0.0.1\n", "hosts.txt:1:");
	hosts_error("a..b 10.0.0.1\n", "hosts.txt:1:");
	hosts_error("justname\n", "hosts.txt:1: expected NAME ADDRESS");
	hosts_error("# nothing\n", "no hosts");
	hosts_error("a 10.0.0.1 ../pkg\n", "not a valid package name");
	hosts_error("a\xc3\x28 10.0.0.1\n", "hosts.txt:1:");
}

TEST(hosts_refuses_nul_and_long_lines)
{
	struct vj_err err = { "" };
	char *path, *big;
	struct conf_hosts *h;

	path = write_file("nul.txt", "a 10.0.0.1\nb\0 10.0.0.2\n", 23);
	CHECK(conf_hosts_read(path, &err) == NULL);
	CHECK(strstr(err.msg, "nul.txt:2: NUL byte") != NULL);
	free(path);
	big = xmalloc(CONF_MAX_LINE + 10);
	memset(big, 'a', CONF_MAX_LINE + 9);
	big[CONF_MAX_LINE + 9] = '\0';
	h = hosts(big, &err);
	CHECK(h == NULL);
	CHECK(strstr(err.msg, "hosts.txt:1: line longer") != NULL);
	free(big);
}

TEST(hostname_rules)
{
	char name[300];

	CHECK(conf_valid_hostname("a"));
	CHECK(conf_valid_hostname("web-1.example.org"));
	CHECK(!conf_valid_hostname(""));
	CHECK(!conf_valid_hostname("a-"));
	CHECK(!conf_valid_hostname("a b"));
	CHECK(!conf_valid_hostname("."));
	CHECK(!conf_valid_hostname("a."));
	memset(name, 'a', 64);
	name[64] = '\0';
	CHECK(!conf_valid_hostname(name));	/* label over 63 */
	memset(name, 0, sizeof(name));
	for (int i = 0; i < 254; i++)
		name[i] = i % 2 ? '.' : 'a';
	name[253] = '\0';
	CHECK(conf_valid_hostname(name));	/* 253 */
	name[253] = 'a';
	CHECK(!conf_valid_hostname(name));	/* 254 */
}

static void
config_error(const char *text, const char *want)
{
	struct vj_err err = { "" };
	char *path = write_file("vjbuild.conf", text, strlen(text));
	struct conf *c = conf_read(path, &err);

	if (c != NULL && conf_finish(c, t_tmpdir(), 1, &err) == 0) {
		CHECK(!"config accepted");
	} else if (strstr(err.msg, want) == NULL) {
		fprintf(stderr, "    got '%s', want '%s'\n", err.msg, want);
		CHECK(strstr(err.msg, want) != NULL);
	}
	conf_free(c);
	free(path);
}

TEST(config_parse_and_paths)
{
	struct vj_err err;
	char *base = write_file("base.tgz", "x", 1);
	char *text = xasprintf("# vjbuild\nbase = base.tgz\njails=/srv/j\n"
	    "packages = a b\nresolver = 10.0.0.53 ::1\ndomain = example.org\n");
	char *path = write_file("vjbuild.conf", text, strlen(text));
	struct conf *c = conf_read(path, &err);

	REQUIRE(c != NULL);
	CHECK(conf_finish(c, t_tmpdir(), 1, &err) == 0);
	CHECK_STR(c->val[CONF_BASE], base);
	CHECK_STR(c->val[CONF_JAILS], "/srv/j");
	CHECK(c->npackages == 2);
	CHECK(c->nresolvers == 2);
	free(text);
	text = xasprintf("%s:2", path);
	CHECK_STR(c->where[CONF_BASE], text);
	conf_free(c);
	free(text);
	free(path);
	free(base);
}

TEST(config_errors_name_the_line)
{
	config_error("base = x\nbsae = y\n", "vjbuild.conf:2: unknown key 'bsae'");
	config_error("jails = a\njails = b\n", "vjbuild.conf:2: 'jails' is set twice");
	config_error("jails\n", "vjbuild.conf:1: expected 'key = value'");
	config_error("jails =\n", "vjbuild.conf:1: 'jails' has no value");
	config_error("base = /nonexistent/base.tgz\n",
	    "vjbuild.conf:1: base /nonexistent/base.tgz");
	config_error("jails = j\n", "no base given");
	config_error("base = /dev/null\n", "is not a file");
	config_error("base = /etc/hostname\nresolver = 1.2.3\n",
	    "vjbuild.conf:2: '1.2.3' is not a valid address");
	config_error("base = /etc/hostname\ndomain = a..b\n",
	    "vjbuild.conf:2: 'a..b' is not a valid domain");
}

TEST(huge_counts_and_numbers_are_refused)
{
	struct vj_err err = { "" };
	struct conf_user u;
	struct sbuf b = { 0 };
	struct conf_hosts *h;
	char *text;
	int i;

	/* More hosts than CONF_MAX_HOSTS. */
	for (i = 0; i <= CONF_MAX_HOSTS; i++)
		sbuf_printf(&b, "h%d 10.%d.%d.%d\n", i, i >> 16 & 255,
		    i >> 8 & 255, i & 255);
	text = sbuf_take(&b);
	h = hosts(text, &err);
	CHECK(h == NULL);
	CHECK(strstr(err.msg, "hosts.txt:65537: more than 65536 hosts") != NULL);
	conf_hosts_free(h);
	free(text);
	/* More packages on a line than CONF_MAX_WORDS. */
	sbuf_printf(&b, "a 10.0.0.1");
	for (i = 0; i <= CONF_MAX_WORDS; i++)
		sbuf_printf(&b, " p%d", i);
	sbuf_printf(&b, "\n");
	text = sbuf_take(&b);
	h = hosts(text, &err);
	CHECK(h == NULL);
	CHECK(strstr(err.msg, "hosts.txt:1:") != NULL);
	conf_hosts_free(h);
	free(text);
	/* Numbers past what they may be. */
	CHECK(conf_user_parse(&u, "a", "uid=4294967296", NULL, &err) == -1);
	CHECK(conf_user_parse(&u, "a", "uid=99999999999999999999999", NULL,
	    &err) == -1);
	CHECK(conf_user_parse(&u, "a", "uid=-1", NULL, &err) == -1);
	config_error("base = /etc/hostname\nunpack_limit = 99999999999999999999G\n",
	    "vjbuild.conf:2: unpack_limit '99999999999999999999G' is not a size");
	config_error("base = /etc/hostname\nunpack_limit = 17179869184G\n",
	    "is not a size");
	config_error("base = /etc/hostname\nunpack_limit = 12X\n",
	    "is not a size");
	config_error("base = /etc/hostname\nunpack_limit = 0\n",
	    "is not a size");
	/* Bad UTF-8 and control bytes in a config value. */
	config_error("base = /etc/hostname\ndomain = ex\xc3\x28.org\n",
	    "vjbuild.conf:2:");
	config_error("base = /etc/hostname\ndomain = a\x01b\n",
	    "vjbuild.conf:2:");
}

TEST(jail_limits_and_host_access)
{
	struct vj_err err;
	char *base = write_file("base.tgz", "x", 1);
	const char *text = "base = base.tgz\nresolver = 10.0.0.53 fd00::53\n"
	    "limit.pids = 200\nlimit.memory = 512M\nlimit.shm = 8M\n";
	char *path = write_file("vjbuild.conf", text, strlen(text));
	struct conf *c = conf_read(path, &err);

	REQUIRE(c != NULL);
	CHECK(conf_finish(c, t_tmpdir(), 1, &err) == 0);
	CHECK(c->limits.pids == 200);
	CHECK(c->limits.memory == 512ULL << 20);
	CHECK(c->limits.cpu_weight == 100);	/* the default */
	CHECK(c->limits.shm == 8ULL << 20);
	/* host_access unset: each resolver's port 53. */
	REQUIRE(c->naccess == 2);
	CHECK_STR(c->access[0].address, "10.0.0.53");
	CHECK(c->access[0].port == 53);
	CHECK_STR(c->access[1].address, "fd00::53");
	conf_free(c);
	free(path);
	text = "base = base.tgz\nhost_access = 10.0.0.5 10.0.0.6:5432 "
	    "[fd00::1]:80 fd00::2\n";
	path = write_file("vjbuild.conf", text, strlen(text));
	c = conf_read(path, &err);
	REQUIRE(c != NULL);
	CHECK(conf_finish(c, t_tmpdir(), 1, &err) == 0);
	REQUIRE(c->naccess == 4);
	CHECK(c->access[0].port == 0);
	CHECK_STR(c->access[1].address, "10.0.0.6");
	CHECK(c->access[1].port == 5432);
	CHECK_STR(c->access[2].address, "fd00::1");
	CHECK(c->access[2].port == 80);
	CHECK_STR(c->access[3].address, "fd00::2");
	CHECK(c->access[3].port == 0);
	conf_free(c);
	free(path);
	free(base);
	config_error("base = /etc/hostname\nlimit.pids = 10\n",
	    "vjbuild.conf:2: limit.pids '10' is not a number of processes");
	config_error("base = /etc/hostname\nlimit.pids = 99999999999999999999\n",
	    "vjbuild.conf:2: limit.pids");
	config_error("base = /etc/hostname\nlimit.memory = 1M\n",
	    "vjbuild.conf:2: limit.memory '1M' is not a size of 16M or more");
	config_error("base = /etc/hostname\nlimit.cpu_weight = 0\n",
	    "vjbuild.conf:2: limit.cpu_weight '0'");
	config_error("base = /etc/hostname\nlimit.shm = lots\n",
	    "vjbuild.conf:2: limit.shm 'lots' is not a size");
	config_error("base = /etc/hostname\nhost_access = 10.0.0.1:99999\n",
	    "vjbuild.conf:2: host_access: '10.0.0.1:99999' is not ADDRESS");
	config_error("base = /etc/hostname\nhost_access = [fd00::1\n",
	    "vjbuild.conf:2: host_access: '[fd00::1'");
	config_error("base = /etc/hostname\nhost_access = example.org:53\n",
	    "vjbuild.conf:2: host_access: 'example.org:53'");
	config_error("base = /etc/hostname\nlimit.nosuch = 1\n",
	    "vjbuild.conf:2: unknown key 'limit.nosuch'");
}

TEST(crypt_hashes_only)
{
	struct conf_user u;
	struct vj_err err = { "" };

	CHECK(conf_valid_hash("$6$rounds=5000$abcdefgh$Xk3qM0fT5q1b8YQy3h2lTz2s0t1Y1tVQpX7M2"));
	CHECK(conf_valid_hash("$y$j9T$F5Jx5fExrKuPp53xLKQ..1$X3DX6M94c7o.9agCG9G317fhZg9SqC.5i5rd.RhAtQ7"));
	CHECK(conf_valid_hash("abJnggxhB/yWI"));	/* DES */
	CHECK(conf_valid_hash("*"));
	CHECK(conf_valid_hash("!"));
	CHECK(!conf_valid_hash("secret123"));
	CHECK(!conf_valid_hash("$6$short"));
	CHECK(!conf_valid_hash("correct horse battery"));
	CHECK(conf_user_parse(&u, "alice", "uid=1001,groups=wheel:www", NULL,
	    &err) == 0);
	CHECK(u.gid == 1001 && u.ngroups == 2);
	CHECK_STR(u.hash, "*");
	CHECK_STR(u.home, "/home/alice");
	conf_user_clear(&u);
	CHECK(conf_user_parse(&u, "alice", "uid=1001 hash=hunter2", NULL,
	    &err) == -1);
	CHECK(strstr(err.msg, "hunter2") == NULL);
	CHECK(strstr(err.msg, "not a crypt(3) hash") != NULL);
	CHECK(conf_user_parse(&u, "Alice", "uid=1", NULL, &err) == -1);
	CHECK(conf_user_parse(&u, "bob", "gid=1", NULL, &err) == -1);
	CHECK(strstr(err.msg, "no uid") != NULL);
	CHECK(conf_user_parse(&u, "bob", "uid=-1", NULL, &err) == -1);
	/* A home is a directory under /home: never / or a system one. */
	CHECK(conf_user_parse(&u, "bob", "uid=1002 home=/home/bob/www", NULL,
	    &err) == 0);
	CHECK_STR(u.home, "/home/bob/www");
	conf_user_clear(&u);
	CHECK(conf_user_parse(&u, "bob", "uid=1002 home=/usr/home/bob", NULL,
	    &err) == 0);
	conf_user_clear(&u);
	{
		static const char *const bad[] = { "/", "/etc", "/home",
		    "/home/", "/home/..", "/home/../etc", "/home/bob/../..",
		    "/home//bob", "/home/./bob", "/home/bob/", "home/bob",
		    "/usr/home", "/var/home/bob", "/home/b:ob", "/home/b\177ob",
		};
		size_t k;
		for (k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
			char *spec = xasprintf("uid=1002 home=%s", bad[k]);
			CHECK(conf_user_parse(&u, "bob", spec, NULL, &err) == -1);
			CHECK(strstr(err.msg, "not a directory under /home") !=
			    NULL || strstr(err.msg, "bad field") != NULL);
			free(spec);
		}
	}
}
