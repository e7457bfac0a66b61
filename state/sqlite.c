/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The state database in SQLite (see state.h): WAL, a busy timeout,
 * synchronous=FULL by default, statements prepared once from one table,
 * parameters only, and the schema version in PRAGMA user_version with one
 * step per version.
 *
 * The scheduler writes in batches (state_tx_begin/commit): the finishes it
 * reaped and the starts it is about to make, one transaction. A batch is
 * made durable (synchronous=FULL, the WAL fsynced) only when it must be:
 * see state_tx_begin. Otherwise it commits with synchronous=NORMAL, which in
 * WAL mode survives any crash of the process and, on a power cut, loses at
 * most the newest commits, never the order: the database comes back as it
 * was at some earlier commit.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "../util/util.h"
#include "state.h"

enum stmt {
	S_RUN_BEGIN, S_RUN_END, S_TASK_START, S_TASK_FINISH, S_STAMP,
	S_JAIL_PUT, S_DIGEST_GET, S_DIGEST_PUT, S_PKG_PUT, S_PKG_GET,
	S_PKG_DEL, S_TASK_FORCE, S_TRUN_START, S_TRUN_FINISH, S_TRUN_SKIP,
	S_NSTMT
};

static const char *const sql[S_NSTMT] = {
	[S_RUN_BEGIN] = "INSERT INTO runs(started, status, command, jobs) "
	    "VALUES (?1, 'running', ?2, ?3)",
	[S_RUN_END] = "UPDATE runs SET ended = ?2, status = ?3, tasks = ?4, "
	    "ran = ?5, uptodate = ?6, failed = ?7, skipped = ?8 WHERE id = ?1",
	[S_TASK_START] = "INSERT INTO tasks(name, kind, jail, fingerprint, "
	    "depstamp, stamp, status, run, started, ended, duration, "
	    "exit_status, log) VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'running', ?7, "
	    "?8, NULL, NULL, NULL, ?9) ON CONFLICT(name) DO UPDATE SET "
	    "kind = ?2, jail = ?3, fingerprint = ?4, depstamp = ?5, "
	    "stamp = ?6, status = 'running', run = ?7, started = ?8, "
	    "ended = NULL, exit_status = NULL, log = ?9",
	[S_TASK_FINISH] = "UPDATE tasks SET status = ?2, exit_status = ?3, "
	    "ended = ?4, duration = CASE WHEN ?2 = 'ok' THEN ?5 ELSE "
	    "duration END WHERE name = ?1",
	[S_STAMP] = "INSERT OR REPLACE INTO meta(key, value) "
	    "VALUES ('stamp', ?1)",
	[S_JAIL_PUT] = "INSERT OR REPLACE INTO jails(name, address, root, "
	    "status, run, updated, limits, boot) VALUES (?1, ?2, ?3, ?4, ?5, "
	    "?6, ?7, ?8)",
	[S_DIGEST_GET] = "SELECT sha256 FROM digests WHERE path = ?1 AND "
	    "size = ?2 AND mtime_ns = ?3 AND ino = ?4",
	[S_DIGEST_PUT] = "INSERT OR REPLACE INTO digests(path, size, "
	    "mtime_ns, ino, sha256) VALUES (?1, ?2, ?3, ?4, ?5)",
	[S_PKG_PUT] = "INSERT OR REPLACE INTO packages(key, port, version, "
	    "path, sha256, size, nfiles, files, build_seconds, built) "
	    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
	[S_PKG_GET] = "SELECT key, port, version, path, sha256, size, nfiles, "
	    "build_seconds, built FROM packages WHERE key = ?1",
	[S_PKG_DEL] = "DELETE FROM packages WHERE key = ?1",
	[S_TASK_FORCE] = "UPDATE tasks SET status = 'forced' WHERE name = ?1 "
	    "AND status = 'ok'",
	[S_TRUN_START] = "INSERT OR REPLACE INTO task_runs(run, name, kind, "
	    "jail, status, slot, started, log, deps) VALUES (?1, ?2, ?3, ?4, "
	    "'running', ?5, ?6, ?7, ?8)",
	[S_TRUN_FINISH] = "UPDATE task_runs SET status = ?2, exit_status = ?3, "
	    "ended = ?4 WHERE run = (SELECT run FROM tasks WHERE name = ?1) "
	    "AND name = ?1",
	[S_TRUN_SKIP] = "INSERT OR REPLACE INTO task_runs(run, name, kind, "
	    "jail, status, cause) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
};

/* Schema steps: migrations[i] takes user_version i to i + 1. */
static const char *const migrations[] = {
	"CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
	"CREATE TABLE runs(id INTEGER PRIMARY KEY, started REAL NOT NULL, "
	"  ended REAL, status TEXT NOT NULL, command TEXT, jobs INTEGER);"
	"CREATE TABLE tasks(name TEXT PRIMARY KEY, kind TEXT NOT NULL, "
	"  jail TEXT, fingerprint TEXT NOT NULL, depstamp TEXT NOT NULL, "
	"  stamp INTEGER NOT NULL, status TEXT NOT NULL, run INTEGER, "
	"  started REAL, ended REAL, duration REAL, exit_status INTEGER, "
	"  log TEXT);"
	"CREATE TABLE jails(name TEXT PRIMARY KEY, address TEXT, root TEXT, "
	"  status TEXT, run INTEGER, updated REAL);"
	"CREATE TABLE digests(path TEXT PRIMARY KEY, size INTEGER, "
	"  mtime_ns INTEGER, ino INTEGER, sha256 TEXT NOT NULL);",
	/* 1 -> 2: the package cache */
	"CREATE TABLE packages(key TEXT PRIMARY KEY, port TEXT NOT NULL, "
	"  version TEXT NOT NULL, path TEXT NOT NULL, sha256 TEXT NOT NULL, "
	"  size INTEGER NOT NULL, nfiles INTEGER NOT NULL, files TEXT, "
	"  build_seconds REAL, built REAL NOT NULL);",
	/* 2 -> 3: the registry (see registry.c) */
	"CREATE TABLE registry(name TEXT PRIMARY KEY, address TEXT NOT NULL "
	"  UNIQUE, root TEXT NOT NULL, host TEXT NOT NULL, state TEXT NOT "
	"  NULL, created REAL NOT NULL, updated REAL NOT NULL);"
	"CREATE TABLE registry_packages(jail TEXT NOT NULL, port TEXT NOT "
	"  NULL, version TEXT NOT NULL, PRIMARY KEY (jail, port));",
	/* 3 -> 4: a jail's limit.* words from its line in hosts.txt */
	"ALTER TABLE jails ADD COLUMN limits TEXT;",
	/* 4 -> 5: every run's tasks, not only the last record of each */
	"CREATE TABLE task_runs(run INTEGER NOT NULL, name TEXT NOT NULL, "
	"  kind TEXT NOT NULL, jail TEXT, status TEXT NOT NULL, slot INTEGER, "
	"  started REAL, ended REAL, exit_status INTEGER, log TEXT, cause TEXT, "
	"  deps TEXT, PRIMARY KEY (run, name));"
	"ALTER TABLE runs ADD COLUMN tasks INTEGER;"
	"ALTER TABLE runs ADD COLUMN ran INTEGER;"
	"ALTER TABLE runs ADD COLUMN uptodate INTEGER;"
	"ALTER TABLE runs ADD COLUMN failed INTEGER;"
	"ALTER TABLE runs ADD COLUMN skipped INTEGER;"
	"ALTER TABLE jails ADD COLUMN boot INTEGER NOT NULL DEFAULT 1;",
};
#define NMIGRATIONS ((int)(sizeof(migrations) / sizeof(migrations[0])))

/* A task's record; its strings are in one block (memory is per task). */
struct rec {
	struct state_task t;
	char *block;
};

struct kindavg {
	char *kind;
	double sum;
	int n;
};

struct state {
	sqlite3 *db;
	sqlite3_stmt *st[S_NSTMT];
	char *dir, *logdir, *uuid;
	char *runlogdir;	/* DIR/logs/RUN once a run has begun */
	int history;		/* runs kept */
	int lockfd, readonly;
	int in_tx, durable;	/* a batch is open; synchronous is FULL */
	int64_t stamp;
	struct rec *recs;	/* sorted by name */
	size_t nrecs;
	struct kindavg *kinds;
	size_t nkinds;
};

static int
fail(struct state *s, struct vj_err *err, const char *what)
{
	vj_errf(err, "%s/vjbuild.db: %s: %s", s->dir, what,
	    s->db ? sqlite3_errmsg(s->db) : "cannot open");
	return -1;
}

static int
exec(struct state *s, const char *q, struct vj_err *err)
{
	char *msg = NULL;

	if (sqlite3_exec(s->db, q, NULL, NULL, &msg) != SQLITE_OK) {
		vj_errf(err, "%s/vjbuild.db: %.200s: %s", s->dir, q,
		    msg ? msg : "error");
		sqlite3_free(msg);
		return -1;
	}
	return 0;
}

/* Runs a prepared statement that returns no row; resets it. */
static int
step(struct state *s, enum stmt i, struct vj_err *err)
{
	int rc = sqlite3_step(s->st[i]);

	sqlite3_reset(s->st[i]);
	sqlite3_clear_bindings(s->st[i]);
	if (rc != SQLITE_DONE)
		return fail(s, err, sql[i]);
	return 0;
}

static char *
col(sqlite3_stmt *q, int i)
{
	const unsigned char *t = sqlite3_column_text(q, i);

	return t ? xstrdup((const char *)t) : NULL;
}

static int
meta_get(struct state *s, const char *key, char **val, struct vj_err *err)
{
	sqlite3_stmt *q = NULL;
	int rc;

	*val = NULL;
	if (sqlite3_prepare_v2(s->db, "SELECT value FROM meta WHERE key = ?1",
	    -1, &q, NULL) != SQLITE_OK)
		return fail(s, err, "SELECT meta");
	sqlite3_bind_text(q, 1, key, -1, SQLITE_STATIC);
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW)
		*val = col(q, 0);
	sqlite3_finalize(q);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return fail(s, err, "SELECT meta");
	return 0;
}

static int
meta_put(struct state *s, const char *key, const char *val, struct vj_err *err)
{
	sqlite3_stmt *q = NULL;
	int rc;

	if (sqlite3_prepare_v2(s->db, "INSERT OR REPLACE INTO meta(key, value) "
	    "VALUES (?1, ?2)", -1, &q, NULL) != SQLITE_OK)
		return fail(s, err, "INSERT meta");
	sqlite3_bind_text(q, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, val, -1, SQLITE_STATIC);
	rc = sqlite3_step(q);
	sqlite3_finalize(q);
	return rc == SQLITE_DONE ? 0 : fail(s, err, "INSERT meta");
}

static int
migrate(struct state *s, struct vj_err *err)
{
	sqlite3_stmt *q = NULL;
	int version = 0;
	char *pragma;

	if (sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &q, NULL) !=
	    SQLITE_OK)
		return fail(s, err, "PRAGMA user_version");
	if (sqlite3_step(q) == SQLITE_ROW)
		version = sqlite3_column_int(q, 0);
	sqlite3_finalize(q);
	if (version > NMIGRATIONS) {
		vj_errf(err, "%s/vjbuild.db: schema version %d is newer than "
		    "this vjbuild (%d)", s->dir, version, NMIGRATIONS);
		return -1;
	}
	for (; version < NMIGRATIONS; version++) {
		if (exec(s, "BEGIN IMMEDIATE", err) == -1)
			return -1;
		pragma = xasprintf("PRAGMA user_version = %d", version + 1);
		if (exec(s, migrations[version], err) == -1 ||
		    exec(s, pragma, err) == -1 || exec(s, "COMMIT", err) == -1) {
			free(pragma);
			(void)sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
			return -1;
		}
		free(pragma);
	}
	return 0;
}

/* 1, with err, when the database's schema is older than this vjbuild's:
 * a read-only open cannot upgrade it (a run does, at its start). */
static int
older_schema(struct state *s, struct vj_err *err)
{
	sqlite3_stmt *q = NULL;
	int version = NMIGRATIONS;

	if (sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &q, NULL) ==
	    SQLITE_OK && sqlite3_step(q) == SQLITE_ROW)
		version = sqlite3_column_int(q, 0);
	sqlite3_finalize(q);
	if (version >= NMIGRATIONS)
		return 0;
	vj_errf(err, "%s/vjbuild.db: schema version %d is older than this "
	    "vjbuild's (%d): provision once (vjbuild HOSTS, which changes "
	    "nothing that is up to date) to upgrade it", s->dir, version,
	    NMIGRATIONS);
	return 1;
}

static void
make_uuid(char out[37])
{
	unsigned char b[16];
	int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC), i;
	char *p = out;

	if (fd == -1 || read(fd, b, sizeof(b)) != (ssize_t)sizeof(b)) {
		double t = vj_wall();
		memcpy(b, &t, sizeof(t));
		pid_t pid = getpid();
		memcpy(b + 8, &pid, sizeof(pid));
	}
	if (fd != -1)
		close(fd);
	b[6] = (b[6] & 0x0f) | 0x40;
	b[8] = (b[8] & 0x3f) | 0x80;
	for (i = 0; i < 16; i++) {
		p += sprintf(p, "%02x", b[i]);
		if (i == 3 || i == 5 || i == 7 || i == 9)
			*p++ = '-';
	}
	*p = '\0';
}

/* Identity: the uuid, made once, and the jails directory it serves. */
static int
identity(struct state *s, const char *jails_dir, int readonly,
    struct vj_err *err)
{
	char *jails = NULL, *stamp = NULL, buf[37];
	int rc = -1;

	if (meta_get(s, "uuid", &s->uuid, err) == -1 ||
	    meta_get(s, "jails", &jails, err) == -1 ||
	    meta_get(s, "stamp", &stamp, err) == -1)
		goto out;
	s->stamp = stamp ? strtoll(stamp, NULL, 10) : 0;
	if (s->uuid == NULL && !readonly) {
		make_uuid(buf);
		s->uuid = xstrdup(buf);
		if (meta_put(s, "uuid", buf, err) == -1)
			goto out;
	}
	if (jails_dir != NULL && jails != NULL && strcmp(jails, jails_dir) != 0) {
		vj_errf(err, "%s belongs to the jails directory %s, not %s: "
		    "use the state directory that was made for %s", s->dir,
		    jails, jails_dir, jails_dir);
		goto out;
	}
	if (jails_dir != NULL && jails == NULL && !readonly &&
	    meta_put(s, "jails", jails_dir, err) == -1)
		goto out;
	rc = 0;
out:
	free(jails);
	free(stamp);
	return rc;
}

/* The strings of columns 0..n-1 of q, copied into one block: *out[k] is
 * NULL for a NULL column. Returns the block. */
static char *
cols(sqlite3_stmt *q, int n, const char **out)
{
	const unsigned char *text[8];
	size_t len[8], total = 0, off = 0;
	char *block;
	int k;

	for (k = 0; k < n; k++) {
		/* text first, then its length: SQLite's safe order */
		text[k] = sqlite3_column_text(q, k);
		len[k] = text[k] ? (size_t)sqlite3_column_bytes(q, k) + 1 : 0;
		total += len[k];
	}
	block = xmalloc(total ? total : 1);
	for (k = 0; k < n; k++) {
		out[k] = NULL;
		if (len[k] == 0)
			continue;
		memcpy(block + off, text[k], len[k] - 1);
		block[off + len[k] - 1] = '\0';
		out[k] = block + off;
		off += len[k];
	}
	return block;
}

static int
load_tasks(struct state *s, struct vj_err *err)
{
	sqlite3_stmt *q = NULL;
	const char *str[7];
	size_t cap = 0, k;
	int rc;

	/* As many records as there are rows: no doubling to waste. */
	if (sqlite3_prepare_v2(s->db, "SELECT count(*) FROM tasks", -1, &q,
	    NULL) != SQLITE_OK || sqlite3_step(q) != SQLITE_ROW) {
		sqlite3_finalize(q);
		return fail(s, err, "SELECT count(*) FROM tasks");
	}
	cap = (size_t)sqlite3_column_int64(q, 0);
	sqlite3_finalize(q);
	s->recs = cap ? xreallocarray(NULL, cap, sizeof(*s->recs)) : NULL;
	if (sqlite3_prepare_v2(s->db, "SELECT name, kind, jail, fingerprint, "
	    "depstamp, status, log, stamp, run, started, ended, duration, "
	    "exit_status FROM tasks ORDER BY name", -1, &q, NULL) != SQLITE_OK)
		return fail(s, err, "SELECT tasks");
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		struct rec *r;
		if (s->nrecs == cap) {
			cap = cap ? cap * 2 : 64;
			s->recs = xreallocarray(s->recs, cap, sizeof(*s->recs));
		}
		r = &s->recs[s->nrecs++];
		memset(r, 0, sizeof(*r));
		r->block = cols(q, 7, str);
		r->t.name = str[0];
		r->t.kind = str[1];
		r->t.jail = str[2];
		r->t.fingerprint = str[3];
		r->t.depstamp = str[4];
		r->t.status = str[5];
		r->t.log = str[6];
		r->t.stamp = sqlite3_column_int64(q, 7);
		r->t.run = sqlite3_column_int64(q, 8);
		r->t.started = sqlite3_column_double(q, 9);
		r->t.ended = sqlite3_column_double(q, 10);
		r->t.duration = sqlite3_column_type(q, 11) == SQLITE_NULL ? -1 :
		    sqlite3_column_double(q, 11);
		r->t.exit_status = sqlite3_column_int(q, 12);
		if (r->t.duration >= 0 && r->t.kind != NULL) {
			for (k = 0; k < s->nkinds; k++)
				if (strcmp(s->kinds[k].kind, r->t.kind) == 0)
					break;
			if (k == s->nkinds) {
				s->kinds = xreallocarray(s->kinds, ++s->nkinds,
				    sizeof(*s->kinds));
				s->kinds[k].kind = xstrdup(r->t.kind);
				s->kinds[k].sum = 0;
				s->kinds[k].n = 0;
			}
			s->kinds[k].sum += r->t.duration;
			s->kinds[k].n++;
		}
	}
	sqlite3_finalize(q);
	return rc == SQLITE_DONE ? 0 : fail(s, err, "SELECT tasks");
}

/* The pid DIR/lock names (0 when none), its text in buf. */
static pid_t
lock_holder(const char *path, char *buf, size_t size)
{
	ssize_t n = -1;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) != -1) {
		n = pread(fd, buf, size - 1, 0);
		close(fd);
	}
	buf[n > 0 ? n : 0] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	return (pid_t)atol(buf);
}

/*
 * Locks the state directory itself (flock on its descriptor): a directory
 * that holds the database cannot be deleted away as a "stale lock" file
 * can, so a second vjbuild is refused even after `rm DIR/lock`. DIR/lock
 * only tells who holds it (a pid, for the message); it is never what is
 * locked.
 */
static int
lock(struct state *s, struct vj_err *err)
{
	char *path = fs_join(s->dir, "lock"), buf[32];
	pid_t holder = 0;
	ssize_t n;
	int fd, i;

	s->lockfd = open(s->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (s->lockfd == -1) {
		vj_errno(err, "%s", s->dir);
		free(path);
		return -1;
	}
	/*
	 * A few tries: state_in_use's probe holds it for a moment. When the
	 * vjbuild that holds it is gone (killed), what holds it still are
	 * its children, dying of their parent's death: up to 10 s for them.
	 */
	for (i = 0; flock(s->lockfd, LOCK_EX | LOCK_NB) == -1; i++) {
		int busy = errno == EWOULDBLOCK, saved = errno;
		if (busy && i == 20)
			holder = lock_holder(path, buf, sizeof(buf));
		if (busy && (i < 20 || (i < 1000 && holder > 0 &&
		    kill(holder, 0) == -1 && errno == ESRCH))) {
			(void)usleep(10000);
			continue;
		}
		errno = saved;
		if (busy) {
			(void)lock_holder(path, buf, sizeof(buf));
			vj_errf(err, "%s is in use by another vjbuild (pid %s); "
			    "wait for it to finish or stop it", s->dir,
			    *buf ? buf : "unknown");
		} else
			vj_errno(err, "%s: flock", s->dir);
		free(path);
		return -1;
	}
	/* Written over the last holder's pid, then cut to its length: a
	 * truncation to 0 first would free the file's block and write the
	 * journal at every start (0.4 ms here). */
	n = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
	if ((fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW,
	    0644)) == -1 || pwrite(fd, buf, (size_t)n, 0) != n ||
	    ftruncate(fd, n) == -1) {
		vj_errno(err, "%s", path);
		if (fd != -1)
			close(fd);
		free(path);
		return -1;
	}
	close(fd);
	free(path);
	return 0;
}

int
state_in_use(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), busy = 0;

	if (fd == -1)
		return 0;
	if (flock(fd, LOCK_SH | LOCK_NB) == -1)
		busy = errno == EWOULDBLOCK;
	close(fd);
	return busy;
}

int
state_open(const char *dir, const char *jails_dir, int readonly,
    struct state **out, struct vj_err *err)
{
	struct state *s = xcalloc(1, sizeof(*s));
	char *path = NULL;
	int i, flags;

	s->lockfd = -1;
	s->history = 20;
	s->dir = xstrdup(dir);
	s->logdir = fs_join(dir, "logs");
	path = fs_join(dir, "vjbuild.db");
	if (readonly) {
		if (access(path, F_OK) == -1) {
			vj_errno(err, "%s", path);
			goto fail;
		}
		flags = SQLITE_OPEN_READONLY;
	} else {
		if (fs_mkdirs(s->logdir, 0755) == -1) {
			vj_errno(err, "%s", s->logdir);
			goto fail;
		}
		if (lock(s, err) == -1)
			goto fail;
		flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
	}
	if (sqlite3_open_v2(path, &s->db, flags, NULL) != SQLITE_OK) {
		fail(s, err, "open");
		goto fail;
	}
	sqlite3_busy_timeout(s->db, 5000);
	/* A run reads the tasks once, at open, then writes a few pages a
	 * batch: SQLite's 2 MB default page cache would be per-task memory. */
	(void)sqlite3_exec(s->db, "PRAGMA cache_size = -512", NULL, NULL, NULL);
	if (!readonly && (exec(s, "PRAGMA journal_mode = WAL", err) == -1 ||
	    exec(s, "PRAGMA synchronous = FULL", err) == -1 ||
	    migrate(s, err) == -1))
		goto fail;
	if (readonly && older_schema(s, err))
		goto fail;
	if (identity(s, jails_dir, readonly, err) == -1)
		goto fail;
	if (load_tasks(s, err) == -1)
		goto fail;
	s->readonly = readonly;
	s->durable = 1;
	for (i = 0; i < S_NSTMT; i++)
		if (sqlite3_prepare_v3(s->db, sql[i], -1,
		    SQLITE_PREPARE_PERSISTENT, &s->st[i], NULL) != SQLITE_OK) {
			fail(s, err, sql[i]);
			goto fail;
		}
	free(path);
	*out = s;
	return 0;
fail:
	free(path);
	state_close(s);
	return -1;
}

void
state_close(struct state *s)
{
	size_t i;

	if (s == NULL)
		return;
	for (i = 0; i < S_NSTMT; i++)
		sqlite3_finalize(s->st[i]);
	sqlite3_close(s->db);
	for (i = 0; i < s->nrecs; i++)
		free(s->recs[i].block);
	free(s->recs);
	for (i = 0; i < s->nkinds; i++)
		free(s->kinds[i].kind);
	free(s->kinds);
	if (s->lockfd != -1)
		close(s->lockfd);
	free(s->dir);
	free(s->logdir);
	free(s->runlogdir);
	free(s->uuid);
	free(s);
}

const char *state_uuid(const struct state *s) { return s->uuid; }
const char *
state_logdir(const struct state *s)
{
	return s->runlogdir ? s->runlogdir : s->logdir;
}

void state_set_history(struct state *s, int runs) { s->history = runs; }

static int
set_durable(struct state *s, int durable, struct vj_err *err)
{
	if (s->durable == durable)
		return 0;
	if (exec(s, durable ? "PRAGMA synchronous = FULL" :
	    "PRAGMA synchronous = NORMAL", err) == -1)
		return -1;
	s->durable = durable;
	return 0;
}

/*
 * DIR/logs/RUN made for the run's logs, and DIR/logs/latest pointing to it
 * (a new link renamed over the old: never missing, never half made).
 */
static int
run_logdir(struct state *s, int64_t run, struct vj_err *err)
{
	char name[32], *tmp = fs_join(s->logdir, ".latest.tmp");
	char *latest = fs_join(s->logdir, "latest");

	snprintf(name, sizeof(name), "%lld", (long long)run);
	free(s->runlogdir);
	s->runlogdir = fs_join(s->logdir, name);
	(void)unlink(tmp);
	if ((mkdir(s->runlogdir, 0755) == -1 && errno != EEXIST) ||
	    symlink(name, tmp) == -1 || rename(tmp, latest) == -1) {
		vj_errno(err, "%s", s->runlogdir);
		free(tmp);
		free(latest);
		return -1;
	}
	free(tmp);
	free(latest);
	return 0;
}

/*
 * The records and logs of runs older than the last `history` go: their
 * rows, then their log directories (DIR/logs/ID, only names of digits,
 * which only vjbuild makes there). A task's own record stays (it says
 * what is done); its log may be gone with its run.
 */
static int
prune(struct state *s, int64_t run, struct vj_err *err)
{
	int64_t below = run - s->history + 1, id;
	sqlite3_stmt *q = NULL;
	int fd, rc;

	if (below <= 1)
		return 0;
	if (sqlite3_prepare_v2(s->db, "SELECT id FROM runs WHERE id < ?1",
	    -1, &q, NULL) != SQLITE_OK)
		return fail(s, err, "SELECT runs");
	sqlite3_bind_int64(q, 1, below);
	fd = open(s->logdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		char name[32];
		id = sqlite3_column_int64(q, 0);
		snprintf(name, sizeof(name), "%lld", (long long)id);
		if (fd != -1)
			(void)fs_rmtree_at(fd, name);
	}
	sqlite3_finalize(q);
	if (fd != -1)
		close(fd);
	if (rc != SQLITE_DONE)
		return fail(s, err, "SELECT runs");
	if ((q = NULL, sqlite3_prepare_v2(s->db, "DELETE FROM task_runs WHERE "
	    "run < ?1", -1, &q, NULL)) != SQLITE_OK)
		return fail(s, err, "DELETE FROM task_runs");
	sqlite3_bind_int64(q, 1, below);
	rc = sqlite3_step(q);
	sqlite3_finalize(q);
	if (rc != SQLITE_DONE)
		return fail(s, err, "DELETE FROM task_runs");
	if (sqlite3_prepare_v2(s->db, "DELETE FROM runs WHERE id < ?1", -1,
	    &q, NULL) != SQLITE_OK)
		return fail(s, err, "DELETE FROM runs");
	sqlite3_bind_int64(q, 1, below);
	rc = sqlite3_step(q);
	sqlite3_finalize(q);
	if (rc != SQLITE_DONE)
		return fail(s, err, "DELETE FROM runs");
	return 0;
}

int
state_run_begin(struct state *s, const char *command, int jobs, int64_t *run,
    struct vj_err *err)
{
	/* Not durable by itself: a power cut that loses it loses every
	 * commit after it too (the WAL keeps their order), and the first
	 * durable one, at the latest the run's end, carries it. */
	if (set_durable(s, 0, err) == -1)
		return -1;
	sqlite3_bind_double(s->st[S_RUN_BEGIN], 1, vj_wall());
	sqlite3_bind_text(s->st[S_RUN_BEGIN], 2, command, -1, SQLITE_STATIC);
	sqlite3_bind_int(s->st[S_RUN_BEGIN], 3, jobs);
	if (step(s, S_RUN_BEGIN, err) == -1)
		return -1;
	*run = sqlite3_last_insert_rowid(s->db);
	if (prune(s, *run, err) == -1)
		return -1;
	return run_logdir(s, *run, err);
}

int
state_tx_begin(struct state *s, int durable, struct vj_err *err)
{
	if (set_durable(s, durable, err) == -1 ||
	    exec(s, "BEGIN IMMEDIATE", err) == -1)
		return -1;
	s->in_tx = 1;
	return 0;
}

int
state_tx_commit(struct state *s, struct vj_err *err)
{
	s->in_tx = 0;
	if (exec(s, "COMMIT", err) == -1) {
		(void)sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
		return -1;
	}
	return 0;
}

void
state_tx_rollback(struct state *s)
{
	if (s->in_tx)
		(void)sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
	s->in_tx = 0;
}

int
state_run_end(struct state *s, int64_t run, const char *status,
    const struct state_counts *n, struct vj_err *err)
{
	sqlite3_stmt *q = s->st[S_RUN_END];

	/* The end of a run makes everything before it durable. */
	if (set_durable(s, 1, err) == -1)
		return -1;
	sqlite3_bind_int64(q, 1, run);
	sqlite3_bind_double(q, 2, vj_wall());
	sqlite3_bind_text(q, 3, status, -1, SQLITE_STATIC);
	if (n != NULL) {
		sqlite3_bind_int64(q, 4, n->tasks);
		sqlite3_bind_int64(q, 5, n->ran);
		sqlite3_bind_int64(q, 6, n->uptodate);
		sqlite3_bind_int64(q, 7, n->failed);
		sqlite3_bind_int64(q, 8, n->skipped);
	}
	return step(s, S_RUN_END, err);
}

static int
byname(const void *key, const void *elem)
{
	return strcmp(key, ((const struct rec *)elem)->t.name);
}

const struct state_task *
state_task_get(struct state *s, const char *name)
{
	struct rec *r;

	if (s->nrecs == 0)
		return NULL;
	r = bsearch(name, s->recs, s->nrecs, sizeof(*s->recs), byname);
	return r ? &r->t : NULL;
}

double
state_kind_estimate(struct state *s, const char *kind)
{
	size_t k;

	for (k = 0; k < s->nkinds; k++)
		if (strcmp(s->kinds[k].kind, kind) == 0)
			return s->kinds[k].sum / s->kinds[k].n;
	return -1;
}

int
state_task_start(struct state *s, struct state_task *t, struct vj_err *err)
{
	sqlite3_stmt *q = s->st[S_TASK_START];
	char buf[32];
	int own = !s->in_tx;

	if (own && exec(s, "BEGIN IMMEDIATE", err) == -1)
		return -1;
	t->stamp = s->stamp + 1;
	sqlite3_bind_text(q, 1, t->name, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, t->kind, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 3, t->jail, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 4, t->fingerprint, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 5, t->depstamp, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 6, t->stamp);
	sqlite3_bind_int64(q, 7, t->run);
	sqlite3_bind_double(q, 8, t->started);
	sqlite3_bind_text(q, 9, t->log, -1, SQLITE_STATIC);
	snprintf(buf, sizeof(buf), "%lld", (long long)t->stamp);
	sqlite3_bind_text(s->st[S_STAMP], 1, buf, -1, SQLITE_TRANSIENT);
	q = s->st[S_TRUN_START];
	sqlite3_bind_int64(q, 1, t->run);
	sqlite3_bind_text(q, 2, t->name, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 3, t->kind, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 4, t->jail, -1, SQLITE_STATIC);
	if (t->slot >= 0)
		sqlite3_bind_int(q, 5, t->slot);
	sqlite3_bind_double(q, 6, t->started);
	sqlite3_bind_text(q, 7, t->log, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 8, t->deps, -1, SQLITE_STATIC);
	if (step(s, S_TASK_START, err) == -1 || step(s, S_STAMP, err) == -1 ||
	    step(s, S_TRUN_START, err) == -1 ||
	    (own && exec(s, "COMMIT", err) == -1)) {
		if (own)
			(void)sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
		return -1;
	}
	/* In a batch that is later rolled back the stamp is still unique. */
	s->stamp = t->stamp;
	return 0;
}

int
state_task_force(struct state *s, const char *name, struct vj_err *err)
{
	sqlite3_bind_text(s->st[S_TASK_FORCE], 1, name, -1, SQLITE_STATIC);
	return step(s, S_TASK_FORCE, err);
}

int
state_task_finish(struct state *s, const struct state_task *t,
    struct vj_err *err)
{
	sqlite3_stmt *q = s->st[S_TASK_FINISH];

	sqlite3_bind_text(q, 1, t->name, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, t->status, -1, SQLITE_STATIC);
	sqlite3_bind_int(q, 3, t->exit_status);
	sqlite3_bind_double(q, 4, t->ended);
	sqlite3_bind_double(q, 5, t->duration);
	/* The run's row first: its subquery reads the task's run. */
	q = s->st[S_TRUN_FINISH];
	sqlite3_bind_text(q, 1, t->name, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, t->status, -1, SQLITE_STATIC);
	sqlite3_bind_int(q, 3, t->exit_status);
	sqlite3_bind_double(q, 4, t->ended);
	if (step(s, S_TRUN_FINISH, err) == -1)
		return -1;
	return step(s, S_TASK_FINISH, err);
}

int
state_task_skipped(struct state *s, int64_t run, const struct state_task *t,
    const char *status, const char *cause, struct vj_err *err)
{
	sqlite3_stmt *q = s->st[S_TRUN_SKIP];

	sqlite3_bind_int64(q, 1, run);
	sqlite3_bind_text(q, 2, t->name, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 3, t->kind, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 4, t->jail, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 5, status, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 6, cause, -1, SQLITE_STATIC);
	return step(s, S_TRUN_SKIP, err);
}

int
state_jail_put(struct state *s, const struct state_jail *j, struct vj_err *err)
{
	sqlite3_stmt *q = s->st[S_JAIL_PUT];

	sqlite3_bind_text(q, 1, j->name, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, j->address, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 3, j->root, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 4, j->status, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 5, j->run);
	sqlite3_bind_double(q, 6, j->updated);
	sqlite3_bind_text(q, 7, j->limits, -1, SQLITE_STATIC);
	sqlite3_bind_int(q, 8, j->boot);
	return step(s, S_JAIL_PUT, err);
}

int
state_list(struct state *s, void (*jail_fn)(const struct state_jail *, void *),
    void (*task_fn)(const struct state_task *, void *), void *arg,
    struct vj_err *err)
{
	sqlite3_stmt *q = NULL;
	int rc;

	if (sqlite3_prepare_v2(s->db, "SELECT name, address, root, status, "
	    "run, updated, limits, boot FROM jails ORDER BY name", -1, &q,
	    NULL) !=
	    SQLITE_OK)
		return fail(s, err, "SELECT jails");
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		struct state_jail j = {
			(const char *)sqlite3_column_text(q, 0),
			(const char *)sqlite3_column_text(q, 1),
			(const char *)sqlite3_column_text(q, 2),
			(const char *)sqlite3_column_text(q, 3),
			sqlite3_column_int64(q, 4), sqlite3_column_double(q, 5),
			(const char *)sqlite3_column_text(q, 6),
			sqlite3_column_int(q, 7),
		};
		jail_fn(&j, arg);
	}
	sqlite3_finalize(q);
	if (rc != SQLITE_DONE)
		return fail(s, err, "SELECT jails");
	if (sqlite3_prepare_v2(s->db, "SELECT name, kind, jail, status, run, "
	    "started, ended, duration, exit_status, log, fingerprint FROM tasks "
	    "ORDER BY jail, name", -1, &q, NULL) != SQLITE_OK)
		return fail(s, err, "SELECT tasks");
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		struct state_task t;
		memset(&t, 0, sizeof(t));
		t.name = (const char *)sqlite3_column_text(q, 0);
		t.kind = (const char *)sqlite3_column_text(q, 1);
		t.jail = (const char *)sqlite3_column_text(q, 2);
		t.status = (const char *)sqlite3_column_text(q, 3);
		t.run = sqlite3_column_int64(q, 4);
		t.started = sqlite3_column_double(q, 5);
		t.ended = sqlite3_column_double(q, 6);
		t.duration = sqlite3_column_type(q, 7) == SQLITE_NULL ? -1 :
		    sqlite3_column_double(q, 7);
		t.exit_status = sqlite3_column_int(q, 8);
		t.log = (const char *)sqlite3_column_text(q, 9);
		t.fingerprint = (const char *)sqlite3_column_text(q, 10);
		task_fn(&t, arg);
	}
	sqlite3_finalize(q);
	return rc == SQLITE_DONE ? 0 : fail(s, err, "SELECT tasks");
}

int
state_file_digest(struct state *s, const char *path, char hex[65],
    struct vj_err *err)
{
	struct stat st;
	sqlite3_stmt *q;
	int64_t mtime;
	int rc;

	if (s->readonly)	/* the digest cache is not written */
		return sha256_file(path, hex, err);
	if (stat(path, &st) == -1) {
		vj_errno(err, "%s", path);
		return -1;
	}
	mtime = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
	q = s->st[S_DIGEST_GET];
	sqlite3_bind_text(q, 1, path, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 2, (int64_t)st.st_size);
	sqlite3_bind_int64(q, 3, mtime);
	sqlite3_bind_int64(q, 4, (int64_t)st.st_ino);
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW && sqlite3_column_bytes(q, 0) == 64) {
		memcpy(hex, sqlite3_column_text(q, 0), 65);
		sqlite3_reset(q);
		sqlite3_clear_bindings(q);
		return 0;
	}
	sqlite3_reset(q);
	sqlite3_clear_bindings(q);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return fail(s, err, sql[S_DIGEST_GET]);
	if (sha256_file(path, hex, err) == -1)
		return -1;
	q = s->st[S_DIGEST_PUT];
	sqlite3_bind_text(q, 1, path, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 2, (int64_t)st.st_size);
	sqlite3_bind_int64(q, 3, mtime);
	sqlite3_bind_int64(q, 4, (int64_t)st.st_ino);
	sqlite3_bind_text(q, 5, hex, 64, SQLITE_STATIC);
	return step(s, S_DIGEST_PUT, err);
}

static void
pkg_row(sqlite3_stmt *q, struct state_package *p)
{
	const char *t;

	memset(p, 0, sizeof(*p));
	if ((t = (const char *)sqlite3_column_text(q, 0)) != NULL)
		snprintf(p->key, sizeof(p->key), "%s", t);
	p->port = col(q, 1);
	p->version = col(q, 2);
	p->path = col(q, 3);
	if ((t = (const char *)sqlite3_column_text(q, 4)) != NULL)
		snprintf(p->sha256, sizeof(p->sha256), "%s", t);
	p->size = sqlite3_column_int64(q, 5);
	p->nfiles = sqlite3_column_int64(q, 6);
	p->build_seconds = sqlite3_column_double(q, 7);
	p->built = sqlite3_column_double(q, 8);
}

void
state_package_clear(struct state_package *p)
{
	free(p->port);
	free(p->version);
	free(p->path);
	memset(p, 0, sizeof(*p));
}

int
state_package_get(struct state *s, const char *key, struct state_package *p,
    struct vj_err *err)
{
	sqlite3_stmt *q = s->st[S_PKG_GET];
	int rc;

	sqlite3_bind_text(q, 1, key, -1, SQLITE_STATIC);
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW)
		pkg_row(q, p);
	sqlite3_reset(q);
	sqlite3_clear_bindings(q);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return fail(s, err, sql[S_PKG_GET]);
	return rc == SQLITE_ROW;
}

int
state_package_put(struct state *s, const struct state_package *p,
    const char *files, struct vj_err *err)
{
	sqlite3_stmt *q = s->st[S_PKG_PUT];

	sqlite3_bind_text(q, 1, p->key, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, p->port, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 3, p->version, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 4, p->path, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 5, p->sha256, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 6, p->size);
	sqlite3_bind_int64(q, 7, p->nfiles);
	sqlite3_bind_text(q, 8, files, -1, SQLITE_STATIC);
	sqlite3_bind_double(q, 9, p->build_seconds);
	sqlite3_bind_double(q, 10, p->built);
	return step(s, S_PKG_PUT, err);
}

int
state_package_delete(struct state *s, const char *key, struct vj_err *err)
{
	sqlite3_bind_text(s->st[S_PKG_DEL], 1, key, -1, SQLITE_STATIC);
	return step(s, S_PKG_DEL, err);
}

int
state_packages(struct state *s, void (*fn)(const struct state_package *,
    void *), void *arg, struct vj_err *err)
{
	sqlite3_stmt *q = NULL;
	struct state_package p;
	int rc;

	if (sqlite3_prepare_v2(s->db, "SELECT key, port, version, path, "
	    "sha256, size, nfiles, build_seconds, built FROM packages "
	    "ORDER BY port, built", -1, &q, NULL) != SQLITE_OK)
		return fail(s, err, "SELECT packages");
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		pkg_row(q, &p);
		fn(&p, arg);
		state_package_clear(&p);
	}
	sqlite3_finalize(q);
	return rc == SQLITE_DONE ? 0 : fail(s, err, "SELECT packages");
}

int
state_forget_jail(struct state *s, const char *name, struct vj_err *err)
{
	static const char *const q[] = {
		"DELETE FROM tasks WHERE jail = ?1",
		"DELETE FROM jails WHERE name = ?1",
	};
	sqlite3_stmt *st = NULL;
	size_t i;

	if (exec(s, "BEGIN IMMEDIATE", err) == -1)
		return -1;
	for (i = 0; i < 2; i++) {
		if (sqlite3_prepare_v2(s->db, q[i], -1, &st, NULL) != SQLITE_OK)
			goto fail;
		sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
		if (sqlite3_step(st) != SQLITE_DONE)
			goto fail;
		sqlite3_finalize(st);
		st = NULL;
	}
	return exec(s, "COMMIT", err);
fail:
	sqlite3_finalize(st);
	fail(s, err, q[i]);
	(void)sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
	return -1;
}

int
state_runs(struct state *s, int64_t only, void (*fn)(const struct state_run *,
    void *), void *arg, struct vj_err *err)
{
	sqlite3_stmt *q = NULL;
	int rc;

	if (sqlite3_prepare_v2(s->db, "SELECT id, started, ended, status, "
	    "command, jobs, tasks, ran, uptodate, failed, skipped FROM runs "
	    "WHERE ?1 = 0 OR id = ?1 ORDER BY id", -1, &q, NULL) != SQLITE_OK)
		return fail(s, err, "SELECT runs");
	sqlite3_bind_int64(q, 1, only);
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		struct state_run r = {
			sqlite3_column_int64(q, 0), sqlite3_column_double(q, 1),
			sqlite3_column_double(q, 2),
			(const char *)sqlite3_column_text(q, 3),
			(const char *)sqlite3_column_text(q, 4),
			sqlite3_column_int(q, 5),
			{ sqlite3_column_int64(q, 6), sqlite3_column_int64(q, 7),
			  sqlite3_column_int64(q, 8), sqlite3_column_int64(q, 9),
			  sqlite3_column_int64(q, 10) },
			sqlite3_column_type(q, 6) != SQLITE_NULL,
		};
		fn(&r, arg);
	}
	sqlite3_finalize(q);
	return rc == SQLITE_DONE ? 0 : fail(s, err, "SELECT runs");
}

int
state_task_runs(struct state *s, int64_t run, const char *name,
    void (*fn)(const struct state_task_run *, void *), void *arg,
    struct vj_err *err)
{
	sqlite3_stmt *q = NULL;
	int rc;

	if (sqlite3_prepare_v2(s->db, "SELECT run, name, kind, jail, status, "
	    "slot, started, ended, exit_status, log, cause, deps FROM task_runs "
	    "WHERE (?1 = 0 OR run = ?1) AND (?2 IS NULL OR name = ?2) "
	    "ORDER BY run, started IS NULL, started, name", -1, &q, NULL) !=
	    SQLITE_OK)
		return fail(s, err, "SELECT task_runs");
	sqlite3_bind_int64(q, 1, run);
	sqlite3_bind_text(q, 2, name, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		struct state_task_run t = {
			sqlite3_column_int64(q, 0),
			(const char *)sqlite3_column_text(q, 1),
			(const char *)sqlite3_column_text(q, 2),
			(const char *)sqlite3_column_text(q, 3),
			(const char *)sqlite3_column_text(q, 4),
			sqlite3_column_type(q, 5) == SQLITE_NULL ? -1 :
			    sqlite3_column_int(q, 5),
			sqlite3_column_double(q, 6), sqlite3_column_double(q, 7),
			sqlite3_column_type(q, 8) == SQLITE_NULL ? -1 :
			    sqlite3_column_int(q, 8),
			(const char *)sqlite3_column_text(q, 9),
			(const char *)sqlite3_column_text(q, 10),
			(const char *)sqlite3_column_text(q, 11),
		};
		fn(&t, arg);
	}
	sqlite3_finalize(q);
	return rc == SQLITE_DONE ? 0 : fail(s, err, "SELECT task_runs");
}
