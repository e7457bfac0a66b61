/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Inside the state: what sqlite.c (open, schema, locks, batches),
 * records.c (runs, tasks, jails) and packages.c (digests, the package
 * cache) share. Not for other modules: state.h is the interface.
 */
#ifndef VJ_STATE_DB_H
#define VJ_STATE_DB_H

#include <sqlite3.h>
#include <stdint.h>

#include "state.h"

enum stmt {
	S_RUN_BEGIN, S_RUN_END, S_TASK_START, S_TASK_FINISH, S_STAMP,
	S_JAIL_PUT, S_DIGEST_GET, S_DIGEST_PUT, S_PKG_PUT, S_PKG_GET,
	S_PKG_DEL, S_TASK_FORCE, S_TRUN_START, S_TRUN_FINISH, S_TRUN_SKIP,
	S_TASK_DONE, S_TRUN_DONE, S_NSTMT
};

extern const char *const db_sql[S_NSTMT];
#define NMIGRATIONS ((int)(sizeof(migrations) / sizeof(migrations[0])))

/* A task's record as loaded; its strings are in the state's chunks. */
struct rec {
	struct state_task t;
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
	int64_t stamp;		/* the last stamp given */
	int64_t stamp_saved;	/* the last one written (meta 'stamp') */
	struct rec *recs;	/* as read */
	size_t nrecs;
	/* Names to records: open addressing, recs index + 1, 0 empty; a
	 * power of two at least twice nrecs. */
	uint32_t *index;
	size_t index_size;
	/* The records' strings, in chunks of 64 KiB or more. */
	char **chunks, *chunk_next;
	size_t nchunks, chunk_left;
	struct kindavg *kinds;
	size_t nkinds;
};

/* err from SQLite's message, naming the database and what failed; -1. */
int db_fail(struct state *s, struct vj_err *err, const char *what);
/* Runs statements q; 0 or -1 with err. */
int db_exec(struct state *s, const char *q, struct vj_err *err);
/* Steps prepared statement i to its end, reset; 0 or -1 with err. */
int db_step(struct state *s, enum stmt i, struct vj_err *err);
/* Column i as a malloc'd string ("" for NULL). */
char *db_col(sqlite3_stmt *q, int i);
/* Writes the last stamp given, if not yet written; 0 or -1 with err. */
int db_save_stamp(struct state *s, struct vj_err *err);
/* synchronous = FULL (durable) or NORMAL, when not already. */
int db_set_durable(struct state *s, int durable, struct vj_err *err);

#endif
