/* fuzz_sessions - `dcv list-sessions` output (JSON and every text variant), as an agent sends it. */
#include "fuzz.h"

#include "../../lib/err.h"
#include "../../lib/session.h"

static void check(const struct dcv_sessions *s)
{
	FUZZ_ASSERT(s->n >= 0);
	for (int i = 0; i < s->n; i++) {
		FUZZ_ASSERT(s->v[i].id && s->v[i].owner && s->v[i].type);
		FUZZ_ASSERT(dcv_sessions_find(s, s->v[i].id) != NULL);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = fuzz_str(data, size);
	int (*parse[])(const char *, struct dcv_sessions *, struct dcv_err *) = {
		dcv_sessions_parse, dcv_sessions_parse_json, dcv_sessions_parse_text,
	};

	for (size_t i = 0; i < sizeof(parse) / sizeof(parse[0]); i++) {
		struct dcv_sessions s = { 0 };
		struct dcv_err err = { 0 };
		if (parse[i](text, &s, &err) == DCV_OK)
			check(&s);
		else
			FUZZ_ASSERT(err.msg[0] != '\0');
		dcv_sessions_release(&s);
	}
	free(text);
	return 0;
}
