/* SPDX-License-Identifier: BSD-2-Clause */
/* Secure extraction and tree copies with libarchive (see cache.h). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>

#include "../util/util.h"
#include "cache.h"

/*
 * libarchive is loaded (dlopen) by the first command that needs it, not by
 * every start of vjbuild: with the libraries it brings (libxml2, ICU,
 * libstdc++, five compressors) it is 13 of vjbuild's 17 shared libraries
 * and about 5 ms of every start on the benchmark machine
 * (docs/BENCHMARKS.md), spent by run-graph, status and the rest, which
 * never read an archive. A jail build loads it before its tasks start
 * (cache_archive_load), so their processes inherit it. Its functions are
 * called through la, each typed from archive.h.
 */
#define LIBARCHIVE "libarchive.so.13"	/* libarchive's soname */
#define LA_FUNCS(X) X(archive_entry_clear) X(archive_entry_copy_pathname) \
	X(archive_entry_filetype) X(archive_entry_free) \
	X(archive_entry_uid) X(archive_entry_gid) X(archive_entry_set_uid) \
	X(archive_entry_set_gid) \
	X(archive_entry_linkify) X(archive_entry_linkresolver_free) \
	X(archive_entry_linkresolver_new) \
	X(archive_entry_linkresolver_set_strategy) X(archive_entry_new) \
	X(archive_entry_pathname) X(archive_entry_set_gname) \
	X(archive_entry_set_uname) X(archive_entry_size) \
	X(archive_entry_size_is_set) X(archive_errno) \
	X(archive_error_string) X(archive_read_data_block) \
	X(archive_read_disk_descend) X(archive_read_disk_new) \
	X(archive_read_disk_open) X(archive_read_disk_set_behavior) \
	X(archive_read_disk_set_standard_lookup) \
	X(archive_read_disk_set_symlink_physical) X(archive_read_free) \
	X(archive_read_new) X(archive_read_next_header) \
	X(archive_read_next_header2) X(archive_read_open) \
	X(archive_read_open_filename) \
	X(archive_read_support_filter_all) \
	X(archive_read_support_format_all) X(archive_write_add_filter_gzip) \
	X(archive_write_close) X(archive_write_data) \
	X(archive_write_data_block) X(archive_write_disk_new) \
	X(archive_write_disk_set_options) X(archive_write_finish_entry) \
	X(archive_write_free) X(archive_write_header) X(archive_write_new) \
	X(archive_write_open_fd) X(archive_write_set_format_pax_restricted)

static struct {
#define LA_MEMBER(f) __typeof__(f) *f;
	LA_FUNCS(LA_MEMBER)
#undef LA_MEMBER
} la;

static const char *const la_names[] = {
#define LA_NAME(f) #f,
	LA_FUNCS(LA_NAME)
#undef LA_NAME
};
#define NLA (sizeof(la_names) / sizeof(la_names[0]))

int
cache_archive_load(struct vj_err *err)
{
	static int loaded;
	void *a[NLA];
	size_t i = 0;

	if (loaded)
		return 0;
	if (vj_dlsyms(LIBARCHIVE, "libarchive13", "archives", la_names, a,
	    NLA, err) == -1)
		return -1;
#define LA_SET(f) la.f = (__typeof__(la.f))a[i++];
	LA_FUNCS(LA_SET)
#undef LA_SET
	loaded = 1;
	return 0;
}

/*
 * No ARCHIVE_EXTRACT_UNLINK: with it libarchive would quietly remove a
 * symbolic link met in the middle of a path and go on, where a hostile
 * archive must be refused. SAFE_WRITES writes each file under a temporary
 * name and renames it over the old one, so an existing file (or hard link)
 * is replaced, never truncated and rewritten in place.
 */
#define SECURE_FLAGS (ARCHIVE_EXTRACT_OWNER | ARCHIVE_EXTRACT_PERM | \
	ARCHIVE_EXTRACT_TIME | ARCHIVE_EXTRACT_ACL | ARCHIVE_EXTRACT_FFLAGS | \
	ARCHIVE_EXTRACT_XATTR | ARCHIVE_EXTRACT_SECURE_NODOTDOT | \
	ARCHIVE_EXTRACT_SECURE_SYMLINKS | ARCHIVE_EXTRACT_SECURE_NOABSOLUTEPATHS | \
	ARCHIVE_EXTRACT_SAFE_WRITES)

/* The entry's path without a leading "./"; "" for the root itself. */
static const char *
relname(struct archive_entry *e)
{
	const char *p = la.archive_entry_pathname(e);

	if (p == NULL)
		return "";
	while (p[0] == '.' && p[1] == '/')
		p += 2;
	return strcmp(p, ".") == 0 ? "" : p;
}

static unsigned long long unpack_limit = 16ULL << 30;

void
cache_set_unpack_limit(unsigned long long limit)
{
	unpack_limit = limit;
}

/* Device nodes passed over by the last extraction: how many, the first
 * few names. */
static long skipped;
static struct sbuf skipped_names;

long
cache_skipped_devices(const char **names)
{
	*names = skipped_names.s ? skipped_names.s : "";
	return skipped;
}

static void
skip_reset(void)
{
	skipped = 0;
	sbuf_free(&skipped_names);
}

/*
 * What no archive may make. A device node is never made (devfs makes a
 * jail's; one from an archive could give the jail the host's disk): it is
 * passed over, counted, and 1 is returned. (A base tarred from a
 * debootstrap root has its /dev.) Else 0, or -1 with err: *total is the
 * file data unpacked so far (copy_data counts it); an entry whose header
 * claims more than is left is refused before anything of it is written.
 */
static int
allowed(const char *src, struct archive_entry *e, unsigned long long *total,
    struct vj_err *err)
{
	mode_t type = la.archive_entry_filetype(e);
	la_int64_t size = la.archive_entry_size(e);

	if (type == AE_IFCHR || type == AE_IFBLK) {
		if (skipped++ < 5)
			sbuf_printf(&skipped_names, "%s%s", skipped > 1 ?
			    ", " : "", relname(e));
		return 1;
	}
	if (size > 0 && (unsigned long long)size > unpack_limit - *total) {
		vj_errf(err, "%s: unpacks to more than unpack_limit (%llu "
		    "bytes) at %s: refused as a decompression bomb", src,
		    unpack_limit, relname(e));
		return -1;
	}
	return 0;
}

static struct archive *
disk_writer(void)
{
	struct archive *w = la.archive_write_disk_new();

	/* No name lookup: owners are numbers, because the host's passwd is
	 * not the jail's. */
	la.archive_write_disk_set_options(w, SECURE_FLAGS);
	return w;
}

/* Copies one entry's data from r to w, counting it into *total: -1 when
 * w failed, -2 when r did, -3 past the unpack limit (a header need not
 * give the size: some formats stream). */
static int
copy_data(struct archive *r, struct archive *w, unsigned long long *total)
{
	const void *buf;
	size_t size;
	la_int64_t off;
	int rc;

	while ((rc = la.archive_read_data_block(r, &buf, &size, &off)) ==
	    ARCHIVE_OK) {
		if (size > unpack_limit - *total)
			return -3;
		*total += size;
		if (la.archive_write_data_block(w, buf, size, off) < ARCHIVE_OK)
			return -1;
	}
	return rc == ARCHIVE_EOF ? 0 : -2;
}

/* libarchive's message for a, with the system's reason when it has one
 * and did not say it ("Write failed" says nothing of a full disk). */
static const char *
why(struct archive *a, char *buf, size_t n)
{
	const char *msg = la.archive_error_string(a);
	int e = la.archive_errno(a);

	if (msg == NULL)
		msg = "failed";
	if (e <= 0 || strstr(msg, strerror(e)) != NULL)
		return msg;
	snprintf(buf, n, "%s: %s", msg, strerror(e));
	return buf;
}

/* Writes entry e (its data read from r) with w; err names what failed. */
static int
put_entry(const char *src, struct archive *r, struct archive *w,
    struct archive_entry *e, unsigned long long *total, struct vj_err *err)
{
	const char *name = la.archive_entry_pathname(e);
	char buf[512];
	int rc;

	if (la.archive_write_header(w, e) < ARCHIVE_OK) {
		vj_errf(err, "%s: %s: %s", src, name ? name : "?",
		    why(w, buf, sizeof(buf)));
		return -1;
	}
	if ((la.archive_entry_size(e) > 0 ||
	    !la.archive_entry_size_is_set(e)) &&
	    (rc = copy_data(r, w, total)) != 0) {
		if (rc == -3)
			vj_errf(err, "%s: unpacks to more than unpack_limit "
			    "(%llu bytes) at %s: refused as a decompression "
			    "bomb", src, unpack_limit, name);
		else
			vj_errf(err, "%s: %s: %s", src, name,
			    why(rc == -1 ? w : r, buf, sizeof(buf)));
		return -1;
	}
	if (la.archive_write_finish_entry(w) < ARCHIVE_OK) {
		vj_errf(err, "%s: %s: %s", src, name, why(w, buf, sizeof(buf)));
		return -1;
	}
	return 0;
}

long
cache_extract(const char *path, int destfd, struct vj_err *err)
{
	return cache_extract_filtered(path, destfd, NULL, NULL, NULL, err);
}

/*
 * Moves e's owner and group from [from, from + count) to [to, to +
 * count): into a build's ids when extracting for it (from 0), out of them
 * when packing what it made (to 0). -1 with err for an id outside: on a
 * package, more than a build's ids; on a stage, one only a process outside
 * the build's namespace could have given.
 */
static int
move_ids(struct archive_entry *e, const char *src, unsigned long from,
    unsigned long to, unsigned long count, struct vj_err *err)
{
	la_int64_t uid = la.archive_entry_uid(e), gid = la.archive_entry_gid(e);
	la_int64_t lo = (la_int64_t)from, hi = (la_int64_t)(from + count);

	if (uid < lo || uid >= hi || gid < lo || gid >= hi) {
		vj_errf(err, "%s: %s: owner %lld:%lld is outside the ids "
		    "%lu-%lu of a build", src, relname(e), (long long)uid,
		    (long long)gid, from, from + count - 1);
		return -1;
	}
	la.archive_entry_set_uid(e, uid - lo + (la_int64_t)to);
	la.archive_entry_set_gid(e, gid - lo + (la_int64_t)to);
	return 0;
}

/* The archive's bytes as libarchive asks for them, hashed on the way. */
struct hashed_read {
	int fd;
	struct sha256 c;
	unsigned char buf[65536];
};

static la_ssize_t
hashed_read(struct archive *a, void *arg, const void **out)
{
	struct hashed_read *h = arg;
	ssize_t n;

	(void)a;
	while ((n = read(h->fd, h->buf, sizeof(h->buf))) == -1 &&
	    errno == EINTR)
		;
	if (n > 0)
		sha256_update(&h->c, h->buf, (size_t)n);
	*out = h->buf;
	return n;
}

/* What is left of the file after what libarchive read (a tar's padding
 * past its end, or the rest of one it gave up on), into the digest. */
static int
hash_rest(struct hashed_read *h, const char *path, char hex[65],
    struct vj_err *err)
{
	const void *p;
	la_ssize_t n;

	while ((n = hashed_read(NULL, h, &p)) > 0)
		;
	if (n == -1) {
		vj_errno(err, "%s: read", path);
		return -1;
	}
	sha256_hex(&h->c, hex);
	return 0;
}

static long
extract(const char *path, int destfd, const char *prefix,
    const struct cache_ids *ids, struct sbuf *names, struct hashed_read *h,
    struct vj_err *err)
{
	struct archive *r, *w = NULL;
	struct archive_entry *e;
	size_t plen = prefix ? strlen(prefix) : 0;
	unsigned long long total = 0;
	long n = 0;
	int rc, a;

	skip_reset();
	if (cache_archive_load(err) == -1)
		return -1;
	r = la.archive_read_new();
	la.archive_read_support_filter_all(r);
	la.archive_read_support_format_all(r);
	if ((h != NULL ? la.archive_read_open(r, h, NULL, hashed_read, NULL) :
	    la.archive_read_open_filename(r, path, 65536)) != ARCHIVE_OK) {
		vj_errf(err, "%s: %s", path, la.archive_error_string(r));
		n = -1;
		goto out;
	}
	if (fchdir(destfd) == -1) {
		vj_errno(err, "%s: fchdir", path);
		n = -1;
		goto out;
	}
	w = disk_writer();
	while ((rc = la.archive_read_next_header(r, &e)) == ARCHIVE_OK ||
	    rc == ARCHIVE_WARN) {
		const char *name = relname(e);
		if (prefix != NULL && strncmp(name, prefix, plen) != 0)
			continue;
		if ((a = allowed(path, e, &total, err)) == 1)
			continue;	/* read_next_header skips its data */
		if (a == -1 || (ids != NULL &&
		    move_ids(e, path, 0, ids->base, ids->count, err) == -1)) {
			n = -1;
			goto out;
		}
		if (names != NULL && *name != '\0' &&
		    la.archive_entry_filetype(e) != AE_IFDIR)
			sbuf_printf(names, "%s\n", name);
		if (put_entry(path, r, w, e, &total, err) == -1) {
			n = -1;
			goto out;
		}
		n++;
	}
	if (rc != ARCHIVE_EOF) {
		vj_errf(err, "%s: %s", path, la.archive_error_string(r));
		n = -1;
		goto out;
	}
	if (la.archive_write_close(w) != ARCHIVE_OK) {
		vj_errf(err, "%s: %s", path, la.archive_error_string(w));
		n = -1;
	}
out:
	la.archive_read_free(r);
	if (w != NULL)
		la.archive_write_free(w);
	return n;
}

long
cache_extract_filtered(const char *path, int destfd, const char *prefix,
    const struct cache_ids *ids, struct sbuf *names, struct vj_err *err)
{
	return extract(path, destfd, prefix, ids, names, NULL, err);
}

long
cache_extract_verified(const char *path, int destfd, const char *want,
    struct sbuf *names, struct vj_err *err)
{
	struct hashed_read *h = xcalloc(1, sizeof(*h));
	struct vj_err xerr;
	char got[65];
	long n;

	if ((h->fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		vj_errno(err, "%s", path);
		free(h);
		return -1;
	}
	sha256_init(&h->c);
	n = extract(path, destfd, NULL, NULL, names, h, &xerr);
	if (hash_rest(h, path, got, err) == -1)
		n = -1;
	else if (strcmp(got, want) != 0) {
		vj_errf(err, "%s: sha256 %s, recorded %s", path, got, want);
		n = -2;
	} else if (n == -1)
		*err = xerr;
	close(h->fd);
	free(h);
	return n;
}

/*
 * The next entry below top (plen: its length) of a disk reader, with its
 * path made relative to top; the top itself is skipped. Returns 1 with
 * *rel (valid until the next call), 0 at the end, -1 with err.
 */
static int
disk_next(struct archive *r, struct archive_entry *e, const char *top,
    size_t plen, const char **rel, struct vj_err *err)
{
	const char *p;
	int rc;

	for (;;) {
		la.archive_entry_clear(e);
		rc = la.archive_read_next_header2(r, e);
		if (rc == ARCHIVE_EOF)
			return 0;
		if (rc < ARCHIVE_WARN) {
			vj_errf(err, "%s: %s", top, la.archive_error_string(r));
			return -1;
		}
		la.archive_read_disk_descend(r);
		p = la.archive_entry_pathname(e);
		if (strncmp(p, top, plen) == 0 && p[plen] == '/') {
			*rel = p + plen + 1;
			return 1;
		}
	}
}

long
cache_copy_tree(const char *srcdir, int destfd, struct vj_err *err)
{
	struct archive *r, *w = NULL;
	struct archive_entry *e = NULL;
	size_t plen = strlen(srcdir);
	const char *rel;
	unsigned long long total = 0;
	long n = 0;
	int rc;
	int a;

	skip_reset();

	if (cache_archive_load(err) == -1)
		return -1;
	r = la.archive_read_disk_new();
	while (plen > 1 && srcdir[plen - 1] == '/')
		plen--;
	la.archive_read_disk_set_standard_lookup(r);
	la.archive_read_disk_set_symlink_physical(r);
	/* The source file system's own flags (ext4's extent flag) are no
	 * part of the sources, and another file system refuses them. */
	la.archive_read_disk_set_behavior(r, ARCHIVE_READDISK_NO_FFLAGS);
	if (la.archive_read_disk_open(r, srcdir) != ARCHIVE_OK) {
		vj_errf(err, "%s: %s", srcdir, la.archive_error_string(r));
		n = -1;
		goto out;
	}
	w = disk_writer();
	e = la.archive_entry_new();
	while ((rc = disk_next(r, e, srcdir, plen, &rel, err)) == 1) {
		char *dotted = xasprintf("./%s", rel);
		la.archive_entry_copy_pathname(e, dotted);
		free(dotted);
		/* write_disk resolves relative names against the cwd. */
		if (fchdir(destfd) == -1) {
			vj_errno(err, "%s: fchdir", srcdir);
			n = -1;
			goto out;
		}
		if ((a = allowed(srcdir, e, &total, err)) == 1)
			continue;
		if (a == -1 || put_entry(srcdir, r, w, e, &total, err) == -1) {
			n = -1;
			goto out;
		}
		n++;
	}
	if (rc == -1) {
		n = -1;
		goto out;
	}
	if (la.archive_write_close(w) != ARCHIVE_OK) {
		vj_errf(err, "%s: %s", srcdir, la.archive_error_string(w));
		n = -1;
	}
out:
	la.archive_entry_free(e);
	la.archive_read_free(r);
	if (w != NULL)
		la.archive_write_free(w);
	return n;
}

static int
cmpstr(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Hashes the tree under dirfd (rel names it in messages and the digest),
 * leaving out the top-level entry skip (NULL: none); owners only when
 * owners is set. */
static int
tree_walk(struct sha256 *c, int dirfd, const char *rel, const char *skip,
    int owners, struct vj_err *err)
{
	DIR *d;
	struct dirent *de;
	char **names = NULL;
	size_t n = 0, i;
	int fd, rc = 0;

	if ((fd = dup(dirfd)) == -1 || (d = fdopendir(fd)) == NULL) {
		vj_errno(err, "%s", rel);
		if (fd != -1)
			close(fd);
		return -1;
	}
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0 &&
		    (skip == NULL || strcmp(de->d_name, skip) != 0)) {
			names = xreallocarray(names, n + 1, sizeof(*names));
			names[n++] = xstrdup(de->d_name);
		}
	closedir(d);
	if (n > 0)
		qsort(names, n, sizeof(*names), cmpstr);
	for (i = 0; i < n && rc == 0; i++) {
		struct stat st;
		char *path = xasprintf("%s/%s", rel, names[i]), buf[65536];
		ssize_t r;
		if (fstatat(dirfd, names[i], &st, AT_SYMLINK_NOFOLLOW) == -1) {
			vj_errno(err, "%s", path);
			rc = -1;
		} else {
			char *head = owners ? xasprintf("%s\n%o %u %u %lld\n",
			    path, (unsigned)st.st_mode, (unsigned)st.st_uid,
			    (unsigned)st.st_gid, (long long)st.st_size) :
			    xasprintf("%s\n%o %lld\n", path,
			    (unsigned)st.st_mode, (long long)st.st_size);
			sha256_update(c, head, strlen(head) + 1);
			free(head);
		}
		if (rc == 0 && S_ISLNK(st.st_mode)) {
			r = readlinkat(dirfd, names[i], buf, sizeof(buf));
			if (r >= 0)
				sha256_update(c, buf, (size_t)r);
		} else if (rc == 0 && S_ISREG(st.st_mode)) {
			int f = openat(dirfd, names[i], O_RDONLY | O_NOFOLLOW |
			    O_CLOEXEC);
			if (f == -1) {
				vj_errno(err, "%s", path);
				rc = -1;
			} else {
				while ((r = read(f, buf, sizeof(buf))) > 0)
					sha256_update(c, buf, (size_t)r);
				close(f);
			}
		} else if (rc == 0 && S_ISDIR(st.st_mode)) {
			int sub = openat(dirfd, names[i], O_RDONLY |
			    O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (sub == -1) {
				vj_errno(err, "%s", path);
				rc = -1;
			} else {
				rc = tree_walk(c, sub, path, NULL, owners,
				    err);
				close(sub);
			}
		}
		free(path);
	}
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return rc;
}

static int
tree_digest(const char *dir, const char *skip, int owners, char hex[65],
    struct vj_err *err)
{
	struct sha256 c;
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), rc;

	if (fd == -1) {
		vj_errno(err, "%s", dir);
		return -1;
	}
	sha256_init(&c);
	rc = tree_walk(&c, fd, ".", skip, owners, err);
	close(fd);
	if (rc == 0)
		sha256_hex(&c, hex);
	return rc;
}

int
cache_tree_digest(const char *dir, char hex[65], struct vj_err *err)
{
	return tree_digest(dir, NULL, 1, hex, err);
}

int
cache_port_digest(const char *dir, const char *skip, char hex[65],
    struct vj_err *err)
{
	return tree_digest(dir, skip, 0, hex, err);
}

long
cache_pack(const char *stagedir, const char *out, const struct cache_ids *ids,
    struct sbuf *names, struct vj_err *err)
{
	struct archive *r, *w;
	struct archive_entry_linkresolver *lr;
	struct archive_entry *e, *sparse = NULL;
	size_t plen = strlen(stagedir);
	const char *rel;
	long n = 0;
	int rc, fd = -1;

	if (cache_archive_load(err) == -1)
		return -1;
	r = la.archive_read_disk_new();
	w = la.archive_write_new();
	lr = la.archive_entry_linkresolver_new();
	e = la.archive_entry_new();
	while (plen > 1 && stagedir[plen - 1] == '/')
		plen--;
	la.archive_entry_linkresolver_set_strategy(lr,
	    ARCHIVE_FORMAT_TAR_PAX_RESTRICTED);
	la.archive_read_disk_set_symlink_physical(r);
	/* No file flags in a package: on Linux they are the build file
	 * system's own (ext4's extent flag), which a jail's may refuse. */
	la.archive_read_disk_set_behavior(r,
	    ARCHIVE_READDISK_NO_TRAVERSE_MOUNTS |
	    ARCHIVE_READDISK_NO_FFLAGS);
	la.archive_write_set_format_pax_restricted(w);
	la.archive_write_add_filter_gzip(w);
	fd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC,
	    0644);
	if (fd == -1) {
		vj_errno(err, "%s", out);
		n = -1;
		goto out;
	}
	if (la.archive_write_open_fd(w, fd) != ARCHIVE_OK ||
	    la.archive_read_disk_open(r, stagedir) != ARCHIVE_OK) {
		vj_errf(err, "%s: %s", out, la.archive_error_string(w));
		n = -1;
		goto out;
	}
	while ((rc = disk_next(r, e, stagedir, plen, &rel, err)) == 1) {
		struct archive_entry *le;
		char *copy = xstrdup(rel);	/* rel points into e */
		la.archive_entry_copy_pathname(e, copy);
		free(copy);
		rel = la.archive_entry_pathname(e);
		/* Owners travel as numbers only. */
		la.archive_entry_set_uname(e, NULL);
		la.archive_entry_set_gname(e, NULL);
		if (ids != NULL && move_ids(e, stagedir, ids->base, 0,
		    ids->count, err) == -1) {
			n = -1;
			goto out;
		}
		if (names != NULL && la.archive_entry_filetype(e) != AE_IFDIR)
			sbuf_printf(names, "%s\n", rel);
		le = e;
		la.archive_entry_linkify(lr, &le, &sparse);
		if (le == NULL)
			continue;
		if (la.archive_write_header(w, le) < ARCHIVE_OK) {
			vj_errf(err, "%s: %s: %s", out,
			    la.archive_entry_pathname(le),
			    la.archive_error_string(w));
			n = -1;
			goto out;
		}
		if (la.archive_entry_size(le) > 0 &&
		    la.archive_entry_filetype(le) == AE_IFREG) {
			const void *buf;
			size_t size;
			la_int64_t off;
			while ((rc = la.archive_read_data_block(r, &buf, &size,
			    &off)) == ARCHIVE_OK)
				if (la.archive_write_data(w, buf, size) < 0) {
					vj_errf(err, "%s: %s", out,
					    la.archive_error_string(w));
					n = -1;
					goto out;
				}
			if (rc != ARCHIVE_EOF) {
				vj_errf(err, "%s: %s", stagedir,
				    la.archive_error_string(r));
				n = -1;
				goto out;
			}
		}
		n++;
	}
	if (rc == -1) {
		n = -1;
		goto out;
	}
	if (la.archive_write_close(w) != ARCHIVE_OK) {
		vj_errf(err, "%s: %s", out, la.archive_error_string(w));
		n = -1;
		goto out;
	}
	if (fsync(fd) == -1) {
		vj_errno(err, "%s: fsync", out);
		n = -1;
	}
out:
	la.archive_entry_free(e);
	la.archive_entry_linkresolver_free(lr);
	la.archive_read_free(r);
	la.archive_write_free(w);
	if (fd != -1)
		close(fd);
	return n;
}
