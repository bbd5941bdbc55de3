#include "tls.h"

#include "err.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct dcv_cert {
	X509 *leaf;
	STACK_OF(X509) *chain;
};

static const char *ossl_reason(void)
{
	unsigned long e = ERR_get_error();
	static __thread char buf[256];

	if (!e)
		return "unknown error";
	ERR_error_string_n(e, buf, sizeof(buf));
	ERR_clear_error();
	return buf;
}

int dcv_cert_parse_pem(const char *pem, size_t len, struct dcv_cert **out, struct dcv_err *err)
{
	BIO *bio = BIO_new_mem_buf(pem, (int)len);
	struct dcv_cert *c;
	X509 *x;

	if (!bio)
		return dcv_err_set(err, DCV_E_INTERNAL, "BIO_new_mem_buf failed");
	x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
	if (!x) {
		BIO_free(bio);
		ERR_clear_error();
		return dcv_err_set(err, DCV_E_REMOTE, "no PEM certificate found");
	}
	c = xcalloc(1, sizeof(*c));
	c->leaf = x;
	c->chain = sk_X509_new_null();
	while ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL)))
		sk_X509_push(c->chain, x);
	ERR_clear_error();
	BIO_free(bio);
	*out = c;
	return DCV_OK;
}

struct dcv_cert *dcv_cert_from_openssl(void *x509, void *chain)
{
	struct dcv_cert *c = xcalloc(1, sizeof(*c));
	STACK_OF(X509) *sk = chain;

	X509_up_ref(x509);
	c->leaf = x509;
	c->chain = sk_X509_new_null();
	for (int i = 0; sk && i < sk_X509_num(sk); i++) {
		X509 *x = sk_X509_value(sk, i);
		if (X509_cmp(x, c->leaf) == 0)
			continue;
		X509_up_ref(x);
		sk_X509_push(c->chain, x);
	}
	return c;
}

void dcv_cert_free(struct dcv_cert *c)
{
	if (!c)
		return;
	X509_free(c->leaf);
	sk_X509_pop_free(c->chain, X509_free);
	free(c);
}

static void name_line(X509_NAME *n, char *out, size_t len)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *p;
	long l;

	X509_NAME_print_ex(b, n, 0, XN_FLAG_ONELINE & ~ASN1_STRFLGS_ESC_MSB);
	l = BIO_get_mem_data(b, &p);
	snprintf(out, len, "%.*s", (int)l, p);
	BIO_free(b);
}

static time_t asn1_time(const ASN1_TIME *t)
{
	struct tm tm;

	memset(&tm, 0, sizeof(tm));
	if (ASN1_TIME_to_tm(t, &tm) != 1)
		return 0;
	return timegm(&tm);
}

void dcv_cert_info(const struct dcv_cert *c, struct dcv_cert_info *info)
{
	GENERAL_NAMES *gens;
	EVP_PKEY *pk;
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;

	memset(info, 0, sizeof(*info));
	name_line(X509_get_subject_name(c->leaf), info->subject, sizeof(info->subject));
	name_line(X509_get_issuer_name(c->leaf), info->issuer, sizeof(info->issuer));
	info->not_before = asn1_time(X509_get0_notBefore(c->leaf));
	info->not_after = asn1_time(X509_get0_notAfter(c->leaf));
	info->self_signed = X509_self_signed(c->leaf, 0) == 1;
	gens = X509_get_ext_d2i(c->leaf, NID_subject_alt_name, NULL, NULL);
	for (int i = 0; gens && i < sk_GENERAL_NAME_num(gens) && info->n_sans < DCV_CERT_MAX_SANS; i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
		if (g->type == GEN_DNS) {
			const unsigned char *s = ASN1_STRING_get0_data(g->d.dNSName);
			info->sans[info->n_sans++] = xasprintf("DNS:%.*s", ASN1_STRING_length(g->d.dNSName), s);
		} else if (g->type == GEN_IPADD) {
			char ip[INET6_ADDRSTRLEN];
			int l = ASN1_STRING_length(g->d.iPAddress);
			const unsigned char *b = ASN1_STRING_get0_data(g->d.iPAddress);
			/* only 4 or 16 bytes are an address (RFC 5280 4.2.1.6); any server can send
			 * other lengths, which are reported, never read as a 16-byte address */
			if ((l == 4 || l == 16) && inet_ntop(l == 4 ? AF_INET : AF_INET6, b, ip, sizeof(ip)))
				info->sans[info->n_sans++] = xasprintf("IP:%s", ip);
			else
				info->sans[info->n_sans++] = xasprintf("IP:invalid (%d bytes)", l);
		}
	}
	GENERAL_NAMES_free(gens);
	pk = X509_get0_pubkey(c->leaf);
	if (pk) {
		int bits = EVP_PKEY_get_bits(pk);
		if (EVP_PKEY_get_base_id(pk) == EVP_PKEY_RSA)
			snprintf(info->key_type, sizeof(info->key_type), "RSA %d", bits);
		else if (EVP_PKEY_get_base_id(pk) == EVP_PKEY_EC)
			snprintf(info->key_type, sizeof(info->key_type), "EC %d", bits);
		else
			snprintf(info->key_type, sizeof(info->key_type), "%s", EVP_PKEY_get0_type_name(pk));
	}
	if (X509_digest(c->leaf, EVP_sha256(), md, &mdlen))
		for (unsigned i = 0; i < mdlen && 3 * i + 2 < sizeof(info->sha256); i++)
			snprintf(info->sha256 + 3 * i, 4, i + 1 < mdlen ? "%02X:" : "%02X", md[i]);
}

void dcv_cert_info_release(struct dcv_cert_info *info)
{
	for (int i = 0; i < info->n_sans; i++)
		free(info->sans[i]);
	info->n_sans = 0;
}

long dcv_cert_days_left(const struct dcv_cert_info *info, time_t now)
{
	double secs = difftime(info->not_after, now);
	/* floor: 23 hours left is 0 whole days; one second past expiry is -1 */
	long days = (long)(secs / 86400);
	if (secs < 0 && (long)secs % 86400)
		days--;
	return days;
}

bool dcv_cert_not_yet_valid(const struct dcv_cert_info *info, time_t now)
{
	return difftime(info->not_before, now) > 0;
}

/* The name as a host name: labels of letters, digits, '-' and '_' (real names carry it), none
 * empty; one trailing dot (the root) is dropped. Anything else covers nothing - above all a
 * leading dot, which X509_check_host reads as "any name under it". */
static bool host_name(const char *name, char *out, size_t n)
{
	size_t len = strlen(name);

	if (len && name[len - 1] == '.')
		len--;
	if (len == 0 || len >= n || name[0] == '.' || name[len - 1] == '.')
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)name[i];
		if (ch == '.' ? name[i + 1] == '.' : !(isalnum(ch) || ch == '-' || ch == '_'))
			return false;
	}
	memcpy(out, name, len);
	out[len] = '\0';
	return true;
}

bool dcv_cert_covers(const struct dcv_cert *c, const char *name)
{
	unsigned char buf[16];
	char host[256];

	if (inet_pton(AF_INET, name, buf) == 1 || inet_pton(AF_INET6, name, buf) == 1)
		return X509_check_ip_asc(c->leaf, name, 0) == 1;
	if (!host_name(name, host, sizeof(host)))
		return false;
	return X509_check_host(c->leaf, host, 0,
			       X509_CHECK_FLAG_NEVER_CHECK_SUBJECT | X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS,
			       NULL) == 1;
}

int dcv_cert_key_match(const struct dcv_cert *c, const char *key_pem, size_t len,
		       struct dcv_err *err)
{
	BIO *bio = BIO_new_mem_buf(key_pem, (int)len);
	EVP_PKEY *key = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
	int rc = DCV_OK;

	BIO_free(bio);
	if (!key) {
		ERR_clear_error();
		return dcv_err_set(err, DCV_E_REMOTE, "no PEM private key found");
	}
	if (X509_check_private_key(c->leaf, key) != 1)
		rc = dcv_err_set(err, DCV_E_REMOTE, "the private key does not belong to the certificate");
	ERR_clear_error();
	EVP_PKEY_free(key);
	return rc;
}

int dcv_cert_verify(const struct dcv_cert *c, const char *ca_file, struct dcv_err *err)
{
	X509_STORE *store = X509_STORE_new();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	int rc = DCV_OK;

	if (ca_file) {
		if (X509_STORE_load_file(store, ca_file) != 1) {
			rc = dcv_err_set(err, DCV_E_IO, "cannot load CA file '%s': %s", ca_file, ossl_reason());
			goto out;
		}
	} else {
		X509_STORE_set_default_paths(store);
	}
	X509_STORE_CTX_init(ctx, store, c->leaf, c->chain);
	/* without a purpose a leaf made for TLS clients only would verify */
	X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SSL_SERVER);
	if (X509_verify_cert(ctx) != 1)
		rc = dcv_err_set(err, DCV_E_REMOTE, "%s",
				 X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx)));
out:
	ERR_clear_error();
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(store);
	return rc;
}

static bool is_ip(const char *s)
{
	unsigned char buf[16];
	return inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1;
}

static int pem_of(int (*write)(BIO *, void *), void *obj, struct dcv_buf *out)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *p;
	long l;
	int ok = write(b, obj);

	l = BIO_get_mem_data(b, &p);
	if (ok)
		dcv_buf_add(out, p, (size_t)l);
	BIO_free(b);
	return ok;
}

static int write_cert(BIO *b, void *x)
{
	return PEM_write_bio_X509(b, x);
}

static int write_key(BIO *b, void *k)
{
	return PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL);
}

int dcv_cert_generate(const char *const *names, int n, int days, struct dcv_buf *cert_pem,
		      struct dcv_buf *key_pem, struct dcv_err *err)
{
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	X509_NAME *subj;
	X509V3_CTX v3;
	X509_EXTENSION *ext;
	struct dcv_buf san = DCV_BUF_INIT;
	const char *cn = NULL;
	unsigned char serial[16];
	BIGNUM *bn;
	int rc = DCV_OK;

	if (!key || !x || n <= 0) {
		rc = dcv_err_set(err, n <= 0 ? DCV_E_USAGE : DCV_E_INTERNAL,
				 n <= 0 ? "no name for the certificate" : "cannot create a key: %s", ossl_reason());
		goto out;
	}
	for (int i = 0; i < n; i++) {
		const char *v = names[i];
		/* one name is one SAN: a comma would smuggle more into the extension string */
		if (!*v || strpbrk(v, ", \t\n\r")) {
			rc = dcv_err_set(err, DCV_E_USAGE, "bad certificate name '%s'", v);
			goto out;
		}
		bool ip = strncmp(v, "IP:", 3) == 0 || (strncmp(v, "DNS:", 4) != 0 && is_ip(v));
		const char *bare = strncmp(v, "IP:", 3) == 0 ? v + 3 : strncmp(v, "DNS:", 4) == 0 ? v + 4 : v;
		dcv_buf_addf(&san, "%s%s:%s", san.len ? "," : "", ip ? "IP" : "DNS", bare);
		if (!ip && !cn)
			cn = bare;
	}
	X509_set_version(x, 2);
	RAND_bytes(serial, sizeof(serial));
	serial[0] &= 0x7f;
	bn = BN_bin2bn(serial, sizeof(serial), NULL);
	BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x));
	BN_free(bn);
	X509_gmtime_adj(X509_getm_notBefore(x), -300);
	X509_gmtime_adj(X509_getm_notAfter(x), (long)days * 86400);
	X509_set_pubkey(x, key);
	subj = X509_get_subject_name(x);
	/* a CN holds at most 64 characters (RFC 5280); VPC endpoint names are longer, and
	 * clients match the SANs anyway */
	X509_NAME_add_entry_by_txt(subj, "CN", MBSTRING_UTF8,
				   (const unsigned char *)(cn && strlen(cn) <= 64 ? cn : "dcvctl self-signed endpoint"),
				   -1, -1, 0);
	X509_set_issuer_name(x, subj);
	X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
	const char *exts[][2] = {
		{ "subjectAltName", san.data },
		{ "basicConstraints", "critical,CA:FALSE" },
		{ "keyUsage", "critical,digitalSignature" },
		{ "extendedKeyUsage", "serverAuth" },
		{ "subjectKeyIdentifier", "hash" },
	};
	for (size_t i = 0; i < sizeof(exts) / sizeof(exts[0]); i++) {
		ext = X509V3_EXT_conf(NULL, &v3, exts[i][0], exts[i][1]);
		if (!ext) {
			rc = dcv_err_set(err, DCV_E_USAGE, "bad %s '%s': %s", exts[i][0], exts[i][1], ossl_reason());
			goto out;
		}
		X509_add_ext(x, ext, -1);
		X509_EXTENSION_free(ext);
	}
	if (!X509_sign(x, key, EVP_sha256())) {
		rc = dcv_err_set(err, DCV_E_INTERNAL, "cannot sign: %s", ossl_reason());
		goto out;
	}
	pem_of(write_cert, x, cert_pem);
	pem_of(write_key, key, key_pem);
out:
	dcv_buf_release(&san);
	X509_free(x);
	EVP_PKEY_free(key);
	ERR_clear_error();
	return rc;
}
