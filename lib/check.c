/* The checklist. Every host is worked on by one thread over its one connection; the endpoint
 * probes run from here at the same time; the gateway also carries tunnels to each agent so the
 * DCV servers are probed from the gateway's vantage point, as nginx reaches them. */
#include "check.h"

#include "agent.h"
#include "buf.h"
#include "diff.h"
#include "facts.h"
#include "err.h"
#include "inventory.h"
#include "lint.h"
#include "probe.h"
#include "proxy.h"
#include "remote.h"
#include "render.h"
#include "report.h"
#include "sanitize.h"
#include "service.h"
#include "ssh.h"
#include "tls.h"
#include "util.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define SM_AGENT "dcv-session-manager-agent"

struct run {
	const struct dcv_inventory *inv;
	struct dcv_ssh_pool *pool;
	const struct dcv_check_opts *o;
	struct dcv_report *rep;
	pthread_mutex_t lock;
	const struct dcv_host **agents;
	int n_agents;
	char ep_host[256], ep_path[1024];
	int ep_port;
	/* gateway tunnels */
	struct dcv_ssh *gw_conn;
	const struct dcv_host *gw;
	bool gw_facts;
	/* servers the proxy itself marks down, for the diagnosis */
	struct dcv_backend_state *down;
	int n_down;
};

static bool wanted(const struct run *r, const char *id)
{
	if (r->o->only && *r->o->only && !dcv_check_selected(id, r->o->only))
		return false;
	return !(r->o->skip && *r->o->skip && dcv_check_selected(id, r->o->skip));
}

/* Is any check under this prefix ("gateway.", "agent.dcv1.") wanted? */
static bool wanted_prefix(const struct run *r, const char *const *ids, int n)
{
	for (int i = 0; i < n; i++)
		if (wanted(r, ids[i]))
			return true;
	return false;
}

static void add(struct run *r, const char *id, const char *host, enum dcv_check_status st,
		long long t0, const char *evidence, const char *fmt, ...)
	__attribute__((format(printf, 7, 8)));
static void add(struct run *r, const char *id, const char *host, enum dcv_check_status st,
		long long t0, const char *evidence, const char *fmt, ...)
{
	struct dcv_buf m = DCV_BUF_INIT;
	va_list ap;

	if (!wanted(r, id))
		return;
	va_start(ap, fmt);
	dcv_buf_vaddf(&m, fmt, ap);
	va_end(ap);
	pthread_mutex_lock(&r->lock);
	dcv_report_add(r->rep, id, host, st, t0 ? (long)(dcv_now_ms() - t0) : 0, evidence, "%s",
		       dcv_buf_str(&m));
	pthread_mutex_unlock(&r->lock);
	dcv_buf_release(&m);
}

/* host-key-policy = off connects whatever key the host offers: its SSH row warns, never passes.
 * ssh_note completes the row's message. */
static enum dcv_check_status ssh_status(const struct dcv_ssh *c)
{
	return dcv_ssh_hostkey_verified(c) ? DCV_CHECK_PASS : DCV_CHECK_WARN;
}

static const char *ssh_note(const struct dcv_ssh *c)
{
	return dcv_ssh_hostkey_verified(c) ? "" : "; host key not verified (host-key-policy = off)";
}

/* Record `error` for every wanted id of a host that could not be reached. */
static void unreachable(struct run *r, const char *host, const char *const *ids, int n, const char *why)
{
	for (int i = 0; i < n; i++)
		add(r, ids[i], host, DCV_CHECK_ERROR, 0, NULL, "not run: %s", why);
}

/* ------------------------------------------------------------------ bastion */

static void check_bastion(struct run *r, const struct dcv_host *b)
{
	struct dcv_ssh *c;
	struct dcv_err e = DCV_ERR_INIT;
	long long t0 = dcv_now_ms();

	if (!wanted(r, "bastion.ssh"))
		return;
	if (dcv_ssh_connect(r->pool, b, &c, &e) != DCV_OK)
		add(r, "bastion.ssh", b->name, DCV_CHECK_FAIL, t0, NULL, "%s", e.msg);
	else
		add(r, "bastion.ssh", b->name, ssh_status(c), t0, NULL, "%s@%s:%d, host key %s%s", b->user,
		    b->ssh_host, b->ssh_port, dcv_ssh_hostkey(c), ssh_note(c));
}

/* ------------------------------------------------------------------ gateway */

static void gw_services(struct run *r, const struct dcv_host *gw, const struct dcv_proxy_kind *k,
			const struct dcv_gw_facts *f, long long t0)
{
	struct dcv_buf states = DCV_BUF_INIT, wrong = DCV_BUF_INIT;
	const struct dcv_unit_state *u = dcv_gw_facts_unit(f, k->unit);
	bool active = dcv_unit_is_active(u), enabled = dcv_unit_is_enabled(u);

	/* every unit that must not run for this kind to own the port, named when it does */
	for (int i = 0; k->stop[i]; i++) {
		const struct dcv_unit_state *s = dcv_gw_facts_unit(f, k->stop[i]);
		dcv_buf_addf(&states, "%s%s %s/%s", i ? ", " : "", k->stop[i], s->active, s->enabled);
		if (dcv_unit_is_active(s) || dcv_unit_is_enabled(s))
			dcv_buf_addf(&wrong, "%s%s is %s", wrong.len ? ", " : "", k->stop[i],
				     dcv_unit_is_active(s) ? "running" : "enabled");
	}
	add(r, "gateway.legacy-services", gw->name, wrong.len ? DCV_CHECK_FAIL : DCV_CHECK_PASS, t0, NULL,
	    "%s%s%s%s", states.data, wrong.len ? ": " : "", dcv_buf_str(&wrong),
	    wrong.len ? ", but this bypass needs it stopped and disabled" : "");
	add(r, "gateway.proxy.service", gw->name,
	    !active ? DCV_CHECK_FAIL : enabled ? DCV_CHECK_PASS : DCV_CHECK_WARN, t0, NULL, "%s %s, %s%s",
	    k->unit, u->active, u->enabled, active && !enabled ? " (will not start at boot)" : "");
	dcv_buf_release(&states);
	dcv_buf_release(&wrong);
}

static void gw_config(struct run *r, const struct dcv_host *gw, const struct dcv_proxy_kind *k,
		      const struct dcv_gw_facts *f, long long t0)
{
	struct dcv_buf want = DCV_BUF_INIT, d = DCV_BUF_INIT, out = DCV_BUF_INIT;
	struct dcv_proxy_env env;

	dcv_gw_facts_env(f, &env);
	dcv_buf_adds(&out, dcv_buf_str(&f->validate_out));
	dcv_proxy_redact(&env, &out);
	if (!f->has_binary) {
		add(r, "gateway.proxy.config", gw->name, DCV_CHECK_FAIL, t0, NULL, "%s is not installed: run dcvctl deploy",
		    k->name);
	} else if (f->validate_rc != 0) {
		add(r, "gateway.proxy.config", gw->name, DCV_CHECK_FAIL, t0, dcv_buf_str(&out),
		    "`%s` refuses the configuration", k->validate);
	} else {
		k->render(r->inv, &env, &want);
		if (!f->config_exists)
			add(r, "gateway.proxy.config", gw->name, DCV_CHECK_FAIL, t0, NULL,
			    "`%s` passes but %s is missing: run dcvctl deploy", k->validate, k->config);
		else if (dcv_diff(f->config.data, want.data, "deployed", "rendered", &d)) {
			dcv_proxy_redact(&env, &d);
			add(r, "gateway.proxy.config", gw->name, DCV_CHECK_WARN, t0, d.data,
			    "`%s` passes; %s drifted from the rendered file (dcvctl config diff gateway)", k->validate,
			    k->config);
		} else
			add(r, "gateway.proxy.config", gw->name, DCV_CHECK_PASS, t0, NULL, "`%s` passes; %s is as rendered",
			    k->validate, k->config);
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

static void gw_listen(struct run *r, const struct dcv_host *gw, const struct dcv_proxy_kind *k,
		      const struct dcv_gw_facts *f, long long t0)
{
	const char *proc = f->listener;

	if (!f->ss.len)
		add(r, "gateway.proxy.listen", gw->name, DCV_CHECK_FAIL, t0, NULL, "nothing listens on %d",
		    gw->listen);
	else if (strcmp(proc, k->process) == 0)
		add(r, "gateway.proxy.listen", gw->name, DCV_CHECK_PASS, t0, NULL, "%s listens on %d", k->unit,
		    gw->listen);
	else {
		const char *unit = unit_of_process(proc);
		add(r, "gateway.proxy.listen", gw->name, DCV_CHECK_FAIL, t0, f->ss.data,
		    "port %d is held by %s%s%s%s, not %s", gw->listen, proc[0] ? proc : "another process",
		    unit ? " (unit " : "", unit ? unit : "", unit ? ")" : "", k->unit);
	}
}

static void gw_cert(struct run *r, const struct dcv_host *gw, const struct dcv_gw_facts *f, long long t0)
{
	struct dcv_buf ev = DCV_BUF_INIT;
	struct dcv_cert *cert = NULL;
	struct dcv_err e = DCV_ERR_INIT;
	struct dcv_cert_info ci;

	if (!f->cert_pem.len || !f->key_readable) {
		add(r, "gateway.cert", gw->name, DCV_CHECK_FAIL, t0, NULL, "%s missing or unreadable",
		    !f->cert_pem.len ? gw->cert : gw->key);
		return;
	}
	if (dcv_cert_parse_pem(f->cert_pem.data, f->cert_pem.len, &cert, &e) != DCV_OK) {
		add(r, "gateway.cert", gw->name, DCV_CHECK_FAIL, t0, NULL, "%s: %s", gw->cert, e.msg);
		return;
	}
	dcv_cert_info(cert, &ci);
	long days = dcv_cert_days_left(&ci, time(NULL));
	dcv_buf_addf(&ev, "subject %s\nissuer %s\nSANs", ci.subject, ci.issuer);
	for (int i = 0; i < ci.n_sans; i++)
		dcv_buf_addf(&ev, " %s", ci.sans[i]);
	dcv_buf_addf(&ev, "\ndays left %ld", days);
	if (f->key_match == 0)
		add(r, "gateway.cert", gw->name, DCV_CHECK_FAIL, t0, ev.data, "%s does not belong to %s", gw->key, gw->cert);
	else if (days < 0)
		add(r, "gateway.cert", gw->name, DCV_CHECK_FAIL, t0, ev.data, "%s expired %ld days ago", gw->cert, -days);
	else if (days < r->inv->cert_warn_days)
		add(r, "gateway.cert", gw->name, DCV_CHECK_WARN, t0, ev.data, "%s expires in %ld days (warn under %d)",
		    gw->cert, days, r->inv->cert_warn_days);
	else
		add(r, "gateway.cert", gw->name, DCV_CHECK_PASS, t0, NULL, "cert and key present%s, %ld days left",
		    f->key_match == 1 ? " and matching" : "", days);
	dcv_cert_info_release(&ci);
	dcv_cert_free(cert);
	dcv_buf_release(&ev);
}

static const struct dcv_host *agent_named(const struct run *r, const char *name)
{
	for (int i = 0; i < r->n_agents; i++)
		if (strcmp(r->agents[i]->name, name) == 0)
			return r->agents[i];
	return NULL;
}

/* The proxy's own view of its servers: a DOWN one is named with the proxy's check result. */
static void gw_backends(struct run *r, const struct dcv_host *gw, const struct dcv_proxy_kind *k,
			const struct dcv_gw_facts *f, long long t0)
{
	struct dcv_backend_state *b = NULL;
	struct dcv_buf down = DCV_BUF_INIT, ev = DCV_BUF_INIT;
	int n = 0, n_down = 0;

	if (!k->backends)
		return;
	if (!f->status_ok || !k->backends(f->status.data, &b, &n)) {
		add(r, "gateway.proxy.backends", gw->name, DCV_CHECK_FAIL, t0, NULL,
		    "%s does not answer `%s`: is %s running?", k->name, k->status, k->unit);
		return;
	}
	for (int i = 0; i < n; i++) {
		const struct dcv_host *a = agent_named(r, b[i].name);
		dcv_buf_addf(&ev, "%s %s %s\n", b[i].name, b[i].status, b[i].detail);
		if (b[i].up)
			continue;
		pthread_mutex_lock(&r->lock);
		r->down = xrealloc(r->down, sizeof(*r->down) * (size_t)(r->n_down + 1));
		r->down[r->n_down++] = b[i];
		pthread_mutex_unlock(&r->lock);
		n_down++;
		dcv_buf_addf(&down, "%s%s%s%s (%s: %s)", down.len ? ", " : "", b[i].name, a ? " " : "",
			     a && a->backup ? "[backup]" : "", b[i].status, b[i].detail);
	}
	if (n_down)
		add(r, "gateway.proxy.backends", gw->name, DCV_CHECK_FAIL, t0, ev.data, "%d of %d servers down: %s",
		    n_down, n, down.data);
	else
		add(r, "gateway.proxy.backends", gw->name, n ? DCV_CHECK_PASS : DCV_CHECK_FAIL, t0, ev.data,
		    n ? "%d of %d servers up" : "%d servers in the backend", n, n);
	free(b);
	dcv_buf_release(&down);
	dcv_buf_release(&ev);
}

/* From the gateway to one agent: TCP (the direct-tcpip channel opens only once the gateway's
 * sshd has connected), TLS and HTTP over fresh tunnels. */
static void gw_to_agent(void *user, int i)
{
	struct run *r = user;
	const struct dcv_host *a = r->agents[i];
	struct dcv_probe_opts po = DCV_PROBE_OPTS_INIT;
	struct dcv_err e = DCV_ERR_INIT;
	char id_tcp[96], id_tls[96], id_http[96], url[512];
	long long t0 = dcv_now_ms();
	int fd = -1;

	snprintf(id_tcp, sizeof(id_tcp), "gateway.to.%s.tcp", a->name);
	snprintf(id_tls, sizeof(id_tls), "gateway.to.%s.tls", a->name);
	snprintf(id_http, sizeof(id_http), "gateway.to.%s.http", a->name);
	if (!wanted(r, id_tcp) && !wanted(r, id_tls) && !wanted(r, id_http))
		return;
	snprintf(url, sizeof(url), strchr(a->address, ':') ? "https://[%s]:%d%s" : "https://%s:%d%s", a->address,
		 a->port, a->web_url_path);
	po.timeout_ms = r->o->probe_timeout_ms;
	if (dcv_ssh_tunnel(r->gw_conn, a->address, a->port, &fd, &e) != DCV_OK) {
		add(r, id_tcp, r->gw->name, DCV_CHECK_FAIL, t0, NULL, "%s:%d from the gateway: %s", a->address,
		    a->port, e.msg);
		add(r, id_tls, r->gw->name, DCV_CHECK_ERROR, 0, NULL, "not run: no TCP connection");
		add(r, id_http, r->gw->name, DCV_CHECK_ERROR, 0, NULL, "not run: no TCP connection");
		return;
	}
	add(r, id_tcp, r->gw->name, DCV_CHECK_PASS, t0, NULL, "%s:%d accepts connections from the gateway",
	    a->address, a->port);
	struct dcv_tls_result tr;
	t0 = dcv_now_ms();
	po.via_fd = fd;
	if (dcv_probe_tls(url, &po, &tr, &e) != DCV_OK) {
		add(r, id_tls, r->gw->name, DCV_CHECK_FAIL, t0, NULL, "TLS to %s:%d: %s", a->address, a->port, e.msg);
	} else {
		struct dcv_cert_info ci;
		dcv_cert_info(tr.cert, &ci);
		add(r, id_tls, r->gw->name, DCV_CHECK_PASS, t0, NULL, "%s %s, certificate %s", tr.protocol,
		    tr.cipher, ci.subject);
		dcv_cert_info_release(&ci);
		dcv_tls_result_release(&tr);
	}
	close(fd);
	t0 = dcv_now_ms();
	if (dcv_ssh_tunnel(r->gw_conn, a->address, a->port, &fd, &e) != DCV_OK) {
		add(r, id_http, r->gw->name, DCV_CHECK_FAIL, t0, NULL, "%s", e.msg);
		return;
	}
	struct dcv_http_result hr;
	po.via_fd = fd;
	if (dcv_probe_http(url, &po, &hr, &e) != DCV_OK)
		add(r, id_http, r->gw->name, DCV_CHECK_FAIL, t0, NULL, "GET %s: %s", url, e.msg);
	else
		add(r, id_http, r->gw->name, hr.status == 200 ? DCV_CHECK_PASS : DCV_CHECK_FAIL, t0, NULL,
		    "GET %s from the gateway: %ld%s", a->web_url_path, hr.status,
		    hr.status == 200 ? "" : " (expected 200: is web-url-path right?)");
	close(fd);
}

static void gw_facts(struct run *r)
{
	const char *ids[] = { "gateway.legacy-services", "gateway.proxy.service", "gateway.proxy.config",
			      "gateway.proxy.listen", "gateway.cert", "gateway.proxy.backends" };
	const struct dcv_host *gw = r->gw;
	const struct dcv_proxy_kind *k = dcv_proxy_kind(gw->proxy);
	struct dcv_err e = DCV_ERR_INIT;
	struct dcv_gw_facts f;
	long long t0 = dcv_now_ms();

	if (!k) {
		for (int i = 0; i < 5; i++)
			add(r, ids[i], gw->name, DCV_CHECK_SKIP, 0, NULL, "proxy = %s is not checked by this dcvctl yet",
			    dcv_proxy_name(gw->proxy));
		return;
	}
	if (dcv_gw_facts_read(r->gw_conn, gw, k, true, &f, &e) != DCV_OK) {
		unreachable(r, gw->name, ids, k->backends ? 6 : 5, e.msg);
		return;
	}
	gw_services(r, gw, k, &f, t0);
	gw_config(r, gw, k, &f, t0);
	gw_listen(r, gw, k, &f, t0);
	gw_cert(r, gw, &f, t0);
	gw_backends(r, gw, k, &f, t0);
	dcv_gw_facts_release(&f);
}

/* Job 0: the gateway's own state; job i: the probes through it to agent i-1. */
static void gw_job(void *user, int i)
{
	struct run *r = user;

	if (i == 0) {
		if (r->gw_facts)
			gw_facts(r);
	} else {
		gw_to_agent(r, i - 1);
	}
}

static void check_gateway(struct run *r, const struct dcv_host *gw)
{
	const char *ids[] = { "gateway.ssh", "gateway.legacy-services", "gateway.proxy.service",
			      "gateway.proxy.config", "gateway.proxy.listen", "gateway.cert", "gateway.proxy.backends" };
	const struct dcv_proxy_kind *k = dcv_proxy_kind(gw->proxy);
	int n_ids = k && k->backends ? 7 : 6;
	struct dcv_err e = DCV_ERR_INIT;
	struct dcv_ssh *c;
	long long t0 = dcv_now_ms();
	bool to_agents = false;

	for (int i = 0; i < r->n_agents && !to_agents; i++) {
		char p[96];
		const char *suffixes[] = { "tcp", "tls", "http" };
		for (int x = 0; x < 3 && !to_agents; x++) {
			snprintf(p, sizeof(p), "gateway.to.%s.%s", r->agents[i]->name, suffixes[x]);
			to_agents = wanted(r, p);
		}
	}
	if (!wanted_prefix(r, ids, n_ids) && !to_agents)
		return;
	if (dcv_ssh_connect(r->pool, gw, &c, &e) != DCV_OK) {
		add(r, "gateway.ssh", gw->name, DCV_CHECK_FAIL, t0, NULL, "%s", e.msg);
		unreachable(r, gw->name, ids + 1, n_ids - 1, "no SSH connection to the gateway");
		for (int i = 0; i < r->n_agents; i++) {
			const char *sfx[] = { "tcp", "tls", "http" };
			for (int x = 0; x < 3; x++) {
				char id[96];
				snprintf(id, sizeof(id), "gateway.to.%s.%s", r->agents[i]->name, sfx[x]);
				add(r, id, gw->name, DCV_CHECK_ERROR, 0, NULL, "not run: no SSH connection to the gateway");
			}
		}
		return;
	}
	add(r, "gateway.ssh", gw->name, ssh_status(c), t0, NULL, "%s@%s:%d, host key %s%s", gw->user,
	    gw->ssh_host, gw->ssh_port, dcv_ssh_hostkey(c), ssh_note(c));
	r->gw_conn = c;
	r->gw = gw;
	r->gw_facts = wanted_prefix(r, ids + 1, n_ids - 1);
	/* the gateway's own state and the probes through it to each agent share its connection
	 * at the same time */
	if (to_agents && dcv_ssh_share(c, &e) != DCV_OK) {
		unreachable(r, gw->name, ids + 1, n_ids - 1, e.msg);
		return;
	}
	dcv_parallel(1 + (to_agents ? r->n_agents : 0), to_agents ? 9 : 1, gw_job, r);
}

/* ------------------------------------------------------------------ agents */

static void agent_config(struct run *r, const struct dcv_host *a, const char *id,
			 const struct dcv_agent_facts *af, long long t0)
{
	struct dcv_buf want = DCV_BUF_INIT, d = DCV_BUF_INIT, ev = DCV_BUF_INIT;
	struct dcv_findings f = { 0 };
	const struct dcv_buf *conf = &af->conf;
	char name[128];
	bool bypass = dcv_proxy_bypass(r->inv);
	if (!af->conf_exists) {
		add(r, id, a->name, DCV_CHECK_FAIL, t0, NULL, "%s is missing", DCV_DCV_CONF);
		return;
	}
	snprintf(name, sizeof(name), "%s:%s", a->name, DCV_DCV_CONF);
	dcv_lint_dcvconf(conf->data, name, bypass, &f);
	dcv_render_dcvconf(conf->data, a, bypass, &want);
	bool drift = dcv_diff(conf->data, want.data, "deployed", "inventory", &d);
	for (int i = 0; i < f.n; i++)
		dcv_buf_addf(&ev, "%s:%d: %s: %s\n", f.v[i].file, f.v[i].line,
			     f.v[i].sev == DCV_SEV_ERROR ? "error" : "warning", f.v[i].msg);
	if (drift)
		dcv_buf_add(&ev, d.data, d.len);
	int errors = dcv_findings_errors(&f), warnings = dcv_findings_warnings(&f);
	if (errors || drift)
		add(r, id, a->name, DCV_CHECK_FAIL, t0, ev.data, "%s%s%s", errors ? "lint errors" : "",
		    errors && drift ? "; " : "",
		    drift ? "managed keys differ from the inventory (dcvctl config diff)" : "");
	else if (warnings)
		add(r, id, a->name, DCV_CHECK_WARN, t0, ev.data, "%d lint warning%s", warnings, warnings == 1 ? "" : "s");
	else
		add(r, id, a->name, DCV_CHECK_PASS, t0, NULL, "dcv.conf lints clean and matches the inventory");
	dcv_findings_free(&f);
	dcv_buf_release(&want);
	dcv_buf_release(&d);
	dcv_buf_release(&ev);
}

static void agent_session(struct run *r, const struct dcv_host *a, const char *id,
			  const struct dcv_agent_facts *af, long long t0)
{
	const char *out = dcv_buf_str(&af->sessions_out);
	const struct dcv_session *s;

	if (!af->sessions_ok) {
		add(r, id, a->name, DCV_CHECK_FAIL, t0, out, "%s", af->sessions_err);
	} else if (!(s = dcv_sessions_find(&af->sessions, a->session))) {
		add(r, id, a->name, DCV_CHECK_FAIL, t0, out, "no session '%s' (%d other%s)", a->session,
		    af->sessions.n, af->sessions.n == 1 ? "" : "s");
	} else if (!dcv_agent_session_matches(a, s)) {
		add(r, id, a->name, DCV_CHECK_FAIL, t0, out, "session '%s' has owner %s, type %s; the inventory says %s, %s",
		    a->session, s->owner ? s->owner : "?", s->type ? s->type : "?", a->session_owner, a->session_type);
	} else {
		add(r, id, a->name, DCV_CHECK_PASS, t0, NULL, "session '%s' (owner %s, %s)", a->session,
		    a->session_owner, a->session_type);
	}
}

static void check_agent(struct run *r, const struct dcv_host *a)
{
	char ids[5][96];
	const char *idp[5];
	const char *sfx[] = { "ssh", "sm-agent", "dcvserver", "config", "session" };
	struct dcv_err e = DCV_ERR_INIT;
	struct dcv_ssh *c;
	struct dcv_agent_facts af;
	long long t0 = dcv_now_ms();

	for (int i = 0; i < 5; i++) {
		snprintf(ids[i], sizeof(ids[i]), "agent.%s.%s", a->name, sfx[i]);
		idp[i] = ids[i];
	}
	if (!wanted_prefix(r, idp, 5))
		return;
	if (dcv_ssh_connect(r->pool, a, &c, &e) != DCV_OK) {
		add(r, ids[0], a->name, DCV_CHECK_FAIL, t0, NULL, "%s", e.msg);
		unreachable(r, a->name, idp + 1, 4, "no SSH connection to the agent");
		return;
	}
	add(r, ids[0], a->name, ssh_status(c), t0, NULL, "%s@%s:%d%s%s, host key %s%s", a->user, a->ssh_host,
	    a->ssh_port, a->jump ? " via " : "", a->jump ? a->jump->name : "", dcv_ssh_hostkey(c), ssh_note(c));
	t0 = dcv_now_ms();
	if (dcv_agent_facts_read(c, a, &af, &e) != DCV_OK) {
		unreachable(r, a->name, idp + 1, 4, e.msg);
		return;
	}
	if (dcv_proxy_bypass(r->inv)) {
		bool ok = !dcv_unit_is_active(&af.sm_agent) && !dcv_unit_is_enabled(&af.sm_agent);
		add(r, ids[1], a->name, ok ? DCV_CHECK_PASS : DCV_CHECK_FAIL, t0, NULL, "%s %s/%s%s", SM_AGENT,
		    af.sm_agent.active, af.sm_agent.enabled, ok ? "" : ": the bypass needs it stopped and disabled");
	}
	bool up = dcv_unit_is_active(&af.dcvserver);
	add(r, ids[2], a->name, up ? DCV_CHECK_PASS : DCV_CHECK_FAIL, t0, up ? NULL : dcv_buf_str(&af.log),
	    "dcvserver %s, %s", af.dcvserver.active, af.dcvserver.enabled);
	agent_config(r, a, ids[3], &af, t0);
	agent_session(r, a, ids[4], &af, t0);
	dcv_agent_facts_release(&af);
}

/* ------------------------------------------------------------------ endpoint */

static bool http_expected(const struct dcv_inventory *inv, long status)
{
	for (int i = 0; i < inv->n_http_expect; i++)
		if (inv->http_expect[i] == status)
			return true;
	return false;
}

static void endpoint_tls(struct run *r, const struct dcv_probe_opts *po)
{
	struct dcv_tls_result tr;
	struct dcv_err e = DCV_ERR_INIT, ve = DCV_ERR_INIT;
	struct dcv_buf ev = DCV_BUF_INIT, missing = DCV_BUF_INIT;
	long long t0 = dcv_now_ms();

	if (dcv_probe_tls(r->inv->url, po, &tr, &e) != DCV_OK) {
		add(r, "endpoint.tls", "endpoint", DCV_CHECK_FAIL, t0, NULL, "TLS handshake: %s", e.msg);
		return;
	}
	struct dcv_cert_info ci;
	dcv_cert_info(tr.cert, &ci);
	long days = dcv_cert_days_left(&ci, time(NULL));
	dcv_buf_addf(&ev, "%s %s ALPN %s\nsubject %s\nissuer %s\nSANs", tr.protocol, tr.cipher,
		     tr.alpn[0] ? tr.alpn : "none", ci.subject, ci.issuer);
	for (int i = 0; i < ci.n_sans; i++)
		dcv_buf_addf(&ev, " %s", ci.sans[i]);
	dcv_buf_addf(&ev, "%s\ndays left %ld\n", ci.n_sans ? "" : " (none)", days);
	if (!dcv_cert_covers(tr.cert, r->ep_host))
		dcv_buf_addf(&missing, "%s", r->ep_host);
	for (int i = 0; i < r->inv->n_names; i++)
		if (!dcv_cert_covers(tr.cert, r->inv->names[i]))
			dcv_buf_addf(&missing, "%s%s", missing.len ? ", " : "", r->inv->names[i]);
	bool verified = dcv_cert_verify(tr.cert, r->inv->ca_file, &ve) == DCV_OK;
	struct dcv_buf sans = DCV_BUF_INIT;
	for (int i = 0; i < ci.n_sans; i++)
		dcv_buf_addf(&sans, "%s%s", i ? ", " : "", ci.sans[i]);
	if (missing.len)
		add(r, "endpoint.tls", "endpoint", DCV_CHECK_FAIL, t0, ev.data,
		    "certificate does not cover %s; its SANs: %s", missing.data, sans.len ? sans.data : "none");
	else if (days < 0)
		add(r, "endpoint.tls", "endpoint", DCV_CHECK_FAIL, t0, ev.data, "certificate expired %ld days ago", -days);
	else if (dcv_cert_not_yet_valid(&ci, time(NULL)))
		add(r, "endpoint.tls", "endpoint", DCV_CHECK_FAIL, t0, ev.data, "certificate not valid yet: it starts in %ld days",
		    (long)(difftime(ci.not_before, time(NULL)) / 86400));
	else if (!verified && r->inv->ca_file)
		add(r, "endpoint.tls", "endpoint", DCV_CHECK_FAIL, t0, ev.data, "chain not verified against %s: %s",
		    r->inv->ca_file, ve.msg);
	else if (!verified)
		add(r, "endpoint.tls", "endpoint", DCV_CHECK_WARN, t0, ev.data,
		    "%s, name covered, chain NOT verified (%s; set [endpoint] ca-file)", tr.protocol, ve.msg);
	else if (days < r->inv->cert_warn_days)
		add(r, "endpoint.tls", "endpoint", DCV_CHECK_WARN, t0, ev.data, "certificate expires in %ld days", days);
	else
		add(r, "endpoint.tls", "endpoint", DCV_CHECK_PASS, t0, NULL, "%s, %s covered, chain verified, %ld days left",
		    tr.protocol, r->ep_host, days);
	dcv_cert_info_release(&ci);
	dcv_tls_result_release(&tr);
	dcv_buf_release(&ev);
	dcv_buf_release(&missing);
	dcv_buf_release(&sans);
}

static void check_endpoint(struct run *r)
{
	const struct dcv_inventory *inv = r->inv;
	struct dcv_probe_opts po = DCV_PROBE_OPTS_INIT;
	struct dcv_err e = DCV_ERR_INIT;
	const char *ids[] = { "endpoint.tcp", "endpoint.tls", "endpoint.http", "endpoint.websocket", "endpoint.hold" };
	long long t0 = dcv_now_ms();
	char remote[96];
	double ms = 0;

	if (!wanted_prefix(r, ids, 5))
		return;
	po.connect_to = inv->connect_to;
	po.proxy = inv->proxy;
	po.ca_file = inv->ca_file;
	po.timeout_ms = r->o->probe_timeout_ms;
	if (wanted(r, "endpoint.tcp")) {
		char *h = NULL;
		int port = r->ep_port;
		if (inv->proxy) {
			/* the row reaches reports and CI logs: never the proxy's password */
			char *shown = dcv_url_redact(inv->proxy);
			add(r, "endpoint.tcp", "endpoint", DCV_CHECK_SKIP, 0, NULL, "through the proxy %s", shown);
			free(shown);
		} else if (!dcv_parse_hostport(inv->connect_to ? inv->connect_to : r->ep_host, r->ep_port, &h, &port) ||
			 dcv_probe_tcp(h, port, po.timeout_ms, &ms, remote, sizeof(remote), &e) != DCV_OK)
			add(r, "endpoint.tcp", "endpoint", DCV_CHECK_FAIL, t0, NULL, "%s", e.msg[0] ? e.msg : "bad connect-to");
		else
			add(r, "endpoint.tcp", "endpoint", DCV_CHECK_PASS, t0, NULL, "%s connected in %.1f ms", remote, ms);
		free(h);
	}
	if (wanted(r, "endpoint.tls"))
		endpoint_tls(r, &po);
	if (wanted(r, "endpoint.http")) {
		struct dcv_http_result hr;
		t0 = dcv_now_ms();
		if (dcv_probe_http(inv->url, &po, &hr, &e) != DCV_OK)
			add(r, "endpoint.http", "endpoint", DCV_CHECK_FAIL, t0, NULL, "GET %s: %s", inv->url, e.msg);
		else
			add(r, "endpoint.http", "endpoint", http_expected(inv, hr.status) ? DCV_CHECK_PASS : DCV_CHECK_FAIL,
			    t0, NULL, "HTTP/%s %ld%s%s (first byte %.1f ms)", hr.http_version, hr.status,
			    hr.redirect[0] ? " -> " : "", hr.redirect, hr.first_byte_ms);
	}
	if (wanted(r, "endpoint.websocket")) {
		struct dcv_ws_result wr;
		t0 = dcv_now_ms();
		if (dcv_probe_ws(inv->url, &po, 0, 0, &wr, &e) != DCV_OK)
			add(r, "endpoint.websocket", "endpoint", DCV_CHECK_FAIL, t0, NULL, "%s", e.msg);
		else if (wr.status == 101 && wr.accept_ok && !wr.failure[0])
			add(r, "endpoint.websocket", "endpoint", DCV_CHECK_PASS, t0, NULL,
			    "101 Switching Protocols, Sec-WebSocket-Accept correct");
		else if (wr.status == 101 && wr.accept_ok)
			add(r, "endpoint.websocket", "endpoint", DCV_CHECK_FAIL, t0, NULL, "101 Switching Protocols, then %s",
			    wr.failure);
		else if (wr.status == 101)
			add(r, "endpoint.websocket", "endpoint", DCV_CHECK_FAIL, t0, dcv_buf_str(&wr.headers),
			    "101 Switching Protocols but %s", wr.rejected);
		else
			add(r, "endpoint.websocket", "endpoint", DCV_CHECK_FAIL, t0, dcv_buf_str(&wr.headers), "%s",
			    wr.status == 400 ? "400: a proxy dropped the Upgrade headers?"
			    : wr.status == 403 ? "403: DCV refused the Origin (allowed-ws-origin-regex)?"
					       : "no upgrade");
		dcv_ws_result_release(&wr);
	}
	if (r->o->hold_ms > 0 && wanted(r, "endpoint.hold")) {
		struct dcv_ws_result wr;
		t0 = dcv_now_ms();
		po.timeout_ms = r->o->hold_ms + 15000;
		if (dcv_probe_ws(inv->url, &po, r->o->hold_ms, r->o->hold_interval_ms, &wr, &e) != DCV_OK)
			add(r, "endpoint.hold", "endpoint", DCV_CHECK_FAIL, t0, NULL, "%s", e.msg);
		else if (wr.status != 101 || !wr.accept_ok)
			add(r, "endpoint.hold", "endpoint", DCV_CHECK_FAIL, t0, dcv_buf_str(&wr.headers), "no upgrade (%ld)%s%s",
			    wr.status, wr.rejected[0] ? ": " : "", wr.rejected);
		else
			add(r, "endpoint.hold", "endpoint", wr.failure[0] ? DCV_CHECK_FAIL : DCV_CHECK_PASS, t0, NULL,
			    "%s%sheld %.1f s: %d pongs to %d pings, %d server pings, rtt p50 %.1f ms p95 %.1f ms max %.1f ms",
			    wr.failure, wr.failure[0] ? "; " : "", wr.held_ms / 1000.0, wr.pongs, wr.pings_sent,
			    wr.server_pings, wr.rtt_p50, wr.rtt_p95, wr.rtt_max);
		dcv_ws_result_release(&wr);
	}
}

/* ------------------------------------------------------------------ diagnosis */

static const struct dcv_check *find(const struct dcv_report *rep, const char *id)
{
	for (int i = 0; i < rep->n; i++)
		if (strcmp(rep->checks[i].id, id) == 0)
			return &rep->checks[i];
	return NULL;
}

static bool bad(const struct dcv_report *rep, const char *fmt, const char *name)
{
	char id[128];
	const struct dcv_check *c;

	snprintf(id, sizeof(id), fmt, name);
	c = find(rep, id);
	return c && (c->status == DCV_CHECK_FAIL || c->status == DCV_CHECK_ERROR);
}

static void diagnose(struct run *r)
{
	struct dcv_report *rep = r->rep;
	struct dcv_diagnosis *d = &rep->diagnosis;
	const struct dcv_host *gw = dcv_inventory_gateway(r->inv), *bastion = dcv_inventory_host(r->inv, "bastion");
	struct dcv_buf hidden = DCV_BUF_INIT;

#define SET(HOP_, HINT_, ...) do { d->hop = xstrdup(HOP_); d->cause = xasprintf(__VA_ARGS__); d->hint = xstrdup(HINT_); goto out; } while (0)
	if (bastion && bad(rep, "%s.ssh", "bastion")) {
		for (int i = 0; i < r->inv->n_hosts; i++) {
			const struct dcv_host *h = r->inv->hosts[i];
			if (h != bastion && (h->jump == bastion || (h->ssh_host && strcmp(h->ssh_host, bastion->ssh_host) == 0)))
				dcv_buf_addf(&hidden, "%s%s", hidden.len ? ", " : "", h->name);
		}
		SET("bastion", "dcvctl hosts --probe",
		    "the bastion %s does not answer SSH (%s); it hides %s", bastion->ssh_host, find(rep, "bastion.ssh")->message,
		    hidden.len ? hidden.data : "no other host");
	}
	if (gw && bad(rep, "%s.ssh", "gateway"))
		SET("gateway", "dcvctl hosts --probe", "no SSH to the gateway: %s", find(rep, "gateway.ssh")->message);
	const struct dcv_proxy_kind *k = gw ? dcv_proxy_kind(gw->proxy) : NULL;
	const char *unit = k ? k->unit : gw ? dcv_proxy_name(gw->proxy) : "";
	if (gw && bad(rep, "%s.proxy.service", "gateway")) {
		char *hint = xasprintf("dcvctl service start gateway %s", unit);
		d->hop = xstrdup("gateway");
		d->cause = xasprintf("%s is not running on the gateway", unit);
		d->hint = hint;
		goto out;
	}
	if (gw && bad(rep, "%s.proxy.config", "gateway"))
		SET("gateway", "dcvctl deploy --only gateway", "the proxy configuration is invalid or missing: %s",
		    find(rep, "gateway.proxy.config")->message);
	if (gw && bad(rep, "%s.proxy.listen", "gateway"))
		SET("gateway", "dcvctl deploy --only gateway", "%s", find(rep, "gateway.proxy.listen")->message);
	if (gw && bad(rep, "%s.cert", "gateway"))
		SET("gateway", "dcvctl cert generate --out ./gateway-cert --install", "%s", find(rep, "gateway.cert")->message);
	for (int i = 0; i < r->n_agents; i++) {
		const char *n = r->agents[i]->name;
		char hint[256];
		if (bad(rep, "agent.%s.ssh", n)) {
			snprintf(hint, sizeof(hint), "dcvctl hosts --probe");
			char id[96];
			snprintf(id, sizeof(id), "agent.%s.ssh", n);
			SET(n, hint, "no SSH to %s: %s", n, find(rep, id)->message);
		}
		if (bad(rep, "agent.%s.dcvserver", n)) {
			snprintf(hint, sizeof(hint), "dcvctl service start %s dcvserver", n);
			SET(n, hint, "dcvserver is not running on %s", n);
		}
		if (bad(rep, "gateway.to.%s.tcp", n) || bad(rep, "gateway.to.%s.tls", n) || bad(rep, "gateway.to.%s.http", n)) {
			snprintf(hint, sizeof(hint), "dcvctl config diff %s", n);
			SET(n, hint, "the gateway cannot reach dcvserver on %s:%d (dcvserver runs: port, web-url-path or network between them)",
			    r->agents[i]->address, r->agents[i]->port);
		}
		if (bad(rep, "agent.%s.config", n)) {
			snprintf(hint, sizeof(hint), "dcvctl deploy --only %s", n);
			SET(n, hint, "dcv.conf on %s is wrong for this topology", n);
		}
		if (bad(rep, "agent.%s.session", n)) {
			snprintf(hint, sizeof(hint), "dcvctl session create --agent %s", n);
			SET(n, hint, "no usable DCV session on %s", n);
		}
		if (bad(rep, "agent.%s.sm-agent", n)) {
			snprintf(hint, sizeof(hint), "dcvctl deploy --only %s", n);
			SET(n, hint, "the Session Manager agent still runs on %s", n);
		}
		for (int b = 0; b < r->n_down; b++)
			if (strcmp(r->down[b].name, n) == 0) {
				snprintf(hint, sizeof(hint), "dcvctl probe http https://%s:%d%s --via gateway",
					 r->agents[i]->address, r->agents[i]->port, r->agents[i]->web_url_path);
				SET(n, hint, "%s marks %s %s (%s) although dcvserver runs there", unit, n,
				    r->down[b].status, r->down[b].detail);
			}
	}
	if (bad(rep, "endpoint.%s", "tcp"))
		SET("endpoint", "aws elbv2 describe-target-health --target-group-arn <TARGET_GROUP_ARN>",
		    "the gateway serves but the endpoint does not connect: check the VPC endpoint, the NLB's target health and security groups for 8443 (%s)",
		    find(rep, "endpoint.tcp")->message);
	if (bad(rep, "endpoint.%s", "tls")) {
		const struct dcv_check *c = find(rep, "endpoint.tls");
		if (strstr(c->message, "does not cover") || strstr(c->message, "expired"))
			SET("endpoint", "dcvctl cert generate --out ./gateway-cert --install", "%s", c->message);
		SET("endpoint", "dcvctl cert check", "%s", c->message);
	}
	if (bad(rep, "endpoint.%s", "http") || bad(rep, "endpoint.%s", "websocket") || bad(rep, "endpoint.%s", "hold"))
		SET("endpoint", "dcvctl config lint gateway", "the endpoint answers but %s",
		    bad(rep, "endpoint.%s", "http") ? find(rep, "endpoint.http")->message
		    : bad(rep, "endpoint.%s", "websocket") ? find(rep, "endpoint.websocket")->message
							    : find(rep, "endpoint.hold")->message);
	for (int i = 0; i < rep->n; i++)
		if (rep->checks[i].status == DCV_CHECK_FAIL || rep->checks[i].status == DCV_CHECK_ERROR)
			SET(rep->checks[i].host, "dcvctl check -v", "%s: %s", rep->checks[i].id, rep->checks[i].message);
#undef SET
out:
	dcv_buf_release(&hidden);
}

/* ------------------------------------------------------------------ run */

/* Reports read along the path: bastion, gateway, agents in inventory order, endpoint. */
static int hop_rank(const struct run *r, const char *host)
{
	const struct dcv_inventory *inv = r->inv;

	if (strcmp(host, "endpoint") == 0)
		return 3 * inv->n_hosts;
	for (int i = 0; i < inv->n_hosts; i++)
		if (strcmp(inv->hosts[i]->name, host) == 0)
			return inv->hosts[i]->role == DCV_ROLE_BASTION ? i
			       : inv->hosts[i]->role == DCV_ROLE_GATEWAY ? inv->n_hosts + i : 2 * inv->n_hosts + i;
	return 3 * inv->n_hosts - 1;
}

static void order_by_hop(struct run *r)
{
	struct dcv_report *rep = r->rep;

	/* insertion sort: stable, and reports are small */
	for (int i = 1; i < rep->n; i++) {
		struct dcv_check c = rep->checks[i];
		int rank = hop_rank(r, c.host), j = i - 1;
		while (j >= 0 && hop_rank(r, rep->checks[j].host) > rank) {
			rep->checks[j + 1] = rep->checks[j];
			j--;
		}
		rep->checks[j + 1] = c;
	}
}

enum task_kind { T_BASTION, T_GATEWAY, T_AGENT, T_ENDPOINT };

struct task {
	enum task_kind kind;
	const struct dcv_host *h;
};

struct tasks {
	struct run *r;
	struct task *v;
};

static void task_main(void *user, int i)
{
	struct tasks *t = user;
	struct task *k = &t->v[i];

	switch (k->kind) {
	case T_BASTION: check_bastion(t->r, k->h); break;
	case T_GATEWAY: check_gateway(t->r, k->h); break;
	case T_AGENT: check_agent(t->r, k->h); break;
	case T_ENDPOINT: check_endpoint(t->r); break;
	}
}

int dcv_check_run(const struct dcv_inventory *inv, struct dcv_ssh_pool *pool,
		  const struct dcv_check_opts *o, struct dcv_report *rep, struct dcv_err *err)
{
	struct run r = { 0 };
	struct tasks t = { &r, NULL };
	int n = 0;
	long long t0 = dcv_now_ms();

	r.inv = inv;
	r.pool = pool;
	r.o = o;
	r.rep = rep;
	pthread_mutex_init(&r.lock, NULL);
	if (inv->url && !dcv_url_split(inv->url, r.ep_host, sizeof(r.ep_host), &r.ep_port, r.ep_path, sizeof(r.ep_path)))
		return dcv_err_set(err, DCV_E_CONFIG, "%s: [endpoint] url is not an https URL", inv->path);
	r.agents = xcalloc((size_t)inv->n_hosts, sizeof(*r.agents));
	t.v = xcalloc((size_t)inv->n_hosts + 1, sizeof(*t.v));
	for (int i = 0; i < inv->n_hosts; i++) {
		const struct dcv_host *h = inv->hosts[i];
		if (h->role == DCV_ROLE_AGENT)
			r.agents[r.n_agents++] = h;
		if (h->role == DCV_ROLE_BASTION)
			t.v[n++] = (struct task){ T_BASTION, h };
		else if (h->role == DCV_ROLE_GATEWAY)
			t.v[n++] = (struct task){ T_GATEWAY, h };
		else if (h->role == DCV_ROLE_AGENT)
			t.v[n++] = (struct task){ T_AGENT, h };
	}
	if (inv->url)
		t.v[n++] = (struct task){ T_ENDPOINT, NULL };
	dcv_parallel(n, n, task_main, &t);
	order_by_hop(&r);
	diagnose(&r);
	rep->duration_ms = (long)(dcv_now_ms() - t0);
	free(r.agents);
	free(r.down);
	free(t.v);
	pthread_mutex_destroy(&r.lock);
	return DCV_OK;
}
