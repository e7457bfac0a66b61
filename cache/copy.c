/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * A tree copied as it is on disk, for a jail made from an unpacked base:
 * directories, regular files (their data by reflink or copy_file_range,
 * compat_copy_data), symbolic links and FIFOs, with owners, modes (setuid
 * included), times, extended attributes (file capabilities, ACLs) and
 * hard links; device nodes and sockets are passed over (devfs:J makes a
 * jail's devices). Everything is made with *at() calls beneath the two
 * directories, never following a link, so a link in the source is copied
 * as a link and nothing is written outside the destination.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/xattr.h>
#endif

#include "../compat/compat.h"
#include "../util/util.h"
#include "cache.h"

#define MAX_DEPTH 256

/* A file with more than one link: the first copy's path, for the rest. */
struct link {
	dev_t dev;
	ino_t ino;
	char *path;
};

struct copy {
	int droot;		/* the destination's top, for linkat */
	struct sbuf path;	/* the current entry, relative */
	struct link *links;
	size_t nlinks, cap;
	long n;
	struct vj_err *err;
};

static int
failed(struct copy *c, const char *what)
{
	vj_errno(c->err, "copying %s: %s", c->path.s ? c->path.s : ".", what);
	return -1;
}

#ifdef __linux__
static int
copy_xattrs(struct copy *c, int in, int out)
{
	char names[4096], val[65536], *p;
	ssize_t n, v;

	if ((n = flistxattr(in, names, sizeof(names))) == -1)
		return errno == ENOTSUP ? 0 : failed(c, "listxattr");
	for (p = names; p < names + n; p += strlen(p) + 1) {
		if ((v = fgetxattr(in, p, val, sizeof(val))) == -1)
			return failed(c, p);
		if (fsetxattr(out, p, val, (size_t)v, 0) == -1)
			return failed(c, p);
	}
	return 0;
}
#else
static int
copy_xattrs(struct copy *c, int in, int out)
{
	(void)c; (void)in; (void)out;
	return 0;
}
#endif

/* Owner, then mode (a chown clears setuid), attributes and times. */
static int
copy_meta(struct copy *c, int in, int out, const struct stat *st)
{
	struct timespec ts[2] = { st->st_atim, st->st_mtim };

	if (fchown(out, st->st_uid, st->st_gid) == -1)
		return failed(c, "chown");
	if (fchmod(out, st->st_mode & 07777) == -1)
		return failed(c, "chmod");
	if (copy_xattrs(c, in, out) == -1)
		return -1;
	if (futimens(out, ts) == -1)
		return failed(c, "utimens");
	return 0;
}

static int copy_dir(struct copy *c, int sfd, int dfd, int depth);

/* A link to the first copy of this inode, when there was one: 1; else
 * it is remembered (0). */
static int
hard_link(struct copy *c, const struct stat *st)
{
	size_t i;

	for (i = 0; i < c->nlinks; i++)
		if (c->links[i].dev == st->st_dev &&
		    c->links[i].ino == st->st_ino) {
			if (linkat(c->droot, c->links[i].path, c->droot,
			    c->path.s, 0) == -1)
				return failed(c, "link");
			return 1;
		}
	if (c->nlinks == c->cap) {
		c->cap = c->cap ? 2 * c->cap : 64;
		c->links = xreallocarray(c->links, c->cap, sizeof(*c->links));
	}
	c->links[c->nlinks].dev = st->st_dev;
	c->links[c->nlinks].ino = st->st_ino;
	c->links[c->nlinks++].path = xstrdup(c->path.s);
	return 0;
}

static int
copy_file(struct copy *c, int sfd, int dfd, const char *name,
    const struct stat *st)
{
	int in, out, rc = -1, l;

	if (st->st_nlink > 1 && (l = hard_link(c, st)) != 0)
		return l == 1 ? 0 : -1;
	if ((in = openat(sfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) == -1)
		return failed(c, "open");
	out = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_CLOEXEC, 0600);
	if (out == -1)
		failed(c, "create");
	else if (compat_copy_data(in, out) == -1)
		failed(c, "data");
	else
		rc = copy_meta(c, in, out, st);
	if (out != -1)
		close(out);
	close(in);
	return rc;
}

static int
copy_entry(struct copy *c, int sfd, int dfd, const char *name, int depth)
{
	struct stat st;
	struct timespec ts[2];
	char target[4096];
	ssize_t n;
	int s2, d2, rc;

	if (fstatat(sfd, name, &st, AT_SYMLINK_NOFOLLOW) == -1)
		return failed(c, "stat");
	c->n++;
	switch (st.st_mode & S_IFMT) {
	case S_IFREG:
		return copy_file(c, sfd, dfd, name, &st);
	case S_IFDIR:
		if (mkdirat(dfd, name, 0700) == -1)
			return failed(c, "mkdir");
		s2 = openat(sfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
		    O_CLOEXEC);
		d2 = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
		    O_CLOEXEC);
		rc = s2 == -1 || d2 == -1 ? failed(c, "open") :
		    copy_dir(c, s2, d2, depth + 1);
		if (rc == 0)	/* times last: the entries made changed them */
			rc = copy_meta(c, s2, d2, &st);
		if (s2 != -1)
			close(s2);
		if (d2 != -1)
			close(d2);
		return rc;
	case S_IFLNK:
		if ((n = readlinkat(sfd, name, target, sizeof(target))) == -1 ||
		    (size_t)n == sizeof(target))
			return failed(c, "readlink");
		target[n] = '\0';
		ts[0] = st.st_atim;
		ts[1] = st.st_mtim;
		if (symlinkat(target, dfd, name) == -1 ||
		    fchownat(dfd, name, st.st_uid, st.st_gid,
		    AT_SYMLINK_NOFOLLOW) == -1 ||
		    utimensat(dfd, name, ts, AT_SYMLINK_NOFOLLOW) == -1)
			return failed(c, "symlink");
		return 0;
	case S_IFIFO:
		ts[0] = st.st_atim;
		ts[1] = st.st_mtim;
		if (mkfifoat(dfd, name, st.st_mode & 07777) == -1 ||
		    fchownat(dfd, name, st.st_uid, st.st_gid,
		    AT_SYMLINK_NOFOLLOW) == -1 ||
		    fchmodat(dfd, name, st.st_mode & 07777, 0) == -1 ||
		    utimensat(dfd, name, ts, AT_SYMLINK_NOFOLLOW) == -1)
			return failed(c, "mkfifo");
		return 0;
	default:	/* devices, sockets: not copied */
		c->n--;
		return 0;
	}
}

static int
copy_dir(struct copy *c, int sfd, int dfd, int depth)
{
	DIR *d;
	struct dirent *e;
	size_t len = c->path.len;
	int fd, rc = 0;

	if (depth > MAX_DEPTH) {
		vj_errf(c->err, "copying %s: deeper than %d directories",
		    c->path.s, MAX_DEPTH);
		return -1;
	}
	if ((fd = dup(sfd)) == -1 || (d = fdopendir(fd)) == NULL) {
		if (fd != -1)
			close(fd);
		return failed(c, "opendir");
	}
	while (rc == 0 && (errno = 0, e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if (len > 0)
			sbuf_puts(&c->path, "/");
		sbuf_puts(&c->path, e->d_name);
		rc = copy_entry(c, sfd, dfd, e->d_name, depth);
		c->path.len = len;
		c->path.s[len] = '\0';
	}
	if (rc == 0 && errno != 0)
		rc = failed(c, "readdir");
	closedir(d);
	return rc;
}

long
cache_clone_tree(int srcfd, int destfd, struct vj_err *err)
{
	struct copy c = { destfd, { 0 }, NULL, 0, 0, 0, err };
	long rc;
	size_t i;

	sbuf_puts(&c.path, "");
	rc = copy_dir(&c, srcfd, destfd, 0) == 0 ? c.n : -1;
	for (i = 0; i < c.nlinks; i++)
		free(c.links[i].path);
	free(c.links);
	sbuf_free(&c.path);
	return rc;
}
