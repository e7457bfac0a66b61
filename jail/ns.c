/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Isolation for building a port, and running a command and waiting for it.
 *
 * On Linux a build enters new mount and network namespaces: mounts are made
 * private, so nothing leaks to the host, and PREFIX becomes an empty tmpfs
 * into which the caller installs exactly the declared dependencies. The
 * host's own /usr/local is not visible, so a port that forgot a dependency
 * fails instead of building by luck; with no network, a build cannot fetch
 * what its recipe did not declare.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#ifdef __linux__
#include <sched.h>
#include <sys/mount.h>
#endif

#include "../util/util.h"
#include "jail.h"

int
jail_build_isolate(const char *prefix, struct vj_err *err)
{
#ifdef __linux__
	struct stat st;

	if (stat(prefix, &st) == -1 || !S_ISDIR(st.st_mode)) {
		vj_errf(err, "%s: the build prefix must exist on the host",
		    prefix);
		return -1;
	}
	if (unshare(CLONE_NEWNS | CLONE_NEWNET) == -1) {
		vj_errno(err, "unshare(mount, network) for the build root "
		    "(vjbuild builds as root)");
		return -1;
	}
	if (mount("none", "/", NULL, MS_REC | MS_PRIVATE, NULL) == -1) {
		vj_errno(err, "making mounts private");
		return -1;
	}
	if (mount("vjbuild-prefix", prefix, "tmpfs", MS_NOSUID | MS_NODEV,
	    "mode=0755") == -1) {
		vj_errno(err, "mount tmpfs on %s", prefix);
		return -1;
	}
	return 0;
#else
	(void)prefix;
	vj_errf(err, "isolated builds are only implemented on Linux so far");
	return -1;
#endif
}

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
