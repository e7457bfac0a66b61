/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Helpers every folder uses: the error struct, allocation that aborts on
 * exhaustion, a growable string, SHA-256, monotonic time, and file-system
 * operations that never follow a symbolic link out of a directory.
 */
#ifndef VJ_UTIL_H
#define VJ_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "../compat/compat.h"

#define VJ_PRINTF(a, b) __attribute__((format(printf, a, b)))

/*
 * A failure, described for a person. Functions that can fail return -1 (or
 * NULL) and fill the caller's struct vj_err; they never print.
 */
struct vj_err {
	char msg[1024];
};

/* Replaces err->msg; NULL err is allowed and ignored. */
void vj_errf(struct vj_err *err, const char *fmt, ...) VJ_PRINTF(2, 3);
/* Like vj_errf with ": strerror(errno)" appended. */
void vj_errno(struct vj_err *err, const char *fmt, ...) VJ_PRINTF(2, 3);

/* Allocation: these abort the program when memory is exhausted. */
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xreallocarray(void *p, size_t n, size_t size);
char *xstrdup(const char *s);
/* FNV-1a of the string s: names to hash table slots. */
uint64_t str_hash(const char *s);
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) VJ_PRINTF(1, 2);

/* A growable NUL-terminated string; zero-initialise, free with sbuf_free. */
struct sbuf {
	char *s;
	size_t len, cap;
};
void sbuf_add(struct sbuf *b, const char *s, size_t n);
void sbuf_puts(struct sbuf *b, const char *s);
void sbuf_printf(struct sbuf *b, const char *fmt, ...) VJ_PRINTF(2, 3);
/* Returns the string (never NULL); the caller owns it and b is emptied. */
char *sbuf_take(struct sbuf *b);
void sbuf_free(struct sbuf *b);

/* SHA-256 (FIPS 180-4), Nettle's; ctx holds its context (util/sha256.c). */
struct sha256 {
	_Alignas(16) unsigned char ctx[128];
};
void sha256_init(struct sha256 *c);
void sha256_update(struct sha256 *c, const void *p, size_t n);
/* Writes 64 lowercase hex digits and a NUL into hex. */
void sha256_hex(struct sha256 *c, char hex[65]);
/* Digest of a file's contents; -1 with err naming the path on failure. */
int sha256_file(const char *path, char hex[65], struct vj_err *err);

/*
 * Loads shared library soname (RTLD_NOW; it stays loaded) and puts the
 * address of names[i] in addrs[i], i < n; -1 with err naming user (what
 * needed it), the library and Debian's package for it. For the libraries
 * that only some commands use (libpq, libarchive), so that every other
 * start of vjbuild does not pay for loading them.
 */
int vj_dlsyms(const char *soname, const char *package, const char *user,
    const char *const names[], void *addrs[], size_t n, struct vj_err *err);

/* Seconds from an arbitrary monotonic origin; wall-clock seconds. */
double vj_now(void);
double vj_wall(void);

/*
 * File operations below take a directory fd and a path relative to it and
 * refuse to follow a symbolic link at any component (ELOOP), so a hostile
 * jail root cannot redirect them to the host.
 */

/* Opens directory rel beneath dirfd (a leading "/" means dirfd itself:
 * paths are resolved as if dirfd were the root), creating missing ones with mode when
 * create is set. Returns an fd (O_DIRECTORY|O_CLOEXEC) or -1 with errno. */
int fs_opendir_beneath(int dirfd, const char *rel, int create, mode_t mode);
/* Writes data to rel beneath dirfd atomically (temporary name, fsync,
 * rename); parents are created. Returns 0 or -1 with err naming rel. */
int fs_write_beneath(int dirfd, const char *rel, const void *data, size_t n,
    mode_t mode, struct vj_err *err);
/* Reads a whole regular file (at most max bytes) beneath dirfd; returns a
 * NUL-terminated malloc'd buffer or NULL with errno (EFBIG when too big). */
char *fs_read_beneath(int dirfd, const char *rel, size_t max, size_t *lenp);
/* Reads a whole regular file by path, links followed (for the user's own
 * inputs, not jail roots); like fs_read_beneath otherwise. */
char *fs_read(const char *path, size_t max, size_t *lenp);
/* Removes name (a file or a whole tree) inside dirfd without following
 * links. A missing name is success. Returns 0 or -1 with errno. */
int fs_rmtree_at(int dirfd, const char *name);
/* Moves the owner and group of name (a file or a whole tree) inside dirfd
 * into [base, base + count): id N becomes base + N, an id past count
 * base (a namespace's root); links are not followed, setuid and setgid
 * bits kept. 0 or -1 with errno. */
int fs_shift_owners_at(int dirfd, const char *name, unsigned long base,
    unsigned long count);
/* Creates every missing directory of path (like mkdir -p). 0 or -1/errno. */
int fs_mkdirs(const char *path, mode_t mode);
/* Joins a and b with one '/'; malloc'd. */
char *fs_join(const char *a, const char *b);
/* Returns a malloc'd absolute form of path: canonical (realpath) when it
 * exists, else joined to the working directory. */
char *fs_abspath(const char *path);
/* Returns a malloc'd copy of the directory part of path ("." if none). */
char *fs_dirname(const char *path);

/* What a dynamically linked ELF file needs to run (util/elf.c). */
struct elf_needs {
	char *interp;		/* PT_INTERP, or NULL */
	char **needed;		/* DT_NEEDED names, nneeded of them */
	size_t nneeded;
	char *runpath;		/* DT_RUNPATH (or DT_RPATH), or NULL */
};
/* 1 with out filled for the dynamic ELF file open as fd; 0 for any other
 * file (static, not ELF, another byte order); -1 for a dynamic one whose
 * names cannot be read (out empty). Free with elf_needs_free. */
int elf_needs_read(int fd, struct elf_needs *out);
void elf_needs_free(struct elf_needs *n);

#endif
