/* SPDX-License-Identifier: BSD-2-Clause */
/* libFuzzer: what an ELF file needs (util/elf.c), read from a package's
 * untrusted files at install. */
#include <fcntl.h>

#include "../../util/util.h"
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct elf_needs n;
	int fd = open(fuzz_file(data, size), O_RDONLY | O_CLOEXEC);

	if (fd == -1)
		abort();
	if (elf_needs_read(fd, &n) == 1)
		elf_needs_free(&n);
	close(fd);
	return 0;
}
