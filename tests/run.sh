#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# Runs every test: the unit tests ($UNIT) and the end-to-end tests against
# the binary ($VJBUILD). Ends with one line "N passed, N failed, N skipped".
set -u
here=$(cd "$(dirname "$0")" && pwd)
: "${UNIT:?}" "${VJBUILD:?}"
passed=0 failed=0 skipped=0
count() {	# adds the counts of a "N passed, N failed[, N skipped]" line
	local line
	line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$1" | tail -1)
	if [ -z "$line" ]; then
		echo "$2: no summary line (crashed?)"; failed=$((failed + 1)); return
	fi
	set -- $line
	passed=$((passed + $1)); failed=$((failed + $3))
	[ $# -ge 6 ] && skipped=$((skipped + $5))
}
out=$(mktemp)
trap 'rm -f "$out"' EXIT
echo "== unit tests"
"$UNIT" 2>&1 | tee "$out" | grep -Ev '^[0-9]+ passed, [0-9]+ failed'
count "$out" unit
for f in e2e ports thin host graph faults attack shared services report fleet; do
	echo "== end-to-end tests: $f"
	bash "$here/$f.sh" 2>&1 | tee "$out" | grep -Ev '^[0-9]+ passed, [0-9]+ failed'
	count "$out" $f
done
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" = 0 ]
