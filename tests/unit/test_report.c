/* Check reports: every format against golden files, and the properties CI relies on. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../lib/buf.h"
#include "../../lib/report.h"

#include "fixture.h"

static void assert_golden(const char *name, const struct dcv_buf *out)
{
	char *golden;

	if (getenv("UPDATE_GOLDEN")) {
		char *p = fixture_path(name);
		FILE *f = fopen(p, "w");
		assert_non_null(f);
		fputs(dcv_buf_str(out), f);
		fclose(f);
		free(p);
	}
	golden = fixture(name);
	assert_string_equal(dcv_buf_str(out), golden);
	free(golden);
}

/* Insertion order interleaves hosts so grouping is exercised; hop order within a host. */
static void sample_report(struct dcv_report *r)
{
	memset(r, 0, sizeof(*r));
	r->version = xstrdup("0.3.0");
	r->duration_ms = 5234;
	r->generated_at = 1700000000;
	dcv_report_add(r, "bastion.ssh", "bastion", DCV_CHECK_PASS, 12, NULL,
		       "authenticated as %s, host key verified", "ops");
	dcv_report_add(r, "gateway.proxy.service", "gateway", DCV_CHECK_FAIL, 150,
		       "\u00d7 nginx.service - nginx <web server & reverse proxy>\n"
		       "     Active: failed (Result: exit-code)\n"
		       "nginx: [emerg] unknown directive \"proxy_pas\" in 'dcv.conf':12\n",
		       "nginx is inactive (failed)");
	dcv_report_add(r, "agent.dcv1.sm-agent", "dcv1", DCV_CHECK_SKIP, 0, NULL,
		       "session-manager modes only");
	dcv_report_add(r, "gateway.cert", "gateway", DCV_CHECK_WARN, 3,
		       "notAfter=Nov 26 00:00:00 2023 GMT", "certificate expires in %d days", 12);
	dcv_report_add(r, "endpoint.tls", "endpoint", DCV_CHECK_ERROR, 5002,
		       "curl: (28) Connection timed out after 5001 milliseconds",
		       "cannot connect to 'dcv.example.com:443': timed out");
	dcv_report_add(r, "agent.dcv1.dcvserver", "dcv1", DCV_CHECK_PASS, 40, NULL, "active");
	r->diagnosis.hop = xstrdup("gateway");
	r->diagnosis.cause = xstrdup("nginx is not running");
	r->diagnosis.hint = xstrdup("dcvctl service start gateway nginx");
	r->diagnosis.check = xstrdup("gateway.proxy.service");
	r->diagnosis.fact = (struct dcv_cause){ DCV_CAUSE_UNIT_STOPPED, xstrdup("nginx"), xstrdup("inactive"), NULL,
						NULL };
}

static void assert_xml_well_formed(const struct dcv_buf *xml)
{
	char path[] = "/tmp/dcvctl-report-XXXXXX";
	int fd = mkstemp(path);
	char *cmd;
	int rc;

	assert_true(fd >= 0);
	assert_int_equal(write(fd, xml->data, xml->len), (ssize_t)xml->len);
	close(fd);
	cmd = xasprintf("xmllint --noout %s", path);
	rc = system(cmd);
	unlink(path);
	free(cmd);
	assert_int_equal(rc, 0);
}

static void test_report_text_matches_golden(void **state)
{
	struct dcv_report r;
	struct dcv_buf out = DCV_BUF_INIT;

	(void)state;
	sample_report(&r);
	dcv_report_text(&r, false, false, &out);
	assert_golden("report.txt", &out);
	assert_null(strchr(out.data, '\033'));
	/* grouped by host in order of first appearance, hop order kept within a host */
	assert_true(strstr(out.data, "gateway.proxy.service") < strstr(out.data, "gateway.cert"));
	assert_true(strstr(out.data, "gateway.cert") < strstr(out.data, "agent.dcv1.sm-agent"));
	assert_true(strstr(out.data, "agent.dcv1.sm-agent") < strstr(out.data, "agent.dcv1.dcvserver"));
	assert_non_null(strstr(out.data, "\n      nginx: [emerg] unknown directive"));
	assert_non_null(strstr(out.data, "2 passed, 1 failed, 1 warned, 1 skipped, 1 errors in 5.23 s\n"
					 "diagnosis: gateway: nginx is not running\n"
					 "fix: dcvctl service start gateway nginx\n"));
	dcv_buf_release(&out);
	dcv_report_release(&r);
}

static void test_report_text_colour(void **state)
{
	struct dcv_report r;
	struct dcv_buf out = DCV_BUF_INIT;

	(void)state;
	sample_report(&r);
	dcv_report_text(&r, true, false, &out);
	assert_non_null(strstr(out.data, "\033[32m\u2714\033[0m bastion.ssh"));
	assert_non_null(strstr(out.data, "\033[31m\u2718\033[0m gateway.proxy.service"));
	assert_non_null(strstr(out.data, "\033[33m!\033[0m gateway.cert"));
	assert_non_null(strstr(out.data, "\033[2m-\033[0m agent.dcv1.sm-agent"));
	dcv_buf_release(&out);
	dcv_report_release(&r);
}

static void test_report_text_keeps_the_evidence_tail_and_no_escapes(void **state)
{
	struct dcv_report r = { 0 };
	struct dcv_buf ev = DCV_BUF_INIT, out = DCV_BUF_INIT;

	(void)state;
	for (int i = 1; i <= 25; i++)
		dcv_buf_addf(&ev, "line %d\r\n", i);
	dcv_buf_adds(&ev, "\033[31mred\033[0m \xc2\x9b" "2J\n\n");
	dcv_report_add(&r, "agent.dcv1.dcvserver", "dcv1", DCV_CHECK_FAIL, 1, ev.data,
		       "inactive\n\033]0;title\007");
	dcv_report_add(&r, "agent.dcv1.session", "dcv1", DCV_CHECK_PASS, 1, "hidden for a pass", "ok");
	dcv_report_text(&r, false, false, &out);
	assert_null(strchr(out.data, '\033'));
	assert_null(strchr(out.data, '\r'));
	assert_null(strstr(out.data, "\xc2\x9b"));
	assert_null(strstr(out.data, "hidden for a pass"));
	assert_non_null(strstr(out.data, "      ... 6 earlier lines\n      line 7\n"));
	assert_null(strstr(out.data, "line 6\n"));
	assert_non_null(strstr(out.data, "      line 25\n      [31mred[0m 2J\n  \u2714 agent.dcv1.session"));
	dcv_buf_release(&ev);
	dcv_buf_release(&out);
	dcv_report_release(&r);
}

static void assert_keys(struct json_object *o, const char *const *keys, int n)
{
	int i = 0;

	assert_true(json_object_is_type(o, json_type_object));
	json_object_object_foreach(o, k, v) {
		(void)v;
		assert_true(i < n);
		assert_string_equal(k, keys[i]);
		i++;
	}
	assert_int_equal(i, n);
}

static void test_report_json_matches_golden_with_exact_keys(void **state)
{
	static const char *const top[] = { "version", "duration_ms", "summary", "checks", "diagnosis" };
	static const char *const sum[] = { "passed", "failed", "warned", "skipped", "errors" };
	static const char *const check[] = { "id", "host", "status", "message", "duration_ms",
					     "evidence" };
	static const char *const diag[] = { "hop", "cause", "hint", "check", "fact" };
	struct dcv_report r;
	struct dcv_buf out = DCV_BUF_INIT;
	struct json_object *root, *checks, *o;

	(void)state;
	sample_report(&r);
	dcv_report_json(&r, false, &out);
	assert_golden("report.json", &out);
	assert_int_equal(out.data[out.len - 1], '\n');
	root = json_tokener_parse(out.data);
	assert_non_null(root);
	assert_keys(root, top, 5);
	assert_keys(json_object_object_get(root, "summary"), sum, 5);
	assert_keys(json_object_object_get(root, "diagnosis"), diag, 5);
	checks = json_object_object_get(root, "checks");
	assert_int_equal(json_object_array_length(checks), 6);
	for (size_t i = 0; i < json_object_array_length(checks); i++)
		assert_keys(json_object_array_get_idx(checks, i), check, 6);
	o = json_object_array_get_idx(checks, 0);
	assert_true(json_object_is_type(json_object_object_get(o, "evidence"), json_type_null));
	o = json_object_array_get_idx(checks, 1);
	assert_string_equal(json_object_get_string(json_object_object_get(o, "status")), "fail");
	assert_non_null(strstr(json_object_get_string(json_object_object_get(o, "evidence")),
			       "<web server & reverse proxy>\n"));
	assert_int_equal(json_object_get_int(json_object_object_get(
				 json_object_object_get(root, "summary"), "warned")), 1);
	json_object_put(root);
	dcv_buf_release(&out);
	dcv_report_release(&r);
}

static void test_report_healthy_diagnosis(void **state)
{
	struct dcv_report r = { 0 };
	struct dcv_buf out = DCV_BUF_INIT;
	struct json_object *root, *diag;

	(void)state;
	dcv_report_add(&r, "bastion.ssh", "bastion", DCV_CHECK_PASS, 12, NULL, "ok");
	dcv_report_json(&r, false, &out);
	root = json_tokener_parse(out.data);
	assert_non_null(root);
	assert_true(json_object_is_type(json_object_object_get(root, "version"), json_type_null));
	diag = json_object_object_get(root, "diagnosis");
	assert_true(json_object_is_type(json_object_object_get(diag, "hop"), json_type_null));
	assert_true(json_object_is_type(json_object_object_get(diag, "cause"), json_type_null));
	assert_true(json_object_is_type(json_object_object_get(diag, "hint"), json_type_null));
	assert_true(json_object_is_type(json_object_object_get(diag, "check"), json_type_null));
	assert_true(json_object_is_type(json_object_object_get(diag, "fact"), json_type_null));
	json_object_put(root);
	dcv_buf_reset(&out);
	dcv_report_text(&r, false, false, &out);
	assert_non_null(strstr(out.data, "\ndiagnosis: every hop answered\n"));
	assert_null(strstr(out.data, "fix:"));
	dcv_buf_reset(&out);
	dcv_report_tap(&r, false, &out);
	assert_non_null(strstr(out.data, "\n# diagnosis: every hop answered\n"));
	dcv_buf_release(&out);
	dcv_report_release(&r);
}

static void test_report_junit_matches_golden_and_is_well_formed(void **state)
{
	struct dcv_report r;
	struct dcv_buf out = DCV_BUF_INIT;

	(void)state;
	sample_report(&r);
	dcv_report_junit(&r, false, &out);
	assert_golden("report.junit.xml", &out);
	assert_xml_well_formed(&out);
	assert_non_null(strstr(out.data, "<testsuite name=\"gateway\" tests=\"2\" failures=\"1\" "
					 "errors=\"0\" skipped=\"0\" time=\"0.153\">"));
	assert_non_null(strstr(out.data, "classname=\"dcvctl.endpoint\" name=\"endpoint.tls\""));
	assert_non_null(strstr(out.data, "&lt;web server &amp; reverse proxy&gt;"));
	assert_null(strstr(out.data, "type=\"warning\""));
	dcv_buf_release(&out);
	dcv_report_release(&r);
}

static void test_report_junit_survives_hostile_text(void **state)
{
	struct dcv_report r = { 0 };
	struct dcv_buf out = DCV_BUF_INIT;
	struct json_object *root;

	(void)state;
	dcv_report_add(&r, "gateway.proxy.config", "gate\"way<&>", DCV_CHECK_FAIL, 1,
		       "bell\a esc\033[0m nul-free \x01\x02 bad utf-8 \xff\xfe \xc0\xaf ]]> \xef\xbf\xbe",
		       "it's \"broken\" \x1b <here> & \xed\xa0\x80 there");
	dcv_report_junit(&r, true, &out);
	assert_xml_well_formed(&out);
	assert_null(strchr(out.data, '\033'));
	assert_null(strchr(out.data, '\a'));
	dcv_buf_reset(&out);
	dcv_report_json(&r, false, &out);
	root = json_tokener_parse(out.data);
	assert_non_null(root);
	json_object_put(root);
	dcv_buf_release(&out);
	dcv_report_release(&r);
}

/* Remote text in every field a format carries: each format's golden file is what its consumer
 * (prove, a TAP 14 parser, xmllint against the Jenkins schema, promtool) reads in
 * tests/e2e/report-consumers.bats. */
static void hostile_report(struct dcv_report *r)
{
	memset(r, 0, sizeof(*r));
	r->version = xstrdup("0.3.0\033]0;x\007");
	r->duration_ms = 1234;
	r->generated_at = 1700000000;
	dcv_report_add(r, "gateway.proxy.config", "gate\"way<&> #1", DCV_CHECK_FAIL, 7,
		       "bell\a esc\033[0m \x01\x02 bad utf-8 \xff\xfe \xc0\xaf ]]> \xef\xbf\xbe\n"
		       "- \"key\": value\n\n  indented\r\n\xe2\x80\xae" "gnp.exe \xc2\x9b" "2J\n\n",
		       "it's \"broken\" \033[2J <here> & # not a directive \\ \xed\xa0\x80 there\nnext");
	dcv_report_add(r, "gateway.cert", "gate\"way<&> #1", DCV_CHECK_WARN, 1,
		       "    notAfter: soon\n\t- item", "expires: # TODO not a directive");
	dcv_report_add(r, "agent.x.session", "x", DCV_CHECK_SKIP, 0, NULL, "skipped # because\n\033[1mx");
	dcv_report_add(r, "agent.x.dcvserver", "x", DCV_CHECK_PASS, 2, "\033[31mhidden", "%s", "");
	r->diagnosis.hop = xstrdup("gate\"way<&> #1");
	r->diagnosis.cause = xstrdup("cause\033[8m hidden\nsecond");
	r->diagnosis.hint = xstrdup("dcvctl deploy\r\n# ok");
	r->diagnosis.check = xstrdup("gateway.proxy.config");
	r->diagnosis.fact = (struct dcv_cause){ DCV_CAUSE_CONFIG_INVALID, xstrdup("nginx -t"),
						xstrdup("emerg\033[2J \"x\"\n<y>"), xstrdup("/etc/nginx/conf.d/x"), NULL };
}

static void test_report_hostile_text_goldens_carry_no_controls(void **state)
{
	static const struct {
		const char *golden;
		void (*fmt)(const struct dcv_report *, bool, struct dcv_buf *);
	} formats[] = {
		{ "report-hostile.json", dcv_report_json },
		{ "report-hostile.junit.xml", dcv_report_junit },
		{ "report-hostile.tap", dcv_report_tap },
		{ "report-hostile.prom", dcv_report_prometheus },
	};
	struct dcv_report r;
	struct dcv_buf out = DCV_BUF_INIT;

	(void)state;
	hostile_report(&r);
	dcv_report_text(&r, false, true, &out);
	assert_golden("report-hostile.txt", &out);
	for (size_t i = 0; i <= sizeof(formats) / sizeof(formats[0]); i++) {
		if (i > 0) {
			dcv_buf_reset(&out);
			formats[i - 1].fmt(&r, true, &out);
			assert_golden(formats[i - 1].golden, &out);
		}
		for (const unsigned char *p = (const unsigned char *)out.data; *p; p++)
			if (*p < 0x20 && *p != '\n' && *p != '\t')
				fail_msg("control byte 0x%02x in %s", *p, i ? formats[i - 1].golden : "text");
		assert_null(strstr(out.data, "\xc2\x9b"));
		assert_null(strstr(out.data, "\xe2\x80\xae"));
	}
	dcv_buf_release(&out);
	dcv_report_release(&r);
}

static int count_test_lines(const char *tap, int *plan)
{
	int n = 0;

	*plan = -1;
	for (const char *line = tap; line && *line;) {
		if (strncmp(line, "ok ", 3) == 0 || strncmp(line, "not ok ", 7) == 0)
			n++;
		else if (strncmp(line, "1..", 3) == 0)
			*plan = atoi(line + 3);
		line = strchr(line, '\n');
		line = line ? line + 1 : NULL;
	}
	return n;
}

static void test_report_tap_matches_golden_with_plan(void **state)
{
	struct dcv_report r;
	struct dcv_buf out = DCV_BUF_INIT;
	int n, plan;

	(void)state;
	sample_report(&r);
	dcv_report_tap(&r, false, &out);
	assert_golden("report.tap", &out);
	assert_int_equal(strncmp(out.data, "TAP version 13\n1..6\n", 20), 0);
	n = count_test_lines(out.data, &plan);
	assert_int_equal(n, plan);
	assert_int_equal(plan, 6);
	/* a warning passes, and says so in its YAML, not in its description */
	assert_non_null(strstr(out.data, "\nok 3 - gateway.cert: certificate expires in 12 days\n"
					 "  ---\n  message: \"certificate expires in 12 days\"\n"
					 "  severity: warn\n"));
	assert_null(strstr(out.data, "# warn"));
	assert_non_null(strstr(out.data, "\nok 4 - agent.dcv1.sm-agent # SKIP session-manager modes only\n"));
	assert_non_null(strstr(out.data, "\nnot ok 6 - endpoint.tls: cannot connect"));
	/* one double-quoted scalar: YAMLish (prove) reads no block scalar indicators */
	assert_non_null(strstr(out.data, "  evidence: \"\u00d7 nginx.service - nginx <web server & reverse proxy>\\n"
					 "     Active: failed (Result: exit-code)\\nnginx: [emerg] unknown directive "
					 "\\\"proxy_pas\\\" in 'dcv.conf':12\"\n  ...\n"));
	assert_non_null(strstr(out.data, "\n# diagnosis: gateway: nginx is not running\n"));
	dcv_buf_release(&out);
	dcv_report_release(&r);
}

static void test_report_tap_escapes_descriptions_and_yaml(void **state)
{
	struct dcv_report r = { 0 };
	struct dcv_buf out = DCV_BUF_INIT;

	(void)state;
	dcv_report_add(&r, "gateway.proxy.config", "gateway", DCV_CHECK_FAIL, 1,
		       "    indented first line\n\n\tsecond: \"x\"\r\n\n", "drift in # listen \\ port");
	dcv_report_tap(&r, false, &out);
	assert_non_null(strstr(out.data, "not ok 1 - gateway.proxy.config: drift in \\# listen \\\\ port\n"));
	assert_non_null(strstr(out.data, "  message: \"drift in # listen \\\\ port\"\n"));
	assert_non_null(strstr(out.data, "  evidence: \"    indented first line\\n\\n\\tsecond: \\\"x\\\"\"\n  ...\n"));
	dcv_buf_release(&out);
	dcv_report_release(&r);
}

static void test_report_prometheus_matches_golden(void **state)
{
	struct dcv_report r;
	struct dcv_buf out = DCV_BUF_INIT;

	(void)state;
	sample_report(&r);
	dcv_report_prometheus(&r, false, &out);
	assert_golden("report.prom", &out);
	assert_non_null(strstr(out.data, "\ndcvctl_check_healthy{id=\"gateway.cert\",host=\"gateway\"} 1\n"));
	assert_non_null(strstr(out.data, "\ndcvctl_check_healthy{id=\"endpoint.tls\",host=\"endpoint\"} 0\n"));
	assert_null(strstr(out.data, "dcvctl_check_healthy{id=\"agent.dcv1.sm-agent\""));
	assert_non_null(strstr(out.data, "\ndcvctl_check_duration_seconds{id=\"bastion.ssh\",host=\"bastion\"} 0.012\n"));
	assert_non_null(strstr(out.data, "\ndcvctl_run_duration_seconds 5.234\n"));
	assert_non_null(strstr(out.data, "\ndcvctl_last_run_timestamp_seconds 1700000000\n"));
	dcv_buf_release(&out);
	dcv_report_release(&r);
}

static void test_report_prometheus_escapes_labels(void **state)
{
	struct dcv_report r = { 0 };
	struct dcv_buf out = DCV_BUF_INIT;

	(void)state;
	dcv_report_add(&r, "a\\b\"c\nd", "h", DCV_CHECK_PASS, 1, NULL, "ok");
	dcv_report_prometheus(&r, false, &out);
	assert_non_null(strstr(out.data, "dcvctl_check_healthy{id=\"a\\\\b\\\"c\\nd\",host=\"h\"} 1\n"));
	dcv_buf_release(&out);
	dcv_report_release(&r);
}

static void test_report_strict_counts_warnings_as_failures(void **state)
{
	struct dcv_report r;
	struct dcv_buf out = DCV_BUF_INIT;
	int p, f, w, s, e, n, plan;
	struct json_object *root, *sum, *c;

	(void)state;
	sample_report(&r);
	dcv_report_counts(&r, false, &p, &f, &w, &s, &e);
	assert_true(p == 2 && f == 1 && w == 1 && s == 1 && e == 1);
	dcv_report_counts(&r, true, &p, &f, &w, &s, &e);
	assert_true(p == 2 && f == 2 && w == 0 && s == 1 && e == 1);

	dcv_report_text(&r, false, true, &out);
	assert_non_null(strstr(out.data, "2 passed, 2 failed, 0 warned, 1 skipped, 1 errors in"));
	dcv_buf_reset(&out);
	dcv_report_json(&r, true, &out);
	root = json_tokener_parse(out.data);
	assert_non_null(root);
	sum = json_object_object_get(root, "summary");
	assert_int_equal(json_object_get_int(json_object_object_get(sum, "failed")), 2);
	assert_int_equal(json_object_get_int(json_object_object_get(sum, "warned")), 0);
	c = json_object_array_get_idx(json_object_object_get(root, "checks"), 2);
	assert_string_equal(json_object_get_string(json_object_object_get(c, "status")), "warn");
	json_object_put(root);
	dcv_buf_reset(&out);
	dcv_report_junit(&r, true, &out);
	assert_xml_well_formed(&out);
	assert_non_null(strstr(out.data, "<failure type=\"warning\" message=\"certificate expires in 12 days\"/>"));
	assert_non_null(strstr(out.data, "<testsuites name=\"dcvctl\" tests=\"6\" failures=\"2\" errors=\"1\" time="));
	dcv_buf_reset(&out);
	dcv_report_tap(&r, true, &out);
	assert_non_null(strstr(out.data, "\nnot ok 3 - gateway.cert: certificate expires in 12 days\n"
					 "  ---\n  message: \"certificate expires in 12 days\"\n"
					 "  severity: warn\n"));
	n = count_test_lines(out.data, &plan);
	assert_int_equal(n, plan);
	dcv_buf_reset(&out);
	dcv_report_prometheus(&r, true, &out);
	assert_non_null(strstr(out.data, "\ndcvctl_check_healthy{id=\"gateway.cert\",host=\"gateway\"} 0\n"));
	assert_non_null(strstr(out.data, "\ndcvctl_checks{status=\"fail\"} 2\n"));
	assert_non_null(strstr(out.data, "\ndcvctl_checks{status=\"warn\"} 0\n"));
	dcv_buf_release(&out);
	dcv_report_release(&r);
}

static void test_report_sort_groups_hosts_stably(void **state)
{
	static const char *const want[] = { "bastion.ssh", "gateway.proxy.service", "gateway.cert",
					    "agent.dcv1.sm-agent", "agent.dcv1.dcvserver",
					    "endpoint.tls" };
	struct dcv_report r;

	(void)state;
	sample_report(&r);
	dcv_report_sort(&r);
	assert_int_equal(r.n, 6);
	for (int i = 0; i < r.n; i++)
		assert_string_equal(r.checks[i].id, want[i]);
	dcv_report_release(&r);
	assert_null(r.checks);
	assert_int_equal(r.n, 0);
}

static void test_report_check_selected(void **state)
{
	(void)state;
	assert_true(dcv_check_selected("agent.dcv1.dcvserver", "agent.dcv1"));
	assert_true(dcv_check_selected("agent.dcv1", "agent.dcv1"));
	assert_false(dcv_check_selected("agent.dcv10.dcvserver", "agent.dcv1"));
	assert_true(dcv_check_selected("endpoint.tls", "endpoint."));
	assert_false(dcv_check_selected("endpoint", "endpoint."));
	assert_true(dcv_check_selected("gateway.proxy.config", "gateway.proxy.config"));
	assert_false(dcv_check_selected("gateway.proxy.configx", "gateway.proxy.config"));
	assert_false(dcv_check_selected("gateway.proxy", "gateway.proxy.config"));
	assert_true(dcv_check_selected("gateway.cert", "endpoint.,gateway.cert"));
	assert_true(dcv_check_selected("gateway.cert", ",,endpoint., gateway.cert ,"));
	assert_false(dcv_check_selected("gateway.cert", ",,"));
	assert_false(dcv_check_selected("gateway.cert", ""));
	assert_false(dcv_check_selected("gateway.cert", NULL));
	assert_false(dcv_check_selected("gateway.certificate", "gateway.cert"));
	assert_true(dcv_check_selected("gateway.to.dcv1.tls", "gateway"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_report_text_matches_golden),
		cmocka_unit_test(test_report_text_colour),
		cmocka_unit_test(test_report_text_keeps_the_evidence_tail_and_no_escapes),
		cmocka_unit_test(test_report_json_matches_golden_with_exact_keys),
		cmocka_unit_test(test_report_healthy_diagnosis),
		cmocka_unit_test(test_report_junit_matches_golden_and_is_well_formed),
		cmocka_unit_test(test_report_junit_survives_hostile_text),
		cmocka_unit_test(test_report_hostile_text_goldens_carry_no_controls),
		cmocka_unit_test(test_report_tap_matches_golden_with_plan),
		cmocka_unit_test(test_report_tap_escapes_descriptions_and_yaml),
		cmocka_unit_test(test_report_prometheus_matches_golden),
		cmocka_unit_test(test_report_prometheus_escapes_labels),
		cmocka_unit_test(test_report_strict_counts_warnings_as_failures),
		cmocka_unit_test(test_report_sort_groups_hosts_stably),
		cmocka_unit_test(test_report_check_selected),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
