/* SPDX-License-Identifier: BSD-2-Clause */
/* libFuzzer: port recipes (conf/ports.c): the input is ports/p/recipe, in
 * a ports tree with a second port q it may depend on. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "../../conf/conf.h"
#include "../../util/util.h"
#include "fuzz.h"

static char *dir, *recipe;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char tmpl[] = "/tmp/vjbuild-fuzz-recipe.XXXXXX", *p;
	struct vj_err err;
	int fd;

	(void)argc;
	(void)argv;
	if ((dir = mkdtemp(tmpl)) == NULL)
		abort();
	dir = xstrdup(dir);
	p = xasprintf("%s/ports/p/src", dir);
	if (fs_mkdirs(p, 0755) == -1)
		abort();
	free(p);
	p = xasprintf("%s/ports/q/src", dir);
	if (fs_mkdirs(p, 0755) == -1)
		abort();
	free(p);
	if ((fd = open(dir, O_RDONLY | O_DIRECTORY)) == -1 ||
	    fs_write_beneath(fd, "ports/q/recipe", "version = 1\nsource = none\n",
	    26, 0644, &err) == -1)
		abort();
	close(fd);
	p = xasprintf("%s/distfiles", dir);
	(void)mkdir(p, 0755);
	free(p);
	recipe = xasprintf("%s/ports/p/recipe", dir);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *want[] = { "p" }, *ports = xasprintf("%s/ports", dir);
	char *dist = xasprintf("%s/distfiles", dir);
	struct conf_ports *p;
	struct vj_err err;
	FILE *f = fopen(recipe, "w");

	if (f == NULL || fwrite(data, 1, size, f) != size || fclose(f) != 0)
		abort();
	p = conf_ports_read(ports, dist, want, 1, NULL, NULL, &err);
	conf_ports_free(p);
	free(ports);
	free(dist);
	return 0;
}
