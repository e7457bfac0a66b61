/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The registry in PostgreSQL, through libpq: the only file that includes
 * libpq-fe.h. Parameters only (PQexecParams), PQclear on every path, one
 * transaction per change. The schema is created and upgraded under a
 * transaction-scoped advisory lock, so that several vjbuilds starting at
 * once against a new database do not race; its version is in
 * vjbuild_meta.
 *
 * libpq is loaded (dlopen) when a registry in PostgreSQL is first opened,
 * not by every start of vjbuild: with the TLS, Kerberos and LDAP
 * libraries it brings it is 21 of vjbuild's 40 shared libraries and about
 * 12 ms of every start on the benchmark machine (docs/BENCHMARKS.md),
 * spent by commands that never reach a server. Its functions are called
 * through pq, each typed from libpq-fe.h, so the compiler checks every
 * call as before.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "../util/util.h"
#include "pg.h"
#include "registry.h"


#define SCHEMA_LOCK "7642913"	/* pg_advisory_xact_lock key */

#define LIBPQ "libpq.so.5"	/* libpq's soname */
#define PQ_FUNCS(X) X(PQclear) X(PQconnectdb) X(PQerrorMessage) \
	X(PQexec) X(PQexecParams) X(PQfinish) X(PQgetvalue) X(PQntuples) \
	X(PQresultStatus) X(PQsetNoticeProcessor) X(PQstatus)

static struct {
#define PQ_MEMBER(f) __typeof__(f) *f;
	PQ_FUNCS(PQ_MEMBER)
#undef PQ_MEMBER
} pq;

static const char *const pq_names[] = {
#define PQ_NAME(f) #f,
	PQ_FUNCS(PQ_NAME)
#undef PQ_NAME
};
#define NPQ (sizeof(pq_names) / sizeof(pq_names[0]))

/* Loads libpq once; it stays loaded (its TLS libraries do not unload
 * cleanly). */
static int
load_libpq(struct vj_err *err)
{
	static int loaded;
	void *a[NPQ];
	size_t i = 0;

	if (loaded)
		return 0;
	if (vj_dlsyms(LIBPQ, "libpq5", "PostgreSQL registry", pq_names, a,
	    NPQ, err) == -1)
		return -1;
#define PQ_SET(f) pq.f = (__typeof__(pq.f))a[i++];
	PQ_FUNCS(PQ_SET)
#undef PQ_SET
	loaded = 1;
	return 0;
}

static const char *const migrations[] = {
	"CREATE TABLE jails(name text PRIMARY KEY, address inet NOT NULL "
	"  UNIQUE, root text NOT NULL, host text NOT NULL, state text NOT "
	"  NULL, created timestamptz NOT NULL DEFAULT now(), updated "
	"  timestamptz NOT NULL DEFAULT now());"
	"CREATE TABLE jail_packages(jail text NOT NULL REFERENCES jails(name) "
	"  ON DELETE CASCADE, port text NOT NULL, version text NOT NULL, "
	"  PRIMARY KEY (jail, port));",
};
#define NMIGRATIONS ((int)(sizeof(migrations) / sizeof(migrations[0])))

/* Runs q with n text parameters; returns the result, or NULL with err
 * (and the result cleared) unless it has status ok. */
static PGresult *
run(PGconn *c, const char *q, int n, const char *const *params,
    ExecStatusType ok, struct vj_err *err)
{
	PGresult *r = pq.PQexecParams(c, q, n, NULL, params, NULL, NULL, 0);

	if (pq.PQresultStatus(r) != ok) {
		vj_errf(err, "PostgreSQL: %.80s: %s", q, pq.PQerrorMessage(c));
		pq.PQclear(r);
		return NULL;
	}
	return r;
}

static int
cmd(PGconn *c, const char *q, int n, const char *const *params,
    struct vj_err *err)
{
	PGresult *r = run(c, q, n, params, PGRES_COMMAND_OK, err);

	if (r == NULL)
		return -1;
	pq.PQclear(r);
	return 0;
}

static int
rollback(PGconn *c)
{
	pq.PQclear(pq.PQexec(c, "ROLLBACK"));
	return -1;
}

static int
migrate(PGconn *c, struct vj_err *err)
{
	PGresult *r;
	int version = 0, i;
	char buf[16];
	const char *p[1];

	if (cmd(c, "BEGIN", 0, NULL, err) == -1)
		return -1;
	if ((r = run(c, "SELECT pg_advisory_xact_lock(" SCHEMA_LOCK ")", 0,
	    NULL, PGRES_TUPLES_OK, err)) == NULL)
		return rollback(c);
	pq.PQclear(r);
	if (cmd(c, "CREATE TABLE IF NOT EXISTS vjbuild_meta(key text PRIMARY "
	    "KEY, value text NOT NULL)", 0, NULL, err) == -1)
		return rollback(c);
	if ((r = run(c, "SELECT value FROM vjbuild_meta WHERE key = 'schema'",
	    0, NULL, PGRES_TUPLES_OK, err)) == NULL)
		return rollback(c);
	if (pq.PQntuples(r) == 1)
		version = atoi(pq.PQgetvalue(r, 0, 0));
	pq.PQclear(r);
	if (version > NMIGRATIONS) {
		vj_errf(err, "PostgreSQL: registry schema %d is newer than this "
		    "vjbuild (%d)", version, NMIGRATIONS);
		return rollback(c);
	}
	/* A step may hold several statements: PQexec, which takes no
	 * parameters (the steps have none). */
	for (i = version; i < NMIGRATIONS; i++) {
		r = pq.PQexec(c, migrations[i]);
		if (pq.PQresultStatus(r) != PGRES_COMMAND_OK) {
			vj_errf(err, "PostgreSQL: registry schema step %d: %s",
			    i + 1, pq.PQerrorMessage(c));
			pq.PQclear(r);
			return rollback(c);
		}
		pq.PQclear(r);
	}
	snprintf(buf, sizeof(buf), "%d", NMIGRATIONS);
	p[0] = buf;
	if (cmd(c, "INSERT INTO vjbuild_meta(key, value) VALUES ('schema', $1) "
	    "ON CONFLICT (key) DO UPDATE SET value = $1", 1, p, err) == -1)
		return rollback(c);
	return cmd(c, "COMMIT", 0, NULL, err);
}

/* Server notices ("already exists, skipping") are not the user's news. */
static void
quiet(void *arg, const char *message)
{
	(void)arg;
	(void)message;
}

int
pg_connect(const char *url, void **conn, struct vj_err *err)
{
	PGconn *c;

	if (load_libpq(err) == -1)
		return -1;
	c = pq.PQconnectdb(url);
	if (pq.PQstatus(c) != CONNECTION_OK) {
		/* The message names the server, not the URL's password. */
		vj_errf(err, "PostgreSQL registry: %s", pq.PQerrorMessage(c));
		pq.PQfinish(c);
		return -1;
	}
	pq.PQsetNoticeProcessor(c, quiet, NULL);
	if (migrate(c, err) == -1) {
		pq.PQfinish(c);
		return -1;
	}
	*conn = c;
	return 0;
}

int
pg_put(void *conn, const struct registry_jail *j, struct vj_err *err)
{
	PGconn *c = conn;
	const char *p[5] = { j->name, j->address, j->root, j->host, j->state };
	size_t i;

	if (cmd(c, "BEGIN", 0, NULL, err) == -1)
		return -1;
	if (cmd(c, "INSERT INTO jails(name, address, root, host, state) "
	    "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (name) DO UPDATE SET "
	    "address = $2, root = $3, host = $4, state = $5, updated = now()",
	    5, p, err) == -1)
		return rollback(c);
	if (cmd(c, "DELETE FROM jail_packages WHERE jail = $1", 1, p,
	    err) == -1)
		return rollback(c);
	for (i = 0; i < j->nports; i++) {
		const char *q[3] = { j->name, j->ports[i], j->versions[i] };
		if (cmd(c, "INSERT INTO jail_packages(jail, port, version) "
		    "VALUES ($1, $2, $3)", 3, q, err) == -1)
			return rollback(c);
	}
	return cmd(c, "COMMIT", 0, NULL, err);
}

int
pg_del(void *conn, const char *name, struct vj_err *err)
{
	const char *p[1] = { name };

	return cmd(conn, "DELETE FROM jails WHERE name = $1", 1, p, err);
}

int
pg_list(void *conn, void (*fn)(const struct registry_jail *, void *),
    void *arg, struct vj_err *err)
{
	PGresult *r = run(conn, "SELECT name, host(address), root, host, "
	    "state, extract(epoch FROM created), extract(epoch FROM updated) "
	    "FROM jails ORDER BY name", 0, NULL, PGRES_TUPLES_OK, err);
	int i;

	if (r == NULL)
		return -1;
	for (i = 0; i < pq.PQntuples(r); i++) {
		struct registry_jail j;
		memset(&j, 0, sizeof(j));
		j.name = pq.PQgetvalue(r, i, 0);
		j.address = pq.PQgetvalue(r, i, 1);
		j.root = pq.PQgetvalue(r, i, 2);
		j.host = pq.PQgetvalue(r, i, 3);
		j.state = pq.PQgetvalue(r, i, 4);
		j.created = strtod(pq.PQgetvalue(r, i, 5), NULL);
		j.updated = strtod(pq.PQgetvalue(r, i, 6), NULL);
		fn(&j, arg);
	}
	pq.PQclear(r);
	return 0;
}

void
pg_close(void *conn)
{
	pq.PQfinish(conn);
}
