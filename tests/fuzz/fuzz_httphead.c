/* fuzz_httphead - the HTTP response head of the WebSocket upgrade as lib/probe.c reads it (the
 * status line, header values) and the URL split of an inventory's url. Those parsers are
 * static in probe.c, so this target compiles probe.c in (and links without build/fuzz's
 * probe.o; see FUZZ_EXCLUDE_httphead in the Makefile). */
#include "../../lib/probe.c"

#include "fuzz.h"

/* The steps of dcv_probe_ws between "\r\n\r\n" found and the accept check, on `in`. */
static void head(const char *in)
{
	const char *end = strstr(in, "\r\n\r\n");
	static const char *const names[] = {
		"Sec-WebSocket-Accept", "Upgrade", "Connection", "Sec-WebSocket-Protocol",
		"Sec-WebSocket-Extensions", "Content-Length",
	};
	struct dcv_buf headers = DCV_BUF_INIT;
	long status = 0;

	if (!end)
		return;
	dcv_buf_add(&headers, in, (size_t)(end - in) + 2);
	if (sscanf(in, "HTTP/%*s %ld", &status) == 1) {
		for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
			char val[256], small[4];
			if (header_value(headers.data, names[i], val, sizeof(val))) {
				FUZZ_ASSERT(strlen(val) < sizeof(val));
				FUZZ_ASSERT(!strchr(val, '\r') && !strchr(val, '\n'));
				FUZZ_ASSERT(header_value(headers.data, names[i], small, sizeof(small)) == small);
			}
		}
	}
	dcv_buf_release(&headers);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *in = fuzz_str(data, size);
	char host[256], path[1024];
	int port = 0;

	head(in);
	/* the first line as an inventory's [endpoint] url */
	in[strcspn(in, "\n")] = '\0';
	if (dcv_url_split(in, host, sizeof(host), &port, path, sizeof(path))) {
		FUZZ_ASSERT(host[0] != '\0' && path[0] == '/');
		FUZZ_ASSERT(port > 0 && port < 65536);
	}
	free(in);
	return 0;
}
