#!/usr/bin/env bats
# dcvctl check, probe and cert on the deployed lab (issue 5 "Tests", design §6): the
# checklist passes, each broken hop is diagnosed with the command that fixes it (and
# that command works), the CI formats, a held WebSocket, and a bastion that vanished.
# Needs root; under CI=true a test that cannot run fails instead of skipping.
# Every test puts back what it broke; the file starts by deploying (any lab state).

bats_require_minimum_version 1.5.0

load lab_helper
load e2e_helper

setup_file() {
	lab_setup_file
	[ ! -f "$BATS_FILE_TMPDIR/lab-missing" ] || return 0
	[ -x "$DCVCTL" ] || return 0
	e2e_restore_lab
	# The lab's own certificate pair, to put back after the certificate tests.
	"$LAB" exec gateway -- cat "$GW_CERT" >"$BATS_FILE_TMPDIR/cert.pem"
	"$LAB" exec gateway -- cat "$GW_KEY" >"$BATS_FILE_TMPDIR/key.pem"
}

teardown_file() {
	[ "$(id -u)" -ne 0 ] || [ ! -x "$DCVCTL" ] || e2e_restore_lab || true
}

setup() {
	lab_setup
	require_dcvctl
}

# check_json ARGS... -- run check --json; $output is the JSON document.
check_json() {
	run --separate-stderr dcv check --json "$@"
	echo "$output" | /usr/bin/python3 -c '
import json, sys
d = json.load(sys.stdin)
for c in d["checks"]:
    if c["status"] != "pass":
        print("%-5s %-28s %s" % (c["status"], c["id"], c["message"]))
print("diagnosis:", d["diagnosis"])' || true
}

# status_of ID -- the status of one check in $output
status_of() {
	pyjson "$output" "print(next(c['status'] for c in d['checks'] if c['id'] == '$1'))"
}

# Run the diagnosis' hint with the lab's inventory (it must start with "dcvctl ").
run_hint() {
	local hint
	hint=$(pyjson "$output" 'print(d["diagnosis"]["hint"])')
	[[ $hint == "dcvctl "* ]]
	# shellcheck disable=SC2086
	dcv ${hint#dcvctl }
}

# The SHA-256 fingerprint of a certificate file, or of what the gateway's 8443 serves.
fingerprint() {
	openssl x509 -noout -fingerprint -sha256 -in "$1" | cut -d= -f2
}
served_fingerprint() {
	openssl s_client -connect 198.18.0.11:8443 -servername "$(endpoint_host)" </dev/null 2>/dev/null |
		openssl x509 -noout -fingerprint -sha256 | cut -d= -f2
}
serves() {
	[ "$(served_fingerprint)" = "$1" ]
}

put_cert_pair() {  # put_cert_pair CERT KEY -- over the gateway's, then reload nginx
	lab_exec gateway sh -c "cat > $GW_CERT" <"$1"
	lab_exec gateway sh -c "cat > $GW_KEY" <"$2"
	lab_exec gateway systemctl reload nginx
	# `nginx -s reload` returns before the new workers serve: wait for them.
	wait_for 10 serves "$(fingerprint "$1")"
}

# ------------------------------------------------------------------ healthy

@test "after deploy check passes: exit 0, no failure and no diagnosis" {
	check_json
	[ "$status" -eq 0 ]
	pyjson "$output" '
s = d["summary"]
assert s["failed"] == 0 and s["errors"] == 0 and s["passed"] > 20, s
assert d["diagnosis"] == {"hop": None, "cause": None, "hint": None, "check": None, "fact": None}, d["diagnosis"]
ids = {c["id"] for c in d["checks"]}
for i in ("bastion.ssh", "gateway.ssh", "gateway.legacy-services", "gateway.proxy.service",
          "gateway.proxy.config", "gateway.proxy.listen", "gateway.cert",
          "gateway.to.dcv1.tcp", "gateway.to.dcv1.tls", "gateway.to.dcv1.http",
          "gateway.to.dcv2.http", "agent.dcv1.ssh", "agent.dcv1.sm-agent", "agent.dcv1.dcvserver",
          "agent.dcv1.config", "agent.dcv1.session", "agent.dcv2.session",
          "endpoint.tcp", "endpoint.tls", "endpoint.http", "endpoint.websocket"):
    assert i in ids, i
for c in d["checks"]:
    assert c["host"] and isinstance(c["duration_ms"], int) and c["message"], c
    assert (c["host"] == "endpoint") == c["id"].startswith("endpoint."), c'
}

# ------------------------------------------------------------------ broken hops

@test "with dcvserver stopped on dcv1 check exits 1 and diagnoses dcv1 with the start command" {
	lab_exec dcv1 systemctl stop dcvserver
	check_json
	[ "$status" -eq 1 ]
	[[ $(status_of agent.dcv1.dcvserver) =~ ^(fail|error)$ ]]
	[[ $(status_of gateway.to.dcv1.tcp) =~ ^(fail|error)$ ]]
	[[ $(status_of gateway.to.dcv1.tls) =~ ^(fail|error)$ ]]
	[[ $(status_of gateway.to.dcv1.http) =~ ^(fail|error)$ ]]
	[ "$(status_of agent.dcv2.dcvserver)" = pass ]
	pyjson "$output" '
g = d["diagnosis"]
assert g["hop"] == "dcv1" and "dcvserver" in g["cause"], g
assert g["hint"] == "dcvctl service start dcv1 dcvserver", g'
	# The hint is the fix.
	run_hint
	run lab_exec dcv1 systemctl is-active dcvserver
	[ "$output" = active ]
	check_json --only gateway.to.dcv1,agent.dcv1.dcvserver
	[ "$status" -eq 0 ]
}

@test "after dcvserver restarted the console session is back by itself (create-session) and check passes" {
	lab_exec dcv1 systemctl restart dcvserver
	# deploy set [session-management] create-session and the owner: dcvserver makes it at start
	run lab_exec dcv1 dcv list-sessions --json
	pyjson "$output" 'assert [(s["id"], s["owner"], s["type"]) for s in d] == [("console", "ubuntu", "console")], d'
	check_json
	[ "$status" -eq 0 ]
	[ "$(status_of agent.dcv1.session)" = pass ]
}

@test "with nginx stopped the diagnosis is at the gateway with the start command" {
	lab_exec gateway systemctl stop nginx
	check_json
	[ "$status" -eq 1 ]
	[ "$(status_of gateway.proxy.service)" = fail ]
	[[ $(status_of endpoint.tcp) =~ ^(fail|error)$ ]]
	[ "$(status_of agent.dcv1.dcvserver)" = pass ]
	pyjson "$output" '
g = d["diagnosis"]
assert g["hop"] == "gateway" and "nginx" in g["cause"], g
assert g["hint"] == "dcvctl service start gateway nginx", g'
	run_hint
	proxy_answers_101
	check_json
	[ "$status" -eq 0 ]
}

@test "closing the session makes agent.dcv1.session fail" {
	run dcv session close --agent dcv1
	[ "$status" -eq 0 ]
	run lab_exec dcv1 dcv list-sessions
	[ "$output" = "There are no sessions available." ]
	check_json --only agent.dcv1
	[ "$status" -eq 1 ]
	[ "$(status_of agent.dcv1.session)" = fail ]
	pyjson "$output" '
assert {c["id"] for c in d["checks"] if c["status"] != "pass" and c["status"] != "warn"} == {"agent.dcv1.session"}, d
assert d["diagnosis"]["hint"] == "dcvctl session create --agent dcv1", d["diagnosis"]'
	run dcv session create --agent dcv1
	[ "$status" -eq 0 ]
	check_json --only agent.dcv1
	[ "$status" -eq 0 ]
}

# ------------------------------------------------------------------ certificates

@test "a certificate without the endpoint name makes endpoint.tls fail, listing the SANs it has" {
	local d=$BATS_TEST_TMPDIR
	openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj /CN=wrong.example.com \
		-addext subjectAltName=DNS:wrong.example.com -keyout "$d/key.pem" -out "$d/cert.pem" 2>/dev/null
	lab_exec gateway sh -c "cp -p $GW_CERT $GW_CERT.e2e-orig && cp -p $GW_KEY $GW_KEY.e2e-orig"
	put_cert_pair "$d/cert.pem" "$d/key.pem"

	check_json --only endpoint
	[ "$status" -eq 1 ]
	[ "$(status_of endpoint.tls)" = fail ]
	pyjson "$output" '
c = next(c for c in d["checks"] if c["id"] == "endpoint.tls")
assert "DNS:wrong.example.com" in c["message"], c
g = d["diagnosis"]
assert g["hop"] == "endpoint" and g["hint"].startswith("dcvctl cert generate"), g'
	# cert check of the live endpoint agrees.
	run --separate-stderr dcv cert check --json
	[ "$status" -eq 1 ]
	pyjson "$output" 'assert d["sans"] == ["DNS:wrong.example.com"] and not d["coverage"][0]["covered"], d'

	put_cert_pair "$BATS_FILE_TMPDIR/cert.pem" "$BATS_FILE_TMPDIR/key.pem"
	lab_exec gateway rm -f "$GW_CERT.e2e-orig" "$GW_KEY.e2e-orig"
	check_json --only endpoint
	[ "$status" -eq 0 ]
	[ "$(status_of endpoint.tls)" = pass ]
}

@test "cert generate --install puts a self-signed pair for the endpoint name on the gateway" {
	local inv=$BATS_TEST_TMPDIR/dcvctl.conf
	# Without ca-file an untrusted chain is a warning, not a failure.
	grep -v '^ca-file' "$LAB_CONF" >"$inv"
	lab_exec gateway sh -c "cp -p $GW_CERT $GW_CERT.e2e-orig && cp -p $GW_KEY $GW_KEY.e2e-orig"
	run "$DCVCTL" -c "$inv" cert generate --out "$BATS_TEST_TMPDIR/pair" --install
	[ "$status" -eq 0 ]
	wait_for 10 serves "$(fingerprint "$BATS_TEST_TMPDIR/pair/cert.pem")"
	[ "$(stat -c %a "$BATS_TEST_TMPDIR/pair/key.pem")" = 600 ]
	cmp "$BATS_TEST_TMPDIR/pair/cert.pem" <(lab_exec gateway cat "$GW_CERT")
	run lab_exec gateway stat -c %a "$GW_KEY"
	[ "$output" = 600 ]
	run lab_exec gateway openssl x509 -in "$GW_CERT" -noout -ext subjectAltName
	[ "${lines[1]// /}" = "DNS:$(endpoint_host)" ]
	run --separate-stderr "$DCVCTL" -c "$inv" check --json --only endpoint
	[ "$status" -eq 0 ]
	[ "$(status_of endpoint.tls)" = warn ]
	[ "$(status_of endpoint.websocket)" = pass ]

	put_cert_pair "$BATS_FILE_TMPDIR/cert.pem" "$BATS_FILE_TMPDIR/key.pem"
	lab_exec gateway rm -f "$GW_CERT.e2e-orig" "$GW_KEY.e2e-orig"
	check_json --only endpoint.tls
	[ "$status" -eq 0 ]
}

@test "cert check --remote reads the gateway's certificate: SANs, key match and fingerprint as openssl sees them" {
	run --separate-stderr dcv cert check --remote "gateway:$GW_CERT" --json
	[ "$status" -eq 0 ]
	local fp
	fp=$(fingerprint "$BATS_FILE_TMPDIR/cert.pem")
	FP=$fp E=$(endpoint_host) pyjson "$output" '
import os
assert d["sans"] == ["DNS:" + os.environ["E"]], d
assert d["key_match"] is True and d["chain_verified"] is True, d
assert d["fingerprint_sha256"] == os.environ["FP"], (d["fingerprint_sha256"], os.environ["FP"])'
}

# ------------------------------------------------------------------ probes

@test "probe ws --hold 25s --interval 5s keeps the WebSocket open and gets at least 4 pongs" {
	run --separate-stderr dcv probe ws --hold 25s --interval 5s --json
	[ "$status" -eq 0 ]
	pyjson "$output" '
assert d["status"] == 101 and d["accept_ok"] is True, d
h = d["hold"]
assert h["failure"] is None and h["held_ms"] >= 25000 and h["pongs"] >= 4, h
assert h["pongs"] == h["pings_sent"], h'
}

# ------------------------------------------------------------------ formats and selection

@test "the JUnit report is well-formed XML with one testsuite per host" {
	run --separate-stderr dcv check --format junit
	[ "$status" -eq 0 ]
	xmllint --noout - <<<"$output"
	[ "$(xmllint --xpath 'count(//testsuite)' - <<<"$output")" = 5 ]
	[ "$(xmllint --xpath 'count(//testcase[@classname="dcvctl.dcv1"])' - <<<"$output")" -ge 5 ]
	[ "$(xmllint --xpath 'count(//failure|//error)' - <<<"$output")" = 0 ]
}

@test "the TAP report starts with TAP version 13 and has a plan matching its test lines" {
	run --separate-stderr dcv check --format tap
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "TAP version 13" ]
	[[ ${lines[1]} =~ ^1\.\.([0-9]+)$ ]]
	local n=${BASH_REMATCH[1]}
	[ "$(grep -cE '^(not )?ok [0-9]+ ' <<<"$output")" -eq "$n" ]
	[ "$(grep -c '^not ok' <<<"$output")" -eq 0 ]
}

@test "the Prometheus report has dcvctl_check_healthy 1 for every check when healthy" {
	run --separate-stderr dcv check --format prometheus
	[ "$status" -eq 0 ]
	grep -q '^# TYPE dcvctl_check_healthy gauge$' <<<"$output"
	grep -q '^dcvctl_check_healthy{id="endpoint.websocket",host="endpoint"} 1$' <<<"$output"
	[ "$(grep -c '^dcvctl_check_healthy{' <<<"$output")" -gt 20 ]
	[ "$(grep '^dcvctl_check_healthy{' <<<"$output" | grep -vc ' 1$')" -eq 0 ]
}

@test "check --output FILE writes the report there and nothing on stdout" {
	mkdir "$BATS_TEST_TMPDIR/out"
	local f=$BATS_TEST_TMPDIR/out/report.json
	run --separate-stderr dcv check --format json --output "$f"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	/usr/bin/python3 -c 'import json, sys; assert json.load(open(sys.argv[1]))["summary"]["failed"] == 0' "$f"
	# Written atomically: no temporary file left beside it.
	run ls -A "$BATS_TEST_TMPDIR/out"
	[ "$output" = report.json ]
}

@test "check --only endpoint runs only the endpoint.* rows, --skip leaves rows out" {
	check_json --only endpoint
	[ "$status" -eq 0 ]
	pyjson "$output" '
ids = sorted(c["id"] for c in d["checks"])
assert ids == ["endpoint.http", "endpoint.tcp", "endpoint.tls", "endpoint.websocket"], ids'
	check_json --skip endpoint,agent
	[ "$status" -eq 0 ]
	pyjson "$output" '
ids = [c["id"] for c in d["checks"]]
assert ids and not any(i.startswith(("endpoint.", "agent.")) for i in ids), ids'
}

# ------------------------------------------------------------------ the bastion

@test "with the bastion's links down check ends within the timeouts and the diagnosis names the bastion" {
	lab_exec bastion ip link set eth0 down
	lab_exec bastion ip link set eth1 down
	local t0=$SECONDS
	check_json
	local took=$((SECONDS - t0))
	lab_exec bastion ip link set eth0 up
	lab_exec bastion ip link set eth1 up
	echo "check took $took s"
	[ "$took" -lt 60 ]
	[ "$status" -eq 1 ]
	[[ $(status_of bastion.ssh) =~ ^(fail|error)$ ]]
	pyjson "$output" '
g = d["diagnosis"]
assert g["hop"] == "bastion", g
for h in ("gateway", "dcv1", "dcv2"):
    assert h in g["cause"], (h, g)'
	# The gateway's 8443 does not go through the bastion: the endpoint still answered.
	[ "$(status_of endpoint.websocket)" = pass ]

	wait_for 20 lab_ssh bastion true
	check_json
	[ "$status" -eq 0 ]
}
