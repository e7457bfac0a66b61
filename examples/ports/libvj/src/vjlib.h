/* SPDX-License-Identifier: BSD-2-Clause */
/* libvj: what the example daemons share. */
#ifndef VJLIB_H
#define VJLIB_H

#include <stddef.h>

#define VJLIB_VERSION "1.0"

/* Reads "key = value" from path into out (size n). 0, or -1 if absent. */
int vj_conf_get(const char *path, const char *key, char *out, size_t n);
/* A listening TCP socket on addr:port (IPv4 or IPv6), or -1. */
int vj_listen(const char *addr, const char *port);

#endif
