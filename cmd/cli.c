/* Option parsing, help text and output helpers shared by the commands. */
#include "cli.h"

#include "../lib/buf.h"
#include "../lib/inventory.h"
#include "../lib/ssh.h"
#include "../lib/util.h"

#include <json-c/json.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void out_error(const char *fmt, ...)
{
	va_list ap;

	fputs("dcvctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

void out_notice(struct dcv_ctx *ctx, const char *fmt, ...)
{
	va_list ap;

	if (ctx->quiet)
		return;
	fputs("dcvctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int usage_error(const struct dcv_cmd *cmd, const char *fmt, ...)
{
	va_list ap;

	fputs("dcvctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	if (cmd) {
		/* a subcommand's usage starts with its parent: "probe http [URL] ..." */
		size_t first = strcspn(cmd->usage, " ");
		bool sub = strncmp(cmd->usage, cmd->name, first) != 0 || cmd->name[first] != '\0';
		fprintf(stderr, "usage: dcvctl %s\nTry 'dcvctl %.*s%s%s --help'.\n", cmd->usage, sub ? (int)first : 0,
			cmd->usage, sub ? " " : "", cmd->name);
	}
	return EXIT_USAGE;
}

const char *col(struct dcv_ctx *ctx, const char *name)
{
	if (!ctx->color)
		return "";
	if (strcmp(name, "green") == 0)
		return "\033[32m";
	if (strcmp(name, "red") == 0)
		return "\033[31m";
	if (strcmp(name, "yellow") == 0)
		return "\033[33m";
	if (strcmp(name, "bold") == 0)
		return "\033[1m";
	if (strcmp(name, "dim") == 0)
		return "\033[2m";
	return "";
}

const char *col_end(struct dcv_ctx *ctx)
{
	return ctx->color ? "\033[0m" : "";
}

void out_json(struct json_object *root)
{
	fputs(json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY |
							   JSON_C_TO_STRING_SPACED |
							   JSON_C_TO_STRING_NOSLASHESCAPE),
	      stdout);
	fputc('\n', stdout);
	json_object_put(root);
}

int exit_for(int code)
{
	switch (code) {
	case DCV_OK: return EXIT_OK;
	case DCV_E_USAGE: return EXIT_USAGE;
	case DCV_E_CONFIG: return EXIT_CONFIG;
	case DCV_E_CONNECT:
	case DCV_E_AUTH:
	case DCV_E_HOSTKEY:
	case DCV_E_LOST: return EXIT_UNREACHABLE;
	case DCV_E_TIMEOUT:
	case DCV_E_REMOTE: return EXIT_FAIL;
	default: return EXIT_INTERNAL;
	}
}

int exit_for_outcome(enum dcv_outcome o)
{
	switch (o) {
	case DCV_OUTCOME_OK: return EXIT_OK;
	case DCV_OUTCOME_UNREACHABLE: return EXIT_UNREACHABLE;
	default: return EXIT_FAIL;
	}
}

/* ---- options ---- */

static int find_long(const struct dcv_cmd *cmd, const char *name, size_t len)
{
	for (int i = 0; cmd->opts && cmd->opts[i].name; i++)
		if (strlen(cmd->opts[i].name) == len && strncmp(cmd->opts[i].name, name, len) == 0)
			return i;
	return -1;
}

static int find_short(const struct dcv_cmd *cmd, char c)
{
	for (int i = 0; cmd->opts && cmd->opts[i].name; i++)
		if (cmd->opts[i].short_name == c)
			return i;
	return -1;
}

static int unknown_option(const struct dcv_cmd *cmd, const char *arg)
{
	const char *names[CLI_MAX_OPTS];
	size_t n = 0;
	const char *word = arg;

	while (*word == '-')
		word++;
	for (int i = 0; cmd->opts && cmd->opts[i].name; i++)
		names[n++] = cmd->opts[i].name;
	char *w = xstrdup(word);
	char *eq = strchr(w, '=');
	if (eq)
		*eq = '\0';
	const char *near = dcv_nearest(w, names, n);
	free(w);
	if (near)
		return usage_error(cmd, "unknown option '%s' (did you mean '--%s'?)", arg, near);
	return usage_error(cmd, "unknown option '%s'", arg);
}

static void list_choices(struct dcv_buf *b, const char *const *choices)
{
	for (int i = 0; choices[i]; i++)
		dcv_buf_addf(b, "%s%s", i == 0 ? "" : choices[i + 1] ? ", " : " or ", choices[i]);
}

static int bad_enum(const struct dcv_cmd *cmd, const struct dcv_opt *o, const char *v)
{
	struct dcv_buf b = DCV_BUF_INIT;
	size_t n = 0;
	int rc;

	while (o->choices[n])
		n++;
	const char *near = dcv_nearest(v, o->choices, n);
	list_choices(&b, o->choices);
	if (near)
		rc = usage_error(cmd, "bad value '%s' for --%s (did you mean '%s'? expected %s)", v, o->name, near,
				 b.data);
	else
		rc = usage_error(cmd, "bad value '%s' for --%s (expected %s)", v, o->name, b.data);
	dcv_buf_release(&b);
	return rc;
}

/* Convert `v` (NULL for a flag) and write it into the option's variable. */
static int store(const struct dcv_cmd *cmd, const struct dcv_opt *o, const char *v, void *vars)
{
	char *p = (char *)vars + o->off;
	long n;

	switch (o->type) {
	case CLI_T_BOOL:
		*(bool *)p = true;
		return EXIT_OK;
	case CLI_T_COUNT:
		(*(int *)p)++;
		return EXIT_OK;
	case CLI_T_STRING:
		*(const char **)p = v;
		return EXIT_OK;
	case CLI_T_INT:
		if (!dcv_parse_int(v, o->min, o->max, &n))
			return usage_error(cmd, "bad value '%s' for --%s (a whole number from %ld to %ld)", v, o->name,
					   o->min, o->max);
		*(long *)p = n;
		return EXIT_OK;
	case CLI_T_DURATION:
		if (!dcv_parse_duration(v, &n) || n < o->min)
			return usage_error(cmd, "bad duration '%s' for --%s (like 500ms, 5s, 2m%s)", v, o->name,
					   o->min > 0 ? "; more than 0" : "");
		*(long *)p = n;
		return EXIT_OK;
	case CLI_T_LIST: {
		struct cli_list *l = (struct cli_list *)p;
		if (l->n == CLI_MAX_REPEAT)
			return usage_error(cmd, "option '--%s' given more than %d times", o->name, CLI_MAX_REPEAT);
		l->v[l->n++] = v;
		return EXIT_OK;
	}
	case CLI_T_ENUM:
		for (int i = 0; o->choices[i]; i++)
			if (strcmp(o->choices[i], v) == 0) {
				*(int *)p = i;
				return EXIT_OK;
			}
		return bad_enum(cmd, o, v);
	}
	return usage_error(cmd, "option '--%s' has no type", o->name);
}

/* The positional bounds the command declares. */
static int check_bounds(const struct dcv_cmd *cmd, const struct cli_args *a)
{
	if (a->n_pos > cmd->max_args)
		return usage_error(cmd, "unexpected argument '%s'", a->pos[cmd->max_args]);
	if (a->n_pos < cmd->min_args)
		return usage_error(cmd, "missing argument%s", cmd->min_args - a->n_pos > 1 ? "s" : "");
	return EXIT_OK;
}

int ctx_set_color(struct dcv_ctx *ctx, const char *when)
{
	const char *no = getenv("NO_COLOR");

	if (strcmp(when, "always") == 0)
		ctx->color = true;
	else if (strcmp(when, "never") == 0)
		ctx->color = false;
	else if (strcmp(when, "auto") == 0) {
		const char *term = getenv("TERM");
		ctx->color = ctx->tty && !(no && *no) && !(term && strcmp(term, "dumb") == 0);
	} else {
		out_error("bad value '%s' for --color (expected auto, always or never)", when);
		return EXIT_USAGE;
	}
	return EXIT_OK;
}

static struct dcv_ctx *global_ctx;

void cli_set_context(struct dcv_ctx *ctx)
{
	global_ctx = ctx;
}

/* -v, -q, -c FILE, --color WHEN after the command, unless the command has its own meaning for
 * them. Returns how many arguments it used (0: not a global option), -1 on a usage error. */
static int global_option(const struct dcv_cmd *cmd, int argc, char **argv, int i)
{
	struct dcv_ctx *ctx = global_ctx;
	const char *a = argv[i];

	if (!ctx)
		return 0;
	if (strcmp(a, "-v") == 0 || strcmp(a, "--verbose") == 0) {
		ctx->verbose++;
		return 1;
	}
	if (strcmp(a, "-q") == 0 || strcmp(a, "--quiet") == 0) {
		ctx->quiet = true;
		return 1;
	}
	if (strncmp(a, "--color=", 8) == 0)
		return ctx_set_color(ctx, a + 8) == EXIT_OK ? 1 : -1;
	if (strncmp(a, "--config=", 9) == 0) {
		ctx->config = a + 9;
		return 1;
	}
	if (strcmp(a, "--color") == 0 || strcmp(a, "-c") == 0 || strcmp(a, "--config") == 0) {
		if (i + 1 >= argc) {
			usage_error(cmd, "option '%s' needs a value", a);
			return -1;
		}
		if (strcmp(a, "--color") == 0)
			return ctx_set_color(ctx, argv[i + 1]) == EXIT_OK ? 2 : -1;
		ctx->config = argv[i + 1];
		return 2;
	}
	return 0;
}

int cli_parse(const struct dcv_cmd *cmd, int argc, char **argv, struct cli_args *a, void *vars)
{
	memset(a, 0, sizeof(*a));
	a->pos = argv + 1; /* positional arguments are moved here, never ahead of the reading */
	for (int i = 1; i < argc; i++) {
		char *s = argv[i];
		const char *v;
		int k, rc;

		if (strcmp(s, "--") == 0) {
			a->has_rest = true;
			a->rest = argv + i + 1;
			a->n_rest = argc - i - 1;
			break;
		}
		if (strcmp(s, "--help") == 0 || strcmp(s, "-h") == 0) {
			cli_help(stdout, cmd, "");
			return -1;
		}
		if (s[0] == '-' && s[1] == '-') {
			const char *eq = strchr(s + 2, '=');
			size_t len = eq ? (size_t)(eq - s - 2) : strlen(s + 2);
			k = find_long(cmd, s + 2, len);
			if (k < 0) {
				int used = global_option(cmd, argc, argv, i);
				if (used > 0) {
					i += used - 1;
					continue;
				}
				return used < 0 ? EXIT_USAGE : unknown_option(cmd, s);
			}
			v = NULL;
			if (cmd->opts[k].arg) {
				if (eq)
					v = eq + 1;
				else if (i + 1 < argc)
					v = argv[++i];
				else
					return usage_error(cmd, "option '--%s' needs a value (%s)", cmd->opts[k].name,
							   cmd->opts[k].arg);
			} else if (eq) {
				return usage_error(cmd, "option '--%s' takes no value", cmd->opts[k].name);
			}
			if ((rc = store(cmd, &cmd->opts[k], v, vars)) != EXIT_OK)
				return rc;
			continue;
		}
		if (s[0] == '-' && s[1] && s[2] == '\0' && find_short(cmd, s[1]) < 0) {
			int used = global_option(cmd, argc, argv, i);
			if (used > 0) {
				i += used - 1;
				continue;
			}
			if (used < 0)
				return EXIT_USAGE;
		}
		if (s[0] == '-' && s[1]) {
			for (char *c = s + 1; *c; c++) {
				k = find_short(cmd, *c);
				if (k < 0) {
					char opt[3] = { '-', *c, 0 };
					return unknown_option(cmd, opt);
				}
				v = NULL;
				if (cmd->opts[k].arg) {
					if (c[1])
						v = c + 1;
					else if (i + 1 < argc)
						v = argv[++i];
					else
						return usage_error(cmd, "option '-%c' needs a value (%s)", *c,
								   cmd->opts[k].arg);
				}
				if ((rc = store(cmd, &cmd->opts[k], v, vars)) != EXIT_OK)
					return rc;
				if (v)
					break;
			}
			continue;
		}
		a->pos[a->n_pos++] = s;
	}
	return check_bounds(cmd, a);
}

void cli_help(FILE *f, const struct dcv_cmd *cmd, const char *prefix)
{
	fprintf(f, "usage: dcvctl %s%s\n\n%s\n", prefix, cmd->usage, cmd->summary);
	if (cmd->help)
		fprintf(f, "\n%s", cmd->help);
	if (cmd->subcmds) {
		fputs("\nsubcommands:\n", f);
		for (int i = 0; cmd->subcmds[i]; i++)
			fprintf(f, "  %-22s %s\n", cmd->subcmds[i]->name, cmd->subcmds[i]->summary);
	}
	if (cmd->opts && cmd->opts[0].name) {
		fputs("\noptions:\n", f);
		for (int i = 0; cmd->opts[i].name; i++) {
			char left[64];
			const struct dcv_opt *o = &cmd->opts[i];
			if (o->short_name)
				snprintf(left, sizeof(left), "-%c, --%s%s%s", o->short_name, o->name,
					 o->arg ? " " : "", o->arg ? o->arg : "");
			else
				snprintf(left, sizeof(left), "    --%s%s%s", o->name, o->arg ? " " : "",
					 o->arg ? o->arg : "");
			fprintf(f, "  %-26s %s\n", left, o->help);
		}
	}
	fprintf(f, "  %-26s %s\n", "-h, --help", "show this help");
}

int cli_dispatch_sub(struct dcv_ctx *ctx, const struct dcv_cmd *parent, int argc, char **argv)
{
	const char *names[32];
	size_t n = 0;

	if (argc < 2)
		return usage_error(parent, "'%s' needs a subcommand", parent->name);
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		cli_help(stdout, parent, "");
		return EXIT_OK;
	}
	for (int i = 0; parent->subcmds[i]; i++) {
		if (strcmp(parent->subcmds[i]->name, argv[1]) == 0)
			return parent->subcmds[i]->run(ctx, argc - 1, argv + 1);
		names[n++] = parent->subcmds[i]->name;
	}
	const char *near = dcv_nearest(argv[1], names, n);
	if (near)
		return usage_error(parent, "unknown %s subcommand '%s' (did you mean '%s'?)", parent->name,
				   argv[1], near);
	return usage_error(parent, "unknown %s subcommand '%s'", parent->name, argv[1]);
}

/* ---- context ---- */

static const char *home_dir(void)
{
	const char *h = getenv("HOME");
	return h && *h ? h : NULL;
}

int ctx_inventory(struct dcv_ctx *ctx, struct dcv_inventory **out)
{
	struct dcv_err err = DCV_ERR_INIT;
	char *path = NULL, *fallback = NULL;
	const char *env = getenv("DCVCTL_CONFIG");
	int rc;

	if (ctx->inv) {
		*out = ctx->inv;
		return EXIT_OK;
	}
	if (ctx->config) {
		path = xstrdup(ctx->config);
	} else if (env && *env) {
		path = xstrdup(env);
	} else if (access("dcvctl.conf", F_OK) == 0) {
		path = xstrdup("dcvctl.conf");
	} else {
		const char *xdg = getenv("XDG_CONFIG_HOME");
		if (xdg && *xdg)
			fallback = xasprintf("%s/dcvctl/dcvctl.conf", xdg);
		else if (home_dir())
			fallback = xasprintf("%s/.config/dcvctl/dcvctl.conf", home_dir());
		if (!fallback || access(fallback, F_OK) != 0) {
			out_error("no inventory: give -c FILE, set DCVCTL_CONFIG, or create ./dcvctl.conf%s%s",
				  fallback ? " or " : "", fallback ? fallback : "");
			free(fallback);
			return EXIT_CONFIG;
		}
		path = fallback;
	}
	rc = dcv_inventory_load(path, home_dir(), &ctx->inv, &err);
	free(path);
	if (rc != DCV_OK) {
		out_error("%s", err.msg);
		return EXIT_CONFIG;
	}
	*out = ctx->inv;
	return EXIT_OK;
}

struct dcv_host *ctx_host(struct dcv_ctx *ctx, const char *name)
{
	struct dcv_host *h = dcv_inventory_host(ctx->inv, name);
	const char *near;

	if (h && h->role != DCV_ROLE_JUMP)
		return h;
	near = dcv_inventory_suggest_host(ctx->inv, name);
	if (near)
		out_error("unknown host '%s' in %s (did you mean '%s'?)", name, ctx->inv->path, near);
	else
		out_error("unknown host '%s' in %s", name, ctx->inv->path);
	return NULL;
}

static void pool_notice(void *user, const struct dcv_host *h, bool warning, const char *msg)
{
	/* an unverified host key is a security fact: -q does not hide it */
	if (warning)
		out_error("%s: %s", h->name, msg);
	else
		out_notice(user, "%s: %s", h->name, msg);
}

struct dcv_ssh_pool *ctx_pool(struct dcv_ctx *ctx)
{
	struct dcv_ssh_pool_opts o = { 0 };
	const char *sock = getenv("SSH_AUTH_SOCK");

	o.agent_sock = sock && *sock ? sock : NULL;
	o.notice = pool_notice;
	o.notice_user = ctx;
	o.verbose = ctx->verbose > 0;
	return dcv_ssh_pool_new(ctx->inv, &o);
}
