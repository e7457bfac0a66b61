/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Writing JSON (RFC 8259): strings escaped, numbers that are numbers.
 * Names and paths come from hosts files and ports trees, which are
 * untrusted: every byte below 0x20, the quote and the backslash are
 * escaped, and bytes that are not UTF-8 become U+FFFD, so that the output
 * always parses.
 */
#ifndef VJ_JSON_H
#define VJ_JSON_H

#include <stdint.h>

struct sbuf;

/* s as a JSON string, quoted; NULL as null. */
void json_str(struct sbuf *b, const char *s);
/* "name": s, with a comma before it unless first. */
void json_kstr(struct sbuf *b, int *first, const char *name, const char *s);
void json_kint(struct sbuf *b, int *first, const char *name, int64_t v);
/* A number with millisecond precision; null when it is not finite. */
void json_knum(struct sbuf *b, int *first, const char *name, double v);
void json_knull(struct sbuf *b, int *first, const char *name);

#endif
