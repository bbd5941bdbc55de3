#!/usr/bin/env bash
# dcvctl deploy against its floor: the very commands it sends, run on the lab's hosts without
# dcvctl and without SSH (issue 8, design §10). The commands are recorded from a real deploy
# (DCVCTL_TRACE_REMOTE: each command as the host's shell receives it, with its stdin), then
# replayed inside each host's namespaces as the same user (nsenter + setpriv), each host's
# commands in order, two ways: in the runbook's order (the gateway, then every agent at once:
# what a script by hand would do, and what dcvctl's safety asks for, since agents must not
# switch before the gateway serves) and every host at once (a bound no safe tool reaches).
# After a replayed first run, dcvctl check must pass: the replay did the work. First runs on a fresh lab (`lab down && lab up`, not timed),
# no-op runs on a deployed one; dcvctl and the floor alternate; medians.
# Target: dcvctl's first run within 1.5x of the floor in the runbook's order. Usage: bench/deploy-floor.sh [RUNS]
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

# Every host at once (no tool that keeps the agents off the new path until the gateway serves
# can get there), or in the runbook's order: the gateway, then the agents at once.
replay() { # inventory trace-dir all|ordered -> seconds
	local t h pids=()
	t=$(now)
	if [ "$3" = ordered ] && [ -d "$2/gateway" ]; then
		replay_host "$1" "$2" gateway
	fi
	for h in "$2"/*/; do
		h=$(basename "$h")
		[ "$3" = ordered ] && [ "$h" = gateway ] && continue
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

first=() noop=() all_first=() ord_first=() all_noop=() ord_noop=()
for ((i = 0; i < runs; i++)); do
	inv=$(fresh_lab)
	first+=("$(timed_deploy "$inv")")
	noop+=("$(timed_deploy "$inv")")
	all_noop+=("$(replay "$inv" "$work/noop" all)")
	ord_noop+=("$(replay "$inv" "$work/noop" ordered)")
	for order in all ordered; do
		inv=$(fresh_lab)
		t=$(replay "$inv" "$work/first" $order)
		if [ $order = all ]; then all_first+=("$t"); else ord_first+=("$t"); fi
		./dcvctl -c "$inv" check --format json >/dev/null || fail "check fails after the replayed first run ($order): the floor did not do the work"
		./dcvctl -c "$inv" deploy --dry-run --json | grep -q '"changed": 0' || fail "the replayed first run ($order) left changes for deploy"
	done
done
m_first=$(median "${first[@]}") m_noop=$(median "${noop[@]}")
m_ord_first=$(median "${ord_first[@]}") m_all_first=$(median "${all_first[@]}")
m_ord_noop=$(median "${ord_noop[@]}") m_all_noop=$(median "${all_noop[@]}")
ratio() { echo "$1 / $2" | bc -l; }
printf 'first run   dcvctl %.2f s; floor in the runbook order %.2f s: %.2fx (target <= 1.5x); every host at once %.2f s: %.2fx (%d commands)\n' \
	"$m_first" "$m_ord_first" "$(ratio "$m_first" "$m_ord_first")" "$m_all_first" "$(ratio "$m_first" "$m_all_first")" "$n_first"
printf 'no-op run   dcvctl %.2f s; floor in the runbook order %.2f s: %.2fx; every host at once %.2f s: %.2fx (%d commands)\n' \
	"$m_noop" "$m_ord_noop" "$(ratio "$m_noop" "$m_ord_noop")" "$m_all_noop" "$(ratio "$m_noop" "$m_all_noop")" "$n_noop"
printf 'medians of %d alternating runs on gateway + 2 agents (the runbook order: the gateway, then the agents at once)\n' "$runs"
