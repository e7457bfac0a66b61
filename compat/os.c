/* SPDX-License-Identifier: BSD-2-Clause */
/* The few calls that differ between Linux and the BSDs. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#ifdef __linux__
#include <linux/close_range.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
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
compat_copy_data(int in, int out)
{
	char buf[65536];
	ssize_t n, w, off;

#ifdef __linux__
	if (ioctl(out, FICLONE, in) == 0)
		return 0;
#endif
	for (;;) {	/* FreeBSD has copy_file_range since 13.0 */
		n = copy_file_range(in, NULL, out, NULL, (size_t)1 << 30, 0);
		if (n == 0)
			return 0;
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			break;
	}
	if (errno != EXDEV && errno != ENOSYS && errno != EINVAL &&
	    errno != EOPNOTSUPP)
		return -1;
	/* What it did copy stays: both offsets moved past it. */
	while ((n = read(in, buf, sizeof(buf))) != 0) {
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			return -1;
		for (off = 0; off < n; off += w)
			if ((w = write(out, buf + off, (size_t)(n - off))) ==
			    -1) {
				if (errno != EINTR)
					return -1;
				w = 0;
			}
	}
	return 0;
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

void
compat_cloexec_from(int low)
{
	long max;
	int fd;

#if defined(CLOSE_RANGE_CLOEXEC)
	if (close_range((unsigned)low, ~0U, CLOSE_RANGE_CLOEXEC) == 0)
		return;
#endif
	/* Older kernels: each one, up to a bound a run never reaches. */
	max = sysconf(_SC_OPEN_MAX);
	if (max < 0 || max > 65536)
		max = 65536;
	for (fd = low; fd < max; fd++)
		(void)fcntl(fd, F_SETFD, FD_CLOEXEC);
}
