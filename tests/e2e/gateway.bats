#!/usr/bin/env bats
# Seed 004 on the lab (issue 9): the Session Manager broker as Session Resolver for the
# Connection Gateway. bypass (nginx) -> connection-gateway -> mTLS on -> bypass, each with a
# WebSocket 101 through the gateway's 8443 from an independent client (tests/lab/tools/
# wsprobe.py) carrying the session id the way the lab's gateway takes it (the `sessionId` query
# parameter: the web client's `#<sessionId>` fragment never reaches a server, reference §4.1).
# The lab's own inventory keeps `console` on every agent for the bypass runs; this file uses a
# variant with one session id per agent, which this mode requires (the resolver looks a session
# up by its id alone). Needs root; under CI=true a test that cannot run fails. The tests run in
# order on a fresh lab, which the file leaves deployed with nginx and the lab's own inventory.

bats_require_minimum_version 1.5.0

load lab_helper
load e2e_helper

PROPS=/etc/dcv-session-manager-broker/session-manager-broker.properties
GW_CA=/etc/dcv-connection-gateway/dcvsmbroker_ca.pem
GW_CC=/etc/dcv-connection-gateway/dcv_gateway_cert.pem
GW_CK=/etc/dcv-connection-gateway/dcv_gateway_key.pem
CREDS=/etc/dcv-session-manager-broker/resolver-creds

# The sha256 of a file on the gateway; fails when the file is not there (never an empty match).
gw_sha() {
	local out
	out=$(lab_exec gateway sha256sum "$1") || return 1
	echo "${out%% *}"
}
BROKER_PID=/run/labsim/pids/dcv-session-manager-broker.pid
GATEWAY_PID=/run/labsim/pids/dcv-connection-gateway.pid
RESOLVER=https://broker.dcvlab.internal:8447

setup_file() {
	# a fresh lab: the broker's properties, mappings and client credentials as the seed has them
	# (gateway-check.bats, which runs before, turns enable-gateway on)
	if [ -z "$(lab_missing)" ]; then
		"$LAB" down >/dev/null 2>&1 || true
	fi
	lab_setup_file
	# then the bypass, as deploy.bats leaves it: the first test starts from there
	if can_drive_lab; then
		"$DCVCTL" -c "$LAB_CONF" deploy >/dev/null 2>&1 || true
	fi
}

teardown_file() {
	if can_drive_lab; then
		"$DCVCTL" -c "$LAB_CONF" deploy --proxy nginx >/dev/null 2>&1 || true
	fi
}

setup() {
	lab_setup
	require_dcvctl
	# one session id per agent; the proxy kind comes from --proxy
	CG_CONF=$BATS_FILE_TMPDIR/cg.conf
	MTLS_CONF=$BATS_FILE_TMPDIR/cg-mtls.conf
	sed -e 's/^\[agent \(dcv[0-9]*\)\]$/&\nsession = \1/' "$LAB_CONF" >"$CG_CONF"
	sed -e 's/^\[broker\]$/&\ntls-client-auth = yes/' "$CG_CONF" >"$MTLS_CONF"
}

cg() {
	"$DCVCTL" -c "$CG_CONF" "$@"
}

mtls() {
	"$DCVCTL" -c "$MTLS_CONF" "$@"
}

# The process that holds the gateway's 8443.
holder() {
	lab_exec gateway ss -Hltnp 'sport = :8443' | sed -n 's/.*users:(("\([^"]*\)".*/\1/p' | head -1
}

unit_state() {  # unit_state HOST UNIT -> "active enabled"
	echo "$(lab_exec "$1" systemctl is-active "$2") $(lab_exec "$1" systemctl is-enabled "$2")"
}

step() {  # step HOST NAME FIELD: one field of one step of the deploy JSON in $output
	pyjson "$output" "print([s['$3'] for s in d['steps'] if s['host'] == '$1' and s['step'] == '$2'][0])"
}

summary() {  # summary FIELD
	pyjson "$output" "print(d['summary']['$1'])"
}

# A WebSocket upgrade through the gateway's 8443 for session $1 (or none): the status line.
ws_status() {
	/usr/bin/python3 "$LAB_ROOT/tools/wsprobe.py" 198.18.0.11 8443 "/${1:+?sessionId=$1}" \
		"https://$(endpoint_host)" 0 | sed -n 1p
}

ws_accept() {
	/usr/bin/python3 "$LAB_ROOT/tools/wsprobe.py" 198.18.0.11 8443 "/${1:+?sessionId=$1}" \
		"https://$(endpoint_host)" 0 | sed -n 2p
}

# POST /resolveSession from the gateway, as the gateway asks: the HTTP status (000: no answer).
resolve_from_gateway() {  # resolve_from_gateway SESSION [CURL ARGS...]
	local sid=$1
	shift
	lab_exec gateway curl -s -o /dev/null -w '%{http_code}' -m 5 -X POST --cacert "$GW_CA" "$@" \
		"$RESOLVER/resolveSession?sessionId=$sid&transport=HTTP" || true
}

trust_store_pass() {
	lab_exec gateway sed -n 's/^gateway-to-broker-connector-trust-store-pass *= *//p' "$PROPS"
}

@test "the bypass with one session id per agent: nginx holds 8443 and a WebSocket gets 101" {
	run --separate-stderr cg deploy --proxy nginx --json
	[ "$status" -eq 0 ]
	[ "$(summary failed)" = 0 ]
	[ "$(holder)" = nginx ]
	[ "$(ws_status dcv1)" = "status 101" ]
	[ "$(ws_accept dcv1)" = "accept $WS_RFC_ACCEPT" ]
	[ "$(unit_state gateway dcv-session-manager-broker)" = "inactive disabled" ]
	[ "$(unit_state dcv1 dcv-session-manager-agent)" = "inactive disabled" ]
}

@test "deploy --proxy connection-gateway --dry-run plans the switch and changes nothing" {
	local before
	before=$(host_digest gateway /etc/dcv-connection-gateway)
	run --separate-stderr cg deploy --proxy connection-gateway --dry-run --json
	[ "$status" -eq 0 ]
	[ "$(step gateway broker.properties status)" = changed ]
	[ "$(step gateway config status)" = changed ]
	[ "$(step gateway legacy status)" = changed ]
	[ "$(step dcv1 sm-agent detail)" = "would start and enable dcv-session-manager-agent" ]
	[ "$(holder)" = nginx ]
	[ "$(host_digest gateway /etc/dcv-connection-gateway)" = "$before" ]
	[ "$(unit_state gateway dcv-session-manager-broker)" = "inactive disabled" ]
}

@test "nginx -> connection-gateway: the broker resolves every session and a WebSocket through the gateway gets 101" {
	run --separate-stderr cg deploy --proxy connection-gateway --json
	[ "$status" -eq 0 ]
	[ "$(summary failed)" = 0 ]
	[ "$(holder)" = dcv-connection- ]
	[ "$(unit_state gateway dcv-connection-gateway)" = "active enabled" ]
	[ "$(unit_state gateway dcv-session-manager-broker)" = "active enabled" ]
	[ "$(unit_state gateway nginx)" = "inactive disabled" ]
	[ "$(unit_state dcv1 dcv-session-manager-agent)" = "active enabled" ]
	[ "$(unit_state dcv2 dcv-session-manager-agent)" = "active enabled" ]
	[ "$(step gateway resolver status)" = ok ]
	[ "$(step gateway resolver detail)" = "$RESOLVER resolves every session (2) from the gateway" ]
	[ "$(step gateway dns-mappings status)" = changed ]
	run lab_exec gateway grep -cx 'enable-gateway = true' "$PROPS"
	[ "$output" = 1 ]
	[ "$(gw_sha "$GW_CA")" = "$(gw_sha /var/lib/dcvsmbroker/security/dcvsmbroker_ca.pem)" ]
	run lab_exec dcv1 grep -c '^auth-token-verifier="https://broker.dcvlab.internal:8445/agent/validate-authentication-token"$' /etc/dcv/dcv.conf
	[ "$output" = 1 ]
	run lab_exec dcv1 grep -c '^administrators=\["dcvsmagent"\]$' /etc/dcv/dcv.conf
	[ "$output" = 1 ]
	[ "$(resolve_from_gateway dcv1)" = 200 ]
	[ "$(resolve_from_gateway dcv2)" = 200 ]
	[ "$(resolve_from_gateway no-such-session)" = 404 ]
	[ "$(ws_status dcv1)" = "status 101" ]
	[ "$(ws_accept dcv1)" = "accept $WS_RFC_ACCEPT" ]
	[ "$(ws_status dcv2)" = "status 101" ]
}

@test "[broker] tls-client-auth = yes: the resolver refuses a client without the gateway's certificate" {
	run --separate-stderr mtls deploy --proxy connection-gateway --json
	[ "$status" -eq 0 ]
	[ "$(summary failed)" = 0 ]
	[ "$(step gateway gateway-certs status)" = changed ]
	[ "$(step gateway broker status)" = changed ]
	[ "$(step gateway client-key status)" = changed ]
	[ "$(lab_exec gateway stat -c '%a %U' "$GW_CK")" = "600 root" ]
	[ "$(gw_sha "$GW_CC")" = "$(gw_sha "$CREDS/dcv_gateway_cert.pem")" ]
	run lab_exec gateway grep -cx 'enable-tls-client-auth-gateway = true' "$PROPS"
	[ "$output" = 1 ]
	[ "$(resolve_from_gateway dcv1)" = 000 ]
	[ "$(resolve_from_gateway dcv1 --cert "$GW_CC" --key "$GW_CK")" = 200 ]
	[ "$(ws_status dcv1)" = "status 101" ]
	[ "$(ws_accept dcv1)" = "accept $WS_RFC_ACCEPT" ]
}

@test "a second deploy with mTLS changes nothing: no regeneration, no restart" {
	local broker gw cert
	broker=$(lab_exec gateway cat "$BROKER_PID")
	gw=$(lab_exec gateway cat "$GATEWAY_PID")
	cert=$(gw_sha "$CREDS/dcv_gateway_cert.pem")
	run --separate-stderr mtls deploy --proxy connection-gateway --json
	[ "$status" -eq 0 ]
	[ "$(summary changed)" = 0 ]
	[ "$(summary failed)" = 0 ]
	[ "$(step gateway gateway-certs detail)" = "client credentials in $CREDS kept (not regenerated)" ]
	[ "$(step gateway broker detail)" = "dcv-session-manager-broker active, properties unchanged" ]
	[ "$(lab_exec gateway cat "$BROKER_PID")" = "$broker" ]
	[ "$(lab_exec gateway cat "$GATEWAY_PID")" = "$gw" ]
	[ "$(gw_sha "$CREDS/dcv_gateway_cert.pem")" = "$cert" ]
}

@test "the trust-store password appears in no output: deploy, -v, --dry-run diffs, broker enable-gateway, check" {
	local pw
	pw=$(trust_store_pass)
	[ "${#pw}" -ge 8 ]
	# a repeated key: the merge drops the repeat, so the diff shows the password's line
	lab_exec gateway sed -i '/^gateway-to-broker-connector-trust-store-pass/p' "$PROPS"
	run mtls -v deploy --proxy connection-gateway --dry-run
	[ "$status" -eq 0 ]
	[[ $output == *'trust-store-pass = <redacted>'* ]]
	[[ $output != *"$pw"* ]]
	run mtls -v deploy --proxy connection-gateway --json
	[ "$status" -eq 0 ]
	[[ $output != *"$pw"* ]]
	run lab_exec gateway grep -c '^gateway-to-broker-connector-trust-store-pass' "$PROPS"
	[ "$output" = 1 ]
	run mtls broker enable-gateway --dry-run
	[ "$status" -eq 0 ]
	[[ $output != *"$pw"* ]]
	run mtls --json check
	[[ $output != *"$pw"* ]]
	run mtls check --format junit
	[[ $output != *"$pw"* ]]
}

@test "connection-gateway -> nginx: the bypass again, nginx holds 8443, 101, broker and gateway stopped" {
	run --separate-stderr cg deploy --proxy nginx --json
	[ "$status" -eq 0 ]
	[ "$(summary failed)" = 0 ]
	[ "$(holder)" = nginx ]
	[ "$(ws_status dcv1)" = "status 101" ]
	[ "$(ws_accept dcv1)" = "accept $WS_RFC_ACCEPT" ]
	[ "$(unit_state gateway dcv-connection-gateway)" = "inactive disabled" ]
	[ "$(unit_state gateway dcv-session-manager-broker)" = "inactive disabled" ]
	[ "$(unit_state dcv1 dcv-session-manager-agent)" = "inactive disabled" ]
	run lab_exec dcv1 grep -c '^auth-token-verifier' /etc/dcv/dcv.conf
	[ "$output" = 0 ]
}

# The broker's CLI on the gateway (sudo's secure_path finds /usr/local/sbin first) refuses to
# register DNS mappings: the broker, freshly started, then never resolves a session.
break_dns_mappings() {
	lab_exec gateway sh -c "cat > /usr/local/sbin/dcv-session-manager-broker <<'EOS'
#!/bin/sh
case \" \$* \" in *' register-server-dns-mappings '*) echo 'e2e: refused' >&2; exit 3 ;; esac
exec /usr/bin/dcv-session-manager-broker \"\$@\"
EOS
chmod 755 /usr/local/sbin/dcv-session-manager-broker"
}

@test "a resolver that never names the sessions: deploy goes back to nginx, the agents off the broker, exit 1" {
	[ "$(holder)" = nginx ]
	break_dns_mappings
	run --separate-stderr cg deploy --proxy connection-gateway --json
	lab_exec gateway rm -f /usr/local/sbin/dcv-session-manager-broker
	[ "$status" -eq 1 ]
	[ "$(step gateway dns-mappings status)" = failed ]
	[ "$(step gateway rollback status)" = changed ]
	[[ "$(step gateway rollback detail)" == *"back to nginx, which served before"* ]]
	# the path serves as before the run: nginx on 8443, 101 through it, the broker and gateway off
	[ "$(holder)" = nginx ]
	[ "$(ws_status dcv1)" = "status 101" ]
	[ "$(unit_state gateway dcv-connection-gateway)" = "inactive disabled" ]
	[ "$(unit_state gateway nginx)" = "active enabled" ]
	[ "$(unit_state dcv1 dcv-session-manager-agent)" = "inactive disabled" ]
	run lab_exec dcv1 grep -c '^auth-token-verifier' /etc/dcv/dcv.conf
	[ "$output" = 0 ]
	run --separate-stderr cg deploy --proxy nginx --json
	[ "$status" -eq 0 ]
	[ "$(summary changed)" = 0 ]
}
