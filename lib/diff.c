#include "diff.h"

#include <stdlib.h>
#include <string.h>

struct lines {
	const char **p;
	size_t *len;
	int n;
};

static void split(const char *s, struct lines *l)
{
	int cap = 16;

	l->n = 0;
	l->p = xmalloc(sizeof(*l->p) * (size_t)cap);
	l->len = xmalloc(sizeof(*l->len) * (size_t)cap);
	while (s && *s) {
		const char *nl = strchr(s, '\n');
		size_t len = nl ? (size_t)(nl - s) : strlen(s);
		if (l->n == cap) {
			cap *= 2;
			l->p = xrealloc(l->p, sizeof(*l->p) * (size_t)cap);
			l->len = xrealloc(l->len, sizeof(*l->len) * (size_t)cap);
		}
		l->p[l->n] = s;
		l->len[l->n++] = len;
		s += len + (nl ? 1 : 0);
	}
}

static bool same(const struct lines *a, int i, const struct lines *b, int j)
{
	return a->len[i] == b->len[j] && memcmp(a->p[i], b->p[j], a->len[i]) == 0;
}

/* An edit script: ' ' keep, '-' delete from a, '+' insert from b; with line indices. */
struct op {
	char kind;
	int ia, ib;
};

static void hunk_header(struct dcv_buf *out, int a0, int an, int b0, int bn)
{
	dcv_buf_addf(out, "@@ -%d", an ? a0 + 1 : a0);
	if (an != 1)
		dcv_buf_addf(out, ",%d", an);
	dcv_buf_addf(out, " +%d", bn ? b0 + 1 : b0);
	if (bn != 1)
		dcv_buf_addf(out, ",%d", bn);
	dcv_buf_adds(out, " @@\n");
}

bool dcv_diff(const char *a, const char *b, const char *name_a, const char *name_b,
	      struct dcv_buf *out)
{
	struct lines la, lb;
	int n, m, k = 0;
	int *dp;
	struct op *ops;
	const int ctx = 3;

	if (strcmp(a ? a : "", b ? b : "") == 0)
		return false;
	split(a, &la);
	split(b, &lb);
	n = la.n;
	m = lb.n;
	/* LCS table from the end; configuration files are small */
	dp = xcalloc((size_t)(n + 1) * (size_t)(m + 1), sizeof(int));
#define DP(i, j) dp[(size_t)(i) * (size_t)(m + 1) + (size_t)(j)]
	for (int i = n - 1; i >= 0; i--)
		for (int j = m - 1; j >= 0; j--)
			DP(i, j) = same(&la, i, &lb, j) ? DP(i + 1, j + 1) + 1
			  : (DP(i + 1, j) >= DP(i, j + 1) ? DP(i + 1, j) : DP(i, j + 1));
	ops = xmalloc(sizeof(*ops) * (size_t)(n + m + 1));
	for (int i = 0, j = 0; i < n || j < m;) {
		if (i < n && j < m && same(&la, i, &lb, j))
			ops[k++] = (struct op){ ' ', i++, j++ };
		else if (i < n && (j == m || DP(i + 1, j) >= DP(i, j + 1)))
			ops[k++] = (struct op){ '-', i++, j };
		else
			ops[k++] = (struct op){ '+', i, j++ };
	}
#undef DP
	dcv_buf_addf(out, "--- %s\n+++ %s\n", name_a, name_b);
	for (int s = 0; s < k;) {
		if (ops[s].kind == ' ') {
			s++;
			continue;
		}
		/* hunk: from ctx lines before the change to ctx after the last change within 2*ctx */
		int start = s - ctx < 0 ? 0 : s - ctx;
		while (start < s && ops[start].kind != ' ')
			start++;
		int end = s;
		for (int t = s; t < k; t++) {
			if (ops[t].kind != ' ') {
				end = t;
				continue;
			}
			if (t - end > 2 * ctx)
				break;
		}
		int stop = end + ctx + 1 > k ? k : end + ctx + 1;
		int a0 = ops[start].ia, b0 = ops[start].ib, an = 0, bn = 0;
		for (int t = start; t < stop; t++) {
			an += ops[t].kind != '+';
			bn += ops[t].kind != '-';
		}
		hunk_header(out, a0, an, b0, bn);
		for (int t = start; t < stop; t++) {
			const struct lines *l = ops[t].kind == '+' ? &lb : &la;
			int idx = ops[t].kind == '+' ? ops[t].ib : ops[t].ia;
			dcv_buf_addc(out, ops[t].kind);
			dcv_buf_add(out, l->p[idx], l->len[idx]);
			dcv_buf_addc(out, '\n');
		}
		s = stop;
	}
	free(ops);
	free(dp);
	free(la.p);
	free(la.len);
	free(lb.p);
	free(lb.len);
	return true;
}
