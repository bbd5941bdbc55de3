/* remote.h - operations on a host built from shell scripts run over one connection:
 * the deploy lock, the file transaction of design §7, reading files and unit states. */
#ifndef DCV_REMOTE_H
#define DCV_REMOTE_H

#include <stdbool.h>

#include "buf.h"

struct dcv_err;
struct dcv_host;
struct dcv_ssh;
struct dcv_ssh_hold;

/* Take the host's deploy lock for as long as the connection lives (or until unlocked).
 * `owner` describes this run ("dcvctl deploy by ... since ..."). When another run holds it,
 * returns DCV_E_REMOTE with the holder's description. */
int dcv_remote_lock(struct dcv_ssh *c, const struct dcv_host *h, const char *owner,
		    struct dcv_ssh_hold **lock, struct dcv_err *err);
void dcv_remote_unlock(struct dcv_ssh_hold *lock);

/* Result of one file transaction. */
enum dcv_txn_status {
	DCV_TXN_WRITTEN,   /* in place, validated, applied */
	DCV_TXN_INVALID,   /* validation failed: previous file restored, nothing reloaded */
	DCV_TXN_APPLY_FAILED, /* in place and valid, but the reload/apply command failed */
};

struct dcv_txn {
	enum dcv_txn_status status;
	char backup[512]; /* the backup file, "" when the target did not exist */
	struct dcv_buf output; /* validator / apply output on failure */
};

/* Write `content` to `path` as one host-side transaction that completes even if the connection
 * drops: upload to a fresh hidden temp file beside the target (an unpredictable name,
 * .<base>.dcvctl-new.XXXXXXXXXX, made by the host's mktemp), check its sha256, then detached:
 * back up the target (<path>.dcvctl-<UTC timestamp>, last 5 kept), rename into place, run
 * `validate` (may be NULL), restore the backup if it fails, else run `apply` (may be NULL).
 * validate/apply are dcvctl's own constant commands, never inventory text. A new file gets
 * `mode` (octal, NULL: 644); a replaced file keeps the old one's owner and mode. */
int dcv_remote_write_file(struct dcv_ssh *c, const struct dcv_host *h, const char *path,
			  const char *content, size_t len, const char *mode, const char *validate,
			  const char *apply, struct dcv_txn *txn, struct dcv_err *err);
void dcv_txn_release(struct dcv_txn *txn);

/* Run a shell script with sudo when the host says so; output captured. */
int dcv_remote_sh(struct dcv_ssh *c, const struct dcv_host *h, const char *script,
		  struct dcv_buf *out, struct dcv_buf *errout, int *status, struct dcv_err *err);

/* Read a file (with sudo): *exists tells whether it was there. */
int dcv_remote_read(struct dcv_ssh *c, const struct dcv_host *h, const char *path,
		    struct dcv_buf *content, bool *exists, struct dcv_err *err);

/* Decode base64 (as `base64 -w0` writes it); returns false on bad input. */
bool dcv_base64_decode(const char *in, size_t len, struct dcv_buf *out);

#endif
