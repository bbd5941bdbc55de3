/* The deploy of the bypass (nginx or HAProxy): gateway first, so a failure there leaves the
 * previous path serving and the agents untouched; then the agents in parallel, or in batches
 * that are each verified before the next (a rolling deploy, lib/rollout.h). Each host's
 * facts are read once, lib/plan decides every step from them, and this file carries the plan
 * out (or, in a dry run, only reports it): the transactions, the rollback and the lock. */
#include "deploy.h"

#include "agent.h"
#include "dnsmap.h"
#include "buf.h"
#include "err.h"
#include "facts.h"
#include "inventory.h"
#include "maint.h"
#include "plan.h"
#include "probe.h"
#include "proxy.h"
#include "proxy_gateway.h"
#include "remote.h"
#include "resolver.h"
#include "ssh.h"
#include "util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

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
	long long t_start;
	bool *agent_failed; /* per agents[] */
	int *batch_of;      /* per agents[]: the batch from 1 */
	int n_batches;      /* 0 when not rolling */
	int batch;          /* the batch under way */
	int *in_batch;      /* rolling: agents[] indexes of the batch under way */
	int n_in_batch;
	struct dcv_ssh *gw_conn; /* rolling: the gateway's shared connection to verify through, or NULL */
	char gw_err[256];        /* why gw_conn is NULL */
	int done;                /* hosts finished (under res->lock) */
	/* connection-gateway: the bypass kind that served before this run switched the gateway,
	 * to go back to when the resolver never answers (NULL: none, or no switch) */
	const struct dcv_proxy_kind *prev;
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
	bool failed; /* a step failed */
	int batch;
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
	s.started_ms = (long)(hr->t0 - hr->run->t_start);
	s.batch = hr->batch;
	if (dcv_err_is_transport(err_code))
		hr->lost = true;
	if (st == DCV_STEP_FAILED)
		hr->failed = true;
	dcv_deploy_result_add(res, &s, hr->run->o->on_step, hr->run->o->user);
	hr->t0 = dcv_now_ms();
	return st;
}

void dcv_deploy_result_add(struct dcv_deploy_result *res, const struct dcv_step *s, dcv_step_fn on_step, void *user)
{
	pthread_mutex_lock(&res->lock);
	res->steps = xrealloc(res->steps, sizeof(*res->steps) * (size_t)(res->n + 1));
	res->steps[res->n++] = *s;
	if (s->status == DCV_STEP_OK)
		res->ok++;
	else if (s->status == DCV_STEP_CHANGED)
		res->changed++;
	else if (s->status == DCV_STEP_SKIPPED)
		res->skipped++;
	else
		res->failed++;
	if (on_step)
		on_step(user, &res->steps[res->n - 1]);
	pthread_mutex_unlock(&res->lock);
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

static void progress(struct run *r, const char *host, bool failed)
{
	struct dcv_deploy_progress p = { r->done, r->res->hosts, r->res->hosts_failed,
					 r->batch, r->n_batches, host, failed };

	if (r->o->on_progress)
		r->o->on_progress(r->o->user, &p);
}

/* The host is finished: counted, and reported as progress. */
static void host_close(struct hostrun *hr)
{
	struct dcv_deploy_result *res = hr->run->res;

	dcv_remote_unlock(hr->lock);
	hr->lock = NULL;
	pthread_mutex_lock(&res->lock);
	if (hr->lost)
		res->unreachable++;
	if (hr->failed)
		res->hosts_failed++;
	hr->run->done++;
	progress(hr->run, hr->h->name, hr->failed);
	pthread_mutex_unlock(&res->lock);
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

/* A replaced file keeps its old mode: a private key is made root's alone again. */
static bool key_mode(struct hostrun *hr, const char *path, struct dcv_err *e)
{
	struct dcv_buf sh = DCV_BUF_INIT, out = DCV_BUF_INIT;
	int status = 0;
	bool ok;

	dcv_buf_adds(&sh, "chown root:root -- ");
	dcv_shquote(&sh, path);
	dcv_buf_adds(&sh, " && chmod 600 -- ");
	dcv_shquote(&sh, path);
	ok = dcv_remote_sh(hr->c, hr->h, sh.data, &out, &out, &status, e) == DCV_OK;
	if (ok && status != 0) {
		dcv_buf_rtrim(&out);
		dcv_err_set(e, DCV_E_REMOTE, "%s written, but not made mode 600: %s", path, dcv_buf_str(&out));
		ok = false;
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

	if (dcv_remote_write_file(hr->c, hr->h, s->target, s->after, strlen(s->after), s->mode, s->validate,
				  s->reload, &txn, &e) != DCV_OK)
		return failed_err(hr, s->name, &e);
	dcv_proxy_redact(&a->p->env, &txn.output);
	if (txn.status == DCV_TXN_INVALID) {
		fail(hr, s, diff_copy(s), "validation failed, previous %s put back and nothing reloaded: %s",
		     s->target, dcv_buf_str(&txn.output));
	} else if (txn.status == DCV_TXN_APPLY_FAILED) {
		fail(hr, s, diff_copy(s), "%s written but reload failed: %s", s->target, dcv_buf_str(&txn.output));
	} else if (s->secret_file && !key_mode(hr, s->target, &e)) {
		failed_err(hr, s->name, &e);
	} else {
		/* a step's own apply moves the backup out of a directory its service reads whole */
		step_end(hr, s->name, DCV_STEP_CHANGED, 0, diff_copy(s), "wrote %s%s%s", s->target,
			 txn.backup[0] ? s->apply ? ", backup in " DCV_MAINT_BACKUP_DIR : ", backup " : "",
			 txn.backup[0] && !s->apply ? txn.backup : "");
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

/* Something listens on the step's port (within 20 s: a Java broker takes its time). */
static bool do_port(struct apply *a, const struct dcv_plan_step *s)
{
	struct hostrun *hr = a->hr;
	struct dcv_err e = DCV_ERR_INIT;
	struct dcv_buf out = DCV_BUF_INIT, sh = DCV_BUF_INIT;
	int status = 0;
	bool ok = true;

	dcv_buf_addf(&sh,
		     "i=0; while [ $i -lt 100 ]; do s=$(ss -Htln 'sport = :%d' 2>/dev/null); [ -z \"$s\" ] || exit 0; "
		     "i=$((i+1)); sleep 0.2; done; exit 1",
		     s->port);
	if (dcv_remote_sh(hr->c, hr->h, sh.data, &out, NULL, &status, &e) != DCV_OK)
		ok = failed_err(hr, s->name, &e);
	else if (status != 0)
		ok = fail(hr, s, NULL, "nothing listens on %d within 20 s: see %s's log (journalctl -u %s)", s->port,
			  s->target, s->target);
	else
		step_end(hr, s->name, DCV_STEP_OK, 0, NULL, "%s listens on %d", s->target, s->port);
	dcv_buf_release(&out);
	dcv_buf_release(&sh);
	return ok;
}

/* A unit of dcvctl's own (the health timer): no port changes hands, so nothing to roll back. */
static bool do_unit(struct apply *a, const struct dcv_plan_step *s)
{
	struct hostrun *hr = a->hr;
	const char *unit[] = { s->target };
	struct dcv_err e = DCV_ERR_INIT;
	struct dcv_buf msg = DCV_BUF_INIT;
	bool ok = true;

	if (systemctl(hr, s->verb, unit, s->verb ? 1 : 0, s->enable ? "enable" : NULL, unit, 1, &msg, &e) != DCV_OK)
		ok = failed_err(hr, s->name, &e);
	else if (msg.len)
		ok = fail(hr, s, NULL, "%s", msg.data);
	else
		step_end(hr, s->name, DCV_STEP_CHANGED, 0, NULL, "%s %s%s%s", s->target, s->verb ? s->verb : "",
			 s->verb && s->enable ? "ed and " : s->verb ? "ed" : "", s->enable ? "enabled" : "");
	dcv_buf_release(&msg);
	return ok;
}

/* What [maintenance] no longer wants: units stopped and disabled, files removed, systemd told. */
static bool do_remove(struct apply *a, const struct dcv_plan_step *s)
{
	struct hostrun *hr = a->hr;
	struct dcv_err e = DCV_ERR_INIT;
	struct dcv_buf msg = DCV_BUF_INIT, sh = DCV_BUF_INIT, out = DCV_BUF_INIT;
	int status = 0;
	bool ok = true;

	if (s->n_stop || s->n_disable) {
		if (systemctl(hr, "stop", s->stop, s->n_stop, "disable", s->disable, s->n_disable, &msg, &e) != DCV_OK)
			ok = failed_err(hr, s->name, &e);
		else if (msg.len)
			ok = fail(hr, s, NULL, "%s", msg.data);
	}
	if (ok && s->n_remove) {
		dcv_buf_adds(&sh, "rm -f --");
		for (int i = 0; i < s->n_remove; i++) {
			dcv_buf_addc(&sh, ' ');
			dcv_shquote(&sh, s->remove[i]);
		}
		if (s->reload)
			dcv_buf_addf(&sh, " && %s", s->reload);
		if (dcv_remote_sh(hr->c, hr->h, sh.data, &out, &out, &status, &e) != DCV_OK) {
			ok = failed_err(hr, s->name, &e);
		} else if (status != 0) {
			dcv_buf_rtrim(&out);
			ok = fail(hr, s, NULL, "cannot remove %s: %s", s->target, dcv_buf_str(&out));
		}
	}
	if (ok)
		step_end(hr, s->name, DCV_STEP_CHANGED, 0, NULL, "%s%s%s%s", s->n_stop || s->n_disable ?
			 "stopped and disabled " DCV_HEALTH_TIMER_UNIT : "", (s->n_stop || s->n_disable) && s->n_remove ?
			 ", " : "", s->n_remove ? "removed " : "", s->n_remove ? s->target : "");
	dcv_buf_release(&msg);
	dcv_buf_release(&sh);
	dcv_buf_release(&out);
	return ok;
}

/* dcvserver, then enabled: not enabled, it would not come back after a reboot. */
static bool do_restart(struct apply *a, const struct dcv_plan_step *s)
{
	struct hostrun *hr = a->hr;
	const char *unit[] = { s->target };
	struct dcv_err e = DCV_ERR_INIT;
	struct dcv_buf msg = DCV_BUF_INIT;
	bool ok = true, restart = s->verb && strcmp(s->verb, "restart") == 0;

	if (systemctl(hr, s->verb, unit, s->verb ? 1 : 0, s->enable ? "enable" : NULL, unit, 1, &msg, &e) != DCV_OK) {
		ok = failed_err(hr, s->name, &e);
	} else if (msg.len && strncmp(msg.data, "systemctl enable", 16) == 0) {
		a->restarted = true;
		ok = fail(hr, s, NULL, "%s %s, but %s", s->target, restart ? "restarted" : "started", msg.data);
	} else if (msg.len) {
		ok = fail(hr, s, NULL, "%s", msg.data);
	} else {
		a->restarted = true;
		step_end(hr, s->name, DCV_STEP_CHANGED, 0, NULL, "%s %s", s->target,
			 !s->verb ? "enabled" : !restart ? "started" : strcmp(s->target, DCV_UNIT_BROKER) == 0 ? "restarted (properties changed)"
											  : "restarted (dcv.conf changed)");
	}
	dcv_buf_release(&msg);
	return ok;
}

/* dcvserver creates the automatic console session once it is up (reference/dcv.md §1.1): read
 * the sessions until it is there, for at most AWAIT_SESSION_S seconds. */
#define AWAIT_SESSION_S 20
static bool await_session(struct hostrun *hr, const struct dcv_plan_step *s)
{
	const struct dcv_host *h = hr->h;
	struct dcv_session_ensure got = { DCV_SESSION_CREATE, "" };
	struct dcv_err e = DCV_ERR_INIT;
	long long end = dcv_now_ms() + AWAIT_SESSION_S * 1000LL;

	for (;;) {
		struct dcv_sessions list = { 0 };
		if (dcv_agent_sessions(hr->c, h, &list, &e) != DCV_OK)
			return failed_err(hr, s->name, &e);
		dcv_session_ensure_plan(h, &list, &got);
		dcv_sessions_release(&list);
		if (got.action == DCV_SESSION_NONE || dcv_now_ms() >= end)
			break;
		sleep(1);
	}
	if (got.action != DCV_SESSION_NONE)
		return fail(hr, s, NULL,
			    "dcvserver did not create session '%s' within %d s of its restart (%s); dcv.conf sets "
			    "[session-management] create-session = true: see /var/log/dcv/server.log",
			    h->session, AWAIT_SESSION_S, got.reason);
	step_end(hr, s->name, DCV_STEP_OK, 0, NULL, "%s, created by dcvserver at start", got.reason);
	return true;
}

/* After a restart the sessions are read again and the same rule decides. */
static bool do_session(struct apply *a, const struct dcv_plan_step *s)
{
	static const char *const verb[] = { "", "created", "recreated" };
	struct hostrun *hr = a->hr;
	const struct dcv_host *h = hr->h;
	enum dcv_session_action action = s->session;
	struct dcv_err e = DCV_ERR_INIT;

	if (s->await)
		return await_session(hr, s);
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

/* The work that loads a host for seconds (systemd jobs, package managers, dcv create-session):
 * bounded across hosts by the pool, so a 200-agent deploy does not time itself out. */
static bool heavy(enum dcv_plan_op op)
{
	return op == DCV_OP_PACKAGE || op == DCV_OP_STOP || op == DCV_OP_SERVICE || op == DCV_OP_RESTART ||
	       op == DCV_OP_SESSION;
}

static bool apply_op(struct apply *a, const struct dcv_plan_step *s);

/* One step: reported as planned when nothing is to be done or in a dry run, else carried out.
 * false stops the host's run. */
static bool apply_step(struct apply *a, const struct dcv_plan_step *s)
{
	struct hostrun *hr = a->hr;

	hr->reason = s->reason;
	if (s->blocked)
		return fail(hr, s, NULL, "%s", s->detail);
	if (hr->run->o->dry_run || (!s->change && s->op != DCV_OP_LISTEN && s->op != DCV_OP_PORT && !s->await)) {
		step_end(hr, s->name, s->change ? DCV_STEP_CHANGED : DCV_STEP_OK, 0, diff_copy(s), "%s", s->detail);
		return true;
	}
	if (heavy(s->op)) {
		bool ok;
		dcv_ssh_slot_acquire(hr->run->pool, hr->h, s->name);
		ok = apply_op(a, s);
		dcv_ssh_slot_release(hr->run->pool);
		return ok;
	}
	return apply_op(a, s);
}

static bool apply_op(struct apply *a, const struct dcv_plan_step *s)
{
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
	case DCV_OP_UNIT: return do_unit(a, s);
	case DCV_OP_REMOVE: return do_remove(a, s);
	case DCV_OP_PORT: return do_port(a, s);
	case DCV_OP_GENCERTS: break; /* deploy_broker runs it before the rest of the plan */
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

/* ------------------------------------------------------------------ connection-gateway (seed 004) */

/* Run gen-gateway-certificates.sh and take what it prints: the folder and the trust-store
 * password (never shown: its output goes nowhere), then the trust store found in that folder. */
static bool gen_certs(struct hostrun *hr, const struct dcv_plan_step *s, struct dcv_broker_mtls *made,
		      char **store, char **pass)
{
	struct dcv_buf out = DCV_BUF_INIT, sh = DCV_BUF_INIT, found = DCV_BUF_INIT;
	struct dcv_err e = DCV_ERR_INIT;
	char *folder = NULL;
	int status = 0;
	bool ok = false;

	hr->reason = s->reason;
	dcv_ssh_slot_acquire(hr->run->pool, hr->h, s->name);
	if (dcv_remote_sh(hr->c, hr->h, s->cmd, &out, &out, &status, &e) != DCV_OK) {
		failed_err(hr, s->name, &e);
	} else if (status != 0) {
		/* its output may carry the password: only the status is told */
		fail(hr, s, NULL, "%s failed (exit %d): run it on %s to see why", s->cmd, status, hr->h->name);
	} else if (!dcv_plan_parse_gencerts(dcv_buf_str(&out), &folder, pass)) {
		fail(hr, s, NULL, "%s printed no output folder and trust-store password that dcvctl recognises "
			 "(reference/dcv.md §5.1)", s->cmd);
	} else {
		dcv_buf_adds(&sh, "d=");
		dcv_shquote(&sh, folder);
		dcv_buf_adds(&sh, "; for f in \"$d\"/*[Tt]rust[Ss]tore* \"$d\"/*.p12 \"$d\"/*.jks; do "
				  "[ -f \"$f\" ] && { printf '%s\\n' \"$f\"; exit 0; }; done; exit 1");
		if (dcv_remote_sh(hr->c, hr->h, sh.data, &found, NULL, &status, &e) != DCV_OK) {
			failed_err(hr, s->name, &e);
		} else if (status != 0 || !found.len) {
			fail(hr, s, NULL, "%s made no trust store in %s", s->cmd, folder);
		} else {
			dcv_buf_rtrim(&found);
			*store = dcv_buf_detach(&found);
			made->trust_store_file = *store;
			made->trust_store_pass = *pass;
			step_end(hr, s->name, DCV_STEP_CHANGED, 0, NULL,
				 "ran %s: client credentials in %s, trust store %s (its password goes only into %s)",
				 s->cmd, folder, *store, DCV_BROKER_PROPERTIES);
			ok = true;
		}
	}
	dcv_ssh_slot_release(hr->run->pool);
	if (out.data)
		explicit_bzero(out.data, out.len);
	dcv_buf_release(&out);
	dcv_buf_release(&sh);
	dcv_buf_release(&found);
	free(folder);
	hr->reason = NULL;
	return ok;
}

/* The broker's half (dcv_plan_broker): the client credentials generated first when they are
 * missing, since their password goes into the properties; then the rest of the plan. `bf` is
 * read again afterwards, so the gateway copies what the broker holds now (its CA is made at
 * first start). *pending: a dry run whose broker would still change. */
static bool deploy_broker(struct hostrun *hr, struct dcv_broker_facts *bf, bool *pending)
{
	const struct dcv_inventory *inv = hr->run->inv;
	struct dcv_plan p = { 0 };
	struct dcv_broker_mtls made = { 0 };
	struct dcv_err e = DCV_ERR_INIT;
	char *store = NULL, *pass = NULL;
	const struct dcv_plan_step *gen;
	bool ok = true, skip_gen = false;

	*pending = false;
	step_begin(hr);
	if (dcv_broker_facts_read(hr->c, hr->h, inv, true, bf, &e) != DCV_OK)
		return failed_err(hr, "broker-facts", &e);
	dcv_plan_broker(inv, hr->h, bf, NULL, &p);
	gen = dcv_plan_find(&p, "gateway-certs");
	if (gen && gen->change && !gen->blocked && !p.steps[0].blocked && !hr->run->o->dry_run) {
		ok = gen_certs(hr, gen, &made, &store, &pass);
		dcv_plan_release(&p);
		if (ok)
			dcv_plan_broker(inv, hr->h, bf, &made, &p);
		skip_gen = true;
	}
	if (ok) {
		struct apply a = { hr, &p, NULL, NULL, false };
		for (int i = 0; ok && i < p.n; i++)
			if (!(skip_gen && p.steps[i].op == DCV_OP_GENCERTS))
				ok = apply_step(&a, &p.steps[i]);
		hr->reason = NULL;
	}
	for (int i = 0; i < p.n; i++)
		*pending |= hr->run->o->dry_run && p.steps[i].change;
	dcv_plan_release(&p);
	if (pass)
		explicit_bzero(pass, strlen(pass));
	free(pass);
	free(store);
	if (ok && !hr->run->o->dry_run) {
		dcv_broker_facts_release(bf);
		step_begin(hr);
		if (dcv_broker_facts_read(hr->c, hr->h, inv, true, bf, &e) != DCV_OK) {
			memset(bf, 0, sizeof(*bf));
			return failed_err(hr, "broker-facts", &e);
		}
	}
	return ok;
}

/* The broker's host: the gateway's own run, or one of its own (connected and locked). */
static bool broker_open(struct hostrun *gw, const struct dcv_host *b, struct hostrun *br)
{
	struct dcv_err e = DCV_ERR_INIT;

	if (b == gw->h) {
		*br = *gw;
		return true;
	}
	memset(br, 0, sizeof(*br));
	br->run = gw->run;
	br->h = b;
	step_begin(br);
	if (dcv_ssh_connect(br->run->pool, b, &br->c, &e) != DCV_OK)
		return failed_err(br, "connect", &e);
	if (br->run->o->dry_run)
		return true;
	if (dcv_remote_lock(br->c, b, br->run->o->owner ? br->run->o->owner : "dcvctl deploy", &br->lock, &e) !=
	    DCV_OK)
		return failed_err(br, "lock", &e);
	return true;
}

/* The broker first (the gateway needs its CA and credentials), then the gateway, whose
 * nginx/HAProxy stop only once the gateway's configuration is in place and valid. */
static bool deploy_connection_gateway(struct hostrun *hr, const struct dcv_proxy_kind *k, const struct dcv_gw_facts *f,
				      struct dcv_plan *p)
{
	struct run *r = hr->run;
	const struct dcv_host *b = dcv_broker_host(r->inv);
	struct hostrun br;
	struct dcv_broker_facts bf;
	struct dcv_gw_resolver_facts rf;
	struct dcv_plan_resolver res = { b, &bf, &rf, false };
	struct dcv_err e = DCV_ERR_INIT;
	bool ok;

	memset(&bf, 0, sizeof(bf));
	memset(&rf, 0, sizeof(rf));
	if (!b) {
		step_end(hr, "broker", DCV_STEP_FAILED, DCV_E_CONFIG, NULL, "no broker host: set [broker] host");
		return false;
	}
	ok = broker_open(hr, b, &br) && deploy_broker(&br, &bf, &res.broker_pending);
	if (b != hr->h) {
		dcv_remote_unlock(br.lock);
		hr->failed |= br.failed;
		hr->lost |= br.lost;
	} else {
		hr->failed = br.failed;
		hr->lost = br.lost;
	}
	if (ok) {
		step_begin(hr);
		if (dcv_gw_resolver_facts_read(hr->c, hr->h, &rf, &e) != DCV_OK)
			ok = failed_err(hr, "facts", &e);
	}
	if (ok) {
		dcv_plan_gateway_resolver(r->inv, hr->h, k, f, &res, p);
		ok = apply_plan(hr, p, k->unit);
	}
	dcv_gw_resolver_facts_release(&rf);
	dcv_broker_facts_release(&bf);
	return ok;
}

/* The broker resolves a session only for a server it has a DNS mapping of (reference §5.3):
 * the agents without one are registered (mappings die with a broker restart unless it
 * persists them, so every deploy looks). */
static bool register_mappings(struct hostrun *br)
{
	struct run *r = br->run;
	struct dcv_broker_facts bf;
	struct dcv_buf file = DCV_BUF_INIT, sh = DCV_BUF_INIT, out = DCV_BUF_INIT;
	struct dcv_err e = DCV_ERR_INIT;
	struct dcv_txn txn;
	int added, status = 0;
	bool ok = false;

	step_begin(br);
	if (dcv_broker_facts_read(br->c, br->h, r->inv, true, &bf, &e) != DCV_OK)
		return failed_err(br, "dns-mappings", &e);
	added = dcv_dnsmap_merge(bf.mappings_ok ? dcv_buf_str(&bf.mappings) : NULL, r->agents, r->n_agents, &file);
	dcv_broker_facts_release(&bf);
	if (!added) {
		step_end(br, "dns-mappings", DCV_STEP_OK, 0, NULL, "every agent has a DNS mapping on the broker");
		dcv_buf_release(&file);
		return true;
	}
	if (dcv_remote_write_file(br->c, br->h, DCV_DNSMAP_FILE, file.data, file.len, "600", NULL, NULL, &txn, &e) !=
	    DCV_OK) {
		dcv_buf_release(&file);
		return failed_err(br, "dns-mappings", &e);
	}
	dcv_txn_release(&txn);
	dcv_buf_adds(&sh, DCV_UNIT_BROKER " register-server-dns-mappings --file-path " DCV_DNSMAP_FILE);
	br->reason = "agents the broker has no DNS mapping of get 404 from the resolver";
	if (dcv_remote_sh(br->c, br->h, sh.data, &out, &out, &status, &e) != DCV_OK) {
		failed_err(br, "dns-mappings", &e);
	} else if (status != 0) {
		dcv_buf_rtrim(&out);
		step_end(br, "dns-mappings", DCV_STEP_FAILED, 0, NULL, "register-server-dns-mappings failed (exit %d): %s",
			 status, dcv_buf_str(&out));
	} else {
		step_end(br, "dns-mappings", DCV_STEP_CHANGED, 0, NULL, "registered %d DNS mapping%s from %s", added,
			 added == 1 ? "" : "s", DCV_DNSMAP_FILE);
		ok = true;
	}
	br->reason = NULL;
	dcv_buf_release(&file);
	dcv_buf_release(&sh);
	dcv_buf_release(&out);
	return ok;
}

/* One round of POST /resolveSession from the gateway for every session still missing, as the
 * gateway itself asks (reference §4), with the CA and client certificate it uses. `missing`
 * gets one "session 'ID' of AGENT (why)" per agent still unresolved. */
static int resolve_round(struct hostrun *hr, const char *url, bool *done, struct dcv_buf *missing)
{
	struct run *r = hr->run;
	struct dcv_buf sh = DCV_BUF_INIT, out = DCV_BUF_INIT;
	struct dcv_err e = DCV_ERR_INIT;
	int status = 0, left = 0;

	dcv_buf_adds(&sh, "b64() { base64 -w0; echo; }\n");
	for (int i = 0; i < r->n_agents; i++) {
		struct dcv_buf target = DCV_BUF_INIT;
		if (done[i])
			continue;
		dcv_resolver_target(&target, r->agents[i]->session, "HTTP");
		dcv_buf_addf(&sh, "printf 'r.%d='; curl -sS -m 5 -X POST -H 'accept: application/json' --cacert %s", i,
			     DCV_GATEWAY_BROKER_CA);
		if (r->inv->tls_client_auth)
			dcv_buf_adds(&sh, " --cert " DCV_GATEWAY_CLIENT_CERT " --key " DCV_GATEWAY_CLIENT_KEY);
		dcv_buf_adds(&sh, " -w '\\n%{http_code}' ");
		char *full = xasprintf("%s%s", url, target.data);
		dcv_shquote(&sh, full);
		free(full);
		dcv_buf_adds(&sh, " 2>&1 | b64\n");
		dcv_buf_release(&target);
	}
	dcv_buf_reset(missing);
	if (dcv_remote_sh(hr->c, hr->h, sh.data, &out, NULL, &status, &e) != DCV_OK) {
		dcv_buf_release(&sh);
		failed_err(hr, "resolver", &e);
		return -1;
	}
	for (int i = 0; i < r->n_agents; i++) {
		const struct dcv_host *a = r->agents[i];
		char key[32];
		const char *l;
		struct dcv_buf body = DCV_BUF_INIT;
		struct dcv_resolution res;
		char why[300] = "no answer";
		if (done[i])
			continue;
		snprintf(key, sizeof(key), "r.%d=", i);
		for (l = out.data; l && strncmp(l, key, strlen(key)) != 0; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
			;
		if (l && dcv_base64_decode(l + strlen(key), strcspn(l + strlen(key), "\n"), &body)) {
			char *nl = strrchr(dcv_buf_str(&body), '\n');
			int code = nl ? atoi(nl + 1) : 0;
			if (nl)
				*nl = '\0';
			int rc = code ? dcv_resolver_parse(code, dcv_buf_str(&body), &res, &e) : DCV_E_REMOTE;
			if (code == 0) /* curl's own complaint: no HTTP answer at all */
				snprintf(why, sizeof(why), "%.200s", dcv_buf_str(&body));
			else if (rc != DCV_OK)
				snprintf(why, sizeof(why), "%s", e.msg);
			else if (res.status == DCV_RESOLVE_NOT_FOUND)
				snprintf(why, sizeof(why), "404%s%s", *res.message ? ": " : "", res.message);
			else if (strcmp(res.endpoint, a->address) != 0 || res.port != a->port)
				snprintf(why, sizeof(why), "resolved to %s:%d, not %s:%d", res.endpoint, res.port, a->address,
					 a->port);
			else
				done[i] = true;
			if (rc == DCV_OK)
				dcv_resolution_release(&res);
		}
		dcv_buf_release(&body);
		if (!done[i]) {
			left++;
			dcv_buf_addf(missing, "%ssession '%s' of %s (%s)", missing->len ? ", " : "", a->session, a->name, why);
		}
	}
	dcv_buf_release(&sh);
	dcv_buf_release(&out);
	return left;
}

/* Deploy ends when the resolver answers 200 for every session, from the gateway: the broker
 * forgets sessions when it restarts until each agent reports again (reference §5.2: every
 * broker_update_interval, 30 s by default), so wait for it, bounded. */
#define RESOLVE_WAIT_S 90
static bool resolve_sessions(struct run *r)
{
	const struct dcv_host *gw = dcv_inventory_gateway(r->inv), *b = dcv_broker_host(r->inv);
	struct hostrun hr = { .run = r, .h = gw }, br = { .run = r, .h = b };
	struct dcv_buf missing = DCV_BUF_INIT, names = DCV_BUF_INIT;
	struct dcv_err e = DCV_ERR_INIT;
	const char *name;
	bool *done;
	char *url;
	long long end;
	int left;

	step_begin(&hr);
	if (dcv_gateway_resolver_name(r->inv, &name, &e) != DCV_OK) {
		failed_err(&hr, "resolver", &e);
		return false;
	}
	if (r->o->dry_run) {
		for (int i = 0; i < r->n_agents; i++)
			dcv_buf_addf(&names, "%s'%s' (%s)", i ? ", " : "", r->agents[i]->session, r->agents[i]->name);
		step_end(&hr, "resolver", DCV_STEP_OK, 0, NULL,
			 "would register missing DNS mappings on %s and wait for https://%s:%d to resolve %s", b->name, name,
			 r->inv->resolver_port, names.len ? names.data : "no session");
		dcv_buf_release(&names);
		return true;
	}
	step_begin(&br);
	if (dcv_ssh_connect(r->pool, b, &br.c, &e) != DCV_OK) {
		failed_err(&br, "dns-mappings", &e);
		return false;
	}
	if (!register_mappings(&br))
		return false;
	step_begin(&hr);
	if (dcv_ssh_connect(r->pool, gw, &hr.c, &e) != DCV_OK) {
		failed_err(&hr, "resolver", &e);
		return false;
	}
	url = xasprintf("https://%s:%d", name, r->inv->resolver_port);
	done = xcalloc((size_t)r->n_agents + 1, sizeof(*done));
	end = dcv_now_ms() + RESOLVE_WAIT_S * 1000LL;
	while ((left = resolve_round(&hr, url, done, &missing)) > 0 && dcv_now_ms() < end)
		sleep(2);
	if (left == 0)
		step_end(&hr, "resolver", DCV_STEP_OK, 0, NULL, "%s resolves every session (%d) from the gateway", url,
			 r->n_agents);
	else if (left > 0)
		step_end(&hr, "resolver", DCV_STEP_FAILED, 0, NULL,
			 "%s did not resolve within %d s: %s; the broker learns sessions from each agent's %s and needs "
			 "a DNS mapping per server (reference/dcv.md §5.3): see `dcvctl check --only gateway.resolver`",
			 url, RESOLVE_WAIT_S, dcv_buf_str(&missing), DCV_UNIT_SM_AGENT);
	free(done);
	free(url);
	dcv_buf_release(&missing);
	return left == 0;
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
	if (!k->bypass) {
		/* a switch: the kind whose unit serves now is what to go back to */
		for (int i = 0; !dcv_unit_is_active(dcv_gw_facts_unit(&f, k->unit)) && dcv_proxy_kinds[i]; i++)
			if (dcv_proxy_kinds[i]->bypass && dcv_unit_is_active(dcv_gw_facts_unit(&f, dcv_proxy_kinds[i]->unit)))
				r->prev = dcv_proxy_kinds[i];
		ok = deploy_connection_gateway(&hr, k, &f, &p);
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

/* A rolling deploy moves on only from a batch that serves: the agent's session is there as
 * configured and its dcvserver answers GET from the gateway's vantage point (check's
 * gateway-to-agent hop, through a tunnel on the gateway's connection). */
static void verify_agent(struct hostrun *hr)
{
	struct run *r = hr->run;
	const struct dcv_host *h = hr->h;
	struct dcv_sessions list = { 0 };
	struct dcv_session_ensure want;
	struct dcv_probe_opts po = DCV_PROBE_OPTS_INIT;
	struct dcv_http_result http;
	struct dcv_err e = DCV_ERR_INIT;
	char url[512];
	int fd = -1, rc;

	step_begin(hr);
	if (dcv_agent_sessions(hr->c, h, &list, &e) != DCV_OK) {
		failed_err(hr, "verify", &e);
		return;
	}
	dcv_session_ensure_plan(h, &list, &want);
	dcv_sessions_release(&list);
	if (want.action != DCV_SESSION_NONE) {
		step_end(hr, "verify", DCV_STEP_FAILED, 0, NULL, "session '%s' is not there as configured: %s",
			 h->session, want.reason);
		return;
	}
	if (!dcv_inventory_gateway(r->inv)) {
		step_end(hr, "verify", DCV_STEP_OK, 0, NULL, "session '%s' present", h->session);
		return;
	}
	if (!r->gw_conn) {
		step_end(hr, "verify", DCV_STEP_FAILED, DCV_E_CONNECT, NULL, "cannot verify from the gateway: %s",
			 r->gw_err);
		return;
	}
	snprintf(url, sizeof(url), strchr(h->address, ':') ? "https://[%s]:%d%s" : "https://%s:%d%s", h->address,
		 h->port, h->web_url_path);
	rc = dcv_ssh_tunnel(r->gw_conn, h->address, h->port, &fd, &e);
	if (rc == DCV_OK) {
		po.via_fd = fd;
		rc = dcv_probe_http(url, &po, &http, &e);
		close(fd);
	}
	if (rc != DCV_OK)
		step_end(hr, "verify", DCV_STEP_FAILED, 0, NULL, "GET %s from the gateway: %s", url, e.msg);
	else if (http.status != 200)
		step_end(hr, "verify", DCV_STEP_FAILED, 0, NULL, "GET %s from the gateway: %ld (expected 200)", url,
			 http.status);
	else
		step_end(hr, "verify", DCV_STEP_OK, 0, NULL, "session '%s' present, GET %s from the gateway: 200",
			 h->session, url);
}

static void deploy_agent(struct run *r, int i)
{
	const struct dcv_host *h = r->agents[i];
	struct hostrun hr = { .run = r, .h = h, .batch = r->batch_of[i] };
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
	dcv_plan_agent(r->inv, h, &st, &p);
	if (apply_plan(&hr, &p, NULL) && r->n_batches && !r->o->dry_run)
		verify_agent(&hr);
out:
	r->agent_failed[i] = hr.failed;
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
		deploy_agent(r, r->with_gw ? i - 1 : i);
}

static void batch_worker(void *user, int i)
{
	struct run *r = user;
	deploy_agent(r, r->in_batch[i]);
}

static void batch_begins(struct run *r, int batch)
{
	pthread_mutex_lock(&r->res->lock);
	r->batch = batch;
	progress(r, NULL, false);
	pthread_mutex_unlock(&r->res->lock);
}

static void leave_untouched(struct run *r, const struct dcv_host *h)
{
	struct dcv_deploy_result *res = r->res;

	res->untouched = xrealloc(res->untouched, sizeof(*res->untouched) * (size_t)(res->n_untouched + 1));
	res->untouched[res->n_untouched++] = xstrdup(h->name);
}

/* The gateway's connection, shared so every agent of a batch can be verified through it at once;
 * when it cannot be had, each verification says why. */
static void share_gateway(struct run *r, const struct dcv_host *gw)
{
	struct dcv_err e = DCV_ERR_INIT;

	if (dcv_ssh_connect(r->pool, gw, &r->gw_conn, &e) != DCV_OK || dcv_ssh_share(r->gw_conn, &e) != DCV_OK) {
		r->gw_conn = NULL;
		snprintf(r->gw_err, sizeof(r->gw_err), "%s", e.msg);
	}
}

/* Gateway first; then batch after batch, stopping ahead of the next one once more agents
 * failed than the budget tolerates. */
static void rolling(struct run *r, const struct dcv_host *gw, bool do_gw)
{
	struct dcv_deploy_result *res = r->res;
	struct dcv_rollout ro;
	bool *backup = xcalloc((size_t)r->n_agents + 1, sizeof(*backup));
	int failed = 0, b;

	for (int i = 0; i < r->n_agents; i++)
		backup[i] = r->agents[i]->backup;
	dcv_rollout_plan(backup, r->n_agents, &r->o->serial, &r->o->max_fail, &ro);
	free(backup);
	res->batches = r->n_batches = ro.n_batches;
	res->budget = ro.budget;
	for (int i = 0; i < r->n_agents; i++)
		r->batch_of[i] = ro.batch[i] + 1;
	r->in_batch = xcalloc((size_t)r->n_agents + 1, sizeof(*r->in_batch));
	if (do_gw) {
		batch_begins(r, 0);
		res->gateway_failed = !deploy_gateway(r, gw);
		failed = res->gateway_failed ? ro.budget + 1 : 0;
	}
	if (gw && r->n_agents && !r->o->dry_run && !failed)
		share_gateway(r, gw);
	for (b = 0; b < ro.n_batches && failed <= ro.budget; b++) {
		r->n_in_batch = 0;
		for (int i = 0; i < r->n_agents; i++)
			if (ro.batch[i] == b)
				r->in_batch[r->n_in_batch++] = i;
		batch_begins(r, b + 1);
		dcv_parallel(r->n_in_batch, r->n_in_batch, batch_worker, r);
		for (int k = 0; k < r->n_in_batch; k++)
			failed += r->agent_failed[r->in_batch[k]];
	}
	res->stopped = b < ro.n_batches;
	for (int i = 0; i < r->n_agents; i++)
		if (ro.batch[i] >= b)
			leave_untouched(r, r->agents[i]);
	free(r->in_batch);
	dcv_rollout_release(&ro);
}

static bool agents_failed(const struct run *r)
{
	for (int i = 0; i < r->n_agents; i++)
		if (r->agent_failed[i])
			return true;
	return false;
}

/* Is `name` one of the comma-separated words of `only`? */
static bool only_has(const char *only, const char *name)
{
	size_t n = strlen(name);

	for (const char *w = only; w; w = strchr(w, ',') ? strchr(w, ',') + 1 : NULL)
		if (strncmp(w, name, n) == 0 && (w[n] == ',' || w[n] == '\0'))
			return true;
	return false;
}

/* Every word of --only names the gateway, the agents or one of them. */
static int check_only(const struct dcv_inventory *inv, const char *only, struct dcv_err *err)
{
	for (const char *w = only; w; w = strchr(w, ',') ? strchr(w, ',') + 1 : NULL) {
		char word[128];
		const struct dcv_host *h;

		snprintf(word, sizeof(word), "%.*s", (int)strcspn(w, ","), w);
		if (strcmp(word, "gateway") == 0 || strcmp(word, "agents") == 0)
			continue;
		h = word[0] ? dcv_inventory_host(inv, word) : NULL;
		if (!h || (h->role != DCV_ROLE_GATEWAY && h->role != DCV_ROLE_AGENT))
			return dcv_err_set(err, DCV_E_USAGE,
					   "--only %s: expected 'gateway', 'agents' or agent names, separated by commas",
					   only);
	}
	return DCV_OK;
}

/* One pass over the gateway (when `do_gw`) and the selected agents; false when the path does
 * not serve at the end: in connection-gateway mode, the resolver did not name every agent. */
static bool deploy_pass(struct run *r, bool do_gw)
{
	const struct dcv_inventory *inv = r->inv;
	const struct dcv_host *gw = dcv_inventory_gateway(inv);
	const char *only = r->o->only;
	bool serves = true;

	r->t_start = dcv_now_ms();
	r->agents = xcalloc((size_t)inv->n_hosts, sizeof(*r->agents));
	r->agent_failed = xcalloc((size_t)inv->n_hosts, sizeof(*r->agent_failed));
	r->batch_of = xcalloc((size_t)inv->n_hosts, sizeof(*r->batch_of));
	for (int i = 0; i < inv->n_hosts; i++) {
		const struct dcv_host *h = inv->hosts[i];
		if (h->role == DCV_ROLE_AGENT && (!only || only_has(only, "agents") || only_has(only, h->name))) {
			r->batch_of[r->n_agents] = 1;
			r->agents[r->n_agents++] = h;
		}
	}
	r->res->hosts = (do_gw ? 1 : 0) + r->n_agents;
	pthread_mutex_init(&r->gate_lock, NULL);
	pthread_cond_init(&r->gate_cond, NULL);
	r->gate = do_gw ? 0 : 1;
	r->with_gw = do_gw;
	if (r->o->serial.n > 0) {
		r->gate = 1; /* the gateway is done before any agent starts */
		rolling(r, gw, do_gw);
	} else {
		dcv_parallel(r->res->hosts, r->res->hosts, worker, r);
	}
	/* connection-gateway: the path serves once the resolver names every agent */
	if (gw && !dcv_proxy_bypass(inv) && r->gate >= 0 && !(r->o->serial.n > 0 && r->res->gateway_failed) &&
	    r->n_agents && !agents_failed(r))
		serves = resolve_sessions(r);
	pthread_mutex_destroy(&r->gate_lock);
	pthread_cond_destroy(&r->gate_cond);
	free(r->agents);
	free(r->agent_failed);
	free(r->batch_of);
	return serves;
}

int dcv_deploy(const struct dcv_inventory *inv, struct dcv_ssh_pool *pool,
	       const struct dcv_deploy_opts *opts, struct dcv_deploy_result *res, struct dcv_err *err)
{
	struct dcv_host *gw = dcv_inventory_gateway(inv);
	const char *only = opts->only;
	struct run r = { inv, pool, opts, res, NULL, 0 };
	bool do_gw;
	int rc;

	memset(res, 0, sizeof(*res));
	pthread_mutex_init(&res->lock, NULL);
	if (gw && !dcv_proxy_kind(gw->proxy))
		return dcv_err_set(err, DCV_E_CONFIG, "%s: proxy = %s: this dcvctl does not deploy it yet",
				   inv->path, dcv_proxy_name(gw->proxy));
	if (only && (rc = check_only(inv, only, err)) != DCV_OK)
		return rc;
	if (!gw && (!only || only_has(only, "gateway")))
		return dcv_err_set(err, DCV_E_CONFIG, "%s: no [gateway] to deploy", inv->path);
	do_gw = gw && (!only || only_has(only, "gateway") || only_has(only, gw->name));

	if (deploy_pass(&r, do_gw) || !r.prev || opts->dry_run)
		return DCV_OK;
	/* The switch to the Connection Gateway took place, but the resolver never named every
	 * session: users would get the gateway's 404. Go back to the kind that served before, the
	 * agents with it (off the broker), as a deploy of that kind would (design §7). */
	enum dcv_proxy now = gw->proxy;
	int failed = res->failed, hosts = res->hosts;
	struct run back = { inv, pool, opts, res, NULL, 0 };
	struct hostrun hr = { .run = &r, .h = gw };

	gw->proxy = r.prev->id;
	deploy_pass(&back, do_gw);
	gw->proxy = now; /* this run only: the inventory is not rewritten */
	res->hosts = hosts;
	step_begin(&hr);
	if (res->failed > failed)
		step_end(&hr, "rollback", DCV_STEP_FAILED, 0, NULL,
			 "the resolver did not name every session; going back to %s failed too: see the steps above",
			 r.prev->name);
	else
		step_end(&hr, "rollback", DCV_STEP_CHANGED, 0, NULL,
			 "the resolver did not name every session: back to %s, which served before, and the agents "
			 "off the broker", r.prev->name);
	return DCV_OK;
}

int dcv_deploy_broker(const struct dcv_inventory *inv, struct dcv_ssh_pool *pool, const struct dcv_deploy_opts *opts,
		      struct dcv_deploy_result *res, struct dcv_err *err)
{
	const struct dcv_host *b = dcv_broker_host(inv);
	struct run r = { inv, pool, opts, res, NULL, 0 };
	struct hostrun hr = { .run = &r, .h = b };
	struct dcv_broker_facts bf;
	bool pending;

	memset(res, 0, sizeof(*res));
	pthread_mutex_init(&res->lock, NULL);
	if (!b)
		return dcv_err_set(err, DCV_E_CONFIG, "%s: no broker host: add [gateway] or 'host = ...' in [broker]",
				   inv->path);
	memset(&bf, 0, sizeof(bf));
	r.t_start = dcv_now_ms();
	res->hosts = 1;
	if (host_open(&hr))
		deploy_broker(&hr, &bf, &pending);
	dcv_broker_facts_release(&bf);
	host_close(&hr);
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
	for (int i = 0; i < res->n_untouched; i++)
		free(res->untouched[i]);
	free(res->untouched);
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
