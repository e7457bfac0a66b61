#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# End-to-end tests of host integration: users, the registry, DNS.
#   usage: VJBUILD=/path/to/vjbuild bash tests/host.sh [TEST...]
. "$(dirname "$0")/lib.sh"

HASH='$6$vjbuildtest$CDcLLsFmRbrRpeDZcLr6MUOdrX.gG8H4h3Yd0JSb3kTzmh0cb3iLsBWdY0pZxN.fEUmYySJZ/5J1sjHbtj2ov.'

test_users_are_made_with_their_hash() {
	need_root || return
	setup 2
	printf '%s\n' "$HASH" > bob.hash
	chmod 600 bob.hash
	printf 'user.alice = uid=1001 groups=wheel:www hash=%s\n' "$HASH" >> vjbuild.conf
	sed -i 's/^web2 10.9.0.2$/web2 10.9.0.2 user.bob=uid=1002,hashfile=bob.hash,shell=\/bin\/ash/' hosts.txt
	"$VJ" hosts.txt > out.txt 2>&1 || { fail "$(tail -3 out.txt)"; return; }
	r=jails/web2
	grep -qx "alice:x:1001:1001::/home/alice:/bin/sh" $r/etc/passwd || fail "passwd: $(cat $r/etc/passwd)"
	grep -qx "bob:x:1002:1002::/home/bob:/bin/ash" $r/etc/passwd || fail "bob"
	grep -qF "alice:$HASH:" $r/etc/shadow || fail "alice's hash"
	grep -qF "bob:$HASH:" $r/etc/shadow || fail "bob's hash"
	[ "$(stat -c %a $r/etc/shadow)" = 600 ] || fail "shadow mode"
	grep -q "^wheel:x:[0-9]*:alice$" $r/etc/group || fail "group: $(cat $r/etc/group)"
	[ "$(stat -c %u:%g:%a $r/home/alice)" = 1001:1001:750 ] || fail "home"
	grep -q "^bob:" jails/web1/etc/passwd && fail "bob is web2's only" || true
	# The hash is in /etc/shadow and nowhere else vjbuild writes.
	if grep -rqF "$HASH" state jails/web2/var 2>/dev/null; then fail "hash in $(grep -rlF "$HASH" state jails/web2/var)"; fi
	# A user no longer asked for is removed.
	sed -i 's/ user.bob=[^ ]*//' hosts.txt
	"$VJ" hosts.txt > out.txt 2>&1 || { fail "second run"; return; }
	grep -q "^bob:" $r/etc/passwd $r/etc/shadow && fail "bob not removed" || true
	grep -q "^root:" $r/etc/passwd || fail "root lost"
}

test_clear_text_password_is_refused() {
	setup 1
	printf 'user.alice = uid=1001 hash=hunter2hunter2\n' >> vjbuild.conf
	"$VJ" hosts.txt > out.txt 2> err.txt; rc=$?
	[ $rc = 2 ] || fail "exit $rc"
	grep -q "vjbuild.conf:4: user alice: the password is not a crypt(3) hash" err.txt || fail "$(cat err.txt)"
	grep -q hunter2 err.txt out.txt && fail "the clear text was echoed" || true
	[ ! -e jails ] && [ ! -e state ] || fail "something was created"
}

run_tests "$@"
