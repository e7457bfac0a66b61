/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * fetch:P and build:P, the tasks that make a package once for every jail.
 *
 * fetch:P checks the distfile's digest again (it may have changed since the
 * plan was made) and unpacks it, or copies ports/P/src, to CACHE/src/P-SRC:
 * a temporary name renamed into place.
 *
 * build:P copies those sources to CACHE/work/P/src, enters the build
 * isolation (PREFIX an empty tmpfs holding only P's dependencies, taken
 * from their packages), runs ports/P/build with SRCDIR, STAGEDIR, PREFIX and
 * JOBS and MAKEFLAGS (naming its own jobserver pipe, so that a plain `make`
 * shares the run's -j budget; without it, -jJOBS), packs STAGEDIR into CACHE/packages/.tmp.NAME,
 * writes the file list beside it, and renames the archive into place. The parent then records
 * the package (digest, size, files, build time) in the state database; a
 * package without that record is not trusted and is built again.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../cache/cache.h"
#include "../conf/conf.h"
#include "../jail/jail.h"
#include "../state/state.h"
#include "../util/util.h"
#include "tasks.h"

#define PREFIX "/usr/local"
#define PREFIX_REL "usr/local/"	/* PREFIX as archive paths start */

int task_idle;

double
task_boost(const struct task *t)
{
	const struct conf *c = t->env != NULL ? t->env->conf : NULL;
	size_t k;

	if (t->ops != &task_build_ops || t->port == NULL || c == NULL)
		return 1;
	for (k = 0; k < c->nboost; k++)
		if (strcmp(c->boost[k], t->port->port->name) == 0)
			return 10;
	return 1;
}

/* Opens dir (made if missing) and replaces name in it by an empty
 * directory; returns an fd on it or -1 with err. */
static int
fresh_dir(const char *dir, const char *name, int *dirfd, struct vj_err *err)
{
	int fd;

	if (fs_mkdirs(dir, 0755) == -1 ||
	    (*dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1) {
		vj_errno(err, "%s", dir);
		return -1;
	}
	if (fs_rmtree_at(*dirfd, name) == -1 || mkdirat(*dirfd, name, 0755) == -1 ||
	    (fd = openat(*dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) == -1) {
		vj_errno(err, "%s/%s", dir, name);
		close(*dirfd);
		*dirfd = -1;
		return -1;
	}
	return fd;
}

/*
 * Locks CACHE/locks/NAME (made if missing, never deleted: a lock that can
 * be deleted away is no lock) with how (LOCK_EX or LOCK_SH), saying so
 * when another vjbuild holds it and waiting for it. The cache may be
 * shared by many states and many vjbuilds: a key is built, and a source
 * unpacked, by one at a time. Returns the fd (its close unlocks) or -1.
 */
int
task_cache_lock(const struct task *t, const char *name, int how,
    struct vj_err *err)
{
	char *dir = fs_join(t->env->cache, "locks"), *path = fs_join(dir, name);
	int fd = -1;

	if (fs_mkdirs(dir, 0755) == -1 ||
	    (fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW,
	    0644)) == -1) {
		vj_errno(err, "%s", path);
		goto out;
	}
	if (flock(fd, how | LOCK_NB) == -1) {
		double t0 = vj_now();
		printf("waiting: %s is locked (by another task or another "
		    "vjbuild)\n", path);
		fflush(stdout);
		while (flock(fd, how) == -1)
			if (errno != EINTR) {
				vj_errno(err, "%s: flock", path);
				close(fd);
				fd = -1;
				goto out;
			}
		printf("waited %.1fs\n", vj_now() - t0);
	}
out:
	free(dir);
	free(path);
	return fd;
}

/* The lock of fetch:P's output, CACHE/src/NAME-SRC16. */
static int
src_lock(const struct task *t, int how, struct vj_err *err)
{
	char *name = xasprintf("src-%s", strrchr(t->port->srcdir, '/') + 1);
	int fd = task_cache_lock(t, name, how, err);

	free(name);
	return fd;
}

static void
fetch_inputs(const struct task *t, struct sha256 *c)
{
	sha256_update(c, t->port->srcdigest, 64);
}

static int
fetch_exists(const struct task *t)
{
	struct stat st;

	return stat(t->port->srcdir, &st) == 0 && S_ISDIR(st.st_mode);
}

static int
fetch_run(const struct task *t, struct vj_err *err)
{
	const struct conf_port *p = t->port->port;
	char *dir = fs_dirname(t->port->srcdir), *base = NULL, *tmp = NULL;
	char hex[65];
	int dfd = -1, fd = -1, lk = -1, rc = -1;
	long n;

	if (p->source != NULL) {
		if (sha256_file(p->source, hex, err) == -1)
			goto out;
		if (strcmp(hex, p->sha256) != 0) {
			vj_errf(err, "%s: sha256 %s, but %s says %s", p->source,
			    hex, p->recipe, p->sha256);
			goto out;
		}
	}
	/* One unpacking of a source at a time, and none while a build
	 * copies it (src_lock shared, in build_run). */
	if ((lk = src_lock(t, LOCK_EX, err)) == -1)
		goto out;
	base = strrchr(t->port->srcdir, '/') + 1;
	tmp = xasprintf(".tmp.%s", base);
	if ((fd = fresh_dir(dir, tmp, &dfd, err)) == -1)
		goto out;
	if (p->source != NULL) {
		n = cache_extract(p->source, fd, err);
		task_note_devices(p->source);
	} else {
		char *src = fs_join(p->dir, "src");
		n = cache_copy_tree(src, fd, err);
		task_note_devices(src);
		free(src);
	}
	if (n == -1)
		goto out;
	/* An older copy (a run whose record was lost) is replaced: a crash
	 * in between leaves no copy, and fetch runs again. */
	if (fs_rmtree_at(dfd, base) == -1 ||
	    renameat(dfd, tmp, dfd, base) == -1) {
		vj_errno(err, "%s: rename into place", t->port->srcdir);
		goto out;
	}
	printf("%s: %ld entries from %s\n", t->port->srcdir, n,
	    p->source ? p->source : "src/");
	rc = 0;
out:
	if (fd != -1)
		close(fd);
	if (rc == -1 && dfd != -1 && tmp != NULL)
		(void)fs_rmtree_at(dfd, tmp);
	if (dfd != -1)
		close(dfd);
	if (lk != -1)
		close(lk);
	free(dir);
	free(tmp);
	return rc;
}

const struct task_ops task_fetch_ops = {
	.kind = "fetch",
	.estimate = 0.2,
	.inputs = fetch_inputs,
	.exists = fetch_exists,
	.run = fetch_run,
};

/* ---- build ---- */

static void
build_inputs(const struct task *t, struct sha256 *c)
{
	sha256_update(c, t->port->key, 64);
}

static int
build_exists(const struct task *t)
{
	struct vj_err err;
	char hex[65];

	if (t->port->nocache || t->port->sha256[0] == '\0' ||
	    t->env->state == NULL)
		return 0;	/* --no-cache: never reused */
	/* The recorded digest only: this runs in the loop, which must not
	 * read a whole archive. An archive touched since is looked at by
	 * the build's own process (it finds it whole and keeps it). */
	return state_file_digest_recorded(t->env->state, t->port->archive,
	    hex, &err) == 1 && strcmp(hex, t->port->sha256) == 0;
}

/* The manifest beside an archive: its file list. malloc'd path. */
static char *
manifest_path(const struct task_port *tp)
{
	return xasprintf("%s.files", tp->archive);
}

/* Installs the packages of tp's dependencies, all the way down and each
 * once, into the build root's PREFIX (only entries under it), their owners
 * moved into the sandbox's ids. */
static int
install_deps(const struct task *t, const struct task_port *tp, int rootfd,
    struct vj_err *err)
{
	static const struct cache_ids ids = { JAIL_BUILD_IDBASE,
	    JAIL_BUILD_IDCOUNT };
	const struct conf_ports *ports = t->env->ports;
	int self = (int)(tp->port - ports->v), rc = 0;
	/* tp's array is indexed as ports->v: tp->dep[k] is base + dep[k]. */
	const struct task_port *base = tp - self;
	char *want = xcalloc(ports->n, 1);
	size_t i;

	conf_ports_closure(ports, self, want);
	want[self] = 0;
	for (i = 0; i < ports->n && rc == 0; i++) {
		const struct task_port *d = &base[i];
		if (!want[i])
			continue;
		if (cache_extract_filtered(d->archive, rootfd, PREFIX_REL,
		    &ids, NULL, err) == -1)
			rc = -1;
		else
			printf("build root: %s %s from %s\n", d->port->name,
			    d->port->version, d->archive);
	}
	free(want);
	return rc;
}

/*
 * The manifest beside an archive: the build's seconds, "sha256 HEX" of the
 * archive, a blank line, the files. The digest lets another state on the
 * same cache use a package it did not build: the archive is the one whose
 * digest its manifest names, or it is built again.
 */
int
port_manifest_read(const struct task_port *tp, double *seconds, char hex[65],
    char **files, struct vj_err *err)
{
	char *mpath = manifest_path(tp), *text, *p;
	size_t len;

	text = fs_read(mpath, 64u << 20, &len);
	if (text == NULL) {
		vj_errno(err, "%s", mpath);
		free(mpath);
		return -1;
	}
	*seconds = strtod(text, &p);
	if (strncmp(p, "\nsha256 ", 8) != 0 || strlen(p + 8) < 66 ||
	    strncmp(p + 8 + 64, "\n\n", 2) != 0) {
		vj_errf(err, "%s: not a manifest", mpath);
		free(text);
		free(mpath);
		return -1;
	}
	memcpy(hex, p + 8, 64);
	hex[64] = '\0';
	*files = xstrdup(p + 8 + 64 + 2);
	free(text);
	free(mpath);
	return 0;
}

/* 1 when the cache holds tp's package whole, made by another vjbuild (or
 * by this one's build whose record was lost). */
static int
cached(const struct task_port *tp)
{
	struct vj_err err;
	char want[65], got[65], *files = NULL;
	double secs;
	int ok;

	if (tp->nocache || access(tp->archive, F_OK) == -1 ||
	    port_manifest_read(tp, &secs, want, &files, &err) == -1)
		return 0;
	free(files);
	ok = sha256_file(tp->archive, got, &err) == 0 &&
	    strcmp(got, want) == 0;
	return ok;
}

static int
build_run(const struct task *t, struct vj_err *err)
{
	const struct task_port *tp = t->port;
	const struct conf_port *p = tp->port;
	char *work = fs_join(t->env->cache, "work"), *wdir = NULL, *src = NULL;
	char *stage = NULL, *script = NULL, *pkgdir = NULL, *tmp = NULL;
	char *root = NULL, *prefix = NULL;
	static const struct cache_ids ids = { JAIL_BUILD_IDBASE,
	    JAIL_BUILD_IDCOUNT };
	char *list = NULL, *mpath = NULL, *envp[12], jobs[32];
	const char *mf;
	double took = 0;
	struct sbuf names = { 0 };
	int wfd = -1, pfd = -1, fd = -1, rootfd = -1, status, rc = -1;
	int klk = -1, slk = -1, njobs;
	char *wname = xasprintf("%s-%.16s", tp->workname, tp->key);
	char hex[65];
	struct fleet fl = { .heartbeat = -1 };
	long n;

	/* One build of a key at a time, whichever vjbuild or state asks:
	 * the second waits, then uses what the first packed. */
	if ((klk = task_cache_lock(t, wname, LOCK_EX, err)) == -1)
		goto out;
	if (!t->env->always && cached(tp)) {
		printf("%s %s (key %.16s) is in the cache already, whole "
		    "(built before, by this state or another): using it\n",
		    p->name, p->version, tp->key);
		/* A build of this key killed after it packed left this. */
		if ((wfd = open(work, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) != -1)
			(void)fs_rmtree_at(wfd, wname);
		rc = 0;
		if (!tp->nocache && fleet_offer(t, &fl, err) == -1)
			printf("warning: not shared with the fleet: %s\n",
			    err->msg);
		goto out;
	}
	/* In a fleet: fetched from the store, or claimed to build here. */
	if (!t->env->always && !tp->nocache) {
		int got = fleet_begin(t, &fl, err);
		if (got == -1 || got == FLEET_FETCHED) {
			rc = got == -1 ? -1 : 0;
			goto out;
		}
	}
	/* CACHE/work/NAME-KEY16/{src,stage,root}, made anew (it is this
	 * key's, and the key is locked) and given to the sandbox's ids;
	 * root/usr/local (PREFIX) holds the dependencies. */
	if ((fd = fresh_dir(work, wname, &wfd, err)) == -1)
		goto out;
	close(fd);
	fd = -1;
	wdir = fs_join(work, wname);
	src = fs_join(wdir, "src");
	stage = fs_join(wdir, "stage");
	root = fs_join(wdir, "root");
	prefix = fs_join(root, PREFIX);
	if (mkdir(src, 0755) == -1 || mkdir(stage, 0755) == -1 ||
	    fs_mkdirs(prefix, 0755) == -1 ||
	    (fd = open(src, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1) {
		vj_errno(err, "%s", wdir);
		goto out;
	}
	if ((slk = src_lock(t, LOCK_SH, err)) == -1 ||
	    cache_copy_tree(tp->srcdir, fd, err) == -1)
		goto out;
	close(slk);
	slk = -1;
	close(fd);
	fd = -1;
	/* The sources' owners as the archive gave them, moved into the
	 * sandbox's ids: a root `make install` that copies with their
	 * owners (cp -p) packs what it would have without the sandbox. */
	if (fs_shift_owners_at(wfd, wname, JAIL_BUILD_IDBASE,
	    JAIL_BUILD_IDCOUNT) == -1) {
		vj_errno(err, "%s: giving it to the build's ids", wdir);
		goto out;
	}
	if ((rootfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1) {
		vj_errno(err, "%s", root);
		goto out;
	}
	if (install_deps(t, tp, rootfd, err) == -1)
		goto out;

	script = fs_join(p->dir, "build");
	njobs = task_idle ? 1 : t->env->jobs;
	snprintf(jobs, sizeof(jobs), "JOBS=%d", njobs);
	envp[0] = xasprintf("SRCDIR=%s", src);
	envp[1] = xasprintf("STAGEDIR=%s", stage);
	envp[2] = xstrdup("PREFIX=" PREFIX);
	envp[3] = xstrdup(jobs);
	envp[4] = xstrdup("PATH=" PREFIX "/bin:/usr/bin:/bin:/usr/sbin:/sbin");
	envp[5] = xasprintf("HOME=%s", wdir);
	envp[6] = xasprintf("TMPDIR=%s", wdir);
	envp[7] = xstrdup("LC_ALL=C");
	envp[8] = xasprintf("PORTNAME=%s", p->name);
	envp[9] = xasprintf("PORTVERSION=%s", p->version);
	/* The jobserver (sched/jobserver.c: this build's own pipe, which
	 * vjbuild fills from the run's tokens or a make's above it): make
	 * shares the run's -j; nothing else of a make above (its -n, -k)
	 * reaches a build. Without it, each make gets
	 * -jJOBS of its own, as poudriere's MAKE_JOBS. In the idle slot,
	 * one job and no jobserver (sched/idle.c). */
	mf = task_idle ? NULL : getenv("MAKEFLAGS");
	mf = mf != NULL ? strstr(mf, "--jobserver-auth=") : NULL;
	envp[10] = mf != NULL ? xasprintf("MAKEFLAGS=-j%d %.*s", njobs,
	    (int)strcspn(mf, " "), mf) : xasprintf("MAKEFLAGS=-j%d", njobs);
	envp[11] = NULL;
	{
		char *argv[] = { "/bin/sh", "-e", script, NULL };
		double t0 = vj_now();
		printf("building %s %s (key %.16s) in %s\n", p->name, p->version,
		    tp->key, src);
		fflush(stdout);
		const struct jail_bind binds[] = {
			{ p->dir, NULL, 0 },	/* the build script */
			{ wdir, NULL, 1 },
			{ prefix, PREFIX, 1 },
		};
		const struct jail_sandbox sb = {
		    t->env->conf->val[CONF_BUILD_ROOT], binds,
		    sizeof(binds) / sizeof(binds[0]), JAIL_BUILD_IDBASE,
		    JAIL_BUILD_IDCOUNT };
		rc = jail_sandbox_run(&sb, argv, envp, src, &status, err);
		for (n = 0; envp[n] != NULL; n++)
			free(envp[n]);
		if (rc == -1)
			goto out;
		rc = -1;
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
			vj_errf(err, "%s failed (%s %d)", script,
			    WIFEXITED(status) ? "exit" : "signal",
			    WIFEXITED(status) ? WEXITSTATUS(status) :
			    WTERMSIG(status));
			goto out;
		}
		took = vj_now() - t0;
		printf("built in %.1fs\n", took);
	}

	/* Pack, write the file list, rename the archive into place. */
	pkgdir = fs_dirname(tp->archive);
	if (fs_mkdirs(pkgdir, 0755) == -1 ||
	    (pfd = open(pkgdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1) {
		vj_errno(err, "%s", pkgdir);
		goto out;
	}
	tmp = xasprintf("%s/.tmp.%s", pkgdir, strrchr(tp->archive, '/') + 1);
	if ((n = cache_pack(stage, tmp, &ids, &names, err)) == -1)
		goto out;
	/* The manifest (port_manifest_read), then the archive: a crash between
	 * leaves a manifest whose digest no archive has. */
	{
		char *files = sbuf_take(&names);
		if (sha256_file(tmp, hex, err) == -1) {
			free(files);
			goto out;
		}
		list = xasprintf("%.3f\nsha256 %s\n\n%s", took, hex, files);
		free(files);
	}
	mpath = manifest_path(tp);
	{
		const char *mbase = strrchr(mpath, '/') + 1;
		if (fs_write_beneath(pfd, mbase, list, strlen(list), 0644,
		    err) == -1)
			goto out;
	}
	if (rename(tmp, tp->archive) == -1) {
		vj_errno(err, "%s: rename into place", tp->archive);
		goto out;
	}
	(void)fsync(pfd);
	printf("packed %ld entries into %s\n", n, tp->archive);
	(void)fs_rmtree_at(wfd, wname);
	rc = 0;
	/* The package is this host's now; the fleet's copy is a bonus. */
	if (fleet_publish(t, &fl, took, hex, list, err) == -1)
		printf("warning: not shared with the fleet: %s\n", err->msg);
out:
	fleet_end(t, &fl, rc == -1 ? err->msg : "not shared: see its log");
	if (rc == -1 && tmp != NULL)
		(void)unlink(tmp);
	if (fd != -1)
		close(fd);
	if (wfd != -1)
		close(wfd);
	if (pfd != -1)
		close(pfd);
	if (rootfd != -1)
		close(rootfd);
	if (slk != -1)
		close(slk);
	if (klk != -1)
		close(klk);
	sbuf_free(&names);
	free(wname);
	free(work);
	free(wdir);
	free(src);
	free(stage);
	free(root);
	free(prefix);
	free(script);
	free(pkgdir);
	free(tmp);
	free(list);
	free(mpath);
	return rc;
}

/* In the parent: record the new package; its digest is what installs
 * will check. */
static int
build_finish(const struct task *t, struct vj_err *err)
{
	struct task_port *tp = t->port;
	struct state_package pkg;
	struct stat st;
	char hex[65], *files = NULL, *p;
	int rc = -1;

	memset(&pkg, 0, sizeof(pkg));
	if (port_manifest_read(tp, &pkg.build_seconds, hex, &files, err) == -1)
		return -1;
	memcpy(pkg.key, tp->key, 65);
	pkg.port = (char *)tp->port->name;
	pkg.version = (char *)tp->port->version;
	pkg.path = tp->archive;
	for (p = files; *p; p++)
		pkg.nfiles += *p == '\n';
	if (stat(tp->archive, &st) == -1) {
		vj_errno(err, "%s", tp->archive);
		goto out;
	}
	pkg.size = st.st_size;
	pkg.built = vj_wall();
	if (tp->nocache) {	/* the jail's own copy: not recorded */
		memcpy(tp->sha256, hex, 65);
		rc = 0;
		goto out;
	}
	/*
	 * The build's process hashed the archive (it packed it, or found it
	 * whole, or fetched it) and its manifest says so: the digest is
	 * recorded for the file as it is, not taken again here, in the
	 * loop. Should another process have put another archive there
	 * since, each install's read checks the digest and refuses it.
	 */
	memcpy(pkg.sha256, hex, 65);
	if (state_file_digest_put(t->env->state, tp->archive, pkg.sha256,
	    err) == -1)
		goto out;
	if (state_package_put(t->env->state, &pkg, files, err) == -1)
		goto out;
	memcpy(tp->sha256, pkg.sha256, 65);
	rc = 0;
out:
	free(files);
	return rc;
}

const struct task_ops task_build_ops = {
	.kind = "build",
	.estimate = 30.0,
	.inputs = build_inputs,
	.exists = build_exists,
	.run = build_run,
	.finish = build_finish,
	.foreign_output = 1,
};

/* ---- clean:J, --no-cache only ---- */

static void
clean_inputs(const struct task *t, struct sha256 *c)
{
	(void)t;
	(void)c;
}

static int
clean_exists(const struct task *t)
{
	(void)t;
	return 0;
}

/* Removes CACHE/nocache/J: the jail's own packages are not kept. */
static int
clean_run(const struct task *t, struct vj_err *err)
{
	char *dir = fs_join(t->env->cache, "nocache");
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), rc = 0;

	if (fd != -1) {
		if (fs_rmtree_at(fd, t->host->name) == -1) {
			vj_errno(err, "%s/%s", dir, t->host->name);
			rc = -1;
		}
		close(fd);
	}
	if (rc == 0)
		printf("removed %s/%s\n", dir, t->host->name);
	free(dir);
	return rc;
}

const struct task_ops task_clean_ops = {
	.kind = "clean",
	.estimate = 0.05,
	.inputs = clean_inputs,
	.exists = clean_exists,
	.run = clean_run,
};
