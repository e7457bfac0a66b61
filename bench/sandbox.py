#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""What the isolation costs: a build and a jail start, with and without it.

  bench/sandbox.py [--rounds R] WITHOUT WITH

WITHOUT and WITH are two vjbuild binaries: the one before the isolation
issue (builds in a mount and a network namespace only, jails without a
user namespace, cgroups, firewall or address checks) and the one with it.
In each round, the binaries take turns (the order turned each round), each
on the same work in a fresh directory:

  build    a one-host provisioning with four ports: "empty" (a build that
           stages one file: the sandbox's own cost, made and torn down)
           and the three example ports (libvj, echod, vjhttpd: compilers
           at work); each build task's duration as vjbuild recorded it
           (from the fork of the task to its end);
  start    `vjbuild start web1` then `vjbuild stop web1`, five times,
           each timed from outside (wall clock of the command).

It also reports the installs of those four packages (each install task's
recorded duration, summed) and the whole provisioning (wall clock of the
command), so that it serves to weigh any two binaries on this work: the
reliability issue (15) compared 7f73ee7 with its own (a pipe and a
logger process per build, a lock per cache key, installs staged in the
root and renamed).

Prints the medians of the rounds for each binary and WITH/WITHOUT.
Must run as root (both binaries build in namespaces and start jails).
"""
import argparse
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(HERE)
PORTS = ["empty", "libvj", "echod", "vjhttpd"]


def prepare(d, base):
    os.makedirs(d)
    shutil.copy(base, os.path.join(d, "base.tar.gz"))
    shutil.copytree(os.path.join(TOP, "examples", "ports"),
                    os.path.join(d, "ports"))
    shutil.copytree(os.path.join(TOP, "examples", "distfiles"),
                    os.path.join(d, "distfiles"))
    e = os.path.join(d, "ports", "empty")
    os.makedirs(os.path.join(e, "src"))
    with open(os.path.join(e, "recipe"), "w") as f:
        f.write("version = 1.0\nsource = none\n")
    with open(os.path.join(e, "build"), "w") as f:
        f.write('mkdir -p "$STAGEDIR$PREFIX/share"\n'
                'echo empty > "$STAGEDIR$PREFIX/share/empty"\n')
    with open(os.path.join(d, "vjbuild.conf"), "w") as f:
        f.write("base = base.tar.gz\ndomain = example.org\n"
                "ports = ports\ndistfiles = distfiles\n"
                "packages = %s\nvar.echo_port = 7\nvar.http_port = 80\n"
                % " ".join(PORTS))
    with open(os.path.join(d, "hosts.txt"), "w") as f:
        f.write("web1 10.9.77.1\n")


def run(argv, d):
    # Output to a file, not a pipe: the jail's init of the binary before
    # the isolation issue kept start's output open, and a pipe never ends.
    with open(os.path.join(d, "out.txt"), "w+") as out:
        t0 = time.perf_counter()
        p = subprocess.run(argv, cwd=d, stdout=out, stderr=subprocess.STDOUT)
        t = time.perf_counter() - t0
        if p.returncode != 0:
            out.seek(0)
            sys.exit("%s failed in %s:\n%s" % (" ".join(argv), d, out.read()))
    return t


def one(vj, d, base):
    prepare(d, base)
    whole = run([vj, "-j1", "hosts.txt"], d)
    db = sqlite3.connect(os.path.join(d, "state", "vjbuild.db"))
    builds = dict(db.execute(
        "select name, duration from tasks where kind = 'build'"))
    installs = sum(x for (x,) in db.execute(
        "select duration from tasks where kind = 'install'"))
    db.close()
    starts, stops = [], []
    for _ in range(5):
        starts.append(run([vj, "start", "web1"], d))
        stops.append(run([vj, "stop", "web1"], d))
    return {"build:empty": builds["build:empty"],
            "builds:examples": sum(builds["build:" + p] for p in PORTS[1:]),
            "installs": installs,
            "provision": whole,
            "start": statistics.median(starts),
            "stop": statistics.median(stops)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("without")
    ap.add_argument("with_")
    a = ap.parse_args()
    bins = {"without": os.path.abspath(a.without),
            "with": os.path.abspath(a.with_)}
    work = tempfile.mkdtemp(prefix="vjbench-sandbox-")
    base = os.path.join(work, "base.tar.gz")
    subprocess.run(["sh", os.path.join(TOP, "examples", "mkbase.sh"), base],
                   check=True, stdout=subprocess.DEVNULL)
    res = {k: [] for k in bins}
    order = list(bins)
    try:
        for r in range(a.rounds):
            for k in order[r % 2:] + order[:r % 2]:
                d = os.path.join(work, "%s-%d" % (k, r))
                res[k].append(one(bins[k], d, base))
                shutil.rmtree(d, ignore_errors=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("%d rounds, medians (each round's in brackets)" % a.rounds)
    print("%-16s %10s %10s %8s" % ("", "without", "with", "ratio"))
    for m in ("build:empty", "builds:examples", "installs", "provision",
              "start", "stop"):
        w = [x[m] for x in res["without"]]
        s = [x[m] for x in res["with"]]
        ratios = [b / a for a, b in zip(w, s)]
        print("%-16s %9.1fms %9.1fms %8.2f   [%s]" % (
            m, 1000 * statistics.median(w), 1000 * statistics.median(s),
            statistics.median(ratios),
            " ".join("%.2f" % x for x in ratios)))


if __name__ == "__main__":
    main()
