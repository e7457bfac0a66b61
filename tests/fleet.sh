#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# A fleet (issue 18): three vjbuilds, each with its own state, cache and
# jails, against one PostgreSQL registry and one real HTTP store (nginx
# with WebDAV on loopback, PUT behind basic authentication). Each package
# is compiled once fleet-wide, counted from the builds' own output in the
# three states' logs; a host killed with kill -9 while it holds a claim
# loses it when its lease lapses; an archive spoilt on the server is
# refused by digest and built again.
#   usage: VJBUILD=/path/to/vjbuild bash tests/fleet.sh [TEST...]
. "$(dirname "$0")/lib.sh"

# Hosts a, b, c and d of one jail each (ja ... jd) wanting tool.
four_hosts_of_one_jail() {
	local h
	fleet_ports
	fleet_host a 1 1; fleet_host b 2 2; fleet_host c 3 3; fleet_host d 4 4
	for h in a b c d; do echo "j${h} 10.9.2.$(printf %d "'$h") tool" > $h/hosts.txt; done
}

# A query of the test's registry, its rows unaligned.
q() { psql -h /var/run/postgresql -d "$PGDB" -Atc "$1" 2>/dev/null; }

# Waits up to 10 s for host $1 to hold a claim being built.
wait_claim() {
	local i
	for i in $(seq 100); do
		[ "$(q "select holder from package_claims where state = 'building'")" = "$1" ] && return 0
		sleep 0.1
	done
	return 1
}

# Host a (a 60 s lease, jail j1) started in the background on a port slow
# whose build takes $1 s, once it holds the claim; its pid in pa.
a_builds_slow() {
	make_port slow "echo compiling slow; sleep $1; mkdir -p \$STAGEDIR\$PREFIX/share; echo slow > \$STAGEDIR\$PREFIX/share/slow"
	fleet_host a 1 1 60; echo "j1 10.9.1.1 slow" > a/hosts.txt
	(cd a && exec "$VJ" hosts.txt > out.txt 2>&1) & pa=$!
	wait_claim a || { fail "a never claimed the key"; kill -9 $pa; return 1; }
}

# How many times each port was compiled, from every state's build logs.
compiled() { cat "$@" /dev/null 2>/dev/null | grep -h '^compiling ' | sort | uniq -c | awk '{print $3 "=" $1}' | tr '\n' ' '; }

test_three_hosts_build_each_package_once_and_make_the_same_jails() {
	need_root || return
	pg_db || return
	start_store || return
	fleet_ports
	fleet_host a 1 10; fleet_host b 11 20; fleet_host c 21 30
	local h pids=()
	for h in a b c; do (cd $h && exec "$VJ" -j2 hosts.txt > out.txt 2>&1) & pids+=($!); done
	for i in 0 1 2; do wait ${pids[$i]} || fail "host $(echo a b c | cut -d' ' -f$((i + 1))) failed: $(tail -5 $(echo a b c | cut -d' ' -f$((i + 1)))/out.txt)"; done
	local got; got=$(compiled {a,b,c}/state/logs/[0-9]*/build:*.log)
	[ "$got" = "app=1 libz=1 tool=1 " ] || fail "compiled fleet-wide: $got (want each once)"
	grep -l '^fetched ' {a,b,c}/state/logs/[0-9]*/build:*.log > /dev/null || fail "no host fetched from the store"
	# Every jail as a single host would make it.
	mkdir one; cp "$BASE" one/base.tar.gz
	printf 'base = base.tar.gz\ndomain = example.org\nports = ../ports\n' > one/vjbuild.conf
	cat a/hosts.txt b/hosts.txt c/hosts.txt > one/hosts.txt
	(cd one && "$VJ" -j2 hosts.txt > out.txt 2>&1) || fail "the single host failed: $(tail -3 one/out.txt)"
	for i in $(seq 30); do
		h=$(grep -l "^j$i " {a,b,c}/hosts.txt | cut -d/ -f1)
		[ "$(python3 "$here/treehash.py" $h/jails/j$i -x var/db/vjbuild)" = "$(python3 "$here/treehash.py" one/jails/j$i -x var/db/vjbuild)" ] ||
		    fail "j$i on $h differs from the single host's"
	done
	n=$(q "select count(*) from jails")
	[ "$n" = 30 ] || fail "$n jails registered, not 30"
	n=$(q "select count(*) from package_claims where state = 'done' and builds = 1")
	[ "$n" = 3 ] || fail "$n claims done at the first build, not 3: $(q 'table package_claims')"
	# The fleet's view, from any host.
	(cd a && "$VJ" fleet status > ../fleet.txt 2>&1) || fail "fleet status: $(cat fleet.txt)"
	for h in a b c; do grep -q "^$h  *10 jails" fleet.txt || fail "fleet status lacks host $h's 10 jails: $(cat fleet.txt)"; done
	[ "$(grep -c ' done ' fleet.txt)" = 3 ] || fail "fleet status: $(cat fleet.txt)"
	(cd b && "$VJ" fleet status --json | python3 -m json.tool > /dev/null) || fail "fleet status --json does not parse"
	stop_store
	dropdb -h /var/run/postgresql "$PGDB" || true
}

# A host killed with kill -9 while it builds a key it claimed: its lease
# is kept alive while it lives (another host waits past the lease's
# length), lapses after its death, and the waiting host builds the key;
# the killed host's next run fetches it, and every jail is made.
test_kill_9_while_holding_a_claim_another_host_builds_after_the_lease() {
	need_root || return
	pg_db || return
	start_store || return
	make_port slow 'echo compiling slow; sleep 25; mkdir -p $STAGEDIR$PREFIX/share; echo slow > $STAGEDIR$PREFIX/share/slow'
	fleet_host a 1 2 6; fleet_host b 3 4 6
	sed -i 's/ app.*\| tool.*//; s/$/ slow/' a/hosts.txt b/hosts.txt
	(cd a && exec "$VJ" -j2 hosts.txt > out.txt 2>&1) & local pa=$!
	wait_claim a || { fail "a never claimed the key: $(tail -3 a/out.txt)"; kill -9 $pa; return 1; }
	(cd b && exec "$VJ" -j2 hosts.txt > out.txt 2>&1) & local pb=$!
	# Longer than the 6 s lease: a's heartbeat keeps it.
	sleep 9
	local held; held=$(q "select holder || ' ' || builds from package_claims")
	[ "$held" = "a 1" ] || fail "after 9 s of a 6 s lease the claim is '$held', not a's first (no heartbeat?)"
	kill -9 $pa; wait $pa 2>/dev/null
	wait $pb || fail "b failed: $(tail -5 b/out.txt)"
	grep -q 'the lease of a lapsed' b/state/logs/[0-9]*/build:slow.log || fail "b did not take the lapsed claim: $(cat b/state/logs/[0-9]*/build:slow.log)"
	pgrep -f 'sleep 25' > /dev/null && fail "the killed host's build still runs: $(pgrep -af 'sleep 25')"
	(cd a && "$VJ" -j2 hosts.txt > out2.txt 2>&1) || fail "a's next run failed: $(tail -5 a/out2.txt)"
	grep -q '^fetched slow' a/state/logs/latest/build:slow.log || fail "a's next run did not fetch: $(cat a/state/logs/latest/build:slow.log)"
	[ "$(compiled b/state/logs/[0-9]*/build:*.log)" = "slow=1 " ] || fail "b compiled: $(compiled b/state/logs/[0-9]*/build:*.log)"
	local i h
	for i in 1 2 3 4; do
		h=$( [ $i -le 2 ] && echo a || echo b)
		[ "$(cat $h/jails/j$i/usr/local/share/slow 2>/dev/null)" = slow ] || fail "j$i on $h lacks the package"
	done
	[ "$(q "select state || ' ' || holder || ' ' || builds || ' ' || note from package_claims")" = "done b 2 the lease of a lapsed" ] ||
	    fail "claim: $(q 'select state, holder, builds, note from package_claims')"
	stop_store
	dropdb -h /var/run/postgresql "$PGDB" || true
}

# A host killed with kill -9 and started again at once: its new run takes
# back the claim its dead run held (a state runs one vjbuild at a time)
# instead of waiting for the 60 s lease, builds, and the jail is made.
test_restarted_host_takes_back_its_dead_runs_claim() {
	need_root || return
	pg_db || return
	start_store || return
	local pa
	a_builds_slow 8 || return 1
	kill -9 $pa; wait $pa 2>/dev/null
	local t0=$SECONDS
	(cd a && "$VJ" hosts.txt > out2.txt 2>&1) || fail "the restarted run failed: $(tail -3 a/out2.txt)"
	[ $((SECONDS - t0)) -lt 40 ] || fail "the restarted run took $((SECONDS - t0)) s: it waited for its own dead claim's lease"
	grep -q "claimed key .* again: this state's run that held it died" a/state/logs/latest/build:slow.log || fail "a: $(cat a/state/logs/latest/build:slow.log)"
	[ "$(cat a/jails/j1/usr/local/share/slow 2>/dev/null)" = slow ] || fail "j1 lacks the package"
	[ "$(q "select state || ' ' || builds || ' ' || note from package_claims")" = "done 2 the run that held it on a died" ] ||
	    fail "claim: $(q 'select state, builds, note from package_claims')"
	stop_store
	dropdb -h /var/run/postgresql "$PGDB" || true
}

# A run interrupted (SIGTERM, as ^C or systemd's stop) while it builds a
# key it claimed ends the claim at once: the waiting host takes it again
# without waiting for the 60 s lease.
test_interrupted_run_gives_its_claim_back_at_once() {
	need_root || return
	pg_db || return
	start_store || return
	local pa
	a_builds_slow 25 || return 1
	fleet_host b 2 2 60; echo "j2 10.9.1.2 slow" > b/hosts.txt
	(cd b && exec "$VJ" hosts.txt > out.txt 2>&1) & local pb=$!
	sleep 2
	kill -TERM $pa; wait $pa
	wait_claim b || fail "b did not take the claim within 10 s of a's interruption (a 60 s lease)"
	grep -q 'claim on key .* ended: the run was interrupted' a/state/logs/latest/build:slow.log || fail "a: $(cat a/state/logs/latest/build:slow.log)"
	wait $pb || fail "b failed: $(tail -3 b/out.txt)"
	grep -q "claimed key .* again (it was failed, by a)" b/state/logs/latest/build:slow.log || fail "b: $(cat b/state/logs/latest/build:slow.log)"
	[ "$(q "select state || ' ' || holder || ' ' || note from package_claims")" = "done b after a failure on a" ] ||
	    fail "claim: $(q 'select state, holder, note from package_claims')"
	stop_store
	dropdb -h /var/run/postgresql "$PGDB" || true
}

# An archive spoilt on the server (same size, other bytes; then a longer
# one) is refused by the registry's digest and built again by the host
# that found it, which replaces it; a third host then fetches the good
# one. A PUT cut short never shows on the server.
test_spoilt_archive_on_the_server_is_refused_and_built_again() {
	need_root || return
	pg_db || return
	start_store || return
	four_hosts_of_one_jail
	(cd a && "$VJ" hosts.txt > out.txt 2>&1) || fail "a failed: $(tail -3 a/out.txt)"
	local f; f=$(ls store/packages/*.tar.gz)
	[ -n "$f" ] || { fail "nothing in the store: $(cat a/state/logs/latest/build:tool.log)"; return 1; }
	python3 -c 'import sys; p = sys.argv[1]; b = bytearray(open(p, "rb").read()); b[len(b) // 2] ^= 0xff; open(p, "wb").write(b)' "$f"
	(cd b && "$VJ" hosts.txt > out.txt 2>&1) || fail "b failed: $(tail -3 b/out.txt)"
	grep -q '^refused .* sha256' b/state/logs/latest/build:tool.log || fail "b did not refuse it: $(cat b/state/logs/latest/build:tool.log)"
	[ "$(compiled b/state/logs/latest/build:tool.log)" = "tool=1 " ] || fail "b did not build it again"
	# The archive the registry now names is on the server, whole (a
	# build is not bit for bit the same: its name may be new).
	f=store/packages/$(q "select key || '-' || sha256 from package_claims").tar.gz
	[ "$(sha256sum < "$f" | cut -c1-64)" = "$(basename "$f" .tar.gz | cut -d- -f2)" ] || fail "the registry's archive is not on the server whole"
	[ "$(q "select builds || ' ' || holder || ' ' || note from package_claims")" = "2 b the store's archive was refused" ] ||
	    fail "claim: $(q 'select builds, holder, note from package_claims')"
	# Longer than the registry's size: refused before it is all read.
	head -c 1000000 /dev/urandom >> "$f"
	(cd c && "$VJ" hosts.txt > out.txt 2>&1) || fail "c failed: $(tail -3 c/out.txt)"
	grep -q 'more than the .* bytes expected' c/state/logs/latest/build:tool.log || fail "c: $(cat c/state/logs/latest/build:tool.log)"
	(cd d && "$VJ" hosts.txt > out.txt 2>&1) || fail "d failed: $(tail -3 d/out.txt)"
	grep -q '^fetched tool' d/state/logs/latest/build:tool.log || fail "d did not fetch: $(cat d/state/logs/latest/build:tool.log)"
	[ "$(compiled d/state/logs/latest/build:tool.log)" = "" ] || fail "d compiled"
	[ "$(cat jd 2>/dev/null; cat d/jails/jd/usr/local/share/tool)" = tool ] || fail "jd lacks the package"
	# A PUT cut short (the connection closed mid-body) leaves nothing.
	python3 - "${STORE_URL#http://}" <<-'EOF' || fail "the partial PUT could not be sent"
	import socket, sys, base64
	hostport, path = sys.argv[1].split("/", 1)
	host, port = hostport.split(":")
	s = socket.create_connection((host, int(port)))
	auth = base64.b64encode(b"vjbuild:secret").decode()
	s.sendall(f"PUT /{path}partial.tar.gz HTTP/1.1\r\nHost: {hostport}\r\nAuthorization: Basic {auth}\r\nContent-Length: 100000\r\n\r\n".encode() + b"x" * 5000)
	s.close()
	EOF
	sleep 0.5
	[ ! -e store/packages/partial.tar.gz ] || fail "a PUT cut short is visible on the server"
	stop_store
	dropdb -h /var/run/postgresql "$PGDB" || true
}

# The store down (nothing listens): a host that builds keeps its package
# and says it was not shared; one that must fetch stops with the reason
# (cache_down = fail, the default) or builds alone (cache_down = build).
# Credentials refused: the same warning, the claim ended failed, and the
# next host claims it again.
test_store_down_or_credentials_refused() {
	need_root || return
	pg_db || return
	start_store || return
	four_hosts_of_one_jail
	printf 'vjbuild:wrong\n' > a/cred; chmod 600 a/cred
	sed -i 's|^cache_credentials = .*|cache_credentials = cred|' a/vjbuild.conf
	(cd a && "$VJ" hosts.txt > out.txt 2>&1) || fail "a failed: $(tail -3 a/out.txt)"
	grep -q 'warning: not shared with the fleet: the store answered HTTP 401 .*cache_credentials refused' a/state/logs/latest/build:tool.log ||
	    fail "a: $(cat a/state/logs/latest/build:tool.log)"
	[ "$(q "select state from package_claims")" = failed ] || fail "the claim did not end failed"
	(cd b && "$VJ" hosts.txt > out.txt 2>&1) || fail "b failed: $(tail -3 b/out.txt)"
	grep -q 'claimed key .* again (it was failed, by a)' b/state/logs/latest/build:tool.log || fail "b: $(cat b/state/logs/latest/build:tool.log)"
	stop_store
	(cd c && "$VJ" hosts.txt > out.txt 2>&1); local rc=$?
	[ $rc = 1 ] || fail "c with the store down: exit $rc, want 1"
	grep -q 'connect: Connection refused' c/state/logs/latest/build:tool.log || fail "c: $(cat c/state/logs/latest/build:tool.log)"
	echo 'cache_down = build' >> d/vjbuild.conf
	(cd d && "$VJ" hosts.txt > out.txt 2>&1) || fail "d (cache_down = build) failed: $(tail -3 d/out.txt)"
	grep -q 'cache_down = build: building here, alone' d/state/logs/latest/build:tool.log || fail "d: $(cat d/state/logs/latest/build:tool.log)"
	[ "$(cat d/jails/jd/usr/local/share/tool)" = tool ] || fail "jd lacks the package"
	dropdb -h /var/run/postgresql "$PGDB" || true
}

# A dedicated builder (vjbuild builder, given the fleet's hosts files)
# builds what two hosts that never build (fleet_build = no) wait for:
# every compile is the builder's, the builder makes no jail, the hosts
# make theirs from what they fetch.
test_builder_builds_what_hosts_that_never_build_wait_for() {
	need_root || return
	pg_db || return
	start_store || return
	fleet_ports
	fleet_host a 1 5; fleet_host b 6 10
	echo 'fleet_build = no' | tee -a a/vjbuild.conf >> b/vjbuild.conf
	mkdir bld
	grep -v '^base\|^fleet_host' a/vjbuild.conf | grep -v fleet_build > bld/vjbuild.conf
	echo 'fleet_host = bld' >> bld/vjbuild.conf
	cat a/hosts.txt b/hosts.txt > bld/hosts.txt
	(cd a && exec "$VJ" -j2 hosts.txt > out.txt 2>&1) & local pa=$!
	(cd b && exec "$VJ" -j2 hosts.txt > out.txt 2>&1) & local pb=$!
	sleep 2
	(cd bld && "$VJ" builder -j2 hosts.txt > out.txt 2>&1) || fail "the builder failed: $(tail -5 bld/out.txt)"
	wait $pa || fail "a failed: $(tail -5 a/out.txt)"
	wait $pb || fail "b failed: $(tail -5 b/out.txt)"
	[ "$(compiled bld/state/logs/[0-9]*/build:*.log)" = "app=1 libz=1 tool=1 " ] || fail "the builder compiled: $(compiled bld/state/logs/[0-9]*/build:*.log)"
	[ "$(compiled {a,b}/state/logs/[0-9]*/build:*.log)" = "" ] || fail "a host compiled: $(compiled {a,b}/state/logs/[0-9]*/build:*.log)"
	grep -q 'waiting for a builder to build' a/state/logs/1/build:*.log || fail "a did not wait for the builder: $(cat a/state/logs/1/build:*.log)"
	[ -z "$(ls -A bld/jails 2>/dev/null)" ] || fail "the builder made jails: $(ls bld/jails)"
	(cd bld && "$VJ" status --json) | python3 -c 'import json, sys; sys.exit(json.load(sys.stdin)["jails"] != [])' ||
	    fail "the builder's state records jails: $(cd bld && "$VJ" status)"
	for i in $(seq 10); do
		h=$( [ $i -le 5 ] && echo a || echo b)
		[ -d $h/jails/j$i/usr/local ] || fail "j$i on $h was not made"
	done
	[ "$(q "select string_agg(distinct holder, ',') from package_claims")" = bld ] || fail "claims not all the builder's"
	# With no builder, a failed build is said, not waited for.
	psql -h /var/run/postgresql -d "$PGDB" -qc "update package_claims set state = 'failed', note = 'out of memory' where port = 'tool'"
	rm -rf a/cache
	(cd a && "$VJ" --recreate j2 hosts.txt > out2.txt 2>&1) && fail "a made j2 with tool's build failed"
	grep -q "failed on bld: out of memory; fleet_build = no" a/state/logs/latest/build:tool.log || fail "a: $(cat a/state/logs/latest/build:tool.log)"
	stop_store
	dropdb -h /var/run/postgresql "$PGDB" || true
}

# A package whole in a cache but not in the store (its upload failed; or
# the run was killed between packing and marking it done) is offered to
# the fleet by the next build that finds it there: here a second state on
# the same cache, which uploads it without compiling; a third host then
# fetches it.
test_a_package_cached_but_not_shared_is_offered_by_the_next_run() {
	need_root || return
	pg_db || return
	start_store || return
	fleet_ports
	fleet_host a1 1 1; fleet_host a2 2 2; fleet_host b 3 3
	for h in a1 a2; do echo 'cache = ../shared-cache' >> $h/vjbuild.conf; done
	sed -i "s|^cache_url = .*|cache_url = http://127.0.0.1:1/packages/|" a1/vjbuild.conf
	echo "ja1 10.9.5.1 tool" > a1/hosts.txt; echo "ja2 10.9.5.2 tool" > a2/hosts.txt; echo "jb 10.9.5.3 tool" > b/hosts.txt
	(cd a1 && "$VJ" hosts.txt > out.txt 2>&1) || fail "a1 failed: $(tail -3 a1/out.txt)"
	grep -q 'warning: not shared with the fleet: .*Connection refused' a1/state/logs/latest/build:tool.log || fail "a1: $(cat a1/state/logs/latest/build:tool.log)"
	(cd a2 && "$VJ" hosts.txt > out.txt 2>&1) || fail "a2 failed: $(tail -3 a2/out.txt)"
	grep -q 'claimed key .* to share the package this cache holds' a2/state/logs/latest/build:tool.log || fail "a2 did not offer it: $(cat a2/state/logs/latest/build:tool.log)"
	grep -q '^uploaded ' a2/state/logs/latest/build:tool.log || fail "a2 did not upload it"
	(cd b && "$VJ" hosts.txt > out.txt 2>&1) || fail "b failed: $(tail -3 b/out.txt)"
	grep -q '^fetched tool' b/state/logs/latest/build:tool.log || fail "b did not fetch: $(cat b/state/logs/latest/build:tool.log)"
	[ "$(compiled {a1,a2,b}/state/logs/[0-9]*/build:*.log)" = "tool=1 " ] || fail "compiled: $(compiled {a1,a2,b}/state/logs/[0-9]*/build:*.log)"
	stop_store
	dropdb -h /var/run/postgresql "$PGDB" || true
}

# An https store: packages go up and come down over TLS with the server's
# chain verified against cache_ca and its name against the URL's; a host
# trusting another CA, or naming the server by another name, is refused
# before it sends anything (its credentials included).
test_https_store_is_verified_and_a_wrong_certificate_refused() {
	need_root || return
	command -v openssl > /dev/null || { echo "    skipped: no openssl"; return $SKIP_RC; }
	pg_db || return
	start_store tls || return
	four_hosts_of_one_jail
	for h in a b c d; do echo "cache_ca = ../ca.crt" >> $h/vjbuild.conf; done
	(cd a && "$VJ" hosts.txt > out.txt 2>&1) || fail "a failed: $(tail -3 a/out.txt)"
	grep -q "^uploaded .* to /packages/" a/state/logs/latest/build:tool.log || fail "a: $(cat a/state/logs/latest/build:tool.log)"
	(cd b && "$VJ" hosts.txt > out.txt 2>&1) || fail "b failed: $(tail -3 b/out.txt)"
	grep -q '^fetched tool' b/state/logs/latest/build:tool.log || fail "b did not fetch: $(cat b/state/logs/latest/build:tool.log)"
	make_ca other
	sed -i 's|^cache_ca = .*|cache_ca = ../other.crt|' c/vjbuild.conf
	(cd c && "$VJ" hosts.txt > out.txt 2>&1) && fail "c trusted a certificate of another CA"
	grep -q "certificate was refused" c/state/logs/latest/build:tool.log || fail "c: $(cat c/state/logs/latest/build:tool.log)"
	sed -i "s|https://localhost:|https://127.0.0.1:|" d/vjbuild.conf
	(cd d && "$VJ" hosts.txt > out.txt 2>&1) && fail "d took localhost's certificate for 127.0.0.1"
	grep -q "certificate was refused" d/state/logs/latest/build:tool.log || fail "d: $(cat d/state/logs/latest/build:tool.log)"
	# No request of c's or d's reached the server: its log has a's GET
	# and PUT, and b's GET.
	[ "$(wc -l < nginx/access.log)" = 3 ] || fail "access log: $(cat nginx/access.log)"
	stop_store
	dropdb -h /var/run/postgresql "$PGDB" || true
}

# valgrind on the fleet's paths: a host that builds and uploads, one that
# fetches, fleet status (text, JSON), a builder with nothing left to do.
# It judges the parent (the forked tasks end with _exit, as in e2e.sh).
test_valgrind_fleet_paths_have_no_leaks() {
	need_root || return
	command -v valgrind > /dev/null || { echo "    skipped: valgrind is not installed"; return $SKIP_RC; }
	[ "${SANITIZED:-0}" = 1 ] && { echo "    skipped: valgrind cannot run a sanitizer build (the plain build's run covers this)"; return $SKIP_RC; }
	pg_db || return
	start_store || return
	fleet_ports
	fleet_host a 1 3; fleet_host b 4 6
	local vg="valgrind -q --leak-check=full --show-leak-kinds=definite,indirect,possible --errors-for-leak-kinds=definite,indirect,possible --child-silent-after-fork=yes"
	for step in "a -j2 hosts.txt" "b -j2 hosts.txt" "b fleet status" "b fleet status --json" "b builder hosts.txt"; do
		set -- $step
		local h=$1; shift
		(cd $h && $vg --log-file=vg.txt "$VJ" "$@" > out.txt 2>&1) || { fail "vjbuild $*: exit $?: $(tail -3 $h/out.txt)"; continue; }
		[ ! -s $h/vg.txt ] || fail "vjbuild $* on $h: $(head -20 $h/vg.txt)"
	done
	grep -q '^fetched' b/state/logs/1/build:app.log || fail "b did not fetch: $(cat b/state/logs/1/build:app.log)"
	stop_store
	dropdb -h /var/run/postgresql "$PGDB" || true
}

# The fleet's keys are checked like every other: file:line, exit 2.
test_fleet_configuration_errors_name_file_and_line() {
	setup 1
	local want
	check() {
		"$VJ" -n hosts.txt > out.txt 2>&1; local rc=$?
		[ $rc = 2 ] && grep -q "$1" out.txt || fail "want exit 2 and '$1': exit $rc: $(cat out.txt)"
	}
	echo 'cache_url = http://127.0.0.1:1/p/' >> vjbuild.conf
	check 'vjbuild.conf:4: cache_url needs a registry in PostgreSQL'
	echo 'registry = postgresql:///none?host=/nonexistent' >> vjbuild.conf
	sed -i 's|^cache_url = .*|cache_url = ftp://store.example/p/|' vjbuild.conf
	check 'vjbuild.conf:4: cache_url must be an http:// or https://'
	sed -i 's|^cache_url = .*|cache_url = http://user:pw@store.example/p/|' vjbuild.conf
	check 'vjbuild.conf:4: cache_url holds a user'
	sed -i 's|^cache_url = .*|cache_url = http://127.0.0.1:1/p/|' vjbuild.conf
	printf 'u:p\n' > cred; chmod 644 cred
	echo 'cache_credentials = cred' >> vjbuild.conf
	check 'vjbuild.conf:6: cache_credentials .*cred: not a file only its owner may read'
	chmod 600 cred
	echo 'cache_down = maybe' >> vjbuild.conf
	check "vjbuild.conf:7: cache_down 'maybe' is not fail"
	sed -i 's|^cache_down = .*|claim_lease = 1|' vjbuild.conf
	check "vjbuild.conf:7: claim_lease '1' is not a number of seconds from 3"
	sed -i 's|^claim_lease = .*|fleet_host = -bad-|' vjbuild.conf
	check "vjbuild.conf:7: fleet_host '-bad-' is not a host name"
	sed -i 's|^fleet_host = .*|fleet_build = maybe|' vjbuild.conf
	check "vjbuild.conf:7: fleet_build 'maybe' is not yes"
	sed -i 's|^fleet_build = .*|cache_ca = nonexistent.crt|' vjbuild.conf
	check "vjbuild.conf:7: cache_ca .*nonexistent.crt: No such file"
}

run_tests "$@"
