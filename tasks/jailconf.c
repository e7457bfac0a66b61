/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * jailconf: the host's jail.conf, STATE/jail.conf, one stanza per jail of
 * hosts.txt, written atomically. Its fingerprint is its text.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../conf/conf.h"
#include "../jail/jail.h"
#include "../util/util.h"
#include "tasks.h"

static char *
text(const struct task *t)
{
	return jail_conf_render(t->env->hosts, t->env->jails,
	    t->env->conf->val[CONF_DOMAIN]);
}

static void
jailconf_inputs(const struct task *t, struct sha256 *c)
{
	char *s = text(t);

	sha256_update(c, s, strlen(s));
	free(s);
}

static int
jailconf_exists(const struct task *t)
{
	int fd = open(t->env->state_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd == -1)
		return 0;
	int rc = faccessat(fd, "jail.conf", F_OK, AT_SYMLINK_NOFOLLOW) == 0;
	close(fd);
	return rc;
}

static int
jailconf_run(const struct task *t, struct vj_err *err)
{
	char *s = text(t);
	int fd, rc = -1;

	fd = open(t->env->state_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd == -1)
		vj_errno(err, "%s", t->env->state_dir);
	else if (fs_write_beneath(fd, "jail.conf", s, strlen(s), 0644,
	    err) == 0) {
		printf("wrote %s/jail.conf (%zu jails)\n", t->env->state_dir,
		    t->env->hosts->n);
		rc = 0;
	}
	if (fd != -1)
		close(fd);
	free(s);
	return rc;
}

const struct task_ops task_jailconf_ops = {
	.kind = "jailconf",
	.estimate = 0.1,
	.inputs = jailconf_inputs,
	.exists = jailconf_exists,
	.run = jailconf_run,
};
