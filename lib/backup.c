/* backup of the managed files, and the reader of archives. An archive is read as if an
 * attacker wrote it: every refusal happens in dcv_backup_read and dcv_backup_check_managed,
 * before any host is touched, and restore only ever writes a path the inventory's own managed
 * set names. */
#include "backup.h"
#include "maint.h"

#include "err.h"
#include "inventory.h"
#include "properties.h"
#include "proxy.h"
#include "proxy_gateway.h"
#include "remote.h"
#include "render.h"
#include "ssh.h"
#include "tar.h"
#include "util.h"

#include <ctype.h>
#include <json-c/json.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define FORMAT "dcvctl-backup/1"
#define MANIFEST "manifest.json"


/* ------------------------------------------------------------------ the managed set */

const struct dcv_managed *dcv_managed_find(const struct dcv_managed_set *s, const char *path)
{
	for (int i = 0; i < s->n; i++)
		if (strcmp(s->f[i].path, path) == 0)
			return &s->f[i];
	return NULL;
}

static void add(struct dcv_managed_set *s, const char *path, bool secret, const char *validate,
		const char *apply, const char *restart)
{
	if (!path || path[0] != '/' || s->n >= DCV_MANAGED_MAX || dcv_managed_find(s, path))
		return;
	s->f[s->n++] = (struct dcv_managed){ path, secret, validate, apply, restart };
}

static void add_unit(struct dcv_managed_set *s, const char *unit)
{
	for (int i = 0; i < s->n_units; i++)
		if (strcmp(s->units[i], unit) == 0)
			return;
	if (s->n_units < DCV_MANAGED_UNITS)
		s->units[s->n_units++] = unit;
}

/* The gateway: certificate and key, the files the kind derives, the Connection Gateway's own
 * files when present, then the kind's config: every file the proxy reads is validated with the
 * kind's command, the config last, so a cert and key that change together land together. */
static void managed_gateway(const struct dcv_host *h, struct dcv_managed_set *s)
{
	const struct dcv_proxy_kind *k = dcv_proxy_kind(h->proxy);
	const char *v = k ? k->validate : NULL, *a = k ? k->reload : NULL;

	add(s, h->cert, false, v, a, NULL);
	add(s, h->key, true, v, a, NULL);
	for (int i = 0; k && i < k->n_derived; i++)
		add(s, k->derived[i].path, true, v, a, NULL);
	/* the Connection Gateway's, which a bypass leaves in place (stopped); for that kind its
	 * config is the kind's own, validated last */
	if (!k || k->id != DCV_PROXY_CONNECTION_GATEWAY)
		add(s, DCV_GATEWAY_CONF, false, NULL, NULL, DCV_UNIT_GATEWAY);
	add(s, DCV_GATEWAY_BROKER_CA, false, NULL, NULL, DCV_UNIT_GATEWAY);
	add(s, DCV_GATEWAY_CLIENT_CERT, false, NULL, NULL, DCV_UNIT_GATEWAY);
	add(s, DCV_GATEWAY_CLIENT_KEY, true, NULL, NULL, DCV_UNIT_GATEWAY);
	if (k) {
		snprintf(s->own, sizeof(s->own), DCV_LOGROTATE_DIR "/dcvctl-%s", k->name);
		add(s, s->own, false, NULL, NULL, NULL);
	}
	add(s, DCV_HEALTH_SCRIPT, false, NULL, NULL, NULL);
	add(s, DCV_HEALTH_SERVICE, false, NULL, "systemctl daemon-reload", NULL);
	add(s, DCV_HEALTH_TIMER, false, NULL, "systemctl daemon-reload", DCV_HEALTH_TIMER_UNIT);
	if (k) {
		add(s, k->config, false, v, a, NULL);
		add_unit(s, k->unit);
		for (int i = 0; k->stop && k->stop[i]; i++)
			add_unit(s, k->stop[i]);
	} else {
		add_unit(s, DCV_UNIT_GATEWAY);
	}
	add_unit(s, DCV_HEALTH_TIMER_UNIT);
}

void dcv_backup_managed(const struct dcv_inventory *inv, const struct dcv_host *h, struct dcv_managed_set *s)
{
	memset(s, 0, sizeof(*s));
	if (h->role == DCV_ROLE_GATEWAY) {
		managed_gateway(h, s);
	} else if (h->role == DCV_ROLE_AGENT) {
		add(s, DCV_DCV_CONF, false, NULL, NULL, "dcvserver");
		add(s, DCV_LOGROTATE_DCV, false, NULL, NULL, NULL);
		add_unit(s, "dcvserver");
		add_unit(s, DCV_UNIT_SM_AGENT);
	}
	if (inv->broker_host && strcmp(inv->broker_host, h->name) == 0) {
		add(s, DCV_BROKER_PROPERTIES, false, NULL, NULL, DCV_UNIT_BROKER);
		add_unit(s, DCV_UNIT_BROKER);
	}
}

/* ------------------------------------------------------------------ the backup in memory */

void dcv_backup_init(struct dcv_backup *b)
{
	memset(b, 0, sizeof(*b));
}

void dcv_backup_release(struct dcv_backup *b)
{
	for (int i = 0; i < b->n_files; i++) {
		free(b->files[i].host);
		free(b->files[i].path);
		/* private keys: wiped before the memory goes back */
		if (b->files[i].content.data)
			explicit_bzero(b->files[i].content.data, b->files[i].content.len);
		dcv_buf_release(&b->files[i].content);
	}
	for (int i = 0; i < b->n_units; i++) {
		free(b->units[i].host);
		free(b->units[i].unit);
	}
	for (int i = 0; i < b->n_hosts; i++)
		free(b->hosts[i]);
	free(b->files);
	free(b->units);
	free(b->hosts);
	free(b->version);
	free(b->created);
	memset(b, 0, sizeof(*b));
}

static void sha256_hex(const char *data, size_t len, char hex[65])
{
	unsigned char md[32];
	unsigned int mdlen = 0;

	EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL);
	for (unsigned i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
}

static struct dcv_backup_file *add_file(struct dcv_backup *b, const char *host, const char *path)
{
	struct dcv_backup_file *f;

	b->files = xrealloc(b->files, sizeof(*b->files) * (size_t)(b->n_files + 1));
	f = &b->files[b->n_files++];
	memset(f, 0, sizeof(*f));
	f->host = xstrdup(host);
	f->path = xstrdup(path);
	return f;
}

static void add_state(struct dcv_backup *b, const char *host, const char *unit, const char *state)
{
	struct dcv_backup_unit *u;

	b->units = xrealloc(b->units, sizeof(*b->units) * (size_t)(b->n_units + 1));
	u = &b->units[b->n_units++];
	u->host = xstrdup(host);
	u->unit = xstrdup(unit);
	snprintf(u->state, sizeof(u->state), "%s", state);
}

static void add_host(struct dcv_backup *b, const char *host)
{
	b->hosts = xrealloc(b->hosts, sizeof(*b->hosts) * (size_t)(b->n_hosts + 1));
	b->hosts[b->n_hosts++] = xstrdup(host);
}

/* Moves every entry of `from` to the end of `to`; `from` is left empty. */
static void move_all(struct dcv_backup *to, struct dcv_backup *from)
{
	for (int i = 0; i < from->n_files; i++) {
		to->files = xrealloc(to->files, sizeof(*to->files) * (size_t)(to->n_files + 1));
		to->files[to->n_files++] = from->files[i];
	}
	for (int i = 0; i < from->n_units; i++) {
		to->units = xrealloc(to->units, sizeof(*to->units) * (size_t)(to->n_units + 1));
		to->units[to->n_units++] = from->units[i];
	}
	for (int i = 0; i < from->n_hosts; i++)
		add_host(to, from->hosts[i]);
	for (int i = 0; i < from->n_hosts; i++)
		free(from->hosts[i]);
	free(from->files);
	free(from->units);
	free(from->hosts);
	free(from->version);
	free(from->created);
	memset(from, 0, sizeof(*from));
}

/* ------------------------------------------------------------------ reading a host */

/* Content travels as base64 on one line, so a file's bytes never meet the line protocol. stat
 * and cat follow a symlink (a certificate under /etc/letsencrypt/live is one): the archive
 * keeps what the service reads. */
void dcv_backup_script(const struct dcv_managed_set *s, struct dcv_buf *out)
{
	dcv_buf_adds(out, "file() { if [ -f \"$2\" ]; then "
			  "m=$(stat -L -c '%a %U %G' -- \"$2\") && c=$(base64 -w0 -- \"$2\") && "
			  "printf 'F %s %s\\n%s\\n' \"$1\" \"$m\" \"$c\" && return; fi; printf 'M %s\\n' \"$1\"; }\n");
	for (int i = 0; i < s->n; i++) {
		dcv_buf_addf(out, "file %d ", i);
		dcv_shquote(out, s->f[i].path);
		dcv_buf_addc(out, '\n');
	}
	for (int i = 0; i < s->n_units; i++) {
		dcv_buf_addf(out, "printf 'U %d %%s\\n' \"$(systemctl is-active -- ", i);
		dcv_shquote(out, s->units[i]);
		dcv_buf_adds(out, " 2>/dev/null)\"\n");
	}
	dcv_buf_adds(out, "echo END\n");
}

static bool safe_word(const char *s, size_t max)
{
	size_t n = strlen(s);

	if (n == 0 || n > max)
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && !strchr("._-", *s))
			return false;
	return true;
}

static bool parse_mode(const char *s, unsigned *mode)
{
	char *end;
	unsigned long v;

	if (!*s || strspn(s, "01234567") != strlen(s) || strlen(s) > 5)
		return false;
	v = strtoul(s, &end, 8);
	if (v > 07777)
		return false;
	*mode = (unsigned)v;
	return true;
}

static const struct dcv_backup_file *find(const struct dcv_backup *b, const char *path)
{
	for (int i = 0; i < b->n_files; i++)
		if (strcmp(b->files[i].path, path) == 0)
			return &b->files[i];
	return NULL;
}

bool dcv_backup_parse(const char *out, const char *host, const struct dcv_managed_set *s, struct dcv_backup *b)
{
	struct dcv_backup got;
	const char *p = out;
	bool end = false;

	dcv_backup_init(&got);
	while (*p && !end) {
		size_t n = strcspn(p, "\n");
		char *line = xstrndup(p, n);
		char mode[16], owner[64], group[64], state[64];
		int i = -1;
		bool ok = true;

		p += n + (p[n] == '\n');
		if (strcmp(line, "END") == 0) {
			end = true;
		} else if (sscanf(line, "F %d %15s %63s %63s", &i, mode, owner, group) == 4 && i >= 0 && i < s->n &&
			   !find(&got, s->f[i].path)) {
			struct dcv_backup_file *f = add_file(&got, host, s->f[i].path);
			size_t m = strcspn(p, "\n");
			ok = parse_mode(mode, &f->mode) && safe_word(owner, 32) && safe_word(group, 32) &&
			     dcv_base64_decode(p, m, &f->content);
			snprintf(f->owner, sizeof(f->owner), "%s", owner);
			snprintf(f->group, sizeof(f->group), "%s", group);
			sha256_hex(dcv_buf_str(&f->content), f->content.len, f->sha256);
			p += m + (p[m] == '\n');
		} else if (sscanf(line, "M %d", &i) == 1 && i >= 0 && i < s->n) {
			/* absent: nothing to keep */
		} else if (sscanf(line, "U %d", &i) == 1 && i >= 0 && i < s->n_units) {
			/* no word at all: systemctl itself is missing */
			if (sscanf(line, "U %*d %63s", state) != 1 || !safe_word(state, 31))
				snprintf(state, sizeof(state), "unknown");
			add_state(&got, host, s->units[i], state);
		} else {
			ok = false;
		}
		free(line);
		if (!ok) {
			dcv_backup_release(&got);
			return false;
		}
	}
	if (!end) {
		dcv_backup_release(&got);
		return false;
	}
	add_host(&got, host);
	move_all(b, &got);
	return true;
}

struct fetch {
	const struct dcv_inventory *inv;
	struct dcv_ssh_pool *pool;
	struct dcv_backup *per_host;
	char **why;
	bool *lost;
};

static void fetch_host(void *user, int i)
{
	struct fetch *f = user;
	const struct dcv_host *h = f->inv->hosts[i];
	struct dcv_managed_set s;
	struct dcv_buf script = DCV_BUF_INIT, out = DCV_BUF_INIT, errout = DCV_BUF_INIT;
	struct dcv_err e = DCV_ERR_INIT;
	struct dcv_ssh *c;
	int status = 0;

	dcv_backup_managed(f->inv, h, &s);
	if (!s.n && !s.n_units)
		return;
	dcv_backup_script(&s, &script);
	if (dcv_ssh_connect(f->pool, h, &c, &e) != DCV_OK ||
	    dcv_remote_sh(c, h, script.data, &out, &errout, &status, &e) != DCV_OK) {
		f->why[i] = xstrdup(e.msg);
		f->lost[i] = dcv_err_is_transport(e.code);
	} else if (status != 0 || !dcv_backup_parse(out.data ? out.data : "", h->name, &s, &f->per_host[i])) {
		dcv_buf_rtrim(&errout);
		f->why[i] = xasprintf("cannot read its files (exit %d)%s%s", status, errout.len ? ": " : "",
				      dcv_buf_str(&errout));
	}
	if (out.data)
		explicit_bzero(out.data, out.len);
	dcv_buf_release(&script);
	dcv_buf_release(&out);
	dcv_buf_release(&errout);
}

void dcv_backup_fetch(const struct dcv_inventory *inv, struct dcv_ssh_pool *pool, struct dcv_backup *b,
		      struct dcv_buf *failed, int *unreachable)
{
	int n = inv->n_hosts;
	struct fetch f = { inv, pool, xcalloc((size_t)n + 1, sizeof(struct dcv_backup)),
			   xcalloc((size_t)n + 1, sizeof(char *)), xcalloc((size_t)n + 1, sizeof(bool)) };

	*unreachable = 0;
	dcv_parallel(n, n, fetch_host, &f);
	for (int i = 0; i < n; i++) {
		if (f.why[i]) {
			dcv_buf_addf(failed, "%s: %s\n", inv->hosts[i]->name, f.why[i]);
			*unreachable += f.lost[i];
		}
		move_all(b, &f.per_host[i]);
		free(f.why[i]);
	}
	free(f.per_host);
	free(f.why);
	free(f.lost);
}

/* ------------------------------------------------------------------ the archive */

static char *member_name(const char *host, const char *path)
{
	return xasprintf("%s/%s", host, path + 1);
}

int dcv_backup_archive(const struct dcv_backup *b, const char *version, long long now,
		       struct dcv_buf *gz, struct dcv_err *err)
{
	struct json_object *root = json_object_new_object(), *hosts = json_object_new_array();
	struct json_object *files = json_object_new_array();
	struct dcv_buf tar = DCV_BUF_INIT;
	char created[32], mode[8];
	time_t t = (time_t)now;
	struct tm tm;
	int rc = DCV_OK;

	gmtime_r(&t, &tm);
	strftime(created, sizeof(created), "%Y-%m-%dT%H:%M:%SZ", &tm);
	json_object_object_add(root, "format", json_object_new_string(FORMAT));
	json_object_object_add(root, "dcvctl_version", json_object_new_string(version));
	json_object_object_add(root, "created", json_object_new_string(created));
	for (int i = 0; i < b->n_hosts; i++) {
		struct json_object *h = json_object_new_object(), *units = json_object_new_array();
		json_object_object_add(h, "host", json_object_new_string(b->hosts[i]));
		for (int j = 0; j < b->n_units; j++) {
			if (strcmp(b->units[j].host, b->hosts[i]) != 0)
				continue;
			struct json_object *u = json_object_new_object();
			json_object_object_add(u, "unit", json_object_new_string(b->units[j].unit));
			json_object_object_add(u, "state", json_object_new_string(b->units[j].state));
			json_object_array_add(units, u);
		}
		json_object_object_add(h, "units", units);
		json_object_array_add(hosts, h);
	}
	for (int i = 0; i < b->n_files; i++) {
		const struct dcv_backup_file *f = &b->files[i];
		struct json_object *j = json_object_new_object();
		snprintf(mode, sizeof(mode), "%04o", f->mode);
		json_object_object_add(j, "host", json_object_new_string(f->host));
		json_object_object_add(j, "path", json_object_new_string(f->path));
		json_object_object_add(j, "mode", json_object_new_string(mode));
		json_object_object_add(j, "owner", json_object_new_string(f->owner));
		json_object_object_add(j, "group", json_object_new_string(f->group));
		json_object_object_add(j, "sha256", json_object_new_string(f->sha256));
		json_object_object_add(j, "size", json_object_new_int64((int64_t)f->content.len));
		json_object_array_add(files, j);
	}
	json_object_object_add(root, "hosts", hosts);
	json_object_object_add(root, "files", files);
	const char *text = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE);
	struct dcv_buf m = DCV_BUF_INIT;
	dcv_buf_adds(&m, text);
	dcv_buf_addc(&m, '\n');
	json_object_put(root);
	rc = dcv_tar_add(&tar, MANIFEST, 0600, m.data, m.len, now, err);
	dcv_buf_release(&m);
	for (int i = 0; rc == DCV_OK && i < b->n_files; i++) {
		char *name = member_name(b->files[i].host, b->files[i].path);
		rc = dcv_tar_add(&tar, name, b->files[i].mode, dcv_buf_str(&b->files[i].content),
				 b->files[i].content.len, now, err);
		free(name);
	}
	if (rc == DCV_OK) {
		dcv_tar_finish(&tar);
		rc = dcv_gzip(tar.data, tar.len, gz, err);
	}
	if (tar.data)
		explicit_bzero(tar.data, tar.len);
	dcv_buf_release(&tar);
	return rc;
}

/* ------------------------------------------------------------------ reading an archive */

static int refuse(struct dcv_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int refuse(struct dcv_err *err, const char *fmt, ...)
{
	struct dcv_buf b = DCV_BUF_INIT;
	va_list ap;

	va_start(ap, fmt);
	dcv_buf_vaddf(&b, fmt, ap);
	va_end(ap);
	dcv_err_set(err, DCV_E_IO, "refused: %s", b.data);
	dcv_buf_release(&b);
	return DCV_E_IO;
}

/* An absolute path with no empty, "." or ".." component and no control character (a path
 * reaches a shell only through dcv_shquote, and is compared with the managed set byte for
 * byte, so spaces and quotes an inventory allows are fine). */
static bool safe_path(const char *p)
{
	size_t n = strlen(p);

	if (n < 2 || n > 200 || p[0] != '/' || p[n - 1] == '/')
		return false;
	for (const char *c = p; *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			return false;
	for (const char *c = p; c; c = strchr(c + 1, '/')) {
		size_t len = strcspn(c + 1, "/");
		if (len == 0 || (len == 1 && c[1] == '.') || (len == 2 && c[1] == '.' && c[2] == '.'))
			return false;
	}
	return true;
}

static bool safe_host(const char *h)
{
	return safe_word(h, 63) && strcmp(h, ".") != 0 && strcmp(h, "..") != 0;
}

static const char *jstr(struct json_object *o, const char *key)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

static bool has_host(const struct dcv_backup *b, const char *host)
{
	for (int i = 0; i < b->n_hosts; i++)
		if (strcmp(b->hosts[i], host) == 0)
			return true;
	return false;
}

static int manifest_hosts(struct json_object *arr, struct dcv_backup *b, struct dcv_err *err)
{
	for (size_t i = 0; i < json_object_array_length(arr); i++) {
		struct json_object *h = json_object_array_get_idx(arr, i), *units;
		const char *name = json_object_is_type(h, json_type_object) ? jstr(h, "host") : NULL;
		if (!name || !safe_host(name))
			return refuse(err, "manifest: hosts[%zu] has no valid host name", i);
		if (has_host(b, name))
			return refuse(err, "manifest: host '%s' appears twice", name);
		add_host(b, name);
		if (!json_object_object_get_ex(h, "units", &units) || !json_object_is_type(units, json_type_array))
			return refuse(err, "manifest: host '%s' has no units", name);
		for (size_t j = 0; j < json_object_array_length(units); j++) {
			struct json_object *u = json_object_array_get_idx(units, j);
			const char *unit = json_object_is_type(u, json_type_object) ? jstr(u, "unit") : NULL;
			const char *state = unit ? jstr(u, "state") : NULL;
			if (!unit || !state || !safe_word(unit, 64) || !safe_word(state, 31))
				return refuse(err, "manifest: host '%s' has a malformed unit", name);
			add_state(b, name, unit, state);
		}
	}
	return DCV_OK;
}

static bool hex64(const char *s)
{
	if (strlen(s) != 64)
		return false;
	for (; *s; s++)
		if (!isdigit((unsigned char)*s) && !(*s >= 'a' && *s <= 'f'))
			return false;
	return true;
}

static int manifest_files(struct json_object *arr, struct dcv_backup *b, size_t **sizes, struct dcv_err *err)
{
	size_t n = json_object_array_length(arr);

	*sizes = xcalloc(n + 1, sizeof(**sizes));
	for (size_t i = 0; i < n; i++) {
		struct json_object *j = json_object_array_get_idx(arr, i), *size;
		const char *host = NULL, *path = NULL, *mode = NULL, *owner = NULL, *group = NULL, *sum = NULL;
		unsigned m;
		if (json_object_is_type(j, json_type_object)) {
			host = jstr(j, "host");
			path = jstr(j, "path");
			mode = jstr(j, "mode");
			owner = jstr(j, "owner");
			group = jstr(j, "group");
			sum = jstr(j, "sha256");
		}
		if (!host || !path || !mode || !owner || !group || !sum ||
		    !json_object_object_get_ex(j, "size", &size) || !json_object_is_type(size, json_type_int))
			return refuse(err, "manifest: files[%zu] lacks host, path, mode, owner, group, sha256 or size", i);
		if (!has_host(b, host))
			return refuse(err, "manifest: files[%zu] names host '%s', which it does not list", i, host);
		if (!safe_path(path))
			return refuse(err, "manifest: a path on %s is not a plain absolute path (a '..', '.', "
					   "'//' or a control character)", host);
		if (!parse_mode(mode, &m) || !safe_word(owner, 32) || !safe_word(group, 32) || !hex64(sum))
			return refuse(err, "manifest: %s on %s has a malformed mode, owner, group or sha256", path, host);
		int64_t sz = json_object_get_int64(size);
		if (sz < 0 || sz > (int64_t)DCV_TAR_MAX)
			return refuse(err, "manifest: %s on %s has an impossible size", path, host);
		for (int k = 0; k < b->n_files; k++)
			if (strcmp(b->files[k].host, host) == 0 && strcmp(b->files[k].path, path) == 0)
				return refuse(err, "manifest: %s on %s appears twice", path, host);
		struct dcv_backup_file *f = add_file(b, host, path);
		f->mode = m;
		snprintf(f->owner, sizeof(f->owner), "%s", owner);
		snprintf(f->group, sizeof(f->group), "%s", group);
		snprintf(f->sha256, sizeof(f->sha256), "%s", sum);
		(*sizes)[b->n_files - 1] = (size_t)sz;
	}
	return DCV_OK;
}

static int manifest_parse(const char *text, size_t len, struct dcv_backup *b, size_t **sizes, struct dcv_err *err)
{
	struct json_tokener *tok = json_tokener_new();
	struct json_object *root = json_tokener_parse_ex(tok, text, (int)len), *hosts, *files;
	const char *format, *version, *created;
	int rc;

	*sizes = NULL;
	if (!root || json_tokener_get_error(tok) != json_tokener_success || (size_t)json_tokener_get_parse_end(tok) != len ||
	    !json_object_is_type(root, json_type_object)) {
		rc = refuse(err, "manifest.json is not one JSON object");
		goto out;
	}
	format = jstr(root, "format");
	version = jstr(root, "dcvctl_version");
	created = jstr(root, "created");
	if (!format || strcmp(format, FORMAT) != 0) {
		rc = refuse(err, "manifest.json is not a %s manifest", FORMAT);
		goto out;
	}
	if (!version || !created || strlen(version) > 64 || strlen(created) > 64 ||
	    !json_object_object_get_ex(root, "hosts", &hosts) || !json_object_is_type(hosts, json_type_array) ||
	    !json_object_object_get_ex(root, "files", &files) || !json_object_is_type(files, json_type_array)) {
		rc = refuse(err, "manifest.json lacks dcvctl_version, created, hosts or files");
		goto out;
	}
	b->version = xstrdup(version);
	b->created = xstrdup(created);
	if ((rc = manifest_hosts(hosts, b, err)) == DCV_OK)
		rc = manifest_files(files, b, sizes, err);
out:
	if (root)
		json_object_put(root);
	json_tokener_free(tok);
	return rc;
}

static const char *type_name(char t)
{
	switch (t) {
	case '1': return "a hard link";
	case '2': return "a symbolic link";
	case '3': return "a character device";
	case '4': return "a block device";
	case '6': return "a FIFO";
	default: return "not a regular file";
	}
}

/* The member's name leaves its host's folder: absolute, or a "." / ".." / empty component. */
static bool traverses(const char *name)
{
	if (name[0] == '/')
		return true;
	for (const char *c = name; c; c = strchr(c, '/')) {
		if (*c == '/')
			c++;
		size_t len = strcspn(c, "/");
		if (len == 0 || (len == 1 && c[0] == '.') || (len == 2 && c[0] == '.' && c[1] == '.'))
			return true;
	}
	return false;
}

static int check_members(struct dcv_tar_entry *e, int n, struct dcv_backup *b, const size_t *sizes,
			 struct dcv_err *err)
{
	bool *seen = xcalloc((size_t)b->n_files + 1, sizeof(bool));
	int rc = DCV_OK;

	for (int i = 0; rc == DCV_OK && i < n; i++) {
		int k;
		char sum[65];
		if (strcmp(e[i].name, MANIFEST) == 0)
			continue;
		/* a folder's name ends in '/' (its last component is not an empty one) */
		size_t nl = strlen(e[i].name);
		if (e[i].type == '5' && nl > 1 && e[i].name[nl - 1] == '/')
			e[i].name[nl - 1] = '\0';
		if (traverses(e[i].name)) {
			rc = refuse(err, "'%s' leaves the archive's host folders (an absolute path or '..')", e[i].name);
			break;
		}
		/* tar(1) adds the folders when an archive is made again by hand; they carry nothing
		 * and restore never creates one from the archive */
		if (e[i].type == '5')
			continue;
		if (e[i].type != '0') {
			rc = refuse(err, "'%s' is %s%s%s", e[i].name, type_name(e[i].type),
				    e[i].linkname[0] ? " to " : "", e[i].linkname);
			break;
		}
		for (k = 0; k < b->n_files; k++) {
			const char *h = b->files[k].host;
			size_t hl = strlen(h);
			if (strncmp(e[i].name, h, hl) == 0 && e[i].name[hl] == '/' &&
			    strcmp(e[i].name + hl, b->files[k].path) == 0)
				break;
		}
		if (k == b->n_files) {
			rc = refuse(err, "'%s' is not in the manifest", e[i].name);
		} else if (seen[k]) {
			rc = refuse(err, "'%s' appears twice", e[i].name);
		} else {
			sha256_hex(e[i].data, e[i].size, sum);
			if (e[i].size != sizes[k] || strcmp(sum, b->files[k].sha256) != 0)
				rc = refuse(err, "'%s' does not match its size and sha256 in the manifest "
						 "(changed after the backup)", e[i].name);
			seen[k] = true;
			dcv_buf_add(&b->files[k].content, e[i].data, e[i].size);
		}
	}
	for (int k = 0; rc == DCV_OK && k < b->n_files; k++)
		if (!seen[k])
			rc = refuse(err, "%s on %s is in the manifest but not in the archive", b->files[k].path,
				    b->files[k].host);
	free(seen);
	return rc;
}

int dcv_backup_read(const char *gz, size_t len, struct dcv_backup *b, struct dcv_err *err)
{
	struct dcv_buf tar = DCV_BUF_INIT;
	struct dcv_tar_entry *e = NULL;
	struct dcv_backup got;
	size_t *sizes = NULL;
	int n = 0, rc, manifest = -1;

	dcv_backup_init(&got);
	if ((rc = dcv_gunzip(gz, len, DCV_TAR_MAX, &tar, err)) != DCV_OK ||
	    (rc = dcv_tar_parse(tar.data ? tar.data : "", tar.len, &e, &n, err)) != DCV_OK)
		goto out;
	for (int i = 0; i < n; i++) {
		if (strcmp(e[i].name, MANIFEST) != 0)
			continue;
		if (manifest >= 0 || e[i].type != '0') {
			rc = refuse(err, "more than one manifest.json, or one that is not a file");
			goto out;
		}
		manifest = i;
	}
	if (manifest < 0) {
		rc = refuse(err, "no manifest.json: not a dcvctl backup");
		goto out;
	}
	if ((rc = manifest_parse(e[manifest].data, e[manifest].size, &got, &sizes, err)) != DCV_OK ||
	    (rc = check_members(e, n, &got, sizes, err)) != DCV_OK)
		goto out;
	{
		char *version = got.version, *created = got.created;
		got.version = got.created = NULL;
		move_all(b, &got);
		free(b->version);
		free(b->created);
		b->version = version;
		b->created = created;
	}
out:
	dcv_backup_release(&got);
	if (tar.data)
		explicit_bzero(tar.data, tar.len);
	dcv_buf_release(&tar);
	free(e);
	free(sizes);
	return rc;
}

int dcv_backup_check_managed(const struct dcv_inventory *inv, const struct dcv_backup *b, struct dcv_err *err)
{
	for (int i = 0; i < b->n_hosts; i++) {
		const struct dcv_host *h = dcv_inventory_host(inv, b->hosts[i]);
		struct dcv_managed_set s;
		if (!h)
			return dcv_err_set(err, DCV_E_CONFIG, "refused: the archive holds host '%s', which %s does not name",
					   b->hosts[i], inv->path);
		dcv_backup_managed(inv, h, &s);
		for (int k = 0; k < b->n_files; k++)
			if (strcmp(b->files[k].host, h->name) == 0 && !dcv_managed_find(&s, b->files[k].path))
				return dcv_err_set(err, DCV_E_CONFIG,
						   "refused: %s on %s is not a file dcvctl manages there (%s %s)",
						   b->files[k].path, h->name, dcv_role_name(h->role),
						   h->role == DCV_ROLE_GATEWAY ? dcv_proxy_name(h->proxy) : "");
		for (int k = 0; k < b->n_units; k++) {
			bool known = false;
			if (strcmp(b->units[k].host, h->name) != 0)
				continue;
			for (int u = 0; u < s.n_units; u++)
				known = known || strcmp(s.units[u], b->units[k].unit) == 0;
			if (!known)
				return dcv_err_set(err, DCV_E_CONFIG, "refused: unit %s on %s is not one dcvctl manages there",
						   b->units[k].unit, h->name);
		}
	}
	return DCV_OK;
}
