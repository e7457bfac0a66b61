/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * users:J: the users of the config and of J's line (the line wins for a
 * name in both) in the jail's /etc/passwd, /etc/group and /etc/shadow, with
 * their home directories. Lines of other users are kept as they are; users
 * vjbuild made before and that are no longer asked for are removed (the
 * names it manages are in /var/db/vjbuild/users). The hash goes only into
 * /etc/shadow (mode 0600): never into a log, the database or a command line.
 * On FreeBSD the users go into /etc/master.passwd (mode 0600) instead of
 * passwd and shadow, and pwd_mkdb -d ROOT/etc makes passwd and the
 * databases from it (written for FreeBSD, not yet run there).
 */
#include <fcntl.h>
#include <stdio.h>
#include <sys/wait.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../conf/conf.h"
#include "../jail/jail.h"
#include "../util/util.h"
#include "root.h"
#include "tasks.h"

#define MANAGED "var/db/vjbuild/users"

#ifdef __FreeBSD__
/* One file holds users and hashes: name:hash:uid:gid:class:change:expire:
 * gecos:home:shell. */
#define PASSWD "etc/master.passwd"
#define PASSWD_MODE 0600
#define USER_LINE(u) xasprintf("%s:%s:%u:%u::0:0::%s:%s", (u)->name, \
	(u)->hash, (u)->uid, (u)->gid, (u)->home, (u)->shell)
#else
#define PASSWD "etc/passwd"
#define PASSWD_MODE 0644
#define USER_LINE(u) xasprintf("%s:x:%u:%u::%s:%s", (u)->name, (u)->uid, \
	(u)->gid, (u)->home, (u)->shell)
#endif

size_t
task_users(const struct task *t, const struct conf_user ***out)
{
	const struct conf *c = t->env->conf;
	const struct conf_host *h = t->host;
	size_t n = 0, i, k;

	*out = xcalloc(c->nusers + h->nusers + 1, sizeof(**out));
	for (i = 0; i < c->nusers; i++) {
		for (k = 0; k < h->nusers; k++)
			if (strcmp(h->users[k].name, c->users[i].name) == 0)
				break;
		if (k == h->nusers)
			(*out)[n++] = &c->users[i];
	}
	for (k = 0; k < h->nusers; k++)
		(*out)[n++] = &h->users[k];
	return n;
}

static void
users_inputs(const struct task *t, struct sha256 *c)
{
	const struct conf_user **u;
	size_t n = task_users(t, &u), i, k;

	for (i = 0; i < n; i++) {
		char *line = xasprintf("%s:%u:%u:%s:%s:", u[i]->name, u[i]->uid,
		    u[i]->gid, u[i]->home, u[i]->shell);
		sha256_update(c, line, strlen(line) + 1);
		for (k = 0; k < u[i]->ngroups; k++)
			sha256_update(c, u[i]->groups[k],
			    strlen(u[i]->groups[k]) + 1);
		/* Only a digest of the hash reaches the fingerprint. */
		sha256_update(c, u[i]->hash, strlen(u[i]->hash) + 1);
		free(line);
	}
	free(u);
}

static int
users_exists(const struct task *t)
{
	int fd = root_open(t, NULL), ok = 0;
	char *text;

	if (fd != -1) {
		text = fs_read_beneath(fd, MANAGED, 1 << 20, NULL);
		ok = text != NULL;
		free(text);
		close(fd);
	}
	return ok;
}

/* A file of ':'-separated lines, one entry per name (field 1). */
struct db {
	char **lines;
	size_t n;
};

static void
db_read(struct db *d, int rootfd, const char *rel)
{
	char *text = fs_read_beneath(rootfd, rel, 16u << 20, NULL), *p, *line;

	memset(d, 0, sizeof(*d));
	for (p = text; p != NULL && (line = strsep(&p, "\n")) != NULL;)
		if (*line != '\0') {
			d->lines = xreallocarray(d->lines, d->n + 1,
			    sizeof(char *));
			d->lines[d->n++] = xstrdup(line);
		}
	free(text);
}

static int
field_is(const char *line, const char *name)
{
	size_t n = strlen(name);

	return strncmp(line, name, n) == 0 && line[n] == ':';
}

/* Index of the entry named name, or -1. */
static int
db_find(const struct db *d, const char *name)
{
	size_t i;

	for (i = 0; i < d->n; i++)
		if (field_is(d->lines[i], name))
			return (int)i;
	return -1;
}

static void
db_set(struct db *d, const char *name, char *line)
{
	int i = db_find(d, name);

	if (i >= 0) {
		free(d->lines[i]);
		d->lines[i] = line;
		return;
	}
	d->lines = xreallocarray(d->lines, d->n + 1, sizeof(char *));
	d->lines[d->n++] = line;
}

static void
db_del(struct db *d, const char *name)
{
	int i = db_find(d, name);

	if (i < 0)
		return;
	free(d->lines[i]);
	memmove(&d->lines[i], &d->lines[i + 1], (d->n - (size_t)i - 1) *
	    sizeof(char *));
	d->n--;
}

/* The value of field k (0-based) of line, as a number; -1 when absent. */
static long
field_num(const char *line, int k)
{
	const char *p = line;

	while (k-- > 0 && (p = strchr(p, ':')) != NULL)
		p++;
	return p == NULL ? -1 : strtol(p, NULL, 10);
}

/* Adds member to group line i's member list (field 4) unless there. */
static void
group_add_member(struct db *g, size_t i, const char *member)
{
	char *line = g->lines[i], *members = strrchr(line, ':') + 1;
	char *copy = xstrdup(members), *p = copy, *m;

	while ((m = strsep(&p, ",")) != NULL)
		if (strcmp(m, member) == 0) {
			free(copy);
			return;
		}
	free(copy);
	g->lines[i] = xasprintf("%s%s%s", line, *members ? "," : "", member);
	free(line);
}

/* Removes member from every group's member list. */
static void
group_drop_member(struct db *g, const char *member)
{
	size_t i;

	for (i = 0; i < g->n; i++) {
		char *line = g->lines[i], *members = strrchr(line, ':') + 1;
		char *copy = xstrdup(members), *p = copy, *m;
		struct sbuf b = { 0 };
		sbuf_add(&b, line, (size_t)(members - line));
		int first = 1;
		while ((m = strsep(&p, ",")) != NULL)
			if (*m != '\0' && strcmp(m, member) != 0) {
				sbuf_printf(&b, "%s%s", first ? "" : ",", m);
				first = 0;
			}
		free(copy);
		free(line);
		g->lines[i] = sbuf_take(&b);
	}
}

/* A gid from 1000 up that no group has and no user of ours asks for. */
static unsigned
free_gid(const struct db *g, const struct conf_user **u, size_t n)
{
	unsigned gid;
	size_t i, k;

	for (gid = 1000;; gid++) {
		for (i = 0; i < g->n; i++)
			if (field_num(g->lines[i], 2) == (long)gid)
				break;
		for (k = 0; k < n; k++)
			if (u[k]->gid == gid)
				break;
		if (i == g->n && k == n)
			return gid;
	}
}

static int
db_write(const struct db *d, int rootfd, const char *rel, mode_t mode,
    struct vj_err *err)
{
	struct sbuf b = { 0 };
	size_t i;
	int rc;

	for (i = 0; i < d->n; i++)
		sbuf_printf(&b, "%s\n", d->lines[i]);
	rc = fs_write_beneath(rootfd, rel, b.s ? b.s : "", b.len, mode, err);
	if (b.s != NULL)
		memset(b.s, 0, b.len);	/* shadow text */
	sbuf_free(&b);
	return rc;
}

static void
db_free(struct db *d)
{
	size_t i;

	for (i = 0; i < d->n; i++)
		free(d->lines[i]);
	free(d->lines);
}

static int
home(int rootfd, const struct conf_user *u, struct vj_err *err)
{
	char *parent = fs_dirname(u->home);
	int pfd = fs_opendir_beneath(rootfd, parent, 1, 0755), fd = -1;

	free(parent);
	if (pfd != -1) {
		fd = fs_opendir_beneath(pfd, strrchr(u->home, '/') + 1, 1, 0750);
		close(pfd);
	}

	if (fd == -1 || fchown(fd, u->uid, u->gid) == -1) {
		vj_errno(err, "home %s of %s", u->home, u->name);
		if (fd != -1)
			close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

#ifdef __FreeBSD__
static int
pwd_mkdb(const struct task *t, struct vj_err *err)
{
	char *etc = fs_join(t->root, "etc"), *mp = fs_join(etc, "master.passwd");
	char *argv[] = { "/usr/sbin/pwd_mkdb", "-p", "-d", etc, mp, NULL };
	char *envp[] = { "PATH=/usr/sbin:/usr/bin:/sbin:/bin", NULL };
	int status, rc;

	rc = jail_run(argv, envp, NULL, &status, err);
	if (rc == 0 && (!WIFEXITED(status) || WEXITSTATUS(status) != 0)) {
		vj_errf(err, "pwd_mkdb -d %s failed", etc);
		rc = -1;
	}
	free(etc);
	free(mp);
	return rc;
}
#endif

static int
users_run(const struct task *t, struct vj_err *err)
{
	const struct conf_user **u;
	size_t n = task_users(t, &u), i, k;
	struct db pw, gr, sh;
	struct sbuf managed = { 0 };
	char *old, *p, *name;
	int fd, rc = -1;

	if ((fd = root_open(t, err)) == -1) {
		free(u);
		return -1;
	}
	db_read(&pw, fd, PASSWD);
	db_read(&gr, fd, "etc/group");
	db_read(&sh, fd, "etc/shadow");
	/* Users made before and not asked for any more go. */
	old = fs_read_beneath(fd, MANAGED, 1 << 20, NULL);
	for (p = old; p != NULL && (name = strsep(&p, "\n")) != NULL;) {
		for (i = 0; i < n && strcmp(u[i]->name, name) != 0; i++)
			;
		if (*name == '\0' || i < n)
			continue;
		db_del(&pw, name);
		db_del(&sh, name);
		group_drop_member(&gr, name);
		printf("removed user %s\n", name);
	}
	for (i = 0; i < n; i++) {
		/* A uid held by somebody else is a conflict, not ours. */
		for (k = 0; k < pw.n; k++)
			if (!field_is(pw.lines[k], u[i]->name) &&
			    field_num(pw.lines[k], 2) == (long)u[i]->uid) {
				vj_errf(err, "uid %u of %s is taken in %s/etc/"
				    "passwd", u[i]->uid, u[i]->name, t->root);
				goto out;
			}
		db_set(&pw, u[i]->name, USER_LINE(u[i]));
		db_set(&sh, u[i]->name, xasprintf("%s:%s::0:99999:7:::",
		    u[i]->name, u[i]->hash));
		for (k = 0; k < gr.n; k++)
			if (field_num(gr.lines[k], 2) == (long)u[i]->gid)
				break;
		if (k == gr.n)
			db_set(&gr, u[i]->name, xasprintf("%s:x:%u:",
			    u[i]->name, u[i]->gid));
	}
	/* Supplementary groups after every primary one, so that a group made
	 * here never takes a gid a user asked for. */
	for (i = 0; i < n; i++) {
		for (k = 0; k < u[i]->ngroups; k++) {
			const char *g = u[i]->groups[k];
			if (db_find(&gr, g) < 0)
				db_set(&gr, g, xasprintf("%s:x:%u:", g,
				    free_gid(&gr, u, n)));
			group_add_member(&gr, (size_t)db_find(&gr, g),
			    u[i]->name);
		}
		if (home(fd, u[i], err) == -1)
			goto out;
		sbuf_printf(&managed, "%s\n", u[i]->name);
		printf("user %s: uid %u, gid %u, home %s, shell %s%s\n",
		    u[i]->name, u[i]->uid, u[i]->gid, u[i]->home, u[i]->shell,
		    strcmp(u[i]->hash, "*") == 0 ? ", no password" : "");
	}
	if (db_write(&pw, fd, PASSWD, PASSWD_MODE, err) == -1 ||
	    db_write(&gr, fd, "etc/group", 0644, err) == -1 ||
#ifdef __FreeBSD__
	    pwd_mkdb(t, err) == -1 ||
#else
	    db_write(&sh, fd, "etc/shadow", 0600, err) == -1 ||
#endif
	    fs_write_beneath(fd, MANAGED, managed.s ? managed.s : "",
	    managed.len, 0644, err) == -1)
		goto out;
	rc = 0;
out:
	db_free(&pw);
	db_free(&gr);
	db_free(&sh);
	sbuf_free(&managed);
	free(old);
	free(u);
	close(fd);
	return rc;
}

const struct task_ops task_users_ops = {
	.kind = "users",
	.estimate = 0.05,
	.inputs = users_inputs,
	.exists = users_exists,
	.run = users_run,
};
