/* certinstall.h - put a certificate and key pair on the gateway through deploy's transaction:
 * upload, backup, validate with the proxy kind's validator, reload, roll back if refused. */
#ifndef DCV_CERTINSTALL_H
#define DCV_CERTINSTALL_H

#include <stdbool.h>

#include "buf.h"

struct dcv_err;
struct dcv_host;
struct dcv_ssh;

enum dcv_certinstall_status {
	DCV_CERTINSTALL_OK,            /* both files in place, the proxy reloaded */
	DCV_CERTINSTALL_REFUSED,       /* the proxy refused the pair: the previous files are put back */
	DCV_CERTINSTALL_RELOAD_FAILED, /* in place and valid, but the reload failed */
};

enum dcv_certinstall_served {
	DCV_SERVED_UNKNOWN,  /* not asked (the kind serves a derived file), or the host has no openssl */
	DCV_SERVED_YES,      /* the gateway's listener hands out the new certificate */
	DCV_SERVED_NOT_YET,  /* still the old one after 5 s: is the proxy running? */
};

struct dcv_certinstall {
	enum dcv_certinstall_status status;
	char cert_backup[512], key_backup[512]; /* "" when there was no previous file */
	struct dcv_buf output;     /* REFUSED, RELOAD_FAILED: what the proxy said */
	/* REFUSED: whether the previous key went back too (the certificate always does, in its
	 * own transaction); if not, key_restore_error says why and the backup is still there */
	bool key_restored;
	char key_restore_error[256];
	/* OK: the kind serves a file deploy builds from the pair (HAProxy's cert+key PEM), so
	 * the new pair is served only after `deploy --only gateway` */
	bool needs_deploy;
	enum dcv_certinstall_served served;
};

/* Install `cert` (mode 644) and `key` (mode 600) at the gateway's cert and key paths over `c`:
 * the key first without validation (the old certificate does not match it), then the
 * certificate validated as a pair by the gateway's proxy kind and reloaded; when the pair is
 * refused the key's backup goes back too. On OK, waits (5 s at most) until the listener serves
 * the new certificate, since a reload returns before the new workers do. A refused or
 * unreloaded pair is a result (DCV_OK with res->status saying so); a transport or remote
 * failure is an error. Release res with dcv_certinstall_release, whatever the return. */
int dcv_cert_install(struct dcv_ssh *c, const struct dcv_host *gw, const struct dcv_buf *cert,
		     const struct dcv_buf *key, struct dcv_certinstall *res, struct dcv_err *err);
void dcv_certinstall_release(struct dcv_certinstall *res);

#endif
