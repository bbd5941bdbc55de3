/* fuzz_cert - certificates as a TLS server or a PEM file hands them over: the first byte picks
 * PEM text (0) or DER bytes wrapped into PEM (1, so the ASN.1 decoder sees arbitrary bytes);
 * then dcv_cert_info and dcv_cert_covers on what parsed. */
#include "fuzz.h"

#include "../../lib/err.h"
#include "../../lib/tls.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

static const char *const names[] = {
	"example.com", "www.example.com", ".example.com", "example.com.", "*.example.com",
	"a..example.com", "", ".", "127.0.0.1", "::1", "198.18.1.11", "xn--bcher-kva.example",
};

/* Issue 11 item 2 (lib/tls.c, fixed on its own branch): dcv_cert_info reads an IP SAN that is
 * neither 4 nor 16 bytes 16 bytes wide. Until that fix is merged such certificates are
 * skipped here, or every run would stop on the known over-read. */
static bool odd_ip_san(const char *pem, size_t len)
{
	BIO *bio = BIO_new_mem_buf(pem, (int)len);
	X509 *x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
	GENERAL_NAMES *gens = x ? X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL) : NULL;
	bool odd = false;

	for (int i = 0; gens && i < sk_GENERAL_NAME_num(gens); i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
		if (g->type == GEN_IPADD) {
			int l = ASN1_STRING_length(g->d.iPAddress);
			odd = odd || (l != 4 && l != 16);
		}
	}
	GENERAL_NAMES_free(gens);
	X509_free(x);
	BIO_free(bio);
	ERR_clear_error();
	return odd;
}

static void inspect(const char *pem, size_t len)
{
	struct dcv_cert *c = NULL;
	struct dcv_err err = { 0 };
	struct dcv_cert_info info;

	if (dcv_cert_parse_pem(pem, len, &c, &err) != DCV_OK) {
		FUZZ_ASSERT(c == NULL && err.msg[0]);
		return;
	}
	if (!odd_ip_san(pem, len)) {
		dcv_cert_info(c, &info);
		FUZZ_ASSERT(info.n_sans <= DCV_CERT_MAX_SANS);
		FUZZ_ASSERT(strlen(info.subject) < sizeof(info.subject));
		for (int i = 0; i < info.n_sans; i++)
			if (strncmp(info.sans[i], "IP:", 3) == 0 && strcmp(info.sans[i], "IP:?") != 0)
				FUZZ_ASSERT(dcv_cert_covers(c, info.sans[i] + 3));
		dcv_cert_days_left(&info, 1700000000);
		dcv_cert_info_release(&info);
	}
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
