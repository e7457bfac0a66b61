/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Jails on the host: the generated jail.conf(5). (Running commands inside
 * a jail comes with the host-integration issue.)
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

#endif
