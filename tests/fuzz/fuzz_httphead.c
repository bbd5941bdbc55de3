/* fuzz_httphead - the HTTP response head of the WebSocket upgrade as the probe judges it
 * (dcv_ws_check_answer) and the URL split of an inventory's url. */
#include "fuzz.h"

#include "../../lib/probe.h"
#include "../../lib/ws.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *in = fuzz_str(data, size);
	char host[256], path[1024];
	int port = 0;
	struct dcv_ws_answer a;

	dcv_ws_check_answer(in, "dGhlIHNhbXBsZSBub25jZQ==", &a);
	FUZZ_ASSERT(strlen(a.why) < sizeof(a.why));
	FUZZ_ASSERT(!a.accepted || (a.status == 101 && a.why[0] == '\0'));
	/* the first line as an inventory's [endpoint] url */
	in[strcspn(in, "\n")] = '\0';
	if (dcv_url_split(in, host, sizeof(host), &port, path, sizeof(path))) {
		FUZZ_ASSERT(host[0] != '\0' && path[0] == '/');
		FUZZ_ASSERT(port > 0 && port < 65536);
	}
	free(in);
	return 0;
}
