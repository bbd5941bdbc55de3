/* session-manager-broker.properties (reference/dcv.md §5.1): the Java properties merge against
 * golden files, and lookups as the broker reads them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../lib/buf.h"
#include "../../lib/inventory.h"
#include "../../lib/properties.h"

#include "fixture.h"

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

static void expect_prop(const char *text, const char *key, const char *want)
{
	char *v = dcv_properties_get(text, key);

	if (!want) {
		assert_null(v);
		return;
	}
	if (!v)
		fail_msg("no '%s'", key);
	assert_string_equal(v, want);
	free(v);
}

static int occurrences(const char *text, const char *needle)
{
	int n = 0;

	for (const char *p = text; (p = strstr(p, needle)); p++)
		n++;
	return n;
}

/* Render, compare with the golden file, and render again: nothing may change. */
static char *render_twice(const char *existing, const struct dcv_broker_mtls *mtls, const char *gold)
{
	struct dcv_inventory inv = { .resolver_port = 8447 };
	struct dcv_buf a = DCV_BUF_INIT, b = DCV_BUF_INIT;

	dcv_render_broker_properties(existing, &inv, mtls, &a);
	golden(gold, dcv_buf_str(&a));
	dcv_render_broker_properties(a.data, &inv, mtls, &b);
	assert_string_equal(b.data, a.data);
	dcv_buf_release(&b);
	return dcv_buf_detach(&a);
}

static void test_properties_stock_file_gateway_on(void **state)
{
	char *stock = fixture("broker/stock.properties");
	char *out = render_twice(stock, NULL, "broker/stock-gateway.golden");

	(void)state;
	expect_prop(out, "enable-gateway", "true");
	expect_prop(out, "gateway-to-broker-connector-https-port", "8447");
	expect_prop(out, "gateway-to-broker-connector-bind-host", "0.0.0.0");
	expect_prop(out, "enable-tls-client-auth-gateway", "false");
	expect_prop(out, "gateway-to-broker-connector-trust-store-pass", NULL);
	/* the stock line is rewritten in place, the new keys go under their commented-out lines */
	assert_non_null(strstr(out, "\nenable-gateway = true\n#gateway-to-broker-connector-https-port = 8447\n"
				    "gateway-to-broker-connector-https-port = 8447\n"));
	/* foreign keys, both comment kinds and the continued value stay byte for byte */
	assert_non_null(strstr(out, "! client API\n"));
	assert_non_null(strstr(out, "agent-to-broker-connector-https-port:8445\n"));
	assert_non_null(strstr(out, "agent-to-broker-connector-bind-host 0.0.0.0\n"));
	assert_non_null(strstr(out, "broker-to-broker-discovery-addresses = 10.0.0.1:47500,\\\n"
				    "                                       10.0.0.2:47500,\\\n"));
	expect_prop(out, "broker-to-broker-discovery-addresses", "10.0.0.1:47500,10.0.0.2:47500,10.0.0.3:47500");
	expect_prop(out, "client-to-broker-connector-key-store-pass", "dcvsm1.");
	free(out);
	free(stock);
}

static void test_properties_stock_file_mtls(void **state)
{
	char *stock = fixture("broker/stock.properties");
	struct dcv_broker_mtls m = { "/etc/dcv-session-manager-broker/resolver-creds/dcv_gateway_truststore.p12",
				     "s3cr\\et pass" };
	char *out = render_twice(stock, &m, "broker/stock-mtls.golden");

	(void)state;
	expect_prop(out, "enable-tls-client-auth-gateway", "true");
	expect_prop(out, "gateway-to-broker-connector-trust-store-file", m.trust_store_file);
	/* the password reads back exactly, backslash included */
	expect_prop(out, "gateway-to-broker-connector-trust-store-pass", "s3cr\\et pass");
	assert_int_equal(occurrences(out, "\ngateway-to-broker-connector-trust-store-pass"), 1);
	free(out);
	free(stock);
}

static void test_properties_operator_file(void **state)
{
	char *mine = fixture("broker/mtls-on-plain.properties");
	char *out = render_twice(mine, NULL, "broker/mtls-off.golden");

	(void)state;
	/* the first occurrence is rewritten with its own separator, the repeat is gone (the last
	 * one would have won) */
	assert_non_null(strstr(out, "\ngateway-to-broker-connector-https-port: 8447\n"));
	assert_int_equal(occurrences(out, "gateway-to-broker-connector-https-port"), 1);
	assert_int_equal(occurrences(out, "enable-tls-client-auth-gateway"), 1);
	assert_null(strstr(out, "\r\n"));
	/* a continued value becomes one line */
	assert_non_null(strstr(out, "\ngateway-to-broker-connector-bind-host = 0.0.0.0\n"));
	assert_null(strstr(out, "10.0.0.5"));
	/* already right: untouched */
	assert_non_null(strstr(out, "\nenable-gateway=true\n"));
	/* trust store keys are left alone when mTLS is off: only the switch changes */
	expect_prop(out, "gateway-to-broker-connector-trust-store-pass", "oldpass");
	expect_prop(out, "foreign key", "kept as is");
	/* the file had no final newline: the last line stays, new lines do not glue onto it */
	assert_non_null(strstr(out, "\ntail = no newline"));
	free(out);
	free(mine);
}

static void test_properties_crlf_and_missing_newline(void **state)
{
	struct dcv_buf b = DCV_BUF_INIT;
	struct dcv_property set[] = { { "a", "2" }, { "new", "x" } };

	(void)state;
	dcv_properties_merge("a = 1\r\nb = 1\r\nc = 3", set, 2, &b);
	assert_string_equal(b.data, "a = 2\r\nb = 1\r\nc = 3\nnew = x\n");
	dcv_buf_reset(&b);
	/* a dangling continuation at the end must not swallow the new key */
	dcv_properties_merge("a = 1\nz = 9\\", set, 2, &b);
	assert_string_equal(b.data, "a = 2\nz = 9\\\n\nnew = x\n");
	expect_prop(b.data, "new", "x");
	expect_prop(b.data, "z", "9");
	dcv_buf_reset(&b);
	dcv_properties_merge(NULL, set, 2, &b);
	assert_string_equal(b.data, "a = 2\nnew = x\n");
	dcv_buf_reset(&b);
	dcv_properties_merge("", set, 0, &b);
	assert_string_equal(dcv_buf_str(&b), "");
	dcv_buf_release(&b);
}

static void test_properties_remove_key(void **state)
{
	struct dcv_buf b = DCV_BUF_INIT;
	struct dcv_property set[] = { { "gone", NULL } };

	(void)state;
	dcv_properties_merge("# keep\ngone = 1\\\n  continued\nstay = 2\ngone: 3\n", set, 1, &b);
	assert_string_equal(b.data, "# keep\nstay = 2\n");
	dcv_buf_release(&b);
}

static void test_properties_get_reads_like_java(void **state)
{
	static const char text[] =
		"# a = comment\n"
		"! b = comment\n"
		"   spaced   =   value with spaces  \n"
		"colon:x\n"
		"blank y z\n"
		"esc\\=aped\\ key = \\u0041\\t\\\\\n"
		"twice = 1\n"
		"twice = 2\n"
		"cont = one\\\n"
		"   two\\\\\n"
		"after = 3\n"
		"empty =\n";

	(void)state;
	expect_prop(text, "a", NULL);
	expect_prop(text, "b", NULL);
	expect_prop(text, "spaced", "value with spaces  ");
	expect_prop(text, "colon", "x");
	expect_prop(text, "blank", "y z");
	expect_prop(text, "esc=aped key", "A\t\\");
	expect_prop(text, "twice", "2");
	/* an even number of backslashes does not continue the line */
	expect_prop(text, "cont", "onetwo\\");
	expect_prop(text, "after", "3");
	expect_prop(text, "empty", "");
	expect_prop(text, "missing", NULL);
	expect_prop(NULL, "missing", NULL);
}

/* What dcvctl writes reads back as what it meant, hostile characters included. */
static void test_properties_values_round_trip(void **state)
{
	static const char *const values[] = { " leading", "a#b!c", "x=y:z", "back\\slash", "tab\there",
					      "new\nline", "\x01", "", "trailing\\" };
	struct dcv_buf b = DCV_BUF_INIT;

	(void)state;
	for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
		struct dcv_property set[] = { { "k", values[i] }, { "next", "n" } };
		dcv_buf_reset(&b);
		dcv_properties_merge("k = old\n", set, 2, &b);
		expect_prop(b.data, "k", values[i]);
		expect_prop(b.data, "next", "n");
	}
	dcv_buf_release(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_properties_stock_file_gateway_on),
		cmocka_unit_test(test_properties_stock_file_mtls),
		cmocka_unit_test(test_properties_operator_file),
		cmocka_unit_test(test_properties_crlf_and_missing_newline),
		cmocka_unit_test(test_properties_remove_key),
		cmocka_unit_test(test_properties_get_reads_like_java),
		cmocka_unit_test(test_properties_values_round_trip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
