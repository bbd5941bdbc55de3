/* dcvctl deploy: the runbook's Phase 1 as idempotent steps with rollback (design §7). */
#include "cli.h"
#include "progress.h"
#include "../lib/reach.h"

#include "../lib/buf.h"
#include "../lib/deploy.h"
#include "../lib/inventory.h"
#include "../lib/proxy.h"
#include "../lib/rollout.h"
#include "../lib/ssh.h"
#include "../lib/util.h"

#include <json-c/json.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct vars {
	bool dry_run, diff, json;
	const char *only, *proxy, *serial, *max_fail;
};

static const struct dcv_opt opts[] = {
	CLI_BOOL(struct vars, dry_run, 'n', "dry-run", "print the plan and unified diffs; change nothing on any host"),
	CLI_BOOL(struct vars, diff, 'd', "diff", "print unified diffs of the files as they are changed"),
	CLI_STRING(struct vars, only, 0, "only", "WHAT", "gateway, agents, or host names separated by commas"),
	CLI_STRING(struct vars, serial, 0, "serial", "N|P%",
		   "deploy the agents N (or P% of them) at a time, each batch verified before the next"),
	CLI_STRING(struct vars, max_fail, 0, "max-fail", "P%",
		   "with --serial: stop before the next batch once more than P% of the agents failed (default 0%)"),
	CLI_STRING(struct vars, proxy, 0, "proxy", "KIND",
		   "deploy this proxy kind (nginx, haproxy or connection-gateway) instead of the inventory's proxy"),
	CLI_BOOL(struct vars, json, 0, "json", "one JSON document with every step and a summary"),
	CLI_END,
};

struct printer {
	struct dcv_ctx *ctx;
	bool json, diffs, dry_run;
	struct progress progress;
};

static void print_step(void *user, const struct dcv_step *s)
{
	struct printer *p = user;
	struct dcv_ctx *ctx = p->ctx;
	/* the plan says why it would change something */
	struct step_style st = { 10, true, p->dry_run, p->diffs };

	if (p->json || (ctx->quiet && s->status != DCV_STEP_FAILED))
		return;
	progress_hide(&p->progress);
	out_step(ctx, &st, s);
	progress_show(&p->progress);
}

static void print_progress(void *user, const struct dcv_deploy_progress *d)
{
	struct printer *p = user;

	progress_update(&p->progress, d->done, d->total, d->failed, d->batch, d->n_batches, d->host, d->host_failed);
}

/* The options of a rolling deploy as given; unset ones are taken from [deploy] later. */
static int rollout_opts(const struct vars *v, struct dcv_deploy_opts *o)
{
	o->serial = o->max_fail = (struct dcv_amount)DCV_AMOUNT_UNSET;
	if (v->serial && !dcv_amount_parse_serial(v->serial, &o->serial))
		return usage_error(&dcv_cmd_deploy, "--serial %s: expected a number of agents (1 or more) or a percentage "
				   "such as 25%%", v->serial);
	if (v->max_fail && !dcv_amount_parse_percent(v->max_fail, &o->max_fail))
		return usage_error(&dcv_cmd_deploy, "--max-fail %s: expected a percentage from 0%% to 100%%", v->max_fail);
	return EXIT_OK;
}

/* The command line over [deploy]. */
static int rollout_defaults(const struct dcv_inventory *inv, struct dcv_deploy_opts *o)
{
	bool given = o->max_fail.n >= 0;

	if (o->serial.n < 0)
		o->serial = inv->deploy_serial;
	if (o->max_fail.n < 0)
		o->max_fail = inv->deploy_max_fail;
	if (given && o->serial.n < 0)
		return usage_error(&dcv_cmd_deploy, "--max-fail needs --serial (or [deploy] serial)");
	return EXIT_OK;
}

/* "dcvctl deploy --only a,b --serial 2 --max-fail 0%": what runs the rest of a stopped rollout. */
static char *resume_command(const struct dcv_deploy_result *res, const struct dcv_deploy_opts *o)
{
	struct dcv_buf b = DCV_BUF_INIT;
	char n1[16], n2[16];

	dcv_buf_adds(&b, "dcvctl deploy --only ");
	for (int i = 0; i < res->n_untouched; i++)
		dcv_buf_addf(&b, "%s%s", i ? "," : "", res->untouched[i]);
	dcv_buf_addf(&b, " --serial %s", dcv_amount_str(&o->serial, n1, sizeof(n1)));
	if (o->max_fail.n >= 0)
		dcv_buf_addf(&b, " --max-fail %s", dcv_amount_str(&o->max_fail, n2, sizeof(n2)));
	return dcv_buf_detach(&b);
}

static struct json_object *rollout_json(const struct dcv_deploy_result *res, const struct dcv_deploy_opts *o)
{
	struct json_object *j = json_object_new_object(), *left = json_object_new_array();
	char n[16];

	json_object_object_add(j, "serial", json_object_new_string(dcv_amount_str(&o->serial, n, sizeof(n))));
	json_object_object_add(j, "batches", json_object_new_int(res->batches));
	json_object_object_add(j, "budget", json_object_new_int(res->budget));
	json_object_object_add(j, "stopped", json_object_new_boolean(res->stopped));
	for (int i = 0; i < res->n_untouched; i++)
		json_object_array_add(left, json_object_new_string(res->untouched[i]));
	json_object_object_add(j, "untouched", left);
	if (res->n_untouched) {
		char *cmd = resume_command(res, o);
		json_object_object_add(j, "resume", json_object_new_string(cmd));
		free(cmd);
	}
	return j;
}

static void rollout_text(struct dcv_ctx *ctx, const struct dcv_deploy_result *res, const struct dcv_deploy_opts *o)
{
	struct dcv_amount zero = { 0, true };
	char *cmd, n[16];

	if (!res->stopped)
		return;
	if (res->gateway_failed)
		printf("%sstopped before the agents: the gateway failed, so the previous path keeps serving%s\n",
		       col(ctx, "red"), col_end(ctx));
	else
		printf("%sstopped: %d of %d hosts failed, more than --max-fail %s allows (%d agent%s)%s\n", col(ctx, "red"),
	       res->hosts_failed, res->hosts, dcv_amount_str(o->max_fail.n >= 0 ? &o->max_fail : &zero, n, sizeof(n)),
	       res->budget, res->budget == 1 ? "" : "s", col_end(ctx));
	printf("left untouched:");
	for (int i = 0; i < res->n_untouched; i++)
		printf("%s %s", i ? "," : "", res->untouched[i]);
	cmd = resume_command(res, o);
	printf("\nresume with: %s\n", cmd);
	free(cmd);
}

static char *owner_string(void)
{
	char host[256] = "?", when[32];
	struct passwd *pw = getpwuid(getuid());
	time_t now = time(NULL);
	struct tm tm;

	gethostname(host, sizeof(host) - 1);
	gmtime_r(&now, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	return xasprintf("dcvctl deploy by %s@%s (pid %d) since %s", pw ? pw->pw_name : "?", host,
			 (int)getpid(), when);
}

static int run(struct dcv_ctx *ctx, int argc, char **argv)
{
	struct dcv_inventory *inv;
	struct cli_args a;
	struct dcv_deploy_opts o = { 0 };
	struct dcv_deploy_result res;
	struct dcv_err err = DCV_ERR_INIT;
	struct printer pr = { ctx, false, false, false };
	struct vars v = { 0 };
	long long t0 = dcv_now_ms();
	int rc = cli_parse(&dcv_cmd_deploy, argc, argv, &a, &v);

	if (rc)
		return rc < 0 ? EXIT_OK : rc;
	o.dry_run = v.dry_run;
	o.only = v.only;
	if ((rc = rollout_opts(&v, &o)) != EXIT_OK)
		return rc;
	pr.json = ctx->json || v.json;
	pr.diffs = o.dry_run || v.diff;
	pr.dry_run = o.dry_run;
	const char *kind = v.proxy;
	const struct dcv_proxy_kind *k = kind ? dcv_proxy_kind_named(kind) : NULL;
	if (kind && !k)
		return usage_error(&dcv_cmd_deploy, "unknown proxy kind '%s' (nginx, haproxy or connection-gateway)", kind);
	if ((rc = ctx_inventory(ctx, &inv)) != EXIT_OK)
		return rc;
	if ((rc = rollout_defaults(inv, &o)) != EXIT_OK)
		return rc;
	struct dcv_host *gw = dcv_inventory_gateway(inv);
	if (k && gw)
		gw->proxy = k->id; /* this run only: the inventory file is not rewritten */

	char *owner = owner_string();
	struct dcv_ssh_pool *pool = ctx_pool(ctx);
	o.owner = owner;
	o.on_step = print_step;
	o.on_progress = print_progress;
	o.user = &pr;
	progress_init(&pr.progress, ctx, "deploy", inv->n_hosts);
	if (!pr.json && o.dry_run && !ctx->quiet)
		printf("%sdry run: nothing is changed on any host%s\n", col(ctx, "bold"), col_end(ctx));
	rc = dcv_deploy(inv, pool, &o, &res, &err);
	progress_end(&pr.progress);
	dcv_ssh_pool_free(pool);
	free(owner);
	if (rc != DCV_OK) {
		out_error("%s", err.msg);
		return rc == DCV_E_USAGE ? usage_error(&dcv_cmd_deploy, "see --only") : exit_for(rc);
	}
	long ms = (long)(dcv_now_ms() - t0);
	bool lost_gw = false;
	for (int i = 0; i < res.n; i++) {
		const struct dcv_host *h = dcv_inventory_host(inv, res.steps[i].host);
		if (h && h->role == DCV_ROLE_GATEWAY && dcv_err_is_transport(res.steps[i].err_code))
			lost_gw = true;
	}
	if (pr.json) {
		struct json_object *root = json_object_new_object(), *arr = json_object_new_array();
		struct json_object *sum = json_object_new_object();
		json_object_object_add(root, "dry_run", json_object_new_boolean(o.dry_run));
		json_object_object_add(root, "duration_ms", json_object_new_int64(ms));
		for (int i = 0; i < res.n; i++)
			json_object_array_add(arr, step_json(&res.steps[i], true));
		json_object_object_add(root, "steps", arr);
		json_object_object_add(sum, "ok", json_object_new_int(res.ok));
		json_object_object_add(sum, "changed", json_object_new_int(res.changed));
		json_object_object_add(sum, "failed", json_object_new_int(res.failed));
		json_object_object_add(sum, "skipped", json_object_new_int(res.skipped));
		json_object_object_add(sum, "unreachable", json_object_new_int(res.unreachable));
		if (o.serial.n > 0)
			json_object_object_add(sum, "rollout", rollout_json(&res, &o));
		json_object_object_add(root, "summary", sum);
		out_json(root);
	} else if (!ctx->quiet || res.failed) {
		printf("%s%d ok, %d changed, %d failed", col(ctx, "bold"), res.ok, res.changed, res.failed);
		if (res.skipped)
			printf(", %d skipped", res.skipped);
		printf("%s in %.2f s%s\n", o.dry_run ? " (dry run)" : "", ms / 1000.0, col_end(ctx));
		rollout_text(ctx, &res, &o);
	}
	/* every agent waits for the gateway: losing it reached nothing, whatever the agents said */
	struct dcv_reach reach = { res.hosts, lost_gw ? res.hosts : res.unreachable, res.failed };
	rc = exit_for_outcome(dcv_reach_outcome(&reach));
	dcv_deploy_result_release(&res);
	return rc;
}

const struct dcv_cmd dcv_cmd_deploy = {
	.name = "deploy",
	.summary = "deploy the bypass with nginx or HAProxy (runbook Phase 1, Phase 2): idempotent, with rollback",
	.usage = "deploy [--dry-run] [--diff] [--only gateway|agents|NAME[,NAME...]] [--serial N|P%] [--max-fail P%] "
		 "[--proxy nginx|haproxy|connection-gateway] [--json]",
	.help = "Gateway first, for the inventory's proxy kind (or --proxy): install the proxy if\n"
		"missing, require the certificate and key, build the files the kind derives on the\n"
		"gateway (HAProxy: the combined cert+key PEM, mode 600, and stats credentials\n"
		"generated once), write its configuration and validate it (nginx -t, haproxy -c; an\n"
		"invalid file is put back while the old proxy keeps serving), then stop and disable\n"
		"what must give up the port (dcv-connection-gateway, dcv-session-manager-broker, the\n"
		"other proxy kind), start and enable the proxy and confirm it listens (if it does\n"
		"not, what was stopped is started again). Then every agent in parallel: stop and\n"
		"disable the Session Manager agent, merge dcv.conf (only the keys dcvctl manages;\n"
		"auth-token-verifier removed), restart dcvserver only if dcv.conf changed, create the\n"
		"session if missing. A second run changes nothing. A remote lock refuses two deploys\n"
		"on one host. Secrets never appear in diffs or messages.\n"
		"Service restarts, package installs and session creation run at most [ssh] parallel\n"
		"(16) at a time across hosts. --serial N|P% (or [deploy] serial) rolls the agents out\n"
		"in batches after the gateway, backups after the primaries, each batch verified (its\n"
		"sessions present, its dcvserver answering from the gateway) before the next; once more\n"
		"than --max-fail P% (default 0%) of the agents failed it stops, naming the agents left\n"
		"untouched and the --only that resumes.\n"
		"proxy = connection-gateway (seed 004): the broker's half first (as broker\n"
		"enable-gateway), its CA (and with mTLS the client certificate and key) copied to the\n"
		"gateway, dcv-connection-gateway.conf linted before nginx/HAProxy stop; agents with the\n"
		"Session Manager agent on and the broker's verifier back in dcv.conf; then the broker's\n"
		"DNS mappings and a bounded wait until the resolver answers for every session.\n"
		"Exit: 0 all steps ok or changed, 1 a step failed (rolled back), 4 the gateway or\n"
		"every host could not be reached or the connection was lost.\n",
	.opts = opts,
	.run = run,
};
