/* Renderers: nginx (golden file), dcv.conf merge, unified diff. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../lib/buf.h"
#include "../../lib/diff.h"
#include "../../lib/err.h"
#include "../../lib/inventory.h"
#include "../../lib/proxy.h"
#include "../../lib/render.h"

#include "fixture.h"

static struct dcv_inventory *load(void)
{
	struct dcv_inventory *inv = NULL;
	struct dcv_err err = DCV_ERR_INIT;
	char *path = fixture_path("render.conf");
	int rc = dcv_inventory_load(path, "/root", &inv, &err);

	if (rc)
		fprintf(stderr, "%s\n", err.msg);
	assert_int_equal(rc, DCV_OK);
	free(path);
	return inv;
}

static void test_render_nginx_matches_golden(void **state)
{
	struct dcv_inventory *inv = load();
	struct dcv_buf out = DCV_BUF_INIT;
	char *golden = fixture("render-nginx.golden");

	(void)state;
	dcv_proxy_nginx.render(inv, &(struct dcv_proxy_env){ 0 }, &out);
	if (getenv("UPDATE_GOLDEN")) {
		char *p = fixture_path("render-nginx.golden");
		FILE *f = fopen(p, "w");
		fputs(out.data, f);
		fclose(f);
		free(p);
	}
	assert_string_equal(out.data, golden);
	/* the properties the issue asks for, so a golden update cannot silently drop them */
	assert_non_null(strstr(out.data, "server 198.18.1.21:8443 max_fails=3 fail_timeout=30s;"));
	assert_non_null(strstr(out.data, "server 198.18.1.22:8443 max_fails=3 fail_timeout=30s backup;"));
	assert_null(strstr(out.data, "ip_hash;"));
	assert_non_null(strstr(out.data, "map $http_upgrade $connection_upgrade"));
	assert_non_null(strstr(out.data, "proxy_http_version 1.1;"));
	assert_non_null(strstr(out.data, "proxy_buffering off;"));
	assert_non_null(strstr(out.data, "proxy_read_timeout 400s;"));
	assert_non_null(strstr(out.data, "location = /health"));
	assert_non_null(strstr(out.data, "keepalive 32;"));
	assert_non_null(strstr(out.data, "listen 8443 ssl;"));
	assert_non_null(strstr(out.data, "access_log /var/log/nginx/dcv-access.log;"));
	assert_non_null(strstr(out.data, "ssl_certificate /etc/dcv-connection-gateway/cert.pem;"));
	free(golden);
	dcv_buf_release(&out);
	dcv_inventory_free(inv);
}

static const char sm_dcvconf[] =
	"# written by the operator\n"
	"[security]\n"
	"administrators=[\"dcvsmagent\"]\n"
	"auth-token-verifier=\"https://198.18.1.11:8445/agent/validate-authentication-token\"\n"
	"no-tls-strict=true\n"
	"ca-file=\"/etc/dcv/broker-ca.pem\"\n"
	"\n"
	"[connectivity]\n"
	"web-port=8443\n"
	"# keep this comment\n"
	"idle-timeout=120\n"
	"\n"
	"[log]\n"
	"level=\"debug\"\n";

static void test_render_dcvconf_keeps_foreign_keys_and_comments(void **state)
{
	struct dcv_inventory *inv = load();
	struct dcv_buf out = DCV_BUF_INIT;

	(void)state;
	dcv_render_dcvconf(sm_dcvconf, dcv_inventory_host(inv, "dcv1"), true, &out);
	assert_non_null(strstr(out.data, "# written by the operator\n"));
	assert_non_null(strstr(out.data, "administrators=[\"dcvsmagent\"]\n"));
	assert_non_null(strstr(out.data, "ca-file=\"/etc/dcv/broker-ca.pem\"\n"));
	assert_non_null(strstr(out.data, "# keep this comment\nidle-timeout=120\n"));
	assert_non_null(strstr(out.data, "[log]\nlevel=\"debug\"\n"));
	/* managed keys land in their sections */
	assert_non_null(strstr(out.data, "[connectivity]\nweb-port=8443\n# keep this comment\nidle-timeout=120\nweb-url-path=\"/\"\n"));
	assert_non_null(strstr(out.data, "[session-management]\ncreate-session=true\n"));
	assert_non_null(strstr(out.data, "[session-management/automatic-console-session]\nowner=\"ubuntu\"\n"));
	/* dcv1 does not set authentication: not written */
	assert_null(strstr(out.data, "authentication"));
	dcv_buf_release(&out);
	dcv_inventory_free(inv);
}

static void test_render_dcvconf_drops_verifier_in_bypass_only(void **state)
{
	struct dcv_inventory *inv = load();
	struct dcv_buf bypass = DCV_BUF_INIT, sm = DCV_BUF_INIT;

	(void)state;
	dcv_render_dcvconf(sm_dcvconf, dcv_inventory_host(inv, "dcv1"), true, &bypass);
	dcv_render_dcvconf(sm_dcvconf, dcv_inventory_host(inv, "dcv1"), false, &sm);
	assert_null(strstr(bypass.data, "auth-token-verifier"));
	assert_null(strstr(bypass.data, "no-tls-strict"));
	assert_non_null(strstr(sm.data, "auth-token-verifier="));
	assert_non_null(strstr(sm.data, "no-tls-strict=true"));
	dcv_buf_release(&bypass);
	dcv_buf_release(&sm);
	dcv_inventory_free(inv);
}

static void test_render_dcvconf_is_idempotent(void **state)
{
	struct dcv_inventory *inv = load();
	const struct dcv_host *dcv2 = dcv_inventory_host(inv, "dcv2");
	struct dcv_buf once = DCV_BUF_INIT, twice = DCV_BUF_INIT;

	(void)state;
	dcv_render_dcvconf(sm_dcvconf, dcv2, true, &once);
	dcv_render_dcvconf(once.data, dcv2, true, &twice);
	assert_string_equal(once.data, twice.data);
	assert_non_null(strstr(once.data, "authentication=\"system\"\n"));
	dcv_buf_release(&once);
	dcv_buf_release(&twice);
	dcv_inventory_free(inv);
}

static void test_render_dcvconf_from_nothing(void **state)
{
	struct dcv_inventory *inv = load();
	struct dcv_buf out = DCV_BUF_INIT;

	(void)state;
	dcv_render_dcvconf(NULL, dcv_inventory_host(inv, "dcv1"), true, &out);
	assert_string_equal(out.data, "[connectivity]\nweb-port=8443\nweb-url-path=\"/\"\n\n"
				      "[session-management]\ncreate-session=true\n\n[session-management/automatic-console-session]\nowner=\"ubuntu\"\n");
	dcv_buf_release(&out);
	dcv_inventory_free(inv);
}

static void test_render_dcvconf_replaces_wrong_values_and_repeats(void **state)
{
	struct dcv_inventory *inv = load();
	struct dcv_host v = *dcv_inventory_host(inv, "dcv1");
	struct dcv_buf out = DCV_BUF_INIT;

	(void)state;
	v.session_type = (char *)"virtual"; /* so create-session = true is a wrong value */
	dcv_render_dcvconf("[connectivity]\nweb-port = 9443\nweb-port=7443\n[session-management]\ncreate-session = true\n",
			   &v, true, &out);
	assert_string_equal(out.data, "[connectivity]\nweb-port=8443\nweb-url-path=\"/\"\n"
				      "[session-management]\ncreate-session=false\n");
	dcv_buf_release(&out);
	dcv_inventory_free(inv);
}

/* The automatic console session is dcvserver's to create at every start (reference §1.1); any
 * other session is dcvctl's, so dcvserver must not make a console one beside it. */
static void test_render_dcvconf_console_vs_virtual(void **state)
{
	struct dcv_inventory *inv = load();
	struct dcv_host v = *dcv_inventory_host(inv, "dcv1");
	struct dcv_buf console = DCV_BUF_INIT, virt = DCV_BUF_INIT, back = DCV_BUF_INIT;
	(void)state;

	dcv_render_dcvconf(NULL, &v, true, &console);
	v.session_type = (char *)"virtual";
	v.session = (char *)"work";
	dcv_render_dcvconf(console.data, &v, true, &virt);
	assert_non_null(strstr(console.data, "[session-management]\ncreate-session=true\n"));
	assert_non_null(strstr(console.data, "owner=\"ubuntu\""));
	assert_non_null(strstr(virt.data, "[session-management]\ncreate-session=false\n"));
	assert_null(strstr(virt.data, "create-session=true"));
	/* a console session under another id is created by dcvctl too */
	v.session_type = (char *)"console";
	dcv_render_dcvconf(virt.data, &v, true, &back);
	assert_non_null(strstr(back.data, "create-session=false\n"));
	dcv_buf_release(&console);
	dcv_buf_release(&virt);
	dcv_buf_release(&back);
	dcv_inventory_free(inv);
}

/* A padded header is the same section to the merge; it is written back as [name] so that a
 * parser that keeps the spaces (GLib's key files) reads the keys where they were set. */
static void test_render_dcvconf_writes_padded_header_plain(void **state)
{
	struct dcv_inventory *inv = load();
	struct dcv_buf out = DCV_BUF_INIT;

	(void)state;
	dcv_render_dcvconf("[ connectivity ]\nweb-port=9443\n[log ]\nlevel=info\n",
			   dcv_inventory_host(inv, "dcv1"), true, &out);
	assert_string_equal(out.data, "[connectivity]\nweb-port=8443\nweb-url-path=\"/\"\n"
				      "[log ]\nlevel=info\n\n"
				      "[session-management]\ncreate-session=true\n\n[session-management/automatic-console-session]\nowner=\"ubuntu\"\n");
	dcv_buf_release(&out);
	dcv_inventory_free(inv);
}

static void test_render_diff_unified(void **state)
{
	struct dcv_buf out = DCV_BUF_INIT;

	(void)state;
	assert_false(dcv_diff("a\nb\n", "a\nb\n", "old", "new", &out));
	assert_int_equal(out.len, 0);
	assert_true(dcv_diff("a\nb\nc\n", "a\nB\nc\nd\n", "old", "new", &out));
	assert_string_equal(out.data, "--- old\n+++ new\n@@ -1,3 +1,4 @@\n a\n-b\n+B\n c\n+d\n");
	dcv_buf_reset(&out);
	assert_true(dcv_diff("", "x\n", "old", "new", &out));
	assert_string_equal(out.data, "--- old\n+++ new\n@@ -0,0 +1 @@\n+x\n");
	dcv_buf_release(&out);
}

static void test_render_diff_separates_distant_hunks(void **state)
{
	struct dcv_buf a = DCV_BUF_INIT, b = DCV_BUF_INIT, out = DCV_BUF_INIT;

	(void)state;
	for (int i = 1; i <= 20; i++) {
		dcv_buf_addf(&a, "%d\n", i);
		dcv_buf_addf(&b, "%d\n", i == 2 ? 200 : i == 18 ? 1800 : i);
	}
	assert_true(dcv_diff(a.data, b.data, "a", "b", &out));
	assert_non_null(strstr(out.data, "@@ -1,5 +1,5 @@\n"));
	assert_non_null(strstr(out.data, "@@ -15,6 +15,6 @@\n"));
	dcv_buf_release(&a);
	dcv_buf_release(&b);
	dcv_buf_release(&out);
}

static void test_render_dcvconf_for_connection_gateway_puts_the_verifier_back(void **state)
{
	struct dcv_inventory *inv = NULL;
	struct dcv_err err = DCV_ERR_INIT;
	char *path = fixture_path("gateway/inventory.conf");
	struct dcv_buf out = DCV_BUF_INIT, again = DCV_BUF_INIT, ca = DCV_BUF_INIT;
	const struct dcv_host *h;
	(void)state;

	assert_int_equal(dcv_inventory_load(path, "/root", &inv, &err), DCV_OK);
	free(path);
	h = dcv_inventory_host(inv, "dcv1");
	dcv_render_dcvconf_for("[security]\n# kept\n", inv, h, &out);
	assert_non_null(strstr(out.data, "[security]\n"
					 "auth-token-verifier=\"https://broker.lab.example:8445/agent/validate-authentication-token\"\n"
					 "administrators=[\"dcvsmagent\"]\n"
					 "no-tls-strict=true\n"
					 "# kept\n"));
	dcv_render_dcvconf_for(out.data, inv, h, &again);
	assert_string_equal(out.data, again.data);
	/* a CA for the broker's certificate: TLS to the verifier stays strict */
	dcv_render_dcvconf_for("[security]\nca-file=\"/etc/dcv/broker-ca.pem\"\n", inv, h, &ca);
	assert_null(strstr(ca.data, "no-tls-strict"));
	assert_non_null(strstr(ca.data, "auth-token-verifier="));
	dcv_buf_release(&out);
	dcv_buf_release(&again);
	dcv_buf_release(&ca);
	dcv_inventory_free(inv);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_render_nginx_matches_golden),
		cmocka_unit_test(test_render_dcvconf_keeps_foreign_keys_and_comments),
		cmocka_unit_test(test_render_dcvconf_console_vs_virtual),
		cmocka_unit_test(test_render_dcvconf_drops_verifier_in_bypass_only),
		cmocka_unit_test(test_render_dcvconf_for_connection_gateway_puts_the_verifier_back),
		cmocka_unit_test(test_render_dcvconf_writes_padded_header_plain),
		cmocka_unit_test(test_render_dcvconf_is_idempotent),
		cmocka_unit_test(test_render_dcvconf_from_nothing),
		cmocka_unit_test(test_render_dcvconf_replaces_wrong_values_and_repeats),
		cmocka_unit_test(test_render_diff_unified),
		cmocka_unit_test(test_render_diff_separates_distant_hunks),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
