/* Lint of dcv.conf against the documented schema and of nginx configurations against the
 * defects the seed runbook measured (design §8, machine-notes.md). */
#include "lint.h"

#include "util.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void dcv_findings_free(struct dcv_findings *f)
{
	for (int i = 0; i < f->n; i++) {
		free(f->v[i].file);
		free(f->v[i].rule);
		free(f->v[i].msg);
	}
	free(f->v);
	f->v = NULL;
	f->n = 0;
}

static int count(const struct dcv_findings *f, enum dcv_severity s)
{
	int n = 0;
	for (int i = 0; i < f->n; i++)
		n += f->v[i].sev == s;
	return n;
}

int dcv_findings_errors(const struct dcv_findings *f)
{
	return count(f, DCV_SEV_ERROR);
}

int dcv_findings_warnings(const struct dcv_findings *f)
{
	return count(f, DCV_SEV_WARN);
}

static void finding(struct dcv_findings *out, enum dcv_severity sev, const char *file, int line,
		    const char *rule, const char *fmt, ...) __attribute__((format(printf, 6, 7)));
static void finding(struct dcv_findings *out, enum dcv_severity sev, const char *file, int line,
		    const char *rule, const char *fmt, ...)
{
	struct dcv_buf b = DCV_BUF_INIT;
	va_list ap;

	va_start(ap, fmt);
	dcv_buf_vaddf(&b, fmt, ap);
	va_end(ap);
	out->v = xrealloc(out->v, sizeof(*out->v) * (size_t)(out->n + 1));
	out->v[out->n++] = (struct dcv_finding){ sev, xstrdup(file), line, xstrdup(rule), dcv_buf_detach(&b) };
}

/* ------------------------------------------------------------------ dcv.conf */

/* reference/dcv.md §1.1 (latest docs, 2025.0), plus `administrators`, which Session Manager
 * requires although the parameter reference omits it (§1.1, [S25]). */
static const struct {
	const char *section;
	const char *keys[40];
} schema[] = {
	{ "audio", { "avsync-support", "source-channels" } },
	{ "clipboard", { "enabled", "max-image-area", "max-payload-size", "max-payload-size-copy",
			 "max-payload-size-paste", "max-text-len", "max-text-len-copy", "max-text-len-paste",
			 "primary-selection-copy", "primary-selection-paste", "update-timeout" } },
	{ "connectivity", { "disconnect-on-lock", "disconnect-on-logout", "enable-quic-frontend", "idle-timeout",
			    "idle-timeout-warning", "quic-listen-endpoints", "quic-port", "web-extra-http-headers",
			    "web-listen-endpoints", "web-port", "web-root", "web-url-path", "web-use-hsts",
			    "web-x-frame-options", "ws-keepalive-interval" } },
	{ "display", { "console-session-default-layout", "cuda-devices", "enable-client-resize", "enable-qu",
		       "enable-yuv444-encoding", "grabber-target-fps", "max-compressor-threads",
		       "max-head-resolution", "max-layout-area", "max-num-heads", "min-head-resolution",
		       "target-fps", "use-grabber-dirty-region", "web-client-max-head-resolution" } },
	{ "display/linux", { "disable-local-console", "enable-console-scaling", "gl-displays" } },
	{ "extensions", { "enabled" } },
	{ "input", { "enable-autorepeat", "enable-gamepad", "enable-relative-mouse", "enable-stylus",
		     "enable-touch", "use-server-keyboard-layout" } },
	{ "license", { "license-file" } },
	{ "log", { "directory", "enable-image-audit", "level", "max-file-size", "rotate", "rotation-interval",
		   "rotation-suffix", "transfer-audit" } },
	{ "printer", { "file-printer-name", "use-default-printer" } },
	{ "redirection", { "enable-timezone-redirection" } },
	{ "security", { "allowed-http-host-regex", "allowed-ws-origin-regex", "auth-connection-setup-timeout",
			"auth-token-verifier", "auth-token-verifier-timeout", "authentication",
			"authentication-threshold", "ca-file", "certificate-to-user-file", "ciphers",
			"connection-estab-timeout", "connection-setup-timeout", "crl-file", "enable-gssapi",
			"max-connections-per-user", "no-tls-strict", "os-auto-lock", "pam-service-name",
			"passwd-file", "server-fqdn", "service-name", "supervision-control", "user-realm",
			"administrators" } },
	{ "session-management", { "create-session", "enable-gl-in-virtual-sessions", "max-concurrent-clients",
				  "max-concurrent-sessions", "max-sessions-per-user", "performance-profile",
				  "virtual-session-default-layout", "virtual-session-font-path",
				  "virtual-session-source-profile", "virtual-session-xdcv-args" } },
	{ "session-management/automatic-console-session",
	  { "client-eviction-policy", "max-concurrent-clients", "owner", "permissions-file", "storage-root" } },
	{ "session-management/defaults", { "permissions-file" } },
	{ "smartcard", { "enable-cache" } },
	{ "webauthn", { "enabled" } },
	{ "webcam", { "max-resolution", "preferred-resolution" } },
	{ "windows", { "disable-display-sleep", "printer" } },
};

#define N_SECTIONS (sizeof(schema) / sizeof(schema[0]))

static int section_index(const char *section)
{
	for (size_t i = 0; i < N_SECTIONS; i++)
		if (strcmp(schema[i].section, section) == 0)
			return (int)i;
	return -1;
}

bool dcv_dcvconf_known(const char *section, const char *key)
{
	int s = section_index(section);

	if (s < 0)
		return false;
	for (int k = 0; schema[s].keys[k]; k++)
		if (strcmp(schema[s].keys[k], key) == 0)
			return true;
	return false;
}

static void trim(char *s)
{
	size_t n = strlen(s), i = 0;

	while (n && isspace((unsigned char)s[n - 1]))
		s[--n] = '\0';
	while (isspace((unsigned char)s[i]))
		i++;
	memmove(s, s + i, n - i + 1);
}

static void unquote(char *v)
{
	size_t n = strlen(v);
	if (n >= 2 && (v[0] == '"' || v[0] == '\'') && v[n - 1] == v[0]) {
		memmove(v, v + 1, n - 2);
		v[n - 2] = '\0';
	}
}

static void unknown_key(struct dcv_findings *out, const char *file, int line, const char *section,
			const char *key)
{
	const char *cands[64];
	size_t n = 0;
	int s = section_index(section);

	for (int k = 0; s >= 0 && schema[s].keys[k]; k++)
		cands[n++] = schema[s].keys[k];
	const char *near = dcv_nearest(key, cands, n);
	/* the same key documented in another section is the likelier slip */
	const char *elsewhere = NULL;
	for (size_t i = 0; i < N_SECTIONS && !elsewhere; i++)
		if ((int)i != s && dcv_dcvconf_known(schema[i].section, key))
			elsewhere = schema[i].section;
	if (strcmp(key, "enable-broker") == 0)
		finding(out, DCV_SEV_ERROR, file, line, "dcv.unknown-key",
			"unknown key 'enable-broker' in [%s]: dcv.conf has no such key; the broker is wired in with "
			"[security] auth-token-verifier, and removing that is what bypasses it",
			section);
	else if (elsewhere)
		finding(out, DCV_SEV_ERROR, file, line, "dcv.unknown-key",
			"unknown key '%s' in [%s]: it belongs in [%s]", key, section, elsewhere);
	else if (near)
		finding(out, DCV_SEV_ERROR, file, line, "dcv.unknown-key",
			"unknown key '%s' in [%s]: not a documented dcv.conf key (did you mean '%s'?)", key, section, near);
	else
		finding(out, DCV_SEV_ERROR, file, line, "dcv.unknown-key",
			"unknown key '%s' in [%s]: not a documented dcv.conf key", key, section);
}

void dcv_lint_dcvconf(const char *text, const char *file, bool bypass, struct dcv_findings *out)
{
	char section[128] = "";
	bool section_known = true;
	int line = 0;
	const char *p = text ? text : "";
	const char *names[N_SECTIONS];

	for (size_t i = 0; i < N_SECTIONS; i++)
		names[i] = schema[i].section;
	while (*p) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		char buf[1024];

		snprintf(buf, sizeof(buf), "%.*s", (int)len, p);
		p += len + (nl ? 1 : 0);
		line++;
		trim(buf);
		if (!buf[0] || buf[0] == '#' || buf[0] == ';')
			continue;
		if (buf[0] == '[') {
			char *close = strchr(buf, ']');
			if (close)
				*close = '\0';
			snprintf(section, sizeof(section), "%s", buf + 1);
			trim(section);
			section_known = section_index(section) >= 0;
			if (!section_known) {
				const char *near = dcv_nearest(section, names, N_SECTIONS);
				finding(out, DCV_SEV_ERROR, file, line, "dcv.unknown-section",
					"unknown section [%s]: not a documented dcv.conf section%s%s%s", section,
					near ? " (did you mean [" : "", near ? near : "", near ? "]?)" : "");
			}
			continue;
		}
		char *eq = strchr(buf, '=');
		if (!eq)
			continue;
		*eq = '\0';
		char *key = buf, *val = eq + 1;
		trim(key);
		trim(val);
		unquote(val);
		if (!section_known)
			continue;
		if (!section[0]) {
			finding(out, DCV_SEV_ERROR, file, line, "dcv.unknown-section",
				"key '%s' outside any section: dcvserver reads keys only inside [sections]", key);
			continue;
		}
		if (strcmp(key, "owner") == 0 && strcmp(section, "session-management/automatic-console-session") != 0) {
			finding(out, DCV_SEV_ERROR, file, line, "dcv.owner-misplaced",
				"'owner' in [%s]: it belongs in [session-management/automatic-console-session] "
				"(and only acts with create-session = true)", section);
			continue;
		}
		if (!dcv_dcvconf_known(section, key)) {
			unknown_key(out, file, line, section, key);
			continue;
		}
		if (strcmp(section, "security") == 0 && strcmp(key, "authentication") == 0 && strcmp(val, "none") == 0)
			finding(out, DCV_SEV_WARN, file, line, "dcv.auth-none",
				"authentication = none: anyone who reaches the port gets the desktop without logging in");
		if (strcmp(section, "security") == 0 && strcmp(key, "auth-token-verifier") == 0 && bypass && val[0])
			finding(out, DCV_SEV_ERROR, file, line, "dcv.verifier-in-bypass",
				"auth-token-verifier set while the broker is bypassed: every login is sent to a "
				"Session Manager broker that is stopped, so nobody can log in");
		if (strcmp(section, "security") == 0 && strcmp(key, "no-tls-strict") == 0)
			finding(out, DCV_SEV_WARN, file, line, "dcv.no-tls-strict-pointless",
				"no-tls-strict only relaxes TLS towards the external auth-token-verifier; it does "
				"nothing for client connections%s",
				bypass ? ", and the bypass has no verifier" : "");
	}
}

/* ------------------------------------------------------------------ nginx */

struct directive {
	char *name;
	char **args;
	int n_args;
	int line;
	const char *file;
	int parent; /* index of the enclosing block directive, -1 at top level */
	bool block;
};

struct conf {
	struct directive *v;
	int n;
};

static void add_directive(struct conf *c, struct dcv_buf *words, int n_words, int line,
			  const char *file, int parent, bool block)
{
	struct directive d = { 0 };
	const char *w = words->data;

	d.line = line;
	d.file = file;
	d.parent = parent;
	d.block = block;
	d.args = xcalloc((size_t)n_words, sizeof(char *));
	for (int i = 0; i < n_words; i++) {
		if (i == 0)
			d.name = xstrdup(w);
		else
			d.args[d.n_args++] = xstrdup(w);
		w += strlen(w) + 1;
	}
	c->v = xrealloc(c->v, sizeof(*c->v) * (size_t)(c->n + 1));
	c->v[c->n++] = d;
}

/* nginx syntax: words separated by blanks, ';' ends a directive, '{' opens a block, '}' closes
 * it, '#' to the end of the line is a comment, quotes group. */
static void parse_nginx(struct conf *c, const char *file, const char *text)
{
	struct dcv_buf words = DCV_BUF_INIT;
	int n_words = 0, line = 1, first_line = 1, stack[64], depth = 0;
	const char *p = text ? text : "";

	stack[0] = -1;
	while (*p) {
		if (*p == '\n') {
			line++;
			p++;
		} else if (isspace((unsigned char)*p)) {
			p++;
		} else if (*p == '#') {
			while (*p && *p != '\n')
				p++;
		} else if (*p == ';' || *p == '{') {
			if (n_words)
				add_directive(c, &words, n_words, first_line, file, depth ? stack[depth] : -1, *p == '{');
			if (*p == '{' && depth < 63)
				stack[++depth] = n_words ? c->n - 1 : -1;
			dcv_buf_reset(&words);
			n_words = 0;
			p++;
		} else if (*p == '}') {
			if (depth)
				depth--;
			dcv_buf_reset(&words);
			n_words = 0;
			p++;
		} else {
			if (!n_words)
				first_line = line;
			if (*p == '"' || *p == '\'') {
				char q = *p++;
				while (*p && *p != q) {
					if (*p == '\\' && p[1])
						p++;
					if (*p == '\n')
						line++;
					dcv_buf_addc(&words, *p++);
				}
				if (*p)
					p++;
			} else {
				while (*p && !isspace((unsigned char)*p) && !strchr(";{}", *p))
					dcv_buf_addc(&words, *p++);
			}
			dcv_buf_addc(&words, '\0');
			words.len = words.len; /* the NUL separates words */
			n_words++;
		}
	}
	dcv_buf_release(&words);
}

static void conf_release(struct conf *c)
{
	for (int i = 0; i < c->n; i++) {
		free(c->v[i].name);
		for (int k = 0; k < c->v[i].n_args; k++)
			free(c->v[i].args[k]);
		free(c->v[i].args);
	}
	free(c->v);
}

/* The nearest value of `name` for directive block `at` and its ancestors (nginx inheritance). */
static const struct directive *inherited(const struct conf *c, int at, const char *name)
{
	for (int b = at; ; b = c->v[b].parent) {
		for (int i = 0; i < c->n; i++)
			if (c->v[i].parent == b && strcmp(c->v[i].name, name) == 0)
				return &c->v[i];
		if (b < 0)
			return NULL;
	}
}

/* proxy_set_header is inherited only by levels that set none themselves. */
static bool sets_header(const struct conf *c, int at, const char *header)
{
	for (int b = at; ; b = c->v[b].parent) {
		bool any = false;
		for (int i = 0; i < c->n; i++) {
			if (c->v[i].parent != b || strcmp(c->v[i].name, "proxy_set_header") != 0)
				continue;
			any = true;
			if (c->v[i].n_args >= 1 && strcasecmp(c->v[i].args[0], header) == 0)
				return true;
		}
		if (any || b < 0)
			return false;
	}
}

static long seconds(const char *v)
{
	long ms;
	if (!dcv_parse_duration(v, &ms))
		return -1;
	return ms / 1000;
}

static bool uses_variable(const struct conf *c, const char *var)
{
	for (int i = 0; i < c->n; i++)
		for (int k = 0; k < c->v[i].n_args; k++)
			if (strstr(c->v[i].args[k], var))
				return true;
	return false;
}

static bool defines_variable(const struct conf *c, const char *var)
{
	for (int i = 0; i < c->n; i++)
		if (strcmp(c->v[i].name, "map") == 0 && c->v[i].n_args >= 2 && strcmp(c->v[i].args[1], var) == 0)
			return true;
	return false;
}

static void lint_locations(const struct conf *c, struct dcv_findings *out)
{
	for (int i = 0; i < c->n; i++) {
		const struct directive *d = &c->v[i];
		if (strcmp(d->name, "proxy_pass") != 0 || d->parent < 0)
			continue;
		int loc = d->parent;
		const struct directive *hv = inherited(c, loc, "proxy_http_version");
		if (!hv || hv->n_args < 1 || strcmp(hv->args[0], "1.1") != 0)
			finding(out, DCV_SEV_ERROR, d->file, d->line, "nginx.http-version",
				"proxy_pass without proxy_http_version 1.1: nginx speaks HTTP/1.0 upstream, where "
				"no WebSocket upgrade exists, so DCV's browser client cannot connect");
		if (!sets_header(c, loc, "Upgrade") || !sets_header(c, loc, "Connection"))
			finding(out, DCV_SEV_ERROR, d->file, d->line, "nginx.upgrade-headers",
				"proxy_pass without proxy_set_header Upgrade $http_upgrade and Connection "
				"$connection_upgrade: nginx drops the hop-by-hop Upgrade, so the WebSocket never reaches DCV");
		const struct directive *rt = inherited(c, loc, "proxy_read_timeout");
		long s = rt && rt->n_args ? seconds(rt->args[0]) : 60;
		if (s >= 0 && s < 30)
			finding(out, DCV_SEV_WARN, rt ? rt->file : d->file, rt ? rt->line : d->line, "nginx.read-timeout",
				"proxy_read_timeout %lds is close to DCV's 10 s WebSocket keepalive: two late pings "
				"and nginx cuts a live session", s);
	}
}

static void lint_upstreams(const struct conf *c, struct dcv_findings *out)
{
	for (int i = 0; i < c->n; i++) {
		const struct directive *u = &c->v[i];
		if (strcmp(u->name, "upstream") != 0 || u->n_args < 1)
			continue;
		for (int j = 0; j < i; j++) {
			const struct directive *o = &c->v[j];
			if (strcmp(o->name, "upstream") == 0 && o->n_args >= 1 && strcmp(o->args[0], u->args[0]) == 0)
				finding(out, DCV_SEV_ERROR, u->file, u->line, "nginx.duplicate-upstream",
					"upstream \"%s\" is also defined in %s:%d; nginx loads both files and refuses "
					"the configuration (duplicate upstream)",
					u->args[0], o->file, o->line);
		}
		const struct directive *hash = NULL;
		for (int k = 0; k < c->n; k++)
			if (c->v[k].parent == i && (strcmp(c->v[k].name, "ip_hash") == 0 ||
						    strcmp(c->v[k].name, "hash") == 0 || strcmp(c->v[k].name, "random") == 0))
				hash = &c->v[k];
		for (int k = 0; k < c->n && hash; k++) {
			const struct directive *s = &c->v[k];
			if (s->parent != i || strcmp(s->name, "server") != 0)
				continue;
			for (int a = 0; a < s->n_args; a++)
				if (strcmp(s->args[a], "backup") == 0)
					finding(out, DCV_SEV_ERROR, s->file, s->line, "nginx.backup-with-hash",
						"server %s is a backup in an upstream balanced by %s: nginx refuses it "
						"(\"balancing method does not support parameter backup\"); drop %s or the backup",
						s->n_args ? s->args[0] : "?", hash->name, hash->name);
		}
		if (hash && strcmp(hash->name, "ip_hash") == 0)
			finding(out, DCV_SEV_WARN, hash->file, hash->line, "nginx.ip-hash-privatelink",
				"ip_hash behind PrivateLink: nginx sees the load balancer's address, not the user's, "
				"so it pins per NLB node, not per user (unless proxy protocol is enabled)");
	}
}

static bool defines_health(const struct conf *c)
{
	for (int i = 0; i < c->n; i++)
		if (strcmp(c->v[i].name, "location") == 0)
			for (int k = 0; k < c->v[i].n_args; k++)
				if (strcmp(c->v[i].args[k], "/health") == 0)
					return true;
	return false;
}

static void lint_crons(const struct conf *c, const char *crons, struct dcv_findings *out)
{
	int line = 0;
	const char *p = crons;

	while (p && *p) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		char *l = xstrndup(p, len);
		p += len + (nl ? 1 : 0);
		line++;
		if (l[0] != '#' && strstr(l, "/health")) {
			if (!defines_health(c))
				finding(out, DCV_SEV_ERROR, "crontab", line, "nginx.health-undefined",
					"a cron job calls /health but no nginx location defines it: the request goes to "
					"DCV, which answers 404");
			if (strstr(l, "curl") && !strstr(l, " -f") && !strstr(l, "--fail") && !strstr(l, " -sf") &&
			    !strstr(l, " -fs") && !strstr(l, "-kfs") && !strstr(l, "-fks"))
				finding(out, DCV_SEV_WARN, "crontab", line, "nginx.health-cron-no-fail",
					"the health cron's curl has no -f: an HTTP error still exits 0, so the restart "
					"after || never runs");
		}
		free(l);
	}
}

static int cmp_finding(const void *a, const void *b)
{
	const struct dcv_finding *x = a, *y = b;
	int c = strcmp(x->file, y->file);
	return c ? c : x->line - y->line;
}

void dcv_lint_nginx(const struct dcv_nginx_file *files, int n, const char *crons,
		    struct dcv_findings *out)
{
	struct conf c = { 0 };
	int first = out->n;

	for (int i = 0; i < n; i++)
		parse_nginx(&c, files[i].name, files[i].text);
	lint_locations(&c, out);
	lint_upstreams(&c, out);
	if (uses_variable(&c, "$connection_upgrade") && !defines_variable(&c, "$connection_upgrade")) {
		for (int i = 0; i < c.n; i++) {
			bool uses = false;
			for (int k = 0; k < c.v[i].n_args; k++)
				uses |= strstr(c.v[i].args[k], "$connection_upgrade") != NULL;
			if (uses) {
				finding(out, DCV_SEV_ERROR, c.v[i].file, c.v[i].line, "nginx.undefined-variable",
					"$connection_upgrade is used but no map defines it in the files nginx loads: "
					"nginx -t fails with unknown \"connection_upgrade\" variable");
				break;
			}
		}
	}
	if (crons)
		lint_crons(&c, crons, out);
	qsort(out->v + first, (size_t)(out->n - first), sizeof(*out->v), cmp_finding);
	conf_release(&c);
}
