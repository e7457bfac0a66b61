#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# What ports need of vjbuild beyond files: a setup script run inside each
# jail after install (setup:P@J), and services started at `vjbuild start`
# in dependency order and stopped in the reverse (services:J, the base's
# /etc/rc and /etc/rc.shutdown).
. "$(dirname "$0")/lib.sh"

need_ip() { command -v ip > /dev/null || { echo "    skipped: no ip(8) (iproute2)"; return $SKIP_RC; }; }

# A port NAME (depending on DEPS) whose rc.d script NAME records its start
# and stop in /var/log/order and keeps a process running.
service_port() {
	local name=$1 deps=${2:-}
	make_port "$name" "mkdir -p \"\$STAGEDIR\$PREFIX/share/$name\"" "$deps"
	echo "service = $name" >> "ports/$name/recipe"
	mkdir -p "ports/$name/files/usr/local/etc/rc.d"
	cat > "ports/$name/files/usr/local/etc/rc.d/$name" <<EOF
#!/bin/sh
case "\$1" in
start) echo "start $name" >> /var/log/order; sleep 1000 & echo \$! > /var/run/$name.pid ;;
stop) echo "stop $name" >> /var/log/order; kill \$(cat /var/run/$name.pid) ;;
esac
EOF
}

# A one-jail setup wanting app, a service depending on the service zdb.
app_on_zdb() {
	need_root || return
	need_ip || return
	setup 1
	printf 'ports = ports\npackages = app\n' >> vjbuild.conf
	service_port zdb
	service_port app zdb
}

# The setup script runs in the jail: as its root (a user namespace: ids
# mapped to an unprivileged range), with the jail's name and users in its
# environment, no network; what it makes keeps the jail's ids on disk. It
# runs again when the jail's users change, not otherwise; a failing one
# fails its task and says so.
test_setup_runs_inside_the_jail_for_its_users() {
	need_root || return
	setup 2
	printf 'ports = ports\npackages = mail\nuser.alice = uid=1001 hash=*\n' >> vjbuild.conf
	make_port mail 'mkdir -p "$STAGEDIR$PREFIX/share/mail"'
	cat > ports/mail/setup <<'EOF'
set -e
for u in $USERS; do
	mkdir -p /home/$u/Maildir/cur /home/$u/Maildir/new /home/$u/Maildir/tmp
	chown -R $u /home/$u/Maildir
done
mkdir -p /var/db/mail
echo "$NAME $HOSTNAME $ADDRESS $PORT users: $USERS" > /var/db/mail/seen
cat /proc/self/uid_map > /var/db/mail/uid_map
ip -o link show up > /var/db/mail/links 2>&1 || true
echo "setup of $PORT in $HOSTNAME"
EOF
	"$VJ" -j2 hosts.txt > out.txt 2>&1 || { fail "provisioning: $(tail -5 out.txt)"; return; }
	r=jails/web1
	[ "$(cat $r/var/db/mail/seen)" = "web1 web1.example.org 10.9.0.1 mail users: alice" ] || fail "environment: $(cat $r/var/db/mail/seen)"
	[ "$(stat -c %u $r/home/alice/Maildir/new)" = 1001 ] || fail "Maildir owner on disk: $(stat -c %u $r/home/alice/Maildir/new), not the jail's 1001"
	read -r inside outside count < $r/var/db/mail/uid_map
	[ "$inside" = 0 ] && [ "$outside" -ge 65536 ] && [ "$count" = 65536 ] || fail "the setup's root is not an unprivileged range: $(cat $r/var/db/mail/uid_map)"
	grep -q 'state UP' $r/var/db/mail/links && fail "the setup had a network: $(cat $r/var/db/mail/links)"
	grep -q 'setup of mail in web2.example.org' state/logs/latest/setup:mail@web2.log || fail "log: $(cat state/logs/latest/setup:mail@web2.log)"
	# Again: nothing runs.
	"$VJ" hosts.txt > again.txt 2>&1 || fail "second run: $(tail -3 again.txt)"
	grep -q ' 0 ran' again.txt || fail "second run ran tasks: $(tail -1 again.txt)"
	# A new user: the setup runs again and makes the new Maildir.
	sed -i 's/^web2 10.9.0.2$/web2 10.9.0.2 user.bob=uid=1002,hash=*/' hosts.txt
	"$VJ" hosts.txt > third.txt 2>&1 || { fail "third run: $(tail -3 third.txt)"; return; }
	[ "$(stat -c %u jails/web2/home/bob/Maildir/new 2>/dev/null)" = 1002 ] || fail "bob's Maildir: $(ls -ln jails/web2/home 2>&1)"
	task_runs | grep -q '^setup:mail@web1 ok 1$' || fail "web1's setup ran again: $(task_runs | grep setup)"
	# A failing setup fails its task, names the port, keeps its output.
	printf 'echo "no disk for you" >&2\nexit 3\n' > ports/mail/setup
	"$VJ" hosts.txt > fail.txt 2>&1 && fail "a failing setup passed: $(tail -3 fail.txt)"
	grep -q "mail's setup script (ports/mail/setup) failed in .*web1: exit 3" fail.txt state/logs/latest/setup:mail@web1.log || fail "message: $(cat fail.txt state/logs/latest/setup:mail@web1.log)"
	grep -q "no disk for you" state/logs/latest/setup:mail@web1.log || fail "its output: $(cat state/logs/latest/setup:mail@web1.log)"
}

# Setups run in dependency order: a port's after the setups of the ports
# it depends on (even through a port without one).
test_setups_run_after_those_of_their_dependencies() {
	need_root || return
	setup 1
	printf 'ports = ports\npackages = top\n' >> vjbuild.conf
	make_port zbase 'mkdir -p "$STAGEDIR$PREFIX/share/zbase"'
	make_port middle 'mkdir -p "$STAGEDIR$PREFIX/share/middle"' zbase
	make_port top 'mkdir -p "$STAGEDIR$PREFIX/share/top"' middle
	printf 'sleep 1; echo zbase >> /var/setups\n' > ports/zbase/setup
	printf 'echo top >> /var/setups\n' > ports/top/setup
	"$VJ" -j4 hosts.txt > out.txt 2>&1 || { fail "provisioning: $(tail -5 out.txt)"; return; }
	[ "$(cat jails/web1/var/setups)" = "$(printf 'zbase\ntop')" ] || fail "order: $(cat jails/web1/var/setups)"
}

# start waits for the jail's services and starts them in dependency order
# (app depends on zdb: zdb first, though app sorts first by name); stop
# stops them in the reverse order before it ends the jail.
test_services_start_in_dependency_order_and_stop_in_reverse() {
	app_on_zdb || return
	"$VJ" hosts.txt > out.txt 2>&1 || { fail "provisioning: $(tail -5 out.txt)"; return; }
	[ "$(cat jails/web1/var/db/vjbuild/services)" = "$(printf 'zdb\napp')" ] || fail "services: $(cat jails/web1/var/db/vjbuild/services)"
	"$VJ" start web1 > start.txt 2>&1 || { fail "start: $(cat start.txt)"; return; }
	# No wait: start returned once /etc/rc had started both.
	[ "$(cat jails/web1/var/log/order)" = "$(printf 'start zdb\nstart app')" ] || fail "start order: $(cat jails/web1/var/log/order)"
	"$VJ" exec web1 ps > ps.txt 2>&1
	[ "$(grep -c 'sleep 1000' ps.txt)" = 2 ] || fail "services running: $(cat ps.txt)"
	grep -q 'starting zdb' state/logs/console-web1.log || fail "console: $(cat state/logs/console-web1.log)"
	"$VJ" stop web1 > stop.txt 2>&1 || fail "stop: $(cat stop.txt)"
	[ "$(cat jails/web1/var/log/order)" = "$(printf 'start zdb\nstart app\nstop app\nstop zdb')" ] || fail "stop order: $(cat jails/web1/var/log/order)"
	"$VJ" ps | grep -q "no jail is running" || fail "still running: $("$VJ" ps)"
}

# A service that does not start fails the start (as jail(8) fails on
# exec.start), names the console log that says why, and leaves nothing
# running: no process, no interface.
test_a_service_that_fails_to_start_fails_the_start() {
	app_on_zdb || return
	sed -i 's/^start) /start) echo "app: no config" >\&2; exit 1; /' ports/app/files/usr/local/etc/rc.d/app
	"$VJ" hosts.txt > out.txt 2>&1 || { fail "provisioning: $(tail -5 out.txt)"; return; }
	"$VJ" start web1 > start.txt 2>&1 && { fail "start passed: $(cat start.txt)"; "$VJ" stop web1; return; }
	grep -q 'exec.start (/bin/sh /etc/rc) exited 1; its output: .*console-web1.log' start.txt || fail "message: $(cat start.txt)"
	grep -q 'app: no config' state/logs/console-web1.log || fail "console: $(cat state/logs/console-web1.log)"
	grep -q 'rc: app did not start' state/logs/console-web1.log || fail "console: $(cat state/logs/console-web1.log)"
	"$VJ" ps | grep -q "no jail is running" || fail "still running: $("$VJ" ps)"
	pgrep -f 'sleep 1000' > /dev/null && fail "zdb's process outlived the failed start: $(pgrep -af 'sleep 1000')"
	ip -o link | grep -q ' vj[0-9a-f]*h' && fail "veth left: $(ip -o link | grep ' vj')" || true
}

# A recipe's service must be in the package: the run fails naming it.
test_a_named_service_missing_from_the_jail_is_an_error() {
	need_root || return
	setup 1
	printf 'ports = ports\npackages = app\n' >> vjbuild.conf
	make_port app 'mkdir -p "$STAGEDIR$PREFIX/share/app"'
	echo "service = ghost" >> ports/app/recipe
	"$VJ" hosts.txt > out.txt 2>&1 && fail "passed: $(tail -3 out.txt)"
	grep -q "ports/app/recipe names service ghost, but .*web1 has no /usr/local/etc/rc.d/ghost" out.txt state/logs/latest/services:web1.log || fail "message: $(cat out.txt)"
	printf 'version = 1.0\nsource = none\nservice = ../x\n' > ports/app/recipe
	"$VJ" hosts.txt > bad.txt 2>&1; rc=$?
	[ $rc = 2 ] || fail "bad service name: exit $rc"
	grep -q "ports/app/recipe:3: bad service '../x'" bad.txt || fail "message: $(cat bad.txt)"
}

# tls = yes: each jail gets its own key and a certificate for its name and
# address from the host's CA (made once, in STATE/ca); the client verifies
# the chain and the name; the key is the jail root's alone and in no
# package of the cache.
test_tls_ports_get_a_key_and_certificate_per_jail_from_the_hosts_ca() {
	need_root || return
	command -v openssl > /dev/null || { echo "    skipped: no openssl(1) (Debian package openssl)"; return $SKIP_RC; }
	setup 2
	printf 'ports = ports\npackages = web\n' >> vjbuild.conf
	make_port web 'mkdir -p "$STAGEDIR$PREFIX/share/web"'
	echo "tls = yes" >> ports/web/recipe
	"$VJ" -j2 hosts.txt > out.txt 2>&1 || { fail "provisioning: $(tail -5 out.txt)"; return; }
	[ "$(stat -c %a state/ca/ca.key)" = 600 ] || fail "the CA's key is mode $(stat -c %a state/ca/ca.key)"
	for i in 1 2; do
		d=jails/web$i/usr/local/etc/ssl/vjbuild
		[ "$(stat -c %a $d/key.pem)" = 600 ] || fail "web$i key mode $(stat -c %a $d/key.pem)"
		cmp -s $d/ca.pem state/ca/ca.crt || fail "web$i ca.pem is not the CA's"
		openssl verify -CAfile state/ca/ca.crt $d/cert.pem > v.txt 2>&1 || fail "web$i chain: $(cat v.txt)"
		openssl x509 -in $d/cert.pem -noout -checkhost web$i.example.org | grep -q 'does match' || fail "web$i name"
		openssl x509 -in $d/cert.pem -noout -checkhost web3.example.org | grep -q 'does NOT match' || fail "web$i matches another name"
		openssl x509 -in $d/cert.pem -noout -checkip 10.9.0.$i | grep -q 'does match' || fail "web$i address"
		# The key is the certificate's.
		[ "$(openssl pkey -in $d/key.pem -pubout)" = "$(openssl x509 -in $d/cert.pem -noout -pubkey)" ] || fail "web$i key and certificate differ"
	done
	cmp -s jails/web1/usr/local/etc/ssl/vjbuild/key.pem jails/web2/usr/local/etc/ssl/vjbuild/key.pem && fail "two jails share a key"
	for f in cache/packages/*.tar.gz; do tar tzf "$f" | grep -q 'key.pem' && fail "a key in the cache: $f"; done
	"$VJ" hosts.txt > again.txt 2>&1 || fail "again: $(tail -3 again.txt)"
	grep -q ' 0 ran' again.txt || fail "second run ran tasks: $(tail -1 again.txt)"
	# An operator's CA directory with a key and no certificate is not
	# completed over: the run fails and says so.
	mkdir myca && cp state/ca/ca.key myca/ && echo "ca = myca" >> vjbuild.conf
	"$VJ" hosts.txt > half.txt 2>&1 && fail "a half CA passed: $(tail -3 half.txt)"
	grep -q "the CA directory .*myca has ca.key but not ca.crt" half.txt || fail "message: $(cat half.txt)"
	cmp -s myca/ca.key state/ca/ca.key || fail "the operator's key changed"
}

run_tests "$@"
