#!/usr/bin/env bats
# proxy = connection-gateway and `broker enable-gateway` as dry runs (issue 9 items 1-3), against
# one real OpenSSH sshd on 127.0.0.1 playing gateway, broker and agent. Stub `systemctl`, `dcv`,
# `dcv-session-manager-broker` and `dcv-connection-gateway` come first on the sessions' PATH:
# they answer state queries (every unit stopped and disabled, no sessions, no DNS mappings)
# and log every other call, so "changes nothing" is that log staying empty. The lab runs the
# real switch (tests/e2e/gateway.bats).

bats_require_minimum_version 1.5.0

load sshd_helper

setup_file() {
	sshd_dcvctl_init
	[ -z "${SSHD_SKIP:-}" ] || return 0
	client_key ed25519 ed25519
	cat >"$SSHD_DIR/fakebin/systemctl" <<-EOF
		#!/bin/sh
		if [ "\$1" = show ]; then
		    seen=
		    for a in "\$@"; do
		        [ -n "\$seen" ] && printf 'Id=%s\nLoadState=loaded\nActiveState=inactive\nUnitFileState=disabled\n\n' "\$a"
		        [ "\$a" = -- ] && seen=1
		    done
		    exit 0
		fi
		echo "systemctl \$*" >>"$SSHD_DIR/ACTIONS"
	EOF
	cat >"$SSHD_DIR/fakebin/dcv" <<-EOF
		#!/bin/sh
		if [ "\$1" = list-sessions ]; then
		    echo '[]'
		    exit 0
		fi
		echo "dcv \$*" >>"$SSHD_DIR/ACTIONS"
	EOF
	cat >"$SSHD_DIR/fakebin/dcv-session-manager-broker" <<-EOF
		#!/bin/sh
		if [ "\$1" = describe-server-dns-mappings ]; then
		    echo '[]'
		    exit 0
		fi
		echo "dcv-session-manager-broker \$*" >>"$SSHD_DIR/ACTIONS"
	EOF
	printf '#!/bin/sh\necho "dcv-connection-gateway $*" >>"%s/ACTIONS"\n' "$SSHD_DIR" >"$SSHD_DIR/fakebin/dcv-connection-gateway"
	chmod 755 "$SSHD_DIR"/fakebin/*
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj /CN=gw.test \
		-keyout "$SSHD_DIR/gw.key" -out "$SSHD_DIR/gw.pem" 2>/dev/null
	read -r T_PORT <<<"$(free_ports 1)"
	export T_PORT
	sshd_start target "$T_PORT"
}

teardown_file() {
	sshd_stop_all
}

setup() {
	[ -z "${SSHD_SKIP:-}" ] || skip "$SSHD_SKIP"
	[ ! -e /etc/dcv-session-manager-broker ] || skip "this machine has a Session Manager broker: the plan would depend on it"
	[ ! -e /etc/dcv/dcv.conf ] || skip "this machine has /etc/dcv/dcv.conf: the plan would depend on it"
	INV="$BATS_TEST_TMPDIR/dcvctl.conf"
	rm -f "$SSHD_DIR/ACTIONS"
	{
		plan_inventory_head
		echo "proxy = connection-gateway"
		echo "cert = $SSHD_DIR/gw.pem"
		echo "key = $SSHD_DIR/gw.key"
		echo "[agent dcv1]"
		echo "address = 127.0.0.1"
		echo "ssh = 127.0.0.1:$T_PORT"
		echo "user = root"
		echo "session = dcv1"
		echo "[maintenance]"
		echo "logrotate = no"
		echo "health-restart = no"
		echo "[broker]"
		echo "name = broker.test"
	} >"$INV"
}

step() { # step HOST NAME FIELD: one field of one step of the JSON in $output
	json "[s['$3'] for s in d['steps'] if s['host'] == '$1' and s['step'] == '$2'][0]"
}

@test "broker enable-gateway --dry-run plans the gateway connector and a start, and runs nothing" {
	run --separate-stderr timeout 60 "$DCVCTL" -c "$INV" --json broker enable-gateway --dry-run
	expect_status 0
	[ "$(json '[(s["step"], s["status"]) for s in d["steps"]]')" = "[('broker-installed', 'ok'), ('broker.properties', 'changed'), ('broker', 'changed'), ('resolver-port', 'ok')]" ]
	[ "$(step gateway broker detail)" = "would start dcv-session-manager-broker" ]
	[ "$(step gateway broker reason)" = "the broker is not running" ]
	[[ "$(step gateway broker.properties diff)" == *"+enable-gateway = true"* ]]
	[[ "$(step gateway broker.properties diff)" == *"+gateway-to-broker-connector-https-port = 8447"* ]]
	[[ "$(step gateway broker.properties diff)" == *"+enable-tls-client-auth-gateway = false"* ]]
	[ "$(step gateway resolver-port detail)" = "would check that the broker's gateway connector listens on 8447" ]
	[ ! -e "$SSHD_DIR/ACTIONS" ]
}

@test "broker enable-gateway --tls-client-auth without gen-gateway-certificates.sh fails and names it" {
	run --separate-stderr timeout 60 "$DCVCTL" -c "$INV" --json broker enable-gateway --tls-client-auth --dry-run
	expect_status 1
	[ "$(step gateway gateway-certs status)" = failed ]
	[ "$(step gateway gateway-certs detail)" = "/usr/share/dcv-session-manager-broker/bin/gen-gateway-certificates.sh is missing on gateway: it comes with the Session Manager broker package" ]
	[ ! -e "$SSHD_DIR/ACTIONS" ]
}

@test "deploy --dry-run with proxy = connection-gateway plans broker, gateway, agent and the resolver wait" {
	run --separate-stderr timeout 60 "$DCVCTL" -c "$INV" deploy --dry-run --json
	expect_status 0
	[ "$(json '[s["step"] for s in d["steps"] if s["host"] == "gateway"]')" = "['broker-installed', 'broker.properties', 'broker', 'resolver-port', 'package', 'cert', 'broker-ca', 'config', 'legacy', 'service', 'listen', 'logrotate', 'health', 'resolver']" ]
	[ "$(json '[s["step"] for s in d["steps"] if s["host"] == "dcv1"]')" = "['sm-agent', 'dcv.conf', 'dcvserver', 'session', 'logrotate']" ]
	[ "$(step gateway broker-ca detail)" = "would copy /var/lib/dcvsmbroker/security/dcvsmbroker_ca.pem from gateway once the broker has made it" ]
	[[ "$(step gateway config detail)" == "would write /etc/dcv-connection-gateway/dcv-connection-gateway.conf (linted: no errors; the gateway has no config test)" ]]
	[[ "$(step gateway config diff)" == *'+url = "https://broker.test:8447"'* ]]
	[[ "$(step gateway config diff)" == *'+ca-file = "/etc/dcv-connection-gateway/dcvsmbroker_ca.pem"'* ]]
	[ "$(step gateway service detail)" = "would start and enable dcv-connection-gateway" ]
	[ "$(step gateway resolver detail)" = "would register missing DNS mappings on gateway and wait for https://broker.test:8447 to resolve 'dcv1' (dcv1)" ]
	[ "$(step dcv1 sm-agent detail)" = "would start and enable dcv-session-manager-agent" ]
	[[ "$(step dcv1 dcv.conf diff)" == *'+auth-token-verifier="https://broker.test:8445/agent/validate-authentication-token"'* ]]
	[[ "$(step dcv1 dcv.conf diff)" == *'+administrators=["dcvsmagent"]'* ]]
	[ "$(json 'd["summary"]["failed"]')" = 0 ]
	[ ! -e "$SSHD_DIR/ACTIONS" ]
}

@test "deploy --dry-run with an IP for the broker and no [broker] name says what to set" {
	sed -i '/^name = broker.test$/d' "$INV"
	run --separate-stderr timeout 60 "$DCVCTL" -c "$INV" deploy --dry-run --only gateway --json
	expect_status 1
	[ "$(step gateway config status)" = failed ]
	[[ "$(step gateway config detail)" == *"set 'name = broker.example.internal' in [broker]"* ]]
	[ ! -e "$SSHD_DIR/ACTIONS" ]
}
