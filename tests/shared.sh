#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# State, cache and registry shared or misused (issue 15): a lock deleted as
# "stale", two states on one cache, two states on one registry, a lost
# state database. Nothing may be lost or interleaved, and each misuse ends
# in a clear message.
#   usage: VJBUILD=/path/to/vjbuild bash tests/shared.sh [TEST...]
. "$(dirname "$0")/lib.sh"

# A port whose build takes a while and writes what it is, so that two
# builds at once would interleave: each writes its pid into the same file
# one line at a time.
slow_port() {
	make_port slow 'mkdir -p $STAGEDIR$PREFIX/share
for i in 1 2 3 4 5 6 7 8 9 10; do echo "line $i of one build" >> $SRCDIR/../out; sleep 0.1; done
cp $SRCDIR/../out $STAGEDIR$PREFIX/share/slow'
}

# `rm state/lock` (the usual clean-up of a "stale" lock) while a run
# builds: a second vjbuild on the state is still refused, and the first
# builds alone.
test_deleted_lock_file_still_keeps_a_second_vjbuild_out() {
	need_root || return
	setup 1
	printf 'ports = ports\npackages = slow\n' >> vjbuild.conf
	slow_port
	"$VJ" hosts.txt > out1.txt 2>&1 & local vj=$!
	for _ in $(seq 100); do [ -e state/lock ] && break; sleep 0.05; done
	rm -f state/lock
	"$VJ" hosts.txt > out2.txt 2>&1; local rc=$?
	wait $vj || fail "the first run failed: $(tail -3 out1.txt)"
	[ $rc = 3 ] || fail "the second run: exit $rc, want 3: $(tail -3 out2.txt)"
	grep -q 'is in use by another vjbuild' out2.txt || fail "no message: $(cat out2.txt)"
	[ "$(wc -l < jails/web1/usr/local/share/slow)" = 10 ] || fail "the package holds $(wc -l < jails/web1/usr/local/share/slow) lines, not one build's 10"
}

# Two states, one cache, run at once, three times over: each package is
# built once, both runs end ok, both states' `cache verify` is clean, and
# both installed the same bytes.
test_two_states_on_one_cache_build_each_package_once() {
	need_root || return
	local round s builds
	for round in 1 2 3; do
		rm -rf cache a b ports
		mkdir -p a b
		slow_port
		make_port other 'mkdir -p $STAGEDIR$PREFIX/bin; sleep 0.3; echo other > $STAGEDIR$PREFIX/bin/other' slow
		for s in a b; do
			cp "$BASE" $s/base.tar.gz
			printf 'base = base.tar.gz\ndomain = example.org\nports = ../ports\ncache = ../cache\npackages = other\n' > $s/vjbuild.conf
			echo "web1 10.9.0.1" > $s/hosts.txt
		done
		( cd a && "$VJ" -j2 hosts.txt > out.txt 2>&1 ) & local pa=$!
		( cd b && "$VJ" -j2 hosts.txt > out.txt 2>&1 ) & local pb=$!
		wait $pa || fail "round $round: a failed: $(tail -5 a/out.txt)"
		wait $pb || fail "round $round: b failed: $(tail -5 b/out.txt)"
		builds=$(cat a/state/logs/build:*.log b/state/logs/build:*.log | grep -c '^packed ')
		[ "$builds" = 2 ] || fail "round $round: $builds builds of 2 packages"
		for s in a b; do
			(cd $s && "$VJ" cache verify > verify.txt 2>&1) || fail "round $round: $s: cache verify: $(cat $s/verify.txt)"
			grep -q '^2 packages, 0 corrupt or missing' $s/verify.txt || fail "round $round: $s: $(tail -1 $s/verify.txt)"
		done
		[ "$(python3 "$here/treehash.py" a/jails/web1/usr/local)" = "$(python3 "$here/treehash.py" b/jails/web1/usr/local)" ] ||
		    fail "round $round: the two states installed different bytes"
		[ "$(wc -l < a/jails/web1/usr/local/share/slow)" = 10 ] || fail "round $round: interleaved: $(cat a/jails/web1/usr/local/share/slow)"
		[ -z "$(ls -A cache/work 2>/dev/null)" ] || fail "round $round: work left: $(ls -A cache/work)"
		# A second run of each: nothing to do.
		for s in a b; do
			(cd $s && "$VJ" hosts.txt 2>&1 | grep -q ' 0 ran') || fail "round $round: $s ran something again"
		done
	done
}

run_tests "$@"
