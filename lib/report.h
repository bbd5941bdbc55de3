/* report.h - the results of `dcvctl check` and their formats (design §6). Pure functions. */
#ifndef DCV_REPORT_H
#define DCV_REPORT_H

#include <stdbool.h>

#include "buf.h"

enum dcv_check_status {
	DCV_CHECK_PASS,
	DCV_CHECK_FAIL,
	DCV_CHECK_WARN,
	DCV_CHECK_SKIP,
	DCV_CHECK_ERROR, /* could not run (host unreachable, command failed to run) */
};

/* Why a row failed, as the facts show it (design §6). The diagnosis reads these fields and
 * never the message. Strings are owned by the row; NULL when the kind does not use them. */
enum dcv_cause_kind {
	DCV_CAUSE_NONE,
	DCV_CAUSE_NOT_RUN,        /* value: why (an earlier hop failed) */
	DCV_CAUSE_CONNECT,        /* where: what was reached; value: the error */
	DCV_CAUSE_UNIT_STOPPED,   /* key: the unit; value: its state */
	DCV_CAUSE_UNIT_RUNS,      /* key: a unit that must not run; value: "running" or "enabled" */
	DCV_CAUSE_NOT_INSTALLED,  /* key: the program */
	DCV_CAUSE_PORT_FREE,      /* key: the port nothing listens on */
	DCV_CAUSE_PORT_HELD,      /* key: the port; value: the process as ss shows it; where: its unit
				   * (NULL when unknown); want: the unit that should hold it */
	DCV_CAUSE_CONFIG_INVALID, /* key: the validate command; value: its first line of complaint */
	DCV_CAUSE_FILE_MISSING,   /* where: the path */
	DCV_CAUSE_DRIFT,          /* where: the file that differs from the rendering (diff in evidence) */
	DCV_CAUSE_KEY,            /* key = value in where; want: what the inventory says */
	DCV_CAUSE_LINT,           /* where: the file; value: its first error */
	DCV_CAUSE_SESSION_MISSING, /* key: the session id; value: how many others there are */
	DCV_CAUSE_SESSION_WRONG,  /* key: the session id; value: what it is; want: what it should be */
	DCV_CAUSE_SESSIONS_UNREADABLE, /* value: why */
	DCV_CAUSE_CERT_UNREADABLE, /* where: the file; value: why */
	DCV_CAUSE_CERT_KEY,       /* where: the key; value: the certificate it does not belong to */
	DCV_CAUSE_CERT_NAME,      /* key: the names not covered; value: the SANs */
	DCV_CAUSE_CERT_EXPIRED,   /* where: the certificate; value: days since */
	DCV_CAUSE_CERT_EXPIRING,  /* where: the certificate; value: days left */
	DCV_CAUSE_CERT_NOT_YET,   /* value: days until it starts */
	DCV_CAUSE_CERT_UNTRUSTED, /* where: the CA file or NULL; value: the verifier's complaint */
	DCV_CAUSE_HTTP_STATUS,    /* where: the URL; value: the status; want: what is expected */
	DCV_CAUSE_HEADER,         /* key: the header; value: what was wrong with it */
	DCV_CAUSE_WS_BROKEN,      /* value: what broke after the upgrade */
	DCV_CAUSE_BACKEND_DOWN,   /* key: the agent; value: the proxy's state and check result */
	DCV_CAUSE_NO_STATUS,      /* key: the status command nobody answered */
	DCV_CAUSE_AWS,            /* key: the AWS resource; value: what AWS says of it; want: the
				   * command that shows or fixes it */
	DCV_CAUSE_NOT_REGISTERED, /* key: the agent's session; value: what the broker knows of the
				   * agent; the broker answers 404 although the agent has it */
	DCV_CAUSE_NO_DNS_MAPPING, /* key: the agent's server id; value: the mappings the broker has */
	DCV_CAUSE_RESOLVED_WRONG, /* key: the resolver's field; value: what it answered; want: what
				   * the agent is */
};

struct dcv_cause {
	enum dcv_cause_kind kind;
	char *key, *value, *where, *want;
};

void dcv_cause_release(struct dcv_cause *c);
/* A copy of `c` with its own strings. */
struct dcv_cause dcv_cause_copy(const struct dcv_cause *c);
/* The kind's name in reports: "unit-stopped", "port-held", "key", ...; NULL for NONE. */
const char *dcv_cause_kind_name(enum dcv_cause_kind k);

struct dcv_check {
	char *id;       /* stable: "gateway.ssh", "agent.dcv1.dcvserver", "endpoint.tls", ... */
	char *host;     /* "gateway", "dcv1", "bastion", "endpoint" */
	enum dcv_check_status status;
	char *message;  /* one line */
	long duration_ms;
	char *evidence; /* command output, log tail, certificate fields; may be NULL */
	struct dcv_cause cause; /* set by the check after dcv_report_add; zero: none */
};

struct dcv_diagnosis {
	char *hop;   /* "gateway", "dcv1", "endpoint", "bastion", ... NULL when healthy */
	char *cause;
	char *hint;  /* the one command that fixes it */
	char *check; /* the ID of the row whose cause it is */
	struct dcv_cause fact; /* that row's cause (owned copy) */
};

struct dcv_report {
	char *version;
	long duration_ms;
	struct dcv_check *checks;
	int n;
	struct dcv_diagnosis diagnosis;
	long long generated_at; /* unix seconds, for formats that carry a time */
};

/* Append a check (strings copied; evidence may be NULL). */
void dcv_report_add(struct dcv_report *r, const char *id, const char *host,
		    enum dcv_check_status st, long ms, const char *evidence, const char *fmt, ...)
	__attribute__((format(printf, 7, 8)));
void dcv_report_release(struct dcv_report *r);
/* Group checks by host in order of first appearance, keeping insertion order within a host. */
void dcv_report_sort(struct dcv_report *r);
/* With --strict a warning counts as a failure. */
void dcv_report_counts(const struct dcv_report *r, bool strict, int *passed, int *failed,
		       int *warned, int *skipped, int *errors);
const char *dcv_check_status_name(enum dcv_check_status s);

/* Formats. `color` adds ANSI colours (text only); `strict` turns warnings into failures where a
 * format distinguishes them. Each appends a complete document to out. */
void dcv_report_text(const struct dcv_report *r, bool color, bool strict, struct dcv_buf *out);
void dcv_report_json(const struct dcv_report *r, bool strict, struct dcv_buf *out);
void dcv_report_junit(const struct dcv_report *r, bool strict, struct dcv_buf *out);
void dcv_report_tap(const struct dcv_report *r, bool strict, struct dcv_buf *out);
void dcv_report_prometheus(const struct dcv_report *r, bool strict, struct dcv_buf *out);

/* Does `id` match one of a comma-separated list of IDs or ID prefixes ("agent.dcv1",
 * "endpoint.", "gateway.proxy.config")? A prefix matches at a '.' boundary. */
bool dcv_check_selected(const char *id, const char *list);

#endif
