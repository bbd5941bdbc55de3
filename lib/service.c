#include "service.h"

#include "err.h"
#include "inventory.h"
#include "remote.h"
#include "ssh.h"
#include "util.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int dcv_service_apply(struct dcv_ssh *c, const struct dcv_host *h, const char *action,
		      const char *const *units, int n, struct dcv_unit_state **states,
		      struct dcv_buf *failure, struct dcv_err *err)
{
	struct dcv_buf script = DCV_BUF_INIT, out = DCV_BUF_INIT, errout = DCV_BUF_INIT;
	int status = 0, rc;

	/* the action, then every unit's state in the same round trip, then the action's exit
	 * status and error text after a marker line */
	if (action) {
		dcv_buf_adds(&script, "msg=$(systemctl ");
		dcv_shquote(&script, action);
		dcv_buf_adds(&script, " --");
		for (int i = 0; i < n; i++) {
			dcv_buf_addc(&script, ' ');
			dcv_shquote(&script, units[i]);
		}
		dcv_buf_adds(&script, " 2>&1 >/dev/null); rc=$?\n");
	} else {
		dcv_buf_adds(&script, "rc=0 msg=\n");
	}
	dcv_units_show_script(&script, units, n);
	dcv_buf_adds(&script, "printf 'rc\\t%s\\n%s\\n' \"$rc\" \"$msg\"; exit 0");
	rc = dcv_remote_sh(c, h, script.data, &out, &errout, &status, err);
	dcv_buf_release(&script);
	if (rc == DCV_OK && status != 0) {
		dcv_buf_rtrim(&errout);
		rc = dcv_err_set(err, DCV_E_REMOTE, "cannot run systemctl (exit %d): %s", status,
				 errout.len ? errout.data : "no output");
	}
	if (rc != DCV_OK)
		goto out;
	struct dcv_unit_state *st = xcalloc((size_t)n, sizeof(*st));
	const char *mark = strstr(dcv_buf_str(&out), "rc\t");
	int action_rc = mark ? atoi(mark + 3) : 0;
	dcv_units_parse(dcv_buf_str(&out), st, n);
	if (action_rc != 0) {
		const char *text = strchr(mark, '\n');
		dcv_buf_addf(failure, "exit %d", action_rc);
		if (text && text[1]) {
			dcv_buf_adds(failure, ": ");
			dcv_buf_adds(failure, text + 1);
		}
		dcv_buf_rtrim(failure);
	}
	*states = st;
out:
	dcv_buf_release(&out);
	dcv_buf_release(&errout);
	return rc;
}

void dcv_units_free(struct dcv_unit_state *s, int n)
{
	(void)n;
	free(s);
}

void dcv_units_show_script(struct dcv_buf *s, const char *const *units, int n)
{
	/* one process for all units (the hosts' systemctl can be slow to start); systemd
	 * prints one block per unit, in order, separated by empty lines, exit 0 even for
	 * a unit it does not know (LoadState=not-found) */
	dcv_buf_adds(s, "systemctl show -p Id -p LoadState -p ActiveState -p UnitFileState --");
	for (int i = 0; i < n; i++) {
		dcv_buf_addc(s, ' ');
		dcv_shquote(s, units[i]);
	}
	dcv_buf_adds(s, " 2>/dev/null | awk '/^$/ { n++; next } { print \"unit.\" n+0 \".\" $0 }'\n");
}

void dcv_units_parse(const char *output, struct dcv_unit_state *st, int n)
{
	bool missing[64] = { 0 };

	for (int i = 0; i < n; i++) {
		snprintf(st[i].active, sizeof(st[i].active), "unknown");
		snprintf(st[i].enabled, sizeof(st[i].enabled), "not-found");
	}
	for (const char *l = output; l && *l;) {
		const char *nl = strchr(l, '\n');
		size_t len = nl ? (size_t)(nl - l) : strlen(l);
		char line[256], key[64], val[128] = "";
		int idx;

		snprintf(line, sizeof(line), "%.*s", (int)len, l);
		l += len + (nl ? 1 : 0);
		if (sscanf(line, "unit.%d.%63[^=]=%127[^\n]", &idx, key, val) < 2 || idx < 0 || idx >= n)
			continue;
		if (strcmp(key, "ActiveState") == 0)
			snprintf(st[idx].active, sizeof(st[idx].active), "%s", val[0] ? val : "unknown");
		else if (strcmp(key, "UnitFileState") == 0 && val[0])
			snprintf(st[idx].enabled, sizeof(st[idx].enabled), "%s", val);
		else if (strcmp(key, "LoadState") == 0 && strcmp(val, "not-found") == 0 && idx < 64)
			missing[idx] = true;
	}
	for (int i = 0; i < n && i < 64; i++)
		if (missing[i])
			snprintf(st[i].enabled, sizeof(st[i].enabled), "not-found");
}
