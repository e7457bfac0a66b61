/* SPDX-License-Identifier: BSD-2-Clause */
#if defined(__FreeBSD__)
/*
 * FreeBSD: jail(8) does the work, from the generated STATE/jail.conf
 * (rundir's parent). Written for FreeBSD, not yet built or run there.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../util/util.h"
#include "jail.h"

static int
freebsd_jail(const struct jail_spec *s, const char *flag, struct vj_err *err)
{
	char *dir = fs_dirname(s->rundir), *conf = fs_join(dir, "jail.conf");
	char *name = jail_conf_name(s->name);
	char *argv[] = { "/usr/sbin/jail", "-f", conf, (char *)flag, name, NULL };
	char *envp[] = { "PATH=/sbin:/bin:/usr/sbin:/usr/bin", NULL };
	int status, rc;

	rc = jail_run(argv, envp, NULL, &status, err);
	if (rc == 0 && (!WIFEXITED(status) || WEXITSTATUS(status) != 0)) {
		vj_errf(err, "jail -f %s %s %s failed", conf, flag, name);
		rc = -1;
	}
	free(dir);
	free(conf);
	free(name);
	return rc;
}

/* A port's setup in a jail of its own: jail(8) with command= would do it;
 * not written yet, and said so (the setup task fails with this). */
int
jail_once(const struct jail_spec *s, int *status, struct vj_err *err)
{
	(void)status;
	vj_errf(err, "%s: running a port's setup in a jail is not written "
	    "for FreeBSD yet", s->name);
	return -1;
}

int
jail_start(const struct jail_spec *s, struct vj_err *err)
{
	return freebsd_jail(s, "-c", err);
}

int
jail_stop(const struct jail_spec *s, struct vj_err *err)
{
	return freebsd_jail(s, "-r", err);
}

int
jail_exec(const struct jail_spec *s, char *const argv[], int *status,
    struct vj_err *err)
{
	char *name = jail_conf_name(s->name), **args;
	char *envp[] = { "PATH=/sbin:/bin:/usr/sbin:/usr/bin", NULL };
	size_t n = 0, i;
	int rc;

	while (argv[n] != NULL)
		n++;
	args = xcalloc(n + 3, sizeof(*args));
	args[0] = "/usr/sbin/jexec";
	args[1] = name;
	for (i = 0; i < n; i++)
		args[i + 2] = argv[i];
	rc = jail_run(args, envp, NULL, status, err);
	free(args);
	free(name);
	return rc;
}

pid_t
jail_pid(const struct jail_spec *s)
{
	(void)s;
	return 0;	/* jls(8) lists FreeBSD's running jails */
}

int
jail_nprocs(pid_t pid)
{
	(void)pid;
	return 0;
}
#endif
