#!/usr/bin/env bats
# [maintenance] and the automatic console session on the lab (issue 10 items 2 and 3, "Tests"):
# the health timer restarts a killed nginx and stops after its limit, dcvserver restarted brings
# the console session back without dcvctl, and what deploy wrote passes `logrotate -d`.
# Needs root; under CI=true a test that cannot run fails instead of skipping.
# The lab's systemctl does not fire timers: a test starts dcvctl-health.service as the timer would.

# shellcheck disable=SC2016  # remote shell code in single quotes, on purpose
bats_require_minimum_version 1.5.0

load lab_helper
load e2e_helper

setup_file() {
	lab_setup_file
	[ "$(id -u)" -ne 0 ] || [ ! -x "$DCVCTL" ] || "$DCVCTL" -c "$LAB_CONF" deploy >/dev/null 2>&1 || true
}

teardown_file() {
	if can_drive_lab; then
		"$LAB" exec gateway -- sh -c 'rm -f /var/lib/dcvctl/health-restarts; systemctl start nginx' >/dev/null 2>&1 || true
		"$LAB" exec dcv1 -- systemctl start dcvserver >/dev/null 2>&1 || true
		"$DCVCTL" -c "$LAB_CONF" deploy >/dev/null 2>&1 || true
	fi
}

setup() {
	lab_setup
	require_dcvctl
}

# The lab's inventory with a [maintenance] section.
inventory_with() {  # inventory_with LINES -> path
	local inv=$BATS_TEST_TMPDIR/dcvctl.conf
	{
		cat "$LAB_CONF"
		printf '\n[maintenance]\n%s\n' "$1"
	} >"$inv"
	echo "$inv"
}

nginx_serves() {
	lab_exec gateway sh -c 'curl -k -s -o /dev/null -w "%{http_code}" https://127.0.0.1:8443/ | grep -qx 200'
}

nginx_down() {
	! lab_exec gateway sh -c 'curl -k -s -o /dev/null https://127.0.0.1:8443/'
}

kill_nginx() {
	lab_exec gateway sh -c 'kill -TERM "$(cat /run/nginx.pid)"'
	wait_for 10 nginx_down
}

# ------------------------------------------------------------------ health timer

@test "deploy installs the health probe: script 755, service, timer active and enabled" {
	local pid
	run lab_exec gateway stat -c '%a %U' /usr/local/sbin/dcvctl-health
	[ "$output" = "755 root" ]
	run lab_exec gateway systemctl is-active dcvctl-health.timer
	[ "$output" = active ]
	run lab_exec gateway systemctl is-enabled dcvctl-health.timer
	[ "$output" = enabled ]
	run lab_exec gateway grep -c '/health' /etc/systemd/system/dcvctl-health.service
	[ "$output" = 0 ]
	run lab_exec gateway grep -x 'url=https://127.0.0.1:8443/' /usr/local/sbin/dcvctl-health
	[ "$status" -eq 0 ]
	# the probe of a serving nginx changes nothing
	pid=$(nginx_master_pid)
	lab_exec gateway systemctl start dcvctl-health.service
	[ "$(nginx_master_pid)" = "$pid" ]
}

@test "the health timer restarts a killed nginx and stops after its limit" {
	local inv
	inv=$(inventory_with 'restart-limit = 2')
	run --separate-stderr "$DCVCTL" -c "$inv" deploy --only gateway --json
	[ "$status" -eq 0 ]
	pyjson "$output" '
st = {x["step"]: x for x in d["steps"]}
assert st["health-script"]["status"] == "changed", st["health-script"]
assert st["health"]["status"] == "ok", st["health"]'
	lab_exec gateway rm -f /var/lib/dcvctl/health-restarts

	kill_nginx
	lab_exec gateway systemctl start dcvctl-health.service
	wait_for 10 nginx_serves
	run lab_exec gateway journalctl -t dcvctl-health
	[[ $output == *"nginx does not serve: no answer from https://127.0.0.1:8443/"*"restarting it (1 of 2 this hour)"* ]]

	kill_nginx
	lab_exec gateway systemctl start dcvctl-health.service
	wait_for 10 nginx_serves

	# the third failure in the hour is logged, not restarted: the unit fails, nginx stays down
	kill_nginx
	run lab_exec gateway systemctl start dcvctl-health.service
	[ "$status" -ne 0 ]
	nginx_down
	run lab_exec gateway journalctl -t dcvctl-health
	[[ $output == *"not restarted: 2 restarts in the last hour (limit 2)"* ]]
	run lab_exec gateway systemctl is-active nginx
	[ "$output" != active ]

	lab_exec gateway rm -f /var/lib/dcvctl/health-restarts
	lab_exec gateway systemctl start nginx
	wait_for 10 nginx_serves
}

@test "health-restart = no removes the timer and its files; deploy puts them back" {
	local inv f
	inv=$(inventory_with 'health-restart = no')
	run --separate-stderr "$DCVCTL" -c "$inv" deploy --only gateway --json
	[ "$status" -eq 0 ]
	pyjson "$output" '
st = {x["step"]: x for x in d["steps"]}
assert st["health"]["status"] == "changed", st["health"]
assert "removed /usr/local/sbin/dcvctl-health" in st["health"]["detail"], st["health"]'
	for f in /usr/local/sbin/dcvctl-health /etc/systemd/system/dcvctl-health.service /etc/systemd/system/dcvctl-health.timer; do
		run lab_exec gateway test -e "$f"
		[ "$status" -eq 1 ]
	done
	run lab_exec gateway systemctl is-enabled dcvctl-health.timer
	[ "$status" -ne 0 ]
	run --separate-stderr "$DCVCTL" -c "$inv" deploy --only gateway --json
	pyjson "$output" 'assert d["summary"]["changed"] == 0, d["summary"]'
	run --separate-stderr dcv deploy --only gateway --json
	[ "$status" -eq 0 ]
	run lab_exec gateway systemctl is-active dcvctl-health.timer
	[ "$output" = active ]
}

# ------------------------------------------------------------------ logrotate

@test "what deploy wrote for logrotate passes logrotate -d on the gateway and the agents" {
	local h
	for h in gateway dcv1 dcv2; do
		run lab_exec "$h" logrotate -d /etc/logrotate.conf
		[ "$status" -eq 0 ]
		[[ $output != *"error:"* ]]
	done
	run lab_exec dcv1 logrotate -d /etc/logrotate.d/dcvctl-dcv
	[ "$status" -eq 0 ]
	[[ $output == *"/var/log/dcv/*.log"* ]]
	run lab_exec dcv1 grep -x '    copytruncate' /etc/logrotate.d/dcvctl-dcv
	[ "$status" -eq 0 ]
}

@test "a refused logrotate file is put back and the step fails" {
	lab_exec dcv1 sh -c 'echo "# kept" >> /etc/logrotate.d/dcvctl-dcv'
	lab_exec dcv1 sh -c 'mkdir -p /usr/local/sbin && printf "#!/bin/sh\nexit 1\n" > /usr/local/sbin/logrotate && chmod 755 /usr/local/sbin/logrotate'
	run --separate-stderr dcv deploy --only dcv1 --json
	lab_exec dcv1 rm -f /usr/local/sbin/logrotate
	[ "$status" -ne 0 ]
	pyjson "$output" '
st = {x["step"]: x for x in d["steps"]}
assert st["logrotate"]["status"] == "failed", st["logrotate"]
assert "validation failed" in st["logrotate"]["detail"], st["logrotate"]'
	run lab_exec dcv1 tail -n 1 /etc/logrotate.d/dcvctl-dcv
	[ "$output" = "# kept" ]
	run --separate-stderr dcv deploy --only dcv1 --json
	[ "$status" -eq 0 ]
}

# ------------------------------------------------------------------ console session

@test "dcvserver restarted: the console session is back without dcvctl" {
	run lab_exec dcv1 grep -x 'create-session=true' /etc/dcv/dcv.conf
	[ "$status" -eq 0 ]
	lab_exec dcv1 systemctl restart dcvserver
	wait_for 20 lab_exec dcv1 sh -c 'dcv list-sessions --json | grep -q "\"console\""'
	run lab_exec dcv1 dcv list-sessions --json
	pyjson "$output" 'assert [(s["id"], s["owner"], s["type"]) for s in d] == [("console", "ubuntu", "console")], d'
	# and deploy finds it as it should be
	run --separate-stderr dcv deploy --only dcv1 --json
	[ "$status" -eq 0 ]
	pyjson "$output" 'assert d["summary"]["changed"] == 0, d["summary"]'
}

@test "deploy after a dcv.conf change waits for dcvserver's console session instead of creating it" {
	lab_exec dcv1 sed -i 's/^web-port=.*/web-port=8444/' /etc/dcv/dcv.conf
	run --separate-stderr dcv deploy --only dcv1 --json
	[ "$status" -eq 0 ]
	pyjson "$output" '
st = {x["step"]: x for x in d["steps"]}
assert st["dcvserver"]["status"] == "changed", st["dcvserver"]
assert st["session"]["status"] == "ok", st["session"]
assert st["session"]["detail"].endswith("created by dcvserver at start"), st["session"]'
}
