/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * A jail's user namespace on Linux: the helper H and M of run.c, the
 * idmapped root, and the host-wide lock under which id ranges are picked.
 */
#ifdef __linux__
#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <linux/capability.h>
#include <sys/file.h>
#include <sys/fsuid.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "../util/util.h"
#include "jail.h"
#include "linux.h"

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

/*
 * The super options of the overlay mounted at root (the last mount there
 * in /proc/self/mountinfo), or NULL when what is mounted there last is not
 * an overlay. malloc'd.
 */
static char *
overlay_options(const char *root)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char *line = NULL, *found = NULL, *p, *f5, *type, *opts;
	size_t cap = 0;
	int i;

	if (f == NULL)
		return NULL;
	while (getline(&line, &cap, f) != -1) {
		line[strcspn(line, "\n")] = '\0';
		for (p = line, i = 0; i < 4 && p != NULL; i++)
			if ((p = strchr(p, ' ')) != NULL)
				p++;
		if (p == NULL)
			continue;
		f5 = p;
		if ((p = strchr(f5, ' ')) == NULL ||
		    (size_t)(p - f5) != strlen(root) ||
		    strncmp(f5, root, strlen(root)) != 0 ||
		    (p = strstr(p, " - ")) == NULL)
			continue;
		type = p + 3;
		free(found);
		found = NULL;
		if (strncmp(type, "overlay ", 8) == 0 &&
		    (opts = strchr(type + 8, ' ')) != NULL)
			found = xstrdup(opts + 1);
	}
	free(line);
	fclose(f);
	return found;
}

/* The value of key= in a mount's comma-separated options; malloc'd. */
static char *
option(const char *opts, const char *key)
{
	size_t n = strlen(key);
	const char *p;

	for (p = opts; p != NULL; p = strchr(p, ','), p = p ? p + 1 : NULL)
		if (strncmp(p, key, n) == 0 && p[n] == '=')
			return xstrndup(p + n + 1, strcspn(p + n + 1, ","));
	return NULL;
}

/*
 * A thin jail's root (an overlay, tasks/thin.c): overlayfs cannot be
 * mounted idmapped, but its layers can (Linux 5.19): each lower layer and
 * the directory of the upper and work directories are mounted over
 * themselves idmapped through pid's user namespace, in this (private)
 * mount namespace, and an overlay of them is mounted at root over the
 * host's. outer: the chroot's path from here, or NULL.
 */
/*
 * This process's file system ids become idbase (the jail's root as the
 * host sees it), its capabilities kept: the overlay mounted next does its
 * own work in the upper layer (its work directory, copies up) as its
 * mounter, whose ids must map through the idmapped upper layer (the
 * host's root does not: EOVERFLOW, and overlayfs mounts read-only).
 */
static int
mount_as_jail_root(unsigned long idbase, struct vj_err *err)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2];
	int i;

	if (syscall(SYS_capget, &h, d) == -1) {
		vj_errno(err, "capget");
		return -1;
	}
	(void)setfsgid((gid_t)idbase);
	(void)setfsuid((uid_t)idbase);	/* clears effective capabilities */
	if ((uid_t)setfsuid((uid_t)-1) != (uid_t)idbase) {
		vj_errf(err, "setfsuid(%lu) refused", idbase);
		return -1;
	}
	for (i = 0; i < 2; i++)
		d[i].effective = d[i].permitted;
	if (syscall(SYS_capset, &h, d) == -1) {
		vj_errno(err, "capset");
		return -1;
	}
	return 0;
}

static int
idmap_overlay(const char *root, const char *opts, const char *outer,
    pid_t pid, unsigned long idbase, struct vj_err *err)
{
	char *lower = option(opts, "lowerdir"), *upper = option(opts,
	    "upperdir"), *work = option(opts, "workdir"), *own = NULL;
	char *l, *path, *mine = NULL;
	struct sbuf o = { 0 };
	int rc = -1;

	if (lower == NULL || upper == NULL || work == NULL ||
	    strrchr(upper, '/') == NULL ||
	    strncmp(upper, work, (size_t)(strrchr(upper, '/') - upper + 1))) {
		vj_errf(err, "%s: an overlay vjbuild did not mount (%s)", root,
		    opts);
		goto out;
	}
	own = xstrndup(upper, (size_t)(strrchr(upper, '/') - upper));
	mine = xstrdup(lower);
	for (l = strtok(mine, ":"); l != NULL; l = strtok(NULL, ":")) {
		path = outer ? fs_join(outer, l) : xstrdup(l);
		sbuf_printf(&o, "%s%s", o.s ? ":" : "lowerdir=", path);
		rc = idmap_root(path, pid, err);
		free(path);
		if (rc == -1)
			goto out;
	}
	rc = -1;
	path = outer ? fs_join(outer, own) : xstrdup(own);
	if (idmap_root(path, pid, err) == -1) {
		free(path);
		goto out;
	}
	sbuf_printf(&o, ",upperdir=%s%s,workdir=%s%s", path,
	    strrchr(upper, '/'), path, strrchr(work, '/'));
	free(path);
	if (mount_as_jail_root(idbase, err) == -1)
		goto out;
	if (mount("vjbuild", root, "overlay", 0, o.s) == -1) {
		vj_errno(err, "mounting %s as an overlay of idmapped layers "
		    "(Linux 5.19 or later)", root);
		goto out;
	}
	rc = 0;
out:
	free(lower);
	free(upper);
	free(work);
	free(own);
	free(mine);
	sbuf_free(&o);
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
		jail_init_fail(report, "unshare(user)");
	if (write(unshared, "u", 1) != 1 || read(mapped, &c, 1) != 1)
		_exit(1);	/* H said why */
	/* Into the idmapped root while this process still has the host's
	 * uid 0, the owner of a 0700 directory above it; I inherits it. */
	if (chdir(root) == -1)
		jail_init_fail(report, root);
	if (setresgid(0, 0, 0) == -1 || setgroups(0, NULL) == -1 ||
	    setresuid(0, 0, 0) == -1)
		jail_init_fail(report, "becoming root of the jail's user namespace");
	/* Run once: each process dies with its parent, down to the init,
	 * whose end ends the jail (set after the change of ids, which
	 * clears it). */
	if (s->argv != NULL && prctl(PR_SET_PDEATHSIG, SIGKILL) == -1)
		jail_init_fail(report, "prctl(PR_SET_PDEATHSIG)");
	if (unshare(CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWNET |
	    CLONE_NEWPID) == -1)
		jail_init_fail(report, "unshare(mount, uts, ipc, net, pid)");
	if ((child = fork()) == -1)
		jail_init_fail(report, "fork");
	if (child == 0) {
		if (s->argv != NULL && prctl(PR_SET_PDEATHSIG, SIGKILL) == -1)
			jail_init_fail(report, "prctl(PR_SET_PDEATHSIG)");
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
void __attribute__((noreturn))
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
		jail_init_fail(report, "prctl(PR_SET_PDEATHSIG)");
	if (unshare(CLONE_NEWNS) == -1)
		jail_init_fail(report, "unshare(mount)");
	if (jail_mnt_private(&outer, &err) == -1) {
		dprintf(report, "%s", err.msg);
		_exit(1);
	}
	root = outer == NULL ? xstrdup(s->root) : fs_join(outer, s->root);
	if (pipe2(unshared, O_CLOEXEC) == -1 || pipe2(mapped, O_CLOEXEC) == -1)
		jail_init_fail(report, "pipe");
	if ((m = fork()) == -1)
		jail_init_fail(report, "fork");
	if (m == 0) {
		close(unshared[0]);
		close(mapped[1]);
		jail_userns(s, root, unshared[1], mapped[0], go, report);
	}
	close(unshared[1]);
	close(mapped[0]);
	if (read(unshared[0], &c, 1) == 1) {
		char *ovl = overlay_options(root);
		if (jail_ids_map(m, idbase, JAIL_IDS_COUNT, &err) == -1 ||
		    (ovl != NULL ? idmap_overlay(root, ovl, outer, m, idbase, &err) :
		    idmap_root(root, m, &err)) == -1) {
			dprintf(report, "%s", err.msg);
			kill(m, SIGKILL);
		} else
			(void)write(mapped[1], "m", 1);
		free(ovl);
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
int
jail_ids_lock(const struct jail_spec *s, struct vj_err *err)
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
#endif
