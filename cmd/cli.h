/* cli.h - what every command shares: the context, the command table entry, option parsing,
 * output helpers and exit codes (design §4). Only cmd/ includes this. */
#ifndef DCV_CLI_H
#define DCV_CLI_H

#include <stdbool.h>
#include <stdio.h>

#include "../lib/err.h"

struct dcv_inventory;
struct dcv_host;
struct dcv_ssh_pool;
struct json_object;

enum {
	EXIT_OK = 0,
	EXIT_FAIL = 1,        /* ran, but something failed; or some hosts unreachable */
	EXIT_USAGE = 2,
	EXIT_CONFIG = 3,
	EXIT_UNREACHABLE = 4, /* no host it needed could be reached or operated on */
	EXIT_INTERNAL = 5,
	EXIT_EXEC_TRANSPORT = 255, /* exec only, like ssh(1) */
};

struct dcv_ctx {
	const char *config; /* -c */
	int verbose;
	bool quiet;
	bool json;
	bool color;   /* colour on stdout */
	bool tty;     /* stdout is a terminal */
	struct dcv_inventory *inv;
};

/* One option of a command: the same table feeds parsing, --help and the completion test. */
struct dcv_opt {
	const char *name;  /* long name without dashes */
	char short_name;   /* 0 when none */
	const char *arg;   /* NULL for a flag, else the metavariable ("FILE") */
	const char *help;
};

struct dcv_cmd {
	const char *name;
	const char *summary;
	const char *usage;  /* after "dcvctl " */
	const char *help;   /* longer text for --help, may be NULL */
	const struct dcv_opt *opts; /* terminated by { NULL } */
	const struct dcv_cmd *const *subcmds; /* NULL-terminated, or NULL */
	/* Positional arguments the command takes (after options, before "--"): cli_parse refuses
	 * fewer than min_args or more than max_args, so a command never sees a stray one. */
	int min_args, max_args;
	int (*run)(struct dcv_ctx *ctx, int argc, char **argv);
};

#define CLI_ARGS_MANY 1024

/* Parsed arguments of one command. Nothing here is allocated: every string is borrowed from
 * argv (positional arguments are moved to the front of argv[1..]), so the values stay valid as
 * long as argv does and there is nothing to release. */
#define CLI_MAX_OPTS 32
#define CLI_MAX_REPEAT 32
struct cli_args {
	const char *val[CLI_MAX_OPTS]; /* per opts[] index: value, "" for a set flag, NULL unset */
	int count[CLI_MAX_OPTS];
	const char *all[CLI_MAX_OPTS][CLI_MAX_REPEAT]; /* every value of a repeated option, in order */
	char **pos;   /* positional arguments (in argv) */
	int n_pos;
	char **rest;  /* after "--" when the command takes it */
	int n_rest;
	bool has_rest;
};

/* Parse argv[1..] of `cmd` (argv[0] is its name), enforcing its options and its positional
 * bounds. Prints usage errors; returns EXIT_OK, or EXIT_USAGE, or -1 after printing --help
 * (the caller returns 0). Reorders argv[1..]. */
int cli_parse(const struct dcv_cmd *cmd, int argc, char **argv, struct cli_args *a);
const char *cli_opt(const struct dcv_cmd *cmd, const struct cli_args *a, const char *name);
bool cli_flag(const struct dcv_cmd *cmd, const struct cli_args *a, const char *name);
/* Every value given for a repeatable option; *n is how many. */
const char *const *cli_opt_all(const struct dcv_cmd *cmd, const struct cli_args *a, const char *name, int *n);
void cli_help(FILE *f, const struct dcv_cmd *cmd, const char *prefix);
/* Dispatch argv[0] among subcommands with "did you mean". */
int cli_dispatch_sub(struct dcv_ctx *ctx, const struct dcv_cmd *parent, int argc, char **argv);

/* Output. Errors and notices go to stderr; -q silences notices, not errors. */
void out_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void out_notice(struct dcv_ctx *ctx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int usage_error(const struct dcv_cmd *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* ANSI colour when ctx->color: "green", "red", "yellow", "bold", "dim". */
const char *col(struct dcv_ctx *ctx, const char *name);
const char *col_end(struct dcv_ctx *ctx);
/* Print a JSON document on stdout and drop it. */
void out_json(struct json_object *root);
/* Exit code for a lib error (design §4). */
int exit_for(int code);

/* Global options may also follow the command: cli_parse applies them to this context. */
void cli_set_context(struct dcv_ctx *ctx);
/* --color=WHEN (auto honours NO_COLOR, TERM=dumb and whether stdout is a terminal). */
int ctx_set_color(struct dcv_ctx *ctx, const char *when);

/* The inventory (loaded on first use, search path of design §5). Prints its error. */
int ctx_inventory(struct dcv_ctx *ctx, struct dcv_inventory **out);
/* Look up a host by name; prints "unknown host" with a suggestion. */
struct dcv_host *ctx_host(struct dcv_ctx *ctx, const char *name);
/* A pool whose notices are printed on stderr. */
struct dcv_ssh_pool *ctx_pool(struct dcv_ctx *ctx);

extern const struct dcv_cmd *const dcv_commands[];
extern const char *const dcv_global_usage;

extern const struct dcv_cmd dcv_cmd_check;
extern const struct dcv_cmd dcv_cmd_config;
extern const struct dcv_cmd dcv_cmd_deploy;
extern const struct dcv_cmd dcv_cmd_exec;
extern const struct dcv_cmd dcv_cmd_help;
extern const struct dcv_cmd dcv_cmd_hosts;
extern const struct dcv_cmd dcv_cmd_logs;
extern const struct dcv_cmd dcv_cmd_service;
extern const struct dcv_cmd dcv_cmd_session;
extern const struct dcv_cmd dcv_cmd_version;
extern const struct dcv_cmd dcv_cmd_probe;
extern const struct dcv_cmd dcv_cmd_cert;

#define DCV_VERSION "0.1.0"

#endif
