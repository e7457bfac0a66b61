#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# The Debian package: `dpkg-buildpackage -us -uc` on a copy of the tree
# builds a .deb; installed, vjbuild --version and man vjbuild work and
# systemd finds the unit; removed, nothing of it is left. It installs a
# package on this machine (and removes it): `make deb-test`, as root, not
# part of `make check`.
#   usage: bash tests/deb.sh
. "$(dirname "$0")/lib.sh"

test_dpkg_buildpackage_builds_an_installable_deb() {
	need_root || return
	command -v dpkg-buildpackage > /dev/null && [ -e /usr/share/perl5/Debian/Debhelper ] ||
	    { echo "    skipped: dpkg-dev and debhelper are not installed"; return $SKIP_RC; }
	dpkg-query -W -f='${Status}' vjbuild 2> /dev/null | grep -q 'ok installed' && { echo "    skipped: a vjbuild package is installed here; not replaced"; return $SKIP_RC; }
	mkdir src
	(cd "$here/.." && git ls-files -co --exclude-standard | grep -v '^debian/\.' | tar -cf - -T -) | tar -xf - -C src
	(cd src && dpkg-buildpackage -us -uc) > build.txt 2>&1 || { fail "dpkg-buildpackage: $(tail -15 build.txt)"; return; }
	ls vjbuild_*.dsc vjbuild_*.tar.* > /dev/null || fail "no source package"
	deb=$(ls vjbuild_*_*.deb) || { fail "no .deb"; return; }
	dpkg -i "$deb" > install.txt 2>&1 || { fail "dpkg -i: $(tail -5 install.txt)"; dpkg -P vjbuild > /dev/null 2>&1; return; }
	[ "$(/usr/bin/vjbuild --version)" = "vjbuild $(sed -n 's/.*VJBUILD_VERSION "\(.*\)"/\1/p' "$here/../vjbuild.h")" ] ||
	    fail "--version: $(/usr/bin/vjbuild --version)"
	/usr/bin/vjbuild help start | grep -q -- 'NAME... | --all' || fail "help"
	if [ -e /usr/share/man/man1/vjbuild.1.gz ]; then
		MANPAGER=cat man vjbuild 2> man.err | grep -q 'provision many jails' || fail "man vjbuild: $(cat man.err)"
	else	# a container's dpkg may leave out /usr/share/man
		grep -rq 'path-exclude.*/usr/share/man' /etc/dpkg/dpkg.cfg.d/ || fail "man page not installed"
		echo "    (this system's dpkg excludes /usr/share/man; the page is checked in the .deb)"
		dpkg-deb -x "$deb" x && MANPAGER=cat man -l x/usr/share/man/man1/vjbuild.1.gz | grep -q 'provision many jails' || fail "man page in the .deb"
	fi
	# systemctl cat needs a running systemd; offline, its lookup finds it.
	systemctl --root=/ list-unit-files vjbuild.service 2>&1 | grep -q '^vjbuild.service *disabled' ||
	    fail "unit: $(systemctl --root=/ list-unit-files vjbuild.service 2>&1)"
	systemd-analyze verify /lib/systemd/system/vjbuild.service 2> verify.txt || fail "systemd-analyze verify: $(cat verify.txt)"
	grep -q '^ExecStart=/usr/bin/vjbuild -f /etc/vjbuild/vjbuild.conf start --all$' /lib/systemd/system/vjbuild.service || fail "ExecStart"
	[ -s /usr/share/bash-completion/completions/vjbuild ] || fail "no completion"
	bash -c '. /usr/share/bash-completion/bash_completion 2>/dev/null; . /usr/share/bash-completion/completions/vjbuild; complete -p vjbuild' > compl.txt 2>&1 ||
	    fail "completion: $(cat compl.txt)"
	dpkg -P vjbuild > remove.txt 2>&1 || fail "dpkg -P: $(tail -3 remove.txt)"
	[ ! -e /usr/bin/vjbuild ] && [ ! -e /lib/systemd/system/vjbuild.service ] || fail "files left after removal"
}

run_tests "$@"
