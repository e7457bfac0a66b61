/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * A jail root and its marker, shared by the task kinds of this folder.
 *
 * extract writes ROOT/var/db/vjbuild/jail naming the jail, the state
 * database that made it (its uuid) and the extract fingerprint. Every later
 * task opens the root through root_open, which refuses a directory without
 * that marker: vjbuild never writes into a directory it did not make.
 */
#ifndef VJ_TASKS_ROOT_H
#define VJ_TASKS_ROOT_H

struct task;
struct vj_err;

#define ROOT_MARKER "var/db/vjbuild/jail"

/* The marker text for task t's jail with extract fingerprint fp; malloc'd. */
char *root_marker(const struct task *t, const char *fp);
/*
 * Checks the directory open as rootfd. Returns 1 when it carries t's jail's
 * marker from this state database (and, when fp is not NULL, that extract
 * fingerprint), 0 when it is a jail of ours made from another base, and -1
 * with err when it is not ours.
 */
int root_check(const struct task *t, int rootfd, const char *fp,
    struct vj_err *err);
/* Opens t's jail root (no link followed) after root_check; fd or -1. */
int root_open(const struct task *t, struct vj_err *err);

#endif
