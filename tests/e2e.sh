#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# End-to-end tests of the core: jail roots from hosts.txt, in parallel and
# resumable. Each test_* drives the real binary in a temporary directory.
#   usage: VJBUILD=/path/to/vjbuild bash tests/e2e.sh [TEST...]
. "$(dirname "$0")/lib.sh"

test_builds_twenty_jails() {
	need_root || return
	setup 20
	"$VJ" -j4 hosts.txt > out.txt 2> err.txt || { cat out.txt err.txt; fail "vjbuild failed"; return; }
	[ "$(ls jails | wc -l)" = 20 ] || fail "want 20 roots: $(ls jails)"
	for i in $(seq 1 20); do
		r=jails/web$i
		[ "$(chroot $r /bin/sh -c 'echo ok')" = ok ] || fail "chroot $r"
		[ "$(stat -c '%F %t:%T' $r/dev/null)" = "character special file 1:3" ] || fail "$r/dev/null: $(stat -c '%F %t:%T' $r/dev/null)"
		[ "$(cat $r/etc/hostname)" = "web$i" ] || fail "$r/etc/hostname"
		grep -q "^10.9.0.$i	web$i.example.org web$i\$" $r/etc/hosts || fail "$r/etc/hosts"
		grep -q "^nameserver 192.0.2.53\$" $r/etc/resolv.conf || fail "$r/etc/resolv.conf"
		grep -A3 "^web$i {" state/jail.conf | grep -q "ip4.addr = \"10.9.0.$i\";" || fail "jail.conf web$i"
	done
	[ "$(grep -c '^web[0-9]* {$' state/jail.conf)" = 20 ] || fail "jail.conf stanzas"
	grep -q '20 jails: 20 ok' out.txt || fail "summary: $(tail -1 out.txt)"
}

test_rerun_runs_nothing() {
	need_root || return
	setup 20
	"$VJ" -j4 hosts.txt > /dev/null 2>&1 || { fail "first run"; return; }
	local t0 t1
	t0=$(date +%s.%N)
	"$VJ" -j4 hosts.txt > out.txt 2> err.txt || { fail "second run"; return; }
	t1=$(date +%s.%N)
	grep -q '0 ran, 81 up to date' out.txt || fail "second run ran something: $(tail -1 out.txt)"
	[ ! -s err.txt ] || fail "second run printed task lines: $(head -3 err.txt)"
	echo "    (second run: $(echo "$t1 - $t0" | bc) s for 20 hosts)"
}

test_address_change_reruns_only_that_jail() {
	need_root || return
	setup 5
	"$VJ" -j2 hosts.txt > /dev/null 2>&1 || { fail "first run"; return; }
	sed -i 's/^web3 10.9.0.3$/web3 10.9.0.33/' hosts.txt
	"$VJ" -j2 hosts.txt > out.txt 2> err.txt || { fail "second run"; return; }
	ran=$(awk '$3=="ok"{print $4}' err.txt | sort | tr '\n' ' ')
	[ "$ran" = "hostconf:web3 jailconf register:web3 " ] || fail "ran: '$ran'"
	grep -q '^10.9.0.33	web3' jails/web3/etc/hosts || fail "web3 hosts not updated"
	grep -q 'ip4.addr = "10.9.0.33"' state/jail.conf || fail "jail.conf not updated"
}

test_bad_hosts_change_nothing() {
	setup 1
	local case_ out
	for case_ in "dup-address:web1 10.0.0.1|web2 10.0.0.1:hosts.txt:2: duplicate address" \
	    "bad-address:web1 10.0.0.1|web2 10.0.0.256:hosts.txt:2: '10.0.0.256' is not an IPv4" \
	    "dotdot:web1 10.0.0.1|../x 10.0.0.2:hosts.txt:2: '../x' is not a valid host name" \
	    "dup-name:web1 10.0.0.1|web1 10.0.0.2:hosts.txt:2: duplicate host name"; do
		IFS=: read -r name lines want <<< "$case_"
		printf '%s\n' "${lines//|/$'\n'}" > hosts.txt
		"$VJ" hosts.txt > out.txt 2> err.txt
		rc=$?
		[ $rc = 2 ] || fail "$name: exit $rc, want 2"
		grep -qF "$want" err.txt || fail "$name: message '$(cat err.txt)' lacks '$want'"
		[ ! -e jails ] && [ ! -e state ] || fail "$name: something was created"
	done
}

# libarchive is loaded when archives are needed (cache/archive.c), not
# linked: without it a build says which library and package and changes
# nothing, and a graph of commands, which reads no archive, still runs.
test_without_libarchive_a_build_says_so_and_changes_nothing() {
	need_root || return
	unlinked_lib libarchive.so.13 libarchive13 || return
	setup 1
	printf 'a: | touch a.out\n' > graph.txt
	# In a mount namespace of its own, libarchive is an empty file.
	unshare -m sh -c 'mount --bind /dev/null "$1" && "$2" hosts.txt; echo "exit $?" >&2; "$2" run-graph -q graph.txt' \
	    sh "$lib" "$VJ" > out.txt 2>&1 || fail "run-graph without libarchive: $(tail -3 out.txt)"
	grep -q "archives: cannot load libarchive.so.13 .*libarchive13" out.txt || fail "no clear message: $(tail -3 out.txt)"
	grep -qx "exit 1" out.txt || fail "the build's exit status: $(tail -3 out.txt)"
	[ ! -e jails ] && [ ! -e state ] || fail "something was created"
	[ -e a.out ] || fail "run-graph did not run its command"
}

# Without libseccomp a run with ports says so before anything is made.
test_without_libseccomp_a_build_says_so_and_changes_nothing() {
	need_root || return
	unlinked_lib libseccomp.so.2 libseccomp2 || return
	setup 1
	mkdir -p ports/p/src
	printf 'version = 1.0\nsource = none\n' > ports/p/recipe
	echo 'mkdir -p $STAGEDIR$PREFIX' > ports/p/build
	printf 'ports = ports\npackages = p\n' >> vjbuild.conf
	unshare -m sh -c 'mount --bind /dev/null "$1" && "$2" hosts.txt; echo "exit $?" >&2' \
	    sh "$lib" "$VJ" > out.txt 2>&1
	grep -q "the seccomp filter: cannot load libseccomp.so.2 .*libseccomp2" out.txt || fail "no clear message: $(tail -3 out.txt)"
	grep -qx "exit 1" out.txt || fail "exit status: $(tail -3 out.txt)"
	[ ! -e jails ] && [ ! -e state ] || fail "something was created"
}

test_config_errors_name_file_and_line() {
	setup 1
	printf 'base = base.tar.gz\njail = x\n' > vjbuild.conf
	"$VJ" hosts.txt 2> err.txt; rc=$?
	[ $rc = 2 ] || fail "unknown key: exit $rc"
	grep -q "vjbuild.conf:2: unknown key 'jail'" err.txt || fail "unknown key: $(cat err.txt)"
	printf 'base = missing.tar.gz\n' > vjbuild.conf
	"$VJ" hosts.txt 2> err.txt; rc=$?
	[ $rc = 2 ] || fail "missing base: exit $rc"
	grep -q "vjbuild.conf:1: base .*missing.tar.gz: No such file" err.txt || fail "missing base: $(cat err.txt)"
	"$VJ" --base nothere.tgz hosts.txt 2> err.txt; rc=$?
	grep -q -- "--base: base .*nothere.tgz" err.txt || fail "--base: $(cat err.txt)"
	[ ! -e jails ] && [ ! -e state ] || fail "something was created"
}

test_foreign_directory_is_never_touched() {
	need_root || return
	setup 3
	mkdir -p jails/web2/etc
	echo "mine" > jails/web2/etc/hostname
	echo "data" > jails/web2/precious
	before=$(python3 "$here/treehash.py" jails/web2)
	"$VJ" -k -j2 hosts.txt > out.txt 2> err.txt; rc=$?
	[ $rc = 1 ] || fail "exit $rc, want 1"
	grep -q "web2 .*FAILED  extract:web2" out.txt || fail "summary: $(cat out.txt)"
	grep -q "jails/web2 exists and was not made by vjbuild" out.txt || fail "no clear error: $(cat out.txt)"
	[ "$(python3 "$here/treehash.py" jails/web2)" = "$before" ] || fail "jails/web2 changed"
	grep -q "^web1 .*ok" out.txt && grep -q "^web3 .*ok" out.txt || fail "others not built with -k"
}

test_failure_without_k_stops_new_work() {
	need_root || return
	setup 3
	mkdir -p jails/web1
	"$VJ" -j1 hosts.txt > out.txt 2> err.txt; rc=$?
	[ $rc = 1 ] || fail "exit $rc"
	grep -q "^web1 .*FAILED  extract:web1" out.txt || fail "$(cat out.txt)"
	# -j1 and extract:web1 first by name: nothing else may have started.
	[ ! -e jails/web2 ] || fail "web2 was built after a failure without -k"
	grep -q "NOT RUN" out.txt || fail "no NOT RUN in summary"
}

test_dry_run_changes_nothing() {
	setup 2
	"$VJ" -n hosts.txt > out.txt 2> err.txt || { fail "exit $?: $(cat err.txt)"; return; }
	grep -q '^run        extract:web1$' out.txt || fail "$(cat out.txt)"
	grep -q '9 tasks: 9 would run' out.txt || fail "$(tail -1 out.txt)"
	[ ! -e jails ] && [ ! -e state ] || fail "dry run created something"
}

test_dry_run_after_build_shows_up_to_date() {
	need_root || return
	setup 2
	"$VJ" hosts.txt > /dev/null 2>&1 || { fail "build"; return; }
	sed -i 's/10.9.0.2/10.9.0.22/' hosts.txt
	"$VJ" -n hosts.txt > out.txt || { fail "dry run"; return; }
	grep -q '^run        hostconf:web2$' out.txt || fail "$(cat out.txt)"
	grep -q '^up-to-date extract:web2$' out.txt || fail "$(cat out.txt)"
	grep -q '9 tasks: 3 would run, 6 up to date' out.txt || fail "$(tail -1 out.txt)"
}

# On a file system with reflinks (xfs here, in a loop image the test makes)
# a thick jail's copy of the unpacked base clones its extents: the jail's
# files share the cache's blocks, and the jails take no room for them.
test_thick_jails_on_a_reflink_file_system_clone_the_base() {
	need_root || return
	command -v mkfs.xfs > /dev/null || { echo "    skipped: no mkfs.xfs (Debian package xfsprogs; .ci/run installs it)"; return $SKIP_RC; }
	truncate -s 512M xfs.img
	mkfs.xfs -q -m reflink=1 xfs.img || { fail "mkfs.xfs"; return; }
	mkdir w
	mount -o loop xfs.img w 2> err.txt || { echo "    skipped: no loop device to mount here: $(head -1 err.txt)"; return $SKIP_RC; }
	trap 'cd "$OLDPWD_T"; umount -l "$OLDPWD_T/w"' EXIT
	OLDPWD_T=$PWD
	cd w
	setup 2
	mkdir b && tar -C b -xzf base.tar.gz
	mkdir -p b/opt && head -c 32M /dev/urandom > b/opt/big
	tar --numeric-owner -C b -czf base.tar.gz . && rm -rf b
	sync
	local before after
	before=$(df -k --output=used . | tail -1)
	"$VJ" -j2 hosts.txt > out.txt 2>&1 || { fail "run: $(tail -3 out.txt)"; return; }
	sync
	after=$(df -k --output=used . | tail -1)
	for j in web1 web2; do
		filefrag -v "jails/$j/opt/big" | grep -q 'shared' || fail "$j: opt/big shares no extent: $(filefrag -v "jails/$j/opt/big" | tail -2)"
		cmp -s "jails/$j/opt/big" "cache/base/"*/opt/big || fail "$j: opt/big differs from the base"
	done
	# The unpacked base (32 MB and more) once, not three times.
	[ $((after - before)) -lt 60000 ] || fail "the run took $((after - before)) KiB"
	echo "    (the run took $((after - before)) KiB for a 32 MB file in the cache and two jails)"
}

# The base is unpacked once into the cache; each jail is a copy of that
# tree, as the archive made it: owners, modes (setuid), times, extended
# attributes, hard links, symbolic links, FIFOs. cache gc removes the tree
# of a base no longer configured.
test_jails_are_copies_of_the_base_unpacked_once() {
	need_root || return
	setup 3
	mkdir b && tar -C b -xzf base.tar.gz
	mkdir -p b/opt/t && cd b/opt/t
	echo data > f && ln f hard && ln -s ../t/f sym && mkfifo fifo
	echo suid > s && chown 7:8 s && chmod 4750 s && touch -d 2001-02-03 s
	python3 -c 'import os; os.setxattr("f", "user.vjtest", b"kept")' 2>/dev/null || : > no-xattr
	cd ../../..
	tar --xattrs --numeric-owner -C b -czf base.tar.gz .
	"$VJ" -j2 hosts.txt > out.txt 2>&1 || { fail "run: $(tail -3 out.txt)"; return; }
	[ "$(cat state/logs/latest/extract:web*.log | grep -c '^unpacked ')" = 1 ] || fail "unpacked more than once: $(cat state/logs/latest/extract:web*.log)"
	[ "$(cat state/logs/latest/extract:web*.log | grep -c '^copied ')" = 3 ] || fail "not copied: $(cat state/logs/latest/extract:web*.log)"
	[ "$(ls cache/base | wc -l)" = 1 ] || fail "cache/base: $(ls -a cache/base)"
	for j in web1 web3; do
		python3 - "b/opt/t" "jails/$j/opt/t" <<'PY' || fail "$j: not the same tree"
import os, sys
def look(d):
    out, ino = {}, {}
    for n in sorted(os.listdir(d)):
        st = os.lstat(os.path.join(d, n))
        x = []
        if not os.path.islink(os.path.join(d, n)):
            x = sorted((a, os.getxattr(os.path.join(d, n), a)) for a in os.listxattr(os.path.join(d, n)))
        out[n] = (st.st_mode, st.st_uid, st.st_gid, st.st_mtime_ns if not os.path.isdir(os.path.join(d, n)) else 0,
                  os.readlink(os.path.join(d, n)) if os.path.islink(os.path.join(d, n)) else
                  open(os.path.join(d, n), "rb").read() if os.path.isfile(os.path.join(d, n)) and n != "fifo" else b"",
                  x, ino.setdefault(st.st_ino, n))
    return out
a, b = look(sys.argv[1]), look(sys.argv[2])
for n in sorted(set(a) | set(b)):
    if a.get(n) != b.get(n):
        print(n, a.get(n), b.get(n), file=sys.stderr)
sys.exit(a != b)
PY
	done
	[ "$(stat -c %i jails/web1/opt/t/f)" = "$(stat -c %i jails/web1/opt/t/hard)" ] || fail "hard link lost"
	[ "$(stat -c %i jails/web1/opt/t/f)" != "$(stat -c %i jails/web2/opt/t/f)" ] || fail "jails share a file"
	echo changed > jails/web2/opt/t/f
	[ "$(cat jails/web1/opt/t/f)" = data ] || fail "a jail's write reached another"
	[ "$(cat cache/base/*/opt/t/f)" = data ] || fail "a jail's write reached the cache"
	# Another base: the old tree is the cache's to remove.
	old=$(ls cache/base)
	echo extra > b/opt/t/new && tar --xattrs --numeric-owner -C b -czf base.tar.gz .
	"$VJ" cache gc > gc.txt || fail "gc: $(cat gc.txt)"
	grep -q "^removed  $PWD/cache/base/$old" gc.txt || fail "gc: $(cat gc.txt)"
	[ ! -e "cache/base/$old" ] || fail "the old base's tree kept"
}

# -n and graph open the state read-only: the base's digest comes from the
# record of (size, mtime, inode), as a run's does, not from reading it all.
test_dry_run_takes_the_base_digest_from_the_record() {
	need_root || return
	setup 2
	"$VJ" hosts.txt > /dev/null 2>&1 || { fail "build"; return; }
	# A byte changed, size, mtime and inode kept: only a full read sees it.
	touch -r base.tar.gz stamp.ref
	printf '\x55' | dd of=base.tar.gz bs=1 seek=100 conv=notrunc status=none
	touch -r stamp.ref base.tar.gz
	"$VJ" -n hosts.txt > out.txt || { fail "dry run"; return; }
	grep -q '^up-to-date extract:web1$' out.txt || fail "the dry run read the base: $(cat out.txt)"
	"$VJ" graph hosts.txt > /dev/null || fail "graph"
	# Its mtime changed: now it is read, and its digest is another.
	touch base.tar.gz
	"$VJ" -n hosts.txt > out.txt || { fail "dry run"; return; }
	grep -q '^run        extract:web1$' out.txt || fail "a touched base not read: $(cat out.txt)"
}

test_status_lists_jails_and_tasks() {
	need_root || return
	setup 2
	"$VJ" hosts.txt > /dev/null 2>&1 || { fail "build"; return; }
	"$VJ" status > out.txt || { fail "status"; return; }
	grep -q '^web1 *10.9.0.1 *ok' out.txt || fail "$(cat out.txt)"
	grep -q '^extract:web2 *ok *1 ' out.txt || fail "$(cat out.txt)"
	grep -q '^jailconf *ok' out.txt || fail "$(cat out.txt)"
}

test_graph_prints_dot() {
	setup 2
	"$VJ" graph hosts.txt > out.dot || { fail "graph"; return; }
	grep -q '^digraph vjbuild {' out.dot || fail "no digraph"
	grep -q '"extract:web1" -> "devfs:web1";' out.dot || fail "edge missing: $(cat out.dot)"
	grep -q '"devfs:web2" -> "hostconf:web2";' out.dot || fail "edge missing"
	[ ! -e jails ] && [ ! -e state ] || fail "graph created something"
}

test_second_vjbuild_refuses() {
	need_root || return
	setup 1
	mkdir -p state
	(flock state sleep 3) &
	sleep 0.3
	"$VJ" hosts.txt > out.txt 2> err.txt; rc=$?
	wait
	[ $rc = 3 ] || fail "exit $rc, want 3"
	grep -q "is in use by another vjbuild" err.txt || fail "$(cat err.txt)"
	[ ! -e jails ] || fail "jails created while locked"
}

test_distribution_directory_and_archive() {
	need_root || return
	setup 2
	mkdir -p dist/etc
	echo "motd from dist" > dist/etc/motd
	printf 'distribution = dist\n' >> vjbuild.conf
	"$VJ" hosts.txt > out.txt 2>&1 || { fail "$(cat out.txt)"; return; }
	[ "$(cat jails/web1/etc/motd)" = "motd from dist" ] || fail "dir distribution"
	[ "$(cat jails/web1/etc/hostname)" = web1 ] || fail "hostconf after distribution"
	tar -C dist -czf dist.tar.gz .
	echo "changed" > dist/etc/motd
	sed -i 's/^distribution = dist$/distribution = dist.tar.gz/' vjbuild.conf
	"$VJ" hosts.txt > out.txt 2>&1 || { fail "$(cat out.txt)"; return; }
	[ "$(cat jails/web2/etc/motd)" = "motd from dist" ] || fail "archive distribution"
	grep -q "ok  *distribution:web2" out.txt || fail "distribution did not rerun"
	grep -q "ok  *extract:web2" out.txt && fail "extract reran" || true
}

test_hostile_base_touches_nothing_outside() {
	need_root || return
	setup 1
	local kind outside=$PWD/outside
	mkdir -p "$outside"
	echo "unpack_limit = 32M" >> vjbuild.conf
	for kind in dotdot absolute symlink hardlink hardlink-dotdot bomb; do
		rm -rf jails state
		echo "the victim" > "$outside/victim"; echo "the victim" > victim
		ABS="$PWD/abs-escaped" OUTSIDE="$outside" python3 "$here/mkhostile.py" $kind base.tar.gz
		"$VJ" hosts.txt > out.txt 2>&1; rc=$?
		[ $rc = 1 ] || fail "$kind: exit $rc, want 1"
		[ ! -e escaped-dotdot ] && [ ! -e jails/escaped-dotdot ] || fail "$kind: .. escaped"
		[ ! -e abs-escaped ] || fail "$kind: absolute path escaped"
		[ "$(ls -A "$outside")" = victim ] || fail "$kind: wrote through symlink"
		[ "$(cat "$outside/victim") $(cat victim)" = "the victim the victim" ] || fail "$kind: wrote through a hard link"
		case $kind in
		bomb) grep -q 'unpacks to more than unpack_limit .* refused as a decompression bomb' out.txt || fail "bomb: $(tail -3 out.txt)" ;;
		esac
		[ ! -e jails/web1 ] || fail "$kind: a half-extracted root was published"
		ls -A jails | grep -q vjbuild-tmp && fail "$kind: temporary left" || true
	done
}

# A base tarred from a debootstrap root has its /dev: its device nodes
# (here the host's disk too) are passed over with a note; devfs makes the
# jail's.
test_base_with_device_nodes_provisions_without_them() {
	need_root || return
	setup 1
	mkdir root && tar -xzf base.tar.gz -C root && mkdir -p root/dev
	mknod root/dev/sda b 8 0 && mknod root/dev/null c 1 3 && mknod root/dev/console c 5 1
	tar --numeric-owner -czf base.tar.gz -C root .
	"$VJ" hosts.txt > out.txt 2>&1 || { fail "with device nodes: $(tail -3 out.txt)"; return; }
	[ ! -e jails/web1/dev/sda ] || fail "the disk's node was made"
	[ -c jails/web1/dev/null ] || fail "no dev/null (devfs)"
	"$VJ" log extract:web1 | grep -q 'passed over 3 device nodes (dev/.*sda.*): no archive makes devices' ||
	    fail "no note: $("$VJ" log extract:web1)"
}

test_changed_base_needs_recreate() {
	need_root || return
	setup 2
	"$VJ" hosts.txt > /dev/null 2>&1 || { fail "build"; return; }
	echo "hand-made" > jails/web1/root/notes
	printf '\0' >> base.tar.gz	# a different digest, still a valid archive
	"$VJ" -k hosts.txt > out.txt 2>&1; rc=$?
	[ $rc = 1 ] || fail "exit $rc"
	grep -q "run with --recreate web1" out.txt || fail "$(cat out.txt)"
	[ "$(cat jails/web1/root/notes)" = hand-made ] || fail "root changed"
	"$VJ" --recreate web1 --recreate web2 hosts.txt > out.txt 2>&1 || { fail "recreate: $(cat out.txt)"; return; }
	old=$(ls -d jails/.vjbuild-old.web1.* 2>/dev/null | head -1)
	[ -n "$old" ] && [ "$(cat $old/root/notes)" = hand-made ] || fail "old root not kept aside"
	[ ! -e jails/web1/root/notes ] || fail "new root has old files"
	[ "$(chroot jails/web1 /bin/sh -c 'echo ok')" = ok ] || fail "new root"
}

test_ipv6_host() {
	need_root || return
	setup 0
	echo "v6 2001:db8::10" > hosts.txt
	"$VJ" hosts.txt > /dev/null 2>&1 || { fail "build"; return; }
	grep -q 'ip6.addr = "2001:db8::10";' state/jail.conf || fail "$(cat state/jail.conf)"
	grep -q '^2001:db8::10	v6.example.org v6$' jails/v6/etc/hosts || fail "hosts"
}

# A base with many files, so that a run lasts long enough to be killed.
big_base() {
	mkdir -p bigroot
	tar -C bigroot -xzf "$BASE"
	for d in $(seq 1 20); do
		mkdir -p bigroot/usr/share/d$d
		for f in $(seq 1 30); do echo "$d $f" > bigroot/usr/share/d$d/f$f; done
	done
	tar -C bigroot --numeric-owner -czf base.tar.gz .
	rm -rf bigroot
}

tree_of_all() {
	local h=""
	for r in jails/*; do
		h="$h $(python3 "$here/treehash.py" "$r" -x var/db/vjbuild/jail)"
	done
	echo "$h $(sha256sum < state/jail.conf)"
}

test_kill9_then_resume() {
	need_root || return
	setup 12
	big_base
	"$VJ" -j2 hosts.txt > /dev/null 2>&1 || { fail "reference run"; return; }
	want=$(tree_of_all)
	rm -rf jails state
	"$VJ" -j2 hosts.txt > run1.txt 2>&1 &
	pid=$!
	# Kill once at least 8 tasks are recorded ok.
	for _ in $(seq 1 500); do
		n=$(task_runs 2>/dev/null | awk '$2=="ok"' | wc -l)
		[ "$n" -ge 8 ] && break
		sleep 0.01
	done
	kill -9 $pid; wait $pid 2>/dev/null
	task_runs | awk '$2=="ok"{print $1, $3}' | sort > done-before.txt
	[ "$(wc -l < done-before.txt)" -ge 8 ] || { fail "killed too late or early: $(wc -l < done-before.txt) done"; return; }
	grep -q " 1$" done-before.txt || fail "no task of run 1 done"
	[ "$(task_runs | awk '$2=="ok"' | wc -l)" -lt 49 ] || fail "run finished before the kill"
	"$VJ" -j2 hosts.txt > run2.txt 2>&1 || { fail "resume: $(tail run2.txt)"; return; }
	# Every task done before the kill still carries run 1: not run again.
	task_runs | awk '{print $1, $3}' | sort | join - done-before.txt | awk '$2 != $3' > rerun.txt
	[ ! -s rerun.txt ] || fail "finished tasks ran again: $(cat rerun.txt)"
	[ "$(tree_of_all)" = "$want" ] || fail "jails differ from an uninterrupted run"
	ls -A jails | grep -q '^\.' && fail "temporaries left: $(ls -A jails | grep '^\.')" || true
}

test_sigterm_interrupts_and_records() {
	need_root || return
	setup 12
	big_base
	"$VJ" -j2 hosts.txt > out.txt 2> err.txt &
	pid=$!
	for _ in $(seq 1 500); do
		[ "$(task_runs 2>/dev/null | awk '$2=="ok"' | wc -l)" -ge 4 ] && break
		sleep 0.01
	done
	kill -TERM $pid
	wait $pid; rc=$?
	[ $rc = 143 ] || fail "exit $rc, want 143 (killed by SIGTERM)"
	grep -q "stopped by signal 15" err.txt || fail "$(tail -2 err.txt)"
	task_runs | grep -q ' running ' && fail "tasks left as running" || true
	task_runs | grep -q ' interrupted ' || fail "no interrupted task recorded"
	"$VJ" -j2 hosts.txt > out2.txt 2>&1 || { fail "resume"; return; }
	grep -q '12 jails: 12 ok' out2.txt || fail "$(tail -1 out2.txt)"
}

test_usage_errors() {
	"$VJ" -j 0 x 2> err.txt; [ $? = 2 ] || fail "-j 0"
	"$VJ" 2> err.txt; [ $? = 2 ] || fail "no hosts"
	grep -q usage err.txt || fail "no usage"
	"$VJ" --version | grep -q '^vjbuild [0-9]' || fail "--version"
	"$VJ" --help | grep -q -- '--recreate' || fail "--help"
}

test_command_line_says_what_is_wrong_briefly() {
	setup 1
	"$VJ" stauts > out.txt 2> err.txt; [ $? = 2 ] || fail "a mistyped command: exit $?"
	grep -q "'stauts' is not a command (vjbuild help lists them)" err.txt || fail "$(cat err.txt)"
	"$VJ" start > out.txt 2> err.txt; [ $? = 2 ] || fail "start without a name: exit $?"
	[ "$(wc -l < err.txt)" -le 2 ] && grep -q '^usage: vjbuild start NAME' err.txt || fail "usage: $(cat err.txt)"
	"$VJ" help start | grep -q '^usage: vjbuild start' || fail "help start"
	"$VJ" start --help | grep -q '^usage: vjbuild start' || fail "start --help"
	"$VJ" log --help | grep -q -- '--follow' || fail "log --help"
	"$VJ" help nosuch > /dev/null 2>&1; [ $? = 2 ] || fail "help of no command"
	# A var. no template uses: a warning naming file and line.
	mkdir -p ports; make_port app 'mkdir -p $STAGEDIR$PREFIX; true'
	mkdir -p ports/app/files; echo 'port %%var.http_port%%' > ports/app/files/app.conf.in
	printf 'ports = ports\nvar.http_port = 80\n' >> vjbuild.conf
	echo 'web1 10.9.0.1 app var.http_prot=9090' > hosts.txt
	"$VJ" -n hosts.txt > out.txt 2> err.txt || fail "dry run: $(cat err.txt)"
	grep -q 'warning: .*hosts.txt:1: var.http_prot is used by no template' err.txt || fail "no warning: $(cat err.txt)"
	grep -q 'var.http_port' err.txt && fail "a used var warned: $(cat err.txt)"
	# Not root: refused before anything is made (in a directory the
	# user may write, so that only the check keeps it out).
	[ "$(id -u)" = 0 ] || { echo "    (not root: the non-root check is left to a root run)"; return; }
	local nr; nr=$(mktemp -d /tmp/vjbuild-nr.XXXXXX)
	cp -r vjbuild.conf hosts.txt base.tar.gz ports "$nr"; chmod -R a+rwX "$nr"
	(cd "$nr" && setpriv --reuid=65534 --regid=65534 --clear-groups "$VJ" hosts.txt) > out.txt 2> err.txt; rc=$?
	[ $rc = 2 ] || fail "not root: exit $rc"
	grep -q 'build needs root' err.txt || fail "not root: $(cat err.txt)"
	[ ! -e "$nr/state" ] && [ ! -e "$nr/jails" ] || fail "not root: something was made: $(ls $nr)"
	rm -rf "$nr"
}

test_valgrind_main_path_has_no_leaks() {
	need_root || return
	command -v valgrind > /dev/null || { echo "    skipped: valgrind is not installed"; return $SKIP_RC; }
	[ "${SANITIZED:-0}" = 1 ] && { echo "    skipped: valgrind cannot run a sanitizer build (the plain build's run covers this)"; return $SKIP_RC; }
	setup 4
	printf 'distribution = dist\n' >> vjbuild.conf
	mkdir -p dist/etc && echo hi > dist/etc/motd
	# The forked children end with _exit and keep the parent's heap by
	# design; valgrind judges the parent, which must free everything.
	local vg="valgrind -q --leak-check=full --show-leak-kinds=definite,indirect,possible --errors-for-leak-kinds=definite,indirect,possible --child-silent-after-fork=yes"
	for args in "-j2 --events ev.jsonl hosts.txt" "-j2 hosts.txt" "status" "status --json" "runs --json" "report" "log extract:web1" "-n hosts.txt" "graph hosts.txt"; do
		$vg --log-file=vg.txt "$VJ" $args > out.txt 2>&1 || { fail "vjbuild $args: exit $?: $(tail -3 out.txt)"; continue; }
		[ ! -s vg.txt ] || fail "vjbuild $args: $(head -20 vg.txt)"
	done
	sed -i 's/10.9.0.2$/10.9.0.99/' hosts.txt
	$vg --log-file=vg.txt "$VJ" -j2 hosts.txt > out.txt 2>&1 || fail "rebuild: $(tail -3 out.txt)"
	[ ! -s vg.txt ] || fail "rebuild: $(head -20 vg.txt)"
}

# A state made by an older vjbuild: read-only commands (status, start ...)
# cannot upgrade it and say how; a run upgrades it and changes nothing.
test_older_state_is_upgraded_by_a_run_not_by_status() {
	setup 1
	"$VJ" hosts.txt > /dev/null 2>&1 || { fail "first run"; return; }
	python3 -c 'import sqlite3; c = sqlite3.connect("state/vjbuild.db"); c.execute("alter table jails drop column limits"); c.execute("alter table jails drop column boot"); c.execute("drop table task_runs"); [c.execute("alter table runs drop column " + k) for k in ("tasks", "ran", "uptodate", "failed", "skipped")]; c.execute("pragma user_version = 3"); c.commit()' || { fail "cannot make an old state"; return; }
	"$VJ" status > out.txt 2> err.txt; rc=$?
	[ $rc = 3 ] || fail "status on an old state: exit $rc"
	grep -q "schema version 3 is older than this vjbuild's (5): provision once" err.txt || fail "message: $(cat err.txt)"
	"$VJ" hosts.txt > out.txt 2>&1 || fail "the upgrading run: $(tail -3 out.txt)"
	grep -q " 0 ran" out.txt || fail "the upgrading run ran tasks: $(tail -1 out.txt)"
	"$VJ" status > /dev/null 2>&1 || fail "status after the upgrade"
}

run_tests "$@"
