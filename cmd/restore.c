/* dcvctl restore: a backup back on its hosts, through deploy's transaction (design §4). */
#include "cli.h"

#include "../lib/backup.h"
#include "../lib/buf.h"
#include "../lib/deploy.h"
#include "../lib/inventory.h"
#include "../lib/restore.h"
#include "../lib/ssh.h"
#include "../lib/tar.h"
#include "../lib/util.h"

#include <errno.h>
#include <json-c/json.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct vars {
	bool dry_run, json;
	const char *only;
};

static const struct dcv_opt opts[] = {
	CLI_BOOL(struct vars, dry_run, 'n', "dry-run", "show unified diffs (deployed against archived); change nothing"),
	CLI_STRING(struct vars, only, 0, "only", "HOST", "restore this host only"),
	CLI_BOOL(struct vars, json, 0, "json", "one JSON document with every step and a summary"),
	CLI_END,
};

struct printer {
	struct dcv_ctx *ctx;
	bool diffs, json;
};

static void print_step(void *user, const struct dcv_step *s)
{
	struct printer *p = user;
	struct step_style st = { 8, true, false, p->diffs };

	if (!p->json)
		out_step(p->ctx, &st, s);
}

/* The archive, read whole; it is small (config files), and bounded by DCV_TAR_MAX. */
static int load(const char *path, struct dcv_backup *b)
{
	struct dcv_buf raw = DCV_BUF_INIT;
	struct dcv_err err = DCV_ERR_INIT;
	struct stat st;
	int rc;

	errno = 0;
	if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) {
		out_error("cannot read '%s': %s", path, errno ? strerror(errno) : "not a file");
		return EXIT_INTERNAL;
	}
	/* read whole, so bounded first: gzip adds little even to an incompressible tar, and a
	 * backup's tar is at most DCV_TAR_MAX */
	if ((unsigned long long)st.st_size > 2ull * DCV_TAR_MAX) {
		out_error("%s: refused: larger than any dcvctl backup; nothing was written", path);
		return EXIT_FAIL;
	}
	if (dcv_file_read(path, &raw) != 0) {
		out_error("cannot read '%s': %s", path, strerror(errno));
		dcv_buf_release(&raw);
		return EXIT_INTERNAL;
	}
	rc = dcv_backup_read(raw.data ? raw.data : "", raw.len, b, &err);
	if (raw.data)
		explicit_bzero(raw.data, raw.len);
	dcv_buf_release(&raw);
	if (rc != DCV_OK) {
		out_error("%s: %s; nothing was written", path, err.msg);
		return EXIT_FAIL;
	}
	return EXIT_OK;
}

static void print_json(const struct dcv_backup *b, const struct dcv_deploy_result *res, bool dry_run)
{
	struct json_object *root = json_object_new_object(), *arr = json_object_new_array();
	struct json_object *arch = json_object_new_object(), *sum = json_object_new_object();

	json_object_object_add(root, "dry_run", json_object_new_boolean(dry_run));
	json_object_object_add(arch, "dcvctl_version", json_object_new_string(b->version));
	json_object_object_add(arch, "created", json_object_new_string(b->created));
	json_object_object_add(arch, "files", json_object_new_int(b->n_files));
	json_object_object_add(arch, "hosts", json_object_new_int(b->n_hosts));
	json_object_object_add(root, "archive", arch);
	for (int i = 0; i < res->n; i++)
		json_object_array_add(arr, step_json(&res->steps[i], false));
	json_object_object_add(root, "steps", arr);
	json_object_object_add(sum, "ok", json_object_new_int(res->ok));
	json_object_object_add(sum, "changed", json_object_new_int(res->changed));
	json_object_object_add(sum, "failed", json_object_new_int(res->failed));
	json_object_object_add(sum, "unreachable", json_object_new_int(res->unreachable));
	json_object_object_add(root, "summary", sum);
	out_json(root);
}

static char *owner_string(void)
{
	char host[256] = "?";
	struct passwd *pw = getpwuid(getuid());

	gethostname(host, sizeof(host) - 1);
	return xasprintf("dcvctl restore by %s@%s (pid %d)", pw ? pw->pw_name : "?", host, (int)getpid());
}

static int run(struct dcv_ctx *ctx, int argc, char **argv)
{
	struct dcv_inventory *inv;
	struct cli_args a;
	struct vars v = { 0 };
	struct dcv_backup b;
	struct dcv_err err = DCV_ERR_INIT;
	struct dcv_restore_opts o = { 0 };
	struct dcv_deploy_result res;
	struct printer pr = { ctx, false, false };
	int rc = cli_parse(&dcv_cmd_restore, argc, argv, &a, &v);

	if (rc)
		return rc < 0 ? EXIT_OK : rc;
	if ((rc = ctx_inventory(ctx, &inv)) != EXIT_OK)
		return rc;
	if (v.only && !ctx_host(ctx, v.only))
		return EXIT_USAGE;
	dcv_backup_init(&b);
	if ((rc = load(a.pos[0], &b)) != EXIT_OK)
		goto out;
	if (dcv_backup_check_managed(inv, &b, &err) != DCV_OK) {
		out_error("%s: %s; nothing was written", a.pos[0], err.msg);
		rc = EXIT_FAIL;
		goto out;
	}
	pr.json = ctx->json || v.json;
	if (!ctx->quiet && !pr.json)
		printf("%s: dcvctl %s backup of %s, %d files on %d hosts, verified%s\n", a.pos[0], b.version,
		       b.created, b.n_files, b.n_hosts, v.dry_run ? "; dry run: nothing is changed" : "");
	char *owner = owner_string();
	struct dcv_ssh_pool *pool = ctx_pool(ctx);
	pr.diffs = v.dry_run;
	o.dry_run = v.dry_run;
	o.only = v.only;
	o.owner = owner;
	o.on_step = print_step;
	o.user = &pr;
	rc = dcv_restore(inv, pool, &b, &o, &res, &err);
	dcv_ssh_pool_free(pool);
	free(owner);
	if (rc != DCV_OK) {
		out_error("%s", err.msg);
		rc = exit_for(rc);
		goto out;
	}
	if (pr.json)
		print_json(&b, &res, v.dry_run);
	else if (!ctx->quiet || res.failed)
		printf("%s%d ok, %d changed, %d failed%s%s\n", col(ctx, "bold"), res.ok, res.changed, res.failed,
		       v.dry_run ? " (dry run)" : "", col_end(ctx));
	struct dcv_reach reach = { res.hosts, res.unreachable, res.failed };
	rc = exit_for_outcome(dcv_reach_outcome(&reach));
	dcv_deploy_result_release(&res);
out:
	dcv_backup_release(&b);
	return rc;
}

const struct dcv_cmd dcv_cmd_restore = {
	.name = "restore",
	.summary = "put a backup's files back on their hosts, validated, with rollback",
	.usage = "restore FILE [--only HOST] [--dry-run] [--json]",
	.help = "Before any host is touched: the archive must be a dcvctl backup whose every member is\n"
		"a regular file the manifest names with the same size and sha256, inside its host's\n"
		"folder (no absolute path, no '..', no link or device), for a host of the inventory\n"
		"and a path dcvctl manages there; anything else is refused and nothing is written.\n"
		"Then, hosts in parallel under deploy's lock: every file that differs is put back\n"
		"through deploy's transaction (temp file, backup, rename; the proxy's files validated\n"
		"with its own check once all are in place, all put back when it fails, then\n"
		"reloaded), with the recorded mode and owner; then each unit is brought to its state\n"
		"at backup time (a proxy down because its config was broken is started again, a\n"
		"dcvserver whose dcv.conf changed restarted). --dry-run shows unified diffs (never of\n"
		"keys or secrets) and what would start or stop, and changes nothing.\n"
		"Exit: 0 restored (or nothing to do), 1 refused or a step failed, 4 no host reached,\n"
		"5 the file cannot be read.\n",
	.opts = opts,
	.min_args = 1,
	.max_args = 1,
	.run = run,
};
