/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Thin jails (thin = yes, or thin=yes on a host's line), Linux's overlayfs.
 *
 * The base is unpacked once (CACHE/base/SHA256, tasks/extract.c) and each
 * package once (CACHE/trees/NAME-VERSION-KEY16, its digest checked as it
 * is read; beside it TREE.needs, what its programs need, which the first
 * install:P@J to check it writes: tasks/install.c); every thin jail
 * shares them read-only as the lower layers of an overlay mounted at
 * JAILS/J, the packages above the base in dependency order, and on top
 * the linker cache of that set of layers (CACHE/trees/ld-HASH16, made
 * once, below). What is the jail's own (its /etc as hostconf, users and
 * configure write it, its devices, whatever it makes when it runs) goes
 * to the upper layer, JAILS/.vjbuild-thin.J/upper (a name no host can
 * have). A jail costs its own files, not a copy of the base.
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
#include <dirent.h>
#include <sched.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#endif

#include "../cache/cache.h"
#include "../compat/compat.h"
#include "../conf/conf.h"
#include "../jail/jail.h"
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

char *
thin_tree_name(const char *archive)
{
	const char *a = strrchr(archive, '/');
	size_t n;

	a = a ? a + 1 : archive;
	n = strlen(a);
	if (n > strlen(".tar.gz") && strcmp(a + n - 7, ".tar.gz") == 0)
		n -= 7;
	return xstrndup(a, n);
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
	char *name = thin_tree_name(tp->archive), *path = NULL;
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

#ifdef __linux__
/*
 * The linker cache of a set of layers, made once for every thin jail that
 * has them, as a layer of its own on top: CACHE/trees/ld-HASH16, what
 * `ldconfig -r` writes over an overlay of those layers (/etc/ld.so.cache,
 * its aux-cache, a soname link it makes) and nothing else, for that
 * overlay's upper layer is the new tree. Running ldconfig in every thin
 * jail took 20 to 30 ms of the 0.14 s one more thin jail took. The
 * overlay is mounted in a mount namespace of the child's own, so it goes
 * with the child, also after a kill -9; the work directory beside the
 * tree is locked while it is used (cache gc removes it otherwise).
 */
struct linker {
	const struct task *t;
	const char *trees;	/* CACHE/trees */
	const char *name;	/* ld-HASH16: the tree's temporary is .tmp.NAME */
	const char *lower;
};

/* Each ':'-separated path of list under outer (NULL: the list). */
static char *
under(const char *outer, const char *list)
{
	struct sbuf s = { 0 };
	char *mine, *l, *save = NULL;

	if (outer == NULL)
		return xstrdup(list);
	mine = xstrdup(list);
	for (l = strtok_r(mine, ":", &save); l != NULL;
	    l = strtok_r(NULL, ":", &save)) {
		char *p = fs_join(outer, l);
		sbuf_printf(&s, "%s%s", s.s ? ":" : "", p);
		free(p);
	}
	free(mine);
	return sbuf_take(&s);
}

/* In the child: the overlay mounted at WORK/root, ldconfig run over it. */
static void __attribute__((noreturn))
run_linker(const struct linker *k, const char *work)
{
	char *root = xasprintf("%s/root", work), *outer = NULL, *lower, *up,
	    *wd, *opts;
	char *argv[] = { "/sbin/ldconfig", "-r", root, NULL };
	char *envp[] = { "PATH=/usr/sbin:/usr/bin:/sbin:/bin", NULL };
	struct vj_err e;

	if (unshare(CLONE_NEWNS) == -1) {
		fprintf(stderr, "unshare(mount namespace): %s\n",
		    strerror(errno));
		_exit(126);
	}
	if (jail_mnt_private(&outer, &e) == -1) {
		fprintf(stderr, "%s\n", e.msg);
		_exit(126);
	}
	/* Outside a chroot, its paths are under outer (jail/ns.c). */
	lower = under(outer, k->lower);
	up = xasprintf("%s%s/.tmp.%s", outer ? outer : "", k->trees, k->name);
	wd = xasprintf("%s%s/work", outer ? outer : "", work);
	opts = xasprintf("lowerdir=%s,upperdir=%s,workdir=%s", lower, up, wd);
	free(wd);
	wd = xasprintf("%s%s", outer ? outer : "", root);
	if (mount("vjbuild", wd, "overlay", 0, opts) == -1) {
		fprintf(stderr, "mounting %s (overlayfs over %s): %s\n", wd,
		    lower, strerror(errno));
		_exit(126);
	}
	if (outer != NULL && jail_mnt_enter(outer, &e) == -1) {
		fprintf(stderr, "%s\n", e.msg);
		_exit(126);
	}
	execve(argv[0], argv, envp);
	fprintf(stderr, "%s: %s\n", argv[0], strerror(errno));
	_exit(127);
}

/* The overlay's own attributes on what was its upper layer
 * (trusted.overlay.origin, impure, uuid: where a directory was copied up
 * from), which mean nothing in a lower layer: removed, so that the tree
 * is a plain one whatever a kernel makes of them. 0 or -1 with err. */
static int
plain_tree_entry(int fd, const char *path, struct vj_err *err)
{
	char names[4096], *p;
	ssize_t len = flistxattr(fd, names, sizeof(names));

	if (len == -1 && errno == ENOTSUP)
		return 0;
	if (len == -1) {
		vj_errno(err, "%s: its extended attributes", path);
		return -1;
	}
	for (p = names; p < names + len; p += strlen(p) + 1)
		if (strncmp(p, "trusted.overlay.", 16) == 0 &&
		    fremovexattr(fd, p) == -1) {
			vj_errno(err, "%s: removing %s", path, p);
			return -1;
		}
	return 0;
}

/* What ldconfig left in the upper layer: directories, files and symbolic
 * links (a whiteout would hide a layer's file: refused), made plain
 * (plain_tree_entry). Their count, or -1 naming the first other. */
static long
linker_entries(int dfd, const char *path, struct vj_err *err)
{
	DIR *d;
	struct dirent *de;
	struct stat st;
	long n = 0, m;

	if (plain_tree_entry(dfd, path, err) == -1) {
		close(dfd);
		return -1;
	}
	if ((d = fdopendir(dfd)) == NULL) {
		vj_errno(err, "%s", path);
		close(dfd);
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		char *p;
		int sub;

		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		p = fs_join(path, de->d_name);
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) ==
		    -1) {
			vj_errno(err, "%s", p);
			n = -1;
		} else if (S_ISDIR(st.st_mode)) {
			if ((sub = openat(dirfd(d), de->d_name, O_RDONLY |
			    O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) == -1) {
				vj_errno(err, "%s", p);
				n = -1;
			} else if ((m = linker_entries(sub, p, err)) == -1)
				n = -1;
			else
				n += m + 1;
		} else if (S_ISREG(st.st_mode)) {
			if ((sub = openat(dirfd(d), de->d_name, O_RDONLY |
			    O_NOFOLLOW | O_CLOEXEC)) == -1 ||
			    plain_tree_entry(sub, p, err) == -1) {
				if (sub == -1)
					vj_errno(err, "%s", p);
				n = -1;
			} else
				n++;
			if (sub != -1)
				close(sub);
		} else if (S_ISLNK(st.st_mode))
			n++;
		else {
			vj_errf(err, "%s: ldconfig left something other than a "
			    "file, a link or a directory", p);
			n = -1;
		}
		free(p);
		if (n == -1)
			break;
	}
	closedir(d);
	return n;
}

static long
fill_linker(int fd, void *arg, struct vj_err *err)
{
	const struct linker *k = arg;
	char *scratch = xasprintf(".tmp.%s.work", k->name);
	char *work = fs_join(k->trees, scratch), *lock;
	char *wd = fs_join(work, "work"), *rd = fs_join(work, "root");
	int tfd = -1, lk, status, dup_fd;
	long n = -1;
	pid_t pid, w;

	lock = xasprintf("tree-%s.work", k->name);
	lk = task_cache_lock(k->t, lock, LOCK_EX, err);
	free(lock);
	if (lk == -1)
		goto out;
	if (!plain(k->trees)) {
		vj_errf(err, "%s: a thin jail's paths may not hold ',', ':', "
		    "'\\' or white space (overlayfs's separators)", k->trees);
		goto out;
	}
	if ((tfd = open(k->trees, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1 ||
	    fs_rmtree_at(tfd, scratch) == -1 || mkdirat(tfd, scratch, 0700) ==
	    -1 || mkdir(wd, 0700) == -1 || mkdir(rd, 0700) == -1) {
		vj_errno(err, "%s", work);
		goto out;
	}
	fflush(stdout);
	fflush(stderr);
	if ((pid = fork()) == -1) {
		vj_errno(err, "fork");
		goto out;
	}
	if (pid == 0) {
		(void)compat_die_with_parent();
		run_linker(k, work);
	}
	while ((w = waitpid(pid, &status, 0)) == -1 && errno == EINTR)
		;
	if (w == -1) {
		vj_errno(err, "waitpid");
		goto out;
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		vj_errf(err, "ldconfig over the layers %s failed (%s %d; its "
		    "message is above)", k->lower, WIFEXITED(status) ?
		    "exit" : "signal", WIFEXITED(status) ?
		    WEXITSTATUS(status) : WTERMSIG(status));
		goto out;
	}
	if ((dup_fd = fcntl(fd, F_DUPFD_CLOEXEC, 0)) == -1) {
		vj_errno(err, "%s/.tmp.%s", k->trees, k->name);
		goto out;
	}
	n = linker_entries(dup_fd, k->name, err);
out:
	if (tfd != -1) {
		(void)fs_rmtree_at(tfd, scratch);
		close(tfd);
	}
	if (lk != -1)
		close(lk);
	free(scratch);
	free(work);
	free(wd);
	free(rd);
	return n;
}

/* The linker layer of lower (made when missing), added on top of it. */
static char *
with_linker(const struct task *t, char *lower, struct vj_err *err)
{
	struct sha256 c;
	char hex[65], name[20], *trees = fs_join(t->env->cache, "trees");
	char *out = NULL;
	long made;
	int fd;
	struct linker k = { t, trees, name, lower };

	if (access("/sbin/ldconfig", X_OK) == -1) {
		printf("no /sbin/ldconfig on this host: the linker cache of "
		    "%s is the base's\n", t->root);
		free(trees);
		return lower;
	}
	sha256_init(&c);
	sha256_update(&c, "vjbuild-ld 1\n", 13);
	sha256_update(&c, lower, strlen(lower));
	sha256_hex(&c, hex);
	snprintf(name, sizeof(name), "ld-%.16s", hex);
	fd = task_cache_once(t, "trees", name, "tree-", fill_linker, &k,
	    &made, err);
	if (fd != -1) {
		close(fd);
		out = xasprintf("%s/%s:%s", trees, name, lower);
		if (made >= 0)
			printf("ran ldconfig over these layers once, for every "
			    "thin jail that has them: %s/%s\n", trees, name);
	}
	free(trees);
	free(lower);
	return out;
}
#endif

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
#ifdef __linux__
	if (n > 0)
		return with_linker(t, sbuf_take(&s), err);
#endif
	return sbuf_take(&s);
}
