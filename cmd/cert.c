/* dcvctl cert check|generate */
#include "cli.h"

#include "../lib/buf.h"
#include "../lib/certinstall.h"
#include "../lib/inventory.h"
#include "../lib/proxy.h"
#include "../lib/probe.h"
#include "../lib/remote.h"
#include "../lib/ssh.h"
#include "../lib/tls.h"
#include "../lib/util.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct check_vars {
	const char *remote, *key;
	struct cli_list names;
	bool json;
};

static const struct dcv_opt check_opts[] = {
	CLI_STRING(struct check_vars, remote, 'r', "remote", "HOST:PATH", "read the certificate on a host (with sudo)"),
	CLI_LIST(struct check_vars, names, 'n', "name", "FQDN",
		 "a name the certificate must cover (repeatable; default: the endpoint and names)"),
	CLI_STRING(struct check_vars, key, 'k', "key", "PATH",
		   "the private key to match (local file, or a path on the --remote host)"),
	CLI_BOOL(struct check_vars, json, 0, "json", "print as JSON"),
	CLI_END,
};

struct gen_vars {
	const char *out;
	struct cli_list sans;
	long days;
	bool install;
};

static const struct dcv_opt gen_opts[] = {
	CLI_STRING(struct gen_vars, out, 'o', "out", "DIR", "write cert.pem (mode 644) and key.pem (mode 600) here"),
	CLI_LIST(struct gen_vars, sans, 's', "san", "NAME", "another DNS name or IP address (repeatable)"),
	CLI_INT(struct gen_vars, days, 0, "days", "N", 1, 3650, "validity in days (default 365)"),
	CLI_BOOL(struct gen_vars, install, 0, "install",
		 "also install the pair at the gateway's cert/key paths and reload the proxy"),
	CLI_END,
};

static void endpoint_host(const struct dcv_inventory *inv, char *out, size_t n)
{
	char path[1024];
	int port;

	out[0] = '\0';
	if (inv && inv->url)
		dcv_url_split(inv->url, out, n, &port, path, sizeof(path));
}

/* ------------------------------------------------------------------ check */

static int run_check(struct dcv_ctx *ctx, int argc, char **argv);
static const struct dcv_cmd sub_check = {
	.name = "check",
	.summary = "SANs, expiry, key match, chain and name coverage of a certificate",
	.usage = "cert check [URL|FILE|--remote HOST:PATH] [--name FQDN] [--key PATH] [--json]",
	.help = "Without an argument, checks the inventory's endpoint URL. Names to cover default to\n"
		"the endpoint's host name and [endpoint] names (RFC 6125: a wildcard covers one label,\n"
		"no CN fallback). The chain is verified against [endpoint] ca-file when set; without it\n"
		"an untrusted chain is a warning (chain NOT verified). Expiry within [check] cert-warn-days\n"
		"is a warning; an expired certificate or one not valid yet fails.\n"
		"Exit 0 when nothing failed, 1 otherwise.\n",
	.opts = check_opts,
	.max_args = 1,
	.run = run_check,
};

static int load_source(struct dcv_ctx *ctx, struct cli_args *a, const struct check_vars *v,
		       struct dcv_inventory *inv, struct dcv_cert **cert, struct dcv_buf *key, char *label, size_t ll)
{
	const char *remote = v->remote, *keyp = v->key;
	struct dcv_err err = DCV_ERR_INIT;
	struct dcv_buf pem = DCV_BUF_INIT;
	int rc = DCV_OK;

	if (remote) {
		char hostname[128];
		const char *colon = strchr(remote, ':');
		const struct dcv_host *h;
		struct dcv_ssh_pool *pool;
		struct dcv_ssh *c;
		bool exists = false;
		if (!colon || colon[1] != '/')
			return usage_error(&sub_check, "--remote takes HOST:/absolute/path");
		snprintf(hostname, sizeof(hostname), "%.*s", (int)(colon - remote), remote);
		if (!inv || !(h = ctx_host(ctx, hostname)))
			return inv ? EXIT_USAGE : EXIT_CONFIG;
		pool = ctx_pool(ctx);
		rc = dcv_ssh_connect(pool, h, &c, &err);
		if (rc == DCV_OK)
			rc = dcv_remote_read(c, h, colon + 1, &pem, &exists, &err);
		if (rc == DCV_OK && !exists)
			rc = dcv_err_set(&err, DCV_E_REMOTE, "%s does not exist", colon + 1);
		const char *kp = keyp ? keyp : (h->role == DCV_ROLE_GATEWAY && strcmp(colon + 1, h->cert) == 0 ? h->key : NULL);
		if (rc == DCV_OK && kp) {
			exists = false;
			rc = dcv_remote_read(c, h, kp, key, &exists, &err);
		}
		dcv_ssh_pool_free(pool);
		if (rc != DCV_OK) {
			out_error("%s: %s", hostname, err.msg);
			dcv_buf_release(&pem);
			return exit_for(rc) == EXIT_FAIL ? EXIT_FAIL : exit_for(rc);
		}
		snprintf(label, ll, "%s", remote);
	} else if (a->n_pos && strncmp(a->pos[0], "https://", 8) != 0) {
		if (dcv_file_read(a->pos[0], &pem) != 0) {
			out_error("cannot read '%s': %s", a->pos[0], strerror(errno));
			return EXIT_INTERNAL;
		}
		if (keyp && dcv_file_read(keyp, key) != 0) {
			out_error("cannot read '%s': %s", keyp, strerror(errno));
			dcv_buf_release(&pem);
			return EXIT_INTERNAL;
		}
		snprintf(label, ll, "%s", a->pos[0]);
	} else {
		struct dcv_probe_opts po = DCV_PROBE_OPTS_INIT;
		struct dcv_tls_result r;
		const char *url = a->n_pos ? a->pos[0] : inv ? inv->url : NULL;
		if (!url)
			return usage_error(&sub_check, "give a URL, a file or --remote, or set [endpoint] url");
		if (inv && inv->url && strcmp(url, inv->url) == 0) {
			po.connect_to = inv->connect_to;
			po.proxy = inv->proxy;
		}
		if (dcv_probe_tls(url, &po, &r, &err) != DCV_OK) {
			out_error("%s: %s", url, err.msg);
			return EXIT_FAIL;
		}
		*cert = r.cert;
		snprintf(label, ll, "%s", url);
		if (keyp && dcv_file_read(keyp, key) != 0) {
			out_error("cannot read '%s': %s", keyp, strerror(errno));
			return EXIT_INTERNAL;
		}
		return EXIT_OK;
	}
	rc = dcv_cert_parse_pem(dcv_buf_str(&pem), pem.len, cert, &err);
	dcv_buf_release(&pem);
	if (rc != DCV_OK) {
		out_error("%s: %s", label, err.msg);
		return EXIT_FAIL;
	}
	return EXIT_OK;
}

static int run_check(struct dcv_ctx *ctx, int argc, char **argv)
{
	struct cli_args a;
	struct dcv_inventory *inv = NULL;
	struct dcv_cert *cert = NULL;
	struct dcv_buf key = DCV_BUF_INIT;
	struct dcv_cert_info ci;
	struct dcv_err verr = DCV_ERR_INIT, kerr = DCV_ERR_INIT;
	char label[1100], ep[256];
	const char *const *names;
	struct check_vars v = { 0 };
	int n_names, rc = cli_parse(&sub_check, argc, argv, &a, &v);
	bool json;

	if (rc)
		return rc < 0 ? EXIT_OK : rc;
	json = ctx->json || v.json;
	bool need_inv = !a.n_pos || v.remote || ctx->config || getenv("DCVCTL_CONFIG") ||
			access("dcvctl.conf", F_OK) == 0;
	if (need_inv && (rc = ctx_inventory(ctx, &inv)) != EXIT_OK) {
		return rc;
	}
	if ((rc = load_source(ctx, &a, &v, inv, &cert, &key, label, sizeof(label))) != EXIT_OK) {
		dcv_cert_free(cert);
		dcv_buf_release(&key);
		return rc;
	}
	dcv_cert_info(cert, &ci);
	long days = dcv_cert_days_left(&ci, time(NULL));
	bool early = dcv_cert_not_yet_valid(&ci, time(NULL));
	int warn_days = inv ? inv->cert_warn_days : DCV_CERT_WARN_DAYS;
	const char *ca = inv ? inv->ca_file : NULL;
	bool verified = dcv_cert_verify(cert, ca, &verr) == DCV_OK;
	bool key_checked = key.len > 0, key_ok = key_checked && dcv_cert_key_match(cert, key.data, key.len, &kerr) == DCV_OK;
	int failures = 0, warnings = 0;

	/* names: --name, else the endpoint host and [endpoint] names */
	names = v.names.v;
	n_names = v.names.n;
	const char *deflt[DCV_MAX_NAMES + 1];
	if (!n_names && inv) {
		endpoint_host(inv, ep, sizeof(ep));
		if (ep[0])
			deflt[n_names++] = ep;
		for (int i = 0; i < inv->n_names; i++)
			deflt[n_names++] = inv->names[i];
		names = deflt;
	}
	struct json_object *root = json ? json_object_new_object() : NULL, *cov = json ? json_object_new_array() : NULL;
	if (!json) {
		printf("%s\nsubject  %s\nissuer   %s\nSANs    ", label, ci.subject, ci.issuer);
		for (int i = 0; i < ci.n_sans; i++)
			printf(" %s", ci.sans[i]);
		printf("%s\n", ci.n_sans ? "" : " (none: no name can be covered)");
	}
	for (int i = 0; i < n_names; i++) {
		bool c = dcv_cert_covers(cert, names[i]);
		failures += !c;
		if (json) {
			struct json_object *o = json_object_new_object();
			json_object_object_add(o, "name", json_object_new_string(names[i]));
			json_object_object_add(o, "covered", json_object_new_boolean(c));
			json_object_array_add(cov, o);
		} else {
			printf("%s%s%s %s\n", col(ctx, c ? "green" : "red"), c ? "covered    " : "NOT covered", col_end(ctx), names[i]);
		}
	}
	const char *exp = days < 0 ? "expired" : early ? "not yet valid" : days < warn_days ? "expiring" : "ok";
	failures += days < 0 || early;
	warnings += days >= 0 && !early && days < warn_days;
	failures += key_checked && !key_ok;
	failures += ca && !verified;
	warnings += !ca && !verified;
	if (json) {
		struct json_object *sans = json_object_new_array();
		for (int i = 0; i < ci.n_sans; i++)
			json_object_array_add(sans, json_object_new_string(ci.sans[i]));
		json_object_object_add(root, "source", json_object_new_string(label));
		json_object_object_add(root, "ok", json_object_new_boolean(failures == 0));
		json_object_object_add(root, "subject", json_object_new_string(ci.subject));
		json_object_object_add(root, "issuer", json_object_new_string(ci.issuer));
		json_object_object_add(root, "sans", sans);
		json_object_object_add(root, "coverage", cov);
		json_object_object_add(root, "days_left", json_object_new_int64(days));
		json_object_object_add(root, "expiry", json_object_new_string(exp));
		json_object_object_add(root, "key_match", key_checked ? json_object_new_boolean(key_ok) : NULL);
		json_object_object_add(root, "chain_verified", json_object_new_boolean(verified));
		json_object_object_add(root, "chain_error", verified ? NULL : json_object_new_string(verr.msg));
		json_object_object_add(root, "fingerprint_sha256", json_object_new_string(ci.sha256));
		out_json(root);
	} else {
		printf("expiry   %s%ld days%s (%s; warn under %d)\n",
		       col(ctx, days < 0 || early ? "red" : days < warn_days ? "yellow" : "green"),
		       days, col_end(ctx), exp, warn_days);
		if (key_checked)
			printf("key      %s%s%s\n", col(ctx, key_ok ? "green" : "red"), key_ok ? "matches" : kerr.msg, col_end(ctx));
		if (verified)
			printf("chain    verified against %s\n", ca ? ca : "the system store");
		else
			printf("chain    %s%s: %s%s\n", col(ctx, ca ? "red" : "yellow"), ca ? "NOT verified" : "warning: NOT verified (no ca-file)",
			       verr.msg, col_end(ctx));
		printf("sha256   %s\n", ci.sha256);
	}
	dcv_cert_info_release(&ci);
	dcv_cert_free(cert);
	dcv_buf_release(&key);
	return failures ? EXIT_FAIL : EXIT_OK;
}

/* ------------------------------------------------------------------ generate */

static int install(struct dcv_ctx *ctx, struct dcv_inventory *inv, const struct dcv_buf *cert,
		   const struct dcv_buf *key)
{
	const struct dcv_host *gw = dcv_inventory_gateway(inv);
	struct dcv_err err = DCV_ERR_INIT;
	struct dcv_certinstall res = { 0 };
	struct dcv_ssh_pool *pool;
	struct dcv_ssh *c;
	int rc;

	if (!gw) {
		out_error("--install: no [gateway] in %s", inv->path);
		return EXIT_CONFIG;
	}
	pool = ctx_pool(ctx);
	rc = dcv_ssh_connect(pool, gw, &c, &err);
	if (rc == DCV_OK)
		rc = dcv_cert_install(c, gw, cert, key, &res, &err);
	if (rc != DCV_OK) {
		out_error("gateway: %s", err.msg);
	} else if (res.status == DCV_CERTINSTALL_REFUSED) {
		if (res.key_restored)
			out_error("gateway: the proxy refuses the new pair, previous files put back: %s",
				  dcv_buf_str(&res.output));
		else
			out_error("gateway: the proxy refuses the new pair; the previous certificate is back, but putting "
				  "the previous key back failed (%s): run mv -f %s %s on %s; the proxy said: %s",
				  res.key_restore_error, res.key_backup, gw->key, gw->name, dcv_buf_str(&res.output));
		rc = DCV_E_REMOTE;
	} else if (res.status == DCV_CERTINSTALL_RELOAD_FAILED) {
		out_error("gateway: installed, but reloading the proxy failed: %s", dcv_buf_str(&res.output));
		rc = DCV_E_REMOTE;
	} else {
		if (!ctx->quiet)
			printf("installed %s and %s on %s (backups: %s, %s)\n", gw->cert, gw->key, gw->name,
			       res.cert_backup[0] ? res.cert_backup : "none", res.key_backup[0] ? res.key_backup : "none");
		if (res.needs_deploy)
			out_notice(ctx, "%s serves the new pair once `dcvctl deploy --only gateway` has rebuilt its files",
				   dcv_proxy_kind(gw->proxy)->name);
		else if (res.served == DCV_SERVED_NOT_YET)
			out_notice(ctx, "gateway: port %d does not serve the new certificate yet (is the proxy running?)",
				   gw->listen);
	}
	dcv_certinstall_release(&res);
	dcv_ssh_pool_free(pool);
	return rc == DCV_OK ? EXIT_OK : exit_for(rc);
}

static int run_generate(struct dcv_ctx *ctx, int argc, char **argv);
static const struct dcv_cmd sub_generate = {
	.name = "generate",
	.summary = "a key and self-signed certificate for the exact endpoint name (and names, --san)",
	.usage = "cert generate --out DIR [--san NAME]... [--days N] [--install]",
	.help = "The SANs are the endpoint's exact host name, [endpoint] names and every --san\n"
		"(a DNS name or an IP address) - never a *.vpce.amazonaws.com wildcard, which cannot\n"
		"cover a VPC endpoint name (a wildcard covers one label). --install puts the pair at\n"
		"the gateway's cert and key paths through deploy's transaction (backup, validate,\n"
		"reload; the previous pair is put back if the proxy refuses the new one).\n",
	.opts = gen_opts,
	.run = run_generate,
};

/* The private key goes into --out: a folder someone else owns or may write to could hand it
 * to them (a planted file, a swapped folder), so only a private folder of ours is accepted. */
static int out_dir_check(const char *out)
{
	struct stat st;

	if ((mkdir(out, 0700) != 0 && errno != EEXIST) || stat(out, &st) != 0) {
		out_error("cannot use '%s': %s", out, strerror(errno));
		return EXIT_INTERNAL;
	}
	if (!S_ISDIR(st.st_mode)) {
		out_error("cannot use '%s': not a folder", out);
		return EXIT_USAGE;
	}
	if (st.st_uid != geteuid()) {
		out_error("refusing to write the private key into '%s': the folder belongs to uid %u, not to you",
			  out, (unsigned)st.st_uid);
		return EXIT_USAGE;
	}
	if (st.st_mode & (S_IWGRP | S_IWOTH)) {
		out_error("refusing to write the private key into '%s': the folder is writable by group or "
			  "others (mode %03o); run chmod go-w on it or choose another folder",
			  out, (unsigned)(st.st_mode & 07777));
		return EXIT_USAGE;
	}
	return EXIT_OK;
}

static int run_generate(struct dcv_ctx *ctx, int argc, char **argv)
{
	struct cli_args a;
	struct dcv_inventory *inv = NULL;
	struct dcv_buf cert = DCV_BUF_INIT, key = DCV_BUF_INIT;
	struct dcv_err err = DCV_ERR_INIT;
	const char *out, *names[64];
	char ep[256];
	struct gen_vars v = { .days = 365 };
	int n = 0, rc = cli_parse(&sub_generate, argc, argv, &a, &v);

	if (rc)
		return rc < 0 ? EXIT_OK : rc;
	out = v.out;
	long days = v.days;
	const char *const *sans = v.sans.v;
	int n_sans = v.sans.n;
	if (!out)
		return usage_error(&sub_generate, "--out DIR is required");
	if ((rc = ctx_inventory(ctx, &inv)) != EXIT_OK && (v.install || !n_sans)) {
		return rc;
	}
	endpoint_host(inv, ep, sizeof(ep));
	if (ep[0])
		names[n++] = ep;
	for (int i = 0; inv && i < inv->n_names && n < 60; i++)
		names[n++] = inv->names[i];
	for (int i = 0; i < n_sans && n < 64; i++)
		names[n++] = sans[i];
	if ((rc = dcv_cert_generate(names, n, (int)days, &cert, &key, &err)) != DCV_OK) {
		out_error("%s", err.msg);
		return rc == DCV_E_USAGE ? EXIT_USAGE : EXIT_INTERNAL;
	}
	char *cp = xasprintf("%s/cert.pem", out), *kp = xasprintf("%s/key.pem", out);
	rc = out_dir_check(out);
	if (rc == EXIT_OK && (dcv_file_write_atomic(kp, key.data, key.len, 0600) != 0 ||
		   dcv_file_write_atomic(cp, cert.data, cert.len, 0644) != 0)) {
		out_error("cannot write to '%s': %s", out, strerror(errno));
		rc = EXIT_INTERNAL;
	} else if (rc == EXIT_OK) {
		if (!ctx->quiet) {
			printf("wrote %s and %s (key mode 600), valid %ld days, SANs:", cp, kp, days);
			for (int i = 0; i < n; i++)
				printf(" %s", names[i]);
			printf("\n");
		}
		if (v.install)
			rc = install(ctx, inv, &cert, &key);
	}
	free(cp);
	free(kp);
	dcv_buf_release(&cert);
	dcv_buf_release(&key);
	return rc;
}

static const struct dcv_opt no_opts[] = { { NULL, 0, NULL, NULL } };

static const struct dcv_cmd *const subs[] = { &sub_check, &sub_generate, NULL };

const struct dcv_cmd dcv_cmd_cert = {
	.name = "cert",
	.summary = "check a certificate, or generate a self-signed pair for the endpoint",
	.usage = "cert check [URL|FILE|--remote HOST:PATH] [--name FQDN] | cert generate --out DIR [--san NAME]",
	.opts = no_opts,
	.subcmds = subs,
};
