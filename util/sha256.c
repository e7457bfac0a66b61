/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * SHA-256 for fingerprints and digests: Nettle's (libarchive's own
 * dependency, so no new one), which uses the CPU's SHA extensions where it
 * has them: about five times the speed of the hand-written code it
 * replaced (bench/sha256). The context lives in struct sha256's opaque
 * buffer, so util.h need not include Nettle's header, whose macros rename
 * sha256_init and friends.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdalign.h>
#include <string.h>
#include <unistd.h>

#include "util.h"	/* before Nettle's header, which renames its names */

#include <nettle/sha2.h>

#undef sha256_init
#undef sha256_update
#undef sha256_digest

_Static_assert(sizeof(struct sha256_ctx) <= sizeof(((struct sha256 *)0)->ctx),
    "struct sha256 too small for Nettle's context");
_Static_assert(alignof(struct sha256_ctx) <= alignof(struct sha256),
    "struct sha256 not aligned for Nettle's context");

void
sha256_init(struct sha256 *c)
{
	nettle_sha256_init((struct sha256_ctx *)(void *)c->ctx);
}

void
sha256_update(struct sha256 *c, const void *p, size_t n)
{
	nettle_sha256_update((struct sha256_ctx *)(void *)c->ctx, n, p);
}

void
sha256_hex(struct sha256 *c, char hex[65])
{
	static const char digits[] = "0123456789abcdef";
	unsigned char d[SHA256_DIGEST_SIZE];
	int i;

	nettle_sha256_digest((struct sha256_ctx *)(void *)c->ctx, sizeof(d), d);
	for (i = 0; i < SHA256_DIGEST_SIZE; i++) {
		hex[2 * i] = digits[d[i] >> 4];
		hex[2 * i + 1] = digits[d[i] & 15];
	}
	hex[64] = '\0';
}

int
sha256_file(const char *path, char hex[65], struct vj_err *err)
{
	struct sha256 c;
	unsigned char buf[65536];
	ssize_t n;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		vj_errno(err, "%s", path);
		return -1;
	}
	sha256_init(&c);
	while ((n = read(fd, buf, sizeof(buf))) != 0) {
		if (n == -1) {
			if (errno == EINTR)
				continue;
			vj_errno(err, "%s: read", path);
			close(fd);
			return -1;
		}
		sha256_update(&c, buf, (size_t)n);
	}
	close(fd);
	sha256_hex(&c, hex);
	return 0;
}
