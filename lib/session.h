/* session.h - DCV sessions as `dcv list-sessions` reports them (reference/dcv.md §2.4). */
#ifndef DCV_SESSION_H
#define DCV_SESSION_H

#include <stdbool.h>
#include <stddef.h>

struct dcv_err;
struct dcv_host;

struct dcv_session {
	char *id;
	char *owner;
	char *type; /* console | virtual | "" when unknown */
	char *name; /* NULL when none */
	int connections; /* -1 when unknown (text formats) */
};

struct dcv_sessions {
	struct dcv_session *v;
	int n;
};

/* Parse `dcv list-sessions --json` (an array of objects with "id", "owner", "type", "name",
 * "num-of-connections"; empty output means none). Returns DCV_OK or DCV_E_REMOTE. */
int dcv_sessions_parse_json(const char *text, struct dcv_sessions *out, struct dcv_err *err);
/* Parse every text variant of §2.4: quoted/unquoted id, quoted/unquoted name, optional name,
 * owner with a backslash, CRLF, "There are no sessions available." */
int dcv_sessions_parse_text(const char *text, struct dcv_sessions *out, struct dcv_err *err);
/* JSON when the text starts with '[' (after blanks), text otherwise. */
int dcv_sessions_parse(const char *text, struct dcv_sessions *out, struct dcv_err *err);
void dcv_sessions_release(struct dcv_sessions *s);
const struct dcv_session *dcv_sessions_find(const struct dcv_sessions *s, const char *id);

/* The one "ensure" rule set, shared by `session create` and deploy: what it takes for the
 * agent's configured session to exist as the inventory asks (id, owner, type, name when set). */
enum dcv_session_action {
	DCV_SESSION_NONE,     /* there as configured */
	DCV_SESSION_CREATE,   /* absent */
	DCV_SESSION_RECREATE, /* there with other settings: close, then create */
};

struct dcv_session_ensure {
	enum dcv_session_action action;
	char reason[256]; /* why, naming the differing field and both values */
};

/* Is the agent's session DCV's automatic console session (type console, id `console`)? Its
 * dcv.conf then has dcvserver create it at every start (reference/dcv.md §1.1), without a name:
 * the inventory's session-name does not apply to it. */
bool dcv_session_automatic(const struct dcv_host *agent);
/* Does `s` match what `agent` asks for? A server that does not report the type passes on
 * type. When it does not, `why` (may be NULL) names the first field that differs. */
bool dcv_session_fits(const struct dcv_host *agent, const struct dcv_session *s, char *why, size_t n);
/* The action for `agent` given the sessions its server lists. */
void dcv_session_ensure_plan(const struct dcv_host *agent, const struct dcv_sessions *list,
			     struct dcv_session_ensure *out);

#endif
