/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Between the Linux files of a started jail: run.c (start, stop, exec),
 * userns.c (H and M: the user namespace, the idmapped root, the id lock)
 * and init.c (I: the jail's init). jail.h is the interface.
 */
#ifndef VJ_JAIL_LINUX_H
#define VJ_JAIL_LINUX_H

#include <sys/types.h>

struct jail_spec;
struct vj_err;

/* The bounding set cut to what a jail keeps, RLIMIT_NPROC to pids (0:
 * none), then the seccomp filter (init.c). 0 or -1 with err. */
int jail_limit_process(unsigned long pids, struct vj_err *err);
/* I: the jail's init; waits for a byte on go, reports on report. */
void jail_init(const struct jail_spec *s, int go, int report)
    __attribute__((noreturn));
/* H: the helper in a mount namespace of its own that makes M and I
 * (userns.c). */
void jail_helper(const struct jail_spec *s, unsigned long idbase, int go,
    int report) __attribute__((noreturn));
/* Says on fd what failed, with errno, and _exits 1 (init.c). */
void jail_init_fail(int fd, const char *what) __attribute__((noreturn));
/* The host-wide lock under which a start picks its id range; the fd. */
int jail_ids_lock(const struct jail_spec *s, struct vj_err *err);

#endif
