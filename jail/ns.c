/* SPDX-License-Identifier: BSD-2-Clause */
/* Running a trusted command (the host's ip(8), a jail's pwd_mkdb) and
 * waiting for it; a private mount namespace, also from a chroot. Untrusted
 * builds run in the sandbox (sandbox.c). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#ifdef __linux__
#include <sched.h>
#include <sys/mount.h>
#endif

#include "../util/util.h"
#include "jail.h"

int
jail_run(char *const argv[], char *const envp[], const char *dir,
    int *status, struct vj_err *err)
{
	pid_t pid, w;

	fflush(stdout);
	fflush(stderr);
	if ((pid = fork()) == -1) {
		vj_errno(err, "fork");
		return -1;
	}
	if (pid == 0) {
		/* If the task dies (a killed vjbuild's children are killed by
		 * the kernel), this one goes too. */
		(void)compat_die_with_parent();
		if (dir != NULL && chdir(dir) == -1) {
			fprintf(stderr, "%s: %s\n", dir, strerror(errno));
			_exit(127);
		}
		execve(argv[0], argv, envp);
		fprintf(stderr, "%s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	while ((w = waitpid(pid, status, 0)) == -1 && errno == EINTR)
		;
	if (w == -1) {
		vj_errno(err, "waitpid");
		return -1;
	}
	return 0;
}

#ifdef __linux__
/*
 * Where / is not a mount point (vjbuild runs in a chroot), MS_PRIVATE on
 * it fails with EINVAL, the kernel refuses a new user namespace
 * (unshare(2): the caller's root must be its mount namespace's), and
 * pivot_root cannot be used. The way out, taken in a mount namespace of
 * our own so that the host sees none of it: setns(2) into that same
 * namespace sets the process's root to the namespace's own root (as the
 * issue saw `vjbuild exec` do by accident); there / is a mount point. The
 * chroot's path from there is read from a descriptor opened before
 * (/proc/self/fd: paths are shown from the current root).
 */
int
jail_mnt_private(char **chroot_path, struct vj_err *err)
{
	char link[64], buf[PATH_MAX];
	ssize_t n;
	int rfd = -1, nsfd = -1, rc = -1;

	*chroot_path = NULL;
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0)
		return 0;
	if (errno != EINVAL) {
		vj_errno(err, "making mounts private");
		return -1;
	}
	if ((rfd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC)) == -1 ||
	    (nsfd = open("/proc/self/ns/mnt", O_RDONLY | O_CLOEXEC)) == -1 ||
	    setns(nsfd, CLONE_NEWNS) == -1) {
		vj_errno(err, "/ is not a mount point (a chroot?), and going to "
		    "the root of a mount namespace of vjbuild's own failed");
		goto out;
	}
	snprintf(link, sizeof(link), "/proc/self/fd/%d", rfd);
	if ((n = readlink(link, buf, sizeof(buf) - 1)) <= 0) {
		vj_errno(err, "the chroot's path (%s)", link);
		goto out;
	}
	buf[n] = '\0';
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == -1) {
		vj_errno(err, "making mounts private (from outside the chroot "
		    "%s)", buf);
		goto out;
	}
	*chroot_path = xstrdup(buf);
	rc = 0;
out:
	if (rfd != -1)
		close(rfd);
	if (nsfd != -1)
		close(nsfd);
	return rc;
}

int
jail_mnt_enter(const char *dir, struct vj_err *err)
{
	if (mount(dir, dir, NULL, MS_BIND | MS_REC, NULL) == -1 ||
	    chdir(dir) == -1 || chroot(".") == -1 || chdir("/") == -1) {
		vj_errno(err, "entering %s as a mount point of its own", dir);
		return -1;
	}
	return 0;
}
#endif
