/* test_backup.c - the managed set, the host script and its parser, the archive round trip and
 * every rule by which restore refuses an archive (lib/backup.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../../lib/backup.h"
#include "../../lib/err.h"
#include "../../lib/inventory.h"
#include "../../lib/tar.h"
#include "../../lib/util.h"

static const char inventory_text[] =
	"[endpoint]\n"
	"url = https://dcv.example.com:8443/\n"
	"[gateway]\n"
	"address = 198.18.1.11\n"
	"user = ec2-user\n"
	"proxy = %s\n"
	"cert = /etc/pki/dcv/cert.pem\n"
	"key = /etc/pki/dcv/key.pem\n"
	"[bastion]\n"
	"address = 198.18.0.10\n"
	"user = ec2-user\n"
	"[agent dcv1]\n"
	"address = 198.18.1.21\n"
	"user = ubuntu\n";

static struct dcv_inventory *inventory(const char *proxy)
{
	char *text = xasprintf(inventory_text, proxy);
	FILE *f = fmemopen(text, strlen(text), "r");
	struct dcv_inventory *inv = NULL;
	struct dcv_err err = DCV_ERR_INIT;

	assert_non_null(f);
	if (dcv_inventory_parse(f, "test.conf", "/home/u", &inv, &err) != DCV_OK)
		fail_msg("inventory: %s", err.msg);
	fclose(f);
	free(text);
	return inv;
}

static void sha256(const char *data, size_t len, char hex[65])
{
	unsigned char md[32];
	unsigned int n = 0;

	EVP_Digest(data, len, md, &n, EVP_sha256(), NULL);
	for (int i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
}

/* ------------------------------------------------------------------ the managed set */

static void test_backup_managed_nginx_gateway(void **state)
{
	struct dcv_inventory *inv = inventory("nginx");
	struct dcv_managed_set s;
	const struct dcv_managed *conf, *key, *cert;
	int last_validated = -1;

	(void)state;
	dcv_backup_managed(inv, dcv_inventory_gateway(inv), &s);
	conf = dcv_managed_find(&s, "/etc/nginx/conf.d/dcv-proxy.conf");
	key = dcv_managed_find(&s, "/etc/pki/dcv/key.pem");
	cert = dcv_managed_find(&s, "/etc/pki/dcv/cert.pem");
	assert_non_null(conf);
	assert_non_null(key);
	assert_non_null(cert);
	assert_true(key->secret);
	assert_false(cert->secret);
	assert_false(conf->secret);
	assert_string_equal(conf->validate, "nginx -t");
	assert_string_equal(cert->validate, "nginx -t");
	for (int i = 0; i < s.n; i++)
		if (s.f[i].validate)
			last_validated = i;
	/* the config lands last, so cert and key are in place when nginx -t runs */
	assert_ptr_equal(&s.f[last_validated], conf);
	assert_null(dcv_managed_find(&s, "/etc/haproxy/haproxy.cfg"));
	assert_null(dcv_managed_find(&s, "/etc/dcv/dcv.conf"));
	assert_string_equal(s.units[0], "nginx");
	assert_string_equal(s.units[s.n_units - 1], "dcvctl-health.timer");
	/* deploy's maintenance files, kept when they exist */
	assert_non_null(dcv_managed_find(&s, "/etc/logrotate.d/dcvctl-nginx"));
	assert_string_equal(dcv_managed_find(&s, "/etc/systemd/system/dcvctl-health.timer")->apply,
			    "systemctl daemon-reload");
	assert_null(dcv_managed_find(&s, "/etc/logrotate.d/dcvctl-haproxy"));
	dcv_inventory_free(inv);
}

static void test_backup_managed_haproxy_derived_files_are_secret(void **state)
{
	struct dcv_inventory *inv = inventory("haproxy");
	struct dcv_managed_set s;

	(void)state;
	dcv_backup_managed(inv, dcv_inventory_gateway(inv), &s);
	assert_non_null(dcv_managed_find(&s, "/etc/haproxy/haproxy.cfg"));
	assert_true(dcv_managed_find(&s, "/etc/haproxy/dcv.pem")->secret);
	assert_true(dcv_managed_find(&s, "/etc/haproxy/dcvctl-stats.secret")->secret);
	assert_null(dcv_managed_find(&s, "/etc/nginx/conf.d/dcv-proxy.conf"));
	dcv_inventory_free(inv);
}

static void test_backup_managed_agent_and_bastion(void **state)
{
	struct dcv_inventory *inv = inventory("nginx");
	struct dcv_managed_set s;
	const struct dcv_managed *m;

	(void)state;
	dcv_backup_managed(inv, dcv_inventory_host(inv, "dcv1"), &s);
	m = dcv_managed_find(&s, "/etc/dcv/dcv.conf");
	assert_non_null(m);
	assert_string_equal(m->restart, "dcvserver");
	assert_null(m->validate);
	assert_null(dcv_managed_find(&s, "/etc/pki/dcv/key.pem"));
	assert_non_null(dcv_managed_find(&s, "/etc/logrotate.d/dcvctl-dcv"));
	dcv_backup_managed(inv, dcv_inventory_host(inv, "bastion"), &s);
	assert_int_equal(s.n, 0);
	assert_int_equal(s.n_units, 0);
	dcv_inventory_free(inv);
}

/* ------------------------------------------------------------------ the host script */

static void test_backup_script_reads_files_as_they_are(void **state)
{
	char dir[] = "/tmp/dcvctl-backup-XXXXXX";
	static const char bytes[] = "line one\nwith 'quotes' $(reboot)\n\0binary\xff";
	struct dcv_managed_set s = { 0 };
	struct dcv_buf script = DCV_BUF_INIT, out = DCV_BUF_INIT;
	struct dcv_backup b;

	(void)state;
	assert_non_null(mkdtemp(dir));
	char *a = xasprintf("%s/a file.conf", dir), *missing = xasprintf("%s/missing", dir);
	char *sh = xasprintf("%s/script", dir), *res = xasprintf("%s/out", dir);
	assert_int_equal(dcv_file_write_atomic(a, bytes, sizeof(bytes) - 1, 0640), 0);
	s.f[0].path = a;
	s.f[1].path = missing;
	s.n = 2;
	s.units[0] = "dcvctl-no-such-unit";
	s.n_units = 1;
	dcv_backup_script(&s, &script);
	assert_int_equal(dcv_file_write_atomic(sh, script.data, script.len, 0600), 0);
	char *cmd = xasprintf("sh '%s' > '%s'", sh, res);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(dcv_file_read(res, &out), 0);
	dcv_backup_init(&b);
	assert_true(dcv_backup_parse(out.data, "gateway", &s, &b));
	assert_int_equal(b.n_files, 1);
	assert_string_equal(b.files[0].path, a);
	assert_string_equal(b.files[0].host, "gateway");
	assert_int_equal(b.files[0].mode, 0640);
	assert_int_equal(b.files[0].content.len, sizeof(bytes) - 1);
	assert_memory_equal(b.files[0].content.data, bytes, sizeof(bytes) - 1);
	char sum[65];
	sha256(bytes, sizeof(bytes) - 1, sum);
	assert_string_equal(b.files[0].sha256, sum);
	assert_int_equal(b.n_units, 1);
	assert_true(strcmp(b.units[0].state, "inactive") == 0 || strcmp(b.units[0].state, "unknown") == 0);
	assert_int_equal(b.n_hosts, 1);
	/* output that is not the script's, or cut short, is refused */
	assert_false(dcv_backup_parse("F 0 644 root root\n", "gateway", &s, &b));
	assert_false(dcv_backup_parse("F 9 644 root root\naGk=\nEND\n", "gateway", &s, &b));
	assert_false(dcv_backup_parse("F 0 644 root;rm root\naGk=\nEND\n", "gateway", &s, &b));
	assert_false(dcv_backup_parse("F 0 644 root root\naGk=\nF 0 600 root root\naGk=\nEND\n", "gateway", &s, &b));
	assert_int_equal(b.n_files, 1);
	dcv_backup_release(&b);
	free(cmd);
	cmd = xasprintf("rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
	free(cmd);
	free(a);
	free(missing);
	free(sh);
	free(res);
	dcv_buf_release(&script);
	dcv_buf_release(&out);
}

/* ------------------------------------------------------------------ the archive */

static void fill(struct dcv_backup *b)
{
	static const struct { const char *host, *path, *content; unsigned mode; } f[] = {
		{ "gateway", "/etc/pki/dcv/key.pem", "-----BEGIN PRIVATE KEY-----\n", 0600 },
		{ "gateway", "/etc/nginx/conf.d/dcv-proxy.conf", "server {}\n", 0644 },
		{ "dcv1", "/etc/dcv/dcv.conf", "[connectivity]\nweb-port=8443\n", 0644 },
	};

	dcv_backup_init(b);
	b->hosts = xcalloc(2, sizeof(char *));
	b->hosts[b->n_hosts++] = xstrdup("gateway");
	b->hosts[b->n_hosts++] = xstrdup("dcv1");
	b->files = xcalloc(3, sizeof(*b->files));
	for (int i = 0; i < 3; i++) {
		struct dcv_backup_file *x = &b->files[b->n_files++];
		x->host = xstrdup(f[i].host);
		x->path = xstrdup(f[i].path);
		x->mode = f[i].mode;
		snprintf(x->owner, sizeof(x->owner), "root");
		snprintf(x->group, sizeof(x->group), i == 2 ? "dcv" : "root");
		dcv_buf_adds(&x->content, f[i].content);
		sha256(x->content.data, x->content.len, x->sha256);
	}
	b->units = xcalloc(2, sizeof(*b->units));
	b->units[0] = (struct dcv_backup_unit){ xstrdup("gateway"), xstrdup("nginx"), "active" };
	b->units[1] = (struct dcv_backup_unit){ xstrdup("dcv1"), xstrdup("dcvserver"), "failed" };
	b->n_units = 2;
}

static void test_backup_archive_round_trip(void **state)
{
	struct dcv_inventory *inv = inventory("nginx");
	struct dcv_backup b, back;
	struct dcv_buf gz = DCV_BUF_INIT;
	struct dcv_err err = DCV_ERR_INIT;

	(void)state;
	fill(&b);
	assert_int_equal(dcv_backup_archive(&b, "9.9.9", 1700000000, &gz, &err), DCV_OK);
	dcv_backup_init(&back);
	if (dcv_backup_read(gz.data, gz.len, &back, &err) != DCV_OK)
		fail_msg("%s", err.msg);
	assert_string_equal(back.version, "9.9.9");
	assert_string_equal(back.created, "2023-11-14T22:13:20Z");
	assert_int_equal(back.n_files, 3);
	assert_int_equal(back.n_hosts, 2);
	for (int i = 0; i < 3; i++) {
		assert_string_equal(back.files[i].host, b.files[i].host);
		assert_string_equal(back.files[i].path, b.files[i].path);
		assert_int_equal(back.files[i].mode, b.files[i].mode);
		assert_string_equal(back.files[i].owner, b.files[i].owner);
		assert_string_equal(back.files[i].group, b.files[i].group);
		assert_string_equal(back.files[i].sha256, b.files[i].sha256);
		assert_string_equal(back.files[i].content.data, b.files[i].content.data);
	}
	assert_int_equal(back.n_units, 2);
	assert_string_equal(back.units[1].unit, "dcvserver");
	assert_string_equal(back.units[1].state, "failed");
	assert_int_equal(dcv_backup_check_managed(inv, &back, &err), DCV_OK);
	dcv_backup_release(&b);
	dcv_backup_release(&back);
	dcv_buf_release(&gz);
	dcv_inventory_free(inv);
}

/* ------------------------------------------------------------------ hostile archives */

struct member {
	const char *name;
	const char *content;
	char type;          /* 0: a regular file */
	const char *link;
};

/* The manifest for one file of host `host` at `path` holding `content`. */
static char *manifest1(const char *host, const char *path, const char *content)
{
	char sum[65];

	sha256(content, strlen(content), sum);
	return xasprintf("{\"format\":\"dcvctl-backup/1\",\"dcvctl_version\":\"0.1.0\",\"created\":\"x\","
			 "\"hosts\":[{\"host\":\"%s\",\"units\":[{\"unit\":\"nginx\",\"state\":\"active\"}]}],"
			 "\"files\":[{\"host\":\"%s\",\"path\":\"%s\",\"mode\":\"0644\",\"owner\":\"root\","
			 "\"group\":\"root\",\"sha256\":\"%s\",\"size\":%zu}]}",
			 host, host, path, sum, strlen(content));
}

static void set_type(char *h, char type, const char *link)
{
	unsigned sum = 0;

	h[156] = type;
	if (link)
		memcpy(h + 157, link, strlen(link));
	memset(h + 148, ' ', 8);
	for (int i = 0; i < 512; i++)
		sum += (unsigned char)h[i];
	snprintf(h + 148, 8, "%06o", sum);
}

/* dcv_backup_read on an archive of `manifest` and `m`; `b` must stay empty when it refuses. */
static int read_archive(const char *manifest, const struct member *m, int n, struct dcv_backup *b,
			struct dcv_err *err)
{
	struct dcv_buf tar = DCV_BUF_INIT, gz = DCV_BUF_INIT;
	int rc;

	if (manifest)
		assert_int_equal(dcv_tar_add(&tar, "manifest.json", 0600, manifest, strlen(manifest), 0, err), DCV_OK);
	for (int i = 0; i < n; i++) {
		size_t at = tar.len;
		assert_int_equal(dcv_tar_add(&tar, m[i].name, 0644, m[i].content, strlen(m[i].content), 0, err), DCV_OK);
		if (m[i].type)
			set_type(tar.data + at, m[i].type, m[i].link);
	}
	dcv_tar_finish(&tar);
	assert_int_equal(dcv_gzip(tar.data, tar.len, &gz, err), DCV_OK);
	dcv_backup_init(b);
	rc = dcv_backup_read(gz.data, gz.len, b, err);
	if (rc != DCV_OK) {
		assert_int_equal(b->n_files, 0);
		assert_int_equal(b->n_hosts, 0);
	}
	dcv_buf_release(&tar);
	dcv_buf_release(&gz);
	return rc;
}

#define CONF "/etc/nginx/conf.d/dcv-proxy.conf"

static void refused(const char *manifest, const struct member *m, int n, const char *why)
{
	struct dcv_backup b;
	struct dcv_err err = DCV_ERR_INIT;

	assert_int_equal(read_archive(manifest, m, n, &b, &err), DCV_E_IO);
	if (!strstr(err.msg, why))
		fail_msg("expected '%s' in: %s", why, err.msg);
	assert_non_null(strstr(err.msg, "refused"));
	dcv_backup_release(&b);
}

static void test_backup_accepts_a_well_formed_archive(void **state)
{
	char *man = manifest1("gateway", CONF, "server {}\n");
	const struct member m[] = { { "gateway/etc/nginx/conf.d/dcv-proxy.conf", "server {}\n", 0, NULL } };
	struct dcv_backup b;
	struct dcv_err err = DCV_ERR_INIT;

	(void)state;
	assert_int_equal(read_archive(man, m, 1, &b, &err), DCV_OK);
	assert_int_equal(b.n_files, 1);
	assert_string_equal(b.files[0].content.data, "server {}\n");
	dcv_backup_release(&b);
	free(man);
}

static void test_backup_refuses_path_traversal(void **state)
{
	char *man = manifest1("gateway", CONF, "x");
	const struct member dots[] = { { "gateway/../../etc/cron.d/evil", "x", 0, NULL } };
	const struct member abs[] = { { "/etc/cron.d/evil", "x", 0, NULL } };
	const struct member dot[] = { { "gateway/./etc/nginx/conf.d/dcv-proxy.conf", "x", 0, NULL } };

	(void)state;
	refused(man, dots, 1, "leaves the archive's host folders");
	refused(man, abs, 1, "leaves the archive's host folders");
	refused(man, dot, 1, "leaves the archive's host folders");
	free(man);
	/* the manifest may not name a path with '..' either */
	man = manifest1("gateway", "/etc/nginx/../cron.d/evil", "x");
	const struct member m[] = { { "gateway/etc/nginx/../cron.d/evil", "x", 0, NULL } };
	refused(man, m, 1, "not a plain absolute path");
	free(man);
	man = manifest1("..", CONF, "x");
	refused(man, NULL, 0, "no valid host name");
	free(man);
}

static void test_backup_refuses_links_and_devices(void **state)
{
	char *man = manifest1("gateway", CONF, "");
	const struct member sym[] = { { "gateway/etc/nginx/conf.d/dcv-proxy.conf", "", '2', "/etc/shadow" } };
	const struct member hard[] = { { "gateway/etc/nginx/conf.d/dcv-proxy.conf", "", '1', "gateway/x" } };
	const struct member chr[] = { { "gateway/etc/nginx/conf.d/dcv-proxy.conf", "", '3', NULL } };
	const struct member blk[] = { { "gateway/etc/nginx/conf.d/dcv-proxy.conf", "", '4', NULL } };
	const struct member fifo[] = { { "gateway/etc/nginx/conf.d/dcv-proxy.conf", "", '6', NULL } };
	const struct member dir[] = { { "gateway/etc/", "", '5', NULL },
				      { "gateway/etc/nginx/conf.d/dcv-proxy.conf", "", 0, NULL } };
	const struct member dotdir[] = { { "gateway/../", "", '5', NULL } };
	struct dcv_backup b;
	struct dcv_err err = DCV_ERR_INIT;

	(void)state;
	refused(man, sym, 1, "a symbolic link to /etc/shadow");
	refused(man, hard, 1, "a hard link");
	refused(man, chr, 1, "a character device");
	refused(man, blk, 1, "a block device");
	refused(man, fifo, 1, "a FIFO");
	/* folders, as tar(1) adds them to an archive made again by hand, carry nothing: ignored */
	assert_int_equal(read_archive(man, dir, 2, &b, &err), DCV_OK);
	assert_int_equal(b.n_files, 1);
	dcv_backup_release(&b);
	refused(man, dotdir, 1, "leaves the archive's host folders");
	free(man);
}

static void test_backup_refuses_a_changed_hash(void **state)
{
	char *man = manifest1("gateway", CONF, "server {}\n");
	const struct member m[] = { { "gateway/etc/nginx/conf.d/dcv-proxy.conf", "server {}\n#", 0, NULL } };
	const struct member same_size[] = { { "gateway/etc/nginx/conf.d/dcv-proxy.conf", "server {!\n", 0, NULL } };

	(void)state;
	refused(man, m, 1, "does not match its size and sha256");
	refused(man, same_size, 1, "does not match its size and sha256");
	free(man);
}

static void test_backup_refuses_what_the_manifest_does_not_say(void **state)
{
	char *man = manifest1("gateway", CONF, "x");
	const struct member extra[] = { { "gateway/etc/nginx/conf.d/dcv-proxy.conf", "x", 0, NULL },
					{ "gateway/etc/nginx/conf.d/other.conf", "x", 0, NULL } };
	const struct member twice[] = { { "gateway/etc/nginx/conf.d/dcv-proxy.conf", "x", 0, NULL },
					{ "gateway/etc/nginx/conf.d/dcv-proxy.conf", "x", 0, NULL } };
	const struct member other_host[] = { { "dcv1/etc/nginx/conf.d/dcv-proxy.conf", "x", 0, NULL } };

	(void)state;
	refused(man, extra, 2, "'gateway/etc/nginx/conf.d/other.conf' is not in the manifest");
	refused(man, twice, 2, "appears twice");
	refused(man, other_host, 1, "is not in the manifest");
	refused(man, NULL, 0, "in the manifest but not in the archive");
	refused(NULL, extra, 1, "no manifest.json");
	refused("{\"format\":\"dcvctl-backup/1\"", extra, 1, "not one JSON object");
	refused("{\"format\":\"something else\"}", extra, 1, "not a dcvctl-backup/1 manifest");
	free(man);
}

static void test_backup_refuses_a_path_the_kind_does_not_manage(void **state)
{
	struct dcv_inventory *inv = inventory("haproxy");
	struct dcv_backup b;
	struct dcv_err err = DCV_ERR_INIT;
	char *man = manifest1("gateway", CONF, "x");
	const struct member m[] = { { "gateway/etc/nginx/conf.d/dcv-proxy.conf", "x", 0, NULL } };

	(void)state;
	/* a well-formed archive of an nginx gateway, against an inventory whose gateway runs HAProxy */
	assert_int_equal(read_archive(man, m, 1, &b, &err), DCV_OK);
	assert_int_equal(dcv_backup_check_managed(inv, &b, &err), DCV_E_CONFIG);
	assert_non_null(strstr(err.msg, "/etc/nginx/conf.d/dcv-proxy.conf on gateway is not a file dcvctl manages"));
	dcv_backup_release(&b);
	free(man);

	man = manifest1("gateway", "/etc/shadow", "x");
	const struct member shadow[] = { { "gateway/etc/shadow", "x", 0, NULL } };
	assert_int_equal(read_archive(man, shadow, 1, &b, &err), DCV_OK);
	assert_int_equal(dcv_backup_check_managed(inv, &b, &err), DCV_E_CONFIG);
	assert_non_null(strstr(err.msg, "/etc/shadow on gateway"));
	dcv_backup_release(&b);
	free(man);

	man = manifest1("nosuchhost", "/etc/dcv/dcv.conf", "x");
	const struct member stranger[] = { { "nosuchhost/etc/dcv/dcv.conf", "x", 0, NULL } };
	assert_int_equal(read_archive(man, stranger, 1, &b, &err), DCV_OK);
	assert_int_equal(dcv_backup_check_managed(inv, &b, &err), DCV_E_CONFIG);
	assert_non_null(strstr(err.msg, "host 'nosuchhost'"));
	dcv_backup_release(&b);
	free(man);

	/* nginx is not a unit of a HAProxy gateway's kind... but it is one it stops: allowed; sshd is not */
	man = manifest1("gateway", "/etc/haproxy/haproxy.cfg", "x");
	char *evil = xstrdup(man);
	char *u = strstr(evil, "\"nginx\"");
	memcpy(u, "\"sshd\" ", 7);
	const struct member cfg[] = { { "gateway/etc/haproxy/haproxy.cfg", "x", 0, NULL } };
	assert_int_equal(read_archive(man, cfg, 1, &b, &err), DCV_OK);
	assert_int_equal(dcv_backup_check_managed(inv, &b, &err), DCV_OK);
	dcv_backup_release(&b);
	assert_int_equal(read_archive(evil, cfg, 1, &b, &err), DCV_OK);
	assert_int_equal(dcv_backup_check_managed(inv, &b, &err), DCV_E_CONFIG);
	assert_non_null(strstr(err.msg, "unit sshd on gateway"));
	dcv_backup_release(&b);
	free(evil);
	free(man);
	dcv_inventory_free(inv);
}

static void test_backup_refuses_a_bad_manifest_field(void **state)
{
	char *man = manifest1("gateway", CONF, "x");
	const struct member m[] = { { "gateway/etc/nginx/conf.d/dcv-proxy.conf", "x", 0, NULL } };
	char *bad;

	(void)state;
	bad = xstrdup(man);
	memcpy(strstr(bad, "\"0644\""), "\"9999\"", 6);
	refused(bad, m, 1, "malformed mode");
	free(bad);
	bad = xstrdup(man);
	memcpy(strstr(bad, "\"owner\":\"root\""), "\"owner\":\"r$(x\"", 14);
	refused(bad, m, 1, "malformed mode, owner");
	free(bad);
	free(man);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_backup_managed_nginx_gateway),
		cmocka_unit_test(test_backup_managed_haproxy_derived_files_are_secret),
		cmocka_unit_test(test_backup_managed_agent_and_bastion),
		cmocka_unit_test(test_backup_script_reads_files_as_they_are),
		cmocka_unit_test(test_backup_archive_round_trip),
		cmocka_unit_test(test_backup_accepts_a_well_formed_archive),
		cmocka_unit_test(test_backup_refuses_path_traversal),
		cmocka_unit_test(test_backup_refuses_links_and_devices),
		cmocka_unit_test(test_backup_refuses_a_changed_hash),
		cmocka_unit_test(test_backup_refuses_what_the_manifest_does_not_say),
		cmocka_unit_test(test_backup_refuses_a_path_the_kind_does_not_manage),
		cmocka_unit_test(test_backup_refuses_a_bad_manifest_field),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
