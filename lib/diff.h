/* diff.h - unified diff of two texts, for --dry-run, --diff and `config diff`. */
#ifndef DCV_DIFF_H
#define DCV_DIFF_H

#include <stdbool.h>

#include "buf.h"

/* Append a unified diff (3 lines of context) of a -> b labelled with the two names; appends
 * nothing and returns false when the texts are equal. */
bool dcv_diff(const char *a, const char *b, const char *name_a, const char *name_b,
	      struct dcv_buf *out);

#endif
