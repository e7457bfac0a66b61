/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * A task's log with a bound (sched.h, log_limit). A build prints what its
 * sources make it print: 300 MB of it filled a 64 MiB state disk, and the
 * run could then not even record how it ended. The task writes into a pipe;
 * this copies the pipe into the log file, the first `limit` bytes as they
 * come and then round and round over them (the file never holds more), and
 * at the end turns the file into a line saying what was cut and the last
 * `limit` bytes in order: the tail, where a build says why it failed.
 *
 * It ends when the task ends, not at the pipe's end of file: a process the
 * task left behind may hold the pipe open (the loop finds and kills it).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../util/util.h"
#include "sched.h"

struct tail {
	int out;
	unsigned long long limit, total;	/* bytes read in all */
};

static volatile sig_atomic_t chld = 1;	/* check once before waiting */

static void
on_chld(int sig)
{
	(void)sig;
	chld = 1;
}

static int
put(struct tail *t, const char *buf, size_t n)
{
	while (n > 0) {
		unsigned long long at = t->total % t->limit;
		size_t k = n;
		ssize_t w;
		if (k > t->limit - at)
			k = (size_t)(t->limit - at);
		if ((w = pwrite(t->out, buf, k, (off_t)at)) <= 0)
			return -1;
		t->total += (unsigned long long)w;
		buf += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Copies len bytes at off of from to the end of to. */
static int
copy_range(int from, int to, off_t off, unsigned long long len)
{
	char buf[65536];
	ssize_t n;

	while (len > 0) {
		n = pread(from, buf, len < sizeof(buf) ? (size_t)len :
		    sizeof(buf), off);
		if (n <= 0 || write(to, buf, (size_t)n) != n)
			return -1;
		off += n;
		len -= (unsigned long long)n;
	}
	return 0;
}

/* The ring in order, from its first whole line (within 4 KiB), after a
 * line saying what was cut. */
static int
unwind(struct tail *t)
{
	unsigned long long at = t->total % t->limit, skip = 0;
	char line[160], head[4096], *nl;
	FILE *f = tmpfile();
	int tmp, rc = -1, n;
	ssize_t h;

	if (f == NULL)
		return -1;
	tmp = fileno(f);
	if (copy_range(t->out, tmp, (off_t)at, t->limit - at) == -1 ||
	    copy_range(t->out, tmp, 0, at) == -1 ||
	    (h = pread(tmp, head, sizeof(head), 0)) < 0)
		goto out;
	if ((nl = memchr(head, '\n', (size_t)h)) != NULL)
		skip = (unsigned long long)(nl - head) + 1;
	n = snprintf(line, sizeof(line), "vjbuild: %llu bytes of this log "
	    "were cut (log_limit %llu); the last %llu follow\n",
	    t->total - t->limit + skip, t->limit, t->limit - skip);
	if (ftruncate(t->out, 0) == -1 || lseek(t->out, 0, SEEK_SET) == -1 ||
	    write(t->out, line, (size_t)n) != n ||
	    copy_range(tmp, t->out, (off_t)skip, t->limit - skip) == -1)
		goto out;
	rc = 0;
out:
	fclose(f);
	return rc;
}

int
sched_log_copy(int in, int out, unsigned long long limit, pid_t pid,
    int *status)
{
	struct tail t = { out, limit ? limit : 1, 0 };
	struct sigaction sa;
	struct pollfd pfd = { in, POLLIN, 0 };
	sigset_t block, during;
	char buf[65536];
	int exited = 0, rc = 0;
	ssize_t n;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_chld;
	sigaction(SIGCHLD, &sa, NULL);
	sigemptyset(&block);
	sigaddset(&block, SIGCHLD);
	sigprocmask(SIG_BLOCK, &block, &during);
	sigdelset(&during, SIGCHLD);
	for (;;) {
		if (chld) {
			chld = 0;
			if (waitpid(pid, status, WNOHANG) == pid) {
				exited = 1;
				break;
			}
		}
		if (ppoll(&pfd, 1, NULL, &during) == -1) {
			if (errno == EINTR)
				continue;
			rc = -1;
			break;
		}
		n = read(in, buf, sizeof(buf));
		if (n == 0)
			break;		/* every writer closed it */
		if (n > 0 && rc == 0 && put(&t, buf, (size_t)n) == -1)
			rc = -1;	/* read on, or the task would block */
	}
	if (exited) {	/* what it wrote before it ended */
		(void)fcntl(in, F_SETFL, O_NONBLOCK);
		while ((n = read(in, buf, sizeof(buf))) > 0)
			if (rc == 0 && put(&t, buf, (size_t)n) == -1)
				rc = -1;
	} else
		while (waitpid(pid, status, 0) == -1 && errno == EINTR)
			;
	if (rc == 0 && t.total > t.limit && unwind(&t) == -1)
		rc = -1;
	return rc;
}
