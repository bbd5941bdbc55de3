/* util.h - small pure helpers: shell quoting, edit distance, durations, host:port. */
#ifndef DCV_UTIL_H
#define DCV_UTIL_H

#include <stdbool.h>
#include <stddef.h>

struct dcv_buf;

/* Append `s` quoted for a POSIX shell: the shell sees exactly `s` as one word. */
void dcv_shquote(struct dcv_buf *out, const char *s);
/* Append argv as one shell command line, every word quoted. */
void dcv_shquote_argv(struct dcv_buf *out, const char *const *argv, int argc);

/* Levenshtein distance (insert, delete, substitute, transpose of neighbours). */
int dcv_edit_distance(const char *a, const char *b);
/* The candidate nearest to `word` if close enough to be a plausible typo, else NULL. */
const char *dcv_nearest(const char *word, const char *const *candidates, size_t n);

/* "10s", "5m", "1h", "250ms", "30" (seconds) -> milliseconds. Returns false on bad input. */
bool dcv_parse_duration(const char *s, long *ms);
/* Format milliseconds the way the inventory writes them (10s, 5m, 1500ms). */
void dcv_format_duration(struct dcv_buf *out, long ms);
/* "host:port", "[v6]:port" or "host" (port = default_port). Returns false on bad input;
 * *host is malloc'd on success. */
bool dcv_parse_hostport(const char *s, int default_port, char **host, int *port);
/* "yes/no/true/false/on/off/1/0". */
bool dcv_parse_bool(const char *s, bool *v);
/* Decimal integer in [min, max]. */
bool dcv_parse_int(const char *s, long min, long max, long *v);

/* Read a whole local file into out (appended). -1 with errno set on failure. */
int dcv_file_read(const char *path, struct dcv_buf *out);
/* Write a local file atomically (a fresh unpredictable temp file beside it, fsync, rename) with
 * exactly `mode` (the caller applies the umask when it wants it); the target never holds a
 * partial file and a symlink planted beside it or at it is never followed. -1 with errno set. */
int dcv_file_write_atomic(const char *path, const void *data, size_t len, unsigned mode);

/* Milliseconds on the monotonic clock. */
long long dcv_now_ms(void);

#endif
