#!/usr/bin/env bash
# dcvctl check against the seed's checklist done by hand (bench/seed-checklist.sh), on the lab
# (gateway + 2 agents, deployed), alternating runs; prints both medians and the ratio.
# Target (design §10): at least 8x. Usage: bench/check-vs-seed.sh [RUNS]  (root; default 5)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
make -s dcvctl
inv=$(tests/lab/lab up --agents 2 | tail -n 1)
./dcvctl -q -c "$inv" deploy >/dev/null
./dcvctl -c "$inv" check --format json >/dev/null || { echo "check fails on the lab: fix that first" >&2; exit 1; }
bench/seed-checklist.sh "$inv" >/dev/null || { echo "the seed checklist fails on the lab" >&2; exit 1; }

now() { date +%s.%N; }
ours=() seed=()
for ((i = 0; i < runs; i++)); do
	t=$(now); ./dcvctl -c "$inv" check --format json >/dev/null; ours+=("$(echo "$(now) - $t" | bc -l)")
	t=$(now); bench/seed-checklist.sh "$inv" >/dev/null; seed+=("$(echo "$(now) - $t" | bc -l)")
done
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
m_ours=$(median "${ours[@]}")
m_seed=$(median "${seed[@]}")
printf 'dcvctl check        median %.3f s over %d runs\n' "$m_ours" "$runs"
printf 'seed checklist      median %.3f s over %d runs (one ssh per item, curl, openssl)\n' "$m_seed" "$runs"
printf 'ratio               %.1fx faster (target >= 8x)\n' "$(echo "$m_seed / $m_ours" | bc -l)"
