/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The command line's words: options, subcommands, usage.
 */
#include <getopt.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <unistd.h>

#include "../util/util.h"
#include "../vjbuild.h"
#include "cli.h"

const char *progname = "vjbuild";

/* Subcommands and how many operands each takes (-1: any number). */
static const struct {
	const char *name;
	int min, max;
} subcommands[] = {
	{ "build", 1, 1 }, { "status", 0, 1 }, { "graph", 1, 1 },
	{ "cache", 1, 1 }, { "start", 1, -1 }, { "stop", 1, -1 },
	{ "exec", 2, -1 }, { "ps", 0, 0 }, { "destroy", 1, -1 },
	{ "run-graph", 1, 1 }, { "adopt", 1, 1 }, { "runs", 0, 0 },
	{ "log", 1, 1 }, { "report", 0, 1 }, { "help", 0, 1 },
	{ "fleet", 1, 1 }, { "builder", 1, 1 },
	{ NULL, 0, 0 },
};

void
parse_args(int argc, char **argv, struct opts *o)
{
	enum { O_BASE = 256, O_JAILS, O_STATE, O_RECREATE, O_HELP,
	    O_VERSION, O_NOCACHE, O_YES, O_REGISTRY, O_ALWAYS, O_RUSAGE, O_NOJOBSERVER, O_NOIDLE, O_TIMEOUT,
	    O_JSON, O_FOLLOW, O_RUN, O_EVENTS, O_ALL };
	static const struct option longopts[] = {
		{ "base", required_argument, NULL, O_BASE },
		{ "jails", required_argument, NULL, O_JAILS },
		{ "state", required_argument, NULL, O_STATE },
		{ "recreate", required_argument, NULL, O_RECREATE },
		{ "no-cache", no_argument, NULL, O_NOCACHE },
		{ "yes", no_argument, NULL, O_YES },
		{ "always", no_argument, NULL, O_ALWAYS },
		{ "rusage", no_argument, NULL, O_RUSAGE },
		{ "no-jobserver", no_argument, NULL, O_NOJOBSERVER },
		{ "no-idle-slot", no_argument, NULL, O_NOIDLE },
		{ "timeout", required_argument, NULL, O_TIMEOUT },
		{ "json", no_argument, NULL, O_JSON },
		{ "follow", no_argument, NULL, O_FOLLOW },
		{ "run", required_argument, NULL, O_RUN },
		{ "events", required_argument, NULL, O_EVENTS },
		{ "all", no_argument, NULL, O_ALL },
		{ "registry", required_argument, NULL, O_REGISTRY },
		{ "help", no_argument, NULL, O_HELP },
		{ "version", no_argument, NULL, O_VERSION },
		{ "jobs", required_argument, NULL, 'j' },
		{ "keep-going", no_argument, NULL, 'k' },
		{ "dry-run", no_argument, NULL, 'n' },
		{ NULL, 0, NULL, 0 },
	};
	struct sbuf cmd = { 0 };
	char *end;
	long n;
	int c, i;

	for (i = 0; i < argc; i++)
		sbuf_printf(&cmd, "%s%s", i ? " " : "", argv[i]);
	o->command = sbuf_take(&cmd);
	o->cmd = "build";
	/*
	 * Options may come before and after the subcommand and its operands
	 * ("+": getopt stops at each operand, which is collected, and goes
	 * on), except that everything after "exec NAME" is the command.
	 */
	for (;;) {
		c = getopt_long(argc, argv, "+f:j:knqv", longopts, NULL);
		if (c == -1) {
			if (optind >= argc)
				break;
			if (strcmp(argv[optind], "--") == 0 && optind++)
				continue;
			o->args = xreallocarray(o->args, o->nargs + 2,
			    sizeof(*o->args));
			o->args[o->nargs++] = argv[optind++];
			o->args[o->nargs] = NULL;
			if (o->nargs == 2 && strcmp(o->args[0], "exec") == 0) {
				/* exec NAME CMD...: the rest is verbatim. */
				while (optind < argc) {
					o->args = xreallocarray(o->args,
					    o->nargs + 2, sizeof(*o->args));
					o->args[o->nargs++] = argv[optind++];
				}
				o->args[o->nargs] = NULL;
				break;
			}
			continue;
		}
		switch (c) {
		case 'f':
			o->config = optarg;
			break;
		case 'j':
			errno = 0;
			n = strtol(optarg, &end, 10);
			if (errno || *end || n < 1 || n > 1024) {
				fprintf(stderr, "%s: -j: '%s' is not a number "
				    "from 1 to 1024\n", progname, optarg);
				exit(EXIT_INPUT);
			}
			o->jobs = (int)n;
			break;
		case 'k': o->keep_going = 1; break;
		case 'n': o->dry_run = 1; break;
		case 'q': o->quiet = 1; o->verbose = 0; break;
		case 'v': o->verbose = 1; o->quiet = 0; break;
		case O_NOCACHE: o->nocache = 1; break;
		case O_YES: o->yes = 1; break;
		case O_ALWAYS: o->always = 1; break;
		case O_RUSAGE: o->rusage = 1; break;
		case O_NOJOBSERVER: o->nojobserver = 1; break;
		case O_NOIDLE: o->noidle = 1; break;
		case O_JSON: o->json = 1; break;
		case O_ALL: o->all = 1; break;
		case O_FOLLOW: o->follow = 1; break;
		case O_EVENTS: o->events = optarg; break;
		case O_RUN:
			errno = 0;
			n = strtol(optarg, &end, 10);
			if (errno || *end || n < 1) {
				fprintf(stderr, "%s: --run: '%s' is not a run "
				    "number (vjbuild runs lists them)\n",
				    progname, optarg);
				exit(EXIT_INPUT);
			}
			o->run = n;
			break;
		case O_TIMEOUT:
			errno = 0;
			o->timeout = strtod(optarg, &end);
			if (errno || *end || end == optarg ||
			    !(o->timeout > 0 && o->timeout <= 31536000)) {
				fprintf(stderr, "%s: --timeout: '%s' is not a "
				    "number of seconds\n", progname, optarg);
				exit(EXIT_INPUT);
			}
			break;
		case O_REGISTRY: o->flag[CONF_REGISTRY] = optarg; break;
		case O_BASE: o->flag[CONF_BASE] = optarg; break;
		case O_JAILS: o->flag[CONF_JAILS] = optarg; break;
		case O_STATE: o->flag[CONF_STATE] = optarg; break;
		case O_RECREATE:
			if (!conf_valid_hostname(optarg)) {
				fprintf(stderr, "%s: --recreate: '%s' is not a "
				    "host name\n", progname, optarg);
				exit(EXIT_INPUT);
			}
			o->recreate = xreallocarray(o->recreate,
			    o->nrecreate + 2, sizeof(*o->recreate));
			o->recreate[o->nrecreate++] = optarg;
			o->recreate[o->nrecreate] = NULL;
			break;
		case O_HELP:
			o->help = 1;
			break;
		case O_VERSION:
			printf("vjbuild %s\n", VJBUILD_VERSION);
			exit(0);
		default:
			/* getopt said which option. */
			help_usage_line(stderr, o->nargs > 0 &&
			    help_known(o->args[0]) ? o->args[0] : NULL);
			exit(EXIT_INPUT);
		}
	}
	argc = (int)o->nargs;
	argv = o->args ? o->args : (char *[]){ NULL };
	/* The first operand may name a subcommand; "build" forces a hosts
	 * file that happens to be called "status". */
	for (i = 0; subcommands[i].name != NULL; i++)
		if (argc > 0 && strcmp(argv[0], subcommands[i].name) == 0)
			break;
	if (subcommands[i].name != NULL) {
		o->cmd = argv[0];
		argv++;
		argc--;
	} else {
		i = 0;	/* build */
		/* A word that is neither a command nor a file is a mistyped
		 * command ("stauts"), not a missing hosts file. */
		if (argc > 0 && !o->help && access(argv[0], F_OK) == -1 &&
		    strpbrk(argv[0], "/.") == NULL) {
			fprintf(stderr, "%s: '%s' is not a command (vjbuild help "
			    "lists them) nor a hosts file\n", progname,
			    argv[0]);
			exit(EXIT_INPUT);
		}
	}
	if (o->help || strcmp(o->cmd, "help") == 0) {
		const char *about = o->help ? o->cmd : argc > 0 ? argv[0] : NULL;
		if (help_print(stdout, about) == -1) {
			fprintf(stderr, "%s: help: no command '%s' (vjbuild help "
			    "lists them)\n", progname, about);
			exit(EXIT_INPUT);
		}
		exit(0);
	}
	/* start --all, stop --all: no names. */
	if (o->all && (strcmp(o->cmd, "start") == 0 ||
	    strcmp(o->cmd, "stop") == 0) && argc == 0)
		goto ok;
	if (o->all || argc < subcommands[i].min || (subcommands[i].max >= 0 &&
	    argc > subcommands[i].max) || (strcmp(o->cmd, "cache") == 0 &&
	    strcmp(argv[0], "ls") != 0 && strcmp(argv[0], "verify") != 0 &&
	    strcmp(argv[0], "gc") != 0) || (strcmp(o->cmd, "fleet") == 0 &&
	    strcmp(argv[0], "status") != 0)) {
		help_usage_line(stderr, o->cmd);
		exit(EXIT_INPUT);
	}
ok:
	o->hosts = argc ? argv[0] : NULL;
	o->operands = argv;
	o->noperands = (size_t)argc;
	if (o->jobs == 0)
		o->jobs = compat_ncpu();
}
