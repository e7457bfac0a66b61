/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The user's inputs as plain structs: hosts.txt and vjbuild.conf. Parsing
 * validates everything; an error names file:line and nothing is returned.
 * conf/ only reads its inputs (and stats the paths they name).
 */
#ifndef VJ_CONF_H
#define VJ_CONF_H

#include <stddef.h>

struct vj_err;

#define CONF_MAX_LINE	4096	/* bytes per line, newline included */
#define CONF_MAX_HOSTS	65536
#define CONF_MAX_WORDS	1024	/* packages on one line */
#define CONF_HISTORY_DEFAULT 20	/* runs kept (history = N) */

/* A template variable: var.KEY = VALUE. */
struct conf_var {
	char *key;		/* KEY, without "var." */
	char *value;
};

/*
 * A user for the jails: "user.NAME = uid=N [gid=N] [groups=a:b] [shell=P]
 * [home=P] [hash=CRYPT | hashfile=FILE]" in the config (fields separated by
 * blanks or commas), or the same after "user.NAME=" on a host's line. The
 * password is only ever a crypt(3) hash; anything else is refused.
 */
struct conf_user {
	char *name;
	unsigned uid, gid;
	char **groups;		/* supplementary, NULL-terminated */
	size_t ngroups;
	char *shell, *home;
	char *hash;		/* crypt(3) hash, "*" (no login) by default */
};

struct conf_host {
	char *name;		/* a valid host name */
	char *address;		/* canonical text form (inet_ntop) */
	int family;		/* AF_INET or AF_INET6 */
	char **packages;	/* NULL-terminated; NULL when the line has none */
	size_t npackages;
	struct conf_var *vars;	/* var.KEY=VALUE words of the line */
	size_t nvars;
	struct conf_user *users;	/* user.NAME=... words of the line */
	size_t nusers;
	char *limits;		/* its limit.KEY=VALUE words, checked, or NULL */
	int noboot;		/* boot=no: start --all leaves it */
	int thin;		/* thin=yes: 1, thin=no: 0, not said: -1 */
	int line;
};

struct conf_hosts {
	char *path;
	char *dir;		/* its directory, for relative hashfiles */
	struct conf_host *v;
	size_t n;
};

/* Keys of vjbuild.conf. */
enum conf_key {
	CONF_BASE, CONF_DISTRIBUTION, CONF_JAILS, CONF_STATE, CONF_RESOLVER,
	CONF_DOMAIN, CONF_PACKAGES, CONF_PORTS, CONF_DISTFILES, CONF_CACHE,
	CONF_REGISTRY, CONF_DNS, CONF_UNPACK_LIMIT, CONF_LIMIT_PIDS,
	CONF_LIMIT_MEMORY, CONF_LIMIT_CPU, CONF_LIMIT_SHM, CONF_HOST_ACCESS,
	CONF_BUILD_ROOT, CONF_LOG_LIMIT, CONF_REGISTRY_TIMEOUT, CONF_CA, CONF_HISTORY,
	CONF_CACHE_URL, CONF_CACHE_CREDENTIALS, CONF_CACHE_TIMEOUT,
	CONF_CACHE_DOWN, CONF_CLAIM_LEASE, CONF_FLEET_HOST, CONF_FLEET_BUILD, CONF_CACHE_CA,
	CONF_THIN, CONF_PRIORITY_BOOST, CONF_NKEYS
};

/* A service of the host that started jails may reach (host_access). */
struct conf_access {
	char *address;			/* canonical */
	unsigned port;			/* 0: every port */
	int family;			/* AF_INET or AF_INET6 */
};

/* What a started jail may use (limit.* in vjbuild.conf, or on its line
 * in hosts.txt); 0: no limit. */
struct conf_limits {
	unsigned long pids;		/* processes at once (default 1024) */
	unsigned long long memory;	/* bytes of memory (default none) */
	unsigned long cpu_weight;	/* CPU share, 1..10000 (default 100) */
	unsigned long long shm;		/* bytes of /dev/shm (default 64M) */
};

struct conf {
	char *path;			/* the file read, or NULL */
	char *val[CONF_NKEYS];		/* NULL when not set */
	char *where[CONF_NKEYS];	/* "file:line" or "--flag" of each */
	char **packages;		/* the default set, NULL-terminated */
	size_t npackages;
	char **boost;			/* priority_boost: ports whose builds
					 * are long, NULL-terminated */
	size_t nboost;
	char **resolvers;		/* canonical addresses, NULL-terminated */
	size_t nresolvers;
	struct conf_var *vars;		/* var.KEY = VALUE lines */
	size_t nvars;
	struct conf_user *users;	/* user.NAME = ... lines */
	size_t nusers;
	unsigned long long unpack_limit;	/* bytes an archive may unpack to */
	unsigned long long log_limit;	/* bytes a build's log keeps */
	int registry_timeout;		/* seconds a PostgreSQL round trip may take */
	int history;			/* runs whose records and logs are kept */
	/* The fleet (fleet.c): the shared package store and the claims. */
	int cache_timeout;		/* seconds an HTTP step may wait */
	int cache_down_build;		/* cache_down = build: build alone */
	int claim_lease;		/* seconds a claim lives unrenewed */
	int fleet_build_no;		/* fleet_build = no: never claim */
	char *fleet_host;		/* this host in the fleet */
	int thin;			/* thin = yes: jails share the base
					 * and packages (tasks/thin.c) */
	struct conf_limits limits;
	struct conf_access *access;	/* default: each resolver, port 53 */
	size_t naccess;
};

/*
 * Parses hosts.txt at path. Returns a new struct conf_hosts (free it with
 * conf_hosts_free), or NULL with err as "path:line: what is wrong".
 */
struct conf_hosts *conf_hosts_read(const char *path, struct vj_err *err);
void conf_hosts_free(struct conf_hosts *h);

/*
 * Parses vjbuild.conf at path; path NULL gives an empty config (defaults).
 * Relative paths in it are made relative to the file's directory. Returns a
 * new struct conf or NULL with err naming file:line.
 */
struct conf *conf_read(const char *path, struct vj_err *err);
/* Sets limit.KEY (key without "limit.") to the text v: 0, or -1 with why
 * saying what is wrong with it. */
int conf_limit_set(struct conf_limits *l, const char *key, const char *v,
    struct vj_err *why);
/* Sets the limits of words ("KEY=VALUE ...", a host line's limit.* words
 * as conf_hosts keeps them; NULL for none) over l: 0, or -1 with why. */
int conf_limits_apply(struct conf_limits *l, const char *words,
    struct vj_err *why);
/* The fleet's keys checked (fleet.c): 0, or -1 with err at file:line. */
int conf_fleet_check(struct conf *c, struct vj_err *err);
/* The credentials file's "user:password" (malloc'd), NULL when none is
 * set, or NULL with err when it cannot be read or others may read it. */
char *conf_cache_credentials(const struct conf *c, int *failed,
    struct vj_err *err);

/* Sets key from a command-line flag (which wins over the file). */
void conf_set(struct conf *c, enum conf_key k, const char *value,
    const char *where);
/*
 * Fills defaults (relative to dir: jails, state) and checks what must hold
 * before a run: the base exists and is a file (when need_base), the
 * distribution exists, the domain and resolvers are valid. Returns 0 or -1
 * with err naming where the bad value was given.
 */
int conf_finish(struct conf *c, const char *dir, int need_base,
    struct vj_err *err);
void conf_free(struct conf *c);

/* Validation shared by both parsers and tests. Each returns 1 when valid. */
int conf_valid_hostname(const char *s);
int conf_valid_word(const char *s);	/* a package name */
int conf_valid_varkey(const char *s);	/* [A-Za-z0-9_]+, at most 64 */
/* A user or group name: [a-z_][a-z0-9_-]*, at most 32. */
int conf_valid_username(const char *s);
/* A crypt(3) hash ($id$salt$hash, DES) or a locked marker ("*", "!..."). */
int conf_valid_hash(const char *s);

/*
 * Parses the fields of user name from spec (relative paths, for hashfile,
 * against dir). On failure err says what is wrong without repeating a
 * value that might be a password. 0 or -1.
 */
int conf_user_parse(struct conf_user *u, const char *name, const char *spec,
    const char *dir, struct vj_err *err);
void conf_user_clear(struct conf_user *u);
/* Parses an IPv4 or IPv6 address; fills canonical text (at least 46 bytes)
 * and *family. Returns 1 when valid. */
int conf_parse_address(const char *s, char *canon, size_t n, int *family);

/*
 * A port: ports/NAME/recipe ("key = value": version, comment, depends,
 * source, sha256), ports/NAME/build (a sh script), ports/NAME/files/
 * (templates, *.in, and plain files for each jail), ports/NAME/src/ (the
 * sources, when source = none).
 */
struct conf_port {
	char *name;
	char *dir;		/* absolute ports/NAME */
	char *recipe;		/* its path, for messages */
	char *version, *comment;
	char **depends;		/* names, NULL-terminated */
	size_t ndepends;
	int *dep;		/* indexes into conf_ports.v of each depends */
	int depends_line;
	char *source;		/* absolute distfile path; NULL: dir/src */
	char sha256[65];	/* of the distfile, as the recipe says */
	int source_hashed;	/* its digest was read from the file in
				 * conf_ports_read, not recorded: the caller
				 * may record it (conf_digest_fn) */
	char **files;		/* regular files under files/, relative */
	size_t nfiles;
	char **services;	/* 'service =': rc.d script names, NULL-ended */
	size_t nservices;
	char *setup;		/* ports/NAME/setup's text (run in each jail
				 * after install), or NULL */
	int tls;		/* 'tls = yes': its jails get a key and a
				 * certificate (cert:J) */
};

struct conf_ports {
	struct conf_port *v;
	size_t n;
};

/*
 * Sets want[i] and want[k] for every port k that port i depends on, all the
 * way down (without recursion). v is in dependency order (a port after
 * what it depends on), so walking want[] upwards installs each once, in an
 * order that works.
 */
void conf_ports_closure(const struct conf_ports *p, int i, char *want);

/*
 * A digest of path recorded earlier (a state's, for the same size, mtime
 * and inode): 1 with hex set, 0 when none, -1 with err.
 */
typedef int (*conf_digest_fn)(void *ctx, const char *path, char hex[65],
    struct vj_err *err);

/*
 * Reads the ports named in want[0..n-1] and every port they depend on,
 * from portsdir, checking each recipe: known keys, a version, known
 * dependencies, no cycle (the message names it), a source that exists in
 * distfiles with the sha256 the recipe gives (or a src/ directory): its
 * digest from recorded (when not NULL, and it has one), else read from
 * the file (source_hashed). Returns the ports (dependencies first: a
 * port's dep[] indexes are smaller than its own) or NULL with err naming
 * recipe:line.
 */
struct conf_ports *conf_ports_read(const char *portsdir, const char *distfiles,
    char *const *want, size_t n, conf_digest_fn recorded, void *ctx,
    struct vj_err *err);
void conf_ports_free(struct conf_ports *p);
/* The index of port name, or -1. */
int conf_ports_find(const struct conf_ports *p, const char *name);

/*
 * Renders template text (from file path, for messages) for host h: %%NAME%%,
 * %%HOSTNAME%% (NAME.DOMAIN when there is a domain), %%DOMAIN%%,
 * %%ADDRESS%% and %%var.KEY%% from the host's line, else the config. An
 * unknown or unterminated %%...%% is an error naming path:line. Returns a
 * malloc'd string or NULL with err.
 */
char *conf_render(const char *text, const char *path, const struct conf *c,
    const struct conf_host *h, struct vj_err *err);

#endif
