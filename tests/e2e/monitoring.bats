#!/usr/bin/env bats
# Monitoring without the lab (issue 10, item 6): the systemd service and timer in contrib/systemd
# (systemd-analyze verify and security), the alerting rules in contrib/prometheus (promtool check
# rules, promtool test rules), and the report the service's own command writes, from an inventory
# whose hosts are a closed port on 127.0.0.1 (promtool check metrics).
# Under CI=true a missing tool fails; elsewhere it skips. scripts/deps installs them all.

bats_require_minimum_version 1.5.0

setup_file() {
	ROOT=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
	UNITS=$ROOT/contrib/systemd
	RULES=$ROOT/contrib/prometheus
	DCVCTL=${DCVCTL:-$ROOT/dcvctl}
	WORK=$BATS_FILE_TMPDIR
	export ROOT UNITS RULES DCVCTL WORK
	[ -x "$DCVCTL" ] || {
		echo "no dcvctl binary at $DCVCTL (set DCVCTL)" >&2
		return 1
	}
	local port
	port=$(/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	mkdir -p "$WORK/home" "$WORK/textfile"
	cat >"$WORK/dcvctl.conf" <<-EOF
		[endpoint]
		url = https://127.0.0.1:$port/

		[gateway]
		address = 127.0.0.1
		ssh = 127.0.0.1:$port
		user = ops

		[agent dcv1]
		address = 127.0.0.1
		ssh = 127.0.0.1:$port
		user = ubuntu
	EOF
	# The units as installed, but running this build and naming man pages this tree holds.
	mkdir -p "$WORK/units" "$WORK/man/man1" "$WORK/man/man5"
	ln -s "$ROOT/man/dcvctl.1" "$WORK/man/man1/dcvctl.1"
	ln -s "$ROOT/man/dcvctl.conf.5" "$WORK/man/man5/dcvctl.conf.5"
	sed "s|^ExecStart=/usr/local/bin/dcvctl |ExecStart=$DCVCTL |" "$UNITS/dcvctl-check.service" \
		>"$WORK/units/dcvctl-check.service"
	cp "$UNITS/dcvctl-check.timer" "$WORK/units/"
}

need() {  # need TOOL...
	local t
	for t; do
		command -v "$t" >/dev/null && continue
		if [ "${CI:-}" = true ]; then
			echo "$t is missing: scripts/deps installs it" >&2
			return 1
		fi
		skip "$t is not installed (scripts/deps installs it)"
	done
}

unit_value() {  # unit_value KEY: the value of KEY= in the service file (first line)
	sed -n "s/^$1=//p" "$UNITS/dcvctl-check.service" | head -n 1
}

# The service's ExecStart with this build, this inventory and a report path under $WORK.
run_service_command() {
	local cmd
	cmd=$(unit_value ExecStart)
	cmd=${cmd#/usr/local/bin/dcvctl }
	cmd=${cmd//\/var\/lib\/node_exporter\/textfile_collector/$WORK/textfile}
	# shellcheck disable=SC2086 # the unit's words, as systemd splits them (no quotes in it)
	run env HOME="$WORK/home" SSH_AUTH_SOCK= DCVCTL_CONFIG="$WORK/dcvctl.conf" timeout 60 "$DCVCTL" $cmd
}

# ------------------------------------------------------------------ systemd

@test "the service and the timer pass systemd-analyze verify" {
	need systemd-analyze man
	run env MANPATH="$WORK/man" systemd-analyze verify "$WORK/units/dcvctl-check.service" "$WORK/units/dcvctl-check.timer"
	echo "$output"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
}

@test "systemd-analyze verify refuses a service whose command is missing, so the test above can fail" {
	need systemd-analyze
	sed "s|^ExecStart=[^ ]*|ExecStart=$WORK/no-such-dcvctl|" "$WORK/units/dcvctl-check.service" \
		>"$BATS_TEST_TMPDIR/dcvctl-check.service"
	run systemd-analyze --man=no verify "$BATS_TEST_TMPDIR/dcvctl-check.service"
	echo "$output"
	[ "$status" -ne 0 ]
	[[ $output == *"no-such-dcvctl is not executable"* ]]
}

@test "the service's hardening keeps its exposure at 2.0 or less in systemd-analyze security" {
	need systemd-analyze
	run systemd-analyze security --offline=true --threshold=20 "$WORK/units/dcvctl-check.service"
	echo "$output" | tail -n 3
	[ "$status" -eq 0 ]
	printf '[Service]\nExecStart=/bin/true\n' >"$BATS_TEST_TMPDIR/bare.service"
	run systemd-analyze security --offline=true --threshold=20 "$BATS_TEST_TMPDIR/bare.service"
	[ "$status" -ne 0 ]
}

@test "the service runs the documented command as a oneshot, writing only the textfile folder" {
	[ "$(unit_value Type)" = oneshot ]
	[ "$(unit_value ExecStart)" = "/usr/local/bin/dcvctl -q check --format prometheus --output /var/lib/node_exporter/textfile_collector/dcvctl.prom" ]
	[ "$(unit_value ProtectSystem)" = strict ]
	[ "$(unit_value ReadWritePaths)" = /var/lib/node_exporter/textfile_collector ]
	[ "$(unit_value SuccessExitStatus)" = "1 4" ]
	[ "$(unit_value UMask)" = 0022 ]
	grep -qx 'Environment=DCVCTL_CONFIG=/etc/dcvctl/dcvctl.conf HOME=/var/lib/dcvctl' "$UNITS/dcvctl-check.service"
	grep -qx 'OnUnitActiveSec=5min' "$UNITS/dcvctl-check.timer"
	grep -qx 'WantedBy=timers.target' "$UNITS/dcvctl-check.timer"
}

# ------------------------------------------------------------------ the report

@test "the service's command writes a report promtool accepts, with every host unreachable" {
	need promtool
	run_service_command
	echo "$output"
	# 4: no host answered; SuccessExitStatus counts it as a run, since the report is complete
	[ "$status" -eq 4 ]
	[ -z "$output" ]
	[ "$(stat -c %a "$WORK/textfile/dcvctl.prom")" = 644 ]
	run promtool check metrics <"$WORK/textfile/dcvctl.prom"
	echo "$output"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	grep -qx 'dcvctl_check_healthy{id="gateway.ssh",host="gateway"} 0' "$WORK/textfile/dcvctl.prom"
	grep -qx 'dcvctl_check_healthy{id="agent.dcv1.ssh",host="dcv1"} 0' "$WORK/textfile/dcvctl.prom"
	grep -qx 'dcvctl_check_status{id="endpoint.tcp",host="endpoint",status="fail"} 1' "$WORK/textfile/dcvctl.prom"
	grep -qx 'dcvctl_checks{status="error"} [1-9][0-9]*' "$WORK/textfile/dcvctl.prom"
	grep -q '^dcvctl_last_run_timestamp_seconds [0-9]\{10\}$' "$WORK/textfile/dcvctl.prom"
	# only the report: the atomic write leaves no temporary file for node_exporter to trip on
	[ "$(ls -A "$WORK/textfile")" = dcvctl.prom ]
}

@test "an inventory error leaves the last report in place and fails the unit (exit 3)" {
	echo 'good report' >"$WORK/textfile/dcvctl.prom"
	printf '[gateway]\nadress = 127.0.0.1\n' >"$WORK/broken.conf"
	run env HOME="$WORK/home" SSH_AUTH_SOCK= DCVCTL_CONFIG="$WORK/broken.conf" timeout 60 "$DCVCTL" \
		-q check --format prometheus --output "$WORK/textfile/dcvctl.prom"
	echo "$output"
	[ "$status" -eq 3 ]
	[[ $output == *"unknown key 'adress'"* ]]
	[ "$(cat "$WORK/textfile/dcvctl.prom")" = 'good report' ]
	rm "$WORK/textfile/dcvctl.prom"
}

# ------------------------------------------------------------------ Prometheus rules

@test "promtool accepts the alerting rules" {
	need promtool
	run promtool check rules "$RULES/dcvctl.rules.yml"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ $output == *"SUCCESS: 5 rules found"* ]]
}

@test "each alert fires when its unit test says and not before" {
	need promtool
	run promtool test rules "$RULES/dcvctl.rules.test.yml"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ $output == *SUCCESS* ]]
}

@test "the rules' unit tests catch a rule that pages after one bad run" {
	need promtool
	sed 's/for: 10m/for: 1m/' "$RULES/dcvctl.rules.yml" >"$BATS_TEST_TMPDIR/dcvctl.rules.yml"
	cp "$RULES/dcvctl.rules.test.yml" "$BATS_TEST_TMPDIR/"
	run promtool test rules "$BATS_TEST_TMPDIR/dcvctl.rules.test.yml"
	echo "$output"
	[ "$status" -ne 0 ]
	[[ $output == *"alertname: DcvctlCheckUnhealthy, time: 11m"* ]]
}

@test "every dcvctl metric the rules use is in a real report, and documented" {
	[ -f "$WORK/textfile/dcvctl.prom" ] || run_service_command
	local m
	local used
	used=$(grep -o 'dcvctl_[a-z_]*' "$RULES/dcvctl.rules.yml" | sort -u)
	[ -n "$used" ]
	for m in $used; do
		echo "rules use $m"
		grep -q "^# TYPE $m gauge$" "$WORK/textfile/dcvctl.prom"
	done
	for m in $(sed -n 's/^# TYPE \(dcvctl_[a-z_]*\) .*/\1/p' "$WORK/textfile/dcvctl.prom"); do
		echo "report has $m"
		grep -q "^\.B $m\$" "$ROOT/man/dcvctl.1"
		grep -q "| \`$m" "$ROOT/README.md"
	done
}
