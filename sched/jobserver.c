/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * vjbuild as the GNU make jobserver of its run: -j tokens in a pipe that
 * the makes of builds share; or, run by a make that has one, a client of
 * that make's.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/event.h>

#include "loop.h"

/*
 * A token to start one more task: the implicit one when no task holds it,
 * else a byte from the jobserver pipe. 0 when none is free now.
 */
int
loop_take_token(struct loop *l, int *token)
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

void
loop_give_token(struct loop *l, int token)
{
	unsigned char c = (unsigned char)token;

	if (token == IMPLICIT)
		l->implicit_free = 1;
	else
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
	if (!l->o->jobserver || l->nslots < 2)
		return 0;
	if (join_outer(l)) {	/* MAKEFLAGS names it already */
		l->ev_js = event_new(l->base, l->js_nb, EV_READ | EV_PERSIST,
		    on_token, l);
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

void
loop_jobserver_close(struct loop *l)
{
	if (l->ev_js != NULL)
		event_free(l->ev_js);
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
