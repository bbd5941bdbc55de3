/* restore: a backup read and checked by lib/backup back on its hosts. Per host, the state is
 * read with backup's own script, only what differs is written (through deploy's transaction),
 * and the units are brought to the state the backup recorded. */
#include "restore.h"

#include "backup.h"
#include "deploy.h"
#include "diff.h"
#include "err.h"
#include "inventory.h"
#include "remote.h"
#include "ssh.h"
#include "util.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool holds_host(const struct dcv_backup *b, const char *host)
{
	for (int i = 0; i < b->n_hosts; i++)
		if (strcmp(b->hosts[i], host) == 0)
			return true;
	return false;
}

struct restore {
	const struct dcv_inventory *inv;
	struct dcv_ssh_pool *pool;
	const struct dcv_backup *b;
	const struct dcv_restore_opts *o;
	struct dcv_deploy_result *res;
	const struct dcv_host **hosts;
};

struct rhost {
	struct restore *r;
	const struct dcv_host *h;
	struct dcv_ssh *c;
	long long t0;
	bool lost;
};

static void step(struct rhost *rh, const char *name, enum dcv_step_status st, int err_code, char *diff,
		 const char *fmt, ...) __attribute__((format(printf, 6, 7)));
static void step(struct rhost *rh, const char *name, enum dcv_step_status st, int err_code, char *diff,
		 const char *fmt, ...)
{
	struct dcv_deploy_result *res = rh->r->res;
	struct dcv_step s = { 0 };
	struct dcv_buf b = DCV_BUF_INIT;
	va_list ap;

	snprintf(s.host, sizeof(s.host), "%s", rh->h->name);
	snprintf(s.name, sizeof(s.name), "%s", name);
	s.status = st;
	s.ms = (long)(dcv_now_ms() - rh->t0);
	va_start(ap, fmt);
	dcv_buf_vaddf(&b, fmt, ap);
	va_end(ap);
	s.detail = dcv_buf_detach(&b);
	s.diff = diff;
	s.err_code = err_code;
	if (dcv_err_is_transport(err_code))
		rh->lost = true;
	dcv_deploy_result_add(res, &s, rh->r->o->on_step, rh->r->o->user);
	rh->t0 = dcv_now_ms();
}

static const struct dcv_backup_file *find_file(const struct dcv_backup *b, const char *host, const char *path)
{
	for (int i = 0; i < b->n_files; i++)
		if (strcmp(b->files[i].host, host) == 0 && strcmp(b->files[i].path, path) == 0)
			return &b->files[i];
	return NULL;
}

static const char *find_state(const struct dcv_backup *b, const char *host, const char *unit)
{
	for (int i = 0; i < b->n_units; i++)
		if (strcmp(b->units[i].host, host) == 0 && strcmp(b->units[i].unit, unit) == 0)
			return b->units[i].state;
	return NULL;
}

/* What restoring one file does, decided against the host's current state. */
struct change {
	const struct dcv_managed *m;
	const struct dcv_backup_file *want;
	const struct dcv_backup_file *now; /* NULL: absent */
	bool content;                      /* the bytes differ (else only mode or owner) */
	char backup[512];                  /* once written: the transaction's backup, "" for a new file */
};

static char *file_diff(const struct change *ch)
{
	struct dcv_buf d = DCV_BUF_INIT;
	char *a = xasprintf("deployed%s", ch->m->path), *b = xasprintf("backup%s", ch->m->path);

	if (ch->m->secret && ch->content)
		dcv_buf_addf(&d, "--- %s\n+++ %s\n(content not shown: a private key or secret)\n", a, b);
	else if (ch->content)
		dcv_diff(ch->now ? dcv_buf_str(&ch->now->content) : "", dcv_buf_str(&ch->want->content), a, b, &d);
	free(a);
	free(b);
	return d.len ? dcv_buf_detach(&d) : (dcv_buf_release(&d), NULL);
}

static void describe(struct dcv_buf *d, const struct change *ch)
{
	const struct dcv_backup_file *w = ch->want, *n = ch->now;

	if (!n)
		dcv_buf_addf(d, "would restore %s (absent now)", w->path);
	else if (ch->content)
		dcv_buf_addf(d, "would restore %s (it differs from the backup)", w->path);
	else
		dcv_buf_addf(d, "would set %s back to mode %04o %s:%s (now %04o %s:%s)", w->path, w->mode, w->owner,
			     w->group, n->mode, n->owner, n->group);
}

/* Put the changed files in place, the validator run with the last one that has one; when it
 * fails, every file written before it is put back too. false when the host must stop. */
static bool put_files(struct rhost *rh, struct change *ch, int n)
{
	int last = -1;

	for (int i = 0; i < n; i++)
		if (ch[i].content && ch[i].m->validate)
			last = i;
	for (int i = 0; i < n; i++) {
		struct dcv_put put = { ch[i].m->path, dcv_buf_str(&ch[i].want->content), ch[i].want->content.len,
				       ch[i].want->mode, ch[i].want->owner, ch[i].want->group, NULL, NULL };
		struct dcv_err e = DCV_ERR_INIT;
		struct dcv_txn txn;
		struct dcv_buf d = DCV_BUF_INIT;
		if (i == last || (!ch[i].m->validate && ch[i].content)) {
			put.validate = i == last ? ch[i].m->validate : NULL;
			put.apply = ch[i].m->apply;
		}
		if (dcv_deploy_put(rh->c, rh->h, &put, &txn, &e) != DCV_OK) {
			step(rh, "file", DCV_STEP_FAILED, e.code, NULL, "%s", e.msg);
			dcv_txn_release(&txn);
			return false;
		}
		snprintf(ch[i].backup, sizeof(ch[i].backup), "%s", txn.backup);
		if (txn.status == DCV_TXN_INVALID) {
			for (int k = i - 1; k >= 0; k--)
				if (dcv_deploy_unput(rh->c, rh->h, ch[k].m->path, ch[k].backup, &e) != DCV_OK)
					dcv_buf_addf(&d, "; %s", e.msg);
			step(rh, "file", DCV_STEP_FAILED, 0, file_diff(&ch[i]),
			     "validation failed, %s and every file restored before it put back, nothing reloaded: %s%s",
			     ch[i].m->path, dcv_buf_str(&txn.output), dcv_buf_str(&d));
			dcv_txn_release(&txn);
			dcv_buf_release(&d);
			return false;
		}
		if (txn.status == DCV_TXN_APPLY_FAILED)
			step(rh, "file", DCV_STEP_FAILED, 0, NULL, "%s written but reload failed: %s", ch[i].m->path,
			     dcv_buf_str(&txn.output));
		else
			step(rh, "file", DCV_STEP_CHANGED, 0, file_diff(&ch[i]), "restored %s%s%s", ch[i].m->path,
			     txn.backup[0] ? ", previous kept as " : "", txn.backup);
		dcv_txn_release(&txn);
		dcv_buf_release(&d);
	}
	return true;
}

static void unit_verb(struct rhost *rh, const char *unit, const char *verb, const char *why)
{
	struct dcv_buf sh = DCV_BUF_INIT, out = DCV_BUF_INIT;
	struct dcv_err e = DCV_ERR_INIT;
	int status = 0;

	dcv_buf_addf(&sh, "systemctl %s -- ", verb);
	dcv_shquote(&sh, unit);
	if (rh->r->o->dry_run)
		step(rh, "service", DCV_STEP_CHANGED, 0, NULL, "would %s %s (%s)", verb, unit, why);
	else if (dcv_remote_sh(rh->c, rh->h, sh.data, &out, &out, &status, &e) != DCV_OK)
		step(rh, "service", DCV_STEP_FAILED, e.code, NULL, "%s", e.msg);
	else if (status != 0)
		step(rh, "service", DCV_STEP_FAILED, 0, NULL, "systemctl %s %s failed (exit %d): %s", verb, unit,
		     status, (dcv_buf_rtrim(&out), dcv_buf_str(&out)));
	else
		step(rh, "service", DCV_STEP_CHANGED, 0, NULL, "%s %s (%s)", unit,
		     strcmp(verb, "stop") == 0 ? "stopped" : strcmp(verb, "start") == 0 ? "started" : "restarted", why);
	dcv_buf_release(&sh);
	dcv_buf_release(&out);
}

/* `systemctl is-active`'s word as up (1), down (0), or neither (-1): a unit caught in between,
 * or one systemd does not know, is left as it is. */
static int up_or_down(const char *state)
{
	static const char *const up[] = { "active", "activating", "reloading" };
	static const char *const down[] = { "inactive", "failed", "deactivating" };

	for (size_t i = 0; state && i < 3; i++) {
		if (strcmp(state, up[i]) == 0)
			return 1;
		if (strcmp(state, down[i]) == 0)
			return 0;
	}
	return -1;
}

/* Each unit back to its state at backup time: stops first (they may hold the port the other
 * needs), then starts, and a restart for a running unit whose file changed. */
static void put_units(struct rhost *rh, const struct dcv_managed_set *s, const struct dcv_backup *now,
		      const struct change *ch, int n)
{
	const char *host = rh->h->name;

	for (int pass = 0; pass < 2; pass++) {
		for (int u = 0; u < s->n_units; u++) {
			const char *want = find_state(rh->r->b, host, s->units[u]);
			const char *is = find_state(now, host, s->units[u]);
			int w = up_or_down(want), now_up = up_or_down(is);
			bool want_up = w == 1, is_up = now_up == 1, changed = false;
			if (w < 0) {
				if (pass == 1 && want)
					step(rh, "service", DCV_STEP_OK, 0, NULL, "%s left as it is (%s at backup time)",
					     s->units[u], want);
				continue;
			}
			for (int i = 0; i < n; i++)
				changed = changed || (ch[i].content && ch[i].m->restart &&
						      strcmp(ch[i].m->restart, s->units[u]) == 0);
			if (pass == 0 && w == 0 && is_up)
				unit_verb(rh, s->units[u], "stop", "it was stopped at backup time");
			else if (pass == 1 && want_up && now_up == 0)
				unit_verb(rh, s->units[u], "start", is ? is : "down");
			else if (pass == 1 && want_up && changed)
				unit_verb(rh, s->units[u], "restart", "a file it reads was restored");
			else if (pass == 1 && (want_up || !is_up))
				step(rh, "service", DCV_STEP_OK, 0, NULL, "%s %s, as at backup time", s->units[u], want);
		}
	}
}

static void restore_host(void *user, int i)
{
	struct restore *r = user;
	struct rhost rh = { .r = r, .h = r->hosts[i], .t0 = dcv_now_ms() };
	struct dcv_managed_set s;
	struct dcv_backup now;
	struct dcv_buf script = DCV_BUF_INIT, out = DCV_BUF_INIT;
	struct dcv_err e = DCV_ERR_INIT;
	struct dcv_ssh_hold *lock = NULL;
	struct change ch[DCV_MANAGED_MAX];
	int n = 0, status = 0;

	dcv_backup_init(&now);
	dcv_backup_managed(r->inv, rh.h, &s);
	if (dcv_ssh_connect(r->pool, rh.h, &rh.c, &e) != DCV_OK) {
		step(&rh, "connect", DCV_STEP_FAILED, e.code, NULL, "%s", e.msg);
		goto out;
	}
	if (!r->o->dry_run &&
	    dcv_remote_lock(rh.c, rh.h, r->o->owner ? r->o->owner : "dcvctl restore", &lock, &e) != DCV_OK) {
		step(&rh, "lock", DCV_STEP_FAILED, e.code, NULL, "%s", e.msg);
		goto out;
	}
	dcv_backup_script(&s, &script);
	if (dcv_remote_sh(rh.c, rh.h, script.data, &out, NULL, &status, &e) != DCV_OK) {
		step(&rh, "facts", DCV_STEP_FAILED, e.code, NULL, "%s", e.msg);
		goto out;
	}
	if (status != 0 || !dcv_backup_parse(dcv_buf_str(&out), rh.h->name, &s, &now)) {
		step(&rh, "facts", DCV_STEP_FAILED, 0, NULL, "cannot read the managed files (exit %d)", status);
		goto out;
	}
	/* in the managed set's order: the file with the kind's validator last */
	for (int k = 0; k < s.n; k++) {
		const struct dcv_backup_file *w = find_file(r->b, rh.h->name, s.f[k].path);
		const struct dcv_backup_file *is = find_file(&now, rh.h->name, s.f[k].path);
		if (!w)
			continue;
		bool content = !is || strcmp(is->sha256, w->sha256) != 0;
		if (!content && is->mode == w->mode && strcmp(is->owner, w->owner) == 0 &&
		    strcmp(is->group, w->group) == 0) {
			step(&rh, "file", DCV_STEP_OK, 0, NULL, "%s as backed up", w->path);
			continue;
		}
		ch[n] = (struct change){ &s.f[k], w, is, content, "" };
		if (r->o->dry_run) {
			struct dcv_buf d = DCV_BUF_INIT;
			describe(&d, &ch[n]);
			step(&rh, "file", DCV_STEP_CHANGED, 0, file_diff(&ch[n]), "%s", d.data);
			dcv_buf_release(&d);
		}
		n++;
	}
	if (!r->o->dry_run && !put_files(&rh, ch, n))
		goto out;
	put_units(&rh, &s, &now, ch, n);
out:
	if (rh.lost) {
		pthread_mutex_lock(&r->res->lock);
		r->res->unreachable++;
		pthread_mutex_unlock(&r->res->lock);
	}
	dcv_remote_unlock(lock);
	if (out.data)
		explicit_bzero(out.data, out.len);
	dcv_buf_release(&out);
	dcv_buf_release(&script);
	dcv_backup_release(&now);
}

int dcv_restore(const struct dcv_inventory *inv, struct dcv_ssh_pool *pool, const struct dcv_backup *b,
		const struct dcv_restore_opts *o, struct dcv_deploy_result *res, struct dcv_err *err)
{
	struct restore r = { inv, pool, b, o, res, NULL };

	memset(res, 0, sizeof(*res));
	pthread_mutex_init(&res->lock, NULL);
	if (o->only && !holds_host(b, o->only))
		return dcv_err_set(err, DCV_E_USAGE, "--only %s: the archive holds no host of that name", o->only);
	r.hosts = xcalloc((size_t)b->n_hosts + 1, sizeof(*r.hosts));
	for (int i = 0; i < b->n_hosts; i++) {
		const struct dcv_host *h = dcv_inventory_host(inv, b->hosts[i]);
		if (h && (!o->only || strcmp(o->only, h->name) == 0))
			r.hosts[res->hosts++] = h;
	}
	dcv_parallel(res->hosts, res->hosts, restore_host, &r);
	free(r.hosts);
	return DCV_OK;
}
