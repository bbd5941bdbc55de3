/* The connection-gateway kind: dcv-connection-gateway.conf rendered (golden file) and linted
 * (reference/dcv.md §3.1), and the resolver's DNS name taken from the inventory. */
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
#include "../../lib/inventory.h"
#include "../../lib/lint.h"
#include "../../lib/proxy_gateway.h"

#include "fixture.h"

static struct dcv_inventory *load(const char *rel)
{
	struct dcv_inventory *inv = NULL;
	struct dcv_err err = DCV_ERR_INIT;
	char *path = fixture_path(rel);
	int rc = dcv_inventory_load(path, "/root", &inv, &err);

	if (rc)
		fail_msg("%s", err.msg);
	free(path);
	return inv;
}

static void golden(const char *rel, const char *text)
{
	char *want;

	if (getenv("UPDATE_GOLDEN")) {
		char *p = fixture_path(rel);
		assert_int_equal(dcv_file_write_atomic(p, text, strlen(text), 0644), 0);
		free(p);
	}
	want = fixture(rel);
	assert_string_equal(text, want);
	free(want);
}

/* The number of findings of `rule` (at `line` unless line < 0). */
static int count(const struct dcv_findings *f, const char *rule, int line)
{
	int n = 0;

	for (int i = 0; i < f->n; i++)
		n += strcmp(f->v[i].rule, rule) == 0 && (line < 0 || f->v[i].line == line);
	return n;
}

static const char *msg_of(const struct dcv_findings *f, const char *rule)
{
	for (int i = 0; i < f->n; i++)
		if (strcmp(f->v[i].rule, rule) == 0)
			return f->v[i].msg;
	fail_msg("no finding '%s'", rule);
	return NULL;
}

static void dump(const struct dcv_findings *f)
{
	for (int i = 0; i < f->n; i++)
		fprintf(stderr, "  %s:%d: %s: %s\n", f->v[i].file, f->v[i].line, f->v[i].rule, f->v[i].msg);
}

static void test_gateway_render_mtls_matches_golden(void **state)
{
	struct dcv_inventory *inv = load("gateway/inventory.conf");
	struct dcv_buf out = DCV_BUF_INIT;
	struct dcv_err err = DCV_ERR_INIT;
	struct dcv_findings f = { 0 };

	(void)state;
	assert_int_equal(dcv_render_gateway(inv, NULL, &out, &err), DCV_OK);
	golden("gateway/mtls.golden", dcv_buf_str(&out));
	/* what the issue asks for, so a golden update cannot drop it */
	assert_non_null(strstr(out.data, "[gateway]\n"));
	assert_non_null(strstr(out.data, "web-listen-endpoints = [\"0.0.0.0:8443\"]\n"));
	assert_non_null(strstr(out.data, "url = \"https://broker.lab.example:8447\"\n"));
	assert_non_null(strstr(out.data, "ca-file = \"" DCV_GATEWAY_BROKER_CA "\"\n"));
	assert_non_null(strstr(out.data, "cert-file = \"" DCV_GATEWAY_CLIENT_CERT "\"\n"));
	assert_non_null(strstr(out.data, "cert-key-file = \"" DCV_GATEWAY_CLIENT_KEY "\"\n"));
	assert_non_null(strstr(out.data, "[dcv]\n# DCV servers present"));
	assert_non_null(strstr(out.data, "tls-strict = false\n"));
	assert_non_null(strstr(out.data, "local-resources-path = \"/usr/share/dcv/www\"\n"));
	assert_non_null(strstr(out.data, "[health-check]\n"));
	assert_non_null(strstr(out.data, "bind-addr = \"0.0.0.0\"\nport = 8989\n"));
	assert_null(strstr(out.data, "quic-listen-endpoints ="));
	/* what dcvctl renders is what its own lint accepts */
	dcv_lint_gateway(out.data, "rendered", &f);
	dump(&f);
	assert_int_equal(f.n, 0);
	dcv_findings_free(&f);
	dcv_buf_release(&out);
	dcv_inventory_free(inv);
}

static void test_gateway_render_without_mtls_uses_broker_host_name(void **state)
{
	struct dcv_inventory *inv = load("gateway/broker-by-name.conf");
	struct dcv_buf out = DCV_BUF_INIT;
	struct dcv_err err = DCV_ERR_INIT;
	struct dcv_findings f = { 0 };

	(void)state;
	assert_int_equal(dcv_render_gateway(inv, "/etc/dcv-connection-gateway/agents-ca.pem", &out, &err), DCV_OK);
	golden("gateway/plain.golden", dcv_buf_str(&out));
	assert_non_null(strstr(out.data, "url = \"https://broker.internal.example:9447\"\n"));
	assert_non_null(strstr(out.data, "web-listen-endpoints = [\"0.0.0.0:443\"]\n"));
	/* no client certificate in [resolver]; the only cert-file is the gateway's own */
	assert_null(strstr(out.data, DCV_GATEWAY_CLIENT_CERT));
	assert_non_null(strstr(out.data, "tls-strict = true\nca-file = \"/etc/dcv-connection-gateway/agents-ca.pem\"\n"));
	dcv_lint_gateway(out.data, "rendered", &f);
	dump(&f);
	assert_int_equal(f.n, 0);
	dcv_findings_free(&f);
	dcv_buf_release(&out);
	dcv_inventory_free(inv);
}

static void test_gateway_render_refuses_ip_resolver(void **state)
{
	struct dcv_inventory *inv = load("gateway/no-name.conf");
	struct dcv_buf out = DCV_BUF_INIT;
	struct dcv_err err = DCV_ERR_INIT;
	struct dcv_findings f = { 0 };
	char *want;

	(void)state;
	assert_int_equal(dcv_render_gateway(inv, NULL, &out, &err), DCV_E_CONFIG);
	assert_int_equal(out.len, 0);
	want = xasprintf("the Connection Gateway needs a DNS name in [resolver] url and refuses an IP, but the "
			 "broker ([gateway]) has only the address '198.18.1.11': set 'name = broker.example.internal' "
			 "in [broker] of '%s' and make that name resolve on the gateway (its DNS or /etc/hosts)",
			 inv->path);
	assert_string_equal(err.msg, want);
	free(want);
	/* the kind's render cannot fail: it writes the address, and the lint names the problem */
	dcv_proxy_gateway.render(inv, &(struct dcv_proxy_env){ 0 }, &out);
	assert_non_null(strstr(out.data, "url = \"https://198.18.1.11:8447\"\n"));
	dcv_proxy_gateway.lint(out.data, "rendered", NULL, &f);
	assert_int_equal(f.n, 1);
	assert_int_equal(count(&f, "gateway.resolver-ip", -1), 1);
	assert_int_equal(f.v[0].sev, DCV_SEV_ERROR);
	dcv_findings_free(&f);
	dcv_buf_release(&out);
	dcv_inventory_free(inv);
}

static void test_gateway_resolver_name_from_hosts(void **state)
{
	static const char text[] = "[agent dcv1]\naddress = 198.18.1.21\nuser = u\n";
	FILE *fp = fmemopen((void *)text, strlen(text), "r");
	struct dcv_inventory *inv = NULL;
	struct dcv_err err = DCV_ERR_INIT;
	const char *name = "unchanged";

	(void)state;
	assert_int_equal(dcv_inventory_parse(fp, "t.conf", NULL, &inv, &err), DCV_OK);
	fclose(fp);
	assert_int_equal(dcv_gateway_resolver_name(inv, &name, &err), DCV_E_CONFIG);
	assert_string_equal(err.msg, "no broker host: add [gateway] or 'host = ...' in [broker] of 't.conf'");
	assert_string_equal(name, "unchanged"); /* out-parameters only on success */
	/* a name that is neither an IP nor a DNS name is not put in a URL */
	free(inv->hosts[0]->address);
	inv->hosts[0]->address = xstrdup("gw?x");
	free(inv->broker_host);
	inv->broker_host = xstrdup("dcv1");
	assert_int_equal(dcv_gateway_resolver_name(inv, &name, &err), DCV_E_CONFIG);
	assert_non_null(strstr(err.msg, "has only the address 'gw?x'"));
	free(inv->hosts[0]->address);
	inv->hosts[0]->address = xstrdup("dcv1.lab.example");
	assert_int_equal(dcv_gateway_resolver_name(inv, &name, &err), DCV_OK);
	assert_string_equal(name, "dcv1.lab.example");
	dcv_inventory_free(inv);
}

static void test_gateway_kind_entry(void **state)
{
	(void)state;
	assert_int_equal(dcv_proxy_gateway.id, DCV_PROXY_CONNECTION_GATEWAY);
	assert_string_equal(dcv_proxy_gateway.name, "connection-gateway");
	assert_false(dcv_proxy_gateway.bypass);
	assert_string_equal(dcv_proxy_gateway.unit, "dcv-connection-gateway");
	assert_string_equal(dcv_proxy_gateway.config, DCV_GATEWAY_CONF);
	assert_string_equal(dcv_proxy_gateway.stop[0], "nginx");
	assert_string_equal(dcv_proxy_gateway.stop[1], "haproxy");
	assert_null(dcv_proxy_gateway.stop[2]);
	assert_ptr_equal(dcv_proxy_kind(DCV_PROXY_CONNECTION_GATEWAY), &dcv_proxy_gateway);
	assert_ptr_equal(dcv_proxy_kind_named("connection-gateway"), &dcv_proxy_gateway);
}

/* ------------------------------------------------------------------ lint */

static void lint(const char *text, struct dcv_findings *f)
{
	memset(f, 0, sizeof(*f));
	dcv_lint_gateway(text, "gw.conf", f);
}

#define OK_HEAD "[gateway]\nweb-listen-endpoints = [\"0.0.0.0:8443\"]\n"
#define OK_RESOLVER "[resolver]\nurl = \"https://broker.lab:8447\"\nca-file = \"/etc/ca.pem\"\n"
#define OK_WEB "[web-resources]\nlocal-resources-path = \"/usr/share/dcv/www\"\n"

static void test_gateway_lint_unknown_section_and_key_suggest(void **state)
{
	struct dcv_findings f;

	(void)state;
	lint(OK_HEAD "web-listen-endpoint = 8443\n" OK_RESOLVER OK_WEB "[resovler]\nurl = \"x\"\n[health]\nport = 1\n", &f);
	assert_int_equal(count(&f, "gateway.unknown-key", 3), 1);
	assert_string_equal(msg_of(&f, "gateway.unknown-key"),
			    "unknown key 'web-listen-endpoint' in [gateway] (did you mean 'web-listen-endpoints'?) (reference/dcv.md §3.1)");
	assert_int_equal(count(&f, "gateway.unknown-section", 9), 1);
	assert_int_equal(count(&f, "gateway.unknown-section", 11), 1);
	assert_string_equal(msg_of(&f, "gateway.unknown-section"),
			    "unknown section 'resovler' (did you mean 'resolver'?) (reference/dcv.md §3.1)");
	/* keys of an unknown section are not reported again */
	assert_int_equal(f.n, 3);
	dcv_findings_free(&f);
}

static void test_gateway_lint_resolver_rules(void **state)
{
	struct dcv_findings f;

	(void)state;
	lint(OK_HEAD OK_WEB "[resolver]\nurl = \"https://10.0.0.5:8447\"\n", &f);
	assert_int_equal(count(&f, "gateway.resolver-ip", 6), 1);
	assert_int_equal(count(&f, "gateway.resolver-ca-file", 6), 1);
	assert_int_equal(f.n, 2);
	dcv_findings_free(&f);

	lint(OK_HEAD OK_WEB "[resolver]\nurl = \"https://[fd00::5]:8447\"\nca-file = \"/c\"\n", &f);
	assert_int_equal(count(&f, "gateway.resolver-ip", 6), 1);
	assert_int_equal(f.n, 1);
	dcv_findings_free(&f);

	/* tls-strict = false needs no CA (it trusts anything) */
	lint(OK_HEAD OK_WEB "[resolver]\nurl = \"https://broker.lab:8447\"\ntls-strict = false\n", &f);
	assert_int_equal(f.n, 0);
	dcv_findings_free(&f);

	lint(OK_HEAD OK_WEB, &f);
	assert_int_equal(count(&f, "gateway.resolver-url", 0), 1);
	assert_int_equal(f.n, 1);
	dcv_findings_free(&f);

	lint(OK_HEAD OK_WEB OK_RESOLVER "cert-file = \"/c.pem\"\n", &f);
	assert_int_equal(count(&f, "gateway.cert-pair", 8), 1);
	assert_string_equal(msg_of(&f, "gateway.cert-pair"),
			    "[resolver] sets cert-file without cert-key-file: they must be set together (reference/dcv.md §3.1)");
	assert_int_equal(f.n, 1);
	dcv_findings_free(&f);
}

static void test_gateway_lint_gateway_rules(void **state)
{
	struct dcv_findings f;

	(void)state;
	lint("[gateway]\nweb-listen-endpoints = [ ]\nbind-addr = \"0.0.0.0\"\ntcp-idle-timeout = 5\n"
	     "cert-key-file = \"/k\"\n" OK_RESOLVER OK_WEB, &f);
	assert_int_equal(count(&f, "gateway.web-listen-endpoints", 2), 1);
	assert_int_equal(count(&f, "gateway.deprecated-key", 3), 1);
	assert_int_equal(count(&f, "gateway.tcp-idle-timeout", 4), 1);
	assert_int_equal(count(&f, "gateway.cert-pair", 5), 1);
	assert_int_equal(f.n, 4);
	dcv_findings_free(&f);

	lint(OK_RESOLVER OK_WEB, &f);
	assert_int_equal(count(&f, "gateway.web-listen-endpoints", 0), 1);
	assert_int_equal(f.n, 1);
	dcv_findings_free(&f);

	/* an array over several lines, comments after values */
	lint("[gateway]\nweb-listen-endpoints = [\n  \"0.0.0.0:8443\", # v4\n  \"[::]:8443\",\n]\n"
	     "web-port = 8443 # the default\n" OK_RESOLVER OK_WEB, &f);
	dump(&f);
	assert_int_equal(f.n, 0);
	dcv_findings_free(&f);
}

static void test_gateway_lint_syntax_and_duplicates(void **state)
{
	struct dcv_findings f;

	(void)state;
	lint("url = \"https://x\"\n" OK_HEAD "web-port = 1\nweb-port = 2\njust words\n[gateway\n" OK_RESOLVER OK_WEB, &f);
	assert_int_equal(count(&f, "gateway.syntax", 1), 1);
	assert_int_equal(count(&f, "gateway.duplicate-key", 5), 1);
	assert_int_equal(count(&f, "gateway.syntax", 6), 1);
	assert_int_equal(count(&f, "gateway.syntax", 7), 1);
	assert_int_equal(f.n, 4);
	dcv_findings_free(&f);
}

static void test_gateway_lint_web_resources(void **state)
{
	struct dcv_findings f;

	(void)state;
	lint(OK_HEAD OK_RESOLVER, &f);
	assert_int_equal(count(&f, "gateway.no-web-resources", 0), 1);
	assert_int_equal(f.v[0].sev, DCV_SEV_WARN);
	assert_int_equal(f.n, 1);
	dcv_findings_free(&f);

	lint(OK_HEAD OK_RESOLVER "[web-resources]\nurl = \"https://192.0.2.7:8080\"\n", &f);
	assert_int_equal(count(&f, "gateway.web-resources-ip", 7), 1);
	assert_int_equal(f.n, 1);
	dcv_findings_free(&f);
}

/* The lab's "before" file (tests/lab/skel) is a valid gateway configuration. */
static void test_gateway_lint_lab_skel_is_clean(void **state)
{
	struct dcv_buf b = DCV_BUF_INIT;
	char *p = xasprintf("%s/tests/lab/skel/gateway/etc/dcv-connection-gateway/dcv-connection-gateway.conf",
			    srcdir());
	struct dcv_findings f;

	(void)state;
	assert_int_equal(dcv_file_read(p, &b), 0);
	lint(dcv_buf_str(&b), &f);
	dump(&f);
	assert_int_equal(f.n, 0);
	dcv_findings_free(&f);
	dcv_buf_release(&b);
	free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_gateway_render_mtls_matches_golden),
		cmocka_unit_test(test_gateway_render_without_mtls_uses_broker_host_name),
		cmocka_unit_test(test_gateway_render_refuses_ip_resolver),
		cmocka_unit_test(test_gateway_resolver_name_from_hosts),
		cmocka_unit_test(test_gateway_kind_entry),
		cmocka_unit_test(test_gateway_lint_unknown_section_and_key_suggest),
		cmocka_unit_test(test_gateway_lint_resolver_rules),
		cmocka_unit_test(test_gateway_lint_gateway_rules),
		cmocka_unit_test(test_gateway_lint_syntax_and_duplicates),
		cmocka_unit_test(test_gateway_lint_web_resources),
		cmocka_unit_test(test_gateway_lint_lab_skel_is_clean),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
