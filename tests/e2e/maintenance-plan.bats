#!/usr/bin/env bats
# deploy --dry-run plans [maintenance] on the gateway (issue 10 item 2) against one real OpenSSH
# sshd on 127.0.0.1 whose sessions find stub `systemctl` and `dcv` first on PATH: the stubs
# answer state queries and log every other call, so "changes nothing" is the log staying empty.
# The health files are absent here; the host's own /etc/logrotate.d decides the logrotate step.

bats_require_minimum_version 1.5.0

load sshd_helper

setup_file() {
	sshd_dcvctl_init
	[ -z "${SSHD_SKIP:-}" ] || return 0
	client_key ed25519 ed25519
	# systemctl show: every unit absent
	cat >"$SSHD_DIR/fakebin/systemctl" <<-EOF
		#!/bin/sh
		if [ "\$1" = show ]; then
		    exit 0
		fi
		echo "systemctl \$*" >>"$SSHD_DIR/ACTIONS"
	EOF
	chmod 755 "$SSHD_DIR/fakebin/systemctl"
	# a certificate and key where the inventory says (deploy never invents them)
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=maint.test \
		-keyout "$SSHD_DIR/key.pem" -out "$SSHD_DIR/cert.pem" 2>/dev/null
	read -r T_PORT <<<"$(free_ports 1)"
	export T_PORT
	sshd_start target "$T_PORT"
}

teardown_file() {
	sshd_stop_all
}

setup() {
	[ -z "${SSHD_SKIP:-}" ] || skip "$SSHD_SKIP"
	for f in /usr/local/sbin/dcvctl-health /etc/systemd/system/dcvctl-health.service \
		/etc/systemd/system/dcvctl-health.timer /etc/logrotate.d/dcvctl-nginx; do
		[ ! -e "$f" ] || skip "this machine has $f: the plan would depend on it"
	done
	INV="$BATS_TEST_TMPDIR/dcvctl.conf"
	rm -f "$SSHD_DIR/ACTIONS"
	{
		echo "[endpoint]"
		echo "url = https://maint.test:8443/"
		plan_inventory_head
		echo "listen = 8443"
		echo "cert = $SSHD_DIR/cert.pem"
		echo "key = $SSHD_DIR/key.pem"
		echo "[agent dcv1]"
		echo "address = 127.0.0.1"
		echo "user = root"
	} >"$INV"
}

step_field() {  # step_field STEP FIELD
	json "[s[\"$2\"] for s in d[\"steps\"] if s[\"step\"] == \"$1\"][0]"
}

@test "deploy --dry-run plans the health script, service and timer on the gateway and runs nothing" {
	run --separate-stderr timeout 60 "$DCVCTL" -c "$INV" deploy --dry-run --only gateway --json
	expect_status 0
	[ "$(step_field health-script status)" = changed ]
	[ "$(step_field health-script detail)" = "would write /usr/local/sbin/dcvctl-health" ]
	[[ "$(step_field health-script diff)" == *"+url=https://127.0.0.1:8443/"* ]]
	[[ "$(step_field health-script diff)" == *"+limit=3"* ]]
	[ "$(step_field health-service status)" = changed ]
	[[ "$(step_field health-timer diff)" == *"+OnUnitActiveSec=60s"* ]]
	[ "$(step_field health status)" = changed ]
	[ "$(step_field health detail)" = "would start and enable dcvctl-health.timer" ]
	[ ! -e "$SSHD_DIR/ACTIONS" ]
	[ ! -e /usr/local/sbin/dcvctl-health ]
}

@test "the gateway's logrotate step follows the host's own logrotate files" {
	command -v logrotate >/dev/null || {
		[ "${CI:-}" != true ] || false
		skip "logrotate is not installed"
	}
	run --separate-stderr timeout 60 "$DCVCTL" -c "$INV" deploy --dry-run --only gateway --json
	expect_status 0
	if grep -qs '^/var/log/nginx/\*' /etc/logrotate.d/*; then
		# the nginx package rotates its logs: a second file would be a duplicate to logrotate
		[ "$(step_field logrotate status)" = ok ]
		[[ "$(step_field logrotate detail)" == "logrotate: not installed (/var/log/nginx/dcv-*.log: rotated by /etc/logrotate.d/"* ]]
	else
		[ "$(step_field logrotate status)" = changed ]
		[[ "$(step_field logrotate diff)" == *"+/var/log/nginx/dcv-*.log {"* ]]
	fi
}

@test "opting out plans nothing to remove on a host that has none of it" {
	printf '[maintenance]\nlogrotate = no\nhealth-restart = no\n' >>"$INV"
	run --separate-stderr timeout 60 "$DCVCTL" -c "$INV" deploy --dry-run --only gateway --json
	expect_status 0
	[ "$(json '[s["step"] for s in d["steps"] if s["step"].startswith("health-")]')" = "[]" ]
	[ "$(step_field health status)" = ok ]
	[ "$(step_field health detail)" = "health: not installed ([maintenance] health-restart = no)" ]
	[ "$(step_field logrotate detail)" = "logrotate: not installed ([maintenance] logrotate = no)" ]
	[ ! -e "$SSHD_DIR/ACTIONS" ]
}

@test "a bad [maintenance] value is a file:line error, exit 3" {
	printf '[maintenance]\nrestart-limit = lots\n' >>"$INV"
	run --separate-stderr "$DCVCTL" -c "$INV" deploy --dry-run --only gateway
	expect_status 3
	[[ "$stderr" == *"dcvctl.conf:19: bad value 'lots' for 'restart-limit' in [maintenance]"* ]]
}
