/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The ports tree: recipes read without running anything, and templates.
 *
 * Ports are loaded depth-first from the wanted names, so a port is appended
 * after all its dependencies; a port met again while it is still on the
 * stack is a cycle, reported as "a -> b -> a" at the recipe line that closes
 * it.
 */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../util/util.h"
#include "conf.h"
#include "lines.h"

struct loader {
	const char *portsdir, *distfiles;
	conf_digest_fn recorded;
	void *ctx;
	struct conf_ports *p;
	char **stack;		/* names being loaded */
	size_t nstack;
	struct vj_err *err;
};

static void
port_free(struct conf_port *p)
{
	size_t i;

	free(p->name);
	free(p->dir);
	free(p->recipe);
	free(p->version);
	free(p->comment);
	for (i = 0; i < p->ndepends; i++)
		free(p->depends[i]);
	free(p->depends);
	free(p->dep);
	free(p->source);
	for (i = 0; i < p->nfiles; i++)
		free(p->files[i]);
	free(p->files);
	for (i = 0; i < p->nservices; i++)
		free(p->services[i]);
	free(p->services);
	free(p->setup);
}

void
conf_ports_free(struct conf_ports *p)
{
	size_t i;

	if (p == NULL)
		return;
	for (i = 0; i < p->n; i++)
		port_free(&p->v[i]);
	free(p->v);
	free(p);
}

int
conf_ports_find(const struct conf_ports *p, const char *name)
{
	size_t i;

	for (i = 0; i < p->n; i++)
		if (strcmp(p->v[i].name, name) == 0)
			return (int)i;
	return -1;
}

void
conf_ports_closure(const struct conf_ports *p, int i, char *want)
{
	int *stack, top = 0;
	size_t k;

	if (want[i])
		return;
	stack = xmalloc(p->n * sizeof(*stack));
	want[i] = 1;
	stack[top++] = i;
	while (top > 0) {
		const struct conf_port *cp = &p->v[stack[--top]];
		for (k = 0; k < cp->ndepends; k++)
			if (!want[cp->dep[k]]) {
				want[cp->dep[k]] = 1;
				stack[top++] = cp->dep[k];
			}
	}
	free(stack);
}

/* Lists the regular files under dir (relative, sorted) into the port. */
static int
list_files(struct conf_port *port, const char *dir, const char *rel,
    struct vj_err *err)
{
	char *path = rel[0] ? fs_join(dir, rel) : xstrdup(dir);
	struct dirent **names = NULL;
	int n, i, rc = 0;

	n = scandir(path, &names, NULL, alphasort);
	if (n == -1) {
		if (errno == ENOENT && rel[0] == '\0') {
			free(path);
			return 0;	/* no files/: nothing to install */
		}
		vj_errno(err, "%s", path);
		free(path);
		return -1;
	}
	for (i = 0; i < n; i++) {
		const char *d = names[i]->d_name;
		struct stat st;
		char *sub, *full;
		if (strcmp(d, ".") == 0 || strcmp(d, "..") == 0)
			continue;
		sub = rel[0] ? xasprintf("%s/%s", rel, d) : xstrdup(d);
		full = fs_join(dir, sub);
		if (rc == 0 && lstat(full, &st) == -1) {
			vj_errno(err, "%s", full);
			rc = -1;
		} else if (rc == 0 && S_ISDIR(st.st_mode))
			rc = list_files(port, dir, sub, err);
		else if (rc == 0 && S_ISREG(st.st_mode)) {
			port->files = xreallocarray(port->files,
			    port->nfiles + 1, sizeof(*port->files));
			port->files[port->nfiles++] = xstrdup(sub);
		} else if (rc == 0) {
			vj_errf(err, "%s: only files and directories may be "
			    "under files/", full);
			rc = -1;
		}
		free(sub);
		free(full);
	}
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	free(path);
	return rc;
}

static int
is_hex64(const char *s)
{
	size_t i;

	for (i = 0; i < 64; i++)
		if (!strchr("0123456789abcdef", s[i]) || s[i] == '\0')
			return 0;
	return s[64] == '\0';
}

/* ports/NAME/setup, when the port has one: a shell script of at most
 * SETUP_MAX bytes, no NUL (it is handed to sh -c in each jail). */
#define SETUP_MAX (64u << 10)
static int
read_setup(struct conf_port *port, struct vj_err *err)
{
	char *path = fs_join(port->dir, "setup");
	size_t len;
	struct stat st;
	int rc = 0;

	if (lstat(path, &st) == -1 && errno == ENOENT) {
		free(path);
		return 0;
	}
	if ((port->setup = fs_read(path, SETUP_MAX, &len)) == NULL &&
	    errno != EFBIG) {
		vj_errno(err, "%s", path);
		rc = -1;
	} else if (port->setup == NULL || memchr(port->setup, '\0', len)) {
		vj_errf(err, "%s: a setup script is text of at most %u KiB",
		    path, SETUP_MAX >> 10);
		rc = -1;
	}
	if (rc == -1) {
		free(port->setup);
		port->setup = NULL;
	}
	free(path);
	return rc;
}

/* Parses ports/NAME/recipe into port (but not its dependencies). */
static int
parse_recipe(struct loader *ld, struct conf_port *port)
{
	struct vj_err *err = ld->err;
	struct lines l;
	char *line, *eq, *key, *val, *end;
	int r, source_line = 0, sha_line = 0, tls_line = 0;

	if (lines_open(&l, port->recipe, err) == -1)
		return -1;
	while ((r = lines_next(&l, &line, err)) == 1) {
		if (*line == '\0')
			continue;
		if ((eq = strchr(line, '=')) == NULL) {
			vj_errf(err, "%s:%d: expected 'key = value'",
			    port->recipe, l.lineno);
			r = -1;
			break;
		}
		*eq = '\0';
		key = line;
		for (end = eq; end > key && (end[-1] == ' ' || end[-1] == '\t');)
			*--end = '\0';
		for (val = eq + 1; *val == ' ' || *val == '\t'; val++)
			;
		if (strcmp(key, "version") == 0 && !port->version &&
		    conf_valid_word(val))
			port->version = xstrdup(val);
		else if (strcmp(key, "comment") == 0 && !port->comment)
			port->comment = xstrdup(val);
		else if (strcmp(key, "depends") == 0 && !port->depends) {
			char *w[CONF_MAX_WORDS + 1];
			size_t n = lines_split(val, w, CONF_MAX_WORDS), i;
			port->depends_line = l.lineno;
			port->depends = xcalloc(n + 1, sizeof(char *));
			for (i = 0; i < n && r == 1; i++) {
				if (n > CONF_MAX_WORDS || !conf_valid_word(w[i])) {
					vj_errf(err, "%s:%d: bad dependency "
					    "'%.64s'", port->recipe, l.lineno,
					    n > CONF_MAX_WORDS ? "..." : w[i]);
					r = -1;
					break;
				}
				port->depends[port->ndepends++] = xstrdup(w[i]);
			}
			if (r == -1)
				break;
		} else if (strcmp(key, "service") == 0 && !port->services) {
			char *w[CONF_MAX_WORDS + 1];
			size_t n = lines_split(val, w, CONF_MAX_WORDS), i;
			port->services = xcalloc(n + 1, sizeof(char *));
			for (i = 0; i < n; i++) {
				if (n > CONF_MAX_WORDS || !conf_valid_word(w[i])) {
					vj_errf(err, "%s:%d: bad service '%.64s' "
					    "(the name of a script in "
					    "/usr/local/etc/rc.d)", port->recipe,
					    l.lineno, n > CONF_MAX_WORDS ?
					    "..." : w[i]);
					r = -1;
					break;
				}
				port->services[port->nservices++] =
				    xstrdup(w[i]);
			}
			if (r == -1)
				break;
		} else if (strcmp(key, "tls") == 0 && !tls_line &&
		    (strcmp(val, "yes") == 0 || strcmp(val, "no") == 0)) {
			tls_line = l.lineno;
			port->tls = strcmp(val, "yes") == 0;
		} else if (strcmp(key, "source") == 0 && !source_line) {
			source_line = l.lineno;
			if (strcmp(val, "none") != 0) {
				if (!conf_valid_word(val)) {
					vj_errf(err, "%s:%d: source '%.64s' is "
					    "not a file name", port->recipe,
					    l.lineno, val);
					r = -1;
					break;
				}
				port->source = fs_join(ld->distfiles, val);
			}
		} else if (strcmp(key, "sha256") == 0 && !sha_line &&
		    is_hex64(val)) {
			sha_line = l.lineno;
			memcpy(port->sha256, val, 65);
		} else {
			vj_errf(err, "%s:%d: unknown, repeated or malformed key "
			    "'%.64s'", port->recipe, l.lineno, key);
			r = -1;
			break;
		}
	}
	lines_close(&l);
	if (r == -1)
		return -1;
	if (port->version == NULL) {
		vj_errf(err, "%s: no 'version'", port->recipe);
		return -1;
	}
	if (!source_line) {
		vj_errf(err, "%s: no 'source' (a file in distfiles, or none)",
		    port->recipe);
		return -1;
	}
	if (port->source != NULL) {
		char hex[65];
		int r;
		if (!sha_line) {
			vj_errf(err, "%s:%d: source without 'sha256'",
			    port->recipe, source_line);
			return -1;
		}
		if (access(port->source, R_OK) == -1) {
			vj_errno(err, "%s:%d: source %s", port->recipe,
			    source_line, port->source);
			return -1;
		}
		/* A recorded digest spares hashing every distfile at every
		 * run (tens of MB: most of a warm run's start); fetch:P
		 * hashes the file again whenever it unpacks it. */
		r = ld->recorded != NULL ? ld->recorded(ld->ctx, port->source,
		    hex, err) : 0;
		if (r == -1)
			return -1;
		/* A refusal is never on a record's word alone. */
		if (r == 0 || strcmp(hex, port->sha256) != 0) {
			if (sha256_file(port->source, hex, err) == -1)
				return -1;
			port->source_hashed = 1;
		}
		if (strcmp(hex, port->sha256) != 0) {
			vj_errf(err, "%s:%d: %s has sha256 %s, not the %s the "
			    "recipe gives", port->recipe, sha_line,
			    port->source, hex, port->sha256);
			return -1;
		}
	} else {
		char *src = fs_join(port->dir, "src");
		struct stat st;
		int ok = stat(src, &st) == 0 && S_ISDIR(st.st_mode);
		if (!ok)
			vj_errf(err, "%s:%d: source = none, but %s is not a "
			    "directory", port->recipe, source_line, src);
		free(src);
		if (!ok)
			return -1;
	}
	{
		char *build = fs_join(port->dir, "build");
		int ok = access(build, R_OK) == 0;
		if (!ok)
			vj_errno(err, "%s: the port has no build script %s",
			    port->recipe, build);
		free(build);
		if (!ok)
			return -1;
	}
	if (read_setup(port, err) == -1)
		return -1;
	{
		char *files = fs_join(port->dir, "files");
		int rc = list_files(port, files, "", err);
		free(files);
		return rc;
	}
}

static int
load(struct loader *ld, const char *name, const char *from, int from_line)
{
	struct conf_port port;
	struct sbuf b = { 0 };
	size_t i;

	if (conf_ports_find(ld->p, name) != -1)
		return 0;
	for (i = 0; i < ld->nstack; i++)
		if (strcmp(ld->stack[i], name) == 0) {
			for (; i < ld->nstack; i++)
				sbuf_printf(&b, "%s -> ", ld->stack[i]);
			sbuf_puts(&b, name);
			vj_errf(ld->err, "%s:%d: dependency cycle: %s", from,
			    from_line, b.s);
			sbuf_free(&b);
			return -1;
		}
	memset(&port, 0, sizeof(port));
	port.name = xstrdup(name);
	port.dir = fs_join(ld->portsdir, name);
	port.recipe = fs_join(port.dir, "recipe");
	if (access(port.recipe, F_OK) == -1) {
		if (from != NULL)
			vj_errf(ld->err, "%s:%d: unknown port '%s' (no %s)",
			    from, from_line, name, port.recipe);
		else
			vj_errf(ld->err, "unknown port '%s' (no %s)", name,
			    port.recipe);
		port_free(&port);
		return -1;
	}
	if (parse_recipe(ld, &port) == -1) {
		port_free(&port);
		return -1;
	}
	ld->stack = xreallocarray(ld->stack, ld->nstack + 1, sizeof(char *));
	ld->stack[ld->nstack++] = port.name;
	for (i = 0; i < port.ndepends; i++)
		if (load(ld, port.depends[i], port.recipe,
		    port.depends_line) == -1) {
			ld->nstack--;
			port_free(&port);
			return -1;
		}
	ld->nstack--;
	port.dep = xcalloc(port.ndepends + 1, sizeof(int));
	for (i = 0; i < port.ndepends; i++)
		port.dep[i] = conf_ports_find(ld->p, port.depends[i]);
	ld->p->v = xreallocarray(ld->p->v, ld->p->n + 1, sizeof(port));
	ld->p->v[ld->p->n++] = port;
	return 0;
}

struct conf_ports *
conf_ports_read(const char *portsdir, const char *distfiles,
    char *const *want, size_t n, conf_digest_fn recorded, void *ctx,
    struct vj_err *err)
{
	struct loader ld;
	size_t i;

	memset(&ld, 0, sizeof(ld));
	ld.portsdir = portsdir;
	ld.distfiles = distfiles;
	ld.recorded = recorded;
	ld.ctx = ctx;
	ld.err = err;
	ld.p = xcalloc(1, sizeof(*ld.p));
	for (i = 0; i < n; i++)
		if (load(&ld, want[i], NULL, 0) == -1) {
			conf_ports_free(ld.p);
			free(ld.stack);
			return NULL;
		}
	free(ld.stack);
	return ld.p;
}

/* The value of a variable for host h, or NULL. */
static const char *
lookup(const char *name, size_t n, const struct conf *c,
    const struct conf_host *h, char **owned)
{
	const char *domain = c->val[CONF_DOMAIN];
	size_t i;

	*owned = NULL;
	if (n == 4 && strncmp(name, "NAME", 4) == 0)
		return h->name;
	if (n == 7 && strncmp(name, "ADDRESS", 7) == 0)
		return h->address;
	if (n == 6 && strncmp(name, "DOMAIN", 6) == 0)
		return domain ? domain : "";
	if (n == 8 && strncmp(name, "HOSTNAME", 8) == 0) {
		if (domain == NULL || strchr(h->name, '.') != NULL)
			return h->name;
		return *owned = xasprintf("%s.%s", h->name, domain);
	}
	if (n > 4 && strncmp(name, "var.", 4) == 0) {
		for (i = 0; i < h->nvars; i++)
			if (strlen(h->vars[i].key) == n - 4 &&
			    strncmp(h->vars[i].key, name + 4, n - 4) == 0)
				return h->vars[i].value;
		for (i = 0; i < c->nvars; i++)
			if (strlen(c->vars[i].key) == n - 4 &&
			    strncmp(c->vars[i].key, name + 4, n - 4) == 0)
				return c->vars[i].value;
	}
	return NULL;
}

char *
conf_render(const char *text, const char *path, const struct conf *c,
    const struct conf_host *h, struct vj_err *err)
{
	struct sbuf b = { 0 };
	const char *p = text, *open, *close, *v;
	char *owned;
	int line = 1;

	while ((open = strstr(p, "%%")) != NULL) {
		sbuf_add(&b, p, (size_t)(open - p));
		for (; p < open; p++)
			line += *p == '\n';
		close = strstr(open + 2, "%%");
		if (close == NULL || memchr(open + 2, '\n',
		    (size_t)(close - open - 2)) != NULL) {
			vj_errf(err, "%s:%d: '%%%%' without its closing '%%%%'",
			    path, line);
			sbuf_free(&b);
			return NULL;
		}
		v = lookup(open + 2, (size_t)(close - open - 2), c, h, &owned);
		if (v == NULL) {
			vj_errf(err, "%s:%d: unknown variable %%%%%.*s%%%% (for "
			    "host %s)", path, line, (int)(close - open - 2),
			    open + 2, h->name);
			sbuf_free(&b);
			return NULL;
		}
		sbuf_puts(&b, v);
		free(owned);
		p = close + 2;
	}
	sbuf_puts(&b, p);
	return sbuf_take(&b);
}
