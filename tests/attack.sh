#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# The attacker's tests (docs/SECURITY.md): each plays a hostile port's build
# or a hostile jail, tries what the threat model says it may not do, and
# fails if any of it works. What the attacker tried is checked from the
# host where the host can see it (a victim tree's digest, a listener's log,
# a sysctl, a process still alive); every try is also recorded by the
# attacker itself ("NAME WORKED" or "NAME refused") in its package, which
# the test reads back from the jail.
#   usage: VJBUILD=/path/to/vjbuild bash tests/attack.sh [TEST...]
. "$(dirname "$0")/lib.sh"

# setup + a port "evil" whose build is the shell script on stdin, with
# @VICTIM@, @HOSTPID@, @PORT@, @SOCK@, @ABS@ and @TOP@ filled in. Its build
# records its tries with `try NAME COMMAND...` in share/attack of its
# package, then succeeds, so that the package reaches the jail.
evil_port() {
	setup 1
	printf 'ports = ports\npackages = evil\n' >> vjbuild.conf
	mkdir -p ports/evil/src
	printf 'version = 1.0\nsource = none\n' > ports/evil/recipe
	{
		cat <<'EOF'
set +e
out=$STAGEDIR$PREFIX/share/attack
mkdir -p $out
try() { n=$1; shift; if "$@" > /dev/null 2>&1; then echo "$n WORKED" >> $out/tries; else echo "$n refused" >> $out/tries; fi; }
EOF
		sed -e "s|@VICTIM@|$PWD/victim|g" -e "s|@HOSTPID@|${HOSTPID:-1}|g" \
		    -e "s|@PORT@|${PORT:-1}|g" -e "s|@SOCK@|${SOCK:-x}|g" \
		    -e "s|@ABS@|${ABS:-x}|g" -e "s|@TOP@|$PWD|g"
		echo 'exit 0'
	} > ports/evil/build
	mkdir -p victim/sub
	echo "the victim" > victim/file
	echo "victim-secret-$$" > victim/secret
	chmod 600 victim/secret
	echo "port-secret-$$" > ports/evil/secret
	chmod 600 ports/evil/secret
}

# Runs vjbuild, then fails for every try the attacker recorded as WORKED.
run_evil() {
	"$VJ" hosts.txt > out.txt 2>&1 || { fail "run: $(tail -5 out.txt)"; return 1; }
	tries=jails/web1/usr/local/share/attack/tries
	[ -s $tries ] || { fail "the attacker recorded nothing: $(cat state/logs/build:evil.log)"; return 1; }
	grep ' WORKED$' $tries | while read -r what _; do fail "attack worked: $what"; done
	! grep -q ' WORKED$' $tries
}

test_hostile_build_cannot_write_outside_its_work_and_stage() {
	need_root || return
	evil_port <<'EOF'
try victim-overwrite sh -c 'echo pwned > @VICTIM@/file'
try victim-create sh -c 'echo pwned > @VICTIM@/sub/new'
try victim-remove rm @VICTIM@/file
try host-etc touch /etc/vjbuild-pwned
try host-usr touch /usr/bin/vjbuild-pwned
try host-root touch /vjbuild-pwned
try state-db sh -c 'echo pwned >> @TOP@/state/vjbuild.db'
try cache sh -c 'echo pwned > @TOP@/cache/packages/pwned'
try jails sh -c 'echo pwned > @TOP@/jails/web1/pwned'
try remount-rw mount -o remount,rw /usr
try unmount umount -l /usr
try mount-tmpfs mount -t tmpfs none /mnt
EOF
	before=$(python3 "$here/treehash.py" victim)
	run_evil
	[ "$(python3 "$here/treehash.py" victim)" = "$before" ] || fail "the victim tree changed: $(ls -lR victim)"
	for f in /etc/vjbuild-pwned /usr/bin/vjbuild-pwned /vjbuild-pwned cache/packages/pwned jails/web1/pwned; do
		[ ! -e $f ] || { fail "written: $f"; rm -f $f; }
	done
	python3 -c 'import sqlite3; print(sqlite3.connect("state/vjbuild.db").execute("pragma integrity_check").fetchone()[0])' | grep -qx ok || fail "the state database was damaged"
}

test_hostile_build_cannot_read_host_secrets() {
	need_root || return
	evil_port <<'EOF'
try read-victim sh -c 'cat @VICTIM@/secret > $out/victim'
try read-port-secret sh -c 'cat @TOP@/ports/evil/secret > $out/port'
try read-shadow sh -c 'cat /etc/shadow > $out/shadow'
try read-root-home ls /root
try read-state sh -c 'cat @TOP@/state/vjbuild.db > $out/db'
EOF
	[ -e /etc/shadow ] || fail "this host has no /etc/shadow to try"
	run_evil
	grep -rqs -e "victim-secret-$$" -e "port-secret-$$" jails/web1/usr/local/share/attack &&
	    fail "a secret reached the package" || true
	grep -qs -e "victim-secret-$$" -e "port-secret-$$" state/logs/build:evil.log &&
	    fail "a secret reached the build's log" || true
}

# A listener on the host's loopback (TCP), on an abstract socket and on a
# socket file; each connection it gets is a line in $PWD/connections.
listen() {
	: > connections
	python3 - "$PWD/connections" "$SOCK" "$ABS" > listener.port <<'PY' &
import socket, sys, threading
log = sys.argv[1]
def serve(s):
    while True:
        c, _ = s.accept()
        with open(log, "a") as f:
            f.write("connection\n")
        c.close()
t = socket.socket(); t.bind(("127.0.0.1", 0)); t.listen()
a = socket.socket(socket.AF_UNIX); a.bind("\0" + sys.argv[3]); a.listen()
u = socket.socket(socket.AF_UNIX); u.bind(sys.argv[2]); u.listen()
for s in (t, a, u):
    threading.Thread(target=serve, args=(s,), daemon=True).start()
print(t.getsockname()[1], flush=True)
threading.Event().wait(120)
PY
	LISTENER=$!
	for _ in $(seq 50); do [ -s listener.port ] && break; sleep 0.1; done
	PORT=$(cat listener.port)
	# The listener works: a connection from the host is counted.
	python3 -c "import socket; socket.create_connection(('127.0.0.1', $PORT)).close()"
	sleep 0.2
	[ "$(wc -l < connections)" = 1 ] || fail "the listener does not count connections"
	: > connections
}

test_hostile_build_cannot_reach_host_sockets() {
	need_root || return
	SOCK=$PWD/host.sock ABS=vjbuild-attack-$$ HOSTPID=$$
	listen
	evil_port <<'EOF'
try tcp-loopback python3 -c 'import socket; socket.create_connection(("127.0.0.1", @PORT@), 2)'
try abstract-socket python3 -c 'import socket; s = socket.socket(socket.AF_UNIX); s.connect("\0@ABS@")'
try socket-file python3 -c 'import socket; s = socket.socket(socket.AF_UNIX); s.connect("@SOCK@")'
try nsenter-host-net nsenter -t @HOSTPID@ -n true
try nsenter-init-net nsenter -t 1 -n true
try interfaces sh -c 'ip -o link | grep -qv " lo:"'
EOF
	run_evil
	[ ! -s connections ] || fail "the host's listener got $(wc -l < connections) connection(s) from the build"
	kill $LISTENER 2>/dev/null
}

test_hostile_build_cannot_see_or_signal_host_processes() {
	need_root || return
	sleep 3600 &
	HOSTPID=$!
	evil_port <<'EOF'
try see-host-process sh -c 'ps ax | grep -q "sleep 360[0]"'
try kill-host-process kill -9 @HOSTPID@
try ptrace-init sh -c 'ls /proc/1/fd/ > /dev/null'
try init-fd-escape sh -c 'ls /proc/1/fd/*/.. > /dev/null'
try init-root sh -c 'ls /proc/1/root/ > /dev/null'
EOF
	run_evil
	kill -0 $HOSTPID 2>/dev/null || fail "the host's process was killed"
	kill $HOSTPID 2>/dev/null
}

test_hostile_build_cannot_reach_the_kernel() {
	need_root || return
	sysctl=/proc/sys/kernel/printk_ratelimit_burst
	old=$(cat $sysctl)
	evil_port <<'EOF'
try mknod-block mknod $STAGEDIR/blk b 7 0
try mknod-char mknod /tmp/mem c 1 1
try sysctl sh -c "echo 11 > /proc/sys/kernel/printk_ratelimit_burst"
try sysrq sh -c "echo h > /proc/sysrq-trigger"
try new-user-namespace unshare -Ur true
try chroot chroot / true
try dmesg dmesg
EOF
	[ "$old" != 11 ] || { echo 10 > $sysctl; old=10; }
	run_evil
	[ "$(cat $sysctl)" = "$old" ] || { fail "the host's $sysctl changed to $(cat $sysctl)"; echo "$old" > $sysctl; }
}

# A courier-like port: make install chowns to daemon and sets setuid and
# setgid bits; every jail gets them as the build made them.
test_setuid_and_daemon_owned_files_land_in_every_jail() {
	need_root || return
	setup 2
	printf 'ports = ports\npackages = suid\n' >> vjbuild.conf
	make_port suid 'P=$STAGEDIR$PREFIX
mkdir -p $P/bin $P/var/spool
printf "#!/bin/sh\n" > $P/bin/su; chmod 4755 $P/bin/su
printf "#!/bin/sh\n" > $P/bin/lock; chgrp 5 $P/bin/lock; chmod 2711 $P/bin/lock
chown daemon:daemon $P/var/spool; chmod 0750 $P/var/spool
echo q > $P/var/spool/q; chown 1:5 $P/var/spool/q'
	"$VJ" -j2 hosts.txt > out.txt 2>&1 || { fail "run: $(tail -5 out.txt)"; return; }
	for j in web1 web2; do
		r=jails/$j/usr/local
		[ "$(stat -c '%a %u:%g' $r/bin/su)" = "4755 0:0" ] || fail "$j su: $(stat -c '%a %u:%g' $r/bin/su)"
		[ "$(stat -c '%a %u:%g' $r/bin/lock)" = "2711 0:5" ] || fail "$j lock: $(stat -c '%a %u:%g' $r/bin/lock)"
		[ "$(stat -c '%a %u:%g' $r/var/spool)" = "750 1:1" ] || fail "$j spool: $(stat -c '%a %u:%g' $r/var/spool)"
		[ "$(stat -c '%u:%g' $r/var/spool/q)" = "1:5" ] || fail "$j q: $(stat -c '%u:%g' $r/var/spool/q)"
	done
	# The build's own ids never reach a jail or the package.
	find jails -uid +65535 -o -gid +65535 | grep -q . && fail "host-range ids in a jail: $(find jails -uid +65535 | head -3)" || true
}

# vjbuild in a chroot whose / is not a mount point (CI may run so): a
# build still gets its sandbox, a jail starts, and exec enters the jail's
# own root, not the root of the mount namespace (the outer host's).
test_in_a_chroot_builds_start_and_exec_enter_the_jail() {
	need_root || return
	command -v ip > /dev/null || { echo "    skipped: no ip(8) (iproute2)"; return $SKIP_RC; }
	command -v unshare > /dev/null || { echo "    skipped: no unshare(1)"; return $SKIP_RC; }
	local c=$PWD/chroot
	mkdir -p $c/usr $c/etc $c/proc $c/dev $c/sys $c/tmp $c/work
	for l in bin sbin lib lib32 lib64 libx32; do
		[ -L /$l ] && ln -s "$(readlink /$l)" $c/$l
		[ -d /$l ] && [ ! -L /$l ] && mkdir $c/$l
	done
	touch $c/chroot-marker
	cp "$VJ" $c/work/vjbuild
	( cd $c/work && setup 1 && sed -i 's/10.9.0.1/10.9.7.1/' hosts.txt &&
	    printf 'ports = ports\npackages = hello\n' >> vjbuild.conf &&
	    make_port hello 'mkdir -p $STAGEDIR$PREFIX/bin; echo "#!/bin/sh" > $STAGEDIR$PREFIX/bin/hello; chmod 755 $STAGEDIR$PREFIX/bin/hello' )
	# The binds live in a mount namespace of the test's own.
	unshare -m --propagation private bash -c '
		c=$1
		for d in usr etc dev sys; do mount --bind /$d $c/$d; done
		for l in bin sbin lib lib32 lib64 libx32; do
			[ -d /$l ] && [ ! -L /$l ] && mount --bind /$l $c/$l
		done
		mount -t proc proc $c/proc
		mountpoint -q $c && { echo "    the chroot is a mount point"; exit 1; }
		inside() { chroot $c /bin/sh -c "cd /work && $*"; }
		inside ./vjbuild hosts.txt > build.txt 2>&1 || { echo "    build in the chroot: $(tail -5 build.txt)"; exit 1; }
		touch $c/work/jails/web1/jail-marker
		inside ./vjbuild start web1 > start.txt 2>&1 || { echo "    start in the chroot: $(cat start.txt)"; exit 1; }
		inside ./vjbuild exec web1 ls / > ls.txt 2>&1
		inside ./vjbuild stop web1 > stop.txt 2>&1 || echo "    stop in the chroot: $(cat stop.txt)"
		grep -qx jail-marker ls.txt || echo "    exec ls / did not list the jail: $(tr "\n" " " < ls.txt)"
		grep -qx -e chroot-marker -e work ls.txt && echo "    exec ls / listed what is outside the jail: $(tr "\n" " " < ls.txt)"
		exit 0
	' sh $c
}

run_tests "$@"
