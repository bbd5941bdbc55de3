#!/usr/bin/env bats
# dcvctl deploy, session and config on the lab (issue 4 "Tests", design §7, §8): from the
# seed's before state to the nginx bypass, idempotence, rollback, the lock, a lost
# connection, quoting of session names and lint of the seed's files.
# Needs root; under CI=true a test that cannot run fails instead of skipping.
# The tests run in order: the first needs a fresh lab, the others a deployed one.

# shellcheck disable=SC2016  # Python and remote shell code in single quotes, on purpose
bats_require_minimum_version 1.5.0

load lab_helper
load e2e_helper

FIXTURES=$BATS_TEST_DIRNAME/../unit/fixtures

setup_file() {
	# A fresh lab: the seed's before state (Connection Gateway, broker, SM agents).
	if [ -z "$(lab_missing)" ]; then
		"$LAB" down >/dev/null 2>&1 || true
	fi
	lab_setup_file
}

teardown_file() {
	[ "$(id -u)" -ne 0 ] || [ ! -x "$DCVCTL" ] || e2e_restore_lab || true
}

setup() {
	lab_setup
	require_dcvctl
}

# The units deploy touches, as `systemctl is-active` / `is-enabled` print them.
units_state() {
	lab_exec gateway sh -c 'for u in dcv-connection-gateway dcv-session-manager-broker nginx; do
		echo "$u $(systemctl is-active $u) $(systemctl is-enabled $u)"; done'
	local h
	for h in dcv1 dcv2; do
		lab_exec "$h" sh -c 'for u in dcvserver dcv-session-manager-agent; do
			echo "$(hostname) $u $(systemctl is-active $u) $(systemctl is-enabled $u)"; done'
		lab_exec "$h" dcv list-sessions
	done
}

# Make the deployed nginx file differ from the rendered one (a later deploy must rewrite it).
edit_nginx_file() {
	lab_exec gateway sh -c "echo '# edited by hand (e2e)' >> $NGINX_FILE"
}

# A slow `nginx -t` on the gateway (sudo's secure_path finds /usr/local/sbin first):
# it leaves a marker when it starts, then sleeps $1 seconds.
slow_nginx_t() {
	lab_exec gateway rm -f /run/e2e-nginx-t.started
	lab_exec gateway sh -c "cat > /usr/local/sbin/nginx <<'EOF'
#!/bin/sh
case \" \$* \" in *' -t '*) touch /run/e2e-nginx-t.started; sleep $1 ;; esac
exec /usr/sbin/nginx \"\$@\"
EOF
chmod 755 /usr/local/sbin/nginx"
}

nginx_t_started() {
	[ -e "$LAB_STATE/hosts/gateway/fs/run/e2e-nginx-t.started" ]
}

# ------------------------------------------------------------------ dry run, first deploy

@test "deploy --dry-run on the fresh lab plans changed steps and changes nothing on any host" {
	local h
	for h in gateway dcv1 dcv2; do
		host_digest "$h" /etc >"$BATS_TEST_TMPDIR/$h.before"
	done
	units_state >"$BATS_TEST_TMPDIR/units.before"
	grep -qx 'dcv-connection-gateway active enabled' "$BATS_TEST_TMPDIR/units.before"

	run --separate-stderr dcv deploy --dry-run --json
	[ "$status" -eq 0 ]
	pyjson "$output" '
assert d["dry_run"] is True, d
s = d["summary"]
assert s["failed"] == 0 and s["changed"] > 0, s
st = {(x["host"], x["step"]): x for x in d["steps"]}
for k in [("gateway", "config"), ("gateway", "legacy"), ("gateway", "service"),
          ("dcv1", "sm-agent"), ("dcv1", "dcv.conf"),
          ("dcv2", "sm-agent"), ("dcv2", "dcv.conf")]:
    assert st[k]["status"] == "changed", (k, st.get(k))
# the console session is dcvserver'"'"'s to create once dcv.conf asks for it (design §7)
for h in ("dcv1", "dcv2"):
    assert st[(h, "session")]["status"] == "ok", st[(h, "session")]
    assert "would wait for dcvserver to create session" in st[(h, "session")]["detail"], st[(h, "session")]
assert "+create-session=true" in st[("dcv1", "dcv.conf")]["diff"], st[("dcv1", "dcv.conf")]
assert "+upstream" in st[("gateway", "config")]["diff"], st[("gateway", "config")]
assert "-auth-token-verifier" in st[("dcv1", "dcv.conf")]["diff"], st[("dcv1", "dcv.conf")]'

	for h in gateway dcv1 dcv2; do
		diff "$BATS_TEST_TMPDIR/$h.before" <(host_digest "$h" /etc)
	done
	diff "$BATS_TEST_TMPDIR/units.before" <(units_state)
	run lab_exec gateway test -e "$NGINX_FILE"
	[ "$status" -eq 1 ]
}

# A listener on 198.18.0.11:9 in the gateway, and a conf.d file that makes nginx listen there too:
# `nginx -t` passes (it binds nothing), `systemctl start nginx` fails on the bind.
hold_port_9() {
	lab_exec gateway sh -c "setsid /usr/bin/python3 -c 'import socket, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((\"198.18.0.11\", 9)); s.listen(); time.sleep(120)' e2e-hold-9 >/dev/null 2>&1 </dev/null &"
	echo 'server { listen 198.18.0.11:9; return 404; }' |
		lab_exec gateway sh -c 'cat > /etc/nginx/conf.d/zz-port9.conf'
}

release_port_9() {
	lab_exec gateway sh -c 'pkill -f "[e]2e-hold-9" || true; rm -f /etc/nginx/conf.d/zz-port9.conf'
}

@test "an nginx that does not start: deploy stops the Connection Gateway and broker, then starts them again, exit 1" {
	hold_port_9
	wait_for 5 lab_exec gateway sh -c "ss -Hltn 'sport = :9' | grep -q :9"
	run --separate-stderr dcv deploy --json
	release_port_9
	[ "$status" -eq 1 ]
	pyjson "$output" '
f = [x for x in d["steps"] if x["status"] == "failed"]
assert len(f) == 1 and f[0]["host"] == "gateway" and f[0]["step"] in ("service", "listen"), f
assert "restarted dcv-connection-gateway dcv-session-manager-broker" in f[0]["detail"], f[0]
assert "serves as before" in f[0]["detail"], f[0]
# the gateway failed: no agent may switch
assert not any(x["host"] != "gateway" and x["status"] == "changed" for x in d["steps"]), d["steps"]'
	run units_state
	[[ $output == *"dcv-connection-gateway active enabled"* ]]
	[[ $output == *"dcv-session-manager-broker active enabled"* ]]
	[[ $output == *"nginx inactive"* ]]
	[[ $output == *"dcv1 dcv-session-manager-agent active enabled"* ]]
	# The Connection Gateway holds 8443 again.
	run lab_exec gateway ss -Hltnp 'sport = :8443'
	[[ $output == *dcv-connection* ]]
	[[ $output != *'"nginx"'* ]]
}

@test "deploy installs nginx on a gateway without it, switches the gateway to nginx: 101 through 8443 and the page comes back" {
	# `yum remove` in the lab moves the package's files to the host's own cache (tests/lab/sim pkg.py).
	lab_exec gateway yum -y remove nginx
	run -127 lab_exec gateway sh -c 'command -v nginx'
	run lab_exec gateway rpm -q nginx
	[ "$status" -eq 1 ]
	run --separate-stderr dcv deploy --dry-run --json
	[ "$status" -eq 0 ]
	pyjson "$output" '
st = {(x["host"], x["step"]): x for x in d["steps"]}
assert st[("gateway", "package")]["status"] == "changed", st[("gateway", "package")]
assert "would install nginx" in st[("gateway", "package")]["detail"], st[("gateway", "package")]'

	run --separate-stderr dcv deploy --json
	[ "$status" -eq 0 ]
	pyjson "$output" '
s = d["summary"]
assert s["failed"] == 0 and s["unreachable"] == 0 and s["changed"] > 0, s
st = {(x["host"], x["step"]): x for x in d["steps"]}
assert st[("gateway", "package")]["status"] == "changed", st[("gateway", "package")]
assert st[("gateway", "package")]["detail"] == "installed nginx", st[("gateway", "package")]'
	run lab_exec gateway rpm -q nginx
	[ "$status" -eq 0 ]
	# nginx, not the Connection Gateway, holds 8443 now.
	run lab_exec gateway ss -Hltnp 'sport = :8443'
	[[ $output == *'"nginx"'* ]]
	[[ $output != *dcv-connection* ]]
	# 101 through the proxy: the lab's own client, then dcvctl's probe.
	proxy_answers_101
	run --separate-stderr dcv probe ws --json
	[ "$status" -eq 0 ]
	pyjson "$output" 'assert d["status"] == 101 and d["accept_ok"] is True, d'
	# The DCV web client's page, served by dcvserver behind nginx, with a verified chain.
	run curl -s --cacert "$LAB_RUN/ca.pem" --connect-to "::198.18.0.11:8443" \
		-w '\n%{http_code}' "https://$(endpoint_host):8443/"
	[ "$status" -eq 0 ]
	[ "${lines[-1]}" = 200 ]
	[[ $output == *'<div id="dcv-web-client">Amazon DCV web client (dcvctl lab simulator, host dcv1)</div>'* ]]
	run --separate-stderr dcv probe http --json
	[ "$status" -eq 0 ]
	pyjson "$output" 'assert d["status"] == 200 and d["remote"] == "198.18.0.11:8443", d'
}

@test "after deploy the legacy units and the Session Manager agents are inactive and disabled" {
	run lab_exec gateway systemctl is-active dcv-connection-gateway dcv-session-manager-broker
	[ "$status" -eq 3 ]
	[ "$output" = $'inactive\ninactive' ]
	run lab_exec gateway systemctl is-enabled dcv-connection-gateway dcv-session-manager-broker
	[ "$status" -eq 1 ]
	[ "$output" = $'disabled\ndisabled' ]
	run lab_exec gateway systemctl is-active nginx
	[ "$output" = active ]
	run lab_exec gateway systemctl is-enabled nginx
	[ "$output" = enabled ]
	local h
	for h in dcv1 dcv2; do
		run lab_exec "$h" systemctl is-active dcv-session-manager-agent
		[ "$status" -eq 3 ]
		[ "$output" = inactive ]
		run lab_exec "$h" systemctl is-enabled dcv-session-manager-agent
		[ "$status" -eq 1 ]
		[ "$output" = disabled ]
		run lab_exec "$h" systemctl is-active dcvserver
		[ "$output" = active ]
	done
}

@test "after deploy dcv.conf has no auth-token-verifier and keeps administrators" {
	local h
	for h in dcv1 dcv2; do
		run lab_exec "$h" grep -c auth-token-verifier /etc/dcv/dcv.conf
		[ "$output" = 0 ]
		lab_exec "$h" grep -qx 'administrators=\["dcvsmagent"\]' /etc/dcv/dcv.conf
		lab_exec "$h" grep -qx 'web-port=8443' /etc/dcv/dcv.conf
		# The previous file is kept as a timestamped backup.
		run lab_exec "$h" sh -c 'grep -l auth-token-verifier /etc/dcv/dcv.conf.dcvctl-*'
		[ "$status" -eq 0 ]
		[ -n "$output" ]
	done
}

@test "after deploy the session 'console' exists on every agent with the inventory's owner, made by dcvserver" {
	run lab_exec dcv1 dcv list-sessions --json
	[ "$status" -eq 0 ]
	# DCV's automatic console session has no name (reference §1.1, §2.4)
	pyjson "$output" 'assert [(s["id"], s["owner"], s["type"]) for s in d] == [("console", "ubuntu", "console")], d'
	run lab_exec dcv1 grep -A1 -x '\[session-management/automatic-console-session\]' /etc/dcv/dcv.conf
	[ "${lines[1]}" = 'owner="ubuntu"' ]
	run lab_exec dcv2 dcv list-sessions --json
	pyjson "$output" 'assert [(s["id"], s["owner"], s["type"]) for s in d] == [("console", "ubuntu", "console")], d'
	run --separate-stderr dcv session list --json
	[ "$status" -eq 0 ]
	pyjson "$output" '
assert sorted((s["agent"], s["id"], s["owner"]) for s in d["sessions"]) == \
    [("dcv1", "console", "ubuntu"), ("dcv2", "console", "ubuntu")], d
assert d["errors"] == [], d'
}

@test "the deployed nginx file is the rendered one and passes the real nginx -t on the gateway" {
	run lab_exec gateway nginx -t
	[ "$status" -eq 0 ]
	[[ $output == *"test is successful"* ]]
	run --separate-stderr dcv config render nginx
	[ "$status" -eq 0 ]
	[ "$(printf '%s\n' "$output" | sha256sum | cut -d' ' -f1)" = "$(gw_sum)" ]
	# The upgrade map is in the same file; backup servers and ip_hash never together.
	lab_exec gateway grep -q 'map $http_upgrade $connection_upgrade' "$NGINX_FILE"
	lab_exec gateway grep -q 'proxy_http_version 1.1' "$NGINX_FILE"
	run lab_exec gateway grep -c '^[[:space:]]*ip_hash' "$NGINX_FILE"
	[ "$output" = 0 ]
}

@test "a second deploy reports 0 changed and restarts nothing (same nginx and dcvserver PIDs)" {
	local pid dcv1_pid session_time
	pid=$(nginx_master_pid)
	dcv1_pid=$(lab_exec dcv1 cat /run/labsim/pids/dcvserver.pid)
	session_time=$(lab_exec dcv1 dcv list-sessions --json | /usr/bin/python3 -c \
		'import json, sys; print(json.load(sys.stdin)[0]["creation-time"])')
	run --separate-stderr dcv deploy --json
	[ "$status" -eq 0 ]
	pyjson "$output" '
s = d["summary"]
assert s["changed"] == 0 and s["failed"] == 0 and s["ok"] > 0, s
assert all(x["status"] == "ok" for x in d["steps"]), d["steps"]'
	[ "$(nginx_master_pid)" = "$pid" ]
	[ "$(lab_exec dcv1 cat /run/labsim/pids/dcvserver.pid)" = "$dcv1_pid" ]
	run lab_exec dcv1 dcv list-sessions --json
	pyjson "$output" "assert d[0]['creation-time'] == '$session_time', d"
}

@test "config diff exits 0 after deploy and 1 once the file is edited on the gateway" {
	run dcv config diff gateway
	[ "$status" -eq 0 ]
	edit_nginx_file
	run dcv config diff gateway
	[ "$status" -eq 1 ]
	[[ $output == *"-# edited by hand (e2e)"* ]]
	run dcv deploy --only gateway
	[ "$status" -eq 0 ]
	run dcv config diff gateway
	[ "$status" -eq 0 ]
}

# ------------------------------------------------------------------ failures and rollback

@test "a rewrite of the nginx file with a broken file in conf.d fails, puts the previous file back and the proxy keeps answering 101" {
	local before pid
	edit_nginx_file
	before=$(gw_sum)
	pid=$(nginx_master_pid)
	echo 'server { listen 127.0.0.1:9; bogus_directive on; }' |
		lab_exec gateway sh -c 'cat > /etc/nginx/conf.d/zz-broken.conf'

	run --separate-stderr dcv deploy --json
	[ "$status" -eq 1 ]
	pyjson "$output" '
st = {(x["host"], x["step"]): x for x in d["steps"]}
c = st[("gateway", "config")]
assert c["status"] == "failed", c
assert "validation failed" in c["detail"] and "put back" in c["detail"], c
assert "bogus_directive" in c["detail"], c
assert d["summary"]["unreachable"] == 0, d["summary"]
# the gateway failed: no agent may switch
assert not any(x["host"] != "gateway" and x["status"] == "changed" for x in d["steps"]), d["steps"]'
	# Byte for byte the previous file, nothing left beside it, nginx not reloaded.
	[ "$(gw_sum)" = "$before" ]
	run lab_exec gateway sh -c 'ls -A /etc/nginx/conf.d | grep dcvctl-new'
	[ "$status" -eq 1 ]
	[ "$(nginx_master_pid)" = "$pid" ]
	proxy_answers_101

	lab_exec gateway rm /etc/nginx/conf.d/zz-broken.conf
	run --separate-stderr dcv deploy --json
	[ "$status" -eq 0 ]
	pyjson "$output" '
st = {(x["host"], x["step"]): x for x in d["steps"]}
assert st[("gateway", "config")]["status"] == "changed", st[("gateway", "config")]'
	run dcv config diff gateway
	[ "$status" -eq 0 ]
	proxy_answers_101
}

@test "a missing certificate fails the deploy clearly while the old proxy still serves" {
	local before pid
	edit_nginx_file
	before=$(gw_sum)
	pid=$(nginx_master_pid)
	lab_exec gateway mv "$GW_CERT" "$GW_CERT.e2e-away"

	run --separate-stderr dcv deploy --json
	[ "$status" -eq 1 ]
	pyjson "$output" '
st = {(x["host"], x["step"]): x for x in d["steps"]}
c = st[("gateway", "cert")]
assert c["status"] == "failed", c
assert "/etc/dcv-connection-gateway/cert.pem" in c["detail"], c
assert "dcvctl cert generate" in c["detail"], c
assert ("gateway", "config") not in st, st'
	[ "$(gw_sum)" = "$before" ]
	[ "$(nginx_master_pid)" = "$pid" ]
	proxy_answers_101
	# The text output says the same to a human.
	run dcv deploy --only gateway
	[ "$status" -eq 1 ]
	[[ $output == *"missing /etc/dcv-connection-gateway/cert.pem"*"dcvctl cert generate"* ]]

	lab_exec gateway mv "$GW_CERT.e2e-away" "$GW_CERT"
	run dcv deploy
	[ "$status" -eq 0 ]
	run dcv config diff gateway
	[ "$status" -eq 0 ]
}

@test "killing the gateway's sshd in the middle of a deploy exits 4 and leaves no partial file" {
	local old new rc pid
	edit_nginx_file
	old=$(gw_sum)
	new=$(dcv config render nginx | sha256sum | cut -d' ' -f1)
	[ "$old" != "$new" ]
	slow_nginx_t 3
	"$DCVCTL" -c "$LAB_CONF" deploy --json >"$BATS_TEST_TMPDIR/deploy.json" \
		2>"$BATS_TEST_TMPDIR/deploy.err" 3>&- &
	pid=$!
	# The new file is uploaded and the transaction validates it: drop the connection now.
	wait_for 20 nginx_t_started
	# shellcheck disable=SC2046
	kill -KILL $(host_sshd_pids gateway)
	rc=0
	wait "$pid" || rc=$?
	cat "$BATS_TEST_TMPDIR/deploy.json" "$BATS_TEST_TMPDIR/deploy.err"
	[ "$rc" -eq 4 ]
	pyjson "$(cat "$BATS_TEST_TMPDIR/deploy.json")" '
s = d["summary"]
assert s["failed"] >= 1 and s["unreachable"] >= 1, s
assert not any(x["host"] != "gateway" and x["status"] == "changed" for x in d["steps"]), d["steps"]'

	# Never a partial file: the target is the old or the new one, whole. And the host-side
	# transaction runs on detached (design §7: it finishes even if the connection drops), so
	# once the slow nginx -t is over the new file is in place.
	run gw_sum
	[ "$output" = "$old" ] || [ "$output" = "$new" ]
	wait_for 10 eval '[ "$(gw_sum)" = "$new" ]'
	run lab_exec gateway sh -c 'ls -A /etc/nginx/conf.d | grep dcvctl-new'
	[ "$status" -eq 1 ]
	lab_exec gateway /usr/sbin/nginx -t
	proxy_answers_101

	# Back to normal: the gateway's sshd again, and a deploy that finds the file as rendered.
	lab_exec gateway rm -f /usr/local/sbin/nginx
	lab_exec gateway systemctl start sshd
	run dcv deploy
	[ "$status" -eq 0 ]
	run dcv config diff gateway
	[ "$status" -eq 0 ]
}

@test "two deploys at once: the second is refused and names the deploy that holds the lock" {
	local pid rc
	edit_nginx_file
	slow_nginx_t 3
	"$DCVCTL" -c "$LAB_CONF" deploy --json >"$BATS_TEST_TMPDIR/first.json" 2>"$BATS_TEST_TMPDIR/first.err" 3>&- &
	pid=$!
	wait_for 20 nginx_t_started

	run --separate-stderr dcv deploy --json
	rc=0
	wait "$pid" || rc=$?
	lab_exec gateway rm -f /usr/local/sbin/nginx
	echo "second deploy (exit $status):"
	pyjson "$output" 'for x in d["steps"]: print(" ", x["host"], x["step"], x["status"], x["detail"])' || true
	[ "$status" -eq 1 ]
	pyjson "$output" "
st = {(x['host'], x['step']): x for x in d['steps']}
l = st[('gateway', 'lock')]
assert l['status'] == 'failed', l
assert 'another deploy is running on gateway' in l['detail'], l
assert '/run/lock/dcvctl.lock' in l['detail'], l
assert '(pid $pid)' in l['detail'], l
assert d['summary']['changed'] == 0, d['summary']"
	# The first one was not disturbed.
	[ "$rc" -eq 0 ]
	pyjson "$(cat "$BATS_TEST_TMPDIR/first.json")" '
st = {(x["host"], x["step"]): x for x in d["steps"]}
assert st[("gateway", "config")]["status"] == "changed", st[("gateway", "config")]'
	run dcv config diff gateway
	[ "$status" -eq 0 ]
}

@test "a lock held by hand on the gateway refuses a deploy, naming the lock file" {
	lab_exec gateway flock /run/lock/dcvctl.lock sleep 4 3>&- &
	wait_for 10 eval '! lab_exec gateway flock -n /run/lock/dcvctl.lock true'
	run dcv deploy --only gateway
	wait
	[ "$status" -eq 1 ]
	[[ $output == *"another deploy is running on gateway"*"/run/lock/dcvctl.lock"* ]]
	run dcv deploy --only gateway
	[ "$status" -eq 0 ]
}

# ------------------------------------------------------------------ sessions

@test "session recreate with spaces, quotes and \$(...) in the name creates exactly that name and runs nothing" {
	local name inv=$BATS_TEST_TMPDIR/dcvctl.conf
	# shellcheck disable=SC2016
	name='Tom'\''s "desk" $(touch /tmp/pwned) `touch /tmp/pwned2` && touch /tmp/pwned3 | tee /tmp/pwned4'
	/usr/bin/python3 - "$LAB_CONF" "$inv" "$name" <<-'EOF'
		import sys
		src, dst, name = sys.argv[1:]
		t = open(src).read()
		assert t.count("session-name = Ubuntu Desktop\n") == 1
		open(dst, "w").write(t.replace("session-name = Ubuntu Desktop\n", 'session-name = "%s"\n' % name))
	EOF
	run "$DCVCTL" -c "$inv" session recreate --agent dcv1
	[ "$status" -eq 0 ]
	run lab_exec dcv1 dcv list-sessions --json
	[ "$status" -eq 0 ]
	NAME=$name pyjson "$output" '
import os
assert [(s["id"], s["owner"], s["name"]) for s in d] == [("console", "ubuntu", os.environ["NAME"])], d'
	run --separate-stderr "$DCVCTL" -c "$inv" session list --agent dcv1 --json
	[ "$status" -eq 0 ]
	NAME=$name pyjson "$output" 'import os; assert d["sessions"][0]["name"] == os.environ["NAME"], d'
	local h
	for h in dcv1 gateway bastion; do
		run lab_exec "$h" sh -c 'ls /tmp/pwned* 2>/dev/null'
		[ -z "$output" ]
	done
	[ ! -e /tmp/pwned ]
	[ ! -e /tmp/pwned2 ]
	[ ! -e /tmp/pwned3 ]
	[ ! -e /tmp/pwned4 ]

	run dcv session recreate --agent dcv1
	[ "$status" -eq 0 ]
	run lab_exec dcv1 dcv list-sessions --json
	pyjson "$output" 'assert [s["name"] for s in d] == ["Ubuntu Desktop"], d'
}

# ------------------------------------------------------------------ lint

@test "config lint flags the seed's dcv.conf: enable-broker is an error" {
	run --separate-stderr "$DCVCTL" config lint --json "$FIXTURES/seed-dcv.conf"
	[ "$status" -eq 1 ]
	pyjson "$output" '
f = [x for x in d["findings"] if x["rule"] == "dcv.unknown-key"]
assert len(f) == 1 and f[0]["severity"] == "error" and "enable-broker" in f[0]["message"], d
assert d["errors"] >= 1, d'
}

@test "config lint flags the seed's Option B file: backup with ip_hash and an undefined \$connection_upgrade" {
	run --separate-stderr "$DCVCTL" config lint --json "$FIXTURES/seed-optionb-dcv-multiserver.conf"
	[ "$status" -eq 1 ]
	pyjson "$output" '
rules = {x["rule"]: x for x in d["findings"]}
for r in ("nginx.backup-with-hash", "nginx.undefined-variable"):
    assert rules[r]["severity"] == "error", (r, d)
assert "connection_upgrade" in rules["nginx.undefined-variable"]["message"], d'
}

@test "config lint flags the seed's Option B file beside the Phase 1 file: the upstream defined twice" {
	run --separate-stderr "$DCVCTL" config lint --json "$FIXTURES/seed-optionb-dcv-multiserver.conf" \
		"$FIXTURES/seed-phase1-dcv-proxy.conf"
	[ "$status" -eq 1 ]
	pyjson "$output" '
rules = {x["rule"]: x for x in d["findings"]}
assert rules["nginx.duplicate-upstream"]["severity"] == "error", d
assert "dcv_backend" in rules["nginx.duplicate-upstream"]["message"], d
assert rules["nginx.backup-with-hash"]["severity"] == "error", d
# the Phase 1 file defines the map, so $connection_upgrade is defined for nginx
assert "nginx.undefined-variable" not in rules, d'
}

@test "config lint of the deployed gateway and agents finds no error" {
	run dcv config lint gateway
	[ "$status" -eq 0 ]
	run dcv config lint dcv1
	[ "$status" -eq 0 ]
}

@test "config lint of an agent without dcv.conf fails like check does, naming the missing file" {
	lab_exec dcv2 mv /etc/dcv/dcv.conf /etc/dcv/dcv.conf.e2e-away
	run --separate-stderr dcv config lint --json dcv2
	local lint_status=$status lint_out=$output
	run --separate-stderr dcv check --only agent.dcv2.config --json
	lab_exec dcv2 mv /etc/dcv/dcv.conf.e2e-away /etc/dcv/dcv.conf
	[ "$lint_status" -eq 1 ]
	pyjson "$lint_out" '
f = d["hosts"][0]["findings"]
assert d["hosts"][0]["host"] == "dcv2", d
assert [x["rule"] for x in f] == ["dcv.missing"], f
assert f[0]["severity"] == "error" and f[0]["file"] == "/etc/dcv/dcv.conf", f'
	[ "$status" -eq 1 ]
	pyjson "$output" '
c = d["checks"][0]
assert c["id"] == "agent.dcv2.config" and c["status"] == "fail", c
assert "/etc/dcv/dcv.conf is missing" in c["message"], c'
	run dcv config lint dcv2
	[ "$status" -eq 0 ]
}

# ------------------------------------------------------------------ end state

@test "the lab ends deployed: another deploy changes nothing and check passes" {
	run --separate-stderr dcv deploy --json
	[ "$status" -eq 0 ]
	pyjson "$output" 'assert d["summary"]["changed"] == 0 and d["summary"]["failed"] == 0, d["summary"]'
	run --separate-stderr dcv check --json
	[ "$status" -eq 0 ]
	pyjson "$output" 'assert d["summary"]["failed"] == 0 and d["diagnosis"]["hop"] is None, d["summary"]'
}
