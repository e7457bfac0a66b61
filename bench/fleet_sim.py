#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""A fleet of provisioning hosts, simulated (issue 18, "at the scale nobody
here has"): H hosts provision J jails between them, each host with S slots
(its -j). Two ways, on the same jails and the same recorded durations:

  alone   every host builds each package its jails need itself (its own
          cache), as vjbuild does today;
  shared  a package is built once in the fleet: the first host that needs
          it claims it in the registry (a lease row), builds it, uploads it
          to the cache server and marks it done; the others wait (LISTEN/
          NOTIFY, or polling with back-off) and download it.

Input: what vjbuild recorded on real ports (--state: a state's build
durations, package sizes and the mean install, extract and other per-jail
task times; --ports: the recipes' depends), or the same kept as JSON
(--input, docs/bench/fleet-input.json, written by --save-input).

Output: per fleet size, the makespan (until the last jail is done), builds
per package, the registry's queries a second (mean and peak over 1 s
buckets) and the cache server's requests and bytes a second, for both ways,
as a table, and JSON (--json) for docs.

The model, and what it leaves out (said with the table): a task takes one
slot for its recorded duration (a build ran with the jobserver's -j2 on the
2-CPU machine that recorded it; here it takes one slot: a host is as fast
as that machine, no faster); transfers take size / bandwidth, a host's link
and the cache server's shared fairly (processor sharing); a registry query
takes no time (its load is counted, not modelled); no host fails (the lease
and its heartbeats are counted as queries).
"""
import argparse, heapq, json, math, os, random, re, sqlite3, sys
from collections import defaultdict


def load_state(state, ports):
    db = sqlite3.connect("file:%s?mode=ro" % os.path.join(state, "vjbuild.db"), uri=True)
    builds = {}
    for name, d in db.execute("select name, duration from tasks where kind = 'build' "
                              "and status = 'ok' and duration is not null"):
        builds[name.split(":", 1)[1]] = d
    sizes = {}
    for port, size in db.execute("select port, size from packages order by built"):
        sizes[port] = size                  # the newest of each port
    mean = {k: v for k, v in db.execute(
        "select kind, avg(duration) from tasks where status = 'ok' and duration is not null group by kind")}
    deps = {}
    for p in builds:
        deps[p] = []
        try:
            for line in open(os.path.join(ports, p, "recipe")):
                m = re.match(r"\s*depends\s*=\s*(.*)", line)
                if m:
                    deps[p] = m.group(1).split()
        except OSError:
            pass
    per_jail = sum(mean.get(k, 0) for k in ("extract", "distribution", "devfs", "hostconf",
                                            "users", "cert", "services", "register"))
    return {"builds": builds, "sizes": sizes, "deps": deps,
            "install_s": mean.get("install", 0.3), "setup_s": mean.get("setup", 0.2),
            "jail_s": per_jail,
            "source": "state %s, ports %s" % (state, ports)}


# What customers take (the paper's services): a jail gets each with this
# probability, and what it needs.
SERVICES = [("web", 0.9, ["apache2"]), ("ftp", 0.6, ["proftpd"]),
            ("mail", 0.5, ["opensmtpd", "dovecot"]), ("lists", 0.2, ["opensmtpd", "mlmmj"])]


def closure(pkgs, deps):
    out, todo = set(), list(pkgs)
    while todo:
        p = todo.pop()
        if p not in out:
            out.add(p)
            todo.extend(deps.get(p, []))
    return out


class Link:
    """Processor sharing of a bandwidth among transfers."""
    def __init__(self, bw):
        self.bw, self.active = bw, {}       # id -> bytes left


class Sim:
    def __init__(self, inp, hosts, jails, slots, mode, notify, seed, host_bw, server_bw,
                 lease, poll0, poll_max):
        self.inp, self.H, self.S, self.mode, self.notify = inp, hosts, slots, mode, notify
        self.host_bw, self.server_bw = host_bw, server_bw
        self.lease, self.poll0, self.poll_max = lease, poll0, poll_max
        rng = random.Random(seed)
        deps = inp["deps"]
        self.jails = []                     # (host, packages in dependency closure)
        for j in range(jails):
            want = set()
            for _, p, pk in SERVICES:
                if rng.random() < p:
                    want.update(pk)
            self.jails.append((j % hosts, closure(want, deps)))
        self.now = 0.0
        self.q = []
        self.seq = 0
        self.builds = defaultdict(int)
        self.queries = defaultdict(int)     # second -> registry queries
        self.cache_req = defaultdict(int)   # second -> cache server requests
        self.cache_bytes = defaultdict(float)
        self.claimed = {}                   # package -> host building it
        self.done_fleet = {}                # package -> time it was uploaded
        self.waiters = defaultdict(list)    # package -> hosts waiting (NOTIFY)
        self.hosts = []
        for h in range(hosts):
            js = [j for j, (hh, _) in enumerate(self.jails) if hh == h]
            need = set()
            for j in js:
                need |= self.jails[j][1]
            self.hosts.append({"free": slots, "have": set(), "want": need, "busy": set(),
                               "jails": js, "ready_tasks": [], "left": {},
                               "wait": set(), "extracted": set()})
        self.finished_jails = 0
        self.makespan = 0.0

    def at(self, t, fn, *a):
        self.seq += 1
        heapq.heappush(self.q, (t, self.seq, fn, a))

    def query(self, n=1):
        self.queries[int(self.now)] += n

    # The cache server's link, shared fairly (processor sharing): each of
    # the n transfers in flight moves at min(host link, server link / n).
    def rate(self):
        n = len(self.flows)
        return min(self.host_bw, self.server_bw / n) if n else 0.0

    def advance(self):
        """Moves every flow on to now, counting the bytes per second."""
        r, t0 = self.rate(), self.flows_at
        if r > 0 and self.now > t0:
            for f in self.flows.values():
                f[0] -= r * (self.now - t0)
            t = t0
            while t < self.now:     # bytes over the seconds they took
                s = int(t)
                e = min(self.now, s + 1)
                self.cache_bytes[s] += r * (e - t) * len(self.flows)
                t = e
        self.flows_at = self.now

    def reschedule(self):
        self.gen += 1
        if self.flows:
            r = self.rate()
            fid, f = min(self.flows.items(), key=lambda kv: kv[1][0])
            self.at(self.now + max(0.0, f[0]) / r, self.flow_end, self.gen)

    def flow_end(self, gen):
        if gen != self.gen:
            return                  # the flows changed since
        self.advance()
        done = [fid for fid, f in self.flows.items() if f[0] < 1.0]  # a byte
        thens = [self.flows.pop(fid)[1] for fid in done]
        self.reschedule()
        for then in thens:
            then()

    def transfer(self, nbytes, then):
        """A download or an upload: one request to the cache server."""
        self.cache_req[int(self.now)] += 1
        self.advance()
        self.nflow += 1
        self.flows[self.nflow] = [float(nbytes), then]
        self.reschedule()

    def run(self):
        self.flows, self.flows_at, self.gen, self.nflow = {}, 0.0, 0, 0
        inp = self.inp
        for h, host in enumerate(self.hosts):
            for j in host["jails"]:
                # extract and the host-side tasks first, then installs as
                # packages arrive, then setup.
                host["ready_tasks"].append(("jail", j, inp["jail_s"]))
                host["left"][j] = len(self.jails[j][1])
            self.at(0.0, self.schedule, h)
        while self.q:
            t, _, fn, a = heapq.heappop(self.q)
            self.now = t
            fn(*a)
        return self.result()

    def ready_to_get(self, host, p):
        return all(d in host["have"] for d in self.inp["deps"].get(p, []))

    def schedule(self, h):
        host = self.hosts[h]
        # packages: build or fetch what is wanted and whose deps are here
        for p in sorted(host["want"] - host["have"] - host["busy"] - host["wait"],
                        key=lambda p: -self.inp["builds"].get(p, 0)):
            if not self.ready_to_get(host, p):
                continue
            if self.mode == "alone":
                if host["free"] == 0:
                    break
                host["free"] -= 1
                host["busy"].add(p)
                self.builds[p] += 1
                self.at(self.now + self.inp["builds"][p], self.built_alone, h, p)
            else:
                self.need_shared(h, p)
        while host["free"] > 0 and host["ready_tasks"]:
            kind, j, d = host["ready_tasks"].pop(0)
            host["free"] -= 1
            self.at(self.now + d, self.task_done, h, kind, j)

    def built_alone(self, h, p):
        host = self.hosts[h]
        host["free"] += 1
        host["busy"].discard(p)
        self.arrived(h, p)

    def arrived(self, h, p):
        host = self.hosts[h]
        host["have"].add(p)
        host["wait"].discard(p)
        for j in host["jails"]:
            if p in self.jails[j][1] and j in host["extracted"]:
                host["ready_tasks"].append(("install", j, self.inp["install_s"]))
        self.schedule(h)

    def task_done(self, h, kind, j):
        host = self.hosts[h]
        host["free"] += 1
        if kind == "jail":
            # its root is there: install what has arrived, the rest as it
            # arrives; a jail of no package goes to its setup.
            host["extracted"].add(j)
            for p in self.jails[j][1] & host["have"]:
                host["ready_tasks"].append(("install", j, self.inp["install_s"]))
            if not self.jails[j][1]:
                host["ready_tasks"].append(("setup", j, self.inp["setup_s"]))
        elif kind == "install":
            host["left"][j] -= 1
            if host["left"][j] == 0:
                host["ready_tasks"].append(("setup", j, self.inp["setup_s"] *
                                            max(1, len(self.jails[j][1]) // 2)))
        elif kind == "setup":
            self.query()                    # register: the jail's row
            self.finished_jails += 1
            self.makespan = max(self.makespan, self.now)
        self.schedule(h)

    # shared: claim, build, upload, mark; or wait and download
    def need_shared(self, h, p):
        host = self.hosts[h]
        if p in self.done_fleet:
            host["wait"].add(p)
            self.query()                    # look it up: done
            self.transfer(self.inp["sizes"].get(p, 1e6), lambda: self.arrived(h, p))
            return
        if p not in self.claimed and host["free"] == 0:
            return                          # claimed when a slot frees
        self.query()                        # the claim (INSERT ... ON CONFLICT)
        if p not in self.claimed:
            self.claimed[p] = h
            host["free"] -= 1
            host["busy"].add(p)
            self.builds[p] += 1
            d = self.inp["builds"][p]
            beats = int(d // (self.lease / 3))
            for k in range(1, beats + 1):   # heartbeats during the build
                self.at(self.now + k * self.lease / 3, self.query)
            self.at(self.now + d, self.built_shared, h, p)
        else:
            host["wait"].add(p)
            if self.notify:
                self.waiters[p].append(h)   # LISTEN: woken by the NOTIFY
            else:
                self.at(self.now + self.poll0, self.poll, h, p, self.poll0)

    def built_shared(self, h, p):
        host = self.hosts[h]
        host["free"] += 1
        host["busy"].discard(p)
        def uploaded():
            self.query()                    # mark done (and NOTIFY)
            self.done_fleet[p] = self.now
            for w in self.waiters.pop(p, []):
                self.query()                # the woken host reads the row
                self.transfer(self.inp["sizes"].get(p, 1e6),
                              lambda w=w: self.arrived(w, p))
        self.transfer(self.inp["sizes"].get(p, 1e6), uploaded)
        self.arrived(h, p)

    def poll(self, h, p, wait):
        self.query()
        if p in self.done_fleet:
            self.transfer(self.inp["sizes"].get(p, 1e6), lambda: self.arrived(h, p))
        else:
            wait = min(self.poll_max, wait * 2)
            self.at(self.now + wait, self.poll, h, p, wait)

    def result(self):
        secs = max(1, int(math.ceil(self.makespan)))
        qs = [self.queries.get(s, 0) for s in range(secs)]
        cr = [self.cache_req.get(s, 0) for s in range(secs)]
        cb = [self.cache_bytes.get(s, 0) for s in range(secs)]
        npk = len(self.builds)
        return {"makespan_s": round(self.makespan, 1),
                "jails_done": self.finished_jails,
                "builds": sum(self.builds.values()), "packages": npk,
                "builds_per_package": round(sum(self.builds.values()) / max(1, npk), 2),
                "registry_qps_mean": round(sum(qs) / secs, 1), "registry_qps_peak": max(qs),
                "cache_rps_mean": round(sum(cr) / secs, 2), "cache_rps_peak": max(cr),
                "cache_MBps_mean": round(sum(cb) / secs / 1e6, 1),
                "cache_MBps_peak": round(max(cb) / 1e6, 1)}


def svg_chart(rows, path):
    """Two panels, hosts on a log axis: the makespan, and the registry's
    mean queries a second, one line a way."""
    ways = ["alone", "shared+poll", "shared+notify"]
    colour = {"alone": "#c62828", "shared+poll": "#1565c0", "shared+notify": "#2e7d32"}
    hosts = sorted({r["hosts"] for r in rows})
    W, H, L, B = 360, 240, 60, 40
    out = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" '
           'font-family="sans-serif" font-size="11">' % (2 * W + 20, H + 40)]
    for k, (key, title) in enumerate((("makespan_s", "makespan (s)"),
                                      ("registry_qps_mean", "registry queries/s (mean)"))):
        x0 = k * (W + 20)
        top = max(r[key] for r in rows) * 1.1 or 1
        lx = lambda h: x0 + L + (math.log10(h) - math.log10(hosts[0])) / \
            max(1e-9, math.log10(hosts[-1]) - math.log10(hosts[0])) * (W - L - 30)
        ly = lambda v: 20 + (1 - v / top) * (H - B - 20)
        out.append('<text x="%d" y="14">%s</text>' % (x0 + L, title))
        out.append('<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#888"/>' %
                   (x0 + L, H - B, x0 + W - 20, H - B))
        out.append('<line x1="%d" y1="20" x2="%d" y2="%d" stroke="#888"/>' %
                   (x0 + L, x0 + L, H - B))
        for h in hosts:
            out.append('<text x="%.0f" y="%d" text-anchor="middle">%d</text>' % (lx(h), H - B + 14, h))
        out.append('<text x="%d" y="%d">hosts</text>' % (x0 + W - 40, H - B + 28))
        for i in range(5):
            v = top * i / 4
            out.append('<text x="%d" y="%.0f" text-anchor="end">%.0f</text>' % (x0 + L - 4, ly(v) + 4, v))
        for w in ways:
            pts = [(lx(r["hosts"]), ly(r[key])) for r in rows if r["way"] == w]
            out.append('<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>' %
                       (colour[w], " ".join("%.1f,%.1f" % p for p in pts)))
            for p in pts:
                out.append('<circle cx="%.1f" cy="%.1f" r="3" fill="%s"/>' % (p[0], p[1], colour[w]))
    for i, w in enumerate(ways):
        out.append('<text x="%d" y="%d" fill="%s">%s</text>' % (L + i * 120, H + 30, colour[w], w))
    out.append("</svg>")
    with open(path + ".tmp", "w") as f:
        f.write("\n".join(out) + "\n")
    os.replace(path + ".tmp", path)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--state", help="a vjbuild state whose builds were recorded")
    ap.add_argument("--ports", help="the ports tree of those builds (for depends)")
    ap.add_argument("--input", help="the inputs as JSON (see --save-input)")
    ap.add_argument("--save-input", help="write the inputs read from --state here")
    ap.add_argument("--hosts", default="10,100,1000")
    ap.add_argument("--jails", type=int, default=10000)
    ap.add_argument("--slots", type=int, default=2)
    ap.add_argument("--host-mbps", type=float, default=1000, help="each host's link, Mbit/s")
    ap.add_argument("--server-mbps", type=float, default=10000, help="the cache server's, Mbit/s")
    ap.add_argument("--lease", type=float, default=60, help="claim lease, s (heartbeat a third)")
    ap.add_argument("--poll", default="1,30", help="polling back-off: first,most seconds")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--json")
    ap.add_argument("--svg", help="a chart of makespan and registry load")
    a = ap.parse_args()
    if a.input:
        inp = json.load(open(a.input))
    elif a.state and a.ports:
        inp = load_state(a.state, a.ports)
    else:
        ap.error("give --input, or --state and --ports")
    if a.save_input:
        with open(a.save_input + ".tmp", "w") as f:
            json.dump(inp, f, indent=1, sort_keys=True)
        os.replace(a.save_input + ".tmp", a.save_input)
    poll0, pollmax = (float(x) for x in a.poll.split(","))
    rows = []
    print("inputs: %s; builds %s s; install %.2f s, per jail %.2f s, setup %.2f s"
          % (inp["source"], ", ".join("%s %.0f" % kv for kv in sorted(inp["builds"].items())),
             inp["install_s"], inp["jail_s"], inp["setup_s"]))
    print("%6s %7s %-14s %10s %7s %8s %8s %8s %8s %9s" % (
        "hosts", "jails", "way", "makespan", "b/pkg", "reg q/s", "q/s max",
        "cache r/s", "r/s max", "MB/s max"))
    for H in [int(x) for x in a.hosts.split(",")]:
        for mode, notify in (("alone", False), ("shared", False), ("shared", True)):
            s = Sim(inp, H, a.jails, a.slots, mode, notify, a.seed, a.host_mbps * 125000,
                    a.server_mbps * 125000, a.lease, poll0, pollmax)
            r = s.run()
            way = mode if mode == "alone" else "shared+" + ("notify" if notify else "poll")
            r.update({"hosts": H, "jails": a.jails, "way": way})
            rows.append(r)
            print("%6d %7d %-14s %9.0fs %7.2f %8.1f %8d %9.2f %8d %9.1f" % (
                H, a.jails, way, r["makespan_s"], r["builds_per_package"],
                r["registry_qps_mean"], r["registry_qps_peak"], r["cache_rps_mean"],
                r["cache_rps_peak"], r["cache_MBps_peak"]))
            assert r["jails_done"] == a.jails, r
    if a.svg:
        svg_chart(rows, a.svg)
    if a.json:
        with open(a.json + ".tmp", "w") as f:
            json.dump({"inputs": inp, "args": vars(a), "rows": rows}, f, indent=1)
        os.replace(a.json + ".tmp", a.json)


if __name__ == "__main__":
    main()
