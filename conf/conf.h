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

struct conf_host {
	char *name;		/* a valid host name */
	char *address;		/* canonical text form (inet_ntop) */
	int family;		/* AF_INET or AF_INET6 */
	char **packages;	/* NULL-terminated; NULL when the line has none */
	size_t npackages;
	int line;
};

struct conf_hosts {
	char *path;
	struct conf_host *v;
	size_t n;
};

/* Keys of vjbuild.conf; conf_key_name() gives their spelling. */
enum conf_key {
	CONF_BASE, CONF_DISTRIBUTION, CONF_JAILS, CONF_STATE, CONF_RESOLVER,
	CONF_DOMAIN, CONF_PACKAGES, CONF_PORTS, CONF_DISTFILES, CONF_CACHE,
	CONF_NKEYS
};

struct conf {
	char *path;			/* the file read, or NULL */
	char *val[CONF_NKEYS];		/* NULL when not set */
	char *where[CONF_NKEYS];	/* "file:line" or "--flag" of each */
	char **packages;		/* the default set, NULL-terminated */
	size_t npackages;
	char **resolvers;		/* canonical addresses, NULL-terminated */
	size_t nresolvers;
};

const char *conf_key_name(enum conf_key k);

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
/* Parses an IPv4 or IPv6 address; fills canonical text (at least 46 bytes)
 * and *family. Returns 1 when valid. */
int conf_parse_address(const char *s, char *canon, size_t n, int *family);

#endif
