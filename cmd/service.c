/* dcvctl service ACTION HOST UNIT...: systemctl through sudo, and the state afterwards. */
#include "cli.h"

#include "../lib/buf.h"
#include "../lib/inventory.h"
#include "../lib/service.h"
#include "../lib/ssh.h"
#include "../lib/util.h"

#include <json-c/json.h>
#include <string.h>

struct vars {
	bool json;
};

static const struct dcv_opt opts[] = {
	CLI_BOOL(struct vars, json, 0, "json", "print as JSON"),
	CLI_END,
};

static const char *const actions[] = { "status", "start", "stop", "restart",
				       "reload", "enable", "disable" };

static int run(struct dcv_ctx *ctx, int argc, char **argv)
{
	struct dcv_inventory *inv;
	struct cli_args a;
	struct dcv_host *h;
	struct dcv_err err = DCV_ERR_INIT;
	struct dcv_ssh_pool *pool;
	struct dcv_ssh *c;
	struct dcv_unit_state *st = NULL;
	struct dcv_buf msg = DCV_BUF_INIT;
	const char *action;
	struct vars v = { 0 };
	bool json, known = false;
	int rc = cli_parse(&dcv_cmd_service, argc, argv, &a, &v);

	if (rc)
		return rc < 0 ? EXIT_OK : rc;
	json = ctx->json || v.json;
	action = a.pos[0];
	for (size_t i = 0; i < sizeof(actions) / sizeof(actions[0]); i++)
		known |= strcmp(actions[i], action) == 0;
	if (!known) {
		const char *near = dcv_nearest(action, actions, sizeof(actions) / sizeof(actions[0]));
		if (near)
			return usage_error(&dcv_cmd_service, "unknown action '%s' (did you mean '%s'?)", action, near);
		return usage_error(&dcv_cmd_service, "unknown action '%s'", action);
	}
	if ((rc = ctx_inventory(ctx, &inv)) != EXIT_OK || !(h = ctx_host(ctx, a.pos[1]))) {
		return rc ? rc : EXIT_USAGE;
	}
	int n_units = a.n_pos - 2;
	const char **units = (const char **)a.pos + 2;

	pool = ctx_pool(ctx);
	rc = dcv_ssh_connect(pool, h, &c, &err);
	if (rc == DCV_OK)
		rc = dcv_service_apply(c, h, strcmp(action, "status") == 0 ? NULL : action, units,
				       n_units, &st, &msg, &err);
	if (rc != DCV_OK) {
		out_error("%s: %s", h->name, err.msg);
		rc = exit_for(rc);
		goto out;
	}
	bool action_failed = msg.len > 0, all_active = true;
	for (int i = 0; i < n_units; i++)
		all_active &= strcmp(st[i].active, "active") == 0;
	if (json) {
		struct json_object *root = json_object_new_object(), *arr = json_object_new_array();
		json_object_object_add(root, "host", json_object_new_string(h->name));
		json_object_object_add(root, "action", json_object_new_string(action));
		json_object_object_add(root, "ok", json_object_new_boolean(!action_failed));
		if (action_failed)
			json_object_object_add(root, "error", json_object_new_string(msg.data));
		for (int i = 0; i < n_units; i++) {
			struct json_object *u = json_object_new_object();
			json_object_object_add(u, "unit", json_object_new_string(units[i]));
			json_object_object_add(u, "active", json_object_new_string(st[i].active));
			json_object_object_add(u, "enabled", json_object_new_string(st[i].enabled));
			json_object_array_add(arr, u);
		}
		json_object_object_add(root, "units", arr);
		out_json(root);
	} else {
		if (action_failed)
			out_error("%s: systemctl %s failed: %s", h->name, action, msg.data);
		for (int i = 0; i < n_units; i++) {
			bool up = strcmp(st[i].active, "active") == 0;
			printf("%s  %s%s%s  %s\n", units[i], col(ctx, up ? "green" : "red"), st[i].active,
			       col_end(ctx), st[i].enabled);
		}
	}
	if (action_failed)
		rc = EXIT_FAIL;
	else if (strcmp(action, "status") == 0)
		rc = all_active ? EXIT_OK : EXIT_FAIL;
	else
		rc = EXIT_OK;
out:
	dcv_units_free(st, n_units);
	dcv_buf_release(&msg);
	dcv_ssh_pool_free(pool);
	return rc;
}

const struct dcv_cmd dcv_cmd_service = {
	.name = "service",
	.summary = "status/start/stop/restart/reload/enable/disable units via systemctl (sudo)",
	.usage = "service status|start|stop|restart|reload|enable|disable HOST UNIT...",
	.help = "Runs systemctl ACTION on the host through sudo -n, then prints each unit's\n"
		"active and enabled state. 'status' exits 1 when a unit is not active; other\n"
		"actions exit 1 when systemctl fails.\n",
	.opts = opts,
	.min_args = 3,
	.max_args = CLI_ARGS_MANY,
	.run = run,
};
