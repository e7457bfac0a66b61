/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * libFuzzer: archive extraction (cache/archive.c), every format libarchive
 * reads, into a fresh directory under a fresh parent: afterwards nothing
 * may exist in the parent but that directory (no escape by .., absolute
 * paths, symbolic or hard links).
 */
#include <dirent.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#include "../../cache/cache.h"
#include "../../util/util.h"
#include "fuzz.h"

static char *top;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char tmpl[] = "/tmp/vjbuild-fuzz-archive.XXXXXX";

	(void)argc;
	(void)argv;
	if (mkdtemp(tmpl) == NULL)
		abort();
	top = xstrdup(tmpl);
	cache_set_unpack_limit(1 << 20);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *root = xasprintf("%s/root", top), cwd[4096];
	struct vj_err err;
	struct dirent *d;
	DIR *dir;
	int fd, others = 0;

	if (getcwd(cwd, sizeof(cwd)) == NULL || mkdir(root, 0755) == -1 ||
	    (fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		abort();
	(void)cache_extract(fuzz_file(data, size), fd, &err);
	close(fd);
	if (chdir(cwd) == -1 || (dir = opendir(top)) == NULL)
		abort();
	while ((d = readdir(dir)) != NULL)
		if (strcmp(d->d_name, ".") && strcmp(d->d_name, "..") &&
		    strcmp(d->d_name, "root"))
			others++;
	closedir(dir);
	if (others > 0)
		abort();	/* something escaped the root */
	if (fs_rmtree_at(AT_FDCWD, root) == -1)
		abort();
	free(root);
	return 0;
}
