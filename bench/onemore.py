#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""Warm, one more jail: what a jail costs once every package is cached.

  bench/onemore.py [--work DIR] [--rounds R] [--json FILE] [--thin]
                   [--settle S] VJBUILD...

On bench/paper.py's work (WORK/base.tar.gz, the debootstrap minbase, and
WORK/distfiles, Debian's sources of the eight ports: run bench/paper.py
first), with every port of bench/ports in every jail. The package cache
(WORK/onemore-cache) is made warm once, by the first binary, before
anything is timed; every binary then uses it, each with a state and
jails of its own.

Each round, for each binary in turn (the order turned by one place each
round): a new directory (WORK/onemore-bWAY-rROUND) for its state and
jails, a run with one jail (j1; its
packages come from the cache), then the hosts file with j2 added and a
second run, timed: "one more jail". Beside its wall time, the durations
vjbuild recorded for j2's tasks (extract, the installs summed, the rest)
and the disk j2's root takes (du, counting hard links once across j1 and
j2, so what j2 shares with j1 is not counted). With --thin, every
binary also makes thin jails (thin = yes), a way of its own in the same
rounds, whose disk is what j2's own layer takes (du of
JAILS/.vjbuild-thin.j2). Prints each round and the medians, and each
way's median over the first's.

Nothing is deleted while anything is timed: the rounds' directories are
removed after the last round, and what an earlier invocation left is
removed first, then the file system synced and left S seconds (--settle,
301) before the first round. On ext4 without a journal (this VM's root)
creating a file scans past every free inode deleted in the last minute,
or the last five while its inode table block is dirty, which creating
files beside it makes it (ext4's recently_deleted(), fs/ext4/ialloc.c;
with a journal it is not checked). `cp -a` of the base (6,800 files)
took 2.3 to 2.5 s of system time within a minute of deleting as many,
0.25 to 0.4 s otherwise. Deleting a round's jails before the next (as
this bench did until 2026-11-29) was timing that, not vjbuild.
"""
import argparse
import glob
import json
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(TOP, "bench"))
import paper as P	# noqa: E402  bench/paper.py: its config and hosts


def conf(d, work, thin=False):
    os.makedirs(d, exist_ok=True)
    P.write_conf(d, os.path.join(work, "base.tar.gz"))
    p = os.path.join(d, "vjbuild.conf")
    with open(p) as f:
        text = f.read()
    with open(p, "w") as f:	# one cache for every binary
        f.write(text.replace("cache = cache\n", "cache = %s\n" %
                             os.path.join(work, "onemore-cache")))
        if thin:
            f.write("thin = yes\n")


def run(vj, d):
    t0 = time.monotonic()
    p = subprocess.run([vj, "-q", "-j2", "hosts.txt"], cwd=d,
                       capture_output=True, text=True)
    wall = time.monotonic() - t0
    if p.returncode != 0:
        sys.exit("bench: %s in %s failed:\n%s%s" % (
            vj, d, p.stdout[-3000:], p.stderr[-3000:]))
    return wall


def du_second(d, thin):
    """Kilobytes j2's root adds to j1's (du counts a hard link once);
    thin: what its own layer takes."""
    j = os.path.join(d, "jails")
    if thin:
        out = subprocess.run(["du", "-sk", os.path.join(
            j, ".vjbuild-thin.j2")], capture_output=True, text=True,
            check=True).stdout
        return int(out.split()[0])
    out = subprocess.run(["du", "-sk", os.path.join(j, "j1"),
                          os.path.join(j, "j2")], capture_output=True,
                         text=True, check=True).stdout.split("\n")
    return int(out[1].split()[0])


def unmount(d):
    """Unmount d's jails (thin ones are overlays)."""
    for m in glob.glob(os.path.join(d, "jails", "*")):
        while os.path.ismount(m):
            subprocess.run(["umount", "-l", m], check=True)


def remove(d):
    """Unmount d's jails and delete d."""
    unmount(d)
    shutil.rmtree(d, ignore_errors=True)


def one_round(vj, work, n, thin, r):
    d = os.path.join(work, "onemore-b%d-r%d" % (n, r))
    if os.path.exists(d):
        sys.exit("bench: %s exists; the start removes what runs left" % d)
    conf(d, work, thin)
    P.hosts(d, 1)
    run(vj, d)
    P.hosts(d, 2)
    subprocess.run(["sync"], check=True)
    wall = run(vj, d)
    db = sqlite3.connect(os.path.join(d, "state", "vjbuild.db"))
    rows = db.execute("SELECT name, duration FROM tasks WHERE name LIKE "
                      "'%:j2' OR name LIKE '%@j2'").fetchall()
    db.close()
    ext = sum(t for name, t in rows if name.startswith("extract:"))
    ins = sum(t for name, t in rows if name.startswith("install:"))
    rest = sum(t for name, t in rows) - ext - ins
    x = {"wall_s": wall, "extract_s": ext, "install_s": ins,
         "other_tasks_s": rest, "disk_kb": du_second(d, thin)}
    unmount(d)
    return x


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--work", default="/var/tmp/vjbuild-paper")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--json")
    ap.add_argument("--thin", action="store_true")
    ap.add_argument("--settle", type=float, default=301,
                    help="seconds left after deleting what earlier runs "
                    "left, before anything is timed")
    ap.add_argument("vjbuild", nargs="+")
    a = ap.parse_args()
    bins = [os.path.abspath(b) for b in a.vjbuild]
    P.check_base(a.work)
    warm = os.path.join(a.work, "onemore-warm")
    old = glob.glob(os.path.join(a.work, "onemore-b*"))
    if os.path.exists(warm):
        old.append(warm)
    for d in old:
        remove(d)
    conf(warm, a.work)
    P.hosts(warm, 1)
    t = run(bins[0], warm)
    print("cache made warm in %.1f s (by %s)" % (t, bins[0]), flush=True)
    subprocess.run(["sync"], check=True)
    print("%d directories of earlier runs deleted; %.0f s for ext4's "
          "recently deleted inodes" % (len(old), a.settle), flush=True)
    time.sleep(a.settle)
    ways = [(b, b, False) for b in bins]
    if a.thin:
        ways += [(b + " thin", b, True) for b in bins]
    res = {w[0]: [] for w in ways}
    keys = ("wall_s", "extract_s", "install_s", "other_tasks_s", "disk_kb")
    print("round  %-40s %8s %8s %8s %8s %9s" % (
        "way", "wall s", "extract", "install", "other", "disk MB"))
    for r in range(a.rounds):
        order = list(enumerate(ways))
        order = order[r % len(ways):] + order[:r % len(ways)]
        for n, (label, b, thin) in order:
            x = one_round(b, a.work, n, thin, r)
            res[label].append(x)
            print("%5d  %-40s %8.2f %8.2f %8.2f %8.2f %9.3f" % (
                r + 1, label, x["wall_s"], x["extract_s"], x["install_s"],
                x["other_tasks_s"], x["disk_kb"] / 1024), flush=True)
    med = {w: {k: statistics.median(x[k] for x in res[w]) for k in keys}
           for w in res}
    print("medians:")
    for w in res:
        m = med[w]
        print("       %-40s %8.2f %8.2f %8.2f %8.2f %9.3f" % (
            w, m["wall_s"], m["extract_s"], m["install_s"],
            m["other_tasks_s"], m["disk_kb"] / 1024))
    first = ways[0][0]
    for w in list(res)[1:]:
        print("%s / %s: wall %.2f, extract %.2f, install %.2f" % (
            w, first, med[w]["wall_s"] / med[first]["wall_s"],
            med[w]["extract_s"] / max(med[first]["extract_s"], 1e-9),
            med[w]["install_s"] / max(med[first]["install_s"], 1e-9)))
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"ways": [w[0] for w in ways], "rounds": res,
                       "medians": med}, f,
                      indent=1)
    for d in glob.glob(os.path.join(a.work, "onemore-b*")) + [warm]:
        remove(d)


if __name__ == "__main__":
    main()
