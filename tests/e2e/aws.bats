#!/usr/bin/env bats
# check --aws and [aws] (issue 10 item 5) without AWS: a stub `aws` first on PATH answers with
# the documented JSON shapes (tests/e2e/stubs/aws); no host is contacted (--only aws).

bats_require_minimum_version 1.5.0

setup() {
	DCVCTL=${DCVCTL:-$BATS_TEST_DIRNAME/../../dcvctl}
	INV="$BATS_TEST_TMPDIR/dcvctl.conf"
	export AWS_STUB_LOG="$BATS_TEST_TMPDIR/aws.log"
	# the gateway's address is the fixtures' healthy ip target; nothing listens there
	cat >"$INV" <<-EOI
	[endpoint]
	url = https://vpce-0123456789abcdef0-abcd1234.vpce-svc-0fedcba9876543210.ap-northeast-1.vpce.amazonaws.com:8443/

	[gateway]
	address = 198.18.0.11
	user = ec2-user

	[agent dcv1]
	address = 198.18.1.21
	user = ubuntu

	[aws]
	region = ap-northeast-1
	profile = ops
	target-group-arn = arn:aws:elasticloadbalancing:ap-northeast-1:123456789012:targetgroup/dcv-gw/0123456789abcdef
	EOI
}

aws_check() { # mode [dcvctl args...]
	local mode=$1
	shift
	run --separate-stderr env PATH="$BATS_TEST_DIRNAME/stubs:$PATH" AWS_STUB_MODE="$mode" \
		"$DCVCTL" -c "$INV" check --only aws --json "$@"
}

field() { # python expression over the report d
	/usr/bin/python3 -c "import json, sys
d = json.loads(sys.argv[1])
rows = {c['id']: c for c in d['checks']}
print($1)" "$output"
}

@test "healthy: the three aws rows pass, no diagnosis, the calls carry region, profile and --output json" {
	aws_check healthy
	[ "$status" -eq 0 ]
	[ "$(field "rows['aws.vpce.state']['status']")" = pass ]
	[ "$(field "rows['aws.nlb.targets']['status']")" = pass ]
	[ "$(field "rows['aws.sg.8443']['status']")" = pass ]
	[ "$(field "rows['aws.sg.8443']['host']")" = aws ]
	[ "$(field "d['diagnosis']['hop']")" = None ]
	[ "$(field "len(d['checks'])")" = 3 ]
	grep -qx 'ec2 describe-vpc-endpoints --vpc-endpoint-ids vpce-0123456789abcdef0 --output json --region ap-northeast-1 --profile ops' "$AWS_STUB_LOG"
	grep -q '^elbv2 describe-target-health --target-group-arn arn:aws:elasticloadbalancing:' "$AWS_STUB_LOG"
	grep -q '^ec2 describe-security-groups --group-ids sg-0aaaaaaaaaaaaaaaa --output json' "$AWS_STUB_LOG"
}

@test "pending: the endpoint awaiting acceptance fails and is the diagnosis; the initial target warns" {
	aws_check pending
	[ "$status" -eq 1 ]
	[ "$(field "rows['aws.vpce.state']['status']")" = fail ]
	[ "$(field "rows['aws.nlb.targets']['status']")" = warn ]
	[ "$(field "d['diagnosis']['hop']")" = aws ]
	[ "$(field "d['diagnosis']['check']")" = aws.vpce.state ]
	[[ "$(field "d['diagnosis']['cause']")" == *"pendingAcceptance: the endpoint service's owner must accept"* ]]
}

@test "unhealthy: the gateway's target and the missing 8443 rule fail; the diagnosis names the target first" {
	aws_check unhealthy
	[ "$status" -eq 1 ]
	[ "$(field "rows['aws.nlb.targets']['status']")" = fail ]
	[ "$(field "rows['aws.sg.8443']['status']")" = fail ]
	[ "$(field "d['diagnosis']['check']")" = aws.nlb.targets ]
	[[ "$(field "d['diagnosis']['cause']")" == *"198.18.0.11:8443 unhealthy (Target.FailedHealthChecks)"* ]]
	[ "$(field "d['diagnosis']['hint']")" = "aws elbv2 describe-target-health --target-group-arn arn:aws:elasticloadbalancing:ap-northeast-1:123456789012:targetgroup/dcv-gw/0123456789abcdef" ]
	[[ "$(field "rows['aws.sg.8443']['message']")" == *"no inbound rule of sg-0aaaaaaaaaaaaaaaa admits TCP 8443"* ]]
}

@test "no credentials: skipped with the reason under [aws], an error with --aws" {
	aws_check nocreds
	[ "$status" -eq 0 ]
	[ "$(field "rows['aws.vpce.state']['status']")" = skip ]
	[[ "$(field "rows['aws.vpce.state']['message']")" == *"no AWS credentials"* ]]
	aws_check nocreds --aws
	[ "$status" -eq 1 ]
	[ "$(field "rows['aws.vpce.state']['status']")" = error ]
}

@test "no aws CLI on PATH: skipped, saying so" {
	# an empty PATH: a real aws CLI on this machine must never be called (it would reach AWS)
	mkdir "$BATS_TEST_TMPDIR/empty"
	run --separate-stderr env PATH="$BATS_TEST_TMPDIR/empty" "$DCVCTL" -c "$INV" check --only aws --json
	[ "$status" -eq 0 ]
	[[ "$(field "rows['aws.vpce.state']['message']")" == *"the aws CLI is not installed"* ]]
}

@test "an [aws] value in the wrong form is an inventory error naming file and line" {
	sed -i 's/^region = .*/region = Tokyo/' "$INV"
	run --separate-stderr "$DCVCTL" -c "$INV" check --only aws
	[ "$status" -eq 3 ]
	[[ $stderr == *"dcvctl.conf:13: bad value 'Tokyo' for 'region' in [aws]"* ]]
}
