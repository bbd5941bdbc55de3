#include "render.h"

#include "inventory.h"
#include "proxy.h"
#include "session.h"
#include "util.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ dcv.conf */

struct line {
	char *text;
	char section[128]; /* section the line belongs to ("" before the first header) */
	char key[128];     /* "" when not a key line */
	bool header;
};

struct file {
	struct line *v;
	int n;
};

static void trim(char *s)
{
	size_t n = strlen(s), i = 0;

	while (n && isspace((unsigned char)s[n - 1]))
		s[--n] = '\0';
	while (isspace((unsigned char)s[i]))
		i++;
	memmove(s, s + i, n - i + 1);
}

static void add_line(struct file *f, const char *text, size_t len, const char *section_in)
{
	struct line *l;
	char section[128];

	/* section_in may point into f->v, which the realloc below moves */
	snprintf(section, sizeof(section), "%s", section_in);
	f->v = xrealloc(f->v, sizeof(*f->v) * (size_t)(f->n + 1));
	l = &f->v[f->n++];
	memset(l, 0, sizeof(*l));
	l->text = xstrndup(text, len);
	snprintf(l->section, sizeof(l->section), "%s", section);

	char tmp[512];
	snprintf(tmp, sizeof(tmp), "%s", l->text);
	trim(tmp);
	if (tmp[0] == '[') {
		char *close = strchr(tmp, ']');
		if (close) {
			*close = '\0';
			snprintf(l->section, sizeof(l->section), "%s", tmp + 1);
			trim(l->section);
			l->header = true;
		}
	} else if (tmp[0] && tmp[0] != '#' && tmp[0] != ';') {
		char *eq = strchr(tmp, '=');
		if (eq) {
			*eq = '\0';
			trim(tmp);
			snprintf(l->key, sizeof(l->key), "%s", tmp);
		}
	}
}

static void parse(struct file *f, const char *text)
{
	char section[128] = "";
	const char *p = text ? text : "";

	while (*p) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		add_line(f, p, len, section);
		snprintf(section, sizeof(section), "%s", f->v[f->n - 1].section);
		p += len + (nl ? 1 : 0);
	}
}

static void release(struct file *f)
{
	for (int i = 0; i < f->n; i++)
		free(f->v[i].text);
	free(f->v);
}

static void remove_key(struct file *f, const char *section, const char *key)
{
	for (int i = 0; i < f->n; i++) {
		if (!f->v[i].header && strcmp(f->v[i].section, section) == 0 &&
		    strcmp(f->v[i].key, key) == 0) {
			free(f->v[i].text);
			memmove(&f->v[i], &f->v[i + 1], sizeof(*f->v) * (size_t)(f->n - i - 1));
			f->n--;
			i--;
		}
	}
}

static void insert_at(struct file *f, int at, const char *text, const char *section)
{
	add_line(f, text, strlen(text), section);
	struct line l = f->v[f->n - 1];
	memmove(&f->v[at + 1], &f->v[at], sizeof(*f->v) * (size_t)(f->n - 1 - at));
	f->v[at] = l;
}

/* Set section.key to the literal `value` (already in dcv.conf syntax): replace the first
 * occurrence (dropping repeats), or add it after the section's last key, or add the section. */
static void set_key(struct file *f, const char *section, const char *key, const char *value)
{
	char *text = xasprintf("%s=%s", key, value);
	int first = -1, header = -1, last = -1;

	for (int i = 0; i < f->n; i++) {
		if (strcmp(f->v[i].section, section) != 0)
			continue;
		if (f->v[i].header) {
			if (header < 0)
				header = i;
			continue;
		}
		if (strcmp(f->v[i].key, key) == 0) {
			if (first < 0) {
				first = i;
			} else {
				free(f->v[i].text);
				memmove(&f->v[i], &f->v[i + 1], sizeof(*f->v) * (size_t)(f->n - i - 1));
				f->n--;
				i--;
				continue;
			}
		}
		if (f->v[i].key[0])
			last = i;
	}
	/* `[ connectivity ]` is [connectivity] to this merge, but GLib's key-file parser, which
	 * DCV's settings follow, keeps the spaces in the name: write the header so that both read
	 * the section the key is set in (config lint explains the padded form). */
	if (header >= 0) {
		char *want = xasprintf("[%s]", section);
		if (strcmp(f->v[header].text, want) != 0) {
			free(f->v[header].text);
			f->v[header].text = want;
		} else {
			free(want);
		}
	}
	if (first >= 0) {
		/* keep the operator's spacing style if the value is already right */
		char cur[512];
		const char *eq = strchr(f->v[first].text, '=');
		snprintf(cur, sizeof(cur), "%s", eq ? eq + 1 : "");
		trim(cur);
		if (strcmp(cur, value) != 0) {
			free(f->v[first].text);
			f->v[first].text = xstrdup(text);
		}
	} else if (header >= 0) {
		insert_at(f, (last >= 0 ? last : header) + 1, text, section);
	} else {
		char *hdr = xasprintf("[%s]", section);
		if (f->n && f->v[f->n - 1].text[0] != '\0')
			add_line(f, "", 0, f->v[f->n - 1].section);
		add_line(f, hdr, strlen(hdr), section);
		add_line(f, text, strlen(text), section);
		free(hdr);
	}
	free(text);
}

static char *quoted(const char *s)
{
	struct dcv_buf b = DCV_BUF_INIT;

	dcv_buf_addc(&b, '"');
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			dcv_buf_addc(&b, '\\');
		dcv_buf_addc(&b, *s);
	}
	dcv_buf_addc(&b, '"');
	return dcv_buf_detach(&b);
}

/* `verifier`: connection-gateway mode, the broker's token verifier to put back. */
static void render_conf(const char *existing, const struct dcv_host *agent, bool bypass, const char *verifier,
			struct dcv_buf *out)
{
	struct file f = { 0 };
	char port[16];
	char *path = quoted(agent->web_url_path);

	parse(&f, existing);
	snprintf(port, sizeof(port), "%d", agent->port);
	set_key(&f, "connectivity", "web-port", port);
	set_key(&f, "connectivity", "web-url-path", path);
	/* dcvserver recreates the automatic console session at every start and reboot (reference
	 * §1.1); any other session is dcvctl's to create, and must not meet a console one there */
	if (dcv_session_automatic(agent)) {
		char *owner = quoted(agent->session_owner ? agent->session_owner : "");
		set_key(&f, "session-management", "create-session", "true");
		set_key(&f, "session-management/automatic-console-session", "owner", owner);
		free(owner);
	} else {
		set_key(&f, "session-management", "create-session", "false");
	}
	if (agent->authentication) {
		char *a = quoted(agent->authentication);
		set_key(&f, "security", "authentication", a);
		free(a);
	}
	/* The bypass stops the broker: its token verifier, and no-tls-strict, which only relaxes
	 * TLS towards that verifier (reference/dcv.md §1.2), would send logins nowhere. */
	if (bypass) {
		remove_key(&f, "security", "auth-token-verifier");
		remove_key(&f, "security", "no-tls-strict");
	}
	/* The Connection Gateway needs external authentication on every server (reference §3),
	 * and the Session Manager agent logs in as dcvsmagent (§5.2): what the bypass removed goes
	 * back. The broker's certificate is self-signed: without a ca-file for it, no-tls-strict
	 * (which relaxes only the verifier's TLS, §1.2) keeps the verifier reachable. */
	if (verifier) {
		char *v = quoted(verifier);
		bool ca = false;
		set_key(&f, "security", "auth-token-verifier", v);
		set_key(&f, "security", "administrators", "[\"dcvsmagent\"]");
		for (int i = 0; i < f.n; i++)
			ca |= !f.v[i].header && strcmp(f.v[i].section, "security") == 0 &&
			      strcmp(f.v[i].key, "ca-file") == 0;
		if (!ca)
			set_key(&f, "security", "no-tls-strict", "true");
		free(v);
	}
	for (int i = 0; i < f.n; i++) {
		dcv_buf_adds(out, f.v[i].text);
		dcv_buf_addc(out, '\n');
	}
	free(path);
	release(&f);
}

void dcv_render_dcvconf(const char *existing, const struct dcv_host *agent, bool bypass,
			struct dcv_buf *out)
{
	render_conf(existing, agent, bypass, NULL, out);
}

char *dcv_broker_verifier_url(const struct dcv_inventory *inv)
{
	const struct dcv_host *b = inv->broker_host ? dcv_inventory_host(inv, inv->broker_host)
						    : dcv_inventory_gateway(inv);
	const char *name = inv->broker_name ? inv->broker_name : b ? b->address : NULL;

	if (!name)
		return NULL;
	return xasprintf(strchr(name, ':') ? "https://[%s]:%d%s" : "https://%s:%d%s", name, DCV_BROKER_AGENT_PORT,
			 "/agent/validate-authentication-token");
}

void dcv_render_dcvconf_for(const char *existing, const struct dcv_inventory *inv, const struct dcv_host *agent,
			    struct dcv_buf *out)
{
	char *verifier = dcv_proxy_bypass(inv) ? NULL : dcv_broker_verifier_url(inv);

	render_conf(existing, agent, dcv_proxy_bypass(inv), verifier, out);
	free(verifier);
}
