/* dcvctl hosts [--probe]: the inventory, and whether each host answers over SSH. */
#include "cli.h"

#include "../lib/buf.h"
#include "../lib/inventory.h"
#include "../lib/ssh.h"

#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

struct vars {
	bool probe, json;
};

static const struct dcv_opt opts[] = {
	CLI_BOOL(struct vars, probe, 'p', "probe", "connect to every host in parallel: state, connect time, round trip"),
	CLI_BOOL(struct vars, json, 0, "json", "print as JSON"),
	CLI_END,
};

struct probe {
	struct dcv_ssh_pool *pool;
	struct dcv_host **hosts;
	int *rc;
	struct dcv_err *err;
	long *connect_ms, *rtt_ms;
	char (*hostkey)[160];
};

static void probe_one(void *user, int i)
{
	struct probe *p = user;
	struct dcv_ssh *c;

	p->rc[i] = dcv_ssh_connect(p->pool, p->hosts[i], &c, &p->err[i]);
	if (p->rc[i] != DCV_OK)
		return;
	p->connect_ms[i] = dcv_ssh_connect_ms(c);
	snprintf(p->hostkey[i], sizeof(p->hostkey[i]), "%s", dcv_ssh_hostkey(c));
	p->rc[i] = dcv_ssh_ping(c, &p->rtt_ms[i], &p->err[i]);
	p->rc[i] = dcv_ssh_ping(c, &p->rtt_ms[i], &p->err[i]);
	p->rc[i] = dcv_ssh_ping(c, &p->rtt_ms[i], &p->err[i]);
}

static void describe_ssh(struct dcv_buf *b, const struct dcv_host *h)
{
	dcv_buf_addf(b, "%s@%s", h->user, h->ssh_host);
	if (h->ssh_host && strchr(h->ssh_host, ':'))
		dcv_buf_addf(b, " port %d", h->ssh_port);
	else
		dcv_buf_addf(b, ":%d", h->ssh_port);
	if (h->jump)
		dcv_buf_addf(b, " via %s", h->jump->name);
	else if (h->address && strcmp(h->ssh_host, h->address) != 0)
		dcv_buf_adds(b, " (forward)");
}

static int run(struct dcv_ctx *ctx, int argc, char **argv)
{
	struct dcv_inventory *inv;
	struct cli_args a;
	struct vars v = { 0 };
	bool probe, json;
	int rc = cli_parse(&dcv_cmd_hosts, argc, argv, &a, &v);
	struct dcv_reach reach = DCV_REACH_INIT;
	int n = 0, ok = 0, failed = 0;

	if (rc)
		return rc < 0 ? EXIT_OK : rc;
	probe = v.probe;
	json = ctx->json || v.json;
	if ((rc = ctx_inventory(ctx, &inv)) != EXIT_OK)
		return rc;

	struct dcv_host **hosts = xcalloc((size_t)inv->n_hosts, sizeof(*hosts));
	for (int i = 0; i < inv->n_hosts; i++)
		if (inv->hosts[i]->role != DCV_ROLE_JUMP)
			hosts[n++] = inv->hosts[i];

	struct probe p = { 0 };
	p.hosts = hosts;
	p.rc = xcalloc((size_t)n, sizeof(int));
	p.err = xcalloc((size_t)n, sizeof(struct dcv_err));
	p.connect_ms = xcalloc((size_t)n, sizeof(long));
	p.rtt_ms = xcalloc((size_t)n, sizeof(long));
	p.hostkey = xcalloc((size_t)n, sizeof(*p.hostkey));
	if (probe) {
		p.pool = ctx_pool(ctx);
		dcv_parallel(n, n, probe_one, &p);
	}

	struct json_object *root = json ? json_object_new_object() : NULL;
	struct json_object *arr = json ? json_object_new_array() : NULL;
	struct dcv_buf line = DCV_BUF_INIT;
	int w_name = 4, w_role = 4, w_addr = 7, w_ssh = 3;
	for (int i = 0; i < n && !json; i++) {
		struct dcv_buf s = DCV_BUF_INIT;
		describe_ssh(&s, hosts[i]);
		w_name = (int)strlen(hosts[i]->name) > w_name ? (int)strlen(hosts[i]->name) : w_name;
		w_addr = (int)strlen(hosts[i]->address) > w_addr ? (int)strlen(hosts[i]->address) : w_addr;
		w_ssh = (int)s.len > w_ssh ? (int)s.len : w_ssh;
		w_role = 7;
		dcv_buf_release(&s);
	}
	if (!json) {
		printf("%s%-*s  %-*s  %-*s  %-*s%s%s\n", col(ctx, "bold"), w_name, "NAME", w_role, "ROLE",
		       w_addr, "ADDRESS", probe ? w_ssh : 0, "SSH", probe ? "  STATE" : "", col_end(ctx));
	}
	for (int i = 0; i < n; i++) {
		const struct dcv_host *h = hosts[i];
		struct dcv_buf s = DCV_BUF_INIT;

		describe_ssh(&s, h);
		if (probe) {
			p.rc[i] == DCV_OK ? ok++ : failed++;
			dcv_reach_add(&reach, p.rc[i]);
		}
		if (json) {
			struct json_object *o = json_object_new_object();
			struct json_object *sshj = json_object_new_object();
			json_object_object_add(o, "name", json_object_new_string(h->name));
			json_object_object_add(o, "role", json_object_new_string(dcv_role_name(h->role)));
			json_object_object_add(o, "address", json_object_new_string(h->address));
			json_object_object_add(o, "user", json_object_new_string(h->user));
			json_object_object_add(sshj, "host", json_object_new_string(h->ssh_host));
			json_object_object_add(sshj, "port", json_object_new_int(h->ssh_port));
			json_object_object_add(sshj, "via", h->jump ? json_object_new_string(h->jump->name) : NULL);
			json_object_object_add(sshj, "host_key_policy",
					       json_object_new_string(dcv_hostkey_policy_name(h->ssh.host_key_policy)));
			json_object_object_add(o, "ssh", sshj);
			if (probe) {
				json_object_object_add(o, "state", json_object_new_string(p.rc[i] == DCV_OK ? "ok" : "failed"));
				if (p.rc[i] == DCV_OK) {
					json_object_object_add(o, "connect_ms", json_object_new_int64(p.connect_ms[i]));
					json_object_object_add(o, "rtt_ms", json_object_new_int64(p.rtt_ms[i]));
					json_object_object_add(o, "host_key", json_object_new_string(p.hostkey[i]));
				} else {
					json_object_object_add(o, "error", json_object_new_string(p.err[i].msg));
				}
			}
			json_object_array_add(arr, o);
		} else {
			dcv_buf_reset(&line);
			dcv_buf_addf(&line, "%-*s  %-*s  %-*s  %-*s", w_name, h->name, w_role,
				     dcv_role_name(h->role), w_addr, h->address, probe ? w_ssh : 0, s.data);
			if (probe && p.rc[i] == DCV_OK)
				dcv_buf_addf(&line, "  %sok%s  connect %ld ms, rtt %ld ms", col(ctx, "green"),
					     col_end(ctx), p.connect_ms[i], p.rtt_ms[i]);
			else if (probe)
				dcv_buf_addf(&line, "  %sfailed%s  %s", col(ctx, "red"), col_end(ctx),
					     p.err[i].msg);
			dcv_buf_rtrim(&line);
			puts(line.data);
		}
		dcv_buf_release(&s);
	}
	dcv_buf_release(&line);
	if (json) {
		json_object_object_add(root, "hosts", arr);
		if (probe) {
			struct json_object *sum = json_object_new_object();
			json_object_object_add(sum, "ok", json_object_new_int(ok));
			json_object_object_add(sum, "failed", json_object_new_int(failed));
			json_object_object_add(root, "summary", sum);
		}
		out_json(root);
	}
	dcv_ssh_pool_free(p.pool);
	free(p.rc);
	free(p.err);
	free(p.connect_ms);
	free(p.rtt_ms);
	free(p.hostkey);
	free(hosts);
	return exit_for_outcome(dcv_reach_outcome(&reach));
}

const struct dcv_cmd dcv_cmd_hosts = {
	.name = "hosts",
	.summary = "list the inventory's hosts; --probe connects to each in parallel",
	.usage = "hosts [--probe] [--json]",
	.help = "Lists every host with its role, data-plane address and how SSH reaches it (directly,\n"
		"through a port forward, or via a jump host). With --probe, connects to all hosts in\n"
		"parallel (one connection per host, one per jump host) and reports the state, the\n"
		"connect time (TCP + handshake + authentication) and one round trip.\n"
		"Exit: 0 all reachable, 1 some unreachable, 4 none reachable, 3 inventory error.\n",
	.opts = opts,
	.run = run,
};
