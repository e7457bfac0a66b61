/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * What the libFuzzer targets share: the input as a file (parsers read
 * paths), kept in one memfd that each run rewrites.
 */
#ifndef VJ_FUZZ_H
#define VJ_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

/* A path whose contents are data[0..size). */
static inline const char *
fuzz_file(const uint8_t *data, size_t size)
{
	static int fd = -1;
	static char path[64];

	if (fd == -1) {
		if ((fd = memfd_create("fuzz-input", 0)) == -1)
			abort();
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	}
	if (ftruncate(fd, 0) == -1 ||
	    pwrite(fd, data, size, 0) != (ssize_t)size)
		abort();
	return path;
}

#endif
