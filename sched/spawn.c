/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * A task's process: forked (a kind's run() in the child) or vforked and
 * exec'd (a command); its output into its bounded log; --timeout.
 */
#include <fcntl.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <event2/event.h>

#include "../state/state.h"
#include "../tasks/tasks.h"
#include "loop.h"

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

/* In the child of task i in slot k, its output logfd; idle: in the idle
 * slot. */
void
loop_child(struct loop *l, int i, int logfd, int idle, size_t k)
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
	loop_pipe_child(l, k);
	if (idle)
		loop_idle_child();
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
 * A command without a shell: vfork and execve, no copy of the parent. Not
 * posix_spawn: glibc's resets every one of the 64 signals in the child
 * (128 system calls a task, the largest cost of a no-op task here); the
 * child only needs the handlers vjbuild installed reset, as the fork path
 * does. Signals stay blocked until then, so no handler of the parent's
 * runs in the child. The child is in its own process group and writes the
 * errno of a failed execve where the parent reads it (the memory is shared
 * until execve).
 */
pid_t
loop_spawn_argv(struct loop *l, struct task *t, int logfd, int *errnum)
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
void
loop_keep_output(struct loop *l, int i, int out)
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
void VJ_PRINTF(3, 4)
loop_note(struct loop *l, size_t k, const char *fmt, ...)
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
void
loop_on_timeout(evutil_socket_t fd, short what, void *arg)
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
