#!/usr/bin/env bats
# The runbook in one table (issue 10, item 7), kept honest: the lint rule IDs that README.md and
# README.ja.md cite exist, every defect `dcvctl config lint` finds in the runbook's own files
# (tests/unit/fixtures/seed-*) is cited in both, and the Japanese table covers the same steps.
# No server, no network.

bats_require_minimum_version 1.5.0

setup_file() {
	ROOT=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
	FIX=$ROOT/tests/unit/fixtures
	DCVCTL=${DCVCTL:-$ROOT/dcvctl}
	export ROOT FIX DCVCTL
	[ -x "$DCVCTL" ] || {
		echo "no dcvctl binary at $DCVCTL (set DCVCTL)" >&2
		return 1
	}
}

# The rows of the runbook table in FILE: from its header row to the first line that is not a row.
table_rows() {
	awk '/^\| (runbook step|ランブックの手順) \|/ { t = 1; next }
	     t && /^\|---/ { next }
	     t && /^\| / { print; next }
	     t { exit }' "$1"
}

# Rule IDs (`dcv.x`, `nginx.x`, `haproxy.x`) cited in code spans of the table in FILE; the file
# names that look like them are not rules.
cited_rules() {
	table_rows "$1" | grep -o '`\(dcv\|nginx\|haproxy\)\.[a-z0-9-]*`' | tr -d '`' |
		grep -vx -e dcv.conf -e haproxy.cfg -e nginx.conf | sort -u
}

# Rule IDs config lint reports on the runbook's files, each set as nginx or DCV would load it.
seed_rules() {
	{
		"$DCVCTL" config lint "$FIX/seed-dcv.conf" || true
		"$DCVCTL" config lint "$FIX/seed-optiona-haproxy.cfg" || true
		"$DCVCTL" config lint "$FIX/seed-optionb-dcv-multiserver.conf" || true
		"$DCVCTL" config lint "$FIX/seed-phase1-dcv-proxy.conf" "$FIX/seed-optionb-dcv-multiserver.conf" || true
	} | grep -o '\[[a-z0-9.-]*\]$' | tr -d '[]' | sort -u
}

@test "the README links the Japanese quick start" {
	grep -q '(README.ja.md)' "$ROOT/README.md"
	[ -f "$ROOT/README.ja.md" ]
}

@test "both tables have a row for every step of the runbook" {
	local en ja
	en=$(table_rows "$ROOT/README.md" | wc -l)
	ja=$(table_rows "$ROOT/README.ja.md" | wc -l)
	echo "rows: en $en, ja $ja"
	[ "$en" -eq 19 ]
	[ "$ja" -eq "$en" ]
	local step
	for step in 'Step 1.1' 'Step 1.2' 'Step 1.3' 'Step 1.4' 'Option A' 'Option B' '004' \
		'問題1' '問題2' '問題3' '問題4' '動作確認チェックリスト' 'パフォーマンス確認' '成功基準' \
		'dcv-monitor.sh' 'ログローテーション' 'ヘルスチェック' 'バックアップ'; do
		echo "step $step"
		table_rows "$ROOT/README.ja.md" | grep -q -- "$step"
	done
	for step in 'Step 1.1' 'Step 1.2' 'Step 1.3' 'Step 1.4' 'Option A' 'Option B' '004' \
		'問題1' '問題2' '問題3' '問題4' '動作確認チェックリスト' 'パフォーマンス確認' '成功基準' \
		'dcv-monitor.sh' 'logrotate' 'health cron' 'バックアップ' 'リストア'; do
		echo "step $step"
		table_rows "$ROOT/README.md" | grep -q -- "$step"
	done
}

@test "the connection-gateway row names its command and its check rows in both tables, no longer planned" {
	table_rows "$ROOT/README.md" | grep '^| 004' | grep -q 'dcvctl broker enable-gateway'
	table_rows "$ROOT/README.ja.md" | grep '^| 004' | grep -q 'dcvctl broker enable-gateway'
	table_rows "$ROOT/README.md" | grep '^| 004' | grep -q 'gateway.resolver.session.NAME'
	run -1 grep -q 'planned\|予定' <(table_rows "$ROOT/README.md" | grep '^| 004'; table_rows "$ROOT/README.ja.md" | grep '^| 004')
}

@test "every lint rule the tables cite is one dcvctl has" {
	local r
	local rules
	rules=$(cat <(cited_rules "$ROOT/README.md") <(cited_rules "$ROOT/README.ja.md") | sort -u)
	[ "$(wc -l <<<"$rules")" -ge 15 ]
	for r in $rules; do
		echo "cited $r"
		grep -q "\"$r\"" "$ROOT"/lib/*.c
	done
}

@test "every defect lint finds in the runbook's files is cited in both tables" {
	local r
	local found
	found=$(seed_rules)
	[ "$(wc -l <<<"$found")" -ge 14 ]
	for r in $found; do
		echo "lint finds $r"
		cited_rules "$ROOT/README.md" | grep -qx -- "$r"
		cited_rules "$ROOT/README.ja.md" | grep -qx -- "$r"
	done
}
