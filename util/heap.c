/* SPDX-License-Identifier: BSD-2-Clause */
/* The binary heap behind topological order and the ready queue. */
#include <stdlib.h>

#include "heap.h"
#include "util.h"

void
heap_init(struct heap *h, size_t cap, int (*before)(const void *, int, int),
    const void *arg)
{
	h->cap = cap ? cap : 1;
	h->v = xmalloc(h->cap * sizeof(*h->v));
	h->n = 0;
	h->before = before;
	h->arg = arg;
}

void
heap_free(struct heap *h)
{
	free(h->v);
	h->v = NULL;
	h->n = h->cap = 0;
}

void
heap_push(struct heap *h, int id)
{
	size_t i;

	if (h->n == h->cap) {
		h->cap *= 2;
		h->v = xreallocarray(h->v, h->cap, sizeof(*h->v));
	}
	for (i = h->n++; i > 0 && h->before(h->arg, id, h->v[(i - 1) / 2]);
	    i = (i - 1) / 2)
		h->v[i] = h->v[(i - 1) / 2];
	h->v[i] = id;
}

int
heap_pop(struct heap *h)
{
	int top = h->v[0], last = h->v[--h->n];
	size_t i = 0, c;

	while ((c = 2 * i + 1) < h->n) {
		if (c + 1 < h->n && h->before(h->arg, h->v[c + 1], h->v[c]))
			c++;
		if (!h->before(h->arg, h->v[c], last))
			break;
		h->v[i] = h->v[c];
		i = c;
	}
	h->v[i] = last;
	return top;
}
