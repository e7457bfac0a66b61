/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Users for the jails (see conf.h). Passwords arrive only as crypt(3)
 * hashes, inline or in a file; a value that does not look like one is
 * refused, and no message ever repeats it, since it might be a clear-text
 * password typed by mistake.
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../util/util.h"
#include "conf.h"
#include "lines.h"

int
conf_valid_username(const char *s)
{
	size_t n = strlen(s), i;

	if (n == 0 || n > 32 || !(islower((unsigned char)s[0]) || s[0] == '_'))
		return 0;
	for (i = 1; i < n; i++)
		if (!islower((unsigned char)s[i]) && !isdigit((unsigned char)s[i])
		    && s[i] != '_' && s[i] != '-')
			return 0;
	return 1;
}

static int
crypt_char(char c)
{
	return isalnum((unsigned char)c) || c == '.' || c == '/';
}

int
conf_valid_hash(const char *s)
{
	size_t n = strlen(s), i, dollars = 0;

	if (strcmp(s, "*") == 0 || (s[0] == '!' && (s[1] == '\0' ||
	    conf_valid_hash(s + 1) || strcmp(s + 1, "*") == 0)))
		return 1;
	if (n == 13) {		/* traditional DES */
		for (i = 0; i < n; i++)
			if (!crypt_char(s[i]))
				return 0;
		return 1;
	}
	if (s[0] != '$' || n < 20)
		return 0;
	for (i = 0; i < n; i++) {
		if (s[i] == '$')
			dollars++;
		else if (!crypt_char(s[i]) && s[i] != '=' && s[i] != ',')
			return 0;
	}
	return dollars >= 3;	/* $id$salt$hash, or $id$params$salt$hash */
}

void
conf_user_clear(struct conf_user *u)
{
	size_t i;

	free(u->name);
	for (i = 0; i < u->ngroups; i++)
		free(u->groups[i]);
	free(u->groups);
	free(u->shell);
	free(u->home);
	if (u->hash != NULL) {
		memset(u->hash, 0, strlen(u->hash));
		free(u->hash);
	}
	memset(u, 0, sizeof(*u));
}

static int
number(const char *v, unsigned *out)
{
	char *end;
	unsigned long n;

	errno = 0;
	n = strtoul(v, &end, 10);
	if (errno || *end || end == v || n > 4294967294UL || v[0] == '-')
		return 0;
	*out = (unsigned)n;
	return 1;
}

static char *
read_hash(const char *path, struct vj_err *err)
{
	char *text = fs_read(path, 4096, NULL);

	if (text == NULL) {
		vj_errno(err, "hashfile %s", path);
		return NULL;
	}
	text[strcspn(text, "\r\n")] = '\0';
	return text;
}

/*
 * A home is /home/DIR or /usr/home/DIR (FreeBSD's /home), one or more
 * plain components below it: never /, /etc or another system directory
 * that the users task would give to the user (no "." or ".." components,
 * no empty ones).
 */
static int
valid_home(const char *h)
{
	const char *p, *c;
	size_t n;

	if (strncmp(h, "/home/", 6) == 0)
		p = h + 6;
	else if (strncmp(h, "/usr/home/", 10) == 0)
		p = h + 10;
	else
		return 0;
	if (*p == '\0' || strlen(h) > 255)
		return 0;
	for (c = p; *c; c += n + (c[n] == '/')) {
		n = strcspn(c, "/");
		if (n == 0 || (n == 1 && c[0] == '.') ||
		    (n == 2 && c[0] == '.' && c[1] == '.'))
			return 0;
		if (c[n] == '/' && c[n + 1] == '\0')
			return 0;	/* a trailing slash */
	}
	for (c = h; *c; c++)
		if ((unsigned char)*c < 0x21 || *c == 0x7f || *c == ':')
			return 0;	/* a passwd field holds it */
	return 1;
}

int
conf_user_parse(struct conf_user *u, const char *name, const char *spec,
    const char *dir, struct vj_err *err)
{
	char *copy = xstrdup(spec), *p = copy, *f;
	int have_uid = 0, have_gid = 0, rc = -1;

	memset(u, 0, sizeof(*u));
	if (!conf_valid_username(name)) {
		vj_errf(err, "'%.32s' is not a valid user name", name);
		goto out;
	}
	u->name = xstrdup(name);
	while ((f = strsep(&p, " \t,")) != NULL) {
		char *eq = strchr(f, '='), *v;
		if (*f == '\0')
			continue;
		if (eq == NULL) {
			vj_errf(err, "user %s: expected key=value fields", name);
			goto out;
		}
		*eq = '\0';
		v = eq + 1;
		if (strcmp(f, "uid") == 0 && !have_uid)
			have_uid = number(v, &u->uid);
		else if (strcmp(f, "gid") == 0 && !have_gid)
			have_gid = number(v, &u->gid);
		else if (strcmp(f, "shell") == 0 && !u->shell && v[0] == '/')
			u->shell = xstrdup(v);
		else if (strcmp(f, "home") == 0 && !u->home) {
			if (!valid_home(v)) {
				vj_errf(err, "user %s: home '%.64s' is not a "
				    "directory under /home (or /usr/home)",
				    name, v);
				goto out;
			}
			u->home = xstrdup(v);
		}
		else if (strcmp(f, "groups") == 0 && !u->groups) {
			char *g;
			u->groups = xcalloc(strlen(v) + 2, sizeof(char *));
			while ((g = strsep(&v, ":")) != NULL) {
				if (!conf_valid_username(g)) {
					vj_errf(err, "user %s: '%.32s' is not a "
					    "valid group name", name, g);
					goto out;
				}
				u->groups[u->ngroups++] = xstrdup(g);
			}
		} else if (strcmp(f, "hash") == 0 && !u->hash) {
			u->hash = xstrdup(v);
			if (!conf_valid_hash(u->hash)) {
				vj_errf(err, "user %s: the password is not a "
				    "crypt(3) hash (vjbuild takes no clear-text "
				    "passwords; make one with mkpasswd)", name);
				goto out;
			}
		} else if (strcmp(f, "hashfile") == 0 && !u->hash) {
			char *path = v[0] == '/' || dir == NULL ? xstrdup(v) :
			    fs_join(dir, v);
			u->hash = read_hash(path, err);
			free(path);
			if (u->hash == NULL)
				goto out;
			if (!conf_valid_hash(u->hash)) {
				vj_errf(err, "user %s: hashfile %s does not hold "
				    "a crypt(3) hash", name, v);
				goto out;
			}
		} else {
			vj_errf(err, "user %s: unknown, repeated or bad field "
			    "'%.16s'", name, f);
			goto out;
		}
		if ((strcmp(f, "uid") == 0 && !have_uid) ||
		    (strcmp(f, "gid") == 0 && !have_gid)) {
			vj_errf(err, "user %s: %s is not a number", name, f);
			goto out;
		}
	}
	if (!have_uid) {
		vj_errf(err, "user %s: no uid", name);
		goto out;
	}
	if (!have_gid)
		u->gid = u->uid;
	if (u->shell == NULL)
		u->shell = xstrdup("/bin/sh");
	if (u->home == NULL)
		u->home = xasprintf("/home/%s", name);
	if (u->hash == NULL)
		u->hash = xstrdup("*");
	rc = 0;
out:
	if (rc == -1)
		conf_user_clear(u);
	free(copy);
	return rc;
}
