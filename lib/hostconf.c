/* Drift and lint of a host's managed configuration, read over its connection. */
#include "hostconf.h"

#include "diff.h"
#include "err.h"
#include "facts.h"
#include "inventory.h"
#include "proxy.h"
#include "remote.h"
#include "render.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

/* The gateway's facts and the env they give the renderer (secrets borrowed from the facts). */
static int gw_read(struct dcv_ssh *c, const struct dcv_host *h, const struct dcv_proxy_kind **k,
		   struct dcv_gw_facts *f, struct dcv_proxy_env *env, struct dcv_err *err)
{
	*k = dcv_proxy_kind(h->proxy);
	if (!*k)
		return dcv_err_set(err, DCV_E_CONFIG, "proxy = %s has no managed configuration in this dcvctl",
				   dcv_proxy_name(h->proxy));
	int rc = dcv_gw_facts_read(c, h, *k, true, f, err);
	if (rc != DCV_OK)
		return rc;
	dcv_gw_facts_env(f, env);
	return DCV_OK;
}

static void labelled_diff(const struct dcv_host *h, const char *path, bool exists, const char *cur,
			  const char *want, struct dcv_buf *diff)
{
	char *la = xasprintf("%s:%s%s", h->name, path, exists ? "" : " (absent)");
	char *lb = xasprintf("%s:%s (rendered)", h->name, path);

	dcv_diff(cur, want, la, lb, diff);
	free(la);
	free(lb);
}

int dcv_hostconf_diff(struct dcv_ssh *c, const struct dcv_inventory *inv, const struct dcv_host *h,
		      struct dcv_buf *diff, struct dcv_err *err)
{
	struct dcv_buf cur = DCV_BUF_INIT, want = DCV_BUF_INIT;
	bool exists = false;
	int rc;

	if (h->role == DCV_ROLE_GATEWAY) {
		const struct dcv_proxy_kind *k;
		struct dcv_gw_facts f;
		struct dcv_proxy_env env;
		if ((rc = gw_read(c, h, &k, &f, &env, err)) != DCV_OK)
			return rc;
		k->render(inv, &env, &want);
		labelled_diff(h, k->config, f.config_exists, dcv_buf_str(&f.config), want.data, diff);
		dcv_proxy_redact(&env, diff);
		explicit_bzero(want.data, want.len);
		dcv_gw_facts_release(&f);
	} else {
		if ((rc = dcv_remote_read(c, h, DCV_DCV_CONF, &cur, &exists, err)) != DCV_OK)
			return rc;
		dcv_render_dcvconf_for(dcv_buf_str(&cur), inv, h, &want);
		labelled_diff(h, DCV_DCV_CONF, exists, dcv_buf_str(&cur), want.data, diff);
	}
	dcv_buf_release(&cur);
	dcv_buf_release(&want);
	return DCV_OK;
}

static void add(struct dcv_findings *f, const char *file, const char *rule, char *msg)
{
	f->v = xrealloc(f->v, sizeof(*f->v) * (size_t)(f->n + 1));
	f->v[f->n++] = (struct dcv_finding){ DCV_SEV_ERROR, xstrdup(file), 0, xstrdup(rule), msg };
}

static int lint_gateway(struct dcv_ssh *c, const struct dcv_host *h, struct dcv_findings *out,
			struct dcv_err *err)
{
	const struct dcv_proxy_kind *k;
	struct dcv_gw_facts f;
	struct dcv_proxy_env env;
	struct dcv_buf dump = DCV_BUF_INIT;
	int status = 0, rc;

	if ((rc = gw_read(c, h, &k, &f, &env, err)) != DCV_OK)
		return rc;
	if (f.validate_rc != 0) {
		/* the proxy refuses its configuration: that is the first finding */
		dcv_buf_rtrim(&f.validate_out);
		dcv_proxy_redact(&env, &f.validate_out);
		const char *last = strrchr(dcv_buf_str(&f.validate_out), '\n');
		char *rule = xasprintf("%s.invalid", k->name);
		add(out, k->validate, rule,
		    f.has_binary ? xasprintf("%s refuses its configuration: %s", k->name,
					     last ? last + 1 : dcv_buf_str(&f.validate_out))
				 : xasprintf("%s is not installed", k->name));
		free(rule);
	} else if ((rc = dcv_remote_sh(c, h, k->dump, &dump, NULL, &status, err)) == DCV_OK) {
		char *name = xasprintf("%s:%s", h->name, k->config);
		k->lint(dcv_buf_str(&dump), name, &env, out);
		free(name);
	}
	/* the certificate files the configuration names must exist */
	if (rc == DCV_OK && (!f.cert_pem.len || !f.key_readable)) {
		const char *missing = !f.cert_pem.len ? h->cert : h->key;
		char *rule = xasprintf("%s.cert-missing", k->name);
		add(out, missing, rule, xasprintf("certificate file %s is missing: %s will not start", missing, k->name));
		free(rule);
	}
	dcv_buf_release(&dump);
	dcv_gw_facts_release(&f);
	return rc;
}

int dcv_hostconf_lint(struct dcv_ssh *c, const struct dcv_inventory *inv, const struct dcv_host *h,
		      struct dcv_findings *out, struct dcv_err *err)
{
	struct dcv_buf cur = DCV_BUF_INIT;
	bool exists = false;
	int rc;

	if (h->role == DCV_ROLE_GATEWAY)
		return lint_gateway(c, h, out, err);
	rc = dcv_remote_read(c, h, DCV_DCV_CONF, &cur, &exists, err);
	if (rc == DCV_OK && !exists) {
		add(out, DCV_DCV_CONF, "dcv.missing",
		    xasprintf("%s:%s is missing: dcvserver runs on built-in defaults", h->name, DCV_DCV_CONF));
	} else if (rc == DCV_OK) {
		char *name = xasprintf("%s:%s", h->name, DCV_DCV_CONF);
		dcv_lint_dcvconf(dcv_buf_str(&cur), name, dcv_proxy_bypass(inv), out);
		free(name);
	}
	dcv_buf_release(&cur);
	return rc;
}
