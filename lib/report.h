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

struct dcv_check {
	char *id;       /* stable: "gateway.ssh", "agent.dcv1.dcvserver", "endpoint.tls", ... */
	char *host;     /* "gateway", "dcv1", "bastion", "endpoint" */
	enum dcv_check_status status;
	char *message;  /* one line */
	long duration_ms;
	char *evidence; /* command output, log tail, certificate fields; may be NULL */
};

struct dcv_diagnosis {
	char *hop;   /* "gateway", "dcv1", "endpoint", "bastion", ... NULL when healthy */
	char *cause;
	char *hint;  /* the one command that fixes it */
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
