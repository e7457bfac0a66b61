#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
# Writes hostile archives for the tests. usage: mkhostile.py KIND OUT
#   dotdot   an entry ../escaped-dotdot
#   absolute an entry /tmp/PATH (PATH from the environment variable ABS)
#   symlink  a symlink "link" -> OUTSIDE (from the environment), then
#            link/escaped-symlink written through it
import io, os, sys, tarfile

kind, out = sys.argv[1], sys.argv[2]
with tarfile.open(out, "w:gz") as t:
    def add(name, data=b"pwned\n"):
        i = tarfile.TarInfo(name); i.size = len(data); i.mode = 0o644
        t.addfile(i, io.BytesIO(data))
    d = tarfile.TarInfo("bin"); d.type = tarfile.DIRTYPE; d.mode = 0o755
    t.addfile(d)
    add("bin/sh", b"#!/bin/true\n")
    if kind == "dotdot":
        add("../escaped-dotdot")
    elif kind == "absolute":
        add(os.environ["ABS"])
    elif kind == "symlink":
        l = tarfile.TarInfo("link"); l.type = tarfile.SYMTYPE
        l.linkname = os.environ["OUTSIDE"]; t.addfile(l)
        add("link/escaped-symlink")
    else:
        sys.exit("unknown kind " + kind)
