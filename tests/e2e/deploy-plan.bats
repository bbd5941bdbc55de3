#!/usr/bin/env bats
# deploy --dry-run prints the plan and changes nothing (issue 8, Part 1 item 3), against one real
# OpenSSH sshd on 127.0.0.1 whose sessions find stub `systemctl` and `dcv` commands first on
# PATH: the stubs answer state queries and log every other call, so "changes nothing" is the
# log staying empty. The agent's state (units, dcv.conf, sessions) is read in one round trip.

bats_require_minimum_version 1.5.0

load sshd_helper

setup_file() {
	sshd_dcvctl_init
	[ -z "${SSHD_SKIP:-}" ] || return 0
	client_key ed25519 ed25519
	# systemctl show: the Session Manager agent and dcvserver both active and enabled
	cat >"$SSHD_DIR/fakebin/systemctl" <<-EOF
		#!/bin/sh
		if [ "\$1" = show ]; then
		    for u in 1 2; do printf 'ActiveState=active\nUnitFileState=enabled\n\n'; done
		    exit 0
		fi
		echo "systemctl \$*" >>"$SSHD_DIR/ACTIONS"
	EOF
	# dcv list-sessions: none
	cat >"$SSHD_DIR/fakebin/dcv" <<-EOF
		#!/bin/sh
		if [ "\$1" = list-sessions ]; then
		    echo '[]'
		    exit 0
		fi
		echo "dcv \$*" >>"$SSHD_DIR/ACTIONS"
	EOF
	chmod 755 "$SSHD_DIR/fakebin/systemctl" "$SSHD_DIR/fakebin/dcv"
	read -r T_PORT <<<"$(free_ports 1)"
	export T_PORT
	sshd_start target "$T_PORT"
}

teardown_file() {
	sshd_stop_all
}

setup() {
	[ -z "${SSHD_SKIP:-}" ] || skip "$SSHD_SKIP"
	[ ! -e /etc/dcv/dcv.conf ] || skip "this machine has /etc/dcv/dcv.conf: the plan would depend on it"
	INV="$BATS_TEST_TMPDIR/dcvctl.conf"
	rm -f "$SSHD_DIR/ACTIONS"
	{
		plan_inventory_head
		echo "[agent dcv1]"
		echo "address = 127.0.0.1"
		echo "ssh = 127.0.0.1:$T_PORT"
		echo "user = root"
	} >"$INV"
}

@test "deploy --dry-run on an agent plans every change with its diff and runs no action" {
	run --separate-stderr timeout 60 "$DCVCTL" -c "$INV" deploy --dry-run --only agents --json
	expect_status 0
	[ "$(json 'd["dry_run"]')" = True ]
	[ "$(json '[(s["step"], s["status"]) for s in d["steps"]]')" = "[('sm-agent', 'changed'), ('dcv.conf', 'changed'), ('dcvserver', 'changed'), ('session', 'ok'), ('logrotate', 'changed')]" ]
	[ "$(json '[s["detail"] for s in d["steps"] if s["step"] == "sm-agent"][0]')" = "would stop and disable dcv-session-manager-agent" ]
	[ "$(json '[s["detail"] for s in d["steps"] if s["step"] == "dcvserver"][0]')" = "would restart dcvserver" ]
	[ "$(json '[s["detail"] for s in d["steps"] if s["step"] == "session"][0]')" = "would wait for dcvserver to create session 'console' after its restart" ]
	[ "$(json '[s["detail"] for s in d["steps"] if s["step"] == "logrotate"][0]')" = "would write /etc/logrotate.d/dcvctl-dcv" ]
	[[ "$(json '[s["diff"] for s in d["steps"] if s["step"] == "dcv.conf"][0]')" == *"+web-port=8443"* ]]
	[ "$(json '[s["reason"] for s in d["steps"] if s["step"] == "dcvserver"][0]')" = "dcv.conf changes" ]
	[ "$(json '[s["reason"] for s in d["steps"] if s["step"] == "dcv.conf"][0]')" = "the file is absent" ]
	[ ! -e "$SSHD_DIR/ACTIONS" ]
	[ ! -e /etc/dcv/dcv.conf ]
}

@test "deploy --dry-run prints the plan as text, diffs included, and says it changed nothing" {
	run --separate-stderr timeout 60 "$DCVCTL" -c "$INV" deploy --dry-run --only dcv1
	expect_status 0
	[[ ${lines[0]} == "dry run: nothing is changed on any host" ]]
	[[ $output == *"dcv1       dcv.conf   changed"*"would write /etc/dcv/dcv.conf (the file is absent)"* ]]
	[[ $output == *"+[connectivity]"* ]]
	[[ ${lines[-1]} == "1 ok, 4 changed, 0 failed (dry run) in "* ]]
	[ ! -e "$SSHD_DIR/ACTIONS" ]
}

@test "a dry run reads an agent's units, dcv.conf and sessions in one command" {
	local before
	before=$(log_count target "Starting session: command")
	run --separate-stderr timeout 60 "$DCVCTL" -c "$INV" deploy --dry-run --only dcv1 --json
	expect_status 0
	[ "$(log_count target "Starting session: command")" -eq $((before + 1)) ]
}
