/* session.h - DCV sessions as `dcv list-sessions` reports them (reference/dcv.md §2.4). */
#ifndef DCV_SESSION_H
#define DCV_SESSION_H

struct dcv_err;

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

#endif
