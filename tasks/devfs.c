/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * devfs:J: the devices a jail needs. On Linux, the character devices with
 * their real numbers (null 1:3, zero 1:5, full 1:7, random 1:8, urandom 1:9,
 * tty 5:0), /dev/pts and /dev/shm, and the fd, stdin, stdout, stderr and
 * ptmx links. On FreeBSD, jail(8) mounts devfs with the ruleset that the
 * jail's jail.conf stanza names (mount.devfs, devfs_ruleset), so only the
 * mount point is made here. Nodes already right are left alone; wrong ones
 * are replaced; nothing is followed through a link.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/sysmacros.h>
#endif

#include "../util/util.h"
#include "root.h"
#include "tasks.h"

#ifdef __linux__
static const struct {
	const char *name;
	unsigned major, minor;
} nodes[] = {
	{ "null", 1, 3 }, { "zero", 1, 5 }, { "full", 1, 7 },
	{ "random", 1, 8 }, { "urandom", 1, 9 }, { "tty", 5, 0 },
};

static const struct {
	const char *name, *target;
} links[] = {
	{ "fd", "/proc/self/fd" }, { "stdin", "/proc/self/fd/0" },
	{ "stdout", "/proc/self/fd/1" }, { "stderr", "/proc/self/fd/2" },
	{ "ptmx", "pts/ptmx" },
};

static const struct {
	const char *name;
	mode_t mode;
} dirs[] = { { "pts", 0755 }, { "shm", 01777 } };
#endif

static void
devfs_inputs(const struct task *t, struct sha256 *c)
{
	(void)t;
	/* The node list is part of the program: its version is the input. */
	sha256_update(c, "devfs-1", 7);
}

static int
devfs_exists(const struct task *t)
{
	int fd = root_open(t, NULL), dev, rc = 1;

	if (fd == -1)
		return 0;
	dev = fs_opendir_beneath(fd, "dev", 0, 0);
	close(fd);
	if (dev == -1)
		return 0;
#ifdef __linux__
	{
		struct stat st;
		rc = fstatat(dev, "null", &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    S_ISCHR(st.st_mode) && st.st_rdev == makedev(1, 3);
	}
#endif
	close(dev);
	return rc;
}

#ifdef __linux__
/* Replaces whatever is at name unless it is a directory. */
static int
clear(int dev, const char *name, struct vj_err *err)
{
	if (unlinkat(dev, name, 0) == -1 && errno != ENOENT) {
		vj_errno(err, "dev/%s", name);
		return -1;
	}
	return 0;
}

static int
make_nodes(int dev, struct vj_err *err)
{
	struct stat st;
	char target[64];
	size_t i;
	ssize_t n;

	for (i = 0; i < sizeof(nodes) / sizeof(nodes[0]); i++) {
		dev_t want = makedev(nodes[i].major, nodes[i].minor);
		if (fstatat(dev, nodes[i].name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    S_ISCHR(st.st_mode) && st.st_rdev == want &&
		    (st.st_mode & 07777) == 0666)
			continue;
		if (clear(dev, nodes[i].name, err) == -1)
			return -1;
		if (mknodat(dev, nodes[i].name, S_IFCHR | 0666, want) == -1 ||
		    fchmodat(dev, nodes[i].name, 0666, 0) == -1) {
			vj_errno(err, "mknod dev/%s", nodes[i].name);
			return -1;
		}
	}
	for (i = 0; i < sizeof(links) / sizeof(links[0]); i++) {
		n = readlinkat(dev, links[i].name, target, sizeof(target) - 1);
		if (n >= 0) {
			target[n] = '\0';
			if (strcmp(target, links[i].target) == 0)
				continue;
		}
		if (clear(dev, links[i].name, err) == -1)
			return -1;
		if (symlinkat(links[i].target, dev, links[i].name) == -1) {
			vj_errno(err, "symlink dev/%s", links[i].name);
			return -1;
		}
	}
	for (i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		int d = fs_opendir_beneath(dev, dirs[i].name, 1, dirs[i].mode);
		if (d == -1 || fchmod(d, dirs[i].mode) == -1) {
			vj_errno(err, "dev/%s", dirs[i].name);
			if (d != -1)
				close(d);
			return -1;
		}
		close(d);
	}
	return 0;
}
#endif

static int
devfs_run(const struct task *t, struct vj_err *err)
{
	int fd, dev, rc = 0;

	if ((fd = root_open(t, err)) == -1)
		return -1;
	dev = fs_opendir_beneath(fd, "dev", 1, 0755);
	close(fd);
	if (dev == -1) {
		vj_errno(err, "%s/dev", t->root);
		return -1;
	}
#ifdef __linux__
	rc = make_nodes(dev, err);
	if (rc == 0)
		printf("made the devices of %s/dev\n", t->root);
#else
	printf("%s/dev is ready for mount.devfs\n", t->root);
#endif
	close(dev);
	return rc;
}

const struct task_ops task_devfs_ops = {
	.kind = "devfs",
	.estimate = 0.1,
	.inputs = devfs_inputs,
	.exists = devfs_exists,
	.run = devfs_run,
};
