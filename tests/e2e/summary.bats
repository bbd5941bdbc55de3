#!/usr/bin/env bats
# scripts/summary, the closing line of `make check` (issue 11, item 17): it counts cmocka groups
# and bats TAP runs, counts what a crash cut off as failed, and fails when anything failed.

bats_require_minimum_version 1.5.0

setup() {
	SUMMARY=$BATS_TEST_DIRNAME/../../scripts/summary
	D=$BATS_TEST_TMPDIR
	cmocka_group_script
}

# cmocka's own lines for a group of N tests of which OK pass (as cmocka 1.1 prints them), as a
# script: the commands run under scripts/summary's /bin/sh, which drops exported bash functions
cmocka_group_script() {
	cat >"$D/cmocka_group" <<-'EOF'
		#!/bin/bash
		# cmocka_group N OK [FAILED] [SKIPPED]
		n=$1 ok=$2 failed=${3:-0} skipped=${4:-0}
		printf '[==========] Running %d test(s).\n' "$n"
		for ((i = 0; i < ok; i++)); do
			printf '[ RUN      ] t%d\n[       OK ] t%d\n' "$i" "$i"
		done
		printf '[==========] %d test(s) run.\n[  PASSED  ] %d test(s).\n' "$n" "$ok"
		if [ "$skipped" -gt 0 ]; then
			printf '[  SKIPPED ] %d test(s), listed below:\n[  SKIPPED ] s\n' "$skipped"
		fi
		if [ "$failed" -gt 0 ]; then
			printf '[  FAILED  ] %d test(s), listed below:\n[  FAILED  ] f\n\n %d FAILED TEST(S)\n' "$failed" "$failed"
		fi
	EOF
	chmod +x "$D/cmocka_group"
}

@test "the last line counts cmocka groups and a real bats run together" {
	# printf, not a here-document: bats would take @test lines in this file for its own tests
	printf '%s\n' '@test "passes" { true; }' '@test "skips" { skip "not here"; }' \
		'@test "fails" { false; }' '@test "skips without a reason" { skip; }' >"$D/inner.bats"
	# a clean environment: the inner bats must take neither this run's variables nor the PATH
	# entry of bats' libexec (where `bats` is another program) for its own
	local path
	path=$(tr ':' '\n' <<<"$PATH" | grep -v bats-core | paste -sd:)
	run "$SUMMARY" env -i PATH="$path" HOME="$D" bash -c "'$D/cmocka_group' 5 5; '$D/cmocka_group' 4 2 1 1; bats '$D/inner.bats'"
	echo "$output"
	[ "$status" -eq 1 ]
	[ "${lines[-1]}" = "8 passed, 2 failed, 3 skipped" ]
	# the command's output passes through
	[[ $output == *"ok 1 passes"* ]]
}

@test "a run where everything passed exits 0" {
	run "$SUMMARY" bash -c "'$D/cmocka_group' 3 3; printf '1..2\nok 1 a\nok 2 b # skip why\n'"
	[ "$status" -eq 0 ]
	[ "${lines[-1]}" = "4 passed, 0 failed, 1 skipped" ]
}

@test "a cmocka binary that dies mid-group counts its unfinished tests as failed" {
	run "$SUMMARY" bash -c "printf '[==========] Running 5 test(s).\n[ RUN      ] a\n[       OK ] a\n[ RUN      ] b\n'; kill -SEGV \$\$"
	echo "$output"
	[ "$status" -eq 1 ]
	[ "${lines[-1]}" = "1 passed, 4 failed, 0 skipped" ]
}

@test "a bats run cut short counts the tests it planned but never reported as failed" {
	run "$SUMMARY" printf '1..3\nok 1 a\n'
	[ "$status" -eq 1 ]
	[ "${lines[-1]}" = "1 passed, 2 failed, 0 skipped" ]
}

@test "a failing command with no failed test (a build error) still says 1 failed" {
	run "$SUMMARY" sh -c 'echo "cc: error: no such file"; exit 2'
	[ "$status" -eq 1 ]
	[ "${lines[-1]}" = "0 passed, 1 failed, 0 skipped" ]
}

@test "indented TAP, such as a report printed inside a test's output, is not counted" {
	run "$SUMMARY" printf '1..1\nok 1 a\n# ok 2 - inside\n  not ok 3 - nested\n'
	[ "$status" -eq 0 ]
	[ "${lines[-1]}" = "1 passed, 0 failed, 0 skipped" ]
}

@test "without a command it says how to call it" {
	run "$SUMMARY"
	[ "$status" -eq 2 ]
	[[ $output == usage:* ]]
}
