/* The check registry and the diagnosis over it. The table is the only place check IDs are
 * spelled; the man page's CHECKS section is tested against it. */
#include "checks.h"

#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CERT_NEW "dcvctl cert generate --out ./gateway-cert --install"
#define DEPLOY_GW "dcvctl deploy --only gateway"
#define ENABLE_GW "dcvctl broker enable-gateway"

const struct dcv_check_def dcv_checks[DCV_CK_COUNT] = {
	{ DCV_CK_BASTION_SSH, "bastion.ssh", DCV_HOP_BASTION, 0,
	  "the bastion is reachable over SSH, its host key verified, the user authenticated",
	  "first of all: every host behind the bastion is unreachable with it",
	  { { DCV_CAUSE_NONE, "dcvctl hosts --probe" } } },
	{ DCV_CK_AWS_VPCE, "aws.vpce.state", DCV_HOP_AWS, 0,
	  "with [aws] or --aws: the VPC endpoint is available and the endpoint name is one of its DNS names",
	  "an endpoint that is not available explains the endpoint rows; names its state",
	  { { DCV_CAUSE_AWS, "{want}" }, { DCV_CAUSE_NONE, "aws ec2 describe-vpc-endpoints" } } },
	{ DCV_CK_AWS_TARGETS, "aws.nlb.targets", DCV_HOP_AWS, 1,
	  "with [aws] target-group-arn: the gateway's NLB target on the listener port is healthy",
	  "names the target, its state and the NLB's reason code",
	  { { DCV_CAUSE_AWS, "{want}" }, { DCV_CAUSE_NONE, "aws elbv2 describe-target-health" } } },
	{ DCV_CK_AWS_SG, "aws.sg.%s", DCV_HOP_AWS, 2,
	  "with [aws]: an inbound rule of the endpoint's security groups admits TCP on the endpoint's port",
	  "names the groups that admit nothing on the port",
	  { { DCV_CAUSE_AWS, "{want}" }, { DCV_CAUSE_NONE, "aws ec2 describe-security-groups" } } },
	{ DCV_CK_GATEWAY_SSH, "gateway.ssh", DCV_HOP_GATEWAY, 0,
	  "the gateway is reachable over SSH, its host key verified, the user authenticated",
	  "explains every other gateway row and every gateway.to row",
	  { { DCV_CAUSE_NONE, "dcvctl hosts --probe" } } },
	{ DCV_CK_GATEWAY_LEGACY, "gateway.legacy-services", DCV_HOP_GATEWAY, 6,
	  "bypass modes: dcv-connection-gateway and dcv-session-manager-broker neither active nor enabled; "
	  "connection-gateway: nginx and haproxy neither (the broker's own rows say it runs)",
	  "names the unit that runs or is enabled but must not",
	  { { DCV_CAUSE_NONE, DEPLOY_GW } } },
	{ DCV_CK_PROXY_SERVICE, "gateway.proxy.service", DCV_HOP_GATEWAY, 2,
	  "the proxy's unit is active (and enabled: otherwise a warning)",
	  "the proxy's unit stopped, unless another process holds its port",
	  { { DCV_CAUSE_UNIT_STOPPED, "dcvctl service start gateway {unit}" }, { DCV_CAUSE_NONE, DEPLOY_GW } } },
	{ DCV_CK_PROXY_CONFIG, "gateway.proxy.config", DCV_HOP_GATEWAY, 3,
	  "the proxy's validator passes and its file equals the rendered one (drift is a warning)",
	  "names the validator's complaint or the missing file",
	  { { DCV_CAUSE_NONE, DEPLOY_GW } } },
	{ DCV_CK_PROXY_LISTEN, "gateway.proxy.listen", DCV_HOP_GATEWAY, 4,
	  "the proxy listens on the gateway's listen port; another holder is named as ss shows it, with its unit",
	  "a port held by another process explains the proxy not running: that process and its unit are the cause",
	  { { DCV_CAUSE_NONE, DEPLOY_GW } } },
	{ DCV_CK_GATEWAY_CERT, "gateway.cert", DCV_HOP_GATEWAY, 5,
	  "the gateway's cert and key are readable, match, and do not expire within cert-warn-days",
	  "names the unreadable file, the key that does not belong, or the expiry",
	  { { DCV_CAUSE_NONE, CERT_NEW } } },
	{ DCV_CK_BROKER_SERVICE, "broker.service", DCV_HOP_BROKER, 0,
	  "connection-gateway: dcv-session-manager-broker is active (and enabled: otherwise a warning) on the [broker] host",
	  "a stopped broker explains every other broker and gateway.resolver row",
	  { { DCV_CAUSE_UNIT_STOPPED, "dcvctl service start {where} {unit}" }, { DCV_CAUSE_NONE, "dcvctl deploy" } } },
	{ DCV_CK_BROKER_ENABLE_GATEWAY, "broker.enable-gateway", DCV_HOP_BROKER, 1,
	  "the broker's properties say enable-gateway = true and gateway-to-broker-connector-https-port = resolver-port",
	  "names the key, its value and the inventory's",
	  { { DCV_CAUSE_NONE, ENABLE_GW } } },
	{ DCV_CK_BROKER_LISTEN, "broker.listen", DCV_HOP_BROKER, 2,
	  "the resolver port listens on the broker host; another holder is named as ss shows it",
	  "nothing on the port while the broker runs: it started before the properties changed",
	  { { DCV_CAUSE_PORT_FREE, "dcvctl service restart {where} dcv-session-manager-broker" },
	    { DCV_CAUSE_NONE, ENABLE_GW } } },
	{ DCV_CK_RESOLVER_TLS, "gateway.resolver.tls", DCV_HOP_BROKER, 3,
	  "from the gateway the resolver's certificate verifies against [resolver] ca-file for the name in [resolver] url",
	  "after the broker's rows; names the verifier's complaint, the CA file or the name the gateway cannot resolve",
	  { { DCV_CAUSE_NONE, DEPLOY_GW } } },
	{ DCV_CK_RESOLVER_MTLS, "gateway.resolver.mtls", DCV_HOP_BROKER, 4,
	  "with tls-client-auth: the resolver refuses a client without a certificate and accepts the gateway's",
	  "names the side that is off: the broker's key or the gateway's certificate",
	  { { DCV_CAUSE_KEY, ENABLE_GW " --tls-client-auth" }, { DCV_CAUSE_NONE, DEPLOY_GW } } },
	{ DCV_CK_RESOLVER_SESSION, "gateway.resolver.session.%s", DCV_HOP_SESSION, 10,
	  "from the gateway POST /resolveSession for the agent's session answers 200 naming that agent's address, port "
	  "and web-url-path",
	  "a 404 is the session missing on the agent, the agent not registered with the broker, or no DNS mapping",
	  { { DCV_CAUSE_SESSION_MISSING, "dcvctl session create --agent {agent}" },
	    { DCV_CAUSE_UNIT_STOPPED, "dcvctl service start {agent} dcv-session-manager-agent" },
	    { DCV_CAUSE_NOT_REGISTERED, "dcvctl service restart {agent} dcv-session-manager-agent" },
	    { DCV_CAUSE_NONE, "dcvctl deploy --only {agent}" } } },
	{ DCV_CK_PROXY_BACKENDS, "gateway.proxy.backends", DCV_HOP_AGENT, 9,
	  "HAProxy: every server of the backend is UP in the proxy's own stats",
	  "a DOWN server is diagnosed at its agent, after that agent's own rows",
	  { { DCV_CAUSE_BACKEND_DOWN, "dcvctl probe http {where} --via gateway" },
	    { DCV_CAUSE_NONE, "dcvctl service start gateway {proxy}" } } },
	{ DCV_CK_TO_TCP, "gateway.to.%s.tcp", DCV_HOP_AGENT, 4,
	  "from the gateway (a tunnel through its SSH connection) the agent's address:port accepts connections",
	  "after the agent's dcvserver and dcv.conf rows, which explain it; names what holds the port on the agent",
	  { { DCV_CAUSE_PORT_FREE, "dcvctl service restart {agent} dcvserver" },
	    { DCV_CAUSE_NONE, "dcvctl config diff {agent}" } } },
	{ DCV_CK_TO_TLS, "gateway.to.%s.tls", DCV_HOP_AGENT, 5,
	  "through the gateway a TLS handshake with the agent's dcvserver succeeds",
	  "after the agent's dcvserver and dcv.conf rows, which explain it",
	  { { DCV_CAUSE_NONE, "dcvctl config diff {agent}" } } },
	{ DCV_CK_TO_HTTP, "gateway.to.%s.http", DCV_HOP_AGENT, 6,
	  "through the gateway a GET of the agent's web-url-path answers 200",
	  "after the agent's dcvserver and dcv.conf rows, which explain it",
	  { { DCV_CAUSE_NONE, "dcvctl config diff {agent}" } } },
	{ DCV_CK_AGENT_SSH, "agent.%s.ssh", DCV_HOP_AGENT, 0,
	  "the agent is reachable over SSH (through its jump host), its host key verified",
	  "explains every other row of the agent",
	  { { DCV_CAUSE_NONE, "dcvctl hosts --probe" } } },
	{ DCV_CK_AGENT_SM, "agent.%s.sm-agent", DCV_HOP_AGENT, 8,
	  "bypass modes: dcv-session-manager-agent neither active nor enabled; connection-gateway: active",
	  "names the unit state",
	  { { DCV_CAUSE_UNIT_STOPPED, "dcvctl service start {agent} {unit}" },
	    { DCV_CAUSE_NONE, "dcvctl deploy --only {agent}" } } },
	{ DCV_CK_AGENT_DCVSERVER, "agent.%s.dcvserver", DCV_HOP_AGENT, 1,
	  "dcvserver is active",
	  "explains the gateway not reaching the agent",
	  { { DCV_CAUSE_NONE, "dcvctl service start {agent} dcvserver" } } },
	{ DCV_CK_AGENT_CONFIG, "agent.%s.config", DCV_HOP_AGENT, 3,
	  "dcv.conf lints clean and every key dcvctl manages has the inventory's value",
	  "a managed key with another value (web-port, web-url-path) explains the gateway not reaching dcvserver",
	  { { DCV_CAUSE_NONE, "dcvctl deploy --only {agent}" } } },
	{ DCV_CK_AGENT_SESSION, "agent.%s.session", DCV_HOP_SESSION, 7,
	  "the configured session exists with the inventory's owner and type",
	  "names the missing session or what differs",
	  { { DCV_CAUSE_SESSION_WRONG, "dcvctl session recreate --agent {agent}" },
	    { DCV_CAUSE_NONE, "dcvctl session create --agent {agent}" } } },
	{ DCV_CK_EP_TCP, "endpoint.tcp", DCV_HOP_ENDPOINT, 0,
	  "from the operator's machine the endpoint accepts TCP connections",
	  "with the gateway healthy: the VPC endpoint, the NLB or a security group",
	  { { DCV_CAUSE_NONE, "aws elbv2 describe-target-health --target-group-arn <TARGET_GROUP_ARN>" } } },
	{ DCV_CK_EP_TLS, "endpoint.tls", DCV_HOP_ENDPOINT, 1,
	  "the handshake succeeds, the certificate covers the endpoint's name and names, is valid and verified",
	  "names the uncovered name, the expiry or the verifier's complaint",
	  { { DCV_CAUSE_CERT_NAME, CERT_NEW }, { DCV_CAUSE_CERT_EXPIRED, CERT_NEW },
	    { DCV_CAUSE_NONE, "dcvctl cert check" } } },
	{ DCV_CK_EP_HTTP, "endpoint.http", DCV_HOP_ENDPOINT, 2,
	  "a GET of the endpoint's URL answers a status in http-expect",
	  "names the status and the one expected",
	  { { DCV_CAUSE_NONE, "dcvctl config lint gateway" } } },
	{ DCV_CK_EP_WEBSOCKET, "endpoint.websocket", DCV_HOP_ENDPOINT, 3,
	  "a WebSocket upgrade answers 101 with a correct Sec-WebSocket-Accept, sending a browser's Origin",
	  "names the header that is missing or wrong",
	  { { DCV_CAUSE_NONE, "dcvctl config lint gateway" } } },
	{ DCV_CK_EP_HOLD, "endpoint.hold", DCV_HOP_ENDPOINT, 4,
	  "with --hold: the WebSocket stays open that long; ping round trips p50/p95/max",
	  "names what broke the held connection",
	  { { DCV_CAUSE_NONE, "dcvctl config lint gateway" } } },
};

const struct dcv_check_def *dcv_check_def(enum dcv_check_key key)
{
	return &dcv_checks[key];
}

void dcv_check_id(enum dcv_check_key key, const char *agent, char *id, size_t n)
{
	const char *p = dcv_checks[key].pattern, *s = strstr(p, "%s");

	if (s)
		snprintf(id, n, "%.*s%s%s", (int)(s - p), p, agent ? agent : "", s + 2);
	else
		snprintf(id, n, "%s", p);
}

bool dcv_check_lookup(const char *id, enum dcv_check_key *key, char *agent, size_t n)
{
	for (int k = 0; k < DCV_CK_COUNT; k++) {
		const char *p = dcv_checks[k].pattern, *s = strstr(p, "%s");
		size_t pre, post, len = strlen(id);
		if (!s) {
			if (strcmp(p, id) != 0)
				continue;
			*key = (enum dcv_check_key)k;
			if (n)
				agent[0] = '\0';
			return true;
		}
		pre = (size_t)(s - p);
		post = strlen(s + 2);
		if (len > pre + post && strncmp(id, p, pre) == 0 && strcmp(id + len - post, s + 2) == 0) {
			*key = (enum dcv_check_key)k;
			snprintf(agent, n, "%.*s", (int)(len - pre - post), id + pre);
			return true;
		}
	}
	return false;
}

static void man_escaped(struct dcv_buf *out, const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '-')
			dcv_buf_addc(out, '\\');
		dcv_buf_addc(out, s[i]);
	}
}

void dcv_check_man_line(const struct dcv_check_def *d, struct dcv_buf *out)
{
	const char *s = strstr(d->pattern, "%s");

	if (!s) {
		dcv_buf_adds(out, ".B ");
		man_escaped(out, d->pattern, strlen(d->pattern));
		return;
	}
	dcv_buf_adds(out, ".BI ");
	man_escaped(out, d->pattern, (size_t)(s - d->pattern));
	dcv_buf_adds(out, d->hop == DCV_HOP_AWS ? " PORT" : " NAME");
	if (s[2]) {
		dcv_buf_addc(out, ' ');
		man_escaped(out, s + 2, strlen(s + 2));
	}
}

/* ------------------------------------------------------------------ diagnosis */

/* The order the paths are walked in: the AWS side (VPC endpoint, NLB, security groups) before
 * the gateway, as the client's packets meet it; each agent after the gateway. */
enum { BLOCK_BASTION, BLOCK_AWS, BLOCK_GATEWAY, BLOCK_BROKER, BLOCK_AGENT, BLOCK_ENDPOINT };

/* What the diagnosis needs of one failed row. */
struct blame {
	const struct dcv_check *row;
	const struct dcv_check_def *def;
	char agent[128];  /* the agent the row is about ("" for none) */
	int block, subject, rank;
};

/* Causes that explain the other failures of their hop: a port another process holds, a
 * managed key with another value. */
static bool explains_others(enum dcv_cause_kind k)
{
	return k == DCV_CAUSE_PORT_HELD || k == DCV_CAUSE_KEY;
}

static int agent_index(const char *const *agents, int n, const char *name)
{
	for (int i = 0; i < n; i++)
		if (strcmp(agents[i], name) == 0)
			return i;
	return n;
}

static bool blame_of(const struct dcv_check *c, const char *const *agents, int n_agents, struct blame *b)
{
	enum dcv_check_key key;

	if (c->status != DCV_CHECK_FAIL && c->status != DCV_CHECK_ERROR)
		return false;
	memset(b, 0, sizeof(*b));
	b->row = c;
	if (!dcv_check_lookup(c->id, &key, b->agent, sizeof(b->agent)))
		return false;
	b->def = dcv_check_def(key);
	if (key == DCV_CK_PROXY_BACKENDS && c->cause.kind == DCV_CAUSE_BACKEND_DOWN && c->cause.key)
		snprintf(b->agent, sizeof(b->agent), "%s", c->cause.key);
	switch (b->def->hop) {
	case DCV_HOP_OPERATOR:
	case DCV_HOP_BASTION: b->block = BLOCK_BASTION; break;
	case DCV_HOP_AWS: b->block = BLOCK_AWS; b->agent[0] = '\0'; break;
	case DCV_HOP_GATEWAY: b->block = BLOCK_GATEWAY; break;
	/* the gateway asks the broker before it reaches any agent: a broker down explains the
	 * sessions it cannot resolve */
	case DCV_HOP_BROKER: b->block = BLOCK_BROKER; break;
	case DCV_HOP_AGENT:
	case DCV_HOP_SESSION: b->block = b->agent[0] ? BLOCK_AGENT : BLOCK_GATEWAY; break;
	case DCV_HOP_ENDPOINT: b->block = BLOCK_ENDPOINT; break;
	}
	b->subject = b->block == BLOCK_AGENT ? agent_index(agents, n_agents, b->agent) : 0;
	/* a row that did not run is explained by the one that stopped it; the rows that explain
	 * others go first within their hop */
	b->rank = c->cause.kind == DCV_CAUSE_NOT_RUN ? 100 + b->def->rank
		  : explains_others(c->cause.kind) ? -1 : b->def->rank;
	return true;
}

static bool before(const struct blame *a, const struct blame *b)
{
	if (a->block != b->block)
		return a->block < b->block;
	if (a->subject != b->subject)
		return a->subject < b->subject;
	return a->rank < b->rank;
}

static const char *or(const char *s, const char *dflt)
{
	return s && *s ? s : dflt;
}

/* The cause in words, from the row's cause fields only. */
static void cause_text(const struct blame *b, const char *proxy_unit, const char *hidden, struct dcv_buf *t)
{
	const struct dcv_cause *c = &b->row->cause;
	/* the gateway's probes to an agent and the proxy's view of it are about that agent */
	const char *host = b->agent[0] ? b->agent : b->row->host;
	const char *k = or(c->key, "?"), *v = or(c->value, "?"), *w = or(c->where, "?");
	enum dcv_check_key key = b->def->key;

	switch (c->kind) {
	case DCV_CAUSE_NONE:
		dcv_buf_addf(t, "%s fails: not %s", b->row->id, b->def->meaning);
		break;
	case DCV_CAUSE_NOT_RUN:
		dcv_buf_addf(t, "%s did not run: %s", b->row->id, v);
		break;
	case DCV_CAUSE_CONNECT:
		if (key == DCV_CK_BASTION_SSH)
			dcv_buf_addf(t, "the bastion %s does not answer SSH (%s); it hides %s", w, v, or(hidden, "no other host"));
		else if (key == DCV_CK_GATEWAY_SSH || key == DCV_CK_AGENT_SSH)
			dcv_buf_addf(t, "no SSH to %s (%s): %s", host, w, v);
		else if (key == DCV_CK_EP_TCP)
			dcv_buf_addf(t, "the gateway serves but the endpoint does not connect (%s): check the VPC endpoint, "
				     "the NLB's target health and security groups", v);
		else if (b->def->hop == DCV_HOP_AGENT)
			dcv_buf_addf(t, "the gateway cannot reach dcvserver on %s: %s", w, v);
		else if (b->def->hop == DCV_HOP_BROKER || key == DCV_CK_RESOLVER_SESSION)
			dcv_buf_addf(t, "the gateway cannot reach the resolver %s: %s", w, v);
		else
			dcv_buf_addf(t, "%s: %s", w, v);
		break;
	case DCV_CAUSE_UNIT_STOPPED:
		/* the broker's rows name the host it runs on in `where` */
		dcv_buf_addf(t, "%s is not running on %s (%s)", k, c->where ? c->where : host, v);
		break;
	case DCV_CAUSE_UNIT_RUNS:
		dcv_buf_addf(t, "%s is %s on %s, but this topology needs it stopped and disabled", k, v, host);
		break;
	case DCV_CAUSE_NOT_INSTALLED:
		dcv_buf_addf(t, "%s is not installed on %s", k, host);
		break;
	case DCV_CAUSE_PORT_FREE:
		if (key == DCV_CK_TO_TCP)
			dcv_buf_addf(t, "dcvserver runs on %s but nothing listens on its port %s (started before dcv.conf "
				     "changed?)", host, k);
		else
			dcv_buf_addf(t, "nothing listens on port %s on %s", k, host);
		break;
	case DCV_CAUSE_PORT_HELD:
		dcv_buf_addf(t, "port %s on %s is held by %s%s%s%s, not %s", k, host, v, c->where ? " (unit " : "",
			     c->where ? c->where : "", c->where ? ")" : "", or(c->want, "?"));
		break;
	case DCV_CAUSE_CONFIG_INVALID:
		dcv_buf_addf(t, "`%s` refuses the configuration on %s: %s", k, host, v);
		break;
	case DCV_CAUSE_FILE_MISSING:
		dcv_buf_addf(t, "%s is missing on %s", w, host);
		break;
	case DCV_CAUSE_DRIFT:
		dcv_buf_addf(t, "%s on %s differs from what dcvctl renders", w, host);
		break;
	case DCV_CAUSE_KEY:
		dcv_buf_addf(t, "%s = %s in %s on %s, the inventory says %s", k, or(c->value, "(unset)"), w, host,
			     or(c->want, "?"));
		break;
	case DCV_CAUSE_LINT:
		dcv_buf_addf(t, "%s on %s: %s", w, host, v);
		break;
	case DCV_CAUSE_SESSION_MISSING:
		dcv_buf_addf(t, "no session '%s' on %s (%s other%s)", k, host, v, strcmp(v, "1") == 0 ? "" : "s");
		break;
	case DCV_CAUSE_SESSION_WRONG:
		dcv_buf_addf(t, "session '%s' on %s has %s; the inventory says %s", k, host, v, or(c->want, "?"));
		break;
	case DCV_CAUSE_SESSIONS_UNREADABLE:
		dcv_buf_addf(t, "the sessions on %s cannot be read: %s", host, v);
		break;
	case DCV_CAUSE_CERT_UNREADABLE:
		dcv_buf_addf(t, "%s on %s: %s", w, host, v);
		break;
	case DCV_CAUSE_CERT_KEY:
		dcv_buf_addf(t, "%s does not belong to %s on %s", w, v, host);
		break;
	case DCV_CAUSE_CERT_NAME:
		dcv_buf_addf(t, "the certificate does not cover %s; its SANs: %s", k, v);
		break;
	case DCV_CAUSE_CERT_EXPIRED:
		dcv_buf_addf(t, "%s expired %s days ago", w, v);
		break;
	case DCV_CAUSE_CERT_EXPIRING:
		dcv_buf_addf(t, "%s expires in %s days", w, v);
		break;
	case DCV_CAUSE_CERT_NOT_YET:
		dcv_buf_addf(t, "the certificate is not valid yet: it starts in %s days", v);
		break;
	case DCV_CAUSE_CERT_UNTRUSTED:
		dcv_buf_addf(t, "the certificate chain is not verified%s%s: %s", c->where ? " against " : "",
			     c->where ? c->where : "", v);
		break;
	case DCV_CAUSE_HTTP_STATUS:
		dcv_buf_addf(t, "GET %s answers %s, expected %s", w, v, or(c->want, "?"));
		break;
	case DCV_CAUSE_HEADER:
		dcv_buf_addf(t, "the endpoint answers but %s: %s", k, v);
		break;
	case DCV_CAUSE_WS_BROKEN:
		dcv_buf_addf(t, "the endpoint upgrades to a WebSocket, then %s", v);
		break;
	case DCV_CAUSE_BACKEND_DOWN:
		dcv_buf_addf(t, "%s marks %s %s although dcvserver runs there", or(proxy_unit, "the proxy"), k, v);
		break;
	case DCV_CAUSE_NO_STATUS:
		dcv_buf_addf(t, "%s does not answer `%s`", or(proxy_unit, "the proxy"), k);
		break;
	case DCV_CAUSE_AWS:
		dcv_buf_addf(t, "on the AWS side, %s", v);
		break;
	case DCV_CAUSE_NOT_REGISTERED:
		dcv_buf_addf(t, "the broker does not resolve session '%s' although %s has it and its Session Manager "
			     "agent runs: %s", k, host, v);
		break;
	case DCV_CAUSE_NO_DNS_MAPPING:
		dcv_buf_addf(t, "the broker has no DNS mapping for %s (server id %s; it has %s)", host, k, v);
		break;
	case DCV_CAUSE_RESOLVED_WRONG:
		dcv_buf_addf(t, "the resolver answers %s = %s for %s, which is %s", k, v, host, or(c->want, "?"));
		break;
	}
}

/* The fix: the entry's first template for this cause, its placeholders filled. */
static char *fix_text(const struct blame *b, const char *proxy_unit)
{
	const struct dcv_check_fix *f = b->def->fix;
	const struct dcv_cause *c = &b->row->cause;
	struct dcv_buf out = DCV_BUF_INIT;

	while (f->when != DCV_CAUSE_NONE && f->when != c->kind)
		f++;
	for (const char *p = f->cmd; *p;) {
		const char *v = NULL;
		size_t skip = 0;
		if (strncmp(p, "{host}", 6) == 0)
			v = b->row->host, skip = 6;
		else if (strncmp(p, "{agent}", 7) == 0)
			v = b->agent, skip = 7;
		else if (strncmp(p, "{unit}", 6) == 0)
			v = c->key, skip = 6;
		else if (strncmp(p, "{proxy}", 7) == 0)
			v = proxy_unit, skip = 7;
		else if (strncmp(p, "{where}", 7) == 0)
			v = c->where, skip = 7;
		else if (strncmp(p, "{want}", 6) == 0)
			v = c->want, skip = 6;
		if (skip) {
			dcv_buf_adds(&out, or(v, "?"));
			p += skip;
		} else {
			dcv_buf_addc(&out, *p++);
		}
	}
	return dcv_buf_detach(&out);
}

void dcv_check_diagnose(struct dcv_report *rep, const char *const *agents, int n_agents,
			const char *proxy_unit, const char *hidden_by_bastion)
{
	struct blame best = { 0 }, b;
	struct dcv_buf t = DCV_BUF_INIT;
	bool found = false;

	for (int i = 0; i < rep->n; i++)
		if (blame_of(&rep->checks[i], agents, n_agents, &b) && (!found || before(&b, &best))) {
			best = b;
			found = true;
		}
	if (!found)
		return;
	cause_text(&best, proxy_unit, hidden_by_bastion, &t);
	rep->diagnosis.hop = xstrdup(best.block == BLOCK_AGENT ? best.agent : best.row->host);
	rep->diagnosis.cause = dcv_buf_detach(&t);
	rep->diagnosis.hint = fix_text(&best, proxy_unit);
	rep->diagnosis.check = xstrdup(best.row->id);
	rep->diagnosis.fact = dcv_cause_copy(&best.row->cause);
}
