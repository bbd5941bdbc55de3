/* The broker's facts (connection-gateway mode, seed 004): the script is valid sh, and its
 * output parses into what deploy plans from -- the properties and the client key kept whole,
 * the credentials folder taken from the trust store the properties name. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../lib/buf.h"
#include "../../lib/err.h"
#include "../../lib/facts.h"
#include "../../lib/inventory.h"
#include "../../lib/util.h"

#include "fixture.h"

static char *b64(const char *s)
{
	size_t n = strlen(s);
	char *out = xmalloc(4 * ((n + 2) / 3) + 1);

	EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)s, (int)n);
	return out;
}

static void test_facts_broker_script_is_valid_sh(void **state)
{
	struct dcv_inventory *inv = NULL;
	struct dcv_err err = DCV_ERR_INIT;
	char *path = fixture_path("gateway/inventory.conf");
	struct dcv_buf s = DCV_BUF_INIT;
	char tmp[] = "/tmp/dcvctl-test-facts-XXXXXX";
	int fd;
	(void)state;

	assert_int_equal(dcv_inventory_load(path, "/root", &inv, &err), DCV_OK);
	free(path);
	dcv_broker_facts_script(inv, true, &s);
	assert_non_null(strstr(s.data, "ss -Htlnp 'sport = :8447'"));
	assert_non_null(strstr(s.data, "describe-server-dns-mappings"));
	fd = mkstemp(tmp);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, s.data, s.len), (ssize_t)s.len);
	close(fd);
	char *cmd = xasprintf("sh -n %s", tmp);
	assert_int_equal(system(cmd), 0);
	free(cmd);
	dcv_buf_reset(&s);
	dcv_gw_resolver_facts_script(&s);
	fd = open(tmp, O_WRONLY | O_TRUNC);
	assert_int_equal(write(fd, s.data, s.len), (ssize_t)s.len);
	close(fd);
	cmd = xasprintf("sh -n %s", tmp);
	assert_int_equal(system(cmd), 0);
	free(cmd);
	unlink(tmp);
	dcv_buf_release(&s);
	dcv_inventory_free(inv);
}

static void test_facts_broker_parse(void **state)
{
	const char *props = "enable-gateway = true\ngateway-to-broker-connector-trust-store-pass = s3cret\n";
	const char *key = "-----BEGIN PRIVATE KEY-----\nk\n-----END PRIVATE KEY-----\n";
	char *p = b64(props), *k = b64(key), *m = b64("[]"), *out;
	struct dcv_broker_facts f;
	(void)state;

	out = xasprintf("os=amzn\nbinary=yes\ngen=yes\n"
			"unit.0.Id=dcv-session-manager-broker.service\nunit.0.ActiveState=active\n"
			"unit.0.UnitFileState=enabled\n"
			"props=%s\nprops.stat=root dcvsmbroker 640\ntruststore=yes\ncreds.dir=/etc/x/creds\n"
			"ck=%s\nmappings=%s\nss=\n", p, k, m);
	assert_true(dcv_broker_facts_parse(out, &f));
	assert_string_equal(f.os, "amzn");
	assert_true(f.has_binary);
	assert_true(f.has_gen_certs);
	assert_string_equal(f.broker.active, "active");
	assert_string_equal(f.broker.enabled, "enabled");
	assert_true(f.props_exists);
	assert_string_equal(dcv_buf_str(&f.props), props);
	assert_string_equal(f.props_stat, "root dcvsmbroker 640");
	assert_true(f.trust_store_exists);
	assert_string_equal(f.creds_dir, "/etc/x/creds");
	assert_string_equal(dcv_buf_str(&f.client_key), key);
	assert_int_equal(f.client_cert.len, 0);
	assert_int_equal(f.ca_pem.len, 0);
	assert_true(f.mappings_ok);
	assert_string_equal(dcv_buf_str(&f.mappings), "[]");
	assert_string_equal(f.listener, "");
	dcv_broker_facts_release(&f);
	free(out);

	/* nothing the script prints: no facts, and the documented folder as the default */
	assert_false(dcv_broker_facts_parse("garbage\n", &f));
	assert_string_equal(f.creds_dir, DCV_BROKER_CREDS);
	assert_false(f.props_exists);
	dcv_broker_facts_release(&f);
	free(p);
	free(k);
	free(m);
}

static void test_facts_gateway_resolver_copies_parse(void **state)
{
	char *ca = b64("CA\n"), *ck = b64("KEY\n"), *out;
	struct dcv_gw_resolver_facts f;
	(void)state;

	out = xasprintf("os=-\nca=%s\nck=%s\nck.mode=644\n", ca, ck);
	assert_true(dcv_gw_resolver_facts_parse(out, &f));
	assert_true(f.ca_exists);
	assert_false(f.cert_exists);
	assert_true(f.key_exists);
	assert_string_equal(dcv_buf_str(&f.ca), "CA\n");
	assert_string_equal(dcv_buf_str(&f.key), "KEY\n");
	assert_string_equal(f.key_mode, "644");
	dcv_gw_resolver_facts_release(&f);
	free(out);
	free(ca);
	free(ck);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_facts_broker_script_is_valid_sh),
		cmocka_unit_test(test_facts_broker_parse),
		cmocka_unit_test(test_facts_gateway_resolver_copies_parse),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
