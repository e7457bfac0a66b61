/* SPDX-License-Identifier: BSD-2-Clause */
/* The hand-written SHA-256 vjbuild used up to 4b6794e (bench only). */
#ifndef VJ_BENCH_OLD_SHA256_H
#define VJ_BENCH_OLD_SHA256_H

#include <stddef.h>
#include <stdint.h>

struct old_sha256 {
	uint32_t h[8];
	uint64_t len;
	unsigned char buf[64];
	size_t nbuf;
};
void old_sha256_init(struct old_sha256 *c);
void old_sha256_update(struct old_sha256 *c, const void *p, size_t n);
void old_sha256_hex(struct old_sha256 *c, char hex[65]);

#endif
