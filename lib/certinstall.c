/* Certificate install with rollback (the engine part of `cert generate --install`). */
#include "certinstall.h"

#include "err.h"
#include "inventory.h"
#include "proxy.h"
#include "remote.h"
#include "ssh.h"
#include "tls.h"
#include "util.h"

#include <stdio.h>
#include <string.h>

/* Poll the listener's certificate fingerprint from the gateway itself (25 x 0.2 s). */
static enum dcv_certinstall_served wait_served(struct dcv_ssh *c, const struct dcv_host *gw,
					       const struct dcv_buf *cert)
{
	struct dcv_cert *parsed = NULL;
	struct dcv_cert_info ci;
	struct dcv_buf s = DCV_BUF_INIT, out = DCV_BUF_INIT;
	struct dcv_err err = DCV_ERR_INIT;
	enum dcv_certinstall_served served = DCV_SERVED_UNKNOWN;
	int status = 2;

	if (dcv_cert_parse_pem(cert->data, cert->len, &parsed, &err) != DCV_OK)
		return DCV_SERVED_UNKNOWN;
	dcv_cert_info(parsed, &ci);
	dcv_buf_addf(&s, "command -v openssl >/dev/null 2>&1 || exit 2; want=");
	dcv_shquote(&s, ci.sha256);
	dcv_buf_addf(&s, "; i=0; while [ $i -lt 25 ]; do "
			 "got=$(openssl s_client -connect 127.0.0.1:%d </dev/null 2>/dev/null | "
			 "openssl x509 -noout -fingerprint -sha256 2>/dev/null); "
			 "[ \"${got#*=}\" = \"$want\" ] && exit 0; i=$((i+1)); sleep 0.2; done; exit 1",
		     gw->listen);
	if (dcv_remote_sh(c, gw, s.data, &out, NULL, &status, &err) == DCV_OK && status <= 1)
		served = status == 0 ? DCV_SERVED_YES : DCV_SERVED_NOT_YET;
	dcv_cert_info_release(&ci);
	dcv_cert_free(parsed);
	dcv_buf_release(&s);
	dcv_buf_release(&out);
	return served;
}

/* The key's own transaction succeeded before the pair was refused: move its backup back. */
static void restore_key(struct dcv_ssh *c, const struct dcv_host *gw, const char *backup,
			struct dcv_certinstall *res)
{
	struct dcv_buf s = DCV_BUF_INIT, o = DCV_BUF_INIT;
	struct dcv_err err = DCV_ERR_INIT;
	int st = 0;

	res->key_restored = true;
	if (!backup[0])
		return; /* there was no key before: nothing to put back */
	dcv_buf_adds(&s, "mv -f -- ");
	dcv_shquote(&s, backup);
	dcv_buf_addc(&s, ' ');
	dcv_shquote(&s, gw->key);
	int rc = dcv_remote_sh(c, gw, s.data, &o, &o, &st, &err);
	dcv_buf_rtrim(&o);
	if (rc != DCV_OK || st != 0) {
		res->key_restored = false;
		snprintf(res->key_restore_error, sizeof(res->key_restore_error), "%s",
			 rc != DCV_OK ? err.msg : o.len ? o.data : "mv failed");
	}
	dcv_buf_release(&s);
	dcv_buf_release(&o);
}

int dcv_cert_install(struct dcv_ssh *c, const struct dcv_host *gw, const struct dcv_buf *cert,
		     const struct dcv_buf *key, struct dcv_certinstall *res, struct dcv_err *err)
{
	struct dcv_txn kt = { 0 }, ct = { 0 };
	const struct dcv_proxy_kind *k = dcv_proxy_kind(gw->proxy);
	const char *validate = k ? k->validate : NULL;
	const char *apply = !k ? NULL : k->cert_reload ? k->cert_reload : k->reload;
	int rc;

	memset(res, 0, sizeof(*res));
	dcv_buf_init(&res->output);
	rc = dcv_remote_write_file(c, gw, gw->key, key->data, key->len, "600", NULL, NULL, &kt, err);
	if (rc == DCV_OK)
		rc = dcv_remote_write_file(c, gw, gw->cert, cert->data, cert->len, "644", validate, apply, &ct, err);
	if (rc == DCV_OK) {
		snprintf(res->cert_backup, sizeof(res->cert_backup), "%s", ct.backup);
		snprintf(res->key_backup, sizeof(res->key_backup), "%s", kt.backup);
		dcv_buf_add(&res->output, ct.output.data, ct.output.len);
		if (ct.status == DCV_TXN_INVALID) {
			res->status = DCV_CERTINSTALL_REFUSED;
			restore_key(c, gw, kt.backup, res);
		} else if (ct.status == DCV_TXN_APPLY_FAILED) {
			res->status = DCV_CERTINSTALL_RELOAD_FAILED;
		} else if (k && k->n_derived) {
			res->needs_deploy = true;
		} else {
			res->served = wait_served(c, gw, cert);
		}
	}
	dcv_txn_release(&kt);
	dcv_txn_release(&ct);
	return rc;
}

void dcv_certinstall_release(struct dcv_certinstall *res)
{
	dcv_buf_release(&res->output);
}
