#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# A cold vjbuild run of the bench's ports, plain against one where the idle
# slot is stopped while the jobserver's pipe is empty (emulated from
# outside by bench/idle_stop_monitor.py): whether keeping the chain's
# build alone while its make runs in parallel shortens the run
# (docs/BENCHMARKS.md, "What a neighbour costs a build").
#
#   VJBUILD=vjbuild bash bench/idle_stop.sh WORK [N [ROUNDS]]
#
# WORK is bench/paper.py's work directory (base.tar.gz, distfiles); N
# jails (3), ROUNDS alternated pairs (2). The config is bench/makefile.py's
# vjbuild way with priority_boost = apache2. Prints each run's wall and
# its builds' start and end.
set -u
work=$1 n=${2:-3} rounds=${3:-2}
top=$(cd "$(dirname "$0")/.." && pwd)
vj=${VJBUILD:-$top/vjbuild}
d=$work/idle-stop
one() {	# one WAY ROUND
	rm -rf "$d"; mkdir -p "$d"; cd "$d" || exit 1
	cat > vjbuild.conf <<-CONF
	base = $work/base.tar.gz
	jails = jails
	state = state
	cache = cache
	ports = $top/bench/ports
	distfiles = $work/distfiles
	domain = example.org
	resolver = 192.0.2.53
	packages = apache2 apr apr-util daemontools djbdns expat proftpd ucspi-tcp
	priority_boost = apache2
	CONF
	for i in $(seq 1 "$n"); do echo "j$i 10.30.0.$i"; done > hosts.txt
	sync
	local t0 t1 pid rc stops=""
	t0=$(date +%s.%N)
	"$vj" -q -j2 hosts.txt > out.txt 2>&1 & pid=$!
	[ "$1" = stop ] && python3 "$top/bench/idle_stop_monitor.py" $pid monitor.log &
	wait $pid; rc=$?
	t1=$(date +%s.%N)
	wait
	[ "$1" = stop ] && stops=$(tail -1 monitor.log)
	echo "$1 round $2: exit $rc, wall $(echo "$t1 - $t0" | bc | cut -c1-6) s; $(python3 -c 'import sqlite3; db = sqlite3.connect("state/vjbuild.db"); t0 = db.execute("SELECT min(started) FROM task_runs").fetchone()[0]; print(", ".join("%s %.1f-%.1f" % (n[6:], a - t0, b - t0) for n, a, b in db.execute("SELECT name, started, ended FROM task_runs WHERE name LIKE \"build:%\" ORDER BY started")))'); $stops"
}
for r in $(seq 1 "$rounds"); do
	if [ $((r % 2)) = 1 ]; then one plain $r; one stop $r; else one stop $r; one plain $r; fi
done
