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

/* Where the rendered files live on the hosts. */
#define DCV_DCV_CONF "/etc/dcv/dcv.conf"

#endif
