/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * A generic directed acyclic graph of named nodes: dependencies, a
 * deterministic topological order, the cycle when there is one, longest
 * (critical) paths and Graphviz output. It knows nothing of jails.
 *
 * Nodes are numbered 0..n-1 in the order they were added. "a depends on b"
 * is the edge b -> a: b must be finished before a starts.
 */
#ifndef VJ_GRAPH_H
#define VJ_GRAPH_H

#include <stddef.h>

struct sbuf;
struct graph;

/* Returns an empty graph; never NULL. graph_free(NULL) is a no-op. */
struct graph *graph_new(void);
void graph_free(struct graph *g);

/* Adds a node named name (copied). Returns its id, or -1 when a node of that
 * name exists already. */
int graph_add(struct graph *g, const char *name);
/* Returns the id of name, or -1. Linear in nothing: names are hashed. */
int graph_find(const struct graph *g, const char *name);
/* Records that node depends on dep; a repeated edge is kept once. */
void graph_depend(struct graph *g, int node, int dep);

size_t graph_count(const struct graph *g);
/* Borrowed; valid until graph_free. */
const char *graph_name(const struct graph *g, int id);
size_t graph_ndeps(const struct graph *g, int id);
int graph_dep(const struct graph *g, int id, size_t i);
size_t graph_nrdeps(const struct graph *g, int id);
int graph_rdep(const struct graph *g, int id, size_t i);

/*
 * Fills order[0..n-1] with every node, each after all its dependencies; among
 * nodes ready at the same time the smaller name (strcmp) comes first, so the
 * order depends only on the graph. Returns 0, or -1 when there is a cycle:
 * then *cycle (when cycle is not NULL) is a malloc'd "a -> b -> a" where each
 * node depends on the next.
 */
int graph_topo(const struct graph *g, int *order, char **cycle);

/*
 * Critical-path weights: out[i] = w[i] + the largest out[] among the nodes
 * that depend on i, i.e. the longest chain of work that i starts. order is
 * graph_topo's output.
 */
void graph_critical(const struct graph *g, const int *order, const double *w,
    double *out);

/* Appends a Graphviz digraph; attrs[i], when attrs and it are not NULL, is
 * added inside node i's brackets (e.g. "color=red"). */
void graph_dot(const struct graph *g, struct sbuf *out,
    const char *const *attrs);

#endif
