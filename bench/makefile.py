#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""vjbuild cold against the Makefile a user would write (issue 19).

  bench/makefile.py [--work DIR] [--ns 1,3,10] [--rounds R] [--jobs J]
                    [--first vjbuild|make] [--ways vjbuild,make]
                    [--json FILE] [--ports DIR] [--base FILE]
                    [--distfiles DIR] [--set KEY=VALUE]...
                    [--before VJBUILD] [--vjbuild-set KEY=VALUE]...
                    [--settle S] [--keep]

The work of bench/paper.py (run it first: WORK/base.tar.gz, the
debootstrap minbase, and WORK/distfiles, Debian's sources of the eight
ports of bench/ports), every port in every jail, from nothing: a fresh
cache, state and jails each run. Two ways:

  vjbuild   `vjbuild -q -jJ hosts.txt`.
  make      a generated Makefile, `make -jJ`: one rule a port, after the
            rules of the ports it depends on, listed longest chain first
            (apr, apr-util, apache2, then the rest); each builds its port
            in the same sandbox vjbuild uses, by `+vjbuild builder` on a
            hosts file naming that port alone (a state of its own, the
            cache shared; the `+` hands it make's jobserver, which vjbuild
            joins, so its builds' makes take make's tokens: one -jJ budget
            for everything, as make's own recipes would have); then one
            rule a jail, after every port: the base tarball and every
            package unpacked into it with GNU tar, and `ldconfig -r`.

At each N (--ns), R rounds (1), the ways' order turned each round
(--first: the way that starts; --before BIN: a third way, vjbuild as
another binary, after vjbuild: a change's baseline in the same rounds;
--vjbuild-set KEY=VALUE: a line of the vjbuild way's vjbuild.conf alone,
with --before the same binary, to measure a setting such as
priority_boost; --ways make: make's runs alone, to pair
with vjbuild's of another invocation). Per run:
the wall time, and the longest build's own time as vjbuild recorded it
(build:P's duration; under make, in the builder's state). Prints each run,
the medians, vjbuild over make at each N, and vjbuild's wall over the
longest build under make in the same round and over the critical path
(the longest sum of build times along the ports' dependencies; on the
bench's ports apr, apr-util, apache2) under make. The json has every
build's start and end, seconds from the first build's start, to see what
ran beside what. --ports and --base put other ports (examples/ports) and
another base in place of the bench's (a quick check of the program
itself).

Each run has a directory of its own (WORK/mk-WAY-nN-rR), and nothing is
deleted while anything is timed: what earlier invocations left
(WORK/mk-*) is deleted first, the file system synced and left S seconds
(--settle, 301), and the runs' directories are deleted after the last
run (--keep keeps them). On ext4 without a journal (this VM's root)
every file created within a minute of deleting others (five while their
inode table block is dirty) scans past those deleted inodes (ext4's
recently_deleted(), fs/ext4/ialloc.c): until 2026-11-29 each run here
began by deleting the previous run's cache and jails (some 80,000
inodes at N = 10), which made every build's and jail's file creation
dearer by an amount that depended on what ran before it.
"""
import argparse
import glob
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(TOP, "bench"))
from onemore import remove	# noqa: E402  unmounts a run's jails, deletes it
VJ = os.path.abspath(os.environ.get("VJBUILD", os.path.join(TOP, "vjbuild")))
LONGEST_FIRST = ["apr", "expat", "apr-util", "apache2", "proftpd-dfsg",
                 "proftpd", "djbdns", "daemontools", "ucspi-tcp"]


def ports_of(pdir):
    """{name: [dependencies]} from the recipes under pdir."""
    out = {}
    for r in sorted(glob.glob(os.path.join(pdir, "*", "recipe"))):
        name = os.path.basename(os.path.dirname(r))
        deps = []
        with open(r) as f:
            for line in f:
                k, _, v = line.partition("=")
                if k.strip() == "depends":
                    deps = v.split()
        out[name] = deps
    return out


def conf(d, a, names, extra=()):
    """vjbuild.conf; names: every jail's packages (none: each host's line
    names its own, as a builder's hosts file of one port does); extra:
    KEY=VALUE lines besides --set's."""
    with open(os.path.join(d, "vjbuild.conf"), "w") as f:
        f.write("base = %s\njails = jails\nstate = state\ncache = cache\n"
                "ports = %s\ndistfiles = %s\ndomain = example.org\n"
                "resolver = 192.0.2.53\n%s" % (
                    a.base, a.ports, a.distfiles, "packages = %s\n" %
                    " ".join(names) if names else ""))
        for kv in list(a.set) + list(extra):
            k, _, v = kv.partition("=")
            f.write("%s = %s\n" % (k, v))


def hosts(path, n, names=None):
    with open(path, "w") as f:
        for i in range(1, n + 1):
            f.write("j%d 10.30.0.%d%s\n" % (
                i, i, "" if names is None else " " + " ".join(names)))


def builds(state):
    """{port: (started, ended, duration)} of the builds a state recorded."""
    db = sqlite3.connect(os.path.join(state, "vjbuild.db"))
    rows = db.execute("SELECT name, started, ended, duration FROM tasks "
                      "WHERE name LIKE 'build:%' AND duration IS NOT NULL"
                      ).fetchall()
    db.close()
    return {n[len("build:"):]: (s, e, d) for n, s, e, d in rows}


def chain(ports, b):
    """The critical path of the builds: the longest sum of build times
    along the ports' dependencies, and its ports, first to last."""
    memo = {}

    def at(p):
        if p not in memo:
            best = max((at(x) for x in ports[p] if x in b),
                       default=(0.0, []))
            memo[p] = (best[0] + b[p][2], best[1] + [p])
        return memo[p]
    return max((at(p) for p in b), default=(0.0, []))


def makefile(d, ports, n, j):
    order = sorted(ports, key=lambda p: (LONGEST_FIRST.index(p)
                                         if p in LONGEST_FIRST else 99, p))
    lines = [".PHONY: all", "all: %s" % " ".join("jail-j%d" % i
                                               for i in range(1, n + 1))]
    for p in order:
        hosts(os.path.join(d, "build-%s.txt" % p), 1, [p])
        lines += ["pkg-%s:%s" % (p, "".join(" pkg-" + x for x in ports[p])),
                  "\t+%s -q -j%d --state states/%s builder build-%s.txt"
                  % (VJ, j, p, p), "\ttouch $@"]
    pk = " ".join("pkg-" + p for p in order)
    for i in range(1, n + 1):
        lines += ["jail-j%d: %s" % (i, pk),
                  "\tmkdir -p jails/j%d" % i,
                  "\ttar --numeric-owner -xzpf %s -C jails/j%d" % (
                      os.path.abspath(os.path.join(d, "base.tar.gz")), i),
                  "\tfor p in cache/packages/*.tar.gz; do tar "
                  "--numeric-owner -xzpf $$p -C jails/j%d || exit 1; done"
                  % i,
                  "\tldconfig -r jails/j%d" % i]
    with open(os.path.join(d, "Makefile"), "w") as f:
        f.write("\n".join(lines) + "\n")


def tasks(state):
    """{kind: [count, first start, last end, summed duration]} of the
    tasks a state recorded, times in seconds of the epoch."""
    db = sqlite3.connect(os.path.join(state, "vjbuild.db"))
    rows = db.execute("SELECT kind, count(*), min(started), max(ended), "
                      "sum(duration) FROM tasks GROUP BY kind").fetchall()
    db.close()
    return {k: [c, s, e, d] for k, c, s, e, d in rows}


def one(a, way, n, ports, r):
    d = os.path.join(a.work, "mk-%s-n%d-r%d" % (way, n, r))
    if os.path.exists(d):
        sys.exit("bench: %s exists; the start deletes what runs left" % d)
    os.makedirs(d)
    os.symlink(a.base, os.path.join(d, "base.tar.gz"))
    # The builders' config names no package: a builder builds the one
    # port its hosts file names (and what that depends on, in the cache
    # by then), not every port.
    conf(d, a, sorted(ports) if way != "make" else [],
         a.vjbuild_set if way == "vjbuild" else ())
    if way in ("vjbuild", "before"):
        hosts(os.path.join(d, "hosts.txt"), n)
        argv = [VJ if way == "vjbuild" else a.before, "-q",
                "-j%d" % a.jobs, "hosts.txt"]
    else:
        makefile(d, ports, n, a.jobs)
        argv = ["make", "-s", "-j%d" % a.jobs]
    subprocess.run(["sync"], check=True)
    t0 = time.monotonic()
    p = subprocess.run(argv, cwd=d, capture_output=True, text=True)
    wall = time.monotonic() - t0
    if p.returncode != 0:
        sys.exit("bench: %s at N=%d failed:\n%s%s" % (
            way, n, p.stdout[-3000:], p.stderr[-3000:]))
    if way != "make":
        b = builds(os.path.join(d, "state"))
    else:
        # A builder's state also records its port's dependencies,
        # found in the cache by then (a build of no time): each port's
        # build is the one that took time.
        b = {}
        for s in glob.glob(os.path.join(d, "states", "*")):
            for p, v in builds(s).items():
                if p not in b or v[2] > b[p][2]:
                    b[p] = v
    if not b:
        sys.exit("bench: %s at N=%d: no build recorded" % (way, n))
    name = max(b, key=lambda p: b[p][2])
    path_s, path = chain(ports, b)
    t0 = min(v[0] for v in b.values())
    for i in range(1, n + 1):	# the jails are there, whole enough to run
        if not os.path.isdir(os.path.join(d, "jails", "j%d" % i, "usr")):
            sys.exit("bench: %s at N=%d: no jail j%d" % (way, n, i))
    x = {"wall_s": wall, "longest_build": "build:" + name,
         "longest_build_s": b[name][2], "critical_path": path,
         "critical_path_s": path_s,
         "builds": {p: [round(v[0] - t0, 2), round(v[1] - t0, 2)]
                    for p, v in sorted(b.items())}}
    if way != "make":	# every kind of task: count, span, summed time
        x["tasks"] = {k: [c, round(s - t0, 2), round(e - t0, 2),
                          round(du, 2)]
                      for k, (c, s, e, du) in
                      tasks(os.path.join(d, "state")).items()}
    return x


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--work", default="/var/tmp/vjbuild-paper")
    ap.add_argument("--ns", default="1,3,10")
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--first", choices=["vjbuild", "make"],
                    default="vjbuild", help="the way that runs first")
    ap.add_argument("--ways", default="vjbuild,make",
                    help="the ways to run (both: a comparison)")
    ap.add_argument("--json")
    ap.add_argument("--ports", default=os.path.join(TOP, "bench", "ports"))
    ap.add_argument("--base")
    ap.add_argument("--distfiles")
    ap.add_argument("--set", action="append", default=[],
                    help="KEY=VALUE: one more line of vjbuild.conf")
    ap.add_argument("--vjbuild-set", action="append", default=[],
                    help="KEY=VALUE in the vjbuild way's config only (not "
                    "--before's, not the builders'): a setting's effect, "
                    "against --before as the same binary without it")
    ap.add_argument("--before", help="another vjbuild binary, a third way "
                    "run after vjbuild in each round (a change's baseline)")
    ap.add_argument("--settle", type=float, default=301,
                    help="seconds left after deleting what earlier runs "
                    "left, before the first run")
    ap.add_argument("--keep", action="store_true",
                    help="keep the runs' directories")
    a = ap.parse_args()
    a.work = os.path.abspath(a.work)
    a.ports = os.path.abspath(a.ports)
    a.base = os.path.abspath(a.base or os.path.join(a.work, "base.tar.gz"))
    a.distfiles = os.path.abspath(a.distfiles or
                                  os.path.join(a.work, "distfiles"))
    ports = ports_of(a.ports)
    ns = [int(x) for x in a.ns.split(",")]
    if not set(a.ways.split(",")) <= {"vjbuild", "make"}:
        sys.exit("bench: --ways takes vjbuild, make or both, not %s" %
                 a.ways)
    ways = [w for w in [a.first] + [w for w in ("vjbuild", "make")
                                    if w != a.first]
            if w in a.ways.split(",")]
    if a.before:
        a.before = os.path.abspath(a.before)
        ways.insert(ways.index("vjbuild") + 1 if "vjbuild" in ways else 0,
                    "before")
    old = glob.glob(os.path.join(a.work, "mk-*"))
    for d in old:
        remove(d)
    subprocess.run(["sync"], check=True)
    print("%d directories of earlier runs deleted; %.0f s for ext4's "
          "recently deleted inodes" % (len(old), a.settle), flush=True)
    time.sleep(a.settle)
    res = {}
    print("%5s %3s %-8s %9s %-24s" % ("round", "N", "way", "wall s",
                                      "longest build s"), flush=True)
    k = 0
    for r in range(a.rounds):
        for n in ns:
            for way in ways[k % len(ways):] + ways[:k % len(ways)]:
                x = one(a, way, n, ports, r + 1)
                res.setdefault((n, way), []).append(x)
                print("%5d %3d %-8s %9.1f %s %.1f; critical path %s %.1f" % (
                    r + 1, n, way, x["wall_s"], x["longest_build"],
                    x["longest_build_s"], "-".join(x["critical_path"]),
                    x["critical_path_s"]), flush=True)
            k += 1
    out = {}
    for n in ns:
        if "vjbuild" not in ways or "make" not in ways:
            continue
        if a.before:
            b = [x["wall_s"] for x in res[(n, "before")]]
            v = [x["wall_s"] for x in res[(n, "vjbuild")]]
            print("N=%d: vjbuild %.1f s, before (%s) %.1f s: %.3f (medians)"
                  % (n, statistics.median(v), a.before,
                     statistics.median(b),
                     statistics.median(v) / statistics.median(b)))
        v = [x["wall_s"] for x in res[(n, "vjbuild")]]
        m = [x["wall_s"] for x in res[(n, "make")]]
        lb = [x["longest_build_s"] for x in res[(n, "make")]]
        cp = [x["critical_path_s"] for x in res[(n, "make")]]
        ratio = [p / q for p, q in zip(v, m)]
        over = [p / q for p, q in zip(v, lb)]
        over_cp = [p / q for p, q in zip(v, cp)]
        out[n] = {"vjbuild_s": v, "make_s": m, "longest_under_make_s": lb,
                  "critical_path_under_make_s": cp,
                  "vjbuild_over_make": ratio,
                  "vjbuild_over_longest_under_make": over,
                  "vjbuild_over_critical_path_under_make": over_cp}
        print("N=%d: vjbuild %.1f s, make %.1f s, vjbuild/make %.3f; "
              "vjbuild / the longest build under make %.3f, / the critical "
              "path's builds under make %.3f (medians)" % (
                  n, statistics.median(v), statistics.median(m),
                  statistics.median(ratio), statistics.median(over),
                  statistics.median(over_cp)))
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"jobs": a.jobs, "rounds": a.rounds, "by_n": out,
                       "vjbuild": VJ, "before": a.before, "set": a.set,
                       "vjbuild_set": a.vjbuild_set,
                       "runs": {"%d %s" % key: v for key, v in res.items()}},
                      f, indent=1)
    if not a.keep:
        for d in glob.glob(os.path.join(a.work, "mk-*")):
            remove(d)


main()
