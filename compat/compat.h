/* SPDX-License-Identifier: BSD-2-Clause */
/* Portability: the few calls that differ between Linux and FreeBSD, in
 * one place. */
#ifndef VJ_COMPAT_H
#define VJ_COMPAT_H

#include <stddef.h>
#include <sys/types.h>

/* Flushes the file system holding fd to stable storage (sync(2) where
 * there is no syncfs). 0 or -1 with errno. */
int compat_syncfs(int fd);
/* The whole of regular file in into out (empty, open for writing): a
 * reflink where the file system shares extents (Linux FICLONE: btrfs,
 * xfs), else copy_file_range(2) (in the kernel), else read and write.
 * 0 or -1 with errno. */
int compat_copy_data(int in, int out);
/* Asks the kernel to kill this process when its parent dies, so a task's
 * child does not outlive a killed vjbuild. 0, or -1 where unsupported. */
int compat_die_with_parent(void);
/* Number of online CPUs, at least 1. */
int compat_ncpu(void);
/* Orphaned descendants become this process's children (not init's), so
 * that what a task leaves behind can be found and ended. 0 or -1. */
int compat_subreaper(void);
/* This process's children: up to max pids into out; the count, or -1
 * when the system cannot tell. */
int compat_children(pid_t *out, int max);
/* Every descriptor from low up closed at the next execve (what vjbuild
 * was given open by whoever ran it must not reach a build or a jail). */
void compat_cloexec_from(int low);

#endif
