/* The deploy of the bypass (nginx or HAProxy): gateway first, so a failure there leaves the
 * previous path serving and the agents untouched; then the agents in parallel. Each host's
 * facts are read once, lib/plan decides every step from them, and this file carries the plan
 * out (or, in a dry run, only reports it): the transactions, the rollback and the lock. */
#include "deploy.h"

#include "agent.h"
#include "buf.h"
#include "err.h"
#include "facts.h"
#include "inventory.h"
#include "plan.h"
#include "proxy.h"
#include "remote.h"
#include "ssh.h"
#include "util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

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
	const char *reason; /* the plan step being applied: its reason goes with the step's report */
	bool lost; /* transport failed: the host counts as unreachable */
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
	s.reason = hr->reason ? xstrdup(hr->reason) : NULL;
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

/* ------------------------------------------------------------------ host actions */

/* Up to two systemctl verbs in one round trip, the second only when the first succeeded
 * (stop then disable, start then enable); a verb with no units is left out. A failure's text
 * goes to `msg` (empty when fine). */
static int systemctl(struct hostrun *hr, const char *verb, const char *const *units, int n,
		     const char *verb2, const char *const *units2, int n2, struct dcv_buf *msg,
		     struct dcv_err *e)
{
	struct dcv_buf s = DCV_BUF_INIT, out = DCV_BUF_INIT;
	int status = 0, rc;

	dcv_buf_adds(&s, "run() { v=$1; shift; o=$(systemctl \"$v\" -- \"$@\" 2>&1) && return 0; r=$?; "
			 "printf 'systemctl %s failed (exit %d)' \"$v\" \"$r\"; [ -z \"$o\" ] || printf ': %s' \"$o\"; "
			 "exit 1; }\n");
	for (int k = 0; k < 2; k++) {
		const char *v = k ? verb2 : verb;
		const char *const *u = k ? units2 : units;
		int m = k ? n2 : n;
		if (!v || !m)
			continue;
		dcv_buf_adds(&s, "run ");
		dcv_shquote(&s, v);
		for (int i = 0; i < m; i++) {
			dcv_buf_addc(&s, ' ');
			dcv_shquote(&s, u[i]);
		}
		dcv_buf_addc(&s, '\n');
	}
	rc = dcv_remote_sh(hr->c, hr->h, s.data, &out, NULL, &status, e);
	if (rc == DCV_OK && status != 0) {
		dcv_buf_rtrim(&out);
		dcv_buf_adds(msg, out.len ? out.data : "systemctl failed");
	}
	dcv_buf_release(&s);
	dcv_buf_release(&out);
	return rc;
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

/* ------------------------------------------------------------------ apply */

/* One host's plan being applied, and what a failed takeover of the port must put back. */
struct apply {
	struct hostrun *hr;
	const struct dcv_plan *p;
	const char *proxy_unit;             /* gateway: the proxy's unit; NULL on agents */
	const struct dcv_plan_step *legacy; /* gateway: the units stopped for the proxy, once done */
	bool restarted;                     /* agent: dcvserver was (re)started */
};

static bool fail(struct hostrun *hr, const struct dcv_plan_step *s, char *diff, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static bool fail(struct hostrun *hr, const struct dcv_plan_step *s, char *diff, const char *fmt, ...)
{
	struct dcv_buf b = DCV_BUF_INIT;
	va_list ap;

	va_start(ap, fmt);
	dcv_buf_vaddf(&b, fmt, ap);
	va_end(ap);
	step_end(hr, s->name, DCV_STEP_FAILED, 0, diff, "%s", b.data);
	dcv_buf_release(&b);
	return false;
}

static char *diff_copy(const struct dcv_plan_step *s)
{
	return s->diff ? xstrdup(s->diff) : NULL;
}

/* Put back what the deploy stopped, after the proxy failed to take over. */
static void rollback(struct apply *a, struct dcv_buf *note)
{
	const struct dcv_plan_step *l = a->legacy;
	struct hostrun *hr = a->hr;
	struct dcv_err e = DCV_ERR_INIT;
	struct dcv_buf msg = DCV_BUF_INIT;
	const char *unit[] = { a->proxy_unit };

	/* each on its own, so a failure of one does not keep the others from running */
	systemctl(hr, "stop", unit, 1, NULL, NULL, 0, &msg, &e);
	dcv_buf_reset(&msg);
	if (l && l->n_disable)
		systemctl(hr, "enable", l->disable, l->n_disable, NULL, NULL, 0, &msg, &e);
	dcv_buf_reset(&msg);
	if (l && l->n_stop &&
	    systemctl(hr, "start", l->stop, l->n_stop, NULL, NULL, 0, &msg, &e) == DCV_OK && !msg.len) {
		dcv_buf_adds(note, "; restarted");
		for (int i = 0; i < l->n_stop; i++)
			dcv_buf_addf(note, " %s", l->stop[i]);
		dcv_buf_adds(note, ", which serves as before");
	} else if (l && l->n_stop) {
		dcv_buf_addf(note, "; could not restart the previous services: %s", msg.len ? msg.data : e.msg);
	}
	dcv_buf_release(&msg);
}

static bool do_package(struct apply *a, const struct dcv_plan_step *s)
{
	struct hostrun *hr = a->hr;
	struct dcv_buf out = DCV_BUF_INIT;
	struct dcv_err e = DCV_ERR_INIT;
	int status = 0;
	bool ok = true;

	if (dcv_remote_sh(hr->c, hr->h, s->cmd, &out, &out, &status, &e) != DCV_OK) {
		ok = failed_err(hr, s->name, &e);
	} else if (status != 0) {
		dcv_buf_rtrim(&out);
		const char *last = strrchr(dcv_buf_str(&out), '\n');
		ok = fail(hr, s, NULL, "installing %s failed (exit %d): %s", s->target, status,
			  last ? last + 1 : dcv_buf_str(&out));
	} else {
		step_end(hr, s->name, DCV_STEP_CHANGED, 0, NULL, "installed %s", s->target);
	}
	dcv_buf_release(&out);
	return ok;
}

static bool do_secret(struct apply *a, const struct dcv_plan_step *s)
{
	struct hostrun *hr = a->hr;
	struct dcv_err e = DCV_ERR_INIT;
	struct dcv_txn txn;

	if (dcv_remote_write_file(hr->c, hr->h, s->target, s->after, strlen(s->after), "600", NULL, NULL, &txn,
				  &e) != DCV_OK)
		return failed_err(hr, s->name, &e);
	dcv_txn_release(&txn);
	step_end(hr, s->name, DCV_STEP_CHANGED, 0, NULL, "generated %s (mode 600)", s->target);
	return true;
}

/* Built on the gateway itself, so the private key never travels. */
static bool do_derive(struct apply *a, const struct dcv_plan_step *s)
{
	struct hostrun *hr = a->hr;
	struct dcv_err e = DCV_ERR_INIT;
	struct dcv_buf sh = DCV_BUF_INIT, out = DCV_BUF_INIT;
	int status = 0;
	bool ok = true;

	/* root-only from the first byte: the umask applies before the key is written */
	dcv_buf_adds(&sh, "set -e; umask 077; d=");
	dcv_shquote(&sh, s->target);
	dcv_buf_adds(&sh, "; t=$(mktemp \"$d.XXXXXX\"); cat ");
	dcv_shquote(&sh, hr->h->cert);
	dcv_buf_addc(&sh, ' ');
	dcv_shquote(&sh, hr->h->key);
	dcv_buf_adds(&sh, " > \"$t\"; chown root:root \"$t\" 2>/dev/null || true; mv -f \"$t\" \"$d\"");
	if (dcv_remote_sh(hr->c, hr->h, sh.data, &out, &out, &status, &e) != DCV_OK) {
		ok = failed_err(hr, s->name, &e);
	} else if (status != 0) {
		dcv_buf_rtrim(&out);
		ok = fail(hr, s, NULL, "cannot write %s: %s", s->target, dcv_buf_str(&out));
	} else {
		step_end(hr, s->name, DCV_STEP_CHANGED, 0, NULL, "wrote %s from %s and %s (mode 600)", s->target,
			 hr->h->cert, hr->h->key);
	}
	dcv_buf_release(&sh);
	dcv_buf_release(&out);
	return ok;
}

/* Through the transaction; secrets never reach a message. */
static bool do_file(struct apply *a, const struct dcv_plan_step *s)
{
	struct hostrun *hr = a->hr;
	struct dcv_err e = DCV_ERR_INIT;
	struct dcv_txn txn;
	bool ok = false;

	if (dcv_remote_write_file(hr->c, hr->h, s->target, s->after, strlen(s->after), NULL, s->validate,
				  s->reload, &txn, &e) != DCV_OK)
		return failed_err(hr, s->name, &e);
	dcv_proxy_redact(&a->p->env, &txn.output);
	if (txn.status == DCV_TXN_INVALID) {
		fail(hr, s, diff_copy(s), "validation failed, previous %s put back and nothing reloaded: %s",
		     s->target, dcv_buf_str(&txn.output));
	} else if (txn.status == DCV_TXN_APPLY_FAILED) {
		fail(hr, s, diff_copy(s), "%s written but reload failed: %s", s->target, dcv_buf_str(&txn.output));
	} else {
		step_end(hr, s->name, DCV_STEP_CHANGED, 0, diff_copy(s), "wrote %s%s%s", s->target,
			 txn.backup[0] ? ", backup " : "", txn.backup);
		ok = true;
	}
	dcv_txn_release(&txn);
	return ok;
}

/* Stop, then disable; on the gateway a failure starts again what was stopped. */
static bool do_stop(struct apply *a, const struct dcv_plan_step *s)
{
	struct hostrun *hr = a->hr;
	struct dcv_err e = DCV_ERR_INIT;
	struct dcv_buf msg = DCV_BUF_INIT;
	bool ok = true;

	if (a->proxy_unit)
		a->legacy = s;
	if (systemctl(hr, "stop", s->stop, s->n_stop, "disable", s->disable, s->n_disable, &msg, &e) != DCV_OK) {
		ok = failed_err(hr, s->name, &e);
	} else if (msg.len) {
		if (a->proxy_unit)
			rollback(a, &msg);
		ok = fail(hr, s, NULL, "%s", msg.data);
	} else if (a->proxy_unit) {
		step_end(hr, s->name, DCV_STEP_CHANGED, 0, NULL, "stopped %d, disabled %d of %s", s->n_stop,
			 s->n_disable, s->target);
	} else {
		step_end(hr, s->name, DCV_STEP_CHANGED, 0, NULL, "stopped and disabled %s", s->target);
	}
	dcv_buf_release(&msg);
	return ok;
}

static bool do_service(struct apply *a, const struct dcv_plan_step *s)
{
	struct hostrun *hr = a->hr;
	const char *unit[] = { s->target };
	struct dcv_err e = DCV_ERR_INIT;
	struct dcv_buf msg = DCV_BUF_INIT;
	bool ok = true;

	if (systemctl(hr, s->verb, unit, 1, s->enable ? "enable" : NULL, unit, 1, &msg, &e) != DCV_OK) {
		ok = failed_err(hr, s->name, &e);
	} else if (msg.len) {
		rollback(a, &msg);
		ok = fail(hr, s, NULL, "%s", msg.data);
	} else {
		step_end(hr, s->name, DCV_STEP_CHANGED, 0, NULL, "%s %s", s->target,
			 s->verb ? "started and enabled" : "enabled");
	}
	dcv_buf_release(&msg);
	return ok;
}

/* The proxy really holds the port (within 5 s). */
static bool do_listen(struct apply *a, const struct dcv_plan_step *s)
{
	struct hostrun *hr = a->hr;
	struct dcv_err e = DCV_ERR_INIT;
	struct dcv_buf out = DCV_BUF_INIT, msg = DCV_BUF_INIT, sh = DCV_BUF_INIT;
	int status = 0;
	bool ok = true;

	dcv_buf_addf(&sh,
		     "i=0; while [ $i -lt 25 ]; do s=$(ss -Htlnp 'sport = :%d' 2>/dev/null); "
		     "case \"$s\" in *'\"%s\"'*) echo ok; exit 0;; esac; i=$((i+1)); sleep 0.2; done; "
		     "printf '%%s\\n' \"${s:-nothing}\"; exit 1",
		     hr->h->listen, s->target);
	if (dcv_remote_sh(hr->c, hr->h, sh.data, &out, NULL, &status, &e) != DCV_OK) {
		ok = failed_err(hr, s->name, &e);
	} else if (status != 0) {
		dcv_buf_rtrim(&out);
		dcv_buf_addf(&msg, "%s does not listen on %d (ss: %s)", s->target, hr->h->listen, dcv_buf_str(&out));
		rollback(a, &msg);
		ok = fail(hr, s, NULL, "%s", msg.data);
	} else {
		step_end(hr, s->name, DCV_STEP_OK, 0, NULL, "%s listens on %d", s->target, hr->h->listen);
	}
	dcv_buf_release(&out);
	dcv_buf_release(&msg);
	dcv_buf_release(&sh);
	return ok;
}

/* dcvserver, then enabled: not enabled, it would not come back after a reboot. */
static bool do_restart(struct apply *a, const struct dcv_plan_step *s)
{
	struct hostrun *hr = a->hr;
	const char *unit[] = { s->target };
	struct dcv_err e = DCV_ERR_INIT;
	struct dcv_buf msg = DCV_BUF_INIT;
	bool ok = true, restart = strcmp(s->verb, "restart") == 0;

	if (systemctl(hr, s->verb, unit, 1, s->enable ? "enable" : NULL, unit, 1, &msg, &e) != DCV_OK) {
		ok = failed_err(hr, s->name, &e);
	} else if (msg.len && strncmp(msg.data, "systemctl enable", 16) == 0) {
		a->restarted = true;
		ok = fail(hr, s, NULL, "%s %s, but %s", s->target, restart ? "restarted" : "started", msg.data);
	} else if (msg.len) {
		ok = fail(hr, s, NULL, "%s", msg.data);
	} else {
		a->restarted = true;
		step_end(hr, s->name, DCV_STEP_CHANGED, 0, NULL, "%s %s", s->target,
			 restart ? "restarted (dcv.conf changed)" : "started");
	}
	dcv_buf_release(&msg);
	return ok;
}

/* After a restart the sessions are read again and the same rule decides. */
static bool do_session(struct apply *a, const struct dcv_plan_step *s)
{
	static const char *const verb[] = { "", "created", "recreated" };
	struct hostrun *hr = a->hr;
	const struct dcv_host *h = hr->h;
	enum dcv_session_action action = s->session;
	struct dcv_err e = DCV_ERR_INIT;

	if (s->after_restart) {
		struct dcv_sessions list = { 0 };
		struct dcv_session_ensure again;
		if (dcv_agent_sessions(hr->c, h, &list, &e) != DCV_OK)
			return failed_err(hr, s->name, &e);
		dcv_session_ensure_plan(h, &list, &again);
		dcv_sessions_release(&list);
		if (again.action == DCV_SESSION_NONE) {
			step_end(hr, s->name, DCV_STEP_OK, 0, NULL, "%s", again.reason);
			return true;
		}
		action = again.action;
	}
	if (dcv_agent_session_ensure(hr->c, h, action, &e) != DCV_OK)
		return failed_err(hr, s->name, &e);
	step_end(hr, s->name, DCV_STEP_CHANGED, 0, NULL, "%s session '%s' (owner %s, %s)", verb[action], h->session,
		 h->session_owner, h->session_type);
	return true;
}

/* One step: reported as planned when nothing is to be done or in a dry run, else carried out.
 * false stops the host's run. */
static bool apply_step(struct apply *a, const struct dcv_plan_step *s)
{
	struct hostrun *hr = a->hr;

	hr->reason = s->reason;
	if (s->blocked)
		return fail(hr, s, NULL, "%s", s->detail);
	if (hr->run->o->dry_run || (!s->change && s->op != DCV_OP_LISTEN)) {
		step_end(hr, s->name, s->change ? DCV_STEP_CHANGED : DCV_STEP_OK, 0, diff_copy(s), "%s", s->detail);
		return true;
	}
	switch (s->op) {
	case DCV_OP_PACKAGE: return do_package(a, s);
	case DCV_OP_SECRET: return do_secret(a, s);
	case DCV_OP_DERIVE: return do_derive(a, s);
	case DCV_OP_FILE: return do_file(a, s);
	case DCV_OP_STOP: return do_stop(a, s);
	case DCV_OP_SERVICE: return do_service(a, s);
	case DCV_OP_LISTEN: return do_listen(a, s);
	case DCV_OP_RESTART: return do_restart(a, s);
	case DCV_OP_SESSION: return do_session(a, s);
	case DCV_OP_REQUIRE: break; /* a met precondition changes nothing */
	}
	return true;
}

static bool apply_plan(struct hostrun *hr, const struct dcv_plan *p, const char *proxy_unit)
{
	struct apply a = { hr, p, proxy_unit, NULL, false };

	bool ok = true;

	for (int i = 0; ok && i < p->n; i++)
		ok = apply_step(&a, &p->steps[i]);
	hr->reason = NULL;
	return ok;
}

/* ------------------------------------------------------------------ hosts */

/* The new proxy is installed and validated while the old one still serves; only then are
 * the units holding the port stopped, and if the new one does not come up they start again. */
static bool deploy_gateway(struct run *r, const struct dcv_host *h)
{
	const struct dcv_proxy_kind *k = dcv_proxy_kind(h->proxy);
	struct hostrun hr = { .run = r, .h = h };
	struct dcv_gw_facts f;
	struct dcv_plan p = { 0 };
	struct dcv_err e = DCV_ERR_INIT;
	char *pw = NULL, *secret = NULL;
	bool ok = false;

	memset(&f, 0, sizeof(f));
	if (!host_open(&hr))
		goto out;
	if (dcv_gw_facts_read(hr.c, h, k, false, &f, &e) != DCV_OK) {
		failed_err(&hr, "facts", &e);
		goto out;
	}
	/* made up here, so the plan stays a pure function; used only when the gateway has none */
	pw = random_token(24);
	secret = xasprintf("dcvctl:%s", pw);
	dcv_plan_gateway(r->inv, h, k, &f, secret, &p);
	ok = apply_plan(&hr, &p, k->unit);
out:
	dcv_plan_release(&p);
	dcv_gw_facts_release(&f);
	host_close(&hr);
	if (pw)
		explicit_bzero(pw, strlen(pw));
	if (secret)
		explicit_bzero(secret, strlen(secret));
	free(pw);
	free(secret);
	return ok;
}

static void deploy_agent(struct run *r, const struct dcv_host *h)
{
	struct hostrun hr = { .run = r, .h = h };
	struct dcv_agent_facts st;
	struct dcv_plan p = { 0 };
	struct dcv_err e = DCV_ERR_INIT;
	int gate;

	memset(&st, 0, sizeof(st));
	if (!host_open(&hr))
		goto out;
	if (dcv_agent_facts_read(hr.c, h, &st, &e) != DCV_OK) {
		failed_err(&hr, "facts", &e);
		goto out;
	}
	pthread_mutex_lock(&r->gate_lock);
	while (r->gate == 0)
		pthread_cond_wait(&r->gate_cond, &r->gate_lock);
	gate = r->gate;
	pthread_mutex_unlock(&r->gate_lock);
	if (gate < 0) {
		step_end(&hr, "wait", DCV_STEP_SKIPPED, 0, NULL,
			 "left as it was: the gateway failed, so the previous path keeps serving");
		goto out;
	}
	dcv_plan_agent(h, &st, &p);
	apply_plan(&hr, &p, NULL);
out:
	dcv_plan_release(&p);
	dcv_agent_facts_release(&st);
	host_close(&hr);
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
		free(res->steps[i].reason);
	}
	free(res->steps);
	pthread_mutex_destroy(&res->lock);
	memset(res, 0, sizeof(*res));
}

int dcv_deploy_put(struct dcv_ssh *c, const struct dcv_host *h, const struct dcv_put *put,
		   struct dcv_txn *txn, struct dcv_err *err)
{
	struct dcv_buf sh = DCV_BUF_INIT, out = DCV_BUF_INIT;
	char mode[8];
	int status = 0, rc;

	snprintf(mode, sizeof(mode), "%o", put->mode & 07777);
	rc = dcv_remote_write_file(c, h, put->path, put->content, put->len, mode, put->validate, put->apply,
				   txn, err);
	if (rc != DCV_OK || txn->status == DCV_TXN_INVALID)
		return rc;
	/* the transaction keeps a replaced file's owner and mode; the caller's record wins */
	dcv_buf_adds(&sh, "chown -- ");
	dcv_shquote(&sh, put->owner ? put->owner : "root");
	dcv_buf_addc(&sh, ':');
	dcv_shquote(&sh, put->group ? put->group : "root");
	dcv_buf_addc(&sh, ' ');
	dcv_shquote(&sh, put->path);
	dcv_buf_addf(&sh, " && chmod %s -- ", mode);
	dcv_shquote(&sh, put->path);
	rc = dcv_remote_sh(c, h, sh.data, &out, &out, &status, err);
	if (rc == DCV_OK && status != 0) {
		dcv_buf_rtrim(&out);
		rc = dcv_err_set(err, DCV_E_REMOTE, "%s written, but its owner or mode not set: %s", put->path,
				 dcv_buf_str(&out));
	}
	dcv_buf_release(&sh);
	dcv_buf_release(&out);
	return rc;
}

int dcv_deploy_unput(struct dcv_ssh *c, const struct dcv_host *h, const char *path, const char *backup,
		     struct dcv_err *err)
{
	struct dcv_buf sh = DCV_BUF_INIT, out = DCV_BUF_INIT;
	int status = 0, rc;

	if (backup && *backup) {
		dcv_buf_adds(&sh, "mv -f -- ");
		dcv_shquote(&sh, backup);
		dcv_buf_addc(&sh, ' ');
	} else {
		dcv_buf_adds(&sh, "rm -f -- ");
	}
	dcv_shquote(&sh, path);
	rc = dcv_remote_sh(c, h, sh.data, &out, &out, &status, err);
	if (rc == DCV_OK && status != 0) {
		dcv_buf_rtrim(&out);
		rc = dcv_err_set(err, DCV_E_REMOTE, "cannot put %s back: %s", path, dcv_buf_str(&out));
	}
	dcv_buf_release(&sh);
	dcv_buf_release(&out);
	return rc;
}
