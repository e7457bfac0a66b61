/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The task kinds and the plan that turns jails into a graph of tasks.
 *
 * Per jail J (a host of hosts.txt):
 *   extract:J -> distribution:J (when the config has one) -> devfs:J ->
 *   hostconf:J
 * per port P that some jail wants (with the ports it depends on):
 *   fetch:P -> build:P (after build:D for each dependency D) -> a package
 *   in the cache
 * per jail J and port P it wants:
 *   install:P@J (after build:P, devfs:J, install:D@J) -> configure:P@J
 *   -> setup:P@J when the port has a setup script (after users:J,
 *   hostconf:J and the setups of the ports P depends on)
 * cert:J (after devfs:J) when one of J's ports says tls = yes: its key and
 * certificate, before the setups of J;
 * services:J when one of J's ports names a service: their start order, after
 * every install, configure and setup of J;
 * and once for the run: jailconf (the host's jail.conf, one stanza a jail).
 * users:J (after devfs:J) when the config or J's line names users;
 * register:J after every other task of J; dns (with dns = DIR) after every
 * register.
 *
 * With --no-cache (the paper's way, kept for comparison) each jail builds
 * its own copy: build:P@J (after fetch:P and build:D@J) replaces build:P,
 * nothing is recorded in the cache, and clean:J removes the copies.
 *
 * A kind is a table of operations. run() executes in a child process whose
 * standard output and error are the task's log; it must be idempotent and
 * publish its result atomically, so that a kill at any moment leaves either
 * the old state or the new one.
 */
#ifndef VJ_TASKS_H
#define VJ_TASKS_H

#include <sys/types.h>

#include "../cache/http.h"

#include <stddef.h>

struct conf;
struct conf_hosts;
struct conf_host;
struct conf_port;
struct conf_ports;
struct state;
struct graph;
struct sha256;
struct vj_err;

/*
 * A port as the run sees it. The cache key hashes the recipe, the build
 * script, the source digest, the dependencies' keys and the build
 * environment; a package built from the same key is the same package.
 */
struct task_port {
	const struct conf_port *port;
	char key[65];
	char srcdigest[65];	/* the distfile's sha256, or of src/ */
	char *archive;		/* CACHE/packages/NAME-VERSION-KEY16.tar.gz */
	char *srcdir;		/* CACHE/src/NAME-SRC16: fetch's output */
	char sha256[65];	/* the archive's recorded digest; "" unknown */
	struct task_port **dep;	/* the packages of port->depends, same order */
	char *workname;		/* CACHE/work/WORKNAME: NAME, or NAME@JAIL */
	int nocache;		/* a jail's own copy (--no-cache) */
};

/* What every task of a run shares; filled by the caller, owned by it. */
struct task_env {
	const struct conf *conf;
	const struct conf_hosts *hosts;
	const char *jails;		/* absolute jails directory */
	const char *state_dir;		/* absolute; jail.conf goes here */
	const char *uuid;		/* the state database's identity */
	char base_digest[65];		/* sha256 of the base archive */
	char dist_digest[65];		/* of the distribution, "" if none */
	char *const *recreate;		/* jails to make anew, NULL-ended */
	int always;			/* --always: builds build again, even
					 * a key another vjbuild packed */
	const struct conf_ports *ports;	/* every port some jail wants */
	struct task_port *tports;	/* one per port; plan_new fills */
	const char *cache;		/* absolute cache directory */
	struct state *state;		/* for package records (parent only) */
	int jobs;			/* JOBS for build scripts */
	int nocache;			/* --no-cache: the paper's way */
	int packages_only;		/* vjbuild builder: fetch and build
					 * tasks only, no jails */
};

struct task;

struct task_ops {
	const char *kind;
	double estimate;	/* seconds, before any run was recorded */
	/* Adds the task's own inputs to its fingerprint. */
	void (*inputs)(const struct task *t, struct sha256 *c);
	/* 1 when the task's output is present and intact. */
	int (*exists)(const struct task *t);
	/* In the child: does the work; 0, or -1 with err. NULL for a kind
	 * whose tasks all carry an argv (the loop spawns that instead). */
	int (*run)(const struct task *t, struct vj_err *err);
	/* In the parent after run succeeded (may be NULL): records what the
	 * child made; -1 with err turns the task into a failure. */
	int (*finish)(const struct task *t, struct vj_err *err);
	/* Runs code that is not vjbuild's (a build): its output goes
	 * through a pipe into a log of at most log_limit bytes. */
	int foreign_output;
};

struct task {
	const struct task_ops *ops;
	char *name;			/* "extract:web1" */
	const struct conf_host *host;	/* NULL for jailconf */
	char *root;			/* jails/NAME, or NULL */
	struct task_port *port;		/* for port tasks, else NULL */
	char fingerprint[65];
	const struct task_env *env;
	char *cmd;			/* a graph file's command, or NULL */
	char **argv;			/* set: the loop spawns it, no run() */
	char *exe;			/* argv[0] found in PATH, or NULL */
};

/* How many times its kind's estimate a task counts before it has a
 * duration of its own: 10 for a build of a port that priority_boost
 * names (known to be long, as poudriere's PRIORITY_BOOST), else 1. */
double task_boost(const struct task *t);

/* Set in the child of a task in the idle slot (sched/idle.c): a build
 * runs one job (JOBS=1, make -j1), outside the run's jobserver. */
extern int task_idle;

extern const struct task_ops task_extract_ops, task_distribution_ops,
    task_devfs_ops, task_hostconf_ops, task_jailconf_ops, task_fetch_ops,
    task_build_ops, task_install_ops, task_configure_ops, task_clean_ops,
    task_users_ops, task_register_ops, task_dns_ops, task_cmd_ops,
    task_setup_ops, task_services_ops, task_cert_ops;

/* The manifest beside tp's archive (port.c): the build's seconds, the
 * archive's sha256, the file list (malloc'd). 0, or -1 with err. */
int port_manifest_read(const struct task_port *tp, double *seconds,
    char hex[65], char **files, struct vj_err *err);

/* build:P in a fleet (fleet.c): what fleet_begin says to do. */
enum { FLEET_OFF, FLEET_FETCHED, FLEET_BUILD };
struct claims;
struct fleet {
	struct claims *claims;		/* the registry's claims */
	struct http_target store;	/* cache_url */
	char token[33];			/* the claim's, when held */
	int held;
	pid_t heartbeat;		/* renewing the lease, or -1 */
};
/* With the key's local lock held: FLEET_OFF (no fleet, or the store is
 * down and cache_down = build: build here), FLEET_FETCHED (the archive
 * and its manifest are in the local cache), FLEET_BUILD (this host holds
 * the claim: build, then fleet_publish), or -1 with err. */
int fleet_begin(const struct task *t, struct fleet *f, struct vj_err *err);
/* After the archive was renamed into place: uploads it and marks the key
 * done. 0, or -1 with err (the claim is then ended failed by fleet_end). */
int fleet_publish(const struct task *t, struct fleet *f, double seconds,
    const char *sha256, const char *manifest, struct vj_err *err);
/* With the package whole in the local cache (a run killed before it
 * shared it, or another state on the cache built it): shares it when
 * the fleet has it neither done nor in hand. 0, or -1 with err. */
int fleet_offer(const struct task *t, struct fleet *f, struct vj_err *err);
/* Stops the heartbeat; a claim still held is ended failed with why. */
void fleet_end(const struct task *t, struct fleet *f, const char *why);

/* The ports jail h wants: its line's packages, else the config's default
 * set, with everything they depend on; indexes into env->ports, in
 * dependency order. Returns the count; *out is malloc'd. */
size_t task_jail_ports(const struct task_env *env, const struct conf_host *h,
    int **out);

/* The users of t's jail: the config's, and over them its line's;
 * pointers into the config and the line, in *out (malloc'd). */
struct conf_user;
size_t task_users(const struct task *t, const struct conf_user ***out);

struct plan;

/*
 * Builds the tasks and their graph for env's hosts, and each task's
 * fingerprint: sha256 of its kind, name, own inputs and its dependencies'
 * fingerprints. Returns a plan (free with plan_free) or NULL with err.
 */
struct plan *plan_new(struct task_env *env, struct vj_err *err);
/* Fills env->tports for env->ports: cache keys, paths, and the digests the
 * state recorded (when env->state is set). plan_new calls it. 0 or -1. */
int task_port_keys(struct task_env *env, struct vj_err *err);
/* After an extraction or copy from src: a line in the task's log naming
 * the device nodes it passed over, if any. */
void task_note_devices(const char *src);
/*
 * Locks CACHE/locks/NAME with how (LOCK_EX or LOCK_SH), waiting (and
 * saying so) while another vjbuild holds it: the cache may be shared by
 * many states. The fd, whose close unlocks, or -1 with err.
 */
int task_cache_lock(const struct task *t, const char *name, int how,
    struct vj_err *err);

/*
 * CACHE/SUB/NAME, a directory made once for every jail and state on the
 * cache (an unpacked base or package): when missing, made under the lock
 * LOCKPREFIX+NAME by fill into a temporary name (fd, the directory
 * CACHE/SUB/.tmp.NAME), flushed and renamed into place, so it is whole or
 * absent. Open (O_DIRECTORY), or -1 with err;
 * *made is fill's count when this call made it, else -1.
 */
int task_cache_once(const struct task *t, const char *sub, const char *name,
    const char *lockprefix, long (*fill)(int fd, void *arg,
    struct vj_err *err), void *arg, long *made, struct vj_err *err);

/* ldconfig -r of t's root (Linux), one at a time a root. 0 or -1. */
int task_ldconfig(const struct task *t, struct vj_err *err);

/* Thin jails (tasks/thin.c). */
/* 1 when h is thin (its line's thin=, else the config's); t's jail. */
int thin_wanted(const struct conf *c, const struct conf_host *h);
int task_thin(const struct task *t);
/* JAILS/.vjbuild-thin.NAME: the upper layer, work and the layers record. */
char *thin_dir(const char *jails, const char *name);
/* 1 when an overlay is mounted at root. */
int thin_is_mounted(const char *root);
/* Unmounts every overlay at root (detached: a process in it keeps its
 * view). 0 or -1 with err. */
int thin_umount(const char *root, struct vj_err *err);
/* Mounts at root the overlay of lower (top first, ':'-separated) under
 * dir's upper layer, in place of what is mounted there; unless again is
 * 0 and the overlay on top there has these very options already. 0 or
 * -1. */
int thin_mount(const char *root, const char *dir, const char *lower,
    int again, struct vj_err *err);
/* The same from dir's record, when there is one (else nothing); a mount
 * with the recorded options is kept. */
int thin_mount_recorded(const char *jails, const char *name,
    struct vj_err *err);
/* A package's tree in CACHE/trees: its archive's name without .tar.gz
 * (NAME-VERSION-KEY16). */
char *thin_tree_name(const char *archive);
/* In t's process: each of its jail's packages unpacked once (made if
 * missing), and the lower layers, top first, base last. NULL with err. */
char *thin_layers(const struct task *t, const char *base, struct vj_err *err);
/* Frees what plan_new added to env (the ports' keys and paths). */
void task_env_free_ports(struct task_env *env);
void plan_free(struct plan *p);
/*
 * A plan read from a graph file (see tasks/cmd.c): one cmd task a line.
 * NULL with err "FILE:LINE: ..." for bad input, unknown dependencies or a
 * cycle.
 */
struct plan *plan_graph_file(const char *path, struct task_env *env,
    struct vj_err *err);
/* For plan builders: an empty plan; a task (name and cmd are copied, argv
 * is taken, one allocation); the order and fingerprints once every edge is
 * in (-1 with err on a cycle). */
struct plan *plan_empty(void);
int plan_add_command(struct plan *p, const struct task_ops *ops,
    const struct task_env *env, const char *name, const char *cmd,
    char **argv);
int plan_seal(struct plan *p, struct vj_err *err);
/* Borrowed; valid until plan_free. Node i of the graph is task i. */
struct graph *plan_graph(const struct plan *p);
struct task *plan_task(const struct plan *p, int i);
size_t plan_count(const struct plan *p);
/* A topological order of the graph (ties by name); borrowed. */
const int *plan_order(const struct plan *p);

/* 1 when root carries the marker of jail name from the state uuid (so
 * that vjbuild may remove it); 0 with err otherwise. */
int task_root_is_ours(const char *root, const char *name, const char *uuid,
    struct vj_err *err);
/* Writes the tinydns data (and data.cdb) from the registry, as the dns task
 * does; for destroy. 0 or -1. */
int task_dns_write(const struct conf *c, const char *state_dir,
    struct vj_err *err);

/* The jail a task belongs to, or NULL. */
const char *task_jail(const struct task *t);

#endif
