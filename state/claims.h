/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The fleet's claims on cache keys, in the PostgreSQL registry (claims.c):
 * the first host that needs a key claims it with a lease, builds it,
 * uploads it and marks it done with its digest and manifest; the others
 * wait (LISTEN/NOTIFY, with a poll as a fallback) and fetch. A lease not
 * renewed in time lapses and the next host that asks takes the claim.
 */
#ifndef VJ_STATE_CLAIMS_H
#define VJ_STATE_CLAIMS_H

struct vj_err;
struct claims;

/* A key's row. */
struct claim_row {
	char key[65], port[128], version[128];
	char state[16];		/* building, done, failed */
	char holder[256];	/* the fleet host that has (or had) it */
	char owner[64];		/* the uuid of the state that claimed it */
	char sha256[65];	/* done: the archive's */
	long long size;		/* done: its bytes */
	double seconds;		/* done: the build's */
	double lease_left;	/* building: seconds until the lease lapses */
	double claimed, ended;	/* epoch seconds; ended 0 when building */
	int builds;		/* claims taken on the key, all told */
	char note[256];		/* why the last claim ended as it did */
	char *manifest;		/* done: malloc'd; claims_row_free */
};

/* Connects (schema brought up to date) and listens for changes. */
int claims_open(const char *url, struct claims **out, struct vj_err *err);
void claims_close(struct claims *c);
/* 1 and row filled, 0 no row, -1 with err. */
int claims_get(struct claims *c, const char *key, struct claim_row *row,
    struct vj_err *err);
void claims_row_free(struct claim_row *row);
/*
 * Claims key for holder (and the state owner) for lease seconds when
 * nobody holds it (no row, a failed one, a lapsed lease, a claim of
 * owner's own: its earlier run died, since a state runs one vjbuild at a
 * time) or, with bad_sha256, when it is done with that digest (an
 * archive the store lost or spoilt). 1 claimed and token filled, 0
 * another has it, -1 with err.
 */
int claims_take(struct claims *c, const char *key, const char *port,
    const char *version, const char *holder, const char *owner, int lease,
    const char *bad_sha256, char token[33], struct vj_err *err);
/* Renews the lease: 1 still held, 0 lost, -1 with err. */
int claims_renew(struct claims *c, const char *key, const char *token,
    int lease, struct vj_err *err);
/* Ends the claim done (digest, size, build seconds, manifest) or failed
 * (note says why), waking the waiters: 1, 0 when it was no longer held,
 * -1 with err. */
int claims_done(struct claims *c, const char *key, const char *token,
    const char *sha256, long long size, double seconds,
    const char *manifest, struct vj_err *err);
int claims_failed(struct claims *c, const char *key, const char *token,
    const char *note, struct vj_err *err);
/* Waits up to seconds for a change of any claim: 1, 0, -1 with err. */
int claims_wait(struct claims *c, double seconds, struct vj_err *err);
/* Every row (manifest NULL), oldest claim first: 0 or -1 with err. */
int claims_list(struct claims *c, void (*fn)(const struct claim_row *,
    void *), void *arg, struct vj_err *err);

#endif
