/* Java .properties as java.util.Properties.load reads them (the broker is a Java 11 service,
 * reference/dcv.md §5.1): `key = value`, `key=value`, `key: value`, `key value`; comments start
 * with # or !; a line ending in an odd number of backslashes continues on the next one; escapes
 * \t \n \r \f \uXXXX and \X. */
#include "properties.h"

#include "buf.h"
#include "inventory.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One logical line: physical lines [first, last]. */
struct entry {
	int first, last;
	bool comment, blank;
	char *key;           /* unescaped; for a comment, the key of a commented-out `#key=value` */
	char *value;         /* unescaped (NULL for comments and blanks) */
	char *prefix;        /* the text before the value on the first physical line, or NULL */
	char *replacement;   /* set by the merge: the new line, without its terminator */
	bool deleted;
	struct dcv_buf after; /* new lines to write after this entry */
};

struct props {
	char **lines; /* physical lines with their terminator */
	int n_lines;
	struct entry *v;
	int n;
};

static bool blank_char(char c)
{
	return c == ' ' || c == '\t' || c == '\f';
}

/* The physical line without its terminator (\n, \r\n, or none). */
static size_t body_len(const char *line)
{
	size_t n = strlen(line);

	if (n && line[n - 1] == '\n')
		n--;
	if (n && line[n - 1] == '\r')
		n--;
	return n;
}

static void add_utf8(struct dcv_buf *b, unsigned cp)
{
	if (cp < 0x80) {
		dcv_buf_addc(b, (char)cp);
	} else if (cp < 0x800) {
		dcv_buf_addc(b, (char)(0xc0 | cp >> 6));
		dcv_buf_addc(b, (char)(0x80 | (cp & 0x3f)));
	} else {
		dcv_buf_addc(b, (char)(0xe0 | cp >> 12));
		dcv_buf_addc(b, (char)(0x80 | ((cp >> 6) & 0x3f)));
		dcv_buf_addc(b, (char)(0x80 | (cp & 0x3f)));
	}
}

static int hexval(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* Undo one escape at s (s[0] == '\\', s[1] != 0) into b; returns the characters consumed. */
static size_t unescape_one(const char *s, struct dcv_buf *b)
{
	switch (s[1]) {
	case 't': dcv_buf_addc(b, '\t'); return 2;
	case 'n': dcv_buf_addc(b, '\n'); return 2;
	case 'r': dcv_buf_addc(b, '\r'); return 2;
	case 'f': dcv_buf_addc(b, '\f'); return 2;
	case 'u': {
		unsigned cp = 0;
		for (int i = 2; i < 6; i++) {
			int h = hexval(s[i]);
			if (h < 0) { /* Java refuses a malformed \u; the broker would not start */
				dcv_buf_addc(b, 'u');
				return 2;
			}
			cp = cp << 4 | (unsigned)h;
		}
		add_utf8(b, cp);
		return 6;
	}
	default:
		dcv_buf_addc(b, s[1]);
		return 2;
	}
}

static char *unescape(const char *s)
{
	struct dcv_buf b = DCV_BUF_INIT;

	while (*s) {
		if (*s == '\\' && s[1])
			s += unescape_one(s, &b);
		else
			dcv_buf_addc(&b, *s++);
	}
	dcv_buf_adds(&b, "");
	return dcv_buf_detach(&b);
}

/* Split a logical line (leading blanks gone) into key and where the value starts. */
static char *split_key(const char *s, size_t *value_at)
{
	struct dcv_buf k = DCV_BUF_INIT;
	size_t i = 0;

	while (s[i] && s[i] != '=' && s[i] != ':' && !blank_char(s[i])) {
		if (s[i] == '\\' && s[i + 1])
			i += unescape_one(s + i, &k);
		else
			dcv_buf_addc(&k, s[i++]);
	}
	while (blank_char(s[i]))
		i++;
	if (s[i] == '=' || s[i] == ':')
		i++;
	while (blank_char(s[i]))
		i++;
	*value_at = i;
	dcv_buf_adds(&k, "");
	return dcv_buf_detach(&k);
}

static bool continues(const char *s, size_t n)
{
	size_t bs = 0;

	while (bs < n && s[n - 1 - bs] == '\\')
		bs++;
	return bs % 2 == 1;
}

static void parse(struct props *p, const char *text)
{
	const char *t = text ? text : "";

	while (*t) {
		const char *nl = strchr(t, '\n');
		size_t n = nl ? (size_t)(nl - t + 1) : strlen(t);
		p->lines = xrealloc(p->lines, sizeof(*p->lines) * (size_t)(p->n_lines + 1));
		p->lines[p->n_lines++] = xstrndup(t, n);
		t += n;
	}
	for (int i = 0; i < p->n_lines;) {
		struct entry e = { .first = i, .last = i };
		const char *l = p->lines[i];
		size_t lead = 0, n = body_len(l), at;

		while (lead < n && blank_char(l[lead]))
			lead++;
		if (lead == n) {
			e.blank = true;
		} else if (l[lead] == '#' || l[lead] == '!') {
			char *c = xstrndup(l + lead + 1, n - lead - 1), *s = c;
			e.comment = true;
			while (blank_char(*s))
				s++;
			e.key = split_key(s, &at);
			free(c);
		} else {
			struct dcv_buf joined = DCV_BUF_INIT;
			dcv_buf_add(&joined, l + lead, n - lead);
			while (continues(joined.data, joined.len) && e.last + 1 < p->n_lines) {
				const char *next = p->lines[++e.last];
				size_t nn = body_len(next), skip = 0;
				joined.data[--joined.len] = '\0';
				while (skip < nn && blank_char(next[skip]))
					skip++;
				dcv_buf_add(&joined, next + skip, nn - skip);
			}
			if (continues(joined.data, joined.len)) /* a last line ending in '\' */
				joined.data[--joined.len] = '\0';
			e.key = split_key(joined.data, &at);
			e.value = unescape(joined.data + at);
			if (lead + at <= n)
				e.prefix = xstrndup(l, lead + at);
			dcv_buf_release(&joined);
		}
		p->v = xrealloc(p->v, sizeof(*p->v) * (size_t)(p->n + 1));
		p->v[p->n++] = e;
		i = e.last + 1;
	}
}

static void release(struct props *p)
{
	for (int i = 0; i < p->n_lines; i++)
		free(p->lines[i]);
	for (int i = 0; i < p->n; i++) {
		free(p->v[i].key);
		free(p->v[i].value);
		free(p->v[i].prefix);
		free(p->v[i].replacement);
		dcv_buf_release(&p->v[i].after);
	}
	free(p->lines);
	free(p->v);
}

/* `s` escaped so that Properties.load reads it back as is. */
static void escape(struct dcv_buf *out, const char *s, bool key)
{
	for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
		if (*c == '\\')
			dcv_buf_adds(out, "\\\\");
		else if (*c == '\t')
			dcv_buf_adds(out, "\\t");
		else if (*c == '\n')
			dcv_buf_adds(out, "\\n");
		else if (*c == '\r')
			dcv_buf_adds(out, "\\r");
		else if (*c == '\f')
			dcv_buf_adds(out, "\\f");
		else if (*c < 0x20 || *c == 0x7f)
			dcv_buf_addf(out, "\\u%04x", *c);
		else if ((key && strchr(" =:#!", *c)) || (!key && *c == ' ' && (const char *)c == s))
			dcv_buf_addf(out, "\\%c", *c);
		else
			dcv_buf_addc(out, (char)*c);
	}
}

static char *new_line(const char *key, const char *value)
{
	struct dcv_buf b = DCV_BUF_INIT;

	escape(&b, key, true);
	dcv_buf_adds(&b, " = ");
	escape(&b, value, false);
	return dcv_buf_detach(&b);
}

static bool reads_as(const char *line, const char *key, const char *value)
{
	const char *s = line;
	size_t at;
	char *k, *v;
	bool ok;

	while (blank_char(*s))
		s++;
	k = split_key(s, &at);
	v = unescape(s + at);
	ok = strcmp(k, key) == 0 && strcmp(v, value) == 0 && !continues(line, strlen(line));
	free(k);
	free(v);
	return ok;
}

static void set_one(struct props *p, const struct dcv_property *s, struct dcv_buf *tail)
{
	int found = -1, commented = -1;

	for (int i = 0; i < p->n; i++) {
		struct entry *e = &p->v[i];
		if (e->blank || e->deleted || strcmp(e->key, s->key) != 0)
			continue;
		if (e->comment) {
			if (commented < 0)
				commented = i;
		} else if (found < 0) {
			found = i;
		} else {
			e->deleted = true;
		}
	}
	if (!s->value) {
		if (found >= 0)
			p->v[found].deleted = true;
		return;
	}
	if (found >= 0) {
		struct entry *e = &p->v[found];
		struct dcv_buf b = DCV_BUF_INIT;
		if (strcmp(e->value, s->value) == 0)
			return;
		free(e->replacement);
		e->replacement = NULL;
		if (e->prefix) {
			dcv_buf_adds(&b, e->prefix);
			escape(&b, s->value, false);
			e->replacement = dcv_buf_detach(&b);
		}
		/* the operator's spacing only when it reads back right ("key" alone has no separator) */
		if (!e->replacement || !reads_as(e->replacement, s->key, s->value)) {
			free(e->replacement);
			e->replacement = new_line(s->key, s->value);
		}
		return;
	}
	char *l = new_line(s->key, s->value);
	struct dcv_buf *to = commented >= 0 ? &p->v[commented].after : tail;
	dcv_buf_adds(to, l);
	dcv_buf_addc(to, '\n');
	free(l);
}

void dcv_properties_merge(const char *existing, const struct dcv_property *set, int n, struct dcv_buf *out)
{
	struct props p = { 0 };
	struct dcv_buf tail = DCV_BUF_INIT;
	bool newline = true, dangling = false;

	parse(&p, existing);
	for (int i = 0; i < n; i++)
		set_one(&p, &set[i], &tail);
	for (int i = 0; i < p.n; i++) {
		const struct entry *e = &p.v[i];
		if (e->replacement) {
			const char *last = p.lines[e->last];
			size_t bl = body_len(last);
			dcv_buf_adds(out, e->replacement);
			/* the line keeps its terminator: CRLF stays CRLF, a missing final newline is added */
			dcv_buf_adds(out, last[bl] ? last + bl : "\n");
			dangling = false;
		} else if (!e->deleted) {
			const char *last = p.lines[e->last];
			for (int k = e->first; k <= e->last; k++)
				dcv_buf_adds(out, p.lines[k]);
			dangling = !e->comment && !e->blank && continues(last, body_len(last));
		}
		newline = out->len == 0 || out->data[out->len - 1] == '\n';
		if (e->after.len) {
			if (!newline)
				dcv_buf_addc(out, '\n');
			dcv_buf_add(out, e->after.data, e->after.len);
			newline = true;
		}
	}
	if (tail.len) {
		if (!newline)
			dcv_buf_addc(out, '\n');
		/* a last line ending in '\' would swallow the first new key: a blank line ends it */
		if (dangling)
			dcv_buf_addc(out, '\n');
		dcv_buf_add(out, tail.data, tail.len);
	}
	dcv_buf_adds(out, "");
	dcv_buf_release(&tail);
	release(&p);
}

char *dcv_properties_get(const char *text, const char *key)
{
	struct props p = { 0 };
	char *v = NULL;

	parse(&p, text);
	for (int i = 0; i < p.n; i++)
		if (!p.v[i].comment && !p.v[i].blank && strcmp(p.v[i].key, key) == 0) {
			free(v);
			v = xstrdup(p.v[i].value);
		}
	release(&p);
	return v;
}

void dcv_render_broker_properties(const char *existing, const struct dcv_inventory *inv,
				  const struct dcv_broker_mtls *mtls, struct dcv_buf *out)
{
	char port[16];
	struct dcv_property set[6] = {
		{ "enable-gateway", "true" },
		{ "gateway-to-broker-connector-https-port", port },
		{ "gateway-to-broker-connector-bind-host", "0.0.0.0" },
		{ "enable-tls-client-auth-gateway", mtls ? "true" : "false" },
	};
	int n = 4;

	snprintf(port, sizeof(port), "%d", inv->resolver_port);
	if (mtls) {
		set[n++] = (struct dcv_property){ "gateway-to-broker-connector-trust-store-file", mtls->trust_store_file };
		set[n++] = (struct dcv_property){ "gateway-to-broker-connector-trust-store-pass", mtls->trust_store_pass };
	}
	dcv_properties_merge(existing, set, n, out);
}
