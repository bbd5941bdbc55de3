#!/usr/bin/env bats
# backup and restore against one real OpenSSH sshd on 127.0.0.1 (issue 10 item 4), whose
# sessions find stub `systemctl` and `nginx` first on PATH: units keep their state in files,
# `nginx -t` passes or fails on demand, and every action is logged. The gateway's certificate
# and key live in the test's own directory (the inventory's cert and key), so restore writes
# nothing outside it.

bats_require_minimum_version 1.5.0

load sshd_helper

setup_file() {
	sshd_dcvctl_init
	[ -z "${SSHD_SKIP:-}" ] || return 0
	client_key ed25519 ed25519
	mkdir -p "$SSHD_DIR/units"
	# systemctl: is-active answers from units/NAME (default inactive); start, stop and restart
	# change it; every call but is-active is logged
	cat >"$SSHD_DIR/fakebin/systemctl" <<-EOF
		#!/bin/sh
		verb=\$1; shift
		[ "\$1" = --quiet ] && { quiet=1; shift; }
		[ "\$1" = -- ] && shift
		f="$SSHD_DIR/units/\$1"
		case \$verb in
		is-active)
		    s=\$(cat "\$f" 2>/dev/null || echo inactive)
		    [ -n "\${quiet:-}" ] || echo "\$s"
		    [ "\$s" = active ]; exit ;;
		start|restart) echo active >"\$f" ;;
		stop) echo inactive >"\$f" ;;
		esac
		echo "systemctl \$verb \$1" >>"$SSHD_DIR/ACTIONS"
	EOF
	cat >"$SSHD_DIR/fakebin/nginx" <<-EOF
		#!/bin/sh
		echo "nginx \$*" >>"$SSHD_DIR/ACTIONS"
		[ ! -e "$SSHD_DIR/nginx-broken" ] || { echo 'nginx: [emerg] unexpected "}"' >&2; exit 1; }
	EOF
	chmod 755 "$SSHD_DIR/fakebin/systemctl" "$SSHD_DIR/fakebin/nginx"
	read -r T_PORT <<<"$(free_ports 1)"
	export T_PORT
	sshd_start target "$T_PORT"
}

teardown_file() {
	sshd_stop_all
}

setup() {
	[ -z "${SSHD_SKIP:-}" ] || skip "$SSHD_SKIP"
	# the gateway's other managed files must be absent here, or backup would keep them too
	local f
	for f in /etc/nginx/conf.d/dcv-proxy.conf /etc/dcv-connection-gateway /etc/logrotate.d/dcvctl-nginx \
		/usr/local/sbin/dcvctl-health /etc/systemd/system/dcvctl-health.service \
		/etc/systemd/system/dcvctl-health.timer; do
		[ ! -e "$f" ] || skip "this machine has $f, a file dcvctl manages on a gateway"
	done
	T="$BATS_TEST_TMPDIR"
	INV="$T/dcvctl.conf"
	known_host target >"$T/kh"
	rm -f "$SSHD_DIR/ACTIONS" "$SSHD_DIR/nginx-broken" "$SSHD_DIR"/units/*
	mkdir -p "$T/pki"
	printf 'CERT v1\n' >"$T/pki/cert.pem"
	printf 'KEY v1\n' >"$T/pki/key.pem"
	chmod 644 "$T/pki/cert.pem"
	chmod 600 "$T/pki/key.pem"
	echo active >"$SSHD_DIR/units/nginx"
	{
		echo "[ssh]"
		echo "identity = $SSHD_DIR/keys/ed25519"
		echo "known-hosts = $T/kh"
		echo "sudo = no"
		echo "connect-timeout = 5s"
		echo "[gateway]"
		echo "address = 127.0.0.1"
		echo "ssh = 127.0.0.1:$T_PORT"
		echo "user = root"
		echo "proxy = nginx"
		echo "cert = $T/pki/cert.pem"
		echo "key = $T/pki/key.pem"
	} >"$INV"
	cd "$T"
}

dcv() {
	timeout 60 "$DCVCTL" -c "$INV" "$@"
}

manifest() {
	tar -xzOf "$T/b.tar.gz" manifest.json
}

@test "backup writes a mode-600 tar.gz that tar lists, one folder per host, with a manifest" {
	run --separate-stderr dcv backup --out "$T/b.tar.gz"
	expect_status 0
	[[ $output == "wrote $T/b.tar.gz (mode 600): 2 files and 5 unit states from 1 of 1 hosts" ]]
	[ "$(stat -c %a "$T/b.tar.gz")" = 600 ]
	run tar -tzf "$T/b.tar.gz"
	[ "${lines[0]}" = manifest.json ]
	[ "${lines[1]}" = "gateway${T}/pki/cert.pem" ]
	[ "${lines[2]}" = "gateway${T}/pki/key.pem" ]
	[ "$(tar -xzOf "$T/b.tar.gz" "gateway${T}/pki/key.pem")" = "KEY v1" ]
	output=$(manifest)
	[ "$(json '[f["sha256"] for f in d["files"] if f["path"].endswith("cert.pem")][0]')" = "$(sha256sum <"$T/pki/cert.pem" | cut -d' ' -f1)" ]
	[ "$(json '[f["mode"] for f in d["files"] if f["path"].endswith("key.pem")][0]')" = 0600 ]
	[ "$(json '[f["owner"] for f in d["files"]][0]')" = root ]
	[ "$(json '[u["state"] for u in d["hosts"][0]["units"] if u["unit"] == "nginx"][0]')" = active ]
	[ "$(json 'd["dcvctl_version"]')" = "$("$DCVCTL" --version | awk '{print $2}')" ]
	[ ! -e "$SSHD_DIR/ACTIONS" ]
}

@test "backup never replaces an existing archive" {
	echo old >"$T/b.tar.gz"
	run --separate-stderr dcv backup --out "$T/b.tar.gz"
	expect_status 5
	[ "$(cat "$T/b.tar.gz")" = old ]
}

@test "backup's default name is dcvctl-backup-<UTC>.tar.gz in the current directory" {
	run --separate-stderr dcv backup
	expect_status 0
	run ls "$T"
	[[ $output == *dcvctl-backup-2*Z.tar.gz* ]]
}

@test "restore --dry-run shows the diff, hides the key, and changes nothing" {
	dcv backup --out "$T/b.tar.gz"
	printf 'CERT v2\n' >"$T/pki/cert.pem"
	printf 'KEY v2\n' >"$T/pki/key.pem"
	echo failed >"$SSHD_DIR/units/nginx"
	run --separate-stderr dcv restore "$T/b.tar.gz" --dry-run
	expect_status 0
	[[ $output == *"-CERT v2"* ]]
	[[ $output == *"+CERT v1"* ]]
	[[ $output == *"(content not shown: a private key or secret)"* ]]
	[[ $output != *"KEY v1"* ]]
	[[ $output == *"would start nginx (failed)"* ]]
	[ "$(cat "$T/pki/cert.pem")" = "CERT v2" ]
	[ "$(cat "$T/pki/key.pem")" = "KEY v2" ]
	[ ! -e "$SSHD_DIR/ACTIONS" ]
}

@test "restore puts files back with their mode, validates once, and starts the proxy that is down" {
	dcv backup --out "$T/b.tar.gz"
	printf 'CERT v2\n' >"$T/pki/cert.pem"
	rm "$T/pki/key.pem"
	chmod 666 "$T/pki/cert.pem"
	echo failed >"$SSHD_DIR/units/nginx"
	run --separate-stderr dcv restore "$T/b.tar.gz"
	expect_status 0
	[ "$(cat "$T/pki/cert.pem")" = "CERT v1" ]
	[ "$(cat "$T/pki/key.pem")" = "KEY v1" ]
	[ "$(stat -c %a "$T/pki/key.pem")" = 600 ]
	[ "$(stat -c %a "$T/pki/cert.pem")" = 644 ]
	[ "$(grep -c '^nginx -t' "$SSHD_DIR/ACTIONS")" -eq 1 ]
	grep -qx 'systemctl start nginx' "$SSHD_DIR/ACTIONS"
	[ "$(cat "$SSHD_DIR/units/nginx")" = active ]
	[[ $output == *"0 failed"* ]]
	ls "$T/pki/" | grep -q '^cert.pem.dcvctl-'
}

@test "restore twice changes nothing the second time" {
	dcv backup --out "$T/b.tar.gz"
	printf 'CERT v2\n' >"$T/pki/cert.pem"
	dcv restore "$T/b.tar.gz"
	rm -f "$SSHD_DIR/ACTIONS"
	run --separate-stderr dcv restore "$T/b.tar.gz"
	expect_status 0
	[[ ${lines[-1]} == *" 0 changed, 0 failed" ]]
	[ ! -e "$SSHD_DIR/ACTIONS" ]
}

@test "a restore that fails validation puts every file back and reloads nothing" {
	dcv backup --out "$T/b.tar.gz"
	printf 'CERT v2\n' >"$T/pki/cert.pem"
	printf 'KEY v2\n' >"$T/pki/key.pem"
	touch "$SSHD_DIR/nginx-broken"
	run --separate-stderr dcv restore "$T/b.tar.gz"
	expect_status 1
	[[ $output == *"validation failed"* ]]
	[[ $output == *'unexpected "}"'* ]]
	[ "$(cat "$T/pki/cert.pem")" = "CERT v2" ]
	[ "$(cat "$T/pki/key.pem")" = "KEY v2" ]
	! grep -q '^systemctl reload' "$SSHD_DIR/ACTIONS"
}

@test "a hostile archive is refused before any host is touched" {
	dcv backup --out "$T/b.tar.gz"
	mkdir -p "$T/x" && tar -xzf "$T/b.tar.gz" -C "$T/x"
	printf 'CERT evil\n' >"$T/x/gateway${T}/pki/cert.pem"
	(cd "$T/x" && tar -czf "$T/changed.tar.gz" manifest.json gateway)
	ln -s /etc/shadow "$T/x/gateway${T}/pki/link"
	(cd "$T/x" && tar -czf "$T/symlink.tar.gz" manifest.json gateway)
	printf 'CERT v2\n' >"$T/pki/cert.pem"
	local before
	before=$(log_count target "Accepted publickey")
	run --separate-stderr dcv restore "$T/changed.tar.gz"
	expect_status 1
	[[ $stderr == *"does not match its size and sha256"*"nothing was written"* ]]
	run --separate-stderr dcv restore "$T/symlink.tar.gz"
	expect_status 1
	[[ $stderr == *"refused"* ]]
	[ "$(cat "$T/pki/cert.pem")" = "CERT v2" ]
	[ "$(log_count target "Accepted publickey")" -eq "$before" ]
}

@test "restore refuses a path the inventory does not manage" {
	dcv backup --out "$T/b.tar.gz"
	sed -i "s|^key = .*|key = $T/pki/other.pem|" "$INV"
	run --separate-stderr dcv restore "$T/b.tar.gz"
	expect_status 1
	[[ $stderr == *"pki/key.pem on gateway is not a file dcvctl manages there"* ]]
	[ ! -e "$T/pki/other.pem" ]
}

@test "backup saves the hosts that answer, names the one that does not, and exits 1" {
	local closed
	read -r closed <<<"$(free_ports 1)"
	{
		echo "[agent dcv1]"
		echo "address = 127.0.0.1"
		echo "ssh = 127.0.0.1:$closed"
		echo "user = root"
	} >>"$INV"
	run --separate-stderr dcv backup --out "$T/b.tar.gz" --json
	expect_status 1
	[ "$(json 'd["hosts"]')" = "['gateway']" ]
	[ "$(json 'd["left_out"][0]["host"]')" = dcv1 ]
	[[ "$(json 'd["left_out"][0]["reason"]')" == *"Connection refused"* ]]
	[[ $stderr == *"dcv1: "*"left out of the backup"* ]]
	[ "$(stat -c %a "$T/b.tar.gz")" = 600 ]
	run tar -tzf "$T/b.tar.gz"
	[[ $output != *dcv1/* ]]
}

@test "restore --json reports every step with its diff and a summary" {
	dcv backup --out "$T/b.tar.gz"
	printf 'CERT v2\n' >"$T/pki/cert.pem"
	run --separate-stderr dcv restore "$T/b.tar.gz" --dry-run --json
	expect_status 0
	[ "$(json 'd["dry_run"]')" = True ]
	[ "$(json 'd["archive"]["files"]')" = 2 ]
	[ "$(json '[s["status"] for s in d["steps"] if s["step"] == "file" and "cert.pem" in s["detail"]][0]')" = changed ]
	[[ "$(json '[s["diff"] for s in d["steps"] if "diff" in s][0]')" == *"+CERT v1"* ]]
	[ "$(json 'd["summary"]["changed"]')" = 1 ]
	[ "$(json 'd["summary"]["failed"]')" = 0 ]
	[ "$(cat "$T/pki/cert.pem")" = "CERT v2" ]
}

@test "restore stops a unit that was stopped at backup time and leaves one caught in between alone" {
	echo maintenance >"$SSHD_DIR/units/haproxy"
	dcv backup --out "$T/b.tar.gz"
	echo active >"$SSHD_DIR/units/dcv-connection-gateway"
	echo inactive >"$SSHD_DIR/units/haproxy"
	run --separate-stderr dcv restore "$T/b.tar.gz"
	expect_status 0
	[[ $output == *"dcv-connection-gateway stopped (it was stopped at backup time)"* ]]
	[[ $output == *"haproxy left as it is (maintenance at backup time)"* ]]
	[ "$(cat "$SSHD_DIR/units/dcv-connection-gateway")" = inactive ]
	[ "$(cat "$SSHD_DIR/units/haproxy")" = inactive ]
	[ "$(grep -c '^systemctl' "$SSHD_DIR/ACTIONS")" -eq 1 ]
}
