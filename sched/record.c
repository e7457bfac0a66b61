/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * What the loop records: starts and finishes in batches, tasks that did
 * not start, --always's unmaking; whether a task is up to date; adopt.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <event2/event.h>

#include "../graph/graph.h"
#include "../state/state.h"
#include "../tasks/tasks.h"
#include "loop.h"

/* v in decimal, as "%lld" writes it, at out; its length. */
static size_t
put_i64(char *out, int64_t v)
{
	uint64_t u = v < 0 ? -(uint64_t)v : (uint64_t)v;
	char tmp[20];
	size_t n = 0, k = 0;

	do
		tmp[n++] = (char)('0' + u % 10);
	while ((u /= 10) != 0);
	if (v < 0)
		out[k++] = '-';
	while (n > 0)
		out[k++] = tmp[--n];
	return k;
}

/* The hex digest of the stamps of task i's dependencies: "S1,S2,...,"
 * in decimal, hashed a buffer at a time (every no-op run computes it for
 * every task). */
static void
depstamp(const struct plan *p, int i, const int64_t *stamps, char hex[65])
{
	const struct graph *g = plan_graph(p);
	struct sha256 c;
	char buf[1024];
	size_t k, len = 0;

	sha256_init(&c);
	for (k = 0; k < graph_ndeps(g, i); k++) {
		if (len > sizeof(buf) - 24) {
			sha256_update(&c, buf, len);
			len = 0;
		}
		len += put_i64(buf + len, stamps[graph_dep(g, i, k)]);
		buf[len++] = ',';
	}
	sha256_update(&c, buf, len);
	sha256_hex(&c, hex);
}

char *
sched_log_path(const struct state *s, const struct task *t)
{
	char *file = xasprintf("%s.log", t->name), *path;

	path = fs_join(state_logdir(s), file);
	free(file);
	return path;
}

/* Task i's record says it is done: "ok", with this fingerprint and these
 * dependency stamps. Its output may still be gone. */
int
loop_recorded_done(const struct plan *p, struct state *s, int i,
    const int64_t *stamps)
{
	const struct task *t = plan_task(p, i);
	const struct state_task *rec = state_task_get(s, t->name);
	char ds[65];

	if (rec == NULL || rec->status == NULL || strcmp(rec->status, "ok") != 0)
		return 0;
	if (rec->fingerprint == NULL ||
	    strcmp(rec->fingerprint, t->fingerprint) != 0)
		return 0;
	depstamp(p, i, stamps, ds);
	return rec->depstamp != NULL && strcmp(rec->depstamp, ds) == 0;
}

int
sched_uptodate(const struct plan *p, struct state *s, int i,
    const int64_t *stamps)
{
	const struct task *t = plan_task(p, i);

	return loop_recorded_done(p, s, i, stamps) && t->ops->exists(t);
}

/* The record of task i's start in run, now (ds: room for its depstamp). */
static void
start_rec(struct state_task *rec, const struct plan *p, int i,
    const int64_t *stamps, char ds[65], int64_t run)
{
	const struct task *t = plan_task(p, i);

	depstamp(p, i, stamps, ds);
	memset(rec, 0, sizeof(*rec));
	rec->name = t->name;
	rec->kind = t->ops->kind;
	rec->jail = task_jail(t);
	rec->fingerprint = t->fingerprint;
	rec->depstamp = ds;
	rec->run = run;
	rec->started = vj_wall();
	rec->slot = -1;
}

/*
 * How long the records of short tasks may wait to be written. A commit
 * costs about as much as the records of a task or two (the WAL's pages,
 * locks, a write), and a task that starts and ends within one batch is one
 * row written, not a row and then its update: a graph of thousands of
 * quick commands, a commit a reap, spent most of vjbuild's own CPU there.
 * What a crash loses of records not yet written only runs again: at most
 * HOLD_S of finishes, each of a task shorter than HOLD_S, and starts whose
 * records called nothing done (a start that replaces one that does is
 * written, durably, before it is made).
 */
#define HOLD_S 0.05

/* Whether the records of this batch may wait for a later one. */
static int
holdable(const struct loop *l, int durable, double now)
{
	size_t k;

	if (durable || l->fatal || l->ev_flush == NULL ||
	    (l->held_since >= 0 && now - l->held_since >= HOLD_S))
		return 0;
	for (k = 0; k < l->npend; k++)
		if (l->pend[k].duration >= HOLD_S)
			return 0;
	return 1;
}

/* The start record of pending start e. */
static void
pstart_rec(struct loop *l, const struct pstart *e, struct state_task *rec,
    struct sbuf *deps)
{
	const struct graph *g = plan_graph(l->p);
	const struct task *t = plan_task(l->p, e->task);
	size_t d;

	memset(rec, 0, sizeof(*rec));
	rec->name = t->name;
	rec->kind = t->ops->kind;
	rec->jail = task_jail(t);
	rec->fingerprint = t->fingerprint;
	rec->depstamp = e->ds;
	rec->stamp = e->stamp;
	rec->run = l->r->run;
	rec->started = e->started;
	rec->slot = e->slot;
	rec->log = l->logs[e->task];
	/* What it waited for, for the report's critical path. */
	deps->len = 0;
	for (d = 0; d < graph_ndeps(g, e->task); d++) {
		if (d > 0)
			sbuf_puts(deps, " ");
		sbuf_puts(deps, plan_task(l->p, graph_dep(g, e->task, d))->name);
	}
	rec->deps = deps->len ? deps->s : NULL;
}

/*
 * Writes the pending starts and finishes in one transaction: a task with
 * both in one row (state_task_done). A finished task's log path is freed
 * once written. On failure nothing of it is kept, and the caller stops.
 */
static int
write_pending(struct loop *l, int durable)
{
	struct state_task rec;
	struct sbuf deps = { 0 };
	size_t k;

	evtimer_del(l->ev_flush);
	l->held_since = -1;
	if (state_tx_begin(l->st, durable, l->err) == -1)
		goto fail;
	for (k = 0; k < l->npend; k++) {
		const struct pend *e = &l->pend[k];
		int at = l->pst_at[e->task];
		if (at >= 0)
			pstart_rec(l, &l->pst[at], &rec, &deps);
		else {
			memset(&rec, 0, sizeof(rec));
			rec.name = plan_task(l->p, e->task)->name;
			rec.run = l->r->run;
		}
		rec.status = e->status;
		rec.exit_status = e->exit_status;
		rec.ended = e->ended;
		rec.duration = e->duration;
		if ((at >= 0 ? state_task_done(l->st, &rec, l->err) :
		    state_task_finish(l->st, &rec, l->err)) == -1)
			goto fail;
		if (at >= 0) {
			l->pst_at[e->task] = -1;
			l->pst[at].task = -1;
		}
	}
	for (k = 0; k < l->npst; k++) {
		if (l->pst[k].task < 0)
			continue;
		pstart_rec(l, &l->pst[k], &rec, &deps);
		if (state_task_start(l->st, &rec, l->err) == -1)
			goto fail;
	}
	if (state_tx_commit(l->st, l->err) == -1)
		goto fail;
	sbuf_free(&deps);
	for (k = 0; k < l->npend; k++) {
		free(l->logs[l->pend[k].task]);	/* memory is per task */
		l->logs[l->pend[k].task] = NULL;
	}
	for (k = 0; k < l->npst; k++)
		if (l->pst[k].task >= 0)
			l->pst_at[l->pst[k].task] = -1;
	l->npend = l->npst = 0;
	return 0;
fail:
	sbuf_free(&deps);
	state_tx_rollback(l->st);
	for (k = 0; k < l->npst; k++)
		if (l->pst[k].task >= 0)
			l->pst_at[l->pst[k].task] = -1;
	l->npend = l->npst = 0;
	l->fatal = 1;
	sched_stop(l->s);
	return -1;
}

/* Writes what waits (the timer, the run's end); -1 with l->err, and the
 * run stops, if that fails. */
int
loop_flush(struct loop *l)
{
	if (l->npend == 0 && l->npst == 0) {
		if (l->ev_flush != NULL)
			evtimer_del(l->ev_flush);
		l->held_since = -1;
		return 0;
	}
	return write_pending(l, 0);
}

static void
on_flush(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)loop_flush(arg);
}

void
loop_hold_init(struct loop *l)
{
	size_t i;

	l->held_since = -1;
	l->ev_flush = evtimer_new(l->base, on_flush, l);
	l->pst_at = xmalloc((l->total ? l->total : 1) * sizeof(*l->pst_at));
	for (i = 0; i < l->total; i++)
		l->pst_at[i] = -1;
}

/*
 * The finishes reaped since the last batch and the starts about to be made
 * (picked[], whose logs it opens into logfd[]): written now in one
 * transaction, or kept to go with a later batch (holdable). On failure the
 * picked tasks fail, nothing more starts, and what waited is lost.
 */
int
loop_record(struct loop *l, int durable)
{
	size_t k, opened = 0;
	double now = vj_now();

	for (k = 0; k < l->npicked; k++) {
		int i = l->picked[k];
		struct task *t = plan_task(l->p, i);
		if (l->logs[i] == NULL)
			l->logs[i] = sched_log_path(l->st, t);
		/* A command's output is kept in memory and becomes its log
		 * only if there is any (see keep_output): creating a file for
		 * each of thousands of quiet commands is most of their cost. */
		l->logfd[k] = t->argv != NULL ?
		    memfd_create("vjbuild-output", MFD_CLOEXEC) :
		    open(l->logs[i], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC |
		    O_NOFOLLOW, 0644);
		if (l->logfd[k] == -1) {
			vj_errno(l->err, "%s", l->logs[i]);
			goto fail;
		}
		opened++;
	}
	for (k = 0; k < l->npicked; k++) {
		int i = l->picked[k];
		struct pstart *e;
		if (l->npst == l->cpst) {
			l->cpst = l->cpst ? l->cpst * 2 : 16;
			l->pst = xreallocarray(l->pst, l->cpst, sizeof(*l->pst));
		}
		e = &l->pst[l->npst];
		l->pst_at[i] = (int)l->npst++;
		e->task = i;
		e->slot = l->pslots[k];
		e->started = vj_wall();
		depstamp(l->p, i, l->stamps, e->ds);
		e->stamp = l->stamps[i] = state_stamp_new(l->st);
	}
	if (holdable(l, durable, now)) {
		if (l->held_since < 0 && (l->npend > 0 || l->npst > 0)) {
			struct timeval tv = { 0, (suseconds_t)(HOLD_S * 1e6) };
			l->held_since = now;
			evtimer_add(l->ev_flush, &tv);
		}
		return 0;
	}
	if (write_pending(l, durable) == 0)
		return 0;
	opened = l->npicked;
fail:
	for (k = 0; k < opened; k++)
		close(l->logfd[k]);
	for (k = 0; k < l->npicked; k++) {
		sched_finish(l->s, l->picked[k], SCHED_FAILED);
		loop_give_token(l, l->tokens[k]);
	}
	l->npicked = 0;
	if (!l->fatal) {
		/* A log that could not be opened: what waits is true. */
		(void)write_pending(l, 0);
		l->fatal = 1;
		sched_stop(l->s);
	}
	return -1;
}

void
loop_pend(struct loop *l, int i, const char *status, int exit_status,
    double duration)
{
	struct pend *e;

	if (l->npend == l->cpend) {
		l->cpend = l->cpend ? l->cpend * 2 : 16;
		l->pend = xreallocarray(l->pend, l->cpend, sizeof(*l->pend));
	}
	e = &l->pend[l->npend++];
	e->task = i;
	e->status = status;
	e->exit_status = exit_status;
	e->ended = vj_wall();
	e->duration = duration;
}

/*
 * The tasks of the run that did not start, in its history: skipped (with
 * the failure that caused it) or not run (the run stopped first). Only on
 * a run that did not end well: up-to-date tasks are counted, not listed.
 */
int
loop_record_unstarted(struct loop *l, struct vj_err *err)
{
	struct state_task rec;
	size_t i;
	int any = 0;

	for (i = 0; i < l->total; i++) {
		enum sched_status st = sched_status(l->s, (int)i);
		const struct task *t = plan_task(l->p, (int)i);
		int cause = sched_cause(l->s, (int)i);
		if (st != SCHED_SKIPPED && st != SCHED_WAITING &&
		    st != SCHED_READY)
			continue;
		if (!any++ && state_tx_begin(l->st, 0, err) == -1)
			return -1;
		memset(&rec, 0, sizeof(rec));
		rec.name = t->name;
		rec.kind = t->ops->kind;
		rec.jail = task_jail(t);
		if (state_task_skipped(l->st, l->r->run, &rec, st ==
		    SCHED_SKIPPED ? "skipped" : "not run", cause >= 0 ?
		    plan_task(l->p, cause)->name : NULL, err) == -1) {
			state_tx_rollback(l->st);
			return -1;
		}
	}
	return any ? state_tx_commit(l->st, err) : 0;
}

/*
 * --always: every record that calls a task of the plan done is marked
 * "forced", in one durable transaction, before anything starts. Without
 * it each start of such a task must wait for an fsync of its own (every
 * root of a --always run's graph would), and a run killed halfway would
 * leave the tasks it had not reached recorded done; with it, the next run
 * runs them, as --always asked. No other record can come to call a task
 * done during the run (a restarted dependency gets a new stamp), so a
 * --always run's starts never need an fsync (see schedule).
 */
int
loop_force(struct loop *l)
{
	size_t i;
	int open = 0;

	for (i = 0; i < l->total; i++) {
		if (!loop_recorded_done(l->p, l->st, (int)i, l->stamps))
			continue;
		if (!open && state_tx_begin(l->st, 1, l->err) == -1)
			return -1;
		open = 1;
		if (state_task_force(l->st, plan_task(l->p, (int)i)->name,
		    l->err) == -1) {
			state_tx_rollback(l->st);
			return -1;
		}
	}
	return open ? state_tx_commit(l->st, l->err) : 0;
}

int
sched_adopt(const struct plan *p, struct state *st, const char *want,
    int64_t run, size_t *adopted, struct vj_err *err)
{
	size_t n = plan_count(p), k, d;
	const int *order = plan_order(p);
	const struct graph *g = plan_graph(p);
	int64_t *stamps = xcalloc(n, sizeof(*stamps));
	char *done = xcalloc(n, 1), ds[65];
	struct vj_err why;
	int rc = -1;

	*adopted = 0;
	for (k = 0; k < n; k++) {
		const struct state_task *rec = state_task_get((struct state *)st,
		    plan_task(p, (int)k)->name);
		stamps[k] = rec ? rec->stamp : 0;
	}
	for (k = 0; k < n; k++)
		done[k] = (char)loop_recorded_done(p, st, (int)k, stamps);
	if (state_tx_begin(st, 1, err) == -1)
		goto out;
	for (k = 0; k < n; k++) {
		int i = order[k];
		struct task *t = plan_task(p, i);
		struct state_task rec;
		if (!want[i] || done[i])
			continue;
		for (d = 0; d < graph_ndeps(g, i); d++)
			if (!done[graph_dep(g, i, d)])
				break;
		if (d < graph_ndeps(g, i))
			continue;	/* what it needs runs again first */
		/* A package is taken from the cache through its build's
		 * finish: its digest checked against its manifest. */
		if (!t->ops->exists(t) && t->ops->finish != NULL &&
		    t->ops->finish(t, &why) == -1)
			continue;
		if (!t->ops->exists(t))
			continue;
		start_rec(&rec, p, i, stamps, ds, run);
		if (state_task_start(st, &rec, err) == -1)
			goto fail;
		stamps[i] = rec.stamp;
		rec.status = "ok";
		rec.ended = rec.started;
		rec.duration = 0;
		if (state_task_finish(st, &rec, err) == -1)
			goto fail;
		done[i] = 1;
		(*adopted)++;
	}
	if (state_tx_commit(st, err) == -1)
		goto out;
	rc = 0;
	goto out;
fail:
	state_tx_rollback(st);
out:
	free(stamps);
	free(done);
	return rc;
}
