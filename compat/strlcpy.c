/* SPDX-License-Identifier: BSD-2-Clause */
/* strlcpy/strlcat for C libraries that do not have them. */
#include <string.h>

#include "compat.h"

#ifdef VJ_NEED_STRLCPY
/* Returns strlen(src); the copy was truncated when that is >= size. */
size_t
strlcpy(char *dst, const char *src, size_t size)
{
	size_t n = strlen(src);

	if (size > 0) {
		size_t c = n < size - 1 ? n : size - 1;
		memcpy(dst, src, c);
		dst[c] = '\0';
	}
	return n;
}

/* Returns the length it tried to make; truncated when that is >= size. */
size_t
strlcat(char *dst, const char *src, size_t size)
{
	size_t d = strnlen(dst, size);

	if (d == size)
		return size + strlen(src);
	return d + strlcpy(dst + d, src, size - d);
}
#endif
