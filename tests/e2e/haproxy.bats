#!/usr/bin/env bats
# The seed's Phase 2 Option A on the lab (issue 8): switching the gateway between nginx and
# HAProxy both ways with the old proxy serving until the new one is valid, the HAProxy check
# rows, rollback when HAProxy's configuration is refused or HAProxy does not start, and lint of
# the seed's HAProxy file. Needs root; under CI=true a test that cannot run fails.
# The tests run in order on one lab, which the file leaves deployed with nginx.

bats_require_minimum_version 1.5.0

load lab_helper
load e2e_helper

FIXTURES=$BATS_TEST_DIRNAME/../unit/fixtures
HA_CFG=/etc/haproxy/haproxy.cfg

setup_file() {
	lab_setup_file
	[ "$(id -u)" -ne 0 ] || [ ! -x "$DCVCTL" ] || "$DCVCTL" -c "$LAB_CONF" deploy >/dev/null 2>&1 || true
}

teardown_file() {
	if can_drive_lab; then
		"$LAB" exec gateway -- sh -c 'rm -f /usr/local/sbin/haproxy; pkill -f "[e]2e-hold-8404" || true' >/dev/null 2>&1 || true
		"$LAB" exec dcv1 -- systemctl start dcvserver >/dev/null 2>&1 || true
		"$DCVCTL" -c "$LAB_CONF" deploy --proxy nginx >/dev/null 2>&1 || true
	fi
}

setup() {
	lab_setup
	require_dcvctl
	HA_CONF=$BATS_FILE_TMPDIR/haproxy.conf
	sed 's/^proxy = .*/proxy = haproxy/' "$LAB_CONF" >"$HA_CONF"
}

dcvha() {
	"$DCVCTL" -c "$HA_CONF" "$@"
}

# The process that holds the gateway's 8443.
holder() {
	lab_exec gateway ss -Hltnp 'sport = :8443' | sed -n 's/.*users:(("\([^"]*\)".*/\1/p' | head -1
}

unit_state() {  # unit_state UNIT -> "active enabled"
	echo "$(lab_exec gateway systemctl is-active "$1") $(lab_exec gateway systemctl is-enabled "$1")"
}

@test "deploy --proxy haproxy --dry-run plans the switch and changes nothing on the gateway" {
	local before
	before=$(host_digest gateway /etc/haproxy)
	run --separate-stderr dcv deploy --proxy haproxy --dry-run --json
	[ "$status" -eq 0 ]
	pyjson "$output" '
st = {(x["host"], x["step"]): x for x in d["steps"]}
assert st[("gateway", "config")]["status"] == "changed", st[("gateway", "config")]
assert st[("gateway", "legacy")]["status"] == "changed", st[("gateway", "legacy")]
assert "nginx" in st[("gateway", "legacy")]["detail"], st[("gateway", "legacy")]'
	[ "$(holder)" = nginx ]
	[ "$(host_digest gateway /etc/haproxy)" = "$before" ]
	[ "$(unit_state haproxy)" = "inactive disabled" ]
}

@test "nginx -> haproxy: HAProxy holds 8443, an independent client gets 101, nginx is stopped and disabled" {
	run --separate-stderr dcv deploy --proxy haproxy --json
	[ "$status" -eq 0 ]
	pyjson "$output" 'assert d["summary"]["failed"] == 0 and d["summary"]["changed"] > 0, d["summary"]'
	[ "$(holder)" = haproxy ]
	proxy_answers_101
	[ "$(unit_state nginx)" = "inactive disabled" ]
	[ "$(unit_state haproxy)" = "active enabled" ]
	# the rendered file passes the real haproxy -c on the gateway
	run lab_exec gateway haproxy -c -f "$HA_CFG"
	[ "$status" -eq 0 ]
	# the combined PEM and the stats credentials are root's alone
	run lab_exec gateway stat -c '%a %U' /etc/haproxy/dcv.pem /etc/haproxy/dcvctl-stats.secret
	[ "${lines[0]}" = "600 root" ]
	[ "${lines[1]}" = "600 root" ]
	# never admin:admin
	run lab_exec gateway grep -Eq '^[[:space:]]*stats auth admin:admin' "$HA_CFG"
	[ "$status" -eq 1 ]
}

@test "the generated stats password appears in no output: deploy --dry-run diff, config diff, check" {
	local pw
	pw=$(lab_exec gateway cut -d: -f2 /etc/haproxy/dcvctl-stats.secret)
	[ "${#pw}" -ge 16 ]
	lab_exec gateway sh -c "echo '# edited by hand (e2e)' >> $HA_CFG"
	run dcvha deploy --dry-run
	[[ $output == *'stats auth dcvctl:<redacted>'* ]]
	[[ $output != *"$pw"* ]]
	run dcvha config diff gateway
	[ "$status" -eq 1 ]
	[[ $output != *"$pw"* ]]
	run dcvha check --format json
	[[ $output != *"$pw"* ]]
	run dcvha deploy --only gateway
	[ "$status" -eq 0 ]
}

@test "a second deploy under haproxy changes nothing and keeps the credentials" {
	local secret
	secret=$(lab_exec gateway sha256sum /etc/haproxy/dcvctl-stats.secret)
	run --separate-stderr dcvha deploy --json
	[ "$status" -eq 0 ]
	pyjson "$output" 'assert d["summary"]["changed"] == 0 and d["summary"]["failed"] == 0, d["summary"]'
	[ "$(lab_exec gateway sha256sum /etc/haproxy/dcvctl-stats.secret)" = "$secret" ]
}

@test "check under haproxy passes, gateway.proxy.backends included" {
	run --separate-stderr dcvha check --format json
	[ "$status" -eq 0 ]
	pyjson "$output" '
c = {x["id"]: x for x in d["checks"]}
assert c["gateway.proxy.backends"]["status"] == "pass", c["gateway.proxy.backends"]
assert c["gateway.proxy.service"]["message"].startswith("haproxy active"), c["gateway.proxy.service"]
assert c["gateway.proxy.listen"]["status"] == "pass", c["gateway.proxy.listen"]
assert c["gateway.legacy-services"]["status"] == "pass", c["gateway.legacy-services"]'
}

# check_backend_down: gateway.proxy.backends fails naming dcv1 (HAProxy needs two failed checks)
backend_down() {
	dcvha check --only gateway.proxy.backends --format json 2>/dev/null |
		/usr/bin/python3 -c 'import json,sys; d=json.load(sys.stdin); c=d["checks"][0]
sys.exit(0 if c["status"] == "fail" and "dcv1" in c["message"] else 1)'
}

@test "dcvserver stopped on dcv1 under haproxy: gateway.proxy.backends and the agent rows fail, the diagnosis names dcv1" {
	lab_exec dcv1 systemctl stop dcvserver
	wait_for 20 backend_down
	run --separate-stderr dcvha check --format json
	lab_exec dcv1 systemctl start dcvserver
	[ "$status" -eq 1 ]
	pyjson "$output" '
c = {x["id"]: x for x in d["checks"]}
b = c["gateway.proxy.backends"]
assert b["status"] == "fail" and "dcv1" in b["message"] and "dcv2" not in b["message"], b
assert "L4CON" in b["message"] or "L4TOUT" in b["message"] or "L6" in b["message"], b
assert c["agent.dcv1.dcvserver"]["status"] == "fail", c["agent.dcv1.dcvserver"]
assert d["diagnosis"]["hop"] == "dcv1", d["diagnosis"]
assert d["diagnosis"]["hint"] == "dcvctl service start dcv1 dcvserver", d["diagnosis"]'
	dcvha session create --agent dcv1 >/dev/null
}

@test "haproxy -> nginx: nginx holds 8443 again, 101 through it, HAProxy stopped and disabled" {
	run --separate-stderr dcv deploy --proxy nginx --json
	[ "$status" -eq 0 ]
	pyjson "$output" 'assert d["summary"]["failed"] == 0, d["summary"]'
	[ "$(holder)" = nginx ]
	proxy_answers_101
	[ "$(unit_state haproxy)" = "inactive disabled" ]
	[ "$(unit_state nginx)" = "active enabled" ]
}

@test "a HAProxy configuration the gateway refuses leaves nginx serving and exits 1" {
	# the file must differ from the rendered one, or deploy has nothing to validate
	lab_exec gateway sh -c "echo '# edited by hand (e2e)' >> $HA_CFG"
	# haproxy -c fails on the gateway (sudo's secure_path finds /usr/local/sbin first)
	lab_exec gateway sh -c 'printf "#!/bin/sh\ncase \" \$* \" in *\" -c \"*) echo \"[ALERT] e2e: refused\" >&2; exit 1;; esac\nexec /usr/sbin/haproxy \"\$@\"\n" > /usr/local/sbin/haproxy; chmod 755 /usr/local/sbin/haproxy'
	run --separate-stderr dcv deploy --proxy haproxy --json
	lab_exec gateway rm -f /usr/local/sbin/haproxy
	[ "$status" -eq 1 ]
	pyjson "$output" '
st = {(x["host"], x["step"]): x for x in d["steps"]}
c = st[("gateway", "config")]
assert c["status"] == "failed" and "validation failed" in c["detail"] and "e2e: refused" in c["detail"], c
assert ("gateway", "legacy") not in st, st.keys()'
	[ "$(holder)" = nginx ]
	proxy_answers_101
	[ "$(unit_state haproxy)" = "inactive disabled" ]
}

# Something else on HAProxy's stats port 127.0.0.1:8404, so HAProxy cannot bind and does not start.
hold_stats_port() {
	lab_exec gateway sh -c "setsid /usr/bin/python3 -c 'import socket, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((\"127.0.0.1\", 8404)); s.listen(); time.sleep(120)' e2e-hold-8404 >/dev/null 2>&1 </dev/null &"
}

release_stats_port() {
	lab_exec gateway sh -c 'pkill -f "[e]2e-hold-8404" || true'
}

@test "a HAProxy that does not start (its stats port taken) is stopped and nginx started again, exit 1" {
	hold_stats_port
	wait_for 5 lab_exec gateway sh -c "ss -Hltn 'sport = :8404' | grep -q 8404"
	run --separate-stderr dcv deploy --proxy haproxy --json
	release_stats_port
	[ "$status" -eq 1 ]
	pyjson "$output" '
st = {(x["host"], x["step"]): x for x in d["steps"]}
f = [x for x in d["steps"] if x["host"] == "gateway" and x["status"] == "failed"]
assert len(f) == 1 and f[0]["step"] in ("service", "listen"), f
assert "restarted nginx" in f[0]["detail"], f[0]'
	wait_for 5 test "$(holder)" = nginx
	proxy_answers_101
	[ "$(unit_state nginx)" = "active enabled" ]
	[ "$(unit_state haproxy)" = "inactive disabled" ]
}

@test "config lint of the seed's Option A haproxy.cfg: every defect is a finding and it exits 1" {
	run dcv config lint "$FIXTURES/seed-optiona-haproxy.cfg"
	[ "$status" -eq 1 ]
	[[ $output == *haproxy.continuation* ]]
	[[ $output == *haproxy.health-404* ]]
	[[ $output == *haproxy.default-stats-credentials* ]]
	[[ $output == *haproxy.timeout-tunnel* ]]
	[[ $output == *haproxy.profile-system* ]]
}

@test "config render haproxy for the lab passes the real haproxy -c on the gateway" {
	run dcv config render haproxy
	[ "$status" -eq 0 ]
	[[ $output == *'timeout tunnel'* ]]
	[[ $output != *'/health'* ]] || [[ $output == *'no /health'* ]] || true
	printf '%s\n' "$output" | lab_exec gateway sh -c 'cat > /tmp/e2e-render.cfg'
	run lab_exec gateway haproxy -c -f /tmp/e2e-render.cfg
	[ "$status" -eq 0 ]
}
