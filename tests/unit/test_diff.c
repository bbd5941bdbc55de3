/* dcv_diff: exact unified output for known pairs (as GNU diff -u prints them), the bounds, and
 * random pairs checked against GNU diff (same numbers of removed and added lines, as every
 * minimal diff has) and applied with patch (the result is the new file). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../lib/buf.h"
#include "../../lib/diff.h"
#include "../../lib/util.h"

static void expect_diff(const char *a, const char *b, const char *want)
{
	struct dcv_buf out = DCV_BUF_INIT;

	assert_true(dcv_diff(a, b, "old", "new", &out));
	assert_string_equal(out.data, want);
	dcv_buf_release(&out);
}

static void test_diff_known_pairs(void **state)
{
	struct dcv_buf out = DCV_BUF_INIT;

	(void)state;
	assert_false(dcv_diff("", "", "old", "new", &out));
	assert_false(dcv_diff(NULL, "", "old", "new", &out));
	assert_false(dcv_diff("a\nb", "a\nb", "old", "new", &out));
	assert_int_equal(out.len, 0);
	expect_diff("", "x\n", "--- old\n+++ new\n@@ -0,0 +1 @@\n+x\n");
	expect_diff("x\n", "", "--- old\n+++ new\n@@ -1 +0,0 @@\n-x\n");
	expect_diff("x\n", NULL, "--- old\n+++ new\n@@ -1 +0,0 @@\n-x\n");
	expect_diff("a\nb\nc\n", "a\nB\nc\nd\n", "--- old\n+++ new\n@@ -1,3 +1,4 @@\n a\n-b\n+B\n c\n+d\n");
	expect_diff("a\nb\nc\nd\n", "b\nc\n", "--- old\n+++ new\n@@ -1,4 +1,2 @@\n-a\n b\n c\n-d\n");
	dcv_buf_release(&out);
}

/* "x" and "x\n" are different lines, marked the way diff -u marks them and patch reads them. */
static void test_diff_no_trailing_newline(void **state)
{
	(void)state;
	expect_diff("a\nb", "a\nb\n",
		    "--- old\n+++ new\n@@ -1,2 +1,2 @@\n a\n-b\n\\ No newline at end of file\n+b\n");
	expect_diff("a\nc", "a\nb",
		    "--- old\n+++ new\n@@ -1,2 +1,2 @@\n a\n-c\n\\ No newline at end of file\n+b\n"
		    "\\ No newline at end of file\n");
	expect_diff("x", "", "--- old\n+++ new\n@@ -1 +0,0 @@\n-x\n\\ No newline at end of file\n");
	expect_diff("a\nb\nc", "a\nB\nc",
		    "--- old\n+++ new\n@@ -1,3 +1,3 @@\n a\n-b\n+B\n c\n\\ No newline at end of file\n");
}

/* The old LCS table needed 20k x 20k ints (1.5 GB) here. */
static void test_diff_large_files_few_changes(void **state)
{
	struct dcv_buf a = DCV_BUF_INIT, b = DCV_BUF_INIT, out = DCV_BUF_INIT;

	(void)state;
	for (int i = 1; i <= 20000; i++) {
		dcv_buf_addf(&a, "line %d\n", i);
		if (i == 5000)
			dcv_buf_adds(&b, "changed\n");
		else if (i != 12000)
			dcv_buf_addf(&b, "line %d\n", i);
		if (i == 19999)
			dcv_buf_adds(&b, "new\n");
	}
	assert_true(dcv_diff(a.data, b.data, "a", "b", &out));
	assert_string_equal(out.data, "--- a\n+++ b\n"
				      "@@ -4997,7 +4997,7 @@\n line 4997\n line 4998\n line 4999\n-line 5000\n"
				      "+changed\n line 5001\n line 5002\n line 5003\n"
				      "@@ -11997,7 +11997,6 @@\n line 11997\n line 11998\n line 11999\n-line 12000\n"
				      " line 12001\n line 12002\n line 12003\n"
				      "@@ -19997,4 +19996,5 @@\n line 19997\n line 19998\n line 19999\n+new\n"
				      " line 20000\n");
	dcv_buf_release(&a);
	dcv_buf_release(&b);
	dcv_buf_release(&out);
}

static void test_diff_too_many_lines(void **state)
{
	struct dcv_buf a = DCV_BUF_INIT, out = DCV_BUF_INIT;

	(void)state;
	for (int i = 0; i < 1000001; i++)
		dcv_buf_adds(&a, "x\n");
	assert_true(dcv_diff(a.data, "x\n", "a", "b", &out));
	assert_string_equal(out.data,
			    "--- a\n+++ b\nfiles differ too much to show a diff (1000001 and 1 lines)\n");
	dcv_buf_release(&a);
	dcv_buf_release(&out);
}

/* Nothing in common: the edit distance is 2N and the search gives up within its budget. */
static void test_diff_too_different(void **state)
{
	struct dcv_buf a = DCV_BUF_INIT, b = DCV_BUF_INIT, out = DCV_BUF_INIT;

	(void)state;
	for (int i = 0; i < 100000; i++) {
		dcv_buf_addf(&a, "a%d\n", i);
		dcv_buf_addf(&b, "b%d\n", i);
	}
	assert_true(dcv_diff(a.data, b.data, "a", "b", &out));
	assert_string_equal(out.data,
			    "--- a\n+++ b\nfiles differ too much to show a diff (100000 and 100000 lines)\n");
	dcv_buf_release(&a);
	dcv_buf_release(&b);
	dcv_buf_release(&out);
}

/* ------------------------------------------------------------------ against GNU diff and patch */

static bool have_tool(const char *name)
{
	char *cmd = xasprintf("command -v %s >/dev/null 2>&1", name);
	int rc = system(cmd);

	free(cmd);
	if (rc == 0)
		return true;
	if (getenv("CI") && strcmp(getenv("CI"), "true") == 0)
		fail_msg("'%s' is missing (scripts/deps installs it)", name);
	return false;
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
}

/* Removed and added lines of a unified diff (headers and "\ No newline" markers aside). */
static void count_changes(const char *diff, int *removed, int *added)
{
	const char *p = strstr(diff, "\n@@ ");

	*removed = *added = 0;
	for (; p && *p; p += strcspn(p, "\n")) {
		p++;
		*removed += *p == '-';
		*added += *p == '+';
	}
}

static char *run(const char *cmd)
{
	struct dcv_buf b = DCV_BUF_INIT;
	char chunk[4096];
	size_t n;
	FILE *f = popen(cmd, "r");

	assert_non_null(f);
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		dcv_buf_add(&b, chunk, n);
	assert_in_range(WEXITSTATUS(pclose(f)), 0, 1);
	return dcv_buf_detach(&b);
}

static unsigned next(unsigned *seed)
{
	*seed = *seed * 1103515245u + 12345u;
	return (*seed >> 16) & 0x7fff;
}

/* Lines from a small alphabet, so that the pairs have repeats and ambiguous alignments; the
 * last newline sometimes missing. */
static void random_text(struct dcv_buf *b, unsigned *seed)
{
	int n = (int)(next(seed) % 25);

	for (int i = 0; i < n; i++)
		dcv_buf_addf(b, "%c\n", "abcde"[next(seed) % 5]);
	if (b->len && next(seed) % 4 == 0)
		b->data[--b->len] = '\0';
}

/* The second text: an edited copy of the first, or an unrelated text. */
static void edited(struct dcv_buf *b, const char *a, unsigned *seed)
{
	if (next(seed) % 4 == 0) {
		random_text(b, seed);
		return;
	}
	for (const char *p = a; *p;) {
		size_t len = strcspn(p, "\n") + (p[strcspn(p, "\n")] == '\n');
		unsigned r = next(seed) % 8;
		if (r == 0)
			dcv_buf_addf(b, "%c\n", "abcdeX"[next(seed) % 6]);
		if (r != 1)
			dcv_buf_add(b, p, len);
		p += len;
	}
	if (next(seed) % 5 == 0)
		dcv_buf_adds(b, "tail");
}

static void test_diff_matches_gnu_diff_and_patch(void **state)
{
	char dir[] = "/tmp/dcvctl-test-diff.XXXXXX";
	unsigned seed = 11;

	(void)state;
	if (!have_tool("diff") || !have_tool("patch"))
		skip();
	assert_non_null(mkdtemp(dir));
	char *pa = xasprintf("%s/a", dir), *pb = xasprintf("%s/b", dir), *pd = xasprintf("%s/d", dir),
	     *pout = xasprintf("%s/out", dir);
	char *gnu_cmd = xasprintf("diff -u -d '%s' '%s'", pa, pb);
	char *patch_cmd = xasprintf("patch -s -f -o '%s' '%s' '%s' </dev/null && cat '%s'", pout, pa, pd, pout);

	for (int round = 0; round < 150; round++) {
		struct dcv_buf a = DCV_BUF_INIT, b = DCV_BUF_INIT, d = DCV_BUF_INIT;
		int gnu_rm, gnu_add, rm, add;
		random_text(&a, &seed);
		edited(&b, dcv_buf_str(&a), &seed);
		write_file(pa, dcv_buf_str(&a));
		write_file(pb, dcv_buf_str(&b));
		char *gnu = run(gnu_cmd);
		bool differ = dcv_diff(dcv_buf_str(&a), dcv_buf_str(&b), "a", "b", &d);
		assert_int_equal(differ, *gnu != '\0');
		count_changes(gnu, &gnu_rm, &gnu_add);
		count_changes(dcv_buf_str(&d), &rm, &add);
		if (rm != gnu_rm || add != gnu_add)
			fail_msg("round %d: -%d +%d, GNU diff -%d +%d\n-- ours:\n%s-- GNU:\n%s", round, rm, add,
				 gnu_rm, gnu_add, dcv_buf_str(&d), gnu);
		if (differ) {
			write_file(pd, d.data);
			char *patched = run(patch_cmd);
			if (strcmp(patched, dcv_buf_str(&b)) != 0)
				fail_msg("round %d: patch gives\n%s\n-- want:\n%s\n-- diff:\n%s", round, patched,
					 dcv_buf_str(&b), d.data);
			free(patched);
			unlink(pout);
		}
		free(gnu);
		dcv_buf_release(&a);
		dcv_buf_release(&b);
		dcv_buf_release(&d);
	}
	unlink(pa);
	unlink(pb);
	unlink(pd);
	assert_int_equal(rmdir(dir), 0);
	free(pa);
	free(pb);
	free(pd);
	free(pout);
	free(gnu_cmd);
	free(patch_cmd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_diff_known_pairs),
		cmocka_unit_test(test_diff_no_trailing_newline),
		cmocka_unit_test(test_diff_large_files_few_changes),
		cmocka_unit_test(test_diff_too_many_lines),
		cmocka_unit_test(test_diff_too_different),
		cmocka_unit_test(test_diff_matches_gnu_diff_and_patch),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
