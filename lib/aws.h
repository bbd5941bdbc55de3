/* aws.h - the AWS side of the path (the runbook's 問題4), judged from the `aws` CLI's JSON:
 * the VPC endpoint's state and DNS names, the NLB's target health for the gateway, and an
 * inbound rule admitting the listener port. Only the documented response shapes are read
 * (ec2 DescribeVpcEndpoints, elbv2 DescribeTargetHealth / DescribeTargetGroups, ec2
 * DescribeSecurityGroups, as `aws ... --output json` prints them). */
#ifndef DCV_AWS_H
#define DCV_AWS_H

#include <stdbool.h>
#include <stddef.h>

#include "report.h"

struct dcv_buf;
struct dcv_err;

/* One verdict: a check row's status, its one-line message and the command that fixes it. */
struct dcv_aws_verdict {
	enum dcv_check_status status;
	char *message;
	char *fix;                /* NULL when there is nothing to run */
	char *security_groups;    /* vpce only: the endpoint's groups, "sg-a,sg-b" (NULL if none) */
};

void dcv_aws_verdict_release(struct dcv_aws_verdict *v);

/* The VPC endpoint id a PrivateLink DNS name starts with ("vpce-0abc...-x1y2z3.vpce-svc-..."
 * -> "vpce-0abc..."); false when the name is not one. */
bool dcv_aws_vpce_id_from_name(const char *name, char *id, size_t n);

/* aws.vpce.state from `aws ec2 describe-vpc-endpoints --vpc-endpoint-ids ID`: available, and
 * `endpoint_name` (the URL's host) among its DnsEntries (a private DNS name that is not one of
 * them is a warning: it must resolve to them). Malformed JSON is an error verdict. */
void dcv_aws_judge_vpce(const char *json, const char *id, const char *endpoint_name,
			struct dcv_aws_verdict *v);

/* aws.nlb.targets from `aws elbv2 describe-target-health --target-group-arn ARN`: the
 * gateway's target on `port`, found by address (`gw_address`) for ip targets; for instance
 * targets every target on the port is judged. `target_group` is the describe-target-groups
 * answer or NULL (it gives the target type and port). */
void dcv_aws_judge_targets(const char *json, const char *target_group, const char *gw_address, int port,
			   const char *arn, struct dcv_aws_verdict *v);

/* aws.sg.PORT from `aws ec2 describe-security-groups --group-ids ...`: an inbound rule of any
 * of the groups admits TCP `port` (a port range or all traffic counts). */
void dcv_aws_judge_sg(const char *json, int port, struct dcv_aws_verdict *v);

/* What the inventory's [aws] section says (any field may be NULL). */
struct dcv_aws_conf {
	const char *region, *profile;
	const char *vpc_endpoint_id;    /* NULL: from the endpoint name */
	const char *target_group_arn;   /* NULL: aws.nlb.targets is skipped */
	const char *security_group_ids; /* "sg-a sg-b" or comma-separated; NULL: the endpoint's groups */
	long timeout_ms;                /* per call; 0: 30 s */
};

/* The three rows' verdicts, in order. */
enum { DCV_AWS_VPCE, DCV_AWS_TARGETS, DCV_AWS_SG, DCV_AWS_N };

/* Run the `aws` CLI found on PATH (AWS_PAGER off, --output json, region and profile from
 * `conf`) for the three checks and judge each answer: the gateway's target on `target_port`
 * (the port the NLB forwards to: the gateway's listen), the security groups for
 * `endpoint_port` (the port clients connect to). A missing CLI or missing credentials
 * give SKIP verdicts saying so (`required`: ERROR instead, the operator asked for --aws). */
void dcv_aws_check(const struct dcv_aws_conf *conf, const char *endpoint_name, const char *gw_address,
		   int target_port, int endpoint_port, bool required, struct dcv_aws_verdict out[DCV_AWS_N]);

#endif
