/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The libevent loop that runs a plan (see sched.h).
 *
 * Rules:
 *  - A task's start is recorded in the state before its child is forked
 *    when its record would call it done, durably (see state_tx_begin);
 *    --always unmakes those records first, in one durable transaction
 *    (force). Other starts, and the ends of tasks shorter than HOLD_S,
 *    may wait up to HOLD_S to be written with the next ones, a task that
 *    started and ended meanwhile as one row (record.c): what a crash loses
 *    of them only runs again. The parent is the only writer of the
 *    database but for a task's registry (its own connection).
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
 *  - vjbuild is the GNU make jobserver of the run (jobserver_open), each
 *    build's make on a pipe of its own that vjbuild fills from the run's
 *    tokens and takes back from (loop_pipe_open, loop_pipes_balance); a
 *    token that a running build's make may want is put there a while
 *    before a task of no higher priority takes it, unless the last one
 *    was not wanted a moment ago (loop_defer_token).
 *  - A task behind a running build (on a shorter chain) takes no token:
 *    it runs in the idle slot, one beyond -j at the lowest CPU priority,
 *    or waits for it; it gets a token and vjbuild's priority when no
 *    running build is ahead of it any more (idle.c).
 *  - SIGCHLD is a libevent signal event; the handler reaps in a
 *    waitpid(WNOHANG) loop and dispatches by pid.
 *  - SIGINT, SIGTERM or SIGHUP: nothing more starts, every running group gets
 *    SIGTERM, then SIGKILL after five seconds; the tasks are recorded as
 *    interrupted and the run ends with the signal in the result.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <event2/event.h>

#include "../graph/graph.h"
#include "../state/state.h"
#include "../tasks/tasks.h"
#include "loop.h"

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
	work /= (double)l->jobs;
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

/* Starts picked task i in slot k, its start recorded; its log is logfd
 * and its jobserver token is token (both taken). */
void
loop_start(struct loop *l, int i, int logfd, int token, int slot)
{
	struct task *t = plan_task(l->p, i);
	sigset_t all, old;
	size_t k = (size_t)slot;
	int errnum = 0;
	pid_t pid;

	/* Its duration counts its start (vfork and execve: about 0.6 ms a
	 * task on the benchmark VM): the slot is the task's from here. */
	l->r->started[i] = vj_now();
	if (t->argv != NULL)
		pid = loop_spawn_argv(l, t, logfd, &errnum);
	else if (token != NO_TOKEN && l->js_nb != -1 && loop_is_build(l, i) &&
	    loop_pipe_open(l, k) == -1) {
		errnum = errno;
		pid = -1;
	} else {
		fflush(stdout);
		fflush(stderr);
		sigfillset(&all);
		sigprocmask(SIG_BLOCK, &all, &old);
		pid = fork();
		if (pid == 0)
			loop_child(l, i, logfd, token == NO_TOKEN, k);
		errnum = errno;
		sigprocmask(SIG_SETMASK, &old, NULL);
		if (pid > 0)
			(void)setpgid(pid, pid);
		loop_pipe_forked(l, k);
	}
	if (pid == -1) {
		loop_pipe_close(l, k);
		/* This task fails, like a child that cannot exec. */
		dprintf(logfd, "%s: cannot run %s: %s\n", t->name,
		    t->argv ? t->argv[0] : "a child", strerror(errnum));
		if (t->argv != NULL)
			loop_keep_output(l, i, logfd);
		else
			close(logfd);
		l->r->ended[i] = vj_now();
		loop_give_token(l, token);
		loop_pend(l, i, "failed", 127, 0);
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
	if (token == NO_TOKEN)
		l->r->idle_started++;
	emit(l, SCHED_EV_START, i, SCHED_RUNNING, 0, 0);
}

/*
 * A free slot for a task picked now: the idle slot's task gets the last
 * (number jobs) if it is free, another the first free. So a record's slot
 * is jobs for a task started in the idle slot, unless a task raised from
 * there still holds that one.
 */
static int
pick_slot(const struct loop *l, int idle)
{
	size_t k, m;

	for (k = idle ? l->jobs : 0; k < l->nslots + (idle ? l->jobs : 0);
	    k++) {
		size_t s = k % l->nslots;
		if (l->slots[s].pid != 0)
			continue;
		for (m = 0; m < l->npicked && l->pslots[m] != (int)s; m++)
			;
		if (m == l->npicked)
			return (int)s;
	}
	return -1;	/* not reached: a pick has a slot */
}

/*
 * Picks the ready tasks that can start now, best first, into l->picked;
 * up-to-date tasks finish at once without a slot. *idle counts the idle
 * slot's task (running or picked); *starved is set when a token was
 * wanted and the makes below hold them all.
 */
static void
pick(struct loop *l, size_t *idle, int *starved, int *durable)
{
	int i, token;

	while (!l->fatal && (i = sched_peek(l->s)) != -1) {
		if (!l->o->always &&
		    sched_uptodate(l->p, l->st, i, l->stamps)) {
			(void)sched_next(l->s);
			sched_finish(l->s, i, SCHED_UPTODATE);
			continue;
		}
		if (loop_idle_wanted(l, i)) {
			/* Behind a running build: no token, the idle slot
			 * (or a wait for it: what follows is behind too). */
			if (*idle > 0)
				break;
			token = NO_TOKEN;
			++*idle;
		} else {
			if (sched_count(l->s, SCHED_RUNNING) - *idle >= l->jobs)
				break;
			/* A running build's make may want the token:
			 * on_defer or a finish calls again (not starved: the
			 * pipe stays readable meanwhile, so ev_js is off). */
			if (loop_defer_token(l, i))
				break;
			if (!loop_take_token(l, &token)) {
				*starved = 1;	/* the makes below hold them */
				l->want = i;
				break;
			}
		}
		(void)sched_next(l->s);
		/* A record that calls it done is run again only because its
		 * output is gone (--always has unmade those: see loop_force()):
		 * its start must be durable before it touches anything (see
		 * state_tx_begin). */
		*durable |= !l->o->always &&
		    loop_recorded_done(l->p, l->st, i, l->stamps);
		l->tokens[l->npicked] = token;
		l->pslots[l->npicked] = pick_slot(l, token == NO_TOKEN);
		l->picked[l->npicked++] = i;
	}
}

/*
 * Starts what can start. The finishes reaped since the last call and the
 * starts are recorded in one batch before any of the starts is made.
 */
void
loop_schedule(struct loop *l)
{
	size_t k, idle = 0;
	int durable = 0, starved = 0;

	l->npicked = 0;
	l->want = -1;
	for (k = 0; k < l->nslots; k++)
		idle += l->slots[k].pid > 0 && l->slots[k].token == NO_TOKEN;
	pick(l, &idle, &starved, &durable);
	/* Then the idle slot's task takes a token if no build, running or
	 * picked just now, is ahead of it (after the picks: a build that
	 * starts now on a longer chain gets the token first); a task
	 * behind a build may take the slot it leaves. */
	if (!l->fatal && !starved) {
		switch (loop_idle_raise(l)) {
		case 1:
			idle--;
			pick(l, &idle, &starved, &durable);
			break;
		case -1:
			starved = 1;
			break;
		}
	}
	if (!l->fatal && (l->npend > 0 || l->npicked > 0) &&
	    loop_record(l, durable) == 0)
		for (k = 0; k < l->npicked; k++)
			loop_start(l, l->picked[k], l->logfd[k], l->tokens[k],
			    l->pslots[k]);
	l->npicked = 0;
	loop_pipes_balance(l);
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

/* Runs the kind's finish hook in the parent; its failure goes to the
 * task's log like the child's own messages. */
enum sched_status
loop_finish(struct loop *l, size_t k)
{
	const struct task *t = plan_task(l->p, l->slots[k].task);
	struct vj_err err;

	if (t->ops->finish == NULL || t->ops->finish(t, &err) == 0)
		return SCHED_OK;
	loop_note(l, k, "%s: %s\n", t->name, err.msg);
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
		loop_note(l, k, "%s: left processes running in its process group; "
		    "vjbuild killed them\n", plan_task(l->p, i)->name);
	}
	if (l->slots[k].timed_out)
		loop_note(l, k, "%s: timed out after %gs; its process group was "
		    "killed\n", plan_task(l->p, i)->name, l->o->timeout);
	l->slots[k].pid = 0;
	loop_pipe_close(l, k);
	loop_give_token(l, l->slots[k].token);
	l->r->ended[i] = vj_now();
	if (l->r->signal != 0)
		st = SCHED_INTERRUPTED;
	else if (WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0 && !left &&
	    !l->slots[k].timed_out)
		st = loop_finish(l, k);
	else
		st = SCHED_FAILED;
	if (l->slots[k].out != -1) {
		loop_keep_output(l, i, l->slots[k].out);
		l->slots[k].out = -1;
	}
	loop_pend(l, i, st == SCHED_OK ? "ok" : st == SCHED_FAILED ? "failed" :
	    "interrupted", l->slots[k].timed_out ? 124 : WIFEXITED(wstatus) ?
	    WEXITSTATUS(wstatus) : 128 + WTERMSIG(wstatus),
	    l->r->ended[i] - l->r->started[i]);
	sched_finish(l->s, i, st);
	emit(l, SCHED_EV_END, i, st, wstatus, l->r->ended[i] - l->r->started[i]);
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
	loop_schedule(l);
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
	loop_schedule(l);
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

/*
 * Each task's own duration: its last recorded one, else the mean of its
 * kind's in this state, else its kind's estimate; a build that
 * priority_boost names counts ten times until it has one of its own
 * (task_boost). weight[]: the longest chain from each to the end.
 */
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
		if ((rec == NULL || rec->duration < 0) && task_boost(t) > 1) {
			own[i] *= task_boost(t);
			l->known[i] = 0;	/* a guess */
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
	l.jobs = (size_t)(o->jobs > 0 ? o->jobs : 1);
	l.nslots = l.jobs + 1;
	l.idle_ok = o->no_idle || o->dry ? 0 : -1;
	l.slots = xcalloc(l.nslots, sizeof(*l.slots));
	l.want = -1;
	for (i = 0; i < l.nslots; i++) {
		l.slots[i].out = -1;
		l.slots[i].pb_w = l.slots[i].pb_nb = -1;
		l.slots[i].pb_r = l.slots[i].pb_cw = -1;
		l.slots[i].ev_timeout = evtimer_new(base, loop_on_timeout,
		    &l.slots[i]);
	}
	(void)compat_subreaper();
	l.running_ids = xcalloc(l.nslots, sizeof(*l.running_ids));
	l.picked = xcalloc(l.nslots, sizeof(*l.picked));
	l.tokens = xcalloc(l.nslots, sizeof(*l.tokens));
	l.pslots = xcalloc(l.nslots, sizeof(*l.pslots));
	l.order = xcalloc(l.nslots, sizeof(*l.order));
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
	if (loop_jobserver_open(&l, err) == -1)
		goto out;
	if (state_run_begin(st, o->command ? o->command : "", (int)l.jobs,
	    &r->run, err) == -1)
		goto out;
	if (o->always && loop_force(&l) == -1) {
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
	loop_hold_init(&l);
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
	loop_schedule(&l);
	if (!sched_idle(l.s))
		event_base_dispatch(base);
	/* Finishes of tasks that could not start, reaped last. */
	if (!l.fatal && l.npend > 0)
		(void)loop_record(&l, 0);
	if (!l.fatal)
		(void)loop_flush(&l);
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
	if (loop_record_unstarted(&l, err) == -1 || state_run_end(st, r->run,
	    r->signal ? "interrupted" : rc == 0 ? "ok" : "failed", &counts,
	    err) == -1)
		rc = -1;
out:
	if (l.ev_chld) event_free(l.ev_chld);
	if (l.ev_int) event_free(l.ev_int);
	if (l.ev_term) event_free(l.ev_term);
	if (l.ev_hup) event_free(l.ev_hup);
	if (l.ev_kill) event_free(l.ev_kill);
	if (l.ev_flush) event_free(l.ev_flush);
	if (l.ev_tick) event_free(l.ev_tick);
	if (l.ev_usr1) event_free(l.ev_usr1);
	if (l.ev_siginfo) event_free(l.ev_siginfo);
	sched_free(l.s);
	for (i = 0; i < l.total; i++)
		free(l.logs[i]);
	free(l.logs);
	for (i = 0; i < l.nslots; i++) {
		if (l.slots[i].ev_timeout)
			event_free(l.slots[i].ev_timeout);
		if (l.slots[i].pb_w != -1) {	/* not reached: all reaped */
			close(l.slots[i].pb_w);
			close(l.slots[i].pb_nb);
		}
	}
	free(l.slots);
	free(l.running_ids);
	free(l.picked);
	free(l.slot_of);
	free(l.known);
	free(l.tokens);
	free(l.pslots);
	free(l.order);
	loop_jobserver_close(&l);
	free(l.logfd);
	if (l.devnull != -1)
		close(l.devnull);
	free(l.pend);
	free(l.pst);
	free(l.pst_at);
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
