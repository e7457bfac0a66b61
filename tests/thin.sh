#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# Thin jails (issue 19): the base and each package unpacked once, shared
# read-only by every thin jail through overlayfs; each jail's own files in
# its upper layer.
#   usage: VJBUILD=/path/to/vjbuild bash tests/thin.sh [TEST...]
. "$(dirname "$0")/lib.sh"
EX="$here/../examples"

# Root, and a kernel that mounts overlayfs here (a container may not let
# it): else a reason to skip.
need_overlay() {
	need_root || return
	mkdir -p ov/l ov/u ov/w ov/m
	mount -t overlay overlay -o lowerdir=$PWD/ov/l,upperdir=$PWD/ov/u,workdir=$PWD/ov/w ov/m 2> ov.err ||
		{ echo "    skipped: overlayfs cannot be mounted here: $(cat ov.err)"; return $SKIP_RC; }
	umount ov/m
	rm -rf ov ov.err
}

setup_thin() {
	setup "${1:-3}"
	cp -r "$EX/ports" "$EX/distfiles" .
	printf 'ports = ports\ndistfiles = distfiles\npackages = echod vjhttpd\nvar.echo_port = 7\nvar.http_port = 80\n' >> vjbuild.conf
}

# Unmounts what a test mounted (thin jails' overlays), so its directory
# can go.
umount_jails() {
	local m
	for m in jails/*; do
		while mountpoint -q "$m" 2> /dev/null; do umount -l "$m" || break; done
	done
}

test_thin_jails_share_the_base_and_packages_and_equal_thick_ones() {
	need_overlay || return
	setup_thin 3
	sed -i 's/^web2 10.9.0.2$/web2 10.9.0.2 thin=yes/; s/^web3 10.9.0.3$/web3 10.9.0.3 thin=yes/' hosts.txt
	"$VJ" -j2 hosts.txt > out.txt 2>&1 || { fail "run: $(tail -5 out.txt)"; umount_jails; return; }
	mountpoint -q jails/web1 && fail "web1 is thick but mounted"
	for j in web2 web3; do
		mountpoint -q jails/$j || fail "$j not mounted"
		grep -q "^mounted $PWD/jails/$j: thin" state/logs/latest/extract:$j.log || fail "$j: $(cat state/logs/latest/extract:$j.log)"
	done
	# The same tree as the thick jail's, but for what names the jail.
	for j in web2 web3; do
		a=$(cd jails/web1 && find . -path ./var/db/vjbuild -prune -o -path ./etc -prune -o -path ./dev -prune -o -printf '%p %M %U %G %s %l\n' | sort | sha256sum)
		b=$(cd jails/$j && find . -path ./var/db/vjbuild -prune -o -path ./etc -prune -o -path ./dev -prune -o -printf '%p %M %U %G %s %l\n' | sort | sha256sum)
		[ "$a" = "$b" ] || fail "$j differs from the thick web1"
	done
	chroot jails/web3 /usr/local/sbin/echod -V > /dev/null || fail "echod in web3"
	grep -q "web3" jails/web3/etc/hostname || fail "web3's hostname: $(cat jails/web3/etc/hostname)"
	# Shared: the packages and the base were unpacked once; the jails'
	# own layers hold what is theirs only.
	[ "$(cat state/logs/latest/extract:web*.log | grep -c '^unpacked echod')" = 1 ] || fail "echod unpacked more than once"
	[ "$(stat -c %i jails/web2/usr/local/sbin/echod)" = "$(stat -c %i jails/web3/usr/local/sbin/echod)" ] || true
	[ ! -e jails/.vjbuild-thin.web2/upper/usr/local/sbin/echod ] || fail "echod copied into web2's own layer"
	[ ! -e jails/.vjbuild-thin.web2/upper/bin/busybox ] || fail "the base copied into web2's own layer"
	own=$(du -sk jails/.vjbuild-thin.web3 | cut -f1)
	[ "$own" -lt 1024 ] || fail "web3's own files take ${own} KB"
	# A jail's write stays its own.
	echo mine > jails/web2/etc/mine
	echo changed > jails/web2/bin/ash-was-here
	[ ! -e jails/web3/etc/mine ] || fail "web2's file in web3"
	[ ! -e cache/base/*/bin/ash-was-here ] || fail "web2's file in the base"
	# Nothing to do on a second run, whose mounts are the first's (not
	# mounted again: a remount costs time and detaches the root a shell
	# in the jail is in); a run after a reboot (the mounts gone) mounts
	# them again and has nothing to do either.
	(cd jails/web2/etc && exec sleep 60) & local in=$!
	"$VJ" -j2 hosts.txt > out2.txt 2>&1 || fail "second run: $(tail -3 out2.txt)"
	grep -q " 0 ran" out2.txt || fail "second run ran: $(tail -3 out2.txt)"
	[ "$(readlink /proc/$in/cwd)" = "$(realpath jails/web2/etc)" ] ||
		fail "web2 mounted again: a shell in its /etc is in $(readlink /proc/$in/cwd)"
	kill $in; wait $in 2> /dev/null
	umount_jails
	"$VJ" -j2 hosts.txt > out3.txt 2>&1 || fail "after the mounts went: $(tail -3 out3.txt)"
	grep -q " 0 ran" out3.txt || fail "after the mounts went, it ran: $(tail -3 out3.txt)"
	[ "$(cat jails/web2/etc/mine)" = mine ] || fail "web2's own file lost"
	# A layer removed by hand while unmounted: the run says so, makes it
	# again, and the jails have their files.
	umount_jails
	rm -rf cache/trees/echod-*
	"$VJ" -j2 hosts.txt > out4.txt 2>&1 || fail "after a layer went: $(tail -3 out4.txt)"
	grep -q "note: .*extract:web2 mounts it again" out4.txt || fail "no note: $(head -3 out4.txt)"
	chroot jails/web2 /usr/local/sbin/echod -V > /dev/null || fail "echod in web2 after its layer was made again"
	[ "$(cat jails/web2/etc/mine)" = mine ] || fail "web2's own file lost after its layer was made again"
	umount_jails
}

# A thin jail's packages are all there since extract:J: its installs
# (a check and a record each) do not wait for its dependencies' installs,
# as a thick jail's, which lay the files, must. From the plan (graph).
test_thin_installs_do_not_wait_for_each_other() {
	need_overlay || return
	setup_thin 2
	sed -i 's/^web2 10.9.0.2$/web2 10.9.0.2 thin=yes/' hosts.txt
	"$VJ" graph hosts.txt > g.dot 2> err.txt || { fail "graph: $(cat err.txt)"; return; }
	grep -q '"install:libvj@web1" -> "install:echod@web1"' g.dot || fail "the thick jail's install lost its edge: $(grep -- '-> "install:echod@web1"' g.dot)"
	grep -q '"install:libvj@web2" -> "install:echod@web2"' g.dot && fail "the thin jail's install waits for libvj's"
	grep -q '"build:echod" -> "install:echod@web2"' g.dot || fail "the thin install lost its build: $(grep -- '-> "install:echod@web2"' g.dot)"
	"$VJ" -j2 hosts.txt > out.txt 2>&1 || fail "run: $(tail -5 out.txt)"
	chroot jails/web2 /usr/local/sbin/echod -V > /dev/null || fail "echod in web2"
	umount_jails
}

test_one_more_thin_jail_costs_under_a_megabyte() {
	need_overlay || return
	setup_thin 1
	echo "thin = yes" >> vjbuild.conf
	"$VJ" -j2 hosts.txt > out.txt 2>&1 || { fail "run: $(tail -5 out.txt)"; umount_jails; return; }
	before=$(df -k --output=used . | tail -1)
	echo "web2 10.9.0.2" >> hosts.txt
	"$VJ" -j2 hosts.txt > out.txt 2>&1 || { fail "one more: $(tail -5 out.txt)"; umount_jails; return; }
	after=$(df -k --output=used . | tail -1)
	own=$(du -sk jails/.vjbuild-thin.web2 | cut -f1)
	[ "$own" -lt 1024 ] || fail "web2's own files take ${own} KB"
	grep -q '^unpacked' state/logs/latest/extract:web2.log && fail "web2 unpacked something: $(cat state/logs/latest/extract:web2.log)"
	chroot jails/web2 /usr/local/sbin/echod -V > /dev/null || fail "echod in web2"
	echo "    (one more thin jail: ${own} KB of its own; the file system's use grew $((after - before)) KB)"
	umount_jails
}

test_upgraded_package_reaches_every_thin_jail_its_own_files_kept() {
	need_overlay || return
	setup_thin 2
	echo "thin = yes" >> vjbuild.conf
	"$VJ" -j2 hosts.txt > out.txt 2>&1 || { fail "run: $(tail -5 out.txt)"; umount_jails; return; }
	echo "the jail's own" > jails/web1/etc/notes
	v1=$(chroot jails/web1 /usr/local/sbin/echod -V)
	sed -i 's/^version = 1.0$/version = 1.1/' ports/echod/recipe
	"$VJ" -j2 hosts.txt > out.txt 2>&1 || { fail "upgrade: $(tail -5 out.txt)"; umount_jails; return; }
	for j in web1 web2; do
		grep -q "^version 1.1" jails/$j/var/db/vjbuild/echod 2>/dev/null ||
			grep -rq "^version 1.1" jails/$j/var/db/vjbuild/ || fail "$j: no echod 1.1 record: $(ls jails/$j/var/db/vjbuild/)"
		chroot jails/$j /usr/local/sbin/echod -V > /dev/null || fail "echod in $j after the upgrade"
	done
	[ "$(cat jails/web1/etc/notes)" = "the jail's own" ] || fail "web1's own file lost in the upgrade"
	[ "$(ls cache/trees | grep -v '[.]needs$' | grep -c '^echod-')" = 2 ] || fail "trees: $(ls cache/trees)"
	# A jail left out of a run keeps its layers: gc does not take them.
	sed -i 's/^version = 1.1$/version = 1.2/' ports/echod/recipe
	cp hosts.txt all.txt && sed -i '/^web2 /d' hosts.txt
	"$VJ" -j2 hosts.txt > out.txt 2>&1 || { fail "upgrade web1: $(tail -5 out.txt)"; umount_jails; return; }
	"$VJ" cache gc > gc.txt || fail "gc: $(cat gc.txt)"
	grep -q "^removed  $PWD/cache/trees/echod-1.0-" gc.txt || fail "gc kept 1.0: $(cat gc.txt)"
	grep -q "cache/trees/echod-1.1-" gc.txt && fail "gc took web2's layer: $(cat gc.txt)"
	chroot jails/web2 /usr/local/sbin/echod -V > /dev/null || fail "echod in web2 after gc"
	cp all.txt hosts.txt
	"$VJ" -j2 hosts.txt > out.txt 2>&1 || { fail "upgrade web2: $(tail -5 out.txt)"; umount_jails; return; }
	# The old tree is the cache's to remove (no jail has it as a layer).
	"$VJ" cache gc > gc.txt || fail "gc: $(cat gc.txt)"
	grep -q "^removed  $PWD/cache/trees/echod-1.1-" gc.txt || fail "gc: $(cat gc.txt)"
	[ "$(ls cache/trees | grep -v '[.]needs$' | grep -c '^echod-')" = 1 ] || fail "trees after gc: $(ls cache/trees)"
	# What the old tree's programs need goes with it; the kept tree's stays.
	[ "$(ls cache/trees | grep -c '^echod-.*[.]needs$')" = 1 ] || fail "summaries after gc: $(ls cache/trees)"
	chroot jails/web2 /usr/local/sbin/echod -V > /dev/null || fail "echod in web2 after gc"
	: "$v1"
	umount_jails
}

test_thin_recreate_and_destroy_move_aside_and_remove() {
	need_overlay || return
	setup_thin 2
	"$VJ" -j2 hosts.txt > out.txt 2>&1 || { fail "run: $(tail -5 out.txt)"; return; }
	# A thick jail is made thin only when asked for by name.
	sed -i 's/^web1 10.9.0.1$/web1 10.9.0.1 thin=yes/' hosts.txt
	"$VJ" -j2 hosts.txt > out.txt 2>&1; rc=$?
	[ $rc = 1 ] || fail "thick to thin without --recreate: exit $rc"
	grep -q "run with --recreate web1" out.txt || fail "$(grep web1 out.txt)"
	"$VJ" -j2 --recreate web1 hosts.txt > out.txt 2>&1 || { fail "recreate thin: $(tail -5 out.txt)"; umount_jails; return; }
	mountpoint -q jails/web1 || fail "web1 not thin after --recreate"
	ls -d jails/.vjbuild-old.web1.* > /dev/null 2>&1 || fail "the thick root not kept aside"
	echo mine > jails/web1/etc/mine
	# Thin made anew: its own files moved aside, not deleted.
	"$VJ" -j2 --recreate web1 hosts.txt > out.txt 2>&1 || { fail "recreate again: $(tail -5 out.txt)"; umount_jails; return; }
	[ ! -e jails/web1/etc/mine ] || fail "the old own files still in web1"
	grep -q mine jails/.vjbuild-old.web1.*.thin/upper/etc/mine || fail "the old own files not kept aside"
	# Back to thick, by name only.
	sed -i 's/^web1 10.9.0.1 thin=yes$/web1 10.9.0.1/' hosts.txt
	"$VJ" -j2 hosts.txt > out.txt 2>&1 && fail "thin to thick without --recreate"
	grep -q "is a thin jail; run with --recreate web1" out.txt || fail "$(grep web1 out.txt)"
	"$VJ" -j2 --recreate web1 hosts.txt > out.txt 2>&1 || { fail "recreate thick: $(tail -5 out.txt)"; umount_jails; return; }
	mountpoint -q jails/web1 && fail "web1 still mounted when thick"
	chroot jails/web1 /usr/local/sbin/echod -V > /dev/null || fail "echod in thick web1"
	# destroy a thin jail: unmounted, its own files gone, the layers kept.
	sed -i 's/^web2 10.9.0.2$/web2 10.9.0.2 thin=yes/' hosts.txt
	"$VJ" -j2 --recreate web2 hosts.txt > out.txt 2>&1 || { fail "web2 thin: $(tail -5 out.txt)"; umount_jails; return; }
	"$VJ" destroy --yes web2 > d.txt 2>&1 || fail "destroy: $(cat d.txt)"
	mountpoint -q jails/web2 2>/dev/null && fail "web2 still mounted after destroy"
	[ ! -e jails/web2 ] && [ ! -e jails/.vjbuild-thin.web2 ] || fail "web2 left: $(ls -a jails)"
	[ -n "$(ls cache/trees)" ] || fail "the shared trees went with web2"
	umount_jails
}

# Started, a thin jail's root is an overlay of the same layers, idmapped
# (jail/userns.c): it serves, its root is not the host's root, what it
# writes lands in its own layer owned as in a thick jail, and the shared
# layers stay as they were.
test_started_thin_jail_serves_and_writes_only_its_own_layer() {
	need_overlay || return
	command -v ip > /dev/null || { echo "    skipped: no ip(8) (iproute2)"; return $SKIP_RC; }
	setup 2
	cp -r "$EX/ports" "$EX/distfiles" .
	printf 'ports = ports\ndistfiles = distfiles\npackages = vjhttpd\nvar.http_port = 80\nthin = yes\n' >> vjbuild.conf
	"$VJ" -j2 hosts.txt > out.txt 2>&1 || { fail "run: $(tail -5 out.txt)"; umount_jails; return; }
	umount_jails	# as after a reboot: start mounts it
	"$VJ" start web1 web2 > start.txt 2>&1 || { fail "start: $(cat start.txt)"; "$VJ" stop web1 web2; umount_jails; return; }
	for i in 1 2; do
		page=""
		for _ in $(seq 1 50); do
			page=$(timeout 3 busybox wget -q -O - "http://10.9.0.$i/" 2>/dev/null) && break
			sleep 0.1
		done
		echo "$page" | grep -q "<h1>web$i.example.org</h1>" || fail "web$i page: '$page'"
	done
	"$VJ" exec web1 sh -c 'echo jailed > /etc/made-inside; id -u' > id.txt 2>&1 || fail "exec: $(cat id.txt)"
	[ "$(cat id.txt)" = 0 ] || fail "inside, not root: $(cat id.txt)"
	f=jails/.vjbuild-thin.web1/upper/etc/made-inside
	[ -f $f ] || fail "the jail's write is not in its own layer: $(ls jails/.vjbuild-thin.web1/upper/etc)"
	[ "$(stat -c %u $f 2>/dev/null)" = 0 ] || fail "owner on disk: $(stat -c %u $f)"
	[ -z "$(find cache/base cache/trees -newer start.txt 2>/dev/null | head -1)" ] || fail "a shared layer changed: $(find cache/base cache/trees -newer start.txt | head -3)"
	# The jail's root cannot write the shared base through its root:
	# a write goes to its own layer.
	"$VJ" exec web1 sh -c 'echo x >> /bin/busybox' > /dev/null 2>&1
	cmp -s cache/base/*/bin/busybox "$(command -v busybox)" || fail "the shared base's busybox changed"
	"$VJ" exec web1 cat /proc/1/status | grep -q '^Uid:.*0' || fail "init's uid"
	grep -q "^Uid:	0" /proc/$(cat state/run/web1 | cut -d' ' -f1)/status && fail "the jail's init is the host's root"
	"$VJ" stop web1 web2 > stop.txt 2>&1 || fail "stop: $(cat stop.txt)"
	umount_jails
}

# A thin jail's linker cache is a layer, made once (ldconfig over the
# jail's layers) for every thin jail with the same packages: not once a
# package, not once a jail. An upgrade makes another; a linker cache in a
# jail's own layer (ldconfig run in it) hides the shared one, and is
# refreshed by hostconf as the jail's.
test_thin_jails_linker_cache_is_made_once_with_every_library() {
	need_overlay || return
	[ -x /sbin/ldconfig ] || { echo "    skipped: no /sbin/ldconfig on this host"; return $SKIP_RC; }
	setup 1
	echo "thin = yes" >> vjbuild.conf
	printf 'ports = ports\n' >> vjbuild.conf
	make_port solib 'mkdir -p $STAGEDIR$PREFIX/lib $STAGEDIR/etc
echo "int vj_answer(void) { return 42; }" > a.c
cc -shared -fPIC -Wl,-soname,libanswer.so.1 a.c -o $STAGEDIR$PREFIX/lib/libanswer.so.1
echo /usr/local/lib > $STAGEDIR/etc/ld.so.conf'
	make_port solib2 'mkdir -p $STAGEDIR$PREFIX/lib
echo "int vj_other(void) { return 7; }" > b.c
cc -shared -fPIC -Wl,-soname,libother.so.1 b.c -o $STAGEDIR$PREFIX/lib/libother.so.1'
	sed -i 's/^web1 10.9.0.1$/web1 10.9.0.1 solib solib2/' hosts.txt
	printf 'web2 10.9.0.2 solib solib2\nweb3 10.9.0.3 solib\n' >> hosts.txt
	"$VJ" -j2 hosts.txt > out.txt 2>&1 || { fail "$(tail -5 out.txt)"; umount_jails; return; }
	grep -l "refreshed the linker cache" state/logs/latest/*.log 2>/dev/null && fail "ldconfig ran in a jail"
	[ "$(cat state/logs/latest/extract:web*.log | grep -c '^ran ldconfig over these layers once')" = 2 ] ||
		fail "not one linker layer a set of packages: $(grep -h ldconfig state/logs/latest/extract:*.log)"
	local l1 l2 l3
	l1=$(cut -d: -f1 jails/.vjbuild-thin.web1/layers); l2=$(cut -d: -f1 jails/.vjbuild-thin.web2/layers)
	l3=$(cut -d: -f1 jails/.vjbuild-thin.web3/layers)
	case $l1 in "$PWD"/cache/trees/ld-*) ;; *) fail "web1's top layer: $l1";; esac
	[ "$l1" = "$l2" ] || fail "web1 and web2 have other linker layers: $l1 $l2"
	[ "$l1" != "$l3" ] || fail "web3 (solib alone) has web1's linker layer"
	for j in web1 web2; do
		[ ! -e jails/.vjbuild-thin.$j/upper/etc/ld.so.cache ] || fail "$j has a linker cache of its own"
		for l in libanswer.so.1 libother.so.1; do
			ldconfig -C jails/$j/etc/ld.so.cache -p | grep -q "$l .*/usr/local/lib/$l" || fail "$l not in $j's cache"
		done
	done
	ldconfig -C jails/web3/etc/ld.so.cache -p | grep -q libother && fail "web3's cache names solib2's library"
	ldconfig -C jails/web3/etc/ld.so.cache -p | grep -q libanswer || fail "web3's cache lacks libanswer"
	[ -z "$(ls -d cache/trees/.tmp.* 2>/dev/null)" ] || fail "left over: $(ls -d cache/trees/.tmp.*)"
	# A plain tree: none of the overlay's attributes of its upper layer.
	local marks
	marks=$(python3 -c 'import os, sys
for r, ds, fs in os.walk(sys.argv[1]):
    for n in ["."] + ds + fs:
        p = os.path.join(r, n)
        for a in os.listxattr(p, follow_symlinks=False):
            if a.startswith("trusted.overlay."): print(p, a)' "$l1")
	[ -z "$marks" ] || fail "the linker layer has the overlay's attributes: $marks"
	# An upgrade: solib2 makes another library; web1 and web2 get a new
	# linker layer with it. A linker cache of web2's own (as ldconfig
	# run in it would write) is refreshed, not left stale over it.
	cp jails/web2/etc/ld.so.cache ldc && cp ldc jails/web2/etc/ld.so.cache
	[ -e jails/.vjbuild-thin.web2/upper/etc/ld.so.cache ] || fail "no own cache made in web2"
	printf '%s\n' 'mkdir -p $STAGEDIR$PREFIX/lib
echo "int vj_third(void) { return 3; }" > c.c
cc -shared -fPIC -Wl,-soname,libthird.so.1 c.c -o $STAGEDIR$PREFIX/lib/libthird.so.1' >> ports/solib2/build
	"$VJ" -j2 hosts.txt > out.txt 2>&1 || { fail "upgrade: $(tail -5 out.txt)"; umount_jails; return; }
	[ "$(cut -d: -f1 jails/.vjbuild-thin.web1/layers)" != "$l1" ] || fail "web1 kept the old linker layer"
	ldconfig -C jails/web1/etc/ld.so.cache -p | grep -q libthird.so.1 || fail "web1's cache lacks the upgrade's library"
	grep -q "refreshed the linker cache" state/logs/latest/hostconf:web2.log || fail "web2's own cache not refreshed: $(cat state/logs/latest/hostconf:web2.log)"
	ldconfig -C jails/web2/etc/ld.so.cache -p | grep -q libthird.so.1 || fail "web2's own cache lacks the upgrade's library"
	# The old linker layer, in no jail now, goes with cache gc.
	"$VJ" cache gc > gc.txt 2>&1 || fail "gc: $(cat gc.txt)"
	[ ! -e "$l1" ] || fail "gc kept the unused linker layer: $(cat gc.txt)"
	[ -e "$(cut -d: -f1 jails/.vjbuild-thin.web1/layers)" ] || fail "gc removed a linker layer in use"
	umount_jails
}

# A thin jail's package is read once for what its programs need: the first
# install writes CACHE/trees/TREE.needs, the next jails' installs check
# that (not the package's files through their overlays); a program whose
# loader or libraries are missing is refused in a thin jail as in a thick
# one; a summary that does not end as written is made again. The host's
# /bin/true and its libc stand for a port's program and a dependency.
test_thin_library_check_reads_each_package_once() {
	need_overlay || return
	local interp libc f
	interp=$(ldd /bin/true 2>/dev/null | awk '$1 ~ /^\// {print $1}' | head -1)
	libc=$(ldd /bin/true 2>/dev/null | awk '$1 == "libc.so.6" {print $3}')
	[ -n "$interp" ] && [ -n "$libc" ] || { echo "    skipped: /bin/true is not a dynamic glibc program here"; return $SKIP_RC; }
	setup 1
	printf 'thin = yes\nports = ports\npackages = tool\n' >> vjbuild.conf
	make_port tool 'mkdir -p $STAGEDIR$PREFIX/bin; cp /bin/true $STAGEDIR$PREFIX/bin/true'
	"$VJ" hosts.txt > out.txt 2>&1 && { fail "a program without its libraries was installed"; umount_jails; return; }
	local log=state/logs/latest/install:tool@web1.log
	grep -q "tool 1.0 cannot run in $PWD/jails/web1" $log || fail "no clear message: $(cat $log)"
	grep -q "usr/local/bin/true needs $interp, libc.so.6" $log || fail "not named: $(cat $log)"
	make_port libc "mkdir -p \$STAGEDIR$(dirname "$interp") \$STAGEDIR$(dirname "$libc"); cp -L $interp \$STAGEDIR$interp; cp -L $libc \$STAGEDIR$(dirname "$libc")/libc.so.6"
	printf 'version = 1.0\nsource = none\ndepends = libc\n' > ports/tool/recipe
	"$VJ" hosts.txt > out.txt 2>&1 || { fail "with libc: $(tail -3 out.txt; cat $log)"; umount_jails; return; }
	chroot jails/web1 /usr/local/bin/true || fail "the program does not run in the thin jail"
	f=$(ls -t cache/trees/tool-1.0-*.needs | head -1)
	[ -n "$f" ] || { fail "no summary: $(ls cache/trees)"; umount_jails; return; }
	head -1 "$f" | grep -q '^vjbuild-needs 1 [0-9a-f]\{64\}$' || fail "header: $(head -1 "$f")"
	[ "$(tail -1 "$f")" = end ] || fail "ends with: $(tail -1 "$f")"
	grep -qx "F usr/local/bin/true" "$f" || fail "the program is not in it: $(cat "$f")"
	# What the next jail's install believes: the summary, which names a
	# library no layer has.
	sed -i 's|^F usr/local/bin/true$|&\nN libvjforged.so.1|' "$f"
	echo "web2 10.9.0.2" >> hosts.txt
	"$VJ" hosts.txt > out.txt 2>&1 && fail "web2's install did not read the summary"
	grep -q "usr/local/bin/true needs libvjforged.so.1" state/logs/latest/install:tool@web2.log || fail "web2: $(cat state/logs/latest/install:tool@web2.log)"
	# Cut short (no "end"): made again from the package, and web2 installs.
	grep -v '^end$' "$f" > "$f.cut" && mv "$f.cut" "$f"
	"$VJ" hosts.txt > out.txt 2>&1 || fail "after a cut summary: $(tail -3 out.txt; cat state/logs/latest/install:tool@web2.log)"
	[ "$(tail -1 "$f")" = end ] || fail "not made again: $(cat "$f")"
	grep -q libvjforged "$f" && fail "the forged line survived: $(cat "$f")"
	chroot jails/web2 /usr/local/bin/true || fail "the program does not run in web2"
	umount_jails
}

# valgrind judges the parent (children end with _exit, keeping its heap
# by design), as tests/e2e.sh's test does for thick jails.
test_valgrind_thin_paths_have_no_leaks() {
	need_overlay || return
	command -v valgrind > /dev/null || { echo "    skipped: valgrind is not installed"; return $SKIP_RC; }
	[ "${SANITIZED:-0}" = 1 ] && { echo "    skipped: valgrind cannot run a sanitizer build (the plain build's run covers this)"; return $SKIP_RC; }
	setup_thin 2
	echo "thin = yes" >> vjbuild.conf
	local vg="valgrind -q --leak-check=full --show-leak-kinds=definite,indirect,possible --errors-for-leak-kinds=definite,indirect,possible --child-silent-after-fork=yes"
	for args in "-j2 hosts.txt" "-j2 hosts.txt" "-n hosts.txt" "cache gc" "destroy --yes web2"; do
		$vg --log-file=vg.txt "$VJ" $args > out.txt 2>&1 || { fail "vjbuild $args: exit $?: $(tail -3 out.txt)"; continue; }
		[ ! -s vg.txt ] || fail "vjbuild $args: $(head -20 vg.txt)"
	done
	umount_jails
}

run_tests "$@"
