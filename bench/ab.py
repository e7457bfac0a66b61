#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""Two or more vjbuild binaries on the sleep graphs' second run.

  bench/ab.py ROUNDS VJBUILD...

For each of bench/sched.py's two sleep graphs at -j2 and -j4, and each
binary, ROUNDS times, the binaries turned by one place each round: a
first run, then a second with --always, timed as bench/sched.py times
it; prints how far the second run is over the bound from the durations
the first run of the same binary recorded (median and each round's).
For telling apart changes to the turn of the loop, whose effect is
smaller than the spread between invocations of bench/sched.py.
"""
import os
import shutil
import statistics
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sched as S	# noqa: E402  bench/sched.py

rounds = int(sys.argv[1])
bins = [os.path.abspath(b) for b in sys.argv[2:]]
graphs = {"indep": S.sleepy(5, 1.0, 60, 0.1, 1),
          "chains": S.sleepy(3, 1.5, 10, 0.1, 6)}
root = tempfile.mkdtemp(prefix="vjbench-ab-")
res = {}
for gname, g in graphs.items():
    for j in (2, 4):
        for r in range(rounds):
            for n, b in (list(enumerate(bins))[r % len(bins):] +
                         list(enumerate(bins))[:r % len(bins)]):
                d = os.path.join(root, "b%d" % n)
                shutil.rmtree(d, ignore_errors=True)
                S.write(g, d)
                S.clean(d)
                argv = [b, "run-graph", "-q", "-j%d" % j, "graph.txt"]
                S.run(argv, d)
                lb = S.bound(g, S.recorded(d), j)
                w = S.run(argv + ["--always"], d)[0]
                res.setdefault((gname, j, b), []).append(w / lb - 1)
        for b in bins:
            v = res[(gname, j, b)]
            print("%-7s -j%d %-40s %+.2f%%  [%s]" % (
                gname, j, b, 100 * statistics.median(v),
                " ".join("%+.2f" % (100 * x) for x in v)), flush=True)
shutil.rmtree(root)
