#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
# make demo: builds a busybox base, provisions the jails of
# examples/hosts.txt into examples/work/ with the example ports (each built
# once, installed from the cache into every jail that wants it), shows one
# jail, and runs again to show that nothing is redone. Needs root (device
# nodes, build namespaces, chroot) and a C compiler with a static libc.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
ex=$top/examples
vj=$top/vjbuild
if [ "$(id -u)" != 0 ]; then
	echo "demo: run as root (vjbuild makes device nodes and chroots)" >&2
	exit 1
fi
mkdir -p "$ex/work"
[ -f "$ex/work/base.tar.gz" ] || sh "$ex/mkbase.sh" "$ex/work/base.tar.gz"
echo "== vjbuild -j4 -f examples/vjbuild.conf examples/hosts.txt"
"$vj" -j4 -f "$ex/vjbuild.conf" "$ex/hosts.txt"
echo
echo "== inside the jail www"
chroot "$ex/work/jails/www" /bin/sh -c \
    'echo "hostname: $(cat /etc/hostname)"; grep www /etc/hosts; cat /etc/motd; ls -l /dev/null'
echo
echo "== its packages, built once for all jails, with config written for it"
chroot "$ex/work/jails/www" /usr/local/sbin/echod -V
chroot "$ex/work/jails/www" /usr/local/sbin/vjhttpd -p /
chroot "$ex/work/jails/ftp" /usr/local/sbin/echod -V
echo
echo "== its stanza in jail.conf"
sed -n '/^www {/,/^}/p' "$ex/work/state/jail.conf"
echo
echo "== run again: nothing to do"
"$vj" -j4 -q -f "$ex/vjbuild.conf" "$ex/hosts.txt" && echo "(no task ran)"
"$vj" -f "$ex/vjbuild.conf" status | head -7
echo
echo "== the package cache"
"$vj" -f "$ex/vjbuild.conf" cache ls
echo
if command -v ip > /dev/null; then
	echo
	echo "== start www and mail: their services run on their own addresses"
	"$vj" -f "$ex/vjbuild.conf" start www mail
	"$vj" -f "$ex/vjbuild.conf" ps
	sleep 0.5
	echo "-- the host asks http://198.51.100.10/ :"
	timeout 5 busybox wget -q -O - http://198.51.100.10/ || echo "(no answer)"
	echo "-- inside www, ps sees only the jail:"
	"$vj" -f "$ex/vjbuild.conf" exec www ps
	"$vj" -f "$ex/vjbuild.conf" stop www mail
fi
echo
echo "The jails are in examples/work/jails; remove examples/work to start over."
