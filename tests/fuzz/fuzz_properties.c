/* fuzz_properties - session-manager-broker.properties (reference/dcv.md §5.1) as found on a broker,
 * merged with the gateway keys. Input: the file, then "\n===\n", then a value dcvctl writes. */
#include "fuzz.h"

#include "../../lib/properties.h"

static const char *const probes[] = { "a", "foreign", "client-to-broker-connector-https-port", "key", "" };

static bool same(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text, *value;
	struct dcv_buf once = DCV_BUF_INIT, twice = DCV_BUF_INIT;

	fuzz_split(data, size, "\n===\n", &text, &value);
	struct dcv_property set[] = {
		{ "enable-gateway", "true" },
		{ "gateway-to-broker-connector-trust-store-pass", value },
		{ "gone", NULL },
	};
	dcv_properties_merge(text, set, 3, &once);
	/* what was set reads back as set, as the broker would read it */
	for (int i = 0; i < 3; i++) {
		char *got = dcv_properties_get(once.data, set[i].key);
		FUZZ_ASSERT(same(got, set[i].value));
		free(got);
	}
	/* foreign keys keep their values */
	for (size_t i = 0; i < sizeof(probes) / sizeof(probes[0]); i++) {
		char *before = dcv_properties_get(text, probes[i]), *after = dcv_properties_get(once.data, probes[i]);
		FUZZ_ASSERT(same(before, after));
		free(before);
		free(after);
	}
	/* idempotent */
	dcv_properties_merge(once.data, set, 3, &twice);
	FUZZ_ASSERT(strcmp(dcv_buf_str(&once), dcv_buf_str(&twice)) == 0);
	dcv_buf_release(&once);
	dcv_buf_release(&twice);
	free(text);
	free(value);
	return 0;
}
