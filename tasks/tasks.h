/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The task kinds and the plan that turns jails into a graph of tasks.
 *
 * Per jail J (a host of hosts.txt):
 *   extract:J -> distribution:J (when the config has one) -> devfs:J ->
 *   hostconf:J
 * and once for the run: jailconf (the host's jail.conf, one stanza a jail).
 *
 * A kind is a table of operations. run() executes in a child process whose
 * standard output and error are the task's log; it must be idempotent and
 * publish its result atomically, so that a kill at any moment leaves either
 * the old state or the new one.
 */
#ifndef VJ_TASKS_H
#define VJ_TASKS_H

#include <stddef.h>

struct conf;
struct conf_hosts;
struct conf_host;
struct graph;
struct sha256;
struct vj_err;

/* What every task of a run shares; filled by the caller, owned by it. */
struct task_env {
	const struct conf *conf;
	const struct conf_hosts *hosts;
	const char *jails;		/* absolute jails directory */
	const char *state_dir;		/* absolute; jail.conf goes here */
	const char *uuid;		/* the state database's identity */
	char base_digest[65];		/* sha256 of the base archive */
	char dist_digest[65];		/* of the distribution, "" if none */
	char *const *recreate;		/* jails to make anew, NULL-ended */
};

struct task;

struct task_ops {
	const char *kind;
	double estimate;	/* seconds, before any run was recorded */
	/* Adds the task's own inputs to its fingerprint. */
	void (*inputs)(const struct task *t, struct sha256 *c);
	/* 1 when the task's output is present and intact. */
	int (*exists)(const struct task *t);
	/* In the child: does the work; 0, or -1 with err. */
	int (*run)(const struct task *t, struct vj_err *err);
};

struct task {
	const struct task_ops *ops;
	char *name;			/* "extract:web1" */
	const struct conf_host *host;	/* NULL for jailconf */
	char *root;			/* jails/NAME, or NULL */
	char fingerprint[65];
	const struct task_env *env;
};

extern const struct task_ops task_extract_ops, task_distribution_ops,
    task_devfs_ops, task_hostconf_ops, task_jailconf_ops;

struct plan;

/*
 * Builds the tasks and their graph for env's hosts, and each task's
 * fingerprint: sha256 of its kind, name, own inputs and its dependencies'
 * fingerprints. Returns a plan (free with plan_free) or NULL with err.
 */
struct plan *plan_new(const struct task_env *env, struct vj_err *err);
void plan_free(struct plan *p);
/* Borrowed; valid until plan_free. Node i of the graph is task i. */
struct graph *plan_graph(const struct plan *p);
struct task *plan_task(const struct plan *p, int i);
size_t plan_count(const struct plan *p);
/* A topological order of the graph (ties by name); borrowed. */
const int *plan_order(const struct plan *p);

/* The jail a task belongs to, or NULL. */
const char *task_jail(const struct task *t);

#endif
