/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * vjbuild HOSTS (build), its dry run, and run-graph FILE.
 */
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "../sched/sched.h"
#include "../state/state.h"
#include "../tasks/tasks.h"
#include "../cache/cache.h"
#include "../util/util.h"
#include "../vjbuild.h"
#include "cli.h"

/* The dry run: the plan through the scheduler with a runner that does
 * nothing (sched_opts.dry); each task of p in order, would it run or is it
 * up to date (st may be NULL: no state yet). The exit status. */
static int
print_dry_run(const struct opts *o, struct plan *p, struct state *st)
{
	struct event_base *base = event_base_new();
	size_t i, n = plan_count(p), nrun = 0;
	struct sched_result r;
	struct sched_opts so;
	struct vj_err err;

	memset(&so, 0, sizeof(so));
	so.jobs = o->jobs;
	so.always = o->always;
	so.dry = 1;
	if (base == NULL || sched_run(base, p, st, &so, &r, &err) == -1) {
		fprintf(stderr, "%s: %s\n", progname, base ? err.msg :
		    "event_base_new failed");
		if (base)
			event_base_free(base);
		return EXIT_STATE;
	}
	for (i = 0; i < n; i++) {
		int id = plan_order(p)[i];
		int up = r.status[id] == SCHED_UPTODATE;
		nrun += !up;
		printf("%-10s %s\n", up ? "up-to-date" : "run",
		    plan_task(p, id)->name);
	}
	printf("%zu tasks: %zu would run, %zu up to date\n", n, nrun, n - nrun);
	sched_result_free(&r);
	event_base_free(base);
	return 0;
}

static int
cmd_dry_run(const struct opts *o, struct conf *c, struct conf_hosts *h,
    const struct conf_ports *ports)
{
	struct state *st;
	struct task_env env;
	struct plan *p;
	struct vj_err err;
	int rc;

	st = open_state_ro(c->val[CONF_STATE], c->val[CONF_JAILS], 0);
	make_env(&env, c, h, ports, st, o);
	if ((p = plan_new(&env, &err)) == NULL)
		die_input(&err);
	rc = print_dry_run(o, p, st);
	plan_free(p);
	task_env_free_ports(&env);
	state_close(st);
	return rc;
}

void
build_read(const struct opts *o, struct build *b)
{
	struct vj_err err;

	memset(b, 0, sizeof(*b));
	b->c = load_conf(o, !o->packages_only);	/* a builder needs no base */
	if ((b->h = conf_hosts_read(o->hosts, &err)) == NULL)
		die_input(&err);
	b->ports = load_ports(b->c, b->h);
	b->env = xcalloc(1, sizeof(*b->env));
}

int
build_open(const struct opts *o, struct build *b)
{
	struct vj_err err;
	size_t i;

	/* Its tasks read and write archives, and builds load a seccomp
	 * filter, in processes of their own: loaded here once, they inherit
	 * the libraries. */
	if (cache_archive_load(&err) == -1 ||
	    (b->ports != NULL && b->ports->n > 0 &&
	    jail_seccomp_preload(&err) == -1)) {
		fprintf(stderr, "%s: %s\n", progname, err.msg);
		return EXIT_TASKS;
	}
	if (state_open(b->c->val[CONF_STATE], b->c->val[CONF_JAILS], 0,
	    &b->st, &err) == -1) {
		fprintf(stderr, "%s: %s\n", progname, err.msg);
		b->st = NULL;
		return EXIT_STATE;
	}
	state_set_history(b->st, b->c->history);
	make_env(b->env, b->c, b->h, b->ports, b->st, o);
	if ((b->p = plan_new(b->env, &err)) == NULL) {
		fprintf(stderr, "%s: %s\n", progname, err.msg);
		return EXIT_INPUT;
	}
	/* Thin jails' roots, as their layers were last recorded, before
	 * anything looks at them (mounts do not outlive a reboot). One
	 * that cannot be mounted (a layer removed by hand) is made again
	 * by its extract:J, which finds it unmounted. */
	for (i = 0; i < b->h->n && !b->env->packages_only; i++)
		if (thin_mount_recorded(b->env->jails, b->h->v[i].name,
		    &err) == -1)
			fprintf(stderr, "%s: note: %s; extract:%s mounts it "
			    "again\n", progname, err.msg, b->h->v[i].name);
	return 0;
}

void
build_close_plan(struct build *b)
{
	plan_free(b->p);
	b->p = NULL;
	if (b->env != NULL)
		task_env_free_ports(b->env);
	state_close(b->st);
	b->st = NULL;
}

void
build_free(struct build *b)
{
	build_close_plan(b);
	free(b->env);
	conf_ports_free(b->ports);
	conf_hosts_free(b->h);
	conf_free(b->c);
	memset(b, 0, sizeof(*b));
}

int
cmd_build(const struct opts *o)
{
	struct build b;
	int rc, sig = 0;

	build_read(o, &b);
	if (o->dry_run)
		rc = cmd_dry_run(o, b.c, b.h, b.ports);
	/* Everything is validated; from here on things are created. */
	else if ((rc = build_open(o, &b)) == 0)
		rc = run_plan(o, b.p, b.st, b.c, b.h, &sig);
	build_free(&b);
	reraise(sig);
	return rc;
}

/*
 * run-graph FILE: the commands of a graph file (tasks/cmd.c) through the
 * same scheduler, state and logs as a jail plan. The state defaults to
 * FILE.state; commands run in the current directory.
 */
int
cmd_run_graph(const struct opts *o)
{
	const char *file = o->operands[0];
	char *dir = o->flag[CONF_STATE] ? xstrdup(o->flag[CONF_STATE]) :
	    xasprintf("%s.state", file);
	struct state *st = NULL;
	struct task_env env;
	struct plan *p;
	struct vj_err err;
	int rc, sig = 0;

	memset(&env, 0, sizeof(env));
	env.jobs = o->jobs;
	if ((p = plan_graph_file(file, &env, &err)) == NULL) {
		free(dir);
		die_input(&err);
	}
	if (o->dry_run) {
		st = open_state_ro(dir, NULL, 0);
		rc = print_dry_run(o, p, st);
	} else if (state_open(dir, NULL, 0, &st, &err) == -1) {
		fprintf(stderr, "%s: %s\n", progname, err.msg);
		rc = EXIT_STATE;
	} else
		rc = run_plan(o, p, st, NULL, NULL, &sig);
	plan_free(p);
	state_close(st);
	free(dir);
	reraise(sig);
	return rc;
}
