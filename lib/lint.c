/* Lint of dcv.conf against the documented schema and of nginx configurations against the
 * defects the seed runbook shipped (design §8, reference/machine-notes.md). Pure: the caller
 * reads the files and prints the findings. */
#include "lint.h"

#include "util.h"

#include <ctype.h>
#include <fnmatch.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void dcv_findings_free(struct dcv_findings *f)
{
	if (!f)
		return;
	for (int i = 0; i < f->n; i++) {
		free(f->v[i].file);
		free(f->v[i].rule);
		free(f->v[i].msg);
	}
	free(f->v);
	f->v = NULL;
	f->n = 0;
}

static int count(const struct dcv_findings *f, enum dcv_severity s)
{
	int n = 0;

	for (int i = 0; i < f->n; i++)
		n += f->v[i].sev == s;
	return n;
}

int dcv_findings_errors(const struct dcv_findings *f)
{
	return count(f, DCV_SEV_ERROR);
}

int dcv_findings_warnings(const struct dcv_findings *f)
{
	return count(f, DCV_SEV_WARN);
}

void dcv_findings_add(struct dcv_findings *out, enum dcv_severity sev, const char *file, int line,
		      const char *rule, const char *fmt, ...)
{
	struct dcv_buf b = DCV_BUF_INIT;
	va_list ap;

	va_start(ap, fmt);
	dcv_buf_vaddf(&b, fmt, ap);
	va_end(ap);
	out->v = xrealloc(out->v, sizeof(*out->v) * (size_t)(out->n + 1));
	out->v[out->n++] = (struct dcv_finding){ sev, xstrdup(file ? file : ""), line, xstrdup(rule),
						 dcv_buf_detach(&b) };
}


/* Position of `file` in the caller's list: findings sort by it, so they come out in the order
 * the files were given (nginx's load order), unknown names (the crontab) last. */
static int file_rank(const char *file, const char *const *names, int n)
{
	for (int i = 0; i < n; i++)
		if (strcmp(file, names[i]) == 0)
			return i;
	return n;
}

static bool same_finding(const struct dcv_finding *a, const struct dcv_finding *b)
{
	return a->line == b->line && strcmp(a->file, b->file) == 0 && strcmp(a->rule, b->rule) == 0 &&
	       strcmp(a->msg, b->msg) == 0;
}

struct ranked {
	struct dcv_finding f;
	int rank, seq;
};

static int by_place(const void *pa, const void *pb)
{
	const struct ranked *a = pa, *b = pb;

	if (a->rank != b->rank)
		return a->rank < b->rank ? -1 : 1;
	if (a->f.line != b->f.line)
		return a->f.line < b->f.line ? -1 : 1;
	return a->seq < b->seq ? -1 : a->seq > b->seq;
}

/* Stable sort of out->v[first..] by file rank then line; equal findings (a file included twice
 * reports the same line twice) collapse into one. n log n: an include expansion may repeat a
 * finding thousands of times. */
static void sort_findings(struct dcv_findings *out, int first, const char *const *names, int n)
{
	int count = out->n - first, w = first, run = first;
	struct ranked *r = xcalloc((size_t)count + 1, sizeof(*r));

	for (int i = 0; i < count; i++)
		r[i] = (struct ranked){ out->v[first + i], file_rank(out->v[first + i].file, names, n), i };
	qsort(r, (size_t)count, sizeof(*r), by_place);
	for (int i = 0; i < count; i++) {
		bool dup = false;
		if (i && (r[i].rank != r[i - 1].rank || r[i].f.line != r[i - 1].f.line))
			run = w; /* a new place: duplicates are only among one place's findings */
		for (int k = run; k < w && !dup; k++)
			dup = same_finding(&out->v[k], &r[i].f);
		if (dup) {
			free(r[i].f.file);
			free(r[i].f.rule);
			free(r[i].f.msg);
		} else {
			out->v[w++] = r[i].f;
		}
	}
	out->n = w;
	free(r);
}

/* ------------------------------------------------------------------ dcv.conf */

#define ACS "session-management/automatic-console-session"

/* reference/dcv.md §1.1 (latest docs, 2025.0), plus `administrators`, which Session Manager
 * requires although the parameter reference omits it. */
static const struct {
	const char *section;
	const char *keys[32];
} schema[] = {
	{ "audio", { "avsync-support", "source-channels" } },
	{ "clipboard", { "enabled", "max-image-area", "max-payload-size", "max-payload-size-copy",
			 "max-payload-size-paste", "max-text-len", "max-text-len-copy", "max-text-len-paste",
			 "primary-selection-copy", "primary-selection-paste", "update-timeout" } },
	{ "connectivity", { "disconnect-on-lock", "disconnect-on-logout", "enable-quic-frontend", "idle-timeout",
			    "idle-timeout-warning", "quic-listen-endpoints", "quic-port", "web-extra-http-headers",
			    "web-listen-endpoints", "web-port", "web-root", "web-url-path", "web-use-hsts",
			    "web-x-frame-options", "ws-keepalive-interval" } },
	{ "display", { "console-session-default-layout", "cuda-devices", "enable-client-resize", "enable-qu",
		       "enable-yuv444-encoding", "grabber-target-fps", "max-compressor-threads",
		       "max-head-resolution", "max-layout-area", "max-num-heads", "min-head-resolution",
		       "target-fps", "use-grabber-dirty-region", "web-client-max-head-resolution" } },
	{ "display/linux", { "disable-local-console", "enable-console-scaling", "gl-displays" } },
	{ "extensions", { "enabled" } },
	{ "input", { "enable-autorepeat", "enable-gamepad", "enable-relative-mouse", "enable-stylus",
		     "enable-touch", "use-server-keyboard-layout" } },
	{ "license", { "license-file" } },
	{ "log", { "directory", "enable-image-audit", "level", "max-file-size", "rotate", "rotation-interval",
		   "rotation-suffix", "transfer-audit" } },
	{ "printer", { "file-printer-name", "use-default-printer" } },
	{ "redirection", { "enable-timezone-redirection" } },
	{ "security", { "administrators", "allowed-http-host-regex", "allowed-ws-origin-regex",
			"auth-connection-setup-timeout", "auth-token-verifier", "auth-token-verifier-timeout",
			"authentication", "authentication-threshold", "ca-file", "certificate-to-user-file",
			"ciphers", "connection-estab-timeout", "connection-setup-timeout", "crl-file",
			"enable-gssapi", "max-connections-per-user", "no-tls-strict", "os-auto-lock",
			"pam-service-name", "passwd-file", "server-fqdn", "service-name", "supervision-control",
			"user-realm" } },
	{ "session-management", { "create-session", "enable-gl-in-virtual-sessions", "max-concurrent-clients",
				  "max-concurrent-sessions", "max-sessions-per-user", "performance-profile",
				  "virtual-session-default-layout", "virtual-session-font-path",
				  "virtual-session-source-profile", "virtual-session-xdcv-args" } },
	{ ACS, { "client-eviction-policy", "max-concurrent-clients", "owner", "permissions-file", "storage-root" } },
	{ "session-management/defaults", { "permissions-file" } },
	{ "smartcard", { "enable-cache" } },
	{ "webauthn", { "enabled" } },
	{ "webcam", { "max-resolution", "preferred-resolution" } },
	{ "windows", { "disable-display-sleep", "printer" } },
};

#define N_SECTIONS (sizeof(schema) / sizeof(schema[0]))

/* Keys that runbooks use but dcv.conf does not have, with what does the job (reference §1.2). */
static const struct {
	const char *key;
	const char *instead;
} not_keys[] = {
	{ "enable-broker", "broker integration is [security] auth-token-verifier" },
	{ "enable-gateway", "that is a Session Manager broker property, not a dcv.conf key" },
	{ "tls-certificate", "dcvserver always uses /etc/dcv/dcv.pem" },
	{ "tls-private-key", "dcvserver always uses /etc/dcv/dcv.key" },
};

static int section_index(const char *section)
{
	for (size_t i = 0; i < N_SECTIONS; i++)
		if (strcmp(schema[i].section, section) == 0)
			return (int)i;
	return -1;
}

bool dcv_dcvconf_known(const char *section, const char *key)
{
	int s = section && key ? section_index(section) : -1;

	for (int k = 0; s >= 0 && schema[s].keys[k]; k++)
		if (strcmp(schema[s].keys[k], key) == 0)
			return true;
	return false;
}

/* One `key = value` line, with the section it sits in. */
struct kv {
	int line;
	char *section; /* NULL before the first header */
	char *key;
	char *value;   /* surrounding quotes removed */
};

struct kvs {
	struct kv *v;
	int n;
};

static char *trim(char *s)
{
	size_t n = strlen(s);

	while (n && isspace((unsigned char)s[n - 1]))
		s[--n] = '\0';
	while (isspace((unsigned char)*s))
		s++;
	return s;
}

static char *unquote(char *v)
{
	size_t n = strlen(v);

	if (n >= 2 && (v[0] == '"' || v[0] == '\'') && v[n - 1] == v[0]) {
		v[n - 1] = '\0';
		return v + 1;
	}
	return v;
}

/* The nearest documented name when it is a plausible typo, as " (did you mean 'x'?)". */
static void did_you_mean(struct dcv_buf *b, const char *word, const char *const *cands, size_t n,
			 const char *open, const char *close)
{
	const char *near = dcv_nearest(word, cands, n);

	if (near)
		dcv_buf_addf(b, " (did you mean %s%s%s?)", open, near, close);
}

static void unknown_section(struct dcv_findings *out, const char *file, int line, const char *section)
{
	const char *names[N_SECTIONS];
	struct dcv_buf why = DCV_BUF_INIT;

	for (size_t i = 0; i < N_SECTIONS; i++)
		names[i] = schema[i].section;
	did_you_mean(&why, section, names, N_SECTIONS, "[", "]");
	dcv_findings_add(out, DCV_SEV_ERROR, file, line, "dcv.unknown-section",
		"unknown section [%s]: dcv.conf has no such section, so none of its keys take effect%s", section,
		dcv_buf_str(&why));
	dcv_buf_release(&why);
}

static void unknown_key(struct dcv_findings *out, const char *file, const struct kv *e)
{
	const char *cands[32];
	const char *elsewhere = NULL;
	struct dcv_buf why = DCV_BUF_INIT;
	size_t n = 0;
	int s = section_index(e->section);

	for (int k = 0; schema[s].keys[k]; k++)
		cands[n++] = schema[s].keys[k];
	for (size_t i = 0; i < N_SECTIONS && !elsewhere; i++)
		if (dcv_dcvconf_known(schema[i].section, e->key))
			elsewhere = schema[i].section;
	for (size_t i = 0; i < sizeof(not_keys) / sizeof(not_keys[0]); i++)
		if (strcmp(not_keys[i].key, e->key) == 0)
			dcv_buf_addf(&why, "; %s", not_keys[i].instead);
	if (elsewhere)
		dcv_buf_addf(&why, "; it belongs in [%s]", elsewhere);
	else
		did_you_mean(&why, e->key, cands, n, "'", "'");
	dcv_findings_add(out, DCV_SEV_ERROR, file, e->line, "dcv.unknown-key",
		"unknown key '%s' in [%s]: dcv.conf has no such key%s", e->key, e->section, dcv_buf_str(&why));
	dcv_buf_release(&why);
}

/* Read the INI text into key lines; headers, stray lines and keys outside any section are
 * reported here because the key rules never see them. */
static void read_ini(const char *text, const char *file, struct kvs *kv, struct dcv_findings *out)
{
	const char *p = text ? text : "";
	char *section = NULL;
	bool section_known = true, reported_bare = false;
	int line = 0;

	if (strncmp(p, "\xef\xbb\xbf", 3) == 0)
		p += 3;
	while (*p) {
		size_t len = strcspn(p, "\n");
		char *raw = xstrndup(p, len), *l = trim(raw);

		p += len + (p[len] == '\n');
		line++;
		if (!*l || *l == '#' || *l == ';') {
			free(raw);
			continue;
		}
		if (*l == '[') {
			char *close = strchr(l, ']');
			free(section);
			section = NULL;
			section_known = false;
			if (!close || *trim(close + 1)) {
				dcv_findings_add(out, DCV_SEV_ERROR, file, line, "dcv.syntax",
					"malformed section header '%s': a header is [name] alone on its line", l);
			} else {
				*close = '\0';
				bool padded = isspace((unsigned char)l[1]) ||
					      (close > l + 1 && isspace((unsigned char)close[-1]));
				char *name = trim(l + 1);
				if (padded)
					dcv_findings_add(out, DCV_SEV_WARN, file, line, "dcv.section-spaces",
						"section header has spaces inside the brackets: GLib's key-file parser, "
						"which DCV's settings follow, keeps them in the name, so dcvserver may not "
						"read it as [%s]; write [%s] (dcvctl deploy does)", name, name);
				section = xstrdup(name);
				section_known = section_index(section) >= 0;
				if (!section_known)
					unknown_section(out, file, line, section);
			}
			free(raw);
			continue;
		}
		char *eq = strchr(l, '=');
		if (!eq || eq == l) {
			dcv_findings_add(out, DCV_SEV_ERROR, file, line, "dcv.syntax",
				"'%s' is neither [section], key = value nor a comment: it sets nothing", l);
		} else if (!section && section_known) {
			if (!reported_bare)
				dcv_findings_add(out, DCV_SEV_ERROR, file, line, "dcv.unknown-section",
					"key before any [section] header: dcv.conf keys take effect only inside a section");
			reported_bare = true;
		} else if (section_known) {
			*eq = '\0';
			kv->v = xrealloc(kv->v, sizeof(*kv->v) * (size_t)(kv->n + 1));
			kv->v[kv->n++] = (struct kv){ line, xstrdup(section), xstrdup(trim(l)),
						      xstrdup(unquote(trim(eq + 1))) };
		}
		free(raw);
	}
	free(section);
}

static const char *kv_value(const struct kvs *kv, const char *section, const char *key)
{
	const char *v = NULL;

	for (int i = 0; i < kv->n; i++)
		if (strcmp(kv->v[i].section, section) == 0 && strcmp(kv->v[i].key, key) == 0)
			v = kv->v[i].value; /* the last one wins, as in any INI reader */
	return v;
}

static bool is_true(const char *v)
{
	return strcasecmp(v, "true") == 0 || strcmp(v, "1") == 0;
}

static void lint_security(struct dcv_findings *out, const char *file, const struct kv *e, bool bypass,
			  const struct kvs *kv)
{
	const char *verifier = kv_value(kv, "security", "auth-token-verifier");

	if (strcmp(e->key, "authentication") == 0 && strcasecmp(e->value, "none") == 0)
		dcv_findings_add(out, DCV_SEV_WARN, file, e->line, "dcv.auth-none",
			"authentication = none: anyone who reaches the port gets the desktop without logging in");
	if (strcmp(e->key, "auth-token-verifier") == 0 && *e->value && bypass)
		dcv_findings_add(out, DCV_SEV_ERROR, file, e->line, "dcv.verifier-in-bypass",
			"auth-token-verifier is set but the broker is bypassed: dcvserver sends every login to "
			"'%s', the stopped Session Manager broker, so nobody can log in", e->value);
	/* Only meaningful when an https verifier is really consulted. */
	if (strcmp(e->key, "no-tls-strict") == 0 && is_true(e->value) &&
	    (bypass || !verifier || strncasecmp(verifier, "https://", 8) != 0))
		dcv_findings_add(out, DCV_SEV_WARN, file, e->line, "dcv.no-tls-strict-pointless",
			"no-tls-strict only relaxes certificate checks on the connection to an https "
			"auth-token-verifier%s; it changes nothing for clients",
			bypass || !verifier || !*verifier ? ", and none is in use" : "");
}

void dcv_lint_dcvconf(const char *text, const char *file, bool bypass, struct dcv_findings *out)
{
	struct kvs kv = { 0 };
	int first = out->n;

	read_ini(text, file, &kv, out);
	for (int i = 0; i < kv.n; i++) {
		const struct kv *e = &kv.v[i];
		if (strcmp(e->key, "owner") == 0 && strcmp(e->section, ACS) != 0)
			dcv_findings_add(out, DCV_SEV_ERROR, file, e->line, "dcv.owner-misplaced",
				"'owner' in [%s]: dcvserver reads it only in [" ACS "], so the "
				"console session stays owned by the user running dcvserver", e->section);
		else if (!dcv_dcvconf_known(e->section, e->key))
			unknown_key(out, file, e);
		else if (strcmp(e->section, "security") == 0)
			lint_security(out, file, e, bypass, &kv);
	}
	sort_findings(out, first, NULL, 0);
	for (int i = 0; i < kv.n; i++) {
		free(kv.v[i].section);
		free(kv.v[i].key);
		free(kv.v[i].value);
	}
	free(kv.v);
}

/* ------------------------------------------------------------------ nginx syntax */

struct ngx_dir {
	char *name;
	char **args;
	int n_args;
	int line;
	int parent; /* index in the same file, -1 at its top level */
	int *incl;  /* for an include: the files it names, as indices in the caller's list */
	int n_incl;
};

struct ngx_file {
	const char *name;
	struct ngx_dir *v;
	int n;
	bool included; /* some other file includes it: not a root */
	int scc;       /* its strongly connected component in the include graph */
	bool cyclic;   /* in an include cycle */
	bool expanded; /* in the tree at least once */
};

struct words {
	char **v;
	int n;
	int line; /* of the first word */
};

static void words_clear(struct words *w)
{
	for (int i = 0; i < w->n; i++)
		free(w->v[i]);
	w->n = 0;
}

/* A word as nginx reads it: quoted ("..." or '...'), or up to a blank, ';', '{' or '}';
 * `${var}` keeps its braces and a backslash escapes the next character. */
static char *read_word(const char **pp, int *line)
{
	struct dcv_buf b = DCV_BUF_INIT;
	const char *p = *pp;
	char quote = (*p == '"' || *p == '\'') ? *p++ : 0;

	while (*p) {
		if (quote ? *p == quote : (isspace((unsigned char)*p) || strchr(";{}", *p)))
			break;
		if (*p == '\\' && p[1]) {
			char c = p[1];
			if (strchr("\"'\\", c))
				dcv_buf_addc(&b, c);
			else if (c == 't' || c == 'n' || c == 'r')
				dcv_buf_addc(&b, c == 't' ? '\t' : c == 'n' ? '\n' : '\r');
			else
				dcv_buf_add(&b, p, 2);
			p += 2;
			continue;
		}
		if (!quote && *p == '$' && p[1] == '{') {
			size_t n = strcspn(p, "}\n");
			dcv_buf_add(&b, p, n + (p[n] == '}'));
			p += n + (p[n] == '}');
			continue;
		}
		*line += *p == '\n';
		dcv_buf_addc(&b, *p++);
	}
	if (quote && *p == quote)
		p++;
	*pp = p;
	dcv_buf_addc(&b, '\0'); /* "" is a word too (`'' close;` in a map) */
	return dcv_buf_detach(&b);
}

static int add_dir(struct ngx_file *f, struct words *w, int parent)
{
	struct ngx_dir d = { w->v[0], NULL, w->n - 1, w->line, parent };

	d.args = xcalloc((size_t)w->n, sizeof(char *));
	memcpy(d.args, w->v + 1, sizeof(char *) * (size_t)(w->n - 1));
	w->n = 0; /* the directive owns the words now */
	f->v = xrealloc(f->v, sizeof(*f->v) * (size_t)(f->n + 1));
	f->v[f->n] = d;
	return f->n++;
}

/* Directives with their block nesting; unbalanced braces are tolerated (nginx -t reports them). */
static void ngx_parse(struct ngx_file *f, const char *text)
{
	struct words w = { 0 };
	int *stack = NULL, depth = 0, line = 1, cap = 0;
	const char *p = text ? text : "";

	while (*p) {
		int parent = depth ? stack[depth - 1] : -1;
		if (*p == '\n') {
			line++;
			p++;
		} else if (isspace((unsigned char)*p)) {
			p++;
		} else if (*p == '#') {
			p += strcspn(p, "\n");
		} else if (*p == ';' || *p == '{') {
			int d = w.n ? add_dir(f, &w, parent) : parent;
			if (*p == '{') {
				if (depth == cap)
					stack = xrealloc(stack, sizeof(int) * (size_t)(cap = 2 * cap + 8));
				stack[depth++] = d;
			}
			p++;
		} else if (*p == '}') {
			words_clear(&w);
			depth -= depth > 0;
			p++;
		} else {
			if (!w.n)
				w.line = line;
			w.v = xrealloc(w.v, sizeof(char *) * (size_t)(w.n + 1));
			w.v[w.n++] = read_word(&p, &line);
		}
	}
	words_clear(&w);
	free(w.v);
	free(stack);
}

static void ngx_file_release(struct ngx_file *f)
{
	for (int i = 0; i < f->n; i++) {
		free(f->v[i].name);
		for (int k = 0; k < f->v[i].n_args; k++)
			free(f->v[i].args[k]);
		free(f->v[i].args);
		free(f->v[i].incl);
	}
	free(f->v);
}

/* ------------------------------------------------------------------ nginx tree */

/* The configuration as nginx assembles it: every root file's directives, with `include`
 * replaced by the files it names, so inheritance follows nginx.conf's http block into conf.d
 * when the caller passes a whole `nginx -T` dump. Node 0 is the top. */
struct node {
	const struct ngx_file *file;
	const struct ngx_dir *d; /* NULL for the top */
	int parent, child, last, next;
};

struct tree {
	struct node *v;
	int n, cap;
	bool truncated; /* NGX_MAX_NODES reached */
};

static int add_node(struct tree *t, const struct ngx_file *f, const struct ngx_dir *d, int parent)
{
	if (t->n == t->cap)
		t->v = xrealloc(t->v, sizeof(*t->v) * (size_t)(t->cap = 2 * t->cap + 64));
	t->v[t->n] = (struct node){ f, d, parent, -1, -1, -1 };
	if (parent >= 0) {
		if (t->v[parent].last >= 0)
			t->v[t->v[parent].last].next = t->n;
		else
			t->v[parent].child = t->n;
		t->v[parent].last = t->n;
	}
	return t->n++;
}

/* Bound on the assembled configuration: files included from many places may multiply (a file
 * including another twice, down ten levels, is 1024 copies), and the files come from remote
 * hosts. Real gateway configurations are a few hundred directives. */
#define NGX_MAX_NODES 20000

/* nginx resolves a relative include against its prefix, the folder of nginx.conf; names
 * given relative (a lone file, a test) match the pattern as they are. */
static bool include_matches(const char *pattern, const char *name, const char *prefix)
{
	size_t n = strlen(prefix);

	if (fnmatch(pattern, name, FNM_PATHNAME) == 0)
		return true;
	return pattern[0] != '/' && strncmp(name, prefix, n) == 0 && name[n] == '/' &&
	       fnmatch(pattern, name + n + 1, FNM_PATHNAME) == 0;
}

/* The folder of nginx.conf when the caller passes it (an `nginx -T` dump, local files), else
 * Debian's. */
static char *conf_prefix(const struct ngx_file *files, int n)
{
	for (int i = 0; i < n; i++) {
		const char *slash = strrchr(files[i].name, '/');
		if (slash && strcmp(slash + 1, "nginx.conf") == 0)
			return xstrndup(files[i].name, (size_t)(slash - files[i].name));
	}
	return xstrdup("/etc/nginx");
}

static bool is(const struct ngx_dir *d, const char *name)
{
	return d && strcmp(d->name, name) == 0;
}

/* The include graph, matched once: every include directive learns the files it names. */
static void link_includes(struct ngx_file *files, int n)
{
	char *prefix = conf_prefix(files, n);

	for (int i = 0; i < n; i++)
		for (int k = 0; k < files[i].n; k++) {
			struct ngx_dir *d = &files[i].v[k];
			if (!is(d, "include") || d->n_args != 1)
				continue;
			for (int g = 0; g < n; g++) {
				if (!include_matches(d->args[0], files[g].name, prefix))
					continue;
				d->incl = xrealloc(d->incl, sizeof(int) * (size_t)(d->n_incl + 1));
				d->incl[d->n_incl++] = g;
				files[g].included |= g != i;
			}
		}
	free(prefix);
}

/* Tarjan's strongly connected components over the include graph. */
struct scc {
	int *index, *low, *stack;
	bool *on_stack;
	int next, sp, n_comp;
};

static void strongconnect(struct ngx_file *files, struct scc *s, int v)
{
	s->index[v] = s->low[v] = s->next++;
	s->stack[s->sp++] = v;
	s->on_stack[v] = true;
	for (int k = 0; k < files[v].n; k++)
		for (int e = 0; e < files[v].v[k].n_incl; e++) {
			int w = files[v].v[k].incl[e];
			if (s->index[w] < 0) {
				strongconnect(files, s, w);
				s->low[v] = s->low[w] < s->low[v] ? s->low[w] : s->low[v];
			} else if (s->on_stack[w] && s->index[w] < s->low[v]) {
				s->low[v] = s->index[w];
			}
		}
	if (s->low[v] != s->index[v])
		return;
	int w;
	do {
		w = s->stack[--s->sp];
		s->on_stack[w] = false;
		files[w].scc = s->n_comp;
	} while (w != v);
	s->n_comp++;
}

/* A file is in a cycle when it includes a file of its own component (itself included). */
static void find_cycles(struct ngx_file *files, int n)
{
	struct scc s = { xcalloc((size_t)n + 1, sizeof(int)), xcalloc((size_t)n + 1, sizeof(int)),
			 xcalloc((size_t)n + 1, sizeof(int)), xcalloc((size_t)n + 1, sizeof(bool)), 0, 0, 0 };

	for (int v = 0; v < n; v++)
		s.index[v] = -1;
	for (int v = 0; v < n; v++)
		if (s.index[v] < 0)
			strongconnect(files, &s, v);
	for (int v = 0; v < n; v++)
		for (int k = 0; k < files[v].n; k++)
			for (int e = 0; e < files[v].v[k].n_incl; e++)
				files[v].cyclic |= files[files[v].v[k].incl[e]].scc == files[v].scc;
	free(s.index);
	free(s.low);
	free(s.stack);
	free(s.on_stack);
}

/* One finding per cycle, at the first include that closes it, naming the files in it. */
static void lint_include_cycles(const struct ngx_file *files, int n, struct dcv_findings *out)
{
	for (int i = 0; i < n; i++) {
		bool first = files[i].cyclic;
		for (int j = 0; j < i && first; j++)
			first = !(files[j].cyclic && files[j].scc == files[i].scc);
		if (!first)
			continue;
		const struct ngx_dir *d = NULL;
		for (int k = 0; k < files[i].n && !d; k++)
			for (int e = 0; e < files[i].v[k].n_incl && !d; e++)
				if (files[files[i].v[k].incl[e]].scc == files[i].scc)
					d = &files[i].v[k];
		struct dcv_buf who = DCV_BUF_INIT;
		int members = 0, total = 0;
		for (int j = i; j < n; j++)
			total += files[j].scc == files[i].scc;
		for (int j = i; j < n && members < 4; j++)
			if (files[j].scc == files[i].scc)
				dcv_buf_addf(&who, "%s%s", !members++ ? "" : members == total ? " and " : ", ",
					     files[j].name);
		if (total > members)
			dcv_buf_addf(&who, " and %d more", total - members);
		dcv_findings_add(out, DCV_SEV_ERROR, files[i].name, d->line, "nginx.include-cycle",
			"include %s: %s %s, and nginx has no cycle check: it recurses until open() fails "
			"(too many open files) and refuses the configuration",
			d->args[0], who.data, total > 1 ? "include each other" : "includes itself");
		dcv_buf_release(&who);
	}
}

/* The file's directives under `parent`, each include replaced by the files it names, as often as
 * it is included; a file in a cycle (reported, and fatal to nginx) only once, so that its rules
 * are checked without following the cycle through every order of its files. */
static void expand(struct tree *t, struct ngx_file *files, int fi, int parent)
{
	struct ngx_file *f = &files[fi];

	if (f->cyclic && f->expanded)
		return;
	f->expanded = true;
	int *map = xcalloc((size_t)f->n + 1, sizeof(int));
	for (int i = 0; i < f->n; i++) {
		const struct ngx_dir *d = &f->v[i];
		int p = d->parent < 0 ? parent : map[d->parent];
		if (t->n >= NGX_MAX_NODES) {
			t->truncated = true;
			break;
		}
		map[i] = add_node(t, f, d, p);
		for (int e = 0; e < d->n_incl; e++)
			expand(t, files, d->incl[e], p);
	}
	free(map);
}

static void build_tree(struct tree *t, struct ngx_file *files, int n)
{
	bool any_root = false;

	add_node(t, NULL, NULL, -1);
	link_includes(files, n);
	find_cycles(files, n);
	for (int i = 0; i < n; i++)
		any_root |= !files[i].included;
	for (int i = 0; i < n; i++)
		if (!files[i].included || !any_root)
			expand(t, files, i, 0);
}

#define FOR_CHILDREN(t, b, c) for (int c = (t)->v[b].child; c >= 0; c = (t)->v[c].next)

/* The value a block sees for a simple directive: its own, else its enclosing blocks'. */
static const struct ngx_dir *inherited(const struct tree *t, int at, const char *name)
{
	for (int b = at; b >= 0; b = t->v[b].parent)
		FOR_CHILDREN(t, b, c)
			if (is(t->v[c].d, name))
				return t->v[c].d;
	return NULL;
}

/* proxy_set_header is inherited only by a level that sets none of its own. */
static const struct ngx_dir *header_set(const struct tree *t, int at, const char *header)
{
	for (int b = at; b >= 0; b = t->v[b].parent) {
		bool any = false;
		FOR_CHILDREN(t, b, c) {
			const struct ngx_dir *d = t->v[c].d;
			if (!is(d, "proxy_set_header"))
				continue;
			any = true;
			if (d->n_args >= 2 && strcasecmp(d->args[0], header) == 0)
				return d;
		}
		if (any)
			return NULL;
	}
	return NULL;
}

static const char *location_of(const struct tree *t, int at)
{
	for (int b = at; b > 0; b = t->v[b].parent)
		if (is(t->v[b].d, "location") && t->v[b].d->n_args)
			return t->v[b].d->args[t->v[b].d->n_args - 1];
	return "(server)";
}

static bool contains_ci(const char *s, const char *needle)
{
	for (size_t n = strlen(needle); *s; s++)
		if (strncasecmp(s, needle, n) == 0)
			return true;
	return false;
}

/* ------------------------------------------------------------------ nginx rules */

static void lint_proxy_pass(const struct tree *t, int i, struct dcv_findings *out)
{
	const struct ngx_dir *d = t->v[i].d, *v, *up, *conn;
	const char *file = t->v[i].file->name, *target = d->n_args ? d->args[0] : "";
	int at = t->v[i].parent;

	v = inherited(t, at, "proxy_http_version");
	if (!v || !v->n_args)
		dcv_findings_add(out, DCV_SEV_ERROR, file, d->line, "nginx.http-version",
			"proxy_pass %s without proxy_http_version 1.1: nginx speaks HTTP/1.0 to the upstream, "
			"which has no WebSocket upgrade, so DCV's web client cannot connect", target);
	else if (strcmp(v->args[0], "1.1") != 0)
		dcv_findings_add(out, DCV_SEV_ERROR, file, d->line, "nginx.http-version",
			"proxy_pass %s with proxy_http_version %s: the WebSocket upgrade needs HTTP/1.1, so DCV's "
			"web client cannot connect", target, v->args[0]);

	up = header_set(t, at, "Upgrade");
	conn = header_set(t, at, "Connection");
	if (!up || !conn)
		dcv_findings_add(out, DCV_SEV_ERROR, file, d->line, "nginx.upgrade-headers",
			"location %s proxies to %s without proxy_set_header %s: nginx does not pass the hop-by-hop "
			"Upgrade and Connection headers on its own, so the WebSocket never reaches DCV",
			location_of(t, at), target,
			!up && !conn ? "Upgrade and Connection" : !up ? "Upgrade" : "Connection");
	else if (!contains_ci(conn->args[1], "upgrade") && strcasecmp(conn->args[1], "$http_connection") != 0)
		dcv_findings_add(out, DCV_SEV_ERROR, file, conn->line, "nginx.upgrade-headers",
			"proxy_set_header Connection \"%s\" for location %s: DCV never sees \"upgrade\", so the "
			"WebSocket handshake fails (use $connection_upgrade)", conn->args[1], location_of(t, at));
	else if (!contains_ci(up->args[1], "upgrade") && !contains_ci(up->args[1], "websocket"))
		dcv_findings_add(out, DCV_SEV_ERROR, file, up->line, "nginx.upgrade-headers",
			"proxy_set_header Upgrade \"%s\" for location %s: DCV never sees the client's Upgrade, so "
			"the WebSocket handshake fails (use $http_upgrade)", up->args[1], location_of(t, at));
}

/* nginx time: "60", "60s", "5m", "1h", "1m30s", "500ms" (also d, w, M, y) -> milliseconds. */
static bool ngx_time(const char *s, long long *ms)
{
	static const struct {
		const char *unit;
		long long ms;
	} units[] = { { "ms", 1 }, { "s", 1000 }, { "m", 60000 }, { "h", 3600000 }, { "d", 86400000 },
		      { "w", 604800000 }, { "M", 2592000000LL }, { "y", 31536000000LL } };
	long long total = 0;
	bool any = false;

	while (*s) {
		long long n = 0, mult = 1000;
		if (*s == ' ') {
			s++;
			continue;
		}
		if (!isdigit((unsigned char)*s))
			return false;
		for (; isdigit((unsigned char)*s); s++)
			if ((n = n * 10 + (*s - '0')) > 1000000000LL)
				return false;
		for (size_t u = 0; u < sizeof(units) / sizeof(units[0]); u++) {
			size_t l = strlen(units[u].unit);
			if (strncmp(s, units[u].unit, l) == 0 && !isalpha((unsigned char)s[l])) {
				mult = units[u].ms;
				s += l;
				break;
			}
		}
		/* nginx refuses a time that does not fit; so does this, instead of overflowing */
		if (isalpha((unsigned char)*s) || n > (LLONG_MAX - total) / mult)
			return false;
		total += n * mult;
		any = true;
	}
	*ms = total;
	return any;
}

static void lint_read_timeout(const struct tree *t, int i, struct dcv_findings *out)
{
	const struct ngx_dir *d = t->v[i].d;
	long long ms;

	if (d->n_args == 1 && ngx_time(d->args[0], &ms) && ms < 30000)
		dcv_findings_add(out, DCV_SEV_WARN, t->v[i].file->name, d->line, "nginx.read-timeout",
			"proxy_read_timeout %s is close to DCV's 10 s WebSocket keepalive: one or two late "
			"keepalives and nginx closes a live session (use 60s or more)", d->args[0]);
}

static bool uses_proxy_protocol(const struct tree *t)
{
	for (int i = 1; i < t->n; i++)
		if (is(t->v[i].d, "real_ip_header") && t->v[i].d->n_args &&
		    strcmp(t->v[i].d->args[0], "proxy_protocol") == 0)
			return true;
	return false;
}

static void lint_upstream(const struct tree *t, int i, struct dcv_findings *out)
{
	const struct ngx_dir *u = t->v[i].d, *balance = NULL;
	const char *file = t->v[i].file->name;

	if (!u->n_args)
		return;
	for (int j = 1; j < i; j++)
		if (is(t->v[j].d, "upstream") && t->v[j].d->n_args && strcmp(t->v[j].d->args[0], u->args[0]) == 0) {
			dcv_findings_add(out, DCV_SEV_ERROR, file, u->line, "nginx.duplicate-upstream",
				"upstream %s is defined in both %s:%d and %s:%d: nginx loads both files and refuses "
				"to start (duplicate upstream \"%s\")", u->args[0], t->v[j].file->name,
				t->v[j].d->line, file, u->line, u->args[0]);
			break;
		}
	FOR_CHILDREN(t, i, c)
		if (is(t->v[c].d, "ip_hash") || is(t->v[c].d, "hash") || is(t->v[c].d, "random"))
			balance = t->v[c].d;
	if (!balance)
		return;
	FOR_CHILDREN(t, i, c) {
		const struct ngx_dir *s = t->v[c].d;
		for (int a = 1; is(s, "server") && a < s->n_args; a++)
			if (strcmp(s->args[a], "backup") == 0)
				dcv_findings_add(out, DCV_SEV_ERROR, t->v[c].file->name, s->line, "nginx.backup-with-hash",
					"server %s is a backup in upstream %s, which balances with %s: nginx refuses "
					"the configuration (\"balancing method does not support parameter backup\")",
					s->args[0], u->args[0], balance->name);
	}
	if (is(balance, "ip_hash") && !uses_proxy_protocol(t))
		dcv_findings_add(out, DCV_SEV_WARN, file, balance->line, "nginx.ip-hash-privatelink",
			"ip_hash in upstream %s: behind PrivateLink nginx sees the NLB's address, not the "
			"user's, so sessions are pinned per load-balancer node, not per user", u->args[0]);
}

/* `$name` or `${name}` as a whole variable reference in `s`. */
static bool refers_to(const char *s, const char *name)
{
	size_t n = strlen(name);

	for (const char *p = strchr(s, '$'); p; p = strchr(p + 1, '$')) {
		if (p[1] == '{' && strncmp(p + 2, name, n) == 0 && p[2 + n] == '}')
			return true;
		if (strncmp(p + 1, name, n) == 0 && !isalnum((unsigned char)p[1 + n]) && p[1 + n] != '_')
			return true;
	}
	return false;
}

static bool defines_variable(const struct tree *t, const char *var)
{
	for (int i = 1; i < t->n; i++) {
		const struct ngx_dir *d = t->v[i].d;
		const char *def = NULL;
		if ((is(d, "map") || is(d, "split_clients")) && d->n_args >= 2)
			def = d->args[1];
		else if ((is(d, "set") || is(d, "perl_set") || is(d, "js_set")) && d->n_args >= 1)
			def = d->args[0];
		else if (is(d, "geo") && d->n_args >= 1)
			def = d->args[d->n_args - 1];
		if (def && def[0] == '$' && strcmp(def + 1, var) == 0)
			return true;
	}
	return false;
}

static void lint_connection_upgrade(const struct tree *t, struct dcv_findings *out)
{
	if (defines_variable(t, "connection_upgrade"))
		return;
	for (int i = 1; i < t->n; i++)
		for (int a = 0; a < t->v[i].d->n_args; a++)
			if (refers_to(t->v[i].d->args[a], "connection_upgrade")) {
				dcv_findings_add(out, DCV_SEV_ERROR, t->v[i].file->name, t->v[i].d->line, "nginx.undefined-variable",
					"$connection_upgrade is used but no map in the files nginx loads defines it: "
					"nginx refuses the configuration (unknown \"connection_upgrade\" variable)");
				break;
			}
}

/* location /health, = /health, ^~ /health, or a regex naming it. */
static bool defines_health(const struct tree *t)
{
	for (int i = 1; i < t->n; i++) {
		const struct ngx_dir *d = t->v[i].d;
		if (!is(d, "location") || !d->n_args)
			continue;
		const char *uri = d->args[d->n_args - 1];
		bool regex = d->n_args > 1 && d->args[0][0] == '~';
		if (regex ? strstr(uri, "health") != NULL : strcmp(uri, "/health") == 0)
			return true;
	}
	return false;
}

static bool calls_health(const char *line)
{
	for (const char *p = strstr(line, "/health"); p; p = strstr(p + 1, "/health")) {
		char c = p[7];
		if (!isalnum((unsigned char)c) && c != '-' && c != '_')
			return true;
	}
	return false;
}

/* Does every curl on the line fail on an HTTP error (-f, --fail, --fail-with-body)? */
static bool curl_fails(const char *line)
{
	/* short options whose value follows: a cluster ends at them */
	static const char with_arg[] = "AbcCdDeEFHKmoPQrtTuUwxXyYz";
	char *copy = xstrdup(line), *save = NULL;
	bool in_curl = false, fail = false, ok = true, skip = false;

	for (char *w = strtok_r(copy, " \t", &save); w; w = strtok_r(NULL, " \t", &save)) {
		const char *base = strrchr(w, '/') ? strrchr(w, '/') + 1 : w;
		if (strcmp(base, "curl") == 0) {
			ok &= !in_curl || fail;
			in_curl = true;
			fail = skip = false;
		} else if (!in_curl) {
			continue;
		} else if (skip) {
			skip = false;
		} else if (strcmp(w, "||") == 0 || strcmp(w, "&&") == 0 || strcmp(w, "|") == 0 || strcmp(w, ";") == 0) {
			ok &= fail;
			in_curl = false;
		} else if (strncmp(w, "--", 2) == 0) {
			fail |= strcmp(w, "--fail") == 0 || strcmp(w, "--fail-with-body") == 0;
		} else if (w[0] == '-') {
			for (const char *c = w + 1; *c; c++) {
				if (*c == 'f')
					fail = true;
				if (strchr(with_arg, *c)) {
					skip = c[1] == '\0';
					break;
				}
			}
		}
	}
	ok &= !in_curl || fail;
	free(copy);
	return ok;
}

static void lint_crons(const struct tree *t, const char *crons, struct dcv_findings *out)
{
	const char *p = crons;
	bool health = defines_health(t);

	for (int line = 1; *p; line++) {
		size_t len = strcspn(p, "\n");
		char *raw = xstrndup(p, len), *l = trim(raw);

		p += len + (p[len] == '\n');
		if (*l && *l != '#' && calls_health(l)) {
			bool silent = strstr(l, "curl") && !curl_fails(l);
			if (!health && silent)
				/* the runbook's line: each defect alone hides the other */
				dcv_findings_add(out, DCV_SEV_ERROR, "crontab", line, "nginx.health-cron",
					"this health cron can never restart anything: no nginx location defines /health, "
					"so the request reaches DCV, which answers 404, and its curl has no -f/--fail, so "
					"it exits 0 on any HTTP status and the command after || never runs; remove it: "
					"dcvctl deploy installs dcvctl-health.timer, which probes the port and restarts "
					"at most [maintenance] restart-limit times an hour");
			else if (!health)
				dcv_findings_add(out, DCV_SEV_ERROR, "crontab", line, "nginx.health-undefined",
					"a cron job requests /health but no nginx location defines it: the request "
					"reaches DCV, which has no /health and answers 404");
			else if (silent)
				dcv_findings_add(out, DCV_SEV_WARN, "crontab", line, "nginx.health-cron-no-fail",
					"the cron's curl has no -f/--fail: curl exits 0 on an HTTP error, so the "
					"command after || never runs when the proxy answers 404 or 502");
		}
		free(raw);
	}
}

void dcv_lint_nginx(const struct dcv_nginx_file *files, int n, const char *crons,
		    struct dcv_findings *out)
{
	struct ngx_file *nf = xcalloc((size_t)n + 1, sizeof(*nf));
	const char **names = xcalloc((size_t)n + 1, sizeof(*names));
	struct tree t = { 0 };
	int first = out->n;

	for (int i = 0; i < n; i++) {
		nf[i].name = names[i] = files[i].name ? files[i].name : "";
		ngx_parse(&nf[i], files[i].text);
	}
	build_tree(&t, nf, n);
	lint_include_cycles(nf, n, out);
	if (t.truncated)
		dcv_findings_add(out, DCV_SEV_WARN, names[0], 0, "nginx.include-limit",
			"the includes expand to more than %d directives: only the first %d were linted",
			NGX_MAX_NODES, NGX_MAX_NODES);
	for (int i = 1; i < t.n; i++) {
		if (is(t.v[i].d, "proxy_pass") && t.v[i].parent > 0)
			lint_proxy_pass(&t, i, out);
		else if (is(t.v[i].d, "proxy_read_timeout"))
			lint_read_timeout(&t, i, out);
		else if (is(t.v[i].d, "upstream"))
			lint_upstream(&t, i, out);
	}
	lint_connection_upgrade(&t, out);
	if (crons)
		lint_crons(&t, crons, out);
	sort_findings(out, first, names, n);
	for (int i = 0; i < n; i++)
		ngx_file_release(&nf[i]);
	free(nf);
	free(names);
	free(t.v);
}
