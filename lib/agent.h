/* agent.h - DCV sessions on an agent through the `dcv` CLI (reference/dcv.md §2). */
#ifndef DCV_AGENT_H
#define DCV_AGENT_H

#include <stdbool.h>

#include "session.h"

struct dcv_err;
struct dcv_host;
struct dcv_ssh;

/* `dcv list-sessions --json` (text formats as a fallback), with sudo. */
int dcv_agent_sessions(struct dcv_ssh *c, const struct dcv_host *h, struct dcv_sessions *out,
		       struct dcv_err *err);

/* Does `s` match what the inventory asks for (id, type, owner, name)? dcv_session_fits. */
bool dcv_agent_session_matches(const struct dcv_host *h, const struct dcv_session *s);

/* Create the agent's configured session and verify it with list-sessions: `dcv create-session`
 * may exit 0 without creating anything (reference §2.2), so success is what the list shows.
 * Retries for a few seconds while dcvserver is starting. */
int dcv_agent_session_create(struct dcv_ssh *c, const struct dcv_host *h, struct dcv_err *err);

/* Close session `id` and verify it is gone. */
int dcv_agent_session_close(struct dcv_ssh *c, const struct dcv_host *h, const char *id,
			    struct dcv_err *err);

/* Carry out an action of dcv_session_ensure_plan: close (recreate) then create, each verified. */
int dcv_agent_session_ensure(struct dcv_ssh *c, const struct dcv_host *h, enum dcv_session_action action,
			     struct dcv_err *err);

#endif
