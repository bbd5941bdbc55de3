/* proxy_haproxy.h - HAProxy on the gateway (seed Phase 2 Option A, design §7–§8): the
 * rendered haproxy.cfg, its lint, and the `show stat` parser. Pure functions, no I/O. */
#ifndef DCV_PROXY_HAPROXY_H
#define DCV_PROXY_HAPROXY_H

#include <stdbool.h>

#include "buf.h"
#include "lint.h"

struct dcv_inventory;

#define DCV_HAPROXY_CONF "/etc/haproxy/haproxy.cfg"
#define DCV_HAPROXY_PEM "/etc/haproxy/dcv.pem"
#define DCV_HAPROXY_STATS_SOCKET "/run/haproxy/admin.sock"
/* The stats page, bound to 127.0.0.1 only (HAProxy's customary stats port). */
#define DCV_HAPROXY_STATS_PORT 8404

/* Facts about the gateway and secrets kept on it; every pointer set. The renderer only reads
 * them. */
struct dcv_haproxy_env {
	bool crypto_policies;       /* /etc/crypto-policies exists: PROFILE=SYSTEM is known */
	const char *pem_path;       /* cert + key in one file, as `crt` needs (root, mode 600) */
	const char *stats_user;     /* generated on first deploy: [A-Za-z0-9._-] only, */
	const char *stats_password; /* since HAProxy 1.5 (Amazon Linux 2) has no quoting */
	const char *stats_socket;   /* for `show stat` (gateway.proxy.backends) */
};

/* /etc/haproxy/haproxy.cfg for the gateway: one frontend on the gateway's `listen` port with
 * TLS, one backend with every agent (backups as `backup`), a cookie keeping a client on one
 * server when there is more than one primary. Appended to `out`; deterministic. */
void dcv_render_haproxy(const struct dcv_inventory *inv, const struct dcv_haproxy_env *env,
			struct dcv_buf *out);

/* Findings on a haproxy.cfg (design §8): haproxy.continuation, haproxy.health-404,
 * haproxy.default-stats-credentials, haproxy.stats-public, haproxy.timeout-tunnel,
 * haproxy.ws-split, haproxy.profile-system (when !crypto_policies), haproxy.fin-in-backend.
 * Appended to `out` in line order. */
void dcv_lint_haproxy(const char *text, const char *file, bool crypto_policies,
		      struct dcv_findings *out);

/* One row of `show stat` (fields absent from the header are ""). */
struct dcv_haproxy_stat {
	char *pxname;       /* proxy: frontend, backend or listen name */
	char *svname;       /* server name (the agent's), or FRONTEND / BACKEND */
	char *status;       /* UP, DOWN, NOLB, MAINT, "UP 1/2", no check, OPEN... */
	char *check_status; /* L4OK, L4CON, L6TOUT, ... ("" when not checked) */
	char *check_desc;   /* "Layer4 connection problem" */
	char *last_chk;     /* the check's own words: "Connection refused" */
	char *addr;         /* ADDR:PORT as HAProxy connects */
};

/* Parse the CSV of `show stat` (header line "# pxname,svname,..."; fields found by header
 * name, double-quoted fields unquoted). On success *rows (caller frees with
 * dcv_haproxy_stat_free) and *n are set; false when there is no header. */
bool dcv_haproxy_parse_stat(const char *csv, struct dcv_haproxy_stat **rows, int *n);
void dcv_haproxy_stat_free(struct dcv_haproxy_stat *rows, int n);

#endif
