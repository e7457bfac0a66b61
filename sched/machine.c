/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The scheduling state machine (see sched.h). Each node keeps `unmade`, the
 * number of its dependencies not yet finished (make's counter); it becomes
 * ready at zero. The ready set is a binary heap ordered by weight, larger
 * first, then by name, so the order is the same on every run.
 */
#include <stdlib.h>
#include <string.h>

#include "../graph/graph.h"
#include "../util/heap.h"
#include "../util/util.h"
#include "sched.h"

struct sched {
	const struct graph *g;
	double *weight;
	enum sched_status *st;
	size_t *unmade;
	int *cause;
	int *stack;		/* skip_below's, made at the first failure */
	struct heap ready;
	size_t n, running, counts[SCHED_INTERRUPTED + 1];
	int keep_going, stopped;
};

static int
before(const void *arg, int a, int b)
{
	const struct sched *s = arg;

	if (s->weight[a] != s->weight[b])
		return s->weight[a] > s->weight[b];
	return strcmp(graph_name(s->g, a), graph_name(s->g, b)) < 0;
}

static void
set(struct sched *s, int id, enum sched_status st)
{
	s->counts[s->st[id]]--;
	s->st[id] = st;
	s->counts[st]++;
}

static void
push(struct sched *s, int id)
{
	set(s, id, SCHED_READY);
	heap_push(&s->ready, id);
}

struct sched *
sched_new(const struct graph *g, const double *weight, int keep_going)
{
	struct sched *s = xcalloc(1, sizeof(*s));
	size_t i;

	s->g = g;
	s->n = graph_count(g);
	s->weight = xmalloc(s->n * sizeof(*s->weight));
	memcpy(s->weight, weight, s->n * sizeof(*s->weight));
	s->st = xcalloc(s->n, sizeof(*s->st));
	s->unmade = xcalloc(s->n, sizeof(*s->unmade));
	s->cause = xmalloc(s->n * sizeof(*s->cause));
	heap_init(&s->ready, s->n, before, s);
	s->keep_going = keep_going;
	s->counts[SCHED_WAITING] = s->n;
	for (i = 0; i < s->n; i++) {
		s->cause[i] = -1;
		if ((s->unmade[i] = graph_ndeps(g, (int)i)) == 0)
			push(s, (int)i);
	}
	return s;
}

void
sched_free(struct sched *s)
{
	if (s == NULL)
		return;
	free(s->weight);
	free(s->st);
	free(s->unmade);
	free(s->cause);
	free(s->stack);
	heap_free(&s->ready);
	free(s);
}

int
sched_peek(const struct sched *s)
{
	return s->stopped || s->ready.n == 0 ? -1 : s->ready.v[0];
}

int
sched_next(struct sched *s)
{
	int id;

	if (sched_peek(s) == -1)
		return -1;
	id = heap_pop(&s->ready);
	set(s, id, SCHED_RUNNING);
	s->running++;
	return id;
}

/* Marks every waiting node below id as skipped because of cause: a walk
 * with a stack of its own (a node is pushed once, when it is marked), not
 * recursion, which a long chain would take past the C stack. */
static void
skip_below(struct sched *s, int id, int cause)
{
	size_t k, top = 0;

	if (s->stack == NULL)
		s->stack = xmalloc(s->n * sizeof(*s->stack));
	s->stack[top++] = id;
	while (top > 0) {
		id = s->stack[--top];
		for (k = 0; k < graph_nrdeps(s->g, id); k++) {
			int r = graph_rdep(s->g, id, k);
			if (s->st[r] != SCHED_WAITING)
				continue;
			set(s, r, SCHED_SKIPPED);
			s->cause[r] = cause;
			s->stack[top++] = r;
		}
	}
}

void
sched_finish(struct sched *s, int id, enum sched_status result)
{
	size_t k;

	if (s->st[id] != SCHED_RUNNING)
		abort();
	s->running--;
	set(s, id, result);
	if (result == SCHED_OK || result == SCHED_UPTODATE) {
		for (k = 0; k < graph_nrdeps(s->g, id); k++) {
			int r = graph_rdep(s->g, id, k);
			if (--s->unmade[r] == 0 && s->st[r] == SCHED_WAITING)
				push(s, r);
		}
		return;
	}
	skip_below(s, id, id);
	if (!s->keep_going)
		s->stopped = 1;
}

void
sched_stop(struct sched *s)
{
	s->stopped = 1;
}

int
sched_idle(const struct sched *s)
{
	return s->running == 0 && sched_peek(s) == -1;
}

enum sched_status sched_status(const struct sched *s, int id) { return s->st[id]; }
int sched_cause(const struct sched *s, int id) { return s->cause[id]; }
size_t sched_count(const struct sched *s, enum sched_status st) { return s->counts[st]; }

const char *
sched_status_name(enum sched_status st)
{
	static const char *const names[] = {
		"waiting", "ready", "running", "ok", "up to date", "failed",
		"skipped", "interrupted",
	};

	return names[st];
}
