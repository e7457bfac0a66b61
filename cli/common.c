/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * What the commands share: the config, hosts and ports loaded with their
 * messages, the state opened, the digests that fingerprints hash.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "../state/registry.h"
#include "../state/state.h"
#include "../tasks/tasks.h"
#include "../cache/cache.h"
#include "../util/util.h"
#include "../vjbuild.h"
#include "cli.h"

void
die_input(const struct vj_err *err)
{
	fprintf(stderr, "%s: %s\n", progname, err->msg);
	exit(EXIT_INPUT);
}

void
fmt_time(char *buf, size_t n, double s)
{
	if (s < 60)
		snprintf(buf, n, "%.1fs", s);
	else if (s < 3600)
		snprintf(buf, n, "%dm%02ds", (int)s / 60, (int)s % 60);
	else
		snprintf(buf, n, "%dh%02dm", (int)s / 3600, (int)s / 60 % 60);
}

/* Reads the config and applies the flags; exits on bad input. */
struct conf *
load_conf(const struct opts *o, int need_base)
{
	static const char *const flagname[CONF_NKEYS] = {
		[CONF_BASE] = "--base", [CONF_JAILS] = "--jails",
		[CONF_STATE] = "--state", [CONF_REGISTRY] = "--registry",
	};
	const char *path = o->config;
	struct vj_err err;
	struct conf *c;
	char *dir;
	int k;

	if (path == NULL && access("vjbuild.conf", F_OK) == 0)
		path = "vjbuild.conf";
	if ((c = conf_read(path, &err)) == NULL)
		die_input(&err);
	for (k = 0; k < CONF_NKEYS; k++)
		if (o->flag[k] != NULL)
			conf_set(c, (enum conf_key)k, o->flag[k], flagname[k]);
	dir = path ? fs_dirname(path) : xstrdup(".");
	if (conf_finish(c, dir, need_base, &err) == -1)
		die_input(&err);
	free(dir);
	cache_set_unpack_limit(c->unpack_limit);
	registry_set_timeout(c->registry_timeout);
	return c;
}

/* Every template of ports, one after another (NUL-free text). */
static char *
all_templates(const struct conf_ports *ports)
{
	struct sbuf b = { 0 };
	size_t i, f;

	sbuf_puts(&b, "");
	for (i = 0; ports != NULL && i < ports->n; i++) {
		const struct conf_port *p = &ports->v[i];
		for (f = 0; f < p->nfiles; f++) {
			size_t len = strlen(p->files[f]);
			char *path, *text;
			if (len < 3 || strcmp(p->files[f] + len - 3, ".in") != 0)
				continue;
			path = xasprintf("%s/files/%s", p->dir, p->files[f]);
			if ((text = fs_read(path, 16u << 20, NULL)) != NULL)
				sbuf_puts(&b, text);
			free(text);
			free(path);
		}
	}
	return sbuf_take(&b);
}

static int
var_used(const char *all, const char *key)
{
	char *want = xasprintf("%%%%var.%s%%%%", key);
	int used = strstr(all, want) != NULL;

	free(want);
	return used;
}

/* A var. that no template of the ports in use names is most likely a
 * misspelling (var.http_prot): said, not an error. */
static void
warn_unused_vars(const struct conf *c, const struct conf_hosts *h,
    const struct conf_ports *ports)
{
	char *all = all_templates(ports);
	size_t i, k;

	for (k = 0; k < c->nvars; k++)
		if (!var_used(all, c->vars[k].key))
			fprintf(stderr, "%s: warning: %s: var.%s is used by no "
			    "template of the ports in use (no %%%%var.%s%%%% in "
			    "their files/*.in)\n", progname, c->path ? c->path :
			    "the configuration", c->vars[k].key,
			    c->vars[k].key);
	for (i = 0; i < h->n; i++)
		for (k = 0; k < h->v[i].nvars; k++)
			if (!var_used(all, h->v[i].vars[k].key))
				fprintf(stderr, "%s: warning: %s:%d: var.%s is "
				    "used by no template of the ports in use (no "
				    "%%%%var.%s%%%% in their files/*.in)\n",
				    progname, h->path, h->v[i].line,
				    h->v[i].vars[k].key, h->v[i].vars[k].key);
	free(all);
}

/* Checks that every package a host or the config names has a port. */
static void
check_packages(const struct conf *c, const struct conf_hosts *h)
{
	const char *ports = c->val[CONF_PORTS];
	size_t i, k;

	for (i = 0; i < h->n; i++)
		for (k = 0; k < h->v[i].npackages; k++) {
			const char *name = h->v[i].packages[k];
			char *recipe;
			if (ports == NULL) {
				fprintf(stderr, "%s: %s:%d: package '%s', but the "
				    "config names no 'ports' directory\n",
				    progname, h->path, h->v[i].line, name);
				exit(EXIT_INPUT);
			}
			recipe = xasprintf("%s/%s/recipe", ports, name);
			if (access(recipe, F_OK) == -1) {
				fprintf(stderr, "%s: %s:%d: unknown package '%s' "
				    "(no %s)\n", progname, h->path,
				    h->v[i].line, name, recipe);
				exit(EXIT_INPUT);
			}
			free(recipe);
		}
	if (c->npackages > 0 && ports == NULL) {
		fprintf(stderr, "%s: %s: packages, but no 'ports' directory\n",
		    progname, c->where[CONF_PACKAGES]);
		exit(EXIT_INPUT);
	}
}

/* conf_digest_fn over a state's recorded digests. A record that cannot
 * be read is no record: the file is hashed. */
int
recorded_digest(void *st, const char *path, char hex[65],
    struct vj_err *err)
{
	return state_file_digest_recorded(st, path, hex, err) == 1;
}

/* What conf_ports_read hashed, recorded in st for the next run (the
 * recipe's digest: it matched). */
void
record_source_digests(struct state *st, const struct conf_ports *ports)
{
	struct vj_err err;
	size_t i;

	for (i = 0; st != NULL && ports != NULL && i < ports->n; i++)
		if (ports->v[i].source_hashed &&
		    state_file_digest_put(st, ports->v[i].source,
		    ports->v[i].sha256, &err) == -1)
			fprintf(stderr, "%s: note: %s\n", progname, err.msg);
}

/*
 * Reads every port the hosts want and checks every template for every
 * host that gets it, so that a bad recipe or an unknown %%X%% stops the run
 * before anything is touched. NULL when there are no ports.
 */
struct conf_ports *
load_ports(const struct conf *c, const struct conf_hosts *h)
{
	struct conf_ports *ports;
	struct task_env env;
	struct state *st = NULL;
	struct vj_err err;
	char **want = NULL, *db;
	size_t nwant = 0, i, k, n;
	int *mine;

	check_packages(c, h);
	for (i = 0; i <= h->n; i++) {
		char *const *v = i < h->n ? h->v[i].packages : c->packages;
		for (; v != NULL && *v != NULL; v++) {
			want = xreallocarray(want, nwant + 1, sizeof(*want));
			want[nwant++] = *v;
		}
	}
	if (nwant == 0) {
		warn_unused_vars(c, h, NULL);
		return NULL;
	}
	/* The distfiles' digests as the state recorded them (read-only, no
	 * lock: a state held by a run still answers); none, or one made
	 * for other jails: each distfile is hashed. */
	db = fs_join(c->val[CONF_STATE], "vjbuild.db");
	if (access(db, F_OK) == 0 && state_open(c->val[CONF_STATE],
	    c->val[CONF_JAILS], 1, &st, &err) == -1)
		st = NULL;
	free(db);
	ports = conf_ports_read(c->val[CONF_PORTS], c->val[CONF_DISTFILES],
	    want, nwant, st != NULL ? recorded_digest : NULL, st, &err);
	if (st != NULL)
		state_close(st);
	free(want);
	if (ports == NULL)
		die_input(&err);
	memset(&env, 0, sizeof(env));
	env.conf = c;
	env.ports = ports;
	for (i = 0; i < h->n; i++) {
		n = task_jail_ports(&env, &h->v[i], &mine);
		for (k = 0; k < n; k++) {
			const struct conf_port *p = &ports->v[mine[k]];
			size_t f;
			for (f = 0; f < p->nfiles; f++) {
				size_t len = strlen(p->files[f]);
				char *path, *text, *out;
				if (len < 3 || strcmp(p->files[f] + len - 3,
				    ".in") != 0)
					continue;
				path = xasprintf("%s/files/%s", p->dir,
				    p->files[f]);
				text = fs_read(path,
				    16u << 20, NULL);
				if (text == NULL) {
					vj_errno(&err, "%s", path);
					die_input(&err);
				}
				out = conf_render(text, path, c, &h->v[i], &err);
				if (out == NULL)
					die_input(&err);
				free(out);
				free(text);
				free(path);
			}
		}
		free(mine);
	}
	warn_unused_vars(c, h, ports);
	return ports;
}

/* Fills env: the digests that fingerprints hash. */
void
make_env(struct task_env *env, const struct conf *c,
    const struct conf_hosts *h, const struct conf_ports *ports,
    struct state *st, const struct opts *o)
{
	struct vj_err err;
	const char *dist = c->val[CONF_DISTRIBUTION];
	struct stat sb;
	int rc;

	memset(env, 0, sizeof(*env));
	env->conf = c;
	env->hosts = h;
	env->jails = c->val[CONF_JAILS];
	env->state_dir = c->val[CONF_STATE];
	env->uuid = st ? state_uuid(st) : NULL;
	env->recreate = o ? o->recreate : NULL;
	env->always = o ? o->always : 0;
	env->ports = ports;
	env->jobs = o ? o->jobs : 1;
	env->nocache = o ? o->nocache : 0;
	env->packages_only = o ? o->packages_only : 0;
	env->cache = c->val[CONF_CACHE];
	env->state = st;
	record_source_digests(st, ports);
	if (env->uuid == NULL)
		env->uuid = "";
	if (c->val[CONF_BASE] == NULL && env->packages_only)
		memset(env->base_digest, '0', 64);	/* no jail to extract */
	else {
		rc = st ? state_file_digest(st, c->val[CONF_BASE],
		    env->base_digest, &err) : sha256_file(c->val[CONF_BASE],
		    env->base_digest, &err);
		if (rc == -1)
			die_input(&err);
	}
	memset(env->dist_digest, '0', 64);
	if (dist != NULL) {
		if (stat(dist, &sb) == 0 && S_ISDIR(sb.st_mode))
			rc = cache_tree_digest(dist, env->dist_digest, &err);
		else
			rc = st ? state_file_digest(st, dist, env->dist_digest,
			    &err) : sha256_file(dist, env->dist_digest, &err);
		if (rc == -1)
			die_input(&err);
	}
}


/*
 * The state at dir, read-only (no lock: a run may hold it), refused when
 * made for another jails directory (jails NULL: any). When there is
 * none yet: NULL, or with need, a message and exit 2; when it cannot be
 * read: a message and exit 2. The one way commands open a state they
 * only read.
 */
struct state *
open_state_ro(const char *dir, const char *jails, int need)
{
	char *db = fs_join(dir, "vjbuild.db");
	struct state *st = NULL;
	struct vj_err err;
	int missing = access(db, F_OK) == -1 && errno == ENOENT;

	free(db);
	if (missing && !need)
		return NULL;
	if (missing) {
		fprintf(stderr, "%s: no state at %s: nothing was provisioned "
		    "there yet\n", progname, dir);
		exit(EXIT_STATE);
	}
	if (state_open(dir, jails, 1, &st, &err) == -1) {
		fprintf(stderr, "%s: %s\n", progname, err.msg);
		exit(EXIT_STATE);
	}
	return st;
}

/* --rusage: what vjbuild itself used (its children not counted). */
void
print_usage(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru) == -1)
		return;
	fprintf(stderr, "%s: own cpu %.3fs user %.3fs system, peak rss %ld "
	    "KiB\n", progname, (double)ru.ru_utime.tv_sec +
	    ru.ru_utime.tv_usec / 1e6, (double)ru.ru_stime.tv_sec +
	    ru.ru_stime.tv_usec / 1e6, ru.ru_maxrss);
}

/* Dies of sig (when not 0), so the exit status tells the truth. */
void
reraise(int sig)
{
	if (sig != 0) {
		signal(sig, SIG_DFL);
		raise(sig);
	}
}
