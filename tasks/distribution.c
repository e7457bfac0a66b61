/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * distribution:J: the config's distribution, an archive or a directory of
 * /etc defaults, laid over the jail root (the paper's `make distribution`).
 * Writing the same files again is harmless, so the task is idempotent; each
 * file is unpacked into a stage in the root and renamed over the old one
 * (root_lay), never written through a link, and a kill leaves nothing
 * half-written.
 */
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../cache/cache.h"
#include "../conf/conf.h"
#include "../util/util.h"
#include "root.h"
#include "tasks.h"

static void
distribution_inputs(const struct task *t, struct sha256 *c)
{
	sha256_update(c, t->env->dist_digest, 64);
}

static int
distribution_exists(const struct task *t)
{
	int fd = root_open(t, NULL);

	if (fd == -1)
		return 0;
	close(fd);
	return 1;
}

static long
fill_dir(int stagefd, void *src, struct vj_err *err)
{
	long n = cache_copy_tree(src, stagefd, err);

	task_note_devices(src);
	return n;
}

static long
fill_archive(int stagefd, void *src, struct vj_err *err)
{
	long n = cache_extract(src, stagefd, err);

	task_note_devices(src);
	return n;
}

static int
distribution_run(const struct task *t, struct vj_err *err)
{
	const char *src = t->env->conf->val[CONF_DISTRIBUTION];
	struct stat st;
	long n;
	int fd;

	if ((fd = root_open(t, err)) == -1)
		return -1;
	if (stat(src, &st) == -1) {
		vj_errno(err, "%s", src);
		close(fd);
		return -1;
	}
	n = root_lay(t, fd, "distribution", S_ISDIR(st.st_mode) ? fill_dir :
	    fill_archive, (void *)src, err);
	if (n != -1 && compat_syncfs(fd) == -1) {
		vj_errno(err, "%s: syncfs", t->root);
		n = -1;
	}
	close(fd);
	if (n == -1)
		return -1;
	printf("laid %ld entries of %s over %s\n", n, src, t->root);
	return 0;
}

const struct task_ops task_distribution_ops = {
	.kind = "distribution",
	.estimate = 0.5,
	.inputs = distribution_inputs,
	.exists = distribution_exists,
	.run = distribution_run,
};
