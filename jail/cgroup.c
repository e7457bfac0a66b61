/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * A started jail's limits, through cgroups: processes (pids), memory and
 * a CPU weight, in a group vjbuild/NAME.
 *
 * cgroup v2 where /sys/fs/cgroup is the unified hierarchy (the controllers
 * are enabled in the parents' cgroup.subtree_control); else v1, one group
 * in each of the pids, memory and cpu hierarchies (cpu.shares is the
 * weight scaled as systemd does: 100 -> 1024). A limit of 0 is not
 * written. Where no hierarchy is mounted (a chroot without /sys), there
 * is nothing to join: jail_cgroup_setup says so and the caller goes on
 * with rlimits alone.
 */
#ifdef __linux__
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../util/util.h"
#include "jail.h"

#define CG "/sys/fs/cgroup"

static const char *const v1_controllers[] = { "pids", "memory", "cpu" };

static int
unified(void)
{
	return access(CG "/cgroup.controllers", F_OK) == 0;
}

/* Writes text to dir/file; 0 or -1 with err. */
static int
put(const char *dir, const char *file, const char *text, struct vj_err *err)
{
	char *path = fs_join(dir, file);
	int fd = open(path, O_WRONLY | O_CLOEXEC), rc = 0;
	size_t n = strlen(text);

	if (fd == -1 || write(fd, text, n) != (ssize_t)n) {
		vj_errno(err, "writing '%s' to %s", text, path);
		rc = -1;
	}
	if (fd != -1)
		close(fd);
	free(path);
	return rc;
}

/* The group's directory in hierarchy h ("" for v2); malloc'd. */
static char *
group_dir(const char *h, const char *name)
{
	return *h ? xasprintf(CG "/%s/vjbuild/%s", h, name) :
	    xasprintf(CG "/vjbuild/%s", name);
}

static int
setup_v2(const char *name, const struct jail_limits *l, pid_t pid,
    struct vj_err *err)
{
	char *dir = group_dir("", name), buf[64];
	int rc = -1;

	/* The controllers, delegated down to vjbuild/NAME. */
	if (fs_mkdirs(dir, 0755) == -1) {
		vj_errno(err, "%s", dir);
		goto out;
	}
	if (put(CG, "cgroup.subtree_control", "+pids +memory +cpu", err) ==
	    -1 || put(CG "/vjbuild", "cgroup.subtree_control",
	    "+pids +memory +cpu", err) == -1)
		goto out;
	if (l->pids != 0) {
		snprintf(buf, sizeof(buf), "%lu", l->pids);
		if (put(dir, "pids.max", buf, err) == -1)
			goto out;
	}
	if (l->memory != 0) {
		snprintf(buf, sizeof(buf), "%llu", l->memory);
		if (put(dir, "memory.max", buf, err) == -1)
			goto out;
	}
	snprintf(buf, sizeof(buf), "%lu", l->cpu_weight);
	if (put(dir, "cpu.weight", buf, err) == -1)
		goto out;
	snprintf(buf, sizeof(buf), "%ld", (long)pid);
	rc = put(dir, "cgroup.procs", buf, err);
out:
	free(dir);
	return rc;
}

static int
setup_v1(const char *name, const struct jail_limits *l, pid_t pid,
    struct vj_err *err)
{
	char buf[64];
	size_t i;
	int rc = 0;

	for (i = 0; rc == 0 && i < 3; i++) {
		const char *h = v1_controllers[i];
		char *top = xasprintf(CG "/%s", h), *dir = group_dir(h, name);
		struct stat st;
		if (stat(top, &st) == -1) {	/* not mounted: not limited */
			free(top);
			free(dir);
			continue;
		}
		if (fs_mkdirs(dir, 0755) == -1) {
			vj_errno(err, "%s", dir);
			rc = -1;
		} else if (i == 0 && l->pids != 0) {
			snprintf(buf, sizeof(buf), "%lu", l->pids);
			rc = put(dir, "pids.max", buf, err);
		} else if (i == 1 && l->memory != 0) {
			snprintf(buf, sizeof(buf), "%llu", l->memory);
			rc = put(dir, "memory.limit_in_bytes", buf, err);
		} else if (i == 2) {
			snprintf(buf, sizeof(buf), "%lu",
			    l->cpu_weight * 1024 / 100);
			rc = put(dir, "cpu.shares", buf, err);
		}
		if (rc == 0) {
			snprintf(buf, sizeof(buf), "%ld", (long)pid);
			rc = put(dir, "cgroup.procs", buf, err);
		}
		free(top);
		free(dir);
	}
	return rc;
}

int
jail_cgroup_setup(const char *name, const struct jail_limits *l, pid_t pid,
    struct vj_err *err)
{
	struct stat st;

	if (stat(CG, &st) == -1 || !S_ISDIR(st.st_mode)) {
		vj_errf(err, "no cgroup hierarchy at " CG);
		return 1;
	}
	if (unified())
		return setup_v2(name, l, pid, err);
	if (access(CG "/pids", F_OK) == -1) {
		vj_errf(err, "no pids controller at " CG "/pids");
		return 1;
	}
	return setup_v1(name, l, pid, err);
}

int
jail_cgroup_join(const char *name, pid_t pid, struct vj_err *err)
{
	char buf[64], *dir;
	size_t i;
	int rc = 0;

	snprintf(buf, sizeof(buf), "%ld", (long)pid);
	if (unified()) {
		dir = group_dir("", name);
		if (access(dir, F_OK) == 0)
			rc = put(dir, "cgroup.procs", buf, err);
		free(dir);
		return rc;
	}
	for (i = 0; rc == 0 && i < 3; i++) {
		dir = group_dir(v1_controllers[i], name);
		if (access(dir, F_OK) == 0)
			rc = put(dir, "cgroup.procs", buf, err);
		free(dir);
	}
	return rc;
}

/* Reads a file of the kernel's (its size says 0) into buf, at most
 * size - 1 bytes, NUL-ended; the length or -1. */
static ssize_t
read_proc(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t len = 0;
	ssize_t r;

	if (fd == -1)
		return -1;
	while (len < size - 1 && ((r = read(fd, buf + len, size - 1 -
	    len)) > 0 || (r == -1 && errno == EINTR)))
		if (r > 0)
			len += (size_t)r;
	close(fd);
	buf[len] = '\0';
	return (ssize_t)len;
}

/* 1 when pid is the init of a PID namespace below ours ("NSpid: N 1"). */
static int
ns_init(long pid)
{
	char path[64], text[4096], *line;
	int yes = 0;

	snprintf(path, sizeof(path), "/proc/%ld/status", pid);
	if (read_proc(path, text, sizeof(text)) == -1)
		return 0;
	if ((line = strstr(text, "\nNSpid:")) != NULL) {
		long outer, inner;
		char more;
		line[strcspn(line + 1, "\n") + 1] = '\0';
		yes = sscanf(line + 8, "%ld %ld %c", &outer, &inner,
		    &more) == 2 && inner == 1;
	}
	return yes;
}

pid_t
jail_cgroup_init(const char *name)
{
	char *dir = group_dir(unified() ? "" : "pids", name);
	char *path = fs_join(dir, "cgroup.procs"), *text, *p, *end;
	size_t size = 1 << 20;	/* 8 bytes a process, any limit.pids */
	pid_t found = 0;
	long pid;

	text = xmalloc(size);
	if (read_proc(path, text, size) != -1) {
		for (p = text; *p && found == 0; p = end) {
			pid = strtol(p, &end, 10);
			if (end == p)
				break;
			if (pid > 1 && ns_init(pid))
				found = (pid_t)pid;
		}
	}
	free(text);
	free(path);
	free(dir);
	return found;
}

void
jail_cgroup_remove(const char *name)
{
	char *dir;
	size_t i;
	int tries;

	/* A group goes once its last process has been reaped. */
	if (unified()) {
		dir = group_dir("", name);
		for (tries = 0; rmdir(dir) == -1 && errno == EBUSY &&
		    tries < 50; tries++)
			usleep(20000);
		free(dir);
		return;
	}
	for (i = 0; i < 3; i++) {
		dir = group_dir(v1_controllers[i], name);
		for (tries = 0; rmdir(dir) == -1 && errno == EBUSY &&
		    tries < 50; tries++)
			usleep(20000);
		free(dir);
	}
}
#endif
