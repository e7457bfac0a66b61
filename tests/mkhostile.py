#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
# Writes hostile archives for the tests. usage: mkhostile.py KIND OUT
#   dotdot   an entry ../escaped-dotdot
#   absolute an entry /tmp/PATH (PATH from the environment variable ABS)
#   symlink  a symlink "link" -> OUTSIDE (from the environment), then
#            link/escaped-symlink written through it
#   hardlink a hard link "hl" to OUTSIDE/victim (absolute), then data
#            written to "hl"
#   hardlink-dotdot  the same with a target ../../victim
#   device   a character device node dev/sda (8, 0)
#   bomb     a file of 64 MiB of zeros (64 KiB compressed); refused when
#            unpack_limit is smaller
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
    elif kind in ("hardlink", "hardlink-dotdot"):
        h = tarfile.TarInfo("hl"); h.type = tarfile.LNKTYPE
        h.linkname = (os.environ["OUTSIDE"] + "/victim"
                      if kind == "hardlink" else "../../victim")
        t.addfile(h)
        add("hl", b"overwritten through a hard link\n")
    elif kind == "device":
        d = tarfile.TarInfo("dev"); d.type = tarfile.DIRTYPE; d.mode = 0o755
        t.addfile(d)
        n = tarfile.TarInfo("dev/sda"); n.type = tarfile.CHRTYPE
        n.devmajor, n.devminor, n.mode = 8, 0, 0o666
        t.addfile(n)
    elif kind == "bomb":
        i = tarfile.TarInfo("zeros"); i.size = 64 << 20; i.mode = 0o644
        t.addfile(i, io.BytesIO(bytes(i.size)))
    else:
        sys.exit("unknown kind " + kind)
