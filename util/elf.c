/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * What a dynamically linked ELF file needs to run (util.h, elf_needs_read):
 * its program interpreter (PT_INTERP) and the libraries it names
 * (DT_NEEDED), with its DT_RUNPATH (or DT_RPATH). The file is untrusted (a
 * port's build made it): every offset and size is checked against the
 * file's size and a cap before it is read, and a file of another byte
 * order or class than ELF32/ELF64 is taken as not one (nothing needed).
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"

#define CAP (1u << 20)	/* most of a table read: headers, dynamic, strings */

#define PT_LOAD 1
#define PT_DYNAMIC 2
#define PT_INTERP 3
#define DT_NULL 0
#define DT_NEEDED 1
#define DT_STRTAB 5
#define DT_STRSZ 10
#define DT_RPATH 15
#define DT_RUNPATH 29

struct seg {
	uint64_t type, off, vaddr, filesz;
};

struct elf {
	int fd, is64, swap;
	uint64_t size;
};

static uint64_t
get(const struct elf *e, const unsigned char *p, int bytes)
{
	uint64_t v = 0;
	int i;

	/* Little endian on disk unless swap (big). */
	for (i = 0; i < bytes; i++)
		v |= (uint64_t)p[e->swap ? bytes - 1 - i : i] << (8 * i);
	return v;
}

/* len bytes at off, malloc'd, or NULL when they are not all in the file
 * or more than the cap. */
static unsigned char *
chunk(const struct elf *e, uint64_t off, uint64_t len)
{
	unsigned char *b;

	if (len == 0 || len > CAP || off > e->size || len > e->size - off)
		return NULL;
	b = xmalloc((size_t)len + 1);
	if (pread(e->fd, b, (size_t)len, (off_t)off) != (ssize_t)len) {
		free(b);
		return NULL;
	}
	b[len] = '\0';
	return b;
}

/* The file offset of virtual address va, through the PT_LOAD segments. */
static int
va_off(const struct seg *s, size_t n, uint64_t va, uint64_t *off)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (s[i].type == PT_LOAD && va >= s[i].vaddr &&
		    va - s[i].vaddr < s[i].filesz) {
			*off = s[i].off + (va - s[i].vaddr);
			return 0;
		}
	return -1;
}

void
elf_needs_free(struct elf_needs *n)
{
	size_t i;

	for (i = 0; i < n->nneeded; i++)
		free(n->needed[i]);
	free(n->needed);
	free(n->interp);
	free(n->runpath);
	memset(n, 0, sizeof(*n));
}

int
elf_needs_read(int fd, struct elf_needs *out)
{
	unsigned char h[64], *ph = NULL, *dyn = NULL, *str = NULL;
	struct elf e = { fd, 0, 0, 0 };
	struct seg *s = NULL;
	uint64_t phoff, phentsize, phnum, i, strtab = 0, strsz = 0, stroff;
	uint64_t runpath = UINT64_MAX, *need = NULL;
	size_t ndyn = 0, nneed = 0, dsize, k;
	struct stat st;
	int rc = 0;

	memset(out, 0, sizeof(*out));
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    pread(fd, h, sizeof(h), 0) != (ssize_t)sizeof(h) ||
	    memcmp(h, "\177ELF", 4) != 0 || (h[4] != 1 && h[4] != 2) ||
	    (h[5] != 1 && h[5] != 2))
		return 0;
	e.size = (uint64_t)st.st_size;
	e.is64 = h[4] == 2;
	e.swap = h[5] == 2;
	phoff = get(&e, h + (e.is64 ? 32 : 28), e.is64 ? 8 : 4);
	phentsize = get(&e, h + (e.is64 ? 54 : 42), 2);
	phnum = get(&e, h + (e.is64 ? 56 : 44), 2);
	if (phnum == 0 || phentsize < (e.is64 ? 56u : 32u) ||
	    (ph = chunk(&e, phoff, phentsize * phnum)) == NULL)
		return 0;
	s = xcalloc((size_t)phnum, sizeof(*s));
	for (i = 0; i < phnum; i++) {
		const unsigned char *p = ph + i * phentsize;
		s[i].type = get(&e, p, 4);
		if (e.is64) {
			s[i].off = get(&e, p + 8, 8);
			s[i].vaddr = get(&e, p + 16, 8);
			s[i].filesz = get(&e, p + 32, 8);
		} else {
			s[i].off = get(&e, p + 4, 4);
			s[i].vaddr = get(&e, p + 8, 4);
			s[i].filesz = get(&e, p + 16, 4);
		}
	}
	for (i = 0; i < phnum; i++) {
		unsigned char *b;
		if (s[i].type == PT_INTERP && out->interp == NULL &&
		    (b = chunk(&e, s[i].off, s[i].filesz)) != NULL) {
			out->interp = xstrndup((char *)b, strnlen((char *)b,
			    (size_t)s[i].filesz));
			free(b);
		}
		if (s[i].type == PT_DYNAMIC && dyn == NULL &&
		    (dyn = chunk(&e, s[i].off, s[i].filesz)) != NULL)
			ndyn = (size_t)s[i].filesz / (e.is64 ? 16 : 8);
	}
	if (dyn == NULL) {
		/* Static: nothing to find, but an interpreter if it names
		 * one. */
		rc = out->interp != NULL;
		goto out;
	}
	/* One pass: the string table's place, and the offsets of the names
	 * in it, read once the table is. */
	dsize = e.is64 ? 16 : 8;
	need = xcalloc(ndyn + 1, sizeof(*need));
	for (k = 0; k < ndyn; k++) {
		uint64_t tag = get(&e, dyn + k * dsize, (int)dsize / 2);
		uint64_t val = get(&e, dyn + k * dsize + dsize / 2,
		    (int)dsize / 2);
		if (tag == DT_NULL)
			break;
		if (tag == DT_STRTAB)
			strtab = val;
		else if (tag == DT_STRSZ)
			strsz = val;
		else if (tag == DT_NEEDED)
			need[nneed++] = val;
		else if (tag == DT_RUNPATH || (tag == DT_RPATH &&
		    runpath == UINT64_MAX))
			runpath = val;
	}
	if (va_off(s, (size_t)phnum, strtab, &stroff) == -1 ||
	    (str = chunk(&e, stroff, strsz)) == NULL) {
		rc = -1;	/* dynamic, but its names cannot be read */
		elf_needs_free(out);
		goto out;
	}
	out->needed = xcalloc(nneed + 1, sizeof(char *));
	for (k = 0; k < nneed; k++)
		if (need[k] < strsz)
			out->needed[out->nneeded++] = xstrdup((char *)str +
			    need[k]);
	if (runpath < strsz)
		out->runpath = xstrdup((char *)str + runpath);
	rc = 1;
out:
	free(need);
	free(ph);
	free(s);
	free(dyn);
	free(str);
	return rc;
}
