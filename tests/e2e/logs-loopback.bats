#!/usr/bin/env bats
# dcvctl logs against a real sshd on 127.0.0.1 (issue 10, item 1), without the lab: the sshd
# runs in its own mount namespace where /var/log is a scratch folder, so the hosts' log files
# are the test's own. Usage errors, the merge by time, --errors, --json, --since, exit codes
# for unreachable hosts, and --follow (rotation, a pipe, a dropped connection, Ctrl-C).
# Needs root (sshd logs in as root, the mount namespace); under CI=true it fails without it.

bats_require_minimum_version 1.5.0

load sshd_helper

DCV_LOG=/var/log/dcv/server.log
NGINX_ERR=/var/log/nginx/dcv-error.log

setup_file() {
	sshd_dcvctl_init
	[ -z "${SSHD_SKIP:-}" ] || return 0
	unset NO_COLOR
	client_key ed25519 ed25519

	# what the hosts see as /var/log
	VARLOG="$SSHD_DIR/varlog"
	export VARLOG
	mkdir -p "$VARLOG/dcv" "$VARLOG/nginx"
	# sshd and every session it starts see VARLOG as /var/log; the machine's stays untouched
	cat >"$SSHD_DIR/sshd-ns" <<-EOF
		#!/bin/sh
		exec unshare -m --propagation private sh -c 'mount --bind "\$0" /var/log && exec /usr/sbin/sshd "\$@"' "$VARLOG" "\$@"
	EOF
	chmod 755 "$SSHD_DIR/sshd-ns"
	read -r L_PORT CLOSED_PORT <<<"$(free_ports 2)"
	export L_PORT CLOSED_PORT
	SSHD_BIN="$SSHD_DIR/sshd-ns" sshd_start logs "$L_PORT"
}

teardown_file() {
	[ -z "${SSHD_SKIP:-}" ] || return 0
	sshd_stop_all
}

setup() {
	[ -z "${SSHD_SKIP:-}" ] || skip "$SSHD_SKIP"
	INV="$BATS_TEST_TMPDIR/dcvctl.conf"
	# the hosts' files as this machine sees them
	H_DCV=$VARLOG/dcv/server.log
	H_NGX=$VARLOG/nginx/dcv-error.log
	{
		printf '[ssh]\nidentity = %s\nknown-hosts = %s\n' "$SSHD_DIR/keys/ed25519" "$SSHD_DIR/known_hosts"
		printf 'host-key-policy = accept-new\nconnect-timeout = 5s\nsudo = no\n\n'
		printf '[gateway]\naddress = 127.0.0.1\nssh = 127.0.0.1:%s\nuser = root\nproxy = nginx\n\n' "$L_PORT"
		printf '[agent dcv1]\naddress = 127.0.0.1\nssh = 127.0.0.1:%s\nuser = root\n' "$L_PORT"
	} >"$INV"
	# fresh logs for every test; the nginx main error log exists, so no journal stands in
	: >"$H_DCV"
	: >"$H_NGX"
	: >"$VARLOG/nginx/error.log"
	: >"$VARLOG/nginx/dcv-access.log"
	FOLLOWER=
}

teardown() {
	[ -z "$FOLLOWER" ] || kill -TERM "$FOLLOWER" 2>/dev/null || true
}

dcv() {
	timeout 30 "$DCVCTL" -c "$INV" "$@"
}

# absent REGEX -- no line of $output matches
absent() {
	if echo "$output" | grep -qE "$1"; then
		echo "unexpected line matching '$1':"
		echo "$output" | grep -E "$1"
		return 1
	fi
}

wait_for() {  # wait_for SECONDS CMD...
	local end=$((SECONDS + $1))
	shift
	until "$@"; do
		[ "$SECONDS" -lt "$end" ] || return 1
		sleep 0.1
	done
}

gone() {
	! kill -0 "$1" 2>/dev/null
}

dcv_line() {  # dcv_line 'YYYY-MM-DD HH:MM:SS' LEVEL TEXT
	printf '%s,123456 [  4242:4243  ] %-5s main - %s\n' "$1" "$2" "$3" >>"$H_DCV"
}

nginx_line() {  # nginx_line 'YYYY/MM/DD HH:MM:SS' LEVEL TEXT
	printf '%s [%s] 812#812: *1 %s\n' "$1" "$2" "$3" >>"$H_NGX"
}

# ---------------------------------------------------------------- usage

@test "logs refuses a bad --grep, --since or --lines with exit 2 and no output" {
	run --separate-stderr dcv logs --grep '(' dcv1
	expect_status 2
	[[ $stderr == *"bad regular expression '(' for --grep"* ]]
	[ -z "$output" ]
	run --separate-stderr dcv logs --since soon
	expect_status 2
	[[ $stderr == *"bad duration 'soon' for --since"* ]]
	run --separate-stderr dcv logs --lines many
	expect_status 2
	[[ $stderr == *"bad value 'many' for --lines"* ]]
	run --separate-stderr dcv logs --folow
	expect_status 2
	[[ $stderr == *"did you mean '--follow'"* ]]
}

# ---------------------------------------------------------------- one shot

@test "logs merges the hosts' lines by time, each prefixed with host and file" {
	dcv_line "2026-01-02 10:00:01" INFO "one"
	nginx_line "2026/01/02 10:00:02" error "two connect() failed"
	dcv_line "2026-01-02 10:00:03" INFO "three"
	printf '    trace under three\n' >>"$H_DCV"
	nginx_line "2026/01/02 10:00:04" notice "four"
	run --separate-stderr dcv logs
	expect_status 0
	[ "${lines[0]}" = "dcv1 $DCV_LOG: 2026-01-02 10:00:01,123456 [  4242:4243  ] INFO  main - one" ]
	[ "${lines[1]}" = "gateway $NGINX_ERR: 2026/01/02 10:00:02 [error] 812#812: *1 two connect() failed" ]
	[ "${lines[2]}" = "dcv1 $DCV_LOG: 2026-01-02 10:00:03,123456 [  4242:4243  ] INFO  main - three" ]
	[ "${lines[3]}" = "dcv1 $DCV_LOG:     trace under three" ]
	[ "${lines[4]}" = "gateway $NGINX_ERR: 2026/01/02 10:00:04 [notice] 812#812: *1 four" ]
	[ "${#lines[@]}" -eq 5 ]
}

@test "logs --errors keeps errors and warnings, with the trace under an error" {
	dcv_line "2026-01-02 10:00:01" INFO "plain"
	dcv_line "2026-01-02 10:00:02" WARN "warned"
	dcv_line "2026-01-02 10:00:03" ERROR "broken"
	printf '    at the trace of broken\n' >>"$H_DCV"
	nginx_line "2026/01/02 10:00:04" notice "signal process started, error log reopened"
	nginx_line "2026/01/02 10:00:05" crit "SSL_do_handshake() failed"
	run --separate-stderr dcv logs --errors
	expect_status 0
	[ "${#lines[@]}" -eq 4 ]
	[[ ${lines[0]} == *"WARN  main - warned" ]]
	[[ ${lines[1]} == *"ERROR main - broken" ]]
	[ "${lines[2]}" = "dcv1 $DCV_LOG:     at the trace of broken" ]
	[[ ${lines[3]} == *"[crit] 812#812: *1 SSL_do_handshake() failed" ]]
	absent 'plain|reopened'
}

@test "logs --json writes one sanitised object per line with host, file, time, level and line" {
	printf '2026-01-02 10:00:06,500000 [ 1:1 ] ERROR main - \033[31mred\033[0m\n' >>"$H_DCV"
	dcv_line "2026-01-02 10:00:07" INFO "fine"
	run --separate-stderr dcv logs --json dcv1
	expect_status 0
	[ "${#lines[@]}" -eq 2 ]
	want=$(date -u -d "2026-01-02 10:00:06" +%Y-%m-%dT%H:%M:%S)
	output=${lines[0]}
	[ "$(json 'sorted(d)')" = "['file', 'host', 'level', 'line', 'time']" ]
	[ "$(json 'd["host"]')" = dcv1 ]
	[ "$(json 'd["file"]')" = "$DCV_LOG" ]
	[ "$(json 'd["level"]')" = error ]
	[ "$(json 'd["time"]')" = "$want.500Z" ]
	[ "$(json 'd["line"]')" = "2026-01-02 10:00:06,500000 [ 1:1 ] ERROR main - [31mred[0m" ]
	[[ ${lines[0]} != *$'\033'* ]]
	output=${lines[1]}
	[ "$(json 'd["level"]')" = info ]
}

@test "logs colours errors red and warnings yellow on a terminal, and not with NO_COLOR" {
	command -v script >/dev/null || {
		[ "${CI:-}" != true ] || { echo "needs script(1) (util-linux)"; return 1; }
		skip "needs script(1) (util-linux) for a terminal"
	}
	dcv_line "2026-01-02 10:00:01" WARN "warned"
	dcv_line "2026-01-02 10:00:02" ERROR "broken"
	dcv_line "2026-01-02 10:00:03" INFO "fine"
	# script(1) gives dcvctl a terminal: --color=auto turns colour on
	run script -qec "timeout 30 $DCVCTL -c $INV logs dcv1" /dev/null
	expect_status 0
	[[ $output == *$'\033[33m'*"warned"$'\033[0m'* ]]
	[[ $output == *$'\033[31m'*"broken"$'\033[0m'* ]]
	# an INFO line keeps the terminal's colour: only its prefix is dimmed
	fine=$(echo "$output" | grep 'INFO  main - fine')
	[[ $fine == $'\033[2m'"dcv1 $DCV_LOG:"$'\033[0m'" 2026-01-02 10:00:03,123456 "* ]]
	[[ $fine != *$'\033[3'* ]]
	NO_COLOR=1 run script -qec "timeout 30 $DCVCTL -c $INV logs dcv1" /dev/null
	expect_status 0
	[[ $output == *"ERROR main - broken"* ]]
	[[ $output != *$'\033'* ]]
}

@test "logs --since keeps what was written since then" {
	dcv_line "2020-01-01 00:00:00" ERROR "ancient"
	dcv_line "$(date '+%F %T')" INFO "recent"
	run --separate-stderr dcv logs --since 10m dcv1
	expect_status 0
	[ "${#lines[@]}" -eq 1 ]
	[[ ${lines[0]} == *"INFO  main - recent" ]]
}

@test "logs exits 1 when some hosts cannot be read and 4 when none can" {
	dcv_line "2026-01-02 10:00:01" INFO "still here"
	printf '\n[agent down]\naddress = 127.0.0.1\nssh = 127.0.0.1:%s\nuser = root\n' "$CLOSED_PORT" >>"$INV"
	run --separate-stderr dcv logs
	expect_status 1
	[[ $output == *"INFO  main - still here"* ]]
	[[ $stderr == *"dcvctl: down: cannot connect to"* ]]
	run --separate-stderr dcv logs down
	expect_status 4
	[ -z "$output" ]
}

# ---------------------------------------------------------------- follow

@test "logs --follow prints lines written after it started, across rotation, and exits 0 on Ctrl-C" {
	local out=$BATS_TEST_TMPDIR/follow.out rc=0
	dcv_line "2026-01-02 10:00:01" INFO "before"
	timeout 60 "$DCVCTL" -c "$INV" logs -f -n 1 dcv1 >"$out" 2>"$BATS_TEST_TMPDIR/follow.err" 3>&- &
	FOLLOWER=$!
	wait_for 15 grep -q "main - before$" "$out"
	dcv_line "2026-01-02 10:00:02" WARN "after start"
	wait_for 15 grep -q "^dcv1 $DCV_LOG: .*WARN  main - after start$" "$out"
	mv "$H_DCV" "$H_DCV.1"
	dcv_line "2026-01-02 10:00:03" INFO "after rotation"
	wait_for 15 grep -q "^dcv1 $DCV_LOG: .*main - after rotation$" "$out"
	kill -INT "$FOLLOWER"
	wait "$FOLLOWER" || rc=$?
	FOLLOWER=
	[ "$rc" -eq 0 ]
	[ "$(wc -l <"$out")" -eq 3 ]
}

@test "logs --follow writes each line into a pipe as it arrives" {
	local out=$BATS_TEST_TMPDIR/pipe.out
	{ timeout 60 "$DCVCTL" -c "$INV" logs -f -n 0 dcv1 | cat >"$out"; } 3>&- &
	local pipeline=$!
	FOLLOWER=$(pgrep -P "$pipeline" -x timeout)
	sleep 2
	dcv_line "2026-01-02 10:00:01" INFO "piped"
	wait_for 15 grep -q "main - piped$" "$out"
	kill -0 "$pipeline"
	kill -TERM "$FOLLOWER"
	wait "$pipeline" || true
	FOLLOWER=
}

# The sshd process serving the session that runs PID (walks up its parents).
sshd_session_of() {
	local pid=$1 comm
	while [ "$pid" -gt 1 ]; do
		comm=$(ps -o comm= -p "$pid")
		case $comm in sshd | sshd-session) echo "$pid" && return 0 ;; esac
		pid=$(ps -o ppid= -p "$pid" | tr -d ' ')
	done
	return 1
}

descends_from() {  # descends_from PID ANCESTOR
	local pid=$1
	while [ "$pid" -gt 1 ]; do
		[ "$pid" = "$2" ] && return 0
		pid=$(ps -o ppid= -p "$pid" | tr -d ' ')
	done
	return 1
}

@test "logs --follow makes a dropped connection again and says so on stderr" {
	local out=$BATS_TEST_TMPDIR/drop.out err=$BATS_TEST_TMPDIR/drop.err tail_pid session rc=0
	dcv_line "2026-01-02 10:00:01" INFO "before"
	timeout 60 "$DCVCTL" -c "$INV" logs -f -n 7 dcv1 >"$out" 2>"$err" 3>&- &
	FOLLOWER=$!
	wait_for 15 grep -q "main - before$" "$out"
	tail_pid=$(pgrep -f "tail -n 7 -F $DCV_LOG" | head -1)
	session=$(sshd_session_of "$tail_pid")
	# ours: the session descends from this file's sshd
	descends_from "$session" "$(cat "$SSHD_DIR/logs.pgid")"
	kill -KILL "$session"
	wait_for 15 grep -q "^dcvctl: dcv1: .*; reconnecting in 1s$" "$err"
	# written while the connection is down: shown once it is back
	dcv_line "2026-01-02 10:00:02" INFO "while away"
	wait_for 15 grep -qx "dcvctl: dcv1: reconnected" "$err"
	wait_for 10 gone "$tail_pid"
	dcv_line "2026-01-02 10:00:03" INFO "after reconnect"
	wait_for 15 grep -q "^dcv1 $DCV_LOG: .*main - after reconnect$" "$out"
	[ "$(grep -c "main - while away$" "$out")" -eq 1 ]
	kill -INT "$FOLLOWER"
	wait "$FOLLOWER" || rc=$?
	FOLLOWER=
	[ "$rc" -eq 0 ]
	# what was shown before the drop is not shown again
	[ "$(grep -c "main - before$" "$out")" -eq 1 ]
	[ "$(wc -l <"$out")" -eq 3 ]
}
