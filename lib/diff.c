#include "diff.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Bounds: the files come from remote hosts. Beyond them the diff is replaced by one line saying
 * so: a line table over DIFF_MAX_LINES, or more than DIFF_MAX_STEPS steps of the search (a quarter
 * of a second; two 8k-line files with nothing in common stay under it). */
#define DIFF_MAX_LINES 1000000
#define DIFF_MAX_STEPS 100000000LL

/* A line with its newline, if it has one: "x" and "x\n" differ, as in diff -u. */
struct lines {
	const char **p;
	size_t *len;
	uint64_t *hash;
	int n;
};

static uint64_t fnv1a(const char *s, size_t n)
{
	uint64_t h = 1469598103934665603ULL;

	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)s[i]) * 1099511628211ULL;
	return h;
}

/* Returns false, with l left empty, when the text has more than DIFF_MAX_LINES lines. */
static bool split(const char *s, struct lines *l)
{
	int n = 0;

	*l = (struct lines){ 0 };
	for (const char *t = s; t && *t; n++) {
		if (n == DIFF_MAX_LINES)
			return false;
		const char *nl = strchr(t, '\n');
		t = nl ? nl + 1 : t + strlen(t);
	}
	l->p = xmalloc(sizeof(*l->p) * (size_t)(n + 1));
	l->len = xmalloc(sizeof(*l->len) * (size_t)(n + 1));
	l->hash = xmalloc(sizeof(*l->hash) * (size_t)(n + 1));
	for (; s && *s; l->n++) {
		const char *nl = strchr(s, '\n');
		size_t len = nl ? (size_t)(nl - s) + 1 : strlen(s);
		l->p[l->n] = s;
		l->len[l->n] = len;
		l->hash[l->n] = fnv1a(s, len);
		s += len;
	}
	return true;
}

static void lines_release(struct lines *l)
{
	free(l->p);
	free(l->len);
	free(l->hash);
}

/* Myers' linear-space O((N+M)D) search ("An O(ND) Difference Algorithm and Its Variations",
 * 1986, section 4b): it marks the lines of a that are deleted and of b that are inserted. */
struct myers {
	const struct lines *a, *b;
	bool *del, *ins;
	int *vf, *vb; /* furthest x per diagonal, forward and backward, offset by `off` */
	int off;
	long long steps;
};

struct snake {
	int x0, y0, x1, y1;
};

static bool eq(const struct myers *m, int i, int j)
{
	return m->a->hash[i] == m->b->hash[j] && m->a->len[i] == m->b->len[j] &&
	       memcmp(m->a->p[i], m->b->p[j], m->a->len[i]) == 0;
}

/* The middle snake of a[a0, a0+n) against b[b0, b0+mm), both non-empty and not equal, in local
 * coordinates; false once the step budget is spent. */
static bool middle_snake(struct myers *m, int a0, int n, int b0, int mm, struct snake *s)
{
	int delta = n - mm, *vf = m->vf + m->off, *vb = m->vb + m->off;
	bool odd = delta & 1;

	vf[1] = 0;
	vb[1] = 0;
	for (int d = 0; d <= (n + mm + 1) / 2; d++) {
		m->steps += 2 * d + 2;
		for (int k = -d; k <= d; k += 2) {
			int x = (k == -d || (k != d && vf[k - 1] < vf[k + 1])) ? vf[k + 1] : vf[k - 1] + 1;
			int y = x - k, x0 = x, y0 = y;
			while (x < n && y < mm && eq(m, a0 + x, b0 + y))
				x++, y++;
			m->steps += x - x0;
			vf[k] = x;
			if (odd && delta - k >= -(d - 1) && delta - k <= d - 1 && vf[k] + vb[delta - k] >= n) {
				*s = (struct snake){ x0, y0, x, y };
				return true;
			}
		}
		for (int k = -d; k <= d; k += 2) {
			int x = (k == -d || (k != d && vb[k - 1] < vb[k + 1])) ? vb[k + 1] : vb[k - 1] + 1;
			int y = x - k, x0 = x;
			while (x < n && y < mm && eq(m, a0 + n - x - 1, b0 + mm - y - 1))
				x++, y++;
			m->steps += x - x0;
			vb[k] = x;
			if (!odd && delta - k >= -d && delta - k <= d && vb[k] + vf[delta - k] >= n) {
				*s = (struct snake){ n - x, mm - y, n - x0, mm - (x0 - k) };
				return true;
			}
		}
		if (m->steps > DIFF_MAX_STEPS)
			return false;
	}
	return false; /* not reached: the paths meet by d = (n + mm + 1) / 2 */
}

/* Common ends are stripped first, so every snake search runs on an edit distance of at least 2
 * and both halves are smaller. */
static bool compare(struct myers *m, int a0, int a1, int b0, int b1)
{
	struct snake s;

	while (a0 < a1 && b0 < b1 && eq(m, a0, b0))
		a0++, b0++;
	while (a0 < a1 && b0 < b1 && eq(m, a1 - 1, b1 - 1))
		a1--, b1--;
	if (a0 == a1 || b0 == b1) {
		for (int i = a0; i < a1; i++)
			m->del[i] = true;
		for (int j = b0; j < b1; j++)
			m->ins[j] = true;
		return true;
	}
	if (!middle_snake(m, a0, a1 - a0, b0, b1 - b0, &s))
		return false;
	return compare(m, a0, a0 + s.x0, b0, b0 + s.y0) && compare(m, a0 + s.x1, a1, b0 + s.y1, b1);
}

/* An edit script: ' ' keep, '-' delete from a, '+' insert from b; with line indices. */
struct op {
	char kind;
	int ia, ib;
};

/* Deletions come before insertions within a change, as in diff -u. */
static int edit_script(const struct myers *m, struct op *ops)
{
	int k = 0, n = m->a->n, mm = m->b->n;

	for (int i = 0, j = 0; i < n || j < mm;) {
		if (i < n && m->del[i])
			ops[k++] = (struct op){ '-', i++, j };
		else if (j < mm && m->ins[j])
			ops[k++] = (struct op){ '+', i, j++ };
		else
			ops[k++] = (struct op){ ' ', i++, j++ };
	}
	return k;
}

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

static void hunk_line(struct dcv_buf *out, char kind, const struct lines *l, int idx)
{
	dcv_buf_addc(out, kind);
	dcv_buf_add(out, l->p[idx], l->len[idx]);
	if (l->p[idx][l->len[idx] - 1] != '\n')
		dcv_buf_adds(out, "\n\\ No newline at end of file\n");
}

static void unified(struct dcv_buf *out, const struct op *ops, int k, const struct lines *la,
		    const struct lines *lb)
{
	const int ctx = 3;

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
		for (int t = start; t < stop; t++)
			hunk_line(out, ops[t].kind, ops[t].kind == '+' ? lb : la,
				  ops[t].kind == '+' ? ops[t].ib : ops[t].ia);
		s = stop;
	}
}

static size_t count_lines(const char *s)
{
	size_t n = 0;

	for (; s && *s; n++) {
		const char *nl = strchr(s, '\n');
		s = nl ? nl + 1 : s + strlen(s);
	}
	return n;
}

bool dcv_diff(const char *a, const char *b, const char *name_a, const char *name_b,
	      struct dcv_buf *out)
{
	struct lines la, lb;
	struct myers m = { &la, &lb };
	bool shown = false;

	if (strcmp(a ? a : "", b ? b : "") == 0)
		return false;
	dcv_buf_addf(out, "--- %s\n+++ %s\n", name_a, name_b);
	if (split(a, &la) && split(b, &lb)) {
		m.del = xcalloc((size_t)la.n + 1, sizeof(bool));
		m.ins = xcalloc((size_t)lb.n + 1, sizeof(bool));
		m.off = (la.n + lb.n + 1) / 2 + 1;
		m.vf = xmalloc(sizeof(int) * (size_t)(2 * m.off + 1));
		m.vb = xmalloc(sizeof(int) * (size_t)(2 * m.off + 1));
		if (compare(&m, 0, la.n, 0, lb.n)) {
			struct op *ops = xmalloc(sizeof(*ops) * (size_t)(la.n + lb.n + 1));
			unified(out, ops, edit_script(&m, ops), &la, &lb);
			free(ops);
			shown = true;
		}
		free(m.del);
		free(m.ins);
		free(m.vf);
		free(m.vb);
		lines_release(&lb);
	}
	lines_release(&la);
	if (!shown)
		dcv_buf_addf(out, "files differ too much to show a diff (%zu and %zu lines)\n", count_lines(a),
			     count_lines(b));
	return true;
}
