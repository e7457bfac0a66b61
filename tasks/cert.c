/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * cert:J: a TLS key and certificate for jail J alone, when one of its ports
 * says `tls = yes`: a P-256 key made for J, and a certificate for its host
 * name (and address) signed by the host's CA, written into the jail as
 *   /usr/local/etc/ssl/vjbuild/key.pem   (0600: the jail's root only)
 *   /usr/local/etc/ssl/vjbuild/cert.pem
 *   /usr/local/etc/ssl/vjbuild/ca.pem    (the CA's certificate)
 * where the ports' templates point their daemons. Never in the shared
 * cache: a package is the same for every jail, a key is one jail's.
 *
 * The CA is the host's: the directory `ca` of vjbuild.conf (default
 * STATE/ca) holding ca.key and ca.crt. The first cert task makes them
 * when neither is there (under a lock: the cert tasks of a run are
 * concurrent), the key readable by root alone; an operator's own pair is
 * used as it is, and a directory with one of them only is an error.
 * Clients verify a jail's site with ca.crt (the chain and the name). The
 * jail never sees the CA's key.
 *
 * The work is done by the host's openssl(1) (Debian's openssl package):
 * key, request and signature in a private temporary directory of the
 * state, removed after. A certificate is valid 825 days; it is made again
 * when the jail's name or address changes, when the jail's files are gone,
 * or when the CA is another. Not done: renewal before expiry, revocation.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../conf/conf.h"
#include "../jail/jail.h"
#include "../util/util.h"
#include "root.h"
#include "tasks.h"

#define SSLDIR "usr/local/etc/ssl/vjbuild"
#define OPENSSL "/usr/bin/openssl"

/* The CA's directory: ca = DIR, or STATE/ca. malloc'd. */
static char *
ca_dir(const struct task *t)
{
	const char *dir = t->env->conf->val[CONF_CA];

	return dir != NULL ? xstrdup(dir) : fs_join(t->env->state_dir, "ca");
}

static char *
hostname_of(const struct task *t)
{
	const char *domain = t->env->conf->val[CONF_DOMAIN];
	const char *name = t->host->name;

	return domain && strchr(name, '.') == NULL ?
	    xasprintf("%s.%s", name, domain) : xstrdup(name);
}

/* Runs openssl with the arguments (NULL-ended); 0, or -1 with err. */
static int
openssl(struct vj_err *err, ...)
{
	char *argv[32], *envp[] = { "PATH=/usr/bin:/bin", NULL };
	va_list ap;
	size_t n = 0;
	int status;

	argv[n++] = OPENSSL;
	va_start(ap, err);
	while (n < 31 && (argv[n] = va_arg(ap, char *)) != NULL)
		n++;
	va_end(ap);
	argv[n] = NULL;
	fflush(stdout);
	if (jail_run(argv, envp, NULL, &status, err) == -1)
		return -1;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		vj_errf(err, "openssl %s failed (%s %d; its output is above)",
		    argv[1], WIFEXITED(status) ? "exit" : "signal",
		    WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
		return -1;
	}
	return 0;
}

/* fsync(path), for what is renamed into place next. */
static int
sync_file(const char *path, struct vj_err *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), rc;

	if (fd == -1) {
		vj_errno(err, "%s", path);
		return -1;
	}
	rc = fsync(fd);
	close(fd);
	if (rc == -1)
		vj_errno(err, "fsync %s", path);
	return rc;
}

/* dir/ca.key and dir/ca.crt, made when neither is there. 0 or -1. */
static int
ca_ensure(const char *dir, const char *uuid, struct vj_err *err)
{
	char *lock = fs_join(dir, ".lock"), *key = fs_join(dir, "ca.key");
	char *crt = fs_join(dir, "ca.crt"), *ktmp = NULL, *ctmp = NULL;
	char *subj = NULL;
	int fd = -1, rc = -1, hk, hc;

	if (fs_mkdirs(dir, 0700) == -1) {
		vj_errno(err, "%s", dir);
		goto out;
	}
	if ((fd = open(lock, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC,
	    0600)) == -1 || flock(fd, LOCK_EX) == -1) {
		vj_errno(err, "%s", lock);
		goto out;
	}
	hk = access(key, F_OK) == 0;
	hc = access(crt, F_OK) == 0;
	if (hk && hc) {
		rc = 0;
		goto out;
	}
	if (hk || hc) {
		vj_errf(err, "the CA directory %s has %s but not %s: give "
		    "both, or neither (vjbuild makes a CA there)", dir,
		    hk ? "ca.key" : "ca.crt", hk ? "ca.crt" : "ca.key");
		goto out;
	}
	ktmp = xasprintf("%s.tmp", key);
	ctmp = xasprintf("%s.tmp", crt);
	subj = xasprintf("/O=vjbuild/CN=vjbuild CA %.8s", uuid ? uuid : "");
	umask(077);
	if (openssl(err, "req", "-x509", "-new", "-newkey", "ec", "-pkeyopt",
	    "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", ktmp, "-out",
	    ctmp, "-days", "3650", "-subj", subj, "-addext",
	    "basicConstraints=critical,CA:TRUE", "-addext",
	    "keyUsage=critical,keyCertSign,cRLSign", NULL) == -1 ||
	    chmod(ctmp, 0644) == -1 || sync_file(ktmp, err) == -1 ||
	    sync_file(ctmp, err) == -1)
		goto out;
	/* The key first: a certificate there means its key is. */
	if (rename(ktmp, key) == -1 || rename(ctmp, crt) == -1) {
		vj_errno(err, "%s", dir);
		goto out;
	}
	printf("made the host's CA in %s (ca.crt is what clients trust)\n",
	    dir);
	rc = 0;
out:
	if (rc == -1 && ktmp != NULL) {
		unlink(ktmp);
		unlink(ctmp);
	}
	if (fd != -1)
		close(fd);
	free(lock);
	free(key);
	free(crt);
	free(ktmp);
	free(ctmp);
	free(subj);
	return rc;
}

static void
cert_inputs(const struct task *t, struct sha256 *c)
{
	char *name = hostname_of(t), *dir = ca_dir(t);

	sha256_update(c, name, strlen(name) + 1);
	sha256_update(c, t->host->address, strlen(t->host->address) + 1);
	sha256_update(c, dir, strlen(dir) + 1);
	free(name);
	free(dir);
}

/* The jail has its key and certificate, and its ca.pem is the CA's. */
static int
cert_exists(const struct task *t)
{
	char *dir = ca_dir(t), *path = fs_join(dir, "ca.crt");
	char *ca = fs_read(path, 1u << 20, NULL), *mine = NULL, *key = NULL;
	char *crt = NULL;
	int fd = root_open(t, NULL), ok = 0;

	if (fd != -1 && ca != NULL) {
		mine = fs_read_beneath(fd, SSLDIR "/ca.pem", 1u << 20, NULL);
		key = fs_read_beneath(fd, SSLDIR "/key.pem", 1u << 20, NULL);
		crt = fs_read_beneath(fd, SSLDIR "/cert.pem", 1u << 20, NULL);
		ok = mine != NULL && key != NULL && crt != NULL &&
		    strcmp(mine, ca) == 0;
	}
	if (fd != -1)
		close(fd);
	free(dir);
	free(path);
	free(ca);
	free(mine);
	free(key);
	free(crt);
	return ok;
}

static int
cert_run(const struct task *t, struct vj_err *err)
{
	static const char *const names[] = { "key.pem", "cert.pem", "ca.pem" };
	static const mode_t modes[] = { 0600, 0644, 0644 };
	char *dir = ca_dir(t), *name = hostname_of(t), *tmp, *p[5], *ext;
	char *cakey = fs_join(dir, "ca.key"), *cacrt = fs_join(dir, "ca.crt");
	char *subj = xasprintf("/CN=%s", name), serial[2 + 33];
	char *text[3] = { NULL, NULL, NULL };
	unsigned char rnd[16];
	size_t i, len[3];
	int fd = -1, rc = -1, tmpfd = -1;

	tmp = xasprintf("%s/.cert-XXXXXX", t->env->state_dir);
	memset(p, 0, sizeof(p));
	if (ca_ensure(dir, t->env->uuid, err) == -1)
		goto out;
	if (mkdtemp(tmp) == NULL) {
		vj_errno(err, "%s", tmp);
		free(tmp);
		tmp = NULL;
		goto out;
	}
	p[0] = fs_join(tmp, "key.pem");
	p[1] = fs_join(tmp, "cert.pem");
	p[2] = xstrdup(cacrt);
	p[3] = fs_join(tmp, "req.pem");
	p[4] = fs_join(tmp, "ext");
	ext = xasprintf("subjectAltName=DNS:%s,IP:%s\n"
	    "basicConstraints=critical,CA:FALSE\n"
	    "keyUsage=critical,digitalSignature,keyEncipherment\n"
	    "extendedKeyUsage=serverAuth\n", name, t->host->address);
	tmpfd = open(tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	rc = tmpfd == -1 ? -1 : fs_write_beneath(tmpfd, "ext", ext,
	    strlen(ext), 0600, err);
	free(ext);
	if (rc == -1)
		goto out;
	rc = -1;
	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) {
		vj_errno(err, "getrandom");
		goto out;
	}
	rnd[0] &= 0x7f;		/* a positive serial */
	strcpy(serial, "0x");
	for (i = 0; i < sizeof(rnd); i++)
		snprintf(serial + 2 + 2 * i, 3, "%02x", rnd[i]);
	umask(077);
	if (openssl(err, "req", "-new", "-newkey", "ec", "-pkeyopt",
	    "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", p[0], "-out",
	    p[3], "-subj", subj, NULL) == -1 ||
	    openssl(err, "x509", "-req", "-in", p[3], "-CA", cacrt, "-CAkey",
	    cakey, "-set_serial", serial, "-days", "825", "-sha256",
	    "-extfile", p[4], "-out", p[1], NULL) == -1)
		goto out;
	for (i = 0; i < 3; i++)
		if ((text[i] = fs_read(p[i], 1u << 20, &len[i])) == NULL) {
			vj_errno(err, "%s", p[i]);
			goto out;
		}
	if ((fd = root_open(t, err)) == -1)
		goto out;
	/* The key before the certificate that names it. */
	for (i = 0; i < 3; i++) {
		char *rel = xasprintf("%s/%s", SSLDIR, names[i]);
		int r = fs_write_beneath(fd, rel, text[i], len[i], modes[i],
		    err);
		free(rel);
		if (r == -1)
			goto out;
	}
	printf("%s: a key and a certificate for %s (IP %s), signed by the CA "
	    "in %s, in /%s\n", t->root, name, t->host->address, dir, SSLDIR);
	rc = 0;
out:
	if (tmpfd != -1)
		close(tmpfd);
	if (tmp != NULL) {
		char *parent = fs_dirname(tmp), *base = strrchr(tmp, '/') + 1;
		int pfd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (pfd != -1) {
			(void)fs_rmtree_at(pfd, base);
			close(pfd);
		}
		free(parent);
	}
	if (fd != -1)
		close(fd);
	for (i = 0; i < 5; i++)
		free(p[i]);
	for (i = 0; i < 3; i++)
		free(text[i]);
	free(tmp);
	free(dir);
	free(name);
	free(cakey);
	free(cacrt);
	free(subj);
	return rc;
}

const struct task_ops task_cert_ops = {
	.kind = "cert",
	.estimate = 0.2,
	.inputs = cert_inputs,
	.exists = cert_exists,
	.run = cert_run,
};
