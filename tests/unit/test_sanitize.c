/* Remote text on its way to a terminal or a report, and proxy URLs without their password. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "../../lib/sanitize.h"

static void assert_sanitized(const char *in, const char *want)
{
	char *got = dcv_sanitize(in);

	assert_string_equal(got, want);
	free(got);
}

static void test_sanitize_drops_terminal_controls(void **state)
{
	(void)state;
	/* CSI colour, OSC title with BEL, 8-bit CSI (C1 0x9b), DEL, backspace tricks */
	assert_sanitized("\033[31mred\033[0m", "[31mred[0m");
	assert_sanitized("\033]0;owned\007title", "]0;ownedtitle");
	assert_sanitized("a\xc2\x9b" "2Jb", "a2Jb");
	assert_sanitized("pass\x7f\bword", "password");
	assert_sanitized("x\x01\x02\x1f" "y", "xy");
	/* right-to-left override and isolates reorder what a reader sees */
	assert_sanitized("user\xe2\x80\xae" "gnp.exe", "usergnp.exe");
	assert_sanitized("a\xe2\x81\xa6" "b\xe2\x81\xa9" "c", "abc");
}

static void test_sanitize_keeps_text_and_layout(void **state)
{
	(void)state;
	assert_sanitized("line 1\n\tline 2\r\n", "line 1\n\tline 2\r\n");
	assert_sanitized("caf\xc3\xa9 \xe2\x9c\x94 \xf0\x9f\x94\x92", "caf\xc3\xa9 \xe2\x9c\x94 \xf0\x9f\x94\x92");
	assert_sanitized("", "");
	assert_sanitized(NULL, "");
	/* LRM/RLM are ordinary marks, not overrides */
	assert_sanitized("a\xe2\x80\x8e" "b", "a\xe2\x80\x8e" "b");
}

static void test_sanitize_replaces_bytes_that_are_not_utf8(void **state)
{
	(void)state;
	assert_sanitized("\xff\xfe", "\xef\xbf\xbd\xef\xbf\xbd");
	assert_sanitized("\xc0\xaf", "\xef\xbf\xbd\xef\xbf\xbd");             /* overlong '/' */
	assert_sanitized("\xed\xa0\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"); /* surrogate */
	assert_sanitized("\xf4\x90\x80\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
	assert_sanitized("cut \xe2\x9c", "cut \xef\xbf\xbd\xef\xbf\xbd");
	assert_sanitized("\xef\xbf\xbe", "\xef\xbf\xbd"); /* U+FFFE: no XML character */
}

static void test_sanitize_line_stays_on_one_line(void **state)
{
	char *got;

	(void)state;
	got = dcv_sanitize_line("a\nb\r\nc\td\033[2K");
	assert_string_equal(got, "a b  c d[2K");
	free(got);
}

static void assert_redacted(const char *in, const char *want)
{
	char *got = dcv_url_redact(in);

	assert_string_equal(got, want);
	free(got);
}

static void test_sanitize_url_redact_strips_userinfo(void **state)
{
	(void)state;
	assert_redacted("http://ops:s3cret@proxy.example.com:3128", "http://proxy.example.com:3128");
	assert_redacted("http://ops@proxy:3128/", "http://proxy:3128/");
	assert_redacted("socks5h://a:p@ss@[2001:db8::1]:1080", "socks5h://[2001:db8::1]:1080");
	assert_redacted("ops:s3cret@proxy:3128", "proxy:3128");
	assert_redacted("http://proxy:3128", "http://proxy:3128");
	/* an '@' after the authority is not userinfo */
	assert_redacted("http://proxy:3128/path@x?q=a@b#f@g", "http://proxy:3128/path@x?q=a@b#f@g");
	assert_redacted("", "");
	assert_redacted(NULL, "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sanitize_drops_terminal_controls),
		cmocka_unit_test(test_sanitize_keeps_text_and_layout),
		cmocka_unit_test(test_sanitize_replaces_bytes_that_are_not_utf8),
		cmocka_unit_test(test_sanitize_line_stays_on_one_line),
		cmocka_unit_test(test_sanitize_url_redact_strips_userinfo),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
