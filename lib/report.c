#include "report.h"

#include <json-c/json.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sanitize.h"

/* Evidence tails shown by the text table; JSON, JUnit and TAP carry the whole evidence. */
#define TEXT_EVIDENCE_LINES 20

static const char *const status_names[] = { "pass", "fail", "warn", "skip", "error" };
static const char *const status_marks[] = { "\u2714", "\u2718", "!", "-", "?" };
static const char *const status_colors[] = { "\033[32m", "\033[31m", "\033[33m", "\033[2m",
					      "\033[31m" };
#define DIM "\033[2m"
#define RESET "\033[0m"

const char *dcv_check_status_name(enum dcv_check_status s)
{
	if ((unsigned)s >= sizeof(status_names) / sizeof(status_names[0]))
		return "error";
	return status_names[s];
}

void dcv_report_add(struct dcv_report *r, const char *id, const char *host,
		    enum dcv_check_status st, long ms, const char *evidence, const char *fmt, ...)
{
	struct dcv_check *c;
	struct dcv_buf msg = DCV_BUF_INIT;
	va_list ap;

	va_start(ap, fmt);
	dcv_buf_vaddf(&msg, fmt, ap);
	va_end(ap);
	/* Reports hold a few dozen rows: growing by one keeps the struct free of a capacity field. */
	r->checks = xrealloc(r->checks, sizeof(*r->checks) * (size_t)(r->n + 1));
	c = &r->checks[r->n++];
	c->id = xstrdup(id);
	c->host = xstrdup(host ? host : "");
	c->status = st;
	c->message = dcv_buf_detach(&msg);
	c->duration_ms = ms;
	c->evidence = evidence ? xstrdup(evidence) : NULL;
	c->cause = (struct dcv_cause){ 0 };
}

void dcv_cause_release(struct dcv_cause *c)
{
	free(c->key);
	free(c->value);
	free(c->where);
	free(c->want);
	*c = (struct dcv_cause){ 0 };
}

static char *dup_or_null(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

struct dcv_cause dcv_cause_copy(const struct dcv_cause *c)
{
	return (struct dcv_cause){ c->kind, dup_or_null(c->key), dup_or_null(c->value), dup_or_null(c->where),
				   dup_or_null(c->want) };
}

const char *dcv_cause_kind_name(enum dcv_cause_kind k)
{
	static const char *const names[] = {
		[DCV_CAUSE_NONE] = NULL,
		[DCV_CAUSE_NOT_RUN] = "not-run",
		[DCV_CAUSE_CONNECT] = "connect",
		[DCV_CAUSE_UNIT_STOPPED] = "unit-stopped",
		[DCV_CAUSE_UNIT_RUNS] = "unit-runs",
		[DCV_CAUSE_NOT_INSTALLED] = "not-installed",
		[DCV_CAUSE_PORT_FREE] = "port-free",
		[DCV_CAUSE_PORT_HELD] = "port-held",
		[DCV_CAUSE_CONFIG_INVALID] = "config-invalid",
		[DCV_CAUSE_FILE_MISSING] = "file-missing",
		[DCV_CAUSE_DRIFT] = "drift",
		[DCV_CAUSE_KEY] = "key",
		[DCV_CAUSE_LINT] = "lint",
		[DCV_CAUSE_SESSION_MISSING] = "session-missing",
		[DCV_CAUSE_SESSION_WRONG] = "session-wrong",
		[DCV_CAUSE_SESSIONS_UNREADABLE] = "sessions-unreadable",
		[DCV_CAUSE_CERT_UNREADABLE] = "cert-unreadable",
		[DCV_CAUSE_CERT_KEY] = "cert-key",
		[DCV_CAUSE_CERT_NAME] = "cert-name",
		[DCV_CAUSE_CERT_EXPIRED] = "cert-expired",
		[DCV_CAUSE_CERT_EXPIRING] = "cert-expiring",
		[DCV_CAUSE_CERT_NOT_YET] = "cert-not-yet",
		[DCV_CAUSE_CERT_UNTRUSTED] = "cert-untrusted",
		[DCV_CAUSE_HTTP_STATUS] = "http-status",
		[DCV_CAUSE_HEADER] = "header",
		[DCV_CAUSE_WS_BROKEN] = "ws-broken",
		[DCV_CAUSE_BACKEND_DOWN] = "backend-down",
		[DCV_CAUSE_NO_STATUS] = "no-status",
		[DCV_CAUSE_AWS] = "aws",
		[DCV_CAUSE_NOT_REGISTERED] = "not-registered",
		[DCV_CAUSE_NO_DNS_MAPPING] = "no-dns-mapping",
		[DCV_CAUSE_RESOLVED_WRONG] = "resolved-wrong",
	};

	return (size_t)k < sizeof(names) / sizeof(names[0]) ? names[k] : NULL;
}

static void check_release(struct dcv_check *c)
{
	dcv_cause_release(&c->cause);
	free(c->id);
	free(c->host);
	free(c->message);
	free(c->evidence);
}

void dcv_report_release(struct dcv_report *r)
{
	for (int i = 0; i < r->n; i++)
		check_release(&r->checks[i]);
	free(r->checks);
	free(r->version);
	free(r->diagnosis.hop);
	free(r->diagnosis.cause);
	free(r->diagnosis.hint);
	free(r->diagnosis.check);
	dcv_cause_release(&r->diagnosis.fact);
	memset(r, 0, sizeof(*r));
}

/* Indices of the checks grouped by host in order of first appearance, insertion order within a
 * host: the caller adds checks in hop order, which reads better than any alphabetical order. */
static int *grouped(const struct dcv_report *r)
{
	int *idx = xmalloc(sizeof(*idx) * (size_t)(r->n ? r->n : 1));
	bool *taken = xcalloc((size_t)(r->n ? r->n : 1), sizeof(*taken));
	int k = 0;

	for (int i = 0; i < r->n; i++) {
		if (taken[i])
			continue;
		for (int j = i; j < r->n; j++)
			if (!taken[j] && strcmp(r->checks[j].host, r->checks[i].host) == 0) {
				taken[j] = true;
				idx[k++] = j;
			}
	}
	free(taken);
	return idx;
}

void dcv_report_sort(struct dcv_report *r)
{
	int *idx = grouped(r);
	struct dcv_check *sorted = xmalloc(sizeof(*sorted) * (size_t)(r->n ? r->n : 1));

	for (int k = 0; k < r->n; k++)
		sorted[k] = r->checks[idx[k]];
	free(r->checks);
	r->checks = sorted;
	free(idx);
}

struct tally {
	int passed, failed, warned, skipped, errors;
	long ms;
};

static void tally_add(struct tally *t, const struct dcv_check *c, bool strict)
{
	switch (c->status) {
	case DCV_CHECK_PASS: t->passed++; break;
	case DCV_CHECK_FAIL: t->failed++; break;
	case DCV_CHECK_WARN: *(strict ? &t->failed : &t->warned) += 1; break;
	case DCV_CHECK_SKIP: t->skipped++; break;
	default: t->errors++; break;
	}
	t->ms += c->duration_ms > 0 ? c->duration_ms : 0;
}

void dcv_report_counts(const struct dcv_report *r, bool strict, int *passed, int *failed,
		       int *warned, int *skipped, int *errors)
{
	struct tally t = { 0 };

	for (int i = 0; i < r->n; i++)
		tally_add(&t, &r->checks[i], strict);
	if (passed)
		*passed = t.passed;
	if (failed)
		*failed = t.failed;
	if (warned)
		*warned = t.warned;
	if (skipped)
		*skipped = t.skipped;
	if (errors)
		*errors = t.errors;
}

static bool is_bad(enum dcv_check_status st, bool strict)
{
	return st == DCV_CHECK_FAIL || st == DCV_CHECK_ERROR || (strict && st == DCV_CHECK_WARN);
}

/* ------------------------------------------------------------------ text hygiene
 * Ids, hosts, messages and evidence carry remote text (logs, SANs, session fields): every one of
 * them passes dcv_sanitize or dcv_sanitize_line on its way into any format. */

/* Callers may be running under a locale with a decimal comma; formats need a point. */
static void add_seconds(struct dcv_buf *out, long ms, int decimals)
{
	if (ms < 0)
		ms = 0;
	if (decimals == 2) {
		long cs = (ms + 5) / 10;
		dcv_buf_addf(out, "%ld.%02ld", cs / 100, cs % 100);
	} else {
		dcv_buf_addf(out, "%ld.%03ld", ms / 1000, ms % 1000);
	}
}

/* Evidence without trailing blank lines and with \r dropped (CRLF output), whole or in lines. */
struct lines {
	char *text;
	char **v;
	int n;
};

static char *evidence_text(const char *s)
{
	struct dcv_buf b = DCV_BUF_INIT;
	char *c = dcv_sanitize(s);

	for (const char *p = c; *p; p++)
		if (*p != '\r')
			dcv_buf_addc(&b, *p);
	free(c);
	dcv_buf_rtrim(&b);
	return dcv_buf_detach(&b);
}

static void lines_split(struct lines *l, const char *s)
{
	char *p;

	l->text = evidence_text(s);
	l->n = 0;
	l->v = xmalloc(sizeof(*l->v));
	for (p = l->text; *l->text;) {
		char *nl = strchr(p, '\n');
		l->v = xrealloc(l->v, sizeof(*l->v) * (size_t)(l->n + 1));
		l->v[l->n++] = p;
		if (!nl)
			break;
		*nl = '\0';
		p = nl + 1;
	}
}

static void lines_release(struct lines *l)
{
	free(l->text);
	free(l->v);
}

/* ------------------------------------------------------------------ text */

static void text_evidence(struct dcv_buf *out, const char *evidence, bool color)
{
	struct lines l;
	int first;

	lines_split(&l, evidence);
	/* the end of a log is where the failure is, and the table must stay readable */
	first = l.n > TEXT_EVIDENCE_LINES ? l.n - TEXT_EVIDENCE_LINES : 0;
	if (first)
		dcv_buf_addf(out, "      %s... %d earlier line%s%s\n", color ? DIM : "", first,
			     first == 1 ? "" : "s", color ? RESET : "");
	for (int i = first; i < l.n; i++)
		dcv_buf_addf(out, "      %s%s%s\n", color ? DIM : "", l.v[i], color ? RESET : "");
	lines_release(&l);
}

static void text_diagnosis(struct dcv_buf *out, const struct dcv_diagnosis *d)
{
	char *hop, *cause, *hint;

	if (!d->hop) {
		dcv_buf_adds(out, "diagnosis: every hop answered\n");
		return;
	}
	hop = dcv_sanitize_line(d->hop);
	cause = dcv_sanitize_line(d->cause);
	dcv_buf_addf(out, "diagnosis: %s: %s\n", hop, cause);
	if (d->hint) {
		hint = dcv_sanitize_line(d->hint);
		dcv_buf_addf(out, "fix: %s\n", hint);
		free(hint);
	}
	free(hop);
	free(cause);
}

void dcv_report_text(const struct dcv_report *r, bool color, bool strict, struct dcv_buf *out)
{
	int *idx = grouped(r);
	int idw = 0, msw = 0;
	struct tally t = { 0 };
	char ms[32];

	for (int i = 0; i < r->n; i++) {
		int w = (int)strlen(r->checks[i].id);
		idw = w > idw ? w : idw;
		w = snprintf(ms, sizeof(ms), "%ld ms", r->checks[i].duration_ms);
		msw = w > msw ? w : msw;
	}
	for (int k = 0; k < r->n; k++) {
		const struct dcv_check *c = &r->checks[idx[k]];
		char *id = dcv_sanitize_line(c->id), *msg = dcv_sanitize_line(c->message);
		unsigned st = (unsigned)c->status <= DCV_CHECK_ERROR ? c->status : DCV_CHECK_ERROR;

		if (k == 0 || strcmp(c->host, r->checks[idx[k - 1]].host) != 0) {
			char *host = dcv_sanitize_line(c->host);
			dcv_buf_addf(out, "%s%s\n", k ? "\n" : "", host);
			free(host);
		}
		snprintf(ms, sizeof(ms), "%ld ms", c->duration_ms);
		dcv_buf_addf(out, "  %s%s%s %-*s  %*s  %s\n", color ? status_colors[st] : "",
			     status_marks[st], color ? RESET : "", idw, id, msw, ms, msg);
		if (c->evidence && c->status != DCV_CHECK_PASS && c->status != DCV_CHECK_SKIP)
			text_evidence(out, c->evidence, color);
		tally_add(&t, c, strict);
		free(id);
		free(msg);
	}
	if (r->n)
		dcv_buf_addc(out, '\n');
	dcv_buf_addf(out, "%d passed, %d failed, %d warned, %d skipped, %d errors in ", t.passed,
		     t.failed, t.warned, t.skipped, t.errors);
	add_seconds(out, r->duration_ms, 2);
	dcv_buf_adds(out, " s\n");
	text_diagnosis(out, &r->diagnosis);
	free(idx);
}

/* ------------------------------------------------------------------ json */

static struct json_object *jstr(const char *s)
{
	struct json_object *o;
	char *c;

	if (!s)
		return NULL; /* json-c serialises a NULL member as null */
	c = dcv_sanitize(s);
	o = json_object_new_string(c);
	free(c);
	return o;
}

/* The diagnosed row's cause as fields, for tools that act on it; null when it has none. */
static struct json_object *json_fact(const struct dcv_cause *c)
{
	struct json_object *o;

	if (!c->kind)
		return NULL;
	o = json_object_new_object();
	json_object_object_add(o, "kind", jstr(dcv_cause_kind_name(c->kind)));
	json_object_object_add(o, "key", jstr(c->key));
	json_object_object_add(o, "value", jstr(c->value));
	json_object_object_add(o, "where", jstr(c->where));
	json_object_object_add(o, "want", jstr(c->want));
	return o;
}

void dcv_report_json(const struct dcv_report *r, bool strict, struct dcv_buf *out)
{
	struct json_object *root = json_object_new_object();
	struct json_object *sum = json_object_new_object();
	struct json_object *checks = json_object_new_array();
	struct json_object *diag = json_object_new_object();
	const struct dcv_diagnosis *d = &r->diagnosis;
	int *idx = grouped(r);
	struct tally t = { 0 };

	for (int k = 0; k < r->n; k++) {
		const struct dcv_check *c = &r->checks[idx[k]];
		struct json_object *o = json_object_new_object();

		json_object_object_add(o, "id", jstr(c->id));
		json_object_object_add(o, "host", jstr(c->host));
		json_object_object_add(o, "status", json_object_new_string(dcv_check_status_name(c->status)));
		json_object_object_add(o, "message", jstr(c->message));
		json_object_object_add(o, "duration_ms", json_object_new_int64(c->duration_ms));
		json_object_object_add(o, "evidence", jstr(c->evidence));
		json_object_array_add(checks, o);
		tally_add(&t, c, strict);
	}
	json_object_object_add(sum, "passed", json_object_new_int(t.passed));
	json_object_object_add(sum, "failed", json_object_new_int(t.failed));
	json_object_object_add(sum, "warned", json_object_new_int(t.warned));
	json_object_object_add(sum, "skipped", json_object_new_int(t.skipped));
	json_object_object_add(sum, "errors", json_object_new_int(t.errors));
	/* a healthy run has no hop, and then no cause or hint either */
	json_object_object_add(diag, "hop", jstr(d->hop));
	json_object_object_add(diag, "cause", d->hop ? jstr(d->cause) : NULL);
	json_object_object_add(diag, "hint", d->hop ? jstr(d->hint) : NULL);
	json_object_object_add(diag, "check", d->hop ? jstr(d->check) : NULL);
	json_object_object_add(diag, "fact", d->hop ? json_fact(&d->fact) : NULL);

	json_object_object_add(root, "version", jstr(r->version));
	json_object_object_add(root, "duration_ms", json_object_new_int64(r->duration_ms));
	json_object_object_add(root, "summary", sum);
	json_object_object_add(root, "checks", checks);
	json_object_object_add(root, "diagnosis", diag);
	dcv_buf_adds(out, json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY |
						       JSON_C_TO_STRING_SPACED |
						       JSON_C_TO_STRING_NOSLASHESCAPE));
	dcv_buf_addc(out, '\n');
	json_object_put(root);
	free(idx);
}

/* ------------------------------------------------------------------ junit */

static void xml_add(struct dcv_buf *out, const char *s)
{
	char *c = dcv_sanitize(s);

	for (const char *p = c; *p; p++) {
		switch (*p) {
		case '&': dcv_buf_adds(out, "&amp;"); break;
		case '<': dcv_buf_adds(out, "&lt;"); break;
		case '>': dcv_buf_adds(out, "&gt;"); break;
		case '"': dcv_buf_adds(out, "&quot;"); break;
		case '\'': dcv_buf_adds(out, "&apos;"); break;
		/* parsers turn a raw CR into LF, and whitespace in attributes into spaces */
		case '\r': dcv_buf_adds(out, "&#13;"); break;
		case '\n': dcv_buf_adds(out, "&#10;"); break;
		case '\t': dcv_buf_adds(out, "&#9;"); break;
		default: dcv_buf_addc(out, *p); break;
		}
	}
	free(c);
}

/* Text content keeps its newlines readable in the file. */
static void xml_add_text(struct dcv_buf *out, const char *s)
{
	const char *nl;

	while ((nl = strchr(s, '\n'))) {
		char *line = xstrndup(s, (size_t)(nl - s));
		xml_add(out, line);
		dcv_buf_addc(out, '\n');
		free(line);
		s = nl + 1;
	}
	xml_add(out, s);
}

static void junit_case(struct dcv_buf *out, const struct dcv_check *c, bool strict)
{
	bool warn = c->status == DCV_CHECK_WARN;

	dcv_buf_adds(out, "    <testcase classname=\"dcvctl.");
	xml_add(out, c->host);
	dcv_buf_adds(out, "\" name=\"");
	xml_add(out, c->id);
	dcv_buf_adds(out, "\" time=\"");
	add_seconds(out, c->duration_ms, 3);
	dcv_buf_adds(out, "\"");
	if (c->status == DCV_CHECK_PASS && !c->evidence) {
		dcv_buf_adds(out, "/>\n");
		return;
	}
	dcv_buf_adds(out, ">\n");
	if (is_bad(c->status, strict) || c->status == DCV_CHECK_SKIP) {
		dcv_buf_addf(out, "      <%s%s message=\"",
			     c->status == DCV_CHECK_ERROR ? "error"
			     : c->status == DCV_CHECK_SKIP ? "skipped" : "failure",
			     warn ? " type=\"warning\"" : "");
		xml_add(out, c->message);
		dcv_buf_adds(out, "\"/>\n");
	}
	/* a warning that passes would otherwise lose its message */
	if (c->evidence || (warn && !strict)) {
		dcv_buf_adds(out, "      <system-out>");
		if (warn && !strict) {
			dcv_buf_adds(out, "warning: ");
			xml_add(out, c->message);
			dcv_buf_adds(out, c->evidence ? "\n" : "");
		}
		if (c->evidence)
			xml_add_text(out, c->evidence);
		dcv_buf_adds(out, "</system-out>\n");
	}
	dcv_buf_adds(out, "    </testcase>\n");
}

/* The Jenkins JUnit schema allows `skipped` on a testsuite but not on testsuites. */
static void junit_counts(struct dcv_buf *out, const struct tally *t, bool suite)
{
	dcv_buf_addf(out, " tests=\"%d\" failures=\"%d\" errors=\"%d\"",
		     t->passed + t->failed + t->warned + t->skipped + t->errors, t->failed, t->errors);
	if (suite)
		dcv_buf_addf(out, " skipped=\"%d\"", t->skipped);
	dcv_buf_adds(out, " time=\"");
}

void dcv_report_junit(const struct dcv_report *r, bool strict, struct dcv_buf *out)
{
	int *idx = grouped(r);
	struct tally all = { 0 };

	for (int i = 0; i < r->n; i++)
		tally_add(&all, &r->checks[i], strict);
	dcv_buf_adds(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"dcvctl\"");
	junit_counts(out, &all, false);
	/* hosts run in parallel: the run's wall time, not the sum of the suites */
	add_seconds(out, r->duration_ms, 3);
	dcv_buf_adds(out, "\">\n");
	for (int k = 0; k < r->n;) {
		const char *host = r->checks[idx[k]].host;
		struct tally t = { 0 };
		int end = k;

		while (end < r->n && strcmp(r->checks[idx[end]].host, host) == 0)
			tally_add(&t, &r->checks[idx[end++]], strict);
		dcv_buf_adds(out, "  <testsuite name=\"");
		xml_add(out, host);
		dcv_buf_adds(out, "\"");
		junit_counts(out, &t, true);
		add_seconds(out, t.ms, 3);
		dcv_buf_adds(out, "\">\n");
		for (; k < end; k++)
			junit_case(out, &r->checks[idx[k]], strict);
		dcv_buf_adds(out, "  </testsuite>\n");
	}
	dcv_buf_adds(out, "</testsuites>\n");
	free(idx);
}

/* ------------------------------------------------------------------ tap
 * Read by two parsers that disagree on much: Test::Harness (`prove`, TAP 13, whose YAMLish reader
 * knows quoted scalars, lists and maps but no block-scalar indicators such as `|-` or `|2`) and
 * TAP 14 parsers. The subset both read: a version 13 line, `\#` in descriptions, and YAML whose
 * values are all one-line double-quoted scalars (YAMLish also takes `- "a: b"` for a map). */

/* An unescaped '#' in a description starts a directive. */
static void tap_description(struct dcv_buf *out, const char *s)
{
	char *c = dcv_sanitize_line(s);

	for (const char *p = c; *p; p++) {
		if (*p == '#' || *p == '\\')
			dcv_buf_addc(out, '\\');
		dcv_buf_addc(out, *p);
	}
	free(c);
}

/* A YAML double-quoted scalar: safe for any text, unlike a plain one (": ", leading '-'...), and
 * using only the escapes YAMLish knows. */
static void yaml_quoted(struct dcv_buf *out, const char *s)
{
	char *c = dcv_sanitize(s);

	dcv_buf_addc(out, '"');
	for (const char *p = c; *p; p++) {
		switch (*p) {
		case '"': dcv_buf_adds(out, "\\\""); break;
		case '\\': dcv_buf_adds(out, "\\\\"); break;
		case '\n': dcv_buf_adds(out, "\\n"); break;
		case '\r': dcv_buf_adds(out, "\\r"); break;
		case '\t': dcv_buf_adds(out, "\\t"); break;
		default: dcv_buf_addc(out, *p); break;
		}
	}
	dcv_buf_addc(out, '"');
	free(c);
}

/* Diagnostics of a test point that failed or warned. A warning is an `ok` (it does not fail the
 * run) whose YAML says severity: warn; neither a `# TODO` (that means "not expected to work yet",
 * and prove reports a passing TODO as a bonus) nor a suffix on the description. */
static void tap_yaml(struct dcv_buf *out, const struct dcv_check *c)
{
	dcv_buf_adds(out, "  ---\n  message: ");
	yaml_quoted(out, c->message);
	dcv_buf_addf(out, "\n  severity: %s\n", dcv_check_status_name(c->status));
	if (c->evidence) {
		char *ev = evidence_text(c->evidence);

		dcv_buf_adds(out, "  evidence: ");
		yaml_quoted(out, ev);
		dcv_buf_addc(out, '\n');
		free(ev);
	}
	dcv_buf_adds(out, "  ...\n");
}

static void tap_diagnosis(struct dcv_buf *out, const struct dcv_diagnosis *d)
{
	char *hop, *cause, *hint;

	if (!d->hop) {
		dcv_buf_adds(out, "# diagnosis: every hop answered\n");
		return;
	}
	hop = dcv_sanitize_line(d->hop);
	cause = dcv_sanitize_line(d->cause);
	dcv_buf_addf(out, "# diagnosis: %s: %s\n", hop, cause);
	if (d->hint) {
		hint = dcv_sanitize_line(d->hint);
		dcv_buf_addf(out, "# fix: %s\n", hint);
		free(hint);
	}
	free(hop);
	free(cause);
}

void dcv_report_tap(const struct dcv_report *r, bool strict, struct dcv_buf *out)
{
	int *idx = grouped(r);

	dcv_buf_addf(out, "TAP version 13\n1..%d\n", r->n);
	for (int k = 0; k < r->n; k++) {
		const struct dcv_check *c = &r->checks[idx[k]];
		bool bad = is_bad(c->status, strict);

		dcv_buf_addf(out, "%s %d - ", bad ? "not ok" : "ok", k + 1);
		tap_description(out, c->id);
		if (c->status == DCV_CHECK_SKIP) {
			char *msg = dcv_sanitize_line(c->message);
			dcv_buf_addf(out, " # SKIP%s%s\n", *msg ? " " : "", msg);
			free(msg);
			continue;
		}
		if (c->message && *c->message) {
			dcv_buf_adds(out, ": ");
			tap_description(out, c->message);
		}
		dcv_buf_addc(out, '\n');
		if (bad || c->status == DCV_CHECK_WARN)
			tap_yaml(out, c);
	}
	tap_diagnosis(out, &r->diagnosis);
	free(idx);
}

/* ------------------------------------------------------------------ prometheus */

static void prom_label(struct dcv_buf *out, const char *name, const char *value)
{
	char *c = dcv_sanitize(value);

	dcv_buf_addf(out, "%s=\"", name);
	for (const char *p = c; *p; p++) {
		if (*p == '\\' || *p == '"')
			dcv_buf_addc(out, '\\');
		if (*p == '\n')
			dcv_buf_adds(out, "\\n");
		else
			dcv_buf_addc(out, *p);
	}
	dcv_buf_addc(out, '"');
	free(c);
}

static void prom_check(struct dcv_buf *out, const char *metric, const struct dcv_check *c)
{
	dcv_buf_addf(out, "%s{", metric);
	prom_label(out, "id", c->id);
	dcv_buf_addc(out, ',');
	prom_label(out, "host", c->host);
}

static void prom_head(struct dcv_buf *out, const char *metric, const char *help)
{
	dcv_buf_addf(out, "# HELP %s %s\n# TYPE %s gauge\n", metric, help, metric);
}

void dcv_report_prometheus(const struct dcv_report *r, bool strict, struct dcv_buf *out)
{
	int *idx = grouped(r);
	struct tally t = { 0 };

	prom_head(out, "dcvctl_check_healthy",
		  "1 when the check passed (or warned, without --strict), 0 otherwise.");
	for (int k = 0; k < r->n; k++) {
		const struct dcv_check *c = &r->checks[idx[k]];
		if (c->status == DCV_CHECK_SKIP)
			continue;
		prom_check(out, "dcvctl_check_healthy", c);
		dcv_buf_addf(out, "} %d\n", !is_bad(c->status, strict));
	}
	prom_head(out, "dcvctl_check_duration_seconds", "How long the check took.");
	for (int k = 0; k < r->n; k++) {
		const struct dcv_check *c = &r->checks[idx[k]];
		if (c->status == DCV_CHECK_SKIP)
			continue;
		prom_check(out, "dcvctl_check_duration_seconds", c);
		dcv_buf_adds(out, "} ");
		add_seconds(out, c->duration_ms, 3);
		dcv_buf_addc(out, '\n');
	}
	prom_head(out, "dcvctl_check_status", "The status the check ended with (always 1).");
	for (int k = 0; k < r->n; k++) {
		const struct dcv_check *c = &r->checks[idx[k]];
		prom_check(out, "dcvctl_check_status", c);
		dcv_buf_addf(out, ",status=\"%s\"} 1\n", dcv_check_status_name(c->status));
		tally_add(&t, c, strict);
	}
	/* a gauge: the counts of one run, which the next run replaces (`_total` is for counters) */
	prom_head(out, "dcvctl_checks",
		  "Checks of the last run by status (warnings count as fail with --strict).");
	const int totals[] = { t.passed, t.failed, t.warned, t.skipped, t.errors };
	for (int i = DCV_CHECK_PASS; i <= DCV_CHECK_ERROR; i++)
		dcv_buf_addf(out, "dcvctl_checks{status=\"%s\"} %d\n", status_names[i], totals[i]);
	prom_head(out, "dcvctl_run_duration_seconds", "How long the last run took.");
	dcv_buf_adds(out, "dcvctl_run_duration_seconds ");
	add_seconds(out, r->duration_ms, 3);
	dcv_buf_addc(out, '\n');
	prom_head(out, "dcvctl_last_run_timestamp_seconds", "When the last run ended (unix time).");
	dcv_buf_addf(out, "dcvctl_last_run_timestamp_seconds %lld\n", r->generated_at);
	free(idx);
}

/* ------------------------------------------------------------------ selection */

bool dcv_check_selected(const char *id, const char *list)
{
	const char *p = list;

	if (!id || !list)
		return false;
	while (*p) {
		const char *end = strchr(p, ',');
		size_t len;

		if (!end)
			end = p + strlen(p);
		while (p < end && (*p == ' ' || *p == '\t'))
			p++;
		len = (size_t)(end - p);
		while (len && (p[len - 1] == ' ' || p[len - 1] == '\t'))
			len--;
		if (len && strncmp(id, p, len) == 0 &&
		    (id[len] == '\0' || id[len] == '.' || p[len - 1] == '.'))
			return true;
		p = *end ? end + 1 : end;
	}
	return false;
}
