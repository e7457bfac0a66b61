/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * services:J: the order in which jail J's services start, written to
 * ROOT/var/db/vjbuild/services, one name a line: the services that J's
 * ports name in their recipes (service = NAME...), each port's after those
 * of the ports it depends on. A service NAME is the script
 * /usr/local/etc/rc.d/NAME, which takes start and stop (FreeBSD's rc.d
 * habit); the jail's /etc/rc starts them in this order and /etc/rc.shutdown
 * stops them in the reverse (examples/mkbase.sh and bench/distribution
 * have both). On FreeBSD rcorder(8) orders rc.d scripts by their REQUIRE
 * lines instead; this file is the order vjbuild knows, from the ports.
 * The task runs after every install, configure and setup of J, and fails
 * when a named script is not in the jail.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../conf/conf.h"
#include "../util/util.h"
#include "root.h"
#include "tasks.h"

#define SERVICES "var/db/vjbuild/services"

/* The file's text; "" when J's ports name no service. malloc'd. */
static char *
render(const struct task *t)
{
	const struct conf_ports *ports = t->env->ports;
	struct sbuf b = { 0 };
	int *mine;
	size_t n = task_jail_ports(t->env, t->host, &mine), i, k;

	for (i = 0; i < n; i++) {
		const struct conf_port *p = &ports->v[mine[i]];
		for (k = 0; k < p->nservices; k++)
			sbuf_printf(&b, "%s\n", p->services[k]);
	}
	free(mine);
	return b.s ? sbuf_take(&b) : xstrdup("");
}

static void
services_inputs(const struct task *t, struct sha256 *c)
{
	char *text = render(t);

	sha256_update(c, text, strlen(text) + 1);
	free(text);
}

static int
services_exists(const struct task *t)
{
	int fd = root_open(t, NULL), same;
	char *want, *have;

	if (fd == -1)
		return 0;
	want = render(t);
	have = fs_read_beneath(fd, SERVICES, 1u << 20, NULL);
	close(fd);
	same = have != NULL && strcmp(want, have) == 0;
	free(want);
	free(have);
	return same;
}

static int
services_run(const struct task *t, struct vj_err *err)
{
	const struct conf_ports *ports = t->env->ports;
	char *text = NULL, *script, *body;
	int *mine = NULL, fd, rc = -1;
	size_t n, i, k;

	if ((fd = root_open(t, err)) == -1)
		return -1;
	n = task_jail_ports(t->env, t->host, &mine);
	for (i = 0; i < n; i++) {
		const struct conf_port *p = &ports->v[mine[i]];
		for (k = 0; k < p->nservices; k++) {
			script = xasprintf("usr/local/etc/rc.d/%s",
			    p->services[k]);
			body = fs_read_beneath(fd, script, 1u << 20, NULL);
			if (body == NULL)
				vj_errf(err, "%s names service %s, but %s has "
				    "no /%s: %s", p->recipe, p->services[k],
				    t->root, script, strerror(errno));
			free(script);
			if (body == NULL)
				goto out;
			free(body);
		}
	}
	text = render(t);
	if (fs_write_beneath(fd, SERVICES, text, strlen(text), 0644, err) == -1)
		goto out;
	printf("%s: services in start order: %s\n", t->root, text[0] ? "" :
	    "none");
	fputs(text, stdout);
	rc = 0;
out:
	close(fd);
	free(mine);
	free(text);
	return rc;
}

const struct task_ops task_services_ops = {
	.kind = "services",
	.estimate = 0.1,
	.inputs = services_inputs,
	.exists = services_exists,
	.run = services_run,
};
