/* SPDX-License-Identifier: BSD-2-Clause */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "json.h"
#include "util.h"

/* The length of the UTF-8 sequence at s (well formed, no surrogates, no
 * overlong forms), or 0. */
static size_t
utf8_len(const unsigned char *s)
{
	size_t n, i;
	unsigned long c;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2, c = s[0] & 0x1f;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		n = 3, c = s[0] & 0x0f;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4, c = s[0] & 0x07;
	else
		return 0;
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = c << 6 | (s[i] & 0x3f);
	}
	if ((n == 3 && (c < 0x800 || (c >= 0xd800 && c <= 0xdfff))) ||
	    (n == 4 && (c < 0x10000 || c > 0x10ffff)))
		return 0;
	return n;
}

void
json_str(struct sbuf *b, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n;

	if (s == NULL) {
		sbuf_puts(b, "null");
		return;
	}
	sbuf_puts(b, "\"");
	while (*p != '\0') {
		if (*p == '"' || *p == '\\') {
			sbuf_printf(b, "\\%c", *p++);
		} else if (*p == '\n') {
			sbuf_puts(b, "\\n");
			p++;
		} else if (*p == '\t') {
			sbuf_puts(b, "\\t");
			p++;
		} else if (*p < 0x20 || *p == 0x7f) {
			sbuf_printf(b, "\\u%04x", *p++);
		} else if ((n = utf8_len(p)) == 0) {
			sbuf_puts(b, "\\ufffd");
			p++;
		} else {
			sbuf_add(b, (const char *)p, n);
			p += n;
		}
	}
	sbuf_puts(b, "\"");
}

static void
key(struct sbuf *b, int *first, const char *name)
{
	if (!*first)
		sbuf_puts(b, ",");
	*first = 0;
	json_str(b, name);
	sbuf_puts(b, ":");
}

void
json_kstr(struct sbuf *b, int *first, const char *name, const char *s)
{
	key(b, first, name);
	json_str(b, s);
}

void
json_kint(struct sbuf *b, int *first, const char *name, int64_t v)
{
	key(b, first, name);
	sbuf_printf(b, "%lld", (long long)v);
}

void
json_knum(struct sbuf *b, int *first, const char *name, double v)
{
	key(b, first, name);
	if (isfinite(v))
		sbuf_printf(b, "%.3f", v);
	else
		sbuf_puts(b, "null");
}

void
json_knull(struct sbuf *b, int *first, const char *name)
{
	key(b, first, name);
	sbuf_puts(b, "null");
}
