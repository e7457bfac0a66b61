#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""The paper's virtual servers, used by real clients from the host
(issue 16): for each jail of examples/hosting, names resolved through the
host's tinydns; FTP upload as the jail's user; the page fetched with curl
over HTTPS, the certificate verified against the host's CA and the name;
mail sent over SMTP (in clear: docs/HOSTING.md) and read over IMAPS and
POP3S with the
user's password; a post to the jail's list received by both subscribers;
and the negative side: a wrong password refused (FTP, IMAP, POP3), one
jail's user refused by another jail, mail for an unknown domain refused
(no open relay). Then the jails are stopped and started again (the same
site and mail), and one is destroyed (no service, address, DNS entry or
registry row left).

    stack.py            the whole test (provisions, starts, stops; prints
                        "N passed, N failed" last)
    stack.py --day      a customer's day on started jails, told as it goes
    stack.py --figures  cold and warm build, start time, memory

Needs root, vjbuild's hosting example (examples/hosting/hosting.py), curl
and tinydns."""
import ftplib
import imaplib
import io
import os
import poplib
import random
import re
import smtplib
import socket
import ssl
import struct
import subprocess
import sys
import time
import email.message

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "examples", "hosting"))
import hosting  # noqa: E402

CA = os.path.join(hosting.WORK, "state", "ca", "ca.crt")
passed = failed = 0
TOLD = False


def tell(msg):
    if TOLD:
        print("   " + msg, flush=True)


def check(what, ok, detail=""):
    global passed, failed
    if ok:
        passed += 1
        print("ok - %s" % what, flush=True)
    else:
        failed += 1
        print("not ok - %s%s" % (what, (": " + detail) if detail else ""),
              flush=True)
    return ok


def attempt(what, fn):
    """check(what) on fn() not raising; its value, or None."""
    try:
        v = fn()
        check(what, True)
        return v
    except Exception as e:  # noqa: BLE001 (any failure of a client)
        check(what, False, "%s: %s" % (type(e).__name__, e))
        return None


def refused(what, fn, *kinds):
    """check(what) on fn() raising one of kinds (the server said no)."""
    try:
        fn()
        check(what, False, "it was accepted")
    except kinds as e:
        tell("refused as it should be: %s" % str(e).strip()[:100])
        check(what, True)
    except Exception as e:  # noqa: BLE001
        check(what, False, "%s: %s" % (type(e).__name__, e))


# ---- DNS: queries to the host's tinydns, by hand (RFC 1035) ----

def dns_query(name, qtype):
    """Answers of type qtype (1 A, 15 MX, 12 PTR) for name from tinydns;
    [] for none, None for NXDOMAIN."""
    qid = random.randrange(65536)
    q = struct.pack(">HHHHHH", qid, 0, 1, 0, 0, 0)
    for label in name.rstrip(".").split("."):
        q += bytes([len(label)]) + label.encode()
    q += b"\0" + struct.pack(">HH", qtype, 1)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(3)
    try:
        s.sendto(q, (hosting.DNS_IP, 53))
        r, _ = s.recvfrom(4096)
    finally:
        s.close()
    rid, flags, qd, an = struct.unpack(">HHHH", r[:8])
    if rid != qid:
        raise OSError("DNS: wrong id")
    if flags & 15 == 3:
        return None
    off = 12
    for _ in range(qd):
        off = _skip_name(r, off) + 4
    out = []
    for _ in range(an):
        off = _skip_name(r, off)
        t, _c, _ttl, ln = struct.unpack(">HHIH", r[off:off + 10])
        off += 10
        data = r[off:off + ln]
        if t == qtype == 1:
            out.append(socket.inet_ntoa(data))
        elif t == qtype == 15:
            out.append(_read_name(r, off + 2))
        elif t == qtype == 12:
            out.append(_read_name(r, off))
        off += ln
    return out


def _skip_name(r, off):
    while r[off]:
        if r[off] & 0xC0 == 0xC0:
            return off + 2
        off += r[off] + 1
    return off + 1


def _read_name(r, off):
    labels = []
    while r[off]:
        if r[off] & 0xC0 == 0xC0:
            off = ((r[off] & 0x3F) << 8) | r[off + 1]
            continue
        labels.append(r[off + 1:off + 1 + r[off]].decode())
        off += r[off] + 1
    return ".".join(labels)


_real_getaddrinfo = socket.getaddrinfo


def _getaddrinfo(host, port, *a, **kw):
    """Names of the hosting domain resolve through tinydns; the clients
    (ftplib, smtplib, imaplib, poplib) then verify those names."""
    if isinstance(host, str) and host.endswith("." + hosting.DOMAIN):
        addrs = dns_query(host, 1)
        if not addrs:
            raise socket.gaierror(socket.EAI_NONAME, "tinydns: no " + host)
        host = addrs[0]
    return _real_getaddrinfo(host, port, *a, **kw)


socket.getaddrinfo = _getaddrinfo
_real_create_connection = socket.create_connection


def _create_connection(address, timeout=socket._GLOBAL_DEFAULT_TIMEOUT,
                       source_address=None, **kw):
    """Clients connect from the host's address in the jails' reverse zone
    (hosting.DNS_IP): OpenSMTPD looks the client's address up before it
    greets, and tinydns answers only for its own zones (it does not reply
    for the host's other addresses, and the greeting waits for the
    resolver to give up)."""
    if source_address is None:
        source_address = (hosting.DNS_IP, 0)
    return _real_create_connection(address, timeout, source_address, **kw)


socket.create_connection = _create_connection


def tls():
    ctx = ssl.create_default_context(cafile=CA)
    ctx.check_hostname = True
    return ctx


# ---- the services ----

def ftp_upload(host, user, pw, body):
    with ftplib.FTP(host, timeout=10) as f:
        f.login(user, pw)
        tell("FTP %s: logged in as %s, in %s" % (host, user, f.pwd()))
        f.cwd("www")
        f.storbinary("STOR index.html", io.BytesIO(body))


def ftp_login(host, user, pw):
    with ftplib.FTP(host, timeout=10) as f:
        f.login(user, pw)


def https_get(host):
    addr = dns_query(host, 1)[0]
    r = subprocess.run(["curl", "-sS", "--fail", "--max-time", "10",
                        "--interface", hosting.DNS_IP,
                        "--cacert", CA, "--resolve",
                        "%s:443:%s" % (host, addr), "https://%s/" % host],
                       capture_output=True)
    if r.returncode != 0:
        raise OSError("curl: " + r.stderr.decode().strip())
    return r.stdout


def smtp_send(host, sender, rcpt, subject, body, to_header=None):
    m = email.message.EmailMessage()
    m["From"] = sender
    m["To"] = to_header or rcpt
    m["Subject"] = subject
    m.set_content(body)
    with smtplib.SMTP(host, 25, timeout=15) as s:
        s.ehlo("client.example")
        s.send_message(m, from_addr=sender, to_addrs=[rcpt])


def smtp_rcpt(host, rcpt):
    """RCPT TO rcpt without sending: raises on refusal."""
    with smtplib.SMTP(host, 25, timeout=15) as s:
        s.ehlo("client.example")
        s.mail("someone@client.example")
        code, msg = s.rcpt(rcpt)
        if code >= 400:
            raise smtplib.SMTPRecipientsRefused({rcpt: (code, msg)})


def imap_subjects(host, user, pw):
    with imaplib.IMAP4_SSL(host, 993, ssl_context=tls(), timeout=10) as m:
        m.login(user, pw)
        m.select("INBOX", readonly=True)
        _, data = m.search(None, "ALL")
        out = []
        for num in data[0].split():
            _, d = m.fetch(num, "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
            out.append(d[0][1].decode(errors="replace").strip()
                       .replace("Subject: ", ""))
        return out


def pop3_count(host, user, pw):
    p = poplib.POP3_SSL(host, 995, context=tls(), timeout=10)
    try:
        p.user(user)
        p.pass_(pw)
        return p.stat()[0]
    finally:
        p.quit()


def wait_for_subject(host, user, pw, subject, secs=30):
    end = time.monotonic() + secs
    got = []
    while time.monotonic() < end:
        got = imap_subjects(host, user, pw)
        if any(subject in g for g in got):
            return got
        time.sleep(0.5)
    raise OSError("%s@%s has no %r after %d s: %s" % (user, host, subject,
                                                       secs, got))


# ---- a customer's day, per jail ----

def day(jails, tag):
    """Every service of every jail, each check counted. Returns
    {name: (page, subject)} of what was left there."""
    left = {}
    for i, (name, addr, users, vars_) in enumerate(jails):
        host = "%s.%s" % (name, hosting.DOMAIN)
        u1, u2 = list(users)[:2]
        web = vars_["webmaster"]
        lst = vars_["list"]
        other = jails[(i + 1) % len(jails)]
        tell("-- %s (%s): users %s, list %s@%s" % (host, addr,
             ", ".join(users), lst, host))
        a = attempt("%s: tinydns answers A %s" % (name, addr),
                    lambda: _expect(dns_query(host, 1), [addr]))
        attempt("%s: tinydns answers MX" % name,
                lambda: _expect_true(dns_query(host, 15)))
        rev = ".".join(reversed(addr.split("."))) + ".in-addr.arpa"
        attempt("%s: tinydns answers PTR %s" % (name, host),
                lambda: _expect(dns_query(rev, 12), [host]))
        if a is None:
            continue
        page = ("<h1>%s</h1><p>uploaded by %s, %s</p>\n" %
                (host, web, tag)).encode()
        attempt("%s: FTP upload of index.html as %s" % (name, web),
                lambda: ftp_upload(host, web, users[web], page))
        got = attempt("%s: HTTPS page, certificate verified (CA and name)"
                      % name, lambda: https_get(host))
        check("%s: the page is the one uploaded" % name, got == page,
              repr(got)[:200])
        if got == page:
            tell("HTTPS https://%s/ -> %s" % (host, got.decode().strip()))
        refused("%s: FTP refuses a wrong password" % name,
                lambda: ftp_login(host, web, users[web] + "x"),
                ftplib.error_perm)
        ou = list(other[2])[0]
        refused("%s: FTP refuses %s's user %s" % (name, other[0], ou),
                lambda: ftp_login(host, ou, other[2][ou]), ftplib.error_perm)
        subj = "hello %s %s" % (u2, tag)
        attempt("%s: SMTP to %s@%s" % (name, u2, host),
                lambda: smtp_send(host, "%s@%s" % (u1, host),
                                  "%s@%s" % (u2, host), subj, "Hi!\n"))
        got = attempt("%s: IMAPS: %s reads it with the password" % (name, u2),
                      lambda: wait_for_subject(host, u2, users[u2], subj))
        if got:
            tell("IMAP %s@%s: %d message(s), the newest %r" %
                 (u2, host, len(got), got[-1]))
        n = attempt("%s: POP3S: %s sees it" % (name, u2),
                    lambda: pop3_count(host, u2, users[u2]))
        check("%s: POP3 counts a message" % name, bool(n), str(n))
        refused("%s: IMAP refuses a wrong password" % name,
                lambda: imap_subjects(host, u2, users[u2] + "x"),
                imaplib.IMAP4.error)
        refused("%s: POP3 refuses a wrong password" % name,
                lambda: pop3_count(host, u2, users[u2] + "x"),
                poplib.error_proto)
        refused("%s: IMAP refuses %s's user %s" % (name, other[0], ou),
                lambda: imap_subjects(host, ou, other[2][ou]),
                imaplib.IMAP4.error)
        refused("%s: SMTP refuses mail for an unknown domain (no relay)"
                % name, lambda: smtp_rcpt(host, "victim@elsewhere.example"),
                smtplib.SMTPRecipientsRefused)
        refused("%s: SMTP refuses an unknown user" % name,
                lambda: smtp_rcpt(host, "nobody-here@" + host),
                smtplib.SMTPRecipientsRefused)
        lsubj = "to the list %s %s" % (lst, tag)
        attempt("%s: post to %s@%s" % (name, lst, host),
                lambda: smtp_send(host, "%s@%s" % (u1, host),
                                  "%s@%s" % (lst, host), lsubj, "All!\n"))
        for u in (u1, u2):
            attempt("%s: subscriber %s gets the post" % (name, u),
                    lambda u=u: wait_for_subject(host, u, users[u], lsubj))
        left[name] = (page, subj)
    return left


def _expect(got, want):
    if got != want:
        raise AssertionError("%r, not %r" % (got, want))
    return got


def _expect_true(got):
    if not got:
        raise AssertionError("no answer: %r" % (got,))
    return got


def memory_of(name):
    """Bytes the jail's memory cgroup holds (v2 memory.current, v1
    memory.usage_in_bytes), or None."""
    r = hosting.vj("ps", capture_output=True, text=True)
    for line in r.stdout.splitlines():
        w = line.split()
        if not w or w[0] != name or len(w) < 3:
            continue
        try:
            with open("/proc/%s/cgroup" % w[2]) as f:
                groups = [l.strip().split(":", 2) for l in f]
        except OSError:
            return None
        for _, ctl, path in groups:
            for file in (("/sys/fs/cgroup%s/memory.current" % path)
                         if ctl == "" else None,
                         ("/sys/fs/cgroup/memory%s/memory.usage_in_bytes"
                          % path) if ctl == "memory" else None):
                if file and os.path.exists(file):
                    with open(file) as f:
                        return int(f.read())
    return None


def registry_has(name):
    reg = hosting.registry()
    if reg:
        r = subprocess.run(["psql", "-h", "/var/run/postgresql", "-d",
                            "vjhosting", "-Atc",
                            "SELECT count(*) FROM jails WHERE name = '%s'"
                            % name], capture_output=True, text=True)
        return r.stdout.strip() != "0"
    r = subprocess.run(["sqlite3", os.path.join(hosting.WORK, "state",
                                                "vjbuild.db"),
                        "SELECT count(*) FROM registry WHERE name = '%s'"
                        % name], capture_output=True, text=True)
    return r.stdout.strip() != "0"


def port_open(addr, port):
    try:
        socket.create_connection((addr, port), 2).close()
        return True
    except OSError:
        return False


def figures(jails):
    names = [j[0] for j in jails]
    out = {}
    hosting.stop(names)
    t = time.monotonic()
    r = hosting.vj("-j2", *sum((["--recreate", n] for n in names), []),
                   hosting.HOSTS, capture_output=True, text=True)
    out["warm_per_jail_s"] = (time.monotonic() - t) / len(names)
    check("warm rebuild of the three jails from the cache", r.returncode == 0
          and " 0 failed" in r.stdout, r.stdout[-300:])
    check("warm rebuild compiled nothing", "build:" not in r.stderr,
          r.stderr[-300:])
    out["start_per_jail_s"] = hosting.start(names)
    time.sleep(1)
    out["memory_per_jail_MiB"] = [round((memory_of(n) or 0) / 2**20, 1)
                                  for n in names]
    return out


def main(argv):
    global TOLD
    if "--day" in argv:
        TOLD = True
        day(hosting.hosts(), time.strftime("%H:%M:%S"))
        print("%d passed, %d failed" % (passed, failed))
        return 0 if failed == 0 else 1
    jails = hosting.hosts()
    names = [j[0] for j in jails]
    fig = {}
    if "--figures" not in argv:
        hosting.prepare()
        for n in names:             # a clean slate for the test
            hosting.vj("stop", n, capture_output=True)
        t = time.monotonic()
        hosting.build()
        fig["build_s"] = round(time.monotonic() - t, 1)
        fig["start_per_jail_s"] = round(hosting.start(names), 2)
        tag = "run %d" % os.getpid()
        left = day(jails, tag)
        # Stopped and started again: the same site, the same mail.
        hosting.stop(names, dns=False)
        hosting.start(names)
        for name, (page, subj) in left.items():
            host = "%s.%s" % (name, hosting.DOMAIN)
            users = dict(next(j[2] for j in jails if j[0] == name))
            u2 = list(users)[1]
            got = attempt("%s: after stop and start, the same page" % name,
                          lambda: https_get(host))
            check("%s: the page survived the restart" % name, got == page)
            attempt("%s: after stop and start, %s's mail is there" %
                    (name, u2),
                    lambda: wait_for_subject(host, u2, users[u2], subj, 5))
        fig["memory_per_jail_MiB"] = [round((memory_of(n) or 0) / 2**20, 1)
                                      for n in names]
        # Destroyed: nothing of it is left.
        gone = jails[-1]
        name, addr = gone[0], gone[1]
        r = hosting.vj("destroy", name, "--yes", capture_output=True,
                       text=True)
        check("destroy %s" % name, r.returncode == 0, r.stderr)
        check("%s: no service answers after destroy" % name,
              not port_open(addr, 443) and not port_open(addr, 25))
        routes = subprocess.run(["ip", "route", "show", addr],
                                capture_output=True, text=True).stdout
        check("%s: no route or interface left" % name, routes.strip() == "",
              routes)
        check("%s: no DNS entry left" % name,
              dns_query("%s.%s" % (name, hosting.DOMAIN), 1) is None)
        check("%s: no registry row left" % name, not registry_has(name))
        check("%s: the root is gone" % name,
              not os.path.exists(os.path.join(hosting.WORK, "jails", name)))
        hosting.stop(names[:-1])
        print("figures: %s" % fig)
    else:
        print("figures: %s" % figures(jails))
    print("%d passed, %d failed" % (passed, failed))
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
