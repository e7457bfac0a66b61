#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""The hosting example: three customers' virtual servers with the paper's
stack, provisioned by vjbuild from Debian bookworm's sources.

    hosting.py build     sources, base, `vjbuild -j2` (cold: compiles the
                         stack once; warm: reuses the cache)
    hosting.py start     tinydns on the host, then the three jails
    hosting.py day       a customer's day, with real clients
    hosting.py stop      the jails, then tinydns
    hosting.py figures   cold and warm build, start time, memory

Its work goes to $HOSTING_WORK (default /var/tmp/vjbuild-hosting), outside
the checkout, so the cache outlives a clean clone. `make hosting-demo` runs
build, start and day; `make hosting-test` runs tests/stack.py, which uses
this file. As root (vjbuild makes devices, namespaces, interfaces)."""
import os
import subprocess
import sys
import time

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
HERE = os.path.join(TOP, "examples", "hosting")
WORK = os.environ.get("HOSTING_WORK", "/var/tmp/vjbuild-hosting")
VJ = os.environ.get("VJBUILD", os.path.join(TOP, "vjbuild"))
CONF = os.path.join(WORK, "vjbuild.conf")
HOSTS = os.path.join(HERE, "hosts.txt")
DOMAIN = "hosting.test"
DNS_IP = "10.77.0.1"            # tinydns, on the host (lo), the jails resolver
SOURCES = ["apr", "apr-util", "expat", "apache2", "proftpd-dfsg",
           "opensmtpd", "dovecot", "mlmmj"]
PACKAGES = "apache2 proftpd opensmtpd dovecot mlmmj"
# What the base has besides debootstrap's minbase (FreeBSD's base has
# OpenSSL and RPC; the ports link libevent, ncurses and brotli too).
BASE_EXTRA = ("libevent-2.1-7", "libtirpc3")

sys.path.insert(0, os.path.join(TOP, "bench"))


def log(msg):
    print(msg, flush=True)


def sh(argv, **kw):
    return subprocess.run(argv, check=True, **kw)


def vj(*args, **kw):
    return subprocess.run([VJ, "-f", CONF] + list(args), **kw)


def hosts():
    """[(name, address, {user: password}, vars)] of hosts.txt."""
    pw = {}
    with open(os.path.join(HERE, "passwords")) as f:
        for line in f:
            if line.strip() and not line.startswith("#"):
                u, p = line.split()
                pw[u] = p
    out = []
    with open(HOSTS) as f:
        for line in f:
            w = line.split()
            if not w or w[0].startswith("#"):
                continue
            users = [x[5:].split("=")[0] for x in w if x.startswith("user.")]
            vars_ = dict(x[4:].split("=", 1) for x in w if x.startswith("var."))
            out.append((w[0], w[1], {u: pw[u] for u in users}, vars_))
    return out


def registry():
    """The registry: PostgreSQL (database vjhosting) when a server is
    there to use, else the state's SQLite."""
    url = os.environ.get("HOSTING_REGISTRY")
    if url is not None:
        return url or None
    try:
        r = subprocess.run(["psql", "-h", "/var/run/postgresql", "-d",
                            "postgres", "-Atc", "SELECT 1 FROM pg_database "
                            "WHERE datname = 'vjhosting'"],
                           capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if r.returncode != 0:
        return None
    if r.stdout.strip() != "1":
        subprocess.run(["createdb", "-h", "/var/run/postgresql",
                        "vjhosting"], check=True)
    return "postgresql:///vjhosting?host=/var/run/postgresql"


def write_conf():
    os.makedirs(WORK, exist_ok=True)
    reg = registry()
    text = ("# Written by examples/hosting/hosting.py.\n"
            "base = %s/base.tar.gz\n"
            "distribution = %s/distribution\n"
            "ports = %s/ports\n"
            "distfiles = %s/distfiles\n"
            "jails = %s/jails\nstate = %s/state\ncache = %s/cache\n"
            "dns = %s/dns\n"
            "domain = %s\n"
            "resolver = %s\n"
            "packages = %s\n"
            "limit.memory = 512M\n"
            % (WORK, HERE, HERE, WORK, WORK, WORK, WORK, WORK, DOMAIN,
               DNS_IP, PACKAGES))
    if reg:
        text += "registry = %s\n" % reg
    with open(CONF + ".tmp", "w") as f:
        f.write(text)
    os.rename(CONF + ".tmp", CONF)


def prepare():
    """Sources and base, once (kept in WORK)."""
    import paper
    dist = os.path.join(WORK, "distfiles")
    want = []
    for port in os.listdir(os.path.join(HERE, "ports")):
        with open(os.path.join(HERE, "ports", port, "recipe")) as f:
            want += [l.split("=", 1)[1].strip() for l in f
                     if l.startswith("source")]
    if not all(os.path.exists(os.path.join(dist, w)) for w in want):
        log("== fetching Debian bookworm's sources of the stack")
        paper.fetch_sources(WORK, SOURCES)
    if not os.path.exists(os.path.join(WORK, "base.tar.gz")):
        log("== making the base (debootstrap minbase of bookworm)")
        paper.make_base(WORK, BASE_EXTRA)
    write_conf()


def build(*extra):
    prepare()
    log("== vjbuild -j2 %s" % HOSTS)
    t = time.monotonic()
    r = vj("-j2", *extra, HOSTS)
    took = time.monotonic() - t
    if r.returncode != 0:
        sys.exit("hosting: vjbuild failed (exit %d)" % r.returncode)
    log("   took %.1f s" % took)
    return took


def tinydns_start():
    """tinydns on DNS_IP, serving what vjbuild's dns task wrote. The
    operator's one command (README): ROOT=STATE_DNS IP=... tinydns."""
    tinydns_stop()
    sh(["ip", "addr", "replace", DNS_IP + "/32", "dev", "lo"])
    env = {"ROOT": os.path.join(WORK, "dns"), "IP": DNS_IP,
           "UID": "65534", "GID": "65534", "PATH": "/usr/bin:/bin"}
    with open(os.path.join(WORK, "tinydns.log"), "ab") as out:
        p = subprocess.Popen(["/usr/sbin/tinydns"], env=env, stdout=out,
                             stderr=out, start_new_session=True)
    with open(os.path.join(WORK, "tinydns.pid"), "w") as f:
        f.write("%d\n" % p.pid)
    time.sleep(0.3)
    if p.poll() is not None:
        sys.exit("hosting: tinydns did not start (%s/tinydns.log)" % WORK)


def tinydns_stop():
    pidfile = os.path.join(WORK, "tinydns.pid")
    try:
        with open(pidfile) as f:
            os.kill(int(f.read()), 15)
    except (OSError, ValueError):
        pass
    try:
        os.unlink(pidfile)
    except OSError:
        pass


def start(names=None):
    tinydns_start()
    names = names or [h[0] for h in hosts()]
    t = time.monotonic()
    r = vj("start", *names)
    took = time.monotonic() - t
    if r.returncode != 0:
        sys.exit("hosting: start failed")
    return took / len(names)


def stop(names=None, dns=True):
    names = names or [h[0] for h in hosts()]
    vj("stop", *names)
    if dns:
        tinydns_stop()


def main():
    what = sys.argv[1] if len(sys.argv) > 1 else "demo"
    if what == "build":
        build()
    elif what == "start":
        start()
    elif what == "stop":
        stop()
    elif what in ("day", "demo", "figures"):
        sys.path.insert(0, os.path.join(TOP, "tests"))
        import stack
        if what == "demo":
            build()
            start()
        sys.exit(stack.main(["--day"] if what != "figures" else
                            ["--figures"]))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
