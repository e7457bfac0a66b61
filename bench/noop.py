#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""A re-run with nothing to do: vjbuild against ninja (issue 19).

  bench/noop.py [--rounds R] [--jobs J] [--before OLD] VJBUILD

bench/sched.py's throughput graphs, 10,000 tasks each, written for both
tools as bench/sched.py writes them (every task `touch out/NAME`, ninja's
outputs the same files, the sinks joined 300 at a time into one last
task, no phony target listing every task): "flat", 10,000 independent
tasks; "layered", 100 layers of 100, each task after two of the layer
before; and "chain", one chain of 10,000. Each tool runs every graph once
from nothing (not timed), then R times (5) with nothing to do, the order
of the tools turned each round; wall time from this program's clock,
medians, and vjbuild's over ninja's. --before OLD runs another vjbuild
in the same rounds (a change against the build before it).
"""
import argparse
import os
import shutil
import statistics
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sched as S	# noqa: E402  bench/sched.py


def chain(n):
    return [("c%d" % i, ["c%d" % (i - 1)] if i else [], "touch out/c%d" % i)
            for i in range(n)]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--jobs", type=int, default=4)
    ap.add_argument("--before")
    ap.add_argument("vjbuild")
    a = ap.parse_args()
    S.VJ = os.path.abspath(a.vjbuild)
    if a.before:
        S.BEFORE = os.path.abspath(a.before)
    if shutil.which("ninja") is None:
        sys.exit("bench: ninja is not installed (apt-get install ninja-build)")
    root = tempfile.mkdtemp(prefix="vjbench-noop-")
    tools = ["vjbuild", "ninja"] + (["before"] if a.before else [])
    try:
        for name, g in (("flat", S.flat(10000)),
                        ("layered", S.layered(100, 100)),
                        ("chain", chain(10000))):
            go = S.with_own(g)
            g2 = [("out/" + n, ["out/" + x for x in deps], cmd)
                  for n, deps, cmd in go]
            d = {"vjbuild": os.path.join(root, name, "vj"),
                 "ninja": os.path.join(root, name, "nm"),
                 "before": os.path.join(root, name, "vb")}
            S.write(go, d["vjbuild"])
            S.write(g2, d["ninja"])
            if a.before:
                S.write(go, d["before"])
            for t in tools:
                S.clean(d[t])
                S.run(S.tool_argv(t, a.jobs), d[t])
            res = {t: [] for t in tools}
            for r in range(a.rounds):
                k = r % len(tools)
                for t in tools[k:] + tools[:k]:
                    res[t].append(S.run(S.tool_argv(t, a.jobs), d[t])[0])
            v = statistics.median(res["vjbuild"])
            n = statistics.median(res["ninja"])
            print("%-8s no-op: vjbuild %.3f s, ninja %.3f s, vjbuild/ninja "
                  "%.2f  [vjbuild %s] [ninja %s]" % (
                      name, v, n, v / n,
                      " ".join("%.3f" % x for x in res["vjbuild"]),
                      " ".join("%.3f" % x for x in res["ninja"])),
                  flush=True)
            if a.before:
                b = statistics.median(res["before"])
                print("%-8s before %.3f s: vjbuild/before %.2f, before/ninja "
                      "%.2f  [before %s]" % (
                          "", b, v / b, b / n,
                          " ".join("%.3f" % x for x in res["before"])),
                      flush=True)
    finally:
        shutil.rmtree(root)


main()
