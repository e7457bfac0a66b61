/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The plan: jails x task kinds -> a graph of tasks with fingerprints.
 *
 * When an edge exists:
 *  1. distribution:J after extract:J (it writes into the extracted root);
 *  2. devfs:J after distribution:J, or after extract:J when there is no
 *     distribution (a distribution may carry a dev/ of its own);
 *  3. hostconf:J after devfs:J (it writes /etc, which distribution lays);
 *  4. jailconf has no edge: it reads only hosts.txt;
 *  5. build:P after fetch:P and after build:D for each dependency D (its
 *     build root holds their packages);
 *  6. install:P@J after build:P, after devfs:J (the root is complete, and a
 *     distribution cannot overwrite the package), and after install:D@J
 *     in a thick jail (a thin jail's packages are all there since
 *     extract:J, rule 8: its installs check and record, in any order);
 *  7. configure:P@J after install:P@J (its files win over the package's);
 *  8. a thin jail's extract:J after build:P for each P it has: its
 *     packages are layers of its root (tasks/thin.c).
 *
 * A port's cache key is sha256("vjbuild-pkg-1", name, version, the recipe
 * and build script as bytes, the source digest, the keys of its
 * dependencies, and the build environment: the system and machine, and the
 * identity of the host's cc). The key names the package; fingerprints of
 * build and install tasks are made from it.
 *
 * A fingerprint is sha256("vjbuild-task-1", kind, name, the kind's own
 * inputs, then the fingerprints of the dependencies in the order the edges
 * were made), computed in topological order.
 */
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>

#include "../cache/cache.h"
#include "../conf/conf.h"
#include "../graph/graph.h"
#include "../state/state.h"
#include "../util/util.h"
#include "tasks.h"

struct plan {
	struct graph *g;
	struct task *v;
	size_t n, cap;
	int *order;
	struct task_port **own;	/* --no-cache: each jail's ports */
	size_t nown, nports;
};

/* A zeroed task at the end of p (not yet counted in p->n). */
static struct task *
new_task(struct plan *p, const struct task_ops *ops,
    const struct task_env *env)
{
	struct task *t;

	if (p->n == p->cap) {
		p->cap = p->cap ? p->cap * 2 : 64;
		p->v = xreallocarray(p->v, p->cap, sizeof(*p->v));
	}
	t = &p->v[p->n];
	memset(t, 0, sizeof(*t));
	t->ops = ops;
	t->env = env;
	return t;
}

static int
add(struct plan *p, const struct task_ops *ops, const struct task_env *env,
    const struct conf_host *h, struct task_port *tp)
{
	struct task *t = new_task(p, ops, env);
	int id;

	t->host = h;
	t->port = tp;
	if (tp != NULL && h != NULL)
		t->name = xasprintf("%s:%s@%s", ops->kind, tp->port->name,
		    h->name);
	else if (tp != NULL)
		t->name = xasprintf("%s:%s", ops->kind, tp->port->name);
	else if (h != NULL)
		t->name = xasprintf("%s:%s", ops->kind, h->name);
	else
		t->name = xstrdup(ops->kind);
	t->root = h ? fs_join(env->jails, h->name) : NULL;
	id = graph_add(p->g, t->name);
	/* Names are unique: host names are, and kinds hold no ':'. */
	if (id != (int)p->n)
		abort();
	p->n++;
	return id;
}

static void
fingerprint(struct plan *p, int id)
{
	struct task *t = &p->v[id];
	struct sha256 c;
	size_t i;

	sha256_init(&c);
	sha256_update(&c, "vjbuild-task-1", 15);
	sha256_update(&c, t->ops->kind, strlen(t->ops->kind) + 1);
	sha256_update(&c, t->name, strlen(t->name) + 1);
	t->ops->inputs(t, &c);
	for (i = 0; i < graph_ndeps(p->g, id); i++)
		sha256_update(&c, p->v[graph_dep(p->g, id, i)].fingerprint, 64);
	sha256_hex(&c, t->fingerprint);
}

/* What a build depends on besides its inputs: the system, the machine and
 * the compiler the build scripts will find. */
static void
build_env(struct sha256 *c)
{
	struct utsname u;
	struct stat st;
	char cc[PATH_MAX], *buf;

	if (uname(&u) == 0) {
		sha256_update(c, u.sysname, strlen(u.sysname) + 1);
		sha256_update(c, u.machine, strlen(u.machine) + 1);
	}
	if (realpath("/usr/bin/cc", cc) != NULL && stat(cc, &st) == 0) {
		buf = xasprintf("%s %lld %lld", cc, (long long)st.st_size,
		    (long long)st.st_mtime);
		sha256_update(c, buf, strlen(buf) + 1);
		free(buf);
	}
}

/* Fills env->tports: keys, paths and the recorded package digests. */
int
task_port_keys(struct task_env *env, struct vj_err *err)
{
	const struct conf_ports *ports = env->ports;
	struct state_package pkg;
	char dirdigest[65];
	size_t i, k;

	env->tports = xcalloc(ports->n + 1, sizeof(*env->tports));
	for (i = 0; i < ports->n; i++) {
		const struct conf_port *cp = &ports->v[i];
		struct task_port *tp = &env->tports[i];
		struct sha256 c;
		char *path;
		tp->port = cp;
		if (cp->source != NULL)
			memcpy(tp->srcdigest, cp->sha256, 65);
		else {
			path = fs_join(cp->dir, "src");
			k = (size_t)cache_port_digest(path, NULL, tp->srcdigest,
			    err);
			free(path);
			if ((int)k == -1)
				return -1;
		}
		/* Every file of the port's directory (recipe, build, a
		 * helper beside them, files/), src/ as srcdigest. */
		if (cache_port_digest(cp->dir, "src", dirdigest, err) == -1)
			return -1;
		sha256_init(&c);
		sha256_update(&c, "vjbuild-pkg-2", 14);
		sha256_update(&c, cp->name, strlen(cp->name) + 1);
		sha256_update(&c, cp->version, strlen(cp->version) + 1);
		sha256_update(&c, dirdigest, 64);
		sha256_update(&c, tp->srcdigest, 64);
		for (k = 0; k < cp->ndepends; k++)
			sha256_update(&c, env->tports[cp->dep[k]].key, 64);
		build_env(&c);
		/* The toolchain's root: the host's, or build_root. */
		if (env->conf->val[CONF_BUILD_ROOT] != NULL)
			sha256_update(&c, env->conf->val[CONF_BUILD_ROOT],
			    strlen(env->conf->val[CONF_BUILD_ROOT]) + 1);
		sha256_hex(&c, tp->key);
		tp->srcdir = xasprintf("%s/src/%s-%.16s", env->cache, cp->name,
		    tp->srcdigest);
		tp->archive = xasprintf("%s/packages/%s-%s-%.16s.tar.gz",
		    env->cache, cp->name, cp->version, tp->key);
		tp->workname = xstrdup(cp->name);
		tp->dep = xcalloc(cp->ndepends + 1, sizeof(*tp->dep));
		for (k = 0; k < cp->ndepends; k++)
			tp->dep[k] = &env->tports[cp->dep[k]];
		if (env->state == NULL)
			continue;
		switch (state_package_get(env->state, tp->key, &pkg, err)) {
		case -1:
			return -1;
		case 1:
			if (strcmp(pkg.path, tp->archive) == 0)
				memcpy(tp->sha256, pkg.sha256, 65);
			state_package_clear(&pkg);
		}
	}
	return 0;
}

void
task_env_free_ports(struct task_env *env)
{
	size_t i;

	if (env->tports == NULL)
		return;
	for (i = 0; env->ports != NULL && i < env->ports->n; i++) {
		free(env->tports[i].srcdir);
		free(env->tports[i].archive);
		free(env->tports[i].workname);
		free(env->tports[i].dep);
	}
	free(env->tports);
	env->tports = NULL;
}

size_t
task_jail_ports(const struct task_env *env, const struct conf_host *h,
    int **out)
{
	const struct conf_ports *ports = env->ports;
	char *const *names = h->packages ? h->packages : env->conf->packages;
	char *want;
	size_t i, n = 0;
	int idx;

	*out = NULL;
	if (ports == NULL || ports->n == 0 || names == NULL)
		return 0;
	want = xcalloc(ports->n, 1);
	for (; *names != NULL; names++)
		if ((idx = conf_ports_find(ports, *names)) != -1)
			conf_ports_closure(ports, idx, want);
	*out = xcalloc(ports->n, sizeof(**out));
	for (i = 0; i < ports->n; i++)
		if (want[i])
			(*out)[n++] = (int)i;
	free(want);
	return n;
}

/* fetch:P for every port, and build:P unless each jail builds its own. */
static void
add_ports(struct plan *p, const struct task_env *env, int *fetch_id,
    int *build_id)
{
	size_t i, k;
	int id;

	for (i = 0; env->ports != NULL && i < env->ports->n; i++) {
		struct task_port *tp = &env->tports[i];
		fetch_id[i] = add(p, &task_fetch_ops, env, NULL, tp);
		if (env->nocache)
			continue;
		id = build_id[i] = add(p, &task_build_ops, env, NULL, tp);
		graph_depend(p->g, id, fetch_id[i]);
		for (k = 0; k < tp->port->ndepends; k++)
			graph_depend(p->g, id, build_id[tp->port->dep[k]]);
	}
}

/* --no-cache: the jail's own copy of every port, built under its name. */
static struct task_port *
own_ports(struct plan *p, const struct task_env *env,
    const struct conf_host *h)
{
	size_t n = env->ports->n, i, k;
	struct task_port *own = xcalloc(n, sizeof(*own));

	for (i = 0; i < n; i++) {
		const struct task_port *shared = &env->tports[i];
		own[i] = *shared;
		own[i].sha256[0] = '\0';
		own[i].nocache = 1;
		own[i].archive = xasprintf("%s/nocache/%s/%s.tar.gz",
		    env->cache, h->name, shared->port->name);
		own[i].workname = xasprintf("%s@%s", shared->port->name,
		    h->name);
		own[i].srcdir = xstrdup(shared->srcdir);
		own[i].dep = xcalloc(shared->port->ndepends + 1,
		    sizeof(*own[i].dep));
		for (k = 0; k < shared->port->ndepends; k++)
			own[i].dep[k] = &own[shared->port->dep[k]];
	}
	p->nports = n;
	p->own = xreallocarray(p->own, p->nown + 1, sizeof(*p->own));
	p->own[p->nown++] = own;
	return own;
}

static int wants_services(const struct conf_port *p) { return p->nservices > 0; }
static int wants_tls(const struct conf_port *p) { return p->tls; }

/* 1 when some port of jail h is one that wants. */
static int
jail_ports_any(const struct task_env *env, const struct conf_host *h,
    int (*wants)(const struct conf_port *))
{
	int *mine;
	size_t n, i;
	int any = 0;

	if (env->ports == NULL)
		return 0;
	n = task_jail_ports(env, h, &mine);
	for (i = 0; i < n && !any; i++)
		any = wants(&env->ports->v[mine[i]]);
	free(mine);
	return any;
}

/* setup:P@J for port x of jail h, after what it needs (last: install:P@J or
 * configure:P@J; users and hostconf of the jail, -1 for none) and the
 * setups of the ports x depends on (setup[k], -1 for none). */
static int
add_setup(struct plan *p, const struct task_env *env,
    const struct conf_host *h, struct task_port *tp, int x, int last,
    int users, int hostconf, int cert, const int *setup)
{
	size_t np = env->ports->n, k;
	char *want = xcalloc(np, 1);
	int id = add(p, &task_setup_ops, env, h, tp);

	graph_depend(p->g, id, last);
	if (users != -1)
		graph_depend(p->g, id, users);
	graph_depend(p->g, id, hostconf);
	if (cert != -1)
		graph_depend(p->g, id, cert);
	conf_ports_closure(env->ports, x, want);
	for (k = 0; k < np; k++)
		if (want[k] && (int)k != x && setup[k] != -1)
			graph_depend(p->g, id, setup[k]);
	free(want);
	return id;
}

static void
add_packages(struct plan *p, const struct task_env *env,
    const struct conf_host *h, int devfs, const int *fetch_id,
    const int *build_id, int users, int hostconf, int cert)
{
	size_t np = env->ports ? env->ports->n + 1 : 1;
	int *mine, *inst = xcalloc(np, sizeof(int)), *bld = xcalloc(np,
	    sizeof(int)), clean = -1, *setup = xcalloc(np, sizeof(int));
	size_t n = task_jail_ports(env, h, &mine), i, k;
	struct task_port *own = n > 0 && env->nocache ? own_ports(p, env, h) :
	    NULL;
	int thin = own == NULL && thin_wanted(env->conf, h);

	if (own != NULL)
		clean = add(p, &task_clean_ops, env, h, NULL);
	for (i = 0; i < np; i++)
		setup[i] = -1;
	for (i = 0; i < n; i++) {
		int x = mine[i], id, last;
		struct task_port *tp = own ? &own[x] : &env->tports[x];
		if (own != NULL) {
			id = bld[x] = add(p, &task_build_ops, env, h, tp);
			graph_depend(p->g, id, fetch_id[x]);
			for (k = 0; k < tp->port->ndepends; k++)
				graph_depend(p->g, id, bld[tp->port->dep[k]]);
			graph_depend(p->g, clean, id);
		}
		id = inst[x] = add(p, &task_install_ops, env, h, tp);
		graph_depend(p->g, id, own ? bld[x] : build_id[x]);
		graph_depend(p->g, id, devfs);
		for (k = 0; k < tp->port->ndepends && !thin; k++)
			graph_depend(p->g, id, inst[tp->port->dep[k]]);
		if (own != NULL)
			graph_depend(p->g, clean, id);
		last = id;
		if (tp->port->nfiles > 0) {
			last = add(p, &task_configure_ops, env, h, tp);
			graph_depend(p->g, last, id);
		}
		/* Ports come in dependency order: a dependency's setup is
		 * in setup[] before its dependents'. */
		if (tp->port->setup != NULL)
			setup[x] = add_setup(p, env, h, tp, x, last, users,
			    hostconf, cert, setup);
	}
	free(mine);
	free(inst);
	free(bld);
	free(setup);
}

struct plan *
plan_empty(void)
{
	struct plan *p = xcalloc(1, sizeof(*p));

	p->g = graph_new();
	return p;
}

int
plan_add_command(struct plan *p, const struct task_ops *ops,
    const struct task_env *env, const char *name, const char *cmd,
    char **argv)
{
	struct task *t = new_task(p, ops, env);
	int id;

	t->name = xstrdup(name);
	t->cmd = xstrdup(cmd);
	t->argv = argv;
	if ((id = graph_add(p->g, t->name)) != (int)p->n)
		abort();	/* the caller checks names */
	p->n++;
	return id;
}

/* The order and the fingerprints, once every edge is in. */
int
plan_seal(struct plan *p, struct vj_err *err)
{
	char *cycle = NULL;
	size_t i;

	/* The plan is complete: no room for more (memory is per task). */
	if (p->n > 0 && p->n < p->cap)
		p->v = xreallocarray(p->v, p->cap = p->n, sizeof(*p->v));
	p->order = xcalloc(p->n ? p->n : 1, sizeof(*p->order));
	if (graph_topo(p->g, p->order, &cycle) == -1) {
		vj_errf(err, "dependency cycle: %s", cycle);
		free(cycle);
		return -1;
	}
	for (i = 0; i < p->n; i++)
		fingerprint(p, p->order[i]);
	return 0;
}

struct plan *
plan_new(struct task_env *env, struct vj_err *err)
{
	struct plan *p;
	const struct conf_hosts *hosts = env->hosts;
	size_t i;
	int prev, id, *build_id, *fetch_id, users, hostconf, cert;

	if (env->ports != NULL && env->tports == NULL &&
	    task_port_keys(env, err) == -1)
		return NULL;
	p = plan_empty();
	build_id = xcalloc(env->ports ? env->ports->n + 1 : 1, sizeof(int));
	fetch_id = xcalloc(env->ports ? env->ports->n + 1 : 1, sizeof(int));
	add_ports(p, env, fetch_id, build_id);
	for (i = 0; i < hosts->n && !env->packages_only; i++) {
		const struct conf_host *h = &hosts->v[i];
		size_t first = p->n, k;
		prev = add(p, &task_extract_ops, env, h, NULL);
		if (thin_wanted(env->conf, h)) {
			/* Its layers are its packages: they come first. */
			int *mine = NULL;
			size_t np = env->ports ? task_jail_ports(env, h,
			    &mine) : 0;
			if (env->nocache) {
				vj_errf(err, "%s:%d: %s is thin: its packages "
				    "are the cache's, shared; --no-cache builds "
				    "each jail its own", hosts->path, h->line,
				    h->name);
				free(mine);
				free(build_id);
				free(fetch_id);
				plan_free(p);
				return NULL;
			}
			for (k = 0; k < np; k++)
				graph_depend(p->g, prev, build_id[mine[k]]);
			free(mine);
		}
		if (env->conf->val[CONF_DISTRIBUTION] != NULL) {
			id = add(p, &task_distribution_ops, env, h, NULL);
			graph_depend(p->g, id, prev);
			prev = id;
		}
		id = add(p, &task_devfs_ops, env, h, NULL);
		graph_depend(p->g, id, prev);
		prev = id;
		users = -1;
		if (env->conf->nusers > 0 || h->nusers > 0) {
			users = add(p, &task_users_ops, env, h, NULL);
			graph_depend(p->g, users, prev);
		}
		hostconf = add(p, &task_hostconf_ops, env, h, NULL);
		graph_depend(p->g, hostconf, prev);
		cert = -1;
		if (jail_ports_any(env, h, wants_tls)) {
			cert = add(p, &task_cert_ops, env, h, NULL);
			graph_depend(p->g, cert, prev);
		}
		add_packages(p, env, h, prev, fetch_id, build_id, users,
		    hostconf, cert);
		/* services:J after its packages; register:J after all. */
		if (jail_ports_any(env, h, wants_services)) {
			id = add(p, &task_services_ops, env, h, NULL);
			for (k = first; k < (size_t)id; k++)
				if (p->v[k].host == h && (p->v[k].ops ==
				    &task_install_ops || p->v[k].ops ==
				    &task_configure_ops || p->v[k].ops ==
				    &task_setup_ops))
					graph_depend(p->g, id, (int)k);
		}
		id = add(p, &task_register_ops, env, h, NULL);
		for (k = first; k < (size_t)id; k++)
			if (p->v[k].host == h)
				graph_depend(p->g, id, (int)k);
	}
	free(build_id);
	free(fetch_id);
	if (!env->packages_only)
		add(p, &task_jailconf_ops, env, NULL, NULL);
	if (env->conf->val[CONF_DNS] != NULL && !env->packages_only) {
		int dns = add(p, &task_dns_ops, env, NULL, NULL);
		for (i = 0; i < p->n; i++)
			if (p->v[i].ops == &task_register_ops)
				graph_depend(p->g, dns, (int)i);
	}
	if (plan_seal(p, err) == -1) {
		plan_free(p);
		return NULL;
	}
	return p;
}

void
plan_free(struct plan *p)
{
	size_t i;

	if (p == NULL)
		return;
	for (i = 0; i < p->n; i++) {
		free(p->v[i].name);
		free(p->v[i].root);
		free(p->v[i].cmd);
		free(p->v[i].argv);
		free(p->v[i].exe);
	}
	free(p->v);
	free(p->order);
	for (i = 0; i < p->nown; i++) {
		size_t k;
		for (k = 0; k < p->nports; k++) {
			free(p->own[i][k].archive);
			free(p->own[i][k].workname);
			free(p->own[i][k].srcdir);
			free(p->own[i][k].dep);
		}
		free(p->own[i]);
	}
	free(p->own);
	graph_free(p->g);
	free(p);
}

struct graph *plan_graph(const struct plan *p) { return p->g; }
struct task *plan_task(const struct plan *p, int i) { return &p->v[i]; }
size_t plan_count(const struct plan *p) { return p->n; }
const int *plan_order(const struct plan *p) { return p->order; }

const char *
task_jail(const struct task *t)
{
	return t->host ? t->host->name : NULL;
}
