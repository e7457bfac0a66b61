/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Running provisioned jails on Linux: start, stop, exec, ps.
 *
 * start forks a process that unshares mount, UTS, IPC, network and PID
 * namespaces and forks the jail's init, PID 1 of the new PID namespace.
 * The parent moves one end of a veth pair into the jail's network
 * namespace and routes the jail's address to the other end. The init sets
 * the host name, brings up lo and eth0 with the jail's address, makes its
 * mounts private, mounts the root on itself, /proc, /dev/pts and /dev/shm,
 * pivots into the root and detaches the host's tree, drops every
 * capability outside a short list from the bounding set, sets
 * no_new_privs, runs the jail's exec.start command, and then only reaps
 * children until it is told to stop (SIGTERM), when it stops everything in
 * the jail. (In a chroot whose / is not a mount point, the mounts are
 * made private from the namespace's own root: jail_mnt_private.) STATE/run/NAME holds its pid and interface.
 *
 * exec enters the jail's namespaces (setns) and its root (chroot to the
 * init's, /proc/PID/root), with the same capability limits, and runs a
 * command there.
 */
#ifdef __linux__
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <linux/capability.h>

#include "../util/util.h"
#include "jail.h"

/* What a jail keeps; everything else leaves the bounding set (the set
 * container runtimes commonly grant). */
static const int keep_caps[] = {
	CAP_CHOWN, CAP_DAC_OVERRIDE, CAP_FOWNER, CAP_FSETID, CAP_KILL,
	CAP_SETGID, CAP_SETUID, CAP_SETPCAP, CAP_NET_BIND_SERVICE,
	CAP_NET_RAW, CAP_SYS_CHROOT, CAP_MKNOD, CAP_AUDIT_WRITE, CAP_SETFCAP,
};

static int
limit_caps(void)
{
	int cap;
	size_t i;

	for (cap = 0; cap <= CAP_LAST_CAP; cap++) {
		for (i = 0; i < sizeof(keep_caps) / sizeof(keep_caps[0]); i++)
			if (keep_caps[i] == cap)
				break;
		if (i == sizeof(keep_caps) / sizeof(keep_caps[0]) &&
		    prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) == -1 && errno != EINVAL)
			return -1;
	}
	return prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
}

static char *
run_path(const struct jail_spec *s)
{
	return xasprintf("%s/%s", s->rundir, s->name);
}

/* The veth names of jail name: vj + 8 hex digits of its hash + h or j. */
static void
veth_names(const char *name, char host[16], char jail[16])
{
	uint32_t h = 2166136261u;
	const char *p;

	for (p = name; *p; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	snprintf(host, 16, "vj%08xh", (unsigned)h);
	snprintf(jail, 16, "vj%08xj", (unsigned)h);
}

/* Deletes interface name if it exists (its peer goes with it). */
static void ip_del(const char *name);

/* Runs the host's ip(8) with the NULL-terminated arguments; 0 when it
 * succeeded. */
static int
__attribute__((sentinel))
ip(const char *first, ...)
{
	char *argv[16] = { "/sbin/ip" }, *envp[] = {
	    "PATH=/usr/sbin:/usr/bin:/sbin:/bin", NULL };
	struct vj_err err;
	va_list ap;
	size_t n = 1;
	int status;

	va_start(ap, first);
	for (argv[n] = (char *)first; argv[n] != NULL && n < 14;)
		argv[++n] = va_arg(ap, char *);
	va_end(ap);
	argv[15] = NULL;

	if (access(argv[0], X_OK) == -1)
		argv[0] = "/usr/sbin/ip";
	if (jail_run(argv, envp, NULL, &status, &err) == -1)
		return -1;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

static void
ip_del(const char *name)
{
	char *path = xasprintf("/sys/class/net/%s", name);

	if (access(path, F_OK) == 0)
		(void)ip("link", "del", name, NULL);
	free(path);
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

/* The jail's pid from STATE/run/NAME ("PID IFACE ADDRESS PIDNS"), or 0
 * when it is not running: the pid must be alive and still be the init of
 * the PID namespace recorded at start, not a reused number. */
pid_t
jail_pid(const struct jail_spec *s)
{
	char *path = run_path(s), *text = fs_read(path, 512, NULL), *ns;
	char now[64];
	pid_t pid = 0;

	free(path);
	if (text == NULL)
		return 0;
	pid = (pid_t)strtol(text, NULL, 10);
	ns = strrchr(text, ' ');
	if (ns != NULL)
		ns[strcspn(ns, "\n")] = '\0';
	if (pid <= 1 || ns == NULL || pidns(pid, now, sizeof(now)) == -1 ||
	    strcmp(now, ns + 1) != 0)
		pid = 0;
	free(text);
	return pid;
}

static volatile sig_atomic_t stopping;

static void
on_term(int sig)
{
	(void)sig;
	stopping = 1;
}

/* Sends a failure message up the pipe and ends the init. */
static void __attribute__((noreturn))
init_fail(int fd, const char *what)
{
	dprintf(fd, "%s: %s", what, strerror(errno));
	_exit(1);
}

/* PID 1 of the jail. */
static void __attribute__((noreturn))
jail_init(const struct jail_spec *s, int go, int report)
{
	char c, jail_if[16], host_if[16], *addr, *outer, *root;
	struct vj_err err;
	struct sigaction sa;
	pid_t rc_pid;
	time_t deadline;
	int status, v6 = strchr(s->address, ':') != NULL;

	int fd;

	/* The jail keeps nothing of vjbuild's: no database, no log. */
	for (fd = 3; fd < 1024; fd++)
		if (fd != go && fd != report)
			(void)close(fd);
	if (read(go, &c, 1) != 1)	/* the veth is in our namespace */
		_exit(1);
	close(go);
	veth_names(s->name, host_if, jail_if);
	if (sethostname(s->hostname, strlen(s->hostname)) == -1)
		init_fail(report, "sethostname");
	addr = xasprintf("%s/%d", s->address, v6 ? 128 : 32);
	if (ip("link", "set", "lo", "up", NULL) == -1 ||
	    ip("link", "set", jail_if, "name", "eth0", NULL) == -1 ||
	    ip(v6 ? "-6" : "-4", "addr", "add", addr, "dev", "eth0", v6 ?
	    "nodad" : NULL, NULL) == -1 ||
	    ip("link", "set", "eth0", "up", NULL) == -1 ||
	    ip(v6 ? "-6" : "-4", "route", "add", "default", "dev", "eth0",
	    NULL, NULL) == -1) {
		errno = EINVAL;
		init_fail(report, "configuring eth0 with ip(8)");
	}
	free(addr);
	/* In a chroot, the jail's root is reached from the namespace's. */
	if (jail_mnt_private(&outer, &err) == -1) {
		dprintf(report, "%s", err.msg);
		_exit(1);
	}
	root = outer == NULL ? xstrdup(s->root) : fs_join(outer, s->root);
	if (mount(root, root, NULL, MS_BIND | MS_REC, NULL) == -1)
		init_fail(report, "bind-mounting the root");
	if (chdir(root) == -1)
		init_fail(report, root);
	if (mount("proc", "proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC,
	    NULL) == -1)
		init_fail(report, "mounting /proc");
	if (mount("devpts", "dev/pts", "devpts", MS_NOSUID | MS_NOEXEC,
	    "newinstance,ptmxmode=0666,mode=0620") == -1)
		init_fail(report, "mounting /dev/pts");
	if (mount("shm", "dev/shm", "tmpfs", MS_NOSUID | MS_NODEV,
	    "mode=1777") == -1)
		init_fail(report, "mounting /dev/shm");
	(void)mkdir(".vjbuild-oldroot", 0700);
	if (syscall(SYS_pivot_root, ".", ".vjbuild-oldroot") == -1)
		init_fail(report, "pivot_root");
	if (chdir("/") == -1 || umount2("/.vjbuild-oldroot", MNT_DETACH) == -1)
		init_fail(report, "detaching the host's tree");
	(void)rmdir("/.vjbuild-oldroot");
	if (limit_caps() == -1)
		init_fail(report, "dropping capabilities");
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_term;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	rc_pid = fork();
	if (rc_pid == 0) {
		char *argv[] = { "/bin/sh", "-c", (char *)s->start, NULL };
		char *envp[] = { "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:"
		    "/usr/bin:/sbin:/bin", "HOME=/", NULL };
		int null = open("/dev/null", O_RDWR);
		if (null != -1) {
			dup2(null, 0);
			dup2(null, 1);
			dup2(null, 2);
		}
		sa.sa_handler = SIG_DFL;
		sigaction(SIGTERM, &sa, NULL);
		sigaction(SIGINT, &sa, NULL);
		setsid();
		execve(argv[0], argv, envp);
		_exit(127);
	}
	(void)write(report, "", 1);	/* started */
	close(report);
	while (!stopping)
		if (waitpid(-1, &status, 0) == -1 && errno == ECHILD)
			pause();
	/* Stop everything in the jail: TERM, then KILL. */
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

int
jail_start(const struct jail_spec *s, struct vj_err *err)
{
	int go[2] = { -1, -1 }, report[2] = { -1, -1 }, status, rc = -1;
	char host_if[16], jail_if[16], msg[512], *addr = NULL, *run = NULL;
	char *text = NULL, pidbuf[32];
	pid_t mid, init = 0;
	ssize_t n;

	if (jail_pid(s) != 0) {
		vj_errf(err, "%s is already running", s->name);
		return -1;
	}
	if (fs_mkdirs(s->rundir, 0700) == -1) {
		vj_errno(err, "%s", s->rundir);
		return -1;
	}
	if (pipe2(go, O_CLOEXEC) == -1 || pipe2(report, O_CLOEXEC) == -1) {
		vj_errno(err, "pipe");
		goto out;
	}
	fflush(stdout);
	fflush(stderr);
	if ((mid = fork()) == -1) {
		vj_errno(err, "fork");
		goto out;
	}
	if (mid == 0) {
		/* Unshare, then fork PID 1 and tell the parent its pid. */
		pid_t child;
		close(go[1]);
		close(report[0]);
		setsid();
		if (unshare(CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC |
		    CLONE_NEWNET | CLONE_NEWPID) == -1)
			init_fail(report[1], "unshare");
		if ((child = fork()) == -1)
			init_fail(report[1], "fork");
		if (child == 0)
			jail_init(s, go[0], report[1]);
		n = snprintf(pidbuf, sizeof(pidbuf), "%ld", (long)child);
		(void)write(report[1], pidbuf, (size_t)n + 1);
		_exit(0);
	}
	close(go[0]);
	go[0] = -1;
	close(report[1]);
	report[1] = -1;
	waitpid(mid, &status, 0);
	n = read(report[0], pidbuf, sizeof(pidbuf) - 1);
	if (n <= 0 || pidbuf[n - 1] != '\0') {
		if (n > 0) {
			pidbuf[n] = '\0';
			vj_errf(err, "%s: %s", s->name, pidbuf);
		} else
			vj_errf(err, "%s: the jail's process did not start",
			    s->name);
		goto out;
	}
	init = (pid_t)strtol(pidbuf, NULL, 10);
	/* The veth pair: our end routes the jail's address. */
	veth_names(s->name, host_if, jail_if);
	ip_del(host_if);
	snprintf(pidbuf, sizeof(pidbuf), "%ld", (long)init);
	addr = xasprintf("%s/%d", s->address, strchr(s->address, ':') ? 128 : 32);
	if (ip("link", "add", host_if, "type", "veth", "peer", "name",
	    jail_if, NULL) == -1 ||
	    ip("link", "set", jail_if, "netns", pidbuf, NULL) == -1 ||
	    ip("link", "set", host_if, "up", NULL) == -1 ||
	    ip(strchr(s->address, ':') ? "-6" : "-4", "route", "replace", addr,
	    "dev", host_if, NULL) == -1) {
		vj_errf(err, "%s: setting up %s with ip(8) failed", s->name,
		    host_if);
		kill(init, SIGKILL);
		goto out;
	}
	if (write(go[1], "g", 1) != 1) {
		vj_errno(err, "%s: starting", s->name);
		goto out;
	}
	close(go[1]);
	go[1] = -1;
	n = read(report[0], msg, sizeof(msg) - 1);
	if (n != 1 || msg[0] != '\0') {
		msg[n > 0 ? n : 0] = '\0';
		vj_errf(err, "%s: %s", s->name, n > 0 ? msg : "its init died");
		kill(init, SIGKILL);
		ip_del(host_if);
		goto out;
	}
	run = run_path(s);
	if (pidns(init, msg, sizeof(msg)) == -1) {
		vj_errno(err, "%s: its PID namespace", s->name);
		goto out;
	}
	text = xasprintf("%ld %s %s %s\n", (long)init, host_if, s->address,
	    msg);
	{
		int dfd = open(s->rundir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		rc = dfd == -1 ? -1 : fs_write_beneath(dfd, s->name, text,
		    strlen(text), 0644, err);
		if (dfd != -1)
			close(dfd);
	}
out:
	if (go[0] != -1) close(go[0]);
	if (go[1] != -1) close(go[1]);
	if (report[0] != -1) close(report[0]);
	if (report[1] != -1) close(report[1]);
	free(addr);
	free(run);
	free(text);
	return rc;
}

int
jail_stop(const struct jail_spec *s, struct vj_err *err)
{
	pid_t pid = jail_pid(s);
	char host_if[16], jail_if[16], *run = run_path(s);
	int i;

	if (pid == 0) {
		unlink(run);
		free(run);
		vj_errf(err, "%s is not running", s->name);
		return -1;
	}
	kill(pid, SIGTERM);
	for (i = 0; i < 200 && kill(pid, 0) == 0; i++)
		usleep(50000);
	if (kill(pid, 0) == 0)
		kill(pid, SIGKILL);
	veth_names(s->name, host_if, jail_if);
	ip_del(host_if);
	unlink(run);
	free(run);
	return 0;
}

/* In the child of jail_exec: enter the jail, run argv, exit with its
 * status. */
static void __attribute__((noreturn))
exec_inside(pid_t pid, char *const argv[])
{
	static const char *const ns[] = { "ipc", "uts", "net", "pid", "mnt" };
	char *envp[] = { "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:"
	    "/usr/bin:/sbin:/bin", "HOME=/", "TERM=dumb", NULL };
	char path[64];
	pid_t child;
	size_t i;
	int fd, rootfd, status;

	/* The jail's root, opened before setns: entering its mount
	 * namespace sets the root to the namespace's, which is not the
	 * jail's where vjbuild runs in a chroot (nsenter -r does the same). */
	snprintf(path, sizeof(path), "/proc/%ld/root", (long)pid);
	if ((rootfd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC)) == -1) {
		fprintf(stderr, "vjbuild: %s: %s\n", path, strerror(errno));
		_exit(126);
	}
	for (i = 0; i < sizeof(ns) / sizeof(ns[0]); i++) {
		snprintf(path, sizeof(path), "/proc/%ld/ns/%s", (long)pid, ns[i]);
		if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1 ||
		    setns(fd, 0) == -1) {
			fprintf(stderr, "vjbuild: entering %s: %s\n", path,
			    strerror(errno));
			_exit(126);
		}
		close(fd);
	}
	if (fchdir(rootfd) == -1 || chroot(".") == -1 || chdir("/") == -1) {
		fprintf(stderr, "vjbuild: entering the jail's root: %s\n",
		    strerror(errno));
		_exit(126);
	}
	close(rootfd);
	/* The PID namespace applies to children: fork once more. */
	if ((child = fork()) == -1)
		_exit(126);
	if (child == 0) {
		if (limit_caps() == -1)
			_exit(126);
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
	/* vjbuild itself stays outside the jail; a child goes in. */
	fflush(stdout);
	fflush(stderr);
	if ((child = fork()) == -1) {
		vj_errno(err, "fork");
		return -1;
	}
	if (child == 0)
		exec_inside(pid, argv);
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
