#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
# A PostgreSQL server that lets a client in and then never answers: it
# takes the startup packet, says authentication ok and ready for a query,
# and reads what follows without a word. Stands for a server frozen after
# the connection was made (tests/shared.sh).
# usage: pg_mute.py DIR   (listens on DIR/.s.PGSQL.5432; runs until killed)
import os, socket, struct, sys, threading

def client(c):
    try:
        n = struct.unpack("!I", c.recv(4, socket.MSG_WAITALL))[0]
        body = c.recv(n - 4, socket.MSG_WAITALL)
        if struct.unpack("!I", body[:4])[0] == 80877103:	# SSLRequest
            c.sendall(b"N")
            n = struct.unpack("!I", c.recv(4, socket.MSG_WAITALL))[0]
            c.recv(n - 4, socket.MSG_WAITALL)
        c.sendall(b"R" + struct.pack("!II", 8, 0) + b"Z" + struct.pack("!I", 5) + b"I")
        while c.recv(65536):
            pass
    except OSError:
        pass

path = os.path.join(sys.argv[1], ".s.PGSQL.5432")
s = socket.socket(socket.AF_UNIX)
s.bind(path)
s.listen(16)
print("listening", flush=True)
while True:
    c, _ = s.accept()
    threading.Thread(target=client, args=(c,), daemon=True).start()
