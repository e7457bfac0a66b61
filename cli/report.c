/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * vjbuild report [RUN] > report.html: the runs kept (or one), as one page
 * that needs nothing else (no script, no network): per run, each jail's
 * result; a timeline of the tasks on their -j slots with the critical path
 * marked (from the last task to end back through the dependency each one
 * waited for last); build times against the run before; failures with
 * the tail of their logs. Everything on it comes from the state's
 * records; logs are untrusted text (a port's build writes them) and every
 * byte of them is escaped.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../state/state.h"
#include "../util/util.h"
#include "../vjbuild.h"
#include "cli.h"

#define TAIL_LINES 30
#define TAIL_BYTES (16 * 1024)
#define WIDTH 1000	/* the timeline's width in pixels */
#define LANE 22		/* a slot's height */

struct trun {
	char *name, *kind, *jail, *status, *log, *cause, *deps;
	int slot, exit_status, crit;
	double started, ended;
};

struct run {
	struct state_run r;	/* its strings owned: status, command */
	struct trun *t;
	size_t n;
};

struct report {
	struct run *runs;
	size_t n;
	int live;
};

static char *
dup0(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

static void
add_run(const struct state_run *r, void *arg)
{
	struct report *rp = arg;
	struct run *x;

	rp->runs = xreallocarray(rp->runs, rp->n + 1, sizeof(*rp->runs));
	x = &rp->runs[rp->n++];
	memset(x, 0, sizeof(*x));
	x->r = *r;
	x->r.status = dup0(r->status);
	x->r.command = dup0(r->command);
}

static void
add_task(const struct state_task_run *t, void *arg)
{
	struct report *rp = arg;
	struct run *x = NULL;
	struct trun *y;
	size_t i;

	for (i = 0; i < rp->n; i++)
		if (rp->runs[i].r.id == t->run)
			x = &rp->runs[i];
	if (x == NULL)
		return;
	x->t = xreallocarray(x->t, x->n + 1, sizeof(*x->t));
	y = &x->t[x->n++];
	y->name = xstrdup(t->name);
	y->kind = xstrdup(t->kind);
	y->jail = dup0(t->jail);
	y->status = xstrdup(t->status);
	y->log = dup0(t->log);
	y->cause = dup0(t->cause);
	y->deps = dup0(t->deps);
	y->slot = t->slot;
	y->exit_status = t->exit_status;
	y->started = t->started;
	y->ended = t->ended;
	y->crit = 0;
}

static void
report_free(struct report *rp)
{
	size_t i, k;

	for (i = 0; i < rp->n; i++) {
		struct run *x = &rp->runs[i];
		for (k = 0; k < x->n; k++) {
			free(x->t[k].name);
			free(x->t[k].kind);
			free(x->t[k].jail);
			free(x->t[k].status);
			free(x->t[k].log);
			free(x->t[k].cause);
			free(x->t[k].deps);
		}
		free(x->t);
		free((char *)x->r.status);
		free((char *)x->r.command);
	}
	free(rp->runs);
}

/* Text into HTML: the five special characters escaped, control
 * characters (but newline and tab) as U+FFFD. */
static void
esc(const char *s)
{
	const unsigned char *p = (const unsigned char *)(s ? s : "");

	for (; *p; p++)
		switch (*p) {
		case '&': fputs("&amp;", stdout); break;
		case '<': fputs("&lt;", stdout); break;
		case '>': fputs("&gt;", stdout); break;
		case '"': fputs("&quot;", stdout); break;
		case '\'': fputs("&#39;", stdout); break;
		default:
			if ((*p < 0x20 && *p != '\n' && *p != '\t') ||
			    *p == 0x7f)
				fputs("\xef\xbf\xbd", stdout);
			else
				putchar(*p);
		}
}

static const char *
run_status(const struct run *x, int live)
{
	if (x->r.ended > 0 || strcmp(x->r.status, "running") != 0)
		return x->r.status;
	return live ? "running" : "interrupted";
}

static int
by_name(const void *a, const void *b)
{
	return strcmp((*(struct trun *const *)a)->name,
	    (*(struct trun *const *)b)->name);
}

static int
to_name(const void *key, const void *elem)
{
	return strcmp(key, (*(struct trun *const *)elem)->name);
}

/* The task named name (len bytes) in idx (x's tasks by name) if it ran,
 * or NULL. */
static struct trun *
find(struct trun **idx, size_t n, const char *name, size_t len)
{
	char *key = xstrndup(name, len);
	struct trun **t = bsearch(key, idx, n, sizeof(*idx), to_name);

	free(key);
	return t != NULL && (*t)->started > 0 ? *t : NULL;
}

/* Marks the critical path: from the task that ended last, back through
 * the dependency (that ran in this run) which ended last. */
static void
critical_path(struct run *x)
{
	struct trun *cur = NULL, *next, **idx;
	size_t i;

	idx = xreallocarray(NULL, x->n ? x->n : 1, sizeof(*idx));
	for (i = 0; i < x->n; i++)
		idx[i] = &x->t[i];
	qsort(idx, x->n, sizeof(*idx), by_name);
	for (i = 0; i < x->n; i++)
		if (x->t[i].ended > 0 && (cur == NULL ||
		    x->t[i].ended > cur->ended))
			cur = &x->t[i];
	while (cur != NULL && !cur->crit) {
		const char *p = cur->deps, *e;
		cur->crit = 1;
		next = NULL;
		while (p != NULL && *p != '\0') {
			struct trun *d;
			e = strchr(p, ' ');
			if (e == NULL)
				e = p + strlen(p);
			d = find(idx, x->n, p, (size_t)(e - p));
			if (d != NULL && d->ended > 0 && (next == NULL ||
			    d->ended > next->ended))
				next = d;
			p = *e ? e + 1 : e;
		}
		cur = next;
	}
	free(idx);
}

static void
page_head(const char *state)
{
	puts("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">");
	fputs("<title>vjbuild report: ", stdout);
	esc(state);
	puts("</title>\n<style>\n"
	    "body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222}\n"
	    "table{border-collapse:collapse;margin:.5em 0}\n"
	    "td,th{padding:2px 8px;border-bottom:1px solid #ddd;"
	    "text-align:left}\n"
	    "td.n{text-align:right;font-variant-numeric:tabular-nums}\n"
	    ".ok{color:#1a7f37}.failed,.interrupted,.error{color:#c62828}\n"
	    ".skipped,.not.run{color:#8a6d00}\n"
	    "section.run{border-top:2px solid #888;margin-top:2em}\n"
	    "svg.gantt{background:#fafafa;border:1px solid #ddd}\n"
	    "svg .bar.ok rect{fill:#7cb4e8}svg .bar.failed rect,"
	    "svg .bar.interrupted rect{fill:#e57373}\n"
	    "svg .bar.running rect{fill:#ffd54f}\n"
	    "svg .bar.crit rect{stroke:#000;stroke-width:2}\n"
	    "svg text{font:11px sans-serif}\n"
	    "pre{background:#f4f4f4;padding:.5em;overflow-x:auto;"
	    "max-height:30em}\n"
	    "</style></head><body>");
}

static void
fmt_when(char *buf, size_t n, double t)
{
	time_t tt = (time_t)t;

	strftime(buf, n, "%Y-%m-%d %H:%M:%S", localtime(&tt));
}

static void
runs_table(const struct report *rp)
{
	char when[32], took[32];
	size_t i;

	puts("<table class=\"runs\"><tr><th>run</th><th>started</th>"
	    "<th>time</th><th>status</th><th>tasks</th><th>ran</th>"
	    "<th>up to date</th><th>failed</th><th>not run</th>"
	    "<th>command</th></tr>");
	for (i = rp->n; i-- > 0;) {
		const struct run *x = &rp->runs[i];
		const char *st = run_status(x, rp->live);
		fmt_when(when, sizeof(when), x->r.started);
		if (x->r.ended > 0)
			fmt_time(took, sizeof(took), x->r.ended - x->r.started);
		else
			snprintf(took, sizeof(took), "-");
		printf("<tr data-run=\"%lld\"><td><a href=\"#run-%lld\">%lld"
		    "</a></td><td>%s</td><td class=\"n\">%s</td>"
		    "<td class=\"%s\">%s</td>", (long long)x->r.id,
		    (long long)x->r.id, (long long)x->r.id, when, took, st, st);
		if (x->r.counted)
			printf("<td class=\"n\">%lld</td><td class=\"n\">%lld</td>"
			    "<td class=\"n\">%lld</td><td class=\"n\">%lld</td>"
			    "<td class=\"n\">%lld</td>", (long long)x->r.n.tasks,
			    (long long)x->r.n.ran, (long long)x->r.n.uptodate,
			    (long long)x->r.n.failed, (long long)x->r.n.skipped);
		else
			fputs("<td colspan=\"5\">not counted (the run did not "
			    "end)</td>", stdout);
		fputs("<td><code>", stdout);
		esc(x->r.command);
		puts("</code></td></tr>");
	}
	puts("</table>");
}

/* Per jail: ok, or the first task that failed or did not run. */
static void
jails_table(const struct run *x)
{
	const char **seen = NULL;
	size_t i, k, n = 0;

	for (i = 0; i < x->n; i++) {
		const char *j = x->t[i].jail;
		const struct trun *bad = NULL;
		double first = 0, last = 0;
		char took[32];
		if (j == NULL)
			continue;
		for (k = 0; k < n && strcmp(seen[k], j) != 0; k++)
			;
		if (k < n)
			continue;
		seen = xreallocarray(seen, n + 1, sizeof(*seen));
		seen[n++] = j;
		if (n == 1)
			puts("<h3>Jails</h3>\n<table class=\"jails\"><tr><th>jail"
			    "</th><th>result</th><th>time</th><th>why</th></tr>");
		for (k = 0; k < x->n; k++) {
			const struct trun *t = &x->t[k];
			if (t->jail == NULL || strcmp(t->jail, j) != 0)
				continue;
			if (t->started > 0 && (first == 0 || t->started < first))
				first = t->started;
			if (t->ended > last)
				last = t->ended;
			if (bad == NULL && strcmp(t->status, "ok") != 0)
				bad = t;
		}
		fmt_time(took, sizeof(took), last > first ? last - first : 0);
		fputs("<tr data-jail=\"", stdout);
		esc(j);
		fputs("\"><td>", stdout);
		esc(j);
		printf("</td><td class=\"%s\">%s</td><td class=\"n\">%s</td><td>",
		    bad ? "failed" : "ok", bad ? "failed" : "ok", took);
		if (bad != NULL) {
			esc(bad->name);
			fputs(": ", stdout);
			esc(bad->status);
			if (bad->cause) {
				fputs(", ", stdout);
				esc(bad->cause);
				fputs(" failed", stdout);
			}
		}
		puts("</td></tr>");
	}
	if (n > 0)
		puts("</table>");
	free(seen);
}

static void
timeline(const struct run *x, int jobs)
{
	static const double steps[] = { 1, 2, 5 };
	double t0 = x->r.started, span = 0, tick, mag;
	size_t k;
	int lanes = jobs > 0 ? jobs : 1, extra = 0, h;
	size_t i;

	for (i = 0; i < x->n; i++) {
		const struct trun *t = &x->t[i];
		if (t->started <= 0)
			continue;
		if (t->slot < 0 || t->slot >= lanes)
			extra = 1;
		if ((t->ended > 0 ? t->ended : t->started) - t0 > span)
			span = (t->ended > 0 ? t->ended : t->started) - t0;
	}
	if (x->r.ended > 0 && x->r.ended - t0 > span)
		span = x->r.ended - t0;
	if (span <= 0)
		span = 1;
	h = (lanes + extra) * LANE + 24;
	printf("<h3>Timeline</h3>\n<p>Each bar a task on its slot (of -j%d), "
	    "from its start to its end; outlined: the critical path.</p>\n"
	    "<svg class=\"gantt\" xmlns=\"http://www.w3.org/2000/svg\" "
	    "width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\">\n", jobs,
	    WIDTH + 60, h, WIDTH + 60, h);
	for (i = 0; i < (size_t)lanes; i++)
		printf("<text x=\"2\" y=\"%zu\">slot %zu</text>\n",
		    i * LANE + 15, i);
	if (extra)	/* the idle slot (sched/idle.c) */
		printf("<text x=\"2\" y=\"%d\">idle</text>\n",
		    lanes * LANE + 15);
	/* At most ten ticks, 1, 2 or 5 times a power of ten seconds. */
	for (mag = 0.001, tick = 0; tick == 0; mag *= 10)
		for (k = 0; k < 3 && tick == 0; k++)
			if (span / (steps[k] * mag) <= 10)
				tick = steps[k] * mag;
	for (double s = 0; s <= span + 1e-9; s += tick) {
		double px = 55 + s / span * WIDTH;
		char lbl[32];
		if (tick < 0.1)
			snprintf(lbl, sizeof(lbl), "%.0fms", s * 1000);
		else
			fmt_time(lbl, sizeof(lbl), s);
		printf("<line x1=\"%.1f\" x2=\"%.1f\" y1=\"0\" y2=\"%d\" "
		    "stroke=\"#ddd\"/><text x=\"%.1f\" y=\"%d\">%s</text>\n",
		    px, px, h - 18, px + 2, h - 6, lbl);
	}
	for (i = 0; i < x->n; i++) {
		const struct trun *t = &x->t[i];
		double a, b, w;
		int lane;
		char d[32];
		if (t->started <= 0)
			continue;
		lane = t->slot >= 0 && t->slot < lanes ? t->slot : lanes;
		a = 55 + (t->started - t0) / span * WIDTH;
		b = 55 + ((t->ended > 0 ? t->ended : t0 + span) - t0) / span *
		    WIDTH;
		w = b - a < 1 ? 1 : b - a;
		fmt_time(d, sizeof(d), (t->ended > 0 ? t->ended : t0 + span) -
		    t->started);
		printf("<g class=\"bar %s%s\" data-task=\"", t->status,
		    t->crit ? " crit" : "");
		esc(t->name);
		printf("\"><rect x=\"%.1f\" y=\"%d\" width=\"%.1f\" "
		    "height=\"%d\"/><title>", a, lane * LANE + 2, w, LANE - 4);
		esc(t->name);
		printf(": %s, %s%s</title>", t->status, d,
		    t->crit ? ", on the critical path" : "");
		if (w > 7.0 * (double)strlen(t->name)) {
			printf("<text x=\"%.1f\" y=\"%d\">", a + 3,
			    lane * LANE + 15);
			esc(t->name);
			fputs("</text>", stdout);
		}
		puts("</g>");
	}
	puts("</svg>");
}

/* Build times against the last earlier run kept that built the same. */
static void
build_times(const struct report *rp, size_t at)
{
	const struct run *x = &rp->runs[at];
	size_t i, k, shown = 0;

	for (i = 0; i < x->n; i++) {
		const struct trun *t = &x->t[i], *p = NULL;
		const struct run *px = NULL;
		char a[32], b[32];
		if (strcmp(t->kind, "build") != 0 || t->ended <= 0)
			continue;
		for (k = at; p == NULL && k-- > 0;) {
			size_t m;
			for (m = 0; m < rp->runs[k].n; m++)
				if (strcmp(rp->runs[k].t[m].name, t->name) ==
				    0 && strcmp(rp->runs[k].t[m].status,
				    "ok") == 0) {
					p = &rp->runs[k].t[m];
					px = &rp->runs[k];
				}
		}
		if (shown++ == 0)
			puts("<h3>Build times</h3>\n<table class=\"builds\"><tr>"
			    "<th>build</th><th>this run</th><th>before</th>"
			    "<th>change</th></tr>");
		fmt_time(a, sizeof(a), t->ended - t->started);
		fputs("<tr><td>", stdout);
		esc(t->name);
		printf("</td><td class=\"n %s\">%s</td>", t->status, a);
		if (p != NULL) {
			double was = p->ended - p->started;
			fmt_time(b, sizeof(b), was);
			printf("<td class=\"n\">%s (run %lld)</td><td class=\"n\">"
			    "%+.0f%%</td></tr>\n", b, (long long)px->r.id,
			    was > 0 ? ((t->ended - t->started) / was - 1) * 100 :
			    0.0);
		} else
			puts("<td>not built in an earlier run kept</td><td></td>"
			    "</tr>");
	}
	if (shown > 0)
		puts("</table>");
}

/* The last lines of a log (at most TAIL_BYTES of its end). */
static void
tail(const char *path)
{
	char buf[TAIL_BYTES + 1], *p;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW), lines = 0;
	off_t end;
	ssize_t r;

	if (fd == -1) {
		puts("<p>(its log is gone: the run is older than the logs kept, "
		    "or the task printed nothing)</p>");
		return;
	}
	end = lseek(fd, 0, SEEK_END);
	r = pread(fd, buf, TAIL_BYTES, end > TAIL_BYTES ? end - TAIL_BYTES :
	    0);
	close(fd);
	if (r < 0)
		r = 0;
	buf[r] = '\0';
	for (p = buf + r; p > buf; p--)
		if (p[-1] == '\n' && p != buf + r && ++lines == TAIL_LINES)
			break;
	fputs("<pre>", stdout);
	esc(p);
	puts("</pre>");
}

static void
failures(const struct run *x)
{
	size_t i, shown = 0, skipped = 0;

	for (i = 0; i < x->n; i++) {
		const struct trun *t = &x->t[i];
		if (strcmp(t->status, "failed") != 0 &&
		    strcmp(t->status, "interrupted") != 0)
			continue;
		if (shown++ == 0)
			puts("<h3>Failures</h3>");
		fputs("<div class=\"failure\" data-task=\"", stdout);
		esc(t->name);
		fputs("\"><h4>", stdout);
		esc(t->name);
		printf(": %s", t->status);
		if (t->exit_status >= 0)
			printf(", exit %d", t->exit_status);
		fputs("</h4><p>log: <code>", stdout);
		esc(t->log);
		puts("</code></p>");
		if (t->log)
			tail(t->log);
		puts("</div>");
	}
	for (i = 0; i < x->n; i++) {
		const struct trun *t = &x->t[i];
		if (t->started > 0)
			continue;
		if (skipped++ == 0)
			puts("<details class=\"notrun\"><summary>Tasks that did "
			    "not run</summary><ul>");
		fputs("<li data-task=\"", stdout);
		esc(t->name);
		fputs("\">", stdout);
		esc(t->name);
		fputs(": ", stdout);
		esc(t->status);
		if (t->cause) {
			fputs(", ", stdout);
			esc(t->cause);
			fputs(" failed", stdout);
		}
		puts("</li>");
	}
	if (skipped > 0)
		puts("</ul></details>");
}

int
cmd_report(const struct opts *o)
{
	struct conf *c = load_conf(o, 0);
	const char *dir = c->val[CONF_STATE];
	struct state *st = open_state_ro(dir, NULL, 1);
	int64_t only = 0;
	struct report rp;
	struct vj_err err;
	char when[32];
	size_t i;
	int rc = 0;

	memset(&rp, 0, sizeof(rp));
	if (o->noperands > 0) {
		char *end;
		only = strtoll(o->operands[0], &end, 10);
		if (*end != '\0' || only < 1) {
			fprintf(stderr, "%s: report: '%s' is not a run number "
			    "(vjbuild runs lists them)\n", progname,
			    o->operands[0]);
			rc = EXIT_INPUT;
			goto out;
		}
	}
	rp.live = state_in_use(dir);
	if (state_runs(st, only, add_run, &rp, &err) == -1 ||
	    state_task_runs(st, only, NULL, add_task, &rp, &err) == -1) {
		fprintf(stderr, "%s: %s\n", progname, err.msg);
		rc = EXIT_STATE;
		goto out;
	}
	if (only > 0 && rp.n == 0) {
		fprintf(stderr, "%s: report: no run %lld is kept in %s "
		    "(vjbuild runs lists them)\n", progname, (long long)only,
		    dir);
		rc = EXIT_INPUT;
		goto out;
	}
	page_head(dir);
	fputs("<h1>vjbuild: ", stdout);
	esc(dir);
	fmt_when(when, sizeof(when), vj_wall());
	printf("</h1>\n<p>%zu run%s, made %s by vjbuild %s.</p>\n", rp.n,
	    rp.n == 1 ? "" : "s", when, VJBUILD_VERSION);
	runs_table(&rp);
	for (i = rp.n; i-- > 0;) {
		struct run *x = &rp.runs[i];
		char took[32] = "-";
		critical_path(x);
		if (x->r.ended > 0)
			fmt_time(took, sizeof(took), x->r.ended - x->r.started);
		fmt_when(when, sizeof(when), x->r.started);
		printf("<section class=\"run\" id=\"run-%lld\" data-run=\"%lld\">"
		    "\n<h2>Run %lld: <span class=\"%s\">%s</span>, %s, started "
		    "%s</h2>\n<p><code>", (long long)x->r.id, (long long)x->r.id,
		    (long long)x->r.id, run_status(x, rp.live),
		    run_status(x, rp.live), took, when);
		esc(x->r.command);
		puts("</code></p>");
		jails_table(x);
		if (x->n > 0)
			timeline(x, x->r.jobs);
		else
			puts("<p>No task ran: everything was up to date.</p>");
		build_times(&rp, i);
		failures(x);
		puts("</section>");
	}
	puts("</body></html>");
	if (fflush(stdout) == EOF || ferror(stdout)) {
		fprintf(stderr, "%s: report: cannot write it\n", progname);
		rc = EXIT_STATE;
	}
out:
	report_free(&rp);
	state_close(st);
	conf_free(c);
	return rc;
}
