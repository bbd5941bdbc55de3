#!/usr/bin/env bats
# Rolling deploys on a 6-agent lab (issue 12 "Tests"): --serial 2 in batches whose order the JSON
# step timestamps show, a broken agent that stops the rollout under --max-fail 0% with the rest
# untouched, --only resuming it, [deploy] serial in the inventory, progress lines and -v waits.
# The lab's dcv2 is a backup: 5 primaries in batches of 2 (dcv1 dcv3 | dcv4 dcv5 | dcv6), then dcv2.
# Needs root; under CI=true a test that cannot run fails instead of skipping.
# The tests run in order: the first needs a fresh lab, the others a deployed one.

# shellcheck disable=SC2016  # Python code in single quotes, on purpose
bats_require_minimum_version 1.5.0

load lab_helper
load e2e_helper

VERIFIER='auth-token-verifier="https://198.18.1.11:8445/agent/validate-authentication-token"'

setup_file() {
	local missing
	missing=$(lab_missing)
	if [ -n "$missing" ]; then
		echo "$missing" >"$BATS_FILE_TMPDIR/lab-missing"
		[ "${CI:-}" != true ] || { echo "lab test needs: $missing" >&2; return 1; }
		return 0
	fi
	# a fresh lab: the seed's before state on every agent
	"$LAB" down >/dev/null 2>&1 || true
	"$LAB" up --agents 6 >"$BATS_FILE_TMPDIR/lab-up.out" 2>&1 || { cat "$BATS_FILE_TMPDIR/lab-up.out" >&2; return 1; }
}

teardown_file() {
	[ "$(id -u)" -ne 0 ] || [ -f "$BATS_FILE_TMPDIR/lab-missing" ] || release_port dcv4 || true
	# the other files expect the default 2-agent lab
	[ "$(id -u)" -ne 0 ] || [ -f "$BATS_FILE_TMPDIR/lab-missing" ] || "$LAB" down >/dev/null 2>&1 || true
}

setup() {
	lab_setup
	require_dcvctl
}

# The one batch number of HOST's steps in $output ("none" when no step of it has one, "mixed"
# when two).
batch_of() {
	pyjson "$output" '
b = {s["batch"] for s in d["steps"] if s["host"] == "'"$1"'" and "batch" in s}
print("none" if not b else b.pop() if len(b) == 1 else "mixed")'
}

# When batch N's first step began / its last step ended, in ms from the start of the run
# (batch 0: the gateway).
batch_start() {
	pyjson "$output" 'print(min(s["started_ms"] for s in d["steps"] if s.get("batch", 0) == '"$1"'))'
}

batch_end() {
	pyjson "$output" 'print(max(s["started_ms"] + s["duration_ms"] for s in d["steps"] if s.get("batch", 0) == '"$1"'))'
}

# The status of HOST's step STEP ("absent" when it has none).
step_status() {
	pyjson "$output" '
s = [s["status"] for s in d["steps"] if s["host"] == "'"$1"'" and s["step"] == "'"$2"'"]
print(s[0] if s else "absent")'
}

steps_of() {
	pyjson "$output" 'print(len([s for s in d["steps"] if s["host"] == "'"$1"'"]))'
}

rollout() {  # rollout KEY -- the summary's rollout field, JSON-encoded
	pyjson "$output" 'import json; print(json.dumps(d["summary"]["rollout"]["'"$1"'"]))'
}

conf_sum() {
	lab_exec "$1" sha256sum /etc/dcv/dcv.conf | cut -d' ' -f1
}

verifier_lines() {
	lab_exec "$1" grep -c '^auth-token-verifier' /etc/dcv/dcv.conf || true
}

# A dcv.conf drift deploy would undo: the Session Manager verifier back under [security].
add_verifier() {
	lab_exec "$1" sed -i "/^\[security\]/a $VERIFIER" /etc/dcv/dcv.conf
}

# dcvserver stopped and its port held by another process: it will not start again. (SO_REUSEADDR:
# the earlier verify steps' connections leave the port in TIME_WAIT.)
hold_port() {
	lab_exec "$1" systemctl stop dcvserver
	lab_exec "$1" sh -c "setsid /usr/bin/python3 -c 'import socket, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((\"0.0.0.0\", 8443)); s.listen(); time.sleep(600)' e2e-hold-8443 >/dev/null 2>&1 </dev/null &"
	wait_for 5 lab_exec "$1" sh -c "ss -Hltn 'sport = :8443' | grep -q 8443"
}

release_port() {
	lab_exec "$1" sh -c 'pkill -f "[e]2e-hold-8443" || true'
}

# ------------------------------------------------------------------ batches

@test "deploy --serial 2 on the fresh 6-agent lab: the gateway, then four batches one after the other, each verified" {
	run --separate-stderr dcv deploy --serial 2 --json
	[ "$status" -eq 0 ]
	[ "$(batch_of gateway)" = none ]
	[ "$(batch_of dcv1)" = 1 ]
	[ "$(batch_of dcv3)" = 1 ]
	[ "$(batch_of dcv4)" = 2 ]
	[ "$(batch_of dcv5)" = 2 ]
	[ "$(batch_of dcv6)" = 3 ]
	[ "$(batch_of dcv2)" = 4 ]
	[ "$(batch_end 0)" -le "$(batch_start 1)" ]
	[ "$(batch_end 1)" -le "$(batch_start 2)" ]
	[ "$(batch_end 2)" -le "$(batch_start 3)" ]
	[ "$(batch_end 3)" -le "$(batch_start 4)" ]
	[ "$(step_status dcv1 dcvserver)" = changed ]
	[ "$(step_status dcv1 verify)" = ok ]
	[ "$(step_status dcv3 verify)" = ok ]
	[ "$(step_status dcv4 verify)" = ok ]
	[ "$(step_status dcv5 verify)" = ok ]
	[ "$(step_status dcv6 verify)" = ok ]
	[ "$(step_status dcv2 verify)" = ok ]
	[ "$(rollout batches)" = 4 ]
	[ "$(rollout stopped)" = false ]
	[ "$(rollout untouched)" = "[]" ]
	[ "$(verifier_lines dcv6)" = 0 ]
}

@test "a second deploy --serial 2 changes nothing and still verifies every agent" {
	run --separate-stderr dcv deploy --serial 2 --json
	[ "$status" -eq 0 ]
	[ "$(pyjson "$output" 'print(d["summary"]["changed"])')" = 0 ]
	[ "$(pyjson "$output" 'print(len([s for s in d["steps"] if s["step"] == "verify" and s["status"] == "ok"]))')" = 6 ]
}

# ------------------------------------------------------------------ failure budget

@test "a dcvserver that will not start in batch 2 stops the rollout under --max-fail 0%: dcv6 and dcv2 untouched, exit 1" {
	add_verifier dcv6
	add_verifier dcv2
	local before6 before2
	before6=$(conf_sum dcv6)
	before2=$(conf_sum dcv2)
	hold_port dcv4
	run --separate-stderr dcv deploy --serial 2 --max-fail 0% --json
	[ "$status" -eq 1 ]
	[ "$(step_status dcv4 dcvserver)" = failed ]
	[ "$(step_status dcv4 verify)" = absent ]
	[ "$(step_status dcv5 verify)" = ok ]
	[ "$(steps_of dcv6)" = 0 ]
	[ "$(steps_of dcv2)" = 0 ]
	[ "$(rollout stopped)" = true ]
	[ "$(rollout budget)" = 0 ]
	[ "$(rollout untouched)" = '["dcv2", "dcv6"]' ]
	[ "$(rollout resume)" = '"dcvctl deploy --only dcv2,dcv6 --serial 2 --max-fail 0%"' ]
	[ "$(conf_sum dcv6)" = "$before6" ]
	[ "$(conf_sum dcv2)" = "$before2" ]
	[ "$(verifier_lines dcv6)" = 1 ]
}

@test "the stopped rollout in text names the agents left untouched and the command that resumes" {
	run --separate-stderr dcv deploy --serial 2 --max-fail 0%
	[ "$status" -eq 1 ]
	[[ $output == *$'\n'"stopped: 1 of 7 hosts failed, more than --max-fail 0% allows (0 agents)"$'\n'* ]]
	[[ $output == *$'\n'"left untouched: dcv2, dcv6"$'\n'* ]]
	[ "${lines[-1]}" = "resume with: dcvctl deploy --only dcv2,dcv6 --serial 2 --max-fail 0%" ]
	[ "$(verifier_lines dcv2)" = 1 ]
}

@test "--only with the printed list resumes: the untouched agents are deployed and verified, the gateway is not touched" {
	release_port dcv4
	run --separate-stderr dcv deploy --only dcv2,dcv6 --serial 2 --max-fail 0% --json
	[ "$status" -eq 0 ]
	[ "$(steps_of gateway)" = 0 ]
	[ "$(steps_of dcv4)" = 0 ]
	[ "$(step_status dcv6 dcv.conf)" = changed ]
	[ "$(step_status dcv6 verify)" = ok ]
	[ "$(step_status dcv2 verify)" = ok ]
	[ "$(batch_of dcv6)" = 1 ]
	[ "$(batch_of dcv2)" = 2 ]
	[ "$(verifier_lines dcv6)" = 0 ]
	[ "$(verifier_lines dcv2)" = 0 ]
	run --separate-stderr dcv deploy --only dcv4 --serial 2 --json
	[ "$status" -eq 0 ]
	[ "$(step_status dcv4 dcvserver)" = changed ]
	[ "$(step_status dcv4 verify)" = ok ]
}

@test "--max-fail 20% tolerates one broken agent of six: every batch runs, exit 1" {
	add_verifier dcv6
	hold_port dcv4
	run --separate-stderr dcv deploy --serial 2 --max-fail 20% --json
	release_port dcv4
	lab_exec dcv4 systemctl start dcvserver
	[ "$status" -eq 1 ]
	[ "$(step_status dcv4 dcvserver)" = failed ]
	[ "$(rollout budget)" = 1 ]
	[ "$(rollout stopped)" = false ]
	[ "$(rollout untouched)" = "[]" ]
	[ "$(step_status dcv6 dcv.conf)" = changed ]
	[ "$(step_status dcv6 verify)" = ok ]
	[ "$(step_status dcv2 verify)" = ok ]
	[ "$(verifier_lines dcv6)" = 0 ]
}

@test "--only refuses a name that is no gateway or agent, naming the whole list" {
	run --separate-stderr dcv deploy --only dcv1,bastion --serial 2
	[ "$status" -eq 2 ]
	[[ $stderr == *"--only dcv1,bastion: expected 'gateway', 'agents' or agent names, separated by commas"* ]]
}

# ------------------------------------------------------------------ inventory, progress, -v

@test "[deploy] serial in the inventory rolls out without --serial" {
	cp "$LAB_CONF" "$BATS_TEST_TMPDIR/dcvctl.conf"
	printf '\n[deploy]\nserial = 50%%\nmax-fail = 0%%\n' >>"$BATS_TEST_TMPDIR/dcvctl.conf"
	run --separate-stderr "$DCVCTL" -c "$BATS_TEST_TMPDIR/dcvctl.conf" deploy --json
	[ "$status" -eq 0 ]
	[ "$(rollout serial)" = '"50%"' ]
	[ "$(rollout batches)" = 3 ]
	[ "$(batch_of dcv1)" = 1 ]
	[ "$(batch_of dcv6)" = 2 ]
	[ "$(batch_of dcv2)" = 3 ]
}

@test "stderr that is not a terminal gets one plain progress line per finished host" {
	run --separate-stderr dcv deploy --serial 2
	[ "$status" -eq 0 ]
	[ "$(grep -cE '^deploy: (gateway|dcv[1-6]) done \([1-7]/7 hosts done, 0 failed, (gateway first|batch [1-4]/4)\)$' <<<"$stderr")" = 7 ]
	[[ $stderr == *$'\n'"deploy: dcv2 done (7/7 hosts done, 0 failed, batch 4/4)"* ]]
}

@test "-q leaves stderr without progress lines" {
	run --separate-stderr dcv -q deploy --serial 2
	[ "$status" -eq 0 ]
	[ -z "$stderr" ]
}

@test "-v names the wait for a handshake slot when [ssh] parallel is 1" {
	sed 's/^parallel = .*/parallel = 1/' "$LAB_CONF" >"$BATS_TEST_TMPDIR/dcvctl.conf"
	grep -qx 'parallel = 1' "$BATS_TEST_TMPDIR/dcvctl.conf"
	run --separate-stderr "$DCVCTL" -v -c "$BATS_TEST_TMPDIR/dcvctl.conf" deploy --only agents
	[ "$status" -eq 0 ]
	[ "$(grep -cE '^dcvctl: dcv[1-6]: waited [0-9]+ ms for a slot \(handshake, parallel = 1\)$' <<<"$stderr")" -ge 1 ]
}

@test "check on the 6-agent lab prints a plain progress line per host when stderr is not a terminal" {
	run --separate-stderr dcv check --format json
	[ "$status" -eq 0 ]
	[ "$(grep -cE '^check: (bastion|gateway|dcv[1-6]) done \([1-8]/8 hosts done, 0 failed\)$' <<<"$stderr")" = 8 ]
}
