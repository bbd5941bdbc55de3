/* fuzz.h - what every libFuzzer target shares: the input as a C string, and an assertion that
 * stays on in every build (a failed property must crash so libFuzzer keeps the input). */
#ifndef DCV_FUZZ_H
#define DCV_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../lib/buf.h"

#define FUZZ_ASSERT(c)                                                                      \
	do {                                                                                \
		if (!(c)) {                                                                 \
			fprintf(stderr, "%s:%d: property failed: %s\n", __FILE__, __LINE__, #c); \
			abort();                                                            \
		}                                                                           \
	} while (0)

/* The bytes as a NUL-terminated string (parsers of text stop at an embedded NUL, as they
 * would reading the same bytes from a file or a remote command). */
static inline char *fuzz_str(const uint8_t *data, size_t size)
{
	return xstrndup((const char *)data, size);
}

/* Split at the first occurrence of `sep`: the text before it in *a, after it in *b (b is ""
 * when there is none). Both are freed by the caller. */
static inline void fuzz_split(const uint8_t *data, size_t size, const char *sep, char **a, char **b)
{
	char *s = xstrndup((const char *)data, size);
	char *at = strstr(s, sep);

	if (at) {
		*b = xstrdup(at + strlen(sep));
		*at = '\0';
	} else {
		*b = xstrdup("");
	}
	*a = s;
}

#endif
