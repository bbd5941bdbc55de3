/* backup.h - `dcvctl backup` and `dcvctl restore` (design §4): every file dcvctl manages on every
 * host, fetched over the pooled connections into one .tar.gz (lib/tar.h) with a manifest, and
 * back through deploy's file transaction. The set of managed files comes from the proxy table
 * and the inventory, so an archive can never name a path dcvctl would not write itself. */
#ifndef DCV_BACKUP_H
#define DCV_BACKUP_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

struct dcv_err;
struct dcv_host;
struct dcv_inventory;
struct dcv_ssh_pool;

#define DCV_MANAGED_MAX 16
#define DCV_MANAGED_UNITS 8

/* One file dcvctl manages on a host, kept when it exists. Strings are borrowed from the kind
 * table or the inventory. */
struct dcv_managed {
	const char *path;
	bool secret;          /* a private key or password: its content is never shown */
	const char *validate; /* checks the whole service once this file is in place, or NULL */
	const char *apply;    /* makes the running service read it (a reload), or NULL */
	const char *restart;  /* a unit to restart when the file changed and the unit stays active */
};

struct dcv_managed_set {
	struct dcv_managed f[DCV_MANAGED_MAX]; /* files with a validator last, so they land last */
	int n;
	const char *units[DCV_MANAGED_UNITS]; /* the units whose state a backup records */
	int n_units;
	char own[96]; /* a path made up here (the kind's logrotate file) that `f` points into */
};

/* What dcvctl manages on host `h` (empty for a host without any: a bastion). */
void dcv_backup_managed(const struct dcv_inventory *inv, const struct dcv_host *h, struct dcv_managed_set *s);
const struct dcv_managed *dcv_managed_find(const struct dcv_managed_set *s, const char *path);

struct dcv_backup_file {
	char *host, *path;
	unsigned mode;
	char owner[33], group[33];
	char sha256[65];
	struct dcv_buf content;
};

struct dcv_backup_unit {
	char *host, *unit;
	char state[32]; /* `systemctl is-active`: active, inactive, failed, ... */
};

/* An archive's manifest and contents; _init'ed, filled, _release'd. */
struct dcv_backup {
	char *version;  /* dcvctl's version that wrote it */
	char *created;  /* UTC, ISO 8601 */
	struct dcv_backup_file *files;
	int n_files;
	struct dcv_backup_unit *units;
	int n_units;
	char **hosts;   /* the hosts it holds, in inventory order */
	int n_hosts;
};

void dcv_backup_init(struct dcv_backup *b);
void dcv_backup_release(struct dcv_backup *b);

/* The host-side script that prints the state of `s` (quoted paths, unit names), and its parser:
 * present files with mode, owner and content, and each unit's active state, into `b` for host
 * `host`. The parser is false on output that is not this script's. */
void dcv_backup_script(const struct dcv_managed_set *s, struct dcv_buf *out);
bool dcv_backup_parse(const char *out, const char *host, const struct dcv_managed_set *s, struct dcv_backup *b);

/* Fetch every host's managed files and unit states, hosts in parallel over `pool`. A host that
 * cannot be read is left out and named in `failed` (one "host: reason" line each), with
 * *unreachable counting transport failures among them. */
void dcv_backup_fetch(const struct dcv_inventory *inv, struct dcv_ssh_pool *pool, struct dcv_backup *b,
		      struct dcv_buf *failed, int *unreachable);

/* The .tar.gz: manifest.json first, then one folder per host (host/etc/...). */
int dcv_backup_archive(const struct dcv_backup *b, const char *version, long long now,
		       struct dcv_buf *gz, struct dcv_err *err);

/* Read an archive from anywhere: gzip, tar and manifest well formed, every member a regular file
 * the manifest names (no traversal, links, devices or extra files), every file's size and
 * sha256 as the manifest says. DCV_E_IO with the first refusal; `b` is filled only on DCV_OK. */
int dcv_backup_read(const char *gz, size_t len, struct dcv_backup *b, struct dcv_err *err);
/* Every host, file and unit of `b` is one the inventory says dcvctl manages; DCV_E_CONFIG
 * naming the first that is not. */
int dcv_backup_check_managed(const struct dcv_inventory *inv, const struct dcv_backup *b, struct dcv_err *err);

#endif
