/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * install:P@J: the package from the cache into the jail. The archive's
 * digest is checked against the one recorded when it was built (a corrupt
 * entry is refused, never installed); it is extracted with the secure
 * flags into a stage in the root and renamed into place (root_lay: a kill
 * leaves no file the package does not list); files the previous version had and this one has not are removed;
 * the package and its file list are recorded in the jail at
 * /var/db/vjbuild/pkg/P; and when it ships shared libraries the jail's
 * linker cache is refreshed (ldconfig -r ROOT on Linux).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../cache/cache.h"
#include "../conf/conf.h"
#include "../jail/jail.h"
#include "../util/util.h"
#include "root.h"
#include "tasks.h"

#define PKGDB "var/db/vjbuild/pkg"

static char *
record_path(const struct task *t)
{
	return xasprintf(PKGDB "/%s", t->port->port->name);
}

static void
install_inputs(const struct task *t, struct sha256 *c)
{
	sha256_update(c, t->port->key, 64);
}

/* The package record names this very key. */
static int
install_exists(const struct task *t)
{
	char *rec = record_path(t), *text, *want;
	int fd = root_open(t, NULL), rc = 0;

	if (fd != -1) {
		text = fs_read_beneath(fd, rec, 64u << 20, NULL);
		want = xasprintf("\nkey %s\n", t->port->key);
		rc = text != NULL && strstr(text, want) != NULL;
		free(text);
		free(want);
		close(fd);
	}
	free(rec);
	return rc;
}

/* Does a newline-separated list hold line? */
static int
has_line(const char *list, const char *line, size_t n)
{
	const char *p = list;

	while ((p = strstr(p, line)) != NULL) {
		if ((p == list || p[-1] == '\n') && p[n] == '\n')
			return 1;
		p++;
	}
	return 0;
}

/* Removes the files of the old record that the new list lacks. */
static void
remove_stale(int rootfd, const char *old, const char *now)
{
	const char *files = old ? strstr(old, "\n\n") : NULL, *p, *nl;

	if (files == NULL)
		return;
	for (p = files + 2; *p != '\0'; p = nl + 1) {
		char *line, *dir, *slash;
		int dfd;
		if ((nl = strchr(p, '\n')) == NULL)
			break;
		if (nl == p || has_line(now, p, (size_t)(nl - p)))
			continue;
		line = xstrndup(p, (size_t)(nl - p));
		slash = strrchr(line, '/');
		dir = slash ? xstrndup(line, (size_t)(slash - line)) : xstrdup(".");
		if ((dfd = fs_opendir_beneath(rootfd, dir, 0, 0)) != -1) {
			if (unlinkat(dfd, slash ? slash + 1 : line, 0) == 0)
				printf("removed %s (not in this version)\n", line);
			close(dfd);
		}
		free(dir);
		free(line);
	}
}

static int
wants_ldconfig(const char *files)
{
	const char *p;

	for (p = files; (p = strstr(p, ".so")) != NULL; p++)
		if ((p[3] == '\n' || p[3] == '.') && memmem(files,
		    (size_t)(p - files), "lib/", 4) != NULL)
			return 1;
	return 0;
}

static int
ldconfig(const struct task *t, struct vj_err *err)
{
#ifdef __linux__
	char *argv[] = { "/sbin/ldconfig", "-r", t->root, NULL };
	char *envp[] = { "PATH=/usr/sbin:/usr/bin:/sbin:/bin", NULL };
	int status;

	if (access(argv[0], X_OK) == -1) {
		printf("no %s on this host: the jail's linker cache is not "
		    "refreshed\n", argv[0]);
		return 0;
	}
	if (jail_run(argv, envp, NULL, &status, err) == -1)
		return -1;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		vj_errf(err, "ldconfig -r %s failed", t->root);
		return -1;
	}
	printf("refreshed the linker cache of %s\n", t->root);
#else
	(void)t;
	(void)err;
#endif
	return 0;
}

struct fill_pkg {
	const char *archive;
	struct sbuf *names;
};

/* The package into root_lay's stage, its file names into names. */
static long
fill_pkg(int stagefd, void *arg, struct vj_err *err)
{
	struct fill_pkg *f = arg;

	return cache_extract_filtered(f->archive, stagefd, NULL, NULL,
	    f->names, err);
}

static int
install_run(const struct task *t, struct vj_err *err)
{
	const struct task_port *tp = t->port;
	char *rec = record_path(t), *old = NULL, *text = NULL, hex[65];
	struct sbuf names = { 0 };
	int fd = -1, rc = -1;
	long n;

	if ((fd = root_open(t, err)) == -1)
		goto out;
	if (tp->sha256[0] == '\0') {
		vj_errf(err, "%s: no recorded package for key %.16s", tp->archive,
		    tp->key);
		goto out;
	}
	if (sha256_file(tp->archive, hex, err) == -1)
		goto out;
	if (strcmp(hex, tp->sha256) != 0) {
		/* Quarantine it, so the next run sees it missing and builds
		 * it again even if its size and times look unchanged. */
		char *aside = xasprintf("%s.corrupt", tp->archive);
		(void)rename(tp->archive, aside);
		vj_errf(err, "%s is corrupt (sha256 %s, recorded %s); it is not "
		    "installed, it is moved to %s, and the next run builds it "
		    "again", tp->archive, hex, tp->sha256, aside);
		free(aside);
		goto out;
	}
	old = fs_read_beneath(fd, rec, 64u << 20, NULL);
	{
		struct fill_pkg fp = { tp->archive, &names };
		char *tag = xasprintf("install-%s", tp->port->name);
		n = root_lay(t, fd, tag, fill_pkg, &fp, err);
		free(tag);
		if (n == -1)
			goto out;
	}
	if (names.s == NULL)
		sbuf_puts(&names, "");
	remove_stale(fd, old, names.s);
	text = xasprintf("name %s\nversion %s\nkey %s\nsha256 %s\n\n%s",
	    tp->port->name, tp->port->version, tp->key, tp->sha256, names.s);
	if (fs_write_beneath(fd, rec, text, strlen(text), 0644, err) == -1)
		goto out;
	if (wants_ldconfig(names.s) && ldconfig(t, err) == -1)
		goto out;
	if (compat_syncfs(fd) == -1) {
		vj_errno(err, "%s: syncfs", t->root);
		goto out;
	}
	printf("installed %s %s (%ld entries) into %s\n", tp->port->name,
	    tp->port->version, n, t->root);
	rc = 0;
out:
	if (fd != -1)
		close(fd);
	sbuf_free(&names);
	free(rec);
	free(old);
	free(text);
	return rc;
}

const struct task_ops task_install_ops = {
	.kind = "install",
	.estimate = 0.2,
	.inputs = install_inputs,
	.exists = install_exists,
	.run = install_run,
};
