/* HAProxy on the gateway (seed Phase 2 Option A): the rendered haproxy.cfg with every seed
 * defect fixed (reference/machine-notes.md), the lint that finds those defects in a file, and
 * the parser of `show stat` for gateway.proxy.backends. Pure: the caller does the I/O. */
#include "proxy_haproxy.h"

#include "proxy.h"

#include "inventory.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ------------------------------------------------------------------ render */

static void server_line(struct dcv_buf *out, const struct dcv_host *a, bool cookie)
{
	/* named for the agent, so `show stat` rows map back to the inventory */
	dcv_buf_addf(out, "    server %s ", a->name);
	if (strchr(a->address, ':'))
		dcv_buf_addf(out, "[%s]:%d", a->address, a->port);
	else
		dcv_buf_addf(out, "%s:%d", a->address, a->port);
	dcv_buf_adds(out, " ssl verify none check check-ssl");
	if (cookie)
		dcv_buf_addf(out, " cookie %s", a->name);
	if (a->backup)
		dcv_buf_adds(out, " backup");
	dcv_buf_addc(out, '\n');
}

static void render_global(const struct dcv_haproxy_env *env, struct dcv_buf *out)
{
	dcv_buf_addf(out,
		     "global\n"
		     "    # Logs go to the local syslog socket, as in Debian's default haproxy.cfg.\n"
		     "    log /dev/log local0\n"
		     "    log /dev/log local1 notice\n"
		     "    chroot /var/lib/haproxy\n"
		     "    # `show stat` for `dcvctl check` (gateway.proxy.backends); root only.\n"
		     "    stats socket %s mode 600 level admin\n"
		     "    stats timeout 30s\n"
		     "    user haproxy\n"
		     "    group haproxy\n"
		     "    daemon\n",
		     env->stats_socket);
	if (env->crypto_policies)
		dcv_buf_adds(out,
			     "    # This host has crypto policies (/etc/crypto-policies): follow them.\n"
			     "    ssl-default-bind-ciphers PROFILE=SYSTEM\n"
			     "    ssl-default-server-ciphers PROFILE=SYSTEM\n");
	else
		dcv_buf_adds(out,
			     "    # No crypto policies on this host (Amazon Linux 2, Debian, Ubuntu):\n"
			     "    # PROFILE=SYSTEM is a RHEL name its OpenSSL does not know (\"unable to set\n"
			     "    # SSL cipher list\"), so name the ciphers, as Debian's default file does.\n"
			     "    # (TLS 1.3 suites stay OpenSSL's defaults: HAProxy 1.5 has no\n"
			     "    # ssl-default-bind-ciphersuites.)\n"
			     "    ssl-default-bind-ciphers ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305\n");
	dcv_buf_adds(out,
		     "    # TLS 1.2 and later; spelled so that HAProxy 1.5 (Amazon Linux 2) reads it too.\n"
		     "    ssl-default-bind-options no-sslv3 no-tlsv10 no-tlsv11 no-tls-tickets\n"
		     "    ssl-default-server-options no-sslv3 no-tlsv10 no-tlsv11\n"
		     "\n");
}

static void render_defaults(struct dcv_buf *out)
{
	dcv_buf_adds(out,
		     "defaults\n"
		     "    mode http\n"
		     "    log global\n"
		     "    option httplog\n"
		     "    option dontlognull\n"
		     "    option forwardfor\n"
		     "    # A client whose cookie names a server that is down goes to another one.\n"
		     "    option redispatch\n"
		     "    retries 3\n"
		     "    # DCV pings every 10 s (ws-keepalive-interval), so a live session is never idle\n"
		     "    # for long; 400 s stays above PrivateLink's fixed 350 s idle timeout, so HAProxy\n"
		     "    # is never the hop that cuts a quiet connection first. A longer value would only\n"
		     "    # keep connections the load balancer has already dropped.\n"
		     "    timeout connect 10s\n"
		     "    timeout client 400s\n"
		     "    timeout server 400s\n"
		     "    timeout http-request 10s\n"
		     "    timeout http-keep-alive 10s\n"
		     "    timeout queue 30s\n"
		     "    timeout check 5s\n"
		     "\n");
}

static void render_frontend(const struct dcv_host *gw, const struct dcv_haproxy_env *env,
			    struct dcv_buf *out)
{
	dcv_buf_addf(out,
		     "# Every request, the page and its WebSocket alike, goes through one frontend to\n"
		     "# one backend: the seed sent WebSocket (and any Host: ws*) to a second\n"
		     "# round-robin backend, so a WebSocket could land on another server than its page,\n"
		     "# and only that backend had `timeout tunnel`.\n"
		     "frontend dcv\n"
		     "    # TLS with the gateway's certificate (cert + key in one PEM). ALPN offers\n"
		     "    # HTTP/1.1 only: DCV's WebSocket is an HTTP/1.1 Upgrade, which HTTP/2 cannot carry.\n"
		     "    bind :%d ssl crt %s alpn http/1.1\n"
		     "    http-request set-header X-Forwarded-Proto https\n"
		     "    default_backend dcv_servers\n"
		     "\n",
		     gw ? gw->listen : 8443, env->pem_path);
}

static void render_backend(const struct dcv_inventory *inv, struct dcv_buf *out)
{
	int n_agents = 0, n_primary = 0;

	for (int i = 0; i < inv->n_hosts; i++)
		if (inv->hosts[i]->role == DCV_ROLE_AGENT) {
			n_agents++;
			n_primary += !inv->hosts[i]->backup;
		}
	dcv_buf_adds(out, "backend dcv_servers\n");
	if (n_primary > 1)
		dcv_buf_adds(out,
			     "    # Several primaries: a client must stay on one server for the page and\n"
			     "    # its WebSocket. Not `balance source`: an NLB keeps the client address only\n"
			     "    # for instance targets; through PrivateLink (and for ip targets) the source\n"
			     "    # HAProxy sees is the load balancer node's address, so it would pin per\n"
			     "    # node, not per user. The inserted cookie follows the browser, and the\n"
			     "    # WebSocket request carries it.\n"
			     "    balance roundrobin\n"
			     "    cookie DCVSRV insert indirect nocache httponly secure\n");
	else
		dcv_buf_adds(out,
			     "    # One primary: every client goes to it; backup servers take over only\n"
			     "    # while it fails its check, so no stickiness is needed.\n"
			     "    balance roundrobin\n");
	dcv_buf_adds(out,
		     "    # After the WebSocket upgrade only `timeout tunnel` applies; the same 400 s\n"
		     "    # reasoning as the client and server timeouts above.\n"
		     "    timeout tunnel 400s\n"
		     "    # The check is a TLS handshake on DCV's web port: DCV serves no /health (the\n"
		     "    # seed's `option httpchk GET /health` gets 404 and marks every server down).\n"
		     "    # DCV's certificate is its own self-signed one, hence `verify none` both for\n"
		     "    # traffic (ssl) and for the check (check-ssl).\n"
		     "    default-server inter 2s fall 2 rise 2\n");
	for (int i = 0; i < inv->n_hosts; i++)
		if (inv->hosts[i]->role == DCV_ROLE_AGENT)
			server_line(out, inv->hosts[i], n_primary > 1);
	if (n_agents == 0)
		dcv_buf_adds(out, "    # no [agent] in the inventory: every request gets 503\n");
	dcv_buf_adds(out, "\n");
}

static void render_stats(const struct dcv_haproxy_env *env, struct dcv_buf *out)
{
	dcv_buf_addf(out,
		     "# Statistics on the gateway itself only (ssh -L to reach them), with credentials\n"
		     "# generated on first deploy and kept on the gateway: never the seed's public\n"
		     "# *:8080 with admin:admin.\n"
		     "listen stats\n"
		     "    bind 127.0.0.1:%d\n"
		     "    stats enable\n"
		     "    stats uri /stats\n"
		     "    stats refresh 30s\n"
		     "    stats auth %s:%s\n",
		     DCV_HAPROXY_STATS_PORT, env->stats_user, env->stats_password);
}

void dcv_render_haproxy(const struct dcv_inventory *inv, const struct dcv_haproxy_env *env,
			struct dcv_buf *out)
{
	dcv_buf_adds(out,
		     "# Managed by dcvctl (dcvctl deploy): edits here are replaced on the next deploy.\n"
		     "# DCV reverse proxy: client -> PrivateLink endpoint -> this gateway -> DCV servers.\n"
		     "# One statement per line: HAProxy has no `\\` line continuation (the seed's\n"
		     "# continued server lines fail with \"unknown keyword '\\'\").\n"
		     "\n");
	render_global(env, out);
	render_defaults(out);
	render_frontend(dcv_inventory_gateway(inv), env, out);
	render_backend(inv, out);
	render_stats(env, out);
}

/* ------------------------------------------------------------------ lint */

/* One statement: its words, the line it starts on, the section it belongs to. */
struct hstmt {
	char **w;
	int n;
	int line;
	int sec; /* index into hcfg.sec, -1 before the first section */
};

struct hsec {
	const struct hstmt *head; /* `backend NAME`, ... */
	int defaults;             /* the defaults section in effect, -1 when none */
};

struct hcfg {
	struct hstmt *st;
	int n;
	struct hsec *sec;
	int n_sec;
};

static const char *const section_words[] = { "global", "defaults", "frontend", "backend", "listen",
					     "userlist", "peers", "resolvers", "mailers", "program",
					     "http-errors", "ring", "cache" };

static bool is_section_word(const char *w)
{
	for (size_t i = 0; i < sizeof(section_words) / sizeof(*section_words); i++)
		if (strcmp(w, section_words[i]) == 0)
			return true;
	return false;
}

static void add_stmt(struct hcfg *c, const char *text, int line)
{
	struct hstmt s = { NULL, 0, line, c->n_sec - 1 };
	const char *p = text;

	for (;;) {
		while (isspace((unsigned char)*p))
			p++;
		if (!*p || *p == '#')
			break;
		size_t len = strcspn(p, " \t\r\n");
		s.w = xrealloc(s.w, sizeof(char *) * (size_t)(s.n + 1));
		s.w[s.n++] = xstrndup(p, len);
		p += len;
	}
	if (!s.n)
		return;
	if (is_section_word(s.w[0])) {
		c->sec = xrealloc(c->sec, sizeof(*c->sec) * (size_t)(c->n_sec + 1));
		c->sec[c->n_sec] = (struct hsec){ NULL, -1 };
		s.sec = c->n_sec++;
	}
	c->st = xrealloc(c->st, sizeof(*c->st) * (size_t)(c->n + 1));
	c->st[c->n++] = s;
}

/* Statements of `text`. Lines ending in `\` are joined to the next for the other rules (as the
 * author meant them) and reported here: HAProxy itself does not join them. */
static void hparse(struct hcfg *c, const char *text, const char *file, struct dcv_findings *out)
{
	struct dcv_buf stmt = DCV_BUF_INIT;
	const char *p = text ? text : "";
	int line = 0, first = 0;

	while (*p) {
		size_t len = strcspn(p, "\n");
		size_t end = len;
		line++;
		while (end && isspace((unsigned char)p[end - 1]))
			end--;
		if (!stmt.len && !first)
			first = line;
		size_t lead = strspn(p, " \t");
		if (end && p[end - 1] == '\\' && p[lead] != '#') {
			dcv_buf_add(&stmt, p, end - 1);
			dcv_buf_addc(&stmt, ' ');
		} else {
			dcv_buf_add(&stmt, p, end);
			if (line > first)
				dcv_findings_add(out, DCV_SEV_ERROR, file, first, "haproxy.continuation",
						 "lines %d-%d end in `\\`: HAProxy has no line continuation "
						 "(haproxy -c: unknown keyword '\\'); write the statement on one line",
						 first, line - 1);
			add_stmt(c, dcv_buf_str(&stmt), first);
			dcv_buf_reset(&stmt);
			first = 0;
		}
		p += len + (p[len] == '\n');
	}
	if (stmt.len)
		add_stmt(c, dcv_buf_str(&stmt), first);
	dcv_buf_release(&stmt);
	int defaults = -1;
	for (int i = 0; i < c->n; i++) {
		const struct hstmt *s = &c->st[i];
		if (s->sec < 0 || c->sec[s->sec].head)
			continue;
		c->sec[s->sec].head = s;
		c->sec[s->sec].defaults = defaults;
		if (strcmp(s->w[0], "defaults") == 0)
			defaults = s->sec;
	}
}

static void hcfg_release(struct hcfg *c)
{
	for (int i = 0; i < c->n; i++) {
		for (int k = 0; k < c->st[i].n; k++)
			free(c->st[i].w[k]);
		free(c->st[i].w);
	}
	free(c->st);
	free(c->sec);
}

static const char *arg(const struct hstmt *s, int i)
{
	return i < s->n ? s->w[i] : "";
}

static const char *sec_kind(const struct hcfg *c, int sec)
{
	return sec >= 0 ? c->sec[sec].head->w[0] : "";
}

static const char *sec_name(const struct hcfg *c, int sec)
{
	return sec >= 0 ? arg(c->sec[sec].head, 1) : "";
}

static bool is_kind(const struct hcfg *c, int sec, const char *kind)
{
	return strcmp(sec_kind(c, sec), kind) == 0;
}

/* The first statement in `sec` whose words start with w0 (and w1 when given). */
static const struct hstmt *find(const struct hcfg *c, int sec, const char *w0, const char *w1)
{
	for (int i = 0; i < c->n; i++) {
		const struct hstmt *s = &c->st[i];
		if (s->sec == sec && strcmp(s->w[0], w0) == 0 && (!w1 || strcmp(arg(s, 1), w1) == 0))
			return s;
	}
	return NULL;
}

/* In the section or inherited from its defaults. */
static const struct hstmt *find_inh(const struct hcfg *c, int sec, const char *w0, const char *w1)
{
	const struct hstmt *s = find(c, sec, w0, w1);

	return s ? s : c->sec[sec].defaults >= 0 ? find(c, c->sec[sec].defaults, w0, w1) : NULL;
}

static int section_named(const struct hcfg *c, const char *kind, const char *name)
{
	for (int i = 0; i < c->n_sec; i++)
		if ((is_kind(c, i, kind) || is_kind(c, i, "listen")) && strcmp(sec_name(c, i), name) == 0)
			return i;
	return -1;
}

static bool contains_ci(const char *s, const char *needle)
{
	return strcasestr(s, needle) != NULL;
}

static void lint_profile_system(const struct hstmt *s, const char *file, struct dcv_findings *out)
{
	for (int k = 1; k < s->n; k++)
		if (strstr(s->w[k], "PROFILE=SYSTEM")) {
			dcv_findings_add(out, DCV_SEV_ERROR, file, s->line, "haproxy.profile-system",
					 "`%s PROFILE=SYSTEM`: a RHEL crypto-policies name that OpenSSL on a host without "
					 "/etc/crypto-policies does not know (haproxy -c: unable to set SSL cipher list)",
					 s->w[0]);
			return;
		}
}

static void lint_httpchk(const struct hcfg *c, const struct hstmt *s, const char *file,
			 struct dcv_findings *out)
{
	bool httpchk = strcmp(s->w[0], "option") == 0 && strcmp(arg(s, 1), "httpchk") == 0;
	bool send = strcmp(s->w[0], "http-check") == 0 && strcmp(arg(s, 1), "send") == 0;

	if (!(httpchk || send) || is_kind(c, s->sec, "frontend"))
		return;
	for (int k = 2; k < s->n; k++)
		if (s->w[k][0] == '/' && contains_ci(s->w[k], "health")) {
			struct dcv_buf b = DCV_BUF_INIT;
			for (int i = 0; i <= k; i++)
				dcv_buf_addf(&b, "%s%s", i ? " " : "", s->w[i]);
			dcv_findings_add(out, DCV_SEV_ERROR, file, s->line, "haproxy.health-404",
					 "`%s`: DCV serves no %s (404), so HAProxy marks every DCV server down and "
					 "answers 503; check TLS on the web port (check check-ssl)",
					 dcv_buf_str(&b), s->w[k]);
			dcv_buf_release(&b);
			return;
		}
}

static const struct hstmt *stats_on(const struct hcfg *c, int sec)
{
	for (int i = 0; i < c->n; i++) {
		const struct hstmt *s = &c->st[i];
		if (s->sec == sec && strcmp(s->w[0], "stats") == 0 &&
		    (strcmp(arg(s, 1), "enable") == 0 || strcmp(arg(s, 1), "uri") == 0))
			return s;
	}
	return NULL;
}

static void lint_stats(const struct hcfg *c, const struct hstmt *s, const char *file,
		       struct dcv_findings *out)
{
	if (strcmp(s->w[0], "stats") != 0)
		return;
	if (strcmp(arg(s, 1), "auth") == 0 && strcmp(arg(s, 2), "admin:admin") == 0)
		dcv_findings_add(out, DCV_SEV_ERROR, file, s->line, "haproxy.default-stats-credentials",
				 "`stats auth admin:admin`: the first credentials anyone tries; generate a "
				 "password and keep it on the gateway");
	/* either keyword turns the page on; report the section's first of them only */
	if ((strcmp(arg(s, 1), "enable") != 0 && strcmp(arg(s, 1), "uri") != 0) ||
	    stats_on(c, s->sec) != s)
		return;
	for (int i = 0; i < c->n; i++) {
		const struct hstmt *b = &c->st[i];
		if (b->sec != s->sec || strcmp(b->w[0], "bind") != 0)
			continue;
		const char *a = arg(b, 1);
		if (strncmp(a, "ipv4@", 5) == 0 || strncmp(a, "ipv6@", 5) == 0)
			a += 5;
		if (strncmp(a, "127.", 4) == 0 || strncmp(a, "[::1]", 5) == 0 || strncmp(a, "::1:", 4) == 0 ||
		    strncmp(a, "localhost:", 10) == 0 || strncmp(a, "unix@", 5) == 0 || a[0] == '/')
			continue;
		dcv_findings_add(out, DCV_SEV_WARN, file, b->line, "haproxy.stats-public",
				 "statistics in '%s' listen on `%s`, beyond this host: bind them to 127.0.0.1 "
				 "(they show every server and its address)",
				 sec_name(c, s->sec), arg(b, 1));
	}
}

static void lint_fin(const struct hcfg *c, const struct hstmt *s, const char *file,
		     struct dcv_findings *out)
{
	if (is_kind(c, s->sec, "backend") && strcmp(s->w[0], "timeout") == 0 &&
	    strcmp(arg(s, 1), "client-fin") == 0)
		dcv_findings_add(out, DCV_SEV_WARN, file, s->line, "haproxy.fin-in-backend",
				 "`timeout client-fin` in backend '%s' is ignored (HAProxy warns): it belongs in "
				 "a frontend or defaults",
				 sec_name(c, s->sec));
}

/* Which frontend/listen sends everything unmatched to `sec` (NULL when none). */
static const struct hstmt *default_route(const struct hcfg *c, int sec)
{
	for (int i = 0; i < c->n; i++) {
		const struct hstmt *s = &c->st[i];
		if (strcmp(s->w[0], "default_backend") == 0 && strcmp(arg(s, 1), sec_name(c, sec)) == 0)
			return s;
	}
	return NULL;
}

static void lint_tunnel(const struct hcfg *c, int sec, const char *file, struct dcv_findings *out)
{
	const struct hstmt *route;

	if (!(is_kind(c, sec, "backend") || is_kind(c, sec, "listen")) || !find(c, sec, "server", NULL) ||
	    find_inh(c, sec, "timeout", "tunnel"))
		return;
	route = default_route(c, sec);
	if (route || is_kind(c, sec, "listen"))
		dcv_findings_add(out, DCV_SEV_ERROR, file, c->sec[sec].head->line, "haproxy.timeout-tunnel",
				 "%s '%s' has no `timeout tunnel` (nor its defaults) and takes %s: an upgraded "
				 "WebSocket there is timed by `timeout client/server` instead",
				 sec_kind(c, sec), sec_name(c, sec),
				 route ? "every request no use_backend rule picks" : "every request of its bind");
	else
		dcv_findings_add(out, DCV_SEV_WARN, file, c->sec[sec].head->line, "haproxy.timeout-tunnel",
				 "%s '%s' has no `timeout tunnel` (nor its defaults): a WebSocket routed there is "
				 "timed by `timeout client/server` after the upgrade",
				 sec_kind(c, sec), sec_name(c, sec));
}

/* The definition of acl `name` in `sec`, all its lines' words joined; "" when none. */
static void acl_text(const struct hcfg *c, int sec, const char *name, struct dcv_buf *b)
{
	for (int i = 0; i < c->n; i++) {
		const struct hstmt *s = &c->st[i];
		if (s->sec != sec || strcmp(s->w[0], "acl") != 0 || strcmp(arg(s, 1), name) != 0)
			continue;
		for (int k = 2; k < s->n; k++) {
			dcv_buf_adds(b, s->w[k]);
			dcv_buf_addc(b, ' ');
		}
	}
}

/* A backend that keeps a client on one server: a cookie, a stick table or a source/hash
 * balance. Two such backends over the same servers send a client to the same one. */
static bool sticky(const struct hcfg *c, int sec)
{
	const struct hstmt *bal = find_inh(c, sec, "balance", NULL);
	const char *alg = bal ? arg(bal, 1) : "";

	return find_inh(c, sec, "cookie", NULL) || find_inh(c, sec, "stick", "on") ||
	       strcmp(alg, "source") == 0 || strncmp(alg, "hdr", 3) == 0 || strcmp(alg, "uri") == 0;
}

/* The prefix in "hdr_beg(host) [-i] PREFIX" (caller frees), NULL when the text has none. */
static char *host_prefix(const char *cond)
{
	const char *p = strcasestr(cond, "hdr_beg(host)");

	if (!p)
		return NULL;
	p += strlen("hdr_beg(host)");
	for (;;) {
		p += strspn(p, " ");
		size_t len = strcspn(p, " ");
		if (!len)
			return NULL;
		if (*p != '-')
			return xstrndup(p, len);
		p += len;
	}
}

static void lint_split(const struct hcfg *c, const struct hstmt *s, const char *file,
		       struct dcv_findings *out)
{
	const struct hstmt *def;
	struct dcv_buf cond = DCV_BUF_INIT;
	int ws, page;

	if (strcmp(s->w[0], "use_backend") != 0 || !(def = find(c, s->sec, "default_backend", NULL)) ||
	    strcmp(arg(s, 1), arg(def, 1)) == 0)
		return;
	for (int k = 2; k < s->n; k++) {
		dcv_buf_adds(&cond, s->w[k]);
		dcv_buf_addc(&cond, ' ');
		acl_text(c, s->sec, s->w[k], &cond);
	}
	ws = section_named(c, "backend", arg(s, 1));
	page = section_named(c, "backend", arg(def, 1));
	if (contains_ci(dcv_buf_str(&cond), "upgrade") && ws >= 0 && page >= 0 &&
	    !(sticky(c, ws) && sticky(c, page))) {
		char *host = host_prefix(dcv_buf_str(&cond));
		dcv_findings_add(out, DCV_SEV_WARN, file, s->line, "haproxy.ws-split",
				 "WebSocket requests go to backend '%s' and pages to '%s', not both keeping a "
				 "client on one server: a WebSocket may reach another DCV server than its page%s%s%s",
				 arg(s, 1), arg(def, 1), host ? " (the condition also sends any Host: " : "",
				 host ? host : "", host ? "* there, pages included)" : "");
		free(host);
	}
	dcv_buf_release(&cond);
}

static void sort_by_line(struct dcv_findings *out, int first)
{
	for (int i = first + 1; i < out->n; i++) {
		struct dcv_finding x = out->v[i];
		int j = i;
		while (j > first && out->v[j - 1].line > x.line) {
			out->v[j] = out->v[j - 1];
			j--;
		}
		out->v[j] = x;
	}
}

void dcv_lint_haproxy(const char *text, const char *file, bool crypto_policies,
		      struct dcv_findings *out)
{
	struct hcfg c = { 0 };
	int first = out->n;

	hparse(&c, text, file, out);
	for (int i = 0; i < c.n; i++) {
		const struct hstmt *s = &c.st[i];
		if (!crypto_policies)
			lint_profile_system(s, file, out);
		lint_httpchk(&c, s, file, out);
		lint_stats(&c, s, file, out);
		lint_fin(&c, s, file, out);
		lint_split(&c, s, file, out);
	}
	for (int i = 0; i < c.n_sec; i++)
		lint_tunnel(&c, i, file, out);
	sort_by_line(out, first);
	hcfg_release(&c);
}

/* ------------------------------------------------------------------ show stat */

/* The fields of one CSV line; a field in double quotes may hold commas and "" for a quote. */
static int csv_fields(const char *p, size_t len, char ***out)
{
	const char *end = p + len;
	char **v = NULL;
	int n = 0;

	for (;;) {
		struct dcv_buf f = DCV_BUF_INIT;
		if (p < end && *p == '"') {
			for (p++; p < end; p++) {
				if (*p == '"' && p + 1 < end && p[1] == '"')
					dcv_buf_addc(&f, *p++);
				else if (*p == '"')
					break;
				else
					dcv_buf_addc(&f, *p);
			}
			p += p < end;
		}
		while (p < end && *p != ',')
			dcv_buf_addc(&f, *p++);
		v = xrealloc(v, sizeof(char *) * (size_t)(n + 1));
		v[n++] = f.data ? dcv_buf_detach(&f) : xstrdup("");
		if (p >= end)
			break;
		p++;
	}
	*out = v;
	return n;
}

static void free_fields(char **v, int n)
{
	for (int i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static char *field(char **v, int n, int at)
{
	return xstrdup(at >= 0 && at < n ? v[at] : "");
}

static int column(char **hdr, int n, const char *name)
{
	for (int i = 0; i < n; i++)
		if (strcmp(hdr[i], name) == 0)
			return i;
	return -1;
}

bool dcv_haproxy_parse_stat(const char *csv, struct dcv_haproxy_stat **rows, int *n)
{
	static const char *const names[] = { "pxname", "svname", "status", "check_status",
					     "check_desc", "last_chk", "addr" };
	const char *p = csv ? csv : "";
	char **hdr = NULL;
	int n_hdr = 0, col[7], count = 0;
	struct dcv_haproxy_stat *v = NULL;

	while (*p) {
		size_t len = strcspn(p, "\n");
		size_t trim = len && p[len - 1] == '\r' ? len - 1 : len;
		if (!hdr && strncmp(p, "# ", 2) == 0) {
			n_hdr = csv_fields(p + 2, trim - 2, &hdr);
			for (int i = 0; i < 7; i++)
				col[i] = column(hdr, n_hdr, names[i]);
		} else if (hdr && trim) {
			char **f;
			int nf = csv_fields(p, trim, &f);
			v = xrealloc(v, sizeof(*v) * (size_t)(count + 1));
			v[count++] = (struct dcv_haproxy_stat){ field(f, nf, col[0]), field(f, nf, col[1]),
								field(f, nf, col[2]), field(f, nf, col[3]),
								field(f, nf, col[4]), field(f, nf, col[5]),
								field(f, nf, col[6]) };
			free_fields(f, nf);
		}
		p += len + (p[len] == '\n');
	}
	if (!hdr || col[0] < 0 || col[1] < 0) {
		free_fields(hdr, n_hdr);
		dcv_haproxy_stat_free(v, count);
		return false;
	}
	free_fields(hdr, n_hdr);
	*rows = v;
	*n = count;
	return true;
}

void dcv_haproxy_stat_free(struct dcv_haproxy_stat *rows, int n)
{
	if (!rows)
		return;
	for (int i = 0; i < n; i++) {
		free(rows[i].pxname);
		free(rows[i].svname);
		free(rows[i].status);
		free(rows[i].check_status);
		free(rows[i].check_desc);
		free(rows[i].last_chk);
		free(rows[i].addr);
	}
	free(rows);
}
/* ------------------------------------------------------------------ the kind */

static void kind_render(const struct dcv_inventory *inv, const struct dcv_proxy_env *env, struct dcv_buf *out)
{
	struct dcv_haproxy_env he = {
		.crypto_policies = env && env->crypto_policies,
		.pem_path = DCV_HAPROXY_PEM,
		/* `config render` has no gateway to read the generated credentials from */
		.stats_user = env && env->stats_user ? env->stats_user : "dcvctl",
		.stats_password = env && env->stats_password ? env->stats_password : "GENERATED-ON-FIRST-DEPLOY",
		.stats_socket = DCV_HAPROXY_STATS_SOCKET,
	};

	dcv_render_haproxy(inv, &he, out);
}

static void kind_lint(const char *text, const char *file, const struct dcv_proxy_env *env,
		      struct dcv_findings *out)
{
	dcv_lint_haproxy(text, file, env && env->crypto_policies, out);
}

static bool kind_backends(const char *status, struct dcv_backend_state **out, int *n)
{
	struct dcv_haproxy_stat *rows;
	int nr, k = 0;

	if (!dcv_haproxy_parse_stat(status, &rows, &nr))
		return false;
	*out = xcalloc((size_t)nr + 1, sizeof(**out));
	for (int i = 0; i < nr; i++) {
		const struct dcv_haproxy_stat *r = &rows[i];
		if (strcmp(r->pxname, "dcv_servers") != 0 || strcmp(r->svname, "BACKEND") == 0)
			continue;
		struct dcv_backend_state *b = &(*out)[k++];
		snprintf(b->name, sizeof(b->name), "%s", r->svname);
		snprintf(b->status, sizeof(b->status), "%s", r->status);
		b->up = strncmp(r->status, "UP", 2) == 0 || strcmp(r->status, "no check") == 0;
		snprintf(b->detail, sizeof(b->detail), "%s%s%s", r->check_status, r->last_chk[0] ? ": " : "",
			 r->last_chk[0] ? r->last_chk : r->check_desc);
	}
	*n = k;
	dcv_haproxy_stat_free(rows, nr);
	return true;
}

static const struct dcv_proxy_derived derived[] = {
	{ "secret", "/etc/haproxy/dcvctl-stats.secret", DCV_DERIVE_SECRET },
	{ "pem", DCV_HAPROXY_PEM, DCV_DERIVE_CERT_KEY },
};
static const char *const stop_units[] = { DCV_UNIT_GATEWAY, DCV_UNIT_BROKER, "nginx", NULL };
static const enum dcv_check_key checks[] = { DCV_CK_PROXY_BACKENDS, DCV_CK_COUNT };

/* The config logs to /dev/log: rsyslog writes /var/log/haproxy.log where it runs (Debian's
 * package ships that rule); without rsyslog the lines are in the journal. */
static const struct dcv_log_source logs[] = {
	{ "/var/log/haproxy.log", "haproxy" },
	{ NULL, NULL },
};

/* HAProxy logs to syslog (render(): log /dev/log), which both distributions' rsyslog write to
 * /var/log/haproxy.log: rsyslog makes the file again, with its own owner, once told on HUP. */
static const struct dcv_rotated_log rotated[] = {
	{ "/var/log/haproxy.log", NULL, NULL, "systemctl kill -s HUP rsyslog.service >/dev/null 2>&1 || true" },
};

const struct dcv_proxy_kind dcv_proxy_haproxy = {
	.id = DCV_PROXY_HAPROXY,
	.name = "haproxy",
	.bypass = true,
	.unit = "haproxy",
	.binary = "haproxy",
	.package_rpm = "haproxy",
	.package_deb = "haproxy",
	.config = DCV_HAPROXY_CONF,
	.validate = "haproxy -c -f " DCV_HAPROXY_CONF,
	.reload = "if systemctl is-active --quiet haproxy; then systemctl reload haproxy; fi",
	.process = "haproxy",
	.stop = stop_units,
	.logrotate = rotated,
	.n_logrotate = 1,
	.dump = "cat " DCV_HAPROXY_CONF,
	.derived = derived,
	.n_derived = 2,
	.logs = logs,
	.checks = checks,
	/* socat is how HAProxy's own documentation talks to the stats socket */
	.status = "echo 'show stat' | socat -t 2 - UNIX-CONNECT:" DCV_HAPROXY_STATS_SOCKET,
	.backends = kind_backends,
	.render = kind_render,
	.lint = kind_lint,
};
