#!/usr/bin/env bats
# check's agent facts against a real OpenSSH sshd on 127.0.0.1: the facts script runs in a real
# shell in one round trip, and the diagnosis comes from the facts it brings back. systemctl and
# dcv are stubs on the remote PATH (their state in files); ss and the shell are real.

bats_require_minimum_version 1.5.0

load sshd_helper

setup_file() {
	sshd_dcvctl_init
	[ -z "${SSHD_SKIP:-}" ] || return 0
	client_key ed25519 ed25519
	STATE="$SSHD_DIR/state"
	mkdir -p "$STATE"
	export STATE
	# systemctl show -p ... -- UNIT...: one block per unit, "ACTIVE ENABLED" from $STATE/UNIT
	cat >"$SSHD_DIR/fakebin/systemctl" <<STUB
#!/bin/sh
[ "\$1" = show ] || exit 0
while [ \$# -gt 0 ]; do case \$1 in --) break ;; esac; shift; done
shift
sep=
for u in "\$@"; do
	printf '%s' "\$sep"
	sep='
'
	if [ -f "$STATE/\$u" ]; then read -r a e <"$STATE/\$u"; l=loaded; else a=inactive e=; l=not-found; fi
	printf 'Id=%s.service\nLoadState=%s\nActiveState=%s\nUnitFileState=%s\n' "\$u" "\$l" "\$a" "\$e"
done
STUB
	# dcv list-sessions --json: $STATE/sessions.json
	cat >"$SSHD_DIR/fakebin/dcv" <<STUB
#!/bin/sh
[ "\$1 \$2" = "list-sessions --json" ] || exit 2
cat "$STATE/sessions.json"
STUB
	chmod 755 "$SSHD_DIR/fakebin/systemctl" "$SSHD_DIR/fakebin/dcv"
	read -r A_PORT WEB_PORT <<<"$(free_ports 2)"
	export A_PORT WEB_PORT
	sshd_start agent "$A_PORT"
	KH="$SSHD_DIR/known_hosts"
	known_host agent >"$KH"
	export KH
}

teardown_file() {
	sshd_stop_all
}

setup() {
	[ -z "${SSHD_SKIP:-}" ] || skip "$SSHD_SKIP"
	INV="$BATS_TEST_TMPDIR/dcvctl.conf"
	cat >"$INV" <<CONF
[ssh]
identity = $SSHD_DIR/keys/ed25519
known-hosts = $KH
connect-timeout = 5s
sudo = no

[agent dcv1]
address = 127.0.0.1
ssh = 127.0.0.1:$A_PORT
user = root
port = $WEB_PORT
CONF
	echo "active enabled" >"$STATE/dcvserver"
	echo '[{"id": "console", "owner": "root", "type": "console"}]' >"$STATE/sessions.json"
}

check_json() {
	run --separate-stderr "$DCVCTL" -c "$INV" check --format json "$@"
}

# status_of ID: the status of one row of $output.
status_of() {
	json "next(c['status'] for c in d['checks'] if c['id'] == '$1')"
}

@test "every agent row comes from one command on the agent's sshd" {
	local before after
	before=$(log_count agent "Starting session: command")
	check_json --only agent.dcv1
	after=$(log_count agent "Starting session: command")
	[ $((after - before)) -eq 1 ]
	[ "$(status_of agent.dcv1.ssh)" = pass ]
	[ "$(status_of agent.dcv1.dcvserver)" = pass ]
	[ "$(status_of agent.dcv1.session)" = pass ]
}

@test "dcvserver stopped: the agent's row fails and the diagnosis gives the start command" {
	echo "failed enabled" >"$STATE/dcvserver"
	check_json --only agent.dcv1
	expect_status 1
	[ "$(status_of agent.dcv1.dcvserver)" = fail ]
	[ "$(json "d['diagnosis']['hop']")" = dcv1 ]
	[ "$(json "d['diagnosis']['cause']")" = "dcvserver is not running on dcv1 (failed)" ]
	[ "$(json "d['diagnosis']['hint']")" = "dcvctl service start dcv1 dcvserver" ]
	[ "$(json "d['diagnosis']['check']")" = agent.dcv1.dcvserver ]
	[ "$(json "d['diagnosis']['fact']['kind']")" = unit-stopped ]
	[ "$(json "d['diagnosis']['fact']['key']")" = dcvserver ]
	[ "$(json "d['diagnosis']['fact']['value']")" = failed ]
}

@test "a session with another owner fails and names both owners" {
	echo '[{"id": "console", "owner": "alice", "type": "console"}]' >"$STATE/sessions.json"
	check_json --only agent.dcv1.session
	expect_status 1
	[ "$(status_of agent.dcv1.session)" = fail ]
	[ "$(json "d['diagnosis']['hint']")" = "dcvctl session recreate --agent dcv1" ]
	[[ $(json "d['diagnosis']['cause']") == *"owner alice, type console; the inventory says owner root, type console"* ]]
}

@test "list-sessions failing is named with its exit status" {
	rm -f "$STATE/sessions.json"
	check_json --only agent.dcv1.session
	expect_status 1
	[ "$(json "d['diagnosis']['cause']")" = "the sessions on dcv1 cannot be read: dcv list-sessions failed (exit 1)" ]
}
