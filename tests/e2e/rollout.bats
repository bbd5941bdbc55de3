#!/usr/bin/env bats
# Rolling deploys without the lab (issue 12): every host of the inventory is 127.0.0.1 on a port
# nothing listens on, so each connect is refused at once and the rollout's decisions (batches,
# budget, untouched agents, the resume command, exit codes) are seen without any server.
# Inventory: gateway, dcv1, dcv2 (backup), dcv3, dcv4 -> batches of 2: dcv1 dcv3 | dcv4 | dcv2.

bats_require_minimum_version 1.5.0

setup() {
	DCVCTL=${DCVCTL:-$BATS_TEST_DIRNAME/../../dcvctl}
	[ -x "$DCVCTL" ] || {
		[ "${CI:-}" != true ] || { echo "no dcvctl binary at $DCVCTL (make)" >&2; return 1; }
		skip "needs the dcvctl binary at $DCVCTL (make)"
	}
	# a port that was free a moment ago: nothing listens there
	PORT=$(/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	INV=$BATS_TEST_TMPDIR/dcvctl.conf
	{
		printf '[ssh]\nknown-hosts = %s/known_hosts\nconnect-timeout = 2s\n' "$BATS_TEST_TMPDIR"
		printf '\n[gateway]\naddress = 127.0.0.1\nssh = 127.0.0.1:%s\nuser = root\n' "$PORT"
		for h in dcv1 dcv2 dcv3 dcv4; do
			printf '\n[agent %s]\naddress = 127.0.0.1\nssh = 127.0.0.1:%s\nuser = root\n' "$h" "$PORT"
			[ "$h" != dcv2 ] || echo "backup = yes"
		done
	} >"$INV"
	export SSH_AUTH_SOCK=
}

dcv() {
	timeout 60 "$DCVCTL" -c "$INV" "$@"
}

json() {  # json EXPR -- EXPR on the parsed $output (`d`), printed
	/usr/bin/python3 -c 'import json, sys; d = json.loads(sys.stdin.read()); print(eval(sys.argv[1]))' "$1" <<<"$output"
}

@test "a failed first batch under the default budget of 0% leaves the later batches untouched, exit 1" {
	run --separate-stderr dcv deploy --only agents --serial 2 --json
	[ "$status" -eq 1 ]
	[ "$(json 'sorted({s["host"] for s in d["steps"]})')" = "['dcv1', 'dcv3']" ]
	[ "$(json '{s["batch"] for s in d["steps"]}')" = "{1}" ]
	[ "$(json 'd["summary"]["rollout"]["batches"]')" = 3 ]
	[ "$(json 'd["summary"]["rollout"]["budget"]')" = 0 ]
	[ "$(json 'd["summary"]["rollout"]["stopped"]')" = True ]
	[ "$(json 'd["summary"]["rollout"]["untouched"]')" = "['dcv2', 'dcv4']" ]
	[ "$(json 'd["summary"]["rollout"]["resume"]')" = "dcvctl deploy --only dcv2,dcv4 --serial 2" ]
	[ "$(json 'd["summary"]["unreachable"]')" = 2 ]
}

@test "--max-fail 50% of 4 agents tolerates 2 failures: the second batch runs, the third does not" {
	run --separate-stderr dcv deploy --only agents --serial 2 --max-fail 50% --json
	[ "$status" -eq 1 ]
	[ "$(json 'd["summary"]["rollout"]["budget"]')" = 2 ]
	[ "$(json '[s["host"] for s in d["steps"] if s["batch"] == 2]')" = "['dcv4']" ]
	[ "$(json 'd["summary"]["rollout"]["untouched"]')" = "['dcv2']" ]
	[ "$(json 'd["summary"]["rollout"]["resume"]')" = "dcvctl deploy --only dcv2 --serial 2 --max-fail 50%" ]
}

@test "steps start in batch order: every step of batch 1 ends before batch 2 begins" {
	run --separate-stderr dcv deploy --only agents --serial 1 --max-fail 100% --json
	[ "$status" -eq 4 ]
	[ "$(json '[s["host"] for s in d["steps"]]')" = "['dcv1', 'dcv3', 'dcv4', 'dcv2']" ]
	[ "$(json '[s["batch"] for s in d["steps"]]')" = "[1, 2, 3, 4]" ]
	[ "$(json 'all(a["started_ms"] + a["duration_ms"] <= b["started_ms"] for a, b in zip(d["steps"], d["steps"][1:]))')" = True ]
	[ "$(json 'd["summary"]["rollout"]["stopped"]')" = False ]
}

@test "a gateway that cannot be reached stops the rollout before any agent, exit 4, and says so" {
	run --separate-stderr dcv deploy --serial 2
	[ "$status" -eq 4 ]
	[[ ${lines[0]} == "gateway    connect    failed  "*" ms  cannot connect to [127.0.0.1]:$PORT: Connection refused" ]]
	[ "${lines[2]}" = "stopped before the agents: the gateway failed, so the previous path keeps serving" ]
	[ "${lines[3]}" = "left untouched: dcv1, dcv2, dcv3, dcv4" ]
	[ "${lines[4]}" = "resume with: dcvctl deploy --only dcv1,dcv2,dcv3,dcv4 --serial 2" ]
}

@test "[deploy] serial in the inventory rolls out without --serial; --serial on the command line wins" {
	printf '\n[deploy]\nserial = 50%%\nmax-fail = 25%%\n' >>"$INV"
	run --separate-stderr dcv deploy --only agents --json
	[ "$status" -eq 1 ]
	[ "$(json 'd["summary"]["rollout"]["serial"]')" = "50%" ]
	[ "$(json 'd["summary"]["rollout"]["budget"]')" = 1 ]
	run --separate-stderr dcv deploy --only agents --serial 3 --json
	[ "$status" -eq 1 ]
	[ "$(json 'd["summary"]["rollout"]["serial"]')" = 3 ]
	[ "$(json 'd["summary"]["rollout"]["batches"]')" = 2 ]
}

@test "a deploy without --serial has no rollout in its summary and still numbers the agents' batch 1" {
	run --separate-stderr dcv deploy --only agents --json
	[ "$status" -eq 4 ]
	[ "$(json '"rollout" in d["summary"]')" = False ]
	[ "$(json '{s["batch"] for s in d["steps"]}')" = "{1}" ]
}

@test "--only takes a comma list and refuses a word that is no gateway or agent" {
	run --separate-stderr dcv deploy --only dcv3,dcv1 --serial 1 --max-fail 100% --json
	[ "$status" -eq 4 ]
	[ "$(json '[s["host"] for s in d["steps"]]')" = "['dcv1', 'dcv3']" ]
	run --separate-stderr dcv deploy --only dcv1,dvc3
	[ "$status" -eq 2 ]
	[[ $stderr == *"--only dcv1,dvc3: expected 'gateway', 'agents' or agent names, separated by commas"* ]]
	run --separate-stderr dcv deploy --only dcv1,
	[ "$status" -eq 2 ]
}

@test "--max-fail without --serial or [deploy] serial is a usage error" {
	run --separate-stderr dcv deploy --max-fail 10%
	[ "$status" -eq 2 ]
	[[ $stderr == *"--max-fail needs --serial (or [deploy] serial)"* ]]
}

@test "a bad [deploy] value is a configuration error naming the file and line" {
	printf '\n[deploy]\nserial = none\n' >>"$INV"
	run --separate-stderr dcv deploy --serial 2
	[ "$status" -eq 3 ]
	[[ $stderr == *"dcvctl.conf:32: bad value 'none' for 'serial' in [deploy] (expected a number of agents per batch, or a percentage such as 25%)"* ]]
}

@test "stderr that is not a terminal gets one line per finished host; -q none" {
	run --separate-stderr dcv deploy --only agents --serial 2
	[ "$status" -eq 1 ]
	[ "$(grep -cE '^deploy: dcv[13] failed \([12]/4 hosts done, [12] failed, batch 1/3\)$' <<<"$stderr")" = 2 ]
	run --separate-stderr dcv -q deploy --only agents --serial 2
	[ "$status" -eq 1 ]
	[ -z "$stderr" ]
}

@test "check prints one progress line per host on stderr that is not a terminal" {
	run --separate-stderr dcv check --format json
	[ "$status" -eq 4 ]
	[ "$(grep -cE '^check: (gateway|dcv[1-4]) failed \([1-5]/5 hosts done, [1-5] failed\)$' <<<"$stderr")" = 5 ]
}
