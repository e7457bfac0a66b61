/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * vjbuild's command line: one file a command (build.c, status.c, ...), the
 * words parsed in args.c, what they share in common.c, a run's progress
 * and summary in progress.c. The modules below report through return
 * codes, struct vj_err and the scheduler's events; only these files print.
 */
#ifndef VJ_CLI_H
#define VJ_CLI_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <stdio.h>

#include "../conf/conf.h"
#include "../jail/jail.h"

struct conf_hosts;
struct conf_ports;
struct plan;
struct state;
struct task_env;
struct vj_err;

struct opts {
	const char *cmd;	/* "build", "status", "graph" */
	const char *config;
	const char *hosts;
	int jobs, keep_going, dry_run, verbose, quiet, nocache, yes, always, rusage, nojobserver;
	int noidle;
	int json, follow, help, all;
	int packages_only;	/* builder: the packages, no jails */
	const char *events;	/* --events FILE */
	int64_t run;		/* --run N */
	double timeout;
	char **args;		/* every operand, subcommand included */
	size_t nargs;
	char **operands;	/* those after the subcommand */
	size_t noperands;
	char **recreate;
	size_t nrecreate;
	char *flag[CONF_NKEYS];
	char *command;		/* the command line, for the record */
};

extern const char *progname;

/* args.c */
void parse_args(int argc, char **argv, struct opts *o);

/* help.c: 1 when name is a command; its usage line (NULL: build's); its
 * help (NULL: every command's synopsis), or -1 when it is not one. */
int help_known(const char *name);
void help_usage_line(FILE *f, const char *cmd);
int help_print(FILE *f, const char *cmd);

/* common.c */
void die_input(const struct vj_err *err);
void fmt_time(char *buf, size_t n, double s);
struct conf *load_conf(const struct opts *o, int need_base);
int recorded_digest(void *st, const char *path, char hex[65],
    struct vj_err *err);
void record_source_digests(struct state *st, const struct conf_ports *ports);
struct conf_ports *load_ports(const struct conf *c,
    const struct conf_hosts *h);
void make_env(struct task_env *env, const struct conf *c,
    const struct conf_hosts *h, const struct conf_ports *ports,
    struct state *st, const struct opts *o);
struct state *open_state_ro(const char *dir, const char *jails, int need);
void print_usage(void);
void reraise(int sig);

/* progress.c */
int run_plan(const struct opts *o, struct plan *p, struct state *st,
    const struct conf *c, const struct conf_hosts *h, int *sig);

/* build.c: what a build and adopt hold. build_read loads the config, the
 * hosts file and the ports (exits on bad input); build_open loads the
 * libraries tasks use, opens the state (from here on things are created)
 * and makes the plan: 0, or the exit status with the message printed;
 * build_close_plan closes what build_open opened, build_free the rest. */
struct build {
	struct conf *c;
	struct conf_hosts *h;
	struct conf_ports *ports;
	struct state *st;
	struct task_env *env;
	struct plan *p;
};
void build_read(const struct opts *o, struct build *b);
int build_open(const struct opts *o, struct build *b);
void build_close_plan(struct build *b);
void build_free(struct build *b);

/* jail.c: a provisioned jail as the state records it, and its spec to run
 * it; the strings are owned (found_clear). */
struct found {
	const char *name;
	char *address, *root, *hostname, *rundir;
	char *limits;			/* the line's limit.* words, or NULL */
	struct jail_access *access;	/* borrowed from the conf */
	struct jail_spec spec;
};
void found_clear(struct found *f);
void jail_of(const struct conf *c, struct state *st, const char *name,
    struct found *f);

/* The commands: each returns the exit status. */
int cmd_build(const struct opts *o);
int cmd_run_graph(const struct opts *o);
int cmd_adopt(const struct opts *o);
int cmd_status(const struct opts *o);
int cmd_graph(const struct opts *o);
int cmd_cache(const struct opts *o, const char *action);
int cmd_run(const struct opts *o, int start);
int cmd_exec(const struct opts *o);
int cmd_ps(const struct opts *o);
int cmd_destroy(const struct opts *o);
int cmd_runs(const struct opts *o);
int cmd_log(const struct opts *o);
int cmd_report(const struct opts *o);
int cmd_fleet(const struct opts *o);

#endif
