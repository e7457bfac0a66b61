/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * cache gc: what no current recipe makes goes from the package cache:
 * packages (archive, file list and record), unpacked sources, build work
 * directories, unpacked bases (CACHE/base) other than the configured
 * one's, and the unpacked packages of thin jails (CACHE/trees, with what
 * their programs need: TREE.needs) that no current recipe makes; never
 * what another vjbuild holds the lock of (it is building or unpacking it
 * now: tasks/port.c, tasks/extract.c).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "../state/state.h"
#include "../util/util.h"
#include "cache.h"

struct gc {
	const char *cache;
	char *const *keep;
	size_t nkeep;
	struct state *st;
	void (*say)(void *, enum cache_gc_what, const char *, const char *);
	void *arg;
	size_t n;
	int64_t bytes;
};

static int
kept(const struct gc *w, const char *path)
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
gc_one(const struct state_package *p, void *arg)
{
	struct gc *w = arg;
	struct vj_err err;
	char *files, *name;
	int lk;

	if (kept(w, p->path))
		return;
	name = xasprintf("%s-%.16s", p->port, p->key);
	lk = try_cache_lock(w->cache, name);
	free(name);
	if (lk == -1) {
		w->say(w->arg, CACHE_GC_IN_USE, p->path, NULL);
		return;
	}
	files = xasprintf("%s.files", p->path);
	if ((unlink(p->path) == -1 && errno != ENOENT) ||
	    (unlink(files) == -1 && errno != ENOENT))
		w->say(w->arg, CACHE_GC_FAILED, p->path, strerror(errno));
	else if (state_package_delete(w->st, p->key, &err) == -1)
		w->say(w->arg, CACHE_GC_FAILED, p->path, err.msg);
	else {
		char *what = xasprintf("%s %s", p->port, p->version);
		w->say(w->arg, CACHE_GC_REMOVED, p->path, what);
		free(what);
		w->n++;
		w->bytes += p->size;
	}
	free(files);
	close(lk);
}

/* Removes the entries of dir (CACHE/src or CACHE/work) that filter keeps
 * and whose lock (prefix + name) no other vjbuild holds. */
static void
gc_dir(struct gc *w, const char *sub, const char *prefix,
    int (*filter)(struct gc *, const char *, const char *))
{
	char *dir = fs_join(w->cache, sub);
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
			if ((lk = try_cache_lock(w->cache,
			    lname)) == -1)
				w->say(w->arg, CACHE_GC_IN_USE, path, NULL);
			else {
				if (fs_rmtree_at(fd, d) == 0)
					w->say(w->arg, CACHE_GC_REMOVED, path,
					    NULL);
				else
					w->say(w->arg, CACHE_GC_FAILED, path,
					    strerror(errno));
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
gc_src(struct gc *w, const char *name, const char *path)
{
	return (name[0] != '.' || strncmp(name, ".tmp.", 5) == 0) &&
	    !kept(w, path);
}

/* Unpacked bases but the configured one's, unpacked packages no recipe
 * makes, and their leftovers; a kept tree's TREE.needs is kept with it
 * (tasks/install.c). */
static int
gc_base(struct gc *w, const char *name, const char *path)
{
	size_t n = strlen(path);
	char *tree;
	int keep;

	if (kept(w, path))
		return 0;
	if (name[0] == '.' || n < 6 || strcmp(path + n - 6, ".needs") != 0)
		return 1;
	tree = xstrndup(path, n - 6);
	keep = kept(w, tree);
	free(tree);
	return !keep;
}

/* Every build's work directory (a finished build removes its own). */
static int
gc_work(struct gc *w, const char *name, const char *path)
{
	(void)w;
	(void)name;
	(void)path;
	return 1;
}

int
cache_gc(const char *cache, struct state *st, char *const *keep,
    size_t nkeep, void (*say)(void *arg, enum cache_gc_what what,
    const char *path, const char *detail), void *arg, size_t *removed,
    int64_t *bytes, struct vj_err *err)
{
	struct gc w = { cache, keep, nkeep, st, say, arg, 0, 0 };

	if (state_packages(st, gc_one, &w, err) == -1)
		return -1;
	gc_dir(&w, "src", "src-", gc_src);
	gc_dir(&w, "work", "", gc_work);
	gc_dir(&w, "base", "base-", gc_base);
	gc_dir(&w, "trees", "tree-", gc_base);
	*removed = w.n;
	*bytes = w.bytes;
	return 0;
}
