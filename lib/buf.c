#include "buf.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void oom(void)
{
	fputs("dcvctl: out of memory\n", stderr);
	abort();
}

void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		oom();
	return p;
}

void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);
	if (!p)
		oom();
	return p;
}

void *xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (!p)
		oom();
	return p;
}

char *xstrdup(const char *s)
{
	return xstrndup(s, strlen(s));
}

char *xstrndup(const char *s, size_t n)
{
	char *p = xmalloc(n + 1);
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

char *xasprintf(const char *fmt, ...)
{
	struct dcv_buf b = DCV_BUF_INIT;
	va_list ap;

	va_start(ap, fmt);
	dcv_buf_vaddf(&b, fmt, ap);
	va_end(ap);
	return dcv_buf_detach(&b);
}

void dcv_buf_init(struct dcv_buf *b)
{
	b->data = NULL;
	b->len = b->cap = 0;
}

void dcv_buf_release(struct dcv_buf *b)
{
	free(b->data);
	dcv_buf_init(b);
}

void dcv_buf_reset(struct dcv_buf *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = '\0';
}

static void grow(struct dcv_buf *b, size_t extra)
{
	size_t need = b->len + extra + 1;

	if (need <= b->cap)
		return;
	size_t cap = b->cap ? b->cap : 64;
	while (cap < need)
		cap *= 2;
	b->data = xrealloc(b->data, cap);
	b->cap = cap;
}

void dcv_buf_add(struct dcv_buf *b, const void *p, size_t n)
{
	grow(b, n);
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
}

void dcv_buf_adds(struct dcv_buf *b, const char *s)
{
	dcv_buf_add(b, s, strlen(s));
}

void dcv_buf_addc(struct dcv_buf *b, char c)
{
	dcv_buf_add(b, &c, 1);
}

void dcv_buf_vaddf(struct dcv_buf *b, const char *fmt, va_list ap)
{
	va_list cp;
	int n;

	va_copy(cp, ap);
	n = vsnprintf(NULL, 0, fmt, cp);
	va_end(cp);
	if (n < 0)
		return;
	grow(b, (size_t)n);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	b->len += (size_t)n;
}

void dcv_buf_addf(struct dcv_buf *b, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	dcv_buf_vaddf(b, fmt, ap);
	va_end(ap);
}

const char *dcv_buf_str(const struct dcv_buf *b)
{
	return b->data ? b->data : "";
}

char *dcv_buf_detach(struct dcv_buf *b)
{
	char *s = b->data ? b->data : xstrdup("");
	dcv_buf_init(b);
	return s;
}

void dcv_buf_rtrim(struct dcv_buf *b)
{
	while (b->len && isspace((unsigned char)b->data[b->len - 1]))
		b->data[--b->len] = '\0';
}
