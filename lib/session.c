/* Parsing `dcv list-sessions` in its JSON form and every text variant of reference §2.4,
 * without regular expressions: names may hold quotes, spaces and `$(...)`. */
#include "session.h"

#include "buf.h"
#include "err.h"
#include "inventory.h"

#include <ctype.h>
#include <json-c/json.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NO_SESSIONS "There are no sessions available"

static void push(struct dcv_sessions *out, struct dcv_session s)
{
	out->v = xrealloc(out->v, sizeof(*out->v) * (size_t)(out->n + 1));
	out->v[out->n++] = s;
}

static void session_release(struct dcv_session *s)
{
	free(s->id);
	free(s->owner);
	free(s->type);
	free(s->name);
}

static const char *skip_blanks(const char *p)
{
	while (isspace((unsigned char)*p))
		p++;
	return p;
}

/* ------------------------------------------------------------------ JSON */

/* A string field as text ("" when absent or null); numbers keep their JSON spelling. */
static char *jstr(struct json_object *o, const char *key)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || json_object_is_type(v, json_type_null))
		return xstrdup("");
	return xstrdup(json_object_get_string(v));
}

static struct dcv_session json_session(struct json_object *o)
{
	struct dcv_session s = { jstr(o, "id"), jstr(o, "owner"), jstr(o, "type"), jstr(o, "name"), -1 };
	struct json_object *n;

	if (!*s.name) {
		free(s.name);
		s.name = NULL;
	}
	if (json_object_object_get_ex(o, "num-of-connections", &n) && !json_object_is_type(n, json_type_null))
		s.connections = json_object_get_int(n);
	return s;
}

int dcv_sessions_parse_json(const char *text, struct dcv_sessions *out, struct dcv_err *err)
{
	struct dcv_sessions list = { 0 };
	struct json_tokener *tok;
	struct json_object *root;
	const char *p = skip_blanks(text ? text : "");
	size_t end;

	if (!*p) { /* servers with no session may print nothing at all */
		*out = list;
		return DCV_OK;
	}
	tok = json_tokener_new();
	root = json_tokener_parse_ex(tok, p, (int)strlen(p));
	end = json_tokener_get_parse_end(tok);
	if (!root) {
		enum json_tokener_error e = json_tokener_get_error(tok);
		json_tokener_free(tok);
		return dcv_err_set(err, DCV_E_REMOTE, "dcv list-sessions --json printed no valid JSON (%s): '%.80s'",
				   e == json_tokener_continue ? "unexpected end" : json_tokener_error_desc(e), p);
	}
	json_tokener_free(tok);
	if (!json_object_is_type(root, json_type_array) || *skip_blanks(p + end)) {
		json_object_put(root);
		return dcv_err_set(err, DCV_E_REMOTE, "dcv list-sessions --json printed something other than one "
				   "array of sessions: '%.80s'", p);
	}
	for (size_t i = 0; i < json_object_array_length(root); i++) {
		struct json_object *o = json_object_array_get_idx(root, i);
		if (!json_object_is_type(o, json_type_object)) {
			json_object_put(root);
			dcv_sessions_release(&list);
			return dcv_err_set(err, DCV_E_REMOTE,
					   "dcv list-sessions --json: element %zu is not a session object", i + 1);
		}
		push(&list, json_session(o));
	}
	json_object_put(root);
	*out = list;
	return DCV_OK;
}

/* ------------------------------------------------------------------ text */

/* `'x'` -> `x`; anything else as it is. The first and last quote go: a quoted name may
 * itself contain quotes. */
static char *strip_quotes(const char *s, size_t n)
{
	if (n >= 2 && s[0] == '\'' && s[n - 1] == '\'')
		return xstrndup(s + 1, n - 2);
	return xstrndup(s, n);
}

static char *trim_copy(const char *s, size_t n, bool unquote)
{
	while (n && isspace((unsigned char)*s)) {
		s++;
		n--;
	}
	while (n && isspace((unsigned char)s[n - 1]))
		n--;
	return unquote ? strip_quotes(s, n) : xstrndup(s, n);
}

static char *trimmed(const char *s, size_t n)
{
	return trim_copy(s, n, true);
}

/* `Session: <id> (owner:<owner> type:<type>[ name:<name>])`. The id ends at the first
 * " (owner:", the owner (which may hold `\` or blanks) at the first " type:", and the name runs
 * to the closing parenthesis, so it may hold anything, parentheses included. */
static bool parse_line(const char *line, struct dcv_session *s)
{
	const char *p, *owner, *type, *close, *name, *rest;
	size_t n = strlen(line);

	if (strncmp(line, "Session:", 8) != 0 || !n || line[n - 1] != ')')
		return false;
	close = line + n - 1;
	p = line + 8;
	if (!(owner = strstr(p, "(owner:")) || owner > close)
		return false;
	if (!(type = strstr(owner, " type:")) || type > close)
		return false;
	rest = type + 6 + strcspn(type + 6, " \t)");
	if (rest > close)
		rest = close;
	name = strstr(rest, " name:");
	*s = (struct dcv_session){ trimmed(p, (size_t)(owner - p)),
				   trimmed(owner + 7, (size_t)(type - owner - 7)),
				   trimmed(type + 6, (size_t)(rest - type - 6)),
				   name ? trimmed(name + 6, (size_t)(close - name - 6)) : NULL, -1 };
	if (!*s->id || !*s->owner || !*s->type) {
		session_release(s);
		return false;
	}
	if (s->name && !*s->name) {
		free(s->name);
		s->name = NULL;
	}
	return true;
}

int dcv_sessions_parse_text(const char *text, struct dcv_sessions *out, struct dcv_err *err)
{
	struct dcv_sessions list = { 0 };
	const char *p = text ? text : "";

	for (int no = 1; *p; no++) {
		size_t len = strcspn(p, "\n");
		char *line = trim_copy(p, len, false);
		struct dcv_session s;

		p += len + (p[len] == '\n');
		if (*line && strncmp(line, NO_SESSIONS, strlen(NO_SESSIONS)) != 0) {
			if (!parse_line(line, &s)) {
				int rc = dcv_err_set(err, DCV_E_REMOTE,
						     "dcv list-sessions printed an unexpected line %d: '%.200s'", no, line);
				free(line);
				dcv_sessions_release(&list);
				return rc;
			}
			push(&list, s);
		}
		free(line);
	}
	*out = list;
	return DCV_OK;
}

int dcv_sessions_parse(const char *text, struct dcv_sessions *out, struct dcv_err *err)
{
	const char *p = skip_blanks(text ? text : "");

	/* '{' too: an object is JSON that is not a list, and says so better than "unexpected line" */
	if (*p == '[' || *p == '{' || !*p)
		return dcv_sessions_parse_json(p, out, err);
	return dcv_sessions_parse_text(p, out, err);
}

void dcv_sessions_release(struct dcv_sessions *s)
{
	if (!s)
		return;
	for (int i = 0; i < s->n; i++)
		session_release(&s->v[i]);
	free(s->v);
	s->v = NULL;
	s->n = 0;
}

const struct dcv_session *dcv_sessions_find(const struct dcv_sessions *s, const char *id)
{
	for (int i = 0; s && id && i < s->n; i++)
		if (strcmp(s->v[i].id, id) == 0)
			return &s->v[i];
	return NULL;
}

/* ------------------------------------------------------------------ ensure */

static bool same_str(const char *a, const char *b)
{
	return strcmp(a ? a : "", b ? b : "") == 0;
}

static bool differs(const char *field, const char *have, const char *want, char *why, size_t n)
{
	if (same_str(have, want))
		return false;
	if (why)
		snprintf(why, n, "%s '%s' instead of '%s'", field, have ? have : "", want ? want : "");
	return true;
}

bool dcv_session_automatic(const struct dcv_host *agent)
{
	return strcmp(agent->session_type, "console") == 0 && strcmp(agent->session, "console") == 0;
}

bool dcv_session_fits(const struct dcv_host *agent, const struct dcv_session *s, char *why, size_t n)
{
	if (differs("id", s->id, agent->session, why, n) ||
	    differs("owner", s->owner, agent->session_owner, why, n))
		return false;
	/* text formats of old servers may leave the type out: unknown is no difference */
	if (s->type && *s->type && differs("type", s->type, agent->session_type, why, n))
		return false;
	/* DCV gives its automatic console session no name and has no key to set one (§2.4) */
	return !agent->session_name || dcv_session_automatic(agent) ||
	       !differs("name", s->name, agent->session_name, why, n);
}

void dcv_session_ensure_plan(const struct dcv_host *agent, const struct dcv_sessions *list,
			     struct dcv_session_ensure *out)
{
	const struct dcv_session *s = dcv_sessions_find(list, agent->session);
	char why[200];

	if (!s) {
		out->action = DCV_SESSION_CREATE;
		snprintf(out->reason, sizeof(out->reason), "no session '%s'", agent->session);
	} else if (dcv_session_fits(agent, s, why, sizeof(why))) {
		out->action = DCV_SESSION_NONE;
		snprintf(out->reason, sizeof(out->reason), "session '%s' (owner %s, %s) exists", agent->session,
			 agent->session_owner ? agent->session_owner : "-", agent->session_type);
	} else {
		out->action = DCV_SESSION_RECREATE;
		snprintf(out->reason, sizeof(out->reason), "session '%s' has %s", agent->session, why);
	}
}
