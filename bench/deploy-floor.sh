#!/usr/bin/env bash
# dcvctl deploy against its floor: the very commands it sends, run on the lab's hosts without
# dcvctl and without SSH (issue 8, design §10). The commands are recorded from a real deploy
# (DCVCTL_TRACE_REMOTE: each command as the host's shell receives it, with its stdin), then
# replayed inside each host's namespaces as the same user (nsenter + setpriv), every host at
# once and each host's commands in order: a floor no tool that runs these commands can beat
# (agents do not even wait for the gateway). After a replayed first run, dcvctl check must
# pass: the replay did the work. First runs on a fresh lab (`lab down && lab up`, not timed),
# no-op runs on a deployed one; dcvctl and the floor alternate; medians.
# Target: dcvctl's first run within 1.5x of the floor. Usage: bench/deploy-floor.sh [RUNS]
# (root; default 3). Leaves the lab up, deployed.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-3}
make -s dcvctl
STATE=/var/lib/dcvctl-lab
HOST_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fresh_lab() { tests/lab/lab down >/dev/null 2>&1 || true; tests/lab/lab up --agents 2 | tail -n 1; }
now() { date +%s.%N; }
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
fail() { echo "deploy-floor.sh: $*" >&2; exit 1; }

# The SSH user of each host, from the inventory.
user_of() { # inventory host
	awk -v s="$2" '/^\[/ { n = $0; gsub(/[][]/, "", n); sub(/^agent /, "", n); cur = n; next }
		cur == s && $1 == "user" { print $3; exit }' "$1"
}

# Record what one dcvctl deploy sends.
record() { # inventory dir
	mkdir -p "$2"
	DCVCTL_TRACE_REMOTE=$2 ./dcvctl -q -c "$1" deploy >/dev/null || fail "dcvctl deploy failed while recording"
	[ -n "$(ls -A "$2")" ] || fail "nothing recorded in $2"
}

# Run one host's recorded commands in order, in its namespaces, as its SSH user.
replay_host() { # inventory trace-dir host
	local pid user c
	pid=$(cat "$STATE/hosts/$3/anchor.pid")
	user=$(user_of "$1" "$3")
	for c in "$2/$3"/*.cmd; do
		nsenter -t "$pid" -m -n -u -- setpriv --reuid="$user" --regid="$user" --init-groups \
			env -i PATH="$HOST_PATH" HOME="/home/$user" USER="$user" LOGNAME="$user" LANG=C.UTF-8 \
			sh -c "$(cat "$c")" <"${c%.cmd}.in" >/dev/null 2>&1 || true
	done
}

replay() { # inventory trace-dir -> seconds
	local t h pids=()
	t=$(now)
	for h in "$2"/*/; do
		h=$(basename "$h")
		replay_host "$1" "$2" "$h" &
		pids+=($!)
	done
	wait "${pids[@]}"
	echo "$(now) - $t" | bc -l
}

timed_deploy() { # inventory -> seconds
	local t
	t=$(now)
	./dcvctl -q -c "$1" deploy >/dev/null || fail "dcvctl deploy failed"
	echo "$(now) - $t" | bc -l
}

inv=$(fresh_lab)
record "$inv" "$work/first"
./dcvctl -c "$inv" check --format json >/dev/null || fail "check fails after the recorded deploy"
record "$inv" "$work/noop"
n_first=$(find "$work/first" -name '*.cmd' | wc -l)
n_noop=$(find "$work/noop" -name '*.cmd' | wc -l)

first=() floor_first=() noop=() floor_noop=()
for ((i = 0; i < runs; i++)); do
	inv=$(fresh_lab)
	first+=("$(timed_deploy "$inv")")
	noop+=("$(timed_deploy "$inv")")
	floor_noop+=("$(replay "$inv" "$work/noop")")
	inv=$(fresh_lab)
	floor_first+=("$(replay "$inv" "$work/first")")
	./dcvctl -c "$inv" check --format json >/dev/null || fail "check fails after the replayed first run: the floor did not do the work"
	./dcvctl -c "$inv" deploy --dry-run --json | grep -q '"changed": 0' || fail "the replayed first run left changes for deploy"
done
m_first=$(median "${first[@]}") m_floor_first=$(median "${floor_first[@]}")
m_noop=$(median "${noop[@]}") m_floor_noop=$(median "${floor_noop[@]}")
printf 'first run   dcvctl %.2f s   floor %.2f s (%d commands)   ratio %.2fx (target <= 1.5x)\n' \
	"$m_first" "$m_floor_first" "$n_first" "$(echo "$m_first / $m_floor_first" | bc -l)"
printf 'no-op run   dcvctl %.2f s   floor %.2f s (%d commands)   ratio %.2fx\n' \
	"$m_noop" "$m_floor_noop" "$n_noop" "$(echo "$m_noop / $m_floor_noop" | bc -l)"
printf 'medians of %d alternating runs on gateway + 2 agents; the floor runs every host at once\n' "$runs"
