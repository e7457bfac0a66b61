/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * A run on the terminal: the status line, one line per task, the summary.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "../sched/sched.h"
#include "../state/state.h"
#include "../tasks/tasks.h"
#include "../util/util.h"
#include "../vjbuild.h"
#include "cli.h"

/* ---- progress and summary ---- */

struct ui {
	const struct opts *o;
	struct plan *p;
	int tty;
	int line_shown;
};

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

/*
 * Runs plan p as o says, with the status line and the summary (per jail
 * when h is given); --rusage. Returns the exit status; *sig is the signal
 * that stopped the run, which the caller re-raises once it has cleaned up.
 */
int
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
