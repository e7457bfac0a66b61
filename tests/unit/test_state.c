/* SPDX-License-Identifier: BSD-2-Clause */
/* state/: records survive reopening; one holder at a time; identity. */
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include <string.h>

#include "../../state/state.h"
#include "../../util/util.h"
#include "t.h"

TEST(state_records_and_reloads)
{
	char *dir = fs_join(t_tmpdir(), "state");
	struct state *s = NULL;
	struct vj_err err;
	struct state_task t;
	const struct state_task *r;
	int64_t run;

	REQUIRE(state_open(dir, "/j", 0, &s, &err) == 0);
	CHECK(strlen(state_uuid(s)) == 36);
	CHECK(state_run_begin(s, "vjbuild x", 2, &run, &err) == 0);
	memset(&t, 0, sizeof(t));
	t.name = "extract:a";
	t.kind = "extract";
	t.jail = "a";
	t.fingerprint = "f1";
	t.depstamp = "d1";
	t.log = "/l";
	t.run = run;
	t.started = 1;
	CHECK(state_task_start(s, &t, &err) == 0);
	CHECK(t.stamp == 1);
	t.status = "ok";
	t.ended = 2;
	t.duration = 1.5;
	CHECK(state_task_finish(s, &t, &err) == 0);
	state_close(s);
	s = NULL;
	REQUIRE(state_open(dir, "/j", 0, &s, &err) == 0);
	r = state_task_get(s, "extract:a");
	REQUIRE(r != NULL);
	CHECK_STR(r->status, "ok");
	CHECK_STR(r->fingerprint, "f1");
	CHECK(r->duration == 1.5);
	CHECK(r->stamp == 1);
	CHECK(state_kind_estimate(s, "extract") == 1.5);
	CHECK(state_kind_estimate(s, "devfs") == -1);
	CHECK(state_task_get(s, "nope") == NULL);
	/* The stamp goes on counting across opens (0: a new one). */
	t.name = "extract:b";
	t.stamp = 0;
	CHECK(state_task_start(s, &t, &err) == 0);
	CHECK(t.stamp == 2);
	state_close(s);
	free(dir);
}

/* A start and its finish written as one record, as the scheduler writes a
 * short task's; a stamp is never one a record was written with. */
TEST(state_done_is_a_start_and_its_finish)
{
	char *dir = fs_join(t_tmpdir(), "done");
	struct state *s = NULL;
	struct vj_err err;
	struct state_task t;
	const struct state_task *r;
	int64_t run, lost;

	REQUIRE(state_open(dir, "/j", 0, &s, &err) == 0);
	CHECK(state_run_begin(s, "vjbuild x", 2, &run, &err) == 0);
	memset(&t, 0, sizeof(t));
	t.name = "cmd:x";
	t.kind = "cmd";
	t.fingerprint = "f1";
	t.depstamp = "d1";
	t.log = "/l";
	t.run = run;
	t.started = 10;
	t.slot = 1;
	t.stamp = state_stamp_new(s);
	t.status = "ok";
	t.ended = 12;
	t.duration = 2;
	CHECK(state_tx_begin(s, 0, &err) == 0);
	CHECK(state_task_done(s, &t, &err) == 0);
	CHECK(state_tx_commit(s, &err) == 0);
	/* Given, then rolled back with its batch: not given again while
	 * open (a record of the batch may have been made with it). */
	CHECK(state_tx_begin(s, 0, &err) == 0);
	lost = state_stamp_new(s);
	CHECK(lost == t.stamp + 1);
	state_tx_rollback(s);
	CHECK(state_stamp_new(s) == lost + 1);
	state_close(s);
	s = NULL;
	REQUIRE(state_open(dir, "/j", 0, &s, &err) == 0);
	r = state_task_get(s, "cmd:x");
	REQUIRE(r != NULL);
	CHECK_STR(r->status, "ok");
	CHECK_STR(r->fingerprint, "f1");
	CHECK_STR(r->depstamp, "d1");
	CHECK_STR(r->log, "/l");
	CHECK(r->stamp == 1);
	CHECK(r->started == 10 && r->ended == 12 && r->duration == 2);
	/* Failed: the last good duration stays, the rest is the new run's. */
	CHECK(state_run_begin(s, "vjbuild x", 2, &run, &err) == 0);
	t.run = run;
	t.fingerprint = "f2";
	t.stamp = state_stamp_new(s);
	CHECK(t.stamp == r->stamp + 1);	/* after every one written */
	t.status = "failed";
	t.exit_status = 3;
	t.started = 20;
	t.ended = 25;
	t.duration = 5;
	CHECK(state_task_done(s, &t, &err) == 0);	/* its own commit */
	state_close(s);
	s = NULL;
	REQUIRE(state_open(dir, "/j", 0, &s, &err) == 0);
	r = state_task_get(s, "cmd:x");
	REQUIRE(r != NULL);
	CHECK_STR(r->status, "failed");
	CHECK_STR(r->fingerprint, "f2");
	CHECK(r->exit_status == 3 && r->ended == 25 && r->duration == 2);
	CHECK(r->stamp == t.stamp);
	/* Written with its record, outside a batch too. */
	CHECK(state_stamp_new(s) == t.stamp + 1);
	state_close(s);
	free(dir);
}

TEST(state_refuses_second_holder)
{
	char *dir = fs_join(t_tmpdir(), "state");
	struct state *a = NULL, *b = NULL;
	struct vj_err err;

	REQUIRE(state_open(dir, "/j", 0, &a, &err) == 0);
	CHECK(state_open(dir, "/j", 0, &b, &err) == -1);
	CHECK(strstr(err.msg, "in use by another vjbuild") != NULL);
	state_close(a);
	CHECK(state_open(dir, "/j", 0, &b, &err) == 0);
	state_close(b);
	free(dir);
}

TEST(state_refuses_other_jails_dir)
{
	char *dir = fs_join(t_tmpdir(), "state");
	struct state *a = NULL;
	struct vj_err err;

	REQUIRE(state_open(dir, "/j", 0, &a, &err) == 0);
	state_close(a);
	a = NULL;
	CHECK(state_open(dir, "/other", 0, &a, &err) == -1);
	CHECK(strstr(err.msg, "belongs to the jails directory /j") != NULL);
	free(dir);
}

TEST(state_digest_cache)
{
	char *dir = fs_join(t_tmpdir(), "state");
	char *file = fs_join(t_tmpdir(), "f");
	struct state *s = NULL;
	struct vj_err err;
	char h1[65], h2[65];
	int dfd = open(t_tmpdir(), O_RDONLY | O_DIRECTORY);

	REQUIRE(fs_write_beneath(dfd, "f", "abc", 3, 0644, &err) == 0);
	REQUIRE(state_open(dir, "/j", 0, &s, &err) == 0);
	CHECK(state_file_digest(s, file, h1, &err) == 0);
	CHECK_STR(h1, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	CHECK(state_file_digest(s, file, h2, &err) == 0);
	CHECK_STR(h2, h1);
	/* A changed file (size differs) is read again. */
	CHECK(fs_write_beneath(dfd, "f", "abcd", 4, 0644, &err) == 0);
	close(dfd);
	CHECK(state_file_digest(s, file, h2, &err) == 0);
	CHECK(strcmp(h1, h2) != 0);
	state_close(s);
	free(dir);
	free(file);
}

static void
count_run(const struct state_run *r, void *arg)
{
	int64_t *ids = arg;

	ids[ids[0] + 1] = r->id;
	ids[0]++;
}

static void
count_task_run(const struct state_task_run *t, void *arg)
{
	int *n = arg;

	(*n)++;
	(void)t;
}

/* Each run keeps its tasks and a log directory; past `history` runs, the
 * oldest go, rows and logs, and `latest` names the newest. */
TEST(state_keeps_history_of_runs)
{
	char *dir = fs_join(t_tmpdir(), "hist");
	char *old, *latest, buf[32];
	struct state *s = NULL;
	struct vj_err err;
	struct state_task t;
	struct state_counts n = { 1, 1, 0, 0, 0 };
	int64_t run, ids[8] = { 0 };
	int i, tasks = 0;
	ssize_t len;

	REQUIRE(state_open(dir, "/j", 0, &s, &err) == 0);
	/* A lost database's run 1: its logs are not the new run 1's. */
	old = fs_join(dir, "logs/1");
	CHECK(mkdir(old, 0755) == 0);
	free(old);
	old = fs_join(dir, "logs/1/stale.log");
	close(open(old, O_WRONLY | O_CREAT, 0644));
	state_set_history(s, 2);
	for (i = 0; i < 3; i++) {
		CHECK(state_run_begin(s, "vjbuild x", 1, &run, &err) == 0);
		if (i == 0)
			CHECK(access(old, F_OK) == -1);
		memset(&t, 0, sizeof(t));
		t.name = "a";
		t.kind = "cmd";
		t.fingerprint = "f";
		t.depstamp = "d";
		t.run = run;
		t.started = 1 + i;
		t.slot = 0;
		CHECK(state_task_start(s, &t, &err) == 0);
		t.status = i == 1 ? "failed" : "ok";
		t.ended = 2 + i;
		CHECK(state_task_finish(s, &t, &err) == 0);
		CHECK(state_run_end(s, run, t.status, &n, &err) == 0);
	}
	free(old);
	CHECK(state_runs(s, 0, count_run, ids, &err) == 0);
	CHECK(ids[0] == 2 && ids[1] == 2 && ids[2] == 3);
	CHECK(state_task_runs(s, 0, "a", count_task_run, &tasks, &err) == 0);
	CHECK(tasks == 2);
	old = fs_join(dir, "logs/1");
	CHECK(access(old, F_OK) == -1);
	free(old);
	old = fs_join(dir, "logs/2");
	CHECK(access(old, F_OK) == 0);
	free(old);
	latest = fs_join(dir, "logs/latest");
	len = readlink(latest, buf, sizeof(buf) - 1);
	CHECK(len == 1 && buf[0] == '3');
	free(latest);
	state_close(s);
	free(dir);
}
