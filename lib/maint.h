/* maint.h - what deploy installs so the hosts keep serving between deploys ([maintenance],
 * design §7): logrotate files for the proxy's and DCV's logs, and the gateway's health timer
 * that replaces the runbook's cron line. Pure renderers of the inventory and a host's facts. */
#ifndef DCV_MAINT_H
#define DCV_MAINT_H

#include <stdbool.h>

#include "buf.h"

struct dcv_host;
struct dcv_inventory;
struct dcv_proxy_kind;
struct dcv_rotated_log;

#define DCV_LOGROTATE_DIR "/etc/logrotate.d"
#define DCV_LOGROTATE_DCV "/etc/logrotate.d/dcvctl-dcv"
#define DCV_HEALTH_SCRIPT "/usr/local/sbin/dcvctl-health"
#define DCV_HEALTH_SERVICE "/etc/systemd/system/dcvctl-health.service"
#define DCV_HEALTH_TIMER "/etc/systemd/system/dcvctl-health.timer"
#define DCV_HEALTH_TIMER_UNIT "dcvctl-health.timer"
#define DCV_HEALTH_STATE "/var/lib/dcvctl/health-restarts"
#define DCV_MAINT_BACKUP_DIR "/var/lib/dcvctl/backup" /* backups of files in /etc/logrotate.d */
#define DCV_MAINT_MAX_LOGS 4

/* DCV's own logs on an agent (reference/dcv.md §2.8): dcvserver has no documented signal to
 * reopen them, so they are copied and truncated. */
extern const struct dcv_rotated_log dcv_maint_dcv_log;

/* A host's facts about its logs, for one logrotate file. */
struct dcv_logrotate_facts {
	const char *os;                 /* os-release ID: picks the `create` owner */
	const char *others;             /* the host's other logrotate files, each after a line
					 * "### PATH" (what dcv_maint_facts_script prints) */
	const char *dirs[DCV_MAINT_MAX_LOGS]; /* "OWNER GROUP MODE" of each log's directory, or NULL */
};

/* The path of the logrotate file for `kind` ("nginx", "dcv"), malloc'd. */
char *dcv_maint_logrotate_path(const char *kind);

/* The logrotate file for `logs` on a host, appended to `out`. A log that another file of the
 * host already rotates is left out (logrotate refuses a log in two files: "duplicate log
 * entry"), with a comment naming that file. Returns the number of logs the file rotates: 0
 * means the host needs no such file. */
int dcv_maint_logrotate(const struct dcv_rotated_log *logs, int n, const struct dcv_logrotate_facts *f,
			struct dcv_buf *out);

/* The health probe script (mode 755), its oneshot service and its timer. */
void dcv_maint_health_script(const struct dcv_inventory *inv, const struct dcv_host *gw,
			     const struct dcv_proxy_kind *k, struct dcv_buf *out);
void dcv_maint_health_service(const struct dcv_inventory *inv, const struct dcv_proxy_kind *k,
			      struct dcv_buf *out);
void dcv_maint_health_timer(const struct dcv_inventory *inv, struct dcv_buf *out);

#endif
