/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * hosts.txt: one host per line, "NAME ADDRESS [PACKAGE...] [var.KEY=VALUE...]
 * [user.NAME=...] [limit.KEY=VALUE...]",
 * '#' comments and blank lines allowed. Names are compared without regard to case (DNS does
 * not see case); addresses by their binary value, so 10.0.0.1 and ::1 are
 * compared as the kernel would.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../util/util.h"
#include "conf.h"
#include "lines.h"

static void
host_clear(struct conf_host *c)
{
	size_t k;

	free(c->name);
	free(c->address);
	for (k = 0; k < c->npackages; k++)
		free(c->packages[k]);
	free(c->packages);
	for (k = 0; k < c->nvars; k++) {
		free(c->vars[k].key);
		free(c->vars[k].value);
	}
	free(c->vars);
	for (k = 0; k < c->nusers; k++)
		conf_user_clear(&c->users[k]);
	free(c->users);
	free(c->limits);
	memset(c, 0, sizeof(*c));
}

void
conf_hosts_free(struct conf_hosts *h)
{
	size_t i;

	if (h == NULL)
		return;
	for (i = 0; i < h->n; i++)
		host_clear(&h->v[i]);
	free(h->v);
	free(h->path);
	free(h->dir);
	free(h);
}

static const struct conf_host *sort_hosts;

static int
byname(const void *a, const void *b)
{
	const struct conf_host *x = &sort_hosts[*(const size_t *)a];
	const struct conf_host *y = &sort_hosts[*(const size_t *)b];
	int c = strcasecmp(x->name, y->name);

	return c != 0 ? c : x->line - y->line;
}

static int
byaddr(const void *a, const void *b)
{
	const struct conf_host *x = &sort_hosts[*(const size_t *)a];
	const struct conf_host *y = &sort_hosts[*(const size_t *)b];
	int c = strcmp(x->address, y->address);

	return c != 0 ? c : x->line - y->line;
}

/*
 * Finds duplicate names and addresses in O(n log n): sort the hosts by each
 * key and compare neighbours. Of all duplicates, the one on the earliest line
 * is reported, as a one-pass check would.
 */
static int
check_dups(const struct conf_hosts *h, struct vj_err *err)
{
	size_t *ix = xmalloc(h->n * sizeof(*ix)), i, pass;
	const struct conf_host *first = NULL, *dup = NULL, *a, *b;
	int byaddr_dup = 0;

	sort_hosts = h->v;
	for (pass = 0; pass < 2; pass++) {
		for (i = 0; i < h->n; i++)
			ix[i] = i;
		qsort(ix, h->n, sizeof(*ix), pass ? byaddr : byname);
		for (i = 1; i < h->n; i++) {
			a = &h->v[ix[i - 1]];
			b = &h->v[ix[i]];
			if (pass == 0 ? strcasecmp(a->name, b->name) != 0 :
			    strcmp(a->address, b->address) != 0)
				continue;
			if (dup == NULL || b->line < dup->line) {
				first = a;
				dup = b;
				byaddr_dup = (int)pass;
			}
		}
	}
	free(ix);
	if (dup == NULL)
		return 0;
	if (!byaddr_dup)
		vj_errf(err, "%s:%d: duplicate host name '%s' (first on line %d)",
		    h->path, dup->line, dup->name, first->line);
	else
		vj_errf(err, "%s:%d: duplicate address %s (host '%s' on line %d)",
		    h->path, dup->line, dup->address, first->name, first->line);
	return -1;
}

static int
parse_line(struct conf_hosts *h, char *line, int lineno, struct vj_err *err)
{
	char *w[CONF_MAX_WORDS + 2], canon[64];
	struct conf_host c;
	size_t n, i;
	int family;

	n = lines_split(line, w, CONF_MAX_WORDS + 2);
	if (n > CONF_MAX_WORDS + 2) {
		vj_errf(err, "%s:%d: more than %d packages", h->path, lineno,
		    CONF_MAX_WORDS);
		return -1;
	}
	if (n < 2) {
		vj_errf(err, "%s:%d: expected NAME ADDRESS [PACKAGE...]",
		    h->path, lineno);
		return -1;
	}
	if (!conf_valid_hostname(w[0])) {
		vj_errf(err, "%s:%d: '%.64s' is not a valid host name (letters, "
		    "digits, '-' and '.' separated labels, at most 253 "
		    "characters)", h->path, lineno, w[0]);
		return -1;
	}
	if (!conf_parse_address(w[1], canon, sizeof(canon), &family)) {
		vj_errf(err, "%s:%d: '%.64s' is not an IPv4 or IPv6 address",
		    h->path, lineno, w[1]);
		return -1;
	}
	for (i = 2; i < n; i++) {
		char *eq = strchr(w[i], '=');
		if (strncmp(w[i], "user.", 5) == 0 && eq != NULL)
			continue;	/* parsed below, once the line is known good */
		if (strncmp(w[i], "boot=", 5) == 0 ||
		    strncmp(w[i], "thin=", 5) == 0) {
			if (strcmp(w[i] + 5, "yes") != 0 &&
			    strcmp(w[i] + 5, "no") != 0) {
				vj_errf(err, "%s:%d: '%.64s': %.4s is yes or no",
				    h->path, lineno, w[i], w[i]);
				return -1;
			}
			continue;
		}
		if (strncmp(w[i], "limit.", 6) == 0 && eq != NULL) {
			struct conf_limits l;
			struct vj_err why;
			int bad;
			*eq = '\0';
			bad = conf_limit_set(&l, w[i] + 6, eq + 1, &why);
			*eq = '=';
			if (bad) {
				vj_errf(err, "%s:%d: %s", h->path, lineno,
				    why.msg);
				return -1;
			}
			continue;
		}
		if (strncmp(w[i], "var.", 4) == 0 && eq != NULL) {
			*eq = '\0';
			if (!conf_valid_varkey(w[i] + 4)) {
				vj_errf(err, "%s:%d: '%.64s' is not a valid "
				    "variable name", h->path, lineno, w[i]);
				return -1;
			}
			*eq = '=';
		} else if (!conf_valid_word(w[i])) {
			vj_errf(err, "%s:%d: '%.64s' is not a valid package "
			    "name", h->path, lineno, w[i]);
			return -1;
		}
	}
	if (h->n == CONF_MAX_HOSTS) {
		vj_errf(err, "%s:%d: more than %d hosts", h->path, lineno,
		    CONF_MAX_HOSTS);
		return -1;
	}
	memset(&c, 0, sizeof(c));
	c.line = lineno;
	c.name = xstrdup(w[0]);
	c.address = xstrdup(canon);
	c.family = family;
	c.thin = -1;
	for (i = 2; i < n; i++) {
		char *eq = strchr(w[i], '=');
		if (strncmp(w[i], "boot=", 5) == 0) {
			c.noboot = strcmp(w[i] + 5, "no") == 0;
			continue;
		}
		if (strncmp(w[i], "thin=", 5) == 0) {
			c.thin = strcmp(w[i] + 5, "yes") == 0;
			continue;
		}
		if (eq != NULL && strncmp(w[i], "limit.", 6) == 0) {
			char *was = c.limits;
			c.limits = was == NULL ? xstrdup(w[i] + 6) :
			    xasprintf("%s %s", was, w[i] + 6);
			free(was);
			continue;
		}
		if (eq != NULL && strncmp(w[i], "user.", 5) == 0) {
			struct conf_user u;
			struct vj_err why;
			size_t k;
			*eq = '\0';
			for (k = 0; k < c.nusers; k++)
				if (strcmp(c.users[k].name, w[i] + 5) == 0)
					break;
			if (k < c.nusers || conf_user_parse(&u, w[i] + 5,
			    eq + 1, h->dir, &why) == -1) {
				if (k < c.nusers)
					vj_errf(&why, "user %s twice", w[i] + 5);
				vj_errf(err, "%s:%d: %s", h->path, lineno,
				    why.msg);
				host_clear(&c);
				return -1;
			}
			c.users = xreallocarray(c.users, c.nusers + 1,
			    sizeof(*c.users));
			c.users[c.nusers++] = u;
			continue;
		}
		if (eq != NULL) {
			c.vars = xreallocarray(c.vars, c.nvars + 1,
			    sizeof(*c.vars));
			c.vars[c.nvars].key = xstrndup(w[i] + 4,
			    (size_t)(eq - w[i] - 4));
			c.vars[c.nvars++].value = xstrdup(eq + 1);
			continue;
		}
		if (c.packages == NULL)
			c.packages = xcalloc(n - 1, sizeof(*c.packages));
		c.packages[c.npackages++] = xstrdup(w[i]);
	}
	if ((h->n & (h->n - 1)) == 0)
		h->v = xreallocarray(h->v, h->n ? h->n * 2 : 1, sizeof(*h->v));
	h->v[h->n++] = c;
	return 0;
}

struct conf_hosts *
conf_hosts_read(const char *path, struct vj_err *err)
{
	struct conf_hosts *h;
	struct lines l;
	char *line;
	int r;

	if (lines_open(&l, path, err) == -1)
		return NULL;
	h = xcalloc(1, sizeof(*h));
	h->path = xstrdup(path);
	{
		char *d = fs_dirname(path);
		h->dir = fs_abspath(d);
		free(d);
	}
	while ((r = lines_next(&l, &line, err)) == 1) {
		if (*line == '\0')
			continue;
		if (parse_line(h, line, l.lineno, err) == -1) {
			r = -1;
			break;
		}
	}
	lines_close(&l);
	if (r == 0 && h->n == 0) {
		vj_errf(err, "%s: no hosts", path);
		r = -1;
	}
	if (r == 0 && check_dups(h, err) == -1)
		r = -1;
	if (r == -1) {
		conf_hosts_free(h);
		return NULL;
	}
	return h;
}
