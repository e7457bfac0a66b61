#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# make torture: kill -9 vjbuild at N random moments of a run (extracting,
# building, packing, installing, committing), run again to the end after
# each kill, and check that every time
#   - the jail trees are identical to an uninterrupted run's (path, type,
#     mode, owner, device numbers, contents; var/db/vjbuild left out, as it
#     records package digests and gzip stamps differ between builds): so no
#     file that no package lists, such as a temporary of a killed install
#     (two jails get a package with a 200 MB file, to be killed while it is
#     written),
#   - no task that had finished before the kill ran again,
#   - no temporary file or directory is left behind.
# Prints one line per kill and "N passed, N failed". Needs root.
#   usage: VJBUILD=/path/to/vjbuild bash tests/torture.sh [KILLS]
set -u
here=$(cd "$(dirname "$0")" && pwd)
VJ=${VJBUILD:?set VJBUILD to the binary}
kills=${1:-30}
[ "$(id -u)" = 0 ] || { echo "torture: needs root"; echo "0 passed, 0 failed, 1 skipped"; exit 0; }
w=$(mktemp -d /tmp/vjbuild-torture.XXXXXX)
trap 'rm -rf "$w"' EXIT
cd "$w"
sh "$here/../examples/mkbase.sh" base0.tar.gz
mkdir root && tar -C root -xzf base0.tar.gz
for d in $(seq 1 10); do mkdir -p root/usr/share/d$d; for f in $(seq 1 30); do echo "$d $f" > root/usr/share/d$d/f$f; done; done
tar -C root --numeric-owner -czf base.tar.gz . && rm -rf root base0.tar.gz
cp -r "$here/../examples/ports" "$here/../examples/distfiles" .
mkdir -p ports/big/src
printf 'version = 1.0\nsource = none\n' > ports/big/recipe
printf 'mkdir -p $STAGEDIR$PREFIX/share/big\nhead -c 200000000 /dev/zero > $STAGEDIR$PREFIX/share/big/big.bin\necho small > $STAGEDIR$PREFIX/share/big/small\n' > ports/big/build
printf 'base = base.tar.gz\ndomain = example.org\nports = ports\ndistfiles = distfiles\npackages = echod vjhttpd\nvar.echo_port = 7\nvar.http_port = 80\nuser.op = uid=1001 hash=*\n' > vjbuild.conf
for i in $(seq 1 8); do echo "h$i 10.44.0.$i$([ $i -le 2 ] && echo ' echod vjhttpd big')"; done > hosts.txt

trees() {
	local r
	for r in jails/*; do
		python3 "$here/treehash.py" "$r" -x var/db/vjbuild
	done | sha256sum | cut -d' ' -f1
	sha256sum < state/jail.conf | cut -d' ' -f1
}
task_runs() { "$VJ" status | awk '/^TASK/{t=1;next} t && NF>=3 && $1 !~ /^log:/ {print $1, $2, $3}'; }
leftovers() {
	{ ls -A jails 2>/dev/null | grep '^\.'; find cache -name '.tmp.*' 2>/dev/null;
	  find jails -name '*.vjbuild-tmp' 2>/dev/null; ls -A cache/work 2>/dev/null; } | head -5
}

t0=$(date +%s.%N)
"$VJ" -j2 hosts.txt > ref.txt 2>&1 || { cat ref.txt; echo "0 passed, 1 failed"; exit 1; }
t1=$(date +%s.%N)
full=$(echo "$t1 - $t0" | bc)
want=$(trees)
echo "uninterrupted run: ${full}s"
passed=0 failed=0
for k in $(seq 1 "$kills"); do
	rm -rf jails state cache
	at=$(python3 -c "import random; print(round(random.uniform(0.02, $full * 0.95), 3))")
	"$VJ" -j2 hosts.txt > run1.txt 2>&1 &
	pid=$!
	sleep "$at"
	kill -9 $pid 2>/dev/null; wait $pid 2>/dev/null
	task_runs 2>/dev/null | awk '$2=="ok"{print $1, $3}' | sort > before.txt
	"$VJ" -j2 hosts.txt > run2.txt 2>&1
	rc=$?
	problem=""
	[ $rc = 0 ] || problem="resume exit $rc: $(tail -2 run2.txt | tr '\n' ' ')"
	[ -z "$problem" ] && [ "$(trees)" != "$want" ] && problem="trees differ"
	if [ -z "$problem" ]; then
		task_runs | awk '{print $1, $3}' | sort | join - before.txt | awk '$2 != $3' > again.txt
		[ -s again.txt ] && problem="finished tasks ran again: $(head -3 again.txt | tr '\n' ' ')"
	fi
	[ -z "$problem" ] && [ -n "$(leftovers)" ] && problem="temporaries left: $(leftovers | tr '\n' ' ')"
	if [ -z "$problem" ]; then
		passed=$((passed + 1))
		echo "ok - kill $k at ${at}s ($(wc -l < before.txt) tasks done before it)"
	else
		failed=$((failed + 1))
		echo "not ok - kill $k at ${at}s: $problem"
	fi
done
echo "$passed passed, $failed failed"
[ $failed = 0 ]
