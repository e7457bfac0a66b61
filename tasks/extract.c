/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * extract:J: the base archive into the jail root. The archive is unpacked
 * once, into CACHE/base/SHA256 (the first extract of a base does it, under
 * a lock, into a temporary name flushed and renamed into place), and every
 * jail is a copy of that tree (cache_clone_tree: reflinks or
 * copy_file_range), which costs a fraction of decompressing it again. The
 * copy is made in JAILS/.vjbuild-tmp.J (a name no host can have: host
 * names never start with a dot), marked, flushed to disk, and renamed into
 * place, so JAILS/J is either absent or complete. A directory at JAILS/J that vjbuild did not
 * make is never touched; one made from another base is replaced only when
 * the user names the jail with --recreate, and then it is moved aside to
 * JAILS/.vjbuild-old.J.TIME, not deleted.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../cache/cache.h"
#include "../conf/conf.h"
#include "../util/util.h"
#include "root.h"
#include "tasks.h"

static int
recreate(const struct task *t)
{
	char *const *r;

	for (r = t->env->recreate; r != NULL && *r != NULL; r++)
		if (strcmp(*r, t->host->name) == 0)
			return 1;
	return 0;
}

static void
extract_inputs(const struct task *t, struct sha256 *c)
{
	sha256_update(c, t->env->base_digest, 64);
	sha256_update(c, t->env->jails, strlen(t->env->jails) + 1);
	if (task_thin(t)) {	/* its layers: the base and its packages */
		int *mine = NULL;
		size_t n = t->env->ports ? task_jail_ports(t->env, t->host,
		    &mine) : 0, i;
		sha256_update(c, "thin", 5);
		for (i = 0; i < n; i++)
			sha256_update(c, t->env->tports[mine[i]].key, 64);
		free(mine);
	}
}

static int
extract_exists(const struct task *t)
{
	int fd, rc;

	if (recreate(t))
		return 0;
	fd = open(t->root, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd == -1)
		return 0;
	rc = root_check(t, fd, t->fingerprint, NULL);
	close(fd);
	return rc == 1;
}

/*
 * Renames from (in the jails directory jfd) to .vjbuild-old.NAME.TIME
 * plus suffix, a name no earlier aside has (two recreates in one second
 * took the same one, and the second failed). The name, or NULL with err.
 */
static char *
move_aside(int jfd, const char *from, const char *name, const char *suffix,
    struct vj_err *err)
{
	char *aside;
	int i;

	for (i = 0;; i++) {
		aside = i == 0 ? xasprintf(".vjbuild-old.%s.%lld%s", name,
		    (long long)time(NULL), suffix) :
		    xasprintf(".vjbuild-old.%s.%lld.%d%s", name,
		    (long long)time(NULL), i, suffix);
		if (renameat(jfd, from, jfd, aside) == 0)
			return aside;
		if ((errno != EEXIST && errno != ENOTEMPTY && errno != ENOTDIR) ||
		    i == 99) {
			vj_errno(err, "%s: move aside to %s", from, aside);
			free(aside);
			return NULL;
		}
		free(aside);
	}
}

/*
 * Looks at what is at JAILS/J now. Returns 1 when it is this very jail
 * (nothing to do), 0 when the way is clear (absent, or moved aside), -1
 * with err when it must not be touched.
 */
static int
clear_the_way(const struct task *t, int jfd, struct vj_err *err)
{
	const char *name = t->host->name;
	struct stat st;
	char *aside;
	int fd, rc;

	if (fstatat(jfd, name, &st, AT_SYMLINK_NOFOLLOW) == -1) {
		if (errno == ENOENT)
			return 0;
		vj_errno(err, "%s", t->root);
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		vj_errf(err, "%s exists and is not a directory made by vjbuild; "
		    "it is left as it is", t->root);
		return -1;
	}
	fd = openat(jfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd == -1) {
		vj_errno(err, "%s", t->root);
		return -1;
	}
	rc = root_check(t, fd, t->fingerprint, err);
	close(fd);
	if (rc == -1)
		return -1;
	if (!recreate(t)) {
		if (rc == 1)
			return 1;
		vj_errf(err, "%s was made from another base or jails directory; "
		    "run with --recreate %s to make it anew (the old root is "
		    "moved aside, not deleted)", t->root, name);
		return -1;
	}
	if ((aside = move_aside(jfd, name, name, "", err)) == NULL)
		return -1;
	printf("moved the old root aside to %s/%s\n", t->env->jails, aside);
	free(aside);
	return 0;
}

int
task_cache_once(const struct task *t, const char *sub, const char *name,
    const char *lockprefix, long (*fill)(int fd, void *arg,
    struct vj_err *err), void *arg, long *made, struct vj_err *err)
{
	char *dir = fs_join(t->env->cache, sub);
	char *lock = xasprintf("%s%s", lockprefix, name);
	char *tmp = xasprintf(".tmp.%s", name);
	int lk = -1, dfd = -1, tfd = -1, fd = -1;

	*made = -1;
	if (fs_mkdirs(dir, 0755) == -1 ||
	    (dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1) {
		vj_errno(err, "%s", dir);
		goto out;
	}
	if ((fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) != -1)
		goto out;
	if ((lk = task_cache_lock(t, lock, LOCK_EX, err)) == -1)
		goto out;
	if ((fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) != -1)
		goto out;	/* another made it while this one waited */
	if (fs_rmtree_at(dfd, tmp) == -1 || mkdirat(dfd, tmp, 0755) == -1 ||
	    (tfd = openat(dfd, tmp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) == -1) {
		vj_errno(err, "%s/%s", dir, tmp);
		goto out;
	}
	if ((*made = fill(tfd, arg, err)) < 0) {
		*made = -1;
		goto out;
	}
	if (compat_syncfs(tfd) == -1 || renameat(dfd, tmp, dfd, name) == -1) {
		vj_errno(err, "%s/%s", dir, name);
		*made = -1;
		goto out;
	}
	(void)fsync(dfd);
	fd = tfd;
	tfd = -1;
out:
	if (tfd != -1) {
		close(tfd);
		(void)fs_rmtree_at(dfd, tmp);
	}
	if (dfd != -1)
		close(dfd);
	if (lk != -1)
		close(lk);
	free(dir);
	free(lock);
	free(tmp);
	return fd;
}

static long
fill_base(int fd, void *arg, struct vj_err *err)
{
	const char *base = arg;
	long n = cache_extract(base, fd, err);

	if (n != -1)
		task_note_devices(base);
	return n;
}

/*
 * CACHE/base/SHA256, the base unpacked (task_cache_once: whole or
 * absent), open; -1 with err. Nothing writes it after: thick jails are
 * copies, thin ones have it as a read-only layer.
 */
static int
base_tree(const struct task *t, struct vj_err *err)
{
	const char *base = t->env->conf->val[CONF_BASE];
	long made;
	int fd = task_cache_once(t, "base", t->env->base_digest, "base-",
	    fill_base, (void *)base, &made, err);

	if (fd != -1 && made >= 0)
		printf("unpacked %ld entries from %s into %s/base/%s, once for "
		    "every jail of this base\n", made, base, t->env->cache,
		    t->env->base_digest);
	return fd;
}

/*
 * A thin jail made anew, or made thick: its overlay unmounted, its own
 * files (JAILS/.vjbuild-thin.J) moved aside, not deleted, and its mount
 * point removed when empty. Nothing when it has none. 0 or -1 with err.
 */
static int
thin_aside(const struct task *t, int jfd, struct vj_err *err)
{
	char *dir = thin_dir(t->env->jails, t->host->name), *aside = NULL;
	const char *own = strrchr(dir, '/') + 1;
	int rc = -1;

	if (faccessat(jfd, own, F_OK, AT_SYMLINK_NOFOLLOW) == -1) {
		free(dir);
		return 0;
	}
	if (thin_umount(t->root, err) == -1 ||
	    (aside = move_aside(jfd, own, t->host->name, ".thin", err)) == NULL)
		goto out;
	(void)unlinkat(jfd, t->host->name, AT_REMOVEDIR);	/* if empty */
	printf("moved the old thin jail's own files aside to %s/%s\n",
	    t->env->jails, aside);
	rc = 0;
out:
	free(dir);
	free(aside);
	return rc;
}

/*
 * A thin jail: its layers made (the base's tree, each package's), recorded
 * and mounted at JAILS/J over its own upper layer (tasks/thin.c), then
 * marked. Run again when its layers change (an upgrade): its own files
 * stay. A thick root at JAILS/J is made thin only with --recreate (moved
 * aside, as one of another base is); so is a thin jail made anew (its own
 * files moved aside).
 */
static int
thin_run(const struct task *t, int jfd, int bfd, struct vj_err *err)
{
	char *dir = thin_dir(t->env->jails, t->host->name), *lower = NULL;
	char *base = xasprintf("%s/base/%s", t->env->cache,
	    t->env->base_digest), *marker = NULL, *rec = NULL;
	const char *name = t->host->name, *own = strrchr(dir, '/') + 1;
	struct stat st;
	int rfd = -1, ufd = -1, rc = -1, r;

	if (thin_umount(t->root, err) == -1 ||
	    (recreate(t) && thin_aside(t, jfd, err) == -1))
		goto out;
	/* The mount point of a thin jail whose overlay is not mounted. */
	if (faccessat(jfd, own, F_OK, AT_SYMLINK_NOFOLLOW) == 0)
		(void)unlinkat(jfd, name, AT_REMOVEDIR);	/* if empty */
	if ((r = clear_the_way(t, jfd, err)) != 0) {
		if (r == 1)	/* a thick root of this very base */
			vj_errf(err, "%s is a thick jail; run with --recreate "
			    "%s to make it thin (the old root is moved aside, "
			    "not deleted)", t->root, name);
		goto out;
	}
	if ((lower = thin_layers(t, base, err)) == NULL)
		goto out;
	if (fstat(bfd, &st) == -1 || fs_mkdirs(dir, 0700) == -1 ||
	    (ufd = fs_opendir_beneath(jfd, own, 0, 0)) == -1 ||
	    fs_mkdirs(rec = fs_join(dir, "work"), 0700) == -1 ||
	    (mkdirat(ufd, "upper", st.st_mode & 07777) == -1 &&
	    errno != EEXIST) || mkdirat(jfd, name, 0755) == -1) {
		vj_errno(err, "%s", dir);
		goto out;
	}
	/* The jail's root directory is the upper layer's: the base's. */
	if (fchownat(ufd, "upper", st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW)
	    == -1) {
		vj_errno(err, "%s/upper", dir);
		goto out;
	}
	if (fs_write_beneath(ufd, "layers", lower, strlen(lower), 0644,
	    err) == -1)
		goto out;
	if (thin_mount(t->root, dir, lower, 1, err) == -1)
		goto out;
	if ((rfd = open(t->root, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) == -1) {
		vj_errno(err, "%s", t->root);
		goto out;
	}
	marker = root_marker(t, t->fingerprint);
	if (fs_write_beneath(rfd, ROOT_MARKER, marker, strlen(marker), 0644,
	    err) == -1)
		goto out;
	if (compat_syncfs(rfd) == -1) {
		vj_errno(err, "%s: syncfs", t->root);
		goto out;
	}
	printf("mounted %s: thin, over %s\n", t->root, lower);
	rc = 0;
out:
	if (rfd != -1)
		close(rfd);
	if (ufd != -1)
		close(ufd);
	free(dir);
	free(lower);
	free(base);
	free(marker);
	free(rec);
	return rc;
}

static int
extract_run(const struct task *t, struct vj_err *err)
{
	const char *base = t->env->conf->val[CONF_BASE];
	char *tmp = xasprintf(".vjbuild-tmp.%s", t->host->name), *marker = NULL;
	int jfd = -1, tfd = -1, bfd = -1, rc = -1, r;
	long n;

	if (fs_mkdirs(t->env->jails, 0755) == -1) {
		vj_errno(err, "%s", t->env->jails);
		goto out;
	}
	jfd = open(t->env->jails, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (jfd == -1) {
		vj_errno(err, "%s", t->env->jails);
		goto out;
	}
	if (task_thin(t)) {
		if ((bfd = base_tree(t, err)) != -1)
			rc = thin_run(t, jfd, bfd, err);
		goto out;
	}
	/* A thin jail made thick: only when asked for by name. */
	{
		char *td = thin_dir(t->env->jails, t->host->name);
		r = access(td, F_OK) == 0 && !recreate(t);
		if (r)
			vj_errf(err, "%s is a thin jail; run with --recreate %s "
			    "to make it thick (its own files are moved aside, "
			    "not deleted)", t->root, t->host->name);
		free(td);
		if (r || thin_aside(t, jfd, err) == -1)
			goto out;
	}
	if ((r = clear_the_way(t, jfd, err)) != 0) {
		if (r == 1)
			printf("%s is already extracted from this base\n",
			    t->root);
		rc = r == 1 ? 0 : -1;
		goto out;
	}
	if (fs_rmtree_at(jfd, tmp) == -1 || mkdirat(jfd, tmp, 0755) == -1 ||
	    (tfd = openat(jfd, tmp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) == -1) {
		vj_errno(err, "%s/%s", t->env->jails, tmp);
		goto out;
	}
	if ((bfd = base_tree(t, err)) == -1 ||
	    (n = cache_clone_tree(bfd, tfd, err)) == -1)
		goto out;
	marker = root_marker(t, t->fingerprint);
	if (fs_write_beneath(tfd, ROOT_MARKER, marker, strlen(marker), 0644,
	    err) == -1)
		goto out;
	if (compat_syncfs(tfd) == -1) {
		vj_errno(err, "%s/%s: syncfs", t->env->jails, tmp);
		goto out;
	}
	if (renameat(jfd, tmp, jfd, t->host->name) == -1) {
		vj_errno(err, "%s: rename into place", t->root);
		goto out;
	}
	(void)fsync(jfd);
	printf("copied %ld entries of %s's tree into %s\n", n, base, t->root);
	rc = 0;
out:
	if (bfd != -1)
		close(bfd);
	if (tfd != -1)
		close(tfd);
	if (rc == -1 && tfd != -1)
		(void)fs_rmtree_at(jfd, tmp);
	if (jfd != -1)
		close(jfd);
	free(tmp);
	free(marker);
	return rc;
}

const struct task_ops task_extract_ops = {
	.kind = "extract",
	.estimate = 2.0,
	.inputs = extract_inputs,
	.exists = extract_exists,
	.run = extract_run,
};

void
task_note_devices(const char *src)
{
	const char *names;
	long n = cache_skipped_devices(&names);

	if (n > 0)
		printf("note: %s: passed over %ld device node%s (%s%s): no "
		    "archive makes devices; devfs makes the jail's\n", src, n,
		    n == 1 ? "" : "s", names, n > 5 ? ", ..." : "");
}
