/* dcvctl config render|diff|lint */
#include "cli.h"

#include "../lib/buf.h"
#include "../lib/diff.h"
#include "../lib/inventory.h"
#include "../lib/hostconf.h"
#include "../lib/lint.h"
#include "../lib/proxy.h"
#include "../lib/remote.h"
#include "../lib/render.h"
#include "../lib/ssh.h"
#include "../lib/util.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

struct render_vars {
	const char *agent;
};

static const struct dcv_opt render_opts[] = {
	CLI_STRING(struct render_vars, agent, 'a', "agent", "NAME", "the agent whose dcv.conf to render (default: the first)"),
	CLI_END,
};

struct plain_vars {
	bool json;
};

static const struct dcv_opt plain_opts[] = {
	CLI_BOOL(struct plain_vars, json, 0, "json", "print as JSON"),
	CLI_END,
};

static const struct dcv_host *first_agent(const struct dcv_inventory *inv)
{
	for (int i = 0; i < inv->n_hosts; i++)
		if (inv->hosts[i]->role == DCV_ROLE_AGENT)
			return inv->hosts[i];
	return NULL;
}

/* ------------------------------------------------------------------ render */

static int run_render(struct dcv_ctx *ctx, int argc, char **argv);
static const struct dcv_cmd sub_render = {
	.name = "render",
	.summary = "print a configuration as deploy writes it (nginx, haproxy, or an agent's managed dcv.conf keys)",
	.usage = "config render nginx|haproxy|connection-gateway|dcv [--agent NAME]",
	.help = "'dcv' prints the keys dcvctl manages; deploy merges them into the agent's existing\n"
		"dcv.conf, keeping every other key and comment ('config diff' shows the result).\n",
	.opts = render_opts,
	.min_args = 1,
	.max_args = 1,
	.run = run_render,
};

static int run_render(struct dcv_ctx *ctx, int argc, char **argv)
{
	struct dcv_inventory *inv;
	struct cli_args a;
	struct dcv_buf out = DCV_BUF_INIT;
	struct render_vars v = { 0 };
	const char *agent_name;
	int rc = cli_parse(&sub_render, argc, argv, &a, &v);

	if (rc)
		return rc < 0 ? EXIT_OK : rc;
	agent_name = v.agent;
	const struct dcv_proxy_kind *k = dcv_proxy_kind_named(a.pos[0]);
	if (!k && strcmp(a.pos[0], "dcv") != 0)
		return usage_error(&sub_render, "unknown kind '%s' (nginx, haproxy, connection-gateway or dcv)", a.pos[0]);
	if ((rc = ctx_inventory(ctx, &inv)) != EXIT_OK)
		return rc;
	if (k) {
		/* no gateway is asked: generated secrets are shown as placeholders */
		k->render(inv, &(struct dcv_proxy_env){ 0 }, &out);
	} else {
		const struct dcv_host *h = agent_name ? ctx_host(ctx, agent_name) : first_agent(inv);
		if (!h)
			return agent_name ? EXIT_USAGE : (out_error("no [agent] in %s", inv->path), EXIT_CONFIG);
		if (h->role != DCV_ROLE_AGENT)
			return usage_error(&sub_render, "'%s' is not an agent", agent_name);
		dcv_render_dcvconf_for("", inv, h, &out);
	}
	fputs(dcv_buf_str(&out), stdout);
	dcv_buf_release(&out);
	return EXIT_OK;
}

/* ------------------------------------------------------------------ diff */

struct hostjob {
	struct dcv_ssh_pool *pool;
	const struct dcv_inventory *inv;
	const struct dcv_host **hosts;
	int *rc;
	struct dcv_err *err;
	struct dcv_buf *out;   /* diff, or lint text */
	struct dcv_findings *findings;
	bool lint;
};

static void host_worker(void *user, int i)
{
	struct hostjob *j = user;
	struct dcv_ssh *c;

	j->rc[i] = dcv_ssh_connect(j->pool, j->hosts[i], &c, &j->err[i]);
	if (j->rc[i] != DCV_OK)
		return;
	if (!j->lint)
		j->rc[i] = dcv_hostconf_diff(c, j->inv, j->hosts[i], &j->out[i], &j->err[i]);
	else
		j->rc[i] = dcv_hostconf_lint(c, j->inv, j->hosts[i], &j->findings[i], &j->err[i]);
}

/* Hosts named on the command line, or the gateway and every agent. */
static int pick_hosts(struct dcv_ctx *ctx, const struct dcv_cmd *cmd, char **names, int n,
		      const struct dcv_host ***out)
{
	const struct dcv_inventory *inv = ctx->inv;
	const struct dcv_host **hosts = xcalloc((size_t)inv->n_hosts + (size_t)n, sizeof(*hosts));
	int k = 0;

	for (int i = 0; i < n; i++) {
		const struct dcv_host *h = ctx_host(ctx, names[i]);
		if (!h) {
			free(hosts);
			return -EXIT_USAGE;
		}
		if (h->role != DCV_ROLE_GATEWAY && h->role != DCV_ROLE_AGENT) {
			free(hosts);
			return -usage_error(cmd, "'%s' has no managed configuration (gateway or agent only)", names[i]);
		}
		hosts[k++] = h;
	}
	for (int i = 0; !n && i < inv->n_hosts; i++)
		if (inv->hosts[i]->role == DCV_ROLE_GATEWAY || inv->hosts[i]->role == DCV_ROLE_AGENT)
			hosts[k++] = inv->hosts[i];
	*out = hosts;
	return k;
}

static void hostjob_run(struct dcv_ctx *ctx, struct hostjob *j, int n)
{
	j->rc = xcalloc((size_t)n, sizeof(int));
	j->err = xcalloc((size_t)n, sizeof(*j->err));
	j->out = xcalloc((size_t)n, sizeof(*j->out));
	j->findings = xcalloc((size_t)n, sizeof(*j->findings));
	j->inv = ctx->inv;
	j->pool = ctx_pool(ctx);
	dcv_parallel(n, n, host_worker, j);
	dcv_ssh_pool_free(j->pool);
}

static void hostjob_release(struct hostjob *j, int n)
{
	for (int i = 0; i < n; i++) {
		dcv_buf_release(&j->out[i]);
		dcv_findings_free(&j->findings[i]);
	}
	free(j->rc);
	free(j->err);
	free(j->out);
	free(j->findings);
	free(j->hosts);
}

static int run_diff(struct dcv_ctx *ctx, int argc, char **argv);
static const struct dcv_cmd sub_diff = {
	.name = "diff",
	.summary = "deployed configuration against the rendered one (exit 1 on drift)",
	.usage = "config diff [HOST...]",
	.opts = plain_opts,
	.max_args = CLI_ARGS_MANY,
	.run = run_diff,
};

static int run_diff(struct dcv_ctx *ctx, int argc, char **argv)
{
	struct dcv_inventory *inv;
	struct cli_args a;
	struct hostjob j = { 0 };
	struct plain_vars v = { 0 };
	struct dcv_reach reach = DCV_REACH_INIT;
	int rc = cli_parse(&sub_diff, argc, argv, &a, &v), n, drift = 0, failed = 0;
	bool json;

	if (rc)
		return rc < 0 ? EXIT_OK : rc;
	json = ctx->json || v.json;
	if ((rc = ctx_inventory(ctx, &inv)) != EXIT_OK) {
		return rc;
	}
	n = pick_hosts(ctx, &sub_diff, a.pos, a.n_pos, &j.hosts);
	if (n < 0)
		return -n;
	hostjob_run(ctx, &j, n);
	struct json_object *root = json ? json_object_new_object() : NULL, *arr = json ? json_object_new_array() : NULL;
	for (int i = 0; i < n; i++) {
		if (j.rc[i] != DCV_OK) {
			failed++;
			dcv_reach_add(&reach, j.rc[i]);
		} else if (j.out[i].len) {
			drift++;
			dcv_reach_add_failed(&reach);
		} else {
			dcv_reach_add(&reach, DCV_OK);
		}
		if (json) {
			struct json_object *o = json_object_new_object();
			json_object_object_add(o, "host", json_object_new_string(j.hosts[i]->name));
			json_object_object_add(o, "drift", json_object_new_boolean(j.rc[i] == DCV_OK && j.out[i].len));
			if (j.rc[i] != DCV_OK)
				json_object_object_add(o, "error", json_object_new_string(j.err[i].msg));
			else if (j.out[i].len)
				json_object_object_add(o, "diff", json_object_new_string(j.out[i].data));
			json_object_array_add(arr, o);
		} else if (j.rc[i] != DCV_OK) {
			out_error("%s: %s", j.hosts[i]->name, j.err[i].msg);
		} else {
			fputs(dcv_buf_str(&j.out[i]), stdout);
		}
	}
	if (json) {
		json_object_object_add(root, "hosts", arr);
		out_json(root);
	} else if (!drift && !failed && !ctx->quiet) {
		fprintf(stderr, "dcvctl: no drift on %d host%s\n", n, n == 1 ? "" : "s");
	}
	hostjob_release(&j, n);
	return exit_for_outcome(dcv_reach_outcome(&reach));
}

/* ------------------------------------------------------------------ lint */

static bool looks_like_dcvconf(const char *name, const char *text)
{
	size_t l = strlen(name);
	return (l >= 8 && strcmp(name + l - 8, "dcv.conf") == 0) || strstr(text, "[connectivity]") ||
	       strstr(text, "[security]") || strstr(text, "[session-management");
}

/* HAProxy's sections start at the left margin; nginx has no such words. */
static bool looks_like_haproxy(const char *text)
{
	static const char *const heads[] = { "global", "defaults", "frontend ", "backend ", "listen " };

	for (const char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
		for (size_t i = 0; i < sizeof(heads) / sizeof(heads[0]); i++)
			if (strncmp(l, heads[i], strlen(heads[i])) == 0)
				return true;
	return false;
}

static void print_findings(struct dcv_ctx *ctx, const struct dcv_findings *f)
{
	for (int i = 0; i < f->n; i++) {
		const struct dcv_finding *x = &f->v[i];
		bool e = x->sev == DCV_SEV_ERROR;
		if (x->line)
			printf("%s:%d: %s%s%s: %s [%s]\n", x->file, x->line, col(ctx, e ? "red" : "yellow"),
			       e ? "error" : "warning", col_end(ctx), x->msg, x->rule);
		else
			printf("%s: %s%s%s: %s [%s]\n", x->file, col(ctx, e ? "red" : "yellow"),
			       e ? "error" : "warning", col_end(ctx), x->msg, x->rule);
	}
}

static struct json_object *findings_json(const struct dcv_findings *f)
{
	struct json_object *arr = json_object_new_array();
	for (int i = 0; i < f->n; i++) {
		const struct dcv_finding *x = &f->v[i];
		struct json_object *o = json_object_new_object();
		json_object_object_add(o, "file", json_object_new_string(x->file));
		json_object_object_add(o, "line", json_object_new_int(x->line));
		json_object_object_add(o, "severity", json_object_new_string(x->sev == DCV_SEV_ERROR ? "error" : "warning"));
		json_object_object_add(o, "rule", json_object_new_string(x->rule));
		json_object_object_add(o, "message", json_object_new_string(x->msg));
		json_object_array_add(arr, o);
	}
	return arr;
}

static int run_lint(struct dcv_ctx *ctx, int argc, char **argv);
static const struct dcv_cmd sub_lint = {
	.name = "lint",
	.summary = "lint dcv.conf, nginx and HAProxy configurations, on hosts or local files (exit 1 on an error)",
	.usage = "config lint [HOST...|FILE...]",
	.help = "Arguments that name existing local files are linted as files (nginx files together,\n"
		"as nginx would load them; dcv.conf by name or content; haproxy.cfg by its sections);\n"
		"otherwise as inventory hosts: the gateway's whole proxy configuration (nginx -T, or\n"
		"haproxy.cfg), its crontabs and certificate files, each agent's /etc/dcv/dcv.conf.\n"
		"No argument: every gateway and agent.\n"
		"Each finding says why in one line. Warnings alone exit 0.\n",
	.opts = plain_opts,
	.max_args = CLI_ARGS_MANY,
	.run = run_lint,
};

static int lint_files(struct dcv_ctx *ctx, char **paths, int n, bool json)
{
	struct dcv_findings f = { 0 };
	struct dcv_nginx_file *nf = xcalloc((size_t)n, sizeof(*nf));
	struct dcv_buf *texts = xcalloc((size_t)n, sizeof(*texts));
	int n_nginx = 0, rc = EXIT_OK;

	for (int i = 0; i < n; i++) {
		if (dcv_file_read(paths[i], &texts[i]) != 0) {
			out_error("cannot read '%s': %s", paths[i], strerror(errno));
			rc = EXIT_INTERNAL;
			goto out;
		}
		if (looks_like_dcvconf(paths[i], dcv_buf_str(&texts[i])))
			dcv_lint_dcvconf(dcv_buf_str(&texts[i]), paths[i], true, &f);
		else if (looks_like_haproxy(dcv_buf_str(&texts[i])))
			/* a file alone says nothing of its host: judged as off RHEL (no crypto-policies) */
			dcv_proxy_haproxy.lint(dcv_buf_str(&texts[i]), paths[i], &(struct dcv_proxy_env){ 0 }, &f);
		else
			nf[n_nginx++] = (struct dcv_nginx_file){ paths[i], dcv_buf_str(&texts[i]) };
	}
	if (n_nginx)
		dcv_lint_nginx(nf, n_nginx, NULL, &f);
	if (json) {
		struct json_object *root = json_object_new_object();
		json_object_object_add(root, "findings", findings_json(&f));
		json_object_object_add(root, "errors", json_object_new_int(dcv_findings_errors(&f)));
		json_object_object_add(root, "warnings", json_object_new_int(dcv_findings_warnings(&f)));
		out_json(root);
	} else {
		print_findings(ctx, &f);
	}
	rc = dcv_findings_errors(&f) ? EXIT_FAIL : EXIT_OK;
out:
	for (int i = 0; i < n; i++)
		dcv_buf_release(&texts[i]);
	free(texts);
	free(nf);
	dcv_findings_free(&f);
	return rc;
}

static int run_lint(struct dcv_ctx *ctx, int argc, char **argv)
{
	struct dcv_inventory *inv;
	struct cli_args a;
	struct hostjob j = { 0 };
	struct stat st;
	struct plain_vars v = { 0 };
	struct dcv_reach reach = DCV_REACH_INIT;
	int rc = cli_parse(&sub_lint, argc, argv, &a, &v), n;
	bool json, files = a.n_pos > 0;

	if (rc)
		return rc < 0 ? EXIT_OK : rc;
	json = ctx->json || v.json;
	for (int i = 0; i < a.n_pos; i++)
		files &= stat(a.pos[i], &st) == 0 && S_ISREG(st.st_mode);
	if (files) {
		rc = lint_files(ctx, a.pos, a.n_pos, json);
		return rc;
	}
	if ((rc = ctx_inventory(ctx, &inv)) != EXIT_OK) {
		return rc;
	}
	n = pick_hosts(ctx, &sub_lint, a.pos, a.n_pos, &j.hosts);
	if (n < 0)
		return -n;
	j.lint = true;
	hostjob_run(ctx, &j, n);
	struct json_object *root = json ? json_object_new_object() : NULL, *arr = json ? json_object_new_array() : NULL;
	for (int i = 0; i < n; i++) {
		if (j.rc[i] != DCV_OK) {
			dcv_reach_add(&reach, j.rc[i]);
			if (!json)
				out_error("%s: %s", j.hosts[i]->name, j.err[i].msg);
		} else if (dcv_findings_errors(&j.findings[i])) {
			dcv_reach_add_failed(&reach);
		} else {
			dcv_reach_add(&reach, DCV_OK);
		}
		if (json) {
			struct json_object *o = json_object_new_object();
			json_object_object_add(o, "host", json_object_new_string(j.hosts[i]->name));
			json_object_object_add(o, "findings", findings_json(&j.findings[i]));
			if (j.rc[i] != DCV_OK)
				json_object_object_add(o, "error", json_object_new_string(j.err[i].msg));
			json_object_array_add(arr, o);
		} else {
			print_findings(ctx, &j.findings[i]);
		}
	}
	if (json) {
		json_object_object_add(root, "hosts", arr);
		out_json(root);
	}
	hostjob_release(&j, n);
	return exit_for_outcome(dcv_reach_outcome(&reach));
}

static const struct dcv_opt no_opts[] = { { NULL, 0, NULL, NULL } };

static const struct dcv_cmd *const subs[] = { &sub_diff, &sub_lint, &sub_render, NULL };

const struct dcv_cmd dcv_cmd_config = {
	.name = "config",
	.summary = "render, diff or lint the configurations dcvctl manages",
	.usage = "config render KIND | config diff [HOST...] | config lint [HOST...|FILE...]",
	.opts = no_opts,
	.subcmds = subs,
};
