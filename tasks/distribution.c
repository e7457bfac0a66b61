/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * distribution:J: the config's distribution, an archive or a directory of
 * /etc defaults, laid over the jail root (the paper's `make distribution`).
 * Writing the same files again is harmless, so the task is idempotent; each
 * file is replaced whole by libarchive, never written through a link.
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
	n = S_ISDIR(st.st_mode) ? cache_copy_tree(src, fd, err) :
	    cache_extract(src, fd, err);
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
