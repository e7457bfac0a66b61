/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The idle slot: one task beyond -j, at the lowest CPU priority, for what
 * the builds on the critical path leave idle.
 *
 * Under -jN a build's make shares N tokens with every other task. A task
 * off the critical path that takes a token while the critical build's
 * make runs one job (a configure, a link) holds it when that make wants
 * two again: the build runs its jobs one at a time beside it, and the
 * run's length is that build's (bench/makefile.py: apr-util 46 to 56 s
 * under vjbuild against 31 to 42 s under make, apache2 303 to 340 s
 * against 299 and 301, small ports beside them). A token left a while
 * for the make (jobserver.c's deferral) helps only at the moment one
 * comes free.
 *
 * So a ready task behind a running build (whose weight, the longest chain
 * from it to the end, is greater than the task's) takes no token: it
 * starts in the idle slot, at nice 19 (below vjbuild's own priority, so
 * the kernel gives it what CPU the other tasks leave), its make outside
 * the jobserver with one job (port.c, task_idle), and waits there for the
 * slot when another holds it. When no running build is ahead of it any
 * more (the critical chain has ended, or it is now on it), it takes a
 * token like any task and its process group gets vjbuild's priority back
 * (setpriority(PRIO_PGRP)). One slot: on a machine of N CPUs, a build's
 * make running one job leaves N - 1 of them; the slot takes one of those,
 * memory for one task more. Builds only: a graph's commands and runs
 * without builds keep -j as it is. Off with --no-idle-slot, and where
 * vjbuild may not raise a priority back (not root, or a container without
 * CAP_SYS_NICE: found by a child trying once).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../tasks/tasks.h"
#include "loop.h"

#define IDLE_NICE 19

/* A child lowers its priority and raises it back: 1 when it could. */
static int
can_raise(int nice0)
{
	int status;
	pid_t pid = fork();

	if (pid == 0)
		_exit(setpriority(PRIO_PROCESS, 0, IDLE_NICE) == 0 &&
		    setpriority(PRIO_PROCESS, 0, nice0) == 0 ? 0 : 1);
	if (pid == -1)
		return 0;
	while (waitpid(pid, &status, 0) == -1)
		if (errno != EINTR)
			return 0;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

/* Weight w or that of task i if i is a build and heavier. */
static double
heavier(const struct loop *l, int i, double w)
{
	return loop_is_build(l, i) && l->weight[i] > w ? l->weight[i] : w;
}

/* The weight of the heaviest build running or about to start (picked in
 * this turn), other than task skip; -1 when none. */
static double
ahead(const struct loop *l, int skip)
{
	double w = -1;
	size_t k;

	for (k = 0; k < l->nslots; k++)
		if (l->slots[k].pid > 0 && l->slots[k].task != skip)
			w = heavier(l, l->slots[k].task, w);
	for (k = 0; k < l->npicked; k++)
		w = heavier(l, l->picked[k], w);
	return w;
}

/*
 * 1 when ready task i goes to the idle slot (or waits for it): a running
 * build's chain is longer than i's.
 */
int
loop_idle_wanted(struct loop *l, int i)
{
	if (l->idle_ok == 0 || l->jobs < 2 ||
	    plan_task(l->p, i)->argv != NULL || ahead(l, -1) <= l->weight[i])
		return 0;
	if (l->idle_ok == -1) {
		errno = 0;
		l->nice0 = getpriority(PRIO_PROCESS, 0);
		l->idle_ok = errno == 0 && l->nice0 < IDLE_NICE &&
		    can_raise(l->nice0);
		if (!l->idle_ok)
			return 0;
	}
	return 1;
}

/* In the idle slot's child, before its run: the lowest priority; no
 * jobserver (it has no pipe: loop_pipe_child; a make of its own runs one
 * job: task_idle). */
void
loop_idle_child(void)
{
	(void)setpriority(PRIO_PROCESS, 0, IDLE_NICE);
	task_idle = 1;
}

/*
 * The task in the idle slot, once no build running or picked is ahead of
 * it, takes a token and its group vjbuild's priority: 1 then; -1 when it
 * waits for a token the makes below hold (the caller listens for one);
 * else 0.
 */
int
loop_idle_raise(struct loop *l)
{
	size_t k;
	int token, i;

	for (k = 0; k < l->nslots; k++)
		if (l->slots[k].pid > 0 && l->slots[k].token == NO_TOKEN)
			break;
	if (k == l->nslots)
		return 0;
	i = l->slots[k].task;
	/* RUNNING counts the picked and this one. */
	if (ahead(l, i) > l->weight[i] ||
	    sched_count(l->s, SCHED_RUNNING) - 1 >= l->jobs ||
	    loop_defer_token(l, i))
		return 0;
	if (!loop_take_token(l, &token)) {
		l->want = i;
		return -1;
	}
	/* What of the group left it (setsid) stays low: it is the kind of
	 * process the run's end kills anyway. */
	if (setpriority(PRIO_PGRP, l->slots[k].pid, l->nice0) == -1 &&
	    errno != ESRCH)
		loop_note(l, k, "%s: its priority not raised back: %s\n",
		    plan_task(l->p, i)->name, strerror(errno));
	l->slots[k].token = token;
	l->r->idle_raised++;
	return 1;
}
