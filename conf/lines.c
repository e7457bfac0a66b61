/* SPDX-License-Identifier: BSD-2-Clause */
/* The line reader behind hosts.txt and vjbuild.conf (see lines.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../util/util.h"
#include "conf.h"
#include "lines.h"

#define MAX_FILE (16u << 20)

int
lines_open(struct lines *l, const char *path, struct vj_err *err)
{
	struct stat st;
	int fd;
	ssize_t r;

	memset(l, 0, sizeof(*l));
	l->path = path;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		vj_errno(err, "%s", path);
		return -1;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		vj_errf(err, "%s: not a regular file", path);
		close(fd);
		return -1;
	}
	if ((size_t)st.st_size > MAX_FILE) {
		vj_errf(err, "%s: larger than %u bytes", path, MAX_FILE);
		close(fd);
		return -1;
	}
	l->buf = xmalloc((size_t)st.st_size + 1);
	while (l->len < (size_t)st.st_size) {
		r = read(fd, l->buf + l->len, (size_t)st.st_size - l->len);
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1) {
			vj_errno(err, "%s: read", path);
			close(fd);
			lines_close(l);
			return -1;
		}
		if (r == 0)
			break;
		l->len += (size_t)r;
	}
	l->buf[l->len] = '\0';
	close(fd);
	return 0;
}

static int
blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

int
lines_next(struct lines *l, char **line, struct vj_err *err)
{
	char *s, *nl, *end, *hash;
	size_t n;

	if (l->off >= l->len)
		return 0;
	s = l->buf + l->off;
	nl = memchr(s, '\n', l->len - l->off);
	n = nl ? (size_t)(nl - s) : l->len - l->off;
	l->lineno++;
	l->off += n + (nl != NULL);
	if (n + 1 > CONF_MAX_LINE) {
		vj_errf(err, "%s:%d: line longer than %d bytes", l->path,
		    l->lineno, CONF_MAX_LINE - 1);
		return -1;
	}
	if (memchr(s, '\0', n) != NULL) {
		vj_errf(err, "%s:%d: NUL byte in line", l->path, l->lineno);
		return -1;
	}
	s[n] = '\0';
	if ((hash = strchr(s, '#')) != NULL)
		*hash = '\0';
	while (blank(*s))
		s++;
	end = s + strlen(s);
	while (end > s && blank(end[-1]))
		*--end = '\0';
	*line = s;
	return 1;
}

void
lines_close(struct lines *l)
{
	free(l->buf);
	l->buf = NULL;
}

size_t
lines_split(char *line, char **words, size_t max)
{
	size_t n = 0;
	char *p = line;

	for (;;) {
		while (blank(*p))
			p++;
		if (*p == '\0')
			return n;
		if (n == max)
			return max + 1;
		words[n++] = p;
		while (*p != '\0' && !blank(*p))
			p++;
		if (*p != '\0')
			*p++ = '\0';
	}
}
