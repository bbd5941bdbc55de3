/* The checklist judged on canned facts and probe results: the diagnosis table (one fault per
 * hop), every registry ID produced by some run, the agent facts parser, and the man page
 * against the registry. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../lib/buf.h"
#include "../../lib/check.h"
#include "../../lib/checks.h"
#include "../../lib/err.h"
#include "../../lib/facts.h"
#include "../../lib/inventory.h"
#include "../../lib/properties.h"
#include "../../lib/proxy.h"
#include "../../lib/render.h"
#include "../../lib/report.h"
#include "../../lib/tls.h"

#include "fixture.h"

static const char inventory[] =
	"[endpoint]\n"
	"url = https://dcv.example.com:8443/\n"
	"[ssh]\n"
	"identity = /nonexistent/id_rsa\n"
	"[bastion]\n"
	"address = 198.18.0.10\n"
	"user = ec2-user\n"
	"[gateway]\n"
	"address = 198.18.1.11\n"
	"user = ec2-user\n"
	"jump = bastion\n"
	"listen = 8443\n"
	"proxy = %s\n"
	"[agent dcv1]\n"
	"address = 198.18.1.21\n"
	"user = ubuntu\n"
	"jump = bastion\n"
	"[agent dcv2]\n"
	"address = 198.18.1.22\n"
	"user = ubuntu\n"
	"jump = bastion\n";

/* One scenario: the inventory, what was gathered, the options. */
struct world {
	struct dcv_inventory *inv;
	struct dcv_check_input in;
	struct dcv_check_opts o;
	struct dcv_report rep;
};

static void b64(const char *s, struct dcv_buf *out)
{
	static const char t[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t n = strlen(s);

	for (size_t i = 0; i < n; i += 3) {
		unsigned v = (unsigned char)s[i] << 16;
		if (i + 1 < n)
			v |= (unsigned char)s[i + 1] << 8;
		if (i + 2 < n)
			v |= (unsigned char)s[i + 2];
		dcv_buf_addc(out, t[(v >> 18) & 63]);
		dcv_buf_addc(out, t[(v >> 12) & 63]);
		dcv_buf_addc(out, i + 1 < n ? t[(v >> 6) & 63] : '=');
		dcv_buf_addc(out, i + 2 < n ? t[v & 63] : '=');
	}
}

static void kv64(struct dcv_buf *out, const char *key, const char *value)
{
	dcv_buf_addf(out, "%s=", key);
	b64(value, out);
	dcv_buf_addc(out, '\n');
}

static void unit_lines(struct dcv_buf *out, int i, const char *unit, const char *active, const char *enabled)
{
	dcv_buf_addf(out, "unit.%d.Id=%s.service\nunit.%d.LoadState=loaded\nunit.%d.ActiveState=%s\n"
			  "unit.%d.UnitFileState=%s\n",
		     i, unit, i, i, active, i, enabled);
}

static int host_index(const struct dcv_inventory *inv, const char *name)
{
	for (int i = 0; i < inv->n_hosts; i++)
		if (strcmp(inv->hosts[i]->name, name) == 0)
			return i;
	fail_msg("no host %s", name);
	return -1;
}

static struct dcv_check_host *host_in(struct world *w, const char *name)
{
	return &w->in.hosts[host_index(w->inv, name)];
}

static char *cert_for(const char *name)
{
	struct dcv_buf cert = DCV_BUF_INIT, key = DCV_BUF_INIT;
	struct dcv_err e = DCV_ERR_INIT;
	const char *names[] = { name };

	assert_int_equal(dcv_cert_generate(names, 1, 365, &cert, &key, &e), DCV_OK);
	dcv_buf_release(&key);
	return dcv_buf_detach(&cert);
}

/* The gateway's facts as its script prints them: the proxy active and listening, the
 * certificate readable, the deployed file as rendered; `status`: HAProxy's show stat. */
static void gateway_facts(struct world *w, const char *main_state, const char *holder, const char *status)
{
	const struct dcv_host *gw = dcv_inventory_gateway(w->inv);
	const struct dcv_proxy_kind *k = dcv_proxy_kind(gw->proxy);
	struct dcv_check_host *h = host_in(w, "gateway");
	struct dcv_buf t = DCV_BUF_INIT, ss = DCV_BUF_INIT;
	struct dcv_proxy_env env;
	char *pem = cert_for("dcv.example.com");

	dcv_buf_adds(&t, "os=ubuntu\nbinary=yes\nvalidate.rc=0\nkey=yes\nkeymatch=yes\n");
	unit_lines(&t, 0, k->unit, main_state, "enabled");
	for (int i = 0; k->stop[i]; i++)
		unit_lines(&t, i + 1, k->stop[i], holder && strncmp(k->stop[i], holder, 15) == 0 ? "active" : "inactive",
			   "disabled");
	if (holder) {
		dcv_buf_addf(&ss, "LISTEN 0 511 0.0.0.0:8443 0.0.0.0:* users:((\"%s\",pid=42,fd=6))\n", holder);
		kv64(&t, "ss", ss.data);
	}
	kv64(&t, "cert", pem);
	if (status)
		kv64(&t, "status", status);
	assert_true(dcv_gw_facts_parse(t.data, k, &h->gw));
	/* the deployed file is what this dcvctl renders with those facts */
	dcv_gw_facts_env(&h->gw, &env);
	k->render(w->inv, &env, &h->gw.config);
	h->gw.config_exists = true;
	h->facts.run = true;
	free(pem);
	dcv_buf_release(&t);
	dcv_buf_release(&ss);
}

/* An agent's facts as its script prints them: dcvserver running, dcv.conf as rendered (with
 * `web_port` in place of the inventory's when non-zero), the configured session there. */
static void agent_facts(struct world *w, const char *name, const char *dcvserver, int web_port, bool session)
{
	const struct dcv_host *a = dcv_inventory_host(w->inv, name);
	struct dcv_check_host *h = host_in(w, name);
	struct dcv_buf t = DCV_BUF_INIT, conf = DCV_BUF_INIT, json = DCV_BUF_INIT;

	dcv_buf_adds(&t, "os=ubuntu\n");
	unit_lines(&t, 0, "dcvserver", dcvserver, "enabled");
	unit_lines(&t, 1, DCV_UNIT_SM_AGENT, "inactive", "disabled");
	dcv_render_dcvconf_for("", w->inv, a, &conf);
	if (web_port) {
		char *p = strstr(conf.data, "web-port"), *drifted;
		assert_non_null(p);
		drifted = xasprintf("%.*sweb-port = %d%s", (int)(p - conf.data), conf.data, web_port,
				    strchr(p, '\n'));
		dcv_buf_reset(&conf);
		dcv_buf_adds(&conf, drifted);
		free(drifted);
	}
	kv64(&t, "conf", conf.data);
	if (session)
		dcv_buf_addf(&json, "[{\"id\": \"%s\", \"owner\": \"%s\", \"type\": \"%s\"%s%s%s}]", a->session,
			     a->session_owner, a->session_type, a->session_name ? ", \"name\": \"" : "",
			     a->session_name ? a->session_name : "", a->session_name ? "\"" : "");
	else
		dcv_buf_adds(&json, "[]");
	dcv_buf_adds(&t, "sessions.rc=0\n");
	kv64(&t, "sessions", json.data);
	assert_true(dcv_agent_facts_parse(t.data, &h->agent));
	h->facts.run = true;
	dcv_buf_release(&t);
	dcv_buf_release(&conf);
	dcv_buf_release(&json);
}

static void ok_step(struct dcv_check_step *s)
{
	s->run = true;
	s->rc = DCV_OK;
}

static void bad_step(struct dcv_check_step *s, const char *err)
{
	s->run = true;
	s->rc = DCV_E_CONNECT;
	snprintf(s->err, sizeof(s->err), "%s", err);
}

static void reach_ok(struct dcv_check_host *h)
{
	ok_step(&h->to_tcp);
	ok_step(&h->to_tls);
	ok_step(&h->to_http);
	snprintf(h->to_tls_desc, sizeof(h->to_tls_desc), "TLSv1.3 TLS_AES_256_GCM_SHA384, certificate CN=dcv");
	h->to_http_status = 200;
}

static void reach_refused(struct dcv_check_host *h)
{
	bad_step(&h->to_tcp, "connection refused");
}

static void endpoint_cert(struct world *w, const char *name)
{
	struct dcv_err e = DCV_ERR_INIT;
	char *pem = cert_for(name);

	if (w->in.ep.tls.run)
		dcv_tls_result_release(&w->in.ep.tls_r);
	ok_step(&w->in.ep.tls);
	snprintf(w->in.ep.tls_r.protocol, sizeof(w->in.ep.tls_r.protocol), "TLSv1.3");
	assert_int_equal(dcv_cert_parse_pem(pem, strlen(pem), &w->in.ep.tls_r.cert, &e), DCV_OK);
	free(pem);
}

/* Everything healthy for `proxy` (nginx or haproxy). */
static void world_init(struct world *w, const char *proxy)
{
	struct dcv_err e = DCV_ERR_INIT;
	char *text = xasprintf(inventory, proxy);
	FILE *f = fmemopen(text, strlen(text), "r");
	const char *agents[] = { "dcv1", "dcv2" };

	memset(w, 0, sizeof(*w));
	assert_non_null(f);
	assert_int_equal(dcv_inventory_parse(f, "test.conf", "/root", &w->inv, &e), DCV_OK);
	fclose(f);
	free(text);
	w->o.probe_timeout_ms = 1000;
	dcv_check_input_init(&w->in, w->inv);
	for (int i = 0; i < w->inv->n_hosts; i++) {
		ok_step(&w->in.hosts[i].ssh);
		w->in.hosts[i].hostkey_verified = true;
		snprintf(w->in.hosts[i].hostkey, sizeof(w->in.hosts[i].hostkey), "ssh-ed25519 SHA256:test");
	}
	gateway_facts(w, "active", strcmp(proxy, "haproxy") == 0 ? "haproxy" : "nginx",
		      strcmp(proxy, "haproxy") == 0 ? "# pxname,svname,status,check_status,last_chk\n"
						      "dcv_servers,dcv1,UP,L6OK,\ndcv_servers,dcv2,UP,L6OK,\n"
						      "dcv_servers,BACKEND,UP,,\n"
						    : NULL);
	for (int i = 0; i < 2; i++) {
		agent_facts(w, agents[i], "active", 0, true);
		reach_ok(host_in(w, agents[i]));
	}
	ok_step(&w->in.ep.tcp);
	snprintf(w->in.ep.tcp_remote, sizeof(w->in.ep.tcp_remote), "192.0.2.1:8443");
	endpoint_cert(w, "dcv.example.com");
	ok_step(&w->in.ep.http);
	w->in.ep.http_r.status = 200;
	ok_step(&w->in.ep.ws);
	w->in.ep.ws_r.status = 101;
	w->in.ep.ws_r.accept_ok = true;
}

static void world_free(struct world *w)
{
	dcv_check_input_release(&w->in, w->inv);
	dcv_report_release(&w->rep);
	dcv_inventory_free(w->inv);
}

static const struct dcv_check *row(const struct world *w, const char *id)
{
	for (int i = 0; i < w->rep.n; i++)
		if (strcmp(w->rep.checks[i].id, id) == 0)
			return &w->rep.checks[i];
	fail_msg("no row %s", id);
	return NULL;
}

static void judge(struct world *w)
{
	dcv_report_release(&w->rep);
	dcv_check_judge(w->inv, &w->o, &w->in, &w->rep);
	/* every failed row says why in fields, not only in words */
	for (int i = 0; i < w->rep.n; i++)
		if (w->rep.checks[i].status == DCV_CHECK_FAIL || w->rep.checks[i].status == DCV_CHECK_ERROR)
			assert_int_not_equal(w->rep.checks[i].cause.kind, DCV_CAUSE_NONE);
}

static void assert_diagnosis(const struct world *w, const char *hop, const char *cause, const char *hint)
{
	const struct dcv_diagnosis *d = &w->rep.diagnosis;

	if (!d->hop || strcmp(d->hop, hop) != 0 || !strstr(d->cause, cause) || strcmp(d->hint, hint) != 0)
		fail_msg("diagnosis %s: %s / fix: %s\nexpected %s: ...%s... / fix: %s", d->hop ? d->hop : "(none)",
			 d->cause ? d->cause : "", d->hint ? d->hint : "", hop, cause, hint);
}

/* ------------------------------------------------------------------ healthy */

static void test_check_healthy_has_no_diagnosis(void **state)
{
	struct world w;

	(void)state;
	world_init(&w, "nginx");
	judge(&w);
	assert_null(w.rep.diagnosis.hop);
	for (int i = 0; i < w.rep.n; i++)
		if (w.rep.checks[i].status != DCV_CHECK_PASS && w.rep.checks[i].status != DCV_CHECK_WARN)
			fail_msg("%s: %s", w.rep.checks[i].id, w.rep.checks[i].message);
	assert_int_equal(row(&w, "gateway.proxy.listen")->status, DCV_CHECK_PASS);
	assert_int_equal(row(&w, "agent.dcv2.config")->status, DCV_CHECK_PASS);
	world_free(&w);
}

/* ------------------------------------------------------------------ the diagnosis table */

static void test_check_bastion_down(void **state)
{
	struct world w;
	const char *behind[] = { "gateway", "dcv1", "dcv2" };

	(void)state;
	world_init(&w, "nginx");
	bad_step(&host_in(&w, "bastion")->ssh, "cannot connect to [198.18.0.10]:22: timed out");
	for (int i = 0; i < 3; i++)
		bad_step(&host_in(&w, behind[i])->ssh, "via bastion: timed out");
	judge(&w);
	assert_diagnosis(&w, "bastion", "does not answer SSH", "dcvctl hosts --probe");
	for (int i = 0; i < 3; i++)
		assert_non_null(strstr(w.rep.diagnosis.cause, behind[i]));
	assert_int_equal(row(&w, "agent.dcv1.session")->status, DCV_CHECK_ERROR);
	assert_int_equal(row(&w, "agent.dcv1.session")->cause.kind, DCV_CAUSE_NOT_RUN);
	world_free(&w);
}

static void test_check_gateway_ssh_down(void **state)
{
	struct world w;

	(void)state;
	world_init(&w, "nginx");
	bad_step(&host_in(&w, "gateway")->ssh, "authentication refused");
	judge(&w);
	assert_diagnosis(&w, "gateway", "no SSH to gateway (ec2-user@198.18.1.11:22): authentication refused",
			 "dcvctl hosts --probe");
	assert_int_equal(row(&w, "gateway.to.dcv2.http")->status, DCV_CHECK_ERROR);
	world_free(&w);
}

static void test_check_nginx_stopped(void **state)
{
	struct world w;

	(void)state;
	world_init(&w, "nginx");
	dcv_gw_facts_release(&host_in(&w, "gateway")->gw);
	gateway_facts(&w, "inactive", NULL, NULL);
	bad_step(&w.in.ep.tcp, "connect to 192.0.2.1:8443: Connection refused");
	judge(&w);
	assert_int_equal(row(&w, "gateway.proxy.listen")->cause.kind, DCV_CAUSE_PORT_FREE);
	assert_diagnosis(&w, "gateway", "nginx is not running on gateway (inactive)", "dcvctl service start gateway nginx");
	world_free(&w);
}

static void test_check_another_process_on_the_listen_port(void **state)
{
	struct world w;
	const struct dcv_check *listen;

	(void)state;
	world_init(&w, "nginx");
	dcv_gw_facts_release(&host_in(&w, "gateway")->gw);
	gateway_facts(&w, "failed", "dcv-connection-", NULL);
	bad_step(&w.in.ep.ws, "no upgrade");
	judge(&w);
	listen = row(&w, "gateway.proxy.listen");
	assert_int_equal(listen->cause.kind, DCV_CAUSE_PORT_HELD);
	assert_string_equal(listen->cause.value, "dcv-connection-");
	assert_string_equal(listen->cause.where, "dcv-connection-gateway");
	assert_int_equal(row(&w, "gateway.proxy.service")->status, DCV_CHECK_FAIL);
	assert_int_equal(row(&w, "gateway.legacy-services")->status, DCV_CHECK_FAIL);
	/* the holder explains nginx not running: it is the cause, not "nginx stopped" */
	assert_diagnosis(&w, "gateway",
			 "port 8443 on gateway is held by dcv-connection- (unit dcv-connection-gateway), not nginx",
			 "dcvctl deploy --only gateway");
	world_free(&w);
}

static void test_check_web_port_drift_on_one_agent(void **state)
{
	struct world w;
	const struct dcv_check *c;

	(void)state;
	world_init(&w, "nginx");
	dcv_agent_facts_release(&host_in(&w, "dcv2")->agent);
	agent_facts(&w, "dcv2", "active", 8444, true);
	reach_refused(host_in(&w, "dcv2"));
	judge(&w);
	c = row(&w, "agent.dcv2.config");
	assert_int_equal(c->cause.kind, DCV_CAUSE_KEY);
	assert_string_equal(c->cause.key, "web-port");
	assert_string_equal(c->cause.value, "8444");
	assert_string_equal(c->cause.want, "8443");
	assert_int_equal(row(&w, "gateway.to.dcv2.tcp")->status, DCV_CHECK_FAIL);
	/* the agent unreachable from the gateway is a dcv.conf problem, not a network one */
	assert_diagnosis(&w, "dcv2", "web-port = 8444 in /etc/dcv/dcv.conf on dcv2, the inventory says 8443",
			 "dcvctl deploy --only dcv2");
	/* the report carries that cause as fields too */
	assert_string_equal(w.rep.diagnosis.check, "agent.dcv2.config");
	assert_int_equal(w.rep.diagnosis.fact.kind, DCV_CAUSE_KEY);
	assert_string_equal(w.rep.diagnosis.fact.key, "web-port");
	assert_string_equal(w.rep.diagnosis.fact.value, "8444");
	world_free(&w);
}

static void test_check_unset_web_port_is_drift_not_a_move(void **state)
{
	struct world w;
	struct dcv_check_host *h;

	(void)state;
	world_init(&w, "nginx");
	h = host_in(&w, "dcv1");
	/* DCV listens on 8443 without the key: dcv.conf drifted, dcvserver did not move */
	h->agent.web_port = 0;
	dcv_buf_reset(&h->agent.conf);
	dcv_buf_adds(&h->agent.conf, "[connectivity]\nweb-url-path=\"/\"\n[session-management]\ncreate-session=false\n");
	dcv_agent_facts_release(&host_in(&w, "dcv2")->agent);
	agent_facts(&w, "dcv2", "inactive", 0, true);
	judge(&w);
	assert_int_equal(row(&w, "agent.dcv1.config")->status, DCV_CHECK_FAIL);
	assert_int_equal(row(&w, "agent.dcv1.config")->cause.kind, DCV_CAUSE_DRIFT);
	assert_diagnosis(&w, "dcv1", "/etc/dcv/dcv.conf on dcv1 differs from what dcvctl renders", "dcvctl deploy --only dcv1");
	world_free(&w);
}

static void test_check_dcvserver_stopped_on_one_agent(void **state)
{
	struct world w;

	(void)state;
	world_init(&w, "nginx");
	dcv_agent_facts_release(&host_in(&w, "dcv1")->agent);
	agent_facts(&w, "dcv1", "inactive", 0, true);
	reach_refused(host_in(&w, "dcv1"));
	judge(&w);
	assert_int_equal(row(&w, "gateway.to.dcv1.tls")->status, DCV_CHECK_ERROR);
	assert_int_equal(row(&w, "agent.dcv2.dcvserver")->status, DCV_CHECK_PASS);
	assert_diagnosis(&w, "dcv1", "dcvserver is not running on dcv1 (inactive)", "dcvctl service start dcv1 dcvserver");
	world_free(&w);
}

static void test_check_dcvserver_runs_but_not_on_its_port(void **state)
{
	struct world w;
	struct dcv_check_host *h;

	(void)state;
	world_init(&w, "nginx");
	h = host_in(&w, "dcv1");
	reach_refused(h);
	judge(&w);
	assert_int_equal(row(&w, "gateway.to.dcv1.tcp")->cause.kind, DCV_CAUSE_PORT_FREE);
	assert_diagnosis(&w, "dcv1", "dcvserver runs on dcv1 but nothing listens on its port 8443",
			 "dcvctl service restart dcv1 dcvserver");
	/* another program on the port is named as ss shows it */
	dcv_buf_adds(&h->agent.ss, "LISTEN 0 5 0.0.0.0:8443 0.0.0.0:* users:((\"python3\",pid=9,fd=3))\n");
	snprintf(h->agent.listener, sizeof(h->agent.listener), "python3");
	judge(&w);
	assert_diagnosis(&w, "dcv1", "port 8443 on dcv1 is held by python3, not dcvserver", "dcvctl config diff dcv1");
	/* dcvserver on it and still no connection: the network between them */
	snprintf(h->agent.listener, sizeof(h->agent.listener), "dcvserver");
	judge(&w);
	assert_diagnosis(&w, "dcv1", "the gateway cannot reach dcvserver on 198.18.1.21:8443: connection refused",
			 "dcvctl config diff dcv1");
	world_free(&w);
}

static void test_check_session_missing(void **state)
{
	struct world w;

	(void)state;
	world_init(&w, "nginx");
	dcv_agent_facts_release(&host_in(&w, "dcv1")->agent);
	agent_facts(&w, "dcv1", "active", 0, false);
	judge(&w);
	assert_int_equal(row(&w, "agent.dcv1.session")->cause.kind, DCV_CAUSE_SESSION_MISSING);
	assert_diagnosis(&w, "dcv1", "no session 'console' on dcv1 (0 others)", "dcvctl session create --agent dcv1");
	world_free(&w);
}

static void test_check_cert_not_covering_the_name(void **state)
{
	struct world w;
	const struct dcv_check *c;

	(void)state;
	world_init(&w, "nginx");
	endpoint_cert(&w, "wrong.example.com");
	judge(&w);
	c = row(&w, "endpoint.tls");
	assert_int_equal(c->cause.kind, DCV_CAUSE_CERT_NAME);
	assert_string_equal(c->cause.key, "dcv.example.com");
	assert_non_null(strstr(c->message, "DNS:wrong.example.com"));
	assert_diagnosis(&w, "endpoint", "the certificate does not cover dcv.example.com; its SANs: DNS:wrong.example.com",
			 "dcvctl cert generate --out ./gateway-cert --install");
	world_free(&w);
}

static void test_check_haproxy_backend_down_names_the_agent(void **state)
{
	struct world w;
	const struct dcv_check *b;

	(void)state;
	world_init(&w, "haproxy");
	dcv_gw_facts_release(&host_in(&w, "gateway")->gw);
	gateway_facts(&w, "active", "haproxy",
		      "# pxname,svname,status,check_status,last_chk\n"
		      "dcv_servers,dcv1,UP,L6OK,\ndcv_servers,dcv2,DOWN,L4CON,Connection refused\n");
	judge(&w);
	b = row(&w, "gateway.proxy.backends");
	assert_int_equal(b->status, DCV_CHECK_FAIL);
	assert_int_equal(b->cause.kind, DCV_CAUSE_BACKEND_DOWN);
	assert_string_equal(b->cause.key, "dcv2");
	/* every row of dcv2 passes: the proxy's own verdict is the cause, named at dcv2 */
	assert_diagnosis(&w, "dcv2", "haproxy marks dcv2 DOWN (L4CON: Connection refused) although dcvserver runs there",
			 "dcvctl probe http https://198.18.1.22:8443/ --via gateway");
	/* with dcvserver stopped there, that is the cause (the e2e on the lab expects this) */
	dcv_agent_facts_release(&host_in(&w, "dcv2")->agent);
	agent_facts(&w, "dcv2", "failed", 0, true);
	judge(&w);
	assert_diagnosis(&w, "dcv2", "dcvserver is not running on dcv2 (failed)", "dcvctl service start dcv2 dcvserver");
	world_free(&w);
}

static void test_check_first_broken_hop_wins(void **state)
{
	struct world w;

	(void)state;
	world_init(&w, "nginx");
	dcv_agent_facts_release(&host_in(&w, "dcv1")->agent);
	agent_facts(&w, "dcv1", "active", 0, false);
	bad_step(&host_in(&w, "gateway")->ssh, "connection refused");
	endpoint_cert(&w, "wrong.example.com");
	judge(&w);
	assert_diagnosis(&w, "gateway", "no SSH to gateway", "dcvctl hosts --probe");
	world_free(&w);
}

/* The NLB's verdict on the gateway fails: the AWS side is diagnosed, before the gateway's own
 * rows (the client meets it first), with the command the verdict names. */
static void test_check_aws_side_before_the_gateway(void **state)
{
	struct world w;

	(void)state;
	world_init(&w, "nginx");
	w.in.aws_run = true;
	w.in.aws[DCV_AWS_VPCE] = (struct dcv_aws_verdict){ DCV_CHECK_PASS, xstrdup("VPC endpoint vpce-0123456789abcdef0 is available"), NULL, NULL };
	w.in.aws[DCV_AWS_TARGETS] = (struct dcv_aws_verdict){ DCV_CHECK_FAIL,
		xstrdup("198.18.1.11:8443 unhealthy (Target.FailedHealthChecks): Health checks failed"),
		xstrdup("aws elbv2 describe-target-health --target-group-arn arn:x"), NULL };
	w.in.aws[DCV_AWS_SG] = (struct dcv_aws_verdict){ DCV_CHECK_SKIP, xstrdup("no security group to check"), NULL, NULL };
	dcv_agent_facts_release(&host_in(&w, "dcv1")->agent);
	agent_facts(&w, "dcv1", "inactive", 0, false);
	judge(&w);
	assert_int_equal(row(&w, "aws.nlb.targets")->status, DCV_CHECK_FAIL);
	assert_int_equal(row(&w, "aws.sg.8443")->status, DCV_CHECK_SKIP);
	assert_string_equal(row(&w, "aws.vpce.state")->host, "aws");
	assert_diagnosis(&w, "aws", "on the AWS side, 198.18.1.11:8443 unhealthy (Target.FailedHealthChecks)",
			 "aws elbv2 describe-target-health --target-group-arn arn:x");
	assert_string_equal(w.rep.diagnosis.check, "aws.nlb.targets");
	world_free(&w);
}

/* ------------------------------------------------------------------ connection-gateway */

static const char gw_inventory[] =
	"[endpoint]\n"
	"url = https://dcv.example.com:8443/\n"
	"[ssh]\n"
	"identity = /nonexistent/id_rsa\n"
	"[gateway]\n"
	"address = 198.18.1.11\n"
	"user = ec2-user\n"
	"listen = 8443\n"
	"proxy = connection-gateway\n"
	"[broker]\n"
	"name = broker.example.internal\n"
	"tls-client-auth = %s\n"
	"[agent dcv1]\n"
	"address = 198.18.1.21\n"
	"user = ubuntu\n"
	"session = one\n"
	"[agent dcv2]\n"
	"address = 198.18.1.22\n"
	"user = ubuntu\n"
	"session = two\n";

#define NOT_FOUND_BODY "The requested combination of transport and sessionId does not exist"
#define REFUSED "curl: (56) OpenSSL SSL_read: error:0A00045C:SSL routines::tlsv13 alert certificate required"

/* The resolver's 200 for agent `name` at `port`. */
static void resolved(struct world *w, const char *name, int port)
{
	struct dcv_check_resolve *q = &host_in(w, name)->resolve;
	const struct dcv_host *a = dcv_inventory_host(w->inv, name);

	ok_step(&q->step);
	q->curl_rc = 0;
	q->status = 200;
	dcv_buf_reset(&q->body);
	dcv_buf_addf(&q->body,
		     "{\"SessionId\": \"%s\", \"TransportProtocol\": \"HTTP\", \"DcvServerEndpoint\": "
		     "\"%s.example.internal\", \"Port\": %d, \"WebUrlPath\": \"/\"}",
		     a->session, name, port);
}

static void not_resolved(struct world *w, const char *name)
{
	struct dcv_check_resolve *q = &host_in(w, name)->resolve;

	q->status = 404;
	dcv_buf_reset(&q->body);
	dcv_buf_adds(&q->body, NOT_FOUND_BODY);
}

static void broker_mappings(struct world *w, bool dcv2)
{
	struct dcv_check_broker *b = &w->in.broker;

	dcv_buf_reset(&b->f.mappings);
	dcv_buf_adds(&b->f.mappings, "[{\"ServerIdType\": \"Ip\", \"ServerId\": \"198.18.1.21\", \"DnsNames\": "
				   "{\"InternalDnsName\": \"dcv1.example.internal\"}}");
	if (dcv2)
		dcv_buf_adds(&b->f.mappings, ", {\"ServerIdType\": \"Ip\", \"ServerId\": \"198.18.1.22\", \"DnsNames\": "
					   "{\"InternalDnsName\": \"dcv2.example.internal\"}}");
	dcv_buf_adds(&b->f.mappings, "]");
	b->f.mappings_ok = true;
}

/* Everything healthy with proxy = connection-gateway; `mtls`: tls-client-auth = yes. */
static void gw_world_init(struct world *w, bool mtls)
{
	struct dcv_err e = DCV_ERR_INIT;
	char *text = xasprintf(gw_inventory, mtls ? "yes" : "no");
	FILE *f = fmemopen(text, strlen(text), "r");
	const char *agents[] = { "dcv1", "dcv2" };
	struct dcv_check_broker *b;
	struct dcv_check_resolver *r;

	memset(w, 0, sizeof(*w));
	assert_non_null(f);
	if (dcv_inventory_parse(f, "test.conf", "/root", &w->inv, &e) != DCV_OK)
		fail_msg("%s", e.msg);
	fclose(f);
	free(text);
	w->o.probe_timeout_ms = 1000;
	dcv_check_input_init(&w->in, w->inv);
	for (int i = 0; i < w->inv->n_hosts; i++) {
		ok_step(&w->in.hosts[i].ssh);
		w->in.hosts[i].hostkey_verified = true;
		snprintf(w->in.hosts[i].hostkey, sizeof(w->in.hosts[i].hostkey), "ssh-ed25519 SHA256:test");
	}
	gateway_facts(w, "active", "dcv-connection-", NULL);
	for (int i = 0; i < 2; i++) {
		struct dcv_check_host *h = host_in(w, agents[i]);
		agent_facts(w, agents[i], "active", 0, true);
		snprintf(h->agent.sm_agent.active, sizeof(h->agent.sm_agent.active), "active");
		snprintf(h->agent.sm_agent.enabled, sizeof(h->agent.sm_agent.enabled), "enabled");
		reach_ok(h);
		resolved(w, agents[i], 8443);
	}
	b = &w->in.broker;
	ok_step(&b->facts);
	snprintf(b->f.broker.active, sizeof(b->f.broker.active), "active");
	snprintf(b->f.broker.enabled, sizeof(b->f.broker.enabled), "enabled");
	b->f.props_exists = true;
	dcv_buf_adds(&b->f.props, "enable-gateway = true\ngateway-to-broker-connector-https-port = 8447\n");
	if (mtls)
		dcv_buf_adds(&b->f.props, "enable-tls-client-auth-gateway = true\n");
	dcv_buf_adds(&b->f.ss, "LISTEN 0 50 *:8447 *:* users:((\"java\",pid=7,fd=9))\n");
	snprintf(b->f.listener, sizeof(b->f.listener), "java");
	broker_mappings(w, true);
	r = &w->in.resolver;
	ok_step(&r->step);
	snprintf(r->url, sizeof(r->url), "https://broker.example.internal:8447");
	snprintf(r->ca_file, sizeof(r->ca_file), "/etc/dcv-connection-gateway/dcvsmbroker_ca.pem");
	ok_step(&r->bare.step);
	if (mtls) {
		snprintf(r->cert_file, sizeof(r->cert_file), "/etc/dcv-connection-gateway/dcv_gateway_cert.pem");
		snprintf(r->key_file, sizeof(r->key_file), "/etc/dcv-connection-gateway/dcv_gateway_key.pem");
		r->bare.curl_rc = 56;
		snprintf(r->bare.err, sizeof(r->bare.err), REFUSED);
	} else {
		r->bare.status = 404;
	}
	ok_step(&w->in.ep.tcp);
	endpoint_cert(w, "dcv.example.com");
	ok_step(&w->in.ep.http);
	w->in.ep.http_r.status = 200;
	ok_step(&w->in.ep.ws);
	w->in.ep.ws_r.status = 101;
	w->in.ep.ws_r.accept_ok = true;
}

/* The kind joins dcv_proxy_kinds[] with its deploy (h-gwdeploy); until then nothing checks it. */
#define NEEDS_GATEWAY_KIND()                                          \
	do {                                                          \
		if (!dcv_proxy_kind(DCV_PROXY_CONNECTION_GATEWAY))    \
			skip();                                       \
	} while (0)

static void assert_row(const struct world *w, const char *id, enum dcv_check_status st, enum dcv_cause_kind kind)
{
	const struct dcv_check *c = row(w, id);

	if (c->status != st || c->cause.kind != kind)
		fail_msg("%s: %s (%s), expected %s (%s): %s", id, dcv_check_status_name(c->status),
			 dcv_cause_kind_name(c->cause.kind) ? dcv_cause_kind_name(c->cause.kind) : "none",
			 dcv_check_status_name(st), dcv_cause_kind_name(kind) ? dcv_cause_kind_name(kind) : "none",
			 c->message);
}

static void test_check_gateway_healthy(void **state)
{
	struct world w;

	(void)state;
	NEEDS_GATEWAY_KIND();
	for (int mtls = 0; mtls < 2; mtls++) {
		gw_world_init(&w, mtls);
		judge(&w);
		assert_null(w.rep.diagnosis.hop);
		assert_row(&w, "broker.service", DCV_CHECK_PASS, DCV_CAUSE_NONE);
		assert_row(&w, "broker.enable-gateway", DCV_CHECK_PASS, DCV_CAUSE_NONE);
		assert_row(&w, "broker.listen", DCV_CHECK_PASS, DCV_CAUSE_NONE);
		assert_row(&w, "gateway.resolver.tls", DCV_CHECK_PASS, DCV_CAUSE_NONE);
		assert_row(&w, "gateway.resolver.mtls", mtls ? DCV_CHECK_PASS : DCV_CHECK_SKIP, DCV_CAUSE_NONE);
		assert_row(&w, "gateway.resolver.session.dcv1", DCV_CHECK_PASS, DCV_CAUSE_NONE);
		assert_row(&w, "gateway.resolver.session.dcv2", DCV_CHECK_PASS, DCV_CAUSE_NONE);
		/* inverted for this kind: the Session Manager agent must run */
		assert_row(&w, "agent.dcv1.sm-agent", DCV_CHECK_PASS, DCV_CAUSE_NONE);
		assert_row(&w, "gateway.legacy-services", DCV_CHECK_PASS, DCV_CAUSE_NONE);
		assert_string_equal(row(&w, "broker.service")->host, "broker");
		world_free(&w);
	}
}

static void test_check_gateway_broker_down_names_the_broker(void **state)
{
	struct world w;

	(void)state;
	NEEDS_GATEWAY_KIND();
	gw_world_init(&w, false);
	snprintf(w.in.broker.f.broker.active, sizeof(w.in.broker.f.broker.active), "inactive");
	dcv_buf_reset(&w.in.broker.f.ss);
	w.in.broker.f.listener[0] = '\0';
	w.in.resolver.bare.curl_rc = 7;
	w.in.resolver.bare.status = 0;
	snprintf(w.in.resolver.bare.err, sizeof(w.in.resolver.bare.err), "curl: (7) Failed to connect");
	for (int i = 1; i <= 2; i++) {
		struct dcv_check_resolve *q = &host_in(&w, i == 1 ? "dcv1" : "dcv2")->resolve;
		q->curl_rc = 7;
		q->status = 0;
		snprintf(q->err, sizeof(q->err), "curl: (7) Failed to connect");
	}
	w.in.ep.ws_r.status = 502;
	w.in.ep.ws_r.accept_ok = false;
	judge(&w);
	assert_row(&w, "broker.service", DCV_CHECK_FAIL, DCV_CAUSE_UNIT_STOPPED);
	assert_row(&w, "broker.listen", DCV_CHECK_FAIL, DCV_CAUSE_PORT_FREE);
	assert_row(&w, "gateway.resolver.tls", DCV_CHECK_FAIL, DCV_CAUSE_CONNECT);
	assert_row(&w, "gateway.resolver.session.dcv1", DCV_CHECK_FAIL, DCV_CAUSE_CONNECT);
	assert_diagnosis(&w, "broker", "dcv-session-manager-broker is not running on gateway (inactive)",
			 "dcvctl service start gateway dcv-session-manager-broker");
	assert_string_equal(w.rep.diagnosis.check, "broker.service");
	/* with mTLS on, a resolver not reached says nothing of client certificates */
	w.inv->tls_client_auth = true;
	judge(&w);
	assert_row(&w, "gateway.resolver.mtls", DCV_CHECK_ERROR, DCV_CAUSE_NOT_RUN);
	assert_string_equal(w.rep.diagnosis.check, "broker.service");
	world_free(&w);
}

static void test_check_gateway_session_closed(void **state)
{
	struct world w;

	(void)state;
	NEEDS_GATEWAY_KIND();
	gw_world_init(&w, false);
	dcv_agent_facts_release(&host_in(&w, "dcv1")->agent);
	agent_facts(&w, "dcv1", "active", 0, false);
	snprintf(host_in(&w, "dcv1")->agent.sm_agent.active, sizeof(host_in(&w, "dcv1")->agent.sm_agent.active),
		 "active");
	not_resolved(&w, "dcv1");
	judge(&w);
	assert_row(&w, "gateway.resolver.session.dcv1", DCV_CHECK_FAIL, DCV_CAUSE_SESSION_MISSING);
	assert_row(&w, "gateway.resolver.session.dcv2", DCV_CHECK_PASS, DCV_CAUSE_NONE);
	assert_string_equal(row(&w, "gateway.resolver.session.dcv1")->cause.key, "one");
	assert_diagnosis(&w, "dcv1", "no session 'one' on dcv1", "dcvctl session create --agent dcv1");
	/* without the agent's own row, the resolver's row is the diagnosis, with the same fix */
	w.o.skip = "agent.dcv1.session";
	judge(&w);
	assert_diagnosis(&w, "dcv1", "no session 'one' on dcv1", "dcvctl session create --agent dcv1");
	assert_string_equal(w.rep.diagnosis.check, "gateway.resolver.session.dcv1");
	world_free(&w);
}

static void test_check_gateway_404_causes(void **state)
{
	struct world w;

	(void)state;
	NEEDS_GATEWAY_KIND();
	/* the Session Manager agent stopped: never registered */
	gw_world_init(&w, false);
	snprintf(host_in(&w, "dcv2")->agent.sm_agent.active, sizeof(host_in(&w, "dcv2")->agent.sm_agent.active),
		 "inactive");
	not_resolved(&w, "dcv2");
	judge(&w);
	assert_row(&w, "agent.dcv2.sm-agent", DCV_CHECK_FAIL, DCV_CAUSE_UNIT_STOPPED);
	assert_row(&w, "gateway.resolver.session.dcv2", DCV_CHECK_FAIL, DCV_CAUSE_UNIT_STOPPED);
	assert_diagnosis(&w, "dcv2", "dcv-session-manager-agent is not running on dcv2",
			 "dcvctl service start dcv2 dcv-session-manager-agent");
	world_free(&w);
	/* no DNS mapping for dcv2 */
	gw_world_init(&w, false);
	broker_mappings(&w, false);
	not_resolved(&w, "dcv2");
	judge(&w);
	assert_row(&w, "gateway.resolver.session.dcv2", DCV_CHECK_FAIL, DCV_CAUSE_NO_DNS_MAPPING);
	assert_diagnosis(&w, "dcv2", "no DNS mapping for dcv2 (server id 198.18.1.22; it has 1 mapping)",
			 "dcvctl deploy --only dcv2");
	world_free(&w);
	/* everything in place, yet the broker has not heard of the session */
	gw_world_init(&w, false);
	not_resolved(&w, "dcv2");
	judge(&w);
	assert_row(&w, "gateway.resolver.session.dcv2", DCV_CHECK_FAIL, DCV_CAUSE_NOT_REGISTERED);
	assert_diagnosis(&w, "dcv2", "the broker does not resolve session 'two'",
			 "dcvctl service restart dcv2 dcv-session-manager-agent");
	world_free(&w);
	/* resolved, but to another port */
	gw_world_init(&w, false);
	resolved(&w, "dcv1", 8444);
	judge(&w);
	assert_row(&w, "gateway.resolver.session.dcv1", DCV_CHECK_FAIL, DCV_CAUSE_RESOLVED_WRONG);
	assert_diagnosis(&w, "dcv1", "the resolver answers Port = 8444 for dcv1, which is 8443", "dcvctl deploy --only dcv1");
	world_free(&w);
	/* the field names field notes saw fail */
	gw_world_init(&w, false);
	dcv_buf_reset(&host_in(&w, "dcv1")->resolve.body);
	dcv_buf_adds(&host_in(&w, "dcv1")->resolve.body, "{\"Host\": \"dcv1\", \"HttpPort\": 8443}");
	judge(&w);
	assert_row(&w, "gateway.resolver.session.dcv1", DCV_CHECK_FAIL, DCV_CAUSE_RESOLVED_WRONG);
	world_free(&w);
}

static void test_check_gateway_broker_properties(void **state)
{
	struct world w;

	(void)state;
	NEEDS_GATEWAY_KIND();
	gw_world_init(&w, false);
	dcv_buf_reset(&w.in.broker.f.props);
	dcv_buf_adds(&w.in.broker.f.props, "enable-gateway=false\n");
	judge(&w);
	assert_row(&w, "broker.enable-gateway", DCV_CHECK_FAIL, DCV_CAUSE_KEY);
	assert_diagnosis(&w, "broker", "enable-gateway = false in " DCV_BROKER_PROPERTIES, "dcvctl broker enable-gateway");
	world_free(&w);
	gw_world_init(&w, false);
	dcv_buf_reset(&w.in.broker.f.props);
	dcv_buf_adds(&w.in.broker.f.props, "enable-gateway: true\ngateway-to-broker-connector-https-port 9447\n");
	judge(&w);
	assert_row(&w, "broker.enable-gateway", DCV_CHECK_FAIL, DCV_CAUSE_KEY);
	assert_string_equal(row(&w, "broker.enable-gateway")->cause.value, "9447");
	assert_string_equal(row(&w, "broker.enable-gateway")->cause.want, "8447");
	world_free(&w);
	/* another process on the resolver port */
	gw_world_init(&w, false);
	snprintf(w.in.broker.f.listener, sizeof(w.in.broker.f.listener), "nginx");
	judge(&w);
	assert_row(&w, "broker.listen", DCV_CHECK_FAIL, DCV_CAUSE_PORT_HELD);
	assert_string_equal(row(&w, "broker.listen")->cause.value, "nginx");
	world_free(&w);
}

static void test_check_gateway_resolver_tls_and_mtls(void **state)
{
	struct world w;

	(void)state;
	NEEDS_GATEWAY_KIND();
	gw_world_init(&w, false);
	w.in.resolver.bare.curl_rc = 60;
	w.in.resolver.bare.status = 0;
	snprintf(w.in.resolver.bare.err, sizeof(w.in.resolver.bare.err),
		 "curl: (60) SSL certificate problem: unable to get local issuer certificate");
	judge(&w);
	assert_row(&w, "gateway.resolver.tls", DCV_CHECK_FAIL, DCV_CAUSE_CERT_UNTRUSTED);
	assert_diagnosis(&w, "gateway", "against /etc/dcv-connection-gateway/dcvsmbroker_ca.pem",
			 "dcvctl deploy --only gateway");
	world_free(&w);
	/* mTLS asked for, but the broker answers a client without a certificate */
	gw_world_init(&w, true);
	w.in.resolver.bare.curl_rc = 0;
	w.in.resolver.bare.status = 404;
	dcv_buf_reset(&w.in.broker.f.props);
	dcv_buf_adds(&w.in.broker.f.props, "enable-gateway = true\n");
	judge(&w);
	assert_row(&w, "gateway.resolver.tls", DCV_CHECK_PASS, DCV_CAUSE_NONE);
	assert_row(&w, "gateway.resolver.mtls", DCV_CHECK_FAIL, DCV_CAUSE_KEY);
	assert_diagnosis(&w, "gateway", "enable-tls-client-auth-gateway = (unset)",
			 "dcvctl broker enable-gateway --tls-client-auth");
	world_free(&w);
	/* the broker refuses the gateway's own certificate */
	gw_world_init(&w, true);
	for (int i = 1; i <= 2; i++) {
		struct dcv_check_resolve *q = &host_in(&w, i == 1 ? "dcv1" : "dcv2")->resolve;
		q->curl_rc = 56;
		q->status = 0;
		snprintf(q->err, sizeof(q->err), "%s", REFUSED);
	}
	judge(&w);
	assert_row(&w, "gateway.resolver.mtls", DCV_CHECK_FAIL, DCV_CAUSE_CERT_UNTRUSTED);
	assert_diagnosis(&w, "gateway", "dcv_gateway_cert.pem", "dcvctl deploy --only gateway");
	world_free(&w);
}

/* check reads the broker's facts without secrets: the properties as the judged keys' lines
 * only, and not the client key; deploy's read has both. */
static void test_check_broker_facts_without_secrets(void **state)
{
	struct dcv_inventory inv = { .resolver_port = 8447 };
	struct dcv_buf s = DCV_BUF_INIT, full = DCV_BUF_INIT;

	(void)state;
	dcv_broker_facts_script(&inv, false, &s);
	assert_non_null(strstr(s.data, "grep -E"));
	assert_null(strstr(s.data, "b64 < \"$p\""));
	assert_null(strstr(s.data, "printf 'ck='"));
	assert_non_null(strstr(s.data, "sport = :8447"));
	dcv_broker_facts_script(&inv, true, &full);
	assert_non_null(strstr(full.data, "b64 < \"$p\""));
	assert_non_null(strstr(full.data, "printf 'ck='"));
	dcv_buf_release(&s);
	dcv_buf_release(&full);
}

/* The resolver script quotes every value and encodes the session id; its parser fills each
 * agent's request. */
static void test_check_resolver_script_and_parse(void **state)
{
	struct dcv_check_resolver r;
	struct dcv_check_resolve q0, q1;
	struct dcv_check_resolve *q[] = { &q0, &q1 };
	const char *sessions[] = { "$(reboot)", "two words" };
	struct dcv_buf s = DCV_BUF_INIT, out = DCV_BUF_INIT;

	(void)state;
	memset(&r, 0, sizeof(r));
	memset(&q0, 0, sizeof(q0));
	memset(&q1, 0, sizeof(q1));
	snprintf(r.url, sizeof(r.url), "https://broker.example.internal:8447/");
	snprintf(r.ca_file, sizeof(r.ca_file), "/etc/x/ca'.pem");
	dcv_check_resolver_script(&r, sessions, 2, 5000, &s);
	assert_non_null(strstr(s.data, "u='https://broker.example.internal:8447'\n"));
	assert_non_null(strstr(s.data, "ca='/etc/x/ca'\\''.pem'\n"));
	assert_non_null(strstr(s.data, "sessionId=%24%28reboot%29&transport=HTTP"));
	assert_non_null(strstr(s.data, "sessionId=two%20words&transport=HTTP"));
	assert_null(strstr(s.data, "$(reboot)"));
	assert_null(strstr(s.data, "--cert"));
	assert_non_null(strstr(s.data, "--max-time 5 "));
	dcv_buf_adds(&out, "bare.rc=56\nbare.w=000\n");
	kv64(&out, "bare.err", REFUSED);
	dcv_buf_adds(&out, "s1.rc=0\ns1.w=404\n");
	kv64(&out, "s1.body", NOT_FOUND_BODY);
	dcv_check_resolver_parse(out.data, &r, q, 2);
	assert_int_equal(r.bare.curl_rc, 56);
	assert_int_equal(r.bare.status, 0);
	assert_string_equal(r.bare.err, REFUSED);
	assert_false(q0.step.run);
	assert_true(q1.step.run);
	assert_int_equal(q1.status, 404);
	assert_string_equal(q1.body.data, NOT_FOUND_BODY);
	dcv_buf_release(&r.bare.body);
	dcv_buf_release(&q1.body);
	dcv_buf_release(&s);
	dcv_buf_release(&out);
}

/* The resolver script through a real shell, curl replaced by a stand-in that answers as the
 * resolver would: only the first line of curl's complaint comes back, the client certificate
 * goes with the sessions' requests and not the bare one, the session id reaches the URL
 * percent-encoded, and each answer lands on its agent. */
static const char fake_curl[] =
	"#!/bin/sh\n"
	"out=; url=; cert=no\n"
	"while [ $# -gt 0 ]; do case $1 in\n"
	"-o) out=$2; shift ;;\n"
	"--cert) cert=yes; shift ;;\n"
	"-w|-H|-d|--max-time|--cacert|--key) shift ;;\n"
	"*) url=$1 ;;\n"
	"esac; shift; done\n"
	"printf '%s cert=%s\\n' \"$url\" \"$cert\" >>\"$(dirname \"$0\")/urls\"\n"
	"case $url in\n"
	"*dcvctl-check*) printf 'curl: (55) refused\\nmore details\\n' >&2; printf 000; exit 55 ;;\n"
	"*sessionId=one*) printf '{\"SessionId\": \"one\"}' >\"$out\"; printf 200 ;;\n"
	"*) printf 'not found' >\"$out\"; printf 404 ;;\n"
	"esac\n";

static char *run_sh(const char *dir, const char *path, const char *script)
{
	struct dcv_buf out = DCV_BUF_INIT;
	char *file = xasprintf("%s/s.sh", dir), *cmd = xasprintf("PATH='%s' /bin/sh '%s'", path, file), line[4096];
	FILE *f = fopen(file, "w");

	assert_non_null(f);
	fputs(script, f);
	fclose(f);
	f = popen(cmd, "r");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f))
		dcv_buf_adds(&out, line);
	assert_int_equal(pclose(f), 0);
	free(file);
	free(cmd);
	return dcv_buf_detach(&out);
}

static void test_check_resolver_script_through_a_shell(void **state)
{
	char tmpl[] = "/tmp/dcvctl-test-resolver-XXXXXX";
	const char *dir = mkdtemp(tmpl), *sessions[] = { "one", "$(reboot)" };
	struct dcv_check_resolver r;
	struct dcv_check_resolve q0, q1;
	struct dcv_check_resolve *q[] = { &q0, &q1 };
	struct dcv_buf s = DCV_BUF_INIT, urls = DCV_BUF_INIT;
	char *curl, *path, *out, *rm;
	FILE *f;

	(void)state;
	assert_non_null(dir);
	curl = xasprintf("%s/curl", dir);
	f = fopen(curl, "w");
	assert_non_null(f);
	fputs(fake_curl, f);
	fclose(f);
	assert_int_equal(chmod(curl, 0755), 0);
	memset(&r, 0, sizeof(r));
	memset(&q0, 0, sizeof(q0));
	memset(&q1, 0, sizeof(q1));
	snprintf(r.url, sizeof(r.url), "https://broker.example.internal:8447");
	snprintf(r.ca_file, sizeof(r.ca_file), "/etc/dcv-connection-gateway/dcvsmbroker_ca.pem");
	snprintf(r.cert_file, sizeof(r.cert_file), "/etc/dcv-connection-gateway/dcv_gateway_cert.pem");
	snprintf(r.key_file, sizeof(r.key_file), "/etc/dcv-connection-gateway/dcv_gateway_key.pem");
	dcv_check_resolver_script(&r, sessions, 2, 3000, &s);
	path = xasprintf("%s:/usr/bin:/bin", dir);
	out = run_sh(dir, path, s.data);
	dcv_check_resolver_parse(out, &r, q, 2);
	assert_false(r.no_curl);
	assert_int_equal(r.bare.curl_rc, 55);
	assert_int_equal(r.bare.status, 0);
	assert_string_equal(r.bare.err, "curl: (55) refused");
	assert_true(q0.step.run);
	assert_int_equal(q0.status, 200);
	assert_string_equal(q0.body.data, "{\"SessionId\": \"one\"}");
	assert_int_equal(q1.status, 404);
	assert_string_equal(q1.body.data, "not found");
	free(out);
	rm = xasprintf("%s/urls", dir);
	assert_int_equal(dcv_file_read(rm, &urls), 0);
	assert_non_null(strstr(urls.data, "/resolveSession?sessionId=dcvctl-check&transport=HTTP cert=no\n"));
	assert_non_null(strstr(urls.data, "/resolveSession?sessionId=one&transport=HTTP cert=yes\n"));
	assert_non_null(strstr(urls.data, "sessionId=%24%28reboot%29&transport=HTTP cert=yes\n"));
	assert_null(strstr(urls.data, "reboot)"));
	unlink(rm);
	free(rm);
	/* a gateway without curl says so and nothing else */
	memset(&r.bare, 0, sizeof(r.bare));
	out = run_sh(dir, "/nonexistent", s.data);
	assert_string_equal(out, "curl=no\n");
	dcv_check_resolver_parse(out, &r, q, 2);
	assert_true(r.no_curl);
	free(out);
	rm = xasprintf("rm -rf '%s'", dir);
	assert_int_equal(system(rm), 0);
	free(rm);
	free(curl);
	free(path);
	dcv_buf_release(&s);
	dcv_buf_release(&urls);
	dcv_buf_release(&r.bare.body);
	dcv_buf_release(&q0.body);
	dcv_buf_release(&q1.body);
}

/* ------------------------------------------------------------------ the registry */

static void collect(const struct world *w, bool *seen)
{
	for (int i = 0; i < w->rep.n; i++) {
		enum dcv_check_key key;
		char agent[64];
		if (!dcv_check_lookup(w->rep.checks[i].id, &key, agent, sizeof(agent)))
			fail_msg("row %s is not in the registry", w->rep.checks[i].id);
		seen[key] = true;
	}
}

static void test_check_every_registry_id_is_produced(void **state)
{
	bool seen[DCV_CK_COUNT] = { 0 };
	struct world w;

	(void)state;
	world_init(&w, "nginx");
	judge(&w);
	collect(&w, seen);
	world_free(&w);
	world_init(&w, "haproxy");
	w.o.hold_ms = 1000;
	ok_step(&w.in.ep.hold);
	w.in.ep.hold_r.status = 101;
	w.in.ep.hold_r.accept_ok = true;
	w.in.aws_run = true;
	for (int i = 0; i < DCV_AWS_N; i++)
		w.in.aws[i] = (struct dcv_aws_verdict){ DCV_CHECK_PASS, xstrdup("fine"), NULL, NULL };
	judge(&w);
	collect(&w, seen);
	world_free(&w);
	if (dcv_proxy_kind(DCV_PROXY_CONNECTION_GATEWAY)) {
		gw_world_init(&w, true);
		judge(&w);
		collect(&w, seen);
		world_free(&w);
	} else {
		/* the connection-gateway rows wait for the kind's registration (h-gwdeploy) */
		for (int k = DCV_CK_BROKER_SERVICE; k <= DCV_CK_RESOLVER_SESSION; k++)
			seen[k] = true;
	}
	for (int k = 0; k < DCV_CK_COUNT; k++)
		if (!seen[k])
			fail_msg("%s is declared but no canned run produces it", dcv_checks[k].pattern);
}

static void test_check_registry_ids_round_trip(void **state)
{
	char id[128], agent[64];
	enum dcv_check_key key;

	(void)state;
	for (int k = 0; k < DCV_CK_COUNT; k++) {
		assert_int_equal(dcv_checks[k].key, k);
		assert_non_null(dcv_checks[k].meaning);
		assert_non_null(dcv_checks[k].rule);
		/* the fix list ends with a fix for any cause, and every fix has a command */
		int f = 0;
		while (f < DCV_CHECK_MAX_FIXES && dcv_checks[k].fix[f].when != DCV_CAUSE_NONE)
			assert_non_null(dcv_checks[k].fix[f++].cmd);
		assert_true(f < DCV_CHECK_MAX_FIXES);
		assert_non_null(dcv_checks[k].fix[f].cmd);
		dcv_check_id((enum dcv_check_key)k, "dcv 1", id, sizeof(id));
		assert_true(dcv_check_lookup(id, &key, agent, sizeof(agent)));
		assert_int_equal(key, k);
		assert_string_equal(agent, strstr(dcv_checks[k].pattern, "%s") ? "dcv 1" : "");
	}
	assert_false(dcv_check_lookup("gateway.nonsense", &key, agent, sizeof(agent)));
	assert_false(dcv_check_lookup("agent..ssh", &key, agent, sizeof(agent)));
}

static void test_check_selection_filters_rows(void **state)
{
	struct world w;

	(void)state;
	world_init(&w, "nginx");
	w.o.only = "agent.dcv1";
	dcv_agent_facts_release(&host_in(&w, "dcv2")->agent);
	agent_facts(&w, "dcv2", "inactive", 0, true);
	judge(&w);
	for (int i = 0; i < w.rep.n; i++)
		assert_int_equal(strncmp(w.rep.checks[i].id, "agent.dcv1.", 11), 0);
	assert_null(w.rep.diagnosis.hop);
	world_free(&w);
}

static void test_check_man_page_lists_every_id(void **state)
{
	char *man = fixture("../../../man/dcvctl.1");
	const char *checks = strstr(man, "\n.SH CHECKS\n"), *end;

	(void)state;
	assert_non_null(checks);
	end = strstr(checks + 1, "\n.SH ");
	assert_non_null(end);
	for (int k = 0; k < DCV_CK_COUNT; k++) {
		struct dcv_buf line = DCV_BUF_INIT;
		dcv_check_man_line(&dcv_checks[k], &line);
		dcv_buf_addc(&line, '\n');
		const char *at = strstr(checks, line.data);
		if (!at || at > end)
			fail_msg("man/dcvctl.1 CHECKS lacks the line '%.*s'", (int)line.len - 1, line.data);
		dcv_buf_release(&line);
	}
	free(man);
}

/* ------------------------------------------------------------------ agent facts */

static void test_check_agent_facts_parse(void **state)
{
	struct dcv_agent_facts f;
	struct dcv_buf t = DCV_BUF_INIT;

	(void)state;
	dcv_buf_adds(&t, "os=amzn\n");
	unit_lines(&t, 0, "dcvserver", "failed", "enabled");
	unit_lines(&t, 1, DCV_UNIT_SM_AGENT, "active", "enabled");
	kv64(&t, "conf", "[connectivity]\nweb-port=8444\n  web-url-path = \"/dcv\"\n[display]\nweb-port = 1\n");
	kv64(&t, "ss", "LISTEN 0 5 0.0.0.0:8444 0.0.0.0:* users:((\"dcvserver\",pid=7,fd=3))\n");
	dcv_buf_adds(&t, "sessions.rc=0\n");
	kv64(&t, "sessions", "[{\"id\": \"Ubuntu Desktop\", \"owner\": \"ubuntu\", \"type\": \"console\"}]");
	kv64(&t, "log", "server started\n");
	assert_true(dcv_agent_facts_parse(t.data, &f));
	assert_string_equal(f.os, "amzn");
	assert_string_equal(f.dcvserver.active, "failed");
	assert_true(dcv_unit_is_active(&f.sm_agent));
	assert_int_equal(f.web_port, 8444);
	assert_string_equal(f.web_url_path, "/dcv");
	assert_string_equal(f.listener, "dcvserver");
	assert_true(f.sessions_ok);
	assert_int_equal(f.sessions.n, 1);
	assert_string_equal(f.sessions.v[0].id, "Ubuntu Desktop");
	assert_string_equal(dcv_buf_str(&f.log), "server started\n");
	dcv_agent_facts_release(&f);
	/* list-sessions failing is a fact, not a parse failure */
	dcv_buf_reset(&t);
	dcv_buf_adds(&t, "os=ubuntu\nsessions.rc=127\n");
	kv64(&t, "sessions", "dcv: command not found");
	assert_true(dcv_agent_facts_parse(t.data, &f));
	assert_false(f.sessions_ok);
	assert_string_equal(f.sessions_err, "dcv list-sessions failed (exit 127)");
	assert_false(f.conf_exists);
	assert_int_equal(f.web_port, 0);
	dcv_agent_facts_release(&f);
	/* not facts at all */
	assert_false(dcv_agent_facts_parse("sudo: a password is required\n", &f));
	dcv_agent_facts_release(&f);
	dcv_buf_release(&t);
}

static void test_check_agent_facts_script_quotes_and_asks_once(void **state)
{
	struct dcv_host a = { 0 };
	struct dcv_buf s = DCV_BUF_INIT;
	const char *p;
	int n = 0;

	(void)state;
	a.name = "dcv1";
	a.port = 8443;
	dcv_agent_facts_script(&a, &s);
	for (p = s.data; (p = strstr(p, "list-sessions")); p++)
		n++;
	assert_int_equal(n, 1);
	assert_non_null(strstr(s.data, "dcv list-sessions --json"));
	assert_non_null(strstr(s.data, "'sport = :8443'"));
	assert_non_null(strstr(s.data, "systemctl show"));
	assert_non_null(strstr(s.data, "f='/etc/dcv/dcv.conf'"));
	dcv_buf_release(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_check_healthy_has_no_diagnosis),
		cmocka_unit_test(test_check_bastion_down),
		cmocka_unit_test(test_check_gateway_ssh_down),
		cmocka_unit_test(test_check_nginx_stopped),
		cmocka_unit_test(test_check_another_process_on_the_listen_port),
		cmocka_unit_test(test_check_web_port_drift_on_one_agent),
		cmocka_unit_test(test_check_unset_web_port_is_drift_not_a_move),
		cmocka_unit_test(test_check_dcvserver_stopped_on_one_agent),
		cmocka_unit_test(test_check_dcvserver_runs_but_not_on_its_port),
		cmocka_unit_test(test_check_session_missing),
		cmocka_unit_test(test_check_cert_not_covering_the_name),
		cmocka_unit_test(test_check_haproxy_backend_down_names_the_agent),
		cmocka_unit_test(test_check_first_broken_hop_wins),
		cmocka_unit_test(test_check_aws_side_before_the_gateway),
		cmocka_unit_test(test_check_every_registry_id_is_produced),
		cmocka_unit_test(test_check_registry_ids_round_trip),
		cmocka_unit_test(test_check_selection_filters_rows),
		cmocka_unit_test(test_check_man_page_lists_every_id),
		cmocka_unit_test(test_check_agent_facts_parse),
		cmocka_unit_test(test_check_agent_facts_script_quotes_and_asks_once),
		cmocka_unit_test(test_check_gateway_healthy),
		cmocka_unit_test(test_check_gateway_broker_down_names_the_broker),
		cmocka_unit_test(test_check_gateway_session_closed),
		cmocka_unit_test(test_check_gateway_404_causes),
		cmocka_unit_test(test_check_gateway_broker_properties),
		cmocka_unit_test(test_check_gateway_resolver_tls_and_mtls),
		cmocka_unit_test(test_check_broker_facts_without_secrets),
		cmocka_unit_test(test_check_resolver_script_and_parse),
		cmocka_unit_test(test_check_resolver_script_through_a_shell),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
