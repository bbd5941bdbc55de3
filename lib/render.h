/* render.h - the configurations dcvctl writes (design §7). Pure functions of the inventory. */
#ifndef DCV_RENDER_H
#define DCV_RENDER_H

#include <stdbool.h>

#include "buf.h"

struct dcv_inventory;
struct dcv_host;

/* The keys dcvctl manages in an agent's dcv.conf, applied to `existing` (may be "" or NULL):
 * [connectivity] web-port, web-url-path; [session-management] create-session = true and
 * [session-management/automatic-console-session] owner for the automatic console session
 * (dcv_session_automatic), create-session = false for any other;
 * [security] authentication when the inventory sets it; in bypass mode [security]
 * auth-token-verifier and no-tls-strict (which only concerns that verifier) removed. Every other line, comments included, stays as it was.
 * Applying it to its own output changes nothing. */
void dcv_render_dcvconf(const char *existing, const struct dcv_host *agent, bool bypass,
			struct dcv_buf *out);

/* The broker's token verifier for DCV servers (reference/dcv.md §5.2): https://NAME:8445/agent/
 * validate-authentication-token, NAME the [broker] name, else the broker host's address.
 * Caller frees; NULL when there is no broker host. */
char *dcv_broker_verifier_url(const struct dcv_inventory *inv);
/* dcv.conf as the inventory's proxy kind wants it: the bypass as above; connection-gateway
 * (seed 004): also [security] auth-token-verifier = the broker's, administrators =
 * ["dcvsmagent"], and no-tls-strict = true unless [security] ca-file is set. */
void dcv_render_dcvconf_for(const char *existing, const struct dcv_inventory *inv, const struct dcv_host *agent,
			    struct dcv_buf *out);

/* The broker's agent connector (agent-to-broker-connector-https-port, §5.1): the verifier's port. */
#define DCV_BROKER_AGENT_PORT 8445

/* Where the rendered files live on the hosts. */
#define DCV_DCV_CONF "/etc/dcv/dcv.conf"

#endif
