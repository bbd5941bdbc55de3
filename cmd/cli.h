/* cli.h - what every command shares: the context, the command table entry, option parsing,
 * output helpers and exit codes (design §4). Only cmd/ includes this. */
#ifndef DCV_CLI_H
#define DCV_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "../lib/err.h"
#include "../lib/reach.h"

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
	int color_when; /* --color: an index in cli_color_choices, resolved by ctx_apply_color */
	bool color;   /* colour on stdout */
	bool tty;     /* stdout is a terminal */
	bool show_version, show_help; /* --version, --help before the command */
	struct dcv_inventory *inv;
};

/* What an option fills (git's parse-options): cli_parse converts and range-checks the value and
 * writes it into the command's own variables; a value that does not convert is a usage error
 * naming the option. */
enum cli_opt_type {
	CLI_T_BOOL = 1, /* bool: set when given */
	CLI_T_COUNT,    /* int: +1 each time (-vv) */
	CLI_T_STRING,   /* const char *: borrowed from argv; the last one given wins */
	CLI_T_INT,      /* long, within [min, max] */
	CLI_T_DURATION, /* long milliseconds ("5s", "2m", "1500ms"), at least min */
	CLI_T_LIST,     /* struct cli_list: every value, in order (a repeatable option) */
	CLI_T_ENUM,     /* int: the index of the value in choices */
};

#define CLI_MAX_OPTS 32 /* per command */
#define CLI_MAX_REPEAT 32
struct cli_list {
	const char *v[CLI_MAX_REPEAT];
	int n;
};

/* One option of a command: the same table feeds parsing, --help and the completion test. The
 * variable is a field of the struct the command hands cli_parse (`off` is its offset), so the
 * table stays a static const next to the command. */
struct dcv_opt {
	const char *name;  /* long name without dashes */
	char short_name;   /* 0 when none */
	const char *arg;   /* NULL for a flag, else the metavariable ("FILE") */
	const char *help;
	enum cli_opt_type type;
	size_t off;
	long min, max;              /* CLI_T_INT; CLI_T_DURATION uses min */
	const char *const *choices; /* CLI_T_ENUM: NULL-terminated */
};

/* The field's type must be the one the option type writes: a mismatch does not compile. */
#define CLI_FIELD_(T, f, ctype) (offsetof(T, f) + 0 * sizeof(char[_Generic(((T *)0)->f, ctype: 1)]))

#define CLI_BOOL(T, f, s, l, h) \
	{ .name = l, .short_name = s, .help = h, .type = CLI_T_BOOL, .off = CLI_FIELD_(T, f, bool) }
#define CLI_COUNT(T, f, s, l, h) \
	{ .name = l, .short_name = s, .help = h, .type = CLI_T_COUNT, .off = CLI_FIELD_(T, f, int) }
#define CLI_STRING(T, f, s, l, meta, h) \
	{ .name = l, .short_name = s, .arg = meta, .help = h, .type = CLI_T_STRING, \
	  .off = CLI_FIELD_(T, f, const char *) }
#define CLI_INT(T, f, s, l, meta, lo, hi, h) \
	{ .name = l, .short_name = s, .arg = meta, .help = h, .type = CLI_T_INT, \
	  .off = CLI_FIELD_(T, f, long), .min = lo, .max = hi }
#define CLI_DURATION(T, f, s, l, meta, lo, h) \
	{ .name = l, .short_name = s, .arg = meta, .help = h, .type = CLI_T_DURATION, \
	  .off = CLI_FIELD_(T, f, long), .min = lo }
#define CLI_LIST(T, f, s, l, meta, h) \
	{ .name = l, .short_name = s, .arg = meta, .help = h, .type = CLI_T_LIST, \
	  .off = CLI_FIELD_(T, f, struct cli_list) }
#define CLI_ENUM(T, f, s, l, meta, list, h) \
	{ .name = l, .short_name = s, .arg = meta, .help = h, .type = CLI_T_ENUM, \
	  .off = CLI_FIELD_(T, f, int), .choices = list }
#define CLI_END { NULL, 0, NULL, NULL }

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

/* The positional arguments of one command. Nothing here is allocated: every string is borrowed
 * from argv (positional arguments are moved to the front of argv[1..]), so the values stay valid
 * as long as argv does and there is nothing to release. */
struct cli_args {
	char **pos;   /* positional arguments (in argv) */
	int n_pos;
	char **rest;  /* after "--" when the command takes it */
	int n_rest;
	bool has_rest;
};

/* Parse argv[1..] of `cmd` (argv[0] is its name), enforcing its options and its positional
 * bounds. Each option given is converted and written into `vars` (the struct its table's
 * offsets point into; options not given keep the caller's defaults). Prints usage errors;
 * returns EXIT_OK, or EXIT_USAGE, or -1 after printing --help (the caller returns 0).
 * Reorders argv[1..]. */
int cli_parse(const struct dcv_cmd *cmd, int argc, char **argv, struct cli_args *a, void *vars);
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

struct dcv_step;
/* How deploy, restore and broker print a finished step as a text line. */
struct step_style {
	int name_width; /* the step column's width */
	bool ms;        /* the step's duration */
	bool reason;    /* a changed step's reason (dry runs: why it would change) */
	bool diff;      /* the step's diff below its line */
};
/* One step line on stdout (nothing under -q unless it failed). */
void out_step(struct dcv_ctx *ctx, const struct step_style *st, const struct dcv_step *s);
/* A step as JSON: host, step, status, duration_ms, detail, and reason / diff when it has them;
 * with `timing` also started_ms and batch (deploy). */
struct json_object *step_json(const struct dcv_step *s, bool timing);
/* Exit code for a lib error (design §4). */
int exit_for(int code);
/* Exit code for the outcome of a run over several hosts: 0, 1, or 4 when none was reached. */
int exit_for_outcome(enum dcv_outcome o);

/* Global options before the command: parse argv[*i..] up to the first word that is not an
 * option (*i is left there) into ctx, through `opts` (bound to struct dcv_ctx fields). Prints
 * usage errors; EXIT_OK or EXIT_USAGE. */
int cli_parse_globals(struct dcv_ctx *ctx, const struct dcv_opt *opts, int argc, char **argv, int *i);
/* Global options may also follow the command: cli_parse applies `after_command` (bound to
 * struct dcv_ctx fields) to ctx where the command has no option of that name. */
void cli_set_context(struct dcv_ctx *ctx, const struct dcv_opt *after_command);
/* --color=WHEN into ctx->color (auto honours NO_COLOR, TERM=dumb and whether stdout is a terminal). */
enum { CLI_COLOR_AUTO, CLI_COLOR_ALWAYS, CLI_COLOR_NEVER };
extern const char *const cli_color_choices[];
void ctx_apply_color(struct dcv_ctx *ctx);

/* The inventory (loaded on first use, search path of design §5). Prints its error. */
int ctx_inventory(struct dcv_ctx *ctx, struct dcv_inventory **out);
/* Look up a host by name; prints "unknown host" with a suggestion. */
struct dcv_host *ctx_host(struct dcv_ctx *ctx, const char *name);
/* A pool whose notices are printed on stderr. */
struct dcv_ssh_pool *ctx_pool(struct dcv_ctx *ctx);

extern const struct dcv_cmd *const dcv_commands[];
extern const char *const dcv_global_usage;

extern const struct dcv_cmd dcv_cmd_backup;
extern const struct dcv_cmd dcv_cmd_broker;
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
extern const struct dcv_cmd dcv_cmd_restore;
extern const struct dcv_cmd dcv_cmd_cert;

#define DCV_VERSION "0.1.0"

#endif
