/* SPDX-License-Identifier: BSD-2-Clause */
/* The PostgreSQL backend of the registry (pg.c), for registry.c only. */
#ifndef VJ_STATE_PG_H
#define VJ_STATE_PG_H

struct registry_jail;
struct vj_err;

/* Connects to url and brings its schema up to date; *conn is a PGconn. */
int pg_connect(const char *url, void **conn, struct vj_err *err);
int pg_put(void *conn, const struct registry_jail *j, struct vj_err *err);
/* 0 deleted (or none), 1 another state's (err says whose), -1. */
int pg_del(void *conn, const char *name, const char *owner,
    struct vj_err *err);
/* Makes name's row owner's when it names root on host: 0 (also when
 * there is none), 1 when another's stays (err says whose), -1. */
int pg_take(void *conn, const char *name, const char *root, const char *host,
    const char *owner, struct vj_err *err);
/* Seconds a connection or a statement may take (registry_timeout). */
void pg_set_timeout(int seconds);
int pg_list(void *conn, void (*fn)(const struct registry_jail *, void *),
    void *arg, struct vj_err *err);
void pg_close(void *conn);

/* For claims.c: q with n text parameters; a PGresult (rows when tuples,
 * else a command's), or NULL with err. */
void *pg_exec(void *conn, const char *q, int n, const char *const *params,
    int tuples, struct vj_err *err);
int pg_rows(const void *r);
const char *pg_value(const void *r, int row, int col);
long pg_affected(const void *r);	/* rows a command changed */
void pg_clear(void *r);
/* Waits up to seconds for a notification on a channel the connection
 * listens to: 1 (all queued are taken), 0 none came, -1 with err. */
int pg_wait_notify(void *conn, double seconds, struct vj_err *err);

#endif
