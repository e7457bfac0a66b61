/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * setup:P@J: ports/P/setup, run inside jail J as its root once P is
 * installed and configured there, J's users are made, and the setups of
 * the ports P depends on have run: what a daemon needs beyond files (its
 * accounts, Maildirs, keys, alias databases). FreeBSD's ports do this in
 * pkg-install scripts; here it is a task like any other, recorded, with a
 * log, run again when anything it depends on changes: its text, the jail's
 * settings, or a task before it that ran again. So it must be idempotent
 * (make what is missing, leave what is there).
 *
 * The script is a port's, so it is untrusted: it runs in a jail made for it
 * alone (jail_once: the started jail's user namespace and idmapped root,
 * capabilities, RLIMIT_NPROC and seccomp filter, and no network), as
 * /bin/sh -c TEXT with only PATH, HOME=/, NAME, HOSTNAME, DOMAIN, ADDRESS,
 * USERS (J's users, by name) and PORT in its environment. What it makes is
 * stored with the jail's own ids.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../conf/conf.h"
#include "../jail/jail.h"
#include "../util/util.h"
#include "root.h"
#include "tasks.h"

/* The script's environment, NULL-ended; free with env_free. */
static char **
env_of(const struct task *t)
{
	const struct conf *c = t->env->conf;
	const char *domain = c->val[CONF_DOMAIN], *name = t->host->name;
	const struct conf_user **u;
	size_t n = task_users(t, &u), i;
	struct sbuf users = { 0 };
	char **env = xcalloc(9, sizeof(*env));

	for (i = 0; i < n; i++)
		sbuf_printf(&users, "%s%s", i ? " " : "", u[i]->name);
	free(u);
	env[0] = xstrdup("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:"
	    "/usr/bin:/sbin:/bin");
	env[1] = xstrdup("HOME=/");
	env[2] = xasprintf("NAME=%s", name);
	env[3] = domain && strchr(name, '.') == NULL ?
	    xasprintf("HOSTNAME=%s.%s", name, domain) :
	    xasprintf("HOSTNAME=%s", name);
	env[4] = xasprintf("DOMAIN=%s", domain ? domain : "");
	env[5] = xasprintf("ADDRESS=%s", t->host->address);
	env[6] = xasprintf("USERS=%s", users.s ? users.s : "");
	env[7] = xasprintf("PORT=%s", t->port->port->name);
	sbuf_free(&users);
	return env;
}

static void
env_free(char **env)
{
	size_t i;

	for (i = 0; env[i] != NULL; i++)
		free(env[i]);
	free(env);
}

static void
setup_inputs(const struct task *t, struct sha256 *c)
{
	const char *text = t->port->port->setup;
	char **env = env_of(t);
	size_t i;

	sha256_update(c, text, strlen(text) + 1);
	for (i = 0; env[i] != NULL; i++)
		sha256_update(c, env[i], strlen(env[i]) + 1);
	env_free(env);
}

/* What setup made is the jail's, and not known to vjbuild: the record
 * stands for it while the root is there. */
static int
setup_exists(const struct task *t)
{
	int fd = root_open(t, NULL);

	if (fd == -1)
		return 0;
	close(fd);
	return 1;
}

static int
setup_run(const struct task *t, struct vj_err *err)
{
	const struct conf *c = t->env->conf;
	const char *pname = t->port->port->name;
	char *argv[] = { "/bin/sh", "-c", t->port->port->setup, NULL };
	char **env = env_of(t), *hostname = strchr(env[3], '=') + 1;
	char *rundir = fs_join(t->env->state_dir, "run");
	struct conf_limits l = c->limits;
	struct jail_spec s;
	int status = 0, rc = -1, fd;

	/* root_open refuses a root that is not this jail's. */
	if ((fd = root_open(t, err)) == -1)
		goto out;
	close(fd);
	if (conf_limits_apply(&l, t->host->limits, err) == -1)
		goto out;
	memset(&s, 0, sizeof(s));
	s.name = t->host->name;
	s.hostname = hostname;
	s.root = t->root;
	s.address = t->host->address;
	s.rundir = rundir;
	s.console = -1;
	s.argv = argv;
	s.envp = env;
	s.limits.pids = l.pids;
	s.limits.shm = l.shm;
	printf("%s: %s's setup, as the jail's root\n", t->root, pname);
	fflush(stdout);
	if (jail_once(&s, &status, err) == -1)
		goto out;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		vj_errf(err, "%s's setup script (ports/%s/setup) failed in %s: "
		    "%s %d", pname, pname, t->root, WIFEXITED(status) ?
		    "exit" : "signal", WIFEXITED(status) ?
		    WEXITSTATUS(status) : WTERMSIG(status));
		goto out;
	}
	rc = 0;
out:
	env_free(env);
	free(rundir);
	return rc;
}

const struct task_ops task_setup_ops = {
	.kind = "setup",
	.estimate = 0.5,
	.inputs = setup_inputs,
	.exists = setup_exists,
	.run = setup_run,
	.foreign_output = 1,
};
