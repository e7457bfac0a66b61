#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
# Makes a small real base system: a root with Debian's busybox-static, its
# applets as links, and the usual directories, packed as OUT (.tar.gz).
# The paper's tarred `make world`, in miniature.
#   usage: mkbase.sh OUT.tar.gz
set -eu
out=${1:?usage: mkbase.sh OUT.tar.gz}
bb=$(command -v busybox || true)
[ -n "$bb" ] || { echo "mkbase: busybox not found (apt-get install busybox-static)" >&2; exit 1; }
if ! "$bb" --list >/dev/null 2>&1; then
	echo "mkbase: $bb does not run" >&2; exit 1
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/mkbase.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
root=$tmp/root
mkdir -p "$root/bin" "$root/sbin" "$root/etc" "$root/dev" "$root/proc" \
    "$root/sys" "$root/root" "$root/var/log" "$root/var/run" "$root/usr/bin" \
    "$root/usr/sbin" "$root/usr/local"
mkdir -m 1777 "$root/tmp"
cp "$bb" "$root/bin/busybox"
for applet in $("$bb" --list); do
	[ "$applet" = busybox ] && continue
	ln -s busybox "$root/bin/$applet"
done
printf 'root:x:0:0:root:/root:/bin/sh\n' > "$root/etc/passwd"
printf 'root:x:0:\n' > "$root/etc/group"
# exec.start and exec.stop: the services in the order vjbuild wrote, and
# back (the same files as the hosting example's distribution).
cp "$(dirname "$0")/hosting/distribution/etc/rc" \
    "$(dirname "$0")/hosting/distribution/etc/rc.shutdown" "$root/etc/"
chmod 755 "$root/etc/rc" "$root/etc/rc.shutdown"
tar -C "$root" --numeric-owner --owner=0 --group=0 -czf "$out.tmp" .
mv "$out.tmp" "$out"
