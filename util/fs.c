/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * File-system helpers that stay beneath a directory: every component is
 * opened with O_NOFOLLOW, so a symbolic link planted in a jail root (say
 * /etc -> /etc of the host) makes the operation fail with ELOOP instead of
 * writing through it.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"

int
fs_opendir_beneath(int dirfd, const char *rel, int create, mode_t mode)
{
	char *copy, *p, *comp;
	int fd, next;

	/* An absolute path from the working directory starts at "/"; from
	 * any other directory it stays beneath it. */
	fd = openat(dirfd, dirfd == AT_FDCWD && rel[0] == '/' ? "/" : ".",
	    O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd == -1)
		return -1;
	copy = xstrdup(rel);
	for (p = copy; (comp = strsep(&p, "/")) != NULL;) {
		if (*comp == '\0' || strcmp(comp, ".") == 0)
			continue;
		if (strcmp(comp, "..") == 0) {
			close(fd);
			free(copy);
			errno = EPERM;
			return -1;
		}
		next = openat(fd, comp,
		    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (next == -1 && errno == ENOENT && create) {
			if (mkdirat(fd, comp, mode) == -1 && errno != EEXIST)
				goto fail;
			next = openat(fd, comp,
			    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		}
		if (next == -1)
			goto fail;
		close(fd);
		fd = next;
	}
	free(copy);
	return fd;
fail:
	{
		int saved = errno == ENOTDIR ? ELOOP : errno;
		close(fd);
		free(copy);
		errno = saved;
	}
	return -1;
}

/* Splits rel into its parent directory and last component (both malloc'd). */
static void
split(const char *rel, char **dir, char **base)
{
	const char *slash = strrchr(rel, '/');

	if (slash == NULL) {
		*dir = xstrdup(".");
		*base = xstrdup(rel);
	} else {
		*dir = xstrndup(rel, (size_t)(slash - rel));
		*base = xstrdup(slash + 1);
	}
}

int
fs_write_beneath(int dirfd, const char *rel, const void *data, size_t n,
    mode_t mode, struct vj_err *err)
{
	char *dir = NULL, *base = NULL, *tmp = NULL;
	const char *p = data;
	int pfd = -1, fd = -1, rc = -1;
	ssize_t w;

	split(rel, &dir, &base);
	if ((pfd = fs_opendir_beneath(dirfd, dir, 1, 0755)) == -1) {
		vj_errno(err, "%s", dir);
		goto out;
	}
	tmp = xasprintf(".%s.vjbuild-tmp", base);
	(void)unlinkat(pfd, tmp, 0);
	fd = openat(pfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_CLOEXEC, mode);
	if (fd == -1) {
		vj_errno(err, "%s", rel);
		goto out;
	}
	while (n > 0) {
		if ((w = write(fd, p, n)) == -1) {
			if (errno == EINTR)
				continue;
			vj_errno(err, "%s: write", rel);
			goto out;
		}
		p += w;
		n -= (size_t)w;
	}
	if (fchmod(fd, mode) == -1 || fsync(fd) == -1) {
		vj_errno(err, "%s", rel);
		goto out;
	}
	if (close(fd) == -1) {
		fd = -1;
		vj_errno(err, "%s: close", rel);
		goto out;
	}
	fd = -1;
	if (renameat(pfd, tmp, pfd, base) == -1) {
		vj_errno(err, "%s: rename", rel);
		goto out;
	}
	(void)fsync(pfd);
	rc = 0;
out:
	if (fd != -1) {
		close(fd);
		(void)unlinkat(pfd, tmp, 0);
	}
	if (pfd != -1)
		close(pfd);
	free(dir);
	free(base);
	free(tmp);
	return rc;
}

/* Reads the regular file open as fd (closing it); see fs_read_beneath. */
static char *
read_fd(int fd, size_t max, size_t *lenp)
{
	char *buf = NULL;
	struct stat st;
	size_t len = 0;
	ssize_t r;

	if (fstat(fd, &st) == -1)
		goto fail;
	if (!S_ISREG(st.st_mode)) {
		errno = EINVAL;
		goto fail;
	}
	if ((size_t)st.st_size > max) {
		errno = EFBIG;
		goto fail;
	}
	buf = xmalloc((size_t)st.st_size + 1);
	while (len < (size_t)st.st_size) {
		r = read(fd, buf + len, (size_t)st.st_size - len);
		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		len += (size_t)r;
	}
	buf[len] = '\0';
	close(fd);
	if (lenp)
		*lenp = len;
	return buf;
fail:
	{
		int saved = errno;
		close(fd);
		free(buf);
		errno = saved;
	}
	return NULL;
}

char *
fs_read_beneath(int dirfd, const char *rel, size_t max, size_t *lenp)
{
	char *dir, *base;
	int pfd, fd = -1;

	split(rel, &dir, &base);
	pfd = fs_opendir_beneath(dirfd, dir, 0, 0);
	if (pfd != -1) {
		fd = openat(pfd, base, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		close(pfd);
	}
	free(dir);
	free(base);
	return fd == -1 ? NULL : read_fd(fd, max, lenp);
}

char *
fs_read(const char *path, size_t max, size_t *lenp)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	return fd == -1 ? NULL : read_fd(fd, max, lenp);
}

/* Calls fn(fd, name, arg) for each entry of the directory open as fd
 * (not . and ..), all of them even when one fails; 0 or -1. */
static int
each_entry(int fd, int (*fn)(int, const char *, void *), void *arg)
{
	DIR *d;
	struct dirent *de;
	int rc = 0, dfd;

	if ((dfd = dup(fd)) == -1)
		return -1;
	if ((d = fdopendir(dfd)) == NULL) {
		close(dfd);
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (fn(fd, de->d_name, arg) == -1)
			rc = -1;
	}
	closedir(d);
	return rc;
}

static int
rmtree_entry(int fd, const char *name, void *arg)
{
	(void)arg;
	return fs_rmtree_at(fd, name);
}

int
fs_rmtree_at(int dirfd, const char *name)
{
	struct stat st;
	int fd, rc;

	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == -1)
		return errno == ENOENT ? 0 : -1;
	if (!S_ISDIR(st.st_mode))
		return unlinkat(dirfd, name, 0) == -1 && errno != ENOENT ? -1 : 0;
	fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd == -1)
		return -1;
	/* A directory we cannot enter may still be emptied once made 0700. */
	(void)fchmod(fd, 0700);
	rc = each_entry(fd, rmtree_entry, NULL);
	close(fd);
	if (rc == -1)
		return -1;
	return unlinkat(dirfd, name, AT_REMOVEDIR) == -1 && errno != ENOENT ?
	    -1 : 0;
}

/* The range of fs_shift_owners_at, for each_entry. */
struct shift {
	unsigned long base, count;
};

static int
shift_entry(int fd, const char *name, void *arg)
{
	const struct shift *sh = arg;

	return fs_shift_owners_at(fd, name, sh->base, sh->count);
}

int
fs_shift_owners_at(int dirfd, const char *name, unsigned long base,
    unsigned long count)
{
	struct stat st;
	uid_t uid;
	gid_t gid;
	int fd, rc;

	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == -1)
		return -1;
	uid = (uid_t)(base + (st.st_uid < count ? st.st_uid : 0));
	gid = (gid_t)(base + (st.st_gid < count ? st.st_gid : 0));
	if (fchownat(dirfd, name, uid, gid, AT_SYMLINK_NOFOLLOW) == -1)
		return -1;
	/* chown cleared them; the owner they belong to is the same. */
	if (!S_ISDIR(st.st_mode) && !S_ISLNK(st.st_mode) &&
	    (st.st_mode & (S_ISUID | S_ISGID)) != 0 &&
	    fchmodat(dirfd, name, st.st_mode & 07777, 0) == -1)
		return -1;
	if (!S_ISDIR(st.st_mode))
		return 0;
	fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd == -1)
		return -1;
	{
		struct shift sh = { base, count };
		rc = each_entry(fd, shift_entry, &sh);
	}
	close(fd);
	return rc;
}

int
fs_mkdirs(const char *path, mode_t mode)
{
	char *copy = xstrdup(path), *p;
	struct stat st;
	int rc = 0;

	for (p = copy + 1; ; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char c = *p;
		*p = '\0';
		if (mkdir(copy, mode) == -1 && errno != EEXIST) {
			rc = -1;
			break;
		}
		*p = c;
		if (c == '\0')
			break;
	}
	free(copy);
	if (rc == 0 && (stat(path, &st) == -1 || !S_ISDIR(st.st_mode))) {
		if (rc == 0 && errno == 0)
			errno = ENOTDIR;
		return -1;
	}
	return rc;
}

char *
fs_join(const char *a, const char *b)
{
	size_t n = strlen(a);

	while (n > 1 && a[n - 1] == '/')
		n--;
	while (*b == '/')
		b++;
	return xasprintf("%.*s/%s", (int)n, a, b);
}

char *
fs_abspath(const char *path)
{
	char cwd[PATH_MAX], real[PATH_MAX];

	/* An existing path is made canonical: no "..", no links. */
	if (realpath(path, real) != NULL)
		return xstrdup(real);
	if (path[0] == '/')
		return xstrdup(path);
	if (getcwd(cwd, sizeof(cwd)) == NULL)
		return xstrdup(path);
	if (strcmp(path, ".") == 0)
		return xstrdup(cwd);
	if (strncmp(path, "./", 2) == 0)
		path += 2;
	return fs_join(cwd, path);
}

char *
fs_dirname(const char *path)
{
	const char *slash = strrchr(path, '/');

	if (slash == NULL)
		return xstrdup(".");
	if (slash == path)
		return xstrdup("/");
	return xstrndup(path, (size_t)(slash - path));
}
