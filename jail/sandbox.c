/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The sandbox a port's build runs in (jail.h, struct jail_sandbox).
 *
 * A build is untrusted code: any upstream Makefile. It runs in new user,
 * mount, PID, IPC, UTS and network namespaces, as root of its own user
 * namespace only. The steps, in the order bubblewrap and nspawn take them
 * (namespaces, id maps, mounts, capabilities, no_new_privs, seccomp, exec):
 *
 *  1. The caller (host root, in a task's child) checks that no host user
 *     or group has an id in the sandbox's range, loads libseccomp, and
 *     forks S.
 *  2. S unshares the six namespaces (from a chroot whose / is not a mount
 *     point the kernel refuses a user namespace: S first goes to the root
 *     of a mount namespace of its own, jail_mnt_private, and comes back
 *     into the chroot as a mount point of its own once in the sandbox's,
 *     jail_mnt_enter). The caller writes S's uid_map and gid_map: ids
 *     0..count-1 inside are base..base+count-1 on the host, so `chown
 *     daemon` and setuid bits in `make install` work, while on the host
 *     they are an unprivileged range. Host root (uid 0) is not mapped:
 *     the build has no capability over a file a host user owns beyond
 *     what its mode gives everyone (a 0600 file of the host's is
 *     unreadable, /usr unwritable, whatever the mounts say).
 *  3. S, still the host's uid 0, opens everything the sandbox will show
 *     (struct sources): as the owner it may pass a 0700 directory of
 *     root's above a cache made by `mktemp -d`, which the sandbox's ids
 *     may not. Then it becomes uid and gid 0 of the namespace and forks
 *     I, PID 1 of the new PID namespace: the build sees no host process,
 *     and when I ends, the kernel kills everything left in the namespace.
 *  4. I builds the new root on a tmpfs mounted over /tmp (in its own mount
 *     namespace): the host's /usr, /etc and the top-level links (/bin ->
 *     usr/bin) read-only, or those of sb->sysroot (build_root); a private /tmp, /var/tmp and /dev (null, zero,
 *     full, random, urandom, tty bound from the host; its own pts and
 *     shm); /proc of the new PID namespace; and sb->binds, each read-only
 *     or writable, each at its own path unless it names another (so paths
 *     the build records, like debug info, are the ones it would have had
 *     without the sandbox). Nothing else of the host's tree: not the
 *     cache, the state, the jails, /root, /home, /run, /var, other
 *     builds. It closes what S opened, makes the tmpfs read-only, and
 *     moves into it (pivot_root, the host's tree detached). I is not
 *     dumpable: the build, with the same ids, cannot look into /proc/1.
 *  5. I forks B, which keeps only the capabilities a `make install` needs
 *     (chown, file modes and owners, setuid/setgid, kill, binding low
 *     ports in its own network), loads the seccomp filter (seccomp.c,
 *     which sets no_new_privs) and execs the build. Only lo is up in its
 *     network namespace: it reaches no host socket.
 *  6. I reaps until B ends. If B left processes running, they are killed
 *     and the build fails (a build must not leave a daemon behind, as
 *     without the sandbox). I exits with B's status; S with I's.
 *
 * A failure to set the sandbox up is written by S, I or B to a pipe that
 * the caller reads, so it becomes the task's error message; the build
 * never runs outside the sandbox.
 */
#ifdef __linux__
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/capability.h>

#include "../util/util.h"
#include "jail.h"

#define SANDBOX_NS (CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | \
	CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWNET)

/* Exit statuses of S, I and B when the sandbox could not be made (the
 * pipe says why); a build's own status is anything else. */
#define SETUP_FAILED 125

/* What a build keeps of root's capabilities in its namespace. */
static const int build_caps[] = {
	CAP_CHOWN, CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER,
	CAP_FSETID, CAP_KILL, CAP_SETGID, CAP_SETUID, CAP_SETFCAP,
	CAP_NET_BIND_SERVICE,
};

/* The host's top-level entries a build sees: directories read-only,
 * symbolic links (Debian's merged /usr) as links. */
static const char *const system_dirs[] = {
	"usr", "etc", "bin", "sbin", "lib", "lib32", "lib64", "libx32",
};

/* The host's devices a build may use, bound into its /dev. */
static const char *const devices[] = {
	"null", "zero", "full", "random", "urandom", "tty",
};

/* Writes what failed, with errno's text, to fd and ends the process. */
static void __attribute__((noreturn, format(printf, 2, 3)))
die(int fd, const char *fmt, ...)
{
	char buf[900];
	va_list ap;
	int e = errno;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	dprintf(fd, "build sandbox: %s: %s", buf, strerror(e));
	_exit(SETUP_FAILED);
}

/* The mount flags path has now (statvfs), so that a remount keeps the
 * ones the kernel locks for a less privileged namespace (atime, nosuid,
 * nodev, noexec, rdonly) and adds to them. */
static unsigned long
mount_flags(const char *path)
{
	static const struct { unsigned long st, ms; } map[] = {
		{ ST_RDONLY, MS_RDONLY }, { ST_NOSUID, MS_NOSUID },
		{ ST_NODEV, MS_NODEV }, { ST_NOEXEC, MS_NOEXEC },
		{ ST_NOATIME, MS_NOATIME }, { ST_NODIRATIME, MS_NODIRATIME },
		{ ST_RELATIME, MS_RELATIME },
	};
	struct statvfs sv;
	unsigned long f = 0;
	size_t i;

	if (statvfs(path, &sv) == -1)
		return 0;
	for (i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (sv.f_flag & map[i].st)
			f |= map[i].ms;
	return f;
}

/*
 * The host's side of every mount, opened by S while it still has the
 * host's uid 0 (see sources_open): I, which has the sandbox's ids, could
 * not reach a path below a directory only the host's root may enter (a
 * cache in `mktemp -d`), so it binds the descriptors instead, through
 * /proc/self/fd.
 */
struct sources {
	int sys[sizeof(system_dirs) / sizeof(system_dirs[0])];
	char *syslink[sizeof(system_dirs) / sizeof(system_dirs[0])];
	int dev[sizeof(devices) / sizeof(devices[0])];
	int *bind;
};

static int
open_path(int report, const char *path)
{
	int fd = open(path, O_PATH | O_CLOEXEC);

	if (fd == -1)
		die(report, "%s", path);
	return fd;
}

/* In S, in the new namespaces but with the host's uid 0 still. */
static void
sources_open(const struct jail_sandbox *sb, struct sources *src, int report)
{
	char target[4096];
	struct stat st;
	ssize_t n;
	size_t i;

	for (i = 0; i < sizeof(system_dirs) / sizeof(system_dirs[0]); i++) {
		char *host = xasprintf("%s/%s", sb->sysroot != NULL &&
		    strcmp(sb->sysroot, "/") != 0 ? sb->sysroot : "",
		    system_dirs[i]);
		src->sys[i] = -1;
		src->syslink[i] = NULL;
		if (lstat(host, &st) == -1) {
			if (errno != ENOENT)
				die(report, "%s", host);
		} else if (S_ISLNK(st.st_mode)) {
			if ((n = readlink(host, target, sizeof(target) - 1)) < 0)
				die(report, "%s", host);
			target[n] = '\0';
			src->syslink[i] = xstrdup(target);
		} else if (S_ISDIR(st.st_mode))
			src->sys[i] = open_path(report, host);
		free(host);
	}
	for (i = 0; i < sizeof(devices) / sizeof(devices[0]); i++) {
		char *host = xasprintf("/dev/%s", devices[i]);
		src->dev[i] = open_path(report, host);
		free(host);
	}
	src->bind = xcalloc(sb->nbinds + 1, sizeof(int));
	for (i = 0; i < sb->nbinds; i++)
		src->bind[i] = open_path(report, sb->binds[i].src);
}

/* Closes them once the root is made: PID 1 of the sandbox must hold no
 * descriptor of a host directory, which /proc/1/fd would lead the build
 * out through. */
static void
sources_close(const struct jail_sandbox *sb, struct sources *src)
{
	size_t i;

	for (i = 0; i < sizeof(system_dirs) / sizeof(system_dirs[0]); i++)
		if (src->sys[i] != -1)
			close(src->sys[i]);
	for (i = 0; i < sizeof(devices) / sizeof(devices[0]); i++)
		close(src->dev[i]);
	for (i = 0; i < sb->nbinds; i++)
		close(src->bind[i]);
}

/* Binds the host file or directory open as fd (see struct sources) on
 * dst, which is made (a directory, or a file for a file); read-only
 * unless rw. what names it in messages. */
static void
bind_fd(int report, int fd, const char *what, const char *dst, int rw)
{
	char src[64];
	struct stat st;
	int f;

	snprintf(src, sizeof(src), "/proc/self/fd/%d", fd);
	if (fstat(fd, &st) == -1)
		die(report, "%s", what);
	if (S_ISDIR(st.st_mode)) {
		if (fs_mkdirs(dst, 0755) == -1)
			die(report, "mkdir %s", dst);
	} else if ((f = open(dst, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC,
	    0644)) == -1)
		die(report, "%s", dst);
	else
		close(f);
	if (mount(src, dst, NULL, MS_BIND | MS_REC, NULL) == -1)
		die(report, "bind %s on %s", what, dst);
	if (!rw && mount(NULL, dst, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY |
	    MS_NOSUID | MS_NODEV | mount_flags(dst), NULL) == -1)
		die(report, "making %s read-only", dst);
}

static void
tmpfs(int report, const char *dst, const char *opts)
{
	if (fs_mkdirs(dst, 0755) == -1)
		die(report, "mkdir %s", dst);
	if (mount("vjbuild", dst, "tmpfs", MS_NOSUID | MS_NODEV, opts) == -1)
		die(report, "tmpfs on %s", dst);
}

/* /dev: the host's harmless devices, a pts of its own, shm. */
static void
make_dev(int report, const char *root, const struct sources *src)
{
	static const char *const links[][2] = {
		{ "/proc/self/fd", "fd" }, { "/proc/self/fd/0", "stdin" },
		{ "/proc/self/fd/1", "stdout" }, { "/proc/self/fd/2", "stderr" },
		{ "pts/ptmx", "ptmx" },
	};
	char *dev = fs_join(root, "dev"), *p;
	size_t i;

	tmpfs(report, dev, "mode=0755,size=64k");
	for (i = 0; i < sizeof(devices) / sizeof(devices[0]); i++) {
		p = fs_join(dev, devices[i]);
		bind_fd(report, src->dev[i], devices[i], p, 1);
		free(p);
	}
	for (i = 0; i < sizeof(links) / sizeof(links[0]); i++) {
		p = fs_join(dev, links[i][1]);
		if (symlink(links[i][0], p) == -1)
			die(report, "%s", p);
		free(p);
	}
	p = fs_join(dev, "pts");
	if (mkdir(p, 0755) == -1 || mount("devpts", p, "devpts", MS_NOSUID |
	    MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620") == -1)
		die(report, "devpts on %s", p);
	free(p);
	p = fs_join(dev, "shm");
	tmpfs(report, p, "mode=1777");
	free(p);
	free(dev);
}

/* Brings up lo in the new network namespace (the only interface). */
static void
lo_up(int report)
{
	struct ifreq ifr;
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	memset(&ifr, 0, sizeof(ifr));
	strcpy(ifr.ifr_name, "lo");
	if (s == -1 || ioctl(s, SIOCGIFFLAGS, &ifr) == -1)
		die(report, "lo");
	ifr.ifr_flags |= IFF_UP;
	if (ioctl(s, SIOCSIFFLAGS, &ifr) == -1)
		die(report, "bringing lo up");
	close(s);
}

/*
 * Step 4, in I: the new root, and into it. It is made on a tmpfs mounted
 * over /tmp: every host path it needs is open already (struct sources),
 * and /tmp is a directory on any root, a chroot's too.
 */
static void
make_root(const struct jail_sandbox *sb, const struct sources *src,
    int report)
{
	static const char root[] = "/tmp";
	struct stat st;
	char *p;
	size_t i;

	/* The user namespace already made every shared mount a slave, so
	 * nothing below reaches the host; private too. / is a mount point
	 * (in a chroot, sandbox_child made it one). */
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == -1)
		die(report, "making mounts private");
	if (stat(root, &st) == -1 || !S_ISDIR(st.st_mode))
		die(report, "%s must be a directory (the sandbox's root is "
		    "made on it, in its own mount namespace)", root);
	if (mount("vjbuild", root, "tmpfs", MS_NOSUID | MS_NODEV,
	    "mode=0755") == -1)
		die(report, "tmpfs on %s", root);
	for (i = 0; i < sizeof(system_dirs) / sizeof(system_dirs[0]); i++) {
		p = fs_join(root, system_dirs[i]);
		if (src->syslink[i] != NULL && symlink(src->syslink[i], p) == -1)
			die(report, "%s", p);
		if (src->sys[i] != -1)
			bind_fd(report, src->sys[i], system_dirs[i], p, 0);
		free(p);
	}
	p = fs_join(root, "tmp");
	tmpfs(report, p, "mode=1777");
	free(p);
	p = fs_join(root, "var/tmp");
	tmpfs(report, p, "mode=1777");
	free(p);
	make_dev(report, root, src);
	p = fs_join(root, "proc");
	if (mkdir(p, 0555) == -1 || mount("proc", p, "proc", MS_NOSUID |
	    MS_NODEV | MS_NOEXEC, NULL) == -1)
		die(report, "proc on %s", p);
	free(p);
	for (i = 0; i < sb->nbinds; i++) {
		const struct jail_bind *b = &sb->binds[i];
		p = fs_join(root, b->dst != NULL ? b->dst : b->src);
		bind_fd(report, src->bind[i], b->src, p, b->rw);
		free(p);
	}
	if (mount(NULL, root, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY |
	    MS_NOSUID | MS_NODEV, NULL) == -1)
		die(report, "making the sandbox's / read-only");
	if (chdir(root) == -1)
		die(report, "%s", root);
	if (syscall(SYS_pivot_root, ".", ".") == -1 ||
	    umount2(".", MNT_DETACH) == -1)
		die(report, "pivot_root into the sandbox's root");
	if (chdir("/") == -1)
		die(report, "chdir /");
}

/* Step 5, in B: fewer capabilities, the filter, the build. */
static void __attribute__((noreturn))
exec_build(int report, char *const argv[], char *const envp[],
    const char *dir)
{
	struct vj_err err;
	size_t i;
	int cap;

	if (dir != NULL && chdir(dir) == -1)
		die(report, "%s", dir);
	for (cap = 0; cap <= CAP_LAST_CAP; cap++) {
		for (i = 0; i < sizeof(build_caps) / sizeof(build_caps[0]); i++)
			if (build_caps[i] == cap)
				break;
		if (i == sizeof(build_caps) / sizeof(build_caps[0]) &&
		    prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) == -1 &&
		    errno != EINVAL)
			die(report, "dropping capability %d", cap);
	}
	if (jail_seccomp_load(JAIL_SECCOMP_BUILD, &err) == -1) {
		dprintf(report, "build sandbox: %s", err.msg);
		_exit(SETUP_FAILED);
	}
	execve(argv[0], argv, envp);
	die(report, "%s", argv[0]);
}

/* I: PID 1 of the build's namespace. */
static void __attribute__((noreturn))
sandbox_init(const struct jail_sandbox *sb, struct sources *src,
    char *const argv[], char *const envp[], const char *dir, int report)
{
	static const char hostname[] = "vjbuild-sandbox";
	int status = 0, left = 0, st;
	pid_t b, w;

	/* Not dumpable: the build, with the same ids, may not look into
	 * its init through /proc/1 (its memory, its descriptors). */
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == -1)
		die(report, "prctl(PR_SET_DUMPABLE)");
	if (sethostname(hostname, sizeof(hostname) - 1) == -1)
		die(report, "sethostname");
	lo_up(report);
	make_root(sb, src, report);
	sources_close(sb, src);
	if ((b = fork()) == -1)
		die(report, "fork");
	if (b == 0)
		exec_build(report, argv, envp, dir);
	close(report);
	while ((w = waitpid(-1, &st, 0)) != b)
		if (w == -1 && errno != EINTR)
			_exit(SETUP_FAILED);
	status = st;
	/* Whatever is still alive was left behind by the build. */
	while ((w = waitpid(-1, &st, WNOHANG)) > 0)
		;
	if (w == 0) {
		left = 1;
		fprintf(stderr, "vjbuild: the build left processes running; "
		    "they were killed with its sandbox\n");
		(void)kill(-1, SIGKILL);
		while (waitpid(-1, &st, 0) > 0 || errno == EINTR)
			;
	}
	if (WIFSIGNALED(status))
		_exit(128 + WTERMSIG(status));
	_exit(WEXITSTATUS(status) == 0 && left ? 1 : WEXITSTATUS(status));
}

/* S: the namespaces, then uid 0 in them, then I. */
static void __attribute__((noreturn))
sandbox_child(const struct jail_sandbox *sb, char *const argv[],
    char *const envp[], const char *dir, int unshared, int mapped,
    int report)
{
	struct sources src;
	struct vj_err err;
	char *chroot_path = NULL, c;
	pid_t init, w;
	int status;

	if (unshare(SANDBOX_NS) == -1) {
		/* In a chroot the kernel refuses a user namespace: go to the
		 * root of a mount namespace of our own first (jail_mnt_private),
		 * and back into the chroot once in the sandbox's. */
		if (errno != EPERM || unshare(CLONE_NEWNS) == -1)
			die(report, "unshare(user, mount, pid, ipc, uts, net)");
		if (jail_mnt_private(&chroot_path, &err) == -1) {
			dprintf(report, "build sandbox: %s", err.msg);
			_exit(SETUP_FAILED);
		}
		if (chroot_path == NULL)
			errno = EPERM;
		if (chroot_path == NULL || unshare(SANDBOX_NS) == -1)
			die(report, "unshare(user, mount, pid, ipc, uts, net) "
			    "(are user namespaces allowed? "
			    "/proc/sys/user/max_user_namespaces)");
	}
	if (write(unshared, "u", 1) != 1 || read(mapped, &c, 1) != 1)
		_exit(SETUP_FAILED);	/* the caller said why */
	close(unshared);
	close(mapped);
	if (chroot_path != NULL && jail_mnt_enter(chroot_path, &err) == -1) {
		dprintf(report, "build sandbox: %s", err.msg);
		_exit(SETUP_FAILED);
	}
	sources_open(sb, &src, report);
	if (setresgid(0, 0, 0) == -1 || setgroups(0, NULL) == -1 ||
	    setresuid(0, 0, 0) == -1)
		die(report, "becoming root of the build's user namespace");
	/* Set after the ids changed: a change of ids clears it. */
	(void)compat_die_with_parent();
	if ((init = fork()) == -1)
		die(report, "fork");
	if (init == 0) {
		(void)compat_die_with_parent();
		sandbox_init(sb, &src, argv, envp, dir, report);
	}
	close(report);
	while ((w = waitpid(init, &status, 0)) == -1 && errno == EINTR)
		;
	if (w == -1)
		_exit(SETUP_FAILED);
	_exit(WIFEXITED(status) ? WEXITSTATUS(status) :
	    128 + WTERMSIG(status));
}

int
jail_sandbox_run(const struct jail_sandbox *sb, char *const argv[],
    char *const envp[], const char *dir, int *status, struct vj_err *err)
{
	int unshared[2] = { -1, -1 }, mapped[2] = { -1, -1 };
	int report[2] = { -1, -1 }, rc = -1;
	char msg[1024], c;
	ssize_t n;
	size_t got = 0;
	pid_t pid, w;

	if (jail_ids_unused(sb->idbase, sb->idcount, err) == -1 ||
	    jail_seccomp_preload(err) == -1)
		return -1;
	if (pipe2(unshared, O_CLOEXEC) == -1 || pipe2(mapped, O_CLOEXEC) ==
	    -1 || pipe2(report, O_CLOEXEC) == -1) {
		vj_errno(err, "build sandbox: pipe");
		goto out;
	}
	fflush(stdout);
	fflush(stderr);
	if ((pid = fork()) == -1) {
		vj_errno(err, "build sandbox: fork");
		goto out;
	}
	if (pid == 0) {
		(void)compat_die_with_parent();
		close(unshared[0]);
		close(mapped[1]);
		close(report[0]);
		sandbox_child(sb, argv, envp, dir, unshared[1], mapped[0],
		    report[1]);
	}
	close(unshared[1]);
	close(mapped[0]);
	close(report[1]);
	unshared[1] = mapped[0] = report[1] = -1;
	/* S's maps, once it has its user namespace; closing mapped without
	 * writing to it stops S. */
	if (read(unshared[0], &c, 1) == 1) {
		struct vj_err merr = { "" };
		if (jail_ids_map(pid, sb->idbase, sb->idcount, &merr) == 0 &&
		    write(mapped[1], "m", 1) != 1)
			vj_errno(&merr, "build sandbox: starting it");
		if (merr.msg[0] != '\0') {
			vj_errf(err, "%s", merr.msg);
			close(mapped[1]);
			mapped[1] = -1;
			while (waitpid(pid, NULL, 0) == -1 && errno == EINTR)
				;
			goto out;
		}
	}
	close(mapped[1]);
	mapped[1] = -1;
	while ((n = read(report[0], msg + got, sizeof(msg) - 1 - got)) > 0 ||
	    (n == -1 && errno == EINTR))
		if (n > 0)
			got += (size_t)n;
	msg[got] = '\0';
	while ((w = waitpid(pid, status, 0)) == -1 && errno == EINTR)
		;
	if (w == -1) {
		vj_errno(err, "build sandbox: waitpid");
		goto out;
	}
	if (got > 0) {
		vj_errf(err, "%s", msg);
		goto out;
	}
	rc = 0;
out:
	if (unshared[0] != -1) close(unshared[0]);
	if (unshared[1] != -1) close(unshared[1]);
	if (mapped[0] != -1) close(mapped[0]);
	if (mapped[1] != -1) close(mapped[1]);
	if (report[0] != -1) close(report[0]);
	if (report[1] != -1) close(report[1]);
	return rc;
}
#else
#include "../util/util.h"
#include "jail.h"

int
jail_sandbox_run(const struct jail_sandbox *sb, char *const argv[],
    char *const envp[], const char *dir, int *status, struct vj_err *err)
{
	(void)sb, (void)argv, (void)envp, (void)dir, (void)status;
	vj_errf(err, "the build sandbox is only implemented on Linux so far");
	return -1;
}
#endif
