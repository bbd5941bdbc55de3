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
};

/* An empty input for `inv` (nothing run); release frees facts and probe results. */
void dcv_check_input_init(struct dcv_check_input *in, const struct dcv_inventory *inv);
void dcv_check_input_release(struct dcv_check_input *in, const struct dcv_inventory *inv);

/* The rows of every selected check and the diagnosis, from `in` alone (no I/O). */
void dcv_check_judge(const struct dcv_inventory *inv, const struct dcv_check_opts *o,
		     const struct dcv_check_input *in, struct dcv_report *rep);

#endif
