#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""Issue 18's bench: 30 jails made by one host, by three hosts each alone,
and by three hosts as a fleet, in the same invocation, on this machine.

  bench/fleet.py [--vjbuild ./vjbuild] [--rounds 3] [--out FILE.json]

The work: 30 jails of a busybox base (examples/mkbase.sh), each taking
one or two of three ports that compile real C (12, 8 and 8 generated
files of 150 functions, cc -O2, about 1.3 s a file here) through make
with the run's jobserver; app depends on libq. The three ways, each
from nothing (states, caches, jails, store and registry emptied), with
one PostgreSQL registry (a fresh database) in all three:

  one      one vjbuild -j2 provisions the 30 jails: each port built once
  alone    three vjbuilds -j2 (separate states, caches, jails), 10 jails
           each, started together, no cache_url: today's fleet, each
           host building what its jails need
  fleet    the same three with cache_url (nginx WebDAV on loopback) and
           the registry's claims: each port built once fleet-wide

Wall time is from the first start to the last exit; CPU is what the
vjbuilds and everything under them used (RUSAGE_CHILDREN); compiles are
counted from the builds' logs ("compiling" lines the build scripts
print). The ways run in turn, their order rotated each round; medians.

All three hosts run on this one machine: they share its CPUs, so the
fleet cannot be faster than one host here (the same builds, the same
CPUs, plus the fleet's traffic); what the bench shows is what sharing
saves against hosts building alone, and what the coordination costs
against one host. The scale nobody here has is bench/fleet_sim.py's.
"""
import argparse
import glob
import json
import os
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(HERE)
WORK = "/var/tmp/vjbuild-bench-fleet"
DB = "vjbench_fleet"
PGURL = "postgresql:///%s?host=/var/run/postgresql" % DB

PORTS = {"libq": (12, ""), "app": (8, "libq"), "tool": (8, "")}


def c_file(seed):
    fs = []
    for i in range(150):
        fs.append("long f%d_%d(long *a, int n) { long s = %d; for (int k = 0; "
                  "k < n; k++) { s += a[k] * %d ^ (s >> 3); if (s & 1) s = "
                  "s * 7 + a[(k + %d) %% n]; else s -= a[k] / (k + 1); } for "
                  "(int k = n - 1; k > 0; k--) s ^= s << (k %% 13); return "
                  "s; }" % (seed, i, i, i + 3, i))
    return "\n".join(fs) + "\n"


def make_ports(d):
    for name, (nfiles, dep) in PORTS.items():
        src = os.path.join(d, name, "src")
        os.makedirs(src)
        objs = []
        for k in range(nfiles):
            with open(os.path.join(src, "f%d.c" % k), "w") as f:
                f.write(c_file(k * 1000 + len(name)))
            objs.append("f%d.o" % k)
        with open(os.path.join(src, "Makefile"), "w") as f:
            f.write("lib%s.a: %s\n\tar rcs $@ %s\n%%.o: %%.c\n\tcc -O2 -c "
                    "-o $@ $<\n" % (name, " ".join(objs), " ".join(objs)))
        with open(os.path.join(d, name, "recipe"), "w") as f:
            f.write("version = 1.0\nsource = none\n" +
                    ("depends = %s\n" % dep if dep else ""))
        with open(os.path.join(d, name, "build"), "w") as f:
            f.write("echo compiling %s\ncd $SRCDIR\nmake\n"
                    "mkdir -p $STAGEDIR$PREFIX/lib\n"
                    "cp lib%s.a $STAGEDIR$PREFIX/lib/\n" % (name, name))


def jail_line(i):
    return "j%d 10.9.3.%d %s" % (i, i, ("app tool", "app", "tool libq")[i % 3])


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def start_nginx(d):
    port = free_port()
    os.makedirs(os.path.join(d, "tmp"))
    os.makedirs(os.path.join(d, "store", "packages"))
    conf = os.path.join(d, "nginx.conf")
    with open(conf, "w") as f:
        f.write("""user root; worker_processes 1; pid %(d)s/nginx.pid;
error_log %(d)s/error.log; events { worker_connections 256; }
http { access_log off; client_body_temp_path %(d)s/tmp;
 proxy_temp_path %(d)s/tmp; fastcgi_temp_path %(d)s/tmp;
 uwsgi_temp_path %(d)s/tmp; scgi_temp_path %(d)s/tmp;
 server { listen 127.0.0.1:%(p)d; root %(d)s/store; client_max_body_size 0;
  location /packages/ { dav_methods PUT; dav_access user:rw all:r; } } }
""" % {"d": d, "p": port})
    subprocess.run(["nginx", "-c", conf, "-e", d + "/error.log"], check=True)
    return "http://127.0.0.1:%d/packages/" % port


def stop_nginx(d):
    try:
        with open(os.path.join(d, "nginx.pid")) as f:
            os.kill(int(f.read()), 15)
    except (OSError, ValueError):
        pass


def pg(cmd):
    """dropdb or createdb of the bench's database."""
    argv = [cmd, "-h", "/var/run/postgresql"]
    if cmd == "dropdb":
        argv.append("--if-exists")
    subprocess.run(argv + [DB], check=cmd == "createdb",
                   stderr=subprocess.DEVNULL if cmd == "dropdb" else None)


def host_dir(d, name, lines, base, store):
    os.makedirs(d)
    shutil.copy(base, os.path.join(d, "base.tar.gz"))
    with open(os.path.join(d, "vjbuild.conf"), "w") as f:
        f.write("base = base.tar.gz\ndomain = example.org\nports = ../ports\n"
                "registry = %s\nfleet_host = %s\n" % (PGURL, name))
        if store:
            f.write("cache_url = %s\n" % store)
    with open(os.path.join(d, "hosts.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")


def one_way(way, vj, base):
    """Runs one way from nothing: (wall s, cpu s, compiles)."""
    shutil.rmtree(WORK + "/run", ignore_errors=True)
    d = WORK + "/run"
    os.makedirs(d)
    make_ports(os.path.join(d, "ports"))
    pg("dropdb")
    pg("createdb")
    store = start_nginx(os.path.join(d, "nginx")) if way == "fleet" else None
    if way == "one":
        hosts = {"one": [jail_line(i) for i in range(1, 31)]}
    else:
        hosts = {h: [jail_line(i) for i in range(1 + 10 * k, 11 + 10 * k)]
                 for k, h in enumerate("abc")}
    for h, lines in hosts.items():
        host_dir(os.path.join(d, h), h, lines, base, store)
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    procs = [subprocess.Popen([vj, "-q", "-j2", "hosts.txt"], cwd=os.path.join(
        d, h), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        for h in hosts]
    errs = [p.communicate()[1] for p in procs]
    wall = time.monotonic() - t0
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    stop_nginx(os.path.join(d, "nginx"))
    for p, e in zip(procs, errs):
        if p.returncode != 0:
            sys.exit("%s: a vjbuild failed (%d): %s" % (way, p.returncode,
                     e.decode(errors="replace")[-500:]))
    compiles = 0
    for log in glob.glob(d + "/*/state/logs/[0-9]*/build:*.log"):
        with open(log, errors="replace") as f:
            compiles += sum(1 for line in f if line.startswith("compiling "))
    cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    return wall, cpu, compiles


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--vjbuild", default=os.path.join(TOP, "vjbuild"))
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--out")
    a = ap.parse_args()
    vj = os.path.abspath(a.vjbuild)
    shutil.rmtree(WORK, ignore_errors=True)
    os.makedirs(WORK)
    base = WORK + "/base.tar.gz"
    subprocess.run(["sh", TOP + "/examples/mkbase.sh", base], check=True,
                   stdout=subprocess.DEVNULL)
    ways = ["one", "alone", "fleet"]
    res = {w: [] for w in ways}
    for r in range(a.rounds):
        for w in ways[r % 3:] + ways[:r % 3]:
            res[w].append(one_way(w, vj, base))
            print("round %d %-6s %6.1fs wall %6.1fs cpu %2d compiles" %
                  ((r + 1, w) + res[w][-1]), flush=True)
    pg("dropdb")
    shutil.rmtree(WORK, ignore_errors=True)
    med = {w: (statistics.median(x[0] for x in res[w]),
               statistics.median(x[1] for x in res[w]),
               statistics.median(x[2] for x in res[w])) for w in ways}
    print("\n| way | wall (median) | vs one host | CPU (median) | vs one "
          "host | compiles |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for w in ways:
        print("| %s | %.1f s | %.2f | %.1f s | %.2f | %d |" % (
            w, med[w][0], med[w][0] / med["one"][0], med[w][1],
            med[w][1] / med["one"][1], med[w][2]))
    if a.out:
        with open(a.out, "w") as f:
            json.dump({"rounds": res, "median": med, "cpus": os.cpu_count()},
                      f, indent=1)


if __name__ == "__main__":
    main()
