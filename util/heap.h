/* SPDX-License-Identifier: BSD-2-Clause */
/* A binary min-heap of ints (node ids) under a caller's ordering. */
#ifndef VJ_HEAP_H
#define VJ_HEAP_H

#include <stddef.h>

struct heap {
	int *v;
	size_t n, cap;
	/* 1 when a must come out before b. */
	int (*before)(const void *arg, int a, int b);
	const void *arg;
};

/* heap_init: empty, room for cap ids; free with heap_free. */
void heap_init(struct heap *h, size_t cap,
    int (*before)(const void *, int, int), const void *arg);
void heap_free(struct heap *h);
void heap_push(struct heap *h, int id);
/* Removes and returns the first id; the heap must not be empty. */
int heap_pop(struct heap *h);

#endif
