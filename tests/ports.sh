#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# End-to-end tests of the ports: each package built once, in isolation,
# cached, and installed into every jail that wants it.
#   usage: VJBUILD=/path/to/vjbuild bash tests/ports.sh [TEST...]
. "$(dirname "$0")/lib.sh"
EX=$here/../examples

# setup + the example ports (libvj, echod, vjhttpd) for every jail.
setup_ports() {
	setup "${1:-3}"
	cp -r "$EX/ports" "$EX/distfiles" .
	printf 'ports = ports\ndistfiles = distfiles\npackages = echod vjhttpd\nvar.echo_port = 7\nvar.http_port = 80\n' >> vjbuild.conf
}

# The tasks that ran in the last run, from its -v output on stderr.
ran() { awk '$3=="ok" || $3=="FAILED" {print $4}' "$1" | sort | tr '\n' ' '; }

test_twenty_jails_three_ports_built_once() {
	need_root || return
	setup_ports 20
	"$VJ" -j4 hosts.txt > out.txt 2> err.txt || { tail -5 out.txt; fail "run failed"; return; }
	builds=$(task_runs | awk '$1 ~ /^build:/ && $2 == "ok"' | wc -l)
	[ "$builds" = 3 ] || fail "state shows $builds builds, want 3"
	[ "$(grep -c ':[0-9][0-9] ok  *build:' err.txt)" = 3 ] || fail "ran $(grep -c ':[0-9][0-9] ok  *build:' err.txt) builds"
	"$VJ" cache ls > ls.txt
	grep -q '^3 packages' ls.txt || fail "cache: $(tail -1 ls.txt)"
	for i in $(seq 1 20); do
		r=jails/web$i
		out=$(chroot $r /usr/local/sbin/echod -V) || fail "echod does not run in $r"
		[ "$out" = "echod 1.0 (libvj 1.0) 10.9.0.$i port 7" ] || fail "$r echod: $out"
		page=$(chroot $r /usr/local/sbin/vjhttpd -p /) || fail "vjhttpd does not run in $r"
		echo "$page" | grep -q "<h1>web$i.example.org</h1>" || fail "$r page: $page"
		echo "$page" | grep -q "at 10.9.0.$i," || fail "$r page address"
		grep -q "^address = 10.9.0.$i\$" $r/usr/local/etc/vjhttpd.conf || fail "$r vjhttpd.conf"
		grep -q "^key " $r/var/db/vjbuild/pkg/echod || fail "$r package record"
	done
}

test_deleted_root_is_rebuilt_from_cache() {
	need_root || return
	setup_ports 4
	"$VJ" -j2 hosts.txt > /dev/null 2>&1 || { fail "first run"; return; }
	rm -rf jails/web2
	"$VJ" -j2 hosts.txt > out.txt 2> err.txt || { fail "second run: $(tail -3 out.txt)"; return; }
	got=$(ran err.txt)
	want="configure:echod@web2 configure:vjhttpd@web2 devfs:web2 extract:web2 hostconf:web2 install:echod@web2 install:libvj@web2 install:vjhttpd@web2 register:web2 services:web2 "
	[ "$got" = "$want" ] || fail "ran: $got"
	chroot jails/web2 /usr/local/sbin/echod -V | grep -q 10.9.0.2 || fail "web2 echod"
}

test_recipe_edit_rebuilds_that_port_everywhere() {
	need_root || return
	setup_ports 3
	"$VJ" -j2 hosts.txt > /dev/null 2>&1 || { fail "first run"; return; }
	sed -i 's/^version = 1.0$/version = 1.1/' ports/echod/recipe
	"$VJ" -j2 hosts.txt > out.txt 2> err.txt || { fail "second run: $(tail -3 out.txt)"; return; }
	got=$(ran err.txt)
	want="build:echod configure:echod@web1 configure:echod@web2 configure:echod@web3 install:echod@web1 install:echod@web2 install:echod@web3 register:web1 register:web2 register:web3 services:web1 services:web2 services:web3 "
	[ "$got" = "$want" ] || fail "ran: $got"
	grep -q '^version 1.1$' jails/web3/var/db/vjbuild/pkg/echod || fail "not reinstalled"
	# Editing the library rebuilds it and the two daemons that need it.
	echo "# touched" >> ports/libvj/build
	"$VJ" -j2 hosts.txt > out.txt 2> err.txt || { fail "third run"; return; }
	[ "$(grep -c ':[0-9][0-9] ok  *build:' err.txt)" = 3 ] || fail "libvj edit: $(grep ':[0-9][0-9] ok  *build:' err.txt)"
}

# The cache key covers every file of the port's directory: a helper the
# build script runs, added or changed, builds the port again; its owner
# changed (another checkout) does not; an edit reverted takes the package
# of the original from the cache without compiling.
test_key_covers_every_port_file_and_a_revert_reuses_the_cache() {
	need_root || return
	setup 1
	printf 'ports = ports\npackages = p\n' >> vjbuild.conf
	make_port p 'echo compiling p; mkdir -p $STAGEDIR$PREFIX/share; sh $(dirname $0)/helper.sh > $STAGEDIR$PREFIX/share/p'
	echo 'echo one' > ports/p/helper.sh
	compiles() { grep -h '^compiling' state/logs/latest/build:p.log 2>/dev/null | wc -l; }
	"$VJ" hosts.txt > out.txt 2>&1 || { fail "first run: $(tail -3 out.txt)"; return; }
	[ "$(cat jails/web1/usr/local/share/p)" = one ] || fail "first: $(cat jails/web1/usr/local/share/p)"
	echo 'echo two' > ports/p/helper.sh
	"$VJ" hosts.txt > out.txt 2>&1 || { fail "helper edit: $(tail -3 out.txt)"; return; }
	[ "$(compiles)" = 1 ] || fail "the helper's edit did not build p again"
	[ "$(cat jails/web1/usr/local/share/p)" = two ] || fail "a stale package: $(cat jails/web1/usr/local/share/p)"
	chown -R nobody ports
	"$VJ" hosts.txt > out.txt 2>&1 || { fail "chown: $(tail -3 out.txt)"; return; }
	grep -q ' 0 ran' out.txt || fail "another owner of the ports tree ran tasks: $(tail -1 out.txt)"
	echo 'echo one' > ports/p/helper.sh
	"$VJ" hosts.txt > out.txt 2>&1 || { fail "revert: $(tail -3 out.txt)"; return; }
	[ "$(compiles)" = 0 ] || fail "the revert compiled p again"
	grep -q 'is in the cache already' state/logs/latest/build:p.log || fail "revert: $(cat state/logs/latest/build:p.log)"
	[ "$(cat jails/web1/usr/local/share/p)" = one ] || fail "revert: $(cat jails/web1/usr/local/share/p)"
}

test_corrupt_cache_entry_is_never_installed() {
	need_root || return
	setup_ports 2
	"$VJ" -j2 hosts.txt > /dev/null 2>&1 || { fail "first run"; return; }
	pkg=$(ls cache/packages/echod-*.tar.gz)
	# Flip one byte, keeping size and times: only a full digest sees it.
	touch -r "$pkg" stamp.ref
	printf '\x55' | dd of="$pkg" bs=1 seek=100 conv=notrunc status=none
	touch -r stamp.ref "$pkg"
	"$VJ" cache verify > v.txt; rc=$?
	[ $rc = 1 ] || fail "verify exit $rc"
	grep -q "^CORRUPT  echod 1.0: $PWD/$pkg" v.txt || fail "verify: $(cat v.txt)"
	# The stat-cached digest still looks right: the install must catch it.
	rm -rf jails/web1
	"$VJ" -j2 -k hosts.txt > out.txt 2> err.txt; rc=$?
	[ $rc = 1 ] || fail "run with corrupt entry: exit $rc"
	grep -q "is corrupt" out.txt || fail "no corrupt message: $(cat out.txt)"
	[ ! -e jails/web1/usr/local/sbin/echod ] || fail "corrupt package installed"
	# The next run builds it again and installs it.
	"$VJ" -j2 hosts.txt > out.txt 2> err.txt || { fail "rebuild run: $(tail -5 out.txt)"; return; }
	grep -q ':[0-9][0-9] ok  *build:echod' err.txt || fail "not rebuilt"
	chroot jails/web1 /usr/local/sbin/echod -V > /dev/null || fail "echod after rebuild"
	"$VJ" cache verify > /dev/null || fail "verify after rebuild"
}

test_failed_build_skips_what_needs_it() {
	need_root || return
	setup_ports 3
	make_port broken 'echo compiling broken; echo "broken.c:1: error: oops" >&2; exit 1'
	sed -i 's/^web2 10.9.0.2$/web2 10.9.0.2 broken echod/' hosts.txt
	"$VJ" -k -j2 hosts.txt > out.txt 2> err.txt; rc=$?
	[ $rc = 1 ] || fail "exit $rc"
	grep -q "^web2 .*FAILED  install:broken@web2: skipped, build:broken failed" out.txt || fail "web2 line: $(grep web2 out.txt)"
	grep -q "^build:broken  *FAILED  (log: .*state/logs/[0-9]*/build:broken.log)" out.txt || fail "no build failure line"
	grep -q "| broken.c:1: error: oops" out.txt || fail "no log lines in summary"
	grep -q "^web1 .*ok" out.txt && grep -q "^web3 .*ok" out.txt || fail "others did not finish"
	chroot jails/web2 /usr/local/sbin/echod -V > /dev/null || fail "web2's echod not installed with -k"
}

test_undeclared_dependency_fails_to_build() {
	need_root || return
	setup_ports 1
	# A copy of echod that forgot "depends = libvj": its header and library
	# are not in the build root, even though libvj's package exists.
	cp -r ports/echod ports/nodeps
	sed -i '/^depends/d' ports/nodeps/recipe
	sed -i 's/^web1 10.9.0.1$/web1 10.9.0.1 echod nodeps/' hosts.txt
	"$VJ" -k -j2 hosts.txt > out.txt 2> err.txt; rc=$?
	[ $rc = 1 ] || fail "exit $rc"
	grep -q ":[0-9][0-9] FAILED  *build:nodeps" err.txt || fail "nodeps built by luck"
	grep -q "vjlib.h" state/logs/latest/build:nodeps.log || fail "log: $(cat state/logs/latest/build:nodeps.log)"
	grep -q ":[0-9][0-9] ok  *build:echod" err.txt || fail "echod (declared) did not build"
	[ ! -e /usr/local/include/vjlib.h ] || fail "the build leaked into the host's /usr/local"
}

test_port_errors_name_the_recipe_line() {
	setup_ports 1
	cp -r ports ports.orig
	check() {	# check WANT: run, expect exit 2 and WANT, nothing created
		"$VJ" hosts.txt > out.txt 2> err.txt; local rc=$?
		[ $rc = 2 ] || fail "$1: exit $rc"
		grep -qF "$1" err.txt || fail "want '$1', got '$(cat err.txt)'"
		[ ! -e jails ] && [ ! -e state ] && [ ! -e cache ] || fail "$1: something was created"
		rm -rf ports; cp -r ports.orig ports
	}
	sed -i 's/^depends = libvj$/depends = libvj nosuch/' ports/echod/recipe
	check "ports/echod/recipe:4: unknown port 'nosuch'"
	echo "depends = echod" >> ports/libvj/recipe
	check "dependency cycle: echod -> libvj -> echod"
	rm distfiles/vjhttpd-1.0.tar.gz
	check "ports/vjhttpd/recipe:5: source"
	cp -r "$EX/distfiles" .
	sed -i 's/^sha256 = 9/sha256 = 8/' ports/vjhttpd/recipe
	check "ports/vjhttpd/recipe:6: "
	echo 'x = %%var.nosuch%%' >> ports/echod/files/usr/local/etc/echod.conf.in
	check "echod.conf.in:4: unknown variable %%var.nosuch%% (for host web1)"
	sed -i 's/^web1 10.9.0.1$/web1 10.9.0.1 nosuchpkg/' hosts.txt
	check "hosts.txt:1: unknown package 'nosuchpkg'"
}

# A distfile's digest is recorded in the state: a warm run does not hash
# every distfile again while its size, mtime and inode are the ones
# recorded (as make trusts an mtime), but fetch:P hashes it whenever it
# unpacks it, and a distfile changed as a user changes one (a new mtime) is
# hashed again and refused, naming the recipe's line, before anything.
test_distfile_digest_recorded_and_checked_again_at_unpacking() {
	need_root || return
	setup_ports 1
	local d=distfiles/vjhttpd-1.0.tar.gz
	"$VJ" hosts.txt > out.txt 2>&1 || { fail "first run: $(tail -3 out.txt)"; return; }
	# Its bytes changed behind the record's back: same size, inode, mtime.
	cp -p $d ref
	printf 'X' | dd of=$d bs=1 seek=200 conv=notrunc status=none
	touch -r ref $d
	cmp -s $d ref && { fail "the distfile did not change"; return; }
	"$VJ" hosts.txt > out.txt 2>&1 || fail "the record was not what the run believed: $(tail -3 out.txt)"
	# Unpacking it again (its unpacked source gone, the package built
	# again) hashes it: refused.
	rm -rf cache/src/vjhttpd-*
	"$VJ" --always hosts.txt > out.txt 2>&1 && fail "the changed distfile was unpacked"
	grep -q "$PWD/$d: sha256 .*, but .*ports/vjhttpd/recipe says" state/logs/latest/fetch:vjhttpd.log || fail "fetch: $(cat state/logs/latest/fetch:vjhttpd.log)"
	# Changed as a user changes a file: hashed at load and refused.
	touch $d
	"$VJ" hosts.txt > out.txt 2> err.txt; local rc=$?
	[ $rc = 2 ] || fail "a changed distfile: exit $rc"
	grep -q "ports/vjhttpd/recipe:6: $PWD/$d has sha256" err.txt || fail "not named: $(cat err.txt)"
}

# A token that comes free while a build of at least the next task's
# priority runs goes to that build's make if it has a job waiting, not to
# the next task (sched/jobserver.c): `long` (on the critical path: `after`
# depends on it) runs a make of two 3-second jobs at -j2 while `blocker`
# holds the other token; when blocker ends, long's make starts its second
# job before `short` (waiting on blocker) starts.
test_a_running_builds_make_gets_a_free_token_before_a_new_task() {
	need_root || return
	command -v make > /dev/null || { echo "    skipped: no make"; return $SKIP_RC; }
	setup 1
	printf 'ports = ports\npackages = after short\n' >> vjbuild.conf
	make_port long 'make OUT=$STAGEDIR$PREFIX/share/long'
	printf 'all: j1 j2\nj1 j2:\n\tmkdir -p $(OUT); date +%%s.%%N > $(OUT)/$@.start; sleep 3; date +%%s.%%N > $(OUT)/$@.end\n' > ports/long/src/Makefile
	make_port after 'mkdir -p $STAGEDIR$PREFIX/share/after' long
	make_port blocker 'sleep 1.5; mkdir -p $STAGEDIR$PREFIX/share/blocker'
	make_port short 'mkdir -p $STAGEDIR$PREFIX/share/short; date +%s.%N > $STAGEDIR$PREFIX/share/short/start' blocker
	# short is behind long: the idle slot would start it at once.
	"$VJ" -j2 --no-idle-slot hosts.txt > out.txt 2>&1 || { fail "run: $(tail -5 out.txt)"; return; }
	local d=jails/web1/usr/local/share
	python3 - "$d" <<'PY' || fail "$(cd $d && head long/* short/*)"
import sys
d = sys.argv[1]
t = lambda p: float(open(d + "/" + p).read())
j1s, j1e, j2s, j2e, sh = (t("long/j1.start"), t("long/j1.end"),
                          t("long/j2.start"), t("long/j2.end"),
                          t("short/start"))
assert j2s < j1e, "long's make ran its jobs one after the other"
assert sh > j2s, "short started %.2f s before long's second job" % (j2s - sh)
PY
}

# Each build's make has a pipe of its own (sched/jobserver.c): a token
# put in one build's pipe that its make leaves there goes to another
# build whose make wants one. `hold` (ahead: `after` depends on it) runs
# no make and is given the free token first; `mid` runs a make of two
# 1.5-second jobs: its second starts while its first runs.
test_a_token_one_builds_make_leaves_goes_to_another_builds() {
	need_root || return
	command -v make > /dev/null || { echo "    skipped: no make"; return $SKIP_RC; }
	setup 1
	printf 'ports = ports\npackages = after mid\n' >> vjbuild.conf
	make_port hold 'sleep 3; mkdir -p $STAGEDIR$PREFIX/share/hold'
	make_port after 'mkdir -p $STAGEDIR$PREFIX/share/after' hold
	make_port mid 'make OUT=$STAGEDIR$PREFIX/share/mid'
	printf 'all: j1 j2\nj1 j2:\n\tmkdir -p $(OUT); date +%%s.%%N > $(OUT)/$@.start; sleep 1.5; date +%%s.%%N > $(OUT)/$@.end\n' > ports/mid/src/Makefile
	"$VJ" -j3 --no-idle-slot hosts.txt > out.txt 2>&1 || { fail "run: $(tail -5 out.txt)"; return; }
	local d=jails/web1/usr/local/share
	python3 - "$d" <<'PY' || fail "$(cd $d && head mid/*)"
import sys
d = sys.argv[1]
t = lambda p: float(open(d + "/" + p).read())
s = sorted([(t("mid/j1.start"), t("mid/j1.end")), (t("mid/j2.start"), t("mid/j2.end"))])
assert s[1][0] < s[0][1], "mid's make ran its jobs one after the other"
PY
}

# A token left for a running build's make that no make takes (its make
# runs one job: a configure, a link) is not left again for a second:
# many short tasks beside such a build do not each wait a tenth of a
# second for it. Counted by --rusage.
test_a_token_no_make_wanted_is_not_left_again_at_once() {
	need_root || return
	command -v make > /dev/null || { echo "    skipped: no make"; return $SKIP_RC; }
	setup 1
	local i pk=""
	make_port slow 'make OUT=$STAGEDIR$PREFIX/share/slow'
	printf 'all:\n\tmkdir -p $(OUT); sleep 4\n' > ports/slow/src/Makefile
	for i in $(seq 1 12); do
		make_port s$i "sleep 0.2; mkdir -p \$STAGEDIR\$PREFIX/share/s$i"
		pk="$pk s$i"
	done
	printf 'ports = ports\npackages = slow%s\n' "$pk" >> vjbuild.conf
	"$VJ" -j2 --no-idle-slot --rusage hosts.txt > out.txt 2>&1 || { fail "run: $(tail -5 out.txt)"; return; }
	local line left unwanted
	line=$(grep "jobserver: .* tokens left" out.txt) || { fail "no count: $(tail -3 out.txt)"; return; }
	left=$(echo "$line" | sed 's/.*jobserver: \([0-9]*\) tokens left.*/\1/')
	unwanted=$(echo "$line" | sed 's/.*, \([0-9]*\) of them wanted by none.*/\1/')
	[ "$unwanted" -ge 1 ] || fail "no token was left in vain beside slow: $line"
	echo "    ($line)"; [ "$left" -le 8 ] || fail "a token left for slow's make again and again: $line"
	[ -d jails/web1/usr/local/share/s12 ] && [ -d jails/web1/usr/local/share/slow ] || fail "not installed"
}

# A task behind a running build (a shorter chain: `short` against `long`,
# then `mid`, then `after`) starts in the idle slot (sched/idle.c): at
# nice 19, holding no token, its make at -j1 outside the jobserver; long's
# make runs its two jobs at once beside it at -j2. When long has ended,
# mid is still ahead of short; when mid has, none is: short gets
# vjbuild's priority back then. Without the slot, short ran at nice 0
# with the second token.
test_a_task_behind_a_build_runs_in_the_idle_slot() {
	need_root || return
	command -v make > /dev/null || { echo "    skipped: no make"; return $SKIP_RC; }
	[ "$(nice)" = 0 ] || { echo "    skipped: the tests run at nice $(nice)"; return $SKIP_RC; }
	setup 1
	printf 'ports = ports\npackages = after short\n' >> vjbuild.conf
	make_port long 'sleep 0.5; make OUT=$STAGEDIR$PREFIX/share/long'
	printf 'all: j1 j2\nj1 j2:\n\tmkdir -p $(OUT); date +%%s.%%N > $(OUT)/$@.start; sleep 2; date +%%s.%%N > $(OUT)/$@.end\n' > ports/long/src/Makefile
	make_port mid 'sleep 1; mkdir -p $STAGEDIR$PREFIX/share/mid; date +%s.%N > $STAGEDIR$PREFIX/share/mid/end' long
	make_port after 'mkdir -p $STAGEDIR$PREFIX/share/after' mid
	make_port short 'd=$STAGEDIR$PREFIX/share/short; mkdir -p $d
date +%s.%N > $d/start; nice > $d/nice.start; echo "$JOBS $MAKEFLAGS" > $d/env
i=0
while [ "$(nice)" != 0 ] && [ $i -lt 400 ]; do sleep 0.05; i=$((i + 1)); done
date +%s.%N > $d/raised; nice > $d/nice.end'
	"$VJ" -j2 --rusage --events ev.jsonl hosts.txt > out.txt 2>&1 || { fail "run: $(tail -5 out.txt)"; return; }
	local d=jails/web1/usr/local/share line
	[ "$(cat $d/short/nice.start)" = 19 ] || fail "short began at nice $(cat $d/short/nice.start)"
	[ "$(cat $d/short/env)" = "1 -j1" ] || fail "short's JOBS and MAKEFLAGS: $(cat $d/short/env)"
	[ "$(cat $d/short/nice.end)" = 0 ] || fail "short not raised back: nice $(cat $d/short/nice.end)"
	# Recorded in slot 2 (-j2's are 0 and 1), the idle slot's.
	grep -q '"event":"task_start".*"task":"build:short".*"slot":2' ev.jsonl || fail "short's slot: $(grep build:short ev.jsonl)"
	python3 - "$d" <<'PY' || fail "$(cd $d && head long/* short/start)"
import sys
d = sys.argv[1]
t = lambda p: float(open(d + "/" + p).read())
j1s, j1e, j2s, j2e, sh = (t("long/j1.start"), t("long/j1.end"),
                          t("long/j2.start"), t("long/j2.end"),
                          t("short/start"))
assert sh < min(j1s, j2s), "short started after long's jobs"
assert max(j1s, j2s) < min(j1e, j2e), "long's make ran its jobs one after the other"
assert t("short/raised") > max(j1e, j2e), "short raised while long ran"
assert t("short/raised") >= t("mid/end"), \
    "short raised %.2f s before mid ended" % (t("mid/end") - t("short/raised"))
PY
	line=$(grep "idle slot:" out.txt) || { fail "no count: $(tail -3 out.txt)"; return; }
	echo "    ($line)"
	# short at least (a jail's task may be there when after ends).
	echo "$line" | grep -Eq ", [1-9][0-9]* of them raised" || fail "$line"
	[ -d $d/after ] && [ -d $d/long ] && [ -d $d/mid ] || fail "not installed"
}

# `one` (after `zero`, a second) and `two` (three seconds): when one is
# ready, two is running, and by the estimates one is not behind it (a
# build each to go). priority_boost names two (known to be long): one is
# behind it then, and runs in the idle slot; two never is. A bad name in
# it is refused, naming the line, and nothing is made.
test_priority_boost_puts_a_port_ahead() {
	need_root || return
	setup 1
	local d=jails/web1/usr/local/share
	make_port zero 'sleep 1; mkdir -p $STAGEDIR$PREFIX/share/zero'
	make_port one 'mkdir -p $STAGEDIR$PREFIX/share/one; nice > $STAGEDIR$PREFIX/share/one/nice' zero
	make_port two 'mkdir -p $STAGEDIR$PREFIX/share/two; nice > $STAGEDIR$PREFIX/share/two/nice; sleep 3'
	printf 'ports = ports\npackages = one two\n' >> vjbuild.conf
	"$VJ" -j2 hosts.txt > out.txt 2>&1 || { fail "run: $(tail -5 out.txt)"; return; }
	[ "$(cat $d/one/nice)" = 0 ] || fail "without a boost, one at nice $(cat $d/one/nice)"
	rm -rf jails state cache
	echo 'priority_boost = two' >> vjbuild.conf
	"$VJ" -j2 hosts.txt > out.txt 2>&1 || { fail "run: $(tail -5 out.txt)"; return; }
	[ "$(cat $d/one/nice) $(cat $d/two/nice)" = "19 0" ] || fail "two boosted: one at nice $(cat $d/one/nice), two at $(cat $d/two/nice)"
	rm -rf jails state cache
	sed -i 's|^priority_boost = two$|priority_boost = ../two|' vjbuild.conf
	"$VJ" -j2 hosts.txt > out.txt 2>&1; [ $? = 2 ] || fail "a bad name accepted"
	grep -q "vjbuild.conf:[0-9]*: '../two' is not a valid package name" out.txt || fail "$(cat out.txt)"
	[ ! -e jails ] && [ ! -e state ] || fail "made something: $(ls)"
}

test_package_keeps_owners_modes_links() {
	need_root || return
	setup_ports 1
	make_port meta 'P=$STAGEDIR$PREFIX
mkdir -p $P/bin $P/share $STAGEDIR/etc
printf "#!/bin/sh\necho hi\n" > $P/bin/suid; chmod 4755 $P/bin/suid
echo data > $P/share/a; ln $P/share/a $P/share/b
chown 1001:2002 $P/share/a
ln -s /usr/local/share/a $P/share/abs
ln -s a $P/share/rel
echo "meta=1" > $STAGEDIR/etc/meta.conf'
	sed -i 's/^web1 10.9.0.1$/web1 10.9.0.1 meta/' hosts.txt
	"$VJ" hosts.txt > out.txt 2>&1 || { fail "$(tail -5 out.txt)"; return; }
	r=jails/web1
	[ "$(stat -c %a $r/usr/local/bin/suid)" = 4755 ] || fail "setuid: $(stat -c %a $r/usr/local/bin/suid)"
	[ "$(stat -c %u:%g $r/usr/local/share/a)" = 1001:2002 ] || fail "owner"
	[ "$(stat -c %i $r/usr/local/share/a)" = "$(stat -c %i $r/usr/local/share/b)" ] || fail "hard link"
	[ "$(readlink $r/usr/local/share/abs)" = /usr/local/share/a ] || fail "absolute symlink"
	[ "$(readlink $r/usr/local/share/rel)" = a ] || fail "relative symlink"
	[ "$(cat $r/etc/meta.conf)" = "meta=1" ] || fail "file outside PREFIX"
	grep -q '^etc/meta.conf$' $r/var/db/vjbuild/pkg/meta || fail "file list"
}

# A root make install that copies with owners (cp -p, as apache2's does)
# packs the sources' owners, as it did before builds had a sandbox: the
# sandbox sees them moved into its ids, the package has them back.
test_sources_owners_survive_a_copy_with_owners() {
	need_root || return
	setup 1
	printf 'ports = ports\npackages = keep\n' >> vjbuild.conf
	make_port keep 'mkdir -p $STAGEDIR$PREFIX/share; cp -p doc.txt $STAGEDIR$PREFIX/share/'
	echo doc > ports/keep/src/doc.txt
	chown 501:20 ports/keep/src/doc.txt
	"$VJ" hosts.txt > out.txt 2>&1 || { fail "run: $(tail -5 out.txt)"; return; }
	[ "$(stat -c %u:%g jails/web1/usr/local/share/doc.txt)" = 501:20 ] || fail "owner: $(stat -c %u:%g jails/web1/usr/local/share/doc.txt)"
}

test_hostile_package_touches_nothing_outside() {
	need_root || return
	setup_ports 1
	mkdir outside
	# One package plants an absolute link to a host directory; the next
	# writes through that path. Nothing may land outside the jail.
	make_port plant "mkdir -p \$STAGEDIR\$PREFIX/share; ln -s $PWD/outside \$STAGEDIR\$PREFIX/share/evil"
	make_port through 'mkdir -p $STAGEDIR$PREFIX/share/evil; echo pwned > $STAGEDIR$PREFIX/share/evil/pwned' plant
	sed -i 's/^web1 10.9.0.1$/web1 10.9.0.1 through/' hosts.txt
	"$VJ" hosts.txt > out.txt 2>&1
	[ -z "$(ls -A outside)" ] || fail "wrote outside the jail: $(ls outside)"
	# The second package names evil as a directory: it is refused, naming
	# the link, which it neither follows nor replaces.
	grep -q "/usr/local/share/evil: a directory in the package, a link to $PWD/outside in the jail" state/logs/latest/install:through@web1.log ||
	    fail "not refused: $(cat state/logs/latest/install:through@web1.log)"
	[ -L jails/web1/usr/local/share/evil ] || fail "evil: $(ls -l jails/web1/usr/local/share)"
}

test_hostile_package_archive_is_refused() {
	need_root || return
	setup_ports 1
	sed -i 's/^packages = echod vjhttpd$/packages = libvj/' vjbuild.conf
	"$VJ" hosts.txt > /dev/null 2>&1 || { fail "first run"; return; }
	pkg=$(ls $PWD/cache/packages/libvj-*.tar.gz)
	mkdir outside
	echo "unpack_limit = 32M" >> vjbuild.conf
	for kind in dotdot absolute symlink hardlink device bomb; do
		echo "the victim" > outside/victim
		# A cache entry swapped for a hostile archive, its digest
		# recorded, in the state and in its manifest, as if it had
		# been built so: the extraction itself must refuse it.
		ABS="$PWD/abs-escaped" OUTSIDE="$PWD/outside" python3 "$here/mkhostile.py" $kind "$pkg"
		sum=$(sha256sum "$pkg" | cut -d' ' -f1)
		sed -i "2s/^sha256 .*/sha256 $sum/" "$pkg.files"
		python3 -c 'import sqlite3,sys; c=sqlite3.connect("state/vjbuild.db"); c.execute("update packages set sha256=? where path=?", (sys.argv[1], sys.argv[2])); c.commit()' "$sum" "$pkg"
		rm -rf jails/web1
		"$VJ" hosts.txt > out.txt 2>&1; rc=$?
		[ $rc = 1 ] || fail "$kind: exit $rc, want 1"
		grep -q "FAILED  install:libvj@web1" out.txt || fail "$kind: $(grep web1 out.txt)"
		[ ! -e jails/escaped-dotdot ] && [ ! -e escaped-dotdot ] || fail "$kind: .. escaped"
		[ ! -e abs-escaped ] || fail "$kind: absolute path escaped"
		[ "$(ls -A outside)" = victim ] || fail "$kind: wrote through a symlink"
		[ "$(cat outside/victim)" = "the victim" ] || fail "$kind: wrote through a hard link"
	done
}

test_cache_gc_removes_what_no_recipe_makes() {
	need_root || return
	setup_ports 1
	"$VJ" hosts.txt > /dev/null 2>&1 || { fail "run"; return; }
	sed -i 's/^version = 1.0$/version = 1.1/' ports/echod/recipe
	"$VJ" hosts.txt > /dev/null 2>&1 || { fail "second run"; return; }
	[ "$(ls cache/packages/*.tar.gz | wc -l)" = 4 ] || fail "want 4 archives before gc"
	"$VJ" cache gc > gc.txt || { fail "gc: $(cat gc.txt)"; return; }
	grep -q "^removed  echod 1.0" gc.txt || fail "$(cat gc.txt)"
	[ "$(ls cache/packages/*.tar.gz | wc -l)" = 3 ] || fail "after gc: $(ls cache/packages)"
	"$VJ" cache ls | grep -q '^3 packages' || fail "ls after gc"
	"$VJ" hosts.txt | grep -q '0 ran' || fail "gc removed something in use"
}

test_no_cache_builds_in_every_jail_and_keeps_nothing() {
	need_root || return
	setup_ports 3
	"$VJ" --no-cache -j2 hosts.txt > out.txt 2> err.txt || { fail "$(tail -3 out.txt)"; return; }
	[ "$(grep -c ':[0-9][0-9] ok  *build:[a-z]*@web[0-9]' err.txt)" = 9 ] || fail "want 9 builds (3 ports x 3 jails): $(grep -c ':[0-9][0-9] ok  *build:' err.txt)"
	grep -q ':[0-9][0-9] ok  *build:[a-z]* ' err.txt && fail "a shared build ran" || true
	"$VJ" cache ls | grep -q '^0 packages' || fail "packages were kept"
	[ -z "$(ls -A cache/nocache 2>/dev/null)" ] || fail "copies left: $(ls -R cache/nocache)"
	for i in 1 2 3; do
		chroot jails/web$i /usr/local/sbin/echod -V | grep -q "10.9.0.$i" || fail "web$i echod"
	done
	# Again: nothing is reused, every jail compiles again.
	"$VJ" --no-cache -j2 hosts.txt > out.txt 2> err.txt || { fail "second run"; return; }
	[ "$(grep -c ':[0-9][0-9] ok  *build:' err.txt)" = 9 ] || fail "second run reused builds"
}

test_shared_library_refreshes_linker_cache() {
	need_root || return
	[ -x /sbin/ldconfig ] || { echo "    skipped: no /sbin/ldconfig on this host"; return $SKIP_RC; }
	setup_ports 1
	make_port solib 'mkdir -p $STAGEDIR$PREFIX/lib $STAGEDIR/etc
echo "int vj_answer(void) { return 42; }" > a.c
cc -shared -fPIC -Wl,-soname,libanswer.so.1 a.c -o $STAGEDIR$PREFIX/lib/libanswer.so.1
echo /usr/local/lib > $STAGEDIR/etc/ld.so.conf'
	sed -i 's/^web1 10.9.0.1$/web1 10.9.0.1 solib/' hosts.txt
	"$VJ" hosts.txt > out.txt 2>&1 || { fail "$(tail -5 out.txt)"; return; }
	[ -f jails/web1/etc/ld.so.cache ] || fail "no ld.so.cache in the jail"
	grep -q "refreshed the linker cache" state/logs/latest/install:solib@web1.log || fail "ldconfig did not run"
	/sbin/ldconfig -r "$PWD/jails/web1" -p 2>/dev/null | grep -q libanswer.so.1 ||
	    grep -aq libanswer.so.1 jails/web1/etc/ld.so.cache || fail "libanswer not in the cache"
}

test_build_root_from_the_config_is_what_builds_see() {
	need_root || return
	command -v unshare > /dev/null || { echo "    skipped: no unshare(1)"; return $SKIP_RC; }
	setup 1
	# A build root: the host's /usr (bound in a mount namespace of the
	# test's own) and an /etc of its own, with a marker.
	mkdir -p broot/usr broot/etc
	echo "build-root-$$" > broot/etc/marker
	for l in bin sbin lib lib32 lib64 libx32; do
		[ -L /$l ] && ln -s "$(readlink /$l)" broot/$l
		[ -d /$l ] && [ ! -L /$l ] && mkdir broot/$l
	done
	printf 'ports = ports\npackages = probe\nbuild_root = broot\n' >> vjbuild.conf
	make_port probe 'mkdir -p $STAGEDIR$PREFIX/share
cat /etc/marker > $STAGEDIR$PREFIX/share/marker
if test -e /etc/hostname; then echo yes > $STAGEDIR$PREFIX/share/host-etc; fi'
	unshare -m --propagation private sh -c '
		for d in usr bin sbin lib lib32 lib64 libx32; do
			[ -d /$d ] && [ ! -L /$d ] && mount --bind /$d broot/$d
		done
		exec "$0" hosts.txt' "$VJ" > out.txt 2>&1 || { fail "run: $(tail -5 out.txt)"; return; }
	[ "$(cat jails/web1/usr/local/share/marker)" = "build-root-$$" ] || fail "the build did not see the build root's /etc"
	[ ! -e jails/web1/usr/local/share/host-etc ] || fail "the build saw the host's /etc"
	# A root without a toolchain is refused, naming the line.
	rm -rf jails state cache
	mkdir empty
	sed -i 's/^build_root = broot$/build_root = empty/' vjbuild.conf
	"$VJ" hosts.txt > out.txt 2> err.txt; rc=$?
	[ $rc = 2 ] || fail "empty build root: exit $rc"
	grep -q "vjbuild.conf:[0-9]*: build_root .*/empty has no usr/bin" err.txt || fail "message: $(cat err.txt)"
	[ ! -e state ] || fail "something was created"
}

# Sets interp and libc to the host's /bin/true's loader and libc (the
# caller's locals), and makes a one-jail setup wanting port "tool"; or
# skips.
true_and_libc() {
	interp=$(ldd /bin/true 2>/dev/null | awk '$1 ~ /^\// {print $1}' | head -1)
	libc=$(ldd /bin/true 2>/dev/null | awk '$1 == "libc.so.6" {print $3}')
	[ -n "$interp" ] && [ -n "$libc" ] || { echo "    skipped: /bin/true is not a dynamic glibc program here"; return $SKIP_RC; }
	setup 1
	printf 'ports = ports\npackages = tool\n' >> vjbuild.conf
}

# A dynamic program whose loader and libraries neither its package nor the
# jail has is refused at install, naming what is missing, and nothing of
# it is laid; with a port that brings them (a dependency), it installs and
# runs. The host's /bin/true and its own libc stand for a port's program.
test_program_missing_its_libraries_is_refused_naming_them() {
	need_root || return
	local interp libc
	true_and_libc || return
	make_port tool 'mkdir -p $STAGEDIR$PREFIX/bin; cp /bin/true $STAGEDIR$PREFIX/bin/true'
	"$VJ" hosts.txt > out.txt 2>&1; local rc=$?
	[ $rc = 1 ] || fail "exit $rc, want 1"
	local log=state/logs/latest/install:tool@web1.log
	grep -q "tool 1.0 cannot run in $PWD/jails/web1: neither the package nor the jail has what it needs" $log || fail "no clear message: $(cat $log)"
	grep -q "usr/local/bin/true needs $interp" $log || fail "the loader is not named: $(cat $log)"
	grep -q "libc.so.6" $log || fail "libc is not named: $(cat $log)"
	[ ! -e jails/web1/usr/local/bin/true ] || fail "the program was laid into the jail"
	[ -z "$(ls -A jails/web1 | grep vjbuild)" ] || fail "a stage was left: $(ls -A jails/web1)"
	# A port that brings the loader and libc, as a dependency.
	make_port libc "mkdir -p \$STAGEDIR$(dirname "$interp") \$STAGEDIR$(dirname "$libc"); cp -L $interp \$STAGEDIR$interp; cp -L $libc \$STAGEDIR$(dirname "$libc")/libc.so.6"
	printf 'version = 1.0\nsource = none\ndepends = libc\n' > ports/tool/recipe
	"$VJ" hosts.txt > out.txt 2>&1 || { fail "with libc: $(tail -3 out.txt; cat $log)"; return; }
	chroot jails/web1 /usr/local/bin/true || fail "the program does not run in the jail"
}

# The library check walks the jail's links with openat2(RESOLVE_IN_ROOT),
# which fails with EAGAIN whenever a rename anywhere on the host races the
# walk (other installs rename their stages all the time): that is tried
# again, not taken for a missing library. Renames churn in a loop here
# while the jail is made three times.
test_library_check_holds_while_the_host_renames() {
	need_root || return
	local interp libc
	true_and_libc || return
	# The loader and libc reached through links with "..", as a merged
	# /usr has them: the walks that race renames.
	local up_i up_l
	up_i=$(dirname "$interp" | sed 's|/[^/]*|../|g')
	up_l=$(dirname "$libc" | sed 's|/[^/]*|../|g')
	make_port libc "mkdir -p \$STAGEDIR/usr/lib/vjtest \$STAGEDIR$(dirname "$interp") \$STAGEDIR$(dirname "$libc"); cp -L $interp \$STAGEDIR/usr/lib/vjtest/ld.so; cp -L $libc \$STAGEDIR/usr/lib/vjtest/libc.so.6; ln -s ${up_i}usr/lib/vjtest/ld.so \$STAGEDIR$interp; ln -s ${up_l}usr/lib/vjtest/libc.so.6 \$STAGEDIR$(dirname "$libc")/libc.so.6"
	make_port tool 'mkdir -p $STAGEDIR$PREFIX/bin; for i in $(seq 1 40); do cp /bin/true $STAGEDIR$PREFIX/bin/true$i; done' libc
	mkdir churn && touch churn/a churn/go
	python3 -c 'import os, time
end = time.time() + 60
while time.time() < end and os.path.exists("churn/go"):
    os.rename("churn/a", "churn/b"); os.rename("churn/b", "churn/a")' &
	local churner=$!
	for i in 1 2 3; do
		"$VJ" --recreate web1 hosts.txt > out$i.txt 2>&1 || { fail "run $i: $(tail -3 out$i.txt; cat state/logs/latest/install:tool@web1.log | head -5)"; break; }
	done
	rm churn/go; wait $churner
	chroot jails/web1 /usr/local/bin/true40 || fail "the program does not run in the jail"
}

# A package's directory where the jail has a link (a merged-/usr base's
# /lib -> usr/lib, which Dovecot's lib/systemd replaced, hiding every
# library) is refused, naming it; the link stays and nothing is laid.
test_a_package_directory_over_a_jail_link_is_refused() {
	need_root || return
	setup 1
	printf 'ports = ports\npackages = units\n' >> vjbuild.conf
	make_port merged 'mkdir -p $STAGEDIR$PREFIX/real; ln -s real $STAGEDIR$PREFIX/lib2'
	make_port units 'mkdir -p $STAGEDIR$PREFIX/lib2/systemd $STAGEDIR$PREFIX/bin; echo x > $STAGEDIR$PREFIX/lib2/systemd/unit; echo y > $STAGEDIR$PREFIX/bin/tool' merged
	"$VJ" hosts.txt > out.txt 2>&1 && fail "passed: $(tail -3 out.txt)"
	local log=state/logs/latest/install:units@web1.log
	grep -q "1 path of the tree would replace what the jail has" $log || fail "message: $(cat $log)"
	grep -q "/usr/local/lib2: a directory in the package, a link to real in the jail" $log || fail "not named: $(cat $log)"
	[ "$(readlink jails/web1/usr/local/lib2)" = real ] || fail "the jail's link was replaced: $(ls -la jails/web1/usr/local)"
	[ ! -e jails/web1/usr/local/bin/tool ] || fail "a file of the refused package was laid"
	[ -z "$(ls -A jails/web1 | grep vjbuild)" ] || fail "a stage was left: $(ls -A jails/web1)"
}

run_tests "$@"
