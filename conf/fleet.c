/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The fleet's keys of vjbuild.conf (docs/FLEET.md): cache_url, the shared
 * package store (http or https); cache_ca, the CA file its https
 * certificate must chain to (default: the system's); cache_credentials, a file holding "user:password" (never
 * the URL, the command line or the registry, where others read them);
 * cache_timeout; cache_down = fail | build, what a build does when the
 * store cannot be reached; claim_lease, the seconds a claim on a key
 * lives without its heartbeat; fleet_host, this host's name in the
 * registry (default: the system's host name); fleet_build = no, a host
 * that never builds for the fleet and waits for a builder instead.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../util/util.h"
#include "conf.h"

/* A whole number of seconds from lo to hi in key, or the default. */
static int
seconds(const struct conf *c, enum conf_key k, const char *name, int dflt,
    int lo, int hi, int *out, struct vj_err *err)
{
	const char *v = c->val[k];
	char *end;
	long n;

	*out = dflt;
	if (v == NULL)
		return 0;
	n = strtol(v, &end, 10);
	if (*v < '0' || *v > '9' || *end != '\0' || n < lo || n > hi) {
		vj_errf(err, "%s: %s '%.32s' is not a number of seconds from "
		    "%d to %d", c->where[k], name, v, lo, hi);
		return -1;
	}
	*out = (int)n;
	return 0;
}

/* Key k is unset, or the first word of a or of b ("word (what it
 * means)"); *is_b says which. 0, or -1 with err. */
static int
choice(const struct conf *c, enum conf_key k, const char *name,
    const char *a, const char *b, int *is_b, struct vj_err *err)
{
	const char *v = c->val[k];

	*is_b = 0;
	if (v == NULL)
		return 0;
	if (strncmp(v, b, strcspn(b, " ")) == 0 && v[strcspn(b, " ")] == '\0')
		*is_b = 1;
	else if (strncmp(v, a, strcspn(a, " ")) != 0 ||
	    v[strcspn(a, " ")] != '\0') {
		vj_errf(err, "%s: %s '%.32s' is not %s or %s", c->where[k],
		    name, v, a, b);
		return -1;
	}
	return 0;
}

int
conf_fleet_check(struct conf *c, struct vj_err *err)
{
	const char *url = c->val[CONF_CACHE_URL];
	char host[256];
	struct stat st;

	if (seconds(c, CONF_CACHE_TIMEOUT, "cache_timeout", 30, 1, 3600,
	    &c->cache_timeout, err) == -1 ||
	    seconds(c, CONF_CLAIM_LEASE, "claim_lease", 60, 3, 86400,
	    &c->claim_lease, err) == -1)
		return -1;
	if (choice(c, CONF_CACHE_DOWN, "cache_down", "fail (stop the build "
	    "with an error)", "build (build here, alone)",
	    &c->cache_down_build, err) == -1 ||
	    choice(c, CONF_FLEET_BUILD, "fleet_build", "yes (build what "
	    "nobody has claimed)", "no (wait for a builder)",
	    &c->fleet_build_no, err) == -1)
		return -1;
	if (choice(c, CONF_THIN, "thin", "no (each jail a copy of the base "
	    "and its packages)", "yes (jails share them, read-only, in "
	    "layers)", &c->thin, err) == -1)
		return -1;
	if (url != NULL && c->val[CONF_REGISTRY] == NULL) {
		vj_errf(err, "%s: cache_url needs a registry in PostgreSQL "
		    "(registry = postgresql://...): the packages' digests and "
		    "the claims on them are kept there", c->where[CONF_CACHE_URL]);
		return -1;
	}
	if (url != NULL) {
		size_t i;
		size_t at = strncmp(url, "https://", 8) == 0 ? 8 :
		    strncmp(url, "http://", 7) == 0 ? 7 : 0;
		if (at == 0 || url[at] == '\0' || url[at] == '/') {
			vj_errf(err, "%s: cache_url must be an http:// or "
			    "https://HOST[:PORT]/PATH/ URL (a WebDAV directory)",
			    c->where[CONF_CACHE_URL]);
			return -1;
		}
		for (i = at; url[i] != '\0' && url[i] != '/'; i++)
			if (url[i] == '@') {
				vj_errf(err, "%s: cache_url holds a user: "
				    "credentials go in the file "
				    "cache_credentials names",
				    c->where[CONF_CACHE_URL]);
				return -1;
			}
	}
	if (c->val[CONF_CACHE_CA] != NULL &&
	    access(c->val[CONF_CACHE_CA], R_OK) == -1) {
		vj_errno(err, "%s: cache_ca %s", c->where[CONF_CACHE_CA],
		    c->val[CONF_CACHE_CA]);
		return -1;
	}
	if (c->val[CONF_CACHE_CREDENTIALS] != NULL) {
		const char *p = c->val[CONF_CACHE_CREDENTIALS];
		if (stat(p, &st) == -1) {
			vj_errno(err, "%s: cache_credentials %s",
			    c->where[CONF_CACHE_CREDENTIALS], p);
			return -1;
		}
		if ((st.st_mode & 077) != 0 || !S_ISREG(st.st_mode)) {
			vj_errf(err, "%s: cache_credentials %s: not a file "
			    "only its owner may read (chmod 600 it)",
			    c->where[CONF_CACHE_CREDENTIALS], p);
			return -1;
		}
	}
	free(c->fleet_host);
	c->fleet_host = NULL;
	if (c->val[CONF_FLEET_HOST] != NULL) {
		if (!conf_valid_hostname(c->val[CONF_FLEET_HOST])) {
			vj_errf(err, "%s: fleet_host '%.64s' is not a host name",
			    c->where[CONF_FLEET_HOST], c->val[CONF_FLEET_HOST]);
			return -1;
		}
		c->fleet_host = xstrdup(c->val[CONF_FLEET_HOST]);
	} else {
		if (gethostname(host, sizeof(host)) == -1)
			strcpy(host, "unknown");
		host[sizeof(host) - 1] = '\0';
		c->fleet_host = xstrdup(host);
	}
	return 0;
}

char *
conf_cache_credentials(const struct conf *c, int *failed, struct vj_err *err)
{
	const char *p = c->val[CONF_CACHE_CREDENTIALS];
	char *text, *nl;
	size_t len;
	int bad;

	*failed = 0;
	if (p == NULL)
		return NULL;
	if ((text = fs_read(p, 4096, &len)) == NULL) {
		vj_errno(err, "cache_credentials %s", p);
		*failed = 1;
		return NULL;
	}
	nl = memchr(text, '\n', len);
	bad = memchr(text, '\0', len) != NULL || (nl != NULL &&
	    nl + 1 != text + len);
	if (nl != NULL)
		*nl = '\0';
	if (bad || strchr(text, ':') == NULL) {
		explicit_bzero(text, len);
		free(text);
		vj_errf(err, "cache_credentials %s: not one line "
		    "\"user:password\"", p);
		*failed = 1;
		return NULL;
	}
	return text;
}
