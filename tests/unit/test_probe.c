/* The probe verdicts: the one judgement `probe` and `check` share (cert-warn-days included).
 * Certificates are generated at run time; time runs through the `now` the verdict is given. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../../lib/buf.h"
#include "../../lib/err.h"
#include "../../lib/probe.h"
#include "../../lib/tls.h"
#include "../../lib/util.h"

#define HOST "gw.example.com"

struct served {
	struct dcv_tls_result r;
	struct dcv_buf pem;
	char *ca_file; /* the self-signed certificate itself, as a trust store */
	time_t not_after;
};

/* A self-signed certificate for `names`, valid `days` from now, as a TLS probe would see it. */
static void serve(struct served *s, const char *const *names, int n, int days)
{
	struct dcv_buf key = DCV_BUF_INIT;
	struct dcv_err err = DCV_ERR_INIT;
	struct dcv_cert_info ci;
	const char *dir = getenv("TMPDIR");

	memset(s, 0, sizeof(*s));
	dcv_buf_init(&s->pem);
	if (dcv_cert_generate(names, n, days, &s->pem, &key, &err) != DCV_OK)
		fail_msg("generate: %s", err.msg);
	if (dcv_cert_parse_pem(s->pem.data, s->pem.len, &s->r.cert, &err) != DCV_OK)
		fail_msg("parse: %s", err.msg);
	snprintf(s->r.protocol, sizeof(s->r.protocol), "TLSv1.3");
	s->ca_file = xasprintf("%s/dcvctl-test-probe-XXXXXX", dir && *dir ? dir : "/tmp");
	int fd = mkstemp(s->ca_file);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, s->pem.data, s->pem.len), (ssize_t)s->pem.len);
	close(fd);
	dcv_cert_info(s->r.cert, &ci);
	s->not_after = ci.not_after;
	dcv_cert_info_release(&ci);
	dcv_buf_release(&key);
}

static void served_release(struct served *s)
{
	unlink(s->ca_file);
	free(s->ca_file);
	dcv_tls_result_release(&s->r);
	dcv_buf_release(&s->pem);
}

static struct dcv_tls_expect expect(const char *ca_file, int warn_days)
{
	return (struct dcv_tls_expect){ .host = HOST, .ca_file = ca_file, .cert_warn_days = warn_days,
					.now = time(NULL) };
}

#define assert_verdict(v, st, text)                                                            \
	do {                                                                                   \
		if ((v).status != (st) || !strstr((v).message, (text)))                        \
			fail_msg("verdict %s '%s', wanted %s with '%s'",                        \
				 dcv_check_status_name((v).status), (v).message,                \
				 dcv_check_status_name(st), (text));                           \
	} while (0)

static const char *const gw_only[] = { HOST };

static void test_probe_tls_verified_with_ca_passes(void **state)
{
	struct served s;
	struct dcv_verdict v;

	(void)state;
	serve(&s, gw_only, 1, 365);
	struct dcv_tls_expect e = expect(s.ca_file, 30);
	dcv_probe_tls_verdict(&s.r, &e, &v);
	assert_verdict(v, DCV_CHECK_PASS, "TLSv1.3, " HOST " covered, chain verified");
	served_release(&s);
}

static void test_probe_tls_expired_fails(void **state)
{
	struct served s;
	struct dcv_verdict v;

	(void)state;
	serve(&s, gw_only, 1, 365);
	struct dcv_tls_expect e = expect(s.ca_file, 30);
	e.now = s.not_after + 3 * 86400;
	dcv_probe_tls_verdict(&s.r, &e, &v);
	assert_verdict(v, DCV_CHECK_FAIL, "certificate expired 3 days ago");
	served_release(&s);
}

static void test_probe_tls_not_yet_valid_fails(void **state)
{
	struct served s;
	struct dcv_verdict v;

	(void)state;
	serve(&s, gw_only, 1, 365);
	struct dcv_tls_expect e = expect(s.ca_file, 30);
	e.now -= 5 * 86400;
	dcv_probe_tls_verdict(&s.r, &e, &v);
	assert_verdict(v, DCV_CHECK_FAIL, "certificate not valid yet");
	served_release(&s);
}

static void test_probe_tls_expiring_within_warn_days_warns(void **state)
{
	struct served s;
	struct dcv_verdict v;

	(void)state;
	serve(&s, gw_only, 1, 10);
	struct dcv_tls_expect e = expect(s.ca_file, 30);
	dcv_probe_tls_verdict(&s.r, &e, &v);
	assert_verdict(v, DCV_CHECK_WARN, "certificate expires in ");
	/* the threshold is the inventory's, not a constant */
	e.cert_warn_days = 5;
	dcv_probe_tls_verdict(&s.r, &e, &v);
	assert_verdict(v, DCV_CHECK_PASS, "chain verified");
	served_release(&s);
}

static void test_probe_tls_not_covering_a_name_fails(void **state)
{
	static const char *const names[] = { "dcv.example.com", "other.example.com" };
	struct served s;
	struct dcv_verdict v;

	(void)state;
	serve(&s, gw_only, 1, 365);
	struct dcv_tls_expect e = expect(s.ca_file, 30);
	e.names = names;
	e.n_names = 2;
	dcv_probe_tls_verdict(&s.r, &e, &v);
	/* check's diagnosis keys on "does not cover" */
	assert_verdict(v, DCV_CHECK_FAIL, "does not cover dcv.example.com, other.example.com; its SANs: DNS:" HOST);
	e.n_names = 0;
	e.host = "elsewhere.example.com";
	dcv_probe_tls_verdict(&s.r, &e, &v);
	assert_verdict(v, DCV_CHECK_FAIL, "does not cover elsewhere.example.com");
	served_release(&s);
}

static void test_probe_tls_untrusted_without_ca_warns(void **state)
{
	struct served s;
	struct dcv_verdict v;

	(void)state;
	serve(&s, gw_only, 1, 365);
	struct dcv_tls_expect e = expect(NULL, 30);
	dcv_probe_tls_verdict(&s.r, &e, &v);
	assert_verdict(v, DCV_CHECK_WARN, "chain NOT verified");
	assert_non_null(strstr(v.message, "set [endpoint] ca-file"));
	assert_null(strstr(v.message, "expires"));
	served_release(&s);
	/* an untrusted pair that also expires soon says both */
	serve(&s, gw_only, 1, 10);
	e = expect(NULL, 30);
	dcv_probe_tls_verdict(&s.r, &e, &v);
	assert_verdict(v, DCV_CHECK_WARN, "chain NOT verified");
	assert_non_null(strstr(v.message, "; certificate expires in "));
	served_release(&s);
}

static void test_probe_tls_untrusted_with_ca_fails(void **state)
{
	struct served s, other;
	struct dcv_verdict v;

	(void)state;
	serve(&s, gw_only, 1, 365);
	serve(&other, gw_only, 1, 365);
	struct dcv_tls_expect e = expect(other.ca_file, 30);
	dcv_probe_tls_verdict(&s.r, &e, &v);
	assert_verdict(v, DCV_CHECK_FAIL, "chain not verified against ");
	assert_non_null(strstr(v.message, other.ca_file));
	served_release(&s);
	served_release(&other);
}

static void test_probe_http_expected_statuses(void **state)
{
	static const int expect_codes[] = { 200, 302 };
	struct dcv_http_result r = { .status = 302, .http_version = "1.1", .redirect = "/login" };
	struct dcv_verdict v;

	(void)state;
	dcv_probe_http_verdict(&r, expect_codes, 2, &v);
	assert_verdict(v, DCV_CHECK_PASS, "HTTP/1.1 302 -> /login");
	r.status = 301;
	dcv_probe_http_verdict(&r, expect_codes, 2, &v);
	assert_verdict(v, DCV_CHECK_FAIL, "HTTP/1.1 301");
	/* no inventory: any 2xx or 3xx */
	dcv_probe_http_verdict(&r, NULL, 0, &v);
	assert_int_equal(v.status, DCV_CHECK_PASS);
	r.status = 502;
	dcv_probe_http_verdict(&r, NULL, 0, &v);
	assert_int_equal(v.status, DCV_CHECK_FAIL);
}

static void test_probe_ws_verdicts(void **state)
{
	struct dcv_ws_result r = { .status = 101, .accept_ok = true };
	struct dcv_verdict v;

	(void)state;
	dcv_probe_ws_verdict(&r, 0, &v);
	assert_verdict(v, DCV_CHECK_PASS, "101 Switching Protocols, Sec-WebSocket-Accept correct");
	snprintf(r.failure, sizeof(r.failure), "no close answer");
	dcv_probe_ws_verdict(&r, 0, &v);
	assert_verdict(v, DCV_CHECK_FAIL, "101 Switching Protocols, then no close answer");
	dcv_probe_ws_verdict(&r, 5000, &v);
	assert_verdict(v, DCV_CHECK_FAIL, "no close answer; held ");
	r.failure[0] = '\0';
	r.pongs = r.pings_sent = 4;
	dcv_probe_ws_verdict(&r, 5000, &v);
	assert_verdict(v, DCV_CHECK_PASS, "4 pongs to 4 pings");
	r.accept_ok = false;
	snprintf(r.rejected, sizeof(r.rejected), "wrong Sec-WebSocket-Accept");
	dcv_probe_ws_verdict(&r, 0, &v);
	assert_verdict(v, DCV_CHECK_FAIL, "101 Switching Protocols but wrong Sec-WebSocket-Accept");
	r.status = 403;
	dcv_probe_ws_verdict(&r, 0, &v);
	assert_verdict(v, DCV_CHECK_FAIL, "allowed-ws-origin-regex");
	r.status = 400;
	dcv_probe_ws_verdict(&r, 0, &v);
	assert_verdict(v, DCV_CHECK_FAIL, "dropped the Upgrade headers");
	dcv_probe_ws_verdict(&r, 5000, &v);
	assert_verdict(v, DCV_CHECK_FAIL, "no upgrade (400)");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_probe_tls_verified_with_ca_passes),
		cmocka_unit_test(test_probe_tls_expired_fails),
		cmocka_unit_test(test_probe_tls_not_yet_valid_fails),
		cmocka_unit_test(test_probe_tls_expiring_within_warn_days_warns),
		cmocka_unit_test(test_probe_tls_not_covering_a_name_fails),
		cmocka_unit_test(test_probe_tls_untrusted_without_ca_warns),
		cmocka_unit_test(test_probe_tls_untrusted_with_ca_fails),
		cmocka_unit_test(test_probe_http_expected_statuses),
		cmocka_unit_test(test_probe_ws_verdicts),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
