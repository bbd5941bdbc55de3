/* fuzz_render_dcvconf - the dcv.conf merge on whatever an agent already has: the managed keys
 * applied to arbitrary text, and applied again to its own output, which must change nothing
 * (deploy relies on it to report "unchanged"). The first byte picks bypass and the agent's
 * managed values. */
#include "fuzz.h"

#include "../../lib/inventory.h"
#include "../../lib/render.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dcv_host agent = { .name = "dcv1", .role = DCV_ROLE_AGENT };
	struct dcv_buf once = DCV_BUF_INIT, twice = DCV_BUF_INIT;
	char *existing;
	bool bypass;

	if (size < 1)
		return 0;
	bypass = data[0] & 1;
	agent.port = data[0] & 2 ? 8443 : 443;
	agent.web_url_path = data[0] & 4 ? "/" : "/dcv path/";
	agent.authentication = data[0] & 8 ? "system" : data[0] & 16 ? "none" : NULL;
	existing = fuzz_str(data + 1, size - 1);

	dcv_render_dcvconf(existing, &agent, bypass, &once);
	dcv_render_dcvconf(dcv_buf_str(&once), &agent, bypass, &twice);
	if (strcmp(dcv_buf_str(&once), dcv_buf_str(&twice)) != 0) {
		fprintf(stderr, "--- once\n%s\n--- twice\n%s\n", dcv_buf_str(&once), dcv_buf_str(&twice));
		FUZZ_ASSERT(!"rendering its own output changed it");
	}
	dcv_buf_release(&once);
	dcv_buf_release(&twice);
	free(existing);
	return 0;
}
