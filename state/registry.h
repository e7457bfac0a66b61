/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The registry of provisioned jails: name, address, root, the provisioning
 * host, state, packages with versions, created and updated. By default it
 * lives in the state database (SQLite); with registry = postgresql://...
 * it lives in PostgreSQL, so that several provisioning hosts share one.
 * Both keep their schema versioned and write in transactions with
 * parameters only. Opened by tasks in their own processes.
 */
#ifndef VJ_REGISTRY_H
#define VJ_REGISTRY_H

#include <stddef.h>

struct vj_err;
struct registry;

struct registry_jail {
	const char *name, *address, *root, *host, *state;
	const char *owner;		/* the registering state's uuid */
	const char *const *ports;	/* port names ... */
	const char *const *versions;	/* ... and their versions */
	size_t nports;
	double created, updated;	/* seconds since the epoch (lists) */
};

/*
 * Opens the registry: PostgreSQL at url, or when url is NULL the state
 * database in state_dir. Creates or upgrades the schema. 0 and *out, or -1
 * with err.
 */
int registry_open(const char *url, const char *state_dir,
    struct registry **out, struct vj_err *err);
void registry_close(struct registry *r);
/* Adds or updates jail j (created is kept) with exactly its ports. In
 * PostgreSQL, refused (-1, err naming the owner) when the name, or the
 * address, is another state's. */
int registry_put(struct registry *r, const struct registry_jail *j,
    struct vj_err *err);
/* Deletes name's row: 0 (also when there is none), 1 when it is another
 * state's (kept; err says whose), -1 with err. */
int registry_delete(struct registry *r, const char *name, const char *owner,
    struct vj_err *err);
/* vjbuild adopt: makes name's row owner's when it names root on host (the
 * same directory: the state that registered it is lost). 0 (also when
 * there is no row), 1 when it is another jail's (err says whose), -1. */
int registry_take(struct registry *r, const char *name, const char *root,
    const char *host, const char *owner, struct vj_err *err);
/* Seconds a PostgreSQL registry's connection or statement may take. */
void registry_set_timeout(int seconds);
/* Calls fn for every jail, by name (ports are not filled). */
int registry_list(struct registry *r,
    void (*fn)(const struct registry_jail *, void *), void *arg,
    struct vj_err *err);

#endif
