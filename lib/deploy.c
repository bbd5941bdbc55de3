/* The deploy of seed Phase 1 (nginx bypass): gateway first, so a failure there leaves the
 * previous path (Connection Gateway) serving and the agents untouched; then the agents in
 * parallel. Every step is idempotent: it reads the host's state and changes only what differs. */
#include "deploy.h"

#include "agent.h"
#include "buf.h"
#include "diff.h"
#include "err.h"
#include "inventory.h"
#include "remote.h"
#include "render.h"
#include "service.h"
#include "ssh.h"
#include "util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LEGACY_GW_1 "dcv-connection-gateway"
#define LEGACY_GW_2 "dcv-session-manager-broker"
#define SM_AGENT "dcv-session-manager-agent"

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

struct facts {
	char os[32];
	bool has_nginx;
	bool cert, key;
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

/* One round trip: OS, nginx presence, cert/key, unit states and the managed file. */
static int read_facts(struct hostrun *hr, const char *file, const char *const *units, int n_units,
		      struct facts *f, struct dcv_err *e)
{
	const struct dcv_host *h = hr->h;
	struct dcv_buf s = DCV_BUF_INIT, out = DCV_BUF_INIT;
	int status = 0, rc;
	char *save = NULL;

	memset(f, 0, sizeof(*f));
	dcv_buf_adds(&s, "(. /etc/os-release 2>/dev/null; echo \"os=${ID:-unknown}\"); "
			 "command -v nginx >/dev/null 2>&1 && echo nginx=yes; ");
	if (h->role == DCV_ROLE_GATEWAY) {
		dcv_buf_adds(&s, "[ -r ");
		dcv_shquote(&s, h->cert);
		dcv_buf_adds(&s, " ] && echo cert=yes; [ -r ");
		dcv_shquote(&s, h->key);
		dcv_buf_adds(&s, " ] && echo key=yes; ");
	}
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
		if (strncmp(l, "os=", 3) == 0) {
			snprintf(f->os, sizeof(f->os), "%s", l + 3);
		} else if (strcmp(l, "nginx=yes") == 0) {
			f->has_nginx = true;
		} else if (strcmp(l, "cert=yes") == 0) {
			f->cert = true;
		} else if (strcmp(l, "key=yes") == 0) {
			f->key = true;
		} else if (strncmp(l, "file=", 5) == 0) {
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
 * file was (or, in a dry run, would be) rewritten. */
static bool file_step(struct hostrun *hr, const char *name, const char *path, struct facts *f,
		      const char *want, const char *validate, const char *apply, bool *changed)
{
	struct dcv_buf d = DCV_BUF_INIT;
	struct dcv_err e = DCV_ERR_INIT;
	struct dcv_txn txn;
	char *old_label = xasprintf("%s:%s%s", hr->h->name, path, f->file_exists ? "" : " (absent)");
	char *new_label = xasprintf("%s:%s (rendered)", hr->h->name, path);
	bool differ = dcv_diff(dcv_buf_str(&f->file), want, old_label, new_label, &d);

	free(old_label);
	free(new_label);
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
	if (dcv_remote_write_file(hr->c, hr->h, path, want, strlen(want), NULL, validate, apply,
				  &txn, &e) !=
	    DCV_OK) {
		dcv_buf_release(&d);
		return failed_err(hr, name, &e);
	}
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

static const char *install_command(const char *os)
{
	static const char *const rpm[] = { "amzn", "rhel", "centos", "fedora", "rocky", "almalinux", "ol" };
	static const char *const deb[] = { "ubuntu", "debian" };

	for (size_t i = 0; i < sizeof(rpm) / sizeof(rpm[0]); i++)
		if (strcmp(os, rpm[i]) == 0)
			return "if command -v dnf >/dev/null 2>&1; then dnf install -y nginx; else yum install -y nginx; fi";
	for (size_t i = 0; i < sizeof(deb) / sizeof(deb[0]); i++)
		if (strcmp(os, deb[i]) == 0)
			return "DEBIAN_FRONTEND=noninteractive apt-get install -y nginx";
	return NULL;
}

static bool gw_package(struct hostrun *hr, struct facts *f)
{
	struct dcv_buf out = DCV_BUF_INIT;
	struct dcv_err e = DCV_ERR_INIT;
	const char *cmd;
	int status = 0;

	if (f->has_nginx) {
		step_end(hr, "package", DCV_STEP_OK, 0, NULL, "nginx is installed");
		return true;
	}
	cmd = install_command(f->os);
	if (!cmd) {
		step_end(hr, "package", DCV_STEP_FAILED, 0, NULL,
			 "nginx is missing and the package manager of os '%s' is unknown: install nginx by hand",
			 f->os);
		return false;
	}
	if (hr->run->o->dry_run) {
		step_end(hr, "package", DCV_STEP_CHANGED, 0, NULL, "would install nginx (%s)", f->os);
		return true;
	}
	if (dcv_remote_sh(hr->c, hr->h, cmd, &out, &out, &status, &e) != DCV_OK) {
		dcv_buf_release(&out);
		return failed_err(hr, "package", &e);
	}
	dcv_buf_rtrim(&out);
	if (status != 0) {
		const char *last = strrchr(dcv_buf_str(&out), '\n');
		step_end(hr, "package", DCV_STEP_FAILED, 0, NULL, "installing nginx failed (exit %d): %s",
			 status, last ? last + 1 : dcv_buf_str(&out));
		dcv_buf_release(&out);
		return false;
	}
	dcv_buf_release(&out);
	step_end(hr, "package", DCV_STEP_CHANGED, 0, NULL, "installed nginx");
	return true;
}

static bool gw_cert(struct hostrun *hr, struct facts *f)
{
	const struct dcv_host *h = hr->h;
	const char *host = hr->run->inv->url ? hr->run->inv->url + 8 : "ENDPOINT-NAME";
	int hl = (int)strcspn(host, ":/");

	if (f->cert && f->key) {
		step_end(hr, "cert", DCV_STEP_OK, 0, NULL, "%s and %s present", h->cert, h->key);
		return true;
	}
	step_end(hr, "cert", DCV_STEP_FAILED, 0, NULL,
		 "missing %s on %s: create a pair whose SAN is the endpoint name %.*s and install it with "
		 "`dcvctl cert generate --out ./gateway-cert --install` (or put your own at %s and %s)",
		 !f->cert ? h->cert : h->key, h->name, hl, host, h->cert, h->key);
	return false;
}

/* Put back what the deploy stopped, after nginx failed to take over. */
static void gw_rollback(struct hostrun *hr, const char *const *stopped, int n_stopped,
			const char *const *disabled, int n_disabled, struct dcv_buf *note)
{
	struct dcv_err e = DCV_ERR_INIT;
	struct dcv_buf msg = DCV_BUF_INIT;
	const char *nginx[] = { "nginx" };

	systemctl(hr, "stop", nginx, 1, &msg, &e);
	dcv_buf_reset(&msg);
	if (n_disabled)
		systemctl(hr, "enable", disabled, n_disabled, &msg, &e);
	dcv_buf_reset(&msg);
	if (n_stopped && systemctl(hr, "start", stopped, n_stopped, &msg, &e) == DCV_OK && !msg.len) {
		dcv_buf_adds(note, "; restarted");
		for (int i = 0; i < n_stopped; i++)
			dcv_buf_addf(note, " %s", stopped[i]);
	} else if (n_stopped) {
		dcv_buf_addf(note, "; could not restart the previous services: %s",
			     msg.len ? msg.data : e.msg);
	}
	dcv_buf_release(&msg);
}

/* Stop and disable what runs or is enabled of the legacy units; absent units are fine. */
static bool gw_legacy(struct hostrun *hr, struct facts *f, const char **stopped, int *n_stopped,
		      const char **disabled, int *n_disabled)
{
	static const char *const legacy[] = { LEGACY_GW_1, LEGACY_GW_2 };
	struct dcv_err e = DCV_ERR_INIT;
	struct dcv_buf msg = DCV_BUF_INIT;
	bool ok = true;

	for (int i = 0; i < 2; i++) {
		struct unit *u = unit_of(f, legacy[i]);
		if (unit_active(u))
			stopped[(*n_stopped)++] = legacy[i];
		if (unit_enabled(u))
			disabled[(*n_disabled)++] = legacy[i];
	}
	if (!*n_stopped && !*n_disabled) {
		step_end(hr, "legacy", DCV_STEP_OK, 0, NULL, "%s and %s stopped and disabled (or absent)",
			 LEGACY_GW_1, LEGACY_GW_2);
	} else if (hr->run->o->dry_run) {
		step_end(hr, "legacy", DCV_STEP_CHANGED, 0, NULL, "would stop %d and disable %d of %s, %s",
			 *n_stopped, *n_disabled, LEGACY_GW_1, LEGACY_GW_2);
	} else if ((*n_stopped && systemctl(hr, "stop", stopped, *n_stopped, &msg, &e) != DCV_OK) ||
		   (!msg.len && *n_disabled &&
		    systemctl(hr, "disable", disabled, *n_disabled, &msg, &e) != DCV_OK)) {
		ok = failed_err(hr, "legacy", &e);
	} else if (msg.len) {
		step_end(hr, "legacy", DCV_STEP_FAILED, 0, NULL, "%s", msg.data);
		ok = false;
	} else {
		step_end(hr, "legacy", DCV_STEP_CHANGED, 0, NULL, "stopped %d, disabled %d of %s, %s",
			 *n_stopped, *n_disabled, LEGACY_GW_1, LEGACY_GW_2);
	}
	dcv_buf_release(&msg);
	return ok;
}

static bool gw_service(struct hostrun *hr, struct facts *f, bool reloaded, const char **stopped,
		       int n_stopped, const char **disabled, int n_disabled)
{
	struct unit *ng = unit_of(f, "nginx");
	const char *nginx[] = { "nginx" };
	struct dcv_err e = DCV_ERR_INIT;
	struct dcv_buf msg = DCV_BUF_INIT;
	bool ok = true;

	if (unit_active(ng) && unit_enabled(ng)) {
		step_end(hr, "service", DCV_STEP_OK, 0, NULL, "nginx active and enabled%s",
			 reloaded ? " (reloaded)" : "");
	} else if (hr->run->o->dry_run) {
		step_end(hr, "service", DCV_STEP_CHANGED, 0, NULL, "would %s nginx",
			 unit_active(ng) ? "enable" : "start and enable");
	} else if ((!unit_active(ng) && systemctl(hr, "start", nginx, 1, &msg, &e) != DCV_OK) ||
		   (!msg.len && !unit_enabled(ng) && systemctl(hr, "enable", nginx, 1, &msg, &e) != DCV_OK)) {
		ok = failed_err(hr, "service", &e);
	} else if (msg.len) {
		gw_rollback(hr, stopped, n_stopped, disabled, n_disabled, &msg);
		step_end(hr, "service", DCV_STEP_FAILED, 0, NULL, "%s", msg.data);
		ok = false;
	} else {
		step_end(hr, "service", DCV_STEP_CHANGED, 0, NULL, "nginx %s",
			 unit_active(ng) ? "enabled" : "started and enabled");
	}
	dcv_buf_release(&msg);
	return ok;
}

/* The proxy really holds the port (within 5 s). */
static bool gw_listen(struct hostrun *hr, const char **stopped, int n_stopped,
		      const char **disabled, int n_disabled)
{
	const struct dcv_host *gw = hr->h;
	struct dcv_err e = DCV_ERR_INIT;
	struct dcv_buf out = DCV_BUF_INIT, msg = DCV_BUF_INIT;
	char script[512];
	int status = 0;
	bool ok = true;

	if (hr->run->o->dry_run) {
		step_end(hr, "listen", DCV_STEP_OK, 0, NULL, "would check that nginx listens on %d", gw->listen);
		return true;
	}
	snprintf(script, sizeof(script),
		 "i=0; while [ $i -lt 25 ]; do s=$(ss -Htlnp 'sport = :%d' 2>/dev/null); "
		 "case \"$s\" in *'\"nginx\"'*) echo ok; exit 0;; esac; i=$((i+1)); sleep 0.2; done; "
		 "printf '%%s\\n' \"${s:-nothing}\"; exit 1",
		 gw->listen);
	if (dcv_remote_sh(hr->c, gw, script, &out, NULL, &status, &e) != DCV_OK) {
		ok = failed_err(hr, "listen", &e);
	} else if (status != 0) {
		dcv_buf_rtrim(&out);
		dcv_buf_addf(&msg, "nginx does not listen on %d (ss: %s)", gw->listen, dcv_buf_str(&out));
		gw_rollback(hr, stopped, n_stopped, disabled, n_disabled, &msg);
		step_end(hr, "listen", DCV_STEP_FAILED, 0, NULL, "%s", msg.data);
		ok = false;
	} else {
		step_end(hr, "listen", DCV_STEP_OK, 0, NULL, "nginx listens on %d", gw->listen);
	}
	dcv_buf_release(&out);
	dcv_buf_release(&msg);
	return ok;
}

static bool deploy_gateway(struct run *r, const struct dcv_host *gw)
{
	struct hostrun hr = { r, gw, NULL, NULL, 0, false };
	const char *units[] = { LEGACY_GW_1, LEGACY_GW_2, "nginx" };
	const char *stopped[2], *disabled[2];
	int n_stopped = 0, n_disabled = 0;
	struct facts f;
	struct dcv_err e = DCV_ERR_INIT;
	struct dcv_buf want = DCV_BUF_INIT;
	bool changed = false, ok = false;

	memset(&f, 0, sizeof(f));
	if (!host_open(&hr))
		goto out;
	if (read_facts(&hr, DCV_NGINX_CONF, units, 3, &f, &e) != DCV_OK) {
		failed_err(&hr, "facts", &e);
		goto out;
	}
	dcv_render_nginx(r->inv, &want);
	/* nginx -t checks the whole configuration; only a running nginx is reloaded (a stopped
	 * one is started below, once the legacy gateway has freed the port). */
	ok = gw_package(&hr, &f) && gw_cert(&hr, &f) &&
	     file_step(&hr, "config", DCV_NGINX_CONF, &f, want.data, "nginx -t",
		       "if systemctl is-active --quiet nginx; then systemctl reload nginx; fi", &changed) &&
	     gw_legacy(&hr, &f, stopped, &n_stopped, disabled, &n_disabled) &&
	     gw_service(&hr, &f, changed, stopped, n_stopped, disabled, n_disabled) &&
	     gw_listen(&hr, stopped, n_stopped, disabled, n_disabled);
out:
	facts_release(&f);
	host_close(&hr);
	dcv_buf_release(&want);
	return ok;
}

/* ------------------------------------------------------------------ agents */

static void agent_session(struct hostrun *hr, bool restarted)
{
	const struct dcv_host *h = hr->h;
	struct dcv_sessions list = { 0 };
	struct dcv_err e = DCV_ERR_INIT;
	const struct dcv_session *s;

	if (hr->run->o->dry_run && restarted) {
		step_end(hr, "session", DCV_STEP_CHANGED, 0, NULL,
			 "would create session '%s' after the dcvserver restart", h->session);
		return;
	}
	if (dcv_agent_sessions(hr->c, h, &list, &e) != DCV_OK) {
		failed_err(hr, "session", &e);
		return;
	}
	s = dcv_sessions_find(&list, h->session);
	if (s && dcv_agent_session_matches(h, s))
		step_end(hr, "session", DCV_STEP_OK, 0, NULL, "session '%s' (owner %s, %s) exists",
			 h->session, h->session_owner, h->session_type);
	else if (hr->run->o->dry_run)
		step_end(hr, "session", DCV_STEP_CHANGED, 0, NULL, "would %s session '%s'",
			 s ? "recreate" : "create", h->session);
	else if (s && dcv_agent_session_close(hr->c, h, h->session, &e) != DCV_OK)
		failed_err(hr, "session", &e);
	else if (dcv_agent_session_create(hr->c, h, &e) != DCV_OK)
		failed_err(hr, "session", &e);
	else
		step_end(hr, "session", DCV_STEP_CHANGED, 0, NULL, "%s session '%s' (owner %s, %s)",
			 s ? "recreated" : "created", h->session, h->session_owner, h->session_type);
	dcv_sessions_release(&list);
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
	    file_step(&hr, "dcv.conf", DCV_DCV_CONF, &f, want.data, NULL, NULL, &conf_changed) &&
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
	if (gw && gw->proxy != DCV_PROXY_NGINX)
		return dcv_err_set(err, DCV_E_CONFIG, "%s: proxy = %s: this dcvctl deploys the nginx bypass only",
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
