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
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "../util/util.h"
#include "jail.h"
#include "linux.h"

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
	if ((lock = jail_ids_lock(s, err)) == -1)
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
	if ((lock = jail_ids_lock(s, err)) == -1 ||
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
		if (jail_limit_process(s->limits.pids, &err) == -1) {
			fprintf(stderr, "vjbuild: %s\n", err.msg);
			_exit(126);
		}
		/* What whoever ran vjbuild left open (a directory: a way
		 * out of the jail's root) stays outside. */
		compat_cloexec_from(3);
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
#endif
