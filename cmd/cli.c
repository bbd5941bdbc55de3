/* Option parsing, help text and output helpers shared by the commands. */
#include "cli.h"

#include "../lib/buf.h"
#include "../lib/deploy.h"
#include "../lib/inventory.h"
#include "../lib/ssh.h"
#include "../lib/util.h"

#include <fcntl.h>
#include <json-c/json.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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

void out_step(struct dcv_ctx *ctx, const struct step_style *st, const struct dcv_step *s)
{
	const char *c = s->status == DCV_STEP_OK ? "green" : s->status == DCV_STEP_CHANGED ? "yellow"
			: s->status == DCV_STEP_SKIPPED ? "dim" : "red";

	if (ctx->quiet && s->status != DCV_STEP_FAILED)
		return;
	printf("%-10s %-*s %s%-8s%s ", s->host, st->name_width, s->name, col(ctx, c), dcv_step_status_name(s->status),
	       col_end(ctx));
	if (st->ms)
		printf("%6ld ms  ", s->ms);
	fputs(s->detail, stdout);
	if (st->reason && s->status == DCV_STEP_CHANGED && s->reason)
		printf(" %s(%s)%s", col(ctx, "dim"), s->reason, col_end(ctx));
	putchar('\n');
	if (st->diff && s->diff)
		fputs(s->diff, stdout);
	fflush(stdout);
}

struct json_object *step_json(const struct dcv_step *s, bool timing)
{
	struct json_object *j = json_object_new_object();

	json_object_object_add(j, "host", json_object_new_string(s->host));
	json_object_object_add(j, "step", json_object_new_string(s->name));
	json_object_object_add(j, "status", json_object_new_string(dcv_step_status_name(s->status)));
	json_object_object_add(j, "duration_ms", json_object_new_int64(s->ms));
	if (timing) {
		json_object_object_add(j, "started_ms", json_object_new_int64(s->started_ms));
		if (s->batch)
			json_object_object_add(j, "batch", json_object_new_int(s->batch));
	}
	json_object_object_add(j, "detail", json_object_new_string(s->detail));
	if (s->reason)
		json_object_object_add(j, "reason", json_object_new_string(s->reason));
	if (s->diff)
		json_object_object_add(j, "diff", json_object_new_string(s->diff));
	return j;
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

/* Where an option word is looked up: the command's table, then the global options that may
 * follow a command (bound to the context); before the command, the global table alone. */
struct scope {
	const struct dcv_cmd *cmd; /* names the usage line; NULL before the command */
	const struct dcv_opt *opts[2];
	void *vars[2];
};

static const struct dcv_opt *lookup(const struct scope *sc, const char *name, size_t len, char c, void **vars)
{
	for (int t = 0; t < 2; t++)
		for (int i = 0; sc->opts[t] && sc->opts[t][i].name; i++) {
			const struct dcv_opt *o = &sc->opts[t][i];
			if (name ? strlen(o->name) == len && strncmp(o->name, name, len) == 0 : o->short_name == c) {
				*vars = sc->vars[t];
				return o;
			}
		}
	return NULL;
}

static int unknown_option(const struct scope *sc, const char *arg)
{
	const char *names[2 * CLI_MAX_OPTS];
	size_t n = 0;
	const char *word = arg;

	while (*word == '-')
		word++;
	for (int t = 0; t < 2; t++)
		for (int i = 0; sc->opts[t] && sc->opts[t][i].name && n < 2 * CLI_MAX_OPTS; i++)
			names[n++] = sc->opts[t][i].name;
	char *w = xstrdup(word);
	char *eq = strchr(w, '=');
	if (eq)
		*eq = '\0';
	const char *near = dcv_nearest(w, names, n);
	free(w);
	if (near)
		return usage_error(sc->cmd, "unknown %soption '%s' (did you mean '--%s'?)", sc->cmd ? "" : "global ",
				   arg, near);
	return usage_error(sc->cmd, "unknown %soption '%s'", sc->cmd ? "" : "global ", arg);
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

void ctx_apply_color(struct dcv_ctx *ctx)
{
	const char *no = getenv("NO_COLOR"), *term = getenv("TERM");

	switch (ctx->color_when) {
	case CLI_COLOR_ALWAYS:
		ctx->color = true;
		break;
	case CLI_COLOR_NEVER:
		ctx->color = false;
		break;
	default:
		ctx->color = ctx->tty && !(no && *no) && !(term && strcmp(term, "dumb") == 0);
	}
}

const char *const cli_color_choices[] = { "auto", "always", "never", NULL };

static struct dcv_ctx *global_ctx;
static const struct dcv_opt *global_after; /* the global options a command may be followed by */

void cli_set_context(struct dcv_ctx *ctx, const struct dcv_opt *after_command)
{
	global_ctx = ctx;
	global_after = after_command;
}

/* One option word, argv[*i] (its value may be the next word, then *i moves on): a long option,
 * or one or more short ones bundled (-fv, -nVALUE). */
static int option_word(const struct scope *sc, int argc, char **argv, int *i)
{
	char *s = argv[*i];
	const struct dcv_opt *o;
	void *vars;
	int rc;

	if (s[1] == '-') {
		const char *eq = strchr(s + 2, '=');
		const char *v = NULL;
		if (!(o = lookup(sc, s + 2, eq ? (size_t)(eq - s - 2) : strlen(s + 2), 0, &vars)))
			return unknown_option(sc, s);
		if (o->arg) {
			if (eq)
				v = eq + 1;
			else if (*i + 1 < argc)
				v = argv[++*i];
			else
				return usage_error(sc->cmd, "option '--%s' needs a value (%s)", o->name, o->arg);
		} else if (eq) {
			return usage_error(sc->cmd, "option '--%s' takes no value", o->name);
		}
		return store(sc->cmd, o, v, vars);
	}
	for (char *c = s + 1; *c; c++) {
		const char *v = NULL;
		if (!(o = lookup(sc, NULL, 0, *c, &vars))) {
			char opt[3] = { '-', *c, 0 };
			return unknown_option(sc, opt);
		}
		if (o->arg) {
			if (c[1])
				v = c + 1;
			else if (*i + 1 < argc)
				v = argv[++*i];
			else
				return usage_error(sc->cmd, "option '-%c' needs a value (%s)", *c, o->arg);
		}
		if ((rc = store(sc->cmd, o, v, vars)) != EXIT_OK || v)
			return rc;
	}
	return EXIT_OK;
}

int cli_parse_globals(struct dcv_ctx *ctx, const struct dcv_opt *opts, int argc, char **argv, int *i)
{
	struct scope sc = { NULL, { opts, NULL }, { ctx, NULL } };
	int rc;

	for (; *i < argc && argv[*i][0] == '-'; ++*i)
		if (!argv[*i][1])
			return unknown_option(&sc, argv[*i]);
		else if ((rc = option_word(&sc, argc, argv, i)) != EXIT_OK)
			return rc;
	ctx_apply_color(ctx);
	return EXIT_OK;
}

int cli_parse(const struct dcv_cmd *cmd, int argc, char **argv, struct cli_args *a, void *vars)
{
	struct scope sc = { cmd, { cmd->opts, global_ctx ? global_after : NULL }, { vars, global_ctx } };
	int rc;

	memset(a, 0, sizeof(*a));
	a->pos = argv + 1; /* positional arguments are moved here, never ahead of the reading */
	for (int i = 1; i < argc; i++) {
		char *s = argv[i];

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
		if (s[0] == '-' && s[1]) {
			if ((rc = option_word(&sc, argc, argv, &i)) != EXIT_OK)
				return rc;
			continue;
		}
		a->pos[a->n_pos++] = s;
	}
	if (global_ctx) {
		if (global_ctx->verbose && global_ctx->quiet)
			return usage_error(cmd, "-v and -q cannot be used together");
		ctx_apply_color(global_ctx);
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

/* DCVCTL_TRACE_REMOTE=DIR: each remote command into DIR/HOST/NNNN.cmd, its stdin into NNNN.in
 * (mode 600: a trace may hold file contents), in the order they were sent, so that
 * bench/deploy-floor.sh can run the same commands on the hosts without dcvctl or SSH. */
static pthread_mutex_t trace_lock = PTHREAD_MUTEX_INITIALIZER;

static void trace_write(const char *path, const char *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);

	if (fd < 0)
		return;
	for (size_t off = 0; off < len;) {
		ssize_t n = write(fd, data + off, len - off);
		if (n <= 0)
			break;
		off += (size_t)n;
	}
	close(fd);
}

static void pool_trace(void *user, const struct dcv_host *h, const char *cmd, const char *in, size_t in_len)
{
	static int seq;
	const char *dir = user;

	pthread_mutex_lock(&trace_lock);
	char *hdir = xasprintf("%s/%s", dir, h->name);
	char *c = xasprintf("%s/%04d.cmd", hdir, seq), *i = xasprintf("%s/%04d.in", hdir, seq);
	seq++;
	mkdir(hdir, 0700);
	trace_write(c, cmd, strlen(cmd));
	trace_write(i, in ? in : "", in ? in_len : 0);
	pthread_mutex_unlock(&trace_lock);
	free(hdir);
	free(c);
	free(i);
}

struct dcv_ssh_pool *ctx_pool(struct dcv_ctx *ctx)
{
	struct dcv_ssh_pool_opts o = { 0 };
	const char *sock = getenv("SSH_AUTH_SOCK");
	const char *trace = getenv("DCVCTL_TRACE_REMOTE");

	o.agent_sock = sock && *sock ? sock : NULL;
	o.notice = pool_notice;
	o.notice_user = ctx;
	o.verbose = ctx->verbose > 0;
	if (trace && *trace) {
		o.trace = pool_trace;
		o.trace_user = (void *)trace;
	}
	return dcv_ssh_pool_new(ctx->inv, &o);
}
