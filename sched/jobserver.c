/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * vjbuild as the GNU make jobserver of its run: -j tokens in a pipe that
 * the makes of builds share; or, run by a make that has one, a client of
 * that make's.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/event.h>

#include "../tasks/tasks.h"
#include "loop.h"

/* How long a token is left in the pipe for a running build's make, and
 * how long none is after one that no make took. */
#define DEFER_USEC	100000
#define DEFER_QUIET	1.0

/*
 * A token to start one more task: the implicit one when no task holds it,
 * else a byte from the jobserver pipe. 0 when none is free now.
 */
int
loop_take_token(struct loop *l, int *token)
{
	unsigned char c;

	/* Taken or not, a deferral is spent: the next token gets its own. */
	if (l->defer != DEFER_NONE) {
		evtimer_del(l->ev_defer);
		l->defer = DEFER_NONE;
	}
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

/*
 * 1 when the token that ready task i would take from the pipe is left
 * there a while (DEFER_USEC) for the make of a running build whose
 * priority (its weight: the longest chain from it to the end) is at least
 * i's. Such a make, blocked on the pipe for its next job, takes a token
 * at once; vjbuild, woken by the same byte, would otherwise win it for a
 * task that can wait, and the build on the critical path would run its
 * jobs one at a time beside it (bench/makefile.py's apr-util and
 * apache2, docs/BENCHMARKS.md). A token still there when the time is up
 * is not wanted by any make: i takes it then, and for DEFER_QUIET no
 * token is left again (the makes are in a part of their builds that runs
 * one job, a configure or a link: each of many short tasks, ten jails'
 * installs, would wait the tenth of a second in vain). Builds only: a
 * graph's commands (run-graph) start as soon as a token is free.
 */
int
loop_defer_token(struct loop *l, int i)
{
	size_t k;
	int n = 0;

	if (l->implicit_free || l->js_nb == -1 || l->ev_defer == NULL ||
	    l->defer == DEFER_EXPIRED || vj_now() < l->defer_quiet_until)
		return 0;
	for (k = 0; k < l->nslots; k++)
		if (l->slots[k].pid > 0 && loop_is_build(l, l->slots[k].task) &&
		    l->weight[l->slots[k].task] >= l->weight[i])
			break;
	if (k == l->nslots)
		return 0;
	/* No token there: i waits for one as before (starved). */
	if (ioctl(l->js_nb, FIONREAD, &n) == -1 || n <= 0)
		return 0;
	if (l->defer == DEFER_NONE) {
		struct timeval tv = { 0, DEFER_USEC };
		evtimer_add(l->ev_defer, &tv);
		l->defer = DEFER_WAITING;
		l->r->tokens_left++;
	}
	return 1;
}

static void
on_defer(evutil_socket_t fd, short what, void *arg)
{
	struct loop *l = arg;
	int n = 0;

	(void)fd;
	(void)what;
	l->defer = DEFER_EXPIRED;
	/* Still there: no make wanted it. */
	if (l->js_nb != -1 && ioctl(l->js_nb, FIONREAD, &n) == 0 && n > 0) {
		l->defer_quiet_until = vj_now() + DEFER_QUIET;
		l->r->tokens_unwanted++;
	}
	loop_schedule(l);
}

/*
 * A finished task's token back. The implicit one cannot reach a make: a
 * running task that holds a byte of the pipe takes it instead, and the
 * byte goes back to the pipe, where a make below can take it (else a
 * build's make could wait on an empty pipe while vjbuild's own token
 * sat free).
 */
void
loop_give_token(struct loop *l, int token)
{
	unsigned char c = (unsigned char)token;
	size_t k;

	if (token == NO_TOKEN)
		return;
	if (token == IMPLICIT) {
		for (k = 0; l->js_nb != -1 && k < l->nslots; k++)
			if (l->slots[k].pid > 0 && l->slots[k].token >= 0)
				break;
		if (l->js_nb == -1 || k == l->nslots) {
			l->implicit_free = 1;
			return;
		}
		c = (unsigned char)l->slots[k].token;
		l->slots[k].token = IMPLICIT;
	}
	while (write(l->js[1], &c, 1) == -1 && errno == EINTR)
		;
}

static void
on_token(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	loop_schedule(arg);
}

/* fd is open and a pipe (a make that did not pass its jobserver to this
 * command, no `+`, closed the descriptors MAKEFLAGS names; the numbers may
 * be another file's now). */
static int
is_pipe(int fd)
{
	struct stat st;

	return fd >= 0 && fstat(fd, &st) == 0 && S_ISFIFO(st.st_mode);
}

/*
 * Run by a GNU make with a jobserver (MAKEFLAGS --jobserver-auth=R,W, as
 * make 4.3 passes it to a `+` recipe, or fifo:PATH, make 4.4's): vjbuild
 * joins it as a sub-make does, its first task on the token its recipe
 * holds and every other on one from that pipe, and the makes of its builds
 * share the same pipe: one -j budget from the top make down. 1 when
 * joined, 0 when there is none to join.
 */
static int
join_outer(struct loop *l)
{
	const char *mf = getenv("MAKEFLAGS"), *a;
	char path[64];
	int r, w;

	if (mf == NULL || (a = strstr(mf, "--jobserver-auth=")) == NULL)
		return 0;
	a += strlen("--jobserver-auth=");
	if (strncmp(a, "fifo:", 5) == 0) {
		char *fifo = xstrndup(a + 5, strcspn(a + 5, " "));
		r = open(fifo, O_RDWR | O_CLOEXEC);
		free(fifo);
		if (!is_pipe(r)) {
			if (r != -1)
				close(r);
			return 0;
		}
		w = r;
	} else if (sscanf(a, "%d,%d", &r, &w) != 2 || !is_pipe(r) ||
	    !is_pipe(w))
		return 0;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", r);
	if ((l->js_nb = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)) == -1) {
		if (w == r)
			close(r);
		return 0;
	}
	l->js[0] = r;
	l->js[1] = w;
	l->js_outer = 1;
	return 1;
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
int
loop_jobserver_open(struct loop *l, struct vj_err *err)
{
	char path[64], flags[96];
	size_t n;

	l->implicit_free = 1;
	if (!l->o->jobserver || l->jobs < 2)
		return 0;
	if (join_outer(l)) {	/* MAKEFLAGS names it already */
		l->ev_js = event_new(l->base, l->js_nb, EV_READ | EV_PERSIST,
		    on_token, l);
		l->ev_defer = evtimer_new(l->base, on_defer, l);
		return 0;
	}
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
	for (n = 1; n < l->jobs; n++)
		if (write(l->js[1], "+", 1) != 1) {
			vj_errno(err, "jobserver: write");
			return -1;
		}
	snprintf(flags, sizeof(flags), "-j%zu --jobserver-auth=%d,%d",
	    l->jobs, l->js[0], l->js[1]);
	setenv("MAKEFLAGS", flags, 1);
	l->ev_js = event_new(l->base, l->js_nb, EV_READ | EV_PERSIST,
	    on_token, l);
	l->ev_defer = evtimer_new(l->base, on_defer, l);
	return 0;
}

void
loop_jobserver_close(struct loop *l)
{
	if (l->ev_js != NULL)
		event_free(l->ev_js);
	if (l->ev_defer != NULL)
		event_free(l->ev_defer);
	if (l->js_nb != -1)
		close(l->js_nb);
	if (l->js_outer) {	/* the make's: its own fifo open closed */
		if (l->js[0] == l->js[1])
			close(l->js[0]);
		l->js[0] = l->js[1] = -1;
	}
	if (l->js[0] != -1) {
		close(l->js[0]);
		close(l->js[1]);
		unsetenv("MAKEFLAGS");
	}
}
