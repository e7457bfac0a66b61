#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# End-to-end tests of `vjbuild run-graph FILE`: graphs of plain commands
# through the scheduler, the state and the logs (tasks/cmd.c, sched/loop.c).
# None needs root.
. "$(dirname "$0")/lib.sh"

# A diamond and a tail: each task appends its name to ran.txt.
diamond() {
	cat > g.txt <<-'EOF'
	# a diamond
	a: | sh -c 'echo a >> ran.txt'
	b: a | sh -c 'echo b >> ran.txt'
	c: a | sh -c 'echo c >> ran.txt'
	d: b c | sh -c 'echo d >> ran.txt'
	e: d | sh -c 'echo e >> ran.txt'
	EOF
}

# Line number of $1 in ran.txt.
at() { grep -n "^$1\$" ran.txt | cut -d: -f1; }

test_runs_in_dependency_order_and_once() {
	diamond
	"$VJ" run-graph -q -j4 g.txt || { fail "run failed"; return; }
	[ "$(wc -l < ran.txt)" = 5 ] || fail "ran $(wc -l < ran.txt) tasks, not 5"
	[ "$(at a)" -lt "$(at b)" ] && [ "$(at a)" -lt "$(at c)" ] &&
	    [ "$(at b)" -lt "$(at d)" ] && [ "$(at c)" -lt "$(at d)" ] &&
	    [ "$(at d)" -lt "$(at e)" ] || fail "order: $(tr '\n' ' ' < ran.txt)"
	"$VJ" run-graph -j4 g.txt > out.txt 2>&1 || fail "second run failed"
	grep -q '5 tasks: 0 ran, 5 up to date' out.txt || fail "second run: $(tail -1 out.txt)"
	[ "$(wc -l < ran.txt)" = 5 ] || fail "second run ran something"
}

test_edited_command_reruns_it_and_what_follows() {
	diamond
	"$VJ" run-graph -q g.txt || { fail "run failed"; return; }
	: > ran.txt
	sed -i "s/^c: a | sh -c 'echo c >> ran.txt'/c: a | sh -c 'echo c >> ran.txt; true'/" g.txt
	"$VJ" run-graph g.txt > out.txt 2>&1 || fail "second run failed"
	[ "$(sort ran.txt | tr '\n' ' ')" = "c d e " ] || fail "reran: $(tr '\n' ' ' < ran.txt), want c d e"
}

test_never_more_than_j_at_once() {
	# Each task marks itself running, counts the marks, and records the
	# largest count it saw.
	mkdir running
	for i in $(seq 1 24); do
		echo "t$i: | sh -c 'touch running/t$i; ls running | wc -l >> seen; sleep 0.05; rm running/t$i'"
	done > g.txt
	"$VJ" run-graph -q -j3 g.txt || { fail "run failed"; return; }
	[ "$(wc -l < seen)" = 24 ] || fail "$(wc -l < seen) tasks ran, not 24"
	[ "$(sort -n seen | tail -1)" -le 3 ] || fail "$(sort -n seen | tail -1) ran at once with -j3"
	[ "$(sort -n seen | tail -1)" -ge 2 ] || fail "never more than one at once with -j3"
}

test_failure_skips_dependents_and_keeps_output() {
	cat > g.txt <<-'EOF'
	ok1: | sh -c 'echo fine'
	bad: | sh -c 'echo it broke; exit 3'
	after: bad | touch after
	other: ok1 | touch other
	quiet: | false
	EOF
	"$VJ" run-graph -k -j2 g.txt > out.txt 2> err.txt
	[ $? = 1 ] || fail "exit status $?, want 1"
	[ -e other ] || fail "-k: the independent task did not run"
	[ ! -e after ] || fail "a task after a failure ran"
	grep -q 'it broke' g.txt.state/logs/latest/bad.log || fail "the failure's output is not in its log"
	grep -q 'bad .*FAILED' out.txt && grep -q '| it broke' out.txt || fail "summary: $(cat out.txt)"
	grep -q 'quiet .*FAILED  (no output)' out.txt || fail "quiet failure: $(cat out.txt)"
	[ ! -e g.txt.state/logs/latest/ok1.log ] || [ -s g.txt.state/logs/latest/ok1.log ] || fail "empty log kept"
	grep -q '2 failed, 1 skipped' out.txt || fail "totals: $(tail -1 out.txt)"
}

test_missing_command_fails_that_task() {
	printf 'a: | no-such-command-here x\nb: | touch b\n' > g.txt
	"$VJ" run-graph -k g.txt > out.txt 2>&1
	[ $? = 1 ] || fail "exit status, want 1"
	grep -q 'cannot run no-such-command-here: No such file' g.txt.state/logs/latest/a.log ||
	    fail "log: $(cat g.txt.state/logs/latest/a.log 2>&1)"
	[ -e b ] || fail "the other task did not run"
}

test_bad_graph_names_file_and_line_and_changes_nothing() {
	local bad
	for bad in 'a | true' 'a: b | true' 'a: |' 'a/b: | true' 'a: | true\na: | true' \
	    'a: b | true\nb: a | true' "$(printf 'x%.0s' $(seq 1 70)): | true"; do
		printf "# comment\n$bad\n" > g.txt
		"$VJ" run-graph g.txt > out.txt 2> err.txt
		[ $? = 2 ] || fail "'$bad': exit status not 2"
		grep -q '^vjbuild: g.txt' err.txt || fail "'$bad': message does not name the file: $(cat err.txt)"
		[ ! -e g.txt.state ] || fail "'$bad': a state was made"
		rm -rf g.txt.state
	done
	printf 'a: | true\nb: zz | true\n' > g.txt
	"$VJ" run-graph g.txt 2> err.txt
	grep -q 'g.txt:2: b depends on zz, which no line defines' err.txt || fail "$(cat err.txt)"
	printf 'a: | true\0\n' > g.txt
	"$VJ" run-graph g.txt 2> err.txt
	[ $? = 2 ] && grep -q 'g.txt:1' err.txt || fail "NUL byte: $(cat err.txt)"
}

test_kill9_then_resume_runs_nothing_twice() {
	# 60 tasks of 0.1 s in 3 chains at -j3; kill -9 after a second.
	for c in 1 2 3; do
		for i in $(seq 1 20); do
			dep=""; [ "$i" -gt 1 ] && dep="c${c}_$((i - 1))"
			echo "c${c}_$i: $dep | sh -c 'sleep 0.1; echo c${c}_$i >> ran.txt'"
		done
	done > g.txt
	"$VJ" run-graph -q -j3 g.txt & local pid=$!
	sleep 1
	kill -9 $pid; wait $pid 2>/dev/null
	local before; before=$(wc -l < ran.txt)
	[ "$before" -gt 0 ] && [ "$before" -lt 60 ] || { fail "killed after $before tasks"; return; }
	sleep 0.3	# the commands in flight end
	"$VJ" run-graph -q -j3 g.txt || fail "resume failed"
	[ "$(sort -u ran.txt | wc -l)" = 60 ] || fail "$(sort -u ran.txt | wc -l) distinct tasks ran, not 60"
	# Only the ones in flight at the kill may have run twice.
	local twice; twice=$(sort ran.txt | uniq -d | wc -l)
	[ "$twice" -le 3 ] || fail "$twice tasks ran twice (more than the 3 in flight)"
	echo "    (killed after $before tasks; $twice ran again)"
}

test_a_dependency_named_twice_is_one_edge() {
	printf 'a: | true\nb: a a | true\nc: a b a b | true\n' > g.txt
	"$VJ" run-graph -q g.txt || { fail "run failed"; return; }
	local deps
	deps=$(python3 -c 'import sqlite3; db = sqlite3.connect("g.txt.state/vjbuild.db"); print(";".join("%s=%s" % r for r in db.execute("SELECT name, coalesce(deps, \"\") FROM task_runs ORDER BY name")))')
	[ "$deps" = "a=;b=a;c=a b" ] || fail "recorded dependencies: $deps"
}

# A task's depstamp is SHA-256 of its dependencies' stamps, "S1,S2,...," in
# decimal: records written by any earlier vjbuild stay up to date. 120
# dependencies cross the buffer it is hashed from.
test_depstamp_is_the_hash_of_the_dependencies_stamps() {
	local deps=""
	for i in $(seq 1 120); do echo "d$i: | true"; deps="$deps d$i"; done > g.txt
	echo "all:$deps | true" >> g.txt
	"$VJ" run-graph -q -j2 g.txt || { fail "run failed"; return; }
	python3 - <<-'PY' || fail "depstamp is not the hash of the stamps"
	import hashlib, sqlite3, sys
	db = sqlite3.connect("g.txt.state/vjbuild.db")
	stamp = dict(db.execute("SELECT name, stamp FROM tasks"))
	want = hashlib.sha256("".join("%d," % stamp["d%d" % i]
	                              for i in range(1, 121)).encode()).hexdigest()
	got = db.execute("SELECT depstamp FROM tasks WHERE name = 'all'").fetchone()[0]
	sys.exit(0 if got == want else 1)
	PY
	"$VJ" run-graph -n g.txt | grep -q '121 tasks: 0 would run, 121 up to date' || fail "not up to date after"
}

# The records of short tasks wait a moment to be written with the next
# ones (HOLD_S in sched/record.c), not until the run ends: while a long
# task runs, the short ones before it read done from outside, and a
# kill -9 then runs none of them again.
test_short_tasks_are_recorded_while_a_long_one_runs() {
	local deps=""
	for i in $(seq 1 20); do
		echo "q$i: | sh -c 'echo q$i >> ran.txt'"
		deps="$deps q$i"
	done > g.txt
	echo "long:$deps | sh -c 'touch started; exec sleep 4741'" >> g.txt
	"$VJ" run-graph -q -j4 g.txt > out.txt 2>&1 & local pid=$!
	for _ in $(seq 100); do [ -e started ] && break; sleep 0.05; done
	[ -e started ] || { fail "long did not start"; kill -9 $pid; return; }
	sleep 0.5
	local seen
	seen=$(python3 -c 'import sqlite3; db = sqlite3.connect("file:g.txt.state/vjbuild.db?mode=ro", uri=True); print(" ".join("%s=%d" % r for r in db.execute("SELECT status, count(*) FROM tasks GROUP BY status ORDER BY status")))')
	kill -9 $pid; wait $pid 2>/dev/null
	[ "$seen" = "ok=20 running=1" ] || fail "records while long ran: $seen"
	rm started
	"$VJ" run-graph -q -j4 g.txt > out.txt 2>&1 &
	pid=$!
	for _ in $(seq 100); do [ -e started ] && break; sleep 0.05; done
	pkill -9 -f "sleep 474[1]"; wait $pid 2>/dev/null
	[ "$(wc -l < ran.txt)" = 20 ] || fail "$(($(wc -l < ran.txt) - 20)) short tasks ran again after the kill"
}

test_always_runs_everything_again() {
	diamond
	"$VJ" run-graph -q g.txt || { fail "run failed"; return; }
	"$VJ" run-graph -q --always g.txt || fail "--always failed"
	[ "$(wc -l < ran.txt)" = 10 ] || fail "ran $(wc -l < ran.txt) times in all, not 10"
	"$VJ" run-graph -n g.txt | grep -q '5 tasks: 0 would run, 5 up to date' || fail "dry run after"
}

test_always_killed_halfway_leaves_the_rest_to_the_next_run() {
	# 20 independent tasks of 0.1 s, done; then --always -j1, killed
	# after about half of them: the next plain run runs the others too.
	for i in $(seq 1 20); do
		echo "t$i: | sh -c 'sleep 0.1; echo t$i >> ran.txt'"
	done > g.txt
	"$VJ" run-graph -q -j2 g.txt || { fail "first run failed"; return; }
	: > ran.txt
	"$VJ" run-graph -q -j1 --always g.txt & local pid=$!
	sleep 1
	kill -9 $pid; wait $pid 2>/dev/null
	sleep 0.3	# the command in flight ends
	local before; before=$(sort -u ran.txt | wc -l)
	[ "$before" -gt 0 ] && [ "$before" -lt 20 ] || { fail "killed after $before tasks"; return; }
	"$VJ" run-graph -q -j2 g.txt || fail "the run after failed"
	[ "$(sort -u ran.txt | wc -l)" = 20 ] || fail "$(sort -u ran.txt | wc -l) of 20 tasks ran again since --always"
	"$VJ" run-graph -n g.txt | grep -q '20 tasks: 0 would run, 20 up to date' || fail "dry run after: $("$VJ" run-graph -n g.txt | tail -1)"
	echo "    (killed after $before tasks)"
}

test_state_locked_mid_run_stops_what_it_cannot_record() {
	# A task takes the state's write lock for 7 s; the task that becomes
	# ready meanwhile cannot be recorded (SQLite's busy timeout is 5 s):
	# the run stops with a clear message, and that task does not get to
	# do its work. The next run, unlocked, does it.
	cat > g.txt <<-'EOF'
	lock: | sh -c '[ -e second ] || exec python3 -c "import sqlite3, time; db = sqlite3.connect(\"g.txt.state/vjbuild.db\", isolation_level=None); db.execute(\"BEGIN IMMEDIATE\"); open(\"locked\", \"w\").close(); time.sleep(7)"'
	wait: | sh -c 'while [ ! -e locked ] && [ ! -e second ]; do sleep 0.05; done'
	late: wait | sh -c '[ -e second ] || sleep 9; touch late-done'
	EOF
	"$VJ" run-graph -j3 g.txt > out.txt 2>&1
	local rc=$?
	[ $rc = 3 ] || fail "exit status $rc, want 3 (state): $(tail -3 out.txt)"
	grep -q 'vjbuild.db.*database is locked' out.txt || fail "no clear message: $(cat out.txt)"
	[ ! -e late-done ] || fail "late did its work though its start could not be recorded"
	touch second
	"$VJ" run-graph -q -j3 g.txt || fail "the run after failed"
	[ -e late-done ] || fail "the run after did not run late"
}

test_hung_task_times_out_and_its_group_dies() {
	printf 'hang: | sh -c "sleep 311 & sleep 311"\nok: | touch ok\n' > g.txt
	local t0 t1
	t0=$(date +%s)
	"$VJ" run-graph -k --timeout 1 g.txt > out.txt 2>&1
	[ $? = 1 ] || fail "exit status, want 1"
	t1=$(date +%s)
	[ $((t1 - t0)) -le 10 ] || fail "took $((t1 - t0)) s with --timeout 1"
	grep -q 'hang: timed out after 1s' g.txt.state/logs/latest/hang.log || fail "log: $(cat g.txt.state/logs/latest/hang.log 2>&1)"
	sleep 0.2
	! pgrep -f 'sleep 311' > /dev/null || { fail "the hung task's processes are still running"; pkill -f 'sleep 311'; }
	[ -e ok ] || fail "the other task did not run"
	# Once the fault is gone the run resumes.
	sed -i 's/^hang: .*/hang: | true/' g.txt
	"$VJ" run-graph -q --timeout 1 g.txt || fail "resume failed"
	"$VJ" run-graph --timeout abc g.txt 2> err.txt; [ $? = 2 ] || fail "--timeout abc accepted"
}

test_processes_left_behind_are_killed_and_named() {
	# In the task's process group: the task fails for it.
	printf 'bg: | sh -c "sleep 312 &"\n' > g.txt
	"$VJ" run-graph g.txt > out.txt 2>&1
	[ $? = 1 ] || fail "a task that left a process behind did not fail"
	grep -q 'left processes running in its process group' g.txt.state/logs/latest/bg.log || fail "log: $(cat g.txt.state/logs/latest/bg.log 2>&1)"
	sleep 0.2
	! pgrep -f 'sleep 312' > /dev/null || { fail "the process left behind still runs"; pkill -f 'sleep 312'; }
	# Out of it (setsid): found at the end of the run, named, killed.
	printf 'daemon: | sh -c "setsid sleep 313 & sleep 0.5"\n' > d.txt
	"$VJ" run-graph d.txt > out.txt 2> err.txt
	[ $? = 1 ] || fail "a run whose task left a daemon did not fail"
	grep -q 'pid [0-9]* (sleep) was left running by a task of this run; killed it' err.txt || fail "stderr: $(cat err.txt)"
	! pgrep -f 'sleep 313' > /dev/null || { fail "the daemon still runs"; pkill -f 'sleep 313'; }
}

# No recursion proportional to the graph (issue 15): the first task of a
# 500,000-task chain, and the root of a 500,000-task fan-out, fail; the rest
# is skipped, exit 1, no crash (the recursive skip ended in SIGSEGV).
test_half_a_million_chain_and_fanout_fail_and_skip() {
	awk 'BEGIN { print "t0: | false"; for (i = 1; i < 500000; i++) printf "t%d: t%d | true\n", i, i - 1 }' > chain.txt
	awk 'BEGIN { print "r: | false"; for (i = 1; i < 500000; i++) printf "f%d: r | true\n", i }' > fan.txt
	local g rc
	for g in chain fan; do
		"$VJ" run-graph -q -k -j2 $g.txt > $g.out 2>&1; rc=$?
		[ $rc = 1 ] || { fail "$g: exit $rc, want 1: $(tail -3 $g.out)"; continue; }
		grep -q '^500000 tasks: 1 ran, 0 up to date, 1 failed, 499999 skipped' $g.out || fail "$g: $(tail -1 $g.out)"
	done
}

# SIGHUP (a closed terminal) is a stop like SIGTERM: the running commands
# and what they started die, the tasks are recorded as interrupted, and
# the next run runs them again, once.
test_sighup_stops_the_run_and_its_commands() {
	printf 'a: | sh -c "sleep 4721 & sleep 4722; echo a >> ran.txt"\nb: a | sh -c "echo b >> ran.txt"\n' > g.txt
	"$VJ" run-graph -q g.txt > out.txt 2>&1 & local vj=$!
	for _ in $(seq 100); do pgrep -f "sleep 472[2]" > /dev/null && break; sleep 0.05; done
	kill -HUP $vj
	wait $vj; local rc=$?
	[ $rc = 129 ] || fail "exit $rc after SIGHUP, want 129"
	sleep 1
	if pgrep -f "sleep 472[12]" > /dev/null; then
		fail "left running a second after SIGHUP: $(pgrep -af 'sleep 472[12]')"
		pkill -9 -f "sleep 472[12]"
	fi
	"$VJ" status --state g.txt.state 2>&1 | grep -q '^a  *interrupted' || fail "status: $("$VJ" status --state g.txt.state 2>&1)"
	sed -i 's/sleep 4721 & sleep 4722; //' g.txt
	"$VJ" run-graph -q g.txt || fail "the run after failed"
	[ "$(tr '\n' ' ' < ran.txt)" = "a b " ] || fail "ran: $(cat ran.txt)"
}

# kill -9 of vjbuild: the command it was running dies with it (a vfork
# child asks for its parent's death signal before execve).
test_kill9_takes_the_running_command_with_it() {
	printf 'a: | sleep 4731\n' > g.txt
	"$VJ" run-graph -q g.txt > out.txt 2>&1 & local vj=$!
	for _ in $(seq 100); do pgrep -f "sleep 473[1]" > /dev/null && break; sleep 0.05; done
	pgrep -f "sleep 473[1]" > /dev/null || { fail "the command did not start"; kill -9 $vj; return; }
	kill -9 $vj; wait $vj 2>/dev/null
	sleep 1
	if pgrep -f "sleep 473[1]" > /dev/null; then
		fail "the command outlived vjbuild by a second"
		pkill -9 -f "sleep 473[1]"
	fi
}

# A command's log keeps its last 32 MiB (SCHED_LOG_LIMIT), after a line
# saying what was cut.
test_loud_command_keeps_the_tail_of_its_log() {
	printf 'loud: | sh -c "yes a-loud-line | head -n 3000000; echo the-end"\n' > g.txt
	"$VJ" run-graph -q g.txt || { fail "run failed"; return; }
	local log=g.txt.state/logs/latest/loud.log
	[ "$(stat -c %s $log)" -le $((32 * 1024 * 1024 + 4096)) ] || fail "the log is $(stat -c %s $log) bytes"
	head -1 $log | grep -q '^vjbuild: [0-9]* bytes of this log were cut' || fail "first line: $(head -c 100 $log)"
	[ "$(tail -1 $log)" = the-end ] || fail "last line: $(tail -1 $log)"
}

test_valgrind_run_graph_has_no_leaks() {
	command -v valgrind > /dev/null || { echo "    skipped: valgrind is not installed"; return $SKIP_RC; }
	[ "${SANITIZED:-0}" = 1 ] && { echo "    skipped: valgrind cannot run a sanitizer build (the plain build's run covers this)"; return $SKIP_RC; }
	diamond
	printf 'f: e | sh -c "echo failing; exit 1"\nt: | sleep 5\n' >> g.txt
	local vg="valgrind -q --leak-check=full --show-leak-kinds=definite,indirect,possible --errors-for-leak-kinds=definite,indirect,possible --trace-children=no"
	local args
	for args in "-k -j3 --timeout 1" "-k -j3 --timeout 1" "-n" "--always -k --timeout 1 --rusage"; do
		$vg --log-file=vg.txt "$VJ" run-graph $args g.txt > out.txt 2>&1
		[ $? -le 1 ] || fail "run-graph $args: $(tail -3 out.txt)"
		[ ! -s vg.txt ] || fail "run-graph $args: $(head -20 vg.txt)"
	done
}

# Makefile: six targets that each mark themselves running for 0.3 s and
# record how many marks they saw.
counting_makefile() {
	mkdir -p run
	printf '%s\n' 'T := 1 2 3 4 5 6' 'all: $(T)' '$(T):' \
	    '	@touch run/$(X)$@; ls run | wc -l >> seen; sleep 0.3; rm run/$(X)$@' > Makefile
}

# Run by a make with a jobserver (a `+` recipe), vjbuild joins it as a
# sub-make does: two vjbuilds under `make -j3`, each -j3 with three makes
# below, never run more than three jobs at once in all.
test_vjbuild_under_make_joins_its_jobserver() {
	command -v make > /dev/null || { echo "    skipped: no make"; return $SKIP_RC; }
	counting_makefile
	printf 'a1: | make -s X=a1\nb1: | make -s X=b1\nc1: | make -s X=c1\n' > g1.txt
	printf 'a2: | make -s X=a2\nb2: | make -s X=b2\nc2: | make -s X=c2\n' > g2.txt
	printf '%s\n' 'all: one two' 'one:' "	+$VJ run-graph -q -j3 --state s1 g1.txt" \
	    'two:' "	+$VJ run-graph -q -j3 --state s2 g2.txt" > top.mk
	make -s -j3 -f top.mk > out.txt 2>&1 || { fail "make: $(cat out.txt)"; return; }
	[ "$(wc -l < seen)" = 36 ] || fail "$(wc -l < seen) jobs ran, not 36"
	[ "$(sort -n seen | tail -1)" -le 3 ] || fail "$(sort -n seen | tail -1) jobs at once under make -j3"
	# Without the `+`, make keeps its jobserver to itself: each vjbuild
	# makes its own, and the two together go past three.
	rm -rf seen s1 s2
	sed -i 's/^\t+/\t/' top.mk
	make -s -j3 -f top.mk > out.txt 2>&1 || { fail "make without +: $(cat out.txt)"; return; }
	[ "$(sort -n seen | tail -1)" -gt 3 ] || fail "without joining only $(sort -n seen | tail -1) at once (the test shows nothing)"
}

test_makes_below_share_the_j_budget() {
	command -v make > /dev/null || { echo "    skipped: no make"; return $SKIP_RC; }
	counting_makefile
	# One task: its make runs three jobs at once on -j3's tokens.
	echo 'a: | make -s X=a' > one.txt
	"$VJ" run-graph -q -j3 one.txt || { fail "one make failed"; return; }
	[ "$(sort -n seen | tail -1)" = 3 ] || fail "one make under -j3 ran $(sort -n seen | tail -1) at once, not 3"
	# Three tasks, three makes: still never more than three jobs.
	rm seen
	printf 'a: | make -s X=a\nb: | make -s X=b\nc: | make -s X=c\n' > three.txt
	"$VJ" run-graph -q -j3 three.txt || { fail "three makes failed"; return; }
	[ "$(wc -l < seen)" = 18 ] || fail "$(wc -l < seen) jobs ran, not 18"
	[ "$(sort -n seen | tail -1)" -le 3 ] || fail "$(sort -n seen | tail -1) jobs at once under -j3"
	# Without the jobserver, makes told -j3 each take three.
	rm seen
	printf 'a: | make -s -j3 X=a\nb: | make -s -j3 X=b\nc: | make -s -j3 X=c\n' > own.txt
	"$VJ" run-graph -q -j3 --no-jobserver own.txt || { fail "--no-jobserver failed"; return; }
	[ "$(sort -n seen | tail -1)" -gt 3 ] || fail "without the jobserver only $(sort -n seen | tail -1) at once (the test shows nothing)"
	echo "    (without the jobserver: $(sort -n seen | tail -1) jobs at once under -j3)"
}

# vjbuild log TASK --follow while TASK runs: what it writes, then the end
# when its record says it ended; --run N a run before.
test_log_follows_a_running_task() {
	printf 'slow: | sh -c "echo first; sleep 1.5; echo second"\n' > g.txt
	"$VJ" run-graph -q g.txt > run.txt 2>&1 &
	local pid=$!
	for _ in $(seq 1 50); do [ -s g.txt.state/logs/latest/slow.log ] && break; sleep 0.1; done
	timeout 20 "$VJ" log slow --follow --state g.txt.state > follow.txt 2>&1; rc=$?
	wait $pid || fail "the run failed: $(cat run.txt)"
	[ $rc = 0 ] || fail "log --follow: exit $rc: $(cat follow.txt)"
	[ "$(cat follow.txt)" = "$(printf 'first\nsecond')" ] || fail "followed: $(cat follow.txt)"
	sed -i 's/echo second/echo third/' g.txt
	"$VJ" run-graph -q g.txt > /dev/null 2>&1 || fail "second run"
	"$VJ" log slow --state g.txt.state | grep -q third || fail "log: the last run's"
	"$VJ" log slow --run 1 --state g.txt.state | grep -q second || fail "log --run 1: $("$VJ" log slow --run 1 --state g.txt.state)"
}

# --events into a FIFO whose reader goes away after one line: the run goes
# on to its end and says so once.
test_events_reader_that_goes_away_does_not_stop_the_run() {
	for i in $(seq 1 20); do echo "t$i: | sleep 0.05"; done > g.txt
	mkfifo ev
	head -1 ev > first.txt &
	"$VJ" run-graph -j2 --events ev g.txt > out.txt 2> err.txt || fail "exit $?: $(tail -3 err.txt)"
	wait
	grep -q '"event":"run_begin"' first.txt || fail "first event: $(cat first.txt)"
	grep -q '20 tasks: 20 ran' out.txt || fail "$(cat out.txt)"
	[ "$(grep -c 'no more events are written' err.txt)" = 1 ] || fail "said: $(grep events err.txt)"
}

# On a terminal: the status line never wider than the terminal, and no
# ETA before durations are measured; SIGUSR1 lists what runs.
test_terminal_line_fits_and_eta_waits_for_measurements() {
	command -v script > /dev/null || { echo "    skipped: no script(1) (util-linux)"; return $SKIP_RC; }
	for i in $(seq 1 6); do echo "a-rather-long-task-name-number-$i: | sleep 1.2"; done > g.txt
	script -qec "stty cols 40; $VJ run-graph -j3 g.txt" /dev/null > tty1.txt 2>&1 || { fail "run: $(cat tty1.txt)"; return; }
	python3 - tty1.txt first <<-'EOF' || fail "first run: $(cat -v tty1.txt | head -5)"
	import re, sys
	text = open(sys.argv[1], "rb").read().decode()
	lines = [p for p in re.split(r"\r\x1b\[K|\r?\n", text) if p.startswith("[")]
	assert lines, text
	assert all(len(l) <= 39 for l in lines), [l for l in lines if len(l) > 39]
	assert not any("ETA" in l for l in lines), [l for l in lines if "ETA" in l]
	EOF
	"$VJ" run-graph -q --always -j3 g.txt > /dev/null 2>&1 || fail "second run"
	script -qec "stty cols 200; $VJ run-graph --always -j3 g.txt" /dev/null > tty2.txt 2>&1 || fail "third run"
	grep -q 'ETA ' tty2.txt || fail "no ETA once durations are recorded: $(cat -v tty2.txt | head -3)"
	"$VJ" run-graph --always -j2 g.txt > out.txt 2> err.txt &
	local pid=$!
	sleep 0.6; kill -USR1 $pid; wait $pid || fail "run with SIGUSR1: exit $?"
	grep -q '^\[0/6\] running 2:' err.txt && grep -qE '^    a-rather-long-task-name-number-[0-9] \(0\.[0-9]s\)' err.txt ||
	    fail "SIGUSR1: $(cat err.txt)"
}

run_tests "$@"
