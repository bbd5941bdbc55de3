/* The Amazon DCV Connection Gateway as the gateway's proxy, with the Session Manager broker as
 * its Session Resolver (seed 004). Every key below is one reference/dcv.md §3.1 documents [S14]. */
#include "proxy_gateway.h"

#include "err.h"
#include "inventory.h"
#include "util.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

/* An IPv4 or IPv6 literal, with or without the brackets of a URL. */
static bool is_ip(const char *host, size_t len)
{
	char tmp[64];
	unsigned char addr[16];

	if (len >= 2 && host[0] == '[' && host[len - 1] == ']') {
		host++;
		len -= 2;
	}
	if (len == 0 || len >= sizeof(tmp))
		return false;
	memcpy(tmp, host, len);
	tmp[len] = '\0';
	return inet_pton(AF_INET, tmp, addr) == 1 || inet_pton(AF_INET6, tmp, addr) == 1;
}

/* Letters, digits, '-' and '.', and not an IPv4 literal: what a URL host can be as is. */
static bool dns_name(const char *s)
{
	size_t n = strlen(s);

	if (!n || is_ip(s, n))
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '-' && *s != '.')
			return false;
	return true;
}

int dcv_gateway_resolver_name(const struct dcv_inventory *inv, const char **name, struct dcv_err *err)
{
	const struct dcv_host *b;

	if (inv->broker_name) {
		*name = inv->broker_name;
		return DCV_OK;
	}
	/* the inventory has checked that [broker] host names a host */
	b = inv->broker_host ? dcv_inventory_host(inv, inv->broker_host) : dcv_inventory_gateway(inv);
	if (!b)
		return dcv_err_set(err, DCV_E_CONFIG,
				   "no broker host: add [gateway] or 'host = ...' in [broker] of '%s'", inv->path);
	if (dns_name(b->address)) {
		*name = b->address;
		return DCV_OK;
	}
	/* reference/dcv.md §3.1 [resolver]: "host must be a domain name, IP addresses are not supported" */
	return dcv_err_set(err, DCV_E_CONFIG,
			   "the Connection Gateway needs a DNS name in [resolver] url and refuses an IP, but the "
			   "broker ([%s]) has only the address '%s': set 'name = broker.example.internal' in [broker] "
			   "of '%s' and make that name resolve on the gateway (its DNS or /etc/hosts)",
			   b->name, b->address, inv->path);
}

/* A TOML basic string. */
static void toml_str(struct dcv_buf *out, const char *s)
{
	dcv_buf_addc(out, '"');
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			dcv_buf_addc(out, '\\');
		dcv_buf_addc(out, *s);
	}
	dcv_buf_addc(out, '"');
}

static void key_str(struct dcv_buf *out, const char *key, const char *value)
{
	dcv_buf_addf(out, "%s = ", key);
	toml_str(out, value);
	dcv_buf_addc(out, '\n');
}

static void render_file(const struct dcv_inventory *inv, const char *resolver, const char *dcv_ca_file,
			struct dcv_buf *out)
{
	const struct dcv_host *gw = dcv_inventory_gateway(inv);
	int listen = gw ? gw->listen : 8443;
	const char *cert = gw ? gw->cert : "/etc/dcv-connection-gateway/cert.pem";
	const char *key = gw ? gw->key : "/etc/dcv-connection-gateway/key.pem";
	char *url = xasprintf("https://%s:%d", resolver, inv->resolver_port);

	dcv_buf_adds(out,
		     "# Managed by dcvctl (dcvctl deploy): edits here are replaced on the next deploy.\n"
		     "# Amazon DCV Connection Gateway: client -> PrivateLink endpoint -> this gateway -> DCV\n"
		     "# servers; the Session Manager broker, as Session Resolver, names each session's server\n"
		     "# (reference/dcv.md §3, §4, §5.1).\n"
		     "\n"
		     "[gateway]\n"
		     "# Required, non-empty (§3.1). No quic-listen-endpoints: QUIC stays off, since the path\n"
		     "# through PrivateLink is designed for TCP 8443 only (§7 item 3).\n");
	dcv_buf_addf(out, "web-listen-endpoints = [\"0.0.0.0:%d\"]\n", listen);
	dcv_buf_adds(out, "# The certificate clients see; the key must be PKCS#8 (§3.1).\n");
	key_str(out, "cert-file", cert);
	key_str(out, "cert-key-file", key);
	dcv_buf_adds(out,
		     "# The default 10 s equals DCV's 10 s WebSocket keepalive (§7 item 6); 400 s stays above\n"
		     "# PrivateLink's fixed 350 s idle timeout, so the gateway never cuts a quiet session first.\n"
		     "tcp-idle-timeout = 400\n"
		     "\n"
		     "[resolver]\n"
		     "# The broker's gateway connector (gateway-to-broker-connector-https-port, §5.1); the\n"
		     "# gateway appends /resolveSession (§4). A DNS name: an IP is refused (§3.1).\n");
	key_str(out, "url", url);
	dcv_buf_adds(out, "# The broker's self-signed CA (dcvsmbroker_ca.pem, §5.1).\n");
	key_str(out, "ca-file", DCV_GATEWAY_BROKER_CA);
	if (inv->tls_client_auth) {
		dcv_buf_adds(out,
			     "# TLS client authentication towards the broker: the certificate and key\n"
			     "# gen-gateway-certificates.sh made on the broker (§5.1).\n");
		key_str(out, "cert-file", DCV_GATEWAY_CLIENT_CERT);
		key_str(out, "cert-key-file", DCV_GATEWAY_CLIENT_KEY);
	}
	dcv_buf_adds(out, "\n[dcv]\n");
	if (dcv_ca_file) {
		dcv_buf_adds(out, "# The agents' certificates verify against this CA (§3.1 [dcv]).\n"
				  "tls-strict = true\n");
		key_str(out, "ca-file", dcv_ca_file);
	} else {
		dcv_buf_adds(out, "# DCV servers present their own self-signed dcv.pem, which tls-strict = true\n"
				  "# (the default) rejects (§3.1 [dcv], §7 item 6).\n"
				  "tls-strict = false\n");
	}
	dcv_buf_adds(out,
		     "\n"
		     "[web-resources]\n"
		     "# The gateway ships no web client: nice-dcv-web-viewer's files serve browsers (§3).\n");
	key_str(out, "local-resources-path", DCV_GATEWAY_WEB_ROOT);
	dcv_buf_adds(out,
		     "\n"
		     "[health-check]\n"
		     "# A TCP-level check for the NLB target group; unset bind-addr would disable it (§3.1,\n"
		     "# §3.2). The port of the docs' NLB example.\n");
	key_str(out, "bind-addr", "0.0.0.0");
	dcv_buf_addf(out, "port = %d\n", DCV_GATEWAY_HEALTH_PORT);
	free(url);
}

int dcv_render_gateway(const struct dcv_inventory *inv, const char *dcv_ca_file, struct dcv_buf *out,
		       struct dcv_err *err)
{
	const char *name;
	int rc = dcv_gateway_resolver_name(inv, &name, err);

	if (rc)
		return rc;
	render_file(inv, name, dcv_ca_file, out);
	return DCV_OK;
}

/* ------------------------------------------------------------------ lint */

/* The documented schema (§3.1). */
struct tsection {
	const char *name;
	const char *const *keys;
};

static const char *const k_gateway[] = {
	"bind-addr", "cert-file", "cert-key-file", "ciphers-tls", "enable-quic-connections-stats",
	"enable-tcp-connections-stats", "graceful-shutdown-timeout", "minimum-tls-version",
	"quic-idle-timeout", "quic-listen-endpoints", "quic-max-connections", "quic-port",
	"tcp-idle-timeout", "tcp-max-connections", "web-listen-endpoints", "web-port", NULL,
};
static const char *const k_log[] = { "directory", "level", "max-file-size", "rolling-frequency", "rotate", NULL };
static const char *const k_health[] = { "bind-addr", "port", NULL };
static const char *const k_dcv[] = {
	"ca-file", "ciphers-tls", "enable-quic-connections-stats", "enable-tcp-connections-stats",
	"minimum-tls-version", "tls-strict", NULL,
};
static const char *const k_resolver[] = {
	"url", "ca-file", "cert-file", "cert-key-file", "ciphers-tls", "minimum-tls-version",
	"http-establish-timeout", "tls-strict", NULL,
};
static const char *const k_web[] = {
	"url", "local-resources-path", "local-resources-http-headers", "ca-file", "ciphers-tls",
	"minimum-tls-version", "http-establish-timeout", "tls-strict", NULL,
};
static const char *const k_statsd[] = { "endpoints", "port", NULL };

static const struct tsection schema[] = {
	{ "gateway", k_gateway },   { "log", k_log },       { "health-check", k_health },
	{ "dcv", k_dcv },           { "resolver", k_resolver }, { "web-resources", k_web },
	{ "metrics-reporter-statsd", k_statsd },
};
#define N_SCHEMA (sizeof(schema) / sizeof(schema[0]))

/* One `key = value` as read: the value is the raw TOML text, a string unquoted. */
struct tkey {
	const struct tsection *sect;
	char *key;
	char *value;
	bool string;
	int line;
};

struct tfile {
	struct tkey *v;
	int n;
};

static const struct tsection *find_section(const char *name)
{
	for (size_t i = 0; i < N_SCHEMA; i++)
		if (strcmp(schema[i].name, name) == 0)
			return &schema[i];
	return NULL;
}

static const struct tkey *get(const struct tfile *t, const char *sect, const char *key)
{
	for (int i = 0; i < t->n; i++)
		if (strcmp(t->v[i].sect->name, sect) == 0 && strcmp(t->v[i].key, key) == 0)
			return &t->v[i];
	return NULL;
}

static void tfile_release(struct tfile *t)
{
	for (int i = 0; i < t->n; i++) {
		free(t->v[i].key);
		free(t->v[i].value);
	}
	free(t->v);
}

/* An array with no element: "[]", "[ ]" (a string is not an array, so it counts as empty). */
static bool empty_array(const char *v)
{
	if (v[0] != '[')
		return true;
	for (v++; *v && *v != ']'; v++)
		if (!isspace((unsigned char)*v) && *v != ',')
			return false;
	return true;
}

static char *trimmed(const char *s, size_t n)
{
	while (n && isspace((unsigned char)*s))
		s++, n--;
	while (n && isspace((unsigned char)s[n - 1]))
		n--;
	return xstrndup(s, n);
}

/* The end of a value: a '#' outside strings starts a comment. */
static size_t value_len(const char *v)
{
	char quote = 0;
	size_t i;

	for (i = 0; v[i] && v[i] != '\n'; i++) {
		if (quote) {
			if (v[i] == '\\' && quote == '"' && v[i + 1] && v[i + 1] != '\n')
				i++;
			else if (v[i] == quote)
				quote = 0;
		} else if (v[i] == '"' || v[i] == '\'') {
			quote = v[i];
		} else if (v[i] == '#') {
			break;
		}
	}
	return i;
}

/* A quoted string's content (escapes kept as written: the rules only compare plain text). */
static bool unquote(char *v)
{
	size_t n = strlen(v);

	if (n < 2 || (v[0] != '"' && v[0] != '\'') || v[n - 1] != v[0])
		return false;
	memmove(v, v + 1, n - 2);
	v[n - 2] = '\0';
	return true;
}

static void add_key(struct tfile *t, const struct tsection *sect, char *key, char *value, int line)
{
	struct tkey *k;

	t->v = xrealloc(t->v, sizeof(*t->v) * (size_t)(t->n + 1));
	k = &t->v[t->n++];
	k->sect = sect;
	k->key = key;
	k->value = value;
	k->string = unquote(value);
	k->line = line;
}

static void unknown(struct dcv_findings *out, const char *file, int line, const char *rule,
		    const char *what, const char *name, const char *where, const char *const *cands, size_t n)
{
	const char *near = dcv_nearest(name, cands, n);

	dcv_findings_add(out, DCV_SEV_ERROR, file, line, rule, "unknown %s '%s'%s%s%s%s%s", what, name,
			 where, near ? " (did you mean '" : "", near ? near : "", near ? "'?)" : "",
			 " (reference/dcv.md §3.1)");
}

/* A multi-line array continues until its closing bracket; *p advances past its lines. */
static char *array_value(const char **p, const char *v, size_t vlen, int *line)
{
	struct dcv_buf b = DCV_BUF_INIT;
	int depth = 0;
	const char *s = v;
	size_t n = vlen;

	for (;;) {
		for (size_t i = 0; i < n; i++)
			depth += s[i] == '[' ? 1 : s[i] == ']' ? -1 : 0;
		dcv_buf_add(&b, s, n);
		if (depth <= 0 || !**p)
			break;
		s = *p;
		n = value_len(s);
		const char *nl = strchr(s, '\n');
		*p = nl ? nl + 1 : s + strlen(s);
		(*line)++;
		dcv_buf_addc(&b, ' ');
	}
	return dcv_buf_detach(&b);
}

/* Parse the subset of TOML the gateway's file uses: [section], key = value, comments,
 * arrays over several lines. Structural problems become findings. */
static void parse_toml(const char *text, const char *file, struct tfile *t, struct dcv_findings *out)
{
	const char *p = text, *names[N_SCHEMA];
	const struct tsection *sect = NULL;
	bool skip = false; /* inside an unknown section: reported once */
	int line = 0;

	for (size_t i = 0; i < N_SCHEMA; i++)
		names[i] = schema[i].name;
	while (*p) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		char *l = trimmed(p, len);
		int at = ++line;

		p += len + (nl ? 1 : 0);
		if (!l[0] || l[0] == '#') {
			free(l);
			continue;
		}
		if (l[0] == '[') {
			char *close = strchr(l, ']');
			char *name = close ? trimmed(l + 1, (size_t)(close - l - 1)) : NULL;
			const char *after = close ? close + 1 + strspn(close + 1, " \t") : NULL;
			if (!close || (*after && *after != '#')) {
				dcv_findings_add(out, DCV_SEV_ERROR, file, at, "gateway.syntax",
						 "malformed section header '%s'", l);
				sect = NULL, skip = true;
			} else if (!(sect = find_section(name))) {
				unknown(out, file, at, "gateway.unknown-section", "section", name, "", names, N_SCHEMA);
				skip = true;
			} else {
				skip = false;
			}
			free(name);
			free(l);
			continue;
		}
		char *eq = strchr(l, '=');
		if (!eq) {
			dcv_findings_add(out, DCV_SEV_ERROR, file, at, "gateway.syntax",
					 "expected 'key = value', a [section] or a comment");
			free(l);
			continue;
		}
		char *key = trimmed(l, (size_t)(eq - l));
		const char *v = eq + 1;
		size_t vl = value_len(v);
		char *raw = v[strspn(v, " \t")] == '[' ? array_value(&p, v, vl, &line) : xstrndup(v, vl);
		char *value = trimmed(raw, strlen(raw));
		free(raw);
		free(l);
		if (!key[0] || !value[0]) {
			dcv_findings_add(out, DCV_SEV_ERROR, file, at, "gateway.syntax", "a key or value is missing");
		} else if (!sect && !skip) {
			dcv_findings_add(out, DCV_SEV_ERROR, file, at, "gateway.syntax",
					 "key '%s' outside any section", key);
		} else if (sect) {
			size_t n = 0;
			bool known = false;
			while (sect->keys[n])
				known |= strcmp(sect->keys[n++], key) == 0;
			if (!known) {
				char *where = xasprintf(" in [%s]", sect->name);
				unknown(out, file, at, "gateway.unknown-key", "key", key, where, sect->keys, n);
				free(where);
			} else if (get(t, sect->name, key)) {
				dcv_findings_add(out, DCV_SEV_ERROR, file, at, "gateway.duplicate-key",
						 "'%s' set twice in [%s] (TOML refuses it)", key, sect->name);
			} else {
				add_key(t, sect, key, value, at);
				continue;
			}
		}
		free(key);
		free(value);
	}
}

/* The host of an http(s) URL, as a pointer into `url` and a length. */
static bool url_host(const char *url, const char **host, size_t *len)
{
	const char *h = strstr(url, "://");

	if (!h)
		return false;
	h += 3;
	if (*h == '[') {
		const char *e = strchr(h, ']');
		if (!e)
			return false;
		*host = h;
		*len = (size_t)(e - h + 1);
		return true;
	}
	*host = h;
	*len = strcspn(h, ":/?#");
	return *len > 0;
}

static void lint_pair(const struct tfile *t, const char *sect, const char *file, struct dcv_findings *out)
{
	const struct tkey *c = get(t, sect, "cert-file"), *k = get(t, sect, "cert-key-file");

	if (!c != !k)
		dcv_findings_add(out, DCV_SEV_ERROR, file, (c ? c : k)->line, "gateway.cert-pair",
				 "[%s] sets %s without %s: they must be set together (reference/dcv.md §3.1)",
				 sect, c ? "cert-file" : "cert-key-file", c ? "cert-key-file" : "cert-file");
}

static void lint_resolver(const struct tfile *t, const char *file, struct dcv_findings *out)
{
	const struct tkey *url = get(t, "resolver", "url"), *ca = get(t, "resolver", "ca-file");
	const struct tkey *strict = get(t, "resolver", "tls-strict");
	const char *host;
	size_t hl;

	if (!url) {
		dcv_findings_add(out, DCV_SEV_ERROR, file, 0, "gateway.resolver-url",
				 "[resolver] url is required: the gateway asks it where each session lives "
				 "(reference/dcv.md §3.1, §4)");
		return;
	}
	if (!url->string || !url_host(url->value, &host, &hl)) {
		dcv_findings_add(out, DCV_SEV_ERROR, file, url->line, "gateway.resolver-url",
				 "[resolver] url is not an http(s) URL string");
		return;
	}
	if (is_ip(host, hl))
		dcv_findings_add(out, DCV_SEV_ERROR, file, url->line, "gateway.resolver-ip",
				 "[resolver] url names the IP %.*s: the gateway supports only a DNS name there "
				 "(reference/dcv.md §3.1); set [broker] name in dcvctl.conf", (int)hl, host);
	if (strncmp(url->value, "https://", 8) == 0 && !ca && !(strict && strcmp(strict->value, "false") == 0))
		dcv_findings_add(out, DCV_SEV_ERROR, file, url->line, "gateway.resolver-ca-file",
				 "[resolver] has no ca-file: the broker's certificate is self-signed, so the "
				 "gateway cannot verify it; set ca-file to a copy of dcvsmbroker_ca.pem "
				 "(reference/dcv.md §5.1)");
	lint_pair(t, "resolver", file, out);
}

void dcv_lint_gateway(const char *text, const char *file, struct dcv_findings *out)
{
	struct tfile t = { 0 };
	const struct tkey *k;

	parse_toml(text ? text : "", file, &t, out);

	k = get(&t, "gateway", "web-listen-endpoints");
	if (!k || empty_array(k->value))
		dcv_findings_add(out, DCV_SEV_ERROR, file, k ? k->line : 0, "gateway.web-listen-endpoints",
				 "[gateway] web-listen-endpoints is required and must not be empty "
				 "(reference/dcv.md §3.1)");
	if ((k = get(&t, "gateway", "bind-addr")))
		dcv_findings_add(out, DCV_SEV_WARN, file, k->line, "gateway.deprecated-key",
				 "[gateway] bind-addr is deprecated: use web-listen-endpoints (reference/dcv.md §3.1)");
	lint_pair(&t, "gateway", file, out);
	if ((k = get(&t, "gateway", "tcp-idle-timeout")) && atol(k->value) > 0 && atol(k->value) <= 10)
		dcv_findings_add(out, DCV_SEV_WARN, file, k->line, "gateway.tcp-idle-timeout",
				 "[gateway] tcp-idle-timeout = %s is no longer than DCV's 10 s keepalive: quiet "
				 "sessions may be cut (reference/dcv.md §7 item 6)", k->value);
	lint_resolver(&t, file, out);
	if ((k = get(&t, "web-resources", "url"))) {
		const char *host;
		size_t hl;
		if (k->string && url_host(k->value, &host, &hl) && is_ip(host, hl))
			dcv_findings_add(out, DCV_SEV_ERROR, file, k->line, "gateway.web-resources-ip",
					 "[web-resources] url names the IP %.*s: only a DNS name is supported "
					 "(reference/dcv.md §3.1)", (int)hl, host);
	} else if (!get(&t, "web-resources", "local-resources-path")) {
		dcv_findings_add(out, DCV_SEV_WARN, file, 0, "gateway.no-web-resources",
				 "neither [web-resources] url nor local-resources-path: browsers get no web "
				 "client (reference/dcv.md §3)");
	}
	tfile_release(&t);
}

char *dcv_gateway_conf_get(const char *text, const char *section, const char *key)
{
	struct dcv_findings ignored = { 0 };
	struct tfile t = { 0 };
	const struct tkey *k;
	char *v;

	parse_toml(text ? text : "", "", &t, &ignored);
	k = get(&t, section, key);
	v = k && k->string ? xstrdup(k->value) : NULL;
	tfile_release(&t);
	dcv_findings_free(&ignored);
	return v;
}

/* ------------------------------------------------------------------ the kind */

static void render(const struct dcv_inventory *inv, const struct dcv_proxy_env *env, struct dcv_buf *out)
{
	const char *name;
	const struct dcv_host *gw = dcv_inventory_gateway(inv);

	(void)env;
	if (dcv_gateway_resolver_name(inv, &name, NULL) != DCV_OK)
		name = gw ? gw->address : "localhost";
	render_file(inv, name, NULL, out);
}

static void lint(const char *text, const char *file, const struct dcv_proxy_env *env, struct dcv_findings *out)
{
	(void)env;
	dcv_lint_gateway(text, file, out);
}

static const char *const stop_units[] = { "nginx", "haproxy", NULL };
/* The broker's rows, the gateway's view of the resolver, and the Session Manager agent that must
 * run here (the bypass kinds want it stopped). */
static const enum dcv_check_key checks[] = { DCV_CK_BROKER_SERVICE, DCV_CK_BROKER_ENABLE_GATEWAY,
					     DCV_CK_BROKER_LISTEN,  DCV_CK_RESOLVER_TLS,
					     DCV_CK_RESOLVER_MTLS,  DCV_CK_RESOLVER_SESSION,
					     DCV_CK_AGENT_SM,       DCV_CK_COUNT };

const struct dcv_proxy_kind dcv_proxy_gateway = {
	.id = DCV_PROXY_CONNECTION_GATEWAY,
	.name = "connection-gateway",
	.bypass = false,
	.unit = DCV_UNIT_GATEWAY,
	.binary = "dcv-connection-gateway",
	.package_rpm = "nice-dcv-connection-gateway",
	.package_deb = "nice-dcv-connection-gateway",
	.config = DCV_GATEWAY_CONF,
	/* The gateway documents no configuration test; dcvctl lints the file before it lands and
	 * a start that fails is rolled back like any other. A certificate installed before the
	 * first deploy meets no configuration yet. */
	.validate = "[ ! -e " DCV_GATEWAY_CONF " ] || test -s " DCV_GATEWAY_CONF,
	/* reload re-reads only the reloadable keys (§3); listen endpoints need a restart (§3.1). */
	.reload = "systemctl try-restart " DCV_UNIT_GATEWAY,
	/* cert-file and cert-key-file are reloadable ("Restart: no", §3.1): no connection drops */
	.cert_reload = "if systemctl is-active --quiet " DCV_UNIT_GATEWAY "; then systemctl reload " DCV_UNIT_GATEWAY
		       "; fi",
	/* ss -p shows the kernel's 15-character comm */
	.process = "dcv-connection-",
	.stop = stop_units,
	.dump = "cat " DCV_GATEWAY_CONF,
	.checks = checks,
	.render = render,
	.lint = lint,
};
