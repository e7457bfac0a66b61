/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Running provisioned jails on Linux: start, stop, exec, ps.
 *
 * A started jail is held to FreeBSD jail(8)'s promise: its root is not
 * the host's. Start, in the order bubblewrap and nspawn take:
 *
 *  1. The jail's address is checked against the host's (net.c) and a
 *     range of host ids is picked for it (ids.c), under a host-wide lock
 *     (ids_lock) so that two starts, of any states, do not pick the same.
 *  2. H, a child in a mount namespace of its own (private; from a chroot
 *     through jail_mnt_private), forks M, which unshares a user namespace.
 *     H maps M's ids 0..65535 to the range, and mounts the jail's root
 *     over itself idmapped through M's namespace: on disk the files keep
 *     the owners they were installed with (0 for root), while the jail's
 *     root is an unprivileged host uid, and what it makes is stored with
 *     the jail's own ids. (Where the kernel or file system cannot idmap a
 *     mount, start fails and says so; it does not start a jail whose root
 *     is the host's root.)
 *  3. M becomes root of its user namespace, unshares mount, UTS, IPC,
 *     network and PID namespaces (all owned by it) and forks I, the
 *     jail's init, PID 1 of the new PID namespace; M reports I's pid.
 *  4. vjbuild puts I in the jail's cgroups (cgroup.c: processes, memory,
 *     CPU weight), makes a veth pair (net.c; the host's nftables table of
 *     what jails may reach of the host is loaded first), moves one end
 *     into I's network namespace, configures it there from outside (a
 *     child in that namespace runs the host's ip(8)) and adds the route
 *     to the jail's address.
 *  5. I sets the host name, mounts /proc with the
 *     paths Docker and nspawn mask (sysctls, sysrq, kcore, keys, ...)
 *     read-only or hidden, its own /dev/pts and a /dev/shm of limit.shm,
 *     pivots into the root and detaches the host's tree (/sys is not
 *     mounted), keeps a short list of capabilities in its user namespace
 *     (no CAP_MKNOD: devfs made the devices a jail has, and no other can
 *     be made; the kernel refuses devices to a user namespace anyway),
 *     sets RLIMIT_NPROC to limit.pids, puts the seccomp filter on (which
 *     sets no_new_privs) and runs the jail's exec.start command; then it
 *     only reaps children until it is told to stop (SIGTERM), when it
 *     stops everything in the jail.
 *
 * STATE/run/NAME records "PID IFACE ADDRESS IDBASE PIDNS IFINDEX".
 *
 * exec joins the jail's cgroups, enters its user namespace first and then
 * the others (setns), becomes the jail's root, and enters its root
 * (chroot to the init's, /proc/PID/root: entering a mount namespace sets
 * the root to the namespace's, which differs from the jail's where
 * vjbuild runs in a chroot); then the same limits as the init's.
 */
#ifdef __linux__
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
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
static int
limit_process(unsigned long pids, struct vj_err *err)
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

static char *
run_path(const struct jail_spec *s)
{
	return xasprintf("%s/%s", s->rundir, s->name);
}

/* The PID namespace of pid, as "pid:[inode]", into buf; 0 or -1. */
static int
pidns(pid_t pid, char *buf, size_t n)
{
	char link[64];
	ssize_t r;

	snprintf(link, sizeof(link), "/proc/%ld/ns/pid", (long)pid);
	if ((r = readlink(link, buf, n - 1)) < 0)
		return -1;
	buf[r] = '\0';
	return 0;
}

/* What STATE/run/NAME says ("PID IFACE ADDRESS IDBASE PIDNS IFINDEX"),
 * if it is there; 0 or -1. */
struct run_rec {
	long pid, ifindex;
	char iface[16], address[64], ns[64];
	unsigned long idbase;
};

static int
run_read(const struct jail_spec *s, struct run_rec *r)
{
	char *path = run_path(s), *text = fs_read(path, 512, NULL);
	int n;

	free(path);
	if (text == NULL)
		return -1;
	n = sscanf(text, "%ld %15s %63s %lu %63s %ld", &r->pid, r->iface,
	    r->address, &r->idbase, r->ns, &r->ifindex);
	free(text);
	return n == 6 ? 0 : -1;
}

/*
 * The run file is lost: the init in the jail's cgroup, if its root is this
 * jail's root (the same directory: an idmapped mount of it has its device
 * and inode). Cgroups are named by jail name alone, and another state may
 * run a jail of that name.
 */
static pid_t
by_cgroup(const struct jail_spec *s)
{
	pid_t pid = s->root != NULL ? jail_cgroup_init(s->name) : 0;
	struct stat a, b;
	char path[64];

	if (pid == 0)
		return 0;
	snprintf(path, sizeof(path), "/proc/%ld/root", (long)pid);
	if (stat(path, &a) == -1 || stat(s->root, &b) == -1 ||
	    a.st_dev != b.st_dev || a.st_ino != b.st_ino)
		return 0;
	return pid;
}

/* The jail's pid, or 0 when it is not running: the pid must be alive and
 * still be the init of the PID namespace recorded at start, not a reused
 * number. */
pid_t
jail_pid(const struct jail_spec *s)
{
	struct run_rec r;
	char now[64];

	if (run_read(s, &r) == -1)
		return by_cgroup(s);
	if (r.pid <= 1 ||
	    pidns((pid_t)r.pid, now, sizeof(now)) == -1 ||
	    strcmp(now, r.ns) != 0)
		return 0;
	return (pid_t)r.pid;
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
static void __attribute__((noreturn))
init_fail(int fd, const char *what)
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
		init_fail(report, "mounting /proc");
	for (i = 0; i < sizeof(proc_ro) / sizeof(proc_ro[0]); i++) {
		snprintf(path, sizeof(path), "proc/%s", proc_ro[i]);
		if (access(path, F_OK) == -1)
			continue;
		if (mount(path, path, NULL, MS_BIND | MS_REC, NULL) == -1 ||
		    mount(NULL, path, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY |
		    MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) == -1)
			init_fail(report, path);
	}
	for (i = 0; i < sizeof(proc_masked) / sizeof(proc_masked[0]); i++) {
		snprintf(path, sizeof(path), "proc/%s", proc_masked[i]);
		/* The host's /dev/null: the jail's own is the jail's to
		 * replace (by a link to a host file, say). */
		if (access(path, F_OK) == 0 && mount("/dev/null", path, NULL,
		    MS_BIND, NULL) == -1)
			init_fail(report, path);
	}
	for (i = 0; i < sizeof(proc_empty) / sizeof(proc_empty[0]); i++) {
		snprintf(path, sizeof(path), "proc/%s", proc_empty[i]);
		if (access(path, F_OK) == 0 && mount("vjbuild", path, "tmpfs",
		    MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=0") ==
		    -1)
			init_fail(report, path);
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
static void __attribute__((noreturn))
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
		init_fail(report, "/dev/null");
	close(fd);
	retitle("init");
	if (read(go, &c, 1) != 1)	/* our network is made */
		_exit(1);
	close(go);
	/* Not dumpable (a change of ids did it already; said here): the
	 * jail's root may not look into its init through /proc/1. */
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == -1)
		init_fail(report, "prctl(PR_SET_DUMPABLE)");
	if (sethostname(s->hostname, strlen(s->hostname)) == -1)
		init_fail(report, "sethostname");
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == -1)
		init_fail(report, "making mounts private");
	/* Every mount this namespace copied is locked, and pivot_root
	 * refuses a locked new root: a clone of it, made here, is not. */
	if ((fd = (int)syscall(SYS_open_tree, AT_FDCWD, ".", OPEN_TREE_CLONE |
	    OPEN_TREE_CLOEXEC | AT_RECURSIVE)) == -1 ||
	    syscall(SYS_move_mount, fd, "", AT_FDCWD, ".",
	    MOVE_MOUNT_F_EMPTY_PATH) == -1 || fchdir(fd) == -1)
		init_fail(report, "mounting the root for pivot_root");
	close(fd);
	mount_proc(report);	/* the working directory is the root */
	if (mount("devpts", "dev/pts", "devpts", MS_NOSUID | MS_NOEXEC,
	    "newinstance,ptmxmode=0666,mode=0620") == -1)
		init_fail(report, "mounting /dev/pts");
	opts = xasprintf("mode=1777,size=%llu", s->limits.shm);
	if (mount("shm", "dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, opts) == -1)
		init_fail(report, "mounting /dev/shm");
	free(opts);
	if (syscall(SYS_pivot_root, ".", ".") == -1)
		init_fail(report, "pivot_root");
	if (umount2(".", MNT_DETACH) == -1 || chdir("/") == -1)
		init_fail(report, "detaching the host's tree");
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_term;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = on_alarm;
	sigaction(SIGALRM, &sa, NULL);
	if (limit_process(s->limits.pids, &err) == -1) {
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

/* Mounts root over itself, idmapped through pid's user namespace. */
static int
idmap_root(const char *root, pid_t pid, struct vj_err *err)
{
	struct mount_attr attr;
	char path[64];
	int fd = -1, ns = -1, rc = -1;

	snprintf(path, sizeof(path), "/proc/%ld/ns/user", (long)pid);
	if ((ns = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		vj_errno(err, "%s", path);
		goto out;
	}
	memset(&attr, 0, sizeof(attr));
	attr.attr_set = MOUNT_ATTR_IDMAP;
	attr.userns_fd = (unsigned)ns;
	if ((fd = (int)syscall(SYS_open_tree, AT_FDCWD, root,
	    OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE)) == -1 ||
	    syscall(SYS_mount_setattr, fd, "", AT_EMPTY_PATH | AT_RECURSIVE,
	    &attr, sizeof(attr)) == -1) {
		vj_errno(err, "an idmapped mount of %s (the jail's root ids "
		    "mapped to its range; Linux 5.12 or later, and a file "
		    "system that supports it: ext4, xfs, btrfs, tmpfs 6.3)",
		    root);
		goto out;
	}
	if (syscall(SYS_move_mount, fd, "", AT_FDCWD, root,
	    MOVE_MOUNT_F_EMPTY_PATH) == -1) {
		vj_errno(err, "mounting the idmapped %s", root);
		goto out;
	}
	rc = 0;
out:
	if (fd != -1)
		close(fd);
	if (ns != -1)
		close(ns);
	return rc;
}

/* Waits for pid; its exit status, or 128 + the signal that ended it. */
static int
wait_code(pid_t pid)
{
	int status;

	while (waitpid(pid, &status, 0) == -1)
		if (errno != EINTR)
			return 126;
	return WIFEXITED(status) ? WEXITSTATUS(status) :
	    128 + WTERMSIG(status);
}

/* M: its user namespace, then the jail's others, then I. */
static void __attribute__((noreturn))
jail_userns(const struct jail_spec *s, const char *root, int unshared,
    int mapped, int go, int report)
{
	char c, pidbuf[32];
	pid_t child;
	int n;

	if (unshare(CLONE_NEWUSER) == -1)
		init_fail(report, "unshare(user)");
	if (write(unshared, "u", 1) != 1 || read(mapped, &c, 1) != 1)
		_exit(1);	/* H said why */
	/* Into the idmapped root while this process still has the host's
	 * uid 0, the owner of a 0700 directory above it; I inherits it. */
	if (chdir(root) == -1)
		init_fail(report, root);
	if (setresgid(0, 0, 0) == -1 || setgroups(0, NULL) == -1 ||
	    setresuid(0, 0, 0) == -1)
		init_fail(report, "becoming root of the jail's user namespace");
	/* Run once: each process dies with its parent, down to the init,
	 * whose end ends the jail (set after the change of ids, which
	 * clears it). */
	if (s->argv != NULL && prctl(PR_SET_PDEATHSIG, SIGKILL) == -1)
		init_fail(report, "prctl(PR_SET_PDEATHSIG)");
	if (unshare(CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWNET |
	    CLONE_NEWPID) == -1)
		init_fail(report, "unshare(mount, uts, ipc, net, pid)");
	if ((child = fork()) == -1)
		init_fail(report, "fork");
	if (child == 0) {
		if (s->argv != NULL && prctl(PR_SET_PDEATHSIG, SIGKILL) == -1)
			init_fail(report, "prctl(PR_SET_PDEATHSIG)");
		jail_init(s, go, report);
	}
	n = snprintf(pidbuf, sizeof(pidbuf), "%ld", (long)child);
	(void)write(report, pidbuf, (size_t)n + 1);
	if (s->argv == NULL)
		_exit(0);
	close(report);
	_exit(wait_code(child));
}

/* H: a mount namespace of its own, the user namespace's maps and the
 * idmapped root. */
static void __attribute__((noreturn))
jail_helper(const struct jail_spec *s, unsigned long idbase, int go,
    int report)
{
	int unshared[2], mapped[2];
	char *outer, *root, c;
	struct vj_err err;
	pid_t m;

	if (s->argv == NULL)
		setsid();	/* a started jail outlives vjbuild */
	else if (prctl(PR_SET_PDEATHSIG, SIGKILL) == -1)
		init_fail(report, "prctl(PR_SET_PDEATHSIG)");
	if (unshare(CLONE_NEWNS) == -1)
		init_fail(report, "unshare(mount)");
	if (jail_mnt_private(&outer, &err) == -1) {
		dprintf(report, "%s", err.msg);
		_exit(1);
	}
	root = outer == NULL ? xstrdup(s->root) : fs_join(outer, s->root);
	if (pipe2(unshared, O_CLOEXEC) == -1 || pipe2(mapped, O_CLOEXEC) == -1)
		init_fail(report, "pipe");
	if ((m = fork()) == -1)
		init_fail(report, "fork");
	if (m == 0) {
		close(unshared[0]);
		close(mapped[1]);
		jail_userns(s, root, unshared[1], mapped[0], go, report);
	}
	close(unshared[1]);
	close(mapped[0]);
	if (read(unshared[0], &c, 1) == 1) {
		if (jail_ids_map(m, idbase, JAIL_IDS_COUNT, &err) == -1 ||
		    idmap_root(root, m, &err) == -1) {
			dprintf(report, "%s", err.msg);
			kill(m, SIGKILL);
		} else
			(void)write(mapped[1], "m", 1);
	}
	close(mapped[1]);
	close(report);
	_exit(wait_code(m));
}

/*
 * A lock while a jail's ids and interfaces are picked and taken. Both are
 * the host's, whichever vjbuild state starts the jail (two states starting
 * same-named jails at once took one id range): the lock is in /run/vjbuild,
 * a directory of root's alone (in /run/lock, which everyone may write, any
 * user could hold it and stop every start), or in the state's run
 * directory where there is no /run (a bare chroot).
 */
static int
ids_lock(const struct jail_spec *s, struct vj_err *err)
{
	struct stat st;
	char *path;
	int fd;

	if (stat("/run", &st) == 0 && S_ISDIR(st.st_mode)) {
		if ((mkdir("/run/vjbuild", 0700) == -1 && errno != EEXIST) ||
		    lstat("/run/vjbuild", &st) == -1) {
			vj_errno(err, "/run/vjbuild");
			return -1;
		}
		if (!S_ISDIR(st.st_mode) || st.st_uid != 0 ||
		    (st.st_mode & 022) != 0) {
			vj_errf(err, "/run/vjbuild is not a directory that only "
			    "root may write: remove it");
			return -1;
		}
		path = xstrdup("/run/vjbuild/jails.lock");
	} else
		path = fs_join(s->rundir, ".ids.lock");
	fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd == -1 || flock(fd, LOCK_EX) == -1) {
		vj_errno(err, "%s", path);
		if (fd != -1)
			close(fd);
		fd = -1;
	}
	free(path);
	return fd;
}

/*
 * Makes pipes go and report, forks H (which makes M and I) for s with the
 * ids at idbase, and reads M's report: I's pid, which it returns; *hp is
 * H. -1 with err when I was not made (H reaped).
 */
static pid_t
launch(const struct jail_spec *s, unsigned long idbase, int go[2],
    int report[2], pid_t *hp, struct vj_err *err)
{
	char msg[512];
	ssize_t n = 0;
	size_t got = 0;
	pid_t h;

	if (pipe2(go, O_CLOEXEC) == -1 || pipe2(report, O_CLOEXEC) == -1) {
		vj_errno(err, "pipe");
		return -1;
	}
	fflush(stdout);
	fflush(stderr);
	if ((h = fork()) == -1) {
		vj_errno(err, "fork");
		return -1;
	}
	if (h == 0) {
		close(go[1]);
		close(report[0]);
		jail_helper(s, idbase, go[0], report[1]);
	}
	close(go[0]);
	go[0] = -1;
	close(report[1]);
	report[1] = -1;
	/* M's report: I's pid and a NUL, or what failed. */
	while (got < sizeof(msg) - 1 && (n = read(report[0], msg + got,
	    sizeof(msg) - 1 - got)) > 0 && memchr(msg, '\0', got + (size_t)n) ==
	    NULL)
		got += (size_t)n;
	if (n > 0)
		got += (size_t)n;
	msg[got] = '\0';
	if (got == 0 || memchr(msg, '\0', got) == NULL) {
		vj_errf(err, "%s: %s", s->name, got > 0 ? msg :
		    "the jail's process did not start");
		kill(h, SIGKILL);
		while (waitpid(h, NULL, 0) == -1 && errno == EINTR)
			;
		return -1;
	}
	*hp = h;
	return (pid_t)strtol(msg, NULL, 10);
}

int
jail_once(const struct jail_spec *s, int *status, struct vj_err *err)
{
	int go[2] = { -1, -1 }, report[2] = { -1, -1 }, lock, rc = -1;
	unsigned long idbase;
	char msg[512];
	ssize_t n;
	pid_t h, init;

	if (jail_seccomp_preload(err) == -1)
		return -1;
	if (fs_mkdirs(s->rundir, 0700) == -1) {
		vj_errno(err, "%s", s->rundir);
		return -1;
	}
	if ((lock = ids_lock(s, err)) == -1)
		return -1;
	if (jail_ids_pick(s->name, &idbase, err) == -1 ||
	    (init = launch(s, idbase, go, report, &h, err)) == -1)
		goto out;
	close(lock);	/* the range is taken: its namespace exists */
	lock = -1;
	if (write(go[1], "g", 1) != 1) {
		vj_errno(err, "%s: starting", s->name);
		kill(h, SIGKILL);
	} else if ((n = read(report[0], msg, sizeof(msg) - 1)) != 1 ||
	    msg[0] != '\0') {
		msg[n > 0 ? n : 0] = '\0';
		vj_errf(err, "%s: %s", s->name, n > 0 ? msg : "its init died");
		kill(h, SIGKILL);
	} else
		rc = 0;
	while (waitpid(h, status, 0) == -1 && errno == EINTR)
		;
out:
	if (lock != -1) close(lock);
	if (go[0] != -1) close(go[0]);
	if (go[1] != -1) close(go[1]);
	if (report[0] != -1) close(report[0]);
	if (report[1] != -1) close(report[1]);
	return rc;
}

int
jail_start(const struct jail_spec *s, struct vj_err *err)
{
	int go[2] = { -1, -1 }, report[2] = { -1, -1 }, status, rc = -1;
	int lock = -1, veth = 0, cg = 1;	/* cg: 1 none made */
	char host_if[16], jail_if[16], msg[512], *addr = NULL, *text = NULL;
	char pidbuf[32];
	struct jail_spec spec = *s;
	struct vj_err cgerr;
	unsigned long idbase;
	long ifindex = 0;
	pid_t h, init = 0;
	ssize_t n = 0;

	if (jail_pid(s) != 0) {
		vj_errf(err, "%s is already running", s->name);
		return -1;
	}
	if (jail_addr_check(s->address, err) == -1 ||
	    jail_seccomp_preload(err) == -1)
		return -1;
	if (fs_mkdirs(s->rundir, 0700) == -1) {
		vj_errno(err, "%s", s->rundir);
		return -1;
	}
	if ((lock = ids_lock(s, err)) == -1 ||
	    jail_firewall(s->access, s->naccess, s->rundir, err) == -1 ||
	    jail_ids_pick(s->name, &idbase, err) == -1)
		goto out;
	if (jail_veth_add(host_if, jail_if, err) == -1)
		goto out;
	veth = 1;
	if ((ifindex = jail_link_index(host_if)) <= 0) {
		vj_errf(err, "%s: no ifindex for %s", s->name, host_if);
		(void)jail_ip("link", "del", host_if, NULL);	/* just made */
		veth = 0;
		goto out;
	}
	spec.jail_if = jail_if;
	if ((init = launch(&spec, idbase, go, report, &h, err)) == -1) {
		init = 0;
		goto out;
	}
	while (waitpid(h, &status, 0) == -1 && errno == EINTR)
		;	/* M reported, and H ends with it */
	close(lock);	/* the range is taken now: its namespace exists */
	lock = -1;
	cg = jail_cgroup_setup(s->name, &s->limits, init, &cgerr);
	if (cg == -1) {
		vj_errf(err, "%s: %s", s->name, cgerr.msg);
		kill(init, SIGKILL);
		goto out;
	}
	if (cg == 1)
		fprintf(stderr, "vjbuild: %s: %s: its processes are limited "
		    "only by RLIMIT_NPROC, for each user; limit.memory and "
		    "limit.cpu_weight are not enforced\n", s->name, cgerr.msg);
	snprintf(pidbuf, sizeof(pidbuf), "%ld", (long)init);
	addr = xasprintf("%s/%d", s->address, strchr(s->address, ':') ? 128 : 32);
	/* IPv6: the host's end answers at fe80::1, the jail's router (a
	 * host answers neighbour solicitation only for its addresses on the
	 * interface asked, and the host's global ones are elsewhere). */
	if (jail_ip("link", "set", jail_if, "netns", pidbuf, NULL) == -1 ||
	    (strchr(s->address, ':') != NULL && jail_ip("-6", "addr", "add",
	    "fe80::1/64", "dev", host_if, "nodad", NULL) == -1) ||
	    jail_ip("link", "set", host_if, "up", NULL) == -1 ||
	    jail_ip(strchr(s->address, ':') ? "-6" : "-4", "route", "add", addr,
	    "dev", host_if, NULL) == -1) {
		vj_errf(err, "%s: setting up %s with ip(8) failed", s->name,
		    host_if);
		kill(init, SIGKILL);
		goto out;
	}
	if (jail_net_inside(init, jail_if, s->address, err) == -1) {
		kill(init, SIGKILL);
		goto out;
	}
	if (write(go[1], "g", 1) != 1) {
		vj_errno(err, "%s: starting", s->name);
		kill(init, SIGKILL);
		goto out;
	}
	close(go[1]);
	go[1] = -1;
	n = read(report[0], msg, sizeof(msg) - 1);
	if (n != 1 || msg[0] != '\0') {
		msg[n > 0 ? n : 0] = '\0';
		vj_errf(err, "%s: %s", s->name, n > 0 ? msg : "its init died");
		kill(init, SIGKILL);
		goto out;
	}
	if (pidns(init, msg, sizeof(msg)) == -1) {
		vj_errno(err, "%s: its PID namespace", s->name);
		kill(init, SIGKILL);
		goto out;
	}
	text = xasprintf("%ld %s %s %lu %s %ld\n", (long)init, host_if,
	    s->address, idbase, msg, ifindex);
	{
		int dfd = open(s->rundir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		rc = dfd == -1 ? -1 : fs_write_beneath(dfd, s->name, text,
		    strlen(text), 0644, err);
		if (dfd != -1)
			close(dfd);
	}
	if (rc == -1)
		kill(init, SIGKILL);
out:
	if (rc == -1 && veth)
		jail_link_del(host_if, ifindex);
	if (rc == -1 && init > 0) {
		while (waitpid(init, NULL, 0) == -1 && errno == EINTR)
			;
		if (cg != 1)	/* made, or made in part */
			jail_cgroup_remove(s->name);
	}
	if (lock != -1) close(lock);
	if (go[0] != -1) close(go[0]);
	if (go[1] != -1) close(go[1]);
	if (report[0] != -1) close(report[0]);
	if (report[1] != -1) close(report[1]);
	free(addr);
	free(text);
	return rc;
}

int
jail_stop(const struct jail_spec *s, struct vj_err *err)
{
	pid_t pid = jail_pid(s);
	char *run = run_path(s);
	struct run_rec r;
	int i;

	if (run_read(s, &r) == -1) {
		r.iface[0] = '\0';
		r.ifindex = 0;
	}
	if (pid == 0) {
		/* Its init died by itself: what start made for it goes (the
		 * pair went with its network namespace). */
		jail_link_del(r.iface, r.ifindex);
		jail_cgroup_remove(s->name);
		unlink(run);
		free(run);
		vj_errf(err, "%s is not running", s->name);
		return -1;
	}
	kill(pid, SIGTERM);
	/* exec.stop's time, the TERM's 5 s, and some to spare. */
	for (i = 0; i < (JAIL_STOP_TIMEOUT + 7) * 20 && kill(pid, 0) == 0; i++)
		usleep(50000);
	if (kill(pid, 0) == 0)
		kill(pid, SIGKILL);
	jail_link_del(r.iface, r.ifindex);
	jail_cgroup_remove(s->name);
	unlink(run);
	free(run);
	return 0;
}

/* In the child of jail_exec: enter the jail, run argv, exit with its
 * status. */
static void __attribute__((noreturn))
exec_inside(const struct jail_spec *s, pid_t pid, char *const argv[])
{
	static const char *const ns[] = { "user", "ipc", "uts", "net", "pid",
	    "mnt" };
	char *envp[] = { "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:"
	    "/usr/bin:/sbin:/bin", "HOME=/", "TERM=dumb", NULL };
	char path[64];
	int fds[sizeof(ns) / sizeof(ns[0])], rootfd, status;
	struct vj_err err;
	pid_t child;
	size_t i;

	/* Its limits first: what runs here counts against the jail's. */
	if (jail_cgroup_join(s->name, getpid(), &err) == -1) {
		fprintf(stderr, "vjbuild: %s\n", err.msg);
		_exit(126);
	}
	snprintf(path, sizeof(path), "/proc/%ld/root", (long)pid);
	if ((rootfd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC)) == -1) {
		fprintf(stderr, "vjbuild: %s: %s\n", path, strerror(errno));
		_exit(126);
	}
	for (i = 0; i < sizeof(ns) / sizeof(ns[0]); i++) {
		snprintf(path, sizeof(path), "/proc/%ld/ns/%s", (long)pid, ns[i]);
		if ((fds[i] = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
			fprintf(stderr, "vjbuild: %s: %s\n", path,
			    strerror(errno));
			_exit(126);
		}
	}
	/* The user namespace first: the others are its. */
	for (i = 0; i < sizeof(ns) / sizeof(ns[0]); i++) {
		if (setns(fds[i], 0) == -1) {
			fprintf(stderr, "vjbuild: entering the jail's %s "
			    "namespace: %s\n", ns[i], strerror(errno));
			_exit(126);
		}
		close(fds[i]);
	}
	if (setresgid(0, 0, 0) == -1 || setgroups(0, NULL) == -1 ||
	    setresuid(0, 0, 0) == -1 || fchdir(rootfd) == -1 ||
	    chroot(".") == -1 || chdir("/") == -1) {
		fprintf(stderr, "vjbuild: becoming the jail's root: %s\n",
		    strerror(errno));
		_exit(126);
	}
	close(rootfd);
	/* The PID namespace applies to children: fork once more. */
	if ((child = fork()) == -1)
		_exit(126);
	if (child == 0) {
		if (limit_process(s->limits.pids, &err) == -1) {
			fprintf(stderr, "vjbuild: %s\n", err.msg);
			_exit(126);
		}
		execve(argv[0], argv, envp);
		if (strchr(argv[0], '/') == NULL) {
			static const char *const dirs[] = { "/bin", "/usr/bin",
			    "/sbin", "/usr/sbin", "/usr/local/bin",
			    "/usr/local/sbin" };
			for (i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
				snprintf(path, sizeof(path), "%s/%s", dirs[i],
				    argv[0]);
				execve(path, argv, envp);
			}
		}
		fprintf(stderr, "%s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	while (waitpid(child, &status, 0) == -1 && errno == EINTR)
		;
	_exit(WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
}

int
jail_exec(const struct jail_spec *s, char *const argv[], int *status,
    struct vj_err *err)
{
	pid_t pid = jail_pid(s), child;

	if (pid == 0) {
		vj_errf(err, "%s is not running (vjbuild start %s)", s->name,
		    s->name);
		return -1;
	}
	if (jail_seccomp_preload(err) == -1)
		return -1;
	/* vjbuild itself stays outside the jail; a child goes in. */
	fflush(stdout);
	fflush(stderr);
	if ((child = fork()) == -1) {
		vj_errno(err, "fork");
		return -1;
	}
	if (child == 0)
		exec_inside(s, pid, argv);
	while (waitpid(child, status, 0) == -1 && errno == EINTR)
		;
	return 0;
}

/* The number of processes in pid's PID namespace. */
int
jail_nprocs(pid_t pid)
{
	char path[300], want[64], got[64];
	ssize_t n;
	DIR *d;
	struct dirent *de;
	int count = 0;

	snprintf(path, sizeof(path), "/proc/%ld/ns/pid", (long)pid);
	if ((n = readlink(path, want, sizeof(want) - 1)) < 0)
		return 0;
	want[n] = '\0';
	if ((d = opendir("/proc")) == NULL)
		return 0;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/ns/pid", de->d_name);
		if ((n = readlink(path, got, sizeof(got) - 1)) < 0)
			continue;
		got[n] = '\0';
		count += strcmp(got, want) == 0;
	}
	closedir(d);
	return count;
}
#elif defined(__FreeBSD__)
/*
 * FreeBSD: jail(8) does the work, from the generated STATE/jail.conf
 * (rundir's parent). Written for FreeBSD, not yet built or run there.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../util/util.h"
#include "jail.h"

static int
freebsd_jail(const struct jail_spec *s, const char *flag, struct vj_err *err)
{
	char *dir = fs_dirname(s->rundir), *conf = fs_join(dir, "jail.conf");
	char *name = jail_conf_name(s->name);
	char *argv[] = { "/usr/sbin/jail", "-f", conf, (char *)flag, name, NULL };
	char *envp[] = { "PATH=/sbin:/bin:/usr/sbin:/usr/bin", NULL };
	int status, rc;

	rc = jail_run(argv, envp, NULL, &status, err);
	if (rc == 0 && (!WIFEXITED(status) || WEXITSTATUS(status) != 0)) {
		vj_errf(err, "jail -f %s %s %s failed", conf, flag, name);
		rc = -1;
	}
	free(dir);
	free(conf);
	free(name);
	return rc;
}

/* A port's setup in a jail of its own: jail(8) with command= would do it;
 * not written yet, and said so (the setup task fails with this). */
int
jail_once(const struct jail_spec *s, int *status, struct vj_err *err)
{
	(void)status;
	vj_errf(err, "%s: running a port's setup in a jail is not written "
	    "for FreeBSD yet", s->name);
	return -1;
}

int
jail_start(const struct jail_spec *s, struct vj_err *err)
{
	return freebsd_jail(s, "-c", err);
}

int
jail_stop(const struct jail_spec *s, struct vj_err *err)
{
	return freebsd_jail(s, "-r", err);
}

int
jail_exec(const struct jail_spec *s, char *const argv[], int *status,
    struct vj_err *err)
{
	char *name = jail_conf_name(s->name), **args;
	char *envp[] = { "PATH=/sbin:/bin:/usr/sbin:/usr/bin", NULL };
	size_t n = 0, i;
	int rc;

	while (argv[n] != NULL)
		n++;
	args = xcalloc(n + 3, sizeof(*args));
	args[0] = "/usr/sbin/jexec";
	args[1] = name;
	for (i = 0; i < n; i++)
		args[i + 2] = argv[i];
	rc = jail_run(args, envp, NULL, status, err);
	free(args);
	free(name);
	return rc;
}

pid_t
jail_pid(const struct jail_spec *s)
{
	(void)s;
	return 0;	/* jls(8) lists FreeBSD's running jails */
}

int
jail_nprocs(pid_t pid)
{
	(void)pid;
	return 0;
}
#endif
