#!/usr/bin/env bats
# proxy = connection-gateway deployed for real without the lab (issue 9 items 1, 2): gateway,
# Session Manager broker and one agent on one private host -- a mount and network namespace of
# this file's own, where /etc, /usr, /var and /run are overlays -- running the lab's simulators
# (tests/lab/sim) under the lab's systemctl, reached by dcvctl through a real sshd on the
# namespace's 127.0.0.1. Nothing is visible outside the namespace, and teardown stops every
# process in it. The agent's web-port is 8444, since the gateway holds 8443 on the same host.
# Gateway and agent share one lock, so the gateway and the agents deploy as two runs (--only).
# The full switch with several hosts is tests/e2e/gateway.bats on the lab.

bats_require_minimum_version 1.5.0

load sshd_helper

SIM=$BATS_TEST_DIRNAME/../lab/sim
SKEL=$BATS_TEST_DIRNAME/../lab/skel
WSPROBE=$BATS_TEST_DIRNAME/../lab/tools/wsprobe.py
PROPS=/etc/dcv-session-manager-broker/session-manager-broker.properties
CREDS=/etc/dcv-session-manager-broker/resolver-creds
GW_CA=/etc/dcv-connection-gateway/dcvsmbroker_ca.pem
GW_CC=/etc/dcv-connection-gateway/dcv_gateway_cert.pem
GW_CK=/etc/dcv-connection-gateway/dcv_gateway_key.pem
RESOLVER=https://broker.ns.test:8447
SSH_PORT=2200

# What this file needs beyond sshd_helper's root: "" when all is there.
ns_missing() {
	local t
	for t in unshare nsenter openssl curl ss ip; do
		command -v "$t" >/dev/null || { echo "$t"; return; }
	done
	/usr/bin/python3 -c 'import websockify' 2>/dev/null || echo "python3-websockify (scripts/deps)"
}

# Run in the namespace.
ns() {
	nsenter -t "$(cat "$SSHD_DIR/ns.pid")" -m -n "$@"
}

# The namespace's file systems, as the lab builds a gateway and an agent (tests/lab/lab).
ns_build() {
	set -e
	ip link set lo up
	mount -t tmpfs tmpfs "$SSHD_DIR/ov"
	for d in etc var usr run; do
		mkdir -p "$SSHD_DIR/ov/$d/u" "$SSHD_DIR/ov/$d/w"
		mount -t overlay overlay -o "lowerdir=/$d,upperdir=$SSHD_DIR/ov/$d/u,workdir=$SSHD_DIR/ov/$d/w" "/$d"
	done
	mkdir -p /usr/lib/dcvctl-lab /run/labsim/pids /run/sshd /var/lib/dcvsmbroker /var/log/dcv \
		/var/log/dcv-session-manager-broker /var/log/dcv-connection-gateway /var/lib/dcv \
		/var/lib/dcv-session-manager-agent/init /etc/dcv-session-manager-agent/tags \
		/var/log/dcv-session-manager-agent /etc/systemd/system/multi-user.target.wants \
		/usr/share/dcv-session-manager-broker/bin
	cp -a "$SIM/." /usr/lib/dcvctl-lab/
	rm -f /usr/lib/systemd/system/dcv*.service
	cp -a "$SKEL/gateway/." "$SKEL/agent/." /
	local c u
	for c in dcv dcvserver dcv-session-manager-agent dcv-connection-gateway dcv-session-manager-broker \
		systemctl; do
		ln -sfn "/usr/lib/dcvctl-lab/$c" "/usr/bin/$c"
	done
	ln -sfn /usr/lib/dcvctl-lab/systemctl /usr/bin/journalctl
	ln -sfn /usr/lib/dcvctl-lab/gen-gateway-certificates.sh \
		/usr/share/dcv-session-manager-broker/bin/gen-gateway-certificates.sh
	for u in dcv:985 dcvsmagent:986 dcvsmbroker:988 dcvcgw:989; do
		grep -q "^${u%:*}:" /etc/passwd || echo "${u%:*}:x:${u#*:}:${u#*:}::/var/lib/${u%:*}:/sbin/nologin" >>/etc/passwd
		grep -q "^${u%:*}:" /etc/group || echo "${u%:*}:x:${u#*:}:" >>/etc/group
	done
	chown dcvsmbroker:dcvsmbroker /var/lib/dcvsmbroker
	sed -i "s/@@BROKER@@/127.0.0.1/" /etc/dcv/dcv.conf /etc/dcv-session-manager-agent/agent.conf
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj /CN=agent \
		-keyout /etc/dcv/dcv.key -out /etc/dcv/dcv.pem 2>/dev/null
	chown dcv:dcv /etc/dcv/dcv.key /etc/dcv/dcv.pem
	chmod 600 /etc/dcv/dcv.key
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=gw.ns.test -addext subjectAltName=DNS:gw.ns.test \
		-keyout /etc/dcv-connection-gateway/key.pem -out /etc/dcv-connection-gateway/cert.pem 2>/dev/null
	chmod 600 "$PROPS" /etc/dcv-connection-gateway/key.pem
	# the broker's name resolves here before its first start, so its certificate names it
	echo "127.0.0.1 broker.ns.test gw.ns.test" >>/etc/hosts
}

setup_file() {
	sshd_dcvctl_init
	[ -z "${SSHD_SKIP:-}" ] || return 0
	local missing
	missing=$(ns_missing)
	if [ -n "$missing" ]; then
		[ "${CI:-}" != true ] || { echo "gateway-ns.bats needs $missing" >&2; return 1; }
		echo "$missing" >"$SSHD_DIR/missing"
		return 0
	fi
	client_key ed25519 ed25519
	mkdir -p "$SSHD_DIR/ov"
	export SIM SKEL PROPS SSHD_DIR
	spawn ns unshare -mn --propagation private bash -c \
		"$(declare -f ns_build); ns_build && touch '$SSHD_DIR/ns.ready' && exec sleep 600"
	cp "$SSHD_DIR/ns.pgid" "$SSHD_DIR/ns.pid"
	for _ in $(seq 100); do
		[ -e "$SSHD_DIR/ns.ready" ] && break
		kill -0 "$(cat "$SSHD_DIR/ns.pid")" 2>/dev/null || break
		sleep 0.1
	done
	[ -e "$SSHD_DIR/ns.ready" ] || { cat "$SSHD_DIR/ns.out" >&2; return 1; }
	# sshd in the namespace, as sshd_start does on the machine's loopback
	local d="$SSHD_DIR/target"
	mkdir -p "$d"
	ssh-keygen -q -t ed25519 -N '' -C host-target -f "$d/host_ed25519" </dev/null
	echo "$SSH_PORT" >"$d/port"
	printf '%s\n' "Port $SSH_PORT" "ListenAddress 127.0.0.1" "HostKey $d/host_ed25519" "PidFile $d/sshd.pid" \
		"AuthorizedKeysFile $SSHD_DIR/authorized_keys" "StrictModes no" "UsePAM no" \
		"PermitRootLogin prohibit-password" "PasswordAuthentication no" "LogLevel VERBOSE" \
		"SetEnv PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" >"$d/sshd_config"
	spawn sshd nsenter -t "$(cat "$SSHD_DIR/ns.pid")" -m -n "$SSHD_BIN" -D -f "$d/sshd_config" -E "$d/sshd.log"
	for _ in $(seq 100); do
		[ -n "$(ns ss -Htln "sport = :$SSH_PORT")" ] && return 0
		sleep 0.1
	done
	echo "sshd did not start in the namespace" >&2
	return 1
}

teardown_file() {
	if [ -z "${SSHD_DIR:-}" ] || [ ! -f "$SSHD_DIR/ns.pid" ]; then
		sshd_stop_all
		return 0
	fi
	local nsnet p
	nsnet=$(readlink "/proc/$(cat "$SSHD_DIR/ns.pid")/ns/net" 2>/dev/null || true)
	ns systemctl stop dcv-connection-gateway dcv-session-manager-broker dcvserver \
		dcv-session-manager-agent nginx >/dev/null 2>&1 || true
	sshd_stop_all
	# whatever still runs in this file's namespace was started by it
	if [ -n "$nsnet" ]; then
		for p in $(ps -eo pid=); do
			[ "$(readlink "/proc/$p/ns/net" 2>/dev/null)" = "$nsnet" ] && kill -KILL "$p" 2>/dev/null
		done
	fi
	return 0
}

setup() {
	[ -z "${SSHD_SKIP:-}" ] || skip "$SSHD_SKIP"
	[ ! -f "$SSHD_DIR/missing" ] || skip "needs $(cat "$SSHD_DIR/missing")"
	INV="$BATS_FILE_TMPDIR/dcvctl.conf"
	MTLS="$BATS_FILE_TMPDIR/mtls.conf"
	known_host target >"$BATS_FILE_TMPDIR/kh"
	cat >"$INV" <<-EOF
		[endpoint]
		url = https://gw.ns.test:8443/
		[ssh]
		identity = $SSHD_DIR/keys/ed25519
		known-hosts = $BATS_FILE_TMPDIR/kh
		sudo = no
		[gateway]
		address = 127.0.0.1
		ssh = 127.0.0.1:$SSH_PORT
		user = root
		proxy = connection-gateway
		[agent dcv1]
		address = 127.0.0.1
		ssh = 127.0.0.1:$SSH_PORT
		user = root
		port = 8444
		session = dcv1
		session-owner = root
		[maintenance]
		logrotate = no
		health-restart = no
		[broker]
		name = broker.ns.test
	EOF
	sed 's/^\[broker\]$/&\ntls-client-auth = yes/' "$INV" >"$MTLS"
}

dcv() {  # dcv INVENTORY ARGS...: dcvctl in the namespace
	local inv=$1
	shift
	ns timeout 120 "$DCVCTL" -c "$inv" "$@"
}

step() {  # step HOST NAME FIELD: one field of one step of the deploy JSON in $output
	json "[s['$3'] for s in d['steps'] if s['host'] == '$1' and s['step'] == '$2'][0]"
}

# The process that holds 8443 in the namespace.
holder() {
	ns ss -Hltnp 'sport = :8443' | sed -n 's/.*users:(("\([^"]*\)".*/\1/p' | head -1
}

ws() {  # ws PATH: status line and accept line of a WebSocket upgrade through 8443
	ns /usr/bin/python3 "$WSPROBE" 127.0.0.1 8443 "$1" https://gw.ns.test 0 | sed -n 1,2p | tr '\n' ' '
}

resolve() {  # resolve SESSION [CURL ARGS...]: the resolver's HTTP status, asked as the gateway asks
	local sid=$1
	shift
	ns curl -s -o /dev/null -w '%{http_code}' -m 5 -X POST --cacert "$GW_CA" "$@" \
		"$RESOLVER/resolveSession?sessionId=$sid&transport=HTTP" || true
}

@test "the gateway half: broker started with its gateway connector, CA copied, the gateway holds 8443" {
	run --separate-stderr dcv "$INV" deploy --only gateway --json
	expect_status 0
	# (legacy depends on whether this machine's nginx and haproxy units are enabled)
	[ "$(json '[s["step"] for s in d["steps"] if s["status"] == "changed" and s["step"] != "legacy"]')" = "['broker.properties', 'broker', 'broker-ca', 'config', 'service']" ]
	[ "$(json '[s["step"] for s in d["steps"]]')" = "['broker-installed', 'broker.properties', 'broker', 'resolver-port', 'package', 'cert', 'broker-ca', 'config', 'legacy', 'service', 'listen', 'logrotate', 'health']" ]
	[ "$(step gateway broker detail)" = "dcv-session-manager-broker started" ]
	[ "$(step gateway resolver-port detail)" = "dcv-session-manager-broker listens on 8447" ]
	[ "$(holder)" = dcv-connection- ]
	[ "$(ns grep -cx 'enable-gateway = true' "$PROPS")" = 1 ]
	[ "$(ns cat "$GW_CA")" = "$(ns cat /var/lib/dcvsmbroker/security/dcvsmbroker_ca.pem)" ]
	[ "$(ns grep -c '^url = "https://broker.ns.test:8447"$' /etc/dcv-connection-gateway/dcv-connection-gateway.conf)" = 1 ]
}

@test "the agents: Session Manager agent on, the verifier back, a DNS mapping, the resolver answers, 101 through the gateway" {
	run --separate-stderr dcv "$INV" deploy --only agents --json
	expect_status 0
	[ "$(step dcv1 sm-agent detail)" = "dcv-session-manager-agent started and enabled" ]
	[ "$(step gateway dns-mappings detail)" = "registered 1 DNS mapping from /etc/dcv-session-manager-broker/dcvctl-dns-mappings.json" ]
	[ "$(step gateway resolver detail)" = "$RESOLVER resolves every session (1) from the gateway" ]
	[ "$(ns grep -c '^auth-token-verifier="https://broker.ns.test:8445/agent/validate-authentication-token"$' /etc/dcv/dcv.conf)" = 1 ]
	[ "$(ns grep -c '^administrators=\["dcvsmagent"\]$' /etc/dcv/dcv.conf)" = 1 ]
	[ "$(resolve dcv1)" = 200 ]
	[ "$(resolve no-such-session)" = 404 ]
	[ "$(ws '/?sessionId=dcv1')" = "status 101 accept s3pPLMBiTxaQ9kYGzzhZRbK+xOo= " ]
}

@test "mTLS: credentials generated once, the resolver refuses a client without the gateway's certificate" {
	run --separate-stderr dcv "$MTLS" deploy --only gateway --json
	expect_status 0
	[ "$(step gateway gateway-certs status)" = changed ]
	[ "$(step gateway broker detail)" = "dcv-session-manager-broker restarted (properties changed)" ]
	[ "$(step gateway client-key detail)" = "wrote $GW_CK" ]
	[ "$(ns stat -c '%a %U' "$GW_CK")" = "600 root" ]
	[ "$(ns cat "$GW_CC")" = "$(ns cat "$CREDS/dcv_gateway_cert.pem")" ]
	[ "$(ns grep -cx 'enable-tls-client-auth-gateway = true' "$PROPS")" = 1 ]
	[ "$(resolve dcv1)" = 000 ]
	run --separate-stderr dcv "$MTLS" deploy --only agents --json
	expect_status 0
	[ "$(step gateway resolver status)" = ok ]
	[ "$(resolve dcv1 --cert "$GW_CC" --key "$GW_CK")" = 200 ]
	[ "$(ws '/?sessionId=dcv1')" = "status 101 accept s3pPLMBiTxaQ9kYGzzhZRbK+xOo= " ]
}

@test "a second deploy with mTLS changes nothing: no regeneration, no restart" {
	local broker gw cert
	broker=$(ns cat /run/labsim/pids/dcv-session-manager-broker.pid)
	gw=$(ns cat /run/labsim/pids/dcv-connection-gateway.pid)
	cert=$(ns sha256sum "$CREDS/dcv_gateway_cert.pem")
	run --separate-stderr dcv "$MTLS" deploy --only gateway --json
	expect_status 0
	[ "$(json 'd["summary"]["changed"]')" = 0 ]
	[ "$(step gateway gateway-certs detail)" = "client credentials in $CREDS kept (not regenerated)" ]
	run --separate-stderr dcv "$MTLS" deploy --only agents --json
	expect_status 0
	[ "$(json 'd["summary"]["changed"]')" = 0 ]
	[ "$(ns cat /run/labsim/pids/dcv-session-manager-broker.pid)" = "$broker" ]
	[ "$(ns cat /run/labsim/pids/dcv-connection-gateway.pid)" = "$gw" ]
	[ "$(ns sha256sum "$CREDS/dcv_gateway_cert.pem")" = "$cert" ]
}

@test "the trust-store password appears in no output: deploy -v, --dry-run diff, broker enable-gateway" {
	local pw
	pw=$(ns sed -n 's/^gateway-to-broker-connector-trust-store-pass = //p' "$PROPS")
	[ "${#pw}" -ge 8 ]
	# a repeated key: the merge drops the repeat, so the diff shows the password's line
	ns sed -i '/^gateway-to-broker-connector-trust-store-pass/p' "$PROPS"
	run dcv "$MTLS" -v deploy --only gateway --dry-run
	expect_status 0
	[[ $output == *"-gateway-to-broker-connector-trust-store-pass = <redacted>"* ]]
	[[ $output != *"$pw"* ]]
	run dcv "$MTLS" -v broker enable-gateway
	expect_status 0
	[[ $output != *"$pw"* ]]
	[ "$(ns grep -c '^gateway-to-broker-connector-trust-store-pass' "$PROPS")" = 1 ]
	run dcv "$MTLS" --json deploy --only gateway
	expect_status 0
	[[ $output != *"$pw"* ]]
}

@test "back to the bypass: nginx holds 8443 and answers 101, broker and gateway stopped, the verifier gone" {
	run --separate-stderr dcv "$INV" deploy --proxy nginx --only gateway --json
	expect_status 0
	[ "$(holder)" = nginx ]
	[ "$(ns systemctl is-active dcv-connection-gateway)" = inactive ]
	[ "$(ns systemctl is-active dcv-session-manager-broker)" = inactive ]
	run --separate-stderr dcv "$INV" deploy --proxy nginx --only agents --json
	expect_status 0
	[ "$(step dcv1 sm-agent detail)" = "stopped and disabled dcv-session-manager-agent" ]
	[ "$(ns grep -c '^auth-token-verifier' /etc/dcv/dcv.conf)" = 0 ]
	[ "$(ws /)" = "status 101 accept s3pPLMBiTxaQ9kYGzzhZRbK+xOo= " ]
}

@test "a gateway that does not start is rolled back: nginx serves again, the broker half stays" {
	ns sh -c 'printf "#!/bin/sh\nexit 1\n" > /usr/local/bin/dcv-connection-gateway-broken && chmod 755 /usr/local/bin/dcv-connection-gateway-broken && ln -sfn /usr/local/bin/dcv-connection-gateway-broken /usr/bin/dcv-connection-gateway'
	run --separate-stderr dcv "$INV" deploy --only gateway --json
	ns ln -sfn /usr/lib/dcvctl-lab/dcv-connection-gateway /usr/bin/dcv-connection-gateway
	expect_status 1
	[ "$(step gateway service status)" = failed ]
	[[ "$(step gateway service detail)" == *"restarted nginx, which serves as before"* ]]
	[ "$(holder)" = nginx ]
	[ "$(ns systemctl is-active dcv-connection-gateway)" != active ]
	[ "$(ns systemctl is-active dcv-session-manager-broker)" = active ]
	[ "$(ws /)" = "status 101 accept s3pPLMBiTxaQ9kYGzzhZRbK+xOo= " ]
}
