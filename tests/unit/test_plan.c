/* Deploy's plan for canned facts: a fresh gateway, a deployed one (nothing to do), a drifted
 * config, the other proxy kind running, legacy units, and agents with dcv.conf drift and a
 * missing session. No host is touched: the plan is a function of inventory + facts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../lib/buf.h"
#include "../../lib/err.h"
#include "../../lib/facts.h"
#include "../../lib/inventory.h"
#include "../../lib/maint.h"
#include "../../lib/plan.h"
#include "../../lib/properties.h"
#include "../../lib/proxy.h"
#include "../../lib/proxy_gateway.h"
#include "../../lib/render.h"

#include "fixture.h"

#define SECRET "dcvctl:Pw0fTheTestOnly"

static struct dcv_inventory *load(void)
{
	struct dcv_inventory *inv = NULL;
	struct dcv_err err = DCV_ERR_INIT;
	char *path = fixture_path("render.conf");
	int rc = dcv_inventory_load(path, "/root", &inv, &err);

	if (rc)
		fail_msg("%s", err.msg);
	free(path);
	return inv;
}

static void set_unit(struct dcv_gw_facts *f, const char *unit, const char *active, const char *enabled)
{
	for (int i = 0; i < f->n_units; i++)
		if (strcmp(f->unit_names[i], unit) == 0) {
			snprintf(f->units[i].active, sizeof(f->units[i].active), "%s", active);
			snprintf(f->units[i].enabled, sizeof(f->units[i].enabled), "%s", enabled);
			return;
		}
	fail_msg("unit %s is not among the kind's units", unit);
}

/* A gateway with kind k's units all absent, the certificate in place, nothing else. */
static void gw_facts(struct dcv_gw_facts *f, const struct dcv_proxy_kind *k, const char *os)
{
	memset(f, 0, sizeof(*f));
	snprintf(f->os, sizeof(f->os), "%s", os);
	f->unit_names[f->n_units++] = k->unit;
	for (int i = 0; k->stop[i]; i++)
		f->unit_names[f->n_units++] = k->stop[i];
	f->unit_names[f->n_units++] = DCV_HEALTH_TIMER_UNIT;
	f->maint.logrotate_bin = true;
	for (int i = 0; i < f->n_units; i++)
		set_unit(f, f->unit_names[i], "inactive", "not-found");
	dcv_buf_adds(&f->cert_pem, "-----BEGIN CERTIFICATE-----\n");
	f->key_readable = true;
	f->validate_rc = -1;
}

/* The maintenance files as deploy leaves them: a gateway's (k != NULL) or an agent's. */
static void maint_deployed(struct dcv_maint_facts *m, const struct dcv_inventory *inv, const struct dcv_host *gw,
			   const struct dcv_proxy_kind *k, const char *os)
{
	struct dcv_logrotate_facts lf = { os, "", { 0 } };

	m->logrotate_bin = true;
	/* a kind that rotates its own logs (the Connection Gateway, §3.1) gets no logrotate file */
	m->lr_exists = !k || k->n_logrotate > 0;
	if (!k) {
		dcv_maint_logrotate(&dcv_maint_dcv_log, 1, &lf, &m->lr);
		return;
	}
	dcv_maint_logrotate(k->logrotate, k->n_logrotate, &lf, &m->lr);
	dcv_maint_health_script(inv, gw, k, &m->health[0]);
	dcv_maint_health_service(inv, k, &m->health[1]);
	dcv_maint_health_timer(inv, &m->health[2]);
	for (int i = 0; i < 3; i++)
		m->health_exists[i] = true;
}

/* The gateway as a finished deploy of kind k leaves it. */
static void deployed(struct dcv_gw_facts *f, const struct dcv_inventory *inv, const struct dcv_proxy_kind *k)
{
	struct dcv_proxy_env env;

	gw_facts(f, k, "ubuntu");
	f->has_binary = true;
	set_unit(f, k->unit, "active", "enabled");
	f->config_exists = true;
	for (int i = 0; i < k->n_derived; i++) {
		f->derived_exists[i] = f->derived_current[i] = true;
		if (k->derived[i].how == DCV_DERIVE_SECRET) {
			f->stats_user = xstrdup("dcvctl");
			f->stats_password = xstrdup("Kept0nTheGateway");
		}
	}
	dcv_gw_facts_env(f, &env);
	k->render(inv, &env, &f->config);
	maint_deployed(&f->maint, inv, dcv_inventory_gateway(inv), k, f->os);
	set_unit(f, DCV_HEALTH_TIMER_UNIT, "active", "enabled");
}

static int pos(const struct dcv_plan *p, const char *name)
{
	const struct dcv_plan_step *s = dcv_plan_find(p, name);

	if (!s)
		fail_msg("no step '%s' in the plan", name);
	return (int)(s - p->steps);
}

static const struct dcv_plan_step *step(const struct dcv_plan *p, const char *name)
{
	return &p->steps[pos(p, name)];
}

static bool holds(const char *const *units, int n, const char *unit)
{
	for (int i = 0; i < n; i++)
		if (strcmp(units[i], unit) == 0)
			return true;
	return false;
}

/* ------------------------------------------------------------------ gateway */

static void test_plan_fresh_gateway_installs_writes_and_takes_the_port(void **state)
{
	struct dcv_inventory *inv = load();
	const struct dcv_host *gw = dcv_inventory_gateway(inv);
	struct dcv_gw_facts f;
	struct dcv_plan p;
	(void)state;

	gw_facts(&f, &dcv_proxy_nginx, "ubuntu");
	set_unit(&f, DCV_UNIT_GATEWAY, "active", "enabled");
	dcv_plan_gateway(inv, gw, &dcv_proxy_nginx, &f, SECRET, &p);

	const struct dcv_plan_step *pkg = step(&p, "package"), *cfg = step(&p, "config");
	const struct dcv_plan_step *leg = step(&p, "legacy"), *svc = step(&p, "service");
	assert_true(pkg->change);
	assert_non_null(strstr(pkg->cmd, "apt-get install -y nginx"));
	assert_false(step(&p, "cert")->change);
	assert_false(step(&p, "cert")->blocked);
	assert_true(cfg->change);
	assert_null(cfg->before);
	assert_non_null(strstr(cfg->diff, "+upstream"));
	assert_string_equal(cfg->target, dcv_proxy_nginx.config);
	assert_string_equal(cfg->validate, dcv_proxy_nginx.validate);
	assert_true(leg->change);
	assert_int_equal(leg->n_stop, 1);
	assert_string_equal(leg->stop[0], DCV_UNIT_GATEWAY);
	assert_int_equal(leg->n_disable, 1);
	assert_true(svc->change);
	assert_string_equal(svc->verb, "start");
	assert_true(svc->enable);
	assert_string_equal(svc->detail, "would start and enable nginx");
	assert_false(step(&p, "listen")->change);
	/* the old path serves until the new proxy's file is valid */
	assert_true(pos(&p, "package") < pos(&p, "config"));
	assert_true(pos(&p, "config") < pos(&p, "legacy"));
	assert_true(pos(&p, "legacy") < pos(&p, "service"));
	assert_true(pos(&p, "service") < pos(&p, "listen"));
	dcv_plan_release(&p);
	dcv_gw_facts_release(&f);
	dcv_inventory_free(inv);
}

static void test_plan_gateway_unknown_os_or_missing_cert_blocks(void **state)
{
	struct dcv_inventory *inv = load();
	const struct dcv_host *gw = dcv_inventory_gateway(inv);
	struct dcv_gw_facts f;
	struct dcv_plan p;
	(void)state;

	gw_facts(&f, &dcv_proxy_nginx, "gentoo");
	dcv_plan_gateway(inv, gw, &dcv_proxy_nginx, &f, SECRET, &p);
	assert_true(step(&p, "package")->blocked);
	assert_non_null(strstr(step(&p, "package")->detail, "os 'gentoo' is unknown"));
	dcv_plan_release(&p);
	dcv_gw_facts_release(&f);

	gw_facts(&f, &dcv_proxy_nginx, "ubuntu");
	f.has_binary = true;
	dcv_buf_reset(&f.cert_pem);
	dcv_plan_gateway(inv, gw, &dcv_proxy_nginx, &f, SECRET, &p);
	assert_false(step(&p, "package")->blocked);
	assert_true(step(&p, "cert")->blocked);
	assert_non_null(strstr(step(&p, "cert")->detail, "missing /etc/dcv-connection-gateway/cert.pem"));
	assert_non_null(strstr(step(&p, "cert")->detail, "dcvctl cert generate"));
	dcv_plan_release(&p);
	dcv_gw_facts_release(&f);
	dcv_inventory_free(inv);
}

static void test_plan_deployed_gateway_changes_and_restarts_nothing(void **state)
{
	struct dcv_inventory *inv = load();
	struct dcv_host *gw = dcv_inventory_gateway(inv);
	(void)state;

	for (int k = 0; dcv_proxy_kinds[k]; k++) {
		struct dcv_gw_facts f;
		struct dcv_plan p;
		gw->proxy = dcv_proxy_kinds[k]->id;
		deployed(&f, inv, dcv_proxy_kinds[k]);
		dcv_plan_gateway(inv, gw, dcv_proxy_kinds[k], &f, SECRET, &p);
		assert_true(p.n >= 6);
		for (int i = 0; i < p.n; i++) {
			if (p.steps[i].change || p.steps[i].restart || p.steps[i].blocked || p.steps[i].diff ||
			    p.steps[i].reason)
				fail_msg("%s: step %s: %s", dcv_proxy_kinds[k]->name, p.steps[i].name, p.steps[i].detail);
		}
		char *want = xasprintf("%s active and enabled", dcv_proxy_kinds[k]->unit);
		assert_string_equal(step(&p, "service")->detail, want);
		free(want);
		dcv_plan_release(&p);
		dcv_gw_facts_release(&f);
	}
	dcv_inventory_free(inv);
}

static void test_plan_drifted_config_is_one_change_and_a_reload(void **state)
{
	struct dcv_inventory *inv = load();
	const struct dcv_host *gw = dcv_inventory_gateway(inv);
	struct dcv_gw_facts f;
	struct dcv_plan p;
	int changes = 0;
	(void)state;

	deployed(&f, inv, &dcv_proxy_nginx);
	dcv_buf_adds(&f.config, "# edited by hand\n");
	dcv_plan_gateway(inv, gw, &dcv_proxy_nginx, &f, SECRET, &p);
	for (int i = 0; i < p.n; i++)
		changes += p.steps[i].change;
	assert_int_equal(changes, 1);
	const struct dcv_plan_step *cfg = step(&p, "config");
	assert_true(cfg->change);
	assert_true(cfg->restart);
	assert_string_equal(cfg->reload, dcv_proxy_nginx.reload);
	assert_non_null(strstr(cfg->diff, "-# edited by hand"));
	assert_non_null(strstr(cfg->before, "# edited by hand"));
	assert_null(strstr(cfg->after, "# edited by hand"));
	/* a running proxy is reloaded by the transaction, not started again */
	assert_false(step(&p, "service")->change);
	assert_true(step(&p, "service")->restart);
	assert_string_equal(step(&p, "service")->detail, "nginx active and enabled (reloaded)");
	dcv_plan_release(&p);
	dcv_gw_facts_release(&f);
	dcv_inventory_free(inv);
}

static void test_plan_haproxy_over_running_nginx_validates_before_stopping_it(void **state)
{
	struct dcv_inventory *inv = load();
	struct dcv_host *gw = dcv_inventory_gateway(inv);
	const struct dcv_proxy_kind *k = &dcv_proxy_haproxy;
	struct dcv_gw_facts f;
	struct dcv_plan p;
	(void)state;

	gw->proxy = k->id;
	gw_facts(&f, k, "amzn");
	set_unit(&f, "nginx", "active", "enabled");
	set_unit(&f, DCV_UNIT_GATEWAY, "inactive", "enabled"); /* legacy: would come back at boot */
	set_unit(&f, DCV_UNIT_BROKER, "active", "enabled");
	dcv_plan_gateway(inv, gw, k, &f, SECRET, &p);

	assert_non_null(strstr(step(&p, "package")->cmd, "install -y haproxy"));
	for (int i = 0; i < k->n_derived; i++) {
		const struct dcv_plan_step *d = step(&p, k->derived[i].step);
		assert_true(d->change);
		assert_true(pos(&p, k->derived[i].step) < pos(&p, "config"));
		if (k->derived[i].how == DCV_DERIVE_SECRET)
			assert_string_equal(d->after, SECRET);
	}
	const struct dcv_plan_step *cfg = step(&p, "config"), *leg = step(&p, "legacy");
	assert_true(cfg->change);
	assert_string_equal(cfg->validate, k->validate);
	/* the new secret is in the file, never in the diff */
	assert_non_null(strstr(cfg->after, "Pw0fTheTestOnly"));
	assert_null(strstr(cfg->diff, "Pw0fTheTestOnly"));
	assert_non_null(strstr(cfg->diff, "dcvctl:<redacted>"));
	assert_true(pos(&p, "package") < pos(&p, "config"));
	assert_true(pos(&p, "config") < pos(&p, "legacy"));
	assert_true(pos(&p, "legacy") < pos(&p, "service"));
	assert_true(leg->change);
	assert_int_equal(leg->n_stop, 2);
	assert_true(holds(leg->stop, leg->n_stop, "nginx"));
	assert_true(holds(leg->stop, leg->n_stop, DCV_UNIT_BROKER));
	assert_int_equal(leg->n_disable, 3);
	assert_true(holds(leg->disable, leg->n_disable, DCV_UNIT_GATEWAY));
	assert_non_null(strstr(leg->detail, "nginx"));
	assert_non_null(strstr(leg->before, "nginx active enabled"));
	assert_string_equal(step(&p, "service")->detail, "would start and enable haproxy");
	dcv_plan_release(&p);
	dcv_gw_facts_release(&f);
	dcv_inventory_free(inv);
}

static void test_plan_kept_secret_is_not_regenerated(void **state)
{
	struct dcv_inventory *inv = load();
	struct dcv_host *gw = dcv_inventory_gateway(inv);
	struct dcv_gw_facts f;
	struct dcv_plan p;
	(void)state;

	gw->proxy = dcv_proxy_haproxy.id;
	deployed(&f, inv, &dcv_proxy_haproxy);
	dcv_plan_gateway(inv, gw, &dcv_proxy_haproxy, &f, SECRET, &p);
	assert_null(p.secret);
	assert_null(strstr(step(&p, "config")->after, "Pw0fTheTestOnly"));
	assert_non_null(strstr(step(&p, "config")->after, "Kept0nTheGateway"));
	dcv_plan_release(&p);
	dcv_gw_facts_release(&f);
	dcv_inventory_free(inv);
}

/* ------------------------------------------------------------------ maintenance */

static void test_plan_fresh_gateway_writes_the_maintenance_files_and_starts_the_timer(void **state)
{
	struct dcv_inventory *inv = load();
	const struct dcv_host *gw = dcv_inventory_gateway(inv);
	struct dcv_gw_facts f;
	struct dcv_plan p;
	(void)state;

	gw_facts(&f, &dcv_proxy_nginx, "amzn");
	snprintf(f.maint.lr_dirs[0], sizeof(f.maint.lr_dirs[0]), "nginx root 700");
	dcv_plan_gateway(inv, gw, &dcv_proxy_nginx, &f, SECRET, &p);
	const struct dcv_plan_step *lr = step(&p, "logrotate"), *sc = step(&p, "health-script");
	const struct dcv_plan_step *tm = step(&p, "health-timer"), *h = step(&p, "health");
	assert_true(lr->change);
	assert_string_equal(lr->target, "/etc/logrotate.d/dcvctl-nginx");
	assert_string_equal(lr->validate, "logrotate -d /etc/logrotate.d/dcvctl-nginx");
	assert_non_null(strstr(lr->reload, DCV_MAINT_BACKUP_DIR));
	assert_non_null(strstr(lr->diff, "+    create 0640 nginx root"));
	assert_non_null(strstr(lr->diff, "+    su nginx root"));
	assert_true(sc->change);
	assert_string_equal(sc->mode, "755");
	assert_string_equal(sc->validate, "sh -n " DCV_HEALTH_SCRIPT);
	assert_true(step(&p, "health-service")->change);
	assert_string_equal(step(&p, "health-service")->reload, "systemctl daemon-reload");
	assert_true(tm->change);
	assert_non_null(strstr(tm->diff, "+OnUnitActiveSec=60s"));
	assert_true(h->change);
	assert_int_equal(h->op, DCV_OP_UNIT);
	assert_string_equal(h->verb, "start");
	assert_true(h->enable);
	assert_string_equal(h->detail, "would start and enable dcvctl-health.timer");
	/* maintenance comes once the proxy serves */
	assert_true(pos(&p, "listen") < pos(&p, "logrotate"));
	assert_true(pos(&p, "health-timer") < pos(&p, "health"));
	dcv_plan_release(&p);
	dcv_gw_facts_release(&f);
	dcv_inventory_free(inv);
}

static void test_plan_maintenance_changes_follow_the_inventory(void **state)
{
	struct dcv_inventory *inv = load();
	const struct dcv_host *gw = dcv_inventory_gateway(inv);
	struct dcv_gw_facts f;
	struct dcv_plan p;
	(void)state;

	/* a new limit rewrites the script and service; the timer keeps running as it is */
	deployed(&f, inv, &dcv_proxy_nginx);
	inv->restart_limit = 5;
	dcv_plan_gateway(inv, gw, &dcv_proxy_nginx, &f, SECRET, &p);
	assert_true(step(&p, "health-script")->change);
	assert_non_null(strstr(step(&p, "health-script")->diff, "+limit=5"));
	assert_false(step(&p, "health-timer")->change);
	assert_false(step(&p, "health")->change);
	dcv_plan_release(&p);
	/* a new interval restarts the running timer so it takes the new schedule */
	inv->restart_limit = 3;
	inv->health_interval_ms = 300000;
	dcv_plan_gateway(inv, gw, &dcv_proxy_nginx, &f, SECRET, &p);
	assert_true(step(&p, "health-timer")->change);
	assert_string_equal(step(&p, "health")->verb, "restart");
	assert_false(step(&p, "health")->enable);
	dcv_plan_release(&p);
	dcv_gw_facts_release(&f);
	dcv_inventory_free(inv);
}

static void test_plan_opt_out_removes_what_maintenance_installed(void **state)
{
	struct dcv_inventory *inv = load();
	const struct dcv_host *gw = dcv_inventory_gateway(inv);
	struct dcv_gw_facts f;
	struct dcv_plan p;
	(void)state;

	deployed(&f, inv, &dcv_proxy_nginx);
	inv->logrotate = false;
	inv->health_restart = false;
	dcv_plan_gateway(inv, gw, &dcv_proxy_nginx, &f, SECRET, &p);
	const struct dcv_plan_step *lr = step(&p, "logrotate"), *h = step(&p, "health");
	assert_int_equal(lr->op, DCV_OP_REMOVE);
	assert_true(lr->change);
	assert_int_equal(lr->n_remove, 1);
	assert_string_equal(lr->remove[0], "/etc/logrotate.d/dcvctl-nginx");
	assert_string_equal(lr->reason, "[maintenance] logrotate = no");
	assert_int_equal(h->op, DCV_OP_REMOVE);
	assert_int_equal(h->n_stop, 1);
	assert_int_equal(h->n_disable, 1);
	assert_string_equal(h->stop[0], DCV_HEALTH_TIMER_UNIT);
	assert_int_equal(h->n_remove, 3);
	assert_string_equal(h->reload, "systemctl daemon-reload");
	assert_null(dcv_plan_find(&p, "health-script"));
	dcv_plan_release(&p);
	dcv_gw_facts_release(&f);

	/* once removed, nothing is left to do */
	gw_facts(&f, &dcv_proxy_nginx, "ubuntu");
	dcv_plan_gateway(inv, gw, &dcv_proxy_nginx, &f, SECRET, &p);
	assert_false(step(&p, "logrotate")->change);
	assert_false(step(&p, "health")->change);
	assert_string_equal(step(&p, "health")->detail, "health: not installed ([maintenance] health-restart = no)");
	dcv_plan_release(&p);
	dcv_gw_facts_release(&f);
	dcv_inventory_free(inv);
}

/* The package's own logrotate file rotates nginx's logs: dcvctl adds none (a duplicate is an
 * error to logrotate), and takes back one it wrote before. Without logrotate the step blocks. */
static void test_plan_logrotate_defers_to_the_package_and_needs_logrotate(void **state)
{
	struct dcv_inventory *inv = load();
	const struct dcv_host *gw = dcv_inventory_gateway(inv);
	struct dcv_gw_facts f;
	struct dcv_plan p;
	(void)state;

	deployed(&f, inv, &dcv_proxy_nginx);
	dcv_buf_adds(&f.maint.lr_others, "### /etc/logrotate.d/nginx\n/var/log/nginx/*.log {\n}\n");
	dcv_plan_gateway(inv, gw, &dcv_proxy_nginx, &f, SECRET, &p);
	assert_true(step(&p, "logrotate")->change);
	assert_int_equal(step(&p, "logrotate")->op, DCV_OP_REMOVE);
	assert_string_equal(step(&p, "logrotate")->reason,
			    "/var/log/nginx/dcv-*.log: rotated by /etc/logrotate.d/nginx already");
	dcv_plan_release(&p);
	f.maint.lr_exists = false;
	dcv_plan_gateway(inv, gw, &dcv_proxy_nginx, &f, SECRET, &p);
	assert_false(step(&p, "logrotate")->change);
	dcv_plan_release(&p);
	dcv_gw_facts_release(&f);

	gw_facts(&f, &dcv_proxy_nginx, "ubuntu");
	f.maint.logrotate_bin = false;
	dcv_plan_gateway(inv, gw, &dcv_proxy_nginx, &f, SECRET, &p);
	assert_true(step(&p, "logrotate")->blocked);
	assert_non_null(strstr(step(&p, "logrotate")->detail, "logrotate is not installed on gateway"));
	dcv_plan_release(&p);
	dcv_gw_facts_release(&f);
	dcv_inventory_free(inv);
}

/* ------------------------------------------------------------------ agents */

/* dcv1 in its deployed state: dcv.conf rendered, units right, its session there. */
static void agent_deployed(struct dcv_agent_facts *st, const struct dcv_host *h)
{
	struct dcv_err err = DCV_ERR_INIT;
	char *list = xasprintf("[{\"id\": \"%s\", \"owner\": \"%s\", \"type\": \"%s\", \"name\": \"%s\"}]", h->session,
			       h->session_owner, h->session_type, h->session_name);

	memset(st, 0, sizeof(*st));
	snprintf(st->sm_agent.active, sizeof(st->sm_agent.active), "inactive");
	snprintf(st->sm_agent.enabled, sizeof(st->sm_agent.enabled), "disabled");
	snprintf(st->dcvserver.active, sizeof(st->dcvserver.active), "active");
	snprintf(st->dcvserver.enabled, sizeof(st->dcvserver.enabled), "enabled");
	st->conf_exists = true;
	dcv_render_dcvconf("[connectivity]\n", h, true, &st->conf);
	snprintf(st->os, sizeof(st->os), "ubuntu");
	maint_deployed(&st->maint, NULL, NULL, NULL, st->os);
	st->sessions_ok = dcv_sessions_parse(list, &st->sessions, &err) == DCV_OK;
	assert_true(st->sessions_ok);
	free(list);
}

static void test_plan_deployed_agent_changes_nothing(void **state)
{
	struct dcv_inventory *inv = load();
	const struct dcv_host *h = dcv_inventory_host(inv, "dcv1");
	struct dcv_agent_facts st;
	struct dcv_plan p;
	(void)state;

	agent_deployed(&st, h);
	dcv_plan_agent(inv, h, &st, &p);
	assert_int_equal(p.n, 5);
	for (int i = 0; i < p.n; i++)
		if (p.steps[i].change || p.steps[i].restart || p.steps[i].blocked)
			fail_msg("step %s: %s", p.steps[i].name, p.steps[i].detail);
	assert_string_equal(step(&p, "dcvserver")->detail, "dcvserver active, dcv.conf unchanged");
	dcv_plan_release(&p);
	dcv_agent_facts_release(&st);
	dcv_inventory_free(inv);
}

static void test_plan_agent_logrotate_absent_equal_opted_out(void **state)
{
	struct dcv_inventory *inv = load();
	const struct dcv_host *h = dcv_inventory_host(inv, "dcv1");
	struct dcv_agent_facts st;
	struct dcv_plan p;
	(void)state;

	agent_deployed(&st, h);
	dcv_plan_agent(inv, h, &st, &p);
	assert_false(step(&p, "logrotate")->change);
	assert_string_equal(step(&p, "logrotate")->detail, DCV_LOGROTATE_DCV " is up to date");
	dcv_plan_release(&p);
	st.maint.lr_exists = false;
	dcv_buf_reset(&st.maint.lr);
	dcv_plan_agent(inv, h, &st, &p);
	assert_true(step(&p, "logrotate")->change);
	assert_string_equal(step(&p, "logrotate")->reason, "the file is absent");
	assert_non_null(strstr(step(&p, "logrotate")->diff, "+/var/log/dcv/*.log {"));
	assert_false(step(&p, "dcvserver")->change); /* logs are no reason to restart */
	dcv_plan_release(&p);
	st.maint.lr_exists = true;
	inv->logrotate = false;
	dcv_plan_agent(inv, h, &st, &p);
	assert_int_equal(step(&p, "logrotate")->op, DCV_OP_REMOVE);
	assert_string_equal(step(&p, "logrotate")->detail, "would remove " DCV_LOGROTATE_DCV);
	dcv_plan_release(&p);
	dcv_agent_facts_release(&st);
	dcv_inventory_free(inv);
}

static void test_plan_agent_web_port_drift_restarts_and_then_ensures_the_session(void **state)
{
	struct dcv_inventory *inv = load();
	const struct dcv_host *h = dcv_inventory_host(inv, "dcv1");
	struct dcv_agent_facts st;
	struct dcv_plan p;
	char *port = xasprintf("web-port=%d", h->port);
	(void)state;

	agent_deployed(&st, h);
	dcv_buf_reset(&st.conf);
	dcv_buf_adds(&st.conf, "[connectivity]\nweb-port=8444\n");
	dcv_sessions_release(&st.sessions); /* and the session is missing */
	snprintf(st.sm_agent.active, sizeof(st.sm_agent.active), "active");
	dcv_plan_agent(inv, h, &st, &p);

	const struct dcv_plan_step *sm = step(&p, "sm-agent"), *conf = step(&p, "dcv.conf");
	const struct dcv_plan_step *srv = step(&p, "dcvserver"), *ses = step(&p, "session");
	assert_true(sm->change);
	assert_int_equal(sm->n_stop, 1);
	assert_int_equal(sm->n_disable, 0);
	assert_true(conf->change);
	assert_non_null(strstr(conf->diff, "-web-port=8444"));
	assert_non_null(strstr(conf->after, port));
	assert_true(srv->change);
	assert_true(srv->restart);
	assert_string_equal(srv->verb, "restart");
	assert_false(srv->enable);
	/* the automatic console session: dcvserver creates it at start, deploy waits for it */
	assert_false(ses->change);
	assert_true(ses->after_restart);
	assert_true(ses->await);
	assert_int_equal(ses->session, DCV_SESSION_NONE);
	assert_string_equal(ses->detail, "would wait for dcvserver to create session 'console' after its restart");
	assert_true(pos(&p, "dcv.conf") < pos(&p, "dcvserver"));
	assert_true(pos(&p, "dcvserver") < pos(&p, "session"));
	free(port);
	dcv_plan_release(&p);
	dcv_agent_facts_release(&st);
	dcv_inventory_free(inv);
}

static void test_plan_agent_missing_session_alone_is_created_without_restart(void **state)
{
	struct dcv_inventory *inv = load();
	const struct dcv_host *h = dcv_inventory_host(inv, "dcv1");
	struct dcv_agent_facts st;
	struct dcv_plan p;
	(void)state;

	agent_deployed(&st, h);
	dcv_sessions_release(&st.sessions);
	dcv_plan_agent(inv, h, &st, &p);
	assert_false(step(&p, "dcvserver")->change);
	assert_true(step(&p, "session")->change);
	assert_false(step(&p, "session")->after_restart);
	assert_int_equal(step(&p, "session")->session, DCV_SESSION_CREATE);
	assert_string_equal(step(&p, "session")->reason, "no session 'console'");
	assert_string_equal(step(&p, "session")->detail, "would create session 'console'");
	dcv_plan_release(&p);

	/* list-sessions failing is a failed step, with its message */
	dcv_agent_facts_release(&st);
	agent_deployed(&st, h);
	st.sessions_ok = false;
	snprintf(st.sessions_err, sizeof(st.sessions_err), "dcv list-sessions failed (exit 1): no server");
	dcv_plan_agent(inv, h, &st, &p);
	assert_true(step(&p, "session")->blocked);
	assert_string_equal(step(&p, "session")->detail, "dcv list-sessions failed (exit 1): no server");
	dcv_plan_release(&p);
	dcv_agent_facts_release(&st);
	dcv_inventory_free(inv);
}

/* ------------------------------------------------------------------ connection-gateway */

#define TS_PASS "Tru5tStorePassw0rdOnly4Tests"
#define CA_PEM "-----BEGIN CERTIFICATE-----\nbroker-ca\n-----END CERTIFICATE-----\n"
#define CC_PEM "-----BEGIN CERTIFICATE-----\ngateway-client\n-----END CERTIFICATE-----\n"
#define CK_PEM "-----BEGIN PRIVATE KEY-----\nclient-key-material\n-----END PRIVATE KEY-----\n"

static struct dcv_inventory *load_cg(bool mtls)
{
	struct dcv_inventory *inv = NULL;
	struct dcv_err err = DCV_ERR_INIT;
	char *path = fixture_path("gateway/inventory.conf");

	if (dcv_inventory_load(path, "/root", &inv, &err))
		fail_msg("%s", err.msg);
	free(path);
	inv->tls_client_auth = mtls;
	return inv;
}

static void set_state(struct dcv_unit_state *u, const char *active, const char *enabled)
{
	snprintf(u->active, sizeof(u->active), "%s", active);
	snprintf(u->enabled, sizeof(u->enabled), "%s", enabled);
}

/* A broker as the package leaves it: stock properties, CA made, stopped, no credentials. */
static void broker_fresh(struct dcv_broker_facts *bf)
{
	char *stock = fixture("broker/stock.properties");

	memset(bf, 0, sizeof(*bf));
	snprintf(bf->os, sizeof(bf->os), "amzn");
	snprintf(bf->creds_dir, sizeof(bf->creds_dir), "%s", DCV_BROKER_CREDS);
	bf->has_binary = bf->has_gen_certs = true;
	set_state(&bf->broker, "inactive", "disabled");
	bf->props_exists = true;
	dcv_buf_adds(&bf->props, stock);
	dcv_buf_adds(&bf->ca_pem, CA_PEM);
	free(stock);
}

/* The broker as a finished deploy leaves it (mTLS on: the trust store in the printed folder). */
static void broker_deployed(struct dcv_broker_facts *bf, const struct dcv_inventory *inv)
{
	struct dcv_broker_mtls m = { "/etc/dcv-session-manager-broker/resolver-creds/truststore.p12", TS_PASS };
	struct dcv_buf props = DCV_BUF_INIT;

	broker_fresh(bf);
	set_state(&bf->broker, "active", "enabled");
	dcv_render_broker_properties(bf->props.data, inv, inv->tls_client_auth ? &m : NULL, &props);
	dcv_buf_reset(&bf->props);
	dcv_buf_adds(&bf->props, props.data);
	dcv_buf_release(&props);
	if (inv->tls_client_auth) {
		bf->trust_store_exists = true;
		dcv_buf_adds(&bf->client_cert, CC_PEM);
		dcv_buf_adds(&bf->client_key, CK_PEM);
	}
}

static void copies_deployed(struct dcv_gw_resolver_facts *c, bool mtls)
{
	memset(c, 0, sizeof(*c));
	c->ca_exists = true;
	dcv_buf_adds(&c->ca, CA_PEM);
	if (mtls) {
		c->cert_exists = c->key_exists = true;
		dcv_buf_adds(&c->cert, CC_PEM);
		dcv_buf_adds(&c->key, CK_PEM);
		snprintf(c->key_mode, sizeof(c->key_mode), "600");
	}
}

/* The gateway as a connection-gateway deploy leaves it. */
static void cg_deployed(struct dcv_gw_facts *f, const struct dcv_inventory *inv)
{
	struct dcv_err err = DCV_ERR_INIT;

	deployed(f, inv, &dcv_proxy_gateway);
	dcv_buf_reset(&f->config);
	assert_int_equal(dcv_render_gateway(inv, NULL, &f->config, &err), DCV_OK);
}

static void assert_no_change(const struct dcv_plan *p)
{
	for (int i = 0; i < p->n; i++)
		if (p->steps[i].change || p->steps[i].restart || p->steps[i].blocked || p->steps[i].diff)
			fail_msg("step %s: %s", p->steps[i].name, p->steps[i].detail);
}

static void test_plan_broker_fresh_enables_the_gateway_connector_and_starts(void **state)
{
	struct dcv_inventory *inv = load_cg(false);
	const struct dcv_host *b = dcv_broker_host(inv);
	struct dcv_broker_facts bf;
	struct dcv_plan p;
	(void)state;

	assert_ptr_equal(b, dcv_inventory_gateway(inv));
	broker_fresh(&bf);
	dcv_plan_broker(inv, b, &bf, NULL, &p);
	assert_false(step(&p, "broker-installed")->blocked);
	assert_null(dcv_plan_find(&p, "gateway-certs"));
	assert_true(step(&p, "broker.properties")->change);
	assert_non_null(strstr(step(&p, "broker.properties")->diff, "+enable-gateway = true"));
	assert_non_null(strstr(step(&p, "broker.properties")->after, "\nenable-tls-client-auth-gateway = false\n"));
	assert_string_equal(step(&p, "broker")->verb, "start");
	assert_true(step(&p, "broker")->enable);
	assert_int_equal(step(&p, "resolver-port")->port, 8447);
	assert_true(pos(&p, "broker.properties") < pos(&p, "broker"));
	assert_true(pos(&p, "broker") < pos(&p, "resolver-port"));
	dcv_plan_release(&p);
	dcv_broker_facts_release(&bf);
	dcv_inventory_free(inv);
}

static void test_plan_broker_mtls_generates_once_and_never_shows_the_password(void **state)
{
	struct dcv_inventory *inv = load_cg(true);
	const struct dcv_host *b = dcv_broker_host(inv);
	struct dcv_broker_mtls made = { "/etc/dcv-session-manager-broker/resolver-creds/truststore.p12", TS_PASS };
	struct dcv_broker_facts bf;
	struct dcv_plan p;
	(void)state;

	broker_fresh(&bf);
	dcv_plan_broker(inv, b, &bf, NULL, &p);
	assert_true(step(&p, "gateway-certs")->change);
	assert_string_equal(step(&p, "gateway-certs")->cmd, DCV_BROKER_GEN_CERTS);
	assert_true(pos(&p, "gateway-certs") < pos(&p, "broker.properties"));
	dcv_plan_release(&p);

	/* deploy runs the script and plans again with what it printed */
	dcv_plan_broker(inv, b, &bf, &made, &p);
	assert_false(step(&p, "gateway-certs")->change);
	assert_non_null(strstr(step(&p, "broker.properties")->after, "gateway-to-broker-connector-trust-store-pass = " TS_PASS "\n"));
	assert_non_null(strstr(step(&p, "broker.properties")->after, "enable-tls-client-auth-gateway = true\n"));
	for (int i = 0; i < p.n; i++) {
		if (p.steps[i].diff && strstr(p.steps[i].diff, TS_PASS))
			fail_msg("step %s shows the trust-store password in its diff", p.steps[i].name);
		if (p.steps[i].detail && strstr(p.steps[i].detail, TS_PASS))
			fail_msg("step %s shows the trust-store password", p.steps[i].name);
	}
	assert_non_null(strstr(step(&p, "broker.properties")->diff, "trust-store-pass = <redacted>"));
	dcv_plan_release(&p);
	dcv_broker_facts_release(&bf);
	dcv_inventory_free(inv);
}

static void test_plan_broker_deployed_changes_nothing_and_does_not_regenerate(void **state)
{
	for (int mtls = 0; mtls < 2; mtls++) {
		struct dcv_inventory *inv = load_cg(mtls);
		struct dcv_broker_facts bf;
		struct dcv_plan p;
		(void)state;

		broker_deployed(&bf, inv);
		dcv_plan_broker(inv, dcv_broker_host(inv), &bf, NULL, &p);
		assert_no_change(&p);
		assert_string_equal(step(&p, "broker")->detail, "dcv-session-manager-broker active, properties unchanged");
		if (mtls) {
			assert_string_equal(step(&p, "gateway-certs")->detail,
					    "client credentials in " DCV_BROKER_CREDS " kept (not regenerated)");
			assert_null(step(&p, "gateway-certs")->cmd);
		}
		dcv_plan_release(&p);
		dcv_broker_facts_release(&bf);
		dcv_inventory_free(inv);
	}
}

/* Credentials made again (the folder was lost): the diff replaces one password by another and
 * shows neither. */
static void test_plan_broker_new_trust_store_hides_old_and_new_password(void **state)
{
	struct dcv_inventory *inv = load_cg(true);
	struct dcv_broker_mtls made = { "/etc/dcv-session-manager-broker/resolver-creds/truststore.p12",
					"N3wTrustStorePassword" };
	struct dcv_broker_facts bf;
	struct dcv_plan p;
	const struct dcv_plan_step *s;
	(void)state;

	broker_deployed(&bf, inv);
	dcv_plan_broker(inv, dcv_broker_host(inv), &bf, &made, &p);
	s = step(&p, "broker.properties");
	assert_true(s->change);
	assert_non_null(strstr(s->diff, "-gateway-to-broker-connector-trust-store-pass = <redacted>\n"));
	assert_non_null(strstr(s->diff, "+gateway-to-broker-connector-trust-store-pass = <redacted>\n"));
	assert_null(strstr(s->diff, TS_PASS));
	assert_null(strstr(s->diff, "N3wTrustStorePassword"));
	assert_string_equal(step(&p, "broker")->verb, "restart");
	dcv_plan_release(&p);
	dcv_broker_facts_release(&bf);
	dcv_inventory_free(inv);
}

static void test_plan_broker_without_gen_script_is_blocked(void **state)
{
	struct dcv_inventory *inv = load_cg(true);
	struct dcv_broker_facts bf;
	struct dcv_plan p;
	(void)state;

	broker_fresh(&bf);
	bf.has_gen_certs = false;
	bf.has_binary = false;
	dcv_plan_broker(inv, dcv_broker_host(inv), &bf, NULL, &p);
	assert_true(step(&p, "broker-installed")->blocked);
	assert_true(step(&p, "gateway-certs")->blocked);
	assert_non_null(strstr(step(&p, "gateway-certs")->detail, "gen-gateway-certificates.sh is missing on gateway"));
	dcv_plan_release(&p);
	dcv_broker_facts_release(&bf);
	dcv_inventory_free(inv);
}

static void test_plan_connection_gateway_deployed_changes_nothing(void **state)
{
	for (int mtls = 0; mtls < 2; mtls++) {
		struct dcv_inventory *inv = load_cg(mtls);
		const struct dcv_host *gw = dcv_inventory_gateway(inv);
		struct dcv_broker_facts bf;
		struct dcv_gw_resolver_facts c;
		struct dcv_plan_resolver r = { gw, &bf, &c, false };
		struct dcv_gw_facts f;
		struct dcv_plan p;
		(void)state;

		broker_deployed(&bf, inv);
		copies_deployed(&c, mtls);
		cg_deployed(&f, inv);
		dcv_plan_gateway_resolver(inv, gw, &dcv_proxy_gateway, &f, &r, &p);
		assert_no_change(&p);
		assert_string_equal(step(&p, "service")->detail, "dcv-connection-gateway active and enabled");
		assert_int_equal(dcv_plan_find(&p, "client-key") != NULL, mtls);
		dcv_plan_release(&p);
		dcv_gw_facts_release(&f);
		dcv_gw_resolver_facts_release(&c);
		dcv_broker_facts_release(&bf);
		dcv_inventory_free(inv);
	}
}

/* From nginx: the copies and the config land first, then nginx lets the port go, then the
 * gateway starts; the client key is copied mode 600 and never shown. */
static void test_plan_connection_gateway_from_nginx_orders_the_takeover(void **state)
{
	struct dcv_inventory *inv = load_cg(true);
	const struct dcv_host *gw = dcv_inventory_gateway(inv);
	struct dcv_broker_facts bf;
	struct dcv_gw_resolver_facts c;
	struct dcv_plan_resolver r = { gw, &bf, &c, false };
	struct dcv_gw_facts f;
	struct dcv_plan p;
	const struct dcv_plan_step *key, *legacy;
	(void)state;

	broker_deployed(&bf, inv);
	memset(&c, 0, sizeof(c));
	gw_facts(&f, &dcv_proxy_gateway, "amzn");
	f.has_binary = true;
	set_unit(&f, "nginx", "active", "enabled");
	dcv_plan_gateway_resolver(inv, gw, &dcv_proxy_gateway, &f, &r, &p);
	for (int i = 0; i < p.n; i++)
		assert_false(p.steps[i].blocked);
	assert_true(step(&p, "broker-ca")->change);
	assert_string_equal(step(&p, "broker-ca")->after, CA_PEM);
	key = step(&p, "client-key");
	assert_true(key->change);
	assert_true(key->secret_file);
	assert_string_equal(key->mode, "600");
	assert_null(key->diff);
	assert_null(strstr(key->detail, "client-key-material"));
	assert_non_null(strstr(step(&p, "config")->after, "cert-key-file = \"" DCV_GATEWAY_CLIENT_KEY "\""));
	assert_non_null(strstr(step(&p, "config")->after, "url = \"https://broker.lab.example:8447\""));
	assert_non_null(strstr(step(&p, "config")->detail, "linted"));
	legacy = step(&p, "legacy");
	assert_int_equal(legacy->n_stop, 1);
	assert_string_equal(legacy->stop[0], "nginx");
	assert_int_equal(legacy->n_disable, 1);
	assert_true(pos(&p, "broker-ca") < pos(&p, "config"));
	assert_true(pos(&p, "client-key") < pos(&p, "config"));
	assert_true(pos(&p, "config") < pos(&p, "legacy"));
	assert_true(pos(&p, "legacy") < pos(&p, "service"));
	assert_string_equal(step(&p, "service")->verb, "start");
	dcv_plan_release(&p);
	dcv_gw_facts_release(&f);
	dcv_broker_facts_release(&bf);
	dcv_inventory_free(inv);
}

/* Only the CA changed (the broker made a new one): the gateway restarts to read it. */
static void test_plan_connection_gateway_new_ca_restarts_the_gateway(void **state)
{
	struct dcv_inventory *inv = load_cg(false);
	const struct dcv_host *gw = dcv_inventory_gateway(inv);
	struct dcv_broker_facts bf;
	struct dcv_gw_resolver_facts c;
	struct dcv_plan_resolver r = { gw, &bf, &c, false };
	struct dcv_gw_facts f;
	struct dcv_plan p;
	(void)state;

	broker_deployed(&bf, inv);
	copies_deployed(&c, false);
	dcv_buf_reset(&c.ca);
	dcv_buf_adds(&c.ca, "-----BEGIN CERTIFICATE-----\nold\n-----END CERTIFICATE-----\n");
	cg_deployed(&f, inv);
	dcv_plan_gateway_resolver(inv, gw, &dcv_proxy_gateway, &f, &r, &p);
	assert_true(step(&p, "broker-ca")->change);
	assert_true(step(&p, "broker-ca")->restart);
	assert_string_equal(step(&p, "broker-ca")->reload, dcv_proxy_gateway.reload);
	assert_false(step(&p, "config")->change);
	dcv_plan_release(&p);
	dcv_gw_facts_release(&f);
	dcv_gw_resolver_facts_release(&c);
	dcv_broker_facts_release(&bf);
	dcv_inventory_free(inv);
}

static void test_plan_connection_gateway_missing_ca_blocks_unless_pending(void **state)
{
	struct dcv_inventory *inv = load_cg(false);
	const struct dcv_host *gw = dcv_inventory_gateway(inv);
	struct dcv_broker_facts bf;
	struct dcv_gw_resolver_facts c;
	struct dcv_plan_resolver r = { gw, &bf, &c, false };
	struct dcv_gw_facts f;
	struct dcv_plan p;
	(void)state;

	broker_fresh(&bf);
	dcv_buf_reset(&bf.ca_pem);
	memset(&c, 0, sizeof(c));
	cg_deployed(&f, inv);
	dcv_plan_gateway_resolver(inv, gw, &dcv_proxy_gateway, &f, &r, &p);
	assert_true(step(&p, "broker-ca")->blocked);
	assert_non_null(strstr(step(&p, "broker-ca")->detail, DCV_BROKER_CA " on gateway is missing"));
	dcv_plan_release(&p);
	r.broker_pending = true;
	dcv_plan_gateway_resolver(inv, gw, &dcv_proxy_gateway, &f, &r, &p);
	assert_false(step(&p, "broker-ca")->blocked);
	assert_true(step(&p, "broker-ca")->change);
	dcv_plan_release(&p);
	dcv_gw_facts_release(&f);
	dcv_broker_facts_release(&bf);
	dcv_inventory_free(inv);
}

/* No DNS name for the resolver: the config step says what to set, the host stops there. */
static void test_plan_connection_gateway_without_a_name_is_blocked(void **state)
{
	struct dcv_inventory *inv = load_cg(false);
	const struct dcv_host *gw = dcv_inventory_gateway(inv);
	struct dcv_broker_facts bf;
	struct dcv_gw_resolver_facts c;
	struct dcv_plan_resolver r = { gw, &bf, &c, false };
	struct dcv_gw_facts f;
	struct dcv_plan p;
	(void)state;

	free(inv->broker_name);
	inv->broker_name = NULL;
	broker_deployed(&bf, inv);
	copies_deployed(&c, false);
	gw_facts(&f, &dcv_proxy_gateway, "amzn");
	f.has_binary = true;
	dcv_plan_gateway_resolver(inv, gw, &dcv_proxy_gateway, &f, &r, &p);
	assert_true(step(&p, "config")->blocked);
	assert_non_null(strstr(step(&p, "config")->detail, "set 'name = broker.example.internal' in [broker]"));
	dcv_plan_release(&p);
	dcv_gw_facts_release(&f);
	dcv_gw_resolver_facts_release(&c);
	dcv_broker_facts_release(&bf);
	dcv_inventory_free(inv);
}

/* Agents in this mode: the Session Manager agent on, the broker's verifier back in dcv.conf. */
static void test_plan_agent_connection_gateway_turns_the_session_manager_on(void **state)
{
	struct dcv_inventory *inv = load_cg(false);
	const struct dcv_host *h = dcv_inventory_host(inv, "dcv1");
	struct dcv_agent_facts st;
	struct dcv_plan p;
	const struct dcv_plan_step *sm;
	(void)state;

	agent_deployed(&st, h); /* as the bypass left it: SM agent off, no verifier */
	dcv_plan_agent(inv, h, &st, &p);
	sm = step(&p, "sm-agent");
	assert_int_equal(sm->op, DCV_OP_UNIT);
	assert_string_equal(sm->verb, "start");
	assert_true(sm->enable);
	assert_true(step(&p, "dcv.conf")->change);
	assert_non_null(strstr(step(&p, "dcv.conf")->after,
			       "auth-token-verifier=\"https://broker.lab.example:8445/agent/validate-authentication-token\"\n"));
	assert_non_null(strstr(step(&p, "dcv.conf")->after, "administrators=[\"dcvsmagent\"]\n"));
	assert_string_equal(step(&p, "dcvserver")->verb, "restart");
	dcv_plan_release(&p);

	/* deployed in this mode: nothing to do */
	dcv_buf_reset(&st.conf);
	dcv_render_dcvconf_for("[connectivity]\n", inv, h, &st.conf);
	set_state(&st.sm_agent, "active", "enabled");
	dcv_plan_agent(inv, h, &st, &p);
	for (int i = 0; i < p.n; i++)
		if (p.steps[i].change || p.steps[i].restart || p.steps[i].blocked)
			fail_msg("step %s: %s", p.steps[i].name, p.steps[i].detail);
	dcv_plan_release(&p);
	dcv_agent_facts_release(&st);
	dcv_inventory_free(inv);
}

static void test_plan_parse_gencerts_output(void **state)
{
	char *folder = NULL, *pass = NULL;
	(void)state;

	assert_true(dcv_plan_parse_gencerts("Certificates generated in folder: /etc/x/resolver-creds\n"
					    "TrustStore password: s3cr3t \n", &folder, &pass));
	assert_string_equal(folder, "/etc/x/resolver-creds");
	assert_string_equal(pass, "s3cr3t");
	free(folder);
	free(pass);
	assert_true(dcv_plan_parse_gencerts("INFO: output directory: /etc/y\r\nINFO: Password used for the TrustStore: "
					    "a:b: c\r\n", &folder, &pass));
	assert_string_equal(folder, "/etc/y");
	assert_string_equal(pass, "c");
	free(folder);
	free(pass);
	folder = pass = NULL;
	assert_false(dcv_plan_parse_gencerts("Certificates generated in folder: /etc/x\n", &folder, &pass));
	assert_false(dcv_plan_parse_gencerts("folder: relative/path\npassword: p\n", &folder, &pass));
	assert_false(dcv_plan_parse_gencerts("", &folder, &pass));
	assert_null(folder);
	assert_null(pass);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plan_fresh_gateway_installs_writes_and_takes_the_port),
		cmocka_unit_test(test_plan_gateway_unknown_os_or_missing_cert_blocks),
		cmocka_unit_test(test_plan_deployed_gateway_changes_and_restarts_nothing),
		cmocka_unit_test(test_plan_drifted_config_is_one_change_and_a_reload),
		cmocka_unit_test(test_plan_haproxy_over_running_nginx_validates_before_stopping_it),
		cmocka_unit_test(test_plan_kept_secret_is_not_regenerated),
		cmocka_unit_test(test_plan_fresh_gateway_writes_the_maintenance_files_and_starts_the_timer),
		cmocka_unit_test(test_plan_maintenance_changes_follow_the_inventory),
		cmocka_unit_test(test_plan_opt_out_removes_what_maintenance_installed),
		cmocka_unit_test(test_plan_logrotate_defers_to_the_package_and_needs_logrotate),
		cmocka_unit_test(test_plan_deployed_agent_changes_nothing),
		cmocka_unit_test(test_plan_agent_logrotate_absent_equal_opted_out),
		cmocka_unit_test(test_plan_agent_web_port_drift_restarts_and_then_ensures_the_session),
		cmocka_unit_test(test_plan_agent_missing_session_alone_is_created_without_restart),
		cmocka_unit_test(test_plan_broker_fresh_enables_the_gateway_connector_and_starts),
		cmocka_unit_test(test_plan_broker_mtls_generates_once_and_never_shows_the_password),
		cmocka_unit_test(test_plan_broker_deployed_changes_nothing_and_does_not_regenerate),
		cmocka_unit_test(test_plan_broker_new_trust_store_hides_old_and_new_password),
		cmocka_unit_test(test_plan_broker_without_gen_script_is_blocked),
		cmocka_unit_test(test_plan_connection_gateway_deployed_changes_nothing),
		cmocka_unit_test(test_plan_connection_gateway_from_nginx_orders_the_takeover),
		cmocka_unit_test(test_plan_connection_gateway_new_ca_restarts_the_gateway),
		cmocka_unit_test(test_plan_connection_gateway_missing_ca_blocks_unless_pending),
		cmocka_unit_test(test_plan_connection_gateway_without_a_name_is_blocked),
		cmocka_unit_test(test_plan_agent_connection_gateway_turns_the_session_manager_on),
		cmocka_unit_test(test_plan_parse_gencerts_output),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
