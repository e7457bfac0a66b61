/* SPDX-License-Identifier: BSD-2-Clause */
/* Jail roots and their ownership markers (see root.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../conf/conf.h"
#include "../util/util.h"
#include "root.h"
#include "tasks.h"

char *
root_marker(const struct task *t, const char *fp)
{
	return xasprintf("vjbuild jail\nname %s\nstate %s\nbase %s\n",
	    t->host->name, t->env->uuid, fp);
}

int
root_check(const struct task *t, int rootfd, const char *fp,
    struct vj_err *err)
{
	char *text, *want, *p;
	size_t n;
	int rc;

	text = fs_read_beneath(rootfd, ROOT_MARKER, 4096, NULL);
	if (text == NULL) {
		vj_errf(err, "%s exists and was not made by vjbuild (no %s in "
		    "it); it is left as it is: move it away or choose another "
		    "jails directory", t->root, ROOT_MARKER);
		return -1;
	}
	want = root_marker(t, "");
	n = strlen(want) - 1;	/* everything up to the base fingerprint */
	if (strncmp(text, want, n) != 0) {
		vj_errf(err, "%s was made by another vjbuild state or for "
		    "another jail (its %s does not match); it is left as it is",
		    t->root, ROOT_MARKER);
		rc = -1;
	} else if (fp == NULL)
		rc = 1;
	else {
		p = text + n;
		p[strcspn(p, "\n")] = '\0';
		rc = strcmp(p, fp) == 0;
	}
	free(text);
	free(want);
	return rc;
}

int
root_open(const struct task *t, struct vj_err *err)
{
	int fd = open(t->root, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

	if (fd == -1) {
		vj_errno(err, "%s", t->root);
		return -1;
	}
	if (root_check(t, fd, NULL, err) == -1) {
		close(fd);
		return -1;
	}
	return fd;
}

int
task_root_is_ours(const char *root, const char *name, const char *uuid,
    struct vj_err *err)
{
	int fd = open(root, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	char *text, *want;
	int ok;

	if (fd == -1) {
		vj_errno(err, "%s", root);
		return 0;
	}
	text = fs_read_beneath(fd, ROOT_MARKER, 4096, NULL);
	close(fd);
	want = xasprintf("vjbuild jail\nname %s\nstate %s\nbase ", name, uuid);
	ok = text != NULL && strncmp(text, want, strlen(want)) == 0;
	if (!ok)
		vj_errf(err, "%s was not made by this vjbuild state (its %s does "
		    "not match): it is left as it is", root, ROOT_MARKER);
	free(text);
	free(want);
	return ok;
}
