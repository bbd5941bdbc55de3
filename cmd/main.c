/* dcvctl: global options and the command table (design §4). */
#include "cli.h"

#include "../lib/inventory.h"
#include "../lib/util.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Sorted by name; help, completions and the man page are checked against it (tests/unit). */
const struct dcv_cmd *const dcv_commands[] = {
	&dcv_cmd_backup,
	&dcv_cmd_broker,
	&dcv_cmd_cert,
	&dcv_cmd_check,
	&dcv_cmd_config,
	&dcv_cmd_deploy,
	&dcv_cmd_exec,
	&dcv_cmd_help,
	&dcv_cmd_hosts,
	&dcv_cmd_logs,
	&dcv_cmd_probe,
	&dcv_cmd_restore,
	&dcv_cmd_service,
	&dcv_cmd_session,
	&dcv_cmd_version,
	NULL,
};

const char *const dcv_global_usage =
	"dcvctl [-c FILE] [-v|-q] [--json] [--color=auto|always|never] COMMAND [ARGS]";

/* The global options that may also follow the command (cli_set_context), each declared once. */
#define OPT_CONFIG                                                                                   \
	CLI_STRING(struct dcv_ctx, config, 'c', "config", "FILE",                                    \
		   "inventory file (default: $DCVCTL_CONFIG, ./dcvctl.conf, $XDG_CONFIG_HOME/dcvctl/dcvctl.conf)")
#define OPT_VERBOSE CLI_COUNT(struct dcv_ctx, verbose, 'v', "verbose", "more detail")
#define OPT_QUIET CLI_BOOL(struct dcv_ctx, quiet, 'q', "quiet", "only errors and results")
#define OPT_COLOR                                                                                    \
	CLI_ENUM(struct dcv_ctx, color_when, 0, "color", "WHEN", cli_color_choices,                  \
		 "auto, always or never (NO_COLOR is honoured)")

static const struct dcv_opt global_opts[] = {
	OPT_CONFIG,
	OPT_VERBOSE,
	OPT_QUIET,
	CLI_BOOL(struct dcv_ctx, json, 0, "json", "machine-readable output"),
	OPT_COLOR,
	CLI_BOOL(struct dcv_ctx, show_version, 0, "version", "print the version"),
	CLI_BOOL(struct dcv_ctx, show_help, 'h', "help", "show this help"),
	CLI_END,
};

static const struct dcv_opt after_command_opts[] = { OPT_CONFIG, OPT_VERBOSE, OPT_QUIET, OPT_COLOR, CLI_END };

static void global_help(FILE *f)
{
	fprintf(f, "usage: %s\n\n", dcv_global_usage);
	fputs("Deploy, repair and verify Amazon DCV access through AWS PrivateLink.\n\ncommands:\n", f);
	for (int i = 0; dcv_commands[i]; i++)
		fprintf(f, "  %-10s %s\n", dcv_commands[i]->name, dcv_commands[i]->summary);
	fputs("\nglobal options:\n", f);
	for (int i = 0; global_opts[i].name; i++) {
		char left[48];
		const struct dcv_opt *o = &global_opts[i];
		if (o->short_name)
			snprintf(left, sizeof(left), "-%c, --%s%s%s", o->short_name, o->name,
				 o->arg ? " " : "", o->arg ? o->arg : "");
		else
			snprintf(left, sizeof(left), "    --%s%s%s", o->name, o->arg ? "=" : "",
				 o->arg ? o->arg : "");
		fprintf(f, "  %-22s %s\n", left, o->help);
	}
	fputs("\nexit codes: 0 ok, 1 a check/step failed or some hosts unreachable, 2 usage,\n"
	      "3 inventory error, 4 no needed host reachable, 5 internal error;\n"
	      "exec exits with the remote status, or 255 when it could not run the command.\n"
	      "\nRun 'dcvctl COMMAND --help' for a command's options; see dcvctl(1), dcvctl.conf(5).\n",
	      f);
}

static int run_help(struct dcv_ctx *ctx, int argc, char **argv);

static const struct dcv_opt help_opts[] = { { NULL, 0, NULL, NULL } };

const struct dcv_cmd dcv_cmd_help = {
	.name = "help",
	.summary = "show help for dcvctl or a command",
	.usage = "help [COMMAND]",
	.opts = help_opts,
	.max_args = 1,
	.run = run_help,
};

static const struct dcv_cmd *find_cmd(const char *name)
{
	for (int i = 0; dcv_commands[i]; i++)
		if (strcmp(dcv_commands[i]->name, name) == 0)
			return dcv_commands[i];
	return NULL;
}

static int unknown_command(const char *name)
{
	const char *names[64];
	size_t n = 0;

	for (int i = 0; dcv_commands[i]; i++)
		names[n++] = dcv_commands[i]->name;
	const char *near = dcv_nearest(name, names, n);
	if (near)
		out_error("unknown command '%s' (did you mean '%s'?)", name, near);
	else
		out_error("unknown command '%s'", name);
	fputs("Run 'dcvctl --help' for the list of commands.\n", stderr);
	return EXIT_USAGE;
}

static int run_help(struct dcv_ctx *ctx, int argc, char **argv)
{
	(void)ctx;
	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		global_help(stdout);
		return EXIT_OK;
	}
	const struct dcv_cmd *c = find_cmd(argv[1]);
	if (!c)
		return unknown_command(argv[1]);
	cli_help(stdout, c, "");
	return EXIT_OK;
}


/* stdout must really have been written before we claim success (git's habit). */
static int finish(int rc)
{
	if (fflush(stdout) != 0 || ferror(stdout)) {
		if (errno != EPIPE)
			out_error("cannot write output: %s", strerror(errno));
		return rc ? rc : EXIT_INTERNAL;
	}
	return rc;
}

int main(int argc, char **argv)
{
	struct dcv_ctx ctx = { 0 };
	int i = 1, rc;

	signal(SIGPIPE, SIG_IGN);
	ctx.tty = isatty(STDOUT_FILENO);
	if (cli_parse_globals(&ctx, global_opts, argc, argv, &i) != EXIT_OK) {
		fputs("Run 'dcvctl --help' for usage.\n", stderr);
		return EXIT_USAGE;
	}
	if (ctx.show_version)
		return finish(dcv_cmd_version.run(&ctx, 1, (char *[]){ "version", NULL }));
	if (ctx.show_help) {
		global_help(stdout);
		return finish(EXIT_OK);
	}
	if (ctx.verbose && ctx.quiet) {
		out_error("-v and -q cannot be used together");
		return EXIT_USAGE;
	}
	if (i == argc) {
		global_help(stderr);
		return EXIT_USAGE;
	}
	const struct dcv_cmd *cmd = find_cmd(argv[i]);
	if (!cmd)
		return unknown_command(argv[i]);
	cli_set_context(&ctx, after_command_opts);
	if (cmd->subcmds && !cmd->run)
		rc = cli_dispatch_sub(&ctx, cmd, argc - i, argv + i);
	else
		rc = cmd->run(&ctx, argc - i, argv + i);
	cli_set_context(NULL, NULL); /* ctx ends here (the unit tests call main more than once) */
	dcv_inventory_free(ctx.inv);
	return finish(rc);
}
