#include "render.h"

#include "inventory.h"
#include "util.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ nginx */

static void agent_server_line(struct dcv_buf *out, const struct dcv_host *a)
{
	if (strchr(a->address, ':'))
		dcv_buf_addf(out, "    server [%s]:%d max_fails=3 fail_timeout=30s%s;\n", a->address,
			     a->port, a->backup ? " backup" : "");
	else
		dcv_buf_addf(out, "    server %s:%d max_fails=3 fail_timeout=30s%s;\n", a->address,
			     a->port, a->backup ? " backup" : "");
}

void dcv_render_nginx(const struct dcv_inventory *inv, struct dcv_buf *out)
{
	const struct dcv_host *gw = dcv_inventory_gateway(inv);
	int listen = gw ? gw->listen : 8443;
	const char *cert = gw ? gw->cert : "/etc/dcv-connection-gateway/cert.pem";
	const char *key = gw ? gw->key : "/etc/dcv-connection-gateway/key.pem";
	int n_agents = 0, n_backup = 0;

	for (int i = 0; i < inv->n_hosts; i++)
		if (inv->hosts[i]->role == DCV_ROLE_AGENT) {
			n_agents++;
			n_backup += inv->hosts[i]->backup;
		}

	dcv_buf_adds(out,
		     "# Managed by dcvctl (dcvctl deploy): edits here are replaced on the next deploy.\n"
		     "# DCV reverse proxy: client -> PrivateLink endpoint -> this gateway -> DCV servers.\n"
		     "\n"
		     "# WebSocket upgrade. Requests without Upgrade get an empty Connection header so the\n"
		     "# upstream keepalive pool below can reuse connections; upgrades get \"upgrade\".\n"
		     "# The map lives in this file so the file stands on its own (nginx -t).\n"
		     "map $http_upgrade $connection_upgrade {\n"
		     "    default upgrade;\n"
		     "    ''      \"\";\n"
		     "}\n"
		     "\n");
	dcv_buf_adds(out,
		     "# Balancing: nginx's default round-robin. nginx refuses `backup` together with\n"
		     "# ip_hash, hash or random (\"balancing method does not support parameter backup\"),\n"
		     "# and behind PrivateLink the client address nginx sees is the load balancer's, so\n"
		     "# ip_hash would pin per load-balancer node rather than per user anyway. With one\n"
		     "# primary server every session goes to it; backup servers take over only when it\n"
		     "# fails (max_fails within fail_timeout).\n");
	dcv_buf_addf(out, "upstream dcv_backend {\n");
	for (int i = 0; i < inv->n_hosts; i++)
		if (inv->hosts[i]->role == DCV_ROLE_AGENT)
			agent_server_line(out, inv->hosts[i]);
	if (n_agents == 0)
		dcv_buf_adds(out, "    server 127.0.0.1:8443 down; # no [agent] in the inventory\n");
	dcv_buf_adds(out, "    keepalive 32;\n}\n\n");
	(void)n_backup;

	dcv_buf_addf(out,
		     "server {\n"
		     "    # No http2: nginx cannot carry WebSocket over HTTP/2 (RFC 8441) and DCV's\n"
		     "    # browser client needs its WebSocket; everything stays on HTTP/1.1.\n"
		     "    listen %d ssl;\n"
		     "    server_name _;\n"
		     "\n"
		     "    # The certificate must name the endpoint clients type (the VPC endpoint DNS name):\n"
		     "    # `dcvctl cert check` verifies it.\n"
		     "    ssl_certificate %s;\n"
		     "    ssl_certificate_key %s;\n"
		     "    ssl_protocols TLSv1.2 TLSv1.3;\n"
		     "    ssl_ciphers HIGH:!aNULL:!MD5;\n"
		     "    ssl_prefer_server_ciphers on;\n"
		     "    # A zone name of our own: a shared zone declared elsewhere with another size\n"
		     "    # would make nginx -t fail.\n"
		     "    ssl_session_cache shared:dcv_ssl:10m;\n"
		     "    ssl_session_timeout 10m;\n"
		     "\n"
		     "    access_log /var/log/nginx/dcv-access.log;\n"
		     "    error_log /var/log/nginx/dcv-error.log;\n"
		     "\n"
		     "    client_max_body_size 1G;\n"
		     "    client_body_timeout 60s;\n"
		     "    client_header_timeout 60s;\n"
		     "\n"
		     "    # Answered by nginx itself (DCV has no /health: it would 404), for monitors and\n"
		     "    # `curl -fsk https://localhost:%d/health`.\n"
		     "    location = /health {\n"
		     "        access_log off;\n"
		     "        default_type text/plain;\n"
		     "        return 200 \"healthy\\n\";\n"
		     "    }\n"
		     "\n"
		     "    location / {\n"
		     "        # DCV serves TLS only, with its own self-signed /etc/dcv/dcv.pem.\n"
		     "        proxy_pass https://dcv_backend;\n"
		     "        proxy_ssl_verify off;\n"
		     "        proxy_http_version 1.1;\n"
		     "        proxy_set_header Upgrade $http_upgrade;\n"
		     "        proxy_set_header Connection $connection_upgrade;\n"
		     "        proxy_set_header Host $host;\n"
		     "        proxy_set_header X-Real-IP $remote_addr;\n"
		     "        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;\n"
		     "        proxy_set_header X-Forwarded-Proto $scheme;\n"
		     "\n"
		     "        # DCV pings every 10 s (ws-keepalive-interval), so a live session is never\n"
		     "        # idle for long; 400 s stays above PrivateLink's fixed 350 s idle timeout, so\n"
		     "        # nginx is never the hop that cuts a quiet connection first.\n"
		     "        proxy_connect_timeout 10s;\n"
		     "        proxy_send_timeout 400s;\n"
		     "        proxy_read_timeout 400s;\n"
		     "        proxy_socket_keepalive on;\n"
		     "\n"
		     "        # Interactive traffic: no buffering, no Nagle.\n"
		     "        proxy_buffering off;\n"
		     "        proxy_request_buffering off;\n"
		     "        tcp_nodelay on;\n"
		     "    }\n"
		     "}\n",
		     listen, cert, key, listen);
}

/* ------------------------------------------------------------------ dcv.conf */

struct line {
	char *text;
	char section[128]; /* section the line belongs to ("" before the first header) */
	char key[128];     /* "" when not a key line */
	bool header;
};

struct file {
	struct line *v;
	int n;
};

static void trim(char *s)
{
	size_t n = strlen(s), i = 0;

	while (n && isspace((unsigned char)s[n - 1]))
		s[--n] = '\0';
	while (isspace((unsigned char)s[i]))
		i++;
	memmove(s, s + i, n - i + 1);
}

static void add_line(struct file *f, const char *text, size_t len, const char *section_in)
{
	struct line *l;
	char section[128];

	/* section_in may point into f->v, which the realloc below moves */
	snprintf(section, sizeof(section), "%s", section_in);
	f->v = xrealloc(f->v, sizeof(*f->v) * (size_t)(f->n + 1));
	l = &f->v[f->n++];
	memset(l, 0, sizeof(*l));
	l->text = xstrndup(text, len);
	snprintf(l->section, sizeof(l->section), "%s", section);

	char tmp[512];
	snprintf(tmp, sizeof(tmp), "%s", l->text);
	trim(tmp);
	if (tmp[0] == '[') {
		char *close = strchr(tmp, ']');
		if (close) {
			*close = '\0';
			snprintf(l->section, sizeof(l->section), "%s", tmp + 1);
			trim(l->section);
			l->header = true;
		}
	} else if (tmp[0] && tmp[0] != '#' && tmp[0] != ';') {
		char *eq = strchr(tmp, '=');
		if (eq) {
			*eq = '\0';
			trim(tmp);
			snprintf(l->key, sizeof(l->key), "%s", tmp);
		}
	}
}

static void parse(struct file *f, const char *text)
{
	char section[128] = "";
	const char *p = text ? text : "";

	while (*p) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		add_line(f, p, len, section);
		snprintf(section, sizeof(section), "%s", f->v[f->n - 1].section);
		p += len + (nl ? 1 : 0);
	}
}

static void release(struct file *f)
{
	for (int i = 0; i < f->n; i++)
		free(f->v[i].text);
	free(f->v);
}

static void remove_key(struct file *f, const char *section, const char *key)
{
	for (int i = 0; i < f->n; i++) {
		if (!f->v[i].header && strcmp(f->v[i].section, section) == 0 &&
		    strcmp(f->v[i].key, key) == 0) {
			free(f->v[i].text);
			memmove(&f->v[i], &f->v[i + 1], sizeof(*f->v) * (size_t)(f->n - i - 1));
			f->n--;
			i--;
		}
	}
}

static void insert_at(struct file *f, int at, const char *text, const char *section)
{
	add_line(f, text, strlen(text), section);
	struct line l = f->v[f->n - 1];
	memmove(&f->v[at + 1], &f->v[at], sizeof(*f->v) * (size_t)(f->n - 1 - at));
	f->v[at] = l;
}

/* Set section.key to the literal `value` (already in dcv.conf syntax): replace the first
 * occurrence (dropping repeats), or add it after the section's last key, or add the section. */
static void set_key(struct file *f, const char *section, const char *key, const char *value)
{
	char *text = xasprintf("%s=%s", key, value);
	int first = -1, header = -1, last = -1;

	for (int i = 0; i < f->n; i++) {
		if (strcmp(f->v[i].section, section) != 0)
			continue;
		if (f->v[i].header) {
			if (header < 0)
				header = i;
			continue;
		}
		if (strcmp(f->v[i].key, key) == 0) {
			if (first < 0) {
				first = i;
			} else {
				free(f->v[i].text);
				memmove(&f->v[i], &f->v[i + 1], sizeof(*f->v) * (size_t)(f->n - i - 1));
				f->n--;
				i--;
				continue;
			}
		}
		if (f->v[i].key[0])
			last = i;
	}
	if (first >= 0) {
		/* keep the operator's spacing style if the value is already right */
		char cur[512];
		const char *eq = strchr(f->v[first].text, '=');
		snprintf(cur, sizeof(cur), "%s", eq ? eq + 1 : "");
		trim(cur);
		if (strcmp(cur, value) != 0) {
			free(f->v[first].text);
			f->v[first].text = xstrdup(text);
		}
	} else if (header >= 0) {
		insert_at(f, (last >= 0 ? last : header) + 1, text, section);
	} else {
		char *hdr = xasprintf("[%s]", section);
		if (f->n && f->v[f->n - 1].text[0] != '\0')
			add_line(f, "", 0, f->v[f->n - 1].section);
		add_line(f, hdr, strlen(hdr), section);
		add_line(f, text, strlen(text), section);
		free(hdr);
	}
	free(text);
}

static char *quoted(const char *s)
{
	struct dcv_buf b = DCV_BUF_INIT;

	dcv_buf_addc(&b, '"');
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			dcv_buf_addc(&b, '\\');
		dcv_buf_addc(&b, *s);
	}
	dcv_buf_addc(&b, '"');
	return dcv_buf_detach(&b);
}

void dcv_render_dcvconf(const char *existing, const struct dcv_host *agent, bool bypass,
			struct dcv_buf *out)
{
	struct file f = { 0 };
	char port[16];
	char *path = quoted(agent->web_url_path);

	parse(&f, existing);
	snprintf(port, sizeof(port), "%d", agent->port);
	set_key(&f, "connectivity", "web-port", port);
	set_key(&f, "connectivity", "web-url-path", path);
	set_key(&f, "session-management", "create-session", "false");
	if (agent->authentication) {
		char *a = quoted(agent->authentication);
		set_key(&f, "security", "authentication", a);
		free(a);
	}
	/* The bypass stops the broker: its token verifier, and no-tls-strict, which only relaxes
	 * TLS towards that verifier (reference/dcv.md §1.2), would send logins nowhere. */
	if (bypass) {
		remove_key(&f, "security", "auth-token-verifier");
		remove_key(&f, "security", "no-tls-strict");
	}
	for (int i = 0; i < f.n; i++) {
		dcv_buf_adds(out, f.v[i].text);
		dcv_buf_addc(out, '\n');
	}
	free(path);
	release(&f);
}
