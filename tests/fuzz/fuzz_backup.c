/* fuzz_backup - the archive restore reads from anywhere (dcv_backup_read) and the host script's
 * output backup reads from a host (dcv_backup_parse). The first byte picks: 0 the rest is a
 * tar stream, gzip'd here so the mutations reach the tar and manifest readers rather than die
 * on the gzip CRC; 1 the rest is handed to gunzip as it is; 2 the rest is the script's output.
 * Properties: an accepted archive holds only plain absolute paths of valid hosts whose bytes
 * match their sha256, writes back to an archive that reads the same, and the managed-set check
 * against a fixed inventory answers without crashing. */
#include "fuzz.h"

#include "../../lib/backup.h"
#include "../../lib/err.h"
#include "../../lib/inventory.h"
#include "../../lib/tar.h"

#include <openssl/evp.h>

static const char inventory_text[] =
	"[endpoint]\nurl = https://dcv.example.com:8443/\n"
	"[gateway]\naddress = 198.18.1.11\nuser = ec2-user\nproxy = nginx\n"
	"[agent dcv1]\naddress = 198.18.1.21\nuser = ubuntu\n";

static struct dcv_inventory *inventory(void)
{
	static struct dcv_inventory *inv;
	struct dcv_err err = DCV_ERR_INIT;

	if (!inv) {
		FILE *f = fmemopen((void *)inventory_text, sizeof(inventory_text) - 1, "r");
		FUZZ_ASSERT(f && dcv_inventory_parse(f, "fuzz.conf", "/home/u", &inv, &err) == DCV_OK);
		fclose(f);
	}
	return inv;
}

static void check_accepted(const struct dcv_backup *b)
{
	struct dcv_err err = DCV_ERR_INIT;
	struct dcv_buf gz = DCV_BUF_INIT;
	struct dcv_backup again;

	for (int i = 0; i < b->n_files; i++) {
		const struct dcv_backup_file *f = &b->files[i];
		unsigned char md[32];
		unsigned int n = 0;
		char hex[65];
		FUZZ_ASSERT(f->path[0] == '/' && !strstr(f->path, "/../") && !strstr(f->path, "//") &&
			    !strstr(f->path, "/./"));
		FUZZ_ASSERT(strcmp(f->host, "..") != 0 && !strchr(f->host, '/') && f->mode <= 07777);
		EVP_Digest(f->content.data ? f->content.data : "", f->content.len, md, &n, EVP_sha256(), NULL);
		for (int k = 0; k < 32; k++)
			snprintf(hex + 2 * k, 3, "%02x", md[k]);
		FUZZ_ASSERT(strcmp(hex, f->sha256) == 0);
	}
	dcv_backup_check_managed(inventory(), b, &err);
	FUZZ_ASSERT(dcv_backup_archive(b, b->version, 0, &gz, &err) == DCV_OK);
	dcv_backup_init(&again);
	FUZZ_ASSERT(dcv_backup_read(gz.data, gz.len, &again, &err) == DCV_OK);
	FUZZ_ASSERT(again.n_files == b->n_files && again.n_units == b->n_units && again.n_hosts == b->n_hosts);
	for (int i = 0; i < b->n_files; i++)
		FUZZ_ASSERT(strcmp(again.files[i].sha256, b->files[i].sha256) == 0);
	dcv_backup_release(&again);
	dcv_buf_release(&gz);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dcv_err err = DCV_ERR_INIT;
	struct dcv_buf gz = DCV_BUF_INIT;
	struct dcv_backup b;

	if (size < 1)
		return 0;
	dcv_backup_init(&b);
	switch (data[0] % 3) {
	case 0:
		FUZZ_ASSERT(dcv_gzip(data + 1, size - 1, &gz, &err) == DCV_OK);
		if (dcv_backup_read(gz.data, gz.len, &b, &err) == DCV_OK)
			check_accepted(&b);
		else
			FUZZ_ASSERT(b.n_files == 0 && b.n_hosts == 0 && err.msg[0]);
		break;
	case 1:
		if (dcv_backup_read((const char *)data + 1, size - 1, &b, &err) == DCV_OK)
			check_accepted(&b);
		break;
	case 2: {
		static const struct dcv_managed_set s = {
			.f = { { .path = "/etc/dcv/dcv.conf" }, { .path = "/etc/pki/key.pem", .secret = true } },
			.n = 2,
			.units = { "dcvserver" },
			.n_units = 1,
		};
		char *text = fuzz_str(data + 1, size - 1);
		if (dcv_backup_parse(text, "dcv1", &s, &b)) {
			FUZZ_ASSERT(b.n_hosts == 1 && b.n_files <= 2 * (int)size && b.n_units <= (int)size);
			for (int i = 0; i < b.n_files; i++)
				FUZZ_ASSERT(b.files[i].mode <= 07777 && b.files[i].owner[0] && b.files[i].group[0]);
		}
		free(text);
		break;
	}
	}
	dcv_backup_release(&b);
	dcv_buf_release(&gz);
	return 0;
}
