#include "remote.h"

#include "err.h"
#include "inventory.h"
#include "ssh.h"
#include "util.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The lock is an flock held by a command whose stdin is our channel: when the channel closes
 * (unlock, exit, or a dropped connection) `cat` sees EOF, flock exits, the lock is free. */
static const char lock_script[] =
	"mkdir -p /run/lock && "
	"flock -n -E 75 /run/lock/dcvctl.lock sh -c "
	"'printf \"%s\\n\" \"$1\" > /run/lock/dcvctl.owner; echo locked; exec cat >/dev/null' sh \"$0\"; "
	"rc=$?; if [ $rc = 75 ]; then printf 'busy %s\\n' \"$(cat /run/lock/dcvctl.owner 2>/dev/null)\"; fi; exit $rc";

int dcv_remote_lock(struct dcv_ssh *c, const struct dcv_host *h, const char *owner,
		    struct dcv_ssh_hold **lock, struct dcv_err *err)
{
	struct dcv_buf cmd = DCV_BUF_INIT, first = DCV_BUF_INIT;
	int status = 0, rc;

	/* `sh -c SCRIPT OWNER`: the owner text arrives as $0, quoted, never parsed */
	dcv_buf_adds(&cmd, "sh -c ");
	dcv_shquote(&cmd, lock_script);
	dcv_buf_addc(&cmd, ' ');
	dcv_shquote(&cmd, owner);
	rc = dcv_ssh_hold(c, cmd.data, h->ssh.sudo, &first, &status, lock, err);
	dcv_buf_release(&cmd);
	/* held only when the first line says so; anything else is the answer of a command that
	 * is finishing without the lock */
	if (rc == DCV_OK && *lock && strncmp(dcv_buf_str(&first), "locked\n", 7) != 0) {
		dcv_ssh_unhold(*lock);
		*lock = NULL;
	}
	if (rc == DCV_OK && !*lock) {
		const char *who = strstr(dcv_buf_str(&first), "busy ");
		if (who) {
			char *line = xstrdup(who + 5);
			line[strcspn(line, "\n")] = '\0';
			rc = dcv_err_set(err, DCV_E_REMOTE,
					 "another deploy is running on %s (%s); wait for it or, if none is, "
					 "check /run/lock/dcvctl.lock there",
					 h->name, *line ? line : "owner unknown");
			free(line);
		} else {
			dcv_buf_rtrim(&first);
			rc = dcv_err_set(err, DCV_E_REMOTE, "cannot take the deploy lock on %s (exit %d): %s",
					 h->name, status, first.len ? first.data : "no output");
		}
	}
	dcv_buf_release(&first);
	return rc;
}

void dcv_remote_unlock(struct dcv_ssh_hold *lock)
{
	dcv_ssh_unhold(lock);
}

/* Uploaded through stdin; everything after the checksum runs detached (setsid) so a dropped
 * connection cannot stop it half-way; the transaction lock keeps two of them apart. */
static const char txn_script[] =
	"set -u\n"
	"target=$1 sum=$2 validate=$3 apply=$4 mode=$5\n"
	"case $mode in *[!0-7]*|'') echo \"bad mode $mode\"; exit 22;; esac\n"
	"dir=$(dirname -- \"$target\") base=$(basename -- \"$target\")\n"
	"mkdir -p -- \"$dir\" || exit 20\n"
	/* mktemp creates a fresh random name with O_EXCL (mode 600), so root never writes through
	 * a file or symlink planted at a name one could guess; dd then opens only that file
	 * (nocreat) and never through a symlink swapped in meanwhile (nofollow) */
	"tmp=$(mktemp -- \"$dir/.$base.dcvctl-new.XXXXXXXXXX\") || { echo \"cannot create a temp file in $dir\"; exit 20; }\n"
	"dd of=\"$tmp\" oflag=nofollow conv=nocreat,fsync status=none || { rm -f -- \"$tmp\"; echo \"cannot write $tmp\"; exit 20; }\n"
	"got=$(sha256sum < \"$tmp\" | cut -d' ' -f1)\n"
	"if [ \"$got\" != \"$sum\" ]; then rm -f -- \"$tmp\"; echo 'upload incomplete'; exit 21; fi\n"
	"res=$(mktemp /run/.dcvctl-txn.XXXXXXXXXX) || { rm -f -- \"$tmp\"; echo 'cannot create a result file in /run'; exit 20; }\n"
	"setsid sh -c '\n"
	"  set -u\n"
	"  target=$1 tmp=$2 validate=$3 apply=$4 mode=$5\n"
	"  mkdir -p /run/lock; exec 9>/run/lock/dcvctl.txn; flock 9\n"
	"  backup=\n"
	"  if [ -e \"$target\" ]; then\n"
	"    backup=\"$target.dcvctl-$(date -u +%Y%m%dT%H%M%SZ)\"\n"
	"    cp -p -- \"$target\" \"$backup\" || { echo \"cannot back up $target\"; exit 30; }\n"
	"    chown --reference=\"$target\" -- \"$tmp\" 2>/dev/null\n"
	"    chmod --reference=\"$target\" -- \"$tmp\" 2>/dev/null\n"
	"  else\n"
	"    chmod \"$mode\" -- \"$tmp\"\n"
	"  fi\n"
	"  mv -f -- \"$tmp\" \"$target\" || { echo \"cannot rename into $target\"; exit 31; }\n"
	"  if [ -n \"$validate\" ] && ! out=$(sh -c \"$validate\" 2>&1); then\n"
	"    if [ -n \"$backup\" ]; then mv -f -- \"$backup\" \"$target\"; else rm -f -- \"$target\"; fi\n"
	"    printf \"backup=\\ninvalid\\n%s\\n\" \"$out\"; exit 10\n"
	"  fi\n"
	"  ls -1d -- \"$target\".dcvctl-* 2>/dev/null | sort -r | tail -n +6 | while read -r f; do rm -f -- \"$f\"; done\n"
	"  printf \"backup=%s\\n\" \"$backup\"\n"
	"  if [ -n \"$apply\" ] && ! out=$(sh -c \"$apply\" 2>&1); then\n"
	"    printf \"apply-failed\\n%s\\n\" \"$out\"; exit 11\n"
	"  fi\n"
	"  echo written\n"
	"' txn \"$target\" \"$tmp\" \"$validate\" \"$apply\" \"$mode\" > \"$res\" 2>&1 < /dev/null &\n"
	"wait $!; rc=$?\n"
	"cat \"$res\"; rm -f -- \"$res\"\n"
	"exit $rc\n";

static void sha256_hex(const char *data, size_t len, char hex[65])
{
	unsigned char md[32];
	unsigned int mdlen = 0;

	EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL);
	for (unsigned i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
}

int dcv_remote_write_file(struct dcv_ssh *c, const struct dcv_host *h, const char *path,
			  const char *content, size_t len, const char *mode, const char *validate,
			  const char *apply, struct dcv_txn *txn, struct dcv_err *err)
{
	struct dcv_ssh_exec req = DCV_SSH_EXEC_INIT;
	struct dcv_ssh_result res;
	struct dcv_buf cmd = DCV_BUF_INIT;
	char sum[65];
	const char *argv[6];
	int rc;

	memset(txn, 0, sizeof(*txn));
	sha256_hex(content, len, sum);
	argv[0] = path;
	argv[1] = sum;
	argv[2] = validate ? validate : "";
	argv[3] = apply ? apply : "";
	argv[4] = mode ? mode : "644";
	dcv_buf_adds(&cmd, "sh -c ");
	dcv_shquote(&cmd, txn_script);
	dcv_buf_adds(&cmd, " txn ");
	dcv_shquote_argv(&cmd, argv, 5);
	req.cmd = cmd.data;
	req.sudo = h->ssh.sudo;
	req.in = content;
	req.in_len = len;
	dcv_ssh_result_init(&res);
	rc = dcv_ssh_run(c, &req, &res, err);
	dcv_buf_release(&cmd);
	if (rc != DCV_OK)
		goto out;
	const char *o = dcv_buf_str(&res.out);
	const char *b = strstr(o, "backup=");
	if (b) {
		size_t bl = strcspn(b + 7, "\n");
		snprintf(txn->backup, sizeof(txn->backup), "%.*s", (int)bl, b + 7);
	}
	if (res.status == 0) {
		txn->status = DCV_TXN_WRITTEN;
	} else if (res.status == 10 || res.status == 11) {
		const char *tag = res.status == 10 ? "invalid\n" : "apply-failed\n";
		const char *detail = strstr(o, tag);
		txn->status = res.status == 10 ? DCV_TXN_INVALID : DCV_TXN_APPLY_FAILED;
		dcv_buf_adds(&txn->output, detail ? detail + strlen(tag) : o);
		dcv_buf_rtrim(&txn->output);
	} else {
		dcv_buf_rtrim(&res.out);
		dcv_buf_rtrim(&res.err);
		rc = dcv_err_set(err, DCV_E_REMOTE, "cannot write %s (exit %d): %s%s%s", path, res.status,
				 dcv_buf_str(&res.out), res.out.len && res.err.len ? "; " : "",
				 dcv_buf_str(&res.err));
	}
out:
	dcv_ssh_result_release(&res);
	return rc;
}

void dcv_txn_release(struct dcv_txn *txn)
{
	dcv_buf_release(&txn->output);
}

int dcv_remote_sh(struct dcv_ssh *c, const struct dcv_host *h, const char *script,
		  struct dcv_buf *out, struct dcv_buf *errout, int *status, struct dcv_err *err)
{
	struct dcv_ssh_exec req = DCV_SSH_EXEC_INIT;
	struct dcv_ssh_result res;
	struct dcv_buf cmd = DCV_BUF_INIT;
	int rc;

	dcv_buf_adds(&cmd, "sh -c ");
	dcv_shquote(&cmd, script);
	req.cmd = cmd.data;
	req.sudo = h->ssh.sudo;
	dcv_ssh_result_init(&res);
	rc = dcv_ssh_run(c, &req, &res, err);
	if (rc == DCV_OK) {
		if (out)
			dcv_buf_add(out, dcv_buf_str(&res.out), res.out.len);
		if (errout)
			dcv_buf_add(errout, dcv_buf_str(&res.err), res.err.len);
		if (status)
			*status = res.status;
	}
	dcv_ssh_result_release(&res);
	dcv_buf_release(&cmd);
	return rc;
}

int dcv_remote_read(struct dcv_ssh *c, const struct dcv_host *h, const char *path,
		    struct dcv_buf *content, bool *exists, struct dcv_err *err)
{
	struct dcv_buf script = DCV_BUF_INIT, out = DCV_BUF_INIT;
	int status = 0, rc;

	dcv_buf_adds(&script, "f=");
	dcv_shquote(&script, path);
	dcv_buf_adds(&script, "; if [ -e \"$f\" ]; then cat -- \"$f\"; else exit 44; fi");
	rc = dcv_remote_sh(c, h, script.data, &out, NULL, &status, err);
	dcv_buf_release(&script);
	if (rc == DCV_OK) {
		if (status == 44) {
			*exists = false;
		} else if (status != 0) {
			rc = dcv_err_set(err, DCV_E_REMOTE, "cannot read %s (exit %d)", path, status);
		} else {
			*exists = true;
			dcv_buf_add(content, dcv_buf_str(&out), out.len);
		}
	}
	dcv_buf_release(&out);
	return rc;
}

bool dcv_base64_decode(const char *in, size_t len, struct dcv_buf *out)
{
	unsigned char *buf;
	int n;

	while (len && (in[len - 1] == '\n' || in[len - 1] == '\r' || in[len - 1] == ' '))
		len--;
	if (len == 0)
		return true;
	if (len % 4)
		return false;
	buf = xmalloc(len);
	n = EVP_DecodeBlock(buf, (const unsigned char *)in, (int)len);
	if (n < 0) {
		free(buf);
		return false;
	}
	/* EVP_DecodeBlock counts padding as data */
	if (in[len - 1] == '=')
		n--;
	if (in[len - 2] == '=')
		n--;
	dcv_buf_add(out, buf, (size_t)n);
	free(buf);
	return true;
}
