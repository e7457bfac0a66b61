/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Claims on cache keys in the PostgreSQL registry (see claims.h). Every
 * change is one statement, so that two hosts asking at once cannot both
 * win: a claim is an INSERT ... ON CONFLICT DO UPDATE whose WHERE lets it
 * through only when nobody holds the key, and a renewal, a done and a
 * failed name the claim's token, so that a host whose lease lapsed (and
 * was taken) changes nothing. Lease times are the server's clock (now()),
 * never the hosts': their clocks need not agree.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "../util/util.h"
#include "claims.h"
#include "pg.h"

#define CHANNEL "vjbuild_claims"

struct claims {
	void *pg;
};

int
claims_open(const char *url, struct claims **out, struct vj_err *err)
{
	struct claims *c = xcalloc(1, sizeof(*c));
	void *r;

	if (pg_connect(url, &c->pg, err) == -1) {
		free(c);
		return -1;
	}
	if ((r = pg_exec(c->pg, "LISTEN " CHANNEL, 0, NULL, 0, err)) == NULL) {
		claims_close(c);
		return -1;
	}
	pg_clear(r);
	*out = c;
	return 0;
}

void
claims_close(struct claims *c)
{
	if (c == NULL)
		return;
	pg_close(c->pg);
	free(c);
}

#define COLUMNS "key, port, version, state, holder, coalesce(sha256, ''), " \
	"coalesce(size, 0), coalesce(seconds, 0), coalesce(extract(epoch " \
	"FROM lease_until - now()), 0), extract(epoch FROM claimed), " \
	"coalesce(extract(epoch FROM ended), 0), builds, note, owner"

static void
fill(const void *r, int i, struct claim_row *row)
{
	memset(row, 0, sizeof(*row));
	snprintf(row->key, sizeof(row->key), "%s", pg_value(r, i, 0));
	snprintf(row->port, sizeof(row->port), "%s", pg_value(r, i, 1));
	snprintf(row->version, sizeof(row->version), "%s", pg_value(r, i, 2));
	snprintf(row->state, sizeof(row->state), "%s", pg_value(r, i, 3));
	snprintf(row->holder, sizeof(row->holder), "%s", pg_value(r, i, 4));
	snprintf(row->sha256, sizeof(row->sha256), "%s", pg_value(r, i, 5));
	row->size = atoll(pg_value(r, i, 6));
	row->seconds = strtod(pg_value(r, i, 7), NULL);
	row->lease_left = strtod(pg_value(r, i, 8), NULL);
	row->claimed = strtod(pg_value(r, i, 9), NULL);
	row->ended = strtod(pg_value(r, i, 10), NULL);
	row->builds = atoi(pg_value(r, i, 11));
	snprintf(row->note, sizeof(row->note), "%s", pg_value(r, i, 12));
	snprintf(row->owner, sizeof(row->owner), "%s", pg_value(r, i, 13));
}

int
claims_get(struct claims *c, const char *key, struct claim_row *row,
    struct vj_err *err)
{
	const char *p[1] = { key };
	void *r = pg_exec(c->pg, "SELECT " COLUMNS ", coalesce(manifest, '') "
	    "FROM package_claims WHERE key = $1", 1, p, 1, err);
	int found;

	if (r == NULL)
		return -1;
	if ((found = pg_rows(r) == 1)) {
		fill(r, 0, row);
		row->manifest = xstrdup(pg_value(r, 0, 14));
	}
	pg_clear(r);
	return found;
}

void
claims_row_free(struct claim_row *row)
{
	free(row->manifest);
	row->manifest = NULL;
}

int
claims_take(struct claims *c, const char *key, const char *port,
    const char *version, const char *holder, const char *owner, int lease,
    const char *bad_sha256, char token[33], struct vj_err *err)
{
	unsigned char rnd[16];
	char secs[16];
	void *r;
	int i, got;

	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) {
		vj_errno(err, "getrandom");
		return -1;
	}
	for (i = 0; i < 16; i++)
		snprintf(token + 2 * i, 3, "%02x", rnd[i]);
	snprintf(secs, sizeof(secs), "%d", lease);
	{
		const char *p[8] = { key, port, version, holder, token, secs,
		    bad_sha256 != NULL ? bad_sha256 : "", owner };
		r = pg_exec(c->pg, "INSERT INTO package_claims(key, port, "
		    "version, state, holder, token, lease_until, owner) VALUES "
		    "($1, $2, $3, 'building', $4, $5, now() + $6 * interval '1 "
		    "second', $8) ON CONFLICT (key) DO UPDATE SET port = $2, "
		    "version = $3, state = 'building', holder = $4, token = $5, "
		    "owner = $8, lease_until = now() + $6 * interval '1 "
		    "second', claimed = now(), ended = NULL, builds = "
		    "package_claims.builds + 1, note = CASE WHEN "
		    "package_claims.state = 'building' AND package_claims.owner "
		    "= $8 AND package_claims.lease_until >= now() THEN 'the run "
		    "that held it on ' || package_claims.holder || ' died' WHEN "
		    "package_claims.state = 'building' THEN 'the lease of ' || "
		    "package_claims.holder || ' lapsed' WHEN "
		    "package_claims.state = 'done' THEN 'the store''s archive "
		    "was refused' ELSE 'after a failure on ' || "
		    "package_claims.holder END WHERE package_claims.state = "
		    "'failed' OR (package_claims.state = 'building' AND "
		    "(package_claims.lease_until < now() OR package_claims.owner "
		    "= $8)) OR (package_claims.state = 'done' AND "
		    "package_claims.sha256 = $7) RETURNING 1", 8, p, 1, err);
	}
	if (r == NULL)
		return -1;
	got = pg_rows(r) == 1;
	pg_clear(r);
	return got;
}

int
claims_renew(struct claims *c, const char *key, const char *token,
    int lease, struct vj_err *err)
{
	char secs[16];
	const char *p[3] = { key, token, secs };
	void *r;
	long n;

	snprintf(secs, sizeof(secs), "%d", lease);
	if ((r = pg_exec(c->pg, "UPDATE package_claims SET lease_until = "
	    "now() + $3 * interval '1 second' WHERE key = $1 AND token = $2 "
	    "AND state = 'building'", 3, p, 0, err)) == NULL)
		return -1;
	n = pg_affected(r);
	pg_clear(r);
	return n == 1;
}

/* Runs an update of the claim (key $1, token $2), then wakes the
 * waiters: 1 when it changed the row, 0 when the claim was gone. */
static int
end_claim(struct claims *c, const char *q, int n, const char *const *p,
    struct vj_err *err)
{
	void *r = pg_exec(c->pg, q, n, p, 0, err);
	long changed;

	if (r == NULL)
		return -1;
	changed = pg_affected(r);
	pg_clear(r);
	if ((r = pg_exec(c->pg, "SELECT pg_notify('" CHANNEL "', $1)", 1, p,
	    1, err)) == NULL)
		return -1;
	pg_clear(r);
	return changed == 1;
}

int
claims_done(struct claims *c, const char *key, const char *token,
    const char *sha256, long long size, double seconds,
    const char *manifest, struct vj_err *err)
{
	char sz[32], secs[32];
	const char *p[6] = { key, token, sha256, sz, secs, manifest };

	snprintf(sz, sizeof(sz), "%lld", size);
	snprintf(secs, sizeof(secs), "%.3f", seconds);
	return end_claim(c, "UPDATE package_claims SET state = 'done', sha256 "
	    "= $3, size = $4, seconds = $5, manifest = $6, ended = now(), "
	    "lease_until = NULL WHERE key = $1 AND token = $2 AND state = "
	    "'building'", 6, p, err);
}

int
claims_failed(struct claims *c, const char *key, const char *token,
    const char *note, struct vj_err *err)
{
	const char *p[3] = { key, token, note };

	return end_claim(c, "UPDATE package_claims SET state = 'failed', "
	    "ended = now(), lease_until = NULL, note = $3 WHERE key = $1 AND "
	    "token = $2 AND state = 'building'", 3, p, err);
}

int
claims_wait(struct claims *c, double seconds, struct vj_err *err)
{
	return pg_wait_notify(c->pg, seconds, err);
}

int
claims_list(struct claims *c, void (*fn)(const struct claim_row *, void *),
    void *arg, struct vj_err *err)
{
	void *r = pg_exec(c->pg, "SELECT " COLUMNS " FROM package_claims "
	    "ORDER BY claimed, key", 0, NULL, 1, err);
	struct claim_row row;
	int i;

	if (r == NULL)
		return -1;
	for (i = 0; i < pg_rows(r); i++) {
		fill(r, i, &row);
		fn(&row, arg);
	}
	pg_clear(r);
	return 0;
}
