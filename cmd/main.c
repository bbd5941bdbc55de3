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
	&dcv_cmd_cert,
	&dcv_cmd_check,
	&dcv_cmd_config,
	&dcv_cmd_deploy,
	&dcv_cmd_exec,
	&dcv_cmd_help,
	&dcv_cmd_hosts,
	&dcv_cmd_logs,
	&dcv_cmd_probe,
	&dcv_cmd_service,
	&dcv_cmd_session,
	&dcv_cmd_version,
	NULL,
};

const char *const dcv_global_usage =
	"dcvctl [-c FILE] [-v|-q] [--json] [--color=auto|always|never] COMMAND [ARGS]";

static const struct dcv_opt global_opts[] = {
	{ "config", 'c', "FILE", "inventory file (default: $DCVCTL_CONFIG, ./dcvctl.conf, $XDG_CONFIG_HOME/dcvctl/dcvctl.conf)" },
	{ "verbose", 'v', NULL, "more detail" },
	{ "quiet", 'q', NULL, "only errors and results" },
	{ "json", 0, NULL, "machine-readable output" },
	{ "color", 0, "WHEN", "auto, always or never (NO_COLOR is honoured)" },
	{ "version", 0, NULL, "print the version" },
	{ "help", 'h', NULL, "show this help" },
	{ NULL, 0, NULL, NULL },
};

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
	const char *color = "auto";
	int i, rc;

	signal(SIGPIPE, SIG_IGN);
	ctx.tty = isatty(STDOUT_FILENO);
	for (i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (a[0] != '-')
			break;
		if (strcmp(a, "-c") == 0 || strcmp(a, "--config") == 0) {
			if (++i == argc) {
				out_error("option '%s' needs a value (FILE)", a);
				return EXIT_USAGE;
			}
			ctx.config = argv[i];
		} else if (strncmp(a, "--config=", 9) == 0) {
			ctx.config = a + 9;
		} else if (strncmp(a, "-c", 2) == 0) {
			ctx.config = a + 2;
		} else if (strcmp(a, "-v") == 0 || strcmp(a, "--verbose") == 0) {
			ctx.verbose++;
		} else if (strcmp(a, "-q") == 0 || strcmp(a, "--quiet") == 0) {
			ctx.quiet = true;
		} else if (strcmp(a, "--json") == 0) {
			ctx.json = true;
		} else if (strncmp(a, "--color=", 8) == 0) {
			color = a + 8;
		} else if (strcmp(a, "--color") == 0) {
			if (++i == argc) {
				out_error("option '--color' needs a value (auto, always or never)");
				return EXIT_USAGE;
			}
			color = argv[i];
		} else if (strcmp(a, "--version") == 0) {
			return finish(dcv_cmd_version.run(&ctx, 1, (char *[]){ "version", NULL }));
		} else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			global_help(stdout);
			return finish(EXIT_OK);
		} else {
			out_error("unknown global option '%s'", a);
			fputs("Run 'dcvctl --help' for usage.\n", stderr);
			return EXIT_USAGE;
		}
	}
	if (ctx.verbose && ctx.quiet) {
		out_error("-v and -q cannot be used together");
		return EXIT_USAGE;
	}
	if ((rc = ctx_set_color(&ctx, color)) != EXIT_OK)
		return rc;
	if (i == argc) {
		global_help(stderr);
		return EXIT_USAGE;
	}
	cli_set_context(&ctx);
	const struct dcv_cmd *cmd = find_cmd(argv[i]);
	if (!cmd)
		return unknown_command(argv[i]);
	if (cmd->subcmds && !cmd->run)
		rc = cli_dispatch_sub(&ctx, cmd, argc - i, argv + i);
	else
		rc = cmd->run(&ctx, argc - i, argv + i);
	dcv_inventory_free(ctx.inv);
	return finish(rc);
}
