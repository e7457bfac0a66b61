#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
# A Debian base for vjbuild: debootstrap's minbase of a release, with the
# jail's rc files (examples/hosting/distribution/etc), packed with numeric
# owners as OUT (.tar.gz). Its /dev may stay in: vjbuild passes device
# nodes over (devfs makes a jail's). Needs root, debootstrap and a Debian
# mirror (MIRROR, default deb.debian.org).
#   usage: mkbase-debian.sh OUT.tar.gz [RELEASE] [EXTRA,PACKAGES]
# FreeBSD: a release's base.txz is a base as it is (fetch it from
# https://download.freebsd.org/releases/ARCH/RELEASE/base.txz).
set -eu
out=${1:?usage: mkbase-debian.sh OUT.tar.gz [RELEASE] [EXTRA,PACKAGES]}
release=${2:-bookworm}
extra=${3:-}
mirror=${MIRROR:-http://deb.debian.org/debian}
command -v debootstrap > /dev/null || { echo "mkbase-debian: debootstrap not found (apt-get install debootstrap)" >&2; exit 1; }
tmp=$(mktemp -d "${TMPDIR:-/var/tmp}/mkbase-debian.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
debootstrap --variant=minbase ${extra:+--include="$extra"} "$release" "$tmp/root" "$mirror"
cp "$(dirname "$0")/hosting/distribution/etc/rc" \
    "$(dirname "$0")/hosting/distribution/etc/rc.shutdown" "$tmp/root/etc/"
chmod 0755 "$tmp/root/etc/rc" "$tmp/root/etc/rc.shutdown"
rm -rf "$tmp/root/var/cache/apt/archives/"*.deb "$tmp/root/var/lib/apt/lists/"*
# Written beside OUT and renamed: a reader never sees half an archive.
tar --numeric-owner -czf "$out.tmp" -C "$tmp/root" .
mv "$out.tmp" "$out"
echo "mkbase-debian: $out ($(du -h "$out" | cut -f1)), Debian $release minbase"
