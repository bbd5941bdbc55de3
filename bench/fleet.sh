#!/usr/bin/env bash
# A fleet of 32 agents behind one bastion (design §10): dcvctl check against the seed-style
# checklist, the connections the bastion's sshd saw from dcvctl (must be 1), dcvctl's peak RSS
# (target < 64 MiB) and its CPU time per added agent (2 agents against 32).
# Usage: bench/fleet.sh [AGENTS]  (root; default 32). Leaves the lab at that size.
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-32}
make -s dcvctl
inv=$(tests/lab/lab up --agents "$n" | tail -n 1)
./dcvctl -q -c "$inv" deploy >/dev/null || true
log=/var/lib/dcvctl-lab/hosts/bastion/fs/var/log/secure
bastion_conns() { grep -c 'Connection from .* port [0-9]* on 198.18.0.10 port 2222' "$log" || true; }

# an inventory with the first two agents only, for the CPU time per added agent
small=$(mktemp)
trap 'rm -f "$small"' EXIT
awk 'BEGIN{ a = 0 } /^\[agent /{ a++ } { if (a <= 2) print }' "$inv" >"$small"

measure() { # inventory -> "seconds user+sys maxrss_kb"
	local out
	out=$( { /usr/bin/time -f '%e %U %S %M' ./dcvctl -c "$1" check --format json >/dev/null; } 2>&1 | tail -n 1)
	awk '{ printf "%s %.3f %s\n", $1, $2 + $3, $4 }' <<<"$out"
}
before=$(bastion_conns)
read -r wall cpu rss <<<"$(measure "$inv")"
after=$(bastion_conns)
read -r _ cpu_small _ <<<"$(measure "$small")"
t0=$(date +%s.%N)
bench/seed-checklist.sh "$inv" >/dev/null || true
seed=$(echo "$(date +%s.%N) - $t0" | bc -l)

printf 'agents                          %d behind one bastion\n' "$n"
printf 'dcvctl check                    %.2f s wall, %.3f s CPU, peak RSS %.1f MiB (target < 64)\n' "$wall" "$cpu" "$(echo "$rss / 1024" | bc -l)"
printf 'seed-style checklist            %.2f s\n' "$seed"
printf 'ratio                           %.1fx faster (target >= 20x)\n' "$(echo "$seed / $wall" | bc -l)"
printf 'bastion sshd connections        %d from one dcvctl check (must be 1)\n' "$((after - before))"
printf 'CPU per added agent             %.1f ms (2 agents: %.3f s, %d agents: %.3f s)\n' \
	"$(echo "($cpu - $cpu_small) * 1000 / ($n - 2)" | bc -l)" "$cpu_small" "$n" "$cpu"
