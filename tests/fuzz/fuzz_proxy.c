/* fuzz_proxy - what a gateway sends back, for every proxy kind in the table: the facts script's
 * output (dcv_gw_facts_parse), the proxy's status (kind->backends, e.g. HAProxy's `show stat`)
 * and its configuration (kind->lint). The first byte picks the kind (low bits) and which of the
 * three (bits 4-5). */
#include "fuzz.h"

#include "../../lib/facts.h"
#include "../../lib/proxy.h"

static int n_kinds(void)
{
	int n = 0;

	while (dcv_proxy_kinds[n])
		n++;
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct dcv_proxy_kind *k;
	char *text;

	if (size < 1)
		return 0;
	k = dcv_proxy_kinds[(data[0] & 0x0f) % n_kinds()];
	text = fuzz_str(data + 1, size - 1);
	switch ((data[0] >> 4) % 3) {
	case 0: {
		struct dcv_gw_facts f;
		dcv_gw_facts_parse(text, k, &f);
		FUZZ_ASSERT(f.n_units >= 1 && f.n_units <= DCV_FACTS_MAX_UNITS);
		FUZZ_ASSERT(memchr(f.os, '\0', sizeof(f.os)) && memchr(f.listener, '\0', sizeof(f.listener)));
		FUZZ_ASSERT(dcv_gw_facts_unit(&f, k->unit) != NULL);
		dcv_gw_facts_release(&f);
		break;
	}
	case 1:
		if (k->backends) {
			struct dcv_backend_state *b = NULL;
			int n = -1;
			if (k->backends(text, &b, &n)) {
				FUZZ_ASSERT(n >= 0);
				for (int i = 0; i < n; i++)
					FUZZ_ASSERT(memchr(b[i].name, '\0', sizeof(b[i].name)) &&
						    memchr(b[i].detail, '\0', sizeof(b[i].detail)));
			}
			free(b);
		}
		break;
	default: {
		struct dcv_proxy_env env = { .crypto_policies = data[0] & 0x40, .crons = "" };
		struct dcv_findings f = { 0 };
		k->lint(text, k->config, &env, &f);
		FUZZ_ASSERT(dcv_findings_errors(&f) + dcv_findings_warnings(&f) == f.n);
		for (int i = 0; i < f.n; i++)
			FUZZ_ASSERT(f.v[i].rule && f.v[i].msg && f.v[i].line >= 0);
		dcv_findings_free(&f);
		break;
	}
	}
	free(text);
	return 0;
}
