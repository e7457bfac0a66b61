/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The libarchive boundary. Archives are untrusted: entries are written with
 * ARCHIVE_EXTRACT_SECURE_NODOTDOT, _SECURE_SYMLINKS and
 * _SECURE_NOABSOLUTEPATHS, so no entry lands outside the destination and
 * none is written through a symbolic link. (The package cache itself comes
 * with the ports issue.)
 */
#ifndef VJ_CACHE_H
#define VJ_CACHE_H

#include <stddef.h>
#include <stdint.h>

struct state;
struct vj_err;

/*
 * Loads libarchive, once; every function below does so itself. A command
 * that will fork tasks which read archives calls it first, so that they
 * inherit it instead of each loading it. -1 with err naming the library
 * and its Debian package when it cannot be loaded.
 */
int cache_archive_load(struct vj_err *err);

/*
 * Extracts the archive at path (any format and compression libarchive reads)
 * into the directory open as destfd, keeping owners, modes, times, hard
 * links, device nodes and symbolic links. Changes the working directory to
 * destfd: call it in a child process. Returns the number of entries, or -1
 * with err naming the archive and the entry.
 */
long cache_extract(const char *path, int destfd, struct vj_err *err);
/*
 * What any archive may hold, for the whole process: at most limit bytes of
 * file data in all (a decompression bomb is refused, not unpacked until
 * the disk is full), and no device nodes (devfs:J makes a jail's devices;
 * an archive that makes one could give the jail the host's disk).
 */
void cache_set_unpack_limit(unsigned long long limit);
/*
 * Device nodes are not made from any archive: they are passed over. How
 * many the last extraction or copy passed over, and the first few names
 * ("dev/null, dev/zero") in *names (valid until the next one).
 */
long cache_skipped_devices(const char **names);

/* Host ids base..base+count-1 that stand for ids 0..count-1 (a build
 * sandbox's user namespace). */
struct cache_ids {
	unsigned long base, count;
};

/*
 * The same, extracting only entries whose path (without "./") starts with
 * prefix (NULL: all), with owners and groups moved into ids (NULL: kept;
 * an id past its count is refused), and appending the path of every entry
 * that is not a directory, one per line, to names (NULL: none).
 */
struct sbuf;
long cache_extract_filtered(const char *path, int destfd, const char *prefix,
    const struct cache_ids *ids, struct sbuf *names, struct vj_err *err);
/*
 * cache_extract_filtered, the archive's bytes hashed as they are read (the
 * one read the extraction makes, to the file's end): -2 with err giving
 * both digests when its SHA-256 is not want (64 hex digits), whatever the
 * extraction made of it. The caller must not keep what was unpacked
 * unless it returned a count.
 */
long cache_extract_verified(const char *path, int destfd, const char *want,
    struct sbuf *names, struct vj_err *err);

/*
 * Packs the tree under stagedir into a gzip'd pax archive at out (created
 * or truncated): paths relative to stagedir, owners as numbers, modes with
 * setuid and setgid, symbolic links as they are, hard links as links.
 * With ids, every owner and group must be in its range and is packed as
 * the sandbox saw it; NULL packs them as they are. Appends every
 * non-directory path to names. Returns the entry count or -1 with err.
 * The caller renames out into place.
 */
long cache_pack(const char *stagedir, const char *out,
    const struct cache_ids *ids, struct sbuf *names, struct vj_err *err);

/*
 * Copies the tree under srcdir into destfd the same way (the "distribution"
 * given as a directory). Changes the working directory. Returns the number
 * of entries or -1 with err.
 */
long cache_copy_tree(const char *srcdir, int destfd, struct vj_err *err);

/*
 * Copies the tree in directory srcfd into directory destfd (empty) as it
 * is on disk (cache/copy.c): file data by reflink or copy_file_range,
 * owners, modes, times, extended attributes, hard links, symbolic links;
 * no device node or socket. Nothing is followed. The number of entries, or
 * -1 with err naming the entry.
 */
long cache_clone_tree(int srcfd, int destfd, struct vj_err *err);

/*
 * A digest of the tree under dir: every entry's relative path, type, mode,
 * owner, size, link target and contents, in name order. 0 or -1 with err.
 */
int cache_tree_digest(const char *dir, char hex[65], struct vj_err *err);
/*
 * The same without owners (a ports tree checked out by another user on
 * another host digests the same), leaving out the top-level entry skip
 * (NULL: none). For the cache key of a port's directory and sources.
 */
int cache_port_digest(const char *dir, const char *skip, char hex[65],
    struct vj_err *err);

/*
 * cache gc (gc.c): removes from the cache at dir the packages the state st
 * records, the unpacked sources (dir/src) and the work directories
 * (dir/work) that are not in keep (the archive and source paths current
 * recipes make) and whose lock no other vjbuild holds. Tells say about
 * each (detail: "PORT VERSION" of a package removed, or why it could not be);
 * *removed and *bytes count the packages. 0, or -1 with err.
 */
enum cache_gc_what { CACHE_GC_REMOVED, CACHE_GC_IN_USE, CACHE_GC_FAILED };
int cache_gc(const char *dir, struct state *st, char *const *keep,
    size_t nkeep, void (*say)(void *arg, enum cache_gc_what what,
    const char *path, const char *detail), void *arg, size_t *removed,
    int64_t *bytes, struct vj_err *err);

#endif
