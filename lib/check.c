/* The checklist, in two halves. Gathering (the I/O): every host is worked on by one thread over
 * its one connection; the endpoint probes run from here at the same time; the gateway also
 * carries tunnels to each agent so the DCV servers are probed from the gateway's vantage point,
 * as the proxy reaches them. Judging: the rows, each through its registry entry with a
 * structured cause, and the diagnosis, from what was gathered alone. */
#include "check.h"

#include "agent.h"
#include "buf.h"
#include "checks.h"
#include "diff.h"
#include "err.h"
#include "facts.h"
#include "inventory.h"
#include "lint.h"
#include "probe.h"
#include "properties.h"
#include "proxy.h"
#include "proxy_gateway.h"
#include "remote.h"
#include "render.h"
#include "report.h"
#include "resolver.h"
#include "sanitize.h"
#include "ssh.h"
#include "tls.h"
#include "util.h"

#include <ctype.h>
#include <json-c/json.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

/* DCV's own defaults for the [connectivity] keys dcvctl manages (reference/dcv.md §1): an
 * unset key does not move dcvserver when the inventory asks for the default. */
#define DCV_DEFAULT_WEB_PORT 8443
#define DCV_DEFAULT_WEB_URL_PATH "/"

/* ------------------------------------------------------------------ rows */

struct judge {
	const struct dcv_inventory *inv;
	const struct dcv_check_opts *o;
	const struct dcv_check_input *in;
	struct dcv_report *rep;
};

static bool wanted_id(const struct dcv_check_opts *o, const char *id)
{
	if (o->only && *o->only && !dcv_check_selected(id, o->only))
		return false;
	return !(o->skip && *o->skip && dcv_check_selected(id, o->skip));
}

static bool wanted(const struct dcv_check_opts *o, enum dcv_check_key key, const char *agent)
{
	char id[160];

	dcv_check_id(key, agent, id, sizeof(id));
	return wanted_id(o, id);
}

/* Is any of keys[0..n) wanted (for agent, when they take one)? */
static bool wanted_any(const struct dcv_check_opts *o, const enum dcv_check_key *keys, int n, const char *agent)
{
	for (int i = 0; i < n; i++)
		if (wanted(o, keys[i], agent))
			return true;
	return false;
}

static char *dup_or_null(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

static struct dcv_cause cause(enum dcv_cause_kind kind, const char *key, const char *value, const char *where,
			      const char *want)
{
	return (struct dcv_cause){ kind, dup_or_null(key), dup_or_null(value), dup_or_null(where), dup_or_null(want) };
}

static const struct dcv_cause none = { 0 };

/* Add the row of registry entry `key` (about `agent`, NULL for none) when it is wanted; the
 * row takes `c`'s strings. */
static void add(struct judge *j, enum dcv_check_key key, const char *agent, const char *host,
		enum dcv_check_status st, long ms, const char *evidence, struct dcv_cause c, const char *fmt, ...)
	__attribute__((format(printf, 9, 10)));
static void add(struct judge *j, enum dcv_check_key key, const char *agent, const char *host,
		enum dcv_check_status st, long ms, const char *evidence, struct dcv_cause c, const char *fmt, ...)
{
	struct dcv_buf m = DCV_BUF_INIT;
	char id[160];
	va_list ap;

	dcv_check_id(key, agent, id, sizeof(id));
	if (!wanted_id(j->o, id)) {
		dcv_cause_release(&c);
		return;
	}
	va_start(ap, fmt);
	dcv_buf_vaddf(&m, fmt, ap);
	va_end(ap);
	dcv_report_add(j->rep, id, host, st, ms, evidence, "%s", dcv_buf_str(&m));
	dcv_buf_release(&m);
	/* a passing row has nothing to explain */
	if (st == DCV_CHECK_PASS)
		dcv_cause_release(&c);
	else
		j->rep->checks[j->rep->n - 1].cause = c;
}

/* `error` rows for keys[0..n) of a host whose earlier step failed. */
static void not_run(struct judge *j, const enum dcv_check_key *keys, int n, const char *agent, const char *host,
		    const char *why)
{
	for (int i = 0; i < n; i++)
		add(j, keys[i], agent, host, DCV_CHECK_ERROR, 0, NULL, cause(DCV_CAUSE_NOT_RUN, NULL, why, NULL, NULL),
		    "not run: %s", why);
}

/* host-key-policy = off connects whatever key the host offers: its SSH row warns, never passes. */
static void ssh_row(struct judge *j, enum dcv_check_key key, const struct dcv_host *h,
		    const struct dcv_check_host *in)
{
	char target[320];

	snprintf(target, sizeof(target), "%s@%s:%d", h->user, h->ssh_host, h->ssh_port);
	if (in->ssh.rc != DCV_OK) {
		add(j, key, h->name, h->name, DCV_CHECK_FAIL, in->ssh.ms, NULL,
		    cause(DCV_CAUSE_CONNECT, NULL, in->ssh.err, target, NULL), "%s", in->ssh.err);
		return;
	}
	add(j, key, h->name, h->name, in->hostkey_verified ? DCV_CHECK_PASS : DCV_CHECK_WARN, in->ssh.ms, NULL, none,
	    "%s%s%s, host key %s%s", target, h->jump && h->role == DCV_ROLE_AGENT ? " via " : "",
	    h->jump && h->role == DCV_ROLE_AGENT ? h->jump->name : "", in->hostkey,
	    in->hostkey_verified ? "" : "; host key not verified (host-key-policy = off)");
}

/* ------------------------------------------------------------------ gateway */

static void gw_services(struct judge *j, const struct dcv_host *gw, const struct dcv_proxy_kind *k,
			const struct dcv_gw_facts *f, long ms)
{
	struct dcv_buf states = DCV_BUF_INIT, wrong = DCV_BUF_INIT;
	const struct dcv_unit_state *u = dcv_gw_facts_unit(f, k->unit);
	bool active = dcv_unit_is_active(u), enabled = dcv_unit_is_enabled(u);
	struct dcv_cause c = none;

	/* every unit that must not run for this kind to own the port, named when it does */
	for (int i = 0; k->stop[i]; i++) {
		const struct dcv_unit_state *s = dcv_gw_facts_unit(f, k->stop[i]);
		const char *how = dcv_unit_is_active(s) ? "running" : "enabled";
		dcv_buf_addf(&states, "%s%s %s/%s", i ? ", " : "", k->stop[i], s->active, s->enabled);
		if (!dcv_unit_is_active(s) && !dcv_unit_is_enabled(s))
			continue;
		dcv_buf_addf(&wrong, "%s%s is %s", wrong.len ? ", " : "", k->stop[i], how);
		if (!c.kind)
			c = cause(DCV_CAUSE_UNIT_RUNS, k->stop[i], how, NULL, NULL);
	}
	add(j, DCV_CK_GATEWAY_LEGACY, NULL, gw->name, wrong.len ? DCV_CHECK_FAIL : DCV_CHECK_PASS, ms, NULL, c,
	    "%s%s%s%s", states.data, wrong.len ? ": " : "", dcv_buf_str(&wrong),
	    !wrong.len ? "" : k->bypass ? ", but this bypass needs it stopped and disabled"
				: ", but the Connection Gateway needs it stopped and disabled");
	add(j, DCV_CK_PROXY_SERVICE, NULL, gw->name, !active ? DCV_CHECK_FAIL : enabled ? DCV_CHECK_PASS : DCV_CHECK_WARN,
	    ms, NULL, active ? none : cause(DCV_CAUSE_UNIT_STOPPED, k->unit, u->active, NULL, NULL), "%s %s, %s%s",
	    k->unit, u->active, u->enabled, active && !enabled ? " (will not start at boot)" : "");
	dcv_buf_release(&states);
	dcv_buf_release(&wrong);
}

/* The first line of a validator's complaint that says something. */
static char *first_line(const char *text)
{
	const char *p = text ? text : "";
	while (*p == '\n' || *p == ' ')
		p++;
	return xstrndup(p, strcspn(p, "\n"));
}

static void gw_config(struct judge *j, const struct dcv_host *gw, const struct dcv_proxy_kind *k,
		      const struct dcv_gw_facts *f, long ms)
{
	struct dcv_buf want = DCV_BUF_INIT, d = DCV_BUF_INIT, out = DCV_BUF_INIT;
	struct dcv_proxy_env env;

	dcv_gw_facts_env(f, &env);
	dcv_buf_adds(&out, dcv_buf_str(&f->validate_out));
	dcv_proxy_redact(&env, &out);
	if (!f->has_binary) {
		add(j, DCV_CK_PROXY_CONFIG, NULL, gw->name, DCV_CHECK_FAIL, ms, NULL,
		    cause(DCV_CAUSE_NOT_INSTALLED, k->binary, NULL, NULL, NULL), "%s is not installed: run dcvctl deploy",
		    k->name);
	} else if (f->validate_rc != 0) {
		char *line = first_line(out.data);
		add(j, DCV_CK_PROXY_CONFIG, NULL, gw->name, DCV_CHECK_FAIL, ms, dcv_buf_str(&out),
		    cause(DCV_CAUSE_CONFIG_INVALID, k->validate, line, k->config, NULL), "`%s` refuses the configuration",
		    k->validate);
		free(line);
	} else {
		k->render(j->inv, &env, &want);
		if (!f->config_exists)
			add(j, DCV_CK_PROXY_CONFIG, NULL, gw->name, DCV_CHECK_FAIL, ms, NULL,
			    cause(DCV_CAUSE_FILE_MISSING, NULL, NULL, k->config, NULL),
			    "`%s` passes but %s is missing: run dcvctl deploy", k->validate, k->config);
		else if (dcv_diff(f->config.data, want.data, "deployed", "rendered", &d)) {
			dcv_proxy_redact(&env, &d);
			add(j, DCV_CK_PROXY_CONFIG, NULL, gw->name, DCV_CHECK_WARN, ms, d.data,
			    cause(DCV_CAUSE_DRIFT, NULL, NULL, k->config, NULL),
			    "`%s` passes; %s drifted from the rendered file (dcvctl config diff gateway)", k->validate,
			    k->config);
		} else
			add(j, DCV_CK_PROXY_CONFIG, NULL, gw->name, DCV_CHECK_PASS, ms, NULL, none,
			    "`%s` passes; %s is as rendered", k->validate, k->config);
	}
	if (want.data)
		explicit_bzero(want.data, want.len);
	dcv_buf_release(&want);
	dcv_buf_release(&d);
	dcv_buf_release(&out);
}

/* The unit a listening process belongs to, as ss shows its name (the kernel keeps 15
 * characters): every proxy kind's own, and the Session Manager's java. */
static const char *unit_of_process(const char *proc)
{
	if (strncmp(proc, "dcv-connection-", 15) == 0)
		return DCV_UNIT_GATEWAY;
	for (int i = 0; dcv_proxy_kinds[i]; i++)
		if (strcmp(proc, dcv_proxy_kinds[i]->process) == 0)
			return dcv_proxy_kinds[i]->unit;
	if (strncmp(proc, "java", 4) == 0)
		return DCV_UNIT_BROKER " (java)";
	return NULL;
}

static void gw_listen(struct judge *j, const struct dcv_host *gw, const struct dcv_proxy_kind *k,
		      const struct dcv_gw_facts *f, long ms)
{
	const char *proc = f->listener;
	char port[16];

	snprintf(port, sizeof(port), "%d", gw->listen);
	if (!f->ss.len) {
		add(j, DCV_CK_PROXY_LISTEN, NULL, gw->name, DCV_CHECK_FAIL, ms, NULL,
		    cause(DCV_CAUSE_PORT_FREE, port, NULL, NULL, NULL), "nothing listens on %d", gw->listen);
	} else if (strcmp(proc, k->process) == 0) {
		add(j, DCV_CK_PROXY_LISTEN, NULL, gw->name, DCV_CHECK_PASS, ms, NULL, none, "%s listens on %d", k->unit,
		    gw->listen);
	} else {
		const char *unit = unit_of_process(proc), *who = proc[0] ? proc : "another process";
		add(j, DCV_CK_PROXY_LISTEN, NULL, gw->name, DCV_CHECK_FAIL, ms, f->ss.data,
		    cause(DCV_CAUSE_PORT_HELD, port, who, unit, k->unit), "port %d is held by %s%s%s%s, not %s",
		    gw->listen, who, unit ? " (unit " : "", unit ? unit : "", unit ? ")" : "", k->unit);
	}
}

static void gw_cert(struct judge *j, const struct dcv_host *gw, const struct dcv_gw_facts *f, long ms)
{
	struct dcv_buf ev = DCV_BUF_INIT;
	struct dcv_cert *cert = NULL;
	struct dcv_err e = DCV_ERR_INIT;
	struct dcv_cert_info ci;
	char n[32];

	if (!f->cert_pem.len || !f->key_readable) {
		const char *file = !f->cert_pem.len ? gw->cert : gw->key;
		add(j, DCV_CK_GATEWAY_CERT, NULL, gw->name, DCV_CHECK_FAIL, ms, NULL,
		    cause(DCV_CAUSE_CERT_UNREADABLE, NULL, "missing or unreadable", file, NULL), "%s missing or unreadable",
		    file);
		return;
	}
	if (dcv_cert_parse_pem(f->cert_pem.data, f->cert_pem.len, &cert, &e) != DCV_OK) {
		add(j, DCV_CK_GATEWAY_CERT, NULL, gw->name, DCV_CHECK_FAIL, ms, NULL,
		    cause(DCV_CAUSE_CERT_UNREADABLE, NULL, e.msg, gw->cert, NULL), "%s: %s", gw->cert, e.msg);
		return;
	}
	dcv_cert_info(cert, &ci);
	long days = dcv_cert_days_left(&ci, time(NULL));
	dcv_buf_addf(&ev, "subject %s\nissuer %s\nSANs", ci.subject, ci.issuer);
	for (int i = 0; i < ci.n_sans; i++)
		dcv_buf_addf(&ev, " %s", ci.sans[i]);
	dcv_buf_addf(&ev, "\ndays left %ld", days);
	snprintf(n, sizeof(n), "%ld", days < 0 ? -days : days);
	if (f->key_match == 0)
		add(j, DCV_CK_GATEWAY_CERT, NULL, gw->name, DCV_CHECK_FAIL, ms, ev.data,
		    cause(DCV_CAUSE_CERT_KEY, NULL, gw->cert, gw->key, NULL), "%s does not belong to %s", gw->key, gw->cert);
	else if (days < 0)
		add(j, DCV_CK_GATEWAY_CERT, NULL, gw->name, DCV_CHECK_FAIL, ms, ev.data,
		    cause(DCV_CAUSE_CERT_EXPIRED, NULL, n, gw->cert, NULL), "%s expired %ld days ago", gw->cert, -days);
	else if (days < j->inv->cert_warn_days)
		add(j, DCV_CK_GATEWAY_CERT, NULL, gw->name, DCV_CHECK_WARN, ms, ev.data,
		    cause(DCV_CAUSE_CERT_EXPIRING, NULL, n, gw->cert, NULL), "%s expires in %ld days (warn under %d)",
		    gw->cert, days, j->inv->cert_warn_days);
	else
		add(j, DCV_CK_GATEWAY_CERT, NULL, gw->name, DCV_CHECK_PASS, ms, NULL, none,
		    "cert and key present%s, %ld days left", f->key_match == 1 ? " and matching" : "", days);
	dcv_cert_info_release(&ci);
	dcv_cert_free(cert);
	dcv_buf_release(&ev);
}

/* The URL the gateway probes an agent at (and the proxy reaches it by). */
static void agent_url(const struct dcv_host *a, char *url, size_t n)
{
	snprintf(url, n, strchr(a->address, ':') ? "https://[%s]:%d%s" : "https://%s:%d%s", a->address, a->port,
		 a->web_url_path);
}

/* Does kind `k` add registry entry `key` to the common gateway rows? */
static bool kind_adds(const struct dcv_proxy_kind *k, enum dcv_check_key key)
{
	for (int i = 0; k && k->checks[i] != DCV_CK_COUNT; i++)
		if (k->checks[i] == key)
			return true;
	return false;
}

/* The proxy's own view of its servers: a DOWN one is named with the proxy's check result. */
static void gw_backends(struct judge *j, const struct dcv_host *gw, const struct dcv_proxy_kind *k,
			const struct dcv_gw_facts *f, long ms)
{
	struct dcv_backend_state *b = NULL;
	struct dcv_buf down = DCV_BUF_INIT, ev = DCV_BUF_INIT;
	struct dcv_cause c = none;
	int n = 0, n_down = 0;

	if (!kind_adds(k, DCV_CK_PROXY_BACKENDS))
		return;
	if (!f->status_ok || !k->backends || !k->backends(f->status.data, &b, &n)) {
		add(j, DCV_CK_PROXY_BACKENDS, NULL, gw->name, DCV_CHECK_FAIL, ms, NULL,
		    cause(DCV_CAUSE_NO_STATUS, k->status, NULL, NULL, NULL), "%s does not answer `%s`: is %s running?",
		    k->name, k->status, k->unit);
		return;
	}
	for (int i = 0; i < n; i++) {
		const struct dcv_host *a = dcv_inventory_host(j->inv, b[i].name);
		dcv_buf_addf(&ev, "%s %s %s\n", b[i].name, b[i].status, b[i].detail);
		if (b[i].up)
			continue;
		n_down++;
		dcv_buf_addf(&down, "%s%s%s%s (%s: %s)", down.len ? ", " : "", b[i].name, a ? " " : "",
			     a && a->backup ? "[backup]" : "", b[i].status, b[i].detail);
		if (!c.kind) {
			char state[300], url[512] = "";
			snprintf(state, sizeof(state), "%s (%s)", b[i].status, b[i].detail);
			if (a)
				agent_url(a, url, sizeof(url));
			c = cause(DCV_CAUSE_BACKEND_DOWN, b[i].name, state, a ? url : NULL, NULL);
		}
	}
	if (n_down)
		add(j, DCV_CK_PROXY_BACKENDS, NULL, gw->name, DCV_CHECK_FAIL, ms, ev.data, c, "%d of %d servers down: %s",
		    n_down, n, down.data);
	else
		add(j, DCV_CK_PROXY_BACKENDS, NULL, gw->name, n ? DCV_CHECK_PASS : DCV_CHECK_FAIL, ms, ev.data,
		    n ? none : cause(DCV_CAUSE_BACKEND_DOWN, "every server", "absent from the backend", NULL, NULL),
		    n ? "%d of %d servers up" : "%d servers in the backend", n, n);
	free(b);
	dcv_buf_release(&down);
	dcv_buf_release(&ev);
}

static const enum dcv_check_key gw_fact_keys[] = { DCV_CK_GATEWAY_LEGACY, DCV_CK_PROXY_SERVICE, DCV_CK_PROXY_CONFIG,
						   DCV_CK_PROXY_LISTEN, DCV_CK_GATEWAY_CERT, DCV_CK_PROXY_BACKENDS };
static const enum dcv_check_key to_keys[] = { DCV_CK_TO_TCP, DCV_CK_TO_TLS, DCV_CK_TO_HTTP };

/* The backends row (last of gw_fact_keys) only for kinds that add it. */
static int n_gw_fact_keys(const struct dcv_proxy_kind *k)
{
	return kind_adds(k, DCV_CK_PROXY_BACKENDS) ? 6 : 5;
}

static void judge_resolver(struct judge *j, const struct dcv_host *gw);

static void judge_gateway(struct judge *j, const struct dcv_host *gw, const struct dcv_check_host *in)
{
	const struct dcv_proxy_kind *k = dcv_proxy_kind(gw->proxy);
	int n = n_gw_fact_keys(k);

	if (!in->ssh.run)
		return;
	ssh_row(j, DCV_CK_GATEWAY_SSH, gw, in);
	if (in->ssh.rc != DCV_OK) {
		not_run(j, gw_fact_keys, n, NULL, gw->name, "no SSH connection to the gateway");
		for (int i = 0; i < j->inv->n_hosts; i++)
			if (j->inv->hosts[i]->role == DCV_ROLE_AGENT)
				not_run(j, to_keys, 3, j->inv->hosts[i]->name, gw->name,
					"no SSH connection to the gateway");
		return;
	}
	if (!in->facts.run)
		return;
	if (!k) {
		for (int i = 0; i < 5; i++)
			add(j, gw_fact_keys[i], NULL, gw->name, DCV_CHECK_SKIP, 0, NULL, none,
			    "proxy = %s is not checked by this dcvctl yet", dcv_proxy_name(gw->proxy));
		return;
	}
	if (in->facts.rc != DCV_OK) {
		not_run(j, gw_fact_keys, n, NULL, gw->name, in->facts.err);
		return;
	}
	gw_services(j, gw, k, &in->gw, in->facts.ms);
	gw_config(j, gw, k, &in->gw, in->facts.ms);
	gw_listen(j, gw, k, &in->gw, in->facts.ms);
	gw_cert(j, gw, &in->gw, in->facts.ms);
	gw_backends(j, gw, k, &in->gw, in->facts.ms);
	if (kind_adds(k, DCV_CK_RESOLVER_TLS))
		judge_resolver(j, gw);
}

/* Why the gateway cannot connect to an agent whose dcvserver runs with the inventory's port:
 * the agent's own view of that port, when it shows something other than dcvserver on it. */
static struct dcv_cause reach_cause(const struct dcv_host *a, const struct dcv_check_host *in, const char *target)
{
	const struct dcv_agent_facts *af = &in->agent;
	char port[16];

	snprintf(port, sizeof(port), "%d", a->port);
	if (!in->facts.run || in->facts.rc != DCV_OK || !dcv_unit_is_active(&af->dcvserver) ||
	    (af->web_port ? af->web_port : DCV_DEFAULT_WEB_PORT) != a->port)
		return cause(DCV_CAUSE_CONNECT, NULL, in->to_tcp.err, target, NULL);
	if (!af->ss.len)
		return cause(DCV_CAUSE_PORT_FREE, port, NULL, NULL, NULL);
	if (af->listener[0] && strcmp(af->listener, "dcvserver") != 0)
		return cause(DCV_CAUSE_PORT_HELD, port, af->listener, NULL, "dcvserver");
	return cause(DCV_CAUSE_CONNECT, NULL, in->to_tcp.err, target, NULL);
}

/* From the gateway to one agent. */
static void judge_reach(struct judge *j, const struct dcv_host *gw, const struct dcv_host *a,
			const struct dcv_check_host *in)
{
	char target[300], url[512];

	if (!in->to_tcp.run)
		return;
	snprintf(target, sizeof(target), "%s:%d", a->address, a->port);
	agent_url(a, url, sizeof(url));
	if (in->to_tcp.rc != DCV_OK) {
		add(j, DCV_CK_TO_TCP, a->name, gw->name, DCV_CHECK_FAIL, in->to_tcp.ms, NULL, reach_cause(a, in, target),
		    "%s from the gateway: %s", target, in->to_tcp.err);
		not_run(j, to_keys + 1, 2, a->name, gw->name, "no TCP connection");
		return;
	}
	add(j, DCV_CK_TO_TCP, a->name, gw->name, DCV_CHECK_PASS, in->to_tcp.ms, NULL, none,
	    "%s accepts connections from the gateway", target);
	if (in->to_tls.run && in->to_tls.rc != DCV_OK)
		add(j, DCV_CK_TO_TLS, a->name, gw->name, DCV_CHECK_FAIL, in->to_tls.ms, NULL,
		    cause(DCV_CAUSE_CONNECT, NULL, in->to_tls.err, target, NULL), "TLS to %s: %s", target, in->to_tls.err);
	else if (in->to_tls.run)
		add(j, DCV_CK_TO_TLS, a->name, gw->name, DCV_CHECK_PASS, in->to_tls.ms, NULL, none, "%s", in->to_tls_desc);
	if (!in->to_http.run)
		return;
	if (in->to_http.rc != DCV_OK) {
		add(j, DCV_CK_TO_HTTP, a->name, gw->name, DCV_CHECK_FAIL, in->to_http.ms, NULL,
		    cause(DCV_CAUSE_CONNECT, NULL, in->to_http.err, url, NULL), "GET %s: %s", url, in->to_http.err);
	} else {
		bool ok = in->to_http_status == 200;
		char st[16];
		snprintf(st, sizeof(st), "%ld", in->to_http_status);
		add(j, DCV_CK_TO_HTTP, a->name, gw->name, ok ? DCV_CHECK_PASS : DCV_CHECK_FAIL, in->to_http.ms, NULL,
		    ok ? none : cause(DCV_CAUSE_HTTP_STATUS, NULL, st, url, "200"), "GET %s from the gateway: %ld%s",
		    a->web_url_path, in->to_http_status, ok ? "" : " (expected 200: is web-url-path right?)");
	}
}

/* ------------------------------------------------------------------ broker and resolver
 * connection-gateway (design §6, reference/dcv.md §4, §5): the broker's own rows on the
 * [broker] host, the gateway's view of the resolver, and each agent's session as the resolver
 * answers for it. */

/* The broker's rows carry this host: the diagnosis names the broker, wherever it runs. */
#define BROKER_ROW_HOST "broker"

static const char *broker_host_name(const struct dcv_inventory *inv)
{
	const struct dcv_host *gw = dcv_inventory_gateway(inv);

	return inv->broker_host ? inv->broker_host : gw ? gw->name : "gateway";
}

static const enum dcv_check_key broker_keys[] = { DCV_CK_BROKER_SERVICE, DCV_CK_BROKER_ENABLE_GATEWAY,
						  DCV_CK_BROKER_LISTEN };
static const enum dcv_check_key resolver_keys[] = { DCV_CK_RESOLVER_TLS, DCV_CK_RESOLVER_MTLS };

/* The broker's process as ss shows it: java for the real one, the 15-character comm of the
 * lab's simulator. */
static bool broker_process(const char *proc)
{
	return strcmp(proc, "java") == 0 || strncmp(proc, DCV_UNIT_BROKER, 15) == 0;
}

static void judge_broker(struct judge *j)
{
	const struct dcv_check_broker *b = &j->in->broker;
	const char *where = broker_host_name(j->inv);
	long ms = b->facts.ms;
	char port[16];

	if (!b->facts.run) {
		/* the broker host's own SSH row says why */
		for (int i = 0; i < j->inv->n_hosts; i++)
			if (strcmp(j->inv->hosts[i]->name, where) == 0 && j->in->hosts[i].ssh.run &&
			    j->in->hosts[i].ssh.rc != DCV_OK)
				not_run(j, broker_keys, 3, NULL, BROKER_ROW_HOST, "no SSH connection to the broker host");
		return;
	}
	if (b->facts.rc != DCV_OK) {
		not_run(j, broker_keys, 3, NULL, BROKER_ROW_HOST, b->facts.err);
		return;
	}
	const struct dcv_unit_state *u = &b->f.broker;
	bool active = dcv_unit_is_active(u), enabled = dcv_unit_is_enabled(u);
	add(j, DCV_CK_BROKER_SERVICE, NULL, BROKER_ROW_HOST,
	    !active ? DCV_CHECK_FAIL : enabled ? DCV_CHECK_PASS : DCV_CHECK_WARN, ms, NULL,
	    active ? none : cause(DCV_CAUSE_UNIT_STOPPED, DCV_UNIT_BROKER, u->active, where, NULL), "%s on %s %s, %s%s",
	    DCV_UNIT_BROKER, where, u->active, u->enabled, active && !enabled ? " (will not start at boot)" : "");

	snprintf(port, sizeof(port), "%d", j->inv->resolver_port);
	if (!b->f.props_exists) {
		add(j, DCV_CK_BROKER_ENABLE_GATEWAY, NULL, BROKER_ROW_HOST, DCV_CHECK_FAIL, ms, NULL,
		    cause(DCV_CAUSE_FILE_MISSING, NULL, NULL, DCV_BROKER_PROPERTIES, NULL), "%s is missing on %s",
		    DCV_BROKER_PROPERTIES, where);
	} else {
		char *on = dcv_properties_get(b->f.props.data, "enable-gateway");
		char *p = dcv_properties_get(b->f.props.data, "gateway-to-broker-connector-https-port");
		/* the broker's default port is 8447 (reference §5.1) */
		const char *have_port = p ? p : "8447";
		if (!on || strcmp(on, "true") != 0)
			add(j, DCV_CK_BROKER_ENABLE_GATEWAY, NULL, BROKER_ROW_HOST, DCV_CHECK_FAIL, ms, NULL,
			    cause(DCV_CAUSE_KEY, "enable-gateway", on, DCV_BROKER_PROPERTIES, "true"),
			    "enable-gateway = %s: the broker serves no resolver", on ? on : "(unset)");
		else if (strcmp(have_port, port) != 0)
			add(j, DCV_CK_BROKER_ENABLE_GATEWAY, NULL, BROKER_ROW_HOST, DCV_CHECK_FAIL, ms, NULL,
			    cause(DCV_CAUSE_KEY, "gateway-to-broker-connector-https-port", have_port, DCV_BROKER_PROPERTIES,
				  port),
			    "gateway-to-broker-connector-https-port = %s, the inventory's resolver-port is %s", have_port,
			    port);
		else
			add(j, DCV_CK_BROKER_ENABLE_GATEWAY, NULL, BROKER_ROW_HOST, DCV_CHECK_PASS, ms, NULL, none,
			    "enable-gateway = true, gateway-to-broker-connector-https-port = %s", have_port);
		free(on);
		free(p);
	}

	if (!b->f.ss.len) {
		add(j, DCV_CK_BROKER_LISTEN, NULL, BROKER_ROW_HOST, DCV_CHECK_FAIL, ms, NULL,
		    cause(DCV_CAUSE_PORT_FREE, port, NULL, where, NULL), "nothing listens on %s on %s", port, where);
	} else if (broker_process(b->f.listener)) {
		add(j, DCV_CK_BROKER_LISTEN, NULL, BROKER_ROW_HOST, DCV_CHECK_PASS, ms, NULL, none,
		    "%s (%s) listens on %s on %s", DCV_UNIT_BROKER, b->f.listener, port, where);
	} else {
		const char *who = b->f.listener[0] ? b->f.listener : "another process", *unit = unit_of_process(b->f.listener);
		add(j, DCV_CK_BROKER_LISTEN, NULL, BROKER_ROW_HOST, DCV_CHECK_FAIL, ms, b->f.ss.data,
		    cause(DCV_CAUSE_PORT_HELD, port, who, unit, DCV_UNIT_BROKER), "port %s on %s is held by %s, not %s",
		    port, where, who, DCV_UNIT_BROKER);
	}
}

/* curl's failures that mean no connection at all: a name the gateway cannot resolve, a refused
 * or silent port. */
static bool curl_unreached(int rc)
{
	return rc == 6 || rc == 7 || rc == 28;
}

/* curl's failures of verification: the peer's certificate or its name (60, 51), the CA file
 * (77). A refused client certificate is not one: OpenSSL verifies the server's chain and name
 * while reading its Certificate, before the client's is asked for, so a handshake that gets as
 * far as refusing the client has verified the server. */
static bool curl_unverified(int rc)
{
	return rc == 60 || rc == 51 || rc == 77;
}

static void judge_resolver(struct judge *j, const struct dcv_host *gw)
{
	const struct dcv_check_resolver *r = &j->in->resolver;
	const struct dcv_check_resolve *bare = &r->bare;
	const char *ca = r->ca_file[0] ? r->ca_file : "the system's CAs";
	long ms = r->step.ms;

	if (!r->step.run)
		return;
	if (r->step.rc != DCV_OK || r->no_curl) {
		not_run(j, resolver_keys, 2, NULL, gw->name, r->no_curl ? "curl is not installed on the gateway" : r->step.err);
		return;
	}
	if (!r->url[0]) {
		add(j, DCV_CK_RESOLVER_TLS, NULL, gw->name, DCV_CHECK_FAIL, ms, NULL,
		    cause(DCV_CAUSE_KEY, "url", NULL, DCV_GATEWAY_CONF, "the broker's https://NAME:PORT"),
		    "%s has no [resolver] url", DCV_GATEWAY_CONF);
	} else if (curl_unreached(bare->curl_rc)) {
		add(j, DCV_CK_RESOLVER_TLS, NULL, gw->name, DCV_CHECK_FAIL, bare->step.ms, NULL,
		    cause(DCV_CAUSE_CONNECT, NULL, bare->err, r->url, NULL), "%s from the gateway: %s", r->url, bare->err);
	} else if (curl_unverified(bare->curl_rc)) {
		add(j, DCV_CK_RESOLVER_TLS, NULL, gw->name, DCV_CHECK_FAIL, bare->step.ms, NULL,
		    cause(DCV_CAUSE_CERT_UNTRUSTED, NULL, bare->err, r->ca_file[0] ? r->ca_file : NULL, NULL),
		    "the resolver's certificate does not verify against %s: %s", ca, bare->err);
	} else {
		add(j, DCV_CK_RESOLVER_TLS, NULL, gw->name, DCV_CHECK_PASS, bare->step.ms, NULL, none,
		    "%s verifies against %s", r->url, ca);
	}
	if (!j->inv->tls_client_auth) {
		add(j, DCV_CK_RESOLVER_MTLS, NULL, gw->name, DCV_CHECK_SKIP, 0, NULL, none,
		    "tls-client-auth is off in [broker]");
		return;
	}
	const struct dcv_check_resolve *with = NULL;
	for (int i = 0; i < j->inv->n_hosts && !with; i++)
		if (j->inv->hosts[i]->role == DCV_ROLE_AGENT && j->in->hosts[i].resolve.step.run)
			with = &j->in->hosts[i].resolve;
	if (!r->url[0] || curl_unreached(bare->curl_rc) || curl_unverified(bare->curl_rc)) {
		/* nothing to learn about client certificates from a resolver not reached */
		not_run(j, resolver_keys + 1, 1, NULL, gw->name, "the resolver was not reached (gateway.resolver.tls)");
	} else if (!r->cert_file[0]) {
		add(j, DCV_CK_RESOLVER_MTLS, NULL, gw->name, DCV_CHECK_FAIL, ms, NULL,
		    cause(DCV_CAUSE_FILE_MISSING, NULL, NULL, DCV_GATEWAY_CLIENT_CERT, NULL),
		    "[resolver] has no cert-file: the gateway presents no certificate");
	} else if (bare->status) {
		char *have = dcv_properties_get(dcv_buf_str(&j->in->broker.f.props), "enable-tls-client-auth-gateway");
		add(j, DCV_CK_RESOLVER_MTLS, NULL, gw->name, DCV_CHECK_FAIL, bare->step.ms, NULL,
		    cause(DCV_CAUSE_KEY, "enable-tls-client-auth-gateway", have, DCV_BROKER_PROPERTIES, "true"),
		    "the resolver answers %ld to a client without a certificate", bare->status);
		free(have);
	} else if (with && with->curl_rc != 0 && !curl_unreached(with->curl_rc)) {
		add(j, DCV_CK_RESOLVER_MTLS, NULL, gw->name, DCV_CHECK_FAIL, with->step.ms, NULL,
		    cause(DCV_CAUSE_CERT_UNTRUSTED, NULL, with->err, r->cert_file, NULL),
		    "the resolver refuses the gateway's certificate %s: %s", r->cert_file, with->err);
	} else {
		add(j, DCV_CK_RESOLVER_MTLS, NULL, gw->name, DCV_CHECK_PASS, bare->step.ms, NULL, none,
		    "a client without a certificate is refused (%s)%s%s", bare->err[0] ? bare->err : "no answer",
		    with ? "; the gateway's certificate is accepted: " : "", with ? r->cert_file : "");
	}
}

/* The broker's DNS name for agent `a` (malloc'd), from describe-server-dns-mappings: a mapping
 * whose server id is the agent's address or name. NULL when there is none; *n_out counts them
 * all (-1: the list could not be read). */
static char *mapping_for(const struct dcv_check_broker *b, const struct dcv_host *a, int *n_out)
{
	json_object *root = b->f.mappings_ok ? json_tokener_parse(dcv_buf_str(&b->f.mappings)) : NULL;
	char *name = NULL;

	*n_out = -1;
	if (!root || !json_object_is_type(root, json_type_array)) {
		json_object_put(root);
		return NULL;
	}
	*n_out = (int)json_object_array_length(root);
	for (int i = 0; i < *n_out && !name; i++) {
		json_object *m = json_object_array_get_idx(root, (size_t)i), *id, *dns, *internal;
		const char *sid;
		if (!json_object_object_get_ex(m, "ServerId", &id) || !(sid = json_object_get_string(id)) ||
		    (strcmp(sid, a->address) != 0 && strcmp(sid, a->name) != 0))
			continue;
		if (json_object_object_get_ex(m, "DnsNames", &dns) &&
		    json_object_object_get_ex(dns, "InternalDnsName", &internal))
			name = xstrdup(json_object_get_string(internal));
	}
	json_object_put(root);
	return name;
}

/* Does the resolver's DcvServerEndpoint name agent `a`: its DNS mapping, its address, its
 * inventory name or a name under it? */
static bool names_agent(const char *endpoint, const struct dcv_host *a, const char *mapped)
{
	size_t n = strlen(a->name);

	if (mapped)
		return strcasecmp(endpoint, mapped) == 0;
	return strcasecmp(endpoint, a->address) == 0 || strcasecmp(endpoint, a->name) == 0 ||
	       (strncasecmp(endpoint, a->name, n) == 0 && endpoint[n] == '.');
}

/* Why the resolver does not know agent `a`'s session, from the agent's facts and the broker's
 * mappings: the session is not there, the agent's Session Manager agent does not run (so it
 * never registered), the broker has no DNS mapping for it, or it has not heard of it. */
static struct dcv_cause not_found_cause(const struct dcv_host *a, const struct dcv_check_host *in,
					const char *mapped, int n_mappings)
{
	const struct dcv_agent_facts *af = &in->agent;
	bool facts = in->facts.run && in->facts.rc == DCV_OK;
	char n[16];

	if (facts && af->sessions_ok && !dcv_sessions_find(&af->sessions, a->session)) {
		snprintf(n, sizeof(n), "%d", af->sessions.n);
		return cause(DCV_CAUSE_SESSION_MISSING, a->session, n, NULL, NULL);
	}
	if (facts && !dcv_unit_is_active(&af->sm_agent))
		return cause(DCV_CAUSE_UNIT_STOPPED, DCV_UNIT_SM_AGENT, af->sm_agent.active, NULL, NULL);
	if (n_mappings >= 0 && !mapped) {
		snprintf(n, sizeof(n), "%d mapping%s", n_mappings, n_mappings == 1 ? "" : "s");
		return cause(DCV_CAUSE_NO_DNS_MAPPING, a->address, n, NULL, NULL);
	}
	return cause(DCV_CAUSE_NOT_REGISTERED, a->session, "404 from the resolver: the agent has not reported it",
		     NULL, NULL);
}

static void judge_resolve_session(struct judge *j, const struct dcv_host *gw, const struct dcv_host *a,
				  const struct dcv_check_host *in)
{
	const struct dcv_check_resolve *r = &in->resolve;
	const char *url = j->in->resolver.url;
	struct dcv_resolution res;
	struct dcv_err e = DCV_ERR_INIT;
	int n_mappings;

	if (!r->step.run)
		return;
	if (r->step.rc != DCV_OK) {
		not_run(j, (enum dcv_check_key[]){ DCV_CK_RESOLVER_SESSION }, 1, a->name, gw->name, r->step.err);
		return;
	}
	if (r->curl_rc != 0) {
		add(j, DCV_CK_RESOLVER_SESSION, a->name, gw->name, DCV_CHECK_FAIL, r->step.ms, NULL,
		    cause(DCV_CAUSE_CONNECT, NULL, r->err, url, NULL), "resolveSession for '%s': %s", a->session, r->err);
		return;
	}
	if (dcv_resolver_parse((int)r->status, dcv_buf_str(&r->body), &res, &e) != DCV_OK) {
		add(j, DCV_CK_RESOLVER_SESSION, a->name, gw->name, DCV_CHECK_FAIL, r->step.ms, dcv_buf_str(&r->body),
		    cause(DCV_CAUSE_RESOLVED_WRONG, "the answer", e.msg, NULL, "the five documented fields"),
		    "resolveSession for '%s': %s", a->session, e.msg);
		return;
	}
	char *mapped = mapping_for(&j->in->broker, a, &n_mappings);
	if (res.status == DCV_RESOLVE_NOT_FOUND) {
		add(j, DCV_CK_RESOLVER_SESSION, a->name, gw->name, DCV_CHECK_FAIL, r->step.ms, res.message,
		    not_found_cause(a, in, mapped, n_mappings), "resolveSession for '%s': 404 %s", a->session,
		    res.message);
	} else {
		char port[16], want_port[16];
		snprintf(port, sizeof(port), "%d", res.port);
		snprintf(want_port, sizeof(want_port), "%d", a->port);
		struct dcv_cause c = !names_agent(res.endpoint, a, mapped)
			? cause(DCV_CAUSE_RESOLVED_WRONG, "DcvServerEndpoint", res.endpoint, NULL, mapped ? mapped : a->address)
			: res.port != a->port ? cause(DCV_CAUSE_RESOLVED_WRONG, "Port", port, NULL, want_port)
			: strcmp(res.web_url_path, a->web_url_path) != 0
			? cause(DCV_CAUSE_RESOLVED_WRONG, "WebUrlPath", res.web_url_path, NULL, a->web_url_path)
			: none;
		add(j, DCV_CK_RESOLVER_SESSION, a->name, gw->name, c.kind ? DCV_CHECK_FAIL : DCV_CHECK_PASS, r->step.ms,
		    NULL, c, "'%s' resolves to %s:%d%s%s", a->session, res.endpoint, res.port, res.web_url_path,
		    c.kind ? ", not this agent" : "");
	}
	free(mapped);
	dcv_resolution_release(&res);
}

/* ------------------------------------------------------------------ agents */

/* The managed key of dcv.conf whose value puts dcvserver where the gateway does not look, as
 * a cause; NONE when dcvserver listens where the inventory says. */
static struct dcv_cause config_key_cause(const struct dcv_host *a, const struct dcv_agent_facts *af)
{
	int port = af->web_port ? af->web_port : DCV_DEFAULT_WEB_PORT;
	const char *path = af->web_url_path[0] ? af->web_url_path : DCV_DEFAULT_WEB_URL_PATH;
	char have[16], want[16];

	snprintf(want, sizeof(want), "%d", a->port);
	snprintf(have, sizeof(have), "%d", af->web_port);
	if (port != a->port)
		return cause(DCV_CAUSE_KEY, "web-port", af->web_port ? have : NULL, DCV_DCV_CONF, want);
	if (strcmp(path, a->web_url_path) != 0)
		return cause(DCV_CAUSE_KEY, "web-url-path", af->web_url_path[0] ? af->web_url_path : NULL, DCV_DCV_CONF,
			     a->web_url_path);
	return none;
}

static void agent_config(struct judge *j, const struct dcv_host *a, const struct dcv_agent_facts *af, long ms)
{
	struct dcv_buf want = DCV_BUF_INIT, d = DCV_BUF_INIT, ev = DCV_BUF_INIT;
	struct dcv_findings f = { 0 };
	const struct dcv_buf *conf = &af->conf;
	char name[128];
	bool bypass = dcv_proxy_bypass(j->inv);

	if (!af->conf_exists) {
		add(j, DCV_CK_AGENT_CONFIG, a->name, a->name, DCV_CHECK_FAIL, ms, NULL,
		    cause(DCV_CAUSE_FILE_MISSING, NULL, NULL, DCV_DCV_CONF, NULL), "%s is missing", DCV_DCV_CONF);
		return;
	}
	snprintf(name, sizeof(name), "%s:%s", a->name, DCV_DCV_CONF);
	dcv_lint_dcvconf(conf->data, name, bypass, &f);
	dcv_render_dcvconf_for(conf->data, j->inv, a, &want);
	bool drift = dcv_diff(conf->data, want.data, "deployed", "inventory", &d);
	const char *first_error = NULL;
	for (int i = 0; i < f.n; i++) {
		dcv_buf_addf(&ev, "%s:%d: %s: %s\n", f.v[i].file, f.v[i].line,
			     f.v[i].sev == DCV_SEV_ERROR ? "error" : "warning", f.v[i].msg);
		if (!first_error && f.v[i].sev == DCV_SEV_ERROR)
			first_error = f.v[i].msg;
	}
	if (drift)
		dcv_buf_add(&ev, d.data, d.len);
	int errors = dcv_findings_errors(&f), warnings = dcv_findings_warnings(&f);
	struct dcv_cause c = config_key_cause(a, af);
	if (!c.kind && drift)
		c = cause(DCV_CAUSE_DRIFT, NULL, NULL, DCV_DCV_CONF, NULL);
	if (!c.kind && errors)
		c = cause(DCV_CAUSE_LINT, NULL, first_error, DCV_DCV_CONF, NULL);
	if (errors || drift)
		add(j, DCV_CK_AGENT_CONFIG, a->name, a->name, DCV_CHECK_FAIL, ms, ev.data, c, "%s%s%s",
		    errors ? "lint errors" : "", errors && drift ? "; " : "",
		    drift ? "managed keys differ from the inventory (dcvctl config diff)" : "");
	else if (warnings)
		add(j, DCV_CK_AGENT_CONFIG, a->name, a->name, DCV_CHECK_WARN, ms, ev.data,
		    c.kind ? c : cause(DCV_CAUSE_LINT, NULL, f.n ? f.v[0].msg : NULL, DCV_DCV_CONF, NULL),
		    "%d lint warning%s", warnings, warnings == 1 ? "" : "s");
	else {
		dcv_cause_release(&c);
		add(j, DCV_CK_AGENT_CONFIG, a->name, a->name, DCV_CHECK_PASS, ms, NULL, none,
		    "dcv.conf lints clean and matches the inventory");
	}
	dcv_findings_free(&f);
	dcv_buf_release(&want);
	dcv_buf_release(&d);
	dcv_buf_release(&ev);
}

static void agent_session(struct judge *j, const struct dcv_host *a, const struct dcv_agent_facts *af, long ms)
{
	const char *out = dcv_buf_str(&af->sessions_out);
	const struct dcv_session *s;

	if (!af->sessions_ok) {
		add(j, DCV_CK_AGENT_SESSION, a->name, a->name, DCV_CHECK_FAIL, ms, out,
		    cause(DCV_CAUSE_SESSIONS_UNREADABLE, NULL, af->sessions_err, NULL, NULL), "%s", af->sessions_err);
	} else if (!(s = dcv_sessions_find(&af->sessions, a->session))) {
		char others[16];
		snprintf(others, sizeof(others), "%d", af->sessions.n);
		add(j, DCV_CK_AGENT_SESSION, a->name, a->name, DCV_CHECK_FAIL, ms, out,
		    cause(DCV_CAUSE_SESSION_MISSING, a->session, others, NULL, NULL), "no session '%s' (%d other%s)",
		    a->session, af->sessions.n, af->sessions.n == 1 ? "" : "s");
	} else if (!dcv_agent_session_matches(a, s)) {
		char *is = xasprintf("owner %s, type %s", s->owner ? s->owner : "?", s->type ? s->type : "?");
		char *should = xasprintf("owner %s, type %s", a->session_owner, a->session_type);
		add(j, DCV_CK_AGENT_SESSION, a->name, a->name, DCV_CHECK_FAIL, ms, out,
		    cause(DCV_CAUSE_SESSION_WRONG, a->session, is, NULL, should),
		    "session '%s' has owner %s, type %s; the inventory says %s, %s", a->session, s->owner ? s->owner : "?",
		    s->type ? s->type : "?", a->session_owner, a->session_type);
		free(is);
		free(should);
	} else {
		add(j, DCV_CK_AGENT_SESSION, a->name, a->name, DCV_CHECK_PASS, ms, NULL, none, "session '%s' (owner %s, %s)",
		    a->session, a->session_owner, a->session_type);
	}
}

static const enum dcv_check_key agent_fact_keys[] = { DCV_CK_AGENT_SM, DCV_CK_AGENT_DCVSERVER, DCV_CK_AGENT_CONFIG,
						      DCV_CK_AGENT_SESSION };

static void judge_agent(struct judge *j, const struct dcv_host *a, const struct dcv_check_host *in)
{
	const struct dcv_agent_facts *af = &in->agent;
	long ms = in->facts.ms;

	if (!in->ssh.run)
		return;
	ssh_row(j, DCV_CK_AGENT_SSH, a, in);
	if (in->ssh.rc != DCV_OK) {
		not_run(j, agent_fact_keys, 4, a->name, a->name, "no SSH connection to the agent");
		return;
	}
	if (!in->facts.run)
		return;
	if (in->facts.rc != DCV_OK) {
		not_run(j, agent_fact_keys, 4, a->name, a->name, in->facts.err);
		return;
	}
	const struct dcv_host *gw = dcv_inventory_gateway(j->inv);
	if (!dcv_proxy_bypass(j->inv) && gw && kind_adds(dcv_proxy_kind(gw->proxy), DCV_CK_AGENT_SM)) {
		/* the broker learns the agent's sessions from its Session Manager agent */
		const struct dcv_unit_state *u = &af->sm_agent;
		bool ok = dcv_unit_is_active(u);
		add(j, DCV_CK_AGENT_SM, a->name, a->name, ok ? DCV_CHECK_PASS : DCV_CHECK_FAIL, ms, NULL,
		    ok ? none : cause(DCV_CAUSE_UNIT_STOPPED, DCV_UNIT_SM_AGENT, u->active, NULL, NULL), "%s %s/%s%s",
		    DCV_UNIT_SM_AGENT, u->active, u->enabled,
		    ok ? "" : ": the broker learns the sessions from it, so it must run");
	} else if (dcv_proxy_bypass(j->inv)) {
		const struct dcv_unit_state *u = &af->sm_agent;
		bool ok = !dcv_unit_is_active(u) && !dcv_unit_is_enabled(u);
		const char *how = dcv_unit_is_active(u) ? "running" : "enabled";
		add(j, DCV_CK_AGENT_SM, a->name, a->name, ok ? DCV_CHECK_PASS : DCV_CHECK_FAIL, ms, NULL,
		    ok ? none : cause(DCV_CAUSE_UNIT_RUNS, DCV_UNIT_SM_AGENT, how, NULL, NULL), "%s %s/%s%s",
		    DCV_UNIT_SM_AGENT, u->active, u->enabled, ok ? "" : ": the bypass needs it stopped and disabled");
	}
	const struct dcv_unit_state *d = &af->dcvserver;
	if (dcv_unit_is_active(d))
		add(j, DCV_CK_AGENT_DCVSERVER, a->name, a->name, DCV_CHECK_PASS, ms, NULL, none, "dcvserver %s, %s",
		    d->active, d->enabled);
	else
		add(j, DCV_CK_AGENT_DCVSERVER, a->name, a->name, DCV_CHECK_FAIL, ms, dcv_buf_str(&af->log),
		    cause(DCV_CAUSE_UNIT_STOPPED, "dcvserver", d->active, NULL, NULL), "dcvserver %s, %s", d->active,
		    d->enabled);
	agent_config(j, a, af, ms);
	agent_session(j, a, af, ms);
}

/* ------------------------------------------------------------------ endpoint */

static bool http_expected(const struct dcv_inventory *inv, long status)
{
	for (int i = 0; i < inv->n_http_expect; i++)
		if (inv->http_expect[i] == status)
			return true;
	return false;
}

/* The fact behind a TLS verdict as the diagnosis reads it. */
static struct dcv_cause tls_cause(const struct dcv_verdict *v, const char *ca_file)
{
	switch (v->why) {
	case DCV_WHY_CERT_NAME:
		return cause(DCV_CAUSE_CERT_NAME, v->key, v->value, NULL, NULL);
	case DCV_WHY_CERT_EXPIRED:
		return cause(DCV_CAUSE_CERT_EXPIRED, NULL, v->value, "the endpoint's certificate", NULL);
	case DCV_WHY_CERT_NOT_YET:
		return cause(DCV_CAUSE_CERT_NOT_YET, NULL, v->value, NULL, NULL);
	case DCV_WHY_CERT_UNTRUSTED:
		return cause(DCV_CAUSE_CERT_UNTRUSTED, NULL, v->value, v->key[0] ? ca_file : NULL, NULL);
	case DCV_WHY_CERT_EXPIRING:
		return cause(DCV_CAUSE_CERT_EXPIRING, NULL, v->value, "the endpoint's certificate", NULL);
	case DCV_WHY_NONE:
		break;
	}
	return none;
}

/* endpoint.tls: the verdict `probe tls` gives (lib/probe.c), with the certificate as evidence. */
static void endpoint_tls(struct judge *j, const char *ep_host, const struct dcv_check_endpoint *ep)
{
	const struct dcv_tls_result *tr = &ep->tls_r;
	const struct dcv_inventory *inv = j->inv;
	struct dcv_buf ev = DCV_BUF_INIT;
	struct dcv_verdict v;
	long ms = ep->tls.ms;

	if (ep->tls.rc != DCV_OK) {
		add(j, DCV_CK_EP_TLS, NULL, "endpoint", DCV_CHECK_FAIL, ms, NULL,
		    cause(DCV_CAUSE_CONNECT, NULL, ep->tls.err, inv->url, NULL), "TLS handshake: %s", ep->tls.err);
		return;
	}
	struct dcv_tls_expect want = { ep_host, (const char *const *)inv->names, inv->n_names, inv->ca_file,
				       inv->cert_warn_days, time(NULL) };
	struct dcv_cert_info ci;
	dcv_cert_info(tr->cert, &ci);
	dcv_buf_addf(&ev, "%s %s ALPN %s\nsubject %s\nissuer %s\nSANs", tr->protocol, tr->cipher,
		     tr->alpn[0] ? tr->alpn : "none", ci.subject, ci.issuer);
	for (int i = 0; i < ci.n_sans; i++)
		dcv_buf_addf(&ev, " %s", ci.sans[i]);
	dcv_buf_addf(&ev, "%s\ndays left %ld\n", ci.n_sans ? "" : " (none)", dcv_cert_days_left(&ci, want.now));
	dcv_cert_info_release(&ci);
	dcv_probe_tls_verdict(tr, &want, &v);
	add(j, DCV_CK_EP_TLS, NULL, "endpoint", v.status, ms, v.status == DCV_CHECK_PASS ? NULL : ev.data,
	    tls_cause(&v, inv->ca_file), "%s", v.message);
	dcv_buf_release(&ev);
}

/* What a failed upgrade says about the headers. */
static struct dcv_cause ws_cause(const struct dcv_ws_result *wr, const char **msg)
{
	char st[48];

	if (wr->status == 101) {
		*msg = NULL;
		return cause(DCV_CAUSE_HEADER, "the 101 response", wr->rejected, NULL, NULL);
	}
	if (wr->status == 400) {
		*msg = "400: a proxy dropped the Upgrade headers?";
		return cause(DCV_CAUSE_HEADER, "Upgrade", "400: a proxy dropped the Upgrade and Connection headers", NULL, NULL);
	}
	if (wr->status == 403) {
		*msg = "403: DCV refused the Origin (allowed-ws-origin-regex)?";
		return cause(DCV_CAUSE_HEADER, "Origin", "403: DCV refused it (allowed-ws-origin-regex)", NULL, NULL);
	}
	*msg = "no upgrade";
	snprintf(st, sizeof(st), "status %ld instead of 101", wr->status);
	return cause(DCV_CAUSE_HEADER, "Upgrade", st, NULL, NULL);
}

static void judge_endpoint(struct judge *j, const char *ep_host, const struct dcv_check_endpoint *ep)
{
	const struct dcv_inventory *inv = j->inv;

	if (inv->proxy) {
		/* the row reaches reports and CI logs: never the proxy's password */
		char *shown = dcv_url_redact(inv->proxy);
		add(j, DCV_CK_EP_TCP, NULL, "endpoint", DCV_CHECK_SKIP, 0, NULL, none, "through the proxy %s", shown);
		free(shown);
	} else if (ep->tcp.run && ep->tcp.rc != DCV_OK) {
		add(j, DCV_CK_EP_TCP, NULL, "endpoint", DCV_CHECK_FAIL, ep->tcp.ms, NULL,
		    cause(DCV_CAUSE_CONNECT, NULL, ep->tcp.err, ep_host, NULL), "%s", ep->tcp.err);
	} else if (ep->tcp.run) {
		add(j, DCV_CK_EP_TCP, NULL, "endpoint", DCV_CHECK_PASS, ep->tcp.ms, NULL, none, "%s connected in %.1f ms",
		    ep->tcp_remote, ep->tcp_connect_ms);
	}
	if (ep->tls.run)
		endpoint_tls(j, ep_host, ep);
	if (ep->http.run && ep->http.rc != DCV_OK) {
		add(j, DCV_CK_EP_HTTP, NULL, "endpoint", DCV_CHECK_FAIL, ep->http.ms, NULL,
		    cause(DCV_CAUSE_CONNECT, NULL, ep->http.err, inv->url, NULL), "GET %s: %s", inv->url, ep->http.err);
	} else if (ep->http.run) {
		const struct dcv_http_result *hr = &ep->http_r;
		bool ok = http_expected(inv, hr->status);
		struct dcv_buf want = DCV_BUF_INIT;
		char st[16];
		for (int i = 0; i < inv->n_http_expect; i++)
			dcv_buf_addf(&want, "%s%d", i ? " or " : "", inv->http_expect[i]);
		snprintf(st, sizeof(st), "%ld", hr->status);
		add(j, DCV_CK_EP_HTTP, NULL, "endpoint", ok ? DCV_CHECK_PASS : DCV_CHECK_FAIL, ep->http.ms, NULL,
		    ok ? none : cause(DCV_CAUSE_HTTP_STATUS, NULL, st, inv->url, dcv_buf_str(&want)),
		    "HTTP/%s %ld%s%s (first byte %.1f ms)", hr->http_version, hr->status, hr->redirect[0] ? " -> " : "",
		    hr->redirect, hr->first_byte_ms);
		dcv_buf_release(&want);
	}
	if (ep->ws.run) {
		const struct dcv_ws_result *wr = &ep->ws_r;
		const char *msg;
		if (ep->ws.rc != DCV_OK)
			add(j, DCV_CK_EP_WEBSOCKET, NULL, "endpoint", DCV_CHECK_FAIL, ep->ws.ms, NULL,
			    cause(DCV_CAUSE_CONNECT, NULL, ep->ws.err, inv->url, NULL), "%s", ep->ws.err);
		else if (wr->status == 101 && wr->accept_ok && !wr->failure[0])
			add(j, DCV_CK_EP_WEBSOCKET, NULL, "endpoint", DCV_CHECK_PASS, ep->ws.ms, NULL, none,
			    "101 Switching Protocols, Sec-WebSocket-Accept correct");
		else if (wr->status == 101 && wr->accept_ok)
			add(j, DCV_CK_EP_WEBSOCKET, NULL, "endpoint", DCV_CHECK_FAIL, ep->ws.ms, NULL,
			    cause(DCV_CAUSE_WS_BROKEN, NULL, wr->failure, NULL, NULL), "101 Switching Protocols, then %s",
			    wr->failure);
		else {
			struct dcv_cause c = ws_cause(wr, &msg);
			if (msg)
				add(j, DCV_CK_EP_WEBSOCKET, NULL, "endpoint", DCV_CHECK_FAIL, ep->ws.ms, dcv_buf_str(&wr->headers), c,
				    "%s", msg);
			else
				add(j, DCV_CK_EP_WEBSOCKET, NULL, "endpoint", DCV_CHECK_FAIL, ep->ws.ms, dcv_buf_str(&wr->headers), c,
				    "101 Switching Protocols but %s", wr->rejected);
		}
	}
	if (ep->hold.run) {
		const struct dcv_ws_result *wr = &ep->hold_r;
		char st[48];
		snprintf(st, sizeof(st), "no upgrade (%ld)", wr->status);
		if (ep->hold.rc != DCV_OK)
			add(j, DCV_CK_EP_HOLD, NULL, "endpoint", DCV_CHECK_FAIL, ep->hold.ms, NULL,
			    cause(DCV_CAUSE_CONNECT, NULL, ep->hold.err, inv->url, NULL), "%s", ep->hold.err);
		else if (wr->status != 101 || !wr->accept_ok)
			add(j, DCV_CK_EP_HOLD, NULL, "endpoint", DCV_CHECK_FAIL, ep->hold.ms, dcv_buf_str(&wr->headers),
			    cause(DCV_CAUSE_HEADER, "Upgrade", wr->rejected[0] ? wr->rejected : st, NULL, NULL), "%s%s%s", st,
			    wr->rejected[0] ? ": " : "", wr->rejected);
		else
			add(j, DCV_CK_EP_HOLD, NULL, "endpoint", wr->failure[0] ? DCV_CHECK_FAIL : DCV_CHECK_PASS, ep->hold.ms, NULL,
			    wr->failure[0] ? cause(DCV_CAUSE_WS_BROKEN, NULL, wr->failure, NULL, NULL) : none,
			    "%s%sheld %.1f s: %d pongs to %d pings, %d server pings, rtt p50 %.1f ms p95 %.1f ms max %.1f ms",
			    wr->failure, wr->failure[0] ? "; " : "", wr->held_ms / 1000.0, wr->pongs, wr->pings_sent,
			    wr->server_pings, wr->rtt_p50, wr->rtt_p95, wr->rtt_max);
	}
}

/* ------------------------------------------------------------------ judging */

/* The hosts SSH reaches through the bastion, for its diagnosis. */
static char *behind_bastion(const struct dcv_inventory *inv, const struct dcv_host *bastion)
{
	struct dcv_buf b = DCV_BUF_INIT;

	for (int i = 0; i < inv->n_hosts; i++) {
		const struct dcv_host *h = inv->hosts[i];
		if (h != bastion && (h->jump == bastion || (h->ssh_host && strcmp(h->ssh_host, bastion->ssh_host) == 0)))
			dcv_buf_addf(&b, "%s%s", b.len ? ", " : "", h->name);
	}
	return dcv_buf_detach(&b);
}

/* The aws.* rows: the verdicts as they are, each failing one with its fact for the diagnosis
 * (the resource, what AWS says, and the command that shows or fixes it). */
static void judge_aws(struct judge *j, int ep_port)
{
	static const enum dcv_check_key keys[DCV_AWS_N] = { DCV_CK_AWS_VPCE, DCV_CK_AWS_TARGETS, DCV_CK_AWS_SG };
	const struct dcv_inventory *inv = j->inv;
	const char *resource[DCV_AWS_N] = { inv->aws_vpc_endpoint_id, inv->aws_target_group_arn,
					    inv->aws_security_group_ids };
	char port[16];

	snprintf(port, sizeof(port), "%d", ep_port ? ep_port : 8443);
	for (int i = 0; i < DCV_AWS_N; i++) {
		const struct dcv_aws_verdict *v = &j->in->aws[i];
		bool bad = v->status == DCV_CHECK_FAIL || v->status == DCV_CHECK_ERROR;
		add(j, keys[i], port, "aws", v->status, 0, NULL,
		    bad ? cause(DCV_CAUSE_AWS, resource[i], v->message, NULL, v->fix) : none, "%s", v->message ? v->message : "");
	}
}

void dcv_check_judge(const struct dcv_inventory *inv, const struct dcv_check_opts *o,
		     const struct dcv_check_input *in, struct dcv_report *rep)
{
	struct judge j = { inv, o, in, rep };
	const struct dcv_host *gw = dcv_inventory_gateway(inv), *bastion = NULL;
	const char **agents = xcalloc((size_t)inv->n_hosts + 1, sizeof(*agents));
	char ep_host[256] = "", ep_path[1024];
	int n_agents = 0, ep_port;

	/* reports read along the path: bastions, the gateway, the agents in inventory order (each
	 * with the gateway's probes to it), the endpoint */
	for (int i = 0; i < inv->n_hosts; i++)
		if (inv->hosts[i]->role == DCV_ROLE_BASTION) {
			bastion = bastion ? bastion : inv->hosts[i];
			if (in->hosts[i].ssh.run)
				ssh_row(&j, DCV_CK_BASTION_SSH, inv->hosts[i], &in->hosts[i]);
		}
	const struct dcv_proxy_kind *k = gw ? dcv_proxy_kind(gw->proxy) : NULL;
	for (int i = 0; i < inv->n_hosts; i++)
		if (inv->hosts[i]->role == DCV_ROLE_GATEWAY)
			judge_gateway(&j, inv->hosts[i], &in->hosts[i]);
	if (kind_adds(k, DCV_CK_BROKER_SERVICE))
		judge_broker(&j);
	for (int i = 0; i < inv->n_hosts; i++)
		if (inv->hosts[i]->role == DCV_ROLE_AGENT) {
			agents[n_agents++] = inv->hosts[i]->name;
			if (gw)
				judge_reach(&j, gw, inv->hosts[i], &in->hosts[i]);
			if (gw && kind_adds(k, DCV_CK_RESOLVER_SESSION))
				judge_resolve_session(&j, gw, inv->hosts[i], &in->hosts[i]);
			judge_agent(&j, inv->hosts[i], &in->hosts[i]);
		}
	if (inv->url && dcv_url_split(inv->url, ep_host, sizeof(ep_host), &ep_port, ep_path, sizeof(ep_path)))
		judge_endpoint(&j, ep_host, &in->ep);
	if (in->aws_run)
		judge_aws(&j, inv->url ? ep_port : 0);
	char *hidden = bastion ? behind_bastion(inv, bastion) : NULL;
	dcv_check_diagnose(rep, agents, n_agents, k ? k->unit : gw ? dcv_proxy_name(gw->proxy) : NULL, hidden);
	free(hidden);
	free(agents);
}

void dcv_check_input_init(struct dcv_check_input *in, const struct dcv_inventory *inv)
{
	memset(in, 0, sizeof(*in));
	in->hosts = xcalloc((size_t)inv->n_hosts + 1, sizeof(*in->hosts));
}

void dcv_check_input_release(struct dcv_check_input *in, const struct dcv_inventory *inv)
{
	for (int i = 0; in->hosts && i < inv->n_hosts; i++) {
		struct dcv_check_host *h = &in->hosts[i];
		dcv_buf_release(&h->resolve.body);
		if (h->facts.run && h->facts.rc == DCV_OK) {
			if (inv->hosts[i]->role == DCV_ROLE_GATEWAY)
				dcv_gw_facts_release(&h->gw);
			else if (inv->hosts[i]->role == DCV_ROLE_AGENT)
				dcv_agent_facts_release(&h->agent);
		}
	}
	free(in->hosts);
	if (in->ep.tls.run && in->ep.tls.rc == DCV_OK)
		dcv_tls_result_release(&in->ep.tls_r);
	if (in->ep.ws.run && in->ep.ws.rc == DCV_OK)
		dcv_ws_result_release(&in->ep.ws_r);
	if (in->ep.hold.run && in->ep.hold.rc == DCV_OK)
		dcv_ws_result_release(&in->ep.hold_r);
	for (int i = 0; i < DCV_AWS_N; i++)
		dcv_aws_verdict_release(&in->aws[i]);
	if (in->broker.facts.run && in->broker.facts.rc == DCV_OK)
		dcv_broker_facts_release(&in->broker.f);
	dcv_buf_release(&in->resolver.bare.body);
	memset(in, 0, sizeof(*in));
}

/* ------------------------------------------------------------------ gathering */
/* ------------------------------------------------------------------ broker and resolver facts */

static const char b64_fn[] = "b64() { base64 -w0; echo; }\n";

static void assign_q(struct dcv_buf *s, const char *var, const char *value)
{
	dcv_buf_addf(s, "%s=", var);
	dcv_shquote(s, value);
	dcv_buf_addc(s, '\n');
}

static void b64_line(const char *v, struct dcv_buf *out)
{
	dcv_buf_reset(out);
	dcv_base64_decode(v, strlen(v), out);
}

/* One request as a shell call: `req NAME URL [curl options]`. */
static void resolver_req(struct dcv_buf *s, const char *name, const struct dcv_check_resolver *r,
			 const char *session, bool with_cert)
{
	struct dcv_buf target = DCV_BUF_INIT;

	dcv_resolver_target(&target, session, "HTTP");
	dcv_buf_addf(s, "req %s \"$u\"", name);
	dcv_shquote(s, target.data);
	if (r->ca_file[0])
		dcv_buf_adds(s, " --cacert \"$ca\"");
	if (with_cert && r->cert_file[0] && r->key_file[0])
		dcv_buf_adds(s, " --cert \"$crt\" --key \"$key\"");
	dcv_buf_addc(s, '\n');
	dcv_buf_release(&target);
}

void dcv_check_resolver_script(const struct dcv_check_resolver *r, const char *const *sessions, int n,
			       long timeout_ms, struct dcv_buf *s)
{
	size_t ul = strlen(r->url);
	char *base = xstrndup(r->url, ul && r->url[ul - 1] == '/' ? ul - 1 : ul);

	dcv_buf_adds(s, b64_fn);
	dcv_buf_adds(s, "command -v curl >/dev/null 2>&1 || { echo curl=no; exit 0; }\n"
			"t=$(mktemp -d) || exit 1\ntrap 'rm -rf \"$t\"' EXIT\n");
	assign_q(s, "u", base);
	assign_q(s, "ca", r->ca_file);
	assign_q(s, "crt", r->cert_file);
	assign_q(s, "key", r->key_file);
	dcv_buf_addf(s, "req() { n=$1; url=$2; shift 2; w=$(curl -sS --max-time %ld -o \"$t/b\" -d '' "
			"-H 'accept: application/json' -w '%%{http_code}' \"$@\" \"$url\" "
			"2>\"$t/e\"); echo \"$n.rc=$?\"; echo \"$n.w=$w\"; printf '%%s.err=' \"$n\"; "
			"head -n 1 \"$t/e\" | head -c 255 | b64; printf '%%s.body=' \"$n\"; "
			"head -c 4096 \"$t/b\" 2>/dev/null | b64; rm -f \"$t/b\"; }\n",
		     timeout_ms > 1000 ? timeout_ms / 1000 : 1);
	/* no client certificate: verification alone, and with mTLS on, a refusal */
	resolver_req(s, "bare", r, "dcvctl-check", false);
	for (int i = 0; i < n; i++) {
		char name[16];
		snprintf(name, sizeof(name), "s%d", i);
		resolver_req(s, name, r, sessions[i], true);
	}
	dcv_buf_adds(s, "exit 0\n");
	free(base);
}

static void resolve_line(struct dcv_check_resolve *q, const char *field, const char *v)
{
	q->step.run = true;
	if (strcmp(field, "rc") == 0)
		q->curl_rc = atoi(v);
	else if (strcmp(field, "w") == 0)
		q->status = atol(v);
	else if (strcmp(field, "err") == 0) {
		struct dcv_buf b = DCV_BUF_INIT;
		b64_line(v, &b);
		dcv_buf_rtrim(&b);
		snprintf(q->err, sizeof(q->err), "%s", dcv_buf_str(&b));
		dcv_buf_release(&b);
	} else if (strcmp(field, "body") == 0)
		b64_line(v, &q->body);
}

void dcv_check_resolver_parse(const char *out, struct dcv_check_resolver *r, struct dcv_check_resolve *const *resolves,
			      int n)
{
	char *text = xstrdup(out ? out : ""), *save = NULL;

	for (char *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		char *v = strchr(l, '='), *dot;
		int i;
		if (!v)
			continue;
		*v++ = '\0';
		if (strcmp(l, "curl") == 0)
			r->no_curl = true;
		else if (!(dot = strchr(l, '.')))
			continue;
		else if (strncmp(l, "bare.", 5) == 0)
			resolve_line(&r->bare, dot + 1, v);
		else if (sscanf(l, "s%d.", &i) == 1 && i >= 0 && i < n)
			resolve_line(resolves[i], dot + 1, v);
	}
	free(text);
}


struct run {
	const struct dcv_inventory *inv;
	struct dcv_ssh_pool *pool;
	const struct dcv_check_opts *o;
	struct dcv_check_input *in;
	char ep_host[256], ep_path[1024];
	int ep_port;
	/* the gateway's connection, shared by its facts and the tunnels to the agents */
	struct dcv_ssh *gw_conn;
	int gw_index;
	bool gw_facts;
	int *agent_index; /* inventory index of each agent */
	int n_agents;
};

static void step_start(struct dcv_check_step *s, long long *t0)
{
	s->run = true;
	*t0 = dcv_now_ms();
}

static void step_end(struct dcv_check_step *s, long long t0, int rc, const struct dcv_err *e)
{
	s->rc = rc;
	s->ms = (long)(dcv_now_ms() - t0);
	if (rc != DCV_OK)
		snprintf(s->err, sizeof(s->err), "%s", e->msg);
}

/* Connect to `h`; on success its SSH row's facts are recorded. */
static struct dcv_ssh *connect_host(struct run *r, const struct dcv_host *h, struct dcv_check_host *out)
{
	struct dcv_err e = DCV_ERR_INIT;
	struct dcv_ssh *c = NULL;
	long long t0;

	step_start(&out->ssh, &t0);
	step_end(&out->ssh, t0, dcv_ssh_connect(r->pool, h, &c, &e), &e);
	if (out->ssh.rc != DCV_OK)
		return NULL;
	out->hostkey_verified = dcv_ssh_hostkey_verified(c);
	snprintf(out->hostkey, sizeof(out->hostkey), "%s", dcv_ssh_hostkey(c));
	return c;
}

/* From the gateway to one agent: TCP (the direct-tcpip channel opens only once the gateway's
 * sshd has connected), TLS and HTTP over fresh tunnels. */
static void gather_reach(struct run *r, int agent)
{
	struct dcv_check_host *out = &r->in->hosts[r->agent_index[agent]];
	const struct dcv_host *a = r->inv->hosts[r->agent_index[agent]];
	struct dcv_probe_opts po = DCV_PROBE_OPTS_INIT;
	struct dcv_err e = DCV_ERR_INIT;
	char url[512];
	long long t0;
	int fd = -1, rc;

	agent_url(a, url, sizeof(url));
	po.timeout_ms = r->o->probe_timeout_ms;
	step_start(&out->to_tcp, &t0);
	step_end(&out->to_tcp, t0, dcv_ssh_tunnel(r->gw_conn, a->address, a->port, &fd, &e), &e);
	if (out->to_tcp.rc != DCV_OK)
		return;
	struct dcv_tls_result tr;
	po.via_fd = fd;
	step_start(&out->to_tls, &t0);
	rc = dcv_probe_tls(url, &po, &tr, &e);
	step_end(&out->to_tls, t0, rc, &e);
	if (rc == DCV_OK) {
		struct dcv_cert_info ci;
		dcv_cert_info(tr.cert, &ci);
		snprintf(out->to_tls_desc, sizeof(out->to_tls_desc), "%s %s, certificate %s", tr.protocol, tr.cipher,
			 ci.subject);
		dcv_cert_info_release(&ci);
		dcv_tls_result_release(&tr);
	}
	close(fd);
	step_start(&out->to_http, &t0);
	rc = dcv_ssh_tunnel(r->gw_conn, a->address, a->port, &fd, &e);
	if (rc == DCV_OK) {
		struct dcv_http_result hr;
		po.via_fd = fd;
		rc = dcv_probe_http(url, &po, &hr, &e);
		if (rc == DCV_OK)
			out->to_http_status = hr.status;
		close(fd);
	}
	step_end(&out->to_http, t0, rc, &e);
}

/* connection-gateway: is agent `a`'s gateway.resolver.session row wanted (any agent's when
 * NULL)? Its 404 is diagnosed from the agent's facts and the broker's mappings, so both are
 * read for it. */
static bool session_row_wanted(const struct run *r, const struct dcv_host *a)
{
	const struct dcv_host *gw = dcv_inventory_gateway(r->inv);

	if (!gw || !kind_adds(dcv_proxy_kind(gw->proxy), DCV_CK_RESOLVER_SESSION))
		return false;
	if (a)
		return wanted(r->o, DCV_CK_RESOLVER_SESSION, a->name);
	for (int i = 0; i < r->n_agents; i++)
		if (wanted(r->o, DCV_CK_RESOLVER_SESSION, r->inv->hosts[r->agent_index[i]]->name))
			return true;
	return false;
}

/* connection-gateway: is the broker's side wanted, and is the broker on `h`? */
static bool broker_wanted(const struct run *r)
{
	const struct dcv_host *gw = dcv_inventory_gateway(r->inv);

	return gw && kind_adds(dcv_proxy_kind(gw->proxy), DCV_CK_BROKER_SERVICE) &&
	       (wanted_any(r->o, broker_keys, 3, NULL) || session_row_wanted(r, NULL));
}

static bool broker_on(const struct run *r, const struct dcv_host *h)
{
	return broker_wanted(r) && strcmp(broker_host_name(r->inv), h->name) == 0;
}

/* The broker's side, over the connection of the host it runs on: its facts without secrets. */
static void gather_broker(struct run *r, struct dcv_ssh *c, const struct dcv_host *h)
{
	struct dcv_check_broker *b = &r->in->broker;
	struct dcv_err e = DCV_ERR_INIT;
	long long t0;

	step_start(&b->facts, &t0);
	step_end(&b->facts, t0, dcv_broker_facts_read(c, h, r->inv, false, &b->f, &e), &e);
}

/* A step that ran but came to nothing: an error saying why. */
static void rc_note(struct dcv_check_step *st, const char *why)
{
	st->rc = DCV_E_REMOTE;
	snprintf(st->err, sizeof(st->err), "%s", why);
}

static bool resolver_wanted(const struct run *r, const struct dcv_proxy_kind *k)
{
	if (!kind_adds(k, DCV_CK_RESOLVER_TLS))
		return false;
	return wanted_any(r->o, resolver_keys, 2, NULL) || session_row_wanted(r, NULL);
}

static void toml_into(const struct dcv_gw_facts *f, const char *key, char *out, size_t n)
{
	char *v = dcv_gateway_conf_get(dcv_buf_str(&f->config), "resolver", key);

	snprintf(out, n, "%s", v ? v : "");
	free(v);
}

/* The gateway asks the resolver, with curl on the gateway, as its [resolver] says: once
 * without its certificate, then for every agent's session. */
static void gather_resolver(struct run *r, const struct dcv_host *gw, const struct dcv_gw_facts *f)
{
	struct dcv_check_resolver *res = &r->in->resolver;
	struct dcv_check_resolve **q = xcalloc((size_t)r->n_agents + 1, sizeof(*q));
	const char **sessions = xcalloc((size_t)r->n_agents + 1, sizeof(*sessions));
	struct dcv_buf s = DCV_BUF_INIT, out = DCV_BUF_INIT;
	struct dcv_err e = DCV_ERR_INIT;
	int status = 0, rc;
	long long t0;

	toml_into(f, "url", res->url, sizeof(res->url));
	toml_into(f, "ca-file", res->ca_file, sizeof(res->ca_file));
	toml_into(f, "cert-file", res->cert_file, sizeof(res->cert_file));
	toml_into(f, "cert-key-file", res->key_file, sizeof(res->key_file));
	for (int i = 0; i < r->n_agents; i++) {
		q[i] = &r->in->hosts[r->agent_index[i]].resolve;
		sessions[i] = r->inv->hosts[r->agent_index[i]]->session;
	}
	step_start(&res->step, &t0);
	if (!res->url[0]) {
		step_end(&res->step, t0, DCV_OK, &e);
		goto out;
	}
	dcv_check_resolver_script(res, sessions, r->n_agents, r->o->probe_timeout_ms, &s);
	rc = dcv_remote_sh(r->gw_conn, gw, s.data, &out, NULL, &status, &e);
	if (rc == DCV_OK && status != 0)
		rc = dcv_err_set(&e, DCV_E_REMOTE, "the resolver requests failed on the gateway (exit %d)", status);
	step_end(&res->step, t0, rc, &e);
	if (rc == DCV_OK)
		dcv_check_resolver_parse(out.data, res, q, r->n_agents);
	for (int i = 0; i < r->n_agents; i++) {
		bool answered = q[i]->step.run;
		q[i]->step = res->step;
		if (rc == DCV_OK && res->no_curl)
			rc_note(&q[i]->step, "curl is not installed on the gateway");
		else if (rc == DCV_OK && !answered)
			rc_note(&q[i]->step, "no answer from curl on the gateway");
	}
out:
	dcv_buf_release(&s);
	dcv_buf_release(&out);
	free(q);
	free(sessions);
}

/* Job 0: the gateway's own state; job i: the probes through it to agent i-1. */
static void gw_job(void *user, int i)
{
	struct run *r = user;
	struct dcv_check_host *out = &r->in->hosts[r->gw_index];
	const struct dcv_host *gw = r->inv->hosts[r->gw_index];
	const struct dcv_proxy_kind *k = dcv_proxy_kind(gw->proxy);
	struct dcv_err e = DCV_ERR_INIT;
	long long t0;

	if (i > 0) {
		gather_reach(r, i - 1);
		return;
	}
	if (!r->gw_facts)
		return;
	out->facts.run = true;
	if (!k)
		return;
	step_start(&out->facts, &t0);
	step_end(&out->facts, t0, dcv_gw_facts_read(r->gw_conn, gw, k, true, &out->gw, &e), &e);
	if (out->facts.rc == DCV_OK && resolver_wanted(r, k))
		gather_resolver(r, gw, &out->gw);
	if (broker_on(r, gw))
		gather_broker(r, r->gw_conn, gw);
}

static bool reach_wanted(const struct run *r)
{
	for (int i = 0; i < r->n_agents; i++)
		if (wanted_any(r->o, to_keys, 3, r->inv->hosts[r->agent_index[i]]->name))
			return true;
	return false;
}

static void gather_gateway(struct run *r, int idx)
{
	const struct dcv_host *gw = r->inv->hosts[idx];
	struct dcv_check_host *out = &r->in->hosts[idx];
	const struct dcv_proxy_kind *k = dcv_proxy_kind(gw->proxy);
	struct dcv_err e = DCV_ERR_INIT;
	bool to_agents = reach_wanted(r);

	r->gw_index = idx;
	r->gw_facts = wanted_any(r->o, gw_fact_keys, n_gw_fact_keys(k), NULL) || resolver_wanted(r, k) ||
		      broker_on(r, gw);
	if (!wanted(r->o, DCV_CK_GATEWAY_SSH, NULL) && !r->gw_facts && !to_agents)
		return;
	if (!(r->gw_conn = connect_host(r, gw, out)))
		return;
	/* the gateway's own state and the probes through it to each agent share its connection
	 * at the same time */
	if (to_agents && dcv_ssh_share(r->gw_conn, &e) != DCV_OK) {
		out->facts.run = true;
		step_end(&out->facts, dcv_now_ms(), DCV_E_LOST, &e);
		return;
	}
	dcv_parallel(1 + (to_agents ? r->n_agents : 0), to_agents ? 9 : 1, gw_job, r);
}

static void gather_agent(struct run *r, int idx)
{
	const struct dcv_host *a = r->inv->hosts[idx];
	struct dcv_check_host *out = &r->in->hosts[idx];
	struct dcv_err e = DCV_ERR_INIT;
	struct dcv_ssh *c;
	long long t0;

	if (!wanted(r->o, DCV_CK_AGENT_SSH, a->name) && !wanted_any(r->o, agent_fact_keys, 4, a->name) &&
	    !broker_on(r, a) && !session_row_wanted(r, a))
		return;
	if (!(c = connect_host(r, a, out)))
		return;
	step_start(&out->facts, &t0);
	step_end(&out->facts, t0, dcv_agent_facts_read(c, a, &out->agent, &e), &e);
	if (broker_on(r, a))
		gather_broker(r, c, a);
}

/* The aws.* verdicts, through the operator's aws CLI (lib/aws.c). */
static void gather_aws(struct run *r)
{
	const struct dcv_inventory *inv = r->inv;
	const struct dcv_host *gw = dcv_inventory_gateway(inv);
	struct dcv_aws_conf conf = { inv->aws_region, inv->aws_profile, inv->aws_vpc_endpoint_id,
				     inv->aws_target_group_arn, inv->aws_security_group_ids, r->o->probe_timeout_ms * 3 };

	r->in->aws_run = true;
	dcv_aws_check(&conf, r->ep_host[0] ? r->ep_host : NULL, gw ? gw->address : NULL, gw ? gw->listen : r->ep_port,
		      r->ep_port, r->o->aws, r->in->aws);
}

/* The endpoint's WebSocket URL. Through the Connection Gateway a WebSocket names its session,
 * which the gateway resolves (reference §4.1: the web client's #fragment never reaches a server;
 * the gateway, as the lab's simulates it, reads it from the sessionId query parameter): the
 * first agent's. */
static char *ws_url(const struct run *r)
{
	const struct dcv_host *gw = dcv_inventory_gateway(r->inv);
	struct dcv_buf u = DCV_BUF_INIT;

	dcv_buf_adds(&u, r->inv->url);
	if (gw && r->n_agents && kind_adds(dcv_proxy_kind(gw->proxy), DCV_CK_RESOLVER_SESSION)) {
		const char *id = r->inv->hosts[r->agent_index[0]]->session;
		dcv_buf_adds(&u, strchr(r->inv->url, '?') ? "&sessionId=" : "?sessionId=");
		for (const unsigned char *p = (const unsigned char *)id; *p; p++)
			if (isalnum(*p) || strchr("-._~", *p))
				dcv_buf_addc(&u, (char)*p);
			else
				dcv_buf_addf(&u, "%%%02X", *p);
	}
	return dcv_buf_detach(&u);
}

static void gather_endpoint(struct run *r)
{
	const struct dcv_inventory *inv = r->inv;
	struct dcv_check_endpoint *ep = &r->in->ep;
	struct dcv_probe_opts po = DCV_PROBE_OPTS_INIT;
	struct dcv_err e = DCV_ERR_INIT;
	long long t0;

	po.connect_to = inv->connect_to;
	po.proxy = inv->proxy;
	po.ca_file = inv->ca_file;
	po.timeout_ms = r->o->probe_timeout_ms;
	if (wanted(r->o, DCV_CK_EP_TCP, NULL) && !inv->proxy) {
		char *h = NULL;
		int port = r->ep_port, rc;
		step_start(&ep->tcp, &t0);
		if (!dcv_parse_hostport(inv->connect_to ? inv->connect_to : r->ep_host, r->ep_port, &h, &port))
			rc = dcv_err_set(&e, DCV_E_CONFIG, "bad connect-to");
		else
			rc = dcv_probe_tcp(h, port, po.timeout_ms, &ep->tcp_connect_ms, ep->tcp_remote,
					   sizeof(ep->tcp_remote), &e);
		step_end(&ep->tcp, t0, rc, &e);
		free(h);
	}
	if (wanted(r->o, DCV_CK_EP_TLS, NULL)) {
		step_start(&ep->tls, &t0);
		step_end(&ep->tls, t0, dcv_probe_tls(inv->url, &po, &ep->tls_r, &e), &e);
	}
	if (wanted(r->o, DCV_CK_EP_HTTP, NULL)) {
		step_start(&ep->http, &t0);
		step_end(&ep->http, t0, dcv_probe_http(inv->url, &po, &ep->http_r, &e), &e);
	}
	if (wanted(r->o, DCV_CK_EP_WEBSOCKET, NULL)) {
		char *url = ws_url(r);
		step_start(&ep->ws, &t0);
		step_end(&ep->ws, t0, dcv_probe_ws(url, &po, 0, 0, &ep->ws_r, &e), &e);
		free(url);
	}
	if (r->o->hold_ms > 0 && wanted(r->o, DCV_CK_EP_HOLD, NULL)) {
		po.timeout_ms = r->o->hold_ms + 15000;
		step_start(&ep->hold, &t0);
		step_end(&ep->hold, t0, dcv_probe_ws(inv->url, &po, r->o->hold_ms, r->o->hold_interval_ms, &ep->hold_r, &e),
			 &e);
	}
}

struct task {
	const struct dcv_host *h; /* NULL: the endpoint or the AWS side, by index */
	int index;
};

enum { TASK_ENDPOINT = -1, TASK_AWS = -2 };

struct tasks {
	struct run *r;
	struct task *v;
	pthread_mutex_t lock; /* the progress counts */
	int hosts, done, failed;
};

static void host_done(struct tasks *t, int idx)
{
	const struct dcv_check_host *out = &t->r->in->hosts[idx];
	bool failed = (out->ssh.run && out->ssh.rc != DCV_OK) || (out->facts.run && out->facts.rc != DCV_OK);

	if (!t->r->o->on_host)
		return;
	pthread_mutex_lock(&t->lock);
	t->done++;
	t->failed += failed;
	t->r->o->on_host(t->r->o->user, t->r->inv->hosts[idx]->name, t->done, t->hosts, t->failed, failed);
	pthread_mutex_unlock(&t->lock);
}

static void task_main(void *user, int i)
{
	struct tasks *t = user;
	struct task *k = &t->v[i];

	if (!k->h && k->index == TASK_AWS)
		gather_aws(t->r);
	else if (!k->h)
		gather_endpoint(t->r);
	else if (k->h->role == DCV_ROLE_BASTION) {
		if (wanted(t->r->o, DCV_CK_BASTION_SSH, NULL))
			connect_host(t->r, k->h, &t->r->in->hosts[k->index]);
	} else if (k->h->role == DCV_ROLE_GATEWAY)
		gather_gateway(t->r, k->index);
	else if (k->h->role == DCV_ROLE_AGENT)
		gather_agent(t->r, k->index);
	if (k->h)
		host_done(t, k->index);
}

int dcv_check_run(const struct dcv_inventory *inv, struct dcv_ssh_pool *pool,
		  const struct dcv_check_opts *o, struct dcv_report *rep, struct dcv_err *err)
{
	struct dcv_check_input in;
	struct run r = { 0 };
	struct tasks t = { &r, NULL, PTHREAD_MUTEX_INITIALIZER, 0, 0, 0 };
	int n = 0;
	long long t0 = dcv_now_ms();

	r.inv = inv;
	r.pool = pool;
	r.o = o;
	r.in = &in;
	if (inv->url && !dcv_url_split(inv->url, r.ep_host, sizeof(r.ep_host), &r.ep_port, r.ep_path, sizeof(r.ep_path)))
		return dcv_err_set(err, DCV_E_CONFIG, "%s: [endpoint] url is not an https URL", inv->path);
	dcv_check_input_init(&in, inv);
	r.agent_index = xcalloc((size_t)inv->n_hosts + 1, sizeof(*r.agent_index));
	t.v = xcalloc((size_t)inv->n_hosts + 2, sizeof(*t.v));
	for (int i = 0; i < inv->n_hosts; i++) {
		const struct dcv_host *h = inv->hosts[i];
		if (h->role == DCV_ROLE_AGENT)
			r.agent_index[r.n_agents++] = i;
		if (h->role == DCV_ROLE_BASTION || h->role == DCV_ROLE_GATEWAY || h->role == DCV_ROLE_AGENT)
			t.v[n++] = (struct task){ h, i };
	}
	t.hosts = n;
	if (inv->url)
		t.v[n++] = (struct task){ NULL, TASK_ENDPOINT };
	char port[16];
	snprintf(port, sizeof(port), "%d", inv->url ? r.ep_port : 8443);
	if ((inv->aws || o->aws) && (wanted(o, DCV_CK_AWS_VPCE, NULL) || wanted(o, DCV_CK_AWS_TARGETS, NULL) ||
				     wanted(o, DCV_CK_AWS_SG, port)))
		t.v[n++] = (struct task){ NULL, TASK_AWS };
	dcv_parallel(n, n, task_main, &t);
	dcv_check_judge(inv, o, &in, rep);
	rep->duration_ms = (long)(dcv_now_ms() - t0);
	dcv_check_input_release(&in, inv);
	free(r.agent_index);
	free(t.v);
	return DCV_OK;
}
