/* ustar + gzip in memory. Written by hand rather than through libarchive: dcvctl writes one
 * kind of member (a regular file) and reads back only that, so a few hundred lines it can fuzz
 * whole beat a library whose every format (pax, cpio, zip, ...) would be attack surface. */
#include "tar.h"

#include "err.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define BLOCK 512

static void octal(char *field, size_t width, unsigned long long v)
{
	/* width - 1 digits and a NUL, as GNU tar writes them */
	snprintf(field, width, "%0*llo", (int)(width - 1), v);
}

static unsigned checksum(const unsigned char *h)
{
	unsigned sum = 0;

	for (int i = 0; i < BLOCK; i++)
		sum += (i >= 148 && i < 156) ? ' ' : h[i];
	return sum;
}

/* Where to cut a long name into ustar's prefix (155) and name (100): at a '/'. */
static int split_name(const char *name, size_t len)
{
	if (len <= 100)
		return 0;
	for (size_t i = len - 1; i > 0; i--) {
		if (name[i] != '/')
			continue;
		if (i <= 155 && len - i - 1 <= 100 && len - i - 1 > 0)
			return (int)i;
		if (i < len - 101)
			break;
	}
	return -1;
}

int dcv_tar_add(struct dcv_buf *tar, const char *name, unsigned mode, const void *data, size_t len,
		long long mtime, struct dcv_err *err)
{
	unsigned char h[BLOCK];
	size_t nl = strlen(name);
	int cut = split_name(name, nl);
	static const char zeros[BLOCK];

	if (nl == 0 || cut < 0)
		return dcv_err_set(err, DCV_E_USAGE, "'%s': name too long for a tar archive", name);
	memset(h, 0, sizeof(h));
	if (cut) {
		memcpy(h + 345, name, (size_t)cut);
		memcpy(h, name + cut + 1, nl - (size_t)cut - 1);
	} else {
		memcpy(h, name, nl);
	}
	octal((char *)h + 100, 8, mode & 07777);
	octal((char *)h + 108, 8, 0);
	octal((char *)h + 116, 8, 0);
	octal((char *)h + 124, 12, len);
	octal((char *)h + 136, 12, mtime > 0 ? (unsigned long long)mtime : 0);
	h[156] = '0';
	memcpy(h + 257, "ustar", 6);
	memcpy(h + 263, "00", 2);
	memcpy(h + 265, "root", 4);
	memcpy(h + 297, "root", 4);
	snprintf((char *)h + 148, 8, "%06o", checksum(h));
	h[155] = ' ';
	dcv_buf_add(tar, h, sizeof(h));
	dcv_buf_add(tar, data, len);
	if (len % BLOCK)
		dcv_buf_add(tar, zeros, BLOCK - len % BLOCK);
	return DCV_OK;
}

void dcv_tar_finish(struct dcv_buf *tar)
{
	static const char zeros[2 * BLOCK];

	dcv_buf_add(tar, zeros, sizeof(zeros));
}

/* An octal field: optional leading spaces, digits, then only NULs or spaces. */
static bool parse_octal(const unsigned char *f, size_t width, unsigned long long max,
			unsigned long long *v)
{
	size_t i = 0;
	unsigned long long n = 0;
	bool digits = false;

	while (i < width && f[i] == ' ')
		i++;
	for (; i < width && f[i] >= '0' && f[i] <= '7'; i++) {
		if (n > (max >> 3))
			return false;
		n = n * 8 + (unsigned)(f[i] - '0');
		digits = true;
	}
	for (; i < width; i++)
		if (f[i] != '\0' && f[i] != ' ')
			return false;
	if (!digits || n > max)
		return false;
	*v = n;
	return true;
}

static bool all_zero(const unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

static int bad(struct dcv_err *err, size_t off, const char *what)
{
	return dcv_err_set(err, DCV_E_IO, "not a readable tar archive: %s in the header at offset %zu", what, off);
}

/* One header at `off` into `e`; *next is the offset of the one after it. */
static int parse_header(const unsigned char *h, size_t off, size_t len, struct dcv_tar_entry *e,
			size_t *next, struct dcv_err *err)
{
	unsigned long long mode, size, sum;
	size_t nl = strnlen((const char *)h, 100), pl = strnlen((const char *)h + 345, 155);

	if (memcmp(h + 257, "ustar", 5) != 0)
		return bad(err, off, "no ustar magic");
	if (!parse_octal(h + 148, 8, 0777777, &sum) || sum != checksum(h))
		return bad(err, off, "a wrong checksum");
	if (!parse_octal(h + 100, 8, 07777777, &mode) || !parse_octal(h + 124, 12, DCV_TAR_MAX, &size))
		return bad(err, off, "a malformed number");
	if (nl == 0)
		return bad(err, off, "an empty name");
	memset(e, 0, sizeof(*e));
	/* GNU tar's own format keeps other fields in the prefix: only ustar has one */
	if (h[262] == '\0' && pl) {
		memcpy(e->name, h + 345, pl);
		e->name[pl] = '/';
		memcpy(e->name + pl + 1, h, nl);
	} else {
		memcpy(e->name, h, nl);
	}
	e->type = h[156] ? (char)h[156] : '0';
	e->mode = (unsigned)(mode & 07777);
	e->size = (size_t)size;
	memcpy(e->linkname, h + 157, strnlen((const char *)h + 157, 100));
	if (size > len - off - BLOCK)
		return bad(err, off, "data past the end of the archive");
	if (e->type == '0' || e->type == '7')
		e->data = (const char *)h + BLOCK;
	*next = off + BLOCK + (size + BLOCK - 1) / BLOCK * BLOCK;
	if (*next > len)
		*next = len;
	return DCV_OK;
}

int dcv_tar_parse(const char *data, size_t len, struct dcv_tar_entry **out, int *n, struct dcv_err *err)
{
	struct dcv_tar_entry *v = NULL;
	int count = 0, rc = DCV_OK;
	size_t off = 0;

	while (off < len) {
		const unsigned char *h = (const unsigned char *)data + off;
		size_t next = len;
		if (len - off < BLOCK) {
			rc = bad(err, off, "a truncated block");
			break;
		}
		if (all_zero(h, BLOCK))
			break; /* the end marker; what follows is padding */
		v = xrealloc(v, sizeof(*v) * (size_t)(count + 1));
		if ((rc = parse_header(h, off, len, &v[count], &next, err)) != DCV_OK)
			break;
		count++;
		off = next;
	}
	if (rc != DCV_OK) {
		free(v);
		return rc;
	}
	*out = v;
	*n = count;
	return DCV_OK;
}

int dcv_gzip(const void *in, size_t len, struct dcv_buf *out, struct dcv_err *err)
{
	z_stream z;
	unsigned char chunk[16384];
	int zrc;

	memset(&z, 0, sizeof(z));
	/* 15 + 16: a gzip wrapper rather than zlib's */
	if (deflateInit2(&z, Z_BEST_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		return dcv_err_set(err, DCV_E_INTERNAL, "zlib: cannot start compressing");
	z.next_in = (unsigned char *)(uintptr_t)in;
	z.avail_in = (uInt)len;
	do {
		z.next_out = chunk;
		z.avail_out = sizeof(chunk);
		zrc = deflate(&z, Z_FINISH);
		dcv_buf_add(out, chunk, sizeof(chunk) - z.avail_out);
	} while (zrc == Z_OK);
	deflateEnd(&z);
	if (zrc != Z_STREAM_END)
		return dcv_err_set(err, DCV_E_INTERNAL, "zlib: compressing failed (%d)", zrc);
	return DCV_OK;
}

int dcv_gunzip(const void *in, size_t len, size_t max, struct dcv_buf *out, struct dcv_err *err)
{
	z_stream z;
	unsigned char chunk[16384];
	size_t total = 0;
	int zrc;

	memset(&z, 0, sizeof(z));
	if (inflateInit2(&z, 15 + 16) != Z_OK)
		return dcv_err_set(err, DCV_E_INTERNAL, "zlib: cannot start decompressing");
	z.next_in = (unsigned char *)(uintptr_t)in;
	z.avail_in = (uInt)len;
	do {
		z.next_out = chunk;
		z.avail_out = sizeof(chunk);
		zrc = inflate(&z, Z_NO_FLUSH);
		if (zrc != Z_OK && zrc != Z_STREAM_END)
			break;
		total += sizeof(chunk) - z.avail_out;
		if (total > max) {
			inflateEnd(&z);
			return dcv_err_set(err, DCV_E_IO, "not a dcvctl backup: more than %zu bytes uncompressed", max);
		}
		dcv_buf_add(out, chunk, sizeof(chunk) - z.avail_out);
	} while (zrc == Z_OK && (z.avail_in > 0 || z.avail_out == 0));
	inflateEnd(&z);
	if (zrc != Z_STREAM_END)
		return dcv_err_set(err, DCV_E_IO, "not a gzip file, or a truncated one%s%s",
				   z.msg ? ": " : "", z.msg ? z.msg : "");
	if (z.avail_in != 0)
		return dcv_err_set(err, DCV_E_IO, "trailing data after the gzip stream");
	return DCV_OK;
}
