/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * vjbuild's command line: options, subcommands, every message the user
 * sees, and every exit. The modules below report through return codes,
 * struct vj_err and the scheduler's events; only this file prints.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "conf/conf.h"
#include "jail/jail.h"
#include "state/registry.h"
#include "graph/graph.h"
#include "sched/sched.h"
#include "state/state.h"
#include "tasks/root.h"
#include "tasks/tasks.h"
#include "cache/cache.h"
#include "util/util.h"
#include "vjbuild.h"

struct opts {
	const char *cmd;	/* "build", "status", "graph" */
	const char *config;
	const char *hosts;
	int jobs, keep_going, dry_run, verbose, quiet, nocache, yes, always, rusage, nojobserver;
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

static const char *progname = "vjbuild";

static void
usage(FILE *f)
{
	fprintf(f,
"usage: vjbuild [-knqv] [-j N] [-f FILE] [--base FILE] [--jails DIR]\n"
"               [--state DIR] [--recreate NAME] [--no-cache] HOSTS\n"
"       vjbuild status [-f FILE] [--state DIR]\n"
"       vjbuild graph [-f FILE] [--base FILE] HOSTS\n"
"       vjbuild cache ls | verify | gc [-f FILE] [--state DIR]\n"
"       vjbuild start | stop NAME...     vjbuild exec NAME CMD [ARG...]\n"
"       vjbuild ps                       vjbuild destroy NAME... [--yes]\n"
"       vjbuild run-graph [-knqv] [-j N] [--state DIR] [--always] FILE\n"
"       vjbuild adopt [-f FILE] HOSTS    (jails of a lost state database)\n"
"  (build and run-graph also take --timeout, --no-jobserver, --rusage)\n"
"\n"
"  -j N            run up to N tasks at once (default: the number of CPUs)\n"
"  -k              keep going: after a failure, run everything that does\n"
"                  not depend on it\n"
"  -n              dry run: print the plan, what would run, and change\n"
"                  nothing\n"
"  -f FILE         the configuration (default: ./vjbuild.conf if present)\n"
"  --base FILE     the base system archive\n"
"  --jails DIR     where the jail roots go\n"
"  --state DIR     the state database, logs and jail.conf\n"
"  --recreate NAME make jail NAME anew from the base; the old root is\n"
"                  moved aside, not deleted (may be repeated)\n"
"  --no-cache      the paper's way: every jail compiles its own copy of\n"
"                  every package; nothing is reused or kept\n"
"  --always        run every task, even those that are up to date\n"
"  --rusage        at the end, print vjbuild's own CPU time and peak memory\n"
"  --timeout SECS  a task that runs longer fails: its process group gets\n"
"                  SIGTERM, then SIGKILL\n"
"  --no-jobserver  do not share the -j budget with the makes that tasks run\n"
"                  (by default vjbuild is their GNU make jobserver)\n"
"  -q, -v          quieter, more verbose\n"
"  --help, --version\n");
}

static void
die_input(const struct vj_err *err)
{
	fprintf(stderr, "%s: %s\n", progname, err->msg);
	exit(EXIT_INPUT);
}

/* Subcommands and how many operands each takes (-1: any number). */
static const struct {
	const char *name;
	int min, max;
} subcommands[] = {
	{ "build", 1, 1 }, { "status", 0, 0 }, { "graph", 1, 1 },
	{ "cache", 1, 1 }, { "start", 1, -1 }, { "stop", 1, -1 },
	{ "exec", 2, -1 }, { "ps", 0, 0 }, { "destroy", 1, -1 },
	{ "run-graph", 1, 1 }, { "adopt", 1, 1 },
	{ NULL, 0, 0 },
};

static void
parse_args(int argc, char **argv, struct opts *o)
{
	enum { O_BASE = 256, O_JAILS, O_STATE, O_RECREATE, O_HELP,
	    O_VERSION, O_NOCACHE, O_YES, O_REGISTRY, O_ALWAYS, O_RUSAGE, O_NOJOBSERVER, O_TIMEOUT };
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
		{ "timeout", required_argument, NULL, O_TIMEOUT },
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
			usage(stdout);
			exit(0);
		case O_VERSION:
			printf("vjbuild %s\n", VJBUILD_VERSION);
			exit(0);
		default:
			usage(stderr);
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
	} else
		i = 0;	/* build */
	if (argc < subcommands[i].min || (subcommands[i].max >= 0 &&
	    argc > subcommands[i].max)) {
		usage(stderr);
		exit(EXIT_INPUT);
	}
	if (strcmp(o->cmd, "cache") == 0 && strcmp(argv[0], "ls") != 0 &&
	    strcmp(argv[0], "verify") != 0 && strcmp(argv[0], "gc") != 0) {
		usage(stderr);
		exit(EXIT_INPUT);
	}
	o->hosts = argc ? argv[0] : NULL;
	o->operands = argv;
	o->noperands = (size_t)argc;
	if (o->jobs == 0)
		o->jobs = compat_ncpu();
}

/* Reads the config and applies the flags; exits on bad input. */
static struct conf *
load_conf(const struct opts *o, int need_base)
{
	static const char *const flagname[CONF_NKEYS] = {
		[CONF_BASE] = "--base", [CONF_JAILS] = "--jails",
		[CONF_STATE] = "--state", [CONF_REGISTRY] = "--registry",
	};
	const char *path = o->config;
	struct vj_err err;
	struct conf *c;
	char *dir;
	int k;

	if (path == NULL && access("vjbuild.conf", F_OK) == 0)
		path = "vjbuild.conf";
	if ((c = conf_read(path, &err)) == NULL)
		die_input(&err);
	for (k = 0; k < CONF_NKEYS; k++)
		if (o->flag[k] != NULL)
			conf_set(c, (enum conf_key)k, o->flag[k], flagname[k]);
	dir = path ? fs_dirname(path) : xstrdup(".");
	if (conf_finish(c, dir, need_base, &err) == -1)
		die_input(&err);
	free(dir);
	cache_set_unpack_limit(c->unpack_limit);
	registry_set_timeout(c->registry_timeout);
	return c;
}

/* Checks that every package a host or the config names has a port. */
static void
check_packages(const struct conf *c, const struct conf_hosts *h)
{
	const char *ports = c->val[CONF_PORTS];
	size_t i, k;

	for (i = 0; i < h->n; i++)
		for (k = 0; k < h->v[i].npackages; k++) {
			const char *name = h->v[i].packages[k];
			char *recipe;
			if (ports == NULL) {
				fprintf(stderr, "%s: %s:%d: package '%s', but the "
				    "config names no 'ports' directory\n",
				    progname, h->path, h->v[i].line, name);
				exit(EXIT_INPUT);
			}
			recipe = xasprintf("%s/%s/recipe", ports, name);
			if (access(recipe, F_OK) == -1) {
				fprintf(stderr, "%s: %s:%d: unknown package '%s' "
				    "(no %s)\n", progname, h->path,
				    h->v[i].line, name, recipe);
				exit(EXIT_INPUT);
			}
			free(recipe);
		}
	if (c->npackages > 0 && ports == NULL) {
		fprintf(stderr, "%s: %s: packages, but no 'ports' directory\n",
		    progname, c->where[CONF_PACKAGES]);
		exit(EXIT_INPUT);
	}
}

/*
 * Reads every port the hosts want and checks every template for every
 * host that gets it, so that a bad recipe or an unknown %%X%% stops the run
 * before anything is touched. NULL when there are no ports.
 */
static struct conf_ports *
load_ports(const struct conf *c, const struct conf_hosts *h)
{
	struct conf_ports *ports;
	struct task_env env;
	struct vj_err err;
	char **want = NULL;
	size_t nwant = 0, i, k, n;
	int *mine;

	check_packages(c, h);
	for (i = 0; i <= h->n; i++) {
		char *const *v = i < h->n ? h->v[i].packages : c->packages;
		for (; v != NULL && *v != NULL; v++) {
			want = xreallocarray(want, nwant + 1, sizeof(*want));
			want[nwant++] = *v;
		}
	}
	if (nwant == 0)
		return NULL;
	ports = conf_ports_read(c->val[CONF_PORTS], c->val[CONF_DISTFILES],
	    want, nwant, &err);
	free(want);
	if (ports == NULL)
		die_input(&err);
	memset(&env, 0, sizeof(env));
	env.conf = c;
	env.ports = ports;
	for (i = 0; i < h->n; i++) {
		n = task_jail_ports(&env, &h->v[i], &mine);
		for (k = 0; k < n; k++) {
			const struct conf_port *p = &ports->v[mine[k]];
			size_t f;
			for (f = 0; f < p->nfiles; f++) {
				size_t len = strlen(p->files[f]);
				char *path, *text, *out;
				if (len < 3 || strcmp(p->files[f] + len - 3,
				    ".in") != 0)
					continue;
				path = xasprintf("%s/files/%s", p->dir,
				    p->files[f]);
				text = fs_read(path,
				    16u << 20, NULL);
				if (text == NULL) {
					vj_errno(&err, "%s", path);
					die_input(&err);
				}
				out = conf_render(text, path, c, &h->v[i], &err);
				if (out == NULL)
					die_input(&err);
				free(out);
				free(text);
				free(path);
			}
		}
		free(mine);
	}
	return ports;
}

/* Fills env: the digests that fingerprints hash. */
static void
make_env(struct task_env *env, const struct conf *c,
    const struct conf_hosts *h, const struct conf_ports *ports,
    struct state *st, const struct opts *o)
{
	struct vj_err err;
	const char *dist = c->val[CONF_DISTRIBUTION];
	struct stat sb;
	int rc;

	memset(env, 0, sizeof(*env));
	env->conf = c;
	env->hosts = h;
	env->jails = c->val[CONF_JAILS];
	env->state_dir = c->val[CONF_STATE];
	env->uuid = st ? state_uuid(st) : NULL;
	env->recreate = o ? o->recreate : NULL;
	env->always = o ? o->always : 0;
	env->ports = ports;
	env->jobs = o ? o->jobs : 1;
	env->nocache = o ? o->nocache : 0;
	env->cache = c->val[CONF_CACHE];
	env->state = st;
	if (env->uuid == NULL)
		env->uuid = "";
	rc = st ? state_file_digest(st, c->val[CONF_BASE], env->base_digest,
	    &err) : sha256_file(c->val[CONF_BASE], env->base_digest, &err);
	if (rc == -1)
		die_input(&err);
	memset(env->dist_digest, '0', 64);
	if (dist != NULL) {
		if (stat(dist, &sb) == 0 && S_ISDIR(sb.st_mode))
			rc = cache_tree_digest(dist, env->dist_digest, &err);
		else
			rc = st ? state_file_digest(st, dist, env->dist_digest,
			    &err) : sha256_file(dist, env->dist_digest, &err);
		if (rc == -1)
			die_input(&err);
	}
}

/* ---- progress and summary ---- */

struct ui {
	const struct opts *o;
	struct plan *p;
	int tty;
	int line_shown;
};

static void
fmt_time(char *buf, size_t n, double s)
{
	if (s < 60)
		snprintf(buf, n, "%.1fs", s);
	else if (s < 3600)
		snprintf(buf, n, "%dm%02ds", (int)s / 60, (int)s % 60);
	else
		snprintf(buf, n, "%dh%02dm", (int)s / 3600, (int)s / 60 % 60);
}

static void
clear_line(struct ui *u)
{
	if (u->line_shown) {
		fputs("\r\033[K", stderr);
		u->line_shown = 0;
	}
}

static void
status_line(struct ui *u, const struct sched_event *ev)
{
	char el[32], eta[32];
	size_t i;

	fmt_time(el, sizeof(el), ev->elapsed);
	fmt_time(eta, sizeof(eta), ev->eta);
	fprintf(stderr, "\r\033[K[%zu/%zu] %s ETA %s", ev->done, ev->total,
	    el, eta);
	for (i = 0; i < ev->running && i < 3; i++)
		fprintf(stderr, "%s%s", i ? ", " : " | ",
		    plan_task(u->p, ev->running_ids[i])->name);
	if (ev->running > 3)
		fprintf(stderr, " (+%zu)", ev->running - 3);
	fflush(stderr);
	u->line_shown = 1;
}

static void
on_event(const struct sched_event *ev, void *arg)
{
	struct ui *u = arg;
	const struct task *t = ev->task >= 0 ? plan_task(u->p, ev->task) : NULL;
	char d[32];

	if (u->o->quiet)
		return;
	clear_line(u);
	if (ev->kind == SCHED_EV_START && u->o->verbose)
		fprintf(stderr, "start    %s\n", t->name);
	if (ev->kind == SCHED_EV_END) {
		fmt_time(d, sizeof(d), ev->duration);
		if (ev->status == SCHED_FAILED)
			fprintf(stderr, "FAILED   %s (%s)\n", t->name, d);
		else if (!u->tty || u->o->verbose)
			fprintf(stderr, "%-8s %s (%s)\n",
			    sched_status_name(ev->status), t->name, d);
	}
	if (u->tty)
		status_line(u, ev);
}

/* Prints the last n lines of a log, indented, with the summary. */
static void
tail_log(const char *path, int n)
{
	char *text = NULL, *p;
	size_t len = 0;
	FILE *f = fopen(path, "r");
	int lines = 0;

	if (f == NULL)
		return;
	{
		char buf[8192];
		size_t r;
		struct sbuf b = { 0 };
		while ((r = fread(buf, 1, sizeof(buf), f)) > 0)
			sbuf_add(&b, buf, r);
		len = b.len;
		text = sbuf_take(&b);
	}
	fclose(f);
	while (len > 0 && text[len - 1] == '\n')
		text[--len] = '\0';
	for (p = text + len; p > text; p--)
		if (p[-1] == '\n' && ++lines == n)
			break;
	for (char *line = strtok(p, "\n"); line; line = strtok(NULL, "\n"))
		printf("    | %s\n", line);
	free(text);
}

/*
 * One line per jail: ok, or the task that failed (its log's last lines), or
 * the failure that made it skip; then the totals. Records each jail. For a
 * graph file (h NULL): the failures and the totals.
 */
static void
summary(struct ui *u, const struct conf *c, const struct conf_hosts *h,
    struct state *st, const struct sched_result *r)
{
	size_t i, j, n = plan_count(u->p), jok = 0;
	size_t cnt[SCHED_INTERRUPTED + 1] = { 0 };
	struct vj_err err;
	char t[32], *root;

	clear_line(u);
	for (i = 0; i < n; i++)
		cnt[r->status[i]]++;
	for (j = 0; h != NULL && j < h->n; j++) {
		const char *name = h->v[j].name;
		double first = 0, last = 0;
		int bad = -1, ran = 0;
		struct state_jail sj;
		for (i = 0; i < n; i++) {
			const struct task *tk = plan_task(u->p, (int)i);
			if (task_jail(tk) == NULL || strcmp(task_jail(tk), name))
				continue;
			if (r->started[i] > 0) {
				if (!ran || r->started[i] < first)
					first = r->started[i];
				if (r->ended[i] > last)
					last = r->ended[i];
				ran = 1;
			}
			if (bad == -1 && r->status[i] != SCHED_OK &&
			    r->status[i] != SCHED_UPTODATE)
				bad = (int)i;
		}
		fmt_time(t, sizeof(t), ran ? last - first : 0);
		sj.name = name;
		sj.address = h->v[j].address;
		sj.limits = h->v[j].limits;
		sj.root = root = fs_join(c->val[CONF_JAILS], name);
		sj.run = r->run;
		sj.updated = vj_wall();
		if (bad == -1) {
			jok++;
			if (!u->o->quiet)
				printf("%-20s ok      %s%s\n", name, t,
				    ran ? "" : " (up to date)");
			sj.status = "ok";
		} else {
			const struct task *tk = plan_task(u->p, bad);
			enum sched_status s = r->status[bad];
			sj.status = s == SCHED_INTERRUPTED ? "interrupted" :
			    "failed";
			if (s == SCHED_SKIPPED) {
				printf("%-20s FAILED  %s: skipped, %s failed\n",
				    name, tk->name,
				    plan_task(u->p, r->cause[bad])->name);
			} else if (s == SCHED_FAILED) {
				char *log = sched_log_path(st, tk);
				printf("%-20s FAILED  %s (log: %s)\n", name,
				    tk->name, log);
				fflush(stdout);
				tail_log(log, 3);
				free(log);
			} else
				printf("%-20s %s  %s: %s\n", name,
				    s == SCHED_INTERRUPTED ? "STOPPED" :
				    "NOT RUN", tk->name, sched_status_name(s));
		}
		if (state_jail_put(st, &sj, &err) == -1)
			fprintf(stderr, "%s: %s\n", progname, err.msg);
		free(root);
	}
	/* Failures that belong to no jail: the builds and fetches. */
	for (i = 0; i < n; i++) {
		const struct task *tk = plan_task(u->p, (int)i);
		char *log;
		if (r->status[i] != SCHED_FAILED || task_jail(tk) != NULL)
			continue;
		log = sched_log_path(st, tk);
		if (tk->argv != NULL && access(log, F_OK) == -1) {
			/* A command that printed nothing has no log. */
			printf("%-20s FAILED  (no output)\n", tk->name);
			free(log);
			continue;
		}
		printf("%-20s FAILED  (log: %s)\n", tk->name, log);
		fflush(stdout);
		tail_log(log, 5);
		free(log);
	}
	if (h != NULL && (!u->o->quiet || jok < h->n))
		printf("%zu jails: %zu ok, %zu not; ", h->n, jok, h->n - jok);
	if (!u->o->quiet || cnt[SCHED_OK] + cnt[SCHED_UPTODATE] < n)
		printf("%zu tasks: %zu ran, %zu up "
		    "to date, %zu failed, %zu skipped, %zu not run\n",
		    n, cnt[SCHED_OK] + cnt[SCHED_FAILED] +
		    cnt[SCHED_INTERRUPTED], cnt[SCHED_UPTODATE],
		    cnt[SCHED_FAILED] + cnt[SCHED_INTERRUPTED],
		    cnt[SCHED_SKIPPED], cnt[SCHED_WAITING] + cnt[SCHED_READY]);
}

/* ---- subcommands ---- */

/* Each task of p in order: would it run, or is it up to date (st may be
 * NULL: no state yet). */
static void
print_dry_run(const struct plan *p, struct state *st)
{
	size_t i, n = plan_count(p), nrun = 0;
	int64_t *stamps = xcalloc(n ? n : 1, sizeof(*stamps));

	for (i = 0; i < n; i++) {
		const struct task *t = plan_task(p, (int)i);
		const struct state_task *rec = st ? state_task_get(st, t->name) :
		    NULL;
		stamps[i] = rec ? rec->stamp : 0;
	}
	for (i = 0; i < n; i++) {
		int id = plan_order(p)[i];
		int up = st != NULL && sched_uptodate(p, st, id, stamps);
		if (!up) {
			stamps[id] = -1 - (int64_t)i;	/* would be new */
			nrun++;
		}
		printf("%-10s %s\n", up ? "up-to-date" : "run",
		    plan_task(p, id)->name);
	}
	printf("%zu tasks: %zu would run, %zu up to date\n", n, nrun, n - nrun);
	free(stamps);
}

/* The state at dir read-only when it exists (*st stays NULL when not);
 * -1, having said why, when it cannot be read. */
static int
state_if_any(const char *dir, const char *jails, struct state **st)
{
	char *db = fs_join(dir, "vjbuild.db");
	struct vj_err err;
	int rc = 0;

	*st = NULL;
	if (access(db, F_OK) == 0 && state_open(dir, jails, 1, st, &err) == -1) {
		fprintf(stderr, "%s: %s\n", progname, err.msg);
		rc = -1;
	}
	free(db);
	return rc;
}

static int
cmd_dry_run(const struct opts *o, struct conf *c, struct conf_hosts *h,
    const struct conf_ports *ports)
{
	struct state *st = NULL;
	struct task_env env;
	struct plan *p;
	struct vj_err err;

	if (state_if_any(c->val[CONF_STATE], c->val[CONF_JAILS], &st) == -1)
		return EXIT_STATE;
	make_env(&env, c, h, ports, st, o);
	if ((p = plan_new(&env, &err)) == NULL)
		die_input(&err);
	print_dry_run(p, st);
	plan_free(p);
	task_env_free_ports(&env);
	state_close(st);
	return 0;
}

/* --rusage: what vjbuild itself used (its children not counted). */
static void
print_usage(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru) == -1)
		return;
	fprintf(stderr, "%s: own cpu %.3fs user %.3fs system, peak rss %ld "
	    "KiB\n", progname, (double)ru.ru_utime.tv_sec +
	    ru.ru_utime.tv_usec / 1e6, (double)ru.ru_stime.tv_sec +
	    ru.ru_stime.tv_usec / 1e6, ru.ru_maxrss);
}

/*
 * Runs plan p as o says, with the status line and the summary (per jail
 * when h is given); --rusage. Returns the exit status; *sig is the signal
 * that stopped the run, which the caller re-raises once it has cleaned up.
 */
static int
run_plan(const struct opts *o, struct plan *p, struct state *st,
    const struct conf *c, const struct conf_hosts *h, int *sig)
{
	struct event_base *base = event_base_new();
	struct sched_result r;
	struct sched_opts so;
	struct vj_err err;
	struct ui u;
	int rc;

	*sig = 0;
	if (base == NULL) {
		fprintf(stderr, "%s: event_base_new failed\n", progname);
		return EXIT_STATE;
	}
	memset(&u, 0, sizeof(u));
	u.o = o;
	u.p = p;
	u.tty = isatty(STDERR_FILENO) && !o->quiet;
	memset(&so, 0, sizeof(so));
	so.jobs = o->jobs;
	so.keep_going = o->keep_going;
	so.command = o->command;
	so.recreate = o->recreate;
	so.always = o->always;
	so.jobserver = !o->nojobserver;
	so.timeout = o->timeout;
	so.event = on_event;
	so.arg = &u;
	so.tick = u.tty ? 1.0 : 0;
	so.log_limit = c != NULL ? c->log_limit : 0;
	rc = sched_run(base, p, st, &so, &r, &err);
	if (rc == -1) {
		clear_line(&u);
		fprintf(stderr, "%s: %s\n", progname, err.msg);
		rc = EXIT_STATE;
	} else {
		summary(&u, c, h, st, &r);
		rc = rc == 0 ? 0 : EXIT_TASKS;
	}
	if (o->rusage)
		print_usage();
	if ((*sig = r.signal) != 0)
		fprintf(stderr, "%s: stopped by signal %d; run again to go on\n",
		    progname, *sig);
	sched_result_free(&r);
	event_base_free(base);
	return rc;
}

/* Dies of sig (when not 0), so the exit status tells the truth. */
static void
reraise(int sig)
{
	if (sig != 0) {
		signal(sig, SIG_DFL);
		raise(sig);
	}
}

/*
 * What a build and adopt do before they run anything: load the libraries
 * their tasks use (a missing one stops the run before anything is made),
 * open the state (from here on things are created), fill env and plan.
 * 0, or the exit status with the message printed.
 */
static int
open_build(const struct opts *o, const struct conf *c,
    const struct conf_hosts *h, const struct conf_ports *ports,
    struct state **st, struct task_env *env, struct plan **p)
{
	struct vj_err err;

	/* Its tasks read and write archives, and builds load a seccomp
	 * filter, in processes of their own: loaded here once, they inherit
	 * the libraries. */
	if (cache_archive_load(&err) == -1 ||
	    (ports != NULL && ports->n > 0 &&
	    jail_seccomp_preload(&err) == -1)) {
		fprintf(stderr, "%s: %s\n", progname, err.msg);
		return EXIT_TASKS;
	}
	if (state_open(c->val[CONF_STATE], c->val[CONF_JAILS], 0, st,
	    &err) == -1) {
		fprintf(stderr, "%s: %s\n", progname, err.msg);
		*st = NULL;
		return EXIT_STATE;
	}
	make_env(env, c, h, ports, *st, o);
	if ((*p = plan_new(env, &err)) == NULL) {
		fprintf(stderr, "%s: %s\n", progname, err.msg);
		return EXIT_INPUT;
	}
	return 0;
}

static int
cmd_build(const struct opts *o)
{
	struct conf *c = load_conf(o, 1);
	struct conf_hosts *h;
	struct conf_ports *ports;
	struct state *st = NULL;
	struct task_env env;
	struct plan *p = NULL;
	struct vj_err err;
	int rc, sig = 0;

	memset(&env, 0, sizeof(env));
	if ((h = conf_hosts_read(o->hosts, &err)) == NULL)
		die_input(&err);
	ports = load_ports(c, h);
	if (o->dry_run) {
		rc = cmd_dry_run(o, c, h, ports);
		conf_ports_free(ports);
		conf_hosts_free(h);
		conf_free(c);
		return rc;
	}
	/* Everything is validated; from here on things are created. */
	if ((rc = open_build(o, c, h, ports, &st, &env, &p)) == 0)
		rc = run_plan(o, p, st, c, h, &sig);
	plan_free(p);
	task_env_free_ports(&env);
	state_close(st);
	conf_ports_free(ports);
	conf_hosts_free(h);
	conf_free(c);
	reraise(sig);
	return rc;
}

/*
 * adopt HOSTS: the state database was lost (or moved); its jails are
 * taken into this one. A root is adopted when its marker names its jail
 * and its done file (written by register when the jail was whole) holds
 * the fingerprint this plan gives its register task: that fingerprint
 * chains every task of the jail and every build it installed, so the root
 * is what this config and hosts file make. A row of a PostgreSQL registry
 * is taken over only when it names the same root on this host. Then its
 * tasks are recorded done (a build's package taken from the cache, its
 * digest checked), its marker names this state, its registry row is put,
 * and a build runs what is left (jail.conf, DNS). Anything else is left as
 * it is, with a message.
 */
static int
adopt_jail(struct state *st, struct registry *reg, const struct task *t,
    const char *host, struct vj_err *err)
{
	const char *name = t->host->name;
	char *marker = NULL, *done = NULL, *want = NULL, *fresh = NULL, *base;
	char *head = xasprintf("vjbuild jail\nname %s\nstate ", name);
	int fd, rc = -1;

	if ((fd = open(t->root, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) == -1) {
		vj_errno(err, "%s: nothing to adopt (the next run makes it)",
		    t->root);
		free(head);
		return 1;
	}
	marker = fs_read_beneath(fd, ROOT_MARKER, 4096, NULL);
	done = fs_read_beneath(fd, ROOT_DONE, 4096, NULL);
	want = xasprintf("vjbuild done\nregister %s\n", t->fingerprint);
	if (marker == NULL || strncmp(marker, head, strlen(head)) != 0 ||
	    (base = strstr(marker, "\nbase ")) == NULL) {
		vj_errf(err, "%s has no vjbuild marker for jail %s: not adopted, "
		    "left as it is", t->root, name);
		goto out;
	}
	if (strncmp(marker + strlen(head), state_uuid(st),
	    strlen(state_uuid(st))) == 0) {
		vj_errf(err, "%s is this state's already", t->root);
		rc = 1;
		goto out;
	}
	if (done == NULL || strcmp(done, want) != 0) {
		vj_errf(err, "%s was not provisioned from this config and hosts "
		    "file, or its last run did not finish: not adopted, left as "
		    "it is (adopt with the config and hosts file of its last "
		    "run, or make it anew with --recreate %s)", t->root, name);
		goto out;
	}
	if ((rc = registry_take(reg, name, t->root, host, state_uuid(st),
	    err)) != 0) {
		rc = -1;
		goto out;
	}
	fresh = xasprintf("%s%s%s", head, state_uuid(st), base);
	if (fs_write_beneath(fd, ROOT_MARKER, fresh, strlen(fresh),
	    0644, err) == -1 || task_register_ops.run(t, err) == -1)
		goto out;
	rc = 0;
out:
	close(fd);
	free(head);
	free(marker);
	free(done);
	free(want);
	free(fresh);
	return rc;
}

static int
cmd_adopt(const struct opts *o)
{
	struct conf *c = load_conf(o, 1);
	struct conf_hosts *h;
	struct conf_ports *ports;
	struct state *st = NULL;
	struct registry *reg = NULL;
	struct task_env env;
	struct plan *p = NULL;
	struct vj_err err;
	char *want = NULL, host[256];
	int *stack = NULL, rc = 0, sig = 0, r;
	size_t i, n, top, k, adopted = 0, tasks = 0, refused = 0;
	int64_t run;

	memset(&env, 0, sizeof(env));
	if ((h = conf_hosts_read(o->hosts, &err)) == NULL)
		die_input(&err);
	ports = load_ports(c, h);
	if ((rc = open_build(o, c, h, ports, &st, &env, &p)) != 0)
		goto out;
	if (registry_open(c->val[CONF_REGISTRY], c->val[CONF_STATE], &reg,
	    &err) == -1 || state_run_begin(st, "adopt", o->jobs, &run,
	    &err) == -1) {
		fprintf(stderr, "%s: %s\n", progname, err.msg);
		rc = EXIT_STATE;
		goto out;
	}
	if (gethostname(host, sizeof(host)) == -1)
		snprintf(host, sizeof(host), "unknown");
	host[sizeof(host) - 1] = '\0';
	n = plan_count(p);
	want = xcalloc(n, 1);
	stack = xmalloc(n * sizeof(*stack));
	for (i = 0; i < n; i++) {
		const struct task *t = plan_task(p, (int)i);
		if (t->ops != &task_register_ops)
			continue;
		if ((r = adopt_jail(st, reg, t, host, &err)) != 0) {
			printf("%-20s %s %s\n", t->host->name, r == 1 ?
			    "skipped:" : "NOT ADOPTED:", err.msg);
			refused += r == -1;
			continue;
		}
		/* Its register task and all it depends on. */
		top = 0;
		want[i] = 1;
		stack[top++] = (int)i;
		while (top > 0) {
			int v = stack[--top];
			for (k = 0; k < graph_ndeps(plan_graph(p), v); k++) {
				int d = graph_dep(plan_graph(p), v, k);
				if (!want[d]) {
					want[d] = 1;
					stack[top++] = d;
				}
			}
		}
		adopted++;
		printf("%-20s adopted: %s\n", t->host->name, t->root);
	}
	if (sched_adopt(p, st, want, run, &tasks, &err) == -1 ||
	    state_run_end(st, run, refused ? "failed" : "ok", &err) == -1) {
		fprintf(stderr, "%s: %s\n", progname, err.msg);
		rc = EXIT_STATE;
		goto out;
	}
	printf("adopted %zu jails (%zu tasks recorded done), %zu not\n",
	    adopted, tasks, refused);
	registry_close(reg);
	reg = NULL;
	/* What is left (jail.conf, DNS, whatever could not be adopted) runs
	 * as a build would, with the records just made. */
	plan_free(p);
	p = NULL;
	task_env_free_ports(&env);
	state_close(st);
	st = NULL;
	if ((rc = open_build(o, c, h, ports, &st, &env, &p)) != 0)
		goto out;
	rc = run_plan(o, p, st, c, h, &sig);
	if (rc == 0 && refused > 0)
		rc = EXIT_TASKS;
out:
	free(want);
	free(stack);
	registry_close(reg);
	plan_free(p);
	task_env_free_ports(&env);
	state_close(st);
	conf_ports_free(ports);
	conf_hosts_free(h);
	conf_free(c);
	reraise(sig);
	return rc;
}

/*
 * run-graph FILE: the commands of a graph file (tasks/cmd.c) through the
 * same scheduler, state and logs as a jail plan. The state defaults to
 * FILE.state; commands run in the current directory.
 */
static int
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
		rc = 0;
		if (state_if_any(dir, NULL, &st) == -1)
			rc = EXIT_STATE;
		else
			print_dry_run(p, st);
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

static void
show_jail(const struct state_jail *j, void *arg)
{
	char when[32];
	time_t t = (time_t)j->updated;

	(void)arg;
	strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", localtime(&t));
	printf("%-20s %-16s %-12s %s\n", j->name, j->address ? j->address : "",
	    j->status ? j->status : "", when);
}

struct show {
	int first, live;
};

static void
show_task(const struct state_task *t, void *arg)
{
	char d[32] = "-", when[32] = "-";
	time_t ts = (time_t)t->started;
	struct show *sh = arg;
	const char *status = t->status;

	/* No vjbuild holds the state: what it left "running" was stopped
	 * (kill -9, a power cut) before it could say so. */
	if (!sh->live && strcmp(status, "running") == 0)
		status = "interrupted";
	if (sh->first) {
		printf("\n%-30s %-12s %5s %-19s %8s\n", "TASK", "STATUS", "RUN",
		    "STARTED", "TIME");
		sh->first = 0;
	}
	if (t->duration >= 0 && strcmp(t->status, "ok") == 0)
		fmt_time(d, sizeof(d), t->duration);
	if (t->started > 0)
		strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S",
		    localtime(&ts));
	printf("%-30s %-12s %5lld %-19s %8s\n", t->name, status,
	    (long long)t->run, when, d);
	if (strcmp(t->status, "ok") != 0 && t->log != NULL)
		printf("%-30s log: %s\n", "", t->log);
}

static int
cmd_status(const struct opts *o)
{
	struct conf *c = load_conf(o, 0);
	char *db = fs_join(c->val[CONF_STATE], "vjbuild.db");
	struct state *st = NULL;
	struct vj_err err;
	struct show sh = { 1, 0 };
	int rc = 0;

	if (access(db, F_OK) == -1) {
		fprintf(stderr, "%s: no state at %s: nothing was built there "
		    "yet\n", progname, c->val[CONF_STATE]);
		rc = EXIT_STATE;
	} else if ((sh.live = state_in_use(c->val[CONF_STATE]),
	    state_open(c->val[CONF_STATE], NULL, 1, &st, &err)) == -1 ||
	    (printf("%-20s %-16s %-12s %s\n", "JAIL", "ADDRESS", "STATUS",
	    "UPDATED"), state_list(st, show_jail, show_task, &sh,
	    &err) == -1)) {
		fprintf(stderr, "%s: %s\n", progname, err.msg);
		rc = EXIT_STATE;
	}
	state_close(st);
	free(db);
	conf_free(c);
	return rc;
}

static int
cmd_graph(const struct opts *o)
{
	struct conf *c = load_conf(o, 1);
	struct conf_hosts *h;
	struct conf_ports *ports;
	struct task_env env;
	struct sbuf b = { 0 };
	struct plan *p;
	struct vj_err err;

	if ((h = conf_hosts_read(o->hosts, &err)) == NULL)
		die_input(&err);
	ports = load_ports(c, h);
	make_env(&env, c, h, ports, NULL, o);
	if ((p = plan_new(&env, &err)) == NULL)
		die_input(&err);
	graph_dot(plan_graph(p), &b, NULL);
	fputs(b.s, stdout);
	sbuf_free(&b);
	plan_free(p);
	task_env_free_ports(&env);
	conf_ports_free(ports);
	conf_hosts_free(h);
	conf_free(c);
	return 0;
}

/* ---- the package cache ---- */

struct cache_walk {
	const struct conf *c;
	int bad;
	size_t n;
	int64_t bytes;
	char **keep;		/* gc: archive paths current recipes make */
	size_t nkeep;
	struct state *st;
};

static void
cache_ls_one(const struct state_package *p, void *arg)
{
	struct cache_walk *w = arg;
	char age[32];

	fmt_time(age, sizeof(age), vj_wall() - p->built);
	printf("%-16.16s %-12s %-8s %10lld %6lld %7.1fs %9s  %s\n", p->key,
	    p->port, p->version, (long long)p->size, (long long)p->nfiles,
	    p->build_seconds, age, p->path);
	w->n++;
	w->bytes += p->size;
}

static void
cache_verify_one(const struct state_package *p, void *arg)
{
	struct cache_walk *w = arg;
	struct vj_err err;
	char hex[65];

	w->n++;
	if (sha256_file(p->path, hex, &err) == -1) {
		printf("MISSING  %s %s: %s\n", p->port, p->version, err.msg);
		w->bad++;
	} else if (strcmp(hex, p->sha256) != 0) {
		printf("CORRUPT  %s %s: %s has sha256 %s, recorded %s\n",
		    p->port, p->version, p->path, hex, p->sha256);
		w->bad++;
	} else
		printf("ok       %s %s %s\n", p->port, p->version, p->path);
}

static int
kept(const struct cache_walk *w, const char *path)
{
	size_t i;

	for (i = 0; i < w->nkeep; i++)
		if (strcmp(w->keep[i], path) == 0)
			return 1;
	return 0;
}

/*
 * CACHE/locks/NAME, taken without waiting: what another vjbuild is
 * building or unpacking now (tasks/port.c) is not removed under it. The
 * fd, or -1 when it is held.
 */
static int
try_cache_lock(const char *cache, const char *name)
{
	char *dir = fs_join(cache, "locks"), *path = fs_join(dir, name);
	int fd = -1;

	if (fs_mkdirs(dir, 0755) == 0 && (fd = open(path, O_RDWR | O_CREAT |
	    O_CLOEXEC | O_NOFOLLOW, 0644)) != -1 &&
	    flock(fd, LOCK_EX | LOCK_NB) == -1) {
		close(fd);
		fd = -1;
	}
	free(dir);
	free(path);
	return fd;
}

static void
cache_gc_one(const struct state_package *p, void *arg)
{
	struct cache_walk *w = arg;
	struct vj_err err;
	char *files, *name;
	int lk;

	if (kept(w, p->path))
		return;
	name = xasprintf("%s-%.16s", p->port, p->key);
	lk = try_cache_lock(w->c->val[CONF_CACHE], name);
	free(name);
	if (lk == -1) {
		printf("in use by another vjbuild, kept: %s\n", p->path);
		return;
	}
	files = xasprintf("%s.files", p->path);
	if ((unlink(p->path) == -1 && errno != ENOENT) ||
	    (unlink(files) == -1 && errno != ENOENT))
		printf("cannot remove %s: %s\n", p->path, strerror(errno));
	else if (state_package_delete(w->st, p->key, &err) == -1)
		printf("%s\n", err.msg);
	else {
		printf("removed  %s %s %s\n", p->port, p->version, p->path);
		w->n++;
		w->bytes += p->size;
	}
	free(files);
	close(lk);
}

/* Removes the entries of dir (CACHE/src or CACHE/work) that filter keeps
 * and whose lock (prefix + name) no other vjbuild holds. */
static void
gc_dir(struct cache_walk *w, const char *sub, const char *prefix,
    int (*filter)(struct cache_walk *, const char *, const char *))
{
	char *dir = fs_join(w->c->val[CONF_CACHE], sub);
	struct dirent **ents = NULL;
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), m, k, lk;

	m = fd == -1 ? -1 : scandir(dir, &ents, NULL, alphasort);
	for (k = 0; k < m; k++) {
		const char *d = ents[k]->d_name;
		/* A fetch's temporary is locked under its output's name. */
		const char *base = strncmp(d, ".tmp.", 5) == 0 ? d + 5 : d;
		char *path = fs_join(dir, d), *lname;
		if (strcmp(d, ".") != 0 && strcmp(d, "..") != 0 &&
		    filter(w, d, path)) {
			lname = xasprintf("%s%s", prefix, base);
			if ((lk = try_cache_lock(w->c->val[CONF_CACHE],
			    lname)) == -1)
				printf("in use by another vjbuild, kept: %s\n",
				    path);
			else {
				if (fs_rmtree_at(fd, d) == 0)
					printf("removed  %s\n", path);
				close(lk);
			}
			free(lname);
		}
		free(path);
		free(ents[k]);
	}
	free(ents);
	if (fd != -1)
		close(fd);
	free(dir);
}

/* Unpacked sources no current port uses, and fetches' leftovers. */
static int
gc_src(struct cache_walk *w, const char *name, const char *path)
{
	return (name[0] != '.' || strncmp(name, ".tmp.", 5) == 0) &&
	    !kept(w, path);
}

/* Every build's work directory (a finished build removes its own). */
static int
gc_work(struct cache_walk *w, const char *name, const char *path)
{
	(void)w;
	(void)name;
	(void)path;
	return 1;
}

/* The names of every port in the ports tree (directories with a recipe). */
static char **
all_ports(const char *dir, size_t *n)
{
	struct dirent **ents = NULL;
	char **names = NULL;
	int i, m = dir ? scandir(dir, &ents, NULL, alphasort) : -1;

	*n = 0;
	for (i = 0; i < m; i++) {
		char *recipe = xasprintf("%s/%s/recipe", dir, ents[i]->d_name);
		if (ents[i]->d_name[0] != '.' && access(recipe, F_OK) == 0) {
			names = xreallocarray(names, *n + 1, sizeof(*names));
			names[(*n)++] = xstrdup(ents[i]->d_name);
		}
		free(recipe);
		free(ents[i]);
	}
	free(ents);
	return names;
}

/*
 * gc: what no current recipe produces goes: packages (file and record),
 * unpacked sources, and build work directories.
 */
static int
cache_gc(struct cache_walk *w, struct state *st, struct vj_err *err)
{
	const struct conf *c = w->c;
	struct conf_ports *ports = NULL;
	struct task_env env;
	char **names;
	size_t n, i;
	int rc = -1;

	names = all_ports(c->val[CONF_PORTS], &n);
	memset(&env, 0, sizeof(env));
	env.conf = c;
	env.cache = c->val[CONF_CACHE];
	if (n > 0) {
		ports = conf_ports_read(c->val[CONF_PORTS],
		    c->val[CONF_DISTFILES], names, n, err);
		if (ports == NULL)
			goto out;
		env.ports = ports;
		if (task_port_keys(&env, err) == -1)
			goto out;
		for (i = 0; i < ports->n; i++) {
			w->keep = xreallocarray(w->keep, w->nkeep + 2,
			    sizeof(*w->keep));
			w->keep[w->nkeep++] = env.tports[i].archive;
			w->keep[w->nkeep++] = env.tports[i].srcdir;
		}
	}
	w->st = st;
	if (state_packages(st, cache_gc_one, w, err) == -1)
		goto out;
	gc_dir(w, "src", "src-", gc_src);
	gc_dir(w, "work", "", gc_work);
	rc = 0;
out:
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	free(w->keep);
	task_env_free_ports(&env);
	conf_ports_free(ports);
	return rc;
}

static int
cmd_cache(const struct opts *o, const char *action)
{
	struct conf *c = load_conf(o, 0);
	char *db = fs_join(c->val[CONF_STATE], "vjbuild.db");
	int gc = strcmp(action, "gc") == 0, rc = 0;
	struct cache_walk w;
	struct state *st = NULL;
	struct vj_err err;

	memset(&w, 0, sizeof(w));
	w.c = c;
	if (access(db, F_OK) == -1) {
		printf("no state at %s: the cache is empty\n",
		    c->val[CONF_STATE]);
		goto out;
	}
	if (state_open(c->val[CONF_STATE], NULL, !gc, &st, &err) == -1) {
		fprintf(stderr, "%s: %s\n", progname, err.msg);
		rc = EXIT_STATE;
		goto out;
	}
	if (strcmp(action, "ls") == 0) {
		printf("%-16s %-12s %-8s %10s %6s %8s %9s  %s\n", "KEY", "PORT",
		    "VERSION", "BYTES", "FILES", "BUILD", "AGE", "PATH");
		rc = state_packages(st, cache_ls_one, &w, &err);
		if (rc == 0)
			printf("%zu packages, %lld bytes\n", w.n,
			    (long long)w.bytes);
	} else if (strcmp(action, "verify") == 0) {
		rc = state_packages(st, cache_verify_one, &w, &err);
		if (rc == 0)
			printf("%zu packages, %d corrupt or missing\n", w.n,
			    w.bad);
		if (rc == 0 && w.bad > 0)
			rc = EXIT_TASKS;
	} else {
		rc = cache_gc(&w, st, &err);
		if (rc == 0)
			printf("removed %zu packages, %lld bytes\n", w.n,
			    (long long)w.bytes);
	}
	if (rc == -1) {
		fprintf(stderr, "%s: %s\n", progname, err.msg);
		rc = EXIT_STATE;
	}
out:
	state_close(st);
	free(db);
	conf_free(c);
	return rc;
}

/* ---- running jails ---- */

/* A provisioned jail as the state records it, and its spec to run it;
 * the strings are owned (found_clear). */
struct found {
	const char *name;
	char *address, *root, *hostname, *rundir;
	char *limits;			/* the line's limit.* words, or NULL */
	struct jail_access *access;	/* borrowed from the conf */
	struct jail_spec spec;
};

static void
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

/*
 * Provisioned jail name, from the state's record, with its spec in
 * f->spec; exits with a message when the state or the jail is unknown.
 */
static void
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

static struct state *
open_state_ro(const struct conf *c)
{
	char *db = fs_join(c->val[CONF_STATE], "vjbuild.db");
	struct state *st = NULL;
	struct vj_err err;

	if (access(db, F_OK) == -1) {
		fprintf(stderr, "%s: no state at %s: nothing was provisioned "
		    "there\n", progname, c->val[CONF_STATE]);
		exit(EXIT_STATE);
	}
	free(db);
	if (state_open(c->val[CONF_STATE], NULL, 1, &st, &err) == -1) {
		fprintf(stderr, "%s: %s\n", progname, err.msg);
		exit(EXIT_STATE);
	}
	return st;
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

/* start, stop: each jail named; the exit status says if any failed. */
static int
cmd_run(const struct opts *o, int start)
{
	struct conf *c = load_conf(o, 0);
	struct state *st = open_state_ro(c);
	size_t i;
	int rc = 0;

	for (i = 0; i < o->noperands; i++) {
		struct found f;
		struct vj_err err;
		char *console = NULL;
		jail_of(c, st, o->operands[i], &f);
		if (start && (f.spec.console = open_console(c, f.name,
		    &console)) == -1) {
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
	state_close(st);
	conf_free(c);
	return rc;
}

static int
cmd_exec(const struct opts *o)
{
	struct conf *c = load_conf(o, 0);
	struct state *st = open_state_ro(c);
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
	int shown;
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
	if ((pid = jail_pid(&s)) != 0) {
		if (w->shown++ == 0)
			printf("%-20s %-16s %8s %6s\n", "JAIL", "ADDRESS", "PID",
			    "PROCS");
		printf("%-20s %-16s %8ld %6d\n", j->name, j->address,
		    (long)pid, jail_nprocs(pid));
	}
	free(rundir);
}

static int
cmd_ps(const struct opts *o)
{
	struct conf *c = load_conf(o, 0);
	struct state *st = open_state_ro(c);
	struct ps_walk w = { c, 0 };
	struct vj_err err;
	int rc = 0;

	if (state_list(st, ps_one, no_task, &w, &err) == -1) {
		fprintf(stderr, "%s: %s\n", progname, err.msg);
		rc = EXIT_STATE;
	} else if (w.shown == 0 && !o->quiet)
		printf("no jail is running\n");
	state_close(st);
	conf_free(c);
	return rc;
}

/*
 * destroy NAME... --yes: stop, remove the root (only one of ours), the
 * registry row, the DNS entry and the state's records. Without --yes, say
 * what would be done and do nothing.
 */
static int
cmd_destroy(const struct opts *o)
{
	struct conf *c = load_conf(o, 0);
	struct state *st = NULL;
	struct registry *reg = NULL;
	struct vj_err err;
	size_t i;
	int rc = 0;

	/* Every name is checked before any is touched (jail_of exits 2 on
	 * one it does not know); then the lock is taken to change things. */
	st = open_state_ro(c);
	for (i = 0; i < o->noperands; i++) {
		struct found f;
		jail_of(c, st, o->operands[i], &f);
		if (!o->yes)
			printf("would destroy %s: stop it if it runs, remove "
			    "%s, its registry row%s and its records in %s\n",
			    f.name, f.root, c->val[CONF_DNS] ?
			    ", its DNS entry" : "", c->val[CONF_STATE]);
		found_clear(&f);
	}
	state_close(st);
	if (!o->yes) {
		printf("nothing was changed: add --yes to do it\n");
		conf_free(c);
		return 0;
	}
	if (state_open(c->val[CONF_STATE], c->val[CONF_JAILS], 0, &st,
	    &err) == -1) {
		fprintf(stderr, "%s: %s\n", progname, err.msg);
		conf_free(c);
		return EXIT_STATE;
	}
	if (registry_open(c->val[CONF_REGISTRY], c->val[CONF_STATE], &reg,
	    &err) == -1) {
		fprintf(stderr, "%s: %s\n", progname, err.msg);
		rc = EXIT_STATE;
		goto out;
	}
	for (i = 0; i < o->noperands; i++) {
		struct found f;
		struct jail_spec s;
		char *parent;
		int fd, del;
		jail_of(c, st, o->operands[i], &f);
		s = f.spec;
		if (jail_pid(&s) != 0 && jail_stop(&s, &err) == -1)
			fprintf(stderr, "%s: %s\n", progname, err.msg);
		parent = fs_dirname(s.root);
		if (access(s.root, F_OK) == 0 && !task_root_is_ours(s.root,
		    s.name, state_uuid(st), &err)) {
			fprintf(stderr, "%s: %s\n", progname, err.msg);
			rc = EXIT_TASKS;
		} else if (access(s.root, F_OK) == 0 && ((fd = open(parent,
		    O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1 ||
		    fs_rmtree_at(fd, strrchr(s.root, '/') + 1) == -1)) {
			fprintf(stderr, "%s: removing %s: %s\n", progname,
			    s.root, strerror(errno));
			rc = EXIT_TASKS;
		} else if ((del = registry_delete(reg, s.name, state_uuid(st),
		    &err)) == -1) {
			fprintf(stderr, "%s: %s\n", progname, err.msg);
			rc = EXIT_TASKS;
		} else {
			/* Another state's row (the same name there) is its
			 * own: said, and kept. */
			if (del == 1)
				fprintf(stderr, "%s: kept the registry row: "
				    "%s\n", progname, err.msg);
			if (state_forget_jail(st, s.name, &err) == -1) {
				fprintf(stderr, "%s: %s\n", progname, err.msg);
				rc = EXIT_TASKS;
			} else if (!o->quiet)
				printf("destroyed %s (%s)\n", s.name, s.root);
		}
		free(parent);
		found_clear(&f);
	}
	registry_close(reg);
	reg = NULL;
	if (c->val[CONF_DNS] != NULL &&
	    task_dns_write(c, c->val[CONF_STATE], &err) == -1) {
		fprintf(stderr, "%s: %s\n", progname, err.msg);
		rc = EXIT_TASKS;
	}
out:
	registry_close(reg);
	state_close(st);
	conf_free(c);
	return rc;
}

int
main(int argc, char **argv)
{
	struct opts o;
	int rc;

	memset(&o, 0, sizeof(o));
	parse_args(argc, argv, &o);
	if (strcmp(o.cmd, "status") == 0)
		rc = cmd_status(&o);
	else if (strcmp(o.cmd, "graph") == 0)
		rc = cmd_graph(&o);
	else if (strcmp(o.cmd, "cache") == 0)
		rc = cmd_cache(&o, o.hosts);
	else if (strcmp(o.cmd, "start") == 0 || strcmp(o.cmd, "stop") == 0)
		rc = cmd_run(&o, strcmp(o.cmd, "start") == 0);
	else if (strcmp(o.cmd, "exec") == 0)
		rc = cmd_exec(&o);
	else if (strcmp(o.cmd, "ps") == 0)
		rc = cmd_ps(&o);
	else if (strcmp(o.cmd, "destroy") == 0)
		rc = cmd_destroy(&o);
	else if (strcmp(o.cmd, "run-graph") == 0)
		rc = cmd_run_graph(&o);
	else if (strcmp(o.cmd, "adopt") == 0)
		rc = cmd_adopt(&o);
	else
		rc = cmd_build(&o);
	free(o.recreate);
	free(o.command);
	free(o.args);
	return rc;
}
