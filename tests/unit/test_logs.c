/* Log lines as the products write them: their times, their levels, the reader of the remote
 * script's output, the merge by time, and the script itself. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "../../lib/buf.h"
#include "../../lib/inventory.h"
#include "../../lib/logs.h"
#include "../../lib/proxy.h"

/* 2026-11-30 16:44:12 UTC */
#define T0 1796057052LL

static const struct dcv_log_clock utc = { T0 + 600, 0 };
static const struct dcv_log_clock tokyo = { T0 + 600, 9 * 3600 };

static long long time_of(const char *line, const struct dcv_log_clock *c)
{
	long long ms = -1;

	assert_true(dcv_log_time(line, c, &ms));
	return ms;
}

static void test_logs_time_dcv_server_log(void **state)
{
	(void)state;
	const char *l = "2021-08-10 05:32:44,161016 [  3517:3517  ] WARN  frontend-handler - Invalid "
			"connection request from client '10.0.0.38:2098': unknown session 'x'";
	assert_int_equal(time_of(l, &utc), 1628573564LL * 1000 + 161);
	/* DCV writes local time: the host's zone decides */
	assert_int_equal(time_of(l, &tokyo), (1628573564LL - 9 * 3600) * 1000 + 161);
}

static void test_logs_time_nginx(void **state)
{
	(void)state;
	assert_int_equal(time_of("2026/11/30 16:44:12 [error] 812#812: *1 connect() failed (111: "
				 "Connection refused) while connecting to upstream, client: 10.0.0.5",
				 &tokyo),
			 (T0 - 9 * 3600) * 1000);
	assert_int_equal(time_of("10.0.0.5 - - [30/Nov/2026:16:44:12 +0900] \"GET /dcv HTTP/1.1\" 502 "
				 "157 \"-\" \"Mozilla/5.0\"",
				 &utc),
			 (T0 - 9 * 3600) * 1000);
	assert_int_equal(time_of("10.0.0.5 - - [30/Nov/2026:16:44:12 -0130] \"GET / HTTP/1.1\" 200 1 "
				 "\"-\" \"curl/8.5\"",
				 &utc),
			 (T0 + 5400) * 1000);
}

static void test_logs_time_syslog_and_journal(void **state)
{
	(void)state;
	const char *bsd = "Nov 30 16:44:12 gw haproxy[2211]: Server dcv/dcv1 is DOWN, reason: Layer4 "
			  "connection problem, info: \"Connection refused\"";
	assert_int_equal(time_of(bsd, &utc), T0 * 1000);
	assert_int_equal(time_of("Nov  3 01:02:03 gw haproxy[1]: Proxy dcv started.", &utc),
			 (T0 - 27 * 86400 - 15 * 3600 - 42 * 60 - 9) * 1000);
	/* no year in the line: read on New Year's morning, December is last year's */
	struct dcv_log_clock newyear = { 1798761610LL, 0 };
	assert_int_equal(time_of("Dec 31 23:59:59 gw haproxy[1]: x", &newyear), 1798761599LL * 1000);
	assert_int_equal(time_of("2026-11-30T16:44:12.345678+01:00 gw haproxy[2211]: 10.0.0.5:51234 "
				 "[30/Nov/2026:16:44:12.345] dcv~ dcv/dcv1 0/0/1/3/4 200 1234 - - ---- "
				 "1/1/0/0/0 0/0 \"GET / HTTP/1.1\"",
				 &tokyo),
			 (T0 - 3600) * 1000 + 345);
	assert_int_equal(time_of("2026-11-30T16:44:12+0000 gw nginx[99]: nginx: [emerg] bind() to "
				 "0.0.0.0:8443 failed (98: Address already in use)",
				 &tokyo),
			 T0 * 1000);
}

static void test_logs_time_connection_gateway(void **state)
{
	(void)state;
	assert_int_equal(time_of("[2026-11-30T16:44:12.123Z] [WARN] [dcv_connection_gateway::resolver]: "
				 "Session resolver unreachable",
				 &tokyo),
			 T0 * 1000 + 123);
}

static void test_logs_time_refuses_what_is_not_a_time(void **state)
{
	(void)state;
	long long ms = 42;
	const char *bad[] = {
		"    at java.lang.Thread.run(Thread.java:750)",
		"2026-13-30 16:44:12 month 13",
		"2026-11-30 25:00:00 hour 25",
		"2026-11-30 16:44 no seconds",
		"2026-11/30 16:44:12 mixed separators",
		"Nox 30 16:44:12 gw x",
		"10.0.0.5 - - [30/Nov/2026:16:44:12 +9900] zone out of range",
		"1969-12-31 23:59:59 before the epoch",
		"",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (dcv_log_time(bad[i], &utc, &ms))
			fail_msg("read a time from '%s'", bad[i]);
	}
	assert_int_equal(ms, 42);
}

static void test_logs_level_declared(void **state)
{
	(void)state;
	assert_int_equal(dcv_log_level("2026/11/30 16:44:12 [error] 812#812: *1 connect() failed"), DCV_LOG_ERROR);
	assert_int_equal(dcv_log_level("2026/11/30 16:44:12 [crit] 812#812: *1 SSL_do_handshake() failed"), DCV_LOG_ERROR);
	assert_int_equal(dcv_log_level("2026/11/30 16:44:12 [warn] 812#812: conflicting server name"), DCV_LOG_WARN);
	/* a declared level wins over words in the message: this is not an error */
	assert_int_equal(dcv_log_level("2026/11/30 16:44:12 [notice] 812#812: signal process started, error log reopened"),
			 DCV_LOG_INFO);
	assert_int_equal(dcv_log_level("2021-08-10 05:32:44,161016 [  3517:3517  ] WARN  frontend-handler - Invalid"),
			 DCV_LOG_WARN);
	assert_int_equal(dcv_log_level("2021-08-10 05:32:44,161016 [  3517:3517  ] ERROR main - Cannot start"),
			 DCV_LOG_ERROR);
	assert_int_equal(dcv_log_level("2021-08-10 05:32:44,161016 [  3517:3517  ] INFO  authenticator - "
				       "Authentication failed once, retried"),
			 DCV_LOG_INFO);
	assert_int_equal(dcv_log_level("[2026-11-30T16:44:12.123Z] [ERROR] [gw]: cannot bind"), DCV_LOG_ERROR);
	assert_int_equal(dcv_log_level("2026-11-30 16:44:12,123 [4242] WARNING agent - Cannot reach the broker"),
			 DCV_LOG_WARN);
}

static void test_logs_level_haproxy_and_access(void **state)
{
	(void)state;
	assert_int_equal(dcv_log_level("Nov 30 16:44:12 gw haproxy[2211]: Server dcv/dcv1 is DOWN, reason: Layer4"),
			 DCV_LOG_ERROR);
	assert_int_equal(dcv_log_level("Nov 30 16:44:12 gw haproxy[2211]: backend dcv has no server available!"),
			 DCV_LOG_ERROR);
	assert_int_equal(dcv_log_level("Nov 30 16:44:12 gw haproxy[2211]: Server dcv/dcv1 is UP, reason: Layer4 check passed"),
			 DCV_LOG_INFO);
	assert_int_equal(dcv_log_level("Nov 30 16:44:12 gw haproxy[2211]: 10.0.0.5:51234 [30/Nov/2026:16:44:12.345] "
				       "dcv~ dcv/<NOSRV> 0/-1/-1/-1/0 503 217 - - SC-- 1/1/0/0/0 0/0 \"GET / HTTP/1.1\""),
			 DCV_LOG_ERROR);
	assert_int_equal(dcv_log_level("Nov 30 16:44:12 gw haproxy[2211]: 10.0.0.5:51234 [30/Nov/2026:16:44:12.345] "
				       "dcv~ dcv/dcv1 0/0/1/3/4 101 1234 - - ---- 1/1/0/0/0 0/0 \"GET /error HTTP/1.1\""),
			 DCV_LOG_INFO);
	assert_int_equal(dcv_log_level("10.0.0.5 - - [30/Nov/2026:16:44:12 +0000] \"GET /dcv HTTP/1.1\" 502 157 \"-\" \"x\""),
			 DCV_LOG_ERROR);
	/* a URL that says "error" is not one when the status is fine */
	assert_int_equal(dcv_log_level("10.0.0.5 - - [30/Nov/2026:16:44:12 +0000] \"GET /error-page HTTP/1.1\" 200 1 \"-\" \"x\""),
			 DCV_LOG_INFO);
	assert_int_equal(dcv_log_level("10.0.0.5 - - [30/Nov/2026:16:44:12 +0000] \"GET /x HTTP/1.1\" 404 1 \"-\" \"x\""),
			 DCV_LOG_INFO);
}

static void test_logs_level_words_without_a_level(void **state)
{
	(void)state;
	/* the seed's dcv-monitor.sh patterns (error|failed|timeout), and better */
	assert_int_equal(dcv_log_level("2026-11-30T16:44:12+0000 gw systemd[1]: nginx.service: Failed with result 'exit-code'."),
			 DCV_LOG_ERROR);
	assert_int_equal(dcv_log_level("Nov 30 16:44:12 gw app[1]: upstream timed out"), DCV_LOG_WARN);
	assert_int_equal(dcv_log_level("Nov 30 16:44:12 gw app[1]: connection refused by peer"), DCV_LOG_WARN);
	assert_int_equal(dcv_log_level("Nov 30 16:44:12 gw app[1]: all good"), DCV_LOG_INFO);
	/* a word's middle is not the word: "terror" is no error */
	assert_int_equal(dcv_log_level("Nov 30 16:44:12 gw app[1]: terrors of the deep"), DCV_LOG_INFO);
	assert_string_equal(dcv_log_level_name(DCV_LOG_ERROR), "error");
	assert_string_equal(dcv_log_level_name(DCV_LOG_WARN), "warn");
	assert_string_equal(dcv_log_level_name(DCV_LOG_INFO), "info");
}

/* ---- reader ---- */

struct got {
	struct dcv_log_line v[16];
	int n;
};

static void keep(void *user, struct dcv_log_line *l)
{
	struct got *g = user;

	assert_true(g->n < 16);
	g->v[g->n++] = *l;
	free(l);
}

static void got_release(struct got *g)
{
	for (int i = 0; i < g->n; i++)
		free(g->v[i].text);
}

static void test_logs_reader_tags_lines_in_any_pieces(void **state)
{
	(void)state;
	const char *out = "@ 1796057652 +0900\n"
			  "+ 0 file\n+ 1 journal\n"
			  "0\t2026/11/30 16:44:12 [error] 1#1: \033[31mboom\033[0m\n"
			  "1\t-- No entries --\n"
			  "1\t2026-11-30T16:44:12+0000 gw nginx[9]: started\r\n"
			  "7\tnot a source of this host\n"
			  "garbage without a tag\n"
			  "0\tlast line without newline";
	struct dcv_logs_reader r;
	struct got g = { 0 };

	/* byte by byte: the pieces SSH hands over have no relation to lines */
	dcv_logs_reader_init(&r, 3, 2, keep, &g);
	for (size_t i = 0; out[i]; i++)
		dcv_logs_reader_feed(&r, out + i, 1);
	assert_int_equal(g.n, 2);
	dcv_logs_reader_finish(&r);
	assert_int_equal(g.n, 3);
	assert_true(r.found[0] && r.found[1]);
	assert_false(r.journal[0]);
	assert_true(r.journal[1]);
	assert_int_equal(r.clock.utc_offset_s, 9 * 3600);

	assert_int_equal(g.v[0].host, 3);
	assert_int_equal(g.v[0].source, 0);
	assert_string_equal(g.v[0].text, "2026/11/30 16:44:12 [error] 1#1: [31mboom[0m");
	assert_int_equal(g.v[0].level, DCV_LOG_ERROR);
	assert_int_equal(g.v[0].ms, (T0 - 9 * 3600) * 1000);
	assert_int_equal(g.v[1].source, 1);
	assert_string_equal(g.v[1].text, "2026-11-30T16:44:12+0000 gw nginx[9]: started");
	assert_int_equal(g.v[1].ms, T0 * 1000);
	assert_string_equal(g.v[2].text, "last line without newline");
	assert_int_equal(g.v[2].ms, 0);
	assert_true(g.v[0].seq < g.v[1].seq && g.v[1].seq < g.v[2].seq);
	got_release(&g);
	dcv_logs_reader_release(&r);
}

static void test_logs_reader_cuts_an_endless_line(void **state)
{
	(void)state;
	struct dcv_logs_reader r;
	struct got g = { 0 };
	size_t big = 200000;
	char *s = malloc(big);

	memset(s, 'x', big);
	memcpy(s, "0\t", 2);
	dcv_logs_reader_init(&r, 0, 1, keep, &g);
	dcv_logs_reader_feed(&r, s, big);
	assert_int_equal(g.n, 1);
	assert_true(r.pending.len < 70000);
	assert_true(strlen(g.v[0].text) < 70000);
	got_release(&g);
	dcv_logs_reader_release(&r);
	free(s);
}

/* ---- merge ---- */

static struct dcv_log_line line(int host, int source, long long seq, long long ms, const char *text)
{
	struct dcv_log_line l = { host, source, seq, ms, 0, DCV_LOG_INFO, (char *)text };
	return l;
}

static void test_logs_sort_merges_hosts_and_keeps_traces_together(void **state)
{
	(void)state;
	struct dcv_log_line v[] = {
		line(0, 0, 0, 3000, "gw a 3s"),
		line(0, 0, 1, 0, "gw a trace of 3s"),
		line(0, 0, 2, 5000, "gw a 5s"),
		line(1, 0, 0, 0, "dcv1 before any time"),
		line(1, 0, 1, 1000, "dcv1 1s"),
		line(1, 0, 2, 4000, "dcv1 4s"),
		line(0, 1, 0, 3000, "gw b 3s"),
		line(2, 0, 0, 0, "dcv2 no time at all"),
	};
	const char *want[] = { "dcv2 no time at all", "dcv1 before any time", "dcv1 1s", "gw a 3s",
			       "gw a trace of 3s", "gw b 3s", "dcv1 4s", "gw a 5s" };

	v[0].level = DCV_LOG_ERROR;
	v[3].level = DCV_LOG_WARN;
	dcv_logs_sort(v, sizeof(v) / sizeof(v[0]));
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
		assert_string_equal(v[i].text, want[i]);
	assert_int_equal(v[4].key, 3000);
	assert_int_equal(v[4].ms, 0);
	/* the trace is as grave as its message; a line before any time keeps its own level */
	assert_int_equal(v[4].level, DCV_LOG_ERROR);
	assert_int_equal(v[1].level, DCV_LOG_WARN);
	assert_int_equal(v[0].level, DCV_LOG_INFO);
}

/* ---- resuming a follow ---- */

/* Feed lines of the given times (0: none) to the mark; the kept ones as a string "ynny". */
static void feed_marks(struct dcv_logs_mark *m, const long long *ms, int n, char *kept)
{
	for (int i = 0; i < n; i++) {
		struct dcv_log_line l = line(0, 0, i, ms[i], "x");
		kept[i] = dcv_logs_mark_next(m, &l) ? 'y' : 'n';
	}
	kept[n] = '\0';
}

static void test_logs_mark_shows_what_came_while_away_once(void **state)
{
	(void)state;
	struct dcv_logs_mark m = { 0 };
	char kept[16];

	/* before the drop: 1s, 2s, 2s and a trace line */
	feed_marks(&m, (long long[]){ 1000, 2000, 2000, 0 }, 4, kept);
	assert_string_equal(kept, "yyyy");
	dcv_logs_mark_resume(&m, 500);
	/* read again: the same four, then a third line at 2s and one at 3s written meanwhile */
	feed_marks(&m, (long long[]){ 1000, 2000, 2000, 0, 2000, 0, 3000 }, 7, kept);
	assert_string_equal(kept, "nnnnyyy");
	/* live again: nothing is held back */
	feed_marks(&m, (long long[]){ 3000, 0, 1000 }, 3, kept);
	assert_string_equal(kept, "yyy");
}

static void test_logs_mark_of_a_silent_log_starts_when_following_began(void **state)
{
	(void)state;
	struct dcv_logs_mark m = { 0 };
	char kept[16];

	dcv_logs_mark_resume(&m, 5000);
	feed_marks(&m, (long long[]){ 4000, 0, 5000, 0 }, 4, kept);
	assert_string_equal(kept, "nnyy");
	/* a second drop before anything new was read changes nothing */
	struct dcv_logs_mark twice = { 0 };
	dcv_logs_mark_resume(&twice, 5000);
	dcv_logs_mark_resume(&twice, 5000);
	feed_marks(&twice, (long long[]){ 4000, 6000 }, 2, kept);
	assert_string_equal(kept, "ny");
}

static void test_logs_mark_shows_an_untimed_log_again_rather_than_lose_it(void **state)
{
	(void)state;
	struct dcv_logs_mark m = { 0 };
	char kept[16];

	feed_marks(&m, (long long[]){ 0, 0 }, 2, kept);
	dcv_logs_mark_resume(&m, 5000);
	feed_marks(&m, (long long[]){ 0, 0, 0 }, 3, kept);
	assert_string_equal(kept, "yyy");
}

/* ---- sources and script ---- */

static void test_logs_sources_per_role_and_kind(void **state)
{
	(void)state;
	struct dcv_host gw = { .name = "gw", .role = DCV_ROLE_GATEWAY, .proxy = DCV_PROXY_NGINX };
	struct dcv_host ha = { .name = "gw", .role = DCV_ROLE_GATEWAY, .proxy = DCV_PROXY_HAPROXY };
	struct dcv_host agent = { .name = "dcv1", .role = DCV_ROLE_AGENT };
	struct dcv_host bastion = { .name = "b", .role = DCV_ROLE_BASTION };
	const struct dcv_log_source *s[DCV_LOGS_MAX_SOURCES];
	int n;

	n = dcv_logs_sources(&gw, s);
	assert_int_equal(n, 5);
	assert_string_equal(s[0]->file, "/var/log/nginx/dcv-access.log");
	assert_string_equal(s[1]->file, "/var/log/nginx/dcv-error.log");
	assert_string_equal(s[3]->file, "/var/log/dcv-connection-gateway/gateway.log");
	assert_string_equal(s[3]->unit, DCV_UNIT_GATEWAY);
	n = dcv_logs_sources(&ha, s);
	assert_int_equal(n, 3);
	assert_string_equal(s[0]->file, "/var/log/haproxy.log");
	assert_string_equal(s[0]->unit, "haproxy");
	n = dcv_logs_sources(&agent, s);
	assert_int_equal(n, 2);
	assert_string_equal(s[0]->file, "/var/log/dcv/server.log");
	assert_string_equal(s[1]->unit, DCV_UNIT_SM_AGENT);
	assert_int_equal(dcv_logs_sources(&bastion, s), 0);

	char buf[64];
	assert_string_equal(dcv_logs_label(s[0], false, buf, sizeof(buf)), "/var/log/dcv/server.log");
	assert_string_equal(dcv_logs_label(s[0], true, buf, sizeof(buf)), "journal:dcvserver");
}

static void test_logs_script_reads_or_follows(void **state)
{
	(void)state;
	static const struct dcv_log_source a = { "/var/log/dcv/server.log", "dcvserver" };
	static const struct dcv_log_source b = { "/var/log/it's here.log", NULL };
	const struct dcv_log_source *src[] = { &a, &b };
	struct dcv_logs_req once = { 10, 1796057052LL, false }, follow = { 5, 0, true };
	struct dcv_buf s = DCV_BUF_INIT;

	dcv_logs_script(src, 2, &once, &s);
	assert_non_null(strstr(s.data, "date +'@ %s %z'\n"));
	assert_non_null(strstr(s.data, "if [ -r '/var/log/dcv/server.log' ]; then echo '+ 0 file'\n"));
	assert_non_null(strstr(s.data, "-newermt @1796057052"));
	assert_non_null(strstr(s.data, "tail -n 10 '/var/log/dcv/server.log'"));
	assert_non_null(strstr(s.data, "elif systemctl cat 'dcvserver' >/dev/null 2>&1; then echo '+ 0 journal'"));
	assert_non_null(strstr(s.data, "-u 'dcvserver' -n 10 --since @1796057052 | awk -v i=0"));
	assert_non_null(strstr(s.data, "'/var/log/it'\\''s here.log'"));
	assert_null(strstr(s.data, "-F"));
	assert_null(strstr(s.data, "kill 0"));
	dcv_buf_reset(&s);

	dcv_logs_script(src, 2, &follow, &s);
	assert_non_null(strstr(s.data, "tail -n 5 -F '/var/log/dcv/server.log'"));
	assert_non_null(strstr(s.data, " -n 5 -f | while IFS= read -r l; do printf '0\\t%s\\n' \"$l\"; done &\n"));
	assert_null(strstr(s.data, "newermt"));
	assert_non_null(strstr(s.data, "cat >/dev/null\nkill 0\n"));
	dcv_buf_release(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_logs_time_dcv_server_log),
		cmocka_unit_test(test_logs_time_nginx),
		cmocka_unit_test(test_logs_time_syslog_and_journal),
		cmocka_unit_test(test_logs_time_connection_gateway),
		cmocka_unit_test(test_logs_time_refuses_what_is_not_a_time),
		cmocka_unit_test(test_logs_level_declared),
		cmocka_unit_test(test_logs_level_haproxy_and_access),
		cmocka_unit_test(test_logs_level_words_without_a_level),
		cmocka_unit_test(test_logs_reader_tags_lines_in_any_pieces),
		cmocka_unit_test(test_logs_reader_cuts_an_endless_line),
		cmocka_unit_test(test_logs_sort_merges_hosts_and_keeps_traces_together),
		cmocka_unit_test(test_logs_mark_shows_what_came_while_away_once),
		cmocka_unit_test(test_logs_mark_of_a_silent_log_starts_when_following_began),
		cmocka_unit_test(test_logs_mark_shows_an_untimed_log_again_rather_than_lose_it),
		cmocka_unit_test(test_logs_sources_per_role_and_kind),
		cmocka_unit_test(test_logs_script_reads_or_follows),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
