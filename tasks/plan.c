/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The plan: jails x task kinds -> a graph of tasks with fingerprints.
 *
 * When an edge exists:
 *  1. distribution:J after extract:J (it writes into the extracted root);
 *  2. devfs:J after distribution:J, or after extract:J when there is no
 *     distribution (a distribution may carry a dev/ of its own);
 *  3. hostconf:J after devfs:J (it writes /etc, which distribution lays);
 *  4. jailconf has no edge: it reads only hosts.txt.
 *
 * A fingerprint is sha256("vjbuild-task-1", kind, name, the kind's own
 * inputs, then the fingerprints of the dependencies in the order the edges
 * were made), computed in topological order.
 */
#include <stdlib.h>
#include <string.h>

#include "../conf/conf.h"
#include "../graph/graph.h"
#include "../util/util.h"
#include "tasks.h"

struct plan {
	struct graph *g;
	struct task *v;
	size_t n, cap;
	int *order;
};

static int
add(struct plan *p, const struct task_ops *ops, const struct task_env *env,
    const struct conf_host *h)
{
	struct task *t;
	int id;

	if (p->n == p->cap) {
		p->cap = p->cap ? p->cap * 2 : 64;
		p->v = xreallocarray(p->v, p->cap, sizeof(*p->v));
	}
	t = &p->v[p->n];
	memset(t, 0, sizeof(*t));
	t->ops = ops;
	t->env = env;
	t->host = h;
	t->name = h ? xasprintf("%s:%s", ops->kind, h->name) : xstrdup(ops->kind);
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

struct plan *
plan_new(const struct task_env *env, struct vj_err *err)
{
	struct plan *p = xcalloc(1, sizeof(*p));
	const struct conf_hosts *hosts = env->hosts;
	char *cycle = NULL;
	size_t i;
	int prev, id;

	p->g = graph_new();
	for (i = 0; i < hosts->n; i++) {
		const struct conf_host *h = &hosts->v[i];
		prev = add(p, &task_extract_ops, env, h);
		if (env->conf->val[CONF_DISTRIBUTION] != NULL) {
			id = add(p, &task_distribution_ops, env, h);
			graph_depend(p->g, id, prev);
			prev = id;
		}
		id = add(p, &task_devfs_ops, env, h);
		graph_depend(p->g, id, prev);
		prev = id;
		id = add(p, &task_hostconf_ops, env, h);
		graph_depend(p->g, id, prev);
	}
	add(p, &task_jailconf_ops, env, NULL);
	p->order = xcalloc(p->n, sizeof(*p->order));
	if (graph_topo(p->g, p->order, &cycle) == -1) {
		vj_errf(err, "dependency cycle: %s", cycle);
		free(cycle);
		plan_free(p);
		return NULL;
	}
	for (i = 0; i < p->n; i++)
		fingerprint(p, p->order[i]);
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
	}
	free(p->v);
	free(p->order);
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
