/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Jails on the host: the generated jail.conf(5), the sandbox that port
 * builds run in (sandbox.c, seccomp.c), and started jails (run.c).
 */
#ifndef VJ_JAIL_H
#define VJ_JAIL_H

struct conf_hosts;

/* What jail.conf's exec.start and exec.stop run, and what vjbuild start
 * and stop run. */
#define JAIL_EXEC_START "/bin/sh /etc/rc"
#define JAIL_EXEC_STOP "/bin/sh /etc/rc.shutdown"
/* Seconds exec.start may take before a start fails, and exec.stop before
 * the jail's processes are sent SIGTERM. */
#define JAIL_START_TIMEOUT 120
#define JAIL_STOP_TIMEOUT 20

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

/* Host ids of started jails: JAIL_IDS_SLOTS ranges of JAIL_IDS_COUNT
 * after the builds' range (ids.c). */
#define JAIL_IDS_BASE (JAIL_BUILD_IDBASE + JAIL_BUILD_IDCOUNT)
#define JAIL_IDS_COUNT 65536UL
#define JAIL_IDS_SLOTS 4096UL

/* 0 when no user in /etc/passwd and no group in /etc/group has an id in
 * [base, base + count) (such a user would own a namespace's files on the
 * host); -1 with err naming the file and line. */
int jail_ids_unused(unsigned long base, unsigned long count,
    struct vj_err *err);
/* A free range of JAIL_IDS_COUNT host ids for jail name: *base. 0, or -1
 * with err. */
int jail_ids_pick(const char *name, unsigned long *base, struct vj_err *err);
/* Maps ids 0..count-1 of pid's new user namespace (users and groups) to
 * base..base+count-1 on the host. 0, or -1 with err. */
int jail_ids_map(pid_t pid, unsigned long base, unsigned long count,
    struct vj_err *err);

/* A host path shown inside a build sandbox. */
struct jail_bind {
	const char *src;	/* the host's path */
	const char *dst;	/* the path inside (absolute); NULL: src */
	int rw;			/* writable; else read-only */
};

/* A build sandbox (sandbox.c says what it is made of besides binds). */
struct jail_sandbox {
	const char *sysroot;	/* whose /usr, /etc, /bin... it shows (NULL:
				 * the host's) */
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

/* The seccomp filters (seccomp.c): a build's, and a started jail's,
 * which allows chroot (daemons confine themselves with it). */
enum jail_seccomp { JAIL_SECCOMP_BUILD, JAIL_SECCOMP_JAIL };
/*
 * Puts filter f for untrusted code on the calling process (and what it
 * will exec): see seccomp.c. Sets no_new_privs. 0 or -1 with err.
 */
int jail_seccomp_load(enum jail_seccomp f, struct vj_err *err);
/* Loads libseccomp (once), for a process that will load a filter after
 * its root changed. 0 or -1 with err naming the library's package. */
int jail_seccomp_preload(struct vj_err *err);

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

/* What a started jail may use (vjbuild.conf's limit.*); 0: no limit. */
struct jail_limits {
	unsigned long pids;		/* processes at once */
	unsigned long long memory;	/* bytes */
	unsigned long cpu_weight;	/* 1..10000, 100 a fair share */
	unsigned long long shm;		/* bytes of /dev/shm */
};

/* A service of the host a jail may reach (vjbuild.conf's host_access). */
struct jail_access {
	const char *address;
	unsigned port;		/* 0: every port */
};

/* A provisioned jail, to run. */
struct jail_spec {
	const char *name;	/* as in hosts.txt */
	const char *hostname;	/* its host name (FQDN with a domain) */
	const char *root;	/* absolute */
	const char *address;
	const char *start;	/* exec.start: a sh -c command; start waits
				 * for it and fails when it fails */
	const char *stop;	/* exec.stop, run first at stop; or NULL */
	int console;		/* exec.start's and exec.stop's output: an
				 * fd, or -1 for /dev/null */
	char *const *argv;	/* jail_once: the command, and its */
	char *const *envp;	/* environment */
	const char *rundir;	/* STATE/run: pid files */
	struct jail_limits limits;
	const struct jail_access *access;	/* of the host's services */
	size_t naccess;
	const char *jail_if;	/* run.c's own: the veth end it is given */
};

/* For jail/ only (run.c): the pieces of a start. */
/* Runs the host's ip(8) with the NULL-terminated arguments; 0 when it
 * exits 0. */
int jail_ip(const char *first, ...) __attribute__((sentinel));
/* The ifindex of link name, or 0 when there is none. */
long jail_link_index(const char *name);
/* Deletes link name if it is there with ifindex index (a veth's peer goes
 * with it). */
void jail_link_del(const char *name, long index);
/* Adds a veth pair with names no link has: vjNh and vjNj. 0 or -1. */
int jail_veth_add(char host[16], char jail[16], struct vj_err *err);
/* In pid's network namespace: lo up, jail_if renamed eth0 with address,
 * up, the default route through it (IPv6: via fe80::1, the host's end).
 * 0 or -1 with err. */
int jail_net_inside(pid_t pid, const char *jail_if, const char *address,
    struct vj_err *err);
/* 0 when address may be a jail's (net.c says when it may not); -1 with
 * err naming the host's address or route it collides with. */
int jail_addr_check(const char *address, struct vj_err *err);
/* Loads the host's nftables table "inet vjbuild" (net.c): what jails send
 * to the host itself is dropped but for replies, IPv6 neighbour discovery
 * and the n services in a. The ruleset is written in dir first. 0 or -1. */
int jail_firewall(const struct jail_access *a, size_t n, const char *dir,
    struct vj_err *err);
/* Puts pid in the jail's cgroups with limits l: 0; 1 with err saying why
 * there are none to put it in; -1 with err. */
int jail_cgroup_setup(const char *name, const struct jail_limits *l,
    pid_t pid, struct vj_err *err);
/* Puts pid in the jail's cgroups, where they exist. 0 or -1 with err. */
int jail_cgroup_join(const char *name, pid_t pid, struct vj_err *err);
/* The init of the jail's PID namespace, found in its cgroup (what start
 * recorded may be lost), or 0. */
pid_t jail_cgroup_init(const char *name);
/* Removes the jail's cgroups once empty. */
void jail_cgroup_remove(const char *name);

/*
 * Linux: starts the jail (see run.c): its namespaces, its address on a
 * veth pair, its root as /, fewer capabilities, no_new_privs, exec.start.
 * 0 or -1 with err.
 */
int jail_start(const struct jail_spec *s, struct vj_err *err);
/*
 * Runs s->argv (with s->envp) as the root of a jail made for it alone and
 * waits: the same user namespace, idmapped root, mount, PID, IPC and UTS
 * namespaces, capabilities, RLIMIT_NPROC and seccomp filter as a started
 * jail's, and a network namespace of its own with no interface up (no
 * network at all). Its standard output and error are the caller's. When
 * it ends, whatever it left running is killed; when the caller dies, so
 * does all of it. *status is wait(2)'s. 0, or -1 with err when the jail
 * could not be made. For tasks that run a port's setup in the jail.
 */
int jail_once(const struct jail_spec *s, int *status, struct vj_err *err);
/* Stops it: exec.stop first (JAIL_STOP_TIMEOUT s at most), then everything
 * in it gets SIGTERM, then SIGKILL. 0 or -1. */
int jail_stop(const struct jail_spec *s, struct vj_err *err);
/* Runs argv inside the running jail and waits: *status is wait(2)'s (the
 * command's exit status, or 128 + its signal). A child process enters the
 * jail; the caller stays outside. */
int jail_exec(const struct jail_spec *s, char *const argv[], int *status,
    struct vj_err *err);
/* The pid of the jail's init, or 0 when it is not running; with its run
 * file lost, found in its cgroup. */
pid_t jail_pid(const struct jail_spec *s);
/* How many processes its PID namespace holds. */
int jail_nprocs(pid_t pid);

#endif
