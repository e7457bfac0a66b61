/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Thin jails (thin = yes, or thin=yes on a host's line), Linux's overlayfs.
 *
 * The base is unpacked once (CACHE/base/SHA256, tasks/extract.c) and each
 * package once (CACHE/trees/NAME-VERSION-KEY16, its digest checked as it
 * is read; beside it TREE.needs, what its programs need, which the first
 * install:P@J to check it writes: tasks/install.c); every thin jail
 * shares them read-only as the lower layers of an overlay mounted at
 * JAILS/J, the packages above the base in dependency order. What is the jail's own (its /etc as hostconf, users and configure
 * write it, its devices, whatever it makes when it runs) goes to the upper
 * layer, JAILS/.vjbuild-thin.J/upper (a name no host can have). A jail
 * costs its own files, not a copy of the base.
 *
 * JAILS/.vjbuild-thin.J/layers records the lower layers, top first, as the
 * overlay takes them; it is written (temporary name, rename) only once
 * every layer is whole. A run mounts each thin jail's overlay from that
 * record before anything looks at its root (the mounts do not outlive a
 * reboot), unless one with those layers is mounted there already (a
 * remount would leave what runs in the jail on the detached old root),
 * and extract:J mounts it again when the layers change: a
 * package upgraded is a new tree, and every thin jail that has it sees it
 * at its next run, its own files kept. Started, a thin jail's root is an
 * overlay of the same layers idmapped (jail/userns.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/mount.h>
#include <sys/vfs.h>
#endif

#include "../cache/cache.h"
#include "../conf/conf.h"
#include "../util/util.h"
#include "root.h"
#include "tasks.h"

#define OVERLAYFS_MAGIC 0x794c7630

int
thin_wanted(const struct conf *c, const struct conf_host *h)
{
	return h->thin > 0 || (h->thin < 0 && c->thin);
}

int
task_thin(const struct task *t)
{
	return t->host != NULL && thin_wanted(t->env->conf, t->host);
}

char *
thin_dir(const char *jails, const char *name)
{
	return xasprintf("%s/.vjbuild-thin.%s", jails, name);
}

int
thin_is_mounted(const char *root)
{
#ifdef __linux__
	struct statfs sf;
	struct statx sx;

	/* An overlay mounted there, not a directory on one (a container's
	 * root may be an overlay). */
	return statfs(root, &sf) == 0 && sf.f_type == OVERLAYFS_MAGIC &&
	    statx(AT_FDCWD, root, AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS,
	    &sx) == 0 && (sx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) &&
	    (sx.stx_attributes & STATX_ATTR_MOUNT_ROOT);
#else
	(void)root;
	return 0;
#endif
}

int
thin_umount(const char *root, struct vj_err *err)
{
#ifdef __linux__
	while (thin_is_mounted(root))
		if (umount2(root, MNT_DETACH) == -1) {
			vj_errno(err, "%s: umount", root);
			return -1;
		}
	return 0;
#else
	(void)root;
	(void)err;
	return 0;
#endif
}

/* A path an overlay option can carry: no separator of its own. */
static int
plain(const char *p)
{
	return strpbrk(p, ",:\\ \t\n") == NULL;
}

#ifdef __linux__
/* 1 when the mount on top at root is an overlay whose options hold opts
 * (the kernel shows the layers' paths as they were given). */
static int
mounted_as(const char *root, const char *opts)
{
	char *real = realpath(root, NULL), *line = NULL;
	size_t cap = 0, olen = strlen(opts);
	FILE *f;
	int found = 0;

	if (real == NULL || !thin_is_mounted(root) ||
	    (f = fopen("/proc/self/mountinfo", "re")) == NULL) {
		free(real);
		return 0;
	}
	/* ID PARENT MAJ:MIN ROOT POINT OPTIONS [TAGS] - TYPE SOURCE SUPER;
	 * the top mount at a point is its last line. Paths with white
	 * space or '\\' (escaped there) are refused by plain(). */
	while (getline(&line, &cap, f) != -1) {
		char *p = line, *sep, *point, *super;
		int k;

		for (k = 0; k < 4 && p != NULL; k++)
			if ((p = strchr(p, ' ')) != NULL)
				p++;
		if (p == NULL || (sep = strstr(p, " - ")) == NULL)
			continue;
		point = p;
		p[strcspn(p, " ")] = '\0';
		if (strcmp(point, real) != 0)
			continue;
		found = 0;
		if (strncmp(sep + 3, "overlay ", 8) != 0 ||
		    (super = strchr(sep + 11, ' ')) == NULL)
			continue;
		super[strcspn(super, "\n")] = '\0';
		/* SUPER is rw,lowerdir=...,upperdir=...,workdir=...[,more] */
		for (p = super + 1; (p = strstr(p, opts)) != NULL; p++)
			if ((p[-1] == ',' || p[-1] == ' ') &&
			    (p[olen] == ',' || p[olen] == '\0')) {
				found = 1;
				break;
			}
	}
	free(line);
	fclose(f);
	free(real);
	return found;
}
#endif

int
thin_mount(const char *root, const char *dir, const char *lower,
    int again, struct vj_err *err)
{
#ifdef __linux__
	char *opts = xasprintf("lowerdir=%s,upperdir=%s/upper,workdir=%s/work",
	    lower, dir, dir);
	int rc = -1;

	if (!plain(dir) || !plain(root)) {
		vj_errf(err, "%s: a thin jail's paths may not hold ',', ':', "
		    "'\\' or white space (overlayfs's separators)", dir);
		goto out;
	}
	/* Mounted as recorded already (an earlier run's mount): kept,
	 * unless the caller's layer may be another directory by the same
	 * name (extract:J, after --recreate moved the old one aside). */
	if (!again && mounted_as(root, opts)) {
		rc = 0;
		goto out;
	}
	if (thin_umount(root, err) == -1)
		goto out;
	if (mount("vjbuild", root, "overlay", 0, opts) == -1) {
		vj_errno(err, "mounting %s (overlayfs over %s)", root, lower);
		goto out;
	}
	rc = 0;
out:
	free(opts);
	return rc;
#else
	(void)root;
	(void)dir;
	(void)lower;
	(void)again;
	vj_errf(err, "%s: thin jails need Linux's overlayfs (FreeBSD's "
	    "nullfs is not done yet)", root);
	return -1;
#endif
}

int
thin_mount_recorded(const char *jails, const char *name, struct vj_err *err)
{
	char *dir = thin_dir(jails, name), *rec = fs_join(dir, "layers");
	char *root = fs_join(jails, name), *lower;
	size_t len;
	int rc = 0;

	if ((lower = fs_read(rec, 1 << 16, &len)) == NULL) {
		if (errno != ENOENT) {
			vj_errno(err, "%s", rec);
			rc = -1;
		}
		goto out;	/* not made yet: extract:J makes it */
	}
	lower[strcspn(lower, "\n")] = '\0';
	rc = thin_mount(root, dir, lower, 0, err);
	free(lower);
out:
	free(dir);
	free(rec);
	free(root);
	return rc;
}

static long
fill_tree(int fd, void *arg, struct vj_err *err)
{
	const struct task_port *tp = arg;
	struct sbuf names = { 0 };
	const char *devs;
	long n = cache_extract_verified(tp->archive, fd, tp->sha256, &names,
	    err);

	sbuf_free(&names);
	if (n >= 0 && cache_skipped_devices(&devs) > 0) {
		vj_errf(err, "%s: %s: a device node in a package: refused (no "
		    "build makes one)", tp->archive, devs);
		return -1;
	}
	return n;
}

/*
 * CACHE/trees/NAME-VERSION-KEY16, tp's package unpacked, its digest
 * checked in the read (task_cache_once: whole or absent). The path, or
 * NULL with err.
 */
static char *
package_tree(const struct task *t, const struct task_port *tp,
    struct vj_err *err)
{
	const char *a = strrchr(tp->archive, '/') + 1;
	char *name = xasprintf("%.*s", (int)(strlen(a) - strlen(".tar.gz")),
	    a), *path = NULL;
	long made;
	int fd = task_cache_once(t, "trees", name, "tree-", fill_tree,
	    (void *)tp, &made, err);

	if (fd != -1) {
		close(fd);
		path = xasprintf("%s/trees/%s", t->env->cache, name);
		if (made >= 0)
			printf("unpacked %s %s into %s, once for every thin "
			    "jail\n", tp->port->name, tp->port->version, path);
	}
	free(name);
	return path;
}

char *
thin_layers(const struct task *t, const char *base, struct vj_err *err)
{
	struct sbuf s = { 0 };
	int *mine = NULL;
	size_t n = t->env->ports ? task_jail_ports(t->env, t->host, &mine) : 0;
	size_t i;
	char *tree;

	/* Dependency order: the last is the top layer, first in the list. */
	for (i = n; i-- > 0;) {
		if ((tree = package_tree(t, &t->env->tports[mine[i]],
		    err)) == NULL) {
			free(mine);
			sbuf_free(&s);
			return NULL;
		}
		sbuf_printf(&s, "%s:", tree);
		free(tree);
	}
	free(mine);
	sbuf_puts(&s, base);
	return sbuf_take(&s);
}
