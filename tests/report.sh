#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# The operator's view: runs kept with their logs (vjbuild runs, vjbuild
# log), the JSON outputs and the events stream, the progress lines of a
# run in a log, and report.html opened in a real browser (Debian's
# chromium, headless).
#   usage: VJBUILD=/path/to/vjbuild bash tests/report.sh [TEST...]
. "$(dirname "$0")/lib.sh"

# Three runs of two jails with a port: ok, failed (the port's build), ok.
# The failing build prints markup that would run script if the report
# did not escape it.
three_runs() {
	setup 2
	mkdir -p ports
	make_port app 'echo compiling app; mkdir -p $STAGEDIR$PREFIX/share; echo app > $STAGEDIR$PREFIX/share/app'
	printf 'ports = ports\npackages = app\n' >> vjbuild.conf
	"$VJ" -j2 --events ev1.jsonl hosts.txt > out1.txt 2> err1.txt || { fail "run 1: $(tail -3 out1.txt)"; return 1; }
	cp ports/app/build build.ok
	cat > ports/app/build <<-'EOF'
	echo 'app.c:7: error: <script>document.title="pwned"</script><img src=x onerror="document.title=1">'
	exit 3
	EOF
	"$VJ" -j2 hosts.txt > out2.txt 2> err2.txt && { fail "run 2 did not fail"; return 1; }
	cp build.ok ports/app/build
	"$VJ" -j2 hosts.txt > out3.txt 2> err3.txt || { fail "run 3: $(tail -3 out3.txt)"; return 1; }
}

test_runs_and_logs_are_kept_per_run() {
	need_root || return
	three_runs || return
	"$VJ" runs > runs.txt || { fail "runs: exit $?"; return; }
	[ "$(grep -cE '^ +[0-9]+ ' runs.txt)" = 3 ] || fail "runs: $(cat runs.txt)"
	grep -qE '^ +2 .* failed ' runs.txt || fail "run 2 not failed: $(cat runs.txt)"
	"$VJ" runs --json | python3 -c '
import json, sys
r = json.load(sys.stdin)
assert [x["status"] for x in r] == ["ok", "failed", "ok"], r
assert r[1]["failed"] == 1 and r[0]["ran"] > 0, r
' || fail "runs --json"
	"$VJ" log build:app --run 2 > log2.txt || fail "log --run 2: exit $?"
	grep -q 'app.c:7: error' log2.txt || fail "log of the failed run: $(cat log2.txt)"
	"$VJ" log build:app --run 1 > log1.txt || fail "log --run 1"
	grep -q 'compiling app' log1.txt && ! grep -q error log1.txt || fail "log of run 1: $(cat log1.txt)"
	# Without --run: its last run (run 3 took the package run 1 built).
	"$VJ" log build:app > logl.txt || fail "log: exit $?"
	grep -q 'app.c:7' logl.txt && fail "log without --run shows run 2's: $(cat logl.txt)"
	"$VJ" log install:app@web1 --run 2 > skip.txt || fail "log of a skipped task"
	grep -q 'did not run in run 2: skipped, build:app failed' skip.txt || fail "skipped: $(cat skip.txt)"
	"$VJ" log no:such > /dev/null 2> err.txt; [ $? = 2 ] || fail "an unknown task: exit $?"
	grep -q 'task no:such is in no run kept' err.txt || fail "$(cat err.txt)"
	[ "$(readlink state/logs/latest)" = 3 ] || fail "latest -> $(readlink state/logs/latest)"
	[ -s state/logs/2/build:app.log ] || fail "run 2's log is gone"
}

test_history_keeps_the_last_n_runs() {
	need_root || return
	setup 1
	echo 'history = 2' >> vjbuild.conf
	for i in 1 2 3; do "$VJ" --always hosts.txt > /dev/null 2>&1 || { fail "run $i"; return; }; done
	[ "$("$VJ" runs --json | python3 -c 'import json,sys; print(" ".join(str(r["run"]) for r in json.load(sys.stdin)))')" = "2 3" ] ||
	    fail "runs kept: $("$VJ" runs)"
	[ ! -e state/logs/1 ] && [ -d state/logs/2 ] || fail "logs: $(ls state/logs)"
	sed -i 's/^history = 2$/history = 0/' vjbuild.conf
	"$VJ" hosts.txt > out.txt 2>&1; [ $? = 2 ] || fail "history = 0 accepted"
	grep -q "vjbuild.conf:[0-9]*: history '0' is not a number of runs" out.txt || fail "$(cat out.txt)"
}

test_json_outputs_and_events_parse() {
	need_root || return
	three_runs || return
	"$VJ" status --json | python3 -m json.tool > /dev/null || fail "status --json"
	"$VJ" status web1 --json | python3 -c '
import json, sys
s = json.load(sys.stdin)
assert [j["name"] for j in s["jails"]] == ["web1"], s["jails"]
assert s["tasks"] and all(t["jail"] == "web1" for t in s["tasks"]), s["tasks"]
' || fail "status web1 --json"
	"$VJ" ps --json | python3 -c 'import json,sys; assert json.load(sys.stdin) == []' || fail "ps --json"
	"$VJ" cache ls --json | python3 -c '
import json, sys
p = json.load(sys.stdin)
assert [x["port"] for x in p] == ["app"] and len(p[0]["sha256"]) == 64, p
' || fail "cache ls --json"
	python3 - ev1.jsonl <<-'EOF' || fail "events: $(head -3 ev1.jsonl)"
	import json, sys
	ev = [json.loads(l) for l in open(sys.argv[1])]
	kinds = [e["event"] for e in ev]
	assert kinds[0] == "run_begin" and kinds[-1] == "run_end", kinds
	starts = {e["task"] for e in ev if e["event"] == "task_start"}
	ends = {e["task"]: e for e in ev if e["event"] == "task_end"}
	assert starts == set(ends) and "build:app" in starts, (starts, ends)
	# -j2: slots 0 and 1, and 2 the idle slot's.
	assert all(e["status"] == "ok" and e["slot"] in (0, 1, 2) for e in ends.values())
	jails = {e["jail"]: e["status"] for e in ev if e["event"] == "jail"}
	assert jails == {"web1": "ok", "web2": "ok"}, jails
	assert ev[-1]["ran"] == len(starts) and ev[-1]["status"] == "ok", ev[-1]
	EOF
}

test_log_lines_have_counts_and_times() {
	need_root || return
	three_runs || return
	# Not a terminal: one line a finished task, [N/M] and a time.
	n=$(grep -cE '^\[[0-9]+/[0-9]+\] [0-9]{2}:[0-9]{2}:[0-9]{2} ok +[a-z]' err1.txt)
	[ "$n" -gt 10 ] || fail "progress lines: $(head -3 err1.txt)"
	grep -qE '^\[[0-9]+/[0-9]+\] [0-9:]{8} FAILED +build:app' err2.txt || fail "failure line: $(cat err2.txt)"
	# The summary names the failure for each jail it stopped.
	grep -q '^web1 .*FAILED  install:app@web1: skipped, build:app failed (log: .*/logs/2/build:app.log)' out2.txt ||
	    fail "summary: $(cat out2.txt)"
}

# Chromium's DOM of report.html after load, and what it said on its
# console; a skip when there is no chromium.
browse() {
	command -v chromium > /dev/null || { echo "    skipped: no chromium (Debian package chromium; .ci/run installs it)"; return $SKIP_RC; }
	timeout 120 chromium --headless --no-sandbox --disable-gpu --no-first-run \
	    --host-resolver-rules='MAP * ~NOTFOUND' --enable-logging=stderr --v=0 \
	    --user-data-dir="$PWD/chromium" --dump-dom "file://$PWD/$1" > dom.html 2> console.txt ||
	    { fail "chromium: $(tail -3 console.txt)"; return 1; }
}

test_report_in_a_browser_shows_every_task_of_every_run() {
	need_root || return
	three_runs || return
	"$VJ" report > report.html || { fail "report: exit $?"; return; }
	grep -qiE '(src|href)="(https?:)?//' report.html && fail "the report loads something from a network"
	browse report.html || return
	grep -E ':CONSOLE|Uncaught|net::ERR' console.txt && fail "console errors"
	python3 - state/vjbuild.db dom.html <<-'EOF' || fail "the DOM"
	import sqlite3, sys
	from html.parser import HTMLParser
	db = sqlite3.connect(sys.argv[1])
	want = {}
	for run, name, started in db.execute("select run, name, started from task_runs"):
	    want.setdefault(run, set()).add(name)
	assert sorted(want) == [1, 2, 3], sorted(want)
	class P(HTMLParser):
	    def __init__(self):
	        super().__init__(); self.run = None; self.seen = {}; self.bars = {}
	        self.title = ""; self.in_title = False; self.pre = ""; self.in_pre = False
	    def handle_starttag(self, tag, attrs):
	        a = dict(attrs)
	        if tag == "section" and "data-run" in a: self.run = int(a["data-run"])
	        if "data-task" in a and self.run is not None:
	            self.seen.setdefault(self.run, set()).add(a["data-task"])
	            if tag == "g": self.bars.setdefault(self.run, set()).add(a["data-task"])
	        if tag in ("script", "img", "iframe"): raise SystemExit("a %s element: %r" % (tag, a))
	        self.in_title = tag == "title"; self.in_pre = tag == "pre"
	    def handle_endtag(self, tag): self.in_title = self.in_pre = False
	    def handle_data(self, d):
	        if self.in_title: self.title += d
	        if self.in_pre: self.pre += d
	p = P(); p.feed(open(sys.argv[2]).read())
	for run, names in want.items():
	    assert p.seen.get(run, set()) >= names, (run, names - p.seen.get(run, set()))
	started = {r: {n for n, s in db.execute("select name, started from task_runs where run = ?", (r,)) if s}
	           for r in want}
	for run, names in started.items():
	    assert p.bars.get(run, set()) == names, (run, names ^ p.bars.get(run, set()))
	assert "pwned" not in p.title, p.title
	assert '<script>document.title="pwned"</script>' in p.pre, p.pre
	EOF
	grep -q 'class="bar ok crit"' report.html || fail "no critical path marked"
	"$VJ" report 2 > r2.html || fail "report 2"
	[ "$(grep -c '<section class="run"' r2.html)" = 1 ] || fail "report 2 shows other runs"
	"$VJ" report 9 > /dev/null 2> err.txt; [ $? = 2 ] || fail "report of a run not kept: exit $?"
}

run_tests "$@"
