/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The seccomp filter put on untrusted code (a port's build, a started
 * jail's processes): every system
 * call is allowed but those that such code never needs and that reach
 * past its namespaces, which fail with EPERM (as Docker's default profile
 * and bubblewrap refuse them):
 *  - mounting and changing root (chroot is left to a jail, whose daemons
 *    confine themselves with it; its mounts are the sandbox's; with
 *    CAP_SYS_ADMIN in its user namespace it could otherwise unmount or
 *    remount what the sandbox made read-only);
 *  - new namespaces (unshare, setns, clone with CLONE_NEW*): a nested user
 *    namespace would give it a root of its own again;
 *  - the kernel's own: modules, kexec, bpf, perf events, keyrings, swap,
 *    reboot, the clock, syslog, accounting, raw I/O ports, file handles
 *    (open_by_handle_at reaches files by inode number, past any mount),
 *    quotas, userfaultfd.
 * clone3 passes its flags in memory a filter cannot read: it fails with
 * ENOSYS, and the C library falls back to clone, which is checked.
 *
 * libseccomp is loaded (dlopen) by the first filter, as libpq and
 * libarchive are: only builds need it.
 */
#include <errno.h>
#include <sched.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <seccomp.h>

#include "../util/util.h"
#include "jail.h"

#define LIBSECCOMP "libseccomp.so.2"
#define SC_FUNCS(X) X(seccomp_init) X(seccomp_release) X(seccomp_load) \
	X(seccomp_rule_add) X(seccomp_syscall_resolve_name)

static struct {
#define SC_MEMBER(f) __typeof__(f) *f;
	SC_FUNCS(SC_MEMBER)
#undef SC_MEMBER
} sc;

static const char *const sc_names[] = {
#define SC_NAME(f) #f,
	SC_FUNCS(SC_NAME)
#undef SC_NAME
};
#define NSC (sizeof(sc_names) / sizeof(sc_names[0]))

static const char *const denied[] = {
	"mount", "umount", "umount2", "pivot_root", "chroot", "move_mount",
	"open_tree", "fsopen", "fsconfig", "fsmount", "fspick",
	"mount_setattr",
	"unshare", "setns",
	"init_module", "finit_module", "delete_module", "kexec_load",
	"kexec_file_load", "bpf", "perf_event_open", "keyctl", "add_key",
	"request_key", "swapon", "swapoff", "reboot", "syslog", "acct",
	"settimeofday", "clock_settime", "clock_adjtime", "adjtimex",
	"iopl", "ioperm", "open_by_handle_at", "name_to_handle_at",
	"quotactl", "lookup_dcookie", "userfaultfd", "vhangup",
};

/* The namespace flags clone(2) may not be given. */
static const unsigned long clone_ns[] = {
	CLONE_NEWUSER, CLONE_NEWNS, CLONE_NEWPID, CLONE_NEWNET, CLONE_NEWUTS,
	CLONE_NEWIPC, CLONE_NEWCGROUP,
};

int
jail_seccomp_preload(struct vj_err *err)
{
	static int loaded;
	void *a[NSC];
	size_t i = 0;

	if (loaded)
		return 0;
	if (vj_dlsyms(LIBSECCOMP, "libseccomp2", "the seccomp filter",
	    sc_names, a, NSC, err) == -1)
		return -1;
#define SC_SET(f) sc.f = (__typeof__(sc.f))a[i++];
	SC_FUNCS(SC_SET)
#undef SC_SET
	loaded = 1;
	return 0;
}

int
jail_seccomp_load(enum jail_seccomp f, struct vj_err *err)
{
	scmp_filter_ctx ctx;
	size_t i;
	int nr, rc = -1;

	if (jail_seccomp_preload(err) == -1)
		return -1;
	if ((ctx = sc.seccomp_init(SCMP_ACT_ALLOW)) == NULL) {
		vj_errf(err, "seccomp_init failed");
		return -1;
	}
	for (i = 0; i < sizeof(denied) / sizeof(denied[0]); i++) {
		/* A call this architecture has not is nothing to refuse. */
		if ((nr = sc.seccomp_syscall_resolve_name(denied[i])) ==
		    __NR_SCMP_ERROR ||
		    (f == JAIL_SECCOMP_JAIL && strcmp(denied[i], "chroot") == 0))
			continue;
		if (sc.seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), nr, 0) < 0) {
			vj_errf(err, "seccomp: refusing %s failed", denied[i]);
			goto out;
		}
	}
	for (i = 0; i < sizeof(clone_ns) / sizeof(clone_ns[0]); i++)
		if (sc.seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM),
		    SCMP_SYS(clone), 1, SCMP_A0(SCMP_CMP_MASKED_EQ,
		    clone_ns[i], clone_ns[i])) < 0) {
			vj_errf(err, "seccomp: refusing clone flags failed");
			goto out;
		}
	if ((nr = sc.seccomp_syscall_resolve_name("clone3")) != __NR_SCMP_ERROR &&
	    sc.seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), nr, 0) < 0) {
		vj_errf(err, "seccomp: refusing clone3 failed");
		goto out;
	}
	/* seccomp_load sets no_new_privs first (libseccomp's default). */
	if ((rc = sc.seccomp_load(ctx)) < 0) {
		errno = -rc;
		vj_errno(err, "seccomp_load");
		rc = -1;
		goto out;
	}
	rc = 0;
out:
	sc.seccomp_release(ctx);
	return rc;
}
