/* aws.c - verdicts on the AWS side of the path from the `aws` CLI's documented JSON. */
#include "aws.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <unistd.h>

#include "buf.h"
#include "sanitize.h"
#include "util.h"

void dcv_aws_verdict_release(struct dcv_aws_verdict *v)
{
	free(v->message);
	free(v->fix);
	free(v->security_groups);
	memset(v, 0, sizeof(*v));
}

static void verdict(struct dcv_aws_verdict *v, enum dcv_check_status st, const char *fix, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void verdict(struct dcv_aws_verdict *v, enum dcv_check_status st, const char *fix, const char *fmt, ...)
{
	struct dcv_buf b = DCV_BUF_INIT;
	va_list ap;

	va_start(ap, fmt);
	dcv_buf_vaddf(&b, fmt, ap);
	va_end(ap);
	free(v->message);
	free(v->fix);
	v->status = st;
	/* AWS text (reasons, descriptions, names) reaches terminals and reports */
	v->message = dcv_sanitize_line(dcv_buf_str(&b));
	v->fix = fix ? xstrdup(fix) : NULL;
	dcv_buf_release(&b);
}

/* The whole text as one JSON object, or NULL. */
static struct json_object *parse_object(const char *json)
{
	struct json_tokener *tok = json_tokener_new();
	const char *p = json ? json : "";
	struct json_object *root = json_tokener_parse_ex(tok, p, (int)strlen(p));
	size_t end = json_tokener_get_parse_end(tok);

	json_tokener_free(tok);
	while (root && isspace((unsigned char)p[end]))
		end++;
	if (root && (!json_object_is_type(root, json_type_object) || p[end])) {
		json_object_put(root);
		root = NULL;
	}
	return root;
}

static struct json_object *field(struct json_object *o, const char *key, enum json_type t)
{
	struct json_object *v;

	if (!o || !json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, t))
		return NULL;
	return v;
}

static const char *str(struct json_object *o, const char *key)
{
	struct json_object *v = field(o, key, json_type_string);
	return v ? json_object_get_string(v) : NULL;
}

/* An integer field; ports are numbers in these answers, HealthCheckPort is a string. */
static bool num(struct json_object *o, const char *key, long *out)
{
	struct json_object *v;
	char *end;

	if (!o || !json_object_object_get_ex(o, key, &v))
		return false;
	if (json_object_is_type(v, json_type_int)) {
		*out = (long)json_object_get_int64(v);
		return true;
	}
	if (json_object_is_type(v, json_type_string)) {
		const char *s = json_object_get_string(v);
		*out = strtol(s, &end, 10);
		return *s && !*end;
	}
	return false;
}

static size_t len(struct json_object *a)
{
	return a ? json_object_array_length(a) : 0;
}

static struct json_object *at(struct json_object *a, size_t i)
{
	struct json_object *o = json_object_array_get_idx(a, i);
	return json_object_is_type(o, json_type_object) ? o : NULL;
}

/* ------------------------------------------------------------------ VPC endpoint */

bool dcv_aws_vpce_id_from_name(const char *name, char *id, size_t n)
{
	size_t hex = 0;

	if (!name || strncmp(name, "vpce-", 5) != 0)
		return false;
	while (isxdigit((unsigned char)name[5 + hex]))
		hex++;
	/* ids are vpce- and 8 or 17 hex digits; the name goes on with -suffix. */
	if ((hex != 8 && hex != 17) || (name[5 + hex] != '-' && name[5 + hex] != '.') || 5 + hex + 1 > n)
		return false;
	memcpy(id, name, 5 + hex);
	id[5 + hex] = '\0';
	return true;
}

static bool dns_equal(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);

	/* DNS names compare without case and without a root dot */
	if (la && a[la - 1] == '.')
		la--;
	if (lb && b[lb - 1] == '.')
		lb--;
	return la == lb && strncasecmp(a, b, la) == 0;
}

void dcv_aws_judge_vpce(const char *json, const char *id, const char *endpoint_name,
			struct dcv_aws_verdict *v)
{
	struct json_object *root = parse_object(json);
	struct json_object *eps = field(root, "VpcEndpoints", json_type_array), *ep = NULL;
	struct dcv_buf names = DCV_BUF_INIT, groups = DCV_BUF_INIT;
	const char *state;
	bool named = false;

	if (!eps) {
		verdict(v, DCV_CHECK_ERROR, NULL, "describe-vpc-endpoints answered no VpcEndpoints list");
		goto out;
	}
	for (size_t i = 0; i < len(eps) && !ep; i++) {
		const char *eid = str(at(eps, i), "VpcEndpointId");
		if (at(eps, i) && (!id || (eid && strcmp(eid, id) == 0)))
			ep = at(eps, i);
	}
	if (!ep) {
		verdict(v, DCV_CHECK_FAIL, NULL, "no VPC endpoint %s in this account and region (check [aws] region "
			"and profile, or vpc-endpoint-id)", id ? id : "");
		goto out;
	}
	struct json_object *dns = field(ep, "DnsEntries", json_type_array);
	for (size_t i = 0; i < len(dns); i++) {
		const char *d = str(at(dns, i), "DnsName");
		if (!d)
			continue;
		named = named || (endpoint_name && dns_equal(d, endpoint_name));
		if (i < 3)
			dcv_buf_addf(&names, "%s%s", names.len ? ", " : "", d);
	}
	struct json_object *gs = field(ep, "Groups", json_type_array);
	for (size_t i = 0; i < len(gs); i++) {
		const char *g = str(at(gs, i), "GroupId");
		if (g)
			dcv_buf_addf(&groups, "%s%s", groups.len ? "," : "", g);
	}
	if (groups.len)
		v->security_groups = dcv_buf_detach(&groups);
	state = str(ep, "State");
	id = str(ep, "VpcEndpointId") ? str(ep, "VpcEndpointId") : id;
	if (!state) {
		verdict(v, DCV_CHECK_ERROR, NULL, "VPC endpoint %s: the answer has no State", id);
	} else if (strcasecmp(state, "pendingAcceptance") == 0) {
		verdict(v, DCV_CHECK_FAIL, NULL, "VPC endpoint %s is pendingAcceptance: the endpoint service's "
			"owner must accept the connection (aws ec2 accept-vpc-endpoint-connections)", id);
	} else if (strcasecmp(state, "pending") == 0) {
		verdict(v, DCV_CHECK_WARN, NULL, "VPC endpoint %s is pending: it is being created; check again "
			"in a few minutes", id);
	} else if (strcasecmp(state, "available") != 0) {
		const char *why = str(ep, "FailureReason");
		verdict(v, DCV_CHECK_FAIL, NULL, "VPC endpoint %s is %s%s%s: clients cannot connect through it", id,
			state, why ? ": " : "", why ? why : "");
	} else if (endpoint_name && !named && names.len) {
		verdict(v, DCV_CHECK_WARN, NULL, "VPC endpoint %s is available, but %s is not one of its DNS names "
			"(%s): it must resolve to them (private DNS or a Route 53 alias)", id, endpoint_name,
			dcv_buf_str(&names));
	} else {
		verdict(v, DCV_CHECK_PASS, NULL, "VPC endpoint %s is available%s%s", id,
			named ? " and its DNS names include " : "", named ? endpoint_name : "");
	}
out:
	dcv_buf_release(&names);
	dcv_buf_release(&groups);
	if (root)
		json_object_put(root);
}

/* ------------------------------------------------------------------ NLB targets */

/* A target's health as a verdict status: only healthy passes; a target still being
 * registered or checked, draining, or with checks off is a warning. */
static enum dcv_check_status target_status(const char *state)
{
	if (!state)
		return DCV_CHECK_ERROR;
	if (strcmp(state, "healthy") == 0)
		return DCV_CHECK_PASS;
	if (strcmp(state, "initial") == 0 || strcmp(state, "draining") == 0 || strcmp(state, "unavailable") == 0)
		return DCV_CHECK_WARN;
	return DCV_CHECK_FAIL; /* unhealthy, unused */
}

void dcv_aws_judge_targets(const char *json, const char *target_group, const char *gw_address, int port,
			   const char *arn, struct dcv_aws_verdict *v)
{
	struct json_object *root = parse_object(json), *tg_root = target_group ? parse_object(target_group) : NULL;
	struct json_object *list = field(root, "TargetHealthDescriptions", json_type_array);
	struct json_object *tgs = field(tg_root, "TargetGroups", json_type_array);
	const char *type = tgs && len(tgs) ? str(at(tgs, 0), "TargetType") : NULL;
	struct dcv_buf bad = DCV_BUF_INIT, seen = DCV_BUF_INIT;
	enum dcv_check_status worst = DCV_CHECK_PASS;
	int matched = 0;
	char *fix = xasprintf("aws elbv2 describe-target-health --target-group-arn %s", arn ? arn : "ARN");

	if (!list) {
		verdict(v, DCV_CHECK_ERROR, NULL, "describe-target-health answered no TargetHealthDescriptions list");
		goto out;
	}
	for (size_t i = 0; i < len(list); i++) {
		struct json_object *d = at(list, i), *t = field(d, "Target", json_type_object);
		struct json_object *h = field(d, "TargetHealth", json_type_object);
		const char *tid = str(t, "Id"), *state = str(h, "State");
		long tport = 0;
		bool ip = type ? strcmp(type, "ip") == 0 : (tid && strncmp(tid, "i-", 2) != 0);

		if (!tid)
			continue;
		if (seen.len < 200)
			dcv_buf_addf(&seen, "%s%s:%ld", seen.len ? ", " : "", tid, num(t, "Port", &tport) ? tport : 0L);
		if (!num(t, "Port", &tport) || tport != port)
			continue;
		if (ip && (!gw_address || strcmp(tid, gw_address) != 0))
			continue;
		matched++;
		enum dcv_check_status st = target_status(state);
		if (st != DCV_CHECK_PASS) {
			const char *reason = str(h, "Reason"), *desc = str(h, "Description");
			dcv_buf_addf(&bad, "%s%s:%d %s%s%s%s%s", bad.len ? "; " : "", tid, port, state ? state : "(no state)",
				     reason ? " (" : "", reason ? reason : "", reason ? ")" : "", "");
			if (desc)
				dcv_buf_addf(&bad, ": %s", desc);
			if (worst == DCV_CHECK_PASS || st == DCV_CHECK_FAIL || st == DCV_CHECK_ERROR)
				worst = st;
		}
	}
	if (!matched) {
		verdict(v, DCV_CHECK_FAIL, NULL, "no target %s%s on port %d in the target group (targets: %s): register "
			"the gateway with aws elbv2 register-targets", gw_address && (!type || !strcmp(type, "ip")) ? "for " : "",
			gw_address && (!type || !strcmp(type, "ip")) ? gw_address : "", port, seen.len ? dcv_buf_str(&seen) : "none");
	} else if (worst == DCV_CHECK_PASS) {
		verdict(v, DCV_CHECK_PASS, NULL, "%d target%s on port %d healthy", matched, matched == 1 ? "" : "s", port);
	} else {
		verdict(v, worst, worst == DCV_CHECK_FAIL ? fix : NULL, "%s", dcv_buf_str(&bad));
	}
out:
	free(fix);
	dcv_buf_release(&bad);
	dcv_buf_release(&seen);
	if (root)
		json_object_put(root);
	if (tg_root)
		json_object_put(tg_root);
}

/* ------------------------------------------------------------------ security groups */

void dcv_aws_judge_sg(const char *json, int port, struct dcv_aws_verdict *v)
{
	struct json_object *root = parse_object(json);
	struct json_object *groups = field(root, "SecurityGroups", json_type_array);
	struct dcv_buf ids = DCV_BUF_INIT;
	char *fix;

	if (!groups) {
		verdict(v, DCV_CHECK_ERROR, NULL, "describe-security-groups answered no SecurityGroups list");
		goto out;
	}
	for (size_t i = 0; i < len(groups); i++) {
		struct json_object *g = at(groups, i), *perms = field(g, "IpPermissions", json_type_array);
		const char *gid = str(g, "GroupId");

		dcv_buf_addf(&ids, "%s%s", ids.len ? " " : "", gid ? gid : "?");
		for (size_t j = 0; j < len(perms); j++) {
			struct json_object *p = at(perms, j);
			const char *proto = str(p, "IpProtocol");
			long from = 0, to = 0;
			bool all = proto && strcmp(proto, "-1") == 0;
			bool tcp = proto && (strcmp(proto, "tcp") == 0 || strcmp(proto, "6") == 0);

			if (!all && !(tcp && num(p, "FromPort", &from) && num(p, "ToPort", &to) && from <= port && port <= to))
				continue;
			struct json_object *r4 = field(p, "IpRanges", json_type_array), *r6 = field(p, "Ipv6Ranges", json_type_array);
			struct json_object *pl = field(p, "PrefixListIds", json_type_array), *sg = field(p, "UserIdGroupPairs", json_type_array);
			const char *src = len(r4) ? str(at(r4, 0), "CidrIp") : len(r6) ? str(at(r6, 0), "CidrIpv6")
					: len(pl) ? str(at(pl, 0), "PrefixListId") : len(sg) ? str(at(sg, 0), "GroupId") : NULL;
			if (!src)
				continue; /* a rule with no source admits nothing */
			if (all)
				verdict(v, DCV_CHECK_PASS, NULL, "%s admits all traffic from %s, TCP %d included", gid ? gid : "?", src, port);
			else if (from == to)
				verdict(v, DCV_CHECK_PASS, NULL, "%s admits TCP %d from %s", gid ? gid : "?", port, src);
			else
				verdict(v, DCV_CHECK_PASS, NULL, "%s admits TCP %ld-%ld (%d included) from %s", gid ? gid : "?",
					from, to, port, src);
			goto out;
		}
	}
	fix = xasprintf("aws ec2 authorize-security-group-ingress --group-id %s --protocol tcp --port %d --cidr CLIENT-CIDR",
			len(groups) && str(at(groups, 0), "GroupId") ? str(at(groups, 0), "GroupId") : "SG-ID", port);
	verdict(v, DCV_CHECK_FAIL, fix, "no inbound rule of %s admits TCP %d: the NLB's clients are dropped",
		ids.len ? dcv_buf_str(&ids) : "the groups", port);
	free(fix);
out:
	dcv_buf_release(&ids);
	if (root)
		json_object_put(root);
}

/* ------------------------------------------------------------------ the aws CLI */

extern char **environ;

struct call {
	struct dcv_buf out, errout;
	int status;   /* exit status; -1 could not run, -2 timed out */
};

/* Read both pipes until EOF or the deadline. */
static void drain(int fd_out, int fd_err, struct call *c, long long deadline)
{
	struct pollfd p[2] = { { fd_out, POLLIN, 0 }, { fd_err, POLLIN, 0 } };
	char buf[4096];
	int open_fds = 2;

	while (open_fds) {
		long long left = deadline - dcv_now_ms();
		if (left <= 0) {
			c->status = -2;
			return;
		}
		if (poll(p, 2, (int)(left > 1000 ? 1000 : left)) < 0 && errno != EINTR)
			return;
		for (int i = 0; i < 2; i++) {
			if (p[i].fd < 0 || !(p[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			ssize_t n = read(p[i].fd, buf, sizeof(buf));
			if (n > 0 && (i ? c->errout.len : c->out.len) < (1u << 24)) {
				dcv_buf_add(i ? &c->errout : &c->out, buf, (size_t)n);
			} else if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN)) {
				p[i].fd = -1;
				open_fds--;
			}
		}
	}
}

/* Run `aws SERVICE OP ARGS... --output json [--region R] [--profile P]`. */
static void aws_call(const struct dcv_aws_conf *conf, const char *const *args, struct call *c)
{
	const char *argv[32];
	int n = 0, po[2] = { -1, -1 }, pe[2] = { -1, -1 };
	posix_spawn_file_actions_t fa;
	struct dcv_buf pager = DCV_BUF_INIT;
	char **env;
	size_t ne = 0;
	pid_t pid;
	long long deadline = dcv_now_ms() + (conf->timeout_ms > 0 ? conf->timeout_ms : 30000);

	dcv_buf_init(&c->out);
	dcv_buf_init(&c->errout);
	c->status = -1;
	argv[n++] = "aws";
	for (; *args && n < 24; args++)
		argv[n++] = *args;
	argv[n++] = "--output";
	argv[n++] = "json";
	if (conf->region) {
		argv[n++] = "--region";
		argv[n++] = conf->region;
	}
	if (conf->profile) {
		argv[n++] = "--profile";
		argv[n++] = conf->profile;
	}
	argv[n] = NULL;
	/* the CLI's own environment, with its pager off (v2 pages into less otherwise) */
	while (environ[ne])
		ne++;
	env = xmalloc(sizeof(*env) * (ne + 2));
	ne = 0;
	for (char **e = environ; *e; e++)
		if (strncmp(*e, "AWS_PAGER=", 10) != 0)
			env[ne++] = *e;
	dcv_buf_adds(&pager, "AWS_PAGER=");
	env[ne++] = pager.data;
	env[ne] = NULL;
	if (pipe2(po, O_CLOEXEC) != 0 || pipe2(pe, O_CLOEXEC) != 0)
		goto out;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, po[1], 1);
	posix_spawn_file_actions_adddup2(&fa, pe[1], 2);
	int rc = posix_spawnp(&pid, "aws", &fa, NULL, (char *const *)argv, env);
	posix_spawn_file_actions_destroy(&fa);
	close(po[1]);
	close(pe[1]);
	po[1] = pe[1] = -1;
	if (rc != 0) {
		c->status = -1;
		goto out;
	}
	drain(po[0], pe[0], c, deadline);
	if (c->status == -2)
		kill(pid, SIGKILL);
	int ws;
	while (waitpid(pid, &ws, 0) < 0 && errno == EINTR)
		;
	if (c->status != -2)
		c->status = WIFEXITED(ws) ? WEXITSTATUS(ws) : 255;
out:
	for (int i = 0; i < 2; i++) {
		if (po[i] >= 0)
			close(po[i]);
		if (pe[i] >= 0)
			close(pe[i]);
	}
	dcv_buf_release(&pager);
	free(env);
}

static void call_release(struct call *c)
{
	dcv_buf_release(&c->out);
	dcv_buf_release(&c->errout);
}

/* The last line of the CLI's complaint, e.g. "An error occurred (InvalidVpcEndpointId.NotFound)
 * when calling the DescribeVpcEndpoints operation: ..." */
static const char *last_line(struct dcv_buf *b)
{
	dcv_buf_rtrim(b);
	const char *nl = strrchr(dcv_buf_str(b), '\n');
	return nl ? nl + 1 : dcv_buf_str(b);
}

/* A verdict for a call that did not answer with JSON; false when it did (status 0). */
static bool call_failed(const struct call *cc, const char *what, bool required, struct dcv_aws_verdict *v)
{
	struct call *c = (struct call *)cc;
	enum dcv_check_status cant = required ? DCV_CHECK_ERROR : DCV_CHECK_SKIP;
	const char *msg = last_line(&c->errout);

	if (c->status == 0)
		return false;
	if (c->status == -1)
		verdict(v, cant, NULL, "the aws CLI is not installed or not on PATH (needed for %s)", what);
	else if (c->status == -2)
		verdict(v, DCV_CHECK_ERROR, NULL, "aws %s did not answer in time", what);
	else if (strstr(msg, "Unable to locate credentials") || strstr(msg, "could not be found") ||
		 strstr(msg, "NoCredentialProviders"))
		verdict(v, cant, "aws configure", "no AWS credentials for %s: %s (set [aws] profile, or run aws configure)",
			what, msg);
	else if (strstr(msg, "ExpiredToken") || strstr(msg, "RequestExpired") || strstr(msg, "Token has expired"))
		verdict(v, cant, "aws sso login", "the AWS credentials have expired (%s): %s", what, msg);
	else if (strstr(msg, "UnauthorizedOperation") || strstr(msg, "AccessDenied"))
		verdict(v, DCV_CHECK_ERROR, NULL, "the AWS credentials may not call %s: %s", what, msg);
	else
		verdict(v, DCV_CHECK_FAIL, NULL, "aws %s failed (exit %d): %s", what, c->status, msg);
	return true;
}

void dcv_aws_check(const struct dcv_aws_conf *conf, const char *endpoint_name, const char *gw_address,
		   int target_port, int endpoint_port, bool required, struct dcv_aws_verdict out[DCV_AWS_N])
{
	char id[32] = "";
	struct call c;
	char *groups = NULL;

	memset(out, 0, sizeof(*out) * DCV_AWS_N);
	if (conf->vpc_endpoint_id)
		snprintf(id, sizeof(id), "%s", conf->vpc_endpoint_id);
	if (!id[0] && !dcv_aws_vpce_id_from_name(endpoint_name, id, sizeof(id))) {
		verdict(&out[DCV_AWS_VPCE], required ? DCV_CHECK_ERROR : DCV_CHECK_SKIP, NULL,
			"%s is not a VPC endpoint's DNS name: set [aws] vpc-endpoint-id", endpoint_name ? endpoint_name : "the endpoint");
	} else {
		const char *args[] = { "ec2", "describe-vpc-endpoints", "--vpc-endpoint-ids", id, NULL };
		aws_call(conf, args, &c);
		if (!call_failed(&c, "ec2 describe-vpc-endpoints", required, &out[DCV_AWS_VPCE]))
			dcv_aws_judge_vpce(dcv_buf_str(&c.out), id, endpoint_name, &out[DCV_AWS_VPCE]);
		call_release(&c);
	}

	if (!conf->target_group_arn) {
		verdict(&out[DCV_AWS_TARGETS], required ? DCV_CHECK_ERROR : DCV_CHECK_SKIP, NULL,
			"no [aws] target-group-arn: the NLB's target health is not checked");
	} else {
		struct call tg;
		const char *targs[] = { "elbv2", "describe-target-groups", "--target-group-arns", conf->target_group_arn, NULL };
		const char *args[] = { "elbv2", "describe-target-health", "--target-group-arn", conf->target_group_arn, NULL };
		aws_call(conf, targs, &tg);
		aws_call(conf, args, &c);
		if (!call_failed(&c, "elbv2 describe-target-health", required, &out[DCV_AWS_TARGETS]))
			dcv_aws_judge_targets(dcv_buf_str(&c.out), tg.status == 0 ? dcv_buf_str(&tg.out) : NULL,
					      gw_address, target_port, conf->target_group_arn, &out[DCV_AWS_TARGETS]);
		call_release(&tg);
		call_release(&c);
	}

	groups = xstrdup(conf->security_group_ids ? conf->security_group_ids
			 : out[DCV_AWS_VPCE].security_groups ? out[DCV_AWS_VPCE].security_groups : "");
	if (!*groups) {
		verdict(&out[DCV_AWS_SG], required ? DCV_CHECK_ERROR : DCV_CHECK_SKIP, NULL,
			"no security group to check: set [aws] security-group-ids");
	} else {
		const char *args[24] = { "ec2", "describe-security-groups", "--group-ids" };
		int n = 3;
		char *save = NULL;
		for (char *g = strtok_r(groups, " ,", &save); g && n < 20; g = strtok_r(NULL, " ,", &save))
			args[n++] = g;
		args[n] = NULL;
		aws_call(conf, args, &c);
		if (!call_failed(&c, "ec2 describe-security-groups", required, &out[DCV_AWS_SG]))
			dcv_aws_judge_sg(dcv_buf_str(&c.out), endpoint_port, &out[DCV_AWS_SG]);
		call_release(&c);
	}
	free(groups);
}
