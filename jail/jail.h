/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Jails on the host: the generated jail.conf(5), the sandbox that port
 * builds run in (sandbox.c, seccomp.c), and started jails (run.c).
 */
#ifndef VJ_JAIL_H
#define VJ_JAIL_H

struct conf_hosts;

/* What jail.conf's exec.start runs, and what vjbuild start runs. */
#define JAIL_EXEC_START "/bin/sh /etc/rc"

/*
 * Renders a jail.conf with one stanza per host: path, host.hostname,
 * ip4.addr or ip6.addr, mount.devfs with devfs_ruleset 4 (the jail
 * ruleset), exec.start and exec.stop. domain may be NULL. Returns a
 * malloc'd string.
 */
char *jail_conf_render(const struct conf_hosts *h, const char *jails,
    const char *domain);
/* The jail.conf name of a host: dots (which mean hierarchy to jail(8))
 * become underscores, as ezjail does. malloc'd. */
char *jail_conf_name(const char *host);

struct vj_err;

/*
 * The host ids a build's ids 0..JAIL_BUILD_IDCOUNT-1 are: a range no host
 * user or group may use (jail_sandbox_run checks /etc/passwd and
 * /etc/group), above the 16-bit ids of distributions and the ranges
 * useradd gives in /etc/subuid. Every build uses it: builds running at
 * once are kept apart by their namespaces, and each sees no file of
 * another's.
 */
#define JAIL_BUILD_IDBASE 0x60000000UL
#define JAIL_BUILD_IDCOUNT 65536UL

/* A host path shown inside a build sandbox. */
struct jail_bind {
	const char *src;	/* the host's path */
	const char *dst;	/* the path inside (absolute); NULL: src */
	int rw;			/* writable; else read-only */
};

/* A build sandbox (sandbox.c says what it is made of besides binds). */
struct jail_sandbox {
	const struct jail_bind *binds;	/* in order: a later one may be
					 * inside an earlier one */
	size_t nbinds;
	unsigned long idbase, idcount;	/* host ids of ids 0..idcount-1 */
};

/*
 * Runs argv[0] (an absolute path inside) with envp in dir (NULL: /)
 * inside a new sandbox and waits: *status is a wait(2) status of the
 * build's exit code (or 128 + its signal). A writable bind should
 * already belong to the sandbox's ids (its root is host uid sb->idbase);
 * what the build makes there is owned by host ids in the range. 0, or -1
 * with err when the sandbox could not be made (the build did not run).
 */
int jail_sandbox_run(const struct jail_sandbox *sb, char *const argv[],
    char *const envp[], const char *dir, int *status, struct vj_err *err);

/*
 * Puts the seccomp filter for untrusted code on the calling process (and
 * what it will exec): see seccomp.c. Sets no_new_privs. 0 or -1 with err.
 */
int jail_seccomp_load(struct vj_err *err);

/* Runs argv[0] (an absolute path) with envp in dir (NULL: here) and waits;
 * *status is the wait(2) status. 0, or -1 with err when it could not run. */
int jail_run(char *const argv[], char *const envp[], const char *dir,
    int *status, struct vj_err *err);

#include <sys/types.h>

/*
 * For jail/ only, in a new mount namespace: makes every mount in it
 * private (nothing reaches the host). Where the caller is in a chroot
 * whose / is not a mount point, it first moves to the namespace's own
 * root and sets *chroot_path to the chroot's path from there (malloc'd),
 * else to NULL. 0 or -1 with err.
 */
int jail_mnt_private(char **chroot_path, struct vj_err *err);
/* Binds dir on itself and makes it the root (a mount point, so that
 * pivot_root can be used from it). 0 or -1 with err. */
int jail_mnt_enter(const char *dir, struct vj_err *err);

/* A provisioned jail, to run. */
struct jail_spec {
	const char *name;	/* as in hosts.txt */
	const char *hostname;	/* its host name (FQDN with a domain) */
	const char *root;	/* absolute */
	const char *address;
	const char *start;	/* exec.start: a sh -c command */
	const char *rundir;	/* STATE/run: pid files */
};

/*
 * Linux: starts the jail (see run.c): its namespaces, its address on a
 * veth pair, its root as /, fewer capabilities, no_new_privs, exec.start.
 * 0 or -1 with err.
 */
int jail_start(const struct jail_spec *s, struct vj_err *err);
/* Stops it: everything in it gets SIGTERM, then SIGKILL. 0 or -1. */
int jail_stop(const struct jail_spec *s, struct vj_err *err);
/* Runs argv inside the running jail and waits: *status is wait(2)'s (the
 * command's exit status, or 128 + its signal). A child process enters the
 * jail; the caller stays outside. */
int jail_exec(const struct jail_spec *s, char *const argv[], int *status,
    struct vj_err *err);
/* The pid of the jail's init, or 0 when it is not running. */
pid_t jail_pid(const struct jail_spec *s);
/* How many processes its PID namespace holds. */
int jail_nprocs(pid_t pid);

#endif
