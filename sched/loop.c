/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The libevent loop that runs a plan (see sched.h).
 *
 * Rules:
 *  - A task's start is recorded in the state before its child is forked;
 *    its end after the child is reaped. Both go in batches: one
 *    transaction for the tasks reaped and started in one turn of the
 *    loop, durable when a task about to start has a record that would
 *    call it done (see state_tx_begin); --always unmakes those records
 *    first, in one durable transaction (force). The parent is the only
 *    writer of the database.
 *  - A task with an argv (a command of a graph file) is started with vfork
 *    and execve, without copying the parent, its output in a memfd that
 *    becomes its log only if it printed anything; others are forked and
 *    run their kind's run() in the child, which the kernel kills if
 *    vjbuild dies.
 *  - Children start with signals blocked, in their own process group (by
 *    both sides, so there is no race), with /dev/null as stdin. What a task
 *    leaves running in its group when it ends is killed and fails it;
 *    vjbuild is the subreaper of its tasks, and what escaped the group is
 *    found, named and killed at the end of the run. --timeout kills a
 *    task's group (TERM, then KILL) and fails it.
 *  - vjbuild is the GNU make jobserver of the run (jobserver_open).
 *  - SIGCHLD is a libevent signal event; the handler reaps in a
 *    waitpid(WNOHANG) loop and dispatches by pid.
 *  - SIGINT, SIGTERM or SIGHUP: nothing more starts, every running group gets
 *    SIGTERM, then SIGKILL after five seconds; the tasks are recorded as
 *    interrupted and the run ends with the signal in the result.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <event2/event.h>

#include "../compat/compat.h"
#include "../graph/graph.h"
#include "../state/state.h"
#include "../tasks/tasks.h"
#include "../util/util.h"
#include "sched.h"

#define KILL_GRACE 5.0

struct slot {
	pid_t pid;
	int task;
	int out;	/* a command's output (memfd), or -1 */
	int token;	/* the jobserver token it holds: a byte, or IMPLICIT */
	struct event *ev_timeout;	/* --timeout: TERM, then KILL */
	int timed_out;
};

#define IMPLICIT	(-1)	/* vjbuild's own token, never in the pipe */

/* A finish reaped and not yet recorded. */
struct pend {
	int task;
	const char *status;
	int exit_status;
	double ended, duration;
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
	size_t npicked;
	struct pend *pend;
	size_t npend, cpend;
	size_t nslots;
	int64_t *stamps;
	char **logs;
	double *weight, *own, t0;
	double eta, eta_at;	/* the last estimate, and when it was made */
	size_t total, ran;
	int fatal;
	int devnull;		/* stdin of commands */
	/* The jobserver: a pipe of -j - 1 tokens that every make below
	 * shares; js[0] and js[1] are its ends as the children see them,
	 * js_nb a non-blocking reading end of vjbuild's own. */
	int js[2], js_nb, implicit_free;
	struct event *ev_js;
	struct event *ev_chld, *ev_int, *ev_term, *ev_hup, *ev_tick, *ev_kill;
	struct event *ev_usr1, *ev_siginfo;
};

/* The hex digest of the stamps of task i's dependencies. */
static void
depstamp(const struct plan *p, int i, const int64_t *stamps, char hex[65])
{
	const struct graph *g = plan_graph(p);
	struct sha256 c;
	size_t k;

	sha256_init(&c);
	for (k = 0; k < graph_ndeps(g, i); k++) {
		char buf[32];
		int n = snprintf(buf, sizeof(buf), "%lld,",
		    (long long)stamps[graph_dep(g, i, k)]);
		sha256_update(&c, buf, (size_t)n);
	}
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
static int
recorded_done(const struct plan *p, struct state *s, int i,
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

	return recorded_done(p, s, i, stamps) && t->ops->exists(t);
}

/*
 * The estimate of what is left: the larger of the longest remaining chain
 * and the remaining work spread over the slots, each task counted at its
 * recorded (or default) duration, less what running tasks have done.
 */
static double
eta(const struct loop *l)
{
	double work = 0, longest = 0, now = vj_now(), left;
	size_t i;

	for (i = 0; i < l->total; i++) {
		enum sched_status st = sched_status(l->s, (int)i);
		if ((st == SCHED_RUNNING || st == SCHED_WAITING ||
		    st == SCHED_READY) && !l->known[i])
			return -1;	/* a guess is not an estimate */
		if (st == SCHED_RUNNING) {
			left = l->own[i] - (now - l->r->started[i]);
			left = left > 0 ? left : 0;
			work += left;
			if (l->weight[i] - l->own[i] + left > longest)
				longest = l->weight[i] - l->own[i] + left;
		} else if (st == SCHED_WAITING || st == SCHED_READY) {
			work += l->own[i];
			if (l->weight[i] > longest)
				longest = l->weight[i];
		}
	}
	work /= (double)l->nslots;
	return work > longest ? work : longest;
}

static void
emit(struct loop *l, enum sched_event_kind kind, int task,
    enum sched_status status, int exit_status, double duration)
{
	struct sched_event ev;
	size_t i, n = 0;

	if (l->o->event == NULL)
		return;
	for (i = 0; i < l->nslots; i++)
		if (l->slots[i].pid > 0)
			l->running_ids[n++] = l->slots[i].task;
	memset(&ev, 0, sizeof(ev));
	ev.kind = kind;
	ev.task = task;
	ev.status = status;
	ev.exit_status = exit_status;
	ev.duration = duration;
	ev.total = l->total;
	ev.done = l->total - sched_count(l->s, SCHED_WAITING) -
	    sched_count(l->s, SCHED_READY) - sched_count(l->s, SCHED_RUNNING);
	ev.running = n;
	ev.ran = l->ran;
	ev.elapsed = vj_now() - l->t0;
	/* eta() walks every task: at most ten times a second. */
	if (ev.elapsed - l->eta_at >= 0.1 || kind == SCHED_EV_TICK ||
	    l->eta_at == 0) {
		l->eta = eta(l);
		l->eta_at = ev.elapsed > 0 ? ev.elapsed : 1e-9;
	}
	ev.eta = l->eta;
	ev.running_ids = l->running_ids;
	ev.started = l->r->started;
	ev.run = l->r->run;
	ev.slot = task >= 0 ? l->slot_of[task] : -1;
	l->o->event(&ev, l->o->arg);
}

/*
 * In the child of a task whose output is not vjbuild's: the task goes on
 * in a process of its own writing into a pipe, and this one stays to copy
 * the pipe into the log with its bound, then ends as the task did. It is
 * in the task's process group but outlives a SIGTERM to it (it ends when
 * the task has); SIGKILL, or vjbuild's death, ends both.
 */
static void
bounded(struct loop *l, int i)
{
	int p[2], status = 0, rw;
	pid_t pid;

	/* Read and written: the tail is put in order at the end. */
	if ((rw = open(l->logs[i], O_RDWR | O_CLOEXEC | O_NOFOLLOW)) == -1)
		return;		/* unbounded, as before */
	if (pipe(p) == -1) {
		close(rw);
		return;
	}
	if ((pid = fork()) == -1) {
		close(p[0]);
		close(p[1]);
		close(rw);
		return;
	}
	if (pid == 0) {
		(void)compat_die_with_parent();
		close(rw);
		close(p[0]);
		if (dup2(p[1], 1) == -1 || dup2(p[1], 2) == -1)
			_exit(127);
		close(p[1]);
		return;
	}
	close(p[1]);
	signal(SIGTERM, SIG_IGN);
	signal(SIGINT, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	if (sched_log_copy(p[0], rw, l->o->log_limit ? l->o->log_limit :
	    SCHED_LOG_LIMIT, pid, &status) == -1)
		dprintf(rw, "vjbuild: this log could not be written whole: "
		    "%s\n", strerror(errno));
	if (WIFSIGNALED(status)) {
		signal(WTERMSIG(status), SIG_DFL);
		(void)kill(getpid(), WTERMSIG(status));
	}
	_exit(WIFEXITED(status) ? WEXITSTATUS(status) : 127);
}

static void
child(struct loop *l, int i, int logfd)
{
	const struct task *t = plan_task(l->p, i);
	struct vj_err err = { "" };
	sigset_t none;
	int devnull, rc;

	(void)setpgid(0, 0);
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGHUP, SIG_DFL);
	signal(SIGCHLD, SIG_DFL);
	signal(SIGPIPE, SIG_DFL);
	signal(SIGUSR1, SIG_DFL);
#ifdef SIGINFO
	signal(SIGINFO, SIG_DFL);
#endif
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	(void)compat_die_with_parent();
	devnull = open("/dev/null", O_RDONLY);
	if (devnull == -1 || dup2(devnull, 0) == -1 || dup2(logfd, 1) == -1 ||
	    dup2(logfd, 2) == -1)
		_exit(127);
	if (t->ops->foreign_output)
		bounded(l, i);
	rc = t->ops->run(t, &err);
	fflush(stdout);
	if (rc != 0)
		fprintf(stderr, "%s: %s\n", t->name, err.msg);
	fflush(stderr);
	_exit(rc == 0 ? 0 : 1);
}

/*
 * A token to start one more task: the implicit one when no task holds it,
 * else a byte from the jobserver pipe. 0 when none is free now.
 */
static int
take_token(struct loop *l, int *token)
{
	unsigned char c;

	if (l->implicit_free || l->js_nb == -1) {
		l->implicit_free = 0;
		*token = IMPLICIT;
		return 1;
	}
	if (read(l->js_nb, &c, 1) != 1)
		return 0;
	*token = c;
	return 1;
}

static void
give_token(struct loop *l, int token)
{
	unsigned char c = (unsigned char)token;

	if (token == IMPLICIT)
		l->implicit_free = 1;
	else
		while (write(l->js[1], &c, 1) == -1 && errno == EINTR)
			;
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
 * One transaction for the finishes reaped since the last batch and the
 * starts about to be made (picked[], whose logs it opens into logfd[]).
 * On failure the picked tasks fail and nothing more starts.
 */
static int
record(struct loop *l, int durable)
{
	struct state_task rec;
	struct sbuf deps = { 0 };
	char ds[65];
	size_t k, d, opened = 0, slot = 0;

	if (state_tx_begin(l->st, durable, l->err) == -1)
		goto fail;
	for (k = 0; k < l->npend; k++) {
		const struct pend *e = &l->pend[k];
		memset(&rec, 0, sizeof(rec));
		rec.name = plan_task(l->p, e->task)->name;
		rec.status = e->status;
		rec.exit_status = e->exit_status;
		rec.ended = e->ended;
		rec.duration = e->duration;
		if (state_task_finish(l->st, &rec, l->err) == -1)
			goto fail;
	}
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
		start_rec(&rec, l->p, i, l->stamps, ds, l->r->run);
		rec.log = l->logs[i];
		/* start() gives the picked tasks the free slots in order. */
		while (slot < l->nslots && l->slots[slot].pid != 0)
			slot++;
		rec.slot = (int)slot++;
		/* What it waited for, for the report's critical path. */
		deps.len = 0;
		for (d = 0; d < graph_ndeps(plan_graph(l->p), i); d++) {
			if (d > 0)
				sbuf_puts(&deps, " ");
			sbuf_puts(&deps, plan_task(l->p,
			    graph_dep(plan_graph(l->p), i, d))->name);
		}
		rec.deps = deps.len ? deps.s : NULL;
		if (state_task_start(l->st, &rec, l->err) == -1)
			goto fail;
		l->stamps[i] = rec.stamp;
	}
	if (state_tx_commit(l->st, l->err) == -1)
		goto fail;
	l->npend = 0;
	sbuf_free(&deps);
	return 0;
fail:
	sbuf_free(&deps);
	/* The record is the one source of truth: stop. */
	state_tx_rollback(l->st);
	for (k = 0; k < opened; k++)
		close(l->logfd[k]);
	for (k = 0; k < l->npicked; k++) {
		sched_finish(l->s, l->picked[k], SCHED_FAILED);
		give_token(l, l->tokens[k]);
	}
	l->npicked = 0;
	l->npend = 0;
	l->fatal = 1;
	sched_stop(l->s);
	return -1;
}

static void
pend(struct loop *l, int i, const char *status, int exit_status,
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
static int
record_unstarted(struct loop *l, struct vj_err *err)
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
 * A command without a shell: vfork and execve, no copy of the parent. Not
 * posix_spawn: glibc's resets every one of the 64 signals in the child
 * (128 system calls a task, the largest cost of a no-op task here); the
 * child only needs the handlers vjbuild installed reset, as the fork path
 * does. Signals stay blocked until then, so no handler of the parent's
 * runs in the child. The child is in its own process group and writes the
 * errno of a failed execve where the parent reads it (the memory is shared
 * until execve).
 */
static pid_t
spawn_argv(struct loop *l, struct task *t, int logfd, int *errnum)
{
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGCHLD,
	    SIGPIPE, SIGUSR1,
#ifdef SIGINFO
	    SIGINFO,
#endif
	};
	volatile int child_errno = 0;
	struct sigaction dfl;
	sigset_t all, old;
	pid_t pid;
	size_t k;

	if (t->exe == NULL) {
		*errnum = ENOENT;
		return -1;
	}
	memset(&dfl, 0, sizeof(dfl));
	dfl.sa_handler = SIG_DFL;
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, &old);
	pid = vfork();
	if (pid == 0) {
		(void)setpgid(0, 0);
		/* It dies with vjbuild, even by kill -9 (a vfork child may
		 * make system calls; compat_die_with_parent only _exits). */
		(void)compat_die_with_parent();
		for (k = 0; k < sizeof(sigs) / sizeof(sigs[0]); k++)
			(void)sigaction(sigs[k], &dfl, NULL);
		sigemptyset(&all);
		(void)sigprocmask(SIG_SETMASK, &all, NULL);
		if (dup2(l->devnull, 0) != -1 && dup2(logfd, 1) != -1 &&
		    dup2(logfd, 2) != -1)
			execve(t->exe, t->argv, environ);
		child_errno = errno;
		_exit(127);
	}
	*errnum = pid == -1 ? errno : child_errno;
	sigprocmask(SIG_SETMASK, &old, NULL);
	if (pid > 0 && *errnum != 0) {
		(void)waitpid(pid, NULL, 0);	/* it has exited */
		return -1;
	}
	return pid;	/* its setpgid is done: vfork returns after execve */
}

/*
 * A command's output (a memfd) becomes its log file when it said anything
 * (its last log_limit bytes, after a line saying what was cut); when it
 * said nothing, a log of an earlier run is removed. Closes out.
 * (state_task_get is the record loaded at open: from before this run.)
 */
static void
keep_output(struct loop *l, int i, int out)
{
	unsigned long long limit = l->o->log_limit ? l->o->log_limit :
	    SCHED_LOG_LIMIT;
	struct stat st;
	off_t off = 0;
	int fd;

	if (fstat(out, &st) == 0 && st.st_size > 0) {
		fd = open(l->logs[i], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC |
		    O_NOFOLLOW, 0644);
		if (fd != -1 && (unsigned long long)st.st_size > limit) {
			dprintf(fd, "vjbuild: %llu bytes of this log were cut "
			    "(log_limit %llu); the last %llu follow\n",
			    (unsigned long long)st.st_size - limit, limit,
			    limit);
			off = st.st_size - (off_t)limit;
		}
		if (fd != -1) {
			while (off < st.st_size && sendfile(fd, out, &off,
			    (size_t)(st.st_size - off)) > 0)
				;
			close(fd);
		}
	} else if (state_task_get(l->st, plan_task(l->p, i)->name) != NULL)
		(void)unlink(l->logs[i]);	/* only a task run before has one */
	close(out);
}

/* Appends a line of vjbuild's own to the log of the task in slot k. */
static void VJ_PRINTF(3, 4)
note(struct loop *l, size_t k, const char *fmt, ...)
{
	va_list ap;
	int fd = l->slots[k].out;

	if (fd == -1)
		fd = open(l->logs[l->slots[k].task], O_WRONLY | O_APPEND |
		    O_CLOEXEC | O_NOFOLLOW);
	if (fd == -1)
		return;
	va_start(ap, fmt);
	vdprintf(fd, fmt, ap);
	va_end(ap);
	if (fd != l->slots[k].out)
		close(fd);
}

/* --timeout: the task's process group gets SIGTERM, then SIGKILL. */
static void
on_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct slot *sl = arg;
	struct timeval grace = { (time_t)KILL_GRACE, 0 };

	(void)fd;
	(void)what;
	if (sl->pid <= 0)
		return;
	if (!sl->timed_out) {
		sl->timed_out = 1;
		(void)killpg(sl->pid, SIGTERM);
		evtimer_add(sl->ev_timeout, &grace);
	} else
		(void)killpg(sl->pid, SIGKILL);
}

/* Starts picked task i, its start recorded; its log is logfd and its
 * jobserver token is token (both taken). */
static void
start(struct loop *l, int i, int logfd, int token)
{
	struct task *t = plan_task(l->p, i);
	sigset_t all, old;
	size_t k;
	int errnum = 0;
	pid_t pid;

	for (k = 0; k < l->nslots && l->slots[k].pid != 0; k++)
		;
	/* Its duration counts its start (vfork and execve: about 0.6 ms a
	 * task on the benchmark VM): the slot is the task's from here. */
	l->r->started[i] = vj_now();
	if (t->argv != NULL)
		pid = spawn_argv(l, t, logfd, &errnum);
	else {
		fflush(stdout);
		fflush(stderr);
		sigfillset(&all);
		sigprocmask(SIG_BLOCK, &all, &old);
		pid = fork();
		if (pid == 0)
			child(l, i, logfd);
		errnum = errno;
		sigprocmask(SIG_SETMASK, &old, NULL);
		if (pid > 0)
			(void)setpgid(pid, pid);
	}
	if (pid == -1) {
		/* This task fails, like a child that cannot exec. */
		dprintf(logfd, "%s: cannot run %s: %s\n", t->name,
		    t->argv ? t->argv[0] : "a child", strerror(errnum));
		if (t->argv != NULL)
			keep_output(l, i, logfd);
		else
			close(logfd);
		l->r->ended[i] = vj_now();
		give_token(l, token);
		pend(l, i, "failed", 127, 0);
		sched_finish(l->s, i, SCHED_FAILED);
		emit(l, SCHED_EV_END, i, SCHED_FAILED, 127 << 8, 0);
		return;
	}
	if (t->argv != NULL)
		l->slots[k].out = logfd;	/* read when it ends */
	else
		close(logfd);
	l->slots[k].pid = pid;
	l->slots[k].task = i;
	l->slot_of[i] = (int)k;
	l->slots[k].token = token;
	l->slots[k].timed_out = 0;
	if (l->o->timeout > 0) {
		struct timeval tv = { (time_t)l->o->timeout, (suseconds_t)
		    ((l->o->timeout - (double)(time_t)l->o->timeout) * 1e6) };
		evtimer_add(l->slots[k].ev_timeout, &tv);
	}
	l->ran++;
	emit(l, SCHED_EV_START, i, SCHED_RUNNING, 0, 0);
}

/*
 * Starts what can start; up-to-date tasks finish at once without a slot.
 * The finishes reaped since the last call and the starts are recorded in
 * one batch before any of the starts is made.
 */
static void
schedule(struct loop *l)
{
	size_t k;
	int i, durable = 0, token, starved = 0;

	l->npicked = 0;
	while (!l->fatal && (i = sched_peek(l->s)) != -1) {
		if (!l->o->always &&
		    sched_uptodate(l->p, l->st, i, l->stamps)) {
			(void)sched_next(l->s);
			sched_finish(l->s, i, SCHED_UPTODATE);
			continue;
		}
		if (sched_count(l->s, SCHED_RUNNING) >= (size_t)l->o->jobs)
			break;
		if (!take_token(l, &token)) {
			starved = 1;	/* the makes below hold them */
			break;
		}
		(void)sched_next(l->s);
		/* A record that calls it done is run again only because its
		 * output is gone (--always has unmade those: see force()):
		 * its start must be durable before it touches anything (see
		 * state_tx_begin). */
		durable |= !l->o->always &&
		    recorded_done(l->p, l->st, i, l->stamps);
		l->tokens[l->npicked] = token;
		l->picked[l->npicked++] = i;
	}
	if (!l->fatal && (l->npend > 0 || l->npicked > 0) &&
	    record(l, durable) == 0)
		for (k = 0; k < l->npicked; k++)
			start(l, l->picked[k], l->logfd[k], l->tokens[k]);
	l->npicked = 0;
	/* Woken by a token coming back only while waiting for one: the pipe
	 * stays readable while tokens sit in it. */
	if (l->ev_js != NULL) {
		if (starved && !l->fatal)
			event_add(l->ev_js, NULL);
		else
			event_del(l->ev_js);
	}
	if (sched_idle(l->s))
		event_base_loopbreak(l->base);
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
static int
force(struct loop *l)
{
	size_t i;
	int open = 0;

	for (i = 0; i < l->total; i++) {
		if (!recorded_done(l->p, l->st, (int)i, l->stamps))
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

/* Runs the kind's finish hook in the parent; its failure goes to the
 * task's log like the child's own messages. */
static enum sched_status
finish(struct loop *l, size_t k)
{
	const struct task *t = plan_task(l->p, l->slots[k].task);
	struct vj_err err;

	if (t->ops->finish == NULL || t->ops->finish(t, &err) == 0)
		return SCHED_OK;
	note(l, k, "%s: %s\n", t->name, err.msg);
	return SCHED_FAILED;
}

/*
 * Task in slot k ended with wstatus. What it left running in its process
 * group is killed, and the task fails for it: a build must not leave a
 * daemon behind. (What escaped the group, with setsid, is found at the end
 * of the run: see sweep.)
 */
static void
reaped(struct loop *l, size_t k, int wstatus)
{
	int i = l->slots[k].task, left;
	pid_t pid = l->slots[k].pid;
	enum sched_status st;

	evtimer_del(l->slots[k].ev_timeout);
	left = killpg(pid, 0) == 0;
	if (left) {
		(void)killpg(pid, SIGKILL);
		note(l, k, "%s: left processes running in its process group; "
		    "vjbuild killed them\n", plan_task(l->p, i)->name);
	}
	if (l->slots[k].timed_out)
		note(l, k, "%s: timed out after %gs; its process group was "
		    "killed\n", plan_task(l->p, i)->name, l->o->timeout);
	l->slots[k].pid = 0;
	give_token(l, l->slots[k].token);
	l->r->ended[i] = vj_now();
	if (l->r->signal != 0)
		st = SCHED_INTERRUPTED;
	else if (WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0 && !left &&
	    !l->slots[k].timed_out)
		st = finish(l, k);
	else
		st = SCHED_FAILED;
	if (l->slots[k].out != -1) {
		keep_output(l, i, l->slots[k].out);
		l->slots[k].out = -1;
	}
	pend(l, i, st == SCHED_OK ? "ok" : st == SCHED_FAILED ? "failed" :
	    "interrupted", l->slots[k].timed_out ? 124 : WIFEXITED(wstatus) ?
	    WEXITSTATUS(wstatus) : 128 + WTERMSIG(wstatus),
	    l->r->ended[i] - l->r->started[i]);
	sched_finish(l->s, i, st);
	emit(l, SCHED_EV_END, i, st, wstatus, l->r->ended[i] - l->r->started[i]);
	free(l->logs[i]);	/* done with; memory is per task */
	l->logs[i] = NULL;
}

/*
 * At the end of a run: processes a task left behind outside its process
 * group (a daemon that called setsid) were reparented to vjbuild, the
 * subreaper. Each is named and killed; the count, which fails the run.
 */
static int
sweep(void)
{
	pid_t kids[64];
	char path[64], comm[64];
	int n, k, found = 0, rounds = 0;

	while (rounds++ < 100 && (n = compat_children(kids, 64)) > 0) {
		for (k = 0; k < n; k++) {
			FILE *f;
			snprintf(path, sizeof(path), "/proc/%d/comm",
			    (int)kids[k]);
			strcpy(comm, "?");
			if ((f = fopen(path, "re")) != NULL) {
				if (fgets(comm, sizeof(comm), f) != NULL)
					comm[strcspn(comm, "\n")] = '\0';
				fclose(f);
			}
			(void)kill(kids[k], SIGKILL);
			(void)waitpid(kids[k], NULL, 0);
			fprintf(stderr, "vjbuild: pid %d (%s) was left running "
			    "by a task of this run; killed it\n", (int)kids[k],
			    comm);
			found++;
		}
	}
	return found;
}

static void
on_chld(evutil_socket_t sig, short what, void *arg)
{
	struct loop *l = arg;
	int wstatus;
	pid_t pid;
	size_t k;

	(void)sig;
	(void)what;
	while ((pid = waitpid(-1, &wstatus, WNOHANG)) > 0) {
		for (k = 0; k < l->nslots; k++)
			if (l->slots[k].pid == pid)
				break;
		if (k < l->nslots)
			reaped(l, k, wstatus);
	}
	schedule(l);
}

static void
kill_all(struct loop *l, int sig)
{
	size_t k;

	for (k = 0; k < l->nslots; k++)
		if (l->slots[k].pid > 0)
			(void)killpg(l->slots[k].pid, sig);
}

static void
on_kill(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	kill_all(arg, SIGKILL);
}

static void
on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct loop *l = arg;
	struct timeval grace = { (time_t)KILL_GRACE, 0 };

	(void)what;
	if (l->r->signal != 0) {
		kill_all(l, SIGKILL);	/* a second signal: no more grace */
		return;
	}
	l->r->signal = (int)sig;
	sched_stop(l->s);
	kill_all(l, SIGTERM);
	evtimer_add(l->ev_kill, &grace);
	schedule(l);
}

static void
on_token(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	schedule(arg);
}

/*
 * The jobserver of GNU make: a pipe holding -j - 1 tokens, its ends left
 * open in every child and named in MAKEFLAGS, so that a make run by any
 * task takes a token for each job beyond its first, and vjbuild takes one
 * for each task beyond its first: never more than -j jobs in all. vjbuild
 * reads tokens through a non-blocking descriptor of its own for the same
 * pipe (/proc/self/fd), so that the ends the makes share stay blocking.
 * Without /proc the run goes on without a jobserver and says so.
 */
static int
jobserver_open(struct loop *l, struct vj_err *err)
{
	char path[64], flags[96];
	size_t n;

	l->implicit_free = 1;
	if (!l->o->jobserver || l->nslots < 2)
		return 0;
	if (pipe(l->js) == -1) {
		vj_errno(err, "jobserver: pipe");
		return -1;
	}
	snprintf(path, sizeof(path), "/proc/self/fd/%d", l->js[0]);
	if ((l->js_nb = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)) == -1) {
		fprintf(stderr, "vjbuild: no jobserver (%s: %s): each make "
		    "below runs with its own -j\n", path, strerror(errno));
		close(l->js[0]);
		close(l->js[1]);
		l->js[0] = l->js[1] = -1;
		return 0;
	}
	for (n = 1; n < l->nslots; n++)
		if (write(l->js[1], "+", 1) != 1) {
			vj_errno(err, "jobserver: write");
			return -1;
		}
	snprintf(flags, sizeof(flags), "-j%zu --jobserver-auth=%d,%d",
	    l->nslots, l->js[0], l->js[1]);
	setenv("MAKEFLAGS", flags, 1);
	l->ev_js = event_new(l->base, l->js_nb, EV_READ | EV_PERSIST,
	    on_token, l);
	return 0;
}

static void
jobserver_close(struct loop *l)
{
	if (l->ev_js != NULL)
		event_free(l->ev_js);
	if (l->js_nb != -1)
		close(l->js_nb);
	if (l->js[0] != -1) {
		close(l->js[0]);
		close(l->js[1]);
		unsetenv("MAKEFLAGS");
	}
}

/* SIGUSR1 (and SIGINFO, ^T, where there is one): what runs now. */
static void
on_info(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	emit(arg, SCHED_EV_INFO, -1, SCHED_RUNNING, 0, 0);
}

static void
on_tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	emit(arg, SCHED_EV_TICK, -1, SCHED_RUNNING, 0, 0);
}

static void
weights(struct loop *l)
{
	double *own = l->own, est;
	const struct state_task *rec;
	size_t i;

	for (i = 0; i < l->total; i++) {
		const struct task *t = plan_task(l->p, (int)i);
		rec = l->st ? state_task_get(l->st, t->name) : NULL;
		l->known[i] = 1;
		if (rec != NULL && rec->duration >= 0)
			own[i] = rec->duration;
		else if (l->st != NULL &&
		    (est = state_kind_estimate(l->st, t->ops->kind)) >= 0)
			own[i] = est;
		else {
			own[i] = t->ops->estimate;
			l->known[i] = 0;
		}
		l->stamps[i] = rec ? rec->stamp : 0;
	}
	graph_critical(plan_graph(l->p), plan_order(l->p), own, l->weight);
}

/*
 * The dry run (-n): the same walk as a run, in the same order, with a
 * runner that does nothing: a task that is not up to date "runs" (OK, a
 * stamp no record has, so that what depends on it would run too); nothing
 * is started, recorded or written.
 */
static void
dry(struct loop *l)
{
	int64_t fresh = 0;
	int i;

	while ((i = sched_next(l->s)) != -1) {
		if (!l->o->always && l->st != NULL &&
		    sched_uptodate(l->p, l->st, i, l->stamps)) {
			sched_finish(l->s, i, SCHED_UPTODATE);
			continue;
		}
		l->stamps[i] = --fresh;
		sched_finish(l->s, i, SCHED_OK);
		emit(l, SCHED_EV_END, i, SCHED_OK, 0, 0);
	}
}

int
sched_run(struct event_base *base, struct plan *p, struct state *st,
    const struct sched_opts *o, struct sched_result *r, struct vj_err *err)
{
	struct state_counts counts;
	struct loop l;
	size_t i;
	int rc = -1;

	memset(&l, 0, sizeof(l));
	memset(r, 0, sizeof(*r));
	l.devnull = l.js[0] = l.js[1] = l.js_nb = -1;
	l.base = base;
	l.p = p;
	l.st = st;
	l.o = o;
	l.r = r;
	l.err = err;
	l.total = plan_count(p);
	l.nslots = (size_t)(o->jobs > 0 ? o->jobs : 1);
	l.slots = xcalloc(l.nslots, sizeof(*l.slots));
	for (i = 0; i < l.nslots; i++) {
		l.slots[i].out = -1;
		l.slots[i].ev_timeout = evtimer_new(base, on_timeout,
		    &l.slots[i]);
	}
	(void)compat_subreaper();
	l.running_ids = xcalloc(l.nslots, sizeof(*l.running_ids));
	l.picked = xcalloc(l.nslots, sizeof(*l.picked));
	l.tokens = xcalloc(l.nslots, sizeof(*l.tokens));
	l.logfd = xcalloc(l.nslots, sizeof(*l.logfd));
	l.stamps = xcalloc(l.total, sizeof(*l.stamps));
	l.logs = xcalloc(l.total, sizeof(*l.logs));
	l.weight = xcalloc(l.total, sizeof(*l.weight));
	l.own = xcalloc(l.total, sizeof(*l.own));
	l.known = xcalloc(l.total ? l.total : 1, 1);
	l.slot_of = xmalloc((l.total ? l.total : 1) * sizeof(*l.slot_of));
	for (i = 0; i < l.total; i++)
		l.slot_of[i] = -1;
	r->status = xcalloc(l.total, sizeof(*r->status));
	r->started = xcalloc(l.total, sizeof(*r->started));
	r->ended = xcalloc(l.total, sizeof(*r->ended));
	r->cause = xcalloc(l.total, sizeof(*r->cause));
	weights(&l);
	l.s = sched_new(plan_graph(p), l.weight, o->keep_going);
	if (o->dry) {
		dry(&l);
		for (i = 0; i < l.total; i++)
			r->status[i] = sched_status(l.s, (int)i);
		rc = 0;
		goto out;
	}
	if ((l.devnull = open("/dev/null", O_RDONLY | O_CLOEXEC)) == -1) {
		vj_errno(err, "/dev/null");
		goto out;
	}
	if (jobserver_open(&l, err) == -1)
		goto out;
	if (state_run_begin(st, o->command ? o->command : "", (int)l.nslots,
	    &r->run, err) == -1)
		goto out;
	if (o->always && force(&l) == -1) {
		(void)state_run_end(st, r->run, "error", NULL, NULL);
		goto out;
	}
	l.t0 = vj_now();
	l.ev_chld = evsignal_new(base, SIGCHLD, on_chld, &l);
	l.ev_int = evsignal_new(base, SIGINT, on_signal, &l);
	l.ev_term = evsignal_new(base, SIGTERM, on_signal, &l);
	/* A closed terminal (or `kill -HUP`) is a stop like SIGTERM: its
	 * default would end vjbuild with its tasks still running. */
	l.ev_hup = evsignal_new(base, SIGHUP, on_signal, &l);
	l.ev_kill = evtimer_new(base, on_kill, &l);
	evsignal_add(l.ev_chld, NULL);
	evsignal_add(l.ev_int, NULL);
	evsignal_add(l.ev_term, NULL);
	evsignal_add(l.ev_hup, NULL);
	l.ev_usr1 = evsignal_new(base, SIGUSR1, on_info, &l);
	evsignal_add(l.ev_usr1, NULL);
#ifdef SIGINFO
	l.ev_siginfo = evsignal_new(base, SIGINFO, on_info, &l);
	evsignal_add(l.ev_siginfo, NULL);
#endif
	if (o->tick > 0) {
		struct timeval tv = { (time_t)o->tick,
		    (suseconds_t)((o->tick - (long)o->tick) * 1e6) };
		l.ev_tick = event_new(base, -1, EV_PERSIST, on_tick, &l);
		evtimer_add(l.ev_tick, &tv);
	}
	schedule(&l);
	if (!sched_idle(l.s))
		event_base_dispatch(base);
	/* Finishes of tasks that could not start, reaped last. */
	if (!l.fatal && l.npend > 0)
		(void)record(&l, 0);
	r->orphans = sweep();
	for (i = 0; i < l.total; i++) {
		r->status[i] = sched_status(l.s, (int)i);
		r->cause[i] = sched_cause(l.s, (int)i);
	}
	if (l.fatal) {
		/* err says what failed; children are gone (loop idle). */
		(void)state_run_end(st, r->run, "error", NULL, NULL);
		rc = -1;
		goto out;
	}
	rc = sched_count(l.s, SCHED_OK) + sched_count(l.s, SCHED_UPTODATE) ==
	    l.total && r->orphans == 0 ? 0 : 1;
	counts.tasks = (int64_t)l.total;
	counts.ran = (int64_t)l.ran;
	counts.uptodate = (int64_t)sched_count(l.s, SCHED_UPTODATE);
	counts.failed = (int64_t)(sched_count(l.s, SCHED_FAILED) +
	    sched_count(l.s, SCHED_INTERRUPTED));
	counts.skipped = (int64_t)l.total - counts.ran - counts.uptodate;
	if (record_unstarted(&l, err) == -1 || state_run_end(st, r->run,
	    r->signal ? "interrupted" : rc == 0 ? "ok" : "failed", &counts,
	    err) == -1)
		rc = -1;
out:
	if (l.ev_chld) event_free(l.ev_chld);
	if (l.ev_int) event_free(l.ev_int);
	if (l.ev_term) event_free(l.ev_term);
	if (l.ev_hup) event_free(l.ev_hup);
	if (l.ev_kill) event_free(l.ev_kill);
	if (l.ev_tick) event_free(l.ev_tick);
	if (l.ev_usr1) event_free(l.ev_usr1);
	if (l.ev_siginfo) event_free(l.ev_siginfo);
	sched_free(l.s);
	for (i = 0; i < l.total; i++)
		free(l.logs[i]);
	free(l.logs);
	for (i = 0; i < l.nslots; i++)
		if (l.slots[i].ev_timeout)
			event_free(l.slots[i].ev_timeout);
	free(l.slots);
	free(l.running_ids);
	free(l.picked);
	free(l.slot_of);
	free(l.known);
	free(l.tokens);
	jobserver_close(&l);
	free(l.logfd);
	if (l.devnull != -1)
		close(l.devnull);
	free(l.pend);
	free(l.stamps);
	free(l.weight);
	free(l.own);
	return rc;
}

void
sched_result_free(struct sched_result *r)
{
	free(r->status);
	free(r->started);
	free(r->ended);
	free(r->cause);
	memset(r, 0, sizeof(*r));
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
		done[k] = (char)recorded_done(p, st, (int)k, stamps);
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
