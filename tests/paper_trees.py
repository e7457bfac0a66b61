#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""The benchmark's ports install the same trees with two vjbuild binaries.

  tests/paper_trees.py [--work DIR] [--runs-of-first N] FIRST SECOND

For each binary (FIRST N times, then SECOND once), in a fresh directory
under WORK: one jail (the benchmark's base, a debootstrap minbase of
bookworm, WORK/base.tar.gz, made if missing) with every port of bench/ports
(Debian bookworm's ucspi-tcp, daemontools, djbdns, proftpd, expat, apr,
apr-util, apache2; sources fetched as bench/paper.py fetches them) built
at -j2. Then every entry of the jail's root below usr/local and etc is
compared: path, type, mode, owner, group and link target must be the same
(exit 1 otherwise); contents are compared by digest and the files that
differ are listed. With --runs-of-first 2, FIRST's two runs show which
files differ from one build to the next (build dates compiled in) and so
are no evidence against SECOND.

Takes about 10 minutes a run on two cores. Needs root. make paper-trees.
"""
import argparse
import hashlib
import os
import shutil
import stat
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(TOP, "bench"))
import paper  # noqa: E402  bench/paper.py


def listing(root):
    """{relpath: (meta, digest)} under usr/local and etc of a jail root."""
    out = {}
    for top in ("usr/local", "etc"):
        for d, dirs, files in os.walk(os.path.join(root, top)):
            dirs.sort()
            for n in sorted(dirs + files):
                p = os.path.join(d, n)
                rel = os.path.relpath(p, root)
                st = os.lstat(p)
                meta = (stat.S_IFMT(st.st_mode), stat.S_IMODE(st.st_mode),
                        st.st_uid, st.st_gid,
                        os.readlink(p) if stat.S_ISLNK(st.st_mode) else "")
                dig = ""
                if stat.S_ISREG(st.st_mode):
                    with open(p, "rb") as f:
                        dig = hashlib.sha256(f.read()).hexdigest()
                out[rel] = (meta, dig)
    return out


def provision(vj, d, work, base):
    paper.fresh(d)
    paper.write_conf(d, base)
    with open(os.path.join(d, "hosts.txt"), "w") as f:
        f.write("j1 10.30.0.1\n")
    p = subprocess.run([vj, "-q", "-j2", "hosts.txt"], cwd=d,
                       capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit("%s failed in %s:\n%s%s" % (vj, d, p.stdout[-3000:],
                                              p.stderr[-3000:]))
    return listing(os.path.join(d, "jails", "j1"))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--work", default="/var/tmp/vjbuild-paper")
    ap.add_argument("--runs-of-first", type=int, default=1)
    ap.add_argument("first")
    ap.add_argument("second")
    a = ap.parse_args()
    os.makedirs(a.work, exist_ok=True)
    paper.fetch_sources(a.work)
    # The benchmark's base (bench/paper.py's, made if missing): install
    # refuses a program whose libraries the jail lacks, and a busybox base
    # has none of the ports' (libc, libuuid, ...).
    base = os.path.join(a.work, "base.tar.gz")
    if not os.path.exists(base):
        paper.make_base(a.work)
    runs = []
    for i in range(a.runs_of_first):
        runs.append(("first#%d" % (i + 1), provision(
            os.path.abspath(a.first), os.path.join(a.work, "trees-a%d" % i),
            a.work, base)))
    runs.append(("second", provision(os.path.abspath(a.second),
                                     os.path.join(a.work, "trees-b"),
                                     a.work, base)))
    ref_name, ref = runs[0]
    varying = set()
    for name, t in runs[1:-1]:
        varying |= {p for p in ref if p in t and ref[p][1] != t[p][1]}
    name, t = runs[-1]
    bad = 0
    for p in sorted(set(ref) | set(t)):
        if p not in ref or p not in t:
            print("only in %s: %s" % (ref_name if p in ref else name, p))
            bad += 1
        elif ref[p][0] != t[p][0]:
            print("differs: %s: %s against %s" % (p, ref[p][0], t[p][0]))
            bad += 1
    content = sorted(p for p in ref if p in t and ref[p][1] != t[p][1])
    print("%d entries; %d differ in path, type, mode, owner or link" % (
        len(ref), bad))
    print("%d files differ in contents%s" % (
        len(content), "" if not content else ": " + " ".join(content[:20])))
    if a.runs_of_first > 1:
        left = [p for p in content if p not in varying]
        print("of which %d also differ between two runs of %s; the "
              "others: %s" % (len(set(content) & varying), a.first,
                              " ".join(left) if left else "none"))
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
