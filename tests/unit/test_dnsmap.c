/* The broker's DNS mappings deploy registers (reference/dcv.md §5.3): only agents without an
 * "Ip" mapping are added, the operator's mappings are kept, and nothing is written when every
 * agent has one. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <string.h>

#include "../../lib/buf.h"
#include "../../lib/dnsmap.h"
#include "../../lib/inventory.h"

static void agents(struct dcv_host *a, struct dcv_host *b, const struct dcv_host **v)
{
	memset(a, 0, sizeof(*a));
	memset(b, 0, sizeof(*b));
	a->address = (char *)"198.18.1.21";
	b->address = (char *)"198.18.1.22";
	v[0] = a;
	v[1] = b;
}

static void test_dnsmap_adds_every_agent_to_an_empty_broker(void **state)
{
	struct dcv_host a, b;
	const struct dcv_host *v[2];
	struct dcv_buf out = DCV_BUF_INIT;
	(void)state;

	agents(&a, &b, v);
	assert_int_equal(dcv_dnsmap_merge("[]", v, 2, &out), 2);
	assert_non_null(strstr(out.data, "\"ServerIdType\":\"Ip\""));
	assert_non_null(strstr(out.data, "\"ServerId\":\"198.18.1.21\""));
	assert_non_null(strstr(out.data, "\"InternalDnsName\":\"198.18.1.22\""));
	dcv_buf_release(&out);
	/* no answer at all (the broker CLI failed): the same */
	assert_int_equal(dcv_dnsmap_merge(NULL, v, 2, &out), 2);
	dcv_buf_release(&out);
	assert_int_equal(dcv_dnsmap_merge("not json", v, 2, &out), 2);
	dcv_buf_release(&out);
}

static void test_dnsmap_keeps_existing_and_adds_only_the_missing(void **state)
{
	struct dcv_host a, b;
	const struct dcv_host *v[2];
	struct dcv_buf out = DCV_BUF_INIT;
	const char *cur = "[{\"ServerIdType\": \"Ip\", \"ServerId\": \"198.18.1.21\", "
			  "\"DnsNames\": {\"InternalDnsName\": \"dcv1.internal\"}},"
			  "{\"ServerIdType\": \"Id\", \"ServerId\": \"198.18.1.22\", "
			  "\"DnsNames\": {\"InternalDnsName\": \"other\"}}]";
	(void)state;

	agents(&a, &b, v);
	assert_int_equal(dcv_dnsmap_merge(cur, v, 2, &out), 1);
	assert_non_null(strstr(out.data, "\"InternalDnsName\":\"dcv1.internal\""));
	assert_non_null(strstr(out.data, "\"InternalDnsName\":\"other\""));
	assert_non_null(strstr(out.data, "\"InternalDnsName\":\"198.18.1.22\""));
	assert_null(strstr(out.data, "\"InternalDnsName\":\"198.18.1.21\""));
	dcv_buf_release(&out);
}

static void test_dnsmap_all_mapped_writes_nothing(void **state)
{
	struct dcv_host a, b;
	const struct dcv_host *v[2];
	struct dcv_buf out = DCV_BUF_INIT;
	const char *cur = "[{\"ServerIdType\": \"Ip\", \"ServerId\": \"198.18.1.21\", \"DnsNames\": {}},"
			  "{\"ServerIdType\": \"Ip\", \"ServerId\": \"198.18.1.22\", \"DnsNames\": {}}]";
	(void)state;

	agents(&a, &b, v);
	assert_int_equal(dcv_dnsmap_merge(cur, v, 2, &out), 0);
	assert_int_equal(out.len, 0);
	dcv_buf_release(&out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dnsmap_adds_every_agent_to_an_empty_broker),
		cmocka_unit_test(test_dnsmap_keeps_existing_and_adds_only_the_missing),
		cmocka_unit_test(test_dnsmap_all_mapped_writes_nothing),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
