/* Lint rules (design §8): every rule firing and not firing, the nginx tokenizer's corners, and
 * the seed runbook's own files (tests/unit/fixtures/seed-*, verbatim from the seed). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../lib/buf.h"
#include "../../lib/inventory.h"
#include "../../lib/lint.h"
#include "../../lib/render.h"

#include "fixture.h"

/* One "file:line W|E rule" line per finding: tests compare the whole list, order included. */
static char *summary(const struct dcv_findings *f)
{
	struct dcv_buf b = DCV_BUF_INIT;

	for (int i = 0; i < f->n; i++) {
		const struct dcv_finding *x = &f->v[i];
		dcv_buf_addf(&b, "%s:%d %c %s\n", x->file, x->line, x->sev == DCV_SEV_ERROR ? 'E' : 'W', x->rule);
		if (!*x->msg || strchr(x->msg, '\n'))
			fail_msg("finding %s at %s:%d needs one line of explanation: '%s'", x->rule, x->file, x->line,
				 x->msg);
	}
	return dcv_buf_detach(&b);
}

static void expect(const struct dcv_findings *f, const char *want)
{
	char *got = summary(f);

	if (strcmp(got, want) != 0) {
		for (int i = 0; i < f->n; i++)
			print_message("  %s:%d %s: %s\n", f->v[i].file, f->v[i].line, f->v[i].rule, f->v[i].msg);
		fail_msg("findings differ\n-- got:\n%s-- want:\n%s", got, want);
	}
	free(got);
}

static void expect_msg(const struct dcv_findings *f, int i, const char *part)
{
	assert_true(i < f->n);
	if (!strstr(f->v[i].msg, part))
		fail_msg("message '%s' lacks '%s'", f->v[i].msg, part);
}

static void dcvconf(const char *text, bool bypass, const char *want, struct dcv_findings *f)
{
	dcv_lint_dcvconf(text, "dcv.conf", bypass, f);
	expect(f, want);
}

/* Lint nginx files given as name, text, name, text, ..., NULL; then compare. */
static void nginx(struct dcv_findings *f, const char *crons, const char *want, ...)
{
	struct dcv_nginx_file files[8];
	int n = 0;
	va_list ap;

	va_start(ap, want);
	for (const char *name; (name = va_arg(ap, const char *)) && n < 8; n++) {
		files[n].name = name;
		files[n].text = va_arg(ap, const char *);
	}
	va_end(ap);
	dcv_lint_nginx(files, n, crons, f);
	expect(f, want);
}

/* ------------------------------------------------------------------ dcv.conf */

static void test_lint_dcv_unknown_section(void **state)
{
	struct dcv_findings f = { 0 };
	(void)state;

	/* the keys of an unknown section are not reported again */
	dcvconf("[conectivity]\nweb-port = 8443\nnonsense = 1\n", false, "dcv.conf:1 E dcv.unknown-section\n", &f);
	expect_msg(&f, 0, "unknown section [conectivity]");
	expect_msg(&f, 0, "(did you mean [connectivity]?)");
	dcv_findings_free(&f);

	dcvconf("[frobnicate]\n", false, "dcv.conf:1 E dcv.unknown-section\n", &f);
	assert_null(strstr(f.v[0].msg, "did you mean"));
	dcv_findings_free(&f);

	dcvconf("web-port = 8443\nquic-port = 8443\n[connectivity]\n", false, "dcv.conf:1 E dcv.unknown-section\n", &f);
	dcv_findings_free(&f);

	dcvconf("# every documented section, sub-sections included\n"
		"[audio]\n[clipboard]\n[connectivity]\n[display]\n[display/linux]\n[extensions]\n[input]\n"
		"[license]\n[log]\n[printer]\n[redirection]\n[security]\n[session-management]\n"
		"[session-management/automatic-console-session]\n[session-management/defaults]\n"
		"[smartcard]\n[webauthn]\n[webcam]\n[windows]\n[ log ]\n",
		false, "dcv.conf:21 W dcv.section-spaces\n", &f);
	dcv_findings_free(&f);
}

static void test_lint_dcv_unknown_key(void **state)
{
	struct dcv_findings f = { 0 };
	(void)state;

	dcvconf("[session-management]\nenable-broker = false\n", true, "dcv.conf:2 E dcv.unknown-key\n", &f);
	expect_msg(&f, 0, "unknown key 'enable-broker' in [session-management]: dcv.conf has no such key; "
			  "broker integration is [security] auth-token-verifier");
	/* "create-session" is not close to "enable-broker": no guess */
	assert_null(strstr(f.v[0].msg, "did you mean"));
	dcv_findings_free(&f);

	dcvconf("[connectivity]\nweb-prot = 8443\n", false, "dcv.conf:2 E dcv.unknown-key\n", &f);
	expect_msg(&f, 0, "(did you mean 'web-port'?)");
	dcv_findings_free(&f);

	dcvconf("[security]\n\nweb-port=8443\n", false, "dcv.conf:3 E dcv.unknown-key\n", &f);
	expect_msg(&f, 0, "it belongs in [connectivity]");
	dcv_findings_free(&f);

	dcvconf("[connectivity]\nweb-use-https = true\nenable-web-access=true\n", false,
		"dcv.conf:2 E dcv.unknown-key\ndcv.conf:3 E dcv.unknown-key\n", &f);
	dcv_findings_free(&f);

	/* both spellings of key=value, both comment styles, quoted and list values */
	dcvconf("; a comment\n[connectivity]\nweb-port=8443\n  web-url-path = \"/dcv\"\n"
		"web-listen-endpoints = ['0.0.0.0:8443', '[::]:8443']\n# another\n"
		"[security]\nadministrators=[\"dcvsmagent\"]\n[display/linux]\ngl-displays = [':0.0']\n",
		true, "", &f);
	dcv_findings_free(&f);

	assert_true(dcv_dcvconf_known("security", "administrators"));
	assert_true(dcv_dcvconf_known("security", "no-tls-strict"));
	assert_true(dcv_dcvconf_known("session-management/automatic-console-session", "owner"));
	assert_true(dcv_dcvconf_known("connectivity", "ws-keepalive-interval"));
	assert_true(dcv_dcvconf_known("display", "enable-qu"));
	assert_false(dcv_dcvconf_known("session-management", "enable-broker"));
	assert_false(dcv_dcvconf_known("session-management", "owner"));
	assert_false(dcv_dcvconf_known("nosuch", "enabled"));
}

static void test_lint_dcv_auth_none(void **state)
{
	struct dcv_findings f = { 0 };
	(void)state;

	dcvconf("[security]\nauthentication = none\n", false, "dcv.conf:2 W dcv.auth-none\n", &f);
	expect_msg(&f, 0, "anyone who reaches the port gets the desktop");
	dcv_findings_free(&f);
	dcvconf("[security]\nauthentication=\"none\"\n", false, "dcv.conf:2 W dcv.auth-none\n", &f);
	dcv_findings_free(&f);
	dcvconf("[security]\nauthentication = \"system\"\n", false, "", &f);
	dcv_findings_free(&f);
	/* a BOM and CRLF do not hide it */
	dcvconf("\xef\xbb\xbf[security]\r\nauthentication = none\r\n", false, "dcv.conf:2 W dcv.auth-none\n", &f);
	dcv_findings_free(&f);
}

static void test_lint_dcv_owner_misplaced(void **state)
{
	struct dcv_findings f = { 0 };
	(void)state;

	dcvconf("[session-management]\ncreate-session = true\nowner = \"ubuntu\"\n", false,
		"dcv.conf:3 E dcv.owner-misplaced\n", &f);
	expect_msg(&f, 0, "[session-management/automatic-console-session]");
	dcv_findings_free(&f);
	dcvconf("[session-management]\ncreate-session = true\n"
		"[session-management/automatic-console-session]\nowner = \"ubuntu\"\n",
		false, "", &f);
	dcv_findings_free(&f);
}

static void test_lint_dcv_verifier_in_bypass(void **state)
{
	static const char conf[] = "[security]\n"
				   "auth-token-verifier=\"https://broker:8445/agent/validate-authentication-token\"\n"
				   "ca-file=\"/etc/dcv/broker.pem\"\n";
	struct dcv_findings f = { 0 };
	(void)state;

	dcvconf(conf, true, "dcv.conf:2 E dcv.verifier-in-bypass\n", &f);
	expect_msg(&f, 0, "broker");
	dcv_findings_free(&f);
	dcvconf(conf, false, "", &f);
	dcv_findings_free(&f);
	dcvconf("[security]\nauth-token-verifier = \"\"\n", true, "", &f);
	dcv_findings_free(&f);
}

static void test_lint_dcv_no_tls_strict_pointless(void **state)
{
	struct dcv_findings f = { 0 };
	(void)state;

	dcvconf("[security]\nno-tls-strict = true\n", false, "dcv.conf:2 W dcv.no-tls-strict-pointless\n", &f);
	expect_msg(&f, 0, "auth-token-verifier");
	dcv_findings_free(&f);
	/* with a verifier over https it does something (on the agent's way to the broker) */
	dcvconf("[security]\nauth-token-verifier=\"https://broker:8445/agent/validate-authentication-token\"\n"
		"no-tls-strict=true\n",
		false, "", &f);
	dcv_findings_free(&f);
	dcvconf("[security]\nauth-token-verifier=\"https://broker:8445/x\"\nno-tls-strict=true\n", true,
		"dcv.conf:2 E dcv.verifier-in-bypass\ndcv.conf:3 W dcv.no-tls-strict-pointless\n", &f);
	dcv_findings_free(&f);
	dcvconf("[security]\nno-tls-strict = false\n", true, "", &f);
	dcv_findings_free(&f);
}

static void test_lint_dcv_syntax(void **state)
{
	struct dcv_findings f = { 0 };
	(void)state;

	dcvconf("[log\nlevel = info\n[log]\njust words\n = x\n", false,
		"dcv.conf:1 E dcv.syntax\ndcv.conf:4 E dcv.syntax\ndcv.conf:5 E dcv.syntax\n", &f);
	dcv_findings_free(&f);
	dcvconf("", false, "", &f);
	dcv_findings_free(&f);
	dcvconf(NULL, false, "", &f);
	dcv_findings_free(&f);
}

static void test_lint_dcv_section_spaces(void **state)
{
	struct dcv_findings f = { 0 };
	(void)state;

	dcvconf("[ connectivity ]\nweb-port = 8443\n[log ]\nlevel = info\n[security]\n", false,
		"dcv.conf:1 W dcv.section-spaces\ndcv.conf:3 W dcv.section-spaces\n", &f);
	expect_msg(&f, 0, "read it as [connectivity]; write [connectivity]");
	dcv_findings_free(&f);
}

static void test_lint_dcv_seed(void **state)
{
	char *text = fixture("seed-dcv.conf");
	static const char want[] = "seed-dcv.conf:8 W dcv.auth-none\n"
				   "seed-dcv.conf:10 W dcv.no-tls-strict-pointless\n"
				   "seed-dcv.conf:16 E dcv.unknown-key\n";
	struct dcv_findings f = { 0 };
	(void)state;

	for (int bypass = 0; bypass <= 1; bypass++) {
		dcv_lint_dcvconf(text, "seed-dcv.conf", bypass, &f);
		expect(&f, want);
		expect_msg(&f, 2, "'enable-broker'");
		assert_int_equal(dcv_findings_errors(&f), 1);
		assert_int_equal(dcv_findings_warnings(&f), 2);
		dcv_findings_free(&f);
	}
	/* findings are appended to what the caller already has */
	dcv_lint_dcvconf("[security]\nauthentication = none\n", "a.conf", false, &f);
	dcv_lint_dcvconf(text, "seed-dcv.conf", true, &f);
	assert_int_equal(f.n, 4);
	assert_string_equal(f.v[0].file, "a.conf");
	dcv_findings_free(&f);
	dcv_findings_free(&f);
	free(text);
}

/* ------------------------------------------------------------------ nginx */

#define MAP "map $http_upgrade $connection_upgrade {\n    default upgrade;\n    ''      close;\n}\n"

/* A location that passes WebSocket: no finding. */
#define GOOD_LOCATION                                                 \
	"    location / {\n"                                           \
	"        proxy_pass https://dcv_backend;\n"                    \
	"        proxy_http_version 1.1;\n"                            \
	"        proxy_set_header Upgrade $http_upgrade;\n"            \
	"        proxy_set_header Connection $connection_upgrade;\n"   \
	"        proxy_read_timeout 300s;\n"                           \
	"    }\n"

static void test_lint_nginx_upgrade_headers(void **state)
{
	struct dcv_findings f = { 0 };
	(void)state;

	nginx(&f, NULL, "", "ok.conf", MAP "server {\n" GOOD_LOCATION "}\n", NULL);
	dcv_findings_free(&f);

	nginx(&f, NULL, "a.conf:3 E nginx.upgrade-headers\n", "a.conf",
	      "server {\n"
	      "    location /dcv/ {\n"
	      "        proxy_pass https://10.0.0.1:8443;\n"
	      "        proxy_http_version 1.1;\n"
	      "    }\n"
	      "}\n",
	      NULL);
	expect_msg(&f, 0, "location /dcv/");
	expect_msg(&f, 0, "without proxy_set_header Upgrade and Connection");
	expect_msg(&f, 0, "WebSocket");
	dcv_findings_free(&f);

	nginx(&f, NULL, "a.conf:3 E nginx.upgrade-headers\n", "a.conf",
	      "server {\n"
	      "    location / {\n"
	      "        proxy_pass https://dcv;\n"
	      "        proxy_http_version 1.1;\n"
	      "        proxy_set_header Upgrade $http_upgrade;\n"
	      "    }\n"
	      "}\n",
	      NULL);
	expect_msg(&f, 0, "without proxy_set_header Connection:");
	dcv_findings_free(&f);

	/* Connection "" (the keepalive idiom) drops the upgrade: reported at that line */
	nginx(&f, NULL, "a.conf:6 E nginx.upgrade-headers\n", "a.conf",
	      "server {\n"
	      "    location / {\n"
	      "        proxy_pass https://dcv;\n"
	      "        proxy_http_version 1.1;\n"
	      "        proxy_set_header Upgrade $http_upgrade;\n"
	      "        proxy_set_header Connection \"\";\n"
	      "    }\n"
	      "}\n",
	      NULL);
	dcv_findings_free(&f);

	/* inherited from the server when the location sets none of its own ... */
	nginx(&f, NULL, "", "a.conf",
	      "server {\n"
	      "    proxy_http_version 1.1;\n"
	      "    proxy_set_header Upgrade $http_upgrade;\n"
	      "    proxy_set_header Connection \"upgrade\";\n"
	      "    location / {\n"
	      "        proxy_pass https://dcv;\n"
	      "    }\n"
	      "}\n",
	      NULL);
	dcv_findings_free(&f);
	/* ... but one proxy_set_header in the location replaces the whole inherited set */
	nginx(&f, NULL, "a.conf:7 E nginx.upgrade-headers\n", "a.conf",
	      "server {\n"
	      "    proxy_http_version 1.1;\n"
	      "    proxy_set_header Upgrade $http_upgrade;\n"
	      "    proxy_set_header Connection \"upgrade\";\n"
	      "    location / {\n"
	      "        proxy_set_header Host $host;\n"
	      "        proxy_pass https://dcv;\n"
	      "    }\n"
	      "}\n",
	      NULL);
	dcv_findings_free(&f);
}

static void test_lint_nginx_http_version(void **state)
{
	struct dcv_findings f = { 0 };
	(void)state;

	nginx(&f, NULL, "a.conf:4 E nginx.http-version\n", "a.conf",
	      "server {\n"
	      "    proxy_set_header Upgrade $http_upgrade;\n"
	      "    proxy_set_header Connection upgrade;\n"
	      "    location / { proxy_pass https://dcv; }\n"
	      "}\n",
	      NULL);
	expect_msg(&f, 0, "HTTP/1.0");
	dcv_findings_free(&f);

	nginx(&f, NULL, "a.conf:4 E nginx.http-version\n", "a.conf",
	      "server {\n"
	      "    proxy_set_header Upgrade $http_upgrade;\n"
	      "    proxy_set_header Connection upgrade;\n"
	      "    location / { proxy_http_version 1.0; proxy_pass https://dcv; }\n"
	      "}\n",
	      NULL);
	expect_msg(&f, 0, "proxy_http_version 1.0");
	dcv_findings_free(&f);

	nginx(&f, NULL, "", "a.conf",
	      "proxy_http_version 1.1;\n"
	      "server {\n"
	      "    proxy_set_header Upgrade $http_upgrade;\n"
	      "    proxy_set_header Connection upgrade;\n"
	      "    location / { if ($arg_x) { proxy_pass https://dcv; } }\n"
	      "}\n",
	      NULL);
	dcv_findings_free(&f);
}

static void test_lint_nginx_read_timeout(void **state)
{
	static const char *const short_[] = { "10s", "20", "29s", "500ms", "0" };
	/* the last three overflowed a long long into a negative, "short" time */
	static const char *const long_[] = { "30s", "60", "60s", "5m", "1h", "1m 30s", "1d",
					     "999999999y", "300000000y", "200000000y 200000000y" };
	struct dcv_findings f = { 0 };
	(void)state;

	for (size_t i = 0; i < sizeof(short_) / sizeof(short_[0]); i++) {
		char *conf = xasprintf("server {\n    proxy_read_timeout %s;\n}\n", short_[i]);
		nginx(&f, NULL, "a.conf:2 W nginx.read-timeout\n", "a.conf", conf, NULL);
		expect_msg(&f, 0, "10 s");
		dcv_findings_free(&f);
		free(conf);
	}
	for (size_t i = 0; i < sizeof(long_) / sizeof(long_[0]); i++) {
		char *conf = xasprintf("server {\n    proxy_read_timeout \"%s\";\n}\n", long_[i]);
		nginx(&f, NULL, "", "a.conf", conf, NULL);
		dcv_findings_free(&f);
		free(conf);
	}
	/* nginx's default (60 s) applies when there is none */
	nginx(&f, NULL, "", "a.conf", MAP "server {\n" GOOD_LOCATION "}\n", NULL);
	dcv_findings_free(&f);
}

static void test_lint_nginx_duplicate_upstream(void **state)
{
	static const char a[] = "upstream dcv_backend {\n    server 10.0.0.1:8443;\n}\n";
	static const char b[] = "# other\n\nupstream dcv_backend {\n    server 10.0.0.2:8443;\n}\n";
	static const char c[] = "upstream other {\n    server 10.0.0.2:8443;\n}\n";
	struct dcv_findings f = { 0 };
	(void)state;

	nginx(&f, NULL, "b.conf:3 E nginx.duplicate-upstream\n", "a.conf", a, "b.conf", b, NULL);
	expect_msg(&f, 0, "a.conf:1");
	expect_msg(&f, 0, "b.conf:3");
	dcv_findings_free(&f);
	nginx(&f, NULL, "", "a.conf", a, "c.conf", c, NULL);
	dcv_findings_free(&f);
	nginx(&f, NULL, "", "a.conf", a, NULL);
	dcv_findings_free(&f);
}

static void test_lint_nginx_undefined_variable(void **state)
{
	static const char use[] = "server {\n" GOOD_LOCATION "}\n";
	struct dcv_findings f = { 0 };
	(void)state;

	nginx(&f, NULL, "a.conf:6 E nginx.undefined-variable\n", "a.conf", use, NULL);
	expect_msg(&f, 0, "$connection_upgrade");
	expect_msg(&f, 0, "map");
	dcv_findings_free(&f);
	nginx(&f, NULL, "", "a.conf", use, "map.conf", MAP, NULL);
	dcv_findings_free(&f);
	nginx(&f, NULL, "", "a.conf", "set $connection_upgrade upgrade;\n" "server {\n" GOOD_LOCATION "}\n", NULL);
	dcv_findings_free(&f);
	/* ${...} is the same variable; a longer name is another one */
	nginx(&f, NULL, "a.conf:1 E nginx.undefined-variable\n", "a.conf",
	      "add_header X-C \"${connection_upgrade}\";\nadd_header X-D $connection_upgraded$connection_upgrade_2;\n", NULL);
	dcv_findings_free(&f);
}

static void test_lint_nginx_backup_with_hash(void **state)
{
	static const char *const methods[] = { "ip_hash", "hash $remote_addr consistent", "random two" };
	struct dcv_findings f = { 0 };
	(void)state;

	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
		char *conf = xasprintf("upstream u {\n    %s;\n    server 10.0.0.1;\n    server 10.0.0.2 backup;\n}\n"
				       "real_ip_header proxy_protocol;\n",
				       methods[i]);
		nginx(&f, NULL, "a.conf:4 E nginx.backup-with-hash\n", "a.conf", conf, NULL);
		expect_msg(&f, 0, "balancing method does not support parameter backup");
		dcv_findings_free(&f);
		free(conf);
	}
	nginx(&f, NULL, "", "a.conf", "upstream u {\n    least_conn;\n    server 10.0.0.1;\n    server 10.0.0.2 backup;\n}\n",
	      NULL);
	dcv_findings_free(&f);
	nginx(&f, NULL, "", "a.conf", "upstream u {\n    server 10.0.0.1;\n    server 10.0.0.2 backup;\n}\n", NULL);
	dcv_findings_free(&f);
}

static void test_lint_nginx_ip_hash_privatelink(void **state)
{
	struct dcv_findings f = { 0 };
	(void)state;

	nginx(&f, NULL, "a.conf:2 W nginx.ip-hash-privatelink\n", "a.conf",
	      "upstream u {\n    ip_hash;\n    server 10.0.0.1;\n}\n", NULL);
	expect_msg(&f, 0, "PrivateLink");
	dcv_findings_free(&f);
	/* with proxy protocol nginx sees the user's address again */
	nginx(&f, NULL, "", "a.conf",
	      "upstream u {\n    ip_hash;\n    server 10.0.0.1;\n}\n"
	      "server {\n    listen 8443 ssl proxy_protocol;\n    real_ip_header proxy_protocol;\n"
	      "    set_real_ip_from 10.0.0.0/8;\n}\n",
	      NULL);
	dcv_findings_free(&f);
	nginx(&f, NULL, "", "a.conf", "upstream u {\n    server 10.0.0.1;\n}\n", NULL);
	dcv_findings_free(&f);
}

static void test_lint_nginx_health_undefined(void **state)
{
	static const char cron[] = "# m h dom mon dow command\n"
				   "*/5 * * * * curl -fsk https://localhost:8443/health || systemctl restart nginx\n";
	static const char proxy[] = MAP "server {\n" GOOD_LOCATION "}\n";
	static const char *const defined[] = { "location /health", "location = /health", "location ^~ /health",
					       "location ~ ^/health$" };
	struct dcv_findings f = { 0 };
	(void)state;

	nginx(&f, cron, "crontab:2 E nginx.health-undefined\n", "a.conf", proxy, NULL);
	expect_msg(&f, 0, "404");
	dcv_findings_free(&f);
	nginx(&f, NULL, "", "a.conf", proxy, NULL);
	dcv_findings_free(&f);
	nginx(&f, "*/5 * * * * curl -fsk https://localhost:8443/healthz || true\n# curl -k https://x/health\n", "",
	      "a.conf", proxy, NULL);
	dcv_findings_free(&f);
	for (size_t i = 0; i < sizeof(defined) / sizeof(defined[0]); i++) {
		char *conf = xasprintf("server {\n    %s { return 200; }\n}\n", defined[i]);
		nginx(&f, cron, "", "a.conf", proxy, "health.conf", conf, NULL);
		dcv_findings_free(&f);
		free(conf);
	}
}

static void test_lint_nginx_health_cron_no_fail(void **state)
{
	static const char health[] = "server {\n    location = /health { return 200; }\n}\n";
	static const char *const failing[] = { "curl -fsk", "curl -sSf -k", "curl --fail -k", "curl -k --fail-with-body",
					       "/usr/bin/curl -kfs", "curl -o /dev/null -skf" };
	static const char *const silent[] = { "curl -k -s", "curl -sk -H f", "curl -o -f -k", "curl --fail-early -k" };
	struct dcv_findings f = { 0 };
	(void)state;

	for (size_t i = 0; i < sizeof(failing) / sizeof(failing[0]); i++) {
		char *cron = xasprintf("*/5 * * * * %s https://localhost:8443/health || systemctl restart nginx\n",
				       failing[i]);
		nginx(&f, cron, "", "a.conf", health, NULL);
		dcv_findings_free(&f);
		free(cron);
	}
	for (size_t i = 0; i < sizeof(silent) / sizeof(silent[0]); i++) {
		char *cron = xasprintf("*/5 * * * * %s https://localhost:8443/health || systemctl restart nginx\n",
				       silent[i]);
		nginx(&f, cron, "crontab:1 W nginx.health-cron-no-fail\n", "a.conf", health, NULL);
		expect_msg(&f, 0, "-f");
		dcv_findings_free(&f);
		free(cron);
	}
	/* wget fails on HTTP errors by itself */
	nginx(&f, "* * * * * wget -q -O- https://localhost:8443/health || systemctl restart nginx\n", "", "a.conf",
	      health, NULL);
	dcv_findings_free(&f);
}

/* Comments, quotes, braces inside strings, ${var} and directives over several lines. */
static void test_lint_nginx_tokenizer(void **state)
{
	struct dcv_findings f = { 0 };
	(void)state;

	nginx(&f, NULL, "a.conf:7 E nginx.http-version\na.conf:11 W nginx.read-timeout\n", "a.conf",
	      "# a comment with ; and { braces }\n"
	      "server {  # trailing comment; location / { proxy_pass x; }\n"
	      "    location / {\n"
	      "        add_header X-Test \"a;b{c}\" always;\n"
	      "        add_header X-Quote 'it\\'s; {' always;\n"
	      "        set $x${host}y 1;\n"
	      "        proxy_pass\n"
	      "            https://dcv;\n"
	      "        proxy_set_header Upgrade $http_upgrade;\n"
	      "        proxy_set_header Connection \"upgrade\";\n"
	      "        proxy_read_timeout\n\n 5s;\n"
	      "    }\n"
	      "}\n",
	      NULL);
	dcv_findings_free(&f);
	/* a multi-line value keeps the line of the directive's first word */
	nginx(&f, NULL, "a.conf:11 W nginx.read-timeout\n", "a.conf",
	      "# a comment with ; and { braces }\n"
	      "server {\n"
	      "    location / {\n"
	      "        add_header X-Test \"a;b{c}\n"
	      "d\" always;\n"
	      "        proxy_http_version 1.1;\n"
	      "        proxy_set_header Upgrade $http_upgrade;\n"
	      "        proxy_set_header Connection \"upgrade\";\n"
	      "        proxy_pass https://dcv;\n"
	      "    }\n"
	      "    proxy_read_timeout\n\n 5s;\n"
	      "}\n",
	      NULL);
	dcv_findings_free(&f);
	/* unbalanced braces and empty input do not crash: nginx -t reports those */
	nginx(&f, NULL, "", "a.conf", "}}} server { location / {", "b.conf", "", "c.conf", "\"unterminated", NULL);
	dcv_findings_free(&f);
}

/* An `nginx -T` dump: http-level settings in nginx.conf reach the included conf.d files. */
static void test_lint_nginx_follows_includes(void **state)
{
	static const char main_conf[] = "user www-data;\n"
					"events { worker_connections 768; }\n"
					"http {\n"
					"    proxy_http_version 1.1;\n"
					"    map $http_upgrade $connection_upgrade { default upgrade; '' close; }\n"
					"    include %s;\n"
					"}\n";
	static const char site[] = "server {\n"
				   "    proxy_set_header Upgrade $http_upgrade;\n"
				   "    proxy_set_header Connection $connection_upgrade;\n"
				   "    location / { proxy_pass https://dcv; }\n"
				   "    proxy_read_timeout 5s;\n"
				   "}\n";
	static const char *const patterns[] = { "/etc/nginx/conf.d/*.conf", "conf.d/*.conf", "conf.d/dcv.conf" };
	struct dcv_findings f = { 0 };
	(void)state;

	for (size_t i = 0; i < sizeof(patterns) / sizeof(patterns[0]); i++) {
		char *conf = xasprintf(main_conf, patterns[i]);
		nginx(&f, NULL, "/etc/nginx/conf.d/dcv.conf:5 W nginx.read-timeout\n", "/etc/nginx/nginx.conf", conf,
		      "/etc/nginx/conf.d/dcv.conf", site, NULL);
		dcv_findings_free(&f);
		free(conf);
	}
	/* included from nowhere, the file stands alone and misses the http-level version */
	char *conf = xasprintf(main_conf, "/etc/nginx/sites-enabled/*");
	nginx(&f, NULL,
	      "/etc/nginx/conf.d/dcv.conf:4 E nginx.http-version\n/etc/nginx/conf.d/dcv.conf:5 W nginx.read-timeout\n",
	      "/etc/nginx/nginx.conf", conf,
	      "/etc/nginx/conf.d/dcv.conf", site, NULL);
	dcv_findings_free(&f);
	free(conf);
	/* a snippet included twice is reported once */
	nginx(&f, NULL, "snippets/ws.conf:2 W nginx.read-timeout\n", "a.conf",
	      MAP "server {\n    location / { include snippets/ws.conf; }\n    location /x { include snippets/ws.conf; }\n}\n",
	      "snippets/ws.conf",
	      "proxy_pass https://dcv; proxy_http_version 1.1;\nproxy_read_timeout 5s;\n"
	      "proxy_set_header Upgrade $http_upgrade; proxy_set_header Connection $connection_upgrade;\n",
	      NULL);
	dcv_findings_free(&f);
	/* files that include each other are one finding, at the first include of the cycle */
	nginx(&f, NULL, "/etc/nginx/a.conf:1 E nginx.include-cycle\n", "/etc/nginx/a.conf",
	      "include /etc/nginx/*.conf;\n", "/etc/nginx/b.conf", "include /etc/nginx/*.conf;\n", NULL);
	expect_msg(&f, 0, "/etc/nginx/a.conf and /etc/nginx/b.conf include each other");
	dcv_findings_free(&f);
	nginx(&f, NULL, "/etc/nginx/conf.d/a.conf:2 E nginx.include-cycle\n", "/etc/nginx/nginx.conf",
	      "http { include conf.d/*.conf; }\n", "/etc/nginx/conf.d/a.conf", "\ninclude conf.d/a.conf;\n", NULL);
	expect_msg(&f, 0, "include conf.d/a.conf: /etc/nginx/conf.d/a.conf includes itself");
	dcv_findings_free(&f);
	/* a file reached only through the cycle is still linted */
	nginx(&f, NULL, "/etc/nginx/a.conf:1 E nginx.include-cycle\n/etc/nginx/b.conf:2 W nginx.read-timeout\n",
	      "/etc/nginx/nginx.conf", "include a.conf;\n", "/etc/nginx/a.conf", "include b.conf;\n",
	      "/etc/nginx/b.conf", "include a.conf;\nproxy_read_timeout 5s;\n", NULL);
	dcv_findings_free(&f);
	/* a relative include resolves against nginx.conf's folder only, not any folder's tail */
	conf = xasprintf(main_conf, "dcv.conf");
	nginx(&f, NULL,
	      "/etc/nginx/conf.d/dcv.conf:4 E nginx.http-version\n/etc/nginx/conf.d/dcv.conf:5 W nginx.read-timeout\n",
	      "/etc/nginx/nginx.conf", conf, "/etc/nginx/conf.d/dcv.conf", site, NULL);
	dcv_findings_free(&f);
	free(conf);
	conf = xasprintf(main_conf, "conf.d/*.conf");
	nginx(&f, NULL, "/srv/conf.d/dcv.conf:4 E nginx.http-version\n/srv/conf.d/dcv.conf:5 W nginx.read-timeout\n",
	      "/etc/nginx/nginx.conf", conf, "/srv/conf.d/dcv.conf", site, NULL);
	dcv_findings_free(&f);
	/* local copies: the prefix is where their nginx.conf is */
	nginx(&f, NULL, "./conf.d/dcv.conf:5 W nginx.read-timeout\n", "./nginx.conf", conf, "./conf.d/dcv.conf", site, NULL);
	dcv_findings_free(&f);
	nginx(&f, NULL, "conf.d/dcv.conf:5 W nginx.read-timeout\n", "nginx.conf", conf, "conf.d/dcv.conf", site, NULL);
	dcv_findings_free(&f);
	free(conf);
}

/* Ten conf.d files that all include conf.d/ *.conf: every order of them was a path of the old
 * expansion (10! copies, seconds and hundreds of MB); nginx itself recurses until it runs out of
 * open files. One finding, and every file in the tree once (f9's upstream is not a duplicate). */
static void test_lint_nginx_include_cycle_is_bounded(void **state)
{
	struct dcv_nginx_file files[11] = { { "/etc/nginx/nginx.conf", "http {\n    include conf.d/*.conf;\n}\n" } };
	char *names[10];
	struct dcv_findings f = { 0 };
	(void)state;

	for (int i = 0; i < 10; i++) {
		files[i + 1].name = names[i] = xasprintf("/etc/nginx/conf.d/f%d.conf", i);
		files[i + 1].text = i == 9 ? "include conf.d/*.conf;\nupstream u { server 10.0.0.1; }\n"
					   : "# each file\ninclude conf.d/*.conf;\nmap $a $b { default 1; }\n";
	}
	dcv_lint_nginx(files, 11, NULL, &f);
	expect(&f, "/etc/nginx/conf.d/f0.conf:2 E nginx.include-cycle\n");
	expect_msg(&f, 0, "/etc/nginx/conf.d/f0.conf, /etc/nginx/conf.d/f1.conf, /etc/nginx/conf.d/f2.conf, "
			  "/etc/nginx/conf.d/f3.conf and 6 more include each other");
	dcv_findings_free(&f);
	for (int i = 0; i < 10; i++)
		free(names[i]);
}

/* Files included several times at every level multiply (4^9 copies here): the expansion stops at
 * a bound and says so. */
static void test_lint_nginx_include_fanout_is_bounded(void **state)
{
	struct dcv_nginx_file files[10];
	char *names[10], *texts[10];
	struct dcv_findings f = { 0 };
	(void)state;

	for (int i = 0; i < 10; i++) {
		files[i].name = names[i] = xasprintf("f%d.conf", i);
		files[i].text = texts[i] = i == 9 ? xstrdup("proxy_read_timeout 5s;\n")
						  : xasprintf("include f%d.conf; include f%d.conf;\n"
							      "include f%d.conf; include f%d.conf;\n",
							      i + 1, i + 1, i + 1, i + 1);
	}
	dcv_lint_nginx(files, 10, NULL, &f);
	expect(&f, "f0.conf:0 W nginx.include-limit\nf9.conf:1 W nginx.read-timeout\n");
	dcv_findings_free(&f);
	for (int i = 0; i < 10; i++) {
		free(names[i]);
		free(texts[i]);
	}
}

/* Findings come in the caller's file order, then by line, whatever the rule. */
static void test_lint_nginx_order(void **state)
{
	struct dcv_findings f = { 0 };
	(void)state;

	nginx(&f, "* * * * * curl https://localhost/health\n",
	      "z.conf:2 W nginx.read-timeout\n"
	      "z.conf:3 E nginx.undefined-variable\n"
	      "a.conf:2 E nginx.http-version\n"
	      "a.conf:2 E nginx.upgrade-headers\n"
	      "a.conf:4 W nginx.ip-hash-privatelink\n"
	      "crontab:1 E nginx.health-cron\n",
	      "z.conf", "server {\n    proxy_read_timeout 5s;\n    add_header X $connection_upgrade;\n}\n", "a.conf",
	      "server {\n    location / { proxy_pass http://u; }\n}\nupstream u { ip_hash; server 10.0.0.1; }\n", NULL);
	dcv_findings_free(&f);
}

/* ------------------------------------------------------------------ the seed's files */

static void test_lint_seed_phase1(void **state)
{
	char *p1 = fixture("seed-phase1-dcv-proxy.conf"), *cron = fixture("seed-crontab");
	struct dcv_findings f = { 0 };
	(void)state;

	/* it defines its map and passes WebSocket: clean without crons */
	nginx(&f, NULL, "", "seed-phase1-dcv-proxy.conf", p1, NULL);
	dcv_findings_free(&f);
	/* with the seed's health cron: no /health anywhere, and curl without -f, named together in
	 * one finding that points at what replaces the line */
	nginx(&f, cron, "crontab:1 E nginx.health-cron\n", "seed-phase1-dcv-proxy.conf", p1, NULL);
	expect_msg(&f, 0, "answers 404");
	expect_msg(&f, 0, "no -f/--fail");
	expect_msg(&f, 0, "dcvctl-health.timer");
	dcv_findings_free(&f);
	free(p1);
	free(cron);
}

static void test_lint_seed_option_b(void **state)
{
	char *ob = fixture("seed-optionb-dcv-multiserver.conf");
	struct dcv_findings f = { 0 };
	(void)state;

	nginx(&f, NULL,
	      "seed-optionb-dcv-multiserver.conf:3 W nginx.ip-hash-privatelink\n"
	      "seed-optionb-dcv-multiserver.conf:7 E nginx.backup-with-hash\n"
	      "seed-optionb-dcv-multiserver.conf:40 E nginx.undefined-variable\n",
	      "seed-optionb-dcv-multiserver.conf", ob, NULL);
	expect_msg(&f, 1, "server 198.18.1.22:8443");
	dcv_findings_free(&f);
	free(ob);
}

static void test_lint_seed_option_b_beside_phase1(void **state)
{
	char *ob = fixture("seed-optionb-dcv-multiserver.conf"), *p1 = fixture("seed-phase1-dcv-proxy.conf");
	char *cron = fixture("seed-crontab");
	struct dcv_findings f = { 0 };
	(void)state;

	/* in the order nginx loads conf.d: dcv-multiserver.conf, then dcv-proxy.conf; Phase 1's map
	 * serves both, and Option B's /health answers the cron */
	nginx(&f, cron,
	      "dcv-multiserver.conf:3 W nginx.ip-hash-privatelink\n"
	      "dcv-multiserver.conf:7 E nginx.backup-with-hash\n"
	      "dcv-proxy.conf:2 E nginx.duplicate-upstream\n"
	      "crontab:1 W nginx.health-cron-no-fail\n",
	      "dcv-multiserver.conf", ob, "dcv-proxy.conf", p1, NULL);
	expect_msg(&f, 2, "dcv-multiserver.conf:1");
	expect_msg(&f, 2, "dcv-proxy.conf:2");
	assert_int_equal(dcv_findings_errors(&f), 2);
	assert_int_equal(dcv_findings_warnings(&f), 2);
	dcv_findings_free(&f);
	free(ob);
	free(p1);
	free(cron);
}

/* What deploy merges into dcv.conf, console and virtual alike, passes its own lint. */
static void test_lint_rendered_dcvconf_is_clean(void **state)
{
	struct dcv_host h = { .port = 8443, .web_url_path = "/", .session = "console", .session_type = "console",
			      .session_owner = "ubuntu" };
	struct dcv_findings f = { 0 };
	struct dcv_buf console = DCV_BUF_INIT, virt = DCV_BUF_INIT;
	(void)state;

	dcv_render_dcvconf(NULL, &h, true, &console);
	dcvconf(console.data, true, "", &f);
	dcv_findings_free(&f);
	h.session_type = "virtual";
	dcv_render_dcvconf(console.data, &h, true, &virt);
	dcvconf(virt.data, true, "", &f);
	dcv_findings_free(&f);
	dcv_buf_release(&console);
	dcv_buf_release(&virt);
}

/* What `dcvctl config render nginx` writes must pass its own lint. */
static void test_lint_rendered_nginx_is_clean(void **state)
{
	char *golden = fixture("render-nginx.golden"), *cron = fixture("seed-crontab");
	struct dcv_findings f = { 0 };
	(void)state;

	nginx(&f, NULL, "", "dcv-proxy.conf", golden, NULL);
	dcv_findings_free(&f);
	nginx(&f, cron, "crontab:1 W nginx.health-cron-no-fail\n", "dcv-proxy.conf", golden, NULL);
	dcv_findings_free(&f);
	free(golden);
	free(cron);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lint_dcv_unknown_section),
		cmocka_unit_test(test_lint_dcv_unknown_key),
		cmocka_unit_test(test_lint_dcv_auth_none),
		cmocka_unit_test(test_lint_dcv_owner_misplaced),
		cmocka_unit_test(test_lint_dcv_verifier_in_bypass),
		cmocka_unit_test(test_lint_dcv_no_tls_strict_pointless),
		cmocka_unit_test(test_lint_dcv_syntax),
		cmocka_unit_test(test_lint_dcv_section_spaces),
		cmocka_unit_test(test_lint_dcv_seed),
		cmocka_unit_test(test_lint_rendered_dcvconf_is_clean),
		cmocka_unit_test(test_lint_nginx_upgrade_headers),
		cmocka_unit_test(test_lint_nginx_http_version),
		cmocka_unit_test(test_lint_nginx_read_timeout),
		cmocka_unit_test(test_lint_nginx_duplicate_upstream),
		cmocka_unit_test(test_lint_nginx_undefined_variable),
		cmocka_unit_test(test_lint_nginx_backup_with_hash),
		cmocka_unit_test(test_lint_nginx_ip_hash_privatelink),
		cmocka_unit_test(test_lint_nginx_health_undefined),
		cmocka_unit_test(test_lint_nginx_health_cron_no_fail),
		cmocka_unit_test(test_lint_nginx_tokenizer),
		cmocka_unit_test(test_lint_nginx_follows_includes),
		cmocka_unit_test(test_lint_nginx_include_cycle_is_bounded),
		cmocka_unit_test(test_lint_nginx_include_fanout_is_bounded),
		cmocka_unit_test(test_lint_nginx_order),
		cmocka_unit_test(test_lint_seed_phase1),
		cmocka_unit_test(test_lint_seed_option_b),
		cmocka_unit_test(test_lint_seed_option_b_beside_phase1),
		cmocka_unit_test(test_lint_rendered_nginx_is_clean),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
