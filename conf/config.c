/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * vjbuild.conf: "key = value" lines, '#' comments, blank lines. Every key is
 * known (a typo is an error, not a silent default), set at most once, and
 * every path is made absolute: relative to the file's directory for values
 * from the file, to the working directory for command-line flags.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "../util/util.h"
#include "conf.h"
#include "lines.h"

static const struct {
	const char *name;
	int is_path;
} keys[CONF_NKEYS] = {
	[CONF_BASE] = { "base", 1 },
	[CONF_DISTRIBUTION] = { "distribution", 1 },
	[CONF_JAILS] = { "jails", 1 },
	[CONF_STATE] = { "state", 1 },
	[CONF_RESOLVER] = { "resolver", 0 },
	[CONF_DOMAIN] = { "domain", 0 },
	[CONF_PACKAGES] = { "packages", 0 },
	[CONF_PORTS] = { "ports", 1 },
	[CONF_DISTFILES] = { "distfiles", 1 },
	[CONF_CACHE] = { "cache", 1 },
	[CONF_REGISTRY] = { "registry", 0 },
	[CONF_DNS] = { "dns", 1 },
	[CONF_UNPACK_LIMIT] = { "unpack_limit", 0 },
	[CONF_LIMIT_PIDS] = { "limit.pids", 0 },
	[CONF_LIMIT_MEMORY] = { "limit.memory", 0 },
	[CONF_LIMIT_CPU] = { "limit.cpu_weight", 0 },
	[CONF_LIMIT_SHM] = { "limit.shm", 0 },
	[CONF_HOST_ACCESS] = { "host_access", 0 },
	[CONF_BUILD_ROOT] = { "build_root", 1 },
	[CONF_CA] = { "ca", 1 },
	[CONF_LOG_LIMIT] = { "log_limit", 0 },
	[CONF_REGISTRY_TIMEOUT] = { "registry_timeout", 0 },
	[CONF_HISTORY] = { "history", 0 },
	[CONF_CACHE_URL] = { "cache_url", 0 },
	[CONF_CACHE_CREDENTIALS] = { "cache_credentials", 1 },
	[CONF_CACHE_TIMEOUT] = { "cache_timeout", 0 },
	[CONF_CACHE_DOWN] = { "cache_down", 0 },
	[CONF_CLAIM_LEASE] = { "claim_lease", 0 },
	[CONF_FLEET_HOST] = { "fleet_host", 0 },
	[CONF_FLEET_BUILD] = { "fleet_build", 0 },
	[CONF_CACHE_CA] = { "cache_ca", 1 },
	[CONF_THIN] = { "thin", 0 },
	[CONF_PRIORITY_BOOST] = { "priority_boost", 0 },
};

/* The default: more than any base system or package, less than a disk. */
#define UNPACK_LIMIT_DEFAULT (16ULL << 30)
/* What a build's log keeps (its tail): more than a build says when it
 * works, much less than a disk. As SCHED_LOG_LIMIT. */
#define LOG_LIMIT_DEFAULT (32ULL << 20)

/* "N", "NK", "NM" or "NG" (powers of 1024); 0 when it is not one. */
static unsigned long long
parse_size(const char *s)
{
	unsigned long long n = 0, unit = 1;
	const char *p = s;

	for (; *p >= '0' && *p <= '9'; p++) {
		if (n > (~0ULL - 9) / 10)
			return 0;
		n = n * 10 + (unsigned)(*p - '0');
	}
	if (p == s)
		return 0;
	if (*p == 'K' || *p == 'k')
		unit = 1ULL << 10;
	else if (*p == 'M' || *p == 'm')
		unit = 1ULL << 20;
	else if (*p == 'G' || *p == 'g')
		unit = 1ULL << 30;
	else if (*p != '\0')
		return 0;
	if (*p != '\0' && p[1] != '\0')
		return 0;
	if (n > ~0ULL / unit)
		return 0;
	return n * unit;
}

static void
free_list(char **v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

void
conf_free(struct conf *c)
{
	size_t i;
	int k;

	if (c == NULL)
		return;
	for (k = 0; k < CONF_NKEYS; k++) {
		free(c->val[k]);
		free(c->where[k]);
	}
	free_list(c->packages, c->npackages);
	free_list(c->boost, c->nboost);
	free_list(c->resolvers, c->nresolvers);
	for (i = 0; c->access != NULL && i < c->naccess; i++)
		free(c->access[i].address);
	free(c->access);
	for (k = 0; k < (int)c->nvars; k++) {
		free(c->vars[k].key);
		free(c->vars[k].value);
	}
	free(c->vars);
	for (k = 0; k < (int)c->nusers; k++)
		conf_user_clear(&c->users[k]);
	free(c->users);
	free(c->fleet_host);
	free(c->path);
	free(c);
}

static void
set(struct conf *c, enum conf_key k, const char *value, const char *base,
    const char *where)
{
	free(c->val[k]);
	free(c->where[k]);
	if (keys[k].is_path && value[0] != '/')
		c->val[k] = base ? fs_join(base, value) : fs_abspath(value);
	else
		c->val[k] = xstrdup(value);
	c->where[k] = xstrdup(where);
}

void
conf_set(struct conf *c, enum conf_key k, const char *value, const char *where)
{
	set(c, k, value, NULL, where);
}

/* var.KEY = VALUE: a template variable for every jail. */
static int
parse_var(struct conf *c, const char *key, const char *val, int lineno,
    struct vj_err *err)
{
	size_t i;

	if (!conf_valid_varkey(key)) {
		vj_errf(err, "%s:%d: 'var.%.64s' is not a valid variable name",
		    c->path, lineno, key);
		return -1;
	}
	for (i = 0; i < c->nvars; i++)
		if (strcmp(c->vars[i].key, key) == 0) {
			vj_errf(err, "%s:%d: 'var.%s' is set twice", c->path,
			    lineno, key);
			return -1;
		}
	c->vars = xreallocarray(c->vars, c->nvars + 1, sizeof(*c->vars));
	c->vars[c->nvars].key = xstrdup(key);
	c->vars[c->nvars++].value = xstrdup(val);
	return 0;
}

/* user.NAME = fields: a user made in every jail. */
static int
parse_user(struct conf *c, const char *name, const char *val, const char *dir,
    int lineno, struct vj_err *err)
{
	struct conf_user u;
	struct vj_err why;
	size_t i;

	for (i = 0; i < c->nusers; i++)
		if (strcmp(c->users[i].name, name) == 0) {
			vj_errf(err, "%s:%d: 'user.%s' is set twice", c->path,
			    lineno, name);
			return -1;
		}
	if (conf_user_parse(&u, name, val, dir, &why) == -1) {
		vj_errf(err, "%s:%d: %s", c->path, lineno, why.msg);
		return -1;
	}
	/* Each home is its user's: the users task gives it to them. */
	for (i = 0; i < c->nusers; i++)
		if (strcmp(c->users[i].home, u.home) == 0) {
			vj_errf(err, "%s:%d: user %s: home %s is user %s's",
			    c->path, lineno, name, u.home, c->users[i].name);
			conf_user_clear(&u);
			return -1;
		}
	c->users = xreallocarray(c->users, c->nusers + 1, sizeof(*c->users));
	c->users[c->nusers++] = u;
	return 0;
}

static int
parse_line(struct conf *c, char *line, const char *dir, int lineno,
    struct vj_err *err)
{
	char *eq = strchr(line, '='), *key = line, *val, *end, *where;
	int k;

	if (eq == NULL) {
		vj_errf(err, "%s:%d: expected 'key = value'", c->path, lineno);
		return -1;
	}
	*eq = '\0';
	for (end = eq; end > key && (end[-1] == ' ' || end[-1] == '\t');)
		*--end = '\0';
	for (val = eq + 1; *val == ' ' || *val == '\t'; val++)
		;
	if (strncmp(key, "var.", 4) == 0)
		return parse_var(c, key + 4, val, lineno, err);
	if (strncmp(key, "user.", 5) == 0)
		return parse_user(c, key + 5, val, dir, lineno, err);
	for (k = 0; k < CONF_NKEYS; k++)
		if (strcmp(key, keys[k].name) == 0)
			break;
	if (k == CONF_NKEYS) {
		vj_errf(err, "%s:%d: unknown key '%.64s'", c->path, lineno, key);
		return -1;
	}
	if (c->val[k] != NULL) {
		vj_errf(err, "%s:%d: '%s' is set twice (first at %s)", c->path,
		    lineno, key, c->where[k]);
		return -1;
	}
	if (*val == '\0') {
		vj_errf(err, "%s:%d: '%s' has no value", c->path, lineno, key);
		return -1;
	}
	where = xasprintf("%s:%d", c->path, lineno);
	set(c, (enum conf_key)k, val, dir, where);
	free(where);
	return 0;
}

/* A whole number in [lo, hi]; 0 when it is not one. */
static unsigned long
parse_count(const char *s, unsigned long lo, unsigned long hi)
{
	unsigned long n = 0;
	const char *p;

	for (p = s; *p >= '0' && *p <= '9'; p++)
		if ((n = n * 10 + (unsigned long)(*p - '0')) > hi)
			return 0;
	return p == s || *p != '\0' || n < lo ? 0 : n;
}

/* build_root: a root (debootstrap's, say) whose /usr, /etc and top-level
 * links builds see instead of the host's. */
static int
build_root(const struct conf *c, struct vj_err *err)
{
	const char *r = c->val[CONF_BUILD_ROOT];
	char *bin;
	struct stat st;
	int ok;

	if (r == NULL)
		return 0;
	bin = fs_join(r, "usr/bin");
	ok = stat(bin, &st) == 0 && S_ISDIR(st.st_mode);
	free(bin);
	if (!ok) {
		vj_errf(err, "%s: build_root %s has no usr/bin (a root with a "
		    "toolchain, as debootstrap makes)",
		    c->where[CONF_BUILD_ROOT], r);
		return -1;
	}
	return 0;
}

/* The limits of a jail that nothing set. */
static void
limits_default(struct conf_limits *l)
{
	l->pids = 1024;
	l->memory = 0;
	l->cpu_weight = 100;
	l->shm = 64ULL << 20;
}

int
conf_limit_set(struct conf_limits *l, const char *key, const char *v,
    struct vj_err *why)
{
	if (strcmp(key, "pids") == 0) {
		if ((l->pids = parse_count(v, 16, 4194304)) != 0)
			return 0;
		vj_errf(why, "limit.pids '%.32s' is not a number of processes "
		    "from 16 to 4194304", v);
	} else if (strcmp(key, "memory") == 0) {
		if ((l->memory = parse_size(v)) >= (16ULL << 20))
			return 0;
		vj_errf(why, "limit.memory '%.32s' is not a size of 16M or more "
		    "(like 512M or 2G)", v);
	} else if (strcmp(key, "cpu_weight") == 0) {
		if ((l->cpu_weight = parse_count(v, 1, 10000)) != 0)
			return 0;
		vj_errf(why, "limit.cpu_weight '%.32s' is not a weight from 1 "
		    "to 10000 (100 is a fair share)", v);
	} else if (strcmp(key, "shm") == 0) {
		if ((l->shm = parse_size(v)) != 0)
			return 0;
		vj_errf(why, "limit.shm '%.32s' is not a size (like 64M)", v);
	} else
		vj_errf(why, "unknown limit 'limit.%.32s' (pids, memory, "
		    "cpu_weight, shm)", key);
	return -1;
}

int
conf_limits_apply(struct conf_limits *l, const char *words,
    struct vj_err *why)
{
	char *copy, *w, *save = NULL, *eq;
	int rc = 0;

	if (words == NULL)
		return 0;
	copy = xstrdup(words);
	for (w = strtok_r(copy, " ", &save); w != NULL && rc == 0;
	    w = strtok_r(NULL, " ", &save)) {
		if ((eq = strchr(w, '=')) == NULL)
			continue;
		*eq = '\0';
		rc = conf_limit_set(l, w, eq + 1, why);
	}
	free(copy);
	return rc;
}

/* limit.* with their defaults. */
static int
limits(struct conf *c, struct vj_err *err)
{
	static const struct { enum conf_key k; const char *name; } ks[] = {
		{ CONF_LIMIT_PIDS, "pids" }, { CONF_LIMIT_MEMORY, "memory" },
		{ CONF_LIMIT_CPU, "cpu_weight" }, { CONF_LIMIT_SHM, "shm" },
	};
	struct vj_err why;
	size_t i;

	limits_default(&c->limits);
	for (i = 0; i < sizeof(ks) / sizeof(ks[0]); i++)
		if (c->val[ks[i].k] != NULL && conf_limit_set(&c->limits,
		    ks[i].name, c->val[ks[i].k], &why) == -1) {
			vj_errf(err, "%s: %s", c->where[ks[i].k], why.msg);
			return -1;
		}
	return 0;
}

struct conf *
conf_read(const char *path, struct vj_err *err)
{
	struct conf *c = xcalloc(1, sizeof(*c));
	struct lines l;
	char *line = NULL, *dir = NULL;
	int r;

	if (path == NULL)
		return c;
	c->path = xstrdup(path);
	if (lines_open(&l, path, err) == -1) {
		conf_free(c);
		return NULL;
	}
	{
		char *d = fs_dirname(path);
		dir = fs_abspath(d);
		free(d);
	}
	while ((r = lines_next(&l, &line, err)) == 1)
		if (*line != '\0' &&
		    parse_line(c, line, dir, l.lineno, err) == -1) {
			r = -1;
			break;
		}
	lines_close(&l);
	free(dir);
	if (r == -1) {
		conf_free(c);
		return NULL;
	}
	return c;
}

/* Splits a list value into words checked by valid(); -1 with err. */
static int
split_list(const struct conf *c, enum conf_key k, int addresses, char ***out,
    size_t *nout, struct vj_err *err)
{
	char *copy = xstrdup(c->val[k]), *w[CONF_MAX_WORDS + 1], canon[64];
	size_t n = lines_split(copy, w, CONF_MAX_WORDS), i;
	int family;

	if (n > CONF_MAX_WORDS) {
		vj_errf(err, "%s: more than %d words in '%s'", c->where[k],
		    CONF_MAX_WORDS, keys[k].name);
		free(copy);
		return -1;
	}
	*out = xcalloc(n + 1, sizeof(**out));
	*nout = 0;
	for (i = 0; i < n; i++) {
		if (addresses ? !conf_parse_address(w[i], canon, sizeof(canon),
		    &family) : !conf_valid_word(w[i])) {
			vj_errf(err, "%s: '%.64s' is not a valid %s",
			    c->where[k], w[i], addresses ? "address" :
			    "package name");
			free(copy);
			return -1;
		}
		(*out)[(*nout)++] = xstrdup(addresses ? canon : w[i]);
	}
	free(copy);
	return 0;
}

/*
 * host_access = WORD...: ADDRESS (every port), ADDRESS:PORT, [IPV6]:PORT,
 * or "none"; unset, each resolver on port 53 (DNS). Needs the resolvers
 * split first.
 */
static int
host_access(struct conf *c, struct vj_err *err)
{
	char *copy, *w[CONF_MAX_WORDS + 1], canon[64], *a, *colon;
	size_t n, i;
	unsigned long port;
	int family;

	c->access = xcalloc(CONF_MAX_WORDS + 1, sizeof(*c->access));
	c->naccess = 0;
	if (c->val[CONF_HOST_ACCESS] == NULL) {
		for (i = 0; i < c->nresolvers; i++) {
			struct conf_access *e = &c->access[c->naccess++];
			e->address = xstrdup(c->resolvers[i]);
			e->port = 53;
			e->family = strchr(e->address, ':') ? AF_INET6 : AF_INET;
		}
		return 0;
	}
	copy = xstrdup(c->val[CONF_HOST_ACCESS]);
	n = lines_split(copy, w, CONF_MAX_WORDS);
	if (n == 1 && strcmp(w[0], "none") == 0) {
		free(copy);
		return 0;
	}
	for (i = 0; i < n && i < CONF_MAX_WORDS; i++) {
		a = w[i];
		port = 0;
		colon = a[0] == '[' ? strstr(a, "]:") : strchr(a, ':');
		if (a[0] == '[' && colon == NULL)
			goto bad;
		if (colon != NULL && (a[0] == '[' || strchr(colon + 1, ':') ==
		    NULL)) {
			char *end, *digits = colon + (a[0] == '[' ? 2 : 1);
			port = strtoul(digits, &end, 10);
			if (*digits < '0' || *digits > '9' || *end != '\0' ||
			    port == 0 || port > 65535)
				goto bad;
			a = xstrndup(a + (a[0] == '['),
			    (size_t)(colon - a) - (a[0] == '['));
		} else
			a = xstrdup(a);
		if (!conf_parse_address(a, canon, sizeof(canon), &family)) {
			free(a);
			goto bad;
		}
		free(a);
		c->access[c->naccess].address = xstrdup(canon);
		c->access[c->naccess].port = (unsigned)port;
		c->access[c->naccess++].family = family;
	}
	if (n > CONF_MAX_WORDS) {
		vj_errf(err, "%s: more than %d words in 'host_access'",
		    c->where[CONF_HOST_ACCESS], CONF_MAX_WORDS);
		free(copy);
		return -1;
	}
	free(copy);
	return 0;
bad:
	vj_errf(err, "%s: host_access: '%.64s' is not ADDRESS, ADDRESS:PORT, "
	    "[IPV6]:PORT or none", c->where[CONF_HOST_ACCESS], w[i]);
	free(copy);
	return -1;
}

/* The base must be given and be a regular file. */
static int
check_base(const struct conf *c, struct vj_err *err)
{
	struct stat st;

	if (c->val[CONF_BASE] == NULL) {
		vj_errf(err, "%s: no base given (set 'base = FILE' or use "
		    "--base FILE)", c->path ? c->path : "vjbuild");
		return -1;
	}
	if (stat(c->val[CONF_BASE], &st) == -1) {
		vj_errno(err, "%s: base %s", c->where[CONF_BASE],
		    c->val[CONF_BASE]);
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		vj_errf(err, "%s: base %s is not a file", c->where[CONF_BASE],
		    c->val[CONF_BASE]);
		return -1;
	}
	return 0;
}

int
conf_finish(struct conf *c, const char *dir, int need_base, struct vj_err *err)
{
	struct stat st;
	char *d = dir ? fs_abspath(dir) : fs_abspath(".");

	if (c->val[CONF_JAILS] == NULL)
		set(c, CONF_JAILS, "jails", d, "default");
	if (c->val[CONF_STATE] == NULL)
		set(c, CONF_STATE, "state", d, "default");
	if (c->val[CONF_CACHE] == NULL)
		set(c, CONF_CACHE, "cache", d, "default");
	if (c->val[CONF_DISTFILES] == NULL)
		set(c, CONF_DISTFILES, "distfiles", d, "default");
	free(d);
	if (need_base && check_base(c, err) == -1)
		return -1;
	if (c->val[CONF_DISTRIBUTION] != NULL &&
	    stat(c->val[CONF_DISTRIBUTION], &st) == -1) {
		vj_errno(err, "%s: distribution %s", c->where[CONF_DISTRIBUTION],
		    c->val[CONF_DISTRIBUTION]);
		return -1;
	}
	if (c->val[CONF_REGISTRY] != NULL &&
	    strncmp(c->val[CONF_REGISTRY], "postgresql://", 13) != 0 &&
	    strncmp(c->val[CONF_REGISTRY], "postgres://", 11) != 0) {
		vj_errf(err, "%s: registry must be a postgresql:// URL (the "
		    "default registry is the state database)",
		    c->where[CONF_REGISTRY]);
		return -1;
	}
	if (c->val[CONF_DOMAIN] != NULL &&
	    !conf_valid_hostname(c->val[CONF_DOMAIN])) {
		vj_errf(err, "%s: '%.64s' is not a valid domain",
		    c->where[CONF_DOMAIN], c->val[CONF_DOMAIN]);
		return -1;
	}
	c->unpack_limit = UNPACK_LIMIT_DEFAULT;
	if (c->val[CONF_UNPACK_LIMIT] != NULL &&
	    (c->unpack_limit = parse_size(c->val[CONF_UNPACK_LIMIT])) == 0) {
		vj_errf(err, "%s: unpack_limit '%.32s' is not a size (like "
		    "512M or 16G)", c->where[CONF_UNPACK_LIMIT],
		    c->val[CONF_UNPACK_LIMIT]);
		return -1;
	}
	c->log_limit = LOG_LIMIT_DEFAULT;
	if (c->val[CONF_LOG_LIMIT] != NULL &&
	    ((c->log_limit = parse_size(c->val[CONF_LOG_LIMIT])) < 4096)) {
		vj_errf(err, "%s: log_limit '%.32s' is not a size of 4K or more "
		    "(like 512K or 32M)", c->where[CONF_LOG_LIMIT],
		    c->val[CONF_LOG_LIMIT]);
		return -1;
	}
	c->registry_timeout = 10;
	if (c->val[CONF_REGISTRY_TIMEOUT] != NULL) {
		char *end;
		long v = strtol(c->val[CONF_REGISTRY_TIMEOUT], &end, 10);
		if (*c->val[CONF_REGISTRY_TIMEOUT] < '0' ||
		    *c->val[CONF_REGISTRY_TIMEOUT] > '9' || *end != '\0' ||
		    v < 1 || v > 3600) {
			vj_errf(err, "%s: registry_timeout '%.32s' is not a "
			    "number of seconds from 1 to 3600",
			    c->where[CONF_REGISTRY_TIMEOUT],
			    c->val[CONF_REGISTRY_TIMEOUT]);
			return -1;
		}
		c->registry_timeout = (int)v;
	}
	c->history = CONF_HISTORY_DEFAULT;
	if (c->val[CONF_HISTORY] != NULL) {
		char *end;
		long v = strtol(c->val[CONF_HISTORY], &end, 10);
		if (*c->val[CONF_HISTORY] < '0' || *c->val[CONF_HISTORY] > '9' ||
		    *end != '\0' || v < 1 || v > 100000) {
			vj_errf(err, "%s: history '%.32s' is not a number of "
			    "runs from 1 to 100000", c->where[CONF_HISTORY],
			    c->val[CONF_HISTORY]);
			return -1;
		}
		c->history = (int)v;
	}
	if (limits(c, err) == -1 || build_root(c, err) == -1 ||
	    conf_fleet_check(c, err) == -1)
		return -1;
	if (c->val[CONF_RESOLVER] != NULL && c->resolvers == NULL &&
	    split_list(c, CONF_RESOLVER, 1, &c->resolvers, &c->nresolvers,
	    err) == -1)
		return -1;
	if (c->access == NULL && host_access(c, err) == -1)
		return -1;
	if (c->val[CONF_PACKAGES] != NULL && c->packages == NULL &&
	    split_list(c, CONF_PACKAGES, 0, &c->packages, &c->npackages,
	    err) == -1)
		return -1;
	if (c->val[CONF_PRIORITY_BOOST] != NULL && c->boost == NULL &&
	    split_list(c, CONF_PRIORITY_BOOST, 0, &c->boost, &c->nboost,
	    err) == -1)
		return -1;
	return 0;
}
