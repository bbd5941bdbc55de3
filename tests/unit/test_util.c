/* Pure helpers: shell quoting (proved by a local /bin/sh), edit distance and "did you mean",
 * durations, host:port, booleans, integer ranges and the growable buffer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../lib/buf.h"
#include "../../lib/util.h"

/* ---------------------------------------------------------------- shell quoting */

/* Run `cmd` with the local /bin/sh (popen) and return everything it printed. */
static char *sh_output(const char *cmd, size_t *len)
{
	struct dcv_buf out = DCV_BUF_INIT;
	char buf[4096];
	size_t n;
	FILE *p = popen(cmd, "r");

	assert_non_null(p);
	while ((n = fread(buf, 1, sizeof(buf), p)) > 0)
		dcv_buf_add(&out, buf, n);
	int st = pclose(p);
	if (st != 0)
		fail_msg("sh exited with %d for: %s", st, cmd);
	*len = out.len;
	return dcv_buf_detach(&out);
}

static const char *const hostile[] = {
	"'",
	"''",
	"\"",
	"$(reboot)",
	"`reboot`",
	"a\nb",
	"\n",
	"Ubuntu Desktop",
	"",
	"it's a \"test\"",
	"'\\''",
	"\\",
	"$HOME ${PATH} $1 $@ $$",
	"*",
	"~",
	"a;b|c&d>e<f",
	"-n",
	"--",
	"%s%n",
	"\t tab and spaces  ",
	"#not a comment",
	"!!",
	"caf\xc3\xa9 \xe2\x9c\x93",
	"end with backslash\\",
};

#define N_HOSTILE (sizeof(hostile) / sizeof(hostile[0]))

static void test_util_shquote_round_trips_through_sh(void **state)
{
	(void)state;
	for (size_t i = 0; i < N_HOSTILE; i++) {
		struct dcv_buf cmd = DCV_BUF_INIT;
		size_t len;
		char *got;

		dcv_buf_adds(&cmd, "printf %s ");
		dcv_shquote(&cmd, hostile[i]);
		got = sh_output(cmd.data, &len);
		if (len != strlen(hostile[i]) || memcmp(got, hostile[i], len) != 0)
			fail_msg("shell saw [%s] for [%s] (command: %s)", got, hostile[i], cmd.data);
		free(got);
		dcv_buf_release(&cmd);
	}
}

static void test_util_shquote_exact_form(void **state)
{
	struct dcv_buf b = DCV_BUF_INIT;

	(void)state;
	dcv_shquote(&b, "Ubuntu Desktop");
	assert_string_equal(b.data, "'Ubuntu Desktop'");
	dcv_buf_reset(&b);
	dcv_shquote(&b, "it's");
	assert_string_equal(b.data, "'it'\\''s'");
	dcv_buf_reset(&b);
	dcv_shquote(&b, "");
	assert_string_equal(b.data, "''");
	dcv_buf_reset(&b);
	/* appends: does not replace what the buffer holds */
	dcv_buf_adds(&b, "echo ");
	dcv_shquote(&b, "$(reboot)");
	assert_string_equal(b.data, "echo '$(reboot)'");
	dcv_buf_release(&b);
}

static void test_util_shquote_argv_keeps_every_word(void **state)
{
	/* printf repeats its format for every argument: each word comes back between <> */
	const char *argv[N_HOSTILE + 2];
	struct dcv_buf cmd = DCV_BUF_INIT, want = DCV_BUF_INIT;
	size_t len;
	char *got;

	(void)state;
	argv[0] = "printf";
	argv[1] = "<%s>";
	for (size_t i = 0; i < N_HOSTILE; i++) {
		argv[i + 2] = hostile[i];
		dcv_buf_addf(&want, "<%s>", hostile[i]);
	}
	dcv_shquote_argv(&cmd, argv, (int)N_HOSTILE + 2);
	got = sh_output(cmd.data, &len);
	assert_int_equal(len, want.len);
	assert_memory_equal(got, want.data, len);
	free(got);
	dcv_buf_release(&cmd);
	dcv_buf_release(&want);
}

static void test_util_shquote_argv_form(void **state)
{
	const char *argv[] = { "id", "-un", "a b" };
	struct dcv_buf b = DCV_BUF_INIT;

	(void)state;
	dcv_shquote_argv(&b, argv, 3);
	assert_string_equal(b.data, "'id' '-un' 'a b'");
	dcv_buf_reset(&b);
	dcv_shquote_argv(&b, argv, 0);
	assert_string_equal(dcv_buf_str(&b), "");
	dcv_buf_release(&b);
}

/* ---------------------------------------------------------------- did you mean */

static void test_util_edit_distance(void **state)
{
	(void)state;
	assert_int_equal(dcv_edit_distance("hosts", "hosts"), 0);
	assert_int_equal(dcv_edit_distance("hots", "hosts"), 1);        /* deletion */
	assert_int_equal(dcv_edit_distance("adress", "address"), 1);    /* deletion */
	assert_int_equal(dcv_edit_distance("serivce", "service"), 1);   /* transposition */
	assert_int_equal(dcv_edit_distance("exce", "exec"), 1);         /* transposition */
	assert_int_equal(dcv_edit_distance("chekc", "check"), 1);
	assert_int_equal(dcv_edit_distance("kitten", "sitting"), 3);
	assert_int_equal(dcv_edit_distance("", "abc"), 3);
	assert_int_equal(dcv_edit_distance("abc", ""), 3);
	assert_int_equal(dcv_edit_distance("", ""), 0);
	assert_int_equal(dcv_edit_distance("Hosts", "hosts"), 0);       /* case-insensitive */
	/* symmetric */
	assert_int_equal(dcv_edit_distance("deploy", "delpoy"), dcv_edit_distance("delpoy", "deploy"));
}

static void test_util_nearest_suggests_typos(void **state)
{
	static const char *const commands[] = { "exec", "help", "hosts", "service", "version" };
	static const char *const keys[] = { "address", "ssh", "user", "jump", "identity",
					    "known-hosts", "proxy", "listen" };
	const size_t nc = sizeof(commands) / sizeof(commands[0]);
	const size_t nk = sizeof(keys) / sizeof(keys[0]);

	(void)state;
	assert_string_equal(dcv_nearest("hots", commands, nc), "hosts");
	assert_string_equal(dcv_nearest("serivce", commands, nc), "service");
	assert_string_equal(dcv_nearest("exce", commands, nc), "exec");
	assert_string_equal(dcv_nearest("verison", commands, nc), "version");
	assert_string_equal(dcv_nearest("adress", keys, nk), "address");
	assert_string_equal(dcv_nearest("usr", keys, nk), "user");
	assert_string_equal(dcv_nearest("know-hosts", keys, nk), "known-hosts");
	/* a prefix of a command is a plausible slip too */
	assert_string_equal(dcv_nearest("serv", commands, nc), "service");
}

static void test_util_nearest_no_suggestion_for_far_words(void **state)
{
	static const char *const commands[] = { "exec", "help", "hosts", "service", "version" };
	const size_t nc = sizeof(commands) / sizeof(commands[0]);

	(void)state;
	assert_null(dcv_nearest("deploy", commands, nc));
	assert_null(dcv_nearest("frobnicate", commands, nc));
	assert_null(dcv_nearest("xyz", commands, nc));
	assert_null(dcv_nearest("ls", commands, nc));
	assert_null(dcv_nearest("hosts", commands, 0));
	/* two letters wrong in a four-letter word is another word */
	assert_null(dcv_nearest("exit", commands, nc));
}

/* ---------------------------------------------------------------- durations */

static void test_util_parse_duration(void **state)
{
	static const struct {
		const char *s;
		long ms;
	} ok[] = {
		{ "10s", 10000 }, { "5m", 300000 }, { "1h", 3600000 }, { "30", 30000 },
		{ "250ms", 250 }, { "0", 0 }, { "1.5s", 1500 }, { "0.5m", 30000 }, { "0s", 0 },
		{ "24h", 86400000 },
	};
	static const char *const bad[] = {
		"", "s", "ms", "10x", "-5s", "10 s", " 10s", "10s ", "1d", "5M", "h", "abc", "10sec",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		long ms = -1;
		if (!dcv_parse_duration(ok[i].s, &ms))
			fail_msg("'%s' refused", ok[i].s);
		assert_int_equal(ms, ok[i].ms);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		long ms = 42;
		if (dcv_parse_duration(bad[i], &ms))
			fail_msg("'%s' accepted as %ld ms", bad[i], ms);
		assert_int_equal(ms, 42); /* untouched on failure */
	}
	assert_false(dcv_parse_duration(NULL, &(long){ 0 }));
}

static void test_util_format_duration(void **state)
{
	static const struct {
		long ms;
		const char *s;
	} cases[] = {
		{ 10000, "10s" }, { 300000, "5m" }, { 3600000, "1h" }, { 1500, "1500ms" },
		{ 0, "0s" }, { 90000, "90s" }, { 7200000, "2h" }, { 250, "250ms" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct dcv_buf b = DCV_BUF_INIT;
		long back = -1;

		dcv_format_duration(&b, cases[i].ms);
		assert_string_equal(b.data, cases[i].s);
		/* what we write, we read back */
		assert_true(dcv_parse_duration(b.data, &back));
		assert_int_equal(back, cases[i].ms);
		dcv_buf_release(&b);
	}
}

/* ---------------------------------------------------------------- host:port */

static void expect_hostport(const char *s, int def, const char *host, int port)
{
	char *h = NULL;
	int p = -1;

	if (!dcv_parse_hostport(s, def, &h, &p))
		fail_msg("'%s' refused", s);
	assert_string_equal(h, host);
	assert_int_equal(p, port);
	free(h);
}

static void test_util_parse_hostport(void **state)
{
	(void)state;
	expect_hostport("gw.example.com:50000", 22, "gw.example.com", 50000);
	expect_hostport("198.18.0.5", 22, "198.18.0.5", 22);
	expect_hostport("127.0.0.1:1", 22, "127.0.0.1", 1);
	expect_hostport("127.0.0.1:65535", 22, "127.0.0.1", 65535);
	expect_hostport("gw.example.com", 0, "gw.example.com", 0);
	expect_hostport("[::1]:2222", 22, "::1", 2222);
	expect_hostport("[2001:db8::1]", 22, "2001:db8::1", 22);
	/* a bare IPv6 address has no port */
	expect_hostport("2001:db8::1", 22, "2001:db8::1", 22);
}

static void test_util_parse_hostport_refuses_bad_input(void **state)
{
	static const char *const bad[] = {
		"", ":22", "host:", "host:0", "host:65536", "host:abc", "host:22x", "host:-1",
		"[::1", "[]:22", "[::1]x", "[::1]:", "[::1]:0", "a b:22", "user@host:22", "host/x",
		"host: 22",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *h = (char *)"untouched";
		int p = 42;
		if (dcv_parse_hostport(bad[i], 22, &h, &p))
			fail_msg("'%s' accepted as host '%s' port %d", bad[i], h, p);
		assert_string_equal(h, "untouched");
		assert_int_equal(p, 42);
	}
	assert_false(dcv_parse_hostport(NULL, 22, &(char *){ NULL }, &(int){ 0 }));
}

/* ---------------------------------------------------------------- bool, int */

static void test_util_parse_bool(void **state)
{
	static const char *const yes[] = { "yes", "true", "on", "1", "YES", "True", "On" };
	static const char *const no[] = { "no", "false", "off", "0", "NO", "False", "OFF" };
	static const char *const bad[] = { "", "2", "yess", "y", "n", "enabled", " yes", "yes " };

	(void)state;
	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		bool v = false;
		assert_true(dcv_parse_bool(yes[i], &v));
		assert_true(v);
	}
	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
		bool v = true;
		assert_true(dcv_parse_bool(no[i], &v));
		assert_false(v);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		bool v = true;
		if (dcv_parse_bool(bad[i], &v))
			fail_msg("'%s' accepted", bad[i]);
		assert_true(v);
	}
}

static void test_util_parse_int_ranges(void **state)
{
	static const char *const bad[] = {
		"0", "65536", "-1", "", " 5", "5 ", "5x", "x5", "0x10", "1e3",
		"99999999999999999999999",
	};
	long v = -1;

	(void)state;
	assert_true(dcv_parse_int("1", 1, 65535, &v));
	assert_int_equal(v, 1);
	assert_true(dcv_parse_int("65535", 1, 65535, &v));
	assert_int_equal(v, 65535);
	assert_true(dcv_parse_int("8443", 1, 65535, &v));
	assert_int_equal(v, 8443);
	assert_true(dcv_parse_int("-5", -10, 10, &v));
	assert_int_equal(v, -5);
	assert_true(dcv_parse_int("007", 0, 10, &v)); /* decimal, not octal */
	assert_int_equal(v, 7);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		v = 42;
		if (dcv_parse_int(bad[i], 1, 65535, &v))
			fail_msg("'%s' accepted as %ld", bad[i], v);
		assert_int_equal(v, 42);
	}
	assert_false(dcv_parse_int(NULL, 0, 10, &v));
}

static void test_util_now_ms_is_monotonic(void **state)
{
	long long a = dcv_now_ms(), b = dcv_now_ms();

	(void)state;
	assert_true(a > 0);
	assert_true(b >= a);
}

/* ---------------------------------------------------------------- dcv_buf */

static void test_util_buf_empty(void **state)
{
	struct dcv_buf b = DCV_BUF_INIT;
	char *s;

	(void)state;
	assert_string_equal(dcv_buf_str(&b), "");
	assert_int_equal(b.len, 0);
	dcv_buf_rtrim(&b);
	dcv_buf_reset(&b);
	s = dcv_buf_detach(&b);
	assert_string_equal(s, "");
	free(s);
	dcv_buf_release(&b);
	dcv_buf_release(&b); /* twice is harmless */
}

static void test_util_buf_appends_and_grows(void **state)
{
	struct dcv_buf b;
	char big[10000];

	(void)state;
	dcv_buf_init(&b);
	dcv_buf_adds(&b, "host");
	dcv_buf_addc(&b, ':');
	dcv_buf_addf(&b, "%d/%s", 22, "tcp");
	assert_string_equal(b.data, "host:22/tcp");
	assert_int_equal(b.len, 11);

	memset(big, 'x', sizeof(big));
	dcv_buf_add(&b, big, sizeof(big));
	assert_int_equal(b.len, 11 + sizeof(big));
	assert_true(b.cap > b.len);
	assert_int_equal(b.data[b.len], '\0');
	assert_memory_equal(b.data + 11, big, sizeof(big));

	/* binary data: len counts past an embedded NUL */
	dcv_buf_reset(&b);
	dcv_buf_add(&b, "a\0b", 3);
	assert_int_equal(b.len, 3);
	assert_memory_equal(b.data, "a\0b", 4);

	dcv_buf_reset(&b);
	assert_int_equal(b.len, 0);
	assert_string_equal(dcv_buf_str(&b), "");
	dcv_buf_addf(&b, "%s", "");
	assert_string_equal(dcv_buf_str(&b), "");
	dcv_buf_release(&b);
	assert_null(b.data);
	assert_int_equal(b.cap, 0);
}

static void test_util_buf_rtrim_and_detach(void **state)
{
	struct dcv_buf b = DCV_BUF_INIT;
	char *s;

	(void)state;
	dcv_buf_adds(&b, "active\n \t\r\n");
	dcv_buf_rtrim(&b);
	assert_string_equal(b.data, "active");
	assert_int_equal(b.len, 6);
	s = dcv_buf_detach(&b);
	assert_string_equal(s, "active");
	assert_null(b.data);
	assert_int_equal(b.len, 0);
	/* the buffer is reusable after handing its string over */
	dcv_buf_adds(&b, "again");
	assert_string_equal(b.data, "again");
	free(s);
	dcv_buf_release(&b);
}

static void test_util_xasprintf(void **state)
{
	char *s = xasprintf("%s:%d", "gw.example.com", 8443);

	(void)state;
	assert_string_equal(s, "gw.example.com:8443");
	free(s);
	s = xstrndup("abcdef", 3);
	assert_string_equal(s, "abc");
	free(s);
}


/* ---------------------------------------------------------------- atomic file writes */

static char *scratch_dir(void)
{
	char *d = xstrdup("/tmp/dcvctl-test-util-XXXXXX");

	assert_non_null(mkdtemp(d));
	return d;
}

static int dir_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d)))
		n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
	closedir(d);
	return n;
}

static void rm_dir(const char *dir)
{
	char *cmd = xasprintf("rm -rf -- '%s'", dir);

	assert_int_equal(system(cmd), 0);
	free(cmd);
}

static unsigned file_mode(const char *path)
{
	struct stat st;

	assert_int_equal(lstat(path, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	return (unsigned)(st.st_mode & 07777);
}

/* A symlink planted at every name one could predict (the old PATH.tmp.<pid>, and other
 * guesses) is neither followed nor replaced; the data reaches only the target. */
static void test_util_file_write_atomic_follows_no_planted_symlink(void **state)
{
	char *dir = scratch_dir(), *target = xasprintf("%s/key.pem", dir), *victim = xasprintf("%s/victim", dir);
	char *planted[] = {
		xasprintf("%s.tmp.%d", target, (int)getpid()), xasprintf("%s.tmp", target),
		xasprintf("%s/.key.pem.tmp", dir), xasprintf("%s.new", target),
		xasprintf("%s/.key.pem.dcvctl-new", dir),
	};
	const size_t n = sizeof(planted) / sizeof(planted[0]);
	struct dcv_buf got = DCV_BUF_INIT;
	struct stat st;

	(void)state;
	for (size_t i = 0; i < n; i++)
		assert_int_equal(symlink(victim, planted[i]), 0);
	assert_int_equal(dcv_file_write_atomic(target, "SECRET", 6, 0600), 0);
	assert_int_equal(lstat(victim, &st), -1); /* nothing was written through a symlink */
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(lstat(planted[i], &st), 0);
		assert_true(S_ISLNK(st.st_mode));
	}
	assert_int_equal(file_mode(target), 0600);
	assert_int_equal(dcv_file_read(target, &got), 0);
	assert_string_equal(dcv_buf_str(&got), "SECRET");
	assert_int_equal(dir_entries(dir), (int)n + 1); /* no temp file left behind */
	for (size_t i = 0; i < n; i++)
		free(planted[i]);
	dcv_buf_release(&got);
	rm_dir(dir);
	free(victim);
	free(target);
	free(dir);
}

/* A symlink at the target itself is replaced by the file, not written through. */
static void test_util_file_write_atomic_replaces_symlink_at_target(void **state)
{
	char *dir = scratch_dir(), *target = xasprintf("%s/report.json", dir), *victim = xasprintf("%s/victim", dir);
	struct stat st;

	(void)state;
	assert_int_equal(symlink(victim, target), 0);
	assert_int_equal(dcv_file_write_atomic(target, "{}", 2, 0644), 0);
	assert_int_equal(lstat(victim, &st), -1);
	assert_int_equal(file_mode(target), 0644);
	assert_int_equal(dir_entries(dir), 1);
	rm_dir(dir);
	free(victim);
	free(target);
	free(dir);
}

/* The mode is exactly the one asked for, whatever the umask (callers apply it when they want
 * it), and replaces an existing file's mode. */
static void test_util_file_write_atomic_sets_exact_mode(void **state)
{
	char *dir = scratch_dir(), *path = xasprintf("%s/f", dir);
	mode_t old = umask(077);

	(void)state;
	assert_int_equal(dcv_file_write_atomic(path, "a", 1, 0644), 0);
	assert_int_equal(file_mode(path), 0644);
	umask(0);
	assert_int_equal(dcv_file_write_atomic(path, "b", 1, 0600), 0);
	assert_int_equal(file_mode(path), 0600);
	assert_int_equal(dcv_file_write_atomic(path, NULL, 0, 0640), 0);
	assert_int_equal(file_mode(path), 0640);
	umask(old);
	assert_int_equal(dir_entries(dir), 1);
	rm_dir(dir);
	free(path);
	free(dir);
}

/* Failures say why (errno) and leave no temp file behind. */
static void test_util_file_write_atomic_failures(void **state)
{
	char *dir = scratch_dir(), *missing = xasprintf("%s/no/such/f", dir), *target = xasprintf("%s/t", dir);
	char *inner = xasprintf("%s/t/inner", dir);

	(void)state;
	errno = 0;
	assert_int_equal(dcv_file_write_atomic(missing, "a", 1, 0600), -1);
	assert_int_equal(errno, ENOENT);
	/* the target is a folder that is not empty: the rename fails */
	assert_int_equal(mkdir(target, 0700), 0);
	assert_int_equal(mkdir(inner, 0700), 0);
	errno = 0;
	assert_int_equal(dcv_file_write_atomic(target, "a", 1, 0600), -1);
	assert_true(errno == EISDIR || errno == ENOTEMPTY || errno == EEXIST);
	assert_int_equal(dir_entries(dir), 1);
	rm_dir(dir);
	free(inner);
	free(target);
	free(missing);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_util_shquote_round_trips_through_sh),
		cmocka_unit_test(test_util_shquote_exact_form),
		cmocka_unit_test(test_util_shquote_argv_keeps_every_word),
		cmocka_unit_test(test_util_shquote_argv_form),
		cmocka_unit_test(test_util_edit_distance),
		cmocka_unit_test(test_util_nearest_suggests_typos),
		cmocka_unit_test(test_util_nearest_no_suggestion_for_far_words),
		cmocka_unit_test(test_util_parse_duration),
		cmocka_unit_test(test_util_format_duration),
		cmocka_unit_test(test_util_parse_hostport),
		cmocka_unit_test(test_util_parse_hostport_refuses_bad_input),
		cmocka_unit_test(test_util_parse_bool),
		cmocka_unit_test(test_util_parse_int_ranges),
		cmocka_unit_test(test_util_now_ms_is_monotonic),
		cmocka_unit_test(test_util_buf_empty),
		cmocka_unit_test(test_util_buf_appends_and_grows),
		cmocka_unit_test(test_util_buf_rtrim_and_detach),
		cmocka_unit_test(test_util_xasprintf),
		cmocka_unit_test(test_util_file_write_atomic_follows_no_planted_symlink),
		cmocka_unit_test(test_util_file_write_atomic_replaces_symlink_at_target),
		cmocka_unit_test(test_util_file_write_atomic_sets_exact_mode),
		cmocka_unit_test(test_util_file_write_atomic_failures),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
