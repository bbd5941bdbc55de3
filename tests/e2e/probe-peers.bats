#!/usr/bin/env bats
# Probes against real peers on 127.0.0.1: nginx with and without HTTP/2, openssl s_server, and
# small Python servers that misbehave (never speak TLS, never end the body, a huge header).
# Every server is started here on a free port, in its own process group, and stopped in teardown.

PY=/usr/bin/python3   # python3 first on PATH may be a pyenv shim

load loopback_helper

need() {  # need TOOL: under CI a missing tool fails the test; elsewhere it skips
	command -v "$1" >/dev/null 2>&1 && return 0
	if [ "${CI:-}" = true ]; then echo "$1 is missing (scripts/deps installs it)" >&2; return 1; fi
	skip "$1 is not installed"
}

free_port() {
	"$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}


start() {  # start CMD...: in its own process group, recorded for teardown
	setsid "$@" >>"$DIR/servers.log" 2>&1 &
	echo $! >>"$DIR/pids"
}

setup() {
	DIR="$BATS_TEST_TMPDIR"
	: >"$DIR/pids"
	need openssl
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 90 \
		-keyout "$DIR/key.pem" -out "$DIR/cert.pem" -subj /CN=gw.example.com \
		-addext subjectAltName=DNS:gw.example.com 2>/dev/null
}

teardown() {
	local p
	while read -r p; do
		kill -- "-$p" 2>/dev/null || true
	done <"$DIR/pids"
}

# nginx_up LISTEN-SUFFIX: nginx on a free port ("ssl http2" or "ssl"), answering 200 "ok"
nginx_up() {
	need nginx
	PORT=$(free_port)
	mkdir -p "$DIR/nginx"
	cat >"$DIR/nginx/nginx.conf" <<CONF
daemon off;
master_process off;
pid $DIR/nginx/nginx.pid;
error_log $DIR/nginx/error.log;
events {}
http {
	access_log off;
	client_body_temp_path $DIR/nginx/cb;
	proxy_temp_path $DIR/nginx/px;
	fastcgi_temp_path $DIR/nginx/fc;
	uwsgi_temp_path $DIR/nginx/uw;
	scgi_temp_path $DIR/nginx/sc;
	server {
		listen 127.0.0.1:$PORT $1;
		ssl_certificate $DIR/cert.pem;
		ssl_certificate_key $DIR/key.pem;
		location / { return 200 "ok\n"; }
	}
}
CONF
	start nginx -p "$DIR/nginx" -e "$DIR/nginx/error.log" -c "$DIR/nginx/nginx.conf"
	wait_port "$PORT"
	URL="https://gw.example.com:$PORT/"
}

probe() {  # probe KIND [ARGS...]: dcvctl probe KIND against $URL through 127.0.0.1:$PORT
	local kind=$1
	shift
	run "$DCVCTL" probe "$kind" "$URL" --connect-to "127.0.0.1:$PORT" --timeout 5s "$@"
}

@test "probe tls against an HTTP/2 listener reports ALPN h2" {
	nginx_up "ssl http2"
	probe tls --json
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$("$PY" -c 'import json,sys; print(json.load(sys.stdin)["alpn"])' <<<"$output")" = h2 ]
}

@test "probe tls against an HTTP/1.1-only listener reports ALPN http/1.1" {
	nginx_up "ssl"
	probe tls --json
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$("$PY" -c 'import json,sys; print(json.load(sys.stdin)["alpn"])' <<<"$output")" = http/1.1 ]
}

@test "probe http answers over HTTP/2" {
	nginx_up "ssl http2"
	probe http --json
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$("$PY" -c 'import json,sys; d = json.load(sys.stdin); print(d["status"], d["http_version"])' <<<"$output")" = "200 2" ]
}

@test "cert check of an HTTP/2 URL reads the served certificate" {
	nginx_up "ssl http2"
	run "$DCVCTL" cert check "https://127.0.0.1:$PORT/" --name gw.example.com
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"covered     gw.example.com"* ]]
}

# inventory CA-FILE: an inventory whose endpoint is $URL through 127.0.0.1:$PORT
inventory() {
	cat >"$DIR/dcvctl.conf" <<CONF
[endpoint]
url = $URL
connect-to = 127.0.0.1:$PORT
ca-file = $1

[ssh]
identity = $DIR/nonexistent-identity

[gateway]
address = 127.0.0.1
ssh = 127.0.0.1:1
user = root
CONF
}

other_ca() {
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
		-keyout "$DIR/other.key" -out "$DIR/other.pem" -subj /CN=someone-else 2>/dev/null
}

@test "check of an HTTP/2 endpoint passes tls and http" {
	nginx_up "ssl http2"
	inventory "$DIR/cert.pem"
	run "$DCVCTL" -c "$DIR/dcvctl.conf" check --only endpoint --json
	echo "$output"
	[ "$("$PY" -c 'import json,sys; d = {c["id"]: c["status"] for c in json.load(sys.stdin)["checks"]}; print(d["endpoint.tls"], d["endpoint.http"])' <<<"$output")" = "pass pass" ]
}

@test "probe http with a ca-file that did not sign the server fails" {
	nginx_up "ssl http2"
	other_ca
	inventory "$DIR/other.pem"
	run "$DCVCTL" -c "$DIR/dcvctl.conf" probe http --timeout 5s
	echo "$output"
	[ "$status" -eq 1 ]
	[[ "$output" == *certificate* ]]
}

@test "probe http with the server's CA as ca-file passes" {
	nginx_up "ssl http2"
	inventory "$DIR/cert.pem"
	run "$DCVCTL" -c "$DIR/dcvctl.conf" probe http --timeout 5s
	echo "$output"
	[ "$status" -eq 0 ]
}

@test "probe ws with a ca-file that did not sign the server fails on the certificate" {
	nginx_up "ssl"
	other_ca
	inventory "$DIR/other.pem"
	run "$DCVCTL" -c "$DIR/dcvctl.conf" probe ws --timeout 5s
	echo "$output"
	[ "$status" -ne 0 ]
	[[ "$output" == *certificate* ]]
}

@test "cert check without a ca-file says plainly the chain was not verified" {
	run "$DCVCTL" cert check "$DIR/cert.pem" --name gw.example.com
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"chain    warning: NOT verified (no ca-file)"* ]]
}

# pyserver MODE: a Python server on a free port that misbehaves in one way:
#   silent      accepts TCP and never says a word (no TLS)
#   endless     TLS, a 200 head, then a body that trickles forever
#   hugeheader  TLS, a 200 head carrying one 200 KB header
#   redirect    TLS, a 302 head, then a body that never comes
pyserver() {
	PORT=$(free_port)
	cat >"$DIR/server.py" <<'PYEOF'
import socket, ssl, sys, threading, time
mode, port, cert, key = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
ls = socket.socket()
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("127.0.0.1", port))
ls.listen(8)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
ctx.set_alpn_protocols(["http/1.1"])

def serve(c):
    try:
        if mode == "silent":
            time.sleep(60)
            return
        s = ctx.wrap_socket(c, server_side=True)
        s.recv(65536)
        if mode == "redirect":
            s.sendall(b"HTTP/1.1 302 Found\r\nLocation: /elsewhere\r\nContent-Length: 1000000\r\n\r\n")
            time.sleep(30)
        elif mode == "endless":
            s.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n")
            while True:
                s.sendall(b"1\r\nx\r\n")
                time.sleep(0.5)
        else:
            s.sendall(b"HTTP/1.1 200 OK\r\nX-Big: " + b"a" * 200000 + b"\r\nContent-Length: 0\r\n\r\n")
            time.sleep(5)
    except Exception:
        pass

while True:
    c, _ = ls.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
PYEOF
	start "$PY" "$DIR/server.py" "$1" "$PORT" "$DIR/cert.pem" "$DIR/key.pem"
	wait_port "$PORT"
	URL="https://gw.example.com:$PORT/"
}

@test "probe http stops after the head of an endless body and keeps status and timings" {
	pyserver endless
	SECONDS=0
	probe http --json
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$SECONDS" -lt 4 ]
	[ "$("$PY" -c 'import json,sys; d = json.load(sys.stdin); print(d["status"])' <<<"$output")" = 200 ]
	"$PY" -c 'import json,sys; d = json.load(sys.stdin); assert d["timings"]["first_byte_ms"] > 0, d' <<<"$output"
}

@test "probe http reports a redirect from the head alone" {
	pyserver redirect
	SECONDS=0
	probe http --json
	echo "$output"
	[ "$SECONDS" -lt 4 ]
	[ "$("$PY" -c 'import json,sys; d = json.load(sys.stdin); print(d["status"], d["redirect"])' <<<"$output")" = "302 $URL"elsewhere ]
}

@test "probe http against a huge response header says so" {
	pyserver hugeheader
	probe http
	echo "$output"
	[ "$status" -eq 1 ]
	[[ "$output" == *"response head"*"larger than"* ]]
	[[ "$output" != *"ut of memory"* ]]
}

@test "probe http against a listener that never speaks TLS reports a TLS handshake timeout" {
	pyserver silent
	run "$DCVCTL" probe http "$URL" --connect-to "127.0.0.1:$PORT" --timeout 2s
	echo "$output"
	[ "$status" -ne 0 ]
	[[ "$output" == *"TLS handshake timed out"* ]]
}

@test "probe tls against a listener that never speaks TLS reports a TLS handshake timeout" {
	pyserver silent
	run "$DCVCTL" probe tls "$URL" --connect-to "127.0.0.1:$PORT" --timeout 2s
	echo "$output"
	[ "$status" -ne 0 ]
	[[ "$output" == *"TLS handshake timed out"* ]]
}

@test "cert check of a file that holds no certificate fails, with --key read too" {
	echo "not a certificate" >"$DIR/junk.pem"
	run "$DCVCTL" cert check "$DIR/junk.pem" --key "$DIR/key.pem"
	echo "$output"
	# 1, not LeakSanitizer's 23 when DCVCTL is a SAN=1 build: the key buffer is released
	[ "$status" -eq 1 ]
	[[ "$output" == *"no PEM certificate found"* ]]
}
