/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The DAG (see graph.h). Nodes live in one array; each keeps two growable
 * id arrays, its dependencies and its dependents. Names are found through an
 * open-addressing hash table so that building a graph of 10,000 nodes is
 * linear.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../util/heap.h"
#include "../util/util.h"
#include "graph.h"

struct ids {
	int *v;
	size_t n, cap;
};

struct node {
	char *name;
	struct ids deps, rdeps;
};

struct graph {
	struct node *nodes;
	size_t n, cap;
	int *table;		/* hash slots: node id or -1 */
	size_t tcap;
};

static void
ids_push(struct ids *a, int v)
{
	if (a->n == a->cap) {
		a->cap = a->cap ? a->cap * 2 : 4;
		a->v = xreallocarray(a->v, a->cap, sizeof(*a->v));
	}
	a->v[a->n++] = v;
}

struct graph *
graph_new(void)
{
	struct graph *g = xcalloc(1, sizeof(*g));

	g->tcap = 64;
	g->table = xmalloc(g->tcap * sizeof(*g->table));
	memset(g->table, 0xff, g->tcap * sizeof(*g->table));
	return g;
}

void
graph_free(struct graph *g)
{
	size_t i;

	if (g == NULL)
		return;
	for (i = 0; i < g->n; i++) {
		free(g->nodes[i].name);
		free(g->nodes[i].deps.v);
		free(g->nodes[i].rdeps.v);
	}
	free(g->nodes);
	free(g->table);
	free(g);
}

static size_t
slot(const struct graph *g, const char *name)
{
	size_t i = (size_t)str_hash(name) & (g->tcap - 1);

	while (g->table[i] != -1 && strcmp(g->nodes[g->table[i]].name, name) != 0)
		i = (i + 1) & (g->tcap - 1);
	return i;
}

static void
rehash(struct graph *g)
{
	size_t i;

	free(g->table);
	g->tcap *= 2;
	g->table = xmalloc(g->tcap * sizeof(*g->table));
	memset(g->table, 0xff, g->tcap * sizeof(*g->table));
	for (i = 0; i < g->n; i++)
		g->table[slot(g, g->nodes[i].name)] = (int)i;
}

int
graph_add(struct graph *g, const char *name)
{
	size_t s;

	if (graph_find(g, name) != -1)
		return -1;
	if (g->n == g->cap) {
		g->cap = g->cap ? g->cap * 2 : 16;
		g->nodes = xreallocarray(g->nodes, g->cap, sizeof(*g->nodes));
	}
	memset(&g->nodes[g->n], 0, sizeof(g->nodes[g->n]));
	g->nodes[g->n].name = xstrdup(name);
	g->n++;
	if (g->n * 2 > g->tcap)
		rehash(g);
	else {
		s = slot(g, name);
		g->table[s] = (int)(g->n - 1);
	}
	return (int)(g->n - 1);
}

int
graph_find(const struct graph *g, const char *name)
{
	return g->table[slot(g, name)];
}

void
graph_depend(struct graph *g, int node, int dep)
{
	struct ids *d = &g->nodes[node].deps;
	size_t i;

	for (i = 0; i < d->n; i++)
		if (d->v[i] == dep)
			return;
	ids_push(d, dep);
	ids_push(&g->nodes[dep].rdeps, node);
}

size_t graph_count(const struct graph *g) { return g->n; }
const char *graph_name(const struct graph *g, int id) { return g->nodes[id].name; }
size_t graph_ndeps(const struct graph *g, int id) { return g->nodes[id].deps.n; }
int graph_dep(const struct graph *g, int id, size_t i) { return g->nodes[id].deps.v[i]; }
size_t graph_nrdeps(const struct graph *g, int id) { return g->nodes[id].rdeps.n; }
int graph_rdep(const struct graph *g, int id, size_t i) { return g->nodes[id].rdeps.v[i]; }

static int
by_rank(const void *arg, int a, int b)
{
	const int *rank = arg;

	return rank[a] < rank[b];
}

static const struct graph *sort_graph;

static int
byname(const void *a, const void *b)
{
	return strcmp(sort_graph->nodes[*(const int *)a].name,
	    sort_graph->nodes[*(const int *)b].name);
}

/* Names the cycle among the nodes not ordered (indeg > 0): from the first
 * by name, follow a dependency that is also unordered until one repeats. */
static char *
find_cycle(const struct graph *g, const size_t *indeg, const int *byrank)
{
	int *seen = xmalloc(g->n * sizeof(*seen)), *path, start = -1, v;
	size_t i, len = 0, k;
	struct sbuf b = { 0 };

	memset(seen, 0xff, g->n * sizeof(*seen));
	path = xmalloc((g->n + 1) * sizeof(*path));
	for (i = 0; i < g->n && start == -1; i++)
		if (indeg[byrank[i]] > 0)
			start = byrank[i];
	for (v = start; seen[v] == -1;) {
		seen[v] = (int)len;
		path[len++] = v;
		for (k = 0; k < g->nodes[v].deps.n; k++)
			if (indeg[g->nodes[v].deps.v[k]] > 0)
				break;
		v = g->nodes[v].deps.v[k];
	}
	for (i = (size_t)seen[v]; i < len; i++)
		sbuf_printf(&b, "%s -> ", g->nodes[path[i]].name);
	sbuf_puts(&b, g->nodes[v].name);
	free(seen);
	free(path);
	return sbuf_take(&b);
}

int
graph_topo(const struct graph *g, int *order, char **cycle)
{
	size_t *indeg = xcalloc(g->n, sizeof(*indeg)), i, k, done = 0;
	int *rank = xmalloc(g->n * sizeof(*rank));
	int *byrank = xmalloc(g->n * sizeof(*byrank));
	struct heap h;
	int rc = 0;

	for (i = 0; i < g->n; i++)
		byrank[i] = (int)i;
	sort_graph = g;
	qsort(byrank, g->n, sizeof(*byrank), byname);
	for (i = 0; i < g->n; i++)
		rank[byrank[i]] = (int)i;
	heap_init(&h, g->n, by_rank, rank);
	for (i = 0; i < g->n; i++)
		if ((indeg[i] = g->nodes[i].deps.n) == 0)
			heap_push(&h, (int)i);
	while (h.n > 0) {
		int v = heap_pop(&h);
		order[done++] = v;
		for (k = 0; k < g->nodes[v].rdeps.n; k++) {
			int r = g->nodes[v].rdeps.v[k];
			if (--indeg[r] == 0)
				heap_push(&h, r);
		}
	}
	if (done < g->n) {
		if (cycle != NULL)
			*cycle = find_cycle(g, indeg, byrank);
		rc = -1;
	}
	free(indeg);
	free(rank);
	free(byrank);
	heap_free(&h);
	return rc;
}

void
graph_critical(const struct graph *g, const int *order, const double *w,
    double *out)
{
	size_t i, k;

	for (i = g->n; i-- > 0;) {
		int v = order[i];
		double best = 0;
		for (k = 0; k < g->nodes[v].rdeps.n; k++)
			if (out[g->nodes[v].rdeps.v[k]] > best)
				best = out[g->nodes[v].rdeps.v[k]];
		out[v] = w[v] + best;
	}
}

/* Appends s as a quoted Graphviz ID. */
static void
dot_quote(struct sbuf *b, const char *s)
{
	sbuf_puts(b, "\"");
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			sbuf_puts(b, "\\");
		sbuf_add(b, s, 1);
	}
	sbuf_puts(b, "\"");
}

void
graph_dot(const struct graph *g, struct sbuf *out, const char *const *attrs)
{
	size_t i, k;

	sbuf_puts(out, "digraph vjbuild {\n\trankdir=LR;\n\tnode [shape=box];\n");
	for (i = 0; i < g->n; i++) {
		sbuf_puts(out, "\t");
		dot_quote(out, g->nodes[i].name);
		if (attrs != NULL && attrs[i] != NULL)
			sbuf_printf(out, " [%s]", attrs[i]);
		sbuf_puts(out, ";\n");
	}
	for (i = 0; i < g->n; i++)
		for (k = 0; k < g->nodes[i].deps.n; k++) {
			sbuf_puts(out, "\t");
			dot_quote(out, g->nodes[g->nodes[i].deps.v[k]].name);
			sbuf_puts(out, " -> ");
			dot_quote(out, g->nodes[i].name);
			sbuf_puts(out, ";\n");
		}
	sbuf_puts(out, "}\n");
}
