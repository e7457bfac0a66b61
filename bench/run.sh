#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# make bench: the core engine on a busybox base. For N jails it times, in
# the same invocation and alternating round by round, a sequential run
# (-j1, the paper's one-after-another way without compiling), a parallel run
# (-jJ), and a re-run with nothing to do, and prints each median and the
# ratios. Prints numbers, never pass/fail. Needs root (device nodes).
#   usage: bench/run.sh [N=20] [ROUNDS=5] [J=nproc]
# (The paper's Tables 1 and 2 with real server software: bench/paper.py.)
set -eu
n=${1:-20} rounds=${2:-5} j=${3:-$(nproc)}
top=$(cd "$(dirname "$0")/.." && pwd)
vj=$top/vjbuild
[ "$(id -u)" = 0 ] || { echo "bench: run as root" >&2; exit 1; }
w=$(mktemp -d /tmp/vjbuild-bench.XXXXXX)
trap 'rm -rf "$w"' EXIT
sh "$top/examples/mkbase.sh" "$w/base.tar.gz"
printf 'base = base.tar.gz\ndomain = example.org\nresolver = 192.0.2.53\n' > "$w/vjbuild.conf"
for i in $(seq 1 "$n"); do echo "h$i 10.20.$((i / 250)).$((i % 250 + 1))"; done > "$w/hosts.txt"

now() { date +%s.%N; }
fresh() { (cd "$w" && "$vj" -j"$1" hosts.txt > "$w/last.txt" 2> /dev/null); }
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

: > "$w/seq" ; : > "$w/par" ; : > "$w/noop"
for r in $(seq 1 "$rounds"); do
	for mode in seq par; do	# alternate the order every round
		[ $((r % 2)) = 0 ] && mode=$([ $mode = seq ] && echo par || echo seq)
		rm -rf "$w/jails" "$w/state"
		jobs=$([ $mode = seq ] && echo 1 || echo "$j")
		t0=$(now); fresh "$jobs"; t1=$(now)
		echo "$t1 - $t0" | bc -l >> "$w/$mode"
	done
	t0=$(now); fresh "$j"; t1=$(now)
	echo "$t1 - $t0" | bc -l >> "$w/noop"
done
s=$(median < "$w/seq"); p=$(median < "$w/par"); z=$(median < "$w/noop")
tasks=$(awk '/ tasks: /{for (i = 1; i <= NF; i++) if ($(i+1) == "tasks:") print $i}' "$w/last.txt")
echo "vjbuild core benchmark: $n jails ($tasks tasks), busybox base, $rounds rounds, $(nproc) CPUs"
printf '%-34s %10s %12s\n' "mode" "median s" "per jail ms"
printf '%-34s %10.3f %12.1f\n' "sequential (-j1)" "$s" "$(echo "$s * 1000 / $n" | bc -l)"
printf '%-34s %10.3f %12.1f\n' "parallel (-j$j)" "$p" "$(echo "$p * 1000 / $n" | bc -l)"
printf '%-34s %10.3f %12.1f\n' "re-run, nothing to do (-j$j)" "$z" "$(echo "$z * 1000 / $n" | bc -l)"
printf 'speed-up -j1/-j%s: %.2fx;  re-run/parallel: %.3f\n' "$j" \
    "$(echo "$s / $p" | bc -l)" "$(echo "$z / $p" | bc -l)"
