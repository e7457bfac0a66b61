/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * vjbuild fleet status [--json]: the fleet as the PostgreSQL registry
 * has it, from any host: every provisioning host's jails, and every claim
 * on a cache key (building, with its lease; done, by whom, how long, how
 * big; failed, why).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../conf/conf.h"
#include "../state/claims.h"
#include "../state/registry.h"
#include "../util/json.h"
#include "../util/util.h"
#include "../vjbuild.h"
#include "cli.h"

struct host {
	char *name;
	struct sbuf jails;	/* space-separated */
	int n;
};

struct walk {
	struct host *v;
	size_t n;
	int json, first;
	struct sbuf out;
};

static void
on_jail(const struct registry_jail *j, void *arg)
{
	struct walk *w = arg;
	size_t i;

	for (i = 0; i < w->n && strcmp(w->v[i].name, j->host) != 0; i++)
		;
	if (i == w->n) {
		w->v = xreallocarray(w->v, ++w->n, sizeof(*w->v));
		memset(&w->v[i], 0, sizeof(w->v[i]));
		w->v[i].name = xstrdup(j->host);
	}
	sbuf_printf(&w->v[i].jails, "%s%s", w->v[i].n++ ? " " : "", j->name);
}

static void
on_claim(const struct claim_row *r, void *arg)
{
	struct walk *w = arg;
	char when[64];
	int first = 1;

	if (w->json) {
		sbuf_puts(&w->out, w->first ? "" : ",");
		w->first = 0;
		sbuf_puts(&w->out, "{");
		json_kstr(&w->out, &first, "key", r->key);
		json_kstr(&w->out, &first, "port", r->port);
		json_kstr(&w->out, &first, "version", r->version);
		json_kstr(&w->out, &first, "state", r->state);
		json_kstr(&w->out, &first, "holder", r->holder);
		json_kint(&w->out, &first, "builds", r->builds);
		json_knum(&w->out, &first, "claimed", r->claimed);
		if (r->ended > 0)
			json_knum(&w->out, &first, "ended", r->ended);
		else
			json_knull(&w->out, &first, "ended");
		if (strcmp(r->state, "building") == 0)
			json_knum(&w->out, &first, "lease_left", r->lease_left);
		if (strcmp(r->state, "done") == 0) {
			json_kstr(&w->out, &first, "sha256", r->sha256);
			json_kint(&w->out, &first, "size", r->size);
			json_knum(&w->out, &first, "seconds", r->seconds);
		}
		json_kstr(&w->out, &first, "note", r->note);
		sbuf_puts(&w->out, "}");
		return;
	}
	if (strcmp(r->state, "building") == 0)
		snprintf(when, sizeof(when), r->lease_left > 0 ?
		    "lease %.0fs left" : "lease lapsed %.0fs ago",
		    r->lease_left > 0 ? r->lease_left : -r->lease_left);
	else if (strcmp(r->state, "done") == 0)
		snprintf(when, sizeof(when), "%.1fs, %lld bytes", r->seconds,
		    r->size);
	else
		snprintf(when, sizeof(when), "-");
	sbuf_printf(&w->out, "%-16s %-12s %.16s %-8s %-12s %6d  %s%s%s\n",
	    r->port, r->version, r->key, r->state, r->holder, r->builds, when,
	    *r->note ? "; " : "", r->note);
}

int
cmd_fleet(const struct opts *o)
{
	struct conf *c = load_conf(o, 0);
	struct walk w;
	struct registry *reg = NULL;
	struct claims *cl = NULL;
	struct vj_err err;
	int rc = EXIT_STATE, first = 1;
	size_t i;

	memset(&w, 0, sizeof(w));
	w.json = o->json;
	w.first = 1;
	if (strcmp(o->operands[0], "status") != 0) {
		help_usage_line(stderr, "fleet");
		conf_free(c);
		return EXIT_INPUT;
	}
	if (c->val[CONF_REGISTRY] == NULL) {
		fprintf(stderr, "%s: fleet status reads the registry in "
		    "PostgreSQL, and %s sets none (registry = "
		    "postgresql://...)\n", progname, c->path != NULL ? c->path :
		    "the configuration");
		conf_free(c);
		return EXIT_INPUT;
	}
	if (registry_open(c->val[CONF_REGISTRY], NULL, &reg, &err) == -1 ||
	    registry_list(reg, on_jail, &w, &err) == -1 ||
	    claims_open(c->val[CONF_REGISTRY], &cl, &err) == -1)
		goto fail;
	if (w.json) {
		sbuf_puts(&w.out, "{");
		json_kstr(&w.out, &first, "fleet_host", c->fleet_host);
		sbuf_puts(&w.out, ",\"hosts\":[");
		for (i = 0; i < w.n; i++) {
			int f2 = 1;
			char *names = w.v[i].jails.s != NULL ? w.v[i].jails.s :
			    (char *)"", *p, *save = NULL;
			sbuf_puts(&w.out, i ? ",{" : "{");
			json_kstr(&w.out, &f2, "host", w.v[i].name);
			sbuf_puts(&w.out, ",\"jails\":[");
			names = xstrdup(names);
			for (p = strtok_r(names, " ", &save); p != NULL;
			    p = strtok_r(NULL, " ", &save)) {
				sbuf_puts(&w.out, p == names ? "" : ",");
				json_str(&w.out, p);
			}
			free(names);
			sbuf_puts(&w.out, "]}");
		}
		sbuf_puts(&w.out, "],\"claims\":[");
	} else {
		sbuf_puts(&w.out, "HOST             JAILS\n");
		for (i = 0; i < w.n; i++)
			sbuf_printf(&w.out, "%-16s %d jail%s: %s\n",
			    w.v[i].name, w.v[i].n, w.v[i].n == 1 ? "" : "s",
			    w.v[i].jails.s);
		sbuf_printf(&w.out, "\n%-16s %-12s %-16s %-8s %-12s %6s  %s\n",
		    "PACKAGE", "VERSION", "KEY", "STATE", "BY", "BUILDS",
		    "LEASE OR BUILD");
	}
	if (claims_list(cl, on_claim, &w, &err) == -1)
		goto fail;
	if (w.json)
		sbuf_puts(&w.out, "]}\n");
	fputs(w.out.s, stdout);
	rc = 0;
	goto out;
fail:
	fprintf(stderr, "%s: fleet status: %s\n", progname, err.msg);
out:
	for (i = 0; i < w.n; i++) {
		free(w.v[i].name);
		sbuf_free(&w.v[i].jails);
	}
	free(w.v);
	sbuf_free(&w.out);
	claims_close(cl);
	if (reg != NULL)
		registry_close(reg);
	conf_free(c);
	return rc;
}
