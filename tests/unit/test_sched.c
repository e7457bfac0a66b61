/* SPDX-License-Identifier: BSD-2-Clause */
/* sched/: the state machine alone, with no process and no disk. */
#include <stdlib.h>
#include <string.h>

#include "../../graph/graph.h"
#include "../../sched/sched.h"
#include "../../util/util.h"
#include "t.h"

static const char *
next_name(struct sched *s, struct graph *g)
{
	int id = sched_next(s);

	return id == -1 ? "-" : graph_name(g, id);
}

TEST(sched_orders_by_critical_path_then_name)
{
	/* chain c1 <- c2 <- c3 and two loose tasks a, b. */
	struct graph *g = t_graph("a b c1 c2:c1 c3:c2");
	double w[5], crit[5];
	int order[5];
	size_t i;
	struct sched *s;

	for (i = 0; i < 5; i++)
		w[i] = 1.0;
	REQUIRE(graph_topo(g, order, NULL) == 0);
	graph_critical(g, order, w, crit);
	s = sched_new(g, crit, 0);
	CHECK_STR(next_name(s, g), "c1");	/* weight 3 */
	CHECK_STR(next_name(s, g), "a");	/* 1, by name */
	CHECK_STR(next_name(s, g), "b");
	CHECK_STR(next_name(s, g), "-");
	CHECK(!sched_idle(s));
	sched_finish(s, graph_find(g, "c1"), SCHED_OK);
	CHECK_STR(next_name(s, g), "c2");
	sched_finish(s, graph_find(g, "a"), SCHED_OK);
	sched_finish(s, graph_find(g, "b"), SCHED_UPTODATE);
	sched_finish(s, graph_find(g, "c2"), SCHED_OK);
	CHECK_STR(next_name(s, g), "c3");
	sched_finish(s, graph_find(g, "c3"), SCHED_OK);
	CHECK(sched_idle(s));
	CHECK(sched_count(s, SCHED_OK) == 4);
	CHECK(sched_count(s, SCHED_UPTODATE) == 1);
	sched_free(s);
	graph_free(g);
}

TEST(sched_failure_skips_dependents_and_stops)
{
	struct graph *g = t_graph("x y:x z:y other");
	double w[4] = { 3, 2, 1, 1 };
	struct sched *s = sched_new(g, w, 0);

	CHECK_STR(next_name(s, g), "x");
	sched_finish(s, 0, SCHED_FAILED);
	CHECK(sched_status(s, graph_find(g, "y")) == SCHED_SKIPPED);
	CHECK(sched_status(s, graph_find(g, "z")) == SCHED_SKIPPED);
	CHECK(sched_cause(s, graph_find(g, "z")) == 0);
	/* Without -k nothing else starts. */
	CHECK(sched_next(s) == -1);
	CHECK(sched_idle(s));
	CHECK(sched_status(s, graph_find(g, "other")) == SCHED_READY);
	sched_free(s);
	graph_free(g);
}

TEST(sched_keep_going_runs_the_rest)
{
	struct graph *g = t_graph("x y:x other");
	double w[3] = { 2, 1, 1 };
	struct sched *s = sched_new(g, w, 1);

	CHECK_STR(next_name(s, g), "x");
	sched_finish(s, 0, SCHED_FAILED);
	CHECK_STR(next_name(s, g), "other");
	sched_finish(s, graph_find(g, "other"), SCHED_OK);
	CHECK(sched_idle(s));
	CHECK(sched_count(s, SCHED_SKIPPED) == 1);
	sched_free(s);
	graph_free(g);
}

TEST(sched_stop_lets_running_finish)
{
	struct graph *g = t_graph("a b c");
	double w[3] = { 1, 1, 1 };
	struct sched *s = sched_new(g, w, 1);

	CHECK(sched_next(s) == 0);
	sched_stop(s);
	CHECK(sched_next(s) == -1);
	CHECK(!sched_idle(s));
	sched_finish(s, 0, SCHED_INTERRUPTED);
	CHECK(sched_idle(s));
	CHECK(sched_count(s, SCHED_READY) == 2);
	sched_free(s);
	graph_free(g);
}
