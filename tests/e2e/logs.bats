#!/usr/bin/env bats
# dcvctl logs on the deployed lab (issue 10, item 1): the right files per host, each line
# prefixed with its host and file, merged by time across hosts, --errors, --grep, --json, and
# --follow: a line written after it started, across rotation, through a pipe, and a dropped
# connection made again. Needs root; under CI=true a test that cannot run fails instead of
# skipping. Lines the tests write carry a marker unique to the run, so old lines never match.

bats_require_minimum_version 1.5.0

load lab_helper
load e2e_helper

DCV_LOG=/var/log/dcv/server.log
NGINX_ERR=/var/log/nginx/dcv-error.log

setup_file() {
	lab_setup_file
	[ ! -f "$BATS_FILE_TMPDIR/lab-missing" ] || return 0
	[ -x "$DCVCTL" ] || return 0
	e2e_restore_lab
}

teardown_file() {
	[ "$(id -u)" -ne 0 ] || [ ! -x "$DCVCTL" ] || e2e_restore_lab || true
}

setup() {
	lab_setup
	require_dcvctl
	MARK="e2e-logs-$$-$BATS_TEST_NUMBER-$RANDOM"
	FOLLOWER=
}

teardown() {
	# a follower a failed test left behind (its own pid, never a name)
	[ -z "$FOLLOWER" ] || kill -INT "$FOLLOWER" 2>/dev/null || true
	# a rotation the test did not undo: dcvserver still writes to the renamed file
	lab_exec dcv1 sh -c "[ ! -e $DCV_LOG.e2e ] || { cat $DCV_LOG >> $DCV_LOG.e2e && mv -f $DCV_LOG.e2e $DCV_LOG; }" || true
}

# expect_status N: fail with the command's output unless `run` gave status N.
expect_status() {
	if [ "$status" -ne "$1" ]; then
		echo "expected exit $1, got $status"
		echo "--- stdout:"
		echo "$output"
		echo "--- stderr:"
		echo "${stderr:-}"
		return 1
	fi
}

# absent REGEX -- no line of $output matches
absent() {
	if echo "$output" | grep -qE "$1"; then
		echo "unexpected line matching '$1':"
		echo "$output" | grep -E "$1"
		return 1
	fi
}

gone() {  # gone PID -- that process has ended
	! kill -0 "$1" 2>/dev/null
}

# dcv_line HOST TIME LEVEL TEXT -- append a server.log line in DCV's own format
dcv_line() {
	lab_exec "$1" sh -c "printf '%s,123456 [  4242:4243  ] %-5s main - %s\n' '$2' '$3' '$4' >> $DCV_LOG"
}

# utc_iso HOST 'YYYY-MM-DD HH:MM:SS' -- that local time of HOST in UTC, as --json writes it
utc_iso() {
	lab_exec "$1" date -u -d "$2" +%Y-%m-%dT%H:%M:%S
}

# The pid of the sshd process that serves the session running PID (walks up the parents).
sshd_session_of() {
	local pid=$1 comm
	while [ "$pid" -gt 1 ]; do
		comm=$(ps -o comm= -p "$pid")
		case $comm in sshd | sshd-session) echo "$pid" && return 0 ;; esac
		pid=$(ps -o ppid= -p "$pid" | tr -d ' ')
	done
	return 1
}

# ------------------------------------------------------------------ one shot

@test "logs reads the agents' server.log and the gateway's nginx log, each line prefixed with host and file" {
	dcv_line dcv1 "$(date +%F) 00:00:01" INFO "$MARK dcv1"
	dcv_line dcv2 "$(date +%F) 00:00:02" INFO "$MARK dcv2"
	lab_exec gateway sh -c "echo '$(date +%Y/%m/%d) 00:00:03 [error] 7#7: *1 $MARK gateway' >> $NGINX_ERR"
	run --separate-stderr dcv logs -n 50
	expect_status 0
	echo "$output" | grep -qx "dcv1 $DCV_LOG: .* INFO  main - $MARK dcv1"
	echo "$output" | grep -qx "dcv2 $DCV_LOG: .* INFO  main - $MARK dcv2"
	echo "$output" | grep -qx "gateway $NGINX_ERR: .*\[error\] 7#7: \*1 $MARK gateway"
	# every line names a managed host (the bastion keeps no logs dcvctl reads)
	[ "$(echo "$output" | grep -cvE '^(gateway|dcv1|dcv2) /')" -eq 0 ]
}

@test "logs HOST reads only that host" {
	dcv_line dcv1 "$(date +%F) 00:00:01" INFO "$MARK dcv1"
	dcv_line dcv2 "$(date +%F) 00:00:02" INFO "$MARK dcv2"
	run --separate-stderr dcv logs -n 50 dcv2
	expect_status 0
	echo "$output" | grep -q "^dcv2 $DCV_LOG: .*$MARK dcv2$"
	absent "$MARK dcv1"
	[ "$(echo "$output" | grep -cv '^dcv2 ')" -eq 0 ]
}

@test "lines of several hosts are merged by their time" {
	dcv_line dcv1 "2026-01-02 10:00:02" INFO "$MARK second"
	dcv_line dcv2 "2026-01-02 10:00:01" INFO "$MARK first"
	dcv_line dcv2 "2026-01-02 10:00:03" INFO "$MARK third"
	run --separate-stderr dcv logs -n 50 --grep "$MARK" dcv2 dcv1
	expect_status 0
	[ "$(echo "$output" | sed 's/.* - //' | tr '\n' '|')" = "$MARK first|$MARK second|$MARK third|" ]
	[ "$(echo "$output" | cut -d' ' -f1 | tr '\n' ' ')" = "dcv2 dcv1 dcv2 " ]
}

@test "logs --errors keeps errors and warnings and drops the rest" {
	dcv_line dcv1 "$(date +%F) 00:00:01" INFO "$MARK plain"
	dcv_line dcv1 "$(date +%F) 00:00:02" WARN "$MARK warned"
	dcv_line dcv1 "$(date +%F) 00:00:03" ERROR "$MARK broken"
	run --separate-stderr dcv logs -n 50 --errors dcv1
	expect_status 0
	echo "$output" | grep -q "WARN  main - $MARK warned$"
	echo "$output" | grep -q "ERROR main - $MARK broken$"
	absent "$MARK plain"
	absent ' (INFO|DEBUG) +[a-z-]+ - '
}

@test "logs --json writes one object per line with host, file, time, level and line" {
	dcv_line dcv1 "2026-01-02 10:00:04" ERROR "$MARK json"
	run --separate-stderr dcv logs -n 50 --json --grep "$MARK" dcv1
	expect_status 0
	[ "$(echo "$output" | wc -l)" -eq 1 ]
	pyjson "$output" "
assert set(d) == {'host', 'file', 'time', 'level', 'line'}, d
assert d['host'] == 'dcv1', d
assert d['file'] == '$DCV_LOG', d
assert d['level'] == 'error', d
assert d['time'] == '$(utc_iso dcv1 "2026-01-02 10:00:04").123Z', d
assert d['line'].endswith('ERROR main - $MARK json'), d"
}

@test "logs --grep keeps matching lines; a bad expression is a usage error (exit 2)" {
	dcv_line dcv1 "$(date +%F) 00:00:01" INFO "$MARK alpha"
	dcv_line dcv1 "$(date +%F) 00:00:02" INFO "$MARK beta"
	run --separate-stderr dcv logs -n 50 --grep "$MARK (beta|gamma)" dcv1
	expect_status 0
	[ "$(echo "$output" | wc -l)" -eq 1 ]
	echo "$output" | grep -q "$MARK beta$"
	run --separate-stderr dcv logs --grep '(' dcv1
	expect_status 2
	[[ $stderr == *"bad regular expression '(' for --grep"* ]]
	[ -z "$output" ]
}

@test "logs of a host not in the inventory is a usage error (exit 2)" {
	run --separate-stderr dcv logs dvc1
	expect_status 2
	[[ $stderr == *"unknown host 'dvc1'"*"(did you mean 'dcv1'?)"* ]]
	[ -z "$output" ]
}

@test "logs --since keeps only what was written since then" {
	dcv_line dcv1 "2020-01-01 00:00:00" ERROR "$MARK ancient"
	dcv_line dcv1 "$(lab_exec dcv1 date '+%F %T')" INFO "$MARK recent"
	run --separate-stderr dcv logs --since 10m --grep "$MARK" dcv1
	expect_status 0
	echo "$output" | grep -q "$MARK recent$"
	absent "$MARK ancient"
}

# ------------------------------------------------------------------ follow

@test "logs --follow prints a line written after it started, keeps going after rotation, and Ctrl-C exits 0" {
	local out=$BATS_TEST_TMPDIR/follow.out err=$BATS_TEST_TMPDIR/follow.err
	# into a file, not a terminal: each line must still leave at once
	timeout 60 "$DCVCTL" -c "$LAB_CONF" logs -f -n 1 dcv1 >"$out" 2>"$err" 3>&- &
	FOLLOWER=$!
	wait_for 20 test -s "$out"
	dcv_line dcv1 "$(date +%F) 00:00:01" WARN "$MARK after start"
	wait_for 20 grep -q "^dcv1 $DCV_LOG: .*WARN  main - $MARK after start$" "$out"
	lab_exec dcv1 sh -c "mv $DCV_LOG $DCV_LOG.e2e && : > $DCV_LOG"
	dcv_line dcv1 "$(date +%F) 00:00:02" INFO "$MARK after rotation"
	wait_for 20 grep -q "^dcv1 $DCV_LOG: .*$MARK after rotation$" "$out"
	# undo the rotation: dcvserver keeps writing to the file it opened
	lab_exec dcv1 sh -c "cat $DCV_LOG >> $DCV_LOG.e2e && mv -f $DCV_LOG.e2e $DCV_LOG"
	kill -INT "$FOLLOWER"
	local rc=0
	wait "$FOLLOWER" || rc=$?
	FOLLOWER=
	[ "$rc" -eq 0 ]
	[ "$(grep -c "$MARK after start" "$out")" -eq 1 ]
}

@test "logs --follow writes each line into a pipe as it arrives" {
	local out=$BATS_TEST_TMPDIR/pipe.out
	{ timeout 60 "$DCVCTL" -c "$LAB_CONF" logs -f -n 0 dcv1 | cat >"$out"; } 3>&- &
	local pipeline=$!
	sleep 3
	dcv_line dcv1 "$(date +%F) 00:00:01" INFO "$MARK piped"
	wait_for 20 grep -q "$MARK piped$" "$out"
	# still running: the line came through the pipe while dcvctl was following
	kill -0 "$pipeline"
	FOLLOWER=$(pgrep -P "$pipeline" -x timeout || true)
	[ -z "$FOLLOWER" ] || kill -TERM "$FOLLOWER"
	wait "$pipeline" || true
	FOLLOWER=
}

@test "logs --follow makes a dropped connection again and says so on stderr" {
	local out=$BATS_TEST_TMPDIR/drop.out err=$BATS_TEST_TMPDIR/drop.err tail_pid session
	timeout 90 "$DCVCTL" -c "$LAB_CONF" logs -f -n 2 dcv1 >"$out" 2>"$err" 3>&- &
	FOLLOWER=$!
	wait_for 20 test -s "$out"
	# the lab's hosts share this machine's process table: the sshd serving our tail
	wait_for 10 pgrep -f "tail -n 2 -F $DCV_LOG"
	tail_pid=$(pgrep -f "tail -n 2 -F $DCV_LOG" | head -1)
	session=$(sshd_session_of "$tail_pid")
	kill -KILL "$session"
	wait_for 30 grep -q "^dcvctl: dcv1: .*; reconnecting in [0-9]*s$" "$err"
	# written while the connection is down: shown once it is back
	# (stamped now: after the reconnect, lines older than the last one read count as read)
	dcv_line dcv1 "$(lab_exec dcv1 date '+%F %T')" INFO "$MARK while away"
	wait_for 60 grep -qx "dcvctl: dcv1: reconnected" "$err"
	dcv_line dcv1 "$(date +%F) 00:00:01" INFO "$MARK after reconnect"
	wait_for 20 grep -q "^dcv1 $DCV_LOG: .*$MARK after reconnect$" "$out"
	[ "$(grep -c "$MARK while away$" "$out")" -eq 1 ]
	kill -INT "$FOLLOWER"
	local rc=0
	wait "$FOLLOWER" || rc=$?
	FOLLOWER=
	[ "$rc" -eq 0 ]
	# the tail of the dropped session did not outlive it
	wait_for 10 gone "$tail_pid"
}
