/* nginx on the gateway: seed Phase 1 (and Option B for several DCV servers), fixed. */
#include "proxy.h"

#include "util.h"

#include <stdlib.h>
#include <string.h>

static void server_line(struct dcv_buf *out, const struct dcv_host *a, bool backup_flag)
{
	const char *fmt = strchr(a->address, ':') ? "    server [%s]:%d max_fails=3 fail_timeout=30s%s;\n"
						  : "    server %s:%d max_fails=3 fail_timeout=30s%s;\n";

	dcv_buf_addf(out, fmt, a->address, a->port, backup_flag && a->backup ? " backup" : "");
}

static void servers(struct dcv_buf *out, const struct dcv_inventory *inv, int which)
{
	/* which: 0 every agent (backups flagged), 1 primaries only, 2 backups only */
	for (int i = 0; i < inv->n_hosts; i++) {
		const struct dcv_host *a = inv->hosts[i];
		if (a->role != DCV_ROLE_AGENT || (which == 1 && a->backup) || (which == 2 && !a->backup))
			continue;
		server_line(out, a, which == 0);
	}
}

/* The proxying of one location: WebSocket upgrade, timeouts, no buffering. */
static void proxy_block(struct dcv_buf *out, const char *upstream)
{
	dcv_buf_addf(out,
		     "        # DCV serves TLS only, with its own self-signed /etc/dcv/dcv.pem.\n"
		     "        proxy_pass https://%s;\n"
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
		     "        tcp_nodelay on;\n",
		     upstream);
}

static void render(const struct dcv_inventory *inv, const struct dcv_proxy_env *env, struct dcv_buf *out)
{
	const struct dcv_host *gw = dcv_inventory_gateway(inv);
	int listen = gw ? gw->listen : 8443;
	const char *cert = gw ? gw->cert : "/etc/dcv-connection-gateway/cert.pem";
	const char *key = gw ? gw->key : "/etc/dcv-connection-gateway/key.pem";
	int n_agents = 0, n_backup = 0;
	bool sticky;

	(void)env;
	for (int i = 0; i < inv->n_hosts; i++)
		if (inv->hosts[i]->role == DCV_ROLE_AGENT) {
			n_agents++;
			n_backup += inv->hosts[i]->backup;
		}
	sticky = n_agents - n_backup > 1;

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
	if (!sticky) {
		dcv_buf_adds(out,
			     "# Balancing: nginx's default round-robin. nginx refuses `backup` together with\n"
			     "# ip_hash, hash or random (\"balancing method does not support parameter backup\"),\n"
			     "# and behind PrivateLink the client address nginx sees is the load balancer's, so\n"
			     "# ip_hash would pin per load-balancer node rather than per user anyway. With one\n"
			     "# primary server every session goes to it; backup servers take over only when it\n"
			     "# fails (max_fails within fail_timeout).\n");
		dcv_buf_adds(out, "upstream dcv_backend {\n");
		servers(out, inv, 0);
		if (n_agents == 0)
			dcv_buf_adds(out, "    server 127.0.0.1:8443 down; # no [agent] in the inventory\n");
		dcv_buf_adds(out, "    keepalive 32;\n}\n\n");
	} else {
		dcv_buf_adds(out,
			     "# Several primary DCV servers: a browser must reach the same server for the page\n"
			     "# and for its WebSocket, or the session it asks for is not there. nginx open\n"
			     "# source has no sticky cookie, and ip_hash does not work here: behind PrivateLink\n"
			     "# the address nginx sees is the load balancer node's (the NLB does not preserve\n"
			     "# the client's address for endpoint-service traffic unless proxy protocol v2 is\n"
			     "# enabled), so ip_hash pins per NLB node, not per user. Instead the key is a cookie\n"
			     "# of our own: a browser without one gets a random key ($request_id) and keeps it\n"
			     "# (Set-Cookie below); `hash ... consistent` sends the same key to the same server\n"
			     "# every time, WebSocket included, and moves only the keys of a failed server.\n"
			     "map $cookie_dcv_affinity $dcv_affinity {\n"
			     "    \"\"      $request_id;\n"
			     "    default $cookie_dcv_affinity;\n"
			     "}\n"
			     "\n"
			     "upstream dcv_backend {\n"
			     "    hash $dcv_affinity consistent;\n");
		servers(out, inv, 1);
		dcv_buf_adds(out, "    keepalive 32;\n}\n\n");
		if (n_backup) {
			dcv_buf_adds(out,
				     "# nginx refuses `backup` with hash, so the backup servers are an upstream of\n"
				     "# their own, reached through error_page when no primary answers.\n"
				     "upstream dcv_backup {\n");
			servers(out, inv, 2);
			dcv_buf_adds(out, "    keepalive 32;\n}\n\n");
		}
	}

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
		     "    location / {\n",
		     listen, cert, key, listen);
	proxy_block(out, "dcv_backend");
	if (sticky) {
		dcv_buf_adds(out, "        add_header Set-Cookie \"dcv_affinity=$dcv_affinity; Path=/; Secure; HttpOnly; "
				  "SameSite=Lax\" always;\n");
		if (n_backup)
			dcv_buf_adds(out, "        error_page 502 504 = @dcv_backup;\n");
	}
	dcv_buf_adds(out, "    }\n");
	if (sticky && n_backup) {
		dcv_buf_adds(out, "\n    location @dcv_backup {\n");
		proxy_block(out, "dcv_backup");
		dcv_buf_adds(out, "    }\n");
	}
	dcv_buf_adds(out, "}\n");
}

/* `nginx -T` prints every file nginx loads after a "# configuration file NAME:" line. */
static void lint(const char *dump, const char *file, const struct dcv_proxy_env *env,
		 struct dcv_findings *out)
{
	struct dcv_nginx_file *files = NULL;
	int n = 0;
	const char *p = dump;

	while ((p = strstr(p, "# configuration file "))) {
		const char *name = p + strlen("# configuration file ");
		const char *colon = strstr(name, ":\n");
		if (!colon)
			break;
		const char *body = colon + 2;
		const char *next = strstr(body, "\n# configuration file ");
		size_t len = next ? (size_t)(next - body + 1) : strlen(body);
		files = xrealloc(files, sizeof(*files) * (size_t)(n + 1));
		files[n].name = xstrndup(name, (size_t)(colon - name));
		files[n].text = xstrndup(body, len);
		n++;
		p = body + len;
	}
	if (n == 0) /* a plain file, not a dump */
		dcv_lint_nginx(&(struct dcv_nginx_file){ file, dump }, 1, env ? env->crons : NULL, out);
	else
		dcv_lint_nginx(files, n, env ? env->crons : NULL, out);
	for (int i = 0; i < n; i++) {
		free((char *)files[i].name);
		free((char *)files[i].text);
	}
	free(files);
}

static const char *const stop_units[] = { DCV_UNIT_GATEWAY, DCV_UNIT_BROKER, "haproxy", NULL };
static const enum dcv_check_key no_checks[] = { DCV_CK_COUNT };

/* The files the rendered server block names, and the main error log where nginx reports what
 * happens before it reads that block (a config that does not load). */
static const struct dcv_log_source logs[] = {
	{ "/var/log/nginx/dcv-access.log", NULL },
	{ "/var/log/nginx/dcv-error.log", NULL },
	{ "/var/log/nginx/error.log", "nginx" },
	{ NULL, NULL },
};

/* The files render() names; nginx reopens its logs on USR1 (the seed's postrotate, on the pid
 * file both distributions' units use). The owner is the worker's user of each distribution's
 * package: nginx on Amazon Linux, www-data (group adm, which reads logs) on Debian and Ubuntu. */
static const struct dcv_rotated_log rotated[] = {
	{ "/var/log/nginx/dcv-*.log", "0640 nginx root", "0640 www-data adm",
	  "[ ! -s /run/nginx.pid ] || kill -USR1 \"$(cat /run/nginx.pid)\"" },
};

const struct dcv_proxy_kind dcv_proxy_nginx = {
	.id = DCV_PROXY_NGINX,
	.name = "nginx",
	.bypass = true,
	.unit = "nginx",
	.binary = "nginx",
	.package_rpm = "nginx",
	.package_deb = "nginx",
	.config = "/etc/nginx/conf.d/dcv-proxy.conf",
	.validate = "nginx -t",
	.reload = "if systemctl is-active --quiet nginx; then systemctl reload nginx; fi",
	.process = "nginx",
	.stop = stop_units,
	.logrotate = rotated,
	.n_logrotate = 1,
	.dump = "nginx -T",
	.logs = logs,
	.checks = no_checks,
	.render = render,
	.lint = lint,
};
