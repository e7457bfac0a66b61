/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Jails on the host: the generated jail.conf(5), and the isolation that
 * port builds run in. (Starting jails comes with the host-integration
 * issue.)
 */
#ifndef VJ_JAIL_H
#define VJ_JAIL_H

struct conf_hosts;

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
 * Enters the isolation of a port build: new mount and network namespaces
 * with prefix (say /usr/local) an empty tmpfs. Affects only the calling
 * process and its children: call it in a task's child. 0 or -1 with err.
 */
int jail_build_isolate(const char *prefix, struct vj_err *err);

/* Runs argv[0] (an absolute path) with envp in dir (NULL: here) and waits;
 * *status is the wait(2) status. 0, or -1 with err when it could not run. */
int jail_run(char *const argv[], char *const envp[], const char *dir,
    int *status, struct vj_err *err);

#endif
