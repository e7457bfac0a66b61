#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""The paper's Tables 1 and 2, on this machine, with real server software.

  bench/paper.py [--work DIR] [--ns 1,5,10] [--a-ns NS] [--b-ns NS|none]
                 [--jobserver-n N|none] [--rounds R] [--t2-rounds R]
                 [--only 1|2]
                 [--json FILE] [--svg FILE] [--reuse-base]

Needs root, network access to Debian's archive, and: debootstrap, tar,
bsdtar (libarchive-tools), gcc, make, cmake, libpcre2-dev (pcre2-config).

The workload: bench/ports, Debian bookworm's source packages of ucspi-tcp,
daemontools, djbdns, proftpd, expat, apr, apr-util and apache2, fetched at
bench time with `apt-get source --download-only` through a deb-src list of
the bench's own (bench/sources.list, private apt directories under WORK);
nothing downloaded is committed. Each port builds with its upstream build
system (configure/make, CMake, djb's make); the recipes pin the digests of
the .orig tarballs that Debian's signed .dsc files name.

Table 1: the base, a debootstrap minbase of bookworm (the paper's `make
world`), packed with tar (the paper's tarred world); its extraction by
vjbuild's extract task against GNU tar and bsdtar on the same tarball,
rounds alternating; vjbuild's distribution task over it.

Table 2: N jails (N in --ns) with every package, in four modes:
  a  vjbuild -j1 --no-cache   the paper's way: each jail compiles all
  b  vjbuild -j1              built once, one task at a time
  c  vjbuild -j4              built once, in parallel (make's jobserver)
  d  (c) again with the jail roots removed and the package cache warm
Modes a and b run at --a-ns and --b-ns (default: --ns); at an N of --ns
they did not run at, their figure is extrapolated linearly from their two
largest measured Ns (mode a from one N: N/n times it, as its jails share
nothing), and the table says so. With --t2-rounds R every run is made R
times, the order of the runs turned by one place each round; a cell is
the median of its rounds, a ratio the median of the rounds' ratios. Also
mode c at the smallest N (--jobserver-n) without the jobserver (each make
then gets -j4 of its own), a run of its own in every round beside (c),
with the peak and mean number of runnable processes (/proc/stat
procs_running) and of compiler processes (cc1, cc1plus, ld: one a make
job at work), sampled every 0.2 s; its peaks are the highest of the
rounds, its time the median, and the ratio the median of the rounds'.

Prints the tables; writes every figure to --json (after every run, with
"partial": true until the invocation ends) and a chart of Table 2 to
--svg. Only figures measured in this invocation are printed.
"""
import argparse
import json
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import threading
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VJ = os.environ.get("VJBUILD", os.path.join(TOP, "vjbuild"))
MIRROR = "http://deb.debian.org/debian"
SOURCES = ["ucspi-tcp", "daemontools", "djbdns", "proftpd-dfsg", "expat",
           "apr", "apr-util", "apache2"]
PACKAGES = "ucspi-tcp daemontools djbdns proftpd apache2"


def sh(argv, **kw):
    return subprocess.run(argv, check=True, **kw)


def timed(argv, **kw):
    t0 = time.monotonic()
    sh(argv, **kw)
    return time.monotonic() - t0


COMPILERS = ("cc1", "cc1plus", "ld")


class Sampler:
    """Peak and mean of procs_running while a command runs, and of the
    compiler processes alive (cc1, cc1plus, ld: one a make job that is
    compiling or linking, whatever shells and drivers it runs them from)."""

    def __init__(self):
        self.samples, self.cc, self.stop = [], [], threading.Event()
        self.t = threading.Thread(target=self.run, daemon=True)

    def run(self):
        while not self.stop.wait(0.2):
            with open("/proc/stat") as f:
                for line in f:
                    if line.startswith("procs_running"):
                        # this sampler itself is one of them
                        self.samples.append(int(line.split()[1]) - 1)
            n = 0
            for pid in os.listdir("/proc"):
                if pid.isdigit():
                    try:
                        with open("/proc/%s/comm" % pid) as f:
                            n += f.read().strip() in COMPILERS
                    except OSError:
                        pass	# it ended
            self.cc.append(n)

    def __enter__(self):
        self.t.start()
        return self

    def __exit__(self, *a):
        self.stop.set()
        self.t.join()

    def peak(self):
        return max(self.samples or [0])

    def mean(self):
        return statistics.mean(self.samples or [0])

    def compilers(self):
        return max(self.cc or [0]), statistics.mean(self.cc or [0])


def fetch_sources(work, sources=None):
    """apt-get source --download-only (of SOURCES, or the bench's) into
    WORK/distfiles, through the bench's own deb-src list and private apt
    state."""
    apt = os.path.join(work, "apt")
    for d in ("lists/partial", "cache/archives/partial"):
        os.makedirs(os.path.join(apt, d), exist_ok=True)
    opts = ["-o", "Dir::Etc::SourceList=" + os.path.join(TOP, "bench",
                                                          "sources.list"),
            "-o", "Dir::Etc::SourceParts=/dev/null",
            "-o", "Dir::State::Lists=" + os.path.join(apt, "lists"),
            "-o", "Dir::Cache=" + os.path.join(apt, "cache"),
            "-o", "APT::Sandbox::User=root"]
    dist = os.path.join(work, "distfiles")
    os.makedirs(dist, exist_ok=True)
    sh(["apt-get", "-q"] + opts + ["update"], stdout=subprocess.DEVNULL)
    sh(["apt-get", "-q"] + opts + ["source", "--download-only"] +
       (sources or SOURCES),
       cwd=dist, stdout=subprocess.DEVNULL)


def vj_durations(state, like, last_run_only=False):
    """Durations of the recorded tasks named like `like`; with
    last_run_only, of those that ran in the newest run."""
    db = sqlite3.connect(os.path.join(state, "vjbuild.db"))
    q = "SELECT name, duration FROM tasks WHERE name LIKE ?"
    if last_run_only:
        q += " AND run = (SELECT max(id) FROM runs)"
    rows = db.execute(q, (like,)).fetchall()
    db.close()
    return {n: d for n, d in rows}


def write_conf(d, base, dist=None, packages=PACKAGES):
    with open(os.path.join(d, "vjbuild.conf"), "w") as f:
        f.write("base = %s\njails = jails\nstate = state\ncache = cache\n"
                "ports = %s\ndistfiles = %s\ndomain = example.org\n"
                "resolver = 192.0.2.53\n" % (
                    base, os.path.join(TOP, "bench", "ports"),
                    os.path.join(os.path.dirname(d), "distfiles")))
        if packages:
            f.write("packages = %s\n" % packages)
        if dist:
            f.write("distribution = %s\n" % dist)


def hosts(d, n):
    with open(os.path.join(d, "hosts.txt"), "w") as f:
        for i in range(1, n + 1):
            f.write("j%d 10.30.0.%d\n" % (i, i))


def fresh(d):
    if os.path.exists(d):
        shutil.rmtree(d)
    os.makedirs(d)


def base_names(base):
    """The entries of the base tarball, as tar lists them."""
    return subprocess.run(["tar", "tzf", base], capture_output=True,
                          text=True, check=True).stdout.splitlines()


def check_base(work):
    """Table 2 needs WORK/base.tar.gz as table1 packs it: made, and without
    device nodes (a base packed before --exclude=./dev/* holds them, and
    vjbuild's extract refuses it an hour into the run)."""
    base = os.path.join(work, "base.tar.gz")
    if not os.path.exists(base):
        sys.exit("bench: %s is missing: run Table 1 first (without --only 2)"
                 % base)
    dev = [n for n in base_names(base)
           if n.startswith("./dev/") and n != "./dev/"]
    if dev:
        sys.exit("bench: %s holds %s and %d more under ./dev/ (packed by an "
                 "older bench/paper.py): remove it, or run Table 1 again "
                 "without --reuse-base" % (base, dev[0], len(dev) - 1))


def make_base(work, extra=()):
    """WORK/base.tar.gz: a debootstrap minbase of bookworm with the
    packages EXTRA too, packed. Returns the seconds of each step."""
    rootfs = os.path.join(work, "rootfs")
    base = os.path.join(work, "base.tar.gz")
    if os.path.exists(rootfs):
        shutil.rmtree(rootfs)
    # With what FreeBSD's base system has and the ports link: OpenSSL
    # (mod_ssl, ab), ncurses (proftpd's ftptop) and brotli (mod_brotli).
    # Install refuses a program whose libraries the jail lacks.
    made = timed(["debootstrap", "--variant=minbase",
                  "--include=" + ",".join(("libssl3", "libncurses6",
                                           "libbrotli1") + tuple(extra)),
                  "bookworm",
                  rootfs, MIRROR], stdout=subprocess.DEVNULL)
    # No device nodes: vjbuild refuses archives that make them. Packed
    # under a temporary name: an interrupted pack leaves the last base.
    packed = timed(["tar", "--numeric-owner", "--exclude=./dev/*", "-czf",
                    base + ".tmp", "-C", rootfs, "."])
    os.rename(base + ".tmp", base)
    return made, packed


def table1(work, rounds, reuse):
    base = os.path.join(work, "base.tar.gz")
    out = {}
    if reuse and os.path.exists(base):
        out["debootstrap_s"] = None
        out["pack_s"] = None
    else:
        out["debootstrap_s"], out["pack_s"] = make_base(work)
    out["base_bytes"] = os.path.getsize(base)
    out["base_entries"] = len(base_names(base))
    # The distribution: bench/distribution laid over the root.
    dist = os.path.join(TOP, "bench", "distribution")
    res = {"vjbuild": [], "tar": [], "bsdtar": [], "distribution": []}
    d = os.path.join(work, "t1")
    for r in range(rounds):
        order = ["vjbuild", "tar", "bsdtar"]
        for tool in order[r % 3:] + order[:r % 3]:
            fresh(d)
            if tool == "vjbuild":
                # No packages: the base chain and the records only.
                write_conf(d, base, dist, packages=None)
                hosts(d, 1)
                sh([VJ, "-q", "-j1", "hosts.txt"], cwd=d)
                dur = vj_durations(os.path.join(d, "state"), "%:j1")
                res["vjbuild"].append(dur["extract:j1"])
                res["distribution"].append(dur["distribution:j1"])
            else:
                os.makedirs(os.path.join(d, "root"))
                argv = ["tar", "--numeric-owner", "-xzpf", base, "-C",
                        os.path.join(d, "root")] if tool == "tar" else \
                    ["bsdtar", "--numeric-owner", "-xpzf", base, "-C",
                     os.path.join(d, "root")]
                # The same durability as vjbuild's extract: on disk.
                t0 = time.monotonic()
                sh(argv)
                sh(["sync", "-f", os.path.join(d, "root")])
                res[tool].append(time.monotonic() - t0)
    shutil.rmtree(d)
    out["rounds"] = res
    out.update({k + "_s": statistics.median(v) for k, v in res.items()})
    print("\nTable 1: the base system (%d entries, %.1f MB tarball), %d "
          "rounds, median" % (out["base_entries"], out["base_bytes"] / 1e6,
                              rounds))
    for label, key in (("make the base (debootstrap minbase)",
                        "debootstrap_s"), ("pack it (tar czf)", "pack_s"),
                       ("extract: vjbuild", "vjbuild_s"),
                       ("extract: GNU tar + sync", "tar_s"),
                       ("extract: bsdtar + sync", "bsdtar_s"),
                       ("lay the distribution (vjbuild)", "distribution_s")):
        v = out[key]
        print("  %-38s %s" % (label, "%8.2f s" % v if v is not None else
                              "  (reused)"))
    print("  vjbuild / tar: %.2f   vjbuild / bsdtar: %.2f" % (
        out["vjbuild_s"] / out["tar_s"], out["vjbuild_s"] / out["bsdtar_s"]))
    return out


MODES = {
    "a": (["-j1", "--no-cache"], "vjbuild -j1 --no-cache (the paper's way)"),
    "b": (["-j1"], "vjbuild -j1 (built once)"),
    "c": (["-j4"], "vjbuild -j4 (built once, parallel)"),
    "d": (["-j4"], "(c) again, roots removed, cache warm"),
    "c-nojs": (["-j4", "--no-jobserver"], "(c) without the jobserver"),
}


def run_mode(work, mode, n):
    d = os.path.join(work, "t2")
    if mode != "d":
        fresh(d)
        write_conf(d, os.path.join(work, "base.tar.gz"))
        hosts(d, n)
    else:
        # The same state and cache as (c); every jail root gone.
        shutil.rmtree(os.path.join(d, "jails"))
    argv = [VJ, "-q"] + MODES[mode][0] + ["hosts.txt"]
    with Sampler() as s:
        t0 = time.monotonic()
        p = subprocess.run(argv, cwd=d, capture_output=True, text=True)
        wall = time.monotonic() - t0
    if p.returncode != 0:
        sys.exit("bench: mode %s, N=%d failed:\n%s%s" % (
            mode, n, p.stdout[-3000:], p.stderr[-3000:]))
    builds = vj_durations(os.path.join(d, "state"), "build:%", True)
    peak_cc, mean_cc = s.compilers()
    return {"wall_s": wall, "per_jail_s": wall / n, "jails": n,
            "builds": len(builds), "build_s": sum(builds.values()),
            "peak_running": s.peak(), "mean_running": s.mean(),
            "peak_compilers": peak_cc, "mean_compilers": mean_cc}


def check_jails(work, n):
    """The jails work: each program answers in every root."""
    root = os.path.join(work, "t2", "jails")
    for i in range(1, n + 1):
        r = os.path.join(root, "j%d" % i)
        for argv in (["/usr/local/apache2/bin/httpd", "-t"],
                     ["/usr/local/sbin/proftpd", "-t", "-c",
                      "/usr/local/etc/proftpd.conf"],
                     ["/usr/local/bin/tinydns-get", "a", "example.org"],
                     ["/usr/local/bin/tcprules", "--help"],
                     ["/usr/local/bin/svstat", "/nonexistent"]):
            p = subprocess.run(["chroot", r] + argv, capture_output=True,
                               text=True, cwd="/")
            text = p.stdout + p.stderr
            bad = ("not found" in text and "tinydns" not in argv[0]) or \
                p.returncode in (126, 127) or p.returncode < 0
            if argv[0].endswith("httpd") and "Syntax OK" not in text:
                bad = True
            if argv[0].endswith("proftpd") and p.returncode != 0:
                bad = True
            if bad:
                sys.exit("bench: j%d: %s: %s" % (i, " ".join(argv), text))
    with open(os.path.join(root, "j1", "usr/local/apache2/conf/extra/"
                           "vjbuild-host.conf")) as f:
        conf = f.read()
    if "j1.example.org" not in conf or "10.30.0.1:80" not in conf:
        sys.exit("bench: j1's httpd configuration is not its own")


def extrapolate(m, have, ns, mode, notes):
    """Fill m (one round's cells of `mode`, measured at the Ns in `have`)
    at the Ns of ns it did not run at: on the line through its two largest
    measured Ns; with one measured N, and only for mode a, N/n times it
    (in the paper's way jails share nothing: each compiles everything, one
    after another)."""
    pts = sorted(n for n in have if m.get(str(n)))
    for n in ns:
        if m.get(str(n)):
            continue
        if len(pts) >= 2:
            lo, hi = pts[-2], pts[-1]
            slope = (m[str(hi)]["wall_s"] - m[str(lo)]["wall_s"]) / (hi - lo)
            w = m[str(hi)]["wall_s"] + slope * (n - hi)
            how = "%s@%d on the line through N=%d,%d" % (mode, n, lo, hi)
        elif len(pts) == 1 and mode == "a":
            w = m[str(pts[0])]["wall_s"] * n / pts[0]
            how = "%s@%d as %g times N=%d" % (mode, n, n / pts[0], pts[0])
        else:
            continue
        m[str(n)] = {"wall_s": w, "per_jail_s": w / n, "jails": n,
                     "extrapolated": True}
        if how not in notes:
            notes.append(how)


def median_cell(cells, n):
    """One cell of the table from its rounds: the median wall time, and
    the other figures of the round that made it."""
    cells = [c for c in cells if c]
    if not cells:
        return None
    mid = sorted(cells, key=lambda c: c["wall_s"])[(len(cells) - 1) // 2]
    out = dict(mid)
    out["wall_s"] = statistics.median(c["wall_s"] for c in cells)
    out["per_jail_s"] = out["wall_s"] / n
    out["rounds_wall_s"] = [c["wall_s"] for c in cells]	# round order
    return out


def table2(work, ns, a_ns, b_ns, js_n, rounds, save):
    """ns: the Ns of modes c and d; a_ns, b_ns: those of modes a and b
    (a mode's figure at another N of ns is extrapolated, per round, by
    extrapolate(), and marked); js_n: the N of the jobserver comparison
    (None: not run); rounds: every run is made that many times, the order
    of the runs turned by one place each round, so that the machine's
    drift falls on every mode alike; a cell is the median of its rounds
    and a ratio the median of its per-round ratios. save(out): called
    after every run, so that an interrupted invocation keeps what it
    measured."""
    allns = sorted(set(ns) | set(a_ns) | set(b_ns))
    units = []	# (modes run one after the other, N): d needs c's cache
    for n in allns:
        # The quick modes first: an invocation cut short loses a slow one.
        if n in ns:
            units.append((("c", "d"), n))
        if n in a_ns:
            units.append((("a",), n))
        if n in b_ns:
            units.append((("b",), n))
        if n == js_n:
            units.append((("c-nojs",), n))
    out = {"rounds": [], "extrapolated": []}
    for r in range(rounds):
        k = r % len(units)
        rr = {m: {} for m in ("a", "b", "c", "d", "c-nojs")}
        out["rounds"].append(rr)
        for modes, n in units[k:] + units[:k]:
            for mode in modes:
                x = run_mode(work, mode, n)
                rr[mode][str(n)] = x
                print("  round %d/%d  %-42s N=%-3d %8.1f s  (%5.1f s a jail, "
                      "%d builds ran)" % (r + 1, rounds, MODES[mode][1], n,
                                          x["wall_s"], x["per_jail_s"],
                                          x["builds"]), flush=True)
                if mode == "d":
                    check_jails(work, n)
                save(out)
        for mode, have in (("a", a_ns), ("b", b_ns)):
            extrapolate(rr[mode], have, allns, mode, out["extrapolated"])
    ns = allns
    big = max(ns)
    lo = str(min(ns))
    hi = str(big)
    m = out["modes"] = {k: {str(n): median_cell(
        [rr[k].get(str(n)) for rr in out["rounds"]], n) for n in ns}
        for k in "abcd"}
    # The jobserver, by default on the smallest N (where builds are all of
    # the time).
    if js_n is not None:
        n = str(js_n)
        out["jobserver"] = js = {}
        for k, mode in (("with", "c"), ("without", "c-nojs")):
            cells = [rr[mode][n] for rr in out["rounds"] if n in rr[mode]]
            js[k] = median_cell(cells, js_n)
            for f in ("peak_running", "peak_compilers"):
                js[k][f] = max(c[f] for c in cells)
                js[k][f + "_rounds"] = [c[f] for c in cells]
        js["ratio_rounds"] = [rr["c"][n]["wall_s"] / rr["c-nojs"][n]
                              ["wall_s"] for rr in out["rounds"]]
        js["ratio"] = statistics.median(js["ratio_rounds"])
    print("\nTable 2: wall time in seconds (per jail), every package%s" % (
        ", median of %d rounds" % rounds if rounds > 1 else ""))
    print("  %-4s" % "N" + "".join("%18s" % ("(%s)" % k) for k in "abcd"))
    for n in ns:
        row = "  %-4d" % n
        for k in "abcd":
            x = m[k].get(str(n))
            row += "%18s" % ("%.1f (%.1f)%s" % (x["wall_s"], x["per_jail_s"],
                                                "*" if x.get("extrapolated")
                                                else "") if x else "not run")
        print(row)
    if out["extrapolated"]:
        print("  * not run: %s" % "; ".join(out["extrapolated"]))

    def ratios(k1, n1, k2, n2):
        """The ratio of two cells in every round that has both."""
        v = []
        for rr in out["rounds"]:
            x, y = rr[k1].get(n1), rr[k2].get(n2)
            if x and y:
                v.append(x["wall_s"] / y["wall_s"])
        return v
    t = "T%s/T%s" % (hi, lo)
    out["ratios_rounds"] = {t: {k: ratios(k, hi, k, lo) for k in "abcd"},
                            "a/c": {str(n): ratios("a", str(n), "c", str(n))
                                    for n in ns}}
    out["ratios"] = {g: {k: statistics.median(v) if v else None
                         for k, v in d.items()}
                     for g, d in out["ratios_rounds"].items()}

    def show(v, vs):
        if v is None:
            return "-"
        return "%.2f" % v + (" [%s]" % " ".join("%.2f" % x for x in vs)
                             if len(vs) > 1 else "")
    print("  T(%s)/T(%s):  " % (hi, lo) + "  ".join(
        "(%s) %s" % (k, show(v, out["ratios_rounds"][t][k]))
        for k, v in out["ratios"][t].items()) + "   [the paper: 11.4]")
    print("  (a)/(c):  " + "  ".join(
        "N=%s %s" % (k, show(v, out["ratios_rounds"]["a/c"][k]))
        for k, v in out["ratios"]["a/c"].items()))
    if rounds > 1:
        print("  (ratios: median of the rounds' [each round's])")
    js = out.get("jobserver")
    if js:
        print("\nOne CPU budget, N=%d, -j4%s:" % (
            js_n, ", %d rounds: the median time, the highest peak" % rounds
            if rounds > 1 else ""))
        for k in ("with", "without"):
            x = js[k]
            print("  %-7s the jobserver: %.1f s; runnable processes peak %d "
                  "(mean %.1f); compilers (cc1, ld) peak %d %s (mean %.1f)"
                  % (k, x["wall_s"], x["peak_running"], x["mean_running"],
                     x["peak_compilers"], x["peak_compilers_rounds"],
                     x["mean_compilers"]))
        print("  with / without: %s" % show(js["ratio"], js["ratio_rounds"]))
    return out


def svg(t2, path):
    """Grouped bars: total wall time per N, one bar a mode."""
    modes = "abcd"
    colors = {"a": "#c0392b", "b": "#e67e22", "c": "#2980b9",
              "d": "#27ae60"}
    ns = sorted(int(n) for n in t2["modes"]["c"])
    top = max(t2["modes"][k][str(n)]["wall_s"] for k in modes for n in ns
              if t2["modes"][k].get(str(n)))
    W, H, L, B = 640, 360, 60, 40
    bw = (W - L - 20) / (len(ns) * 5)
    s = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" '
         'font-family="sans-serif" font-size="12">' % (W, H),
         '<text x="%d" y="16">Table 2: wall time for N jails with every '
         'package (s)</text>' % L]
    for i in range(5):
        v = top * i / 4
        y = H - B - (H - B - 30) * i / 4
        s.append('<line x1="%d" x2="%d" y1="%.0f" y2="%.0f" stroke="#ddd"/>'
                 '<text x="%d" y="%.0f" text-anchor="end">%.0f</text>' % (
                     L, W - 20, y, y, L - 4, y + 4, v))
    for gi, n in enumerate(ns):
        for mi, k in enumerate(modes):
            x = t2["modes"][k].get(str(n))
            if not x:
                continue
            h = (H - B - 30) * x["wall_s"] / top
            x0 = L + (gi * 5 + mi + 0.5) * bw
            s.append('<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" '
                     'fill="%s"%s/>' % (
                         x0, H - B - h, bw * 0.9, h, colors[k],
                         ' fill-opacity="0.4" stroke="%s" stroke-dasharray='
                         '"3,2"' % colors[k] if x.get("extrapolated") else ""))
        s.append('<text x="%.1f" y="%d" text-anchor="middle">N = %d</text>' %
                 (L + (gi * 5 + 2.5) * bw, H - B + 16, n))
    for mi, k in enumerate(modes):
        s.append('<rect x="%d" y="%d" width="10" height="10" fill="%s"/>'
                 '<text x="%d" y="%d">(%s) %s</text>' % (
                     L + mi * 140, H - 14, colors[k], L + mi * 140 + 14,
                     H - 5, k, {"a": "-j1 --no-cache", "b": "-j1",
                                "c": "-j4", "d": "-j4, warm"}[k]))
    s.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(s) + "\n")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--work", default="/var/tmp/vjbuild-paper")
    ap.add_argument("--ns", default="1,5,10", help="Ns of modes c and d")
    ap.add_argument("--a-ns", help="Ns of mode a (default: --ns)")
    ap.add_argument("--b-ns", help="Ns of mode b (default: --ns)")
    ap.add_argument("--jobserver-n", default="min",
                    help="N of the with/without jobserver runs of mode c "
                    "(default: the smallest of --ns; none: not run)")
    ap.add_argument("--rounds", type=int, default=3,
                    help="rounds of Table 1")
    ap.add_argument("--t2-rounds", type=int, default=1,
                    help="rounds of Table 2 (hours each at N = 1,5,10)")
    ap.add_argument("--json")
    ap.add_argument("--svg")
    ap.add_argument("--reuse-base", action="store_true",
                    help="keep WORK/base.tar.gz from an earlier run")
    ap.add_argument("--only", choices=["1", "2"], help="one table")
    a = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("bench: run as root (device nodes, chroot, namespaces)")
    for tool in ("debootstrap", "bsdtar", "tar", "cmake", "pcre2-config",
                 "gcc", "make", "apt-get"):
        if shutil.which(tool) is None:
            sys.exit("bench: %s is missing (apt-get install debootstrap "
                     "libarchive-tools cmake libpcre2-dev build-essential)"
                     % tool)
    os.makedirs(a.work, exist_ok=True)
    ns = [int(x) for x in a.ns.split(",")]
    def nlist(x):
        return ns if x is None else [] if x == "none" else \
            [int(y) for y in x.split(",")]
    a_ns, b_ns = nlist(a.a_ns), nlist(a.b_ns)
    js_n = None if a.jobserver_n == "none" else min(ns) \
        if a.jobserver_n == "min" else int(a.jobserver_n)
    if js_n is not None and js_n not in ns:
        sys.exit("bench: --jobserver-n %d is not one of --ns" % js_n)
    out = {"machine": {"cpus": os.cpu_count(),
                       "uname": " ".join(os.uname()),
                       "date": time.strftime("%Y-%m-%d %H:%M UTC",
                                             time.gmtime())}}
    t0 = time.monotonic()
    fetch_sources(a.work)
    out["fetch_s"] = time.monotonic() - t0
    if a.only != "2":
        out["table1"] = table1(a.work, a.rounds, a.reuse_base)

    def save(t2=None, partial=True):
        if t2 is not None:
            out["table2"] = t2
        out["partial"] = partial
        if a.json:
            with open(a.json + ".tmp", "w") as f:
                json.dump(out, f, indent=1)
            os.rename(a.json + ".tmp", a.json)
    if a.only != "1":
        check_base(a.work)
        save()
        print("\nTable 2 runs:", flush=True)
        out["table2"] = table2(a.work, ns, a_ns, b_ns, js_n, a.t2_rounds,
                               save)
        if a.svg:
            svg(out["table2"], a.svg)
    save(partial=False)


if __name__ == "__main__":
    main()
