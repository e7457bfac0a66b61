/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * vjbuild as the GNU make jobserver of its run: -j tokens in a pipe, its
 * pool (or, run by a make that has one, that make's); the make of each
 * build gets a pipe of its own, where vjbuild puts the pool's tokens and
 * takes back those it left unused. A build is code from elsewhere: with
 * one pipe for all, a build could keep every token it read and end (the
 * rest of the run at -j1) or write a thousand (every other make at
 * -j1000); with its own, neither reaches anything but itself.
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

/* Bytes waiting in the pipe read through fd; 0 when it cannot say. */
static int
queued(int fd)
{
	int n = 0;

	return fd != -1 && ioctl(fd, FIONREAD, &n) == 0 && n > 0 ? n : 0;
}

/* Another open file description of the pipe end fd, non-blocking (the one
 * a make shares stays blocking): through /proc/self/fd. -1 with errno. */
static int
reopen(int fd, int flags)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	return open(path, flags | O_NONBLOCK | O_CLOEXEC);
}

/* A byte into the pool (its writing end blocks: it never holds more than
 * the -j - 1 tokens it began with). */
static void
to_pool(struct loop *l, unsigned char c)
{
	while (write(l->js[1], &c, 1) == -1 && errno == EINTR)
		;
}

/* A byte of the pool into slot k's pipe, for its make: 1 when there was
 * one. vjbuild's end of that pipe does not block: a build that filled it
 * gets nothing and stops nothing. */
static int
offer(struct loop *l, size_t k)
{
	struct slot *s = &l->slots[k];
	unsigned char c;

	if (read(l->js_nb, &c, 1) != 1)
		return 0;
	if (write(s->pb_w, &c, 1) != 1) {
		to_pool(l, c);
		return 0;
	}
	s->tok = c;
	s->offered++;
	s->seen++;
	s->since = vj_now();
	return 1;
}

/* Back to the pool: a byte left in slot k's pipe; the pool gets the byte
 * it gave, whatever the build left there, and never more than it gave. */
static int
reclaim(struct loop *l, size_t k)
{
	struct slot *s = &l->slots[k];
	unsigned char c;

	if (s->offered <= 0 || read(s->pb_nb, &c, 1) != 1)
		return 0;
	to_pool(l, s->tok);
	s->offered--;
	s->seen--;
	s->since = vj_now();
	return 1;
}

/*
 * What is in slot k's pipe now. More than vjbuild put there and did not
 * take back is what the build wrote itself: thrown away, never a token
 * of the pool. More than one is what its make gave back: one stays (its
 * next job's), the rest go back to the pool.
 */
static void
look(struct loop *l, size_t k)
{
	struct slot *s = &l->slots[k];
	unsigned char junk[256];
	int n = queued(s->pb_nb), tries;

	/* A bounded effort: a build writing as fast as this reads has only
	 * more tokens for its own make. */
	for (tries = 0; n > s->offered && tries < 16; tries++) {
		int x = n - s->offered > (int)sizeof(junk) ?
		    (int)sizeof(junk) : n - s->offered;
		if (read(s->pb_nb, junk, (size_t)x) <= 0)
			break;
		n = queued(s->pb_nb);
	}
	while (n > 1 && reclaim(l, k))
		n--;
	if (n != s->seen)
		s->since = vj_now();
	s->seen = n;
}

/* The running builds with a pipe, the highest priority first: their slots
 * in l->order, how many. */
static size_t
piped(struct loop *l)
{
	size_t k, n = 0, m, *out = l->order;

	for (k = 0; k < l->nslots; k++) {
		if (l->slots[k].pid <= 0 || l->slots[k].pb_w == -1)
			continue;
		for (m = n; m > 0 && l->weight[l->slots[out[m - 1]].task] <
		    l->weight[l->slots[k].task]; m--)
			out[m] = out[m - 1];
		out[m] = k;
		n++;
	}
	return n;
}

static void
arm_defer(struct loop *l, double left)
{
	struct timeval tv = { 0, (suseconds_t)(left * 1e6) };

	if (l->defer != DEFER_WAITING) {
		l->r->tokens_left++;
		l->defer = DEFER_WAITING;
		l->defer_at = vj_now();
	}
	evtimer_add(l->ev_defer, &tv);
}

/*
 * 1 when ready task i waits a while (DEFER_USEC) for a token that the
 * make of a running build whose priority (its weight: the longest chain
 * from it to the end) is at least i's may take. Such a make, blocked on
 * its pipe for its next job, takes a token at once; vjbuild would
 * otherwise take it for a task that can wait, and the build on the
 * critical path would run its jobs one at a time beside it
 * (bench/makefile.py's apr-util and apache2, docs/BENCHMARKS.md). So a
 * free token is put in that build's pipe first, and one left there is
 * waited for; one still there when the time is up is not wanted: i takes
 * it then, and for DEFER_QUIET no token waits for a make again (the
 * makes are in a part of their builds that runs one job, a configure or
 * a link: each of many short tasks, ten jails' installs, would wait the
 * tenth of a second in vain). A token left in the pipe of a build of a
 * lower priority than i's is i's at once. Builds only: a graph's
 * commands share the pool itself.
 */
int
loop_defer_token(struct loop *l, int i)
{
	size_t *o = l->order, n, m;
	double now = vj_now();
	int quiet;

	if (l->implicit_free || l->js_nb == -1 || l->ev_defer == NULL ||
	    l->npipes == 0 || (n = piped(l)) == 0)
		return 0;
	quiet = l->defer == DEFER_EXPIRED || now < l->defer_quiet_until;
	for (m = 0; m < n; m++)
		look(l, o[m]);
	if (queued(l->js_nb) > 0) {
		/* A free token: first to the best build ahead of i whose
		 * make may be waiting (none left in its pipe). */
		if (quiet)
			return 0;
		for (m = 0; m < n; m++) {
			struct slot *s = &l->slots[o[m]];
			if (l->weight[s->task] < l->weight[i])
				break;
			if (s->seen == 0 && offer(l, o[m])) {
				arm_defer(l, DEFER_USEC / 1e6);
				return 1;
			}
		}
		return 0;
	}
	/* None free: one left in a build's pipe, the lowest priority's first;
	 * from a build ahead of i only once it has waited there DEFER_USEC. */
	for (m = n; m-- > 0;) {
		struct slot *s = &l->slots[o[m]];
		double waited = now - s->since;
		if (s->seen == 0)
			continue;
		if (l->weight[s->task] < l->weight[i])
			(void)reclaim(l, o[m]);
		else if (quiet || waited >= DEFER_USEC / 1e6) {
			if (reclaim(l, o[m]) && !quiet) {
				l->defer_quiet_until = now + DEFER_QUIET;
				l->r->tokens_unwanted++;
			}
		} else {
			arm_defer(l, DEFER_USEC / 1e6 - waited);
			return 1;
		}
		return 0;
	}
	return 0;
}

static void
on_defer(evutil_socket_t fd, short what, void *arg)
{
	struct loop *l = arg;
	size_t k;

	(void)fd;
	(void)what;
	l->defer = DEFER_EXPIRED;
	/* Still there, as it was when the wait began: no make wanted it. */
	for (k = 0; k < l->nslots; k++)
		if (l->slots[k].pid > 0 && l->slots[k].pb_w != -1) {
			look(l, k);
			if (l->slots[k].seen > 0 &&
			    l->slots[k].since <= l->defer_at && reclaim(l, k)) {
				l->defer_quiet_until = vj_now() + DEFER_QUIET;
				l->r->tokens_unwanted++;
			}
		}
	loop_schedule(l);
}

/*
 * The builds' pipes, looked at after each schedule and, while any is
 * open, every PIPES_USEC when a token is free or a task waits for one,
 * else every PIPES_IDLE_USEC while two builds or more run (one's token
 * may go to another), else not at all (a finish, which frees a token or
 * readies a task, calls a schedule): what a make gave back beyond its next job's goes
 * to the pool; a ready task that found no token gets one left in a build
 * of a lower priority at once, else one left unwanted DEFER_USEC in a
 * build ahead of it; free tokens nobody took go to the builds whose pipes
 * are empty, the highest priority first; and one left unwanted DEFER_USEC
 * in a build goes to another whose pipe is empty (whose make may be
 * waiting: nothing tells; if it is not, the token moves on after as
 * long).
 */
#define PIPES_USEC	10000
#define PIPES_IDLE_USEC	100000

static void
pipes_timer(struct loop *l)
{
	struct timeval tv = { 0, PIPES_USEC };

	if (l->ev_pipes == NULL)
		return;
	if (queued(l->js_nb) == 0 && l->want < 0) {
		if (l->npipes < 2) {
			evtimer_del(l->ev_pipes);
			return;
		}
		tv.tv_usec = PIPES_IDLE_USEC;
	}
	evtimer_add(l->ev_pipes, &tv);
}

void
loop_pipes_balance(struct loop *l)
{
	size_t *o = l->order, n, m, d;
	double now = vj_now();

	if (l->npipes == 0)
		return;
	n = piped(l);
	for (m = 0; m < n; m++)
		look(l, o[m]);
	if (l->want >= 0) {
		/* A task waits: the pool is empty (else it had taken it). */
		if (l->defer != DEFER_WAITING)
			for (m = n; m-- > 0;) {
				struct slot *s = &l->slots[o[m]];
				if (s->seen > 0 && (l->weight[s->task] <
				    l->weight[l->want] || now - s->since >=
				    DEFER_USEC / 1e6)) {
					(void)reclaim(l, o[m]);
					break;	/* ev_js wakes the task */
				}
			}
		goto out;
	}
	for (m = 0; m < n; m++)
		if (l->slots[o[m]].seen == 0 && !offer(l, o[m]))
			break;
	for (m = 0; m < n; m++) {
		if (l->slots[o[m]].seen != 0)
			continue;
		for (d = n; d-- > 0;) {
			struct slot *s = &l->slots[o[d]];
			if (d != m && s->seen > 0 &&
			    now - s->since >= DEFER_USEC / 1e6 &&
			    reclaim(l, o[d])) {
				(void)offer(l, o[m]);
				break;
			}
		}
	}
out:
	pipes_timer(l);
}

static void
on_pipes(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	loop_pipes_balance(arg);
}

/*
 * A pipe of its own for the build about to start in slot k: its make gets
 * the tokens vjbuild puts there, and what it does with that pipe (keeps
 * every token it read and ends, writes tokens of its own) reaches no other
 * build and not vjbuild's pool (loop_pipe_close). 0, or -1 with errno.
 */
int
loop_pipe_open(struct loop *l, size_t k)
{
	struct slot *s = &l->slots[k];
	int p[2], e;

	if (pipe2(p, O_CLOEXEC) == -1)
		return -1;
	if ((s->pb_nb = reopen(p[0], O_RDONLY)) == -1)
		goto fail;
	if ((s->pb_w = reopen(p[1], O_WRONLY)) == -1) {
		close(s->pb_nb);
		s->pb_nb = -1;
		goto fail;
	}
	s->pb_r = p[0];
	s->pb_cw = p[1];
	s->offered = s->seen = 0;
	s->since = vj_now();
	l->npipes++;
	if (l->ev_pipes == NULL)
		l->ev_pipes = evtimer_new(l->base, on_pipes, l);
	pipes_timer(l);
	return 0;
fail:
	e = errno;
	close(p[0]);
	close(p[1]);
	errno = e;
	return -1;
}

/* In the child of the task of slot k: every descriptor but 0, 1 and 2
 * closed at exec, the pool's ends at once (its make must not see them); a
 * build's own pipe left open across exec and named in MAKEFLAGS, else no
 * jobserver at all. */
void
loop_pipe_child(struct loop *l, size_t k)
{
	struct slot *s = &l->slots[k];
	char flags[96];

	/* Nothing vjbuild holds, or was given by whoever ran it, reaches
	 * what the task runs: only its pipe is left open across exec. */
	compat_cloexec_from(3);
	if (l->js[0] != -1) {
		close(l->js[0]);
		if (l->js[1] != l->js[0])
			close(l->js[1]);
	}
	if (s->pb_w == -1) {
		unsetenv("MAKEFLAGS");
		return;
	}
	if (fcntl(s->pb_r, F_SETFD, 0) == -1 || fcntl(s->pb_cw, F_SETFD, 0) ==
	    -1)
		_exit(127);
	snprintf(flags, sizeof(flags), "-j%zu --jobserver-auth=%d,%d", l->jobs,
	    s->pb_r, s->pb_cw);
	setenv("MAKEFLAGS", flags, 1);
}

/* In vjbuild once slot k's child is forked: the make's ends are the
 * child's only. */
void
loop_pipe_forked(struct loop *l, size_t k)
{
	struct slot *s = &l->slots[k];

	if (s->pb_r != -1) {
		close(s->pb_r);
		close(s->pb_cw);
		s->pb_r = s->pb_cw = -1;
	}
}

/*
 * Slot k's build has ended (or never started): every token vjbuild put in
 * its pipe comes back to the pool, those its makes kept too, and nothing
 * the build wrote there does.
 */
void
loop_pipe_close(struct loop *l, size_t k)
{
	struct slot *s = &l->slots[k];
	int n;

	if (s->pb_w == -1)
		return;
	for (n = 0; n < s->offered; n++)
		to_pool(l, s->tok);
	loop_pipe_forked(l, k);
	close(s->pb_w);
	close(s->pb_nb);
	s->pb_w = s->pb_nb = -1;
	s->offered = s->seen = 0;
	if (--l->npipes == 0 && l->ev_pipes != NULL)
		evtimer_del(l->ev_pipes);
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
	to_pool(l, c);
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
	if ((l->js_nb = reopen(r, O_RDONLY)) == -1) {
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
	char flags[96];
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
	if ((l->js_nb = reopen(l->js[0], O_RDONLY)) == -1) {
		fprintf(stderr, "vjbuild: no jobserver (/proc/self/fd/%d: %s): "
		    "each make below runs with its own -j\n", l->js[0],
		    strerror(errno));
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
	if (l->ev_pipes != NULL)
		event_free(l->ev_pipes);
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
