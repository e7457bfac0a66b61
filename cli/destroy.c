/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * vjbuild destroy NAME... [--yes].
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include <time.h>

#include "../state/registry.h"
#include "../state/state.h"
#include "../tasks/tasks.h"
#include "../util/util.h"
#include "../vjbuild.h"
#include "cli.h"

/* A thin jail's overlay at root unmounted, its own files (thin, in the
 * jails directory jails) removed. 0 or -1 with err. */
static int
remove_thin(const char *root, const char *jails, const char *thin,
    struct vj_err *err)
{
	int fd, rc;

	if (thin_umount(root, err) == -1)
		return -1;
	if ((fd = open(jails, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1) {
		vj_errno(err, "%s", jails);
		return -1;
	}
	if ((rc = fs_rmtree_at(fd, strrchr(thin, '/') + 1)) == -1)
		vj_errno(err, "removing %s", thin);
	close(fd);
	return rc;
}

/*
 * destroy NAME... --yes: stop, remove the root (only one of ours), the
 * registry row, the DNS entry and the state's records. Without --yes, say
 * what would be done and do nothing.
 */
int
cmd_destroy(const struct opts *o)
{
	struct conf *c = load_conf(o, 0);
	struct state *st = NULL;
	struct registry *reg = NULL;
	struct vj_err err;
	size_t i;
	int rc = 0;

	/* Every name is checked before any is touched (jail_of exits 2 on
	 * one it does not know); then the lock is taken to change things. */
	st = open_state_ro(c->val[CONF_STATE], NULL, 1);
	for (i = 0; i < o->noperands; i++) {
		struct found f;
		jail_of(c, st, o->operands[i], &f);
		if (!o->yes)
			printf("would destroy %s: stop it if it runs, remove "
			    "%s, its registry row%s and its records in %s\n",
			    f.name, f.root, c->val[CONF_DNS] ?
			    ", its DNS entry" : "", c->val[CONF_STATE]);
		found_clear(&f);
	}
	state_close(st);
	if (!o->yes) {
		printf("nothing was changed: add --yes to do it\n");
		conf_free(c);
		return 0;
	}
	if (state_open(c->val[CONF_STATE], c->val[CONF_JAILS], 0, &st,
	    &err) == -1) {
		fprintf(stderr, "%s: %s\n", progname, err.msg);
		conf_free(c);
		return EXIT_STATE;
	}
	if (registry_open(c->val[CONF_REGISTRY], c->val[CONF_STATE], &reg,
	    &err) == -1) {
		fprintf(stderr, "%s: %s\n", progname, err.msg);
		rc = EXIT_STATE;
		goto out;
	}
	for (i = 0; i < o->noperands; i++) {
		struct found f;
		struct jail_spec s;
		char *parent, *thin;
		int fd, del;
		jail_of(c, st, o->operands[i], &f);
		s = f.spec;
		if (jail_pid(&s) != 0 && jail_stop(&s, &err) == -1)
			fprintf(stderr, "%s: %s\n", progname, err.msg);
		parent = fs_dirname(s.root);
		/* A thin jail: its overlay (mounted, to read its marker),
		 * then its own files; the shared layers stay. */
		thin = thin_dir(parent, s.name);
		if (access(thin, F_OK) == 0 && !thin_is_mounted(s.root) &&
		    thin_mount_recorded(parent, s.name, &err) == -1)
			fprintf(stderr, "%s: %s\n", progname, err.msg);
		if (access(s.root, F_OK) == 0 && !task_root_is_ours(s.root,
		    s.name, state_uuid(st), &err)) {
			fprintf(stderr, "%s: %s\n", progname, err.msg);
			rc = EXIT_TASKS;
		} else if (access(thin, F_OK) == 0 &&
		    remove_thin(s.root, parent, thin, &err) == -1) {
			fprintf(stderr, "%s: %s\n", progname, err.msg);
			rc = EXIT_TASKS;
		} else if (access(s.root, F_OK) == 0 && ((fd = open(parent,
		    O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1 ||
		    fs_rmtree_at(fd, strrchr(s.root, '/') + 1) == -1)) {
			fprintf(stderr, "%s: removing %s: %s\n", progname,
			    s.root, strerror(errno));
			rc = EXIT_TASKS;
		} else if ((del = registry_delete(reg, s.name, state_uuid(st),
		    &err)) == -1) {
			fprintf(stderr, "%s: %s\n", progname, err.msg);
			rc = EXIT_TASKS;
		} else {
			/* Another state's row (the same name there) is its
			 * own: said, and kept. */
			if (del == 1)
				fprintf(stderr, "%s: kept the registry row: "
				    "%s\n", progname, err.msg);
			if (state_forget_jail(st, s.name, &err) == -1) {
				fprintf(stderr, "%s: %s\n", progname, err.msg);
				rc = EXIT_TASKS;
			} else if (!o->quiet)
				printf("destroyed %s (%s)\n", s.name, s.root);
		}
		free(parent);
		free(thin);
		found_clear(&f);
	}
	registry_close(reg);
	reg = NULL;
	if (c->val[CONF_DNS] != NULL &&
	    task_dns_write(c, c->val[CONF_STATE], &err) == -1) {
		fprintf(stderr, "%s: %s\n", progname, err.msg);
		rc = EXIT_TASKS;
	}
out:
	registry_close(reg);
	state_close(st);
	conf_free(c);
	return rc;
}
