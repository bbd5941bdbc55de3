/* fuzz_lint_gateway - dcv-connection-gateway.conf (TOML, reference/dcv.md §3.1) as read from a gateway. */
#include "fuzz.h"

#include "../../lib/lint.h"
#include "../../lib/proxy_gateway.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = fuzz_str(data, size);
	struct dcv_findings f = { 0 };
	int lines = 1;

	for (const char *c = text; *c; c++)
		lines += *c == '\n';
	dcv_lint_gateway(text, "gw.conf", &f);
	for (int i = 0; i < f.n; i++) {
		FUZZ_ASSERT(strncmp(f.v[i].rule, "gateway.", 8) == 0);
		FUZZ_ASSERT(f.v[i].line >= 0 && f.v[i].line <= lines);
		FUZZ_ASSERT(f.v[i].msg && f.v[i].msg[0]);
		FUZZ_ASSERT(strcmp(f.v[i].file, "gw.conf") == 0);
	}
	dcv_findings_free(&f);
	free(text);
	return 0;
}
