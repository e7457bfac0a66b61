#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
# Reads a jail.conf(5) as jail(8)'s parser does (words, strings in double
# or single quotes with backslash escapes, "=", ";", "{", "}", "#" and
# "//" comments) and prints each parameter a jail gets, one a line:
# "JAIL NAME" or "JAIL NAME=VALUE". Used by tests/attack.sh to see whether
# a value written into jail.conf added a parameter of its own.
# usage: jailconf_params.py FILE
import sys

ESC = {"n": "\n", "t": "\t", "r": "\r", "a": "\a", "b": "\b", "f": "\f", "v": "\v"}

def tokens(text):
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c in " \t\r\n":
            i += 1
        elif c == "#" or text.startswith("//", i):
            i = text.find("\n", i)
            i = n if i == -1 else i
        elif c in "=;{}":
            yield (c, c); i += 1
        elif c in "\"'":
            q, i, s = c, i + 1, []
            while i < n and text[i] != q:
                if text[i] == "\\" and i + 1 < n:
                    e = text[i + 1]
                    if e in "01234567":
                        j = i + 1
                        while j < n and j < i + 4 and text[j] in "01234567":
                            j += 1
                        s.append(chr(int(text[i + 1:j], 8))); i = j; continue
                    s.append(ESC.get(e, e)); i += 2; continue
                s.append(text[i]); i += 1
            if i >= n:
                sys.exit("unterminated string")
            yield ("str", "".join(s)); i += 1
        else:
            j = i
            while j < n and text[j] not in " \t\r\n=;{}\"'#":
                j += 1
            yield ("word", text[i:j]); i = j

def main():
    toks = list(tokens(open(sys.argv[1], encoding="utf-8", errors="surrogateescape").read()))
    k, jail = 0, None
    while k < len(toks):
        kind, v = toks[k]
        if kind == "word" and k + 1 < len(toks) and toks[k + 1][0] == "{":
            jail = v; k += 2; continue
        if kind == "}":
            jail = None; k += 1; continue
        if kind == "word":
            name = v; k += 1
            if k < len(toks) and toks[k][0] == "=":
                k += 1
                val = []
                while k < len(toks) and toks[k][0] in ("str", "word"):
                    val.append(toks[k][1]); k += 1
                print(f"{jail} {name}={''.join(val)}")
            else:
                print(f"{jail} {name}")
            if k < len(toks) and toks[k][0] == ";":
                k += 1
            continue
        sys.exit(f"unexpected {v!r}")

main()
