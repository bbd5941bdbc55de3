/* fuzz_lint_dcvconf - an agent's dcv.conf (read over SSH) through the dcv.conf lint. */
#include "fuzz.h"

#include "../../lib/lint.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text;

	if (size < 1)
		return 0;
	text = fuzz_str(data + 1, size - 1);
	struct dcv_findings f = { 0 };
	dcv_lint_dcvconf(text, "dcv.conf", data[0] & 1, &f);
	FUZZ_ASSERT(dcv_findings_errors(&f) + dcv_findings_warnings(&f) == f.n);
	for (int i = 0; i < f.n; i++)
		FUZZ_ASSERT(f.v[i].rule && f.v[i].msg && f.v[i].line >= 0);
	dcv_findings_free(&f);
	free(text);
	return 0;
}
