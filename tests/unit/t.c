/* SPDX-License-Identifier: BSD-2-Clause */
/* The unit-test runner (see t.h). Arguments select tests by name. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../graph/graph.h"
#include "../../util/util.h"
#include "t.h"

struct test {
	const char *name;
	void (*fn)(void);
};

static struct test tests[256];
static int ntests, failures;
static char tmpdir[64];

void
t_register(const char *name, void (*fn)(void))
{
	if (ntests == (int)(sizeof(tests) / sizeof(tests[0])))
		abort();
	tests[ntests].name = name;
	tests[ntests++].fn = fn;
}

void
t_fail(const char *file, int line, const char *what)
{
	fprintf(stderr, "    %s:%d: failed: %s\n", file, line, what);
	failures++;
}

int
t_failed(void)
{
	return failures;
}

const char *
t_tmpdir(void)
{
	if (tmpdir[0] == '\0') {
		strcpy(tmpdir, "/tmp/vjbuild-unit.XXXXXX");
		if (mkdtemp(tmpdir) == NULL)
			abort();
	}
	return tmpdir;
}

struct graph *
t_graph(const char *spec)
{
	struct graph *g = graph_new();
	char *copy = xstrdup(spec), *p = copy, *item, *deps, *d;
	int id, did;

	while ((item = strsep(&p, " ")) != NULL) {
		if (*item == '\0')
			continue;
		if ((deps = strchr(item, ':')) != NULL)
			*deps++ = '\0';
		if ((id = graph_find(g, item)) == -1)
			id = graph_add(g, item);
		while (deps && (d = strsep(&deps, ",")) != NULL) {
			if ((did = graph_find(g, d)) == -1)
				did = graph_add(g, d);
			graph_depend(g, id, did);
		}
	}
	free(copy);
	return g;
}

static int
selected(const char *name, int argc, char **argv)
{
	int i;

	if (argc < 2)
		return 1;
	for (i = 1; i < argc; i++)
		if (strcmp(argv[i], name) == 0)
			return 1;
	return 0;
}

int
main(int argc, char **argv)
{
	int i, passed = 0, failed = 0, before;

	for (i = 0; i < ntests; i++) {
		if (!selected(tests[i].name, argc, argv))
			continue;
		before = failures;
		tests[i].fn();
		if (tmpdir[0] != '\0') {
			(void)fs_rmtree_at(AT_FDCWD, tmpdir);
			tmpdir[0] = '\0';
		}
		if (failures == before) {
			printf("ok - %s\n", tests[i].name);
			passed++;
		} else {
			printf("not ok - %s\n", tests[i].name);
			failed++;
		}
		fflush(stdout);
	}
	printf("%d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
