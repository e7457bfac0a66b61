/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * What each command is for and how it is called: `vjbuild help [COMMAND]`,
 * `vjbuild COMMAND --help`, and the one line a usage error prints.
 */
#include <string.h>

#include "cli.h"

static const struct help {
	const char *name, *synopsis, *text;
} helps[] = {
	{ "build", "vjbuild [build] [-knqv] [-j N] [-f FILE] [--base FILE] "
	    "[--jails DIR]\n               [--state DIR] [--recreate NAME] "
	    "[--no-cache] [--events FILE] HOSTS",
"Provisions every jail of the hosts file HOSTS: base, /etc, devices, host\n"
"name and address, packages (each built once, cached), their config\n"
"files, users, services, registry and DNS. What is up to date is not done\n"
"again; an interrupted run goes on where it stopped.\n"
"  -j N            run up to N tasks at once (default: the number of CPUs)\n"
"  -k              keep going after a failure with what does not need it\n"
"  -n              dry run: the plan, what would run; nothing is changed\n"
"  --recreate NAME make jail NAME anew (the old root is moved aside)\n"
"  --no-cache      the paper's way: every jail compiles its own packages\n"
"  --always        run every task, even those that are up to date\n"
"  --events FILE   write the run's events there, one JSON object a line\n"
"  --timeout SECS  a task that runs longer fails\n"
"  --no-jobserver  do not share -j with the makes that builds run\n"
"  --no-idle-slot  no task beyond -j at the lowest priority beside builds\n"
"  --rusage        print vjbuild's own CPU time and memory at the end\n" },
	{ "status", "vjbuild status [NAME] [--json]",
"The jails the state records and the last record of every task (of jail\n"
"NAME only, when given).\n" },
	{ "runs", "vjbuild runs [--json]",
"The runs kept (history = N in vjbuild.conf, default 20): when, how long,\n"
"how they ended, what their tasks came to, the command.\n" },
	{ "log", "vjbuild log TASK [--run N] [--follow]",
"The log of TASK in its last run, or in run N; --follow prints what it\n"
"writes while it runs. (-f names the configuration, as everywhere.)\n" },
	{ "report", "vjbuild report [RUN] > report.html",
"One HTML page, self-contained, of every run kept or of RUN: each jail's\n"
"result, a timeline of the tasks on their slots with the critical path,\n"
"build times against the run before, failures with their logs' tails.\n" },
	{ "builder", "vjbuild builder [-j N] [-k] HOSTS",
"Builds the packages the jails of HOSTS want (fetch and build tasks only,\n"
"no jail; no base needed), in a fleet claiming each key first: a dedicated\n"
"build host, given the fleet's hosts files, builds what the provisioning\n"
"hosts wait for (with fleet_build = no they never build). Options as a\n"
"build's.\n" },
	{ "fleet", "vjbuild fleet status [--json]",
"The fleet as the PostgreSQL registry has it (registry = postgresql://...):\n"
"each provisioning host's jails (fleet_host), and each claim on a package's\n"
"cache key: building (whose, the lease left), done (by whom, build time,\n"
"size), failed (why). docs/FLEET.md has the design.\n" },
	{ "graph", "vjbuild graph [-f FILE] HOSTS",
"The plan of HOSTS as a Graphviz dot graph; nothing is changed.\n" },
	{ "cache", "vjbuild cache ls [--json] | verify | gc",
"ls: the packages built; verify: each archive against its digest; gc:\n"
"remove what no current recipe makes (packages, sources, work).\n" },
	{ "start", "vjbuild start NAME... | --all",
"Starts provisioned jails and their services; --all every jail whose last\n"
"provisioning ended well, but those whose line in the hosts file says\n"
"boot=no (what the systemd unit and the rc.d script run at boot).\n" },
	{ "stop", "vjbuild stop NAME... | --all",
"Stops jails: their services (rc.shutdown), then what is left; --all every\n"
"jail that runs.\n" },
	{ "exec", "vjbuild exec NAME CMD [ARG...]",
"Runs CMD inside the running jail NAME; its exit status is CMD's.\n" },
	{ "ps", "vjbuild ps [--json]",
"The jails that are running: address, init's pid, processes.\n" },
	{ "destroy", "vjbuild destroy NAME... [--yes]",
"Stops and removes jails: root, registry row, DNS entry, records. Without\n"
"--yes it says what it would do and does nothing.\n" },
	{ "run-graph", "vjbuild run-graph [-knqv] [-j N] [--state DIR] "
	    "[--always] FILE",
"Runs a graph file of commands (NAME: DEPS | COMMAND) through the same\n"
"scheduler, records and logs as a jail plan.\n" },
	{ "adopt", "vjbuild adopt [-f FILE] HOSTS",
"Takes the jails of a lost state database into this one, when their roots\n"
"are what this config and hosts file make.\n" },
	{ "help", "vjbuild help [COMMAND]", "This text, or COMMAND's.\n" },
};
#define NHELPS (sizeof(helps) / sizeof(helps[0]))

static const struct help *
find(const char *name)
{
	size_t i;

	for (i = 0; i < NHELPS; i++)
		if (strcmp(helps[i].name, name) == 0)
			return &helps[i];
	return NULL;
}

int
help_known(const char *name)
{
	return find(name) != NULL;
}

void
help_usage_line(FILE *f, const char *cmd)
{
	const struct help *h = find(cmd ? cmd : "build");

	fprintf(f, "usage: %s\n(vjbuild help %s says more)\n", h->synopsis,
	    h->name);
}

int
help_print(FILE *f, const char *cmd)
{
	const struct help *h;
	size_t i;

	if (cmd != NULL) {
		if ((h = find(cmd)) == NULL)
			return -1;
		fprintf(f, "usage: %s\n\n%s", h->synopsis, h->text);
		fputs("\nEvery command takes -f FILE (the configuration, default "
		    "./vjbuild.conf)\nand --state DIR; see vjbuild(1).\n", f);
		return 0;
	}
	fputs("vjbuild: provisions many jails at once.\n\n", f);
	for (i = 0; i < NHELPS; i++)
		fprintf(f, "  %s\n", helps[i].synopsis);
	fputs("\n`vjbuild help COMMAND` or `vjbuild COMMAND --help` tells more; "
	    "vjbuild(1)\nis the manual.\n", f);
	return 0;
}
