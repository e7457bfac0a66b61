/* SPDX-License-Identifier: BSD-2-Clause */
/* util/: SHA-256 against FIPS 180-4 vectors; file helpers that must not
 * follow links. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../util/util.h"
#include "t.h"

static void
hex_of(const char *s, size_t n, char out[65])
{
	struct sha256 c;

	sha256_init(&c);
	sha256_update(&c, s, n);
	sha256_hex(&c, out);
}

TEST(sha256_known_vectors)
{
	char h[65];
	char *million = xmalloc(1000000);
	struct sha256 c;
	size_t i;

	hex_of("", 0, h);
	CHECK_STR(h, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	hex_of("abc", 3, h);
	CHECK_STR(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	hex_of("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 56, h);
	CHECK_STR(h, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
	memset(million, 'a', 1000000);
	/* Fed in odd pieces, to cross block boundaries every way. */
	sha256_init(&c);
	for (i = 0; i < 1000000; i += 997)
		sha256_update(&c, million + i, i + 997 > 1000000 ? 1000000 - i : 997);
	sha256_hex(&c, h);
	CHECK_STR(h, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
	free(million);
}

TEST(opendir_beneath_refuses_symlink_and_dotdot)
{
	const char *d = t_tmpdir();
	int root, fd;

	REQUIRE((root = open(d, O_RDONLY | O_DIRECTORY)) != -1);
	CHECK(mkdirat(root, "real", 0755) == 0);
	CHECK(symlinkat("/tmp", root, "link") == 0);
	fd = fs_opendir_beneath(root, "real", 0, 0);
	CHECK(fd != -1);
	if (fd != -1)
		close(fd);
	CHECK(fs_opendir_beneath(root, "link", 0, 0) == -1);
	CHECK(fs_opendir_beneath(root, "link/x", 1, 0755) == -1);
	CHECK(fs_opendir_beneath(root, "real/../..", 0, 0) == -1);
	fd = fs_opendir_beneath(root, "a/b/c", 1, 0755);
	CHECK(fd != -1);
	if (fd != -1)
		close(fd);
	close(root);
}

TEST(write_beneath_is_atomic_and_refuses_links)
{
	const char *d = t_tmpdir();
	struct vj_err err;
	char *text, *outside = xasprintf("%s-outside", d);
	int root;

	REQUIRE((root = open(d, O_RDONLY | O_DIRECTORY)) != -1);
	CHECK(fs_write_beneath(root, "etc/hostname", "a\n", 2, 0644, &err) == 0);
	CHECK(fs_write_beneath(root, "etc/hostname", "bb\n", 3, 0644, &err) == 0);
	text = fs_read_beneath(root, "etc/hostname", 100, NULL);
	CHECK_STR(text, "bb\n");
	free(text);
	/* No temporary is left beside it. */
	CHECK(faccessat(root, "etc/.hostname.vjbuild-tmp", F_OK, 0) == -1);
	/* A directory link to outside is not followed. */
	CHECK(mkdir(outside, 0755) == 0);
	CHECK(symlinkat(outside, root, "evil") == 0);
	CHECK(fs_write_beneath(root, "evil/passwd", "x", 1, 0644, &err) == -1);
	CHECK(strstr(err.msg, "evil") != NULL);
	text = xasprintf("%s/passwd", outside);
	CHECK(access(text, F_OK) == -1);
	free(text);
	/* A file link as the last component is replaced, not written through. */
	{
		int ofd = open(outside, O_RDONLY | O_DIRECTORY);
		CHECK(fs_write_beneath(ofd, "target", "keep", 4, 0644, &err) == 0);
		text = xasprintf("%s/target", outside);
		CHECK(symlinkat(text, root, "etc/hosts") == 0);
		CHECK(fs_write_beneath(root, "etc/hosts", "new", 3, 0644,
		    &err) == 0);
		free(text);
		text = fs_read_beneath(ofd, "target", 100, NULL);
		CHECK_STR(text, "keep");
		free(text);
		text = fs_read_beneath(root, "etc/hosts", 100, NULL);
		CHECK_STR(text, "new");
		free(text);
		close(ofd);
	}
	CHECK(fs_rmtree_at(AT_FDCWD, outside) == 0);
	free(outside);
	close(root);
}

TEST(rmtree_does_not_follow_links)
{
	const char *d = t_tmpdir();
	char *victim = xasprintf("%s-victim", d), *file, *tree;
	int root;

	REQUIRE((root = open(d, O_RDONLY | O_DIRECTORY)) != -1);
	CHECK(mkdir(victim, 0755) == 0);
	file = xasprintf("%s/precious", victim);
	CHECK(close(open(file, O_WRONLY | O_CREAT, 0644)) == 0);
	CHECK(mkdirat(root, "tree", 0755) == 0);
	tree = xasprintf("%s/tree/link", d);
	CHECK(symlink(victim, tree) == 0);
	CHECK(fs_rmtree_at(root, "tree") == 0);
	CHECK(access(file, F_OK) == 0);
	CHECK(faccessat(root, "tree", F_OK, AT_SYMLINK_NOFOLLOW) == -1);
	CHECK(fs_rmtree_at(root, "absent") == 0);
	fs_rmtree_at(AT_FDCWD, victim);
	free(victim);
	free(file);
	free(tree);
	close(root);
}

TEST(sbuf_and_join)
{
	struct sbuf b = { 0 };
	char *s;
	int i;

	for (i = 0; i < 1000; i++)
		sbuf_printf(&b, "%d,", i);
	CHECK(b.len == 3890);
	s = sbuf_take(&b);
	CHECK(strncmp(s, "0,1,2,", 6) == 0);
	free(s);
	s = fs_join("/a/", "/b");
	CHECK_STR(s, "/a/b");
	free(s);
	s = fs_dirname("x");
	CHECK_STR(s, ".");
	free(s);
	s = fs_dirname("/x/y");
	CHECK_STR(s, "/x");
	free(s);
}

/* What an ELF file needs: the host's own /bin/true (dynamic), busybox
 * (static, as .ci/run installs it), a text file, and every cut of
 * /bin/true's first 4 KiB (a hostile or broken file: no crash, no read
 * past what is there). */
TEST(elf_needs_of_real_and_broken_files)
{
	struct elf_needs n;
	char path[] = "/tmp/vjbuild-elf-XXXXXX", buf[4096];
	size_t k, cut;
	int fd, out, found = 0;
	ssize_t len;

	fd = open("/bin/true", O_RDONLY | O_CLOEXEC);
	CHECK(fd != -1);
	CHECK(elf_needs_read(fd, &n) == 1);
	CHECK(n.interp != NULL && strstr(n.interp, "ld-") != NULL);
	for (k = 0; k < n.nneeded; k++)
		found |= strcmp(n.needed[k], "libc.so.6") == 0;
	CHECK(found);
	elf_needs_free(&n);
	len = pread(fd, buf, sizeof(buf), 0);
	close(fd);
	CHECK(len == (ssize_t)sizeof(buf));
	if ((fd = open("/bin/busybox", O_RDONLY | O_CLOEXEC)) != -1) {
		CHECK(elf_needs_read(fd, &n) == 0);
		close(fd);
	}
	fd = open("/etc/passwd", O_RDONLY | O_CLOEXEC);
	CHECK(fd != -1 && elf_needs_read(fd, &n) == 0);
	close(fd);
	out = mkstemp(path);
	CHECK(out != -1);
	for (cut = 0; cut <= sizeof(buf); cut += 7) {
		CHECK(ftruncate(out, 0) == 0);
		CHECK(pwrite(out, buf, cut, 0) == (ssize_t)cut);
		if (elf_needs_read(out, &n) == 1)
			elf_needs_free(&n);
	}
	close(out);
	unlink(path);
}
