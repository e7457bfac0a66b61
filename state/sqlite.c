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
#include "db.h"

const char *const db_sql[S_NSTMT] = {
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
	    "ended = ?4 WHERE run = ?5 AND name = ?1",
	[S_TRUN_SKIP] = "INSERT OR REPLACE INTO task_runs(run, name, kind, "
	    "jail, status, cause) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
	/* S_TASK_START and S_TASK_FINISH in one (state_task_done). */
	[S_TASK_DONE] = "INSERT INTO tasks(name, kind, jail, fingerprint, "
	    "depstamp, stamp, status, run, started, ended, duration, "
	    "exit_status, log) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?10, ?7, ?8, "
	    "?12, CASE WHEN ?10 = 'ok' THEN ?13 END, ?11, ?9) "
	    "ON CONFLICT(name) DO UPDATE SET kind = ?2, jail = ?3, "
	    "fingerprint = ?4, depstamp = ?5, stamp = ?6, status = ?10, "
	    "run = ?7, started = ?8, ended = ?12, exit_status = ?11, log = ?9, "
	    "duration = CASE WHEN ?10 = 'ok' THEN ?13 ELSE duration END",
	[S_TRUN_DONE] = "INSERT OR REPLACE INTO task_runs(run, name, kind, "
	    "jail, status, slot, started, log, deps, exit_status, ended) "
	    "VALUES (?1, ?2, ?3, ?4, ?9, ?5, ?6, ?7, ?8, ?10, ?11)",
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
	"  deps TEXT, PRIMARY KEY (run, name)) WITHOUT ROWID;"
	"ALTER TABLE runs ADD COLUMN tasks INTEGER;"
	"ALTER TABLE runs ADD COLUMN ran INTEGER;"
	"ALTER TABLE runs ADD COLUMN uptodate INTEGER;"
	"ALTER TABLE runs ADD COLUMN failed INTEGER;"
	"ALTER TABLE runs ADD COLUMN skipped INTEGER;"
	"ALTER TABLE jails ADD COLUMN boot INTEGER NOT NULL DEFAULT 1;",
};

int
db_fail(struct state *s, struct vj_err *err, const char *what)
{
	vj_errf(err, "%s/vjbuild.db: %s: %s", s->dir, what,
	    s->db ? sqlite3_errmsg(s->db) : "cannot open");
	return -1;
}

int
db_exec(struct state *s, const char *q, struct vj_err *err)
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
int
db_step(struct state *s, enum stmt i, struct vj_err *err)
{
	int rc = sqlite3_step(s->st[i]);

	sqlite3_reset(s->st[i]);
	sqlite3_clear_bindings(s->st[i]);
	if (rc != SQLITE_DONE)
		return db_fail(s, err, db_sql[i]);
	return 0;
}

char *
db_col(sqlite3_stmt *q, int i)
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
		return db_fail(s, err, "SELECT meta");
	sqlite3_bind_text(q, 1, key, -1, SQLITE_STATIC);
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW)
		*val = db_col(q, 0);
	sqlite3_finalize(q);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return db_fail(s, err, "SELECT meta");
	return 0;
}

static int
meta_put(struct state *s, const char *key, const char *val, struct vj_err *err)
{
	sqlite3_stmt *q = NULL;
	int rc;

	if (sqlite3_prepare_v2(s->db, "INSERT OR REPLACE INTO meta(key, value) "
	    "VALUES (?1, ?2)", -1, &q, NULL) != SQLITE_OK)
		return db_fail(s, err, "INSERT meta");
	sqlite3_bind_text(q, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, val, -1, SQLITE_STATIC);
	rc = sqlite3_step(q);
	sqlite3_finalize(q);
	return rc == SQLITE_DONE ? 0 : db_fail(s, err, "INSERT meta");
}

static int
migrate(struct state *s, struct vj_err *err)
{
	sqlite3_stmt *q = NULL;
	int version = 0;
	char *pragma;

	if (sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &q, NULL) !=
	    SQLITE_OK)
		return db_fail(s, err, "PRAGMA user_version");
	if (sqlite3_step(q) == SQLITE_ROW)
		version = sqlite3_column_int(q, 0);
	sqlite3_finalize(q);
	if (version > NMIGRATIONS) {
		vj_errf(err, "%s/vjbuild.db: schema version %d is newer than "
		    "this vjbuild (%d)", s->dir, version, NMIGRATIONS);
		return -1;
	}
	for (; version < NMIGRATIONS; version++) {
		if (db_exec(s, "BEGIN IMMEDIATE", err) == -1)
			return -1;
		pragma = xasprintf("PRAGMA user_version = %d", version + 1);
		if (db_exec(s, migrations[version], err) == -1 ||
		    db_exec(s, pragma, err) == -1 || db_exec(s, "COMMIT", err) == -1) {
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
	s->stamp = s->stamp_saved = stamp ? strtoll(stamp, NULL, 10) : 0;
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

/* n bytes that last until state_close. */
static char *
chunk_alloc(struct state *s, size_t n)
{
	char *c;

	if (n > s->chunk_left) {
		size_t size = n > 65536 ? n : 65536;
		s->chunks = xreallocarray(s->chunks, s->nchunks + 1,
		    sizeof(*s->chunks));
		s->chunk_next = s->chunks[s->nchunks++] = xmalloc(size);
		s->chunk_left = size;
	}
	c = s->chunk_next;
	s->chunk_next += n;
	s->chunk_left -= n;
	return c;
}

/* The strings of columns 0..n-1 of q, copied into the chunks: *out[k] is
 * NULL for a NULL column. */
static void
cols(struct state *s, sqlite3_stmt *q, int n, const char **out)
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
	block = chunk_alloc(s, total);
	for (k = 0; k < n; k++) {
		out[k] = NULL;
		if (len[k] == 0)
			continue;
		memcpy(block + off, text[k], len[k] - 1);
		block[off + len[k] - 1] = '\0';
		out[k] = block + off;
		off += len[k];
	}
}

/* The index of the records by name (state_task_get). */
static void
index_tasks(struct state *s)
{
	size_t i, h;

	for (s->index_size = 16; s->index_size < 2 * s->nrecs;)
		s->index_size *= 2;
	s->index = xcalloc(s->index_size, sizeof(*s->index));
	for (i = 0; i < s->nrecs; i++) {
		h = (size_t)str_hash(s->recs[i].t.name) & (s->index_size - 1);
		while (s->index[h] != 0)
			h = (h + 1) & (s->index_size - 1);
		s->index[h] = (uint32_t)i + 1;
	}
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
		return db_fail(s, err, "SELECT count(*) FROM tasks");
	}
	cap = (size_t)sqlite3_column_int64(q, 0);
	sqlite3_finalize(q);
	s->recs = cap ? xreallocarray(NULL, cap, sizeof(*s->recs)) : NULL;
	if (sqlite3_prepare_v2(s->db, "SELECT name, kind, jail, fingerprint, "
	    "depstamp, status, log, stamp, run, started, ended, duration, "
	    "exit_status FROM tasks", -1, &q, NULL) != SQLITE_OK)
		return db_fail(s, err, "SELECT tasks");
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		struct rec *r;
		if (s->nrecs == cap) {
			cap = cap ? cap * 2 : 64;
			s->recs = xreallocarray(s->recs, cap, sizeof(*s->recs));
		}
		r = &s->recs[s->nrecs++];
		memset(r, 0, sizeof(*r));
		cols(s, q, 7, str);
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
	if (rc != SQLITE_DONE)
		return db_fail(s, err, "SELECT tasks");
	index_tasks(s);
	return 0;
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
		/* NOMUTEX: vjbuild has no threads; a connection's mutex
		 * was 4% of a 10,000-task no-op run. */
		flags = SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX;
	} else {
		if (fs_mkdirs(s->logdir, 0755) == -1) {
			vj_errno(err, "%s", s->logdir);
			goto fail;
		}
		if (lock(s, err) == -1)
			goto fail;
		flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
		    SQLITE_OPEN_NOMUTEX;
	}
	if (sqlite3_open_v2(path, &s->db, flags, NULL) != SQLITE_OK) {
		db_fail(s, err, "open");
		goto fail;
	}
	sqlite3_busy_timeout(s->db, 5000);
	/* A run reads the tasks once, at open, then writes a few pages a
	 * batch: SQLite's 2 MB default page cache would be per-task memory. */
	(void)sqlite3_exec(s->db, "PRAGMA cache_size = -512", NULL, NULL, NULL);
	if (!readonly && (db_exec(s, "PRAGMA journal_mode = WAL", err) == -1 ||
	    db_exec(s, "PRAGMA synchronous = FULL", err) == -1 ||
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
		if (sqlite3_prepare_v3(s->db, db_sql[i], -1,
		    SQLITE_PREPARE_PERSISTENT, &s->st[i], NULL) != SQLITE_OK) {
			db_fail(s, err, db_sql[i]);
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
	for (i = 0; i < s->nchunks; i++)
		free(s->chunks[i]);
	free(s->chunks);
	free(s->index);
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

int
db_set_durable(struct state *s, int durable, struct vj_err *err)
{
	if (s->durable == durable)
		return 0;
	if (db_exec(s, durable ? "PRAGMA synchronous = FULL" :
	    "PRAGMA synchronous = NORMAL", err) == -1)
		return -1;
	s->durable = durable;
	return 0;
}

int
state_tx_begin(struct state *s, int durable, struct vj_err *err)
{
	if (db_set_durable(s, durable, err) == -1 ||
	    db_exec(s, "BEGIN IMMEDIATE", err) == -1)
		return -1;
	s->in_tx = 1;
	return 0;
}

int
state_tx_commit(struct state *s, struct vj_err *err)
{
	s->in_tx = 0;
	if (db_save_stamp(s, err) == -1 || db_exec(s, "COMMIT", err) == -1) {
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
