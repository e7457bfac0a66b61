/* SPDX-License-Identifier: BSD-2-Clause */
/* Running a trusted command (the host's ip(8), a jail's pwd_mkdb) and
 * waiting for it. Untrusted builds run in the sandbox (sandbox.c). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

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
