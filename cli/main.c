/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * vjbuild's entry: the subcommand named, run.
 */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static int cache_cmd(const struct opts *o) { return cmd_cache(o, o->hosts); }
static int start_cmd(const struct opts *o) { return cmd_run(o, 1); }
static int stop_cmd(const struct opts *o) { return cmd_run(o, 0); }

static const struct {
	const char *name;
	int (*fn)(const struct opts *);
} commands[] = {
	{ "status", cmd_status }, { "graph", cmd_graph },
	{ "cache", cache_cmd }, { "start", start_cmd }, { "stop", stop_cmd },
	{ "exec", cmd_exec }, { "ps", cmd_ps }, { "destroy", cmd_destroy },
	{ "run-graph", cmd_run_graph }, { "adopt", cmd_adopt },
	{ "runs", cmd_runs }, { "log", cmd_log }, { "report", cmd_report },
	{ "build", cmd_build },
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
			rc = commands[i].fn(&o);
			break;
		}
	free(o.recreate);
	free(o.command);
	free(o.args);
	return rc;
}
