/* Inventory parser (design §5): every error path with its exact "FILE:LINE: message", the
 * layering of [ssh] defaults, durations, jump resolution and built-in defaults. Hermetic: every
 * inventory is a string read through fmemopen. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../lib/err.h"
#include "../../lib/inventory.h"

#define NAME "t.conf"
#define HOME "/home/tester"

/* A valid minimal host block to append to error cases that need a host to get that far. */
#define GATEWAY "[gateway]\naddress = 198.18.0.10\nuser = ec2-user\n"

static int parse(const char *text, struct dcv_inventory **inv, struct dcv_err *err)
{
	FILE *f = fmemopen((void *)text, strlen(text), "r");
	int rc;

	assert_non_null(f);
	*inv = NULL;
	rc = dcv_inventory_parse(f, NAME, HOME, inv, err);
	fclose(f);
	return rc;
}

static struct dcv_inventory *parse_ok(const char *text)
{
	struct dcv_err err = DCV_ERR_INIT;
	struct dcv_inventory *inv;
	int rc = parse(text, &inv, &err);

	if (rc != DCV_OK)
		fail_msg("unexpected parse error %d: %s", rc, err.msg);
	assert_non_null(inv);
	return inv;
}

static void expect_error(const char *text, const char *msg)
{
	struct dcv_err err = DCV_ERR_INIT;
	struct dcv_inventory *inv;
	int rc = parse(text, &inv, &err);

	if (rc == DCV_OK) {
		dcv_inventory_free(inv);
		fail_msg("parsed, but expected: %s", msg);
	}
	assert_int_equal(rc, DCV_E_CONFIG);
	assert_int_equal(err.code, DCV_E_CONFIG);
	assert_null(inv); /* out-parameters are written only on success */
	assert_string_equal(err.msg, msg);
}

static struct dcv_host *host(const struct dcv_inventory *inv, const char *name)
{
	struct dcv_host *h = dcv_inventory_host(inv, name);

	if (!h)
		fail_msg("no host '%s'", name);
	return h;
}

/* ---------------------------------------------------------------- unknown keys, sections */

static void test_inventory_unknown_key_suggests_nearest(void **state)
{
	(void)state;
	expect_error("[gateway]\nadress = 198.18.0.10\nuser = ec2-user\n",
		     NAME ":2: unknown key 'adress' in [gateway] (did you mean 'address'?)");
	expect_error("[ssh]\nidentiy = ~/.ssh/id\n" GATEWAY,
		     NAME ":2: unknown key 'identiy' in [ssh] (did you mean 'identity'?)");
	expect_error(GATEWAY "[agent dcv1]\naddress = 198.18.0.20\nuser = ubuntu\nsesion-name = x\n",
		     NAME ":7: unknown key 'sesion-name' in [agent dcv1] (did you mean 'session-name'?)");
}

static void test_inventory_unknown_key_far_from_everything(void **state)
{
	(void)state;
	expect_error(GATEWAY "colour = blue\n", NAME ":4: unknown key 'colour' in [gateway]");
}

static void test_inventory_key_in_wrong_section(void **state)
{
	(void)state;
	/* `listen` exists, but only for the gateway */
	expect_error(GATEWAY "[agent dcv1]\naddress = 198.18.0.20\nuser = ubuntu\nlisten = 8443\n",
		     NAME ":7: key 'listen' does not belong in [agent dcv1]");
}

static void test_inventory_unknown_section_suggests_nearest(void **state)
{
	(void)state;
	expect_error(GATEWAY "[chek]\n", NAME ":4: unknown section [chek] (did you mean [check]?)");
	expect_error("[gatway]\naddress = 198.18.0.10\n",
		     NAME ":1: unknown section [gatway] (did you mean [gateway]?)");
	expect_error(GATEWAY "[frobnicator]\n", NAME ":4: unknown section [frobnicator]");
}

static void test_inventory_repeated_section(void **state)
{
	(void)state;
	expect_error(GATEWAY "[gateway]\n", NAME ":4: section [gateway] appears twice");
	expect_error(GATEWAY "[ssh]\n[check]\n[ssh]\n", NAME ":6: section [ssh] appears twice");
	expect_error(GATEWAY "[agent x]\naddress = 198.18.0.20\nuser = u\n[agent x]\n",
		     NAME ":7: section [agent x] appears twice");
}

static void test_inventory_bad_section_headers(void **state)
{
	(void)state;
	expect_error(GATEWAY "[agent]\n", NAME
		     ":4: section [agent] needs a name: [agent NAME] (letters, digits, '-', '_', '.')");
	expect_error(GATEWAY "[agent a b]\n", NAME
		     ":4: section [agent] needs a name: [agent NAME] (letters, digits, '-', '_', '.')");
	expect_error("[gateway main]\n", NAME ":1: section [gateway] takes no name");
	expect_error(GATEWAY "[agent bastion]\n", NAME ":4: agent name 'bastion' is reserved");
	expect_error(GATEWAY "[agent endpoint]\n", NAME ":4: agent name 'endpoint' is reserved");
	expect_error(GATEWAY "[check\n", NAME ":4: section header without ']'");
	expect_error(GATEWAY "[check] x\n", NAME ":4: text after section header");
}

static void test_inventory_repeated_key(void **state)
{
	(void)state;
	expect_error(GATEWAY "user = root\n", NAME ":4: 'user' set twice in [gateway]");
}

static void test_inventory_key_outside_any_section(void **state)
{
	(void)state;
	expect_error("# inventory\naddress = 198.18.0.10\n" GATEWAY,
		     NAME ":2: key 'address' outside any section");
}

static void test_inventory_line_without_equals(void **state)
{
	(void)state;
	expect_error(GATEWAY "just words\n",
		     NAME ":4: expected 'key = value', a [section] or a comment");
}

static void test_inventory_empty_value(void **state)
{
	(void)state;
	expect_error(GATEWAY "listen =\n", NAME ":4: empty value for 'listen' in [gateway]");
}

static void test_inventory_no_hosts(void **state)
{
	struct dcv_err err = DCV_ERR_INIT;
	struct dcv_inventory *inv;

	(void)state;
	assert_int_equal(parse("[ssh]\nparallel = 4\n", &inv, &err), DCV_E_CONFIG);
	assert_null(inv);
	assert_non_null(strstr(err.msg, "no hosts: add [gateway], [bastion] or [agent NAME]"));
	assert_int_equal(strncmp(err.msg, NAME ":", strlen(NAME ":")), 0);
}

/* ---------------------------------------------------------------- lines */

static void test_inventory_indented_line(void **state)
{
	(void)state;
	/* inih would join it to the previous value; we refuse it */
	expect_error("[gateway]\naddress = 198.18.0.10\n  user = ec2-user\n", NAME
		     ":3: indented line: a value never continues on the next line; start keys at column 1");
	expect_error("[gateway]\naddress = 198.18.0.10\n\tuser = ec2-user\n", NAME
		     ":3: indented line: a value never continues on the next line; start keys at column 1");
}

static void test_inventory_indented_comment_is_allowed(void **state)
{
	struct dcv_inventory *inv = parse_ok(GATEWAY "   # an indented comment\n\t; another\n   \n");

	(void)state;
	assert_string_equal(host(inv, "gateway")->user, "ec2-user");
	dcv_inventory_free(inv);
}

/* A line of `n` characters: "session-name = xxx...". */
static char *line_of(size_t n)
{
	char *s = malloc(n + 1);

	memcpy(s, "session-name = ", 15);
	memset(s + 15, 'x', n - 15);
	s[n] = '\0';
	return s;
}

static void test_inventory_line_length_limit(void **state)
{
	/* inih r55: INI_MAX_LINE 200 holds 198 characters plus newline and NUL */
	char *ok = line_of(198), *bad = line_of(199), *huge = line_of(5000);
	char text[6000];
	struct dcv_inventory *inv;

	(void)state;
	snprintf(text, sizeof(text), GATEWAY "[agent a]\naddress = 198.18.0.20\nuser = u\n%s\n", ok);
	inv = parse_ok(text);
	assert_int_equal(strlen(host(inv, "a")->session_name), 198 - 15);
	dcv_inventory_free(inv);

	snprintf(text, sizeof(text), GATEWAY "[agent a]\naddress = 198.18.0.20\nuser = u\n%s\n", bad);
	expect_error(text, NAME ":7: line too long (at most 198 characters)");
	snprintf(text, sizeof(text), GATEWAY "[agent a]\naddress = 198.18.0.20\nuser = u\n%s\n", huge);
	expect_error(text, NAME ":7: line too long (at most 198 characters)");
	/* the last line without a newline counts the same */
	snprintf(text, sizeof(text), GATEWAY "[agent a]\naddress = 198.18.0.20\nuser = u\n%s", bad);
	expect_error(text, NAME ":7: line too long (at most 198 characters)");
	free(ok);
	free(bad);
	free(huge);
}

static void test_inventory_comments_stripped_from_values(void **state)
{
	struct dcv_inventory *inv = parse_ok(
		"# full-line comment\n"
		"; another\n"
		"[gateway]   # trailing comment on a header\n"
		"address = 198.18.0.10 # data plane\n"
		"user = ec2-user ; login\n"
		"listen = 9443\t# tab before the comment\n"
		"[agent dcv1]\n"
		"address = 198.18.0.20\n"
		"user = ubuntu\n"
		"session-name = Desk#1;2\n" /* no blank before # or ;: part of the value */
		"[agent dcv2]\n"
		"address = 198.18.0.21\n"
		"user = ubuntu\n"
		"session-name = \"alice # not a comment\"\n");
	struct dcv_host *g = host(inv, "gateway"), *a = host(inv, "dcv1");

	(void)state;
	assert_string_equal(g->address, "198.18.0.10");
	assert_string_equal(g->user, "ec2-user");
	assert_int_equal(g->listen, 9443);
	assert_string_equal(a->session_name, "Desk#1;2");
	assert_string_equal(host(inv, "dcv2")->session_name, "alice # not a comment");
	dcv_inventory_free(inv);
}

static void test_inventory_crlf_line_endings(void **state)
{
	struct dcv_inventory *inv =
		parse_ok("[gateway]\r\naddress = 198.18.0.10\r\nuser = ec2-user\r\n");

	(void)state;
	assert_string_equal(host(inv, "gateway")->user, "ec2-user");
	dcv_inventory_free(inv);
}

/* ---------------------------------------------------------------- required keys, bad values */

static void test_inventory_missing_required_key(void **state)
{
	(void)state;
	expect_error("[gateway]\nuser = ec2-user\n",
		     NAME ":1: missing required key 'address' in [gateway]");
	expect_error("# c\n[bastion]\naddress = 198.18.0.5\n",
		     NAME ":2: missing required key 'user' in [bastion]");
	expect_error(GATEWAY "[agent dcv1]\naddress = 198.18.0.20\n",
		     NAME ":4: missing required key 'user' in [agent dcv1]");
}

static void test_inventory_bad_values(void **state)
{
	(void)state;
	expect_error("[ssh]\nhost-key-policy = lenient\n" GATEWAY, NAME
		     ":2: bad value 'lenient' for 'host-key-policy' in [ssh] (expected strict, accept-new or off)");
	expect_error("[ssh]\nconnect-timeout = 10x\n" GATEWAY, NAME
		     ":2: bad value '10x' for 'connect-timeout' in [ssh] (expected a duration such as 10s, 5m, 1h or bare seconds)");
	expect_error("[ssh]\ncommand-timeout = 0\n" GATEWAY, NAME
		     ":2: bad value '0' for 'command-timeout' in [ssh] (expected a duration such as 10s, 5m, 1h or bare seconds)");
	expect_error(GATEWAY "[check]\nhold = soon\n", NAME
		     ":5: bad value 'soon' for 'hold' in [check] (expected a duration such as 10s, 5m, 1h or bare seconds)");
	expect_error(GATEWAY "[agent dcv1]\naddress = 198.18.0.20\nuser = u\nport = 70000\n", NAME
		     ":7: bad value '70000' for 'port' in [agent dcv1] (expected a port from 1 to 65535)");
	expect_error(GATEWAY "listen = 0\n", NAME
		     ":4: bad value '0' for 'listen' in [gateway] (expected a port from 1 to 65535)");
	expect_error(GATEWAY "sudo = maybe\n", NAME
		     ":4: bad value 'maybe' for 'sudo' in [gateway] (expected yes or no)");
	expect_error(GATEWAY "[agent dcv1]\naddress = 198.18.0.20\nuser = u\nbackup = perhaps\n", NAME
		     ":7: bad value 'perhaps' for 'backup' in [agent dcv1] (expected yes or no)");
	expect_error("[endpoint]\nurl = http://portal.example.com:8443/\n" GATEWAY, NAME
		     ":2: bad value 'http://portal.example.com:8443/' for 'url' in [endpoint] (expected an https:// URL)");
	expect_error("[endpoint]\nurl = https://\n" GATEWAY, NAME
		     ":2: bad value 'https://' for 'url' in [endpoint] (expected an https:// URL)");
	/* found by fuzz_inventory: the host was leaked when the port was missing */
	expect_error("[endpoint]\nconnect-to = 198.18.0.11\n" GATEWAY, NAME
		     ":2: bad value '198.18.0.11' for 'connect-to' in [endpoint] (expected HOST:PORT)");
	expect_error(GATEWAY "[agent dcv1]\naddress = 198.18.0.20\nuser = u\nweb-url-path = dcv\n", NAME
		     ":7: bad value 'dcv' for 'web-url-path' in [agent dcv1] (expected an absolute path on the host)");
	expect_error(GATEWAY "proxy = apache\n", NAME
		     ":4: bad value 'apache' for 'proxy' in [gateway] (expected nginx, haproxy or connection-gateway)");
	/* the [endpoint] proxy's password stays out of the printed error */
	expect_error("[endpoint]\nproxy = ops:s3cret@proxy.example.com:3128\n" GATEWAY, NAME
		     ":2: bad value 'proxy.example.com:3128' for 'proxy' in [endpoint] (expected a proxy URL such as http://proxy:3128)");
	expect_error("[gateway]\naddress = 198.18.0.10:22\nuser = u\n", NAME
		     ":2: bad value '198.18.0.10:22' for 'address' in [gateway] (expected a host name or IP address without port)");
	expect_error("[gateway]\naddress = 198.18.0.10\nssh = gw.example.com:99999\nuser = u\n", NAME
		     ":3: bad value 'gw.example.com:99999' for 'ssh' in [gateway] (expected HOST or HOST:PORT)");
	expect_error("[gateway]\naddress = 198.18.0.10\nuser = ec2 user\n", NAME
		     ":3: bad value 'ec2 user' for 'user' in [gateway] (expected a user name)");
	expect_error("[ssh]\nparallel = 0\n" GATEWAY, NAME
		     ":2: bad value '0' for 'parallel' in [ssh] (expected an integer from 1 to 256)");
	expect_error(GATEWAY "[check]\nhttp-expect = 200,abc\n", NAME
		     ":5: bad value '200,abc' for 'http-expect' in [check] (expected HTTP status codes such as 200,302)");
	expect_error(GATEWAY "[check]\ncert-warn-days = -1\n", NAME
		     ":5: bad value '-1' for 'cert-warn-days' in [check] (expected a number of days from 0 to 3650)");
	expect_error(GATEWAY "[agent dcv1]\naddress = 198.18.0.20\nuser = u\nsession = my session\n", NAME
		     ":7: bad value 'my session' for 'session' in [agent dcv1] (expected a session id of letters, digits, '.', '_' or '-')");
	expect_error(GATEWAY "[agent dcv1]\naddress = 198.18.0.20\nuser = u\nsession-type = desktop\n", NAME
		     ":7: bad value 'desktop' for 'session-type' in [agent dcv1] (expected console or virtual)");
	expect_error(GATEWAY "[agent dcv1]\naddress = 198.18.0.20\nuser = u\nauthentication = ldap\n", NAME
		     ":7: bad value 'ldap' for 'authentication' in [agent dcv1] (expected system or none)");
	/* the host part is parsed before the missing port is noticed (make SAN=1 unit: no leak) */
	expect_error("[endpoint]\nconnect-to = 198.18.0.11\n" GATEWAY, NAME
		     ":2: bad value '198.18.0.11' for 'connect-to' in [endpoint] (expected HOST:PORT)");
}

/* ---------------------------------------------------------------- jumps */

static void test_inventory_jump_to_unknown_host_suggests(void **state)
{
	(void)state;
	expect_error("[bastion]\naddress = 198.18.0.5\nuser = ec2-user\n"
		     "[gateway]\naddress = 198.18.0.10\nuser = ec2-user\njump = bastoin\n",
		     NAME ":4: 'jump = bastoin' in [gateway] names no host (did you mean 'bastion'?)");
	expect_error(GATEWAY "jump = nowhere-near\n",
		     NAME ":1: 'jump = nowhere-near' in [gateway] names no host");
}

static void test_inventory_jump_to_itself(void **state)
{
	(void)state;
	expect_error(GATEWAY "jump = gateway\n",
		     NAME ":1: 'jump = gateway' in [gateway] jumps through itself");
}

static void test_inventory_jump_loop(void **state)
{
	(void)state;
	expect_error("[bastion]\naddress = 198.18.0.5\nuser = ec2-user\njump = gateway\n"
		     "[gateway]\naddress = 198.18.0.10\nuser = ec2-user\njump = bastion\n",
		     NAME ":1: jump loop: [bastion] reaches itself through 'jump'");
	/* three hosts long */
	expect_error(GATEWAY "jump = a\n"
		     "[agent a]\naddress = 198.18.0.20\nuser = u\njump = b\n"
		     "[agent b]\naddress = 198.18.0.21\nuser = u\njump = gateway\n",
		     NAME ":1: jump loop: [gateway] reaches itself through 'jump'");
}

static void test_inventory_bad_jump_spec(void **state)
{
	(void)state;
	expect_error(GATEWAY "jump = @198.18.0.5:22\n", NAME
		     ":1: bad value '@198.18.0.5:22' for 'jump' in [gateway] (expected a host section name or user@host:port)");
	expect_error(GATEWAY "jump = ops@198.18.0.5:0\n", NAME
		     ":1: bad value 'ops@198.18.0.5:0' for 'jump' in [gateway] (expected a host section name or user@host:port)");
}

static void test_inventory_jump_by_section_name(void **state)
{
	struct dcv_inventory *inv = parse_ok(
		"[bastion]\naddress = 198.18.0.5\nssh = 198.18.0.5:2222\nuser = ec2-user\n"
		"[gateway]\naddress = 198.18.0.10\nuser = ec2-user\njump = bastion\n"
		"[agent dcv1]\naddress = 198.18.0.20\nuser = ubuntu\n");
	struct dcv_host *b = host(inv, "bastion"), *g = host(inv, "gateway");

	(void)state;
	assert_int_equal(inv->n_hosts, 3);
	assert_ptr_equal(g->jump, b);
	assert_string_equal(g->jump_spec, "bastion");
	assert_null(b->jump);
	assert_null(host(inv, "dcv1")->jump);
	assert_int_equal(b->role, DCV_ROLE_BASTION);
	assert_int_equal(b->ssh_port, 2222);
	/* the target is reached at its own address through the jump */
	assert_string_equal(g->ssh_host, "198.18.0.10");
	assert_int_equal(g->ssh_port, 22);
	dcv_inventory_free(inv);
}

static void test_inventory_jump_user_at_host_makes_implicit_host(void **state)
{
	struct dcv_inventory *inv = parse_ok(
		GATEWAY "jump = ops@198.18.0.9:2200\n"
		"[agent dcv1]\naddress = 198.18.0.20\nuser = ubuntu\njump = ops@198.18.0.9:2200\n");
	struct dcv_host *g = host(inv, "gateway"), *j = host(inv, "ops@198.18.0.9:2200");
	struct dcv_host *j3;

	(void)state;
	assert_int_equal(j->role, DCV_ROLE_JUMP);
	assert_int_equal(j->line, 0);
	assert_string_equal(j->user, "ops");
	assert_string_equal(j->address, "198.18.0.9");
	assert_string_equal(j->ssh_host, "198.18.0.9");
	assert_int_equal(j->ssh_port, 2200);
	assert_null(j->jump);
	/* defaults are filled for implicit hosts too */
	assert_int_equal(j->ssh.host_key_policy, DCV_HOSTKEY_STRICT);
	assert_int_equal(j->ssh.connect_timeout_ms, 10000);
	assert_ptr_equal(g->jump, j);
	/* the same spec is one host, so one connection (design §6) */
	assert_ptr_equal(host(inv, "dcv1")->jump, j);
	assert_int_equal(inv->n_hosts, 3);

	/* a bare word without '@' or ':' names a section: jump.example.com is not one */
	dcv_inventory_free(inv);
	expect_error(GATEWAY "jump = jump.example.com\n",
		     NAME ":1: 'jump = jump.example.com' in [gateway] names no host");

	/* host:port without a user: the user of the host behind it */
	inv = parse_ok(GATEWAY "[agent dcv3]\naddress = 198.18.0.22\nuser = ubuntu\n"
		       "jump = jump.example.com:22\n");
	j3 = host(inv, "jump.example.com:22");
	assert_ptr_equal(host(inv, "dcv3")->jump, j3);
	assert_int_equal(j3->role, DCV_ROLE_JUMP);
	assert_string_equal(j3->user, "ubuntu");
	assert_string_equal(j3->ssh_host, "jump.example.com");
	assert_int_equal(j3->ssh_port, 22);
	assert_int_equal(inv->n_hosts, 3);
	dcv_inventory_free(inv);
}

static void test_inventory_ssh_host_port(void **state)
{
	struct dcv_inventory *inv = parse_ok(
		"[gateway]\naddress = 198.18.0.10\nssh = bastion.example.com:50000\nuser = ec2-user\n"
		"[agent dcv1]\naddress = 198.18.0.20\nssh = 127.0.0.2\nuser = ubuntu\n"
		"[agent dcv2]\naddress = 198.18.0.21\nssh = [::1]:2201\nuser = ubuntu\n");
	struct dcv_host *g = host(inv, "gateway");

	(void)state;
	assert_string_equal(g->address, "198.18.0.10");
	assert_string_equal(g->ssh_host, "bastion.example.com");
	assert_int_equal(g->ssh_port, 50000);
	assert_string_equal(host(inv, "dcv1")->ssh_host, "127.0.0.2");
	assert_int_equal(host(inv, "dcv1")->ssh_port, 22);
	assert_string_equal(host(inv, "dcv2")->ssh_host, "::1");
	assert_int_equal(host(inv, "dcv2")->ssh_port, 2201);
	dcv_inventory_free(inv);
}

/* ---------------------------------------------------------------- [ssh] layering */

static void test_inventory_ssh_defaults_inherited(void **state)
{
	struct dcv_inventory *inv = parse_ok(
		"[ssh]\n"
		"identity = ~/.ssh/tom.pem\n"
		"identity = /etc/dcvctl/fleet_ed25519\n"
		"known-hosts = ~/.ssh/dcv_known_hosts\n"
		"host-key-policy = accept-new\n"
		"connect-timeout = 5s\n"
		"command-timeout = 3m\n"
		"parallel = 3\n"
		"sudo = no\n" GATEWAY);
	struct dcv_host *g = host(inv, "gateway");

	(void)state;
	assert_int_equal(g->ssh.n_identity, 2);
	assert_string_equal(g->ssh.identity[0], HOME "/.ssh/tom.pem");
	assert_string_equal(g->ssh.identity[1], "/etc/dcvctl/fleet_ed25519");
	assert_string_equal(g->ssh.known_hosts, HOME "/.ssh/dcv_known_hosts");
	assert_int_equal(g->ssh.host_key_policy, DCV_HOSTKEY_ACCEPT_NEW);
	assert_int_equal(g->ssh.connect_timeout_ms, 5000);
	assert_int_equal(g->ssh.command_timeout_ms, 180000);
	assert_int_equal(g->ssh.parallel, 3);
	assert_int_equal(g->ssh.sudo, 0);
	/* [ssh] as written stays available */
	assert_int_equal(inv->ssh.parallel, 3);
	dcv_inventory_free(inv);
}

static void test_inventory_host_values_override_defaults(void **state)
{
	struct dcv_inventory *inv = parse_ok(
		"[ssh]\nhost-key-policy = accept-new\nconnect-timeout = 5s\nsudo = no\n"
		"known-hosts = /etc/dcvctl/known_hosts\n"
		"[gateway]\naddress = 198.18.0.10\nuser = ec2-user\n"
		"host-key-policy = off\nconnect-timeout = 250ms\nsudo = yes\n"
		"known-hosts = ~/gw_known_hosts\n"
		"[agent dcv1]\naddress = 198.18.0.20\nuser = ubuntu\n");
	struct dcv_host *g = host(inv, "gateway"), *a = host(inv, "dcv1");

	(void)state;
	assert_int_equal(g->ssh.host_key_policy, DCV_HOSTKEY_OFF);
	assert_int_equal(g->ssh.connect_timeout_ms, 250);
	assert_int_equal(g->ssh.sudo, 1);
	assert_string_equal(g->ssh.known_hosts, HOME "/gw_known_hosts");
	assert_int_equal(a->ssh.host_key_policy, DCV_HOSTKEY_ACCEPT_NEW);
	assert_int_equal(a->ssh.connect_timeout_ms, 5000);
	assert_int_equal(a->ssh.sudo, 0);
	assert_string_equal(a->ssh.known_hosts, "/etc/dcvctl/known_hosts");
	dcv_inventory_free(inv);
}

static void test_inventory_host_identity_replaces_defaults(void **state)
{
	struct dcv_inventory *inv = parse_ok(
		"[ssh]\nidentity = ~/.ssh/a.pem\nidentity = ~/.ssh/b.pem\n"
		"[gateway]\naddress = 198.18.0.10\nuser = ec2-user\nidentity = ~/.ssh/gw.pem\n"
		"[agent dcv1]\naddress = 198.18.0.20\nuser = ubuntu\n"
		"identity = /keys/one\nidentity = /keys/two\nidentity = /keys/three\n"
		"[agent dcv2]\naddress = 198.18.0.21\nuser = ubuntu\n");
	struct dcv_host *g = host(inv, "gateway"), *a1 = host(inv, "dcv1"), *a2 = host(inv, "dcv2");

	(void)state;
	assert_int_equal(g->ssh.n_identity, 1);
	assert_string_equal(g->ssh.identity[0], HOME "/.ssh/gw.pem");
	assert_int_equal(a1->ssh.n_identity, 3);
	assert_string_equal(a1->ssh.identity[0], "/keys/one");
	assert_string_equal(a1->ssh.identity[2], "/keys/three");
	assert_int_equal(a2->ssh.n_identity, 2);
	assert_string_equal(a2->ssh.identity[0], HOME "/.ssh/a.pem");
	assert_string_equal(a2->ssh.identity[1], HOME "/.ssh/b.pem");
	dcv_inventory_free(inv);
}

static void test_inventory_tilde_expansion(void **state)
{
	struct dcv_inventory *inv = parse_ok(
		"[endpoint]\nurl = https://portal.example.com:8443/\nca-file = ~/ca.pem\n"
		"[ssh]\nidentity = ~/.ssh/tom.pem\nidentity = ~other/.ssh/key\nidentity = /abs/~/key\n"
		GATEWAY);
	struct dcv_host *g = host(inv, "gateway");

	(void)state;
	assert_string_equal(inv->ca_file, HOME "/ca.pem");
	assert_string_equal(g->ssh.identity[0], HOME "/.ssh/tom.pem");
	/* only a leading "~/" is ours to expand */
	assert_string_equal(g->ssh.identity[1], "~other/.ssh/key");
	assert_string_equal(g->ssh.identity[2], "/abs/~/key");
	/* known-hosts defaults to ~/.ssh/known_hosts, expanded with the same home */
	assert_string_equal(g->ssh.known_hosts, HOME "/.ssh/known_hosts");
	dcv_inventory_free(inv);
}

static void test_inventory_durations(void **state)
{
	static const struct {
		const char *text;
		long ms;
	} cases[] = {
		{ "10s", 10000 }, { "5m", 300000 }, { "1h", 3600000 }, { "30", 30000 }, { "250ms", 250 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char text[256];
		struct dcv_inventory *inv;

		snprintf(text, sizeof(text),
			 "[ssh]\nconnect-timeout = %s\ncommand-timeout = %s\n" GATEWAY
			 "[check]\nhold = %s\n",
			 cases[i].text, cases[i].text, cases[i].text);
		inv = parse_ok(text);
		assert_int_equal(host(inv, "gateway")->ssh.connect_timeout_ms, cases[i].ms);
		assert_int_equal(host(inv, "gateway")->ssh.command_timeout_ms, cases[i].ms);
		assert_int_equal(inv->hold_ms, cases[i].ms);
		dcv_inventory_free(inv);
	}
}

/* ---------------------------------------------------------------- defaults, all keys */

static void test_inventory_builtin_defaults(void **state)
{
	struct dcv_inventory *inv = parse_ok(
		"[gateway]\naddress = 198.18.0.10\nuser = ec2-user\n"
		"[agent dcv1]\naddress = 198.18.0.20\nuser = ubuntu\n");
	struct dcv_host *g = host(inv, "gateway"), *a = host(inv, "dcv1");

	(void)state;
	assert_int_equal(inv->n_hosts, 2);
	assert_ptr_equal(dcv_inventory_gateway(inv), g);
	assert_int_equal(g->role, DCV_ROLE_GATEWAY);
	assert_int_equal(g->line, 1);
	assert_string_equal(g->ssh_host, "198.18.0.10");
	assert_int_equal(g->ssh_port, 22);
	assert_null(g->jump);
	assert_int_equal(g->proxy, DCV_PROXY_NGINX);
	assert_int_equal(g->listen, 8443);
	assert_string_equal(g->cert, "/etc/dcv-connection-gateway/cert.pem");
	assert_string_equal(g->key, "/etc/dcv-connection-gateway/key.pem");
	assert_int_equal(g->ssh.n_identity, 0);
	assert_int_equal(g->ssh.host_key_policy, DCV_HOSTKEY_STRICT);
	assert_int_equal(g->ssh.connect_timeout_ms, 10000);
	assert_int_equal(g->ssh.command_timeout_ms, 120000);
	assert_int_equal(g->ssh.parallel, 16);
	assert_int_equal(g->ssh.sudo, 1);

	assert_int_equal(a->role, DCV_ROLE_AGENT);
	assert_int_equal(a->line, 4);
	assert_int_equal(a->ssh_port, 22);
	assert_int_equal(a->port, 8443);
	assert_string_equal(a->web_url_path, "/");
	assert_string_equal(a->session, "console");
	assert_string_equal(a->session_type, "console");
	assert_string_equal(a->session_owner, "ubuntu");
	assert_null(a->session_name);
	assert_null(a->authentication);
	assert_false(a->backup);

	assert_null(inv->url);
	assert_int_equal(inv->resolver_port, 8447);
	assert_false(inv->tls_client_auth);
	assert_int_equal(inv->cert_warn_days, 30);
	assert_int_equal(inv->hold_ms, 0);
	assert_int_equal(inv->n_http_expect, 2);
	assert_int_equal(inv->http_expect[0], 200);
	assert_int_equal(inv->http_expect[1], 302);
	assert_string_equal(inv->path, NAME);
	dcv_inventory_free(inv);
}

static void test_inventory_every_key_of_the_design(void **state)
{
	/* the example of design §5, with test addresses */
	struct dcv_inventory *inv = parse_ok(
		"[endpoint]\n"
		"url = https://vpce-0.vpce-svc-0.ap-northeast-1.vpce.amazonaws.com:8443/\n"
		"connect-to = 198.18.0.11:8443     # optional\n"
		"ca-file = ./ca.pem\n"
		"names = portal.example.com, www.example.com\n"
		"names = alt.example.com\n"
		"proxy = http://proxy.example.com:3128\n"
		"[bastion]\naddress = 198.18.0.5\nssh = 198.18.0.5:22\nuser = ec2-user\n"
		"[gateway]\naddress = 198.18.0.10\nssh = 198.18.0.5:50000\nuser = ec2-user\n"
		"proxy = haproxy\nlisten = 443\ncert = /etc/ssl/gw.pem\nkey = /etc/ssl/gw.key\n"
		"[agent dcv1]\naddress = 198.18.0.20\nuser = ubuntu\nport = 8444\nweb-url-path = /dcv\n"
		"authentication = system\nsession = desk-1\nsession-type = virtual\n"
		"session-owner = alice\nsession-name = Ubuntu Desktop\nbackup = yes\n"
		"[broker]\nname = broker.lab.example\nresolver-port = 8448\ntls-client-auth = yes\n"
		"[check]\ncert-warn-days = 14\nhold = 5m\nhttp-expect = 200, 301,302\n");
	struct dcv_host *g = host(inv, "gateway"), *a = host(inv, "dcv1");

	(void)state;
	assert_string_equal(inv->url, "https://vpce-0.vpce-svc-0.ap-northeast-1.vpce.amazonaws.com:8443/");
	assert_string_equal(inv->connect_to, "198.18.0.11:8443");
	assert_string_equal(inv->ca_file, "./ca.pem");
	assert_int_equal(inv->n_names, 3);
	assert_string_equal(inv->names[0], "portal.example.com");
	assert_string_equal(inv->names[1], "www.example.com");
	assert_string_equal(inv->names[2], "alt.example.com");
	assert_string_equal(inv->proxy, "http://proxy.example.com:3128");
	assert_int_equal(g->proxy, DCV_PROXY_HAPROXY);
	assert_int_equal(g->listen, 443);
	assert_string_equal(g->cert, "/etc/ssl/gw.pem");
	assert_string_equal(g->key, "/etc/ssl/gw.key");
	assert_string_equal(g->ssh_host, "198.18.0.5");
	assert_int_equal(g->ssh_port, 50000);
	assert_int_equal(a->port, 8444);
	assert_string_equal(a->web_url_path, "/dcv");
	assert_string_equal(a->authentication, "system");
	assert_string_equal(a->session, "desk-1");
	assert_string_equal(a->session_type, "virtual");
	assert_string_equal(a->session_owner, "alice");
	assert_string_equal(a->session_name, "Ubuntu Desktop");
	assert_true(a->backup);
	assert_int_equal(inv->resolver_port, 8448);
	assert_string_equal(inv->broker_name, "broker.lab.example");
	assert_true(inv->tls_client_auth);
	assert_int_equal(inv->cert_warn_days, 14);
	assert_int_equal(inv->hold_ms, 300000);
	assert_int_equal(inv->n_http_expect, 3);
	assert_int_equal(inv->http_expect[1], 301);
	dcv_inventory_free(inv);
}

/* ---------------------------------------------------------------- [broker], connection-gateway */

static void test_inventory_broker_name_refuses_ip(void **state)
{
	(void)state;
	expect_error("[broker]\nname = 198.18.0.10\n" GATEWAY,
		     NAME ":2: bad value '198.18.0.10' for 'name' in [broker] (expected a DNS name: the "
		     "Connection Gateway refuses an IP address in [resolver] url)");
	expect_error("[broker]\nname = [2001:db8::1]\n" GATEWAY,
		     NAME ":2: bad value '[2001:db8::1]' for 'name' in [broker] (expected a DNS name: the "
		     "Connection Gateway refuses an IP address in [resolver] url)");
	expect_error("[broker]\nname = broker.lab:8447\n" GATEWAY,
		     NAME ":2: bad value 'broker.lab:8447' for 'name' in [broker] (expected a DNS name without port)");
	expect_error("[broker]\nname = broker_1.lab\n" GATEWAY,
		     NAME ":2: bad value 'broker_1.lab' for 'name' in [broker] (expected a DNS name of letters, "
		     "digits, '-' and '.')");
	/* a typo still gets file:line and the nearest key */
	expect_error("[broker]\nnmae = broker.lab\n" GATEWAY,
		     NAME ":2: unknown key 'nmae' in [broker] (did you mean 'name'?)");
}

static void test_inventory_broker_host_names_a_host(void **state)
{
	struct dcv_inventory *inv;

	(void)state;
	expect_error("[broker]\nhost = gatewya\n" GATEWAY,
		     NAME ":2: 'host = gatewya' in [broker] names no host (did you mean 'gateway'?)");
	expect_error(GATEWAY "[broker]\nhost = 198.18.0.10\n",
		     NAME ":5: 'host = 198.18.0.10' in [broker] names no host section");
	/* a section defined after [broker] counts */
	inv = parse_ok("[broker]\nhost = bastion\n" GATEWAY "[bastion]\naddress = 198.18.0.5\nuser = u\n");
	assert_string_equal(inv->broker_host, "bastion");
	dcv_inventory_free(inv);
}

static void test_inventory_broker_defaults(void **state)
{
	struct dcv_inventory *inv = parse_ok(GATEWAY);

	(void)state;
	assert_null(inv->broker_name);
	assert_null(inv->broker_host);
	assert_int_equal(inv->resolver_port, 8447);
	assert_false(inv->tls_client_auth);
	dcv_inventory_free(inv);
}

static void test_inventory_deploy_serial_and_max_fail(void **state)
{
	struct dcv_inventory *inv = parse_ok(GATEWAY);

	(void)state;
	assert_int_equal(inv->deploy_serial.n, -1);
	assert_int_equal(inv->deploy_max_fail.n, -1);
	dcv_inventory_free(inv);
	inv = parse_ok(GATEWAY "[deploy]\nserial = 25%\nmax-fail = 10%\n");
	assert_int_equal(inv->deploy_serial.n, 25);
	assert_true(inv->deploy_serial.percent);
	assert_int_equal(inv->deploy_max_fail.n, 10);
	assert_true(inv->deploy_max_fail.percent);
	dcv_inventory_free(inv);
	inv = parse_ok("[deploy]\nserial = 2\nmax-fail = 0\n" GATEWAY);
	assert_int_equal(inv->deploy_serial.n, 2);
	assert_false(inv->deploy_serial.percent);
	assert_int_equal(inv->deploy_max_fail.n, 0);
	dcv_inventory_free(inv);
	expect_error(GATEWAY "[deploy]\nserial = 0\n",
		     NAME ":5: bad value '0' for 'serial' in [deploy] (expected a number of agents per batch, "
		     "or a percentage such as 25%)");
	expect_error(GATEWAY "[deploy]\nmax-fail = 120%\n",
		     NAME ":5: bad value '120%' for 'max-fail' in [deploy] (expected a percentage of the agents "
		     "from 0% to 100%)");
	expect_error(GATEWAY "[deploy]\nmax-fails = 10%\n",
		     NAME ":5: unknown key 'max-fails' in [deploy] (did you mean 'max-fail'?)");
	expect_error(GATEWAY "[deplyo]\n", NAME ":4: unknown section [deplyo] (did you mean [deploy]?)");
	expect_error(GATEWAY "[deploy]\nserial = 2\n[deploy]\n", NAME ":6: section [deploy] appears twice");
}

#define CGW "[gateway]\naddress = 198.18.0.10\nuser = ec2-user\nproxy = connection-gateway\n"

static void test_inventory_gateway_mode_refuses_shared_session(void **state)
{
	(void)state;
	/* explicit ids: the second agent's `session` line */
	expect_error(CGW "[agent dcv1]\naddress = 198.18.0.20\nuser = u\nsession = desk\n"
			 "[agent dcv2]\naddress = 198.18.0.21\nuser = u\nsession = desk\n",
		     NAME ":12: session 'desk' of [agent dcv2] is also the session of [agent dcv1]: with "
		     "proxy = connection-gateway the broker resolves a session by its id alone, so every "
		     "agent needs its own (set 'session = ...' in [agent dcv2])");
	/* both defaulted to console: the second agent's section header */
	expect_error(CGW "[agent dcv1]\naddress = 198.18.0.20\nuser = u\n"
			 "[agent dcv2]\naddress = 198.18.0.21\nuser = u\n",
		     NAME ":8: session 'console' of [agent dcv2] is also the session of [agent dcv1]: with "
		     "proxy = connection-gateway the broker resolves a session by its id alone, so every "
		     "agent needs its own (set 'session = ...' in [agent dcv2])");
}

static void test_inventory_shared_session_fine_outside_gateway_mode(void **state)
{
	struct dcv_inventory *inv;

	(void)state;
	inv = parse_ok(GATEWAY "[agent dcv1]\naddress = 198.18.0.20\nuser = u\n"
			       "[agent dcv2]\naddress = 198.18.0.21\nuser = u\n");
	dcv_inventory_free(inv);
	inv = parse_ok(CGW "[agent dcv1]\naddress = 198.18.0.20\nuser = u\nsession = dcv1\n"
			   "[agent dcv2]\naddress = 198.18.0.21\nuser = u\nsession = dcv2\n");
	assert_string_equal(host(inv, "dcv2")->session, "dcv2");
	assert_int_equal(host(inv, "dcv2")->session_line, 12);
	dcv_inventory_free(inv);
}

static void test_inventory_suggest_host(void **state)
{
	struct dcv_inventory *inv = parse_ok(
		GATEWAY "[agent dcv1]\naddress = 198.18.0.20\nuser = ubuntu\n");

	(void)state;
	assert_string_equal(dcv_inventory_suggest_host(inv, "gatewy"), "gateway");
	assert_string_equal(dcv_inventory_suggest_host(inv, "dvc1"), "dcv1");
	assert_null(dcv_inventory_suggest_host(inv, "database"));
	assert_null(dcv_inventory_host(inv, "dcv2"));
	dcv_inventory_free(inv);
}

static void test_inventory_load_missing_file(void **state)
{
	struct dcv_err err = DCV_ERR_INIT;
	struct dcv_inventory *inv = NULL;

	(void)state;
	assert_int_equal(dcv_inventory_load("/nonexistent/dcvctl.conf", HOME, &inv, &err),
			 DCV_E_CONFIG);
	assert_null(inv);
	assert_string_equal(err.msg, "cannot read '/nonexistent/dcvctl.conf': No such file or directory");
}

static void test_inventory_free_null(void **state)
{
	(void)state;
	dcv_inventory_free(NULL);
}

/* ---------------------------------------------------------------- what rendered configs carry */

struct carried {
	const char *prefix; /* the inventory up to the key's line */
	int line;           /* the key's line */
	const char *section;
	const char *key;
	const char *before, *after; /* the value around the refused character */
};

/* Paths and names land in nginx, HAProxy, TOML and dcv.conf files: each character those cannot
 * carry is refused at parse time, with file, line and key. */
static void test_inventory_refuses_what_configs_cannot_carry(void **state)
{
#define AGENT GATEWAY "[agent dcv1]\naddress = 198.18.0.20\nuser = u\n"
	static const struct carried keys[] = {
		{ GATEWAY, 4, "gateway", "cert", "/etc/ssl/gw", ".pem" },
		{ GATEWAY, 4, "gateway", "key", "/etc/ssl/gw", ".key" },
		{ GATEWAY, 4, "gateway", "ssh", "gw", ".example.com:22" },
		{ GATEWAY, 4, "gateway", "jump", "bas", "tion" },
		{ "[gateway]\n", 2, "gateway", "address", "198.18.0.1", "0" },
		{ AGENT, 7, "agent dcv1", "web-url-path", "/dcv", "x" },
		{ AGENT, 7, "agent dcv1", "session-owner", "ali", "ce" },
		{ "[endpoint]\n", 2, "endpoint", "names", "portal", ".example.com" },
		{ "[broker]\n", 2, "broker", "host", "broker", ".example.com" },
		{ "[broker]\n", 2, "broker", "name", "broker", ".example.com" },
	};
	static const char refused[] = ";{}#\"'$`\\ \t\x01\x1b\x7f";
	char text[512], want[256], what[32];

	(void)state;
	for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
		for (const char *c = refused; *c; c++) {
			if ((*c == ' ' || *c == '\t') && strcmp(keys[k].key, "names") == 0)
				continue; /* names are a list: blanks separate them */
			if (*c == '\t')
				snprintf(what, sizeof(what), "a tab");
			else if (*c == ' ')
				snprintf(what, sizeof(what), "a space");
			else if ((unsigned char)*c < 0x20 || *c == 0x7f)
				snprintf(what, sizeof(what), "a control character (0x%02x)", (unsigned char)*c);
			else
				snprintf(what, sizeof(what), "'%c'", *c);
			snprintf(text, sizeof(text), "%s%s = %s%c%s\n%s", keys[k].prefix, keys[k].key, keys[k].before,
				 *c, keys[k].after, strstr(keys[k].prefix, "[gateway]") ? "" : GATEWAY);
			snprintf(want, sizeof(want),
				 NAME ":%d: '%s' in [%s] cannot contain %s (it is written into proxy and DCV configs)",
				 keys[k].line, keys[k].key, keys[k].section, what);
			expect_error(text, want);
		}
	}
#undef AGENT
}

/* Text that reaches a shell only through dcv_shquote keeps spaces and metacharacters; local
 * paths keep spaces; control characters are refused everywhere they are checked. */
static void test_inventory_text_keeps_spaces_refuses_control(void **state)
{
	struct dcv_inventory *inv = parse_ok(
		"[ssh]\nidentity = ~/My Keys/id_ed25519\n" GATEWAY
		"[agent dcv1]\naddress = 198.18.0.20\nuser = u\nsession-name = Ubuntu $(Desk); 'top' {1}#2\n");

	(void)state;
	assert_string_equal(host(inv, "dcv1")->session_name, "Ubuntu $(Desk); 'top' {1}#2");
	assert_string_equal(inv->ssh.identity[0], HOME "/My Keys/id_ed25519");
	dcv_inventory_free(inv);
	expect_error(GATEWAY "[agent dcv1]\naddress = 198.18.0.20\nuser = u\nsession-name = Desk\x07top\n",
		     NAME ":7: 'session-name' in [agent dcv1] cannot contain a control character (0x07)");
	expect_error("[ssh]\nknown-hosts = /tmp/kh\x1b[2J\n" GATEWAY,
		     NAME ":2: 'known-hosts' in [ssh] cannot contain a control character (0x1b)");
	expect_error("[endpoint]\nca-file = ./ca\tfile.pem\n" GATEWAY,
		     NAME ":2: 'ca-file' in [endpoint] cannot contain a tab");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_inventory_unknown_key_suggests_nearest),
		cmocka_unit_test(test_inventory_unknown_key_far_from_everything),
		cmocka_unit_test(test_inventory_key_in_wrong_section),
		cmocka_unit_test(test_inventory_unknown_section_suggests_nearest),
		cmocka_unit_test(test_inventory_repeated_section),
		cmocka_unit_test(test_inventory_bad_section_headers),
		cmocka_unit_test(test_inventory_repeated_key),
		cmocka_unit_test(test_inventory_key_outside_any_section),
		cmocka_unit_test(test_inventory_line_without_equals),
		cmocka_unit_test(test_inventory_empty_value),
		cmocka_unit_test(test_inventory_no_hosts),
		cmocka_unit_test(test_inventory_indented_line),
		cmocka_unit_test(test_inventory_indented_comment_is_allowed),
		cmocka_unit_test(test_inventory_line_length_limit),
		cmocka_unit_test(test_inventory_comments_stripped_from_values),
		cmocka_unit_test(test_inventory_refuses_what_configs_cannot_carry),
		cmocka_unit_test(test_inventory_text_keeps_spaces_refuses_control),
		cmocka_unit_test(test_inventory_crlf_line_endings),
		cmocka_unit_test(test_inventory_missing_required_key),
		cmocka_unit_test(test_inventory_bad_values),
		cmocka_unit_test(test_inventory_jump_to_unknown_host_suggests),
		cmocka_unit_test(test_inventory_jump_to_itself),
		cmocka_unit_test(test_inventory_jump_loop),
		cmocka_unit_test(test_inventory_bad_jump_spec),
		cmocka_unit_test(test_inventory_jump_by_section_name),
		cmocka_unit_test(test_inventory_jump_user_at_host_makes_implicit_host),
		cmocka_unit_test(test_inventory_ssh_host_port),
		cmocka_unit_test(test_inventory_ssh_defaults_inherited),
		cmocka_unit_test(test_inventory_host_values_override_defaults),
		cmocka_unit_test(test_inventory_host_identity_replaces_defaults),
		cmocka_unit_test(test_inventory_tilde_expansion),
		cmocka_unit_test(test_inventory_durations),
		cmocka_unit_test(test_inventory_builtin_defaults),
		cmocka_unit_test(test_inventory_every_key_of_the_design),
		cmocka_unit_test(test_inventory_broker_name_refuses_ip),
		cmocka_unit_test(test_inventory_broker_host_names_a_host),
		cmocka_unit_test(test_inventory_broker_defaults),
		cmocka_unit_test(test_inventory_deploy_serial_and_max_fail),
		cmocka_unit_test(test_inventory_gateway_mode_refuses_shared_session),
		cmocka_unit_test(test_inventory_shared_session_fine_outside_gateway_mode),
		cmocka_unit_test(test_inventory_suggest_host),
		cmocka_unit_test(test_inventory_load_missing_file),
		cmocka_unit_test(test_inventory_free_null),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
