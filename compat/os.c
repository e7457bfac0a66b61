/* SPDX-License-Identifier: BSD-2-Clause */
/* The few calls that differ between Linux and the BSDs. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif
#ifdef __FreeBSD__
#include <sys/procctl.h>
#endif

#include "compat.h"

int
compat_syncfs(int fd)
{
#ifdef __linux__
	return syncfs(fd);
#else
	(void)fd;
	sync();
	return 0;
#endif
}

int
compat_die_with_parent(void)
{
	pid_t parent = getppid();
#if defined(__linux__)
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) == -1)
		return -1;
#elif defined(__FreeBSD__)
	int sig = SIGKILL;
	if (procctl(P_PID, 0, PROC_PDEATHSIG_CTL, &sig) == -1)
		return -1;
#else
	return -1;
#endif
	/* The parent may have died before the request was made. */
	if (getppid() != parent)
		_exit(1);
	return 0;
}

int
compat_ncpu(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	return n < 1 ? 1 : (int)n;
}

int
compat_subreaper(void)
{
#if defined(__linux__)
	return prctl(PR_SET_CHILD_SUBREAPER, 1);
#elif defined(__FreeBSD__)
	return procctl(P_PID, getpid(), PROC_REAP_ACQUIRE, NULL);
#else
	return -1;
#endif
}

int
compat_children(pid_t *out, int max)
{
#if defined(__linux__)
	/* Every thread's list; vjbuild has one thread. */
	FILE *f = fopen("/proc/thread-self/children", "re");
	long pid;
	int n = 0;

	if (f == NULL)
		return -1;
	while (n < max && fscanf(f, "%ld", &pid) == 1)
		out[n++] = (pid_t)pid;
	fclose(f);
	return n;
#else
	(void)out;
	(void)max;
	return -1;
#endif
}
