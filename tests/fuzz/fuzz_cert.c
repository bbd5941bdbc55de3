/* fuzz_cert - certificates as a TLS server or a PEM file hands them over: the first byte picks
 * PEM text (0) or DER bytes wrapped into PEM (1, so the ASN.1 decoder sees arbitrary bytes);
 * then dcv_cert_info and dcv_cert_covers on what parsed. */
#include "fuzz.h"

#include "../../lib/err.h"
#include "../../lib/tls.h"

#include <openssl/evp.h>

static const char *const names[] = {
	"example.com", "www.example.com", ".example.com", "example.com.", "*.example.com",
	"a..example.com", "", ".", "127.0.0.1", "::1", "198.18.1.11", "xn--bcher-kva.example",
};

static void inspect(const char *pem, size_t len)
{
	struct dcv_cert *c = NULL;
	struct dcv_err err = { 0 };
	struct dcv_cert_info info;

	if (dcv_cert_parse_pem(pem, len, &c, &err) != DCV_OK) {
		FUZZ_ASSERT(c == NULL && err.msg[0]);
		return;
	}
	dcv_cert_info(c, &info);
	FUZZ_ASSERT(info.n_sans <= DCV_CERT_MAX_SANS);
	FUZZ_ASSERT(strlen(info.subject) < sizeof(info.subject));
	/* an address printed from an IP SAN is covered by it */
	for (int i = 0; i < info.n_sans; i++)
		if (strncmp(info.sans[i], "IP:", 3) == 0 && strncmp(info.sans[i], "IP:invalid", 10) != 0)
			FUZZ_ASSERT(dcv_cert_covers(c, info.sans[i] + 3));
	dcv_cert_days_left(&info, 1700000000);
	dcv_cert_info_release(&info);
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		dcv_cert_covers(c, names[i]);
	dcv_cert_free(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	if (data[0] & 1) {
		/* DER: base64 in 64-column lines between the PEM markers */
		size_t der = size - 1, cap = 64 + (der + 2) / 3 * 4 + der / 48 + 64;
		char *pem = xmalloc(cap);
		size_t n = (size_t)snprintf(pem, cap, "-----BEGIN CERTIFICATE-----\n");
		for (size_t off = 0; off < der; off += 48) {
			size_t chunk = der - off < 48 ? der - off : 48;
			n += (size_t)EVP_EncodeBlock((unsigned char *)pem + n, data + 1 + off, (int)chunk);
			pem[n++] = '\n';
		}
		n += (size_t)snprintf(pem + n, cap - n, "-----END CERTIFICATE-----\n");
		inspect(pem, n);
		free(pem);
	} else {
		inspect((const char *)data + 1, size - 1);
	}
	return 0;
}
