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
/* Written by register:J when the jail is whole: "vjbuild done\nregister
 * FINGERPRINT\n" (vjbuild adopt checks it against its plan). */
#define ROOT_DONE "var/db/vjbuild/done"

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

/*
 * Lays a tree over the root open as rootfd, so that a kill at any moment
 * leaves nothing that is not the tree's: fill writes the tree into a
 * stage inside the root (ROOT/.vjbuild-TAG.vjbuild-tmp, on the root's file
 * system; what a killed lay left there is removed first), then each file
 * and link is renamed into place and each directory made, with the
 * stage's owner, mode and times. libarchive's own temporaries (NAME.XXXXXX,
 * which a kill left in a jail for good) are in the stage. Returns fill's
 * count, or -1 with err: a refusal of fill removes the stage; only a kill
 * leaves it, for the next lay to remove.
 */
long root_lay(const struct task *t, int rootfd, const char *tag,
    long (*fill)(int stagefd, void *arg, struct vj_err *err), void *arg,
    struct vj_err *err);

#endif
