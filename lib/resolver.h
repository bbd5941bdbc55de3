/* resolver.h - the Session Resolver HTTP API the Connection Gateway calls (reference/dcv.md §4):
 * the request path, and the parser of the answer. Pure functions, no I/O. */
#ifndef DCV_RESOLVER_H
#define DCV_RESOLVER_H

struct dcv_buf;
struct dcv_err;

enum dcv_resolve_status {
	DCV_RESOLVE_FOUND,     /* 200: the session lives at endpoint:port */
	DCV_RESOLVE_NOT_FOUND, /* 404: the resolver knows no such session for that transport */
};

struct dcv_resolution {
	enum dcv_resolve_status status;
	/* FOUND only (NULL otherwise); remote text, checked to hold no control characters */
	char *session_id;   /* may differ from the id asked: a public id mapped to an internal one */
	char *transport;    /* "HTTP" or "QUIC" */
	char *endpoint;     /* DcvServerEndpoint: the DCV server's DNS name (or an IP) */
	int port;
	char *web_url_path; /* starts with '/' */
	/* NOT_FOUND only: the resolver's body on one line, sanitised, at most 200 bytes ("" when empty) */
	char *message;
};

/* Append the request target for `session_id`: "/resolveSession?sessionId=ID&transport=T", the id
 * percent-encoded (reference §4: parameters in the query string, no body). */
void dcv_resolver_target(struct dcv_buf *out, const char *session_id, const char *transport);

/* The resolver's answer: `status` its HTTP status, `body` its body (NULL reads as ""). DCV_OK for a
 * 200 whose JSON carries the five documented fields, well typed (FOUND), and for a 404
 * (NOT_FOUND). Otherwise DCV_E_REMOTE and err says what is wrong: another status (with the body),
 * malformed JSON, a field missing or of the wrong type, a lower-case transport, or the field
 * names field notes saw fail (Host/HttpPort instead of DcvServerEndpoint/Port). *out is written
 * only on success; dcv_resolution_release frees it. */
int dcv_resolver_parse(int status, const char *body, struct dcv_resolution *out, struct dcv_err *err);
void dcv_resolution_release(struct dcv_resolution *r);

#endif
