/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Inside a started jail on Linux: the capabilities it keeps, its /proc,
 * and its init (I of run.c), which runs exec.start, reaps, and stops
 * everything when told to.
 */
#ifdef __linux__
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <linux/capability.h>

#include "../util/util.h"
#include "jail.h"

/* What a jail keeps in its user namespace; everything else leaves the
 * bounding set (what container runtimes commonly grant, less CAP_MKNOD). */
static const int keep_caps[] = {
	CAP_CHOWN, CAP_DAC_OVERRIDE, CAP_FOWNER, CAP_FSETID, CAP_KILL,
	CAP_SETGID, CAP_SETUID, CAP_SETPCAP, CAP_NET_BIND_SERVICE,
	CAP_NET_RAW, CAP_SYS_CHROOT, CAP_AUDIT_WRITE, CAP_SETFCAP,
};

/* /proc paths that reach the host's kernel: read-only, or hidden under
 * /dev/null or an empty directory (Docker's and nspawn's lists). */
static const char *const proc_ro[] = {
	"sys", "sysrq-trigger", "bus", "fs", "irq",
};
static const char *const proc_masked[] = {
	"kcore", "keys", "timer_list", "latency_stats", "sched_debug",
	"kallsyms", "kmsg", "config.gz",
};
static const char *const proc_empty[] = { "acpi", "scsi", "asound" };

/* The bounding set cut to keep_caps, then RLIMIT_NPROC, then the seccomp
 * filter (which sets no_new_privs). 0, or -1 with err. */
int
jail_limit_process(unsigned long pids, struct vj_err *err)
{
	struct rlimit rl;
	int cap;
	size_t i;

	for (cap = 0; cap <= CAP_LAST_CAP; cap++) {
		for (i = 0; i < sizeof(keep_caps) / sizeof(keep_caps[0]); i++)
			if (keep_caps[i] == cap)
				break;
		if (i == sizeof(keep_caps) / sizeof(keep_caps[0]) &&
		    prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) == -1 &&
		    errno != EINVAL) {
			vj_errno(err, "dropping capability %d", cap);
			return -1;
		}
	}
	if (pids != 0) {
		rl.rlim_cur = rl.rlim_max = pids;
		if (setrlimit(RLIMIT_NPROC, &rl) == -1) {
			vj_errno(err, "setrlimit(RLIMIT_NPROC, %lu)", pids);
			return -1;
		}
	}
	return jail_seccomp_load(JAIL_SECCOMP_JAIL, err);
}

static volatile sig_atomic_t stopping, timed_out;

static void
on_term(int sig)
{
	(void)sig;
	stopping = 1;
}

static void
on_alarm(int sig)
{
	(void)sig;
	timed_out = 1;
}

static char *const jail_envp[] = { "PATH=/usr/local/sbin:/usr/local/bin:"
    "/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/", NULL };

/* In the jail's init: a child running argv (the standard input /dev/null,
 * the output out, or the init's own when out is -1), in a session of its
 * own when session is set; its pid, or -1. */
static pid_t
spawn(char *const argv[], char *const envp[], int out, int session)
{
	struct sigaction sa;
	pid_t pid = fork();
	int null;

	if (pid != 0)
		return pid;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGALRM, &sa, NULL);
	if ((null = open("/dev/null", O_RDWR)) != -1)
		dup2(null, 0);
	if (out != -1) {
		dup2(out, 1);
		dup2(out, 2);
	}
	if (session)
		setsid();
	/* The init's own descriptors, and what whoever ran vjbuild left
	 * open, stay out of the jail's programs. */
	compat_cloexec_from(3);
	execve(argv[0], argv, envp);
	dprintf(2, "%s: %s\n", argv[0], strerror(errno));
	_exit(127);
}

/* Waits for pid, reaping whatever else ends meanwhile, for secs seconds
 * at most (0: no limit) or until the init is told to stop; its wait
 * status, or -1 when it did not end. */
static int
wait_for(pid_t pid, unsigned secs)
{
	int status;
	pid_t w;

	timed_out = 0;
	alarm(secs);
	for (;;) {
		if ((w = waitpid(-1, &status, 0)) == pid)
			break;
		if (w == -1 && (errno != EINTR || timed_out || stopping)) {
			status = -1;
			break;
		}
	}
	alarm(0);
	return status;
}

/* "exited N", "was killed by signal N", or a timeout, of a wait_for. */
static void
say_status(int fd, const char *what, const char *cmd, int status,
    unsigned secs)
{
	if (status == -1)
		dprintf(fd, "%s (%s) did not end within %u s", what, cmd, secs);
	else if (WIFEXITED(status))
		dprintf(fd, "%s (%s) exited %d", what, cmd,
		    WEXITSTATUS(status));
	else
		dprintf(fd, "%s (%s) was killed by signal %d", what, cmd,
		    WTERMSIG(status));
}

/* Sends a failure message up the pipe and ends the process. */
void __attribute__((noreturn))
jail_init_fail(int fd, const char *what)
{
	dprintf(fd, "%s: %s", what, strerror(errno));
	_exit(1);
}

/* /proc of the jail's PID namespace, with the host's kernel masked. */
static void
mount_proc(int report)
{
	char path[64];
	size_t i;

	if (mount("proc", "proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC,
	    NULL) == -1)
		jail_init_fail(report, "mounting /proc");
	for (i = 0; i < sizeof(proc_ro) / sizeof(proc_ro[0]); i++) {
		snprintf(path, sizeof(path), "proc/%s", proc_ro[i]);
		if (access(path, F_OK) == -1)
			continue;
		if (mount(path, path, NULL, MS_BIND | MS_REC, NULL) == -1 ||
		    mount(NULL, path, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY |
		    MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) == -1)
			jail_init_fail(report, path);
	}
	for (i = 0; i < sizeof(proc_masked) / sizeof(proc_masked[0]); i++) {
		snprintf(path, sizeof(path), "proc/%s", proc_masked[i]);
		/* The host's /dev/null: the jail's own is the jail's to
		 * replace (by a link to a host file, say). */
		if (access(path, F_OK) == 0 && mount("/dev/null", path, NULL,
		    MS_BIND, NULL) == -1)
			jail_init_fail(report, path);
	}
	for (i = 0; i < sizeof(proc_empty) / sizeof(proc_empty[0]); i++) {
		snprintf(path, sizeof(path), "proc/%s", proc_empty[i]);
		if (access(path, F_OK) == 0 && mount("vjbuild", path, "tmpfs",
		    MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=0") ==
		    -1)
			jail_init_fail(report, path);
	}
}

/*
 * The init is a fork of vjbuild: its command line, which every process in
 * the jail can read in /proc/1/cmdline, would be the host's (the paths of
 * vjbuild and its config). It is its own memory (arg_start to arg_end in
 * /proc/self/stat, fields 48 and 49): written over with a title, which is
 * also its name (comm).
 */
static void
retitle(const char *title)
{
	char buf[2048], *p;
	unsigned long start = 0, end = 0;
	size_t n, i;
	int fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
	ssize_t r = fd == -1 ? -1 : read(fd, buf, sizeof(buf) - 1);

	if (fd != -1)
		close(fd);
	if (r <= 0)
		return;
	buf[r] = '\0';
	/* After "(comm)", fields 3 on; arg_start is field 48. */
	if ((p = strrchr(buf, ')')) == NULL)
		return;
	for (i = 2; i < 48 && p != NULL; i++)
		p = strchr(p + 1, ' ');
	(void)prctl(PR_SET_NAME, title, 0, 0, 0);
	if (p == NULL || sscanf(p, " %lu %lu", &start, &end) != 2 ||
	    end <= start || end - start > 65536)
		return;
	n = end - start;
	memset((void *)start, 0, n);
	memcpy((void *)start, title, strlen(title) < n ? strlen(title) : n - 1);
}

/* PID 1 of the jail, in its root (the idmapped mount: the working
 * directory M gave it). */
void __attribute__((noreturn))
jail_init(const struct jail_spec *s, int go, int report)
{
	char c, *opts;
	struct vj_err err;
	struct sigaction sa;
	pid_t pid;
	time_t deadline;
	int status, fd;

	/* The jail keeps nothing of vjbuild's: no database, no log, not
	 * the standard output of the start (a pipe would never end); only
	 * its console, and a command run once keeps the caller's output. */
	for (fd = 3; fd < 1024; fd++)
		if (fd != go && fd != report && fd != s->console)
			(void)close(fd);
	if ((fd = open("/dev/null", O_RDWR | O_CLOEXEC)) == -1 ||
	    dup2(fd, 0) == -1 || (s->argv == NULL && (dup2(fd, 1) == -1 ||
	    dup2(fd, 2) == -1)))
		jail_init_fail(report, "/dev/null");
	close(fd);
	retitle("init");
	if (read(go, &c, 1) != 1)	/* our network is made */
		_exit(1);
	close(go);
	/* Not dumpable (a change of ids did it already; said here): the
	 * jail's root may not look into its init through /proc/1. */
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == -1)
		jail_init_fail(report, "prctl(PR_SET_DUMPABLE)");
	if (sethostname(s->hostname, strlen(s->hostname)) == -1)
		jail_init_fail(report, "sethostname");
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == -1)
		jail_init_fail(report, "making mounts private");
	/* Every mount this namespace copied is locked, and pivot_root
	 * refuses a locked new root: a clone of it, made here, is not. */
	if ((fd = (int)syscall(SYS_open_tree, AT_FDCWD, ".", OPEN_TREE_CLONE |
	    OPEN_TREE_CLOEXEC | AT_RECURSIVE)) == -1 ||
	    syscall(SYS_move_mount, fd, "", AT_FDCWD, ".",
	    MOVE_MOUNT_F_EMPTY_PATH) == -1 || fchdir(fd) == -1)
		jail_init_fail(report, "mounting the root for pivot_root");
	close(fd);
	mount_proc(report);	/* the working directory is the root */
	if (mount("devpts", "dev/pts", "devpts", MS_NOSUID | MS_NOEXEC,
	    "newinstance,ptmxmode=0666,mode=0620") == -1)
		jail_init_fail(report, "mounting /dev/pts");
	opts = xasprintf("mode=1777,size=%llu", s->limits.shm);
	if (mount("shm", "dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, opts) == -1)
		jail_init_fail(report, "mounting /dev/shm");
	free(opts);
	if (syscall(SYS_pivot_root, ".", ".") == -1)
		jail_init_fail(report, "pivot_root");
	if (umount2(".", MNT_DETACH) == -1 || chdir("/") == -1)
		jail_init_fail(report, "detaching the host's tree");
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_term;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = on_alarm;
	sigaction(SIGALRM, &sa, NULL);
	if (jail_limit_process(s->limits.pids, &err) == -1) {
		dprintf(report, "%s", err.msg);
		_exit(1);
	}
	if (s->argv != NULL) {
		/* Once: the command, then nothing it left behind. */
		(void)write(report, "", 1);
		close(report);
		pid = spawn(s->argv, s->envp, -1, 0);
		status = pid == -1 ? -1 : wait_for(pid, 0);
		kill(-1, SIGKILL);
		while (waitpid(-1, NULL, 0) > 0 || errno == EINTR)
			;
		_exit(status == -1 ? 126 : WIFEXITED(status) ?
		    WEXITSTATUS(status) : 128 + WTERMSIG(status));
	}
	/* exec.start, waited for: the jail is started when its services
	 * are, and a start that fails fails the jail (as jail(8) does). */
	{
		char *argv[] = { "/bin/sh", "-c", (char *)s->start, NULL };
		pid = spawn(argv, jail_envp, s->console, 1);
		status = pid == -1 ? -1 : wait_for(pid, JAIL_START_TIMEOUT);
		if (status == -1 || !WIFEXITED(status) ||
		    WEXITSTATUS(status) != 0) {
			say_status(report, "exec.start", s->start, status,
			    JAIL_START_TIMEOUT);
			kill(-1, SIGKILL);
			_exit(1);
		}
	}
	(void)write(report, "", 1);	/* started */
	close(report);
	while (!stopping)
		if (waitpid(-1, &status, 0) == -1 && errno == ECHILD)
			pause();
	/* exec.stop, then stop everything in the jail: TERM, then KILL. */
	if (s->stop != NULL) {
		char *argv[] = { "/bin/sh", "-c", (char *)s->stop, NULL };
		if ((pid = spawn(argv, jail_envp, s->console, 1)) != -1)
			(void)wait_for(pid, JAIL_STOP_TIMEOUT);
	}
	kill(-1, SIGTERM);
	for (deadline = time(NULL) + 5; time(NULL) < deadline;) {
		while (waitpid(-1, &status, WNOHANG) > 0)
			;
		if (waitpid(-1, &status, WNOHANG) == -1 && errno == ECHILD)
			_exit(0);
		usleep(50000);
	}
	kill(-1, SIGKILL);
	while (waitpid(-1, &status, 0) > 0)
		;
	_exit(0);
}
#endif
