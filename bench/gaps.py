#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""Where a second run of a sleep graph spends what is above the bound.

  bench/gaps.py VJBUILD J GRAPH [ROUNDS]      GRAPH: indep or chains

For one of bench/sched.py's sleep graphs at -jJ, ROUNDS times (3): a first
run, then a second with --always, timed as bench/sched.py times it, and
from the second run's records (each task's start, written just before it
is started, and end, when it was reaped): the time from this program's
clock before starting vjbuild to the first task's start ("before"), the
slots' idle time between a task's end and the next start, summed and
divided by J ("between", the tasks put on the slot that freed first), and
the time from the last task's end to vjbuild's exit as seen here
("after"); beside them the bound from the first run's durations and the
makespan of vjbuild's order on those durations with nothing between the
tasks (bench/sched.py's ideal()), which is what the graph itself costs.
"""
import os
import shutil
import sqlite3
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sched as S	# noqa: E402  bench/sched.py

if len(sys.argv) not in (4, 5) or sys.argv[3] not in ("indep", "chains"):
    sys.exit(__doc__.split("\n\n")[1])
vj = os.path.abspath(sys.argv[1])
j = int(sys.argv[2])
g = {"indep": S.sleepy(5, 1.0, 60, 0.1, 1),
     "chains": S.sleepy(3, 1.5, 10, 0.1, 6)}[sys.argv[3]]
rounds = int(sys.argv[4]) if len(sys.argv) == 5 else 3
root = tempfile.mkdtemp(prefix="vjbench-gaps-")
d = os.path.join(root, "g")
print("%-7s %-7s %-7s %-7s %-9s %-9s %-9s" % (
    "over", "order", "before", "between", "after", "wall s", "bound s"))
try:
    for r in range(rounds):
        shutil.rmtree(d, ignore_errors=True)
        S.write(g, d)
        S.clean(d)
        argv = [vj, "run-graph", "-q", "-j%d" % j, "graph.txt"]
        S.run(argv, d)
        dur = S.recorded(d)
        lb = S.bound(g, dur, j)
        ideal = S.ideal(g, dur, j)
        t0 = time.time()
        wall = S.run(argv + ["--always"], d)[0]
        db = sqlite3.connect(os.path.join(d, "graph.txt.state",
                                          "vjbuild.db"))
        rows = db.execute("SELECT started, ended FROM tasks "
                          "ORDER BY started").fetchall()
        db.close()
        free = [rows[0][0]] * j
        idle = 0.0
        for started, ended in rows:
            k = min(range(j), key=lambda i: free[i])
            idle += max(started - free[k], 0.0)
            free[k] = ended
        print("%+6.2f%% %+6.2f%% %5.1fms %5.1fms %5.1fms %9.3f %9.3f" % (
            (wall / lb - 1) * 100, (ideal / lb - 1) * 100,
            (rows[0][0] - t0) * 1000, idle / j * 1000,
            (t0 + wall - max(e for _, e in rows)) * 1000, wall, lb),
            flush=True)
finally:
    shutil.rmtree(root)
