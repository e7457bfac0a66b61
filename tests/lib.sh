#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# What the end-to-end test files share: helpers and the runner. A test file
# defines test_* functions, sources this, and calls run_tests "$@". Each
# test runs in a fresh temporary directory; one that cannot run here says
# why and counts as skipped. Prints "N passed, N failed, N skipped".
set -u
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
VJ=${VJBUILD:?set VJBUILD to the binary}
BASE=""	# a busybox base tarball, made once per file
SKIP_RC=77

fail() { echo "    $*" >&2; return 1; }
need_root() { [ "$(id -u)" = 0 ] || { echo "    skipped: needs root (mknod, chroot, owners)"; return $SKIP_RC; }; }
# A library vjbuild loads only when needed (dlopen): $1 its soname, $2
# Debian's package. Fails when vjbuild is linked to it; skips when it is
# not installed; else sets lib to its path.
unlinked_lib() {
	local stem=${1%%.so*}.	# libpq.so.5 -> libpq.: any version
	ldd "$VJ" | grep -qF "$stem" && { fail "vjbuild is linked to $stem: $(ldd "$VJ" | grep -F "$stem")"; return 1; }
	lib=$(ldconfig -p | awk -v so="$1" '$1 == so { print $NF; exit }')
	[ -n "$lib" ] || { echo "    skipped: $1 is not installed (Debian package $2)"; return $SKIP_RC; }
}

# A fresh PostgreSQL database for one test, or a reason to skip.
pg_db() {
	command -v psql > /dev/null || { echo "    skipped: no PostgreSQL client (.ci/run installs and starts the server)"; return $SKIP_RC; }
	PGDB=vjtest_$$_$RANDOM
	createdb -h /var/run/postgresql "$PGDB" 2> pg.err || { echo "    skipped: no PostgreSQL server to use: $(head -1 pg.err)"; return $SKIP_RC; }
	PGURL="postgresql:///$PGDB?host=/var/run/postgresql"
}

# A work directory with vjbuild.conf and an N-host hosts.txt.
setup() {
	local n=${1:-3}
	cp "$BASE" base.tar.gz
	printf 'base = base.tar.gz\ndomain = example.org\nresolver = 192.0.2.53\n' > vjbuild.conf
	: > hosts.txt
	for i in $(seq 1 "$n"); do echo "web$i 10.9.0.$i" >> hosts.txt; done
}

# A port NAME whose build stages what the shell snippet BODY makes.
make_port() {
	local name=$1 body=$2 deps=${3:-}
	mkdir -p "ports/$name/src"
	printf 'version = 1.0\nsource = none\n%s' "${deps:+depends = $deps
}" > "ports/$name/recipe"
	printf '%s\n' "$body" > "ports/$name/build"
}

# Task names and the run that last ran them, from vjbuild status.
task_runs() { "$VJ" status | awk '/^TASK/{t=1;next} t && NF>=3 && $1 !~ /^log:/ {print $1, $2, $3}'; }

# ---- a fleet (tests/fleet.sh, tests/attack.sh) ----

# nginx on a free loopback port, serving and storing $PWD/store/packages/:
# GET for anyone, PUT only for vjbuild:secret. Sets STORE_URL, NGINX_PID.
# With "tls": https with a certificate for localhost from a CA made here
# ($PWD/ca.crt).
start_store() {
	command -v nginx > /dev/null || { echo "    skipped: no nginx (Debian package nginx; .ci/run installs it)"; return $SKIP_RC; }
	local port d=$PWD/nginx ssl="" scheme=http host=127.0.0.1
	port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	mkdir -p "$d/tmp" store/packages
	if [ "${1:-}" = tls ]; then
		make_ca ca "$d/tls"
		ssl="ssl; ssl_certificate $d/tls.crt; ssl_certificate_key $d/tls.key"
		scheme=https host=localhost
	fi
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
	        listen 127.0.0.1:$port $ssl;
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
	STORE_URL="$scheme://$host:$port/packages/"
	printf 'vjbuild:secret\n' > cred
	chmod 600 cred
}

# A CA ($1.crt, $1.key) and, with $2, a certificate for localhost signed
# by it ($2.crt, $2.key).
make_ca() {
	[ -e "$1.crt" ] || openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$1.key" -out "$1.crt" -days 2 -subj "/CN=$1" 2> /dev/null
	[ -n "${2:-}" ] || return 0
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$2.key" -out "$2.csr" -subj /CN=localhost 2> /dev/null &&
	printf 'subjectAltName=DNS:localhost\n' > "$2.ext" &&
	openssl x509 -req -in "$2.csr" -CA "$1.crt" -CAkey "$1.key" -CAcreateserial -out "$2.crt" -days 2 -extfile "$2.ext" 2> /dev/null
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

run_tests() {
	local tests t dir rc passed=0 failed=0 skipped=0
	BASE_DIR=$(mktemp -d /tmp/vjbuild-e2e.XXXXXX)
	trap '[ -n "${KEEP:-}" ] || rm -rf "$BASE_DIR"' EXIT	# KEEP=1: kept, to look at
	BASE=$BASE_DIR/base.tar.gz
	sh "$here/../examples/mkbase.sh" "$BASE" || { echo "cannot make a busybox base"; echo "0 passed, 1 failed"; exit 1; }
	tests=${*:-$(declare -F | awk '$3 ~ /^test_/{print $3}')}
	for t in $tests; do
		dir=$BASE_DIR/$t
		mkdir -p "$dir"
		( cd "$dir" && set +e && "$t" ) > "$dir.log" 2>&1
		rc=$?
		# A failure is any indented line but "(note)" and "skipped:".
		if [ $rc = 0 ] && ! grep -v -e '^    (' -e '^    skipped:' "$dir.log" |
		    grep -q '^    '; then
			echo "ok - $t"; passed=$((passed + 1))
			grep '^    (' "$dir.log" || true
		elif grep -q "^    skipped:" "$dir.log"; then
			echo "skip - $t: $(grep '^    skipped:' "$dir.log" | head -1 | sed 's/^ *skipped: //')"
			skipped=$((skipped + 1))
		else
			echo "not ok - $t"; cat "$dir.log"; failed=$((failed + 1))
		fi
	done
	echo "$passed passed, $failed failed, $skipped skipped"
	[ $failed = 0 ]
}
