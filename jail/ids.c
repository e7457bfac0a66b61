/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Host id ranges for user namespaces: the build sandbox's one range, and
 * one range a started jail, picked when it starts.
 *
 * A jail's range is JAIL_IDS_BASE + k * 65536 for a slot k. The first k
 * tried comes from a hash of the jail's name, so that a jail usually gets
 * the same range again; a range is taken when any process on the host
 * has a user namespace that maps ids into it (every /proc/PID/uid_map is
 * read: the kernel's own record, whichever vjbuild state started it), and
 * then the next slot is tried. Ranges never hold a host user's or
 * group's id (/etc/passwd, /etc/group). The choice is recorded in the
 * jail's run file. On disk a jail's files keep the owners they were
 * installed with (0 for root): its root is an idmapped mount, so the
 * range may differ from one start to the next.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../util/util.h"
#include "jail.h"

int
jail_ids_unused(unsigned long base, unsigned long count, struct vj_err *err)
{
	static const char *const files[] = { "/etc/passwd", "/etc/group" };
	char line[4096], *p, *end;
	unsigned long id;
	size_t i, n;
	FILE *f;

	for (i = 0; i < 2; i++) {
		if ((f = fopen(files[i], "re")) == NULL)
			continue;
		for (n = 1; fgets(line, sizeof(line), f) != NULL; n++) {
			/* name:password:ID:... */
			if ((p = strchr(line, ':')) == NULL ||
			    (p = strchr(p + 1, ':')) == NULL)
				continue;
			id = strtoul(p + 1, &end, 10);
			if (end == p + 1 || *end != ':' || id < base ||
			    id - base >= count)
				continue;
			vj_errf(err, "%s:%zu: id %lu is in the range %lu-%lu that "
			    "vjbuild maps a namespace's ids to, which must belong "
			    "to no host user or group", files[i], n, id, base,
			    base + count - 1);
			fclose(f);
			return -1;
		}
		fclose(f);
	}
	return 0;
}

/* 1 when some process's user namespace maps host ids into [b, b+n). */
static int
range_taken(unsigned long b, unsigned long n)
{
	char path[300], line[128];
	unsigned long in, out, cnt;
	struct dirent *de;
	int taken = 0;
	DIR *d;
	FILE *f;

	if ((d = opendir("/proc")) == NULL)
		return 0;
	while (!taken && (de = readdir(d)) != NULL) {
		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/uid_map", de->d_name);
		if ((f = fopen(path, "re")) == NULL)
			continue;
		while (fgets(line, sizeof(line), f) != NULL)
			if (sscanf(line, "%lu %lu %lu", &in, &out, &cnt) == 3 &&
			    out < b + n && b < out + cnt && cnt != 4294967295UL) {
				taken = 1;
				break;
			}
		fclose(f);
	}
	closedir(d);
	return taken;
}

int
jail_ids_pick(const char *name, unsigned long *base, struct vj_err *err)
{
	uint32_t h = 2166136261u;
	unsigned long k, i, b;
	const char *p;

	for (p = name; *p; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	for (i = 0; i < JAIL_IDS_SLOTS; i++) {
		k = (h + i) % JAIL_IDS_SLOTS;
		b = JAIL_IDS_BASE + k * JAIL_IDS_COUNT;
		if (range_taken(b, JAIL_IDS_COUNT))
			continue;
		if (jail_ids_unused(b, JAIL_IDS_COUNT, err) == -1)
			return -1;
		*base = b;
		return 0;
	}
	vj_errf(err, "%s: every one of the %lu id ranges for jails is in use",
	    name, (unsigned long)JAIL_IDS_SLOTS);
	return -1;
}

int
jail_ids_map(pid_t pid, unsigned long base, unsigned long count,
    struct vj_err *err)
{
	static const char *const files[] = { "uid_map", "gid_map" };
	char path[64], map[64];
	int fd, n;
	size_t i;

	n = snprintf(map, sizeof(map), "0 %lu %lu\n", base, count);
	for (i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "/proc/%ld/%s", (long)pid,
		    files[i]);
		if ((fd = open(path, O_WRONLY | O_CLOEXEC)) == -1 ||
		    write(fd, map, (size_t)n) != n) {
			vj_errno(err, "writing %s", path);
			if (fd != -1)
				close(fd);
			return -1;
		}
		close(fd);
	}
	return 0;
}
