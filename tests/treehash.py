#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
# Prints one digest of a tree: every entry's path, type, mode, owner, device
# number, link target and contents (not times). Paths given with -x
# (files, or directories with all below them) are left out.
# usage: treehash.py DIR [-x RELPATH]...
import hashlib, os, stat, sys

def main():
    root = sys.argv[1]
    skip = set()
    args = sys.argv[2:]
    while args:
        if args[0] == "-x":
            skip.add(args[1]); args = args[2:]
        else:
            sys.exit("usage: treehash.py DIR [-x RELPATH]...")
    h = hashlib.sha256()
    for dirpath, dirs, files in os.walk(root):
        # An excluded directory is left out with everything under it.
        dirs[:] = sorted(d for d in dirs if os.path.relpath(
            os.path.join(dirpath, d), root) not in skip)
        for name in sorted(dirs + files):
            p = os.path.join(dirpath, name)
            rel = os.path.relpath(p, root)
            if rel in skip:
                continue
            st = os.lstat(p)
            h.update(f"{rel}\0{st.st_mode:o}\0{st.st_uid}\0{st.st_gid}\0".encode())
            if stat.S_ISLNK(st.st_mode):
                h.update(os.readlink(p).encode())
            elif stat.S_ISREG(st.st_mode):
                with open(p, "rb") as f:
                    h.update(f.read())
            elif stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
                h.update(f"{os.major(st.st_rdev)}:{os.minor(st.st_rdev)}".encode())
            h.update(b"\n")
    print(h.hexdigest())

main()
