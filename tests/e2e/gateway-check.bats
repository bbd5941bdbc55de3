#!/usr/bin/env bats
# check with proxy = connection-gateway on the lab (issue 9 item 3): the broker.* and
# gateway.resolver.* rows pass on a deployed lab; a session closed on dcv1 fails
# gateway.resolver.session.dcv1 with the session diagnosis; a stopped broker fails the broker
# rows and the diagnosis names the broker, not the agents. Needs root; under CI=true a test that
# cannot run fails. The tests run in order on one lab, which the file leaves deployed with nginx.

bats_require_minimum_version 1.5.0

load lab_helper
load e2e_helper

setup_file() {
	lab_setup_file
	if can_drive_lab; then
		# the resolver finds a session by id alone: ids unique across agents (issue 9)
		sed -e 's/^proxy = .*/proxy = connection-gateway/' -e 's/^\[agent \(dcv[0-9]*\)\]$/&\nsession = \1/' \
			"$LAB_CONF" >"$BATS_FILE_TMPDIR/gw.conf"
		"$DCVCTL" -c "$BATS_FILE_TMPDIR/gw.conf" deploy >/dev/null 2>&1 || true
	fi
}

teardown_file() {
	if can_drive_lab; then
		"$LAB" exec "$(broker_host)" -- systemctl start dcv-session-manager-broker >/dev/null 2>&1 || true
		"$DCVCTL" -c "$LAB_CONF" session create --agent dcv1 >/dev/null 2>&1 || true
		"$DCVCTL" -c "$LAB_CONF" deploy --proxy nginx >/dev/null 2>&1 || true
	fi
}

setup() {
	lab_setup
	require_dcvctl
	GW_CONF=$BATS_FILE_TMPDIR/gw.conf
}

dcvgw() {
	"$DCVCTL" -c "$GW_CONF" "$@"
}

# The [broker] host of the lab's inventory (default: the gateway).
broker_host() {
	local h
	h=$(sed -n '/^\[broker\]/,/^\[/s/^host *= *//p' "$LAB_CONF" | head -1)
	echo "${h:-gateway}"
}

# check --only IDS as JSON, retried while the row has not reached STATUS: the broker learns
# (and forgets) sessions from the agents' reports, which come at intervals.
check_until() {  # check_until IDS ID STATUS
	local i
	for i in $(seq 1 30); do
		output=$(dcvgw check --only "$1" --format json 2>/dev/null) || true
		pyjson "$output" "
c = {x['id']: x for x in d['checks']}
assert c['$2']['status'] == '$3'" 2>/dev/null && return 0
		sleep 2
	done
	echo "$2 never reached $3: $output" >&2
	return 1
}

@test "check passes with proxy = connection-gateway, the broker and resolver rows included" {
	check_until broker,gateway,agent,endpoint gateway.resolver.session.dcv1 pass
	run --separate-stderr dcvgw check --format json
	[ "$status" -eq 0 ]
	pyjson "$output" '
c = {x["id"]: x for x in d["checks"]}
for i in ("broker.service", "broker.enable-gateway", "broker.listen", "gateway.resolver.tls",
          "gateway.resolver.session.dcv1", "gateway.resolver.session.dcv2", "agent.dcv1.sm-agent",
          "gateway.legacy-services", "endpoint.websocket"):
    assert c[i]["status"] == "pass", c[i]
assert c["gateway.resolver.mtls"]["status"] in ("pass", "skip"), c["gateway.resolver.mtls"]
assert c["broker.service"]["host"] == "broker", c["broker.service"]
assert d["diagnosis"]["hop"] is None, d["diagnosis"]'
}

@test "a session closed on dcv1 fails gateway.resolver.session.dcv1 with the session diagnosis" {
	run dcvgw session close --agent dcv1
	[ "$status" -eq 0 ]
	check_until gateway.resolver.session.dcv1 gateway.resolver.session.dcv1 fail
	pyjson "$output" '
dg = d["diagnosis"]
assert dg["check"] == "gateway.resolver.session.dcv1", dg
assert dg["hop"] == "dcv1", dg
assert dg["fact"]["kind"] == "session-missing", dg
assert dg["hint"] == "dcvctl session create --agent dcv1", dg'
	# the whole check names the agent's session too
	run --separate-stderr dcvgw check --format json
	[ "$status" -ne 0 ]
	pyjson "$output" '
c = {x["id"]: x for x in d["checks"]}
assert c["gateway.resolver.session.dcv1"]["status"] == "fail", c["gateway.resolver.session.dcv1"]
assert c["gateway.resolver.session.dcv2"]["status"] == "pass", c["gateway.resolver.session.dcv2"]
assert d["diagnosis"]["hop"] == "dcv1", d["diagnosis"]
assert "session create --agent dcv1" in d["diagnosis"]["hint"], d["diagnosis"]'
	run dcvgw session create --agent dcv1
	[ "$status" -eq 0 ]
	check_until gateway.resolver.session.dcv1 gateway.resolver.session.dcv1 pass
}

@test "a stopped broker fails the broker rows and the diagnosis names the broker, not the agents" {
	run lab_exec "$(broker_host)" systemctl stop dcv-session-manager-broker
	[ "$status" -eq 0 ]
	run --separate-stderr dcvgw check --format json
	[ "$status" -ne 0 ]
	pyjson "$output" '
c = {x["id"]: x for x in d["checks"]}
assert c["broker.service"]["status"] == "fail", c["broker.service"]
assert c["broker.listen"]["status"] == "fail", c["broker.listen"]
assert c["gateway.resolver.session.dcv1"]["status"] == "fail", c["gateway.resolver.session.dcv1"]
dg = d["diagnosis"]
assert dg["hop"] == "broker", dg
assert dg["check"] == "broker.service", dg
assert dg["fact"]["kind"] == "unit-stopped", dg
assert "dcv-session-manager-broker" in dg["hint"], dg'
	run lab_exec "$(broker_host)" systemctl start dcv-session-manager-broker
	[ "$status" -eq 0 ]
	# without enable-persistence the broker forgets its DNS mappings on restart (reference §5.3):
	# once the agents have reported again, the diagnosis names the missing mapping, and deploy
	# registers it again
	check_until broker,gateway.resolver,agent.dcv1 broker.service pass
	run --separate-stderr dcvgw check --only broker,gateway.resolver --format json
	[ "$status" -eq 1 ]
	pyjson "$output" '
dg = d["diagnosis"]
assert dg["hop"] == "dcv1", dg
assert dg["fact"]["kind"] == "no-dns-mapping", dg
assert dg["hint"] == "dcvctl deploy --only dcv1", dg'
	run --separate-stderr dcvgw deploy
	[ "$status" -eq 0 ]
	check_until broker,gateway.resolver gateway.resolver.session.dcv1 pass
	check_until broker,gateway.resolver gateway.resolver.session.dcv2 pass
}
