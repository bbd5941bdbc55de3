/* [maintenance]: the logrotate files (golden, and the real `logrotate -d` when it is installed),
 * the rule that leaves out logs another file rotates, and the health script run for real with
 * stub curl, systemctl and logger: it restarts only on no answer or a 5xx, at most the limit. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../lib/buf.h"
#include "../../lib/err.h"
#include "../../lib/facts.h"
#include "../../lib/inventory.h"
#include "../../lib/maint.h"
#include "../../lib/proxy.h"
#include "../../lib/util.h"

#include "fixture.h"

static struct dcv_inventory *load_text(const char *text)
{
	struct dcv_inventory *inv = NULL;
	struct dcv_err err = DCV_ERR_INIT;
	FILE *f = fmemopen((void *)text, strlen(text), "r");

	if (dcv_inventory_parse(f, "maint.conf", "/root", &inv, &err) != DCV_OK)
		fail_msg("%s", err.msg);
	fclose(f);
	return inv;
}

static const char base[] = "[gateway]\naddress = 198.18.1.11\nuser = ec2-user\nlisten = 8443\n"
			   "[agent dcv1]\naddress = 198.18.1.21\nuser = ubuntu\n";

static void golden(const char *name, const char *text)
{
	char *rel = xasprintf("maint/%s", name);

	if (getenv("UPDATE_GOLDEN")) {
		char *p = fixture_path(rel);
		FILE *f = fopen(p, "w");
		fputs(text, f);
		fclose(f);
		free(p);
	}
	char *want = fixture(rel);
	assert_string_equal(text, want);
	free(want);
	free(rel);
}

/* ------------------------------------------------------------------ logrotate */

static void test_maint_logrotate_owner_per_distribution(void **state)
{
	struct dcv_logrotate_facts amzn = { "amzn", "", { "nginx root 711" } };
	struct dcv_logrotate_facts ubuntu = { "ubuntu", "", { "root adm 755" } };
	struct dcv_buf a = DCV_BUF_INIT, u = DCV_BUF_INIT, h = DCV_BUF_INIT;
	(void)state;

	assert_int_equal(dcv_maint_logrotate(dcv_proxy_nginx.logrotate, dcv_proxy_nginx.n_logrotate, &amzn, &a), 1);
	assert_int_equal(dcv_maint_logrotate(dcv_proxy_nginx.logrotate, dcv_proxy_nginx.n_logrotate, &ubuntu, &u), 1);
	assert_int_equal(dcv_maint_logrotate(dcv_proxy_haproxy.logrotate, dcv_proxy_haproxy.n_logrotate, &ubuntu, &h), 1);
	golden("logrotate-nginx-amzn", a.data);
	golden("logrotate-nginx-ubuntu", u.data);
	golden("logrotate-haproxy", h.data);
	assert_non_null(strstr(a.data, "    create 0640 nginx root\n"));
	/* a directory its user owns: rotated as that user, so it cannot swap files under root */
	assert_non_null(strstr(a.data, "    su nginx root\n"));
	assert_non_null(strstr(u.data, "    create 0640 www-data adm\n"));
	assert_null(strstr(u.data, "su "));
	assert_non_null(strstr(u.data, "kill -USR1"));
	/* rsyslog writes haproxy.log and makes it again itself */
	assert_null(strstr(h.data, "create"));
	assert_non_null(strstr(h.data, "HUP rsyslog"));
	dcv_buf_release(&a);
	dcv_buf_release(&u);
	dcv_buf_release(&h);
}

static void test_maint_logrotate_dcv_is_copied_and_truncated(void **state)
{
	struct dcv_logrotate_facts f = { "ubuntu", "", { "dcv dcv 775" } };
	struct dcv_logrotate_facts root = { "ubuntu", "", { "root root 755" } };
	struct dcv_buf b = DCV_BUF_INIT, r = DCV_BUF_INIT;
	(void)state;

	assert_int_equal(dcv_maint_logrotate(&dcv_maint_dcv_log, 1, &f, &b), 1);
	golden("logrotate-dcv", b.data);
	assert_non_null(strstr(b.data, "/var/log/dcv/*.log {\n"));
	assert_non_null(strstr(b.data, "    copytruncate\n"));
	assert_non_null(strstr(b.data, "    su dcv dcv\n"));
	dcv_maint_logrotate(&dcv_maint_dcv_log, 1, &root, &r);
	assert_null(strstr(r.data, "su "));
	dcv_buf_release(&b);
	dcv_buf_release(&r);
}

/* logrotate refuses a log named by two files ("duplicate log entry"): the package's file wins */
static void test_maint_logrotate_leaves_out_logs_rotated_elsewhere(void **state)
{
	static const char debian[] = "### /etc/logrotate.conf\nweekly\ninclude /etc/logrotate.d\n"
				     "### /etc/logrotate.d/nginx\n/var/log/nginx/*.log {\n\tdaily\n\tcreate 0640 www-data adm\n}\n";
	static const char amzn[] = "### /etc/logrotate.d/nginx\n/var/log/nginx/*log {\n    create 0664 nginx root\n}\n";
	static const char listed[] = "### /etc/logrotate.d/other\n/var/log/a.log \"/var/log/haproxy.log\"\n{\n}\n";
	static const char unrelated[] = "### /etc/logrotate.d/apt\n/var/log/apt/term.log {\n  rotate 12\n}\n"
					"### /etc/logrotate.d/x\n# /var/log/nginx/*.log {\n";
	struct dcv_logrotate_facts f = { "ubuntu", debian, { 0 } };
	struct dcv_buf b = DCV_BUF_INIT;
	(void)state;

	assert_int_equal(dcv_maint_logrotate(dcv_proxy_nginx.logrotate, 1, &f, &b), 0);
	assert_non_null(strstr(b.data, "# /var/log/nginx/dcv-*.log: rotated by /etc/logrotate.d/nginx already\n"));
	assert_null(strstr(b.data, "{"));
	dcv_buf_reset(&b);
	f.others = amzn;
	assert_int_equal(dcv_maint_logrotate(dcv_proxy_nginx.logrotate, 1, &f, &b), 0);
	dcv_buf_reset(&b);
	f.others = listed;
	assert_int_equal(dcv_maint_logrotate(dcv_proxy_haproxy.logrotate, 1, &f, &b), 0);
	assert_non_null(strstr(b.data, "rotated by /etc/logrotate.d/other"));
	dcv_buf_reset(&b);
	/* the directive `include /etc/logrotate.d`, other logs and comments name nothing of ours */
	f.others = unrelated;
	assert_int_equal(dcv_maint_logrotate(dcv_proxy_nginx.logrotate, 1, &f, &b), 1);
	dcv_buf_reset(&b);
	f.others = debian;
	assert_int_equal(dcv_maint_logrotate(&dcv_maint_dcv_log, 1, &f, &b), 1);
	dcv_buf_release(&b);
}

/* The real logrotate reads what dcvctl writes. */
static void test_maint_logrotate_passes_logrotate_d(void **state)
{
	struct dcv_logrotate_facts f = { "ubuntu", "", { "root adm 755", NULL } };
	const struct dcv_rotated_log *sets[] = { dcv_proxy_nginx.logrotate, dcv_proxy_haproxy.logrotate, &dcv_maint_dcv_log };
	(void)state;

	if (system("command -v logrotate >/dev/null 2>&1") != 0) {
		if (getenv("CI") && strcmp(getenv("CI"), "true") == 0)
			fail_msg("logrotate is not installed (scripts/deps installs it)");
		fprintf(stderr, "skipped: logrotate is not installed\n");
		return;
	}
	for (size_t i = 0; i < sizeof(sets) / sizeof(sets[0]); i++) {
		struct dcv_buf b = DCV_BUF_INIT;
		char dir[] = "/tmp/dcvctl-maint-XXXXXX";
		assert_non_null(mkdtemp(dir));
		char *path = xasprintf("%s/dcvctl-test", dir);
		dcv_maint_logrotate(sets[i], 1, &f, &b);
		FILE *o = fopen(path, "w");
		fputs(b.data, o);
		fclose(o);
		char *cmd = xasprintf("logrotate -d %s >%s/out 2>&1", path, dir);
		int rc = system(cmd);
		char *out = xasprintf("%s/out", dir);
		struct dcv_buf log = DCV_BUF_INIT;
		dcv_file_read(out, &log);
		if (rc != 0 || strstr(dcv_buf_str(&log), "error"))
			fail_msg("logrotate -d refused:\n%s\n%s", b.data, dcv_buf_str(&log));
		/* and it refuses a broken file, so the check can fail */
		o = fopen(path, "a");
		fputs("/var/log/x.log {\n    nosuchdirective\n}\n", o);
		fclose(o);
		assert_int_not_equal(system(cmd), 0);
		char *rm = xasprintf("rm -rf %s", dir);
		assert_int_equal(system(rm), 0);
		free(rm);
		free(out);
		free(cmd);
		free(path);
		dcv_buf_release(&log);
		dcv_buf_release(&b);
	}
}

/* ------------------------------------------------------------------ health */

static void test_maint_health_files_golden(void **state)
{
	struct dcv_inventory *inv = load_text(base);
	struct dcv_buf s = DCV_BUF_INIT, svc = DCV_BUF_INIT, t = DCV_BUF_INIT;
	(void)state;

	assert_true(inv->logrotate);
	assert_true(inv->health_restart);
	assert_int_equal(inv->restart_limit, 3);
	dcv_maint_health_script(inv, dcv_inventory_gateway(inv), &dcv_proxy_nginx, &s);
	dcv_maint_health_service(inv, &dcv_proxy_nginx, &svc);
	dcv_maint_health_timer(inv, &t);
	golden("dcvctl-health", s.data);
	golden("dcvctl-health.service", svc.data);
	golden("dcvctl-health.timer", t.data);
	/* not the seed's probe: no /health, and the status is judged, not curl's exit */
	assert_null(strstr(s.data, "8443/health"));
	assert_non_null(strstr(s.data, "url=https://127.0.0.1:8443/\n"));
	assert_non_null(strstr(s.data, "%{http_code}"));
	assert_non_null(strstr(s.data, "logger -t dcvctl-health"));
	assert_non_null(strstr(svc.data, "ExecStart=" DCV_HEALTH_SCRIPT "\n"));
	assert_non_null(strstr(t.data, "OnUnitActiveSec=60s\n"));
	dcv_buf_release(&s);
	dcv_buf_release(&svc);
	dcv_buf_release(&t);
	dcv_inventory_free(inv);
}

/* systemd reads the service and the timer without a complaint (when systemd-analyze is here). */
static void test_maint_health_units_pass_systemd_analyze(void **state)
{
	struct dcv_inventory *inv = load_text(base);
	struct dcv_buf svc = DCV_BUF_INIT, t = DCV_BUF_INIT;
	char dir[] = "/tmp/dcvctl-units-XXXXXX";
	(void)state;

	if (system("command -v systemd-analyze >/dev/null 2>&1") != 0) {
		if (getenv("CI") && strcmp(getenv("CI"), "true") == 0)
			fail_msg("systemd-analyze is not installed (scripts/deps installs systemd)");
		fprintf(stderr, "skipped: systemd-analyze is not installed\n");
		dcv_inventory_free(inv);
		return;
	}
	assert_non_null(mkdtemp(dir));
	dcv_maint_health_service(inv, &dcv_proxy_nginx, &svc);
	dcv_maint_health_timer(inv, &t);
	/* the script is not installed here: verify would only say so */
	char *at = strstr(svc.data, "ExecStart=");
	assert_non_null(at);
	svc.len = (size_t)(at - svc.data);
	svc.data[svc.len] = '\0';
	dcv_buf_adds(&svc, "ExecStart=/bin/true\n");
	char *ps = xasprintf("%s/dcvctl-health.service", dir), *pt = xasprintf("%s/dcvctl-health.timer", dir);
	FILE *o = fopen(ps, "w");
	fputs(svc.data, o);
	fclose(o);
	o = fopen(pt, "w");
	fputs(t.data, o);
	fclose(o);
	char *cmd = xasprintf("timeout 60 systemd-analyze verify %s %s >%s/out 2>&1", pt, ps, dir);
	int rc = system(cmd);
	char *out = xasprintf("%s/out", dir);
	struct dcv_buf log = DCV_BUF_INIT;
	dcv_file_read(out, &log);
	if (rc != 0 || strstr(dcv_buf_str(&log), "dcvctl-health"))
		fail_msg("systemd-analyze verify: %s", dcv_buf_str(&log));
	char *rm = xasprintf("rm -rf %s", dir);
	assert_int_equal(system(rm), 0);
	free(rm);
	free(out);
	free(cmd);
	free(ps);
	free(pt);
	dcv_buf_release(&log);
	dcv_buf_release(&svc);
	dcv_buf_release(&t);
	dcv_inventory_free(inv);
}

/* Runs the rendered script `runs` times with curl answering `code`; returns how many times it
 * restarted the unit, and the log in `log`. */
static int run_health(const char *conf, const char *code, int runs, struct dcv_buf *log)
{
	struct dcv_inventory *inv = load_text(conf);
	struct dcv_buf s = DCV_BUF_INIT, n = DCV_BUF_INIT;
	char dir[] = "/tmp/dcvctl-health-XXXXXX";
	int restarts = 0;

	assert_non_null(mkdtemp(dir));
	dcv_maint_health_script(inv, dcv_inventory_gateway(inv), &dcv_proxy_nginx, &s);
	/* the state file goes to the test's folder; everything else runs as rendered */
	char *state = xasprintf("state=%s/state\n", dir);
	char *at = strstr(s.data, "state=" DCV_HEALTH_STATE "\n");
	assert_non_null(at);
	struct dcv_buf script = DCV_BUF_INIT;
	dcv_buf_addf(&script, "%.*s%s%s", (int)(at - s.data), s.data, state, at + strlen("state=" DCV_HEALTH_STATE "\n"));
	char *setup = xasprintf(
		"set -e; cd %s; mkdir bin\n"
		"printf '#!/bin/sh\\nprintf %%s \"$DCV_CODE\"\\n[ \"$DCV_CODE\" != 000 ] || exit 35\\n' > bin/curl\n"
		"printf '#!/bin/sh\\necho \"$*\" >> %s/systemctl.log\\n' > bin/systemctl\n"
		"printf '#!/bin/sh\\nshift 3; echo \"$*\" >> %s/logger.log\\n' > bin/logger\n"
		"chmod +x bin/*\n",
		dir, dir, dir);
	assert_int_equal(system(setup), 0);
	char *path = xasprintf("%s/health", dir);
	FILE *o = fopen(path, "w");
	fputs(script.data, o);
	fclose(o);
	for (int i = 0; i < runs; i++) {
		char *cmd = xasprintf("cd %s && PATH=%s/bin:$PATH DCV_CODE=%s sh health >/dev/null 2>&1", dir, dir, code);
		assert_true(system(cmd) != -1);
		free(cmd);
	}
	char *f = xasprintf("%s/systemctl.log", dir);
	if (dcv_file_read(f, &n) == 0)
		for (const char *c = dcv_buf_str(&n); (c = strstr(c, "restart nginx")); c++)
			restarts++;
	free(f);
	f = xasprintf("%s/logger.log", dir);
	dcv_file_read(f, log);
	free(f);
	char *rm = xasprintf("rm -rf %s", dir);
	assert_int_equal(system(rm), 0);
	free(rm);
	free(path);
	free(setup);
	free(state);
	dcv_buf_release(&script);
	dcv_buf_release(&s);
	dcv_buf_release(&n);
	dcv_inventory_free(inv);
	return restarts;
}

static void test_maint_health_restarts_on_no_answer_or_5xx_up_to_the_limit(void **state)
{
	struct dcv_buf log = DCV_BUF_INIT;
	char *two = xasprintf("%s[maintenance]\nrestart-limit = 2\n", base);
	(void)state;

	/* serving: 200, a redirect, and DCV's 404 for a path it does not know all prove nginx answers */
	assert_int_equal(run_health(base, "200", 2, &log), 0);
	assert_int_equal(run_health(base, "302", 1, &log), 0);
	assert_int_equal(run_health(base, "404", 1, &log), 0);
	assert_int_equal(log.len, 0);
	assert_int_equal(run_health(base, "502", 1, &log), 1);
	assert_non_null(strstr(log.data, "nginx does not serve: https://127.0.0.1:8443/ answered HTTP 502; "
					 "restarting it (1 of 3 this hour)"));
	dcv_buf_reset(&log);
	/* no TLS handshake or no HTTP answer: curl prints 000; the limit then holds */
	assert_int_equal(run_health(two, "000", 4, &log), 2);
	assert_non_null(strstr(log.data, "no answer from https://127.0.0.1:8443/ (curl exit 35"));
	assert_non_null(strstr(log.data, "restarting it (2 of 2 this hour)"));
	assert_non_null(strstr(log.data, "not restarted: 2 restarts in the last hour (limit 2)"));
	dcv_buf_release(&log);
	free(two);
}

/* ------------------------------------------------------------------ facts */

/* One round trip still: the scripts ask for the maintenance files, the parsers fill them in. */
static void test_maint_facts_scripts_and_parsers(void **state)
{
	struct dcv_inventory *inv = load_text(base);
	struct dcv_buf s = DCV_BUF_INIT;
	struct dcv_gw_facts g;
	struct dcv_agent_facts a;
	(void)state;

	dcv_gw_facts_script(dcv_inventory_gateway(inv), &dcv_proxy_nginx, false, &s);
	assert_non_null(strstr(s.data, "lr='/etc/logrotate.d/dcvctl-nginx'"));
	assert_non_null(strstr(s.data, "d='/var/log/nginx'"));
	assert_non_null(strstr(s.data, "h='" DCV_HEALTH_TIMER "'"));
	assert_non_null(strstr(s.data, "'" DCV_HEALTH_TIMER_UNIT "'"));
	dcv_buf_reset(&s);
	dcv_agent_facts_script(dcv_inventory_host(inv, "dcv1"), &s);
	assert_non_null(strstr(s.data, "lr='" DCV_LOGROTATE_DCV "'"));
	assert_null(strstr(s.data, "health."));

	assert_true(dcv_gw_facts_parse("os=amzn\nlr.bin=yes\nlr=IyBvdXJzCg==\nlr.others=IyMjIC9ldGMvbG9ncm90YXRlLmQvbmdpbngKL3Zhci9sb2cvbmdpbngvKmxvZyB7Cn0K\n"
				       "lr.dir.0=nginx root 711\nhealth.2=W1RpbWVyXQo=\n"
				       "unit.4.Id=dcvctl-health.timer\nunit.4.ActiveState=active\nunit.4.UnitFileState=enabled\n",
				       &dcv_proxy_nginx, &g));
	assert_true(g.maint.logrotate_bin);
	assert_true(g.maint.lr_exists);
	assert_string_equal(g.maint.lr.data, "# ours\n");
	assert_non_null(strstr(g.maint.lr_others.data, "### /etc/logrotate.d/nginx\n"));
	assert_string_equal(g.maint.lr_dirs[0], "nginx root 711");
	assert_false(g.maint.health_exists[0]);
	assert_true(g.maint.health_exists[2]);
	assert_string_equal(g.maint.health[2].data, "[Timer]\n");
	assert_true(dcv_unit_is_active(dcv_gw_facts_unit(&g, DCV_HEALTH_TIMER_UNIT)));
	assert_true(dcv_unit_is_enabled(dcv_gw_facts_unit(&g, DCV_HEALTH_TIMER_UNIT)));
	dcv_gw_facts_release(&g);

	assert_true(dcv_agent_facts_parse("os=ubuntu\nlr.dir.0=dcv dcv 775\n", &a));
	assert_false(a.maint.logrotate_bin);
	assert_false(a.maint.lr_exists);
	assert_string_equal(a.maint.lr_dirs[0], "dcv dcv 775");
	dcv_agent_facts_release(&a);
	dcv_buf_release(&s);
	dcv_inventory_free(inv);
}

/* ------------------------------------------------------------------ inventory */

static void test_maint_inventory_keys_and_errors(void **state)
{
	static const struct {
		const char *text, *err;
	} bad[] = {
		{ "[maintenance]\nlogrotate = maybe\n", "maint.conf:9: bad value 'maybe' for 'logrotate' in [maintenance] (expected yes or no)" },
		{ "[maintenance]\nrestart-limit = 61\n", "maint.conf:9: bad value '61' for 'restart-limit'" },
		{ "[maintenance]\nhealth-interval = 5s\n", "maint.conf:9: bad value '5s' for 'health-interval'" },
		{ "[maintenance]\nhealth-restrat = no\n", "did you mean 'health-restart'?" },
		{ "[maintenance]\n[maintenance]\n", "section [maintenance] appears twice" },
	};
	char *text = xasprintf("%s[maintenance]\nlogrotate = no\nhealth-restart = no\nrestart-limit = 0\n"
			       "health-interval = 5m\n", base);
	struct dcv_inventory *inv = load_text(text);
	(void)state;

	assert_false(inv->logrotate);
	assert_false(inv->health_restart);
	assert_int_equal(inv->restart_limit, 0);
	assert_int_equal(inv->health_interval_ms, 300000);
	dcv_inventory_free(inv);
	free(text);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct dcv_err err = DCV_ERR_INIT;
		char *t = xasprintf("%s%s", base, bad[i].text);
		FILE *f = fmemopen(t, strlen(t), "r");
		assert_int_equal(dcv_inventory_parse(f, "maint.conf", "/root", &inv, &err), DCV_E_CONFIG);
		if (!strstr(err.msg, bad[i].err))
			fail_msg("'%s' does not hold '%s'", err.msg, bad[i].err);
		fclose(f);
		free(t);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_maint_logrotate_owner_per_distribution),
		cmocka_unit_test(test_maint_logrotate_dcv_is_copied_and_truncated),
		cmocka_unit_test(test_maint_logrotate_leaves_out_logs_rotated_elsewhere),
		cmocka_unit_test(test_maint_logrotate_passes_logrotate_d),
		cmocka_unit_test(test_maint_health_files_golden),
		cmocka_unit_test(test_maint_health_units_pass_systemd_analyze),
		cmocka_unit_test(test_maint_health_restarts_on_no_answer_or_5xx_up_to_the_limit),
		cmocka_unit_test(test_maint_facts_scripts_and_parsers),
		cmocka_unit_test(test_maint_inventory_keys_and_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
