#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# End-to-end tests of host integration: users, the registry, DNS.
#   usage: VJBUILD=/path/to/vjbuild bash tests/host.sh [TEST...]
. "$(dirname "$0")/lib.sh"

HASH='$6$vjbuildtest$CDcLLsFmRbrRpeDZcLr6MUOdrX.gG8H4h3Yd0JSb3kTzmh0cb3iLsBWdY0pZxN.fEUmYySJZ/5J1sjHbtj2ov.'

test_users_are_made_with_their_hash() {
	need_root || return
	setup 2
	printf '%s\n' "$HASH" > bob.hash
	chmod 600 bob.hash
	printf 'user.alice = uid=1001 groups=wheel:www hash=%s\n' "$HASH" >> vjbuild.conf
	sed -i 's/^web2 10.9.0.2$/web2 10.9.0.2 user.bob=uid=1002,hashfile=bob.hash,shell=\/bin\/ash/' hosts.txt
	"$VJ" hosts.txt > out.txt 2>&1 || { fail "$(tail -3 out.txt)"; return; }
	r=jails/web2
	grep -qx "alice:x:1001:1001::/home/alice:/bin/sh" $r/etc/passwd || fail "passwd: $(cat $r/etc/passwd)"
	grep -qx "bob:x:1002:1002::/home/bob:/bin/ash" $r/etc/passwd || fail "bob"
	grep -qF "alice:$HASH:" $r/etc/shadow || fail "alice's hash"
	grep -qF "bob:$HASH:" $r/etc/shadow || fail "bob's hash"
	[ "$(stat -c %a $r/etc/shadow)" = 600 ] || fail "shadow mode"
	grep -q "^wheel:x:[0-9]*:alice$" $r/etc/group || fail "group: $(cat $r/etc/group)"
	[ "$(stat -c %u:%g:%a $r/home/alice)" = 1001:1001:750 ] || fail "home"
	grep -q "^bob:" jails/web1/etc/passwd && fail "bob is web2's only" || true
	# The hash is in /etc/shadow and nowhere else vjbuild writes.
	if grep -rqF "$HASH" state jails/web2/var 2>/dev/null; then fail "hash in $(grep -rlF "$HASH" state jails/web2/var)"; fi
	# A user no longer asked for is removed.
	sed -i 's/ user.bob=[^ ]*//' hosts.txt
	"$VJ" hosts.txt > out.txt 2>&1 || { fail "second run"; return; }
	grep -q "^bob:" $r/etc/passwd $r/etc/shadow && fail "bob not removed" || true
	grep -q "^root:" $r/etc/passwd || fail "root lost"
}

test_clear_text_password_is_refused() {
	setup 1
	printf 'user.alice = uid=1001 hash=hunter2hunter2\n' >> vjbuild.conf
	"$VJ" hosts.txt > out.txt 2> err.txt; rc=$?
	[ $rc = 2 ] || fail "exit $rc"
	grep -q "vjbuild.conf:4: user alice: the password is not a crypt(3) hash" err.txt || fail "$(cat err.txt)"
	grep -q hunter2 err.txt out.txt && fail "the clear text was echoed" || true
	[ ! -e jails ] && [ ! -e state ] || fail "something was created"
}

test_registry_in_sqlite() {
	need_root || return
	setup 3
	cp -r "$here/../examples/ports" "$here/../examples/distfiles" .
	printf 'ports = ports\ndistfiles = distfiles\npackages = echod\nvar.echo_port = 7\n' >> vjbuild.conf
	"$VJ" -j2 hosts.txt > out.txt 2>&1 || { fail "$(tail -3 out.txt)"; return; }
	rows=$(python3 -c 'import sqlite3,sys; c=sqlite3.connect("state/vjbuild.db"); print("\n".join("%s %s %s %s" % r for r in c.execute("select name, address, root, state from registry order by name")))')
	want="web1 10.9.0.1 $PWD/jails/web1 ok
web2 10.9.0.2 $PWD/jails/web2 ok
web3 10.9.0.3 $PWD/jails/web3 ok"
	[ "$rows" = "$want" ] || fail "registry: $rows"
	pk=$(python3 -c 'import sqlite3; c=sqlite3.connect("state/vjbuild.db"); print(" ".join("%s-%s" % r for r in c.execute("select port, version from registry_packages where jail = \"web2\" order by port")))')
	[ "$pk" = "echod-1.0 libvj-1.0" ] || fail "packages: $pk"
}

test_registry_in_postgresql_from_two_hosts_at_once() {
	need_root || return
	pg_db || return
	# Two provisioning "hosts": separate states and jails, one registry.
	for side in a b; do
		mkdir $side
		( cd $side && setup 0 && for i in $(seq 1 10); do echo "$side$i 10.$([ $side = a ] && echo 7 || echo 8).0.$i"; done > hosts.txt &&
		  echo "registry = $PGURL" >> vjbuild.conf )
	done
	( cd a && "$VJ" -j2 hosts.txt > out.txt 2>&1 ) & pa=$!
	( cd b && "$VJ" -j2 hosts.txt > out.txt 2>&1 ) & pb=$!
	wait $pa || fail "a: $(tail -3 a/out.txt)"
	wait $pb || fail "b: $(tail -3 b/out.txt)"
	n=$(psql -h /var/run/postgresql -d "$PGDB" -Atc "select count(*) from jails")
	[ "$n" = 20 ] || fail "registry has $n jails, want 20"
	got=$(psql -h /var/run/postgresql -d "$PGDB" -Atc "select name || ' ' || host(address) from jails where name = 'b7'")
	[ "$got" = "b7 10.8.0.7" ] || fail "b7: $got"
	# A change is an update, not a second row.
	sed -i 's/^a3 10.7.0.3$/a3 10.7.0.33/' a/hosts.txt
	( cd a && "$VJ" hosts.txt > out.txt 2>&1 ) || fail "update run"
	got=$(psql -h /var/run/postgresql -d "$PGDB" -Atc "select count(*), max(host(address)) from jails where name = 'a3'")
	[ "$got" = "1|10.7.0.33" ] || fail "a3 after update: $got"
	dropdb -h /var/run/postgresql "$PGDB" || true
}

# libpq is loaded only for a registry in PostgreSQL (state/pg.c): not
# linked, and when it cannot be loaded the run says which library and
# package, and fails.
test_registry_in_postgresql_without_libpq_says_so() {
	need_root || return
	unlinked_lib libpq.so.5 libpq5 || return
	setup 1
	echo "registry = postgresql:///vjtest_none?host=/var/run/postgresql" >> vjbuild.conf
	# In a mount namespace of its own, libpq is an empty file.
	unshare -m sh -c 'mount --bind /dev/null "$1" && exec "$2" hosts.txt' sh "$lib" "$VJ" > out.txt 2>&1 && fail "a run without libpq succeeded"
	grep -q "cannot load libpq.so.5 .*libpq5" out.txt || fail "no clear message: $(tail -3 out.txt)"
}

test_dns_data_answers_for_each_jail() {
	need_root || return
	command -v tinydns-get > /dev/null || { echo "    skipped: tinydns-get is not installed (Debian package tinydns)"; return $SKIP_RC; }
	setup 3
	echo "v6 2001:db8::7" >> hosts.txt
	echo "dns = dnsdata" >> vjbuild.conf
	"$VJ" hosts.txt > out.txt 2>&1 || { fail "$(tail -3 out.txt)"; return; }
	[ -f dnsdata/data.cdb ] || fail "no data.cdb"
	for i in 1 2 3; do
		( cd dnsdata && tinydns-get a web$i.example.org ) > a.txt
		grep -q "^answer: web$i.example.org 86400 A 10.9.0.$i$" a.txt || fail "web$i: $(cat a.txt)"
	done
	( cd dnsdata && tinydns-get mx web2.example.org ) | grep -q "MX 10 web2.example.org" || fail "no MX"
	( cd dnsdata && tinydns-get aaaa v6.example.org ) | grep -q "^answer: v6.example.org 86400 28 " || fail "no AAAA"
	( cd dnsdata && tinydns-get ptr 2.0.9.10.in-addr.arpa ) | grep -q "PTR web2.example.org" || fail "no PTR"
}

# Three provisioned jails with the example HTTP server, and a domain.
setup_web() {
	setup 3
	cp -r "$here/../examples/ports" "$here/../examples/distfiles" .
	printf 'ports = ports\ndistfiles = distfiles\npackages = vjhttpd\nvar.http_port = 80\ndns = dnsdata\n' >> vjbuild.conf
	"$VJ" -j2 hosts.txt > out.txt 2>&1 || { fail "provisioning: $(tail -3 out.txt)"; return 1; }
}

# What the systemd unit and the rc.d script run at boot and shutdown.
test_start_all_starts_the_jails_marked_to_boot() {
	need_root || return
	command -v ip > /dev/null || { echo "    skipped: no ip(8) (iproute2)"; return $SKIP_RC; }
	setup 3
	sed -i 's/^web3 10.9.0.3$/web3 10.9.0.3 boot=no/' hosts.txt
	"$VJ" -j2 hosts.txt > out.txt 2>&1 || { fail "provisioning: $(tail -3 out.txt)"; return; }
	"$VJ" start --all > start.txt 2>&1 || { fail "start --all: $(cat start.txt)"; "$VJ" stop --all; return; }
	"$VJ" ps > ps.txt
	grep -q '^web1 ' ps.txt && grep -q '^web2 ' ps.txt || fail "not started: $(cat ps.txt)"
	grep -q '^web3 ' ps.txt && fail "boot=no started: $(cat ps.txt)"
	"$VJ" start --all > again.txt 2>&1 || fail "start --all again: $(cat again.txt)"
	grep -q 'web1 is running already' again.txt || fail "again: $(cat again.txt)"
	"$VJ" start web3 > /dev/null 2>&1 || fail "start web3 by name"
	"$VJ" stop --all > stop.txt 2>&1 || fail "stop --all: $(cat stop.txt)"
	[ "$(grep -c '^stopped web' stop.txt)" = 3 ] || fail "stop --all: $(cat stop.txt)"
	"$VJ" ps | grep -q '^web' && fail "still running: $("$VJ" ps)"
	"$VJ" start --all web1 > /dev/null 2>&1; [ $? = 2 ] || fail "--all with a name accepted"
	"$VJ" status --json | python3 -c '
import json, sys
assert {j["name"]: j["boot"] for j in json.load(sys.stdin)["jails"]} == {"web1": True, "web2": True, "web3": False}
' || fail "status --json: boot"
}

test_started_jails_serve_on_their_own_address() {
	need_root || return
	command -v ip > /dev/null || { echo "    skipped: no ip(8) (iproute2)"; return $SKIP_RC; }
	setup_web || return
	"$VJ" start web1 web2 web3 > start.txt 2>&1 || { fail "start: $(cat start.txt)"; "$VJ" stop web1 web2 web3; return; }
	for i in 1 2 3; do
		page=""
		for _ in $(seq 1 50); do	# the server starts in the background
			page=$(timeout 3 busybox wget -q -O - "http://10.9.0.$i/" 2>/dev/null) && break
			sleep 0.1
		done
		echo "$page" | grep -q "<h1>web$i.example.org</h1>" || fail "web$i page: '$page'"
	done
	"$VJ" ps > ps.txt
	[ "$(grep -c '^web[123] ' ps.txt)" = 3 ] || fail "ps: $(cat ps.txt)"
	# Inside: only the jail's processes, its own name, no host files.
	"$VJ" exec web2 ps > jps.txt 2>&1 || fail "exec ps: $(cat jps.txt)"
	grep -q vjhttpd jps.txt || fail "no vjhttpd in the jail's ps: $(cat jps.txt)"
	grep -qE 'bash|e2e|host.sh|sshd' jps.txt && fail "host processes visible: $(cat jps.txt)" || true
	[ "$(grep -vc PID jps.txt)" -le 4 ] || fail "too many processes: $(cat jps.txt)"
	[ "$("$VJ" exec web2 hostname)" = web2.example.org ] || fail "hostname"
	echo secret > "$PWD/host-only.txt"
	"$VJ" exec web2 cat "$PWD/host-only.txt" > cat.txt 2>&1 && fail "a host file was read: $(cat cat.txt)"
	"$VJ" exec web2 grep CapBnd /proc/self/status | grep -q 00000000a00425fb || fail "capabilities: $("$VJ" exec web2 grep Cap /proc/self/status)"
	"$VJ" exec web2 grep NoNewPrivs /proc/self/status | grep -q '1$' || fail "no_new_privs"
	"$VJ" stop web1 web2 web3 > stop.txt 2>&1 || fail "stop: $(cat stop.txt)"
	"$VJ" ps | grep -q "no jail is running" || fail "still running: $("$VJ" ps)"
	timeout 2 busybox wget -q -O - "http://10.9.0.1/" > /dev/null 2>&1 && fail "web1 still answers" || true
	ip -o link | grep -q ' vj[0-9a-f]*h' && fail "veth left: $(ip -o link | grep ' vj')" || true
}

# An IPv6 jail answers the host (its default route is the host's end of
# the veth, fe80::1: the host's global addresses are on other links).
test_ipv6_jail_serves_on_its_own_address() {
	need_root || return
	command -v ip > /dev/null || { echo "    skipped: no ip(8) (iproute2)"; return $SKIP_RC; }
	[ -e /proc/net/if_inet6 ] || { echo "    skipped: no IPv6 on this host"; return $SKIP_RC; }
	setup 1
	echo "web1 fd42:9:6::1" > hosts.txt
	cp -r "$here/../examples/ports" "$here/../examples/distfiles" .
	printf 'ports = ports\ndistfiles = distfiles\npackages = vjhttpd\nvar.http_port = 80\n' >> vjbuild.conf
	"$VJ" hosts.txt > out.txt 2>&1 || { fail "provisioning: $(tail -3 out.txt)"; return; }
	"$VJ" start web1 > start.txt 2>&1 || { fail "start: $(cat start.txt)"; return; }
	page=""
	for _ in $(seq 1 50); do
		page=$(timeout 3 busybox wget -q -O - "http://[fd42:9:6::1]/" 2>/dev/null) && break
		sleep 0.1
	done
	echo "$page" | grep -q "<h1>web1.example.org</h1>" || fail "web1 page over IPv6: '$page'"
	"$VJ" stop web1 > /dev/null 2>&1
}

# The jail's init keeps nothing of the start's: its output through a pipe
# ends when start does (the init held it open, and a pipe never ended).
test_start_through_a_pipe_ends() {
	need_root || return
	command -v ip > /dev/null || { echo "    skipped: no ip(8) (iproute2)"; return $SKIP_RC; }
	setup 1
	sed -i 's/10\.9\.0\./10.9.8./' hosts.txt
	"$VJ" hosts.txt > out.txt 2>&1 || { fail "provisioning: $(tail -3 out.txt)"; return; }
	timeout 20 sh -c '"$0" start web1 | cat' "$VJ" > start.txt 2>&1 || fail "start | cat did not end: $(cat start.txt)"
	grep -q "started web1" start.txt || fail "start: $(cat start.txt)"
	"$VJ" stop web1 > /dev/null 2>&1
}

test_destroy_says_first_then_removes_everything() {
	need_root || return
	command -v tinydns-get > /dev/null || { echo "    skipped: tinydns-get is not installed (Debian package tinydns)"; return $SKIP_RC; }
	setup_web || return
	"$VJ" destroy web2 > d.txt || fail "destroy without --yes: exit $?"
	grep -q "would destroy web2" d.txt || fail "$(cat d.txt)"
	[ -d jails/web2 ] || fail "web2 removed without --yes"
	"$VJ" destroy web2 --yes > d.txt 2>&1 || fail "destroy: $(cat d.txt)"
	[ ! -e jails/web2 ] || fail "root still there"
	[ -d jails/web1 ] && [ -d jails/web3 ] || fail "other jails touched"
	n=$(python3 -c 'import sqlite3; print(sqlite3.connect("state/vjbuild.db").execute("select count(*) from registry where name = \"web2\"").fetchone()[0])')
	[ "$n" = 0 ] || fail "registry row left"
	( cd dnsdata && tinydns-get a web2.example.org ) | grep -q "^answer:" && fail "DNS still answers for web2" || true
	( cd dnsdata && tinydns-get a web1.example.org ) | grep -q "^answer: web1.example.org" || fail "web1 lost from DNS"
	"$VJ" status | grep -q "^web2 " && fail "status still lists web2" || true
	# A root that is not ours is never removed.
	mkdir -p jails/web3-copy && cp -r jails/web3/var jails/web3-copy/ 2>/dev/null
	echo "web3 10.9.0.3" > h3.txt
	rm -rf jails/web3/var/db/vjbuild
	"$VJ" destroy web3 --yes > d.txt 2>&1; rc=$?
	[ $rc != 0 ] || fail "destroyed a root without its marker"
	[ -d jails/web3 ] || fail "web3 removed"
}

# destroy checks every name before it touches any (exit 2 changes
# nothing), and finds a running jail by its cgroup when its run file is
# lost: its init, interface and route go with it.
test_destroy_checks_names_first_and_finds_a_jail_without_its_run_file() {
	need_root || return
	command -v ip > /dev/null || { echo "    skipped: no ip(8) (iproute2)"; return $SKIP_RC; }
	setup_web || return
	"$VJ" destroy web1 nosuch --yes > d.txt 2>&1; local rc=$?
	[ $rc = 2 ] || fail "destroy with an unknown name: exit $rc, want 2"
	grep -q "no jail nosuch" d.txt || fail "$(cat d.txt)"
	[ -d jails/web1/bin ] || fail "web1 was removed though destroy said it changed nothing"
	"$VJ" start web1 > start.txt 2>&1 || { fail "start: $(cat start.txt)"; return; }
	local pid; pid=$(awk '{print $1}' state/run/web1)
	[ -d /sys/fs/cgroup/pids/vjbuild/web1 ] || [ -d /sys/fs/cgroup/vjbuild/web1 ] || {
		"$VJ" stop web1; echo "    skipped: no cgroup for the jail here (cgroups not writable)"; return $SKIP_RC; }
	rm state/run/web1
	"$VJ" ps | grep -q '^web1 ' || fail "ps does not find web1 without its run file: $("$VJ" ps)"
	"$VJ" destroy web1 --yes > d.txt 2>&1 || fail "destroy: $(cat d.txt)"
	sleep 0.2
	kill -0 "$pid" 2>/dev/null && { fail "the jail's init ($pid) outlived destroy"; kill -9 "$pid"; }
	ip -o link | grep -q ' vj[0-9a-f]*h' && fail "veth left: $(ip -o link | grep ' vj')"
	ip route get 10.9.0.1 2>/dev/null | grep -q ' dev vj' && fail "route left: $(ip route get 10.9.0.1)"
	[ ! -e jails/web1 ] || fail "root left"
	( cd dnsdata && tinydns-get a web1.example.org ) 2>/dev/null | grep -q "^answer:" && fail "DNS still answers for web1" || true
}

run_tests "$@"
