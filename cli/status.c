/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * vjbuild status.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <time.h>

#include "../state/state.h"
#include "../util/util.h"
#include "../vjbuild.h"
#include "cli.h"

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

int
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
