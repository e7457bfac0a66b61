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

# nginx on a free loopback port, serving and storing $PWD/store/packages/:
# GET for anyone, PUT only for vjbuild:secret. Sets STORE_URL, NGINX_PID.
start_store() {
	command -v nginx > /dev/null || { echo "    skipped: no nginx (Debian package nginx; .ci/run installs it)"; return $SKIP_RC; }
	local port d=$PWD/nginx
	port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	mkdir -p "$d/tmp" store/packages
	printf 'vjbuild:%s\n' "$(openssl passwd -5 secret)" > "$d/htpasswd"
	cat > "$d/nginx.conf" <<-EOF
	user root;
	worker_processes 1;
	pid $d/nginx.pid;
	error_log $d/error.log;
	events { worker_connections 256; }
	http {
	    access_log $d/access.log;
	    client_body_temp_path $d/tmp;
	    proxy_temp_path $d/tmp;
	    fastcgi_temp_path $d/tmp;
	    uwsgi_temp_path $d/tmp;
	    scgi_temp_path $d/tmp;
	    server {
	        listen 127.0.0.1:$port;
	        root $PWD/store;
	        client_max_body_size 0;
	        location /packages/ {
	            dav_methods PUT;
	            dav_access user:rw group:r all:r;
	            limit_except GET HEAD {
	                auth_basic "vjbuild fleet";
	                auth_basic_user_file $d/htpasswd;
	            }
	        }
	    }
	}
	EOF
	nginx -c "$d/nginx.conf" -e "$d/error.log" || { fail "nginx did not start: $(tail -3 "$d/error.log")"; return 1; }
	NGINX_PID=$(cat "$d/nginx.pid")
	trap 'kill $NGINX_PID 2>/dev/null' EXIT
	STORE_URL="http://127.0.0.1:$port/packages/"
	printf 'vjbuild:secret\n' > cred
	chmod 600 cred
}

stop_store() { kill "$NGINX_PID" 2>/dev/null; trap - EXIT; }

# Three ports whose builds take a while and say so in their own output
# ("compiling NAME"), which is what the test counts.
fleet_ports() {
	make_port libz 'echo compiling libz; sleep 1.5; mkdir -p $STAGEDIR$PREFIX/lib; echo z > $STAGEDIR$PREFIX/lib/libz.txt'
	make_port app 'echo compiling app; sleep 1; mkdir -p $STAGEDIR$PREFIX/bin; cat $PREFIX/lib/libz.txt > $STAGEDIR$PREFIX/bin/app' libz
	make_port tool 'echo compiling tool; sleep 1; mkdir -p $STAGEDIR$PREFIX/share; echo tool > $STAGEDIR$PREFIX/share/tool'
}

# Host directory $1 (fleet_host $1) with jails $2..$3 of the 30.
fleet_host() {
	local h=$1 from=$2 to=$3 lease=${4:-60} i
	mkdir -p "$h"
	cp "$BASE" "$h/base.tar.gz"
	cat > "$h/vjbuild.conf" <<-EOF
	base = base.tar.gz
	domain = example.org
	ports = ../ports
	registry = $PGURL
	cache_url = $STORE_URL
	cache_credentials = ../cred
	claim_lease = $lease
	fleet_host = $h
	EOF
	: > "$h/hosts.txt"
	for i in $(seq "$from" "$to"); do
		case $((i % 3)) in
		0) echo "j$i 10.9.1.$i app tool" ;;
		1) echo "j$i 10.9.1.$i app" ;;
		2) echo "j$i 10.9.1.$i tool libz" ;;
		esac >> "$h/hosts.txt"
	done
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
	n=$(psql -h /var/run/postgresql -d "$PGDB" -Atc "select count(*) from jails")
	[ "$n" = 30 ] || fail "$n jails registered, not 30"
	n=$(psql -h /var/run/postgresql -d "$PGDB" -Atc "select count(*) from package_claims where state = 'done' and builds = 1")
	[ "$n" = 3 ] || fail "$n claims done at the first build, not 3: $(psql -h /var/run/postgresql -d "$PGDB" -Atc 'table package_claims')"
	# The fleet's view, from any host.
	(cd a && "$VJ" fleet status > ../fleet.txt 2>&1) || fail "fleet status: $(cat fleet.txt)"
	for h in a b c; do grep -q "^$h  *10 jails" fleet.txt || fail "fleet status lacks host $h's 10 jails: $(cat fleet.txt)"; done
	[ "$(grep -c ' done ' fleet.txt)" = 3 ] || fail "fleet status: $(cat fleet.txt)"
	(cd b && "$VJ" fleet status --json | python3 -m json.tool > /dev/null) || fail "fleet status --json does not parse"
	stop_store
	dropdb -h /var/run/postgresql "$PGDB" || true
}

run_tests "$@"
