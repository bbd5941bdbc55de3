/* The Session Resolver answer parser and request target (reference/dcv.md §4). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "../../lib/buf.h"
#include "../../lib/err.h"
#include "../../lib/resolver.h"

#define OK_BODY \
	"{\"SessionId\": \"dcv1\", \"TransportProtocol\": \"HTTP\", \"DcvServerEndpoint\": \"dcv1.lab.example\", " \
	"\"Port\": 8443, \"WebUrlPath\": \"/\"}"

static void expect_error(int status, const char *body, const char *msg)
{
	struct dcv_resolution r = { .port = -7 };
	struct dcv_err err = DCV_ERR_INIT;

	assert_int_equal(dcv_resolver_parse(status, body, &r, &err), DCV_E_REMOTE);
	assert_int_equal(err.code, DCV_E_REMOTE);
	assert_string_equal(err.msg, msg);
	assert_int_equal(r.port, -7); /* out-parameters only on success */
	assert_null(r.endpoint);
}

static void test_resolver_found(void **state)
{
	struct dcv_resolution r;
	struct dcv_err err = DCV_ERR_INIT;

	(void)state;
	assert_int_equal(dcv_resolver_parse(200, OK_BODY "\n", &r, &err), DCV_OK);
	assert_int_equal(r.status, DCV_RESOLVE_FOUND);
	assert_string_equal(r.session_id, "dcv1");
	assert_string_equal(r.transport, "HTTP");
	assert_string_equal(r.endpoint, "dcv1.lab.example");
	assert_int_equal(r.port, 8443);
	assert_string_equal(r.web_url_path, "/");
	assert_null(r.message);
	dcv_resolution_release(&r);
	assert_null(r.endpoint);
	dcv_resolution_release(NULL);

	/* the AWS sample answers a private IP and QUIC is a valid transport; extra fields are ignored */
	assert_int_equal(dcv_resolver_parse(200, "{\"SessionId\":\"internal-7\",\"TransportProtocol\":\"QUIC\","
					     "\"DcvServerEndpoint\":\"10.0.1.5\",\"Port\":8444,\"WebUrlPath\":\"/dcv\","
					     "\"Extra\":true}", &r, &err), DCV_OK);
	assert_string_equal(r.session_id, "internal-7");
	assert_string_equal(r.transport, "QUIC");
	assert_string_equal(r.endpoint, "10.0.1.5");
	assert_int_equal(r.port, 8444);
	assert_string_equal(r.web_url_path, "/dcv");
	dcv_resolution_release(&r);
}

static void test_resolver_not_found(void **state)
{
	struct dcv_resolution r;
	struct dcv_err err = DCV_ERR_INIT;
	char big[600];

	(void)state;
	/* the broker's body as field notes saw it */
	assert_int_equal(dcv_resolver_parse(404, "The requested combination of transport and sessionId does not exist",
					    &r, &err), DCV_OK);
	assert_int_equal(r.status, DCV_RESOLVE_NOT_FOUND);
	assert_string_equal(r.message, "The requested combination of transport and sessionId does not exist");
	assert_null(r.endpoint);
	dcv_resolution_release(&r);

	assert_int_equal(dcv_resolver_parse(404, NULL, &r, &err), DCV_OK);
	assert_string_equal(r.message, "");
	dcv_resolution_release(&r);

	/* hostile bodies: one sanitised line, bounded */
	assert_int_equal(dcv_resolver_parse(404, "not\n\x1b[31mhere\r\n", &r, &err), DCV_OK);
	assert_string_equal(r.message, "not [31mhere");
	dcv_resolution_release(&r);
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(dcv_resolver_parse(404, big, &r, &err), DCV_OK);
	assert_int_equal(strlen(r.message), 200);
	dcv_resolution_release(&r);
}

static void test_resolver_other_status(void **state)
{
	(void)state;
	expect_error(400, "Missing sessionId\n", "the resolver answered HTTP 400: Missing sessionId");
	expect_error(500, "", "the resolver answered HTTP 500");
	/* a 200 of the right shape is only good with status 200 */
	expect_error(201, OK_BODY, "the resolver answered HTTP 201: " OK_BODY);
}

static void test_resolver_malformed_json(void **state)
{
	(void)state;
	expect_error(200, "", "the resolver's 200 answer is not JSON: it ends too early");
	expect_error(200, "{\"SessionId\": \"dcv1\"", "the resolver's 200 answer is not JSON: it ends too early");
	expect_error(200, "<html>ok</html>", "the resolver's 200 answer is not JSON: unexpected character");
	expect_error(200, OK_BODY " {}", "the resolver's 200 answer has text after its JSON");
	expect_error(200, "[" OK_BODY "]", "the resolver's 200 answer is not a JSON object");
	expect_error(200, "\"dcv1.lab.example\"", "the resolver's 200 answer is not a JSON object");
}

/* reference §4: "Use exactly these field names: returning Host/HttpPort instead did not work" */
static void test_resolver_wrong_field_names(void **state)
{
	(void)state;
	expect_error(200, "{\"SessionId\":\"s\",\"TransportProtocol\":\"HTTP\",\"Host\":\"dcv1\",\"HttpPort\":8443,"
			  "\"WebUrlPath\":\"/\"}",
		     "the resolver's answer has 'Host' where the gateway reads 'DcvServerEndpoint': the field names "
		     "are exact (SessionId, TransportProtocol, DcvServerEndpoint, Port, WebUrlPath; reference/dcv.md §4)");
	expect_error(200, "{\"SessionId\":\"s\",\"TransportProtocol\":\"HTTP\",\"DcvServerEndpoint\":\"dcv1\","
			  "\"HttpPort\":8443,\"WebUrlPath\":\"/\"}",
		     "the resolver's answer has 'HttpPort' where the gateway reads 'Port': the field names "
		     "are exact (SessionId, TransportProtocol, DcvServerEndpoint, Port, WebUrlPath; reference/dcv.md §4)");
	expect_error(200, "{\"sessionId\":\"s\",\"TransportProtocol\":\"HTTP\",\"DcvServerEndpoint\":\"dcv1\","
			  "\"Port\":8443,\"WebUrlPath\":\"/\"}",
		     "the resolver's answer has 'sessionId' where the gateway reads 'SessionId': the field names "
		     "are exact (SessionId, TransportProtocol, DcvServerEndpoint, Port, WebUrlPath; reference/dcv.md §4)");
	expect_error(200, "{\"SessionId\":\"s\",\"TransportProtocol\":\"HTTP\",\"DcvServerEndpoint\":\"dcv1\","
			  "\"Port\":8443}",
		     "the resolver's answer has no 'WebUrlPath' (reference/dcv.md §4)");
}

static void test_resolver_wrong_types_and_values(void **state)
{
	(void)state;
	expect_error(200, "{\"SessionId\":\"s\",\"TransportProtocol\":\"http\",\"DcvServerEndpoint\":\"d\",\"Port\":1,"
			  "\"WebUrlPath\":\"/\"}",
		     "the resolver's TransportProtocol is 'http': it must be upper-case HTTP or QUIC (reference/dcv.md §4)");
	expect_error(200, "{\"SessionId\":\"s\",\"TransportProtocol\":\"HTTP\",\"DcvServerEndpoint\":\"d\",\"Port\":\"8443\","
			  "\"WebUrlPath\":\"/\"}",
		     "the resolver's 'Port' is not a JSON integer (reference/dcv.md §4)");
	expect_error(200, "{\"SessionId\":\"s\",\"TransportProtocol\":\"HTTP\",\"DcvServerEndpoint\":\"d\",\"Port\":70000,"
			  "\"WebUrlPath\":\"/\"}",
		     "the resolver's Port 70000 is not a TCP port");
	expect_error(200, "{\"SessionId\":\"s\",\"TransportProtocol\":\"HTTP\",\"DcvServerEndpoint\":8443,\"Port\":1,"
			  "\"WebUrlPath\":\"/\"}",
		     "the resolver's 'DcvServerEndpoint' is not a JSON string (reference/dcv.md §4)");
	expect_error(200, "{\"SessionId\":\"\",\"TransportProtocol\":\"HTTP\",\"DcvServerEndpoint\":\"d\",\"Port\":1,"
			  "\"WebUrlPath\":\"/\"}",
		     "the resolver's 'SessionId' is empty");
	expect_error(200, "{\"SessionId\":\"s\",\"TransportProtocol\":\"HTTP\",\"DcvServerEndpoint\":\"d\\u001b[2J\","
			  "\"Port\":1,\"WebUrlPath\":\"/\"}",
		     "the resolver's 'DcvServerEndpoint' holds a control character");
	expect_error(200, "{\"SessionId\":\"s\",\"TransportProtocol\":\"HTTP\",\"DcvServerEndpoint\":\"https://d/\","
			  "\"Port\":1,\"WebUrlPath\":\"/\"}",
		     "the resolver's DcvServerEndpoint is not a host name or address");
	expect_error(200, "{\"SessionId\":\"s\",\"TransportProtocol\":\"HTTP\",\"DcvServerEndpoint\":\"d\",\"Port\":1,"
			  "\"WebUrlPath\":\"dcv\"}",
		     "the resolver's WebUrlPath does not start with '/'");
	expect_error(200, "{\"SessionId\":\"s\\u0000x\",\"TransportProtocol\":\"HTTP\",\"DcvServerEndpoint\":\"d\","
			  "\"Port\":1,\"WebUrlPath\":\"/\"}",
		     "the resolver's 'SessionId' holds a control character");
}

static void test_resolver_target_encodes_the_id(void **state)
{
	struct dcv_buf b = DCV_BUF_INIT;

	(void)state;
	dcv_resolver_target(&b, "console", "HTTP");
	assert_string_equal(dcv_buf_str(&b), "/resolveSession?sessionId=console&transport=HTTP");
	dcv_buf_reset(&b);
	dcv_resolver_target(&b, "a b&c=d/é", "QUIC");
	assert_string_equal(dcv_buf_str(&b), "/resolveSession?sessionId=a%20b%26c%3Dd%2F%C3%A9&transport=QUIC");
	dcv_buf_release(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_resolver_found),
		cmocka_unit_test(test_resolver_not_found),
		cmocka_unit_test(test_resolver_other_status),
		cmocka_unit_test(test_resolver_malformed_json),
		cmocka_unit_test(test_resolver_wrong_field_names),
		cmocka_unit_test(test_resolver_wrong_types_and_values),
		cmocka_unit_test(test_resolver_target_encodes_the_id),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
