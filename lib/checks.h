/* checks.h - the check registry (design §3, §6): every check ID declared once, with its hop,
 * what it means (the man page's line), the diagnosis rule and the fix command. check emits
 * rows only through these entries; the diagnosis reads the rows' structured causes. */
#ifndef DCV_CHECKS_H
#define DCV_CHECKS_H

#include <stdbool.h>

#include "buf.h"
#include "report.h"

/* The hops along operator -> bastion -> gateway -> agent -> session and
 * client -> endpoint -> gateway -> agent. */
enum dcv_hop {
	DCV_HOP_OPERATOR,
	DCV_HOP_BASTION,
	DCV_HOP_AWS,      /* the VPC endpoint, the NLB, security groups: before the gateway */
	DCV_HOP_GATEWAY,
	DCV_HOP_BROKER,   /* connection-gateway: the Session Manager broker as Session Resolver */
	DCV_HOP_AGENT,
	DCV_HOP_SESSION,
	DCV_HOP_ENDPOINT,
};

/* One per registry entry, in registry order. */
enum dcv_check_key {
	DCV_CK_BASTION_SSH,
	DCV_CK_AWS_VPCE,
	DCV_CK_AWS_TARGETS,
	DCV_CK_AWS_SG,
	DCV_CK_GATEWAY_SSH,
	DCV_CK_GATEWAY_LEGACY,
	DCV_CK_PROXY_SERVICE,
	DCV_CK_PROXY_CONFIG,
	DCV_CK_PROXY_LISTEN,
	DCV_CK_GATEWAY_CERT,
	DCV_CK_BROKER_SERVICE,
	DCV_CK_BROKER_ENABLE_GATEWAY,
	DCV_CK_BROKER_LISTEN,
	DCV_CK_RESOLVER_TLS,
	DCV_CK_RESOLVER_MTLS,
	DCV_CK_RESOLVER_SESSION,
	DCV_CK_PROXY_BACKENDS,
	DCV_CK_TO_TCP,
	DCV_CK_TO_TLS,
	DCV_CK_TO_HTTP,
	DCV_CK_AGENT_SSH,
	DCV_CK_AGENT_SM,
	DCV_CK_AGENT_DCVSERVER,
	DCV_CK_AGENT_CONFIG,
	DCV_CK_AGENT_SESSION,
	DCV_CK_EP_TCP,
	DCV_CK_EP_TLS,
	DCV_CK_EP_HTTP,
	DCV_CK_EP_WEBSOCKET,
	DCV_CK_EP_HOLD,
	DCV_CK_COUNT
};

/* A fix for rows whose cause is `when` (DCV_CAUSE_NONE: any cause). Templates expand
 * {host} (the row's host), {agent} (the agent the row is about), {unit} (the cause's unit or,
 * for a held port, the unit to stop), {proxy} (the gateway's proxy unit), {where} and {want}
 * (the cause's fields of those names). */
struct dcv_check_fix {
	enum dcv_cause_kind when;
	const char *cmd;
};

#define DCV_CHECK_MAX_FIXES 5

struct dcv_check_def {
	enum dcv_check_key key;
	const char *pattern;   /* the ID; "%s" stands for the agent's name (aws.sg: the port) */
	enum dcv_hop hop;
	/* Diagnosis order within the hop: the lower explains the higher (dcvserver stopped
	 * explains the gateway not reaching it). */
	int rank;
	const char *meaning;   /* one line, as the man page says it */
	const char *rule;      /* the diagnosis rule, one line */
	struct dcv_check_fix fix[DCV_CHECK_MAX_FIXES]; /* the first whose `when` matches; the last
							 * has when NONE */
};

extern const struct dcv_check_def dcv_checks[DCV_CK_COUNT];

/* The entry for `key`. */
const struct dcv_check_def *dcv_check_def(enum dcv_check_key key);
/* The ID of `key` for agent `agent` (ignored by IDs without one) into id[n]. */
void dcv_check_id(enum dcv_check_key key, const char *agent, char *id, size_t n);
/* Which entry produced `id`, and the agent name in it (into agent[n], "" when none);
 * false for an ID no entry declares. */
bool dcv_check_lookup(const char *id, enum dcv_check_key *key, char *agent, size_t n);
/* The ID pattern as the man page writes it: ".B bastion.ssh", ".BI agent. NAME .ssh", with
 * hyphens escaped. */
void dcv_check_man_line(const struct dcv_check_def *d, struct dcv_buf *out);

/* The diagnosis of a finished report: the first broken hop along the paths, the concrete
 * cause from the rows' structured causes, and one fix command. `proxy_unit` is the gateway's
 * proxy unit (NULL without a gateway); `hidden_by_bastion` lists the hosts reached through
 * the bastion (for its cause), may be NULL. Fills rep->diagnosis; a healthy report leaves it
 * empty. */
void dcv_check_diagnose(struct dcv_report *rep, const char *const *agents, int n_agents,
			const char *proxy_unit, const char *hidden_by_bastion);

#endif
