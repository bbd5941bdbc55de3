/* HAProxy (seed Phase 2 Option A): the renderer against golden files and the real
 * `haproxy -c`, the lint on the seed's own file and on each rule, and `show stat` parsed from
 * a capture of a real haproxy on loopback. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../../lib/buf.h"
#include "../../lib/err.h"
#include "../../lib/inventory.h"
#include "../../lib/lint.h"
#include "../../lib/proxy_haproxy.h"

#include "fixture.h"

#define HAPROXY "/usr/sbin/haproxy"

/* A temporary directory with a self-signed PEM (cert + key), made once for the group. */
static char tmpdir[] = "/tmp/dcvctl-haproxy-XXXXXX";
static char pem[sizeof(tmpdir) + 16];

static bool in_ci(void)
{
	const char *ci = getenv("CI");
	return ci && strcmp(ci, "true") == 0;
}

/* haproxy missing: fail under CI (common rules), skip elsewhere with a reason. */
static bool have_haproxy(void)
{
	if (access(HAPROXY, X_OK) == 0)
		return true;
	if (in_ci())
		fail_msg("%s is missing (scripts/deps installs haproxy)", HAPROXY);
	print_message("skipped: %s is not installed\n", HAPROXY);
	return false;
}

static int group_setup(void **state)
{
	(void)state;
	if (!mkdtemp(tmpdir))
		return -1;
	snprintf(pem, sizeof(pem), "%s/dcv.pem", tmpdir);
	char *cmd = xasprintf("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
			      "-subj /CN=dcvctl-test -days 2 -keyout %s/k.pem -out %s/c.pem 2>/dev/null && "
			      "cat %s/c.pem %s/k.pem > %s",
			      tmpdir, tmpdir, tmpdir, tmpdir, pem);
	int rc = system(cmd);
	free(cmd);
	return rc == 0 ? 0 : -1;
}

static int group_teardown(void **state)
{
	(void)state;
	char *cmd = xasprintf("rm -rf '%s'", tmpdir);
	int rc = system(cmd);
	free(cmd);
	return rc == 0 ? 0 : -1;
}

/* An inventory with `primaries` then `backups` agents dcv1..dcvN on lab addresses. */
static struct dcv_inventory *inventory(int primaries, int backups)
{
	struct dcv_buf t = DCV_BUF_INIT;
	struct dcv_inventory *inv = NULL;
	struct dcv_err err = DCV_ERR_INIT;

	dcv_buf_adds(&t, "[endpoint]\nurl = https://dcv.example.test:8443/\n"
			 "[ssh]\nidentity = /nonexistent/id_rsa\n"
			 "[gateway]\naddress = 198.18.1.11\nuser = ec2-user\nlisten = 8443\n");
	for (int i = 1; i <= primaries + backups; i++)
		dcv_buf_addf(&t, "[agent dcv%d]\naddress = 198.18.1.%d\nuser = ubuntu\n%s", i, 20 + i,
			     i > primaries ? "backup = yes\n" : "");
	FILE *f = fmemopen(t.data, t.len, "r");
	int rc = dcv_inventory_parse(f, "t.conf", "/root", &inv, &err);
	fclose(f);
	if (rc)
		fail_msg("inventory: %s", err.msg);
	dcv_buf_release(&t);
	return inv;
}

static const struct dcv_haproxy_env deployed_env = {
	.crypto_policies = false,
	.pem_path = DCV_HAPROXY_PEM,
	.stats_user = "dcvctl",
	.stats_password = "s3cr3tGeneratedOnce",
	.stats_socket = DCV_HAPROXY_STATS_SOCKET,
};

static char *render(int primaries, int backups, const struct dcv_haproxy_env *env)
{
	struct dcv_inventory *inv = inventory(primaries, backups);
	struct dcv_buf out = DCV_BUF_INIT;

	dcv_render_haproxy(inv, env, &out);
	dcv_inventory_free(inv);
	return dcv_buf_detach(&out);
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
}

/* Compare with tests/unit/fixtures/haproxy/NAME (rewritten under UPDATE_GOLDEN=1). */
static void golden(const char *name, const char *text)
{
	char *rel = xasprintf("haproxy/%s", name);

	if (getenv("UPDATE_GOLDEN")) {
		char *p = fixture_path(rel);
		write_file(p, text);
		free(p);
	}
	char *want = fixture(rel);
	assert_string_equal(text, want);
	free(want);
	free(rel);
}

/* `haproxy -dW -c -f` on `text` (warnings count as failures too); haproxy's words in *log. */
static bool haproxy_check(const char *text, struct dcv_buf *log)
{
	char *cfg = xasprintf("%s/haproxy.cfg", tmpdir);
	char *cmd = xasprintf("%s -dW -c -f %s 2>&1", HAPROXY, cfg);
	char line[512];

	write_file(cfg, text);
	FILE *p = popen(cmd, "r");
	assert_non_null(p);
	while (fgets(line, sizeof(line), p))
		dcv_buf_adds(log, line);
	int st = pclose(p);
	free(cmd);
	free(cfg);
	return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

static void haproxy_valid(const char *text)
{
	struct dcv_buf log = DCV_BUF_INIT;

	if (!haproxy_check(text, &log))
		fail_msg("haproxy -c failed:\n%s--- config:\n%s", dcv_buf_str(&log), text);
	dcv_buf_release(&log);
}

static const struct {
	const char *golden;
	int primaries, backups;
} cases[] = {
	{ "1-agent.cfg", 1, 0 },         { "2-agents.cfg", 2, 0 },
	{ "2-agents-backup.cfg", 1, 1 }, { "4-agents.cfg", 4, 0 },
	{ "4-agents-backup.cfg", 2, 2 },
};

static void test_haproxy_render_matches_golden(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		char *text = render(cases[i].primaries, cases[i].backups, &deployed_env);
		golden(cases[i].golden, text);
		free(text);
	}
}

static void test_haproxy_render_fixes_the_seed(void **state)
{
	char *one = render(1, 1, &deployed_env), *two = render(2, 2, &deployed_env);

	(void)state;
	/* no continuation: no line ends in a backslash */
	assert_null(strstr(two, "\\\n"));
	assert_non_null(strstr(two, "    bind :8443 ssl crt /etc/haproxy/dcv.pem alpn http/1.1\n"));
	assert_null(strstr(two, "h2"));
	/* one backend for the page and its WebSocket, with the tunnel timeout */
	assert_non_null(strstr(two, "    default_backend dcv_servers\n"));
	assert_null(strstr(two, "use_backend"));
	assert_non_null(strstr(two, "    timeout tunnel 400s\n"));
	/* a check DCV can pass */
	assert_null(strstr(two, "\n    option httpchk"));
	assert_null(strstr(two, "\n    http-check"));
	assert_non_null(strstr(two, "    server dcv1 198.18.1.21:8443 ssl verify none check check-ssl cookie dcv1\n"));
	assert_non_null(strstr(two, "    server dcv4 198.18.1.24:8443 ssl verify none check check-ssl cookie dcv4 backup\n"));
	assert_non_null(strstr(two, "    cookie DCVSRV insert indirect nocache httponly secure\n"));
	/* one primary: no cookie needed */
	assert_null(strstr(one, "\n    cookie "));
	assert_null(strstr(one, " cookie dcv"));
	assert_non_null(strstr(one, "    server dcv2 198.18.1.22:8443 ssl verify none check check-ssl backup\n"));
	/* stats: local, generated credentials, the socket for show stat */
	assert_non_null(strstr(two, "    bind 127.0.0.1:8404\n"));
	assert_non_null(strstr(two, "    stats auth dcvctl:s3cr3tGeneratedOnce\n"));
	assert_null(strstr(two, "stats auth admin:admin"));
	assert_non_null(strstr(two, "    stats socket /run/haproxy/admin.sock mode 600 level admin\n"));
	assert_non_null(strstr(two, "    log /dev/log local0\n"));
	assert_null(strstr(two, "ciphers PROFILE=SYSTEM"));
	free(one);
	free(two);
}

static void test_haproxy_render_crypto_policies(void **state)
{
	struct dcv_haproxy_env env = deployed_env;

	(void)state;
	env.crypto_policies = true;
	char *text = render(2, 0, &env);
	golden("2-agents-crypto-policies.cfg", text);
	/* in global, for both sides; Debian's OpenSSL refuses PROFILE=SYSTEM, so this file is not
	 * given to the haproxy -c here (the lab's RHEL-like hosts are the place for that) */
	char *global = strstr(text, "\nglobal\n"), *defaults = strstr(text, "\ndefaults\n");
	char *bind = strstr(text, "    ssl-default-bind-ciphers PROFILE=SYSTEM\n");
	char *server = strstr(text, "    ssl-default-server-ciphers PROFILE=SYSTEM\n");
	assert_non_null(global);
	assert_true(bind > global && bind < defaults);
	assert_true(server > global && server < defaults);
	free(text);
}

/* An IPv6 agent address gets brackets, which HAProxy reads as the address. */
static void test_haproxy_render_ipv6_agent(void **state)
{
	struct dcv_inventory *inv = inventory(1, 0);
	struct dcv_buf out = DCV_BUF_INIT;

	(void)state;
	free(inv->hosts[1]->address);
	inv->hosts[1]->address = xstrdup("::1");
	dcv_render_haproxy(inv, &deployed_env, &out);
	assert_non_null(strstr(out.data, "    server dcv1 [::1]:8443 ssl verify none check check-ssl\n"));
	if (have_haproxy()) {
		struct dcv_haproxy_env env = deployed_env;
		struct dcv_buf t = DCV_BUF_INIT;
		env.pem_path = pem;
		dcv_render_haproxy(inv, &env, &t);
		haproxy_valid(t.data);
		dcv_buf_release(&t);
	}
	dcv_buf_release(&out);
	dcv_inventory_free(inv);
}

static void test_haproxy_render_passes_haproxy_check(void **state)
{
	struct dcv_haproxy_env env = deployed_env;

	(void)state;
	if (!have_haproxy())
		skip();
	env.pem_path = pem;
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		char *text = render(cases[i].primaries, cases[i].backups, &env);
		haproxy_valid(text);
		free(text);
	}
	/* no agent at all is still a valid file (every request gets 503) */
	char *none = render(0, 0, &env);
	haproxy_valid(none);
	free(none);
}

/* The harness can fail: the seed's own file is refused, for the reason machine-notes give. */
static void test_haproxy_check_refuses_seed(void **state)
{
	char *seed = fixture("seed-optiona-haproxy.cfg");
	struct dcv_buf log = DCV_BUF_INIT;

	(void)state;
	if (!have_haproxy())
		skip();
	assert_false(haproxy_check(seed, &log));
	if (!strstr(dcv_buf_str(&log), "unknown keyword '\\'"))
		fail_msg("haproxy said:\n%s", dcv_buf_str(&log));
	dcv_buf_release(&log);
	free(seed);
}

/* One "line W|E rule" line per finding; every message is one line. */
static char *summary(const struct dcv_findings *f)
{
	struct dcv_buf b = DCV_BUF_INIT;

	for (int i = 0; i < f->n; i++) {
		const struct dcv_finding *x = &f->v[i];
		dcv_buf_addf(&b, "%d %c %s\n", x->line, x->sev == DCV_SEV_ERROR ? 'E' : 'W', x->rule);
		if (!*x->msg || strchr(x->msg, '\n'))
			fail_msg("finding %s at %d needs one line of explanation: '%s'", x->rule, x->line, x->msg);
	}
	return dcv_buf_detach(&b);
}

static void lint(const char *text, bool crypto_policies, const char *want)
{
	struct dcv_findings f = { 0 };

	dcv_lint_haproxy(text, "haproxy.cfg", crypto_policies, &f);
	char *got = summary(&f);
	if (strcmp(got, want) != 0) {
		for (int i = 0; i < f.n; i++)
			print_message("  %d %s: %s\n", f.v[i].line, f.v[i].rule, f.v[i].msg);
		fail_msg("findings differ\n-- got:\n%s-- want:\n%s", got, want);
	}
	for (int i = 0; i < f.n; i++)
		assert_string_equal(f.v[i].file, "haproxy.cfg");
	free(got);
	dcv_findings_free(&f);
}

/* The seed's Option A file, as the seed wrote it: one finding per defect. */
static void test_haproxy_lint_seed(void **state)
{
	char *text = fixture("seed-optiona-haproxy.cfg");
	struct dcv_findings f = { 0 };

	(void)state;
	dcv_lint_haproxy(text, "haproxy.cfg", false, &f);
	assert_non_null(strstr(f.v[2].msg, "any Host: ws* there"));
	dcv_findings_free(&f);
	lint(text, false,
	     "12 E haproxy.profile-system\n"
	     "13 E haproxy.profile-system\n"
	     "46 W haproxy.ws-split\n"
	     "52 E haproxy.health-404\n"
	     "56 W haproxy.fin-in-backend\n"
	     "59 E haproxy.continuation\n"
	     "64 E haproxy.timeout-tunnel\n"
	     "67 E haproxy.health-404\n"
	     "72 E haproxy.continuation\n"
	     "79 W haproxy.stats-public\n"
	     "84 E haproxy.default-stats-credentials\n");
	/* on a RHEL-like host PROFILE=SYSTEM is right; the rest stays */
	dcv_lint_haproxy(text, "haproxy.cfg", true, &f);
	assert_int_equal(f.n, 9);
	assert_true(dcv_findings_errors(&f) >= 1);
	dcv_findings_free(&f);
	free(text);
}

static void test_haproxy_lint_rendered_is_clean(void **state)
{
	struct dcv_haproxy_env env = deployed_env;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		char *text = render(cases[i].primaries, cases[i].backups, &env);
		lint(text, false, "");
		free(text);
	}
	env.crypto_policies = true;
	char *text = render(2, 0, &env);
	lint(text, true, "");
	lint(text, false, "18 E haproxy.profile-system\n19 E haproxy.profile-system\n");
	free(text);
}

static void test_haproxy_lint_continuation(void **state)
{
	(void)state;
	lint("backend b\n"
	     "    timeout tunnel 1h\n"
	     "    server s1 198.18.1.21:8443 \\\n"
	     "        ssl verify none \\\n"
	     "        check\n"
	     "    # a comment ending in \\\n"
	     "    server s2 198.18.1.22:8443 check\n",
	     false, "3 E haproxy.continuation\n");
}

static void test_haproxy_lint_health(void **state)
{
	(void)state;
	lint("defaults\n    timeout tunnel 1h\n"
	     "backend a\n    option httpchk GET /health\n    server s 198.18.1.21:8443 check\n"
	     "backend b\n    option httpchk\n    http-check send meth GET uri /healthz\n"
	     "    server s 198.18.1.21:8443 check\n"
	     "backend c\n    option httpchk GET /\n    server s 198.18.1.21:8443 check\n",
	     false, "4 E haproxy.health-404\n8 E haproxy.health-404\n");
}

static void test_haproxy_lint_stats(void **state)
{
	(void)state;
	lint("listen s1\n    bind *:8080\n    stats enable\n    stats auth admin:admin\n"
	     "listen s2\n    bind 127.0.0.1:8404\n    stats enable\n    stats auth ops:Xy7\n"
	     "listen s3\n    bind :::8405\n    stats enable\n"
	     "listen s4\n    bind 0.0.0.0:8406\n    stats uri /s\n    stats enable\n",
	     false,
	     "2 W haproxy.stats-public\n4 E haproxy.default-stats-credentials\n10 W haproxy.stats-public\n"
	     "13 W haproxy.stats-public\n");
}

static void test_haproxy_lint_timeout_tunnel(void **state)
{
	(void)state;
	/* the default backend without it: error; a use_backend-only one: warning; defaults count */
	lint("frontend f\n    bind :8443\n    use_backend other if { path_beg /x }\n"
	     "    default_backend main\n"
	     "backend main\n    server s 198.18.1.21:8443\n"
	     "backend other\n    server s 198.18.1.22:8443\n",
	     false, "5 E haproxy.timeout-tunnel\n7 W haproxy.timeout-tunnel\n");
	lint("defaults\n    timeout tunnel 400s\n"
	     "frontend f\n    bind :8443\n    default_backend main\n"
	     "backend main\n    server s 198.18.1.21:8443\n",
	     false, "");
	/* a listen takes everything of its bind */
	lint("listen l\n    bind :8443\n    server s 198.18.1.21:8443\n", false,
	     "1 E haproxy.timeout-tunnel\n");
}

static void test_haproxy_lint_ws_split(void **state)
{
	static const char split[] = "defaults\n    timeout tunnel 1h\n"
				    "frontend f\n    bind :8443\n"
				    "    acl ws hdr(Upgrade) -i websocket\n"
				    "    use_backend w if ws\n"
				    "    default_backend p\n"
				    "backend w\n%s    server s 198.18.1.21:8443\n"
				    "backend p\n%s    server s 198.18.1.21:8443\n";
	char *plain = xasprintf(split, "", ""), *half = xasprintf(split, "", "    balance source\n");
	char *both = xasprintf(split, "    balance source\n", "    balance source\n");

	(void)state;
	lint(plain, false, "6 W haproxy.ws-split\n");
	/* the page pinned but its WebSocket round-robin: still split */
	lint(half, false, "6 W haproxy.ws-split\n");
	/* both hashing the source over the same servers: a client stays on one */
	lint(both, false, "");
	/* a routing rule that is not about the upgrade is not a split */
	lint("defaults\n    timeout tunnel 1h\n"
	     "frontend f\n    use_backend w if { path_beg /api }\n    default_backend p\n"
	     "backend w\n    server s 198.18.1.21:8443\nbackend p\n    server s 198.18.1.21:8443\n",
	     false, "");
	free(plain);
	free(half);
	free(both);
}

static void test_haproxy_lint_fin_in_backend(void **state)
{
	(void)state;
	lint("frontend f\n    timeout client-fin 1s\n"
	     "backend b\n    timeout tunnel 1h\n    timeout client-fin 1s\n    timeout server-fin 1s\n",
	     false, "5 W haproxy.fin-in-backend\n");
}

/* ------------------------------------------------------------------ show stat */

static int free_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	close(fd);
	return ntohs(a.sin_port);
}

/* `show stat` on the admin socket, as `echo 'show stat' | socat - UNIX:sock` does. */
static char *show_stat(const char *sock)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	struct dcv_buf b = DCV_BUF_INIT;
	char chunk[4096];
	ssize_t n;
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	snprintf(a.sun_path, sizeof(a.sun_path), "%s", sock);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	/* no assert while haproxy runs: a failed test must still stop it */
	if (write(fd, "show stat\n", 10) != 10) {
		close(fd);
		return NULL;
	}
	while ((n = read(fd, chunk, sizeof(chunk))) > 0)
		dcv_buf_add(&b, chunk, (size_t)n);
	close(fd);
	return dcv_buf_detach(&b);
}

static void replace(char **text, const char *from, const char *to)
{
	char *at = strstr(*text, from);

	assert_non_null(at);
	char *s = xasprintf("%.*s%s%s", (int)(at - *text), *text, to, at + strlen(from));
	free(*text);
	*text = s;
}

static const struct dcv_haproxy_stat *row(const struct dcv_haproxy_stat *rows, int n, const char *px,
					  const char *sv)
{
	for (int i = 0; i < n; i++)
		if (strcmp(rows[i].pxname, px) == 0 && strcmp(rows[i].svname, sv) == 0)
			return &rows[i];
	fail_msg("no row %s/%s", px, sv);
	return NULL;
}

/* What the canned and the live capture both show: dcv1 and dcv2 DOWN, refused. */
static void assert_down_rows(const char *csv)
{
	struct dcv_haproxy_stat *rows = NULL;
	int n = 0;

	assert_true(dcv_haproxy_parse_stat(csv, &rows, &n));
	for (int i = 1; i <= 2; i++) {
		char sv[8];
		snprintf(sv, sizeof(sv), "dcv%d", i);
		const struct dcv_haproxy_stat *r = row(rows, n, "dcv_servers", sv);
		assert_string_equal(r->status, "DOWN");
		assert_string_equal(r->check_status, "L4CON");
		assert_string_equal(r->check_desc, "Layer4 connection problem");
		assert_string_equal(r->last_chk, "Connection refused");
		assert_true(strncmp(r->addr, "127.0.0.1:", 10) == 0);
	}
	assert_string_equal(row(rows, n, "dcv_servers", "BACKEND")->status, "DOWN");
	assert_string_equal(row(rows, n, "dcv", "FRONTEND")->status, "OPEN");
	dcv_haproxy_stat_free(rows, n);
}

static void test_haproxy_stat_from_live_haproxy(void **state)
{
	struct dcv_haproxy_env env = deployed_env;
	char *sock = xasprintf("%s/admin.sock", tmpdir), *pidf = xasprintf("%s/haproxy.pid", tmpdir);
	char *cfg = xasprintf("%s/live.cfg", tmpdir), *csv = NULL;
	char port[64], stats[64];

	(void)state;
	if (!have_haproxy())
		skip();
	env.pem_path = pem;
	env.stats_socket = sock;
	char *text = render(2, 0, &env);
	/* loopback only, on free ports: the agents on a port where nothing listens */
	int closed = free_port();
	snprintf(port, sizeof(port), "127.0.0.1:%d ", closed);
	replace(&text, "198.18.1.21:8443 ", port);
	replace(&text, "198.18.1.22:8443 ", port);
	snprintf(port, sizeof(port), "bind 127.0.0.1:%d ssl", free_port());
	replace(&text, "bind :8443 ssl", port);
	snprintf(stats, sizeof(stats), "bind 127.0.0.1:%d\n", free_port());
	replace(&text, "bind 127.0.0.1:8404\n", stats);
	/* checks every 100 ms so the test takes well under a second; in the foreground, as the
	 * user running the tests (chroot and setuid need root) */
	replace(&text, "default-server inter 2s fall 2 rise 2", "default-server inter 100ms fall 1 rise 2");
	replace(&text, "    chroot /var/lib/haproxy\n", "");
	replace(&text, "    user haproxy\n    group haproxy\n", "");
	replace(&text, "    daemon\n", "");
	write_file(cfg, text);

	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		freopen("/dev/null", "w", stderr);
		execl(HAPROXY, "haproxy", "-f", cfg, "-p", pidf, (char *)NULL);
		_exit(127);
	}
	/* bounded: 5 s for both servers to be seen down */
	for (int i = 0; i < 50; i++) {
		struct timespec ts = { 0, 100 * 1000 * 1000 };
		nanosleep(&ts, NULL);
		free(csv);
		csv = show_stat(sock);
		if (csv && strstr(csv, "dcv_servers,dcv1,") && strstr(csv, "Connection refused") &&
		    strstr(strstr(csv, "dcv_servers,dcv2,"), "Connection refused"))
			break;
	}
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
	assert_non_null(csv);
	if (getenv("UPDATE_GOLDEN")) {
		char *p = fixture_path("haproxy/show-stat.csv");
		write_file(p, csv);
		free(p);
	}
	assert_down_rows(csv);
	free(csv);
	free(text);
	free(cfg);
	free(pidf);
	free(sock);
}

/* A capture kept from the live test (UPDATE_GOLDEN=1 refreshes it). */
static void test_haproxy_stat_canned(void **state)
{
	char *csv = fixture("haproxy/show-stat.csv");

	(void)state;
	assert_down_rows(csv);
	free(csv);
}

static void test_haproxy_stat_csv_corners(void **state)
{
	struct dcv_haproxy_stat *rows = NULL;
	int n = -1;

	(void)state;
	/* fields by header name in any order, quoted commas, CRLF, trailing empty line */
	assert_true(dcv_haproxy_parse_stat("# svname,addr,pxname,status,last_chk\r\n"
					   "dcv2,198.18.1.22:8443,dcv_servers,DOWN,\"Connection refused, \"\"x\"\"\"\r\n"
					   "\n",
					   &rows, &n));
	assert_int_equal(n, 1);
	assert_string_equal(rows[0].pxname, "dcv_servers");
	assert_string_equal(rows[0].svname, "dcv2");
	assert_string_equal(rows[0].addr, "198.18.1.22:8443");
	assert_string_equal(rows[0].last_chk, "Connection refused, \"x\"");
	assert_string_equal(rows[0].check_status, "");
	dcv_haproxy_stat_free(rows, n);
	/* no header (an error text from the socket): refused, out-parameters untouched */
	rows = NULL;
	n = -1;
	assert_false(dcv_haproxy_parse_stat("Unknown command\n", &rows, &n));
	assert_null(rows);
	assert_int_equal(n, -1);
	assert_false(dcv_haproxy_parse_stat(NULL, &rows, &n));
	dcv_haproxy_stat_free(NULL, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_haproxy_render_matches_golden),
		cmocka_unit_test(test_haproxy_render_fixes_the_seed),
		cmocka_unit_test(test_haproxy_render_crypto_policies),
		cmocka_unit_test(test_haproxy_render_ipv6_agent),
		cmocka_unit_test(test_haproxy_render_passes_haproxy_check),
		cmocka_unit_test(test_haproxy_check_refuses_seed),
		cmocka_unit_test(test_haproxy_lint_seed),
		cmocka_unit_test(test_haproxy_lint_rendered_is_clean),
		cmocka_unit_test(test_haproxy_lint_continuation),
		cmocka_unit_test(test_haproxy_lint_health),
		cmocka_unit_test(test_haproxy_lint_stats),
		cmocka_unit_test(test_haproxy_lint_timeout_tunnel),
		cmocka_unit_test(test_haproxy_lint_ws_split),
		cmocka_unit_test(test_haproxy_lint_fin_in_backend),
		cmocka_unit_test(test_haproxy_stat_from_live_haproxy),
		cmocka_unit_test(test_haproxy_stat_canned),
		cmocka_unit_test(test_haproxy_stat_csv_corners),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
