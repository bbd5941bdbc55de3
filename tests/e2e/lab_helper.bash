# Helpers for bats files that run against the lab (tests/lab, design §9).
#
# In a bats file:   load lab_helper
#                   setup_file() { lab_setup_file; }
#                   setup() { lab_setup; }
# Then: $LAB (the lab script), $LAB_CONF (the inventory), $DCVCTL (the binary),
# lab_exec HOST CMD..., lab_ssh HOST CMD... (OpenSSH client, strict host keys).

LAB_ROOT=$(cd "$BATS_TEST_DIRNAME/../lab" && pwd)
LAB=$LAB_ROOT/lab
LAB_CONF=$LAB_ROOT/run/dcvctl.conf
LAB_RUN=$LAB_ROOT/run
LAB_STATE=/var/lib/dcvctl-lab
DCVCTL=${DCVCTL:-$BATS_TEST_DIRNAME/../../dcvctl}
export LAB LAB_CONF LAB_RUN LAB_STATE DCVCTL

# A test that needs what the machine cannot give fails under CI=true (a
# silent skip would hide a broken CI machine) and is skipped elsewhere.
# bats 1.8 cannot skip from setup_file, so setup_file records what is
# missing and each test's setup skips (or fails) on it.
lab_unavailable() {
	if [ "${CI:-}" = true ]; then
		echo "lab test needs: $*" >&2
		return 1
	fi
	skip "needs $*"
}

# What the lab needs and this machine lacks (nothing when all is there).
lab_missing() {
	if [ "$(id -u)" -ne 0 ]; then
		echo "root (network and mount namespaces)"
		return
	fi
	local t
	for t in ip nsenter unshare socat curl openssl ssh ssh-keygen /usr/sbin/sshd \
		/usr/sbin/nginx /usr/sbin/haproxy; do
		command -v "$t" >/dev/null || { echo "$t (scripts/deps)"; return; }
	done
	/usr/bin/python3 -c 'import websockify, setproctitle' 2>/dev/null ||
		echo "python3-websockify and python3-setproctitle (scripts/deps)"
}

# In setup_file: bring the lab up (idempotent) unless the machine cannot.
lab_setup_file() {
	local missing
	missing=$(lab_missing)
	if [ -n "$missing" ]; then
		echo "$missing" >"$BATS_FILE_TMPDIR/lab-missing"
		[ "${CI:-}" != true ] || { echo "lab test needs: $missing" >&2; return 1; }
		return 0
	fi
	"$LAB" up >"$BATS_FILE_TMPDIR/lab-up.out" 2>&1 || { cat "$BATS_FILE_TMPDIR/lab-up.out" >&2; return 1; }
}

# In setup: skip (or, under CI, fail) when setup_file found the lab impossible.
lab_setup() {
	[ ! -f "$BATS_FILE_TMPDIR/lab-missing" ] || lab_unavailable "$(cat "$BATS_FILE_TMPDIR/lab-missing")"
}

# True when setup/teardown code may drive the lab: root, and a dcvctl binary.
can_drive_lab() {
	[ "$(id -u)" -eq 0 ] || return 1
	[ -x "$DCVCTL" ]
}

require_dcvctl() {
	[ -x "$DCVCTL" ] || lab_unavailable "the dcvctl binary at $DCVCTL (make)"
}

lab_exec() {  # lab_exec HOST CMD...
	local host=$1
	shift
	"$LAB" exec "$host" -- "$@"
}

# The OpenSSH client with the lab's key and strict known_hosts, reaching each
# host the way the inventory says (forwards on the bastion, or the jump host).
lab_ssh() {  # lab_ssh HOST CMD...
	local host=$1
	shift
	local -a o=(-F /dev/null -i "$LAB_RUN/id_rsa" -o "UserKnownHostsFile=$LAB_RUN/known_hosts"
		-o StrictHostKeyChecking=yes -o BatchMode=yes -o ConnectTimeout=10)
	case $host in
	bastion) ssh "${o[@]}" -p 2222 ec2-user@198.18.0.10 "$@" ;;
	gateway) ssh "${o[@]}" -p 50000 ec2-user@198.18.0.10 "$@" ;;
	dcv1) ssh "${o[@]}" -p 22 ubuntu@198.18.0.10 "$@" ;;
	dcv*)
		ssh "${o[@]}" -o "ProxyCommand=ssh ${o[*]} -W %h:%p -p 2222 ec2-user@198.18.0.10" \
			"ubuntu@198.18.1.$((20 + ${host#dcv}))" "$@"
		;;
	esac
}

# ws_probe FROM HOST PORT PATH ORIGIN WAIT -- see tests/lab/tools/wsprobe.py
ws_probe() {
	local from=$1
	shift
	"$LAB" exec "$from" -- /usr/bin/python3 - "$@" <"$LAB_ROOT/tools/wsprobe.py"
}

# A listing of a directory tree with modes and content hashes ("absent" if missing).
tree_digest() {
	local dir=$1
	if [ ! -e "$dir" ]; then
		echo "absent $dir"
		return
	fi
	(cd "$dir" && find . -printf '%y %m %u %g %p -> %l\n' | sort &&
		find . -type f -print0 | sort -z | xargs -0 -r sha256sum)
}

# Lab namespaces, processes and mounts that exist right now (empty when down).
lab_leftovers() {
	ip netns list 2>/dev/null | awk '$1 ~ /^dcvlab-/ {print "netns " $1}'
	ip -o link show 2>/dev/null | awk -F': ' '$2 ~ /^(dcvlab-|dl[01]-)/ {print "link " $2}'
	findmnt -rn -o TARGET,SOURCE 2>/dev/null | awk '/dcvlab|dcvctl-lab/ {print "mount " $0}'
	[ ! -e "$LAB_STATE" ] || echo "state $LAB_STATE"
	local c pid
	for c in dcvserver dcv-connection- dcv-session-man socat; do
		for pid in $(pgrep -x "$c"); do
			# Zombies wait for the machine's init to reap them: they run nothing.
			[ -z "$(proc_start "$pid")" ] || echo "process $c $pid"
		done
	done
	return 0
}

# The start time of a running process (nothing for a zombie or no process).
proc_start() {
	local stat
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 0
	stat=${stat##*) }
	# shellcheck disable=SC2086
	set -- $stat
	[ "$1" = Z ] || echo "${20}"
}

# PID:START-TIME of every process in a lab namespace (to prove they are gone).
lab_process_ids() {
	local ns pid
	for ns in $(ip netns list 2>/dev/null | awk '$1 ~ /^dcvlab-/ {print $1}'); do
		for pid in $(ip netns pids "$ns"); do
			echo "$pid:$(proc_start "$pid")"
		done
	done
}

# Those of lab_process_ids' lines whose process still runs.
still_running() {
	local entry
	for entry in "$@"; do
		[ "${entry#*:}" = "" ] && continue
		[ "$(proc_start "${entry%%:*}")" = "${entry#*:}" ] && echo "$entry"
	done
	return 0
}
