#!/usr/bin/env bats
# The SSH transport against real OpenSSH sshd processes on 127.0.0.1 (issue 2, "Tests"):
# key types, ssh-agent, jump hosts, port forwards, host-key policies, timeouts, exit codes,
# literal arguments and one shared connection per jump host.

bats_require_minimum_version 1.5.0

load sshd_helper

setup_file() {
	sshd_dcvctl_init
	[ -z "${SSHD_SKIP:-}" ] || return 0

	client_key rsa_pem rsa -b 3072 -m PEM
	client_key ed25519 ed25519
	client_key ecdsa ecdsa -b 256
	client_key agent ed25519
	client_key stranger ed25519

	read -r T_PORT J_PORT F_PORT C_PORT FWD_PORT MUTE_PORT CLOSED_PORT SLOW_PORT <<<"$(free_ports 8)"
	export T_PORT J_PORT F_PORT C_PORT FWD_PORT MUTE_PORT CLOSED_PORT SLOW_PORT

	sshd_start target "$T_PORT"
	sshd_start jump "$J_PORT"
	# the fleet's jump host: more than 3 unauthenticated connections at once would be dropped
	sshd_start fleetjump "$F_PORT" "MaxStartups 3"
	sshd_start changing "$C_PORT"
	# a host too busy to answer authentication: the key lookup takes 30 s
	# (a Match block: sshd keeps the first AuthorizedKeysFile line, sshd_start's own)
	sshd_start slowauth "$SLOW_PORT" "Match all" "AuthorizedKeysFile none" \
		"AuthorizedKeysCommand /bin/sleep 30" "AuthorizedKeysCommandUser nobody"
	spawn forward socat "TCP-LISTEN:$FWD_PORT,bind=127.0.0.1,fork,reuseaddr" "TCP:127.0.0.1:$T_PORT"
	spawn mute socat "TCP-LISTEN:$MUTE_PORT,bind=127.0.0.1,fork,reuseaddr" "EXEC:sleep 60"
	wait_listen "$FWD_PORT"
	wait_listen "$MUTE_PORT"

	KH="$SSHD_DIR/known_hosts"
	export KH
	{
		known_host target
		known_host jump
		known_host fleetjump
		known_host changing
		known_host slowauth
		known_host target "$FWD_PORT"
	} >"$KH"
}

teardown_file() {
	sshd_stop_all
}

setup() {
	[ -z "${SSHD_SKIP:-}" ] || skip "$SSHD_SKIP"
	INV="$BATS_TEST_TMPDIR/dcvctl.conf"
}

dcv() {
	"$DCVCTL" -c "$INV" "$@"
}

# inventory [SSH-LINE...]: [ssh] with the given lines (defaults: ed25519 key, strict, $KH),
# then a [gateway] on the target sshd; more sections can be appended to $INV.
inventory() {
	{
		echo "[ssh]"
		local line have_identity=no have_kh=no
		for line in "$@"; do
			echo "$line"
			case $line in identity*) have_identity=yes ;; known-hosts*) have_kh=yes ;; esac
		done
		[ $have_identity = yes ] || echo "identity = $SSHD_DIR/keys/ed25519"
		[ $have_kh = yes ] || echo "known-hosts = $KH"
		echo "connect-timeout = 5s"
		echo
		echo "[gateway]"
		echo "address = 127.0.0.1"
		echo "ssh = 127.0.0.1:$T_PORT"
		echo "user = root"
	} >"$INV"
}

ms_now() {
	echo $(($(date +%s%N) / 1000000))
}

# ---------------------------------------------------------------- keys and agent

@test "an RSA PEM key authenticates against OpenSSH 9.2 defaults" {
	grep -q -- '-----BEGIN RSA PRIVATE KEY-----' "$SSHD_DIR/keys/rsa_pem"
	inventory "identity = $SSHD_DIR/keys/rsa_pem"
	before=$(log_count target "Accepted publickey for root")
	run --separate-stderr dcv exec gateway -- id -un
	expect_status 0
	[ "$output" = root ]
	fp=$(fingerprint "$SSHD_DIR/keys/rsa_pem.pub")
	grep -F "Accepted publickey for root" "$SSHD_DIR/target/sshd.log" | grep -qF "RSA $fp"
	[ "$(log_count target "Accepted publickey for root")" -eq $((before + 1)) ]
}

@test "an ed25519 key authenticates" {
	inventory "identity = $SSHD_DIR/keys/ed25519"
	run --separate-stderr dcv exec gateway -- id -un
	expect_status 0
	[ "$output" = root ]
	grep -F "Accepted publickey for root" "$SSHD_DIR/target/sshd.log" |
		grep -qF "ED25519 $(fingerprint "$SSHD_DIR/keys/ed25519.pub")"
}

@test "an ECDSA key authenticates" {
	inventory "identity = $SSHD_DIR/keys/ecdsa"
	run --separate-stderr dcv exec gateway -- id -un
	expect_status 0
	[ "$output" = root ]
	grep -F "Accepted publickey for root" "$SSHD_DIR/target/sshd.log" |
		grep -qF "ECDSA $(fingerprint "$SSHD_DIR/keys/ecdsa.pub")"
}

@test "a missing and a refused identity are skipped and the next one is used" {
	inventory "identity = $SSHD_DIR/keys/does-not-exist" \
		"identity = $SSHD_DIR/keys/stranger" \
		"identity = $SSHD_DIR/keys/ed25519"
	run --separate-stderr dcv exec gateway -- id -un
	expect_status 0
	[ "$output" = root ]
}

@test "no accepted key is an authentication failure: exec 255, probe 4" {
	inventory "identity = $SSHD_DIR/keys/stranger"
	run --separate-stderr dcv exec gateway -- id -un
	expect_status 255
	[ -z "$output" ]
	[[ $stderr == *"authentication as 'root' refused"* ]]
	[[ $stderr == *"$SSHD_DIR/keys/stranger (refused)"* ]]
	run --separate-stderr dcv hosts --probe --json
	expect_status 4
	[ "$(json "d['summary']['failed']")" = 1 ]
	[ "$(json "d['hosts'][0]['state']")" = failed ]
}

@test "ssh-agent alone authenticates when no identity file is readable" {
	sock="$SSHD_DIR/agent.sock"
	spawn agent ssh-agent -D -a "$sock"
	for _ in $(seq 50); do [ -S "$sock" ] && break; sleep 0.1; done
	SSH_AUTH_SOCK="$sock" ssh-add -q "$SSHD_DIR/keys/agent"
	inventory "identity = $SSHD_DIR/keys/unreadable-missing"

	# without the agent nothing authenticates
	run --separate-stderr dcv exec gateway -- id -un
	expect_status 255
	[[ $stderr == *"refused"* ]]

	SSH_AUTH_SOCK="$sock" run --separate-stderr dcv exec gateway -- id -un
	stop agent
	expect_status 0
	[ "$output" = root ]
	grep -F "Accepted publickey for root" "$SSHD_DIR/target/sshd.log" |
		grep -qF "ED25519 $(fingerprint "$SSHD_DIR/keys/agent.pub")"
}

# ---------------------------------------------------------------- how a host is reached

@test "a jump through a second sshd uses a direct-tcpip channel on it" {
	inventory
	cat >>"$INV" <<-EOF
		jump = bastion

		[bastion]
		address = 127.0.0.1
		ssh = 127.0.0.1:$J_PORT
		user = root
	EOF
	before=$(log_count jump "server_request_direct_tcpip")
	run --separate-stderr dcv exec gateway -- id -un
	expect_status 0
	[ "$output" = root ]
	[ "$(log_count jump "server_request_direct_tcpip")" -eq $((before + 1)) ]
	grep -F "server_request_direct_tcpip" "$SSHD_DIR/jump/sshd.log" | tail -1 |
		grep -qF "target 127.0.0.1 port $T_PORT"

	run --separate-stderr dcv hosts --json
	expect_status 0
	[ "$(json "[h['ssh']['via'] for h in d['hosts'] if h['name'] == 'gateway'][0]")" = bastion ]
}

@test "a jump host's own key is verified too" {
	grep -vF "[127.0.0.1]:$J_PORT " "$KH" >"$BATS_TEST_TMPDIR/kh"
	inventory "known-hosts = $BATS_TEST_TMPDIR/kh"
	echo "jump = root@127.0.0.1:$J_PORT" >>"$INV"
	before=$(log_count jump "server_request_direct_tcpip")
	run --separate-stderr dcv exec gateway -- id -un
	expect_status 255
	[[ $stderr == *"[127.0.0.1]:$J_PORT"*"unknown"* ]]
	[ "$(log_count jump "server_request_direct_tcpip")" -eq "$before" ]
}

@test "a port forward in front of sshd is reached through ssh = host:port" {
	# only the forward's [127.0.0.1]:FWD entry may match: the key is checked where SSH connects
	grep -F "[127.0.0.1]:$FWD_PORT " "$KH" >"$BATS_TEST_TMPDIR/kh"
	inventory "known-hosts = $BATS_TEST_TMPDIR/kh"
	sed -i "s/^address = .*/address = 127.0.0.2/; s/^ssh = .*/ssh = 127.0.0.1:$FWD_PORT/" "$INV"
	run --separate-stderr dcv exec gateway -- id -un
	expect_status 0
	[ "$output" = root ]
	[ -z "$stderr" ]
	run --separate-stderr dcv hosts
	expect_status 0
	[[ $output == *"root@127.0.0.1:$FWD_PORT (forward)"* ]]
}

# ---------------------------------------------------------------- host keys

@test "strict refuses an unknown host key and says how to accept it" {
	: >"$BATS_TEST_TMPDIR/kh"
	inventory "known-hosts = $BATS_TEST_TMPDIR/kh" "host-key-policy = strict"
	fp=$(fingerprint "$SSHD_DIR/target/host_ed25519.pub")
	run --separate-stderr dcv hosts --probe
	expect_status 4
	[[ $output == *"$fp"* ]]
	[[ $output == *"accept-new"* ]]
	run --separate-stderr dcv exec gateway -- id -un
	expect_status 255
	[ -z "$output" ]
	[[ $stderr == *"[127.0.0.1]:$T_PORT"* ]]
	[[ $stderr == *"ssh-ed25519 $fp"* ]]
	[[ $stderr == *"accept-new"* ]]
	[ ! -s "$BATS_TEST_TMPDIR/kh" ]
}

@test "accept-new records an unknown key and the next run connects under strict" {
	: >"$BATS_TEST_TMPDIR/kh"
	inventory "known-hosts = $BATS_TEST_TMPDIR/kh" "host-key-policy = accept-new"
	run --separate-stderr dcv exec gateway -- id -un
	expect_status 0
	[ "$output" = root ]
	[[ $stderr == *"recorded new host key for [127.0.0.1]:$T_PORT"* ]]
	[ "$(wc -l <"$BATS_TEST_TMPDIR/kh")" -eq 1 ]
	grep -qF "[127.0.0.1]:$T_PORT $(cut -d' ' -f1,2 "$SSHD_DIR/target/host_ed25519.pub")" \
		"$BATS_TEST_TMPDIR/kh"

	sed -i 's/^host-key-policy = .*/host-key-policy = strict/' "$INV"
	run --separate-stderr dcv exec gateway -- id -un
	expect_status 0
	[ "$output" = root ]
	[ -z "$stderr" ]
	[ "$(wc -l <"$BATS_TEST_TMPDIR/kh")" -eq 1 ]
}

@test "a hashed known_hosts entry is honoured" {
	known_host target >"$BATS_TEST_TMPDIR/kh"
	ssh-keygen -q -H -f "$BATS_TEST_TMPDIR/kh" >/dev/null 2>&1
	rm -f "$BATS_TEST_TMPDIR/kh.old"
	grep -q '^|1|' "$BATS_TEST_TMPDIR/kh"
	inventory "known-hosts = $BATS_TEST_TMPDIR/kh"
	run --separate-stderr dcv exec gateway -- id -un
	expect_status 0
	[ "$output" = root ]
}

@test "a changed host key is refused under strict and accept-new, and off only warns" {
	known_host changing >"$BATS_TEST_TMPDIR/kh"
	cp "$BATS_TEST_TMPDIR/kh" "$BATS_TEST_TMPDIR/kh.orig"
	# the host is rebuilt: new key, same address and port
	rm -f "$SSHD_DIR/changing/host_ed25519" "$SSHD_DIR/changing/host_ed25519.pub"
	ssh-keygen -q -t ed25519 -N '' -f "$SSHD_DIR/changing/host_ed25519" </dev/null
	sshd_restart changing
	inventory "known-hosts = $BATS_TEST_TMPDIR/kh"
	sed -i "s/^ssh = .*/ssh = 127.0.0.1:$C_PORT/" "$INV"
	newfp=$(fingerprint "$SSHD_DIR/changing/host_ed25519.pub")

	for policy in strict accept-new; do
		echo "host-key-policy = $policy" >>"$INV"
		run --separate-stderr dcv exec gateway -- id -un
		sed -i '$d' "$INV"
		expect_status 255
		[ -z "$output" ]
		[[ $stderr == *CHANGED* ]]
		[[ $stderr == *"$newfp"* ]]
		cmp "$BATS_TEST_TMPDIR/kh" "$BATS_TEST_TMPDIR/kh.orig"
	done
	run --separate-stderr dcv hosts --probe
	expect_status 4
	[[ $output == *CHANGED* ]]

	echo "host-key-policy = off" >>"$INV"
	run --separate-stderr dcv exec gateway -- id -un
	expect_status 0
	[ "$output" = root ]
	[[ $stderr == *warning* ]]
	[[ $stderr == *"host-key-policy = off"* ]]
	cmp "$BATS_TEST_TMPDIR/kh" "$BATS_TEST_TMPDIR/kh.orig"
}

# ---------------------------------------------------------------- failures and exit codes

@test "a port that accepts TCP but never speaks fails within connect-timeout" {
	inventory
	sed -i "s/^ssh = .*/ssh = 127.0.0.1:$MUTE_PORT/; s/^connect-timeout = .*/connect-timeout = 2s/" "$INV"
	start=$(ms_now)
	run --separate-stderr dcv exec gateway -- id -un
	elapsed=$(($(ms_now) - start))
	expect_status 255
	echo "elapsed ${elapsed} ms"
	[ "$elapsed" -lt 15000 ]
	[ "$elapsed" -ge 1500 ] # it did wait for the banner
	[[ $stderr == *"cannot connect to [127.0.0.1]:$MUTE_PORT"* ]]
	[[ $stderr == *"timed out"* ]]

	start=$(ms_now)
	run --separate-stderr dcv hosts --probe
	elapsed=$(($(ms_now) - start))
	expect_status 4
	[ "$elapsed" -lt 15000 ]
}

@test "authentication that gets no answer within connect-timeout is a timeout, not a refusal" {
	inventory
	sed -i "s/^ssh = .*/ssh = 127.0.0.1:$SLOW_PORT/; s/^connect-timeout = .*/connect-timeout = 2s/" "$INV"
	start=$(ms_now)
	run --separate-stderr dcv exec gateway -- id -un
	elapsed=$(($(ms_now) - start))
	expect_status 255
	[ "$elapsed" -lt 15000 ]
	[[ $stderr == *"authentication as 'root' timed out after 2s"* ]]
	[[ $stderr != *refused* ]]
	run --separate-stderr dcv hosts --probe
	expect_status 4
	[[ $output$stderr == *"timed out"* ]]
	[[ $output$stderr != *refused* ]]
}

@test "a command running past --timeout is stopped with 255, naming the command and the limit" {
	inventory
	start=$(ms_now)
	run --separate-stderr dcv exec --timeout 1s gateway -- sleep 30
	elapsed=$(($(ms_now) - start))
	expect_status 255
	[ "$elapsed" -lt 10000 ]
	[[ $stderr == *"command did not finish within 1s (its own limit): 'sleep' '30'"* ]]
}

@test "DCVCTL_TRACE_REMOTE records each command as sent and its stdin, mode 600, in order" {
	inventory
	local t="$BATS_TEST_TMPDIR/trace"
	mkdir -m 700 "$t"
	run --separate-stderr env DCVCTL_TRACE_REMOTE="$t" "$DCVCTL" -c "$INV" exec gateway -- echo 'a b'
	expect_status 0
	[ "$output" = "a b" ]
	[ "$(cat "$t/gateway/0000.cmd")" = "'echo' 'a b'" ]
	[ ! -s "$t/gateway/0000.in" ]
	[ "$(stat -c %a "$t/gateway/0000.cmd")" = 600 ]
	[ "$(stat -c %a "$t/gateway")" = 700 ]
	# replayed by hand, the command does what it did through dcvctl
	[ "$(sh -c "$(cat "$t/gateway/0000.cmd")" < "$t/gateway/0000.in")" = "a b" ]
}

@test "the remote exit status propagates" {
	inventory
	run --separate-stderr dcv exec gateway -- sh -c 'exit 7'
	expect_status 7
	run --separate-stderr dcv exec gateway -- false
	expect_status 1
	run --separate-stderr dcv exec gateway -- sh -c 'exit 254'
	expect_status 254
	run --separate-stderr dcv exec gateway -- true
	expect_status 0
}

@test "a closed port is a transport failure: 255 for exec, 4 for hosts --probe" {
	inventory
	sed -i "s/^ssh = .*/ssh = 127.0.0.1:$CLOSED_PORT/" "$INV"
	run --separate-stderr dcv exec gateway -- true
	expect_status 255
	[[ $stderr == *"cannot connect to [127.0.0.1]:$CLOSED_PORT"* ]]
	run --separate-stderr dcv hosts --probe --json
	expect_status 4
	[ "$(json "d['summary']['ok']")" = 0 ]
	[ "$(json "d['hosts'][0]['state']")" = failed ]
}

@test "some hosts unreachable while others answer exits 1" {
	inventory
	cat >>"$INV" <<-EOF

		[agent down]
		address = 127.0.0.1
		ssh = 127.0.0.1:$CLOSED_PORT
		user = root
	EOF
	run --separate-stderr dcv hosts --probe --json
	expect_status 1
	[ "$(json "d['summary']['ok']")" = 1 ]
	[ "$(json "d['summary']['failed']")" = 1 ]
	[ "$(json "{h['name']: h['state'] for h in d['hosts']}['down']")" = failed ]
}

@test "hostile arguments arrive literally" {
	inventory
	run --separate-stderr dcv exec gateway -- printf '%s\n' "a b" '$(reboot)' "it's" '`id`' $'x\ny' \
		'"q"' '*' '~' '$HOME' 'a;b' '' '-n'
	expect_status 0
	want=$(printf '%s\n' "a b" '$(reboot)' "it's" '`id`' $'x\ny' '"q"' '*' '~' '$HOME' 'a;b' '' '-n')
	[ "$output" = "$want" ]
	# had anything been expanded, the stub reboot on the sessions' PATH would have left this
	[ ! -e "$SSHD_DIR/PWNED" ]
	run --separate-stderr dcv exec gateway -- sh -c 'command -v reboot'
	expect_status 0
	[ "$output" = "$SSHD_DIR/fakebin/reboot" ]
}

@test "stdout and stderr of the remote command stay separate" {
	inventory
	run --separate-stderr dcv exec gateway -- sh -c 'echo out; echo err >&2; exit 3'
	expect_status 3
	[ "$output" = out ]
	[ "$stderr" = err ]
}

@test "exec --sudo runs the command through sudo -n" {
	sudo -n true 2>/dev/null || skip "sudo -n does not work for root on this machine"
	inventory
	run --separate-stderr dcv exec --sudo gateway -- sh -c 'echo "$SUDO_COMMAND"'
	expect_status 0
	[[ $output == *"sh -c"* ]]
}

# ---------------------------------------------------------------- one connection per jump host

@test "hosts --probe reaches 12 hosts behind one jump sshd with MaxStartups 3 over one connection" {
	inventory "parallel = 3"
	# the gateway is the 12th host; 11 agents join it, all behind the same implicit jump host
	echo "jump = root@127.0.0.1:$F_PORT" >>"$INV"
	for i in $(seq -w 1 11); do
		printf '\n[agent a%s]\naddress = 127.0.0.1\nssh = 127.0.0.1:%s\nuser = root\njump = root@127.0.0.1:%s\n' \
			"$i" "$T_PORT" "$F_PORT" >>"$INV"
	done
	# (sshd also logs "Connection from user root ...: Broken pipe": count only the accepts)
	conns=$(log_count fleetjump "Connection from 127.0.0.1 port")
	accepted=$(log_count fleetjump "Accepted publickey")
	tcpip=$(log_count fleetjump "server_request_direct_tcpip")
	target=$(log_count target "Accepted publickey")

	run --separate-stderr dcv hosts --probe --json
	expect_status 0
	[ "$(json "d['summary']['ok']")" = 12 ]
	[ "$(json "d['summary']['failed']")" = 0 ]
	[ "$(json "len(d['hosts'])")" = 12 ]
	[ "$(json "sorted(set(h['ssh']['via'] for h in d['hosts']))")" = "['root@127.0.0.1:$F_PORT']" ]
	[ "$(json "sorted(set(h['state'] for h in d['hosts']))")" = "['ok']" ]

	# exactly one connection to the jump host, one channel per host behind it
	[ "$(log_count fleetjump "Connection from 127.0.0.1 port")" -eq $((conns + 1)) ]
	[ "$(log_count fleetjump "Accepted publickey")" -eq $((accepted + 1)) ]
	[ "$(log_count fleetjump "server_request_direct_tcpip")" -eq $((tcpip + 12)) ]
	[ "$(log_count target "Accepted publickey")" -eq $((target + 12)) ]
}

@test "a bastion section probed with the 12 hosts behind it shares its one connection" {
	inventory "parallel = 3"
	echo "jump = bastion" >>"$INV"
	printf '\n[bastion]\naddress = 127.0.0.1\nssh = 127.0.0.1:%s\nuser = root\n' "$F_PORT" >>"$INV"
	for i in $(seq -w 1 11); do
		printf '\n[agent a%s]\naddress = 127.0.0.1\nssh = 127.0.0.1:%s\nuser = root\njump = bastion\n' \
			"$i" "$T_PORT" >>"$INV"
	done
	# several rounds: the bastion's own probe races the relay that carries the others
	for round in $(seq 10); do
		conns=$(log_count fleetjump "Connection from 127.0.0.1 port")
		run --separate-stderr timeout 20 "$DCVCTL" -c "$INV" hosts --probe --json
		echo "round $round"
		expect_status 0
		[ "$(json "d['summary']['ok']")" = 13 ]
		[ "$(log_count fleetjump "Connection from 127.0.0.1 port")" -eq $((conns + 1)) ]
	done
}

# ---------------------------------------------------------------- usage and inventory errors

@test "an unknown command exits 2 and suggests the nearest" {
	run --separate-stderr "$DCVCTL" hots
	expect_status 2
	[[ $stderr == *"unknown command 'hots' (did you mean 'hosts'?)"* ]]
}

@test "an inventory typo exits 3 and names file, line and the nearest key" {
	printf '[gateway]\nadress = 127.0.0.1\nuser = root\n' >"$INV"
	run --separate-stderr dcv hosts
	expect_status 3
	[ -z "$output" ]
	[ "$stderr" = "dcvctl: $INV:2: unknown key 'adress' in [gateway] (did you mean 'address'?)" ]
	run --separate-stderr dcv exec gateway -- true
	expect_status 3
}

@test "service with an unknown action exits 2 before connecting" {
	inventory
	sed -i "s/^ssh = .*/ssh = 127.0.0.1:$CLOSED_PORT/" "$INV"
	run --separate-stderr dcv service strat gateway nginx
	expect_status 2
	[[ $stderr == *"unknown action 'strat' (did you mean 'start'?)"* ]]
	run --separate-stderr dcv service frobnicate gateway nginx
	expect_status 2
	[[ $stderr == *"unknown action 'frobnicate'"* ]]
}

@test "exec on a host not in the inventory exits 2 with a suggestion" {
	inventory
	run --separate-stderr dcv exec gatewy -- true
	expect_status 2
	[[ $stderr == *"unknown host 'gatewy'"*"(did you mean 'gateway'?)"* ]]
}

@test "an address that does not parse is an inventory error, not a crash" {
	local want="bad value '198.18.0.10/24' for 'address' in [gateway] (expected a host name or IP address without port)"
	printf '[gateway]\naddress = 198.18.0.10/24\nuser = root\n' >"$INV"
	run --separate-stderr dcv hosts
	expect_status 3
	[ "$stderr" = "dcvctl: $INV:2: $want" ]
	# the same after another key (the parser's stack then holds other values)
	printf '[gateway]\nuser = root\naddress = 198.18.0.10/24\n' >"$INV"
	run --separate-stderr dcv hosts
	expect_status 3
	[ "$stderr" = "dcvctl: $INV:3: $want" ]
}
