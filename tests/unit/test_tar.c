/* test_tar.c - the ustar + gzip writer and the reader of hostile archives (lib/tar.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../lib/err.h"
#include "../../lib/tar.h"
#include "../../lib/util.h"

static void build(struct dcv_buf *tar)
{
	static const char longname[] =
		"gateway/etc/a-rather-long-directory-name-that-goes-on/and-on-and-on-until-it-needs-a-prefix/"
		"dcv-proxy-with-a-long-name.conf";
	struct dcv_err err = DCV_ERR_INIT;

	assert_int_equal(dcv_tar_add(tar, "manifest.json", 0600, "{}\n", 3, 1700000000, &err), DCV_OK);
	assert_int_equal(dcv_tar_add(tar, "dcv1/etc/dcv/dcv.conf", 0644, "[x]\n", 4, 1700000000, &err), DCV_OK);
	assert_int_equal(dcv_tar_add(tar, longname, 0600, "", 0, 1700000000, &err), DCV_OK);
	dcv_tar_finish(tar);
}

static void test_tar_round_trip(void **state)
{
	struct dcv_buf tar = DCV_BUF_INIT, gz = DCV_BUF_INIT, back = DCV_BUF_INIT;
	struct dcv_err err = DCV_ERR_INIT;
	struct dcv_tar_entry *e = NULL;
	int n = 0;

	(void)state;
	build(&tar);
	assert_int_equal(tar.len % 512, 0);
	assert_int_equal(dcv_gzip(tar.data, tar.len, &gz, &err), DCV_OK);
	assert_int_equal(dcv_gunzip(gz.data, gz.len, DCV_TAR_MAX, &back, &err), DCV_OK);
	assert_int_equal(back.len, tar.len);
	assert_memory_equal(back.data, tar.data, tar.len);
	assert_int_equal(dcv_tar_parse(back.data, back.len, &e, &n, &err), DCV_OK);
	assert_int_equal(n, 3);
	assert_string_equal(e[1].name, "dcv1/etc/dcv/dcv.conf");
	assert_int_equal(e[1].type, '0');
	assert_int_equal(e[1].mode, 0644);
	assert_int_equal(e[1].size, 4);
	assert_memory_equal(e[1].data, "[x]\n", 4);
	assert_true(strlen(e[2].name) > 100);
	assert_string_equal(e[2].name + strlen(e[2].name) - 31, "/dcv-proxy-with-a-long-name.conf" + 1);
	free(e);
	dcv_buf_release(&tar);
	dcv_buf_release(&gz);
	dcv_buf_release(&back);
}

/* The archive is for people too: GNU tar lists what we wrote, and we read what GNU tar writes. */
static void test_tar_gnu_tar_agrees(void **state)
{
	struct dcv_buf tar = DCV_BUF_INIT, gz = DCV_BUF_INIT, list = DCV_BUF_INIT, theirs = DCV_BUF_INIT;
	struct dcv_err err = DCV_ERR_INIT;
	char dir[] = "/tmp/dcvctl-tar-XXXXXX";
	struct dcv_tar_entry *e = NULL;
	int n = 0;

	(void)state;
	assert_non_null(mkdtemp(dir));
	build(&tar);
	assert_int_equal(dcv_gzip(tar.data, tar.len, &gz, &err), DCV_OK);
	char *arch = xasprintf("%s/a.tar.gz", dir), *out = xasprintf("%s/list", dir);
	assert_int_equal(dcv_file_write_atomic(arch, gz.data, gz.len, 0600), 0);
	char *cmd = xasprintf("tar -tzf %s > %s && mkdir %s/x && cd %s/x && printf 'hi' > f && "
			      "tar --format=ustar -czf %s/b.tar.gz f", arch, out, dir, dir, dir);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(dcv_file_read(out, &list), 0);
	assert_non_null(strstr(list.data, "manifest.json\ndcv1/etc/dcv/dcv.conf\ngateway/etc/"));
	char *b = xasprintf("%s/b.tar.gz", dir);
	dcv_buf_reset(&gz);
	assert_int_equal(dcv_file_read(b, &gz), 0);
	assert_int_equal(dcv_gunzip(gz.data, gz.len, DCV_TAR_MAX, &theirs, &err), DCV_OK);
	assert_int_equal(dcv_tar_parse(theirs.data, theirs.len, &e, &n, &err), DCV_OK);
	assert_int_equal(n, 1);
	assert_string_equal(e[0].name, "f");
	assert_memory_equal(e[0].data, "hi", 2);
	free(e);
	free(cmd);
	cmd = xasprintf("rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
	free(cmd);
	free(arch);
	free(out);
	free(b);
	dcv_buf_release(&tar);
	dcv_buf_release(&gz);
	dcv_buf_release(&list);
	dcv_buf_release(&theirs);
}

static void test_tar_refuses_a_changed_header(void **state)
{
	struct dcv_buf tar = DCV_BUF_INIT;
	struct dcv_err err = DCV_ERR_INIT;
	struct dcv_tar_entry *e = NULL;
	int n = 0;

	(void)state;
	build(&tar);
	tar.data[0] = 'X'; /* the name, under the old checksum */
	assert_int_equal(dcv_tar_parse(tar.data, tar.len, &e, &n, &err), DCV_E_IO);
	assert_non_null(strstr(err.msg, "checksum"));
	dcv_buf_release(&tar);
}

static void test_tar_refuses_data_past_the_end(void **state)
{
	struct dcv_buf tar = DCV_BUF_INIT;
	struct dcv_err err = DCV_ERR_INIT;
	struct dcv_tar_entry *e = NULL;
	int n = 0;

	(void)state;
	build(&tar);
	/* the first member alone, cut inside its data block */
	assert_int_equal(dcv_tar_parse(tar.data, 512 + 2, &e, &n, &err), DCV_E_IO);
	assert_int_equal(dcv_tar_parse(tar.data, 100, &e, &n, &err), DCV_E_IO);
	assert_non_null(strstr(err.msg, "truncated"));
	dcv_buf_release(&tar);
}

static void test_tar_reports_link_types(void **state)
{
	struct dcv_buf tar = DCV_BUF_INIT;
	struct dcv_err err = DCV_ERR_INIT;
	struct dcv_tar_entry *e = NULL;
	unsigned sum = 0;
	int n = 0;

	(void)state;
	build(&tar);
	tar.data[156] = '2';
	memcpy(tar.data + 157, "/etc/shadow", 11);
	memset(tar.data + 148, ' ', 8);
	for (int i = 0; i < 512; i++)
		sum += (unsigned char)tar.data[i];
	snprintf(tar.data + 148, 8, "%06o", sum);
	assert_int_equal(dcv_tar_parse(tar.data, tar.len, &e, &n, &err), DCV_OK);
	assert_int_equal(e[0].type, '2');
	assert_null(e[0].data);
	assert_string_equal(e[0].linkname, "/etc/shadow");
	free(e);
	dcv_buf_release(&tar);
}

static void test_tar_gunzip_bounds_the_output(void **state)
{
	struct dcv_buf zeros = DCV_BUF_INIT, gz = DCV_BUF_INIT, out = DCV_BUF_INIT;
	struct dcv_err err = DCV_ERR_INIT;
	char *z = xcalloc(1, 1 << 20);

	(void)state;
	dcv_buf_add(&zeros, z, 1 << 20);
	assert_int_equal(dcv_gzip(zeros.data, zeros.len, &gz, &err), DCV_OK);
	assert_true(gz.len < 10000);
	assert_int_equal(dcv_gunzip(gz.data, gz.len, 1 << 16, &out, &err), DCV_E_IO);
	assert_non_null(strstr(err.msg, "uncompressed"));
	dcv_buf_reset(&out);
	assert_int_equal(dcv_gunzip("not gzip", 8, 1 << 16, &out, &err), DCV_E_IO);
	dcv_buf_add(&gz, "junk", 4);
	dcv_buf_reset(&out);
	assert_int_equal(dcv_gunzip(gz.data, gz.len, 1 << 21, &out, &err), DCV_E_IO);
	assert_non_null(strstr(err.msg, "trailing"));
	free(z);
	dcv_buf_release(&zeros);
	dcv_buf_release(&gz);
	dcv_buf_release(&out);
}

static void test_tar_refuses_a_name_too_long(void **state)
{
	struct dcv_buf tar = DCV_BUF_INIT;
	struct dcv_err err = DCV_ERR_INIT;
	char name[300];

	(void)state;
	memset(name, 'a', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	assert_int_equal(dcv_tar_add(&tar, name, 0600, "", 0, 0, &err), DCV_E_USAGE);
	assert_int_equal(tar.len, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tar_round_trip),
		cmocka_unit_test(test_tar_gnu_tar_agrees),
		cmocka_unit_test(test_tar_refuses_a_changed_header),
		cmocka_unit_test(test_tar_refuses_data_past_the_end),
		cmocka_unit_test(test_tar_reports_link_types),
		cmocka_unit_test(test_tar_gunzip_bounds_the_output),
		cmocka_unit_test(test_tar_refuses_a_name_too_long),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
