/* SPDX-License-Identifier: BSD-2-Clause */
/* Reading an input file line by line, refusing what no input should hold. */
#ifndef VJ_CONF_LINES_H
#define VJ_CONF_LINES_H

#include <stddef.h>

struct vj_err;

struct lines {
	const char *path;
	char *buf;		/* the whole file */
	size_t len, off;
	int lineno;
};

/* Reads path whole (at most 16 MiB). Returns 0 or -1 with err. */
int lines_open(struct lines *l, const char *path, struct vj_err *err);
/*
 * Sets *line to the next line with its comment ('#' to end) and surrounding
 * blanks removed (it points into l's buffer and may be modified). Returns 1,
 * 0 at the end, or -1 with err "path:line: ..." for a NUL byte or a line
 * longer than CONF_MAX_LINE.
 */
int lines_next(struct lines *l, char **line, struct vj_err *err);
void lines_close(struct lines *l);
/* Splits line in place at blanks into at most max words; returns the count,
 * or max + 1 when there were more. */
size_t lines_split(char *line, char **words, size_t max);

#endif
