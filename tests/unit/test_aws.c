/* test_aws.c - verdicts on the AWS side from the aws CLI's documented JSON shapes, and the
 * runner against a stub `aws` on PATH (the real CLI would call AWS). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../lib/aws.h"
#include "../../lib/buf.h"
#include "../../lib/util.h"
#include "fixture.h"

#define NAME "vpce-0123456789abcdef0-abcd1234.vpce-svc-0fedcba9876543210.ap-northeast-1.vpce.amazonaws.com"
#define ARN "arn:aws:elasticloadbalancing:ap-northeast-1:123456789012:targetgroup/dcv-gw/0123456789abcdef"

static void expect_verdict(struct dcv_aws_verdict *v, enum dcv_check_status st, const char *part)
{
	if (v->status != st || !strstr(v->message, part))
		fail_msg("verdict %d '%s', want %d with '%s'", v->status, v->message, st, part);
	dcv_aws_verdict_release(v);
}

static void vpce(const char *file, const char *name, enum dcv_check_status st, const char *part)
{
	struct dcv_aws_verdict v = { 0 };
	char *json = fixture(file);

	dcv_aws_judge_vpce(json, "vpce-0123456789abcdef0", name, &v);
	free(json);
	expect_verdict(&v, st, part);
}

static void test_aws_vpce_id_from_name(void **state)
{
	char id[32];

	(void)state;
	assert_true(dcv_aws_vpce_id_from_name(NAME, id, sizeof(id)));
	assert_string_equal(id, "vpce-0123456789abcdef0");
	assert_true(dcv_aws_vpce_id_from_name("vpce-0a1b2c3d-x1.vpce-svc-1.us-east-1.vpce.amazonaws.com", id, sizeof(id)));
	assert_string_equal(id, "vpce-0a1b2c3d");
	assert_false(dcv_aws_vpce_id_from_name("portal.example.com", id, sizeof(id)));
	assert_false(dcv_aws_vpce_id_from_name("vpce-xyz-abc.example.com", id, sizeof(id)));
	assert_false(dcv_aws_vpce_id_from_name("vpce-0123", id, sizeof(id)));
	assert_false(dcv_aws_vpce_id_from_name(NAME, id, 10)); /* too small a buffer */
	assert_false(dcv_aws_vpce_id_from_name(NULL, id, sizeof(id)));
}

static void test_aws_vpce_states(void **state)
{
	(void)state;
	vpce("aws/vpce-available.json", NAME, DCV_CHECK_PASS, "is available and its DNS names include " NAME);
	/* names compare without case or a root dot */
	vpce("aws/vpce-available.json", "VPCE-0123456789ABCDEF0-abcd1234.vpce-svc-0fedcba9876543210.ap-northeast-1.vpce.amazonaws.com.",
	     DCV_CHECK_PASS, "is available");
	vpce("aws/vpce-available.json", "portal.example.com", DCV_CHECK_WARN, "portal.example.com is not one of its DNS names");
	vpce("aws/vpce-pending-acceptance.json", NAME, DCV_CHECK_FAIL, "pendingAcceptance: the endpoint service's owner must accept");
	vpce("aws/vpce-pending.json", NAME, DCV_CHECK_WARN, "is pending");
	vpce("aws/vpce-failed.json", NAME, DCV_CHECK_FAIL, "is failed: subnet has no free addresses");
	vpce("aws/vpce-available.json", NAME, DCV_CHECK_PASS, "vpce-0123456789abcdef0");
}

static void test_aws_vpce_malformed_and_missing(void **state)
{
	struct dcv_aws_verdict v = { 0 };

	(void)state;
	dcv_aws_judge_vpce("{\"VpcEndpoints\": [", "vpce-0123456789abcdef0", NAME, &v);
	expect_verdict(&v, DCV_CHECK_ERROR, "no VpcEndpoints list");
	dcv_aws_judge_vpce("[]", "vpce-0123456789abcdef0", NAME, &v);
	expect_verdict(&v, DCV_CHECK_ERROR, "no VpcEndpoints list");
	dcv_aws_judge_vpce("{\"VpcEndpoints\": []} trailing", "vpce-0123456789abcdef0", NAME, &v);
	expect_verdict(&v, DCV_CHECK_ERROR, "no VpcEndpoints list");
	dcv_aws_judge_vpce("{\"VpcEndpoints\": []}", "vpce-0123456789abcdef0", NAME, &v);
	expect_verdict(&v, DCV_CHECK_FAIL, "no VPC endpoint vpce-0123456789abcdef0");
	/* wrong field names: as if the API answered in its XML spelling */
	dcv_aws_judge_vpce("{\"VpcEndpoints\": [{\"vpcEndpointId\": \"vpce-0123456789abcdef0\", \"state\": \"available\"}]}",
			   NULL, NAME, &v);
	expect_verdict(&v, DCV_CHECK_ERROR, "has no State");
	/* escape sequences in a reason never reach the terminal */
	dcv_aws_judge_vpce("{\"VpcEndpoints\": [{\"VpcEndpointId\": \"vpce-0123456789abcdef0\", \"State\": \"failed\","
			   " \"FailureReason\": \"bad\\u001b[2Jthing\"}]}", NULL, NAME, &v);
	assert_null(strchr(v.message, 0x1b));
	expect_verdict(&v, DCV_CHECK_FAIL, "is failed");
}

static void targets(const char *file, const char *groups, const char *addr, enum dcv_check_status st, const char *part)
{
	struct dcv_aws_verdict v = { 0 };
	char *json = fixture(file), *tg = groups ? fixture(groups) : NULL;

	dcv_aws_judge_targets(json, tg, addr, 8443, ARN, &v);
	free(json);
	free(tg);
	expect_verdict(&v, st, part);
}

static void test_aws_targets(void **state)
{
	struct dcv_aws_verdict v = { 0 };
	char *json = fixture("aws/targets-unhealthy.json");

	(void)state;
	/* the gateway's own target counts, not another one's */
	targets("aws/targets-healthy.json", "aws/target-groups-ip.json", "198.18.0.11", DCV_CHECK_PASS, "1 target on port 8443 healthy");
	targets("aws/targets-healthy.json", "aws/target-groups-ip.json", "198.18.0.12", DCV_CHECK_FAIL,
		"198.18.0.12:8443 unhealthy (Target.FailedHealthChecks): Health checks failed");
	targets("aws/targets-initial.json", NULL, "198.18.0.11", DCV_CHECK_WARN, "initial (Elb.InitialHealthChecking)");
	targets("aws/targets-healthy.json", "aws/target-groups-ip.json", "198.18.0.99", DCV_CHECK_FAIL,
		"no target for 198.18.0.99 on port 8443");
	/* instance targets: judged all, whatever the gateway's address */
	targets("aws/targets-instance.json", NULL, "198.18.0.11", DCV_CHECK_PASS, "1 target on port 8443 healthy");
	dcv_aws_judge_targets(json, NULL, "198.18.0.11", 8443, ARN, &v);
	assert_string_equal(v.fix, "aws elbv2 describe-target-health --target-group-arn " ARN);
	expect_verdict(&v, DCV_CHECK_FAIL, "unhealthy");
	dcv_aws_judge_targets(json, NULL, "198.18.0.11", 443, ARN, &v);
	expect_verdict(&v, DCV_CHECK_FAIL, "no target for 198.18.0.11 on port 443 in the target group (targets: 198.18.0.11:8443)");
	dcv_aws_judge_targets("{}", NULL, "198.18.0.11", 8443, ARN, &v);
	expect_verdict(&v, DCV_CHECK_ERROR, "no TargetHealthDescriptions");
	free(json);
}

static void sg(const char *json, int port, enum dcv_check_status st, const char *part)
{
	struct dcv_aws_verdict v = { 0 };

	dcv_aws_judge_sg(json, port, &v);
	expect_verdict(&v, st, part);
}

static void test_aws_security_groups(void **state)
{
	char *open = fixture("aws/sg-open.json"), *closed = fixture("aws/sg-closed.json");
	struct dcv_aws_verdict v = { 0 };

	(void)state;
	sg(open, 8443, DCV_CHECK_PASS, "sg-0aaaaaaaaaaaaaaaa admits TCP 8000-9000 (8443 included) from 10.20.0.0/16");
	sg(open, 9001, DCV_CHECK_FAIL, "no inbound rule of sg-0aaaaaaaaaaaaaaaa admits TCP 9001");
	/* 443/tcp and 8443/udp do not admit 8443/tcp; egress does not count */
	dcv_aws_judge_sg(closed, 8443, &v);
	assert_string_equal(v.fix, "aws ec2 authorize-security-group-ingress --group-id sg-0aaaaaaaaaaaaaaaa "
				   "--protocol tcp --port 8443 --cidr CLIENT-CIDR");
	expect_verdict(&v, DCV_CHECK_FAIL, "no inbound rule");
	sg("{\"SecurityGroups\": [{\"GroupId\": \"sg-1\", \"IpPermissions\": [{\"IpProtocol\": \"-1\","
	   " \"IpRanges\": [], \"UserIdGroupPairs\": [{\"GroupId\": \"sg-2\"}]}]}]}",
	   8443, DCV_CHECK_PASS, "sg-1 admits all traffic from sg-2");
	sg("{\"SecurityGroups\": [{\"GroupId\": \"sg-1\", \"IpPermissions\": [{\"IpProtocol\": \"tcp\", \"FromPort\": 8443,"
	   " \"ToPort\": 8443, \"Ipv6Ranges\": [{\"CidrIpv6\": \"::/0\"}]}]}]}",
	   8443, DCV_CHECK_PASS, "sg-1 admits TCP 8443 from ::/0");
	/* a rule with no source admits nothing */
	sg("{\"SecurityGroups\": [{\"GroupId\": \"sg-1\", \"IpPermissions\": [{\"IpProtocol\": \"-1\"}]}]}",
	   8443, DCV_CHECK_FAIL, "no inbound rule");
	sg("not json", 8443, DCV_CHECK_ERROR, "no SecurityGroups list");
	free(open);
	free(closed);
}

/* ------------------------------------------------------------------ the runner, with a stub aws */

static char *stub_dir;

/* A stub `aws` that logs its arguments and AWS_PAGER, then answers from the fixtures by
 * operation (or as `mode` says: creds = no credentials). */
static void stub(const char *mode)
{
	char *path = xasprintf("%s/aws", stub_dir), *fx = fixture_path("aws");
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fprintf(f, "#!/bin/sh\n"
		   "echo \"$* pager=[${AWS_PAGER-unset}]\" >> '%s/args'\n"
		   "case '%s' in creds) echo 'Unable to locate credentials. You can configure credentials by running \"aws configure\".' >&2; exit 253 ;; esac\n"
		   "case $2 in\n"
		   "describe-vpc-endpoints) cat '%s/vpce-available.json' ;;\n"
		   "describe-target-groups) cat '%s/target-groups-ip.json' ;;\n"
		   "describe-target-health) cat '%s/targets-%s.json' ;;\n"
		   "describe-security-groups) cat '%s/sg-open.json' ;;\n"
		   "*) echo \"unknown $2\" >&2; exit 252 ;;\n"
		   "esac\n", stub_dir, mode, fx, fx, fx, mode, fx);
	fclose(f);
	chmod(path, 0755);
	free(path);
	free(fx);
}

static char *args_log(void)
{
	char *path = xasprintf("%s/args", stub_dir);
	struct dcv_buf b = DCV_BUF_INIT;
	FILE *f = fopen(path, "r");
	char line[1024];

	while (f && fgets(line, sizeof(line), f))
		dcv_buf_adds(&b, line);
	if (f)
		fclose(f);
	unlink(path);
	free(path);
	return dcv_buf_detach(&b);
}

static int setup_stub(void **state)
{
	char tmpl[] = "/tmp/dcvctl-test-aws-XXXXXX";
	(void)state;
	stub_dir = xstrdup(mkdtemp(tmpl));
	return 0;
}

static int teardown_stub(void **state)
{
	char *cmd = xasprintf("rm -rf '%s'", stub_dir);
	(void)state;
	assert_int_equal(system(cmd), 0);
	free(cmd);
	free(stub_dir);
	return 0;
}

static void test_aws_check_with_stub(void **state)
{
	struct dcv_aws_conf conf = { "ap-northeast-1", "ops", NULL, ARN, NULL, 5000 };
	struct dcv_aws_verdict v[DCV_AWS_N];
	char *old = xstrdup(getenv("PATH")), *path = xasprintf("%s:%s", stub_dir, old);
	char *log;

	(void)state;
	setenv("PATH", path, 1);
	setenv("AWS_PAGER", "less", 1);
	stub("unhealthy");
	dcv_aws_check(&conf, NAME, "198.18.0.11", 8443, 8443, false, v);
	assert_int_equal(v[DCV_AWS_VPCE].status, DCV_CHECK_PASS);
	assert_int_equal(v[DCV_AWS_TARGETS].status, DCV_CHECK_FAIL);
	assert_non_null(strstr(v[DCV_AWS_TARGETS].message, "unhealthy (Target.FailedHealthChecks)"));
	/* the security groups come from the endpoint when the inventory names none */
	assert_int_equal(v[DCV_AWS_SG].status, DCV_CHECK_PASS);
	for (int i = 0; i < DCV_AWS_N; i++)
		dcv_aws_verdict_release(&v[i]);
	log = args_log();
	assert_non_null(strstr(log, "ec2 describe-vpc-endpoints --vpc-endpoint-ids vpce-0123456789abcdef0 --output json "
				    "--region ap-northeast-1 --profile ops pager=[]\n"));
	assert_non_null(strstr(log, "elbv2 describe-target-health --target-group-arn " ARN " --output json"));
	assert_non_null(strstr(log, "ec2 describe-security-groups --group-ids sg-0aaaaaaaaaaaaaaaa --output json"));
	free(log);

	stub("creds");
	dcv_aws_check(&conf, NAME, "198.18.0.11", 8443, 8443, false, v);
	for (int i = 0; i < DCV_AWS_N; i++) {
		assert_int_equal(v[i].status, DCV_CHECK_SKIP);
		dcv_aws_verdict_release(&v[i]);
	}
	dcv_aws_check(&conf, NAME, "198.18.0.11", 8443, 8443, true, v);
	assert_int_equal(v[DCV_AWS_VPCE].status, DCV_CHECK_ERROR);
	assert_non_null(strstr(v[DCV_AWS_VPCE].message, "no AWS credentials for ec2 describe-vpc-endpoints"));
	for (int i = 0; i < DCV_AWS_N; i++)
		dcv_aws_verdict_release(&v[i]);
	free(args_log());

	/* no aws at all */
	setenv("PATH", "/nonexistent", 1);
	dcv_aws_check(&conf, NAME, "198.18.0.11", 8443, 8443, false, v);
	assert_int_equal(v[DCV_AWS_VPCE].status, DCV_CHECK_SKIP);
	assert_non_null(strstr(v[DCV_AWS_VPCE].message, "the aws CLI is not installed"));
	for (int i = 0; i < DCV_AWS_N; i++)
		dcv_aws_verdict_release(&v[i]);
	setenv("PATH", old, 1);
	unsetenv("AWS_PAGER");
	free(old);
	free(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_aws_vpce_id_from_name),
		cmocka_unit_test(test_aws_vpce_states),
		cmocka_unit_test(test_aws_vpce_malformed_and_missing),
		cmocka_unit_test(test_aws_targets),
		cmocka_unit_test(test_aws_security_groups),
		cmocka_unit_test_setup_teardown(test_aws_check_with_stub, setup_stub, teardown_stub),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
