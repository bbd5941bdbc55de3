/* buf.h - growable byte/string buffer and allocation helpers that abort on OOM. */
#ifndef DCV_BUF_H
#define DCV_BUF_H

#include <stdarg.h>
#include <stddef.h>

void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Always NUL-terminated after any append; `data` may be NULL while len == 0. */
struct dcv_buf {
	char *data;
	size_t len;
	size_t cap;
};

#define DCV_BUF_INIT { NULL, 0, 0 }

void dcv_buf_init(struct dcv_buf *b);
void dcv_buf_release(struct dcv_buf *b);
void dcv_buf_reset(struct dcv_buf *b);
void dcv_buf_add(struct dcv_buf *b, const void *p, size_t n);
void dcv_buf_adds(struct dcv_buf *b, const char *s);
void dcv_buf_addc(struct dcv_buf *b, char c);
void dcv_buf_addf(struct dcv_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void dcv_buf_vaddf(struct dcv_buf *b, const char *fmt, va_list ap);
/* The string, never NULL ("" when empty); owned by the buffer. */
const char *dcv_buf_str(const struct dcv_buf *b);
/* Hand the string over to the caller (caller frees); the buffer is left empty. */
char *dcv_buf_detach(struct dcv_buf *b);
/* Remove trailing whitespace. */
void dcv_buf_rtrim(struct dcv_buf *b);

#endif
