/* check.h - the checklist of design §6: every check really runs on its host, hosts in
 * parallel over one SSH connection each; then the diagnosis of the first broken hop. */
#ifndef DCV_CHECK_H
#define DCV_CHECK_H

#include <stdbool.h>

#include "aws.h"
#include "facts.h"
#include "probe.h"

struct dcv_err;
struct dcv_inventory;
struct dcv_report;
struct dcv_ssh_pool;

struct dcv_check_opts {
	const char *only;  /* comma-separated IDs or prefixes, NULL: all */
	const char *skip;
	long hold_ms;      /* > 0 adds endpoint.hold */
	long hold_interval_ms;
	long probe_timeout_ms; /* HTTP/TLS/WS probes (default 10 s) */
	bool aws;          /* --aws: the aws.* rows even without an [aws] section, and a missing
			    * CLI or credentials is an error, not a skip */
	/* called as each host's gathering ends (serialised), for progress; failed: SSH or its facts
	 * failed. NULL: none. */
	void (*on_host)(void *user, const char *host, int done, int total, int failed, bool host_failed);
	void *user;
};

/* Fill `rep` with every selected check and the diagnosis. Failures are results; returns
 * DCV_E_CONFIG only when the inventory lacks what the checklist needs. */
int dcv_check_run(const struct dcv_inventory *inv, struct dcv_ssh_pool *pool,
		  const struct dcv_check_opts *o, struct dcv_report *rep, struct dcv_err *err);

/* ------------------------------------------------------------------ judging
 * dcv_check_run gathers what it saw into a dcv_check_input (the only I/O), then judges it:
 * the rows and the diagnosis are a pure function of inventory, options and input, so tests
 * run them on canned facts and probe results. */

/* One attempt to reach or read something. */
struct dcv_check_step {
	bool run;      /* false: not selected or not reached; the judge then adds no row for it */
	int rc;        /* DCV_OK or the DCV_E_* it failed with */
	char err[256]; /* the error when rc != DCV_OK */
	long ms;
};

/* One request of the gateway to the Session Resolver (connection-gateway), made by curl on the
 * gateway itself: from its vantage point (its resolver, its /etc/hosts), and its client key
 * never leaves it. */
struct dcv_check_resolve {
	struct dcv_check_step step;
	int curl_rc;          /* curl's exit status: 0; 6 name, 7 refused, 28 timeout; 60 not verified;
			       * 35, 55, 56 the handshake or the first read refused (a missing or
			       * unknown client certificate, TLS 1.2 or 1.3) */
	long status;          /* the HTTP status, 0 when none came */
	char err[256];        /* the first line of curl's complaint, "" when none */
	struct dcv_buf body;  /* the answer's body (at most 4 KiB) */
};

/* The [broker] host's side of the resolver (connection-gateway), read over that host's own
 * connection. */
struct dcv_check_broker {
	struct dcv_check_step facts;
	struct dcv_broker_facts f;   /* read without secrets: the properties' judged lines only, no
				      * client key (lib/facts.h) */
};

/* What the gateway's [resolver] says and the request without a client certificate. */
struct dcv_check_resolver {
	struct dcv_check_step step;  /* the requests' script ran on the gateway */
	bool no_curl;                /* the gateway has no curl */
	char url[512], ca_file[512], cert_file[512], key_file[512]; /* the deployed TOML's, "" unset */
	struct dcv_check_resolve bare; /* without the client certificate */
};

/* Per inventory host (same index as inv->hosts). */
struct dcv_check_host {
	struct dcv_check_step ssh;
	bool hostkey_verified;
	char hostkey[160];
	struct dcv_check_step facts;   /* the facts round trip, after SSH */
	struct dcv_gw_facts gw;        /* a gateway's facts when facts.rc == DCV_OK */
	struct dcv_agent_facts agent;  /* an agent's facts when facts.rc == DCV_OK */
	/* an agent: the gateway's probes to it; a failed tcp leaves tls and http not run */
	struct dcv_check_step to_tcp, to_tls, to_http;
	char to_tls_desc[256];         /* "TLSv1.3 CIPHER, certificate SUBJECT" */
	long to_http_status;
	struct dcv_check_resolve resolve; /* an agent: the gateway's resolveSession for its session */
};

/* The endpoint's probes from the operator's machine. */
struct dcv_check_endpoint {
	struct dcv_check_step tcp, tls, http, ws, hold;
	char tcp_remote[96];
	double tcp_connect_ms;
	struct dcv_tls_result tls_r;   /* when tls.rc == DCV_OK (owned) */
	struct dcv_http_result http_r;
	struct dcv_ws_result ws_r, hold_r;
};

struct dcv_check_input {
	struct dcv_check_host *hosts;  /* inv->n_hosts entries */
	struct dcv_check_endpoint ep;
	bool aws_run;                  /* the aws.* verdicts were asked for */
	struct dcv_aws_verdict aws[DCV_AWS_N];
	struct dcv_check_broker broker;     /* connection-gateway */
	struct dcv_check_resolver resolver;
};

/* The script the gateway runs to ask the resolver for each agent's session (sessions[i] for
 * agent i, n of them), and its parser into `r` and resolves[i]. */
void dcv_check_resolver_script(const struct dcv_check_resolver *r, const char *const *sessions, int n,
			       long timeout_ms, struct dcv_buf *s);
void dcv_check_resolver_parse(const char *out, struct dcv_check_resolver *r, struct dcv_check_resolve *const *resolves,
			      int n);

/* An empty input for `inv` (nothing run); release frees facts and probe results. */
void dcv_check_input_init(struct dcv_check_input *in, const struct dcv_inventory *inv);
void dcv_check_input_release(struct dcv_check_input *in, const struct dcv_inventory *inv);

/* The rows of every selected check and the diagnosis, from `in` alone (no I/O). */
void dcv_check_judge(const struct dcv_inventory *inv, const struct dcv_check_opts *o,
		     const struct dcv_check_input *in, struct dcv_report *rep);

#endif
