/* Certificates: host coverage (RFC 6125), expiry arithmetic, key match, chain verification and
 * inspection. Every certificate is made here, at run time, so nothing expires. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../../lib/buf.h"
#include "../../lib/err.h"
#include "../../lib/tls.h"

#define ENDPOINT "vpce-0lab0000000000000-lab00000.vpce-svc-0lab0000000000000.ap-northeast-1.vpce.amazonaws.com"

/* ---------------------------------------------------------------- helpers */

struct pair {
	struct dcv_buf cert, key;
	struct dcv_cert *c;
};

static void gen(struct pair *p, const char *const *names, int n, int days)
{
	struct dcv_err err = DCV_ERR_INIT;
	int rc;

	dcv_buf_init(&p->cert);
	dcv_buf_init(&p->key);
	p->c = NULL;
	rc = dcv_cert_generate(names, n, days, &p->cert, &p->key, &err);
	if (rc)
		fail_msg("dcv_cert_generate: %s", err.msg);
	assert_non_null(strstr(p->cert.data, "-----BEGIN CERTIFICATE-----"));
	assert_non_null(strstr(p->key.data, "PRIVATE KEY-----"));
	rc = dcv_cert_parse_pem(p->cert.data, p->cert.len, &p->c, &err);
	if (rc)
		fail_msg("dcv_cert_parse_pem: %s", err.msg);
}

static void pair_release(struct pair *p)
{
	dcv_cert_free(p->c);
	dcv_buf_release(&p->cert);
	dcv_buf_release(&p->key);
}

#define GEN(p, days, ...)                                                                       \
	do {                                                                                    \
		const char *const names_[] = { __VA_ARGS__ };                                   \
		gen(p, names_, (int)(sizeof(names_) / sizeof(names_[0])), days);                \
	} while (0)

static EVP_PKEY *new_key(void)
{
	EVP_PKEY *k = EVP_EC_gen("P-256");
	assert_non_null(k);
	return k;
}

static void add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX v3;
	X509_EXTENSION *e;

	X509V3_set_ctx(&v3, issuer, x, NULL, NULL, 0);
	e = X509V3_EXT_conf_nid(NULL, &v3, nid, value);
	assert_non_null(e);
	assert_int_equal(X509_add_ext(x, e, -1), 1);
	X509_EXTENSION_free(e);
}

/* A certificate for `key` named CN=cn, signed by issuer/ikey (NULL: self-signed), valid from
 * now+from to now+to seconds; `san` NULL for none; `ca` makes it a CA. */
static X509 *make_cert(const char *cn, EVP_PKEY *key, X509 *issuer, EVP_PKEY *ikey, long from, long to,
		       const char *san, int ca)
{
	static long serial = 1000;
	X509 *x = X509_new();

	assert_non_null(x);
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), serial++);
	X509_gmtime_adj(X509_getm_notBefore(x), from);
	X509_gmtime_adj(X509_getm_notAfter(x), to);
	X509_set_pubkey(x, key);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_UTF8, (const unsigned char *)cn,
				   -1, -1, 0);
	X509_set_issuer_name(x, X509_get_subject_name(issuer ? issuer : x));
	add_ext(x, issuer ? issuer : x, NID_subject_key_identifier, "hash");
	add_ext(x, issuer ? issuer : x, NID_authority_key_identifier, "keyid:always");
	if (ca) {
		add_ext(x, issuer ? issuer : x, NID_basic_constraints, "critical,CA:TRUE");
		add_ext(x, issuer ? issuer : x, NID_key_usage, "critical,keyCertSign,cRLSign");
	} else {
		add_ext(x, issuer ? issuer : x, NID_basic_constraints, "critical,CA:FALSE");
		add_ext(x, issuer ? issuer : x, NID_key_usage, "critical,digitalSignature");
		add_ext(x, issuer ? issuer : x, NID_ext_key_usage, "serverAuth");
	}
	if (san)
		add_ext(x, issuer ? issuer : x, NID_subject_alt_name, san);
	assert_true(X509_sign(x, ikey ? ikey : key, EVP_sha256()) > 0);
	return x;
}

static void pem_add(struct dcv_buf *out, X509 *x)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *p;
	long l;

	assert_int_equal(PEM_write_bio_X509(b, x), 1);
	l = BIO_get_mem_data(b, &p);
	dcv_buf_add(out, p, (size_t)l);
	BIO_free(b);
}

static void key_pem(struct dcv_buf *out, EVP_PKEY *k)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *p;
	long l;

	assert_int_equal(PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL), 1);
	l = BIO_get_mem_data(b, &p);
	dcv_buf_add(out, p, (size_t)l);
	BIO_free(b);
}

/* A file under $TMPDIR holding `text`; the caller unlinks and frees the path. */
static char *temp_file(const char *text)
{
	const char *dir = getenv("TMPDIR");
	char *path = xasprintf("%s/dcvctl-test-tls-XXXXXX", dir && *dir ? dir : "/tmp");
	int fd = mkstemp(path);
	size_t n = strlen(text);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, n), (ssize_t)n);
	close(fd);
	return path;
}

static struct dcv_cert *parse(const struct dcv_buf *pem)
{
	struct dcv_cert *c = NULL;
	struct dcv_err err = DCV_ERR_INIT;

	if (dcv_cert_parse_pem(pem->data, pem->len, &c, &err))
		fail_msg("parse: %s", err.msg);
	return c;
}

/* A root CA, and helpers to sign leaves with it. */
struct ca {
	EVP_PKEY *key;
	X509 *cert;
	char *file; /* the CA's PEM on disk */
};

static void ca_init(struct ca *ca, const char *cn)
{
	struct dcv_buf pem = DCV_BUF_INIT;

	ca->key = new_key();
	ca->cert = make_cert(cn, ca->key, NULL, NULL, -3600, 30L * 86400, NULL, 1);
	pem_add(&pem, ca->cert);
	ca->file = temp_file(pem.data);
	dcv_buf_release(&pem);
}

static void ca_release(struct ca *ca)
{
	unlink(ca->file);
	free(ca->file);
	X509_free(ca->cert);
	EVP_PKEY_free(ca->key);
}

/* A self-signed leaf whose only SANs are iPAddress entries of the given raw lengths (bytes
 * 1, 2, 3, ...): what any TLS server can send, whatever RFC 5280 says. */
static struct dcv_cert *cert_with_ip_sans(EVP_PKEY *k, const int *lens, int n)
{
	X509 *x = make_cert("odd.example.com", k, NULL, NULL, -300, 86400, NULL, 0);
	GENERAL_NAMES *gens = sk_GENERAL_NAME_new_null();
	struct dcv_cert *c;

	for (int i = 0; i < n; i++) {
		GENERAL_NAME *g = GENERAL_NAME_new();
		ASN1_OCTET_STRING *o = ASN1_OCTET_STRING_new();
		unsigned char b[64];
		for (int j = 0; j < lens[i]; j++)
			b[j] = (unsigned char)(j + 1);
		assert_int_equal(ASN1_OCTET_STRING_set(o, b, lens[i]), 1);
		GENERAL_NAME_set0_value(g, GEN_IPADD, o);
		sk_GENERAL_NAME_push(gens, g);
	}
	assert_int_equal(X509_add1_ext_i2d(x, NID_subject_alt_name, gens, 0, 0), 1);
	assert_true(X509_sign(x, k, EVP_sha256()) > 0);
	GENERAL_NAMES_free(gens);
	c = dcv_cert_from_openssl(x, NULL);
	X509_free(x);
	return c;
}

/* A self-signed leaf with exactly one dNSName SAN, any bytes at all (the peers' vectors hold
 * names dcv_cert_generate rightly refuses). */
static struct dcv_cert *cert_with_dns_san(EVP_PKEY *k, const char *san)
{
	X509 *x = make_cert("vector", k, NULL, NULL, -300, 86400, NULL, 0);
	GENERAL_NAMES *gens = sk_GENERAL_NAME_new_null();
	GENERAL_NAME *g = GENERAL_NAME_new();
	ASN1_IA5STRING *ia5 = ASN1_IA5STRING_new();
	struct dcv_cert *c;

	assert_int_equal(ASN1_STRING_set(ia5, san, -1), 1);
	GENERAL_NAME_set0_value(g, GEN_DNS, ia5);
	sk_GENERAL_NAME_push(gens, g);
	assert_int_equal(X509_add1_ext_i2d(x, NID_subject_alt_name, gens, 0, 0), 1);
	assert_true(X509_sign(x, k, EVP_sha256()) > 0);
	GENERAL_NAMES_free(gens);
	c = dcv_cert_from_openssl(x, NULL);
	X509_free(x);
	return c;
}

/* ---------------------------------------------------------------- coverage */

static void test_tls_covers_exact_name(void **state)
{
	struct pair p;

	(void)state;
	GEN(&p, 30, "gw.example.com");
	assert_true(dcv_cert_covers(p.c, "gw.example.com"));
	assert_true(dcv_cert_covers(p.c, "GW.Example.COM")); /* DNS names compare case-insensitively */
	assert_false(dcv_cert_covers(p.c, "example.com"));
	assert_false(dcv_cert_covers(p.c, "www.gw.example.com"));
	assert_false(dcv_cert_covers(p.c, "gw.example.co"));
	assert_false(dcv_cert_covers(p.c, "gw.example.com.evil"));
	assert_false(dcv_cert_covers(p.c, "xgw.example.com"));
	pair_release(&p);
}

static void test_tls_wildcard_covers_one_label(void **state)
{
	struct pair p;

	(void)state;
	GEN(&p, 30, "*.example.com");
	assert_true(dcv_cert_covers(p.c, "a.example.com"));
	assert_true(dcv_cert_covers(p.c, "gateway-1.example.com"));
	assert_false(dcv_cert_covers(p.c, "example.com"));
	assert_false(dcv_cert_covers(p.c, "a.b.example.com"));
	assert_false(dcv_cert_covers(p.c, "a.example.org"));
	assert_false(dcv_cert_covers(p.c, "aexample.com"));
	pair_release(&p);
}

static void test_tls_partial_wildcards_refused(void **state)
{
	struct pair p, q, r;

	(void)state;
	GEN(&p, 30, "gw*.example.com");
	assert_false(dcv_cert_covers(p.c, "gw1.example.com"));
	assert_false(dcv_cert_covers(p.c, "gw.example.com"));
	GEN(&q, 30, "*gw.example.com");
	assert_false(dcv_cert_covers(q.c, "agw.example.com"));
	GEN(&r, 30, "a.*.example.com");
	assert_false(dcv_cert_covers(r.c, "a.b.example.com"));
	pair_release(&p);
	pair_release(&q);
	pair_release(&r);
}

static void test_tls_ip_san_matches_ip_only(void **state)
{
	struct pair p, dns, v6;

	(void)state;
	GEN(&p, 30, "gw.example.com", "198.18.0.11");
	assert_true(dcv_cert_covers(p.c, "198.18.0.11"));
	assert_false(dcv_cert_covers(p.c, "198.18.0.12"));
	assert_true(dcv_cert_covers(p.c, "gw.example.com"));

	/* a DNS SAN spelled like an address does not cover that address */
	GEN(&dns, 30, "DNS:198.18.0.11");
	assert_false(dcv_cert_covers(dns.c, "198.18.0.11"));

	GEN(&v6, 30, "IP:2001:db8::11");
	assert_true(dcv_cert_covers(v6.c, "2001:db8::11"));
	assert_true(dcv_cert_covers(v6.c, "2001:0db8:0:0:0:0:0:11")); /* same address, other spelling */
	assert_false(dcv_cert_covers(v6.c, "2001:db8::12"));
	assert_false(dcv_cert_covers(v6.c, "198.18.0.11"));
	pair_release(&p);
	pair_release(&dns);
	pair_release(&v6);
}

static void test_tls_no_common_name_fallback(void **state)
{
	EVP_PKEY *k = new_key();
	X509 *x = make_cert("gw.example.com", k, NULL, NULL, -300, 86400, NULL, 0);
	X509 *y = make_cert("198.18.0.11", k, NULL, NULL, -300, 86400, NULL, 0);
	struct dcv_cert *c = dcv_cert_from_openssl(x, NULL);
	struct dcv_cert *d = dcv_cert_from_openssl(y, NULL);

	(void)state;
	/* dcv_cert_from_openssl took its own references */
	X509_free(x);
	X509_free(y);
	assert_false(dcv_cert_covers(c, "gw.example.com"));
	assert_false(dcv_cert_covers(d, "198.18.0.11"));
	dcv_cert_free(c);
	dcv_cert_free(d);
	EVP_PKEY_free(k);
}

static void test_tls_seed_wildcard_does_not_cover_vpc_endpoint(void **state)
{
	struct pair seed, exact;

	(void)state;
	GEN(&seed, 365, "*.vpce.amazonaws.com");
	assert_false(dcv_cert_covers(seed.c, ENDPOINT));
	GEN(&exact, 365, ENDPOINT);
	assert_true(dcv_cert_covers(exact.c, ENDPOINT));
	pair_release(&seed);
	pair_release(&exact);
}

static void test_tls_generate_names_are_exact(void **state)
{
	struct dcv_cert_info info;
	struct dcv_buf cert = DCV_BUF_INIT, key = DCV_BUF_INIT;
	struct dcv_err err = DCV_ERR_INIT;
	const char *const injected[] = { "a.example.com,DNS:b.example.com" };
	int rc;

	(void)state;
	/* no names: a usage error, nothing written */
	assert_int_equal(dcv_cert_generate(NULL, 0, 30, &cert, &key, &err), DCV_E_USAGE);
	assert_int_equal(cert.len, 0);
	assert_int_equal(key.len, 0);

	/* a name with a comma is one name, never two SANs */
	rc = dcv_cert_generate(injected, 1, 30, &cert, &key, &err);
	if (rc == DCV_OK) {
		struct dcv_cert *c = parse(&cert);
		dcv_cert_info(c, &info);
		assert_int_equal(info.n_sans, 1);
		assert_false(dcv_cert_covers(c, "b.example.com"));
		dcv_cert_info_release(&info);
		dcv_cert_free(c);
	}
	dcv_buf_release(&cert);
	dcv_buf_release(&key);
}

/* ---------------------------------------------------------------- peers' vectors */

/* Host-name vectors of four peers, each as (dNSName SAN, name, covered?). Where dcvctl
 * deliberately disagrees with the peer the line says why; the rules behind the disagreements:
 *  - partial wildcards (f*.example.com) are refused, as RFC 9525 6.3 does (curl and OpenSSL
 *    by default still take them);
 *  - a wildcard must leave two labels (no *.com), as OpenSSL and curl do (Go allows it);
 *  - an address is matched against IP SANs only, never a dNSName spelled like one;
 *  - a name with a leading dot or an empty label is never covered (OpenSSL reads ".x" as
 *    "anything under x"); one trailing dot is the root and is dropped before matching;
 *  - a name is letters, digits, '-' and '_' between dots: anything else covers nothing;
 *  - no CN fallback: the CPython vectors written as commonName are given as a dNSName here
 *    (the CN-only cases are in test_tls_cpython_common_name_only). */
struct name_vector {
	const char *san, *name;
	bool covered;
};

/* curl tests/unit/unit1397.c (Curl_cert_hostcheck) */
static const struct name_vector curl_unit1397[] = {
	{ "www.example.com", "www.example.com", true },
	{ "*.example.com", "www.example.com", true },
	{ "xxx*.example.com", "xxxwww.example.com", false }, /* curl: covered; partial wildcard */
	{ "f*.example.com", "foo.example.com", false },      /* curl: covered; partial wildcard */
	{ "192.168.0.0", "192.168.0.0", false },             /* curl: covered; a dNSName never covers an address */
	{ "xxx.example.com", "www.example.com", false },
	{ "*", "www.example.com", false },
	{ "*.*.com", "www.example.com", false },
	{ "*.example.com", "baa.foo.example.com", false },
	{ "f*.example.com", "baa.example.com", false },
	{ "*.com", "example.com", false },
	{ "*fail.com", "example.com", false },
	{ "*.example.", "www.example.", false },
	{ "*.example.", "www.example", false },
	{ "", "www", false },
	{ "*", "www", false },
	{ "*.168.0.0", "192.168.0.0", false },
	{ "www.example.com", "192.168.0.0", false },
	{ "*::3285:a9ff:fe46:b619", "fe80::3285:a9ff:fe46:b619", false },
	{ "fe80::3285:a9ff:fe46:b619", "fe80::3285:a9ff:fe46:b619", false }, /* curl: covered; address vs dNSName */
};

/* OpenSSL test/v3nametest.c, dNSName SANs: the exceptions list (what X509_check_host covers
 * beyond the exact name) and exact names that must cover themselves */
static const struct name_vector openssl_v3nametest[] = {
	{ "*.example.com", "www.example.com", true },
	{ "*.example.com", "a.example.com", true },
	{ "*.example.com", "b.example.com", true },
	{ "*.example.com", "xn--rger-koa.example.com", true },
	{ "*.www.example.com", "test.www.example.com", true },
	{ "*.xn--rger-koa.example.com", "www.xn--rger-koa.example.com", true },
	{ "*.xn--bar.com", "xn--foo.xn--bar.com", true },
	{ "*.good--example.com", "www.good--example.com", true },
	{ "*.www.example.com", ".www.example.com", false },    /* OpenSSL: covered; leading dot */
	{ "test.www.example.com", ".www.example.com", false }, /* OpenSSL: covered; leading dot */
	{ "*www.example.com", "www.example.com", false },      /* OpenSSL: covered; partial wildcard */
	{ "example.com", "example.com", true },
	{ "www.example.com", "www.example.com", true },
	{ "test.www.example.com", "test.www.example.com", true },
	{ "xn--rger-koa.example.com", "xn--rger-koa.example.com", true },
	{ "-example.com", "-example.com", true },
	{ "example-.com", "example-.com", true },
	{ "a", "a", true },
	{ ".", ".", false },   /* OpenSSL: covered (same name); empty label */
	{ ".a", ".a", false }, /* OpenSSL: covered (same name); leading dot */
	{ "..", "..", false }, /* OpenSSL: covered (same name); empty label */
	{ "*.example.com", "example.com", false },
	{ "*.example.com", "example.net", false },
	{ "*.com", "example.com", false },
	{ "*.*.com", "www.example.com", false },
	{ "test.*.example.com", "test.www.example.com", false },
	{ "www.*.com", "www.example.com", false },
	{ "*example.com", "example.com", false },
	{ "example.com", "example.net", false },
};

/* CPython Lib/test/test_ssl.py test_match_hostname (commonName cases given as dNSName) */
static const struct name_vector cpython_test_ssl[] = {
	{ "example.com", "example.com", true },
	{ "example.com", "ExAmple.cOm", true },
	{ "example.com", "www.example.com", false },
	{ "example.com", ".example.com", false },
	{ "example.com", "example.org", false },
	{ "example.com", "exampleXcom", false },
	{ "*.a.com", "foo.a.com", true },
	{ "*.a.com", "bar.foo.a.com", false },
	{ "*.a.com", "a.com", false },
	{ "*.a.com", "Xa.com", false },
	{ "*.a.com", ".a.com", false },
	{ "f*.com", "foo.com", false },
	{ "f*.com", "f.com", false },
	{ "f*.com", "bar.com", false },
	{ "f*.com", "foo.a.com", false },
	{ "f*.com", "bar.foo.com", false },
	{ "*.*.a.com", "bar.foo.a.com", false },
	{ "*.*.a.com", "a.com", false },
	{ "*.*.a.com", "Xa.com", false },
	{ "*.*.a.com", ".a.com", false },
	{ "a.*.com", "a.foo.com", false },
	{ "a.*.com", "a..com", false },
	{ "a.*.com", "a.com", false },
	{ "xn--pthon-kva.python.org", "xn--pthon-kva.python.org", true },
	{ "x*.python.org", "xn--pthon-kva.python.org", false },
	{ "xn--p*.python.org", "xn--pthon-kva.python.org", false },
	{ "www*.xn--pythn-mua.org", "www.xn--pythn-mua.org", false },
	{ "www*.xn--pythn-mua.org", "www1.xn--pythn-mua.org", false },
	{ "www*.xn--pythn-mua.org", "ftp.xn--pythn-mua.org", false },
	{ "www*.xn--pythn-mua.org", "xn--pythn-mua.org", false },
	{ "linuxfr.org", "linuxfr.org", true },
	{ "linuxfr.org", "<unsupported>", false },
	{ "mail.google.com", "mail.google.com", true },
	{ "mail.google.com", "gmail.com", false },
	{ "a*b.example.com", "axxb.example.com", false },
	{ "www.*.example.com", "www.sub.example.com", false },
	{ "a*b*.example.com", "axxbxxc.example.com", false },
	{ "*", "host", false },
	{ "*.com", "com", false },
};

/* Go src/crypto/x509/verify_test.go matchHostnamesTests (Certificate.VerifyHostname) */
static const struct name_vector go_verify_test[] = {
	{ "a.b.c", "a.b.c", true },
	{ "a.b.c", "b.b.c", false },
	{ "", "b.b.c", false },
	{ "a.b.c", "", false },
	{ "example.com", "example.com", true },
	{ "example.com", "www.example.com", false },
	{ "*.example.com", "example.com", false },
	{ "*.example.com", "www.example.com", true },
	{ "*.example.com", "www.example.com.", true },
	{ "*.example.com", "xyz.www.example.com", false },
	{ "*.example.com", "https://www.example.com", false },
	{ "*.example..com", "www.example..com", false },
	{ "www.example..com", "www.example..com", false }, /* Go: covered; empty label */
	{ "*.*.example.com", "xyz.www.example.com", false },
	{ "*.www.*.com", "xyz.www.example.com", false },
	{ "*bar.example.com", "foobar.example.com", false },
	{ "f*.example.com", "foobar.example.com", false },
	{ "www.example.com", "*.example.com", false },
	{ "", ".", false },
	{ ".", "", false },
	{ ".", ".", false },
	{ "example.com", "example.com.", true },
	{ "example.com.", "example.com", false },
	{ "example.com.", "example.com.", false }, /* Go: covered; a dNSName with a trailing dot is not RFC 5280's preferred syntax */
	{ "*.com.", "example.com.", false },
	{ "*.com.", "example.com", false },
	{ "*.com", "example.com", false },  /* Go: covered; a wildcard must leave two labels */
	{ "*.com", "example.com.", false }, /* Go: covered; a wildcard must leave two labels */
	{ "foo:bar", "foo:bar", false },    /* Go: covered; not a host name */
	{ "*.foo:bar", "xxx.foo:bar", false },
	{ "*.2.3.4", "1.2.3.4", false },
	{ "*.2.3.4", "[1.2.3.4]", false },
	{ "*:4860:4860::8888", "2001:4860:4860::8888", false },
	{ "*:4860:4860::8888", "[2001:4860:4860::8888]", false },
	{ "2001:4860:4860::8888", "2001:4860:4860::8888", false },
	{ "2001:4860:4860::8888", "[2001:4860:4860::8888]", false },
	{ "[2001:4860:4860::8888]", "2001:4860:4860::8888", false },
	{ "[2001:4860:4860::8888]", "[2001:4860:4860::8888]", false },
};

static void run_vectors(const char *peer, const struct name_vector *v, size_t n)
{
	EVP_PKEY *k = new_key();
	int wrong = 0;

	for (size_t i = 0; i < n; i++) {
		struct dcv_cert *c = cert_with_dns_san(k, v[i].san);
		bool got = dcv_cert_covers(c, v[i].name);
		if (got != v[i].covered) {
			print_error("%s #%zu: SAN '%s' %s '%s'\n", peer, i, v[i].san, got ? "covers" : "does not cover",
				    v[i].name);
			wrong++;
		}
		dcv_cert_free(c);
	}
	EVP_PKEY_free(k);
	assert_int_equal(wrong, 0);
}

#define RUN_VECTORS(t) run_vectors(#t, t, sizeof(t) / sizeof(t[0]))

static void test_tls_curl_unit1397_vectors(void **state)
{
	(void)state;
	RUN_VECTORS(curl_unit1397);
}

static void test_tls_openssl_v3nametest_vectors(void **state)
{
	(void)state;
	RUN_VECTORS(openssl_v3nametest);
}

static void test_tls_cpython_test_ssl_vectors(void **state)
{
	(void)state;
	RUN_VECTORS(cpython_test_ssl);
}

static void test_tls_go_verify_test_vectors(void **state)
{
	(void)state;
	RUN_VECTORS(go_verify_test);
}

/* CPython covers these through the commonName; dcvctl has no CN fallback (RFC 9525 6.3) */
static void test_tls_cpython_common_name_only(void **state)
{
	EVP_PKEY *k = new_key();
	X509 *x = make_cert("mail.google.com", k, NULL, NULL, -300, 86400, NULL, 0);
	struct dcv_cert *c = dcv_cert_from_openssl(x, NULL);

	(void)state;
	assert_false(dcv_cert_covers(c, "mail.google.com")); /* CPython: covered */
	assert_false(dcv_cert_covers(c, "gmail.com"));
	dcv_cert_free(c);
	X509_free(x);
	EVP_PKEY_free(k);
}

/* CPython's address vectors against iPAddress SANs */
static void test_tls_cpython_ip_vectors(void **state)
{
	struct pair v4, v6;

	(void)state;
	GEN(&v4, 30, "example.com", "IP:10.11.12.13", "IP:14.15.16.17", "IP:127.0.0.1");
	assert_true(dcv_cert_covers(v4.c, "10.11.12.13"));
	assert_true(dcv_cert_covers(v4.c, "14.15.16.17"));
	assert_false(dcv_cert_covers(v4.c, "127.1"));
	assert_false(dcv_cert_covers(v4.c, "14.15.16.17 "));
	assert_false(dcv_cert_covers(v4.c, "14.15.16.17 extra data"));
	assert_false(dcv_cert_covers(v4.c, "14.15.16.18"));
	assert_false(dcv_cert_covers(v4.c, "example.net"));
	GEN(&v6, 30, "example.com", "IP:2001:0:0:0:0:0:0:CAFE", "IP:2003:0:0:0:0:0:0:BABA");
	assert_true(dcv_cert_covers(v6.c, "2001::cafe"));
	assert_true(dcv_cert_covers(v6.c, "2003::baba"));
	assert_false(dcv_cert_covers(v6.c, "2003::baba "));
	assert_false(dcv_cert_covers(v6.c, "2003::baba extra data"));
	assert_false(dcv_cert_covers(v6.c, "2003::bebe"));
	assert_false(dcv_cert_covers(v6.c, "example.net"));
	pair_release(&v4);
	pair_release(&v6);
}

/* issue 11: `cert check --name .amazonaws.com` passed against *.vpce.amazonaws.com */
static void test_tls_leading_dot_and_empty_labels_never_covered(void **state)
{
	struct pair p;

	(void)state;
	GEN(&p, 30, "*.vpce.amazonaws.com", "gw.example.com");
	assert_false(dcv_cert_covers(p.c, ".amazonaws.com"));
	assert_false(dcv_cert_covers(p.c, ".vpce.amazonaws.com"));
	assert_false(dcv_cert_covers(p.c, ".example.com"));
	assert_false(dcv_cert_covers(p.c, "gw..example.com"));
	assert_false(dcv_cert_covers(p.c, "gw.example.com.."));
	assert_false(dcv_cert_covers(p.c, "."));
	assert_false(dcv_cert_covers(p.c, ""));
	assert_true(dcv_cert_covers(p.c, "a.vpce.amazonaws.com"));
	pair_release(&p);
}

/* a fully qualified name with the root's dot is the same name */
static void test_tls_trailing_dot_is_the_same_name(void **state)
{
	struct pair p;

	(void)state;
	GEN(&p, 30, "host.example.com", "*.vpce.amazonaws.com");
	assert_true(dcv_cert_covers(p.c, "host.example.com."));
	assert_true(dcv_cert_covers(p.c, "HOST.example.com."));
	assert_true(dcv_cert_covers(p.c, "a.vpce.amazonaws.com."));
	assert_false(dcv_cert_covers(p.c, "other.example.com."));
	pair_release(&p);
}

/* ---------------------------------------------------------------- expiry */

static void test_tls_days_left_arithmetic(void **state)
{
	struct pair p;
	struct dcv_cert_info info;
	time_t now = time(NULL), end;

	(void)state;
	GEN(&p, 30, "gw.example.com");
	dcv_cert_info(p.c, &info);
	end = info.not_after;
	/* generated for 30 days from now */
	assert_true(end >= now + 30L * 86400 - 5 && end <= now + 30L * 86400 + 5);
	assert_in_range(dcv_cert_days_left(&info, now), 29, 30);

	assert_int_equal(dcv_cert_days_left(&info, end - 10L * 86400), 10);
	assert_int_equal(dcv_cert_days_left(&info, end - 10L * 86400 + 1), 9);
	assert_int_equal(dcv_cert_days_left(&info, end - 86400), 1);
	assert_int_equal(dcv_cert_days_left(&info, end - 23L * 3600), 0);
	assert_int_equal(dcv_cert_days_left(&info, end), 0);
	assert_int_equal(dcv_cert_days_left(&info, end + 1), -1);
	assert_int_equal(dcv_cert_days_left(&info, end + 86400), -1);
	assert_int_equal(dcv_cert_days_left(&info, end + 86401), -2);
	assert_int_equal(dcv_cert_days_left(&info, end + 36L * 3600), -2);
	dcv_cert_info_release(&info);
	pair_release(&p);
}

/* ---------------------------------------------------------------- key match */

static void test_tls_key_match(void **state)
{
	struct pair a, b;
	struct dcv_err err = DCV_ERR_INIT;
	const char junk[] = "-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n";

	(void)state;
	GEN(&a, 30, "a.example.com");
	GEN(&b, 30, "a.example.com");
	assert_int_equal(dcv_cert_key_match(a.c, a.key.data, a.key.len, &err), DCV_OK);
	assert_int_equal(dcv_cert_key_match(b.c, b.key.data, b.key.len, &err), DCV_OK);
	assert_int_equal(dcv_cert_key_match(a.c, b.key.data, b.key.len, &err), DCV_E_REMOTE);
	assert_non_null(strstr(err.msg, "does not belong"));
	dcv_err_clear(&err);
	assert_int_equal(dcv_cert_key_match(a.c, junk, strlen(junk), &err), DCV_E_REMOTE);
	dcv_err_clear(&err);
	/* a certificate is not a key */
	assert_int_equal(dcv_cert_key_match(a.c, a.cert.data, a.cert.len, &err), DCV_E_REMOTE);
	pair_release(&a);
	pair_release(&b);
}

static void test_tls_key_match_rsa_key_against_ec_cert(void **state)
{
	struct pair a;
	struct dcv_err err = DCV_ERR_INIT;
	struct dcv_buf pem = DCV_BUF_INIT;
	EVP_PKEY *rsa = EVP_RSA_gen(2048);

	(void)state;
	assert_non_null(rsa);
	GEN(&a, 30, "a.example.com");
	key_pem(&pem, rsa);
	assert_int_equal(dcv_cert_key_match(a.c, pem.data, pem.len, &err), DCV_E_REMOTE);
	dcv_buf_release(&pem);
	EVP_PKEY_free(rsa);
	pair_release(&a);
}

/* ---------------------------------------------------------------- chain */

static void test_tls_verify_signed_by_ca(void **state)
{
	struct ca ca;
	EVP_PKEY *k = new_key();
	X509 *leaf;
	struct dcv_buf pem = DCV_BUF_INIT;
	struct dcv_cert *c;
	struct dcv_err err = DCV_ERR_INIT;

	(void)state;
	ca_init(&ca, "dcvctl test root");
	leaf = make_cert("gw.example.com", k, ca.cert, ca.key, -300, 7L * 86400, "DNS:gw.example.com", 0);
	pem_add(&pem, leaf);
	c = parse(&pem);
	if (dcv_cert_verify(c, ca.file, &err) != DCV_OK)
		fail_msg("verify: %s", err.msg);
	assert_true(dcv_cert_covers(c, "gw.example.com"));
	dcv_cert_free(c);
	dcv_buf_release(&pem);
	X509_free(leaf);
	EVP_PKEY_free(k);
	ca_release(&ca);
}

static void test_tls_verify_self_signed_fails(void **state)
{
	struct ca ca;
	struct pair p;
	struct dcv_err err = DCV_ERR_INIT;

	(void)state;
	ca_init(&ca, "dcvctl test root");
	GEN(&p, 30, "gw.example.com");
	assert_int_equal(dcv_cert_verify(p.c, ca.file, &err), DCV_E_REMOTE);
	if (!strstr(err.msg, "self-signed") && !strstr(err.msg, "self signed"))
		fail_msg("message does not say self-signed: %s", err.msg);
	pair_release(&p);
	ca_release(&ca);
}

static void test_tls_verify_expired_fails(void **state)
{
	struct ca ca;
	EVP_PKEY *k = new_key();
	X509 *leaf;
	struct dcv_buf pem = DCV_BUF_INIT;
	struct dcv_cert *c;
	struct dcv_err err = DCV_ERR_INIT;
	struct dcv_cert_info info;

	(void)state;
	ca_init(&ca, "dcvctl test root");
	leaf = make_cert("gw.example.com", k, ca.cert, ca.key, -20L * 86400, -86400, "DNS:gw.example.com", 0);
	pem_add(&pem, leaf);
	c = parse(&pem);
	assert_int_equal(dcv_cert_verify(c, ca.file, &err), DCV_E_REMOTE);
	if (!strstr(err.msg, "expired"))
		fail_msg("message does not say expired: %s", err.msg);
	dcv_cert_info(c, &info);
	assert_true(dcv_cert_days_left(&info, time(NULL)) < 0);
	dcv_cert_info_release(&info);
	dcv_cert_free(c);
	dcv_buf_release(&pem);
	X509_free(leaf);
	EVP_PKEY_free(k);
	ca_release(&ca);
}

static void test_tls_verify_other_ca_fails(void **state)
{
	struct ca ca, other;
	EVP_PKEY *k = new_key();
	X509 *leaf;
	struct dcv_buf pem = DCV_BUF_INIT;
	struct dcv_cert *c;
	struct dcv_err err = DCV_ERR_INIT;

	(void)state;
	ca_init(&ca, "dcvctl test root");
	ca_init(&other, "someone else's root");
	leaf = make_cert("gw.example.com", k, other.cert, other.key, -300, 86400, "DNS:gw.example.com", 0);
	pem_add(&pem, leaf);
	c = parse(&pem);
	assert_int_equal(dcv_cert_verify(c, ca.file, &err), DCV_E_REMOTE);
	assert_non_null(strstr(err.msg, "issuer"));
	dcv_err_clear(&err);
	assert_int_equal(dcv_cert_verify(c, other.file, &err), DCV_OK);
	dcv_cert_free(c);
	dcv_buf_release(&pem);
	X509_free(leaf);
	EVP_PKEY_free(k);
	ca_release(&ca);
	ca_release(&other);
}

static void test_tls_verify_uses_the_chain_that_came_with_the_leaf(void **state)
{
	struct ca root;
	EVP_PKEY *ik = new_key(), *k = new_key();
	X509 *inter, *leaf;
	struct dcv_buf full = DCV_BUF_INIT, alone = DCV_BUF_INIT;
	struct dcv_cert *c, *bare, *live;
	struct dcv_err err = DCV_ERR_INIT;
	STACK_OF(X509) *sk = sk_X509_new_null();

	(void)state;
	ca_init(&root, "dcvctl test root");
	inter = make_cert("dcvctl test intermediate", ik, root.cert, root.key, -300, 20L * 86400, NULL, 1);
	leaf = make_cert("gw.example.com", k, inter, ik, -300, 7L * 86400, "DNS:gw.example.com", 0);
	pem_add(&full, leaf);
	pem_add(&full, inter);
	pem_add(&alone, leaf);

	c = parse(&full);
	if (dcv_cert_verify(c, root.file, &err) != DCV_OK)
		fail_msg("leaf + intermediate: %s", err.msg);
	bare = parse(&alone);
	assert_int_equal(dcv_cert_verify(bare, root.file, &err), DCV_E_REMOTE);

	/* as a TLS connection hands them over: the peer chain starts with the leaf itself */
	sk_X509_push(sk, leaf);
	sk_X509_push(sk, inter);
	live = dcv_cert_from_openssl(leaf, sk);
	dcv_err_clear(&err);
	if (dcv_cert_verify(live, root.file, &err) != DCV_OK)
		fail_msg("from openssl: %s", err.msg);
	sk_X509_free(sk);

	dcv_cert_free(c);
	dcv_cert_free(bare);
	dcv_cert_free(live);
	dcv_buf_release(&full);
	dcv_buf_release(&alone);
	X509_free(leaf);
	X509_free(inter);
	EVP_PKEY_free(k);
	EVP_PKEY_free(ik);
	ca_release(&root);
}

/* A leaf for TLS clients only (extendedKeyUsage clientAuth) signed by `ca`. */
static X509 *client_only_leaf(EVP_PKEY *k, struct ca *ca)
{
	X509 *x = X509_new();

	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 4242);
	X509_gmtime_adj(X509_getm_notBefore(x), -300);
	X509_gmtime_adj(X509_getm_notAfter(x), 86400);
	X509_set_pubkey(x, k);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_UTF8,
				   (const unsigned char *)"gw.example.com", -1, -1, 0);
	X509_set_issuer_name(x, X509_get_subject_name(ca->cert));
	add_ext(x, ca->cert, NID_authority_key_identifier, "keyid:always");
	add_ext(x, ca->cert, NID_basic_constraints, "critical,CA:FALSE");
	add_ext(x, ca->cert, NID_ext_key_usage, "clientAuth");
	add_ext(x, ca->cert, NID_subject_alt_name, "DNS:gw.example.com");
	assert_true(X509_sign(x, ca->key, EVP_sha256()) > 0);
	return x;
}

static void test_tls_verify_client_only_leaf_fails(void **state)
{
	struct ca ca;
	EVP_PKEY *k = new_key();
	X509 *leaf;
	struct dcv_cert *c;
	struct dcv_err err = DCV_ERR_INIT;

	(void)state;
	ca_init(&ca, "dcvctl test root");
	leaf = client_only_leaf(k, &ca);
	c = dcv_cert_from_openssl(leaf, NULL);
	assert_int_equal(dcv_cert_verify(c, ca.file, &err), DCV_E_REMOTE);
	if (!strstr(err.msg, "purpose"))
		fail_msg("message does not name the purpose: %s", err.msg);
	dcv_cert_free(c);
	X509_free(leaf);
	EVP_PKEY_free(k);
	ca_release(&ca);
}

static void test_tls_verify_not_yet_valid_fails(void **state)
{
	struct ca ca;
	EVP_PKEY *k = new_key();
	X509 *leaf;
	struct dcv_cert *c;
	struct dcv_err err = DCV_ERR_INIT;
	struct dcv_cert_info info;

	(void)state;
	ca_init(&ca, "dcvctl test root");
	leaf = make_cert("gw.example.com", k, ca.cert, ca.key, 86400, 7L * 86400, "DNS:gw.example.com", 0);
	c = dcv_cert_from_openssl(leaf, NULL);
	assert_int_equal(dcv_cert_verify(c, ca.file, &err), DCV_E_REMOTE);
	if (!strstr(err.msg, "not yet valid"))
		fail_msg("message does not say not yet valid: %s", err.msg);
	dcv_cert_info(c, &info);
	assert_true(dcv_cert_not_yet_valid(&info, time(NULL)));
	assert_false(dcv_cert_not_yet_valid(&info, info.not_before));
	dcv_cert_info_release(&info);
	dcv_cert_free(c);
	X509_free(leaf);
	EVP_PKEY_free(k);
	ca_release(&ca);
}

static void test_tls_verify_missing_ca_file_is_io_error(void **state)
{
	struct pair p;
	struct dcv_err err = DCV_ERR_INIT;

	(void)state;
	GEN(&p, 30, "gw.example.com");
	assert_int_equal(dcv_cert_verify(p.c, "/nonexistent/dcvctl-ca.pem", &err), DCV_E_IO);
	assert_non_null(strstr(err.msg, "/nonexistent/dcvctl-ca.pem"));
	pair_release(&p);
}

/* ---------------------------------------------------------------- inspection */

static void test_tls_parse_pem_rejects_junk(void **state)
{
	struct dcv_cert *c = NULL;
	struct dcv_err err = DCV_ERR_INIT;
	const char junk[] = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";

	(void)state;
	assert_int_equal(dcv_cert_parse_pem("", 0, &c, &err), DCV_E_REMOTE);
	assert_null(c);
	assert_int_equal(dcv_cert_parse_pem(junk, strlen(junk), &c, &err), DCV_E_REMOTE);
	assert_null(c);
	dcv_cert_free(NULL);
}

static void test_tls_info_fields(void **state)
{
	struct pair p;
	struct dcv_cert_info info;
	X509 *x;
	BIO *b;
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	char want[128] = "";
	time_t now = time(NULL);

	(void)state;
	GEN(&p, 90, "gw.example.com", "198.18.0.11", "DNS:198.18.0.12", "IP:2001:db8::11", "*.example.com",
	    "DNS:" ENDPOINT);
	dcv_cert_info(p.c, &info);
	assert_int_equal(info.n_sans, 6);
	assert_string_equal(info.sans[0], "DNS:gw.example.com");
	assert_string_equal(info.sans[1], "IP:198.18.0.11");
	assert_string_equal(info.sans[2], "DNS:198.18.0.12");
	assert_string_equal(info.sans[3], "IP:2001:db8::11");
	assert_string_equal(info.sans[4], "DNS:*.example.com");
	assert_string_equal(info.sans[5], "DNS:" ENDPOINT);
	assert_non_null(strstr(info.subject, "gw.example.com")); /* CN = the first DNS name */
	assert_string_equal(info.subject, info.issuer);
	assert_string_equal(info.key_type, "EC 256");
	assert_true(info.not_before <= now && info.not_before >= now - 600);
	assert_true(info.not_after > now + 89L * 86400);

	/* the SHA-256 fingerprint: all 32 bytes, colon-separated, upper case */
	b = BIO_new_mem_buf(p.cert.data, (int)p.cert.len);
	x = PEM_read_bio_X509(b, NULL, NULL, NULL);
	BIO_free(b);
	assert_non_null(x);
	assert_int_equal(X509_digest(x, EVP_sha256(), md, &mdlen), 1);
	for (unsigned i = 0; i < mdlen; i++)
		snprintf(want + 3 * i, 4, i + 1 < mdlen ? "%02X:" : "%02X", md[i]);
	assert_int_equal(strlen(want), 95);
	assert_string_equal(info.sha256, want);
	X509_free(x);
	dcv_cert_info_release(&info);
	assert_int_equal(info.n_sans, 0);
	pair_release(&p);
}

static void test_tls_info_self_signed_flag(void **state)
{
	struct pair p;
	struct dcv_cert_info info;
	struct ca ca;
	EVP_PKEY *k = new_key();
	X509 *leaf;
	struct dcv_cert *c;

	(void)state;
	/* dcvctl's own certificate is self-signed (issuer = subject, signed by its own key) */
	GEN(&p, 30, "gw.example.com");
	dcv_cert_info(p.c, &info);
	assert_true(info.self_signed);
	dcv_cert_info_release(&info);

	ca_init(&ca, "dcvctl test root");
	c = dcv_cert_from_openssl(ca.cert, NULL);
	dcv_cert_info(c, &info);
	assert_true(info.self_signed);
	dcv_cert_info_release(&info);
	dcv_cert_free(c);

	leaf = make_cert("gw.example.com", k, ca.cert, ca.key, -300, 86400, "DNS:gw.example.com", 0);
	c = dcv_cert_from_openssl(leaf, NULL);
	dcv_cert_info(c, &info);
	assert_false(info.self_signed);
	assert_non_null(strstr(info.issuer, "dcvctl test root"));
	assert_int_equal(info.n_sans, 1);
	assert_string_equal(info.sans[0], "DNS:gw.example.com");
	dcv_cert_info_release(&info);
	dcv_cert_free(c);
	X509_free(leaf);
	EVP_PKEY_free(k);
	ca_release(&ca);
	pair_release(&p);
}

static void test_tls_info_rsa_key_type(void **state)
{
	EVP_PKEY *k = EVP_RSA_gen(2048);
	X509 *x;
	struct dcv_cert *c;
	struct dcv_cert_info info;

	(void)state;
	assert_non_null(k);
	x = make_cert("rsa.example.com", k, NULL, NULL, -300, 86400, "DNS:rsa.example.com", 0);
	c = dcv_cert_from_openssl(x, NULL);
	dcv_cert_info(c, &info);
	assert_string_equal(info.key_type, "RSA 2048");
	dcv_cert_info_release(&info);
	dcv_cert_free(c);
	X509_free(x);
	EVP_PKEY_free(k);
}

static void test_tls_info_ip_sans_of_odd_length_are_invalid(void **state)
{
	const int lens[] = { 0, 1, 5, 15, 4, 16, 17 };
	EVP_PKEY *k = new_key();
	struct dcv_cert *c = cert_with_ip_sans(k, lens, 7);
	struct dcv_cert_info info;

	(void)state;
	dcv_cert_info(c, &info);
	assert_int_equal(info.n_sans, 7);
	assert_string_equal(info.sans[0], "IP:invalid (0 bytes)");
	assert_string_equal(info.sans[1], "IP:invalid (1 bytes)");
	assert_string_equal(info.sans[2], "IP:invalid (5 bytes)");
	assert_string_equal(info.sans[3], "IP:invalid (15 bytes)");
	assert_string_equal(info.sans[4], "IP:1.2.3.4");
	assert_string_equal(info.sans[5], "IP:102:304:506:708:90a:b0c:d0e:f10");
	assert_string_equal(info.sans[6], "IP:invalid (17 bytes)");
	/* an invalid entry covers nothing, a valid one still does */
	assert_false(dcv_cert_covers(c, "1.2.3.4.5"));
	assert_false(dcv_cert_covers(c, "1.2.3.5"));
	assert_true(dcv_cert_covers(c, "1.2.3.4"));
	dcv_cert_info_release(&info);
	dcv_cert_free(c);
	EVP_PKEY_free(k);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tls_covers_exact_name),
		cmocka_unit_test(test_tls_wildcard_covers_one_label),
		cmocka_unit_test(test_tls_partial_wildcards_refused),
		cmocka_unit_test(test_tls_ip_san_matches_ip_only),
		cmocka_unit_test(test_tls_no_common_name_fallback),
		cmocka_unit_test(test_tls_seed_wildcard_does_not_cover_vpc_endpoint),
		cmocka_unit_test(test_tls_generate_names_are_exact),
		cmocka_unit_test(test_tls_leading_dot_and_empty_labels_never_covered),
		cmocka_unit_test(test_tls_trailing_dot_is_the_same_name),
		cmocka_unit_test(test_tls_curl_unit1397_vectors),
		cmocka_unit_test(test_tls_openssl_v3nametest_vectors),
		cmocka_unit_test(test_tls_cpython_test_ssl_vectors),
		cmocka_unit_test(test_tls_go_verify_test_vectors),
		cmocka_unit_test(test_tls_cpython_common_name_only),
		cmocka_unit_test(test_tls_cpython_ip_vectors),
		cmocka_unit_test(test_tls_days_left_arithmetic),
		cmocka_unit_test(test_tls_key_match),
		cmocka_unit_test(test_tls_key_match_rsa_key_against_ec_cert),
		cmocka_unit_test(test_tls_verify_signed_by_ca),
		cmocka_unit_test(test_tls_verify_self_signed_fails),
		cmocka_unit_test(test_tls_verify_expired_fails),
		cmocka_unit_test(test_tls_verify_other_ca_fails),
		cmocka_unit_test(test_tls_verify_uses_the_chain_that_came_with_the_leaf),
		cmocka_unit_test(test_tls_verify_missing_ca_file_is_io_error),
		cmocka_unit_test(test_tls_verify_client_only_leaf_fails),
		cmocka_unit_test(test_tls_verify_not_yet_valid_fails),
		cmocka_unit_test(test_tls_parse_pem_rejects_junk),
		cmocka_unit_test(test_tls_info_fields),
		cmocka_unit_test(test_tls_info_self_signed_flag),
		cmocka_unit_test(test_tls_info_rsa_key_type),
		cmocka_unit_test(test_tls_info_ip_sans_of_odd_length_are_invalid),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
