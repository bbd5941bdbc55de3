/* Facts of a host in one round trip. The script prints "key=value" lines, texts in base64, so
 * any file content survives the trip; the parser ignores what it does not know. */
#include "facts.h"

#include "err.h"
#include "inventory.h"
#include "properties.h"
#include "proxy.h"
#include "proxy_gateway.h"
#include "remote.h"
#include "render.h"
#include "util.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char prelude[] = "b64() { base64 -w0; echo; }\n";

static bool b64_into(const char *v, struct dcv_buf *out);

static void assign(struct dcv_buf *s, const char *var, const char *value)
{
	dcv_buf_addf(s, "%s=", var);
	dcv_shquote(s, value);
	dcv_buf_addc(s, '\n');
}

const char *const dcv_health_files[3] = { DCV_HEALTH_SCRIPT, DCV_HEALTH_SERVICE, DCV_HEALTH_TIMER };

/* What [maintenance] needs to know; dcvctl's own logrotate file is not among the others. */
static void maint_script(struct dcv_buf *s, const char *lr_path, const struct dcv_rotated_log *logs, int n,
			 bool health)
{
	assign(s, "lr", lr_path);
	dcv_buf_adds(s, "command -v logrotate >/dev/null 2>&1 && echo lr.bin=yes\n"
			"[ -e \"$lr\" ] && { printf 'lr='; b64 < \"$lr\"; }\n"
			"printf 'lr.others='; for x in /etc/logrotate.conf /etc/logrotate.d/*; do "
			"[ -f \"$x\" ] && [ \"$x\" != \"$lr\" ] || continue; echo \"### $x\"; cat \"$x\"; echo; "
			"done 2>/dev/null | b64\n");
	for (int i = 0; i < n && i < DCV_MAINT_MAX_LOGS; i++) {
		const char *slash = strrchr(logs[i].path, '/');
		char *dir = xstrndup(logs[i].path, slash ? (size_t)(slash - logs[i].path) : 0);
		assign(s, "d", *dir ? dir : "/");
		dcv_buf_addf(s, "[ -d \"$d\" ] && echo \"lr.dir.%d=$(stat -c '%%U %%G %%a' \"$d\")\"\n", i);
		free(dir);
	}
	for (int i = 0; health && i < 3; i++) {
		assign(s, "h", dcv_health_files[i]);
		dcv_buf_addf(s, "[ -e \"$h\" ] && { printf 'health.%d='; b64 < \"$h\"; }\n", i);
	}
}

/* One "key=value" line of maint_script's output; false when the key is not one of its. */
static bool maint_parse(struct dcv_maint_facts *m, const char *key, const char *v)
{
	int i;

	if (strcmp(key, "lr.bin") == 0)
		m->logrotate_bin = true;
	else if (strcmp(key, "lr") == 0)
		m->lr_exists = b64_into(v, &m->lr);
	else if (strcmp(key, "lr.others") == 0)
		b64_into(v, &m->lr_others);
	else if (sscanf(key, "lr.dir.%d", &i) == 1 && i >= 0 && i < DCV_MAINT_MAX_LOGS)
		snprintf(m->lr_dirs[i], sizeof(m->lr_dirs[i]), "%s", v);
	else if (sscanf(key, "health.%d", &i) == 1 && i >= 0 && i < 3)
		m->health_exists[i] = b64_into(v, &m->health[i]);
	else
		return false;
	return true;
}

static void maint_release(struct dcv_maint_facts *m)
{
	dcv_buf_release(&m->lr);
	dcv_buf_release(&m->lr_others);
	for (int i = 0; i < 3; i++)
		dcv_buf_release(&m->health[i]);
}

void dcv_gw_facts_script(const struct dcv_host *gw, const struct dcv_proxy_kind *k, bool validate,
			 struct dcv_buf *s)
{
	const char *units[DCV_FACTS_MAX_UNITS];
	int n = 0;

	units[n++] = k->unit;
	for (int i = 0; k->stop[i] && n < DCV_FACTS_MAX_UNITS - 1; i++)
		units[n++] = k->stop[i];
	units[n++] = DCV_HEALTH_TIMER_UNIT;
	dcv_buf_adds(s, prelude);
	dcv_buf_adds(s, "(. /etc/os-release 2>/dev/null; echo \"os=${ID:-unknown}\")\n"
			"[ -d /etc/crypto-policies ] && echo crypto=yes\n");
	assign(s, "bin", k->binary);
	assign(s, "f", k->config);
	assign(s, "c", gw->cert);
	assign(s, "k", gw->key);
	dcv_buf_adds(s, "if command -v \"$bin\" >/dev/null 2>&1; then echo binary=yes; ");
	if (validate) {
		dcv_buf_adds(s, "t=$(");
		dcv_buf_adds(s, k->validate); /* dcvctl's own constant */
		dcv_buf_adds(s, " 2>&1); echo \"validate.rc=$?\"; printf 'validate.out='; printf '%s' \"$t\" | b64; ");
	}
	dcv_buf_adds(s, "fi\n");
	dcv_units_show_script(s, units, n);
	dcv_buf_adds(s, "[ -e \"$f\" ] && { printf 'config='; b64 < \"$f\"; }\n");
	dcv_buf_addf(s, "printf 'ss='; ss -Htlnp 'sport = :%d' 2>/dev/null | b64\n", gw->listen);
	dcv_buf_adds(s, "[ -r \"$c\" ] && { printf 'cert='; b64 < \"$c\"; }\n"
			"[ -r \"$k\" ] && echo key=yes\n"
			"if command -v openssl >/dev/null 2>&1 && [ -r \"$c\" ] && [ -r \"$k\" ]; then "
			"a=$(openssl x509 -noout -pubkey -in \"$c\" 2>/dev/null | sha256sum); "
			"b=$(openssl pkey -pubout -in \"$k\" 2>/dev/null | sha256sum); "
			"if [ \"$a\" = \"$b\" ]; then echo keymatch=yes; else echo keymatch=no; fi; fi\n");
	for (int i = 0; i < k->n_derived && i < 4; i++) {
		assign(s, "d", k->derived[i].path);
		if (k->derived[i].how == DCV_DERIVE_SECRET)
			dcv_buf_addf(s, "[ -r \"$d\" ] && { printf 'derived.%d='; b64 < \"$d\"; }\n", i);
		else
			dcv_buf_addf(s, "[ -e \"$d\" ] && echo derived.%d.exists=yes; "
					"cat \"$c\" \"$k\" 2>/dev/null | cmp -s - \"$d\" && echo derived.%d.current=yes\n",
				     i, i);
	}
	if (k->status) {
		dcv_buf_adds(s, "if t=$(");
		dcv_buf_adds(s, k->status);
		dcv_buf_adds(s, " 2>/dev/null) && [ -n \"$t\" ]; then printf 'status='; printf '%s\\n' \"$t\" | b64; fi\n");
	}
	char *lr = dcv_maint_logrotate_path(k->name);
	maint_script(s, lr, k->logrotate, k->n_logrotate, true);
	free(lr);
	dcv_buf_adds(s, "printf 'crons='; { crontab -l -u root 2>/dev/null; cat /etc/crontab /etc/cron.d/* "
			"2>/dev/null; } | b64\nexit 0\n");
}

static bool b64_into(const char *v, struct dcv_buf *out)
{
	dcv_buf_reset(out);
	return dcv_base64_decode(v, strlen(v), out);
}

/* `ss -Htlnp` output (base64) and the name of the process it shows holding the port. */
static void listener_into(const char *v, struct dcv_buf *ss, char listener[64])
{
	b64_into(v, ss);
	const char *u = strstr(dcv_buf_str(ss), "users:((\"");
	if (u)
		sscanf(u + 9, "%63[^\"]", listener);
}

static void secret_forget(char **s)
{
	if (*s)
		explicit_bzero(*s, strlen(*s));
	free(*s);
	*s = NULL;
}

/* "user:password" into its two halves; anything else is no secret. */
static void secret_split(struct dcv_gw_facts *f, const char *text)
{
	const char *colon = strchr(text, ':');

	secret_forget(&f->stats_user);
	secret_forget(&f->stats_password);
	if (!colon || colon == text || !colon[1])
		return;
	f->stats_user = xstrndup(text, (size_t)(colon - text));
	f->stats_password = xstrdup(colon + 1);
}

bool dcv_gw_facts_parse(const char *out, const struct dcv_proxy_kind *k, struct dcv_gw_facts *f)
{
	char *text = xstrdup(out ? out : ""), *save = NULL;
	bool any = false;

	memset(f, 0, sizeof(*f));
	snprintf(f->os, sizeof(f->os), "unknown");
	f->validate_rc = -1;
	f->key_match = -1;
	f->unit_names[f->n_units++] = k->unit;
	for (int i = 0; k->stop[i] && f->n_units < DCV_FACTS_MAX_UNITS - 1; i++)
		f->unit_names[f->n_units++] = k->stop[i];
	f->unit_names[f->n_units++] = DCV_HEALTH_TIMER_UNIT;
	dcv_units_parse(out ? out : "", f->units, f->n_units);
	for (char *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		char *eq = strchr(l, '=');
		int i;
		if (!eq)
			continue;
		*eq = '\0';
		const char *key = l, *v = eq + 1;
		if (strcmp(key, "os") == 0) {
			snprintf(f->os, sizeof(f->os), "%s", v);
			any = true;
		} else if (strcmp(key, "crypto") == 0) {
			f->crypto_policies = true;
		} else if (strcmp(key, "binary") == 0) {
			f->has_binary = true;
		} else if (strcmp(key, "validate.rc") == 0) {
			f->validate_rc = atoi(v);
		} else if (strcmp(key, "validate.out") == 0) {
			b64_into(v, &f->validate_out);
		} else if (strcmp(key, "config") == 0) {
			f->config_exists = b64_into(v, &f->config);
		} else if (strcmp(key, "ss") == 0) {
			listener_into(v, &f->ss, f->listener);
		} else if (strcmp(key, "cert") == 0) {
			b64_into(v, &f->cert_pem);
		} else if (strcmp(key, "key") == 0) {
			f->key_readable = true;
		} else if (strcmp(key, "keymatch") == 0) {
			f->key_match = strcmp(v, "yes") == 0;
		} else if (sscanf(key, "derived.%d", &i) == 1 && i >= 0 && i < 4 && i < k->n_derived) {
			const char *rest = strchr(key + 8, '.');
			if (!rest) {
				struct dcv_buf b = DCV_BUF_INIT;
				f->derived_exists[i] = b64_into(v, &b);
				dcv_buf_rtrim(&b);
				secret_split(f, dcv_buf_str(&b));
				if (b.data)
					explicit_bzero(b.data, b.len);
				dcv_buf_release(&b);
			} else if (strcmp(rest, ".exists") == 0) {
				f->derived_exists[i] = true;
			} else if (strcmp(rest, ".current") == 0) {
				f->derived_current[i] = true;
			}
		} else if (strcmp(key, "status") == 0) {
			f->status_ok = b64_into(v, &f->status);
		} else if (strcmp(key, "crons") == 0) {
			b64_into(v, &f->crons);
		} else {
			maint_parse(&f->maint, key, v);
		}
	}
	free(text);
	return any;
}

/* Run a facts script on `h` (with sudo) into `out`; `role` names the host in errors. */
static int run_script(struct dcv_ssh *c, const struct dcv_host *h, struct dcv_buf *script, const char *role,
		      struct dcv_buf *out, struct dcv_err *err)
{
	int status = 0, rc = dcv_remote_sh(c, h, script->data, out, NULL, &status, err);

	dcv_buf_release(script);
	if (rc == DCV_OK && status != 0)
		rc = dcv_err_set(err, DCV_E_REMOTE, "cannot read the %s's state (exit %d)", role, status);
	return rc;
}

static int unparsed(const char *role, struct dcv_err *err)
{
	return dcv_err_set(err, DCV_E_REMOTE, "the %s's state could not be read (no facts in the output)", role);
}

int dcv_gw_facts_read(struct dcv_ssh *c, const struct dcv_host *gw, const struct dcv_proxy_kind *k,
		      bool validate, struct dcv_gw_facts *f, struct dcv_err *err)
{
	struct dcv_buf s = DCV_BUF_INIT, out = DCV_BUF_INIT;
	int rc;

	dcv_gw_facts_script(gw, k, validate, &s);
	rc = run_script(c, gw, &s, "gateway", &out, err);
	if (rc == DCV_OK && !dcv_gw_facts_parse(out.data, k, f)) {
		dcv_gw_facts_release(f);
		rc = unparsed("gateway", err);
	}
	dcv_buf_release(&out);
	return rc;
}

void dcv_gw_facts_release(struct dcv_gw_facts *f)
{
	dcv_buf_release(&f->config);
	dcv_buf_release(&f->validate_out);
	dcv_buf_release(&f->ss);
	dcv_buf_release(&f->cert_pem);
	dcv_buf_release(&f->status);
	dcv_buf_release(&f->crons);
	maint_release(&f->maint);
	secret_forget(&f->stats_user);
	secret_forget(&f->stats_password);
}

void dcv_gw_facts_env(const struct dcv_gw_facts *f, struct dcv_proxy_env *env)
{
	memset(env, 0, sizeof(*env));
	env->crypto_policies = f->crypto_policies;
	env->crons = dcv_buf_str(&f->crons);
	env->stats_user = f->stats_user;
	env->stats_password = f->stats_password;
}

const struct dcv_unit_state *dcv_gw_facts_unit(const struct dcv_gw_facts *f, const char *unit)
{
	for (int i = 0; i < f->n_units; i++)
		if (strcmp(f->unit_names[i], unit) == 0)
			return &f->units[i];
	return NULL;
}

bool dcv_unit_is_active(const struct dcv_unit_state *u)
{
	return u && strcmp(u->active, "active") == 0;
}

bool dcv_unit_is_enabled(const struct dcv_unit_state *u)
{
	return u && strcmp(u->enabled, "enabled") == 0;
}

/* ------------------------------------------------------------------ agents */

static const char *const agent_units[] = { "dcvserver", DCV_UNIT_SM_AGENT };

void dcv_agent_facts_script(const struct dcv_host *a, struct dcv_buf *s)
{
	dcv_buf_adds(s, prelude);
	dcv_buf_adds(s, "(. /etc/os-release 2>/dev/null; echo \"os=${ID:-unknown}\")\n");
	dcv_units_show_script(s, agent_units, 2);
	assign(s, "f", DCV_DCV_CONF);
	dcv_buf_adds(s, "[ -e \"$f\" ] && { printf 'conf='; b64 < \"$f\"; }\n");
	dcv_buf_addf(s, "printf 'ss='; ss -Htlnp 'sport = :%d' 2>/dev/null | b64\n", a->port);
	maint_script(s, DCV_LOGROTATE_DCV, &dcv_maint_dcv_log, 1, false);
	/* one list, in JSON: the session parser reads it, check and deploy alike */
	dcv_buf_adds(s, "t=$(dcv list-sessions --json 2>&1); echo \"sessions.rc=$?\"; "
			"printf 'sessions='; printf '%s' \"$t\" | b64\n"
			"printf 'log='; tail -n 20 /var/log/dcv/server.log 2>/dev/null | b64\nexit 0\n");
}

/* The value of `key` in [section] of an INI text, trimmed; false when unset. DCV reads the
 * last assignment, so the last one wins here too. */
static bool conf_value(const char *text, const char *section, const char *key, char *out, size_t n)
{
	char cur[64] = "";
	bool found = false;

	for (const char *l = text; l && *l;) {
		const char *nl = strchr(l, '\n'), *end = nl ? nl : l + strlen(l);
		while (l < end && isspace((unsigned char)*l))
			l++;
		const char *e = end;
		while (e > l && isspace((unsigned char)e[-1]))
			e--;
		size_t len = (size_t)(e - l), kl = strlen(key);
		if (len > 1 && *l == '[' && e[-1] == ']')
			snprintf(cur, sizeof(cur), "%.*s", (int)(len - 2), l + 1);
		else if (strcmp(cur, section) == 0 && len > kl && strncmp(l, key, kl) == 0) {
			const char *p = l + kl;
			while (p < e && (*p == ' ' || *p == '\t'))
				p++;
			if (p < e && *p == '=') {
				p++;
				while (p < e && (*p == ' ' || *p == '\t'))
					p++;
				if (e - p >= 2 && *p == '"' && e[-1] == '"') {
					p++;
					e--;
				}
				snprintf(out, n, "%.*s", (int)(e - p), p);
				found = true;
			}
		}
		l = nl ? nl + 1 : end;
	}
	return found;
}

bool dcv_agent_facts_parse(const char *out, struct dcv_agent_facts *f)
{
	char *text = xstrdup(out ? out : ""), *save = NULL;
	struct dcv_unit_state st[2];
	struct dcv_err e = DCV_ERR_INIT;
	bool any = false;

	memset(f, 0, sizeof(*f));
	snprintf(f->os, sizeof(f->os), "unknown");
	f->sessions_rc = -1;
	dcv_units_parse(out ? out : "", st, 2);
	f->dcvserver = st[0];
	f->sm_agent = st[1];
	for (char *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		char *eq = strchr(l, '=');
		if (!eq)
			continue;
		*eq = '\0';
		const char *key = l, *v = eq + 1;
		if (strcmp(key, "os") == 0) {
			snprintf(f->os, sizeof(f->os), "%s", v);
			any = true;
		} else if (strcmp(key, "conf") == 0) {
			f->conf_exists = b64_into(v, &f->conf);
		} else if (strcmp(key, "ss") == 0) {
			listener_into(v, &f->ss, f->listener);
		} else if (strcmp(key, "sessions.rc") == 0) {
			f->sessions_rc = atoi(v);
		} else if (strcmp(key, "sessions") == 0) {
			b64_into(v, &f->sessions_out);
		} else if (strcmp(key, "log") == 0) {
			b64_into(v, &f->log);
		} else {
			maint_parse(&f->maint, key, v);
		}
	}
	free(text);
	if (f->conf_exists) {
		char port[16] = "";
		if (conf_value(f->conf.data, "connectivity", "web-port", port, sizeof(port)))
			f->web_port = atoi(port);
		conf_value(f->conf.data, "connectivity", "web-url-path", f->web_url_path, sizeof(f->web_url_path));
	}
	if (f->sessions_rc == -1)
		snprintf(f->sessions_err, sizeof(f->sessions_err), "dcv list-sessions did not run");
	else if (f->sessions_rc != 0)
		snprintf(f->sessions_err, sizeof(f->sessions_err), "dcv list-sessions failed (exit %d)", f->sessions_rc);
	else if (dcv_sessions_parse(dcv_buf_str(&f->sessions_out), &f->sessions, &e) != DCV_OK)
		snprintf(f->sessions_err, sizeof(f->sessions_err), "%s", e.msg);
	else
		f->sessions_ok = true;
	return any;
}

int dcv_agent_facts_read(struct dcv_ssh *c, const struct dcv_host *a, struct dcv_agent_facts *f,
			 struct dcv_err *err)
{
	struct dcv_buf s = DCV_BUF_INIT, out = DCV_BUF_INIT;
	int rc;

	dcv_agent_facts_script(a, &s);
	rc = run_script(c, a, &s, "agent", &out, err);
	if (rc == DCV_OK && !dcv_agent_facts_parse(out.data, f)) {
		dcv_agent_facts_release(f); /* what the parse began */
		rc = unparsed("agent", err);
	}
	dcv_buf_release(&out);
	return rc;
}

void dcv_agent_facts_release(struct dcv_agent_facts *f)
{
	dcv_buf_release(&f->conf);
	dcv_buf_release(&f->ss);
	dcv_buf_release(&f->sessions_out);
	dcv_buf_release(&f->log);
	maint_release(&f->maint);
	dcv_sessions_release(&f->sessions);
}

/* ==================================================================== broker (seed 004) */

const struct dcv_host *dcv_broker_host(const struct dcv_inventory *inv)
{
	/* the inventory has checked that [broker] host names a host */
	return inv->broker_host ? dcv_inventory_host(inv, inv->broker_host) : dcv_inventory_gateway(inv);
}

static const char *const broker_units[] = { DCV_UNIT_BROKER };

void dcv_broker_facts_script(const struct dcv_inventory *inv, bool secrets, struct dcv_buf *s)
{
	dcv_buf_adds(s, prelude);
	dcv_buf_adds(s, "(. /etc/os-release 2>/dev/null; echo \"os=${ID:-unknown}\")\n"
			"command -v " DCV_UNIT_BROKER " >/dev/null 2>&1 && echo binary=yes\n");
	assign(s, "g", DCV_BROKER_GEN_CERTS);
	assign(s, "p", DCV_BROKER_PROPERTIES);
	assign(s, "ca", DCV_BROKER_CA);
	assign(s, "d", DCV_BROKER_CREDS);
	dcv_buf_adds(s, "[ -x \"$g\" ] && echo gen=yes\n");
	dcv_units_show_script(s, broker_units, 1);
	if (secrets)
		dcv_buf_adds(s, "if [ -e \"$p\" ]; then printf 'props='; b64 < \"$p\"; ");
	else
		dcv_buf_adds(s, "if [ -e \"$p\" ]; then printf 'props='; grep -E '^[[:space:]]*(enable-gateway|"
				"gateway-to-broker-connector-https-port|enable-tls-client-auth-gateway|"
				"gateway-to-broker-connector-trust-store-file)([[:space:]]*[=:]|[[:space:]])' \"$p\" | b64; ");
	dcv_buf_adds(s, "echo \"props.stat=$(stat -c '%U %G %a' \"$p\")\"; fi\n"
			"[ -r \"$ca\" ] && { printf 'ca='; b64 < \"$ca\"; }\n");
	dcv_buf_addf(s, "printf 'ss='; ss -Htlnp 'sport = :%d' 2>/dev/null | b64\n", inv->resolver_port);
	/* the credentials live beside the trust store the properties name (the printed folder) */
	dcv_buf_adds(s, "ts=$(sed -n 's/^[[:space:]]*gateway-to-broker-connector-trust-store-file[[:space:]]*[=:]"
			"[[:space:]]*//p' \"$p\" 2>/dev/null | tail -n 1)\n"
			"if [ -n \"$ts\" ]; then d=$(dirname -- \"$ts\"); [ -e \"$ts\" ] && echo truststore=yes; fi\n"
			"echo \"creds.dir=$d\"\n"
			"[ -r \"$d/" DCV_BROKER_CLIENT_CERT_NAME "\" ] && { printf 'cc='; b64 < \"$d/"
			DCV_BROKER_CLIENT_CERT_NAME "\"; }\n");
	if (secrets)
		dcv_buf_adds(s, "[ -r \"$d/" DCV_BROKER_CLIENT_KEY_NAME "\" ] && { printf 'ck='; b64 < \"$d/"
				DCV_BROKER_CLIENT_KEY_NAME "\"; }\n");
	dcv_buf_adds(s, "if t=$(" DCV_UNIT_BROKER " describe-server-dns-mappings 2>/dev/null); then "
			"printf 'mappings='; printf '%s' \"$t\" | b64; fi\nexit 0\n");
}

static void wipe_buf(struct dcv_buf *b)
{
	if (b->data)
		explicit_bzero(b->data, b->len);
	dcv_buf_release(b);
}

bool dcv_broker_facts_parse(const char *out, struct dcv_broker_facts *f)
{
	char *text = xstrdup(out ? out : ""), *save = NULL;
	bool any = false;

	memset(f, 0, sizeof(*f));
	snprintf(f->os, sizeof(f->os), "unknown");
	snprintf(f->creds_dir, sizeof(f->creds_dir), "%s", DCV_BROKER_CREDS);
	dcv_units_parse(out ? out : "", &f->broker, 1);
	for (char *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		char *eq = strchr(l, '=');
		if (!eq)
			continue;
		*eq = '\0';
		const char *key = l, *v = eq + 1;
		if (strcmp(key, "os") == 0) {
			snprintf(f->os, sizeof(f->os), "%s", v);
			any = true;
		} else if (strcmp(key, "binary") == 0) {
			f->has_binary = true;
		} else if (strcmp(key, "gen") == 0) {
			f->has_gen_certs = true;
		} else if (strcmp(key, "props") == 0) {
			f->props_exists = b64_into(v, &f->props);
		} else if (strcmp(key, "props.stat") == 0) {
			snprintf(f->props_stat, sizeof(f->props_stat), "%s", v);
		} else if (strcmp(key, "ca") == 0) {
			b64_into(v, &f->ca_pem);
		} else if (strcmp(key, "ss") == 0) {
			listener_into(v, &f->ss, f->listener);
		} else if (strcmp(key, "truststore") == 0) {
			f->trust_store_exists = true;
		} else if (strcmp(key, "creds.dir") == 0 && *v) {
			snprintf(f->creds_dir, sizeof(f->creds_dir), "%s", v);
		} else if (strcmp(key, "cc") == 0) {
			b64_into(v, &f->client_cert);
		} else if (strcmp(key, "ck") == 0) {
			b64_into(v, &f->client_key);
		} else if (strcmp(key, "mappings") == 0) {
			f->mappings_ok = b64_into(v, &f->mappings);
		}
	}
	explicit_bzero(text, strlen(text));
	free(text);
	return any;
}

int dcv_broker_facts_read(struct dcv_ssh *c, const struct dcv_host *b, const struct dcv_inventory *inv,
			  bool secrets, struct dcv_broker_facts *f, struct dcv_err *err)
{
	struct dcv_buf s = DCV_BUF_INIT, out = DCV_BUF_INIT;
	int rc;

	dcv_broker_facts_script(inv, secrets, &s);
	rc = run_script(c, b, &s, "broker", &out, err);
	if (rc == DCV_OK && !dcv_broker_facts_parse(out.data, f)) {
		dcv_broker_facts_release(f); /* what the parse began */
		rc = unparsed("broker", err);
	}
	wipe_buf(&out);
	return rc;
}

void dcv_broker_facts_release(struct dcv_broker_facts *f)
{
	wipe_buf(&f->props);
	dcv_buf_release(&f->ca_pem);
	dcv_buf_release(&f->ss);
	dcv_buf_release(&f->client_cert);
	wipe_buf(&f->client_key);
	dcv_buf_release(&f->mappings);
}

void dcv_gw_resolver_facts_script(struct dcv_buf *s)
{
	static const char *const files[3][2] = {
		{ "ca", DCV_GATEWAY_BROKER_CA }, { "cc", DCV_GATEWAY_CLIENT_CERT }, { "ck", DCV_GATEWAY_CLIENT_KEY },
	};

	dcv_buf_adds(s, prelude);
	dcv_buf_adds(s, "echo os=-\n");
	for (int i = 0; i < 3; i++) {
		assign(s, "f", files[i][1]);
		dcv_buf_addf(s, "[ -e \"$f\" ] && { printf '%s='; b64 < \"$f\"; }\n", files[i][0]);
	}
	dcv_buf_adds(s, "[ -e \"$f\" ] && echo \"ck.mode=$(stat -c '%a' \"$f\")\"\nexit 0\n");
}

bool dcv_gw_resolver_facts_parse(const char *out, struct dcv_gw_resolver_facts *f)
{
	char *text = xstrdup(out ? out : ""), *save = NULL;
	bool any = false;

	memset(f, 0, sizeof(*f));
	for (char *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		char *eq = strchr(l, '=');
		if (!eq)
			continue;
		*eq = '\0';
		const char *key = l, *v = eq + 1;
		if (strcmp(key, "os") == 0)
			any = true;
		else if (strcmp(key, "ca") == 0)
			f->ca_exists = b64_into(v, &f->ca);
		else if (strcmp(key, "cc") == 0)
			f->cert_exists = b64_into(v, &f->cert);
		else if (strcmp(key, "ck") == 0)
			f->key_exists = b64_into(v, &f->key);
		else if (strcmp(key, "ck.mode") == 0)
			snprintf(f->key_mode, sizeof(f->key_mode), "%s", v);
	}
	explicit_bzero(text, strlen(text));
	free(text);
	return any;
}

int dcv_gw_resolver_facts_read(struct dcv_ssh *c, const struct dcv_host *gw, struct dcv_gw_resolver_facts *f,
			       struct dcv_err *err)
{
	struct dcv_buf s = DCV_BUF_INIT, out = DCV_BUF_INIT;
	int rc;

	dcv_gw_resolver_facts_script(&s);
	rc = run_script(c, gw, &s, "gateway", &out, err);
	if (rc == DCV_OK && !dcv_gw_resolver_facts_parse(out.data, f)) {
		dcv_gw_resolver_facts_release(f); /* what the parse began */
		rc = unparsed("gateway", err);
	}
	wipe_buf(&out);
	return rc;
}

void dcv_gw_resolver_facts_release(struct dcv_gw_resolver_facts *f)
{
	dcv_buf_release(&f->ca);
	dcv_buf_release(&f->cert);
	wipe_buf(&f->key);
}
/* ==================================================================== end broker */
