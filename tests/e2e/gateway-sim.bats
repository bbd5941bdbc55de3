#!/usr/bin/env bats
# The lab's Connection Gateway and Session Manager broker simulators on loopback (issue 9, item 4):
# the gateway asks the broker's resolver for every session and proxies HTTP and the WebSocket to
# the server it names (reference/dcv.md §4), with TLS client authentication from the credentials
# gen-gateway-certificates.sh makes (§5.1). tests/e2e/gwsim.py runs everything in one process on
# 127.0.0.1 with random ports, bounded to 60 s; no lab, no root. Under CI=true a missing tool fails.

bats_require_minimum_version 1.5.0

# python3 first on PATH may be a pyenv shim without Debian's modules (machine-notes.md)
PY=/usr/bin/python3

need() {  # need WHAT COMMAND...: under CI a missing tool fails the test; elsewhere it skips
	local what=$1
	shift
	"$@" >/dev/null 2>&1 && return 0
	if [ "${CI:-}" = true ]; then
		echo "gateway-sim.bats: needs $what (scripts/deps installs it)" >&2
		return 1
	fi
	skip "needs $what"
}

setup() {
	need "python3 >= 3.11 (tomllib)" "$PY" -c 'import tomllib'
	need openssl openssl version
}

gwsim() {
	run timeout 90 "$PY" "$BATS_TEST_DIRNAME/gwsim.py" "$1"
}

@test "the gateway routes HTTP and a WebSocket to the agent the resolver names" {
	gwsim route
	[ "$status" -eq 0 ]
	[[ "$output" == *"ok route: HTTP for session dcv1 reaches the agent the resolver names"* ]]
	[[ "$output" == *"ok route: WebSocket upgrade for session dcv1 answers 101 through the gateway"* ]]
	[[ "$output" == *"ok route: WebSocket messages flow both ways"* ]]
	[[ "$output" == *"ok route: a 404 from the resolver gives the error page"* ]]
	[[ "$output" == *"ok route: a server's web-url-path (WebUrlPath) prefixes the path the client asked"* ]]
	[[ "$output" == *"ok route: the broker answers the five fields of §4"* ]]
}

@test "with TLS client authentication only the gateway's certificate is resolved" {
	gwsim mtls
	[ "$status" -eq 0 ]
	[[ "$output" == *"ok mtls: the resolver refuses a client without the certificate"* ]]
	[[ "$output" == *"ok mtls: WebSocket messages flow both ways"* ]]
	[[ "$output" == *"ok mtls: a gateway without [resolver] cert-file cannot resolve (502)"* ]]
}

@test "the gateway verifies the resolver against its ca-file" {
	gwsim ca
	[ "$status" -eq 0 ]
	[[ "$output" == *"ok ca: a resolver that does not verify against [resolver] ca-file is not used"* ]]
}

@test "the gateway refuses an IP in the resolver url" {
	gwsim ip-refused
	[ "$status" -eq 0 ]
	[[ "$output" == *"ok ip-refused:"* ]]
}

@test "the broker answers 404 for a server without a DNS mapping" {
	gwsim dns-mapping
	[ "$status" -eq 0 ]
	[[ "$output" == *"ok dns-mapping: without the agent's DNS mapping the broker answers 404"* ]]
}

@test "a resolver answering Host and HttpPort does not route" {
	gwsim wrong-fields
	[ "$status" -eq 0 ]
	[[ "$output" == *"ok wrong-fields:"* ]]
}

@test "gen-gateway-certificates prints its folder and a password that opens the trust store" {
	gwsim gen-script
	[ "$status" -eq 0 ]
	[[ "$output" == *"ok gen-script: prints the folder it wrote (§5.1)"* ]]
	[[ "$output" == *"ok gen-script: the trust store opens with that password and holds the gateway's certificate"* ]]
}
