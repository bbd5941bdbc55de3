#!/usr/bin/env bats
# probe ws against other people's WebSocket servers (issue 11, RFC 6455 §4.1 and §5): Python
# `websockets` (Debian) and node's `ws` (npm, tests/peers/install), websockify as the lab runs
# it, and a server that breaks one rule at a time (tests/peers/bad-ws-server). All serve TLS on 127.0.0.1 with a self-signed
# certificate made here; dcvctl reaches them by name through --connect-to.

bats_require_minimum_version 1.5.0

PEERS="$BATS_TEST_DIRNAME/../peers"
# python3 first on PATH may be a pyenv shim without Debian's modules (machine-notes.md)
PY=/usr/bin/python3

load loopback_helper

# missing TOOL...: under CI=true a missing tool fails the file; elsewhere its tests skip.
missing() {
	if [ "${CI:-}" = true ]; then
		echo "ws-peers.bats: $* (scripts/deps installs it)" >&2
		return 1
	fi
	echo "$*"
}

setup_file() {
	DCVCTL=${DCVCTL:-$BATS_TEST_DIRNAME/../../dcvctl}
	[ -x "$DCVCTL" ] || {
		echo "no dcvctl binary at $DCVCTL (set DCVCTL)" >&2
		return 1
	}
	export DCVCTL
	command -v openssl >/dev/null || {
		echo "ws-peers.bats: needs openssl (scripts/deps installs it)" >&2
		return 1
	}
	PY_SKIP= NODE_SKIP= WSF_SKIP=
	"$PY" -c 'import websockets' 2>/dev/null || PY_SKIP=$(missing "needs python3-websockets") || return 1
	if ! "$PY" -c 'import websockify' 2>/dev/null; then
		WSF_SKIP=$(missing "needs python3-websockify") || return 1
	elif ! command -v socat >/dev/null; then
		WSF_SKIP=$(missing "needs socat") || return 1
	fi
	if ! command -v node >/dev/null; then
		NODE_SKIP=$(missing "needs node") || return 1
	elif [ ! -f "$PEERS/node/node_modules/ws/package.json" ]; then
		NODE_SKIP=$(missing "needs node's ws (run tests/peers/install)") || return 1
	fi
	export PY_SKIP NODE_SKIP WSF_SKIP
	WS_DIR="$BATS_FILE_TMPDIR/ws"
	export WS_DIR
	mkdir -p "$WS_DIR"
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=ws.test \
		-addext subjectAltName=DNS:ws.test -keyout "$WS_DIR/key.pem" -out "$WS_DIR/cert.pem" 2>/dev/null
	PIDS="$WS_DIR/pids"
	: >"$PIDS"
	if [ -z "$PY_SKIP" ]; then
		PY_PORT=$(serve py "$PY" "$PEERS/py-websockets-server" "$WS_DIR/cert.pem" "$WS_DIR/key.pem" 0.5)
	fi
	if [ -z "$NODE_SKIP" ]; then
		NODE_PORT=$(serve node node "$PEERS/node-ws-server" "$WS_DIR/cert.pem" "$WS_DIR/key.pem" 500)
	fi
	if [ -z "$WSF_SKIP" ]; then
		# websockify (the lab's DCV server front end) in front of an echo on another port
		read -r WSF_PORT ECHO_PORT <<<"$("$PY" -c 'import socket
s = [socket.socket() for _ in range(2)]
for x in s:
    x.bind(("127.0.0.1", 0))
print(*[x.getsockname()[1] for x in s])')"
		socat "TCP-LISTEN:$ECHO_PORT,bind=127.0.0.1,fork,reuseaddr" EXEC:cat >/dev/null 2>&1 3>&- &
		echo $! >>"$PIDS"
		"$PY" -m websockify --cert "$WS_DIR/cert.pem" --key "$WS_DIR/key.pem" "127.0.0.1:$WSF_PORT" \
			"127.0.0.1:$ECHO_PORT" >"$WS_DIR/websockify.log" 2>&1 3>&- &
		echo $! >>"$PIDS"
		wait_port "$WSF_PORT"
	fi
	export PY_PORT NODE_PORT WSF_PORT
}


teardown_file() {
	stop_all "$WS_DIR/pids"
}

setup() {
	cd "$BATS_TEST_TMPDIR" || return 1
	unset DCVCTL_CONFIG
	# servers a test starts are its own
	PIDS="$BATS_TEST_TMPDIR/pids"
	: >"$PIDS"
}

teardown() {
	stop_all "$PIDS"
}

# serve NAME CMD...: start a server that prints its port first, its pid into $PIDS; print the
# port (5 s at most).
serve() {
	local name=$1 i
	shift
	"$@" >"$WS_DIR/$name.out" 2>"$WS_DIR/$name.err" 3>&- &
	echo $! >>"$PIDS"
	for i in $(seq 50); do
		if [ -s "$WS_DIR/$name.out" ]; then
			head -1 "$WS_DIR/$name.out"
			return 0
		fi
		sleep 0.1
	done
	echo "$name did not start: $(cat "$WS_DIR/$name.err")" >&2
	return 1
}

# stop_all PIDFILE: stops exactly the servers listed there (started by this file).
stop_all() {
	local p
	[ -f "$1" ] || return 0
	while read -r p; do
		kill "$p" 2>/dev/null || true
	done <"$1"
	: >"$1"
}

probe() {  # probe PORT ARGS...
	local port=$1
	shift
	"$DCVCTL" probe ws "https://ws.test:$port/" --connect-to "127.0.0.1:$port" --timeout 10s "$@"
}

pyjson() {  # pyjson JSON CODE -- e.g. pyjson "$output" 'assert d["ok"] is True, d'
	"$PY" -c "import json, sys
d = json.loads(sys.argv[1])
$2" "$1"
}

bad_server() {  # bad_server MODE: the misbehaving server's port
	serve "bad-$1" "$PY" "$PEERS/bad-ws-server" "$1" "$WS_DIR/cert.pem" "$WS_DIR/key.pem" "$BATS_TEST_TMPDIR/log"
}

# ---- independent implementations: the probe passes and both closes complete

@test "Python websockets: 101, a correct accept, and our close answered with 1000" {
	[ -z "$PY_SKIP" ] || skip "$PY_SKIP"
	run --separate-stderr probe "$PY_PORT" --json
	[ "$status" -eq 0 ]
	pyjson "$output" 'assert d["status"] == 101, d'
	pyjson "$output" 'assert d["accept_ok"] is True and d["rejected"] is None, d'
	pyjson "$output" 'assert d["close_code"] == 1000, d'
	pyjson "$output" 'assert d["failure"] is None, d'
}

@test "Python websockets: --hold gets pongs to our pings and answers the server's pings" {
	[ -z "$PY_SKIP" ] || skip "$PY_SKIP"
	run --separate-stderr probe "$PY_PORT" --hold 2s --interval 500ms --json
	[ "$status" -eq 0 ]
	pyjson "$output" 'assert d["hold"]["failure"] is None, d'
	pyjson "$output" 'assert d["hold"]["pongs"] >= 3, d'
	# the server pings every 0.5 s and drops a client that does not answer
	pyjson "$output" 'assert d["hold"]["server_pings"] >= 2, d'
	pyjson "$output" 'assert d["close_code"] == 1000, d'
}

@test "node ws: 101, a correct accept, and our close answered with 1000" {
	[ -z "$NODE_SKIP" ] || skip "$NODE_SKIP"
	run --separate-stderr probe "$NODE_PORT" --json
	[ "$status" -eq 0 ]
	pyjson "$output" 'assert d["status"] == 101, d'
	pyjson "$output" 'assert d["accept_ok"] is True and d["rejected"] is None, d'
	pyjson "$output" 'assert d["close_code"] == 1000, d'
	pyjson "$output" 'assert d["failure"] is None, d'
}

@test "node ws: --hold gets pongs to our pings and answers the server's pings" {
	[ -z "$NODE_SKIP" ] || skip "$NODE_SKIP"
	run --separate-stderr probe "$NODE_PORT" --hold 2s --interval 500ms --json
	[ "$status" -eq 0 ]
	pyjson "$output" 'assert d["hold"]["failure"] is None, d'
	pyjson "$output" 'assert d["hold"]["pongs"] >= 3, d'
	pyjson "$output" 'assert d["hold"]["server_pings"] >= 2, d'
	pyjson "$output" 'assert d["close_code"] == 1000, d'
}

@test "node ws: the text output says ok and exits 0" {
	[ -z "$NODE_SKIP" ] || skip "$NODE_SKIP"
	run --separate-stderr probe "$NODE_PORT"
	[ "$status" -eq 0 ]
	[[ "$output" == "ok 101 Switching Protocols, Sec-WebSocket-Accept correct"* ]]
}

@test "websockify: --hold gets pongs, and our close is answered with 1000" {
	[ -z "$WSF_SKIP" ] || skip "$WSF_SKIP"
	run --separate-stderr probe "$WSF_PORT" --hold 1s --interval 250ms --json
	[ "$status" -eq 0 ]
	pyjson "$output" 'assert d["accept_ok"] is True, d'
	pyjson "$output" 'assert d["hold"]["pongs"] >= 3, d'
	pyjson "$output" 'assert d["close_code"] == 1000, d'
	pyjson "$output" 'assert d["failure"] is None, d'
}

# ---- the handshake (§4.1)

@test "a 101 with odd case and optional whitespace around the values is accepted" {
	port=$(bad_server ows)
	run --separate-stderr probe "$port" --json
	[ "$status" -eq 0 ]
	pyjson "$output" 'assert d["accept_ok"] is True, d'
}

@test "a 101 without an Upgrade header fails, naming it" {
	port=$(bad_server no-upgrade)
	run --separate-stderr probe "$port"
	[ "$status" -eq 1 ]
	[[ "$output" == *"101 Switching Protocols but no 'Upgrade' header"* ]]
}

@test "a 101 upgrading to something else than websocket fails, naming it" {
	port=$(bad_server upgrade-h2c)
	run --separate-stderr probe "$port"
	[ "$status" -eq 1 ]
	[[ "$output" == *"'Upgrade: h2c' instead of websocket"* ]]
}

@test "a 101 whose Connection lacks the token Upgrade fails, naming it" {
	port=$(bad_server no-conn-token)
	run --separate-stderr probe "$port" --json
	[ "$status" -eq 1 ]
	pyjson "$output" 'assert d["ok"] is False and d["accept_ok"] is False, d'
	pyjson "$output" 'assert "without the token Upgrade" in d["rejected"], d'
}

@test "a 101 choosing a subprotocol we did not ask for fails, naming it" {
	port=$(bad_server protocol)
	run --separate-stderr probe "$port"
	[ "$status" -eq 1 ]
	[[ "$output" == *"an unrequested subprotocol 'Sec-WebSocket-Protocol: chat'"* ]]
}

@test "a 101 choosing an extension we did not ask for fails, naming it" {
	port=$(bad_server extension)
	run --separate-stderr probe "$port"
	[ "$status" -eq 1 ]
	[[ "$output" == *"an unrequested extension 'Sec-WebSocket-Extensions: permessage-deflate'"* ]]
}

# ---- frames (§5) and the close handshake (§5.5.1, §7)

@test "a masked frame from the server fails the probe, naming it" {
	port=$(bad_server masked)
	run --separate-stderr probe "$port"
	[ "$status" -eq 1 ]
	[[ "$output" == *"protocol error: masked frame from the server"* ]]
}

@test "a ping of 126 bytes fails the probe, naming it" {
	port=$(bad_server big-ping)
	run --separate-stderr probe "$port"
	[ "$status" -eq 1 ]
	[[ "$output" == *"control frame longer than 125 bytes"* ]]
}

@test "a frame with a reserved bit fails the probe, naming it" {
	port=$(bad_server rsv)
	run --separate-stderr probe "$port"
	[ "$status" -eq 1 ]
	[[ "$output" == *"reserved bits set"* ]]
}

@test "a server that never answers our close fails the probe within the close timeout" {
	port=$(bad_server silent-close)
	SECONDS=0
	run --separate-stderr probe "$port" --json
	[ "$status" -eq 1 ]
	[ "$SECONDS" -le 5 ]
	pyjson "$output" 'assert d["failure"] == "the server did not answer our close within 2.0 s", d'
	pyjson "$output" 'assert d["close_code"] == 0, d'
}

@test "a close from the server during --hold is echoed with its code and ends the hold" {
	port=$(bad_server server-close)
	run --separate-stderr probe "$port" --hold 3s --interval 1s --json
	[ "$status" -eq 1 ]
	pyjson "$output" 'assert d["close_code"] == 1001, d'
	pyjson "$output" 'assert "the server closed the WebSocket" in d["hold"]["failure"], d'
	wait_for_log
	[ "$(cat "$BATS_TEST_TMPDIR/log")" = "echo 1001" ]
}

wait_for_log() {
	local i
	for i in $(seq 30); do
		if [ -s "$BATS_TEST_TMPDIR/log" ]; then return 0; fi
		sleep 0.1
	done
}
