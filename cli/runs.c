/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * vjbuild runs: the runs kept, and vjbuild log TASK: a task's log, of its
 * last run or of the run named, followed while it runs (--follow).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../state/state.h"
#include "../util/json.h"
#include "../util/util.h"
#include "../vjbuild.h"
#include "cli.h"

/* A run that has not ended is running while a vjbuild holds the state,
 * else it was stopped (kill -9, a power cut) before it could say so. */
static const char *
run_status(const struct state_run *r, int live)
{
	if (r->ended > 0 || strcmp(r->status, "running") != 0)
		return r->status;
	return live ? "running" : "interrupted";
}

struct runs_walk {
	int json, live, n;
	struct sbuf b;
};

static void
json_run(struct sbuf *b, const struct state_run *r, int live)
{
	int first = 1;

	sbuf_puts(b, "{");
	json_kint(b, &first, "run", r->id);
	json_kstr(b, &first, "status", run_status(r, live));
	json_knum(b, &first, "started", r->started);
	if (r->ended > 0) {
		json_knum(b, &first, "ended", r->ended);
		json_knum(b, &first, "seconds", r->ended - r->started);
	} else {
		json_knull(b, &first, "ended");
		json_knull(b, &first, "seconds");
	}
	json_kstr(b, &first, "command", r->command);
	json_kint(b, &first, "jobs", r->jobs);
	if (r->counted) {
		json_kint(b, &first, "tasks", r->n.tasks);
		json_kint(b, &first, "ran", r->n.ran);
		json_kint(b, &first, "up_to_date", r->n.uptodate);
		json_kint(b, &first, "failed", r->n.failed);
		json_kint(b, &first, "not_run", r->n.skipped);
	}
	sbuf_puts(b, "}");
}

static void
runs_one(const struct state_run *r, void *arg)
{
	struct runs_walk *w = arg;
	char when[32], took[32] = "-", counts[64] = "";
	time_t t = (time_t)r->started;

	if (w->json) {
		sbuf_puts(&w->b, w->n++ ? ",\n " : "\n ");
		json_run(&w->b, r, w->live);
		return;
	}
	if (w->n++ == 0)
		printf("%5s %-19s %8s %-11s %6s %5s %6s %6s %7s  %s\n", "RUN",
		    "STARTED", "TIME", "STATUS", "TASKS", "RAN", "UP", "FAILED",
		    "NOT RUN", "COMMAND");
	strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", localtime(&t));
	if (r->ended > 0)
		fmt_time(took, sizeof(took), r->ended - r->started);
	if (r->counted)
		snprintf(counts, sizeof(counts), "%6lld %5lld %6lld %6lld %7lld",
		    (long long)r->n.tasks, (long long)r->n.ran,
		    (long long)r->n.uptodate, (long long)r->n.failed,
		    (long long)r->n.skipped);
	else
		snprintf(counts, sizeof(counts), "%6s %5s %6s %6s %7s", "-", "-",
		    "-", "-", "-");
	printf("%5lld %-19s %8s %-11s %s  %s\n", (long long)r->id, when, took,
	    run_status(r, w->live), counts, r->command ? r->command : "");
}

int
cmd_runs(const struct opts *o)
{
	struct conf *c = load_conf(o, 0);
	struct state *st = open_state_ro(c->val[CONF_STATE], NULL, 1);
	struct runs_walk w;
	struct vj_err err;
	int rc = 0;

	memset(&w, 0, sizeof(w));
	w.json = o->json;
	w.live = state_in_use(c->val[CONF_STATE]);
	if (state_runs(st, 0, runs_one, &w, &err) == -1) {
		fprintf(stderr, "%s: %s\n", progname, err.msg);
		rc = EXIT_STATE;
	} else if (w.json)
		printf("[%s%s]\n", w.b.s ? w.b.s : "", w.n ? "\n" : "");
	else if (w.n == 0 && !o->quiet)
		printf("no run is recorded in %s\n", c->val[CONF_STATE]);
	sbuf_free(&w.b);
	state_close(st);
	conf_free(c);
	return rc;
}

/* The task's record in the run asked for, or its latest. */
struct found_run {
	int64_t run;
	char *status, *log, *cause;
	int any;
};

static void
last_run(const struct state_task_run *t, void *arg)
{
	struct found_run *f = arg;

	if (f->any && t->run < f->run)
		return;
	free(f->status);
	free(f->log);
	free(f->cause);
	f->run = t->run;
	f->status = xstrdup(t->status);
	f->log = t->log ? xstrdup(t->log) : NULL;
	f->cause = t->cause ? xstrdup(t->cause) : NULL;
	f->any = 1;
}

/* Copies what fd has from *off to the end to stdout. */
static void
copy_from(int fd, off_t *off)
{
	char buf[65536];
	ssize_t r;

	while ((r = pread(fd, buf, sizeof(buf), *off)) > 0) {
		fwrite(buf, 1, (size_t)r, stdout);
		*off += r;
	}
	fflush(stdout);
}

int
cmd_log(const struct opts *o)
{
	const char *name = o->operands[0];
	struct conf *c = load_conf(o, 0);
	const char *dir = c->val[CONF_STATE];
	struct state *st = open_state_ro(dir, NULL, 1);
	struct found_run f;
	struct vj_err err;
	off_t off = 0;
	int fd, rc = 0;

	memset(&f, 0, sizeof(f));
	if (state_task_runs(st, o->run, name, last_run, &f, &err) == -1) {
		fprintf(stderr, "%s: %s\n", progname, err.msg);
		rc = EXIT_STATE;
		goto out;
	}
	if (!f.any) {
		if (o->run > 0)
			fprintf(stderr, "%s: task %s did not run in run %lld "
			    "(up to date, not in its plan, or the run is no "
			    "longer kept: vjbuild runs)\n", progname, name,
			    (long long)o->run);
		else
			fprintf(stderr, "%s: task %s is in no run kept "
			    "(vjbuild status lists the tasks)\n", progname,
			    name);
		rc = EXIT_INPUT;
		goto out;
	}
	if (f.log == NULL) {
		if (strcmp(f.status, "skipped") == 0 && f.cause)
			printf("%s did not run in run %lld: skipped, %s "
			    "failed\n", name, (long long)f.run, f.cause);
		else
			printf("%s did not run in run %lld: %s\n", name,
			    (long long)f.run, f.status);
		goto out;
	}
	if ((fd = open(f.log, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) == -1) {
		if (errno == ENOENT && strcmp(f.status, "running") != 0)
			printf("%s printed nothing in run %lld (%s)\n", name,
			    (long long)f.run, f.status);
		else {
			fprintf(stderr, "%s: %s: %s\n", progname, f.log,
			    strerror(errno));
			rc = EXIT_STATE;
		}
		goto out;
	}
	copy_from(fd, &off);
	/* --follow: what it writes, until its record says it ended. */
	while (o->follow && strcmp(f.status, "running") == 0 &&
	    state_in_use(dir)) {
		struct found_run now;
		struct state *s2 = NULL;
		usleep(200 * 1000);
		copy_from(fd, &off);
		memset(&now, 0, sizeof(now));
		if (state_open(dir, NULL, 1, &s2, &err) == -1 ||
		    state_task_runs(s2, f.run, name, last_run, &now,
		    &err) == -1) {
			state_close(s2);
			break;
		}
		state_close(s2);
		free(f.status);
		f.status = now.status ? now.status : xstrdup("gone");
		free(now.log);
		free(now.cause);
	}
	copy_from(fd, &off);
	close(fd);
out:
	free(f.status);
	free(f.log);
	free(f.cause);
	state_close(st);
	conf_free(c);
	return rc;
}
