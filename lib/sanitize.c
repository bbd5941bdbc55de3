#include "sanitize.h"

#include <stdbool.h>
#include <string.h>

#include "buf.h"

/* Length of the UTF-8 sequence at s and its code point, or 0 when the bytes are not UTF-8
 * (overlong forms, surrogates and values past U+10FFFF included). */
static int utf8_decode(const unsigned char *s, unsigned *cp)
{
	static const unsigned min[] = { 0, 0, 0x80, 0x800, 0x10000 };
	int len = s[0] < 0x80 ? 1 : (s[0] & 0xe0) == 0xc0 ? 2 : (s[0] & 0xf0) == 0xe0 ? 3
		: (s[0] & 0xf8) == 0xf0 ? 4 : 0;
	unsigned v;

	if (len <= 1) {
		*cp = s[0];
		return len;
	}
	v = s[0] & (0x7f >> len);
	for (int i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		v = v << 6 | (s[i] & 0x3f);
	}
	if (v < min[len] || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
		return 0;
	*cp = v;
	return len;
}

static bool is_control(unsigned cp)
{
	if (cp == '\t' || cp == '\n' || cp == '\r')
		return false;
	/* LRE..RLO and LRI..PDI: "Trojan Source" reordering of a line */
	return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) || (cp >= 0x202a && cp <= 0x202e) ||
	       (cp >= 0x2066 && cp <= 0x2069);
}

char *dcv_sanitize(const char *s)
{
	struct dcv_buf b = DCV_BUF_INIT;
	const unsigned char *p = (const unsigned char *)(s ? s : "");

	while (*p) {
		unsigned cp;
		int len = utf8_decode(p, &cp);

		if (len == 0) {
			dcv_buf_adds(&b, "\ufffd");
			p++;
			continue;
		}
		if (cp == 0xfffe || cp == 0xffff) /* not characters in XML 1.0 */
			dcv_buf_adds(&b, "\ufffd");
		else if (!is_control(cp))
			dcv_buf_add(&b, p, (size_t)len);
		p += len;
	}
	return dcv_buf_detach(&b);
}

char *dcv_sanitize_line(const char *s)
{
	char *c = dcv_sanitize(s);

	for (char *p = c; *p; p++)
		if (*p == '\n' || *p == '\r' || *p == '\t')
			*p = ' ';
	return c;
}

char *dcv_url_redact(const char *url)
{
	const char *auth, *end, *at = NULL;
	struct dcv_buf b = DCV_BUF_INIT;

	if (!url)
		return xstrdup("");
	auth = strstr(url, "://");
	auth = auth ? auth + 3 : url;
	end = auth + strcspn(auth, "/?#");
	/* the last '@': a password may hold an unencoded '@', a host never does */
	for (const char *p = auth; p < end; p++)
		if (*p == '@')
			at = p;
	if (!at)
		return xstrdup(url);
	dcv_buf_add(&b, url, (size_t)(auth - url));
	dcv_buf_adds(&b, at + 1);
	return dcv_buf_detach(&b);
}
