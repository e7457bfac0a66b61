/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * vjbuild graph HOSTS: the plan as a dot graph.
 */

#include <time.h>

#include "../graph/graph.h"
#include "../tasks/tasks.h"
#include "../util/util.h"
#include "cli.h"

int
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
