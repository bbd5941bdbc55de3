/* fuzz_units - `systemctl show` output for the units of one round trip (lib/service.c), as a
 * host prints it. */
#include "fuzz.h"

#include "../../lib/service.h"

#define N_UNITS 4

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = fuzz_str(data, size);
	struct dcv_unit_state st[N_UNITS];

	memset(st, 0x55, sizeof(st)); /* parse must write every field, whatever was there */
	dcv_units_parse(text, st, N_UNITS);
	for (int i = 0; i < N_UNITS; i++) {
		FUZZ_ASSERT(memchr(st[i].active, '\0', sizeof(st[i].active)) && st[i].active[0]);
		FUZZ_ASSERT(memchr(st[i].enabled, '\0', sizeof(st[i].enabled)) && st[i].enabled[0]);
	}
	free(text);
	return 0;
}
