/* dcvctl backup: every managed file of every host into one local .tar.gz (design §4). */
#include "cli.h"

#include "../lib/backup.h"
#include "../lib/buf.h"
#include "../lib/inventory.h"
#include "../lib/ssh.h"
#include "../lib/util.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct vars {
	const char *out;
	bool json;
};

static const struct dcv_opt opts[] = {
	CLI_STRING(struct vars, out, 'o', "out", "FILE",
		   "write the archive here (default dcvctl-backup-<UTC>.tar.gz); an existing file is kept"),
	CLI_BOOL(struct vars, json, 0, "json", "print what was saved and what was left out as JSON"),
	CLI_END,
};

/* `failed` holds "host: reason" lines (lib/backup.h). */
static void print_json(const char *out, const struct dcv_backup *b, const struct dcv_buf *failed)
{
	struct json_object *root = json_object_new_object(), *hosts = json_object_new_array();
	struct json_object *left = json_object_new_array();

	json_object_object_add(root, "archive", json_object_new_string(out));
	json_object_object_add(root, "files", json_object_new_int(b->n_files));
	json_object_object_add(root, "units", json_object_new_int(b->n_units));
	for (int i = 0; i < b->n_hosts; i++)
		json_object_array_add(hosts, json_object_new_string(b->hosts[i]));
	json_object_object_add(root, "hosts", hosts);
	for (const char *l = dcv_buf_str(failed); *l;) {
		/* host names hold no ':', so the first one ends the name */
		size_t n = strcspn(l, "\n"), h = strcspn(l, ":"), skip;
		struct json_object *j = json_object_new_object();
		if (h > n)
			h = n;
		skip = n - h >= 2 ? 2 : n - h;
		json_object_object_add(j, "host", json_object_new_string_len(l, (int)h));
		json_object_object_add(j, "reason", json_object_new_string_len(l + h + skip, (int)(n - h - skip)));
		json_object_array_add(left, j);
		l += n + (l[n] == '\n');
	}
	json_object_object_add(root, "left_out", left);
	out_json(root);
}

static int run(struct dcv_ctx *ctx, int argc, char **argv)
{
	struct dcv_inventory *inv;
	struct cli_args a;
	struct vars v = { 0 };
	struct dcv_backup b;
	struct dcv_buf failed = DCV_BUF_INIT, gz = DCV_BUF_INIT;
	struct dcv_err err = DCV_ERR_INIT;
	char name[64];
	time_t now = time(NULL);
	int rc = cli_parse(&dcv_cmd_backup, argc, argv, &a, &v), unreachable = 0, wanted = 0;

	if (rc)
		return rc < 0 ? EXIT_OK : rc;
	if ((rc = ctx_inventory(ctx, &inv)) != EXIT_OK)
		return rc;
	if (!v.out) {
		struct tm tm;
		gmtime_r(&now, &tm);
		strftime(name, sizeof(name), "dcvctl-backup-%Y%m%dT%H%M%SZ.tar.gz", &tm);
		v.out = name;
	}
	/* a typo must not replace yesterday's backup */
	if (access(v.out, F_OK) == 0) {
		out_error("'%s' exists: choose another --out", v.out);
		return EXIT_INTERNAL;
	}
	for (int i = 0; i < inv->n_hosts; i++) {
		struct dcv_managed_set s;
		dcv_backup_managed(inv, inv->hosts[i], &s);
		wanted += s.n || s.n_units;
	}
	struct dcv_ssh_pool *pool = ctx_pool(ctx);
	dcv_backup_init(&b);
	dcv_backup_fetch(inv, pool, &b, &failed, &unreachable);
	dcv_ssh_pool_free(pool);
	if (failed.len) {
		for (char *l = failed.data; *l;) {
			size_t n = strcspn(l, "\n");
			out_error("%.*s: left out of the backup", (int)n, l);
			l += n + (l[n] == '\n');
		}
	}
	if (b.n_hosts == 0) {
		out_error("no host could be read: nothing written");
		rc = unreachable ? EXIT_UNREACHABLE : EXIT_FAIL;
		goto out;
	}
	/* it holds private keys: mode 600 from the first byte (a fresh mkostemp name, renamed) */
	if (dcv_backup_archive(&b, DCV_VERSION, (long long)now, &gz, &err) != DCV_OK) {
		out_error("%s", err.msg);
		rc = EXIT_INTERNAL;
		goto out;
	}
	if (dcv_file_write_atomic(v.out, gz.data, gz.len, 0600) != 0) {
		out_error("cannot write '%s': %s", v.out, strerror(errno));
		rc = EXIT_INTERNAL;
		goto out;
	}
	if (ctx->json || v.json)
		print_json(v.out, &b, &failed);
	else if (!ctx->quiet)
		printf("wrote %s (mode 600): %d files and %d unit states from %d of %d hosts\n", v.out, b.n_files,
		       b.n_units, b.n_hosts, wanted);
	rc = b.n_hosts < wanted ? EXIT_FAIL : EXIT_OK;
out:
	dcv_backup_release(&b);
	dcv_buf_release(&failed);
	dcv_buf_release(&gz);
	return rc;
}

const struct dcv_cmd dcv_cmd_backup = {
	.name = "backup",
	.summary = "every managed file of every host into one local .tar.gz with a manifest",
	.usage = "backup [--out FILE] [--json]",
	.help = "Fetch, hosts in parallel, every file dcvctl manages: on the gateway the proxy's\n"
		"configuration, its certificate and key and the files the kind derives (HAProxy's\n"
		"combined PEM and stats secret), the Connection Gateway's files when present; dcv.conf\n"
		"on agents; the broker's properties on the [broker] host; the maintenance files\n"
		"(logrotate, health timer) where they exist. Also each managed unit's state. The\n"
		"archive is a gzip'd ustar (tar -tzf lists it), one folder per host, with\n"
		"manifest.json (host, path, mode, owner, group, sha256, size; the dcvctl version and\n"
		"the time). It holds private keys: it is created with mode 600.\n"
		"Exit: 0 every host saved, 1 some hosts left out (named on stderr), 4 none reached.\n",
	.opts = opts,
	.run = run,
};
