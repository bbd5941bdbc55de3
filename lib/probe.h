/* probe.h - HTTP, TLS and WebSocket probes of an https:// URL on libcurl + OpenSSL. */
#ifndef DCV_PROBE_H
#define DCV_PROBE_H

#include <stdbool.h>
#include <time.h>

#include "buf.h"
#include "report.h"

struct dcv_err;
struct dcv_cert;

struct dcv_probe_opts {
	const char *connect_to; /* "host:port": connect there, keep the URL's name (SNI, Host) */
	const char *proxy;      /* NULL: no proxy at all, whatever the environment says */
	const char *ca_file;    /* http, ws: verify chain and name against it alone (NULL: do not) */
	long timeout_ms;        /* whole probe (default 10 s) */
	int via_fd;             /* -1, or a connected stream (an SSH tunnel) to speak over */
	const char *origin;     /* ws: Origin header (default https://<host>) */
};

#define DCV_PROBE_OPTS_INIT { NULL, NULL, NULL, 10000, -1, NULL }

struct dcv_http_result {
	long status;
	char redirect[512];
	char http_version[8]; /* "1.1", "2" */
	double dns_ms, connect_ms, tls_ms, first_byte_ms, total_ms;
	char remote[64];      /* address:port actually reached */
};

/* GET the URL (body discarded). A non-2xx status is a result, not an error. */
int dcv_probe_http(const char *url, const struct dcv_probe_opts *o, struct dcv_http_result *r,
		   struct dcv_err *err);

struct dcv_tls_result {
	char protocol[16];
	char cipher[64];
	char alpn[32];
	double connect_ms, tls_ms;
	struct dcv_cert *cert; /* leaf + chain as served; owned, free with dcv_tls_result_release */
};

/* Handshake only (offering h2 and http/1.1 like a browser). */
int dcv_probe_tls(const char *url, const struct dcv_probe_opts *o, struct dcv_tls_result *r,
		  struct dcv_err *err);
void dcv_tls_result_release(struct dcv_tls_result *r);

struct dcv_ws_result {
	long status;            /* 101 on success */
	bool accept_ok;         /* a 101 keeping RFC 6455 §4.1: right Sec-WebSocket-Accept and all */
	char rejected[200];     /* the rule a 101 broke ("" when accept_ok or not a 101) */
	struct dcv_buf headers; /* the response head as received */
	double upgrade_ms;
	int close_code;         /* the server's close (1005: without a code); 0 when none came */
	/* with hold */
	int pings_sent, pongs, server_pings;
	double rtt_p50, rtt_p95, rtt_max;
	long held_ms;
	char failure[256]; /* why the hold or the close handshake failed; "" when both went well */
};

/* Upgrade to a WebSocket over HTTP/1.1 with a random key and a browser's Origin; success is
 * a 101 that keeps RFC 6455 §4.1 (r->rejected says which rule it broke), then a close
 * handshake. With hold_ms > 0, keep it open first, sending a ping every interval_ms and
 * answering the server's pings; a close, a protocol error or silence beyond two intervals ends
 * the hold early (r->failure says when). A server's close is echoed; ours must be answered
 * within 2 s. */
int dcv_probe_ws(const char *url, const struct dcv_probe_opts *o, long hold_ms, long interval_ms,
		 struct dcv_ws_result *r, struct dcv_err *err);
void dcv_ws_result_release(struct dcv_ws_result *r);

/* TCP connect to host:port (resolving the name): *ms is the connect time. */
int dcv_probe_tcp(const char *host, int port, long timeout_ms, double *ms, char *remote, size_t rl,
		  struct dcv_err *err);

/* ---- verdicts: the one judgement of a probe's result, shared by `probe` and `check` ----
 * Each fills a verdict: PASS, WARN or FAIL and a one-line message (lower case, no full stop)
 * that check can use as its row's message as is. */
struct dcv_verdict {
	enum dcv_check_status status;
	char message[512];
	/* For check's diagnosis, the fact behind a TLS verdict that is not a pass (structured,
	 * so nothing reads the message): which rule fired, and its subject and value. */
	enum dcv_verdict_why {
		DCV_WHY_NONE,
		DCV_WHY_CERT_NAME,      /* key: the names not covered; value: the SANs */
		DCV_WHY_CERT_EXPIRED,   /* value: days since */
		DCV_WHY_CERT_NOT_YET,   /* value: days until */
		DCV_WHY_CERT_UNTRUSTED, /* value: the verifier's reason */
		DCV_WHY_CERT_EXPIRING,  /* value: days left */
	} why;
	char key[256], value[256];
};

/* [check] cert-warn-days when there is no inventory to say it */
#define DCV_CERT_WARN_DAYS 30

/* What the served certificate must satisfy. */
struct dcv_tls_expect {
	const char *host;         /* the URL's host name: must be covered */
	const char *const *names; /* further names to cover ([endpoint] names); may be NULL */
	int n_names;
	const char *ca_file;      /* chain verified against it; NULL: system store, failure only warns */
	int cert_warn_days;       /* fewer days left than this: a warning */
	time_t now;
};

/* endpoint.tls's rules, first match wins: a name not covered (the message says "does not
 * cover" and lists the SANs), expired, not valid yet, chain not verified against a configured
 * CA: FAIL; chain not verified without a CA (the seed's self-signed pair; the message also
 * says when fewer than cert_warn_days are left), fewer than cert_warn_days left: WARN; else
 * PASS. Verifies the chain itself (reads ca_file). */
void dcv_probe_tls_verdict(const struct dcv_tls_result *r, const struct dcv_tls_expect *e,
			   struct dcv_verdict *v);

/* endpoint.http's rule: the status is one of `expect` ([check] http-expect), or any 2xx/3xx
 * when n_expect is 0 (no inventory). */
void dcv_probe_http_verdict(const struct dcv_http_result *r, const int *expect, int n_expect,
			    struct dcv_verdict *v);

/* endpoint.websocket's rule (hold_ms 0): a 101 with a correct accept and a clean close; the
 * message names the likely cause of a 400 or 403. endpoint.hold's rule (hold_ms > 0): the
 * same upgrade, and the hold ending without a failure. */
void dcv_probe_ws_verdict(const struct dcv_ws_result *r, long hold_ms, struct dcv_verdict *v);

/* Split an https URL into host, port (default 443) and path (default "/"). */
bool dcv_url_split(const char *url, char *host, size_t hl, int *port, char *path, size_t pl);

#endif
