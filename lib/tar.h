/* tar.h - the archive format of `dcvctl backup`: POSIX ustar in gzip (zlib), written and read in
 * memory. The reader is for archives from anywhere: it checks every header and never trusts a
 * size, a name or a type; what an entry may be is decided by the caller (lib/backup.h). */
#ifndef DCV_TAR_H
#define DCV_TAR_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

struct dcv_err;

/* A member as its header says; `data` points into the archive handed to dcv_tar_parse. */
struct dcv_tar_entry {
	char name[256];     /* prefix "/" name, as tar(1) joins them */
	char type;          /* ustar typeflag: '0' file, '1' hard link, '2' symlink, '3'/'4' device, ... */
	unsigned mode;      /* permission bits only */
	size_t size;
	const char *data;   /* size bytes; NULL for non-files */
	char linkname[101]; /* for links: their target, as written */
};

/* The largest archive dcvctl reads, uncompressed: far above any set of config files, and the
 * bound that keeps a gzip bomb from filling memory. */
#define DCV_TAR_MAX (64u * 1024 * 1024)

/* Append one regular file to `tar` (root:root, `mode`, `mtime`). DCV_E_USAGE when the name does
 * not fit ustar's 100 + 155 bytes. */
int dcv_tar_add(struct dcv_buf *tar, const char *name, unsigned mode, const void *data, size_t len,
		long long mtime, struct dcv_err *err);
/* The end-of-archive marker: two zero blocks. */
void dcv_tar_finish(struct dcv_buf *tar);

/* Every member of the ustar archive `data`, in order (*out malloc'd, entries borrow `data`).
 * DCV_E_IO with the offset when a header is malformed (checksum, magic, numbers, names with a
 * NUL missing, data past the end). */
int dcv_tar_parse(const char *data, size_t len, struct dcv_tar_entry **out, int *n, struct dcv_err *err);

/* gzip (RFC 1952) of `in`, appended to `out`. */
int dcv_gzip(const void *in, size_t len, struct dcv_buf *out, struct dcv_err *err);
/* Decompress a gzip stream into `out`; refuses more than `max` bytes out and trailing garbage. */
int dcv_gunzip(const void *in, size_t len, size_t max, struct dcv_buf *out, struct dcv_err *err);

#endif
