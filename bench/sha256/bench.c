/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * SHA-256 throughput: vjbuild's (util/sha256.c, Nettle's) against the
 * hand-written code it replaced (old.c), on the same 512 MiB buffer in
 * 64 KiB pieces (as sha256_file reads), ROUNDS times (5), the order
 * turned each round; prints each round, the medians, their ratio, and
 * fails unless both give the same digest.
 *
 *   build/bench-sha256 [ROUNDS]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../util/util.h"
#include "old.h"

#define SIZE	(512u << 20)
#define PIECE	65536u

static double
now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static double
lib(const unsigned char *b, char hex[65])
{
	struct sha256 c;
	double t = now();
	size_t o;

	sha256_init(&c);
	for (o = 0; o < SIZE; o += PIECE)
		sha256_update(&c, b + o, PIECE);
	sha256_hex(&c, hex);
	return now() - t;
}

static double
old(const unsigned char *b, char hex[65])
{
	struct old_sha256 c;
	double t = now();
	size_t o;

	old_sha256_init(&c);
	for (o = 0; o < SIZE; o += PIECE)
		old_sha256_update(&c, b + o, PIECE);
	old_sha256_hex(&c, hex);
	return now() - t;
}

static int
cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

int
main(int argc, char **argv)
{
	int rounds = argc > 1 ? atoi(argv[1]) : 5, r;
	unsigned char *b = malloc(SIZE);
	double *tl, *to;
	char h1[65], h2[65];
	size_t i;

	if (b == NULL || rounds < 1 || rounds > 100) {
		fprintf(stderr, "usage: bench-sha256 [ROUNDS 1-100]\n");
		return 2;
	}
	tl = calloc((size_t)rounds, sizeof(*tl));
	to = calloc((size_t)rounds, sizeof(*to));
	for (i = 0; i < SIZE; i++)
		b[i] = (unsigned char)(i * 2654435761u >> 13);
	printf("round  library s  old s  (512 MiB each)\n");
	for (r = 0; r < rounds; r++) {
		if (r % 2 == 0) {
			tl[r] = lib(b, h1);
			to[r] = old(b, h2);
		} else {
			to[r] = old(b, h2);
			tl[r] = lib(b, h1);
		}
		if (strcmp(h1, h2) != 0) {
			fprintf(stderr, "digests differ: %s %s\n", h1, h2);
			return 1;
		}
		printf("%5d  %9.3f  %5.3f\n", r + 1, tl[r], to[r]);
	}
	qsort(tl, (size_t)rounds, sizeof(*tl), cmp);
	qsort(to, (size_t)rounds, sizeof(*to), cmp);
	printf("median: library %.3f s (%.0f MB/s), old %.3f s (%.0f MB/s); "
	    "old/library %.2f\n", tl[rounds / 2], SIZE / 1e6 / tl[rounds / 2],
	    to[rounds / 2], SIZE / 1e6 / to[rounds / 2],
	    to[rounds / 2] / tl[rounds / 2]);
	free(tl);
	free(to);
	free(b);
	return 0;
}
