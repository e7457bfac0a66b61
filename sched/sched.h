/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Running the plan.
 *
 * struct sched is the state machine, with no I/O, tested on its own: which
 * tasks are ready, in which order, and what a failure skips. Ready tasks are
 * taken by the longest remaining path (the critical-path weight), ties by
 * name. A task whose dependency failed is skipped, and so on down its
 * dependents; without keep_going, a failure also stops any new start.
 *
 * sched_run drives it on one libevent loop: each task in a child process in
 * its own process group, its output in a log file, at most `jobs` at once,
 * SIGCHLD, SIGINT and SIGTERM handled as libevent signal events.
 */
#ifndef VJ_SCHED_H
#define VJ_SCHED_H

#include <stddef.h>
#include <stdint.h>

struct event_base;
struct graph;
struct plan;
struct state;
struct task;
struct vj_err;

enum sched_status {
	SCHED_WAITING,		/* dependencies not finished */
	SCHED_READY,
	SCHED_RUNNING,
	SCHED_OK,		/* ran and succeeded */
	SCHED_UPTODATE,		/* nothing to do */
	SCHED_FAILED,
	SCHED_SKIPPED,		/* a dependency failed */
	SCHED_INTERRUPTED,	/* stopped by a signal while running */
};

struct sched;

/* weight[i]: node i's critical-path weight (copied). */
struct sched *sched_new(const struct graph *g, const double *weight,
    int keep_going);
void sched_free(struct sched *s);
/* The best ready node, now RUNNING; -1 when none is ready or stopped. */
int sched_next(struct sched *s);
/* The best ready node without taking it; -1 when none. */
int sched_peek(const struct sched *s);
/* Ends a RUNNING node with OK, UPTODATE, FAILED or INTERRUPTED. */
void sched_finish(struct sched *s, int id, enum sched_status result);
/* No node starts after this. */
void sched_stop(struct sched *s);
/* 1 when no node is running and none can start. */
int sched_idle(const struct sched *s);
enum sched_status sched_status(const struct sched *s, int id);
/* For a SKIPPED node, the failed node that caused it; else -1. */
int sched_cause(const struct sched *s, int id);
/* How many nodes have each status. */
size_t sched_count(const struct sched *s, enum sched_status st);
const char *sched_status_name(enum sched_status st);

/* What the loop tells its caller, which prints. */
enum sched_event_kind { SCHED_EV_START, SCHED_EV_END, SCHED_EV_TICK,
	SCHED_EV_INFO };		/* INFO: SIGUSR1 or SIGINFO asked */

struct sched_event {
	enum sched_event_kind kind;
	int task;			/* START/END */
	enum sched_status status;	/* END */
	int exit_status;		/* END: wait(2) status */
	double duration;		/* END */
	/* progress, in every event */
	size_t done, total, running, ran;
	double elapsed, eta;		/* eta < 0: not known (a task to run
					 * has no measured duration) */
	const int *running_ids;		/* borrowed, `running` of them */
	const double *started;		/* borrowed, per task (vj_now) */
	int64_t run;			/* the run's number */
	int slot;			/* START/END: its slot (0..jobs-1, jobs
					 * the idle slot) or -1 */
};

struct sched_opts {
	int jobs;
	int keep_going;
	int always;			/* run even what is up to date */
	int dry;			/* -n: decide, run and record nothing
					 * (what would run ends OK; st may be
					 * NULL) */
	int jobserver;			/* be make's jobserver (see loop.c) */
	int no_idle;			/* no idle slot (sched/idle.c) */
	double timeout;			/* seconds a task may take; 0: any */
	const char *command;		/* recorded with the run */
	char *const *recreate;
	void (*event)(const struct sched_event *ev, void *arg);
	void *arg;
	double tick;			/* seconds between TICKs; 0: none */
	unsigned long long log_limit;	/* bytes a log keeps (its tail);
					 * 0: SCHED_LOG_LIMIT */
};

#define SCHED_LOG_LIMIT (32ULL << 20)

/*
 * In a task's child: copies what the task (process pid) writes into the
 * pipe in to the log out, keeping at most limit bytes: past it, the last
 * limit, after a line saying how much was cut. Returns when pid has ended
 * (its wait status in *status), not at end of file; 0, or -1 when the log
 * could not be written (the task still ran to its end).
 */
int sched_log_copy(int in, int out, unsigned long long limit, pid_t pid,
    int *status);

struct sched_result {
	enum sched_status *status;	/* per task; malloc'd */
	double *started, *ended;	/* per task; 0 when it did not run */
	int *cause;			/* per task: the failure that skipped it */
	int signal;			/* the signal that stopped the run, or 0 */
	int orphans;			/* processes tasks left behind, killed */
	/* Jobserver tokens left a while for a running build's make, and
	 * those of them no make took (sched/jobserver.c). */
	size_t tokens_left, tokens_unwanted;
	/* Tasks started in the idle slot, and those of them raised to
	 * vjbuild's priority with a token (sched/idle.c). */
	size_t idle_started, idle_raised;
	int64_t run;
};

/*
 * Runs plan p against state s. Returns 0 when every task ended OK or
 * UPTODATE, 1 when some failed, were skipped or did not start, -1 with err
 * when the loop itself could not go on (the state database failed). The
 * result is filled in every case but -1 before any start; free it with
 * sched_result_free.
 */
int sched_run(struct event_base *base, struct plan *p, struct state *s,
    const struct sched_opts *o, struct sched_result *r, struct vj_err *err);
void sched_result_free(struct sched_result *r);

/*
 * Whether task i is already done: its record is "ok" with the same
 * fingerprint and dependency stamps, and its output is there. stamps[] are
 * the current stamps of all tasks. Used by sched_run and by dry runs.
 */
int sched_uptodate(const struct plan *p, struct state *s, int i,
    const int64_t *stamps);

/*
 * vjbuild adopt: records as done ("ok", run run) each task i with want[i]
 * whose dependencies are done (recorded, or adopted here first) and whose
 * output exists (a build's package is taken from the cache by its finish,
 * digest checked), in one durable transaction; *adopted counts them. The
 * caller has checked that the outputs are the plan's (cli/adopt.c). 0 or -1.
 */
int sched_adopt(const struct plan *p, struct state *st, const char *want,
    int64_t run, size_t *adopted, struct vj_err *err);

/* The log file of task t: STATE/logs/NAME.log; malloc'd. */
char *sched_log_path(const struct state *s, const struct task *t);

#endif
