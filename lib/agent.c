#include "agent.h"

#include "buf.h"
#include "err.h"
#include "inventory.h"
#include "remote.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int dcv_agent_sessions(struct dcv_ssh *c, const struct dcv_host *h, struct dcv_sessions *out,
		       struct dcv_err *err)
{
	struct dcv_buf o = DCV_BUF_INIT, e = DCV_BUF_INIT;
	int status = 0, rc;

	/* Older servers lack --json: fall back to the text format in the same round trip. */
	rc = dcv_remote_sh(c, h, "dcv list-sessions --json 2>/dev/null || dcv list-sessions", &o, &e,
			   &status, err);
	if (rc == DCV_OK && status != 0) {
		dcv_buf_rtrim(&e);
		rc = dcv_err_set(err, DCV_E_REMOTE, "dcv list-sessions failed (exit %d)%s%s", status,
				 e.len ? ": " : "", dcv_buf_str(&e));
	}
	if (rc == DCV_OK)
		rc = dcv_sessions_parse(dcv_buf_str(&o), out, err);
	dcv_buf_release(&o);
	dcv_buf_release(&e);
	return rc;
}

bool dcv_agent_session_matches(const struct dcv_host *h, const struct dcv_session *s)
{
	return dcv_session_fits(h, s, NULL, 0);
}

static void create_command(const struct dcv_host *h, struct dcv_buf *cmd)
{
	char *arg;

	dcv_buf_adds(cmd, "dcv create-session ");
	arg = xasprintf("--type=%s", h->session_type);
	dcv_shquote(cmd, arg);
	free(arg);
	if (h->session_owner) {
		arg = xasprintf("--owner=%s", h->session_owner);
		dcv_buf_addc(cmd, ' ');
		dcv_shquote(cmd, arg);
		free(arg);
	}
	if (h->session_name) {
		arg = xasprintf("--name=%s", h->session_name);
		dcv_buf_addc(cmd, ' ');
		dcv_shquote(cmd, arg);
		free(arg);
	}
	dcv_buf_addc(cmd, ' '); /* ids never start with '-' (inventory) */
	dcv_shquote(cmd, h->session);
}

int dcv_agent_session_create(struct dcv_ssh *c, const struct dcv_host *h, struct dcv_err *err)
{
	struct dcv_buf cmd = DCV_BUF_INIT, o = DCV_BUF_INIT, e = DCV_BUF_INIT;
	int rc = DCV_OK, status = 0;

	create_command(h, &cmd);
	for (int attempt = 0; attempt < 5; attempt++) {
		struct dcv_sessions list = { 0 };
		const struct dcv_session *s;

		if (attempt)
			sleep(1); /* dcvserver may still be starting after a restart */
		dcv_buf_reset(&o);
		dcv_buf_reset(&e);
		rc = dcv_remote_sh(c, h, cmd.data, &o, &e, &status, err);
		if (rc != DCV_OK)
			break;
		rc = dcv_agent_sessions(c, h, &list, err);
		if (rc != DCV_OK)
			break;
		s = dcv_sessions_find(&list, h->session);
		if (s && dcv_agent_session_matches(h, s)) {
			dcv_sessions_release(&list);
			rc = DCV_OK;
			goto out;
		}
		if (s) {
			rc = dcv_err_set(err, DCV_E_REMOTE,
					 "session '%s' exists but with owner '%s' and type '%s' instead of '%s' and '%s'",
					 h->session, s->owner ? s->owner : "", s->type ? s->type : "",
					 h->session_owner ? h->session_owner : "", h->session_type);
			dcv_sessions_release(&list);
			goto out;
		}
		dcv_sessions_release(&list);
	}
	if (rc == DCV_OK) {
		dcv_buf_rtrim(&e);
		dcv_buf_rtrim(&o);
		rc = dcv_err_set(err, DCV_E_REMOTE,
				 "dcv create-session exited %d but list-sessions shows no session '%s' "
				 "(is dcvserver running?)%s%s",
				 status, h->session, e.len || o.len ? ": " : "",
				 e.len ? dcv_buf_str(&e) : dcv_buf_str(&o));
	}
out:
	dcv_buf_release(&cmd);
	dcv_buf_release(&o);
	dcv_buf_release(&e);
	return rc;
}

int dcv_agent_session_close(struct dcv_ssh *c, const struct dcv_host *h, const char *id,
			    struct dcv_err *err)
{
	struct dcv_buf cmd = DCV_BUF_INIT, o = DCV_BUF_INIT, e = DCV_BUF_INIT;
	struct dcv_sessions list = { 0 };
	int status = 0, rc;

	dcv_buf_adds(&cmd, "dcv close-session ");
	dcv_shquote(&cmd, id);
	rc = dcv_remote_sh(c, h, cmd.data, &o, &e, &status, err);
	if (rc == DCV_OK)
		rc = dcv_agent_sessions(c, h, &list, err);
	if (rc == DCV_OK && dcv_sessions_find(&list, id)) {
		dcv_buf_rtrim(&e);
		rc = dcv_err_set(err, DCV_E_REMOTE, "session '%s' is still there after close-session (exit %d)%s%s",
				 id, status, e.len ? ": " : "", dcv_buf_str(&e));
	}
	dcv_sessions_release(&list);
	dcv_buf_release(&cmd);
	dcv_buf_release(&o);
	dcv_buf_release(&e);
	return rc;
}

int dcv_agent_session_ensure(struct dcv_ssh *c, const struct dcv_host *h, enum dcv_session_action action,
			     struct dcv_err *err)
{
	int rc = DCV_OK;

	if (action == DCV_SESSION_RECREATE)
		rc = dcv_agent_session_close(c, h, h->session, err);
	if (rc == DCV_OK && action != DCV_SESSION_NONE)
		rc = dcv_agent_session_create(c, h, err);
	return rc;
}
