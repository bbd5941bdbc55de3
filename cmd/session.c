/* dcvctl session list|create|close|recreate [--agent NAME] */
#include "cli.h"
#include "../lib/reach.h"

#include "../lib/agent.h"
#include "../lib/buf.h"
#include "../lib/inventory.h"
#include "../lib/ssh.h"

#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

struct vars {
	const char *agent;
	bool json;
};

static const struct dcv_opt opts[] = {
	CLI_STRING(struct vars, agent, 'a', "agent", "NAME", "only this agent (default: every agent)"),
	CLI_BOOL(struct vars, json, 0, "json", "print as JSON"),
	CLI_END,
};

enum action { LIST, CREATE, CLOSE, RECREATE };

struct job {
	enum action action;
	struct dcv_ssh_pool *pool;
	const struct dcv_host **agents;
	struct dcv_sessions *lists;
	int *rc;
	struct dcv_err *err;
	char (*done)[64];
};

/* create is the ensure rule deploy uses too (lib/session.c); recreate closes even a session
 * that fits; close leaves an absent session absent. */
static int act(struct job *j, int i, struct dcv_ssh *c)
{
	static const char *const done[] = { "exists", "created", "recreated" };
	const struct dcv_host *h = j->agents[i];
	struct dcv_sessions cur = { 0 };
	struct dcv_session_ensure plan;
	int rc;

	if (j->action == LIST)
		return dcv_agent_sessions(c, h, &j->lists[i], &j->err[i]);
	rc = dcv_agent_sessions(c, h, &cur, &j->err[i]);
	if (rc != DCV_OK)
		return rc;
	dcv_session_ensure_plan(h, &cur, &plan);
	dcv_sessions_release(&cur);
	if (j->action == CLOSE) {
		bool there = plan.action != DCV_SESSION_CREATE;
		snprintf(j->done[i], sizeof(j->done[i]), "%s", there ? "closed" : "absent");
		return there ? dcv_agent_session_close(c, h, h->session, &j->err[i]) : DCV_OK;
	}
	if (j->action == RECREATE && plan.action == DCV_SESSION_NONE)
		plan.action = DCV_SESSION_RECREATE;
	snprintf(j->done[i], sizeof(j->done[i]), "%s", done[plan.action]);
	return dcv_agent_session_ensure(c, h, plan.action, &j->err[i]);
}

static void worker(void *user, int i)
{
	struct job *j = user;
	struct dcv_ssh *c;

	j->rc[i] = dcv_ssh_connect(j->pool, j->agents[i], &c, &j->err[i]);
	if (j->rc[i] == DCV_OK)
		j->rc[i] = act(j, i, c);
}

static void print_list(struct dcv_ctx *ctx, struct job *j, int n, bool json)
{
	if (json) {
		struct json_object *arr = json_object_new_array();
		for (int i = 0; i < n; i++)
			for (int k = 0; j->rc[i] == DCV_OK && k < j->lists[i].n; k++) {
				const struct dcv_session *s = &j->lists[i].v[k];
				struct json_object *o = json_object_new_object();
				json_object_object_add(o, "agent", json_object_new_string(j->agents[i]->name));
				json_object_object_add(o, "id", json_object_new_string(s->id));
				json_object_object_add(o, "type", json_object_new_string(s->type ? s->type : ""));
				json_object_object_add(o, "owner", json_object_new_string(s->owner ? s->owner : ""));
				json_object_object_add(o, "name", s->name ? json_object_new_string(s->name) : NULL);
				json_object_object_add(o, "connections",
						       s->connections >= 0 ? json_object_new_int(s->connections) : NULL);
				json_object_array_add(arr, o);
			}
		struct json_object *root = json_object_new_object();
		json_object_object_add(root, "sessions", arr);
		struct json_object *errs = json_object_new_array();
		for (int i = 0; i < n; i++)
			if (j->rc[i] != DCV_OK) {
				struct json_object *e = json_object_new_object();
				json_object_object_add(e, "agent", json_object_new_string(j->agents[i]->name));
				json_object_object_add(e, "error", json_object_new_string(j->err[i].msg));
				json_object_array_add(errs, e);
			}
		json_object_object_add(root, "errors", errs);
		out_json(root);
		return;
	}
	printf("%s%-10s %-12s %-8s %-12s %-24s %s%s\n", col(ctx, "bold"), "AGENT", "ID", "TYPE", "OWNER",
	       "NAME", "CONNECTIONS", col_end(ctx));
	for (int i = 0; i < n; i++) {
		if (j->rc[i] != DCV_OK) {
			printf("%-10s %s%s%s\n", j->agents[i]->name, col(ctx, "red"), j->err[i].msg, col_end(ctx));
			continue;
		}
		if (j->lists[i].n == 0)
			printf("%-10s %s(no session)%s\n", j->agents[i]->name, col(ctx, "dim"), col_end(ctx));
		for (int k = 0; k < j->lists[i].n; k++) {
			const struct dcv_session *s = &j->lists[i].v[k];
			char conns[16] = "-";
			if (s->connections >= 0)
				snprintf(conns, sizeof(conns), "%d", s->connections);
			printf("%-10s %-12s %-8s %-12s %-24s %s\n", j->agents[i]->name, s->id,
			       s->type && *s->type ? s->type : "-", s->owner ? s->owner : "-",
			       s->name ? s->name : "-", conns);
		}
	}
}

static int run_action(struct dcv_ctx *ctx, const struct dcv_cmd *cmd, enum action action, int argc,
		      char **argv)
{
	struct dcv_inventory *inv;
	struct cli_args a;
	const char *only;
	struct vars v = { 0 };
	bool json;
	int rc = cli_parse(cmd, argc, argv, &a, &v), n = 0;

	if (rc)
		return rc < 0 ? EXIT_OK : rc;
	only = v.agent;
	json = ctx->json || v.json;
	if ((rc = ctx_inventory(ctx, &inv)) != EXIT_OK)
		return rc;
	if (only) {
		const struct dcv_host *h = ctx_host(ctx, only);
		if (!h)
			return EXIT_USAGE;
		if (h->role != DCV_ROLE_AGENT)
			return usage_error(cmd, "'%s' is not an agent", only);
	}
	struct job j = { 0 };
	j.action = action;
	j.agents = xcalloc((size_t)inv->n_hosts, sizeof(*j.agents));
	for (int i = 0; i < inv->n_hosts; i++)
		if (inv->hosts[i]->role == DCV_ROLE_AGENT && (!only || strcmp(only, inv->hosts[i]->name) == 0))
			j.agents[n++] = inv->hosts[i];
	if (!n) {
		free(j.agents);
		out_error("no [agent] in %s", inv->path);
		return EXIT_CONFIG;
	}
	j.lists = xcalloc((size_t)n, sizeof(*j.lists));
	j.rc = xcalloc((size_t)n, sizeof(int));
	j.err = xcalloc((size_t)n, sizeof(*j.err));
	j.done = xcalloc((size_t)n, sizeof(*j.done));
	j.pool = ctx_pool(ctx);
	dcv_parallel(n, n, worker, &j);
	dcv_ssh_pool_free(j.pool);

	struct dcv_reach reach = DCV_REACH_INIT;
	for (int i = 0; i < n; i++)
		dcv_reach_add(&reach, j.rc[i]);
	if (action == LIST) {
		print_list(ctx, &j, n, json);
	} else if (json) {
		struct json_object *arr = json_object_new_array();
		for (int i = 0; i < n; i++) {
			struct json_object *o = json_object_new_object();
			json_object_object_add(o, "agent", json_object_new_string(j.agents[i]->name));
			json_object_object_add(o, "session", json_object_new_string(j.agents[i]->session));
			json_object_object_add(o, "ok", json_object_new_boolean(j.rc[i] == DCV_OK));
			json_object_object_add(o, j.rc[i] == DCV_OK ? "result" : "error",
					       json_object_new_string(j.rc[i] == DCV_OK ? j.done[i] : j.err[i].msg));
			json_object_array_add(arr, o);
		}
		struct json_object *root = json_object_new_object();
		json_object_object_add(root, "agents", arr);
		out_json(root);
	} else {
		for (int i = 0; i < n; i++) {
			if (j.rc[i] == DCV_OK)
				printf("%-10s session '%s' %s%s%s\n", j.agents[i]->name, j.agents[i]->session,
				       col(ctx, "green"), j.done[i], col_end(ctx));
			else
				out_error("%s: %s", j.agents[i]->name, j.err[i].msg);
		}
	}
	for (int i = 0; i < n; i++)
		dcv_sessions_release(&j.lists[i]);
	free(j.lists);
	free(j.rc);
	free(j.err);
	free(j.done);
	free(j.agents);
	return exit_for_outcome(dcv_reach_outcome(&reach));
}

#define SESSION_SUB(var, fn, act_, nm, sum, use)                              \
	static int fn(struct dcv_ctx *ctx, int argc, char **argv);            \
	static const struct dcv_cmd var = { .name = nm, .summary = sum,      \
					    .usage = use, .opts = opts,       \
					    .run = fn };                      \
	static int fn(struct dcv_ctx *ctx, int argc, char **argv)             \
	{                                                                     \
		return run_action(ctx, &var, act_, argc, argv);               \
	}

SESSION_SUB(sub_list, run_list, LIST, "list", "list the sessions on the agents",
	    "session list [--agent NAME] [--json]")
SESSION_SUB(sub_create, run_create, CREATE, "create",
	    "create each agent's configured session if missing, verified with list-sessions",
	    "session create [--agent NAME] [--json]")
SESSION_SUB(sub_close, run_close, CLOSE, "close", "close each agent's configured session",
	    "session close [--agent NAME] [--json]")
SESSION_SUB(sub_recreate, run_recreate, RECREATE, "recreate",
	    "close and create each agent's configured session",
	    "session recreate [--agent NAME] [--json]")

static const struct dcv_opt no_opts[] = { { NULL, 0, NULL, NULL } };

static const struct dcv_cmd *const subs[] = { &sub_close, &sub_create, &sub_list, &sub_recreate, NULL };

const struct dcv_cmd dcv_cmd_session = {
	.name = "session",
	.summary = "list, create, close or recreate DCV sessions on agents",
	.usage = "session list|create|close|recreate [--agent NAME] [--json]",
	.help = "Runs the dcv CLI with sudo on each agent (in parallel), every inventory value quoted.\n"
		"create-session can exit 0 without creating anything, so success is what\n"
		"'dcv list-sessions --json' shows afterwards, never the exit code alone. create follows\n"
		"deploy's rule: a session with the configured id but another owner, type or name is\n"
		"closed and created again.\n",
	.opts = no_opts,
	.subcmds = subs,
};
