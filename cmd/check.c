/* dcvctl check: the full checklist (design §6), with diagnosis and CI formats. */
#include "cli.h"
#include "progress.h"

#include "../lib/buf.h"
#include "../lib/check.h"
#include "../lib/inventory.h"
#include "../lib/report.h"
#include "../lib/ssh.h"
#include "../lib/util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

enum format { FMT_UNSET = -1, FMT_TEXT, FMT_JSON, FMT_JUNIT, FMT_TAP, FMT_PROMETHEUS };
static const char *const formats[] = { "text", "json", "junit", "tap", "prometheus", NULL };

struct vars {
	int format; /* enum format */
	const char *output, *only, *skip;
	long hold_ms, interval_ms;
	bool strict, json, aws;
};

static const struct dcv_opt opts[] = {
	CLI_ENUM(struct vars, format, 'f', "format", "FMT", formats, "text, json, junit, tap or prometheus"),
	CLI_STRING(struct vars, output, 'o', "output", "FILE", "write the report to FILE (atomically) instead of stdout"),
	CLI_STRING(struct vars, only, 0, "only", "IDS", "only these check IDs or ID prefixes (comma-separated)"),
	CLI_STRING(struct vars, skip, 0, "skip", "IDS", "skip these check IDs or ID prefixes"),
	CLI_DURATION(struct vars, hold_ms, 0, "hold", "DUR", 0, "add endpoint.hold: keep a WebSocket open this long with pings"),
	CLI_DURATION(struct vars, interval_ms, 0, "interval", "DUR", 1, "ping interval for --hold (default 5s)"),
	CLI_BOOL(struct vars, strict, 0, "strict", "warnings count as failures"),
	CLI_BOOL(struct vars, aws, 0, "aws", "add the aws.* rows through the aws CLI even without [aws]; a missing CLI or credentials is an error"),
	CLI_BOOL(struct vars, json, 0, "json", "same as --format json"),
	CLI_END,
};

static void print_progress(void *user, const char *host, int done, int total, int failed, bool host_failed)
{
	progress_update(user, done, total, failed, 0, 0, host, host_failed);
}

static int run(struct dcv_ctx *ctx, int argc, char **argv)
{
	struct progress pg;
	struct dcv_inventory *inv;
	struct cli_args a;
	struct dcv_check_opts o = { 0 };
	struct dcv_report rep = { 0 };
	struct dcv_err err = DCV_ERR_INIT;
	struct dcv_buf out = DCV_BUF_INIT;
	struct vars v = { .format = FMT_UNSET, .interval_ms = 5000 };
	const char *output;
	enum format fmt;
	bool strict;
	int rc = cli_parse(&dcv_cmd_check, argc, argv, &a, &v);

	if (rc)
		return rc < 0 ? EXIT_OK : rc;
	if ((ctx->json || v.json) && v.format != FMT_UNSET && v.format != FMT_JSON)
		return usage_error(&dcv_cmd_check, "--json and --format %s disagree", formats[v.format]);
	fmt = v.format != FMT_UNSET ? (enum format)v.format : ctx->json || v.json ? FMT_JSON : FMT_TEXT;
	output = v.output;
	o.only = v.only;
	o.skip = v.skip;
	o.hold_ms = v.hold_ms;
	o.hold_interval_ms = v.interval_ms;
	strict = v.strict;
	o.aws = v.aws;
	o.probe_timeout_ms = 10000;
	if ((rc = ctx_inventory(ctx, &inv)) != EXIT_OK)
		return rc;
	if (!o.hold_ms && inv->hold_ms)
		o.hold_ms = inv->hold_ms;
	if (!inv->url && !o.only)
		out_notice(ctx, "no [endpoint] url in %s: the endpoint.* checks are left out", inv->path);
	progress_init(&pg, ctx, "check", inv->n_hosts);
	o.on_host = print_progress;
	o.user = &pg;
	if (!pg.line && ctx->tty && !ctx->quiet && !output && fmt == FMT_TEXT)
		fprintf(stderr, "checking %d hosts%s...\r", inv->n_hosts, o.hold_ms ? " and holding a WebSocket" : "");

	struct dcv_ssh_pool *pool = ctx_pool(ctx);
	rep.version = xstrdup(DCV_VERSION);
	rep.generated_at = (long long)time(NULL);
	rc = dcv_check_run(inv, pool, &o, &rep, &err);
	dcv_ssh_pool_free(pool);
	progress_end(&pg);
	if (!pg.line && ctx->tty && !ctx->quiet && !output && fmt == FMT_TEXT)
		fprintf(stderr, "\033[K");
	if (rc != DCV_OK) {
		out_error("%s", err.msg);
		dcv_report_release(&rep);
		return exit_for(rc);
	}
	switch (fmt) {
	default: /* FMT_TEXT */
		dcv_report_text(&rep, ctx->color && !output, strict, &out);
		break;
	case FMT_JSON:
		dcv_report_json(&rep, strict, &out);
		break;
	case FMT_JUNIT:
		dcv_report_junit(&rep, strict, &out);
		break;
	case FMT_TAP:
		dcv_report_tap(&rep, strict, &out);
		break;
	case FMT_PROMETHEUS:
		dcv_report_prometheus(&rep, strict, &out);
		break;
	}
	if (output) {
		/* a report is an ordinary file: the mode a shell redirect would give it */
		mode_t um = umask(0);
		umask(um);
		if (dcv_file_write_atomic(output, out.data, out.len, 0666 & ~(unsigned)um) != 0) {
			out_error("cannot write '%s': %s", output, strerror(errno));
			rc = EXIT_INTERNAL;
		}
	} else {
		fwrite(dcv_buf_str(&out), 1, out.len, stdout);
	}

	/* the targets are the hosts (their .ssh rows) and the endpoint; a failing row anywhere is a
	 * failure, and only a run where no host connected and no row passed is unreachable */
	struct dcv_reach reach = DCV_REACH_INIT;
	int passed, failed, warned, skipped, errors;
	dcv_report_counts(&rep, strict, &passed, &failed, &warned, &skipped, &errors);
	for (int i = 0; i < rep.n; i++) {
		size_t l = strlen(rep.checks[i].id);
		/* a warn row (host key not verified) is connected, not unreachable */
		if (l > 4 && strcmp(rep.checks[i].id + l - 4, ".ssh") == 0)
			dcv_reach_add(&reach, rep.checks[i].status == DCV_CHECK_FAIL ||
						      rep.checks[i].status == DCV_CHECK_ERROR ? DCV_E_CONNECT : DCV_OK);
	}
	if (passed)
		dcv_reach_add(&reach, DCV_OK); /* something answered: at least the endpoint */
	if (failed || errors)
		reach.failed++;
	if (rc == EXIT_OK)
		rc = exit_for_outcome(dcv_reach_outcome(&reach));
	dcv_buf_release(&out);
	dcv_report_release(&rep);
	return rc;
}

const struct dcv_cmd dcv_cmd_check = {
	.name = "check",
	.summary = "the full checklist over every hop, with the diagnosis of the first broken one",
	.usage = "check [--format text|json|junit|tap|prometheus] [--output FILE] [--only IDS] [--skip IDS] [--hold DUR] [--interval DUR] [--strict] [--json]",
	.help = "Checks every host in parallel over one SSH connection each (one per jump host),\n"
		"probes the endpoint from here and every agent from the gateway through its SSH\n"
		"connection, then names the first broken hop, its likely cause and the command\n"
		"that fixes it. Check IDs are stable (dcvctl(1) lists them).\n"
		"Exit: 0 nothing failed (warnings allowed unless --strict), 1 a check failed or\n"
		"some hosts were unreachable, 4 no host could be reached.\n",
	.opts = opts,
	.run = run,
};
