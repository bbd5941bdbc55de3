# sshd_helper.bash - real OpenSSH sshd (and socat) processes on 127.0.0.1 for e2e tests.
#
# Everything lives under $SSHD_DIR (in BATS_FILE_TMPDIR): host keys, configs, logs, pid files,
# client keys and authorized_keys. Every process started here runs in its own process group
# (setsid), recorded in $SSHD_DIR/groups; sshd_stop_all kills exactly those groups.
# Servers listen on 127.0.0.1 only.

SSHD_BIN=/usr/sbin/sshd
# python3 first on PATH may be a pyenv shim without Debian's modules (machine-notes.md)
PY=/usr/bin/python3

# Tests log in as root on their own sshd. Without root: fail under CI=true; elsewhere set
# SSHD_SKIP, which setup() turns into a skip (bats 1.8 cannot skip from setup_file).
sshd_check_root() {
	[ "$(id -u)" -eq 0 ] && return 0
	if [ "${CI:-}" = true ]; then
		echo "these tests start sshd and log in as root: run them as root" >&2
		return 1
	fi
	export SSHD_SKIP="needs root (starts sshd and logs in as root)"
}

# The start of every loopback setup_file: root (or SSHD_SKIP), $DCVCTL found and exported, the
# sshd folder made, and dcvctl kept away from the operator's ~/.ssh, agent and inventory.
# Callers return after it when SSHD_SKIP is set.
sshd_dcvctl_init() {
	sshd_check_root
	[ -z "${SSHD_SKIP:-}" ] || return 0
	DCVCTL=${DCVCTL:-$BATS_TEST_DIRNAME/../../dcvctl}
	if [ ! -x "$DCVCTL" ]; then
		echo "no dcvctl binary at $DCVCTL (set DCVCTL)" >&2
		return 1
	fi
	export DCVCTL
	sshd_init
	export HOME="$SSHD_DIR/home"
	unset SSH_AUTH_SOCK DCVCTL_CONFIG XDG_CONFIG_HOME
}

sshd_init() {
	SSHD_DIR="$BATS_FILE_TMPDIR/sshd"
	export SSHD_DIR
	mkdir -p "$SSHD_DIR/keys" "$SSHD_DIR/fakebin" "$SSHD_DIR/home"
	: >"$SSHD_DIR/groups"
	: >"$SSHD_DIR/authorized_keys"
	# privilege separation directory; Debian's openssh-server creates it at boot
	[ -d /run/sshd ] || mkdir -p -m 0755 /run/sshd
	# Remote sessions get this PATH (sshd SetEnv): a hostile-argument test that went wrong
	# would run these stubs, which leave a mark, instead of the real commands.
	local cmd
	for cmd in reboot poweroff halt shutdown; do
		printf '#!/bin/sh\necho "%s $*" >>"%s/PWNED"\n' "$cmd" "$SSHD_DIR" >"$SSHD_DIR/fakebin/$cmd"
		chmod 755 "$SSHD_DIR/fakebin/$cmd"
	done
}

# client_key NAME TYPE [ssh-keygen options...]: a key pair in $SSHD_DIR/keys/NAME.
# Authorized for root unless NAME starts with "stranger".
client_key() {
	local name=$1 type=$2
	shift 2
	ssh-keygen -q -t "$type" -N '' -C "dcvctl-test-$name" "$@" -f "$SSHD_DIR/keys/$name" </dev/null
	case $name in
	stranger*) ;;
	*) cat "$SSHD_DIR/keys/$name.pub" >>"$SSHD_DIR/authorized_keys" ;;
	esac
}

# The SHA256 fingerprint of a public key file, as sshd logs it ("SHA256:...").
fingerprint() {
	ssh-keygen -lf "$1" | awk '{ print $2 }'
}

# free_ports N: N distinct TCP ports on 127.0.0.1 that nothing listens on right now.
free_ports() {
	"$PY" - "$1" <<'EOF'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
EOF
}

# spawn NAME CMD...: run CMD in a new process group, output to $SSHD_DIR/NAME.out.
spawn() {
	local name=$1
	shift
	setsid "$@" </dev/null >>"$SSHD_DIR/$name.out" 2>&1 3>&- &
	echo "$!" >>"$SSHD_DIR/groups"
	echo "$!" >"$SSHD_DIR/$name.pgid"
}

# stop NAME: kill the process group started by spawn NAME and wait until it is gone.
stop() {
	local pgid
	pgid=$(cat "$SSHD_DIR/$1.pgid")
	kill -TERM -- "-$pgid" 2>/dev/null || true
	for _ in $(seq 50); do
		kill -0 -- "-$pgid" 2>/dev/null || return 0
		sleep 0.1
	done
	kill -KILL -- "-$pgid" 2>/dev/null || true
}

# wait_listen PORT: until something listens on 127.0.0.1:PORT (without connecting to it,
# so sshd logs count only dcvctl's connections).
wait_listen() {
	for _ in $(seq 100); do
		[ -n "$(ss -Htln "sport = :$1" 2>/dev/null)" ] && return 0
		sleep 0.1
	done
	echo "nothing listens on 127.0.0.1:$1" >&2
	return 1
}

# wait_closed PORT: until nothing listens on 127.0.0.1:PORT.
wait_closed() {
	for _ in $(seq 100); do
		[ -z "$(ss -Htln "sport = :$1" 2>/dev/null)" ] && return 0
		sleep 0.1
	done
	echo "127.0.0.1:$1 still listening" >&2
	return 1
}

# sshd_start NAME PORT [CONFIG-LINE...]: an sshd on 127.0.0.1:PORT with its own ed25519 host
# key (kept across restarts), LogLevel DEBUG1 into $SSHD_DIR/NAME/sshd.log.
sshd_start() {
	local name=$1 port=$2 d="$SSHD_DIR/$1"
	shift 2
	mkdir -p "$d"
	[ -f "$d/host_ed25519" ] || ssh-keygen -q -t ed25519 -N '' -C "host-$name" -f "$d/host_ed25519" </dev/null
	echo "$port" >"$d/port"
	{
		echo "Port $port"
		echo "ListenAddress 127.0.0.1"
		echo "AddressFamily inet"
		echo "HostKey $d/host_ed25519"
		echo "PidFile $d/sshd.pid"
		echo "AuthorizedKeysFile $SSHD_DIR/authorized_keys"
		echo "StrictModes no"
		echo "UsePAM no"
		echo "PermitRootLogin prohibit-password"
		echo "PubkeyAuthentication yes"
		echo "PasswordAuthentication no"
		echo "KbdInteractiveAuthentication no"
		echo "AllowTcpForwarding yes"
		echo "LogLevel DEBUG1"
		echo "SetEnv PATH=$SSHD_DIR/fakebin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
		local line
		for line in "$@"; do
			echo "$line"
		done
	} >"$d/sshd_config"
	"$SSHD_BIN" -t -f "$d/sshd_config"
	spawn "$name" "$SSHD_BIN" -D -f "$d/sshd_config" -E "$d/sshd.log"
	wait_listen "$port"
}

# sshd_restart NAME: stop and start again on the same port with the same config.
sshd_restart() {
	local d="$SSHD_DIR/$1" port
	port=$(cat "$d/port")
	stop "$1"
	wait_closed "$port"
	spawn "$1" "$SSHD_BIN" -D -f "$d/sshd_config" -E "$d/sshd.log"
	wait_listen "$port"
}

# The [ssh] section and the start of the [gateway] on sshd "target" that the loopback plan
# tests share (root on 127.0.0.1:$T_PORT, no sudo, the test's own known_hosts); the caller
# prints the gateway's own keys and the other sections after it.
plan_inventory_head() {
	known_host target >"$BATS_TEST_TMPDIR/kh"
	echo "[ssh]"
	echo "identity = $SSHD_DIR/keys/ed25519"
	echo "known-hosts = $BATS_TEST_TMPDIR/kh"
	echo "sudo = no"
	echo "connect-timeout = 5s"
	echo "[gateway]"
	echo "address = 127.0.0.1"
	echo "ssh = 127.0.0.1:$T_PORT"
	echo "user = root"
}

# known_host NAME [PORT]: the known_hosts line for sshd NAME as reached at 127.0.0.1:PORT
# (default: its own port).
known_host() {
	local d="$SSHD_DIR/$1"
	printf '[127.0.0.1]:%s %s\n' "${2:-$(cat "$d/port")}" "$(cut -d' ' -f1,2 "$d/host_ed25519.pub")"
}

# log_count NAME PATTERN: lines of sshd NAME's log matching the fixed string PATTERN.
log_count() {
	grep -cF -- "$2" "$SSHD_DIR/$1/sshd.log" || true
}

sshd_stop_all() {
	if [ -z "${SSHD_DIR:-}" ] || [ ! -f "$SSHD_DIR/groups" ]; then
		return 0
	fi
	local pgid
	while read -r pgid; do
		kill -TERM -- "-$pgid" 2>/dev/null || true
	done <"$SSHD_DIR/groups"
	sleep 0.2
	while read -r pgid; do
		kill -KILL -- "-$pgid" 2>/dev/null || true
	done <"$SSHD_DIR/groups"
	return 0
}

# expect_status N: fail with the command's output unless `run` gave status N.
expect_status() {
	if [ "$status" -ne "$1" ]; then
		echo "expected exit $1, got $status"
		echo "--- stdout/output:"
		echo "$output"
		echo "--- stderr:"
		echo "${stderr:-}"
		return 1
	fi
}

# json EXPR: evaluate a Python expression over the JSON document in $output (as `d`).
json() {
	"$PY" -c 'import json, sys; d = json.loads(sys.stdin.read()); print(eval(sys.argv[1]))' "$1" <<<"$output"
}
