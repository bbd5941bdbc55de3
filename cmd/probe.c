/* dcvctl probe http|tls|ws [URL]: one probe, from here or from a host through an SSH tunnel. */
#include "cli.h"

#include "../lib/buf.h"
#include "../lib/inventory.h"
#include "../lib/probe.h"
#include "../lib/ssh.h"
#include "../lib/tls.h"
#include "../lib/util.h"

#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct vars {
	const char *via, *connect_to;
	long timeout_ms, hold_ms, interval_ms;
	bool json;
};

#define COMMON_OPTS                                                                                        \
	CLI_STRING(struct vars, via, 0, "via", "HOST", "probe from HOST's vantage point through an SSH tunnel"), \
	CLI_STRING(struct vars, connect_to, 0, "connect-to", "HOST:PORT",                                      \
		   "connect there instead of resolving the URL's name"),                                       \
	CLI_DURATION(struct vars, timeout_ms, 0, "timeout", "DUR", 1, "give up after DUR (default 10s)"),       \
	CLI_BOOL(struct vars, json, 0, "json", "print as JSON")

static const struct dcv_opt opts[] = {
	COMMON_OPTS,
	CLI_END,
};

static const struct dcv_opt ws_opts[] = {
	COMMON_OPTS,
	CLI_DURATION(struct vars, hold_ms, 0, "hold", "DUR", 0, "keep the WebSocket open this long, with pings"),
	CLI_DURATION(struct vars, interval_ms, 0, "interval", "DUR", 1, "ping interval during --hold (default 5s)"),
	CLI_END,
};

struct target {
	char url[1024];
	char host[256], path[1024];
	int port;
	struct dcv_probe_opts po;
	struct dcv_ssh_pool *pool;
	const struct dcv_host *via;
	const struct dcv_inventory *inv; /* NULL when probing without an inventory */
};

static bool is_endpoint(const struct target *t)
{
	char host[256], path[1024];
	int port;

	return t->inv && t->inv->url && dcv_url_split(t->inv->url, host, sizeof(host), &port, path, sizeof(path)) &&
	       strcmp(host, t->host) == 0 && port == t->port;
}

/* URL (or the inventory's endpoint), connect-to, proxy, CA, and --via's tunnel. */
static int setup(struct dcv_ctx *ctx, const struct dcv_cmd *cmd, struct cli_args *a, const struct vars *v,
		 struct target *t)
{
	const char *via = v->via, *ct = v->connect_to;
	struct dcv_inventory *inv = NULL;
	struct dcv_err err = DCV_ERR_INIT;
	int rc;

	memset(t, 0, sizeof(*t));
	t->po = (struct dcv_probe_opts)DCV_PROBE_OPTS_INIT;
	if (a->n_pos == 0 || via || ctx->config || getenv("DCVCTL_CONFIG") || access("dcvctl.conf", F_OK) == 0) {
		if ((rc = ctx_inventory(ctx, &inv)) != EXIT_OK)
			return rc;
		t->inv = inv;
	}
	if (a->n_pos)
		snprintf(t->url, sizeof(t->url), "%s", a->pos[0]);
	else if (inv && inv->url)
		snprintf(t->url, sizeof(t->url), "%s", inv->url);
	else
		return usage_error(cmd, "give a URL or set [endpoint] url in the inventory");
	if (!dcv_url_split(t->url, t->host, sizeof(t->host), &t->port, t->path, sizeof(t->path)))
		return usage_error(cmd, "'%s' is not an https:// URL", t->url);
	t->po.timeout_ms = v->timeout_ms;
	if (ct)
		t->po.connect_to = ct;
	else if (is_endpoint(t))
		t->po.connect_to = inv->connect_to;
	if (t->inv && is_endpoint(t)) {
		t->po.proxy = inv->proxy;
		t->po.ca_file = inv->ca_file;
	}
	if (via) {
		struct dcv_ssh *c;
		char *h;
		int port, fd;
		if (!(t->via = ctx_host(ctx, via)))
			return EXIT_USAGE;
		if (!dcv_parse_hostport(t->po.connect_to ? t->po.connect_to : t->host, t->port, &h, &port))
			return usage_error(cmd, "bad --connect-to '%s'", t->po.connect_to);
		t->pool = ctx_pool(ctx);
		rc = dcv_ssh_connect(t->pool, t->via, &c, &err);
		if (rc == DCV_OK)
			rc = dcv_ssh_tunnel(c, h, port, &fd, &err);
		free(h);
		if (rc != DCV_OK) {
			out_error("%s: %s", t->via->name, err.msg);
			return exit_for(rc);
		}
		t->po.via_fd = fd;
		t->po.proxy = NULL;
	}
	return EXIT_OK;
}

static void teardown(struct target *t)
{
	if (t->po.via_fd >= 0)
		close(t->po.via_fd);
	dcv_ssh_pool_free(t->pool);
}

/* The verdict as the JSON fields every probe prints ("ok" stays: warnings are ok; "status" is
 * the HTTP status where there is one). */
static void add_verdict(struct json_object *o, const struct dcv_verdict *v)
{
	json_object_object_add(o, "ok", json_object_new_boolean(v->status != DCV_CHECK_FAIL));
	json_object_object_add(o, "verdict", json_object_new_string(dcv_check_status_name(v->status)));
	json_object_object_add(o, "message", json_object_new_string(v->message));
}

static const char *verdict_color(const struct dcv_verdict *v)
{
	return v->status == DCV_CHECK_PASS ? "green" : v->status == DCV_CHECK_WARN ? "yellow" : "red";
}

static int probe_http(struct dcv_ctx *ctx, struct target *t, bool json)
{
	struct dcv_http_result r;
	struct dcv_err err = DCV_ERR_INIT;
	int rc = dcv_probe_http(t->url, &t->po, &r, &err);

	if (rc != DCV_OK) {
		out_error("http %s: %s", t->url, err.msg);
		return EXIT_FAIL;
	}
	struct dcv_verdict v;
	dcv_probe_http_verdict(&r, t->inv ? t->inv->http_expect : NULL, t->inv ? t->inv->n_http_expect : 0, &v);
	bool ok = v.status != DCV_CHECK_FAIL;
	if (json) {
		struct json_object *o = json_object_new_object();
		json_object_object_add(o, "url", json_object_new_string(t->url));
		add_verdict(o, &v);
		json_object_object_add(o, "status", json_object_new_int64(r.status));
		json_object_object_add(o, "redirect", r.redirect[0] ? json_object_new_string(r.redirect) : NULL);
		json_object_object_add(o, "http_version", json_object_new_string(r.http_version));
		json_object_object_add(o, "remote", json_object_new_string(r.remote));
		struct json_object *tm = json_object_new_object();
		json_object_object_add(tm, "dns_ms", json_object_new_double(r.dns_ms));
		json_object_object_add(tm, "connect_ms", json_object_new_double(r.connect_ms));
		json_object_object_add(tm, "tls_ms", json_object_new_double(r.tls_ms));
		json_object_object_add(tm, "first_byte_ms", json_object_new_double(r.first_byte_ms));
		json_object_object_add(tm, "total_ms", json_object_new_double(r.total_ms));
		json_object_object_add(o, "timings", tm);
		out_json(o);
	} else {
		printf("%s%s HTTP/%s %ld%s%s%s\n", col(ctx, ok ? "green" : "red"), ok ? "ok" : "unexpected status",
		       r.http_version, r.status, col_end(ctx), r.redirect[0] ? " -> " : "", r.redirect);
		printf("remote %s  dns %.1f ms  connect %.1f ms  tls %.1f ms  first byte %.1f ms  total %.1f ms\n",
		       r.remote, r.dns_ms, r.connect_ms, r.tls_ms, r.first_byte_ms, r.total_ms);
	}
	return ok ? EXIT_OK : EXIT_FAIL;
}

static int probe_tls(struct dcv_ctx *ctx, struct target *t, bool json)
{
	struct dcv_tls_result r;
	struct dcv_cert_info ci;
	struct dcv_err err = DCV_ERR_INIT, verr = DCV_ERR_INIT;
	int rc = dcv_probe_tls(t->url, &t->po, &r, &err);

	if (rc != DCV_OK) {
		out_error("tls %s: %s", t->url, err.msg);
		return EXIT_FAIL;
	}
	dcv_cert_info(r.cert, &ci);
	long days = dcv_cert_days_left(&ci, time(NULL));
	bool early = dcv_cert_not_yet_valid(&ci, time(NULL));
	bool covered = dcv_cert_covers(r.cert, t->host);
	bool verified = dcv_cert_verify(r.cert, t->po.ca_file, &verr) == DCV_OK;
	bool endpoint = t->inv && is_endpoint(t), names_ok = true;
	for (int i = 0; endpoint && i < t->inv->n_names; i++)
		names_ok &= dcv_cert_covers(r.cert, t->inv->names[i]);
	struct dcv_tls_expect e = {
		.host = t->host,
		.names = endpoint ? (const char *const *)t->inv->names : NULL,
		.n_names = endpoint ? t->inv->n_names : 0,
		.ca_file = t->po.ca_file,
		.cert_warn_days = t->inv ? t->inv->cert_warn_days : DCV_CERT_WARN_DAYS,
		.now = time(NULL),
	};
	struct dcv_verdict v;
	dcv_probe_tls_verdict(&r, &e, &v);
	bool ok = v.status != DCV_CHECK_FAIL;
	if (json) {
		struct json_object *o = json_object_new_object(), *sans = json_object_new_array();
		json_object_object_add(o, "url", json_object_new_string(t->url));
		add_verdict(o, &v);
		json_object_object_add(o, "protocol", json_object_new_string(r.protocol));
		json_object_object_add(o, "cipher", json_object_new_string(r.cipher));
		json_object_object_add(o, "alpn", json_object_new_string(r.alpn));
		json_object_object_add(o, "subject", json_object_new_string(ci.subject));
		json_object_object_add(o, "issuer", json_object_new_string(ci.issuer));
		for (int i = 0; i < ci.n_sans; i++)
			json_object_array_add(sans, json_object_new_string(ci.sans[i]));
		json_object_object_add(o, "sans", sans);
		json_object_object_add(o, "days_left", json_object_new_int64(days));
		json_object_object_add(o, "not_yet_valid", json_object_new_boolean(early));
		json_object_object_add(o, "host", json_object_new_string(t->host));
		json_object_object_add(o, "host_covered", json_object_new_boolean(covered));
		json_object_object_add(o, "names_covered", json_object_new_boolean(names_ok));
		json_object_object_add(o, "chain_verified", json_object_new_boolean(verified));
		json_object_object_add(o, "chain_error", verified ? NULL : json_object_new_string(verr.msg));
		json_object_object_add(o, "ca_file", t->po.ca_file ? json_object_new_string(t->po.ca_file) : NULL);
		out_json(o);
	} else {
		printf("%s %s, ALPN %s\n", r.protocol, r.cipher, r.alpn[0] ? r.alpn : "none");
		printf("subject  %s\nissuer   %s\n", ci.subject, ci.issuer);
		printf("SANs    ");
		for (int i = 0; i < ci.n_sans; i++)
			printf(" %s", ci.sans[i]);
		printf("%s\nexpires  in %ld days (%s)\n", ci.n_sans ? "" : " (none)", days,
		       days < 0 ? "EXPIRED" : early ? "NOT YET VALID" : days < e.cert_warn_days ? "expiring" : "ok");
		printf("%s%s%s %s by a SAN\n", col(ctx, covered ? "green" : "red"), t->host, col_end(ctx),
		       covered ? "is covered" : "is NOT covered");
		for (int i = 0; endpoint && i < t->inv->n_names; i++)
			printf("%s %s\n", t->inv->names[i], dcv_cert_covers(r.cert, t->inv->names[i]) ? "is covered" : "is NOT covered");
		if (verified)
			printf("chain    verified%s%s\n", t->po.ca_file ? " against " : " against the system store",
			       t->po.ca_file ? t->po.ca_file : "");
		else
			printf("chain    %s%s: %s%s\n", col(ctx, t->po.ca_file ? "red" : "yellow"),
			       t->po.ca_file ? "NOT verified" : "warning: NOT verified (no ca-file)", verr.msg, col_end(ctx));
		printf("verdict  %s%s%s: %s\n", col(ctx, verdict_color(&v)), dcv_check_status_name(v.status), col_end(ctx),
		       v.message);
	}
	dcv_cert_info_release(&ci);
	dcv_tls_result_release(&r);
	return ok ? EXIT_OK : EXIT_FAIL;
}

static int probe_ws(struct dcv_ctx *ctx, struct target *t, const struct vars *opt, bool json)
{
	struct dcv_ws_result r;
	struct dcv_err err = DCV_ERR_INIT;
	long hold_ms = opt->hold_ms;

	if (hold_ms && t->po.timeout_ms < hold_ms + 10000)
		t->po.timeout_ms = hold_ms + 10000;
	if (hold_ms && !json && ctx->tty && !ctx->quiet) {
		struct dcv_buf h = DCV_BUF_INIT, iv = DCV_BUF_INIT;
		dcv_format_duration(&h, hold_ms);
		dcv_format_duration(&iv, opt->interval_ms);
		fprintf(stderr, "holding the WebSocket open for %s with a ping every %s...\n", h.data, iv.data);
		dcv_buf_release(&h);
		dcv_buf_release(&iv);
	}
	int rc = dcv_probe_ws(t->url, &t->po, hold_ms, opt->interval_ms, &r, &err);
	if (rc != DCV_OK) {
		out_error("ws %s: %s", t->url, err.msg);
		return EXIT_FAIL;
	}
	struct dcv_verdict v;
	dcv_probe_ws_verdict(&r, hold_ms, &v);
	bool ok = v.status != DCV_CHECK_FAIL;
	if (json) {
		struct json_object *o = json_object_new_object();
		json_object_object_add(o, "url", json_object_new_string(t->url));
		add_verdict(o, &v);
		json_object_object_add(o, "status", json_object_new_int64(r.status));
		json_object_object_add(o, "accept_ok", json_object_new_boolean(r.accept_ok));
		json_object_object_add(o, "rejected", r.rejected[0] ? json_object_new_string(r.rejected) : NULL);
		json_object_object_add(o, "upgrade_ms", json_object_new_double(r.upgrade_ms));
		json_object_object_add(o, "close_code", json_object_new_int(r.close_code));
		json_object_object_add(o, "failure", r.failure[0] ? json_object_new_string(r.failure) : NULL);
		if (r.status != 101 || !r.accept_ok)
			json_object_object_add(o, "headers", json_object_new_string(dcv_buf_str(&r.headers)));
		if (hold_ms) {
			struct json_object *h = json_object_new_object();
			json_object_object_add(h, "held_ms", json_object_new_int64(r.held_ms));
			json_object_object_add(h, "pings_sent", json_object_new_int(r.pings_sent));
			json_object_object_add(h, "pongs", json_object_new_int(r.pongs));
			json_object_object_add(h, "server_pings", json_object_new_int(r.server_pings));
			json_object_object_add(h, "rtt_p50_ms", json_object_new_double(r.rtt_p50));
			json_object_object_add(h, "rtt_p95_ms", json_object_new_double(r.rtt_p95));
			json_object_object_add(h, "rtt_max_ms", json_object_new_double(r.rtt_max));
			json_object_object_add(h, "failure", r.failure[0] ? json_object_new_string(r.failure) : NULL);
			json_object_object_add(o, "hold", h);
		}
		out_json(o);
	} else if (r.status == 101 && r.accept_ok) {
		printf("%sok%s 101 Switching Protocols, Sec-WebSocket-Accept correct (%.1f ms)\n", col(ctx, "green"),
		       col_end(ctx), r.upgrade_ms);
		if (hold_ms)
			printf("%s held %.1f s: %d pings, %d pongs, %d server pings, rtt p50 %.1f ms p95 %.1f ms max %.1f ms%s%s\n",
			       r.failure[0] ? "FAILED:" : "hold:", r.held_ms / 1000.0, r.pings_sent, r.pongs,
			       r.server_pings, r.rtt_p50, r.rtt_p95, r.rtt_max, r.failure[0] ? " - " : "", r.failure);
		else if (r.failure[0])
			printf("%sFAILED%s: %s\n", col(ctx, "red"), col_end(ctx), r.failure);
	} else if (r.status == 101) {
		printf("%sfailed%s: 101 Switching Protocols but %s\n%s", col(ctx, "red"), col_end(ctx), r.rejected,
		       dcv_buf_str(&r.headers));
	} else {
		printf("%sfailed%s: no upgrade\n%s", col(ctx, "red"), col_end(ctx), dcv_buf_str(&r.headers));
	}
	dcv_ws_result_release(&r);
	return ok ? EXIT_OK : EXIT_FAIL;
}

static int run(struct dcv_ctx *ctx, const struct dcv_cmd *cmd, int kind, int argc, char **argv)
{
	struct cli_args a;
	struct target t;
	struct vars v = { .timeout_ms = ((struct dcv_probe_opts)DCV_PROBE_OPTS_INIT).timeout_ms, .interval_ms = 5000 };
	int rc = cli_parse(cmd, argc, argv, &a, &v);
	bool json;

	if (rc)
		return rc < 0 ? EXIT_OK : rc;
	json = ctx->json || v.json;
	rc = setup(ctx, cmd, &a, &v, &t);
	if (rc == EXIT_OK) {
		if (kind == 0)
			rc = probe_http(ctx, &t, json);
		else if (kind == 1)
			rc = probe_tls(ctx, &t, json);
		else
			rc = probe_ws(ctx, &t, &v, json);
	}
	teardown(&t);
	return rc;
}

#define PROBE_SUB(var, fn, kind, nm, sum, use, options)                                  \
	static int fn(struct dcv_ctx *ctx, int argc, char **argv);                       \
	static const struct dcv_cmd var = { .name = nm, .summary = sum, .usage = use,    \
					    .opts = options, .max_args = 1, .run = fn };                \
	static int fn(struct dcv_ctx *ctx, int argc, char **argv)                        \
	{                                                                                \
		return run(ctx, &var, kind, argc, argv);                                 \
	}

PROBE_SUB(sub_http, run_http, 0, "http", "status, redirect and timings (DNS, connect, TLS, first byte)",
	  "probe http [URL] [--via HOST] [--connect-to HOST:PORT] [--timeout DUR] [--json]", opts)
PROBE_SUB(sub_tls, run_tls, 1, "tls",
	  "protocol, cipher, ALPN, subject, SANs, issuer, days left, name coverage, chain",
	  "probe tls [URL] [--via HOST] [--connect-to HOST:PORT] [--timeout DUR] [--json]", opts)
PROBE_SUB(sub_ws, run_ws, 2, "ws", "WebSocket upgrade (101 + correct accept); --hold keeps it open with pings",
	  "probe ws [URL] [--hold DUR] [--interval DUR] [--via HOST] [--connect-to HOST:PORT] [--timeout DUR] [--json]",
	  ws_opts)

static const struct dcv_opt no_opts[] = { { NULL, 0, NULL, NULL } };

static const struct dcv_cmd *const subs[] = { &sub_http, &sub_tls, &sub_ws, NULL };

const struct dcv_cmd dcv_cmd_probe = {
	.name = "probe",
	.summary = "probe an https URL: http, tls or ws, from here or --via a host",
	.usage = "probe http|tls|ws [URL] [--hold DUR] [--interval DUR] [--via HOST] [--timeout DUR] [--json]",
	.help = "Without URL, probes the inventory's [endpoint] url, honouring connect-to, proxy,\n"
		"ca-file and names. No proxy is used unless [endpoint] proxy says so. --via HOST\n"
		"opens the TCP connection from HOST through the SSH connection, keeping the\n"
		"original name for SNI and Host. Exit 0 when the probe passes, 1 when not.\n",
	.opts = no_opts,
	.subcmds = subs,
};
