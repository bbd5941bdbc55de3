/* Inventory parsing. Debian's inih gives no line numbers, keeps ` # comments` in values and
 * joins indented lines (machine-notes.md), so inih only splits lines we hand it one at a time
 * through our own reader, which counts lines, strips comments and refuses what we forbid. */
#include "inventory.h"

#include "buf.h"
#include "err.h"
#include "sanitize.h"
#include "util.h"

#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <stdlib.h>
#include <string.h>

enum sect {
	S_NONE = 0,
	S_ENDPOINT = 1 << 0,
	S_SSH = 1 << 1,
	S_BASTION = 1 << 2,
	S_GATEWAY = 1 << 3,
	S_AGENT = 1 << 4,
	S_BROKER = 1 << 5,
	S_CHECK = 1 << 6,
	S_AWS = 1 << 7,
	S_DEPLOY = 1 << 8,
	S_MAINT = 1 << 9,
};
#define S_HOSTS (S_BASTION | S_GATEWAY | S_AGENT)

const char *const dcv_inventory_sections[] = {
	"endpoint", "ssh", "bastion", "gateway", "agent", "broker", "check", "aws", "deploy", "maintenance", NULL,
};

struct parser {
	const char *name; /* file name for messages */
	const char *home;
	FILE *f;
	int line;
	struct dcv_inventory *inv;
	struct dcv_err *err;
	int failed;
	/* current section */
	enum sect sect;
	char sect_name[128];
	struct dcv_host *host;
	/* keys seen in this section (repeats are errors except identity/names) */
	char seen[64][32];
	int n_seen;
	bool identity_seen; /* a host's first identity line replaces the defaults */
	unsigned sect_once; /* sections that may appear once */
	int broker_host_line; /* where [broker] host was set, checked once every host is known */
};

/* What a value may carry depends on where it lands. Paths and names are written into nginx,
 * HAProxy, TOML and dcv.conf files, where whitespace and ;{}#"'$`\ end or change a directive
 * or a string; text that reaches a shell only through dcv_shquote may hold any printable
 * character. Checked on the raw value, before a key's own parser. */
enum carry {
	CARRY_ANY = 0,  /* the key's parser decides */
	CARRY_TEXT,     /* printable: spaces allowed, no control characters */
	CARRY_WORD,     /* printable, no whitespace, none of the metacharacters above */
};

struct keydef {
	const char *key;
	unsigned sects;
	bool repeat;
	int (*set)(struct parser *p, const char *key, const char *v);
	enum carry carry;
};

static int fail(struct parser *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(struct parser *p, const char *fmt, ...)
{
	struct dcv_buf b = DCV_BUF_INIT;
	va_list ap;

	if (p->failed)
		return 0;
	dcv_buf_addf(&b, "%s:%d: ", p->name, p->line);
	va_start(ap, fmt);
	dcv_buf_vaddf(&b, fmt, ap);
	va_end(ap);
	dcv_err_set(p->err, DCV_E_CONFIG, "%s", dcv_buf_str(&b));
	dcv_buf_release(&b);
	p->failed = 1;
	return 0;
}

static int bad_value(struct parser *p, const char *key, const char *v, const char *want)
{
	return fail(p, "bad value '%s' for '%s' in [%s] (expected %s)", v, key, p->sect_name, want);
}

/* 1 when `v` fits `carry`; else fails naming the key and the first character it cannot carry. */
static int check_carry(struct parser *p, const char *key, const char *v, enum carry carry)
{
	static const char meta[] = ";{}#\"'$`\\";

	for (const unsigned char *c = (const unsigned char *)v; carry != CARRY_ANY && *c; c++) {
		char what[32];
		if (*c == '\t')
			snprintf(what, sizeof(what), "a tab");
		else if (*c < 0x20 || *c == 0x7f)
			snprintf(what, sizeof(what), "a control character (0x%02x)", *c);
		else if (carry == CARRY_WORD && *c == ' ')
			snprintf(what, sizeof(what), "a space");
		else if (carry == CARRY_WORD && strchr(meta, *c))
			snprintf(what, sizeof(what), "'%c'", *c);
		else
			continue;
		return fail(p, "'%s' in [%s] cannot contain %s%s", key, p->sect_name, what,
			    carry == CARRY_WORD ? " (it is written into proxy and DCV configs)" : "");
	}
	return 1;
}

static struct dcv_sshcfg *cur_ssh(struct parser *p)
{
	return p->host ? &p->host->ssh : &p->inv->ssh;
}

static char *expand_path(struct parser *p, const char *v)
{
	if (v[0] == '~' && (v[1] == '/' || v[1] == '\0') && p->home)
		return xasprintf("%s%s", p->home, v + 1);
	return xstrdup(v);
}

static void set_str(char **dst, const char *v)
{
	free(*dst);
	*dst = xstrdup(v);
}

/* ---- [endpoint] ---- */

static int k_url(struct parser *p, const char *key, const char *v)
{
	if (strncmp(v, "https://", 8) != 0 || !v[8])
		return bad_value(p, key, v, "an https:// URL");
	set_str(&p->inv->url, v);
	return 1;
}

static int k_connect_to(struct parser *p, const char *key, const char *v)
{
	char *h;
	int port;

	if (!dcv_parse_hostport(v, 0, &h, &port))
		return bad_value(p, key, v, "HOST:PORT");
	free(h);
	if (port == 0)
		return bad_value(p, key, v, "HOST:PORT");
	set_str(&p->inv->connect_to, v);
	return 1;
}

static int k_ca_file(struct parser *p, const char *key, const char *v)
{
	(void)key;
	free(p->inv->ca_file);
	p->inv->ca_file = expand_path(p, v);
	return 1;
}

static int k_names(struct parser *p, const char *key, const char *v)
{
	/* comma- or space-separated; the line may repeat */
	char *copy = xstrdup(v), *save = NULL;

	for (char *t = strtok_r(copy, ", \t", &save); t; t = strtok_r(NULL, ", \t", &save)) {
		if (!check_carry(p, key, t, CARRY_WORD)) {
			free(copy);
			return 0;
		}
		if (p->inv->n_names == DCV_MAX_NAMES) {
			free(copy);
			return fail(p, "too many '%s' (at most %d)", key, DCV_MAX_NAMES);
		}
		p->inv->names[p->inv->n_names++] = xstrdup(t);
	}
	free(copy);
	return 1;
}

static int k_proxy_url(struct parser *p, const char *key, const char *v)
{
	if (!strstr(v, "://")) {
		/* the error is printed: not the password of a proxy written without its scheme */
		char *shown = dcv_url_redact(v);
		int rc = bad_value(p, key, shown, "a proxy URL such as http://proxy:3128");
		free(shown);
		return rc;
	}
	set_str(&p->inv->proxy, v);
	return 1;
}

/* ---- [ssh] and per-host ssh keys ---- */

static int k_identity(struct parser *p, const char *key, const char *v)
{
	struct dcv_sshcfg *s = cur_ssh(p);

	(void)key;
	if (s->n_identity == DCV_MAX_IDENTITIES)
		return fail(p, "too many 'identity' lines (at most %d)", DCV_MAX_IDENTITIES);
	s->identity[s->n_identity++] = expand_path(p, v);
	return 1;
}

static int k_known_hosts(struct parser *p, const char *key, const char *v)
{
	struct dcv_sshcfg *s = cur_ssh(p);

	(void)key;
	free(s->known_hosts);
	s->known_hosts = expand_path(p, v);
	return 1;
}

static int k_policy(struct parser *p, const char *key, const char *v)
{
	struct dcv_sshcfg *s = cur_ssh(p);

	if (strcmp(v, "strict") == 0)
		s->host_key_policy = DCV_HOSTKEY_STRICT;
	else if (strcmp(v, "accept-new") == 0)
		s->host_key_policy = DCV_HOSTKEY_ACCEPT_NEW;
	else if (strcmp(v, "off") == 0)
		s->host_key_policy = DCV_HOSTKEY_OFF;
	else
		return bad_value(p, key, v, "strict, accept-new or off");
	return 1;
}

static int k_duration(struct parser *p, const char *key, const char *v, long *dst, long min_ms)
{
	long ms;

	if (!dcv_parse_duration(v, &ms) || ms < min_ms)
		return bad_value(p, key, v, "a duration such as 10s, 5m, 1h or bare seconds");
	*dst = ms;
	return 1;
}

static int k_connect_timeout(struct parser *p, const char *key, const char *v)
{
	return k_duration(p, key, v, &cur_ssh(p)->connect_timeout_ms, 1);
}

static int k_command_timeout(struct parser *p, const char *key, const char *v)
{
	return k_duration(p, key, v, &cur_ssh(p)->command_timeout_ms, 1);
}

static int k_parallel(struct parser *p, const char *key, const char *v)
{
	if (!dcv_parse_int(v, 1, 256, &cur_ssh(p)->parallel))
		return bad_value(p, key, v, "an integer from 1 to 256");
	return 1;
}

static int k_sudo(struct parser *p, const char *key, const char *v)
{
	bool b;

	if (!dcv_parse_bool(v, &b))
		return bad_value(p, key, v, "yes or no");
	cur_ssh(p)->sudo = b;
	return 1;
}

/* ---- hosts ---- */

static int k_address(struct parser *p, const char *key, const char *v)
{
	char *h = NULL;
	int port = 0;

	if (!dcv_parse_hostport(v, 0, &h, &port) || port != 0) {
		if (port)
			free(h);
		return bad_value(p, key, v, "a host name or IP address without port");
	}
	free(p->host->address);
	p->host->address = h;
	return 1;
}

static int k_ssh(struct parser *p, const char *key, const char *v)
{
	char *h;
	int port;

	if (!dcv_parse_hostport(v, 22, &h, &port))
		return bad_value(p, key, v, "HOST or HOST:PORT");
	free(p->host->ssh_host);
	p->host->ssh_host = h;
	p->host->ssh_port = port;
	return 1;
}

static int k_user(struct parser *p, const char *key, const char *v)
{
	for (const char *c = v; *c; c++)
		if (!(isalnum((unsigned char)*c) || strchr("._-$", *c)))
			return bad_value(p, key, v, "a user name");
	set_str(&p->host->user, v);
	return 1;
}

static int k_jump(struct parser *p, const char *key, const char *v)
{
	(void)key;
	set_str(&p->host->jump_spec, v);
	return 1;
}

static int k_proxy(struct parser *p, const char *key, const char *v)
{
	if (strcmp(v, "nginx") == 0)
		p->host->proxy = DCV_PROXY_NGINX;
	else if (strcmp(v, "haproxy") == 0)
		p->host->proxy = DCV_PROXY_HAPROXY;
	else if (strcmp(v, "connection-gateway") == 0)
		p->host->proxy = DCV_PROXY_CONNECTION_GATEWAY;
	else
		return bad_value(p, key, v, "nginx, haproxy or connection-gateway");
	return 1;
}

static int k_port_into(struct parser *p, const char *key, const char *v, int *dst)
{
	long n;

	if (!dcv_parse_int(v, 1, 65535, &n))
		return bad_value(p, key, v, "a port from 1 to 65535");
	*dst = (int)n;
	return 1;
}

static int k_listen(struct parser *p, const char *key, const char *v)
{
	return k_port_into(p, key, v, &p->host->listen);
}

static int k_port(struct parser *p, const char *key, const char *v)
{
	return k_port_into(p, key, v, &p->host->port);
}

static int k_remote_path(struct parser *p, const char *key, const char *v, char **dst)
{
	if (v[0] != '/')
		return bad_value(p, key, v, "an absolute path on the host");
	set_str(dst, v);
	return 1;
}

static int k_cert(struct parser *p, const char *key, const char *v)
{
	return k_remote_path(p, key, v, &p->host->cert);
}

static int k_key(struct parser *p, const char *key, const char *v)
{
	return k_remote_path(p, key, v, &p->host->key);
}

static int k_web_url_path(struct parser *p, const char *key, const char *v)
{
	return k_remote_path(p, key, v, &p->host->web_url_path);
}

static int k_authentication(struct parser *p, const char *key, const char *v)
{
	if (strcmp(v, "system") != 0 && strcmp(v, "none") != 0)
		return bad_value(p, key, v, "system or none");
	set_str(&p->host->authentication, v);
	return 1;
}

static int k_session(struct parser *p, const char *key, const char *v)
{
	if (v[0] == '-')
		return bad_value(p, key, v, "a session id not starting with '-'");
	for (const char *c = v; *c; c++)
		if (!(isalnum((unsigned char)*c) || strchr("._-", *c)))
			return bad_value(p, key, v, "a session id of letters, digits, '.', '_' or '-'");
	set_str(&p->host->session, v);
	p->host->session_line = p->line;
	return 1;
}

static int k_session_type(struct parser *p, const char *key, const char *v)
{
	if (strcmp(v, "console") != 0 && strcmp(v, "virtual") != 0)
		return bad_value(p, key, v, "console or virtual");
	set_str(&p->host->session_type, v);
	return 1;
}

static int k_session_owner(struct parser *p, const char *key, const char *v)
{
	(void)key;
	set_str(&p->host->session_owner, v);
	return 1;
}

static int k_session_name(struct parser *p, const char *key, const char *v)
{
	if (strlen(v) > 256)
		return bad_value(p, key, v, "at most 256 characters (dcv create-session --name)");
	set_str(&p->host->session_name, v);
	return 1;
}

static int k_backup(struct parser *p, const char *key, const char *v)
{
	if (!dcv_parse_bool(v, &p->host->backup))
		return bad_value(p, key, v, "yes or no");
	return 1;
}

/* ---- [broker], [check] ---- */

static int k_broker_host(struct parser *p, const char *key, const char *v)
{
	(void)key;
	set_str(&p->inv->broker_host, v);
	p->broker_host_line = p->line;
	return 1;
}

/* The gateway refuses an IP in [resolver] url (reference/dcv.md §3.1 [resolver], §7 item 6):
 * the name must be a DNS name the gateway resolves (its /etc/hosts will do). */
static int k_broker_name(struct parser *p, const char *key, const char *v)
{
	char *h = NULL;
	int port = 0;
	bool dotted = true;

	if (!dcv_parse_hostport(v, 0, &h, &port) || port != 0) {
		if (port)
			free(h);
		return bad_value(p, key, v, "a DNS name without port");
	}
	for (const char *c = h; *c; c++)
		if (!isdigit((unsigned char)*c) && *c != '.')
			dotted = false;
	if (dotted || strchr(h, ':')) {
		free(h);
		return bad_value(p, key, v, "a DNS name: the Connection Gateway refuses an IP address in [resolver] url");
	}
	for (const char *c = h; *c; c++)
		if (!(isalnum((unsigned char)*c) || *c == '-' || *c == '.')) {
			free(h);
			return bad_value(p, key, v, "a DNS name of letters, digits, '-' and '.'");
		}
	free(p->inv->broker_name);
	p->inv->broker_name = h;
	return 1;
}

static int k_resolver_port(struct parser *p, const char *key, const char *v)
{
	return k_port_into(p, key, v, &p->inv->resolver_port);
}

static int k_tls_client_auth(struct parser *p, const char *key, const char *v)
{
	if (!dcv_parse_bool(v, &p->inv->tls_client_auth))
		return bad_value(p, key, v, "yes or no");
	return 1;
}

static int k_cert_warn_days(struct parser *p, const char *key, const char *v)
{
	long n;

	if (!dcv_parse_int(v, 0, 3650, &n))
		return bad_value(p, key, v, "a number of days from 0 to 3650");
	p->inv->cert_warn_days = (int)n;
	return 1;
}

static int k_serial(struct parser *p, const char *key, const char *v)
{
	if (!dcv_amount_parse_serial(v, &p->inv->deploy_serial))
		return bad_value(p, key, v, "a number of agents per batch, or a percentage such as 25%");
	return 1;
}

static int k_max_fail(struct parser *p, const char *key, const char *v)
{
	if (!dcv_amount_parse_percent(v, &p->inv->deploy_max_fail))
		return bad_value(p, key, v, "a percentage of the agents from 0% to 100%");
	return 1;
}

static int k_hold(struct parser *p, const char *key, const char *v)
{
	return k_duration(p, key, v, &p->inv->hold_ms, 0);
}

static int k_http_expect(struct parser *p, const char *key, const char *v)
{
	char *copy = xstrdup(v), *save = NULL;
	int n = 0;

	for (char *t = strtok_r(copy, ", \t", &save); t; t = strtok_r(NULL, ", \t", &save)) {
		long code;
		if (!dcv_parse_int(t, 100, 599, &code) || n == 16) {
			free(copy);
			return bad_value(p, key, v, "HTTP status codes such as 200,302");
		}
		p->inv->http_expect[n++] = (int)code;
	}
	free(copy);
	if (!n)
		return bad_value(p, key, v, "HTTP status codes such as 200,302");
	p->inv->n_http_expect = n;
	return 1;
}

/* ---- [maintenance] ---- */

static int k_logrotate(struct parser *p, const char *key, const char *v)
{
	if (!dcv_parse_bool(v, &p->inv->logrotate))
		return bad_value(p, key, v, "yes or no");
	return 1;
}

static int k_health_restart(struct parser *p, const char *key, const char *v)
{
	if (!dcv_parse_bool(v, &p->inv->health_restart))
		return bad_value(p, key, v, "yes or no");
	return 1;
}

static int k_restart_limit(struct parser *p, const char *key, const char *v)
{
	long n;

	if (!dcv_parse_int(v, 0, 60, &n))
		return bad_value(p, key, v, "restarts per hour from 0 to 60");
	p->inv->restart_limit = (int)n;
	return 1;
}

/* systemd timers count in seconds; a probe more often than every 10 s would itself load the proxy */
static int k_health_interval(struct parser *p, const char *key, const char *v)
{
	long ms;

	if (!dcv_parse_duration(v, &ms) || ms < 10000 || ms > 3600000 || ms % 1000)
		return bad_value(p, key, v, "a duration from 10s to 1h in whole seconds, such as 1m");
	p->inv->health_interval_ms = ms;
	return 1;
}

/* ---- [aws]: values go to the aws CLI as arguments (never a shell); checked for their AWS form
 * so a typo is a file:line error rather than an API error at check time. */

/* Every character of `v` is in `set` (or alnum when `alnum`). */
static bool chars_in(const char *v, bool alnum, const char *set)
{
	for (; *v; v++)
		if (!((alnum && isalnum((unsigned char)*v)) || strchr(set, *v)))
			return false;
	return true;
}

/* "PREFIX-" and 8 or 17 lower-case hex digits: vpce-..., sg-... */
static bool aws_id(const char *v, const char *prefix)
{
	size_t n = strlen(prefix), hex = 0;

	if (strncmp(v, prefix, n) != 0 || v[n] != '-')
		return false;
	for (const char *h = v + n + 1; *h; h++, hex++)
		if (!isxdigit((unsigned char)*h) || isupper((unsigned char)*h))
			return false;
	return hex == 8 || hex == 17;
}

static int set_aws(char **field, const char *v)
{
	free(*field);
	*field = xstrdup(v);
	return 1;
}

static int k_aws_region(struct parser *p, const char *key, const char *v)
{
	/* ap-northeast-1, us-gov-west-1, cn-north-1 */
	const char *dash = strrchr(v, '-');
	if (!*v || !dash || !isdigit((unsigned char)dash[1]) || !chars_in(v, false, "abcdefghijklmnopqrstuvwxyz-0123456789") ||
	    !islower((unsigned char)v[0]))
		return bad_value(p, key, v, "an AWS region such as ap-northeast-1");
	return set_aws(&p->inv->aws_region, v);
}

static int k_aws_profile(struct parser *p, const char *key, const char *v)
{
	if (!*v || strlen(v) > 64 || !chars_in(v, true, "-_.@+="))
		return bad_value(p, key, v, "a profile name of ~/.aws/config (letters, digits, - _ . @ + =)");
	return set_aws(&p->inv->aws_profile, v);
}

static int k_aws_vpce(struct parser *p, const char *key, const char *v)
{
	if (!aws_id(v, "vpce"))
		return bad_value(p, key, v, "a VPC endpoint id such as vpce-0123456789abcdef0");
	return set_aws(&p->inv->aws_vpc_endpoint_id, v);
}

static int k_aws_tg(struct parser *p, const char *key, const char *v)
{
	/* arn:PARTITION:elasticloadbalancing:REGION:ACCOUNT:targetgroup/NAME/ID */
	if (!(strncmp(v, "arn:aws:", 8) == 0 || strncmp(v, "arn:aws-cn:", 11) == 0 || strncmp(v, "arn:aws-us-gov:", 15) == 0) ||
	    !strstr(v, ":elasticloadbalancing:") || !strstr(v, ":targetgroup/") || !chars_in(v, true, ":/-_."))
		return bad_value(p, key, v, "a target group ARN (arn:aws:elasticloadbalancing:REGION:ACCOUNT:targetgroup/NAME/ID)");
	return set_aws(&p->inv->aws_target_group_arn, v);
}

static int k_aws_sgs(struct parser *p, const char *key, const char *v)
{
	char *copy = xstrdup(v), *save = NULL;
	struct dcv_buf ids = DCV_BUF_INIT;
	int n = 0;

	for (char *t = strtok_r(copy, ", \t", &save); t; t = strtok_r(NULL, ", \t", &save), n++) {
		if (!aws_id(t, "sg") || n == 16) {
			free(copy);
			dcv_buf_release(&ids);
			return bad_value(p, key, v, "security group ids such as sg-0123456789abcdef0 (up to 16)");
		}
		dcv_buf_addf(&ids, "%s%s", ids.len ? " " : "", t);
	}
	free(copy);
	if (!n)
		return bad_value(p, key, v, "security group ids such as sg-0123456789abcdef0 (up to 16)");
	free(p->inv->aws_security_group_ids);
	p->inv->aws_security_group_ids = dcv_buf_detach(&ids);
	return 1;
}

static const struct keydef keys[] = {
	{ "url", S_ENDPOINT, false, k_url },
	{ "connect-to", S_ENDPOINT, false, k_connect_to },
	{ "ca-file", S_ENDPOINT, false, k_ca_file, CARRY_TEXT },
	{ "names", S_ENDPOINT, true, k_names },
	{ "proxy", S_ENDPOINT, false, k_proxy_url },

	{ "identity", S_SSH | S_HOSTS, true, k_identity, CARRY_TEXT },
	{ "known-hosts", S_SSH | S_HOSTS, false, k_known_hosts, CARRY_TEXT },
	{ "host-key-policy", S_SSH | S_HOSTS, false, k_policy },
	{ "connect-timeout", S_SSH | S_HOSTS, false, k_connect_timeout },
	{ "command-timeout", S_SSH | S_HOSTS, false, k_command_timeout },
	{ "parallel", S_SSH | S_HOSTS, false, k_parallel },
	{ "sudo", S_SSH | S_HOSTS, false, k_sudo },

	{ "address", S_HOSTS, false, k_address, CARRY_WORD },
	{ "ssh", S_HOSTS, false, k_ssh, CARRY_WORD },
	{ "user", S_HOSTS, false, k_user },
	{ "jump", S_HOSTS, false, k_jump, CARRY_WORD },

	{ "proxy", S_GATEWAY, false, k_proxy },
	{ "listen", S_GATEWAY, false, k_listen },
	{ "cert", S_GATEWAY, false, k_cert, CARRY_WORD },
	{ "key", S_GATEWAY, false, k_key, CARRY_WORD },

	{ "port", S_AGENT, false, k_port },
	{ "web-url-path", S_AGENT, false, k_web_url_path, CARRY_WORD },
	{ "authentication", S_AGENT, false, k_authentication },
	{ "session", S_AGENT, false, k_session },
	{ "session-type", S_AGENT, false, k_session_type },
	{ "session-owner", S_AGENT, false, k_session_owner, CARRY_WORD },
	{ "session-name", S_AGENT, false, k_session_name, CARRY_TEXT },
	{ "backup", S_AGENT, false, k_backup },

	{ "host", S_BROKER, false, k_broker_host, CARRY_WORD },
	{ "name", S_BROKER, false, k_broker_name, CARRY_WORD },
	{ "resolver-port", S_BROKER, false, k_resolver_port },
	{ "tls-client-auth", S_BROKER, false, k_tls_client_auth },

	{ "cert-warn-days", S_CHECK, false, k_cert_warn_days },
	{ "hold", S_CHECK, false, k_hold },
	{ "http-expect", S_CHECK, false, k_http_expect },

	{ "serial", S_DEPLOY, false, k_serial },
	{ "max-fail", S_DEPLOY, false, k_max_fail },

	{ "logrotate", S_MAINT, false, k_logrotate },
	{ "health-restart", S_MAINT, false, k_health_restart },
	{ "restart-limit", S_MAINT, false, k_restart_limit },
	{ "health-interval", S_MAINT, false, k_health_interval },

	{ "region", S_AWS, false, k_aws_region },
	{ "profile", S_AWS, false, k_aws_profile },
	{ "vpc-endpoint-id", S_AWS, false, k_aws_vpce },
	{ "target-group-arn", S_AWS, false, k_aws_tg },
	{ "security-group-ids", S_AWS, false, k_aws_sgs },
};

#define N_KEYS (sizeof(keys) / sizeof(keys[0]))

static int unknown_key(struct parser *p, const char *key)
{
	const char *cands[N_KEYS];
	size_t n = 0;
	const char *near;

	for (size_t i = 0; i < N_KEYS; i++)
		if (keys[i].sects & p->sect)
			cands[n++] = keys[i].key;
	near = dcv_nearest(key, cands, n);
	if (near)
		return fail(p, "unknown key '%s' in [%s] (did you mean '%s'?)", key, p->sect_name,
			    near);
	for (size_t i = 0; i < N_KEYS; i++)
		if (strcmp(keys[i].key, key) == 0)
			return fail(p, "key '%s' does not belong in [%s]", key, p->sect_name);
	return fail(p, "unknown key '%s' in [%s]", key, p->sect_name);
}

static struct dcv_host *host_new(struct parser *p, const char *name, enum dcv_role role)
{
	struct dcv_inventory *inv = p->inv;
	struct dcv_host *h = xcalloc(1, sizeof(*h));

	h->name = xstrdup(name);
	h->role = role;
	h->line = p->line;
	h->ssh.host_key_policy = DCV_HOSTKEY_UNSET;
	h->ssh.connect_timeout_ms = -1;
	h->ssh.command_timeout_ms = -1;
	h->ssh.parallel = -1;
	h->ssh.sudo = -1;
	h->proxy = DCV_PROXY_NGINX;
	inv->hosts = xrealloc(inv->hosts, sizeof(*inv->hosts) * (size_t)(inv->n_hosts + 1));
	inv->hosts[inv->n_hosts++] = h;
	return h;
}

static bool valid_host_name(const char *s)
{
	if (!*s || strlen(s) > 63)
		return false;
	for (; *s; s++)
		if (!(isalnum((unsigned char)*s) || *s == '-' || *s == '_' || *s == '.'))
			return false;
	return true;
}

/* Called by our reader for every section header, so sections without keys are seen too. */
static void begin_section(struct parser *p, const char *raw)
{
	static const char *names[] = { "endpoint", "ssh", "bastion", "gateway", "agent",
				       "broker", "check", "aws", "deploy", "maintenance" };
	static const enum sect kinds[] = { S_ENDPOINT, S_SSH, S_BASTION, S_GATEWAY,
					   S_AGENT, S_BROKER, S_CHECK, S_AWS, S_DEPLOY, S_MAINT };
	char word[128], arg[128];
	int n;

	p->host = NULL;
	p->n_seen = 0;
	p->identity_seen = false;
	p->sect = S_NONE;
	snprintf(p->sect_name, sizeof(p->sect_name), "%s", raw);
	arg[0] = '\0';
	n = sscanf(raw, "%127s %127s", word, arg);
	if (n < 1) {
		fail(p, "empty section name");
		return;
	}
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (strcmp(word, names[i]) != 0)
			continue;
		p->sect = kinds[i];
		if (p->sect == S_AGENT) {
			if (n < 2 || !valid_host_name(arg) || strchr(raw + strlen("agent "), ' ')) {
				fail(p, "section [agent] needs a name: [agent NAME] (letters, digits, '-', '_', '.')");
				return;
			}
			if (strcmp(arg, "bastion") == 0 || strcmp(arg, "gateway") == 0 ||
			    strcmp(arg, "endpoint") == 0) {
				fail(p, "agent name '%s' is reserved", arg);
				return;
			}
			if (dcv_inventory_host(p->inv, arg)) {
				fail(p, "section [agent %s] appears twice", arg);
				return;
			}
			p->host = host_new(p, arg, DCV_ROLE_AGENT);
			return;
		}
		if (n > 1) {
			fail(p, "section [%s] takes no name", word);
			return;
		}
		if (p->sect_once & p->sect) {
			fail(p, "section [%s] appears twice", word);
			return;
		}
		p->sect_once |= p->sect;
		if (p->sect == S_BASTION)
			p->host = host_new(p, "bastion", DCV_ROLE_BASTION);
		else if (p->sect == S_GATEWAY)
			p->host = host_new(p, "gateway", DCV_ROLE_GATEWAY);
		else if (p->sect == S_AWS)
			p->inv->aws = true;
		return;
	}
	const char *near = dcv_nearest(word, names, sizeof(names) / sizeof(names[0]));
	if (near)
		fail(p, "unknown section [%s] (did you mean [%s]?)", raw, near);
	else
		fail(p, "unknown section [%s]", raw);
}

static int handler(void *user, const char *section, const char *key, const char *value)
{
	struct parser *p = user;
	const struct keydef *kd = NULL;
	char val[256];
	size_t vl;

	(void)section;
	if (p->failed)
		return 1;
	if (p->sect == S_NONE)
		return fail(p, "key '%s' outside any section", key);
	/* Double quotes around a value are optional and dropped. */
	vl = strlen(value);
	if (vl >= 2 && value[0] == '"' && value[vl - 1] == '"')
		snprintf(val, sizeof(val), "%.*s", (int)(vl - 2), value + 1);
	else
		snprintf(val, sizeof(val), "%s", value);
	for (size_t i = 0; i < N_KEYS; i++)
		if ((keys[i].sects & p->sect) && strcmp(keys[i].key, key) == 0)
			kd = &keys[i];
	if (!kd)
		return unknown_key(p, key);
	if (!val[0])
		return fail(p, "empty value for '%s' in [%s]", key, p->sect_name);
	if (!kd->repeat) {
		for (int i = 0; i < p->n_seen; i++)
			if (strcmp(p->seen[i], key) == 0)
				return fail(p, "'%s' set twice in [%s]", key, p->sect_name);
		if (p->n_seen < 64)
			snprintf(p->seen[p->n_seen++], sizeof(p->seen[0]), "%s", key);
	}
	if (check_carry(p, key, val, kd->carry))
		kd->set(p, key, val);
	return 1;
}

/* Strip a trailing ` # comment` or ` ; comment` outside double quotes. */
static void strip_inline_comment(char *s)
{
	bool quoted = false;

	for (char *c = s; *c; c++) {
		if (*c == '"')
			quoted = !quoted;
		else if (!quoted && (*c == '#' || *c == ';') && c > s && isspace((unsigned char)c[-1])) {
			*c = '\0';
			break;
		}
	}
}

/* inih's reader: one physical line per call, comments blanked, section headers noted. */
static char *reader(char *str, int num, void *stream)
{
	struct parser *p = stream;
	char line[4096];
	size_t len;

	if (p->failed || !fgets(line, sizeof(line), p->f))
		return NULL;
	p->line++;
	len = strlen(line);
	if (len && line[len - 1] != '\n' && !feof(p->f)) {
		fail(p, "line too long (at most %d characters)", num - 2);
		return NULL;
	}
	while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
		line[--len] = '\0';
	if ((int)len > num - 2) {
		fail(p, "line too long (at most %d characters)", num - 2);
		return NULL;
	}
	if (len && isspace((unsigned char)line[0])) {
		char *t = line;
		while (isspace((unsigned char)*t))
			t++;
		if (*t && *t != '#' && *t != ';') {
			fail(p, "indented line: a value never continues on the next line; start keys at column 1");
			return NULL;
		}
		line[0] = '\0';
	}
	if (line[0] == '#' || line[0] == ';')
		line[0] = '\0';
	strip_inline_comment(line);
	if (line[0] == '[') {
		char *close = strchr(line, ']');
		if (!close) {
			fail(p, "section header without ']'");
			return NULL;
		}
		*close = '\0';
		for (char *t = close + 1; *t; t++)
			if (!isspace((unsigned char)*t)) {
				fail(p, "text after section header");
				return NULL;
			}
		begin_section(p, line + 1);
		if (p->failed)
			return NULL;
		/* inih only needs to know a header was here */
		snprintf(str, (size_t)num, "[%s]", p->sect_name);
		return str;
	}
	snprintf(str, (size_t)num, "%s", line);
	return str;
}

/* [broker] host names a host section (dcvctl.conf.5), which may come after [broker]. */
static int broker_host_known(struct parser *p)
{
	const char *spec = p->inv->broker_host, *near;

	if (!spec || dcv_inventory_host(p->inv, spec))
		return 1;
	p->line = p->broker_host_line;
	near = dcv_inventory_suggest_host(p->inv, spec);
	if (near)
		return fail(p, "'host = %s' in [broker] names no host (did you mean '%s'?)", spec, near);
	return fail(p, "'host = %s' in [broker] names no host section", spec);
}

/* The resolver looks a session up by its id alone (reference/dcv.md §4: sessionId is the only
 * key of POST /resolveSession), so behind the Connection Gateway two agents with one id would
 * send users to whichever the broker finds first. Run after defaults: `console` counts. */
static int unique_sessions(struct parser *p)
{
	struct dcv_inventory *inv = p->inv;
	const struct dcv_host *gw = dcv_inventory_gateway(inv);

	if (!gw || gw->proxy != DCV_PROXY_CONNECTION_GATEWAY)
		return 1;
	for (int i = 0; i < inv->n_hosts; i++) {
		const struct dcv_host *b = inv->hosts[i];
		if (b->role != DCV_ROLE_AGENT)
			continue;
		for (int j = 0; j < i; j++) {
			const struct dcv_host *a = inv->hosts[j];
			if (a->role != DCV_ROLE_AGENT || strcmp(a->session, b->session) != 0)
				continue;
			p->line = b->session_line ? b->session_line : b->line;
			return fail(p, "session '%s' of [agent %s] is also the session of [agent %s]: with "
				       "proxy = connection-gateway the broker resolves a session by its id alone, "
				       "so every agent needs its own (set 'session = ...' in [agent %s])",
				    b->session, b->name, a->name, b->name);
		}
	}
	return 1;
}

static int resolve_defaults(struct parser *p)
{
	struct dcv_inventory *inv = p->inv;
	const struct dcv_sshcfg *d = &inv->ssh;

	for (int i = 0; i < inv->n_hosts; i++) {
		struct dcv_host *h = inv->hosts[i];
		struct dcv_sshcfg *s = &h->ssh;

		if (!s->n_identity)
			for (int k = 0; k < d->n_identity; k++)
				s->identity[s->n_identity++] = xstrdup(d->identity[k]);
		if (!s->known_hosts)
			s->known_hosts = d->known_hosts ? xstrdup(d->known_hosts)
							: (p->home ? xasprintf("%s/.ssh/known_hosts", p->home) : NULL);
		if (s->host_key_policy == DCV_HOSTKEY_UNSET)
			s->host_key_policy = d->host_key_policy != DCV_HOSTKEY_UNSET ? d->host_key_policy
										     : DCV_HOSTKEY_STRICT;
		if (s->connect_timeout_ms < 0)
			s->connect_timeout_ms = d->connect_timeout_ms >= 0 ? d->connect_timeout_ms : 10000;
		if (s->command_timeout_ms < 0)
			s->command_timeout_ms = d->command_timeout_ms >= 0 ? d->command_timeout_ms : 120000;
		if (s->parallel < 0)
			s->parallel = d->parallel >= 0 ? d->parallel : 16;
		if (s->sudo < 0)
			s->sudo = d->sudo >= 0 ? d->sudo : 1;

		if (!h->ssh_host && h->address) {
			h->ssh_host = xstrdup(h->address);
			h->ssh_port = 22;
		}
		if (h->role == DCV_ROLE_GATEWAY) {
			if (!h->listen)
				h->listen = 8443;
			if (!h->cert)
				h->cert = xstrdup("/etc/dcv-connection-gateway/cert.pem");
			if (!h->key)
				h->key = xstrdup("/etc/dcv-connection-gateway/key.pem");
		}
		if (h->role == DCV_ROLE_AGENT) {
			if (!h->port)
				h->port = 8443;
			if (!h->web_url_path)
				h->web_url_path = xstrdup("/");
			if (!h->session)
				h->session = xstrdup("console");
			if (!h->session_type)
				h->session_type = xstrdup("console");
			if (!h->session_owner && h->user)
				h->session_owner = xstrdup(h->user);
		}
	}
	if (!inv->resolver_port)
		inv->resolver_port = 8447;
	if (inv->cert_warn_days < 0)
		inv->cert_warn_days = 30;
	if (!inv->n_http_expect) {
		inv->http_expect[0] = 200;
		inv->http_expect[1] = 302;
		inv->n_http_expect = 2;
	}
	return 0;
}

static int require_keys(struct parser *p)
{
	struct dcv_inventory *inv = p->inv;

	for (int i = 0; i < inv->n_hosts; i++) {
		struct dcv_host *h = inv->hosts[i];
		const char *missing = !h->address ? "address" : !h->user ? "user" : NULL;

		if (missing) {
			p->line = h->line;
			if (h->role == DCV_ROLE_AGENT)
				return fail(p, "missing required key '%s' in [agent %s]", missing, h->name);
			return fail(p, "missing required key '%s' in [%s]", missing, h->name);
		}
	}
	return 1;
}

/* `jump = bastion` names a section; `jump = user@host:port` makes an implicit host. */
static int resolve_jumps(struct parser *p)
{
	struct dcv_inventory *inv = p->inv;
	int n = inv->n_hosts;

	for (int i = 0; i < n; i++) {
		struct dcv_host *h = inv->hosts[i];
		const char *spec = h->jump_spec;

		if (!spec)
			continue;
		p->line = h->line;
		if (strchr(spec, '@') || strchr(spec, ':')) {
			const char *at = strchr(spec, '@');
			char *host;
			int port;

			if (at && at == spec)
				return fail(p, "bad value '%s' for 'jump' in [%s] (expected a host section name or user@host:port)",
					    spec, h->name);
			if (!dcv_parse_hostport(at ? at + 1 : spec, 22, &host, &port))
				return fail(p, "bad value '%s' for 'jump' in [%s] (expected a host section name or user@host:port)",
					    spec, h->name);
			struct dcv_host *j = dcv_inventory_host(inv, spec);
			if (!j) {
				int line = p->line;
				j = host_new(p, spec, DCV_ROLE_JUMP);
				j->line = 0;
				p->line = line;
				j->address = xstrdup(host);
				j->ssh_host = host;
				j->ssh_port = port;
				j->user = at ? xstrndup(spec, (size_t)(at - spec)) : xstrdup(h->user ? h->user : "root");
			} else {
				free(host);
			}
			h->jump = j;
			continue;
		}
		h->jump = dcv_inventory_host(inv, spec);
		if (!h->jump) {
			const char *near = dcv_inventory_suggest_host(inv, spec);
			if (near)
				return fail(p, "'jump = %s' in [%s] names no host (did you mean '%s'?)", spec,
					    h->name, near);
			return fail(p, "'jump = %s' in [%s] names no host", spec, h->name);
		}
		if (h->jump == h)
			return fail(p, "'jump = %s' in [%s] jumps through itself", spec, h->name);
	}
	/* loops: follow each chain at most n_hosts steps */
	for (int i = 0; i < inv->n_hosts; i++) {
		struct dcv_host *h = inv->hosts[i], *j = h->jump;
		for (int steps = 0; j; j = j->jump, steps++) {
			if (j == h || steps > inv->n_hosts) {
				p->line = h->line;
				return fail(p, "jump loop: [%s] reaches itself through 'jump'", h->name);
			}
		}
	}
	return 1;
}

int dcv_inventory_parse(FILE *f, const char *name, const char *home, struct dcv_inventory **out,
			struct dcv_err *err)
{
	struct dcv_inventory *inv = xcalloc(1, sizeof(*inv));
	struct parser p = { 0 };
	int rc;

	inv->path = xstrdup(name);
	inv->ssh.host_key_policy = DCV_HOSTKEY_UNSET;
	inv->ssh.connect_timeout_ms = -1;
	inv->ssh.command_timeout_ms = -1;
	inv->ssh.parallel = -1;
	inv->ssh.sudo = -1;
	inv->cert_warn_days = -1;
	inv->deploy_serial = (struct dcv_amount)DCV_AMOUNT_UNSET;
	inv->deploy_max_fail = (struct dcv_amount)DCV_AMOUNT_UNSET;
	inv->logrotate = true;
	inv->health_restart = true;
	inv->restart_limit = 3;
	inv->health_interval_ms = 60000;
	p.name = name;
	p.home = home;
	p.f = f;
	p.inv = inv;
	p.err = err;

	rc = ini_parse_stream(reader, &p, handler, &p);
	if (!p.failed && rc > 0) {
		p.line = rc;
		fail(&p, "expected 'key = value', a [section] or a comment");
	}
	if (!p.failed && ferror(f))
		dcv_err_set(err, DCV_E_IO, "cannot read '%s': %s", name, strerror(errno)), p.failed = 2;
	if (!p.failed && inv->n_hosts == 0) {
		dcv_err_set(err, DCV_E_CONFIG, "%s: no hosts: add [gateway], [bastion] or [agent NAME]", name);
		p.failed = 1;
	}
	if (!p.failed)
		require_keys(&p);
	if (!p.failed)
		resolve_jumps(&p);
	if (!p.failed)
		broker_host_known(&p);
	if (!p.failed)
		resolve_defaults(&p);
	if (!p.failed)
		unique_sessions(&p);
	if (p.failed) {
		dcv_inventory_free(inv);
		return err ? err->code : DCV_E_CONFIG;
	}
	*out = inv;
	return DCV_OK;
}

int dcv_inventory_load(const char *path, const char *home, struct dcv_inventory **out,
		       struct dcv_err *err)
{
	FILE *f = fopen(path, "r");
	int rc;

	if (!f)
		return dcv_err_set(err, DCV_E_CONFIG, "cannot read '%s': %s", path, strerror(errno));
	rc = dcv_inventory_parse(f, path, home, out, err);
	fclose(f);
	return rc;
}

static void sshcfg_release(struct dcv_sshcfg *s)
{
	for (int i = 0; i < s->n_identity; i++)
		free(s->identity[i]);
	free(s->known_hosts);
}

void dcv_inventory_free(struct dcv_inventory *inv)
{
	if (!inv)
		return;
	for (int i = 0; i < inv->n_hosts; i++) {
		struct dcv_host *h = inv->hosts[i];
		free(h->name);
		free(h->address);
		free(h->ssh_host);
		free(h->user);
		free(h->jump_spec);
		sshcfg_release(&h->ssh);
		free(h->cert);
		free(h->key);
		free(h->web_url_path);
		free(h->authentication);
		free(h->session);
		free(h->session_type);
		free(h->session_owner);
		free(h->session_name);
		free(h);
	}
	free(inv->hosts);
	sshcfg_release(&inv->ssh);
	free(inv->path);
	free(inv->url);
	free(inv->connect_to);
	free(inv->ca_file);
	for (int i = 0; i < inv->n_names; i++)
		free(inv->names[i]);
	free(inv->proxy);
	free(inv->broker_host);
	free(inv->broker_name);
	free(inv->aws_region);
	free(inv->aws_profile);
	free(inv->aws_vpc_endpoint_id);
	free(inv->aws_target_group_arn);
	free(inv->aws_security_group_ids);
	free(inv);
}

struct dcv_host *dcv_inventory_host(const struct dcv_inventory *inv, const char *name)
{
	for (int i = 0; i < inv->n_hosts; i++)
		if (strcmp(inv->hosts[i]->name, name) == 0)
			return inv->hosts[i];
	return NULL;
}

struct dcv_host *dcv_inventory_gateway(const struct dcv_inventory *inv)
{
	for (int i = 0; i < inv->n_hosts; i++)
		if (inv->hosts[i]->role == DCV_ROLE_GATEWAY)
			return inv->hosts[i];
	return NULL;
}

const char *dcv_inventory_suggest_host(const struct dcv_inventory *inv, const char *name)
{
	const char **names = xcalloc((size_t)inv->n_hosts + 1, sizeof(*names));
	const char *near;

	for (int i = 0; i < inv->n_hosts; i++)
		names[i] = inv->hosts[i]->name;
	near = dcv_nearest(name, names, (size_t)inv->n_hosts);
	free(names);
	return near;
}

const char *dcv_role_name(enum dcv_role r)
{
	switch (r) {
	case DCV_ROLE_BASTION: return "bastion";
	case DCV_ROLE_GATEWAY: return "gateway";
	case DCV_ROLE_AGENT: return "agent";
	case DCV_ROLE_JUMP: return "jump";
	}
	return "?";
}

const char *dcv_proxy_name(enum dcv_proxy p)
{
	switch (p) {
	case DCV_PROXY_NGINX: return "nginx";
	case DCV_PROXY_HAPROXY: return "haproxy";
	case DCV_PROXY_CONNECTION_GATEWAY: return "connection-gateway";
	}
	return "?";
}

const char *dcv_hostkey_policy_name(int p)
{
	switch (p) {
	case DCV_HOSTKEY_STRICT: return "strict";
	case DCV_HOSTKEY_ACCEPT_NEW: return "accept-new";
	case DCV_HOSTKEY_OFF: return "off";
	}
	return "unset";
}
