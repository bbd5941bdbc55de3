/* fuzz_logs - the output of the remote log script as a host prints it (lib/logs.c): the reader,
 * the time and level of every line, the merge. Properties: every line handed over is one safe
 * line of a known source; its time is 0 or a real one and reads the same again; the pieces SSH
 * cuts the output into change nothing; merged lines come in time order. */
#include "fuzz.h"

#include <stdbool.h>

#include "../../lib/logs.h"

#define N_SOURCES 3
#define MAX_KEEP 4096

struct kept {
	struct dcv_log_line v[MAX_KEEP];
	size_t n;
	const struct dcv_logs_reader *r;
};

static void keep(void *user, struct dcv_log_line *l)
{
	struct kept *k = user;
	long long again = 0;

	FUZZ_ASSERT(l->source >= 0 && l->source < N_SOURCES);
	FUZZ_ASSERT(l->level == DCV_LOG_INFO || l->level == DCV_LOG_WARN || l->level == DCV_LOG_ERROR);
	for (const unsigned char *p = (const unsigned char *)l->text; *p; p++)
		FUZZ_ASSERT(*p >= 0x20 && *p != 0x7f);
	/* 0, or from 1970 to the end of year 9999 (a zone can move it by a day) */
	FUZZ_ASSERT(l->ms >= 0 && l->ms < 253402387200000LL);
	if (l->ms) {
		FUZZ_ASSERT(dcv_log_time(l->text, &k->r->clock, &again));
		FUZZ_ASSERT(again == l->ms);
	}
	FUZZ_ASSERT(dcv_log_level(l->text) == l->level);
	if (k->n < MAX_KEEP)
		k->v[k->n++] = *l;
	else
		free(l->text);
	free(l);
}

static void release(struct kept *k)
{
	for (size_t i = 0; i < k->n; i++)
		free(k->v[i].text);
	k->n = 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct kept whole, pieces;
	struct dcv_logs_reader r;
	size_t step = size ? (size_t)data[0] % 17 + 1 : 1;

	dcv_logs_reader_init(&r, 0, N_SOURCES, keep, &whole);
	whole.r = &r;
	dcv_logs_reader_feed(&r, (const char *)data, size);
	dcv_logs_reader_finish(&r);
	dcv_logs_reader_release(&r);

	dcv_logs_reader_init(&r, 0, N_SOURCES, keep, &pieces);
	pieces.r = &r;
	for (size_t off = 0; off < size; off += step)
		dcv_logs_reader_feed(&r, (const char *)data + off, size - off < step ? size - off : step);
	dcv_logs_reader_finish(&r);
	dcv_logs_reader_release(&r);

	FUZZ_ASSERT(whole.n == pieces.n);
	for (size_t i = 0; i < whole.n; i++) {
		FUZZ_ASSERT(strcmp(whole.v[i].text, pieces.v[i].text) == 0);
		FUZZ_ASSERT(whole.v[i].ms == pieces.v[i].ms && whole.v[i].source == pieces.v[i].source);
	}
	dcv_logs_sort(whole.v, whole.n);
	for (size_t i = 1; i < whole.n; i++)
		FUZZ_ASSERT(whole.v[i - 1].key <= whole.v[i].key);
	release(&whole);
	release(&pieces);
	return 0;
}
