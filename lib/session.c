/* Parsing `dcv list-sessions` in its JSON form and every text variant of reference §2.4. */
#include "session.h"

#include "buf.h"
#include "err.h"

#include <ctype.h>
#include <stdbool.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

static void push(struct dcv_sessions *out, struct dcv_session s)
{
	out->v = xrealloc(out->v, sizeof(*out->v) * (size_t)(out->n + 1));
	out->v[out->n++] = s;
}

static char *jstr(struct json_object *o, const char *key)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || json_object_is_type(v, json_type_null))
		return NULL;
	return xstrdup(json_object_get_string(v));
}

int dcv_sessions_parse_json(const char *text, struct dcv_sessions *out, struct dcv_err *err)
{
	struct json_tokener *tok;
	struct json_object *root;
	const char *p = text ? text : "";

	memset(out, 0, sizeof(*out));
	while (isspace((unsigned char)*p))
		p++;
	if (!*p)
		return DCV_OK; /* an empty server may print nothing (reference §2.4) */
	tok = json_tokener_new();
	root = json_tokener_parse_ex(tok, p, (int)strlen(p));
	json_tokener_free(tok);
	if (!root || !json_object_is_type(root, json_type_array)) {
		json_object_put(root);
		return dcv_err_set(err, DCV_E_REMOTE, "dcv list-sessions --json: not a JSON array: %.80s", p);
	}
	for (size_t i = 0; i < json_object_array_length(root); i++) {
		struct json_object *o = json_object_array_get_idx(root, i), *n;
		struct dcv_session s = { 0 };
		if (!json_object_is_type(o, json_type_object))
			continue;
		s.id = jstr(o, "id");
		if (!s.id)
			continue;
		s.owner = jstr(o, "owner");
		s.type = jstr(o, "type");
		s.name = jstr(o, "name");
		if (s.name && !*s.name) {
			free(s.name);
			s.name = NULL;
		}
		s.connections = json_object_object_get_ex(o, "num-of-connections", &n) ? json_object_get_int(n) : -1;
		push(out, s);
	}
	json_object_put(root);
	return DCV_OK;
}

/* A value that may be in single quotes; an unquoted one ends at a blank or `stop`. */
static char *take(const char **pp, char stop)
{
	const char *p = *pp, *end;
	char *v;

	if (*p == '\'') {
		end = strrchr(p + 1, '\'');
		/* the closing quote is the last one before the next " key:" or the ')' that ends it */
		const char *q = strchr(p + 1, '\'');
		while (q && !(q[1] == ' ' || q[1] == ')' || q[1] == '\0'))
			q = strchr(q + 1, '\'');
		end = q ? q : end;
		if (!end)
			return NULL;
		v = xstrndup(p + 1, (size_t)(end - p - 1));
		*pp = end + 1;
		return v;
	}
	end = p;
	while (*end && *end != ' ' && *end != stop)
		end++;
	v = xstrndup(p, (size_t)(end - p));
	*pp = end;
	return v;
}

static bool parse_line(const char *line, struct dcv_session *s)
{
	const char *p = line;

	memset(s, 0, sizeof(*s));
	s->connections = -1;
	if (strncmp(p, "Session:", 8) != 0)
		return false;
	p += 8;
	while (*p == ' ' || *p == '\t')
		p++;
	if (!(s->id = take(&p, '(')) || !*s->id)
		goto bad;
	while (*p == ' ')
		p++;
	if (*p != '(')
		goto bad;
	p++;
	while (*p && *p != ')') {
		while (*p == ' ')
			p++;
		if (strncmp(p, "owner:", 6) == 0) {
			p += 6;
			s->owner = take(&p, ')');
		} else if (strncmp(p, "type:", 5) == 0) {
			p += 5;
			s->type = take(&p, ')');
		} else if (strncmp(p, "name:", 5) == 0) {
			p += 5;
			if (*p == '\'') {
				s->name = take(&p, ')');
			} else {
				/* unquoted name (Windows servers): runs to the closing parenthesis */
				const char *end = strrchr(p, ')');
				if (!end)
					goto bad;
				s->name = xstrndup(p, (size_t)(end - p));
				p = end;
			}
		} else {
			while (*p && *p != ' ' && *p != ')')
				p++;
		}
		if (!s->owner && !s->type && !s->name && *p && *p != ' ' && *p != ')')
			goto bad;
	}
	if (*p != ')' || !s->owner)
		goto bad;
	if (!s->type)
		s->type = xstrdup("");
	return true;
bad:
	free(s->id);
	free(s->owner);
	free(s->type);
	free(s->name);
	memset(s, 0, sizeof(*s));
	return false;
}

int dcv_sessions_parse_text(const char *text, struct dcv_sessions *out, struct dcv_err *err)
{
	const char *p = text ? text : "";

	memset(out, 0, sizeof(*out));
	while (*p) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		char *line = xstrndup(p, len);
		size_t l = strlen(line);
		while (l && (line[l - 1] == '\r' || isspace((unsigned char)line[l - 1])))
			line[--l] = '\0';
		p += len + (nl ? 1 : 0);
		if (!l || strcmp(line, "There are no sessions available.") == 0) {
			free(line);
			continue;
		}
		struct dcv_session s;
		if (!parse_line(line, &s)) {
			int rc = dcv_err_set(err, DCV_E_REMOTE, "unexpected line from dcv list-sessions: %.120s", line);
			free(line);
			dcv_sessions_release(out);
			return rc;
		}
		push(out, s);
		free(line);
	}
	return DCV_OK;
}

int dcv_sessions_parse(const char *text, struct dcv_sessions *out, struct dcv_err *err)
{
	const char *p = text ? text : "";

	while (isspace((unsigned char)*p))
		p++;
	if (*p == '[' || *p == '\0')
		return dcv_sessions_parse_json(p, out, err);
	return dcv_sessions_parse_text(p, out, err);
}

void dcv_sessions_release(struct dcv_sessions *s)
{
	for (int i = 0; i < s->n; i++) {
		free(s->v[i].id);
		free(s->v[i].owner);
		free(s->v[i].type);
		free(s->v[i].name);
	}
	free(s->v);
	s->v = NULL;
	s->n = 0;
}

const struct dcv_session *dcv_sessions_find(const struct dcv_sessions *s, const char *id)
{
	for (int i = 0; i < s->n; i++)
		if (strcmp(s->v[i].id, id) == 0)
			return &s->v[i];
	return NULL;
}
