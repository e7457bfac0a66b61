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

#include "../cache/cache.h"
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

static void
gc_said(void *arg, enum cache_gc_what what, const char *path,
    const char *detail)
{
	(void)arg;
	if (what == CACHE_GC_REMOVED)
		printf("removed  %s%s%s\n", detail ? detail : "", detail ? " " :
		    "", path);
	else if (what == CACHE_GC_IN_USE)
		printf("in use by another vjbuild, kept: %s\n", path);
	else
		printf("cannot remove %s: %s\n", path, detail);
}

/* Every layer a thin jail of jails has (its record, tasks/thin.c), added
 * to keep: gc never takes a layer from under a jail. Returns the texts,
 * which keep points into, for the caller to free. */
static char **
thin_layers_in_use(const char *jails, char ***keep, size_t *nkeep,
    size_t *ntexts)
{
	struct dirent **ents = NULL;
	char **texts = NULL, *p, *rec;
	int m, k;

	*ntexts = 0;
	m = jails ? scandir(jails, &ents, NULL, alphasort) : -1;
	for (k = 0; k < m; k++) {
		if (strncmp(ents[k]->d_name, ".vjbuild-thin.", 14) == 0) {
			rec = xasprintf("%s/%s/layers", jails, ents[k]->d_name);
			if ((p = fs_read(rec, 1 << 16, NULL)) != NULL) {
				texts = xreallocarray(texts, *ntexts + 1,
				    sizeof(*texts));
				texts[(*ntexts)++] = p;
				p[strcspn(p, "\n")] = '\0';
				for (p = strtok(p, ":"); p != NULL;
				    p = strtok(NULL, ":")) {
					*keep = xreallocarray(*keep, *nkeep + 1,
					    sizeof(**keep));
					(*keep)[(*nkeep)++] = p;
				}
			}
			free(rec);
		}
		free(ents[k]);
	}
	free(ents);
	return texts;
}

/* gc: the archives and sources the current recipes make are kept, and
 * whatever a thin jail has as a layer. */
static int
run_gc(struct cache_walk *w, struct state *st, struct vj_err *err)
{
	const struct conf *c = w->c;
	struct conf_ports *ports = NULL;
	struct task_env env;
	char **names, **keep = NULL, hex[65], *base = NULL, **trees = NULL;
	char **texts;
	size_t n, i, nkeep = 0, ntexts;
	int rc = -1;

	names = all_ports(c->val[CONF_PORTS], &n);
	memset(&env, 0, sizeof(env));
	env.conf = c;
	env.cache = c->val[CONF_CACHE];
	if (n > 0) {
		ports = conf_ports_read(c->val[CONF_PORTS],
		    c->val[CONF_DISTFILES], names, n, recorded_digest, st, err);
		if (ports == NULL)
			goto out;
		record_source_digests(st, ports);
		env.ports = ports;
		if (task_port_keys(&env, err) == -1)
			goto out;
		trees = xcalloc(ports->n, sizeof(*trees));
		for (i = 0; i < ports->n; i++) {
			char *name = thin_tree_name(env.tports[i].archive);
			keep = xreallocarray(keep, nkeep + 3, sizeof(*keep));
			keep[nkeep++] = env.tports[i].archive;
			keep[nkeep++] = env.tports[i].srcdir;
			/* Its unpacked tree, for thin jails (tasks/thin.c). */
			trees[i] = xasprintf("%s/trees/%s", c->val[CONF_CACHE],
			    name);
			free(name);
			keep[nkeep++] = trees[i];
		}
	}
	/* The configured base's unpacked tree (tasks/extract.c). */
	if (c->val[CONF_BASE] != NULL && access(c->val[CONF_BASE], F_OK) == 0) {
		if (state_file_digest(st, c->val[CONF_BASE], hex, err) == -1)
			goto out;
		base = xasprintf("%s/base/%s", c->val[CONF_CACHE], hex);
		keep = xreallocarray(keep, nkeep + 1, sizeof(*keep));
		keep[nkeep++] = base;
	}
	texts = thin_layers_in_use(c->val[CONF_JAILS], &keep, &nkeep,
	    &ntexts);
	rc = cache_gc(c->val[CONF_CACHE], st, keep, nkeep, gc_said, NULL,
	    &w->n, &w->bytes, err);
	for (i = 0; i < ntexts; i++)
		free(texts[i]);
	free(texts);
out:
	free(base);
	for (i = 0; trees != NULL && i < ports->n; i++)
		free(trees[i]);
	free(trees);
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	free(keep);
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
		rc = run_gc(&w, st, &err);
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
