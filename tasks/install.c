/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * install:P@J: the package from the cache into the jail. The archive's
 * digest is checked against the one recorded when it was built (a corrupt
 * entry is refused, never installed); it is extracted with the secure
 * flags into a stage in the root and renamed into place (root_lay: a kill
 * leaves no file the package does not list); files the previous version had and this one has not are removed;
 * a dynamic program or library of the package whose loader or libraries
 * neither the package nor the jail has is refused before anything is laid
 * (needs_check: the base's, or a dependency's); the package and its file
 * list are recorded in the jail at
 * /var/db/vjbuild/pkg/P; and when it ships shared libraries the jail's
 * linker cache is refreshed (ldconfig -r ROOT on Linux).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#ifdef __linux__
#include <linux/openat2.h>
#include <sys/syscall.h>
#endif

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

int
task_ldconfig(const struct task *t, struct vj_err *err)
{
#ifdef __linux__
	char *argv[] = { "/sbin/ldconfig", "-r", t->root, NULL };
	char *envp[] = { "PATH=/usr/sbin:/usr/bin:/sbin:/bin", NULL };
	char *name;
	int status, lk, rc;

	if (access(argv[0], X_OK) == -1) {
		printf("no %s on this host: the jail's linker cache is not "
		    "refreshed\n", argv[0]);
		return 0;
	}
	/* One at a time in a root: two installs of a jail at once would
	 * both write /etc/ld.so.cache~ and one rename would fail. */
	name = xasprintf("ldconfig-%s", t->host->name);
	lk = task_cache_lock(t, name, LOCK_EX, err);
	free(name);
	if (lk == -1)
		return -1;
	rc = jail_run(argv, envp, NULL, &status, err);
	close(lk);
	if (rc == -1)
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

/* ---- what the package's programs need of the jail ---- */

/*
 * 1 when path (absolute, as inside the jail) names something beneath the
 * directory open as fd, links followed as the jail would follow them (a
 * link to /lib resolves in the root, never on the host).
 */
static int
in_root(int fd, const char *path)
{
#ifdef __linux__
	struct open_how how;
	int f, tries = 0;

	memset(&how, 0, sizeof(how));
	how.flags = O_PATH | O_CLOEXEC;
	how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
	/* EAGAIN: a rename or mount anywhere on the host raced the walk
	 * (the kernel cannot tell that it stayed in the root); the walk is
	 * tried again, as openat2(2) says. Taken for "missing", it refused
	 * packages while other installs renamed their stages. */
	while ((f = (int)syscall(SYS_openat2, fd, path, &how,
	    sizeof(how))) == -1 && errno == EAGAIN && ++tries < 1000)
		;
	if (f == -1)
		return 0;
	close(f);
	return 1;
#else
	return faccessat(fd, path[0] == '/' ? path + 1 : path, F_OK,
	    AT_SYMLINK_NOFOLLOW) == 0;
#endif
}

/* The directories the jail's loader searches: its /etc/ld.so.conf (with
 * its includes, one level) and the system's own. */
static void
lib_dirs(int rootfd, struct sbuf *dirs)
{
	static const char *const sys[] = { "/lib", "/usr/lib", "/lib64",
	    "/usr/lib64", "/usr/local/lib",
#if defined(__x86_64__)
	    "/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu",
#elif defined(__aarch64__)
	    "/lib/aarch64-linux-gnu", "/usr/lib/aarch64-linux-gnu",
#endif
	};
	char *conf = fs_read_beneath(rootfd, "etc/ld.so.conf", 1 << 16, NULL);
	char *line, *save = NULL;
	size_t i;

	for (i = 0; i < sizeof(sys) / sizeof(sys[0]); i++)
		sbuf_printf(dirs, "%s\n", sys[i]);
	for (line = conf ? strtok_r(conf, "\n", &save) : NULL; line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		line += strspn(line, " \t");
		if (line[0] == '/')
			sbuf_printf(dirs, "%s\n", line);
		else if (strncmp(line, "include ", 8) == 0) {
			/* Debian's: include /etc/ld.so.conf.d/ *.conf */
			int d = fs_opendir_beneath(rootfd, "etc/ld.so.conf.d", 0,
			    0);
			DIR *dp = d == -1 ? NULL : fdopendir(d);
			struct dirent *de;
			while (dp != NULL && (de = readdir(dp)) != NULL) {
				size_t n = strlen(de->d_name);
				char *text, *l2, *s2 = NULL;
				if (n < 6 || strcmp(de->d_name + n - 5, ".conf"))
					continue;
				text = fs_read_beneath(dirfd(dp), de->d_name,
				    1 << 16, NULL);
				for (l2 = text ? strtok_r(text, "\n", &s2) :
				    NULL; l2 != NULL; l2 = strtok_r(NULL, "\n",
				    &s2))
					if (l2[strspn(l2, " \t")] == '/')
						sbuf_printf(dirs, "%s\n",
						    l2 + strspn(l2, " \t"));
				free(text);
			}
			if (dp != NULL)
				closedir(dp);
			else if (d != -1)
				close(d);
		}
	}
	free(conf);
}

/*
 * What the dynamic ELF files among files (names relative to dirfd, the
 * stage or a package's tree) need, into out: a record a file, "F REL",
 * then "I LOADER", "R RUNPATH" and "N LIBRARY" lines, or "E" when its
 * names cannot be read (or hold a newline). Files that are not dynamic
 * ELF have none.
 */
static void
needs_scan(int dirfd, const char *files, struct sbuf *out)
{
	const char *p, *nl;

	for (p = files; *p != '\0'; p = nl + 1) {
		struct elf_needs en;
		char *rel, *slash;
		size_t k;
		int fd = -1, r, bad;
		if ((nl = strchr(p, '\n')) == NULL)
			break;
		rel = xstrndup(p, (size_t)(nl - p));
		slash = strrchr(rel, '/');
		{
			char *dir = slash ? xstrndup(rel, (size_t)(slash - rel)) :
			    xstrdup(".");
			int dfd = fs_opendir_beneath(dirfd, dir, 0, 0);
			if (dfd != -1) {
				fd = openat(dfd, slash ? slash + 1 : rel,
				    O_RDONLY | O_NOFOLLOW | O_CLOEXEC |
				    O_NONBLOCK);
				close(dfd);
			}
			free(dir);
		}
		r = fd == -1 ? 0 : elf_needs_read(fd, &en);
		if (fd != -1)
			close(fd);
		if (r == 0) {
			free(rel);
			continue;
		}
		bad = r == -1 || (en.interp != NULL && strchr(en.interp,
		    '\n') != NULL) || (en.runpath != NULL &&
		    strchr(en.runpath, '\n') != NULL);
		for (k = 0; r == 1 && k < en.nneeded; k++)
			bad |= strchr(en.needed[k], '\n') != NULL;
		sbuf_printf(out, "F %s\n", rel);
		if (bad)
			sbuf_puts(out, "E\n");
		else {
			if (en.interp != NULL)
				sbuf_printf(out, "I %s\n", en.interp);
			if (en.runpath != NULL)
				sbuf_printf(out, "R %s\n", en.runpath);
			for (k = 0; k < en.nneeded; k++)
				sbuf_printf(out, "N %s\n", en.needed[k]);
		}
		if (r == 1)
			elf_needs_free(&en);
		free(rel);
	}
}

/* in_root's answers for one check: a package's hundred programs ask for
 * the same few libraries in the same few directories. */
struct seen {
	char **path;
	unsigned char *bits;	/* 1 stage asked, 2 found; 4 root, 8 */
	size_t cap, n;
};

static size_t
seen_slot(const struct seen *s, const char *path)
{
	size_t h = 14695981039346656037u;
	const unsigned char *c;

	for (c = (const unsigned char *)path; *c; c++)
		h = (h ^ *c) * 1099511628211u;
	for (h &= s->cap - 1; s->path[h] != NULL &&
	    strcmp(s->path[h], path) != 0; h = (h + 1) & (s->cap - 1))
		;
	return h;
}

/* Is path (absolute, as inside the jail) in the stage or the root? */
static int
found(struct seen *s, int stagefd, int rootfd, const char *path)
{
	size_t i;

	if (s->n * 2 >= s->cap) {
		struct seen g = { NULL, NULL, s->cap ? s->cap * 2 : 256, 0 };
		g.path = xcalloc(g.cap, sizeof(*g.path));
		g.bits = xcalloc(g.cap, 1);
		for (i = 0; i < s->cap; i++)
			if (s->path[i] != NULL) {
				size_t k = seen_slot(&g, s->path[i]);
				g.path[k] = s->path[i];
				g.bits[k] = s->bits[i];
				g.n++;
			}
		free(s->path);
		free(s->bits);
		*s = g;
	}
	i = seen_slot(s, path);
	if (s->path[i] == NULL) {
		s->path[i] = xstrdup(path);
		s->n++;
	}
	if (!(s->bits[i] & 1))
		s->bits[i] |= 1 | (in_root(stagefd, path) ? 2 : 0);
	if (s->bits[i] & 2)
		return 1;
	if (rootfd == stagefd)
		return 0;
	if (!(s->bits[i] & 4))
		s->bits[i] |= 4 | (in_root(rootfd, path) ? 8 : 0);
	return (s->bits[i] & 8) != 0;
}

static void
seen_free(struct seen *s)
{
	size_t i;

	for (i = 0; i < s->cap; i++)
		free(s->path[i]);
	free(s->path);
	free(s->bits);
}

/* Is library name in one of the directories of list (separated by sep),
 * in the stage or the root? $ORIGIN is origin. */
static int
find_lib(struct seen *s, int stagefd, int rootfd, const char *list, int sep,
    const char *name, const char *origin)
{
	const char *p = list, *e;
	int ok = 0;

	for (; p != NULL && *p && !ok; p = *e ? e + 1 : e) {
		char *dir, *path;
		e = strchr(p, sep);
		if (e == NULL)
			e = p + strlen(p);
		dir = xstrndup(p, (size_t)(e - p));
		if (strncmp(dir, "$ORIGIN", 7) == 0 ||
		    strncmp(dir, "${ORIGIN}", 9) == 0) {
			char *rest = dir + (dir[1] == '{' ? 9 : 7);
			char *d2 = xasprintf("%s%s", origin, rest);
			free(dir);
			dir = d2;
		}
		path = xasprintf("%s/%s", dir, name);
		ok = dir[0] == '/' && found(s, stagefd, rootfd, path);
		free(path);
		free(dir);
	}
	return ok;
}

/*
 * Every dynamic program or library of the package (summary, needs_scan's)
 * must find its loader and its libraries in the package (the stage) or
 * the jail (its base, or packages installed before it: its
 * dependencies). -1 with err listing what is missing.
 */
static int
needs_verdict(const struct task *t, int stagefd, int rootfd,
    const char *summary, struct vj_err *err)
{
	struct sbuf dirs = { 0 }, missing = { 0 };
	struct seen seen = { NULL, NULL, 0, 0 };
	const char *p, *nl;
	char *rel = NULL, *origin = NULL, *runpath = NULL;
	int rc = 0, first = 1;

	lib_dirs(rootfd, &dirs);
	for (p = summary; *p != '\0' && (nl = strchr(p, '\n')) != NULL;
	    p = nl + 1) {
		char *arg = p[1] == ' ' ? xstrndup(p + 2,
		    (size_t)(nl - p - 2)) : NULL;
		int ok = 1;
		switch (p[0]) {
		case 'F':
			free(rel);
			free(origin);
			free(runpath);
			rel = arg;
			arg = NULL;
			runpath = NULL;
			origin = xasprintf("/%s", rel ? rel : "");
			*strrchr(origin, '/') = '\0';
			first = 1;
			break;
		case 'E':
			sbuf_printf(&missing, "\n  %s: a dynamic ELF file whose "
			    "library names cannot be read", rel ? rel : "?");
			rc = -1;
			break;
		case 'I':
			ok = arg == NULL || found(&seen, stagefd, rootfd, arg);
			break;
		case 'R':
			free(runpath);
			runpath = arg;
			arg = NULL;
			break;
		case 'N':
			ok = arg == NULL || (strchr(arg, '/') != NULL ?
			    found(&seen, stagefd, rootfd, arg) :
			    (runpath != NULL && find_lib(&seen, stagefd,
			    rootfd, runpath, ':', arg, origin ? origin : "")) ||
			    find_lib(&seen, stagefd, rootfd, dirs.s, '\n', arg,
			    origin ? origin : ""));
			break;
		}
		if (!ok) {
			if (first)
				sbuf_printf(&missing, "\n  %s needs %s",
				    rel ? rel : "?", arg);
			else
				sbuf_printf(&missing, ", %s", arg);
			first = 0;
			rc = -1;
		}
		free(arg);
	}
	if (rc == -1)
		vj_errf(err, "%s %s cannot run in %s: neither the package nor "
		    "the jail has what it needs (give the base these libraries, "
		    "or depend on a port that installs them); nothing was "
		    "installed:%s", t->port->port->name, t->port->port->version,
		    t->root, missing.s);
	free(rel);
	free(origin);
	free(runpath);
	seen_free(&seen);
	sbuf_free(&dirs);
	sbuf_free(&missing);
	return rc;
}

/* needs_scan of the stage, then needs_verdict: before anything is laid
 * into the root. */
static int
needs_check(const struct task *t, int stagefd, int rootfd, const char *files,
    struct vj_err *err)
{
	struct sbuf s = { 0 };
	int rc;

	needs_scan(stagefd, files, &s);
	rc = needs_verdict(t, stagefd, rootfd, s.s ? s.s : "", err);
	sbuf_free(&s);
	return rc;
}

/*
 * A thin jail's package is a tree in the cache (tasks/thin.c), the same
 * for every jail that has it: what its files need is read from it once,
 * into CACHE/trees/TREE.needs (temporary name, then rename; a file that
 * does not end as written is made again), not from the jail's overlay
 * for every jail. The summary (needs_scan's), or NULL with err.
 */
static char *
needs_of_tree(const struct task *t, const char *files, struct vj_err *err)
{
	const struct task_port *tp = t->port;
	char *name = thin_tree_name(tp->archive);
	char *tree = xasprintf("%s/trees/%s", t->env->cache, name);
	char *path = xasprintf("%s.needs", tree);
	char *head = xasprintf("vjbuild-needs 1 %s\n", tp->key);
	char *text = fs_read(path, 64u << 20, NULL), *body = NULL, *tmp;
	struct sbuf s = { 0 };
	size_t hl = strlen(head), n = text ? strlen(text) : 0;
	int dfd, fd;

	if (text != NULL && n >= hl + 4 && strncmp(text, head, hl) == 0 &&
	    strcmp(text + n - 4, "end\n") == 0 && (n == hl + 4 ||
	    text[n - 5] == '\n')) {
		body = xstrndup(text + hl, n - hl - 4);
		goto out;
	}
	if ((dfd = open(tree, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) == -1) {
		vj_errno(err, "%s (%s's unpacked package)", tree, t->root);
		goto out;
	}
	sbuf_puts(&s, head);
	needs_scan(dfd, files, &s);
	close(dfd);
	sbuf_puts(&s, "end\n");
	body = xstrndup(s.s + hl, strlen(s.s) - hl - 4);
	/* Published for the next jail; one that cannot be is read again
	 * then (a unique temporary: two jails' installs may race here). */
	tmp = xasprintf("%s/trees/.tmp.%s.needs.%ld", t->env->cache, name,
	    (long)getpid());
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW |
	    O_CLOEXEC, 0644)) != -1) {
		size_t len = strlen(s.s);
		int ok = write(fd, s.s, len) == (ssize_t)len;
		if (close(fd) == -1 || !ok || rename(tmp, path) == -1)
			(void)unlink(tmp);
	}
	free(tmp);
out:
	sbuf_free(&s);
	free(text);
	free(head);
	free(path);
	free(tree);
	free(name);
	return body;
}

struct fill_pkg {
	const struct task *t;
	int rootfd;
	struct sbuf *names;
	int corrupt;		/* out: its digest is not the recorded one */
};

/* The package into root_lay's stage, its file names into names, checked
 * against its recorded digest in the same read; then what its programs
 * need is looked for, before anything is laid. */
static long
fill_pkg(int stagefd, void *arg, struct vj_err *err)
{
	struct fill_pkg *f = arg;
	long n = cache_extract_verified(f->t->port->archive, stagefd,
	    f->t->port->sha256, f->names, err);
	const char *devs;

	if (n == -2) {
		f->corrupt = 1;
		return -1;
	}
	/* A base may come with its /dev; a package that vjbuild built in a
	 * user namespace cannot hold a device node: one that does was not
	 * made by it, and is refused (the stage is not laid). */
	if (n != -1 && cache_skipped_devices(&devs) > 0) {
		vj_errf(err, "%s: %s: a device node in a package: refused "
		    "(no build makes one)", f->t->port->archive, devs);
		return -1;
	}
	if (n != -1 && needs_check(f->t, stagefd, f->rootfd, f->names->s ?
	    f->names->s : "", err) == -1)
		return -1;
	return n;
}

static int
install_run(const struct task *t, struct vj_err *err)
{
	const struct task_port *tp = t->port;
	char *rec = record_path(t), *old = NULL, *text = NULL;
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
	old = fs_read_beneath(fd, rec, 64u << 20, NULL);
	if (task_thin(t)) {
		/* Its files are a layer of the root (extract:J mounted it,
		 * the digest checked as it was unpacked): what they need is
		 * looked for in the root as the jail sees it; nothing is
		 * laid, nothing removed (an older version's files went
		 * with its layer). */
		char *files = NULL;
		double secs;
		char hex[65];
		if (port_manifest_read(tp, &secs, hex, &files, err) == -1)
			goto out;
		sbuf_puts(&names, files);
		free(files);
		if ((files = needs_of_tree(t, names.s ? names.s : "",
		    err)) == NULL)
			goto out;
		n = needs_verdict(t, fd, fd, files, err);
		free(files);
		if (n == -1)
			goto out;
		for (n = 0, files = names.s ? names.s : ""; *files; files++)
			n += *files == '\n';
	} else {
		struct fill_pkg fp = { t, fd, &names, 0 };
		char *tag = xasprintf("install-%s", tp->port->name);
		n = root_lay(t, fd, tag, fill_pkg, &fp, err);
		free(tag);
		if (n == -1 && fp.corrupt) {
			/* Quarantine it, so the next run sees it missing and
			 * builds it again even if its size and times look
			 * unchanged. */
			char *aside = xasprintf("%s.corrupt", tp->archive);
			char *why = xstrdup(err->msg);
			(void)rename(tp->archive, aside);
			vj_errf(err, "%s is corrupt (%s); it is not installed, "
			    "it is moved to %s, and the next run builds it "
			    "again", tp->archive, why, aside);
			free(why);
			free(aside);
		}
		if (n == -1)
			goto out;
	}
	if (names.s == NULL)
		sbuf_puts(&names, "");
	if (!task_thin(t))
		remove_stale(fd, old, names.s);
	text = xasprintf("name %s\nversion %s\nkey %s\nsha256 %s\n\n%s",
	    tp->port->name, tp->port->version, tp->key, tp->sha256, names.s);
	if (fs_write_beneath(fd, rec, text, strlen(text), 0644, err) == -1)
		goto out;
	/* A thin jail's linker cache is a layer, made once for every
	 * thin jail with the same packages (tasks/thin.c). */
	if (!task_thin(t) && wants_ldconfig(names.s) &&
	    task_ldconfig(t, err) == -1)
		goto out;
	/* A thin install wrote its record alone (fs_write_beneath flushed
	 * it): a syncfs of the whole file system would add nothing. */
	if (!task_thin(t) && compat_syncfs(fd) == -1) {
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
