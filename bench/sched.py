#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""The scheduler against ninja and GNU make, same graphs, same run.

  bench/sched.py [--rounds R] [--jobs J] [--json FILE] [--quick]
                 [--only throughput|quality] [--graphs flat,layered,chain]
                 [--tasks N] [--tools vjbuild,ninja[,make]] [--before BIN]

--before BIN runs another vjbuild beside them in the throughput rounds
(the tool "before"): a change against the build before it, the same work
in the same rounds.

1. Throughput: 10,000 independent tasks, a 100 x 100 layered graph
   (each task depends on two of the layer before), and a chain of 10,000
   (each task after the one before: what a chain costs a task against a
   flat graph). Every task is the same
   command for every tool, `touch out/NAME`, which needs no shell. Per tool:
   wall time of a fresh run, tasks per second, CPU (the tool and the
   commands it ran, from wait4), the tool's peak RSS (GNU time), and the
   time of a re-run with nothing to do. Each tool's own CPU is read from
   the tool itself: one more task, after all the others, copies
   /proc/$PPID/stat, whose utime and stime are the tool's own (its
   children's are apart), so the shell ninja puts around every command is
   not counted as ninja's. Also reported, as before: vjbuild's own CPU from
   its --rusage, and each tool's total CPU less the commands' CPU (vjbuild's
   total less its own), which counts ninja's shells as ninja's.
2. Scheduling quality: graphs of `sleep` tasks, a long chain beside many
   short tasks, at -j2 and -j4; the makespan against the lower bound
   max(critical path, total work / j), for vjbuild's first run (no
   durations known: every task weighs the same), its second (durations
   recorded by the first, --always), the same again as after an edit of
   every command (durations known, no record calling a task done), ninja,
   and make (file order, FIFO); beside them, the bound from the durations
   vjbuild recorded, and the makespan of vjbuild's own order on those
   durations with nothing between tasks (simulated).

The tools alternate round by round (the order rotates); each figure is the
median of the rounds. Prints tables; with --json writes every figure.
"""
import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VJ = os.environ.get("VJBUILD", os.path.join(TOP, "vjbuild"))
BEFORE = None	# --before: another vjbuild, the throughput's tool "before"


def run(argv, cwd, env=None):
    """Runs argv; returns (wall s, cpu s of it and its children, its peak
    RSS in KiB, stderr text). The peak comes from GNU time, a small C
    program: Linux folds the RSS a process had before execve into its
    ru_maxrss, so a tool started straight from Python would report
    Python's."""
    t0 = time.monotonic()
    p = subprocess.Popen(["/usr/bin/time", "-f", "vjbench-rss %M"] + argv,
                         cwd=cwd, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, env=env)
    # stderr may be long (a line a task): read it while waiting.
    err = p.stderr.read().decode()
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.monotonic() - t0
    p.returncode = os.waitstatus_to_exitcode(status)
    if p.returncode != 0:
        sys.exit("bench: %s failed (%d): %s" % (" ".join(argv), p.returncode,
                                                 err[-2000:]))
    m = re.search(r"vjbench-rss (\d+)", err)
    return wall, ru.ru_utime + ru.ru_stime, int(m.group(1)), err


# ---- graphs: name -> (deps, command) in file order ----

def flat(n):
    return [("t%d" % i, [], "touch out/t%d" % i) for i in range(n)]


def chain(n):
    return [("c%d" % i, ["c%d" % (i - 1)] if i else [], "touch out/c%d" % i)
            for i in range(n)]


def layered(w, h):
    g = []
    for l in range(h):
        for i in range(w):
            deps = [] if l == 0 else ["l%d_%d" % (l - 1, i),
                                      "l%d_%d" % (l - 1, (i * 7 + 3) % w)]
            deps = sorted(set(deps))
            g.append(("l%d_%d" % (l, i), deps, "touch out/l%d_%d" % (l, i)))
    return g


def sleepy(chain, chain_s, shorts, short_s, short_len):
    """short chains first in the file (the order a FIFO tool follows),
    then the long chain."""
    g = []
    for c in range(shorts):
        for k in range(short_len):
            name = "s%d_%d" % (c, k)
            g.append((name, ["s%d_%d" % (c, k - 1)] if k else [],
                      "sleep %g" % short_s))
    for k in range(chain):
        g.append(("c%d" % k, ["c%d" % (k - 1)] if k else [],
                  "sleep %g" % chain_s))
    return g


def same_sleep(cmd):
    """`sleep 1` -> `sleep 1.0`, `sleep 0.1` -> `sleep 0.10`: another
    command, the same sleep."""
    return cmd + ("0" if "." in cmd else ".0")


def write(g, d, only_vj=False):
    """graph.txt, build.ninja and a Makefile of the same graph; a `$` in a
    command is the shell's, written `$$` for ninja and make."""
    os.makedirs(d, exist_ok=only_vj)
    with open(os.path.join(d, "graph.txt"), "w") as f:
        for name, deps, cmd in g:
            f.write("%s: %s | %s\n" % (name, " ".join(deps), cmd))
    if only_vj:
        return
    with open(os.path.join(d, "build.ninja"), "w") as f:
        f.write("rule r\n  command = $cmd\n")
        for name, deps, cmd in g:
            f.write("build %s: r%s\n  cmd = %s\n" % (
                name, "".join(" " + x for x in deps),
                cmd.replace("$", "$$")))
            # ninja wants an output per edge: the task's name, made by
            # touch (the throughput graphs) or by nothing (sleep graphs:
            # only fresh runs are timed).
    with open(os.path.join(d, "Makefile"), "w") as f:
        f.write(".PHONY: all\nall: %s\n" % " ".join(n for n, _, _ in g))
        for name, deps, cmd in g:
            f.write("%s:%s\n\t@%s\n" % (name, "".join(" " + x for x in deps),
                                        cmd.replace("$", "$$")))


def clean(d):
    for x in ("out", "graph.txt.state", ".ninja_log", ".ninja_deps"):
        p = os.path.join(d, x)
        if os.path.isdir(p):
            shutil.rmtree(p)
        elif os.path.exists(p):
            os.unlink(p)
    os.makedirs(os.path.join(d, "out"))


OWN = "zz_own"


def with_own(g):
    """g and a last task, after every task no other depends on, that copies
    the running tool's /proc/PID/stat (the shell's parent is the tool).
    A graph file's line holds at most 4 KiB: more than 300 such tasks are
    joined 300 at a time by `touch` tasks first (34 more tasks for 10,000
    independent ones, 0.3%; what the tool spends on them is in its own
    CPU)."""
    used = {x for _, deps, _ in g for x in deps}
    sinks = [n for n, _, _ in g if n not in used]
    joins = []
    if len(sinks) > 300:
        for k in range(0, len(sinks), 300):
            name = "zz_join%d" % (k // 300)
            joins.append((name, sinks[k:k + 300], "touch out/" + name))
        sinks = [n for n, _, _ in joins]
    return g + joins + [(OWN, sinks, "cat /proc/$PPID/stat > out/" + OWN)]


def own_of_stat(wd, user_only=False):
    """The tool's own user + system CPU seconds (user only: its user
    seconds), from the copy of its /proc/PID/stat (fields 14 and 15,
    after the parenthesized name)."""
    with open(os.path.join(wd, "out", OWN)) as f:
        rest = f.read().rsplit(")", 1)[1].split()
    return (int(rest[11]) + (0 if user_only else int(rest[12]))) / \
        os.sysconf("SC_CLK_TCK")


def own_of_vj(err):
    m = re.search(r"own cpu ([\d.]+)s user ([\d.]+)s system, peak rss (\d+)",
                  err)
    return (float(m.group(1)) + float(m.group(2)), int(m.group(3)))


def tool_argv(tool, j):
    if tool in ("vjbuild", "before"):
        return [VJ if tool == "vjbuild" else BEFORE, "run-graph", "-q",
                "--rusage", "-j%d" % j, "graph.txt"]
    if tool == "ninja":
        return ["ninja", "-j%d" % j]
    return ["make", "-s", "-j%d" % j, "-r", "-R"]


def throughput(root, name, g, j, rounds, out, tools):
    d = os.path.join(root, name)
    # ninja's outputs are the names; touch makes out/NAME: point ninja's
    # build lines at out/NAME so that a re-run finds them.
    go = with_own(g)
    g2 = [("out/" + n, ["out/" + x for x in deps], cmd) for n, deps, cmd in go]
    os.makedirs(d)
    write(go, os.path.join(d, "vj"))
    write(g2, os.path.join(d, "nm"))
    if "before" in tools:
        write(go, os.path.join(d, "vb"))
    res = {t: {"wall": [], "cpu": [], "rss": [], "noop": [], "own": [],
               "stat": [], "stat_user": []} for t in tools}
    vj_cmd_cpu = []
    for r in range(rounds):
        order = tools[r % len(tools):] + tools[:r % len(tools)]
        for t in order:
            wd = os.path.join(d, {"vjbuild": "vj", "before": "vb"}.get(t,
                                                                     "nm"))
            clean(wd)
            wall, cpu, rss, err = run(tool_argv(t, j), wd)
            res[t]["wall"].append(wall)
            res[t]["cpu"].append(cpu)
            res[t]["rss"].append(rss)
            res[t]["stat"].append(own_of_stat(wd))
            res[t]["stat_user"].append(own_of_stat(wd, True))
            if t in ("vjbuild", "before"):
                own = own_of_vj(err)[0]
                res[t]["own"].append(own)
            if t == "vjbuild":
                vj_cmd_cpu.append(cpu - own)
            wall, cpu, _, _ = run(tool_argv(t, j), wd)
            res[t]["noop"].append(wall)
    n = len(g)
    cmd_cpu = statistics.median(vj_cmd_cpu)
    rows = {}
    for t in tools:
        m = {k: statistics.median(v) for k, v in res[t].items() if v}
        rows[t] = {
            "wall_s": m["wall"], "tasks_per_s": n / m["wall"],
            "cpu_s": m["cpu"],
            "own_cpu_us_per_task": m["stat"] / n * 1e6,
            "own_user_cpu_us_per_task": m["stat_user"] / n * 1e6,
            "own_cpu_us_per_task_by_subtraction": (m["cpu"] - cmd_cpu) / n
            * 1e6,
            "peak_rss_kib": m["rss"], "noop_rerun_s": m["noop"],
            "rounds": {k: v for k, v in res[t].items() if v},
        }
        if t in ("vjbuild", "before"):
            rows[t]["own_cpu_us_per_task_by_rusage"] = m["own"] / n * 1e6
    # vjbuild's memory per task: its peak less that of a one-task graph.
    d1 = os.path.join(d, "one")
    write(g[:1], d1)
    clean(d1)
    _, _, base_rss, _ = run(tool_argv("vjbuild", j), d1)
    rows["vjbuild"]["bytes_per_task"] = \
        (rows["vjbuild"]["peak_rss_kib"] - base_rss) * 1024 / n
    rows["vjbuild"]["one_task_rss_kib"] = base_rss
    out[name] = {"tasks": n, "jobs": j, "commands_cpu_s": cmd_cpu,
                 "tools": rows}
    print("\n%s: %d tasks (and one that reads the tool's CPU), -j%d, "
          "%d rounds (median)" % (name, n, j, rounds))
    print("%-8s %9s %9s %9s %12s %12s %10s %10s" % (
        "tool", "wall s", "tasks/s", "cpu s", "own us/task", "(total-cmds)",
        "rss KiB", "no-op s"))
    for t in tools:
        x = rows[t]
        print("%-8s %9.3f %9.0f %9.3f %12.1f %12.1f %10d %10.3f" % (
            t, x["wall_s"], x["tasks_per_s"], x["cpu_s"],
            x["own_cpu_us_per_task"],
            x["own_cpu_us_per_task_by_subtraction"], x["peak_rss_kib"],
            x["noop_rerun_s"]))
    print("vjbuild's own CPU by its --rusage: %.1f us/task" %
          rows["vjbuild"]["own_cpu_us_per_task_by_rusage"])
    v, nj = rows["vjbuild"], rows["ninja"]
    print("own user CPU: %s" % ", ".join(
        "%s %.1f us/task" % (t, rows[t]["own_user_cpu_us_per_task"])
        for t in tools))
    print("vjbuild/ninja: wall %.2f, own cpu %.2f, no-op %.2f; vjbuild "
          "memory %.0f bytes/task" % (
              v["wall_s"] / nj["wall_s"],
              v["own_cpu_us_per_task"] / max(nj["own_cpu_us_per_task"], 1e-9),
              v["noop_rerun_s"] / nj["noop_rerun_s"], v["bytes_per_task"]))
    if "before" in rows:
        b = rows["before"]
        print("vjbuild/before (%s): own cpu %.2f (by --rusage %.2f), no-op "
              "%.2f; before/ninja: own cpu %.2f, no-op %.2f" % (
                  BEFORE, v["own_cpu_us_per_task"] / b["own_cpu_us_per_task"],
                  v["own_cpu_us_per_task_by_rusage"] /
                  b["own_cpu_us_per_task_by_rusage"],
                  v["noop_rerun_s"] / b["noop_rerun_s"],
                  b["own_cpu_us_per_task"] / nj["own_cpu_us_per_task"],
                  b["noop_rerun_s"] / nj["noop_rerun_s"]))


def critical(g, dur):
    finish = {}
    for name, deps, _ in g:      # file order is a topological order here
        finish[name] = dur[name] + max([finish[x] for x in deps] or [0])
    return max(finish.values())


def recorded(d):
    """The durations the first run recorded, which include each task's
    process start and not only its sleep."""
    import sqlite3
    db = sqlite3.connect(os.path.join(d, "graph.txt.state", "vjbuild.db"))
    dur = dict(db.execute("SELECT name, duration FROM tasks").fetchall())
    db.close()
    return dur


def bound(g, dur, j):
    return max(critical(g, dur), sum(dur.values()) / j)


def ideal(g, dur, j):
    """The makespan of vjbuild's order with nothing between a task's end
    and the next start: list scheduling on j slots, the ready task with
    the longest remaining path (by dur) first, ties by name, as in
    sched/machine.c. What is left above the bound here is the order's (or
    the graph's: tasks do not divide), not vjbuild's overhead."""
    import heapq
    rdeps = {n: [] for n, _, _ in g}
    unmade = {}
    for n, deps, _ in g:
        unmade[n] = len(deps)
        for x in deps:
            rdeps[x].append(n)
    weight = {}
    for n, _, _ in reversed(g):       # file order is topological
        weight[n] = dur[n] + max([weight[x] for x in rdeps[n]] or [0])
    ready = [(-weight[n], n) for n in unmade if unmade[n] == 0]
    heapq.heapify(ready)
    running, now, end = [], 0.0, 0.0
    while ready or running:
        while ready and len(running) < j:
            _, n = heapq.heappop(ready)
            heapq.heappush(running, (now + dur[n], n))
        now, n = heapq.heappop(running)
        end = max(end, now)
        for x in rdeps[n]:
            unmade[x] -= 1
            if unmade[x] == 0:
                heapq.heappush(ready, (-weight[x], x))
    return end


def quality(root, name, g, jobs, rounds, out):
    d = os.path.join(root, name)
    write(g, d)
    dur = {n: float(cmd.split()[1]) for n, _, cmd in g}
    work = sum(dur.values())
    cp = critical(g, dur)
    out[name] = {"tasks": len(g), "work_s": work, "critical_path_s": cp,
                 "by_jobs": {}}
    print("\n%s: %d sleep tasks, work %.1fs, critical path %.1fs, %d rounds"
          % (name, len(g), work, cp, rounds))
    cols = ("vj first", "vj second", "vj edited", "ninja", "make")
    print("%-4s %8s %10s %10s %10s %10s %10s" % (("-j", "bound s") + cols))
    for j in jobs:
        lb = max(cp, work / j)
        res = {"vj first": [], "vj second": [], "vj edited": [],
               "ninja": [], "make": []}
        lbr, ideals = [], []
        for r in range(rounds):
            tools = ["vj", "ninja", "make"]
            for t in tools[r % 3:] + tools[:r % 3]:
                clean(d)
                if t == "vj":
                    argv = tool_argv("vjbuild", j)
                    res["vj first"].append(run(argv, d)[0])
                    dur = recorded(d)
                    lbr.append(bound(g, dur, j))
                    ideals.append(ideal(g, dur, j))
                    # The second run: every task again, durations known.
                    # --always unmakes every done record first, in one
                    # fsync'd transaction (docs/RELIABILITY.md).
                    res["vj second"].append(run(argv + ["--always"], d)[0])
                    # As after an edit: every command changed, the same
                    # work (sleep 0.1 -> sleep 0.10), so every task runs
                    # again with its duration known, its record not done.
                    write([(n, deps, same_sleep(cmd)) for n, deps, cmd in
                           g], d, only_vj=True)
                    res["vj edited"].append(run(argv, d)[0])
                    write(g, d, only_vj=True)
                else:
                    res[t].append(run(tool_argv(t, j), d)[0])
        m = {k: statistics.median(v) for k, v in res.items()}
        lbm = statistics.median(lbr)
        idm = statistics.median(ideals)
        out[name]["by_jobs"][str(j)] = {
            "lower_bound_s": lb, "recorded_lower_bound_s": lbm,
            "ideal_order_s": idm, "ideal_orders": ideals,
            "over_ideal_order": {k: v / idm - 1 for k, v in m.items()},
            "makespan_s": m, "over_bound": {k: v / lb - 1 for k, v in
                                            m.items()},
            "over_recorded_bound": {k: v / lbm - 1 for k, v in m.items()},
            "rounds": res, "recorded_bounds": lbr}
        print("%-4d %8.2f %10s %10s %10s %10s %10s" % (j, lb, *(
            "%.2f %+.0f%%" % (m[k], (m[k] / lb - 1) * 100) for k in cols)))
        print("     %8.2f %10s %10s %10s %10s %10s  (bound from the durations "
              "vjbuild recorded)" % (lbm, *("%+.1f%%" % ((m[k] / lbm - 1) *
                                     100) for k in cols)))
        print("     %8.2f %10s %10s %10s %10s %10s  (vjbuild's order at no "
              "cost, %+.1f%% over that bound)" % (idm, *(
                  "%+.1f%%" % ((m[k] / idm - 1) * 100) for k in cols),
                  (idm / lbm - 1) * 100))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--jobs", type=int, default=4)
    ap.add_argument("--json")
    ap.add_argument("--quick", action="store_true",
                    help="1,000 tasks and 10 x 10: a smoke run")
    ap.add_argument("--only", choices=["throughput", "quality"])
    ap.add_argument("--graphs", default="flat,layered,chain",
                    help="the throughput graphs to run")
    ap.add_argument("--tasks", type=int,
                    help="tasks of the flat graph and the chain (10,000)")
    ap.add_argument("--before", help="another vjbuild binary, run beside "
                    "in the throughput rounds as the tool 'before'")
    ap.add_argument("--tools", default="vjbuild,ninja,make",
                    help="the throughput runs' tools (vjbuild and ninja "
                    "at least)")
    a = ap.parse_args()
    for tool in ("ninja", "make"):
        if shutil.which(tool) is None:
            sys.exit("bench: %s is not installed (apt-get install "
                     "ninja-build make)" % tool)
    if not os.access(VJ, os.X_OK):
        sys.exit("bench: build vjbuild first (make)")
    out = {"machine": {"cpus": os.cpu_count(), "uname": " ".join(os.uname()),
                       "ninja": subprocess.run(["ninja", "--version"],
                                               capture_output=True,
                                               text=True).stdout.strip(),
                       "make": subprocess.run(["make", "--version"],
                                              capture_output=True,
                                              text=True).stdout.split("\n")[0]}}
    root = tempfile.mkdtemp(prefix="vjbuild-sched.")
    try:
        n, w = (1000, 10) if a.quick else (10000, 100)
        n = a.tasks or n
        tools = a.tools.split(",")
        if a.before:
            global BEFORE
            BEFORE = os.path.abspath(a.before)
            tools.append("before")
            out["before"] = BEFORE
        graphs = {"flat": lambda: flat(n), "layered": lambda: layered(w, w),
                  "chain": lambda: chain(n)}
        if not set(a.graphs.split(",")) <= set(graphs) or not \
                {"vjbuild", "ninja"} <= set(tools) <= {"vjbuild", "ninja",
                                                        "make", "before"}:
            sys.exit("bench: --graphs takes flat, layered, chain; --tools "
                     "vjbuild and ninja, and make if wanted")
        if a.only != "quality":
            for name in a.graphs.split(","):
                throughput(root, name, graphs[name](), a.jobs, a.rounds,
                           out, tools)
        if a.only == "throughput":
            return finish(a, out)
        scale = 0.5 if a.quick else 1.0
        # A chain of 5 x 1 s beside 60 independent tasks of 0.1 s: FIFO
        # (file order: the short ones first) starts the chain late.
        quality(root, "chain_vs_independent",
                sleepy(5, 1.0 * scale, 60, 0.1 * scale, 1), [2, 4],
                a.rounds, out)
        # A chain of 3 x 1.5 s beside 10 chains of 6 x 0.1 s: counting
        # tasks (no durations known) puts the short chains first, as
        # ninja's critical path by count does; durations put the long one.
        quality(root, "chain_vs_short_chains",
                sleepy(3, 1.5 * scale, 10, 0.1 * scale, 6), [2, 4],
                a.rounds, out)
    finally:
        shutil.rmtree(root)
    finish(a, out)


def finish(a, out):
    if a.json:
        with open(a.json, "w") as f:
            json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
