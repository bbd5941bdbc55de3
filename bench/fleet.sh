#!/usr/bin/env bash
# A fleet behind one bastion (design §10): dcvctl check against the seed-style checklist
# (bench/seed-checklist.sh) on a lab of N agents, plus what scale costs dcvctl itself:
# the connections the bastion's sshd saw per check (must be 1), peak RSS (target < 64 MiB at
# 200 agents), CPU per agent (target <= 10 ms) and how the time grows from 2 agents to N.
# Fails (exit 1) when any measured run fails or the bastion saw more than one connection.
# Usage: bench/fleet.sh [--agents N] [--runs R] [--seed-runs S]
#   (root; defaults: 32 agents, 3 runs of check, 3 runs of the seed checklist up to 50
#   agents and 1 above, where one run takes minutes). Leaves the lab at N agents, deployed.
set -euo pipefail
cd "$(dirname "$0")/.."
n=32 runs=3 seed_runs=
while [ $# -gt 0 ]; do
	case $1 in
	--agents) n=${2:?--agents takes a number}; shift 2 ;;
	--runs) runs=${2:?--runs takes a number}; shift 2 ;;
	--seed-runs) seed_runs=${2:?--seed-runs takes a number}; shift 2 ;;
	*) echo "usage: bench/fleet.sh [--agents N] [--runs R] [--seed-runs S]" >&2; exit 2 ;;
	esac
done
[[ $n =~ ^[0-9]+$ && $n -ge 3 ]] || { echo "fleet.sh: --agents takes a number >= 3" >&2; exit 2; }
[ -n "$seed_runs" ] || seed_runs=$((n > 50 ? 1 : 3))
make -s dcvctl
now() { date +%s.%N; }
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
fail() { echo "fleet.sh: $*" >&2; exit 1; }

inv=$(tests/lab/lab up --agents "$n" | tail -n 1)
# The first deploy of this lab size, then until it converges (issue 12 makes the first enough).
t=$(now)
first_ok=yes
./dcvctl -q -c "$inv" deploy >/dev/null || first_ok=no
first_deploy=$(echo "$(now) - $t" | bc -l)
if [ "$first_ok" = no ]; then
	./dcvctl -q -c "$inv" deploy >/dev/null || fail "deploy does not converge on $n agents"
fi

log=/var/lib/dcvctl-lab/hosts/bastion/fs/var/log/secure
bastion_conns() { grep -c 'Connection from .* port [0-9]* on 198.18.0.10 port 2222' "$log" || true; }

# an inventory with the first two agents only: the base the growth is measured from
small=$(mktemp) tm=$(mktemp)
trap 'rm -f "$small" "$tm"' EXIT
awk 'BEGIN{ a = 0 } /^\[agent /{ a++ } { if (a <= 2) print }' "$inv" >"$small"

measure() { # inventory -> "seconds cpu_seconds maxrss_kb bastion_connections"; fails on a failed check
	local before after rc=0
	before=$(bastion_conns)
	/usr/bin/time -o "$tm" -f '%e %U %S %M' ./dcvctl -q -c "$1" check --format json >/dev/null || rc=$?
	after=$(bastion_conns)
	[ "$rc" -eq 0 ] || fail "dcvctl check failed (exit $rc) on $(grep -c '^\[agent ' "$1") agents"
	awk -v c="$((after - before))" '{ printf "%s %.3f %s %d\n", $1, $2 + $3, $4, c }' "$tm"
}
walls=() cpus=() rsss=() small_walls=() small_cpus=() seeds=()
for ((i = 0; i < runs; i++)); do
	res=$(measure "$inv")
	read -r wall cpu rss conns <<<"$res"
	[ "$conns" -eq 1 ] || fail "the bastion's sshd saw $conns connections from one check (must be 1)"
	walls+=("$wall") cpus+=("$cpu") rsss+=("$rss")
	res=$(measure "$small")
	read -r wall cpu _ _ <<<"$res"
	small_walls+=("$wall") small_cpus+=("$cpu")
done
for ((i = 0; i < seed_runs; i++)); do
	t=$(now)
	bench/seed-checklist.sh "$inv" >/dev/null || fail "the seed checklist failed on the lab"
	seeds+=("$(echo "$(now) - $t" | bc -l)")
done
wall=$(median "${walls[@]}") cpu=$(median "${cpus[@]}") rss=$(median "${rsss[@]}")
small_wall=$(median "${small_walls[@]}") small_cpu=$(median "${small_cpus[@]}")
seed=$(median "${seeds[@]}")
max_rss=$(printf '%s\n' "${rsss[@]}" | sort -g | tail -n 1)

printf 'agents                     %d behind one bastion; medians of %d check runs, %d seed runs\n' "$n" "$runs" "$seed_runs"
printf 'dcvctl check               %.2f s wall, %.3f s CPU, peak RSS %.1f MiB (max %.1f; target < 64)\n' \
	"$wall" "$cpu" "$(echo "$rss / 1024" | bc -l)" "$(echo "$max_rss / 1024" | bc -l)"
printf 'seed-style checklist       %.2f s\n' "$seed"
printf 'ratio                      %.1fx faster (target >= 20x)\n' "$(echo "$seed / $wall" | bc -l)"
printf 'bastion sshd connections   1 per check run (asserted on every run)\n'
printf 'CPU per agent              %.1f ms (target <= 10); per added agent %.1f ms (2 agents: %.3f s CPU)\n' \
	"$(echo "$cpu * 1000 / $n" | bc -l)" "$(echo "($cpu - $small_cpu) * 1000 / ($n - 2)" | bc -l)" "$small_cpu"
printf 'growth                     2 agents %.2f s -> %d agents %.2f s: %.0f ms per added agent\n' \
	"$small_wall" "$n" "$wall" "$(echo "($wall - $small_wall) * 1000 / ($n - 2)" | bc -l)"
printf 'first deploy               %.1f s (%.0f ms per agent), %s\n' "$first_deploy" \
	"$(echo "$first_deploy * 1000 / $n" | bc -l)" \
	"$([ "$first_ok" = yes ] && echo "passed the first time" || echo "FAILED the first time, converged on the second run")"
