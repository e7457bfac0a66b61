/* SPDX-License-Identifier: BSD-2-Clause */
/* Jail roots and their ownership markers (see root.h). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../conf/conf.h"
#include "../util/util.h"
#include "root.h"
#include "tasks.h"

char *
root_marker(const struct task *t, const char *fp)
{
	return xasprintf("vjbuild jail\nname %s\nstate %s\nbase %s\n",
	    t->host->name, t->env->uuid, fp);
}

int
root_check(const struct task *t, int rootfd, const char *fp,
    struct vj_err *err)
{
	char *text, *want, *p;
	size_t n;
	int rc;

	text = fs_read_beneath(rootfd, ROOT_MARKER, 4096, NULL);
	if (text == NULL) {
		vj_errf(err, "%s exists and was not made by vjbuild (no %s in "
		    "it); it is left as it is: move it away or choose another "
		    "jails directory", t->root, ROOT_MARKER);
		return -1;
	}
	want = root_marker(t, "");
	n = strlen(want) - 1;	/* everything up to the base fingerprint */
	if (strncmp(text, want, n) != 0) {
		vj_errf(err, "%s was made by another vjbuild state or for "
		    "another jail (its %s does not match); it is left as it is",
		    t->root, ROOT_MARKER);
		rc = -1;
	} else if (fp == NULL)
		rc = 1;
	else {
		p = text + n;
		p[strcspn(p, "\n")] = '\0';
		rc = strcmp(p, fp) == 0;
	}
	free(text);
	free(want);
	return rc;
}

int
root_open(const struct task *t, struct vj_err *err)
{
	int fd = open(t->root, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

	if (fd == -1) {
		vj_errno(err, "%s", t->root);
		return -1;
	}
	if (root_check(t, fd, NULL, err) == -1) {
		close(fd);
		return -1;
	}
	return fd;
}

int
task_root_is_ours(const char *root, const char *name, const char *uuid,
    struct vj_err *err)
{
	int fd = open(root, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	char *text, *want;
	int ok;

	if (fd == -1) {
		vj_errno(err, "%s", root);
		return 0;
	}
	text = fs_read_beneath(fd, ROOT_MARKER, 4096, NULL);
	close(fd);
	want = xasprintf("vjbuild jail\nname %s\nstate %s\nbase ", name, uuid);
	ok = text != NULL && strncmp(text, want, strlen(want)) == 0;
	if (!ok)
		vj_errf(err, "%s was not made by this vjbuild state (its %s does "
		    "not match): it is left as it is", root, ROOT_MARKER);
	free(text);
	free(want);
	return ok;
}

/* ---- laying a tree over a root ---- */

struct lay_entry {
	char *rel;
	int dir;
};

/* Every entry below the directory open as top, parents before children
 * (a walk with a queue of its own, no recursion). */
static int
lay_list(int top, struct lay_entry **out, size_t *n, struct vj_err *err)
{
	size_t next = 0, cap = 0;
	const char *rel;
	struct dirent *de;
	struct stat st;
	DIR *d;
	int fd;

	*out = NULL;
	*n = 0;
	for (rel = "."; rel != NULL; rel = next < *n ? (*out)[next++].rel :
	    NULL) {
		if (next > 0 && !(*out)[next - 1].dir)
			continue;
		if ((fd = openat(top, rel, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
		    O_CLOEXEC)) == -1 || (d = fdopendir(fd)) == NULL) {
			vj_errno(err, "%s", rel);
			if (fd != -1)
				close(fd);
			return -1;
		}
		while ((de = readdir(d)) != NULL) {
			if (strcmp(de->d_name, ".") == 0 ||
			    strcmp(de->d_name, "..") == 0)
				continue;
			if (fstatat(dirfd(d), de->d_name, &st,
			    AT_SYMLINK_NOFOLLOW) == -1) {
				vj_errno(err, "%s/%s", rel, de->d_name);
				closedir(d);
				return -1;
			}
			if (*n == cap) {
				cap = cap ? cap * 2 : 64;
				*out = xreallocarray(*out, cap, sizeof(**out));
			}
			(*out)[*n].rel = strcmp(rel, ".") == 0 ?
			    xstrdup(de->d_name) :
			    xasprintf("%s/%s", rel, de->d_name);
			(*out)[(*n)++].dir = S_ISDIR(st.st_mode);
		}
		closedir(d);
	}
	return 0;
}

/* Moves entry rel of stage into root: a directory made (if missing), a
 * file or link renamed over what is there. */
static int
lay_one(int stage, int root, const struct lay_entry *e, struct vj_err *err)
{
	char *slash = strrchr(e->rel, '/');
	char *parent = slash ? xstrndup(e->rel, (size_t)(slash - e->rel)) :
	    xstrdup(".");
	const char *base = slash ? slash + 1 : e->rel;
	int sfd = -1, rfd = -1, rc = -1;

	struct stat st;

	if ((rfd = fs_opendir_beneath(root, parent, 1, 0755)) == -1) {
		vj_errno(err, "%s", e->rel);
		goto out;
	}
	if (e->dir) {
		/* A link or file where the tree has a directory is
		 * replaced, never followed (as libarchive's secure
		 * extraction did). */
		if (fstatat(rfd, base, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    !S_ISDIR(st.st_mode) && unlinkat(rfd, base, 0) == -1) {
			vj_errno(err, "%s", e->rel);
			goto out;
		}
		if (mkdirat(rfd, base, 0700) == -1 && errno != EEXIST) {
			vj_errno(err, "%s", e->rel);
			goto out;
		}
		rc = 0;
		goto out;
	}
	if ((sfd = fs_opendir_beneath(stage, parent, 0, 0)) == -1 ||
	    renameat(sfd, base, rfd, base) == -1) {
		vj_errno(err, "%s", e->rel);
		goto out;
	}
	rc = 0;
out:
	if (sfd != -1)
		close(sfd);
	if (rfd != -1)
		close(rfd);
	free(parent);
	return rc;
}

/*
 * -1 with err naming them when the tree has a directory where the root has
 * a link or a file (a merged-/usr base's /lib -> usr/lib, which a package's
 * lib/systemd replaced: every library went out of the jail's sight), or a
 * file where the root has a directory. Nothing is followed, and nothing is
 * laid: the root is the operator's, not the package's to reshape.
 */
static int
lay_conflicts(const struct task *t, int root, const struct lay_entry *v,
    size_t n, struct vj_err *err)
{
	struct sbuf b = { 0 };
	struct stat st;
	size_t i, bad = 0;

	for (i = 0; i < n; i++) {
		char *slash = strrchr(v[i].rel, '/');
		char *parent = slash ? xstrndup(v[i].rel,
		    (size_t)(slash - v[i].rel)) : xstrdup(".");
		const char *base = slash ? slash + 1 : v[i].rel;
		int pfd = fs_opendir_beneath(root, parent, 0, 0), clash = 0;
		char link[256];
		ssize_t len;
		free(parent);
		if (pfd == -1)
			continue;	/* made by the lay, or its own clash */
		if (fstatat(pfd, base, &st, AT_SYMLINK_NOFOLLOW) == 0)
			clash = v[i].dir ? !S_ISDIR(st.st_mode) :
			    S_ISDIR(st.st_mode);
		if (clash && bad++ < 8) {
			if (S_ISLNK(st.st_mode) && (len = readlinkat(pfd, base,
			    link, sizeof(link) - 1)) >= 0) {
				link[len] = '\0';
				sbuf_printf(&b, "\n  /%s: a directory in the "
				    "package, a link to %s in the jail", v[i].rel,
				    link);
			} else
				sbuf_printf(&b, "\n  /%s: a %s in the package, a "
				    "%s in the jail", v[i].rel, v[i].dir ?
				    "directory" : "file", v[i].dir ? "file" :
				    "directory");
		}
		close(pfd);
	}
	if (bad == 0)
		return 0;
	vj_errf(err, "%s: %zu path%s of the tree would replace what the jail "
	    "has (nothing is followed or replaced; nothing was installed):%s",
	    t->root, bad, bad == 1 ? "" : "s", b.s);
	sbuf_free(&b);
	return -1;
}

/* Gives root's directory rel the owner, mode and times of stage's. */
static int
lay_dir_attrs(int stage, int root, const char *rel, struct vj_err *err)
{
	struct timespec ts[2];
	struct stat st;
	int fd, rc = 0;

	if (fstatat(stage, rel, &st, AT_SYMLINK_NOFOLLOW) == -1 ||
	    (fd = fs_opendir_beneath(root, rel, 0, 0)) == -1) {
		vj_errno(err, "%s", rel);
		return -1;
	}
	ts[0] = st.st_atim;
	ts[1] = st.st_mtim;
	if (fchown(fd, st.st_uid, st.st_gid) == -1 ||
	    fchmod(fd, st.st_mode & 07777) == -1 || futimens(fd, ts) == -1) {
		vj_errno(err, "%s", rel);
		rc = -1;
	}
	close(fd);
	return rc;
}

long
root_lay(const struct task *t, int rootfd, const char *tag,
    long (*fill)(int stagefd, void *arg, struct vj_err *err), void *arg,
    struct vj_err *err)
{
	char *name = xasprintf(".vjbuild-%s.vjbuild-tmp", tag);
	struct lay_entry *v = NULL;
	size_t n = 0, i;
	int stage = -1;
	long count = -1;

	/* What a killed lay left, then a fresh stage. */
	if (fs_rmtree_at(rootfd, name) == -1 ||
	    mkdirat(rootfd, name, 0700) == -1 ||
	    (stage = openat(rootfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) == -1) {
		vj_errno(err, "%s/%s", t->root, name);
		goto out;
	}
	if ((count = fill(stage, arg, err)) == -1) {
		/* Refused, not killed: nothing of it stays in the root. */
		close(stage);
		stage = -1;
		(void)fs_rmtree_at(rootfd, name);
		goto out;
	}
	if (lay_list(stage, &v, &n, err) == -1)
		goto fail;
	if (lay_conflicts(t, rootfd, v, n, err) == -1) {
		close(stage);
		stage = -1;
		(void)fs_rmtree_at(rootfd, name);
		goto fail;
	}
	for (i = 0; i < n; i++)
		if (lay_one(stage, rootfd, &v[i], err) == -1)
			goto fail;
	for (i = n; i-- > 0;)
		if (v[i].dir && lay_dir_attrs(stage, rootfd, v[i].rel,
		    err) == -1)
			goto fail;
	goto out;
fail:
	count = -1;
out:
	if (stage != -1)
		close(stage);
	if (count != -1 && fs_rmtree_at(rootfd, name) == -1) {
		vj_errno(err, "%s/%s", t->root, name);
		count = -1;
	}
	for (i = 0; i < n; i++)
		free(v[i].rel);
	free(v);
	free(name);
	return count;
}
