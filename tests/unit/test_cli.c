/* test_cli.c - the command table against its man page and its bash, zsh and fish completions
 * (the guard that keeps them in step), and the argument parser.
 *
 * The documents are read from the source tree: $DCVCTL_SRCDIR, else the directory this file's
 * __FILE__ names (make runs from the top of the tree). */

/* The Makefile links every cmd/ object but main.o into this test (main.o has main()), yet the
 * table, the help command and the global options live in main.c: take them from the source,
 * with main renamed, so the test checks the real ones. */
#define main dcvctl_main
#include "../../cmd/main.c"
#undef main

#include "../../lib/buf.h"

#include <ctype.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/wait.h>

#include <cmocka.h>

#define MAX_ENTRIES 256

/* The units the completions offer for `service ... HOST UNIT...`. */
static const char *const units[] = {
	"nginx", "haproxy", "dcvserver", "dcv-session-manager-agent",
	"dcv-session-manager-broker", "dcv-connection-gateway", NULL,
};

/* ---- reading files ---- */

static const char *srcdir(void)
{
	static char dir[4096];
	const char *env = getenv("DCVCTL_SRCDIR");
	char *p;

	if (env && *env)
		return env;
	snprintf(dir, sizeof(dir), "%s", __FILE__);
	p = strstr(dir, "tests/unit/test_cli.c");
	if (!p || p == dir)
		return ".";
	p[-1] = '\0';
	return dir;
}

static char *slurp(const char *rel)
{
	char *path = xasprintf("%s/%s", srcdir(), rel);
	FILE *f = fopen(path, "r");
	struct dcv_buf b = DCV_BUF_INIT;
	char chunk[4096];
	size_t n;

	if (!f)
		fail_msg("cannot read '%s' (set DCVCTL_SRCDIR to the source tree)", path);
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		dcv_buf_add(&b, chunk, n);
	fclose(f);
	free(path);
	return dcv_buf_detach(&b);
}

/* Split into lines (a NULL-terminated array, one allocation each). */
static char **split_lines(const char *text)
{
	size_t n = 0, cap = 16;
	char **lines = xcalloc(cap, sizeof(char *));

	for (const char *s = text; *s;) {
		const char *nl = strchr(s, '\n');
		size_t len = nl ? (size_t)(nl - s) : strlen(s);
		if (n + 2 > cap) {
			cap *= 2;
			lines = xrealloc(lines, cap * sizeof(char *));
		}
		lines[n++] = xstrndup(s, len);
		s += len + (nl ? 1 : 0);
	}
	lines[n] = NULL;
	return lines;
}

static void free_lines(char **lines)
{
	for (int i = 0; lines && lines[i]; i++)
		free(lines[i]);
	free(lines);
}

/* ---- tokens ---- */

static bool word_char(char c)
{
	return isalnum((unsigned char)c) || c == '_' || c == '-';
}

/* `tok` occurs in `text` not glued to a longer word: "-t" is not found in "--timeout". */
static bool has_token(const char *text, const char *tok)
{
	size_t n = strlen(tok);

	for (const char *p = strstr(text, tok); p; p = strstr(p + 1, tok)) {
		bool left = p == text || !word_char(p[-1]) || !word_char(tok[0]);
		bool right = !word_char(p[n]) || !word_char(tok[n - 1]);
		if (left && right)
			return true;
	}
	return false;
}

/* ---- roff ---- */

static bool font_macro(const char *m, size_t n)
{
	static const char *const macros[] = { "B", "I", "BR", "RB", "BI", "IB", "IR", "RI", "SS", NULL };

	for (int i = 0; macros[i]; i++)
		if (strlen(macros[i]) == n && strncmp(macros[i], m, n) == 0)
			return true;
	return false;
}

/* The text a roff line shows: font macros keep their arguments (quotes dropped), other requests
 * show nothing; escapes are resolved (\- is -, \fB and friends vanish). */
static char *roff_plain(const char *line)
{
	struct dcv_buf b = DCV_BUF_INIT;
	const char *s = line;
	bool request = s[0] == '.' || s[0] == '\'';

	if (request) {
		size_t n = strcspn(s + 1, " \t");
		if (!font_macro(s + 1, n))
			return xstrdup("");
		s += 1 + n;
		s += strspn(s, " \t");
	}
	for (; *s; s++) {
		if (*s == '"' && request)
			continue;
		if (*s != '\\' || !s[1]) {
			dcv_buf_addc(&b, *s);
			continue;
		}
		s++;
		switch (*s) {
		case 'f':
			if (s[1] == '(')
				s += s[2] && s[3] ? 3 : strlen(s) - 1;
			else if (s[1] == '[')
				s = strchr(s, ']') ? strchr(s, ']') : s + strlen(s) - 1;
			else if (s[1])
				s++;
			break;
		case '(':
			if (strncmp(s, "(aq", 3) == 0)
				dcv_buf_addc(&b, '\'');
			else if (strncmp(s, "(ti", 3) == 0)
				dcv_buf_addc(&b, '~');
			else if (strncmp(s, "(dq", 3) == 0)
				dcv_buf_addc(&b, '"');
			else
				dcv_buf_addc(&b, '?');
			s += s[1] && s[2] ? 2 : strlen(s) - 1;
			break;
		case '&': case '|': case '^': case ':':
			break;
		case 'e':
			dcv_buf_addc(&b, '\\');
			break;
		default: /* \- \\ \. \  and the like: the character itself */
			dcv_buf_addc(&b, *s);
		}
	}
	return dcv_buf_detach(&b);
}

/* Lines [from, to) of the section that starts at the line `head` and ends at the next .SH. */
static bool section(char **lines, const char *head, int *from, int *to)
{
	for (int i = 0; lines[i]; i++) {
		if (strcmp(lines[i], head) != 0)
			continue;
		int j = i + 1;
		while (lines[j] && strncmp(lines[j], ".SH", 3) != 0)
			j++;
		*from = i;
		*to = j;
		return true;
	}
	return false;
}

/* The man page block of command `name`: from ".SS name" (or ".SS "name"") to the next .SH, or
 * the next .SS that is not one of its subcommands (".SS "name sub""). */
static bool man_cmd_block(char **lines, const char *name, int *from, int *to)
{
	char *a = xasprintf(".SS %s", name), *q = xasprintf(".SS \"%s\"", name);
	char *sub = xasprintf("%s ", name);
	bool found = false;

	for (int i = 0; lines[i] && !found; i++) {
		if (strcmp(lines[i], a) != 0 && strcmp(lines[i], q) != 0)
			continue;
		int j = i + 1;
		for (; lines[j]; j++) {
			if (strncmp(lines[j], ".SH", 3) == 0)
				break;
			if (strncmp(lines[j], ".SS", 3) == 0) {
				char *t = roff_plain(lines[j]);
				bool mine = strncmp(t, sub, strlen(sub)) == 0;
				free(t);
				if (!mine)
					break;
			}
		}
		*from = i;
		*to = j;
		found = true;
	}
	free(a);
	free(q);
	free(sub);
	return found;
}

/* The tag lines (the line after each .TP) of lines [from, to), as shown, joined by newlines. */
static char *man_tags(char **lines, int from, int to)
{
	struct dcv_buf b = DCV_BUF_INIT;

	for (int i = from; i < to - 1; i++) {
		if (strcmp(lines[i], ".TP") != 0)
			continue;
		char *t = roff_plain(lines[i + 1]);
		dcv_buf_addf(&b, "%s\n", t);
		free(t);
	}
	return dcv_buf_detach(&b);
}

/* ---- the table, flattened ---- */

struct entry {
	char path[128];               /* "exec", or "session create" */
	const struct dcv_cmd *cmd;
	const struct dcv_cmd *parent; /* NULL for a top-level command */
	bool runnable;                /* no subcommands: it parses its own options */
};

static int n_subcmds(const struct dcv_cmd *c)
{
	int n = 0;

	while (c->subcmds && c->subcmds[n])
		n++;
	return n;
}

static int flatten(const struct dcv_cmd *const *table, struct entry *e)
{
	int n = 0;

	for (int i = 0; table[i]; i++) {
		const struct dcv_cmd *c = table[i];
		if (n + 1 + n_subcmds(c) > MAX_ENTRIES)
			fail_msg("more than %d commands and subcommands: raise MAX_ENTRIES", MAX_ENTRIES);
		snprintf(e[n].path, sizeof(e[n].path), "%s", c->name);
		e[n].cmd = c;
		e[n].parent = NULL;
		e[n++].runnable = !c->subcmds;
		for (int k = 0; c->subcmds && c->subcmds[k]; k++) {
			snprintf(e[n].path, sizeof(e[n].path), "%s %s", c->name, c->subcmds[k]->name);
			e[n].cmd = c->subcmds[k];
			e[n].parent = c;
			e[n++].runnable = true;
		}
	}
	return n;
}

static int n_opts(const struct dcv_opt *o)
{
	int n = 0;

	while (o && o[n].name)
		n++;
	return n;
}

static int problem(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int problem(const char *fmt, ...)
{
	va_list ap;

	fputs("  ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return 1;
}

/* ---- the documents ---- */

struct docs {
	char *man1, *man5, *bash, *zsh, *fish, *inventory_c;
	char inv_path[64]; /* a lab-style inventory for host completion */
};

static int setup(void **state)
{
	struct docs *d = xcalloc(1, sizeof(*d));
	static const char inv[] =
		"# lab-style inventory\n"
		"[ssh]                 # defaults\n"
		"sudo = yes\n"
		"\n"
		"[bastion]\n"
		"address = 198.18.0.10\n"
		"user = ec2-user\n"
		"\n"
		"[gateway]   # the proxy\n"
		"address = 198.18.1.11\n"
		"ssh = 198.18.0.10:50000\n"
		"user = ec2-user\n"
		"\n"
		"[agent dcv1]\n"
		"address = 198.18.1.21\n"
		"user = ubuntu\n"
		"\n"
		"[agent dcv-2]\n"
		"address = 198.18.1.22\n"
		"jump = ops@198.18.0.10:2222\n"
		"user = ubuntu\n";
	int fd;

	d->man1 = slurp("man/dcvctl.1");
	d->man5 = slurp("man/dcvctl.conf.5");
	d->bash = slurp("completions/dcvctl.bash");
	d->zsh = slurp("completions/_dcvctl");
	d->fish = slurp("completions/dcvctl.fish");
	d->inventory_c = slurp("lib/inventory.c");
	snprintf(d->inv_path, sizeof(d->inv_path), "/tmp/test_cli.XXXXXX");
	fd = mkstemp(d->inv_path);
	if (fd < 0 || write(fd, inv, sizeof(inv) - 1) != (ssize_t)(sizeof(inv) - 1))
		fail_msg("cannot write a temporary inventory");
	close(fd);
	/* nothing here may find a real inventory, let alone connect anywhere */
	setenv("DCVCTL_CONFIG", "/nonexistent/dcvctl.conf", 1);
	*state = d;
	return 0;
}

static int teardown(void **state)
{
	struct docs *d = *state;

	unlink(d->inv_path);
	free(d->man1);
	free(d->man5);
	free(d->bash);
	free(d->zsh);
	free(d->fish);
	free(d->inventory_c);
	free(d);
	return 0;
}

/* ---- checks, each returning the number of problems (printed) ---- */

static int check_table(const struct dcv_cmd *const *table)
{
	struct entry e[MAX_ENTRIES];
	int n = flatten(table, e), bad = 0;

	for (int i = 0; table[i] && table[i + 1]; i++)
		if (strcmp(table[i]->name, table[i + 1]->name) >= 0)
			bad += problem("table: '%s' before '%s': keep dcv_commands[] sorted, names unique",
				       table[i]->name, table[i + 1]->name);
	for (int i = 0; i < n; i++) {
		const struct dcv_cmd *c = e[i].cmd;
		const struct dcv_opt *o = c->opts;
		size_t pl = strlen(e[i].path);

		for (int k = 0; c->subcmds && c->subcmds[k] && c->subcmds[k + 1]; k++)
			if (strcmp(c->subcmds[k]->name, c->subcmds[k + 1]->name) >= 0)
				bad += problem("%s: subcommands '%s' and '%s' not sorted or not unique",
					       e[i].path, c->subcmds[k]->name, c->subcmds[k + 1]->name);
		if (!c->summary || !*c->summary)
			bad += problem("%s: no summary", e[i].path);
		if (!c->usage || strncmp(c->usage, e[i].path, pl) != 0 ||
		    (c->usage[pl] != ' ' && c->usage[pl] != '\0'))
			bad += problem("%s: usage '%s' does not start with '%s'", e[i].path,
				       c->usage ? c->usage : "(null)", e[i].path);
		if (n_opts(o) >= CLI_MAX_OPTS)
			bad += problem("%s: more than %d options", e[i].path, CLI_MAX_OPTS - 1);
		for (int k = 0; o && o[k].name; k++) {
			if (strcmp(o[k].name, "help") == 0 || o[k].short_name == 'h')
				bad += problem("%s: --help/-h are built in", e[i].path);
			for (int m = k + 1; o[m].name; m++)
				if (strcmp(o[k].name, o[m].name) == 0 ||
				    (o[k].short_name && o[k].short_name == o[m].short_name))
					bad += problem("%s: options --%s and --%s clash", e[i].path,
						       o[k].name, o[m].name);
		}
	}
	return bad;
}

static int check_man_synopsis(const struct dcv_cmd *const *table, const char *man)
{
	char **lines = split_lines(man);
	struct entry e[MAX_ENTRIES];
	struct dcv_buf shown = DCV_BUF_INIT;
	int n = flatten(table, e), from, to, bad = 0;

	if (!section(lines, ".SH SYNOPSIS", &from, &to)) {
		free_lines(lines);
		return problem("dcvctl.1: no SYNOPSIS");
	}
	dcv_buf_addc(&shown, '\n');
	for (int i = from + 1; i < to; i++) {
		char *t = roff_plain(lines[i]);
		dcv_buf_addf(&shown, "%s\n", t);
		free(t);
	}
	char *want = xasprintf("\n%s\n", dcv_global_usage);
	if (!strstr(shown.data, want))
		bad += problem("dcvctl.1 SYNOPSIS: no line '%s'", dcv_global_usage);
	free(want);
	for (int i = 0; i < n; i++) {
		if (!e[i].runnable)
			continue;
		want = xasprintf("\ndcvctl %s\n", e[i].cmd->usage);
		if (!strstr(shown.data, want))
			bad += problem("dcvctl.1 SYNOPSIS: no line 'dcvctl %s'", e[i].cmd->usage);
		free(want);
	}
	dcv_buf_release(&shown);
	free_lines(lines);
	return bad;
}

static int check_man_tags(const char *where, const char *tags, const struct dcv_opt *o)
{
	int bad = 0;

	for (int k = 0; o && o[k].name; k++) {
		char *l = xasprintf("--%s", o[k].name), s[3] = { '-', o[k].short_name, 0 };
		if (!has_token(tags, l))
			bad += problem("dcvctl.1 %s: option %s has no .TP item", where, l);
		if (o[k].short_name && !has_token(tags, s))
			bad += problem("dcvctl.1 %s: option %s has no .TP item", where, s);
		free(l);
	}
	return bad;
}

static int check_man_commands(const struct dcv_cmd *const *table, const char *man)
{
	char **lines = split_lines(man);
	int from, to, bad = 0;

	if (!section(lines, ".SH GLOBAL OPTIONS", &from, &to)) {
		bad += problem("dcvctl.1: no GLOBAL OPTIONS");
	} else {
		char *tags = man_tags(lines, from, to);
		bad += check_man_tags("GLOBAL OPTIONS", tags, global_opts);
		free(tags);
	}
	for (int i = 0; table[i]; i++) {
		const struct dcv_cmd *c = table[i];
		if (!man_cmd_block(lines, c->name, &from, &to)) {
			bad += problem("dcvctl.1 COMMANDS: no '.SS %s'", c->name);
			continue;
		}
		char *tags = man_tags(lines, from, to);
		struct dcv_buf text = DCV_BUF_INIT;
		for (int j = from; j < to; j++) {
			char *t = roff_plain(lines[j]);
			dcv_buf_addf(&text, "%s\n", t);
			free(t);
		}
		bad += check_man_tags(c->name, tags, c->opts);
		for (int k = 0; c->subcmds && c->subcmds[k]; k++) {
			if (!has_token(dcv_buf_str(&text), c->subcmds[k]->name))
				bad += problem("dcvctl.1 %s: subcommand '%s' not described", c->name,
					       c->subcmds[k]->name);
			bad += check_man_tags(c->name, tags, c->subcmds[k]->opts);
		}
		dcv_buf_release(&text);
		free(tags);
	}
	free_lines(lines);
	return bad;
}

/* How each completion file spells an option. */
enum shell { BASH, ZSH, FISH };
static const char *const shell_file[] = { "dcvctl.bash", "_dcvctl", "dcvctl.fish" };

/* `scope` is the command path, or "global". */
static char *opt_spelling(enum shell sh, const char *scope, const struct dcv_opt *o, bool is_short,
			  bool value)
{
	if (sh == FISH && value)
		return is_short ? xasprintf("%s:-%c", scope, o->short_name)
				: xasprintf("%s:--%s", scope, o->name);
	if (sh == FISH)
		return is_short ? xasprintf("-s %c", o->short_name) : xasprintf("-l %s", o->name);
	if (value) /* bash: -t=DUR --timeout=DUR; zsh: {-t+,--timeout=} */
		return is_short ? xasprintf("-%c%c", o->short_name, sh == BASH ? '=' : '+')
				: xasprintf("--%s=", o->name);
	return is_short ? xasprintf("-%c", o->short_name) : xasprintf("--%s", o->name);
}

/* `text` spells option `o`. In zsh it must be an _arguments spec ({-p,--probe}, '--json[...]',
 * -t+, --timeout=), not a mention in an exclusion list or a description. */
static bool opt_found(enum shell sh, const char *text, const char *scope, const struct dcv_opt *o,
		      bool is_short, bool value)
{
	char *tok = opt_spelling(sh, scope, o, is_short, value);
	bool found = false;

	if (sh == ZSH && !value) {
		for (const char *c = ",}[=+"; *c && !found; c++) {
			char *spec = xasprintf("%s%c", tok, *c);
			found = has_token(text, spec);
			free(spec);
		}
	} else {
		found = has_token(text, tok);
	}
	free(tok);
	return found;
}

/* Every spelling of every option of `o` is in `text` (with `values`, also the spelling that
 * says it takes a value). */
static int check_opts_in(enum shell sh, const char *where, const char *text, const char *scope,
			 const struct dcv_opt *o, bool values)
{
	int bad = 0;

	for (int k = 0; o && o[k].name; k++) {
		for (int is_short = 0; is_short < 2; is_short++) {
			if (is_short && !o[k].short_name)
				continue;
			for (int value = 0; value < 1 + (values && o[k].arg); value++) {
				char *tok = opt_spelling(sh, scope, &o[k], is_short, value);
				if (!opt_found(sh, text, scope, &o[k], is_short, value))
					bad += problem("%s %s: no '%s'%s", shell_file[sh], where, tok,
						       value ? " (it takes a value)" : "");
				free(tok);
			}
		}
	}
	return bad;
}

/* zsh: the body of _dcvctl_cmd_PATH (spaces as '_'), up to the closing brace at column 0. */
static char *zsh_function(const char *text, const char *path)
{
	char *name = xasprintf("\n_dcvctl_cmd_%s() {", path), *body = NULL;

	for (char *p = name + strlen("\n_dcvctl_cmd_"); *p != '('; p++)
		if (*p == ' ')
			*p = '_';
	const char *s = strstr(text, name);
	if (s) {
		const char *end = strstr(s, "\n}");
		body = xstrndup(s, end ? (size_t)(end - s) : strlen(s));
	}
	free(name);
	return body;
}

/* fish: the lines whose condition is `__dcvctl_using PATH'`. */
static char *fish_lines(const char *text, const char *path)
{
	char **lines = split_lines(text);
	char *cond = xasprintf("__dcvctl_using %s'", path);
	struct dcv_buf b = DCV_BUF_INIT;

	for (int i = 0; lines[i]; i++)
		if (strstr(lines[i], cond))
			dcv_buf_addf(&b, "%s\n", lines[i]);
	free(cond);
	free_lines(lines);
	return dcv_buf_detach(&b);
}

static int check_completion(const struct dcv_cmd *const *table, enum shell sh, const char *text)
{
	struct entry e[MAX_ENTRIES];
	int n = flatten(table, e), bad = 0;

	bad += check_opts_in(sh, "global options", text, "global", global_opts, true);
	for (int i = 0; i < n; i++) {
		const char *word = e[i].parent ? e[i].cmd->name : e[i].path;
		if (!has_token(text, word))
			bad += problem("%s: no %s '%s'", shell_file[sh],
				       e[i].parent ? "subcommand" : "command", e[i].path);
		/* A command with subcommands takes no options before its subcommand
		 * (cli_dispatch_sub): fish, whose value spelling is scoped ("cert:--remote"), must
		 * not declare them there, and test_cli_bash_offers_the_table checks that bash does
		 * not offer them. */
		bad += check_opts_in(sh, e[i].path, text, e[i].path, e[i].cmd->opts,
				     e[i].runnable || sh != FISH);
		if (!e[i].runnable || sh == BASH) /* bash: see test_cli_bash_offers_the_table */
			continue;
		char *own = sh == ZSH ? zsh_function(text, e[i].path) : fish_lines(text, e[i].path);
		if (!own || (sh == ZSH && !*own)) {
			bad += problem("%s: no %s for '%s'", shell_file[sh],
				       sh == ZSH ? "function _dcvctl_cmd_..." : "'__dcvctl_using' line",
				       e[i].path);
		} else {
			char *where = xasprintf("%s (its own %s)", e[i].path,
						sh == ZSH ? "function" : "lines");
			bad += check_opts_in(sh, where, own, e[i].path, e[i].cmd->opts, false);
			free(where);
		}
		free(own);
	}
	return bad;
}

/* ---- bash, for real ---- */

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Run completions/dcvctl.bash on `words` (the last one is completed); the offered words, sorted,
 * NULL-terminated. */
static char **bash_complete(const char *const *words)
{
	static const char script[] =
		"source \"$1\" || exit 99; shift; COMP_WORDS=(\"$@\"); COMP_CWORD=$(($# - 1)); "
		"COMP_LINE=\"$*\"; COMP_POINT=${#COMP_LINE}; _dcvctl; "
		"((${#COMPREPLY[@]})) && printf '%s\\n' \"${COMPREPLY[@]}\"; exit 0";
	char *file = xasprintf("%s/completions/dcvctl.bash", srcdir());
	const char *argv[64] = { "bash", "--norc", "--noprofile", "-c", script, "bash", file };
	int argc = 7, fds[2], status;
	struct dcv_buf out = DCV_BUF_INIT;
	char chunk[4096];
	ssize_t got;
	pid_t pid;

	for (int i = 0; words[i] && argc < 63; i++)
		argv[argc++] = words[i];
	argv[argc] = NULL;
	assert_int_equal(pipe(fds), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(fds[1], STDOUT_FILENO);
		close(fds[0]);
		close(fds[1]);
		execvp("bash", (char *const *)argv);
		_exit(127);
	}
	close(fds[1]);
	while ((got = read(fds[0], chunk, sizeof(chunk))) > 0)
		dcv_buf_add(&out, chunk, (size_t)got);
	close(fds[0]);
	waitpid(pid, &status, 0);
	free(file);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		fail_msg("bash completion failed (exit %d)", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	char **lines = split_lines(dcv_buf_str(&out));
	int n = 0;
	while (lines[n])
		n++;
	qsort(lines, (size_t)n, sizeof(char *), cmp_str);
	dcv_buf_release(&out);
	return lines;
}

/* The words offered for `line` (space-separated; a trailing space completes an empty word) are
 * exactly `want`. */
static int bash_offers(const char *line, const char **want, int n_want)
{
	char *copy = xstrdup(line), *save = NULL;
	const char *words[64];
	int n = 0, bad = 0, i;
	struct dcv_buf got_s = DCV_BUF_INIT, want_s = DCV_BUF_INIT;

	for (char *t = strtok_r(copy, " ", &save); t && n < 62; t = strtok_r(NULL, " ", &save))
		words[n++] = t;
	if (line[strlen(line) - 1] == ' ')
		words[n++] = "";
	words[n] = NULL;
	char **got = bash_complete(words);
	qsort(want, (size_t)n_want, sizeof(char *), cmp_str);
	for (i = 0; got[i]; i++)
		dcv_buf_addf(&got_s, " %s", got[i]);
	for (i = 0; i < n_want; i++)
		dcv_buf_addf(&want_s, " %s", want[i]);
	if (strcmp(dcv_buf_str(&got_s), dcv_buf_str(&want_s)) != 0)
		bad = problem("dcvctl.bash: '%s<TAB>' offers [%s ] instead of [%s ]", line,
			      dcv_buf_str(&got_s), dcv_buf_str(&want_s));
	dcv_buf_release(&got_s);
	dcv_buf_release(&want_s);
	free_lines(got);
	free(copy);
	return bad;
}

/* Option words of a table, with -h and --help when `help`. */
static int opt_words(const struct dcv_opt *o, bool help, const char **w, char store[][40])
{
	int n = 0;

	for (int k = 0; o && o[k].name; k++) {
		snprintf(store[n], 40, "--%s", o[k].name);
		w[n] = store[n];
		n++;
		if (o[k].short_name) {
			snprintf(store[n], 40, "-%c", o[k].short_name);
			w[n] = store[n];
			n++;
		}
	}
	if (help) {
		w[n++] = "-h";
		w[n++] = "--help";
	}
	return n;
}

static int check_bash_behaviour(const struct dcv_cmd *const *table)
{
	const char *w[2 * CLI_MAX_OPTS + 2];
	char store[2 * CLI_MAX_OPTS][40];
	int n = 0, bad = 0;

	for (int i = 0; table[i]; i++)
		w[n++] = table[i]->name;
	bad += bash_offers("dcvctl ", w, n);
	bad += bash_offers("dcvctl -", w, opt_words(global_opts, false, w, store));
	for (int i = 0; table[i]; i++) {
		const struct dcv_cmd *c = table[i];
		char *line = xasprintf("dcvctl %s -", c->name);
		if (!c->subcmds) {
			bad += bash_offers(line, w, opt_words(c->opts, true, w, store));
			free(line);
			continue;
		}
		bad += bash_offers(line, w, opt_words(NULL, true, w, store));
		free(line);
		n = 0;
		for (int k = 0; c->subcmds[k]; k++)
			w[n++] = c->subcmds[k]->name;
		line = xasprintf("dcvctl %s ", c->name);
		bad += bash_offers(line, w, n);
		free(line);
		for (int k = 0; c->subcmds[k]; k++) {
			line = xasprintf("dcvctl %s %s -", c->name, c->subcmds[k]->name);
			bad += bash_offers(line, w, opt_words(c->subcmds[k]->opts, true, w, store));
			free(line);
		}
	}
	return bad;
}

/* ---- tests: the table and its documents ---- */

static void test_cli_table_sorted_unique(void **state)
{
	(void)state;
	assert_int_equal(check_table(dcv_commands), 0);
}

static void test_cli_man_synopsis_has_every_usage(void **state)
{
	struct docs *d = *state;

	assert_int_equal(check_man_synopsis(dcv_commands, d->man1), 0);
}

static void test_cli_man_documents_every_command_and_option(void **state)
{
	struct docs *d = *state;

	assert_int_equal(check_man_commands(dcv_commands, d->man1), 0);
}

static void test_cli_completions_name_every_command_and_option(void **state)
{
	struct docs *d = *state;
	int bad = check_completion(dcv_commands, BASH, d->bash) +
		  check_completion(dcv_commands, ZSH, d->zsh) +
		  check_completion(dcv_commands, FISH, d->fish);

	assert_int_equal(bad, 0);
}

static void test_cli_bash_offers_the_table(void **state)
{
	(void)state;
	assert_int_equal(check_bash_behaviour(dcv_commands), 0);
}

static void test_cli_bash_completes_inventory_hosts(void **state)
{
	struct docs *d = *state;
	struct dcv_inventory *inv = NULL;
	struct dcv_err err = DCV_ERR_INIT;
	const char *hosts[16], *want[16];
	int n = 0, bad = 0, k;

	/* the hosts the real parser sees are the hosts the completion offers */
	assert_int_equal(dcv_inventory_load(d->inv_path, "/home/op", &inv, &err), DCV_OK);
	for (int i = 0; i < inv->n_hosts; i++)
		if (inv->hosts[i]->role != DCV_ROLE_JUMP)
			hosts[n++] = inv->hosts[i]->name;
	assert_int_equal(n, 4);

	char *line = xasprintf("dcvctl -c %s exec ", d->inv_path);
	bad += bash_offers(line, hosts, n);
	free(line);
	line = xasprintf("dcvctl --config=%s service restart ", d->inv_path);
	bad += bash_offers(line, hosts, n);
	free(line);

	setenv("DCVCTL_CONFIG", d->inv_path, 1);
	bad += bash_offers("dcvctl -q service status ", hosts, n);
	bad += bash_offers("dcvctl exec -t 5s ", hosts, n);
	for (k = 0; units[k]; k++)
		want[k] = units[k];
	bad += bash_offers("dcvctl service status gateway ", want, k);
	bad += bash_offers("dcvctl service stop dcv1 nginx ", want, k);
	want[0] = "--";
	bad += bash_offers("dcvctl exec dcv1 ", want, 1);
	bad += bash_offers("dcvctl exec dcv1 -- ", want, 0);
	setenv("DCVCTL_CONFIG", "/nonexistent/dcvctl.conf", 1);
	bad += bash_offers("dcvctl exec ", want, 0);

	dcv_inventory_free(inv);
	assert_int_equal(bad, 0);
}

/* A command the documents do not know, and a known command with an option they do not know:
 * every check must notice each (a guard that cannot fail guards nothing). */
static void test_cli_checks_catch_undocumented(void **state)
{
	struct docs *d = *state;
	struct dcv_opt opts[CLI_MAX_OPTS + 1] = { 0 };
	int n = n_opts(dcv_cmd_exec.opts);

	memcpy(opts, dcv_cmd_exec.opts, sizeof(struct dcv_opt) * (size_t)n);
	opts[n] = (struct dcv_opt){ "wobble", 'w', "DUR", "not documented anywhere" };
	const struct dcv_cmd exec2 = { .name = "exec", .summary = "x", .usage = "exec [--wobble DUR] HOST",
				       .opts = opts };
	const struct dcv_cmd frob = { .name = "frobnicate", .summary = "x", .usage = "frobnicate" };
	const struct dcv_cmd *const new_opt[] = { &exec2, NULL };
	const struct dcv_cmd *const new_cmd[] = { &frob, NULL };
	const struct dcv_cmd *const unsorted[] = { &frob, &exec2, NULL };
	const struct dcv_cmd *const *tables[] = { new_opt, new_cmd };

	fputs("  (the problems below are expected)\n", stderr);
	assert_true(check_table(unsorted) > 0);
	for (int i = 0; i < 2; i++) {
		assert_true(check_man_synopsis(tables[i], d->man1) > 0);
		assert_true(check_man_commands(tables[i], d->man1) > 0);
		assert_true(check_completion(tables[i], BASH, d->bash) > 0);
		assert_true(check_completion(tables[i], ZSH, d->zsh) > 0);
		assert_true(check_completion(tables[i], FISH, d->fish) > 0);
		assert_true(check_bash_behaviour(tables[i]) > 0);
	}
}

/* The words that open each tag of a .TP list, as " a b c ". */
static char *first_words(const char *tags)
{
	char **lines = split_lines(tags);
	struct dcv_buf b = DCV_BUF_INIT;

	dcv_buf_addc(&b, ' ');
	for (int i = 0; lines[i]; i++)
		dcv_buf_addf(&b, "%.*s ", (int)strcspn(lines[i], " "), lines[i]);
	free_lines(lines);
	return dcv_buf_detach(&b);
}

/* The shown text of a roff document, line by line. */
static char *roff_shown(char **lines, int from, int to, bool only_ex)
{
	struct dcv_buf b = DCV_BUF_INIT;
	bool in = !only_ex;

	for (int j = from; j < to && lines[j]; j++) {
		if (only_ex && (strcmp(lines[j], ".EX") == 0 || strcmp(lines[j], ".EE") == 0)) {
			in = lines[j][2] == 'X';
			continue;
		}
		if (in) {
			char *t = roff_plain(lines[j]);
			dcv_buf_addf(&b, "%s\n", t);
			free(t);
		}
	}
	return dcv_buf_detach(&b);
}

static int parse_text(const char *text, const char *name, struct dcv_inventory **inv,
		      struct dcv_err *err)
{
	FILE *f = fmemopen((void *)text, strlen(text), "r");
	int rc;

	assert_non_null(f);
	rc = dcv_inventory_parse(f, name, "/home/op", inv, err);
	fclose(f);
	return rc;
}

/* dcvctl.conf.5 documents exactly the keys of keys[] in lib/inventory.c, and every section. */
static void test_cli_conf5_documents_every_key(void **state)
{
	struct docs *d = *state;
	char **lines = split_lines(d->man5);
	const char *keys = strstr(d->inventory_c, "keys[] = {"), *end;
	struct dcv_buf known = DCV_BUF_INIT;
	int from, to, n_keys = 0, bad = 0;

	assert_non_null(keys);
	end = strstr(keys, "};");
	assert_true(section(lines, ".SH SECTIONS AND KEYS", &from, &to));
	char *tags = man_tags(lines, from, to), *documented = first_words(tags);
	dcv_buf_addc(&known, ' ');
	for (const char *s = keys; (s = strstr(s, "{ \"")) && s < end; n_keys++) {
		s += 3;
		char *key = xasprintf(" %.*s ", (int)strcspn(s, "\""), s);
		if (!strstr(documented, key))
			bad += problem("dcvctl.conf.5: key '%.*s' has no .TP item", (int)strlen(key) - 2, key + 1);
		dcv_buf_adds(&known, key + 1);
		free(key);
	}
	assert_true(n_keys > 20);
	for (char *w = strtok(documented, " "); w; w = strtok(NULL, " ")) {
		char *key = xasprintf(" %s ", w);
		if (!strstr(dcv_buf_str(&known), key))
			bad += problem("dcvctl.conf.5: documents '%s', which lib/inventory.c does not know", w);
		free(key);
	}
	for (int i = 0; dcv_inventory_sections[i]; i++) {
		char *head = xasprintf(".SS [%s", dcv_inventory_sections[i]);
		char *quoted = xasprintf(".SS \"[%s", dcv_inventory_sections[i]);
		bool found = false;
		for (int j = from; j < to; j++)
			found |= strncmp(lines[j], head, strlen(head)) == 0 ||
				 strncmp(lines[j], quoted, strlen(quoted)) == 0;
		if (!found)
			bad += problem("dcvctl.conf.5: no '.SS [%s' subsection", dcv_inventory_sections[i]);
		free(head);
		free(quoted);
	}
	dcv_buf_release(&known);
	free(documented);
	free(tags);
	free_lines(lines);
	assert_int_equal(bad, 0);
}

static void test_cli_conf5_example_parses(void **state)
{
	struct docs *d = *state;
	char **lines = split_lines(d->man5);
	struct dcv_inventory *inv = NULL;
	struct dcv_err err = DCV_ERR_INIT;
	int from, to;

	assert_true(section(lines, ".SH EXAMPLE", &from, &to));
	char *example = roff_shown(lines, from, to, true);
	if (parse_text(example, "EXAMPLE", &inv, &err) != DCV_OK)
		fail_msg("the EXAMPLE of dcvctl.conf.5 does not parse: %s", err.msg);
	assert_int_equal(inv->n_hosts, 4);
	assert_string_equal(dcv_inventory_host(inv, "dcv2")->jump->name, "bastion");
	assert_string_equal(dcv_inventory_host(inv, "dcv1")->session_name, "Ubuntu Desktop");
	assert_string_equal(dcv_inventory_host(inv, "gateway")->ssh_host, "198.18.0.10");
	dcv_inventory_free(inv);
	free(example);
	free_lines(lines);
}

/* The message and the line limit the page quotes are the parser's. */
static void test_cli_conf5_quotes_the_parser(void **state)
{
	struct docs *d = *state;
	char **lines = split_lines(d->man5);
	char *man5 = roff_shown(lines, 0, INT_MAX, false);
	struct dcv_inventory *inv = NULL;
	struct dcv_err err = DCV_ERR_INIT;
	struct dcv_buf t = DCV_BUF_INIT;

	for (int j = 0; j < 10; j++)
		dcv_buf_adds(&t, "# padding\n");
	dcv_buf_adds(&t, "[gateway]\nadress = 198.18.1.11\n");
	assert_int_equal(parse_text(dcv_buf_str(&t), "lab.conf", &inv, &err), DCV_E_CONFIG);
	if (!strstr(man5, err.msg))
		fail_msg("dcvctl.conf.5 does not quote the parser's message '%s'", err.msg);

	dcv_buf_reset(&t);
	dcv_buf_adds(&t, "[gateway]\naddress = 198.18.1.11\nuser = ec2-user\n# ");
	while (t.len < strlen("[gateway]\naddress = 198.18.1.11\nuser = ec2-user\n") + 198)
		dcv_buf_addc(&t, 'x');
	assert_int_equal(parse_text(dcv_buf_str(&t), "lab.conf", &inv, &err), DCV_OK);
	dcv_inventory_free(inv);
	dcv_buf_addc(&t, 'x');
	assert_int_equal(parse_text(dcv_buf_str(&t), "lab.conf", &inv, &err), DCV_E_CONFIG);
	assert_string_equal(err.msg, "lab.conf:4: line too long (at most 198 characters)");
	assert_non_null(strstr(man5, "A line is at most 198 characters long."));

	dcv_buf_release(&t);
	free(man5);
	free_lines(lines);
}

/* ---- tests: cli_parse ---- */

struct t_vars {
	const char *name;
	bool flag;
	int verbose;
	long count, wait_ms;
	struct cli_list tags;
	int mode;
};

static const char *const t_modes[] = { "fast", "slow", "careful", NULL };

static const struct dcv_opt t_opts[] = {
	CLI_STRING(struct t_vars, name, 'n', "name", "NAME", "a value"),
	CLI_BOOL(struct t_vars, flag, 'f', "flag", "a flag"),
	CLI_COUNT(struct t_vars, verbose, 'v', "verbose", "may repeat"),
	CLI_INT(struct t_vars, count, 0, "count", "N", 1, 10, "a number from 1 to 10"),
	CLI_DURATION(struct t_vars, wait_ms, 0, "wait", "DUR", 1, "a duration above 0"),
	CLI_LIST(struct t_vars, tags, 't', "tag", "TAG", "repeatable"),
	CLI_ENUM(struct t_vars, mode, 0, "mode", "MODE", t_modes, "fast, slow or careful"),
	CLI_END,
};

static const struct dcv_cmd t_cmd = {
	.name = "frob",
	.summary = "a command for tests",
	.usage = "frob [-fv] [--name NAME] ARG... [-- REST...]",
	.opts = t_opts,
	.max_args = CLI_ARGS_MANY,
};

/* Output of fd 1 or 2 while a parse runs. */
struct capture {
	int fd, saved;
	FILE *tmp;
};

static void capture_start(struct capture *c, int fd)
{
	fflush(stdout);
	fflush(stderr);
	c->fd = fd;
	c->tmp = tmpfile();
	assert_non_null(c->tmp);
	c->saved = dup(fd);
	dup2(fileno(c->tmp), fd);
}

static char *capture_end(struct capture *c)
{
	struct dcv_buf b = DCV_BUF_INIT;
	char chunk[1024];
	size_t n;

	fflush(stdout);
	fflush(stderr);
	dup2(c->saved, c->fd);
	close(c->saved);
	rewind(c->tmp);
	while ((n = fread(chunk, 1, sizeof(chunk), c->tmp)) > 0)
		dcv_buf_add(&b, chunk, n);
	fclose(c->tmp);
	return dcv_buf_detach(&b);
}

/* What a parse leaves in the variables, before any option: the defaults a command sets. */
static struct t_vars v;

/* cli_parse of NULL-terminated words after "frob" into `v` (reset to its defaults); stdout and
 * stderr captured. */
static int parse(struct cli_args *a, char **out, char **errs, ...)
{
	static char *argv[32];
	struct capture co, ce;
	va_list ap;
	int argc = 0, rc;

	argv[argc++] = "frob";
	va_start(ap, errs);
	for (char *w; (w = va_arg(ap, char *)) && argc < 31;)
		argv[argc++] = w;
	va_end(ap);
	argv[argc] = NULL;
	capture_start(&co, STDOUT_FILENO);
	capture_start(&ce, STDERR_FILENO);
	v = (struct t_vars){ .count = 5, .wait_ms = 1000, .mode = -1 };
	rc = cli_parse(&t_cmd, argc, argv, a, &v);
	*errs = capture_end(&ce);
	*out = capture_end(&co);
	return rc;
}

static void test_cli_parse_long_option_with_equals(void **state)
{
	struct cli_args a;
	char *out, *err;

	(void)state;
	assert_int_equal(parse(&a, &out, &err, "--name=value", "pos", NULL), EXIT_OK);
	assert_string_equal(v.name, "value");
	assert_false(v.flag);
	assert_int_equal(a.n_pos, 1);
	assert_string_equal(a.pos[0], "pos");
	assert_false(a.has_rest);
	free(out);
	free(err);
}

static void test_cli_parse_long_option_with_next_word(void **state)
{
	struct cli_args a;
	char *out, *err;

	(void)state;
	assert_int_equal(parse(&a, &out, &err, "pos", "--name", "value", NULL), EXIT_OK);
	assert_string_equal(v.name, "value");
	assert_int_equal(a.n_pos, 1);
	assert_string_equal(a.pos[0], "pos");
	free(out);
	free(err);
}

static void test_cli_parse_short_option_value(void **state)
{
	struct cli_args a;
	char *out, *err;

	(void)state;
	assert_int_equal(parse(&a, &out, &err, "-n", "value", NULL), EXIT_OK);
	assert_string_equal(v.name, "value");
	assert_int_equal(a.n_pos, 0);
	free(out);
	free(err);
	assert_int_equal(parse(&a, &out, &err, "-nvalue", NULL), EXIT_OK);
	assert_string_equal(v.name, "value");
	free(out);
	free(err);
}

static void test_cli_parse_combined_short_flags(void **state)
{
	struct cli_args a;
	char *out, *err;

	(void)state;
	assert_int_equal(parse(&a, &out, &err, "-fv", "-vn", "x", "arg", NULL), EXIT_OK);
	assert_true(v.flag);
	assert_int_equal(v.verbose, 2);
	assert_string_equal(v.name, "x");
	assert_int_equal(a.n_pos, 1);
	assert_string_equal(a.pos[0], "arg");
	free(out);
	free(err);
}

static void test_cli_parse_rest_after_double_dash(void **state)
{
	struct cli_args a;
	char *out, *err;

	(void)state;
	assert_int_equal(parse(&a, &out, &err, "host", "--", "-f", "--name", "--help", NULL), EXIT_OK);
	assert_int_equal(a.n_pos, 1);
	assert_string_equal(a.pos[0], "host");
	assert_true(a.has_rest);
	assert_int_equal(a.n_rest, 3);
	assert_string_equal(a.rest[0], "-f");
	assert_string_equal(a.rest[2], "--help");
	assert_false(v.flag);
	assert_null(v.name);
	free(out);
	free(err);
}

static void test_cli_parse_unknown_option_suggests(void **state)
{
	struct cli_args a;
	char *out, *err;

	(void)state;
	assert_int_equal(parse(&a, &out, &err, "--nmae", "x", NULL), EXIT_USAGE);
	assert_non_null(strstr(err, "unknown option '--nmae' (did you mean '--name'?)"));
	assert_non_null(strstr(err, "usage: dcvctl frob"));
	assert_string_equal(out, "");
	free(out);
	free(err);
	assert_int_equal(parse(&a, &out, &err, "--fleg=1", NULL), EXIT_USAGE);
	assert_non_null(strstr(err, "did you mean '--flag'?"));
	free(out);
	free(err);
	assert_int_equal(parse(&a, &out, &err, "-fx", NULL), EXIT_USAGE);
	assert_non_null(strstr(err, "unknown option '-x'"));
	free(out);
	free(err);
}

static void test_cli_parse_missing_value_is_usage_error(void **state)
{
	struct cli_args a;
	char *out, *err;

	(void)state;
	assert_int_equal(parse(&a, &out, &err, "--name", NULL), EXIT_USAGE);
	assert_non_null(strstr(err, "option '--name' needs a value (NAME)"));
	free(out);
	free(err);
	assert_int_equal(parse(&a, &out, &err, "-fn", NULL), EXIT_USAGE);
	assert_non_null(strstr(err, "option '-n' needs a value (NAME)"));
	free(out);
	free(err);
	assert_int_equal(parse(&a, &out, &err, "--flag=yes", NULL), EXIT_USAGE);
	assert_non_null(strstr(err, "option '--flag' takes no value"));
	free(out);
	free(err);
}

static void test_cli_parse_help_returns_minus_one(void **state)
{
	struct cli_args a;
	char *out, *err;

	(void)state;
	assert_int_equal(parse(&a, &out, &err, "pos", "--help", NULL), -1);
	assert_non_null(strstr(out, "usage: dcvctl frob [-fv] [--name NAME] ARG... [-- REST...]"));
	assert_non_null(strstr(out, "--name NAME"));
	free(out);
	free(err);
	assert_int_equal(parse(&a, &out, &err, "-h", NULL), -1);
	assert_non_null(strstr(out, "usage: dcvctl frob"));
	free(out);
	free(err);
}

static void test_cli_parse_typed_values_fill_their_variables(void **state)
{
	struct cli_args a;
	char *out, *err;

	(void)state;
	assert_int_equal(parse(&a, &out, &err, "--count", "7", "--wait=2m", "-ta", "--tag", "b", "--mode=slow", NULL),
			 EXIT_OK);
	assert_int_equal(v.count, 7);
	assert_int_equal(v.wait_ms, 120000);
	assert_int_equal(v.tags.n, 2);
	assert_string_equal(v.tags.v[0], "a");
	assert_string_equal(v.tags.v[1], "b");
	assert_int_equal(v.mode, 1);
	assert_null(v.name);
	free(out);
	free(err);
	/* options not given keep the defaults the command set */
	assert_int_equal(parse(&a, &out, &err, "--name", "x", "--name", "y", NULL), EXIT_OK);
	assert_int_equal(v.count, 5);
	assert_int_equal(v.wait_ms, 1000);
	assert_int_equal(v.mode, -1);
	assert_int_equal(v.tags.n, 0);
	assert_string_equal(v.name, "y"); /* the last one wins */
	free(out);
	free(err);
}

/* A value of the wrong type is a usage error naming the option, and nothing runs on it. */
static void test_cli_parse_type_errors_name_the_option(void **state)
{
	static const struct {
		const char *words[3];
		const char *says;
	} cases[] = {
		{ { "--count", "abc" }, "bad value 'abc' for --count (a whole number from 1 to 10)" },
		{ { "--count=11" }, "bad value '11' for --count" },
		{ { "--count=0" }, "bad value '0' for --count" },
		{ { "--wait", "abc" }, "bad duration 'abc' for --wait" },
		{ { "--wait=0s" }, "bad duration '0s' for --wait" },
		{ { "--wait=-5s" }, "bad duration '-5s' for --wait" },
		{ { "--mode", "sloow" }, "bad value 'sloow' for --mode (did you mean 'slow'? expected fast, slow or careful)" },
		{ { "--mode=xyzzy" }, "bad value 'xyzzy' for --mode (expected fast, slow or careful)" },
	};
	struct cli_args a;
	char *out, *err;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc = parse(&a, &out, &err, cases[i].words[0], cases[i].words[1], NULL);
		if (rc != EXIT_USAGE || !strstr(err, cases[i].says) || !strstr(err, "usage: dcvctl frob"))
			fail_msg("'%s %s' returns %d and says: %s", cases[i].words[0],
				 cases[i].words[1] ? cases[i].words[1] : "", rc, err);
		free(out);
		free(err);
	}
}

static void test_cli_parse_repeated_list_is_bounded(void **state)
{
	char *argv[2 + 2 * (CLI_MAX_REPEAT + 1)];
	struct cli_args a;
	struct capture ce;
	int argc = 0, rc;

	(void)state;
	argv[argc++] = "frob";
	for (int i = 0; i <= CLI_MAX_REPEAT; i++) {
		argv[argc++] = "-t";
		argv[argc++] = "x";
	}
	argv[argc] = NULL;
	capture_start(&ce, STDERR_FILENO);
	v = (struct t_vars){ 0 };
	rc = cli_parse(&t_cmd, argc, argv, &a, &v);
	char *err = capture_end(&ce);
	assert_int_equal(rc, EXIT_USAGE);
	assert_non_null(strstr(err, "option '--tag' given more than 32 times"));
	assert_int_equal(v.tags.n, CLI_MAX_REPEAT);
	free(err);
}

/* ---- tests: main's dispatch ---- */

static int run_main(char **out, char **errs, ...)
{
	static char *argv[16];
	struct capture co, ce;
	va_list ap;
	int argc = 0, rc;

	argv[argc++] = "dcvctl";
	va_start(ap, errs);
	for (char *w; (w = va_arg(ap, char *)) && argc < 15;)
		argv[argc++] = w;
	va_end(ap);
	argv[argc] = NULL;
	capture_start(&co, STDOUT_FILENO);
	capture_start(&ce, STDERR_FILENO);
	rc = dcvctl_main(argc, argv);
	*errs = capture_end(&ce);
	*out = capture_end(&co);
	return rc;
}

static void test_cli_main_unknown_command_suggests(void **state)
{
	char *out, *err;

	(void)state;
	assert_int_equal(run_main(&out, &err, "hots", NULL), EXIT_USAGE);
	assert_non_null(strstr(err, "unknown command 'hots' (did you mean 'hosts'?)"));
	free(out);
	free(err);
	assert_int_equal(run_main(&out, &err, "help", "servise", NULL), EXIT_USAGE);
	assert_non_null(strstr(err, "did you mean 'service'?"));
	free(out);
	free(err);
}

static void test_cli_main_every_command_has_help(void **state)
{
	struct entry e[MAX_ENTRIES];
	int n = flatten(dcv_commands, e);
	char *out, *err;

	(void)state;
	for (int i = 0; i < n; i++) {
		/* `help --help` shows the global help, which is what one asks help for */
		char *want = e[i].cmd == &dcv_cmd_help ? xasprintf("usage: %s\n", dcv_global_usage)
						       : xasprintf("usage: dcvctl %s\n", e[i].cmd->usage);
		int rc = e[i].parent ? run_main(&out, &err, e[i].parent->name, e[i].cmd->name, "--help", NULL)
				     : run_main(&out, &err, e[i].path, "--help", NULL);
		if (rc != EXIT_OK || !strstr(out, want))
			fail_msg("'dcvctl %s --help' exits %d and prints '%s'", e[i].path, rc, out);
		free(want);
		free(out);
		free(err);
	}
}

/* Run dcvctl in a child, as the binary would run: a crash shows as a signal, not as a failed
 * assertion in this process. Returns the wait status; *err gets the first of stderr. */
static int run_child(char *const *argv, char *err, size_t el)
{
	int p[2], status = 0;
	pid_t pid;
	ssize_t n;
	size_t got = 0;

	assert_int_equal(pipe(p), 0);
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int argc = 0;
		dup2(p[1], STDERR_FILENO);
		dup2(open("/dev/null", O_WRONLY), STDOUT_FILENO);
		close(p[0]);
		while (argv[argc])
			argc++;
		_exit(dcvctl_main(argc, (char **)argv));
	}
	close(p[1]);
	while (got + 1 < el && (n = read(p[0], err + got, el - 1 - got)) > 0)
		got += (size_t)n;
	err[got] = '\0';
	close(p[0]);
	waitpid(pid, &status, 0);
	return status;
}

static void expect_usage(char *const *argv, const char *what)
{
	char err[4096];
	int st = run_child(argv, err, sizeof(err));

	if (WIFSIGNALED(st))
		fail_msg("'%s' died with signal %d", what, WTERMSIG(st));
	if (!WIFEXITED(st) || WEXITSTATUS(st) != EXIT_USAGE)
		fail_msg("'%s' exits %d, not %d (usage): %s", what, WEXITSTATUS(st), EXIT_USAGE, err);
	if (!strstr(err, "usage: dcvctl "))
		fail_msg("'%s' prints no usage line: %s", what, err);
}

/* Every command and subcommand, given one argument more than it takes or an option it does
 * not have, exits 2 with a usage line: never a signal, never a run. */
static void test_cli_stray_argument_and_unknown_option_are_usage_errors(void **state)
{
	struct entry e[MAX_ENTRIES];
	int n = flatten(dcv_commands, e);

	(void)state;
	for (int i = 0; i < n; i++) {
		char *argv[16];
		char what[256];
		int k = 0, base;

		if (e[i].cmd == &dcv_cmd_help)
			continue; /* help takes any word and explains it */
		argv[k++] = "dcvctl";
		argv[k++] = "-c";
		argv[k++] = "/nonexistent/dcvctl.conf"; /* a run that got past parsing exits 3 */
		if (e[i].parent)
			argv[k++] = (char *)e[i].parent->name;
		argv[k++] = (char *)e[i].cmd->name;
		base = k;
		argv[k++] = "--no-such-option";
		argv[k] = NULL;
		snprintf(what, sizeof(what), "dcvctl %s --no-such-option", e[i].path);
		expect_usage(argv, what);
		if (!e[i].runnable || e[i].cmd->max_args >= CLI_ARGS_MANY)
			continue;
		k = base;
		if (strcmp(e[i].path, "cert generate") == 0) {
			argv[k++] = "--out";
			argv[k++] = "d";
		}
		for (int a = 0; a < e[i].cmd->max_args; a++)
			argv[k++] = "nginx";
		argv[k++] = "stray";
		argv[k] = NULL;
		snprintf(what, sizeof(what), "dcvctl %s with %d argument(s) and a stray one", e[i].path,
			 e[i].cmd->max_args);
		expect_usage(argv, what);
	}
}

/* Every option of every command (and every global one) says what it fills: a flag takes no
 * value, a valued option names its metavariable, an enum lists its choices. */
static int option_problems(const char *where, const struct dcv_opt *o)
{
	bool flag = o->type == CLI_T_BOOL || o->type == CLI_T_COUNT;

	if (o->type < CLI_T_BOOL || o->type > CLI_T_ENUM)
		return problem("%s --%s: no type (declare it with CLI_BOOL, CLI_STRING, ...)", where, o->name);
	if (flag != !o->arg)
		return problem("%s --%s: %s", where, o->name, flag ? "a flag with a value" : "a value without a name");
	if (o->type == CLI_T_ENUM && (!o->choices || !o->choices[0]))
		return problem("%s --%s: an enum without choices", where, o->name);
	if (o->type == CLI_T_INT && o->min > o->max)
		return problem("%s --%s: an empty range", where, o->name);
	return 0;
}

static void test_cli_every_option_is_bound(void **state)
{
	struct entry e[MAX_ENTRIES];
	int n = flatten(dcv_commands, e), bad = 0;

	(void)state;
	/* the check itself catches an option declared the old way, without a binding */
	fputs("  (the problem below is expected)\n", stderr);
	assert_int_equal(option_problems("test", &(struct dcv_opt){ "wobble", 'w', "DUR", "not bound" }), 1);
	for (int i = 0; i < n; i++)
		for (int k = 0; e[i].cmd->opts && e[i].cmd->opts[k].name; k++)
			bad += option_problems(e[i].path, &e[i].cmd->opts[k]);
	for (int k = 0; global_opts[k].name; k++)
		bad += option_problems("global", &global_opts[k]);
	for (int k = 0; after_command_opts[k].name; k++)
		bad += option_problems("after the command", &after_command_opts[k]);
	if (bad)
		fail_msg("%d option(s) not bound", bad);
}

/* The real commands' typed options: a value of the wrong type exits 2 with a usage line and a
 * message naming the option, before the inventory is even read. */
static void test_cli_commands_refuse_badly_typed_values(void **state)
{
	static const struct {
		const char *words[6];
		const char *says;
	} cases[] = {
		{ { "check", "--format", "xml" }, "bad value 'xml' for --format" },
		{ { "check", "--format=jsn" }, "did you mean 'json'?" },
		{ { "check", "--interval", "abc" }, "bad duration 'abc' for --interval" },
		{ { "check", "--interval=0" }, "bad duration '0' for --interval" },
		{ { "check", "--hold", "soon" }, "bad duration 'soon' for --hold" },
		{ { "check", "--json", "--format", "tap" }, "--json and --format tap disagree" },
		{ { "probe", "ws", "--interval", "0s" }, "bad duration '0s' for --interval" },
		{ { "probe", "http", "--timeout=forever" }, "bad duration 'forever' for --timeout" },
		{ { "cert", "generate", "--out", "d", "--days", "0" }, "bad value '0' for --days (a whole number from 1 to 3650)" },
		{ { "cert", "generate", "--days=many" }, "bad value 'many' for --days" },
		{ { "exec", "--timeout", "x", "gw", "--", "true" }, "bad duration 'x' for --timeout" },
		{ { "deploy", "--serial", "0" }, "--serial 0: expected a number of agents (1 or more) or a percentage" },
		{ { "deploy", "--serial=5x" }, "--serial 5x: expected a number of agents" },
		{ { "deploy", "--serial", "120%" }, "--serial 120%: expected" },
		{ { "deploy", "--serial", "2", "--max-fail", "150%" }, "--max-fail 150%: expected a percentage from 0% to 100%" },
		{ { "deploy", "--max-fail=-1" }, "--max-fail -1: expected a percentage" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *argv[16], what[256] = "dcvctl", err[4096];
		int k = 0;

		argv[k++] = "dcvctl";
		argv[k++] = "-c";
		argv[k++] = "/nonexistent/dcvctl.conf"; /* a run that got past parsing exits 3 */
		for (int w = 0; w < 6 && cases[i].words[w]; w++) {
			argv[k++] = (char *)cases[i].words[w];
			snprintf(what + strlen(what), sizeof(what) - strlen(what), " %s", cases[i].words[w]);
		}
		argv[k] = NULL;
		int st = run_child(argv, err, sizeof(err));
		if (WIFSIGNALED(st))
			fail_msg("'%s' died with signal %d", what, WTERMSIG(st));
		if (WEXITSTATUS(st) != EXIT_USAGE || !strstr(err, "usage: dcvctl ") || !strstr(err, cases[i].says))
			fail_msg("'%s' exits %d and says: %s (wanted 2 and '%s')", what, WEXITSTATUS(st), err,
				 cases[i].says);
	}
}

static void test_cli_main_global_options(void **state)
{
	char *out, *err;

	(void)state;
	assert_int_equal(run_main(&out, &err, "-v", "-q", "version", NULL), EXIT_USAGE);
	free(out);
	free(err);
	assert_int_equal(run_main(&out, &err, "--color=sometimes", "version", NULL), EXIT_USAGE);
	assert_non_null(strstr(err, "auto, always or never"));
	free(out);
	free(err);
	assert_int_equal(run_main(&out, &err, "-c", NULL), EXIT_USAGE);
	free(out);
	free(err);
	assert_int_equal(run_main(&out, &err, NULL), EXIT_USAGE);
	assert_non_null(strstr(err, dcv_global_usage));
	free(out);
	free(err);
	assert_int_equal(run_main(&out, &err, "--help", NULL), EXIT_OK);
	assert_non_null(strstr(out, dcv_global_usage));
	free(out);
	free(err);
	assert_int_equal(run_main(&out, &err, "--color", "never", "--version", NULL), EXIT_OK);
	assert_non_null(strstr(out, "dcvctl " DCV_VERSION));
	free(out);
	free(err);
	/* the global table also follows the command, through the same parser */
	assert_int_equal(run_main(&out, &err, "version", "-vq", NULL), EXIT_USAGE);
	assert_non_null(strstr(err, "-v and -q cannot be used together"));
	assert_non_null(strstr(err, "usage: dcvctl version"));
	free(out);
	free(err);
	assert_int_equal(run_main(&out, &err, "version", "--color=sometimes", NULL), EXIT_USAGE);
	assert_non_null(strstr(err, "bad value 'sometimes' for --color (expected auto, always or never)"));
	free(out);
	free(err);
	assert_int_equal(run_main(&out, &err, "--colr=never", "version", NULL), EXIT_USAGE);
	assert_non_null(strstr(err, "unknown global option '--colr=never' (did you mean '--color'?)"));
	free(out);
	free(err);
	assert_int_equal(run_main(&out, &err, "-q", "version", "--json", NULL), EXIT_OK);
	assert_non_null(strstr(out, "\"version\""));
	free(out);
	free(err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cli_table_sorted_unique),
		cmocka_unit_test(test_cli_man_synopsis_has_every_usage),
		cmocka_unit_test(test_cli_man_documents_every_command_and_option),
		cmocka_unit_test(test_cli_completions_name_every_command_and_option),
		cmocka_unit_test(test_cli_bash_offers_the_table),
		cmocka_unit_test(test_cli_bash_completes_inventory_hosts),
		cmocka_unit_test(test_cli_checks_catch_undocumented),
		cmocka_unit_test(test_cli_conf5_documents_every_key),
		cmocka_unit_test(test_cli_conf5_example_parses),
		cmocka_unit_test(test_cli_conf5_quotes_the_parser),
		cmocka_unit_test(test_cli_parse_long_option_with_equals),
		cmocka_unit_test(test_cli_parse_long_option_with_next_word),
		cmocka_unit_test(test_cli_parse_short_option_value),
		cmocka_unit_test(test_cli_parse_combined_short_flags),
		cmocka_unit_test(test_cli_parse_rest_after_double_dash),
		cmocka_unit_test(test_cli_parse_unknown_option_suggests),
		cmocka_unit_test(test_cli_parse_missing_value_is_usage_error),
		cmocka_unit_test(test_cli_parse_help_returns_minus_one),
		cmocka_unit_test(test_cli_parse_typed_values_fill_their_variables),
		cmocka_unit_test(test_cli_parse_type_errors_name_the_option),
		cmocka_unit_test(test_cli_parse_repeated_list_is_bounded),
		cmocka_unit_test(test_cli_commands_refuse_badly_typed_values),
		cmocka_unit_test(test_cli_every_option_is_bound),
		cmocka_unit_test(test_cli_main_unknown_command_suggests),
		cmocka_unit_test(test_cli_main_every_command_has_help),
		cmocka_unit_test(test_cli_main_global_options),
		cmocka_unit_test(test_cli_stray_argument_and_unknown_option_are_usage_errors),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
