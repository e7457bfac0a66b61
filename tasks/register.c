/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * register:J, when everything else of J is done: the jail in the registry
 * (the state database, or PostgreSQL with registry = postgresql://...),
 * with its name, address, root, the provisioning host, its packages and
 * versions.
 *
 * dns, after every register: a tinydns data file, DNS/data, generated
 * from the whole registry (with PostgreSQL, the jails of every
 * provisioning host): for each jail an A and PTR record (=), or an AAAA
 * record in tinydns's generic form (:name:28:...), and an MX record (@)
 * pointing at itself, as djbdns users set up a mail and web host, with
 * the domain's and the reverse zones' SOA and NS (.); then
 * tinydns-data compiles it to data.cdb when it is installed.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../conf/conf.h"
#include "../jail/jail.h"
#include "../state/registry.h"
#include "../util/util.h"
#include "root.h"
#include "tasks.h"

/* The ports of t's jail, names and versions (NULL-ended, borrowed). */
static size_t
ports_of(const struct task *t, const char ***names, const char ***versions)
{
	int *mine;
	size_t n = task_jail_ports(t->env, t->host, &mine), i;

	*names = xcalloc(n + 1, sizeof(char *));
	*versions = xcalloc(n + 1, sizeof(char *));
	for (i = 0; i < n; i++) {
		(*names)[i] = t->env->ports->v[mine[i]].name;
		(*versions)[i] = t->env->ports->v[mine[i]].version;
	}
	free(mine);
	return n;
}

static void
register_inputs(const struct task *t, struct sha256 *c)
{
	const char **names, **versions, *url = t->env->conf->val[CONF_REGISTRY];
	size_t n = ports_of(t, &names, &versions), i;

	sha256_update(c, t->host->address, strlen(t->host->address) + 1);
	sha256_update(c, url ? url : "", strlen(url ? url : "") + 1);
	for (i = 0; i < n; i++) {
		sha256_update(c, names[i], strlen(names[i]) + 1);
		sha256_update(c, versions[i], strlen(versions[i]) + 1);
	}
	free(names);
	free(versions);
}

static int
always_there(const struct task *t)
{
	(void)t;
	return 1;	/* the registry is its output; the record says it ran */
}

static int
register_run(const struct task *t, struct vj_err *err)
{
	const char *url = t->env->conf->val[CONF_REGISTRY];
	struct registry_jail j;
	struct registry *r;
	char host[256];
	int rc, fd;

	if (gethostname(host, sizeof(host)) == -1)
		snprintf(host, sizeof(host), "unknown");
	host[sizeof(host) - 1] = '\0';
	memset(&j, 0, sizeof(j));
	j.name = t->host->name;
	j.address = t->host->address;
	j.root = t->root;
	/* fleet_host when set: hosts of a fleet may share a system name. */
	j.host = t->env->conf->fleet_host != NULL ? t->env->conf->fleet_host :
	    host;
	j.state = "ok";
	j.owner = t->env->uuid;
	j.nports = ports_of(t, (const char ***)&j.ports,
	    (const char ***)&j.versions);
	if ((rc = registry_open(url, t->env->state_dir, &r, err)) == 0) {
		rc = registry_put(r, &j, err);
		registry_close(r);
	}
	if (rc == 0)
		printf("registered %s (%s) with %zu packages in the %s registry\n",
		    j.name, j.address, j.nports, url ? "PostgreSQL" : "SQLite");
	/* What the jail is now, for vjbuild adopt: this task's fingerprint
	 * chains every task of the jail and the builds it installed. */
	if (rc == 0 && (fd = root_open(t, err)) != -1) {
		char *text = xasprintf("vjbuild done\nregister %s\n",
		    t->fingerprint);
		rc = fs_write_beneath(fd, ROOT_DONE, text, strlen(text), 0644,
		    err);
		free(text);
		close(fd);
	} else if (rc == 0)
		rc = -1;
	free((void *)j.ports);
	free((void *)j.versions);
	return rc;
}

const struct task_ops task_register_ops = {
	.kind = "register",
	.estimate = 0.05,
	.inputs = register_inputs,
	.exists = always_there,
	.run = register_run,
};

/* ---- dns ---- */

static void
dns_inputs(const struct task *t, struct sha256 *c)
{
	const char *domain = t->env->conf->val[CONF_DOMAIN];
	size_t i;

	sha256_update(c, domain ? domain : "", strlen(domain ? domain : "") + 1);
	for (i = 0; i < t->env->hosts->n; i++) {
		const struct conf_host *h = &t->env->hosts->v[i];
		sha256_update(c, h->name, strlen(h->name) + 1);
		sha256_update(c, h->address, strlen(h->address) + 1);
	}
}

static int
dns_exists(const struct task *t)
{
	char *data = fs_join(t->env->conf->val[CONF_DNS], "data");
	int rc = access(data, F_OK) == 0;

	free(data);
	return rc;
}

struct dns_out {
	const char *domain;
	struct sbuf b;
	struct sbuf zones;	/* reverse zones, one ".zone" line each */
};

static void
dns_line(const struct registry_jail *j, void *arg)
{
	struct dns_out *o = arg;
	unsigned char a6[16];
	char *fqdn;
	int i;

	fqdn = o->domain && strchr(j->name, '.') == NULL ?
	    xasprintf("%s.%s", j->name, o->domain) : xstrdup(j->name);
	if (inet_pton(AF_INET6, j->address, a6) == 1) {
		sbuf_printf(&o->b, ":%s:28:", fqdn);
		for (i = 0; i < 16; i++)
			sbuf_printf(&o->b, "\\%03o", a6[i]);
		sbuf_puts(&o->b, ":86400\n");
	} else {
		unsigned a, b, c;
		sbuf_printf(&o->b, "=%s:%s:86400\n", fqdn, j->address);
		/* Its reverse zone, so that tinydns answers the PTR. */
		if (o->domain != NULL &&
		    sscanf(j->address, "%u.%u.%u.", &a, &b, &c) == 3) {
			char *z = xasprintf(".%u.%u.%u.in-addr.arpa::ns.%s:259200\n",
			    c, b, a, o->domain);
			if (o->zones.s == NULL || strstr(o->zones.s, z) == NULL)
				sbuf_puts(&o->zones, z);
			free(z);
		}
	}
	sbuf_printf(&o->b, "@%s::%s:10:86400\n", fqdn, fqdn);
	free(fqdn);
}

static const char *
tinydns_data(void)
{
	static const char *const where[] = {
		"/usr/sbin/tinydns-data", "/usr/bin/tinydns-data",
		"/usr/local/bin/tinydns-data", "/usr/local/sbin/tinydns-data",
	};
	size_t i;

	for (i = 0; i < sizeof(where) / sizeof(where[0]); i++)
		if (access(where[i], X_OK) == 0)
			return where[i];
	return NULL;
}

static int
dns_run(const struct task *t, struct vj_err *err)
{
	return task_dns_write(t->env->conf, t->env->state_dir, err);
}

int
task_dns_write(const struct conf *c, const char *state_dir, struct vj_err *err)
{
	const char *dir = c->val[CONF_DNS];
	struct registry *r;
	struct dns_out o;
	const char *tool;
	int fd, rc, status;

	memset(&o, 0, sizeof(o));
	o.domain = c->val[CONF_DOMAIN];
	sbuf_puts(&o.b, "# tinydns data generated by vjbuild from the registry; "
	    "rewritten on every change.\n");
	if (o.domain != NULL)
		sbuf_printf(&o.b, ".%s::ns.%s:259200\n", o.domain, o.domain);
	if (registry_open(c->val[CONF_REGISTRY], state_dir, &r, err) == -1) {
		sbuf_free(&o.b);
		return -1;
	}
	rc = registry_list(r, dns_line, &o, err);
	registry_close(r);
	if (o.zones.s != NULL)
		sbuf_puts(&o.b, o.zones.s);
	sbuf_free(&o.zones);
	if (rc == 0 && (fs_mkdirs(dir, 0755) == -1 ||
	    (fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)) {
		vj_errno(err, "%s", dir);
		rc = -1;
	} else if (rc == 0) {
		rc = fs_write_beneath(fd, "data", o.b.s, o.b.len, 0644, err);
		close(fd);
	}
	sbuf_free(&o.b);
	if (rc == -1)
		return -1;
	printf("wrote %s/data\n", dir);
	if ((tool = tinydns_data()) != NULL) {
		char *argv[] = { (char *)tool, NULL };
		char *envp[] = { "PATH=/usr/sbin:/usr/bin:/sbin:/bin", NULL };
		if (jail_run(argv, envp, dir, &status, err) == -1)
			return -1;
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
			vj_errf(err, "tinydns-data in %s failed", dir);
			return -1;
		}
		printf("compiled %s/data.cdb\n", dir);
	} else
		printf("tinydns-data is not installed: data.cdb not made\n");
	return 0;
}

const struct task_ops task_dns_ops = {
	.kind = "dns",
	.estimate = 0.1,
	.inputs = dns_inputs,
	.exists = dns_exists,
	.run = dns_run,
};
