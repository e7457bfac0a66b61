/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * vjbuild's entry: the subcommand named, run.
 */
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "../vjbuild.h"
#include "cli.h"

static int cache_cmd(const struct opts *o) { return cmd_cache(o, o->hosts); }
static int start_cmd(const struct opts *o) { return cmd_run(o, 1); }
static int stop_cmd(const struct opts *o) { return cmd_run(o, 0); }

/* vjbuild builder HOSTS: the build of HOSTS without its jails. */
static int
builder_cmd(const struct opts *o)
{
	struct opts b = *o;

	b.packages_only = 1;
	return cmd_build(&b);
}

/* root: the command makes jails or enters them (device nodes, owners,
 * namespaces), so it is refused before any work when not run as root,
 * rather than failing halfway ("Can't set user=0/group=0"). */
static const struct {
	const char *name;
	int (*fn)(const struct opts *);
	int root;
} commands[] = {
	{ "status", cmd_status, 0 }, { "graph", cmd_graph, 0 },
	{ "cache", cache_cmd, 0 }, { "start", start_cmd, 1 },
	{ "stop", stop_cmd, 1 }, { "exec", cmd_exec, 1 }, { "ps", cmd_ps, 0 },
	{ "destroy", cmd_destroy, 1 }, { "run-graph", cmd_run_graph, 0 },
	{ "adopt", cmd_adopt, 1 }, { "runs", cmd_runs, 0 },
	{ "log", cmd_log, 0 }, { "report", cmd_report, 0 },
	{ "fleet", cmd_fleet, 0 }, { "builder", builder_cmd, 1 },
	{ "build", cmd_build, 1 },
};

int
main(int argc, char **argv)
{
	struct opts o;
	size_t i;
	int rc = 0;

	memset(&o, 0, sizeof(o));
	parse_args(argc, argv, &o);
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(o.cmd, commands[i].name) == 0) {
			/* A dry run and destroy without --yes change nothing. */
			if (commands[i].root && geteuid() != 0 && !o.dry_run &&
			    !(strcmp(o.cmd, "destroy") == 0 && !o.yes)) {
				fprintf(stderr, "%s: %s needs root: it makes and "
				    "enters jails (device nodes, owners, "
				    "namespaces); nothing was done\n", progname,
				    o.cmd);
				rc = EXIT_INPUT;
				break;
			}
			rc = commands[i].fn(&o);
			break;
		}
	free(o.recreate);
	free(o.command);
	free(o.args);
	return rc;
}
