/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * vjbuild cache ls | verify | gc.
 */
#include <errno.h>
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include <time.h>

#include "../state/state.h"
#include "../tasks/tasks.h"
#include "../util/json.h"
#include "../util/util.h"
#include "../vjbuild.h"
#include "cli.h"

/* ---- the package cache ---- */

struct cache_walk {
	const struct conf *c;
	int bad;
	size_t n;
	int64_t bytes;
	char **keep;		/* gc: archive paths current recipes make */
	size_t nkeep;
	struct state *st;
	int json;		/* ls --json: into b */
	struct sbuf b;
};

static void
cache_ls_one(const struct state_package *p, void *arg)
{
	struct cache_walk *w = arg;
	char age[32];

	if (w->json) {
		int first = 1;
		sbuf_puts(&w->b, w->n ? ",\n {" : "\n {");
		json_kstr(&w->b, &first, "key", p->key);
		json_kstr(&w->b, &first, "port", p->port);
		json_kstr(&w->b, &first, "version", p->version);
		json_kint(&w->b, &first, "bytes", p->size);
		json_kint(&w->b, &first, "files", p->nfiles);
		json_knum(&w->b, &first, "build_seconds", p->build_seconds);
		json_knum(&w->b, &first, "built", p->built);
		json_kstr(&w->b, &first, "sha256", p->sha256);
		json_kstr(&w->b, &first, "path", p->path);
		sbuf_puts(&w->b, "}");
		w->n++;
		return;
	}
	fmt_time(age, sizeof(age), vj_wall() - p->built);
	printf("%-16.16s %-12s %-8s %10lld %6lld %7.1fs %9s  %s\n", p->key,
	    p->port, p->version, (long long)p->size, (long long)p->nfiles,
	    p->build_seconds, age, p->path);
	w->n++;
	w->bytes += p->size;
}

static void
cache_verify_one(const struct state_package *p, void *arg)
{
	struct cache_walk *w = arg;
	struct vj_err err;
	char hex[65];

	w->n++;
	if (sha256_file(p->path, hex, &err) == -1) {
		printf("MISSING  %s %s: %s\n", p->port, p->version, err.msg);
		w->bad++;
	} else if (strcmp(hex, p->sha256) != 0) {
		printf("CORRUPT  %s %s: %s has sha256 %s, recorded %s\n",
		    p->port, p->version, p->path, hex, p->sha256);
		w->bad++;
	} else
		printf("ok       %s %s %s\n", p->port, p->version, p->path);
}

static int
kept(const struct cache_walk *w, const char *path)
{
	size_t i;

	for (i = 0; i < w->nkeep; i++)
		if (strcmp(w->keep[i], path) == 0)
			return 1;
	return 0;
}

/*
 * CACHE/locks/NAME, taken without waiting: what another vjbuild is
 * building or unpacking now (tasks/port.c) is not removed under it. The
 * fd, or -1 when it is held.
 */
static int
try_cache_lock(const char *cache, const char *name)
{
	char *dir = fs_join(cache, "locks"), *path = fs_join(dir, name);
	int fd = -1;

	if (fs_mkdirs(dir, 0755) == 0 && (fd = open(path, O_RDWR | O_CREAT |
	    O_CLOEXEC | O_NOFOLLOW, 0644)) != -1 &&
	    flock(fd, LOCK_EX | LOCK_NB) == -1) {
		close(fd);
		fd = -1;
	}
	free(dir);
	free(path);
	return fd;
}

static void
cache_gc_one(const struct state_package *p, void *arg)
{
	struct cache_walk *w = arg;
	struct vj_err err;
	char *files, *name;
	int lk;

	if (kept(w, p->path))
		return;
	name = xasprintf("%s-%.16s", p->port, p->key);
	lk = try_cache_lock(w->c->val[CONF_CACHE], name);
	free(name);
	if (lk == -1) {
		printf("in use by another vjbuild, kept: %s\n", p->path);
		return;
	}
	files = xasprintf("%s.files", p->path);
	if ((unlink(p->path) == -1 && errno != ENOENT) ||
	    (unlink(files) == -1 && errno != ENOENT))
		printf("cannot remove %s: %s\n", p->path, strerror(errno));
	else if (state_package_delete(w->st, p->key, &err) == -1)
		printf("%s\n", err.msg);
	else {
		printf("removed  %s %s %s\n", p->port, p->version, p->path);
		w->n++;
		w->bytes += p->size;
	}
	free(files);
	close(lk);
}

/* Removes the entries of dir (CACHE/src or CACHE/work) that filter keeps
 * and whose lock (prefix + name) no other vjbuild holds. */
static void
gc_dir(struct cache_walk *w, const char *sub, const char *prefix,
    int (*filter)(struct cache_walk *, const char *, const char *))
{
	char *dir = fs_join(w->c->val[CONF_CACHE], sub);
	struct dirent **ents = NULL;
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), m, k, lk;

	m = fd == -1 ? -1 : scandir(dir, &ents, NULL, alphasort);
	for (k = 0; k < m; k++) {
		const char *d = ents[k]->d_name;
		/* A fetch's temporary is locked under its output's name. */
		const char *base = strncmp(d, ".tmp.", 5) == 0 ? d + 5 : d;
		char *path = fs_join(dir, d), *lname;
		if (strcmp(d, ".") != 0 && strcmp(d, "..") != 0 &&
		    filter(w, d, path)) {
			lname = xasprintf("%s%s", prefix, base);
			if ((lk = try_cache_lock(w->c->val[CONF_CACHE],
			    lname)) == -1)
				printf("in use by another vjbuild, kept: %s\n",
				    path);
			else {
				if (fs_rmtree_at(fd, d) == 0)
					printf("removed  %s\n", path);
				close(lk);
			}
			free(lname);
		}
		free(path);
		free(ents[k]);
	}
	free(ents);
	if (fd != -1)
		close(fd);
	free(dir);
}

/* Unpacked sources no current port uses, and fetches' leftovers. */
static int
gc_src(struct cache_walk *w, const char *name, const char *path)
{
	return (name[0] != '.' || strncmp(name, ".tmp.", 5) == 0) &&
	    !kept(w, path);
}

/* Every build's work directory (a finished build removes its own). */
static int
gc_work(struct cache_walk *w, const char *name, const char *path)
{
	(void)w;
	(void)name;
	(void)path;
	return 1;
}

/* The names of every port in the ports tree (directories with a recipe). */
static char **
all_ports(const char *dir, size_t *n)
{
	struct dirent **ents = NULL;
	char **names = NULL;
	int i, m = dir ? scandir(dir, &ents, NULL, alphasort) : -1;

	*n = 0;
	for (i = 0; i < m; i++) {
		char *recipe = xasprintf("%s/%s/recipe", dir, ents[i]->d_name);
		if (ents[i]->d_name[0] != '.' && access(recipe, F_OK) == 0) {
			names = xreallocarray(names, *n + 1, sizeof(*names));
			names[(*n)++] = xstrdup(ents[i]->d_name);
		}
		free(recipe);
		free(ents[i]);
	}
	free(ents);
	return names;
}

/*
 * gc: what no current recipe produces goes: packages (file and record),
 * unpacked sources, and build work directories.
 */
static int
cache_gc(struct cache_walk *w, struct state *st, struct vj_err *err)
{
	const struct conf *c = w->c;
	struct conf_ports *ports = NULL;
	struct task_env env;
	char **names;
	size_t n, i;
	int rc = -1;

	names = all_ports(c->val[CONF_PORTS], &n);
	memset(&env, 0, sizeof(env));
	env.conf = c;
	env.cache = c->val[CONF_CACHE];
	if (n > 0) {
		ports = conf_ports_read(c->val[CONF_PORTS],
		    c->val[CONF_DISTFILES], names, n, err);
		if (ports == NULL)
			goto out;
		env.ports = ports;
		if (task_port_keys(&env, err) == -1)
			goto out;
		for (i = 0; i < ports->n; i++) {
			w->keep = xreallocarray(w->keep, w->nkeep + 2,
			    sizeof(*w->keep));
			w->keep[w->nkeep++] = env.tports[i].archive;
			w->keep[w->nkeep++] = env.tports[i].srcdir;
		}
	}
	w->st = st;
	if (state_packages(st, cache_gc_one, w, err) == -1)
		goto out;
	gc_dir(w, "src", "src-", gc_src);
	gc_dir(w, "work", "", gc_work);
	rc = 0;
out:
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	free(w->keep);
	task_env_free_ports(&env);
	conf_ports_free(ports);
	return rc;
}

int
cmd_cache(const struct opts *o, const char *action)
{
	struct conf *c = load_conf(o, 0);
	char *db = fs_join(c->val[CONF_STATE], "vjbuild.db");
	int gc = strcmp(action, "gc") == 0, rc = 0;
	struct cache_walk w;
	struct state *st = NULL;
	struct vj_err err;

	memset(&w, 0, sizeof(w));
	w.c = c;
	if (access(db, F_OK) == -1) {
		if (o->json && strcmp(action, "ls") == 0)
			printf("[]\n");
		else
			printf("no state at %s: the cache is empty\n",
			    c->val[CONF_STATE]);
		goto out;
	}
	if (state_open(c->val[CONF_STATE], NULL, !gc, &st, &err) == -1) {
		fprintf(stderr, "%s: %s\n", progname, err.msg);
		rc = EXIT_STATE;
		goto out;
	}
	if (strcmp(action, "ls") == 0 && o->json) {
		w.json = 1;
		rc = state_packages(st, cache_ls_one, &w, &err);
		if (rc == 0)
			printf("[%s%s]\n", w.b.s ? w.b.s : "", w.n ? "\n" : "");
		sbuf_free(&w.b);
	} else if (strcmp(action, "ls") == 0) {
		printf("%-16s %-12s %-8s %10s %6s %8s %9s  %s\n", "KEY", "PORT",
		    "VERSION", "BYTES", "FILES", "BUILD", "AGE", "PATH");
		rc = state_packages(st, cache_ls_one, &w, &err);
		if (rc == 0)
			printf("%zu packages, %lld bytes\n", w.n,
			    (long long)w.bytes);
	} else if (strcmp(action, "verify") == 0) {
		rc = state_packages(st, cache_verify_one, &w, &err);
		if (rc == 0)
			printf("%zu packages, %d corrupt or missing\n", w.n,
			    w.bad);
		if (rc == 0 && w.bad > 0)
			rc = EXIT_TASKS;
	} else {
		rc = cache_gc(&w, st, &err);
		if (rc == 0)
			printf("removed %zu packages, %lld bytes\n", w.n,
			    (long long)w.bytes);
	}
	if (rc == -1) {
		fprintf(stderr, "%s: %s\n", progname, err.msg);
		rc = EXIT_STATE;
	}
out:
	state_close(st);
	free(db);
	conf_free(c);
	return rc;
}
