/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The registry in PostgreSQL, through libpq: the only file that includes
 * libpq-fe.h. Parameters only (PQexecParams), PQclear on every path, one
 * transaction per change. The schema is created and upgraded under a
 * transaction-scoped advisory lock, so that several vjbuilds starting at
 * once against a new database do not race; its version is in
 * vjbuild_meta.
 *
 * Rows are owned: each carries the identity (uuid) of the state that
 * registered it, and a state neither overwrites nor deletes another's row,
 * nor takes an address another's row holds; the refusal names the owner's
 * host and root. Every round trip has a deadline (registry_timeout, 10 s
 * by default): connect_timeout for the connection, the server's
 * statement_timeout for a slow statement, and a poll on the socket for a
 * server that does not answer at all (stopped, or its host gone).
 *
 * libpq is loaded (dlopen) when a registry in PostgreSQL is first opened,
 * not by every start of vjbuild: with the TLS, Kerberos and LDAP
 * libraries it brings it is 21 of vjbuild's 40 shared libraries and about
 * 12 ms of every start on the benchmark machine (docs/BENCHMARKS.md),
 * spent by commands that never reach a server. Its functions are called
 * through pq, each typed from libpq-fe.h, so the compiler checks every
 * call as before.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "../util/util.h"
#include "pg.h"
#include "registry.h"


#define SCHEMA_LOCK "7642913"	/* pg_advisory_xact_lock key */

#define LIBPQ "libpq.so.5"	/* libpq's soname */
#define PQ_FUNCS(X) X(PQclear) X(PQconnectdbParams) X(PQerrorMessage) \
	X(PQsendQuery) X(PQsendQueryParams) X(PQfinish) X(PQgetvalue) \
	X(PQntuples) X(PQresultStatus) X(PQsetNoticeProcessor) X(PQstatus) \
	X(PQsocket) X(PQconsumeInput) X(PQisBusy) X(PQgetResult) \
	X(PQcmdTuples) X(PQresultErrorField) X(PQnotifies) X(PQfreemem)

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
	/* Whose a row is: the registering state's uuid ('' for rows made
	 * before owners, taken by the first state to register them). */
	"ALTER TABLE jails ADD COLUMN owner text NOT NULL DEFAULT '';",
	/* The fleet's package claims (claims.c): one row a cache key. */
	"CREATE TABLE package_claims(key text PRIMARY KEY, port text NOT "
	"  NULL, version text NOT NULL, state text NOT NULL CHECK (state IN "
	"  ('building', 'done', 'failed')), holder text NOT NULL, token text "
	"  NOT NULL, lease_until timestamptz, claimed timestamptz NOT NULL "
	"  DEFAULT now(), ended timestamptz, builds integer NOT NULL DEFAULT "
	"  1, sha256 text, size bigint, seconds double precision, manifest "
	"  text, note text NOT NULL DEFAULT '');",
	/* The claiming state's uuid: a state holds its lock while it
	 * runs, so its own claim from an earlier run is a dead one. */
	"ALTER TABLE package_claims ADD COLUMN owner text NOT NULL DEFAULT '';",
};
#define NMIGRATIONS ((int)(sizeof(migrations) / sizeof(migrations[0])))

static int timeout = 10;	/* seconds a round trip may take */

void
pg_set_timeout(int seconds)
{
	timeout = seconds > 0 ? seconds : 10;
}

/* A connection, and whether it can still be used: after a deadline
 * passed nothing more is sent (a ROLLBACK would wait for ever too). */
struct pgc {
	PGconn *c;
	int broken;
};

/*
 * Waits for every result of what was sent, until the deadline: the last
 * one (an error one, if any), or NULL with err.
 */
static PGresult *
wait_results(struct pgc *k, const char *q, struct vj_err *err)
{
	double deadline = vj_now() + timeout;
	PGresult *r, *keep = NULL;
	struct pollfd p;
	int ms;

	for (;;) {
		while (pq.PQisBusy(k->c)) {
			p.fd = pq.PQsocket(k->c);
			p.events = POLLIN;
			ms = (int)((deadline - vj_now()) * 1000);
			if (ms <= 0 || (ms = poll(&p, 1, ms)) == 0) {
				vj_errf(err, "PostgreSQL registry: no answer "
				    "within %d s (registry_timeout) to %.60s: "
				    "is the server stopped or unreachable?",
				    timeout, q);
				goto broken;
			}
			if ((ms == -1 && errno != EINTR) ||
			    pq.PQconsumeInput(k->c) == 0) {
				vj_errf(err, "PostgreSQL registry: %.60s: %s",
				    q, pq.PQerrorMessage(k->c));
				goto broken;
			}
		}
		if ((r = pq.PQgetResult(k->c)) == NULL)
			return keep;
		if (keep != NULL && (pq.PQresultStatus(keep) ==
		    PGRES_FATAL_ERROR)) {
			pq.PQclear(r);	/* the first error is the news */
			continue;
		}
		pq.PQclear(keep);
		keep = r;
	}
broken:
	pq.PQclear(keep);
	k->broken = 1;
	return NULL;
}

/* Runs q with n text parameters; returns the result, or NULL with err
 * (and the result cleared) unless it has status ok. A unique violation's
 * SQLSTATE is left in *state when state is not NULL. */
static PGresult *
run_state(struct pgc *k, const char *q, int n, const char *const *params,
    ExecStatusType ok, char state[6], struct vj_err *err)
{
	PGresult *r;
	const char *code;

	if (state != NULL)
		state[0] = '\0';
	if (k->broken) {
		vj_errf(err, "PostgreSQL registry: the connection was given up");
		return NULL;
	}
	if (!pq.PQsendQueryParams(k->c, q, n, NULL, params, NULL, NULL, 0)) {
		vj_errf(err, "PostgreSQL: %.80s: %s", q,
		    pq.PQerrorMessage(k->c));
		return NULL;
	}
	if ((r = wait_results(k, q, err)) == NULL)
		return NULL;
	if (pq.PQresultStatus(r) != ok) {
		if (state != NULL && (code = pq.PQresultErrorField(r,
		    PG_DIAG_SQLSTATE)) != NULL)
			snprintf(state, 6, "%s", code);
		vj_errf(err, "PostgreSQL: %.80s: %s", q,
		    pq.PQerrorMessage(k->c));
		pq.PQclear(r);
		return NULL;
	}
	return r;
}

static PGresult *
run(struct pgc *k, const char *q, int n, const char *const *params,
    ExecStatusType ok, struct vj_err *err)
{
	return run_state(k, q, n, params, ok, NULL, err);
}

static int
cmd(struct pgc *k, const char *q, int n, const char *const *params,
    struct vj_err *err)
{
	PGresult *r = run(k, q, n, params, PGRES_COMMAND_OK, err);

	if (r == NULL)
		return -1;
	pq.PQclear(r);
	return 0;
}

static int
rollback(struct pgc *k)
{
	struct vj_err ignored;

	(void)cmd(k, "ROLLBACK", 0, NULL, &ignored);
	return -1;
}

/* Several statements without parameters (a schema step). */
static int
script(struct pgc *k, const char *q, struct vj_err *err)
{
	PGresult *r;
	int ok;

	if (!pq.PQsendQuery(k->c, q)) {
		vj_errf(err, "PostgreSQL: %s", pq.PQerrorMessage(k->c));
		return -1;
	}
	if ((r = wait_results(k, q, err)) == NULL)
		return -1;
	ok = pq.PQresultStatus(r) == PGRES_COMMAND_OK;
	if (!ok)
		vj_errf(err, "PostgreSQL: %s", pq.PQerrorMessage(k->c));
	pq.PQclear(r);
	return ok ? 0 : -1;
}

static int
migrate(struct pgc *c, struct vj_err *err)
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
	/* A step may hold several statements: sent without parameters
	 * (the steps have none). */
	for (i = version; i < NMIGRATIONS; i++)
		if (script(c, migrations[i], err) == -1) {
			vj_errf(err, "PostgreSQL: registry schema step %d: %s",
			    i + 1, pq.PQerrorMessage(c->c));
			return rollback(c);
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
	struct pgc *k;
	char secs[16], opts[64];
	/* The URL comes last: what it sets itself wins. */
	const char *const keys[] = { "connect_timeout", "options", "dbname",
	    NULL };
	const char *vals[] = { secs, opts, url, NULL };

	if (load_libpq(err) == -1)
		return -1;
	snprintf(secs, sizeof(secs), "%d", timeout);
	snprintf(opts, sizeof(opts), "-c statement_timeout=%d", timeout * 1000);
	k = xcalloc(1, sizeof(*k));
	k->c = pq.PQconnectdbParams(keys, vals, 1);
	if (pq.PQstatus(k->c) != CONNECTION_OK) {
		/* The message names the server, not the URL's password. */
		vj_errf(err, "PostgreSQL registry: %s", pq.PQerrorMessage(k->c));
		pg_close(k);
		return -1;
	}
	pq.PQsetNoticeProcessor(k->c, quiet, NULL);
	if (migrate(k, err) == -1) {
		pg_close(k);
		return -1;
	}
	*conn = k;
	return 0;
}

/* Says whose row name (or the row holding address) is, into err. */
static void
whose(struct pgc *k, const char *where, const char *value, const char *what,
    struct vj_err *err)
{
	char *q = xasprintf("SELECT name, host, root FROM jails WHERE %s = $1",
	    where);
	const char *p[1] = { value };
	struct vj_err e2;
	PGresult *r = run(k, q, 1, p, PGRES_TUPLES_OK, &e2);

	if (r != NULL && pq.PQntuples(r) == 1)
		vj_errf(err, "%s is jail %s's in the PostgreSQL registry, "
		    "registered by another vjbuild state (on host %s, root %s); "
		    "its row is left as it is", what, pq.PQgetvalue(r, 0, 0),
		    pq.PQgetvalue(r, 0, 1), pq.PQgetvalue(r, 0, 2));
	else
		vj_errf(err, "%s is another vjbuild state's in the PostgreSQL "
		    "registry", what);
	pq.PQclear(r);
	free(q);
}

int
pg_put(void *conn, const struct registry_jail *j, struct vj_err *err)
{
	struct pgc *c = conn;
	const char *p[6] = { j->name, j->address, j->root, j->host, j->state,
	    j->owner };
	char state[6], *what;
	PGresult *r;
	size_t i;
	int mine;

	if (cmd(c, "BEGIN", 0, NULL, err) == -1)
		return -1;
	/* Only a row of this state's (or one from before owners) is
	 * updated: another's makes the update touch no row. */
	r = run_state(c, "INSERT INTO jails(name, address, root, host, state, "
	    "owner) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (name) DO "
	    "UPDATE SET address = $2, root = $3, host = $4, state = $5, "
	    "owner = $6, updated = now() WHERE jails.owner IN ($6, '')", 6, p,
	    PGRES_COMMAND_OK, state, err);
	if (r == NULL) {
		rollback(c);
		if (strcmp(state, "23505") == 0) {	/* the address */
			what = xasprintf("address %s", j->address);
			whose(c, "address", j->address, what, err);
			free(what);
		}
		return -1;
	}
	mine = strcmp(pq.PQcmdTuples(r), "1") == 0;
	pq.PQclear(r);
	if (!mine) {
		rollback(c);
		what = xasprintf("name %s", j->name);
		whose(c, "name", j->name, what, err);
		free(what);
		return -1;
	}
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
pg_del(void *conn, const char *name, const char *owner, struct vj_err *err)
{
	const char *p[2] = { name, owner };
	PGresult *r = run(conn, "DELETE FROM jails WHERE name = $1 AND owner "
	    "IN ($2, '')", 2, p, PGRES_COMMAND_OK, err);
	char *what;
	int gone;

	if (r == NULL)
		return -1;
	gone = strcmp(pq.PQcmdTuples(r), "0") != 0;
	pq.PQclear(r);
	if (gone)
		return 0;
	if ((r = run(conn, "SELECT 1 FROM jails WHERE name = $1", 1, p,
	    PGRES_TUPLES_OK, err)) == NULL)
		return -1;
	gone = pq.PQntuples(r) == 0;
	pq.PQclear(r);
	if (gone)
		return 0;	/* none to delete */
	what = xasprintf("name %s", name);
	whose(conn, "name", name, what, err);
	free(what);
	return 1;
}

int
pg_take(void *conn, const char *name, const char *root, const char *host,
    const char *owner, struct vj_err *err)
{
	const char *p[4] = { name, root, host, owner };
	PGresult *r;
	char *what;
	int other;

	if ((r = run(conn, "UPDATE jails SET owner = $4 WHERE name = $1 AND "
	    "root = $2 AND host = $3", 4, p, PGRES_COMMAND_OK, err)) == NULL)
		return -1;
	pq.PQclear(r);
	if ((r = run(conn, "SELECT 1 FROM jails WHERE name = $1 AND owner <> "
	    "$4", 4, p, PGRES_TUPLES_OK, err)) == NULL)
		return -1;
	other = pq.PQntuples(r) > 0;
	pq.PQclear(r);
	if (!other)
		return 0;
	what = xasprintf("name %s", name);
	whose(conn, "name", name, what, err);
	free(what);
	return 1;
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

/* ---- for claims.c: statements and notifications ---- */

void *
pg_exec(void *conn, const char *q, int n, const char *const *params,
    int tuples, struct vj_err *err)
{
	return run(conn, q, n, params, tuples ? PGRES_TUPLES_OK :
	    PGRES_COMMAND_OK, err);
}

int
pg_rows(const void *r)
{
	return pq.PQntuples(r);
}

const char *
pg_value(const void *r, int row, int col)
{
	return pq.PQgetvalue(r, row, col);
}

long
pg_affected(const void *r)
{
	return atol(pq.PQcmdTuples((PGresult *)r));
}

void
pg_clear(void *r)
{
	pq.PQclear(r);
}

int
pg_wait_notify(void *conn, double seconds, struct vj_err *err)
{
	struct pgc *k = conn;
	double deadline = vj_now() + seconds;
	PGnotify *n;
	struct pollfd p;
	int got = 0, ms;

	for (;;) {
		if (pq.PQconsumeInput(k->c) == 0) {
			vj_errf(err, "PostgreSQL registry: %s",
			    pq.PQerrorMessage(k->c));
			k->broken = 1;
			return -1;
		}
		while ((n = pq.PQnotifies(k->c)) != NULL) {
			pq.PQfreemem(n);
			got = 1;
		}
		ms = (int)((deadline - vj_now()) * 1000);
		if (got || ms <= 0)
			return got;
		p.fd = pq.PQsocket(k->c);
		p.events = POLLIN;
		if (poll(&p, 1, ms) == -1 && errno != EINTR) {
			vj_errno(err, "PostgreSQL registry: poll");
			return -1;
		}
	}
}

void
pg_close(void *conn)
{
	struct pgc *k = conn;

	if (k == NULL)
		return;
	pq.PQfinish(k->c);
	free(k);
}
