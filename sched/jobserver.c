/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * vjbuild as the GNU make jobserver of its run: -j tokens in a pipe that
 * the makes of builds share.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
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
	if (l->js[0] != -1) {
		close(l->js[0]);
		close(l->js[1]);
		unsetenv("MAKEFLAGS");
	}
}
