#!/usr/bin/env bats
# Trust and files (issue 11, items 6 and 7) against one real OpenSSH sshd on 127.0.0.1:
# host keys let through by host-key-policy = off, encrypted identities, cert generate's
# --out folder and key modes, check --output and the umask.

bats_require_minimum_version 1.5.0

load sshd_helper

setup_file() {
	sshd_dcvctl_init
	[ -z "${SSHD_SKIP:-}" ] || return 0
	client_key ed25519 ed25519
	ssh-keygen -q -t ed25519 -N 'a passphrase' -f "$SSHD_DIR/keys/encrypted" </dev/null
	cat "$SSHD_DIR/keys/encrypted.pub" >>"$SSHD_DIR/authorized_keys"
	read -r T_PORT <<<"$(free_ports 1)"
	export T_PORT
	sshd_start target "$T_PORT"
}

teardown_file() {
	sshd_stop_all
}

setup() {
	[ -z "${SSHD_SKIP:-}" ] || skip "$SSHD_SKIP"
	INV="$BATS_TEST_TMPDIR/dcvctl.conf"
	: >"$BATS_TEST_TMPDIR/kh"
}

dcv() {
	"$DCVCTL" -c "$INV" "$@"
}

# inventory [SSH-LINE...]: an empty known_hosts, the given [ssh] lines, a gateway on the sshd.
inventory() {
	{
		echo "[ssh]"
		printf '%s\n' "$@"
		echo "known-hosts = $BATS_TEST_TMPDIR/kh"
		echo "connect-timeout = 5s"
		echo "[gateway]"
		echo "address = 127.0.0.1"
		echo "ssh = 127.0.0.1:$T_PORT"
		echo "user = root"
	} >"$INV"
}

@test "host-key-policy = off warns even under -q" {
	inventory "identity = $SSHD_DIR/keys/ed25519" "host-key-policy = off"
	run --separate-stderr dcv -q exec gateway -- id -un
	expect_status 0
	[ "$output" = root ]
	[[ $stderr == *"host key for [127.0.0.1]:$T_PORT not verified"* ]]
	[[ $stderr == *"host-key-policy = off"* ]]
	[ ! -s "$BATS_TEST_TMPDIR/kh" ]
}

@test "host-key-policy = off makes the ssh check row a warning, not a pass" {
	inventory "identity = $SSHD_DIR/keys/ed25519" "host-key-policy = off"
	run --separate-stderr dcv -q check --only gateway.ssh --format json
	expect_status 0
	[ "$(json '[c["status"] for c in d["checks"] if c["id"] == "gateway.ssh"][0]')" = warn ]
	[[ "$(json '[c["message"] for c in d["checks"] if c["id"] == "gateway.ssh"][0]')" == *"host key not verified (host-key-policy = off)"* ]]
	[[ $stderr == *"not verified"* ]]
}

@test "a known host key under host-key-policy = off still passes" {
	known_host target >"$BATS_TEST_TMPDIR/kh"
	inventory "identity = $SSHD_DIR/keys/ed25519" "host-key-policy = off"
	run --separate-stderr dcv -q check --only gateway.ssh --format json
	expect_status 0
	[ "$(json '[c["status"] for c in d["checks"] if c["id"] == "gateway.ssh"][0]')" = pass ]
	[ -z "$stderr" ]
}

@test "an encrypted identity is reported as such and never prompts" {
	known_host target >"$BATS_TEST_TMPDIR/kh"
	inventory "identity = $SSHD_DIR/keys/encrypted"
	# a terminal would be prompted through /dev/tty; without one a prompt fails differently
	run --separate-stderr timeout 20 setsid "$DCVCTL" -c "$INV" exec gateway -- id -un </dev/null
	expect_status 255
	[[ $stderr == *"$SSHD_DIR/keys/encrypted (encrypted key, use ssh-agent)"* ]]
}

@test "check --output honours the umask" {
	known_host target >"$BATS_TEST_TMPDIR/kh"
	inventory "identity = $SSHD_DIR/keys/ed25519"
	run --separate-stderr sh -c 'umask 027; "$0" -c "$1" -q check --only gateway.ssh --format json --output "$2"' \
		"$DCVCTL" "$INV" "$BATS_TEST_TMPDIR/report.json"
	expect_status 0
	[ "$(stat -c %a "$BATS_TEST_TMPDIR/report.json")" = 640 ]
	run --separate-stderr sh -c 'umask 077; "$0" -c "$1" -q check --only gateway.ssh --format json --output "$2"' \
		"$DCVCTL" "$INV" "$BATS_TEST_TMPDIR/report.json"
	expect_status 0
	[ "$(stat -c %a "$BATS_TEST_TMPDIR/report.json")" = 600 ]
}

@test "cert generate writes key 600 and cert 644 into a private folder it creates" {
	run --separate-stderr "$DCVCTL" cert generate --out "$BATS_TEST_TMPDIR/pair" --san portal.example.com
	expect_status 0
	[ "$(stat -c %a "$BATS_TEST_TMPDIR/pair")" = 700 ]
	[ "$(stat -c %a "$BATS_TEST_TMPDIR/pair/key.pem")" = 600 ]
	[ "$(stat -c %a "$BATS_TEST_TMPDIR/pair/cert.pem")" = 644 ]
	[ "$(find "$BATS_TEST_TMPDIR/pair" -mindepth 1 | wc -l)" -eq 2 ]
}

@test "cert generate without an inventory and without --san exits 3, says where it looked and writes nothing" {
	cd "$BATS_TEST_TMPDIR"
	run --separate-stderr env -u DCVCTL_CONFIG HOME="$BATS_TEST_TMPDIR" XDG_CONFIG_HOME="$BATS_TEST_TMPDIR/xdg" \
		"$DCVCTL" cert generate --out "$BATS_TEST_TMPDIR/pair"
	[ "$status" -eq 3 ]
	[[ $stderr == *"no inventory"* ]]
	[[ $stderr == *"$BATS_TEST_TMPDIR/xdg/dcvctl/dcvctl.conf"* ]]
	[ ! -e "$BATS_TEST_TMPDIR/pair" ]
	run --separate-stderr "$DCVCTL" -c "$BATS_TEST_TMPDIR/absent.conf" cert generate --out "$BATS_TEST_TMPDIR/pair"
	[ "$status" -eq 3 ]
	[[ $stderr == *"cannot read '$BATS_TEST_TMPDIR/absent.conf'"* ]]
	[ ! -e "$BATS_TEST_TMPDIR/pair" ]
}

@test "cert generate refuses an --out folder writable by others and writes nothing there" {
	mkdir -m 1777 "$BATS_TEST_TMPDIR/shared"
	chmod 1777 "$BATS_TEST_TMPDIR/shared"
	ln -s "$BATS_TEST_TMPDIR/stolen" "$BATS_TEST_TMPDIR/shared/key.pem.tmp.12345"
	run --separate-stderr "$DCVCTL" cert generate --out "$BATS_TEST_TMPDIR/shared" --san portal.example.com
	expect_status 2
	[[ $stderr == *"refusing to write the private key into '$BATS_TEST_TMPDIR/shared'"* ]]
	[[ $stderr == *"writable by group or others (mode 1777)"* ]]
	[ ! -e "$BATS_TEST_TMPDIR/stolen" ]
	[ ! -e "$BATS_TEST_TMPDIR/shared/key.pem" ]
}

@test "cert generate refuses an --out folder owned by another user" {
	mkdir -m 700 "$BATS_TEST_TMPDIR/theirs"
	chown nobody "$BATS_TEST_TMPDIR/theirs"
	run --separate-stderr "$DCVCTL" cert generate --out "$BATS_TEST_TMPDIR/theirs" --san portal.example.com
	expect_status 2
	[[ $stderr == *"the folder belongs to uid $(id -u nobody), not to you"* ]]
	[ ! -e "$BATS_TEST_TMPDIR/theirs/key.pem" ]
}

@test "the remote write never follows a symlink planted at the old fixed temp name" {
	known_host target >"$BATS_TEST_TMPDIR/kh"
	inventory "identity = $SSHD_DIR/keys/ed25519" "sudo = no"
	gw="$BATS_TEST_TMPDIR/gw"
	mkdir -p "$gw"
	{
		echo "proxy = connection-gateway"
		echo "listen = $T_PORT"
		echo "cert = $gw/cert.pem"
		echo "key = $gw/key.pem"
	} >>"$INV"
	ln -s "$BATS_TEST_TMPDIR/stolen-key" "$gw/.key.pem.dcvctl-new"
	ln -s "$BATS_TEST_TMPDIR/stolen-cert" "$gw/.cert.pem.dcvctl-new"
	run --separate-stderr dcv -q cert generate --out "$BATS_TEST_TMPDIR/pair" --san portal.example.com --install
	expect_status 0
	[ ! -e "$BATS_TEST_TMPDIR/stolen-key" ]
	[ ! -e "$BATS_TEST_TMPDIR/stolen-cert" ]
	[ -L "$gw/.key.pem.dcvctl-new" ]
	cmp "$gw/key.pem" "$BATS_TEST_TMPDIR/pair/key.pem"
	cmp "$gw/cert.pem" "$BATS_TEST_TMPDIR/pair/cert.pem"
	[ "$(stat -c %a "$gw/key.pem")" = 600 ]
	[ "$(stat -c %a "$gw/cert.pem")" = 644 ]
	# nothing else left beside the targets: the two planted links and the two files
	[ "$(find "$gw" -mindepth 1 | wc -l)" -eq 4 ]
}
