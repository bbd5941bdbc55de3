/* The deploy of seed Phase 1 (nginx bypass): gateway first, so a failure there leaves the
 * previous path (Connection Gateway) serving and the agents untouched; then the agents in
 * parallel. Every step is idempotent: it reads the host's state and changes only what differs. */
#include "deploy.h"

#include "agent.h"
#include "buf.h"
#include "diff.h"
#include "err.h"
#include "facts.h"
#include "inventory.h"
#include "proxy.h"
#include "remote.h"
#include "render.h"
#include "service.h"
#include "ssh.h"
#include "util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#define SM_AGENT DCV_UNIT_SM_AGENT

struct run {
	const struct dcv_inventory *inv;
	struct dcv_ssh_pool *pool;
	const struct dcv_deploy_opts *o;
	struct dcv_deploy_result *res;
	const struct dcv_host **agents;
	int n_agents;
	/* Agents connect, lock and read their state while the gateway works, then wait for it:
	 * a failed gateway leaves the previous path serving, so the agents must not switch. */
	pthread_mutex_t gate_lock;
	pthread_cond_t gate_cond;
	int gate; /* 0 gateway running, 1 gateway ok, -1 gateway failed */
	bool with_gw; /* task 0 is the gateway */
};

/* One host's run: its connection, lock and the time the current step began. */
struct hostrun {
	struct run *run;
	const struct dcv_host *h;
	struct dcv_ssh *c;
	struct dcv_ssh_hold *lock;
	long long t0;
	bool lost; /* transport failed: the host counts as unreachable */
};

struct unit {
	char active[24];
	char enabled[24];
};

const char *dcv_step_status_name(enum dcv_step_status s)
{
	switch (s) {
	case DCV_STEP_OK: return "ok";
	case DCV_STEP_CHANGED: return "changed";
	case DCV_STEP_FAILED: return "failed";
	case DCV_STEP_SKIPPED: return "skipped";
	}
	return "?";
}

static void step_begin(struct hostrun *hr)
{
	hr->t0 = dcv_now_ms();
}

static enum dcv_step_status step_end(struct hostrun *hr, const char *name, enum dcv_step_status st,
				     int err_code, char *diff, const char *fmt, ...)
	__attribute__((format(printf, 6, 7)));
static enum dcv_step_status step_end(struct hostrun *hr, const char *name, enum dcv_step_status st,
				     int err_code, char *diff, const char *fmt, ...)
{
	struct dcv_deploy_result *res = hr->run->res;
	struct dcv_step s = { 0 };
	struct dcv_buf b = DCV_BUF_INIT;
	va_list ap;

	snprintf(s.host, sizeof(s.host), "%s", hr->h->name);
	snprintf(s.name, sizeof(s.name), "%s", name);
	s.status = st;
	s.ms = (long)(dcv_now_ms() - hr->t0);
	va_start(ap, fmt);
	dcv_buf_vaddf(&b, fmt, ap);
	va_end(ap);
	s.detail = dcv_buf_detach(&b);
	s.diff = diff;
	s.err_code = err_code;
	if (dcv_err_is_transport(err_code))
		hr->lost = true;
	pthread_mutex_lock(&res->lock);
	res->steps = xrealloc(res->steps, sizeof(*res->steps) * (size_t)(res->n + 1));
	res->steps[res->n++] = s;
	if (st == DCV_STEP_OK)
		res->ok++;
	else if (st == DCV_STEP_CHANGED)
		res->changed++;
	else if (st == DCV_STEP_SKIPPED)
		res->skipped++;
	else
		res->failed++;
	if (hr->run->o->on_step)
		hr->run->o->on_step(hr->run->o->user, &res->steps[res->n - 1]);
	pthread_mutex_unlock(&res->lock);
	hr->t0 = dcv_now_ms();
	return st;
}

static bool failed_err(struct hostrun *hr, const char *name, const struct dcv_err *e)
{
	step_end(hr, name, DCV_STEP_FAILED, e->code, NULL, "%s", e->msg);
	return false;
}

/* connect + lock: false when the host cannot be worked on */
static bool host_open(struct hostrun *hr)
{
	struct dcv_err e = DCV_ERR_INIT;

	step_begin(hr);
	if (dcv_ssh_connect(hr->run->pool, hr->h, &hr->c, &e) != DCV_OK) {
		hr->c = NULL;
		return failed_err(hr, "connect", &e);
	}
	if (hr->run->o->dry_run)
		return true;
	if (dcv_remote_lock(hr->c, hr->h, hr->run->o->owner ? hr->run->o->owner : "dcvctl deploy",
			    &hr->lock, &e) != DCV_OK)
		return failed_err(hr, "lock", &e);
	return true;
}

static void host_close(struct hostrun *hr)
{
	if (hr->lost) {
		pthread_mutex_lock(&hr->run->res->lock);
		hr->run->res->unreachable++;
		pthread_mutex_unlock(&hr->run->res->lock);
	}
	dcv_remote_unlock(hr->lock);
	hr->lock = NULL;
}

/* ------------------------------------------------------------------ facts */

/* An agent's facts: its units and dcv.conf. */
struct facts {
	struct unit units[4];
	const char *unit_names[4];
	int n_units;
	bool file_exists;
	struct dcv_buf file;
};

static void facts_release(struct facts *f)
{
	dcv_buf_release(&f->file);
}

static struct unit *unit_of(struct facts *f, const char *name)
{
	for (int i = 0; i < f->n_units; i++)
		if (strcmp(f->unit_names[i], name) == 0)
			return &f->units[i];
	return NULL;
}

/* One round trip: unit states and the managed file. */
static int read_facts(struct hostrun *hr, const char *file, const char *const *units, int n_units,
		      struct facts *f, struct dcv_err *e)
{
	const struct dcv_host *h = hr->h;
	struct dcv_buf s = DCV_BUF_INIT, out = DCV_BUF_INIT;
	int status = 0, rc;
	char *save = NULL;

	memset(f, 0, sizeof(*f));
	for (int i = 0; i < n_units; i++)
		f->unit_names[i] = units[i];
	f->n_units = n_units;
	dcv_units_show_script(&s, units, n_units);
	dcv_buf_adds(&s, "f=");
	dcv_shquote(&s, file);
	dcv_buf_adds(&s, "; if [ -e \"$f\" ]; then printf 'file='; base64 -w0 < \"$f\"; echo; fi; exit 0");
	rc = dcv_remote_sh(hr->c, h, s.data, &out, NULL, &status, e);
	dcv_buf_release(&s);
	if (rc == DCV_OK && status != 0)
		rc = dcv_err_set(e, DCV_E_REMOTE, "cannot read the host's state (exit %d)", status);
	if (rc != DCV_OK || !out.data) {
		dcv_buf_release(&out);
		return rc;
	}
	struct dcv_unit_state st[4];
	dcv_units_parse(out.data, st, n_units);
	for (int i = 0; i < n_units; i++) {
		snprintf(f->units[i].active, sizeof(f->units[i].active), "%s", st[i].active);
		snprintf(f->units[i].enabled, sizeof(f->units[i].enabled), "%s", st[i].enabled);
	}
	for (char *l = strtok_r(out.data, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		if (strncmp(l, "file=", 5) == 0) {
			f->file_exists = true;
			if (!dcv_base64_decode(l + 5, strlen(l + 5), &f->file))
				rc = dcv_err_set(e, DCV_E_REMOTE, "cannot decode %s", file);
		}
	}
	dcv_buf_release(&out);
	return rc;
}

static bool unit_active(const struct unit *u)
{
	return u && strcmp(u->active, "active") == 0;
}

static bool unit_enabled(const struct unit *u)
{
	return u && strcmp(u->enabled, "enabled") == 0;
}

/* Run one systemctl verb on units; a failure's text goes to `msg` (empty when fine). */
static int systemctl(struct hostrun *hr, const char *verb, const char *const *units, int n,
		     struct dcv_buf *msg, struct dcv_err *e)
{
	struct dcv_buf s = DCV_BUF_INIT, out = DCV_BUF_INIT;
	int status = 0, rc;

	dcv_buf_adds(&s, "systemctl ");
	dcv_shquote(&s, verb);
	dcv_buf_adds(&s, " --");
	for (int i = 0; i < n; i++) {
		dcv_buf_addc(&s, ' ');
		dcv_shquote(&s, units[i]);
	}
	dcv_buf_adds(&s, " 2>&1");
	rc = dcv_remote_sh(hr->c, hr->h, s.data, &out, NULL, &status, e);
	if (rc == DCV_OK && status != 0) {
		dcv_buf_rtrim(&out);
		dcv_buf_addf(msg, "systemctl %s failed (exit %d)%s%s", verb, status, out.len ? ": " : "",
			     dcv_buf_str(&out));
	}
	dcv_buf_release(&s);
	dcv_buf_release(&out);
	return rc;
}

/* A file step: compare, diff, and write through the transaction. *changed tells whether the
 * file was (or, in a dry run, would be) rewritten. Secrets of `env` never reach a diff or a
 * message. */
static bool file_step(struct hostrun *hr, const char *name, const char *path, bool exists,
		      const struct dcv_buf *current, const char *want, const struct dcv_proxy_env *env,
		      const char *validate, const char *apply, bool *changed)
{
	struct dcv_buf d = DCV_BUF_INIT;
	struct dcv_err e = DCV_ERR_INIT;
	struct dcv_txn txn;
	char *old_label = xasprintf("%s:%s%s", hr->h->name, path, exists ? "" : " (absent)");
	char *new_label = xasprintf("%s:%s (rendered)", hr->h->name, path);
	bool differ = dcv_diff(dcv_buf_str(current), want, old_label, new_label, &d);

	free(old_label);
	free(new_label);
	dcv_proxy_redact(env, &d);
	*changed = differ;
	if (!differ) {
		dcv_buf_release(&d);
		step_end(hr, name, DCV_STEP_OK, 0, NULL, "%s is up to date", path);
		return true;
	}
	if (hr->run->o->dry_run) {
		step_end(hr, name, DCV_STEP_CHANGED, 0, dcv_buf_detach(&d), "would write %s", path);
		return true;
	}
	if (dcv_remote_write_file(hr->c, hr->h, path, want, strlen(want), NULL, validate, apply, &txn, &e) !=
	    DCV_OK) {
		dcv_buf_release(&d);
		return failed_err(hr, name, &e);
	}
	dcv_proxy_redact(env, &txn.output);
	if (txn.status == DCV_TXN_INVALID) {
		step_end(hr, name, DCV_STEP_FAILED, 0, dcv_buf_detach(&d),
			 "validation failed, previous %s put back and nothing reloaded: %s", path,
			 dcv_buf_str(&txn.output));
		dcv_txn_release(&txn);
		return false;
	}
	if (txn.status == DCV_TXN_APPLY_FAILED) {
		step_end(hr, name, DCV_STEP_FAILED, 0, dcv_buf_detach(&d), "%s written but reload failed: %s",
			 path, dcv_buf_str(&txn.output));
		dcv_txn_release(&txn);
		return false;
	}
	step_end(hr, name, DCV_STEP_CHANGED, 0, dcv_buf_detach(&d), "wrote %s%s%s", path,
		 txn.backup[0] ? ", backup " : "", txn.backup);
	dcv_txn_release(&txn);
	return true;
}

/* ------------------------------------------------------------------ gateway */

static const char *install_command(const struct dcv_proxy_kind *k, const char *os, struct dcv_buf *cmd)
{
	static const char *const rpm[] = { "amzn", "rhel", "centos", "fedora", "rocky", "almalinux", "ol" };
	static const char *const deb[] = { "ubuntu", "debian" };

	for (size_t i = 0; i < sizeof(rpm) / sizeof(rpm[0]); i++)
		if (strcmp(os, rpm[i]) == 0) {
			dcv_buf_addf(cmd, "if command -v dnf >/dev/null 2>&1; then dnf install -y %s; else yum install -y %s; fi",
				     k->package_rpm, k->package_rpm);
			return cmd->data;
		}
	for (size_t i = 0; i < sizeof(deb) / sizeof(deb[0]); i++)
		if (strcmp(os, deb[i]) == 0) {
			dcv_buf_addf(cmd, "DEBIAN_FRONTEND=noninteractive apt-get install -y %s", k->package_deb);
			return cmd->data;
		}
	return NULL;
}

struct gw {
	struct hostrun hr;
	const struct dcv_proxy_kind *k;
	struct dcv_gw_facts f;
	struct dcv_proxy_env env;
	char *secret;  /* a generated "user:password" of the stats page, held for the render */
	const char *stopped[DCV_FACTS_MAX_UNITS], *disabled[DCV_FACTS_MAX_UNITS];
	int n_stopped, n_disabled;
};

static bool gw_package(struct gw *g)
{
	struct hostrun *hr = &g->hr;
	struct dcv_buf out = DCV_BUF_INIT, cmd = DCV_BUF_INIT;
	struct dcv_err e = DCV_ERR_INIT;
	int status = 0;
	bool ok = true;

	if (g->f.has_binary) {
		step_end(hr, "package", DCV_STEP_OK, 0, NULL, "%s is installed", g->k->name);
	} else if (!install_command(g->k, g->f.os, &cmd)) {
		ok = step_end(hr, "package", DCV_STEP_FAILED, 0, NULL,
			      "%s is missing and the package manager of os '%s' is unknown: install %s by hand",
			      g->k->name, g->f.os, g->k->name) != DCV_STEP_FAILED;
	} else if (hr->run->o->dry_run) {
		step_end(hr, "package", DCV_STEP_CHANGED, 0, NULL, "would install %s (%s)", g->k->name, g->f.os);
	} else if (dcv_remote_sh(hr->c, hr->h, cmd.data, &out, &out, &status, &e) != DCV_OK) {
		ok = failed_err(hr, "package", &e);
	} else if (status != 0) {
		dcv_buf_rtrim(&out);
		const char *last = strrchr(dcv_buf_str(&out), '\n');
		ok = step_end(hr, "package", DCV_STEP_FAILED, 0, NULL, "installing %s failed (exit %d): %s",
			      g->k->name, status, last ? last + 1 : dcv_buf_str(&out)) != DCV_STEP_FAILED;
	} else {
		step_end(hr, "package", DCV_STEP_CHANGED, 0, NULL, "installed %s", g->k->name);
	}
	dcv_buf_release(&out);
	dcv_buf_release(&cmd);
	return ok;
}

static bool gw_cert(struct gw *g)
{
	struct hostrun *hr = &g->hr;
	const struct dcv_host *h = hr->h;
	const char *host = hr->run->inv->url ? hr->run->inv->url + 8 : "ENDPOINT-NAME";
	int hl = (int)strcspn(host, ":/");
	bool cert = g->f.cert_pem.len > 0;

	if (cert && g->f.key_readable) {
		step_end(hr, "cert", DCV_STEP_OK, 0, NULL, "%s and %s present", h->cert, h->key);
		return true;
	}
	step_end(hr, "cert", DCV_STEP_FAILED, 0, NULL,
		 "missing %s on %s: create a pair whose SAN is the endpoint name %.*s and install it with "
		 "`dcvctl cert generate --out ./gateway-cert --install` (or put your own at %s and %s)",
		 !cert ? h->cert : h->key, h->name, hl, host, h->cert, h->key);
	return false;
}

/* A password for the proxy's stats page: letters and digits only, since HAProxy 1.5 (Amazon
 * Linux 2) cannot quote. */
static char *random_token(size_t n)
{
	static const char alphabet[] = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
	unsigned char raw[64];
	char *t = xmalloc(n + 1);

	if (n > sizeof(raw) || getrandom(raw, n, 0) != (ssize_t)n)
		abort(); /* the kernel always has entropy for getrandom() after boot */
	for (size_t i = 0; i < n; i++)
		t[i] = alphabet[raw[i] % (sizeof(alphabet) - 1)];
	t[n] = '\0';
	explicit_bzero(raw, sizeof(raw));
	return t;
}

/* A file built on the gateway from what is there: the secret once, the cert+key file whenever
 * it differs from cert and key. Neither content is ever printed. */
static bool gw_derived(struct gw *g, int i)
{
	const struct dcv_proxy_derived *d = &g->k->derived[i];
	struct hostrun *hr = &g->hr;
	struct dcv_err e = DCV_ERR_INIT;
	struct dcv_buf s = DCV_BUF_INIT, out = DCV_BUF_INIT;
	struct dcv_txn txn;
	int status = 0;
	bool ok = true;

	if (d->how == DCV_DERIVE_SECRET) {
		if (g->f.stats_user) {
			/* the env already borrows them from the facts */
			step_end(hr, d->step, DCV_STEP_OK, 0, NULL, "%s kept (mode 600)", d->path);
			return true;
		}
		char *pw = random_token(24);
		g->secret = xasprintf("dcvctl:%s", pw);
		explicit_bzero(pw, strlen(pw));
		free(pw);
		if (hr->run->o->dry_run) {
			step_end(hr, d->step, DCV_STEP_CHANGED, 0, NULL, "would generate %s (mode 600)", d->path);
		} else if (dcv_remote_write_file(hr->c, hr->h, d->path, g->secret, strlen(g->secret), "600", NULL,
						 NULL, &txn, &e) != DCV_OK) {
			ok = failed_err(hr, d->step, &e);
		} else {
			dcv_txn_release(&txn);
			step_end(hr, d->step, DCV_STEP_CHANGED, 0, NULL, "generated %s (mode 600)", d->path);
		}
		if (ok) {
			char *colon = strchr(g->secret, ':');
			*colon = '\0';
			g->env.stats_user = g->secret;
			g->env.stats_password = colon + 1;
		}
		return ok;
	}
	if (g->f.derived_current[i]) {
		step_end(hr, d->step, DCV_STEP_OK, 0, NULL, "%s holds %s and its key", d->path, hr->h->cert);
		return true;
	}
	if (hr->run->o->dry_run) {
		step_end(hr, d->step, DCV_STEP_CHANGED, 0, NULL, "would write %s from %s and %s (mode 600)", d->path,
			 hr->h->cert, hr->h->key);
		return true;
	}
	/* root-only from the first byte: the umask applies before the key is written */
	dcv_buf_adds(&s, "set -e; umask 077; d=");
	dcv_shquote(&s, d->path);
	dcv_buf_adds(&s, "; t=$(mktemp \"$d.XXXXXX\"); cat ");
	dcv_shquote(&s, hr->h->cert);
	dcv_buf_addc(&s, ' ');
	dcv_shquote(&s, hr->h->key);
	dcv_buf_adds(&s, " > \"$t\"; chown root:root \"$t\" 2>/dev/null || true; mv -f \"$t\" \"$d\"");
	if (dcv_remote_sh(hr->c, hr->h, s.data, &out, &out, &status, &e) != DCV_OK) {
		ok = failed_err(hr, d->step, &e);
	} else if (status != 0) {
		dcv_buf_rtrim(&out);
		ok = step_end(hr, d->step, DCV_STEP_FAILED, 0, NULL, "cannot write %s: %s", d->path,
			      dcv_buf_str(&out)) != DCV_STEP_FAILED;
	} else {
		step_end(hr, d->step, DCV_STEP_CHANGED, 0, NULL, "wrote %s from %s and %s (mode 600)", d->path,
			 hr->h->cert, hr->h->key);
	}
	dcv_buf_release(&s);
	dcv_buf_release(&out);
	return ok;
}

/* Put back what the deploy stopped, after the proxy failed to take over. */
static void gw_rollback(struct gw *g, struct dcv_buf *note)
{
	struct hostrun *hr = &g->hr;
	struct dcv_err e = DCV_ERR_INIT;
	struct dcv_buf msg = DCV_BUF_INIT;
	const char *unit[] = { g->k->unit };

	systemctl(hr, "stop", unit, 1, &msg, &e);
	dcv_buf_reset(&msg);
	if (g->n_disabled)
		systemctl(hr, "enable", g->disabled, g->n_disabled, &msg, &e);
	dcv_buf_reset(&msg);
	if (g->n_stopped && systemctl(hr, "start", g->stopped, g->n_stopped, &msg, &e) == DCV_OK && !msg.len) {
		dcv_buf_adds(note, "; restarted");
		for (int i = 0; i < g->n_stopped; i++)
			dcv_buf_addf(note, " %s", g->stopped[i]);
		dcv_buf_adds(note, ", which serves as before");
	} else if (g->n_stopped) {
		dcv_buf_addf(note, "; could not restart the previous services: %s", msg.len ? msg.data : e.msg);
	}
	dcv_buf_release(&msg);
}

/* Stop and disable whatever of the kind's `stop` units runs or is enabled; absent units are fine. */
static bool gw_stop_others(struct gw *g)
{
	struct hostrun *hr = &g->hr;
	struct dcv_err e = DCV_ERR_INIT;
	struct dcv_buf msg = DCV_BUF_INIT, names = DCV_BUF_INIT;
	bool ok = true;

	for (int i = 0; g->k->stop[i]; i++) {
		const struct dcv_unit_state *u = dcv_gw_facts_unit(&g->f, g->k->stop[i]);
		if (dcv_unit_is_active(u))
			g->stopped[g->n_stopped++] = g->k->stop[i];
		if (dcv_unit_is_enabled(u))
			g->disabled[g->n_disabled++] = g->k->stop[i];
		dcv_buf_addf(&names, "%s%s", i ? ", " : "", g->k->stop[i]);
	}
	if (!g->n_stopped && !g->n_disabled) {
		step_end(hr, "legacy", DCV_STEP_OK, 0, NULL, "%s stopped and disabled (or absent)", names.data);
	} else if (hr->run->o->dry_run) {
		step_end(hr, "legacy", DCV_STEP_CHANGED, 0, NULL, "would stop %d and disable %d of %s", g->n_stopped,
			 g->n_disabled, names.data);
	} else if ((g->n_stopped && systemctl(hr, "stop", g->stopped, g->n_stopped, &msg, &e) != DCV_OK) ||
		   (!msg.len && g->n_disabled &&
		    systemctl(hr, "disable", g->disabled, g->n_disabled, &msg, &e) != DCV_OK)) {
		ok = failed_err(hr, "legacy", &e);
	} else if (msg.len) {
		gw_rollback(g, &msg);
		ok = step_end(hr, "legacy", DCV_STEP_FAILED, 0, NULL, "%s", msg.data) != DCV_STEP_FAILED;
	} else {
		step_end(hr, "legacy", DCV_STEP_CHANGED, 0, NULL, "stopped %d, disabled %d of %s", g->n_stopped,
			 g->n_disabled, names.data);
	}
	dcv_buf_release(&msg);
	dcv_buf_release(&names);
	return ok;
}

static bool gw_service(struct gw *g, bool reloaded)
{
	struct hostrun *hr = &g->hr;
	const struct dcv_unit_state *u = dcv_gw_facts_unit(&g->f, g->k->unit);
	const char *unit[] = { g->k->unit };
	struct dcv_err e = DCV_ERR_INIT;
	struct dcv_buf msg = DCV_BUF_INIT;
	bool ok = true, active = dcv_unit_is_active(u), enabled = dcv_unit_is_enabled(u);

	if (active && enabled) {
		step_end(hr, "service", DCV_STEP_OK, 0, NULL, "%s active and enabled%s", g->k->unit,
			 reloaded ? " (reloaded)" : "");
	} else if (hr->run->o->dry_run) {
		step_end(hr, "service", DCV_STEP_CHANGED, 0, NULL, "would %s %s", active ? "enable" : "start and enable",
			 g->k->unit);
	} else if ((!active && systemctl(hr, "start", unit, 1, &msg, &e) != DCV_OK) ||
		   (!msg.len && !enabled && systemctl(hr, "enable", unit, 1, &msg, &e) != DCV_OK)) {
		ok = failed_err(hr, "service", &e);
	} else if (msg.len) {
		gw_rollback(g, &msg);
		ok = step_end(hr, "service", DCV_STEP_FAILED, 0, NULL, "%s", msg.data) != DCV_STEP_FAILED;
	} else {
		step_end(hr, "service", DCV_STEP_CHANGED, 0, NULL, "%s %s", g->k->unit,
			 active ? "enabled" : "started and enabled");
	}
	dcv_buf_release(&msg);
	return ok;
}

/* The proxy really holds the port (within 5 s). */
static bool gw_listen(struct gw *g)
{
	struct hostrun *hr = &g->hr;
	const struct dcv_host *gw = hr->h;
	struct dcv_err e = DCV_ERR_INIT;
	struct dcv_buf out = DCV_BUF_INIT, msg = DCV_BUF_INIT, s = DCV_BUF_INIT;
	int status = 0;
	bool ok = true;

	if (hr->run->o->dry_run) {
		step_end(hr, "listen", DCV_STEP_OK, 0, NULL, "would check that %s listens on %d", g->k->process,
			 gw->listen);
		return true;
	}
	dcv_buf_addf(&s,
		     "i=0; while [ $i -lt 25 ]; do s=$(ss -Htlnp 'sport = :%d' 2>/dev/null); "
		     "case \"$s\" in *'\"%s\"'*) echo ok; exit 0;; esac; i=$((i+1)); sleep 0.2; done; "
		     "printf '%%s\\n' \"${s:-nothing}\"; exit 1",
		     gw->listen, g->k->process);
	if (dcv_remote_sh(hr->c, gw, s.data, &out, NULL, &status, &e) != DCV_OK) {
		ok = failed_err(hr, "listen", &e);
	} else if (status != 0) {
		dcv_buf_rtrim(&out);
		dcv_buf_addf(&msg, "%s does not listen on %d (ss: %s)", g->k->process, gw->listen, dcv_buf_str(&out));
		gw_rollback(g, &msg);
		ok = step_end(hr, "listen", DCV_STEP_FAILED, 0, NULL, "%s", msg.data) != DCV_STEP_FAILED;
	} else {
		step_end(hr, "listen", DCV_STEP_OK, 0, NULL, "%s listens on %d", g->k->process, gw->listen);
	}
	dcv_buf_release(&out);
	dcv_buf_release(&msg);
	dcv_buf_release(&s);
	return ok;
}

/* The new proxy is installed and validated while the old one still serves; only then are
 * the units holding the port stopped, and if the new one does not come up they start again. */
static bool deploy_gateway(struct run *r, const struct dcv_host *h)
{
	struct gw g = { .hr = { r, h, NULL, NULL, 0, false }, .k = dcv_proxy_kind(h->proxy) };
	struct dcv_err e = DCV_ERR_INIT;
	struct dcv_buf want = DCV_BUF_INIT;
	bool changed = false, ok = false;

	if (!host_open(&g.hr))
		goto out;
	if (dcv_gw_facts_read(g.hr.c, h, g.k, false, &g.f, &e) != DCV_OK) {
		failed_err(&g.hr, "facts", &e);
		goto out;
	}
	dcv_gw_facts_env(&g.f, &g.env);
	ok = gw_package(&g) && gw_cert(&g);
	for (int i = 0; ok && i < g.k->n_derived; i++)
		ok = gw_derived(&g, i);
	if (!ok)
		goto out;
	g.k->render(r->inv, &g.env, &want);
	/* the validator checks the whole configuration; only a running proxy is reloaded (a
	 * stopped one is started below, once the units holding the port have let it go) */
	ok = file_step(&g.hr, "config", g.k->config, g.f.config_exists, &g.f.config, want.data, &g.env,
		       g.k->validate, g.k->reload, &changed) &&
	     gw_stop_others(&g) && gw_service(&g, changed) && gw_listen(&g);
out:
	dcv_gw_facts_release(&g.f);
	host_close(&g.hr);
	if (want.data)
		explicit_bzero(want.data, want.len);
	dcv_buf_release(&want);
	if (g.secret)
		explicit_bzero(g.secret, strlen(g.secret));
	free(g.secret);
	return ok;
}

/* ------------------------------------------------------------------ agents */

static void agent_session(struct hostrun *hr, bool restarted)
{
	static const char *const verb[] = { "", "created", "recreated" };
	const struct dcv_host *h = hr->h;
	struct dcv_sessions list = { 0 };
	struct dcv_session_ensure plan;
	struct dcv_err e = DCV_ERR_INIT;

	if (hr->run->o->dry_run && restarted) {
		step_end(hr, "session", DCV_STEP_CHANGED, 0, NULL,
			 "would create session '%s' after the dcvserver restart", h->session);
		return;
	}
	if (dcv_agent_sessions(hr->c, h, &list, &e) != DCV_OK) {
		failed_err(hr, "session", &e);
		return;
	}
	dcv_session_ensure_plan(h, &list, &plan);
	dcv_sessions_release(&list);
	if (plan.action == DCV_SESSION_NONE)
		step_end(hr, "session", DCV_STEP_OK, 0, NULL, "%s", plan.reason);
	else if (hr->run->o->dry_run)
		step_end(hr, "session", DCV_STEP_CHANGED, 0, NULL, "would %s session '%s'",
			 plan.action == DCV_SESSION_RECREATE ? "recreate" : "create", h->session);
	else if (dcv_agent_session_ensure(hr->c, h, plan.action, &e) != DCV_OK)
		failed_err(hr, "session", &e);
	else
		step_end(hr, "session", DCV_STEP_CHANGED, 0, NULL, "%s session '%s' (owner %s, %s)",
			 verb[plan.action], h->session, h->session_owner, h->session_type);
}

/* The Session Manager agent: the bypass does without it. */
static bool agent_sm(struct hostrun *hr, struct facts *f)
{
	struct unit *sm = unit_of(f, SM_AGENT);
	const char *u[] = { SM_AGENT };
	struct dcv_err e = DCV_ERR_INIT;
	struct dcv_buf msg = DCV_BUF_INIT;
	bool ok = true;

	if (!unit_active(sm) && !unit_enabled(sm))
		step_end(hr, "sm-agent", DCV_STEP_OK, 0, NULL, "%s stopped and disabled (or absent)", SM_AGENT);
	else if (hr->run->o->dry_run)
		step_end(hr, "sm-agent", DCV_STEP_CHANGED, 0, NULL, "would stop and disable %s", SM_AGENT);
	else if ((unit_active(sm) && systemctl(hr, "stop", u, 1, &msg, &e) != DCV_OK) ||
		 (!msg.len && unit_enabled(sm) && systemctl(hr, "disable", u, 1, &msg, &e) != DCV_OK))
		ok = failed_err(hr, "sm-agent", &e);
	else if (msg.len)
		ok = step_end(hr, "sm-agent", DCV_STEP_FAILED, 0, NULL, "%s", msg.data) != DCV_STEP_FAILED;
	else
		step_end(hr, "sm-agent", DCV_STEP_CHANGED, 0, NULL, "stopped and disabled %s", SM_AGENT);
	dcv_buf_release(&msg);
	return ok;
}

/* dcvserver reads dcv.conf at start: restart only when it changed (or start a stopped one). */
static bool agent_server(struct hostrun *hr, struct facts *f, bool conf_changed, bool *restarted)
{
	struct unit *srv = unit_of(f, "dcvserver");
	const char *dcvserver[] = { "dcvserver" };
	struct dcv_err e = DCV_ERR_INIT;
	struct dcv_buf msg = DCV_BUF_INIT;
	bool ok = true;

	*restarted = false;
	if (!conf_changed && unit_active(srv)) {
		step_end(hr, "dcvserver", DCV_STEP_OK, 0, NULL, "dcvserver active, dcv.conf unchanged");
	} else if (hr->run->o->dry_run) {
		*restarted = true;
		step_end(hr, "dcvserver", DCV_STEP_CHANGED, 0, NULL, "would %s dcvserver",
			 unit_active(srv) ? "restart" : "start");
	} else if (systemctl(hr, unit_active(srv) ? "restart" : "start", dcvserver, 1, &msg, &e) != DCV_OK) {
		ok = failed_err(hr, "dcvserver", &e);
	} else if (msg.len) {
		ok = step_end(hr, "dcvserver", DCV_STEP_FAILED, 0, NULL, "%s", msg.data) != DCV_STEP_FAILED;
	} else {
		*restarted = true;
		/* not enabled, dcvserver would not come back after a reboot: that is a failure too */
		if (!unit_enabled(srv) && systemctl(hr, "enable", dcvserver, 1, &msg, &e) != DCV_OK)
			ok = failed_err(hr, "dcvserver", &e);
		else if (msg.len)
			ok = step_end(hr, "dcvserver", DCV_STEP_FAILED, 0, NULL, "dcvserver %s, but %s",
				      unit_active(srv) ? "restarted" : "started", msg.data) != DCV_STEP_FAILED;
		else
			step_end(hr, "dcvserver", DCV_STEP_CHANGED, 0, NULL, "dcvserver %s",
				 unit_active(srv) ? "restarted (dcv.conf changed)" : "started");
	}
	dcv_buf_release(&msg);
	return ok;
}

static void deploy_agent(struct run *r, const struct dcv_host *h)
{
	struct hostrun hr = { r, h, NULL, NULL, 0, false };
	const char *units[] = { SM_AGENT, "dcvserver" };
	struct facts f;
	struct dcv_err e = DCV_ERR_INIT;
	struct dcv_buf want = DCV_BUF_INIT;
	bool conf_changed = false, restarted = false;

	memset(&f, 0, sizeof(f));
	if (!host_open(&hr))
		goto out;
	if (read_facts(&hr, DCV_DCV_CONF, units, 2, &f, &e) != DCV_OK) {
		failed_err(&hr, "facts", &e);
		goto out;
	}
	pthread_mutex_lock(&r->gate_lock);
	while (r->gate == 0)
		pthread_cond_wait(&r->gate_cond, &r->gate_lock);
	int gate = r->gate;
	pthread_mutex_unlock(&r->gate_lock);
	if (gate < 0) {
		step_end(&hr, "wait", DCV_STEP_SKIPPED, 0, NULL,
			 "left as it was: the gateway failed, so the previous path keeps serving");
		goto out;
	}
	dcv_render_dcvconf(dcv_buf_str(&f.file), h, true, &want);
	if (agent_sm(&hr, &f) &&
	    file_step(&hr, "dcv.conf", DCV_DCV_CONF, f.file_exists, &f.file, want.data, NULL, NULL, NULL,
		      &conf_changed) &&
	    agent_server(&hr, &f, conf_changed, &restarted))
		agent_session(&hr, restarted);
out:
	facts_release(&f);
	host_close(&hr);
	dcv_buf_release(&want);
}

static void open_gate(struct run *r, bool ok)
{
	pthread_mutex_lock(&r->gate_lock);
	r->gate = ok ? 1 : -1;
	pthread_cond_broadcast(&r->gate_cond);
	pthread_mutex_unlock(&r->gate_lock);
}

/* Task 0 is the gateway (when deployed), the others the agents. */
static void worker(void *user, int i)
{
	struct run *r = user;
	if (r->with_gw && i == 0)
		open_gate(r, deploy_gateway(r, dcv_inventory_gateway(r->inv)));
	else
		deploy_agent(r, r->agents[r->with_gw ? i - 1 : i]);
}

int dcv_deploy(const struct dcv_inventory *inv, struct dcv_ssh_pool *pool,
	       const struct dcv_deploy_opts *opts, struct dcv_deploy_result *res, struct dcv_err *err)
{
	const struct dcv_host *gw = dcv_inventory_gateway(inv);
	const char *only = opts->only;
	struct run r = { inv, pool, opts, res, NULL, 0 };
	bool do_gw;

	memset(res, 0, sizeof(*res));
	pthread_mutex_init(&res->lock, NULL);
	if (gw && !dcv_proxy_kind(gw->proxy))
		return dcv_err_set(err, DCV_E_CONFIG, "%s: proxy = %s: this dcvctl does not deploy it yet",
				   inv->path, dcv_proxy_name(gw->proxy));
	if (only && strcmp(only, "gateway") != 0 && strcmp(only, "agents") != 0) {
		const struct dcv_host *h = dcv_inventory_host(inv, only);
		if (!h || (h->role != DCV_ROLE_GATEWAY && h->role != DCV_ROLE_AGENT))
			return dcv_err_set(err, DCV_E_USAGE,
					   "--only %s: expected 'gateway', 'agents' or an agent name", only);
	}
	if (!gw && (!only || strcmp(only, "gateway") == 0))
		return dcv_err_set(err, DCV_E_CONFIG, "%s: no [gateway] to deploy", inv->path);
	do_gw = gw && (!only || strcmp(only, "gateway") == 0 || strcmp(only, gw->name) == 0);

	r.agents = xcalloc((size_t)inv->n_hosts, sizeof(*r.agents));
	for (int i = 0; i < inv->n_hosts; i++) {
		const struct dcv_host *h = inv->hosts[i];
		if (h->role == DCV_ROLE_AGENT &&
		    (!only || strcmp(only, "agents") == 0 || strcmp(only, h->name) == 0))
			r.agents[r.n_agents++] = h;
	}
	res->hosts = (do_gw ? 1 : 0) + r.n_agents;
	pthread_mutex_init(&r.gate_lock, NULL);
	pthread_cond_init(&r.gate_cond, NULL);
	r.gate = do_gw ? 0 : 1;
	r.with_gw = do_gw;
	dcv_parallel(res->hosts, res->hosts, worker, &r);
	pthread_mutex_destroy(&r.gate_lock);
	pthread_cond_destroy(&r.gate_cond);
	free(r.agents);
	return DCV_OK;
}

void dcv_deploy_result_release(struct dcv_deploy_result *res)
{
	for (int i = 0; i < res->n; i++) {
		free(res->steps[i].detail);
		free(res->steps[i].diff);
	}
	free(res->steps);
	pthread_mutex_destroy(&res->lock);
	memset(res, 0, sizeof(*res));
}
