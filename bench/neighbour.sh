#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# What a CPU-bound neighbour costs a parallel build on this machine
# (docs/BENCHMARKS.md, "What a neighbour costs a build").
#
#   bash bench/neighbour.sh [ROUNDS]
#
# The build: `make -j2 build/libvj.a` of a clean clone of this tree, from
# clean, timed alone and beside a loop of `gcc -O2` at nice 19 and under
# SCHED_IDLE (chrt -i 0), the three alternated each round; then a single
# compile pinned to CPU 0, alone and beside the loop pinned to CPU 1.
# Prints each round and the medians' ratios against "alone".
set -u
rounds=${1:-3}
top=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d /tmp/vjbench-neighbour.XXXXXX)
trap 'pkill -f "vjbench-neighbour-loop" 2>/dev/null; rm -rf "$work"' EXIT
git clone -q "$top" "$work/src" && cd "$work/src" || exit 1
loop='while :; do gcc -O2 -D_GNU_SOURCE -I'"$top"' -c '"$top"'/cache/archive.c -o /dev/null; done # vjbench-neighbour-loop'
now() { date +%s.%N; }
build() { make -s clean > /dev/null 2>&1; local t0; t0=$(now); make -s -j2 build/libvj.a > /dev/null 2>&1 || exit 1; echo "$(now) - $t0" | bc; }
compile() { local t0; t0=$(now); taskset -c 0 bash -c 'for i in 1 2 3 4 5 6; do gcc -O2 -D_GNU_SOURCE -I'"$top"' -c '"$top"'/sched/loop.c -o /dev/null; done'; echo "$(now) - $t0" | bc; }
beside() {	# beside PREFIX CMD...: CMD with the loop running under PREFIX
	local prefix=$1; shift
	$prefix bash -c "$loop" & local bg=$!
	sleep 0.3
	"$@"
	kill $bg; wait $bg 2> /dev/null; pkill -f "vjbench-neighbour-loop"
}
build > /dev/null	# warm
declare -A t
for r in $(seq 1 "$rounds"); do
	t[alone]+=" $(build)"
	t[nice19]+=" $(beside "nice -n 19" build)"
	t[idle]+=" $(beside "chrt -i 0" build)"
	t[pinned_alone]+=" $(compile)"
	t[pinned_beside]+=" $(beside "taskset -c 1" compile)"
	echo "round $r: alone ${t[alone]##* } nice19 ${t[nice19]##* } idle ${t[idle]##* } pinned alone ${t[pinned_alone]##* } pinned beside ${t[pinned_beside]##* }"
done
med() { tr ' ' '\n' <<< "$1" | grep . | sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }
a=$(med "${t[alone]}") n=$(med "${t[nice19]}") i=$(med "${t[idle]}")
pa=$(med "${t[pinned_alone]}") pb=$(med "${t[pinned_beside]}")
printf 'make -j2: alone %.2f s, beside nice 19 %.2f s (%.2f), beside SCHED_IDLE %.2f s (%.2f)\n' "$a" "$n" "$(echo "$n / $a" | bc -l)" "$i" "$(echo "$i / $a" | bc -l)"
printf 'one compile on CPU 0: alone %.2f s, beside the loop on CPU 1 %.2f s (%.2f)\n' "$pa" "$pb" "$(echo "$pb / $pa" | bc -l)"
