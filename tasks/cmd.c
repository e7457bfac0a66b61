/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Graph files: a plan of plain commands, for `vjbuild run-graph FILE`. It
 * lets any graph go through the same scheduler, state and logs as a jail
 * plan, so that they can be measured against other executors (bench/) and
 * tested with graphs of any shape.
 *
 * One task a line:
 *
 *	NAME: [DEP ...] | COMMAND
 *
 * NAME and each DEP are words of [A-Za-z0-9._+-] (at most 64, not starting
 * with '.' or '-'); a DEP may be defined on a later line. '#' starts a
 * comment, so a COMMAND cannot hold one. A COMMAND with none of the shell's
 * special characters is split at blanks and run without a shell (found in
 * PATH); any other runs as `/bin/sh -c COMMAND`. A task's fingerprint is its
 * name, its command and its dependencies' fingerprints: editing a command
 * runs that task and everything after it again.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../conf/conf.h"
#include "../conf/lines.h"
#include "../graph/graph.h"
#include "../util/util.h"
#include "tasks.h"

#define SHELL_CHARS "|&;<>()$`\\\"'*?[]#~=%{}!\n"

static void
cmd_inputs(const struct task *t, struct sha256 *c)
{
	sha256_update(c, t->cmd, strlen(t->cmd) + 1);
}

/* A command leaves nothing vjbuild can check: its record is its output. */
static int
cmd_exists(const struct task *t)
{
	(void)t;
	return 1;
}

/* No run(): every cmd task has an argv, which the loop spawns itself. */
const struct task_ops task_cmd_ops = {
	.kind = "cmd", .estimate = 1.0, .inputs = cmd_inputs,
	.exists = cmd_exists,
};

/* argv for cmd: its words, or /bin/sh -c cmd; one allocation. */
static char **
make_argv(const char *cmd)
{
	size_t n = strlen(cmd), words = 0, i;
	char **argv, *copy;
	int in = 0;

	if (strpbrk(cmd, SHELL_CHARS) != NULL) {
		argv = xmalloc(4 * sizeof(*argv) + n + 1);
		copy = (char *)(argv + 4);
		memcpy(copy, cmd, n + 1);
		argv[0] = "/bin/sh";
		argv[1] = "-c";
		argv[2] = copy;
		argv[3] = NULL;
		return argv;
	}
	for (i = 0; i < n; i++) {
		int blank = cmd[i] == ' ' || cmd[i] == '\t';
		if (!blank && !in)
			words++;
		in = !blank;
	}
	argv = xmalloc((words + 1) * sizeof(*argv) + n + 1);
	copy = (char *)(argv + words + 1);
	memcpy(copy, cmd, n + 1);
	words = 0;
	in = 0;
	for (i = 0; i < n; i++) {
		int blank = copy[i] == ' ' || copy[i] == '\t';
		if (blank)
			copy[i] = '\0';
		else if (!in)
			argv[words++] = &copy[i];
		in = !blank;
	}
	argv[words] = NULL;
	return argv;
}

/* Where execvp would find argv0: PATH searched once per name at load, not
 * once per spawn (each miss is a failed execve). NULL when not found; the
 * task then fails when it runs, saying so. */
struct exe_cache {
	char *name[32], *path[32];	/* path NULL: not found */
	size_t n;
};

static char *
resolve(struct exe_cache *c, const char *argv0)
{
	const char *env = getenv("PATH"), *dir, *end;
	char *found = NULL, *cand;
	size_t i;

	if (strchr(argv0, '/') != NULL)
		return xstrdup(argv0);
	for (i = 0; i < c->n; i++)
		if (strcmp(c->name[i], argv0) == 0)
			return c->path[i] ? xstrdup(c->path[i]) : NULL;
	for (dir = env ? env : "/usr/bin:/bin"; found == NULL; dir = end + 1) {
		end = strchrnul(dir, ':');
		/* An empty entry is the current directory, as for execvp. */
		cand = end == dir ? xasprintf("./%s", argv0) :
		    xasprintf("%.*s/%s", (int)(end - dir), dir, argv0);
		if (access(cand, X_OK) == 0)
			found = cand;
		else
			free(cand);
		if (*end == '\0')
			break;
	}
	if (c->n < 32) {	/* graph files use few distinct commands */
		c->name[c->n] = xstrdup(argv0);
		c->path[c->n++] = found ? xstrdup(found) : NULL;
	}
	return found;
}

static void
exe_cache_free(struct exe_cache *c)
{
	size_t i;

	for (i = 0; i < c->n; i++) {
		free(c->name[i]);
		free(c->path[i]);
	}
}

struct pending_dep {
	int task, line;
	char *name;
};

struct plan *
plan_graph_file(const char *path, struct task_env *env, struct vj_err *err)
{
	struct plan *p = plan_empty();
	struct pending_dep *deps = NULL;
	size_t ndeps = 0, cap = 0, i;
	int *last = NULL;
	struct exe_cache exes;
	struct lines in;
	char *line, *colon, *bar, *w, *save;
	int rc, id;

	memset(&exes, 0, sizeof(exes));
	if (lines_open(&in, path, err) == -1) {
		plan_free(p);
		return NULL;
	}
	while ((rc = lines_next(&in, &line, err)) == 1) {
		if (*line == '\0')
			continue;
		if ((colon = strchr(line, ':')) == NULL ||
		    (bar = strchr(colon, '|')) == NULL) {
			vj_errf(err, "%s:%d: expected 'NAME: [DEP ...] | "
			    "COMMAND'", path, in.lineno);
			goto fail;
		}
		*colon = *bar = '\0';
		while (colon > line && (colon[-1] == ' ' || colon[-1] == '\t'))
			*--colon = '\0';
		if (!conf_valid_word(line)) {
			vj_errf(err, "%s:%d: '%.64s' is not a task name "
			    "([A-Za-z0-9._+-], at most 64)", path, in.lineno,
			    line);
			goto fail;
		}
		for (bar++; *bar == ' ' || *bar == '\t'; bar++)
			;
		if (*bar == '\0') {
			vj_errf(err, "%s:%d: %s has no command", path,
			    in.lineno, line);
			goto fail;
		}
		if (graph_find(plan_graph(p), line) != -1) {
			vj_errf(err, "%s:%d: task %s is defined twice", path,
			    in.lineno, line);
			goto fail;
		}
		id = plan_add_command(p, &task_cmd_ops, env, line, bar,
		    make_argv(bar));
		plan_task(p, id)->exe = resolve(&exes, plan_task(p, id)->argv[0]);
		for (w = strtok_r(colon + 1, " \t", &save); w != NULL;
		    w = strtok_r(NULL, " \t", &save)) {
			if (!conf_valid_word(w)) {
				vj_errf(err, "%s:%d: '%.64s' is not a task "
				    "name", path, in.lineno, w);
				goto fail;
			}
			if (ndeps == cap) {
				cap = cap ? cap * 2 : 256;
				deps = xreallocarray(deps, cap, sizeof(*deps));
			}
			deps[ndeps].task = id;
			deps[ndeps].line = in.lineno;
			deps[ndeps++].name = xstrdup(w);
		}
	}
	if (rc == -1)
		goto fail;
	/* A line's dependencies are together in deps[]: a name it gives
	 * twice is one edge (last[dep]: the last task that took it, + 1). */
	last = xcalloc(plan_count(p) ? plan_count(p) : 1, sizeof(*last));
	for (i = 0; i < ndeps; i++) {
		int dep = graph_find(plan_graph(p), deps[i].name);
		if (dep == -1) {
			vj_errf(err, "%s:%d: %s depends on %s, which no line "
			    "defines", path, deps[i].line,
			    plan_task(p, deps[i].task)->name, deps[i].name);
			goto fail;
		}
		if (last[dep] == deps[i].task + 1)
			continue;
		last[dep] = deps[i].task + 1;
		graph_depend(plan_graph(p), deps[i].task, dep);
	}
	if (plan_count(p) == 0) {
		vj_errf(err, "%s: no tasks", path);
		goto fail;
	}
	if (plan_seal(p, err) == -1) {
		struct vj_err e = *err;
		vj_errf(err, "%s: %s", path, e.msg);
		goto fail;
	}
	for (i = 0; i < ndeps; i++)
		free(deps[i].name);
	free(deps);
	free(last);
	lines_close(&in);
	exe_cache_free(&exes);
	return p;
fail:
	for (i = 0; i < ndeps; i++)
		free(deps[i].name);
	free(deps);
	free(last);
	lines_close(&in);
	exe_cache_free(&exes);
	plan_free(p);
	return NULL;
}
