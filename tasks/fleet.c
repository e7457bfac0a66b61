/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * build:P in a fleet (cache_url set; docs/FLEET.md). In the build task's
 * own process, with the key's local lock held:
 *
 *   - the registry's row for the key says done: the archive is fetched
 *     from the store (KEY-SHA256.tar.gz under cache_url) into a temporary
 *     name, refused unless its size and sha256 are the registry's, and
 *     renamed into the local cache with the registry's manifest: build:P
 *     then records it as if it had built it;
 *   - nobody holds the key (no row, a failure, a lapsed lease): this host
 *     claims it, keeps the lease alive from a heartbeat process, builds,
 *     uploads (a PUT; an archive already there with the right digest is
 *     kept), and marks the key done, which wakes the waiters;
 *   - another host holds it: this one waits for a notification (or the
 *     lease's end, or 30 s, whichever is first) and asks again.
 *
 * The digest a fetch is checked against comes from the registry, never
 * from the store: the store (and the network to it) can lose or spoil an
 * archive, not make one accepted. An archive refused is built again by
 * whoever claims it back first.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../cache/http.h"
#include "../conf/conf.h"
#include "../state/claims.h"
#include "../util/util.h"
#include "tasks.h"

#define WAIT_MAX 30.0	/* seconds between asks, notified or not */

static char *
store_name(const char *key, const char *sha256)
{
	return xasprintf("%s-%s.tar.gz", key, sha256);
}

/*
 * Fetches the key's archive as the row describes it into the local cache.
 * 0 fetched; -2 refused or missing (err says why: claim it back); -1 the
 * store could not be asked (err).
 */
static int
fetch(const struct task *t, struct fleet *f, const struct claim_row *row,
    struct vj_err *err)
{
	const struct task_port *tp = t->port;
	char *pkgdir = fs_dirname(tp->archive), *tmp = NULL, *name = NULL;
	char *mname = NULL, hex[65], want[80];
	const char *base = strrchr(tp->archive, '/') + 1;
	long long got = 0;
	int pfd = -1, fd = -1, st, rc = -1;

	if (fs_mkdirs(pkgdir, 0755) == -1 ||
	    (pfd = open(pkgdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1) {
		vj_errno(err, "%s", pkgdir);
		goto out;
	}
	tmp = xasprintf(".tmp.fetch.%s", base);
	if ((fd = openat(pfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC |
	    O_NOFOLLOW, 0644)) == -1) {
		vj_errno(err, "%s/%s", pkgdir, tmp);
		goto out;
	}
	name = store_name(row->key, row->sha256);
	st = http_get(&f->store, name, fd, row->size, &got, err);
	close(fd);
	fd = -1;
	if (st == -1)
		goto out;
	if (st == -2) {	/* longer than the registry's size */
		rc = -2;
		goto out;
	}
	if (st == 404 || st == 410) {
		vj_errf(err, "the store has no %s (HTTP %d)", name, st);
		rc = -2;
		goto out;
	}
	if (st != 200) {
		vj_errf(err, "the store answered HTTP %d to GET %s%s", st,
		    f->store.path, name);
		goto out;
	}
	{
		char *path = fs_join(pkgdir, tmp);
		int r = sha256_file(path, hex, err);
		free(path);
		if (r == -1)
			goto out;
	}
	snprintf(want, sizeof(want), "\nsha256 %s\n\n", row->sha256);
	if (got != row->size || strcmp(hex, row->sha256) != 0) {
		vj_errf(err, "refused %s from the store: %lld bytes of sha256 "
		    "%.16s..., the registry says %lld bytes of %.16s... (built "
		    "by %s)", name, got, hex, row->size, row->sha256,
		    row->holder);
		rc = -2;
		goto out;
	}
	if (row->manifest == NULL || strstr(row->manifest, want) == NULL) {
		vj_errf(err, "the registry's manifest of %s does not name its "
		    "digest", name);
		rc = -2;
		goto out;
	}
	mname = xasprintf("%s.files", base);
	if (fs_write_beneath(pfd, mname, row->manifest,
	    strlen(row->manifest), 0644, err) == -1)
		goto out;
	if (renameat(pfd, tmp, pfd, base) == -1) {
		vj_errno(err, "%s: rename into place", tp->archive);
		goto out;
	}
	(void)fsync(pfd);
	printf("fetched %s %s (key %.16s) from %s%s: %lld bytes, sha256 as "
	    "the registry's; built by %s in %.1fs\n", tp->port->name,
	    tp->port->version, tp->key, f->store.path, name, got, row->holder,
	    row->seconds);
	rc = 0;
out:
	if (rc != 0 && tmp != NULL && pfd != -1)
		(void)unlinkat(pfd, tmp, 0);
	if (fd != -1)
		close(fd);
	if (pfd != -1)
		close(pfd);
	free(pkgdir);
	free(tmp);
	free(name);
	free(mname);
	return rc;
}

static volatile sig_atomic_t interrupted;

static void
on_interrupt(int sig)
{
	(void)sig;
	interrupted = 1;
}

/*
 * The heartbeat: renews the claim every third of the lease until killed
 * by the build's end. Its parent killed (kill -9): it dies too, and the
 * lease lapses.
 */
static pid_t
heartbeat(const struct task *t, struct fleet *f)
{
	const struct conf *c = t->env->conf;
	struct claims *cl;
	struct vj_err e;
	pid_t pid;
	int every = c->claim_lease / 3 > 0 ? c->claim_lease / 3 : 1, r;

	fflush(stdout);
	if ((pid = fork()) != 0)
		return pid;	/* -1: no heartbeat, the lease may lapse */
	/* Not the build process's handler: an interrupt ends the heartbeat. */
	(void)signal(SIGTERM, SIG_DFL);
	(void)signal(SIGINT, SIG_DFL);
	(void)compat_die_with_parent();
	if (claims_open(c->val[CONF_REGISTRY], &cl, &e) == -1) {
		printf("heartbeat of the claim: %s\n", e.msg);
		fflush(stdout);
		_exit(1);
	}
	for (;;) {
		sleep((unsigned)every);
		if ((r = claims_renew(cl, t->port->key, f->token,
		    c->claim_lease, &e)) == 0) {
			printf("the claim on key %.16s was lost: its lease "
			    "lapsed and another host took it\n", t->port->key);
			fflush(stdout);
			_exit(0);
		}
		if (r == -1) {
			printf("heartbeat of the claim: %s (trying again)\n",
			    e.msg);
			fflush(stdout);
			claims_close(cl);
			if (claims_open(c->val[CONF_REGISTRY], &cl, &e) == -1)
				_exit(1);
		}
	}
}

/* A claim this state took in an earlier run: that run is dead (a state
 * has one vjbuild at a time), whatever its lease says. */
static int
mine(const struct task *t, const struct claim_row *row)
{
	return strcmp(row->state, "building") == 0 && t->env->uuid != NULL &&
	    *t->env->uuid != '\0' && strcmp(row->owner, t->env->uuid) == 0;
}

/* The store cannot be reached (err): cache_down says what to do. */
static int
store_down(const struct task *t, struct vj_err *err)
{
	if (!t->env->conf->cache_down_build)
		return -1;
	printf("%s; cache_down = build: building here, alone\n", err->msg);
	return FLEET_OFF;
}

/* The store's address and the registry's claims: 1, FLEET_OFF (0: no
 * fleet, or it is down and cache_down = build), or -1 with err. */
static int
fleet_open(const struct task *t, struct fleet *f, struct vj_err *err)
{
	const struct conf *c = t->env->conf;
	char *creds;
	int failed, r;

	memset(f, 0, sizeof(*f));
	f->heartbeat = -1;
	if (c->val[CONF_CACHE_URL] == NULL)
		return FLEET_OFF;
	creds = conf_cache_credentials(c, &failed, err);
	if (failed)
		return -1;
	r = http_target_init(&f->store, c->val[CONF_CACHE_URL], creds,
	    c->val[CONF_CACHE_CA], c->cache_timeout, err);
	if (creds != NULL) {
		explicit_bzero(creds, strlen(creds));
		free(creds);
	}
	if (r == -1)
		return -1;
	if (claims_open(c->val[CONF_REGISTRY], &f->claims, err) == -1)
		return store_down(t, err);
	return 1;
}

int
fleet_offer(const struct task *t, struct fleet *f, struct vj_err *err)
{
	const struct task_port *tp = t->port;
	const struct conf *c = t->env->conf;
	struct claim_row row;
	char *files = NULL, *manifest, hex[65];
	double secs;
	int have, r;

	if ((r = fleet_open(t, f, err)) != 1 || c->fleet_build_no)
		return r == -1 ? -1 : 0;
	memset(&row, 0, sizeof(row));
	if ((have = claims_get(f->claims, tp->key, &row, err)) == -1)
		return -1;
	r = have && (strcmp(row.state, "done") == 0 || (row.lease_left > 0 &&
	    !mine(t, &row)));
	claims_row_free(&row);
	if (r)
		return 0;	/* the fleet has it, or is making it */
	if ((r = claims_take(f->claims, tp->key, tp->port->name,
	    tp->port->version, c->fleet_host, t->env->uuid, c->claim_lease,
	    NULL, f->token, err)) != 1)
		return r;
	f->held = 1;
	printf("claimed key %.16s to share the package this cache holds\n",
	    tp->key);
	if (port_manifest_read(tp, &secs, hex, &files, err) == -1)
		return -1;
	manifest = xasprintf("%.3f\nsha256 %s\n\n%s", secs, hex, files);
	r = fleet_publish(t, f, secs, hex, manifest, err);
	free(files);
	free(manifest);
	return r;
}

int
fleet_begin(const struct task *t, struct fleet *f, struct vj_err *err)
{
	const struct conf *c = t->env->conf;
	const struct task_port *tp = t->port;
	struct claim_row row;
	char waited_for[256] = "";
	double t0 = 0;
	int have, r;

	if ((r = fleet_open(t, f, err)) != 1)
		return r;
	for (;;) {
		memset(&row, 0, sizeof(row));
		if ((have = claims_get(f->claims, tp->key, &row, err)) == -1)
			return store_down(t, err);
		if (have && strcmp(row.state, "done") == 0) {
			if (t0 != 0)
				printf("waited %.1fs\n", vj_now() - t0);
			r = fetch(t, f, &row, err);
			if (r == 0) {
				claims_row_free(&row);
				return FLEET_FETCHED;
			}
			if (r == -1) {
				claims_row_free(&row);
				return store_down(t, err);
			}
			printf("%s\n", err->msg);
			if (c->fleet_build_no) {
				claims_row_free(&row);
				vj_errf(err, "the store's archive of %s %s was "
				    "refused (above); fleet_build = no: this "
				    "host does not build it", tp->port->name,
				    tp->port->version);
				return -1;
			}
			r = claims_take(f->claims, tp->key, tp->port->name,
			    tp->port->version, c->fleet_host, t->env->uuid,
			    c->claim_lease, row.sha256, f->token, err);
		} else if (c->fleet_build_no && have &&
		    strcmp(row.state, "failed") == 0) {
			vj_errf(err, "the fleet's build of %s %s (key %.16s) "
			    "failed on %s: %s; fleet_build = no: this host "
			    "does not build it", tp->port->name,
			    tp->port->version, tp->key, row.holder, row.note);
			claims_row_free(&row);
			return -1;
		} else if (c->fleet_build_no)
			r = 0;	/* a builder will claim it */
		else if (!have || strcmp(row.state, "failed") == 0 ||
		    row.lease_left <= 0 || mine(t, &row))
			r = claims_take(f->claims, tp->key, tp->port->name,
			    tp->port->version, c->fleet_host, t->env->uuid,
			    c->claim_lease, NULL, f->token, err);
		else
			r = 0;
		if (r == -1) {
			claims_row_free(&row);
			return store_down(t, err);
		}
		if (r == 1) {
			struct sigaction sa;
			f->held = 1;
			/* The run interrupted (SIGTERM, SIGINT reach the
			 * task's process group, the build's included): this
			 * process lives on until the build ends, then ends
			 * the claim failed, so that the next host need not
			 * wait for the lease. */
			memset(&sa, 0, sizeof(sa));
			sa.sa_handler = on_interrupt;
			(void)sigaction(SIGTERM, &sa, NULL);
			(void)sigaction(SIGINT, &sa, NULL);
			if (!have)
				printf("claimed key %.16s for %s: building it "
				    "for the fleet\n", tp->key, c->fleet_host);
			else if (mine(t, &row) && row.lease_left > 0)
				printf("claimed key %.16s again: this state's "
				    "run that held it died; building it here\n",
				    tp->key);
			else if (strcmp(row.state, "building") == 0)
				printf("claimed key %.16s: the lease of %s "
				    "lapsed; building it here\n", tp->key,
				    row.holder);
			else
				printf("claimed key %.16s again (it was %s, "
				    "by %s): building it here\n", tp->key,
				    row.state, row.holder);
			claims_row_free(&row);
			f->heartbeat = heartbeat(t, f);
			/* The heartbeat's connection is enough while the
			 * build runs: one a slot, not two. */
			claims_close(f->claims);
			f->claims = NULL;
			return FLEET_BUILD;
		}
		/* Another host holds it (or just took it), or a builder is
		 * to: wait. */
		if (c->fleet_build_no && (!have || row.lease_left <= 0) &&
		    strcmp(waited_for, "-") != 0) {
			printf("waiting for a builder to build %s %s (key "
			    "%.16s; fleet_build = no)\n", tp->port->name,
			    tp->port->version, tp->key);
			fflush(stdout);
			snprintf(waited_for, sizeof(waited_for), "-");
			if (t0 == 0)
				t0 = vj_now();
		} else if (have && strcmp(row.state, "building") == 0 &&
		    strcmp(waited_for, row.holder) != 0) {
			printf("waiting for %s's build of %s %s (key %.16s; "
			    "its lease has %.0fs left)\n", row.holder,
			    tp->port->name, tp->port->version, tp->key,
			    row.lease_left);
			fflush(stdout);
			snprintf(waited_for, sizeof(waited_for), "%s",
			    row.holder);
			if (t0 == 0)
				t0 = vj_now();
		}
		r = claims_wait(f->claims, have && row.lease_left > 0 &&
		    row.lease_left + 0.5 < WAIT_MAX ? row.lease_left + 0.5 :
		    WAIT_MAX, err);
		claims_row_free(&row);
		if (r == -1)
			return store_down(t, err);
	}
}

/* PUT unless the store has this archive whole already. 0 or -1. */
static int
upload(const struct task *t, struct fleet *f, const char *sha256,
    long long size, struct vj_err *err)
{
	const struct task_port *tp = t->port;
	char *name = store_name(tp->key, sha256);
	char *tmp = xasprintf("%s.check", tp->archive), hex[65];
	long long got = 0;
	int fd, st, rc = -1;

	/* Under this name only this digest's bytes belong: one there
	 * whole is kept, one spoilt is replaced. */
	if ((fd = open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC |
	    O_NOFOLLOW, 0600)) == -1) {
		vj_errno(err, "%s", tmp);
		goto out;
	}
	st = http_get(&f->store, name, fd, size, &got, err);
	close(fd);
	if (st == 200 && got == size && sha256_file(tmp, hex, err) == 0 &&
	    strcmp(hex, sha256) == 0) {
		printf("the store has %s already, whole: kept\n", name);
		rc = 0;
		goto out;
	}
	if ((fd = open(tp->archive, O_RDONLY | O_CLOEXEC)) == -1) {
		vj_errno(err, "%s", tp->archive);
		goto out;
	}
	st = http_put(&f->store, name, fd, size, err);
	close(fd);
	if (st == -1)
		goto out;
	if (st != 200 && st != 201 && st != 204) {
		vj_errf(err, "the store answered HTTP %d to PUT %s%s%s", st,
		    f->store.path, name, st == 401 || st == 403 ?
		    " (cache_credentials refused?)" : "");
		goto out;
	}
	printf("uploaded %s to %s%s (%lld bytes)\n", tp->archive,
	    f->store.path, name, size);
	rc = 0;
out:
	(void)unlink(tmp);
	free(tmp);
	free(name);
	return rc;
}

int
fleet_publish(const struct task *t, struct fleet *f, double seconds,
    const char *sha256, const char *manifest, struct vj_err *err)
{
	struct stat st;
	int r;

	if (!f->held)
		return 0;
	if (stat(t->port->archive, &st) == -1) {
		vj_errno(err, "%s", t->port->archive);
		return -1;
	}
	if (upload(t, f, sha256, st.st_size, err) == -1 ||
	    (f->claims == NULL && claims_open(t->env->conf->val[CONF_REGISTRY],
	    &f->claims, err) == -1))
		return -1;
	r = claims_done(f->claims, t->port->key, f->token, sha256, st.st_size,
	    seconds, manifest, err);
	if (r == -1)
		return -1;
	f->held = 0;
	if (r == 0)
		printf("the claim on key %.16s had lapsed and been taken: the "
		    "registry keeps the other host's archive\n", t->port->key);
	else
		printf("marked key %.16s done in the registry: the fleet "
		    "fetches it from the store\n", t->port->key);
	return 0;
}

void
fleet_end(const struct task *t, struct fleet *f, const char *why)
{
	char note[300];
	struct vj_err e;
	int status;

	if (f->heartbeat > 0) {
		(void)kill(f->heartbeat, SIGKILL);
		while (waitpid(f->heartbeat, &status, 0) == -1 &&
		    errno == EINTR)
			;
	}
	if (f->held && interrupted) {
		snprintf(note, sizeof(note), "the run on %s was interrupted",
		    t->env->conf->fleet_host);
		why = note;
	}
	if (f->held && f->claims == NULL && claims_open(
	    t->env->conf->val[CONF_REGISTRY], &f->claims, &e) == -1)
		printf("marking the claim failed: %s (its lease will lapse)\n",
		    e.msg);
	else if (f->held) {
		switch (claims_failed(f->claims, t->port->key, f->token,
		    why != NULL && *why ? why : "ended without an archive",
		    &e)) {
		case -1:
			printf("marking the claim failed: %s (its lease will "
			    "lapse)\n", e.msg);
			break;
		case 1:
			printf("claim on key %.16s ended: %s\n", t->port->key,
			    interrupted ? "the run was interrupted" :
			    "no archive to share");
		}
	}
	claims_close(f->claims);
	http_target_free(&f->store);
	memset(f, 0, sizeof(*f));
	f->heartbeat = -1;
}
