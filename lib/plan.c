/* Deploy's decisions, apart from its actions: every step's before/after, the reason and the
 * line a dry run reports are worked out here from facts already read, so a plan can be tested
 * with canned facts and printed without touching a host. */
#include "plan.h"

#include "diff.h"
#include "err.h"
#include "inventory.h"
#include "lint.h"
#include "maint.h"
#include "proxy_gateway.h"
#include "remote.h"
#include "render.h"
#include "util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define SM_AGENT DCV_UNIT_SM_AGENT

static struct dcv_plan_step *add(struct dcv_plan *p, enum dcv_plan_op op, const char *name, const char *target)
{
	struct dcv_plan_step *s;

	p->steps = xrealloc(p->steps, sizeof(*p->steps) * (size_t)(p->n + 1));
	s = &p->steps[p->n++];
	memset(s, 0, sizeof(*s));
	s->op = op;
	s->name = name;
	s->target = target ? xstrdup(target) : NULL;
	return s;
}

static char *vfmt(const char *fmt, va_list ap)
{
	struct dcv_buf b = DCV_BUF_INIT;

	dcv_buf_vaddf(&b, fmt, ap);
	return dcv_buf_detach(&b);
}

/* Nothing to do: `detail` says what was found. */
static void keep(struct dcv_plan_step *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void keep(struct dcv_plan_step *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	s->detail = vfmt(fmt, ap);
	va_end(ap);
}

/* A change, for `reason`; `detail` says what would be done. */
static void change(struct dcv_plan_step *s, const char *reason, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void change(struct dcv_plan_step *s, const char *reason, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	s->detail = vfmt(fmt, ap);
	va_end(ap);
	s->reason = xstrdup(reason);
	s->change = true;
}

static void block(struct dcv_plan_step *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void block(struct dcv_plan_step *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	s->detail = vfmt(fmt, ap);
	va_end(ap);
	s->blocked = true;
}

static char *state_word(const struct dcv_unit_state *u)
{
	return xasprintf("%s %s", u && *u->active ? u->active : "unknown", u && *u->enabled ? u->enabled : "unknown");
}

/* A managed file: compare and diff; secrets of `env` never reach the diff. */
static struct dcv_plan_step *file(struct dcv_plan *p, const char *name, const char *path, bool exists,
				  const struct dcv_buf *current, const char *want)
{
	struct dcv_plan_step *s = add(p, DCV_OP_FILE, name, path);
	struct dcv_buf d = DCV_BUF_INIT;
	char *old_label = xasprintf("%s:%s%s", p->host->name, path, exists ? "" : " (absent)");
	char *new_label = xasprintf("%s:%s (rendered)", p->host->name, path);
	bool differ = dcv_diff(dcv_buf_str(current), want, old_label, new_label, &d);

	free(old_label);
	free(new_label);
	s->before = exists ? xstrdup(dcv_buf_str(current)) : NULL;
	s->after = xstrdup(want);
	if (!differ) {
		dcv_buf_release(&d);
		keep(s, "%s is up to date", path);
		return s;
	}
	dcv_proxy_redact(&p->env, &d);
	s->diff = dcv_buf_detach(&d);
	change(s, exists ? "the file differs from the rendered one" : "the file is absent", "would write %s", path);
	return s;
}

/* ------------------------------------------------------------------ maintenance */

/* Opted out or not needed: what dcvctl installed goes (units stopped and disabled first). */
static void maint_remove(struct dcv_plan *p, const char *name, const char *const *paths, const bool *exists, int n,
			 const struct dcv_unit_state *timer, const char *why)
{
	struct dcv_plan_step *s = add(p, DCV_OP_REMOVE, name, NULL);
	struct dcv_buf names = DCV_BUF_INIT, all = DCV_BUF_INIT;

	for (int i = 0; i < n; i++) {
		dcv_buf_addf(&all, "%s%s", i ? ", " : "", paths[i]);
		if (exists[i]) {
			s->remove[s->n_remove++] = xstrdup(paths[i]);
			dcv_buf_addf(&names, "%s%s", names.len ? ", " : "", paths[i]);
		}
	}
	if (dcv_unit_is_active(timer))
		s->stop[s->n_stop++] = DCV_HEALTH_TIMER_UNIT;
	if (dcv_unit_is_enabled(timer))
		s->disable[s->n_disable++] = DCV_HEALTH_TIMER_UNIT;
	s->target = dcv_buf_detach(&all);
	if (!s->n_remove && !s->n_stop && !s->n_disable) {
		keep(s, "%s: not installed (%s)", name, why);
	} else {
		s->reload = timer ? "systemctl daemon-reload" : NULL;
		s->after = xstrdup("absent");
		if (s->n_stop || s->n_disable)
			change(s, why, "would stop and disable %s and remove %s", DCV_HEALTH_TIMER_UNIT,
			       names.len ? names.data : "nothing else");
		else
			change(s, why, "would remove %s", names.data);
	}
	dcv_buf_release(&names);
}

/* /etc/logrotate.d/dcvctl-<kind> for `logs`, checked with `logrotate -d` in the transaction. */
static void maint_logrotate(struct dcv_plan *p, const struct dcv_inventory *inv, const char *kind,
			    const struct dcv_rotated_log *logs, int n, const char *os, const struct dcv_maint_facts *m)
{
	char *path = dcv_maint_logrotate_path(kind);
	const char *paths[] = { path };
	struct dcv_logrotate_facts lf = { os, dcv_buf_str(&m->lr_others), { 0 } };
	struct dcv_buf want = DCV_BUF_INIT;
	struct dcv_plan_step *s;

	for (int i = 0; i < DCV_MAINT_MAX_LOGS; i++)
		lf.dirs[i] = m->lr_dirs[i][0] ? m->lr_dirs[i] : NULL;
	if (!inv->logrotate) {
		maint_remove(p, "logrotate", paths, &m->lr_exists, 1, NULL, "[maintenance] logrotate = no");
	} else if (!n) {
		maint_remove(p, "logrotate", paths, &m->lr_exists, 1, NULL, "no logs of its own to rotate");
	} else if (!dcv_maint_logrotate(logs, n, &lf, &want)) {
		/* the comment line says which file rotates them */
		const char *why = strstr(dcv_buf_str(&want), "\n# ");
		char *line = why ? xstrndup(why + 3, strcspn(why + 3, "\n")) : xstrdup("rotated elsewhere");
		maint_remove(p, "logrotate", paths, &m->lr_exists, 1, NULL, line);
		free(line);
	} else if (!m->logrotate_bin) {
		s = add(p, DCV_OP_FILE, "logrotate", path);
		block(s, "logrotate is not installed on %s: install it, or set [maintenance] logrotate = no",
		      p->host->name);
	} else {
		s = file(p, "logrotate", path, m->lr_exists, &m->lr, dcv_buf_str(&want));
		s->check = xasprintf("logrotate -d %s", path);
		s->validate = s->check;
		/* logrotate reads every file of its directory: a backup there would rotate each log
		 * twice ("duplicate log entry"), so the transaction's backups move out of it */
		s->apply = xasprintf("mkdir -p %s && for b in %s.dcvctl-*; do [ ! -e \"$b\" ] || mv -f -- \"$b\" %s/; "
				     "done", DCV_MAINT_BACKUP_DIR, path, DCV_MAINT_BACKUP_DIR);
		s->reload = s->apply;
	}
	dcv_buf_release(&want);
	free(path);
}

/* The health probe replaces the runbook's cron: script, service and timer, then the timer on. */
static void maint_health(struct dcv_plan *p, const struct dcv_inventory *inv, const struct dcv_proxy_kind *k,
			 const struct dcv_gw_facts *f)
{
	static const char *const names[3] = { "health-script", "health-service", "health-timer" };
	const struct dcv_maint_facts *m = &f->maint;
	const struct dcv_unit_state *timer = dcv_gw_facts_unit(f, DCV_HEALTH_TIMER_UNIT);
	bool changed = false, active = dcv_unit_is_active(timer), enabled = dcv_unit_is_enabled(timer);
	struct dcv_plan_step *s;

	if (!inv->health_restart) {
		maint_remove(p, "health", dcv_health_files, m->health_exists, 3, timer,
			     "[maintenance] health-restart = no");
		return;
	}
	for (int i = 0; i < 3; i++) {
		struct dcv_buf want = DCV_BUF_INIT;
		if (i == 0)
			dcv_maint_health_script(inv, p->host, k, &want);
		else if (i == 1)
			dcv_maint_health_service(inv, k, &want);
		else
			dcv_maint_health_timer(inv, &want);
		s = file(p, names[i], dcv_health_files[i], m->health_exists[i], &m->health[i], dcv_buf_str(&want));
		if (i == 0) {
			s->mode = "755";
			s->validate = "sh -n " DCV_HEALTH_SCRIPT;
		} else {
			s->reload = "systemctl daemon-reload";
		}
		changed |= s->change && i == 2;
		dcv_buf_release(&want);
	}
	s = add(p, DCV_OP_UNIT, "health", DCV_HEALTH_TIMER_UNIT);
	s->before = state_word(timer);
	if (active && enabled && !changed) {
		keep(s, "%s active and enabled", DCV_HEALTH_TIMER_UNIT);
		return;
	}
	/* a timer that runs keeps its old schedule until it is started again */
	s->verb = !active ? "start" : changed ? "restart" : NULL;
	s->enable = !enabled;
	s->after = xstrdup("active enabled");
	change(s, !active ? "the timer is not running" : changed ? "the timer changes" : "the timer is not enabled",
	       "would %s%s%s %s", s->verb ? s->verb : "", s->verb && s->enable ? " and " : "",
	       s->enable ? "enable" : "", DCV_HEALTH_TIMER_UNIT);
}

/* ------------------------------------------------------------------ gateway */

static char *install_command(const struct dcv_proxy_kind *k, const char *os)
{
	static const char *const rpm[] = { "amzn", "rhel", "centos", "fedora", "rocky", "almalinux", "ol" };
	static const char *const deb[] = { "ubuntu", "debian" };

	for (size_t i = 0; i < sizeof(rpm) / sizeof(rpm[0]); i++)
		if (strcmp(os, rpm[i]) == 0)
			return xasprintf("if command -v dnf >/dev/null 2>&1; then dnf install -y %s; else yum install -y %s; fi",
					 k->package_rpm, k->package_rpm);
	for (size_t i = 0; i < sizeof(deb) / sizeof(deb[0]); i++)
		if (strcmp(os, deb[i]) == 0)
			return xasprintf("DEBIAN_FRONTEND=noninteractive apt-get install -y %s", k->package_deb);
	return NULL;
}

static void gw_package(struct dcv_plan *p, const struct dcv_proxy_kind *k, const struct dcv_gw_facts *f)
{
	struct dcv_plan_step *s = add(p, DCV_OP_PACKAGE, "package", k->name);

	if (f->has_binary)
		keep(s, "%s is installed", k->name);
	else if (!(s->cmd = install_command(k, f->os)))
		block(s, "%s is missing and the package manager of os '%s' is unknown: install %s by hand", k->name,
		      f->os, k->name);
	else
		change(s, "the binary is missing", "would install %s (%s)", k->name, f->os);
}

static void gw_cert(struct dcv_plan *p, const struct dcv_inventory *inv, const struct dcv_gw_facts *f)
{
	const struct dcv_host *h = p->host;
	struct dcv_plan_step *s = add(p, DCV_OP_REQUIRE, "cert", h->cert);
	const char *host = inv->url ? inv->url + 8 : "ENDPOINT-NAME";
	int hl = (int)strcspn(host, ":/");
	bool cert = f->cert_pem.len > 0;

	if (cert && f->key_readable)
		keep(s, "%s and %s present", h->cert, h->key);
	else
		block(s, "missing %s on %s: create a pair whose SAN is the endpoint name %.*s and install it with "
			 "`dcvctl cert generate --out ./gateway-cert --install` (or put your own at %s and %s)",
		      !cert ? h->cert : h->key, h->name, hl, host, h->cert, h->key);
}

/* The secret is made once and kept; the cert+key file follows cert and key. */
static void gw_derived(struct dcv_plan *p, const struct dcv_proxy_derived *d, int i, const struct dcv_gw_facts *f,
		       const char *new_secret)
{
	const struct dcv_host *h = p->host;
	struct dcv_plan_step *s;

	if (d->how == DCV_DERIVE_SECRET) {
		s = add(p, DCV_OP_SECRET, d->step, d->path);
		if (f->stats_user) {
			keep(s, "%s kept (mode 600)", d->path);
			return;
		}
		s->after = xstrdup(new_secret);
		p->secret = xstrdup(new_secret);
		char *colon = strchr(p->secret, ':');
		if (colon) {
			*colon = '\0';
			p->env.stats_user = p->secret;
			p->env.stats_password = colon + 1;
		}
		change(s, "no stats credentials on the gateway yet", "would generate %s (mode 600)", d->path);
		return;
	}
	s = add(p, DCV_OP_DERIVE, d->step, d->path);
	if (f->derived_current[i])
		keep(s, "%s holds %s and its key", d->path, h->cert);
	else
		change(s, f->derived_exists[i] ? "it differs from the certificate and key" : "it is absent",
		       "would write %s from %s and %s (mode 600)", d->path, h->cert, h->key);
}

/* Units holding the port give it up only after the new proxy's file is valid (the order of
 * the steps), and are listed so a failed takeover can start them again. */
static void gw_legacy(struct dcv_plan *p, const struct dcv_proxy_kind *k, const struct dcv_gw_facts *f)
{
	struct dcv_plan_step *s = add(p, DCV_OP_STOP, "legacy", NULL);
	struct dcv_buf names = DCV_BUF_INIT, before = DCV_BUF_INIT;

	for (int i = 0; k->stop[i] && i < DCV_FACTS_MAX_UNITS; i++) {
		const struct dcv_unit_state *u = dcv_gw_facts_unit(f, k->stop[i]);
		char *w = state_word(u);
		if (dcv_unit_is_active(u))
			s->stop[s->n_stop++] = k->stop[i];
		if (dcv_unit_is_enabled(u))
			s->disable[s->n_disable++] = k->stop[i];
		dcv_buf_addf(&names, "%s%s", i ? ", " : "", k->stop[i]);
		dcv_buf_addf(&before, "%s%s %s", i ? ", " : "", k->stop[i], w);
		free(w);
	}
	s->target = xstrdup(dcv_buf_str(&names));
	s->before = dcv_buf_detach(&before);
	if (!s->n_stop && !s->n_disable) {
		keep(s, "%s stopped and disabled (or absent)", dcv_buf_str(&names));
	} else {
		char *why = xasprintf("they must give up port %d", p->host->listen);
		change(s, why, "would stop %d and disable %d of %s", s->n_stop, s->n_disable, dcv_buf_str(&names));
		free(why);
		s->after = xstrdup("inactive disabled");
	}
	dcv_buf_release(&names);
}

static void gw_service(struct dcv_plan *p, const struct dcv_proxy_kind *k, const struct dcv_gw_facts *f,
		       bool reloaded)
{
	const struct dcv_unit_state *u = dcv_gw_facts_unit(f, k->unit);
	struct dcv_plan_step *s = add(p, DCV_OP_SERVICE, "service", k->unit);
	bool active = dcv_unit_is_active(u), enabled = dcv_unit_is_enabled(u);

	s->before = state_word(u);
	s->restart = reloaded && active;
	if (active && enabled) {
		keep(s, "%s active and enabled%s", k->unit, reloaded ? " (reloaded)" : "");
		return;
	}
	s->verb = active ? NULL : "start";
	s->enable = !enabled;
	s->after = xstrdup("active enabled");
	change(s, active ? "not enabled" : "not running", "would %s %s", active ? "enable" : "start and enable",
	       k->unit);
}

/* A copy of a broker file on the gateway; `want` empty: the broker has none (yet). */
static void gw_copy(struct dcv_plan *p, const char *name, const char *path, bool exists, const struct dcv_buf *cur,
		    const struct dcv_buf *want, const char *from, const struct dcv_plan_resolver *r, bool key,
		    const char *key_mode)
{
	const struct dcv_host *b = r->broker_host;
	struct dcv_plan_step *s;

	if (!want->len) {
		s = add(p, DCV_OP_FILE, name, path);
		if (r->broker_pending)
			change(s, "the broker makes it first", "would copy %s from %s once the broker has made it", from,
			       b ? b->name : "the broker");
		else
			block(s, "%s on %s is missing: start %s (it makes its CA at first start) or run %s there", from,
			      b ? b->name : "the broker", DCV_UNIT_BROKER, DCV_BROKER_GEN_CERTS);
		return;
	}
	if (!key) {
		s = file(p, name, path, exists, cur, dcv_buf_str(want));
		if (s->change) {
			free(s->reason);
			s->reason = xasprintf("%s %s", exists ? "it differs from the broker's" :
							       "the gateway has no copy of the broker's", from);
		}
		return;
	}
	/* a private key: compared, never diffed or shown */
	s = add(p, DCV_OP_FILE, name, path);
	s->secret_file = true;
	s->mode = "600";
	s->after = xstrdup(dcv_buf_str(want));
	s->before = exists ? xstrdup(dcv_buf_str(cur)) : NULL;
	if (exists && strcmp(dcv_buf_str(cur), dcv_buf_str(want)) == 0 && strcmp(key_mode, "600") == 0)
		keep(s, "%s is the broker's client key (mode 600)", path);
	else
		change(s, !exists ? "the gateway has no copy of the client key" :
			  strcmp(dcv_buf_str(cur), dcv_buf_str(want)) != 0 ? "it differs from the broker's client key" :
									     "its mode is not 600",
		       "would copy %s from %s (mode 600, content not shown)", from, b ? b->name : "the broker");
}

/* The configuration of a connection-gateway: the broker named by DNS, linted before it lands. */
static struct dcv_plan_step *gw_config_resolver(struct dcv_plan *p, const struct dcv_inventory *inv,
						const struct dcv_proxy_kind *k, const struct dcv_gw_facts *f)
{
	struct dcv_buf want = DCV_BUF_INIT;
	struct dcv_err e = DCV_ERR_INIT;
	struct dcv_findings lf = { 0 };
	struct dcv_plan_step *s;

	if (dcv_render_gateway(inv, NULL, &want, &e) != DCV_OK) {
		s = add(p, DCV_OP_FILE, "config", k->config);
		block(s, "%s", e.msg);
		return s;
	}
	dcv_lint_gateway(dcv_buf_str(&want), k->config, &lf);
	for (int i = 0; i < lf.n; i++)
		if (lf.v[i].sev == DCV_SEV_ERROR) {
			s = add(p, DCV_OP_FILE, "config", k->config);
			block(s, "the rendered %s fails its lint (%s): %s", k->config, lf.v[i].rule, lf.v[i].msg);
			dcv_findings_free(&lf);
			dcv_buf_release(&want);
			return s;
		}
	dcv_findings_free(&lf);
	s = file(p, "config", k->config, f->config_exists, &f->config, dcv_buf_str(&want));
	if (s->change) {
		/* the gateway has no configuration test (reference §3): say what was checked */
		char *d = xasprintf("%s (linted: no errors; the gateway has no config test)", s->detail);
		free(s->detail);
		s->detail = d;
	}
	dcv_buf_release(&want);
	return s;
}

static void plan_gateway(const struct dcv_inventory *inv, const struct dcv_host *gw, const struct dcv_proxy_kind *k,
			 const struct dcv_gw_facts *f, const char *new_secret, const struct dcv_plan_resolver *r,
			 struct dcv_plan *p)
{
	struct dcv_buf want = DCV_BUF_INIT;
	struct dcv_plan_step *s;
	bool reload;

	memset(p, 0, sizeof(*p));
	p->host = gw;
	dcv_gw_facts_env(f, &p->env);
	gw_package(p, k, f);
	gw_cert(p, inv, f);
	for (int i = 0; i < k->n_derived; i++)
		gw_derived(p, &k->derived[i], i, f, new_secret);
	if (r) {
		const struct dcv_broker_facts *bf = r->broker;
		const struct dcv_gw_resolver_facts *c = r->copies;
		gw_copy(p, "broker-ca", DCV_GATEWAY_BROKER_CA, c->ca_exists, &c->ca, &bf->ca_pem, DCV_BROKER_CA, r, false,
			"");
		if (inv->tls_client_auth) {
			char *cert = xasprintf("%s/%s", bf->creds_dir, DCV_BROKER_CLIENT_CERT_NAME);
			char *key = xasprintf("%s/%s", bf->creds_dir, DCV_BROKER_CLIENT_KEY_NAME);
			gw_copy(p, "client-cert", DCV_GATEWAY_CLIENT_CERT, c->cert_exists, &c->cert, &bf->client_cert, cert,
				r, false, "");
			gw_copy(p, "client-key", DCV_GATEWAY_CLIENT_KEY, c->key_exists, &c->key, &bf->client_key, key, r,
				true, c->key_mode);
			free(cert);
			free(key);
		}
		s = gw_config_resolver(p, inv, k, f);
	} else {
		k->render(inv, &p->env, &want);
		s = file(p, "config", k->config, f->config_exists, &f->config, dcv_buf_str(&want));
	}
	/* the validator checks the whole configuration; only a running proxy is reloaded (a
	 * stopped one is started once the units holding the port have let it go) */
	s->validate = k->validate;
	s->reload = k->reload;
	s->restart = reload = s->change; /* `s` moves as steps are added */
	/* the resolver's CA or client credentials changed: the gateway reads them at start, so
	 * the last of them restarts it when the configuration itself does not */
	for (int i = p->n - 2; r && !reload && i >= 0 && p->steps[i].op == DCV_OP_FILE; i--)
		if (p->steps[i].change) {
			p->steps[i].reload = k->reload;
			p->steps[i].restart = reload = true;
		}
	if (want.data)
		explicit_bzero(want.data, want.len);
	dcv_buf_release(&want);
	gw_legacy(p, k, f);
	gw_service(p, k, f, reload);
	s = add(p, DCV_OP_LISTEN, "listen", k->process);
	keep(s, "would check that %s listens on %d", k->process, gw->listen);
	maint_logrotate(p, inv, k->name, k->logrotate, k->n_logrotate, f->os, &f->maint);
	maint_health(p, inv, k, f);
}

void dcv_plan_gateway(const struct dcv_inventory *inv, const struct dcv_host *gw,
		      const struct dcv_proxy_kind *k, const struct dcv_gw_facts *f, const char *new_secret,
		      struct dcv_plan *p)
{
	plan_gateway(inv, gw, k, f, new_secret, NULL, p);
}

void dcv_plan_gateway_resolver(const struct dcv_inventory *inv, const struct dcv_host *gw,
			       const struct dcv_proxy_kind *k, const struct dcv_gw_facts *f,
			       const struct dcv_plan_resolver *r, struct dcv_plan *p)
{
	plan_gateway(inv, gw, k, f, NULL, r, p);
}

/* ------------------------------------------------------------------ agents */

static void agent_sm(struct dcv_plan *p, const struct dcv_agent_facts *st)
{
	struct dcv_plan_step *s = add(p, DCV_OP_STOP, "sm-agent", SM_AGENT);
	bool active = dcv_unit_is_active(&st->sm_agent), enabled = dcv_unit_is_enabled(&st->sm_agent);

	s->before = state_word(&st->sm_agent);
	if (!active && !enabled) {
		keep(s, "%s stopped and disabled (or absent)", SM_AGENT);
		return;
	}
	if (active)
		s->stop[s->n_stop++] = SM_AGENT;
	if (enabled)
		s->disable[s->n_disable++] = SM_AGENT;
	s->after = xstrdup("inactive disabled");
	change(s, "the bypass does without the Session Manager", "would stop and disable %s", SM_AGENT);
}

/* dcvserver reads dcv.conf at start: restart only when it changes (or start a stopped one). */
static void agent_server(struct dcv_plan *p, const struct dcv_agent_facts *st, bool conf_changed)
{
	struct dcv_plan_step *s = add(p, DCV_OP_RESTART, "dcvserver", "dcvserver");
	bool active = dcv_unit_is_active(&st->dcvserver);

	s->before = state_word(&st->dcvserver);
	if (!conf_changed && active) {
		keep(s, "dcvserver active, dcv.conf unchanged");
		return;
	}
	s->verb = active ? "restart" : "start";
	/* not enabled, dcvserver would not come back after a reboot */
	s->enable = !dcv_unit_is_enabled(&st->dcvserver);
	s->restart = true;
	s->after = xstrdup("active enabled");
	change(s, active ? "dcv.conf changes" : "dcvserver is not running", "would %s dcvserver", s->verb);
}

static void agent_session(struct dcv_plan *p, const struct dcv_agent_facts *st, bool restarts)
{
	const struct dcv_host *h = p->host;
	struct dcv_plan_step *s = add(p, DCV_OP_SESSION, "session", h->session);
	struct dcv_session_ensure e;

	if (restarts && dcv_session_automatic(h)) {
		/* dcv.conf has dcvserver create it at start, as it will at every reboot */
		s->after_restart = true;
		s->await = true;
		s->session = DCV_SESSION_NONE;
		keep(s, "would wait for dcvserver to create session '%s' after its restart", h->session);
		return;
	}
	if (restarts) {
		/* a restart ends virtual sessions: decide after it */
		s->after_restart = true;
		s->session = DCV_SESSION_CREATE;
		change(s, "dcvserver restarts", "would create session '%s' after the dcvserver restart", h->session);
		return;
	}
	if (!st->sessions_ok) {
		block(s, "%s", st->sessions_err);
		return;
	}
	dcv_session_ensure_plan(h, &st->sessions, &e);
	s->session = e.action;
	if (e.action == DCV_SESSION_NONE)
		keep(s, "%s", e.reason);
	else
		change(s, e.reason, "would %s session '%s'", e.action == DCV_SESSION_RECREATE ? "recreate" : "create",
		       h->session);
}

/* connection-gateway: the Session Manager agent reports the sessions the broker resolves. No
 * port changes hands on an agent, so there is nothing to roll back. */
static void agent_sm_on(struct dcv_plan *p, const struct dcv_agent_facts *st)
{
	struct dcv_plan_step *s = add(p, DCV_OP_UNIT, "sm-agent", SM_AGENT);
	bool active = dcv_unit_is_active(&st->sm_agent), enabled = dcv_unit_is_enabled(&st->sm_agent);

	s->before = state_word(&st->sm_agent);
	if (active && enabled) {
		keep(s, "%s active and enabled", SM_AGENT);
		return;
	}
	s->verb = active ? NULL : "start";
	s->enable = !enabled;
	s->after = xstrdup("active enabled");
	change(s, "the broker learns the sessions from it", "would %s %s", active ? "enable" : "start and enable",
	       SM_AGENT);
}

void dcv_plan_agent(const struct dcv_inventory *inv, const struct dcv_host *h, const struct dcv_agent_facts *st,
		    struct dcv_plan *p)
{
	struct dcv_buf want = DCV_BUF_INIT;
	bool conf_changed;

	memset(p, 0, sizeof(*p));
	p->host = h;
	if (dcv_proxy_bypass(inv))
		agent_sm(p, st);
	else
		agent_sm_on(p, st);
	dcv_render_dcvconf_for(dcv_buf_str(&st->conf), inv, h, &want);
	conf_changed = file(p, "dcv.conf", DCV_DCV_CONF, st->conf_exists, &st->conf, dcv_buf_str(&want))->change;
	dcv_buf_release(&want);
	agent_server(p, st, conf_changed);
	agent_session(p, st, p->steps[p->n - 1].change);
	maint_logrotate(p, inv, "dcv", &dcv_maint_dcv_log, 1, st->os, &st->maint);
}

/* ------------------------------------------------------------------ broker (seed 004) */

/* gen-gateway-certificates.sh once: credentials beside a trust store the properties name are
 * kept, so a second deploy does not regenerate them (and the gateway's copies stay valid). */
static void broker_certs(struct dcv_plan *p, const struct dcv_broker_facts *bf, const struct dcv_broker_mtls *mtls,
			 bool have)
{
	struct dcv_plan_step *s = add(p, DCV_OP_GENCERTS, "gateway-certs", DCV_BROKER_GEN_CERTS);

	if (mtls || (have && bf->client_cert.len && bf->client_key.len)) {
		keep(s, "client credentials in %s kept (not regenerated)", bf->creds_dir);
		return;
	}
	if (!bf->has_gen_certs) {
		block(s, "%s is missing on %s: it comes with the Session Manager broker package", DCV_BROKER_GEN_CERTS,
		      p->host->name);
		return;
	}
	s->cmd = xstrdup(DCV_BROKER_GEN_CERTS);
	change(s, "[broker] tls-client-auth = yes and the broker has no client credentials for the gateway",
	       "would run %s once (its trust-store password goes only into the broker's properties)",
	       DCV_BROKER_GEN_CERTS);
}

void dcv_plan_broker(const struct dcv_inventory *inv, const struct dcv_host *b, const struct dcv_broker_facts *bf,
		     const struct dcv_broker_mtls *mtls, struct dcv_plan *p)
{
	const char *props = dcv_buf_str(&bf->props);
	char *ts_file = dcv_properties_get(props, "gateway-to-broker-connector-trust-store-file");
	char *ts_pass = dcv_properties_get(props, "gateway-to-broker-connector-trust-store-pass");
	bool have = ts_file && *ts_file && ts_pass && *ts_pass && bf->trust_store_exists;
	struct dcv_broker_mtls kept = { ts_file, ts_pass }, pending = { "<printed by gen-gateway-certificates.sh>",
									  "<generated>" };
	const struct dcv_broker_mtls *use = NULL;
	struct dcv_buf want = DCV_BUF_INIT;
	struct dcv_plan_step *s;
	bool active = dcv_unit_is_active(&bf->broker), changed;

	memset(p, 0, sizeof(*p));
	p->host = b;
	s = add(p, DCV_OP_REQUIRE, "broker-installed", DCV_UNIT_BROKER);
	if (bf->has_binary)
		keep(s, "%s is installed", DCV_UNIT_BROKER);
	else
		block(s, "%s is not installed on %s: install the Session Manager broker (reference/dcv.md §5.1), or "
			 "name its host with 'host = ...' in [broker]", DCV_UNIT_BROKER, b->name);
	if (inv->tls_client_auth) {
		broker_certs(p, bf, mtls, have);
		use = mtls ? mtls : have && bf->client_cert.len && bf->client_key.len ? &kept : &pending;
		/* the password is the broker's alone: every diff and message hides it */
		p->secret = xstrdup(use->trust_store_pass);
		p->env.trust_store_pass = p->secret;
	}
	dcv_render_broker_properties(props, inv, use, &want);
	s = file(p, "broker.properties", DCV_BROKER_PROPERTIES, bf->props_exists, &bf->props, dcv_buf_str(&want));
	/* the password the file holds now may differ from the one it gets (or stay after mTLS is
	 * turned off): its diff hides that one too */
	if (s->diff && ts_pass && *ts_pass) {
		struct dcv_proxy_env old = { .trust_store_pass = ts_pass };
		struct dcv_buf d = DCV_BUF_INIT;
		dcv_buf_adds(&d, s->diff);
		dcv_proxy_redact(&old, &d);
		free(s->diff);
		s->diff = dcv_buf_detach(&d);
	}
	/* readable only by root and the broker's user (§5.1): a replaced file keeps its owner
	 * and mode; a new one is root's alone */
	s->mode = "600";
	changed = s->change;
	explicit_bzero(want.data, want.len);
	dcv_buf_release(&want);

	s = add(p, DCV_OP_RESTART, "broker", DCV_UNIT_BROKER);
	s->before = state_word(&bf->broker);
	if (!changed && active && dcv_unit_is_enabled(&bf->broker)) {
		keep(s, "%s active, properties unchanged", DCV_UNIT_BROKER);
	} else if (!changed && active) {
		s->enable = true;
		s->after = xstrdup("active enabled");
		change(s, "not enabled", "would enable %s", DCV_UNIT_BROKER);
	} else {
		/* the broker reads its properties at start only (§5.1) */
		s->verb = active ? "restart" : "start";
		s->enable = !dcv_unit_is_enabled(&bf->broker);
		s->restart = true;
		s->after = xstrdup("active enabled");
		change(s, active ? "its properties change" : "the broker is not running", "would %s %s", s->verb,
		       DCV_UNIT_BROKER);
	}
	s = add(p, DCV_OP_PORT, "resolver-port", DCV_UNIT_BROKER);
	s->port = inv->resolver_port;
	keep(s, "would check that the broker's gateway connector listens on %d", inv->resolver_port);
	free(ts_file);
	if (ts_pass)
		explicit_bzero(ts_pass, strlen(ts_pass));
	free(ts_pass);
}

/* Does line [l, end) mention one of `words` (lower case), ignoring case? */
static bool mentions(const char *l, const char *end, const char *const *words)
{
	for (int i = 0; words[i]; i++) {
		size_t n = strlen(words[i]);
		for (const char *q = l; q + n <= end; q++)
			if (strncasecmp(q, words[i], n) == 0)
				return true;
	}
	return false;
}

/* The value after the last ": " of the first line that mentions one of `words`. */
static char *printed(const char *out, const char *const *words)
{
	for (const char *l = out; l && *l;) {
		const char *nl = strchr(l, '\n'), *end = nl ? nl : l + strlen(l), *v = NULL;
		if (!mentions(l, end, words)) {
			l = nl ? nl + 1 : end;
			continue;
		}
		for (const char *q = l; q + 1 < end; q++)
			if (q[0] == ':' && q[1] == ' ')
				v = q + 2;
		if (!v)
			return NULL;
		while (end > v && (end[-1] == '\r' || end[-1] == ' ' || end[-1] == '\t'))
			end--;
		while (v < end && (*v == ' ' || *v == '\t'))
			v++;
		return end > v ? xstrndup(v, (size_t)(end - v)) : NULL;
	}
	return NULL;
}

bool dcv_plan_parse_gencerts(const char *out, char **folder, char **password)
{
	static const char *const fw[] = { "folder", "directory", NULL }, *const pw[] = { "password", NULL };
	char *f = printed(out, fw), *pass = printed(out, pw);

	if (!f || !pass || *f != '/') {
		free(f);
		if (pass)
			explicit_bzero(pass, strlen(pass));
		free(pass);
		return false;
	}
	*folder = f;
	*password = pass;
	return true;
}

/* ------------------------------------------------------------------ common */

const struct dcv_plan_step *dcv_plan_find(const struct dcv_plan *p, const char *name)
{
	for (int i = 0; i < p->n; i++)
		if (strcmp(p->steps[i].name, name) == 0)
			return &p->steps[i];
	return NULL;
}

static void wipe(char *s)
{
	if (s)
		explicit_bzero(s, strlen(s));
	free(s);
}

void dcv_plan_release(struct dcv_plan *p)
{
	for (int i = 0; i < p->n; i++) {
		struct dcv_plan_step *s = &p->steps[i];
		free(s->target);
		wipe(s->before); /* config files carry the stats password */
		wipe(s->after);
		free(s->reason);
		free(s->detail);
		free(s->diff);
		free(s->cmd);
		free(s->check);
		free(s->apply);
		for (int j = 0; j < s->n_remove; j++)
			free(s->remove[j]);
	}
	free(p->steps);
	wipe(p->secret);
	memset(p, 0, sizeof(*p));
}
