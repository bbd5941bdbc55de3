#include "service.h"

#include "err.h"
#include "inventory.h"
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
	struct dcv_buf script = DCV_BUF_INIT, list = DCV_BUF_INIT;
	struct dcv_ssh_exec req = DCV_SSH_EXEC_INIT;
	struct dcv_ssh_result res;
	int rc;

	dcv_shquote_argv(&list, units, n);
	if (action) {
		dcv_buf_adds(&script, "msg=$(systemctl ");
		dcv_shquote(&script, action);
		dcv_buf_addf(&script, " -- %s 2>&1 >/dev/null); rc=$?; ", list.data);
	} else {
		dcv_buf_adds(&script, "rc=0; ");
	}
	/* One line per unit: active, enabled; then the action's exit status and its error text. */
	dcv_buf_addf(&script,
		     "for u in %s; do a=$(systemctl is-active -- \"$u\" 2>/dev/null); "
		     "e=$(systemctl is-enabled -- \"$u\" 2>/dev/null); "
		     "printf 'unit\\t%%s\\t%%s\\n' \"${a:-unknown}\" \"${e:-not-found}\"; done; "
		     "printf 'rc\\t%%s\\n' \"$rc\"; ",
		     list.data);
	if (action)
		dcv_buf_adds(&script, "printf '%s\\n' \"$msg\"; ");
	dcv_buf_adds(&script, "exit 0");
	req.cmd = script.data;
	req.sudo = h->ssh.sudo;
	dcv_ssh_result_init(&res);
	rc = dcv_ssh_run(c, &req, &res, err);
	dcv_buf_release(&script);
	dcv_buf_release(&list);
	if (rc != DCV_OK) {
		dcv_ssh_result_release(&res);
		return rc;
	}
	if (res.status != 0) {
		rc = dcv_err_set(err, DCV_E_REMOTE, "cannot run systemctl (exit %d): %s", res.status,
				 res.err.len ? res.err.data : "no output");
		dcv_ssh_result_release(&res);
		return rc;
	}
	struct dcv_unit_state *st = xcalloc((size_t)n, sizeof(*st));
	int k = 0, status = 0;
	char *save = NULL, *line;
	char *text = res.out.data ? res.out.data : "";
	const char *rest = NULL;
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (strncmp(line, "unit\t", 5) == 0 && k < n) {
			char *tab = strchr(line + 5, '\t');
			if (tab)
				*tab = '\0';
			snprintf(st[k].active, sizeof(st[k].active), "%s", line + 5);
			snprintf(st[k].enabled, sizeof(st[k].enabled), "%s", tab ? tab + 1 : "unknown");
			k++;
		} else if (strncmp(line, "rc\t", 3) == 0) {
			status = atoi(line + 3);
			rest = save;
			break;
		}
	}
	for (; k < n; k++) {
		snprintf(st[k].active, sizeof(st[k].active), "unknown");
		snprintf(st[k].enabled, sizeof(st[k].enabled), "unknown");
	}
	if (status != 0) {
		dcv_buf_addf(failure, "exit %d", status);
		if (rest && *rest) {
			dcv_buf_adds(failure, ": ");
			dcv_buf_adds(failure, rest);
		}
		if (res.err.len) {
			dcv_buf_adds(failure, " ");
			dcv_buf_adds(failure, res.err.data);
		}
		dcv_buf_rtrim(failure);
	}
	dcv_ssh_result_release(&res);
	*states = st;
	return DCV_OK;
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
	dcv_buf_adds(s, "systemctl show -p Id -p LoadState -p ActiveState -p UnitFileState");
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
