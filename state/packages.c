/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * What the state knows of files: digests by (path, size, mtime, inode),
 * and the packages of the cache as they were built.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../util/util.h"
#include "db.h"

/* The file's (size, mtime in ns, inode), or -1 with err. */
static int
file_id(const char *path, int64_t id[3], struct vj_err *err)
{
	struct stat st;

	if (stat(path, &st) == -1) {
		vj_errno(err, "%s", path);
		return -1;
	}
	id[0] = (int64_t)st.st_size;
	id[1] = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
	id[2] = (int64_t)st.st_ino;
	return 0;
}

int
state_file_digest_recorded(struct state *s, const char *path, char hex[65],
    struct vj_err *err)
{
	sqlite3_stmt *q = s->st[S_DIGEST_GET];
	int64_t id[3];
	int rc, found = 0;

	if (file_id(path, id, err) == -1)
		return -1;
	sqlite3_bind_text(q, 1, path, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 2, id[0]);
	sqlite3_bind_int64(q, 3, id[1]);
	sqlite3_bind_int64(q, 4, id[2]);
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW && sqlite3_column_bytes(q, 0) == 64) {
		memcpy(hex, sqlite3_column_text(q, 0), 65);
		found = 1;
	}
	sqlite3_reset(q);
	sqlite3_clear_bindings(q);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return db_fail(s, err, db_sql[S_DIGEST_GET]);
	return found;
}

int
state_file_digest_put(struct state *s, const char *path, const char *hex,
    struct vj_err *err)
{
	sqlite3_stmt *q = s->st[S_DIGEST_PUT];
	int64_t id[3];

	if (s->readonly)	/* the digest cache is not written */
		return 0;
	if (file_id(path, id, err) == -1)
		return -1;
	sqlite3_bind_text(q, 1, path, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 2, id[0]);
	sqlite3_bind_int64(q, 3, id[1]);
	sqlite3_bind_int64(q, 4, id[2]);
	sqlite3_bind_text(q, 5, hex, 64, SQLITE_STATIC);
	return db_step(s, S_DIGEST_PUT, err);
}

int
state_file_digest(struct state *s, const char *path, char hex[65],
    struct vj_err *err)
{
	int rc = state_file_digest_recorded(s, path, hex, err);

	if (rc != 0)
		return rc == 1 ? 0 : -1;
	if (sha256_file(path, hex, err) == -1)
		return -1;
	return state_file_digest_put(s, path, hex, err);
}

static void
pkg_row(sqlite3_stmt *q, struct state_package *p)
{
	const char *t;

	memset(p, 0, sizeof(*p));
	if ((t = (const char *)sqlite3_column_text(q, 0)) != NULL)
		snprintf(p->key, sizeof(p->key), "%s", t);
	p->port = db_col(q, 1);
	p->version = db_col(q, 2);
	p->path = db_col(q, 3);
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
		return db_fail(s, err, db_sql[S_PKG_GET]);
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
	return db_step(s, S_PKG_PUT, err);
}

int
state_package_delete(struct state *s, const char *key, struct vj_err *err)
{
	sqlite3_bind_text(s->st[S_PKG_DEL], 1, key, -1, SQLITE_STATIC);
	return db_step(s, S_PKG_DEL, err);
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
		return db_fail(s, err, "SELECT packages");
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		pkg_row(q, &p);
		fn(&p, arg);
		state_package_clear(&p);
	}
	sqlite3_finalize(q);
	return rc == SQLITE_DONE ? 0 : db_fail(s, err, "SELECT packages");
}
