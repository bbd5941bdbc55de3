/* The one rule behind exit 4 against exit 1: unreachable only when no target answered. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "../../lib/err.h"
#include "../../lib/reach.h"

static void test_reach_nothing_needed_is_ok(void **state)
{
	struct dcv_reach r = DCV_REACH_INIT;

	(void)state;
	assert_int_equal(dcv_reach_outcome(&r), DCV_OUTCOME_OK);
}

static void test_reach_every_host_unreachable(void **state)
{
	struct dcv_reach r = DCV_REACH_INIT;

	(void)state;
	dcv_reach_add(&r, DCV_E_CONNECT);
	dcv_reach_add(&r, DCV_E_AUTH);
	dcv_reach_add(&r, DCV_E_HOSTKEY);
	dcv_reach_add(&r, DCV_E_LOST);
	assert_int_equal(dcv_reach_outcome(&r), DCV_OUTCOME_UNREACHABLE);
	/* one that answered makes it a failure, not unreachable */
	dcv_reach_add(&r, DCV_OK);
	assert_int_equal(dcv_reach_outcome(&r), DCV_OUTCOME_FAILED);
}

static void test_reach_other_errors_fail_but_reached(void **state)
{
	struct dcv_reach r = DCV_REACH_INIT;

	(void)state;
	dcv_reach_add(&r, DCV_E_REMOTE);
	dcv_reach_add(&r, DCV_E_TIMEOUT);
	assert_int_equal(dcv_reach_outcome(&r), DCV_OUTCOME_FAILED);
}

static void test_reach_answered_but_failed(void **state)
{
	struct dcv_reach r = DCV_REACH_INIT;

	(void)state;
	dcv_reach_add(&r, DCV_OK);
	assert_int_equal(dcv_reach_outcome(&r), DCV_OUTCOME_OK);
	dcv_reach_add_failed(&r);
	assert_int_equal(dcv_reach_outcome(&r), DCV_OUTCOME_FAILED);
	assert_int_equal(r.targets, 2);
	assert_int_equal(r.unreachable, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reach_nothing_needed_is_ok),
		cmocka_unit_test(test_reach_every_host_unreachable),
		cmocka_unit_test(test_reach_other_errors_fail_but_reached),
		cmocka_unit_test(test_reach_answered_but_failed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
