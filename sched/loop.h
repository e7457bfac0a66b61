/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Inside the loop that runs a plan: what loop.c (the loop, its events and
 * signals), record.c (what is recorded, up to date, adopted), spawn.c (a
 * task's process and output) and jobserver.c share. sched.h is the
 * interface.
 */
#ifndef VJ_SCHED_LOOP_H
#define VJ_SCHED_LOOP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "../tasks/tasks.h"
#include "../util/util.h"
#include "sched.h"

struct event;
struct event_base;
struct task;

#define KILL_GRACE 5.0
#define IMPLICIT	(-1)	/* vjbuild's own token, never in the pipe */
#define NO_TOKEN	(-2)	/* the idle slot's task holds none (idle.c) */

struct slot {
	pid_t pid;
	int task;
	int out;	/* a command's output (memfd), or -1 */
	int token;	/* the jobserver token it holds: a byte, or IMPLICIT */
	/* A build's own jobserver pipe (jobserver.c): vjbuild's ends (both
	 * non-blocking), the ends its make is given (closed here once
	 * forked), or -1; the bytes vjbuild put there and did not take
	 * back, those seen there at the last look and since when, and the
	 * byte's value. */
	int pb_w, pb_nb, pb_r, pb_cw;
	int offered, seen;
	double since;
	unsigned char tok;
	struct event *ev_timeout;	/* --timeout: TERM, then KILL */
	int timed_out;
};


/* A finish reaped and not yet recorded. */
struct pend {
	int task;
	const char *status;
	int exit_status;
	double ended, duration;
};

/* A start not written yet (loop_record); task -1 once written. */
struct pstart {
	int task, slot;
	int64_t stamp;
	double started;		/* wall clock */
	char ds[65];		/* its depstamp */
};

struct loop {
	struct event_base *base;
	struct plan *p;
	struct state *st;
	const struct sched_opts *o;
	struct sched_result *r;
	struct sched *s;
	struct vj_err *err;
	struct slot *slots;
	int *running_ids;
	int *picked, *logfd;	/* the batch being started; nslots each */
	int *slot_of;		/* per task: the slot it ran in, or -1 */
	char *known;		/* per task: its duration was measured (its own
				 * or its kind's), not a default */
	int *tokens;		/* and the jobserver tokens they hold */
	int *pslots;		/* and the slots they get (pick_slot) */
	size_t npicked;
	struct pend *pend;
	size_t npend, cpend;
	size_t nslots;		/* jobs, and the idle slot */
	size_t jobs;		/* -j: the tasks that hold a token */
	int idle_ok;		/* the idle slot: -1 not known yet, 0 off */
	int nice0;		/* vjbuild's own priority */
	int64_t *stamps;
	char **logs;
	double *weight, *own, t0;
	double eta, eta_at;	/* the last estimate, and when it was made */
	size_t total, ran;
	int fatal;
	int devnull;		/* stdin of commands */
	/* The jobserver: a pipe of -j - 1 tokens, vjbuild's pool; js[0] and
	 * js[1] are its ends as a graph's commands see them, js_nb a
	 * non-blocking reading end of vjbuild's own. A build's make never
	 * sees it: it has a pipe of its own (struct slot). */
	int js[2], js_nb, implicit_free;
	int js_outer;		/* the pipe is a make's above vjbuild */
	/* A pipe token left a while for a running build's make
	 * (loop_defer_token): none, waiting (ev_defer armed), or expired
	 * (the next task may take it). */
	enum { DEFER_NONE, DEFER_WAITING, DEFER_EXPIRED } defer;
	struct event *ev_defer;
	double defer_at;	/* when the wait began */
	/* Until then no token is left: the last one was, and no make took
	 * it (their builds' makes run one job now: a configure, a link). */
	double defer_quiet_until;
	struct event *ev_js;
	/* The builds' pipes looked at while any is open (jobserver.c), and
	 * the ready task that found no token (-1: none). */
	struct event *ev_pipes;
	size_t npipes, *order;	/* and their slots in order (piped) */
	int want;
	struct event *ev_chld, *ev_int, *ev_term, *ev_hup, *ev_tick, *ev_kill;
	struct event *ev_usr1, *ev_siginfo;
	/* Records not written yet (loop_record): the starts (pst_at, per
	 * task: its index in pst or -1), the finishes are pend; since when
	 * they wait, and the timer that writes them HOLD_S after;
	 * held_since < 0: none waits. */
	struct pstart *pst;
	size_t npst, cpst;
	int *pst_at;
	struct event *ev_flush;
	double held_since;
};

/* Task i is a build: code not vjbuild's, whose make may take tokens. */
static inline int
loop_is_build(const struct loop *l, int i)
{
	const struct task *t = plan_task(l->p, i);

	return t->ops->foreign_output && t->argv == NULL;
}

/* Between the files (each defined where its name says: spawn.c, record.c,
 * jobserver.c, loop.c). */
void loop_child(struct loop *l, int i, int logfd, int idle, size_t k);
enum sched_status loop_finish(struct loop *l, size_t k);
int loop_force(struct loop *l);
void loop_give_token(struct loop *l, int token);
void loop_jobserver_close(struct loop *l);
int loop_jobserver_open(struct loop *l, struct vj_err *err);
void loop_keep_output(struct loop *l, int i, int out);
void loop_note(struct loop *l, size_t k, const char *fmt, ...)
    VJ_PRINTF(3, 4);
void loop_pend(struct loop *l, int i, const char *status, int exit_status,
    double duration);
int loop_record(struct loop *l, int durable);
int loop_flush(struct loop *l);
void loop_hold_init(struct loop *l);
int loop_record_unstarted(struct loop *l, struct vj_err *err);
int loop_recorded_done(const struct plan *p, struct state *s, int i,
    const int64_t *stamps);
void loop_schedule(struct loop *l);
pid_t loop_spawn_argv(struct loop *l, struct task *t, int logfd, int *errnum);
void loop_start(struct loop *l, int i, int logfd, int token, int slot);
int loop_take_token(struct loop *l, int *token);
int loop_defer_token(struct loop *l, int i);
void loop_idle_child(void);
int loop_pipe_open(struct loop *l, size_t k);
void loop_pipe_child(struct loop *l, size_t k);
void loop_pipe_forked(struct loop *l, size_t k);
void loop_pipe_close(struct loop *l, size_t k);
void loop_pipes_balance(struct loop *l);
int loop_idle_raise(struct loop *l);
int loop_idle_wanted(struct loop *l, int i);
/* --timeout of a slot: TERM, then KILL (an event callback). */
void loop_on_timeout(int fd, short what, void *arg);

#endif
