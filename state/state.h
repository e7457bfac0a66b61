/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The one record of what vjbuild did: runs, tasks and jails, in a SQLite
 * database inside the state directory (DIR/vjbuild.db, logs in DIR/logs).
 * One vjbuild at a time holds a state directory: state_open takes an
 * exclusive lock on the directory itself (not on a file in it, which a
 * "stale lock" clean-up would delete) and refuses, naming the holder, when
 * another has it.
 *
 * A task's record says with which fingerprint it last ran, how it ended, and
 * its stamp: a number that changes each time the task really runs. A task
 * also keeps the stamps of its dependencies as they were when it ran
 * (depstamp), so that a dependency that ran again since, even in a run that
 * was killed before the dependent started, makes the dependent run again.
 */
#ifndef VJ_STATE_H
#define VJ_STATE_H

#include <stdint.h>
#include <sys/types.h>

struct vj_err;
struct state;

struct state_task {
	const char *name, *kind, *jail;	/* borrowed from the state */
	const char *fingerprint, *depstamp, *status, *log;
	int64_t stamp, run;
	double started, ended, duration;
	int exit_status;
	int slot;			/* start: the -j slot it runs in, or -1 */
	const char *deps;		/* start: its dependencies' names, one
					 * space between (NULL: none) */
};

struct state_jail {
	const char *name, *address, *root, *status;
	int64_t run;
	double updated;
	const char *limits;	/* its line's limit.* words ("pids=64 ..."),
				 * or NULL */
	int boot;		/* started by start --all (not boot=no) */
};

/*
 * Opens (creating) the state directory dir for jails kept in jails_dir.
 * Refuses, with err, when another vjbuild holds it, or when it was made for
 * another jails directory. readonly opens an existing database without the
 * lock, for status. Returns 0 and sets *out, or -1.
 */
int state_open(const char *dir, const char *jails_dir, int readonly,
    struct state **out, struct vj_err *err);
void state_close(struct state *s);
/* 1 when a vjbuild holds the state directory dir now (its tasks recorded
 * "running" are running), 0 when none does (they were interrupted). */
int state_in_use(const char *dir);
/* A random identity made when the database was created; borrowed. */
const char *state_uuid(const struct state *s);
/* Where task logs go: DIR/logs/RUN once a run has begun (DIR/logs/latest
 * links to it), DIR/logs before; borrowed. */
const char *state_logdir(const struct state *s);
/* How many runs are kept, their task records and logs (default 20): at a
 * run's begin, those of older runs are removed. */
void state_set_history(struct state *s, int runs);

/* What a run's tasks came to. */
struct state_counts {
	int64_t tasks, ran, uptodate, failed, skipped;
};

/* Starts a run; sets *run, makes its log directory, prunes the runs
 * past the history. 0 or -1 with err. */
int state_run_begin(struct state *s, const char *command, int jobs,
    int64_t *run, struct vj_err *err);
/* Ends it with status ("ok", "failed", "interrupted", "error") and its
 * counts (NULL: not known), durably with all before it unless the counts
 * say it ran nothing (then a power cut may lose its end, nothing else). */
int state_run_end(struct state *s, int64_t run, const char *status,
    const struct state_counts *n, struct vj_err *err);

/* A run as recorded. */
struct state_run {
	int64_t id;
	double started, ended;		/* ended 0: did not end (killed) */
	const char *status, *command;
	int jobs;
	struct state_counts n;
	int counted;			/* n is known */
};
/* Calls fn for each run kept (only: that one; 0: all), oldest first. */
int state_runs(struct state *s, int64_t only, void (*fn)(const struct
    state_run *, void *), void *arg, struct vj_err *err);

/* A task in a run: one that started (running, ok, failed, interrupted)
 * or one that did not ("skipped", with the failed task that caused it;
 * "not run": the run stopped first). */
struct state_task_run {
	int64_t run;
	const char *name, *kind, *jail, *status;
	int slot;			/* -1: none */
	double started, ended;		/* 0: not */
	int exit_status;		/* -1: none */
	const char *log, *cause;	/* NULL: none */
	const char *deps;		/* names, one space between, or NULL */
};
/* Calls fn for the tasks of run (0: every run kept) named name (NULL:
 * all), by run, then start. */
int state_task_runs(struct state *s, int64_t run, const char *name,
    void (*fn)(const struct state_task_run *, void *), void *arg,
    struct vj_err *err);
/* Records that task t (name, kind, jail) did not start in run. */
int state_task_skipped(struct state *s, int64_t run,
    const struct state_task *t, const char *status, const char *cause,
    struct vj_err *err);

/* The last record of task name, or NULL; valid until state_close or until
 * the task is recorded again. Loaded once, at open. */
const struct state_task *state_task_get(struct state *s, const char *name);
/* Average duration of finished tasks of kind, or -1 when none. */
double state_kind_estimate(struct state *s, const char *kind);

/* A new stamp: above every stamp written (the last one given is written
 * with the next commit) and every one given since the open, so that no
 * two records are ever written with the same one. */
int64_t state_stamp_new(struct state *s);
/* Records that task t starts now (status "running"), durably, before its
 * child touches anything. Uses t's name, kind, jail, fingerprint, depstamp,
 * log, run, started, stamp, slot, deps; a stamp of 0 is given a new one
 * (state_stamp_new). */
int state_task_start(struct state *s, struct state_task *t,
    struct vj_err *err);
/* Records a start and its finish at once (state_task_start and
 * state_task_finish's fields), for a start not recorded before: what a
 * batch holds of a task that ended before it was written (loop_record). */
int state_task_done(struct state *s, const struct state_task *t,
    struct vj_err *err);
/*
 * A batch: what state_task_start and state_task_finish record between
 * state_tx_begin and state_tx_commit is one transaction (outside a batch,
 * each is its own). durable: the commit is on disk before
 * state_tx_commit returns. The scheduler asks for it when a task about to
 * start has a record that would call it done, so that a power cut cannot
 * bring that record back over a half-rewritten output; any other batch may
 * be lost whole on a power cut, which only makes tasks run again, and
 * state_run_end of a run that ran anything makes everything durable.
 */
int state_tx_begin(struct state *s, int durable, struct vj_err *err);
int state_tx_commit(struct state *s, struct vj_err *err);
void state_tx_rollback(struct state *s);
/* Records that task name, done ("ok"), is to run again (status "forced"):
 * its record calls it done no more. In a batch, like the others. */
int state_task_force(struct state *s, const char *name, struct vj_err *err);
/* Records how it ended: status ("ok", "failed", "interrupted"), exit status,
 * ended, duration, in its record and in its run's (t->run). */
int state_task_finish(struct state *s, const struct state_task *t,
    struct vj_err *err);

int state_jail_put(struct state *s, const struct state_jail *j,
    struct vj_err *err);

/* Removes jail name and the records of its tasks. 0 or -1. */
int state_forget_jail(struct state *s, const char *name, struct vj_err *err);

/* Calls fn for each jail, then each task, ordered by name. */
int state_list(struct state *s, void (*jail_fn)(const struct state_jail *,
    void *), void (*task_fn)(const struct state_task *, void *), void *arg,
    struct vj_err *err);

/*
 * Digest of a file, cached by (path, size, mtime, inode) so that an
 * unchanged base tarball is not read again. 0 and hex filled, or -1. A
 * read-only state (graph, -n) uses what is recorded and records nothing.
 */
int state_file_digest(struct state *s, const char *path, char hex[65],
    struct vj_err *err);
/* The recorded digest only: 1 and hex filled, 0 when none matches the
 * file as it is now, -1 with err (the file cannot be stat'd). */
int state_file_digest_recorded(struct state *s, const char *path,
    char hex[65], struct vj_err *err);
/* Records hex as the digest of the file as it is now, for a file whose
 * digest was taken elsewhere (a task's process); nothing in a read-only
 * state. */
int state_file_digest_put(struct state *s, const char *path, const char *hex,
    struct vj_err *err);

/* A package in the cache, as recorded when it was built. */
struct state_package {
	char key[65];		/* the cache key: hash of everything built */
	char sha256[65];	/* of the archive */
	char *port, *version, *path;	/* owned */
	int64_t size, nfiles;
	double build_seconds, built;
};

/* Fills p for key: 1 found, 0 not (or read-only), -1 with err. Free the
 * fields with state_package_clear. */
int state_package_get(struct state *s, const char *key,
    struct state_package *p, struct vj_err *err);
/* Records p with its file list (one path per line). */
int state_package_put(struct state *s, const struct state_package *p,
    const char *files, struct vj_err *err);
int state_package_delete(struct state *s, const char *key,
    struct vj_err *err);
void state_package_clear(struct state_package *p);
/* Calls fn for every package, by port then age. */
int state_packages(struct state *s, void (*fn)(const struct state_package *,
    void *), void *arg, struct vj_err *err);

#endif
