# SPDX-License-Identifier: BSD-2-Clause
"""For bench/idle_stop.sh: emulates, from outside, stopping the idle slot
while the jobserver pipe is empty. Polls the pipe of vjbuild PID (found in
a child make's MAKEFLAGS) every 5 ms; SIGSTOPs the process groups of
vjbuild's children at nice 19 while it is empty (a make holds the token),
SIGCONTs them when a token is back. Writes its counts to LOG at the end.

  python3 bench/idle_stop_monitor.py PID LOG
"""
import fcntl
import os
import signal
import struct
import sys
import termios
import time

vj = int(sys.argv[1]); log = open(sys.argv[2], "w")
def kids(pid):
    try:
        return [int(x) for x in open("/proc/%d/task/%d/children" % (pid, pid)).read().split()]
    except OSError:
        return []
def walk(pid):
    out = [pid]
    for k in kids(pid):
        out += walk(k)
    return out
def stat(pid):
    s = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()
    return int(s[2]), int(s[16])  # pgrp, nice
pipe = None; stopped = set(); n_stop = 0; t_stopped = 0.0; since = None
while os.path.exists("/proc/%d" % vj):
    try:
        if pipe is None:
            for p in walk(vj)[1:]:
                env = open("/proc/%d/environ" % p, "rb").read().split(b"\0")
                mf = [e for e in env if e.startswith(b"MAKEFLAGS=") and b"jobserver-auth=" in e]
                if mf:
                    r = mf[0].split(b"jobserver-auth=")[1].split(b",")[0].split()[0]
                    if r.startswith(b"fifo:"):
                        pipe = os.open(r[5:], os.O_RDONLY | os.O_NONBLOCK)
                    else:
                        pipe = os.open("/proc/%d/fd/%d" % (p, int(r)), os.O_RDONLY | os.O_NONBLOCK)
                    print("pipe from pid %d: %s" % (p, r), file=log, flush=True)
                    break
        if pipe is not None:
            n = struct.unpack("i", fcntl.ioctl(pipe, termios.FIONREAD, b"\0\0\0\0"))[0]
            idle = set()
            for k in kids(vj):
                try:
                    g, nice = stat(k)
                    if nice == 19:
                        idle.add(g)
                except OSError:
                    pass
            if n == 0:
                for g in idle - stopped:
                    os.killpg(g, signal.SIGSTOP); n_stop += 1
                    if since is None: since = time.monotonic()
                stopped |= idle
            else:
                for g in stopped:
                    try: os.killpg(g, signal.SIGCONT)
                    except OSError: pass
                if since is not None: t_stopped += time.monotonic() - since; since = None
                stopped = set()
    except OSError:
        pass
    time.sleep(0.005)
print("stops %d, stopped %.1f s" % (n_stop, t_stopped), file=log, flush=True)
