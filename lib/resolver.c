/* The Session Resolver API (reference/dcv.md §4, [S16]): what the Connection Gateway asks the
 * Session Manager broker, and how strictly the answer must be shaped for the gateway to use it. */
#include "resolver.h"

#include "buf.h"
#include "err.h"
#include "sanitize.h"
#include "util.h"

#include <ctype.h>
#include <json-c/json.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MESSAGE_MAX 200

void dcv_resolver_target(struct dcv_buf *out, const char *session_id, const char *transport)
{
	static const char hex[] = "0123456789ABCDEF";

	dcv_buf_adds(out, "/resolveSession?sessionId=");
	for (const unsigned char *c = (const unsigned char *)session_id; *c; c++) {
		if (isalnum(*c) || strchr("-._~", *c)) {
			dcv_buf_addc(out, (char)*c);
		} else {
			dcv_buf_addc(out, '%');
			dcv_buf_addc(out, hex[*c >> 4]);
			dcv_buf_addc(out, hex[*c & 15]);
		}
	}
	dcv_buf_addf(out, "&transport=%s", transport);
}

void dcv_resolution_release(struct dcv_resolution *r)
{
	if (!r)
		return;
	free(r->session_id);
	free(r->transport);
	free(r->endpoint);
	free(r->web_url_path);
	free(r->message);
	memset(r, 0, sizeof(*r));
}

/* The body as one sanitised line of at most MESSAGE_MAX bytes, cut at a character boundary. */
static char *short_line(const char *body)
{
	char *s = dcv_sanitize_line(body);
	size_t n = strlen(s);

	while (n && isspace((unsigned char)s[n - 1]))
		n--;
	if (n > MESSAGE_MAX) {
		n = MESSAGE_MAX;
		while (n && ((unsigned char)s[n] & 0xc0) == 0x80)
			n--;
	}
	s[n] = '\0';
	return s;
}

/* Names that look like an attempt at `want`: the same name in another case, or one of the names
 * seen in the field (reference §4: "returning Host/HttpPort instead did not work"). */
static const char *misnamed(struct json_object *o, const char *want, const char *const *seen)
{
	json_object_object_foreach(o, key, val) {
		(void)val;
		if (strcasecmp(key, want) == 0)
			return key;
		for (int i = 0; seen[i]; i++)
			if (strcasecmp(key, seen[i]) == 0)
				return key;
	}
	return NULL;
}

static int missing(struct json_object *o, const char *want, const char *const *seen, struct dcv_err *err)
{
	const char *wrong = misnamed(o, want, seen);

	if (wrong) {
		char *w = short_line(wrong);
		int rc = dcv_err_set(err, DCV_E_REMOTE,
				     "the resolver's answer has '%s' where the gateway reads '%s': the field names are "
				     "exact (SessionId, TransportProtocol, DcvServerEndpoint, Port, WebUrlPath; "
				     "reference/dcv.md §4)", w, want);
		free(w);
		return rc;
	}
	return dcv_err_set(err, DCV_E_REMOTE, "the resolver's answer has no '%s' (reference/dcv.md §4)", want);
}

/* A string field without control characters; *dst is set only when it is one. */
static int text_field(struct json_object *o, const char *name, const char *const *seen, char **dst,
		      struct dcv_err *err)
{
	struct json_object *v;
	const char *s;

	if (!json_object_object_get_ex(o, name, &v))
		return missing(o, name, seen, err);
	if (!json_object_is_type(v, json_type_string))
		return dcv_err_set(err, DCV_E_REMOTE, "the resolver's '%s' is not a JSON string (reference/dcv.md §4)",
				   name);
	s = json_object_get_string(v);
	if (!*s)
		return dcv_err_set(err, DCV_E_REMOTE, "the resolver's '%s' is empty", name);
	if (strlen(s) != (size_t)json_object_get_string_len(v))
		return dcv_err_set(err, DCV_E_REMOTE, "the resolver's '%s' holds a control character", name);
	for (const unsigned char *c = (const unsigned char *)s; *c; c++)
		if (*c < 0x20 || *c == 0x7f)
			return dcv_err_set(err, DCV_E_REMOTE, "the resolver's '%s' holds a control character", name);
	*dst = xstrdup(s);
	return DCV_OK;
}

static int found(struct json_object *o, struct dcv_resolution *r, struct dcv_err *err)
{
	static const char *const sid_seen[] = { "Id", "Session", NULL };
	static const char *const tr_seen[] = { "Transport", "Protocol", NULL };
	static const char *const ep_seen[] = { "Host", "Hostname", "Endpoint", "ServerEndpoint", "Address", NULL };
	static const char *const port_seen[] = { "HttpPort", "WebPort", "ServerPort", NULL };
	static const char *const path_seen[] = { "Path", "WebPath", "UrlPath", NULL };
	struct json_object *v;
	int64_t port;
	int rc;

	if ((rc = text_field(o, "SessionId", sid_seen, &r->session_id, err)) ||
	    (rc = text_field(o, "TransportProtocol", tr_seen, &r->transport, err)) ||
	    (rc = text_field(o, "DcvServerEndpoint", ep_seen, &r->endpoint, err)))
		return rc;
	if (strcmp(r->transport, "HTTP") != 0 && strcmp(r->transport, "QUIC") != 0) {
		char *t = short_line(r->transport);
		rc = dcv_err_set(err, DCV_E_REMOTE,
				 "the resolver's TransportProtocol is '%s': it must be upper-case HTTP or QUIC "
				 "(reference/dcv.md §4)", t);
		free(t);
		return rc;
	}
	for (const char *c = r->endpoint; *c; c++)
		if (isspace((unsigned char)*c) || strchr("/?#@", *c))
			return dcv_err_set(err, DCV_E_REMOTE,
					   "the resolver's DcvServerEndpoint is not a host name or address");
	if (!json_object_object_get_ex(o, "Port", &v))
		return missing(o, "Port", port_seen, err);
	if (!json_object_is_type(v, json_type_int))
		return dcv_err_set(err, DCV_E_REMOTE, "the resolver's 'Port' is not a JSON integer (reference/dcv.md §4)");
	port = json_object_get_int64(v);
	if (port < 1 || port > 65535)
		return dcv_err_set(err, DCV_E_REMOTE, "the resolver's Port %lld is not a TCP port", (long long)port);
	r->port = (int)port;
	if ((rc = text_field(o, "WebUrlPath", path_seen, &r->web_url_path, err)))
		return rc;
	if (r->web_url_path[0] != '/')
		return dcv_err_set(err, DCV_E_REMOTE, "the resolver's WebUrlPath does not start with '/'");
	r->status = DCV_RESOLVE_FOUND;
	return DCV_OK;
}

static int parse_json(const char *body, struct json_object **root, struct dcv_err *err)
{
	struct json_tokener *tok = json_tokener_new();
	size_t len = strlen(body), end;

	*root = json_tokener_parse_ex(tok, body, (int)len);
	end = json_tokener_get_parse_end(tok);
	if (!*root) {
		enum json_tokener_error e = json_tokener_get_error(tok);
		json_tokener_free(tok);
		return dcv_err_set(err, DCV_E_REMOTE, "the resolver's 200 answer is not JSON: %s",
				   e == json_tokener_continue ? "it ends too early" : json_tokener_error_desc(e));
	}
	json_tokener_free(tok);
	while (end < len && isspace((unsigned char)body[end]))
		end++;
	if (end != len) {
		json_object_put(*root);
		return dcv_err_set(err, DCV_E_REMOTE, "the resolver's 200 answer has text after its JSON");
	}
	if (!json_object_is_type(*root, json_type_object)) {
		json_object_put(*root);
		return dcv_err_set(err, DCV_E_REMOTE, "the resolver's 200 answer is not a JSON object");
	}
	return DCV_OK;
}

int dcv_resolver_parse(int status, const char *body, struct dcv_resolution *out, struct dcv_err *err)
{
	struct dcv_resolution r = { 0 };
	struct json_object *root;
	int rc;

	body = body ? body : "";
	if (status == 404) {
		r.status = DCV_RESOLVE_NOT_FOUND;
		r.message = short_line(body);
		*out = r;
		return DCV_OK;
	}
	if (status != 200) {
		char *m = short_line(body);
		rc = dcv_err_set(err, DCV_E_REMOTE, "the resolver answered HTTP %d%s%s", status, *m ? ": " : "", m);
		free(m);
		return rc;
	}
	if ((rc = parse_json(body, &root, err)))
		return rc;
	rc = found(root, &r, err);
	json_object_put(root);
	if (rc) {
		dcv_resolution_release(&r);
		return rc;
	}
	*out = r;
	return DCV_OK;
}
