#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""Would zstd packages install faster than gzip ones? (issue 19)

  bench/zstd.py [--rounds R] CACHE

Every package archive in CACHE/packages (vjbuild's gzip'd pax archives;
bench/onemore.py's cache has the eight Debian ports) is recompressed with
zstd (level 3, zstd's default) beside it, in a temporary directory; then,
R times (5), the order turned each round, all of them are unpacked into a
fresh directory by bsdtar (libarchive, as vjbuild's install reads them):
the gzip'd ones, then the zstd ones. Prints each round, the medians, the
sizes, and zstd's median over gzip's. The unpacking is timed with the
files' pages in the page cache and the output not flushed, as an install
into a jail reads a cached package and flushes once at its end.
"""
import glob
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

args = sys.argv[1:]
rounds = 5
if len(args) == 3 and args[0] == "--rounds":
    rounds = int(args[1])
    args = args[2:]
if len(args) != 1:
    sys.exit(__doc__.split("\n\n")[1])
pkgs = sorted(glob.glob(os.path.join(args[0], "packages", "*.tar.gz")))
if not pkgs:
    sys.exit("bench: no packages in %s/packages" % args[0])
tmp = tempfile.mkdtemp(prefix="vjbench-zstd-")
try:
    zst = []
    for p in pkgs:
        z = os.path.join(tmp, os.path.basename(p)[:-3] + ".zst")
        with open(z, "wb") as out:
            gz = subprocess.Popen(["gzip", "-dc", p], stdout=subprocess.PIPE)
            subprocess.run(["zstd", "-q", "-3", "-c"], stdin=gz.stdout,
                           stdout=out, check=True)
            gz.wait()
        zst.append(z)
    size = {"gzip": sum(os.path.getsize(p) for p in pkgs),
            "zstd": sum(os.path.getsize(p) for p in zst)}

    def unpack(files):
        d = os.path.join(tmp, "out")
        shutil.rmtree(d, ignore_errors=True)
        os.mkdir(d)
        t0 = time.monotonic()
        for f in files:
            subprocess.run(["bsdtar", "-xpf", f, "-C", d], check=True)
        return time.monotonic() - t0

    for f in pkgs + zst:	# into the page cache
        with open(f, "rb") as fh:
            while fh.read(1 << 20):
                pass
    t = {"gzip": [], "zstd": []}
    ways = [("gzip", pkgs), ("zstd", zst)]
    print("round  gzip s  zstd s   (%d packages)" % len(pkgs))
    for r in range(rounds):
        for name, files in (ways if r % 2 == 0 else ways[::-1]):
            t[name].append(unpack(files))
        print("%5d  %6.3f  %6.3f" % (r + 1, t["gzip"][-1], t["zstd"][-1]))
    mg, mz = statistics.median(t["gzip"]), statistics.median(t["zstd"])
    print("median: gzip %.3f s, zstd %.3f s; zstd/gzip %.2f; sizes: gzip "
          "%.1f MB, zstd %.1f MB" % (mg, mz, mz / mg, size["gzip"] / 1e6,
                                      size["zstd"] / 1e6))
finally:
    shutil.rmtree(tmp)
