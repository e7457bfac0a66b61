/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The records of a state: runs (their log directories and the history
 * kept), tasks (the last record of each, and every run's), jails.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../util/util.h"
#include "db.h"

/*
 * DIR/logs/RUN made for the run's logs, and DIR/logs/latest pointing to it
 * (a new link renamed over the old: never missing, never half made).
 */
static int
run_logdir(struct state *s, int64_t run, struct vj_err *err)
{
	char name[32], *tmp = fs_join(s->logdir, ".latest.tmp");
	char *latest = fs_join(s->logdir, "latest");
	int fd;

	snprintf(name, sizeof(name), "%lld", (long long)run);
	free(s->runlogdir);
	s->runlogdir = fs_join(s->logdir, name);
	(void)unlink(tmp);
	/* A directory of this number is a lost database's run's: its logs
	 * are not this run's. */
	if ((fd = open(s->logdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) != -1) {
		(void)fs_rmtree_at(fd, name);
		close(fd);
	}
	if (mkdir(s->runlogdir, 0755) == -1 ||
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

/* Runs statement q, with ?1 = below. 0 or -1 with err. */
static int
delete_below(struct state *s, const char *q, int64_t below,
    struct vj_err *err)
{
	sqlite3_stmt *st = NULL;
	int rc;

	if (sqlite3_prepare_v2(s->db, q, -1, &st, NULL) != SQLITE_OK)
		return db_fail(s, err, q);
	sqlite3_bind_int64(st, 1, below);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : db_fail(s, err, q);
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
		return db_fail(s, err, "SELECT runs");
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
		return db_fail(s, err, "SELECT runs");
	if (delete_below(s, "DELETE FROM task_runs WHERE run < ?1", below,
	    err) == -1 || delete_below(s, "DELETE FROM runs WHERE id < ?1",
	    below, err) == -1)
		return -1;
	return 0;
}

int
state_run_begin(struct state *s, const char *command, int jobs, int64_t *run,
    struct vj_err *err)
{
	/* Not durable by itself: a power cut that loses it loses every
	 * commit after it too (the WAL keeps their order), and the first
	 * durable one, at the latest the run's end, carries it. */
	if (db_set_durable(s, 0, err) == -1)
		return -1;
	sqlite3_bind_double(s->st[S_RUN_BEGIN], 1, vj_wall());
	sqlite3_bind_text(s->st[S_RUN_BEGIN], 2, command, -1, SQLITE_STATIC);
	sqlite3_bind_int(s->st[S_RUN_BEGIN], 3, jobs);
	if (db_step(s, S_RUN_BEGIN, err) == -1)
		return -1;
	*run = sqlite3_last_insert_rowid(s->db);
	if (prune(s, *run, err) == -1)
		return -1;
	return run_logdir(s, *run, err);
}

int
state_run_end(struct state *s, int64_t run, const char *status,
    const struct state_counts *n, struct vj_err *err)
{
	sqlite3_stmt *q = s->st[S_RUN_END];

	/* The end of a run makes everything before it durable; a run that
	 * ran nothing (a no-op) has nothing but its own row to keep. */
	if (db_set_durable(s, n == NULL || n->ran > 0, err) == -1)
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
	return db_step(s, S_RUN_END, err);
}

const struct state_task *
state_task_get(struct state *s, const char *name)
{
	size_t h;

	if (s->nrecs == 0)
		return NULL;
	for (h = (size_t)str_hash(name) & (s->index_size - 1); s->index[h] != 0;
	    h = (h + 1) & (s->index_size - 1))
		if (strcmp(s->recs[s->index[h] - 1].t.name, name) == 0)
			return &s->recs[s->index[h] - 1].t;
	return NULL;
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

int64_t
state_stamp_new(struct state *s)
{
	return ++s->stamp;
}

int
db_save_stamp(struct state *s, struct vj_err *err)
{
	char buf[32];

	if (s->stamp == s->stamp_saved)
		return 0;
	snprintf(buf, sizeof(buf), "%lld", (long long)s->stamp);
	sqlite3_bind_text(s->st[S_STAMP], 1, buf, -1, SQLITE_TRANSIENT);
	if (db_step(s, S_STAMP, err) == -1)
		return -1;
	/* Should the transaction roll back, the database keeps an older
	 * value: only the records rolled back with it had stamps above it,
	 * and the next stamp given (above them too) is written with the
	 * next commit. */
	s->stamp_saved = s->stamp;
	return 0;
}

/* The columns a start and a whole record share: ?1 to ?9 of tasks' and
 * ?1 to ?8 of task_runs'. */
static void
bind_start(struct state *s, enum stmt task, enum stmt trun,
    const struct state_task *t)
{
	sqlite3_stmt *q = s->st[task];

	sqlite3_bind_text(q, 1, t->name, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, t->kind, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 3, t->jail, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 4, t->fingerprint, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 5, t->depstamp, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 6, t->stamp);
	sqlite3_bind_int64(q, 7, t->run);
	sqlite3_bind_double(q, 8, t->started);
	sqlite3_bind_text(q, 9, t->log, -1, SQLITE_STATIC);
	q = s->st[trun];
	sqlite3_bind_int64(q, 1, t->run);
	sqlite3_bind_text(q, 2, t->name, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 3, t->kind, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 4, t->jail, -1, SQLITE_STATIC);
	if (t->slot >= 0)
		sqlite3_bind_int(q, 5, t->slot);
	sqlite3_bind_double(q, 6, t->started);
	sqlite3_bind_text(q, 7, t->log, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 8, t->deps, -1, SQLITE_STATIC);
}

/* How a task ended (status, exit status, ended) as parameters at, at + 1,
 * at + 2 of q. */
static void
bind_end(sqlite3_stmt *q, int at, const struct state_task *t)
{
	sqlite3_bind_text(q, at, t->status, -1, SQLITE_STATIC);
	sqlite3_bind_int(q, at + 1, t->exit_status);
	sqlite3_bind_double(q, at + 2, t->ended);
}

/* Steps the bound statements task and trun: in the open batch, or in a
 * transaction of their own with the stamp counter. */
static int
step_record(struct state *s, enum stmt task, enum stmt trun,
    struct vj_err *err)
{
	int own = !s->in_tx;

	if ((own && db_exec(s, "BEGIN IMMEDIATE", err) == -1) ||
	    db_step(s, task, err) == -1 || db_step(s, trun, err) == -1 ||
	    (own && (db_save_stamp(s, err) == -1 ||
	    db_exec(s, "COMMIT", err) == -1))) {
		/* Nothing bound is left for the next use. */
		sqlite3_reset(s->st[task]);
		sqlite3_clear_bindings(s->st[task]);
		sqlite3_reset(s->st[trun]);
		sqlite3_clear_bindings(s->st[trun]);
		if (own)
			(void)sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
		return -1;
	}
	return 0;
}

int
state_task_start(struct state *s, struct state_task *t, struct vj_err *err)
{
	if (t->stamp == 0)
		t->stamp = state_stamp_new(s);
	bind_start(s, S_TASK_START, S_TRUN_START, t);
	return step_record(s, S_TASK_START, S_TRUN_START, err);
}

int
state_task_done(struct state *s, const struct state_task *t,
    struct vj_err *err)
{
	sqlite3_stmt *q = s->st[S_TASK_DONE];

	bind_start(s, S_TASK_DONE, S_TRUN_DONE, t);
	bind_end(q, 10, t);
	sqlite3_bind_double(q, 13, t->duration);
	bind_end(s->st[S_TRUN_DONE], 9, t);
	return step_record(s, S_TASK_DONE, S_TRUN_DONE, err);
}

int
state_task_force(struct state *s, const char *name, struct vj_err *err)
{
	sqlite3_bind_text(s->st[S_TASK_FORCE], 1, name, -1, SQLITE_STATIC);
	return db_step(s, S_TASK_FORCE, err);
}

int
state_task_finish(struct state *s, const struct state_task *t,
    struct vj_err *err)
{
	sqlite3_stmt *q = s->st[S_TASK_FINISH];

	sqlite3_bind_text(q, 1, t->name, -1, SQLITE_STATIC);
	bind_end(q, 2, t);
	sqlite3_bind_double(q, 5, t->duration);
	q = s->st[S_TRUN_FINISH];
	sqlite3_bind_text(q, 1, t->name, -1, SQLITE_STATIC);
	bind_end(q, 2, t);
	sqlite3_bind_int64(q, 5, t->run);
	if (db_step(s, S_TRUN_FINISH, err) == -1)
		return -1;
	return db_step(s, S_TASK_FINISH, err);
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
	return db_step(s, S_TRUN_SKIP, err);
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
	return db_step(s, S_JAIL_PUT, err);
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
		return db_fail(s, err, "SELECT jails");
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
		return db_fail(s, err, "SELECT jails");
	if (sqlite3_prepare_v2(s->db, "SELECT name, kind, jail, status, run, "
	    "started, ended, duration, exit_status, log, fingerprint FROM tasks "
	    "ORDER BY jail, name", -1, &q, NULL) != SQLITE_OK)
		return db_fail(s, err, "SELECT tasks");
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
	return rc == SQLITE_DONE ? 0 : db_fail(s, err, "SELECT tasks");
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

	if (db_exec(s, "BEGIN IMMEDIATE", err) == -1)
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
	return db_exec(s, "COMMIT", err);
fail:
	sqlite3_finalize(st);
	db_fail(s, err, q[i]);
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
		return db_fail(s, err, "SELECT runs");
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
	return rc == SQLITE_DONE ? 0 : db_fail(s, err, "SELECT runs");
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
		return db_fail(s, err, "SELECT task_runs");
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
	return rc == SQLITE_DONE ? 0 : db_fail(s, err, "SELECT task_runs");
}
