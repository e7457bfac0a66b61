/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Running jails: start, stop, exec, ps; finding a provisioned jail.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include <time.h>

#include "../state/state.h"
#include "../util/json.h"
#include "../tasks/tasks.h"
#include "../util/util.h"
#include "../vjbuild.h"
#include "cli.h"

/* ---- running jails ---- */

void
found_clear(struct found *f)
{
	free(f->address);
	free(f->root);
	free(f->hostname);
	free(f->rundir);
	free(f->limits);
	free(f->access);
	memset(f, 0, sizeof(*f));
}

static void
find_jail(const struct state_jail *j, void *arg)
{
	struct found *f = arg;

	if (strcmp(j->name, f->name) == 0 && f->address == NULL) {
		f->address = xstrdup(j->address ? j->address : "");
		f->root = xstrdup(j->root ? j->root : "");
		f->limits = j->limits ? xstrdup(j->limits) : NULL;
	}
}

static void
no_task(const struct state_task *t, void *arg)
{
	(void)t;
	(void)arg;
}

/* A thin jail's overlay, mounted from its record when it is not (after a
 * reboot): start makes the jail's root from it. 0 or -1 with err. */
static int
mount_thin(const char *root, const char *name, struct vj_err *err)
{
	char *jails = fs_dirname(root), *dir = thin_dir(jails, name);
	int rc = 0;

	if (access(dir, F_OK) == 0 && !thin_is_mounted(root))
		rc = thin_mount_recorded(jails, name, err);
	free(jails);
	free(dir);
	return rc;
}

/*
 * Provisioned jail name, from the state's record, with its spec in
 * f->spec; exits with a message when the state or the jail is unknown.
 */
void
jail_of(const struct conf *c, struct state *st, const char *name,
    struct found *f)
{
	struct jail_spec *s = &f->spec;
	struct vj_err err;
	const char *domain = c->val[CONF_DOMAIN];
	struct conf_limits l;
	size_t i;

	memset(f, 0, sizeof(*f));
	f->name = name;
	if (state_list(st, find_jail, no_task, f, &err) == -1) {
		fprintf(stderr, "%s: %s\n", progname, err.msg);
		exit(EXIT_STATE);
	}
	if (f->address == NULL) {
		fprintf(stderr, "%s: no jail %s in %s (provision it first)\n",
		    progname, name, c->val[CONF_STATE]);
		exit(EXIT_INPUT);
	}
	f->hostname = domain && strchr(name, '.') == NULL ?
	    xasprintf("%s.%s", name, domain) : xstrdup(name);
	f->rundir = fs_join(c->val[CONF_STATE], "run");
	memset(s, 0, sizeof(*s));
	s->name = name;
	s->hostname = f->hostname;
	s->root = f->root;
	s->address = f->address;
	s->start = JAIL_EXEC_START;
	s->stop = JAIL_EXEC_STOP;
	s->console = -1;
	s->rundir = f->rundir;
	/* vjbuild.conf's limits, and over them the jail's line's, as its
	 * last provisioning recorded them. */
	l = c->limits;
	if (conf_limits_apply(&l, f->limits, &err) == -1) {
		fprintf(stderr, "%s: %s: recorded %s\n", progname, name,
		    err.msg);
		exit(EXIT_STATE);
	}
	s->limits.pids = l.pids;
	s->limits.memory = l.memory;
	s->limits.cpu_weight = l.cpu_weight;
	s->limits.shm = l.shm;
	f->access = xcalloc(c->naccess + 1, sizeof(*f->access));
	for (i = 0; i < c->naccess; i++) {
		f->access[i].address = c->access[i].address;
		f->access[i].port = c->access[i].port;
	}
	s->access = f->access;
	s->naccess = c->naccess;
}

/* STATE/logs/console-NAME.log, made anew for a start: what exec.start and
 * exec.stop print (and whatever the services they start print there). An
 * fd, with *path; or -1, said. */
static int
open_console(const struct conf *c, const char *name, char **path)
{
	char *dir = fs_join(c->val[CONF_STATE], "logs");
	int fd;

	*path = xasprintf("%s/console-%s.log", dir, name);
	if ((fs_mkdirs(dir, 0755) == -1 && errno != EEXIST) ||
	    (fd = open(*path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW |
	    O_CLOEXEC, 0640)) == -1) {
		fprintf(stderr, "%s: %s: %s\n", progname, *path,
		    strerror(errno));
		fd = -1;
	}
	free(dir);
	return fd;
}

/* --all: for start, the jails provisioned whole and not boot=no; for
 * stop, every jail (those not running are passed over). */
struct every {
	int start;
	char **names;
	size_t n;
};

static void
every_jail(const struct state_jail *j, void *arg)
{
	struct every *e = arg;

	if (e->start && (j->status == NULL || strcmp(j->status, "ok") != 0 ||
	    !j->boot))
		return;
	e->names = xreallocarray(e->names, e->n + 1, sizeof(*e->names));
	e->names[e->n++] = xstrdup(j->name);
}

/* start, stop: each jail named, or --all; the exit status says if any
 * failed. */
int
cmd_run(const struct opts *o, int start)
{
	struct conf *c = load_conf(o, 0);
	struct state *st = open_state_ro(c->val[CONF_STATE], NULL, 1);
	struct every all = { start, NULL, 0 };
	char *const *names = o->operands;
	size_t i, n = o->noperands;
	struct vj_err err;
	int rc = 0;

	if (o->all) {
		if (state_list(st, every_jail, no_task, &all, &err) == -1) {
			fprintf(stderr, "%s: %s\n", progname, err.msg);
			state_close(st);
			conf_free(c);
			return EXIT_STATE;
		}
		names = all.names;
		n = all.n;
	}
	for (i = 0; i < n; i++) {
		struct found f;
		char *console = NULL;
		jail_of(c, st, names[i], &f);
		if (o->all && (jail_pid(&f.spec) != 0) == start) {
			/* --all: what is already as asked is left so. */
			if (start && !o->quiet)
				printf("%s is running already\n", f.name);
			found_clear(&f);
			continue;
		}
		if (start && (f.spec.console = open_console(c, f.name,
		    &console)) == -1) {
			rc = EXIT_TASKS;
		} else if (start && mount_thin(f.spec.root, f.name, &err) == -1) {
			fprintf(stderr, "%s: %s\n", progname, err.msg);
			rc = EXIT_TASKS;
		} else if ((start ? jail_start(&f.spec, &err) :
		    jail_stop(&f.spec, &err)) == -1) {
			fprintf(stderr, "%s: %s%s%s\n", progname, err.msg,
			    console ? "; its output: " : "",
			    console ? console : "");
			rc = EXIT_TASKS;
		} else if (!o->quiet)
			printf("%s %s (%s)\n", start ? "started" : "stopped",
			    f.name, f.address);
		if (f.spec.console != -1)
			close(f.spec.console);
		free(console);
		found_clear(&f);
	}
	for (i = 0; i < all.n; i++)
		free(all.names[i]);
	free(all.names);
	state_close(st);
	conf_free(c);
	return rc;
}

int
cmd_exec(const struct opts *o)
{
	struct conf *c = load_conf(o, 0);
	struct state *st = open_state_ro(c->val[CONF_STATE], NULL, 1);
	struct found f;
	struct vj_err err;
	int status = 0, rc;

	jail_of(c, st, o->operands[0], &f);
	state_close(st);
	rc = jail_exec(&f.spec, o->operands + 1, &status, &err);
	if (rc == -1)
		fprintf(stderr, "%s: %s\n", progname, err.msg);
	found_clear(&f);
	conf_free(c);
	if (rc == -1)
		return EXIT_TASKS;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

struct ps_walk {
	const struct conf *c;
	int shown, json;
	struct sbuf b;
};

static void
ps_one(const struct state_jail *j, void *arg)
{
	struct ps_walk *w = arg;
	struct jail_spec s;
	char *rundir = fs_join(w->c->val[CONF_STATE], "run");
	pid_t pid;

	memset(&s, 0, sizeof(s));
	s.name = j->name;
	s.root = j->root;
	s.rundir = rundir;
	if ((pid = jail_pid(&s)) != 0 && w->json) {
		int first = 1;
		sbuf_puts(&w->b, w->shown++ ? ",\n {" : "\n {");
		json_kstr(&w->b, &first, "name", j->name);
		json_kstr(&w->b, &first, "address", j->address);
		json_kint(&w->b, &first, "pid", (int64_t)pid);
		json_kint(&w->b, &first, "processes", jail_nprocs(pid));
		sbuf_puts(&w->b, "}");
	} else if (pid != 0) {
		if (w->shown++ == 0)
			printf("%-20s %-16s %8s %6s\n", "JAIL", "ADDRESS", "PID",
			    "PROCS");
		printf("%-20s %-16s %8ld %6d\n", j->name, j->address,
		    (long)pid, jail_nprocs(pid));
	}
	free(rundir);
}

int
cmd_ps(const struct opts *o)
{
	struct conf *c = load_conf(o, 0);
	struct state *st = open_state_ro(c->val[CONF_STATE], NULL, 1);
	struct ps_walk w = { c, 0, o->json, { 0 } };
	struct vj_err err;
	int rc = 0;

	if (state_list(st, ps_one, no_task, &w, &err) == -1) {
		fprintf(stderr, "%s: %s\n", progname, err.msg);
		rc = EXIT_STATE;
	} else if (w.json)
		printf("[%s%s]\n", w.b.s ? w.b.s : "", w.shown ? "\n" : "");
	else if (w.shown == 0 && !o->quiet)
		printf("no jail is running\n");
	sbuf_free(&w.b);
	state_close(st);
	conf_free(c);
	return rc;
}
