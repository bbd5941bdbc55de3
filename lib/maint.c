/* The maintenance files: logrotate stanzas with the owner each distribution gives a log, and
 * the health probe that restarts the proxy only when the proxy itself does not answer. */
#include "maint.h"

#include "inventory.h"
#include "proxy.h"
#include "remote.h"
#include "util.h"

#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const struct dcv_rotated_log dcv_maint_dcv_log = { "/var/log/dcv/*.log", NULL, NULL, NULL };

char *dcv_maint_logrotate_path(const char *kind)
{
	return xasprintf("%s/dcvctl-%s", DCV_LOGROTATE_DIR, kind);
}

static bool rpm_family(const char *os)
{
	static const char *const rpm[] = { "amzn", "rhel", "centos", "fedora", "rocky", "almalinux", "ol" };

	for (size_t i = 0; i < sizeof(rpm) / sizeof(rpm[0]); i++)
		if (strcmp(os, rpm[i]) == 0)
			return true;
	return false;
}

/* Does `a` (a path or glob of another file) name a file `b` (ours) names, or the reverse? */
static bool overlaps(const char *a, const char *b)
{
	return strcmp(a, b) == 0 || fnmatch(a, b, FNM_PATHNAME) == 0 || fnmatch(b, a, FNM_PATHNAME) == 0;
}

/* The other logrotate file that already rotates `path`, malloc'd, or NULL. Log names are the
 * words outside braces on lines that do not start with a directive (include, weekly, ...). */
static char *rotated_by(const char *others, const char *path)
{
	char file[512] = "";
	int depth = 0;

	for (const char *l = others ? others : ""; *l;) {
		size_t len = strcspn(l, "\n");
		char *line = xstrndup(l, len), *save = NULL;
		l += len + (l[len] == '\n');
		if (strncmp(line, "### ", 4) == 0) {
			snprintf(file, sizeof(file), "%s", line + 4);
			depth = 0;
			free(line);
			continue;
		}
		bool names = depth == 0;
		for (char *w = strtok_r(line, " \t", &save); w; w = strtok_r(NULL, " \t", &save)) {
			if (*w == '#')
				break;
			if (strcmp(w, "{") == 0 || strcmp(w, "}") == 0) {
				depth += *w == '{' ? 1 : -1;
				continue;
			}
			size_t wl = strlen(w);
			if (wl > 2 && (*w == '"' || *w == '\'') && w[wl - 1] == *w) {
				w[wl - 1] = '\0';
				w++;
			}
			if (names && depth == 0 && *w == '/') {
				if (overlaps(w, path)) {
					free(line);
					return xstrdup(file);
				}
			} else if (depth == 0) {
				names = false; /* a directive: its words are no log names */
			}
		}
		free(line);
	}
	return NULL;
}

/* logrotate skips a log whose directory a non-root user or group may write unless `su` names
 * who rotates there ("parent directory has insecure permissions"). */
static void su_line(const char *dir, struct dcv_buf *out)
{
	char user[64], group[64];
	unsigned mode;

	if (!dir || sscanf(dir, "%63s %63s %o", user, group, &mode) != 3)
		return;
	if ((mode & 02) || ((mode & 020) && strcmp(group, "root") != 0) || strcmp(user, "root") != 0)
		dcv_buf_addf(out, "    su %s %s\n", user, group);
}

int dcv_maint_logrotate(const struct dcv_rotated_log *logs, int n, const struct dcv_logrotate_facts *f,
			struct dcv_buf *out)
{
	int kept = 0;

	dcv_buf_adds(out, "# Written by dcvctl deploy ([maintenance] logrotate); changes here are overwritten.\n");
	for (int i = 0; i < n; i++) {
		const struct dcv_rotated_log *lg = &logs[i];
		char *other = rotated_by(f->others, lg->path);
		const char *create = rpm_family(f->os ? f->os : "") ? lg->create_rpm : lg->create_deb;
		if (other) {
			dcv_buf_addf(out, "# %s: rotated by %s already\n", lg->path, other);
			free(other);
			continue;
		}
		kept++;
		dcv_buf_addf(out, "%s {\n    daily\n    rotate 7\n    missingok\n    notifempty\n    compress\n"
				  "    delaycompress\n", lg->path);
		su_line(i < DCV_MAINT_MAX_LOGS ? f->dirs[i] : NULL, out);
		if (!lg->postrotate) {
			/* the writer keeps its file open and cannot be told to reopen it */
			dcv_buf_adds(out, "    copytruncate\n");
		} else {
			if (create)
				dcv_buf_addf(out, "    create %s\n", create);
			dcv_buf_addf(out, "    sharedscripts\n    postrotate\n        %s\n    endscript\n", lg->postrotate);
		}
		dcv_buf_adds(out, "}\n");
	}
	return kept;
}

/* ------------------------------------------------------------------ health */

void dcv_maint_health_script(const struct dcv_inventory *inv, const struct dcv_host *gw,
			     const struct dcv_proxy_kind *k, struct dcv_buf *out)
{
	dcv_buf_adds(out, "#!/bin/sh\n"
			  "# Written by dcvctl deploy ([maintenance] health-restart); changes here are overwritten.\n"
			  "# Restarts the proxy when it does not serve: no TLS handshake or no HTTP answer on its\n"
			  "# port, or a 5xx. Not the runbook's /health (nginx proxies it to DCV, which answers\n"
			  "# 404) and not `curl || restart` (curl without -f exits 0 on any HTTP status).\n"
			  "# At most `limit` restarts an hour; every decision goes to the journal.\n");
	dcv_buf_adds(out, "unit=");
	dcv_shquote(out, k->unit);
	dcv_buf_addf(out, "\nurl=https://127.0.0.1:%d/\nlimit=%d\nstate=%s\n", gw->listen, inv->restart_limit,
		     DCV_HEALTH_STATE);
	dcv_buf_adds(out,
		     "log() { logger -t dcvctl-health -- \"$*\"; }\n"
		     "command -v curl >/dev/null 2>&1 || { log \"curl is missing: cannot probe $url\"; exit 1; }\n"
		     "code=$(curl -k -s -o /dev/null -m 10 -w '%{http_code}' \"$url\")\n"
		     "rc=$?\n"
		     "case $code in\n"
		     "000|'') why=\"no answer from $url (curl exit $rc: no TLS handshake or no HTTP response)\" ;;\n"
		     "5[0-9][0-9]) why=\"$url answered HTTP $code\" ;;\n"
		     "*) exit 0 ;;\n"
		     "esac\n"
		     "mkdir -p \"${state%/*}\"\n"
		     "now=$(date +%s)\n"
		     "recent=$(awk -v now=\"$now\" 'now - $1 < 3600' \"$state\" 2>/dev/null)\n"
		     "n=$(printf '%s' \"$recent\" | grep -c .)\n"
		     "if [ \"$n\" -ge \"$limit\" ]; then\n"
		     "\tlog \"$unit does not serve: $why; not restarted: $n restarts in the last hour (limit $limit)\"\n"
		     "\texit 1\n"
		     "fi\n"
		     "printf '%s\\n%s\\n' \"$recent\" \"$now\" | grep . > \"$state.new\" && mv -f \"$state.new\" \"$state\"\n"
		     "log \"$unit does not serve: $why; restarting it ($((n + 1)) of $limit this hour)\"\n"
		     "if ! out=$(systemctl restart \"$unit\" 2>&1); then\n"
		     "\tlog \"restarting $unit failed: $out\"\n"
		     "\texit 1\n"
		     "fi\n");
}

void dcv_maint_health_service(const struct dcv_inventory *inv, const struct dcv_proxy_kind *k,
			      struct dcv_buf *out)
{
	dcv_buf_addf(out,
		     "# Written by dcvctl deploy ([maintenance] health-restart); changes here are overwritten.\n"
		     "[Unit]\n"
		     "Description=dcvctl health probe: restarts %s when it does not serve (at most %d times an hour)\n"
		     "After=network-online.target %s.service\n"
		     "\n"
		     "[Service]\n"
		     "Type=oneshot\n"
		     "ExecStart=%s\n",
		     k->unit, inv->restart_limit, k->unit, DCV_HEALTH_SCRIPT);
}

void dcv_maint_health_timer(const struct dcv_inventory *inv, struct dcv_buf *out)
{
	long s = inv->health_interval_ms / 1000;

	dcv_buf_addf(out,
		     "# Written by dcvctl deploy ([maintenance] health-restart); changes here are overwritten.\n"
		     "[Unit]\n"
		     "Description=dcvctl health probe every %lds\n"
		     "\n"
		     "[Timer]\n"
		     "# after boot, after the timer starts (a deploy), then after each probe\n"
		     "OnBootSec=%lds\n"
		     "OnActiveSec=%lds\n"
		     "OnUnitActiveSec=%lds\n"
		     "AccuracySec=1s\n"
		     "\n"
		     "[Install]\n"
		     "WantedBy=timers.target\n",
		     s, s, s, s);
}
