/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * vjbuild status [NAME] [--json]: the jails the state records and the last
 * record of each task (of jail NAME only, with its name).
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../state/state.h"
#include "../util/json.h"
#include "../util/util.h"
#include "../vjbuild.h"
#include "cli.h"

struct show {
	int first, live, json, njails, ntasks;
	const char *only;	/* a jail's name, or NULL */
	struct sbuf jails, tasks;
};

static void
show_jail(const struct state_jail *j, void *arg)
{
	struct show *sh = arg;
	char when[32];
	time_t t = (time_t)j->updated;
	int first = 1;

	if (sh->only != NULL && strcmp(j->name, sh->only) != 0)
		return;
	sh->njails++;
	if (sh->json) {
		sbuf_puts(&sh->jails, sh->njails > 1 ? ",\n  {" : "\n  {");
		json_kstr(&sh->jails, &first, "name", j->name);
		json_kstr(&sh->jails, &first, "address", j->address);
		json_kstr(&sh->jails, &first, "root", j->root);
		json_kstr(&sh->jails, &first, "status", j->status);
		json_kint(&sh->jails, &first, "run", j->run);
		json_knum(&sh->jails, &first, "updated", j->updated);
		json_kstr(&sh->jails, &first, "limits", j->limits);
		sbuf_printf(&sh->jails, ",\"boot\":%s", j->boot ? "true" :
		    "false");
		sbuf_puts(&sh->jails, "}");
		return;
	}
	if (sh->njails == 1)
		printf("%-20s %-16s %-12s %s\n", "JAIL", "ADDRESS", "STATUS",
		    "UPDATED");
	strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", localtime(&t));
	printf("%-20s %-16s %-12s %s\n", j->name, j->address ? j->address : "",
	    j->status ? j->status : "", when);
}

static void
show_task(const struct state_task *t, void *arg)
{
	char d[32] = "-", when[32] = "-";
	time_t ts = (time_t)t->started;
	struct show *sh = arg;
	const char *status = t->status;
	int first = 1;

	if (sh->only != NULL && (t->jail == NULL ||
	    strcmp(t->jail, sh->only) != 0))
		return;
	/* No vjbuild holds the state: what it left "running" was stopped
	 * (kill -9, a power cut) before it could say so. */
	if (!sh->live && strcmp(status, "running") == 0)
		status = "interrupted";
	sh->ntasks++;
	if (sh->json) {
		struct sbuf *b = &sh->tasks;
		sbuf_puts(b, sh->ntasks > 1 ? ",\n  {" : "\n  {");
		json_kstr(b, &first, "name", t->name);
		json_kstr(b, &first, "kind", t->kind);
		json_kstr(b, &first, "jail", t->jail);
		json_kstr(b, &first, "status", status);
		json_kint(b, &first, "run", t->run);
		json_knum(b, &first, "started", t->started);
		if (t->ended > 0)
			json_knum(b, &first, "ended", t->ended);
		else
			json_knull(b, &first, "ended");
		if (strcmp(t->status, "ok") == 0 && t->duration >= 0)
			json_knum(b, &first, "seconds", t->duration);
		else
			json_knull(b, &first, "seconds");
		json_kstr(b, &first, "log", t->log);
		sbuf_puts(b, "}");
		return;
	}
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

int
cmd_status(const struct opts *o)
{
	struct conf *c = load_conf(o, 0);
	struct state *st = open_state_ro(c->val[CONF_STATE], NULL, 1);
	struct vj_err err;
	struct show sh;
	int rc = 0;

	memset(&sh, 0, sizeof(sh));
	sh.first = 1;
	sh.json = o->json;
	sh.only = o->noperands > 0 ? o->operands[0] : NULL;
	sh.live = state_in_use(c->val[CONF_STATE]);
	if (state_list(st, show_jail, show_task, &sh, &err) == -1) {
		fprintf(stderr, "%s: %s\n", progname, err.msg);
		rc = EXIT_STATE;
	} else if (sh.only != NULL && sh.njails == 0 && sh.ntasks == 0) {
		fprintf(stderr, "%s: no jail %s in %s\n", progname, sh.only,
		    c->val[CONF_STATE]);
		rc = EXIT_INPUT;
	} else if (sh.json) {
		struct sbuf b = { 0 };
		int first = 1;
		sbuf_puts(&b, "{");
		json_kstr(&b, &first, "state", c->val[CONF_STATE]);
		sbuf_printf(&b, ",\"running\":%s", sh.live ? "true" : "false");
		sbuf_printf(&b, ",\"jails\":[%s%s],\"tasks\":[%s%s]}\n",
		    sh.jails.s ? sh.jails.s : "", sh.njails ? "\n" : "",
		    sh.tasks.s ? sh.tasks.s : "", sh.ntasks ? "\n" : "");
		fputs(b.s, stdout);
		sbuf_free(&b);
	}
	sbuf_free(&sh.jails);
	sbuf_free(&sh.tasks);
	state_close(st);
	conf_free(c);
	return rc;
}
