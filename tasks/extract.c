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
	int i;
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
	/* A name no earlier aside has (two recreates in one second took
	 * the same one, and the second failed). */
	for (i = 0;; i++) {
		aside = i == 0 ? xasprintf(".vjbuild-old.%s.%lld", name,
		    (long long)time(NULL)) : xasprintf(".vjbuild-old.%s.%lld.%d",
		    name, (long long)time(NULL), i);
		if (renameat(jfd, name, jfd, aside) == 0)
			break;
		if ((errno != EEXIST && errno != ENOTEMPTY && errno != ENOTDIR) ||
		    i == 99) {
			vj_errno(err, "%s: move aside to %s", t->root, aside);
			free(aside);
			return -1;
		}
		free(aside);
	}
	printf("moved the old root aside to %s/%s\n", t->env->jails, aside);
	free(aside);
	return 0;
}

/*
 * CACHE/base/SHA256, the base unpacked, made if missing; open, or -1 with
 * err. Made by one vjbuild at a time (the lock): unpacked into a
 * temporary name, flushed, renamed into place, so it is whole or absent.
 * Nothing writes it after: jails are copies.
 */
static int
base_tree(const struct task *t, struct vj_err *err)
{
	const char *base = t->env->conf->val[CONF_BASE];
	char *dir = fs_join(t->env->cache, "base");
	char *lock = xasprintf("base-%s", t->env->base_digest);
	char *tmp = xasprintf(".tmp.%s", t->env->base_digest);
	int lk = -1, dfd = -1, tfd = -1, fd = -1;
	long n;

	if (fs_mkdirs(dir, 0755) == -1 ||
	    (dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1) {
		vj_errno(err, "%s", dir);
		goto out;
	}
	if ((fd = openat(dfd, t->env->base_digest, O_RDONLY | O_DIRECTORY |
	    O_NOFOLLOW | O_CLOEXEC)) != -1)
		goto out;
	if ((lk = task_cache_lock(t, lock, LOCK_EX, err)) == -1)
		goto out;
	if ((fd = openat(dfd, t->env->base_digest, O_RDONLY | O_DIRECTORY |
	    O_NOFOLLOW | O_CLOEXEC)) != -1)
		goto out;	/* another made it while this one waited */
	if (fs_rmtree_at(dfd, tmp) == -1 || mkdirat(dfd, tmp, 0755) == -1 ||
	    (tfd = openat(dfd, tmp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) == -1) {
		vj_errno(err, "%s/%s", dir, tmp);
		goto out;
	}
	if ((n = cache_extract(base, tfd, err)) == -1)
		goto out;
	task_note_devices(base);
	if (compat_syncfs(tfd) == -1 ||
	    renameat(dfd, tmp, dfd, t->env->base_digest) == -1) {
		vj_errno(err, "%s/%s", dir, t->env->base_digest);
		goto out;
	}
	(void)fsync(dfd);
	printf("unpacked %ld entries from %s into %s/%s, once for every jail "
	    "of this base\n", n, base, dir, t->env->base_digest);
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
