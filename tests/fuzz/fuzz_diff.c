/* fuzz_diff - the unified diff of two texts (an agent's file against the rendered one), split
 * from the input at the first NUL. Property: applying the diff's hunks to the lines of the
 * first text gives the lines of the second, a missing last newline included ("\ No newline at
 * end of file"); or the diff says the files differ too much to show. */
#include "fuzz.h"

#include "../../lib/diff.h"

struct lines {
	char **v;
	int n;
};

/* Lines with their '\n' when they have one ("x" and "x\n" differ, as in lib/diff.c). */
static void split(const char *s, struct lines *l, bool keep_nl)
{
	l->v = NULL;
	l->n = 0;
	while (*s) {
		size_t len = strcspn(s, "\n");
		size_t nl = s[len] == '\n';
		l->v = xrealloc(l->v, sizeof(*l->v) * (size_t)(l->n + 1));
		l->v[l->n++] = xstrndup(s, len + (keep_nl ? nl : 0));
		s += len + nl;
	}
}

static void lines_free(struct lines *l)
{
	for (int i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
}

static int parse_range(const char **p, int *start, int *count)
{
	char *end;

	*start = (int)strtol(*p, &end, 10);
	*count = 1;
	if (*end == ',')
		*count = (int)strtol(end + 1, &end, 10);
	*p = end;
	return 0;
}

/* Apply the hunks of `diff` to `a` and compare with `b`. */
static void check_patch(const char *diff, const struct lines *a, const struct lines *b)
{
	struct lines d;
	int ia = 0, ib = 0;

	split(diff, &d, false);
	FUZZ_ASSERT(d.n >= 2 && strncmp(d.v[0], "--- ", 4) == 0 && strncmp(d.v[1], "+++ ", 4) == 0);
	if (d.n == 3 && strncmp(d.v[2], "files differ too much to show a diff", 36) == 0) {
		lines_free(&d);
		return;
	}
	for (int k = 2; k < d.n;) {
		const char *p = d.v[k];
		int a0, an, b0, bn;
		FUZZ_ASSERT(strncmp(p, "@@ -", 4) == 0);
		p += 4;
		parse_range(&p, &a0, &an);
		FUZZ_ASSERT(strncmp(p, " +", 2) == 0);
		p += 2;
		parse_range(&p, &b0, &bn);
		FUZZ_ASSERT(strcmp(p, " @@") == 0);
		/* an empty range names the line before it */
		int sa = an ? a0 - 1 : a0, sb = bn ? b0 - 1 : b0;
		FUZZ_ASSERT(sa >= ia && sa - ia == sb - ib);
		for (; ia < sa; ia++, ib++)
			FUZZ_ASSERT(strcmp(a->v[ia], b->v[ib]) == 0);
		int ua = 0, ub = 0;
		for (k++; k < d.n && d.v[k][0] != '@'; k++) {
			char kind = d.v[k][0];
			bool no_nl = k + 1 < d.n && strcmp(d.v[k + 1], "\\ No newline at end of file") == 0;
			char *text = xasprintf("%s%s", d.v[k] + 1, no_nl ? "" : "\n");
			FUZZ_ASSERT(kind == ' ' || kind == '-' || kind == '+');
			if (kind != '+') {
				FUZZ_ASSERT(ia < a->n && strcmp(a->v[ia], text) == 0);
				ia++, ua++;
			}
			if (kind != '-') {
				FUZZ_ASSERT(ib < b->n && strcmp(b->v[ib], text) == 0);
				ib++, ub++;
			}
			free(text);
			k += no_nl;
		}
		FUZZ_ASSERT(ua == an && ub == bn);
	}
	FUZZ_ASSERT(a->n - ia == b->n - ib);
	for (; ia < a->n; ia++, ib++)
		FUZZ_ASSERT(strcmp(a->v[ia], b->v[ib]) == 0);
	lines_free(&d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nul = memchr(data, 0, size);
	size_t la = nul ? (size_t)(nul - data) : size;
	char *a = xstrndup((const char *)data, la);
	char *b = nul ? xstrndup((const char *)nul + 1, size - la - 1) : xstrdup("");
	struct lines A, B;
	struct dcv_buf out = DCV_BUF_INIT;
	bool changed;

	split(a, &A, true);
	split(b, &B, true);
	changed = dcv_diff(a, b, "a/dcv.conf", "b/dcv.conf", &out);
	FUZZ_ASSERT(changed == (strcmp(a, b) != 0));
	FUZZ_ASSERT(changed || out.len == 0);
	if (changed)
		check_patch(dcv_buf_str(&out), &A, &B);
	dcv_buf_release(&out);
	lines_free(&A);
	lines_free(&B);
	free(a);
	free(b);
	return 0;
}
