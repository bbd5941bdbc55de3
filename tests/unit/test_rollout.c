/* A rolling deploy's batches and failure budget: --serial N|P%, --max-fail P%, backups after the
 * primaries they stand in for. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdbool.h>

#include "../../lib/rollout.h"

static void plan(const bool *backup, int n, const char *serial, const char *max_fail, struct dcv_rollout *r)
{
	struct dcv_amount s = DCV_AMOUNT_UNSET, m = DCV_AMOUNT_UNSET;

	if (serial)
		assert_true(dcv_amount_parse_serial(serial, &s));
	if (max_fail)
		assert_true(dcv_amount_parse_percent(max_fail, &m));
	dcv_rollout_plan(backup, n, &s, &m, r);
}

static void test_rollout_serial_2_of_6_makes_three_batches_in_order(void **state)
{
	static const bool backup[6] = { false };
	static const int want[6] = { 0, 0, 1, 1, 2, 2 };
	struct dcv_rollout r;

	(void)state;
	plan(backup, 6, "2", NULL, &r);
	assert_int_equal(r.n_batches, 3);
	assert_int_equal(r.size, 2);
	assert_int_equal(r.budget, 0);
	for (int i = 0; i < 6; i++)
		assert_int_equal(r.batch[i], want[i]);
	dcv_rollout_release(&r);
}

static void test_rollout_unset_serial_is_one_batch(void **state)
{
	static const bool backup[4] = { false };
	struct dcv_rollout r;

	(void)state;
	plan(backup, 4, NULL, NULL, &r);
	assert_int_equal(r.n_batches, 1);
	for (int i = 0; i < 4; i++)
		assert_int_equal(r.batch[i], 0);
	dcv_rollout_release(&r);
}

static void test_rollout_percent_rounds_down_but_at_least_one(void **state)
{
	static const bool backup[6] = { false };
	struct dcv_rollout r;

	(void)state;
	plan(backup, 6, "50%", NULL, &r); /* 3 */
	assert_int_equal(r.size, 3);
	assert_int_equal(r.n_batches, 2);
	dcv_rollout_release(&r);
	plan(backup, 6, "10%", NULL, &r); /* 0.6: one at a time */
	assert_int_equal(r.size, 1);
	assert_int_equal(r.n_batches, 6);
	assert_int_equal(r.batch[5], 5);
	dcv_rollout_release(&r);
	plan(backup, 6, "100%", NULL, &r);
	assert_int_equal(r.n_batches, 1);
	dcv_rollout_release(&r);
}

static void test_rollout_budget_is_a_share_of_the_agents_rounded_down(void **state)
{
	static const bool backup[200] = { false };
	struct dcv_rollout r;

	(void)state;
	plan(backup, 6, "2", "10%", &r); /* 0.6 agents: no failure tolerated */
	assert_int_equal(r.budget, 0);
	dcv_rollout_release(&r);
	plan(backup, 6, "2", "50", &r); /* a bare number is a percentage too */
	assert_int_equal(r.budget, 3);
	dcv_rollout_release(&r);
	plan(backup, 200, "20", "10%", &r);
	assert_int_equal(r.budget, 20);
	assert_int_equal(r.n_batches, 10);
	dcv_rollout_release(&r);
	plan(backup, 6, "2", "100%", &r);
	assert_int_equal(r.budget, 6);
	dcv_rollout_release(&r);
}

static void test_rollout_backups_come_after_primaries_never_in_their_batch(void **state)
{
	/* dcv1 backup, dcv2..dcv5 primaries, dcv6 backup */
	static const bool backup[6] = { true, false, false, false, false, true };
	static const int want[6] = { 2, 0, 0, 1, 1, 2 };
	struct dcv_rollout r;

	(void)state;
	plan(backup, 6, "2", NULL, &r);
	for (int i = 0; i < 6; i++)
		assert_int_equal(r.batch[i], want[i]);
	assert_int_equal(r.n_batches, 3);
	dcv_rollout_release(&r);
	/* 3 primaries in batches of 2: the last primary batch is not topped up with a backup */
	static const bool b2[4] = { false, false, false, true };
	plan(b2, 4, "2", NULL, &r);
	assert_int_equal(r.batch[2], 1);
	assert_int_equal(r.batch[3], 2);
	assert_int_equal(r.n_batches, 3);
	dcv_rollout_release(&r);
	/* unset serial: every primary at once, then every backup */
	plan(b2, 4, NULL, NULL, &r);
	assert_int_equal(r.batch[0], 0);
	assert_int_equal(r.batch[3], 1);
	assert_int_equal(r.n_batches, 2);
	dcv_rollout_release(&r);
}

static void test_rollout_only_backups_start_at_batch_zero(void **state)
{
	static const bool backup[2] = { true, true };
	struct dcv_rollout r;

	(void)state;
	plan(backup, 2, "1", NULL, &r);
	assert_int_equal(r.batch[0], 0);
	assert_int_equal(r.batch[1], 1);
	assert_int_equal(r.n_batches, 2);
	dcv_rollout_release(&r);
	plan(backup, 0, "1", NULL, &r);
	assert_int_equal(r.n_batches, 0);
	dcv_rollout_release(&r);
}

static void test_rollout_amounts_parse_and_refuse(void **state)
{
	struct dcv_amount a = DCV_AMOUNT_UNSET;
	char buf[16];

	(void)state;
	assert_true(dcv_amount_parse_serial("3", &a));
	assert_int_equal(a.n, 3);
	assert_false(a.percent);
	assert_string_equal(dcv_amount_str(&a, buf, sizeof(buf)), "3");
	assert_true(dcv_amount_parse_serial("25%", &a));
	assert_int_equal(a.n, 25);
	assert_true(a.percent);
	assert_string_equal(dcv_amount_str(&a, buf, sizeof(buf)), "25%");
	assert_false(dcv_amount_parse_serial("0", &a));
	assert_false(dcv_amount_parse_serial("0%", &a));
	assert_false(dcv_amount_parse_serial("101%", &a));
	assert_false(dcv_amount_parse_serial("%", &a));
	assert_false(dcv_amount_parse_serial("", &a));
	assert_false(dcv_amount_parse_serial("2x", &a));
	assert_false(dcv_amount_parse_serial("-1", &a));
	assert_true(dcv_amount_parse_percent("0", &a));
	assert_int_equal(a.n, 0);
	assert_true(a.percent);
	assert_true(dcv_amount_parse_percent("0%", &a));
	assert_true(dcv_amount_parse_percent("100%", &a));
	assert_false(dcv_amount_parse_percent("101", &a));
	assert_false(dcv_amount_parse_percent("5%%", &a));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rollout_serial_2_of_6_makes_three_batches_in_order),
		cmocka_unit_test(test_rollout_unset_serial_is_one_batch),
		cmocka_unit_test(test_rollout_percent_rounds_down_but_at_least_one),
		cmocka_unit_test(test_rollout_budget_is_a_share_of_the_agents_rounded_down),
		cmocka_unit_test(test_rollout_backups_come_after_primaries_never_in_their_batch),
		cmocka_unit_test(test_rollout_only_backups_start_at_batch_zero),
		cmocka_unit_test(test_rollout_amounts_parse_and_refuse),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
