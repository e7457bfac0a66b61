/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * hostconf:J: the jail's identity in its own /etc: hostname, hosts (the
 * jail's name and address beside localhost) and, when the config names a
 * resolver, resolv.conf. Each file is written atomically beneath the root.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../conf/conf.h"
#include "../util/util.h"
#include "root.h"
#include "tasks.h"

struct files {
	char *hostname, *hosts, *resolv;
};

static void
render(const struct task *t, struct files *f)
{
	const struct conf *c = t->env->conf;
	const char *domain = c->val[CONF_DOMAIN], *name = t->host->name;
	struct sbuf b = { 0 };
	size_t i;

	f->hostname = xasprintf("%s\n", name);
	sbuf_puts(&b, "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost "
	    "ip6-loopback\n");
	if (domain != NULL && strchr(name, '.') == NULL)
		sbuf_printf(&b, "%s\t%s.%s %s\n", t->host->address, name,
		    domain, name);
	else
		sbuf_printf(&b, "%s\t%s\n", t->host->address, name);
	f->hosts = sbuf_take(&b);
	f->resolv = NULL;
	if (c->nresolvers > 0) {
		if (domain != NULL)
			sbuf_printf(&b, "search %s\n", domain);
		for (i = 0; i < c->nresolvers; i++)
			sbuf_printf(&b, "nameserver %s\n", c->resolvers[i]);
		f->resolv = sbuf_take(&b);
	}
}

static void
files_free(struct files *f)
{
	free(f->hostname);
	free(f->hosts);
	free(f->resolv);
}

static void
hostconf_inputs(const struct task *t, struct sha256 *c)
{
	struct files f;

	render(t, &f);
	sha256_update(c, f.hostname, strlen(f.hostname) + 1);
	sha256_update(c, f.hosts, strlen(f.hosts) + 1);
	if (f.resolv != NULL)
		sha256_update(c, f.resolv, strlen(f.resolv) + 1);
	files_free(&f);
}

static int
hostconf_exists(const struct task *t)
{
	int fd = root_open(t, NULL);
	char *text;

	if (fd == -1)
		return 0;
	text = fs_read_beneath(fd, "etc/hostname", 1024, NULL);
	close(fd);
	free(text);
	return text != NULL;
}

/* 1 when t's thin jail has an /etc/ld.so.cache in its own layer. */
static int
own_linker_cache(const struct task *t)
{
	char *dir = thin_dir(t->env->jails, t->host->name);
	char *p = xasprintf("%s/upper/etc/ld.so.cache", dir);
	struct stat st;
	int r = lstat(p, &st) == 0;

	free(dir);
	free(p);
	return r;
}

static int
hostconf_run(const struct task *t, struct vj_err *err)
{
	struct files f;
	int fd, rc = -1;

	if ((fd = root_open(t, err)) == -1)
		return -1;
	render(t, &f);
	if (fs_write_beneath(fd, "etc/hostname", f.hostname,
	    strlen(f.hostname), 0644, err) == -1 ||
	    fs_write_beneath(fd, "etc/hosts", f.hosts, strlen(f.hosts), 0644,
	    err) == -1 ||
	    (f.resolv != NULL && fs_write_beneath(fd, "etc/resolv.conf",
	    f.resolv, strlen(f.resolv), 0644, err) == -1))
		goto out;
	printf("%s: hostname %s, address %s%s\n", t->root, t->host->name,
	    t->host->address, f.resolv ? ", resolv.conf" : "");
	/* A thin jail's linker cache is a layer, made once for every jail
	 * with the same packages (tasks/thin.c); one in the jail's own
	 * layer (a jail made before, or ldconfig run in it) hides it, and
	 * is refreshed here, as it was for every thin jail. */
	if (task_thin(t) && own_linker_cache(t) && task_ldconfig(t, err) ==
	    -1)
		goto out;
	rc = 0;
out:
	close(fd);
	files_free(&f);
	return rc;
}

const struct task_ops task_hostconf_ops = {
	.kind = "hostconf",
	.estimate = 0.1,
	.inputs = hostconf_inputs,
	.exists = hostconf_exists,
	.run = hostconf_run,
};
