/* restore.h - `dcvctl restore` (design §4): an archive read and checked by lib/backup.h put back
 * on its hosts through deploy's file transaction. */
#ifndef DCV_RESTORE_H
#define DCV_RESTORE_H

#include <stdbool.h>

#include "deploy.h"

struct dcv_backup;
struct dcv_err;
struct dcv_inventory;
struct dcv_ssh_pool;

struct dcv_restore_opts {
	bool dry_run;         /* report the diffs, change nothing */
	const char *only;     /* one host name, or NULL */
	const char *owner;    /* recorded with the remote lock */
	dcv_step_fn on_step;
	void *user;
};

/* Put `b` (read and checked above) back, hosts in parallel: per host the changed files through
 * deploy's transaction (validated with the kind's command once all are in place, every one put
 * back when that fails), mode and owner as recorded, then each unit brought to its recorded state
 * (restarted when a file it reads changed). Results as deploy reports them. */
int dcv_restore(const struct dcv_inventory *inv, struct dcv_ssh_pool *pool, const struct dcv_backup *b,
		const struct dcv_restore_opts *o, struct dcv_deploy_result *res, struct dcv_err *err);

#endif
