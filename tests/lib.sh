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
