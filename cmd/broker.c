/* dcvctl broker enable-gateway: the Session Manager broker's half of seed 004 alone (design §4):
 * its gateway connector on, with --tls-client-auth the client credentials generated once. */
#include "cli.h"

#include "../lib/deploy.h"
#include "../lib/inventory.h"
#include "../lib/ssh.h"

#include <json-c/json.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

struct vars {
	bool dry_run, tls_client_auth;
};

static const struct dcv_opt enable_opts[] = {
	CLI_BOOL(struct vars, dry_run, 'n', "dry-run", "print the plan and unified diffs; change nothing"),
	CLI_BOOL(struct vars, tls_client_auth, 0, "tls-client-auth",
		 "also require the gateway's client certificate (as [broker] tls-client-auth = yes)"),
	CLI_END,
};

struct printer {
	struct dcv_ctx *ctx;
	bool dry_run;
};

static void print_step(void *user, const struct dcv_step *s)
{
	struct printer *p = user;
	struct step_style st = { 17, false, p->dry_run, p->dry_run };

	if (!p->ctx->json)
		out_step(p->ctx, &st, s);
}

static void print_json(const struct dcv_deploy_result *res, bool dry_run)
{
	struct json_object *root = json_object_new_object(), *arr = json_object_new_array();
	struct json_object *sum = json_object_new_object();

	json_object_object_add(root, "dry_run", json_object_new_boolean(dry_run));
	for (int i = 0; i < res->n; i++)
		json_object_array_add(arr, step_json(&res->steps[i], false));
	json_object_object_add(root, "steps", arr);
	json_object_object_add(sum, "ok", json_object_new_int(res->ok));
	json_object_object_add(sum, "changed", json_object_new_int(res->changed));
	json_object_object_add(sum, "failed", json_object_new_int(res->failed));
	json_object_object_add(root, "summary", sum);
	out_json(root);
}

static const struct dcv_cmd sub_enable;

static int run_enable(struct dcv_ctx *ctx, int argc, char **argv)
{
	struct vars v = { 0 };
	struct cli_args a;
	struct dcv_inventory *inv;
	struct dcv_deploy_opts o = { 0 };
	struct dcv_deploy_result res;
	struct dcv_err err = DCV_ERR_INIT;
	struct printer pr = { ctx, false };
	char owner[300], host[256] = "?";
	int rc = cli_parse(&sub_enable, argc, argv, &a, &v);

	if (rc)
		return rc < 0 ? EXIT_OK : rc;
	if ((rc = ctx_inventory(ctx, &inv)) != EXIT_OK)
		return rc;
	if (v.tls_client_auth)
		inv->tls_client_auth = true; /* this run only: the inventory file is not rewritten */
	gethostname(host, sizeof(host) - 1);
	snprintf(owner, sizeof(owner), "dcvctl broker enable-gateway from %s (pid %d)", host, (int)getpid());
	pr.dry_run = o.dry_run = v.dry_run;
	o.owner = owner;
	o.on_step = print_step;
	o.user = &pr;
	if (!ctx->json && o.dry_run && !ctx->quiet)
		printf("%sdry run: nothing is changed on the broker%s\n", col(ctx, "bold"), col_end(ctx));
	struct dcv_ssh_pool *pool = ctx_pool(ctx);
	rc = dcv_deploy_broker(inv, pool, &o, &res, &err);
	dcv_ssh_pool_free(pool);
	if (rc != DCV_OK) {
		out_error("%s", err.msg);
		return exit_for(rc);
	}
	if (ctx->json)
		print_json(&res, o.dry_run);
	else if (!ctx->quiet || res.failed)
		printf("%s%d ok, %d changed, %d failed%s%s\n", col(ctx, "bold"), res.ok, res.changed, res.failed,
		       o.dry_run ? " (dry run)" : "", col_end(ctx));
	struct dcv_reach reach = { res.hosts, res.unreachable, res.failed };
	rc = exit_for_outcome(dcv_reach_outcome(&reach));
	dcv_deploy_result_release(&res);
	return rc;
}

static const struct dcv_cmd sub_enable = {
	.name = "enable-gateway",
	.summary = "turn on the broker's Session Resolver for the Connection Gateway (seed 004)",
	.usage = "broker enable-gateway [--tls-client-auth] [--dry-run]",
	.help = "On the [broker] host (default: the gateway): with --tls-client-auth (or [broker]\n"
		"tls-client-auth = yes) run gen-gateway-certificates.sh once (credentials already there\n"
		"are kept) and take its folder and trust-store password from what it prints; merge\n"
		"enable-gateway = true, gateway-to-broker-connector-https-port ([broker] resolver-port),\n"
		"gateway-to-broker-connector-bind-host and the mTLS keys into\n"
		"session-manager-broker.properties (everything else kept); restart the broker only\n"
		"when that file changed; confirm its resolver port listens. The trust-store password\n"
		"is never printed: diffs show <redacted>. `dcvctl deploy` with proxy =\n"
		"connection-gateway does this and the gateway's half.\n"
		"Exit: 0 done or nothing to do, 1 a step failed, 3 no broker host, 4 unreachable.\n",
	.opts = enable_opts,
	.run = run_enable,
};

static const struct dcv_cmd *const subs[] = { &sub_enable, NULL };

static const struct dcv_opt no_opts[] = { CLI_END };

const struct dcv_cmd dcv_cmd_broker = {
	.name = "broker",
	.summary = "the Session Manager broker as Session Resolver for the Connection Gateway",
	.usage = "broker enable-gateway [--tls-client-auth] [--dry-run]",
	.opts = no_opts,
	.subcmds = subs,
};
