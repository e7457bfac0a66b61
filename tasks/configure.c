/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * configure:P@J: the files of ports/P/files/ for jail J. A file ending in
 * .in is a template: %%HOSTNAME%%, %%NAME%%, %%DOMAIN%%, %%ADDRESS%% and
 * %%var.KEY%% are filled in and it is installed without the .in; any other
 * file is installed as it is. (The paper edited these files by hand.)
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../conf/conf.h"
#include "../util/util.h"
#include "root.h"
#include "tasks.h"

/* File i of the port, rendered for t's jail: *dest and the text, or NULL
 * with err. */
static char *
render(const struct task *t, size_t i, char **dest, mode_t *mode,
    size_t *lenp, struct vj_err *err)
{
	const struct conf_port *p = t->port->port;
	const char *rel = p->files[i];
	char *path = xasprintf("%s/files/%s", p->dir, rel), *text, *out;
	size_t n = strlen(rel), len;
	struct stat st;

	text = fs_read(path, 16u << 20, &len);
	if (text == NULL || stat(path, &st) == -1) {
		vj_errno(err, "%s", path);
		free(text);
		free(path);
		return NULL;
	}
	*mode = st.st_mode & 0777;
	if (n > 3 && strcmp(rel + n - 3, ".in") == 0) {
		*dest = xstrndup(rel, n - 3);
		out = conf_render(text, path, t->env->conf, t->host, err);
		free(text);
		if (out == NULL) {
			free(*dest);
			*dest = NULL;
		} else
			*lenp = strlen(out);
	} else {
		*dest = xstrdup(rel);	/* any bytes, as they are */
		out = text;
		*lenp = len;
	}
	free(path);
	return out;
}

static void
configure_inputs(const struct task *t, struct sha256 *c)
{
	struct vj_err err;
	char *dest, *text;
	size_t i, len;
	mode_t mode;

	for (i = 0; i < t->port->port->nfiles; i++) {
		/* Templates were checked before the run; an error now only
		 * makes the fingerprint differ, and run() reports it. */
		if ((text = render(t, i, &dest, &mode, &len, &err)) == NULL) {
			sha256_update(c, err.msg, strlen(err.msg));
			continue;
		}
		sha256_update(c, dest, strlen(dest) + 1);
		sha256_update(c, &mode, sizeof(mode));
		sha256_update(c, &len, sizeof(len));
		sha256_update(c, text, len);
		free(dest);
		free(text);
	}
}

static int
configure_exists(const struct task *t)
{
	const struct conf_port *p = t->port->port;
	int fd = root_open(t, NULL), ok = fd != -1;
	size_t i, n;

	for (i = 0; ok && i < p->nfiles; i++) {
		char *dest;
		n = strlen(p->files[i]);
		dest = n > 3 && strcmp(p->files[i] + n - 3, ".in") == 0 ?
		    xstrndup(p->files[i], n - 3) : xstrdup(p->files[i]);
		char *text = fs_read_beneath(fd, dest, 16u << 20, NULL);
		ok = text != NULL;
		free(text);
		free(dest);
	}
	if (fd != -1)
		close(fd);
	return ok;
}

static int
configure_run(const struct task *t, struct vj_err *err)
{
	char *dest, *text;
	size_t i, len;
	mode_t mode;
	int fd, rc = 0;

	if ((fd = root_open(t, err)) == -1)
		return -1;
	for (i = 0; rc == 0 && i < t->port->port->nfiles; i++) {
		if ((text = render(t, i, &dest, &mode, &len, err)) == NULL) {
			rc = -1;
			break;
		}
		rc = fs_write_beneath(fd, dest, text, len, mode, err);
		if (rc == 0)
			printf("wrote /%s\n", dest);
		free(dest);
		free(text);
	}
	close(fd);
	return rc;
}

const struct task_ops task_configure_ops = {
	.kind = "configure",
	.estimate = 0.05,
	.inputs = configure_inputs,
	.exists = configure_exists,
	.run = configure_run,
};
