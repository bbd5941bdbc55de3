/* fuzz_sanitize - remote text on its way to a terminal or a report (dcv_sanitize,
 * dcv_sanitize_line) and proxy URLs on their way to a check row (dcv_url_redact). Properties: the
 * output is UTF-8 without ESC, C0 (but \t \n \r) or C1 controls; a line has no \t \n \r; each is
 * idempotent. */
#include "fuzz.h"

#include <stdbool.h>

#include "../../lib/sanitize.h"

/* Well-formed UTF-8 (shortest form, no surrogates), no control a terminal acts on. */
static bool safe(const char *s, bool line)
{
	const unsigned char *p = (const unsigned char *)s;

	while (*p) {
		unsigned cp, len = *p < 0x80 ? 1 : (*p & 0xe0) == 0xc0 ? 2 : (*p & 0xf0) == 0xe0 ? 3 :
						    (*p & 0xf8) == 0xf0 ? 4 : 0;
		static const unsigned min[] = { 0, 0, 0x80, 0x800, 0x10000 };
		if (!len)
			return false;
		cp = len == 1 ? *p : *p & (0x7f >> len);
		for (unsigned i = 1; i < len; i++) {
			if ((p[i] & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (p[i] & 0x3f);
		}
		if (cp < min[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		if ((cp < 0x20 && (line || (cp != '\t' && cp != '\n' && cp != '\r'))) || cp == 0x7f ||
		    (cp >= 0x80 && cp <= 0x9f))
			return false;
		p += len;
	}
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *in = fuzz_str(data, size);
	char *s = dcv_sanitize(in), *s2 = dcv_sanitize(s);
	char *l = dcv_sanitize_line(in), *l2 = dcv_sanitize_line(l);
	char *u = dcv_url_redact(in), *u2 = dcv_url_redact(u);

	FUZZ_ASSERT(safe(s, false));
	FUZZ_ASSERT(safe(l, true));
	FUZZ_ASSERT(strcmp(s, s2) == 0);
	FUZZ_ASSERT(strcmp(l, l2) == 0);
	FUZZ_ASSERT(strcmp(u, u2) == 0);
	FUZZ_ASSERT(strlen(u) <= strlen(in));
	free(in);
	free(s);
	free(s2);
	free(l);
	free(l2);
	free(u);
	free(u2);
	return 0;
}
