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
	[ -s $tries ] || { fail "the attacker recorded nothing: $(cat state/logs/latest/build:evil.log)"; return 1; }
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
	grep -qs -e "victim-secret-$$" -e "port-secret-$$" state/logs/latest/build:evil.log &&
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

# A port's setup script runs in every jail as its root (setup:P@J): it is
# the port's code, held as a started jail is, with no network at all, and
# nothing it starts outlives it.
test_hostile_setup_is_held_like_a_jail_without_network() {
	need_root || return
	SOCK=$PWD/host.sock ABS=vjbuild-attack-$$
	listen
	sysctl=/proc/sys/kernel/printk_ratelimit_burst
	old=$(cat $sysctl)
	[ "$old" != 11 ] || { echo 10 > $sysctl; old=10; }
	sleep 3603 &
	hostpid=$!
	setup 1
	printf 'ports = ports\npackages = evil\n' >> vjbuild.conf
	make_port evil 'mkdir -p "$STAGEDIR$PREFIX/share/evil"'
	echo "host-secret-$$" > secret
	cat > ports/evil/setup <<EOF
try() { n=\$1; shift; if "\$@" > /dev/null 2>&1; then echo "\$n WORKED" >> /var/tries; else echo "\$n refused" >> /var/tries; fi; }
try tcp-host-loopback sh -c 'echo x | nc -w 2 127.0.0.1 $PORT'
try interfaces-up sh -c 'ip -o link show up | grep -q .'
try socket-file sh -c 'test -e $SOCK'
try read-host-file cat $PWD/secret
try mknod-block mknod /tmp/blk b 7 0
try sysctl sh -c 'echo 11 > $sysctl'
try sysrq sh -c 'echo h > /proc/sysrq-trigger'
try mount mount -t tmpfs none /mnt
try unshare unshare -U true
try see-host-process sh -c 'ps | grep -q "sleep 360[3]"'
try kill-host-process kill -9 $hostpid
setsid sleep 3604 < /dev/null > /dev/null 2>&1 &
echo done >> /var/tries
EOF
	"$VJ" hosts.txt > out.txt 2>&1 || { fail "run: $(tail -5 out.txt)"; kill $hostpid $LISTENER; return; }
	tries=jails/web1/var/tries
	grep -q '^done$' $tries || fail "the setup did not run to its end: $(cat $tries state/logs/latest/setup:evil@web1.log)"
	grep ' WORKED$' $tries | while read -r what _; do fail "attack worked: $what"; done
	[ ! -s connections ] || fail "the host's listener got a connection from the setup"
	[ "$(cat $sysctl)" = "$old" ] || { fail "the host's $sysctl changed"; echo "$old" > $sysctl; }
	kill -0 $hostpid 2>/dev/null || fail "the host's process was killed"
	pgrep -f 'sleep 360[4]' > /dev/null && { fail "a process of the setup outlived it: $(pgrep -af 'sleep 360[4]')"; pkill -f 'sleep 360[4]'; }
	kill $hostpid $LISTENER 2>/dev/null
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

# ---- started jails ----

# Provisions N jails (10.9.6.1...) and starts them; stops them on return.
jails_up() {
	local n=${1:-1} i
	setup "$n"
	sed -i 's/10\.9\.0\./10.9.6./' hosts.txt
	"$VJ" hosts.txt > build.txt 2>&1 || { fail "provision: $(tail -3 build.txt)"; return 1; }
	for i in $(seq 1 "$n"); do
		"$VJ" start web$i > start.txt 2>&1 || { fail "start: $(cat start.txt)"; return 1; }
	done
}
jails_down() { "$VJ" stop $(awk '{print $1}' hosts.txt) > /dev/null 2>&1; true; }
need_ip() { command -v ip > /dev/null || { echo "    skipped: no ip(8) (iproute2)"; return $SKIP_RC; }; }
need_nft() { [ -x /usr/sbin/nft ] || { echo "    skipped: no nft(8) (nftables)"; return $SKIP_RC; }; }

# A jail gets nothing vjbuild was given open: with descriptor 7 open on a
# host directory (world-writable) in the shell that runs `vjbuild start`
# and `vjbuild exec`, the jail's root can neither list it nor write into
# it through /proc/self/fd/7 (a way out of its root). (The programs the
# jail's init starts get the same, jail/init.c's spawn; this base starts
# none that stays to be looked at.)
test_started_jail_gets_no_descriptor_vjbuild_inherited() {
	need_root || return; need_ip || return; need_nft || return
	mkdir victim; echo "the victim" > victim/file; chmod 777 victim
	exec 7< victim
	jails_up 1 || { exec 7<&-; jails_down; return; }
	"$VJ" exec web1 ls /proc/self/fd/7/ > ls.txt 2>&1 && fail "the jail listed the host's directory: $(cat ls.txt)"
	"$VJ" exec web1 sh -c 'echo pwned > /proc/self/fd/7/pwned' > /dev/null 2>&1
	exec 7<&-
	[ ! -e victim/pwned ] || fail "the jail wrote into the host's directory"
	jails_down
}

test_started_jail_root_is_not_host_root() {
	need_root || return; need_ip || return; need_nft || return
	jails_up 1 || { jails_down; return; }
	map=$("$VJ" exec web1 cat /proc/self/uid_map | tr -s ' ')
	[ -n "$map" ] && [ "$map" != " 0 0 4294967295" ] || fail "uid_map: '$map'"
	pid=$(cut -d' ' -f1 state/run/web1)
	uid=$(awk '/^Uid:/ {print $2}' /proc/$pid/status)
	[ "$uid" -ge 65536 ] || fail "the jail's init runs as host uid $uid"
	# What its root makes is owned by root on disk (the idmapped root),
	# so the jail's files keep the owners they were installed with.
	"$VJ" exec web1 touch /made-inside || fail "touch inside"
	[ "$(stat -c %u:%g jails/web1/made-inside)" = 0:0 ] || fail "owner on disk: $(stat -c %u:%g jails/web1/made-inside)"
	# Root inside cannot read what host root keeps to itself.
	# (On disk, owners 0..65535 are the jail's; 100000 is none of them.)
	echo "host-secret-$$" > jails/web1/host-only; chmod 600 jails/web1/host-only; chown 100000 jails/web1/host-only
	"$VJ" exec web1 cat /host-only > cat.txt 2>&1 && fail "read a file of an unmapped owner: $(cat cat.txt)"
	jails_down
}

# Thin jails share the base read-only (tasks/thin.c): the root of one,
# started, rewrites, removes and links the shared files, and looks for the
# layers' host paths; the other jail and the shared trees must not change.
test_thin_jail_root_cannot_change_what_other_jails_share() {
	need_root || return; need_ip || return; need_nft || return
	mkdir -p ov/l ov/u ov/w ov/m
	mount -t overlay overlay -o lowerdir=$PWD/ov/l,upperdir=$PWD/ov/u,workdir=$PWD/ov/w ov/m 2> /dev/null ||
		{ echo "    skipped: overlayfs cannot be mounted here"; return $SKIP_RC; }
	umount ov/m
	setup 2
	sed -i 's/10\.9\.0\./10.9.6./' hosts.txt
	echo "thin = yes" >> vjbuild.conf
	"$VJ" hosts.txt > build.txt 2>&1 || { fail "provision: $(tail -3 build.txt)"; umount -l jails/web? 2>/dev/null; return; }
	"$VJ" start web1 web2 > start.txt 2>&1 || { fail "start: $(cat start.txt)"; jails_down; umount -l jails/web? 2>/dev/null; return; }
	sum() { sha256sum "$@" | cut -d' ' -f1 | tr '\n' ' '; }
	before=$(sum jails/web2/bin/busybox cache/base/*/bin/busybox)
	"$VJ" exec web1 sh -c 'echo evil >> /bin/busybox; echo evil > /etc/passwd; rm -f /bin/sh; ln /bin/busybox /evil-link; echo evil >> /evil-link' > /dev/null 2>&1
	# The attacker's writes happened, in web1's own layer.
	grep -q evil jails/.vjbuild-thin.web1/upper/etc/passwd || fail "the attack did not run: $(ls -R jails/.vjbuild-thin.web1/upper | head)"
	after=$(sum jails/web2/bin/busybox cache/base/*/bin/busybox)
	[ "$before" = "$after" ] || fail "a shared file changed: $before / $after"
	[ -e jails/web2/bin/sh ] || fail "web1 removed web2's /bin/sh"
	grep -q evil jails/web2/etc/passwd cache/base/*/etc/passwd && fail "web1 wrote a shared /etc/passwd"
	lower=$(readlink -f cache/base/*)
	"$VJ" exec web1 ls "$lower/bin" > ls.txt 2>&1 && fail "the jail reached the shared tree at $lower: $(head -3 ls.txt)"
	"$VJ" exec web1 ls "$PWD/jails/.vjbuild-thin.web2/upper" > ls.txt 2>&1 && fail "the jail reached web2's own layer"
	"$VJ" exec web1 mount -t tmpfs x /mnt > m.txt 2>&1 && fail "mount in a thin jail worked"
	jails_down
	umount -l jails/web1 jails/web2 2> /dev/null
}

test_started_jail_cannot_make_devices_or_reach_the_kernel() {
	need_root || return; need_ip || return; need_nft || return
	sysctl=/proc/sys/kernel/printk_ratelimit_burst
	old=$(cat $sysctl)
	[ "$old" != 11 ] || { echo 10 > $sysctl; old=10; }
	sleep 3601 &
	hostpid=$!
	jails_up 1 || { jails_down; kill $hostpid; return; }
	try() { if "$VJ" exec web1 sh -c "$2" > /dev/null 2>&1; then fail "attack worked: $1"; fi; }
	try mknod-block 'mknod /tmp/blk b 7 0'
	try mknod-char 'mknod /tmp/mem c 1 1'
	try sysctl 'echo 11 > /proc/sys/kernel/printk_ratelimit_burst'
	try sysrq 'echo h > /proc/sysrq-trigger'
	try kcore 'test -s /proc/kcore'
	try sys 'ls /sys/class | grep -q .'
	try mount 'mount -t tmpfs none /mnt'
	try unshare 'unshare -U true'
	try see-host-process 'ps | grep -q "sleep 360[1]"'
	try kill-host-process "kill -9 $hostpid"
	try init-cmdline 'grep -q vjbuild /proc/1/cmdline'
	try dmesg 'dmesg'
	[ "$(cat $sysctl)" = "$old" ] || { fail "the host's $sysctl changed"; echo "$old" > $sysctl; }
	kill -0 $hostpid 2>/dev/null || fail "the host's process was killed"
	kill $hostpid 2>/dev/null
	jails_down
}

test_fork_bomb_stops_at_the_jails_pids_limit() {
	need_root || return; need_ip || return; need_nft || return
	setup 1
	echo "limit.pids = 64" >> vjbuild.conf
	sed -i 's/10\.9\.0\./10.9.6./' hosts.txt
	"$VJ" hosts.txt > build.txt 2>&1 && "$VJ" start web1 > start.txt 2>&1 || { fail "start: $(cat start.txt)"; jails_down; return; }
	# 400 sleepers, as fast as the jail can fork.
	timeout 60 "$VJ" exec web1 sh -c 'i=0; while [ $i -lt 400 ]; do sleep 30 & i=$((i+1)); done; wait' > bomb.txt 2>&1 &
	bomb=$!
	sleep 3
	n=$("$VJ" ps | awk '$1 == "web1" {print $4}')
	t0=$(date +%s%N)
	timeout 10 sh -c 'for i in 1 2 3 4 5; do /bin/true; done' || fail "the host did not stay responsive"
	t1=$(date +%s%N)
	[ $(( (t1 - t0) / 1000000 )) -lt 5000 ] || fail "5 host commands took $(( (t1 - t0) / 1000000 )) ms"
	jails_down
	kill $bomb 2>/dev/null; wait $bomb 2>/dev/null
	[ -n "$n" ] && [ "$n" -le 64 ] || fail "the jail holds '$n' processes (limit 64): $("$VJ" ps)"
	[ "$n" -ge 50 ] || fail "the bomb did not get near the limit ($n processes): $(head -3 bomb.txt)"
	grep -qiE "fork|resource|again" bomb.txt || fail "no fork failure seen: $(head -3 bomb.txt)"
}

# A host's line may set its own limits; they win over vjbuild.conf's for
# that jail, as its last provisioning recorded them.
test_a_hosts_line_sets_its_jails_limits() {
	need_root || return; need_ip || return; need_nft || return
	setup 2
	echo "limit.pids = 300" >> vjbuild.conf
	printf 'web1 10.9.6.1 limit.pids=40 limit.shm=4M\nweb2 10.9.6.2\n' > hosts.txt
	"$VJ" hosts.txt > build.txt 2>&1 || { fail "provision: $(tail -3 build.txt)"; return; }
	"$VJ" start web1 web2 > start.txt 2>&1 || { fail "start: $(cat start.txt)"; jails_down; return; }
	[ "$("$VJ" exec web1 sh -c 'ulimit -u')" = 40 ] || fail "web1 processes: $("$VJ" exec web1 sh -c 'ulimit -u')"
	[ "$("$VJ" exec web2 sh -c 'ulimit -u')" = 300 ] || fail "web2 processes: $("$VJ" exec web2 sh -c 'ulimit -u')"
	shm=$("$VJ" exec web1 df -k /dev/shm | awk 'NR == 2 {print $2}')
	[ "$shm" = 4096 ] || fail "web1 /dev/shm: ${shm}K"
	# The issue's 1 GiB in /dev/shm: 8M past web1's 4M, 1G past web2's
	# default 64M; what did get written is within the limit.
	"$VJ" exec web1 dd if=/dev/zero of=/dev/shm/big bs=1M count=8 > dd1.txt 2>&1 && fail "8M written to web1's 4M /dev/shm"
	"$VJ" exec web2 dd if=/dev/zero of=/dev/shm/big bs=1M count=1024 > dd2.txt 2>&1 && fail "1G written to web2's /dev/shm"
	kb=$("$VJ" exec web2 du -k /dev/shm/big | awk '{print $1}')
	[ "${kb:-0}" -le 65536 ] || fail "web2 /dev/shm holds ${kb}K"
	jails_down
	# A bad one names the line, and nothing is made.
	rm -rf jails state
	printf 'web1 10.9.6.1\nweb2 10.9.6.2 limit.pids=5\n' > hosts.txt
	"$VJ" hosts.txt > out.txt 2> err.txt; rc=$?
	[ $rc = 2 ] || fail "exit $rc"
	grep -q "hosts.txt:2: limit.pids '5' is not a number of processes" err.txt || fail "message: $(cat err.txt)"
	[ ! -e state ] || fail "something was made"
}

test_jail_reaches_only_the_host_services_allowed() {
	need_root || return; need_ip || return; need_nft || return
	command -v python3 > /dev/null || { echo "    skipped: no python3"; return $SKIP_RC; }
	# A host-only address, and a listener on two of its ports and on
	# the host's 127.0.0.1.
	local a=10.9.99.$(( $$ % 200 + 20 ))
	ip addr add $a/32 dev lo || { fail "cannot add $a to lo"; return; }
	: > conns
	python3 - "$a" > ports.txt 2> listener.err <<'PY' &
import socket, sys, threading
def serve(s, name):
    while True:
        c, _ = s.accept()
        with open("conns", "a") as f:
            f.write(name + "\n")
        c.close()
ports = []
for host, name in ((sys.argv[1], "denied"), (sys.argv[1], "allowed"), ("127.0.0.1", "loopback")):
    s = socket.socket(); s.bind((host, 0)); s.listen()
    ports.append(s.getsockname()[1])
    threading.Thread(target=serve, args=(s, name), daemon=True).start()
print(*ports, flush=True)
threading.Event().wait(60)
PY
	lst=$!
	for _ in $(seq 50); do [ -s ports.txt ] && break; sleep 0.1; done
	read -r denied allowed loop < ports.txt
	setup 1
	sed -i 's/10\.9\.0\./10.9.6./' hosts.txt
	echo "host_access = $a:$allowed" >> vjbuild.conf
	"$VJ" hosts.txt > build.txt 2>&1 && "$VJ" start web1 > start.txt 2>&1 || fail "start: $(cat start.txt)"
	"$VJ" exec web1 nc -w 2 $a $denied < /dev/null > /dev/null 2>&1 && fail "reached the host's $a:$denied"
	"$VJ" exec web1 nc -w 2 127.0.0.1 $loop < /dev/null > /dev/null 2>&1 && fail "reached the host's 127.0.0.1:$loop"
	"$VJ" exec web1 nc -w 2 $a $allowed < /dev/null > /dev/null 2>&1 || fail "host_access $a:$allowed was not reachable"
	jails_down
	kill $lst 2>/dev/null
	ip addr del $a/32 dev lo
	[ "$(sort conns | tr '\n' ' ')" = "allowed " ] || fail "the listener saw: $(sort conns | tr '\n' ' ')"
}

# j75988 and j285402 have one 32-bit FNV-1a hash (0x522008e8): interface
# names made from a hash of the name gave both the same veth.
test_two_jails_get_their_own_interface_and_ids() {
	need_root || return; need_ip || return; need_nft || return
	setup 2
	printf 'j75988 10.9.6.1\nj285402 10.9.6.2\n' > hosts.txt
	"$VJ" hosts.txt > build.txt 2>&1 || { fail "provision: $(tail -3 build.txt)"; return; }
	"$VJ" start j75988 > s1.txt 2>&1 && "$VJ" start j285402 > s2.txt 2>&1 || fail "start: $(cat s1.txt s2.txt)"
	read -r _ if1 _ ids1 _ < state/run/j75988
	read -r _ if2 _ ids2 _ < state/run/j285402
	[ "$if1" != "$if2" ] || fail "both jails on $if1"
	[ "$ids1" != "$ids2" ] || fail "both jails map to ids $ids1"
	busybox ping -c1 -W2 10.9.6.1 > /dev/null || fail "j75988 does not answer"
	busybox ping -c1 -W2 10.9.6.2 > /dev/null || fail "j285402 does not answer"
	"$VJ" stop j285402 > /dev/null
	busybox ping -c1 -W2 10.9.6.1 > /dev/null || fail "stopping j285402 cut j75988 off"
	"$VJ" ps | grep -q '^j75988 ' || fail "ps: $("$VJ" ps)"
	jails_down
}

# Two vjbuild states starting jails of the same names at once: id ranges
# and interfaces are the host's, and no two jails share one (with a lock
# per state, two same-named jails took one id range).
test_two_states_starting_at_once_share_no_range_or_interface() {
	need_root || return; need_ip || return; need_nft || return
	local s i
	for s in a b; do
		mkdir $s
		cp "$BASE" $s/base.tar.gz
		printf 'base = base.tar.gz\ndomain = example.org\n' > $s/vjbuild.conf
		for i in 1 2 3; do echo "web$i 10.9.3$([ $s = a ] && echo 1 || echo 2).$i"; done > $s/hosts.txt
		(cd $s && "$VJ" hosts.txt > build.txt 2>&1) || { fail "provision $s"; return; }
	done
	for i in 1 2 3; do
		(cd a && "$VJ" start web$i > start$i.txt 2>&1) &
		(cd b && "$VJ" start web$i > start$i.txt 2>&1) &
	done
	wait
	for s in a b; do
		for i in 1 2 3; do
			[ -e $s/state/run/web$i ] || fail "$s web$i did not start: $(cat $s/start$i.txt)"
		done
	done
	dup=$(cat a/state/run/web* b/state/run/web* 2>/dev/null | awk '{print $4}' | sort | uniq -d)
	[ -z "$dup" ] || fail "two jails share the id range $dup"
	dup=$(cat a/state/run/web* b/state/run/web* 2>/dev/null | awk '{print $2}' | sort | uniq -d)
	[ -z "$dup" ] || fail "two jails share the interface $dup"
	for s in a b; do (cd $s && "$VJ" stop web1 web2 web3 > /dev/null 2>&1); done
	# The race is narrow; the lock that closes it is not: while the
	# host's lock is held, a start of either state waits for it.
	command -v flock > /dev/null || return 0
	[ -d /run/vjbuild ] || { fail "no /run/vjbuild after a start"; return; }
	flock /run/vjbuild/jails.lock sleep 2 &
	holder=$!
	sleep 0.3
	(cd b && "$VJ" start web1 > late.txt 2>&1) &
	late=$!
	sleep 1
	[ ! -e b/state/run/web1 ] || fail "b started web1 while the host's lock was held"
	wait $holder
	wait $late
	[ -e b/state/run/web1 ] || fail "b did not start web1 once the lock was free: $(cat b/late.txt)"
	(cd b && "$VJ" stop web1 > /dev/null 2>&1)
	true
}

test_address_taken_by_the_host_is_refused_and_nothing_changes() {
	need_root || return; need_ip || return; need_nft || return
	setup 2
	sed -i 's/10\.9\.0\.1/10.9.6.201/; s/10\.9\.0\.2/10.9.6.202/' hosts.txt
	"$VJ" hosts.txt > build.txt 2>&1 || { fail "provision"; return; }
	ip route add 10.9.6.201/32 dev lo || { fail "cannot add a route"; return; }
	ip addr add 10.9.6.202/32 dev lo
	links=$(ip -o link | wc -l)
	"$VJ" start web1 > s1.txt 2>&1 && fail "web1 started over the host's route"
	grep -q "overlaps the host's route 10.9.6.201/32 dev lo" s1.txt || fail "web1: $(cat s1.txt)"
	"$VJ" start web2 > s2.txt 2>&1 && fail "web2 started on the host's address"
	grep -q "10.9.6.202 is the host's address on lo" s2.txt || fail "web2: $(cat s2.txt)"
	[ "$(ip route show 10.9.6.201/32)" = "10.9.6.201 dev lo scope link " ] || fail "the host's route changed: $(ip route show 10.9.6.201/32)"
	[ "$(ip -o link | wc -l)" = "$links" ] || fail "links were made"
	[ -z "$(ls state/run 2>/dev/null | grep -v '^\.')" ] || fail "run files: $(ls state/run)"
	ip route del 10.9.6.201/32 dev lo
	ip addr del 10.9.6.202/32 dev lo
	jails_down
}

# A jails directory whose name ends jail.conf's string and adds
# exec.prestart (a command jail(8) runs on the host): every value is
# quoted and escaped, so jail.conf, read as jail(8) reads it, gives each
# jail only vjbuild's parameters, its path the directory's real name.
# Homes are under /home: `home=/` would have given the jail's / to a user.
test_values_cannot_add_jail_conf_parameters_or_take_a_system_directory() {
	need_root || return
	setup 1
	local jd='j"; exec.prestart = "touch /tmp/vjbuild-pwned'"'"'$x\'
	printf 'jails = %s\n' "$jd" >> vjbuild.conf
	"$VJ" hosts.txt > out.txt 2>&1 || { fail "run: $(tail -3 out.txt)"; return; }
	python3 "$here/jailconf_params.py" state/jail.conf > params.txt || { fail "jail.conf does not parse: $(cat state/jail.conf)"; return; }
	local names; names=$(sed 's/=.*//' params.txt | tr '\n' ' ')
	[ "$names" = "web1 path web1 host.hostname web1 ip4.addr web1 mount.devfs web1 devfs_ruleset web1 exec.start web1 exec.stop web1 exec.clean " ] || fail "parameters: $(cat params.txt)"
	grep -qxF "web1 path=$PWD/$jd/web1" params.txt || fail "path: $(grep path params.txt), want $PWD/$jd/web1"
	# A home outside /home is refused, and nothing is changed.
	setup 1
	printf 'user.bob = uid=1002 home=/\n' >> vjbuild.conf
	rm -rf jails state
	"$VJ" hosts.txt > out.txt 2>&1; local rc=$?
	[ $rc = 2 ] || fail "home=/: exit $rc, want 2"
	grep -q "vjbuild.conf:4: user bob: home '/' is not a directory under /home" out.txt || fail "$(cat out.txt)"
	[ ! -e jails ] && [ ! -e state ] || fail "something was made"
}

# A package store that serves what it likes (whoever runs it, or anyone
# on the plain-HTTP path to it) cannot put its own package into a jail:
# the archive under the honest name is replaced by one of the attacker's,
# of the very same size, holding a setuid-root shell and other contents;
# the next host refuses it by the registry's digest, builds the package
# itself, and its jail has the real contents and no shell.
test_hostile_store_cannot_substitute_a_package() {
	need_root || return
	pg_db || return
	start_store || return
	make_port data 'mkdir -p $STAGEDIR$PREFIX/share; head -c 4096 /dev/urandom | od -An -tx1 > $STAGEDIR$PREFIX/share/data; echo real >> $STAGEDIR$PREFIX/share/data'
	fleet_host a 1 1; fleet_host b 2 2
	echo "ja 10.9.4.1 data" > a/hosts.txt; echo "jb 10.9.4.2 data" > b/hosts.txt
	(cd a && "$VJ" hosts.txt > out.txt 2>&1) || { fail "a failed: $(tail -3 a/out.txt)"; return 1; }
	local f; f=$(ls store/packages/*.tar.gz)
	[ -n "$f" ] || { fail "a uploaded nothing"; return 1; }
	python3 - "$f" <<-'EOF' || { fail "could not make the attacker's archive"; return 1; }
	import io, os, sys, tarfile
	path = sys.argv[1]
	size = os.path.getsize(path)
	buf = io.BytesIO()
	with tarfile.open(fileobj=buf, mode="w:gz") as t:
	    for name, data, mode in (("usr/local/share/data", b"attacker's\n", 0o644),
	                             ("usr/local/bin/rootsh", b"#!/bin/sh\nexec /bin/sh\n", 0o4755)):
	        i = tarfile.TarInfo(name); i.size = len(data); i.mode = mode; i.uid = 0
	        t.addfile(i, io.BytesIO(data))
	b = buf.getvalue()
	assert len(b) <= size, (len(b), size)
	open(path, "wb").write(b + b"\0" * (size - len(b)))
	EOF
	(cd b && "$VJ" hosts.txt > out.txt 2>&1) || fail "b failed: $(tail -3 b/out.txt)"
	grep -q '^refused .*sha256' b/state/logs/latest/build:data.log || fail "b did not refuse the store's archive: $(cat b/state/logs/latest/build:data.log)"
	[ ! -e b/jails/jb/usr/local/bin/rootsh ] || fail "the attacker's setuid shell is in the jail"
	[ "$(tail -1 b/jails/jb/usr/local/share/data)" = real ] || fail "jb's data is not the real package's: $(head -c 100 b/jails/jb/usr/local/share/data)"
	stop_store
	dropdb -h /var/run/postgresql "$PGDB" || true
}

# Whatever vjbuild was given open by whoever ran it (a script's log, a
# directory it works in) is not the build's: descriptor 7, open on the
# victim directory (world-writable here) in the shell that runs vjbuild,
# is closed before the build starts. Through it the build would read
# and write the host's directory past its mount namespace.
test_hostile_build_gets_no_descriptor_vjbuild_inherited() {
	need_root || return
	evil_port <<'EOF'
try fd-list ls /proc/self/fd/7/
try fd-read cat /proc/self/fd/7/file
try fd-write sh -c 'echo pwned > /proc/self/fd/7/pwned'
try fd-cd sh -c 'cd /proc/self/fd/7 && ls sub'
EOF
	chmod 777 victim
	exec 7< victim
	run_evil
	exec 7<&-
	[ ! -e victim/pwned ] || fail "written through the inherited descriptor: victim/pwned"
}

# A build's make shares vjbuild's -j through a jobserver pipe; a hostile
# build reads every token it is given and ends without giving them back
# (`keep`), or writes a hundred of its own into the pipe (`forge`). Then
# three builds that each run a second (a, b, c, after keep) still run at
# once under -j4, and the make of `wide` (after forge, which comes after
# a, b and c: eight jobs of 0.4 s) never runs more than four: neither
# reaches anything but the attacker's own pipe (sched/jobserver.c). With
# one pipe for all, keep's tokens were gone for the rest of the run (a,
# b and c ran two at a time), and wide's make ran all eight at once.
test_hostile_build_cannot_keep_or_forge_jobserver_tokens() {
	need_root || return
	command -v make > /dev/null || { echo "    skipped: no make"; return $SKIP_RC; }
	setup 1
	printf 'ports = ports\npackages = a b c wide\n' >> vjbuild.conf
	local js='r=${MAKEFLAGS#*--jobserver-auth=}; w=${r#*,}; r=${r%%,*}'
	make_port keep "$js"'; mkdir -p $STAGEDIR$PREFIX/share
python3 -c "import os, sys; fd = int(sys.argv[1]); os.set_blocking(fd, False); n = len(os.read(fd, 100)); print(\"kept\", n)" $r'
	make_port forge "$js"'; mkdir -p $STAGEDIR$PREFIX/share
python3 -c "import os, sys; print(\"forged\", os.write(int(sys.argv[1]), b\"+\" * 100))" $w' "a b c"
	local p
	for p in a b c; do
		make_port $p "d=\$STAGEDIR\$PREFIX/share/t; mkdir -p \$d; date +%s.%N > \$d/$p.start; sleep 1; date +%s.%N > \$d/$p.end" keep
	done
	make_port wide 'make OUT=$STAGEDIR$PREFIX/share/wide' forge
	printf 'all: %s\n%s:\n\tmkdir -p $(OUT); date +%%s.%%N > $(OUT)/$@.start; sleep 0.4; date +%%s.%%N > $(OUT)/$@.end\n' "j1 j2 j3 j4 j5 j6 j7 j8" "j1 j2 j3 j4 j5 j6 j7 j8" > ports/wide/src/Makefile
	"$VJ" -j4 hosts.txt > out.txt 2>&1 || { fail "run: $(tail -5 out.txt)"; return 1; }
	grep -q "^kept [1-9]" state/logs/latest/build:keep.log || fail "keep took no token (the test shows nothing): $(cat state/logs/latest/build:keep.log)"
	grep -q "^forged 100" state/logs/latest/build:forge.log || fail "forge wrote nothing: $(cat state/logs/latest/build:forge.log)"
	python3 - jails/web1/usr/local/share <<-'EOF' || fail "$(cd jails/web1/usr/local/share && grep -r . t wide | sort -t: -k2)"
	import os, sys
	d = sys.argv[1]
	t = lambda p: float(open(os.path.join(d, p)).read())
	starts = [t("t/%s.start" % p) for p in "abc"]
	ends = [t("t/%s.end" % p) for p in "abc"]
	assert max(starts) < min(ends), "a, b and c did not run at once: keep's tokens were lost"
	ev = sorted([(t("wide/j%d.start" % i), 1) for i in range(1, 9)] +
	            [(t("wide/j%d.end" % i), -1) for i in range(1, 9)])
	n = most = 0
	for _, x in ev:
	    n += x
	    most = max(most, n)
	assert most <= 4, "wide's make ran %d jobs at once under -j4: forge's tokens reached it" % most
	assert most >= 2, "wide's make never ran two jobs at once (the test shows nothing)"
	EOF
}

run_tests "$@"
