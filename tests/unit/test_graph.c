/* SPDX-License-Identifier: BSD-2-Clause */
/* graph/: order, cycles, critical paths and dot, from small graphs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../graph/graph.h"
#include "../../util/util.h"
#include "t.h"

static char *
order_str(struct graph *g)
{
	int *order = xcalloc(graph_count(g), sizeof(int));
	struct sbuf b = { 0 };
	size_t i;

	if (graph_topo(g, order, NULL) == 0)
		for (i = 0; i < graph_count(g); i++)
			sbuf_printf(&b, "%s%s", i ? " " : "",
			    graph_name(g, order[i]));
	free(order);
	return sbuf_take(&b);
}

TEST(graph_topo_ties_by_name)
{
	struct graph *g = t_graph("z y x c:z b:y a:x,c");
	char *s = order_str(g);

	CHECK_STR(s, "x y b z c a");
	free(s);
	graph_free(g);
}

TEST(graph_add_refuses_duplicates)
{
	struct graph *g = graph_new();

	CHECK(graph_add(g, "a") == 0);
	CHECK(graph_add(g, "a") == -1);
	CHECK(graph_find(g, "a") == 0);
	CHECK(graph_find(g, "b") == -1);
	graph_depend(g, 0, graph_add(g, "b"));
	graph_depend(g, 0, 1);
	CHECK(graph_ndeps(g, 0) == 1);
	graph_free(g);
}

TEST(graph_cycle_is_named)
{
	struct graph *g = t_graph("a:b b:c c:a d:a");
	int order[4];
	char *cycle = NULL;

	CHECK(graph_topo(g, order, &cycle) == -1);
	CHECK_STR(cycle, "a -> b -> c -> a");
	free(cycle);
	graph_free(g);
	g = t_graph("a:a");
	CHECK(graph_topo(g, order, &cycle) == -1);
	CHECK_STR(cycle, "a -> a");
	free(cycle);
	graph_free(g);
}

TEST(graph_critical_path)
{
	/* long: l1 <- l2 <- l3 (3 x 1.0); short: s (0.5); all under z. */
	struct graph *g = t_graph("l2:l1 l3:l2 s z:l3,s");
	int order[5];
	double w[5], out[5];
	size_t i;

	for (i = 0; i < 5; i++)
		w[i] = strcmp(graph_name(g, (int)i), "s") == 0 ? 0.5 : 1.0;
	REQUIRE(graph_topo(g, order, NULL) == 0);
	graph_critical(g, order, w, out);
	CHECK(out[graph_find(g, "l1")] == 4.0);
	CHECK(out[graph_find(g, "s")] == 1.5);
	CHECK(out[graph_find(g, "z")] == 1.0);
	graph_free(g);
}

TEST(graph_dot_quotes)
{
	struct graph *g = t_graph("b:a");
	struct sbuf b = { 0 };
	const char *attrs[] = { NULL, "color=red", NULL };

	graph_add(g, "q\"x");
	graph_dot(g, &b, attrs);
	CHECK(strstr(b.s, "\"a\" -> \"b\";") != NULL);
	CHECK(strstr(b.s, "\"a\" [color=red]") != NULL);
	CHECK(strstr(b.s, "\"q\\\"x\"") != NULL);
	sbuf_free(&b);
	graph_free(g);
}

TEST(graph_many_nodes)
{
	struct graph *g = graph_new();
	char name[32];
	int *order, i;

	for (i = 0; i < 10000; i++) {
		snprintf(name, sizeof(name), "n%05d", i);
		CHECK(graph_add(g, name) == i);
		if (i > 0)
			graph_depend(g, i, i - 1);
	}
	CHECK(graph_find(g, "n09999") == 9999);
	order = xcalloc(10000, sizeof(int));
	CHECK(graph_topo(g, order, NULL) == 0);
	CHECK(order[0] == 0 && order[9999] == 9999);
	free(order);
	graph_free(g);
}
