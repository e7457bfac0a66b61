/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The registry (see registry.h): one table of operations per backend. The
 * SQLite backend opens its own connection to STATE/vjbuild.db, whose schema
 * (version 3 and up) state_open made; it runs in a task's process, beside
 * the parent's connection, with WAL and a busy timeout between them.
 */
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "../util/util.h"
#include "pg.h"
#include "registry.h"

struct registry_ops {
	int (*put)(struct registry *, const struct registry_jail *,
	    struct vj_err *);
	int (*del)(struct registry *, const char *, const char *,
	    struct vj_err *);
	int (*list)(struct registry *, void (*)(const struct registry_jail *,
	    void *), void *, struct vj_err *);
	void (*close)(struct registry *);
};

struct registry {
	const struct registry_ops *ops;
	sqlite3 *db;
	void *pg;		/* PGconn, in pg.c */
	char *where;		/* for messages */
};


static int
p_put(struct registry *r, const struct registry_jail *j, struct vj_err *err)
{
	return pg_put(r->pg, j, err);
}

static int
p_del(struct registry *r, const char *name, const char *owner,
    struct vj_err *err)
{
	return pg_del(r->pg, name, owner, err);
}

int
registry_take(struct registry *r, const char *name, const char *root,
    const char *host, const char *owner, struct vj_err *err)
{
	/* The state database's own registry has no other owner. */
	return r->pg == NULL ? 0 : pg_take(r->pg, name, root, host, owner,
	    err);
}

void
registry_set_timeout(int seconds)
{
	pg_set_timeout(seconds);
}

static int
p_list(struct registry *r, void (*fn)(const struct registry_jail *, void *),
    void *arg, struct vj_err *err)
{
	return pg_list(r->pg, fn, arg, err);
}

static void
p_close(struct registry *r)
{
	pg_close(r->pg);
}

static int
sq_fail(struct registry *r, const char *what, struct vj_err *err)
{
	vj_errf(err, "%s: %s: %s", r->where, what, sqlite3_errmsg(r->db));
	(void)sqlite3_exec(r->db, "ROLLBACK", NULL, NULL, NULL);
	return -1;
}

static int
sq_step(struct registry *r, sqlite3_stmt *q, const char *what,
    struct vj_err *err)
{
	int rc = sqlite3_step(q);

	sqlite3_finalize(q);
	return rc == SQLITE_DONE ? 0 : sq_fail(r, what, err);
}

static int
sq_put(struct registry *r, const struct registry_jail *j, struct vj_err *err)
{
	sqlite3_stmt *q = NULL;
	double now = vj_wall();
	size_t i;

	if (sqlite3_exec(r->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
		return sq_fail(r, "BEGIN", err);
	if (sqlite3_prepare_v2(r->db, "INSERT INTO registry(name, address, "
	    "root, host, state, created, updated) VALUES (?1, ?2, ?3, ?4, ?5, "
	    "?6, ?6) ON CONFLICT(name) DO UPDATE SET address = ?2, root = ?3, "
	    "host = ?4, state = ?5, updated = ?6", -1, &q, NULL) != SQLITE_OK)
		return sq_fail(r, "INSERT registry", err);
	sqlite3_bind_text(q, 1, j->name, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, j->address, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 3, j->root, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 4, j->host, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 5, j->state, -1, SQLITE_STATIC);
	sqlite3_bind_double(q, 6, now);
	if (sq_step(r, q, "INSERT registry", err) == -1)
		return -1;
	if (sqlite3_prepare_v2(r->db, "DELETE FROM registry_packages WHERE "
	    "jail = ?1", -1, &q, NULL) != SQLITE_OK)
		return sq_fail(r, "DELETE registry_packages", err);
	sqlite3_bind_text(q, 1, j->name, -1, SQLITE_STATIC);
	if (sq_step(r, q, "DELETE registry_packages", err) == -1)
		return -1;
	for (i = 0; i < j->nports; i++) {
		if (sqlite3_prepare_v2(r->db, "INSERT INTO registry_packages("
		    "jail, port, version) VALUES (?1, ?2, ?3)", -1, &q, NULL) !=
		    SQLITE_OK)
			return sq_fail(r, "INSERT registry_packages", err);
		sqlite3_bind_text(q, 1, j->name, -1, SQLITE_STATIC);
		sqlite3_bind_text(q, 2, j->ports[i], -1, SQLITE_STATIC);
		sqlite3_bind_text(q, 3, j->versions[i], -1, SQLITE_STATIC);
		if (sq_step(r, q, "INSERT registry_packages", err) == -1)
			return -1;
	}
	if (sqlite3_exec(r->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
		return sq_fail(r, "COMMIT", err);
	return 0;
}

/* The state's own registry: every row is its own. */
static int
sq_del(struct registry *r, const char *name, const char *owner,
    struct vj_err *err)
{
	static const char *const q[] = {
		"DELETE FROM registry_packages WHERE jail = ?1",
		"DELETE FROM registry WHERE name = ?1",
	};
	sqlite3_stmt *s = NULL;
	size_t i;

	(void)owner;
	if (sqlite3_exec(r->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
		return sq_fail(r, "BEGIN", err);
	for (i = 0; i < 2; i++) {
		if (sqlite3_prepare_v2(r->db, q[i], -1, &s, NULL) != SQLITE_OK)
			return sq_fail(r, q[i], err);
		sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
		if (sq_step(r, s, q[i], err) == -1)
			return -1;
	}
	if (sqlite3_exec(r->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
		return sq_fail(r, "COMMIT", err);
	return 0;
}

static int
sq_list(struct registry *r, void (*fn)(const struct registry_jail *, void *),
    void *arg, struct vj_err *err)
{
	sqlite3_stmt *q = NULL;
	int rc;

	if (sqlite3_prepare_v2(r->db, "SELECT name, address, root, host, state, "
	    "created, updated FROM registry ORDER BY name", -1, &q, NULL) !=
	    SQLITE_OK)
		return sq_fail(r, "SELECT registry", err);
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		struct registry_jail j;
		memset(&j, 0, sizeof(j));
		j.name = (const char *)sqlite3_column_text(q, 0);
		j.address = (const char *)sqlite3_column_text(q, 1);
		j.root = (const char *)sqlite3_column_text(q, 2);
		j.host = (const char *)sqlite3_column_text(q, 3);
		j.state = (const char *)sqlite3_column_text(q, 4);
		j.created = sqlite3_column_double(q, 5);
		j.updated = sqlite3_column_double(q, 6);
		fn(&j, arg);
	}
	sqlite3_finalize(q);
	return rc == SQLITE_DONE ? 0 : sq_fail(r, "SELECT registry", err);
}

static void
sq_close(struct registry *r)
{
	sqlite3_close(r->db);
}

static const struct registry_ops sqlite_ops = {
	sq_put, sq_del, sq_list, sq_close,
};

static const struct registry_ops pg_ops = {
	p_put, p_del, p_list, p_close,
};

int
registry_open(const char *url, const char *state_dir, struct registry **out,
    struct vj_err *err)
{
	struct registry *r = xcalloc(1, sizeof(*r));

	if (url != NULL) {
		r->ops = &pg_ops;
		r->where = xstrdup("registry");
		if (pg_connect(url, &r->pg, err) == -1) {
			registry_close(r);
			return -1;
		}
	} else {
		char *path = fs_join(state_dir, "vjbuild.db");
		r->ops = &sqlite_ops;
		r->where = path;
		if (sqlite3_open_v2(path, &r->db, SQLITE_OPEN_READWRITE,
		    NULL) != SQLITE_OK) {
			vj_errf(err, "%s: %s", path, r->db ?
			    sqlite3_errmsg(r->db) : "cannot open");
			registry_close(r);
			return -1;
		}
		sqlite3_busy_timeout(r->db, 10000);
	}
	*out = r;
	return 0;
}

void
registry_close(struct registry *r)
{
	if (r == NULL)
		return;
	if (r->ops != NULL && (r->db != NULL || r->pg != NULL))
		r->ops->close(r);
	free(r->where);
	free(r);
}

int
registry_put(struct registry *r, const struct registry_jail *j,
    struct vj_err *err)
{
	return r->ops->put(r, j, err);
}

int
registry_delete(struct registry *r, const char *name, const char *owner,
    struct vj_err *err)
{
	return r->ops->del(r, name, owner, err);
}

int
registry_list(struct registry *r,
    void (*fn)(const struct registry_jail *, void *), void *arg,
    struct vj_err *err)
{
	return r->ops->list(r, fn, arg, err);
}
