/* tls.h - certificates: inspection, RFC 6125 host coverage, key match, chain, generation. */
#ifndef DCV_TLS_H
#define DCV_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "buf.h"

struct dcv_err;
struct dcv_cert; /* a leaf certificate and the chain that came with it */

#define DCV_CERT_MAX_SANS 64

struct dcv_cert_info {
	char subject[256];
	char issuer[256];
	char *sans[DCV_CERT_MAX_SANS]; /* "DNS:name" or "IP:addr" */
	int n_sans;
	time_t not_before, not_after;
	bool self_signed;
	char key_type[32]; /* "RSA 2048", "EC prime256v1", ... */
	char sha256[96];   /* fingerprint, colon-separated hex */
};

/* Parse PEM text: the first certificate is the leaf, the rest its chain. */
int dcv_cert_parse_pem(const char *pem, size_t len, struct dcv_cert **out, struct dcv_err *err);
/* Take a leaf and chain already decoded by a TLS connection (OpenSSL X509 and STACK_OF(X509)
 * pointers, borrowed and up-referenced). */
struct dcv_cert *dcv_cert_from_openssl(void *x509, void *chain);
void dcv_cert_free(struct dcv_cert *c);

void dcv_cert_info(const struct dcv_cert *c, struct dcv_cert_info *info);
void dcv_cert_info_release(struct dcv_cert_info *info);

/* Whole days from `now` to notAfter (negative once expired). */
long dcv_cert_days_left(const struct dcv_cert_info *info, time_t now);

/* Does notBefore lie after `now`? Such a certificate is refused by every client. */
bool dcv_cert_not_yet_valid(const struct dcv_cert_info *info, time_t now);

/* Does a SAN cover `name`? RFC 6125: DNS SANs only (no CN fallback), a wildcard covers exactly
 * one left-most label; an IP address matches IP SANs only. A name with a leading dot, an empty
 * label or other than letters, digits, '-', '_' is never covered; "name." is "name". */
bool dcv_cert_covers(const struct dcv_cert *c, const char *name);

/* Does the private key (PEM) belong to the certificate? DCV_OK, or DCV_E_REMOTE with why. */
int dcv_cert_key_match(const struct dcv_cert *c, const char *key_pem, size_t len,
		       struct dcv_err *err);

/* Verify the chain against `ca_file` (NULL: the system store) for a TLS server (purpose
 * sslserver; validity both ways). DCV_OK or DCV_E_REMOTE with OpenSSL's reason
 * ("self-signed certificate", "certificate is not yet valid", ...). */
int dcv_cert_verify(const struct dcv_cert *c, const char *ca_file, struct dcv_err *err);

/* A self-signed certificate (EC P-256) whose SANs are exactly `names` ("DNS:x" or "IP:y";
 * bare names are DNS unless they parse as an IP address); CN = the first DNS name. */
int dcv_cert_generate(const char *const *names, int n, int days, struct dcv_buf *cert_pem,
		      struct dcv_buf *key_pem, struct dcv_err *err);

#endif
