#!/usr/bin/env bats
# `check`'s CI formats read by their real consumers, without the lab (issue 11, item 13): prove
# (Test::Harness, TAP 13), node-tap's tap-parser (TAP 14), xmllint against the Jenkins JUnit schema
# (tests/schemas) and promtool. The reports are the golden files of tests/unit/test_report.c (which
# asserts that lib/report.c writes exactly them, hostile remote text included) and a real
# `dcvctl check` whose hosts are closed ports on 127.0.0.1.
# Under CI=true a missing consumer fails; elsewhere it skips. scripts/deps installs them all.

bats_require_minimum_version 1.5.0

setup_file() {
	ROOT=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
	FIX=$ROOT/tests/unit/fixtures
	XSD=$ROOT/tests/schemas/jenkins-junit.xsd
	TAP14=$ROOT/tests/peers/tap14-summary.cjs
	DCVCTL=${DCVCTL:-$ROOT/dcvctl}
	LIVE=$BATS_FILE_TMPDIR/live
	export ROOT FIX XSD TAP14 DCVCTL LIVE
	[ -x "$DCVCTL" ] || {
		echo "no dcvctl binary at $DCVCTL (set DCVCTL)" >&2
		return 1
	}
	live_reports
}

# Every format of one real run: the gateway's SSH port and the endpoint are closed loopback ports,
# and the endpoint goes through a proxy whose URL carries a password.
live_reports() {
	local port fmt
	port=$(/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	mkdir -p "$LIVE/home"
	cat >"$LIVE/dcvctl.conf" <<-EOF
		[endpoint]
		url = https://127.0.0.1:$port/
		proxy = http://ops:s3cret-pw@127.0.0.1:$port

		[gateway]
		address = 127.0.0.1
		ssh = 127.0.0.1:$port
		user = ops
	EOF
	for fmt in text json junit tap prometheus; do
		# exit 4: the checks failed, as they must here; the report is still complete
		HOME=$LIVE/home SSH_AUTH_SOCK= DCVCTL_CONFIG= timeout 60 \
			"$DCVCTL" -c "$LIVE/dcvctl.conf" check --format "$fmt" --output "$LIVE/report.$fmt" || true
		HOME=$LIVE/home SSH_AUTH_SOCK= DCVCTL_CONFIG= timeout 60 \
			"$DCVCTL" -c "$LIVE/dcvctl.conf" check --strict --format "$fmt" --output "$LIVE/strict.$fmt" || true
	done
	# prove reads raw TAP from files named *.tap
	cp "$LIVE/report.tap" "$LIVE/live.tap"
	cp "$LIVE/strict.tap" "$LIVE/live-strict.tap"
}

need() {  # need TOOL...
	local t
	for t; do
		command -v "$t" >/dev/null && continue
		if [ "${CI:-}" = true ]; then
			echo "$t is missing: scripts/deps installs it" >&2
			return 1
		fi
		skip "$t is not installed (scripts/deps installs it)"
	done
}

need_tap14() {
	need node
	if [ -f "$ROOT/tests/peers/report-tools/node_modules/tap-parser/package.json" ]; then return 0; fi
	if [ "${CI:-}" = true ]; then
		echo "tap-parser is missing: tests/peers/install-report-tools installs it" >&2
		return 1
	fi
	skip "tap-parser is not installed (tests/peers/install-report-tools)"
}

# prove_reads FILE TESTS FAILED: prove read every test point, found no parse error, and failed
# exactly FAILED ("2, 6", "1-2", or "" for none).
prove_reads() {
	run prove -v "$1"
	echo "$output"
	[[ $output == *"Files=1, Tests=$2,"* ]]
	[[ $output != *"Parse errors"* ]]
	[[ $output != *"TODO passed"* ]]
	if [ -n "$3" ]; then
		[[ $output == *"Failed tests:  $3"$'\n'* ]]
	else
		[ "$status" -eq 0 ]
	fi
}

# tap14 FILE PYTHON: tap-parser's reading of FILE as `d`, checked by PYTHON; it must have found
# no parse error, no line it could not place, and as many test points as the plan announced.
tap14() {
	run node "$TAP14" "$1"
	echo "$output"
	/usr/bin/python3 -c "import json, sys
d = json.loads(sys.argv[1])
assert d['errors'] == [], d['errors']
assert d['extra'] == [], d['extra']
assert d['count'] == d['plan']['end'] == len(d['points']), d
p = {x['id']: x for x in d['points']}
$2" "$output"
}

# ------------------------------------------------------------------ TAP

@test "prove reads every test point of the TAP reports, YAML diagnostics included" {
	need prove
	prove_reads "$FIX/report.tap" 6 "2, 6"
	prove_reads "$FIX/report-hostile.tap" 4 "1-2"
	prove_reads "$LIVE/live.tap" 10 "1-6, 8-10"
	prove_reads "$LIVE/live-strict.tap" 10 "1-6, 8-10"
}

@test "Test::Harness's parser gets the warning, the skip and the evidence back as written" {
	need perl
	run perl -MTAP::Parser -e '
		my $p = TAP::Parser->new({ source => $ARGV[0] });
		my $last;
		while (my $r = $p->next) {
			$last = $r if $r->is_test;
			printf "%d %s %s yaml=%s|%s|%s\n", $last->number, $last->is_actual_ok ? "ok" : "not", $last->has_skip ? "skip" : $last->has_todo ? "todo" : "-", $r->data->{severity}, $r->data->{message}, $r->data->{evidence} // "" if $r->is_yaml;
			printf "%d %s %s %s\n", $r->number, $r->is_actual_ok ? "ok" : "not", $r->has_skip ? "skip" : $r->has_todo ? "todo" : "-", $r->description if $r->is_test;
		}
		print "errors: ", join("; ", $p->parse_errors), "\n";' "$FIX/report.tap"
	echo "$output"
	[ "$status" -eq 0 ]
	[ "${lines[-1]}" = "errors: " ]
	[[ $output == *$'\n3 ok - - gateway.cert: certificate expires in 12 days\n'* ]]
	[[ $output == *$'\n3 ok - yaml=warn|certificate expires in 12 days|notAfter=Nov 26 00:00:00 2023 GMT\n'* ]]
	[[ $output == *$'\n4 ok skip - agent.dcv1.sm-agent\n'* ]]
	[[ $output == *"2 not - yaml=fail|nginx is inactive (failed)|× nginx.service - nginx <web server & reverse proxy>"$'\n'"     Active: failed (Result: exit-code)"$'\n'"nginx: [emerg] unknown directive \"proxy_pas\" in 'dcv.conf':12"$'\n'* ]]
}

@test "a TAP 14 parser (tap-parser) reads the TAP reports without an error" {
	need_tap14
	tap14 "$FIX/report.tap" '
assert (d["pass"], d["fail"], d["skip"], d["todo"]) == (4, 2, 1, 0), d
assert p[3]["ok"] and p[3]["name"] == "gateway.cert: certificate expires in 12 days", p[3]
assert p[3]["diag"] == {"message": "certificate expires in 12 days", "severity": "warn",
                        "evidence": "notAfter=Nov 26 00:00:00 2023 GMT"}, p[3]
assert p[4]["skip"] == "session-manager modes only", p[4]
assert p[2]["diag"]["evidence"].splitlines()[1] == "     Active: failed (Result: exit-code)", p[2]'
	tap14 "$FIX/report-hostile.tap" '
assert p[1]["name"].startswith("gateway.proxy.config: it'"'"'s \"broken\" [2J <here> & # not a directive \\ "), p[1]
assert p[2]["todo"] is False and p[2]["name"] == "gateway.cert: expires: # TODO not a directive", p[2]
assert p[2]["diag"]["evidence"] == "    notAfter: soon\n\t- item", p[2]
assert "\x1b" not in json.dumps(d, ensure_ascii=False), "escape character"'
	tap14 "$LIVE/live.tap" '
assert (d["pass"], d["fail"], d["skip"]) == (1, 9, 1), d
assert p[7]["name"] == "endpoint.tcp" and p[7]["skip"].startswith("through the proxy http://127.0.0.1:"), p[7]'
}

# ------------------------------------------------------------------ JUnit

@test "the JUnit reports are valid under the Jenkins JUnit schema" {
	need xmllint
	run xmllint --noout --schema "$XSD" "$FIX/report.junit.xml" "$FIX/report-hostile.junit.xml" \
		"$LIVE/report.junit" "$LIVE/strict.junit"
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(grep -c ' validates$' <<<"$output")" -eq 4 ]
}

# ------------------------------------------------------------------ Prometheus

@test "promtool accepts the Prometheus reports" {
	need promtool
	local f
	for f in "$FIX/report.prom" "$FIX/report-hostile.prom" "$LIVE/report.prometheus" "$LIVE/strict.prometheus"; do
		run promtool check metrics <"$f"
		echo "$f: $output"
		[ "$status" -eq 0 ]
		[ -z "$output" ]
	done
	grep -q '^dcvctl_check_healthy{id="endpoint.tls",host="endpoint"} 0$' "$LIVE/report.prometheus"
	grep -q '^# TYPE dcvctl_checks gauge$' "$LIVE/report.prometheus"
}

# ------------------------------------------------------------------ the consumers are strict

@test "the consumers refuse what the reports used to be, so the tests above can fail" {
	need prove xmllint promtool
	local d=$BATS_TEST_TMPDIR
	printf 'TAP version 14\n1..2\nnot ok 1 - a\n  ---\n  evidence: |-\n    x: y\n  ...\nok 2 - b\n' >"$d/old.tap"
	run prove "$d/old.tap"
	[ "$status" -ne 0 ]
	[[ $output == *"Parse errors"* ]]
	sed 's/<testsuites name="dcvctl" /&skipped="1" /' "$FIX/report.junit.xml" >"$d/old.xml"
	run xmllint --noout --schema "$XSD" "$d/old.xml"
	[ "$status" -ne 0 ]
	[[ $output == *"attribute 'skipped': The attribute 'skipped' is not allowed"* ]]
	sed 's/dcvctl_checks\b/dcvctl_checks_total/' "$FIX/report.prom" >"$d/old.prom"
	run promtool check metrics <"$d/old.prom"
	[[ $output == *'dcvctl_checks_total non-counter metrics should not have "_total" suffix'* ]]
}

# ------------------------------------------------------------------ secrets and terminals

@test "the proxy's password appears in no format, its host does" {
	local f
	for f in "$LIVE"/report.* "$LIVE"/strict.*; do
		run grep -c 's3cret-pw' "$f"
		[ "$output" = 0 ]
	done
	grep -q 'through the proxy http://127.0.0.1:[0-9]*"' "$LIVE/report.json"
}

@test "no report, text included, carries a control character" {
	local f
	for f in "$LIVE"/report.* "$LIVE"/strict.* "$FIX"/report-hostile.*; do
		run grep -c $'[\x01-\x08\x0b-\x1f\x7f]' "$f"
		echo "$f: $output"
		[ "$output" = 0 ]
	done
}
