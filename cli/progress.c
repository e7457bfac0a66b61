/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * A run as its user sees it: the status line, one line per task, the
 * summary; and as tools see it: the events stream (--events FILE), one
 * JSON object a line (the manual lists the fields).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "../sched/sched.h"
#include "../state/state.h"
#include "../tasks/tasks.h"
#include "../util/json.h"
#include "../util/util.h"
#include "../vjbuild.h"
#include "cli.h"

/* ---- progress and summary ---- */

struct ui {
	const struct opts *o;
	struct plan *p;
	struct state *st;
	int tty;
	int line_shown;
	int events;		/* --events fd, or -1 */
	int64_t run;		/* once known */
	int begun;		/* run_begin written */
};

/* ---- the events stream ---- */

/* One event: {"event": kind, "run": N, "time": now, ...b's fields}, one
 * write(2) (a line never interleaves with another writer's). */
static void
ev_write(struct ui *u, const char *kind, struct sbuf *fields)
{
	struct sbuf b = { 0 };
	int first = 1;
	size_t off = 0;
	ssize_t w;

	if (u->events == -1) {
		sbuf_free(fields);
		return;
	}
	sbuf_puts(&b, "{");
	json_kstr(&b, &first, "event", kind);
	json_kint(&b, &first, "run", u->run);
	json_knum(&b, &first, "time", vj_wall());
	if (fields->len > 0)
		sbuf_printf(&b, ",%s", fields->s);
	sbuf_puts(&b, "}\n");
	while (off < b.len && ((w = write(u->events, b.s + off, b.len - off))
	    > 0 || (w == -1 && errno == EINTR)))
		off += w > 0 ? (size_t)w : 0;
	if (off < b.len) {
		fprintf(stderr, "%s: --events: %s; no more events are "
		    "written\n", progname, strerror(errno));
		close(u->events);
		u->events = -1;
	}
	sbuf_free(&b);
	sbuf_free(fields);
}

static void
ev_begin(struct ui *u)
{
	struct sbuf f = { 0 };
	int first = 1;

	if (u->begun || u->events == -1)
		return;
	u->begun = 1;
	json_kint(&f, &first, "tasks", (int64_t)plan_count(u->p));
	json_kint(&f, &first, "jobs", u->o->jobs);
	json_kstr(&f, &first, "command", u->o->command);
	ev_write(u, "run_begin", &f);
}

/* A task's fields: name, kind, jail, slot. */
static void
ev_task(struct sbuf *f, int *first, const struct task *t, int slot)
{
	json_kstr(f, first, "task", t->name);
	json_kstr(f, first, "kind", t->ops->kind);
	json_kstr(f, first, "jail", task_jail(t));
	if (slot >= 0)
		json_kint(f, first, "slot", slot);
	else
		json_knull(f, first, "slot");
}

static void
ev_end(struct ui *u, const struct sched_result *r, const char *status)
{
	struct sbuf f = { 0 };
	size_t i, n = plan_count(u->p);
	int64_t c[SCHED_INTERRUPTED + 1] = { 0 };
	int first = 1;

	if (u->events == -1)
		return;
	for (i = 0; i < n; i++)
		c[r->status[i]]++;
	json_kstr(&f, &first, "status", status);
	json_kint(&f, &first, "tasks", (int64_t)n);
	json_kint(&f, &first, "ran", c[SCHED_OK] + c[SCHED_FAILED] +
	    c[SCHED_INTERRUPTED]);
	json_kint(&f, &first, "up_to_date", c[SCHED_UPTODATE]);
	json_kint(&f, &first, "failed", c[SCHED_FAILED] +
	    c[SCHED_INTERRUPTED]);
	json_kint(&f, &first, "not_run", c[SCHED_SKIPPED] + c[SCHED_WAITING] +
	    c[SCHED_READY]);
	ev_write(u, "run_end", &f);
}

static void
ev_sched(struct ui *u, const struct sched_event *ev)
{
	const struct task *t;
	struct sbuf f = { 0 };
	int first = 1, code;
	char *log;

	if (u->events == -1 || (ev->kind != SCHED_EV_START &&
	    ev->kind != SCHED_EV_END))
		return;
	u->run = ev->run;
	ev_begin(u);
	t = plan_task(u->p, ev->task);
	ev_task(&f, &first, t, ev->slot);
	if (ev->kind == SCHED_EV_START) {
		ev_write(u, "task_start", &f);
		return;
	}
	json_kstr(&f, &first, "status", sched_status_name(ev->status));
	code = WIFEXITED(ev->exit_status) ? WEXITSTATUS(ev->exit_status) :
	    WIFSIGNALED(ev->exit_status) ? 128 + WTERMSIG(ev->exit_status) : -1;
	json_kint(&f, &first, "exit", code);
	json_knum(&f, &first, "seconds", ev->duration);
	log = sched_log_path(u->st, t);
	json_kstr(&f, &first, "log", access(log, F_OK) == 0 ? log : NULL);
	free(log);
	ev_write(u, "task_end", &f);
}

static void
clear_line(struct ui *u)
{
	if (u->line_shown) {
		fputs("\r\033[K", stderr);
		u->line_shown = 0;
	}
}

/* The terminal's width in columns (80 when it does not say). */
static size_t
columns(void)
{
	struct winsize ws;

	if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
		return ws.ws_col;
	return 80;
}

/*
 * The terminal's status line: [done/total], elapsed, the ETA when every
 * task left has a measured duration, what runs; cut to the width (a line
 * that wraps cannot be overwritten).
 */
static void
status_line(struct ui *u, const struct sched_event *ev)
{
	struct sbuf b = { 0 };
	char el[32], eta[32];
	size_t i, w = columns();

	fmt_time(el, sizeof(el), ev->elapsed);
	sbuf_printf(&b, "[%zu/%zu] %s", ev->done, ev->total, el);
	if (ev->eta >= 0) {
		fmt_time(eta, sizeof(eta), ev->eta);
		sbuf_printf(&b, " ETA %s", eta);
	}
	for (i = 0; i < ev->running && i < 3; i++)
		sbuf_printf(&b, "%s%s", i ? ", " : " | ",
		    plan_task(u->p, ev->running_ids[i])->name);
	if (ev->running > 3)
		sbuf_printf(&b, " (+%zu)", ev->running - 3);
	/* Names are ASCII (hosts and ports are words): bytes are columns.
	 * One column is left, for terminals that wrap at the last. */
	if (b.len > w - 1)
		b.s[w - 1] = '\0';
	fprintf(stderr, "\r\033[K%s", b.s);
	fflush(stderr);
	sbuf_free(&b);
	u->line_shown = 1;
}

/* SIGUSR1 or SIGINFO: every task running, and for how long. */
static void
info(struct ui *u, const struct sched_event *ev)
{
	char d[32];
	size_t i;

	fprintf(stderr, "[%zu/%zu] running %zu:\n", ev->done, ev->total,
	    ev->running);
	for (i = 0; i < ev->running; i++) {
		fmt_time(d, sizeof(d), vj_now() - ev->started[ev->running_ids[i]]);
		fprintf(stderr, "    %s (%s)\n",
		    plan_task(u->p, ev->running_ids[i])->name, d);
	}
}

static void
on_event(const struct sched_event *ev, void *arg)
{
	struct ui *u = arg;
	const struct task *t = ev->task >= 0 ? plan_task(u->p, ev->task) : NULL;
	char d[32], when[16], nm[48];
	time_t now;

	ev_sched(u, ev);
	if (u->o->quiet && ev->kind != SCHED_EV_INFO)
		return;
	clear_line(u);
	if (ev->kind == SCHED_EV_INFO)
		info(u, ev);
	/* A line a finished task (ninja's [N/M], a time for a log). */
	now = time(NULL);
	strftime(when, sizeof(when), "%H:%M:%S", localtime(&now));
	snprintf(nm, sizeof(nm), "[%zu/%zu] %s", ev->done, ev->total, when);
	if (ev->kind == SCHED_EV_START && u->o->verbose)
		fprintf(stderr, "%s start    %s\n", nm, t->name);
	if (ev->kind == SCHED_EV_END) {
		fmt_time(d, sizeof(d), ev->duration);
		if (ev->status == SCHED_FAILED)
			fprintf(stderr, "%s FAILED   %s (%s)\n", nm, t->name, d);
		else if (!u->tty || u->o->verbose)
			fprintf(stderr, "%s %-8s %s (%s)\n", nm,
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
 * graph file (h NULL) or a builder (no jails made): the failures and the
 * totals.
 */
static void
summary(struct ui *u, const struct conf *c, const struct conf_hosts *h,
    struct state *st, const struct sched_result *r)
{
	size_t i, j, n = plan_count(u->p), jok = 0;
	size_t cnt[SCHED_INTERRUPTED + 1] = { 0 };
	struct vj_err err;
	char t[32], *root;
	struct sbuf f;
	int fst, stopper = -1, tx;

	clear_line(u);
	if (u->o->packages_only)
		h = NULL;
	for (i = 0; i < n; i++) {
		cnt[r->status[i]]++;
		/* The failure that stopped the run: the first to end. */
		if (r->status[i] == SCHED_FAILED && (stopper == -1 ||
		    r->ended[i] < r->ended[stopper]))
			stopper = (int)i;
	}
	/* Every jail's record in one transaction (one fsync, not one a
	 * jail); without it, each on its own. */
	tx = h != NULL && h->n > 1 && state_tx_begin(st, 1, &err) == 0;
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
		sj.boot = !h->v[j].noboot;
		sj.root = root = fs_join(c->val[CONF_JAILS], name);
		sj.run = r->run;
		sj.updated = vj_wall();
		memset(&f, 0, sizeof(f));
		fst = 1;
		json_kstr(&f, &fst, "jail", name);
		if (bad == -1) {
			jok++;
			if (!u->o->quiet)
				printf("%-20s ok      %s%s\n", name, t,
				    ran ? "" : " (up to date)");
			sj.status = "ok";
			json_kstr(&f, &fst, "status", "ok");
		} else {
			const struct task *tk = plan_task(u->p, bad);
			enum sched_status s = r->status[bad];
			int why = s == SCHED_SKIPPED ? r->cause[bad] :
			    s == SCHED_FAILED ? bad : stopper;
			char *log = why >= 0 ? sched_log_path(st,
			    plan_task(u->p, why)) : NULL;
			sj.status = s == SCHED_INTERRUPTED ? "interrupted" :
			    "failed";
			json_kstr(&f, &fst, "status", sj.status);
			json_kstr(&f, &fst, "task", tk->name);
			json_kstr(&f, &fst, "task_status",
			    s == SCHED_WAITING || s == SCHED_READY ? "not run" :
			    sched_status_name(s));
			json_kstr(&f, &fst, "failed", why >= 0 ?
			    plan_task(u->p, why)->name : NULL);
			json_kstr(&f, &fst, "log", log);
			if (s == SCHED_SKIPPED) {
				printf("%-20s FAILED  %s: skipped, %s failed "
				    "(log: %s)\n", name, tk->name,
				    plan_task(u->p, why)->name, log);
			} else if (s == SCHED_FAILED) {
				printf("%-20s FAILED  %s (log: %s)\n", name,
				    tk->name, log);
				fflush(stdout);
				tail_log(log, 3);
			} else if (s == SCHED_INTERRUPTED)
				printf("%-20s STOPPED %s: interrupted\n", name,
				    tk->name);
			else if (why >= 0)
				/* Without -k nothing starts after a failure:
				 * say which, not only "ready". */
				printf("%-20s NOT RUN %s: the run stopped when "
				    "%s failed (log: %s); -k runs what does "
				    "not depend on it\n", name, tk->name,
				    plan_task(u->p, why)->name, log);
			else
				printf("%-20s NOT RUN %s: %s\n", name, tk->name,
				    r->signal ? "the run was stopped" :
				    sched_status_name(s));
			free(log);
		}
		ev_write(u, "jail", &f);
		if (state_jail_put(st, &sj, &err) == -1)
			fprintf(stderr, "%s: %s\n", progname, err.msg);
		free(root);
	}
	if (tx && state_tx_commit(st, &err) == -1)
		fprintf(stderr, "%s: the jails' records: %s\n", progname,
		    err.msg);
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
	u.st = st;
	u.tty = isatty(STDERR_FILENO) && !o->quiet;
	u.events = -1;
	/* The events of this run (a FIFO, like pkg's event pipe, works:
	 * opening it waits for its reader). */
	if (o->events != NULL && (u.events = open(o->events, O_WRONLY |
	    O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) == -1) {
		fprintf(stderr, "%s: --events: %s: %s\n", progname, o->events,
		    strerror(errno));
		event_base_free(base);
		return EXIT_INPUT;
	}
	/* A reader that goes away (a FIFO's) is said once, not a SIGPIPE
	 * that ends the run; tasks get SIGPIPE at its default (spawn.c). */
	if (u.events != -1)
		signal(SIGPIPE, SIG_IGN);
	memset(&so, 0, sizeof(so));
	so.jobs = o->jobs;
	so.keep_going = o->keep_going;
	so.command = o->command;
	so.recreate = o->recreate;
	so.always = o->always;
	so.jobserver = !o->nojobserver;
	so.no_idle = o->noidle;
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
		u.run = r.run;
		ev_begin(&u);
		summary(&u, c, h, st, &r);
		ev_end(&u, &r, r.signal ? "interrupted" : rc == 0 ? "ok" :
		    "failed");
		rc = rc == 0 ? 0 : EXIT_TASKS;
	}
	if (u.events != -1)
		close(u.events);
	if (o->rusage) {
		print_usage();
		if (rc != EXIT_STATE && r.tokens_left > 0)
			fprintf(stderr, "%s: jobserver: %zu tokens left a while "
			    "for a running build's make, %zu of them wanted by "
			    "none\n", progname, r.tokens_left, r.tokens_unwanted);
		if (rc != EXIT_STATE && r.idle_started > 0)
			fprintf(stderr, "%s: idle slot: %zu tasks started there, "
			    "%zu of them raised to normal priority\n", progname,
			    r.idle_started, r.idle_raised);
	}
	if ((*sig = r.signal) != 0)
		fprintf(stderr, "%s: stopped by signal %d; run again to go on\n",
		    progname, *sig);
	sched_result_free(&r);
	event_base_free(base);
	return rc;
}
