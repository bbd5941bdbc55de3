/* Batches for a rolling deploy. Integer arithmetic only, so "10% of 6 agents" is 0 agents the
 * same way on every machine: a budget of 10% on 6 agents tolerates no failure (Ansible's
 * max_fail_percentage fails the play once the failed share exceeds it). */
#include "rollout.h"

#include "buf.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* "N" or "N%" within [lo, hi]; `pct_only` also reads a bare N as a percentage. */
static bool parse(const char *s, long lo_n, long hi_n, long lo_p, bool pct_only, struct dcv_amount *out)
{
	size_t len = strlen(s);
	bool pct = len && s[len - 1] == '%';
	char num[16];
	long v;

	if (!len || len - pct >= sizeof(num))
		return false;
	snprintf(num, sizeof(num), "%.*s", (int)(len - pct), s);
	pct = pct || pct_only;
	if (!dcv_parse_int(num, pct ? lo_p : lo_n, pct ? 100 : hi_n, &v))
		return false;
	out->n = (int)v;
	out->percent = pct;
	return true;
}

bool dcv_amount_parse_serial(const char *s, struct dcv_amount *out)
{
	return parse(s, 1, 100000, 1, false, out);
}

bool dcv_amount_parse_percent(const char *s, struct dcv_amount *out)
{
	return parse(s, 0, 0, 0, true, out);
}

const char *dcv_amount_str(const struct dcv_amount *a, char *buf, unsigned len)
{
	snprintf(buf, len, "%d%s", a->n, a->percent ? "%" : "");
	return buf;
}

void dcv_rollout_plan(const bool *backup, int n, const struct dcv_amount *serial,
		      const struct dcv_amount *max_fail, struct dcv_rollout *out)
{
	int size = n, batch = 0, in_batch = 0;

	if (serial && serial->n > 0)
		size = serial->percent ? (int)((long long)n * serial->n / 100) : serial->n;
	if (size < 1)
		size = 1;
	out->batch = xcalloc(n > 0 ? (size_t)n : 1, sizeof(*out->batch));
	out->size = size;
	out->budget = max_fail && max_fail->n > 0 ? (int)((long long)n * max_fail->n / 100) : 0;
	/* pass 0 the primaries, pass 1 the backups: a new batch starts between them */
	for (int pass = 0; pass < 2; pass++) {
		if (in_batch) {
			batch++;
			in_batch = 0;
		}
		for (int i = 0; i < n; i++) {
			if (backup[i] != (pass == 1))
				continue;
			if (in_batch == size) {
				batch++;
				in_batch = 0;
			}
			out->batch[i] = batch;
			in_batch++;
		}
	}
	out->n_batches = n ? batch + (in_batch ? 1 : 0) : 0;
}

void dcv_rollout_release(struct dcv_rollout *r)
{
	free(r->batch);
	memset(r, 0, sizeof(*r));
}
