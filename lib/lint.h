/* lint.h - findings on dcv.conf and nginx configurations (design §8). Pure functions. */
#ifndef DCV_LINT_H
#define DCV_LINT_H

#include <stdbool.h>

#include "buf.h"

enum dcv_severity { DCV_SEV_WARN, DCV_SEV_ERROR };

struct dcv_finding {
	enum dcv_severity sev;
	char *file;  /* as given by the caller */
	int line;    /* 1-based, 0 when the finding is about the whole file */
	char *rule;  /* stable id, e.g. "dcv.unknown-key", "nginx.backup-with-hash" */
	char *msg;   /* one line saying what and why */
};

struct dcv_findings {
	struct dcv_finding *v;
	int n;
};

void dcv_findings_free(struct dcv_findings *f);
int dcv_findings_errors(const struct dcv_findings *f);
int dcv_findings_warnings(const struct dcv_findings *f);
/* Append one finding (file and rule copied, msg formatted); for the linters of each kind. */
void dcv_findings_add(struct dcv_findings *out, enum dcv_severity sev, const char *file, int line,
		      const char *rule, const char *fmt, ...) __attribute__((format(printf, 6, 7)));

/* dcv.conf against the documented schema (reference/dcv.md §1.1): unknown section or key
 * (error, nearest valid name), authentication = none (warn), owner outside
 * [session-management/automatic-console-session] (error), auth-token-verifier set while
 * `bypass` (error). Findings are appended. */
void dcv_lint_dcvconf(const char *text, const char *file, bool bypass, struct dcv_findings *out);

/* Is section/key documented for dcv.conf? */
bool dcv_dcvconf_known(const char *section, const char *key);

/* One nginx configuration file given as (name, text). */
struct dcv_nginx_file {
	const char *name;
	const char *text;
};

/* nginx files that nginx loads together (e.g. nginx.conf's conf.d/ *.conf). `crons` is the text
 * of crontabs / cron.d files (may be NULL) for the /health rule. Rules: missing proxy_http_version
 * 1.1 / Upgrade / Connection headers where proxy_pass serves WebSocket, proxy_read_timeout
 * too short for DCV's 10 s keepalive, an upstream defined in two files, $connection_upgrade
 * used with no map defining it, backup with ip_hash/hash/random, ip_hash behind PrivateLink,
 * /health used by a cron but not defined. */
void dcv_lint_nginx(const struct dcv_nginx_file *files, int n, const char *crons,
		    struct dcv_findings *out);

#endif
