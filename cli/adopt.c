/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * vjbuild adopt HOSTS.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "../state/registry.h"
#include "../graph/graph.h"
#include "../sched/sched.h"
#include "../state/state.h"
#include "../tasks/root.h"
#include "../tasks/tasks.h"
#include "../util/util.h"
#include "../vjbuild.h"
#include "cli.h"

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

int
cmd_adopt(const struct opts *o)
{
	struct registry *reg = NULL;
	struct build b;
	struct vj_err err;
	char *want = NULL, host[256];
	int *stack = NULL, rc = 0, sig = 0, r;
	size_t i, n, top, k, adopted = 0, tasks = 0, refused = 0;
	int64_t run;

	build_read(o, &b);
	if ((rc = build_open(o, &b)) != 0)
		goto out;
	if (registry_open(b.c->val[CONF_REGISTRY], b.c->val[CONF_STATE], &reg,
	    &err) == -1 || state_run_begin(b.st, "adopt", o->jobs, &run,
	    &err) == -1) {
		fprintf(stderr, "%s: %s\n", progname, err.msg);
		rc = EXIT_STATE;
		goto out;
	}
	if (b.c->fleet_host != NULL)	/* conf_fleet_check's: fleet_host */
		snprintf(host, sizeof(host), "%s", b.c->fleet_host);
	else if (gethostname(host, sizeof(host)) == -1)
		snprintf(host, sizeof(host), "unknown");
	host[sizeof(host) - 1] = '\0';
	n = plan_count(b.p);
	want = xcalloc(n, 1);
	stack = xmalloc(n * sizeof(*stack));
	for (i = 0; i < n; i++) {
		const struct task *t = plan_task(b.p, (int)i);
		if (t->ops != &task_register_ops)
			continue;
		if ((r = adopt_jail(b.st, reg, t, host, &err)) != 0) {
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
			for (k = 0; k < graph_ndeps(plan_graph(b.p), v); k++) {
				int d = graph_dep(plan_graph(b.p), v, k);
				if (!want[d]) {
					want[d] = 1;
					stack[top++] = d;
				}
			}
		}
		adopted++;
		printf("%-20s adopted: %s\n", t->host->name, t->root);
	}
	if (sched_adopt(b.p, b.st, want, run, &tasks, &err) == -1 ||
	    state_run_end(b.st, run, refused ? "failed" : "ok", NULL, &err) == -1) {
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
	build_close_plan(&b);
	if ((rc = build_open(o, &b)) != 0)
		goto out;
	rc = run_plan(o, b.p, b.st, b.c, b.h, &sig);
	if (rc == 0 && refused > 0)
		rc = EXIT_TASKS;
out:
	free(want);
	free(stack);
	registry_close(reg);
	build_free(&b);
	reraise(sig);
	return rc;
}
